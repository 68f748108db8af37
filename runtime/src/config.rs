//! Configuration: embedded defaults (`config/default.toml`), an optional file,
//! `DOTLANTH__SECTION__KEY` environment overrides, then command-line flags.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The defaults shipped with the binary.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Prefix of environment overrides.
const ENV_PREFIX: &str = "DOTLANTH__";

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listeners and transport limits.
    pub server: ServerConfig,
    /// Persistence.
    pub storage: StorageConfig,
    /// VM limits and block interval.
    pub vm: VmSection,
    /// Tokens and scopes.
    pub auth: AuthConfig,
    /// The REST surface.
    pub rest: RestConfig,
    /// Logs, metrics, tracing.
    pub telemetry: TelemetryConfig,
}

/// `[server]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// gRPC (and gRPC-Web) listener.
    pub grpc_addr: SocketAddr,
    /// HTTP listener.
    pub http_addr: SocketAddr,
    /// Largest accepted request message.
    pub max_message_bytes: usize,
    /// In-flight calls per connection.
    pub max_concurrent_calls_per_connection: usize,
    /// Grace period for in-flight calls on shutdown.
    pub shutdown_grace_ms: u64,
    /// Browser origins allowed for gRPC-Web.
    pub cors_allowed_origins: Vec<String>,
}

/// `[storage]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Data directory.
    pub data_dir: PathBuf,
}

/// `[vm]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSection {
    /// Block interval.
    pub block_interval_ms: u64,
    /// Default and maximum fuel per execution.
    pub fuel_limit: u64,
    /// Memory cap per instance.
    pub max_memory_bytes: usize,
    /// Largest module.
    pub max_module_bytes: usize,
    /// Largest execution input.
    pub max_input_bytes: usize,
    /// Per-subscriber event buffer.
    pub event_buffer: usize,
}

/// `[rest]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    /// Reject unknown JSON fields and query parameters with 400.
    pub strict: bool,
    /// Read `+` in query strings as a space.
    pub query_plus_as_space: bool,
    /// Headers passed between HTTP and the call under their own names, both
    /// ways (besides the `Grpc-Metadata-*` form). Lowercase names.
    #[serde(default)]
    pub forward_headers: Vec<String>,
    /// Most WebSocket streams open at once (429 beyond).
    pub websocket_max_connections: usize,
    /// A WebSocket ping every this many milliseconds.
    pub websocket_ping_interval_ms: u64,
    /// A WebSocket whose client sent nothing (not even a pong) for this long, or
    /// that could not take a frame for this long, is closed.
    pub websocket_idle_timeout_ms: u64,
}

/// `[auth]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Enforce authentication and authorization.
    pub enabled: bool,
    /// Accept tokens marked `development`.
    #[serde(default = "yes")]
    pub dev_tokens_enabled: bool,
    /// Known bearer tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

fn yes() -> bool {
    true
}

/// One `[[auth.tokens]]` entry.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who the token belongs to (appears in logs; the token never does).
    pub name: String,
    /// The bearer token.
    pub token: String,
    /// Granted scopes; `*` grants every scope.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A publicly known development token: accepted with a warning.
    #[serde(default)]
    pub development: bool,
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("development", &self.development)
            .finish()
    }
}

/// `[telemetry]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Metrics and per-call tracing on.
    pub enabled: bool,
    /// One `handled` log line per call (an access log).
    pub access_log: bool,
    /// Log filter.
    pub log_filter: String,
    /// `json` or `text`.
    pub log_format: String,
}

/// Flags given on the command line; they win over everything else.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--grpc-addr`
    pub grpc_addr: Option<SocketAddr>,
    /// `--http-addr`
    pub http_addr: Option<SocketAddr>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads the configuration: the embedded defaults, overlaid by `file` (which
    /// therefore only needs the keys it changes), then the environment, then flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config> {
        let mut value: toml::Table =
            toml::from_str(DEFAULT_TOML).context("parsing the embedded defaults")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let layer: toml::Table = toml::from_str(&text)
                .with_context(|| format!("parsing config file {}", path.display()))?;
            merge(&mut value, layer);
        }
        apply_env(&mut value, env_vars()?)?;
        let mut config: Config = toml::Value::Table(value)
            .try_into()
            .context("invalid configuration")?;
        if let Some(a) = overrides.grpc_addr {
            config.server.grpc_addr = a;
        }
        if let Some(a) = overrides.http_addr {
            config.server.http_addr = a;
        }
        if let Some(d) = &overrides.data_dir {
            config.storage.data_dir = d.clone();
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        if self.vm.block_interval_ms == 0 {
            bail!("vm.block_interval_ms must be positive");
        }
        if self.server.max_concurrent_calls_per_connection == 0 {
            bail!("server.max_concurrent_calls_per_connection must be positive");
        }
        if self.server.max_message_bytes == 0 {
            bail!("server.max_message_bytes must be positive");
        }
        let mut secrets = std::collections::HashSet::new();
        for t in &self.auth.tokens {
            if t.token.trim().is_empty() || t.name.trim().is_empty() {
                bail!("every auth token needs a non-empty name and token");
            }
            if !secrets.insert(t.token.as_str()) {
                bail!("auth token `{}` reuses the secret of another token", t.name);
            }
        }
        let dev_token = self.auth.enabled
            && self.auth.dev_tokens_enabled
            && self.auth.tokens.iter().any(|t| t.development);
        let exposed =
            !self.server.grpc_addr.ip().is_loopback() || !self.server.http_addr.ip().is_loopback();
        if dev_token && exposed {
            bail!(
                "a development token is enabled while listening beyond loopback; remove it from \
                 [[auth.tokens]] or set auth.dev_tokens_enabled = false"
            );
        }
        for origin in &self.server.cors_allowed_origins {
            let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                && http::HeaderValue::from_str(origin).is_ok();
            if !ok {
                bail!(
                    "server.cors_allowed_origins: `{origin}` is not an origin like https://app.example"
                );
            }
        }
        if self.rest.websocket_ping_interval_ms == 0 || self.rest.websocket_idle_timeout_ms == 0 {
            bail!(
                "rest.websocket_ping_interval_ms and rest.websocket_idle_timeout_ms must be positive"
            );
        }
        if !matches!(self.telemetry.log_format.as_str(), "json" | "text") {
            bail!("telemetry.log_format must be \"json\" or \"text\"");
        }
        Ok(())
    }

    /// The VM core's configuration.
    pub fn vm_config(&self) -> dotlanth_vm::VmConfig {
        dotlanth_vm::VmConfig {
            data_dir: self.storage.data_dir.clone(),
            block_interval: Duration::from_millis(self.vm.block_interval_ms),
            fuel_limit: self.vm.fuel_limit,
            max_memory_bytes: self.vm.max_memory_bytes,
            max_module_bytes: self.vm.max_module_bytes,
            max_input_bytes: self.vm.max_input_bytes,
            event_buffer: self.vm.event_buffer,
        }
    }
}

/// Overlays `layer` on `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, layer: toml::Table) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(l)) => merge(b, l),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The process environment's `DOTLANTH__*` variables; a non-UTF-8 one is an error.
fn env_vars() -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().filter(|n| n.starts_with(ENV_PREFIX)) else {
            continue;
        };
        let value = value
            .into_string()
            .map_err(|_| anyhow::anyhow!("{name} is not valid UTF-8"))?;
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// Applies `DOTLANTH__SECTION__KEY=value` variables to the parsed table.
fn apply_env(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<()> {
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        if keys.iter().any(String::is_empty) {
            bail!("malformed configuration variable {name}");
        }
        let value = parse_env_value(&raw);
        let (last, parents) = keys.split_last().expect("split yields at least one key");
        let mut node = &mut *table;
        for key in parents {
            node = node
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .with_context(|| format!("{name}: `{key}` is not a section"))?;
        }
        node.insert(last.clone(), value);
    }
    Ok(())
}

/// A TOML scalar or array when the text parses as one, else a string.
fn parse_env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_validate() {
        let c = Config::load(None, &Overrides::default()).unwrap();
        assert_eq!(c.server.grpc_addr.port(), 50051);
        assert_eq!(c.server.http_addr.port(), 8080);
        assert!(c.auth.tokens.iter().any(|t| t.development));
        assert!(!format!("{:?}", c.auth.tokens).contains("dev-insecure-token"));
    }

    #[test]
    fn env_overrides_typed_values() {
        let mut t: toml::Table = toml::from_str(DEFAULT_TOML).unwrap();
        let vars = [
            ("DOTLANTH__VM__BLOCK_INTERVAL_MS", "100"),
            ("DOTLANTH__AUTH__ENABLED", "false"),
            ("DOTLANTH__SERVER__GRPC_ADDR", "127.0.0.1:1"),
            ("OTHER", "x"),
        ];
        apply_env(
            &mut t,
            vars.iter().map(|(a, b)| (a.to_string(), b.to_string())),
        )
        .unwrap();
        let c: Config = toml::Value::Table(t).try_into().unwrap();
        assert_eq!(c.vm.block_interval_ms, 100);
        assert!(!c.auth.enabled);
        assert_eq!(c.server.grpc_addr.port(), 1);
    }

    #[test]
    fn a_file_overlays_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[vm]\nblock_interval_ms = 250\n").unwrap();
        let c = Config::load(Some(&path), &Overrides::default()).unwrap();
        assert_eq!(c.vm.block_interval_ms, 250);
        assert_eq!(
            c.vm.fuel_limit, 10_000_000,
            "untouched keys keep their defaults"
        );
        assert_eq!(c.server.grpc_addr.port(), 50051);
    }

    #[test]
    fn unsafe_settings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let refuse = |body: &str| {
            let path = dir.path().join("c.toml");
            std::fs::write(&path, body).unwrap();
            Config::load(Some(&path), &Overrides::default())
                .unwrap_err()
                .to_string()
        };
        let exposed = refuse("[server]\ngrpc_addr = \"0.0.0.0:50051\"\n");
        assert!(exposed.contains("development token"), "{exposed}");
        assert!(refuse("[server]\ncors_allowed_origins = [\"*\"]\n").contains("not an origin"));
        assert!(refuse("[telemetry]\nlog_format = \"xml\"\n").contains("log_format"));
        let dup = "[[auth.tokens]]\nname = \"a\"\ntoken = \"same\"\n[[auth.tokens]]\nname = \"b\"\ntoken = \"same\"\n";
        assert!(refuse(dup).contains("reuses the secret"));
        // Without the development token, listening beyond loopback is fine.
        let path = dir.path().join("ok.toml");
        std::fs::write(
            &path,
            "[server]\ngrpc_addr = \"0.0.0.0:50051\"\n[auth]\ndev_tokens_enabled = false\n",
        )
        .unwrap();
        assert!(Config::load(Some(&path), &Overrides::default()).is_ok());
    }

    #[test]
    fn bad_env_is_an_error() {
        let mut t: toml::Table = toml::from_str(DEFAULT_TOML).unwrap();
        let vars = [("DOTLANTH__VM__FUEL_LIMIT__X".to_string(), "1".to_string())];
        assert!(apply_env(&mut t, vars.into_iter()).is_err());
    }
}
