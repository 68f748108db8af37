//! Deploying and executing dots: semantics, validation, limits and atomicity.

mod common;

use std::time::Duration;

use common::*;
use dotlanth_vm::{Subscription, Vm, VmConfig, VmError, VmEvent};

#[test]
fn public_types_are_thread_safe() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Vm>();
    send::<Subscription>();
    send_sync::<VmError>();
}

/// No event arrives within a short wait.
async fn assert_quiet(sub: &mut Subscription) {
    let next = tokio::time::timeout(Duration::from_millis(50), sub.next()).await;
    assert!(next.is_err(), "unexpected event: {next:?}");
}

#[tokio::test]
async fn counter_increments_persist_state_and_emit_events() {
    let (_dir, vm) = with_counter();
    let mut sub = vm.subscribe(None);

    let details = vm.get_dot("counter").expect("get_dot");
    let names: Vec<_> = details
        .info
        .exports
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["get", "increment"]);
    assert!(details.info.exports.iter().all(|e| e.is_callable()));
    assert_eq!(details.info.module_hash.len(), 64);
    assert_eq!(details.info.description, "a counter");
    assert!(details.state.is_empty());

    for n in 1..=3u64 {
        let exec = vm
            .execute("counter", "increment", b"", None)
            .expect("increment");
        assert_eq!(exec.id, n);
        assert_eq!(exec.output, le(n));
        assert_eq!(exec.block_height, 1);
        assert!(exec.fuel_used > 0);
        assert_eq!(exec.events.len(), 1);
        let event = &exec.events[0];
        assert_eq!(
            (event.dot.as_str(), event.topic.as_str()),
            ("counter", "incremented")
        );
        assert_eq!(event.data, le(n));
        assert_eq!((event.execution_id, event.block_height), (n, 1));

        match sub.next().await {
            Some(Ok(VmEvent::Dot(live))) => assert_eq!(&live, event),
            other => panic!("expected dot event, got {other:?}"),
        }
    }

    assert_eq!(count(&vm), Some(3));
    let details = vm.get_dot("counter").expect("get_dot");
    assert_eq!(details.state, vec![(b"count".to_vec(), le(3))]);
    assert_eq!(details.executions, 3);
    let get = vm.execute("counter", "get", b"", None).expect("get");
    assert_eq!(get.output, le(3));
    assert!(get.events.is_empty());

    let status = vm.status();
    assert_eq!((status.dots, status.executions_total), (1, 4));
    assert_eq!((status.height, status.pending_executions), (0, 4));

    let block = vm.commit_block().expect("commit");
    assert_eq!(block.height, 1);
    let ids: Vec<u64> = block.executions.iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_eq!(block.events().count(), 3);
    assert_eq!(vm.status().pending_executions, 0);
}

#[test]
fn deploy_rejects_bad_modules_names_and_duplicates() {
    let (_dir, vm) = with_counter();
    let invalid_module = |name: &str, bytes: &[u8]| match vm.deploy(name, bytes, "") {
        Err(VmError::InvalidModule(msg)) => msg,
        other => panic!("{name}: expected InvalidModule, got {other:?}"),
    };

    assert!(matches!(
        vm.deploy("counter", COUNTER.as_bytes(), ""),
        Err(VmError::AlreadyExists(_))
    ));
    invalid_module("garbage", &[0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]);
    invalid_module("bad-binary", b"\0asm\x01\x00\x00\x00\xff\xff\xff");
    invalid_module("empty", b"");
    invalid_module("bad-wat", b"(module (func (export \"f\")");
    // Syntactically fine, but fails validation (i32.add on an empty stack).
    invalid_module(
        "invalid",
        b"(module (func (export \"f\") (drop (i32.add))))",
    );
    let msg = invalid_module(
        "bad-import",
        br#"(module (import "env" "launch_missiles" (func)))"#,
    );
    assert!(msg.contains("\"env\".\"launch_missiles\""), "{msg}");
    let msg = invalid_module(
        "bad-module",
        br#"(module (import "wasi" "input_len" (func (result i32))))"#,
    );
    assert!(msg.contains("\"wasi\".\"input_len\""), "{msg}");
    let msg = invalid_module(
        "bad-signature",
        br#"(module (import "env" "input_len" (func (result i64))))"#,
    );
    assert!(msg.contains("input_len"), "{msg}");
    invalid_module(
        "import-memory",
        br#"(module (import "env" "memory" (memory 1)))"#,
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let small = Vm::open(VmConfig {
        max_module_bytes: 64,
        ..config(dir.path())
    })
    .expect("open");
    assert!(matches!(
        small.deploy("big", COUNTER.as_bytes(), ""),
        Err(VmError::InvalidModule(_))
    ));

    for name in [
        "",
        "Counter",
        "1st",
        "-x",
        "has space",
        "dot.name",
        &"x".repeat(65),
    ] {
        assert!(
            matches!(
                vm.deploy(name, ECHO.as_bytes(), ""),
                Err(VmError::InvalidInput(_))
            ),
            "{name:?}"
        );
    }
    assert!(matches!(
        vm.deploy("echo", ECHO.as_bytes(), &"d".repeat(5000)),
        Err(VmError::InvalidInput(_))
    ));
    assert_eq!(vm.status().dots, 1);
    assert_eq!(vm.list_dots().expect("list").len(), 1);

    // A wasm binary is accepted too.
    let binary = b"\0asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x05\x01\x01f\x00\x00\x0a\x04\x01\x02\x00\x0b";
    let info = vm.deploy("binary", binary, "").expect("deploy binary");
    assert_eq!(info.module_size, binary.len() as u64);
    assert_eq!(info.exports[0].name, "f");
    vm.execute("binary", "f", b"", None)
        .expect("execute binary");
    assert_eq!(vm.status().dots, 2);
}

#[test]
fn execute_rejects_unknown_dots_functions_and_bad_input() {
    let (_dir, vm) = with_counter();
    assert!(matches!(
        vm.execute("nope", "run", b"", None),
        Err(VmError::NotFound(_))
    ));
    assert!(matches!(vm.get_dot("nope"), Err(VmError::NotFound(_))));
    assert!(matches!(
        vm.execute("counter", "decrement", b"", None),
        Err(VmError::InvalidInput(_))
    ));
    // "memory" is an export, but not a function.
    assert!(matches!(
        vm.execute("counter", "memory", b"", None),
        Err(VmError::InvalidInput(_))
    ));
    vm.deploy(
        "params",
        b"(module (func (export \"add\") (param i32)))",
        "",
    )
    .expect("deploy");
    let details = vm.get_dot("params").expect("get_dot");
    assert_eq!(details.info.exports[0].params, ["i32"]);
    assert!(!details.info.exports[0].is_callable());
    assert!(matches!(
        vm.execute("params", "add", b"", None),
        Err(VmError::InvalidInput(_))
    ));
    let too_big = vec![0u8; vm.config().max_input_bytes + 1];
    assert!(matches!(
        vm.execute("counter", "increment", &too_big, None),
        Err(VmError::InvalidInput(_))
    ));
    assert_eq!(vm.status().executions_total, 0);
    assert_eq!(count(&vm), None);
}

#[test]
fn echo_returns_its_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = open(dir.path());
    vm.deploy("echo", ECHO.as_bytes(), "").expect("deploy");
    for input in [&b""[..], b"hello", &vec![7u8; 200_000]] {
        let exec = vm.execute("echo", "echo", input, None).expect("echo");
        assert_eq!(exec.output, input);
    }
}

#[tokio::test]
async fn out_of_fuel_rolls_back_state_and_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = Vm::open(VmConfig {
        fuel_limit: 1_000_000,
        ..config(dir.path())
    })
    .expect("open");
    vm.deploy("looper", INFINITE_LOOP.as_bytes(), "")
        .expect("deploy");
    let mut sub = vm.subscribe(None);

    for (asked, limit) in [
        (Some(5_000), 5_000),
        (None, 1_000_000),
        (Some(u64::MAX), 1_000_000),
    ] {
        match vm.execute("looper", "run", b"", asked) {
            Err(VmError::FuelExhausted { limit: l }) => assert_eq!(l, limit),
            other => panic!("expected FuelExhausted, got {other:?}"),
        }
    }
    // Out of fuel inside a host call counts the same.
    assert!(matches!(
        vm.execute("looper", "run", b"", Some(150)),
        Err(VmError::FuelExhausted { limit: 150 })
    ));
    let details = vm.get_dot("looper").expect("get_dot");
    assert!(
        details.state.is_empty(),
        "state leaked: {:?}",
        details.state
    );
    assert_eq!(details.executions, 0);
    assert_eq!(vm.status().executions_total, 0);
    assert_quiet(&mut sub).await;
    let block = vm.commit_block().expect("commit");
    assert!(block.executions.is_empty());

    // A counter with too little fuel does not count either.
    vm.deploy("counter", COUNTER.as_bytes(), "")
        .expect("deploy");
    assert!(matches!(
        vm.execute("counter", "increment", b"", Some(10)),
        Err(VmError::FuelExhausted { limit: 10 })
    ));
    assert_eq!(count(&vm), None);
}

#[test]
fn memory_cap_is_enforced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = Vm::open(VmConfig {
        max_memory_bytes: 1 << 20, // 16 pages
        max_input_bytes: 4 << 20,
        ..config(dir.path())
    })
    .expect("open");

    // Exported memory that starts above the cap: rejected at deploy.
    assert!(matches!(
        vm.deploy("huge", br#"(module (memory (export "memory") 17))"#, ""),
        Err(VmError::InvalidModule(_))
    ));
    // Non-exported memory above the cap: fails when instantiated.
    vm.deploy(
        "hidden",
        br#"(module (memory 17) (func (export "run")))"#,
        "",
    )
    .expect("deploy");
    let hidden = vm.execute("hidden", "run", b"", None);
    assert!(
        matches!(hidden, Err(VmError::ResourceExhausted(_))),
        "{hidden:?}"
    );
    // Growing past the cap aborts the execution, and its state write is discarded.
    let grower = br#"(module
        (import "env" "state_set" (func $set (param i32 i32 i32 i32)))
        (memory (export "memory") 1)
        (func (export "grow")
          (call $set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))
          (loop $more
            (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))))"#;
    vm.deploy("grower", grower, "").expect("deploy");
    match vm.execute("grower", "grow", b"", None) {
        Err(VmError::ResourceExhausted(msg)) => assert!(msg.contains("1048576"), "{msg}"),
        other => panic!("expected ResourceExhausted, got {other:?}"),
    }
    assert!(vm.get_dot("grower").expect("get_dot").state.is_empty());
    // Echo grows to fit its input: fine below the cap, exhausted above.
    vm.deploy("echo", ECHO.as_bytes(), "").expect("deploy");
    vm.execute("echo", "echo", &vec![1; 900_000], None)
        .expect("fits");
    assert!(matches!(
        vm.execute("echo", "echo", &vec![1; 2_000_000], None),
        Err(VmError::ResourceExhausted(_))
    ));
}

#[test]
fn traps_and_host_misuse_have_no_effect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = open(dir.path());
    let module = br#"(module
        (import "env" "state_set" (func $set (param i32 i32 i32 i32)))
        (import "env" "emit_event" (func $emit (param i32 i32 i32 i32)))
        (import "env" "output_write" (func $out (param i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "key")
        (data (i32.const 16) "\ff\fe")
        (func $touch (call $set (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3))
                     (call $emit (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 0)))
        (func (export "unreachable") (call $touch) (unreachable))
        (func (export "oob_load") (call $touch) (drop (i32.load (i32.const 70000))))
        (func (export "div_zero") (call $touch) (drop (i32.div_u (i32.const 1) (i32.const 0))))
        (func (export "oob_output") (call $touch) (call $out (i32.const 65530) (i32.const 100)))
        (func (export "negative_len") (call $touch) (call $out (i32.const 0) (i32.const -1)))
        (func (export "bad_topic") (call $touch) (call $emit (i32.const 16) (i32.const 2) (i32.const 0) (i32.const 0)))
        (func (export "empty_topic") (call $touch) (call $emit (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
        (func (export "big_key") (call $touch) (call $set (i32.const 0) (i32.const 5000) (i32.const 0) (i32.const 1)))
        (func (export "big_value") (call $touch) (call $set (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 300000)))
        (func (export "many_events")
          (loop $again
            (call $emit (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 0))
            (br $again)))
        (func $rec (export "recurse") (call $rec))
        (func (export "ok") (call $touch)))"#;
    vm.deploy("bad", module, "").expect("deploy");

    let traps = [
        "unreachable",
        "oob_load",
        "div_zero",
        "oob_output",
        "negative_len",
        "bad_topic",
        "empty_topic",
        "recurse",
    ];
    for function in traps {
        match vm.execute("bad", function, b"", None) {
            Err(VmError::Trap(msg)) => assert!(!msg.is_empty()),
            other => panic!("{function}: expected Trap, got {other:?}"),
        }
    }
    match vm.execute("bad", "oob_output", b"", None) {
        Err(VmError::Trap(msg)) => assert!(msg.contains("output_write"), "{msg}"),
        other => panic!("expected Trap, got {other:?}"),
    }
    for function in ["big_key", "big_value", "many_events"] {
        assert!(
            matches!(
                vm.execute("bad", function, b"", None),
                Err(VmError::ResourceExhausted(_))
            ),
            "{function}"
        );
    }
    let details = vm.get_dot("bad").expect("get_dot");
    assert!(details.state.is_empty());
    assert_eq!(details.executions, 0);

    let ok = vm.execute("bad", "ok", b"", None).expect("ok");
    assert_eq!(ok.id, 1);
    assert_eq!(ok.events.len(), 1);
    assert_eq!(vm.get_dot("bad").expect("get_dot").state.len(), 1);

    // Host calls without an exported memory trap.
    vm.deploy("nomem", br#"(module (import "env" "input_read" (func $r (param i32))) (func (export "run") (call $r (i32.const 0))))"#, "")
        .expect("deploy");
    assert!(matches!(
        vm.execute("nomem", "run", b"x", None),
        Err(VmError::Trap(_))
    ));
}

#[test]
fn state_is_per_dot_sorted_and_supports_partial_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = open(dir.path());
    let module = br#"(module
        (import "env" "state_get" (func $get (param i32 i32 i32 i32) (result i32)))
        (import "env" "state_set" (func $set (param i32 i32 i32 i32)))
        (import "env" "state_delete" (func $del (param i32 i32)))
        (import "env" "output_write" (func $out (param i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "cab")
        (data (i32.const 16) "333")
        (func (export "put")
          (call $set (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 3)) ;; c = 333
          (call $set (i32.const 1) (i32.const 1) (i32.const 16) (i32.const 1)) ;; a = 3
          (call $set (i32.const 2) (i32.const 1) (i32.const 16) (i32.const 2)) ;; b = 33
          (call $del (i32.const 2) (i32.const 1)))                             ;; delete b
        (func (export "probe")
          ;; value length of "c" (3) with a 1-byte buffer at 100 -> [len as i32 LE][1 copied byte]
          (i32.store (i32.const 96) (call $get (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 1)))
          ;; absent key "b" -> -1
          (i32.store (i32.const 104) (call $get (i32.const 2) (i32.const 1) (i32.const 108) (i32.const 8)))
          (call $out (i32.const 96) (i32.const 12))))"#;
    vm.deploy("kv", module, "").expect("deploy");
    vm.deploy("kv2", module, "").expect("deploy");
    vm.execute("kv", "put", b"", None).expect("put");
    let details = vm.get_dot("kv").expect("get_dot");
    assert_eq!(
        details.state,
        vec![
            (b"a".to_vec(), b"3".to_vec()),
            (b"c".to_vec(), b"333".to_vec())
        ]
    );
    let probe = vm.execute("kv", "probe", b"", None).expect("probe");
    let mut expected = 3i32.to_le_bytes().to_vec();
    expected.extend_from_slice(&[b'3', 0, 0, 0]);
    expected.extend_from_slice(&(-1i32).to_le_bytes());
    assert_eq!(probe.output, expected);
    // Another dot with the same code has its own state.
    assert!(vm.get_dot("kv2").expect("get_dot").state.is_empty());
    let probe = vm.execute("kv2", "probe", b"", None).expect("probe");
    assert_eq!(probe.output[..4], (-1i32).to_le_bytes());
}

#[test]
fn deploy_refuses_what_could_never_run_and_keeps_messages_short() {
    let (_dir, vm) = with_counter();
    let invalid_module = |name: &str, bytes: &[u8]| match vm.deploy(name, bytes, "") {
        Err(VmError::InvalidModule(msg)) => msg,
        other => panic!("{name}: expected InvalidModule, got {other:?}"),
    };
    // Too many locals: found when the function is translated, i.e. at deploy.
    let locals = "(local i64) ".repeat(50_000);
    let wat = format!(r#"(module (memory (export "memory") 1) (func (export "f") {locals}))"#);
    invalid_module("locals", wat.as_bytes());
    // Bytes that are neither wasm nor text get a clear reason.
    let msg = invalid_module("garbage", &[0xff, 0xfe, 0x00]);
    assert!(msg.contains("neither"), "{msg}");
    // A parser error quoting a huge source line is cut short.
    let huge = format!("({}", "(".repeat(200_000));
    let msg = invalid_module("huge", huge.as_bytes());
    assert!(msg.len() < 1024, "{} bytes", msg.len());
    // So is an invalid name echoed back.
    let long = "A".repeat(100_000);
    match vm.get_dot(&long) {
        Err(VmError::InvalidInput(msg)) | Err(VmError::NotFound(msg)) => {
            assert!(msg.len() < 512, "{}", msg.len())
        }
        other => panic!("expected an error, got {other:?}"),
    }
}
