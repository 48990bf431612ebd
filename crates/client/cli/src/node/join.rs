//! `veil node join`: register this node's enclave with a network and follow its chain.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use base64::Engine as _;
use veil_client::rpc::{Client, TxStatus};
use veil_client::tx::{TxOptions, Wallet};
use veil_node::join::Joining;
use veil_node::node::{run, BlockSource, PeerBlock};
use veil_node::{AppConfig, Genesis};
use veil_types::Msg;

use super::{home_of, node_config, JoinArgs};

pub fn join(args: JoinArgs) -> anyhow::Result<ExitCode> {
    let home = home_of()?;
    let mut config = node_config(&args.node, &home)?;
    let peer = Client::new(&args.peer);
    let genesis = pinned_genesis(&args, &peer)?;
    eprintln!(
        "veil: joining chain {} (genesis {}) through {}",
        genesis.chain_id,
        hex::encode(genesis.hash()),
        args.peer
    );
    let store_path = config.home.join("chain.redb");
    let joined = store_path.exists()
        && veil_node::store::Store::open(&store_path)?
            .height()?
            .is_some();
    if !joined {
        register(&args, &peer, &genesis, &config)?;
    } else {
        eprintln!(
            "veil: this node has joined already; following {}",
            args.peer
        );
    }
    config.genesis = Some(genesis);
    if config.gossip_peers.is_empty() {
        // Transactions sent to this node reach the network through its peer's gossip.
        let status = peer
            .status()
            .with_context(|| format!("asking {} for its gossip address", args.peer))?;
        match status.gossip["listen"].as_str().map(str::parse) {
            Some(Ok(addr)) => config.gossip_peers.push(addr),
            _ => eprintln!(
                "veil: WARNING: {} gossips no transactions: what is submitted to this node stays in its mempool",
                args.peer
            ),
        }
    }
    config.follow = Some(Box::new(PeerBlocks { client: peer }));
    run(config)?;
    Ok(ExitCode::SUCCESS)
}

/// The genesis to join: the peer's, with the hash the operator pinned, or the file given.
fn pinned_genesis(args: &JoinArgs, peer: &Client) -> anyhow::Result<Genesis> {
    if let Some(path) = &args.genesis {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let genesis: Genesis = serde_json::from_slice(&text)
            .map_err(|e| anyhow!("{}: not a genesis file: {e}", path.display()))?;
        if genesis.network.is_none() {
            bail!(
                "{} has no network section: use the genesis of the running network (GET /genesis on a node)",
                path.display()
            );
        }
        return Ok(genesis);
    }
    let pinned = args
        .genesis_hash
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    veil_types::serde_hash::parse_hex(&pinned)
        .map_err(|e| anyhow!("--genesis-hash {pinned:?}: {e}"))?;
    let (genesis, _) = peer
        .genesis()
        .map_err(|e| anyhow!("fetching the genesis from {}: {e}", args_peer(peer)))?;
    let actual = hex::encode(genesis.hash());
    if actual != pinned {
        bail!(
            "the peer's genesis hashes to {actual}, not the pinned {pinned}: refusing to join a network other than the one you named"
        );
    }
    Ok(genesis)
}

fn args_peer(peer: &Client) -> String {
    peer.url().to_string()
}

/// Starts the enclave on the genesis, registers it (unless a previous run did) and
/// installs its seed share.
fn register(
    args: &JoinArgs,
    peer: &Client,
    genesis: &Genesis,
    config: &veil_node::node::NodeConfig,
) -> anyhow::Result<()> {
    let app_config = AppConfig {
        home: config.home.clone(),
        enclave: config.enclave.clone(),
        log_crossings: config.log_crossings,
        inspect: false,
    };
    let mut joining = Joining::open(&app_config, genesis)?;
    if joining.has_seed() {
        return Ok(());
    }
    let key = joining.registration_key();
    let registration = match peer.registration(&key)? {
        Some(registration) => registration,
        None => {
            let keyring = crate::shared::KeyringOpts::at(args.keyring_home.clone(), None);
            let operator = keyring
                .load(&args.from)
                .map_err(|e| anyhow!("the operator key {:?}: {}", args.from, failure_text(e)))?;
            let attested = joining.attest(operator.address())?;
            eprintln!(
                "veil: registering enclave key {} (operator {})",
                hex::encode(key),
                operator.address()
            );
            let wallet = Wallet::connect(peer, &operator)?;
            let options = TxOptions {
                timeout: Duration::from_secs(60),
                ..Default::default()
            };
            let outcome = wallet
                .broadcast(
                    Msg::RegisterNode {
                        registration_key: attested.registration_key,
                        attestation: attested.attestation,
                    },
                    &options,
                    |p| eprintln!("veil: {p}"),
                )
                .map_err(|e| anyhow!("the registration failed: {e}"))?;
            eprintln!(
                "veil: registered at height {}",
                outcome.committed.receipt.height
            );
            peer.registration(&key)?.ok_or_else(|| {
                anyhow!("the peer committed the registration but does not serve it")
            })?
        }
    };
    joining
        .install(registration.seed_share)
        .map_err(|e| anyhow!("installing the seed share: {e}"))?;
    eprintln!("veil: the enclave holds the network's seed; replaying the chain");
    Ok(())
}

fn failure_text(e: crate::shared::Failure) -> String {
    match e {
        crate::shared::Failure::Usage(m) => m.to_string(),
        crate::shared::Failure::Failed { message, .. } => message,
    }
}

/// The blocks a peer committed, over its RPC.
struct PeerBlocks {
    client: Client,
}

impl BlockSource for PeerBlocks {
    fn height(&self) -> Result<u64, String> {
        self.client
            .status()
            .map(|s| s.height)
            .map_err(|e| e.to_string())
    }

    fn block(&self, height: u64) -> Result<PeerBlock, String> {
        let block = self.client.block(Some(height)).map_err(|e| e.to_string())?;
        let mut txs = Vec::with_capacity(block.tx_hashes.len());
        for hash in &block.tx_hashes {
            let hash = veil_types::serde_hash::parse_hex(hash)?;
            let committed = match self.client.tx(&hash).map_err(|e| e.to_string())? {
                Some(TxStatus::Committed(committed)) => committed,
                _ => {
                    return Err(format!(
                        "the peer does not serve transaction {}",
                        hex::encode(hash)
                    ))
                }
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&committed.tx_bytes)
                .map_err(|e| format!("transaction {}: {e}", hex::encode(hash)))?;
            if veil_types::tx_hash(&bytes) != hash {
                return Err(format!(
                    "the peer served other bytes for transaction {}",
                    hex::encode(hash)
                ));
            }
            txs.push(bytes);
        }
        Ok(PeerBlock {
            header: block.header,
            txs,
            certificate: block.certificate,
        })
    }
}
