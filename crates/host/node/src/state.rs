//! The chain's public state, held in memory and written through to the store per block.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use veil_types::{Account, AttestationPolicyRecord, CodeInfo, ContractInfo, Hash, Registration};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainState {
    pub accounts: BTreeMap<String, Account>,
    pub codes: BTreeMap<u64, CodeInfo>,
    pub contracts: BTreeMap<String, ContractInfo>,
    /// Registered enclaves by registration key (revoked ones included).
    pub registrations: BTreeMap<Hash, Registration>,
    /// The attestation policy in force (the genesis' until the authority changes it).
    pub attestation_policy: AttestationPolicyRecord,
}

impl Default for ChainState {
    fn default() -> Self {
        Self {
            accounts: BTreeMap::new(),
            codes: BTreeMap::new(),
            contracts: BTreeMap::new(),
            registrations: BTreeMap::new(),
            attestation_policy: AttestationPolicyRecord {
                policy: None,
                height: 0,
                set_by: None,
            },
        }
    }
}

/// What changed since the last commit.
#[derive(Debug, Clone, Default)]
pub struct Dirty {
    pub accounts: BTreeSet<String>,
    pub codes: BTreeSet<u64>,
    pub contracts: BTreeSet<String>,
    pub registrations: BTreeSet<Hash>,
    pub attestation_policy: bool,
}

impl ChainState {
    pub fn account(&self, address: &str) -> Account {
        self.accounts
            .get(address)
            .cloned()
            .unwrap_or_else(|| Account {
                address: address.to_string(),
                ..Account::default()
            })
    }

    pub fn balance(&self, address: &str) -> u128 {
        self.accounts.get(address).map_or(0, |a| a.balance)
    }

    pub fn next_code_id(&self) -> u64 {
        self.codes.keys().next_back().map_or(1, |id| id + 1)
    }

    /// The state root: SHA-256 over every account, code, contract and registration record
    /// in key order and the attestation policy in force (`docs/protocol.md`, "State
    /// root"). Contract state enters through each contract's encrypted-tree root.
    pub fn app_hash(&self) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(b"veil/app-hash-v1");
        fn section<'a, T: serde::Serialize + 'a>(
            hasher: &mut Sha256,
            tag: &[u8],
            items: impl ExactSizeIterator<Item = &'a T>,
        ) {
            hasher.update(tag);
            hasher.update((items.len() as u64).to_be_bytes());
            for item in items {
                let bytes = postcard::to_stdvec(item).expect("serializable");
                hasher.update((bytes.len() as u32).to_be_bytes());
                hasher.update(&bytes);
            }
        }
        section(&mut hasher, b"accounts", self.accounts.values());
        section(&mut hasher, b"codes", self.codes.values());
        section(&mut hasher, b"contracts", self.contracts.values());
        section(&mut hasher, b"registrations", self.registrations.values());
        section(
            &mut hasher,
            b"attestation_policy",
            std::iter::once(&self.attestation_policy),
        );
        hasher.finalize().into()
    }

    /// Moves `amount` from one account to another; `Err` (and no change) when short.
    pub fn transfer(
        &mut self,
        dirty: &mut Dirty,
        from: &str,
        to: &str,
        amount: u128,
    ) -> Result<(), String> {
        if amount == 0 || from == to {
            return if self.balance(from) >= amount {
                Ok(())
            } else {
                Err(insufficient(from, self.balance(from), amount))
            };
        }
        let have = self.balance(from);
        if have < amount {
            return Err(insufficient(from, have, amount));
        }
        let receiver = self.account(to);
        let credited = receiver
            .balance
            .checked_add(amount)
            .ok_or_else(|| format!("balance of {to} would overflow"))?;
        self.accounts
            .entry(from.to_string())
            .or_insert_with(|| Account {
                address: from.to_string(),
                ..Account::default()
            })
            .balance = have - amount;
        self.accounts.insert(
            to.to_string(),
            Account {
                balance: credited,
                ..receiver
            },
        );
        dirty.accounts.insert(from.to_string());
        dirty.accounts.insert(to.to_string());
        Ok(())
    }
}

impl ChainState {
    /// Takes `amount` out of `from`'s balance and out of circulation.
    pub fn burn(&mut self, dirty: &mut Dirty, from: &str, amount: u128) -> Result<(), String> {
        let have = self.balance(from);
        if have < amount {
            return Err(insufficient(from, have, amount));
        }
        if let Some(account) = self.accounts.get_mut(from) {
            account.balance = have - amount;
            dirty.accounts.insert(from.to_string());
        }
        Ok(())
    }

    /// The native token in circulation: every balance (genesis mints, burns take out).
    pub fn supply(&self) -> u128 {
        self.accounts.values().fold(0u128, |total, account| {
            total.saturating_add(account.balance)
        })
    }
}

fn insufficient(address: &str, have: u128, need: u128) -> String {
    format!("insufficient funds: {address} has {have}uveil, needs {need}uveil")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_hash_covers_every_record_and_transfers_are_all_or_nothing() {
        let mut state = ChainState::default();
        let mut dirty = Dirty::default();
        state.accounts.insert(
            "a".into(),
            Account {
                address: "a".into(),
                balance: 10,
                ..Account::default()
            },
        );
        let before = state.app_hash();
        assert!(state.transfer(&mut dirty, "a", "b", 11).is_err());
        assert_eq!(state.app_hash(), before);
        assert!(dirty.accounts.is_empty());
        state.transfer(&mut dirty, "a", "b", 4).unwrap();
        assert_eq!(state.balance("a"), 6);
        assert_eq!(state.balance("b"), 4);
        assert_ne!(state.app_hash(), before);
        let mut other = state.clone();
        other.accounts.get_mut("b").unwrap().sequence = 1;
        assert_ne!(other.app_hash(), state.app_hash());

        // A contract's query policy is part of the state root.
        let contract = veil_types::ContractInfo {
            address: "c".into(),
            code_id: 1,
            code_hash: [1; 32],
            init_code_hash: [1; 32],
            creator: "a".into(),
            admin: Some("a".into()),
            label: "l".into(),
            state_root: None,
            query_policy: veil_types::QueryPolicy::preset("cw20").unwrap(),
        };
        state.contracts.insert("c".into(), contract);
        let mut opened = state.clone();
        opened.contracts.get_mut("c").unwrap().query_policy = veil_types::QueryPolicy::public();
        assert_ne!(opened.app_hash(), state.app_hash());

        // So are a revocation and the attestation policy in force.
        state.registrations.insert(
            [1; 32],
            Registration {
                registration_key: [1; 32],
                operator: "a".into(),
                height: 1,
                enclave: "e".into(),
                seed_share: vec![1],
                revocation: None,
            },
        );
        let mut revoked = state.clone();
        revoked.registrations.get_mut(&[1; 32]).unwrap().revocation =
            Some(veil_types::Revocation {
                height: 2,
                reason: "r".into(),
            });
        assert_ne!(revoked.app_hash(), state.app_hash());
        let mut governed = state.clone();
        governed.attestation_policy.height = 3;
        assert_ne!(governed.app_hash(), state.app_hash());
    }
}
