//! The GraphQL schema emitter: exact SDL for small proto snippets, one rule at
//! a time, and the errors for what it cannot name.

mod common;

use common::{Compiled, compile_sources, generate};
use dotlanth_codegen::emit::graphql::PATH;
use dotlanth_codegen::emit::{GENERATED_MARKER, is_generated};
use dotlanth_codegen::{Diagnostic, Error};

const HEADER: &str = "syntax = \"proto3\";\npackage t.v1;\n\
    import \"google/api/field_behavior.proto\";\n\
    import \"dotlanth/api/v1/annotations.proto\";\n\
    import \"google/protobuf/empty.proto\";\n\
    import \"google/protobuf/timestamp.proto\";\n\
    import \"google/protobuf/duration.proto\";\n\
    import \"google/protobuf/field_mask.proto\";\n\
    import \"google/protobuf/struct.proto\";\n\
    import \"google/protobuf/any.proto\";\n\
    import \"google/protobuf/wrappers.proto\";\n";

/// The SDL of one file `t/v1/t.proto` (package `t.v1`) with `body`.
fn sdl(body: &str) -> String {
    sdl_of(&compile_sources(&[(
        "t/v1/t.proto",
        &format!("{HEADER}{body}"),
    )]))
}

fn sdl_of(c: &Compiled) -> String {
    let files = generate(c).unwrap_or_else(|e| panic!("{e}"));
    let f = files.iter().find(|f| f.path == PATH).expect("schema");
    String::from_utf8(f.contents.clone()).unwrap()
}

fn failure(sources: &[(&str, &str)]) -> Vec<Diagnostic> {
    match generate(&compile_sources(sources)) {
        Err(Error::Invalid(d)) => d,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("generation succeeded"),
    }
}

/// The definition that starts with `head` (`type Query`, `scalar Int64`), with
/// its description, up to its closing brace (or its one line).
fn def(sdl: &str, head: &str) -> String {
    let blocks: Vec<&str> = sdl.split("\n\n").collect();
    let block = blocks
        .iter()
        .find(|b| {
            b.lines()
                .any(|l| l == head || l.starts_with(&format!("{head} ")))
        })
        .unwrap_or_else(|| panic!("no `{head}` in\n{sdl}"));
    format!("{}\n", block.trim_end())
}

/// The names of every definition, in order.
fn heads(sdl: &str) -> Vec<String> {
    sdl.lines()
        .filter(|l| {
            [
                "type ",
                "input ",
                "enum ",
                "union ",
                "scalar ",
                "directive ",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .map(|l| l.split(['{', '=', '@']).next().unwrap().trim().to_string())
        .collect()
}

#[test]
fn header_marker_and_determinism() {
    let body = "message M { string a = 1; }\nservice S { rpc GetM(M) returns (M); }\n";
    let first = sdl(body);
    assert!(first.starts_with(&format!("# {GENERATED_MARKER} from the proto sources.")));
    assert!(is_generated(first.as_bytes()));
    assert_eq!(first, sdl(body));
}

const ROOTS: &str = "message Req { string id = 1; }\nmessage Res { string id = 1; }\n\
    message NoInput { string out = 1 [(google.api.field_behavior) = OUTPUT_ONLY]; }\n\
    service S {\n\
      rpc GetThing(Req) returns (Res);\n\
      rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty);\n\
      rpc Touch(NoInput) returns (Res) { option deprecated = true; }\n\
      rpc Find(Req) returns (Res) { option idempotency_level = NO_SIDE_EFFECTS; }\n\
      rpc Watch(Req) returns (stream Res);\n\
      rpc Upload(stream Req) returns (Res);\n\
      rpc Chat(stream Req) returns (stream Res);\n\
      rpc Secret(Req) returns (Res) { option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_HIDDEN; }\n\
      rpc ListAsMutation(Req) returns (Res) { option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_MUTATION; }\n\
    }\n";

const FIELDS: &str = "// A thing.\n\
    message Thing {\n\
      // The id.\n\
      string id = 1 [(google.api.field_behavior) = REQUIRED];\n\
      repeated string tags = 2;\n\
      repeated string must = 3 [(google.api.field_behavior) = REQUIRED];\n\
      string secret = 4 [(google.api.field_behavior) = INPUT_ONLY];\n\
      string etag = 5 [(google.api.field_behavior) = OUTPUT_ONLY];\n\
      string old = 6 [deprecated = true];\n\
      string required_old = 7 [deprecated = true, (google.api.field_behavior) = REQUIRED];\n\
      string display_name = 8;\n\
      string custom = 9 [json_name = \"renamed\"];\n\
      string dashed = 10 [json_name = \"da-shed\"];\n\
      // Says \"\"\"quoted\"\"\" and a \\ backslash.\n\
      //   indented line\n\
      Child child = 11;\n\
    }\n\
    message Child { int32 n = 1; }\n\
    service S { rpc Put(Thing) returns (Thing); }\n";

const SCALARS: &str = "message All {\n\
      double d = 1; float f = 2; int32 i32 = 3; sint32 s32 = 4; sfixed32 sf32 = 5;\n\
      int64 i64 = 6; sint64 s64 = 7; sfixed64 sf64 = 8; uint64 u64 = 9; fixed64 f64 = 10;\n\
      uint32 u32 = 11; fixed32 f32 = 12; bool b = 13; string s = 14; bytes by = 15;\n\
      google.protobuf.Timestamp ts = 16; google.protobuf.Duration du = 17;\n\
      google.protobuf.FieldMask fm = 18; google.protobuf.Struct st = 19;\n\
      google.protobuf.Value v = 20; google.protobuf.ListValue lv = 21; google.protobuf.Any any = 22;\n\
      google.protobuf.Int64Value w64 = 23; google.protobuf.UInt32Value wu32 = 24;\n\
      google.protobuf.StringValue ws = 25; google.protobuf.BytesValue wb = 26;\n\
      google.protobuf.Empty e = 27; Color c = 28; google.protobuf.NullValue nv = 29;\n\
      google.protobuf.BoolValue wbool = 30; google.protobuf.DoubleValue wd = 31;\n\
      google.protobuf.Int64Value rw64 = 32 [(google.api.field_behavior) = REQUIRED];\n\
      repeated int64 ri64 = 33;\n\
    }\n\
    // Colors.\n\
    enum Color {\n\
      // Unset.\n\
      COLOR_UNSPECIFIED = 0;\n\
      COLOR_RED = 1;\n\
      COLOR_OLD = 2 [deprecated = true];\n\
    }\n\
    service S { rpc GetAll(All) returns (All); }\n";

const ONEOF: &str = "message Pet {\n\
      string name = 1;\n\
      // What it eats.\n\
      oneof food {\n\
        // Grams of kibble.\n\
        int64 kibble = 2;\n\
        Meal meal = 3;\n\
        Meal snack = 4;\n\
        string secret = 5 [(google.api.field_behavior) = INPUT_ONLY];\n\
      }\n\
    }\n\
    message Meal { string dish = 1; }\n\
    service S { rpc Put(Pet) returns (Pet); }\n";

const MAPS: &str = "message Bag {\n\
      map<string, string> labels = 1;\n\
      map<int64, Item> items = 2;\n\
      map<string, google.protobuf.Value> extra = 3;\n\
    }\n\
    message Item { string n = 1; }\n\
    service S { rpc Put(Bag) returns (Bag); }\n";

const EMPTY: &str = "message Req { Inner inner = 1; }\n\
    message Inner { string out = 1 [(google.api.field_behavior) = OUTPUT_ONLY]; }\n\
    message Res { Nothing nothing = 1; Inner inner = 2; }\n\
    message Nothing {}\n\
    service S { rpc Create(Req) returns (Res); }\n";

#[test]
fn root_fields_follow_the_placement() {
    let sdl = sdl(ROOTS);
    // Client and bidi streams (`Upload`, `Chat`) and hidden methods are not
    // exposed; `Empty` in takes no argument and out is `Boolean`; a request
    // with only OUTPUT_ONLY fields takes no argument either.
    assert_eq!(
        def(&sdl, "type Query"),
        "type Query {\n  getThing(input: TV1Req_Input!): TV1Res\n  find(input: TV1Req_Input!): TV1Res\n}\n"
    );
    assert_eq!(
        def(&sdl, "type Mutation"),
        "type Mutation {\n  ping: Boolean\n  touch: TV1Res @deprecated\n  listAsMutation(input: TV1Req_Input!): TV1Res\n}\n"
    );
    assert_eq!(
        def(&sdl, "type Subscription"),
        "type Subscription {\n  watch(input: TV1Req_Input!): TV1Res\n}\n"
    );
    // Only the types used, each on its side; no custom scalar.
    assert_eq!(
        heads(&sdl),
        [
            "type Query",
            "type Mutation",
            "type Subscription",
            "input TV1Req_Input",
            "type TV1Res"
        ]
    );
}

#[test]
fn a_schema_without_queries_has_a_placeholder_query() {
    let sdl = sdl("message M { string a = 1; }\nservice S { rpc Create(M) returns (M); }\n");
    assert_eq!(
        def(&sdl, "type Query"),
        "type Query {\n  \"\"\"\n  Placeholder: this API has no queries (GraphQL needs a `Query` type); always null.\n  \"\"\"\n  _: Boolean\n}\n"
    );
    assert!(!sdl.contains("type Subscription"));
}

#[test]
fn fields_names_nullability_behaviours_deprecation_and_descriptions() {
    let sdl = sdl(FIELDS);
    let child = "  \"\"\"\n  Says \\\"\"\"quoted\\\"\"\" and a \\ backslash.\n    indented line\n  \"\"\"\n";
    assert_eq!(
        def(&sdl, "type TV1Thing"),
        format!(
            "\"\"\"\nA thing.\n\"\"\"\ntype TV1Thing {{\n  \"\"\"\n  The id.\n  \"\"\"\n  id: String!\n  \
             tags: [String!]!\n  must: [String!]!\n  etag: String\n  old: String @deprecated\n  \
             requiredOld: String! @deprecated\n  displayName: String\n  renamed: String\n  \
             dashed: String\n{child}  child: TV1Child\n}}\n"
        )
    );
    // Inputs: no OUTPUT_ONLY field, INPUT_ONLY kept, lists default to `[]`
    // unless REQUIRED, a required field is not `@deprecated`.
    assert_eq!(
        def(&sdl, "input TV1Thing_Input"),
        format!(
            "\"\"\"\nA thing.\n\"\"\"\ninput TV1Thing_Input {{\n  \"\"\"\n  The id.\n  \"\"\"\n  id: String!\n  \
             tags: [String!]! = []\n  must: [String!]!\n  secret: String\n  old: String @deprecated\n  \
             requiredOld: String!\n  displayName: String\n  renamed: String\n  \
             dashed: String\n{child}  child: TV1Child_Input\n}}\n"
        )
    );
    assert_eq!(def(&sdl, "type TV1Child"), "type TV1Child {\n  n: Int\n}\n");
    assert_eq!(
        def(&sdl, "input TV1Child_Input"),
        "input TV1Child_Input {\n  n: Int\n}\n"
    );
}

#[test]
fn scalars_wrappers_and_enums() {
    let sdl = sdl(SCALARS);
    let fields = "  d: Float\n  f: Float\n  i32: Int\n  s32: Int\n  sf32: Int\n  i64: Int64\n  \
        s64: Int64\n  sf64: Int64\n  u64: UInt64\n  f64: UInt64\n  u32: UInt32\n  f32: UInt32\n  \
        b: Boolean\n  s: String\n  by: Base64\n  ts: DateTime\n  du: Duration\n  fm: FieldMask\n  \
        st: JSON\n  v: JSON\n  lv: JSON\n  any: JSON\n  w64: Int64\n  wu32: UInt32\n  ws: String\n  \
        wb: Base64\n  e: Boolean\n  c: TV1Color\n  nv: JSON\n  wbool: Boolean\n  wd: Float\n  \
        rw64: Int64!\n";
    assert_eq!(
        def(&sdl, "type TV1All"),
        format!("type TV1All {{\n{fields}  ri64: [Int64!]!\n}}\n")
    );
    assert_eq!(
        def(&sdl, "input TV1All_Input"),
        format!("input TV1All_Input {{\n{fields}  ri64: [Int64!]! = []\n}}\n")
    );
    assert_eq!(
        def(&sdl, "enum TV1Color"),
        "\"\"\"\nColors.\n\"\"\"\nenum TV1Color {\n  \"\"\"\n  Unset.\n  \"\"\"\n  COLOR_UNSPECIFIED\n  \
         COLOR_RED\n  COLOR_OLD @deprecated\n}\n"
    );
    // Each custom scalar used, declared once with a description, sorted;
    // `@specifiedBy` where a specification defines the form.
    let scalars: Vec<String> = sdl
        .lines()
        .filter(|l| l.starts_with("scalar "))
        .map(String::from)
        .collect();
    assert_eq!(
        scalars,
        [
            "scalar Base64 @specifiedBy(url: \"https://www.rfc-editor.org/rfc/rfc4648\")",
            "scalar DateTime @specifiedBy(url: \"https://www.rfc-editor.org/rfc/rfc3339\")",
            "scalar Duration @specifiedBy(url: \"https://protobuf.dev/programming-guides/json/\")",
            "scalar FieldMask @specifiedBy(url: \"https://protobuf.dev/programming-guides/json/\")",
            "scalar Int64",
            "scalar JSON @specifiedBy(url: \"https://www.rfc-editor.org/rfc/rfc8259\")",
            "scalar UInt32",
            "scalar UInt64",
        ]
    );
    assert!(def(&sdl, "scalar Int64").starts_with(
        "\"\"\"\nA signed 64-bit integer as a decimal string, e.g. `\"-9007199254740993\"` \
         (GraphQL `Int` holds 32 bits only)."
    ));
    // Only the scalars used.
    let only_int64 = sdl_of(&compile_sources(&[(
        "t/v1/t.proto",
        "syntax = \"proto3\";\npackage t.v1;\nmessage M { int64 a = 1; }\n\
         service S { rpc GetM(M) returns (M); }\n",
    )]));
    assert_eq!(
        heads(&only_int64),
        [
            "scalar Int64",
            "type Query",
            "type TV1M",
            "input TV1M_Input"
        ]
    );
}

#[test]
fn oneofs_are_unions_out_and_one_of_inputs_in() {
    let sdl = sdl(ONEOF);
    assert_eq!(
        def(&sdl, "directive @oneOf"),
        "\"\"\"\nExactly one field of the input object is given (and not null).\n\"\"\"\n\
         directive @oneOf on INPUT_OBJECT\n"
    );
    assert_eq!(
        def(&sdl, "type TV1Pet"),
        "type TV1Pet {\n  name: String\n  \"\"\"\n  What it eats.\n  \"\"\"\n  food: TV1Pet_food\n}\n"
    );
    // The INPUT_ONLY member is not in the union; every member has a wrapper
    // (two of one message type stay apart).
    assert_eq!(
        def(&sdl, "union TV1Pet_food"),
        "\"\"\"\nWhat it eats.\n\"\"\"\n\
         union TV1Pet_food = TV1Pet_food_kibble | TV1Pet_food_meal | TV1Pet_food_snack\n"
    );
    assert_eq!(
        def(&sdl, "type TV1Pet_food_kibble"),
        "\"\"\"\nThe oneof `food` holds `kibble`.\n\"\"\"\ntype TV1Pet_food_kibble {\n  \"\"\"\n  \
         Grams of kibble.\n  \"\"\"\n  kibble: Int64!\n}\n"
    );
    assert_eq!(
        def(&sdl, "type TV1Pet_food_snack"),
        "\"\"\"\nThe oneof `food` holds `snack`.\n\"\"\"\ntype TV1Pet_food_snack {\n  snack: TV1Meal!\n}\n"
    );
    assert_eq!(
        def(&sdl, "input TV1Pet_Input"),
        "input TV1Pet_Input {\n  name: String\n  \"\"\"\n  What it eats.\n  \"\"\"\n  \
         food: TV1Pet_food_Input\n}\n"
    );
    assert_eq!(
        def(&sdl, "input TV1Pet_food_Input"),
        "\"\"\"\nWhat it eats.\n\"\"\"\ninput TV1Pet_food_Input @oneOf {\n  \"\"\"\n  Grams of kibble.\n  \
         \"\"\"\n  kibble: Int64\n  meal: TV1Meal_Input\n  snack: TV1Meal_Input\n  secret: String\n}\n"
    );
    // Without a oneof on the input side, no directive.
    assert!(!sdl_with_an_output_oneof_only().contains("@oneOf"));
}

fn sdl_with_an_output_oneof_only() -> String {
    sdl("message M { oneof o { string a = 1; } }\nmessage R {}\n\
         service S { rpc GetM(R) returns (M); }\n")
}

#[test]
fn maps_are_entry_lists() {
    let sdl = sdl(MAPS);
    assert_eq!(
        def(&sdl, "type TV1Bag"),
        "type TV1Bag {\n  labels: [TV1Bag_LabelsEntry!]!\n  items: [TV1Bag_ItemsEntry!]!\n  \
         extra: [TV1Bag_ExtraEntry!]!\n}\n"
    );
    assert_eq!(
        def(&sdl, "input TV1Bag_Input"),
        "input TV1Bag_Input {\n  labels: [TV1Bag_LabelsEntry_Input!]! = []\n  \
         items: [TV1Bag_ItemsEntry_Input!]! = []\n  extra: [TV1Bag_ExtraEntry_Input!]! = []\n}\n"
    );
    assert_eq!(
        def(&sdl, "type TV1Bag_ItemsEntry"),
        "\"\"\"\nAn entry of the map `items`.\n\"\"\"\ntype TV1Bag_ItemsEntry {\n  key: Int64!\n  \
         value: TV1Item!\n}\n"
    );
    assert_eq!(
        def(&sdl, "input TV1Bag_ItemsEntry_Input"),
        "\"\"\"\nAn entry of the map `items`.\n\"\"\"\ninput TV1Bag_ItemsEntry_Input {\n  \
         key: Int64!\n  value: TV1Item_Input!\n}\n"
    );
    assert_eq!(
        def(&sdl, "type TV1Bag_LabelsEntry"),
        "\"\"\"\nAn entry of the map `labels`.\n\"\"\"\ntype TV1Bag_LabelsEntry {\n  key: String!\n  \
         value: String!\n}\n"
    );
    // A `Value` may be JSON null.
    assert_eq!(
        def(&sdl, "type TV1Bag_ExtraEntry"),
        "\"\"\"\nAn entry of the map `extra`.\n\"\"\"\ntype TV1Bag_ExtraEntry {\n  key: String!\n  \
         value: JSON\n}\n"
    );
}

#[test]
fn empty_types_get_a_placeholder_field() {
    let sdl = sdl(EMPTY);
    let placeholder = "  \"\"\"\n  Placeholder: the message has no fields here (GraphQL forbids \
        empty types); always null.\n  \"\"\"\n  _: Boolean\n";
    assert_eq!(
        def(&sdl, "type TV1Nothing"),
        format!("type TV1Nothing {{\n{placeholder}}}\n")
    );
    // Inner has only an OUTPUT_ONLY field: empty as input, not as output.
    assert_eq!(
        def(&sdl, "input TV1Inner_Input"),
        format!("input TV1Inner_Input {{\n{placeholder}}}\n")
    );
    assert_eq!(
        def(&sdl, "type TV1Inner"),
        "type TV1Inner {\n  out: String\n}\n"
    );
}

#[test]
fn type_names_come_from_the_package_and_nesting() {
    let sdl = sdl_of(&compile_sources(&[
        (
            "a/b/v2beta1/x.proto",
            "syntax = \"proto3\";\npackage a.b.v2beta1;\n\
             message Outer { message Inner { Kind k = 1; enum Kind { KIND_UNSPECIFIED = 0; } } Inner i = 1; }\n\
             service S { rpc GetOuter(Outer) returns (Outer); }\n",
        ),
        (
            "c/types.proto",
            "syntax = \"proto3\";\npackage c;\nmessage Thing { string a = 1; }\n\
             service T { rpc GetThing(Thing) returns (Thing); }\n",
        ),
    ]));
    assert_eq!(
        heads(&sdl),
        [
            "type Query",
            "type BV2beta1Outer",
            "type BV2beta1OuterInner",
            "enum BV2beta1OuterInnerKind",
            "input BV2beta1OuterInner_Input",
            "input BV2beta1Outer_Input",
            "type CThing",
            "input CThing_Input",
        ]
    );
}

#[test]
fn clashing_type_names_are_errors() {
    // `Control.Family` and `ControlFamily` are both `XV1ControlFamily`.
    let diags = failure(&[(
        "x/v1/x.proto",
        "syntax = \"proto3\";\npackage x.v1;\n\
         message Control { enum Family { FAMILY_UNSPECIFIED = 0; } Family f = 1; ControlFamily g = 2; }\n\
         message ControlFamily { string a = 1; }\n\
         service S { rpc GetControl(Control) returns (Control); }\n",
    )]);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].file, "x/v1/x.proto");
    assert_eq!(diags[0].element, "enum x.v1.Control.Family");
    assert_eq!(
        diags[0].message,
        "the GraphQL type name `XV1ControlFamily` is also the name of message \
         x.v1.ControlFamily; rename one of them"
    );
    // A type named like a scalar: package `u`, message `Int64`.
    let diags = failure(&[(
        "u/u.proto",
        "syntax = \"proto3\";\npackage u;\nmessage Int64 { string a = 1; }\n\
         service S { rpc GetQ(Int64) returns (Int64); }\n",
    )]);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].element, "message u.Int64");
    assert_eq!(
        diags[0].message,
        "the GraphQL type name `UInt64` is also the name of a built-in type (a GraphQL or custom scalar, or a root type); rename one of them"
    );
}

#[test]
fn root_field_clashes_take_the_service_prefix_or_fail() {
    let svc = |package: &str, service: &str| {
        format!(
            "syntax = \"proto3\";\npackage {package};\nmessage M {{ string a = 1; }}\n\
             service {service} {{ rpc GetPolicy(M) returns (M); rpc GetOwn(M) returns (M); }}\n"
        )
    };
    // Two services of one package: both fields prefixed, in service order.
    let sdl = sdl_of(&compile_sources(&[(
        "p/v1/p.proto",
        &format!(
            "{}service Jobs {{ rpc GetPolicy(M) returns (M); }}\n",
            svc("p.v1", "Services")
        ),
    )]));
    assert_eq!(
        def(&sdl, "type Query"),
        "type Query {\n  jobsGetPolicy(input: PV1M_Input!): PV1M\n  \
         servicesGetPolicy(input: PV1M_Input!): PV1M\n  getOwn(input: PV1M_Input!): PV1M\n}\n"
    );
    // Services of one name in two packages: still one name, an error naming both.
    let diags: Vec<Diagnostic> = failure(&[
        ("a/v1/a.proto", &svc("a.v1", "Svc")),
        ("b/v1/b.proto", &svc("b.v1", "Svc")),
    ])
    .into_iter()
    .filter(|d| d.message.contains("GraphQL"))
    .collect();
    assert_eq!(diags.len(), 2, "{diags:?}");
    assert_eq!(diags[0].file, "b/v1/b.proto");
    assert_eq!(diags[0].element, "service b.v1.Svc, method GetPolicy");
    assert!(
        diags[0].message.starts_with(
            "GraphQL field `Query.svcGetPolicy` is also the field of service a.v1.Svc, method \
             GetPolicy"
        ),
        "{}",
        diags[0]
    );
}

/// Derived names never meet proto names: a message `IntentInput` beside the
/// input object of `Intent`, a oneof named `input` beside the input object.
#[test]
fn derived_names_do_not_clash_with_proto_names() {
    let sdl = sdl("message Intent { string a = 1; IntentInput in = 2; }\n\
         message IntentInput { oneof input { string text = 1; } }\n\
         service S { rpc Put(Intent) returns (Intent); }\n");
    assert_eq!(
        heads(&sdl),
        [
            "directive",
            "type Query",
            "type Mutation",
            "type TV1Intent",
            "type TV1IntentInput",
            "input TV1IntentInput_Input",
            "union TV1IntentInput_input",
            "input TV1IntentInput_input_Input",
            "type TV1IntentInput_input_text",
            "input TV1Intent_Input",
        ]
    );
}
