//! The classic NEAR status-message contract: every account sets its own status; anyone
//! reads it. Also reports the call context and hashes, to exercise those host functions.

use near_sdk::store::LookupMap;
use near_sdk::{env, log, near, AccountId, NearToken};

#[near(contract_state)]
pub struct StatusMessage {
    records: LookupMap<AccountId, String>,
    /// How many times any status was set.
    updates: u64,
}

impl Default for StatusMessage {
    fn default() -> Self {
        Self {
            records: LookupMap::new(b"r"),
            updates: 0,
        }
    }
}

/// What the contract sees of its call.
#[near(serializers = [json])]
pub struct CallInfo {
    pub current: AccountId,
    pub predecessor: AccountId,
    pub signer: AccountId,
    pub block_height: u64,
    pub block_timestamp: u64,
    pub epoch_height: u64,
    pub deposit: NearToken,
    pub random_seed: Vec<u8>,
    pub storage_usage: u64,
}

#[near]
impl StatusMessage {
    /// Sets the caller's status; an empty message panics (nothing is written).
    #[payable]
    pub fn set_status(&mut self, message: String) {
        if message.is_empty() {
            env::panic_str("status must not be empty");
        }
        let account_id = env::predecessor_account_id();
        log!("{} set_status with message {}", account_id, message);
        self.records.insert(account_id, message);
        self.updates += 1;
    }

    /// Removes the caller's status; returns whether there was one.
    pub fn clear_status(&mut self) -> bool {
        let removed = self.records.remove(&env::predecessor_account_id()).is_some();
        if removed {
            self.updates += 1;
        }
        removed
    }

    pub fn get_status(&self, account_id: AccountId) -> Option<String> {
        log!("get_status for account_id {}", account_id);
        self.records.get(&account_id).cloned()
    }

    pub fn get_updates(&self) -> u64 {
        self.updates
    }

    /// Hex digests of `data` (sha256, keccak256, keccak512, ripemd160).
    pub fn hashes(&self, data: String) -> Vec<String> {
        let bytes = data.as_bytes();
        [
            env::sha256(bytes),
            env::keccak256(bytes).to_vec(),
            env::keccak512(bytes).to_vec(),
            env::ripemd160_array(bytes).to_vec(),
        ]
        .iter()
        .map(|digest| digest.iter().map(|b| format!("{b:02x}")).collect())
        .collect()
    }

    pub fn call_info(&self) -> CallInfo {
        CallInfo {
            current: env::current_account_id(),
            predecessor: env::predecessor_account_id(),
            signer: env::signer_account_id(),
            block_height: env::block_height(),
            block_timestamp: env::block_timestamp(),
            epoch_height: env::epoch_height(),
            deposit: env::attached_deposit(),
            random_seed: env::random_seed(),
            storage_usage: env::storage_usage(),
        }
    }

    /// Loops `rounds` times hashing a buffer: a workload for gas and timing.
    pub fn burn(&self, rounds: u32) -> u32 {
        let mut acc = 0u32;
        for i in 0..rounds {
            acc = acc.wrapping_mul(31).wrapping_add(i ^ (acc >> 3));
        }
        acc
    }
}
