//! The OpenAPI documents: served as generated, valid per `openapi-spec-validator`
//! (a validator we did not write), for our API and for the second proto tree.

use crate::harness::{Server, ServerOpts, workspace};
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
