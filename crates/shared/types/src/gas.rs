//! The chain's gas table for what a transaction is charged before any contract runs.
//!
//! Shared by the node (which charges it) and the enclave (which checks a host's claim that
//! a transaction of a certified block ran out of gas before it reached the enclave).

use crate::Msg;

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
/// Replacing the attestation policy (validation, and one sealed-state update per node).
pub const SET_ATTESTATION_POLICY_GAS: u64 = 50_000;
/// Revoking a registered enclave.
pub const REVOKE_NODE_GAS: u64 = 50_000;

/// Gas every transaction pays for being a transaction of `tx_len` bytes.
pub fn tx_gas(tx_len: usize) -> u64 {
    TX_BASE_GAS.saturating_add(TX_GAS_PER_BYTE.saturating_mul(tx_len as u64))
}

/// Gas the message itself costs before it reaches the enclave (nothing for a bank send).
pub fn msg_gas(msg: &Msg) -> u64 {
    match msg {
        Msg::Send { .. } => 0,
        Msg::StoreCode { wasm, .. } => STORE_CODE_GAS_PER_BYTE.saturating_mul(wasm.len() as u64),
        Msg::Instantiate { .. }
        | Msg::Execute { .. }
        | Msg::Migrate { .. }
        | Msg::SetQueryPolicy { .. } => CONTRACT_CALL_GAS,
        Msg::RegisterNode { .. } => REGISTER_NODE_GAS,
        Msg::SetAttestationPolicy { .. } => SET_ATTESTATION_POLICY_GAS,
        Msg::RevokeNode { .. } => REVOKE_NODE_GAS,
    }
}

/// Gas charged before a transaction of `tx_len` bytes carrying `msg` reaches the enclave:
/// a gas limit below it fails with `out_of_gas` and the enclave never sees the transaction.
pub fn gas_before_enclave(tx_len: usize, msg: &Msg) -> u64 {
    tx_gas(tx_len).saturating_add(msg_gas(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_before_the_enclave_adds_the_message_charge() {
        let send = Msg::Send {
            to: String::new(),
            amount: 1,
        };
        assert_eq!(gas_before_enclave(100, &send), 11_000);
        let upload = Msg::StoreCode {
            wasm: vec![0; 1000],
            query_policy: None,
        };
        assert_eq!(gas_before_enclave(1200, &upload), 10_000 + 12_000 + 6_000);
        assert_eq!(tx_gas(usize::MAX), u64::MAX);
    }
}
