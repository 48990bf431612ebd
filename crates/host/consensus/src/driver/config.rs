//! What a node is started with: its validator key, addresses, peers, timeouts, and the
//! Malachite node configuration made from them.

use super::*;

/// Consensus round timeouts (Tendermint's; each grows by its delta per round).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub propose: Duration,
    pub propose_delta: Duration,
    pub prevote: Duration,
    pub prevote_delta: Duration,
    pub precommit: Duration,
    pub precommit_delta: Duration,
    /// Re-gossip of the latest votes when a round makes no progress.
    pub rebroadcast: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            propose: Duration::from_millis(1500),
            propose_delta: Duration::from_millis(500),
            prevote: Duration::from_millis(500),
            prevote_delta: Duration::from_millis(250),
            precommit: Duration::from_millis(500),
            precommit_delta: Duration::from_millis(250),
            rebroadcast: Duration::from_secs(2),
        }
    }
}

impl Timeouts {
    pub(super) fn to_linear(self) -> LinearTimeouts {
        LinearTimeouts {
            propose: self.propose,
            propose_delta: self.propose_delta,
            prevote: self.prevote,
            prevote_delta: self.prevote_delta,
            precommit: self.precommit,
            precommit_delta: self.precommit_delta,
            rebroadcast: self.rebroadcast,
            max_timeout: Duration::from_secs(30),
        }
    }
}

/// One validator's consensus configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Name in logs and metrics.
    pub moniker: String,
    pub chain_id: String,
    /// The validator set (fixed by genesis for now).
    pub validators: shared::ValidatorSet,
    /// This validator's ed25519 consensus key (the host's, never an enclave key).
    pub private_key: [u8; 32],
    /// TCP address libp2p listens on.
    pub listen_addr: SocketAddr,
    /// Peers to keep connected to (every other validator, typically).
    pub persistent_peers: Vec<SocketAddr>,
    /// Directory of the write-ahead log.
    pub wal_dir: PathBuf,
    /// Minimum time of a height, from its start to its commit (Malachite's target time);
    /// `None` finalizes as soon as a height is decided.
    pub block_time: Option<Duration>,
    pub timeouts: Timeouts,
    /// Largest block this node proposes or accepts.
    pub max_block_bytes: usize,
    /// Size of the chunks a block is streamed in.
    pub part_bytes: usize,
    /// libp2p's limit of connections from one IP (all peers share 127.0.0.1 in tests).
    pub max_connections_per_ip: usize,
    pub value_sync: bool,
    /// How often peers tell each other their tip (drives how soon a lagging node syncs).
    pub sync_status_interval: Duration,
    pub sync_request_timeout: Duration,
    /// At start, how long to wait for connections to the other validators before the
    /// first height (a proposal gossiped to no peer costs a round).
    pub peer_wait: Duration,
}

impl Config {
    /// A validator with Veil's defaults: 2 MiB blocks in 64 KiB parts, value sync on.
    pub fn new(
        moniker: impl Into<String>,
        chain_id: impl Into<String>,
        validators: shared::ValidatorSet,
        private_key: [u8; 32],
        listen_addr: SocketAddr,
        wal_dir: PathBuf,
    ) -> Self {
        Config {
            moniker: moniker.into(),
            chain_id: chain_id.into(),
            validators,
            private_key,
            listen_addr,
            persistent_peers: Vec::new(),
            wal_dir,
            block_time: Some(Duration::from_millis(200)),
            timeouts: Timeouts::default(),
            max_block_bytes: 2 * 1024 * 1024,
            part_bytes: 64 * 1024,
            max_connections_per_ip: 16,
            value_sync: true,
            sync_status_interval: Duration::from_secs(1),
            sync_request_timeout: Duration::from_secs(5),
            peer_wait: Duration::from_secs(3),
        }
    }
}

pub(super) fn multiaddr(addr: SocketAddr) -> anyhow::Result<Multiaddr> {
    let text = match addr {
        SocketAddr::V4(a) => format!("/ip4/{}/tcp/{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("/ip6/{}/tcp/{}", a.ip(), a.port()),
    };
    text.parse()
        .with_context(|| format!("{addr} is not a libp2p address"))
}

#[derive(Clone, Debug)]
pub(super) struct EngineConfig {
    pub(super) moniker: String,
    pub(super) consensus: ConsensusConfig,
    pub(super) value_sync: ValueSyncConfig,
}

impl MalachiteNodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}
