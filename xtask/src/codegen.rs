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
    /// Root of the proto tree (also the import path). Files under `google/` are
    /// treated as vendored dependencies, not generated.
    #[arg(long, default_value = "proto")]
    protos: PathBuf,
    /// Output directory (the generated crate).
    #[arg(long, default_value = "generated")]
    out: PathBuf,
    /// Name of the generated crate.
    #[arg(long, default_value = "dotlanth-api")]
    crate_name: String,
}

pub fn run(args: GenArgs) -> Result<()> {
    let root = crate::root();
    let protos = root.join(&args.protos);
    let out = root.join(&args.out);
    let files = generate(&protos, &args.crate_name)?;
    if args.check {
        let stale = stale_files(&out, &files)?;
        if stale.is_empty() {
            println!("generated code is up to date ({} files)", files.len());
            return Ok(());
        }
        for s in &stale {
            eprintln!("stale: {s}");
        }
        bail!(
            "{} generated file(s) differ from the protos; run `cargo xtask gen`",
            stale.len()
        );
    }
    write(&out, &files)?;
    println!("wrote {} files to {}", files.len(), out.display());
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

/// Compiles the tree and runs the generator in memory.
pub fn generate(protos: &Path, crate_name: &str) -> Result<Vec<dotlanth_codegen::GeneratedFile>> {
    let files = proto_files(protos)?;
    let mut compiler = protox::Compiler::new([protos])?;
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_files(&files)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let set = compiler.encode_file_descriptor_set();
    let options = dotlanth_codegen::Options {
        crate_name: crate_name.to_string(),
    };
    dotlanth_codegen::generate(&set, &files, &options).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Files under `out` that are missing, different, or not generated at all.
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

/// Files under `out/src` that the generator did not produce.
fn extra_files(out: &Path, files: &[dotlanth_codegen::GeneratedFile]) -> Result<Vec<String>> {
    let src = out.join("src");
    if !src.is_dir() {
        return Ok(Vec::new());
    }
    let mut present = Vec::new();
    walk(out, &src, &mut present)?;
    let expected: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    Ok(present
        .into_iter()
        .filter(|p| !expected.contains(p.as_str()))
        .collect())
}

/// Writes the files (only those that changed) and removes stale ones under `src/`.
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
