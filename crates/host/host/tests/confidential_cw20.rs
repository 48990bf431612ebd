//! cw20-base 2.0.0 (unchanged, from crates.io) runs confidentially: every decrypted result
//! equals what the plain engine (no enclave, plaintext `MemoryStorage`) answers for the same
//! Env, MessageInfo and messages — in both enclave modes. Only the sender decrypts its
//! results, and a contract error comes back as a decryptable error for the sender.

mod common;

use common::*;
use serde_json::{json, Value};
use veil_crypto::CryptoError;
use veil_engine::cosmwasm_std::{Addr, MessageInfo, Response};
use veil_engine::{
    Backend, BankQuerier, Bech32Api, Call, CallError, Checksum, Engine, EngineConfig, Entry,
    MemoryStorage, Output,
};
use veil_host::ConfidentialHost;

/// The same contract on the plain engine, state carried between calls and rolled back on
/// failure (as a chain does).
struct Plain {
    engine: Engine,
    checksum: Checksum,
    address: String,
    storage: MemoryStorage,
}

impl Plain {
    fn new(wasm: &[u8], address: &str) -> Self {
        let engine = Engine::new(EngineConfig::default());
        let checksum = engine.store_code(wasm).expect("plain store_code");
        Self {
            engine,
            checksum,
            address: address.to_string(),
            storage: MemoryStorage::new(),
        }
    }

    fn call(
        &mut self,
        entry: Entry,
        sender: Option<&str>,
        msg: &Value,
    ) -> Result<Output, CallError> {
        let env = veil_engine::build_env(&block_context(), &self.address);
        let info = sender.map(|s| MessageInfo {
            sender: Addr::unchecked(s),
            funds: vec![],
        });
        let msg = serde_json::to_vec(msg).unwrap();
        let backend = Backend {
            storage: Box::new(self.storage.clone()),
            api: Box::new(Bech32Api::default()),
            querier: Box::new(BankQuerier::default()),
        };
        let call = Call {
            entry,
            env: &env,
            info: info.as_ref(),
            msg: &msg,
            gas_limit: GAS_LIMIT,
            random: None,
        };
        let (report, backend) = self.engine.call(&self.checksum, call, backend);
        if report.result.is_ok() {
            let storage: Box<dyn std::any::Any + Send> = backend.storage;
            self.storage = *storage.downcast::<MemoryStorage>().expect("MemoryStorage");
        }
        report.result
    }
}

/// The sender's view of a `Response` (the documented result JSON).
fn response_json(r: &Response) -> Value {
    json!({
        "data": r.data.as_ref().map(|d| base64::Engine::encode(&B64, d.as_slice())),
        "attributes": r.attributes.iter().map(|a| json!({"key": a.key, "value": a.value})).collect::<Vec<_>>(),
        "events": r.events,
        "messages": r.messages,
    })
}

/// Runs every call on the confidential host and on the plain engine and checks that the
/// decrypted results are the plaintext results.
struct Lockstep<'a> {
    host: &'a ConfidentialHost,
    contract: Contract,
    plain: Plain,
    /// (step, gas) of the confidential runs.
    gas: Vec<(String, u64)>,
}

impl<'a> Lockstep<'a> {
    fn instantiate(host: &'a ConfidentialHost, user: &User, creator: &str, msg: &Value) -> Self {
        let code_hash = host.store_code(cw20_wasm()).expect("store cw20");
        let address = host.contract_address(&code_hash, creator, "cw20");
        let mut plain = Plain::new(cw20_wasm(), &address);
        assert_eq!(
            plain.checksum.0, code_hash,
            "the host's code hash is the wasm's checksum"
        );
        let expected = match plain.call(Entry::Instantiate, Some(creator), msg) {
            Ok(Output::Response(r)) => response_json(&r),
            other => panic!("plain instantiate: {other:?}"),
        };
        let (envelope, key) = user.encrypt(host, &code_hash, msg);
        let (address2, response) = host
            .instantiate(
                code_hash,
                &signer(creator),
                "cw20",
                envelope,
                Vec::new(),
                block(),
                GAS_LIMIT,
            )
            .expect("instantiate");
        assert_eq!(address2, address);
        assert!(response.ok);
        assert_eq!(decrypt(&key, &response), expected, "instantiate result");
        Self {
            host,
            contract: Contract { address, code_hash },
            plain,
            gas: vec![("instantiate".into(), response.gas_used)],
        }
    }

    fn execute(&mut self, step: &str, user: &User, sender: &str, msg: Value) -> Value {
        let plain = self.plain.call(Entry::Execute, Some(sender), &msg);
        let (response, result) = self.contract.execute(self.host, user, sender, &msg);
        self.gas.push((step.to_string(), response.gas_used));
        match plain {
            Ok(Output::Response(r)) => {
                assert!(response.ok, "{step}: confidential run failed: {result}");
                assert_eq!(
                    result,
                    response_json(&r),
                    "{step}: decrypted result differs from the plain engine's"
                );
                assert!(
                    response.state.is_some(),
                    "{step}: a successful execute commits state"
                );
            }
            Err(e) => {
                assert!(
                    !response.ok,
                    "{step}: the plain engine failed ({e}) but the confidential run succeeded"
                );
                assert_eq!(
                    result,
                    json!({ "error": e.to_string() }),
                    "{step}: error differs"
                );
                assert!(
                    response.state.is_none(),
                    "{step}: a failed execute commits nothing"
                );
            }
            other => panic!("{step}: plain engine answered {other:?}"),
        }
        assert!(
            response.public_attributes.is_empty(),
            "cw20-base publishes nothing"
        );
        result
    }

    fn query(&mut self, step: &str, user: &User, msg: Value) -> Value {
        let plain = match self.plain.call(Entry::Query, None, &msg) {
            Ok(Output::Query(data)) => data,
            other => panic!("{step}: plain query: {other:?}"),
        };
        let (response, result) = self.contract.query_raw(self.host, user, &msg);
        self.gas.push((step.to_string(), response.gas_used));
        assert!(response.ok, "{step}: confidential query failed: {result}");
        assert!(response.state.is_none(), "{step}: queries commit nothing");
        let data = base64::Engine::decode(&B64, result["data"].as_str().expect("data")).unwrap();
        assert_eq!(
            data,
            plain.as_slice(),
            "{step}: decrypted answer differs from the plain engine's:\n  confidential {}\n  plain        {}",
            String::from_utf8_lossy(&data),
            String::from_utf8_lossy(plain.as_slice())
        );
        serde_json::from_slice(&data).unwrap()
    }
}

struct Accounts {
    creator: String,
    alice: String,
    bob: String,
    carol: String,
    dave: String,
    erin: String,
}

impl Accounts {
    fn new() -> Self {
        Self {
            creator: account("creator"),
            alice: account("alice"),
            bob: account("bob"),
            carol: account("carol"),
            dave: account("dave"),
            erin: account("erin"),
        }
    }
}

fn instantiate_msg(a: &Accounts) -> Value {
    json!({
        "name": "Veil Test Token",
        "symbol": "VTT",
        "decimals": 6,
        "initial_balances": [
            {"address": a.alice, "amount": "1000000"},
            {"address": a.bob, "amount": "500000"},
            {"address": a.carol, "amount": "250000"},
        ],
        "mint": {"minter": a.creator, "cap": "99000000"},
        "marketing": {
            "project": "https://veil.example/project",
            "description": "a token that nobody but its holders sees",
            "marketing": a.creator,
            "logo": {"url": "https://veil.example/logo.png"},
        },
    })
}

#[test]
fn cw20_runs_confidentially_and_matches_the_plain_engine() {
    let a = Accounts::new();
    let (creator, alice, bob, carol) = (
        User::fixed("creator"),
        User::fixed("alice"),
        User::fixed("bob"),
        User::fixed("carol"),
    );
    let querier = User::random();
    let mut gas_by_mode = Vec::new();
    for mode in modes() {
        let started = std::time::Instant::now();
        let host = open_host(&mode);
        let mut run = Lockstep::instantiate(&host, &creator, &a.creator, &instantiate_msg(&a));

        run.execute(
            "transfer alice->bob",
            &alice,
            &a.alice,
            json!({"transfer": {"recipient": a.bob, "amount": "100000"}}),
        );
        run.execute(
            "transfer bob->dave",
            &bob,
            &a.bob,
            json!({"transfer": {"recipient": a.dave, "amount": "50000"}}),
        );
        run.execute(
            "increase_allowance alice->carol",
            &alice,
            &a.alice,
            json!({"increase_allowance": {"spender": a.carol, "amount": "300000"}}),
        );
        run.execute(
            "increase_allowance alice->bob (expiring)",
            &alice,
            &a.alice,
            json!({"increase_allowance": {"spender": a.bob, "amount": "40000", "expires": {"at_height": 1_000_000}}}),
        );
        run.execute(
            "increase_allowance alice->dave",
            &alice,
            &a.alice,
            json!({"increase_allowance": {"spender": a.dave, "amount": "7"}}),
        );
        run.execute(
            "decrease_allowance alice->carol",
            &alice,
            &a.alice,
            json!({"decrease_allowance": {"spender": a.carol, "amount": "50000"}}),
        );
        run.execute(
            "transfer_from carol: alice->erin",
            &carol,
            &a.carol,
            json!({"transfer_from": {"owner": a.alice, "recipient": a.erin, "amount": "120000"}}),
        );
        run.execute(
            "mint to dave",
            &creator,
            &a.creator,
            json!({"mint": {"recipient": a.dave, "amount": "1"}}),
        );
        run.execute("burn bob", &bob, &a.bob, json!({"burn": {"amount": "1"}}));
        // Errors the contract reports (both engines must agree on the text).
        let err = run.execute(
            "transfer_from beyond allowance",
            &carol,
            &a.carol,
            json!({"transfer_from": {"owner": a.alice, "recipient": a.carol, "amount": "130001"}}),
        );
        assert!(err["error"].is_string(), "{err}");
        let err = run.execute(
            "transfer more than balance",
            &bob,
            &a.bob,
            json!({"transfer": {"recipient": a.carol, "amount": "999999999"}}),
        );
        assert!(
            err["error"].as_str().unwrap().contains("Overflow")
                || err["error"].as_str().unwrap().contains("Sub"),
            "{err}"
        );

        // Balances.
        let holders = [&a.alice, &a.bob, &a.carol, &a.dave, &a.erin, &a.creator];
        let mut balances = Vec::new();
        for who in holders {
            let answer = run.query("balance", &querier, json!({"balance": {"address": who}}));
            balances.push(answer["balance"].as_str().unwrap().parse::<u128>().unwrap());
        }
        assert_eq!(balances, [780_000, 549_999, 250_000, 50_001, 120_000, 0]);

        let info = run.query("token_info", &querier, json!({"token_info": {}}));
        assert_eq!(info["total_supply"], "1750000");
        assert_eq!(info["symbol"], "VTT");
        run.query("minter", &querier, json!({"minter": {}}));
        let marketing = run.query("marketing_info", &querier, json!({"marketing_info": {}}));
        assert_eq!(
            marketing["logo"],
            json!({"url": "https://veil.example/logo.png"})
        );

        // Allowances.
        let allowance = run.query(
            "allowance alice/carol",
            &alice,
            json!({"allowance": {"owner": a.alice, "spender": a.carol}}),
        );
        assert_eq!(allowance["allowance"], "130000");
        let allowance = run.query(
            "allowance alice/bob",
            &alice,
            json!({"allowance": {"owner": a.alice, "spender": a.bob}}),
        );
        assert_eq!(allowance["expires"], json!({"at_height": 1_000_000}));
        run.query(
            "allowance bob/alice (none)",
            &bob,
            json!({"allowance": {"owner": a.bob, "spender": a.alice}}),
        );
        let all = run.query(
            "all_allowances alice",
            &alice,
            json!({"all_allowances": {"owner": a.alice}}),
        );
        assert_eq!(all["allowances"].as_array().unwrap().len(), 3);
        // ... and paginated one by one.
        let mut spenders = Vec::new();
        let mut start_after: Option<String> = None;
        loop {
            let page = run.query(
                "all_allowances page",
                &alice,
                json!({"all_allowances": {"owner": a.alice, "start_after": start_after, "limit": 1}}),
            );
            let page = page["allowances"].as_array().unwrap().clone();
            assert!(page.len() <= 1);
            let Some(last) = page.last() else { break };
            start_after = Some(last["spender"].as_str().unwrap().to_string());
            spenders.push(start_after.clone().unwrap());
        }
        let mut expected_spenders = vec![a.bob.clone(), a.carol.clone(), a.dave.clone()];
        expected_spenders.sort();
        assert_eq!(spenders, expected_spenders);
        run.query(
            "all_spender_allowances carol",
            &carol,
            json!({"all_spender_allowances": {"spender": a.carol}}),
        );

        // all_accounts, two at a time to the end.
        let mut accounts = Vec::new();
        let mut start_after: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = run.query(
                "all_accounts page",
                &querier,
                json!({"all_accounts": {"start_after": start_after, "limit": 2}}),
            );
            pages += 1;
            let page: Vec<String> = page["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            start_after = Some(last.clone());
            accounts.extend(page);
        }
        let mut expected_accounts = vec![
            a.alice.clone(),
            a.bob.clone(),
            a.carol.clone(),
            a.dave.clone(),
            a.erin.clone(),
        ];
        expected_accounts.sort();
        assert_eq!(
            accounts, expected_accounts,
            "all_accounts pages cover every holder once, in order"
        );
        assert_eq!(pages, 4, "5 accounts in pages of 2, then an empty page");

        eprintln!(
            "{}: {} steps in {:?}",
            mode_name(&mode),
            run.gas.len(),
            started.elapsed()
        );
        gas_by_mode.push(run.gas);
    }
    // The enclave is the same code in both modes: gas is identical step by step.
    assert_eq!(
        gas_by_mode[0], gas_by_mode[1],
        "gas differs between in-process and process modes"
    );
}

#[test]
fn another_user_cannot_decrypt_the_senders_results() {
    let a = Accounts::new();
    let (creator, alice, bob) = (
        User::fixed("creator"),
        User::fixed("alice"),
        User::fixed("bob"),
    );
    let stranger = User::random();
    for mode in modes() {
        let host = open_host(&mode);
        let code_hash = host.store_code(cw20_wasm()).unwrap();
        let (token, _) = Contract::instantiate(
            &host,
            code_hash,
            &creator,
            &a.creator,
            "cw20",
            &instantiate_msg(&a),
        );

        // An execute by alice.
        let msg = json!({"transfer": {"recipient": a.bob, "amount": "5"}});
        let (envelope, key) = alice.encrypt(&host, &code_hash, &msg);
        let response = host
            .execute(
                &token.address,
                &signer(&a.alice),
                envelope.clone(),
                Vec::new(),
                block(),
                GAS_LIMIT,
            )
            .unwrap();
        assert!(response.ok);
        assert_eq!(
            decrypt(&key, &response)["attributes"][0],
            json!({"key": "action", "value": "transfer"})
        );
        // Alice can recompute the key later from her secret and the public nonce.
        let again = alice.tx_key_for(&host, &envelope).unwrap();
        assert!(try_decrypt(&again, &response).is_ok());
        // Bob and a stranger, with their own secrets and the same public data, cannot.
        for other in [&bob, &stranger] {
            let their_key = other.tx_key_for(&host, &envelope).unwrap();
            assert_eq!(
                try_decrypt(&their_key, &response).unwrap_err(),
                CryptoError::Decryption,
                "{}: another user decrypted alice's result",
                mode_name(&mode)
            );
        }

        // A query by alice.
        let msg = json!({"balance": {"address": a.alice}});
        let (envelope, key) = alice.encrypt(&host, &code_hash, &msg);
        let response = host
            .query(&token.address, envelope.clone(), block(), GAS_LIMIT)
            .unwrap();
        assert_eq!(
            query_answer(&decrypt(&key, &response)),
            json!({"balance": "999995"})
        );
        for other in [&bob, &stranger] {
            let their_key = other.tx_key_for(&host, &envelope).unwrap();
            assert_eq!(
                try_decrypt(&their_key, &response).unwrap_err(),
                CryptoError::Decryption
            );
        }

        // A contract error for bob.
        let msg = json!({"transfer": {"recipient": a.alice, "amount": "100000000"}});
        let (envelope, key) = bob.encrypt(&host, &code_hash, &msg);
        let response = host
            .execute(
                &token.address,
                &signer(&a.bob),
                envelope.clone(),
                Vec::new(),
                block(),
                GAS_LIMIT,
            )
            .unwrap();
        assert!(!response.ok);
        assert!(decrypt(&key, &response)["error"].is_string());
        for other in [&alice, &stranger] {
            let their_key = other.tx_key_for(&host, &envelope).unwrap();
            assert_eq!(
                try_decrypt(&their_key, &response).unwrap_err(),
                CryptoError::Decryption
            );
        }
    }
}

#[test]
fn contract_error_comes_back_encrypted_and_changes_nothing() {
    let a = Accounts::new();
    let (creator, bob) = (User::fixed("creator"), User::fixed("bob"));
    for mode in modes() {
        let host = open_host(&mode);
        let code_hash = host.store_code(cw20_wasm()).unwrap();
        let msg = instantiate_msg(&a);
        let (token, _) =
            Contract::instantiate(&host, code_hash, &creator, &a.creator, "cw20", &msg);
        let mut plain = Plain::new(cw20_wasm(), &token.address);
        plain
            .call(Entry::Instantiate, Some(&a.creator), &msg)
            .expect("plain instantiate");

        let root_before = token.root(&host);
        let transfer = json!({"transfer": {"recipient": a.carol, "amount": "500001"}});
        let (response, result) = token.execute(&host, &bob, &a.bob, &transfer);
        assert!(!response.ok);
        assert_eq!(response.error_kind.as_deref(), Some("contract"));
        assert!(response.state.is_none());
        assert!(response.gas_used > 0);
        let plain_error = plain
            .call(Entry::Execute, Some(&a.bob), &transfer)
            .unwrap_err();
        assert!(matches!(plain_error, CallError::Contract(_)));
        assert_eq!(result, json!({"error": plain_error.to_string()}));
        eprintln!(
            "{}: contract error for the sender: {result}",
            mode_name(&mode)
        );
        // The error text is for the sender only: the host sees just the kind.
        let error_text = result["error"].as_str().unwrap();
        assert!(!host
            .services()
            .crossings()
            .iter()
            .any(|c| c.to_string().contains(error_text)));

        // Nothing of the contract changed. (The sealed state did: it records the block,
        // which was executed like any other, failed transaction included.)
        assert_eq!(token.root(&host), root_before);
        let balance = token.query(&host, &bob, &json!({"balance": {"address": a.bob}}));
        assert_eq!(balance, json!({"balance": "500000"}));
        let balance = token.query(&host, &bob, &json!({"balance": {"address": a.carol}}));
        assert_eq!(balance, json!({"balance": "250000"}));
    }
}

/// Several signed transfers in one certified block, admitted with `CheckTx` first (as a
/// node runs them): each runs on the state the one before it committed.
#[test]
fn transfers_in_one_block_run_in_order_on_each_others_state() {
    let a = Accounts::new();
    let (creator, alice) = (User::fixed("creator"), User::fixed("alice"));
    for mode in modes() {
        let host = open_host(&mode);
        let code_hash = host.store_code(cw20_wasm()).expect("store cw20");
        let (token, _) = Contract::instantiate(
            &host,
            code_hash,
            &creator,
            &a.creator,
            "token",
            &instantiate_msg(&a),
        );
        let signed: Vec<_> = [1, 2, 3]
            .iter()
            .map(|amount| {
                let msg = json!({"transfer": {"recipient": a.erin, "amount": amount.to_string()}});
                let (envelope, _) = alice.encrypt(&host, &code_hash, &msg);
                host.sign_execute(
                    &token.address,
                    &signer(&a.alice),
                    envelope,
                    vec![],
                    &block().chain_id,
                    GAS_LIMIT,
                )
            })
            .collect();
        for call in &signed {
            let check = host.check_tx(call.tx()).expect("CheckTx crosses");
            assert!(
                matches!(&check, veil_host::TxCheck::Signed { signer } if *signer == a.alice),
                "{check:?}"
            );
        }
        let responses = host.execute_block(signed, block()).expect("block runs");
        assert_eq!(responses.len(), 3, "{}", mode_name(&mode));
        assert!(responses.iter().all(|r| r.ok), "{}", mode_name(&mode));
        let balance = token.query(&host, &alice, &json!({"balance": {"address": a.erin}}));
        assert_eq!(balance["balance"], "6", "{}", mode_name(&mode));
    }
}
