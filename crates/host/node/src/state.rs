//! The chain's public state — accounts, codes, contracts, registrations, the attestation
//! policy — read from the store through a bounded cache, with the changes of the block
//! being executed held apart until it commits. Its root is the root of an authenticated
//! tree over every record ([`tree`]), updated per block in O(changes × depth): the cost of
//! a block and the memory of the node follow what the block changes and the cache, not
//! what the chain holds.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use veil_types::{Account, AttestationPolicyRecord, CodeInfo, ContractInfo, Hash, Registration};

use crate::store::{Store, StoreError};

pub mod tree;
pub use tree::Proof;

/// Most records of each kind the cache keeps (committed ones; a block's changes are kept
/// apart, whatever their number).
pub const CACHED_ACCOUNTS: usize = 100_000;
pub const CACHED_CONTRACTS: usize = 10_000;
pub const CACHED_CODES: usize = 1_000;
pub const CACHED_REGISTRATIONS: usize = 1_000;

pub use veil_types::state_proof::leaf_key;

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("serializable")
}

/// One kind of record: the block's changes, then a bounded cache of committed records,
/// then the store.
struct Records<K, V> {
    pending: BTreeMap<K, V>,
    cache: Mutex<LruCache<K, Option<V>>>,
    load: fn(&Store, &K) -> Result<Option<V>, StoreError>,
}

impl<K: Ord + std::hash::Hash + Clone, V: Clone + PartialEq> Records<K, V> {
    fn new(capacity: usize, load: fn(&Store, &K) -> Result<Option<V>, StoreError>) -> Self {
        Self {
            pending: BTreeMap::new(),
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).expect("a cache holds something"),
            )),
            load,
        }
    }

    fn get(&self, store: &Store, key: &K) -> Result<Option<V>, StoreError> {
        match self.pending.get(key) {
            Some(value) => Ok(Some(value.clone())),
            None => self.committed(store, key),
        }
    }

    fn committed(&self, store: &Store, key: &K) -> Result<Option<V>, StoreError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(value) = cache.get(key) {
            return Ok(value.clone());
        }
        let value = (self.load)(store, key)?;
        cache.put(key.clone(), value.clone());
        Ok(value)
    }

    /// The block's records that differ from the committed ones (`blank`: a record that is
    /// the same as none).
    fn changes(&self, store: &Store, blank: impl Fn(&V) -> bool) -> Result<Vec<V>, StoreError> {
        let mut changed = Vec::new();
        for (key, value) in &self.pending {
            let committed = self.committed(store, key)?;
            let same = match &committed {
                Some(old) => old == value,
                None => blank(value),
            };
            if !same {
                changed.push(value.clone());
            }
        }
        Ok(changed)
    }

    /// The block committed: its records are the committed ones now.
    fn committed_all(&mut self) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        for (key, value) in std::mem::take(&mut self.pending) {
            cache.put(key, Some(value));
        }
    }
}

/// What a block changed in public state, ready for the store's one write transaction.
#[derive(Debug, Default)]
pub struct StateChanges {
    /// The state root after the block.
    pub root: Hash,
    pub accounts: Vec<Account>,
    pub codes: Vec<CodeInfo>,
    pub contracts: Vec<ContractInfo>,
    pub registrations: Vec<Registration>,
    pub attestation_policy: Option<AttestationPolicyRecord>,
    /// The state tree's node writes (`None`: delete the node).
    pub tree: tree::NodeWrites,
    /// The native token in circulation after the block.
    pub supply: u128,
}

pub struct ChainState {
    store: Store,
    accounts: Records<String, Account>,
    codes: Records<u64, CodeInfo>,
    contracts: Records<String, ContractInfo>,
    registrations: Records<Hash, Registration>,
    /// The stored record (none before genesis).
    committed_policy: Option<AttestationPolicyRecord>,
    pending_policy: Option<AttestationPolicyRecord>,
    committed_supply: u128,
    supply: u128,
    /// The highest committed code id (0: none).
    last_code_id: u64,
    /// The first store read that failed since the last [`ChainState::check_reads`]. A
    /// getter cannot fail without changing every caller; it answers as if the record
    /// were absent and the block that read it is refused when it ends.
    read_error: Mutex<Option<StoreError>>,
}

impl ChainState {
    /// The committed state in `store` (nothing is read but a few counters).
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(Self {
            store: store.clone(),
            accounts: Records::new(CACHED_ACCOUNTS, |s, k| s.account(k)),
            codes: Records::new(CACHED_CODES, |s, k| s.code(*k)),
            contracts: Records::new(CACHED_CONTRACTS, |s, k| s.contract(k)),
            registrations: Records::new(CACHED_REGISTRATIONS, |s, k| s.registration(k)),
            committed_policy: store.attestation_policy()?,
            pending_policy: None,
            committed_supply: store.supply()?,
            supply: store.supply()?,
            last_code_id: store.last_code_id()?,
            read_error: Mutex::new(None),
        })
    }

    fn read<T>(&self, result: Result<Option<T>, StoreError>) -> Option<T> {
        result.unwrap_or_else(|e| {
            self.note_read_error(e);
            None
        })
    }

    fn note_read_error(&self, e: StoreError) {
        let mut slot = self.read_error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    }

    /// `Err` when a read of the store failed since the last check (answers given since
    /// then may be wrong: the block must not be committed).
    pub fn check_reads(&self) -> Result<(), StoreError> {
        match self
            .read_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub fn account(&self, address: &str) -> Account {
        self.read(self.accounts.get(&self.store, &address.to_string()))
            .unwrap_or_else(|| Account {
                address: address.to_string(),
                ..Account::default()
            })
    }

    pub fn balance(&self, address: &str) -> u128 {
        self.account(address).balance
    }

    /// Replaces an account's record (the supply follows its balance).
    pub fn set_account(&mut self, account: Account) {
        let old = self.balance(&account.address);
        self.supply = self
            .supply
            .saturating_sub(old)
            .saturating_add(account.balance);
        self.accounts
            .pending
            .insert(account.address.clone(), account);
    }

    pub fn code(&self, code_id: u64) -> Option<CodeInfo> {
        self.read(self.codes.get(&self.store, &code_id))
    }

    pub fn put_code(&mut self, code: CodeInfo) {
        self.codes.pending.insert(code.code_id, code);
    }

    pub fn next_code_id(&self) -> u64 {
        let pending = self.codes.pending.keys().next_back().copied().unwrap_or(0);
        self.last_code_id.max(pending) + 1
    }

    /// Whether some code (committed or of this block) has this hash.
    pub fn has_code_hash(&self, code_hash: &Hash) -> bool {
        self.codes
            .pending
            .values()
            .any(|code| code.code_hash == *code_hash)
            || self.store.has_wasm(code_hash).unwrap_or_else(|e| {
                self.note_read_error(e);
                false
            })
    }

    pub fn contract(&self, address: &str) -> Option<ContractInfo> {
        self.read(self.contracts.get(&self.store, &address.to_string()))
    }

    pub fn put_contract(&mut self, info: ContractInfo) {
        self.contracts.pending.insert(info.address.clone(), info);
    }

    pub fn registration(&self, registration_key: &Hash) -> Option<Registration> {
        self.read(self.registrations.get(&self.store, registration_key))
    }

    pub fn put_registration(&mut self, registration: Registration) {
        self.registrations
            .pending
            .insert(registration.registration_key, registration);
    }

    /// The attestation policy in force.
    pub fn attestation_policy(&self) -> AttestationPolicyRecord {
        self.pending_policy
            .as_ref()
            .or(self.committed_policy.as_ref())
            .cloned()
            .unwrap_or(AttestationPolicyRecord {
                policy: None,
                height: 0,
                set_by: None,
            })
    }

    pub fn set_attestation_policy(&mut self, record: AttestationPolicyRecord) {
        self.pending_policy = Some(record);
    }

    /// The native token in circulation: every balance (genesis mints, burns take out),
    /// kept as a counter.
    pub fn supply(&self) -> u128 {
        self.supply
    }

    /// Moves `amount` from one account to another; `Err` (and no change) when short.
    pub fn transfer(&mut self, from: &str, to: &str, amount: u128) -> Result<(), String> {
        let sender = self.account(from);
        if sender.balance < amount {
            return Err(insufficient(from, sender.balance, amount));
        }
        if amount == 0 || from == to {
            return Ok(());
        }
        let receiver = self.account(to);
        let credited = receiver
            .balance
            .checked_add(amount)
            .ok_or_else(|| format!("balance of {to} would overflow"))?;
        self.set_account(Account {
            balance: sender.balance - amount,
            ..sender
        });
        self.set_account(Account {
            balance: credited,
            ..receiver
        });
        Ok(())
    }

    /// Takes `amount` out of `from`'s balance and out of circulation.
    pub fn burn(&mut self, from: &str, amount: u128) -> Result<(), String> {
        let account = self.account(from);
        if account.balance < amount {
            return Err(insufficient(from, account.balance, amount));
        }
        if amount > 0 {
            self.set_account(Account {
                balance: account.balance - amount,
                ..account
            });
        }
        Ok(())
    }

    /// Forgets the changes not committed (a simulation's).
    pub fn discard_pending(&mut self) {
        self.accounts.pending.clear();
        self.codes.pending.clear();
        self.contracts.pending.clear();
        self.registrations.pending.clear();
        self.pending_policy = None;
        self.supply = self.committed_supply;
    }

    /// The state root with the block's changes (computed, nothing written).
    pub fn app_hash(&self) -> Result<Hash, StoreError> {
        self.prepare_commit().map(|changes| changes.root)
    }

    /// The block's net changes and the state root after them, for [`Store::commit_block`]
    /// (then [`ChainState::committed`]). Reads O(changes × depth) tree nodes.
    pub fn prepare_commit(&self) -> Result<StateChanges, StoreError> {
        self.check_reads()?;
        let store = &self.store;
        let accounts = self.accounts.changes(store, |account| {
            *account
                == Account {
                    address: account.address.clone(),
                    ..Account::default()
                }
        })?;
        let codes = self.codes.changes(store, |_| false)?;
        let contracts = self.contracts.changes(store, |_| false)?;
        let registrations = self.registrations.changes(store, |_| false)?;
        let attestation_policy = self
            .pending_policy
            .clone()
            .filter(|record| Some(record) != self.committed_policy.as_ref());
        let mut leaves = BTreeMap::new();
        let mut leaf = |key: Vec<u8>, value: Vec<u8>| {
            leaves.insert(tree::key_hash(&key), Some(tree::value_hash(&value)));
        };
        for account in &accounts {
            leaf(leaf_key::account(&account.address), encode(account));
        }
        for code in &codes {
            leaf(leaf_key::code(code.code_id), encode(code));
        }
        for contract in &contracts {
            leaf(leaf_key::contract(&contract.address), encode(contract));
        }
        for registration in &registrations {
            leaf(
                leaf_key::registration(&registration.registration_key),
                encode(registration),
            );
        }
        if let Some(record) = &attestation_policy {
            leaf(leaf_key::attestation_policy(), encode(record));
        }
        let reader = store.tree()?;
        let (root, tree) = tree::update(&reader, &leaves).map_err(|e| StoreError(e.to_string()))?;
        Ok(StateChanges {
            root,
            accounts,
            codes,
            contracts,
            registrations,
            attestation_policy,
            tree,
            supply: self.supply,
        })
    }

    /// The block's changes were written to the store: they are the committed state now.
    pub fn committed(&mut self) {
        self.last_code_id = self.next_code_id() - 1;
        self.accounts.committed_all();
        self.codes.committed_all();
        self.contracts.committed_all();
        self.registrations.committed_all();
        if let Some(record) = self.pending_policy.take() {
            self.committed_policy = Some(record);
        }
        self.committed_supply = self.supply;
    }
}

fn insufficient(address: &str, have: u128, need: u128) -> String {
    format!("insufficient funds: {address} has {have}uveil, needs {need}uveil")
}

#[cfg(test)]
mod tests;
