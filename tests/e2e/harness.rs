//! Starts the real `dotlanth` binary as a child process, one per test: its own
//! loopback ports, data directory, config file and log file.

use std::fs::File;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the runtime crate lives inside the workspace")
        .to_path_buf()
}

/// The development token of config/default.toml.
pub const DEV_TOKEN: &str = "dev-insecure-token";
/// A token with scopes `dots.read` and `chain.read`, added by the test config.
pub const READER_TOKEN: &str = "reader-token";

/// How to start a server.
#[derive(Default, Clone)]
pub struct ServerOpts {
    /// Extra environment variables, e.g. `DOTLANTH__VM__BLOCK_INTERVAL_MS=200`.
    pub env: Vec<(String, String)>,
    /// Use this data directory (to restart on the same data) instead of a fresh one.
    pub data_dir: Option<PathBuf>,
}

impl ServerOpts {
    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Uses an existing data directory.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    /// Blocks every `ms` milliseconds.
    pub fn block_interval_ms(self, ms: u64) -> Self {
        self.env("DOTLANTH__VM__BLOCK_INTERVAL_MS", &ms.to_string())
    }
}

/// A running `dotlanth serve`. Killed with SIGKILL when dropped.
pub struct Server {
    child: Option<Child>,
    grpc_port: u16,
    http_port: u16,
    log_path: PathBuf,
    data_dir: PathBuf,
    // Last: removed after the child is gone.
    _dir: tempfile::TempDir,
}

const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl Server {
    /// Starts a server and waits until `/readyz` answers 200.
    pub async fn start(opts: ServerOpts) -> Server {
        // Picked ports can be taken by a parallel test between the probe and the
        // bind: retry with new ones when the server fails to bind.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start(&opts).await {
                Ok(server) => return server,
                Err(log) if attempt < 4 && log.contains("binding") => continue,
                Err(log) => {
                    panic!("the server did not become ready (attempt {attempt}); its log:\n{log}")
                }
            }
        }
    }

    async fn try_start(opts: &ServerOpts) -> Result<Server, String> {
        let dir = tempfile::Builder::new()
            .prefix("dotlanth-e2e-")
            .tempdir()
            .expect("tempdir");
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, test_config()).expect("write config");
        let log_path = dir.path().join("server.log");
        let log = File::create(&log_path).expect("create log");
        let log_err = log.try_clone().expect("clone log handle");
        let (grpc_port, http_port) = free_ports();

        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dotlanth"));
        cmd.arg("serve")
            .arg("--grpc-addr")
            .arg(format!("127.0.0.1:{grpc_port}"))
            .arg("--http-addr")
            .arg(format!("127.0.0.1:{http_port}"))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .env_remove("RUST_LOG");
        // Hermetic: no configuration leaking in from the developer's shell or CI.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("DOTLANTH__") {
                cmd.env_remove(key);
            }
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn the dotlanth binary");
        let mut server = Server {
            child: Some(child),
            grpc_port,
            http_port,
            log_path,
            data_dir,
            _dir: dir,
        };

        let http = reqwest::Client::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = server.child_mut().try_wait().expect("try_wait") {
                return Err(format!("[server exited with {status}]\n{}", server.logs()));
            }
            let ready = http
                .get(format!("{}/readyz", server.http_url()))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if matches!(&ready, Ok(r) if r.status() == 200) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "[not ready after {READY_TIMEOUT:?}]\n{}",
                    server.logs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("the server process was already reaped")
    }

    /// `http://127.0.0.1:<grpc port>`
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// `http://127.0.0.1:<http port>`
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The data directory in use.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits (up to `timeout`) until the log contains a line satisfying `pred`.
    pub async fn wait_for_log(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let logs = self.logs();
            if let Some(line) = logs.lines().find(|l| pred(l)) {
                return line.to_string();
            }
            if Instant::now() > deadline {
                panic!("no log line {what} within {timeout:?}; the log:\n{logs}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and reap the process.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to `timeout` for the exit. Returns the exit status
    /// and how long the exit took, or `None` (after killing it) on timeout.
    pub async fn stop_graceful(&mut self, timeout: Duration) -> Option<(ExitStatus, Duration)> {
        let pid = self.child_mut().id();
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                self.child = None;
                return Some((status, start.elapsed()));
            }
            if start.elapsed() > timeout {
                self.kill9();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// config/default.toml plus a read-only token.
fn test_config() -> String {
    let default = std::fs::read_to_string(workspace().join("config/default.toml"))
        .expect("read config/default.toml");
    format!(
        "{default}\n\n[[auth.tokens]]\nname = \"reader\"\ntoken = \"{READER_TOKEN}\"\nscopes = [\"dots.read\", \"chain.read\"]\n"
    )
}

/// Two distinct free ports (both held while choosing, so they differ).
pub fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let port = |l: &TcpListener| l.local_addr().expect("local_addr").port();
    (port(&a), port(&b))
}

/// Awaits `fut`, failing the test if it takes longer than `secs` seconds.
pub async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs}s: {what}"),
    }
}

/// A `dotlanth gateway` process (remote mode): REST on its own port, forwarding
/// every call over gRPC to a [`Server`].
pub struct Gateway {
    child: Child,
    http_port: u16,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts a gateway in front of `server`, with the same extra environment.
    pub async fn start(server: &Server, opts: &ServerOpts) -> Gateway {
        let mut last = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let log_path = dir.path().join("gateway.log");
            let log = File::create(&log_path).expect("create log");
            let (http_port, _) = free_ports();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_dotlanth"));
            cmd.arg("gateway")
                .arg("--backend")
                .arg(server.grpc_url())
                .arg("--http-addr")
                .arg(format!("127.0.0.1:{http_port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().expect("clone log")))
                .stderr(Stdio::from(log))
                .env_remove("RUST_LOG");
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("DOTLANTH__") {
                    cmd.env_remove(key);
                }
            }
            for (k, v) in &opts.env {
                cmd.env(k, v);
            }
            let mut gateway = Gateway {
                child: cmd.spawn().expect("spawn the gateway"),
                http_port,
                _dir: dir,
            };
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                if let Some(status) = gateway.child.try_wait().expect("try_wait") {
                    last = format!(
                        "[gateway exited with {status}]\n{}",
                        std::fs::read_to_string(&log_path).unwrap_or_default()
                    );
                    break;
                }
                let ready = reqwest::Client::new()
                    .get(format!("{}/readyz", gateway.http_url()))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                if matches!(&ready, Ok(r) if r.status() == 200) {
                    return gateway;
                }
                if Instant::now() > deadline {
                    panic!(
                        "gateway not ready:\n{}",
                        std::fs::read_to_string(&log_path).unwrap_or_default()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("the gateway did not start: {last}");
    }

    /// `http://127.0.0.1:<http port>`
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a REST test's calls go: transcoded in the server's own process, or
/// through a separate gateway process forwarding over gRPC (remote mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    InProcess,
    Remote,
}

/// `both_modes!(case)`: one `#[tokio::test]` per [`Mode`] for `async fn case(Mode)`
/// of the calling module.
macro_rules! both_modes {
    ($case:ident) => {
        mod $case {
            #[tokio::test]
            async fn in_process() {
                super::$case($crate::harness::Mode::InProcess).await;
            }
            #[tokio::test]
            async fn remote() {
                super::$case($crate::harness::Mode::Remote).await;
            }
        }
    };
}
pub(crate) use both_modes;
