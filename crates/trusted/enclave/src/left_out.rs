//! Checking a host's claim that a transaction of a certified block failed before it
//! reached the enclave: each reason is a check the node makes first, repeated here on
//! the transaction and the enclave's own records (contracts, codes, registrations, the
//! genesis authority) as they stand at that point of the block.

use veil_enclave_abi::LeftOut;
use veil_types::{gas, Msg, Tx};

use super::*;

impl Enclave {
    /// Why `reason` is not true of the signed transaction `bytes`, whose hash is `hash`
    /// (Ok: it is).
    pub(crate) fn verify_left_out(
        &mut self,
        bytes: &[u8],
        hash: &Hash,
        reason: LeftOut,
    ) -> Result<(), String> {
        let tx = Tx::from_bytes(bytes).map_err(|e| format!("it does not decode: {e}"))?;
        let signer = match self.signatures.take(hash) {
            Some(signer) => signer,
            None => tx
                .verify()
                .map_err(|e| format!("its signature does not verify: {e}"))?,
        };
        let msg = &tx.body.msg;
        let records_error = |e: EnclaveError| e.message;
        let has_contract =
            |address: &str| self.records.has_contract(address).map_err(records_error);
        let code = |code_id: u64| self.records.code(code_id).map_err(records_error);
        let holds = match reason {
            LeftOut::OutOfGas => gas::gas_before_enclave(bytes.len(), msg) > tx.body.gas_limit,
            LeftOut::UnknownContract => match msg {
                Msg::Execute { contract, .. }
                | Msg::Migrate { contract, .. }
                | Msg::SetQueryPolicy { contract, .. } => !has_contract(contract)?,
                _ => false,
            },
            LeftOut::UnknownCode => match msg {
                Msg::Instantiate { code_id, .. } | Msg::Migrate { code_id, .. } => {
                    code(*code_id)?.is_none()
                }
                _ => false,
            },
            LeftOut::ContractExists => match msg {
                Msg::Instantiate { code_id, label, .. } => match code(*code_id)? {
                    Some(code) => has_contract(&veil_types::contract_address(
                        &code.code_hash,
                        &signer,
                        label,
                    ))?,
                    None => false,
                },
                _ => false,
            },
            LeftOut::Unauthorized => match msg {
                Msg::Migrate { contract, .. } | Msg::SetQueryPolicy { contract, .. } => self
                    .records
                    .contract(contract)
                    .map_err(records_error)?
                    .is_some_and(|c| c.admin.as_deref() != Some(signer.as_str())),
                Msg::SetAttestationPolicy { .. } | Msg::RevokeNode { .. } => {
                    self.identity()
                        .map_err(|e| e.message)?
                        .genesis
                        .authority
                        .as_deref()
                        != Some(signer.as_str())
                }
                _ => false,
            },
            LeftOut::InvalidInput => invalid_input(msg),
            LeftOut::Registration => match msg {
                Msg::RegisterNode {
                    registration_key, ..
                } => self.governance.registered.contains_key(registration_key),
                Msg::RevokeNode {
                    registration_key, ..
                } => self.governance.registered.get(registration_key) != Some(&false),
                _ => false,
            },
        };
        if !holds {
            return Err(format!(
                "that is not true of this {} transaction",
                msg.kind()
            ));
        }
        // It never runs now: its sequence is used up, as the node's ante handler used it.
        let next = self.records.next_sequence(&signer).map_err(records_error)?;
        self.records
            .set_next_sequence(&signer, next.max(tx.body.sequence.saturating_add(1)))
            .map_err(records_error)
    }
}

/// Whether a field the node validates before calling the enclave is invalid.
fn invalid_input(msg: &Msg) -> bool {
    let bad_policy =
        |policy: &Option<QueryPolicy>| policy.as_ref().is_some_and(|p| p.validate().is_err());
    match msg {
        Msg::StoreCode { query_policy, .. } => bad_policy(query_policy),
        Msg::Instantiate {
            admin,
            query_policy,
            ..
        } => {
            admin
                .as_deref()
                .is_some_and(|a| veil_types::validate_address(a).is_err())
                || bad_policy(query_policy)
        }
        Msg::SetQueryPolicy { query_policy, .. } => query_policy.validate().is_err(),
        Msg::RegisterNode { attestation, .. } => {
            attestation.len() > veil_attestation::MAX_ATTESTATION_BYTES
        }
        Msg::SetAttestationPolicy { policy } => policy.validate().is_err(),
        Msg::RevokeNode { reason, .. } => reason.len() > veil_types::MAX_REVOCATION_REASON_BYTES,
        Msg::Send { .. } | Msg::Execute { .. } | Msg::Migrate { .. } => false,
    }
}
