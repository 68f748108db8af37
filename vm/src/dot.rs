//! Dots: metadata, name rules and module validation at deploy time.

use serde::{Deserialize, Serialize};
use wasmi::{Engine, ExternType, Module, ValType};

use crate::error::VmError;
use crate::host::{HOST_FUNCTIONS, HOST_MODULE};

const WASM_PAGE_BYTES: u128 = 65536;

/// Maximum length of a dot name.
pub const MAX_NAME_LEN: usize = 64;

/// Metadata of a deployed dot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DotInfo {
    /// Unique name.
    pub name: String,
    /// Free-form description given at deploy time.
    pub description: String,
    /// Hex SHA-256 of the stored module bytes.
    pub module_hash: String,
    /// Size of the stored module bytes.
    pub module_size: u64,
    /// Deploy time, unix milliseconds.
    pub deployed_at: u64,
    /// Exported functions (sorted by name). Only those without parameters are callable.
    pub exports: Vec<ExportedFunction>,
}

/// An exported function of a dot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedFunction {
    /// Export name.
    pub name: String,
    /// Parameter types (`"i32"`, `"i64"`, `"f32"`, `"f64"`, `"v128"`, `"funcref"`, `"externref"`).
    pub params: Vec<String>,
    /// Result types.
    pub results: Vec<String>,
}

impl ExportedFunction {
    /// Whether [`Vm::execute`](crate::Vm::execute) can call it (it takes no parameters).
    pub fn is_callable(&self) -> bool {
        self.params.is_empty()
    }
}

/// A `(key, value)` pair of a dot's state.
pub type StateEntry = (Vec<u8>, Vec<u8>);

/// A dot with its current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DotDetails {
    /// Metadata and exports.
    pub info: DotInfo,
    /// Current key/value state, sorted by key.
    pub state: Vec<StateEntry>,
    /// Number of successful executions.
    pub executions: u64,
}

/// Checks a dot name: 1..=64 chars of `[a-z0-9_-]`, starting with a letter.
pub fn validate_name(name: &str) -> Result<(), VmError> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    let starts_with_letter = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if name.len() > MAX_NAME_LEN || !valid_chars || !starts_with_letter {
        // Quote at most a name's worth of what was sent.
        let shown: String = name.chars().take(MAX_NAME_LEN).collect();
        let more = if shown.len() < name.len() { "..." } else { "" };
        return Err(VmError::InvalidInput(format!(
            "invalid dot name {shown:?}{more}: expected 1 to {MAX_NAME_LEN} characters of [a-z0-9_-] starting with a letter"
        )));
    }
    Ok(())
}

pub(crate) fn type_name(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::FuncRef => "funcref",
        ValType::ExternRef => "externref",
    }
}

/// At most `max` bytes of `s` (on a char boundary), marked when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &s[..end], s.len())
}

fn signature(params: &[ValType], results: &[ValType]) -> String {
    let list = |tys: &[ValType]| {
        tys.iter()
            .map(|t| type_name(*t))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

/// Compiles and validates a module (wasm binary or WAT text): size, syntax and validation,
/// imports (only the host functions of module `"env"`, with the right signatures) and the
/// initial size of an exported memory. Returns the module and its exported functions.
pub(crate) fn compile(
    engine: &Engine,
    bytes: &[u8],
    max_module_bytes: usize,
    max_memory_bytes: usize,
) -> Result<(Module, Vec<ExportedFunction>), VmError> {
    if bytes.is_empty() {
        return Err(VmError::InvalidModule("module is empty".into()));
    }
    if bytes.len() > max_module_bytes {
        return Err(VmError::InvalidModule(format!(
            "module is {} bytes, the limit is {max_module_bytes} bytes",
            bytes.len()
        )));
    }
    if !bytes.starts_with(b"\0asm") && std::str::from_utf8(bytes).is_err() {
        return Err(VmError::InvalidModule(
            "neither a WebAssembly binary (no \\0asm header) nor WAT text (not UTF-8)".into(),
        ));
    }
    // `Module::new` accepts both the binary format ("\0asm" magic) and WAT text.
    // Parser messages can quote the offending source line: keep them short.
    let module = Module::new(engine, bytes)
        .map_err(|e| VmError::InvalidModule(truncate(&e.to_string(), 512)))?;

    for import in module.imports() {
        let (module_name, name) = (import.module(), import.name());
        let expected = HOST_FUNCTIONS
            .iter()
            .find(|(host_name, _, _)| module_name == HOST_MODULE && *host_name == name);
        let Some((_, params, results)) = expected else {
            let known: Vec<&str> = HOST_FUNCTIONS.iter().map(|(n, _, _)| *n).collect();
            return Err(VmError::InvalidModule(format!(
                "unknown import \"{module_name}\".\"{name}\"; dots may only import these functions from \"{HOST_MODULE}\": {}",
                known.join(", ")
            )));
        };
        match import.ty() {
            ExternType::Func(ty) if ty.params() == *params && ty.results() == *results => {}
            ExternType::Func(ty) => {
                return Err(VmError::InvalidModule(format!(
                    "import \"{HOST_MODULE}\".\"{name}\" has signature {}, expected {}",
                    signature(ty.params(), ty.results()),
                    signature(params, results)
                )));
            }
            _ => {
                return Err(VmError::InvalidModule(format!(
                    "import \"{HOST_MODULE}\".\"{name}\" must be a function"
                )));
            }
        }
    }

    let mut exports = Vec::new();
    for export in module.exports() {
        match export.ty() {
            ExternType::Func(ty) => exports.push(ExportedFunction {
                name: export.name().to_string(),
                params: ty
                    .params()
                    .iter()
                    .map(|t| type_name(*t).to_string())
                    .collect(),
                results: ty
                    .results()
                    .iter()
                    .map(|t| type_name(*t).to_string())
                    .collect(),
            }),
            ExternType::Memory(ty) => {
                // Custom page sizes are disabled in our engine, so pages are 64 KiB.
                let initial = u128::from(ty.minimum()) * WASM_PAGE_BYTES;
                if initial > max_memory_bytes as u128 {
                    return Err(VmError::InvalidModule(format!(
                        "memory \"{}\" starts at {initial} bytes, the limit is {max_memory_bytes} bytes",
                        export.name()
                    )));
                }
            }
            _ => {}
        }
    }
    exports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((module, exports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "counter", "my-dot_2", &"a".repeat(64)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "_x",
            "-x",
            "Abc",
            "a b",
            "a.b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(
                matches!(validate_name(bad), Err(VmError::InvalidInput(_))),
                "{bad}"
            );
        }
    }
}
