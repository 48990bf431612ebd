//! Governance transactions: the genesis authority changes the attestation policy or
//! revokes a registered enclave. The node checks what it can see (signer, policy, key)
//! for a clear failure, but the enclave decides: it verifies the signed transaction
//! itself and keeps the policy and the revocations in its sealed state.

use super::*;

impl App {
    /// `Msg::SetAttestationPolicy` and `Msg::RevokeNode`. A refusal changes nothing but
    /// the fee and sequence (charged before).
    pub(super) fn govern(
        &mut self,
        context: &TxContext,
        tx: &Tx,
        sender: &str,
        meter: &mut GasMeter,
        receipt: &mut Receipt,
    ) -> Result<(), Failure> {
        let (gas, what) = match &tx.body.msg {
            Msg::SetAttestationPolicy { .. } => {
                (SET_ATTESTATION_POLICY_GAS, "change the attestation policy")
            }
            Msg::RevokeNode { .. } => (REVOKE_NODE_GAS, "revoke an enclave"),
            _ => unreachable!("only governance messages come here"),
        };
        meter.charge(gas)?;
        match &self.genesis.authority {
            None => {
                return Err(failure(
                    "unauthorized",
                    format!("this network's genesis names no authority: nobody may {what}"),
                ))
            }
            Some(authority) if authority != sender => {
                return Err(failure(
                    "unauthorized",
                    format!("only the network's authority {authority} may {what}, not {sender}"),
                ))
            }
            Some(_) => {}
        }
        match &tx.body.msg {
            Msg::SetAttestationPolicy { policy } => {
                policy
                    .validate()
                    .map_err(|e| failure("invalid_attestation_policy", e.to_string()))?;
                self.govern_in_enclave(context)?;
                let record = veil_types::AttestationPolicyRecord {
                    policy: Some(policy.clone()),
                    height: context.height,
                    set_by: Some(sender.to_string()),
                };
                receipt.events.push(Event {
                    kind: "set_attestation_policy".into(),
                    attributes: vec![
                        ("authority".into(), sender.to_string()),
                        (
                            "policy".into(),
                            serde_json::to_string(policy).expect("policies serialize"),
                        ),
                    ],
                });
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .set_attestation_policy(record);
                Ok(())
            }
            Msg::RevokeNode {
                registration_key,
                reason,
            } => {
                if reason.len() > veil_types::MAX_REVOCATION_REASON_BYTES {
                    return Err(failure(
                        "malformed",
                        format!(
                            "the reason must be at most {} bytes",
                            veil_types::MAX_REVOCATION_REASON_BYTES
                        ),
                    ));
                }
                let key = hex::encode(registration_key);
                let mut registration = match self
                    .state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .registration(registration_key)
                {
                    None => {
                        return Err(failure(
                            "unknown_registration",
                            format!("no enclave is registered with key {key}"),
                        ))
                    }
                    Some(r) if r.revocation.is_some() => {
                        return Err(failure(
                            "already_revoked",
                            format!("enclave key {key} is already revoked"),
                        ))
                    }
                    Some(r) => r,
                };
                self.govern_in_enclave(context)?;
                registration.revocation = Some(veil_types::Revocation {
                    height: context.height,
                    reason: reason.clone(),
                });
                receipt.events.push(Event {
                    kind: "revoke_node".into(),
                    attributes: vec![
                        ("authority".into(), sender.to_string()),
                        ("registration_key".into(), key),
                        ("operator".into(), registration.operator.clone()),
                        ("reason".into(), reason.clone()),
                    ],
                });
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .put_registration(registration);
                Ok(())
            }
            _ => unreachable!("checked above"),
        }
    }

    /// Hands the signed transaction to the enclave (not while simulating: a simulation
    /// changes nothing there).
    fn govern_in_enclave(&self, context: &TxContext) -> Result<(), Failure> {
        if self.simulating {
            return Ok(());
        }
        self.enclave
            .govern(context.for_enclave(), &self.genesis.chain_id)
            .map_err(enclave_failure)
    }
}

/// The mempool's checks of a governance message: only what needs no state.
pub(super) fn check_governance_msg(msg: &Msg) -> Result<(), Rejection> {
    match msg {
        Msg::RevokeNode { reason, .. }
            if reason.len() > veil_types::MAX_REVOCATION_REASON_BYTES =>
        {
            Err(reject(
                "malformed",
                format!(
                    "the reason must be at most {} bytes",
                    veil_types::MAX_REVOCATION_REASON_BYTES
                ),
            ))
        }
        _ => Ok(()),
    }
}
