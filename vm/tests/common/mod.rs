//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::Path;

use dotlanth_vm::{Vm, VmConfig};

pub const COUNTER: &str = include_str!("../../../examples/dots/counter.wat");
pub const ECHO: &str = include_str!("../../../examples/dots/echo.wat");
pub const INFINITE_LOOP: &str = include_str!("../../../examples/dots/infinite_loop.wat");

pub fn config(dir: &Path) -> VmConfig {
    VmConfig::new(dir)
}

pub fn open(dir: &Path) -> Vm {
    Vm::open(config(dir)).expect("open vm")
}

/// A temp dir and a VM with a deployed counter dot named "counter".
pub fn with_counter() -> (tempfile::TempDir, Vm) {
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = open(dir.path());
    vm.deploy("counter", COUNTER.as_bytes(), "a counter")
        .expect("deploy counter");
    (dir, vm)
}

pub fn le(n: u64) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

/// The counter's stored value.
pub fn count(vm: &Vm) -> Option<u64> {
    let details = vm.get_dot("counter").expect("get_dot");
    details
        .state
        .iter()
        .find(|(k, _)| k == b"count")
        .map(|(_, v)| u64::from_le_bytes(v.as_slice().try_into().expect("8 bytes")))
}
