//! `protoc-gen-dotlanth`: the generator as a protoc plugin, for `buf generate`.
//! Reads a `CodeGeneratorRequest` on stdin and writes a `CodeGeneratorResponse`
//! on stdout.

use std::io::{Read, Write};

fn main() -> std::process::ExitCode {
    let mut request = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut request) {
        eprintln!("protoc-gen-dotlanth: cannot read the request: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let response = dotlanth_codegen::plugin::run(&request);
    if let Err(e) = std::io::stdout().write_all(&response) {
        eprintln!("protoc-gen-dotlanth: cannot write the response: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
