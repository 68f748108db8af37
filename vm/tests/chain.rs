//! Blocks, persistence across restarts and crashes, and subscriptions.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use dotlanth_vm::{
    Block, DotEvent, GENESIS_PARENT_HASH, Lagged, Subscription, Vm, VmConfig, VmError, VmEvent,
};

/// Checks hashes and parent links of blocks `0..=latest`.
fn assert_chain_valid(vm: &Vm) -> Vec<Block> {
    let latest = vm.latest_block().expect("latest");
    let blocks: Vec<Block> = (0..=latest.height)
        .map(|h| vm.block(h).expect("block"))
        .collect();
    assert_eq!(blocks[0].parent_hash, GENESIS_PARENT_HASH);
    for (h, block) in blocks.iter().enumerate() {
        assert_eq!(block.height, h as u64);
        assert!(block.verify_hash(), "block {h} hash mismatch");
        if h > 0 {
            assert_eq!(block.parent_hash, blocks[h - 1].hash, "block {h} parent");
            assert!(block.timestamp >= blocks[h - 1].timestamp);
        }
    }
    blocks
}

async fn next(sub: &mut Subscription) -> VmEvent {
    match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
        Ok(Some(Ok(event))) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[test]
fn fresh_store_has_a_genesis_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = open(dir.path());
    let genesis = vm.block(0).expect("genesis");
    assert_eq!(genesis, vm.latest_block().expect("latest"));
    assert_eq!(genesis.parent_hash, GENESIS_PARENT_HASH);
    assert!(genesis.executions.is_empty());
    assert!(genesis.verify_hash());
    assert_eq!(genesis.hash_hex().len(), 64);
    assert!(matches!(vm.block(1), Err(VmError::NotFound(_))));
    assert_eq!(vm.status().height, 0);
}

#[test]
fn executions_land_in_the_block_they_were_tagged_with() {
    let (_dir, vm) = with_counter();
    let a = vm.execute("counter", "increment", b"", None).expect("exec");
    let b = vm.execute("counter", "increment", b"", None).expect("exec");
    assert_eq!((a.block_height, b.block_height), (1, 1));
    let block1 = vm.commit_block().expect("commit");
    assert_eq!(block1.height, 1);
    assert_eq!(
        block1.executions.iter().map(|e| e.id).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(block1.executions[1].events, b.events);
    assert_eq!(block1.executions[1].fuel_used, b.fuel_used);
    let c = vm.execute("counter", "increment", b"", None).expect("exec");
    assert_eq!(c.block_height, 2);
    assert_eq!(vm.commit_block().expect("commit").executions[0].id, c.id);
    assert!(vm.commit_block().expect("commit").executions.is_empty());
    assert_eq!(vm.status().height, 3);

    // Concurrent executions while blocks are being committed.
    const THREADS: usize = 4;
    const PER_THREAD: usize = 25;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let executions = std::thread::scope(|scope| {
        let committer = scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                vm.commit_block().expect("commit");
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    (0..PER_THREAD)
                        .map(|_| vm.execute("counter", "increment", b"", None).expect("exec"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let executions: Vec<_> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        committer.join().expect("committer");
        executions
    });
    vm.commit_block().expect("final commit");

    let blocks = assert_chain_valid(&vm);
    for exec in &executions {
        let block = &blocks[exec.block_height as usize];
        let record = block
            .executions
            .iter()
            .find(|r| r.id == exec.id)
            .unwrap_or_else(|| panic!("execution {} not in block {}", exec.id, exec.block_height));
        assert_eq!(record.events, exec.events);
    }
    let all_ids: Vec<u64> = blocks
        .iter()
        .flat_map(|b| b.executions.iter().map(|e| e.id))
        .collect();
    let expected: Vec<u64> = (1..=(3 + THREADS * PER_THREAD) as u64).collect();
    assert_eq!(
        all_ids, expected,
        "every execution exactly once, in id order"
    );
    assert_eq!(count(&vm), Some((3 + THREADS * PER_THREAD) as u64));
}

#[tokio::test]
async fn block_producer_commits_linked_empty_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = Vm::open(VmConfig {
        block_interval: Duration::from_millis(40),
        ..config(dir.path())
    })
    .expect("open");
    let mut sub = vm.subscribe(None);
    let producer = vm.spawn_block_producer();
    for expected in 1..=4 {
        match next(&mut sub).await {
            VmEvent::Block(block) => {
                assert_eq!(block.height, expected);
                assert!(block.executions.is_empty());
            }
            other => panic!("expected block, got {other:?}"),
        }
    }
    producer.abort();
    let _ = producer.await;
    assert!(vm.status().height >= 4);
    assert_chain_valid(&vm);
}

#[test]
fn reopening_restores_dots_state_height_and_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (block1, info) = {
        let vm = open(dir.path());
        let info = vm
            .deploy("counter", COUNTER.as_bytes(), "persistent")
            .expect("deploy");
        vm.execute("counter", "increment", b"", None).expect("exec");
        vm.execute("counter", "increment", b"", None).expect("exec");
        let block1 = vm.commit_block().expect("commit");
        vm.execute("counter", "increment", b"", None).expect("exec"); // pending at shutdown
        (block1, info)
    };

    let vm = open(dir.path());
    // The store is locked while a Vm has it open.
    assert!(matches!(
        Vm::open(config(dir.path())),
        Err(VmError::Storage(_))
    ));
    let status = vm.status();
    assert_eq!((status.height, status.dots), (1, 1));
    assert_eq!((status.executions_total, status.pending_executions), (3, 1));
    let details = vm.get_dot("counter").expect("get_dot");
    assert_eq!(details.info, info);
    assert_eq!(details.executions, 3);
    assert_eq!(count(&vm), Some(3));
    assert_eq!(vm.block(1).expect("block 1"), block1);
    assert!(matches!(
        vm.deploy("counter", COUNTER.as_bytes(), ""),
        Err(VmError::AlreadyExists(_))
    ));

    let exec = vm.execute("counter", "increment", b"", None).expect("exec");
    assert_eq!(
        (exec.id, exec.block_height, exec.output.clone()),
        (4, 2, le(4))
    );
    let block2 = vm.commit_block().expect("commit");
    assert_eq!(block2.parent_hash, block1.hash);
    assert_eq!(
        block2.executions.iter().map(|e| e.id).collect::<Vec<_>>(),
        [3, 4]
    );
    assert_chain_valid(&vm);
}

const CRASH_DIR_VAR: &str = "DOTLANTH_VM_CRASH_CHILD_DIR";

/// Child half of `kill_9_loses_nothing_acknowledged`: does some work, acknowledges it, then
/// waits to be killed. A no-op in a normal test run.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CRASH_DIR_VAR) else {
        return;
    };
    let vm = open(std::path::Path::new(&dir));
    vm.deploy("counter", COUNTER.as_bytes(), "")
        .expect("deploy");
    vm.execute("counter", "increment", b"", None).expect("exec");
    vm.commit_block().expect("commit");
    vm.execute("counter", "increment", b"", None).expect("exec");
    println!("ACKNOWLEDGED");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn kill_9_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(std::env::current_exe().expect("current exe"))
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_DIR_VAR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let acknowledged = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("ACKNOWLEDGED"));
    child.kill().expect("SIGKILL"); // SIGKILL on unix
    child.wait().expect("wait");
    assert!(acknowledged, "child did not acknowledge");

    let vm = open(dir.path());
    assert_eq!(count(&vm), Some(2));
    let status = vm.status();
    assert_eq!(
        (
            status.height,
            status.executions_total,
            status.pending_executions
        ),
        (1, 2, 1)
    );
    assert_eq!(vm.block(1).expect("block").executions[0].id, 1);
    let block = vm.commit_block().expect("commit");
    assert_eq!(block.executions[0].id, 2);
    assert_chain_valid(&vm);
}

/// Checks that a stream is exactly: for each block, its events then the block, heights
/// contiguous from `from`.
fn assert_stream_matches_chain(events: &[VmEvent], vm: &Vm, from: u64) {
    let mut pending: Vec<DotEvent> = Vec::new();
    let mut height = from;
    for event in events {
        match event {
            VmEvent::Dot(event) => pending.push(event.clone()),
            VmEvent::Block(block) => {
                assert_eq!(block.height, height, "gap or duplicate block");
                assert_eq!(block, &vm.block(height).expect("stored block"));
                let expected: Vec<DotEvent> = block.events().cloned().collect();
                assert_eq!(pending, expected, "events of block {height}");
                pending.clear();
                height += 1;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_replays_then_continues_live_without_gap_or_duplicate() {
    let (_dir, vm) = with_counter();
    for _ in 0..5 {
        vm.execute("counter", "increment", b"", None).expect("exec");
        vm.commit_block().expect("commit");
    }
    vm.execute("counter", "increment", b"", None).expect("exec"); // pending, tagged 6

    // Keep executing and committing while the subscriber joins.
    let writer = {
        let vm = vm.clone();
        std::thread::spawn(move || {
            for round in 0..12u64 {
                for _ in 0..round % 3 {
                    vm.execute("counter", "increment", b"", None).expect("exec");
                }
                vm.commit_block().expect("commit");
            }
        })
    };
    let mut sub = vm.subscribe(Some(2));
    let mut events = Vec::new();
    loop {
        let event = next(&mut sub).await;
        let done = matches!(&event, VmEvent::Block(b) if b.height == 17);
        events.push(event);
        if done {
            break;
        }
    }
    writer.join().expect("writer");
    assert_stream_matches_chain(&events, &vm, 2);

    // Live only: nothing from the past, then the next block.
    let mut live = vm.subscribe(None);
    let exec = vm.execute("counter", "increment", b"", None).expect("exec");
    vm.commit_block().expect("commit");
    assert_eq!(next(&mut live).await, VmEvent::Dot(exec.events[0].clone()));
    assert!(matches!(next(&mut live).await, VmEvent::Block(b) if b.height == 18));

    // A start height in the future skips everything before it.
    let mut future = vm.subscribe(Some(20));
    vm.execute("counter", "increment", b"", None).expect("exec");
    vm.commit_block().expect("commit"); // 19
    let exec = vm.execute("counter", "increment", b"", None).expect("exec");
    vm.commit_block().expect("commit"); // 20
    assert_eq!(
        next(&mut future).await,
        VmEvent::Dot(exec.events[0].clone())
    );
    assert!(matches!(next(&mut future).await, VmEvent::Block(b) if b.height == 20));

    // Dropping the VM ends live subscriptions once buffered events are consumed.
    drop(vm);
    let mut buffered = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), live.next()).await {
            Ok(Some(Ok(_))) => buffered += 1,
            Ok(None) => break,
            other => panic!("expected the end of the stream, got {other:?}"),
        }
    }
    assert_eq!(buffered, 4); // blocks 19 and 20 and their events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_gets_lagged_while_another_keeps_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = Vm::open(VmConfig {
        event_buffer: 4,
        ..config(dir.path())
    })
    .expect("open");
    let mut slow = vm.subscribe(None);
    let mut fast = vm.subscribe(None);
    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(Ok(VmEvent::Block(block))) = fast.next().await {
            if ack_tx.send(block.height).is_err() {
                break;
            }
        }
    });
    for height in 1..=20 {
        vm.commit_block().expect("commit");
        let acked = tokio::time::timeout(Duration::from_secs(10), ack_rx.recv()).await;
        assert_eq!(acked.expect("fast subscriber keeps up"), Some(height));
    }
    assert_eq!(slow.next().await, Some(Err(Lagged { resume_from: 1 })));
    assert_eq!(slow.next().await, None);
    reader.abort();

    // Resuming from `resume_from` replays everything missed.
    let mut resumed = vm.subscribe(Some(1));
    for height in 1..=20 {
        assert!(matches!(next(&mut resumed).await, VmEvent::Block(b) if b.height == height));
    }
}
