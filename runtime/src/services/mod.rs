//! The service implementations: small adapters from the generated tonic traits to
//! the VM core. Blocking VM calls run on the blocking pool.

pub mod monitoring;
pub mod runtime;
pub mod vm;

use dotlanth_api::wkt::Timestamp;
use dotlanth_vm::VmError;
use std::time::{Duration, UNIX_EPOCH};
use tonic::Status;

/// Longest status message sent back: messages can quote client input, and
/// clients cap metadata size (grpcio at 16 KiB).
const MAX_MESSAGE: usize = 1024;

/// The status code of each VM error, as documented in the protos.
pub fn vm_status(err: VmError) -> Status {
    let status = status_of(err);
    if status.message().len() <= MAX_MESSAGE {
        return status;
    }
    let mut end = MAX_MESSAGE;
    while !status.message().is_char_boundary(end) {
        end -= 1;
    }
    Status::new(status.code(), format!("{}...", &status.message()[..end]))
}

fn status_of(err: VmError) -> Status {
    match err {
        VmError::NotFound(m) => Status::not_found(m),
        VmError::InvalidModule(m) => Status::invalid_argument(format!("invalid module: {m}")),
        VmError::InvalidInput(m) => Status::invalid_argument(m),
        VmError::AlreadyExists(m) => Status::already_exists(m),
        e @ VmError::FuelExhausted { .. } => Status::resource_exhausted(e.to_string()),
        VmError::ResourceExhausted(m) => Status::resource_exhausted(m),
        VmError::Trap(m) => Status::failed_precondition(format!("dot trapped: {m}")),
        VmError::Storage(m) => {
            tracing::error!(error = %m, "storage failure");
            Status::internal("storage failure")
        }
    }
}

/// Runs a blocking VM operation off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, VmError> + Send + 'static,
) -> Result<T, Status> {
    // Inside the call's span, so the VM's own log lines carry the trace ids.
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(f)).await {
        Ok(result) => result.map_err(vm_status),
        Err(_) => Err(Status::internal("the operation was interrupted")),
    }
}

/// Unix milliseconds as a protobuf Timestamp.
pub fn millis(ms: u64) -> Timestamp {
    (UNIX_EPOCH + Duration::from_millis(ms)).into()
}

/// Rejects an empty required string field.
pub fn required(value: &str, field: &str) -> Result<(), Status> {
    if value.is_empty() {
        return Err(Status::invalid_argument(format!("`{field}` is required")));
    }
    Ok(())
}
