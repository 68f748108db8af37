//! `cargo xtask bench`: benchmarks reported as ratios against a baseline measured
//! in the same run.

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct BenchArgs {
    /// Which benchmark: `grpc`.
    which: String,
}

pub fn run(args: BenchArgs) -> Result<()> {
    anyhow::bail!("unknown benchmark `{}` (known: grpc)", args.which)
}
