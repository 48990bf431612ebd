//! Governance: the attestation policy registrations are verified against, and the
//! registered enclaves, some revoked. Only the genesis authority's signed transactions
//! change them; the enclave keeps both in its sealed state, so a host can neither skip a
//! policy change nor take back a revocation once its enclave has run them.

use std::collections::BTreeMap;

use super::*;
use veil_attestation::Policy;
use veil_types::genesis::Genesis;

/// What the enclave keeps about the network's membership (sealed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Governance {
    /// The policy a registration must satisfy now: the genesis' until the authority
    /// replaces it (None: nobody may register).
    pub(crate) policy: Option<Policy>,
    /// Every enclave a registration shared the seed with, by registration key: whether
    /// it has been revoked since.
    pub(crate) registered: BTreeMap<Hash, bool>,
}

impl Governance {
    /// A new enclave's: the genesis policy, nobody registered yet (a joining enclave
    /// learns later registrations and changes by replaying the chain's blocks).
    pub(crate) fn from_genesis(genesis: &Genesis) -> Self {
        Self {
            policy: genesis.attestation_policy.clone(),
            registered: BTreeMap::new(),
        }
    }

    /// Refuses a registration key that was revoked or already shares the seed.
    pub(crate) fn check_new_registration(&self, key: &Hash) -> EnclaveResult<()> {
        match self.registered.get(key) {
            Some(true) => Err(fail(
                ErrorKind::Unauthorized,
                format!(
                    "enclave key {} was revoked by the network's authority: it is given nothing",
                    hex::encode(key)
                ),
            )),
            Some(false) => Err(fail(
                ErrorKind::BadRequest,
                format!("enclave key {} is already registered", hex::encode(key)),
            )),
            None => Ok(()),
        }
    }
}

impl Enclave {
    /// Executes a signed `set_attestation_policy` or `revoke_node` transaction: only the
    /// genesis authority may sign one. A refused one changes nothing (its sequence stays
    /// usable, as for every refused transaction).
    pub(crate) fn govern(&mut self, bytes: &[u8], chain_id: &str) -> EnclaveResult<()> {
        let (tx, signer) = self.verify_admin_tx(bytes, chain_id)?;
        let identity = self.identity()?;
        let what = match &tx.body.msg {
            veil_types::Msg::SetAttestationPolicy { .. } => "change the attestation policy",
            veil_types::Msg::RevokeNode { .. } => "revoke an enclave",
            _ => {
                return Err(fail(
                    ErrorKind::BadRequest,
                    "transaction is not a governance transaction",
                ))
            }
        };
        match &identity.genesis.authority {
            None => {
                return Err(fail(
                    ErrorKind::Unauthorized,
                    format!("this network's genesis names no authority: nobody may {what}"),
                ))
            }
            Some(authority) if *authority != signer => {
                return Err(fail(
                    ErrorKind::Unauthorized,
                    format!("only the network's authority {authority} may {what}, not {signer}"),
                ))
            }
            Some(_) => {}
        }
        match &tx.body.msg {
            veil_types::Msg::SetAttestationPolicy { policy } => {
                policy.validate().map_err(|e| {
                    fail(
                        ErrorKind::BadRequest,
                        format!("the attestation policy is refused: {e}"),
                    )
                })?;
                self.governance.policy = Some(policy.clone());
            }
            veil_types::Msg::RevokeNode {
                registration_key,
                reason,
            } => {
                if reason.len() > veil_types::MAX_REVOCATION_REASON_BYTES {
                    return Err(fail(
                        ErrorKind::BadRequest,
                        format!(
                            "the reason must be at most {} bytes",
                            veil_types::MAX_REVOCATION_REASON_BYTES
                        ),
                    ));
                }
                let key = hex::encode(registration_key);
                match self.governance.registered.get_mut(registration_key) {
                    None => {
                        return Err(fail(
                            ErrorKind::BadRequest,
                            format!("no enclave is registered with key {key}"),
                        ))
                    }
                    Some(true) => {
                        return Err(fail(
                            ErrorKind::BadRequest,
                            format!("enclave key {key} is already revoked"),
                        ))
                    }
                    Some(revoked) => *revoked = true,
                }
            }
            _ => unreachable!("checked above"),
        }
        self.records
            .set_next_sequence(&signer, tx.body.sequence + 1)?;
        Ok(())
    }
}
