//! `veil testnet`: a BFT network of N validators on this machine.
//!
//! `init` writes one home per validator (`DIR/node0` …) with one genesis. Node 0's enclave
//! generates the master seed; every other validator's enclave attests its registration
//! key, and block 1 — certified by all N validator keys, which `init` holds — carries
//! their `register_node` transactions. Node 0 executes it and so shares the seed; each
//! other node installs its share and executes the same block itself, so all N homes start
//! at height 1 with the same state root. Consensus (Malachite) takes over at height 2.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use veil_client::dev_key;
use veil_host::EnclaveMode;
use veil_node::join::Joining;
use veil_node::node::{create_validator_key, VALIDATOR_KEY_FILE};
use veil_node::{App, AppConfig, Genesis, Params};
use veil_types::consensus::{sign_precommit, CommitCertificate, ValidatorKey};
use veil_types::genesis::GenesisValidator;
use veil_types::{Msg, TxBody};

use crate::node::{dev_accounts, NodeFile};

#[derive(Subcommand)]
pub enum TestnetCommand {
    /// Write the homes of a new local network of validators.
    Init(InitArgs),
    /// Run every validator of a local network (one `veil node start` each) until Ctrl-C.
    Start(StartArgs),
}

/// The new network's chain id: the global `--chain-id` (or `$VEIL_CHAIN_ID`), else
/// `veil-testnet`.
fn chain_id() -> &'static str {
    crate::shared::settings()
        .explicit_chain_id()
        .unwrap_or("veil-testnet")
}

#[derive(Args)]
pub struct InitArgs {
    /// How many validators (each with voting power 1; more than 2/3 must be up).
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Where the homes go (`DIR/node0` …); must not hold a network yet.
    #[arg(long)]
    pub dir: PathBuf,
    /// Node i serves RPC on BASE+2i, consensus on BASE+2i+1 and transaction gossip on
    /// BASE+2N+i (loopback).
    #[arg(long, default_value_t = 26700)]
    pub base_port: u16,
}

#[derive(Args)]
pub struct StartArgs {
    #[arg(long)]
    pub dir: PathBuf,
    /// Minimum time between blocks, e.g. `1s`, `200ms`.
    #[arg(long, default_value = "1s")]
    pub block_time: String,
}

pub fn testnet(command: TestnetCommand) -> anyhow::Result<ExitCode> {
    match command {
        TestnetCommand::Init(args) => init(args),
        TestnetCommand::Start(args) => start(args),
    }
}

fn node_home(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("node{i}"))
}

fn app_config(home: &Path) -> AppConfig {
    AppConfig {
        home: home.join("node"),
        enclave: EnclaveMode::InProcess,
        log_crossings: false,
        inspect: false,
    }
}

fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let n = args.validators;
    if n == 0 || n > 32 {
        bail!("--validators must be 1 to 32");
    }
    if usize::from(args.base_port) + 3 * n > usize::from(u16::MAX) {
        bail!(
            "--base-port {} leaves no room for {n} nodes",
            args.base_port
        );
    }
    let dir = crate::absolute(&args.dir);
    for i in 0..n {
        let node_dir = node_home(&dir, i).join("node");
        if node_dir.exists() {
            bail!(
                "{} exists already: choose another --dir or delete it",
                node_dir.display()
            );
        }
    }
    eprintln!(
        "veil: a {n}-validator network {} in {}",
        chain_id(),
        dir.display()
    );
    let mut keys: Vec<ValidatorKey> = Vec::with_capacity(n);
    for i in 0..n {
        keys.push(create_validator_key(&node_home(&dir, i).join("node"))?);
    }
    // Every home's keyring holds the public dev accounts.
    let mut accounts = Vec::new();
    for i in 0..n {
        accounts = dev_accounts(&node_home(&dir, i), i == 0)?;
    }
    let operator = dev_key("alice");
    let genesis = Genesis {
        chain_id: chain_id().to_string(),
        genesis_time_nanos: now_nanos(),
        accounts,
        params: Params::default(),
        // Any simulated enclave may join (and receive the seed): a test network.
        attestation_policy: Some(veil_host::simulated_attestation_policy()),
        validators: keys
            .iter()
            .enumerate()
            .map(|(i, key)| GenesisValidator {
                name: format!("node{i}"),
                public_key: key.verification_key().to_bytes(),
                power: 1,
            })
            .collect(),
        authority: Some(operator.address().to_string()),
        network: None,
        dev: false,
    };
    genesis.validate().map_err(|e| anyhow!("genesis: {e}"))?;

    // Node 0's enclave generates the master seed and completes the genesis.
    let mut first = App::open(&app_config(&node_home(&dir, 0)), Some(&genesis))
        .map_err(|e| anyhow!("node0: {e}"))?;
    let genesis = first.genesis().clone();
    eprintln!(
        "veil: node0's enclave generated the master seed (network key {})",
        hex::encode(first.network_key().0)
    );

    // The other enclaves attest their registration keys, for alice as operator.
    let mut joining = Vec::new();
    let mut txs = Vec::new();
    for i in 1..n {
        let node = Joining::open(&app_config(&node_home(&dir, i)), &genesis)
            .map_err(|e| anyhow!("node{i}: {e}"))?;
        let attested = node
            .attest(operator.address())
            .map_err(|e| anyhow!("node{i}: {e}"))?;
        let gas_limit = 1_000_000;
        let tx = operator.sign(TxBody {
            chain_id: genesis.chain_id.clone(),
            sequence: (i - 1) as u64,
            gas_limit,
            fee: veil_types::required_fee(gas_limit, genesis.params.fee_per_million_gas),
            memo: format!("register node{i}"),
            msg: Msg::RegisterNode {
                registration_key: attested.registration_key,
                attestation: attested.attestation,
            },
        });
        txs.push(tx.to_bytes());
        joining.push(node);
    }

    // Block 1, certified by every validator: node 0 shares the seed with the others.
    let header = first.next_header(now_nanos(), &txs);
    let hash = header.hash();
    let certificate = CommitCertificate {
        height: header.height,
        round: 0,
        block_hash: hash,
        signatures: keys
            .iter()
            .map(|key| sign_precommit(key, &genesis.chain_id, header.height, 0, &hash))
            .collect(),
    };
    let finalized = first
        .finalize_block(header.clone(), txs.clone(), certificate.clone())
        .map_err(|e| anyhow!("node0: {e}"))?;
    if let Some(failed) = finalized.receipts.iter().find(|r| !r.ok) {
        bail!(
            "registering a validator failed: {}",
            failed.error.as_deref().unwrap_or("unknown error")
        );
    }
    first.commit().map_err(|e| anyhow!("node0: {e}"))?;
    let root = first.store().state_root()?;
    let mut shares = Vec::new();
    for node in &joining {
        let registration = first
            .store()
            .registration(&node.registration_key())?
            .ok_or_else(|| anyhow!("a registration is missing from block 1"))?;
        shares.push(registration.seed_share);
    }
    drop(first);

    // Every other node installs its share and executes block 1 itself.
    for (i, (mut node, share)) in joining.into_iter().zip(shares).enumerate() {
        let i = i + 1;
        node.install(share).map_err(|e| anyhow!("node{i}: {e}"))?;
        drop(node);
        let mut app = App::open(&app_config(&node_home(&dir, i)), Some(&genesis))
            .map_err(|e| anyhow!("node{i}: {e}"))?;
        app.finalize_block(header.clone(), txs.clone(), certificate.clone())
            .map_err(|e| anyhow!("node{i}: {e}"))?;
        app.commit().map_err(|e| anyhow!("node{i}: {e}"))?;
        if app.store().state_root()? != root {
            bail!("node{i} computed another state root for block 1");
        }
    }

    let p2p = |i: usize| SocketAddr::from(([127, 0, 0, 1], args.base_port + 2 * i as u16 + 1));
    let rpc = |i: usize| SocketAddr::from(([127, 0, 0, 1], args.base_port + 2 * i as u16));
    // After every node's RPC and consensus ports.
    let gossip =
        |i: usize| SocketAddr::from(([127, 0, 0, 1], args.base_port + 2 * n as u16 + i as u16));
    let genesis_json = serde_json::to_vec_pretty(&genesis)?;
    std::fs::write(dir.join("genesis.json"), &genesis_json)
        .with_context(|| format!("writing {}", dir.join("genesis.json").display()))?;
    for i in 0..n {
        let node_dir = node_home(&dir, i).join("node");
        std::fs::write(node_dir.join("genesis.json"), &genesis_json)?;
        let file = NodeFile {
            rpc_addr: rpc(i),
            p2p_addr: p2p(i),
            persistent_peers: (0..n).filter(|j| *j != i).map(p2p).collect(),
            gossip_addr: Some(gossip(i)),
            gossip_peers: (0..n).filter(|j| *j != i).map(gossip).collect(),
        };
        std::fs::write(
            node_dir.join(NodeFile::NAME),
            serde_json::to_vec_pretty(&file)?,
        )?;
        eprintln!(
            "  node{i}: home {}, RPC http://{}, consensus {}, gossip {}, key {}",
            node_home(&dir, i).display(),
            rpc(i),
            p2p(i),
            gossip(i),
            node_dir.join(VALIDATOR_KEY_FILE).display()
        );
    }
    eprintln!(
        "veil: genesis {} in {}; start all with `veil testnet start --dir {}`, or one with `veil node start --home {}`",
        hex::encode(genesis.hash()),
        dir.join("genesis.json").display(),
        dir.display(),
        node_home(&dir, 0).display()
    );
    eprintln!(
        "veil: WARNING: this network accepts simulated attestations and its dev accounts' keys are public: for testing only"
    );
    Ok(ExitCode::SUCCESS)
}

fn start(args: StartArgs) -> anyhow::Result<ExitCode> {
    let dir = crate::absolute(&args.dir);
    let exe = std::env::current_exe().context("finding the veil executable")?;
    let homes: Vec<PathBuf> = (0..)
        .map(|i| node_home(&dir, i))
        .take_while(|home| home.join("node").join(NodeFile::NAME).exists())
        .collect();
    if homes.is_empty() {
        bail!(
            "{} holds no testnet: create one with `veil testnet init --dir {}`",
            dir.display(),
            dir.display()
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    let mut children: Vec<(usize, Child)> = Vec::new();
    for (i, home) in homes.iter().enumerate() {
        let log_path = home.join("node.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let child = Command::new(&exe)
            .args(["node", "start", "--home"])
            .arg(home)
            .args(["--block-time", &args.block_time])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting node{i}"))?;
        let file = NodeFile::load(&home.join("node"))?.expect("checked above");
        eprintln!(
            "veil: node{i} RPC http://{} (log {})",
            file.rpc_addr,
            log_path.display()
        );
        children.push((i, child));
    }
    eprintln!(
        "veil: {} validators running (Ctrl-C stops them all)",
        children.len()
    );
    let mut failed = false;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
        for (i, child) in &mut children {
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!(
                    "veil: node{i} exited ({status}); see {}",
                    homes[*i].join("node.log").display()
                );
                failed = true;
            }
        }
        if failed {
            break;
        }
    }
    eprintln!("veil: stopping the validators ...");
    for (_, child) in &mut children {
        // SIGTERM: each stops cleanly between blocks.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    }
    for (i, child) in &mut children {
        let status = child.wait()?;
        if !status.success() && !failed {
            eprintln!("veil: node{i} exited with {status}");
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
