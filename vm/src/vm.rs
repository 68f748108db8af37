//! The [`Vm`] handle: deploy, execute, blocks, status and subscriptions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use redb::{Database, ReadableDatabase, ReadableTable};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use wasmi::{Engine, ExternType, Linker, Module, StoreLimits};

use crate::blocks::{Block, ExecutionRecord};
use crate::config::VmConfig;
use crate::dot::{self, DotDetails, DotInfo};
use crate::error::VmError;
use crate::events::{DotEvent, Subscription, VmEvent};
use crate::exec::{self, Execution};
use crate::host::{self, HostState};
use crate::store::{self, BLOCKS};

/// Maximum size of a dot description.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

/// Cheap snapshot of the VM's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmStatus {
    /// Height of the last committed block.
    pub height: u64,
    /// Number of deployed dots.
    pub dots: u64,
    /// Number of successful executions ever (also the last execution id).
    pub executions_total: u64,
    /// Executions committed but not yet sealed into a block.
    pub pending_executions: u64,
    /// When this `Vm` was opened.
    pub started_at: SystemTime,
    /// Time since `started_at`.
    pub uptime: Duration,
}

/// Handle to the VM; cheap to clone, shareable across threads.
///
/// All writes (deploys, executions, block commits) are serialized by the store's single write
/// transaction. An execution runs inside one write transaction that is committed only on
/// success, and it reads the current tip inside that transaction, so it always lands in exactly
/// the block it was tagged with.
#[derive(Clone)]
pub struct Vm {
    inner: Arc<Inner>,
}

struct Inner {
    config: VmConfig,
    db: Database,
    engine: Engine,
    linker: Linker<HostState>,
    /// Compiled modules by dot name (dots are immutable once deployed).
    modules: Mutex<HashMap<String, Module>>,
    /// Held across "commit + broadcast" and across "join broadcast + take snapshot", so that
    /// broadcasts follow commit order and a subscriber's snapshot and live stream meet exactly.
    publish: Mutex<()>,
    events: broadcast::Sender<VmEvent>,
    height: AtomicU64,
    dots: AtomicU64,
    executions: AtomicU64,
    pending: AtomicU64,
    started_at: SystemTime,
    started: Instant,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded sections cannot leave data half-updated, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Vm {
    /// Opens (or creates) the store at `config.data_dir/dotlanth.redb` and restores the counters.
    /// A fresh store gets a genesis block at height 0.
    pub fn open(config: VmConfig) -> Result<Vm, VmError> {
        let (db, restored) = store::open(&config.data_dir)?;
        let engine = exec::engine();
        let linker = host::linker(&engine)?;
        let (events, _) = broadcast::channel(config.event_buffer.clamp(1, 1 << 24));
        tracing::info!(
            data_dir = %config.data_dir.display(),
            height = restored.height,
            dots = restored.dots,
            "vm opened"
        );
        Ok(Vm {
            inner: Arc::new(Inner {
                config,
                db,
                engine,
                linker,
                modules: Mutex::new(HashMap::new()),
                publish: Mutex::new(()),
                events,
                height: AtomicU64::new(restored.height),
                dots: AtomicU64::new(restored.dots),
                executions: AtomicU64::new(restored.last_execution_id),
                pending: AtomicU64::new(restored.pending),
                started_at: SystemTime::now(),
                started: Instant::now(),
            }),
        })
    }

    /// The configuration the VM was opened with.
    pub fn config(&self) -> &VmConfig {
        &self.inner.config
    }

    /// Spawns a task committing a block every `block_interval` (empty blocks too). Must be called
    /// inside a tokio runtime. The task stops when it is aborted or every `Vm` handle is dropped.
    pub fn spawn_block_producer(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        let period = self
            .inner
            .config
            .block_interval
            .max(Duration::from_millis(1));
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + period;
            let mut ticker = tokio::time::interval_at(start, period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let vm = Vm { inner };
                match tokio::task::spawn_blocking(move || vm.commit_block()).await {
                    Ok(Ok(block)) => tracing::debug!(
                        height = block.height,
                        executions = block.executions.len(),
                        "block committed"
                    ),
                    Ok(Err(err)) => tracing::error!(%err, "block commit failed"),
                    Err(err) => tracing::error!(%err, "block commit task failed"),
                }
            }
        })
    }

    /// Seals every pending execution into a new block, persists and broadcasts it.
    /// This is what each block-producer tick does. Blocking.
    pub fn commit_block(&self) -> Result<Block, VmError> {
        let inner = &self.inner;
        let txn = inner.db.begin_write()?;
        let block = store::seal_block(&txn)?;
        let _publish = lock(&inner.publish);
        txn.commit()?;
        inner.height.store(block.height, Ordering::SeqCst);
        inner.pending.store(0, Ordering::SeqCst);
        // Sending fails only when nobody is subscribed.
        let _ = inner.events.send(VmEvent::Block(block.clone()));
        Ok(block)
    }

    /// Deploys a module (wasm binary, or WAT text) under a new unique name.
    ///
    /// Errors: `InvalidInput` for a bad name or an over-long description, `AlreadyExists`,
    /// `InvalidModule` for an empty, oversized, malformed or badly-importing module.
    pub fn deploy(&self, name: &str, module: &[u8], description: &str) -> Result<DotInfo, VmError> {
        let inner = &self.inner;
        dot::validate_name(name)?;
        if description.len() > MAX_DESCRIPTION_BYTES {
            return Err(VmError::InvalidInput(format!(
                "description is {} bytes, the limit is {MAX_DESCRIPTION_BYTES} bytes",
                description.len()
            )));
        }
        if store::dot_info(&inner.db.begin_read()?, name)?.is_some() {
            return Err(VmError::AlreadyExists(format!("dot '{name}'")));
        }
        let (compiled, exports) = dot::compile(
            &inner.engine,
            module,
            inner.config.max_module_bytes,
            inner.config.max_memory_bytes,
        )?;
        let info = DotInfo {
            name: name.to_string(),
            description: description.to_string(),
            module_hash: hex::encode(Sha256::digest(module)),
            module_size: module.len() as u64,
            deployed_at: store::now_millis(),
            exports,
        };
        let txn = inner.db.begin_write()?;
        store::insert_dot(&txn, &info, module)?;
        txn.commit()?;
        inner.dots.fetch_add(1, Ordering::SeqCst);
        lock(&inner.modules).insert(name.to_string(), compiled);
        tracing::info!(dot = name, hash = %info.module_hash, "dot deployed");
        Ok(info)
    }

    /// The compiled module of a dot (cached).
    fn module(&self, name: &str) -> Result<Module, VmError> {
        let inner = &self.inner;
        if let Some(module) = lock(&inner.modules).get(name) {
            return Ok(module.clone());
        }
        let bytes = store::module_bytes(&inner.db.begin_read()?, name)?
            .ok_or_else(|| VmError::NotFound(format!("dot '{name}'")))?;
        let module = Module::new(&inner.engine, &bytes).map_err(|e| {
            VmError::Storage(format!(
                "stored module of dot '{name}' does not compile: {e}"
            ))
        })?;
        lock(&inner.modules).insert(name.to_string(), module.clone());
        Ok(module)
    }

    /// Runs exported function `function` (which must take no parameters) of dot `name` with
    /// `input`. Blocking: call it from `spawn_blocking` in async code.
    ///
    /// `fuel_limit`: `None` uses `config.fuel_limit`; larger values are capped at it.
    /// On success the effects (state writes, events, execution record) are durable and the
    /// events have been broadcast. On any error there are no effects at all.
    pub fn execute(
        &self,
        name: &str,
        function: &str,
        input: &[u8],
        fuel_limit: Option<u64>,
    ) -> Result<Execution, VmError> {
        let inner = &self.inner;
        let config = &inner.config;
        if input.len() > config.max_input_bytes || i32::try_from(input.len()).is_err() {
            return Err(VmError::InvalidInput(format!(
                "input is {} bytes, the limit is {} bytes",
                input.len(),
                config.max_input_bytes
            )));
        }
        dot::validate_name(name)?;
        let module = self.module(name)?;
        let shown = dot::truncate(function, 128);
        match module.get_export(function) {
            Some(ExternType::Func(ty)) if ty.params().is_empty() => {}
            Some(ExternType::Func(ty)) => {
                return Err(VmError::InvalidInput(format!(
                    "function '{shown}' of dot '{name}' takes {} parameter(s); only functions without parameters can be executed",
                    ty.params().len()
                )));
            }
            _ => {
                return Err(VmError::InvalidInput(format!(
                    "dot '{name}' exports no function '{shown}'"
                )));
            }
        }
        let fuel = fuel_limit.map_or(config.fuel_limit, |f| f.min(config.fuel_limit));

        let txn = inner.db.begin_write()?;
        let block_height = store::tip(&txn.open_table(BLOCKS)?)?.0 + 1;
        let id = store::last_execution_id(&txn)? + 1;
        let state = HostState {
            txn,
            dot: name.to_string(),
            input: input.to_vec(),
            output: Vec::new(),
            events: Vec::new(),
            limits: StoreLimits::default(),
        };
        let (state, fuel_used) = exec::run(
            &inner.engine,
            &inner.linker,
            &module,
            function,
            state,
            fuel,
            config.max_memory_bytes,
        )
        .inspect_err(|err| tracing::debug!(dot = name, function, %err, "execution failed"))?;

        let HostState {
            txn,
            output,
            events,
            ..
        } = state;
        let events: Vec<DotEvent> = events
            .into_iter()
            .map(|(topic, data)| DotEvent {
                dot: name.to_string(),
                topic,
                data,
                execution_id: id,
                block_height,
            })
            .collect();
        let record = ExecutionRecord {
            id,
            dot: name.to_string(),
            function: function.to_string(),
            fuel_used,
            events,
        };
        store::record_execution(&txn, &record)?;
        {
            let _publish = lock(&inner.publish);
            txn.commit()?;
            inner.executions.store(id, Ordering::SeqCst);
            inner.pending.fetch_add(1, Ordering::SeqCst);
            for event in &record.events {
                let _ = inner.events.send(VmEvent::Dot(event.clone()));
            }
        }
        Ok(Execution {
            id,
            dot: record.dot,
            function: record.function,
            output,
            fuel_used,
            events: record.events,
            block_height,
        })
    }

    /// A dot's metadata, exports, current state (sorted by key) and execution count.
    pub fn get_dot(&self, name: &str) -> Result<DotDetails, VmError> {
        // A name that cannot exist is the caller's mistake, not a missing dot.
        dot::validate_name(name)?;
        let txn = self.inner.db.begin_read()?;
        let info = store::dot_info(&txn, name)?
            .ok_or_else(|| VmError::NotFound(format!("dot '{name}'")))?;
        Ok(DotDetails {
            state: store::dot_state(&txn, name)?,
            executions: store::dot_executions(&txn, name)?,
            info,
        })
    }

    /// Metadata of every deployed dot, sorted by name.
    pub fn list_dots(&self) -> Result<Vec<DotInfo>, VmError> {
        store::all_dots(&self.inner.db.begin_read()?)
    }

    /// Counters, from atomics (no store access).
    pub fn status(&self) -> VmStatus {
        let inner = &self.inner;
        VmStatus {
            height: inner.height.load(Ordering::SeqCst),
            dots: inner.dots.load(Ordering::SeqCst),
            executions_total: inner.executions.load(Ordering::SeqCst),
            pending_executions: inner.pending.load(Ordering::SeqCst),
            started_at: inner.started_at,
            uptime: inner.started.elapsed(),
        }
    }

    /// The block at `height`; `NotFound` if there is none.
    pub fn block(&self, height: u64) -> Result<Block, VmError> {
        let txn = self.inner.db.begin_read()?;
        store::block(&txn.open_table(BLOCKS)?, height)?
            .ok_or_else(|| VmError::NotFound(format!("block {height}")))
    }

    /// The last committed block.
    pub fn latest_block(&self) -> Result<Block, VmError> {
        let txn = self.inner.db.begin_read()?;
        let blocks = txn.open_table(BLOCKS)?;
        let (_, value) = blocks
            .last()?
            .ok_or_else(|| VmError::NotFound("no block committed".into()))?;
        Block::decode(value.value())
    }

    /// Subscribes to block and dot events. `from_height: Some(h)` first replays stored blocks
    /// from `h` (see [`Subscription`]); `None` delivers live events only.
    ///
    /// If the store cannot be read, the subscription reports
    /// [`Lagged`](crate::Lagged) right away; use [`Vm::try_subscribe`] to get the error instead.
    pub fn subscribe(&self, from_height: Option<u64>) -> Subscription {
        match self.try_subscribe(from_height) {
            Ok(subscription) => subscription,
            Err(err) => {
                tracing::warn!(%err, "subscription failed");
                let resume_from =
                    from_height.unwrap_or_else(|| self.inner.height.load(Ordering::SeqCst) + 1);
                Subscription::failed(self.inner.events.subscribe(), resume_from)
            }
        }
    }

    /// Like [`Vm::subscribe`], but reports store errors.
    pub fn try_subscribe(&self, from_height: Option<u64>) -> Result<Subscription, VmError> {
        let inner = &self.inner;
        let (live, snapshot, height, last_execution) = {
            let _publish = lock(&inner.publish);
            let live = inner.events.subscribe();
            let snapshot = match from_height {
                Some(_) => Some(inner.db.begin_read()?),
                None => None,
            };
            (
                live,
                snapshot,
                inner.height.load(Ordering::SeqCst),
                inner.executions.load(Ordering::SeqCst),
            )
        };
        Subscription::new(live, from_height, snapshot, height, last_execution)
    }
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("data_dir", &self.inner.config.data_dir)
            .field("status", &self.status())
            .finish()
    }
}
