//! The chain state machine, shaped like an ABCI application (init chain, check tx,
//! finalize block, commit, query) so that a BFT engine can drive it instead of the
//! built-in block producer.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use veil_enclave_abi::{
    BlockRef, ContractRef, EnclaveError, EntryPoint, ErrorKind, InitRequest, RunRequest,
    RunResponse, SealedCheckpoint, StateUpdate,
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
use crate::state::{ChainState, Dirty};
use crate::store::{BlockCommit, Store, StoreError};

mod governance;
pub use governance::{REVOKE_NODE_GAS, SET_ATTESTATION_POLICY_GAS};

/// Chain gas (what gas limits and fees count): CosmWasm gas / this, as wasmd does.
pub const GAS_MULTIPLIER: u64 = 1_000;
/// Every transaction: signature check, account update, receipt.
pub const TX_BASE_GAS: u64 = 10_000;
pub const TX_GAS_PER_BYTE: u64 = 10;
/// Validating and compiling uploaded code, per byte.
pub const STORE_CODE_GAS_PER_BYTE: u64 = 6;
/// Loading a contract into the engine, per call.
pub const CONTRACT_CALL_GAS: u64 = 20_000;
/// Verifying an attestation and sharing the seed (a DCAP quote takes ~2 ms to verify).
pub const REGISTER_NODE_GAS: u64 = 200_000;
// Governance gas (`SET_ATTESTATION_POLICY_GAS`, `REVOKE_NODE_GAS`): `app/governance.rs`.

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

/// State nodes written and released by the block being executed, then the committed ones.
pub struct PendingNodes {
    pending: Mutex<NodeWrites>,
    store: Store,
}

/// A block's changes to the stored nodes, in effect after the calls so far: a node
/// released by one call and recreated by a later one is kept, and one created and released
/// within the block is never written.
#[derive(Default)]
struct NodeWrites {
    added: HashMap<Hash, Vec<u8>>,
    released: HashSet<Hash>,
}

impl PendingNodes {
    fn apply(&self, update: &StateUpdate) {
        let mut writes = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (id, blob) in &update.new_nodes {
            writes.released.remove(id);
            writes.added.insert(*id, blob.clone());
        }
        for id in &update.released_nodes {
            writes.added.remove(id);
            writes.released.insert(*id);
        }
    }

    /// The block's node writes (sorted by id) and deletions.
    fn take(&self) -> (Vec<(Hash, Vec<u8>)>, Vec<Hash>) {
        let writes = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let mut added: Vec<_> = writes.added.into_iter().collect();
        added.sort_unstable_by_key(|a| a.0);
        let mut released: Vec<_> = writes.released.into_iter().collect();
        released.sort_unstable();
        (added, released)
    }
}

impl NodeStore for PendingNodes {
    fn node(&self, id: &Hash) -> Option<Vec<u8>> {
        if let Some(blob) = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .added
            .get(id)
        {
            return Some(blob.clone());
        }
        // A read error is reported to the enclave as a missing node (an integrity error).
        self.store.node(id).ok().flatten()
    }

    fn code(&self, code_hash: &Hash) -> Option<Vec<u8>> {
        self.store.wasm(code_hash).ok().flatten()
    }
}

/// Answers contracts' queries about public state from the live chain state: bank
/// balances, contract info and code info (the enclave answers queries to contracts).
struct ChainQuerier(Arc<Mutex<ChainState>>);

impl Querier for ChainQuerier {
    fn query_raw(
        &self,
        request: &[u8],
        gas_limit: u64,
    ) -> (SystemResult<ContractResult<Binary>>, u64) {
        let found = |answer: serde_json::Value| {
            let bytes = serde_json::to_vec(&answer).expect("JSON values serialize");
            (SystemResult::Ok(ContractResult::Ok(Binary::from(bytes))), 0)
        };
        let state = || self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut bank = BankQuerier::default();
        match serde_json::from_slice::<QueryRequest>(request) {
            Ok(QueryRequest::Bank(BankQuery::Balance { address, .. })) => {
                let balance = state().balance(&address);
                bank.balances
                    .entry(address)
                    .or_default()
                    .insert(DENOM.to_string(), balance);
            }
            // The fields of cosmwasm-std's ContractInfoResponse and CodeInfoResponse.
            Ok(QueryRequest::Wasm(WasmQuery::ContractInfo { contract_addr })) => {
                return match state().contracts.get(&contract_addr) {
                    Some(info) => found(serde_json::json!({
                        "code_id": info.code_id,
                        "creator": info.creator,
                        "admin": info.admin,
                        "pinned": false,
                    })),
                    None => (
                        SystemResult::Err(SystemError::NoSuchContract {
                            addr: contract_addr,
                        }),
                        0,
                    ),
                };
            }
            Ok(QueryRequest::Wasm(WasmQuery::CodeInfo { code_id })) => {
                return match state().codes.get(&code_id) {
                    Some(code) => found(serde_json::json!({
                        "code_id": code.code_id,
                        "creator": code.creator,
                        "checksum": hex::encode(code.code_hash),
                    })),
                    None => (SystemResult::Err(SystemError::NoSuchCode { code_id }), 0),
                };
            }
            _ => {}
        }
        bank.query_raw(request, gas_limit)
    }
}

/// Remembers who signed transactions the mempool already verified, so a block does not
/// verify the same signature twice.
#[derive(Default)]
pub struct SignatureCache(Mutex<HashMap<Hash, String>>);

const SIGNATURE_CACHE_LIMIT: usize = 200_000;

impl SignatureCache {
    pub fn insert(&self, hash: Hash, signer: String) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SIGNATURE_CACHE_LIMIT {
            map.clear();
        }
        map.insert(hash, signer);
    }

    fn take(&self, hash: &Hash) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash)
    }
}

pub struct AppConfig {
    pub home: PathBuf,
    pub enclave: EnclaveMode,
    pub log_crossings: bool,
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
    dirty: Dirty,
    wasm: Vec<(Hash, Vec<u8>)>,
    certificate: CommitCertificate,
    /// The enclave's sealed state as of the block's end.
    checkpoint: SealedCheckpoint,
    /// The state root after the block (the next block's header carries it).
    state_root: Hash,
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
        let state = Arc::new(Mutex::new(store.load_state()?));
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
        let state_root = state.lock().unwrap_or_else(|p| p.into_inner()).app_hash();
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
        state.attestation_policy = veil_types::AttestationPolicyRecord {
            policy: genesis.attestation_policy.clone(),
            height: 0,
            set_by: None,
        };
        for account in &genesis.accounts {
            state.accounts.insert(
                account.address.clone(),
                veil_types::Account {
                    address: account.address.clone(),
                    balance: account.balance,
                    ..Default::default()
                },
            );
        }
        let block = Block {
            header: BlockHeader {
                chain_id: genesis.chain_id.clone(),
                height: 0,
                time_nanos: genesis.genesis_time_nanos,
                prev_block_hash: [0; 32],
                txs_hash: txs_hash(&[]),
                app_hash: state.app_hash(),
            },
            tx_hashes: Vec::new(),
        };
        store.init_chain(
            genesis,
            BlockCommit {
                block: block.clone(),
                txs: Vec::new(),
                receipts: Vec::new(),
                accounts: state.accounts.values().cloned().collect(),
                codes: Vec::new(),
                wasm: Vec::new(),
                contracts: Vec::new(),
                registrations: Vec::new(),
                attestation_policy: Some(state.attestation_policy.clone()),
                nodes: Vec::new(),
                released_nodes: Vec::new(),
                checkpoint: Some(SealedCheckpoint {
                    sealed_state,
                    seal_generation,
                }),
                certificate: None,
                state_root: state.app_hash(),
            },
        )?;
        Ok(block)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
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
            .begin_block(&header, tx_hashes.clone(), &certificate)
            .map_err(|e| refuse(public_error(e)))?;
        let time_nanos = header.time_nanos;
        let mut dirty = Dirty::default();
        let mut wasm = Vec::new();
        let mut receipts = Vec::with_capacity(txs.len());
        for (index, (bytes, hash)) in txs.iter().zip(&tx_hashes).enumerate() {
            let context = TxContext {
                height,
                time_nanos,
                index: index as u32,
                hash: *hash,
                bytes,
            };
            let receipt = self.deliver_tx(&context, &mut dirty, &mut wasm)?;
            receipts.push(receipt);
        }
        let checkpoint = self.enclave.end_block()?;
        let state_root = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .app_hash();
        let block = Block { header, tx_hashes };
        self.pending = Some(PendingBlock {
            block: block.clone(),
            txs,
            receipts: receipts.clone(),
            dirty,
            wasm,
            certificate,
            checkpoint,
            state_root,
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
        let (accounts, codes, contracts, registrations) = {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            (
                pending
                    .dirty
                    .accounts
                    .iter()
                    .map(|a| state.account(a))
                    .collect(),
                pending
                    .dirty
                    .codes
                    .iter()
                    .filter_map(|id| state.codes.get(id).cloned())
                    .collect(),
                pending
                    .dirty
                    .contracts
                    .iter()
                    .filter_map(|a| state.contracts.get(a).cloned())
                    .collect(),
                pending
                    .dirty
                    .registrations
                    .iter()
                    .filter_map(|k| state.registrations.get(k).cloned())
                    .collect(),
            )
        };
        let attestation_policy = pending.dirty.attestation_policy.then(|| {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.attestation_policy.clone()
        });
        let (nodes, released_nodes) = self.nodes.take();
        self.store.commit_block(BlockCommit {
            block: pending.block.clone(),
            txs: pending.txs,
            receipts: pending.receipts,
            accounts,
            codes,
            wasm: pending.wasm,
            contracts,
            registrations,
            attestation_policy,
            nodes,
            released_nodes,
            checkpoint: Some(pending.checkpoint),
            certificate: Some(pending.certificate),
            state_root: pending.state_root,
        })?;
        self.last = pending.block.clone();
        self.state_root = pending.state_root;
        Ok(pending.block)
    }

    fn deliver_tx(
        &mut self,
        context: &TxContext,
        dirty: &mut Dirty,
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
            state.accounts.insert(sender.clone(), account);
            dirty.accounts.insert(sender.clone());
        }
        receipt.fee = tx.body.fee;
        let mut meter = GasMeter {
            limit: tx.body.gas_limit,
            used: TX_BASE_GAS + TX_GAS_PER_BYTE * context.bytes.len() as u64,
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
            self.execute(context, &tx, &sender, &mut meter, dirty, wasm, &mut receipt)
        };
        receipt.gas_used = meter.used.min(meter.limit);
        match outcome {
            Ok(()) => receipt.ok = true,
            Err(f) => {
                receipt.error_kind = Some(f.kind);
                receipt.error = Some(f.message);
            }
        }
        Ok(receipt)
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

    #[allow(clippy::too_many_arguments)]
    fn execute(
        &mut self,
        context: &TxContext,
        tx: &Tx,
        sender: &str,
        meter: &mut GasMeter,
        dirty: &mut Dirty,
        wasm: &mut Vec<(Hash, Vec<u8>)>,
        receipt: &mut Receipt,
    ) -> Result<(), Failure> {
        match &tx.body.msg {
            Msg::Send { to, amount } => {
                validate_address(to)?;
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                state
                    .transfer(dirty, sender, to, *amount)
                    .map_err(|e| failure("insufficient_funds", e))?;
                receipt.events.push(Event {
                    kind: "transfer".into(),
                    attributes: vec![
                        ("sender".into(), sender.to_string()),
                        ("recipient".into(), to.clone()),
                        ("amount".into(), format!("{amount}{DENOM}")),
                    ],
                });
                Ok(())
            }
            Msg::StoreCode {
                wasm: code,
                query_policy,
            } => {
                meter.charge(STORE_CODE_GAS_PER_BYTE.saturating_mul(code.len() as u64))?;
                let default_query_policy = query_policy.clone().unwrap_or_else(QueryPolicy::public);
                valid_policy(&default_query_policy)?;
                // The enclave records the code (and its default policy) only for a real
                // execution, under the same id this node gives it.
                let signed = (!self.simulating).then(|| context.bytes.to_vec());
                let (code_hash, enclave_code_id) = self
                    .enclave
                    .store_code(code, signed, &self.genesis.chain_id)
                    .map_err(|e| failure("invalid_code", public_error(e)))?;
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let code_id = state.next_code_id();
                if enclave_code_id.is_some_and(|id| id != code_id) {
                    return Err(failure(
                        "enclave",
                        format!("the enclave recorded this code as {enclave_code_id:?}, the chain as {code_id}: the enclave's sealed state does not belong to this store"),
                    ));
                }
                let known = state.codes.values().any(|c| c.code_hash == code_hash)
                    || wasm.iter().any(|(h, _)| *h == code_hash);
                if !known {
                    wasm.push((code_hash, code.clone()));
                }
                state.codes.insert(
                    code_id,
                    CodeInfo {
                        code_id,
                        code_hash,
                        creator: sender.to_string(),
                        size: code.len() as u64,
                        default_query_policy,
                    },
                );
                dirty.codes.insert(code_id);
                receipt.code_id = Some(code_id);
                receipt.events.push(Event {
                    kind: "store_code".into(),
                    attributes: vec![
                        ("code_id".into(), code_id.to_string()),
                        ("code_hash".into(), hex::encode(code_hash)),
                    ],
                });
                Ok(())
            }
            Msg::Instantiate {
                code_id,
                label,
                admin,
                msg,
                funds,
                query_policy,
            } => {
                if let Some(admin) = admin {
                    validate_address(admin)?;
                }
                if let Some(policy) = query_policy {
                    valid_policy(policy)?;
                }
                let code = self.code(*code_id)?;
                let address = veil_types::contract_address(&code.code_hash, sender, label);
                receipt.contract_address = Some(address.clone());
                if self.contract_info(&address).is_some() {
                    return Err(failure(
                        "contract_exists",
                        format!("contract {address} exists: {sender} already used label {label:?} with this code"),
                    ));
                }
                let info = ContractInfo {
                    address: address.clone(),
                    code_id: *code_id,
                    code_hash: code.code_hash,
                    init_code_hash: code.code_hash,
                    creator: sender.to_string(),
                    admin: admin.clone(),
                    label: label.clone(),
                    state_root: None,
                    query_policy: query_policy
                        .clone()
                        .unwrap_or_else(|| code.default_query_policy.clone()),
                };
                self.call_contract(
                    context,
                    EntryPoint::Instantiate,
                    info,
                    sender,
                    msg,
                    *funds,
                    meter,
                    dirty,
                    receipt,
                )
            }
            Msg::Execute {
                contract,
                msg,
                funds,
            } => {
                let info = self.contract_info(contract).ok_or_else(|| {
                    failure("unknown_contract", format!("no contract at {contract}"))
                })?;
                self.call_contract(
                    context,
                    EntryPoint::Execute,
                    info,
                    sender,
                    msg,
                    *funds,
                    meter,
                    dirty,
                    receipt,
                )
            }
            Msg::Migrate {
                contract,
                code_id,
                msg,
            } => {
                let mut info = self.contract_info(contract).ok_or_else(|| {
                    failure("unknown_contract", format!("no contract at {contract}"))
                })?;
                if info.admin.as_deref() != Some(sender) {
                    return Err(failure(
                        "unauthorized",
                        match &info.admin {
                            Some(admin) => format!("only the admin {admin} may migrate {contract}"),
                            None => format!("{contract} has no admin and cannot be migrated"),
                        },
                    ));
                }
                let code = self.code(*code_id)?;
                info.code_id = *code_id;
                info.code_hash = code.code_hash;
                self.call_contract(
                    context,
                    EntryPoint::Migrate,
                    info,
                    sender,
                    msg,
                    0,
                    meter,
                    dirty,
                    receipt,
                )
            }
            Msg::RegisterNode {
                registration_key,
                attestation,
            } => {
                meter.charge(REGISTER_NODE_GAS)?;
                let known = self
                    .state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .registrations
                    .get(registration_key)
                    .map(|r| r.revocation.is_some());
                match known {
                    Some(true) => {
                        return Err(failure(
                            "revoked",
                            format!(
                                "enclave key {} was revoked by the network's authority: it is given nothing",
                                hex::encode(registration_key)
                            ),
                        ))
                    }
                    Some(false) => {
                        return Err(failure(
                            "already_registered",
                            format!(
                                "enclave key {} is already registered",
                                hex::encode(registration_key)
                            ),
                        ))
                    }
                    None => {}
                }
                if attestation.len() > veil_attestation_limit() {
                    return Err(failure("attestation", "the attestation is too large"));
                }
                if self.simulating {
                    return Ok(());
                }
                let (seed_share, enclave) = self
                    .enclave
                    .register_node(context.bytes.to_vec())
                    .map_err(|e| match e {
                        HostError::Enclave(EnclaveError {
                            kind: ErrorKind::Attestation,
                            message,
                        }) => failure("attestation", format!("attestation refused: {message}")),
                        other => enclave_failure(other),
                    })?;
                receipt.events.push(Event {
                    kind: "register_node".into(),
                    attributes: vec![
                        ("operator".into(), sender.to_string()),
                        ("registration_key".into(), hex::encode(registration_key)),
                        ("enclave".into(), enclave.clone()),
                    ],
                });
                let registration = veil_types::Registration {
                    registration_key: *registration_key,
                    operator: sender.to_string(),
                    height: context.height,
                    enclave,
                    seed_share,
                    revocation: None,
                };
                dirty.registrations.insert(*registration_key);
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .registrations
                    .insert(*registration_key, registration);
                Ok(())
            }
            Msg::SetAttestationPolicy { .. } | Msg::RevokeNode { .. } => {
                self.govern(context, tx, sender, meter, dirty, receipt)
            }
            Msg::SetQueryPolicy {
                contract,
                query_policy,
            } => {
                meter.charge(CONTRACT_CALL_GAS)?;
                let mut info = self.contract_info(contract).ok_or_else(|| {
                    failure("unknown_contract", format!("no contract at {contract}"))
                })?;
                if info.admin.as_deref() != Some(sender) {
                    return Err(failure(
                        "unauthorized",
                        match &info.admin {
                            Some(admin) => format!(
                                "only the admin {admin} may change the query policy of {contract}"
                            ),
                            None => {
                                format!("{contract} has no admin: its query policy cannot change")
                            }
                        },
                    ));
                }
                valid_policy(query_policy)?;
                if !self.simulating {
                    self.enclave
                        .set_query_policy(context.bytes.to_vec(), &self.genesis.chain_id)
                        .map_err(enclave_failure)?;
                }
                info.query_policy = query_policy.clone();
                receipt.events.push(Event {
                    kind: "set_query_policy".into(),
                    attributes: vec![("contract_address".into(), contract.clone())],
                });
                dirty.contracts.insert(contract.clone());
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contracts
                    .insert(contract.clone(), info);
                Ok(())
            }
        }
    }

    fn code(&self, code_id: u64) -> Result<CodeInfo, Failure> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .codes
            .get(&code_id)
            .cloned()
            .ok_or_else(|| failure("unknown_code", format!("no code with id {code_id}")))
    }

    fn contract_info(&self, address: &str) -> Option<ContractInfo> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contracts
            .get(address)
            .cloned()
    }

    /// Runs a contract entry point in the enclave; funds move only if it succeeds.
    #[allow(clippy::too_many_arguments)]
    fn call_contract(
        &mut self,
        context: &TxContext,
        entry: EntryPoint,
        mut info: ContractInfo,
        sender: &str,
        envelope: &[u8],
        funds: u128,
        meter: &mut GasMeter,
        dirty: &mut Dirty,
        receipt: &mut Receipt,
    ) -> Result<(), Failure> {
        meter.charge(CONTRACT_CALL_GAS)?;
        let address = info.address.clone();
        let mut funds_dirty = Dirty::default();
        if funds > 0 {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state
                .transfer(&mut funds_dirty, sender, &address, funds)
                .map_err(|e| failure("insufficient_funds", e))?;
        }
        let request = RunRequest {
            entry,
            contract: ContractRef {
                address: address.clone(),
                code_hash: info.code_hash,
                creator: info.creator.clone(),
            },
            block: BlockRef {
                height: context.height,
                time_nanos: context.time_nanos,
                chain_id: self.genesis.chain_id.clone(),
                tx_index: Some(context.index),
            },
            sender: sender.to_string(),
            funds: if funds > 0 {
                vec![(DENOM.to_string(), funds)]
            } else {
                Vec::new()
            },
            envelope: envelope.to_vec(),
            state_root: info.state_root,
            gas_limit: meter.remaining().saturating_mul(GAS_MULTIPLIER),
            tx: Some(context.bytes.to_vec()),
            simulate: self.simulating,
            encrypted_permit: None,
        };
        let result = self.run_in_enclave(request);
        let undo_funds = |state: &Mutex<ChainState>| {
            if funds > 0 {
                let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                state
                    .transfer(&mut Dirty::default(), &address, sender, funds)
                    .expect("the funds just moved are there");
            }
        };
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                undo_funds(&self.state);
                return Err(enclave_failure(e));
            }
        };
        meter.charge_engine(response.gas_used);
        receipt.encrypted_result = Some(response.encrypted_result.clone());
        if !response.ok {
            undo_funds(&self.state);
            let kind = response.error_kind.unwrap_or_else(|| "contract".into());
            let message = match kind.as_str() {
                "out_of_gas" => format!(
                    "out of gas: used {} of the limit {}",
                    meter.used, meter.limit
                ),
                "contract" => {
                    "the contract returned an error (its message is in the encrypted result)".into()
                }
                other => format!("the call failed ({other}); details are in the encrypted result"),
            };
            return Err(Failure { kind, message });
        }
        // The enclave has committed: its state must be taken whatever else happens. Gas
        // cannot overflow here, the engine ran with at most the remaining gas.
        debug_assert!(meter.used <= meter.limit);
        if let Some(update) = response.state {
            self.nodes.apply(&update);
            info.state_root = update.new_root;
        }
        let mut attributes = vec![("contract_address".to_string(), address.clone())];
        attributes.extend(response.public_attributes);
        receipt.events.push(Event {
            kind: match entry {
                EntryPoint::Instantiate => "instantiate",
                EntryPoint::Migrate => "migrate",
                _ => "execute",
            }
            .into(),
            attributes,
        });
        for call in &response.sub_calls {
            let mut attributes = vec![("contract_address".to_string(), call.contract.clone())];
            attributes.extend(call.public_attributes.iter().cloned());
            receipt.events.push(Event {
                kind: "execute".into(),
                attributes,
            });
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for transfer in &response.transfers {
            // The enclave checked each against the balances this node reported from this
            // same state, in this order, so they fit.
            state
                .transfer(
                    &mut funds_dirty,
                    &transfer.from,
                    &transfer.to,
                    transfer.amount,
                )
                .expect("the enclave checked the balances it was given");
            receipt.events.push(Event {
                kind: "transfer".into(),
                attributes: vec![
                    ("recipient".into(), transfer.to.clone()),
                    ("sender".into(), transfer.from.clone()),
                    ("amount".into(), format!("{}{DENOM}", transfer.amount)),
                ],
            });
        }
        for (other, update) in &response.other_states {
            self.nodes.apply(update);
            if let Some(info) = state.contracts.get_mut(other) {
                info.state_root = update.new_root;
            }
            dirty.contracts.insert(other.clone());
        }
        drop(state);
        dirty.accounts.extend(funds_dirty.accounts);
        dirty.contracts.insert(address.clone());
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contracts
            .insert(address, info);
        Ok(())
    }

    fn run_in_enclave(&self, request: RunRequest) -> Result<RunResponse, HostError> {
        self.enclave.run(request)
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
        let saved = self.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let context = TxContext {
            height: self.last.header.height + 1,
            time_nanos: self.last.header.time_nanos + 1,
            index: 0,
            hash: tx_hash(bytes),
            bytes,
        };
        self.signatures.insert(context.hash, sender);
        let previous = std::mem::replace(&mut self.simulating, true);
        let result = self.deliver_tx(&context, &mut Dirty::default(), &mut Vec::new());
        self.simulating = previous;
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = saved;
        result.map_err(|e| reject("internal", e.to_string()))
    }
}

/// Queries run with this much CosmWasm gas.
pub const QUERY_GAS_LIMIT: u64 = 3_000_000_000;

struct TxContext<'a> {
    height: u64,
    time_nanos: u64,
    index: u32,
    hash: Hash,
    bytes: &'a [u8],
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

/// Checks that need no state: chain id, fee for the gas limit, gas cap, memo, label.
pub fn check_static(
    tx: &Tx,
    chain_id: &str,
    params: &crate::genesis::Params,
) -> Result<(), Rejection> {
    if tx.body.chain_id != chain_id {
        return Err(reject(
            "wrong_chain",
            format!(
                "transaction is for chain {:?}, this is {chain_id:?}",
                tx.body.chain_id
            ),
        ));
    }
    if tx.body.gas_limit > params.max_tx_gas {
        return Err(reject(
            "gas_limit",
            format!(
                "gas limit {} exceeds the maximum {}",
                tx.body.gas_limit, params.max_tx_gas
            ),
        ));
    }
    let needed = required_fee(tx.body.gas_limit, params.fee_per_million_gas);
    if tx.body.fee < needed {
        return Err(reject(
            "insufficient_fee",
            format!(
                "fee {}uveil is below the minimum {needed}uveil for gas limit {} ({} uveil per million gas)",
                tx.body.fee, tx.body.gas_limit, params.fee_per_million_gas
            ),
        ));
    }
    if tx.body.memo.len() > veil_types::MAX_MEMO_BYTES {
        return Err(reject("malformed", "memo is too long"));
    }
    if let Msg::Instantiate { label, .. } = &tx.body.msg {
        if label.is_empty() || label.len() > veil_types::MAX_LABEL_BYTES {
            return Err(reject(
                "malformed",
                format!("label must be 1 to {} bytes", veil_types::MAX_LABEL_BYTES),
            ));
        }
    }
    Ok(())
}

/// The mempool's view: committed state only, never the enclave.
#[derive(Clone)]
pub struct Checker {
    store: Store,
    pub chain_id: String,
    pub params: crate::genesis::Params,
    pub(crate) signatures: Arc<SignatureCache>,
}

/// A transaction that passed [`Checker::check`].
pub struct CheckedTx {
    pub hash: Hash,
    pub sender: String,
    pub sequence: u64,
    pub fee: u128,
    pub gas_limit: u64,
}

impl Checker {
    /// ABCI CheckTx, first half: everything that needs no account state (size, encoding,
    /// signature, chain, fee for the gas limit, addresses, code validity).
    pub fn check_stateless(&self, bytes: &[u8]) -> Result<CheckedTx, Rejection> {
        if bytes.len() > veil_types::MAX_TX_BYTES {
            return Err(reject(
                "too_large",
                format!(
                    "transaction of {} bytes exceeds the limit of {} bytes",
                    bytes.len(),
                    veil_types::MAX_TX_BYTES
                ),
            ));
        }
        let tx = Tx::from_bytes(bytes).map_err(|e| reject("malformed", e.to_string()))?;
        let sender = tx.verify().map_err(|e| match e {
            veil_types::TxError::SignedForSimulation => {
                reject("signed_for_simulation", e.to_string())
            }
            other => reject("bad_signature", other.to_string()),
        })?;
        check_static(&tx, &self.chain_id, &self.params)?;
        self.check_msg(&tx)?;
        Ok(CheckedTx {
            hash: tx_hash(bytes),
            sender,
            sequence: tx.body.sequence,
            fee: tx.body.fee,
            gas_limit: tx.body.gas_limit,
        })
    }

    /// ABCI CheckTx, second half: sequence and fee against the committed account, given
    /// how many transactions and how much fee of the sender already wait in the mempool.
    pub fn check_account(
        &self,
        tx: &CheckedTx,
        waiting: u64,
        waiting_fees: u128,
    ) -> Result<(), Rejection> {
        let account = self
            .store
            .account(&tx.sender)
            .map_err(|e| reject("store", e.to_string()))?
            .unwrap_or_default();
        let expected = account.sequence + waiting;
        if tx.sequence != expected {
            return Err(reject(
                "wrong_sequence",
                format!(
                    "account sequence mismatch: expected {expected}, got {}",
                    tx.sequence
                ),
            ));
        }
        let spendable = account.balance.saturating_sub(waiting_fees);
        if spendable < tx.fee {
            return Err(reject(
                "insufficient_funds",
                format!(
                    "insufficient funds for the fee: {} has {spendable}uveil available, the fee is {}uveil",
                    tx.sender, tx.fee
                ),
            ));
        }
        self.signatures.insert(tx.hash, tx.sender.clone());
        Ok(())
    }

    /// The committed sequence of an account (0 if it does not exist).
    pub fn sequence(&self, address: &str) -> u64 {
        self.store
            .account(address)
            .ok()
            .flatten()
            .map_or(0, |a| a.sequence)
    }

    fn check_msg(&self, tx: &Tx) -> Result<(), Rejection> {
        let bad_address = |e: String| reject("invalid_address", e);
        match &tx.body.msg {
            Msg::Send { to, .. } => veil_types::validate_address(to).map_err(bad_address),
            Msg::StoreCode { wasm, query_policy } => {
                if let Some(policy) = query_policy {
                    admissible_policy(policy)?;
                }
                let config = veil_engine::EngineConfig::default();
                veil_engine::validate::check_wasm(wasm, &config.wasm_limits, &config.capabilities)
                    .map(|_| ())
                    .map_err(|e| reject("invalid_code", format!("invalid contract code: {e}")))
            }
            Msg::Instantiate {
                code_id,
                admin,
                query_policy,
                ..
            } => {
                if let Some(admin) = admin {
                    veil_types::validate_address(admin).map_err(bad_address)?;
                }
                if let Some(policy) = query_policy {
                    admissible_policy(policy)?;
                }
                self.known_code(*code_id)
            }
            Msg::SetQueryPolicy {
                contract,
                query_policy,
            } => {
                admissible_policy(query_policy)?;
                self.known_contract(contract)
            }
            Msg::RegisterNode { attestation, .. } => {
                if attestation.len() > veil_attestation_limit() {
                    return Err(reject("attestation", "the attestation is too large"));
                }
                Ok(())
            }
            Msg::SetAttestationPolicy { .. } | Msg::RevokeNode { .. } => {
                governance::check_governance_msg(&tx.body.msg)
            }
            Msg::Execute { contract, .. } => self.known_contract(contract),
            Msg::Migrate {
                contract, code_id, ..
            } => {
                self.known_contract(contract)?;
                self.known_code(*code_id)
            }
        }
    }

    fn known_code(&self, code_id: u64) -> Result<(), Rejection> {
        match self.store.code(code_id) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(reject("unknown_code", format!("no code with id {code_id}"))),
            Err(e) => Err(reject("store", e.to_string())),
        }
    }

    fn known_contract(&self, address: &str) -> Result<(), Rejection> {
        veil_types::validate_address(address).map_err(|e| reject("invalid_address", e))?;
        match self.store.contract(address) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(reject(
                "unknown_contract",
                format!("no contract at {address}"),
            )),
            Err(e) => Err(reject("store", e.to_string())),
        }
    }
}
