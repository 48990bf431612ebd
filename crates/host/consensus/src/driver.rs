//! The driver: starts Malachite (libp2p over TCP, WAL, value sync) and answers every
//! message the engine sends the application, calling Veil's [`Application`].

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, NodeConfig as MalachiteNodeConfig, P2pConfig, ValueSyncConfig,
};
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::Codec as _;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate as MCommitCertificate, CommitSignature as MCommitSignature, Context as _,
    ExtendedCommitCertificate, LinearTimeouts, Round, Validity,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{
    Keypair, LocallyProposedValue, MisbehaviorEvidence, PeerId, ProposedValue, SignedConsensusMsg,
};
use malachitebft_app_channel::{
    AppMsg, Channels, ConsensusContext, EngineBuilder, EngineHandle, NetworkContext,
    NetworkIdentity, NetworkMsg, NetworkRequest, RequestContext, Signer as _, SyncContext,
    WalContext,
};
use malachitebft_signing_ed25519::{PrivateKey, Signature};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};
use veil_types::consensus::{
    self as shared, verify_commit_certificate, CommitCertificate, ValidatorAddress,
};
use veil_types::Hash;

use crate::blocks::BlockCache;
use crate::codec::VeilCodec;
use crate::context::{
    address_of, Address, BlockHash, Height, ProposalPart, ValidatorSet, Value, VeilContext,
    VeilSigner, VeilVerifier,
};

/// What consensus needs from the node. Methods run on the driver's Tokio task, one at a
/// time, in the order the engine asks; a slow method delays consensus (and occupies a
/// runtime worker: run the driver on a multi-threaded runtime, or wrap long work in
/// `tokio::task::block_in_place`). Consensus never stalls as long as each returns.
pub trait Application: Send + 'static {
    /// The block to propose at `height` (the height after the last committed one), at most
    /// `Config::max_block_bytes` long (every validator refuses a longer stream).
    fn propose(&mut self, height: u64) -> Vec<u8>;
    /// Whether a proposed block is acceptable at `height` (e.g. every transaction passes
    /// `check_tx`); a refused block gets a nil prevote.
    fn validate(&mut self, height: u64, block: &[u8]) -> bool;
    /// Commits a decided block with its commit certificate, durably, in one write. Called
    /// once per height, in height order, with a certificate this driver has verified.
    fn commit(&mut self, height: u64, block: &[u8], cert: CommitCertificate) -> anyhow::Result<()>;
    /// A committed block and its certificate (served to peers that sync).
    fn decided(&self, height: u64) -> Option<(Vec<u8>, CommitCertificate)>;
    /// The last committed height (0 before the first block): consensus resumes after it.
    fn last_committed(&self) -> u64;
    /// The lowest height [`Application::decided`] still serves.
    fn history_min_height(&self) -> u64 {
        1
    }
    /// Records a validator's equivocation that consensus observed (two conflicting signed
    /// proposals or votes for one height and round).
    fn record_equivocation(&mut self, evidence: Equivocation) {
        let _ = evidence;
    }
    /// The block hash consensus votes on. It must commit to every byte of the block.
    fn block_hash(&self, block: &[u8]) -> Hash {
        Sha256::digest(block).into()
    }
}

/// Progress a running node reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Last height committed through this driver's application.
    pub committed: u64,
    /// Height consensus is working on.
    pub height: u64,
    /// Heights committed from value sync rather than live consensus.
    pub synced: u64,
    /// The consensus peers connected now (refreshed every [`peers::PEER_POLL`]), ordered
    /// by peer id.
    pub peers: Vec<Peer>,
}

/// A running validator. Dropping it does not stop it: call [`Node::stop`].
pub struct Node {
    address: ValidatorAddress,
    engine: EngineHandle,
    app_task: JoinHandle<anyhow::Result<()>>,
    status: watch::Receiver<Status>,
    peer_watch: tokio::task::AbortHandle,
    stopping: Arc<AtomicBool>,
    wal_path: PathBuf,
}

impl Node {
    pub fn address(&self) -> ValidatorAddress {
        self.address
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Follows the node's status as it changes.
    pub fn status_updates(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Waits until the node has committed `height`, or `timeout` passes.
    pub async fn wait_for_height(&self, height: u64, timeout: Duration) -> anyhow::Result<()> {
        let mut rx = self.status.clone();
        tokio::time::timeout(timeout, rx.wait_for(|s| s.committed >= height))
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "height {height} not committed within {timeout:?} (at {:?})",
                    self.status.borrow()
                )
            })?
            .map_err(|_| anyhow::anyhow!("consensus stopped before height {height}"))?;
        Ok(())
    }

    /// Whether the application loop has ended (with an error, or because the engine did).
    pub fn is_finished(&self) -> bool {
        self.app_task.is_finished()
    }

    /// Stops the engine (network, consensus, WAL, sync) and the application loop.
    pub async fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.peer_watch.abort();
        self.engine.actor.stop(Some("stopped by the node".into()));
        let _ = tokio::time::timeout(Duration::from_secs(10), self.engine.handle).await;
        self.app_task.abort();
        let _ = self.app_task.await;
        // The WAL is written by a thread of its own that outlives the actors for a moment;
        // it holds an exclusive lock on the file. Return once it has let go, so that a
        // node started right after (same WAL) does not find it locked.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            match std::fs::File::open(&self.wal_path) {
                Ok(file) => {
                    if file.try_lock().is_ok() {
                        return;
                    }
                }
                Err(_) => return,
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        warn!(wal = %self.wal_path.display(), "the WAL is still locked after stop");
    }
}

/// Starts a validator: the Malachite engine, then the loop that serves it with `app`.
pub async fn start<A: Application>(config: Config, app: A) -> anyhow::Result<Node> {
    let ctx = VeilContext::new(&config.chain_id);
    let key = PrivateKey::from(config.private_key);
    let public_key = key.public_key();
    let address = address_of(&public_key);
    let validator_set = ValidatorSet::new(config.validators.clone());

    // The libp2p identity is the same ed25519 key; its peer id is bound to the consensus
    // address by a signed validator proof.
    let mut secret = config.private_key;
    let keypair =
        Keypair::ed25519_from_bytes(&mut secret).context("libp2p keypair from the key")?;
    let signer = VeilSigner::new(&ctx, key.clone());
    let peer_id = keypair.public().to_peer_id().to_bytes();
    let proof = signer
        .sign_validator_proof(public_key.as_bytes().to_vec(), peer_id)
        .await
        .map_err(|e| anyhow::anyhow!("signing the validator proof: {e:?}"))?;
    let proof_bytes = VeilCodec.encode(&proof)?;
    let identity = NetworkIdentity::new_validator(
        config.moniker.clone(),
        keypair,
        address.to_string(),
        proof_bytes,
    );

    let mut p2p = P2pConfig {
        listen_addr: multiaddr(config.listen_addr)?,
        persistent_peers: config
            .persistent_peers
            .iter()
            .map(|a| multiaddr(*a))
            .collect::<anyhow::Result<_>>()?,
        discovery: DiscoveryConfig {
            enabled: false,
            max_connections_per_ip: config.max_connections_per_ip,
            ..Default::default()
        },
        ..Default::default()
    };
    // A block part must fit a gossip message with room for the framing.
    let part_limit = bytesize_of(config.part_bytes + 4096);
    if p2p.pubsub_max_size.as_u64() < part_limit.as_u64() {
        p2p.pubsub_max_size = part_limit;
    }
    let engine_config = EngineConfig {
        moniker: config.moniker.clone(),
        consensus: ConsensusConfig {
            p2p,
            ..Default::default()
        },
        value_sync: ValueSyncConfig {
            enabled: config.value_sync,
            status_update_interval: config.sync_status_interval,
            request_timeout: config.sync_request_timeout,
            max_response_size: bytesize_of(
                (config.max_block_bytes + 64 * 1024).max(10 * 1024 * 1024),
            ),
            ..Default::default()
        },
    };
    let rpc_size = engine_config.value_sync.max_response_size;
    let mut engine_config = engine_config;
    if engine_config.consensus.p2p.rpc_max_size.as_u64() < rpc_size.as_u64() {
        engine_config.consensus.p2p.rpc_max_size = rpc_size;
    }

    std::fs::create_dir_all(&config.wal_dir)
        .with_context(|| format!("creating {}", config.wal_dir.display()))?;
    let wal_path = config.wal_dir.join("consensus.wal");
    let cache = BlockCache::open(&config.wal_dir.join("blocks"))?;
    let loaded = cache.load(app.last_committed())?;

    let (channels, engine) = EngineBuilder::new(ctx.clone(), engine_config)
        .with_default_wal(WalContext::new(wal_path, VeilCodec))
        .with_default_network(NetworkContext::new(identity, VeilCodec))
        .with_default_consensus(ConsensusContext::new_validator(
            address,
            Box::new(VeilVerifier::new(&ctx)),
            Box::new(signer),
        ))
        .with_default_sync(SyncContext::new(VeilCodec))
        .with_default_request(RequestContext::new(100))
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("starting Malachite: {e:?}"))?;

    let (status_tx, status_rx) = watch::channel(Status {
        committed: app.last_committed(),
        height: app.last_committed() + 1,
        synced: 0,
        peers: Vec::new(),
    });
    let peer_watch =
        spawn_peer_watch(channels.net_requests.clone(), status_tx.clone()).abort_handle();
    let mut driver = Driver::new(
        app,
        ctx,
        validator_set,
        address,
        Params {
            block_time: config.block_time,
            timeouts: config.timeouts.to_linear(),
            max_block_bytes: config.max_block_bytes,
            part_bytes: config.part_bytes.max(1),
            peer_wait: config.peer_wait,
        },
        key.clone(),
        status_tx,
        cache,
    );
    for (height, hash, bytes) in loaded.blocks {
        driver
            .blocks
            .insert(BlockHash(hash), KnownBlock { height, bytes });
    }
    for (height, round, hash) in loaded.proposed {
        driver
            .proposed
            .insert((height, Round::new(round)), BlockHash(hash));
    }
    let stopping = Arc::new(AtomicBool::new(false));
    let stopping_flag = stopping.clone();
    let moniker = config.moniker.clone();
    let driver_peer_watch = peer_watch.clone();
    let app_task = tokio::spawn(async move {
        let result = driver.run(channels).await;
        driver_peer_watch.abort();
        if let Err(e) = &result {
            if !stopping_flag.load(Ordering::SeqCst) {
                error!(%moniker, "consensus driver stopped: {e:#}");
            }
        }
        result
    });
    Ok(Node {
        address: address.0,
        engine,
        app_task,
        status: status_rx,
        peer_watch,
        stopping,
        wal_path: config.wal_dir.join("consensus.wal"),
    })
}

fn bytesize_of(n: usize) -> bytesize::ByteSize {
    bytesize::ByteSize::b(n as u64)
}

struct Params {
    block_time: Option<Duration>,
    timeouts: LinearTimeouts,
    max_block_bytes: usize,
    part_bytes: usize,
    peer_wait: Duration,
}

/// A block this node knows for an undecided height.
struct KnownBlock {
    height: u64,
    bytes: Bytes,
}

/// A complete proposal received for a future height, validated when its round starts.
struct PendingProposal {
    height: u64,
    round: Round,
    pol_round: Round,
    proposer: Address,
    block_hash: BlockHash,
}

struct Driver<A> {
    app: A,
    ctx: VeilContext,
    validator_set: ValidatorSet,
    address: Address,
    params: Params,
    /// The height and round consensus is at.
    height: u64,
    round: Round,
    /// This validator's key, to sign the `Fin` of its proposal streams.
    key: PrivateKey,
    /// Proposers' signatures of the streams received, to restream them.
    fin_signatures: HashMap<(u64, Round, BlockHash), Signature>,
    blocks: HashMap<BlockHash, KnownBlock>,
    /// Our own proposals, so that a repeated `GetValue` gets the same block.
    proposed: HashMap<(u64, Round), BlockHash>,
    /// Complete, validated values by height and round (returned at `StartedRound`).
    undecided: HashMap<(u64, Round), Vec<ProposedValue<VeilContext>>>,
    pending: Vec<PendingProposal>,
    streams: Streams,
    /// Height and result of the commit made at `Decided`, consumed at `Finalized`.
    committed_in_decided: Option<(u64, bool)>,
    stream_nonce: u64,
    synced: u64,
    status: watch::Sender<Status>,
    cache: BlockCache,
}

impl<A: Application> Driver<A> {
    /// A driver before its first height: nothing received, nothing proposed.
    #[allow(clippy::too_many_arguments)]
    fn new(
        app: A,
        ctx: VeilContext,
        validator_set: ValidatorSet,
        address: Address,
        params: Params,
        key: PrivateKey,
        status: watch::Sender<Status>,
        cache: BlockCache,
    ) -> Self {
        Self {
            app,
            ctx,
            validator_set,
            address,
            params,
            height: 0,
            round: Round::Nil,
            key,
            fin_signatures: HashMap::new(),
            blocks: HashMap::new(),
            proposed: HashMap::new(),
            undecided: HashMap::new(),
            pending: Vec::new(),
            streams: Streams::default(),
            committed_in_decided: None,
            stream_nonce: 0,
            synced: 0,
            status,
            cache,
        }
    }

    fn height_params(&self) -> HeightParams<VeilContext> {
        HeightParams::new(
            self.validator_set.clone(),
            self.params.timeouts,
            self.params.block_time,
        )
    }

    /// Publishes the driver's progress (the peer watch publishes the peers).
    fn publish_status(&self) {
        let (committed, height, synced) = (self.app.last_committed(), self.height, self.synced);
        self.status.send_if_modified(|s| {
            let changed = (s.committed, s.height, s.synced) != (committed, height, synced);
            (s.committed, s.height, s.synced) = (committed, height, synced);
            changed
        });
    }

    /// Forgets everything about heights below the current one.
    fn prune(&mut self) {
        let h = self.height;
        self.blocks.retain(|_, b| b.height >= h);
        self.proposed.retain(|(height, _), _| *height >= h);
        self.fin_signatures.retain(|(height, _, _), _| *height >= h);
        self.undecided.retain(|(height, _), _| *height >= h);
        self.pending.retain(|p| p.height >= h);
        self.streams.retain_from(h);
    }

    async fn run(mut self, mut channels: Channels<VeilContext>) -> anyhow::Result<()> {
        while let Some(msg) = channels.consensus.recv().await {
            self.handle(msg, &mut channels).await?;
        }
        anyhow::bail!("the consensus engine closed its channel")
    }

    async fn handle(
        &mut self,
        msg: AppMsg<VeilContext>,
        channels: &mut Channels<VeilContext>,
    ) -> anyhow::Result<()> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let others = self.validator_set.validators().len().saturating_sub(1);
                wait_for_peers(others, self.params.peer_wait, channels).await;
                let start = self.app.last_committed() + 1;
                self.height = start;
                info!(height = start, "consensus ready");
                self.publish_status();
                let _ = reply.send((Height(start), self.height_params()));
            }

            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                debug!(%height, %round, %proposer, ?role, "started round");
                self.round = round;
                if height.0 != self.height {
                    self.height = height.0;
                    self.prune();
                    self.publish_status();
                }
                self.validate_pending(height.0, round);
                let values = self
                    .undecided
                    .get(&(height.0, round))
                    .cloned()
                    .unwrap_or_default();
                let _ = reply_value.send(values);
            }

            AppMsg::GetValue {
                height,
                round,
                timeout: _,
                reply,
            } => {
                let hash = match self.proposed.get(&(height.0, round)) {
                    Some(hash) if self.blocks.contains_key(hash) => *hash,
                    _ => {
                        let block = Bytes::from(self.app.propose(height.0));
                        if block.len() > self.params.max_block_bytes {
                            warn!(%height, size = block.len(), "the application proposed a block over the size limit");
                        }
                        let hash = BlockHash(self.app.block_hash(&block));
                        self.remember_block(height.0, hash, block)?;
                        // Durable before the engine signs a proposal for it.
                        self.cache
                            .put_proposed(height.0, round.as_u32().unwrap_or(0), &hash.0)?;
                        self.proposed.insert((height.0, round), hash);
                        hash
                    }
                };
                let value = Value { block_hash: hash };
                let proposed = ProposedValue {
                    height,
                    round,
                    valid_round: Round::Nil,
                    proposer: self.address,
                    value,
                    validity: Validity::Valid,
                };
                self.remember_undecided(proposed);
                let _ = reply.send(LocallyProposedValue::new(height, round, value));
                self.stream_block(channels, height, round, Round::Nil, self.address, hash)
                    .await?;
            }

            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let sender = published_by.unwrap_or(from);
                let value = match self.streams.insert(sender, part, &self.params) {
                    Some(stream) => self.complete_stream(stream)?,
                    None => None,
                };
                let _ = reply.send(value);
            }

            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                if self.blocks.contains_key(&value_id) {
                    self.stream_block(channels, height, round, valid_round, address, value_id)
                        .await?;
                } else {
                    debug!(%height, %round, %value_id, "asked to restream a block we do not have");
                }
            }

            AppMsg::Decided {
                certificate,
                extensions: _,
                reply,
            } => {
                let height = certificate.height.0;
                let ok = self.commit(certificate);
                self.committed_in_decided = Some((height, ok));
                self.publish_status();
                let _ = reply.send(());
            }

            AppMsg::Finalized {
                certificate,
                extensions: _,
                evidence,
                reply,
            } => {
                for equivocation in equivocations(certificate.height.0, &evidence) {
                    warn!(
                        height = equivocation.height,
                        validator = %equivocation.validator,
                        kind = ?equivocation.kind,
                        "equivocation"
                    );
                    self.app.record_equivocation(equivocation);
                }
                let height = certificate.height.0;
                let ok = match self.committed_in_decided.take() {
                    Some((h, ok)) if h == height => ok,
                    // Finalized without a Decided we handled (e.g. after a restart).
                    _ => self.app.last_committed() >= height || self.commit(certificate),
                };
                let next = if ok && self.app.last_committed() >= height {
                    self.height = height + 1;
                    self.prune();
                    self.cache.prune(height);
                    Next::Start(Height(height + 1), self.height_params())
                } else {
                    warn!(height, "height not committed, restarting it");
                    Next::Restart(Height(height), self.height_params())
                };
                self.publish_status();
                let _ = reply.send(next);
            }

            AppMsg::GetDecidedValues { range, reply } => {
                let mut values = Vec::new();
                let mut size = 0usize;
                let (start, end) = (range.start().0, range.end().0);
                for h in start..=end.min(start.saturating_add(256)) {
                    let Some((block, cert)) = self.app.decided(h) else {
                        break;
                    };
                    size += block.len();
                    values.push(RawDecidedValue::new(
                        Bytes::from(block),
                        to_malachite_certificate(&cert),
                    ));
                    if size > self.params.max_block_bytes {
                        break;
                    }
                }
                let _ = reply.send(values);
            }

            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(self.app.history_min_height()));
            }

            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let outcome = if value_bytes.len() > self.params.max_block_bytes {
                    SyncedValueOutcome::PeerFault
                } else {
                    let hash = BlockHash(self.app.block_hash(&value_bytes));
                    let valid = self.app.validate(height.0, &value_bytes);
                    if valid {
                        self.remember_block(height.0, hash, value_bytes)?;
                        self.synced += 1;
                        SyncedValueOutcome::Verdict(ProposedValue {
                            height,
                            round,
                            valid_round: Round::Nil,
                            proposer,
                            value: Value { block_hash: hash },
                            validity: Validity::Valid,
                        })
                    } else {
                        warn!(%height, "synced block refused by the application");
                        SyncedValueOutcome::PeerFault
                    }
                };
                let _ = reply.send(outcome);
            }

            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }

            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                // Veil uses no vote extensions: any that arrives is refused.
                let verdicts = extensions
                    .into_iter()
                    .map(|(address, _)| {
                        (
                            address,
                            Err(malachitebft_app_channel::app::consensus::VoteExtensionError::InvalidVoteExtension),
                        )
                    })
                    .collect();
                let _ = reply.send(verdicts);
            }
        }
        Ok(())
    }

    fn remember_undecided(&mut self, value: ProposedValue<VeilContext>) {
        let entry = self
            .undecided
            .entry((value.height.0, value.round))
            .or_default();
        if !entry
            .iter()
            .any(|v| v.value == value.value && v.proposer == value.proposer)
        {
            entry.push(value);
        }
    }

    /// Verifies Malachite's certificate with the shared rules and commits the block.
    fn commit(&mut self, certificate: MCommitCertificate<VeilContext>) -> bool {
        let height = certificate.height.0;
        if height <= self.app.last_committed() {
            // Already committed (a decision replayed after a restart).
            return true;
        }
        if height != self.app.last_committed() + 1 {
            error!(
                height,
                last = self.app.last_committed(),
                "decision out of order"
            );
            return false;
        }
        let Some(block) = self.blocks.get(&certificate.value_id) else {
            error!(height, block = %certificate.value_id, "decided a block this node does not have");
            return false;
        };
        let cert = to_shared_certificate(&certificate);
        if let Err(e) = verify_commit_certificate(
            &cert,
            self.validator_set.shared(),
            self.ctx.chain_id(),
            height,
            &certificate.value_id.0,
        ) {
            error!(
                height,
                "Malachite's commit certificate fails Veil's rules: {e}"
            );
            return false;
        }
        let bytes = block.bytes.clone();
        match self.app.commit(height, &bytes, cert) {
            Ok(()) => {
                debug!(height, block = %certificate.value_id, "committed");
                true
            }
            Err(e) => {
                error!(height, "commit failed: {e:#}");
                false
            }
        }
    }

    /// Validates the complete proposals received early for this height and round.
    fn validate_pending(&mut self, height: u64, round: Round) {
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.height == height && p.round == round);
        self.pending = later;
        for p in now {
            if let Some(value) = self.validated_value(&p) {
                self.remember_undecided(value);
            }
        }
    }

    fn validated_value(&mut self, p: &PendingProposal) -> Option<ProposedValue<VeilContext>> {
        let block = self.blocks.get(&p.block_hash)?.bytes.clone();
        let valid = self.app.validate(p.height, &block);
        if !valid {
            warn!(height = p.height, round = %p.round, block = %p.block_hash, "proposal refused by the application");
        }
        Some(ProposedValue {
            height: Height(p.height),
            round: p.round,
            valid_round: p.pol_round,
            proposer: p.proposer,
            value: Value {
                block_hash: p.block_hash,
            },
            validity: Validity::from_bool(valid),
        })
    }

    /// Checks a complete stream; returns the value for consensus if it is for the current
    /// height (a later height's is kept until its round starts).
    fn complete_stream(
        &mut self,
        stream: CompleteStream,
    ) -> anyhow::Result<Option<ProposedValue<VeilContext>>> {
        let CompleteStream {
            height,
            round,
            pol_round,
            proposer,
            claimed_hash,
            signature,
            block,
        } = stream;
        let max_round = if height == self.height {
            self.round.as_u32().unwrap_or(0)
        } else {
            0
        }
        .saturating_add(MAX_ROUNDS_AHEAD);
        if height < self.height
            || height > self.height + MAX_HEIGHTS_AHEAD
            || round.as_u32().is_none_or(|r| r > max_round)
        {
            return Ok(None);
        }
        let expected = self
            .ctx
            .proposer(&self.validator_set, Height(height), round);
        if expected.address != proposer {
            warn!(height, %round, %proposer, "proposal stream from a validator that is not the proposer");
            return Ok(None);
        }
        let proposal = self.ctx.new_proposal(
            Height(height),
            round,
            Value {
                block_hash: claimed_hash,
            },
            pol_round,
            proposer,
        );
        let signed = proposal
            .sign_bytes(self.ctx.chain_id())
            .is_some_and(|bytes| expected.public_key.verify(&bytes, &signature).is_ok());
        if !signed {
            warn!(height, %round, %proposer, "proposal stream without the proposer's signature");
            return Ok(None);
        }
        let hash = BlockHash(self.app.block_hash(&block));
        if hash != claimed_hash {
            warn!(height, %round, "proposal stream whose block does not match its hash");
            return Ok(None);
        }
        let per_round = self
            .fin_signatures
            .keys()
            .filter(|(h, r, _)| *h == height && *r == round)
            .count();
        if per_round >= MAX_BLOCKS_PER_ROUND {
            warn!(height, %round, %proposer, "proposer streamed too many blocks for one round");
            return Ok(None);
        }
        self.fin_signatures.insert((height, round, hash), signature);
        self.remember_block(height, hash, block)?;
        let pending = PendingProposal {
            height,
            round,
            pol_round,
            proposer,
            block_hash: hash,
        };
        if height > self.height {
            self.pending.push(pending);
            return Ok(None);
        }
        let Some(value) = self.validated_value(&pending) else {
            return Ok(None);
        };
        self.remember_undecided(value.clone());
        Ok(Some(value))
    }

    /// Keeps a block of an undecided height, in memory and on disk (before any vote).
    fn remember_block(&mut self, height: u64, hash: BlockHash, bytes: Bytes) -> anyhow::Result<()> {
        if self.blocks.contains_key(&hash) {
            return Ok(());
        }
        self.cache.put_block(height, &hash.0, &bytes)?;
        self.blocks.insert(hash, KnownBlock { height, bytes });
        Ok(())
    }

    async fn stream_block(
        &mut self,
        channels: &mut Channels<VeilContext>,
        height: Height,
        round: Round,
        pol_round: Round,
        proposer: Address,
        hash: BlockHash,
    ) -> anyhow::Result<()> {
        let Some(block) = self.blocks.get(&hash) else {
            return Ok(());
        };
        let block = block.bytes.clone();
        let proposal = self.ctx.new_proposal(
            height,
            round,
            Value { block_hash: hash },
            pol_round,
            proposer,
        );
        let signature = if proposer == self.address {
            let Some(bytes) = proposal.sign_bytes(self.ctx.chain_id()) else {
                return Ok(());
            };
            self.key.sign(&bytes)
        } else if let Some(signature) = self.fin_signatures.get(&(height.0, round, hash)) {
            // Restreaming another validator's proposal: replay its signature.
            *signature
        } else {
            debug!(%height, %round, block = %hash, "no proposer signature to restream with");
            return Ok(());
        };
        self.stream_nonce += 1;
        let mut id = Vec::with_capacity(20);
        id.extend_from_slice(&height.0.to_be_bytes());
        id.extend_from_slice(&round.as_i64().to_be_bytes());
        id.extend_from_slice(&(self.stream_nonce as u32).to_be_bytes());
        let stream_id = StreamId::new(Bytes::from(id));

        let mut parts = vec![ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        }];
        let mut offset = 0;
        while offset < block.len() {
            let end = (offset + self.params.part_bytes).min(block.len());
            parts.push(ProposalPart::Data(block.slice(offset..end)));
            offset = end;
        }
        parts.push(ProposalPart::Fin {
            block_hash: hash,
            signature,
        });

        let count = parts.len() as u64;
        for (sequence, part) in parts.into_iter().enumerate() {
            let msg = StreamMessage::new(
                stream_id.clone(),
                sequence as u64,
                StreamContent::Data(part),
            );
            channels
                .network
                .send(NetworkMsg::PublishProposalPart(msg))
                .await
                .context("network channel closed")?;
        }
        channels
            .network
            .send(NetworkMsg::PublishProposalPart(StreamMessage::new(
                stream_id,
                count,
                StreamContent::Fin,
            )))
            .await
            .context("network channel closed")?;
        Ok(())
    }
}

mod certificates;
mod config;
mod equivocation;
pub use equivocation::{equivocations, Equivocation, EquivocationKind};
mod peers;
mod streams;
pub use certificates::{to_malachite_certificate, to_shared_certificate};
use config::{multiaddr, EngineConfig};
pub use config::{Config, Timeouts};
pub use peers::Peer;
use peers::{spawn_peer_watch, wait_for_peers};
use streams::*;

#[cfg(test)]
mod tests;
