//! The wasm host: engine configuration and running one function of a dot under fuel and memory
//! limits.

use serde::{Deserialize, Serialize};
use wasmi::errors::{ErrorKind, InstantiationError, MemoryError, TableError};
use wasmi::{Engine, Linker, Module, Store, StoreLimitsBuilder, TrapCode, Val};

use crate::error::VmError;
use crate::events::DotEvent;
use crate::host::{HostFault, HostState};

/// The result of a successful execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// Global execution sequence number (starts at 1).
    pub id: u64,
    /// Executed dot.
    pub dot: String,
    /// Executed function.
    pub function: String,
    /// Output set by the last `output_write` call (empty if none).
    pub output: Vec<u8>,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Events emitted, in order.
    pub events: Vec<DotEvent>,
    /// Height of the block that will contain this execution.
    pub block_height: u64,
}

/// The engine shared by all dots: fuel metering on, one linear memory per module.
pub(crate) fn engine() -> Engine {
    let mut config = wasmi::Config::default();
    // Eager: every function is translated at deploy, so a module that can never
    // run (too many locals, ...) is refused then, not at its first execution.
    config
        .consume_fuel(true)
        .wasm_multi_memory(false)
        .compilation_mode(wasmi::CompilationMode::Eager);
    Engine::new(&config)
}

/// Runs `function` (already checked to exist and take no parameters) in a fresh instance.
///
/// On success returns the host state (holding the uncommitted transaction, output and events)
/// and the fuel used. On failure the host state, and with it the transaction, is dropped, so
/// nothing the dot did survives.
pub(crate) fn run(
    engine: &Engine,
    linker: &Linker<HostState>,
    module: &Module,
    function: &str,
    mut state: HostState,
    fuel: u64,
    max_memory_bytes: usize,
) -> Result<(HostState, u64), VmError> {
    state.limits = StoreLimitsBuilder::new()
        .memory_size(max_memory_bytes)
        .table_elements(100_000)
        .instances(1)
        .memories(1)
        .tables(16)
        .trap_on_grow_failure(true)
        .build();
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limits);
    store
        .set_fuel(fuel)
        .map_err(|e| VmError::Trap(format!("cannot set fuel: {e}")))?;

    let result = linker
        .instantiate_and_start(&mut store, module)
        .and_then(|instance| {
            let func = instance
                .get_func(&store, function)
                .ok_or_else(|| wasmi::Error::new(format!("function '{function}' not found")))?;
            let mut results: Vec<Val> = func
                .ty(&store)
                .results()
                .iter()
                .map(|ty| Val::default_for_ty(*ty))
                .collect();
            func.call(&mut store, &[], &mut results)
        });
    match result {
        Ok(()) => {
            let remaining = store.get_fuel().unwrap_or(0);
            Ok((store.into_data(), fuel.saturating_sub(remaining)))
        }
        Err(err) => Err(map_error(&err, fuel, max_memory_bytes)),
    }
}

fn map_error(err: &wasmi::Error, fuel: u64, max_memory_bytes: usize) -> VmError {
    if let Some(fault) = err.downcast_ref::<HostFault>() {
        return fault.to_vm_error(fuel);
    }
    let memory_cap = || {
        VmError::ResourceExhausted(format!(
            "memory growth denied: linear memory is capped at {max_memory_bytes} bytes"
        ))
    };
    match err.as_trap_code() {
        Some(TrapCode::OutOfFuel) => VmError::FuelExhausted { limit: fuel },
        Some(TrapCode::GrowthOperationLimited) => memory_cap(),
        _ => match err.kind() {
            ErrorKind::Memory(MemoryError::ResourceLimiterDeniedAllocation)
            | ErrorKind::Table(TableError::ResourceLimiterDeniedAllocation)
            | ErrorKind::Instantiation(
                InstantiationError::FailedToInstantiateMemory(_)
                | InstantiationError::FailedToInstantiateTable(_)
                | InstantiationError::TooManyMemories
                | InstantiationError::TooManyTables,
            ) => VmError::ResourceExhausted(format!(
                "instantiation exceeds the VM limits (memory cap {max_memory_bytes} bytes): {err}"
            )),
            _ => VmError::Trap(err.to_string()),
        },
    }
}
