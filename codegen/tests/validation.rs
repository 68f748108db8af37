//! Every rule of the registry, one test each: the generator rejects the protos
//! and its diagnostic names the file, the service and the method and says what
//! is wrong. Then positive tests on the model the registry builds.

mod common;

use common::{diagnostics, model};
use dotlanth_codegen::model::{
    Api, BodyMapping, Cardinality, FieldBehavior, FieldType, GraphqlPlacement, HttpMethod, Method,
    MethodKind, Service,
};
use dotlanth_codegen::{Diagnostic, Error, Options};

const FILE: &str = "test/v1/library.proto";
const SERVICE: &str = "test.v1.Library";

const HEADER: &str = r#"syntax = "proto3";

package test.v1;

import "dotlanth/api/v1/annotations.proto";
import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/protobuf/timestamp.proto";
"#;

const MESSAGES: &str = r#"
enum Color {
  COLOR_UNSPECIFIED = 0;
  COLOR_RED = 1;
}

message Inner {
  string name = 1;
  int32 n = 2;
}

message Book {
  string name = 1;
  string title = 2;
}

message Req {
  string name = 1;
  repeated string tags = 2;
  map<string, string> labels = 3;
  Inner inner = 4;
  Color color = 5;
  google.protobuf.Timestamp when = 6;
  int64 id = 7;
  Book book = 8;
  string a = 9;
  string b = 10;
  bool flag = 11;
  bytes raw = 12;
}

message Resp {
  string name = 1;
  Book book = 2;
}
"#;

/// A file holding `services` (full `service ... {}` text) and the test messages.
fn file(services: &str) -> String {
    format!("{HEADER}\n{services}\n{MESSAGES}")
}

/// A `Library` service holding `methods` (full `rpc ...` text).
fn library(methods: &str) -> String {
    file(&format!("service Library {{\n{methods}\n}}"))
}

/// `rpc {name}(Req) returns (Resp) { {options} }`.
fn rpc(name: &str, options: &str) -> String {
    format!("  rpc {name}(Req) returns (Resp) {{\n    {options}\n  }}\n")
}

/// One method `Frob` with this HTTP rule body.
fn http(rule: &str) -> String {
    library(&rpc(
        "Frob",
        &format!("option (google.api.http) = {{ {rule} }};"),
    ))
}

fn list(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("\n  {d}")).collect::<String>()
}

/// Asserts that exactly one diagnostic was reported, that it names the file,
/// the service and the method, and that its message contains `what`.
fn assert_only(diags: &[Diagnostic], method: &str, what: &str) {
    assert_eq!(
        diags.len(),
        1,
        "expected one diagnostic, got:{}",
        list(diags)
    );
    assert_names(&diags[0], FILE, SERVICE, method, what);
}

fn assert_names(d: &Diagnostic, file: &str, service: &str, method: &str, what: &str) {
    let text = d.to_string();
    assert_eq!(d.file, file, "{text}");
    assert!(text.starts_with(&format!("{file}: ")), "{text}");
    assert!(
        d.element.contains(&format!("service {service},")),
        "service not named: {text}"
    );
    assert!(
        d.element.contains(&format!("method {method}")),
        "method not named: {text}"
    );
    assert!(d.message.contains(what), "expected `{what}` in: {text}");
}

/// Runs the generator on one invalid `library.proto`.
fn check(src: &str) -> Vec<Diagnostic> {
    diagnostics(&[(FILE, src)])
}

fn ok(src: &str) -> Api {
    model(&[(FILE, src)])
}

// ----------------------------------------------------------------------------
// Malformed path templates.

fn assert_bad_template(template: &str, what: &str) {
    let diags = check(&http(&format!("get: \"{template}\"")));
    assert_only(&diags, "Frob", what);
    assert!(
        diags[0].to_string().contains(template),
        "template not quoted: {}",
        diags[0]
    );
}

#[test]
fn template_without_leading_slash() {
    assert_bad_template("v1/books", "must start with `/`");
}

#[test]
fn template_with_trailing_slash() {
    assert_bad_template("/v1/books/", "trailing slashes are not allowed");
}

#[test]
fn template_with_empty_segment() {
    assert_bad_template("/v1//books", "empty segment");
}

#[test]
fn template_with_partial_literal() {
    assert_bad_template("/v1/books/ext-{name}", "whole `{variable}`");
    assert_bad_template("/v1/books/{name}-ext", "mixes a variable with literal text");
}

#[test]
fn template_with_unclosed_brace() {
    assert_bad_template("/v1/books/{name", "unclosed `{`");
}

#[test]
fn template_with_two_double_wildcards() {
    assert_bad_template("/v1/**/books/**", "at most one `**`");
    assert_bad_template("/v1/{name=books/**}/{rest=**}", "at most one `**`");
}

#[test]
fn template_binding_a_field_twice() {
    assert_bad_template("/v1/{name}/x/{name}", "binds field `name` twice");
}

#[test]
fn empty_template() {
    assert_bad_template("", "must start with `/`");
}

#[test]
fn template_with_characters_outside_pchar() {
    assert_bad_template("/v1/books?all", "segment `books?all` contains `?`");
    assert_bad_template("/v1/books#top", "segment `books#top` contains `#`");
    assert_bad_template("/v1/my books", "segment `my books` contains a space");
    assert_bad_template("/v1/b\u{fc}cher", "contains the character U+00FC");
    assert_bad_template("/v1/100%", "`%` that does not start a percent-encoding");
    assert_bad_template("/v1/%4g", "`%` that does not start a percent-encoding");
    assert_bad_template("/v1/{name=shelves?/*}", "segment `shelves?` contains `?`");
    assert_bad_template("/v1/books:do?it", "custom verb `do?it` contains `?`");
    assert_bad_template("/v1/books:50%", "custom verb `50%` has a `%`");
}

#[test]
fn template_with_every_pchar_is_accepted() {
    let api = ok(&http(
        r#"get: "/v1/a-b.c_d~e/!$&'()+,;:@/%2Fx%c3%a9/{name}:do-it.v2""#,
    ));
    assert_eq!(
        method(&api, "Frob").http[0].template.to_string(),
        "/v1/a-b.c_d~e/!$&'()+,;:@/%2Fx%c3%a9/{name}:do-it.v2"
    );
}

// ----------------------------------------------------------------------------
// Path variables.

fn assert_bad_variable(template: &str, what: &str) {
    let diags = check(&http(&format!("get: \"{template}\"")));
    assert_only(&diags, "Frob", what);
}

#[test]
fn path_variable_on_unknown_field() {
    assert_bad_variable(
        "/v1/{nope}",
        "path variable `nope`: `nope` is not a field of test.v1.Req",
    );
    assert_bad_variable("/v1/{book.nope}", "`nope` is not a field of test.v1.Book");
}

#[test]
fn path_variable_on_repeated_field() {
    assert_bad_variable("/v1/{tags}", "`tags` is a repeated field");
}

#[test]
fn path_variable_on_map_field() {
    assert_bad_variable("/v1/{labels}", "`labels` is a map field");
}

#[test]
fn path_variable_on_message_field() {
    assert_bad_variable("/v1/{inner}", "`inner` is a message field (test.v1.Inner)");
}

#[test]
fn path_variable_through_a_non_message() {
    assert_bad_variable("/v1/{name.x}", "`name` is not a message field");
}

/// A variable whose sub-template is not a single `*` binds path text (`/` and
/// literals included), which only a string field can hold.
#[test]
fn multi_segment_variable_on_non_string_field() {
    for (template, field, what) in [
        ("/v1/{id=books/*}", "id", "int64"),
        ("/v1/{color=colors/*}", "color", "the enum test.v1.Color"),
        ("/v1/{flag=**}", "flag", "bool"),
        ("/v1/{raw=raw/**}", "raw", "bytes"),
        (
            "/v1/{when=at/*}",
            "when",
            "the message google.protobuf.Timestamp",
        ),
        ("/v1/{inner.n=inner/*}", "n", "int32"),
        ("/v1/{id=latest}", "id", "int64"),
    ] {
        let diags = check(&http(&format!("get: \"{template}\"")));
        assert_only(&diags, "Frob", "so it must bind a `string` field");
        let message = &diags[0].message;
        assert!(
            message.contains(&format!("`{field}` is {what}")),
            "{template}: {message}"
        );
        assert!(diags[0].element.contains(template), "{}", diags[0]);
    }
}

#[test]
fn single_segment_variable_may_bind_non_string_fields() {
    let api = ok(&library(
        &[
            rpc(
                "ById",
                r#"option (google.api.http) = { get: "/v1/ids/{id}" };"#,
            ),
            rpc(
                "ByStar",
                r#"option (google.api.http) = { get: "/v1/flags/{flag=*}" };"#,
            ),
            rpc(
                "ByPath",
                r#"option (google.api.http) = { get: "/v1/{name=shelves/*/books/**}" };"#,
            ),
        ]
        .concat(),
    ));
    assert_eq!(
        method(&api, "ByStar").http[0].template.to_string(),
        "/v1/flags/{flag}"
    );
}

#[test]
fn accepted_path_variables() {
    let api = ok(&library(
        &[
            rpc(
                "Nested",
                r#"option (google.api.http) = { get: "/v1/{book.name=shelves/*/books/*}" };"#,
            ),
            rpc(
                "ByEnum",
                r#"option (google.api.http) = { get: "/v1/colors/{color}" };"#,
            ),
            rpc(
                "ByTime",
                r#"option (google.api.http) = { get: "/v1/at/{when}" };"#,
            ),
            rpc(
                "ByScalarInNested",
                r#"option (google.api.http) = { get: "/v1/inner/{inner.n}/{id}" };"#,
            ),
            rpc(
                "Rest",
                r#"option (google.api.http) = { get: "/v1/files/{name=**}" };"#,
            ),
        ]
        .concat(),
    ));
    let paths: Vec<String> = api
        .methods()
        .map(|(_, m)| m.http[0].template.to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/{book.name=shelves/*/books/*}",
            "/v1/colors/{color}",
            "/v1/at/{when}",
            "/v1/inner/{inner.n}/{id}",
            "/v1/files/{name=**}",
        ]
    );
    let nested = method(&api, "Nested");
    let var = nested.http[0].template.variables().next().unwrap();
    assert_eq!(var.field_path, ["book", "name"]);
}

// ----------------------------------------------------------------------------
// Body and response body.

#[test]
fn body_naming_an_unknown_field() {
    let diags = check(&http(r#"post: "/v1/books" body: "nope""#));
    assert_only(&diags, "Frob", "body `nope` is not a field of test.v1.Req");
}

#[test]
fn body_naming_a_nested_field() {
    let diags = check(&http(r#"post: "/v1/books" body: "book.name""#));
    assert_only(
        &diags,
        "Frob",
        "body `book.name` must name a top-level field of test.v1.Req",
    );
}

#[test]
fn get_with_body() {
    let diags = check(&http(r#"get: "/v1/books" body: "*""#));
    assert_only(&diags, "Frob", "a GET binding must not have a body");
    let diags = check(&http(r#"get: "/v1/books" body: "book""#));
    assert_only(&diags, "Frob", "a GET binding must not have a body");
}

#[test]
fn custom_get_with_body() {
    for kind in ["GET", "get", "Get"] {
        let diags = check(&http(&format!(
            r#"custom: {{ kind: "{kind}" path: "/v1/books" }} body: "*""#
        )));
        assert_only(&diags, "Frob", "a GET binding must not have a body");
        assert!(
            diags[0].element.contains("binding GET /v1/books"),
            "{}",
            diags[0]
        );
    }
}

#[test]
fn response_body_unknown() {
    let diags = check(&http(r#"get: "/v1/books" response_body: "nope""#));
    assert_only(
        &diags,
        "Frob",
        "response_body `nope` must name a top-level field of test.v1.Resp",
    );
    let diags = check(&http(r#"get: "/v1/books" response_body: "book.name""#));
    assert_only(&diags, "Frob", "response_body `book.name`");
}

#[test]
fn rule_without_pattern() {
    let diags = check(&http(r#"body: "*""#));
    assert_only(&diags, "Frob", "sets no pattern");
}

#[test]
fn custom_rule_with_invalid_kind() {
    let diags = check(&http(r#"custom: { kind: "NOT A VERB" path: "/v1/x" }"#));
    assert_only(&diags, "Frob", "invalid kind `NOT A VERB`");
}

// ----------------------------------------------------------------------------
// Duplicate routes.

#[test]
fn duplicate_route_same_template() {
    let diags = check(&library(
        &[
            rpc(
                "First",
                r#"option (google.api.http) = { get: "/v1/books" };"#,
            ),
            rpc(
                "Second",
                r#"option (google.api.http) = { get: "/v1/books" };"#,
            ),
        ]
        .concat(),
    ));
    assert_only(&diags, "Second", "duplicate HTTP route");
    assert!(
        diags[0]
            .message
            .contains("test.v1.Library.First already binds GET /v1/books"),
        "{}",
        diags[0]
    );
}

#[test]
fn duplicate_route_differing_only_in_variable_names() {
    let diags = check(&library(
        &[
            rpc("First", r#"option (google.api.http) = { get: "/v1/{a}" };"#),
            rpc(
                "Second",
                r#"option (google.api.http) = { get: "/v1/{b}" };"#,
            ),
        ]
        .concat(),
    ));
    assert_only(&diags, "Second", "duplicate HTTP route");
    assert!(
        diags[0].message.contains("test.v1.Library.First"),
        "{}",
        diags[0]
    );
    assert!(diags[0].element.contains("/v1/{b}"), "{}", diags[0]);
}

#[test]
fn same_template_with_other_http_method_is_not_a_duplicate() {
    ok(&library(
        &[
            rpc(
                "Get",
                r#"option (google.api.http) = { get: "/v1/{name}" };"#,
            ),
            rpc(
                "Delete",
                r#"option (google.api.http) = { delete: "/v1/{name}" };"#,
            ),
            rpc(
                "Verb",
                r#"option (google.api.http) = { get: "/v1/{name}:verb" };"#,
            ),
        ]
        .concat(),
    ));
}

#[test]
fn duplicate_route_across_two_services() {
    let src = file(&format!(
        "service Archive {{\n{}}}\n\nservice Library {{\n{}}}\n",
        rpc(
            "Fetch",
            r#"option (google.api.http) = { get: "/v1/books/{name}" };"#
        ),
        rpc(
            "Frob",
            r#"option (google.api.http) = { get: "/v1/books/{id}" };"#
        ),
    ));
    let diags = check(&src);
    assert_only(&diags, "Frob", "duplicate HTTP route");
    assert!(
        diags[0]
            .message
            .contains("test.v1.Archive.Fetch already binds GET /v1/books/*"),
        "{}",
        diags[0]
    );
}

#[test]
fn duplicate_route_across_two_files() {
    let other = r#"syntax = "proto3";

package test.v2;

import "google/api/annotations.proto";
import "test/v1/library.proto";

service Shelf {
  rpc Peek(test.v1.Req) returns (test.v1.Resp) {
    option (google.api.http) = { get: "/v1/books/{name}" };
  }
}
"#;
    let diags = diagnostics(&[
        (
            FILE,
            &library(&rpc(
                "Frob",
                r#"option (google.api.http) = { get: "/v1/books/{id}" };"#,
            )),
        ),
        ("test/v2/shelf.proto", other),
    ]);
    assert_eq!(diags.len(), 1, "{}", list(&diags));
    // Services are visited by full name: test.v1.Library first.
    assert_names(
        &diags[0],
        "test/v2/shelf.proto",
        "test.v2.Shelf",
        "Peek",
        "test.v1.Library.Frob already binds GET /v1/books/*",
    );
}

#[test]
fn duplicate_route_across_additional_bindings() {
    let diags = check(&library(
        &[
            rpc(
                "First",
                r#"option (google.api.http) = { get: "/v1/books" };"#,
            ),
            rpc(
                "Second",
                r#"option (google.api.http) = {
                     get: "/v2/books"
                     additional_bindings { get: "/v1/books" }
                   };"#,
            ),
        ]
        .concat(),
    ));
    assert_only(
        &diags,
        "Second",
        "test.v1.Library.First already binds GET /v1/books",
    );
}

#[test]
fn duplicate_route_within_one_method() {
    let diags = check(&http(
        r#"get: "/v1/{name}" additional_bindings { get: "/v1/{id}" }"#,
    ));
    assert_only(
        &diags,
        "Frob",
        "test.v1.Library.Frob already binds GET /v1/*",
    );
}

#[test]
fn nested_additional_bindings() {
    let diags = check(&http(
        r#"get: "/v1/a"
           additional_bindings {
             get: "/v1/b"
             additional_bindings { get: "/v1/c" }
           }"#,
    ));
    assert_only(
        &diags,
        "Frob",
        "additional_bindings must not be nested inside an additional binding",
    );
}

// ----------------------------------------------------------------------------
// Streaming, auth and GraphQL.

#[test]
fn http_binding_on_client_streaming_method() {
    let diags = check(&library(
        r#"  rpc Upload(stream Req) returns (Resp) {
    option (google.api.http) = { post: "/v1/upload" body: "*" };
  }"#,
    ));
    assert_only(&diags, "Upload", "unsupported construct");
    assert!(diags[0].message.contains("client- or bidi-streaming"));
}

#[test]
fn http_binding_on_bidi_streaming_method() {
    let diags = check(&library(
        r#"  rpc Chat(stream Req) returns (stream Resp) {
    option (google.api.http) = { post: "/v1/chat" body: "*" };
  }"#,
    ));
    assert_only(&diags, "Chat", "unsupported construct");
}

#[test]
fn graphql_placement_on_client_streaming_method() {
    let diags = check(&library(
        r#"  rpc Upload(stream Req) returns (Resp) {
    option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_MUTATION;
  }"#,
    ));
    assert_only(&diags, "Upload", "unsupported construct");
}

#[test]
fn auth_both_public_and_scoped() {
    let diags = check(&library(&rpc(
        "Frob",
        r#"option (dotlanth.api.v1.auth) = { public: true scopes: "books.read" };"#,
    )));
    assert_only(
        &diags,
        "Frob",
        "auth option is both `public` and has `scopes`",
    );
}

#[test]
fn auth_scope_with_whitespace() {
    let diags = check(&library(&rpc(
        "Frob",
        r#"option (dotlanth.api.v1.auth) = { scopes: "books read" };"#,
    )));
    assert_only(&diags, "Frob", "auth scopes must be non-empty");
}

#[test]
fn auth_scope_wildcard() {
    let diags = check(&library(&rpc(
        "Frob",
        r#"option (dotlanth.api.v1.auth) = { scopes: "books.read" scopes: "*" };"#,
    )));
    assert_only(&diags, "Frob", "auth scope `*` is the wildcard");
    assert!(
        diags[0].message.contains("not a requirement"),
        "{}",
        diags[0]
    );
}

/// A value this generator does not know (from a newer `annotations.proto`) is
/// an error, not a silent fallback to the derived placement.
#[test]
fn graphql_unknown_value() {
    let annotations = "dotlanth/api/v1/annotations.proto";
    let current = std::fs::read_to_string(common::repo_protos().join(annotations)).unwrap();
    let hidden = "  GRAPHQL_OPERATION_HIDDEN = 4;\n";
    assert!(current.contains(hidden));
    let newer = current.replace(
        hidden,
        &format!("{hidden}  GRAPHQL_OPERATION_FUTURE = 9;\n"),
    );
    let diags = diagnostics(&[
        (
            FILE,
            &library(&rpc(
                "Frob",
                "option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_FUTURE;",
            )),
        ),
        // Shadows the repository's copy (the scratch directory is searched first).
        (annotations, &newer),
    ]);
    assert_only(&diags, "Frob", "unknown (dotlanth.api.v1.graphql) value 9");
}

#[test]
fn graphql_subscription_on_unary_method() {
    let diags = check(&library(&rpc(
        "Frob",
        "option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_SUBSCRIPTION;",
    )));
    assert_only(
        &diags,
        "Frob",
        "GRAPHQL_OPERATION_SUBSCRIPTION needs a server-streaming method",
    );
}

#[test]
fn graphql_query_on_server_streaming_method() {
    let diags = check(&library(
        r#"  rpc Watch(Req) returns (stream Resp) {
    option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_QUERY;
  }"#,
    ));
    assert_only(
        &diags,
        "Watch",
        "a server-streaming method can only be a GraphQL subscription",
    );
}

#[test]
fn file_without_package() {
    let diags = diagnostics(&[(
        "nopkg.proto",
        "syntax = \"proto3\";\nmessage A { string x = 1; }\n",
    )]);
    assert_eq!(diags.len(), 1, "{}", list(&diags));
    assert_eq!(diags[0].file, "nopkg.proto");
    assert!(
        diags[0].message.contains("declares no `package`"),
        "{}",
        diags[0]
    );
}

// ----------------------------------------------------------------------------
// All problems at once.

#[test]
fn every_problem_of_a_run_is_reported() {
    let diags = check(&library(
        &[
            rpc(
                "Broken",
                r#"option (google.api.http) = { get: "v1/broken" };"#,
            ),
            rpc("Fine", r#"option (google.api.http) = { get: "/v1/fine" };"#),
            rpc(
                "AlsoBroken",
                r#"option (google.api.http) = { post: "/v1/also" body: "nope" };"#,
            ),
        ]
        .concat(),
    ));
    assert_eq!(diags.len(), 2, "{}", list(&diags));
    assert_names(&diags[0], FILE, SERVICE, "Broken", "must start with `/`");
    assert_names(&diags[1], FILE, SERVICE, "AlsoBroken", "body `nope`");
}

#[test]
fn problems_of_several_kinds_and_files_are_reported_together() {
    let other = r#"syntax = "proto3";

package test.v2;

import "dotlanth/api/v1/annotations.proto";
import "test/v1/library.proto";

service Shelf {
  rpc Peek(test.v1.Req) returns (test.v1.Resp) {
    option (dotlanth.api.v1.auth) = { public: true scopes: "x" };
  }
}
"#;
    let diags = diagnostics(&[
        (
            FILE,
            &library(&rpc(
                "Frob",
                r#"option (google.api.http) = { get: "/v1/{tags}" body: "*" };"#,
            )),
        ),
        ("test/v2/shelf.proto", other),
    ]);
    assert_eq!(diags.len(), 3, "{}", list(&diags));
    assert!(diags.iter().any(|d| d.message.contains("repeated field")));
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("must not have a body"))
    );
    assert!(
        diags
            .iter()
            .any(|d| d.file == "test/v2/shelf.proto" && d.element.contains("method Peek"))
    );
    // The error's Display lists them all.
    let c = common::compile_sources(&[
        (
            FILE,
            &library(&rpc(
                "Frob",
                r#"option (google.api.http) = { get: "/v1/{tags}" body: "*" };"#,
            )),
        ),
        ("test/v2/shelf.proto", other),
    ]);
    let text = common::generate(&c).unwrap_err().to_string();
    assert!(text.starts_with("3 problem(s) in the protos:"), "{text}");
}

// ----------------------------------------------------------------------------
// The model.

fn method<'a>(api: &'a Api, name: &str) -> &'a Method {
    api.methods()
        .map(|(_, m)| m)
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no method {name}"))
}

fn service<'a>(api: &'a Api, name: &str) -> &'a Service {
    api.services
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

#[test]
fn graphql_placement_derivation() {
    let unary = |name: &str, opts: &str| rpc(name, opts);
    let api = ok(&library(
        &[
            // The option wins over every derivation rule.
            unary("CreateThing", "option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_QUERY;"),
            unary("GetThing", "option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_MUTATION;"),
            unary("ListThings", "option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_HIDDEN;"),
            unary("Unspecified", "option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_UNSPECIFIED;"),
            // NO_SIDE_EFFECTS makes a query; IDEMPOTENT does not.
            unary("Compute", "option idempotency_level = NO_SIDE_EFFECTS;"),
            unary("Replace", "option idempotency_level = IDEMPOTENT;"),
            // Name prefixes, on a word boundary.
            unary("Get", ""),
            unary("GetBook", ""),
            unary("ListBooks", ""),
            unary("SearchBooks", ""),
            unary("BatchGetBooks", ""),
            unary("Getaway", ""),
            unary("Listen", ""),
            unary("Searchlight", ""),
            unary("BatchGetter", ""),
            unary("CreateBook", ""),
            "  rpc WatchBooks(Req) returns (stream Resp);\n".into(),
            "  rpc ListBooksLive(Req) returns (stream Resp);\n".into(),
            "  rpc Upload(stream Req) returns (Resp);\n".into(),
            "  rpc GetChat(stream Req) returns (stream Resp);\n".into(),
            "  rpc Tail(Req) returns (stream Resp) { option (dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_HIDDEN; }\n".into(),
        ]
        .concat(),
    ));
    let expect = [
        ("CreateThing", GraphqlPlacement::Query),
        ("GetThing", GraphqlPlacement::Mutation),
        ("ListThings", GraphqlPlacement::Hidden),
        ("Unspecified", GraphqlPlacement::Mutation),
        ("Compute", GraphqlPlacement::Query),
        ("Replace", GraphqlPlacement::Mutation),
        ("Get", GraphqlPlacement::Query),
        ("GetBook", GraphqlPlacement::Query),
        ("ListBooks", GraphqlPlacement::Query),
        ("SearchBooks", GraphqlPlacement::Query),
        ("BatchGetBooks", GraphqlPlacement::Query),
        ("Getaway", GraphqlPlacement::Mutation),
        ("Listen", GraphqlPlacement::Mutation),
        ("Searchlight", GraphqlPlacement::Mutation),
        ("BatchGetter", GraphqlPlacement::Mutation),
        ("CreateBook", GraphqlPlacement::Mutation),
        ("WatchBooks", GraphqlPlacement::Subscription),
        ("ListBooksLive", GraphqlPlacement::Subscription),
        ("Upload", GraphqlPlacement::Hidden),
        ("GetChat", GraphqlPlacement::Hidden),
        ("Tail", GraphqlPlacement::Hidden),
    ];
    for (name, placement) in expect {
        assert_eq!(method(&api, name).graphql, placement, "{name}");
    }
    assert_eq!(method(&api, "WatchBooks").kind, MethodKind::ServerStreaming);
    assert_eq!(method(&api, "Upload").kind, MethodKind::ClientStreaming);
    assert_eq!(method(&api, "GetChat").kind, MethodKind::BidiStreaming);
    assert_eq!(method(&api, "Get").kind, MethodKind::Unary);
}

#[test]
fn auth_defaults_and_values() {
    let api = ok(&library(
        &[
            rpc("Default", ""),
            rpc("Public", "option (dotlanth.api.v1.auth) = { public: true };"),
            rpc(
                "Scoped",
                r#"option (dotlanth.api.v1.auth) = { scopes: "books.read" scopes: "books.write" };"#,
            ),
            rpc("Empty", "option (dotlanth.api.v1.auth) = {};"),
        ]
        .concat(),
    ));
    let d = &method(&api, "Default").auth;
    assert!(!d.public);
    assert!(d.scopes.is_empty());
    assert!(method(&api, "Public").auth.public);
    assert!(method(&api, "Public").auth.scopes.is_empty());
    let s = &method(&api, "Scoped").auth;
    assert!(!s.public);
    assert_eq!(s.scopes, ["books.read", "books.write"]);
    assert!(!method(&api, "Empty").auth.public);
    assert!(method(&api, "Empty").auth.scopes.is_empty());
}

#[test]
fn http_bindings_in_declaration_order() {
    let api = ok(&library(&rpc(
        "UpdateBook",
        r#"option (google.api.http) = {
             patch: "/v1/{book.name=shelves/*/books/*}"
             body: "book"
             response_body: "book"
             additional_bindings { put: "/v1/books/{name}" body: "*" }
             additional_bindings { post: "/v1/books/{name}:update" body: "book" }
             additional_bindings { custom: { kind: "head" path: "/v1/books/{name}" } }
             additional_bindings { get: "/v1/books/{name}/raw" response_body: "name" }
           };"#,
    )));
    let m = method(&api, "UpdateBook");
    let got: Vec<(HttpMethod, String, BodyMapping, Option<String>)> = m
        .http
        .iter()
        .map(|b| {
            (
                b.method.clone(),
                b.template.to_string(),
                b.body.clone(),
                b.response_body.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                HttpMethod::Patch,
                "/v1/{book.name=shelves/*/books/*}".into(),
                BodyMapping::Field("book".into()),
                Some("book".into())
            ),
            (
                HttpMethod::Put,
                "/v1/books/{name}".into(),
                BodyMapping::All,
                None
            ),
            (
                HttpMethod::Post,
                "/v1/books/{name}:update".into(),
                BodyMapping::Field("book".into()),
                None
            ),
            (
                HttpMethod::Custom("HEAD".into()),
                "/v1/books/{name}".into(),
                BodyMapping::None,
                None
            ),
            (
                HttpMethod::Get,
                "/v1/books/{name}/raw".into(),
                BodyMapping::None,
                Some("name".into())
            ),
        ]
    );
    assert_eq!(m.http[2].template.verb.as_deref(), Some("update"));
}

#[test]
fn method_facts() {
    let api = ok(&library(&rpc(
        "GetBook",
        "option idempotency_level = NO_SIDE_EFFECTS;\n    option deprecated = true;",
    )));
    let m = method(&api, "GetBook");
    assert_eq!(m.full_name, "test.v1.Library.GetBook");
    assert_eq!(m.grpc_path, "/test.v1.Library/GetBook");
    assert_eq!(m.input, "test.v1.Req");
    assert_eq!(m.output, "test.v1.Resp");
    assert!(m.deprecated);
    assert!(m.http.is_empty());
    let s = service(&api, "Library");
    assert_eq!(s.full_name, SERVICE);
    assert_eq!(s.package, "test.v1");
    assert_eq!(s.file, FILE);
    assert_eq!(api.files, [FILE]);
    // Imported but unused packages (dotlanth.api.v1) and google.protobuf are not emitted.
    assert_eq!(api.packages, ["test.v1"]);
}

#[test]
fn comments_are_captured() {
    let src = r#"syntax = "proto3";

package test.v1;

// The library.
// Second line.
service Library {
  // Fetches a book.
  //
  // With a blank line.
  rpc GetBook(Book) returns (Book);
  rpc Trailing(Book) returns (Book); // Trailing method comment.
}

// A book.
message Book {
  // The name.
  string name = 1;
  int32 pages = 2; // Number of pages.
  // The cover.
  oneof cover {
    // Hard cover.
    string hard = 3;
    string soft = 4;
  }
}

// Book genres.
enum Genre {
  // Unknown.
  GENRE_UNSPECIFIED = 0;
  GENRE_FICTION = 1; // Made up.
}

message Shelf {
  Genre genre = 1;
}
"#;
    let api = model(&[(FILE, src)]);
    let s = service(&api, "Library");
    assert_eq!(s.comments.leading, "The library.\nSecond line.");
    assert_eq!(
        method(&api, "GetBook").comments.leading,
        "Fetches a book.\n\nWith a blank line."
    );
    let t = &method(&api, "Trailing").comments;
    assert_eq!(t.leading, "");
    assert_eq!(t.trailing, "Trailing method comment.");

    let book = &api.messages["test.v1.Book"];
    assert_eq!(book.comments.leading, "A book.");
    assert_eq!(book.fields[0].comments.leading, "The name.");
    assert_eq!(book.fields[1].comments.trailing, "Number of pages.");
    assert_eq!(book.fields[2].comments.leading, "Hard cover.");
    assert_eq!(book.fields[3].comments, Default::default());
    assert_eq!(book.oneofs.len(), 1);
    assert_eq!(book.oneofs[0].comments.leading, "The cover.");
    assert_eq!(book.oneofs[0].fields, ["hard", "soft"]);

    let genre = &api.enums["test.v1.Genre"];
    assert_eq!(genre.comments.leading, "Book genres.");
    assert_eq!(genre.values[0].comments.leading, "Unknown.");
    assert_eq!(genre.values[1].comments.trailing, "Made up.");
}

#[test]
fn fields_are_read() {
    let src = r#"syntax = "proto3";

package test.v1;

import "google/api/field_behavior.proto";
import "google/protobuf/timestamp.proto";

enum Kind {
  KIND_UNSPECIFIED = 0;
}

message Item {
  string name = 1 [
    (google.api.field_behavior) = REQUIRED,
    (google.api.field_behavior) = IMMUTABLE
  ];
  uint64 size = 2 [(google.api.field_behavior) = OUTPUT_ONLY];
  string id = 3 [(google.api.field_behavior) = IDENTIFIER];
  optional int32 maybe = 4;
  repeated Kind kinds = 5 [(google.api.field_behavior) = UNORDERED_LIST];
  map<string, google.protobuf.Timestamp> times = 6;
  google.protobuf.Timestamp at = 7 [json_name = "when"];
  oneof choice {
    bytes raw = 8;
    Item child = 9;
  }
  string plain = 10 [deprecated = true];
}
"#;
    let api = model(&[(FILE, src)]);
    let item = &api.messages["test.v1.Item"];
    let f = |name: &str| item.fields.iter().find(|f| f.name == name).unwrap();
    assert_eq!(
        f("name").behaviors,
        [FieldBehavior::Required, FieldBehavior::Immutable]
    );
    assert_eq!(f("size").behaviors, [FieldBehavior::OutputOnly]);
    assert_eq!(f("size").ty, FieldType::Uint64);
    assert_eq!(f("id").behaviors, [FieldBehavior::Identifier]);
    assert_eq!(f("kinds").behaviors, [FieldBehavior::UnorderedList]);
    assert_eq!(f("kinds").cardinality, Cardinality::Repeated);
    assert_eq!(f("kinds").ty, FieldType::Enum("test.v1.Kind".into()));
    assert!(f("plain").behaviors.is_empty());
    assert!(f("plain").deprecated);
    assert_eq!(f("plain").cardinality, Cardinality::Single);
    assert_eq!(f("maybe").cardinality, Cardinality::Optional);
    assert_eq!(
        f("maybe").oneof,
        None,
        "synthetic oneofs are not real oneofs"
    );
    assert_eq!(
        f("times").cardinality,
        Cardinality::Map(FieldType::Message("google.protobuf.Timestamp".into()))
    );
    assert_eq!(f("times").ty, FieldType::String);
    assert_eq!(f("at").json_name, "when");
    assert_eq!(f("at").cardinality, Cardinality::Optional);
    assert_eq!(f("raw").oneof.as_deref(), Some("choice"));
    assert_eq!(f("raw").cardinality, Cardinality::Optional);
    assert_eq!(f("name").json_name, "name");
    assert_eq!(item.oneofs.len(), 1, "only the real oneof");
    assert!(api.messages.contains_key("google.protobuf.Timestamp"));
    assert!(api.enums.contains_key("test.v1.Kind"));
}

// ----------------------------------------------------------------------------
// Options.

const BAD_CRATE_NAMES: &[&str] = &[
    "",
    "Library",
    "library-API",
    "1library",
    "-library",
    "_library",
    "library api",
    "library\"",
    "library.api",
    "bibliothèque",
    "library\nname = \"x\"",
];

fn assert_bad_crate_name(result: Result<Options, Error>, name: &str) {
    match result {
        Err(Error::Options(message)) => {
            assert!(
                message.contains(&format!("crate_name `{name}` is not a valid crate name")),
                "{message}"
            );
            assert!(message.contains("lowercase"), "{message}");
        }
        Err(e) => panic!("{name:?}: expected Error::Options, got {e}"),
        Ok(o) => panic!("{name:?} accepted: {o:?}"),
    }
}

#[test]
fn crate_name_must_be_a_lowercase_package_name() {
    for name in BAD_CRATE_NAMES {
        assert_bad_crate_name(Options::new(*name), name);
        assert_bad_crate_name(Options::parse(&format!("crate_name={name}")), name);
    }
    // A commas-separated parameter cannot smuggle one in either.
    assert!(Options::parse("crate_name=ok,crate_name=Bad").is_err());
    for name in ["a", "dotlanth-api", "library_api", "api2", "a-1_b"] {
        assert_eq!(Options::new(name).unwrap().crate_name, name);
        assert_eq!(
            Options::parse(&format!(" crate_name={name} ")).unwrap(),
            Options::new(name).unwrap()
        );
    }
    assert_eq!(Options::parse("").unwrap(), Options::default());
    Options::default().validate().unwrap();
}

#[test]
fn generate_rejects_an_invalid_crate_name() {
    let c = common::compile_sources(&[(FILE, &library(&rpc("Frob", "")))]);
    let options = Options {
        crate_name: "Not Valid".into(),
        ..Options::default()
    };
    match dotlanth_codegen::generate(&c.set, &c.files, &options) {
        Err(e @ Error::Options(_)) => assert!(
            e.to_string()
                .starts_with("invalid options: crate_name `Not Valid` is not a valid crate name"),
            "{e}"
        ),
        other => panic!("expected Error::Options, got {other:?}"),
    }
}

#[test]
fn patch_bindings_name_the_field_mask_the_body_keys_fill() {
    let src = r#"syntax = "proto3";

package test.v1;

import "google/api/annotations.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";

service Masks {
  rpc One(OneMask) returns (OneMask) {
    option (google.api.http) = {
      patch: "/v1/{item.name=items/*}"
      body: "item"
      additional_bindings { patch: "/v2/{item.name=items/*}" body: "*" }
      additional_bindings { put: "/v3/{item.name=items/*}" body: "item" }
      additional_bindings { patch: "/v4/{item.name=items/*}" body: "note" }
      additional_bindings { patch: "/v5/{item.name=items/*}" body: "meta" }
    };
  }
  rpc Two(TwoMasks) returns (TwoMasks) {
    option (google.api.http) = { patch: "/v1/two/{item.name}" body: "item" };
  }
}

message Item {
  string name = 1;
}

message OneMask {
  Item item = 1;
  google.protobuf.FieldMask mask = 2;
  string note = 3;
  google.protobuf.Struct meta = 4;
}

message TwoMasks {
  Item item = 1;
  google.protobuf.FieldMask a = 2;
  google.protobuf.FieldMask b = 3;
}
"#;
    let api = model(&[("test/v1/masks.proto", src)]);
    let masks = |name: &str| -> Vec<Option<String>> {
        let (_, m) = api.methods().find(|(_, m)| m.name == name).unwrap();
        m.http.iter().map(|h| h.update_mask.clone()).collect()
    };
    // Only PATCH with a message field body (not `*`, a scalar or a well-known type).
    assert_eq!(
        masks("One"),
        [Some("mask".to_string()), None, None, None, None]
    );
    // Two masks: which one the keys are for is unclear.
    assert_eq!(masks("Two"), [None]);
}
