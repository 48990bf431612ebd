//! What the caller tells the engine about a call: nearcore's `VMContext`, filled in by
//! whoever runs the call (the chain, `veil vm run`, a test).

use serde::{Deserialize, Serialize};

/// The outcome of a promise this call depends on (a callback reads it with
/// `promise_result`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromiseResult {
    /// The promise returned these bytes (`promise_result` answers 1).
    Successful(Vec<u8>),
    /// The promise failed (`promise_result` answers 2).
    Failed,
}

/// One function call's context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NearContext {
    /// The account whose contract runs.
    pub current_account_id: String,
    /// The account that signed the original transaction.
    pub signer_account_id: String,
    /// The signer's public key, in NEAR's borsh form (key type byte, then the key).
    pub signer_account_pk: Vec<u8>,
    /// The account that made this call (the signer, or the contract whose promise this is).
    pub predecessor_account_id: String,
    /// Where refunds go (NEAR's `refund_to_account_id`; normally the predecessor).
    pub refund_to_account_id: String,
    /// The method's arguments (JSON for near-sdk's default serializer).
    pub input: Vec<u8>,
    pub chain_id: String,
    pub block_height: u64,
    /// Nanoseconds since the Unix epoch.
    pub block_timestamp: u64,
    pub epoch_height: u64,
    /// Balance of the current account, deposit included, in yoctoNEAR.
    pub account_balance: u128,
    pub account_locked_balance: u128,
    /// Bytes of state the current account holds before this call.
    pub storage_usage: u64,
    /// yoctoNEAR attached to this call.
    pub attached_deposit: u128,
    /// Gas the call may use (burnt plus handed to promises).
    pub prepaid_gas: u64,
    /// 32 bytes the caller derives deterministically per call (the chain's randomness).
    pub random_seed: Vec<u8>,
    /// A view call: no state writes, no promises, no signer/predecessor/gas.
    pub view: bool,
    /// Results of the promises this call is a callback of, in order.
    pub promise_results: Vec<PromiseResult>,
    /// Accounts that receive this call's return value as a data receipt (set when the
    /// call is the target of a `then`); each costs data-receipt gas per returned byte.
    pub output_data_receivers: Vec<String>,
}

impl NearContext {
    /// A context for `current_account_id` called by `predecessor` (also the signer) with
    /// `input`; everything else zero, 300 Tgas prepaid, not a view.
    pub fn new(current_account_id: &str, predecessor: &str, input: Vec<u8>) -> Self {
        Self {
            current_account_id: current_account_id.to_string(),
            signer_account_id: predecessor.to_string(),
            signer_account_pk: Vec::new(),
            predecessor_account_id: predecessor.to_string(),
            refund_to_account_id: predecessor.to_string(),
            input,
            chain_id: "veil".to_string(),
            block_height: 0,
            block_timestamp: 0,
            epoch_height: 0,
            account_balance: 0,
            account_locked_balance: 0,
            storage_usage: 0,
            attached_deposit: 0,
            prepaid_gas: 300 * TERA_GAS,
            random_seed: vec![0; 32],
            view: false,
            promise_results: Vec::new(),
            output_data_receivers: Vec::new(),
        }
    }
}

/// 10^12 gas.
pub const TERA_GAS: u64 = 1_000_000_000_000;

/// NEAR's account-id rules (`AccountId::validate`): 2–64 characters of lowercase letters,
/// digits and `-_.`, separators never leading, trailing or doubled.
pub fn is_valid_account_id(id: &str) -> bool {
    if !(2..=64).contains(&id.len()) {
        return false;
    }
    let mut last_was_separator = true; // no leading separator
    for c in id.bytes() {
        match c {
            b'a'..=b'z' | b'0'..=b'9' => last_was_separator = false,
            b'-' | b'_' | b'.' => {
                if last_was_separator {
                    return false;
                }
                last_was_separator = true;
            }
            _ => return false,
        }
    }
    !last_was_separator
}

/// NEAR's account kinds that change transfer fees (implicit accounts are created by the
/// transfer, which costs a `CreateAccount` and, for NEAR-implicit ones, an access key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountType {
    Named,
    NearImplicit,
    EthImplicit,
    /// `0s` + 40 hex: NEAR's deterministic (state-init) accounts.
    NearDeterministic,
    /// `0u` + 52 Crockford base32: NEAR's universal accounts.
    Universal,
}

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

pub(crate) fn account_type(id: &str) -> AccountType {
    let hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if id.len() == 64 && hex(id) {
        AccountType::NearImplicit
    } else if id.len() == 42 && id.starts_with("0x") && hex(&id[2..]) {
        AccountType::EthImplicit
    } else if id.len() == 42 && id.starts_with("0s") && hex(&id[2..]) {
        AccountType::NearDeterministic
    } else if id.len() == 54
        && id.starts_with("0u")
        && id.as_bytes()[2..].iter().all(|b| CROCKFORD.contains(b))
        && matches!(id.as_bytes()[53], b'0' | b'g')
    {
        AccountType::Universal
    } else {
        AccountType::Named
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_follow_near_rules() {
        for ok in ["alice.near", "a-b_c.d", "0x1234", "ab", "veil"] {
            assert!(is_valid_account_id(ok), "{ok}");
        }
        for bad in [
            "a",
            "Alice",
            ".a",
            "a.",
            "a..b",
            "a-.b",
            "a b",
            &"a".repeat(65),
        ] {
            assert!(!is_valid_account_id(bad), "{bad}");
        }
    }

    #[test]
    fn implicit_accounts_are_recognized() {
        assert_eq!(account_type(&"a".repeat(64)), AccountType::NearImplicit);
        assert_eq!(
            account_type(&format!("0x{}", "1".repeat(40))),
            AccountType::EthImplicit
        );
        assert_eq!(account_type("bob.near"), AccountType::Named);
    }
}
