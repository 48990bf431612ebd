//! An accepted module's `query` must give the same result, gas and storage on the engine
//! that stored it (cache hit) and on a fresh engine (cache miss). Shared by `wasm_smith`
//! and the differential workspace.

use veil_engine::{
    build_env, Backend, BankQuerier, Bech32Api, BlockContext, Call, Engine, EngineConfig, Entry,
    MemoryStorage,
};

const GAS: u64 = 2_000_000_000;

/// `query` with `{}` on a fresh storage: its result, gas and the storage it left; `None`
/// when the module is refused or exports no `query`.
fn query(engine: &Engine, wasm: &[u8]) -> Option<(String, u64, MemoryStorage)> {
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
    let (report, backend) = engine.call(&checksum, call, backend);
    let any: Box<dyn std::any::Any + Send> = backend.storage;
    let storage = *any.downcast::<MemoryStorage>().expect("MemoryStorage");
    Some((format!("{:?}", report.result), report.gas_used, storage))
}

/// Panics when `query` differs between a first call on `engine`, a second one (the code
/// is then a cache hit) and a call on a fresh engine (a cache miss).
pub fn assert_query_deterministic(engine: &Engine, wasm: &[u8]) {
    let Some(first) = query(engine, wasm) else {
        return;
    };
    let hit = query(engine, wasm).expect("stored once, stored again");
    let miss = query(&Engine::new(EngineConfig::default()), wasm).expect("stores on a new engine");
    assert_eq!(first.0, hit.0, "result differs on a cache hit");
    assert_eq!(first.1, hit.1, "gas differs on a cache hit");
    assert_eq!(first.2, hit.2, "storage differs on a cache hit");
    assert_eq!(first.0, miss.0, "result differs on a cache miss");
    assert_eq!(first.1, miss.1, "gas differs on a cache miss");
    assert_eq!(first.2, miss.2, "storage differs on a cache miss");
}
