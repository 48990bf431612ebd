//! Uploaded code as the enclave stores it: static validation (`check_wasm`), the memory
//! rewrite and wasmi compilation, on raw bytes (seeded with the project's real contracts,
//! see `scripts/fuzz-corpus.sh`). Storing accepted code again is a cache hit with the
//! same checksum and exports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_engine::{Checksum, Engine, EngineConfig};

fuzz_target!(|wasm: &[u8]| {
    let engine = Engine::new(EngineConfig::default());
    let config = engine.config();
    let checked =
        veil_engine::validate::check_wasm(wasm, &config.wasm_limits, &config.capabilities);
    match engine.store_code(wasm) {
        Ok(checksum) => {
            assert_eq!(checksum, Checksum::of(wasm));
            let info = checked.expect("stored code passed the static checks");
            assert_eq!(engine.exports(&checksum), Some(info.exports));
            assert_eq!(engine.store_code(wasm).ok(), Some(checksum));
        }
        Err(_) => assert!(!engine.is_loaded(&Checksum::of(wasm))),
    }
});
