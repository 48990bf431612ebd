//! What a contract hands the engine: regions (offset, capacity, length) it points the
//! host at, arguments of the imports it calls, and the bytes it returns — all chosen by
//! the fuzzer. The contract's memory holds the fuzzer's bytes; it calls up to eight
//! imports with fuzzed pointers and then returns a fuzzed region pointer (or a valid
//! region around fuzzed JSON, so result parsing is reached). Every outcome must be a
//! result or a clear error, and the same on a second run.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use veil_engine::cosmwasm_std::{Addr, MessageInfo};
use veil_engine::Api as _;
use veil_engine::{
    build_env, Backend, BankQuerier, Bech32Api, BlockContext, Call, Engine, EngineConfig, Entry,
    MemoryStorage, Storage,
};

/// Where the fuzzer's bytes sit in the contract's memory.
const DATA_AT: u32 = 1024;
const GAS: u64 = 5_000_000_000;

#[derive(Debug, Arbitrary)]
struct Input {
    execute: bool,
    memory: Vec<u8>,
    calls: Vec<ImportCall>,
    result: Returned,
}

#[derive(Debug, Arbitrary)]
enum Returned {
    /// Any pointer.
    Pointer(u32),
    /// A valid region (written at DATA_AT) around the first `len` bytes after it: the
    /// fuzzer's `memory` is then the JSON the engine parses.
    Json,
}

#[derive(Debug, Arbitrary)]
enum ImportCall {
    DbRead(u32),
    DbWrite(u32, u32),
    DbRemove(u32),
    DbScan(u32, u32, i32),
    DbNext(u32),
    AddrValidate(u32),
    AddrCanonicalize(u32, u32),
    AddrHumanize(u32, u32),
    Secp256k1Verify(u32, u32, u32),
    Ed25519Verify(u32, u32, u32),
    Debug(u32),
    QueryChain(u32),
}

impl ImportCall {
    fn wat(&self) -> String {
        let p = |x: &u32| format!("(i32.const {})", *x as i32);
        match self {
            ImportCall::DbRead(a) => format!("(drop (call $db_read {}))", p(a)),
            ImportCall::DbWrite(a, b) => format!("(call $db_write {} {})", p(a), p(b)),
            ImportCall::DbRemove(a) => format!("(call $db_remove {})", p(a)),
            ImportCall::DbScan(a, b, o) => {
                format!("(drop (call $db_scan {} {} (i32.const {o})))", p(a), p(b))
            }
            ImportCall::DbNext(a) => format!("(drop (call $db_next {}))", p(a)),
            ImportCall::AddrValidate(a) => format!("(drop (call $addr_validate {}))", p(a)),
            ImportCall::AddrCanonicalize(a, b) => {
                format!("(drop (call $addr_canonicalize {} {}))", p(a), p(b))
            }
            ImportCall::AddrHumanize(a, b) => {
                format!("(drop (call $addr_humanize {} {}))", p(a), p(b))
            }
            ImportCall::Secp256k1Verify(a, b, c) => {
                format!("(drop (call $secp256k1_verify {} {} {}))", p(a), p(b), p(c))
            }
            ImportCall::Ed25519Verify(a, b, c) => {
                format!("(drop (call $ed25519_verify {} {} {}))", p(a), p(b), p(c))
            }
            ImportCall::Debug(a) => format!("(call $debug {})", p(a)),
            ImportCall::QueryChain(a) => format!("(drop (call $query_chain {}))", p(a)),
        }
    }
}

fn module(input: &Input) -> Vec<u8> {
    let mut memory = input.memory.clone();
    memory.truncate(16 * 1024);
    let ret = match input.result {
        Returned::Pointer(p) => p,
        Returned::Json => {
            let len = memory.len() as u32;
            let mut region = Vec::new();
            for word in [DATA_AT + 12, len, len] {
                region.extend_from_slice(&word.to_le_bytes());
            }
            memory.splice(0..0, region);
            DATA_AT
        }
    };
    let data: String = memory.iter().map(|b| format!("\\{b:02x}")).collect();
    let calls: String = input.calls.iter().take(8).map(ImportCall::wat).collect();
    let wat = format!(
        r#"(module
  (import "env" "db_read" (func $db_read (param i32) (result i32)))
  (import "env" "db_write" (func $db_write (param i32 i32)))
  (import "env" "db_remove" (func $db_remove (param i32)))
  (import "env" "db_scan" (func $db_scan (param i32 i32 i32) (result i32)))
  (import "env" "db_next" (func $db_next (param i32) (result i32)))
  (import "env" "addr_validate" (func $addr_validate (param i32) (result i32)))
  (import "env" "addr_canonicalize" (func $addr_canonicalize (param i32 i32) (result i32)))
  (import "env" "addr_humanize" (func $addr_humanize (param i32 i32) (result i32)))
  (import "env" "secp256k1_verify" (func $secp256k1_verify (param i32 i32 i32) (result i32)))
  (import "env" "ed25519_verify" (func $ed25519_verify (param i32 i32 i32) (result i32)))
  (import "env" "debug" (func $debug (param i32)))
  (import "env" "query_chain" (func $query_chain (param i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (data (i32.const {DATA_AT}) "{data}")
  (func $alloc (export "allocate") (param $size i32) (result i32)
    (local $region i32)
    (local.set $region (global.get $heap))
    (i32.store (local.get $region) (i32.add (local.get $region) (i32.const 12)))
    (i32.store offset=4 (local.get $region) (local.get $size))
    (i32.store offset=8 (local.get $region) (i32.const 0))
    (global.set $heap (i32.add (local.get $region) (i32.add (i32.const 12) (local.get $size))))
    (local.get $region))
  (func (export "deallocate") (param i32))
  (func (export "interface_version_8"))
  (func (export "execute") (param i32 i32 i32) (result i32)
    {calls}
    (i32.const {ret}))
  (func (export "query") (param i32 i32) (result i32)
    {calls}
    (i32.const {ret}))
)"#,
        ret = ret as i32,
    );
    wat::parse_str(&wat).expect("the harness writes valid WAT")
}

fn run(engine: &Engine, wasm: &[u8], execute: bool) -> (String, u64, MemoryStorage) {
    let checksum = engine
        .store_code(wasm)
        .expect("the harness module is valid");
    let api = Bech32Api::default();
    let env = build_env(
        &BlockContext {
            height: 7,
            time_nanos: 1_000,
            chain_id: "fuzz".into(),
            tx_index: execute.then_some(0),
        },
        &api.addr_humanize(&[9u8; 32]).unwrap(),
    );
    let info = MessageInfo {
        sender: Addr::unchecked(api.addr_humanize(&[1u8; 20]).unwrap()),
        funds: vec![],
    };
    let mut storage = MemoryStorage::new();
    storage.set(b"key", b"value").unwrap();
    let call = Call {
        entry: if execute {
            Entry::Execute
        } else {
            Entry::Query
        },
        env: &env,
        info: execute.then_some(&info),
        msg: b"{}",
        gas_limit: GAS,
        random: None,
    };
    let backend = Backend {
        storage: Box::new(storage),
        api: Box::new(api),
        querier: Box::new(BankQuerier::default()),
    };
    let (report, backend) = engine.call(&checksum, call, backend);
    let any: Box<dyn std::any::Any + Send> = backend.storage;
    let storage = *any.downcast::<MemoryStorage>().expect("MemoryStorage");
    (format!("{:?}", report.result), report.gas_used, storage)
}

/// One engine for every input, as in the enclave (its cache is bounded).
fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(EngineConfig {
            cache_bytes: 16 * 1024 * 1024,
            ..EngineConfig::default()
        })
    })
}

fuzz_target!(|input: Input| {
    let wasm = module(&input);
    let engine = engine();
    let first = run(&engine, &wasm, input.execute);
    let again = run(&engine, &wasm, input.execute);
    assert_eq!(first.0, again.0);
    assert_eq!(first.1, again.1, "gas differs between two runs");
    assert_eq!(first.2, again.2);
    assert!(first.1 <= GAS);
});
