//! The status-message contract (stock near-sdk 5) on the NEAR engine.

mod common;

use serde_json::{json, Value};
use veil_near_engine::{
    Checksum, FunctionCallError, HostError, MemoryStorage, NearContext, NearEngine,
    NearEngineConfig, NearOutcome, ReturnData, TERA_GAS,
};

const CONTRACT: &str = "status.veil";

struct Fixture {
    engine: NearEngine,
    code: Checksum,
    storage: MemoryStorage,
}

impl Fixture {
    fn new() -> Self {
        let engine = NearEngine::new(NearEngineConfig::default());
        let code = engine
            .store_code(&common::near_contract("status-message"))
            .unwrap();
        Self {
            engine,
            code,
            storage: MemoryStorage::new(),
        }
    }

    fn call_with(&mut self, method: &str, mut context: NearContext) -> NearOutcome {
        if context.storage_usage == 0 {
            context.storage_usage = self.storage.records_usage(40);
        }
        let storage = std::mem::take(&mut self.storage);
        let (outcome, storage) = self.engine.call(&self.code, method, &context, storage);
        self.storage = storage;
        outcome
    }

    fn call(&mut self, caller: &str, method: &str, args: Value) -> NearOutcome {
        let context = NearContext::new(CONTRACT, caller, args.to_string().into_bytes());
        self.call_with(method, context)
    }

    fn view(&mut self, method: &str, args: Value) -> NearOutcome {
        let mut context = NearContext::new(CONTRACT, "viewer.veil", args.to_string().into_bytes());
        context.view = true;
        self.call_with(method, context)
    }
}

fn json_result(outcome: &NearOutcome) -> Value {
    match &outcome.result {
        Ok(ReturnData::Value(bytes)) => serde_json::from_slice(bytes).unwrap(),
        other => panic!("expected a value, got {other:?} (logs {:?})", outcome.logs),
    }
}

#[test]
fn set_and_get_status_with_logs_and_state() {
    let mut f = Fixture::new();
    let set = f.call("alice.veil", "set_status", json!({"message": "hello"}));
    assert_eq!(set.result, Ok(ReturnData::None), "{:?}", set.logs);
    assert_eq!(set.logs, ["alice.veil set_status with message hello"]);
    // near-sdk keeps the contract struct under STATE and the map entry under its prefix.
    let keys: Vec<&[u8]> = set.state_changes.iter().map(|c| c.key.as_slice()).collect();
    assert!(keys.contains(&b"STATE".as_slice()), "{keys:?}");
    assert_eq!(f.storage.entries.len(), 2);
    assert!(set.burnt_gas > 0 && set.burnt_gas == set.used_gas);
    assert_eq!(set.storage_usage, f.storage.records_usage(40));

    let get = f.view("get_status", json!({"account_id": "alice.veil"}));
    assert_eq!(json_result(&get), json!("hello"));
    assert_eq!(get.logs, ["get_status for account_id alice.veil"]);
    assert!(get.state_changes.is_empty());

    let none = f.view("get_status", json!({"account_id": "bob.veil"}));
    assert_eq!(json_result(&none), Value::Null);

    let bob = f.call("bob.veil", "set_status", json!({"message": "hi"}));
    assert_eq!(bob.result, Ok(ReturnData::None), "{bob:?}");
    assert_eq!(json_result(&f.view("get_updates", json!({}))), json!(2));
    let cleared = f.call("alice.veil", "clear_status", json!({}));
    assert_eq!(json_result(&cleared), json!(true));
    assert!(cleared.state_changes.iter().any(|c| c.value.is_none()));
    assert_eq!(
        json_result(&f.view("get_status", json!({"account_id": "alice.veil"}))),
        Value::Null
    );
}

#[test]
fn panic_fails_the_call_and_writes_nothing() {
    let mut f = Fixture::new();
    f.call("alice.veil", "set_status", json!({"message": "kept"}));
    let before = f.storage.clone();
    let outcome = f.call("alice.veil", "set_status", json!({"message": ""}));
    assert_eq!(
        outcome.result,
        Err(FunctionCallError::HostError(HostError::GuestPanic {
            panic_msg: "status must not be empty".into()
        }))
    );
    assert!(outcome.burnt_gas > 0);
    assert!(outcome.state_changes.is_empty());
    assert_eq!(f.storage, before);
    // Arguments that do not deserialize: near-sdk panics with its own message.
    let bad = f.call("alice.veil", "set_status", json!({"wrong": 1}));
    match bad.result {
        Err(FunctionCallError::HostError(HostError::GuestPanic { panic_msg })) => {
            assert!(
                panic_msg.contains("Failed to deserialize input"),
                "{panic_msg}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_view_call_cannot_write_state() {
    let mut f = Fixture::new();
    let outcome = f.view("set_status", json!({"message": "sneaky"}));
    // near-sdk reads the predecessor first, which a view may not.
    assert_eq!(
        outcome.result,
        Err(FunctionCallError::HostError(HostError::ProhibitedInView {
            method_name: "predecessor_account_id".into()
        }))
    );
    assert!(f.storage.entries.is_empty());
}

#[test]
fn context_hashes_and_deposit_reach_the_contract() {
    let mut f = Fixture::new();
    let mut context = NearContext::new(CONTRACT, "bob.veil", b"{}".to_vec());
    context.signer_account_id = "signer.veil".into();
    context.block_height = 77;
    context.block_timestamp = 1_700_000_000_000_000_000;
    context.epoch_height = 3;
    context.storage_usage = 1234;
    context.random_seed = (0u8..32).collect();
    let outcome = f.call_with("call_info", context);
    let info = json_result(&outcome);
    assert_eq!(info["current"], json!(CONTRACT));
    assert_eq!(info["predecessor"], json!("bob.veil"));
    assert_eq!(info["signer"], json!("signer.veil"));
    assert_eq!(info["block_height"], json!(77));
    assert_eq!(info["block_timestamp"], json!(1_700_000_000_000_000_000u64));
    assert_eq!(info["epoch_height"], json!(3));
    assert_eq!(info["storage_usage"], json!(1234));
    assert_eq!(info["deposit"], json!("0"));
    assert_eq!(info["random_seed"], json!((0u8..32).collect::<Vec<_>>()));

    let mut paid = NearContext::new(CONTRACT, "bob.veil", br#"{"message":"paid"}"#.to_vec());
    paid.attached_deposit = 5;
    assert_eq!(f.call_with("set_status", paid).result, Ok(ReturnData::None));

    let hashes = json_result(&f.view("hashes", json!({"data": "abc"})));
    assert_eq!(
        hashes,
        json!([
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
            "18587dc2ea106b9a1563e32b3312421ca164c7f1f07bc922a9c83d77cea3a1e5d0c69910739025372dc14ac9642629379540c17e2a65b19d77aa511a9d00bb96",
            "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
        ])
    );
}

#[test]
fn gas_runs_out_cleanly_and_is_deterministic() {
    let mut f = Fixture::new();
    let mut context = NearContext::new(CONTRACT, "alice.veil", br#"{"rounds":1000000}"#.to_vec());
    context.prepaid_gas = 5 * TERA_GAS;
    let outcome = f.call_with("burn", context.clone());
    assert_eq!(
        outcome.result,
        Err(FunctionCallError::HostError(HostError::GasExceeded))
    );
    assert_eq!(outcome.burnt_gas, 5 * TERA_GAS);

    context.input = br#"{"rounds":1000}"#.to_vec();
    let first = f.call_with("burn", context.clone());
    let again = f.call_with("burn", context);
    assert!(first.result.is_ok(), "{:?}", first.result);
    assert_eq!(first.burnt_gas, again.burnt_gas);
    assert!(first.burnt_gas < 5 * TERA_GAS);
}

#[test]
fn missing_method_and_bad_code_are_errors() {
    let mut f = Fixture::new();
    let outcome = f.call("alice.veil", "no_such_method", json!({}));
    assert_eq!(
        outcome.result,
        Err(FunctionCallError::MethodNotFound("no_such_method".into()))
    );
    assert_eq!(
        f.call("alice.veil", "", json!({})).result,
        Err(FunctionCallError::MethodEmptyName)
    );
    for bad in [&b""[..], b"\0asm\x01\0\0\0garbage", b"not wasm at all"] {
        assert!(f.engine.store_code(bad).is_err());
    }
    let unknown = Checksum([7; 32]);
    let context = NearContext::new(CONTRACT, "alice.veil", Vec::new());
    let (outcome, _) = f
        .engine
        .call(&unknown, "get_updates", &context, MemoryStorage::new());
    assert!(matches!(
        outcome.result,
        Err(FunctionCallError::CodeNotFound(_))
    ));
}
