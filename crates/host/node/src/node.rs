//! Running a node: the state machine, as a validator on BFT consensus or as a follower
//! of a peer, and the RPC server, until Ctrl-C (or SIGTERM) stops it between blocks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use veil_host::EnclaveMode;
use veil_types::consensus::{CommitCertificate, ValidatorAddress, ValidatorKey};

use crate::app::{App, AppConfig, AppError};
use crate::genesis::Genesis;
use crate::gossip::{TxGossip, Verdict};
use crate::mempool::Mempool;
use crate::rpc::{block_events, router, RpcState};
use crate::validator::{max_block_bytes, ChainApp};

pub struct NodeConfig {
    pub home: PathBuf,
    /// Used only when the home holds no chain yet.
    pub genesis: Option<Genesis>,
    pub rpc_addr: SocketAddr,
    pub block_time: Duration,
    pub enclave: EnclaveMode,
    pub log_crossings: bool,
    pub mempool_max_txs: usize,
    pub mempool_max_bytes: usize,
    /// Follow another node instead of producing blocks: replay every block it committed,
    /// in this node's own enclave, checking each header (state root included).
    pub follow: Option<Box<dyn BlockSource>>,
    /// The consensus key this node validates with (none: it cannot validate).
    pub validator_key: Option<ValidatorKey>,
    /// Where consensus (libp2p) listens.
    pub p2p_addr: SocketAddr,
    /// The other validators' consensus addresses.
    pub persistent_peers: Vec<SocketAddr>,
    /// Consensus round timeouts (the defaults suit a LAN).
    pub timeouts: veil_consensus::Timeouts,
    /// Where transaction gossip listens (none: transactions stay in this node's mempool).
    pub gossip_addr: Option<SocketAddr>,
    /// Nodes' gossip addresses to connect to (validators: each other; a follower: its peer).
    pub gossip_peers: Vec<SocketAddr>,
    /// Dev chains only: let the home's owner inspect every call and state (`--inspect`).
    pub inspect: bool,
}

pub const DEFAULT_P2P_PORT: u16 = 26656;

/// The file in a node's home holding its validator key (hex of the ed25519 seed).
pub const VALIDATOR_KEY_FILE: &str = "validator.key";

/// Reads the validator key in `home`, if there is one.
pub fn load_validator_key(home: &Path) -> Result<Option<ValidatorKey>, NodeError> {
    let path = home.join(VALIDATOR_KEY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(NodeError::Runtime(format!(
                "reading {}: {e}",
                path.display()
            )))
        }
    };
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            NodeError::Runtime(format!(
                "{} is not a validator key (64 hex digits)",
                path.display()
            ))
        })?;
    Ok(Some(ValidatorKey::from(seed)))
}

/// Creates a new validator key in `home` (readable by its owner only).
pub fn create_validator_key(home: &Path) -> Result<ValidatorKey, NodeError> {
    let key = ValidatorKey::new(rand_core::OsRng);
    let path = home.join(VALIDATOR_KEY_FILE);
    let io = |e: std::io::Error| NodeError::Runtime(format!("writing {}: {e}", path.display()));
    std::fs::create_dir_all(home).map_err(io)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io)?;
    std::io::Write::write_all(&mut file, hex::encode(key.to_bytes()).as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(key)
}

/// Where a following node gets the chain: the blocks another node committed.
pub trait BlockSource: Send + 'static {
    /// The peer's latest height.
    fn height(&self) -> Result<u64, String>;
    /// Block `height`: its header, its transactions' bytes in order, and its commit
    /// certificate (none for block 0).
    fn block(&self, height: u64) -> Result<PeerBlock, String>;
}

/// A committed block as a peer serves it.
pub struct PeerBlock {
    pub header: veil_types::BlockHeader,
    pub txs: Vec<Vec<u8>>,
    pub certificate: Option<CommitCertificate>,
}

impl NodeConfig {
    pub fn new(home: PathBuf) -> Self {
        Self {
            home,
            genesis: None,
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], DEFAULT_RPC_PORT)),
            block_time: Duration::from_secs(1),
            enclave: EnclaveMode::InProcess,
            log_crossings: false,
            mempool_max_txs: 50_000,
            mempool_max_bytes: 256 * 1024 * 1024,
            follow: None,
            validator_key: None,
            p2p_addr: SocketAddr::from(([127, 0, 0, 1], DEFAULT_P2P_PORT)),
            persistent_peers: Vec::new(),
            timeouts: veil_consensus::Timeouts::default(),
            gossip_addr: None,
            gossip_peers: Vec::new(),
            inspect: false,
        }
    }
}

pub const DEFAULT_RPC_PORT: u16 = 26657;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("cannot serve RPC on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Runtime(String),
}

/// Opens the chain, then produces blocks and serves RPC until a stop signal.
pub fn run(config: NodeConfig) -> Result<(), NodeError> {
    let app = App::open(
        &AppConfig {
            home: config.home.clone(),
            enclave: config.enclave.clone(),
            log_crossings: config.log_crossings,
            inspect: config.inspect,
        },
        config.genesis.as_ref(),
    )?;
    if config.follow.is_none() {
        check_validator(&app, config.validator_key.as_ref())?;
    }
    let last = app.last_block().header.clone();
    eprintln!(
        "veil: chain {} at height {} (state root {}), home {}",
        last.chain_id,
        last.height,
        hex::encode(app.state_root()),
        config.home.display()
    );
    eprintln!(
        "veil: network encryption key {} (generation {})",
        hex::encode(app.network_key().0),
        app.network_key().1
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| NodeError::Runtime(format!("starting the async runtime: {e}")))?;
    runtime.block_on(serve(config, app))
}

async fn serve(mut config: NodeConfig, app: App) -> Result<(), NodeError> {
    let listener = tokio::net::TcpListener::bind(config.rpc_addr)
        .await
        .map_err(|source| NodeError::Listen {
            addr: config.rpc_addr,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(config.rpc_addr);
    let (events, _) = broadcast::channel(16_384);
    let checker = app.checker();
    let mempool = Arc::new(Mempool::new(
        config.mempool_max_txs,
        config.mempool_max_bytes,
    ));
    if app.inspecting() {
        eprintln!(
            "veil: WARNING: inspection is on (dev chain): the owner key in {} decrypts every transaction and all contract state of this chain",
            crate::inspect::owner_key_path(&config.home).display()
        );
    }
    let state = RpcState {
        inspecting: app.inspecting(),
        store: app.store().clone(),
        network_key: app.network_key(),
        app: Arc::new(Mutex::new(app)),
        mempool: mempool.clone(),
        checker: checker.clone(),
        events: events.clone(),
        gossip: match config.gossip_addr {
            Some(listen) => Some(Arc::new(
                start_gossip(listen, &config.gossip_peers, &checker, &mempool).await?,
            )),
            None => None,
        },
        view: Arc::new(Mutex::new(ChainView {
            role: if config.follow.is_some() {
                "follower"
            } else {
                "validator"
            },
            ..ChainView::default()
        })),
    };
    if let Some(gossip) = &state.gossip {
        eprintln!(
            "veil: gossiping transactions on {} with {} peer(s) to dial",
            gossip.listen_addr(),
            config.gossip_peers.len()
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (died_tx, died_rx) = tokio::sync::oneshot::channel::<AppError>();
    let chain = match config.follow.take() {
        Some(source) => {
            let app = state.app.clone();
            let stop = stop.clone();
            let pool = (mempool.clone(), checker.clone());
            let view = state.view.clone();
            let follower = std::thread::Builder::new()
                .name("veil-follower".into())
                .spawn(move || {
                    if let Err(e) = follow_peer(app, source, pool, view, events, &stop) {
                        let _ = died_tx.send(e);
                    }
                })
                .map_err(|e| NodeError::Runtime(format!("starting the follower: {e}")))?;
            Chain::Follower(follower)
        }
        None => {
            let key = config
                .validator_key
                .take()
                .ok_or_else(|| NodeError::Runtime("no validator key".into()))?;
            let fatal: Arc<Mutex<Option<AppError>>> = Arc::default();
            let chain_app = ChainApp {
                app: state.app.clone(),
                mempool: mempool.clone(),
                checker: checker.clone(),
                events,
                fatal: fatal.clone(),
                committed: Arc::default(),
                store: state.store.clone(),
            };
            let (chain_id, validators, params) = {
                let app = state.app.lock().unwrap_or_else(|p| p.into_inner());
                let genesis = app.genesis();
                (
                    genesis.chain_id.clone(),
                    genesis.validator_set().map_err(NodeError::Runtime)?,
                    genesis.params.clone(),
                )
            };
            let mut consensus = veil_consensus::Config::new(
                format!(
                    "veil-{}",
                    ValidatorAddress::from_public_key(&key.verification_key().to_bytes())
                ),
                chain_id,
                validators,
                key.to_bytes(),
                config.p2p_addr,
                config.home.join("consensus"),
            );
            consensus.block_time = Some(config.block_time);
            consensus.timeouts = config.timeouts;
            consensus.max_block_bytes = max_block_bytes(&params);
            consensus.persistent_peers = config.persistent_peers.clone();
            if consensus.persistent_peers.is_empty() {
                // Alone: nobody to wait for before the first height.
                consensus.peer_wait = Duration::ZERO;
            }
            let node = veil_consensus::start(consensus, chain_app)
                .await
                .map_err(|e| NodeError::Runtime(format!("starting consensus: {e:#}")))?;
            let address = node.address().to_string();
            state
                .view
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .validator = Some(address);
            // The node stops when a decided block cannot be committed.
            let watch = {
                let stop = stop.clone();
                let view = state.view.clone();
                let status = node.status_updates();
                tokio::spawn(async move {
                    let mut last_sync = (0, std::time::Instant::now());
                    loop {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let now = status.borrow().clone();
                        if now.synced > last_sync.0 {
                            last_sync = (now.synced, std::time::Instant::now());
                        }
                        {
                            let mut view = view.lock().unwrap_or_else(|p| p.into_inner());
                            view.consensus_height = now.height;
                            view.synced_heights = now.synced;
                            view.peer_count = now.peers.len();
                            view.peers = now.peers;
                            // Syncing a block in the last 2 s: behind the network.
                            view.catching_up =
                                now.synced > 0 && last_sync.1.elapsed() < Duration::from_secs(2);
                        }
                        if let Some(e) = fatal.lock().unwrap_or_else(|p| p.into_inner()).take() {
                            let _ = died_tx.send(e);
                            return;
                        }
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                    }
                })
            };
            Chain::Validator(node, watch)
        }
    };
    eprintln!("veil: RPC on http://{addr} (Ctrl-C stops the node)");

    let failure: Arc<Mutex<Option<AppError>>> = Arc::default();
    let shutdown = {
        let failure = failure.clone();
        async move {
            tokio::select! {
                _ = stop_signal() => eprintln!("veil: stopping after the block in progress ..."),
                died = died_rx => if let Ok(e) = died {
                    eprintln!("veil: block production failed: {e}");
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                },
            }
        }
    };
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    stop.store(true, Ordering::SeqCst);
    let stopped = match chain {
        Chain::Follower(follower) => {
            matches!(
                tokio::task::spawn_blocking(move || follower.join()).await,
                Ok(Ok(()))
            )
        }
        Chain::Validator(node, watch) => {
            // Consensus commits a block in one store write: stopping between two is safe.
            node.stop().await;
            let _ = watch.await;
            true
        }
    };
    if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e.into());
    }
    served.map_err(|e| NodeError::Runtime(format!("RPC server: {e}")))?;
    if !stopped {
        return Err(NodeError::Runtime("the follower panicked".into()));
    }
    eprintln!("veil: stopped cleanly");
    Ok(())
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What `/status` reports about how this node takes part in the chain.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChainView {
    /// `validator` or `follower`.
    pub role: &'static str,
    /// This validator's consensus address.
    pub validator: Option<String>,
    /// The height consensus works on (validators).
    pub consensus_height: u64,
    /// Heights this validator took from value sync rather than live consensus.
    pub synced_heights: u64,
    /// Behind the network: syncing blocks (a validator) or replaying a peer's (a follower).
    pub catching_up: bool,
    /// How many consensus peers this validator is connected to now.
    pub peer_count: usize,
    /// Those peers (libp2p id, proven validator address, connection address, direction,
    /// moniker), ordered by id.
    pub peers: Vec<veil_consensus::Peer>,
}

/// How this node follows the chain.
enum Chain {
    /// Replays a peer's blocks (`veil node join`).
    Follower(std::thread::JoinHandle<()>),
    /// Takes part in consensus.
    Validator(veil_consensus::Node, tokio::task::JoinHandle<()>),
}

/// Refuses to validate without a key of the genesis validator set.
fn check_validator(app: &App, key: Option<&ValidatorKey>) -> Result<(), NodeError> {
    let key = key.ok_or_else(|| {
        NodeError::Runtime(format!(
            "this node has no validator key ({VALIDATOR_KEY_FILE} in its home): it cannot validate; a full node joins with `veil node join`"
        ))
    })?;
    let validators = app.genesis().validator_set().map_err(NodeError::Runtime)?;
    let address = ValidatorAddress::from_public_key(&key.verification_key().to_bytes());
    if validators.get(&address).is_none() {
        return Err(NodeError::Runtime(format!(
            "this node's validator key ({address}) is not in the genesis validator set"
        )));
    }
    Ok(())
}

/// A following node: replays each block its peer committed, in its own enclave, and stops
/// at the first block whose header (state root included) it does not compute itself.
fn follow_peer(
    app: Arc<Mutex<App>>,
    source: Box<dyn BlockSource>,
    (mempool, checker): (Arc<Mempool>, crate::app::Checker),
    view: Arc<Mutex<ChainView>>,
    events: broadcast::Sender<Arc<str>>,
    stop: &AtomicBool,
) -> Result<(), AppError> {
    let retry = |what: &str, e: String| {
        eprintln!("veil: {what}: {e}; retrying");
        std::thread::sleep(Duration::from_millis(500));
    };
    // Same genesis block, or nothing of the peer's chain is ours.
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        match source.block(0) {
            Ok(PeerBlock { header, .. }) => {
                let ours = app
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .store()
                    .block(0)?;
                if ours.map(|b| b.header) != Some(header) {
                    return Err(AppError::State(
                        "the peer's genesis block differs from this node's: another chain".into(),
                    ));
                }
                break;
            }
            Err(e) => retry("the peer is unreachable", e),
        }
    }
    let mut announced = false;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let local = app
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_block()
            .header
            .height;
        let peer = match source.height() {
            Ok(height) => height,
            Err(e) => {
                retry("the peer is unreachable", e);
                continue;
            }
        };
        if peer <= local {
            view.lock().unwrap_or_else(|p| p.into_inner()).catching_up = false;
            if !announced {
                eprintln!("veil: caught up with the peer at height {local}");
                announced = true;
            }
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        if peer > local + 1 {
            announced = false;
        }
        view.lock().unwrap_or_else(|p| p.into_inner()).catching_up = peer > local + 1;
        let height = local + 1;
        let block = match source.block(height) {
            Ok(block) => block,
            Err(e) => {
                retry(&format!("fetching block {height}"), e);
                continue;
            }
        };
        let Some(certificate) = block.certificate else {
            return Err(AppError::Block {
                height,
                why: "the peer serves it without a commit certificate".into(),
            });
        };
        let mut guard = app.lock().unwrap_or_else(|p| p.into_inner());
        // Refused (nothing executed) unless it follows this node's chain, its header
        // carries the state root this node computed, and the enclave verifies its
        // certificate.
        let hashes: Vec<veil_types::Hash> =
            block.txs.iter().map(|tx| veil_types::tx_hash(tx)).collect();
        let finalized = guard.finalize_block(block.header, block.txs, certificate)?;
        // What it gossiped leaves its mempool once committed.
        mempool.commit(&hashes, &checker, || guard.commit())?;
        drop(guard);
        for event in block_events(&finalized.block, &finalized.receipts) {
            let _ = events.send(event);
        }
        if height.is_multiple_of(100) {
            eprintln!("veil: replayed block {height} of {peer}");
        }
    }
}

/// Starts transaction gossip: what a peer sends goes through this node's mempool checks,
/// and only what they accept travels on.
async fn start_gossip(
    listen: SocketAddr,
    peers: &[SocketAddr],
    checker: &crate::app::Checker,
    mempool: &Arc<Mempool>,
) -> Result<TxGossip, NodeError> {
    let (checker, mempool) = (checker.clone(), mempool.clone());
    let chain_id = checker.chain_id.clone();
    let inbound = Arc::new(
        move |bytes: Vec<u8>| match mempool.submit(bytes, &checker) {
            Ok(_) => Verdict::Accept,
            // Wrong whatever the state: its sender should not have passed it on.
            Err(rejection)
                if matches!(
                    rejection.kind,
                    "malformed"
                        | "bad_signature"
                        | "signed_for_simulation"
                        | "wrong_chain"
                        | "too_large"
                        | "insufficient_fee"
                        | "gas_limit"
                ) =>
            {
                Verdict::Reject
            }
            // Known already, full, or not valid on this node's state (yet).
            Err(_) => Verdict::Ignore,
        },
    );
    TxGossip::start(listen, peers.to_vec(), &chain_id, inbound)
        .await
        .map_err(NodeError::Runtime)
}
