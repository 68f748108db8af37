//! Blocks: the chain of committed executions, their canonical encoding and hashing.
//!
//! The block hash is `sha256("dotlanth/block/v1" ‖ height ‖ parent_hash ‖ timestamp ‖
//! executions)`, every integer a big-endian `u64`, every string/byte string prefixed with its
//! `u64` length, and each execution encoded as `id ‖ dot ‖ function ‖ fuel_used ‖ #events ‖
//! (topic ‖ data)*`. The same encoding (prefixed by the hash) is what the store keeps.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::{Corrupt, Reader, Writer};
use crate::error::VmError;
use crate::events::DotEvent;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The parent hash of the genesis block (height 0).
pub const GENESIS_PARENT_HASH: Hash = [0; 32];

const MAGIC: &[u8] = b"dotlanth/block/v1";

/// A committed block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Height; the genesis block, committed when the store is created, has height 0.
    pub height: u64,
    /// Hash of this block (see the module documentation).
    pub hash: Hash,
    /// Hash of the block at `height - 1` (all zeros for genesis).
    pub parent_hash: Hash,
    /// Commit time, unix milliseconds (never earlier than the parent's).
    pub timestamp: u64,
    /// The executions committed since the parent block, in execution-id order.
    pub executions: Vec<ExecutionRecord>,
}

/// A successful execution as recorded in a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// Global execution sequence number (starts at 1).
    pub id: u64,
    /// Name of the executed dot.
    pub dot: String,
    /// Name of the executed function.
    pub function: String,
    /// Fuel the execution consumed.
    pub fuel_used: u64,
    /// Events the execution emitted, in emission order.
    pub events: Vec<DotEvent>,
}

impl Block {
    /// Builds a block and computes its hash.
    pub(crate) fn new(
        height: u64,
        parent_hash: Hash,
        timestamp: u64,
        executions: Vec<ExecutionRecord>,
    ) -> Self {
        let mut block = Self {
            height,
            hash: [0; 32],
            parent_hash,
            timestamp,
            executions,
        };
        block.hash = block.compute_hash();
        block
    }

    /// Recomputes the hash from the block's contents.
    pub fn compute_hash(&self) -> Hash {
        Sha256::digest(self.canonical_bytes()).into()
    }

    /// Whether `hash` matches the block's contents.
    pub fn verify_hash(&self) -> bool {
        self.compute_hash() == self.hash
    }

    /// The hash as lowercase hex.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// The parent hash as lowercase hex.
    pub fn parent_hash_hex(&self) -> String {
        hex::encode(self.parent_hash)
    }

    /// All dot events of the block, in order.
    pub fn events(&self) -> impl Iterator<Item = &DotEvent> {
        self.executions.iter().flat_map(|e| e.events.iter())
    }

    fn canonical_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(MAGIC)
            .u64(self.height)
            .raw(&self.parent_hash)
            .u64(self.timestamp)
            .u64(self.executions.len() as u64);
        for record in &self.executions {
            record.encode_into(&mut w);
        }
        w.finish()
    }

    /// Storage encoding: hash followed by the canonical bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(&self.hash).raw(&self.canonical_bytes());
        w.finish()
    }

    /// Decodes [`Block::encode`] output.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, VmError> {
        Self::decode_inner(bytes).map_err(|Corrupt| VmError::Storage("corrupt block record".into()))
    }

    /// `(hash, timestamp)` of an encoded block, without decoding its executions.
    pub(crate) fn decode_header(bytes: &[u8]) -> Result<(Hash, u64), VmError> {
        let header = || -> Result<(Hash, u64), Corrupt> {
            let mut r = Reader::new(bytes);
            let hash: Hash = r.raw(32)?.try_into().map_err(|_| Corrupt)?;
            if r.raw(MAGIC.len())? != MAGIC {
                return Err(Corrupt);
            }
            let _height = r.u64()?;
            let _parent = r.raw(32)?;
            Ok((hash, r.u64()?))
        };
        header().map_err(|Corrupt| VmError::Storage("corrupt block record".into()))
    }

    fn decode_inner(bytes: &[u8]) -> Result<Self, Corrupt> {
        let mut r = Reader::new(bytes);
        let hash: Hash = r.raw(32)?.try_into().map_err(|_| Corrupt)?;
        if r.raw(MAGIC.len())? != MAGIC {
            return Err(Corrupt);
        }
        let height = r.u64()?;
        let parent_hash: Hash = r.raw(32)?.try_into().map_err(|_| Corrupt)?;
        let timestamp = r.u64()?;
        let count = r.count(8)?;
        let mut executions = Vec::with_capacity(count);
        for _ in 0..count {
            executions.push(ExecutionRecord::decode_from(&mut r, height)?);
        }
        if !r.is_empty() {
            return Err(Corrupt);
        }
        Ok(Self {
            height,
            hash,
            parent_hash,
            timestamp,
            executions,
        })
    }
}

impl ExecutionRecord {
    fn encode_into(&self, w: &mut Writer) {
        w.u64(self.id)
            .str(&self.dot)
            .str(&self.function)
            .u64(self.fuel_used)
            .u64(self.events.len() as u64);
        for event in &self.events {
            w.str(&event.topic).bytes(&event.data);
        }
    }

    fn decode_from(r: &mut Reader<'_>, block_height: u64) -> Result<Self, Corrupt> {
        let id = r.u64()?;
        let dot = r.string()?;
        let function = r.string()?;
        let fuel_used = r.u64()?;
        let count = r.count(16)?;
        let mut events = Vec::with_capacity(count);
        for _ in 0..count {
            let topic = r.string()?;
            let data = r.bytes()?.to_vec();
            events.push(DotEvent {
                dot: dot.clone(),
                topic,
                data,
                execution_id: id,
                block_height,
            });
        }
        Ok(Self {
            id,
            dot,
            function,
            fuel_used,
            events,
        })
    }

    /// Storage encoding of a not-yet-sealed execution (its block height is implied).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode_into(&mut w);
        w.finish()
    }

    /// Decodes [`ExecutionRecord::encode`] output, tagging events with `block_height`.
    pub(crate) fn decode(bytes: &[u8], block_height: u64) -> Result<Self, VmError> {
        let mut r = Reader::new(bytes);
        match Self::decode_from(&mut r, block_height) {
            Ok(record) if r.is_empty() => Ok(record),
            _ => Err(VmError::Storage("corrupt execution record".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Block {
        let event = DotEvent {
            dot: "counter".into(),
            topic: "incremented".into(),
            data: vec![1, 0, 0, 0, 0, 0, 0, 0],
            execution_id: 7,
            block_height: 3,
        };
        let record = ExecutionRecord {
            id: 7,
            dot: "counter".into(),
            function: "increment".into(),
            fuel_used: 42,
            events: vec![event],
        };
        Block::new(3, [9; 32], 1_700_000_000_000, vec![record])
    }

    #[test]
    fn encode_decode_roundtrip_keeps_hash_valid() {
        let block = sample();
        assert!(block.verify_hash());
        let decoded = Block::decode(&block.encode()).expect("decode");
        assert_eq!(decoded, block);
        assert!(decoded.verify_hash());
    }

    #[test]
    fn hash_covers_contents() {
        let block = sample();
        let mut other = block.clone();
        other.executions[0].events[0].data.push(0);
        assert_ne!(other.compute_hash(), block.hash);
        let mut other = block.clone();
        other.timestamp += 1;
        assert_ne!(other.compute_hash(), block.hash);
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_a_panic() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(Block::decode(&bytes[..len]).is_err());
        }
        let mut huge_count = sample().encode();
        let count_at = 32 + MAGIC.len() + 8 + 32 + 8;
        huge_count[count_at..count_at + 8].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(Block::decode(&huge_count).is_err());
    }
}
