use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use veil_contract_build::{build_contract, build_published, ensure_toolchain, BuildOptions};

#[derive(clap::Args)]
pub struct BuildArgs {
    /// Contract crate directory (default: current directory).
    #[arg(conflicts_with = "crate_spec")]
    path: Option<PathBuf>,
    /// Build a published crate instead, e.g. `cw20-base@2.0.0` (fetched from crates.io).
    #[arg(long = "crate", value_name = "NAME@VERSION")]
    crate_spec: Option<String>,
    /// Emit what stock Rust emits (bulk-memory etc.) instead of MVP Wasm. MVP output also
    /// loads in cosmwasm-vm; Veil runs both.
    #[arg(long)]
    no_mvp: bool,
    /// A NEAR contract (near-sdk 5): MVP Wasm with `--cfg near`, as cargo-near builds it.
    #[arg(long, conflicts_with = "no_mvp")]
    near: bool,
    /// Directory for the .wasm (default: <crate>/artifacts).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    #[arg(long, short)]
    quiet: bool,
}

pub fn build(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let opts = BuildOptions {
        mvp: !args.no_mvp,
        out_dir: args.out_dir.clone(),
        quiet: args.quiet,
        near: args.near,
    };
    let wasm = match (&args.crate_spec, &args.path) {
        (Some(spec), _) => {
            let (name, version) = spec
                .split_once('@')
                .with_context(|| format!("--crate takes NAME@VERSION, got {spec:?}"))?;
            build_published(name, version, &opts)?
        }
        (None, path) => {
            ensure_toolchain(args.quiet)?;
            let dir = match path {
                Some(path) => crate::absolute(path),
                None => std::env::current_dir()?,
            };
            build_contract(&dir, &opts)?
        }
    };
    println!("{}", wasm.display());
    Ok(ExitCode::SUCCESS)
}
