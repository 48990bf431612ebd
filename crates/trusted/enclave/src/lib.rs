//! Veil's enclave (trusted): the only code that ever sees keys, plaintext messages and
//! plaintext contract state.
//!
//! It is driven by bytes in the [`veil_enclave_abi`] codec and reaches the host only
//! through an [`OcallChannel`]: no files, network or clocks, so the same code can run in a
//! TEE (Gramine) unchanged. In simulation mode it runs in the host process or as the
//! `veil-enclave` executable.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use veil_crypto::{
    call_randomness, contract_key, open_input_cached, IoKeypair, MasterSeed, OutputKind, Sealer,
    SharedSecretCache, SimulatedSealer, TxKey,
};
mod admission;
mod blocks;
mod dispatch;
mod governance;
mod inspect;
mod keys;
mod ledger;
mod left_out;
mod lifecycle;
mod querier;
pub mod records;
mod signatures;

use admission::check_query;
pub use keys::{
    simulated_attestation_policy, simulated_measurements, SIMULATED_ISV_PROD_ID, SIMULATED_ISV_SVN,
};
use keys::{Identity, Keys};
pub(crate) use querier::contract_balance;
use querier::{ensure_loaded, ContractQuerier};
pub use querier::{OcallNodeSource, MAX_QUERY_DEPTH};
use records::{Records, RecordsRoot};
pub use signatures::TxChecker;
use signatures::VerifiedSignatures;

use dispatch::{Dispatch, Stop};
pub use dispatch::{BANK_SEND_GAS, MAX_DISPATCH_DEPTH};
use governance::Governance;
use ledger::Ledger;
pub use lifecycle::{classic_contract_address, predictable_contract_address, MAX_LABEL_BYTES};
use veil_enclave_abi::{
    decode, encode, Ecall, EcallResponse, EnclaveError, EntryPoint, ErrorKind, Hash, InitRequest,
    InitResponse, LeftOut, Ocall, OcallResponse, RunRequest, RunResponse, SealedCheckpoint,
    StateUpdate,
};
use veil_engine::cosmwasm_std::{
    Addr, BalanceResponse, BankQuery, Binary, Coin, ContractResult, Empty, MessageInfo,
    QueryRequest, Response, StakingQuery, SupplyResponse, SystemError, SystemResult, Uint128,
    Uint256, WasmQuery,
};
use veil_engine::{
    build_env, Backend, BackendError, Bech32Api, BlockContext, Call, CallError, Engine,
    EngineConfig, Entry, Output, Querier, Storage,
};
use veil_state::{NodeCipher, NodeId, NodeSource, VerifiedState};
use veil_types::query_policy::{self, Decision, Rule};
use veil_types::QueryPolicy;

/// The key generation every key starts at (rotation comes later).
const FIRST_GENERATION: u32 = 0;
/// Attributes whose key starts with this are published in plaintext (prefix removed).
pub const PUBLIC_ATTRIBUTE_PREFIX: &str = "public.";
const SEALED_STATE_AAD: &[u8] = b"veil/sealed-state-v3";

/// How the enclave reaches host services: one ocall, bytes in and bytes out.
pub trait OcallChannel: Send + Sync {
    fn ocall(&self, request: Vec<u8>) -> Result<Vec<u8>, String>;
}

/// The enclave's record of stored code: what instances get when they name no policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CodeRecord {
    code_hash: Hash,
    default_query_policy: QueryPolicy,
}

/// The enclave's own record of a contract: the host's copy is only a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TrustedContract {
    /// The state root last committed.
    root: Option<Hash>,
    /// The code the contract runs now; only a migration signed by `admin` changes it.
    code_hash: Hash,
    /// The code it was instantiated from: the state key stays bound to it.
    init_code_hash: Hash,
    creator: String,
    admin: Option<String>,
    /// Who may read what through queries; only the admin's signed transaction changes it.
    query_policy: QueryPolicy,
}

pub struct Enclave {
    engine: Arc<Engine>,
    channel: Arc<dyn OcallChannel>,
    keys: Option<Keys>,
    /// The genesis this enclave is bound to and its registration key (set by `Init`).
    identity: Option<Identity>,
    /// Trusted records (`records.rs`): each contract's (a request whose root or code
    /// differs is refused), each sender's lowest sequence a signed transaction may still
    /// carry (a transaction runs at most once, however often the host presents it), and
    /// the code signed `store_code` transactions recorded. Shared with a running call's
    /// querier and dispatcher.
    records: Arc<Records>,
    /// X25519 shared secrets of recent senders (one scalar multiplication per sender).
    senders: SharedSecretCache,
    /// The certified blocks executed and the one open now.
    chain: blocks::ChainCursor,
    /// The attestation policy in force and the registered (or revoked) enclaves.
    governance: Governance,
    /// Transactions whose signature this enclave verified at admission (`CheckTx`).
    signatures: Arc<VerifiedSignatures>,
    /// Dev chains only: the owner key inspection answers are sealed to (`EnableInspect`).
    inspect_owner: Option<Hash>,
    /// While a call that is inspected runs: the state changes it commits, per contract.
    inspect_changes: Option<Vec<(String, Vec<veil_state::StateChange>)>>,
}

/// Senders whose shared secret the enclave remembers.
const SENDER_CACHE_CAPACITY: usize = 4096;

type EnclaveResult<T> = Result<T, EnclaveError>;

fn fail(kind: ErrorKind, message: impl Into<String>) -> EnclaveError {
    EnclaveError {
        kind,
        message: message.into(),
    }
}

impl Enclave {
    pub fn new(channel: Arc<dyn OcallChannel>) -> Self {
        Self {
            engine: Arc::new(Engine::new(EngineConfig::default())),
            channel,
            keys: None,
            identity: None,
            records: Arc::default(),
            senders: SharedSecretCache::new(SENDER_CACHE_CAPACITY),
            chain: blocks::ChainCursor::default(),
            governance: Governance::default(),
            signatures: Arc::default(),
            inspect_owner: None,
            inspect_changes: None,
        }
    }

    /// Answers `CheckTx` beside this enclave's other ecalls, sharing what it verifies.
    pub fn tx_checker(&self) -> TxChecker {
        TxChecker(self.signatures.clone())
    }

    /// Handles one encoded [`Ecall`] and returns the encoded [`EcallResponse`].
    pub fn handle(&mut self, request: &[u8]) -> Vec<u8> {
        let response = match decode::<Ecall>(request) {
            Ok(call) => {
                let savepoint = self.records.savepoint();
                self.dispatch(call).unwrap_or_else(|e| {
                    self.records.rollback(savepoint);
                    EcallResponse::Error(e)
                })
            }
            Err(e) => EcallResponse::Error(fail(ErrorKind::Abi, e.to_string())),
        };
        encode(&response)
    }

    fn dispatch(&mut self, call: Ecall) -> EnclaveResult<EcallResponse> {
        match call {
            Ecall::Init(request) => self.init(request).map(EcallResponse::Init),
            Ecall::NetworkKey => {
                let keys = self.keys()?;
                Ok(EcallResponse::NetworkKey {
                    public_key: keys.io.public(),
                    generation: keys.generation,
                })
            }
            Ecall::StoreCode { wasm, tx, chain_id } => {
                if let Some(tx) = &tx {
                    self.bind_admin_tx(tx)?;
                }
                self.store_code(&wasm, tx, &chain_id)
            }
            Ecall::SetQueryPolicy { tx, chain_id } => {
                self.bind_admin_tx(&tx)?;
                self.set_query_policy(&tx, &chain_id)
                    .map(|()| EcallResponse::QueryPolicySet)
            }
            Ecall::Run(request) => self.run(request).map(EcallResponse::Ran),
            Ecall::BeginBlock {
                header,
                txs,
                certificate,
            } => self
                .begin_block(&header, txs, &certificate)
                .map(|()| EcallResponse::BlockBegun),
            Ecall::LeaveOut { index, reason } => self
                .leave_out(index, reason)
                .map(|()| EcallResponse::LeftOut),
            Ecall::EndBlock => self.end_block().map(EcallResponse::BlockEnded),
            Ecall::Attest { operator } => self
                .attest_registration(&operator)
                .map(EcallResponse::Attested),
            Ecall::RegisterNode { tx } => {
                self.bind_admin_tx(&tx)?;
                self.register_node(&tx)
            }
            Ecall::InstallSeed { seed_share } => self
                .install_seed(&seed_share)
                .map(EcallResponse::SeedInstalled),
            Ecall::Govern { tx, chain_id } => {
                self.bind_admin_tx(&tx)?;
                self.govern(&tx, &chain_id)
                    .map(|()| EcallResponse::Governed)
            }
            Ecall::CheckTx { tx } => Ok(EcallResponse::TxChecked(self.signatures.check(&tx))),
            Ecall::EnableInspect { owner_key } => self
                .enable_inspect(owner_key)
                .map(|()| EcallResponse::InspectEnabled),
            Ecall::InspectState {
                contract,
                prefix,
                start_after,
                limit,
            } => self
                .inspect_state(&contract, prefix, start_after, limit)
                .map(|sealed| EcallResponse::InspectedState { sealed }),
        }
    }

    /// Compiles code; with its signed `store_code` transaction, records it under the next
    /// code id with the default query policy the uploader signed.
    fn store_code(
        &mut self,
        wasm: &[u8],
        tx: Option<Vec<u8>>,
        chain_id: &str,
    ) -> EnclaveResult<EcallResponse> {
        let verified = match &tx {
            Some(bytes) => {
                let (tx, signer) = self.verify_admin_tx(bytes, chain_id)?;
                let veil_types::Msg::StoreCode {
                    wasm: signed,
                    query_policy,
                } = &tx.body.msg
                else {
                    return Err(fail(
                        ErrorKind::BadRequest,
                        "transaction does not store code",
                    ));
                };
                if signed.as_slice() != wasm {
                    return Err(fail(
                        ErrorKind::BadRequest,
                        "transaction does not store this code",
                    ));
                }
                let policy = query_policy.clone().unwrap_or_else(QueryPolicy::public);
                policy
                    .validate()
                    .map_err(|e| fail(ErrorKind::BadRequest, e.to_string()))?;
                Some((signer, tx.body.sequence, policy))
            }
            None => None,
        };
        let checksum = self
            .engine
            .store_code(wasm)
            .map_err(|e| fail(ErrorKind::InvalidCode, e.to_string()))?;
        let code_id = match verified {
            Some((signer, sequence, default_query_policy)) => {
                self.records.set_next_sequence(&signer, sequence + 1)?;
                Some(self.records.push_code(&CodeRecord {
                    code_hash: checksum.0,
                    default_query_policy,
                })?)
            }
            None => None,
        };
        Ok(EcallResponse::CodeStored {
            code_hash: checksum.0,
            code_id,
        })
    }

    /// Replaces a contract's query policy on its admin's signed transaction.
    fn set_query_policy(&mut self, bytes: &[u8], chain_id: &str) -> EnclaveResult<()> {
        let (tx, signer) = self.verify_admin_tx(bytes, chain_id)?;
        let veil_types::Msg::SetQueryPolicy {
            contract,
            query_policy,
        } = &tx.body.msg
        else {
            return Err(fail(
                ErrorKind::BadRequest,
                "transaction does not set a query policy",
            ));
        };
        query_policy
            .validate()
            .map_err(|e| fail(ErrorKind::BadRequest, e.to_string()))?;
        let mut record = self
            .records
            .contract(contract)?
            .ok_or_else(|| fail(ErrorKind::BadRequest, format!("no contract at {contract}")))?;
        if record.admin.as_deref() != Some(signer.as_str()) {
            return Err(fail(
                ErrorKind::Unauthorized,
                format!("only the admin of {contract} may change its query policy"),
            ));
        }
        record.query_policy = query_policy.clone();
        self.records.set_contract(contract, &record)?;
        self.records
            .set_next_sequence(&signer, tx.body.sequence + 1)
    }

    /// Runs a call; on a dev chain with inspection on, a call of a block also answers its
    /// record sealed to the owner (the normal path only tests one flag).
    fn run(&mut self, request: RunRequest) -> EnclaveResult<RunResponse> {
        if !self.inspects(&request) {
            return self.run_call(request);
        }
        self.inspect_changes = Some(Vec::new());
        let copy = request.clone();
        let ran = self.run_call(request);
        let changes = self.inspect_changes.take().unwrap_or_default();
        let mut response = ran?;
        response.inspection = Some(self.inspect_call(&copy, &response, changes)?);
        Ok(response)
    }

    fn run_call(&mut self, request: RunRequest) -> EnclaveResult<RunResponse> {
        // Bound first: a call refused from here on still counts as run in its block.
        let bound = match (&request.tx, request.simulate) {
            (Some(tx), false) => {
                Some(self.bind_to_block(tx, request.block.height, request.block.time_nanos)?)
            }
            _ => None,
        };
        // A clear error when the enclave has no seed yet (a node that has not joined).
        self.keys()?;
        let (mut record, tx) = self.admit(&request, bound.as_ref())?;
        let keys = self.keys.as_ref().expect("checked above");
        let contract = &request.contract;

        let (msg, tx_key, _user) = open_input_cached(
            &keys.io,
            &mut self.senders,
            &request.envelope,
            &contract.code_hash,
        )
        .map_err(|e| fail(ErrorKind::Envelope, e.to_string()))?;
        let msg = zeroize::Zeroizing::new(msg);
        let mut answer_check = None;
        if request.entry == EntryPoint::Query {
            // Decided before any state is opened: a refused query reads nothing.
            let querier = match self.querier(&request, &tx_key) {
                Ok(querier) => querier,
                Err(why) => return Ok(refused_query(&tx_key, request.block.height, &why)),
            };
            match check_query(&record, &msg, querier.as_deref()) {
                Ok(check) => answer_check = check.map(|path| (path, querier.unwrap_or_default())),
                Err(why) => return Ok(refused_query(&tx_key, request.block.height, &why)),
            }
        } else if request.encrypted_permit.is_some() {
            return Err(fail(ErrorKind::BadRequest, "only queries carry a permit"));
        }

        ensure_loaded(&self.engine, &self.channel, &contract.code_hash)?;
        let block = BlockContext {
            height: request.block.height,
            time_nanos: request.block.time_nanos,
            chain_id: request.block.chain_id.clone(),
            tx_index: request.block.tx_index,
        };
        let context = ContractQuerier {
            channel: self.channel.clone(),
            engine: self.engine.clone(),
            seed: keys.seed.clone(),
            generation: keys.generation,
            records: self.records.clone(),
            block: block.clone(),
            caller: contract.address.clone(),
            depth: 1,
            aborted: Arc::new(Mutex::new(None)),
            ledger: Arc::new(Mutex::new(Ledger::default())),
            validators: self.identity()?.validator_operators.clone(),
        };
        // The request's root is the record's (checked by `admit`).
        let storage = context.open_state(&contract.address, &record)?;
        let backend = Backend {
            storage: Box::new(storage),
            api: Box::new(Bech32Api::default()),
            querier: Box::new(context.clone()),
        };

        let env = build_env(&block, &contract.address);
        let funds = request
            .funds
            .iter()
            .map(|(denom, amount)| Coin {
                denom: denom.clone(),
                amount: Uint256::from(*amount),
            })
            .collect();
        let info = MessageInfo {
            sender: Addr::unchecked(&request.sender),
            funds,
        };
        let entry = match request.entry {
            EntryPoint::Instantiate => Entry::Instantiate,
            EntryPoint::Execute => Entry::Execute,
            EntryPoint::Query => Entry::Query,
            EntryPoint::Migrate => Entry::Migrate,
        };
        let randomness = call_randomness(
            &keys.seed,
            keys.generation,
            block.height,
            block.tx_index.unwrap_or(0),
            &contract.address,
        );
        let call = Call {
            entry,
            env: &env,
            info: Some(&info),
            msg: &msg,
            gas_limit: request.gas_limit,
            random: Some(randomness),
        };
        let checksum = veil_engine::Checksum(contract.code_hash);
        let (report, backend) = self.engine.call(&checksum, call, backend);
        // A contract query that hit unverifiable state or unavailable code fails the call.
        let query_failure = context
            .aborted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        // The transaction ran (whatever its outcome): its sequence is used. Not so when the
        // code was not there (evicted mid-call): the host may present it again.
        let code_missing = matches!(
            report.result,
            Err(CallError::Vm(veil_engine::VmError::CodeNotFound(_)))
        );
        if let (Some(tx), false, false) = (&tx, request.simulate, code_missing) {
            self.records
                .set_next_sequence(&request.sender, tx.body.sequence + 1)?;
        }

        let storage: Box<dyn std::any::Any + Send> = backend.storage;
        let storage = storage
            .downcast::<VerifiedState<OcallNodeSource>>()
            .expect("the enclave always supplies VerifiedState");
        if let Some(error) = query_failure {
            return Err(error);
        }

        let result = match report.result {
            Ok(output) => output,
            Err(CallError::Vm(veil_engine::VmError::CodeNotFound(_))) => {
                return Err(fail(
                    ErrorKind::CodeNotLoaded,
                    "contract code is not loaded: store it again",
                ))
            }
            Err(CallError::Vm(veil_engine::VmError::Backend(BackendError::Integrity(msg)))) => {
                return Err(fail(ErrorKind::StateIntegrity, msg))
            }
            Err(e) => {
                let kind = match &e {
                    CallError::Contract(_) => "contract",
                    CallError::Vm(vm) => vm.kind(),
                };
                if request.entry == EntryPoint::Query {
                    // A query's error is padded and dated like its answers.
                    let body = json!({ "error": e.to_string(), "height": request.block.height });
                    let encrypted = encrypt_padded(&tx_key, &body);
                    return Ok(outcome_only(Some(kind), report.gas_used, encrypted));
                }
                return Ok(failed_run(&tx_key, kind, report.gas_used, &e.to_string()));
            }
        };

        if let Output::Query(data) = &result {
            if let Some((path, querier)) = &answer_check {
                if !query_policy::answer_names(data.as_slice(), path, querier) {
                    return Ok(refused_query(
                        &tx_key,
                        request.block.height,
                        &format!("the answer does not name {querier} at {path:?}"),
                    ));
                }
            }
            let body = json!({
                "data": b64(data.as_slice()),
                "height": request.block.height,
            });
            let encrypted = encrypt_padded(&tx_key, &body);
            return Ok(outcome_only(None, report.gas_used, encrypted));
        }

        let mut dispatch = Dispatch {
            context,
            states: BTreeMap::from([(contract.address.clone(), *storage)]),
            gas_used: report.gas_used,
            gas_limit: request.gas_limit,
            transfers: Vec::new(),
            burns: Vec::new(),
            executed: Vec::new(),
            records: BTreeMap::from([(
                contract.address.clone(),
                TrustedContract {
                    code_hash: contract.code_hash,
                    ..record.clone()
                },
            )]),
            contract_changes: Vec::new(),
        };
        let mut data_from_replies = None;
        if let Output::Response(response) = &result {
            if let Err(Stop::Refused { kind, message }) =
                dispatch.charge(dispatch::response_event_gas(response))
            {
                return Ok(failed_run(&tx_key, kind, dispatch.gas_used, &message));
            }
            // Dropping messages would let the contract believe it paid or called someone:
            // whatever cannot be carried out reverts the call.
            match dispatch.messages(&contract.address, &response.messages, 1) {
                Ok(data) => data_from_replies = data,
                Err(Stop::Refused { kind, message }) => {
                    return Ok(failed_run(&tx_key, kind, dispatch.gas_used, &message));
                }
                Err(Stop::Enclave(error)) => return Err(error),
            }
        }
        let (mut body, public_attributes) = result_body(&result);
        if let Some(data) = data_from_replies {
            body["data"] = json!(b64(data.as_slice()));
        }
        if !dispatch.executed.is_empty() {
            body["executed"] = dispatch
                .executed
                .iter()
                .map(|(address, _, response)| {
                    let mut part = response_body(response);
                    part["contract"] = json!(address);
                    part
                })
                .collect();
        }
        let sub_calls = dispatch.sub_calls();
        let Dispatch {
            mut states,
            gas_used,
            transfers,
            burns,
            mut records,
            contract_changes,
            ..
        } = dispatch;
        let storage = states
            .remove(&contract.address)
            .expect("the called contract's state is kept");
        let (state, other_states) = if request.entry == EntryPoint::Query || request.simulate {
            (None, Vec::new())
        } else {
            if let Some(changes) = self.inspect_changes.as_mut() {
                changes.push((contract.address.clone(), inspect::state_changes(&storage)?));
                for (address, other) in &states {
                    changes.push((address.clone(), inspect::state_changes(other)?));
                }
            }
            let update = commit_state(storage)?;
            // As the call's messages left it (a new admin, a migration), else as admitted.
            record = records
                .remove(&contract.address)
                .unwrap_or(TrustedContract {
                    code_hash: contract.code_hash,
                    ..record
                });
            record.root = update.new_root;
            // Contracts created, migrated or given a new admin by the call's messages, with
            // the new roots of those whose state it changed.
            let mut others = Vec::new();
            for (address, storage) in states {
                let update = commit_state(storage)?;
                let changed = match records.get_mut(&address) {
                    Some(changed) => Some(changed),
                    None => {
                        let stored = self.records.contract(&address)?;
                        stored.map(|stored| records.entry(address.clone()).or_insert(stored))
                    }
                };
                if let Some(changed) = changed {
                    changed.root = update.new_root;
                }
                others.push((address, update));
            }
            self.records.set_contract(&contract.address, &record)?;
            for (address, changed) in &records {
                self.records.set_contract(address, changed)?;
            }
            (Some(update), others)
        };
        Ok(RunResponse {
            ok: true,
            gas_used,
            error_kind: None,
            encrypted_result: encrypt_result(&tx_key, &body),
            public_attributes,
            state,
            transfers,
            sub_calls,
            other_states,
            contract_changes: if request.simulate {
                Vec::new()
            } else {
                contract_changes
            },
            burns: if request.simulate { Vec::new() } else { burns },
            inspection: None,
        })
    }
}

/// A refused query: the host sees `unauthorized` and nothing else (no gas, no state read);
/// the querier reads why.
fn refused_query(tx_key: &TxKey, height: u64, why: &str) -> RunResponse {
    let body = json!({ "error": format!("unauthorized: {why}"), "height": height });
    outcome_only(Some("unauthorized"), 0, encrypt_padded(tx_key, &body))
}

/// Query answers are padded (JSON allows trailing spaces) to a power of two of at least
/// [`MIN_ANSWER_BUCKET`] bytes, so their length does not tell a balance's digits.
pub const MIN_ANSWER_BUCKET: usize = 256;

fn padded_len(len: usize) -> usize {
    len.max(MIN_ANSWER_BUCKET).next_power_of_two()
}

fn encrypt_padded(tx_key: &TxKey, body: &serde_json::Value) -> Vec<u8> {
    let mut plain =
        zeroize::Zeroizing::new(serde_json::to_vec(body).expect("JSON values serialize"));
    let len = padded_len(plain.len());
    plain.resize(len, b' ');
    tx_key.encrypt_output(0, OutputKind::Data, &plain)
}

/// Commits a contract's writes: its new root and the nodes to store and to delete.
fn commit_state(storage: VerifiedState<OcallNodeSource>) -> EnclaveResult<StateUpdate> {
    let commit = storage
        .commit()
        .map_err(|e| fail(ErrorKind::StateIntegrity, e.to_string()))?;
    Ok(StateUpdate {
        new_root: commit.root.map(|id| id.0),
        new_nodes: commit
            .new_nodes
            .into_iter()
            .map(|(id, blob)| (id.0, blob))
            .collect(),
        released_nodes: commit.released.into_iter().map(|id| id.0).collect(),
    })
}

/// A call that failed: its writes are dropped, the sender learns why (encrypted).
fn failed_run(tx_key: &TxKey, kind: &str, gas_used: u64, message: &str) -> RunResponse {
    let encrypted = encrypt_result(tx_key, &json!({ "error": message }));
    outcome_only(Some(kind), gas_used, encrypted)
}

/// A response that changes nothing: the outcome (failed with `error_kind`, or a query's
/// answer), its gas and the encrypted result.
fn outcome_only(error_kind: Option<&str>, gas_used: u64, encrypted_result: Vec<u8>) -> RunResponse {
    RunResponse {
        ok: error_kind.is_none(),
        gas_used,
        error_kind: error_kind.map(str::to_string),
        encrypted_result,
        public_attributes: Vec::new(),
        state: None,
        transfers: Vec::new(),
        sub_calls: Vec::new(),
        other_states: Vec::new(),
        contract_changes: Vec::new(),
        burns: Vec::new(),
        inspection: None,
    }
}

/// The sender's view of a successful call, and the attributes the contract published.
fn result_body(output: &Output) -> (serde_json::Value, Vec<(String, String)>) {
    match output {
        Output::Query(data) => (json!({ "data": b64(data.as_slice()) }), Vec::new()),
        Output::Response(response) => (response_body(response), public_attributes(response)),
    }
}

/// What the sender learns of a contract's response.
fn response_body(response: &Response) -> serde_json::Value {
    json!({
        "data": response.data.as_ref().map(|d| b64(d.as_slice())),
        "attributes": response.attributes.iter().map(|a| json!({"key": a.key, "value": a.value})).collect::<Vec<_>>(),
        "events": response.events,
        "messages": response.messages,
    })
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The attributes a response publishes (`public.` key prefix, stripped).
fn public_attributes(response: &Response) -> Vec<(String, String)> {
    response
        .attributes
        .iter()
        .filter_map(|a| {
            a.key
                .strip_prefix(PUBLIC_ATTRIBUTE_PREFIX)
                .map(|k| (k.to_string(), a.value.clone()))
        })
        .collect()
}

fn encrypt_result(tx_key: &TxKey, body: &serde_json::Value) -> Vec<u8> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(body).expect("JSON values serialize"));
    tx_key.encrypt_output(0, OutputKind::Data, &plain)
}
