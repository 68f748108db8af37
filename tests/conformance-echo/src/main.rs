//! The echo backend serving the REST conformance suite's API
//! (`tests/conformance/protos`): started by the `conformance` end-to-end tests,
//! in process and as a remote-mode gateway (`--backend`).

fn main() -> std::process::ExitCode {
    dotlanth_runtime::echo::main(&conformance_api::API)
}
