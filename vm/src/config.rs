//! VM configuration.

use std::path::PathBuf;
use std::time::Duration;

/// Configuration of a [`Vm`](crate::Vm). Start from [`VmConfig::default`] and override fields.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Directory holding the database file (`dotlanth.redb`); created if missing.
    pub data_dir: PathBuf,
    /// Interval between two blocks of the block producer. Default: 1 s.
    pub block_interval: Duration,
    /// Fuel per execution when the caller gives none, and the cap on what a caller may ask for.
    /// Roughly one unit per executed wasm instruction. Default: 10 000 000.
    pub fuel_limit: u64,
    /// Maximum size of a dot's linear memory. Default: 16 MiB.
    pub max_memory_bytes: usize,
    /// Maximum size of a deployed module (wasm binary or WAT text). Default: 4 MiB.
    pub max_module_bytes: usize,
    /// Maximum size of an execution's input. Default: 1 MiB.
    pub max_input_bytes: usize,
    /// Capacity of the broadcast buffer feeding subscribers; a subscriber that falls further
    /// behind gets [`Lagged`](crate::Lagged). Default: 1024.
    pub event_buffer: usize,
}

impl Default for VmConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            block_interval: Duration::from_secs(1),
            fuel_limit: 10_000_000,
            max_memory_bytes: 16 * 1024 * 1024,
            max_module_bytes: 4 * 1024 * 1024,
            max_input_bytes: 1024 * 1024,
            event_buffer: 1024,
        }
    }
}

impl VmConfig {
    /// The default configuration with the given data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            ..Self::default()
        }
    }
}
