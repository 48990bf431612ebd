//! Differential test: cw20-base 2.0.0 (unchanged crates.io source, MVP wasm) run through
//! Veil's engine and through cosmwasm-vm 3 with the same Env, MessageInfo and messages.
//!
//! For every step both VMs must agree on success/failure, the full `Response` (data,
//! attributes, events, messages), the exact query bytes, the contract's error string and
//! the sequence of storage accesses; at the end both storages must be identical. Gas of
//! both is printed (not asserted equal); Veil's gas must be deterministic: the sequence is
//! replayed on two fresh engines and once more on a warm engine, with identical gas per step.
//!
//! Gas accounting: the cosmwasm-vm side charges Veil's prices for storage (externally, as
//! wasmd's KV gas meter does) and for address operations, so both sides pay the same for
//! host services and the printed ratios measure Wasm execution metering.
//!
//! Run: `cargo test --manifest-path crates/tools/conformance/Cargo.toml --test cw20_differential -- --nocapture`

#[path = "common/vm.rs"]
mod vm;

use std::sync::Arc;

use serde_json::{json, Value};
use veil_conformance::{
    account, comparable, contract, cw20_base_wasm, storage_gas, Outcome, StepResult, VeilRunner,
};
use veil_engine::cosmwasm_std::{to_json_binary, Binary, CosmosMsg, ReplyOn, WasmMsg};
use veil_engine::gas::GasCosts;
use veil_engine::{Engine, EngineConfig, Entry};

/// One call in the sequence.
#[derive(Debug, Clone)]
struct Step {
    name: String,
    entry: Entry,
    sender: Option<String>,
    msg: Vec<u8>,
    expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    /// The contract returns an error; both VMs must return the same string.
    ContractError,
    /// The contract returns an error whose text comes from the host's address API
    /// (Veil's `Bech32Api` vs cosmwasm-vm's `MockApi`); only the prefix must match.
    ApiError,
}

/// Gas of one step on both VMs.
struct GasRow {
    name: String,
    veil: u64,
    vm: u64,
    vm_internal: u64,
    storage: u64,
}

struct Accounts {
    creator: String,
    alice: String,
    bob: String,
    carol: String,
    minter: String,
    erin: String,
    frank: String,
    nobody: String,
    receiver: String,
    token: String,
}

impl Accounts {
    fn new() -> Self {
        Self {
            creator: account("creator"),
            alice: account("alice"),
            bob: account("bob"),
            carol: account("carol"),
            minter: account("minter"),
            erin: account("erin"),
            frank: account("frank"),
            nobody: account("nobody"),
            receiver: contract("receiver"),
            token: contract("cw20-base"),
        }
    }
}

/// Runs a step on both VMs and checks they agree.
struct Lockstep {
    veil: VeilRunner,
    vm: vm::VmRunner,
    steps: Vec<Step>,
    gas: Vec<GasRow>,
    costs: GasCosts,
}

impl Lockstep {
    fn run(
        &mut self,
        name: &str,
        entry: Entry,
        sender: Option<&str>,
        msg: Value,
        expect: Expect,
    ) -> Outcome {
        let msg = serde_json::to_vec(&msg).unwrap();
        let veil = self.veil.call(entry, sender, &msg);
        let (vm, report) = self.vm.call(entry, sender, &msg);
        self.check(name, expect, &veil, &vm);
        let storage: u64 = vm.ops.iter().map(|op| storage_gas(&self.costs, op)).sum();
        assert_eq!(
            report.used_externally, storage,
            "{name}: cosmwasm-vm's external gas is exactly our storage charges"
        );
        self.gas.push(GasRow {
            name: name.to_string(),
            veil: veil.gas_used,
            vm: vm.gas_used,
            vm_internal: report.used_internally,
            storage,
        });
        self.steps.push(Step {
            name: name.to_string(),
            entry,
            sender: sender.map(str::to_string),
            msg,
            expect,
        });
        veil.outcome
    }

    fn check(&self, name: &str, expect: Expect, veil: &StepResult, vm: &StepResult) {
        match expect {
            Expect::Ok => {
                assert!(
                    veil.outcome.is_ok(),
                    "{name}: Veil failed: {:?}",
                    veil.outcome
                );
                assert_eq!(veil.outcome, vm.outcome, "{name}: outcomes differ");
            }
            Expect::ContractError => {
                assert!(
                    matches!(veil.outcome, Outcome::ContractError(_)),
                    "{name}: expected a contract error from Veil, got {:?}",
                    veil.outcome
                );
                assert_eq!(veil.outcome, vm.outcome, "{name}: error strings differ");
            }
            Expect::ApiError => match (&veil.outcome, &vm.outcome) {
                (Outcome::ContractError(a), Outcome::ContractError(b)) => {
                    let prefix = "Generic error: addr_validate errored: ";
                    assert!(
                        a.starts_with(prefix) && b.starts_with(prefix),
                        "{name}: {a:?} / {b:?}"
                    );
                    if a != b {
                        println!("note: {name}: address API messages differ (host API, not VM):\n  veil:        {a}\n  cosmwasm-vm: {b}");
                    }
                }
                other => panic!("{name}: expected contract errors from both, got {other:?}"),
            },
        }
        assert_eq!(
            comparable(&veil.ops),
            comparable(&vm.ops),
            "{name}: storage accesses differ"
        );
    }

    fn query(&mut self, name: &str, msg: Value) -> Value {
        match self.run(name, Entry::Query, None, msg, Expect::Ok) {
            Outcome::Query(bytes) => serde_json::from_slice(&bytes).unwrap(),
            other => panic!("{name}: {other:?}"),
        }
    }
}

fn response(outcome: &Outcome) -> &veil_engine::cosmwasm_std::Response {
    match outcome {
        Outcome::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

#[test]
fn cw20_base_matches_cosmwasm_vm() {
    let wasm = cw20_base_wasm();
    let a = Accounts::new();
    println!(
        "cw20-base {}: {} bytes of wasm",
        veil_conformance::CW20_BASE_VERSION,
        wasm.len()
    );

    let mut ls = Lockstep {
        veil: VeilRunner::new(wasm, &a.token),
        vm: vm::VmRunner::new(wasm, &a.token),
        steps: vec![],
        gas: vec![],
        costs: GasCosts::default(),
    };

    // --- executes ---------------------------------------------------------------------
    ls.run(
        "instantiate",
        Entry::Instantiate,
        Some(&a.creator),
        json!({
            "name": "Veil Token",
            "symbol": "VEIL",
            "decimals": 6,
            "initial_balances": [
                {"address": a.alice, "amount": "1000000"},
                {"address": a.bob, "amount": "500000"},
                {"address": a.carol, "amount": "250000"},
            ],
            "mint": {"minter": a.minter, "cap": "10000000"},
            "marketing": {
                "project": "https://veil.example",
                "description": "conformance token",
                "marketing": a.alice,
                "logo": {"url": "https://veil.example/logo.png"},
            },
        }),
        Expect::Ok,
    );
    let out = ls.run(
        "transfer",
        Entry::Execute,
        Some(&a.alice),
        json!({"transfer": {"recipient": a.bob, "amount": "1000"}}),
        Expect::Ok,
    );
    assert!(response(&out).messages.is_empty());

    let hook = to_json_binary(&json!({"deposit": {"memo": "hello"}})).unwrap();
    let out = ls.run(
        "send",
        Entry::Execute,
        Some(&a.alice),
        json!({"send": {"contract": a.receiver, "amount": "2500", "msg": hook}}),
        Expect::Ok,
    );
    let r = response(&out);
    assert_eq!(r.messages.len(), 1, "send produces one sub-message");
    assert_eq!(r.messages[0].reply_on, ReplyOn::Never);
    match &r.messages[0].msg {
        CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr,
            msg,
            funds,
        }) => {
            assert_eq!(contract_addr, &a.receiver);
            assert!(funds.is_empty());
            let receive: Value = serde_json::from_slice(msg).unwrap();
            assert_eq!(
                receive,
                json!({"receive": {"sender": a.alice, "amount": "2500", "msg": hook}})
            );
        }
        other => panic!("unexpected sub-message {other:?}"),
    }

    ls.run(
        "burn",
        Entry::Execute,
        Some(&a.bob),
        json!({"burn": {"amount": "300"}}),
        Expect::Ok,
    );
    ls.run(
        "mint",
        Entry::Execute,
        Some(&a.minter),
        json!({"mint": {"recipient": a.carol, "amount": "5000"}}),
        Expect::Ok,
    );
    ls.run(
        "increase_allowance (erin)",
        Entry::Execute,
        Some(&a.alice),
        json!({"increase_allowance": {"spender": a.erin, "amount": "10000", "expires": {"at_height": 20000}}}),
        Expect::Ok,
    );
    ls.run(
        "increase_allowance (frank)",
        Entry::Execute,
        Some(&a.alice),
        json!({"increase_allowance": {"spender": a.frank, "amount": "7000"}}),
        Expect::Ok,
    );
    ls.run(
        "decrease_allowance (erin)",
        Entry::Execute,
        Some(&a.alice),
        json!({"decrease_allowance": {"spender": a.erin, "amount": "4000"}}),
        Expect::Ok,
    );
    ls.run(
        "transfer_from",
        Entry::Execute,
        Some(&a.erin),
        json!({"transfer_from": {"owner": a.alice, "recipient": a.carol, "amount": "1500"}}),
        Expect::Ok,
    );
    ls.run(
        "burn_from",
        Entry::Execute,
        Some(&a.frank),
        json!({"burn_from": {"owner": a.alice, "amount": "2000"}}),
        Expect::Ok,
    );
    let out = ls.run(
        "send_from",
        Entry::Execute,
        Some(&a.frank),
        json!({"send_from": {"owner": a.alice, "contract": a.receiver, "amount": "1000", "msg": Binary::from(b"{}")}}),
        Expect::Ok,
    );
    assert_eq!(response(&out).messages.len(), 1);
    ls.run(
        "transfer zero",
        Entry::Execute,
        Some(&a.alice),
        json!({"transfer": {"recipient": a.bob, "amount": "0"}}),
        Expect::Ok,
    );
    ls.run(
        "update_marketing",
        Entry::Execute,
        Some(&a.alice),
        json!({"update_marketing": {"description": "updated"}}),
        Expect::Ok,
    );

    // --- failures ---------------------------------------------------------------------
    let out = ls.run(
        "transfer more than balance (fails)",
        Entry::Execute,
        Some(&a.carol),
        json!({"transfer": {"recipient": a.alice, "amount": "999999999"}}),
        Expect::ContractError,
    );
    println!("transfer more than balance -> {out:?}");
    ls.run(
        "transfer_from over allowance (fails)",
        Entry::Execute,
        Some(&a.erin),
        json!({"transfer_from": {"owner": a.alice, "recipient": a.erin, "amount": "1000000"}}),
        Expect::ContractError,
    );
    ls.run(
        "mint by non-minter (fails)",
        Entry::Execute,
        Some(&a.bob),
        json!({"mint": {"recipient": a.bob, "amount": "1"}}),
        Expect::ContractError,
    );
    ls.run(
        "unknown message (fails)",
        Entry::Execute,
        Some(&a.alice),
        json!({"no_such_message": {}}),
        Expect::ContractError,
    );
    ls.run(
        "transfer to invalid address (fails)",
        Entry::Execute,
        Some(&a.alice),
        json!({"transfer": {"recipient": "veil1notanaddress", "amount": "1"}}),
        Expect::ApiError,
    );

    // --- queries ----------------------------------------------------------------------
    for (who, addr) in [
        ("alice", &a.alice),
        ("bob", &a.bob),
        ("carol", &a.carol),
        ("receiver", &a.receiver),
        ("nobody", &a.nobody),
    ] {
        let v = ls.query(
            &format!("balance ({who})"),
            json!({"balance": {"address": addr}}),
        );
        println!("balance {who}: {v}");
    }
    let expected_alice = 1_000_000 - 1_000 - 2_500 - 1_500 - 2_000 - 1_000;
    assert_eq!(
        ls.query(
            "balance (alice, again)",
            json!({"balance": {"address": a.alice}})
        ),
        json!({"balance": expected_alice.to_string()})
    );
    let info = ls.query("token_info", json!({"token_info": {}}));
    assert_eq!(
        info["total_supply"],
        json!((1_750_000 - 300 + 5_000 - 2_000).to_string())
    );
    ls.query("minter", json!({"minter": {}}));
    ls.query("marketing_info", json!({"marketing_info": {}}));
    ls.run(
        "download_logo (fails: not embedded)",
        Entry::Query,
        None,
        json!({"download_logo": {}}),
        Expect::ContractError,
    );
    ls.query(
        "allowance (alice→erin)",
        json!({"allowance": {"owner": a.alice, "spender": a.erin}}),
    );
    ls.query(
        "allowance (alice→frank)",
        json!({"allowance": {"owner": a.alice, "spender": a.frank}}),
    );
    ls.query(
        "allowance (bob→erin, none)",
        json!({"allowance": {"owner": a.bob, "spender": a.erin}}),
    );

    // all_allowances: one per page until an empty page.
    let mut start_after: Option<String> = None;
    let mut spenders = vec![];
    for page in 0.. {
        let v = ls.query(
            &format!("all_allowances page {page}"),
            json!({"all_allowances": {"owner": a.alice, "start_after": start_after, "limit": 1}}),
        );
        let list = v["allowances"].as_array().unwrap().clone();
        assert!(list.len() <= 1);
        let Some(last) = list.last() else { break };
        let spender = last["spender"].as_str().unwrap().to_string();
        spenders.push(spender.clone());
        start_after = Some(spender);
    }
    let mut expected = vec![a.erin.clone(), a.frank.clone()];
    expected.sort();
    assert_eq!(spenders, expected);
    ls.query(
        "all_spender_allowances (frank)",
        json!({"all_spender_allowances": {"spender": a.frank}}),
    );

    // all_accounts: two per page until an empty page.
    let mut start_after: Option<String> = None;
    let mut accounts: Vec<String> = vec![];
    for page in 0.. {
        let v = ls.query(
            &format!("all_accounts page {page}"),
            json!({"all_accounts": {"start_after": start_after, "limit": 2}}),
        );
        let list: Vec<String> = serde_json::from_value(v["accounts"].clone()).unwrap();
        assert!(list.len() <= 2);
        let Some(last) = list.last().cloned() else {
            break;
        };
        accounts.extend(list);
        start_after = Some(last);
    }
    let mut expected = vec![
        a.alice.clone(),
        a.bob.clone(),
        a.carol.clone(),
        a.receiver.clone(),
    ];
    expected.sort();
    assert_eq!(accounts, expected, "all_accounts pages");

    // --- final storage ----------------------------------------------------------------
    let veil_storage: Vec<(Vec<u8>, Vec<u8>)> = ls
        .veil
        .storage
        .entries
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let vm_storage = ls.vm.storage_dump();
    assert_eq!(
        veil_storage.len(),
        vm_storage.len(),
        "number of storage entries"
    );
    assert_eq!(veil_storage, vm_storage, "storage after the sequence");
    println!("final storage: {} identical entries", veil_storage.len());

    // --- gas --------------------------------------------------------------------------
    print_gas(&ls.gas);

    // Veil's gas is deterministic: two fresh engines, then a warm one.
    let first: Vec<u64> = ls.gas.iter().map(|g| g.veil).collect();
    let fresh = replay(
        &ls.steps,
        Arc::new(Engine::new(EngineConfig::default())),
        &a.token,
    );
    assert_eq!(fresh, first, "gas on a second fresh engine");
    let engine = Arc::new(Engine::new(EngineConfig::default()));
    assert_eq!(
        replay(&ls.steps, engine.clone(), &a.token),
        first,
        "gas on a third fresh engine"
    );
    assert!(engine.is_loaded(&veil_engine::Checksum::of(wasm)));
    assert_eq!(
        replay(&ls.steps, engine, &a.token),
        first,
        "gas with the module already cached"
    );
    println!("Veil gas identical per step over 3 more runs (2 fresh engines, 1 warm cache)");
}

/// Replays `steps` on Veil alone (checking each outcome kind again); returns gas per step.
fn replay(steps: &[Step], engine: Arc<Engine>, token: &str) -> Vec<u64> {
    let mut veil = VeilRunner::with_engine(engine, cw20_base_wasm(), token);
    steps
        .iter()
        .map(|step| {
            let r = veil.call(step.entry, step.sender.as_deref(), &step.msg);
            assert_eq!(
                r.outcome.is_ok(),
                step.expect == Expect::Ok,
                "{}",
                step.name
            );
            r.gas_used
        })
        .collect()
}

fn print_gas(rows: &[GasRow]) {
    println!();
    println!("Gas per step (CosmWasm gas). Both sides pay Veil's prices for storage and address");
    println!("operations (\"host\"); \"exec\" = total - storage charges (Wasm execution + host-call overhead).");
    println!(
        "{:<40} {:>14} {:>14} {:>7} {:>14} {:>13} {:>13} {:>7}",
        "step", "veil total", "vm total", "ratio", "storage", "veil exec", "vm exec", "ratio"
    );
    let (mut tv, mut tm, mut ts, mut ti) = (0u64, 0u64, 0u64, 0u64);
    for g in rows {
        let veil_exec = g.veil.saturating_sub(g.storage);
        println!(
            "{:<40} {:>14} {:>14} {:>7.3} {:>14} {:>13} {:>13} {:>7.3}",
            g.name,
            g.veil,
            g.vm,
            g.veil as f64 / g.vm as f64,
            g.storage,
            veil_exec,
            g.vm_internal,
            veil_exec as f64 / g.vm_internal as f64
        );
        tv += g.veil;
        tm += g.vm;
        ts += g.storage;
        ti += g.vm_internal;
    }
    println!(
        "{:<40} {:>14} {:>14} {:>7.3} {:>14} {:>13} {:>13} {:>7.3}",
        "TOTAL",
        tv,
        tm,
        tv as f64 / tm as f64,
        ts,
        tv - ts,
        ti,
        (tv - ts) as f64 / ti as f64
    );
    println!();
}
