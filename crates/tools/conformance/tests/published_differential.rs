//! Differential tests of more published contracts, built unchanged from crates.io (MVP
//! wasm): cw1-whitelist, cw1-subkeys, cw4-group, cw3-fixed-multisig (cw-plus 2.0.0) and
//! cw721-base 0.22.0, run through Veil's engine and through cosmwasm-vm 3 with the same
//! Env, MessageInfo and messages. Each step must agree on the outcome (the whole
//! `Response`, the query bytes, the contract's error string) and on the storage accesses
//! in order; at the end both storages must be identical; Veil's gas must repeat exactly
//! on a fresh engine. cw4-group's and cw721's list queries page through storage ranges
//! (the iterator-heavy contracts).
//!
//! Run: `cargo test --manifest-path crates/tools/conformance/Cargo.toml --test published_differential -- --nocapture`

#[path = "common/vm.rs"]
mod vm;

use std::sync::Arc;

use serde_json::{json, Value};
use veil_conformance::{account, comparable, contract, Outcome, StepResult, VeilRunner};
use veil_contract_build::{build_published, BuildOptions};
use veil_engine::{Engine, EngineConfig, Entry};

fn published(name: &str, version: &str) -> Vec<u8> {
    let path = build_published(
        name,
        version,
        &BuildOptions {
            mvp: true,
            out_dir: None,
            quiet: true,
            near: false,
        },
    )
    .unwrap_or_else(|e| panic!("{name} {version} builds: {e}"));
    std::fs::read(path).unwrap()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Ok,
    ContractError,
}

struct Step {
    entry: Entry,
    sender: Option<String>,
    msg: Vec<u8>,
}

/// One contract on both VMs, call for call.
struct Lockstep {
    name: &'static str,
    wasm: Vec<u8>,
    address: String,
    veil: VeilRunner,
    vm: vm::VmRunner,
    steps: Vec<Step>,
    gas: Vec<u64>,
}

impl Lockstep {
    fn new(name: &'static str, wasm: Vec<u8>) -> Self {
        let address = contract(name);
        Self {
            name,
            veil: VeilRunner::new(&wasm, &address),
            vm: vm::VmRunner::new(&wasm, &address),
            wasm,
            address,
            steps: Vec::new(),
            gas: Vec::new(),
        }
    }

    #[track_caller]
    fn call(&mut self, entry: Entry, sender: Option<&str>, msg: Value, expect: Expect) -> Outcome {
        let label = format!("{} {:?} {msg}", self.name, entry);
        let msg = serde_json::to_vec(&msg).unwrap();
        let veil: StepResult = self.veil.call(entry, sender, &msg);
        let (vm, _) = self.vm.call(entry, sender, &msg);
        match expect {
            Expect::Ok => assert!(veil.outcome.is_ok(), "{label}: Veil: {:?}", veil.outcome),
            Expect::ContractError => assert!(
                matches!(veil.outcome, Outcome::ContractError(_)),
                "{label}: expected a contract error, got {:?}",
                veil.outcome
            ),
        }
        assert_eq!(veil.outcome, vm.outcome, "{label}: outcomes differ");
        assert_eq!(
            comparable(&veil.ops),
            comparable(&vm.ops),
            "{label}: storage accesses differ"
        );
        self.gas.push(veil.gas_used);
        self.steps.push(Step {
            entry,
            sender: sender.map(str::to_string),
            msg,
        });
        veil.outcome
    }

    #[track_caller]
    fn ok(&mut self, entry: Entry, sender: &str, msg: Value) -> Outcome {
        self.call(entry, Some(sender), msg, Expect::Ok)
    }

    #[track_caller]
    fn refused(&mut self, sender: &str, msg: Value) {
        self.call(Entry::Execute, Some(sender), msg, Expect::ContractError);
    }

    #[track_caller]
    fn query(&mut self, msg: Value) -> Value {
        match self.call(Entry::Query, None, msg, Expect::Ok) {
            Outcome::Query(bytes) => serde_json::from_slice(&bytes).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    /// Final storage identical on both; Veil's gas identical on a fresh engine.
    fn finish(mut self) {
        let veil_storage: Vec<(Vec<u8>, Vec<u8>)> = self
            .veil
            .storage
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(
            veil_storage,
            self.vm.storage_dump(),
            "{}: storage after the sequence",
            self.name
        );
        let engine = Arc::new(Engine::new(EngineConfig::default()));
        let mut again = VeilRunner::with_engine(engine, &self.wasm, &self.address);
        let replayed: Vec<u64> = self
            .steps
            .iter()
            .map(|s| again.call(s.entry, s.sender.as_deref(), &s.msg).gas_used)
            .collect();
        assert_eq!(replayed, self.gas, "{}: gas on a fresh engine", self.name);
        println!(
            "{}: {} steps identical on both VMs, {} storage entries, Veil gas repeated",
            self.name,
            self.steps.len(),
            veil_storage.len()
        );
    }
}

fn messages(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Response(r) => r.messages.len(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cw1_whitelist() {
    let (alice, bob, carol) = (account("alice"), account("bob"), account("carol"));
    let mut ls = Lockstep::new("cw1-whitelist", published("cw1-whitelist", "2.0.0"));
    ls.ok(
        Entry::Instantiate,
        &alice,
        json!({"admins": [alice, bob], "mutable": true}),
    );
    let send = json!({"bank": {"send": {"to_address": carol, "amount": [{"denom": "uveil", "amount": "5"}]}}});
    let out = ls.ok(Entry::Execute, &bob, json!({"execute": {"msgs": [send]}}));
    assert_eq!(messages(&out), 1);
    ls.refused(&carol, json!({"execute": {"msgs": [send]}}));
    ls.ok(
        Entry::Execute,
        &alice,
        json!({"update_admins": {"admins": [alice, carol]}}),
    );
    ls.refused(&bob, json!({"update_admins": {"admins": [bob]}}));
    let can = ls.query(json!({"can_execute": {"sender": carol, "msg": send}}));
    assert_eq!(can, json!({"can_execute": true}));
    ls.ok(Entry::Execute, &alice, json!({"freeze": {}}));
    ls.refused(&alice, json!({"update_admins": {"admins": [bob]}}));
    let list = ls.query(json!({"admin_list": {}}));
    assert_eq!(list["mutable"], false, "{list}");
    ls.finish();
}

#[test]
fn cw1_subkeys() {
    let (alice, bob, carol) = (account("alice"), account("bob"), account("carol"));
    let mut ls = Lockstep::new("cw1-subkeys", published("cw1-subkeys", "2.0.0"));
    ls.ok(
        Entry::Instantiate,
        &alice,
        json!({"admins": [alice], "mutable": true}),
    );
    for (spender, amount) in [(&bob, "100"), (&carol, "40")] {
        ls.ok(
            Entry::Execute,
            &alice,
            json!({"increase_allowance": {"spender": spender, "amount": {"denom": "uveil", "amount": amount}, "expires": null}}),
        );
    }
    ls.ok(
        Entry::Execute,
        &alice,
        json!({"decrease_allowance": {"spender": carol, "amount": {"denom": "uveil", "amount": "15"}, "expires": null}}),
    );
    let send = |amount: &str| json!({"bank": {"send": {"to_address": carol, "amount": [{"denom": "uveil", "amount": amount}]}}});
    let out = ls.ok(
        Entry::Execute,
        &bob,
        json!({"execute": {"msgs": [send("60")]}}),
    );
    assert_eq!(messages(&out), 1);
    // 40 left: 41 is more than bob may spend.
    ls.refused(&bob, json!({"execute": {"msgs": [send("41")]}}));
    ls.ok(
        Entry::Execute,
        &alice,
        json!({"set_permissions": {"spender": bob, "permissions": {"delegate": true, "redelegate": false, "undelegate": false, "withdraw": true}}}),
    );
    let allowances = ls.query(json!({"all_allowances": {"start_after": null, "limit": 1}}));
    assert_eq!(allowances["allowances"].as_array().unwrap().len(), 1);
    let allowance = ls.query(json!({"allowance": {"spender": bob}}));
    assert_eq!(allowance["balance"][0]["amount"], "40", "{allowance}");
    ls.query(json!({"all_permissions": {}}));
    ls.query(json!({"permissions": {"spender": bob}}));
    ls.finish();
}

#[test]
fn cw4_group() {
    let admin = account("admin");
    let members: Vec<String> = (0..12).map(|i| account(&format!("member{i}"))).collect();
    let mut ls = Lockstep::new("cw4-group", published("cw4-group", "2.0.0"));
    let initial: Vec<Value> = members[..8]
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"addr": m, "weight": i as u64 + 1}))
        .collect();
    ls.ok(
        Entry::Instantiate,
        &admin,
        json!({"admin": admin, "members": initial}),
    );
    let add: Vec<Value> = members[8..]
        .iter()
        .map(|m| json!({"addr": m, "weight": 5}))
        .collect();
    ls.ok(
        Entry::Execute,
        &admin,
        json!({"update_members": {"add": add, "remove": [members[0], members[3]]}}),
    );
    ls.refused(
        &members[1],
        json!({"update_members": {"add": [], "remove": [members[2]]}}),
    );
    ls.ok(
        Entry::Execute,
        &admin,
        json!({"add_hook": {"addr": members[11]}}),
    );
    ls.ok(
        Entry::Execute,
        &admin,
        json!({"update_members": {"add": [{"addr": members[1], "weight": 9}], "remove": []}}),
    );
    let total = ls.query(json!({"total_weight": {}}));
    // 1..=8, less members 0 and 3, four of 5, member 1 from 2 to 9.
    assert_eq!(total["weight"], 36 - 1 - 4 + 20 + 7, "{total}");
    // Page through every member, three at a time (range queries).
    let mut seen = Vec::new();
    let mut start_after: Option<String> = None;
    loop {
        let page = ls.query(json!({"list_members": {"start_after": start_after, "limit": 3}}));
        let page = page["members"].as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        start_after = page.last().unwrap()["addr"].as_str().map(str::to_string);
        seen.extend(page);
    }
    assert_eq!(seen.len(), 10);
    ls.query(json!({"member": {"addr": members[0], "at_height": null}}));
    ls.query(json!({"hooks": {}}));
    ls.ok(
        Entry::Execute,
        &admin,
        json!({"update_admin": {"admin": null}}),
    );
    ls.refused(&admin, json!({"add_hook": {"addr": members[5]}}));
    ls.finish();
}

#[test]
fn cw3_fixed_multisig() {
    let voters: Vec<String> = ["ann", "ben", "cat", "dan"]
        .iter()
        .map(|n| account(n))
        .collect();
    let mut ls = Lockstep::new(
        "cw3-fixed-multisig",
        published("cw3-fixed-multisig", "2.0.0"),
    );
    let list: Vec<Value> = voters
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"addr": v, "weight": (i % 2) + 1}))
        .collect();
    ls.ok(
        Entry::Instantiate,
        &voters[0],
        json!({"voters": list, "threshold": {"absolute_count": {"weight": 4}}, "max_voting_period": {"height": 100}}),
    );
    let send = json!({"bank": {"send": {"to_address": account("payee"), "amount": [{"denom": "uveil", "amount": "10"}]}}});
    for title in ["pay", "pay again", "third"] {
        ls.ok(
            Entry::Execute,
            &voters[1],
            json!({"propose": {"title": title, "description": "d", "msgs": [send], "latest": null}}),
        );
    }
    ls.refused(
        &account("outsider"),
        json!({"propose": {"title": "x", "description": "d", "msgs": [], "latest": null}}),
    );
    ls.refused(&voters[0], json!({"execute": {"proposal_id": 1}}));
    ls.ok(
        Entry::Execute,
        &voters[3],
        json!({"vote": {"proposal_id": 1, "vote": "yes"}}),
    );
    ls.refused(
        &voters[3],
        json!({"vote": {"proposal_id": 1, "vote": "no"}}),
    );
    ls.ok(
        Entry::Execute,
        &voters[2],
        json!({"vote": {"proposal_id": 2, "vote": "no"}}),
    );
    let out = ls.ok(
        Entry::Execute,
        &voters[0],
        json!({"execute": {"proposal_id": 1}}),
    );
    assert_eq!(messages(&out), 1);
    let proposal = ls.query(json!({"proposal": {"proposal_id": 1}}));
    assert_eq!(proposal["status"], "executed", "{proposal}");
    let all = ls.query(json!({"list_proposals": {"start_after": null, "limit": 2}}));
    assert_eq!(all["proposals"].as_array().unwrap().len(), 2);
    ls.query(json!({"reverse_proposals": {"start_before": null, "limit": 10}}));
    ls.query(json!({"list_votes": {"proposal_id": 1, "start_after": null, "limit": 10}}));
    ls.query(json!({"list_voters": {"start_after": null, "limit": 10}}));
    ls.query(json!({"threshold": {}}));
    ls.finish();
}

#[test]
fn cw721_base() {
    let (minter, alice, bob) = (account("minter"), account("alice"), account("bob"));
    let mut ls = Lockstep::new("cw721-base", published("cw721-base", "0.22.0"));
    ls.ok(
        Entry::Instantiate,
        &minter,
        json!({"name": "Art", "symbol": "ART", "minter": null, "withdraw_address": null}),
    );
    for i in 0..10 {
        let owner = if i % 3 == 0 { &bob } else { &alice };
        ls.ok(
            Entry::Execute,
            &minter,
            json!({"mint": {"token_id": format!("t{i:02}"), "owner": owner, "token_uri": null, "extension": null}}),
        );
    }
    ls.refused(
        &alice,
        json!({"mint": {"token_id": "stolen", "owner": alice, "token_uri": null, "extension": null}}),
    );
    ls.ok(
        Entry::Execute,
        &alice,
        json!({"transfer_nft": {"recipient": bob, "token_id": "t01"}}),
    );
    ls.refused(
        &alice,
        json!({"transfer_nft": {"recipient": alice, "token_id": "t00"}}),
    );
    ls.ok(
        Entry::Execute,
        &bob,
        json!({"approve": {"spender": alice, "token_id": "t00", "expires": null}}),
    );
    ls.ok(
        Entry::Execute,
        &alice,
        json!({"transfer_nft": {"recipient": alice, "token_id": "t00"}}),
    );
    ls.ok(Entry::Execute, &alice, json!({"burn": {"token_id": "t02"}}));
    // Page through every token and alice's tokens (range queries over indexes).
    let mut all = Vec::new();
    let mut start_after: Option<String> = None;
    loop {
        let page = ls.query(json!({"all_tokens": {"start_after": start_after, "limit": 4}}));
        let page = page["tokens"].as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        start_after = page.last().unwrap().as_str().map(str::to_string);
        all.extend(page);
    }
    assert_eq!(all.len(), 9);
    let tokens = ls.query(json!({"tokens": {"owner": alice, "start_after": null, "limit": 30}}));
    assert!(tokens["tokens"].as_array().unwrap().contains(&json!("t00")));
    ls.query(json!({"num_tokens": {}}));
    ls.query(json!({"owner_of": {"token_id": "t01", "include_expired": null}}));
    ls.query(json!({"all_nft_info": {"token_id": "t03", "include_expired": null}}));
    ls.finish();
}
