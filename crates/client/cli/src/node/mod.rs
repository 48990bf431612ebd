//! `veil dev` and `veil node start`: run a Veil node (`veil node join`: `join.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use veil_client::{dev_key, Backend, Keyring};
use veil_host::EnclaveMode;
use veil_node::node::{run, NodeConfig, DEFAULT_P2P_PORT, DEFAULT_RPC_PORT};
use veil_node::{Genesis, GenesisAccount, Params};

use crate::shared::parse_duration;

mod join;

/// The dev chain's id.
pub const DEV_CHAIN_ID: &str = "veil-dev";
/// The funded development accounts (their keys are public).
pub const DEV_ACCOUNTS: [&str; 3] = ["alice", "bob", "carol"];
/// What each development account starts with.
pub const DEV_BALANCE: u128 = 1_000_000_000_000;

#[derive(Args)]
pub struct NodeArgs {
    /// Where the RPC server listens (default: the home's node.json, else 127.0.0.1:26657).
    #[arg(long)]
    pub rpc_addr: Option<SocketAddr>,
    /// Where consensus (libp2p) listens (default: the home's node.json, else
    /// 127.0.0.1:26656; `veil dev`: any free port).
    #[arg(long)]
    pub p2p_addr: Option<SocketAddr>,
    /// Another validator's consensus address (repeat for each; default: the home's
    /// node.json).
    #[arg(long = "peer-p2p")]
    pub peers: Vec<SocketAddr>,
    /// Where transaction gossip (libp2p) listens (default: the home's node.json, else any
    /// free port on the consensus address's IP).
    #[arg(long)]
    pub gossip_addr: Option<SocketAddr>,
    /// Another node's gossip address to pass transactions to and take them from (repeat
    /// for each; default: the home's node.json; `veil node join`: its peer's).
    #[arg(long = "gossip-peer")]
    pub gossip_peers: Vec<SocketAddr>,
    /// Time between blocks, e.g. `1s`, `200ms`.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub block_time: Duration,
    /// Where the enclave runs: in this process, or as the `veil-enclave` executable
    /// found next to `veil` (what a TEE build runs).
    #[arg(long, value_enum, default_value_t = EnclaveChoice::InProcess)]
    pub enclave: EnclaveChoice,
    /// Log every enclave crossing (names and sizes only) to stderr.
    #[arg(long)]
    pub log_crossings: bool,
    /// Dev chains only (refused on any other genesis): let this home's owner decrypt every
    /// transaction and all contract state with `veil inspect` — this gives up the chain's
    /// confidentiality. Creates the owner key <home>/node/inspect-owner.key (mode 0600).
    #[arg(long)]
    pub inspect: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EnclaveChoice {
    InProcess,
    Process,
}

#[derive(Args)]
pub struct DevArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Delete the chain (not the keys) and start a new one.
    #[arg(long)]
    pub reset: bool,
}

#[derive(Subcommand)]
pub enum NodeCommand {
    /// Run a node from a genesis file (or resume the chain in its home).
    Start {
        #[command(flatten)]
        node: NodeArgs,
        /// Genesis file (JSON), needed the first time.
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// Join a network through a peer and follow its chain.
    #[command(long_about = "\
Join the network a peer runs, then follow its chain: fetch the genesis from --peer and
check it against --genesis-hash (shown by the network's `veil status`) or use --genesis
FILE — a peer must not be able to hand you a network of its own; start this node's
enclave on it (without the master seed); submit a register_node transaction signed by
--from, carrying the enclave's attestation, which every node's enclave verifies against
the genesis attestation policy; install the seed share the network wrote for this
enclave (accepted only if it derives the genesis network key); then replay every block
from the peer in this node's own enclave, checking each block's header and state root,
and serve RPC. Run it again to resume.

Example: veil node join --home ./n1 --peer http://127.0.0.1:26657 --genesis-hash 3f2a... --from bob --rpc-addr 127.0.0.1:26667")]
    Join(JoinArgs),
}

#[derive(Args)]
pub struct JoinArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// A node of the network (its RPC URL).
    #[arg(long, value_name = "URL")]
    pub peer: String,
    /// The genesis hash to accept (64 hex digits).
    #[arg(
        long,
        value_name = "HEX",
        conflicts_with = "genesis",
        required_unless_present = "genesis"
    )]
    pub genesis_hash: Option<String>,
    /// The network's genesis file (JSON, with its network section) instead of a hash.
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// The operator account that signs and pays for the registration (a keyring key).
    #[arg(long, value_name = "KEY")]
    pub from: String,
    /// Where the operator's keyring is [default: $VEIL_HOME, else ~/.veil].
    #[arg(long, value_name = "DIR")]
    pub keyring_home: Option<PathBuf>,
}

pub(crate) fn node_config(args: &NodeArgs, home: &Path) -> anyhow::Result<NodeConfig> {
    let mut config = NodeConfig::new(home.join("node"));
    let file = NodeFile::load(&config.home)?;
    config.rpc_addr = args
        .rpc_addr
        .or(file.as_ref().map(|f| f.rpc_addr))
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], DEFAULT_RPC_PORT)));
    config.p2p_addr = args
        .p2p_addr
        .or(file.as_ref().map(|f| f.p2p_addr))
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], DEFAULT_P2P_PORT)));
    config.gossip_addr = Some(
        args.gossip_addr
            .or(file.as_ref().and_then(|f| f.gossip_addr))
            .unwrap_or(SocketAddr::new(config.p2p_addr.ip(), 0)),
    );
    config.gossip_peers = if args.gossip_peers.is_empty() {
        file.as_ref()
            .map(|f| f.gossip_peers.clone())
            .unwrap_or_default()
    } else {
        args.gossip_peers.clone()
    };
    config.persistent_peers = if args.peers.is_empty() {
        file.map(|f| f.persistent_peers).unwrap_or_default()
    } else {
        args.peers.clone()
    };
    config.block_time = args.block_time;
    config.log_crossings = args.log_crossings;
    config.inspect = args.inspect;
    config.validator_key = veil_node::node::load_validator_key(&config.home)?;
    config.enclave = match args.enclave {
        EnclaveChoice::InProcess => EnclaveMode::InProcess,
        EnclaveChoice::Process => {
            let exe = std::env::current_exe().context("finding the veil executable")?;
            let path = exe.with_file_name("veil-enclave");
            if !path.exists() {
                bail!(
                    "the veil-enclave executable is not next to veil ({}); build it with `cargo build -p veil-enclave`",
                    path.display()
                );
            }
            EnclaveMode::Process(path)
        }
    };
    Ok(config)
}

/// A node home's addresses (`<home>/node/node.json`, written by `veil testnet init`);
/// flags override them.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct NodeFile {
    pub rpc_addr: SocketAddr,
    pub p2p_addr: SocketAddr,
    pub persistent_peers: Vec<SocketAddr>,
    /// Where transaction gossip listens.
    #[serde(default)]
    pub gossip_addr: Option<SocketAddr>,
    /// The other validators' gossip addresses.
    #[serde(default)]
    pub gossip_peers: Vec<SocketAddr>,
}

impl NodeFile {
    pub const NAME: &'static str = "node.json";

    pub fn load(node_dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = node_dir.join(Self::NAME);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| anyhow!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow!("reading {}: {e}", path.display())),
        }
    }
}

/// The node's home: the global `--home` (else $VEIL_HOME, else ~/.veil); the chain lives
/// in <home>/node.
pub(crate) fn home_of() -> anyhow::Result<PathBuf> {
    crate::shared::settings().home()
}

/// The development accounts alice, bob and carol, imported into the test keyring of
/// `home` (their keys are public), funded for a genesis.
pub(crate) fn dev_accounts(home: &Path, announce: bool) -> anyhow::Result<Vec<GenesisAccount>> {
    let keyring = Keyring::open(home, Backend::Test)?;
    if announce {
        eprintln!(
            "veil: development accounts (keyring-backend test in {}):",
            home.display()
        );
    }
    let mut accounts = Vec::new();
    for name in DEV_ACCOUNTS {
        let key = dev_key(name);
        match keyring.show(name) {
            Ok(info) if info.address == key.address() => {}
            Ok(info) => bail!(
                "the test keyring in {} already has a key {name:?} ({}) that is not the dev account; delete it or use another --home",
                home.display(),
                info.address
            ),
            Err(_) => {
                keyring.import(name, &veil_client::keys::dev_mnemonic(name), None, false)?;
            }
        }
        if announce {
            eprintln!("  {name:<6} {}", key.address());
            eprintln!(
                "         mnemonic: {}",
                veil_client::keys::dev_mnemonic(name).phrase().as_str()
            );
        }
        accounts.push(GenesisAccount {
            address: key.address().to_string(),
            balance: DEV_BALANCE,
        });
    }
    if announce {
        eprintln!(
            "veil: WARNING: these keys are public (anyone can derive them from their names); never use them outside a dev chain"
        );
    }
    Ok(accounts)
}

pub fn dev(args: DevArgs) -> anyhow::Result<ExitCode> {
    if let Some(other) = crate::shared::settings()
        .explicit_chain_id()
        .filter(|id| *id != DEV_CHAIN_ID)
    {
        bail!("`veil dev` runs the chain {DEV_CHAIN_ID}, not {other:?} (--chain-id or $VEIL_CHAIN_ID)");
    }
    let home = home_of()?;
    let node_dir = home.join("node");
    if args.reset && node_dir.exists() {
        // Never delete a chain from under a running node (redb holds a lock on its file).
        if let Err(e) = veil_node::store::Store::open(&node_dir.join("chain.redb")) {
            if e.to_string().contains("already open") {
                bail!(
                    "a node is running on {}; stop it before --reset",
                    home.display()
                );
            }
        }
        std::fs::remove_dir_all(&node_dir)
            .with_context(|| format!("removing {}", node_dir.display()))?;
        eprintln!("veil: removed the old chain in {}", node_dir.display());
    }
    let mut config = node_config(&args.node, &home)?;
    // One validator, no peers: any free port does for consensus.
    if args.node.p2p_addr.is_none() {
        config.p2p_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    }
    let accounts = dev_accounts(&home, true)?;
    if !node_dir.join("chain.redb").exists() {
        // A one-validator chain: this node's key alone certifies its blocks. A key left
        // by an earlier dev chain in this home is reused.
        let validator = match veil_node::node::load_validator_key(&node_dir)? {
            Some(key) => key,
            None => veil_node::node::create_validator_key(&node_dir)?,
        };
        let genesis = Genesis {
            chain_id: DEV_CHAIN_ID.into(),
            genesis_time_nanos: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            accounts,
            params: Params::default(),
            // Any simulated enclave may join (and receive the seed): a development chain.
            attestation_policy: Some(veil_host::simulated_attestation_policy()),
            validators: vec![veil_types::genesis::GenesisValidator {
                name: "dev".into(),
                public_key: validator.verification_key().to_bytes(),
                power: 1,
            }],
            // alice may change the attestation policy and revoke enclaves.
            authority: Some(dev_key("alice").address().to_string()),
            network: None,
            // A development chain: its owner may inspect it (`--inspect`).
            dev: true,
        };
        std::fs::create_dir_all(&node_dir)
            .with_context(|| format!("creating {}", node_dir.display()))?;
        let path = node_dir.join("genesis.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&genesis)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "veil: new dev chain {DEV_CHAIN_ID}, genesis in {}",
            path.display()
        );
        config.genesis = Some(genesis);
        config.validator_key = Some(validator);
    }
    write_dev_client_config(&home, config.rpc_addr)?;
    run(config)?;
    Ok(ExitCode::SUCCESS)
}

/// Records how to reach this dev chain in its home's client config, so that `veil tx ...
/// --from alice` (with this home) needs no more flags.
fn write_dev_client_config(home: &Path, rpc_addr: SocketAddr) -> anyhow::Result<()> {
    let mut reachable = rpc_addr;
    if reachable.ip().is_unspecified() {
        reachable.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let node = format!("http://{reachable}");
    crate::shared::set_config_values(
        home,
        &[
            ("node", &node),
            ("chain-id", DEV_CHAIN_ID),
            ("keyring-backend", "test"),
        ],
    )
    .context("writing the dev chain's client config")?;
    eprintln!(
        "veil: client config in {}: node {node}, chain-id {DEV_CHAIN_ID}, keyring-backend test",
        home.join(crate::shared::CLIENT_CONFIG).display()
    );
    Ok(())
}

pub fn node(command: NodeCommand) -> anyhow::Result<ExitCode> {
    match command {
        NodeCommand::Start { node, genesis } => {
            let home = home_of()?;
            let mut config = node_config(&node, &home)?;
            if let Some(path) = genesis {
                let text =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let genesis: Genesis = serde_json::from_slice(&text)
                    .map_err(|e| anyhow!("{}: not a genesis file: {e}", path.display()))?;
                config.genesis = Some(genesis);
            }
            run(config)?;
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Join(args) => join::join(args),
    }
}
