//! The OpenAPI documents: served as generated, valid per `openapi-spec-validator`
//! (a validator we did not write), for our API, the second proto tree and the
//! conformance tree.

use crate::harness::{DEV_TOKEN, Server, ServerOpts, workspace};
use serde_json::{Value, json};
use std::path::PathBuf;

/// The validator from the test virtualenv (`cargo xtask test` installs it).
fn validator() -> PathBuf {
    let python = match std::env::var_os("DOTLANTH_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => workspace().join(".venv/bin/python"),
    };
    let bin = python.with_file_name("openapi-spec-validator");
    assert!(
        bin.is_file(),
        "{} not found: run `cargo xtask test` (it installs tests/python/requirements.txt into .venv)",
        bin.display()
    );
    bin
}

#[test]
fn generated_documents_are_valid_openapi() {
    for doc in [
        "generated/openapi/openapi.yaml",
        "generated/openapi/openapi.json",
        "tests/library-api/openapi/openapi.yaml",
        "tests/library-api/openapi/openapi.json",
        "tests/conformance-api/openapi/openapi.yaml",
        "tests/conformance-api/openapi/openapi.json",
    ] {
        let out = std::process::Command::new(validator())
            .arg(workspace().join(doc))
            .output()
            .expect("run openapi-spec-validator");
        assert!(
            out.status.success(),
            "{doc} is not valid OpenAPI:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn the_server_serves_the_generated_documents() {
    let server = Server::start(ServerOpts::default()).await;
    for (path, file, content_type) in [
        (
            "/openapi.json",
            "generated/openapi/openapi.json",
            "application/json",
        ),
        (
            "/openapi.yaml",
            "generated/openapi/openapi.yaml",
            "application/yaml",
        ),
    ] {
        let resp = reqwest::get(format!("{}{path}", server.http_url()))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], content_type);
        let served = resp.text().await.unwrap();
        let expected = std::fs::read_to_string(workspace().join(file)).unwrap();
        assert_eq!(served, expected, "{path} differs from {file}");
    }
}

/// Swagger UI is served with its assets compiled in (no network), pointed at the
/// generated document.
#[tokio::test]
async fn swagger_ui_is_served_offline() {
    let server = Server::start(ServerOpts::default()).await;
    let get = |path: &str| {
        let url = format!("{}{path}", server.http_url());
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, page) = get("/docs/api/").await;
    assert_eq!(status, 200);
    assert!(page.contains("swagger-ui-bundle.js"), "{page}");
    assert!(
        !page.contains("https://"),
        "the page must not load remote assets: {page}"
    );
    let (status, init) = get("/docs/api/swagger-initializer.js").await;
    assert_eq!(status, 200);
    assert!(init.contains("\"/openapi.json\""), "{init}");
    let (status, bundle) = get("/docs/api/swagger-ui-bundle.js").await;
    assert_eq!(status, 200);
    assert!(bundle.len() > 100_000);
}

/// The generated HTML reference is served as generated.
#[tokio::test]
async fn the_reference_docs_are_served() {
    let server = Server::start(ServerOpts::default()).await;
    let resp = reqwest::get(format!("{}/docs", server.http_url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = resp.text().await.unwrap();
    let expected = std::fs::read_to_string(workspace().join("generated/docs/index.html")).unwrap();
    assert_eq!(page, expected);
    assert!(page.contains("/dotlanth.vm.v1.VmService/ExecuteDot"));
}

// ----------------------------------------------------------------------------
// The document describes what the server accepts (each found by schemathesis,
// tests/e2e/schemathesis.rs, where the document said otherwise).

/// The document the server serves.
async fn served_document(server: &Server) -> Value {
    reqwest::get(format!("{}/openapi.json", server.http_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `(status, JSON body)` of one call with the development token.
async fn call(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", server.http_url()))
        .bearer_auth(DEV_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn invalid_argument(message: &str) -> Value {
    json!({ "code": 3, "message": message, "details": [] })
}

/// GET /api/v1/vm/dots/0 answered 400 while the document allowed any string as a
/// dot name: the names' `field_rule` pattern is now in the document, and it
/// accepts exactly the names the server accepts.
#[tokio::test]
async fn dot_names_follow_the_documented_pattern() {
    let server = Server::start(ServerOpts::default()).await;
    let doc = served_document(&server).await;
    let get_dot = &doc["paths"]["/api/v1/vm/dots/{name}"]["get"]["parameters"][0];
    assert_eq!(get_dot["name"], "name");
    assert_eq!(
        get_dot["schema"],
        json!({ "type": "string", "minLength": 1, "pattern": "^[a-z][a-z0-9_-]{0,63}$" })
    );
    let pattern = regex::Regex::new(get_dot["schema"]["pattern"].as_str().unwrap()).unwrap();

    assert_eq!(
        call(&server, "GET", "/api/v1/vm/dots/0", None).await,
        (
            400,
            invalid_argument(
                "invalid dot name \"0\": expected 1 to 64 characters of [a-z0-9_-] starting with \
                 a letter"
            )
        )
    );
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    for name in [
        "a", "z9", "a-b_c9", &long, "0", "A", "-a", "_a", "a.b", "a~b", "aB", &too_long,
    ] {
        let (status, body) = call(&server, "GET", &format!("/api/v1/vm/dots/{name}"), None).await;
        let expected = if pattern.is_match(name) { 404 } else { 400 };
        assert_eq!(status, expected, "{name}: {body}");
    }
}

/// GET /api/v1/monitoring/blocks/<21 digits> answered 400 while the document's
/// uint64 pattern (`^[0-9]+$`) allowed any number of digits: the pattern now
/// stops at 18446744073709551615, where the server does.
#[tokio::test]
async fn block_heights_stop_at_the_uint64_range() {
    let server = Server::start(ServerOpts::default()).await;
    let doc = served_document(&server).await;
    let height = &doc["paths"]["/api/v1/monitoring/blocks/{height}"]["get"]["parameters"][0];
    assert_eq!(height["name"], "height");
    assert_eq!(height["schema"]["format"], "uint64");
    let pattern = regex::Regex::new(height["schema"]["pattern"].as_str().unwrap()).unwrap();

    assert!(pattern.is_match("18446744073709551615"));
    let (status, body) = call(
        &server,
        "GET",
        "/api/v1/monitoring/blocks/18446744073709551615",
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");

    for too_big in [
        "18446744073709551616",
        "004104800714752060154683330498412410246963473365",
    ] {
        assert!(!pattern.is_match(too_big), "{too_big}");
        assert_eq!(
            call(
                &server,
                "GET",
                &format!("/api/v1/monitoring/blocks/{too_big}"),
                None
            )
            .await,
            (
                400,
                invalid_argument("path variable height: number too large to fit in target type")
            )
        );
    }
}

/// `{"payload": null}` was accepted (proto3 JSON: `null` is the default value)
/// while the document said `payload` is a string: request fields are nullable.
#[tokio::test]
async fn null_request_fields_mean_unset() {
    let server = Server::start(ServerOpts::default()).await;
    let doc = served_document(&server).await;
    assert_eq!(
        doc["components"]["schemas"]["dotlanth.runtime.v1.PingRequest"]["properties"]["payload"],
        json!({
            "type": "string",
            "nullable": true,
            "description": "Arbitrary text, returned unchanged.",
        })
    );
    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/runtime/ping",
        Some(json!({ "payload": null })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body.get("payload").is_none(), "{body}");
}

/// `{"name": "", "module": ""}` answered 400 (`` `name` is required ``) while the
/// document allowed empty strings: REQUIRED strings and bytes have `minLength: 1`.
#[tokio::test]
async fn required_fields_refuse_empty_values() {
    let server = Server::start(ServerOpts::default()).await;
    let doc = served_document(&server).await;
    let deploy = &doc["components"]["schemas"]["dotlanth.vm.v1.DeployDotRequest"];
    assert_eq!(deploy["required"], json!(["name", "module"]));
    assert_eq!(deploy["properties"]["name"]["minLength"], 1);
    assert_eq!(deploy["properties"]["module"]["minLength"], 1);
    let execute = &doc["components"]["schemas"]["dotlanth.vm.v1.ExecuteDotRequest_Body"];
    assert_eq!(execute["properties"]["function"]["minLength"], 1);

    let deploy = |body: Value| call(&server, "POST", "/api/v1/vm/dots/deploy", Some(body));
    assert_eq!(
        deploy(json!({ "name": "", "module": "" })).await,
        (400, invalid_argument("`name` is required"))
    );
    assert_eq!(
        deploy(json!({ "name": "a", "module": "" })).await,
        (400, invalid_argument("`module` is required"))
    );
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/vm/dots/a:execute",
            Some(json!({ "function": "" }))
        )
        .await,
        (400, invalid_argument("`function` is required"))
    );
}
