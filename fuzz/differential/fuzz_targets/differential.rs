//! Veil's code validation (`Engine::store_code`: static checks, memory rewrite, wasmi
//! compilation) against cosmwasm-vm 3's static validation (`check_wasm`, which validates
//! every function body too) on wasm-smith modules within CosmWasm's feature set and on
//! mutated real contracts: both accept or both reject, except for the deliberate
//! differences documented in docs/fuzzing.md (`deliberate_difference`). For modules
//! Veil accepts, `query` gives the same result and gas on a cache hit and a cache miss.
#![no_main]

#[path = "../../common/determinism.rs"]
mod determinism;
#[path = "../../common/smith.rs"]
mod smith;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::Unstructured;
use cosmwasm_vm::internals::{check_wasm, Logger};
use cosmwasm_vm::WasmLimits;
use libfuzzer_sys::fuzz_target;
use veil_engine::{Engine, EngineConfig};

/// Counters for docs/fuzzing.md's share of modules both engines accept: wasm-smith
/// modules, and raw inputs (real contracts and the fuzzer's changes to them).
static GENERATED: AtomicU64 = AtomicU64::new(0);
static GENERATED_BOTH_ACCEPT: AtomicU64 = AtomicU64::new(0);
static RAW: AtomicU64 = AtomicU64::new(0);
static RAW_BOTH_ACCEPT: AtomicU64 = AtomicU64::new(0);

/// Where Veil and cosmwasm-vm 3 disagree on purpose (see docs/fuzzing.md); `None` when
/// the difference is not one of them.
fn deliberate_difference(
    veil: &Result<(), String>,
    cosmwasm: &Result<(), String>,
) -> Option<&'static str> {
    match (veil, cosmwasm) {
        // Veil runs the bulk-memory operators rustc emits by default for
        // wasm32-unknown-unknown ("modern" builds, gas per byte moved: docs/gas.md);
        // cosmwasm-vm 3.0.10's parser refuses them and stops there, so a module that
        // uses them is compared no further.
        (Ok(()), Err(e)) if e.contains("bulk memory support is not enabled") => Some("bulk memory"),
        // Veil's own static checks refuse a start function (it would run at
        // instantiation, before any entry point is called); cosmwasm-vm 3's
        // `check_wasm` has no such check.
        (Err(e), Ok(())) if e.contains("must not have a start function") => Some("start function"),
        // Veil refuses table mutation (`table.set`, `table.grow`, …): Rust never mutates
        // its function table, and a fixed table keeps `call_indirect` targets static;
        // cosmwasm-vm 3's `check_wasm` has no such check.
        (Err(e), Ok(())) if e.contains("uses table mutation") => Some("table mutation"),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // A module's first byte is 0 (`\0asm`): real contracts (seeds) and what the fuzzer
    // makes of them are taken whole; anything else drives wasm-smith.
    let generated = mode != 0;
    let wasm = if !generated {
        data.to_vec()
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
    let (count, both_accept) = if generated {
        (&GENERATED, &GENERATED_BOTH_ACCEPT)
    } else {
        (&RAW, &RAW_BOTH_ACCEPT)
    };
    if veil.is_ok() && cosmwasm.is_ok() {
        both_accept.fetch_add(1, Ordering::Relaxed);
    }
    let n = count.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() || n % 10_000 == 0 {
        eprintln!(
            "differential: wasm-smith {} modules, both accept {}; raw {} inputs, both accept {}",
            GENERATED.load(Ordering::Relaxed),
            GENERATED_BOTH_ACCEPT.load(Ordering::Relaxed),
            RAW.load(Ordering::Relaxed),
            RAW_BOTH_ACCEPT.load(Ordering::Relaxed),
        );
    }
    if veil.is_ok() != cosmwasm.is_ok() && deliberate_difference(&veil, &cosmwasm).is_none() {
        let text = wasmprinter::print_bytes(&wasm).unwrap_or_else(|e| format!("({e})"));
        panic!(
            "Veil and cosmwasm-vm disagree:\n  veil: {veil:?}\n  cosmwasm-vm: {cosmwasm:?}\n{text}"
        );
    }
    if veil.is_ok() {
        determinism::assert_query_deterministic(&engine, &wasm);
    }
});
