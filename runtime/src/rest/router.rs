//! Path routing for the REST surface: finds the `google.api.http` binding of a
//! request from its HTTP method and raw path.
//!
//! The rules (see `transcoding-semantics.md` §1.3 and §1.8):
//!
//! * the path is matched **raw**, as received (`Uri::path()`, still
//!   percent-encoded); literal template segments compare byte for byte;
//! * trailing empty segments are ignored (`/v1/tasks/` is `/v1/tasks`), other
//!   empty segments are kept and `*` never matches one;
//! * `*` matches one non-empty segment, `**` zero or more segments;
//! * a custom verb is split off the last segment, at its last `:`, only when it
//!   is a verb some template uses; if nothing accepts the request that way, the
//!   `:` is retried as ordinary data;
//! * among the matching templates the most specific wins, independent of
//!   declaration order: compare, request segment by request segment, the kind of
//!   template segment that consumed it, with literal < `*` < `**`; on a tie, a
//!   template whose `**` matched nothing loses (`/v1/operations` is
//!   `{name=operations}`, not `{name=operations/**}`);
//! * variable values are percent-decoded in one pass; multi-segment variables
//!   keep `%2F`/`%2f` encoded. A malformed escape anywhere in the path, or a
//!   value that is not UTF-8 once decoded, is a [`RouteError::BadPath`].

use dotlanth_meta::{HttpBinding, MethodInfo, PathSegment};
use http::Method;
use std::cmp::Ordering;
use std::fmt;

/// The result of a successful lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// The method the binding belongs to.
    pub method: &'static MethodInfo,
    /// The binding that matched.
    pub binding: &'static HttpBinding,
    /// decoded values of the path variables, in template order
    pub variables: Vec<(&'static [&'static str], String)>,
}

/// Why a request does not route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No binding matches the path (HTTP 404).
    NotFound,
    /// The path matches, but no binding accepts the HTTP method (HTTP 405).
    MethodNotAllowed {
        /// The methods that would have been accepted for this path, sorted and
        /// deduplicated (the `Allow` header).
        allow: Vec<String>,
    },
    /// The path is not acceptable: it does not start with `/`, has a malformed
    /// percent-escape, or a variable is not UTF-8 once decoded (HTTP 400).
    BadPath(String),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NotFound => f.write_str("no route matches the path"),
            RouteError::MethodNotAllowed { allow } => {
                write!(f, "method not allowed; allowed: {}", allow.join(", "))
            }
            RouteError::BadPath(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for RouteError {}

/// Routes requests to the HTTP bindings of a method table. Built once at
/// startup.
#[derive(Debug)]
pub struct Router {
    routes: Vec<Route>,
    /// Every custom verb used by some template, sorted and deduplicated.
    verbs: Vec<&'static str>,
}

/// One binding of one method.
#[derive(Debug)]
struct Route {
    method: &'static MethodInfo,
    binding: &'static HttpBinding,
    /// The binding's method is `*`.
    any_method: bool,
}

/// What a template segment is, in specificity order (smaller is more specific).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Literal,
    Wildcard,
    DoubleWildcard,
}

/// A binding that accepts the path and the method.
struct Candidate {
    route: usize,
    /// For every request segment, the kind of template segment that consumed it.
    kinds: Vec<Kind>,
    /// Template `**` segments that consumed no request segment.
    empty_rests: usize,
    /// For every template segment, the request segments it consumed (start, count).
    spans: Vec<(usize, usize)>,
}

impl Candidate {
    /// Orders by specificity (then fewer empty `**`), then an exact method before
    /// `*`, then table order.
    fn rank(&self, other: &Candidate, routes: &[Route]) -> Ordering {
        self.kinds
            .cmp(&other.kinds)
            .then_with(|| self.empty_rests.cmp(&other.empty_rests))
            .then_with(|| {
                routes[self.route]
                    .any_method
                    .cmp(&routes[other.route].any_method)
            })
            .then_with(|| self.route.cmp(&other.route))
    }
}

/// The outcome of one matching pass (with or without a verb).
enum Pass {
    Found(Candidate),
    /// The path matched these bindings' methods, none of which accepts the request's.
    PathOnly(Vec<&'static str>),
    Nothing,
}

impl Router {
    /// Indexes every binding of every method of `methods`.
    ///
    /// # Panics
    ///
    /// If a binding's variables do not fit in its segments (a code generator bug).
    pub fn new(methods: &'static [MethodInfo]) -> Router {
        let mut routes = Vec::new();
        let mut verbs = Vec::new();
        for method in methods {
            for binding in method.http {
                for var in binding.variables {
                    assert!(
                        var.len > 0
                            && var
                                .first
                                .checked_add(var.len)
                                .is_some_and(|end| end <= binding.segments.len()),
                        "{}: variable {:?} of `{} {}` is out of its template's segments",
                        method.grpc_path,
                        var.field_path,
                        binding.method,
                        binding.path,
                    );
                }
                if !binding.verb.is_empty() {
                    verbs.push(binding.verb);
                }
                routes.push(Route {
                    method,
                    binding,
                    any_method: binding.method == "*",
                });
            }
        }
        verbs.sort_unstable();
        verbs.dedup();
        Router { routes, verbs }
    }

    /// Finds the binding for `method` and `raw_path` (the request's path as
    /// received, still percent-encoded, without the query).
    pub fn route(&self, method: &Method, raw_path: &str) -> Result<Match, RouteError> {
        let Some(rest) = raw_path.strip_prefix('/') else {
            return Err(RouteError::BadPath(format!(
                "the request path must start with '/': {raw_path:?}"
            )));
        };
        check_escapes(raw_path)?;

        let mut segments: Vec<&str> = rest.split('/').collect();
        strip_trailing_empty(&mut segments);
        let method = method.as_str();
        let mut allow: Vec<&'static str> = Vec::new();

        // A registered verb at the end of the last segment: try it first.
        if let Some(last) = segments.last()
            && let Some(colon) = last.rfind(':')
            && self.is_verb(&last[colon + 1..])
        {
            let verb = &last[colon + 1..];
            let mut with_verb = segments.clone();
            let n = with_verb.len();
            with_verb[n - 1] = &last[..colon];
            strip_trailing_empty(&mut with_verb);
            match self.pass(method, &with_verb, verb) {
                Pass::Found(c) => return self.finish(c, &with_verb),
                Pass::PathOnly(methods) => allow.extend(methods),
                Pass::Nothing => {}
            }
        }

        // The `:` (if any) is ordinary data.
        match self.pass(method, &segments, "") {
            Pass::Found(c) => return self.finish(c, &segments),
            Pass::PathOnly(methods) => allow.extend(methods),
            Pass::Nothing => {}
        }

        if allow.is_empty() {
            return Err(RouteError::NotFound);
        }
        allow.sort_unstable();
        allow.dedup();
        Err(RouteError::MethodNotAllowed {
            allow: allow.into_iter().map(str::to_owned).collect(),
        })
    }

    fn is_verb(&self, text: &str) -> bool {
        !text.is_empty() && self.verbs.binary_search(&text).is_ok()
    }

    /// Matches `segments` against every template with exactly `verb`.
    fn pass(&self, method: &str, segments: &[&str], verb: &str) -> Pass {
        let mut best: Option<Candidate> = None;
        let mut path_only = Vec::new();
        for (i, route) in self.routes.iter().enumerate() {
            if route.binding.verb != verb {
                continue;
            }
            let mut spans = Vec::with_capacity(route.binding.segments.len());
            if !walk(route.binding.segments, segments, 0, 0, &mut spans) {
                continue;
            }
            if !route.any_method && route.binding.method != method {
                path_only.push(route.binding.method);
                continue;
            }
            let empty_rests = route
                .binding
                .segments
                .iter()
                .zip(&spans)
                .filter(|(s, (_, count))| **s == PathSegment::DoubleWildcard && *count == 0)
                .count();
            let candidate = Candidate {
                route: i,
                kinds: kinds(route.binding.segments, &spans),
                empty_rests,
                spans,
            };
            let better = best
                .as_ref()
                .is_none_or(|b| candidate.rank(b, &self.routes) == Ordering::Less);
            if better {
                best = Some(candidate);
            }
        }
        match best {
            Some(c) => Pass::Found(c),
            None if path_only.is_empty() => Pass::Nothing,
            None => Pass::PathOnly(path_only),
        }
    }

    /// Extracts and decodes the variables of the winning binding.
    fn finish(&self, c: Candidate, segments: &[&str]) -> Result<Match, RouteError> {
        let route = &self.routes[c.route];
        let mut variables = Vec::with_capacity(route.binding.variables.len());
        for var in route.binding.variables {
            // `Router::new` checked that the variable fits in the template.
            let spans = c
                .spans
                .get(var.first..var.first.saturating_add(var.len))
                .unwrap_or(&[]);
            let raw = match (spans.first(), spans.last()) {
                (Some(&(start, _)), Some(&(last, count))) => {
                    segments.get(start..last + count).unwrap_or(&[]).join("/")
                }
                _ => String::new(),
            };
            let value = decode(&raw, var.multi_segment).map_err(|e| {
                RouteError::BadPath(format!("path variable `{}`: {e}", var.field_path.join(".")))
            })?;
            variables.push((var.field_path, value));
        }
        Ok(Match {
            method: route.method,
            binding: route.binding,
            variables,
        })
    }
}

/// Drops trailing empty segments (`/v1/tasks/` is `/v1/tasks`; `/` has none).
fn strip_trailing_empty(segments: &mut Vec<&str>) {
    while segments.last().is_some_and(|s| s.is_empty()) {
        segments.pop();
    }
}

/// Backtracking walk of template segments `tmpl[ti..]` over request segments
/// `req[ri..]`; on success `spans` holds (start, count) for every template segment.
fn walk(
    tmpl: &[PathSegment],
    req: &[&str],
    ti: usize,
    ri: usize,
    spans: &mut Vec<(usize, usize)>,
) -> bool {
    let Some(segment) = tmpl.get(ti) else {
        return ri == req.len();
    };
    let remaining = req.len().saturating_sub(ri);
    match segment {
        PathSegment::Literal(lit) => {
            req.get(ri).is_some_and(|s| s == lit) && step(tmpl, req, ti, ri, 1, spans)
        }
        PathSegment::Wildcard => {
            req.get(ri).is_some_and(|s| !s.is_empty()) && step(tmpl, req, ti, ri, 1, spans)
        }
        PathSegment::DoubleWildcard => {
            let suffix = &tmpl[ti + 1..];
            if suffix.contains(&PathSegment::DoubleWildcard) {
                // Not a valid template, but stay correct: fewest segments first.
                (0..=remaining).any(|count| step(tmpl, req, ti, ri, count, spans))
            } else {
                // Everything after `**` consumes exactly one segment each.
                remaining
                    .checked_sub(suffix.len())
                    .is_some_and(|count| step(tmpl, req, ti, ri, count, spans))
            }
        }
    }
}

/// Lets template segment `ti` consume `count` request segments from `ri`, then
/// walks on; undoes the span on failure.
fn step(
    tmpl: &[PathSegment],
    req: &[&str],
    ti: usize,
    ri: usize,
    count: usize,
    spans: &mut Vec<(usize, usize)>,
) -> bool {
    spans.push((ri, count));
    if walk(tmpl, req, ti + 1, ri + count, spans) {
        return true;
    }
    spans.pop();
    false
}

/// The kind of template segment that consumed each request segment.
fn kinds(tmpl: &[PathSegment], spans: &[(usize, usize)]) -> Vec<Kind> {
    let mut out = Vec::new();
    for (segment, &(_, count)) in tmpl.iter().zip(spans) {
        let kind = match segment {
            PathSegment::Literal(_) => Kind::Literal,
            PathSegment::Wildcard => Kind::Wildcard,
            PathSegment::DoubleWildcard => Kind::DoubleWildcard,
        };
        out.extend(std::iter::repeat_n(kind, count));
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte escaped by `%XY` at `bytes[i]`, if `bytes[i..]` starts with one.
fn escape_at(bytes: &[u8], i: usize) -> Option<u8> {
    match bytes.get(i..i + 3)? {
        [b'%', hi, lo] => Some(hex_value(*hi)? << 4 | hex_value(*lo)?),
        _ => None,
    }
}

/// Rejects a `%` not followed by two hex digits anywhere in the path.
fn check_escapes(path: &str) -> Result<(), RouteError> {
    let bytes = path.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' && escape_at(bytes, i).is_none() {
            let end = (i + 3).min(bytes.len());
            return Err(RouteError::BadPath(format!(
                "malformed percent-encoding {:?} at byte {i} of the request path: \
                 '%' must be followed by two hex digits",
                String::from_utf8_lossy(&bytes[i..end]),
            )));
        }
    }
    Ok(())
}

/// Percent-decodes `raw` in one pass. With `keep_slash`, `%2F`/`%2f` stay as
/// received. Shared by path variables and query strings.
pub(crate) fn decode(raw: &str, keep_slash: bool) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(decoded) = escape_at(bytes, i) else {
            return Err(format!("malformed percent-encoding at byte {i}"));
        };
        if keep_slash && decoded == b'/' {
            out.extend_from_slice(&bytes[i..i + 3]);
        } else {
            out.push(decoded);
        }
        i += 3;
    }
    String::from_utf8(out).map_err(|_| "not valid UTF-8 once percent-decoded".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dotlanth_meta::PathSegment::{DoubleWildcard as DW, Literal as L, Wildcard as W};
    use dotlanth_meta::{GraphqlPlacement, Idempotency, MethodKind, PathVariable};

    /// A single-segment (`multi_segment: false`) or multi-segment variable.
    macro_rules! var {
        ([$($f:literal),+], $first:literal, $len:literal) => {
            PathVariable { field_path: &[$($f),+], first: $first, len: $len, multi_segment: false }
        };
        ([$($f:literal),+], $first:literal, $len:literal, multi) => {
            PathVariable { field_path: &[$($f),+], first: $first, len: $len, multi_segment: true }
        };
    }

    /// `bind!("GET" "/v1/{x}", [L("v1"), W], [var!(..)])`, optionally `, verb = "cancel"`.
    macro_rules! bind {
        ($m:literal $path:literal, [$($s:expr),* $(,)?], [$($v:expr),* $(,)?] $(, verb = $verb:literal)?) => {
            HttpBinding {
                method: $m,
                path: $path,
                segments: &[$($s),*],
                variables: &[$($v),*],
                verb: concat!("" $(, $verb)?),
                body: "",
                response_body: "",
                update_mask: "",
            }
        };
    }

    /// A method of the test service with the given bindings.
    macro_rules! method {
        ($name:literal, [$($b:expr),* $(,)?]) => {
            MethodInfo {
                service: "test.v1.Test",
                method: $name,
                grpc_path: concat!("/test.v1.Test/", $name),
                input_type: "test.v1.Req",
                output_type: "test.v1.Resp",
                kind: MethodKind::Unary,
                idempotency: Idempotency::Unknown,
                public: true,
                scopes: &[],
                http: &[$($b),*],
                graphql: GraphqlPlacement::Hidden,
                deprecated: false,
            }
        };
    }

    static TABLE: &[MethodInfo] = &[
        method!("Root", [bind!("GET" "/", [], [])]),
        method!(
            "ListTasks",
            [bind!("GET" "/v1/tasks", [L("v1"), L("tasks")], [])]
        ),
        method!(
            "GetShelf",
            [bind!("GET" "/v1/shelves/{id}", [L("v1"), L("shelves"), W], [var!(["id"], 2, 1)])]
        ),
        method!(
            "UpdateShelf",
            [
                bind!("PUT" "/v1/shelves/{id}", [L("v1"), L("shelves"), W], [var!(["id"], 2, 1)]),
                bind!("PATCH" "/v1/shelves/{id}", [L("v1"), L("shelves"), W], [var!(["id"], 2, 1)]),
            ]
        ),
        method!(
            "GetDefaultShelf",
            [bind!("GET" "/v1/shelves/default", [L("v1"), L("shelves"), L("default")], [])]
        ),
        method!(
            "ListShelfBooks",
            [
                bind!("GET" "/v1/shelves/{shelf}/books", [L("v1"), L("shelves"), W, L("books")], [var!(["shelf"], 2, 1)]),
            ]
        ),
        method!(
            "GetBook",
            [
                bind!("GET" "/v1/{book.name=shelves/*/books/*}", [L("v1"), L("shelves"), W, L("books"), W],
                [var!(["book", "name"], 1, 4, multi)]),
                bind!("GET" "/v2/{book.name=shelves/*/books/*}", [L("v2"), L("shelves"), W, L("books"), W],
                [var!(["book", "name"], 1, 4, multi)]),
            ]
        ),
        method!(
            "GetArchive",
            [
                bind!("GET" "/v1/{path=archive/**}", [L("v1"), L("archive"), DW], [var!(["path"], 1, 2, multi)])
            ]
        ),
        method!(
            "GetOperation",
            [
                bind!("GET" "/v1/{name=operations/**}", [L("v1"), L("operations"), DW], [var!(["name"], 1, 2, multi)])
            ]
        ),
        method!(
            "CancelOperation",
            [
                bind!("POST" "/v1/{name=operations/**}:cancel", [L("v1"), L("operations"), DW], [var!(["name"], 1, 2, multi)],
                verb = "cancel"),
            ]
        ),
        method!(
            "GetThing",
            [bind!("GET" "/v1/things/{id}", [L("v1"), L("things"), W], [var!(["id"], 2, 1)])]
        ),
        method!(
            "DoThing",
            [
                bind!("POST" "/v1/things/{id}:do", [L("v1"), L("things"), W], [var!(["id"], 2, 1)], verb = "do")
            ]
        ),
        method!(
            "GetFile",
            [bind!("GET" "/v1/files/{name}", [L("v1"), L("files"), W], [var!(["name"], 2, 1)])]
        ),
        method!(
            "GetBlob",
            [
                bind!("GET" "/v1/blobs/{path=**}", [L("v1"), L("blobs"), DW], [var!(["path"], 2, 1, multi)])
            ]
        ),
        method!("StarX", [bind!("GET" "/v1/*/x", [L("v1"), W, L("x")], [])]),
        method!("PingAny", [bind!("*" "/v1/ping", [L("v1"), L("ping")], [])]),
        method!(
            "PingGet",
            [bind!("GET" "/v1/ping", [L("v1"), L("ping")], [])]
        ),
        method!(
            "Purge",
            [bind!("PURGE" "/v1/cache", [L("v1"), L("cache")], [])]
        ),
        method!(
            "Encoded",
            [bind!("GET" "/v1/caf%C3%A9", [L("v1"), L("caf%C3%A9")], [])]
        ),
    ];

    static SPECIFIC_FIRST: &[MethodInfo] = &[
        method!("List", [bind!("GET" "/ops", [L("ops")], [])]),
        method!("Get", [bind!("GET" "/ops/**", [L("ops"), DW], [])]),
        method!(
            "Exact",
            [bind!("GET" "/c/*/d/e", [L("c"), W, L("d"), L("e")], [])]
        ),
        method!(
            "Rest",
            [bind!("GET" "/c/*/d/**", [L("c"), W, L("d"), DW], [])]
        ),
        method!(
            "Id",
            [bind!("GET" "/v1/shelves/{id}", [L("v1"), L("shelves"), W], [var!(["id"], 2, 1)])]
        ),
        method!(
            "Default",
            [bind!("GET" "/v1/shelves/default", [L("v1"), L("shelves"), L("default")], [])]
        ),
    ];

    static SPECIFIC_LAST: &[MethodInfo] = &[
        method!(
            "Default",
            [bind!("GET" "/v1/shelves/default", [L("v1"), L("shelves"), L("default")], [])]
        ),
        method!(
            "Id",
            [bind!("GET" "/v1/shelves/{id}", [L("v1"), L("shelves"), W], [var!(["id"], 2, 1)])]
        ),
        method!(
            "Rest",
            [bind!("GET" "/c/*/d/**", [L("c"), W, L("d"), DW], [])]
        ),
        method!(
            "Exact",
            [bind!("GET" "/c/*/d/e", [L("c"), W, L("d"), L("e")], [])]
        ),
        method!("Get", [bind!("GET" "/ops/**", [L("ops"), DW], [])]),
        method!("List", [bind!("GET" "/ops", [L("ops")], [])]),
    ];

    static ROOT_ONLY: &[MethodInfo] = &[method!("Root", [bind!("GET" "/", [], [])])];

    fn router() -> Router {
        Router::new(TABLE)
    }

    fn get(path: &str) -> Result<Match, RouteError> {
        router().route(&Method::GET, path)
    }

    fn post(path: &str) -> Result<Match, RouteError> {
        router().route(&Method::POST, path)
    }

    /// The method name and the variables as owned strings.
    fn ok(r: Result<Match, RouteError>) -> (&'static str, Vec<(String, String)>) {
        let m = r.unwrap_or_else(|e| panic!("expected a match, got {e:?}"));
        let vars = m
            .variables
            .iter()
            .map(|(f, v)| (f.join("."), v.clone()))
            .collect();
        (m.method.method, vars)
    }

    fn hit(name: &'static str, vars: &[(&str, &str)]) -> (&'static str, Vec<(String, String)>) {
        (
            name,
            vars.iter()
                .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn not_allowed(allow: &[&str]) -> Result<(), RouteError> {
        Err(RouteError::MethodNotAllowed {
            allow: allow.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    fn err(r: Result<Match, RouteError>) -> Result<(), RouteError> {
        r.map(|m| panic!("expected an error, got {}", m.binding.path))
    }

    fn is_bad_path(r: Result<Match, RouteError>) -> bool {
        matches!(r, Err(RouteError::BadPath(_)))
    }

    // Rule 1: raw matching.

    #[test]
    fn literals_match_raw_bytes_case_sensitively() {
        assert_eq!(ok(get("/v1/tasks")), hit("ListTasks", &[]));
        assert_eq!(err(get("/V1/tasks")), Err(RouteError::NotFound));
        assert_eq!(err(get("/v1/Tasks")), Err(RouteError::NotFound));
        // `%74` is `t`, but literals compare to the raw text.
        assert_eq!(err(get("/v1/%74asks")), Err(RouteError::NotFound));
        // A literal written percent-encoded matches that exact encoding only.
        assert_eq!(ok(get("/v1/caf%C3%A9")), hit("Encoded", &[]));
        assert_eq!(err(get("/v1/caf%c3%a9")), Err(RouteError::NotFound));
        assert_eq!(err(get("/v1/café")), Err(RouteError::NotFound));
    }

    #[test]
    fn path_must_start_with_slash() {
        assert!(is_bad_path(get("")));
        assert!(is_bad_path(get("v1/tasks")));
        assert!(is_bad_path(get("*")));
    }

    #[test]
    fn matching_is_not_done_on_a_decoded_path() {
        // `%2F` in a single-segment variable does not split the segment.
        assert_eq!(
            ok(get("/v1/shelves/a%2Fb")),
            hit("GetShelf", &[("id", "a/b")])
        );
        // ... and does not create a path that would match another template.
        assert_eq!(
            ok(get("/v1/shelves/s%2Fbooks")),
            hit("GetShelf", &[("id", "s/books")])
        );
    }

    // Rule 2: empty segments.

    #[test]
    fn trailing_empty_segments_are_ignored() {
        assert_eq!(ok(get("/v1/tasks/")), hit("ListTasks", &[]));
        assert_eq!(ok(get("/v1/tasks//")), hit("ListTasks", &[]));
        assert_eq!(
            ok(get("/v1/shelves/abc/")),
            hit("GetShelf", &[("id", "abc")])
        );
    }

    #[test]
    fn inner_empty_segments_are_kept() {
        assert_eq!(err(get("/v1//tasks")), Err(RouteError::NotFound));
        assert_eq!(err(get("//v1/tasks")), Err(RouteError::NotFound));
        assert_eq!(ok(get("/v1/zzz/x")), hit("StarX", &[]));
        // `*` never matches an empty segment.
        assert_eq!(err(get("/v1//x")), Err(RouteError::NotFound));
        assert_eq!(err(get("/v1/shelves//books")), Err(RouteError::NotFound));
    }

    #[test]
    fn root_template_matches_root_only() {
        assert_eq!(ok(get("/")), hit("Root", &[]));
        // `//` is `/` with a trailing empty segment.
        assert_eq!(ok(get("//")), hit("Root", &[]));
        let r = Router::new(ROOT_ONLY);
        assert_eq!(err(r.route(&Method::GET, "/x")), Err(RouteError::NotFound));
        assert_eq!(err(r.route(&Method::GET, "/x/")), Err(RouteError::NotFound));
        assert_eq!(err(r.route(&Method::GET, "//x")), Err(RouteError::NotFound));
    }

    // Rule 3: wildcards.

    #[test]
    fn single_wildcard_matches_exactly_one_segment() {
        assert_eq!(err(get("/v1/shelves")), Err(RouteError::NotFound));
        assert_eq!(err(get("/v1/shelves/a/b")), Err(RouteError::NotFound));
        assert_eq!(ok(get("/v1/shelves/a")), hit("GetShelf", &[("id", "a")]));
    }

    #[test]
    fn double_wildcard_matches_zero_or_more_segments() {
        assert_eq!(
            ok(get("/v1/archive")),
            hit("GetArchive", &[("path", "archive")])
        );
        assert_eq!(
            ok(get("/v1/archive/")),
            hit("GetArchive", &[("path", "archive")])
        );
        assert_eq!(
            ok(get("/v1/archive/a")),
            hit("GetArchive", &[("path", "archive/a")])
        );
        assert_eq!(
            ok(get("/v1/archive/a/b/c")),
            hit("GetArchive", &[("path", "archive/a/b/c")])
        );
        // `**` also takes inner empty segments.
        assert_eq!(
            ok(get("/v1/archive/a//c")),
            hit("GetArchive", &[("path", "archive/a//c")])
        );
        // A variable that is just `**`, matching nothing.
        assert_eq!(ok(get("/v1/blobs")), hit("GetBlob", &[("path", "")]));
    }

    #[test]
    fn nested_field_path_variable() {
        let m = get("/v1/shelves/1/books/2").unwrap();
        assert_eq!(m.method.method, "GetBook");
        assert_eq!(
            m.variables,
            vec![(&["book", "name"][..], "shelves/1/books/2".to_owned())]
        );
    }

    #[test]
    fn additional_bindings_route_to_the_same_method() {
        let m = get("/v2/shelves/1/books/2").unwrap();
        assert_eq!(m.method.method, "GetBook");
        assert!(std::ptr::eq(m.binding, &m.method.http[1]));
        assert_eq!(m.binding.path, "/v2/{book.name=shelves/*/books/*}");
        let m = get("/v1/shelves/1/books/2").unwrap();
        assert!(std::ptr::eq(m.binding, &m.method.http[0]));

        let put = router().route(&Method::PUT, "/v1/shelves/s1").unwrap();
        let patch = router().route(&Method::PATCH, "/v1/shelves/s1").unwrap();
        assert_eq!(put.method.method, "UpdateShelf");
        assert_eq!(patch.method.method, "UpdateShelf");
        assert_eq!(put.binding.method, "PUT");
        assert_eq!(patch.binding.method, "PATCH");
    }

    #[test]
    fn literal_after_a_variable() {
        assert_eq!(
            ok(get("/v1/shelves/s1/books")),
            hit("ListShelfBooks", &[("shelf", "s1")])
        );
    }

    // Rule 4: custom verbs.

    #[test]
    fn registered_verb_is_split_off() {
        assert_eq!(ok(post("/v1/things/a:do")), hit("DoThing", &[("id", "a")]));
        // At the last `:`.
        assert_eq!(
            ok(post("/v1/things/a:b:do")),
            hit("DoThing", &[("id", "a:b")])
        );
        // After trailing empty segments are dropped.
        assert_eq!(ok(post("/v1/things/a:do/")), hit("DoThing", &[("id", "a")]));
    }

    #[test]
    fn verb_on_a_double_wildcard_template() {
        assert_eq!(
            ok(post("/v1/operations/a/b:cancel")),
            hit("CancelOperation", &[("name", "operations/a/b")])
        );
        assert_eq!(
            ok(post("/v1/operations:cancel")),
            hit("CancelOperation", &[("name", "operations")])
        );
        // The segment left of the verb is empty, hence a trailing empty segment.
        assert_eq!(
            ok(post("/v1/operations/:cancel")),
            hit("CancelOperation", &[("name", "operations")])
        );
        assert_eq!(
            ok(get("/v1/operations/a/b")),
            hit("GetOperation", &[("name", "operations/a/b")])
        );
    }

    #[test]
    fn template_with_a_verb_needs_the_verb() {
        assert_eq!(err(post("/v1/operations/a")), not_allowed(&["GET"]));
        assert_eq!(err(post("/v1/things/a")), not_allowed(&["GET"]));
        // The wrong registered verb.
        assert_eq!(err(post("/v1/things/a:cancel")), not_allowed(&["GET"]));
    }

    #[test]
    fn unregistered_verb_is_data() {
        assert_eq!(ok(get("/v1/things/a:b")), hit("GetThing", &[("id", "a:b")]));
        assert_eq!(ok(get("/v1/things/a:")), hit("GetThing", &[("id", "a:")]));
        assert_eq!(ok(get("/v1/things/:b")), hit("GetThing", &[("id", ":b")]));
        assert_eq!(err(post("/v1/things/a:b")), not_allowed(&["GET"]));
    }

    #[test]
    fn colon_outside_the_last_segment_is_data() {
        assert_eq!(err(post("/v1/things:do/a")), Err(RouteError::NotFound));
        assert_eq!(
            ok(get("/v1/shelves/a:do/books")),
            hit("ListShelfBooks", &[("shelf", "a:do")])
        );
    }

    #[test]
    fn encoded_colon_never_starts_a_verb() {
        assert_eq!(
            ok(get("/v1/things/a%3Ado")),
            hit("GetThing", &[("id", "a:do")])
        );
        assert_eq!(err(post("/v1/things/a%3Ado")), not_allowed(&["GET"]));
    }

    #[test]
    fn registered_verb_falls_back_to_data_when_nothing_accepts_it() {
        // The verb reading matches only POST; as data, GET /v1/things/{id} accepts it.
        assert_eq!(
            ok(get("/v1/things/a:do")),
            hit("GetThing", &[("id", "a:do")])
        );
        assert_eq!(
            ok(get("/v1/operations/a:cancel")),
            hit("GetOperation", &[("name", "operations/a:cancel")])
        );
        // Neither reading accepts DELETE: both readings' methods are allowed.
        assert_eq!(
            err(router().route(&Method::DELETE, "/v1/things/a:do")),
            not_allowed(&["GET", "POST"])
        );
    }

    // Rule 5: specificity.

    #[test]
    fn most_specific_template_wins_regardless_of_order() {
        for table in [SPECIFIC_FIRST, SPECIFIC_LAST] {
            let r = Router::new(table);
            let name = |p| r.route(&Method::GET, p).unwrap().method.method;
            assert_eq!(name("/c/x/d/e"), "Exact");
            assert_eq!(name("/c/x/d"), "Rest");
            assert_eq!(name("/c/x/d/f"), "Rest");
            assert_eq!(name("/c/x/d/e/f"), "Rest");
            assert_eq!(name("/v1/shelves/default"), "Default");
            assert_eq!(name("/v1/shelves/other"), "Id");
            // google.longrunning: `/v1/{name=operations}` beside
            // `/v1/{name=operations/**}`, whose `**` also matches nothing.
            assert_eq!(name("/ops"), "List");
            assert_eq!(name("/ops/"), "List");
            assert_eq!(name("/ops/a"), "Get");
            assert_eq!(name("/ops/a/b"), "Get");
        }
    }

    #[test]
    fn earlier_literal_beats_later_literal() {
        // `/v1/shelves/*` (L L W) beats `/v1/*/x` (L W L).
        assert_eq!(ok(get("/v1/shelves/x")), hit("GetShelf", &[("id", "x")]));
        assert_eq!(ok(get("/v1/shelves/default")), hit("GetDefaultShelf", &[]));
    }

    // Rule 6: HTTP methods.

    #[test]
    fn method_not_allowed_lists_sorted_deduplicated_methods() {
        // GET comes from both GetShelf and GetDefaultShelf.
        assert_eq!(
            err(router().route(&Method::DELETE, "/v1/shelves/default")),
            not_allowed(&["GET", "PATCH", "PUT"])
        );
        assert_eq!(
            err(router().route(&Method::DELETE, "/v1/shelves/s1")),
            not_allowed(&["GET", "PATCH", "PUT"])
        );
        assert_eq!(err(post("/v1/tasks")), not_allowed(&["GET"]));
    }

    #[test]
    fn less_specific_template_with_the_right_method_wins() {
        // The literal template is GET only; PUT falls to `/v1/shelves/{id}`.
        let m = router().route(&Method::PUT, "/v1/shelves/default").unwrap();
        assert_eq!(m.method.method, "UpdateShelf");
        assert_eq!(m.variables, vec![(&["id"][..], "default".to_owned())]);
    }

    #[test]
    fn any_method_binding() {
        for method in [Method::POST, Method::DELETE, Method::OPTIONS] {
            let m = router().route(&method, "/v1/ping").unwrap();
            assert_eq!(m.method.method, "PingAny");
        }
        // An exact method beats `*` for the same template.
        assert_eq!(ok(get("/v1/ping")), hit("PingGet", &[]));
    }

    #[test]
    fn custom_method_kind() {
        let purge = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(ok(router().route(&purge, "/v1/cache")), hit("Purge", &[]));
        assert_eq!(err(get("/v1/cache")), not_allowed(&["PURGE"]));
    }

    #[test]
    fn no_path_match_is_not_found() {
        assert_eq!(err(get("/v3/nothing")), Err(RouteError::NotFound));
        assert_eq!(err(post("/nope")), Err(RouteError::NotFound));
    }

    // Rule 7: decoding.

    #[test]
    fn single_segment_variables_are_fully_decoded() {
        assert_eq!(
            ok(get("/v1/files/a%2Fb")),
            hit("GetFile", &[("name", "a/b")])
        );
        assert_eq!(
            ok(get("/v1/files/a%2fb")),
            hit("GetFile", &[("name", "a/b")])
        );
        assert_eq!(
            ok(get("/v1/files/a%20b%3F")),
            hit("GetFile", &[("name", "a b?")])
        );
        assert_eq!(
            ok(get("/v1/files/caf%C3%A9")),
            hit("GetFile", &[("name", "café")])
        );
        // One pass only.
        assert_eq!(
            ok(get("/v1/files/%2523")),
            hit("GetFile", &[("name", "%23")])
        );
        // `+` is a plus.
        assert_eq!(ok(get("/v1/files/a+b")), hit("GetFile", &[("name", "a+b")]));
        assert_eq!(
            ok(get("/v1/files/a%2Bb")),
            hit("GetFile", &[("name", "a+b")])
        );
    }

    #[test]
    fn multi_segment_variables_keep_encoded_slashes() {
        assert_eq!(
            ok(get("/v1/blobs/a%2Fb/c%2fd%20e")),
            hit("GetBlob", &[("path", "a%2Fb/c%2fd e")])
        );
        assert_eq!(
            ok(get("/v1/blobs/%2f%23/%20%2523")),
            hit("GetBlob", &[("path", "%2f#/ %23")])
        );
        assert_eq!(
            ok(get("/v1/shelves/a%2Fb/books/c+d")),
            hit("GetBook", &[("book.name", "shelves/a%2Fb/books/c+d")])
        );
    }

    #[test]
    fn malformed_escape_anywhere_is_bad_path() {
        for path in [
            "/v1/files/a%zz",
            "/v1/files/a%2",
            "/v1/files/%",
            "/v1/tasks%",
            "/v1/%zz/tasks",
            "/nothing/here%g1",
            "/v1/blobs/a%2/b",
            "/v1/things/a:do%",
        ] {
            let r = get(path);
            assert!(is_bad_path(r.clone()), "{path}: {r:?}");
        }
        let Err(RouteError::BadPath(msg)) = get("/v1/files/a%zz") else {
            unreachable!()
        };
        assert!(msg.contains("%zz") && msg.contains("percent"), "{msg}");
    }

    #[test]
    fn non_utf8_value_is_bad_path() {
        assert!(is_bad_path(get("/v1/files/%FF")));
        assert!(is_bad_path(get("/v1/files/caf%C3")));
        assert!(is_bad_path(get("/v1/blobs/x/%FF")));
        let Err(RouteError::BadPath(msg)) = get("/v1/files/%FF") else {
            unreachable!()
        };
        assert!(msg.contains("name") && msg.contains("UTF-8"), "{msg}");
    }

    #[test]
    fn decode_helper() {
        assert_eq!(decode("a%2Fb%2fc", false).unwrap(), "a/b/c");
        assert_eq!(decode("a%2Fb%2fc", true).unwrap(), "a%2Fb%2fc");
        assert_eq!(decode("%41%62%2523", true).unwrap(), "Ab%23");
        assert!(decode("%4", false).is_err());
        assert!(decode("%FE", true).is_err());
    }

    // Rule 8: no panics.

    #[test]
    fn random_paths_never_panic() {
        const ALPHABET: &[u8] = b"/%:*.+?abcdxF2";
        let routers = [
            router(),
            Router::new(dotlanth_api::API.methods),
            Router::new(SPECIFIC_FIRST),
        ];
        let prefixes = ["", "/", "/v1/", "/api/v1/vm/dots/", "/c/"];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..600 {
            let len = (next() % 20) as usize;
            let mut path = prefixes[i % prefixes.len()].to_owned();
            for _ in 0..len {
                path.push(ALPHABET[(next() % ALPHABET.len() as u64) as usize] as char);
            }
            for r in &routers {
                for method in [Method::GET, Method::POST, Method::DELETE] {
                    match r.route(&method, &path) {
                        Ok(m) => {
                            assert!(m.binding.method == method.as_str() || m.binding.method == "*");
                            assert_eq!(m.variables.len(), m.binding.variables.len());
                        }
                        Err(RouteError::MethodNotAllowed { allow }) => {
                            let mut sorted = allow.clone();
                            sorted.sort();
                            sorted.dedup();
                            assert_eq!(allow, sorted);
                            assert!(!allow.is_empty() && !allow.contains(&method.to_string()));
                            // Every listed method is accepted for this path.
                            for a in &allow {
                                let m = Method::from_bytes(a.as_bytes()).unwrap();
                                assert!(
                                    !matches!(
                                        r.route(&m, &path),
                                        Err(RouteError::NotFound
                                            | RouteError::MethodNotAllowed { .. })
                                    ),
                                    "{a} {path}"
                                );
                            }
                        }
                        Err(RouteError::NotFound | RouteError::BadPath(_)) => {}
                    }
                }
            }
        }
    }

    // The real table.

    #[test]
    fn real_method_table() {
        let r = Router::new(dotlanth_api::API.methods);
        let route = |m: Method, p: &str| r.route(&m, p);

        assert_eq!(
            ok(route(Method::POST, "/api/v1/vm/dots/counter:execute")),
            hit("ExecuteDot", &[("name", "counter")])
        );
        assert_eq!(
            ok(route(Method::GET, "/api/v1/vm/dots/counter")),
            hit("GetDot", &[("name", "counter")])
        );
        assert_eq!(
            ok(route(Method::GET, "/api/v1/monitoring/blocks/5")),
            hit("GetBlock", &[("height", "5")])
        );
        assert_eq!(
            ok(route(Method::GET, "/api/v1/monitoring/status")),
            hit("GetStatus", &[])
        );
        assert_eq!(
            ok(route(Method::GET, "/api/v1/monitoring/events")),
            hit("StreamEvents", &[])
        );
        assert_eq!(
            ok(route(Method::POST, "/api/v1/runtime/ping")),
            hit("Ping", &[])
        );
        assert_eq!(
            ok(route(Method::POST, "/api/v1/vm/dots/deploy")),
            hit("DeployDot", &[])
        );
        assert_eq!(
            err(route(Method::DELETE, "/api/v1/vm/dots/x")),
            not_allowed(&["GET"])
        );
        // `explode` is not a registered verb: `counter:explode` is the name, and
        // only GET has a `/api/v1/vm/dots/{name}` template.
        assert_eq!(
            err(route(Method::POST, "/api/v1/vm/dots/counter:explode")),
            not_allowed(&["GET"])
        );
        assert_eq!(
            ok(route(Method::GET, "/api/v1/vm/dots/counter:explode")),
            hit("GetDot", &[("name", "counter:explode")])
        );
        assert_eq!(
            err(route(Method::GET, "/api/v1/monitoring/blocks")),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            err(route(Method::GET, "/api/v2/x")),
            Err(RouteError::NotFound)
        );
        let m = route(Method::POST, "/api/v1/vm/dots/counter:execute").unwrap();
        assert_eq!(m.method.grpc_path, "/dotlanth.vm.v1.VmService/ExecuteDot");
        assert_eq!(m.binding.verb, "execute");
    }

    /// Segments after `**` (Firestore's `{parent=…/documents/*/**}/{collection_id}`)
    /// each take one path segment; `**` takes the rest, zero included.
    #[test]
    fn segments_after_a_double_wildcard_take_one_segment_each() {
        static AFTER: &[MethodInfo] = &[method!(
            "ListDocs",
            [bind!(
                "GET" "/v1/{parent=docs/*/**}/{collection}",
                [L("v1"), L("docs"), W, DW, W],
                [var!(["parent"], 1, 3, multi), var!(["collection"], 4, 1)]
            )]
        )];
        let r = Router::new(AFTER);
        let route = |p| r.route(&Method::GET, p);
        assert_eq!(
            ok(route("/v1/docs/d1/a/b/things")),
            hit(
                "ListDocs",
                &[("parent", "docs/d1/a/b"), ("collection", "things")]
            )
        );
        assert_eq!(
            ok(route("/v1/docs/d1/things")),
            hit(
                "ListDocs",
                &[("parent", "docs/d1"), ("collection", "things")]
            )
        );
        assert_eq!(err(route("/v1/docs/d1")), Err(RouteError::NotFound));
    }
}
