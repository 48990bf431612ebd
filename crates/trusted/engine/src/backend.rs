//! What the engine needs from its host: storage, an address API and a chain querier.
//!
//! Shaped like cosmwasm-vm's `Backend`: the engine knows nothing of chains, encryption or
//! disks. The enclave plugs in an encrypted, verified storage; `veil vm run` a plain map.

use std::collections::BTreeMap;
use std::ops::Bound;

use cosmwasm_std::{Binary, ContractResult, SystemResult};

/// Iteration order, with CosmWasm's wire values (`1` ascending, `2` descending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending = 1,
    Descending = 2,
}

impl TryFrom<i32> for Order {
    type Error = ();
    fn try_from(value: i32) -> Result<Self, ()> {
        match value {
            1 => Ok(Order::Ascending),
            2 => Ok(Order::Descending),
            _ => Err(()),
        }
    }
}

/// A key range as CosmWasm defines it: `start` inclusive, `end` exclusive, `None` unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Option<Vec<u8>>,
    pub end: Option<Vec<u8>>,
}

impl KeyRange {
    /// Where the next iteration step begins, in `order`'s direction: just past `after` (the
    /// last key returned), or at the range's own start (ascending: `start`, inclusive;
    /// descending: `end`, exclusive). Every `Storage` iterates from this bound.
    pub fn resume_bound<'a>(&'a self, order: Order, after: Option<&'a [u8]>) -> Bound<&'a [u8]> {
        match (after, order, self.start.as_deref(), self.end.as_deref()) {
            (Some(a), _, _, _) => Bound::Excluded(a),
            (None, Order::Ascending, Some(s), _) => Bound::Included(s),
            (None, Order::Descending, _, Some(e)) => Bound::Excluded(e),
            (None, _, _, _) => Bound::Unbounded,
        }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.start.as_deref().is_none_or(|s| key >= s)
            && self.end.as_deref().is_none_or(|e| key < e)
    }
}

/// A failure of the host side of a call. It aborts the call; the contract never sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The storage could not serve the request (I/O, unavailable host).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// What the storage returned failed verification (stale, swapped, forged or missing data).
    #[error("storage integrity violation: {0}")]
    Integrity(String),
    /// An address the API was asked to convert is not valid; reported back to the contract.
    #[error("{0}")]
    InvalidAddress(String),
}

pub type BackendResult<T> = Result<T, BackendError>;

/// Contract storage for one call. Writes go straight through; the caller decides whether
/// to keep them (it discards the storage when the call fails). `Any` lets the caller take
/// its concrete storage back out of a [`Backend`].
pub trait Storage: std::any::Any {
    fn get(&self, key: &[u8]) -> BackendResult<Option<Vec<u8>>>;
    fn set(&mut self, key: &[u8], value: &[u8]) -> BackendResult<()>;
    fn remove(&mut self, key: &[u8]) -> BackendResult<()>;
    /// The first entry of `range` in `order` that lies strictly beyond `after`
    /// (after = the last key returned; `None` starts at the range's beginning).
    ///
    /// Iterators are built on this seek so a backend keeps no iterator state and an
    /// authenticated tree can answer each step with one verified lookup.
    fn next_in_range(
        &self,
        range: &KeyRange,
        order: Order,
        after: Option<&[u8]>,
    ) -> BackendResult<Option<(Vec<u8>, Vec<u8>)>>;
}

/// Address conversions. Errors of kind `InvalidAddress` go back to the contract as
/// messages; any other error aborts the call.
pub trait Api {
    fn addr_validate(&self, human: &str) -> BackendResult<()>;
    fn addr_canonicalize(&self, human: &str) -> BackendResult<Vec<u8>>;
    fn addr_humanize(&self, canonical: &[u8]) -> BackendResult<String>;
}

/// Answers a contract's `query_chain`. `request` is the contract's `QueryRequest` JSON.
pub trait Querier {
    /// Returns the answer and the gas it used (at most `gas_limit`).
    fn query_raw(
        &self,
        request: &[u8],
        gas_limit: u64,
    ) -> (SystemResult<ContractResult<Binary>>, u64);
}

/// The host services of one call, owned by the call while it runs.
pub struct Backend {
    pub storage: Box<dyn Storage + Send>,
    pub api: Box<dyn Api + Send + Sync>,
    pub querier: Box<dyn Querier + Send + Sync>,
}

/// A plain in-memory storage: the reference implementation of [`Storage`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStorage {
    pub entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Storage for MemoryStorage {
    fn get(&self, key: &[u8]) -> BackendResult<Option<Vec<u8>>> {
        Ok(self.entries.get(key).cloned())
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> BackendResult<()> {
        self.entries.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> BackendResult<()> {
        self.entries.remove(key);
        Ok(())
    }

    fn next_in_range(
        &self,
        range: &KeyRange,
        order: Order,
        after: Option<&[u8]>,
    ) -> BackendResult<Option<(Vec<u8>, Vec<u8>)>> {
        let from = range.resume_bound(order, after);
        let found = match order {
            Order::Ascending => self
                .entries
                .range::<[u8], _>((from, Bound::Unbounded))
                .next(),
            Order::Descending => self
                .entries
                .range::<[u8], _>((Bound::Unbounded, from))
                .next_back(),
        };
        Ok(found
            .filter(|(k, _)| range.contains(k))
            .map(|(k, v)| (k.clone(), v.clone())))
    }
}

/// Bech32 addresses (`veil1…` by default), as Cosmos chains use them.
///
/// Canonical addresses are the raw payload (20 bytes for accounts, 32 for contracts);
/// humanize accepts 1 to 64 bytes, like cosmwasm-vm's mock API.
#[derive(Debug, Clone)]
pub struct Bech32Api {
    prefix: bech32::Hrp,
}

impl Bech32Api {
    pub fn new(prefix: &str) -> Result<Self, BackendError> {
        let prefix = bech32::Hrp::parse(prefix).map_err(|e| {
            BackendError::InvalidAddress(format!("invalid bech32 prefix {prefix:?}: {e}"))
        })?;
        Ok(Self { prefix })
    }

    pub fn prefix(&self) -> &str {
        self.prefix.as_str()
    }
}

impl Default for Bech32Api {
    fn default() -> Self {
        Self::new(crate::DEFAULT_ADDRESS_PREFIX).expect("default prefix is valid")
    }
}

impl Api for Bech32Api {
    fn addr_validate(&self, human: &str) -> BackendResult<()> {
        let canonical = self.addr_canonicalize(human)?;
        let normalized = self.addr_humanize(&canonical)?;
        if normalized != human {
            return Err(BackendError::InvalidAddress(format!(
                "Address is not normalized: expected {normalized}"
            )));
        }
        Ok(())
    }

    fn addr_canonicalize(&self, human: &str) -> BackendResult<Vec<u8>> {
        let (hrp, data) = bech32::decode(human)
            .map_err(|e| BackendError::InvalidAddress(format!("Error decoding bech32: {e}")))?;
        if hrp != self.prefix {
            return Err(BackendError::InvalidAddress(format!(
                "Wrong bech32 prefix: expected {}, got {}",
                self.prefix,
                hrp.as_str()
            )));
        }
        validate_canonical_length(&data)?;
        Ok(data)
    }

    fn addr_humanize(&self, canonical: &[u8]) -> BackendResult<String> {
        validate_canonical_length(canonical)?;
        bech32::encode::<bech32::Bech32>(self.prefix, canonical)
            .map_err(|e| BackendError::InvalidAddress(format!("Error encoding bech32: {e}")))
    }
}

fn validate_canonical_length(canonical: &[u8]) -> BackendResult<()> {
    if canonical.is_empty() || canonical.len() > 64 {
        return Err(BackendError::InvalidAddress(format!(
            "Invalid canonical address length: {} (must be 1 to 64 bytes)",
            canonical.len()
        )));
    }
    Ok(())
}

/// A querier for a chain with bank balances and nothing else: every other request is
/// answered `UnsupportedRequest`, as a chain without that module would.
#[derive(Debug, Clone, Default)]
pub struct BankQuerier {
    /// address -> (denom -> amount)
    pub balances: BTreeMap<String, BTreeMap<String, u128>>,
}

impl Querier for BankQuerier {
    fn query_raw(
        &self,
        request: &[u8],
        _gas_limit: u64,
    ) -> (SystemResult<ContractResult<Binary>>, u64) {
        use cosmwasm_std::{BalanceResponse, BankQuery, Coin, QueryRequest, SystemError};
        let request: QueryRequest = match serde_json::from_slice(request) {
            Ok(r) => r,
            Err(e) => {
                return (
                    SystemResult::Err(SystemError::InvalidRequest {
                        error: format!("Parsing query request: {e}"),
                        request: Binary::from(request),
                    }),
                    0,
                )
            }
        };
        let coins_of = |address: &str| -> Vec<Coin> {
            self.balances
                .get(address)
                .map(|m| m.iter().map(|(d, a)| Coin::new(*a, d.clone())).collect())
                .unwrap_or_default()
        };
        let answer = match &request {
            QueryRequest::Bank(BankQuery::Balance { address, denom }) => {
                let amount = coins_of(address)
                    .into_iter()
                    .find(|c| &c.denom == denom)
                    .unwrap_or_else(|| Coin::new(0u128, denom.clone()));
                serde_json::to_vec(&BalanceResponse::new(amount))
            }
            _ => {
                return (
                    SystemResult::Err(SystemError::UnsupportedRequest {
                        kind: query_kind(&request).to_string(),
                    }),
                    0,
                )
            }
        };
        match answer {
            Ok(bytes) => (SystemResult::Ok(ContractResult::Ok(Binary::from(bytes))), 0),
            Err(e) => (SystemResult::Ok(ContractResult::Err(e.to_string())), 0),
        }
    }
}

fn query_kind(request: &cosmwasm_std::QueryRequest) -> &'static str {
    use cosmwasm_std::QueryRequest;
    match request {
        QueryRequest::Bank(_) => "bank",
        QueryRequest::Custom(_) => "custom",
        QueryRequest::Wasm(_) => "wasm",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage_with(keys: &[&str]) -> MemoryStorage {
        let mut s = MemoryStorage::new();
        for k in keys {
            s.set(k.as_bytes(), b"v").unwrap();
        }
        s
    }

    fn collect(
        s: &MemoryStorage,
        start: Option<&str>,
        end: Option<&str>,
        order: Order,
    ) -> Vec<String> {
        let range = KeyRange {
            start: start.map(|x| x.as_bytes().to_vec()),
            end: end.map(|x| x.as_bytes().to_vec()),
        };
        let mut out = vec![];
        let mut after: Option<Vec<u8>> = None;
        while let Some((k, _)) = s.next_in_range(&range, order, after.as_deref()).unwrap() {
            out.push(String::from_utf8(k.clone()).unwrap());
            after = Some(k);
        }
        out
    }

    #[test]
    fn ranges_follow_cosmwasm_bounds() {
        let s = storage_with(&["a", "b", "c", "d"]);
        assert_eq!(
            collect(&s, None, None, Order::Ascending),
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            collect(&s, None, None, Order::Descending),
            ["d", "c", "b", "a"]
        );
        assert_eq!(
            collect(&s, Some("b"), Some("d"), Order::Ascending),
            ["b", "c"]
        );
        assert_eq!(
            collect(&s, Some("b"), Some("d"), Order::Descending),
            ["c", "b"]
        );
        assert_eq!(collect(&s, Some("bb"), None, Order::Descending), ["d", "c"]);
        assert_eq!(
            collect(&s, Some("c"), Some("c"), Order::Ascending),
            Vec::<String>::new()
        );
        assert_eq!(
            collect(&s, Some("d"), Some("a"), Order::Descending),
            Vec::<String>::new()
        );
    }

    #[test]
    fn bech32_round_trip_and_errors() {
        let api = Bech32Api::default();
        for len in [20usize, 32] {
            let human = api.addr_humanize(&vec![7u8; len]).unwrap();
            assert!(human.starts_with("veil1"));
            assert_eq!(api.addr_canonicalize(&human).unwrap(), vec![7u8; len]);
            api.addr_validate(&human).unwrap();
        }
        let other = Bech32Api::new("cosmos").unwrap();
        let foreign = other.addr_humanize(&[1u8; 20]).unwrap();
        let err = api.addr_validate(&foreign).unwrap_err();
        assert!(err.to_string().contains("Wrong bech32 prefix"), "{err}");
        assert!(api.addr_validate(&foreign.to_uppercase()).is_err());
        assert!(api.addr_validate("not an address").is_err());
    }
}
