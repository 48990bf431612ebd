//! The status-message contract run twice — by Veil (its Wasm build on veil-near-engine)
//! and by near-sdk's MockedBlockchain (nearcore 0.38's own host functions over a native
//! build of the same source) — must give the same return values, logs, panics and state.
//!
//! On the native side the method is called as near-sdk's generated Wasm export calls it:
//! state read from `STATE` (or default), the method, its result as JSON, state written
//! back for `&mut self` methods.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use near_sdk::test_utils::VMContextBuilder;
use near_sdk::{env, test_vm_config, AccountId, MockedBlockchain, NearToken, RuntimeFeesConfig};
use near_status_message::StatusMessage;
use serde_json::{json, Value};
use veil_near_engine::{
    Checksum, FunctionCallError, HostError, MemoryStorage, NearContext, NearEngine,
    NearEngineConfig, ReturnData,
};

const CONTRACT: &str = "status.veil";

/// One call's setting, given to both sides.
#[derive(Clone)]
struct Call {
    caller: &'static str,
    view: bool,
    deposit: u128,
    block_height: u64,
    random_seed: [u8; 32],
}

impl Call {
    fn by(caller: &'static str) -> Self {
        Self {
            caller,
            view: false,
            deposit: 0,
            block_height: 10,
            random_seed: [3; 32],
        }
    }

    fn view() -> Self {
        Self {
            view: true,
            ..Self::by("viewer.veil")
        }
    }
}

/// What a call produced, in a form both sides give.
#[derive(Debug, PartialEq)]
struct Observed {
    /// JSON result bytes (`None`: no value), or the panic message.
    result: Result<Option<Vec<u8>>, String>,
    logs: Vec<String>,
    state: BTreeMap<Vec<u8>, Vec<u8>>,
}

struct Veil {
    engine: NearEngine,
    code: Checksum,
    storage: MemoryStorage,
}

impl Veil {
    fn new() -> Self {
        let engine = NearEngine::new(NearEngineConfig::default());
        let code = engine
            .store_code(&veil_near_reference::status_message_wasm())
            .unwrap();
        Self {
            engine,
            code,
            storage: MemoryStorage::new(),
        }
    }

    fn run(&mut self, call: &Call, method: &str, args: Value) -> Observed {
        let mut context = NearContext::new(CONTRACT, call.caller, args.to_string().into_bytes());
        context.view = call.view;
        context.attached_deposit = call.deposit;
        context.account_balance = 10u128.pow(24) + call.deposit;
        context.block_height = call.block_height;
        context.random_seed = call.random_seed.to_vec();
        context.storage_usage = self.storage.records_usage(40);
        let storage = std::mem::take(&mut self.storage);
        let (outcome, storage) = self.engine.call(&self.code, method, &context, storage);
        self.storage = storage;
        let result = match outcome.result {
            Ok(ReturnData::None) => Ok(None),
            Ok(ReturnData::Value(v)) => Ok(Some(v)),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(FunctionCallError::HostError(HostError::GuestPanic { panic_msg })) => {
                Err(panic_msg)
            }
            Err(other) => Err(other.to_string()),
        };
        Observed {
            result,
            logs: outcome.logs,
            state: self.storage.entries.clone(),
        }
    }
}

/// MockedBlockchain with the state carried from call to call.
struct Mock {
    state: std::collections::HashMap<Vec<u8>, Vec<u8>>,
}

impl Mock {
    fn run<R: near_sdk::serde::Serialize>(
        &mut self,
        call: &Call,
        mutates: bool,
        method: impl FnOnce(&mut StatusMessage) -> R,
    ) -> Observed {
        let caller: AccountId = call.caller.parse().unwrap();
        let context = VMContextBuilder::new()
            .current_account_id(CONTRACT.parse().unwrap())
            .signer_account_id(caller.clone())
            .predecessor_account_id(caller)
            .is_view(call.view)
            .attached_deposit(NearToken::from_yoctonear(call.deposit))
            .account_balance(NearToken::from_yoctonear(10u128.pow(24) + call.deposit))
            .block_height(call.block_height)
            .random_seed(call.random_seed)
            .storage_usage(self.usage())
            .build();
        env::set_blockchain_interface(MockedBlockchain::new(
            context,
            test_vm_config(),
            RuntimeFeesConfig::test(),
            vec![],
            self.state.clone(),
            Default::default(),
            None,
        ));
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut contract: StatusMessage = env::state_read().unwrap_or_default();
            let result = method(&mut contract);
            if mutates {
                env::state_write(&contract);
            }
            drop(contract); // near-sdk's store collections flush on drop
            serde_json::to_vec(&result).unwrap()
        }));
        let logs = near_sdk::test_utils::get_logs();
        let state = near_sdk::mock::with_mocked_blockchain(|b| b.take_storage());
        let result = match outcome {
            Ok(bytes) => Ok(Some(bytes)),
            Err(panic) => Err(panic_message(panic)),
        };
        if result.is_ok() {
            self.state = state;
        }
        Observed {
            result,
            logs,
            state: self.state.clone().into_iter().collect(),
        }
    }

    fn usage(&self) -> u64 {
        self.state
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64 + 40)
            .sum()
    }
}

/// The contract's panic message: near-sdk's mock unwraps nearcore's
/// `HostError::GuestPanic { panic_msg }`, so the message is inside that error's Debug form.
fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    const MARK: &str = "GuestPanic { panic_msg: ";
    match text.find(MARK) {
        Some(at) => {
            let quoted = &text[at + MARK.len()..];
            let quoted = &quoted[..quoted.rfind(" })").unwrap_or(quoted.len())];
            serde_json::from_str(quoted).unwrap_or_else(|_| quoted.to_string())
        }
        None => text,
    }
}

/// Methods returning `()`: near-sdk's export returns no value at all.
fn unit(mut observed: Observed) -> Observed {
    if observed.result == Ok(Some(b"null".to_vec())) {
        observed.result = Ok(None);
    }
    observed
}

#[test]
fn status_message_matches_mocked_blockchain() {
    let mut veil = Veil::new();
    let mut mock = Mock {
        state: Default::default(),
    };
    let compare = |what: &str, ours: Observed, theirs: Observed| {
        eprintln!("compared: {what}");
        assert_eq!(ours, theirs, "{what}");
    };

    let alice = Call::by("alice.veil");
    compare(
        "alice sets",
        veil.run(&alice, "set_status", json!({"message": "hello"})),
        unit(mock.run(&alice, true, |c| c.set_status("hello".into()))),
    );
    let bob = Call {
        deposit: 1_000,
        block_height: 11,
        ..Call::by("bob.veil")
    };
    compare(
        "bob sets with a deposit",
        veil.run(&bob, "set_status", json!({"message": "hi there"})),
        unit(mock.run(&bob, true, |c| c.set_status("hi there".into()))),
    );
    compare(
        "view get_status",
        veil.run(
            &Call::view(),
            "get_status",
            json!({"account_id": "alice.veil"}),
        ),
        mock.run(&Call::view(), false, |c| {
            c.get_status("alice.veil".parse().unwrap())
        }),
    );
    compare(
        "view get_status of nobody",
        veil.run(
            &Call::view(),
            "get_status",
            json!({"account_id": "carol.veil"}),
        ),
        mock.run(&Call::view(), false, |c| {
            c.get_status("carol.veil".parse().unwrap())
        }),
    );
    let ours = veil.run(&alice, "set_status", json!({"message": ""}));
    let theirs = mock.run(&alice, true, |c| c.set_status(String::new()));
    assert_eq!(ours.result, Err("status must not be empty".to_string()));
    compare("empty status panics", ours, theirs);
    compare(
        "clear",
        veil.run(&alice, "clear_status", json!({})),
        mock.run(&alice, true, |c| c.clear_status()),
    );
    compare(
        "clear again",
        veil.run(&alice, "clear_status", json!({})),
        mock.run(&alice, true, |c| c.clear_status()),
    );
    compare(
        "updates",
        veil.run(&Call::view(), "get_updates", json!({})),
        mock.run(&Call::view(), false, |c| c.get_updates()),
    );
    compare(
        "hashes",
        veil.run(&Call::view(), "hashes", json!({"data": "veil ✓"})),
        mock.run(&Call::view(), false, |c| c.hashes("veil ✓".into())),
    );
    let rich = Call {
        block_height: 999,
        random_seed: [0xab; 32],
        ..Call::by("dave.veil")
    };
    compare(
        "call_info",
        veil.run(&rich, "call_info", json!({})),
        mock.run(&rich, false, |c| c.call_info()),
    );
    compare(
        "burn",
        veil.run(&Call::view(), "burn", json!({"rounds": 5000})),
        mock.run(&Call::view(), false, |c| c.burn(5000)),
    );
}
