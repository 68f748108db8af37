//! `cargo xtask docs` serves the generated reference, Swagger UI and the OpenAPI
//! document of our API.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A plain HTTP/1.0 GET: (status line, body).
fn get(port: u16, path: &str) -> Option<(String, String)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    conn.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the process group (xtask and the server it started) on drop.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn docs_serves_the_reference_swagger_ui_and_openapi() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["docs", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("run xtask docs");
    let _group = Group(child);
    let start = Instant::now();
    let docs = loop {
        if let Some(r) = get(port, "/docs") {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "xtask docs never served /docs"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(docs.0.ends_with("200 OK"), "{}", docs.0);
    assert!(
        docs.1.contains("dotlanth.vm.v1.VmService"),
        "the reference names our services"
    );
    let (status, swagger) = get(port, "/docs/api/").unwrap();
    assert!(status.ends_with("200 OK"), "{status}");
    assert!(swagger.contains("swagger-ui"), "{swagger}");
    let (status, openapi) = get(port, "/openapi.yaml").unwrap();
    assert!(status.ends_with("200 OK"), "{status}");
    assert!(openapi.contains("VmService_DeployDot"));
}
