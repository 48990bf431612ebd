//! `veil`: the command-line entry to Veil.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod contract;
mod vm;

#[derive(Parser)]
#[command(
    name = "veil",
    version,
    about = "Veil: confidential CosmWasm smart contracts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run contracts directly on the engine (plaintext; a developer's debugging tool).
    Vm {
        #[command(subcommand)]
        command: vm::VmCommand,
    },
    /// Build contracts to Wasm.
    Contract {
        #[command(subcommand)]
        command: ContractCommand,
    },
}

#[derive(Subcommand)]
enum ContractCommand {
    /// Build a contract crate for wasm32 (installs the Debian toolchain if missing).
    Build(contract::BuildArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Vm { command } => vm::run(command),
        Command::Contract {
            command: ContractCommand::Build(args),
        } => contract::build(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Resolves `path` relative to the current directory, for clearer messages.
pub(crate) fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
