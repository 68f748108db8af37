//! The error type returned by every fallible [`Vm`](crate::Vm) operation.

use thiserror::Error;

/// Everything that can go wrong when deploying, executing or reading dots and blocks.
///
/// Failed executions ([`FuelExhausted`](VmError::FuelExhausted), [`Trap`](VmError::Trap),
/// [`ResourceExhausted`](VmError::ResourceExhausted)) never leave any effect behind: no state
/// change, no event, no execution record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VmError {
    /// A dot, function or block that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A module that cannot be parsed, validated or linked against the host ABI.
    #[error("invalid module: {0}")]
    InvalidModule(String),
    /// A bad request: malformed name, unknown or non-callable function, oversized input, ...
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A dot with that name is already deployed.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The execution used up its fuel (instruction budget).
    #[error("out of fuel: execution exceeded its limit of {limit} fuel units")]
    FuelExhausted {
        /// The fuel limit that applied to the execution.
        limit: u64,
    },
    /// The dot trapped (unreachable, out-of-bounds access, division by zero, bad host call, ...).
    #[error("execution trapped: {0}")]
    Trap(String),
    /// The dot exceeded a resource cap (memory, key/value/event sizes, event count, ...).
    #[error("resource exhausted: {0}")]
    ResourceExhausted(String),
    /// The underlying store failed (I/O error, corruption, lock held by another process, ...).
    #[error("storage error: {0}")]
    Storage(String),
}

macro_rules! storage_errors {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for VmError {
            fn from(err: $ty) -> Self {
                VmError::Storage(err.to_string())
            }
        }
    )*};
}

storage_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    std::io::Error,
);
