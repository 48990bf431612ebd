//! A validator: the chain application driven by BFT consensus (Malachite, through
//! `veil-consensus`). Proposing reaps the mempool, a received proposal is checked (its
//! header follows this node's chain and every transaction passes `check_tx`), and a
//! decided block is executed — the enclave verifies its commit certificate again — and
//! committed with that certificate in one store write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use veil_consensus::{Application, CommitCertificate, Equivocation};
use veil_types::{BlockHeader, Hash};

use crate::app::{App, AppError, Checker};
use crate::mempool::Mempool;
use crate::rpc::block_events;
use crate::store::{Evidence, Store};

/// How far ahead of a validator's clock a proposed block's time may be.
pub const MAX_CLOCK_DRIFT: Duration = Duration::from_secs(5);

/// A block as consensus carries it: the header and the transactions' bytes. Its value
/// (what validators vote on) is the header's hash, which commits to the transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedBlock {
    pub header: BlockHeader,
    pub txs: Vec<Vec<u8>>,
}

impl ProposedBlock {
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("serializable")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        veil_types::decode_exact(bytes)
    }
}

/// The bytes consensus needs beside each transaction list (header, length prefixes).
pub fn max_block_bytes(params: &veil_types::genesis::Params) -> usize {
    params.max_block_bytes + 10 * params.max_block_txs + 4096
}

/// The node's side of consensus.
pub struct ChainApp {
    pub app: Arc<Mutex<App>>,
    pub mempool: Arc<Mempool>,
    pub checker: Checker,
    pub events: broadcast::Sender<Arc<str>>,
    /// The first error that leaves the node unable to go on (it stops with it).
    pub fatal: Arc<Mutex<Option<AppError>>>,
    /// The latest committed height, for the node's status.
    pub committed: Arc<AtomicU64>,
    /// Where equivocation evidence consensus reports is recorded (the chain's store,
    /// written without taking the app's lock).
    pub store: Store,
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl ChainApp {
    fn lock(&self) -> std::sync::MutexGuard<'_, App> {
        self.app.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Why `block` is not acceptable at `height` (none: it is).
    fn check(&self, height: u64, block: &ProposedBlock) -> Result<(), String> {
        let app = self.lock();
        let expected = app.next_header(block.header.time_nanos, &block.txs);
        let header = &block.header;
        if header.height != height || expected.height != height {
            return Err(format!(
                "it is for height {}, consensus is at {height} and this node at {}",
                header.height, expected.height
            ));
        }
        if *header != expected {
            return Err(format!(
                "its header does not follow this node's chain (expected {expected:?}, got {header:?})"
            ));
        }
        if header.time_nanos > now_nanos() + MAX_CLOCK_DRIFT.as_nanos() as u64 {
            return Err(format!(
                "its time is more than {MAX_CLOCK_DRIFT:?} ahead of this node's clock"
            ));
        }
        drop(app);
        let params = &self.checker.params;
        let bytes: usize = block.txs.iter().map(Vec::len).sum();
        if block.txs.len() > params.max_block_txs || bytes > params.max_block_bytes {
            return Err(format!(
                "it holds {} transactions of {bytes} bytes, more than a block may",
                block.txs.len()
            ));
        }
        let mut gas: u64 = 0;
        let mut budget = self.checker.block_budget();
        for (index, tx) in block.txs.iter().enumerate() {
            let checked = self
                .checker
                .check_stateless(tx)
                .map_err(|e| format!("transaction {index}: {e}"))?;
            // Its sequence, fee and funds cannot fail whatever the block's earlier
            // transactions do: every enclave relies on that (it accepts no ante failure).
            budget
                .admit(&checked)
                .map_err(|e| format!("transaction {index}: {e}"))?;
            gas = gas.saturating_add(checked.gas_limit);
            if gas > params.max_block_gas {
                return Err(format!(
                    "its transactions ask for more than the block gas limit of {}",
                    params.max_block_gas
                ));
            }
            // Executing it will not verify the signature again.
            self.checker.signatures.insert(checked.hash, checked.sender);
        }
        Ok(())
    }

    fn commit_block(
        &self,
        block: ProposedBlock,
        certificate: CommitCertificate,
    ) -> Result<(), AppError> {
        let started = std::time::Instant::now();
        let mut app = self.lock();
        let finalized = app.finalize_block(block.header, block.txs, certificate)?;
        let hashes = &finalized.block.tx_hashes;
        self.mempool
            .commit(hashes, &self.checker, || app.commit())?;
        drop(app);
        let height = finalized.block.header.height;
        self.committed.store(height, Ordering::SeqCst);
        for event in block_events(&finalized.block, &finalized.receipts) {
            // No subscribers is fine.
            let _ = self.events.send(event);
        }
        if !hashes.is_empty() {
            let ok = finalized.receipts.iter().filter(|r| r.ok).count();
            eprintln!(
                "veil: block {height} with {} txs ({ok} ok) in {} ms",
                hashes.len(),
                started.elapsed().as_millis()
            );
        }
        Ok(())
    }
}

impl Application for ChainApp {
    fn propose(&mut self, height: u64) -> Vec<u8> {
        let params = &self.checker.params;
        let txs = self.mempool.peek(
            params.max_block_txs,
            params.max_block_bytes,
            params.max_block_gas,
            &self.checker,
        );
        let header = self.lock().next_header(now_nanos(), &txs);
        debug_assert_eq!(header.height, height);
        ProposedBlock { header, txs }.to_bytes()
    }

    fn validate(&mut self, height: u64, block: &[u8]) -> bool {
        let result = ProposedBlock::from_bytes(block).and_then(|b| self.check(height, &b));
        match result {
            Ok(()) => true,
            Err(why) => {
                eprintln!("veil: refusing the proposal for height {height}: {why}");
                false
            }
        }
    }

    fn commit(&mut self, height: u64, block: &[u8], cert: CommitCertificate) -> anyhow::Result<()> {
        let block = ProposedBlock::from_bytes(block)
            .map_err(|e| anyhow::anyhow!("decided block {height} does not decode: {e}"))?;
        // On a thread of its own (named, so crash tests can aim at its writes), off the
        // runtime's workers.
        let result = tokio::task::block_in_place(|| {
            std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .name("veil-commit".into())
                    .spawn_scoped(scope, || self.commit_block(block, cert))
                    .map_err(|e| AppError::State(format!("starting the commit thread: {e}")))?
                    .join()
                    .unwrap_or_else(|_| Err(AppError::State("the block commit panicked".into())))
            })
        });
        if let Err(e) = result {
            let message = e.to_string();
            let mut fatal = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
            fatal.get_or_insert(e);
            anyhow::bail!("{message}");
        }
        Ok(())
    }

    fn decided(&self, height: u64) -> Option<(Vec<u8>, CommitCertificate)> {
        let store = self.lock().store().clone();
        let block = store.block(height).ok()??;
        let certificate = store.certificate(height).ok()??;
        let txs = (0..block.tx_hashes.len() as u32)
            .map(|i| store.tx(height, i).ok().flatten())
            .collect::<Option<Vec<_>>>()?;
        Some((
            ProposedBlock {
                header: block.header,
                txs,
            }
            .to_bytes(),
            certificate,
        ))
    }

    fn last_committed(&self) -> u64 {
        self.lock().last_block().header.height
    }

    fn record_equivocation(&mut self, equivocation: Equivocation) {
        let evidence = Evidence::from(&equivocation);
        // Public data only: the validator, the height, the kind (never the messages).
        match self.store.record_evidence(&evidence) {
            Ok(Some(index)) => eprintln!(
                "veil: validator {} equivocated at height {} ({:?}): recorded as evidence {index}",
                evidence.validator, evidence.height, evidence.kind
            ),
            // Reported before (e.g. again after a restart).
            Ok(None) => {}
            Err(e) => eprintln!(
                "veil: evidence that validator {} equivocated at height {} is not recorded: {e}",
                evidence.validator, evidence.height
            ),
        }
    }

    fn block_hash(&self, block: &[u8]) -> Hash {
        match ProposedBlock::from_bytes(block) {
            Ok(block) => block.header.hash(),
            // Not a block: a value nobody can have certified, refused by `validate`.
            Err(_) => {
                let digest = <sha2::Sha256 as sha2::Digest>::digest(block);
                let mut hash: Hash = digest.into();
                hash[0] ^= 0xff;
                hash
            }
        }
    }
}
