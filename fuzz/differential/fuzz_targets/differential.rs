//! Veil's code validation (`Engine::store_code`: static checks, memory rewrite, wasmi
//! compilation) against cosmwasm-vm 3's static validation (`check_wasm`, which validates
//! every function body too) on wasm-smith modules within CosmWasm's feature set and on
//! mutated real contracts: both accept or both reject, except for the deliberate
//! differences documented in docs/fuzzing.md (`deliberate_difference`). For modules
//! Veil accepts, `query` gives the same result and gas on a cache hit and a cache miss.
#![no_main]

#[path = "../../common/smith.rs"]
mod smith;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::Unstructured;
use cosmwasm_vm::internals::{check_wasm, Logger};
use cosmwasm_vm::WasmLimits;
use libfuzzer_sys::fuzz_target;
use veil_engine::{
    build_env, Backend, BankQuerier, Bech32Api, BlockContext, Call, Engine, EngineConfig, Entry,
    MemoryStorage,
};

const GAS: u64 = 2_000_000_000;

static GENERATED: AtomicU64 = AtomicU64::new(0);
static BOTH_ACCEPT: AtomicU64 = AtomicU64::new(0);

/// Where Veil and cosmwasm-vm 3 disagree on purpose (see docs/fuzzing.md); `None` when
/// the difference is not one of them.
fn deliberate_difference(
    veil: &Result<(), String>,
    cosmwasm: &Result<(), String>,
) -> Option<&'static str> {
    let _ = (veil, cosmwasm);
    None
}

fn query(engine: &Engine, wasm: &[u8]) -> Option<(String, u64)> {
    let checksum = engine.store_code(wasm).ok()?;
    if !engine.exports(&checksum)?.contains("query") {
        return None;
    }
    let env = build_env(
        &BlockContext {
            height: 1,
            time_nanos: 1_000,
            chain_id: "fuzz".into(),
            tx_index: None,
        },
        "cosmwasm1contract",
    );
    let call = Call {
        entry: Entry::Query,
        env: &env,
        info: None,
        msg: b"{}",
        gas_limit: GAS,
        random: None,
    };
    let backend = Backend {
        storage: Box::new(MemoryStorage::new()),
        api: Box::new(Bech32Api::default()),
        querier: Box::new(BankQuerier::default()),
    };
    let (report, _) = engine.call(&checksum, call, backend);
    Some((format!("{:?}", report.result), report.gas_used))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let wasm = if mode < 32 {
        // Real contracts (seeds) and what the fuzzer makes of them.
        rest.to_vec()
    } else {
        match smith::cosmwasm_module(&mut Unstructured::new(rest)) {
            Ok(wasm) => wasm,
            Err(_) => return,
        }
    };
    let engine = Engine::new(EngineConfig::default());
    let capabilities: HashSet<String> = engine.config().capabilities.iter().cloned().collect();
    let veil = engine
        .store_code(&wasm)
        .map(|_| ())
        .map_err(|e| e.to_string());
    let cosmwasm = check_wasm(&wasm, &capabilities, &WasmLimits::default(), Logger::Off)
        .map_err(|e| e.to_string());
    let generated = GENERATED.fetch_add(1, Ordering::Relaxed) + 1;
    if veil.is_ok() && cosmwasm.is_ok() {
        BOTH_ACCEPT.fetch_add(1, Ordering::Relaxed);
    }
    if generated.is_power_of_two() || generated % 100_000 == 0 {
        eprintln!(
            "differential: {generated} modules, both accept {}",
            BOTH_ACCEPT.load(Ordering::Relaxed)
        );
    }
    if veil.is_ok() != cosmwasm.is_ok() && deliberate_difference(&veil, &cosmwasm).is_none() {
        panic!("Veil and cosmwasm-vm disagree:\n  veil: {veil:?}\n  cosmwasm-vm: {cosmwasm:?}");
    }
    if veil.is_ok() {
        let first = query(&engine, &wasm);
        let hit = query(&engine, &wasm);
        let miss = query(&Engine::new(EngineConfig::default()), &wasm);
        assert_eq!(first, hit, "result or gas differs on a cache hit");
        assert_eq!(first, miss, "result or gas differs on a cache miss");
    }
});
