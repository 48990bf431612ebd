//! What the enclave reaches through the host while a block runs: state nodes (pending
//! writes first, then the store) and public chain queries.

use super::*;

/// State nodes written and released by the block being executed, then the committed ones.
pub struct PendingNodes {
    pub(super) pending: Mutex<NodeWrites>,
    pub(super) store: Store,
}

/// A block's changes to the stored nodes, in effect after the calls so far: a node
/// released by one call and recreated by a later one is kept, and one created and released
/// within the block is never written.
#[derive(Default)]
pub(super) struct NodeWrites {
    added: HashMap<Hash, Vec<u8>>,
    released: HashSet<Hash>,
}

impl PendingNodes {
    pub(super) fn apply(&self, update: &StateUpdate) {
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
    pub(super) fn take(&self) -> (Vec<(Hash, Vec<u8>)>, Vec<Hash>) {
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
pub(super) struct ChainQuerier(pub(super) Arc<Mutex<ChainState>>);

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
            Ok(QueryRequest::Bank(BankQuery::Supply { denom })) => {
                let amount = if denom == DENOM { state().supply() } else { 0 };
                return found(serde_json::json!({
                    "amount": { "denom": denom, "amount": amount.to_string() },
                }));
            }
            // The fields of cosmwasm-std's ContractInfoResponse and CodeInfoResponse.
            Ok(QueryRequest::Wasm(WasmQuery::ContractInfo { contract_addr })) => {
                return match state().contract(&contract_addr) {
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
                return match state().code(code_id) {
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
