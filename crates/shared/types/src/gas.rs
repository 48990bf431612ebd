//! The chain's gas table for what a transaction is charged before any contract runs.
//!
//! Shared by the node (which charges it) and the enclave (which checks a host's claim that
//! a transaction of a certified block ran out of gas before it reached the enclave).

use crate::Msg;

/// Chain gas (what gas limits and fees count) = CosmWasm gas / this: wasmd's
/// `DefaultGasMultiplier` since CosmWasm 2.0 (wasmvm 2 and 3), so storage, priced in the
/// engine at the Cosmos SDK's KV gas × this, costs exactly the SDK's price.
pub const GAS_MULTIPLIER: u64 = 140_000;
/// Every transaction: signature check, account update, receipt.
pub const TX_BASE_GAS: u64 = 10_000;
/// The Cosmos SDK's `TxSizeCostPerByte`.
pub const TX_GAS_PER_BYTE: u64 = 10;
/// Validating and compiling uploaded code, per byte (wasmd's `DefaultCompileCost`).
pub const STORE_CODE_GAS_PER_BYTE: u64 = 3;
/// Loading a contract into the engine, per call — top-level, dispatched by a contract or
/// a smart query from one (wasmd's `DefaultInstanceCost`).
pub const CONTRACT_CALL_GAS: u64 = 60_000;
/// Calling a contract back with a sub-message's reply: it was just loaded (wasmd's
/// `DefaultInstanceCostDiscount`).
pub const REPLY_GAS: u64 = 2_000;
/// Setting a contract's query policy (no contract is loaded).
pub const SET_QUERY_POLICY_GAS: u64 = 20_000;
/// Events a contract returns (wasmd's `EventCosts`): per attribute, per byte of attribute
/// keys and values past a free allowance per call, and per custom event plus its type's
/// bytes.
pub const EVENT_ATTRIBUTE_GAS: u64 = 10;
pub const EVENT_DATA_GAS_PER_BYTE: u64 = 1;
pub const EVENT_DATA_FREE_BYTES: u64 = 100;
pub const CUSTOM_EVENT_GAS: u64 = 20;
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
        Msg::Instantiate { .. } | Msg::Execute { .. } | Msg::Migrate { .. } => CONTRACT_CALL_GAS,
        Msg::SetQueryPolicy { .. } => SET_QUERY_POLICY_GAS,
        Msg::RegisterNode { .. } => REGISTER_NODE_GAS,
        Msg::SetAttestationPolicy { .. } => SET_ATTESTATION_POLICY_GAS,
        Msg::RevokeNode { .. } => REVOKE_NODE_GAS,
    }
}

/// Gas for the events one contract call returns: `attributes` are the response's own
/// attributes as (key, value) lengths, `events` its custom events as (type length,
/// attribute lengths). The free allowance covers the first bytes of the call's attribute
/// data, the response's attributes first, as wasmd counts them.
pub fn event_gas(attributes: &[(usize, usize)], events: &[(usize, Vec<(usize, usize)>)]) -> u64 {
    let mut free = EVENT_DATA_FREE_BYTES;
    let mut charge_attributes = |attributes: &[(usize, usize)]| -> u64 {
        if attributes.is_empty() {
            return 0;
        }
        let bytes: u64 = attributes
            .iter()
            .map(|&(k, v)| (k as u64).saturating_add(v as u64))
            .fold(0, u64::saturating_add);
        let charged = bytes.saturating_sub(free);
        free = free.saturating_sub(bytes);
        EVENT_DATA_GAS_PER_BYTE
            .saturating_mul(charged)
            .saturating_add(EVENT_ATTRIBUTE_GAS.saturating_mul(attributes.len() as u64))
    };
    let mut gas = charge_attributes(attributes);
    for (type_len, attributes) in events {
        gas = gas
            .saturating_add(CUSTOM_EVENT_GAS)
            .saturating_add(EVENT_DATA_GAS_PER_BYTE.saturating_mul(*type_len as u64))
            .saturating_add(charge_attributes(attributes));
    }
    gas
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
        assert_eq!(gas_before_enclave(1200, &upload), 10_000 + 12_000 + 3_000);
        assert_eq!(tx_gas(usize::MAX), u64::MAX);
    }

    #[test]
    fn events_are_priced_as_wasmd_prices_them() {
        assert_eq!(event_gas(&[], &[]), 0);
        // 60 bytes: inside the free allowance, so only the two attributes count.
        assert_eq!(event_gas(&[(10, 20), (10, 20)], &[]), 20);
        // 150 bytes: 50 past the allowance.
        assert_eq!(event_gas(&[(50, 100)], &[]), 10 + 50);
        // The allowance left by the attributes (100 - 30) carries into the events; an
        // event's type is never free.
        let events = [(5, vec![(40, 40)]), (7, vec![(1, 1)])];
        assert_eq!(
            event_gas(&[(10, 20)], &events),
            10 + (20 + 5 + 10 + 10) + (20 + 7 + 10 + 2)
        );
        let huge = [(usize::MAX, usize::MAX)];
        assert_eq!(event_gas(&huge, &[]), u64::MAX - 100 + 10);
    }
}
