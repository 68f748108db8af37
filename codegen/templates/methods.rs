//! Metadata of every RPC, from the proto annotations. The runtime reads it for
//! authorization, metrics and tracing; nothing lists methods by hand.

use crate::meta::{{ imports }};

/// Every method of every generated service, sorted by gRPC path.
pub static METHODS: &[MethodInfo] = &[
{%- for m in methods %}
    MethodInfo {
        service: {{ m.service }},
        method: {{ m.method }},
        grpc_path: {{ m.grpc_path }},
        input_type: {{ m.input_type }},
        output_type: {{ m.output_type }},
        kind: MethodKind::{{ m.kind }},
        idempotency: Idempotency::{{ m.idempotency }},
        public: {{ m.public }},
        scopes: &[{{ m.scopes }}],
        http: &[
{%- for h in m.http %}
            HttpBinding {
                method: {{ h.method }},
                path: {{ h.path }},
                segments: &[{{ h.segments }}],
                variables: &[
{%- for v in h.variables %}
                    PathVariable { field_path: &[{{ v.field_path }}], first: {{ v.first }}, len: {{ v.len }}, multi_segment: {{ v.multi_segment }} },
{%- endfor %}
                ],
                verb: {{ h.verb }},
                body: {{ h.body }},
                response_body: {{ h.response_body }},
                update_mask: {{ h.update_mask }},
            },
{%- endfor %}
        ],
        graphql: GraphqlPlacement::{{ m.graphql }},
        deprecated: {{ m.deprecated }},
    },
{%- endfor %}
];

/// Full names of the generated services, sorted.
pub const SERVICES: &[&str] = &[
{%- for s in services %}
    {{ s }},
{%- endfor %}
];

/// The method with this gRPC path (`/package.Service/Method`).
pub fn by_grpc_path(grpc_path: &str) -> Option<&'static MethodInfo> {
    crate::meta::find(METHODS, grpc_path)
}
