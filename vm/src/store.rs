//! Persistence in redb: table layout and the read/write helpers the VM uses.
//!
//! Tables (all in `<data_dir>/dotlanth.redb`):
//! - `meta`: `&str -> u64` counters (`last_execution_id`).
//! - `dots`: dot name -> JSON [`DotInfo`]; `modules`: dot name -> module bytes.
//! - `dot_executions`: dot name -> number of successful executions.
//! - `state`: `name 0x00 key` -> value (names never contain 0x00, so a dot's keys form one
//!   contiguous, key-sorted range).
//! - `blocks`: height -> encoded [`Block`].
//! - `pending`: execution id -> encoded [`ExecutionRecord`] committed but not yet sealed into a
//!   block; they all belong to the block after the last one.

use std::path::Path;

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};

use crate::blocks::{Block, ExecutionRecord, GENESIS_PARENT_HASH, Hash};
use crate::dot::{DotInfo, StateEntry};
use crate::error::VmError;

pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const DOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("dots");
pub(crate) const MODULES: TableDefinition<&str, &[u8]> = TableDefinition::new("modules");
pub(crate) const DOT_EXECUTIONS: TableDefinition<&str, u64> =
    TableDefinition::new("dot_executions");
pub(crate) const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
pub(crate) const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
pub(crate) const PENDING: TableDefinition<u64, &[u8]> = TableDefinition::new("pending");

const LAST_EXECUTION_ID: &str = "last_execution_id";

/// Database file name inside the data directory.
pub const DB_FILE: &str = "dotlanth.redb";

/// Key of `key` in the state table for dot `dot`.
pub(crate) fn state_key(dot: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(dot.len() + 1 + key.len());
    out.extend_from_slice(dot.as_bytes());
    out.push(0);
    out.extend_from_slice(key);
    out
}

/// Counters restored when the store is opened.
pub(crate) struct Restored {
    pub(crate) height: u64,
    pub(crate) dots: u64,
    pub(crate) last_execution_id: u64,
    pub(crate) pending: u64,
}

/// Opens (or creates) the database, creating tables and the genesis block on first use.
pub(crate) fn open(data_dir: &Path) -> Result<(Database, Restored), VmError> {
    std::fs::create_dir_all(data_dir)?;
    let db = Database::create(data_dir.join(DB_FILE))?;
    let txn = db.begin_write()?;
    {
        txn.open_table(META)?;
        txn.open_table(DOTS)?;
        txn.open_table(MODULES)?;
        txn.open_table(DOT_EXECUTIONS)?;
        txn.open_table(STATE)?;
        txn.open_table(PENDING)?;
        let mut blocks = txn.open_table(BLOCKS)?;
        if blocks.is_empty()? {
            let genesis = Block::new(0, GENESIS_PARENT_HASH, now_millis(), Vec::new());
            blocks.insert(0, genesis.encode().as_slice())?;
        }
    }
    txn.commit()?;

    let read = db.begin_read()?;
    let restored = Restored {
        height: tip(&read.open_table(BLOCKS)?)?.0,
        dots: read.open_table(DOTS)?.len()?,
        last_execution_id: read
            .open_table(META)?
            .get(LAST_EXECUTION_ID)?
            .map_or(0, |v| v.value()),
        pending: read.open_table(PENDING)?.len()?,
    };
    drop(read);
    Ok((db, restored))
}

/// Current unix time in milliseconds.
pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `(height, hash, timestamp)` of the last committed block.
pub(crate) fn tip(
    blocks: &impl ReadableTable<u64, &'static [u8]>,
) -> Result<(u64, Hash, u64), VmError> {
    let (key, value) = blocks
        .last()?
        .ok_or_else(|| VmError::Storage("block table is empty".into()))?;
    let (hash, timestamp) = Block::decode_header(value.value())?;
    Ok((key.value(), hash, timestamp))
}

/// Last execution id assigned (0 if none).
pub(crate) fn last_execution_id(txn: &WriteTransaction) -> Result<u64, VmError> {
    Ok(txn
        .open_table(META)?
        .get(LAST_EXECUTION_ID)?
        .map_or(0, |v| v.value()))
}

/// Records a successful execution (pending until the next block) and bumps the counters.
pub(crate) fn record_execution(
    txn: &WriteTransaction,
    record: &ExecutionRecord,
) -> Result<(), VmError> {
    txn.open_table(PENDING)?
        .insert(record.id, record.encode().as_slice())?;
    txn.open_table(META)?.insert(LAST_EXECUTION_ID, record.id)?;
    let mut counts = txn.open_table(DOT_EXECUTIONS)?;
    let count = counts.get(record.dot.as_str())?.map_or(0, |v| v.value());
    counts.insert(record.dot.as_str(), count + 1)?;
    Ok(())
}

/// Seals every pending execution into a new block on top of the current tip.
pub(crate) fn seal_block(txn: &WriteTransaction) -> Result<Block, VmError> {
    let mut blocks = txn.open_table(BLOCKS)?;
    let (parent_height, parent_hash, parent_timestamp) = tip(&blocks)?;
    let height = parent_height + 1;
    let mut pending = txn.open_table(PENDING)?;
    let executions = pending
        .iter()?
        .map(|entry| {
            let (_, value) = entry?;
            ExecutionRecord::decode(value.value(), height)
        })
        .collect::<Result<Vec<_>, VmError>>()?;
    pending.retain(|_, _| false)?;
    let timestamp = now_millis().max(parent_timestamp);
    let block = Block::new(height, parent_hash, timestamp, executions);
    blocks.insert(height, block.encode().as_slice())?;
    Ok(block)
}

/// Pending (not yet sealed) executions, tagged with `height`.
pub(crate) fn pending(
    table: &impl ReadableTable<u64, &'static [u8]>,
    height: u64,
) -> Result<Vec<ExecutionRecord>, VmError> {
    table
        .iter()?
        .map(|entry| {
            let (_, value) = entry?;
            ExecutionRecord::decode(value.value(), height)
        })
        .collect()
}

/// The block at `height`, if any.
pub(crate) fn block(
    blocks: &impl ReadableTable<u64, &'static [u8]>,
    height: u64,
) -> Result<Option<Block>, VmError> {
    blocks
        .get(height)?
        .map(|value| Block::decode(value.value()))
        .transpose()
}

/// Stored metadata of a dot.
pub(crate) fn dot_info(txn: &ReadTransaction, name: &str) -> Result<Option<DotInfo>, VmError> {
    let dots = txn.open_table(DOTS)?;
    let Some(value) = dots.get(name)? else {
        return Ok(None);
    };
    serde_json::from_slice(value.value())
        .map(Some)
        .map_err(|e| VmError::Storage(format!("corrupt metadata of dot '{name}': {e}")))
}

/// Metadata of every dot, sorted by name.
pub(crate) fn all_dots(txn: &ReadTransaction) -> Result<Vec<DotInfo>, VmError> {
    txn.open_table(DOTS)?
        .iter()?
        .map(|entry| {
            let (name, value) = entry?;
            serde_json::from_slice(value.value()).map_err(|e| {
                VmError::Storage(format!("corrupt metadata of dot '{}': {e}", name.value()))
            })
        })
        .collect()
}

/// Stored module bytes of a dot.
pub(crate) fn module_bytes(txn: &ReadTransaction, name: &str) -> Result<Option<Vec<u8>>, VmError> {
    Ok(txn
        .open_table(MODULES)?
        .get(name)?
        .map(|v| v.value().to_vec()))
}

/// Number of successful executions of a dot.
pub(crate) fn dot_executions(txn: &ReadTransaction, name: &str) -> Result<u64, VmError> {
    Ok(txn
        .open_table(DOT_EXECUTIONS)?
        .get(name)?
        .map_or(0, |v| v.value()))
}

/// All state entries of a dot, sorted by key.
pub(crate) fn dot_state(txn: &ReadTransaction, name: &str) -> Result<Vec<StateEntry>, VmError> {
    let start = state_key(name, &[]);
    let mut end = start.clone();
    if let Some(last) = end.last_mut() {
        *last = 1;
    }
    let table = txn.open_table(STATE)?;
    table
        .range(start.as_slice()..end.as_slice())?
        .map(|entry| {
            let (key, value) = entry?;
            let key = key.value().get(start.len()..).unwrap_or_default().to_vec();
            Ok((key, value.value().to_vec()))
        })
        .collect()
}

/// Inserts a new dot; `AlreadyExists` if the name is taken.
pub(crate) fn insert_dot(
    txn: &WriteTransaction,
    info: &DotInfo,
    module: &[u8],
) -> Result<(), VmError> {
    let mut dots = txn.open_table(DOTS)?;
    if dots.get(info.name.as_str())?.is_some() {
        return Err(VmError::AlreadyExists(format!("dot '{}'", info.name)));
    }
    let json = serde_json::to_vec(info).map_err(|e| VmError::Storage(e.to_string()))?;
    dots.insert(info.name.as_str(), json.as_slice())?;
    txn.open_table(MODULES)?
        .insert(info.name.as_str(), module)?;
    Ok(())
}
