//! A real browser (headless Chromium) renders Swagger UI and the reference docs
//! and finds every operation of the API (listed from the generated table).

use crate::harness::{Server, ServerOpts};
use std::path::PathBuf;

/// `$DOTLANTH_CHROMIUM` (set by `cargo xtask test`), else Debian's chromium.
fn chromium() -> PathBuf {
    let path = std::env::var_os("DOTLANTH_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "Chromium not found at {}: run `cargo xtask test` (it installs it when root) or set DOTLANTH_CHROMIUM",
        path.display()
    );
    path
}

/// The DOM of `url` after its scripts ran (offline: no background networking).
async fn rendered(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=15000",
        "--dump-dom",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(url)
    .kill_on_drop(true);
    let out = crate::harness::within(90, "chromium", cmd.output())
        .await
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn swagger_ui_and_docs_render_every_operation() {
    let server = Server::start(ServerOpts::default()).await;
    let swagger = rendered(&format!("{}/docs/api/", server.http_url())).await;
    let docs = rendered(&format!("{}/docs", server.http_url())).await;
    for method in dotlanth_api::methods::METHODS {
        for binding in method.http {
            // Swagger UI shows path parameters as `{name}` whatever the template's sub-pattern.
            let shown = binding.path.split('/').map(|s| match s.split_once('=') {
                Some((var, _)) => format!("{var}}}"),
                None => s.to_string(),
            });
            let shown = shown.collect::<Vec<_>>().join("/");
            assert!(
                swagger.contains(&format!("data-path=\"{shown}\"")),
                "Swagger UI does not show {} {shown}",
                binding.method
            );
        }
        assert!(
            docs.contains(method.grpc_path),
            "the docs do not show {}",
            method.grpc_path
        );
    }
}
