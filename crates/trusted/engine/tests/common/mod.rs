//! A minimal CosmWasm contract in WAT, with hooks to break it in specific ways.
#![allow(dead_code)]

use veil_engine::cosmwasm_std::{Addr, MessageInfo};
use veil_engine::*;

pub const OK_RESPONSE: &str =
    r#"{"ok":{"messages":[],"attributes":[{"key":"k","value":"v"}],"events":[],"data":null}}"#;

/// A contract with a bump allocator whose `instantiate` runs `body` and then returns
/// OK_RESPONSE. `extra` is spliced into the module (imports first).
pub fn contract_wat(imports: &str, body: &str, extra: &str) -> String {
    format!(
        r#"(module
  {imports}
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 1024) "{response}")
  (func $alloc (export "allocate") (param $size i32) (result i32)
    (local $region i32)
    (local.set $region (global.get $heap))
    ;; region header: offset, capacity, length
    (i32.store (local.get $region) (i32.add (local.get $region) (i32.const 12)))
    (i32.store offset=4 (local.get $region) (local.get $size))
    (i32.store offset=8 (local.get $region) (i32.const 0))
    (global.set $heap (i32.add (local.get $region) (i32.add (i32.const 12) (local.get $size))))
    (local.get $region))
  (func (export "deallocate") (param i32))
  (func (export "interface_version_8"))
  (func (export "instantiate") (param i32 i32 i32) (result i32)
    (local $out i32)
    {body}
    (local.set $out (call $alloc (i32.const 0)))
    (i32.store (local.get $out) (i32.const 1024))
    (i32.store offset=4 (local.get $out) (i32.const {len}))
    (i32.store offset=8 (local.get $out) (i32.const {len}))
    (local.get $out))
  {extra}
)"#,
        response = OK_RESPONSE.replace('"', "\\\""),
        len = OK_RESPONSE.len(),
    )
}

pub fn wasm(wat_src: &str) -> Vec<u8> {
    wat::parse_str(wat_src).expect("test WAT is valid")
}

pub fn backend(storage: MemoryStorage) -> Backend {
    Backend {
        storage: Box::new(storage),
        api: Box::new(Bech32Api::default()),
        querier: Box::new(BankQuerier::default()),
    }
}

pub fn storage_of(backend: Backend) -> MemoryStorage {
    let any: Box<dyn std::any::Any + Send> = backend.storage;
    *any.downcast::<MemoryStorage>().expect("MemoryStorage")
}

pub fn env() -> veil_engine::cosmwasm_std::Env {
    let block = BlockContext {
        height: 1,
        time_nanos: 1_000,
        chain_id: "test".into(),
        tx_index: Some(0),
    };
    build_env(
        &block,
        &Bech32Api::default().addr_humanize(&[9u8; 32]).unwrap(),
    )
}

pub fn info() -> MessageInfo {
    MessageInfo {
        sender: Addr::unchecked(Bech32Api::default().addr_humanize(&[1u8; 20]).unwrap()),
        funds: vec![],
    }
}

/// Instantiates `wasm` (stored on a fresh engine) and returns the report and final storage.
pub fn instantiate(
    engine: &Engine,
    wasm: &[u8],
    storage: MemoryStorage,
    gas_limit: u64,
) -> (CallReport, MemoryStorage) {
    let checksum = engine.store_code(wasm).expect("code stores");
    let env = env();
    let info = info();
    let call = Call {
        entry: Entry::Instantiate,
        env: &env,
        info: Some(&info),
        msg: b"{}",
        gas_limit,
        random: None,
    };
    let (report, backend) = engine.call(&checksum, call, backend(storage));
    (report, storage_of(backend))
}
