//! Dev-chain inspection (`docs/protocol.md`, "Dev inspect"): on a chain whose genesis is
//! marked `dev`, and only there, the owner of the dev home may read every call's message,
//! result and state changes and any contract's state — sealed to the owner's X25519 key,
//! so the host and RPC callers see only ciphertext.
//!
//! Every entry point checks the genesis itself: a host cannot turn inspection on for a
//! chain that is not a dev chain (and a dev genesis is a different genesis, with another
//! hash, from any real chain's).

use base64::Engine as _;
use serde_json::json;
use veil_crypto::{open_input_cached, seal_for_owner, OsRng, OutputKind};
use veil_enclave_abi::{
    EntryPoint, ErrorKind, Hash, RunRequest, RunResponse, MAX_INSPECT_STATE_ENTRIES,
};
use veil_engine::{KeyRange, Order, Storage};
use veil_state::{NodeId, StateChange, VerifiedState};

use crate::querier::{contract_cipher, OcallNodeSource};
use crate::{fail, Enclave, EnclaveResult};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn not_a_dev_chain() -> crate::EnclaveError {
    fail(
        ErrorKind::Inspect,
        "inspection is refused: this chain's genesis is not a dev chain (only chains started by `veil dev` can be inspected)",
    )
}

/// The first key after every key that starts with `prefix` (none: no such bound).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl Enclave {
    /// `EnableInspect`: accepted only under a dev genesis.
    pub(crate) fn enable_inspect(&mut self, owner_key: Hash) -> EnclaveResult<()> {
        if !self.identity()?.genesis.dev {
            return Err(not_a_dev_chain());
        }
        // A low-order key would make every sealed answer readable by anyone.
        seal_for_owner(&mut OsRng, &owner_key, b"")
            .map_err(|e| fail(ErrorKind::BadRequest, format!("inspect owner key: {e}")))?;
        self.inspect_owner = Some(owner_key);
        Ok(())
    }

    /// The owner key answers are sealed to; refused unless this is a dev chain with
    /// inspection on.
    fn inspect_owner(&self) -> EnclaveResult<Hash> {
        if !self.identity()?.genesis.dev {
            return Err(not_a_dev_chain());
        }
        self.inspect_owner.ok_or_else(|| {
            fail(
                ErrorKind::Inspect,
                "inspection is not on: start the dev chain with `veil dev --inspect`",
            )
        })
    }

    /// Whether this call's changes are to be recorded for the owner: a call of a block
    /// (not a query, not a simulation) on a dev chain with inspection on.
    pub(crate) fn inspects(&self, request: &RunRequest) -> bool {
        self.inspect_owner.is_some()
            && !request.simulate
            && request.entry != EntryPoint::Query
            && request.tx.is_some()
    }

    /// `InspectState`: the contract's committed state under `prefix`, in key order,
    /// verified against this enclave's own root.
    pub(crate) fn inspect_state(
        &self,
        contract: &str,
        prefix: Vec<u8>,
        start_after: Option<Vec<u8>>,
        limit: u32,
    ) -> EnclaveResult<Vec<u8>> {
        let owner = self.inspect_owner()?;
        let keys = self.keys()?;
        let record = self.records.contract(contract)?.ok_or_else(|| {
            fail(
                ErrorKind::BadRequest,
                format!("unknown contract: no contract at {contract}"),
            )
        })?;
        let cipher = contract_cipher(&keys.seed, keys.generation, contract, &record)?;
        let source = OcallNodeSource::new(self.channel.clone(), contract);
        let state = VerifiedState::open(source, cipher, record.root.map(NodeId));
        let range = KeyRange {
            start: (!prefix.is_empty()).then(|| prefix.clone()),
            end: prefix_end(&prefix),
        };
        let limit = limit.clamp(1, MAX_INSPECT_STATE_ENTRIES) as usize;
        let integrity =
            |e: veil_engine::BackendError| fail(ErrorKind::StateIntegrity, e.to_string());
        let mut entries = Vec::new();
        let mut after = start_after;
        let mut more = false;
        while let Some((key, value)) = state
            .next_in_range(&range, Order::Ascending, after.as_deref())
            .map_err(integrity)?
        {
            if entries.len() == limit {
                more = true;
                break;
            }
            entries.push(json!({ "key": b64(&key), "value": b64(&value) }));
            after = Some(key);
        }
        let body = json!({
            "contract": contract,
            "state_root": record.root.map(hex::encode),
            "entries": entries,
            "more": more,
        });
        seal(&owner, &body)
    }

    /// The sealed record of a call that ran in a block: its message and result, decrypted,
    /// and the state changes it committed (`changes`, per contract).
    pub(crate) fn inspect_call(
        &mut self,
        request: &RunRequest,
        response: &RunResponse,
        changes: Vec<(String, Vec<StateChange>)>,
    ) -> EnclaveResult<Vec<u8>> {
        let owner = self.inspect_owner()?;
        let keys = self.keys.as_ref().expect("the call ran with the seed");
        // The envelope opened when the call ran: it opens again the same way.
        let (msg, tx_key, _) = open_input_cached(
            &keys.io,
            &mut self.senders,
            &request.envelope,
            &request.contract.code_hash,
        )
        .map_err(|e| fail(ErrorKind::Envelope, e.to_string()))?;
        let result = tx_key
            .decrypt_output(0, OutputKind::Data, &response.encrypted_result)
            .ok()
            .and_then(|plain| serde_json::from_slice::<serde_json::Value>(&plain).ok());
        let message = match serde_json::from_slice::<serde_json::Value>(&msg) {
            Ok(value) => json!({ "json": value }),
            Err(_) => json!({ "base64": b64(&msg) }),
        };
        let state_changes: Vec<_> = changes
            .into_iter()
            .filter(|(_, changes)| !changes.is_empty())
            .map(|(contract, changes)| {
                json!({
                    "contract": contract,
                    "changes": changes.iter().map(|c| json!({
                        "key": b64(&c.key),
                        "old": c.old.as_deref().map(b64),
                        "new": c.new.as_deref().map(b64),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let entry = match request.entry {
            EntryPoint::Instantiate => "instantiate",
            EntryPoint::Execute => "execute",
            EntryPoint::Query => "query",
            EntryPoint::Migrate => "migrate",
        };
        let body = json!({
            "tx_hash": request.tx.as_deref().map(|tx| hex::encode(veil_types::tx_hash(tx))),
            "height": request.block.height,
            "contract": request.contract.address,
            "entry": entry,
            "sender": request.sender,
            "ok": response.ok,
            "error_kind": response.error_kind,
            "gas_used": response.gas_used,
            "message": message,
            "result": result,
            "state_changes": state_changes,
        });
        seal(&owner, &body)
    }
}

/// The call's changes of one contract's state, for the owner.
pub(crate) fn state_changes(
    state: &VerifiedState<OcallNodeSource>,
) -> EnclaveResult<Vec<StateChange>> {
    state
        .changes()
        .map_err(|e| fail(ErrorKind::StateIntegrity, e.to_string()))
}

fn seal(owner: &Hash, body: &serde_json::Value) -> EnclaveResult<Vec<u8>> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(body).expect("JSON values serialize"));
    seal_for_owner(&mut OsRng, owner, &plain)
        .map_err(|e| fail(ErrorKind::BadRequest, format!("inspect owner key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b""), None);
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }
}
