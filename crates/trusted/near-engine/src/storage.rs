//! Contract state as the engine sees it: a key-value map behind [`NearStorage`], which
//! the caller implements (the enclave with encrypted, verified storage; `veil vm run`
//! with a plain map). The engine never writes through during a call: writes collect in an
//! overlay and reach the storage only when the call succeeds.

use std::collections::BTreeMap;

/// A failure of the storage itself (not of the contract): I/O, a failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

/// One contract's state. `Any` lets the engine hand the caller's own type back.
pub trait NearStorage: std::any::Any {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), StorageError>;
    fn remove(&mut self, key: &[u8]) -> Result<(), StorageError>;
}

/// A plain in-memory state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStorage {
    pub entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// The storage usage NEAR counts for these records: key + value + `extra_per_record`
    /// bytes each (`Limits::num_extra_bytes_record`). An account's usage also counts its
    /// code and account record, which the caller adds if it wants them.
    pub fn records_usage(&self, extra_per_record: u64) -> u64 {
        self.entries
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64 + extra_per_record)
            .sum()
    }
}

impl NearStorage for MemoryStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.entries.get(key).cloned())
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.entries.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), StorageError> {
        self.entries.remove(key);
        Ok(())
    }
}

/// Key → new value (`None`: removed).
pub(crate) type Changes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The state during a call: the caller's storage under this call's writes.
pub(crate) struct Overlay {
    base: Box<dyn NearStorage>,
    /// Every key this call wrote.
    changes: Changes,
}

impl Overlay {
    pub fn new(base: Box<dyn NearStorage>) -> Self {
        Self {
            base,
            changes: BTreeMap::new(),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.changes.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.base.get(key),
        }
    }

    /// Writes `value`, returning the value it replaces.
    pub fn set(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let old = self.get(key)?;
        self.changes.insert(key.to_vec(), Some(value.to_vec()));
        Ok(old)
    }

    /// Removes `key`, returning the value it had.
    pub fn remove(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let old = self.get(key)?;
        if old.is_some() {
            self.changes.insert(key.to_vec(), None);
        }
        Ok(old)
    }

    /// The storage and this call's writes (not yet applied to it).
    pub fn into_parts(self) -> (Box<dyn NearStorage>, Changes) {
        (self.base, self.changes)
    }
}
