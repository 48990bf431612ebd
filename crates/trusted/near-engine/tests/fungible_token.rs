//! A NEP-141 token on near-contract-standards: init, storage registration (a refund
//! promise), transfers, `ft_transfer_call` (a cross-contract call and its callback) and
//! the callback run with the promise result the caller supplies.

mod common;

use serde_json::{json, Value};
use veil_near_engine::{
    Action, Checksum, FunctionCallError, HostError, MemoryStorage, NearContext, NearEngine,
    NearEngineConfig, NearOutcome, PromiseResult, ReturnData,
};

const TOKEN: &str = "token.veil";
const NEAR: u128 = 1_000_000_000_000_000_000_000_000;

struct Token {
    engine: NearEngine,
    code: Checksum,
    storage: MemoryStorage,
    balance: u128,
}

impl Token {
    fn deploy() -> Self {
        let engine = NearEngine::new(NearEngineConfig::default());
        let code = engine
            .store_code(&common::near_contract("fungible-token"))
            .unwrap();
        let mut token = Self {
            engine,
            code,
            storage: MemoryStorage::new(),
            balance: 100 * NEAR,
        };
        let init = token.call(
            "owner.veil",
            "new",
            json!({"owner_id": "owner.veil", "total_supply": "1000", "symbol": "VEIL"}),
            0,
        );
        assert_eq!(init.result, Ok(ReturnData::None), "{init:?}");
        assert!(init.logs[0].starts_with("EVENT_JSON:"), "{:?}", init.logs);
        token
    }

    fn context(&self, caller: &str, args: &Value, deposit: u128) -> NearContext {
        let mut context = NearContext::new(TOKEN, caller, args.to_string().into_bytes());
        context.attached_deposit = deposit;
        context.account_balance = self.balance + deposit;
        context.storage_usage = self.storage.records_usage(40);
        context
    }

    fn run(&mut self, method: &str, context: NearContext) -> NearOutcome {
        let storage = std::mem::take(&mut self.storage);
        let (outcome, storage) = self.engine.call(&self.code, method, &context, storage);
        self.storage = storage;
        if outcome.result.is_ok() {
            self.balance = outcome.balance;
        }
        outcome
    }

    fn call(&mut self, caller: &str, method: &str, args: Value, deposit: u128) -> NearOutcome {
        let context = self.context(caller, &args, deposit);
        self.run(method, context)
    }

    fn view(&mut self, method: &str, args: Value) -> Value {
        let mut context = self.context("anyone.veil", &args, 0);
        context.view = true;
        let outcome = self.run(method, context);
        match outcome.result {
            Ok(ReturnData::Value(bytes)) => serde_json::from_slice(&bytes).unwrap(),
            other => panic!("{method}: {other:?}"),
        }
    }

    fn balance_of(&mut self, account: &str) -> Value {
        self.view("ft_balance_of", json!({"account_id": account}))
    }
}

#[test]
fn init_register_and_transfer() {
    let mut t = Token::deploy();
    assert_eq!(t.view("ft_total_supply", json!({})), json!("1000"));
    assert_eq!(t.balance_of("owner.veil"), json!("1000"));
    assert_eq!(t.view("ft_metadata", json!({}))["symbol"], json!("VEIL"));

    // Registering bob with more than the minimum refunds the rest by a transfer promise.
    let bounds = t.view("storage_balance_bounds", json!({}));
    let min: u128 = bounds["min"].as_str().unwrap().parse().unwrap();
    let register = t.call("bob.veil", "storage_deposit", json!({}), min + 7);
    assert!(register.result.is_ok(), "{register:?}");
    assert_eq!(register.receipts.len(), 1, "{:?}", register.receipts);
    assert_eq!(register.receipts[0].receiver_id, "bob.veil");
    assert_eq!(
        register.receipts[0].actions,
        [Action::Transfer { deposit: 7 }]
    );
    assert!(
        register.used_gas > register.burnt_gas,
        "the refund's execution is reserved"
    );

    // ft_transfer wants exactly one yoctoNEAR attached.
    let unpaid = t.call(
        "owner.veil",
        "ft_transfer",
        json!({"receiver_id": "bob.veil", "amount": "10"}),
        0,
    );
    assert!(
        matches!(&unpaid.result, Err(FunctionCallError::HostError(HostError::GuestPanic { panic_msg })) if panic_msg.contains("Requires attached deposit of exactly 1 yoctoNEAR")),
        "{unpaid:?}"
    );
    let sent = t.call(
        "owner.veil",
        "ft_transfer",
        json!({"receiver_id": "bob.veil", "amount": "10", "memo": "hi"}),
        1,
    );
    assert_eq!(sent.result, Ok(ReturnData::None), "{sent:?}");
    assert!(sent.logs[0].contains("ft_transfer"), "{:?}", sent.logs);
    assert_eq!(t.balance_of("owner.veil"), json!("990"));
    assert_eq!(t.balance_of("bob.veil"), json!("10"));

    let too_much = t.call(
        "bob.veil",
        "ft_transfer",
        json!({"receiver_id": "owner.veil", "amount": "11"}),
        1,
    );
    assert!(
        matches!(&too_much.result, Err(FunctionCallError::HostError(HostError::GuestPanic { panic_msg })) if panic_msg.contains("The account doesn't have enough balance")),
        "{too_much:?}"
    );
    assert_eq!(t.balance_of("bob.veil"), json!("10"));
}

#[test]
fn transfer_call_records_the_call_and_its_callback() {
    let mut t = Token::deploy();
    let min: u128 = t.view("storage_balance_bounds", json!({}))["min"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(t
        .call("dex.veil", "storage_deposit", json!({}), min)
        .result
        .is_ok());

    let args = json!({"receiver_id": "dex.veil", "amount": "100", "msg": "swap"});
    let call = t.call("owner.veil", "ft_transfer_call", args, 1);
    let receipts = &call.receipts;
    assert_eq!(receipts.len(), 2, "{call:?}");
    assert_eq!(receipts[0].receiver_id, "dex.veil");
    let Action::FunctionCall {
        method_name,
        args,
        deposit,
        ..
    } = &receipts[0].actions[0]
    else {
        panic!("{:?}", receipts[0].actions);
    };
    assert_eq!((method_name.as_str(), *deposit), ("ft_on_transfer", 0));
    let args: Value = serde_json::from_slice(args).unwrap();
    assert_eq!(
        args,
        json!({"sender_id": "owner.veil", "amount": "100", "msg": "swap"})
    );
    assert_eq!(receipts[1].receiver_id, TOKEN);
    assert_eq!(receipts[1].depends_on, [0]);
    let Action::FunctionCall { method_name, .. } = &receipts[1].actions[0] else {
        panic!()
    };
    assert_eq!(method_name, "ft_resolve_transfer");
    assert_eq!(call.result, Ok(ReturnData::ReceiptIndex(1)));
    assert_eq!(t.balance_of("dex.veil"), json!("100"));

    // The callback, as the chain would run it: dex used 60 and returns 40 unused.
    let resolve_args =
        json!({"sender_id": "owner.veil", "receiver_id": "dex.veil", "amount": "100"});
    let mut context = t.context(TOKEN, &resolve_args, 0);
    context.promise_results = vec![PromiseResult::Successful(b"\"40\"".to_vec())];
    let resolved = t.run("ft_resolve_transfer", context);
    assert_eq!(
        resolved.result,
        Ok(ReturnData::Value(b"\"60\"".to_vec())),
        "{resolved:?}"
    );
    assert_eq!(t.balance_of("owner.veil"), json!("940"));
    assert_eq!(t.balance_of("dex.veil"), json!("60"));

    // #[private]: only the token itself may call its callback.
    let mut context = t.context("mallory.veil", &resolve_args, 0);
    context.promise_results = vec![PromiseResult::Failed];
    let refused = t.run("ft_resolve_transfer", context);
    assert!(refused.result.is_err());
}

#[test]
fn views_cannot_create_promises() {
    let mut t = Token::deploy();
    let args = json!({"receiver_id": "dex.veil", "amount": "1", "msg": ""});
    let mut context = t.context("owner.veil", &args, 1);
    context.view = true;
    let outcome = t.run("ft_transfer_call", context);
    assert!(
        matches!(
            &outcome.result,
            Err(FunctionCallError::HostError(
                HostError::ProhibitedInView { .. }
            ))
        ),
        "{outcome:?}"
    );
}
