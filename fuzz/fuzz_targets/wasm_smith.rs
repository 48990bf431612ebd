//! wasm-smith modules shaped like contracts (CosmWasm's feature set, its imports and
//! exports with random bodies): static validation and compilation must never panic, and
//! an accepted module's `query` must give the same result and gas on a fresh engine
//! (cache miss) and on the same engine again (cache hit).
#![no_main]

#[path = "../common/determinism.rs"]
mod determinism;
#[path = "../common/smith.rs"]
mod smith;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use veil_engine::{Engine, EngineConfig};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(wasm) = smith::cosmwasm_module(&mut u) else {
        return;
    };
    determinism::assert_query_deterministic(&Engine::new(EngineConfig::default()), &wasm);
});
