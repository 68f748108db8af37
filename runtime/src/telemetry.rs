//! Logs and trace context.
//!
//! Logs are JSON lines (or text) through `tracing-subscriber`. Every call runs in a
//! span carrying `trace_id` and `span_id` in W3C Trace Context form: an incoming
//! `traceparent` header continues its trace (its span becomes `parent_span_id`),
//! otherwise a new trace starts.

use crate::config::TelemetryConfig;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Installs the global log subscriber. Lines go to stdout from a background
/// writer thread, so calls never wait on the terminal or pipe; keep the returned
/// guard alive until exit (dropping it flushes what is buffered).
pub fn init_logging(config: &TelemetryConfig) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Lossy: if stdout cannot keep up with the buffer, lines are dropped rather
    // than making calls wait on the log (an overloaded log must not stall the API).
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .finish(std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let result = if config.log_format == "text" {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
    // A second initialisation (tests) keeps the first subscriber.
    let _ = result;
    guard
}

/// W3C trace context of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// This call's span: 16 lowercase hex digits.
    pub span_id: String,
    /// The caller's span, when a `traceparent` was received.
    pub parent_span_id: Option<String>,
}

impl TraceContext {
    /// Continues the trace of a valid `traceparent` header, or starts a new one.
    pub fn from_traceparent(header: Option<&str>) -> Self {
        let span_id = random_hex(8);
        match header.and_then(parse_traceparent) {
            Some((trace_id, parent)) => TraceContext {
                trace_id,
                span_id,
                parent_span_id: Some(parent),
            },
            None => TraceContext {
                trace_id: random_hex(16),
                span_id,
                parent_span_id: None,
            },
        }
    }
}

/// `version-traceid-parentid-flags`; version `ff` and all-zero ids are invalid.
fn parse_traceparent(value: &str) -> Option<(String, String)> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent_id = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !hex(version, 2)
        || version == "ff"
        || !hex(flags, 2)
        || !hex(trace_id, 32)
        || !hex(parent_id, 16)
    {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if trace_id.bytes().all(|b| b == b'0') || parent_id.bytes().all(|b| b == b'0') {
        return None;
    }
    Some((trace_id.to_string(), parent_id.to_string()))
}

fn random_hex(bytes: usize) -> String {
    loop {
        let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
        if raw.iter().any(|b| *b != 0) {
            return hex::encode(raw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_a_valid_traceparent() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let c = TraceContext::from_traceparent(Some(tp));
        assert_eq!(c.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(c.span_id.len(), 16);
        assert_ne!(c.span_id, "00f067aa0ba902b7");
    }

    #[test]
    fn starts_a_new_trace_on_garbage() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            let c = TraceContext::from_traceparent(Some(bad));
            assert_eq!(c.parent_span_id, None, "{bad}");
            assert_eq!(c.trace_id.len(), 32);
        }
    }
}
