//! `veil`: the command-line entry to Veil.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: under load, glibc malloc spent ~14% of the block-commit thread in its
/// free-list upkeep (`unlink_chunk`, `malloc_consolidate`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod config;
mod contract;
mod governance;
mod inspect;
mod keys;
mod node;
mod policy;
mod query;
mod shared;
mod testnet;
mod tx;
mod vm;
mod vm_near;

#[derive(Parser)]
#[command(
    name = "veil",
    version,
    about = "Veil: confidential CosmWasm smart contracts"
)]
struct Cli {
    #[command(flatten)]
    global: shared::GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a single-node confidential dev chain with funded accounts alice, bob and
    /// carol (created on first run, resumed afterwards; --reset starts over).
    Dev(node::DevArgs),
    /// A local BFT network of validators: `init` writes their homes, `start` runs them.
    Testnet {
        #[command(subcommand)]
        command: testnet::TestnetCommand,
    },
    /// Run a node.
    Node {
        #[command(subcommand)]
        command: node::NodeCommand,
    },
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
    /// Manage the local keyring (create, recover, list, show, export, import, delete keys).
    #[command(long_about = keys::KEYS_LONG_ABOUT)]
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Sign and send transactions: send uveil; store, instantiate, execute, migrate contracts.
    #[command(long_about = tx::TX_LONG_ABOUT)]
    Tx {
        #[command(subcommand)]
        command: tx::TxCommand,
    },
    /// Read the chain: query contracts (encrypted), transactions, blocks, accounts, code.
    #[command(long_about = query::QUERY_LONG_ABOUT)]
    Query {
        #[command(subcommand)]
        command: query::QueryCommand,
    },
    /// Dev chains started with `veil dev --inspect`: decrypt any transaction or contract
    /// state (the home's owner only).
    #[command(long_about = inspect::INSPECT_LONG_ABOUT)]
    Inspect {
        #[command(subcommand)]
        command: inspect::InspectCommand,
    },
    /// Show the node's status: chain id, height, network encryption key.
    Status(query::StatusArgs),
    /// Read or change the home's client settings (`<home>/config/client.toml`).
    #[command(long_about = config::CONFIG_LONG_ABOUT)]
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ContractCommand {
    /// Build a contract crate for wasm32 (installs the Debian toolchain if missing).
    Build(contract::BuildArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = shared::Settings::install(cli.global) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Dev(args) => node::dev(args),
        Command::Testnet { command } => testnet::testnet(command),
        Command::Node { command } => node::node(command),
        Command::Vm { command } => vm::run(command),
        Command::Contract {
            command: ContractCommand::Build(args),
        } => contract::build(args),
        Command::Keys { command } => keys::run(command),
        Command::Tx { command } => tx::run(command),
        Command::Query { command } => query::run(command),
        Command::Inspect { command } => inspect::run(command),
        Command::Status(args) => query::status(args),
        Command::Config { command } => config::run(command),
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand's flags are checked against the global ones (no duplicate names).
    #[test]
    fn the_command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
