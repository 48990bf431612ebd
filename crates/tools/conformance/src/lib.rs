//! Conformance tooling: runs published CosmWasm contracts on Veil's engine so tests and
//! benchmarks can compare it with cosmwasm-vm (and with the contract's native Rust code).
//!
//! This crate is test-only (`publish = false`). cosmwasm-vm, criterion and the native
//! contract crates are dev-dependencies of the tests and benches; what lives here only
//! needs Veil's own crates:
//!
//! - [`cw20_base_wasm`]: cw20-base 2.0.0 from crates.io, built (MVP) with
//!   `veil-contract-build`, so the same bytes load in Veil and in cosmwasm-vm.
//! - [`account`] / [`contract`]: deterministic `veil1…` addresses.
//! - [`VeilRunner`]: one contract on a Veil [`Engine`], its storage carried between calls
//!   and every storage access logged ([`StorageOp`]), so a test can check that Veil and
//!   cosmwasm-vm touch storage identically.
//! - [`initial_memory_bytes`]: the linear memory a contract instance starts with.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};
use veil_engine::cosmwasm_std::{Binary, ContractResult, Env, MessageInfo, Response};
use veil_engine::gas::GasCosts;
use veil_engine::{
    Backend, BackendError, BankQuerier, Bech32Api, BlockContext, Call, CallError, Checksum, Engine,
    EngineConfig, Entry, KeyRange, MemoryStorage, Order, Output, Storage,
};

/// Bech32 prefix used for every address in the conformance runs.
pub const PREFIX: &str = veil_engine::DEFAULT_ADDRESS_PREFIX;

/// Gas limit for every call in the conformance runs (0.5 s of CosmWasm gas).
pub const GAS_LIMIT: u64 = 500_000_000_000;

/// cw20-base version under test.
pub const CW20_BASE_VERSION: &str = "2.0.0";

/// Where the cw20-base wasm comes from: `$VEIL_CW20_BASE_WASM` if set (a prebuilt file),
/// else built from the unchanged crates.io source with `veil-contract-build` (MVP, so
/// cosmwasm-vm accepts it too). Built once per process; cached across processes by
/// `veil-contract-build`.
pub fn cw20_base_wasm_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(p) = std::env::var_os("VEIL_CW20_BASE_WASM") {
            if !p.is_empty() {
                return PathBuf::from(p);
            }
        }
        use veil_contract_build as build;
        let options = build::BuildOptions {
            mvp: true,
            out_dir: None,
            quiet: true,
            near: false,
        };
        build::build_published("cw20-base", CW20_BASE_VERSION, &options).expect("build cw20-base")
    })
    .clone()
}

/// The cw20-base wasm bytes (see [`cw20_base_wasm_path`]).
pub fn cw20_base_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let path = cw20_base_wasm_path();
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    })
}

fn bech32(payload: &[u8]) -> String {
    let hrp = bech32::Hrp::parse(PREFIX).expect("valid prefix");
    bech32::encode::<bech32::Bech32>(hrp, payload).expect("encodable")
}

/// A 20-byte account address derived from `label` (`veil1…`).
pub fn account(label: &str) -> String {
    bech32(&Sha256::digest(format!("account/{label}"))[..20])
}

/// A 32-byte contract address derived from `label` (`veil1…`).
pub fn contract(label: &str) -> String {
    bech32(&Sha256::digest(format!("contract/{label}")))
}

/// The block every conformance call runs in.
pub fn block() -> BlockContext {
    BlockContext {
        height: 12_345,
        time_nanos: 1_700_000_000_000_000_000,
        chain_id: "veil-conformance-1".to_string(),
        tx_index: Some(0),
    }
}

/// The `Env` of a call to `contract_addr` in [`block`].
pub fn env(contract_addr: &str) -> Env {
    veil_engine::build_env(&block(), contract_addr)
}

/// A `MessageInfo` without funds.
pub fn info(sender: &str) -> MessageInfo {
    MessageInfo {
        sender: veil_engine::cosmwasm_std::Addr::unchecked(sender),
        funds: vec![],
    }
}

/// Initial linear memory of a module, in bytes (memory section: initial pages × 64 KiB).
/// `None` if the module defines no memory (it may import one).
pub fn initial_memory_bytes(wasm: &[u8]) -> Option<u64> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::MemorySection(reader)) = payload {
            let mut total = 0u64;
            let mut any = false;
            for memory in reader {
                let memory = memory.ok()?;
                let page = memory
                    .page_size_log2
                    .map(|log2| 1u64 << log2)
                    .unwrap_or(65_536);
                total += memory.initial * page;
                any = true;
            }
            return any.then_some(total);
        }
    }
    None
}

/// One storage access, as the storage backend sees it. Both Veil's and cosmwasm-vm's
/// backends are wrapped to log these, so the two runs can be compared access by access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageOp {
    /// A read and what it found.
    Get {
        key: Vec<u8>,
        value: Option<Vec<u8>>,
    },
    Set {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Remove {
        key: Vec<u8>,
    },
    /// An iterator opened (`db_scan`). Veil opens iterators without touching storage, so
    /// only the cosmwasm-vm side logs these; [`comparable`] drops them.
    Scan {
        start: Option<Vec<u8>>,
        end: Option<Vec<u8>>,
        ascending: bool,
    },
    /// One iterator step on the range `[start, end)` and what it returned.
    Next {
        start: Option<Vec<u8>>,
        end: Option<Vec<u8>>,
        ascending: bool,
        item: Option<(Vec<u8>, Vec<u8>)>,
    },
}

/// The ops both backends log (everything but [`StorageOp::Scan`]).
pub fn comparable(ops: &[StorageOp]) -> Vec<StorageOp> {
    ops.iter()
        .filter(|op| !matches!(op, StorageOp::Scan { .. }))
        .cloned()
        .collect()
}

/// The gas Veil's price table charges for these storage accesses: Cosmos SDK KV gas ×
/// wasmd's multiplier, i.e. what wasmd's Go-side gas meter charges a cosmwasm-vm contract.
pub fn storage_gas(costs: &GasCosts, op: &StorageOp) -> u64 {
    match op {
        StorageOp::Get { key, value } => costs
            .storage_read
            .total((key.len() + value.as_ref().map_or(0, Vec::len)) as u64),
        StorageOp::Set { key, value } => {
            costs.storage_write.total((key.len() + value.len()) as u64)
        }
        StorageOp::Remove { .. } => costs.storage_remove,
        StorageOp::Scan { .. } => costs.storage_scan,
        StorageOp::Next { item, .. } => costs
            .storage_next
            .total(item.as_ref().map_or(0, |(k, v)| (k.len() + v.len()) as u64)),
    }
}

/// A shared, appendable log of storage ops.
pub type OpLog = Arc<Mutex<Vec<StorageOp>>>;

/// Veil [`Storage`] that logs every access and delegates to a [`MemoryStorage`].
pub struct LoggedStorage {
    pub inner: MemoryStorage,
    pub log: OpLog,
}

impl Storage for LoggedStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        let value = self.inner.get(key)?;
        self.log.lock().unwrap().push(StorageOp::Get {
            key: key.to_vec(),
            value: value.clone(),
        });
        Ok(value)
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), BackendError> {
        self.log.lock().unwrap().push(StorageOp::Set {
            key: key.to_vec(),
            value: value.to_vec(),
        });
        self.inner.set(key, value)
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), BackendError> {
        self.log
            .lock()
            .unwrap()
            .push(StorageOp::Remove { key: key.to_vec() });
        self.inner.remove(key)
    }

    fn next_in_range(
        &self,
        range: &KeyRange,
        order: Order,
        after: Option<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, BackendError> {
        let item = self.inner.next_in_range(range, order, after)?;
        self.log.lock().unwrap().push(StorageOp::Next {
            start: range.start.clone(),
            end: range.end.clone(),
            ascending: order == Order::Ascending,
            item: item.clone(),
        });
        Ok(item)
    }
}

/// What a call produced, in a form both VMs can be compared in.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Response),
    Query(Binary),
    /// The contract's own error message.
    ContractError(String),
    /// A VM-level failure (out of gas, trap, …); the message is VM-specific.
    VmError(String),
}

impl Outcome {
    /// Parses a contract's raw result JSON (as cosmwasm-vm's `call_*_raw` return it).
    pub fn from_raw(entry: Entry, raw: &[u8]) -> Outcome {
        let bad = |e: serde_json::Error| Outcome::VmError(format!("unparsable result: {e}"));
        if entry == Entry::Query {
            match serde_json::from_slice::<ContractResult<Binary>>(raw) {
                Ok(ContractResult::Ok(data)) => Outcome::Query(data),
                Ok(ContractResult::Err(msg)) => Outcome::ContractError(msg),
                Err(e) => bad(e),
            }
        } else {
            match serde_json::from_slice::<ContractResult<Response>>(raw) {
                Ok(ContractResult::Ok(response)) => Outcome::Response(response),
                Ok(ContractResult::Err(msg)) => Outcome::ContractError(msg),
                Err(e) => bad(e),
            }
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Response(_) | Outcome::Query(_))
    }
}

/// The result of one call on either VM.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub outcome: Outcome,
    /// Total gas used (CosmWasm gas units).
    pub gas_used: u64,
    /// Storage accesses made by the call, in order.
    pub ops: Vec<StorageOp>,
}

/// One contract on a Veil engine; storage persists across calls, and is rolled back when
/// a call fails (as a chain would).
pub struct VeilRunner {
    pub engine: Arc<Engine>,
    pub checksum: Checksum,
    pub contract_addr: String,
    pub storage: MemoryStorage,
}

impl VeilRunner {
    /// A fresh engine with `wasm` stored.
    pub fn new(wasm: &[u8], contract_addr: &str) -> Self {
        let engine = Arc::new(Engine::new(EngineConfig::default()));
        Self::with_engine(engine, wasm, contract_addr)
    }

    /// Uses `engine` (storing `wasm` again is a cache hit if it is already loaded).
    pub fn with_engine(engine: Arc<Engine>, wasm: &[u8], contract_addr: &str) -> Self {
        let checksum = engine.store_code(wasm).expect("store_code");
        Self {
            engine,
            checksum,
            contract_addr: contract_addr.to_string(),
            storage: MemoryStorage::new(),
        }
    }

    /// Calls `entry` with `msg`; `sender` is required for instantiate/execute.
    pub fn call(&mut self, entry: Entry, sender: Option<&str>, msg: &[u8]) -> StepResult {
        let env = env(&self.contract_addr);
        let info = sender.map(info);
        let log: OpLog = Arc::default();
        let backend = Backend {
            storage: Box::new(LoggedStorage {
                inner: self.storage.clone(),
                log: log.clone(),
            }),
            api: Box::new(Bech32Api::default()),
            querier: Box::new(BankQuerier::default()),
        };
        let (report, backend) = self.engine.call(
            &self.checksum,
            Call {
                entry,
                env: &env,
                info: info.as_ref(),
                msg,
                gas_limit: GAS_LIMIT,
                random: None,
            },
            backend,
        );
        let storage: Box<dyn std::any::Any + Send> = backend.storage;
        let storage = storage
            .downcast::<LoggedStorage>()
            .expect("the storage we passed in");
        let outcome = match report.result {
            Ok(Output::Response(r)) => Outcome::Response(r),
            Ok(Output::Query(b)) => Outcome::Query(b),
            Err(CallError::Contract(msg)) => Outcome::ContractError(msg),
            Err(CallError::Vm(e)) => Outcome::VmError(e.to_string()),
        };
        if outcome.is_ok() {
            self.storage = storage.inner;
        }
        let ops = std::mem::take(&mut *log.lock().unwrap());
        StepResult {
            outcome,
            gas_used: report.gas_used,
            ops,
        }
    }
}

/// Current and peak resident set size of this process in bytes (Linux `/proc`).
pub fn rss_bytes() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the peak RSS (`VmHWM`) to the current RSS; false if the kernel refused.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
