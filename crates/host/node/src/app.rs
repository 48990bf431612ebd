//! The chain state machine, shaped like an ABCI application (init chain, check tx,
//! finalize block, commit, query), driven by consensus (`validator.rs`) or a follower.
//! Executing a transaction's message is `execute.rs`; mempool checks `check.rs`; what the
//! enclave asks the host during a block `enclave_services.rs`.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use veil_enclave_abi::{
    BlockRef, ContractChange, ContractRef, EnclaveError, EntryPoint, ErrorKind, InitRequest,
    RunRequest, RunResponse, SealedCheckpoint, StateUpdate,
};
use veil_engine::cosmwasm_std::{
    BankQuery, Binary, ContractResult, QueryRequest, SystemError, SystemResult, WasmQuery,
};
use veil_engine::{BankQuerier, Querier};
use veil_host::{EnclaveClient, EnclaveMode, HostError, HostServices, NodeStore};
use veil_types::consensus::CommitCertificate;
use veil_types::{
    required_fee, tx_hash, txs_hash, Block, BlockHeader, CodeInfo, ContractInfo, Event, Hash, Msg,
    QueryPolicy, Receipt, Tx, DENOM,
};

use crate::genesis::Genesis;
use crate::state::{ChainState, StateChanges};
use crate::store::{BlockCommit, Store, StoreError};

mod check;
mod enclave_services;
mod execute;
mod governance;
pub use check::{check_static, BlockBudget, CheckedTx, Checker, SignatureCache};
pub use enclave_services::PendingNodes;
use enclave_services::{ChainQuerier, NodeWrites};

/// The gas table (shared with the enclave, which checks `out_of_gas` claims against it).
pub use veil_types::gas::{
    CONTRACT_CALL_GAS, GAS_MULTIPLIER, REGISTER_NODE_GAS, REVOKE_NODE_GAS,
    SET_ATTESTATION_POLICY_GAS, SET_QUERY_POLICY_GAS, STORE_CODE_GAS_PER_BYTE, TX_BASE_GAS,
    TX_GAS_PER_BYTE,
};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("enclave: {0}")]
    Host(#[from] HostError),
    #[error("{0}")]
    State(String),
    /// A decided block this node does not execute (nothing of it was executed).
    #[error("block {height} is refused: {why}; nothing of it was executed")]
    Block { height: u64, why: String },
}

/// Why a transaction is refused before it enters a block (nothing changes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// Stable name for clients: `malformed`, `bad_signature`, `wrong_chain`,
    /// `wrong_sequence`, `insufficient_fee`, `insufficient_funds`, `gas_limit`,
    /// `invalid_address`, `invalid_code`, `unknown_code`, `unknown_contract`, `too_large`,
    /// `mempool_full`, `duplicate`.
    pub kind: &'static str,
    pub message: String,
}

pub fn reject(kind: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        kind,
        message: message.into(),
    }
}

pub struct AppConfig {
    pub home: PathBuf,
    pub enclave: EnclaveMode,
    pub log_crossings: bool,
    /// Dev chains only: turn on inspection for the owner key in `home` (refused on any
    /// other genesis; see `inspect`).
    pub inspect: bool,
}

/// The result of executing a block, before it is committed.
pub struct FinalizedBlock {
    pub block: Block,
    pub receipts: Vec<Receipt>,
}

struct PendingBlock {
    block: Block,
    txs: Vec<Vec<u8>>,
    receipts: Vec<Receipt>,
    /// What the block changed in public state, with the state root after it (the next
    /// block's header carries it).
    state: StateChanges,
    wasm: Vec<(Hash, Vec<u8>)>,
    certificate: CommitCertificate,
    /// The enclave's sealed state as of the block's end.
    checkpoint: SealedCheckpoint,
    /// Inspection records of the block's contract calls, by transaction hash.
    inspections: Vec<(Hash, Vec<u8>)>,
}

pub struct App {
    store: Store,
    enclave: EnclaveClient,
    state: Arc<Mutex<ChainState>>,
    nodes: Arc<PendingNodes>,
    genesis: Genesis,
    last: Block,
    /// The state root after `last` (what the next block's header must carry).
    state_root: Hash,
    network_key: (Hash, u32),
    signatures: Arc<SignatureCache>,
    pending: Option<PendingBlock>,
    /// Set while [`App::simulate`] runs: contract calls commit nothing, sequences are not
    /// checked.
    simulating: bool,
    /// Whether the enclave inspects (a dev chain started with `--inspect`).
    inspecting: bool,
    /// Inspection records of the block being executed, by transaction hash.
    inspections: Vec<(Hash, Vec<u8>)>,
}

impl App {
    /// Opens the chain in `config.home`: resumes it, or starts it from `genesis` when the
    /// store is empty. Refuses to start when the stored state does not match the last
    /// block's state root.
    pub fn open(config: &AppConfig, genesis: Option<&Genesis>) -> Result<Self, AppError> {
        std::fs::create_dir_all(&config.home)
            .map_err(|e| AppError::State(format!("creating {}: {e}", config.home.display())))?;
        let store = Store::open(&config.home.join("chain.redb"))?;
        let stored_genesis = store.genesis()?;
        // A stored genesis was completed with its network section at bootstrap; the file
        // the node was started from may not have it yet.
        let same_chain = |stored: &Genesis, given: &Genesis| {
            stored == given
                || (given.network.is_none()
                    && Genesis {
                        network: None,
                        ..stored.clone()
                    } == *given)
        };
        let mut genesis = match (stored_genesis, genesis) {
            (Some(stored), Some(given)) if !same_chain(&stored, given) => {
                return Err(AppError::State(format!(
                    "{} holds chain {:?} with another genesis; use another home or reset it",
                    config.home.display(),
                    stored.chain_id
                )))
            }
            (Some(stored), _) => stored,
            (None, Some(given)) => {
                given.validate().map_err(AppError::State)?;
                given.clone()
            }
            (None, None) => {
                return Err(AppError::State(format!(
                    "{} holds no chain and no genesis was given",
                    config.home.display()
                )))
            }
        };
        if !store.has_state_tree()? {
            return Err(AppError::State(format!(
                "{} was written by an older Veil whose state root is not a state tree; reset it",
                config.home.display()
            )));
        }
        let state = Arc::new(Mutex::new(ChainState::open(&store)?));
        let nodes = Arc::new(PendingNodes {
            pending: Mutex::new(NodeWrites::default()),
            store: store.clone(),
        });
        let services = Arc::new(HostServices::new(
            nodes.clone(),
            Box::new(ChainQuerier(state.clone())),
            config.log_crossings,
            None,
        ));
        let (enclave, init) = open_enclave(config, &store, &genesis, services)?;
        if let Some(network) = &init.network {
            // This enclave bootstrapped the network: the genesis gains its network section.
            genesis.network = Some(
                veil_types::decode_exact(network)
                    .map_err(|e| AppError::State(format!("the enclave's network section: {e}")))?,
            );
        }
        if init.genesis_hash != genesis.hash() {
            return Err(AppError::State(format!(
                "the enclave is bound to genesis {}, this chain's is {}",
                hex::encode(init.genesis_hash),
                hex::encode(genesis.hash())
            )));
        }
        if !init.has_seed {
            return Err(AppError::State(
                "this node's enclave has no master seed yet: join the network first (`veil node join`)"
                    .into(),
            ));
        }
        let network_key = (init.public_key, init.generation);
        if config.inspect {
            // Checked here before any key is written, and again by the enclave itself.
            let owner = crate::inspect::owner_key_for(&config.home, &genesis)
                .map_err(|e| AppError::State(e.to_string()))?;
            enclave
                .enable_inspect(crate::inspect::owner_public(&owner))
                .map_err(|e| AppError::State(format!("--inspect: {}", public_error(e))))?;
        }

        let last = match store.height()? {
            Some(height) => store
                .block(height)?
                .ok_or_else(|| AppError::State(format!("block {height} is missing")))?,
            None => Self::init_chain(
                &store,
                &genesis,
                &state,
                init.sealed_state,
                init.seal_generation,
            )?,
        };
        let state_root = state.lock().unwrap_or_else(|p| p.into_inner()).app_hash()?;
        // Block 0 carries the genesis state's root; later blocks the root before them.
        let committed = match last.header.height {
            0 => last.header.app_hash,
            _ => store.state_root()?.ok_or_else(|| {
                AppError::State("the store has no state root of its last block".into())
            })?,
        };
        if state_root != committed {
            return Err(AppError::State(format!(
                "stored state has root {} but block {} committed {}: the store is damaged",
                hex::encode(state_root),
                last.header.height,
                hex::encode(committed)
            )));
        }
        Ok(Self {
            store,
            enclave,
            state,
            nodes,
            genesis,
            last,
            state_root,
            network_key,
            signatures: Arc::new(SignatureCache::default()),
            pending: None,
            simulating: false,
            inspecting: config.inspect,
            inspections: Vec::new(),
        })
    }

    /// ABCI InitChain: funds the genesis accounts and commits block 0.
    fn init_chain(
        store: &Store,
        genesis: &Genesis,
        state: &Mutex<ChainState>,
        sealed_state: Vec<u8>,
        seal_generation: u64,
    ) -> Result<Block, AppError> {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        state.set_attestation_policy(veil_types::AttestationPolicyRecord {
            policy: genesis.attestation_policy.clone(),
            height: 0,
            set_by: None,
        });
        for account in &genesis.accounts {
            state.set_account(veil_types::Account {
                address: account.address.clone(),
                balance: account.balance,
                ..Default::default()
            });
        }
        let changes = state.prepare_commit()?;
        let block = Block {
            header: BlockHeader {
                chain_id: genesis.chain_id.clone(),
                height: 0,
                time_nanos: genesis.genesis_time_nanos,
                prev_block_hash: [0; 32],
                txs_hash: txs_hash(&[]),
                app_hash: changes.root,
            },
            tx_hashes: Vec::new(),
        };
        let mut commit = BlockCommit::state_only(block.clone(), changes);
        commit.checkpoint = Some(SealedCheckpoint {
            sealed_state,
            seal_generation,
            // A new enclave has no records yet.
            records: StateUpdate {
                new_root: None,
                new_nodes: Vec::new(),
                released_nodes: Vec::new(),
            },
        });
        store.init_chain(genesis, commit)?;
        state.committed();
        Ok(block)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// Whether this node's enclave inspects its calls (`--inspect` on a dev chain).
    pub fn inspecting(&self) -> bool {
        self.inspecting
    }

    /// Dev chains with inspection on: `address`'s state under `prefix`, sealed by the
    /// enclave to the owner key.
    pub fn inspect_state(
        &self,
        address: &str,
        prefix: Vec<u8>,
        start_after: Option<Vec<u8>>,
        limit: u32,
    ) -> Result<Vec<u8>, Rejection> {
        if self
            .store
            .contract(address)
            .map_err(|e| reject("store", e.to_string()))?
            .is_none()
        {
            return Err(reject(
                "unknown_contract",
                format!("no contract at {address}"),
            ));
        }
        self.enclave
            .inspect_state(address, prefix, start_after, limit)
            .map_err(|e| match e {
                HostError::Enclave(EnclaveError {
                    kind: ErrorKind::Inspect,
                    message,
                }) => reject("inspect_refused", message),
                other => reject("enclave", public_error(other)),
            })
    }

    pub fn last_block(&self) -> &Block {
        &self.last
    }

    /// The state root after the last committed block.
    pub fn state_root(&self) -> Hash {
        self.state_root
    }

    pub fn network_key(&self) -> (Hash, u32) {
        self.network_key
    }

    pub fn signatures(&self) -> Arc<SignatureCache> {
        self.signatures.clone()
    }

    /// A checker for the mempool that reads only committed state.
    pub fn checker(&self) -> Checker {
        Checker {
            store: self.store.clone(),
            chain_id: self.genesis.chain_id.clone(),
            params: self.genesis.params.clone(),
            signatures: self.signatures.clone(),
            enclave: Some(self.enclave.tx_checker()),
        }
    }

    /// The header of the next block for `txs` at `time_nanos` (or just after the last
    /// block's time): it carries the state root after the last committed block.
    pub fn next_header(&self, time_nanos: u64, txs: &[Vec<u8>]) -> BlockHeader {
        let tx_hashes: Vec<Hash> = txs.iter().map(|tx| tx_hash(tx)).collect();
        BlockHeader {
            chain_id: self.genesis.chain_id.clone(),
            height: self.last.header.height + 1,
            time_nanos: time_nanos.max(self.last.header.time_nanos + 1),
            prev_block_hash: self.last.header.hash(),
            txs_hash: txs_hash(&tx_hashes),
            app_hash: self.state_root,
        }
    }

    /// ABCI FinalizeBlock: executes a decided block — `header` with `txs`, certified by
    /// `certificate` — on top of the last committed block. The enclave verifies the
    /// certificate itself before it runs anything of the block.
    pub fn finalize_block(
        &mut self,
        header: BlockHeader,
        txs: Vec<Vec<u8>>,
        certificate: CommitCertificate,
    ) -> Result<FinalizedBlock, AppError> {
        if self.pending.is_some() {
            return Err(AppError::State(
                "a finalized block is waiting for commit".into(),
            ));
        }
        let height = self.last.header.height + 1;
        let tx_hashes: Vec<Hash> = txs.iter().map(|tx| tx_hash(tx)).collect();
        let refuse = |why: String| AppError::Block { height, why };
        if header.chain_id != self.genesis.chain_id || header.height != height {
            return Err(refuse(format!(
                "it is block {} of chain {:?}, the next here is {height} of {:?}",
                header.height, header.chain_id, self.genesis.chain_id
            )));
        }
        if header.prev_block_hash != self.last.header.hash() {
            return Err(refuse(format!(
                "it does not follow block {} (previous block hash {}, this node's is {})",
                height - 1,
                hex::encode(header.prev_block_hash),
                hex::encode(self.last.header.hash())
            )));
        }
        if header.app_hash != self.state_root {
            return Err(refuse(format!(
                "its header says the state root after block {} is {}, this node computed {}",
                height - 1,
                hex::encode(header.app_hash),
                hex::encode(self.state_root)
            )));
        }
        if header.txs_hash != txs_hash(&tx_hashes) {
            return Err(refuse("its transactions do not match its header".into()));
        }
        if header.time_nanos <= self.last.header.time_nanos {
            return Err(refuse("its time is not after the previous block's".into()));
        }
        self.enclave
            .begin_block(&header, &txs, &certificate)
            .map_err(|e| refuse(public_error(e)))?;
        let time_nanos = header.time_nanos;
        let mut wasm = Vec::new();
        let mut receipts = Vec::with_capacity(txs.len());
        self.inspections.clear();
        for (index, (bytes, hash)) in txs.iter().zip(&tx_hashes).enumerate() {
            let context = TxContext {
                height,
                time_nanos,
                index: index as u32,
                hash: *hash,
                bytes,
                presented: Default::default(),
            };
            let receipt = self.deliver_tx(&context, &mut wasm)?;
            receipts.push(receipt);
        }
        let checkpoint = self.enclave.end_block()?;
        // Its records nodes are stored with the block's other nodes, in the same write as
        // the sealed state that names their root.
        self.nodes.apply(&checkpoint.records);
        let state = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .prepare_commit()?;
        let block = Block { header, tx_hashes };
        self.pending = Some(PendingBlock {
            block: block.clone(),
            txs,
            receipts: receipts.clone(),
            state,
            wasm,
            certificate,
            checkpoint,
            inspections: std::mem::take(&mut self.inspections),
        });
        Ok(FinalizedBlock { block, receipts })
    }

    /// ABCI Commit: writes the finalized block durably. On an error the node must stop:
    /// the enclave has moved on and only a restart (from the store) brings them together.
    pub fn commit(&mut self) -> Result<Block, AppError> {
        let pending = self
            .pending
            .take()
            .ok_or_else(|| AppError::State("no finalized block to commit".into()))?;
        let (nodes, released_nodes) = self.nodes.take();
        let state_root = pending.state.root;
        self.store.commit_block(BlockCommit {
            block: pending.block.clone(),
            txs: pending.txs,
            receipts: pending.receipts,
            state: pending.state,
            wasm: pending.wasm,
            nodes,
            released_nodes,
            checkpoint: Some(pending.checkpoint),
            certificate: Some(pending.certificate),
            inspections: pending.inspections,
        })?;
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .committed();
        self.last = pending.block.clone();
        self.state_root = state_root;
        Ok(pending.block)
    }

    fn deliver_tx(
        &mut self,
        context: &TxContext,
        wasm: &mut Vec<(Hash, Vec<u8>)>,
    ) -> Result<Receipt, AppError> {
        let mut receipt = Receipt {
            tx_hash: context.hash,
            height: context.height,
            index: context.index,
            sender: String::new(),
            msg_kind: String::new(),
            ok: false,
            error_kind: None,
            error: None,
            gas_limit: 0,
            gas_used: 0,
            fee: 0,
            encrypted_result: None,
            events: Vec::new(),
            code_id: None,
            contract_address: None,
        };
        // Admission (the ante handler): a failure here changes nothing, not even the fee.
        let admitted = self.admit(context, &mut receipt);
        let tx = match admitted {
            Ok(tx) => tx,
            Err(rejection) => {
                receipt.error_kind = Some(rejection.kind.to_string());
                receipt.error = Some(rejection.message);
                self.account_to_enclave(context, None, &receipt)?;
                return Ok(receipt);
            }
        };
        let sender = receipt.sender.clone();
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let mut account = state.account(&sender);
            account.balance = account.balance.saturating_sub(tx.body.fee); // checked in admit
            account.sequence += 1;
            account.public_key = Some(tx.public_key.clone());
            state.set_account(account);
        }
        receipt.fee = tx.body.fee;
        let mut meter = GasMeter {
            limit: tx.body.gas_limit,
            used: veil_types::gas::tx_gas(context.bytes.len()),
        };
        let outcome = if meter.used > meter.limit {
            Err(failure(
                "out_of_gas",
                format!(
                    "out of gas: the transaction needs {} gas before it runs, limit {}",
                    meter.used, meter.limit
                ),
            ))
        } else {
            self.execute(context, &tx, &sender, &mut meter, wasm, &mut receipt)
        };
        receipt.gas_used = meter.used.min(meter.limit);
        match outcome {
            Ok(()) => receipt.ok = true,
            Err(f) => {
                receipt.error_kind = Some(f.kind);
                receipt.error = Some(f.message);
            }
        }
        self.account_to_enclave(context, Some(&tx), &receipt)?;
        Ok(receipt)
    }

    /// A transaction of a certified block that takes the enclave but failed before it
    /// reached it: the enclave must be told why (it checks the reason itself and refuses
    /// to close a block with a call missing).
    fn account_to_enclave(
        &self,
        context: &TxContext,
        tx: Option<&Tx>,
        receipt: &Receipt,
    ) -> Result<(), AppError> {
        if self.simulating || context.presented.get() {
            return Ok(());
        }
        let tx = match tx {
            Some(tx) => std::borrow::Cow::Borrowed(tx),
            None => match Tx::from_bytes(context.bytes) {
                Ok(tx) => std::borrow::Cow::Owned(tx),
                // Nothing can run what does not decode; the enclave knows that too.
                Err(_) => return Ok(()),
            },
        };
        if !tx.body.msg.runs_in_enclave() {
            return Ok(());
        }
        let kind = receipt.error_kind.as_deref().unwrap_or("none");
        let refused = |why: String| {
            AppError::State(format!(
                "block {}: transaction {} ({}) failed with {kind} before it reached the enclave, which {why}",
                context.height,
                context.index,
                hex::encode(context.hash)
            ))
        };
        let reason = veil_enclave_abi::LeftOut::from_failure_kind(kind).ok_or_else(|| {
            refused("no certified block may hold: the validators that certified it let in a transaction whose sequence, fee or funds could fail".into())
        })?;
        self.enclave
            .leave_out(context.index, reason)
            .map_err(|e| refused(format!("refuses as a reason: {}", public_error(e))))
    }

    /// Checks signature, chain, sequence, fee and gas limit against the live state.
    fn admit(&self, context: &TxContext, receipt: &mut Receipt) -> Result<Tx, Rejection> {
        let tx = Tx::from_bytes(context.bytes).map_err(|e| reject("malformed", e.to_string()))?;
        receipt.msg_kind = tx.body.msg.kind().to_string();
        receipt.gas_limit = tx.body.gas_limit;
        let signer = match self.signatures.take(&context.hash) {
            Some(signer) => signer,
            None => tx
                .verify()
                .map_err(|e| reject("bad_signature", e.to_string()))?,
        };
        receipt.sender = signer.clone();
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let account = state.account(&signer);
        if self.simulating {
            // Gas estimation: the sender signs with the largest gas limit and no fee.
            return Ok(tx);
        }
        check_static(&tx, &self.genesis.chain_id, &self.genesis.params)?;
        if tx.body.sequence != account.sequence {
            return Err(reject(
                "wrong_sequence",
                format!(
                    "account sequence mismatch: expected {}, got {}",
                    account.sequence, tx.body.sequence
                ),
            ));
        }
        if account.balance < tx.body.fee {
            return Err(reject(
                "insufficient_funds",
                format!(
                    "insufficient funds for the fee: {signer} has {}uveil, the fee is {}uveil",
                    account.balance, tx.body.fee
                ),
            ));
        }
        Ok(tx)
    }

    /// ABCI Query for a contract: runs its query entry point on the committed state. The
    /// answer is encrypted for whoever encrypted `envelope`.
    pub fn query_contract(
        &self,
        address: &str,
        envelope: Vec<u8>,
        encrypted_permit: Option<Vec<u8>>,
    ) -> Result<(RunResponse, u64), Rejection> {
        let info = self
            .store
            .contract(address)
            .map_err(|e| reject("store", e.to_string()))?
            .ok_or_else(|| reject("unknown_contract", format!("no contract at {address}")))?;
        let request = RunRequest {
            entry: EntryPoint::Query,
            contract: ContractRef {
                address: address.to_string(),
                code_hash: info.code_hash,
                creator: info.creator,
            },
            block: BlockRef {
                height: self.last.header.height,
                time_nanos: self.last.header.time_nanos,
                chain_id: self.genesis.chain_id.clone(),
                tx_index: None,
            },
            sender: String::new(),
            funds: Vec::new(),
            envelope,
            state_root: info.state_root,
            gas_limit: QUERY_GAS_LIMIT,
            tx: None,
            simulate: false,
            encrypted_permit,
        };
        let height = self.last.header.height;
        let response = self.run_in_enclave(request).map_err(|e| match e {
            HostError::Enclave(EnclaveError {
                kind: ErrorKind::Envelope,
                message,
            }) => reject("envelope", message),
            HostError::Enclave(EnclaveError { message, .. }) => reject("enclave", message),
            other => reject("enclave", other.to_string()),
        })?;
        Ok((response, height))
    }

    /// Runs a transaction signed for simulation (`veil/simulate-v1`) on a copy of the
    /// state and reports the gas it used; nothing is committed (contract calls run with
    /// `simulate`, so the enclave keeps its roots). A transaction signed to run is
    /// refused: it runs only once, in a block.
    pub fn simulate(&mut self, bytes: &[u8]) -> Result<Receipt, Rejection> {
        if self.pending.is_some() {
            return Err(reject("busy", "a block is being committed; try again"));
        }
        let tx = Tx::from_bytes(bytes).map_err(|e| reject("malformed", e.to_string()))?;
        let sender = tx.verify_simulation().map_err(|e| match e {
            veil_types::TxError::SignedToRun => reject("signed_to_run", e.to_string()),
            other => reject("bad_signature", other.to_string()),
        })?;
        let context = TxContext {
            height: self.last.header.height + 1,
            time_nanos: self.last.header.time_nanos + 1,
            index: 0,
            hash: tx_hash(bytes),
            bytes,
            presented: Default::default(),
        };
        self.signatures.insert(context.hash, sender);
        let previous = std::mem::replace(&mut self.simulating, true);
        // No block is pending (checked above): every change in the state is this run's.
        let result = self.deliver_tx(&context, &mut Vec::new());
        self.simulating = previous;
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .discard_pending();
        result.map_err(|e| reject("internal", e.to_string()))
    }
}

/// Queries run with this much CosmWasm gas: wasmd's default smart-query limit
/// (`SmartQueryGasLimit`, 3,000,000 SDK gas) in engine gas.
pub const QUERY_GAS_LIMIT: u64 = 3_000_000 * GAS_MULTIPLIER;

struct TxContext<'a> {
    height: u64,
    time_nanos: u64,
    index: u32,
    hash: Hash,
    bytes: &'a [u8],
    /// Whether the signed transaction went to the enclave (else, in a block, the enclave
    /// must be told why not: `LeaveOut`).
    presented: std::cell::Cell<bool>,
}

impl TxContext<'_> {
    /// The signed transaction, for the enclave.
    fn for_enclave(&self) -> Vec<u8> {
        self.presented.set(true);
        self.bytes.to_vec()
    }
}

struct GasMeter {
    limit: u64,
    used: u64,
}

impl GasMeter {
    fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    fn charge(&mut self, gas: u64) -> Result<(), Failure> {
        self.used = self.used.saturating_add(gas);
        if self.used > self.limit {
            return Err(failure(
                "out_of_gas",
                format!("out of gas: needs {} gas, limit {}", self.used, self.limit),
            ));
        }
        Ok(())
    }

    fn charge_engine(&mut self, engine_gas: u64) {
        self.used = self
            .used
            .saturating_add(engine_gas.div_ceil(GAS_MULTIPLIER));
    }
}

/// Starts the node's enclave on `genesis` from the sealed state `store` keeps (the one way
/// a node, joining or running, brings its enclave up).
pub(crate) fn open_enclave(
    config: &AppConfig,
    store: &Store,
    genesis: &Genesis,
    services: Arc<HostServices>,
) -> Result<(EnclaveClient, veil_enclave_abi::InitResponse), AppError> {
    let enclave = EnclaveClient::open(&config.enclave, services)?;
    let record = store.enclave_record()?;
    let init = enclave.init(InitRequest {
        machine_secret: veil_host::load_or_create_machine_secret(
            &config.home.join("machine-secret"),
        )?,
        min_seal_generation: record.as_ref().map_or(0, |r| r.seal_generation),
        sealed_state: record.map(|r| r.sealed_state),
        genesis: genesis.to_bytes(),
    })?;
    Ok((enclave, init))
}

/// Why a transaction in a block failed (its fee is still charged).
struct Failure {
    kind: String,
    message: String,
}

/// A query policy a transaction carries, checked when it executes.
fn valid_policy(policy: &QueryPolicy) -> Result<(), Failure> {
    policy
        .validate()
        .map_err(|e| failure("invalid_query_policy", e.to_string()))
}

/// The same check at admission (mempool).
fn admissible_policy(policy: &QueryPolicy) -> Result<(), Rejection> {
    policy
        .validate()
        .map_err(|e| reject("invalid_query_policy", e.to_string()))
}

/// Largest attestation a `register_node` transaction may carry.
fn veil_attestation_limit() -> usize {
    veil_attestation::MAX_ATTESTATION_BYTES
}

fn failure(kind: &str, message: impl Into<String>) -> Failure {
    Failure {
        kind: kind.to_string(),
        message: message.into(),
    }
}

fn public_error(e: HostError) -> String {
    match e {
        HostError::Enclave(EnclaveError { message, .. }) => message,
        other => other.to_string(),
    }
}

fn enclave_failure(e: HostError) -> Failure {
    match &e {
        HostError::Enclave(EnclaveError { kind, message }) => failure(
            match kind {
                ErrorKind::Envelope => "envelope",
                ErrorKind::StateIntegrity | ErrorKind::StaleStateRoot => "state_integrity",
                ErrorKind::BadRequest => "bad_request",
                ErrorKind::Replay => "replay",
                ErrorKind::Unauthorized => "unauthorized",
                _ => "enclave",
            },
            message.clone(),
        ),
        _ => failure("enclave", e.to_string()),
    }
}

fn validate_address(address: &str) -> Result<(), Failure> {
    veil_types::validate_address(address).map_err(|e| failure("invalid_address", e))
}
