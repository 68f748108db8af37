//! Dot events, VM events and subscriptions (replay from the store, then live).

use std::collections::VecDeque;

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::blocks::Block;
use crate::error::VmError;
use crate::store::{self, BLOCKS, PENDING};

/// An event emitted by a dot through `emit_event`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DotEvent {
    /// Emitting dot.
    pub dot: String,
    /// Topic (non-empty UTF-8).
    pub topic: String,
    /// Payload.
    pub data: Vec<u8>,
    /// Execution that emitted it.
    pub execution_id: u64,
    /// Block that contains (or will contain) that execution.
    pub block_height: u64,
}

/// What subscribers receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmEvent {
    /// A block was committed. Its dot events were delivered before it.
    Block(Block),
    /// An execution committed and emitted this event.
    Dot(DotEvent),
}

impl VmEvent {
    /// Height of the block the event belongs to.
    pub fn block_height(&self) -> u64 {
        match self {
            Self::Block(block) => block.height,
            Self::Dot(event) => event.block_height,
        }
    }
}

/// The subscriber fell behind the broadcast buffer; the subscription has ended.
///
/// Subscribe again with `Some(resume_from)`: that is the first block not fully delivered, so
/// some of its dot events may be delivered a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("subscriber lagged behind the event buffer; resubscribe from height {resume_from}")]
pub struct Lagged {
    /// Height to resubscribe from.
    pub resume_from: u64,
}

/// Blocks replayed per store read.
const REPLAY_CHUNK: u64 = 64;

/// A stream of [`VmEvent`]s from [`Vm::subscribe`](crate::Vm::subscribe).
///
/// With a start height, stored blocks from that height are replayed first (each block's dot
/// events, then the block), followed by the events of executions already committed for the next
/// block, then live events. The replay reads a store snapshot taken atomically with joining the
/// broadcast, and live items already covered by it are skipped, so there is no gap and no
/// duplicate.
pub struct Subscription {
    replay: Option<Replay>,
    queue: VecDeque<VmEvent>,
    live: broadcast::Receiver<VmEvent>,
    /// Nothing below this height is delivered.
    min_height: u64,
    /// Live blocks at or below this height are covered by the snapshot.
    snapshot_height: u64,
    /// Live dot events of executions up to this id are covered by the snapshot.
    snapshot_execution: u64,
    /// First block not yet fully delivered.
    resume_from: u64,
    /// Reported by the next call to `next` (for subscriptions that failed at creation).
    lagged: Option<Lagged>,
    ended: bool,
}

struct Replay {
    blocks: ReadOnlyTable<u64, &'static [u8]>,
    pending: ReadOnlyTable<u64, &'static [u8]>,
    next: u64,
    end: u64,
}

impl Subscription {
    /// `snapshot_height`/`snapshot_execution` and `snapshot` must describe the same committed
    /// state, captured together with `live` joining the broadcast.
    pub(crate) fn new(
        live: broadcast::Receiver<VmEvent>,
        from_height: Option<u64>,
        snapshot: Option<ReadTransaction>,
        snapshot_height: u64,
        snapshot_execution: u64,
    ) -> Result<Self, VmError> {
        let min_height = from_height.unwrap_or(snapshot_height + 1);
        let replay = match (from_height, snapshot) {
            (Some(from), Some(txn)) => Some(Replay {
                blocks: txn.open_table(BLOCKS)?,
                pending: txn.open_table(PENDING)?,
                next: from,
                end: snapshot_height,
            }),
            _ => None,
        };
        Ok(Self {
            replay,
            queue: VecDeque::new(),
            live,
            min_height,
            snapshot_height,
            snapshot_execution,
            resume_from: min_height,
            lagged: None,
            ended: false,
        })
    }

    /// A subscription that reports [`Lagged`] right away (used when the store cannot be read).
    pub(crate) fn failed(live: broadcast::Receiver<VmEvent>, resume_from: u64) -> Self {
        Self {
            replay: None,
            queue: VecDeque::new(),
            live,
            min_height: resume_from,
            snapshot_height: 0,
            snapshot_execution: 0,
            resume_from,
            lagged: Some(Lagged { resume_from }),
            ended: true,
        }
    }

    /// The next event; `Some(Err(Lagged))` once if the subscriber fell behind (then `None`),
    /// `None` when the VM is gone.
    pub async fn next(&mut self) -> Option<Result<VmEvent, Lagged>> {
        if let Some(lagged) = self.lagged.take() {
            return Some(Err(lagged));
        }
        loop {
            if self.ended {
                return None;
            }
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(self.deliver(event)));
            }
            if self.replay.is_some() {
                if let Err(err) = self.refill() {
                    tracing::warn!(%err, "subscription replay failed");
                    return Some(Err(self.lag()));
                }
                continue;
            }
            match self.live.recv().await {
                Ok(event) if self.is_new(&event) => return Some(Ok(self.deliver(event))),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => return Some(Err(self.lag())),
                Err(RecvError::Closed) => self.ended = true,
            }
        }
    }

    /// Ends the subscription, returning where to resume.
    fn lag(&mut self) -> Lagged {
        self.ended = true;
        self.replay = None;
        self.queue.clear();
        Lagged {
            resume_from: self.resume_from,
        }
    }

    fn deliver(&mut self, event: VmEvent) -> VmEvent {
        if let VmEvent::Block(block) = &event {
            self.resume_from = block.height + 1;
        }
        event
    }

    fn is_new(&self, event: &VmEvent) -> bool {
        match event {
            VmEvent::Block(block) => {
                block.height >= self.min_height && block.height > self.snapshot_height
            }
            VmEvent::Dot(event) => {
                event.block_height >= self.min_height
                    && event.execution_id > self.snapshot_execution
            }
        }
    }

    /// Queues the next replay chunk, or the pending executions' events once all stored blocks
    /// are replayed (which ends the replay).
    fn refill(&mut self) -> Result<(), VmError> {
        let Some(replay) = self.replay.as_mut() else {
            return Ok(());
        };
        if replay.next <= replay.end {
            let last = replay.end.min(replay.next.saturating_add(REPLAY_CHUNK - 1));
            for entry in replay.blocks.range(replay.next..=last)? {
                let (_, value) = entry?;
                let block = Block::decode(value.value())?;
                self.queue.extend(block.events().cloned().map(VmEvent::Dot));
                self.queue.push_back(VmEvent::Block(block));
            }
            replay.next = last + 1;
            return Ok(());
        }
        let next_height = replay.end + 1;
        if next_height >= self.min_height {
            for record in store::pending(&replay.pending, next_height)? {
                self.queue
                    .extend(record.events.into_iter().map(VmEvent::Dot));
            }
        }
        self.replay = None;
        Ok(())
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("replaying", &self.replay.is_some())
            .field("queued", &self.queue.len())
            .field("resume_from", &self.resume_from)
            .field("ended", &self.ended)
            .finish()
    }
}
