//! A call's queriers: contract-to-contract smart and raw queries answered inside the
//! enclave (under the target's query policy), public chain queries through the host, and
//! state nodes fetched from the host (verified by `veil-state`).

use super::*;
use veil_types::gas::{CONTRACT_CALL_GAS, GAS_MULTIPLIER};

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

pub(crate) fn contract_cipher(
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
pub(crate) fn ensure_loaded(
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
pub(crate) struct ContractQuerier {
    pub(crate) channel: Arc<dyn OcallChannel>,
    pub(crate) engine: Arc<Engine>,
    pub(crate) seed: Arc<MasterSeed>,
    pub(crate) generation: u32,
    /// The enclave's records as committed before this call.
    pub(crate) records: Arc<Records>,
    pub(crate) block: BlockContext,
    /// The contract whose queries this querier answers: the querier the target's policy
    /// sees.
    pub(crate) caller: String,
    /// 1 for the queries of the called contract, 2 for those of a contract it queries, …
    pub(crate) depth: u32,
    /// Set when a query met state that does not verify or code the host does not serve:
    /// the whole call then fails with that error (the contract only saw a query error).
    pub(crate) aborted: Arc<Mutex<Option<EnclaveError>>>,
    /// Balances as this call's transfers left them (answered before the host's).
    pub(crate) ledger: Arc<Mutex<Ledger>>,
    /// The genesis validators' operator addresses: staking queries are answered from the
    /// validator set the enclave verifies blocks against (there is no staking module, so
    /// nobody has delegated anything).
    pub(crate) validators: Arc<Vec<String>>,
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
    pub(crate) fn open_state(
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

    /// The committed record of the contract at `address` (queries see committed state).
    fn record(&self, address: &str, request: &[u8]) -> Result<TrustedContract, QueryAnswer> {
        match self.records.contract(address) {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err((
                SystemResult::Err(SystemError::NoSuchContract {
                    addr: address.to_string(),
                }),
                0,
            )),
            Err(e) => Err(self.abort(e, request)),
        }
    }

    fn smart(&self, address: &str, msg: &[u8], gas_limit: u64, request: &[u8]) -> QueryAnswer {
        let record = match self.record(address, request) {
            Ok(record) => record,
            Err(answer) => return answer,
        };
        let record = &record;
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
        // Loading the queried contract costs what loading it for a call does (wasmd
        // charges its setup cost for smart queries too); short of it, the caller runs out.
        let setup = CONTRACT_CALL_GAS.saturating_mul(GAS_MULTIPLIER);
        if gas_limit < setup {
            let answer = SystemResult::Ok(ContractResult::Err(
                veil_engine::VmError::OutOfGas.to_string(),
            ));
            return (answer, setup);
        }
        let env = build_env(&self.block, address);
        let call = Call {
            entry: Entry::Query,
            env: &env,
            info: None,
            msg,
            gas_limit: gas_limit - setup,
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
        (answer, report.gas_used.saturating_add(setup))
    }

    fn raw(&self, address: &str, key: &[u8], request: &[u8]) -> QueryAnswer {
        let record = match self.record(address, request) {
            Ok(record) => record,
            Err(answer) => return answer,
        };
        let record = &record;
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

/// `{"bank":{"all_balances":{"address":…}}}` (CosmWasm 1 and 2).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum AllBalancesRequest {
    Bank(AllBalances),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum AllBalances {
    AllBalances { address: String },
}

fn answer(value: serde_json::Value) -> QueryAnswer {
    let bytes = serde_json::to_vec(&value).expect("JSON values serialize");
    (SystemResult::Ok(ContractResult::Ok(Binary::from(bytes))), 0)
}

fn unsupported(kind: &str) -> QueryAnswer {
    let answer = SystemResult::Err(SystemError::UnsupportedRequest {
        kind: kind.to_string(),
    });
    (answer, 0)
}

impl ContractQuerier {
    /// Staking queries, as a chain with this validator set and no delegations answers.
    fn staking(&self, query: StakingQuery) -> QueryAnswer {
        // A validator without a staking module takes no commission and cannot change it.
        let validator = |address: &String| {
            json!({
                "address": address,
                "commission": "0",
                "max_commission": "0",
                "max_change_rate": "0",
            })
        };
        match query {
            StakingQuery::BondedDenom {} => answer(json!({ "denom": veil_types::DENOM })),
            StakingQuery::AllValidators {} => answer(json!({
                "validators": self.validators.iter().map(validator).collect::<Vec<_>>(),
            })),
            StakingQuery::Validator { address } => answer(json!({
                "validator": self.validators.iter().find(|v| **v == address).map(validator),
            })),
            StakingQuery::AllDelegations { .. } => answer(json!({ "delegations": [] })),
            StakingQuery::Delegation { .. } => answer(json!({ "delegation": null })),
            _ => unsupported("staking"),
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn host(&self, request: &[u8], gas_limit: u64) -> QueryAnswer {
        OcallQuerier {
            channel: self.channel.clone(),
        }
        .query_raw(request, gas_limit)
    }
}

impl Querier for ContractQuerier {
    #[allow(deprecated)]
    fn query_raw(&self, request: &[u8], gas_limit: u64) -> QueryAnswer {
        // CosmWasm 1 and 2 contracts may still ask for every balance (gone from
        // cosmwasm-std 3): the chain has one denomination, so that is one balance.
        if let Ok(AllBalancesRequest::Bank(AllBalances::AllBalances { address })) =
            serde_json::from_slice(request)
        {
            let amount = match self.ledger().known(&address) {
                Some(amount) => amount,
                None => match contract_balance(&self.channel, &address) {
                    Ok(amount) => amount,
                    Err(e) => return self.refuse(e, request),
                },
            };
            let coins: Vec<_> = (amount > 0)
                .then(|| json!({"denom": veil_types::DENOM, "amount": amount.to_string()}))
                .into_iter()
                .collect();
            return answer(json!({ "amount": coins }));
        }
        match serde_json::from_slice::<QueryRequest<Empty>>(request) {
            Ok(QueryRequest::Staking(query)) => self.staking(query),
            Ok(QueryRequest::Bank(BankQuery::Supply { denom })) if denom == veil_types::DENOM => {
                let burned = self.ledger().burned();
                let (from_host, gas) = self.host(request, gas_limit);
                let SystemResult::Ok(ContractResult::Ok(data)) = &from_host else {
                    return (from_host, gas);
                };
                match serde_json::from_slice::<SupplyResponse>(data.as_slice()) {
                    Ok(supply) => answer(json!({"amount": {
                        "denom": denom,
                        "amount": supply.amount.amount.saturating_sub(Uint256::from(burned)).to_string(),
                    }})),
                    Err(e) => self.refuse(format!("host's supply answer: {e}"), request),
                }
            }
            Ok(QueryRequest::Bank(BankQuery::DenomMetadata { .. }))
            | Ok(QueryRequest::Bank(BankQuery::AllDenomMetadata { .. })) => {
                unsupported("bank denom metadata (the chain has no metadata for its denomination)")
            }
            Ok(QueryRequest::Distribution(_)) => unsupported("distribution"),
            Ok(QueryRequest::Stargate { .. }) => unsupported("stargate"),
            Ok(QueryRequest::Grpc(_)) => unsupported("grpc"),
            Ok(QueryRequest::Ibc(_)) => unsupported("ibc"),
            Ok(QueryRequest::Custom(_)) => unsupported("custom"),
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

/// What every node of a contract's state is bound to: its address and the key generation
/// (so a node can never be read under another generation's key, e.g. during rotation).
pub(crate) fn state_binding(address: &str, generation: u32) -> Vec<u8> {
    let mut binding = Vec::with_capacity(address.len() + 5);
    binding.extend_from_slice(address.as_bytes());
    binding.push(0);
    binding.extend_from_slice(&generation.to_be_bytes());
    binding
}

/// Fetches state nodes from the host; `VerifiedState` checks everything it returns.
pub struct OcallNodeSource {
    channel: Arc<dyn OcallChannel>,
    contract: String,
}

impl OcallNodeSource {
    pub(crate) fn new(channel: Arc<dyn OcallChannel>, contract: &str) -> Self {
        Self {
            channel,
            contract: contract.to_string(),
        }
    }
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
pub(crate) struct OcallQuerier {
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
