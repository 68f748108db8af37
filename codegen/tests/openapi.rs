//! The OpenAPI emitter: the documents of our API (`proto/`) and of the library
//! fixture (`tests/protos`), and the errors for what OpenAPI cannot express.

mod common;

use common::{Compiled, compile_sources, compile_tree, generate, repo_protos, test_protos};
use dotlanth_codegen::emit::is_generated;
use dotlanth_codegen::emit::openapi::{JSON_PATH, YAML_PATH, int64_pattern, uint64_pattern};
use dotlanth_codegen::{Diagnostic, Error, GeneratedFile};
use serde_json::{Value, json};
use std::fs;

fn ok(c: &Compiled) -> Vec<GeneratedFile> {
    generate(c).unwrap_or_else(|e| panic!("{e}"))
}

fn file<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
    let f = files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} not generated"));
    std::str::from_utf8(&f.contents).unwrap()
}

fn doc(files: &[GeneratedFile]) -> Value {
    serde_json::from_str(file(files, JSON_PATH)).expect("openapi.json parses")
}

fn api_doc() -> Value {
    doc(&ok(&compile_tree(&repo_protos())))
}

fn library_doc() -> Value {
    doc(&ok(&compile_tree(&test_protos())))
}

fn op<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    doc["paths"]
        .get(path)
        .and_then(|item| item.get(method))
        .unwrap_or_else(|| panic!("no {method} {path} in {:?}", paths(doc)))
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]["schemas"]
        .get(name)
        .unwrap_or_else(|| panic!("no schema {name}"))
}

fn paths(doc: &Value) -> Vec<String> {
    doc["paths"].as_object().unwrap().keys().cloned().collect()
}

/// `(method, path, operationId)` of every operation, sorted.
fn operations(doc: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((
                method.clone(),
                path.clone(),
                op["operationId"].as_str().unwrap().to_string(),
            ));
        }
    }
    out.sort();
    out
}

fn owned(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    v.sort();
    v
}

/// `(name, in)` of an operation's parameters, in order.
fn params(op: &Value) -> Vec<(String, String)> {
    op.get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap().to_string(),
                        p["in"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn param<'a>(op: &'a Value, name: &str) -> &'a Value {
    op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
}

fn body_schema(op: &Value) -> &Value {
    &op["requestBody"]["content"]["application/json"]["schema"]
}

fn ok_schema(op: &Value) -> &Value {
    &op["responses"]["200"]["content"]["application/json"]["schema"]
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

// ----------------------------------------------------------------------------
// Our API.

#[test]
fn api_operations_and_paths() {
    let doc = api_doc();
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["info"]["title"], "dotlanth-api");
    assert_eq!(doc["info"]["version"], "v1");
    assert_eq!(
        operations(&doc),
        owned(&[
            (
                "get",
                "/api/v1/monitoring/blocks/{height}",
                "MonitoringService_GetBlock"
            ),
            (
                "get",
                "/api/v1/monitoring/events",
                "MonitoringService_StreamEvents"
            ),
            (
                "get",
                "/api/v1/monitoring/status",
                "MonitoringService_GetStatus"
            ),
            ("post", "/api/v1/runtime/ping", "RuntimeService_Ping"),
            ("post", "/api/v1/vm/dots/deploy", "VmService_DeployDot"),
            ("get", "/api/v1/vm/dots/{name}", "VmService_GetDot"),
            (
                "post",
                "/api/v1/vm/dots/{name}:execute",
                "VmService_ExecuteDot"
            ),
        ])
    );
    let tags: Vec<&Value> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["name"])
        .collect();
    assert_eq!(
        tags,
        [
            "dotlanth.monitoring.v1.MonitoringService",
            "dotlanth.runtime.v1.RuntimeService",
            "dotlanth.vm.v1.VmService"
        ]
    );
}

#[test]
fn api_execute_dot() {
    let doc = api_doc();
    let op = op(&doc, "post", "/api/v1/vm/dots/{name}:execute");
    assert_eq!(op["tags"], json!(["dotlanth.vm.v1.VmService"]));
    assert_eq!(
        op["summary"],
        "Runs one exported function of a dot with an input, atomically: either all of its \
         state writes and events are committed, or none."
    );
    let description = op["description"].as_str().unwrap();
    assert!(
        description.starts_with("Errors: `NOT_FOUND`"),
        "{description}"
    );
    assert!(description.contains("`dots.execute`"), "{description}");

    assert_eq!(params(op), [("name".into(), "path".into())]);
    let name = param(op, "name");
    assert_eq!(name["required"], true);
    // REQUIRED: not empty; and the form the VM accepts (`field_rule`).
    assert_eq!(
        name["schema"],
        json!({ "type": "string", "minLength": 1, "pattern": DOT_NAME })
    );
    assert_eq!(name["description"], "Name of the dot to run.");

    // `body: "*"` with a path variable: a body schema without `name`.
    assert_eq!(op["requestBody"]["required"], true);
    assert_eq!(
        body_schema(op),
        &reference("dotlanth.vm.v1.ExecuteDotRequest_Body")
    );
    let body = schema(&doc, "dotlanth.vm.v1.ExecuteDotRequest_Body");
    assert_eq!(
        keys(&body["properties"]),
        ["fuelLimit", "function", "input"]
    );
    assert_eq!(body["required"], json!(["function"]));
    assert_eq!(
        body["properties"]["fuelLimit"],
        json!({
            "type": "string",
            "format": "uint64",
            "pattern": uint64_pattern(),
            "nullable": true,
            "description": "Fuel cap for this call (instructions). Unset means the server's \
                            default;\nvalues above the server's maximum are lowered to it.",
        })
    );
    assert_eq!(
        body["properties"]["input"]["format"], "byte",
        "bytes are base64 strings"
    );
    // The input message itself is not referenced by any operation.
    assert!(
        doc["components"]["schemas"]
            .get("dotlanth.vm.v1.ExecuteDotRequest")
            .is_none()
    );

    assert_eq!(
        ok_schema(op),
        &reference("dotlanth.vm.v1.ExecuteDotResponse")
    );
    assert_eq!(
        op["responses"]["default"]["content"]["application/json"]["schema"],
        reference("google.rpc.Status")
    );
    assert_eq!(op["security"], json!([{ "bearerAuth": [] }]));
    assert_eq!(op["x-dotlanth-scopes"], json!(["dots.execute"]));
}

#[test]
fn api_schemas_speak_proto3_json() {
    let doc = api_doc();
    let dot = &schema(&doc, "dotlanth.vm.v1.Dot")["properties"];
    assert_eq!(
        keys(dot),
        [
            "deployedAt",
            "description",
            "executions",
            "exports",
            "moduleHash",
            "moduleSize",
            "name"
        ]
    );
    // uint64 as a string.
    assert_eq!(dot["moduleSize"]["type"], "string");
    assert_eq!(dot["moduleSize"]["format"], "uint64");
    assert_eq!(dot["moduleSize"]["pattern"], uint64_pattern());
    assert_eq!(dot["moduleSize"]["readOnly"], true);
    // Timestamp as an RFC 3339 string.
    assert_eq!(dot["deployedAt"]["type"], "string");
    assert_eq!(dot["deployedAt"]["format"], "date-time");
    assert_eq!(dot["deployedAt"]["readOnly"], true);
    assert_eq!(
        dot["exports"]["items"],
        reference("dotlanth.vm.v1.ExportedFunction")
    );
    assert!(
        dot["name"].get("readOnly").is_none(),
        "IDENTIFIER is not OUTPUT_ONLY"
    );

    let deploy = schema(&doc, "dotlanth.vm.v1.DeployDotRequest");
    assert_eq!(deploy["required"], json!(["name", "module"]));
    assert_eq!(
        deploy["properties"]["module"],
        json!({
            "type": "string",
            "format": "byte",
            "minLength": 1,
            "description": "The WebAssembly module: binary (`\\0asm...`) or WAT text.",
        })
    );

    // uint32: an integer that fits int64, never negative.
    let summary = schema(&doc, "dotlanth.monitoring.v1.ExecutionSummary");
    assert_eq!(
        summary["properties"]["eventCount"],
        json!({
            "type": "integer",
            "format": "int64",
            "minimum": 0,
            "maximum": 4_294_967_295_u64,
            "description": "Number of events the execution emitted.",
        })
    );

    // A message field keeps its description next to the `$ref` through allOf.
    assert_eq!(
        schema(&doc, "dotlanth.vm.v1.GetDotResponse")["properties"]["dot"],
        json!({
            "allOf": [reference("dotlanth.vm.v1.Dot")],
            "description": "The dot's metadata and exported functions.",
        })
    );

    // Duration.
    assert_eq!(
        schema(&doc, "dotlanth.monitoring.v1.GetStatusResponse")["properties"]["uptime"]["pattern"],
        r"^-?[0-9]+(\.[0-9]{1,9})?s$"
    );

    // The error schema, defined although google/rpc/status.proto is not imported.
    let status = schema(&doc, "google.rpc.Status");
    assert_eq!(
        status["properties"]["code"],
        json!({
            "type": "integer",
            "format": "int32",
            "description": "The gRPC status code (`google.rpc.Code`), e.g. 5 for `NOT_FOUND`.",
        })
    );
    assert_eq!(status["properties"]["message"]["type"], "string");
    assert_eq!(status["properties"]["details"]["type"], "array");
    assert_eq!(
        status["properties"]["details"]["items"]["required"],
        json!(["@type"])
    );
}

#[test]
fn api_stream_events() {
    let doc = api_doc();
    let op = op(&doc, "get", "/api/v1/monitoring/events");
    assert_eq!(op["x-dotlanth-streaming"], "server");
    assert_eq!(
        params(op),
        [
            ("startHeight".into(), "query".into()),
            ("filter.kinds".into(), "query".into()),
            ("filter.dots".into(), "query".into()),
        ]
    );
    let start = param(op, "startHeight");
    assert!(start.get("required").is_none());
    assert_eq!(start["schema"]["type"], "string");
    assert_eq!(start["schema"]["format"], "uint64");
    let kinds = param(op, "filter.kinds");
    assert_eq!(kinds["style"], "form");
    assert_eq!(kinds["explode"], true);
    assert_eq!(
        kinds["schema"],
        json!({ "type": "array", "items": reference("dotlanth.monitoring.v1.EventKind") })
    );
    assert_eq!(
        param(op, "filter.dots")["schema"],
        json!({ "type": "array", "items": { "type": "string" } })
    );

    let content = &op["responses"]["200"]["content"];
    assert_eq!(keys(content), ["application/x-ndjson", "text/event-stream"]);
    let line = &content["application/x-ndjson"]["schema"];
    assert_eq!(line["type"], "object");
    assert_eq!(
        line["properties"]["result"],
        reference("dotlanth.monitoring.v1.StreamEventsResponse")
    );
    assert_eq!(line["properties"]["error"], reference("google.rpc.Status"));
    assert_eq!(content["text/event-stream"]["schema"]["type"], "string");

    // Enums are strings of value names.
    let kind = schema(&doc, "dotlanth.monitoring.v1.EventKind");
    assert_eq!(kind["type"], "string");
    assert_eq!(
        kind["enum"],
        json!([
            "EVENT_KIND_UNSPECIFIED",
            "EVENT_KIND_BLOCK",
            "EVENT_KIND_DOT"
        ])
    );
    assert!(
        kind["description"]
            .as_str()
            .unwrap()
            .contains("- `EVENT_KIND_BLOCK`: Block commits."),
        "{kind}"
    );

    // Oneofs: every member a property, plus x-oneof and a sentence.
    let event = schema(&doc, "dotlanth.monitoring.v1.StreamEventsResponse");
    assert_eq!(keys(&event["properties"]), ["block", "dotEvent"]);
    assert_eq!(event["x-oneof"], json!({ "event": ["block", "dotEvent"] }));
    assert!(
        event["description"]
            .as_str()
            .unwrap()
            .contains("At most one of `block` or `dotEvent` is set (oneof `event`)."),
        "{event}"
    );
}

#[test]
fn api_security() {
    let doc = api_doc();
    let public = op(&doc, "get", "/api/v1/monitoring/status");
    assert_eq!(public["security"], json!([]));
    assert!(public.get("x-dotlanth-scopes").is_none());
    // No auth option: any authenticated caller.
    let ping = op(&doc, "post", "/api/v1/runtime/ping");
    assert_eq!(ping["security"], json!([{ "bearerAuth": [] }]));
    assert!(ping.get("x-dotlanth-scopes").is_none());
    let get_dot = op(&doc, "get", "/api/v1/vm/dots/{name}");
    assert_eq!(get_dot["security"], json!([{ "bearerAuth": [] }]));
    assert_eq!(get_dot["x-dotlanth-scopes"], json!(["dots.read"]));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["type"],
        "http"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    assert!(
        doc.get("security").is_none(),
        "every operation says its own"
    );
}

#[test]
fn api_schemas_are_only_the_reachable_ones() {
    let doc = api_doc();
    assert_eq!(
        keys(&doc["components"]["schemas"]),
        [
            "dotlanth.monitoring.v1.Block",
            "dotlanth.monitoring.v1.EventKind",
            "dotlanth.monitoring.v1.ExecutionSummary",
            "dotlanth.monitoring.v1.GetBlockResponse",
            "dotlanth.monitoring.v1.GetStatusResponse",
            "dotlanth.monitoring.v1.StreamEventsResponse",
            "dotlanth.runtime.v1.PingRequest",
            "dotlanth.runtime.v1.PingResponse",
            "dotlanth.vm.v1.DeployDotRequest",
            "dotlanth.vm.v1.DeployDotResponse",
            "dotlanth.vm.v1.Dot",
            "dotlanth.vm.v1.DotEvent",
            "dotlanth.vm.v1.ExecuteDotRequest_Body",
            "dotlanth.vm.v1.ExecuteDotResponse",
            "dotlanth.vm.v1.ExportedFunction",
            "dotlanth.vm.v1.GetDotResponse",
            "dotlanth.vm.v1.StateEntry",
            "google.rpc.Status",
        ]
    );
}

#[test]
fn both_documents_are_generated_files() {
    for tree in [repo_protos(), test_protos()] {
        let files = ok(&compile_tree(&tree));
        for path in [JSON_PATH, YAML_PATH] {
            let text = file(&files, path);
            assert!(is_generated(text.as_bytes()), "{path}: {}", &text[..80]);
            assert!(text.ends_with('\n'));
        }
        let yaml = file(&files, YAML_PATH);
        assert!(yaml.contains("\nopenapi: \"3.0.3\"\n"), "{yaml}");
        assert!(yaml.contains("\n        - bearerAuth: []\n"), "{yaml}");
    }
}

#[test]
fn generated_lib_exposes_the_documents() {
    let files = ok(&compile_tree(&repo_protos()));
    let lib = file(&files, "src/lib.rs");
    assert!(
        lib.contains("pub const OPENAPI_JSON: &str = include_str!(\"../openapi/openapi.json\");"),
        "{lib}"
    );
    assert!(
        lib.contains("pub const OPENAPI_YAML: &str = include_str!(\"../openapi/openapi.yaml\");"),
        "{lib}"
    );
}

// ----------------------------------------------------------------------------
// The library fixture.

#[test]
fn library_operations_and_paths() {
    let doc = library_doc();
    assert_eq!(
        operations(&doc),
        owned(&[
            (
                "get",
                "/v1/archive/{archive}",
                "LibraryService_GetArchiveFile"
            ),
            (
                "get",
                "/v1/authors/{authors}/books/{books}",
                "LibraryService_GetBook_1"
            ),
            ("get", "/v1/shelves", "LibraryService_ListShelves"),
            ("post", "/v1/shelves", "LibraryService_CreateShelf"),
            (
                "delete",
                "/v1/shelves/{shelves}",
                "LibraryService_DeleteShelf"
            ),
            ("get", "/v1/shelves/{shelves}", "LibraryService_GetShelf"),
            (
                "post",
                "/v1/shelves/{shelves}/books",
                "LibraryService_CreateBook"
            ),
            (
                "get",
                "/v1/shelves/{shelves}/books/{books}",
                "LibraryService_GetBook"
            ),
            (
                "patch",
                "/v1/shelves/{shelves}/books/{books}",
                "LibraryService_UpdateBook"
            ),
            (
                "put",
                "/v1/shelves/{shelves}/books/{books}",
                "LibraryService_UpdateBook_1"
            ),
            (
                "get",
                "/v1/shelves/{shelves}/books/{books}/cover",
                "LibraryService_GetBookCover"
            ),
            (
                "post",
                "/v1/shelves/{shelves}/books/{books}:publish",
                "LibraryService_PublishBook"
            ),
            (
                "get",
                "/v1/shelves/{shelves}:watch",
                "LibraryService_WatchShelf"
            ),
        ]),
        "ImportBooks has no binding, so no operation"
    );
}

#[test]
fn library_multi_segment_variables() {
    let doc = library_doc();
    let get = op(&doc, "get", "/v1/shelves/{shelves}/books/{books}");
    assert_eq!(
        params(get),
        [
            ("shelves".into(), "path".into()),
            ("books".into(), "path".into())
        ]
    );
    let books = param(get, "books");
    assert_eq!(books["required"], true);
    assert_eq!(books["schema"], json!({ "type": "string" }));
    let text = books["description"].as_str().unwrap();
    assert!(
        text.starts_with(
            "Part of `name`, which the path sets to `shelves/{shelves}/books/{books}` \
             (template `{name=shelves/*/books/*}`)."
        ),
        "{text}"
    );
    let archive = param(op(&doc, "get", "/v1/archive/{archive}"), "archive");
    let text = archive["description"].as_str().unwrap();
    assert!(
        text.contains("Zero or more segments, `/` not escaped."),
        "{text}"
    );
    assert!(text.contains("`{path=archive/**}`"), "{text}");
}

#[test]
fn library_bodies_and_query_parameters() {
    let doc = library_doc();

    // `body: "shelf"`: the field's schema.
    let create = op(&doc, "post", "/v1/shelves");
    assert_eq!(body_schema(create), &reference("example.library.v1.Shelf"));
    assert_eq!(create["requestBody"]["required"], true);
    assert_eq!(create["requestBody"]["description"], "The shelf to create.");
    assert!(create.get("parameters").is_none());

    // `body: "book"` with `book.name` in the path: the rest is the query.
    let patch = op(&doc, "patch", "/v1/shelves/{shelves}/books/{books}");
    assert_eq!(body_schema(patch), &reference("example.library.v1.Book"));
    assert!(
        patch["requestBody"]["description"]
            .as_str()
            .unwrap()
            .contains("The path sets `name`"),
        "{patch}"
    );
    assert_eq!(
        param(patch, "updateMask"),
        &json!({
            "name": "updateMask",
            "in": "query",
            "description": "Fields to update; unset means all.",
            "schema": { "type": "string" },
        })
    );
    // `body: "*"` binding only a nested field: the whole input message.
    let put = op(&doc, "put", "/v1/shelves/{shelves}/books/{books}");
    assert_eq!(
        body_schema(put),
        &reference("example.library.v1.UpdateBookRequest")
    );
    assert_eq!(params(put).len(), 2, "no query parameters with body *");
    // `body: "*"` binding a top-level field: a body schema without it.
    let publish = op(&doc, "post", "/v1/shelves/{shelves}/books/{books}:publish");
    assert_eq!(
        body_schema(publish),
        &reference("example.library.v1.PublishBookRequest_Body")
    );
    assert_eq!(
        keys(&schema(&doc, "example.library.v1.PublishBookRequest_Body")["properties"]),
        ["publisher"]
    );

    // No body: every field is a query parameter.
    let list = op(&doc, "get", "/v1/shelves");
    assert_eq!(
        params(list),
        [
            ("pageSize".into(), "query".into()),
            ("pageToken".into(), "query".into()),
            ("themes".into(), "query".into()),
        ]
    );
    assert_eq!(
        param(list, "pageSize")["schema"],
        json!({ "type": "integer", "format": "int32" })
    );
    assert_eq!(param(list, "themes")["explode"], true);
    assert!(list.get("requestBody").is_none());
}

#[test]
fn library_responses_and_security() {
    let doc = library_doc();
    // `response_body: "image"`: the field's schema.
    let cover = op(&doc, "get", "/v1/shelves/{shelves}/books/{books}/cover");
    assert_eq!(
        ok_schema(cover),
        &json!({ "type": "string", "format": "byte", "description": "The image." })
    );
    assert_eq!(cover["security"], json!([]));
    // google.protobuf.Empty.
    let delete = op(&doc, "delete", "/v1/shelves/{shelves}");
    assert_eq!(ok_schema(delete), &json!({ "type": "object" }));
    assert_eq!(delete["x-dotlanth-scopes"], json!(["library.write"]));
    let update = op(&doc, "patch", "/v1/shelves/{shelves}/books/{books}");
    assert_eq!(
        update["x-dotlanth-scopes"],
        json!(["library.read", "library.write"])
    );
    assert!(
        update["description"]
            .as_str()
            .unwrap()
            .contains("the scopes `library.read` and `library.write`"),
        "{update}"
    );
    assert_eq!(
        op(&doc, "get", "/v1/shelves/{shelves}")["security"],
        json!([])
    );
    // A server stream.
    let watch = op(&doc, "get", "/v1/shelves/{shelves}:watch");
    assert_eq!(
        watch["responses"]["200"]["content"]["application/x-ndjson"]["schema"]["properties"]["result"],
        reference("example.library.v1.WatchShelfResponse")
    );
}

#[test]
fn library_book_schema() {
    let doc = library_doc();
    let book = schema(&doc, "example.library.v1.Book");
    let p = &book["properties"];
    assert_eq!(book["required"], json!(["title"]));
    assert_eq!(
        p["labels"],
        json!({
            "type": "object",
            "additionalProperties": { "type": "string" },
            "nullable": true,
            "description": "Free-form labels.",
        })
    );
    assert_eq!(
        p["related"]["additionalProperties"],
        reference("example.library.v1.Review")
    );
    assert_eq!(
        p["ratings"]["additionalProperties"],
        json!({ "type": "integer", "format": "int32" })
    );
    // proto3 optional.
    assert_eq!(p["edition"]["nullable"], true);
    assert_eq!(p["edition"]["type"], "integer");
    // Wrappers: nullable scalars, 64-bit as strings.
    assert_eq!(p["pageCount"]["type"], "string");
    assert_eq!(p["pageCount"]["format"], "int64");
    assert_eq!(p["pageCount"]["pattern"], int64_pattern());
    assert_eq!(p["pageCount"]["nullable"], true);
    assert_eq!(p["subtitle"]["nullable"], true);
    assert_eq!(p["available"]["type"], "boolean");
    assert_eq!(p["available"]["nullable"], true);
    // Other well-known types.
    assert_eq!(p["metadata"]["type"], "object");
    assert_eq!(p["readingTime"]["type"], "string");
    assert_eq!(
        p["printings"]["items"],
        json!({ "type": "string", "format": "date-time" })
    );
    assert_eq!(p["createTime"]["readOnly"], true);
    assert_eq!(p["isbn"]["format"], "uint64");
    assert_eq!(
        p["genre"],
        json!({
            "type": "string",
            "allOf": [reference("example.library.v1.Genre")],
            "nullable": true,
            "description": "Genre.",
        })
    );
    assert_eq!(
        book["x-oneof"],
        json!({ "format": ["paperback", "ebook", "audioUrl"] })
    );
    // Nested enums are named by their full name.
    assert_eq!(
        schema(&doc, "example.library.v1.Paperback.Binding")["enum"],
        json!([
            "BINDING_UNSPECIFIED",
            "BINDING_PERFECT",
            "BINDING_SADDLE_STITCH"
        ])
    );
    // uint32.
    assert_eq!(
        schema(&doc, "example.library.v1.Shelf")["properties"]["bookCount"]["minimum"],
        0
    );
}

// ----------------------------------------------------------------------------
// Constructed protos.

const HEADER: &str = r#"syntax = "proto3";

package test.v1;

import "dotlanth/api/v1/annotations.proto";
import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
"#;

const MESSAGES: &str = r#"
enum Color {
  COLOR_UNSPECIFIED = 0;
  COLOR_RED = 1 [deprecated = true];
}

message Inner {
  string name = 1;
  int32 n = 2;
}

message Book {
  string name = 1;
  string title = 2 [(google.api.field_behavior) = REQUIRED];
  double score = 3;
}

message Node {
  string value = 1;
  Node child = 2;
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
  repeated Book books = 9;
  google.protobuf.Struct meta = 10;
  bool flag = 11 [deprecated = true];
  bytes raw = 12;
  optional Color shade = 13;
  Node node = 14;
}

message Resp {
  string name = 1;
}
"#;

/// A file with a `Library` service holding `methods`.
fn library(methods: &str) -> String {
    format!("{HEADER}\nservice Library {{\n{methods}\n}}\n{MESSAGES}")
}

fn rpc(name: &str, options: &str) -> String {
    format!("  rpc {name}(Req) returns (Resp) {{\n    {options}\n  }}\n")
}

fn generated(sources: &[(&str, &str)]) -> Value {
    doc(&ok(&compile_sources(sources)))
}

fn failure(sources: &[(&str, &str)]) -> Vec<Diagnostic> {
    match generate(&compile_sources(sources)) {
        Err(Error::Invalid(diags)) => diags,
        Err(e) => panic!("expected diagnostics, got {e}"),
        Ok(_) => panic!("expected diagnostics, but generation succeeded"),
    }
}

#[test]
fn query_parameters_follow_the_request_mapping_rules() {
    let doc = generated(&[(
        "test/v1/lib.proto",
        &library(&rpc(
            "Frob",
            r#"option (google.api.http) = { get: "/v1/{name}" };"#,
        )),
    )]);
    let op = op(&doc, "get", "/v1/{name}");
    let names: Vec<String> = params(op).into_iter().map(|(n, _)| n).collect();
    // Not: labels (map), books (repeated message), meta (Struct); node.child
    // (a cycle) is cut.
    assert_eq!(
        names,
        [
            "name",
            "tags",
            "inner.name",
            "inner.n",
            "color",
            "when",
            "id",
            "book.name",
            "book.title",
            "book.score",
            "flag",
            "raw",
            "shade",
            "node.value",
        ]
    );
    assert_eq!(
        param(op, "when")["schema"],
        json!({ "type": "string", "format": "date-time" })
    );
    assert_eq!(param(op, "id")["schema"]["type"], "string");
    assert_eq!(param(op, "color")["schema"], reference("test.v1.Color"));
    assert_eq!(param(op, "flag")["deprecated"], true);
    assert_eq!(param(op, "raw")["schema"]["format"], "byte");
    // REQUIRED inside an optional message is not a required parameter.
    assert!(param(op, "book.title").get("required").is_none());
    assert!(
        param(op, "book.score")["description"]
            .as_str()
            .unwrap()
            .contains("\"NaN\""),
        "floats mention the special strings"
    );
    // The enum's deprecated value is documented.
    assert!(
        schema(&doc, "test.v1.Color")["description"]
            .as_str()
            .unwrap()
            .contains("- `COLOR_RED` (deprecated)")
    );
    // A field body takes that field out of the query.
    let doc = generated(&[(
        "test/v1/lib.proto",
        &library(&rpc(
            "Frob",
            r#"option (google.api.http) = { post: "/v1/{name}" body: "book" };"#,
        )),
    )]);
    let op = op_owned(&doc, "post", "/v1/{name}");
    assert!(params(&op).iter().all(|(n, _)| !n.starts_with("book")));
    // A body of `null` leaves the field unset, as `{}` would.
    assert_eq!(
        body_schema(&op),
        &json!({ "type": "object", "allOf": [reference("test.v1.Book")], "nullable": true })
    );
}

fn op_owned(doc: &Value, method: &str, path: &str) -> Value {
    op(doc, method, path).clone()
}

#[test]
fn additional_bindings_get_suffixes_and_body_variants_get_names() {
    let doc = generated(&[(
        "test/v1/lib.proto",
        &library(&rpc(
            "Frob",
            r#"option (google.api.http) = {
                 post: "/v1/{name}"
                 body: "*"
                 additional_bindings { post: "/v1/{name}/{id}:frob" body: "*" }
                 additional_bindings { custom: { kind: "HEAD" path: "/v1/x/{name}" } }
               };"#,
        )),
    )]);
    assert_eq!(
        operations(&doc),
        owned(&[
            ("post", "/v1/{name}", "Library_Frob"),
            ("post", "/v1/{name}/{id}:frob", "Library_Frob_1"),
            ("head", "/v1/x/{name}", "Library_Frob_2"),
        ])
    );
    assert_eq!(
        body_schema(op(&doc, "post", "/v1/{name}")),
        &reference("test.v1.Req_Body_name")
    );
    assert_eq!(
        body_schema(op(&doc, "post", "/v1/{name}/{id}:frob")),
        &reference("test.v1.Req_Body_name-id")
    );
    let props = keys(&schema(&doc, "test.v1.Req_Body_name-id")["properties"]);
    assert!(!props.contains(&"name".to_string()) && !props.contains(&"id".to_string()));
    assert!(props.contains(&"tags".to_string()));
    assert_eq!(
        param(op(&doc, "post", "/v1/{name}/{id}:frob"), "id")["schema"]["format"],
        "int64"
    );
}

#[test]
fn wildcard_parameters_get_unique_names() {
    let doc = generated(&[(
        "test/v1/lib.proto",
        &library(&rpc(
            "Frob",
            r#"option (google.api.http) = { get: "/v1/{name=shelves/*/shelves/*}/*/x/{id}/**" };"#,
        )),
    )]);
    let path = "/v1/shelves/{shelves}/shelves/{shelves_2}/{segment}/x/{id}/{rest}";
    let op = op(&doc, "get", path);
    assert_eq!(
        params(op)
            .into_iter()
            .filter(|(_, at)| at == "path")
            .map(|(n, _)| n)
            .collect::<Vec<_>>(),
        ["shelves", "shelves_2", "segment", "id", "rest"]
    );
    assert_eq!(
        param(op, "segment")["description"],
        "Any one segment. Not bound to a field."
    );
    assert!(
        param(op, "shelves_2")["description"]
            .as_str()
            .unwrap()
            .starts_with(
                "Part of `name`, which the path sets to `shelves/{shelves}/shelves/{shelves_2}`"
            )
    );
    // Parameters are never null, even for `optional` fields.
    assert!(param(op, "shade")["schema"].get("nullable").is_none());
}

#[test]
fn operation_id_collision_is_an_error() {
    let svc = |package: &str, path: &str| {
        format!(
            "syntax = \"proto3\";\npackage {package};\nimport \"google/api/annotations.proto\";\n\
             message M {{}}\nservice Svc {{\n  rpc Get(M) returns (M) {{\n    \
             option (google.api.http) = {{ get: \"{path}\" }};\n  }}\n}}\n"
        )
    };
    // (The GraphQL schema refuses the two `svcGet` fields too.)
    let diags: Vec<_> = failure(&[
        ("a/v1/a.proto", &svc("a.v1", "/a/x")),
        ("b/v1/b.proto", &svc("b.v1", "/b/x")),
    ])
    .into_iter()
    .filter(|d| !d.message.contains("GraphQL"))
    .collect();
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d.file, "b/v1/b.proto");
    assert!(d.element.contains("service b.v1.Svc, method Get"), "{d}");
    assert!(
        d.message
            .contains("operationId `Svc_Get` is already taken by service a.v1.Svc"),
        "{d}"
    );

    // An additional binding's suffix against a method named like it.
    let diags = failure(&[(
        "test/v1/lib.proto",
        &library(&format!(
            "{}{}",
            rpc(
                "Get",
                r#"option (google.api.http) = { get: "/v1/a" additional_bindings { get: "/v1/b" } };"#
            ),
            rpc("Get_1", r#"option (google.api.http) = { get: "/v1/c" };"#)
        )),
    )]);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].element.contains("method Get_1"), "{}", diags[0]);
    assert!(diags[0].message.contains("`Library_Get_1`"), "{}", diags[0]);
}

#[test]
fn unsupported_custom_method_is_an_error() {
    for kind in ["REPORT", "*"] {
        let diags = failure(&[(
            "test/v1/lib.proto",
            &library(&rpc(
                "Frob",
                &format!(
                    r#"option (google.api.http) = {{ custom: {{ kind: "{kind}" path: "/v1/x" }} }};"#
                ),
            )),
        )]);
        assert_eq!(diags.len(), 1, "{diags:?}");
        let d = &diags[0];
        assert_eq!(d.file, "test/v1/lib.proto");
        assert!(
            d.element.contains(&format!(
                "service test.v1.Library, method Frob, binding {kind} /v1/x"
            )),
            "{d}"
        );
        assert!(
            d.message
                .contains(&format!("the HTTP method {kind} has no OpenAPI operation")),
            "{d}"
        );
    }
    let doc = generated(&[(
        "test/v1/lib.proto",
        &library(&rpc(
            "Frob",
            r#"option (google.api.http) = { custom: { kind: "options" path: "/v1/x" } };"#,
        )),
    )]);
    assert_eq!(op(&doc, "options", "/v1/x")["operationId"], "Library_Frob");
}

#[test]
fn body_name_taken_by_a_message_is_an_error() {
    let src = library(&rpc(
        "Frob",
        r#"option (google.api.http) = { post: "/v1/{name}" body: "*" };"#,
    )) + "\nmessage Req_Body {}\n";
    let diags = failure(&[("test/v1/lib.proto", &src)]);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].element, "message test.v1.Req_Body");
    assert!(
        diags[0].message.contains("`test.v1.Req_Body`"),
        "{}",
        diags[0]
    );
}

#[test]
fn output_and_input_only_together_is_an_error() {
    let src = library(&rpc(
        "Frob",
        r#"option (google.api.http) = { post: "/v1/x" body: "*" };"#,
    ))
    .replace(
        "message Resp {\n  string name = 1;\n}",
        "message Resp {\n  string name = 1 [(google.api.field_behavior) = OUTPUT_ONLY, \
         (google.api.field_behavior) = INPUT_ONLY];\n}",
    );
    let diags = failure(&[("test/v1/lib.proto", &src)]);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].element, "message test.v1.Resp, field name");
    assert!(diags[0].message.contains("both OUTPUT_ONLY and INPUT_ONLY"));
}

// ----------------------------------------------------------------------------
// What the server accepts (regressions found by schemathesis).

/// `(dotlanth.api.v1.field_rule).pattern` of the dot names (vm/src/dot.rs).
const DOT_NAME: &str = "^[a-z][a-z0-9_-]{0,63}$";

/// 64-bit integers are strings of the type's range: a longer run of digits is no
/// int64 and the server refuses it (`GET /api/v1/monitoring/blocks/{height}` with
/// 21 digits answered 400 where the document promised `^[0-9]+$`).
#[test]
fn sixty_four_bit_strings_stop_at_the_range() {
    let u = regex::Regex::new(&uint64_pattern()).unwrap();
    let i = regex::Regex::new(&int64_pattern()).unwrap();
    for ok in [
        "0",
        "7",
        "10",
        "007",
        "18446744073709551615",
        "018446744073709551615",
        "18446744073709551609",
        "18446744073709551599",
        "17999999999999999999",
        "9999999999999999999",
        "10000000000000000000",
    ] {
        assert!(u.is_match(ok), "uint64 {ok}");
        assert_eq!(ok.parse::<u64>().is_ok(), u.is_match(ok), "{ok}");
    }
    for bad in [
        "",
        "-1",
        "+1",
        "1.0",
        "1e3",
        " 1",
        "18446744073709551616",
        "18446744073709551620",
        "18446744073709551700",
        "19000000000000000000",
        "20000000000000000000",
        "99999999999999999999",
        "100000000000000000000",
        "004104800714752060154683330498412410246963473365",
    ] {
        assert!(!u.is_match(bad), "uint64 {bad}");
    }
    for ok in [
        "0",
        "-0",
        "42",
        "-42",
        "9223372036854775807",
        "-9223372036854775808",
        "0009223372036854775807",
        "9223372036854775799",
        "8999999999999999999",
        "999999999999999999",
    ] {
        assert!(i.is_match(ok), "int64 {ok}");
    }
    for bad in [
        "",
        "-",
        "--1",
        "+1",
        "9223372036854775808",
        "-9223372036854775809",
        "9223372036854775810",
        "9300000000000000000",
        "10000000000000000000",
    ] {
        assert!(!i.is_match(bad), "int64 {bad}");
    }
    // Exhaustive near the boundaries: the pattern agrees with Rust's parser.
    for n in (u64::MAX - 2000..=u64::MAX).chain(0..2000) {
        assert!(u.is_match(&n.to_string()), "{n}");
    }
    for n in 1..2000u128 {
        let above = u128::from(u64::MAX) + n;
        assert!(!u.is_match(&above.to_string()), "{above}");
    }
    for n in (i64::MAX - 1000..=i64::MAX).chain(i64::MIN..=i64::MIN + 1000) {
        assert!(i.is_match(&n.to_string()), "{n}");
    }
    for n in 1..1000i128 {
        assert!(!i.is_match(&(i128::from(i64::MAX) + n).to_string()));
        assert!(!i.is_match(&(i128::from(i64::MIN) - n).to_string()));
    }
}

/// proto3 JSON reads `null` as a field's default value, so the server accepts
/// `{"payload": null}`: the fields of request messages are nullable, except
/// REQUIRED ones (`null` is a missing value there). Response-only messages stay
/// as they are written (never `null`).
#[test]
fn request_fields_take_null() {
    let doc = api_doc();
    let ping = schema(&doc, "dotlanth.runtime.v1.PingRequest");
    assert_eq!(
        ping["properties"]["payload"],
        json!({
            "type": "string",
            "nullable": true,
            "description": "Arbitrary text, returned unchanged.",
        })
    );
    let deploy = &schema(&doc, "dotlanth.vm.v1.DeployDotRequest")["properties"];
    assert_eq!(deploy["description"]["nullable"], true);
    assert!(deploy["name"].get("nullable").is_none());
    assert!(deploy["module"].get("nullable").is_none());
    let execute = &schema(&doc, "dotlanth.vm.v1.ExecuteDotRequest_Body")["properties"];
    assert_eq!(execute["input"]["nullable"], true);
    assert!(execute["function"].get("nullable").is_none());
    for (name, response) in [
        ("dotlanth.runtime.v1.PingResponse", "version"),
        ("dotlanth.vm.v1.Dot", "name"),
        ("dotlanth.vm.v1.GetDotResponse", "dot"),
    ] {
        let field = &schema(&doc, name)["properties"][response];
        assert!(
            field.get("nullable").is_none(),
            "{name}.{response}: {field}"
        );
    }

    // Messages reachable from a body, at any depth (the library's `Book` is the
    // body of UpdateBook, its `Paperback` one level down).
    let library = library_doc();
    let paperback = &schema(&library, "example.library.v1.Paperback")["properties"];
    assert_eq!(paperback["pages"]["nullable"], true);
    assert_eq!(
        paperback["binding"],
        json!({
            "type": "string",
            "allOf": [reference("example.library.v1.Paperback.Binding")],
            "nullable": true,
            "description": "The binding.",
        })
    );
}

/// A REQUIRED string or bytes field cannot be empty (proto3 cannot tell `""`
/// from unset; the server answers `` `name` is required ``), a REQUIRED repeated
/// or map field cannot be empty either; proto3 `optional` has presence, so its
/// empty value is a value.
#[test]
fn required_fields_are_not_empty() {
    let doc = api_doc();
    let deploy = &schema(&doc, "dotlanth.vm.v1.DeployDotRequest")["properties"];
    assert_eq!(
        deploy["name"],
        json!({
            "type": "string",
            "minLength": 1,
            "pattern": DOT_NAME,
            "description": "Name of the new dot (see `Dot.name` for the allowed form).",
        })
    );
    assert_eq!(deploy["module"]["minLength"], 1);
    assert!(deploy["description"].get("minLength").is_none());

    let src = library(&rpc(
        "Frob",
        r#"option (google.api.http) = { post: "/v1/x" body: "*" };"#,
    ))
    .replace(
        "message Resp {\n  string name = 1;\n}",
        "message Resp {\n  string name = 1;\n}\n\nmessage Strict {\n  \
         repeated string tags = 1 [(google.api.field_behavior) = REQUIRED];\n  \
         map<string, int32> counts = 2 [(google.api.field_behavior) = REQUIRED];\n  \
         optional string note = 3 [(google.api.field_behavior) = REQUIRED];\n  \
         int32 n = 4 [(google.api.field_behavior) = REQUIRED];\n}",
    )
    .replace("rpc Frob(Req)", "rpc Frob(Strict)");
    let doc = generated(&[("test/v1/lib.proto", &src)]);
    let strict = &schema(&doc, "test.v1.Strict")["properties"];
    assert_eq!(
        strict["tags"],
        json!({ "type": "array", "items": { "type": "string" }, "minItems": 1 })
    );
    assert_eq!(
        strict["counts"],
        json!({
            "type": "object",
            "additionalProperties": { "type": "integer", "format": "int32" },
            "minProperties": 1,
        })
    );
    assert_eq!(
        strict["note"],
        json!({ "type": "string", "nullable": true })
    );
    assert_eq!(strict["n"], json!({ "type": "integer", "format": "int32" }));
}

/// `(dotlanth.api.v1.field_rule).pattern` is the field's JSON Schema `pattern`,
/// wherever the field appears: a path parameter, a body property, a response
/// (GET /api/v1/vm/dots/0 answered 400 where the document allowed any string).
#[test]
fn field_rule_patterns_are_documented() {
    let doc = api_doc();
    let get_dot = op(&doc, "get", "/api/v1/vm/dots/{name}");
    assert_eq!(
        param(get_dot, "name")["schema"],
        json!({ "type": "string", "minLength": 1, "pattern": DOT_NAME })
    );
    assert_eq!(
        schema(&doc, "dotlanth.vm.v1.Dot")["properties"]["name"]["pattern"],
        DOT_NAME
    );

    // Repeated strings: each element; query parameters too.
    let src = library(&rpc(
        "Frob",
        r#"option (google.api.http) = { get: "/v1/{name}" };"#,
    ))
    .replace(
        "  repeated string tags = 2;",
        "  repeated string tags = 2 [(dotlanth.api.v1.field_rule) = {pattern: \"^[a-z]+$\"}];",
    );
    let doc = generated(&[("test/v1/lib.proto", &src)]);
    assert_eq!(
        param(op(&doc, "get", "/v1/{name}"), "tags")["schema"],
        json!({ "type": "array", "items": { "type": "string", "pattern": "^[a-z]+$" } })
    );
}

#[test]
fn field_rule_pattern_must_fit_its_field() {
    let with = |field: &str| {
        library(&rpc(
            "Frob",
            r#"option (google.api.http) = { post: "/v1/x" body: "*" };"#,
        ))
        .replace(
            "message Resp {\n  string name = 1;\n}",
            &format!("message Resp {{\n  {field}\n}}"),
        )
    };
    let diags = failure(&[(
        "test/v1/lib.proto",
        &with("int32 n = 1 [(dotlanth.api.v1.field_rule) = {pattern: \"^[0-9]$\"}];"),
    )]);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].element, "message test.v1.Resp, field n");
    assert!(
        diags[0].message.contains("applies to string fields"),
        "{}",
        diags[0]
    );
    let diags = failure(&[(
        "test/v1/lib.proto",
        &with("string s = 1 [(dotlanth.api.v1.field_rule) = {pattern: \"^[a-z$\"}];"),
    )]);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].element, "message test.v1.Resp, field s");
    assert!(
        diags[0].message.contains("not a valid regular expression"),
        "{}",
        diags[0]
    );
}

// ----------------------------------------------------------------------------
// Determinism.

fn library_sources(extra: &str) -> Vec<(String, String)> {
    let dir = test_protos();
    let read = |p: &str| fs::read_to_string(dir.join(p)).unwrap();
    vec![
        (
            "library/v1/library.proto".into(),
            read("library/v1/library.proto"),
        ),
        (
            "library/v1/resources.proto".into(),
            read("library/v1/resources.proto") + extra,
        ),
    ]
}

fn documents(sources: &[(String, String)]) -> (String, String) {
    let borrowed: Vec<(&str, &str)> = sources
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let files = ok(&compile_sources(&borrowed));
    (
        file(&files, JSON_PATH).to_string(),
        file(&files, YAML_PATH).to_string(),
    )
}

#[test]
fn documents_are_deterministic_and_stable() {
    let c = compile_tree(&repo_protos());
    let (a, b) = (ok(&c), ok(&c));
    assert_eq!(file(&a, JSON_PATH), file(&b, JSON_PATH));
    assert_eq!(file(&a, YAML_PATH), file(&b, YAML_PATH));

    // Unrelated messages and enums change nothing.
    let base = documents(&library_sources(""));
    let more = documents(&library_sources(
        "\n// Unrelated.\nmessage Aaa { int64 x = 1; Zzz z = 2; }\nenum Zzz { ZZZ_UNSPECIFIED = 0; }\n\
         message Book_Body { string s = 1; }\n",
    ));
    assert!(base.0 == more.0, "openapi.json changed");
    assert!(base.1 == more.1, "openapi.yaml changed");
}

/// OpenAPI 3.1 (an option): `null` joins `type` arrays, bytes are
/// `contentEncoding: base64`, keywords stand beside `$ref`; parameters are never
/// `null`.
#[test]
fn openapi_3_1_writes_json_schema_2020_12_forms() {
    let c = compile_tree(&test_protos());
    let options = dotlanth_codegen::Options {
        openapi: dotlanth_codegen::emit::openapi::Version::V3_1_0,
        ..Default::default()
    };
    let files = dotlanth_codegen::generate(&c.set, &c.files, &options).unwrap();
    let doc = doc(&files);
    assert_eq!(doc["openapi"], "3.1.0");
    let text = file(&files, JSON_PATH);
    assert!(!text.contains("\"nullable\""), "3.1 has no `nullable`");
    assert!(
        !text.contains("\"format\": \"byte\""),
        "3.1 has no `format: byte`"
    );
    let paperback = &schema(&doc, "example.library.v1.Paperback")["properties"];
    assert_eq!(paperback["pages"]["type"], json!(["integer", "null"]));
    assert_eq!(
        paperback["binding"],
        json!({
            "anyOf": [reference("example.library.v1.Paperback.Binding"), { "type": "null" }],
            "description": "The binding.",
        })
    );
    for (_, item) in doc["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let ty = &p["schema"]["type"];
                assert!(!ty.is_array(), "a parameter is never null: {p}");
            }
        }
    }
}

/// Two templates that differ only in their variables' names share one path item
/// (OpenAPI allows no two paths of one shape): the later takes the earlier names.
#[test]
fn templates_of_one_shape_share_a_path_item() {
    let doc = generated(&[(
        "test/v1/lib.proto",
        &library(&format!(
            "{}{}",
            rpc(
                "Frob",
                r#"option (google.api.http) = { get: "/v1/things/{name}" };"#
            ),
            rpc(
                "Twiddle",
                r#"option (google.api.http) = { put: "/v1/things/{book.name}" body: "book" };"#
            ),
        )),
    )]);
    assert!(
        doc["paths"].get("/v1/things/{book.name}").is_none(),
        "{}",
        doc["paths"]
    );
    let put = op_owned(&doc, "put", "/v1/things/{name}");
    let p = &put["parameters"][0];
    assert_eq!(p["name"], "name");
    assert_eq!(p["in"], "path");
    assert!(
        p["description"]
            .as_str()
            .unwrap()
            .contains("names this `book.name`"),
        "{p}"
    );
}

#[test]
fn http_bodies_are_raw_bytes_of_any_type() {
    let tree = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/protos");
    let doc = doc(&ok(&compile_tree(&tree)));
    let raw = json!({ "*/*": { "schema": { "type": "string", "format": "binary" } } });
    // The request is an HttpBody (`body: "*"`), the body field is one, the reply
    // is one or its `response_body` field is; a stream of them too.
    for path in ["/v1/raw", "/v1/uploads/{name}", "/v1/downloads"] {
        let op = op(&doc, "post", path);
        assert_eq!(op["requestBody"]["content"], raw, "{path}");
        assert_eq!(op["responses"]["200"]["content"], raw, "{path}");
    }
    assert_eq!(
        op(&doc, "post", "/v1/downloads")["x-dotlanth-streaming"],
        "server"
    );
    // Nothing describes an HttpBody as JSON any more.
    assert!(
        doc["components"]["schemas"]
            .get("google.api.HttpBody")
            .is_none()
    );
}
