//! The cosmwasm-vm side of the conformance runs (shared by tests and benches via
//! `#[path]`, since cosmwasm-vm is only a dev-dependency).
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

use cosmwasm_vm::testing::{MockApi, MockQuerier, MockStorage};
use cosmwasm_vm::{
    call_execute_raw, call_instantiate_raw, call_query_raw, Backend, BackendApi, BackendResult,
    Cache, CacheOptions, GasInfo, GasReport, InstanceOptions, Size, Storage,
};
use veil_conformance::{env, info, OpLog, Outcome, StepResult, StorageOp, GAS_LIMIT, PREFIX};
use veil_engine::cosmwasm_std::{Checksum, Order, Record};
use veil_engine::gas::GasCosts;
use veil_engine::Entry;

/// Instance memory limit, as Veil's default `EngineConfig`.
pub const MEMORY_LIMIT: Size = Size::mebi(32);

/// The capabilities Veil offers, for cosmwasm-vm's cache.
pub fn capabilities() -> std::collections::HashSet<String> {
    veil_engine::DEFAULT_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// A cosmwasm-vm `Cache` in `dir` with `wasm` stored and pinned (the warm path wasmd uses
/// for hot contracts: instances come from an in-memory module, nothing is compiled per call).
pub fn pinned_cache<A, S, Q>(dir: &Path, wasm: &[u8]) -> (Cache<A, S, Q>, Checksum)
where
    A: BackendApi + 'static,
    S: cosmwasm_vm::Storage + 'static,
    Q: cosmwasm_vm::Querier + 'static,
{
    let options = CacheOptions::new(dir, capabilities(), Size::mebi(200), MEMORY_LIMIT);
    // SAFETY: a fresh, private directory; nothing else writes to it.
    let cache = unsafe { Cache::new(options) }.expect("cosmwasm-vm cache");
    let checksum = cache
        .store_code(wasm, true, true)
        .expect("cosmwasm-vm store_code");
    cache.pin(&checksum).expect("pin");
    (cache, checksum)
}

/// `MockApi` (`veil` prefix) charging Veil's prices for address operations, so both VMs
/// pay the same for host services and gas differences come from Wasm execution.
#[derive(Clone)]
pub struct PricedApi {
    inner: MockApi,
    costs: GasCosts,
}

impl Default for PricedApi {
    fn default() -> Self {
        Self {
            inner: MockApi::default().with_prefix(PREFIX),
            costs: GasCosts::default(),
        }
    }
}

impl BackendApi for PricedApi {
    fn addr_validate(&self, input: &str) -> BackendResult<()> {
        (
            self.inner.addr_validate(input).0,
            GasInfo::with_cost(self.costs.addr_validate),
        )
    }
    fn addr_canonicalize(&self, human: &str) -> BackendResult<Vec<u8>> {
        (
            self.inner.addr_canonicalize(human).0,
            GasInfo::with_cost(self.costs.addr_canonicalize),
        )
    }
    fn addr_humanize(&self, canonical: &[u8]) -> BackendResult<String> {
        (
            self.inner.addr_humanize(canonical).0,
            GasInfo::with_cost(self.costs.addr_humanize),
        )
    }
}

/// An open iterator: (start, end, descending).
type OpenRange = (Option<Vec<u8>>, Option<Vec<u8>>, bool);

/// `MockStorage` that logs every access and charges Veil's storage prices as externally
/// used gas (as wasmd's Go-side KV gas meter would).
pub struct PricedStorage {
    pub inner: MockStorage,
    pub log: OpLog,
    costs: GasCosts,
    ranges: HashMap<u32, OpenRange>,
}

impl PricedStorage {
    pub fn new(log: OpLog) -> Self {
        Self {
            inner: MockStorage::new(),
            log,
            costs: GasCosts::default(),
            ranges: HashMap::new(),
        }
    }

    fn record(&self, op: StorageOp) -> GasInfo {
        let gas = veil_conformance::storage_gas(&self.costs, &op);
        self.log.lock().unwrap().push(op);
        GasInfo::with_externally_used(gas)
    }

    /// Every key/value pair, ascending (read straight from the `MockStorage`, unlogged).
    pub fn dump(&mut self) -> Vec<Record> {
        dump_mock_storage(&mut self.inner)
    }

    /// Replaces the contents with `records` (rolls back a failed call).
    pub fn restore(&mut self, records: &[Record]) {
        let mut fresh = MockStorage::new();
        for (k, v) in records {
            fresh.set(k, v).0.expect("MockStorage set");
        }
        self.inner = fresh;
        self.ranges.clear();
    }
}

/// All pairs of a `MockStorage`, ascending.
pub fn dump_mock_storage(storage: &mut MockStorage) -> Vec<Record> {
    let id = storage
        .scan(None, None, Order::Ascending)
        .0
        .expect("MockStorage scan");
    storage.all(id).0.expect("MockStorage all")
}

impl Storage for PricedStorage {
    fn get(&self, key: &[u8]) -> BackendResult<Option<Vec<u8>>> {
        let (value, _) = self.inner.get(key);
        let value = value.expect("MockStorage get");
        let gas = self.record(StorageOp::Get {
            key: key.to_vec(),
            value: value.clone(),
        });
        (Ok(value), gas)
    }

    fn scan(
        &mut self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        order: Order,
    ) -> BackendResult<u32> {
        let (id, _) = self.inner.scan(start, end, order);
        let id = id.expect("MockStorage scan");
        let ascending = order == Order::Ascending;
        self.ranges.insert(
            id,
            (
                start.map(<[u8]>::to_vec),
                end.map(<[u8]>::to_vec),
                ascending,
            ),
        );
        let gas = self.record(StorageOp::Scan {
            start: start.map(<[u8]>::to_vec),
            end: end.map(<[u8]>::to_vec),
            ascending,
        });
        (Ok(id), gas)
    }

    fn next(&mut self, iterator_id: u32) -> BackendResult<Option<Record>> {
        let (item, gas) = self.inner.next(iterator_id);
        let item = match item {
            Ok(item) => item,
            Err(e) => return (Err(e), gas),
        };
        let (start, end, ascending) = self.ranges[&iterator_id].clone();
        let gas = self.record(StorageOp::Next {
            start,
            end,
            ascending,
            item: item.clone(),
        });
        (Ok(item), gas)
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> BackendResult<()> {
        let (result, _) = self.inner.set(key, value);
        let gas = self.record(StorageOp::Set {
            key: key.to_vec(),
            value: value.to_vec(),
        });
        (result, gas)
    }

    fn remove(&mut self, key: &[u8]) -> BackendResult<()> {
        let (result, _) = self.inner.remove(key);
        let gas = self.record(StorageOp::Remove { key: key.to_vec() });
        (result, gas)
    }
}

pub type VmBackend = Backend<PricedApi, PricedStorage, MockQuerier>;

/// One contract on cosmwasm-vm: a fresh instance per call from the pinned module, the
/// backend (storage) carried across calls and rolled back when a call fails.
pub struct VmRunner {
    _dir: tempfile::TempDir,
    cache: Cache<PricedApi, PricedStorage, MockQuerier>,
    checksum: Checksum,
    backend: Option<VmBackend>,
    log: OpLog,
    contract_addr: String,
}

impl VmRunner {
    pub fn new(wasm: &[u8], contract_addr: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cache, checksum) = pinned_cache(dir.path(), wasm);
        let log = OpLog::default();
        let backend = Backend {
            api: PricedApi::default(),
            storage: PricedStorage::new(log.clone()),
            querier: MockQuerier::new(&[]),
        };
        Self {
            _dir: dir,
            cache,
            checksum,
            backend: Some(backend),
            log,
            contract_addr: contract_addr.to_string(),
        }
    }

    /// Calls `entry`; also returns cosmwasm-vm's gas report.
    pub fn call(
        &mut self,
        entry: Entry,
        sender: Option<&str>,
        msg: &[u8],
    ) -> (StepResult, GasReport) {
        let mut backend = self.backend.take().expect("backend");
        let before = backend.storage.dump();
        let mut instance = self
            .cache
            .get_instance(
                &self.checksum,
                backend,
                InstanceOptions {
                    gas_limit: GAS_LIMIT,
                },
            )
            .expect("get_instance");
        let env = serde_json::to_vec(&env(&self.contract_addr)).unwrap();
        let info = sender.map(|s| serde_json::to_vec(&info(s)).unwrap());
        let raw = match entry {
            Entry::Instantiate => {
                call_instantiate_raw(&mut instance, &env, info.as_ref().expect("sender"), msg)
            }
            Entry::Execute => {
                call_execute_raw(&mut instance, &env, info.as_ref().expect("sender"), msg)
            }
            Entry::Query => call_query_raw(&mut instance, &env, msg),
            other => panic!("entry {other:?} not supported here"),
        };
        let report = instance.create_gas_report();
        backend = instance.recycle().expect("backend back");
        let outcome = match raw {
            Ok(bytes) => Outcome::from_raw(entry, &bytes),
            Err(e) => Outcome::VmError(e.to_string()),
        };
        if !outcome.is_ok() {
            backend.storage.restore(&before);
        }
        self.backend = Some(backend);
        let ops = std::mem::take(&mut *self.log.lock().unwrap());
        let result = StepResult {
            outcome,
            gas_used: report.limit - report.remaining,
            ops,
        };
        (result, report)
    }

    /// Every key/value pair in the contract's storage, ascending.
    pub fn storage_dump(&mut self) -> Vec<Record> {
        self.backend.as_mut().expect("backend").storage.dump()
    }
}
