//! cw20-base `transfer` of 1 token (A → B) on three engines, same state:
//!
//! 1. `veil_engine`: Veil's wasmi engine, `MemoryStorage`, module compiled and cached.
//! 2. `cosmwasm_vm`: cosmwasm-vm 3 (wasmer singlepass), module pinned in its in-memory
//!    cache; each call gets a fresh instance from the cache, as wasmd does.
//! 3. `veil_confidential`: the same transfer through the enclave (in-process, simulation),
//!    as a node runs it: blocks of `BLOCK_TRANSFERS` signed transactions, each checked by
//!    the enclave as the mempool admits it (`CheckTx`), then one certified block (the
//!    enclave verifies its commit certificate) in which each transfer's envelope is
//!    decrypted, run on encrypted verified state, its new encrypted nodes committed and its
//!    result encrypted, and one sealed checkpoint at the block's end. Signing (the users'
//!    work) and encrypting the envelope (once) happen outside the timed loop. Its parts are
//!    timed apart in the same run: `CheckTx` alone, and an empty block (certificate and
//!    checkpoint).
//! 4. `native`: cw20-base's own Rust code (cosmwasm-std 2 `mock_dependencies`), including
//!    the JSON parse of the message and serialization of the result that the VMs do too.
//!
//! The state is not reset between iterations: every iteration moves 1 token from A to B,
//! which touches the same keys with the same value sizes each time, identically for all
//! three. Plus: compile time of storing the code (Veil `store_code` vs cosmwasm-vm's
//! check + compile), initial linear memory of an instance, and peak RSS growth of a call.
//! A summary table with medians and ratios is printed at the end.
//!
//! Run: `cargo bench --manifest-path crates/tools/conformance/Cargo.toml --bench cw20_transfer`

#[path = "../tests/common/confidential.rs"]
mod confidential;
#[path = "../tests/common/vm.rs"]
mod vm;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cosmwasm_vm::testing::{MockApi, MockQuerier, MockStorage};
use cosmwasm_vm::{
    call_execute_raw, call_instantiate_raw, Backend as VmBackend, Cache, InstanceOptions,
};
use criterion::Criterion;
use serde_json::json;
use veil_conformance::{
    account, contract, cw20_base_wasm, env, info, initial_memory_bytes, GAS_LIMIT, PREFIX,
};
use veil_engine::{
    Backend, BankQuerier, Bech32Api, Call, Checksum, Engine, EngineConfig, Entry, MemoryStorage,
    Output,
};

/// Counts heap bytes while enabled (only during the memory measurements, not the timed runs).
mod heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

    pub struct Counting;
    static ENABLED: AtomicBool = AtomicBool::new(false);
    static LIVE: AtomicIsize = AtomicIsize::new(0);
    static PEAK: AtomicIsize = AtomicIsize::new(0);

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(layout) };
            grow(layout.size());
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc_zeroed(layout) };
            grow(layout.size());
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) };
            if ENABLED.load(Relaxed) {
                LIVE.fetch_sub(layout.size() as isize, Relaxed);
            }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if ENABLED.load(Relaxed) {
                LIVE.fetch_sub(layout.size() as isize, Relaxed);
            }
            grow(new_size);
            p
        }
    }

    fn grow(size: usize) {
        if ENABLED.load(Relaxed) {
            let live = LIVE.fetch_add(size as isize, Relaxed) + size as isize;
            PEAK.fetch_max(live, Relaxed);
        }
    }

    /// Runs `f` with counting on; returns (live bytes after − before, peak − before).
    /// Frees of blocks allocated before counting started show up as negative growth.
    pub fn measure<T>(f: impl FnOnce() -> T) -> (T, isize, isize) {
        LIVE.store(0, Relaxed);
        PEAK.store(0, Relaxed);
        ENABLED.store(true, Relaxed);
        let out = f();
        ENABLED.store(false, Relaxed);
        (out, LIVE.load(Relaxed), PEAK.load(Relaxed))
    }
}

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

const TRANSFER_GROUP: &str = "cw20_transfer";
const COMPILE_GROUP: &str = "compile_cw20_base";

/// Per-iteration times (ns) of each measured sample, by benchmark id.
static SAMPLES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

fn record(id: &str, iters: u64, elapsed: Duration) {
    SAMPLES
        .lock()
        .unwrap()
        .entry(id.to_string())
        .or_default()
        .push(elapsed.as_nanos() as f64 / iters.max(1) as f64);
}

/// Median of the last `n` samples (criterion's measurement; earlier ones are warm-up).
fn median(id: &str, n: usize) -> Option<f64> {
    let samples = SAMPLES.lock().unwrap();
    let all = samples.get(id)?;
    let mut last: Vec<f64> = all[all.len().saturating_sub(n)..].to_vec();
    last.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mid = last.len() / 2;
    Some(if last.len().is_multiple_of(2) {
        (last[mid - 1] + last[mid]) / 2.0
    } else {
        last[mid]
    })
}

struct Fixture {
    wasm: &'static [u8],
    token: String,
    alice: String,
    bob: String,
    instantiate_msg: Vec<u8>,
    transfer_msg: Vec<u8>,
}

impl Fixture {
    fn new() -> Self {
        let wasm = cw20_base_wasm();
        let (alice, bob, carol, dave) = (
            account("alice"),
            account("bob"),
            account("carol"),
            account("dave"),
        );
        let instantiate_msg = serde_json::to_vec(&json!({
            "name": "Veil Token",
            "symbol": "VEIL",
            "decimals": 6,
            "initial_balances": [
                {"address": alice, "amount": "1000000000000000000"},
                {"address": bob, "amount": "1000"},
                {"address": carol, "amount": "2000"},
                {"address": dave, "amount": "3000"},
            ],
            "mint": {"minter": dave},
        }))
        .unwrap();
        let transfer_msg =
            serde_json::to_vec(&json!({"transfer": {"recipient": bob, "amount": "1"}})).unwrap();
        Self {
            wasm,
            token: contract("cw20-base"),
            alice,
            bob,
            instantiate_msg,
            transfer_msg,
        }
    }
}

// --- Veil -----------------------------------------------------------------------------

struct VeilSetup {
    engine: Engine,
    checksum: Checksum,
    backend: Option<Backend>,
}

fn veil_backend(storage: MemoryStorage) -> Backend {
    Backend {
        storage: Box::new(storage),
        api: Box::new(Bech32Api::new(PREFIX).unwrap()),
        querier: Box::new(BankQuerier::default()),
    }
}

impl VeilSetup {
    fn new(fx: &Fixture) -> Self {
        let engine = Engine::new(EngineConfig::default());
        let checksum = engine.store_code(fx.wasm).expect("store_code");
        let mut setup = Self {
            engine,
            checksum,
            backend: Some(veil_backend(MemoryStorage::new())),
        };
        let creator = account("creator");
        let out = setup.call(
            fx,
            Entry::Instantiate,
            &creator,
            &fx.instantiate_msg.clone(),
        );
        assert!(out.0, "instantiate on Veil");
        setup
    }

    /// (success, gas)
    fn call(&mut self, fx: &Fixture, entry: Entry, sender: &str, msg: &[u8]) -> (bool, u64) {
        let env = env(&fx.token);
        let info = info(sender);
        let (report, backend) = self.engine.call(
            &self.checksum,
            Call {
                entry,
                env: &env,
                info: Some(&info),
                msg,
                gas_limit: GAS_LIMIT,
                random: None,
            },
            self.backend.take().unwrap(),
        );
        self.backend = Some(backend);
        (
            matches!(report.result, Ok(Output::Response(_))),
            report.gas_used,
        )
    }
}

// --- cosmwasm-vm ----------------------------------------------------------------------

type PlainCache = Cache<MockApi, MockStorage, MockQuerier>;

struct VmSetup {
    _dir: tempfile::TempDir,
    cache: PlainCache,
    checksum: cosmwasm_vm_std::Checksum,
    backend: Option<VmBackend<MockApi, MockStorage, MockQuerier>>,
}

use veil_engine::cosmwasm_std as cosmwasm_vm_std;

impl VmSetup {
    fn new(fx: &Fixture) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cache, checksum) = vm::pinned_cache(dir.path(), fx.wasm);
        let mut setup = Self {
            _dir: dir,
            cache,
            checksum,
            backend: Some(VmBackend {
                api: MockApi::default().with_prefix(PREFIX),
                storage: MockStorage::new(),
                querier: MockQuerier::new(&[]),
            }),
        };
        let creator = account("creator");
        let out = setup.call(
            fx,
            Entry::Instantiate,
            &creator,
            &fx.instantiate_msg.clone(),
        );
        assert!(out.0, "instantiate on cosmwasm-vm");
        setup
    }

    /// (success, gas, memory pages after the call)
    fn call(&mut self, fx: &Fixture, entry: Entry, sender: &str, msg: &[u8]) -> (bool, u64, usize) {
        let mut instance = self
            .cache
            .get_instance(
                &self.checksum,
                self.backend.take().unwrap(),
                InstanceOptions {
                    gas_limit: GAS_LIMIT,
                },
            )
            .unwrap();
        // Serialized per call, as Veil's engine serializes the Env/MessageInfo it is given.
        let env = serde_json::to_vec(&env(&fx.token)).unwrap();
        let info = serde_json::to_vec(&info(sender)).unwrap();
        let raw = match entry {
            Entry::Instantiate => call_instantiate_raw(&mut instance, &env, &info, msg),
            _ => call_execute_raw(&mut instance, &env, &info, msg),
        }
        .expect("cosmwasm-vm call");
        let gas = GAS_LIMIT - instance.get_gas_left();
        let pages = instance.memory_pages();
        self.backend = Some(instance.recycle().unwrap());
        (raw.starts_with(b"{\"ok\""), gas, pages)
    }
}

// --- native ---------------------------------------------------------------------------

mod native {
    use cosmwasm_std_v2::testing::{mock_dependencies, MockApi, MockQuerier, MockStorage};
    use cosmwasm_std_v2::{from_json, to_json_vec, ContractResult, Env, MessageInfo, OwnedDeps};

    pub struct NativeSetup {
        pub deps: OwnedDeps<MockStorage, MockApi, MockQuerier>,
        pub env: Env,
        pub creator: MessageInfo,
        pub alice: MessageInfo,
    }

    fn to_v2<T: serde::de::DeserializeOwned>(v3: &impl serde::Serialize) -> T {
        from_json(serde_json::to_vec(v3).unwrap()).unwrap()
    }

    impl NativeSetup {
        pub fn new(fx: &super::Fixture) -> Self {
            let mut deps = mock_dependencies();
            deps.api = MockApi::default().with_prefix(super::PREFIX);
            let mut setup = Self {
                deps,
                env: to_v2(&super::env(&fx.token)),
                creator: to_v2(&super::info(&super::account("creator"))),
                alice: to_v2(&super::info(&fx.alice)),
            };
            let msg: cw20_base::msg::InstantiateMsg = from_json(&fx.instantiate_msg).unwrap();
            cw20_base::contract::instantiate(
                setup.deps.as_mut(),
                setup.env.clone(),
                setup.creator.clone(),
                msg,
            )
            .expect("native instantiate");
            setup
        }

        /// A transfer as the VMs run it: parse the message, execute, serialize the result.
        pub fn transfer(&mut self, msg: &[u8]) -> Vec<u8> {
            let msg: cw20_base::msg::ExecuteMsg = from_json(msg).unwrap();
            let result = cw20_base::contract::execute(
                self.deps.as_mut(),
                self.env.clone(),
                self.alice.clone(),
                msg,
            )
            .map_err(|e| e.to_string());
            let result: ContractResult<_> = result.into();
            assert!(result.is_ok());
            to_json_vec(&result).unwrap()
        }

        pub fn balance(&self, addr: &str) -> String {
            let b =
                cw20_base::contract::query_balance(self.deps.as_ref(), addr.to_string()).unwrap();
            b.balance.to_string()
        }
    }
}

// --- memory ---------------------------------------------------------------------------

struct MemoryReport {
    initial_linear_memory: Option<u64>,
    vm_pages_after_transfer: usize,
    /// Heap bytes held by a compiled module (Veil) / RSS growth of compiling and pinning
    /// one (cosmwasm-vm keeps machine code in mmap'd memory, outside the heap).
    veil_module_heap: isize,
    vm_module_heap: isize,
    vm_module_rss: Option<i64>,
    /// RSS growth of the first call on a fresh engine (Veil's pooled linear memory
    /// becomes resident and stays so for the next calls).
    veil_first_call_rss: Option<i64>,
    /// Peak heap / peak RSS growth of one warm transfer.
    veil_call_heap_peak: isize,
    vm_call_heap_peak: isize,
    veil_call_rss_peak: Option<u64>,
    vm_call_rss_peak: Option<u64>,
}

fn rss_growth<T>(f: impl FnOnce() -> T) -> (T, Option<i64>) {
    let before = veil_conformance::rss_bytes().map(|r| r.0 as i64);
    let out = f();
    let after = veil_conformance::rss_bytes().map(|r| r.0 as i64);
    (out, before.zip(after).map(|(b, a)| a - b))
}

/// Peak RSS above the starting RSS while `f` runs (max over `runs`).
fn peak_rss_growth(runs: usize, mut f: impl FnMut()) -> Option<u64> {
    let mut worst = 0;
    for _ in 0..runs {
        if !veil_conformance::reset_peak_rss() {
            return None;
        }
        let (start, _) = veil_conformance::rss_bytes()?;
        f();
        let (_, peak) = veil_conformance::rss_bytes()?;
        worst = worst.max(peak.saturating_sub(start));
    }
    Some(worst)
}

fn measure_memory(fx: &Fixture, veil: &mut VeilSetup, cosm: &mut VmSetup) -> MemoryReport {
    // A compiled module, on a fresh engine / cache.
    let (fresh, veil_module_heap, _) = heap::measure(|| {
        let e = Engine::new(EngineConfig::default());
        e.store_code(fx.wasm).unwrap();
        e
    });
    let (fresh_cache, vm_module_rss) = rss_growth(|| {
        heap::measure(|| {
            let dir = tempfile::tempdir().unwrap();
            let cache: (PlainCache, _) = vm::pinned_cache(dir.path(), fx.wasm);
            (dir, cache)
        })
    });
    let (fresh_cache, vm_module_heap, _) = fresh_cache;

    // First call on the fresh Veil engine: instantiate, which leases a new memory buffer.
    let mut first = VeilSetup {
        checksum: Checksum::of(fx.wasm),
        engine: fresh,
        backend: Some(veil_backend(MemoryStorage::new())),
    };
    let creator = account("creator");
    let (ok, veil_first_call_rss) = rss_growth(|| {
        first
            .call(fx, Entry::Instantiate, &creator, &fx.instantiate_msg)
            .0
    });
    assert!(ok);
    drop((first, fresh_cache));

    let alice = fx.alice.clone();
    let veil_call_rss_peak = peak_rss_growth(5, || {
        assert!(veil.call(fx, Entry::Execute, &alice, &fx.transfer_msg).0);
    });
    let mut pages = 0;
    let vm_call_rss_peak = peak_rss_growth(5, || {
        let r = cosm.call(fx, Entry::Execute, &alice, &fx.transfer_msg);
        assert!(r.0);
        pages = r.2;
    });
    let (_, _, veil_call_heap_peak) =
        heap::measure(|| assert!(veil.call(fx, Entry::Execute, &alice, &fx.transfer_msg).0));
    let (_, _, vm_call_heap_peak) =
        heap::measure(|| assert!(cosm.call(fx, Entry::Execute, &alice, &fx.transfer_msg).0));
    MemoryReport {
        initial_linear_memory: initial_memory_bytes(fx.wasm),
        vm_pages_after_transfer: pages,
        veil_module_heap,
        vm_module_heap,
        vm_module_rss,
        veil_first_call_rss,
        veil_call_heap_peak,
        vm_call_heap_peak,
        veil_call_rss_peak,
        vm_call_rss_peak,
    }
}

// --- benchmarks -----------------------------------------------------------------------

const TRANSFER_SAMPLES: usize = 30;
/// Confidential transfers per block (a node's blocks at 5,000 transfers/s and 200 ms
/// hold ~1,000).
const BLOCK_TRANSFERS: usize = 100;
const COMPILE_SAMPLES: usize = 10;

fn bench_transfer(
    c: &mut Criterion,
    fx: &Fixture,
    veil: &mut VeilSetup,
    cosm: &mut VmSetup,
    nat: &mut native::NativeSetup,
) {
    let mut group = c.benchmark_group(TRANSFER_GROUP);
    group
        .sample_size(TRANSFER_SAMPLES)
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(3));

    let alice = fx.alice.clone();
    group.bench_function("veil_engine", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let (ok, _) = veil.call(fx, Entry::Execute, &alice, black_box(&fx.transfer_msg));
                assert!(ok);
            }
            let elapsed = start.elapsed();
            record("veil_engine", iters, elapsed);
            elapsed
        })
    });
    let confidential = confidential::ConfidentialSetup::new(
        fx.wasm,
        &fx.instantiate_msg,
        &fx.alice,
        &fx.transfer_msg,
    );
    // One iteration is a block of BLOCK_TRANSFERS transfers; recorded per transfer.
    group.bench_function("veil_confidential", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let signed = confidential.sign_transfers(BLOCK_TRANSFERS);
                let start = Instant::now();
                confidential.admit_and_run_block(signed);
                total += start.elapsed();
            }
            record("veil_confidential", iters * BLOCK_TRANSFERS as u64, total);
            total
        })
    });
    // Its parts that do not run the contract: the signature check as the mempool admits a
    // transaction, and a block's fixed work (certificate check, sealed checkpoint).
    group.bench_function("veil_check_tx", |b| {
        b.iter_custom(|iters| {
            let signed = confidential.sign_transfers(iters as usize);
            let start = Instant::now();
            for call in &signed {
                black_box(confidential.host.check_tx(call.tx()).unwrap());
            }
            let elapsed = start.elapsed();
            record("veil_check_tx", iters, elapsed);
            elapsed
        })
    });
    group.bench_function("veil_empty_block", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let responses = confidential
                    .host
                    .execute_block(vec![], confidential::block_ref())
                    .unwrap();
                assert!(responses.is_empty());
            }
            let elapsed = start.elapsed();
            record("veil_empty_block", iters, elapsed);
            elapsed
        })
    });
    group.bench_function("cosmwasm_vm", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let (ok, _, _) = cosm.call(fx, Entry::Execute, &alice, black_box(&fx.transfer_msg));
                assert!(ok);
            }
            let elapsed = start.elapsed();
            record("cosmwasm_vm", iters, elapsed);
            elapsed
        })
    });
    group.bench_function("native", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(nat.transfer(black_box(&fx.transfer_msg)));
            }
            let elapsed = start.elapsed();
            record("native", iters, elapsed);
            elapsed
        })
    });
    group.finish();
}

fn bench_compile(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group(COMPILE_GROUP);
    group
        .sample_size(COMPILE_SAMPLES)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));

    // Veil: validate + compile + cache, on a fresh engine (engine creation not timed).
    group.bench_function("veil_store_code", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let engine = Engine::new(EngineConfig::default());
                let start = Instant::now();
                black_box(engine.store_code(black_box(fx.wasm)).unwrap());
                total += start.elapsed();
                drop(engine);
            }
            record("veil_store_code", iters, total);
            total
        })
    });
    // cosmwasm-vm: static checks + singlepass compile (`store_code(checked, !persist)`).
    let dir = tempfile::tempdir().unwrap();
    let options = cosmwasm_vm::CacheOptions::new(
        dir.path(),
        vm::capabilities(),
        cosmwasm_vm::Size::mebi(200),
        vm::MEMORY_LIMIT,
    );
    let cache: PlainCache = unsafe { Cache::new(options) }.unwrap();
    group.bench_function("cosmwasm_vm_store_code", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(cache.store_code(black_box(fx.wasm), true, false).unwrap());
            }
            let elapsed = start.elapsed();
            record("cosmwasm_vm_store_code", iters, elapsed);
            elapsed
        })
    });
    group.finish();
}

/// Median wall time of `runs` runs of `f`, in ns.
fn median_of_runs(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_nanos() as f64
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[runs / 2]
}

fn fmt_time(ns: Option<f64>) -> String {
    match ns {
        None => "-".into(),
        Some(ns) if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        Some(ns) if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        Some(ns) => format!("{ns:.0} ns"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "-".into(),
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();

    let fx = Fixture::new();
    let mut veil = VeilSetup::new(&fx);
    let mut cosm = VmSetup::new(&fx);
    let mut nat = native::NativeSetup::new(&fx);

    // Gas of one transfer (same state on both VMs). cosmwasm-vm here uses plain MockStorage,
    // whose storage gas is nominal; Veil charges wasmd's KV prices.
    let (ok, veil_gas) = veil.call(&fx, Entry::Execute, &fx.alice, &fx.transfer_msg);
    assert!(ok);
    let (ok, vm_gas, _) = cosm.call(&fx, Entry::Execute, &fx.alice, &fx.transfer_msg);
    assert!(ok);
    nat.transfer(&fx.transfer_msg);
    assert_eq!(nat.balance(&fx.bob), "1001");

    let mem = measure_memory(&fx, &mut veil, &mut cosm);

    bench_transfer(&mut c, &fx, &mut veil, &mut cosm, &mut nat);
    bench_compile(&mut c, &fx);
    c.final_summary();

    // --- summary --------------------------------------------------------------------
    let v = median("veil_engine", TRANSFER_SAMPLES);
    let w = median("cosmwasm_vm", TRANSFER_SAMPLES);
    let n = median("native", TRANSFER_SAMPLES);
    let vconf = median("veil_confidential", TRANSFER_SAMPLES);
    let vc = median("veil_store_code", COMPILE_SAMPLES);
    let wc = median("cosmwasm_vm_store_code", COMPILE_SAMPLES);
    println!();
    println!(
        "==== cw20-base {} summary (medians) ====",
        veil_conformance::CW20_BASE_VERSION
    );
    println!("wasm: {} bytes", fx.wasm.len());
    println!();
    println!(
        "{:<34} {:>12} {:>16} {:>12}",
        "transfer (1 token A→B)", "median", "veil / this", ""
    );
    println!(
        "{:<34} {:>12} {:>16}",
        "veil_engine (wasmi)",
        fmt_time(v),
        "1.00×"
    );
    println!(
        "{:<34} {:>12} {:>16}",
        "cosmwasm_vm (wasmer singlepass)",
        fmt_time(w),
        ratio(v, w)
    );
    println!(
        "{:<34} {:>12} {:>16}",
        "native (cw20-base Rust)",
        fmt_time(n),
        ratio(v, n)
    );
    println!(
        "{:<34} {:>12} {:>16}",
        "veil confidential (enclave, sim.)",
        fmt_time(vconf),
        format!(
            "{} of veil_engine; {} of cosmwasm_vm",
            ratio(vconf, v),
            ratio(vconf, w)
        )
    );
    let engine_target = match (v, w) {
        (Some(v), Some(w)) if v <= 0.5 * w => "met",
        (Some(_), Some(_)) => "MISSED",
        _ => "-",
    };
    println!(
        "  engine vs cosmwasm-vm: {} (target ≤ 0.50×: {engine_target})",
        ratio(v, w)
    );
    println!();
    // The confidential path's own cost: all of a confidential transfer but the engine's run
    // (and the signing, never timed).
    let check = median("veil_check_tx", TRANSFER_SAMPLES);
    let block = median("veil_empty_block", TRANSFER_SAMPLES).map(|b| b / BLOCK_TRANSFERS as f64);
    let own = vconf.zip(v).map(|(c, v)| c - v);
    let rest = own
        .zip(check)
        .zip(block)
        .map(|((own, check), block)| own - check - block);
    let own_target = match own {
        Some(ns) if ns <= 150e3 => "met",
        Some(_) => "MISSED",
        None => "-",
    };
    println!(
        "confidential path's own cost per transfer (blocks of {BLOCK_TRANSFERS}): {} (target ≤ 150 µs: {own_target})",
        fmt_time(own)
    );
    println!(
        "  signature check as the mempool admits it (CheckTx): {}",
        fmt_time(check)
    );
    println!(
        "  block's fixed work (certificate check, sealed checkpoint) / {BLOCK_TRANSFERS}: {}",
        fmt_time(block)
    );
    println!(
        "  the rest (envelope, verified reads, commit of encrypted nodes, result encryption, ecall crossing): {}",
        fmt_time(rest)
    );
    println!();
    println!(
        "{:<34} {:>12} {:>16}",
        "compile on store", "median", "veil / this"
    );
    let target = match vc {
        Some(ns) if ns <= 5e6 => "(target ≤ 5 ms: met)",
        Some(_) => "(target ≤ 5 ms: MISSED)",
        None => "",
    };
    println!(
        "{:<34} {:>12} {:>16} {target}",
        "veil store_code",
        fmt_time(vc),
        "1.00×"
    );
    println!(
        "{:<34} {:>12} {:>16}",
        "cosmwasm-vm store_code",
        fmt_time(wc),
        ratio(vc, wc)
    );
    let check = median_of_runs(10, || {
        let caps = EngineConfig::default().capabilities;
        veil_engine::validate::check_wasm(fx.wasm, &veil_engine::WasmLimits::default(), &caps)
            .unwrap();
    });
    println!(
        "  of which veil check_wasm (static validation): {} (median of 10 runs)",
        fmt_time(Some(check))
    );
    println!();
    let kib = |b: i64| format!("{:.1} KiB", b as f64 / 1024.0);
    let opt_kib = |b: Option<i64>| b.map(kib).unwrap_or_else(|| "n/a".into());
    println!("memory:");
    println!(
        "  initial linear memory per instance:   {}",
        mem.initial_linear_memory
            .map(|b| format!("{b} bytes ({} pages of 64 KiB)", b / 65_536))
            .unwrap_or_else(|| "n/a".into())
    );
    println!(
        "  cosmwasm-vm memory after a transfer:  {} bytes ({} pages)",
        mem.vm_pages_after_transfer * 65_536,
        mem.vm_pages_after_transfer
    );
    println!(
        "  compiled module:                      veil {} heap; cosmwasm-vm {} heap, {} RSS (pinned)",
        kib(mem.veil_module_heap as i64),
        kib(mem.vm_module_heap as i64),
        opt_kib(mem.vm_module_rss)
    );
    println!(
        "  veil first call on a fresh engine:    {} RSS growth (pooled linear memory made resident)",
        opt_kib(mem.veil_first_call_rss)
    );
    println!(
        "  one warm transfer, peak heap:         veil {}, cosmwasm-vm {}",
        kib(mem.veil_call_heap_peak as i64),
        kib(mem.vm_call_heap_peak as i64)
    );
    println!(
        "  one warm transfer, peak RSS growth:   veil {}, cosmwasm-vm {}",
        opt_kib(mem.veil_call_rss_peak.map(|b| b as i64)),
        opt_kib(mem.vm_call_rss_peak.map(|b| b as i64))
    );
    println!();
    println!(
        "gas of one transfer: veil {veil_gas}, cosmwasm-vm {vm_gas} (MockStorage: nominal storage gas; ratio {:.2})",
        veil_gas as f64 / vm_gas as f64
    );
}
