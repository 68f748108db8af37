//! Dotlanth VM core.
//!
//! A *dot* is a WebAssembly module (binary or WAT text) deployed under a unique name. Executing
//! a dot runs one of its exported, parameterless functions in [wasmi] with an input byte string,
//! under a fuel (instruction) budget and a memory cap. Host functions (see [`host`]) give the
//! dot its input, let it set an output, read and write its own key/value state and emit events.
//! Executions are atomic: they either commit all their effects or none.
//!
//! Dots, state and blocks persist in redb under the data directory. A block producer seals the
//! committed executions into a hash-linked block every interval. Block commits and dot events
//! reach subscribers through a bounded broadcast; a subscriber may start from a past height and
//! continue live without gap or duplicate.
//!
//! The crate knows nothing about network protocols; a runtime wraps [`Vm`].

mod blocks;
mod codec;
mod config;
mod dot;
mod error;
mod events;
mod exec;
pub mod host;
mod store;
mod vm;

pub use blocks::{Block, ExecutionRecord, GENESIS_PARENT_HASH, Hash};
pub use config::VmConfig;
pub use dot::{DotDetails, DotInfo, ExportedFunction, MAX_NAME_LEN, StateEntry, validate_name};
pub use error::VmError;
pub use events::{DotEvent, Lagged, Subscription, VmEvent};
pub use exec::Execution;
pub use store::DB_FILE;
pub use vm::{MAX_DESCRIPTION_BYTES, Vm, VmStatus};
