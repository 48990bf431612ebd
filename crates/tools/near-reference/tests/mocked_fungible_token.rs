//! The fungible token (near-contract-standards) on Veil and on near-sdk's
//! MockedBlockchain: same returns, logs, state and receipts through init, registration,
//! transfers, `ft_transfer_call` and its callback with a supplied promise result.
//! The native side calls methods as near-sdk's Wasm exports do (see mocked_blockchain.rs).

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};

use near_contract_standards::fungible_token::core::FungibleTokenCore;
use near_contract_standards::fungible_token::resolver::FungibleTokenResolver;
use near_contract_standards::storage_management::StorageManagement;
use near_fungible_token::Contract;
use near_sdk::json_types::U128;
use near_sdk::mock::MockAction;
use near_sdk::test_utils::VMContextBuilder;
use near_sdk::{env, test_vm_config, AccountId, MockedBlockchain, NearToken, RuntimeFeesConfig};
use serde_json::{json, Value};
use veil_near_engine::{
    Action, Checksum, FunctionCallError, HostError, MemoryStorage, NearContext, NearEngine,
    NearEngineConfig, PromiseResult, ReturnData,
};

const TOKEN: &str = "token.veil";
const BALANCE: u128 = 50 * 10u128.pow(24);

/// A receipt as both sides can describe it: receiver, dependencies, and its function
/// calls / transfers as (method, args, deposit).
type Receipts = Vec<(String, Vec<u64>, Vec<(String, Vec<u8>, u128)>)>;

#[derive(Debug, PartialEq)]
struct Observed {
    result: Result<Option<Vec<u8>>, String>,
    logs: Vec<String>,
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    receipts: Receipts,
}

struct Step {
    caller: &'static str,
    deposit: u128,
    promise_results: Vec<PromiseResult>,
}

fn by(caller: &'static str, deposit: u128) -> Step {
    Step {
        caller,
        deposit,
        promise_results: Vec::new(),
    }
}

struct Veil {
    engine: NearEngine,
    code: Checksum,
    storage: MemoryStorage,
}

impl Veil {
    fn run(&mut self, step: &Step, method: &str, args: Value) -> Observed {
        let mut context = NearContext::new(TOKEN, step.caller, args.to_string().into_bytes());
        context.attached_deposit = step.deposit;
        context.account_balance = BALANCE + step.deposit;
        context.storage_usage = self.storage.records_usage(40);
        context.promise_results = step.promise_results.clone();
        let storage = std::mem::take(&mut self.storage);
        let (outcome, storage) = self.engine.call(&self.code, method, &context, storage);
        self.storage = storage;
        let result = match outcome.result {
            Ok(ReturnData::None) | Ok(ReturnData::ReceiptIndex(_)) => Ok(None),
            Ok(ReturnData::Value(v)) => Ok(Some(v)),
            Err(FunctionCallError::HostError(HostError::GuestPanic { panic_msg })) => {
                Err(panic_msg)
            }
            Err(other) => Err(other.to_string()),
        };
        let receipts = outcome
            .receipts
            .iter()
            .map(|r| {
                let actions = r
                    .actions
                    .iter()
                    .map(|a| match a {
                        Action::FunctionCall {
                            method_name,
                            args,
                            deposit,
                            ..
                        } => (method_name.clone(), args.clone(), *deposit),
                        Action::Transfer { deposit } => ("<transfer>".into(), vec![], *deposit),
                        other => panic!("unexpected {other:?}"),
                    })
                    .collect();
                (r.receiver_id.clone(), r.depends_on.clone(), actions)
            })
            .collect();
        Observed {
            result,
            logs: outcome.logs,
            state: self.storage.entries.clone(),
            receipts,
        }
    }
}

struct Mock {
    state: HashMap<Vec<u8>, Vec<u8>>,
}

impl Mock {
    /// `method` returns the JSON bytes the export would return (`None`: no value).
    fn run(
        &mut self,
        step: &Step,
        method: impl FnOnce(Option<Contract>) -> (Option<Contract>, Option<Vec<u8>>),
    ) -> Observed {
        let caller: AccountId = step.caller.parse().unwrap();
        let usage = self
            .state
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64 + 40)
            .sum();
        let context = VMContextBuilder::new()
            .current_account_id(TOKEN.parse().unwrap())
            .signer_account_id(caller.clone())
            .predecessor_account_id(caller)
            .attached_deposit(NearToken::from_yoctonear(step.deposit))
            .account_balance(NearToken::from_yoctonear(BALANCE + step.deposit))
            .storage_usage(usage)
            .build();
        let promise_results = step
            .promise_results
            .iter()
            .map(|r| match r {
                PromiseResult::Successful(v) => near_sdk::PromiseResult::Successful(v.clone()),
                PromiseResult::Failed => near_sdk::PromiseResult::Failed,
            })
            .collect();
        env::set_blockchain_interface(MockedBlockchain::new(
            context,
            test_vm_config(),
            RuntimeFeesConfig::test(),
            promise_results,
            self.state.clone(),
            Default::default(),
            None,
        ));
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let (contract, value) = method(env::state_read());
            if let Some(contract) = &contract {
                env::state_write(contract);
            }
            drop(contract);
            value
        }));
        let logs = near_sdk::test_utils::get_logs();
        let receipts = near_sdk::test_utils::get_created_receipts()
            .into_iter()
            .map(|r| {
                let actions = r
                    .actions
                    .into_iter()
                    .map(|a| match a {
                        MockAction::FunctionCallWeight {
                            method_name,
                            args,
                            attached_deposit,
                            ..
                        } => (
                            String::from_utf8(method_name).unwrap(),
                            args,
                            attached_deposit.as_yoctonear(),
                        ),
                        MockAction::Transfer { deposit, .. } => {
                            ("<transfer>".into(), vec![], deposit.as_yoctonear())
                        }
                        other => panic!("unexpected {other:?}"),
                    })
                    .collect();
                (r.receiver_id.to_string(), r.receipt_indices, actions)
            })
            .collect();
        let storage = near_sdk::mock::with_mocked_blockchain(|b| b.take_storage());
        let result = match outcome {
            Ok(value) => {
                self.state = storage;
                Ok(value)
            }
            Err(panic) => Err(panic_message(panic)),
        };
        let failed = result.is_err();
        Observed {
            result,
            logs,
            state: self.state.clone().into_iter().collect(),
            receipts: if failed { Vec::new() } else { receipts },
        }
    }
}

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

fn json<T: near_sdk::serde::Serialize>(value: &T) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(value).unwrap())
}

fn account(id: &str) -> AccountId {
    id.parse().unwrap()
}

#[test]
fn fungible_token_matches_mocked_blockchain() {
    let engine = NearEngine::new(NearEngineConfig::default());
    let code = engine
        .store_code(&veil_near_reference::near_contract_wasm("fungible-token"))
        .unwrap();
    let mut veil = Veil {
        engine,
        code,
        storage: MemoryStorage::new(),
    };
    let mut mock = Mock {
        state: HashMap::new(),
    };
    // Returns Veil's side, for checks that the scenario did what it says.
    let compare = |what: &str, ours: Observed, theirs: Observed| -> Observed {
        assert_eq!(ours, theirs, "{what}");
        ours
    };

    let owner = by("owner.veil", 0);
    compare(
        "new",
        veil.run(
            &owner,
            "new",
            json!({"owner_id": "owner.veil", "total_supply": "1000000", "symbol": "VEIL"}),
        ),
        mock.run(&owner, |_| {
            let c = Contract::new(account("owner.veil"), U128(1_000_000), "VEIL".into());
            (Some(c), None)
        }),
    );
    let min = 1_250_000_000_000_000_000_000u128; // near-contract-standards' account size × byte cost
    for (who, deposit, refunds) in [("bob.veil", min + 5, 1), ("dex.veil", min, 0)] {
        let step = by(who, deposit);
        let ours = compare(
            &format!("storage_deposit {who}"),
            veil.run(&step, "storage_deposit", json!({})),
            mock.run(&step, |c| {
                let mut c = c.unwrap();
                let balance = c.storage_deposit(None, None);
                (Some(c), json(&balance))
            }),
        );
        assert!(ours.result.is_ok(), "{ours:?}");
        assert_eq!(ours.receipts.len(), refunds, "the excess is refunded");
    }
    let paid = by("owner.veil", 1);
    let ours = compare(
        "ft_transfer",
        veil.run(
            &paid,
            "ft_transfer",
            json!({"receiver_id": "bob.veil", "amount": "250", "memo": "rent"}),
        ),
        mock.run(&paid, |c| {
            let mut c = c.unwrap();
            c.ft_transfer(account("bob.veil"), U128(250), Some("rent".into()));
            (Some(c), None)
        }),
    );
    assert_eq!(ours.result, Ok(None));
    let bob = by("bob.veil", 1);
    let ours = compare(
        "ft_transfer overdraft",
        veil.run(
            &bob,
            "ft_transfer",
            json!({"receiver_id": "owner.veil", "amount": "251"}),
        ),
        mock.run(&bob, |c| {
            let mut c = c.unwrap();
            c.ft_transfer(account("owner.veil"), U128(251), None);
            (Some(c), None)
        }),
    );
    assert!(ours.result.is_err());
    let ours = compare(
        "ft_transfer_call",
        veil.run(
            &paid,
            "ft_transfer_call",
            json!({"receiver_id": "dex.veil", "amount": "1000", "msg": "swap"}),
        ),
        mock.run(&paid, |c| {
            let mut c = c.unwrap();
            // The export returns the promise (`promise_return`): no value.
            let promise = c.ft_transfer_call(account("dex.veil"), U128(1000), None, "swap".into());
            drop(promise);
            (Some(c), None)
        }),
    );
    assert_eq!(ours.receipts.len(), 2, "ft_on_transfer and its callback");
    let callback = Step {
        caller: TOKEN,
        deposit: 0,
        promise_results: vec![PromiseResult::Successful(b"\"300\"".to_vec())],
    };
    let ours = compare(
        "ft_resolve_transfer",
        veil.run(
            &callback,
            "ft_resolve_transfer",
            json!({"sender_id": "owner.veil", "receiver_id": "dex.veil", "amount": "1000"}),
        ),
        mock.run(&callback, |c| {
            let mut c = c.unwrap();
            let used =
                c.ft_resolve_transfer(account("owner.veil"), account("dex.veil"), U128(1000));
            (Some(c), json(&used))
        }),
    );
    assert_eq!(ours.result, Ok(Some(b"\"700\"".to_vec())));
    let view = by("anyone.veil", 0);
    for (who, expected) in [
        ("owner.veil", "999050"),
        ("bob.veil", "250"),
        ("dex.veil", "700"),
    ] {
        let ours = compare(
            &format!("ft_balance_of {who}"),
            veil.run(&view, "ft_balance_of", json!({"account_id": who})),
            mock.run(&view, |c| {
                let c = c.unwrap();
                let balance = c.ft_balance_of(account(who));
                (None, json(&balance))
            }),
        );
        assert_eq!(ours.result, Ok(json(&expected)));
    }
}
