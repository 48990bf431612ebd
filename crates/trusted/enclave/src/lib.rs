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
mod dispatch;

use dispatch::{Dispatch, Ledger, Stop};
pub use dispatch::{BANK_SEND_GAS, MAX_DISPATCH_DEPTH};
use veil_enclave_abi::{
    decode, encode, Ecall, EcallResponse, EnclaveError, EntryPoint, ErrorKind, Hash, InitRequest,
    InitResponse, Ocall, OcallResponse, RunRequest, RunResponse, SealedCheckpoint, StateUpdate,
    SubCall,
};
use veil_engine::cosmwasm_std::{
    Addr, BalanceResponse, BankQuery, Binary, Coin, ContractResult, Empty, MessageInfo,
    QueryRequest, Response, SystemError, SystemResult, Uint128, Uint256, WasmQuery,
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
const SEALED_STATE_AAD: &[u8] = b"veil/sealed-state-v1";

/// How the enclave reaches host services: one ocall, bytes in and bytes out.
pub trait OcallChannel: Send + Sync {
    fn ocall(&self, request: Vec<u8>) -> Result<Vec<u8>, String>;
}

/// What the enclave keeps across restarts, sealed.
#[derive(Serialize, Deserialize)]
struct SealedState {
    seed: [u8; 32],
    generation: u32,
    seal_generation: u64,
    /// What the enclave trusts about each contract, by address.
    contracts: Vec<(String, TrustedContract)>,
    /// The lowest transaction sequence each sender may still use (replay guard).
    senders: Vec<(String, u64)>,
    /// Code recorded by `store_code` transactions, by code id (1, 2, …).
    codes: Vec<CodeRecord>,
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

impl Drop for SealedState {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.seed);
    }
}

struct Keys {
    /// Shared with the calls' contract queriers, which derive other contracts' keys.
    seed: Arc<MasterSeed>,
    generation: u32,
    io: IoKeypair,
    sealer: SimulatedSealer,
    seal_generation: u64,
}

pub struct Enclave {
    engine: Arc<Engine>,
    channel: Arc<dyn OcallChannel>,
    keys: Option<Keys>,
    /// Trusted contract records: a request whose root or code differs is refused. Shared
    /// (read-only) with a running call's contract querier.
    contracts: Arc<BTreeMap<String, TrustedContract>>,
    /// Per sender, the lowest sequence a signed transaction may still carry: a transaction
    /// runs at most once, however often the host presents it.
    next_sequences: BTreeMap<String, u64>,
    /// X25519 shared secrets of recent senders (one scalar multiplication per sender).
    senders: SharedSecretCache,
    /// Code recorded by signed `store_code` transactions; index = code id - 1.
    codes: Vec<CodeRecord>,
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
            contracts: Arc::new(BTreeMap::new()),
            next_sequences: BTreeMap::new(),
            senders: SharedSecretCache::new(SENDER_CACHE_CAPACITY),
            codes: Vec::new(),
        }
    }

    /// Handles one encoded [`Ecall`] and returns the encoded [`EcallResponse`].
    pub fn handle(&mut self, request: &[u8]) -> Vec<u8> {
        let response = match decode::<Ecall>(request) {
            Ok(call) => self.dispatch(call).unwrap_or_else(EcallResponse::Error),
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
            Ecall::StoreCode { wasm, tx, chain_id } => self.store_code(&wasm, tx, &chain_id),
            Ecall::SetQueryPolicy { tx, chain_id } => self
                .set_query_policy(&tx, &chain_id)
                .map(|()| EcallResponse::QueryPolicySet),
            Ecall::Run(request) => self.run(request).map(EcallResponse::Ran),
            Ecall::Checkpoint => {
                let keys = self
                    .keys
                    .as_mut()
                    .ok_or_else(|| fail(ErrorKind::NotInitialized, "enclave is not initialized"))?;
                keys.seal_generation += 1;
                let seal_generation = keys.seal_generation;
                Ok(EcallResponse::Checkpoint(SealedCheckpoint {
                    sealed_state: self.seal()?,
                    seal_generation,
                }))
            }
        }
    }

    fn keys(&self) -> EnclaveResult<&Keys> {
        self.keys
            .as_ref()
            .ok_or_else(|| fail(ErrorKind::NotInitialized, "enclave is not initialized"))
    }

    fn init(&mut self, request: InitRequest) -> EnclaveResult<InitResponse> {
        let sealer = SimulatedSealer::new(&request.machine_secret)
            .map_err(|e| fail(ErrorKind::Sealing, e.to_string()))?;
        let state = match &request.sealed_state {
            Some(blob) => {
                let plain = zeroize::Zeroizing::new(
                    sealer.unseal(SEALED_STATE_AAD, blob).map_err(|e| {
                        fail(
                            ErrorKind::Sealing,
                            format!("sealed state does not unseal: {e}"),
                        )
                    })?,
                );
                let state: SealedState = postcard::from_bytes(&plain).map_err(|e| {
                    fail(
                        ErrorKind::Sealing,
                        format!("sealed state is malformed: {e}"),
                    )
                })?;
                if state.seal_generation < request.min_seal_generation {
                    return Err(fail(
                        ErrorKind::StaleSealedState,
                        format!(
                            "sealed state is from generation {}, but generation {} has been recorded: refusing an old sealed file",
                            state.seal_generation, request.min_seal_generation
                        ),
                    ));
                }
                state
            }
            None => SealedState {
                seed: *MasterSeed::generate(&mut OsRng).expose_bytes(),
                generation: FIRST_GENERATION,
                seal_generation: request.min_seal_generation,
                contracts: Vec::new(),
                senders: Vec::new(),
                codes: Vec::new(),
            },
        };
        let seed = Arc::new(MasterSeed::from_bytes(state.seed));
        let io = IoKeypair::derive(&seed, state.generation);
        self.contracts = Arc::new(state.contracts.iter().cloned().collect());
        self.next_sequences = state.senders.iter().cloned().collect();
        self.codes = state.codes.clone();
        self.senders = SharedSecretCache::new(SENDER_CACHE_CAPACITY);
        self.keys = Some(Keys {
            seed,
            generation: state.generation,
            io,
            sealer,
            seal_generation: state.seal_generation,
        });
        let keys = self.keys()?;
        Ok(InitResponse {
            public_key: keys.io.public(),
            generation: keys.generation,
            sealed_state: self.seal()?,
            seal_generation: keys.seal_generation,
        })
    }

    fn seal(&self) -> EnclaveResult<Vec<u8>> {
        let keys = self.keys()?;
        let state = SealedState {
            seed: *keys.seed.expose_bytes(),
            generation: keys.generation,
            seal_generation: keys.seal_generation,
            contracts: self
                .contracts
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            senders: self
                .next_sequences
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            codes: self.codes.clone(),
        };
        let plain = zeroize::Zeroizing::new(postcard::to_stdvec(&state).expect("serializable"));
        Ok(keys.sealer.seal(SEALED_STATE_AAD, &plain, &mut OsRng))
    }

    /// Checks a request against the enclave's own record of the contract and returns the
    /// record the call runs under (for instantiate: the one it will create).
    fn admit(
        &self,
        request: &RunRequest,
    ) -> EnclaveResult<(TrustedContract, Option<veil_types::Tx>)> {
        let contract = &request.contract;
        let tx = match (&request.tx, request.entry) {
            (None, EntryPoint::Query) => None,
            (Some(_), EntryPoint::Query) => {
                return Err(fail(ErrorKind::BadRequest, "a query takes no transaction"))
            }
            (None, _) => {
                return Err(fail(
                    ErrorKind::BadRequest,
                    "a contract call needs the transaction its sender signed",
                ))
            }
            (Some(bytes), _) => {
                let tx = verify_tx(bytes, request)?;
                self.check_sequence(&request.sender, &tx)?;
                Some(tx)
            }
        };
        let Some(trusted) = self.contracts.get(&contract.address) else {
            if request.entry != EntryPoint::Instantiate {
                return Err(fail(
                    ErrorKind::StaleStateRoot,
                    format!("no trusted state root for contract {}", contract.address),
                ));
            }
            if request.state_root.is_some() {
                return Err(fail(
                    ErrorKind::StaleStateRoot,
                    "a new contract cannot start with existing state",
                ));
            }
            let Some(veil_types::Msg::Instantiate {
                admin,
                code_id,
                query_policy,
                ..
            }) = tx.as_ref().map(|tx| &tx.body.msg)
            else {
                return Err(fail(
                    ErrorKind::BadRequest,
                    "an instantiation needs its signed instantiate transaction",
                ));
            };
            let query_policy = match query_policy {
                Some(policy) => policy.clone(),
                None => self.code_default_policy(*code_id, &contract.code_hash)?,
            };
            query_policy
                .validate()
                .map_err(|e| fail(ErrorKind::BadRequest, e.to_string()))?;
            return Ok((
                TrustedContract {
                    root: None,
                    code_hash: contract.code_hash,
                    init_code_hash: contract.code_hash,
                    creator: contract.creator.clone(),
                    admin: admin.clone(),
                    query_policy,
                },
                tx,
            ));
        };
        if request.entry == EntryPoint::Instantiate {
            return Err(fail(
                ErrorKind::BadRequest,
                format!("contract {} already exists", contract.address),
            ));
        }
        if trusted.root != request.state_root {
            return Err(fail(
                ErrorKind::StaleStateRoot,
                "state root does not match the last committed root",
            ));
        }
        if trusted.creator != contract.creator {
            return Err(fail(
                ErrorKind::BadRequest,
                "creator does not match the contract's record",
            ));
        }
        if request.entry == EntryPoint::Migrate {
            let signer = tx
                .as_ref()
                .map(|_| request.sender.as_str())
                .ok_or_else(|| {
                    fail(
                        ErrorKind::BadRequest,
                        "a migration needs the admin's signed transaction",
                    )
                })?;
            if trusted.admin.as_deref() != Some(signer) {
                return Err(fail(
                    ErrorKind::BadRequest,
                    "only the contract's admin may migrate it",
                ));
            }
        } else if trusted.code_hash != contract.code_hash {
            return Err(fail(
                ErrorKind::BadRequest,
                "code hash does not match the contract's code",
            ));
        }
        Ok((trusted.clone(), tx))
    }

    /// Refuses a transaction whose sequence its sender has already used.
    fn check_sequence(&self, sender: &str, tx: &veil_types::Tx) -> EnclaveResult<()> {
        let next = self.next_sequences.get(sender).copied().unwrap_or(0);
        if tx.body.sequence < next {
            return Err(fail(
                ErrorKind::Replay,
                format!(
                    "transaction sequence {} of {sender} was already used (next is {next})",
                    tx.body.sequence
                ),
            ));
        }
        Ok(())
    }

    /// Verifies a signed transaction that is not a contract call (store code, set query
    /// policy) and checks its sequence; the caller marks it used once it has run.
    fn verify_admin_tx(
        &self,
        bytes: &[u8],
        chain_id: &str,
    ) -> EnclaveResult<(veil_types::Tx, String)> {
        let bad = |message: String| fail(ErrorKind::BadRequest, message);
        let tx = veil_types::Tx::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
        let signer = tx.verify().map_err(|e| bad(format!("transaction: {e}")))?;
        if tx.body.chain_id != chain_id {
            return Err(bad("transaction is for another chain".into()));
        }
        self.check_sequence(&signer, &tx)?;
        Ok((tx, signer))
    }

    /// The default query policy of code `code_id`, which must be `code_hash`.
    fn code_default_policy(&self, code_id: u64, code_hash: &Hash) -> EnclaveResult<QueryPolicy> {
        let record = code_id
            .checked_sub(1)
            .and_then(|i| self.codes.get(i as usize))
            .ok_or_else(|| {
                fail(
                    ErrorKind::BadRequest,
                    format!("code id {code_id} was not stored by a transaction this enclave ran"),
                )
            })?;
        if record.code_hash != *code_hash {
            return Err(fail(
                ErrorKind::BadRequest,
                format!("code id {code_id} is other code than the request names"),
            ));
        }
        Ok(record.default_query_policy.clone())
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
        let code_id = verified.map(|(signer, sequence, default_query_policy)| {
            self.next_sequences.insert(signer, sequence + 1);
            self.codes.push(CodeRecord {
                code_hash: checksum.0,
                default_query_policy,
            });
            self.codes.len() as u64
        });
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
        let record = self
            .contracts
            .get(contract)
            .ok_or_else(|| fail(ErrorKind::BadRequest, format!("no contract at {contract}")))?;
        if record.admin.as_deref() != Some(signer.as_str()) {
            return Err(fail(
                ErrorKind::Unauthorized,
                format!("only the admin of {contract} may change its query policy"),
            ));
        }
        let sequence = tx.body.sequence;
        Arc::make_mut(&mut self.contracts)
            .get_mut(contract)
            .expect("checked above")
            .query_policy = query_policy.clone();
        self.next_sequences.insert(signer, sequence + 1);
        Ok(())
    }

    /// Who asks a query: the signer of the permit it carries (checked for this chain,
    /// contract and block time), or nobody. A bad permit is the querier's error, told only
    /// to them.
    fn querier(&self, request: &RunRequest, tx_key: &TxKey) -> Result<Option<String>, String> {
        let Some(encrypted) = &request.encrypted_permit else {
            return Ok(None);
        };
        let bytes = tx_key
            .decrypt_output(0, OutputKind::QueryPermit, encrypted)
            .map_err(|_| "the permit does not decrypt under this query's key".to_string())?;
        let permit = veil_types::QueryPermit::from_bytes(&bytes).map_err(|e| e.to_string())?;
        permit
            .verify(
                &request.block.chain_id,
                &request.contract.address,
                request.block.time_nanos,
            )
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn run(&mut self, request: RunRequest) -> EnclaveResult<RunResponse> {
        let (mut record, tx) = self.admit(&request)?;
        let keys = self
            .keys
            .as_ref()
            .ok_or_else(|| fail(ErrorKind::NotInitialized, "enclave is not initialized"))?;
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
            contracts: self.contracts.clone(),
            block: block.clone(),
            caller: contract.address.clone(),
            depth: 1,
            aborted: Arc::new(Mutex::new(None)),
            ledger: Arc::new(Mutex::new(Ledger::default())),
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
            self.next_sequences
                .insert(request.sender.clone(), tx.body.sequence + 1);
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
            return Ok(RunResponse {
                ok: true,
                gas_used: report.gas_used,
                error_kind: None,
                encrypted_result: encrypt_padded(&tx_key, &body),
                public_attributes: Vec::new(),
                state: None,
                transfers: Vec::new(),
                sub_calls: Vec::new(),
                other_states: Vec::new(),
            });
        }

        let mut dispatch = Dispatch {
            context,
            states: BTreeMap::from([(contract.address.clone(), *storage)]),
            gas_used: report.gas_used,
            gas_limit: request.gas_limit,
            transfers: Vec::new(),
            executed: Vec::new(),
            called: (
                contract.address.clone(),
                TrustedContract {
                    code_hash: contract.code_hash,
                    ..record.clone()
                },
            ),
        };
        let mut data_from_replies = None;
        if let Output::Response(response) = &result {
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
                .map(|(address, response)| {
                    let mut part = response_body(response);
                    part["contract"] = json!(address);
                    part
                })
                .collect();
        }
        let sub_calls = dispatch
            .public_events()
            .into_iter()
            .map(|(contract, public_attributes)| SubCall {
                contract,
                public_attributes,
            })
            .collect();
        let Dispatch {
            mut states,
            gas_used,
            transfers,
            ..
        } = dispatch;
        let storage = states
            .remove(&contract.address)
            .expect("the called contract's state is kept");
        let (state, other_states) = if request.entry == EntryPoint::Query || request.simulate {
            (None, Vec::new())
        } else {
            let update = commit_state(storage)?;
            record.root = update.new_root;
            record.code_hash = contract.code_hash;
            let records = Arc::make_mut(&mut self.contracts);
            records.insert(contract.address.clone(), record);
            let mut others = Vec::new();
            for (address, storage) in states {
                let update = commit_state(storage)?;
                if let Some(record) = records.get_mut(&address) {
                    record.root = update.new_root;
                }
                others.push((address, update));
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
        })
    }
}

/// Checks a query message against the contract's policy for `querier`. `Ok(Some(path))`:
/// allowed if the answer names the querier at `path`; `Err`: refused, and why.
fn check_query(
    record: &TrustedContract,
    msg: &[u8],
    querier: Option<&str>,
) -> Result<Option<String>, String> {
    let policy = &record.query_policy;
    // A fully public contract reads messages exactly as CosmWasm does.
    if policy.default == Rule::Public && policy.queries.is_empty() {
        return Ok(None);
    }
    let query = query_policy::parse_query(msg).map_err(|e| e.to_string())?;
    match query_policy::decide(policy, &query, querier, record.admin.as_deref()) {
        Decision::Allow => Ok(None),
        Decision::CheckAnswer(path) => Ok(Some(path)),
        Decision::Refuse => Err(format!(
            "the contract's query policy does not let {} run {:?}",
            querier.unwrap_or("an anonymous querier"),
            query.variant
        )),
    }
}

/// A refused query: the host sees `unauthorized` and nothing else (no gas, no state read);
/// the querier reads why.
fn refused_query(tx_key: &TxKey, height: u64, why: &str) -> RunResponse {
    let body = json!({ "error": format!("unauthorized: {why}"), "height": height });
    RunResponse {
        ok: false,
        gas_used: 0,
        error_kind: Some("unauthorized".into()),
        encrypted_result: encrypt_padded(tx_key, &body),
        public_attributes: Vec::new(),
        state: None,
        transfers: Vec::new(),
        sub_calls: Vec::new(),
        other_states: Vec::new(),
    }
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
    RunResponse {
        ok: false,
        gas_used,
        error_kind: Some(kind.to_string()),
        encrypted_result: encrypt_result(tx_key, &json!({ "error": message })),
        public_attributes: Vec::new(),
        state: None,
        transfers: Vec::new(),
        sub_calls: Vec::new(),
        other_states: Vec::new(),
    }
}

/// The contract's native-token balance, as the host reports it (balances are public chain
/// state; the same answer a contract's own bank query gets).
pub(crate) fn contract_balance(
    channel: &Arc<dyn OcallChannel>,
    address: &str,
) -> Result<u128, String> {
    let request = serde_json::to_vec(&QueryRequest::<Empty>::Bank(BankQuery::Balance {
        address: address.to_string(),
        denom: veil_types::DENOM.to_string(),
    }))
    .expect("queries serialize");
    let querier = OcallQuerier {
        channel: channel.clone(),
    };
    let (answer, _) = querier.query_raw(&request, 0);
    let data = match answer {
        SystemResult::Ok(ContractResult::Ok(data)) => data,
        SystemResult::Ok(ContractResult::Err(e)) => return Err(format!("balance query: {e}")),
        SystemResult::Err(e) => return Err(format!("balance query: {e}")),
    };
    let response: BalanceResponse = serde_json::from_slice(data.as_slice())
        .map_err(|e| format!("host's balance answer: {e}"))?;
    Uint128::try_from(response.amount.amount)
        .map(|v| v.u128())
        .map_err(|e| format!("host's balance answer: {e}"))
}

fn contract_cipher(
    seed: &MasterSeed,
    generation: u32,
    address: &str,
    record: &TrustedContract,
) -> EnclaveResult<NodeCipher> {
    let key = contract_key(
        seed,
        generation,
        &record.init_code_hash,
        address,
        &record.creator,
    )
    .map_err(|e| fail(ErrorKind::BadRequest, e.to_string()))?;
    Ok(NodeCipher::new(*key, &state_binding(address, generation)))
}

/// Compiles the code named `code_hash` unless the engine holds it (after a restart, or
/// evicted from its cache): fetched from the host, and refused unless it is that code.
fn ensure_loaded(
    engine: &Engine,
    channel: &Arc<dyn OcallChannel>,
    code_hash: &Hash,
) -> EnclaveResult<()> {
    let checksum = veil_engine::Checksum(*code_hash);
    if engine.is_loaded(&checksum) {
        return Ok(());
    }
    let unavailable = |why: String| {
        fail(
            ErrorKind::CodeNotLoaded,
            format!("code {}: {why}", checksum.to_hex()),
        )
    };
    let response = channel
        .ocall(encode(&Ocall::LoadCode {
            code_hash: *code_hash,
        }))
        .map_err(unavailable)?;
    let wasm = match decode::<OcallResponse>(&response) {
        Ok(OcallResponse::Code(Some(wasm))) => wasm,
        Ok(OcallResponse::Code(None)) => {
            return Err(unavailable("the host does not have it".into()))
        }
        Ok(_) => {
            return Err(unavailable(
                "the host answered load_code with another kind".into(),
            ))
        }
        Err(e) => return Err(unavailable(e.to_string())),
    };
    if veil_engine::Checksum::of(&wasm) != checksum {
        return Err(fail(
            ErrorKind::BadRequest,
            format!("the host served other code for {}", checksum.to_hex()),
        ));
    }
    engine
        .store_code(&wasm)
        .map_err(|e| unavailable(format!("does not compile: {e}")))?;
    Ok(())
}

/// How deep contracts may query contracts that query contracts.
pub const MAX_QUERY_DEPTH: u32 = 8;

/// A call's querier. Smart and raw queries to contracts are answered here, inside the
/// enclave, on the target's committed state (verified against the enclave's own root):
/// their arguments and answers never leave. Queries about public state (bank balances,
/// contract and code info) go to the host.
#[derive(Clone)]
struct ContractQuerier {
    channel: Arc<dyn OcallChannel>,
    engine: Arc<Engine>,
    seed: Arc<MasterSeed>,
    generation: u32,
    contracts: Arc<BTreeMap<String, TrustedContract>>,
    block: BlockContext,
    /// The contract whose queries this querier answers: the querier the target's policy
    /// sees.
    caller: String,
    /// 1 for the queries of the called contract, 2 for those of a contract it queries, …
    depth: u32,
    /// Set when a query met state that does not verify or code the host does not serve:
    /// the whole call then fails with that error (the contract only saw a query error).
    aborted: Arc<Mutex<Option<EnclaveError>>>,
    /// Balances as this call's transfers left them (answered before the host's).
    ledger: Arc<Mutex<Ledger>>,
}

type QueryAnswer = (SystemResult<ContractResult<Binary>>, u64);

impl ContractQuerier {
    fn refuse(&self, error: String, request: &[u8]) -> QueryAnswer {
        let answer = SystemResult::Err(SystemError::InvalidRequest {
            error,
            request: Binary::from(request),
        });
        (answer, 0)
    }

    fn abort(&self, error: EnclaveError, request: &[u8]) -> QueryAnswer {
        let message = format!("query failed: {}", error.message);
        self.aborted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(error);
        self.refuse(message, request)
    }

    /// A contract's committed state (as its record says) under its own key.
    fn open_state(
        &self,
        address: &str,
        record: &TrustedContract,
    ) -> EnclaveResult<VerifiedState<OcallNodeSource>> {
        let cipher = contract_cipher(&self.seed, self.generation, address, record)?;
        let source = OcallNodeSource {
            channel: self.channel.clone(),
            contract: address.to_string(),
        };
        Ok(VerifiedState::open(source, cipher, record.root.map(NodeId)))
    }

    fn smart(&self, address: &str, msg: &[u8], gas_limit: u64, request: &[u8]) -> QueryAnswer {
        let Some(record) = self.contracts.get(address) else {
            let answer = SystemResult::Err(SystemError::NoSuchContract {
                addr: address.to_string(),
            });
            return (answer, 0);
        };
        if self.depth >= MAX_QUERY_DEPTH {
            return self.refuse(
                format!("contract queries nest deeper than {MAX_QUERY_DEPTH}"),
                request,
            );
        }
        let answer_check = match check_query(record, msg, Some(&self.caller)) {
            Ok(check) => check,
            Err(why) => return self.refuse(format!("unauthorized: {why}"), request),
        };
        if let Err(e) = ensure_loaded(&self.engine, &self.channel, &record.code_hash) {
            return self.abort(e, request);
        }
        let storage = match self.open_state(address, record) {
            Ok(storage) => storage,
            Err(e) => return self.abort(e, request),
        };
        let backend = Backend {
            storage: Box::new(storage),
            api: Box::new(Bech32Api::default()),
            querier: Box::new(ContractQuerier {
                caller: address.to_string(),
                depth: self.depth + 1,
                ..self.clone()
            }),
        };
        let env = build_env(&self.block, address);
        let call = Call {
            entry: Entry::Query,
            env: &env,
            info: None,
            msg,
            gas_limit,
            random: None,
        };
        let checksum = veil_engine::Checksum(record.code_hash);
        let (report, _) = self.engine.call(&checksum, call, backend);
        let answer = match report.result {
            Ok(Output::Query(data)) => {
                if let Some(path) = &answer_check {
                    if !query_policy::answer_names(data.as_slice(), path, &self.caller) {
                        return self.refuse(
                            format!(
                                "unauthorized: the answer does not name {} at {path:?}",
                                self.caller
                            ),
                            request,
                        );
                    }
                }
                SystemResult::Ok(ContractResult::Ok(data))
            }
            Ok(Output::Response(_)) => {
                SystemResult::Ok(ContractResult::Err("query returned a response".into()))
            }
            Err(CallError::Vm(veil_engine::VmError::Backend(BackendError::Integrity(m)))) => {
                return self.abort(fail(ErrorKind::StateIntegrity, m), request);
            }
            // Out of gas: the gas used is the whole limit, so the caller runs out too.
            Err(e) => SystemResult::Ok(ContractResult::Err(e.to_string())),
        };
        (answer, report.gas_used)
    }

    fn raw(&self, address: &str, key: &[u8], request: &[u8]) -> QueryAnswer {
        let Some(record) = self.contracts.get(address) else {
            let answer = SystemResult::Err(SystemError::NoSuchContract {
                addr: address.to_string(),
            });
            return (answer, 0);
        };
        // Raw reads bypass the policy's message rules: only the keys it opens.
        if !record.query_policy.allows_raw(key) {
            return self.refuse(
                format!(
                    "unauthorized: the query policy of {address} refuses raw reads of this key"
                ),
                request,
            );
        }
        let value = match self.open_state(address, record).and_then(|state| {
            state
                .get(key)
                .map_err(|e| fail(ErrorKind::StateIntegrity, e.to_string()))
        }) {
            Ok(value) => value,
            Err(e) => return self.abort(e, request),
        };
        // An absent key answers empty bytes, as wasmd does.
        let answer = SystemResult::Ok(ContractResult::Ok(Binary::from(value.unwrap_or_default())));
        (answer, 0)
    }
}

impl Querier for ContractQuerier {
    fn query_raw(&self, request: &[u8], gas_limit: u64) -> QueryAnswer {
        match serde_json::from_slice::<QueryRequest<Empty>>(request) {
            Ok(QueryRequest::Wasm(WasmQuery::Smart { contract_addr, msg })) => {
                self.smart(&contract_addr, msg.as_slice(), gas_limit, request)
            }
            Ok(QueryRequest::Wasm(WasmQuery::Raw { contract_addr, key })) => {
                self.raw(&contract_addr, key.as_slice(), request)
            }
            Ok(QueryRequest::Bank(BankQuery::Balance { address, denom }))
                if denom == veil_types::DENOM =>
            {
                let known = self
                    .ledger
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .known(&address);
                match known {
                    Some(amount) => {
                        let answer = BalanceResponse::new(Coin {
                            denom,
                            amount: Uint256::from(amount),
                        });
                        let bytes = serde_json::to_vec(&answer).expect("serializable");
                        (SystemResult::Ok(ContractResult::Ok(Binary::from(bytes))), 0)
                    }
                    None => OcallQuerier {
                        channel: self.channel.clone(),
                    }
                    .query_raw(request, gas_limit),
                }
            }
            _ => OcallQuerier {
                channel: self.channel.clone(),
            }
            .query_raw(request, gas_limit),
        }
    }
}

/// Verifies the signed transaction behind a contract call: signed by the request's sender,
/// for this chain, and asking for exactly this call (entry point, contract, envelope,
/// funds).
fn verify_tx(bytes: &[u8], request: &RunRequest) -> EnclaveResult<veil_types::Tx> {
    let bad = |message: String| fail(ErrorKind::BadRequest, message);
    let tx = veil_types::Tx::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
    let signer = tx.verify().map_err(|e| bad(format!("transaction: {e}")))?;
    if signer != request.sender {
        return Err(bad("transaction is not signed by the sender".into()));
    }
    if tx.body.chain_id != request.block.chain_id {
        return Err(bad("transaction is for another chain".into()));
    }
    let funds_match = |amount: &u128| match request.funds.as_slice() {
        [] => *amount == 0,
        [(denom, sent)] => denom == veil_types::DENOM && sent == amount && *amount > 0,
        _ => false,
    };
    let address = &request.contract.address;
    let matches = match (&tx.body.msg, request.entry) {
        (veil_types::Msg::Instantiate { msg, funds, .. }, EntryPoint::Instantiate) => {
            *msg == request.envelope && funds_match(funds)
        }
        (
            veil_types::Msg::Execute {
                contract,
                msg,
                funds,
            },
            EntryPoint::Execute,
        ) => contract == address && *msg == request.envelope && funds_match(funds),
        (veil_types::Msg::Migrate { contract, msg, .. }, EntryPoint::Migrate) => {
            contract == address && *msg == request.envelope && request.funds.is_empty()
        }
        _ => false,
    };
    if !matches {
        return Err(bad("transaction does not ask for this call".into()));
    }
    Ok(tx)
}

/// What every node of a contract's state is bound to: its address and the key generation
/// (so a node can never be read under another generation's key, e.g. during rotation).
fn state_binding(address: &str, generation: u32) -> Vec<u8> {
    let mut binding = Vec::with_capacity(address.len() + 5);
    binding.extend_from_slice(address.as_bytes());
    binding.push(0);
    binding.extend_from_slice(&generation.to_be_bytes());
    binding
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

/// Fetches state nodes from the host; `VerifiedState` checks everything it returns.
pub struct OcallNodeSource {
    channel: Arc<dyn OcallChannel>,
    contract: String,
}

impl NodeSource for OcallNodeSource {
    fn fetch(&self, id: &NodeId) -> Result<Option<Vec<u8>>, BackendError> {
        let request = encode(&Ocall::FetchNode {
            contract: self.contract.clone(),
            id: id.0,
        });
        let response = self
            .channel
            .ocall(request)
            .map_err(BackendError::Unavailable)?;
        match decode::<OcallResponse>(&response) {
            Ok(OcallResponse::Node(blob)) => Ok(blob),
            Ok(other) => Err(BackendError::Unavailable(format!(
                "host answered fetch_node with {other:?}"
            ))),
            Err(e) => Err(BackendError::Unavailable(e.to_string())),
        }
    }
}

/// Chain queries about public state (bank balances, contract and code info) go to the host
/// as they are: the host learns what is asked (an access pattern, like which state nodes
/// are read), never a user's message. Smart and raw queries to contracts are never
/// forwarded: they would carry private arguments (the [`ContractQuerier`] answers them).
struct OcallQuerier {
    channel: Arc<dyn OcallChannel>,
}

impl Querier for OcallQuerier {
    fn query_raw(
        &self,
        request: &[u8],
        _gas_limit: u64,
    ) -> (SystemResult<ContractResult<Binary>>, u64) {
        let unavailable = |error: String| {
            SystemResult::Err(SystemError::InvalidRequest {
                error,
                request: Binary::from(request),
            })
        };
        match serde_json::from_slice::<QueryRequest>(request) {
            Ok(QueryRequest::Bank(_))
            | Ok(QueryRequest::Wasm(WasmQuery::ContractInfo { .. }))
            | Ok(QueryRequest::Wasm(WasmQuery::CodeInfo { .. })) => {}
            Ok(QueryRequest::Wasm(_)) => {
                return (
                    SystemResult::Err(SystemError::UnsupportedRequest {
                        kind: "wasm".into(),
                    }),
                    0,
                )
            }
            Ok(_) => {
                return (
                    SystemResult::Err(SystemError::UnsupportedRequest {
                        kind: "other".into(),
                    }),
                    0,
                )
            }
            Err(e) => return (unavailable(format!("Parsing query request: {e}")), 0),
        }
        let answer = match self.channel.ocall(encode(&Ocall::QueryChain {
            request: request.to_vec(),
        })) {
            Ok(bytes) => match decode::<OcallResponse>(&bytes) {
                Ok(OcallResponse::QueryResult(json)) => serde_json::from_slice(&json)
                    .unwrap_or_else(|e| unavailable(format!("host answer: {e}"))),
                Ok(_) => unavailable("host answered query_chain with another kind".into()),
                Err(e) => unavailable(e.to_string()),
            },
            Err(e) => unavailable(e),
        };
        (answer, 0)
    }
}
