//! `cargo xtask gen`: compile protos with protox (no protoc) and run the generator.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct GenArgs {
    /// Do not write; exit non-zero naming every file that differs.
    #[arg(long)]
    check: bool,
    /// Root of a proto tree (also the import path); files under `google/` are
    /// vendored dependencies, not generated. Without it: every tree of the project.
    #[arg(long, requires = "out")]
    protos: Option<PathBuf>,
    /// Output directory (the generated crate) for `--protos`.
    #[arg(long, requires = "protos")]
    out: Option<PathBuf>,
    /// Name of the generated crate for `--protos`.
    #[arg(long, default_value = "dotlanth-api")]
    crate_name: String,
    /// OpenAPI version of the document for `--protos`: 3.0 (3.0.3) or 3.1 (3.1.0).
    #[arg(long, requires = "protos", default_value = "3.0")]
    openapi: dotlanth_codegen::emit::openapi::Version,
}

/// The project's proto trees and their generated crates: the API, a test-only
/// tree no one here designed for our needs (a fixture that must also compile),
/// and the REST conformance suite's tree (served by the echo backend).
const TREES: &[(&str, &str, &str)] = &[
    ("proto", "generated", "dotlanth-api"),
    ("tests/protos", "tests/library-api", "library-api"),
    (
        "tests/conformance/protos",
        "tests/conformance-api",
        "conformance-api",
    ),
];

/// The `google.rpc` status and error-detail types (from `proto/`), compiled into
/// the runtime as a descriptor set so the REST surface can render
/// `grpc-status-details-bin` as proto3 JSON whatever API it serves:
/// `(proto tree, files, crate, file written in the crate)`.
const RPC_DESCRIPTORS: (&str, &[&str], &str, &str) = (
    "proto",
    &["google/rpc/error_details.proto", "google/rpc/status.proto"],
    "runtime",
    "src/rest/rpc_descriptor_set.rs",
);

/// The runtime's `google.rpc` descriptor set, by the generator's descriptor
/// emitter (the same bytes for the same protos, imports included).
fn rpc_descriptors(root: &Path) -> Result<dotlanth_codegen::GeneratedFile> {
    let (protos, files, _, path) = RPC_DESCRIPTORS;
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(protox::file::GoogleFileResolver::new());
    resolver.add(protox::file::IncludeFileResolver::new(root.join(protos)));
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler
        .open_files(files)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let names: Vec<String> = files.iter().map(|f| f.to_string()).collect();
    let mut file = dotlanth_codegen::emit::descriptor::emit(&compiler.descriptor_pool(), &names)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    file.path = path.to_string();
    Ok(file)
}

pub fn run(args: GenArgs) -> Result<()> {
    let root = crate::root();
    let trees: Vec<(PathBuf, PathBuf, dotlanth_codegen::Options)> = match (&args.protos, &args.out)
    {
        (Some(protos), Some(out)) => {
            let mut options = options(&args.crate_name)?;
            options.openapi = args.openapi;
            vec![(root.join(protos), root.join(out), options)]
        }
        _ => TREES
            .iter()
            .map(|(p, o, n)| Ok((root.join(p), root.join(o), options(n)?)))
            .collect::<Result<_>>()?,
    };
    let mut stale = Vec::new();
    for (protos, out, options) in &trees {
        let files = generate_with_includes(protos, &[], options, &[])?;
        if args.check {
            // Name files relative to the workspace when checking every tree.
            let prefix = match (&args.out, out.strip_prefix(&root)) {
                (None, Ok(rel)) => format!("{}/", rel.display()),
                _ => String::new(),
            };
            stale.extend(
                stale_files(out, &files)?
                    .into_iter()
                    .map(|s| format!("{prefix}{s}")),
            );
        } else {
            write(out, &files)?;
            println!("wrote {} files to {}", files.len(), out.display());
        }
    }
    if args.protos.is_none() {
        let file = rpc_descriptors(&root)?;
        let out = root.join(RPC_DESCRIPTORS.2);
        let target = out.join(&file.path);
        if args.check {
            if fs::read(&target).ok().as_deref() != Some(file.contents.as_slice()) {
                stale.push(format!("{}/{} (differs)", RPC_DESCRIPTORS.2, file.path));
            }
        } else if fs::read(&target).ok().as_deref() != Some(file.contents.as_slice()) {
            fs::write(&target, &file.contents)
                .with_context(|| format!("writing {}", target.display()))?;
            println!("wrote {}", target.display());
        }
    }
    if !stale.is_empty() {
        for s in &stale {
            eprintln!("stale: {s}");
        }
        bail!(
            "{} generated file(s) differ from the protos; run `cargo xtask gen`",
            stale.len()
        );
    }
    if args.check {
        println!("generated code is up to date");
    }
    Ok(())
}

/// Every `.proto` under `dir` except vendored `google/` files, relative and sorted.
pub fn proto_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.retain(|f| f.ends_with(".proto") && !f.starts_with("google/"));
    out.sort();
    if out.is_empty() {
        bail!("no .proto files under {}", dir.display());
    }
    Ok(out)
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            walk(base, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// The generator's options for a crate named `crate_name` (defaults otherwise).
pub fn options(crate_name: &str) -> Result<dotlanth_codegen::Options> {
    dotlanth_codegen::Options::new(crate_name).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Compiles the tree (with more import paths after `protos`) and runs the
/// generator in memory. When `only` is not empty, just the files under one of its
/// folders, or named by it, are generated (see [`selected`]; they may be under
/// `google/`).
pub fn generate_with_includes(
    protos: &Path,
    includes: &[PathBuf],
    options: &dotlanth_codegen::Options,
    only: &[String],
) -> Result<Vec<dotlanth_codegen::GeneratedFile>> {
    let files = if only.is_empty() {
        proto_files(protos)?
    } else {
        let mut all = Vec::new();
        walk(protos, protos, &mut all)?;
        all.retain(|f| f.ends_with(".proto") && only.iter().any(|p| selected(f, p)));
        all.sort();
        if all.is_empty() {
            bail!("no .proto files under {} match {only:?}", protos.display());
        }
        all
    };
    // The well-known types always come from protox (the ones the generated code
    // maps to), even when the tree ships its own, possibly newer, copies.
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(protox::file::GoogleFileResolver::new());
    for dir in std::iter::once(protos).chain(includes.iter().map(PathBuf::as_path)) {
        resolver.add(protox::file::IncludeFileResolver::new(dir.to_path_buf()));
    }
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&files).map_err(|e| match e.file() {
        Some(file) => anyhow::anyhow!("{file}: {e}"),
        None => anyhow::anyhow!("{e}"),
    })?;
    let set = compiler.encode_file_descriptor_set();
    dotlanth_codegen::generate(&set, &files, options).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Files under `out` that are missing, different, or generated earlier but not
/// any more.
pub fn stale_files(out: &Path, files: &[dotlanth_codegen::GeneratedFile]) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    for f in files {
        match fs::read(out.join(&f.path)) {
            Ok(bytes) if bytes == f.contents => {}
            Ok(_) => stale.push(format!("{} (differs)", f.path)),
            Err(_) => stale.push(format!("{} (missing)", f.path)),
        }
    }
    for extra in extra_files(out, files)? {
        stale.push(format!("{extra} (not generated any more)"));
    }
    Ok(stale)
}

/// Files in the generator's output folders (`src/`, `openapi/`, ...) that an
/// earlier run generated (their first line carries the generator's marker) but
/// this run did not. Any other file there is somebody's own and is left alone.
fn extra_files(out: &Path, files: &[dotlanth_codegen::GeneratedFile]) -> Result<Vec<String>> {
    // Look only in the folders the generator writes to (`src/`, `openapi/`, ...).
    let folders: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| f.path.split_once('/').map(|(d, _)| d))
        .collect();
    let mut present = Vec::new();
    for folder in folders {
        let dir = out.join(folder);
        if dir.is_dir() {
            walk(out, &dir, &mut present)?;
        }
    }
    let expected: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let mut extra = Vec::new();
    for p in present {
        if expected.contains(p.as_str()) {
            continue;
        }
        let path = out.join(&p);
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if dotlanth_codegen::emit::is_generated(&bytes) {
            extra.push(p);
        }
    }
    Ok(extra)
}

/// Whether `file` (a path relative to the tree) is `prefix` or under it, by
/// whole path components: `google/cloud/tasks/v2` takes
/// `google/cloud/tasks/v2/cloudtasks.proto`, not `google/cloud/tasks/v2beta2/...`
/// (whose same-named services would collide with v2's).
fn selected(file: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    !prefix.is_empty()
        && file
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Writes the files (only those that changed) and removes stale generated ones
/// under `src/`.
pub fn write(out: &Path, files: &[dotlanth_codegen::GeneratedFile]) -> Result<()> {
    for extra in extra_files(out, files)? {
        fs::remove_file(out.join(&extra))?;
    }
    for f in files {
        let path = out.join(&f.path);
        if fs::read(&path).is_ok_and(|b| b == f.contents) {
            continue;
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(&path, &f.contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::selected;

    #[test]
    fn only_selects_whole_path_components() {
        let file = "google/cloud/tasks/v2/cloudtasks.proto";
        for prefix in [
            "google/cloud/tasks/v2",
            "google/cloud/tasks/v2/",
            "google",
            file,
        ] {
            assert!(selected(file, prefix), "{prefix}");
        }
        let beta = "google/cloud/tasks/v2beta2/cloudtasks.proto";
        for prefix in [
            "google/cloud/tasks/v2",
            "google/cloud/tasks/v2/",
            "goo",
            "",
            "/",
        ] {
            assert!(!selected(beta, prefix), "{prefix}");
        }
    }
}
