//! The host ABI: the functions a dot may import from module `"env"`.
//!
//! All pointers are `i32` offsets into the dot's exported memory `"memory"` (interpreted as
//! unsigned); lengths must be non-negative. A pointer range outside the memory, a negative
//! length, a missing `"memory"` export or a non-UTF-8 topic traps the execution
//! ([`VmError::Trap`](crate::VmError::Trap)). Exceeding one of the size/count limits below aborts
//! it with [`VmError::ResourceExhausted`](crate::VmError::ResourceExhausted). Either way the
//! execution has no effect.
//!
//! | import | signature | meaning |
//! |---|---|---|
//! | `input_len` | `() -> i32` | length of the execution input |
//! | `input_read` | `(ptr)` | copies the whole input to `ptr` |
//! | `output_write` | `(ptr, len)` | sets (replaces) the execution output |
//! | `state_get` | `(key_ptr, key_len, val_ptr, val_cap) -> i32` | value length, or -1 if absent; copies `min(len, cap)` bytes to `val_ptr` |
//! | `state_set` | `(key_ptr, key_len, val_ptr, val_len)` | writes a key of the dot's own state |
//! | `state_delete` | `(key_ptr, key_len)` | deletes a key (no-op if absent) |
//! | `emit_event` | `(topic_ptr, topic_len, data_ptr, data_len)` | emits an event (topic: UTF-8, non-empty) |
//!
//! Every host call costs [`HOST_CALL_FUEL`] plus one fuel unit per byte it moves.

use std::fmt;

use redb::{ReadableTable, WriteTransaction};
use wasmi::errors::HostError;
use wasmi::{Caller, Engine, Error, Extern, Linker, Memory, StoreLimits, ValType};

use crate::error::VmError;
use crate::store::{self, STATE};

/// Import module name of the host functions.
pub const HOST_MODULE: &str = "env";
/// Maximum state key size.
pub const MAX_KEY_BYTES: usize = 1024;
/// Maximum state value size.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// Maximum execution output size.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// Maximum event topic size.
pub const MAX_TOPIC_BYTES: usize = 128;
/// Maximum event payload size.
pub const MAX_EVENT_DATA_BYTES: usize = 64 * 1024;
/// Maximum number of events one execution may emit.
pub const MAX_EVENTS_PER_EXECUTION: usize = 256;
/// Base fuel cost of a host call (plus one unit per byte moved).
pub const HOST_CALL_FUEL: u64 = 100;

use ValType::I32;

/// Name, parameters and results of every host function.
pub(crate) const HOST_FUNCTIONS: &[(&str, &[ValType], &[ValType])] = &[
    ("input_len", &[], &[I32]),
    ("input_read", &[I32], &[]),
    ("output_write", &[I32, I32], &[]),
    ("state_get", &[I32, I32, I32, I32], &[I32]),
    ("state_set", &[I32, I32, I32, I32], &[]),
    ("state_delete", &[I32, I32], &[]),
    ("emit_event", &[I32, I32, I32, I32], &[]),
];

/// Per-execution data of the wasm store. State reads and writes go straight to the execution's
/// redb write transaction, which is committed only if the execution succeeds.
pub(crate) struct HostState {
    pub(crate) txn: WriteTransaction,
    pub(crate) dot: String,
    pub(crate) input: Vec<u8>,
    pub(crate) output: Vec<u8>,
    /// `(topic, data)` in emission order.
    pub(crate) events: Vec<(String, Vec<u8>)>,
    pub(crate) limits: StoreLimits,
}

/// Why a host function aborted the execution.
#[derive(Debug)]
pub(crate) enum HostFault {
    Trap(String),
    Exhausted(String),
    OutOfFuel,
    Storage(String),
}

impl fmt::Display for HostFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Trap(msg) | Self::Exhausted(msg) | Self::Storage(msg) => f.write_str(msg),
            Self::OutOfFuel => f.write_str("out of fuel in host call"),
        }
    }
}

impl HostError for HostFault {}

impl HostFault {
    /// The [`VmError`] this fault turns into.
    pub(crate) fn to_vm_error(&self, fuel_limit: u64) -> VmError {
        match self {
            Self::Trap(msg) => VmError::Trap(msg.clone()),
            Self::Exhausted(msg) => VmError::ResourceExhausted(msg.clone()),
            Self::OutOfFuel => VmError::FuelExhausted { limit: fuel_limit },
            Self::Storage(msg) => VmError::Storage(msg.clone()),
        }
    }
}

fn trap(msg: String) -> Error {
    Error::host(HostFault::Trap(msg))
}

fn exhausted(msg: String) -> Error {
    Error::host(HostFault::Exhausted(msg))
}

fn storage(err: impl fmt::Display) -> Error {
    Error::host(HostFault::Storage(err.to_string()))
}

type Ctx<'a> = Caller<'a, HostState>;

/// The dot's exported memory.
fn memory(caller: &Ctx<'_>, func: &str) -> Result<Memory, Error> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(trap(format!(
            "{func}: the dot does not export a linear memory named \"memory\""
        ))),
    }
}

/// Checks a length argument against a limit.
fn length(func: &str, what: &str, len: i32, max: usize) -> Result<usize, Error> {
    let len =
        usize::try_from(len).map_err(|_| trap(format!("{func}: negative {what} length {len}")))?;
    if len > max {
        return Err(exhausted(format!(
            "{func}: {what} of {len} bytes exceeds the limit of {max} bytes"
        )));
    }
    Ok(len)
}

/// The memory range `ptr..ptr+len`, or a trap naming the call if it is out of bounds.
fn range(
    caller: &Ctx<'_>,
    memory: Memory,
    func: &str,
    what: &str,
    ptr: i32,
    len: usize,
) -> Result<std::ops::Range<usize>, Error> {
    // Wasm addresses are unsigned 32-bit integers.
    let start = ptr as u32 as usize;
    let size = memory.data_size(caller);
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(trap(format!(
            "{func}: {what} range [{start}, {start}+{len}) is outside the {size}-byte memory"
        ))),
    }
}

fn read(
    caller: &Ctx<'_>,
    memory: Memory,
    func: &str,
    what: &str,
    ptr: i32,
    len: usize,
) -> Result<Vec<u8>, Error> {
    let range = range(caller, memory, func, what, ptr, len)?;
    memory
        .data(caller)
        .get(range)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| trap(format!("{func}: {what} is out of bounds")))
}

fn write(
    caller: &mut Ctx<'_>,
    memory: Memory,
    func: &str,
    what: &str,
    ptr: i32,
    bytes: &[u8],
) -> Result<(), Error> {
    let range = range(caller, memory, func, what, ptr, bytes.len())?;
    let target = memory
        .data_mut(caller)
        .get_mut(range)
        .ok_or_else(|| trap(format!("{func}: {what} is out of bounds")))?;
    target.copy_from_slice(bytes);
    Ok(())
}

/// Charges the fuel of a host call moving `bytes` bytes.
fn charge(caller: &mut Ctx<'_>, bytes: usize) -> Result<(), Error> {
    let cost = HOST_CALL_FUEL.saturating_add(bytes as u64);
    let fuel = caller.get_fuel()?;
    if fuel < cost {
        caller.set_fuel(0)?;
        return Err(Error::host(HostFault::OutOfFuel));
    }
    caller.set_fuel(fuel - cost)
}

fn read_key(
    caller: &Ctx<'_>,
    memory: Memory,
    func: &str,
    ptr: i32,
    len: i32,
) -> Result<Vec<u8>, Error> {
    let len = length(func, "key", len, MAX_KEY_BYTES)?;
    read(caller, memory, func, "key", ptr, len)
}

fn input_len(mut caller: Ctx<'_>) -> Result<i32, Error> {
    charge(&mut caller, 0)?;
    i32::try_from(caller.data().input.len()).map_err(|_| trap("input_len: input too large".into()))
}

fn input_read(mut caller: Ctx<'_>, ptr: i32) -> Result<(), Error> {
    let input = std::mem::take(&mut caller.data_mut().input);
    let result = charge(&mut caller, input.len()).and_then(|()| {
        let memory = memory(&caller, "input_read")?;
        write(&mut caller, memory, "input_read", "input", ptr, &input)
    });
    caller.data_mut().input = input;
    result
}

fn output_write(mut caller: Ctx<'_>, ptr: i32, len: i32) -> Result<(), Error> {
    let len = length("output_write", "output", len, MAX_OUTPUT_BYTES)?;
    charge(&mut caller, len)?;
    let memory = memory(&caller, "output_write")?;
    let output = read(&caller, memory, "output_write", "output", ptr, len)?;
    caller.data_mut().output = output;
    Ok(())
}

fn state_get(
    mut caller: Ctx<'_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_cap: i32,
) -> Result<i32, Error> {
    const F: &str = "state_get";
    let cap = usize::try_from(val_cap)
        .map_err(|_| trap(format!("{F}: negative value capacity {val_cap}")))?;
    let memory = memory(&caller, F)?;
    let key = read_key(&caller, memory, F, key_ptr, key_len)?;
    let value = {
        let state = caller.data();
        let table = state.txn.open_table(STATE).map_err(storage)?;
        table
            .get(store::state_key(&state.dot, &key).as_slice())
            .map_err(storage)?
            .map(|guard| guard.value().to_vec())
    };
    charge(
        &mut caller,
        key.len() + value.as_ref().map_or(0, |v| v.len().min(cap)),
    )?;
    let Some(value) = value else {
        return Ok(-1);
    };
    let copied = &value[..value.len().min(cap)];
    write(&mut caller, memory, F, "value buffer", val_ptr, copied)?;
    i32::try_from(value.len()).map_err(|_| trap(format!("{F}: stored value too large")))
}

fn state_set(
    mut caller: Ctx<'_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_len: i32,
) -> Result<(), Error> {
    const F: &str = "state_set";
    let val_len = length(F, "value", val_len, MAX_VALUE_BYTES)?;
    let memory = memory(&caller, F)?;
    let key = read_key(&caller, memory, F, key_ptr, key_len)?;
    charge(&mut caller, key.len() + val_len)?;
    let value = read(&caller, memory, F, "value", val_ptr, val_len)?;
    let state = caller.data();
    let mut table = state.txn.open_table(STATE).map_err(storage)?;
    table
        .insert(
            store::state_key(&state.dot, &key).as_slice(),
            value.as_slice(),
        )
        .map_err(storage)?;
    Ok(())
}

fn state_delete(mut caller: Ctx<'_>, key_ptr: i32, key_len: i32) -> Result<(), Error> {
    const F: &str = "state_delete";
    let memory = memory(&caller, F)?;
    let key = read_key(&caller, memory, F, key_ptr, key_len)?;
    charge(&mut caller, key.len())?;
    let state = caller.data();
    let mut table = state.txn.open_table(STATE).map_err(storage)?;
    table
        .remove(store::state_key(&state.dot, &key).as_slice())
        .map_err(storage)?;
    Ok(())
}

fn emit_event(
    mut caller: Ctx<'_>,
    topic_ptr: i32,
    topic_len: i32,
    data_ptr: i32,
    data_len: i32,
) -> Result<(), Error> {
    const F: &str = "emit_event";
    if caller.data().events.len() >= MAX_EVENTS_PER_EXECUTION {
        return Err(exhausted(format!(
            "{F}: more than {MAX_EVENTS_PER_EXECUTION} events in one execution"
        )));
    }
    let topic_len = length(F, "topic", topic_len, MAX_TOPIC_BYTES)?;
    let data_len = length(F, "event data", data_len, MAX_EVENT_DATA_BYTES)?;
    charge(&mut caller, topic_len + data_len)?;
    let memory = memory(&caller, F)?;
    let topic = read(&caller, memory, F, "topic", topic_ptr, topic_len)?;
    let topic =
        String::from_utf8(topic).map_err(|_| trap(format!("{F}: topic is not valid UTF-8")))?;
    if topic.is_empty() {
        return Err(trap(format!("{F}: topic is empty")));
    }
    let data = read(&caller, memory, F, "event data", data_ptr, data_len)?;
    caller.data_mut().events.push((topic, data));
    Ok(())
}

/// A linker defining every host function.
pub(crate) fn linker(engine: &Engine) -> Result<Linker<HostState>, VmError> {
    let mut linker = Linker::new(engine);
    let internal = |e: wasmi::errors::LinkerError| VmError::Storage(format!("linker setup: {e}"));
    linker
        .func_wrap(HOST_MODULE, "input_len", input_len)
        .map_err(internal)?;
    linker
        .func_wrap(HOST_MODULE, "input_read", input_read)
        .map_err(internal)?;
    linker
        .func_wrap(HOST_MODULE, "output_write", output_write)
        .map_err(internal)?;
    linker
        .func_wrap(HOST_MODULE, "state_get", state_get)
        .map_err(internal)?;
    linker
        .func_wrap(HOST_MODULE, "state_set", state_set)
        .map_err(internal)?;
    linker
        .func_wrap(HOST_MODULE, "state_delete", state_delete)
        .map_err(internal)?;
    linker
        .func_wrap(HOST_MODULE, "emit_event", emit_event)
        .map_err(internal)?;
    Ok(linker)
}
