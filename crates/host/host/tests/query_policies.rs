//! Query policies at the enclave interface: who may read what is decided inside the enclave
//! from the permit the querier signed (or the calling contract's address) and the policy in
//! the enclave's own record — a host that forges a querier, replays a permit elsewhere,
//! edits a policy or marks an unsigned query as signed gets `unauthorized` and no state.
//! Every test runs with the enclave in process and as the `veil-enclave` executable.

mod common;

use base64::Engine as _;
use serde_json::{json, Value};
use veil_crypto::OutputKind;
use veil_enclave_abi::{decode, ErrorKind, Ocall, RunResponse};
use veil_types::{PermitBody, QueryPermit, QueryPolicy};

use common::*;

const HOUR: u64 = 3600 * 1_000_000_000;

fn permit(label: &str, contracts: &[&str], expires_at_nanos: u64, chain_id: &str) -> QueryPermit {
    PermitBody {
        chain_id: chain_id.to_string(),
        contracts: contracts.iter().map(|c| c.to_string()).collect(),
        expires_at_nanos,
    }
    .sign(&account_key(label))
}

fn valid_permit(label: &str, contract: &str) -> QueryPermit {
    permit(label, &[contract], block().time_nanos + HOUR, CHAIN_ID)
}

/// Queries `contract` with `msg`, carrying `permit` (encrypted under the query's own key
/// unless `encrypted` overrides what crosses); returns the response and what the querier
/// decrypts.
fn query_as(
    host: &TestHost,
    contract: &Contract,
    msg: &Value,
    permit: Option<&QueryPermit>,
    encrypted: Option<Vec<u8>>,
) -> (RunResponse, Value) {
    let user = User::random();
    let (envelope, key) = user.encrypt(host, &contract.code_hash, msg);
    let encrypted = encrypted
        .or_else(|| permit.map(|p| key.encrypt_output(0, OutputKind::QueryPermit, &p.to_bytes())));
    let response = host
        .query_with_permit(&contract.address, envelope, encrypted, block(), GAS_LIMIT)
        .expect("query crosses");
    let result = decrypt(&key, &response);
    (response, result)
}

#[track_caller]
fn assert_refused((response, result): (RunResponse, Value), why: &str) {
    assert!(!response.ok, "expected a refusal ({why}), got {result}");
    assert_eq!(
        response.error_kind.as_deref(),
        Some("unauthorized"),
        "{result}"
    );
    assert_eq!(response.gas_used, 0, "a refusal reports no gas");
    let error = result["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("unauthorized") && error.contains(why),
        "expected `{why}` in {error:?}"
    );
}

#[track_caller]
fn answer(pair: (RunResponse, Value)) -> Value {
    let (response, result) = pair;
    assert!(response.ok, "query failed: {result}");
    assert_eq!(
        result["height"],
        block().height,
        "answers state their height"
    );
    query_answer(&result)
}

struct Setup {
    host: TestHost,
    recording: Recording,
    token: Contract,
    sink: Contract,
}

/// A cw20 token under the `cw20` preset (admin: its creator; alice holds 1000, bob 7) and
/// a public kitchen-sink that asks it things.
fn setup(mode: &veil_host::EnclaveMode) -> Setup {
    let (tap, recording) = recording_tap();
    let host = open_host_with_tap(mode, Some(tap));
    let token_hash = host.store_code(cw20_wasm()).unwrap();
    let creator = account("creator");
    let msg = json!({
        "name": "Private Token", "symbol": "PRV", "decimals": 0, "mint": null,
        "initial_balances": [
            {"address": account("alice"), "amount": "1000"},
            {"address": account("bob"), "amount": "7"},
        ],
    });
    let (envelope, _) = User::fixed("creator").encrypt(&host, &token_hash, &msg);
    let (address, response) = host
        .instantiate_with(
            token_hash,
            &signer(&creator),
            "token",
            envelope,
            Vec::new(),
            block(),
            GAS_LIMIT,
            Some(creator.clone()),
            QueryPolicy::preset("cw20").unwrap(),
        )
        .unwrap();
    assert!(response.ok);
    let token = Contract {
        address,
        code_hash: token_hash,
    };
    let sink_hash = host.store_code(kitchen_sink_wasm()).unwrap();
    let (sink, _) = Contract::instantiate(
        &host,
        sink_hash,
        &User::fixed("sink-user"),
        &account("sink-user"),
        "sink",
        &json!({}),
    );
    Setup {
        host,
        recording,
        token,
        sink,
    }
}

fn balance_of(label: &str) -> Value {
    json!({"balance": {"address": account(label)}})
}

/// Whether the enclave asked the host for any state node since the recording was cleared.
fn fetched_nodes(recording: &Recording) -> usize {
    recording
        .lock()
        .unwrap()
        .iter()
        .filter(|(what, bytes)| {
            what == "ocall" && matches!(decode::<Ocall>(bytes), Ok(Ocall::FetchNode { .. }))
        })
        .count()
}

#[test]
fn signed_queries_follow_the_cw20_policy() {
    for mode in modes() {
        let name = mode_name(&mode);
        let s = setup(&mode);
        let alice = valid_permit("alice", &s.token.address);
        let bob = valid_permit("bob", &s.token.address);

        assert_eq!(
            answer(query_as(
                &s.host,
                &s.token,
                &balance_of("alice"),
                Some(&alice),
                None
            )),
            json!({"balance": "1000"}),
            "{name}"
        );
        // The answer's length says nothing about the balance's digits.
        let (a, _) = query_as(&s.host, &s.token, &balance_of("alice"), Some(&alice), None);
        let (b, _) = query_as(&s.host, &s.token, &balance_of("bob"), Some(&bob), None);
        assert_eq!(a.encrypted_result.len(), b.encrypted_result.len(), "{name}");

        // Refused by a message rule: no state node is fetched at all.
        s.recording.lock().unwrap().clear();
        assert_refused(
            query_as(&s.host, &s.token, &balance_of("alice"), Some(&bob), None),
            &account("bob"),
        );
        assert_refused(
            query_as(&s.host, &s.token, &balance_of("alice"), None, None),
            "anonymous",
        );
        assert_refused(
            query_as(
                &s.host,
                &s.token,
                &json!({"all_accounts": {}}),
                Some(&alice),
                None,
            ),
            "all_accounts",
        );
        assert_refused(
            query_as(
                &s.host,
                &s.token,
                &json!({"allowance": {"owner": account("alice"), "spender": account("bob")}}),
                Some(&valid_permit("carol", &s.token.address)),
                None,
            ),
            "allowance",
        );
        assert_eq!(
            fetched_nodes(&s.recording),
            0,
            "{name}: a refusal reads no state"
        );

        // Messages the policy and the contract could read differently are refused.
        let alice_addr = account("alice");
        for ambiguous in [
            format!(
                r#"{{"balance":{{"address":"{}","address":"{alice_addr}"}}}}"#,
                account("bob")
            ),
            format!(r#"{{"b\u0061lance":{{"address":"{alice_addr}"}}}}"#),
            format!(r#"{{"balance":{{"address":"{alice_addr}"}},"token_info":{{}}}}"#),
        ] {
            let msg: Value = serde_json::from_str(&ambiguous).unwrap_or(Value::Null);
            let user = User::random();
            let bytes = ambiguous.as_bytes().to_vec();
            let (network_key, generation) = s.host.network_key();
            let (envelope, key) = veil_crypto::encrypt_input(
                &mut veil_crypto::OsRng,
                &user.secret,
                &network_key,
                generation,
                &s.token.code_hash,
                &bytes,
            )
            .unwrap();
            let encrypted = key.encrypt_output(0, OutputKind::QueryPermit, &alice.to_bytes());
            let response = s
                .host
                .query_with_permit(
                    &s.token.address,
                    envelope,
                    Some(encrypted),
                    block(),
                    GAS_LIMIT,
                )
                .unwrap();
            assert!(!response.ok, "{name}: {ambiguous} ({msg}) must be refused");
            assert_eq!(response.error_kind.as_deref(), Some("unauthorized"));
        }

        // Public variants need no signature.
        let info = answer(query_as(
            &s.host,
            &s.token,
            &json!({"token_info": {}}),
            None,
            None,
        ));
        assert_eq!(info["symbol"], "PRV", "{name}");
    }
}

#[test]
fn bad_permits_are_refused() {
    for mode in modes() {
        let name = mode_name(&mode);
        let s = setup(&mode);
        let now = block().time_nanos;
        let token = s.token.address.as_str();
        let msg = balance_of("alice");
        let refuse = |p: &QueryPermit, why: &str| {
            assert_refused(query_as(&s.host, &s.token, &msg, Some(p), None), why);
        };
        refuse(&permit("alice", &[token], now, CHAIN_ID), "expired");
        refuse(&permit("alice", &[token], now - 1, CHAIN_ID), "expired");
        refuse(
            &permit("alice", &[token], now + 31 * 24 * HOUR, CHAIN_ID),
            "too far",
        );
        refuse(
            &permit("alice", &[token], now + HOUR, "another-chain"),
            "chain",
        );
        refuse(
            &permit("alice", &[&s.sink.address], now + HOUR, CHAIN_ID),
            "does not name",
        );
        // Tampered after signing: another expiry, another contract list, another key.
        let mut tampered = valid_permit("alice", token);
        tampered.body.expires_at_nanos += 1;
        refuse(&tampered, "signature");
        let mut tampered = valid_permit("alice", &s.sink.address);
        tampered.body.contracts = vec![token.to_string()];
        refuse(&tampered, "signature");
        let mut forged = valid_permit("mallory", token);
        forged.public_key = valid_permit("alice", token).public_key;
        refuse(&forged, "signature");
        let mut high_s = valid_permit("alice", token);
        high_s.signature[40] ^= 1;
        refuse(&high_s, "signature");

        // An unsigned query marked as signed: bytes that are no permit, or a permit the
        // host encrypted under a key of its own (it cannot know the query's key).
        let garbage = Some(vec![0u8; 120]);
        assert_refused(query_as(&s.host, &s.token, &msg, None, garbage), "decrypt");
        let user = User::random();
        let (_, other_key) = user.encrypt(&s.host, &s.token.code_hash, &msg);
        let wrong_key = other_key.encrypt_output(
            0,
            OutputKind::QueryPermit,
            &valid_permit("alice", token).to_bytes(),
        );
        assert_refused(
            query_as(&s.host, &s.token, &msg, None, Some(wrong_key)),
            "decrypt",
        );

        // A signed query the host saw, replayed: still answered only for the querier.
        let alice = valid_permit("alice", token);
        let querier = User::random();
        let (envelope, key) = querier.encrypt(&s.host, &s.token.code_hash, &msg);
        let encrypted = key.encrypt_output(0, OutputKind::QueryPermit, &alice.to_bytes());
        let replayed = s
            .host
            .query_with_permit(
                token,
                envelope.clone(),
                Some(encrypted.clone()),
                block(),
                GAS_LIMIT,
            )
            .unwrap();
        assert!(replayed.ok, "{name}");
        let balance = base64::engine::general_purpose::STANDARD.encode(b"{\"balance\":\"1000\"}");
        assert!(
            !replayed
                .encrypted_result
                .windows(balance.len())
                .any(|w| w == balance.as_bytes()),
            "{name}"
        );
        assert!(try_decrypt(
            &User::random().tx_key_for(&s.host, &envelope).unwrap(),
            &replayed
        )
        .is_err());
        // ... and replayed into another contract, the envelope does not even open (it is
        // bound to the token's code), so nothing runs.
        let other = s.host.query_with_permit(
            &s.sink.address,
            envelope,
            Some(encrypted),
            block(),
            GAS_LIMIT,
        );
        assert_eq!(enclave_error(other).kind, ErrorKind::Envelope, "{name}");
    }
}

#[test]
fn contracts_query_under_the_target_policy() {
    for mode in modes() {
        let name = mode_name(&mode);
        let s = setup(&mode);
        let b64 = |v: &Value| base64::engine::general_purpose::STANDARD.encode(v.to_string());
        let user = User::fixed("sink-user");
        // The sink asks alice's balance: the querier the token's policy sees is the sink.
        let smart = json!({"wasm_smart": {"contract_addr": s.token.address, "msg": b64(&balance_of("alice"))}});
        let out = s.sink.query(&s.host, &user, &smart);
        let error = out["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("unauthorized") && error.contains(&s.sink.address),
            "{name}: {out}"
        );
        // The same inside an execution.
        let (_, result) = s.sink.execute_ok(
            &s.host,
            &user,
            &account("sink-user"),
            &json!({"exec_query": {"query": smart}}),
        );
        let data = base64::engine::general_purpose::STANDARD
            .decode(result["data"].as_str().unwrap())
            .unwrap();
        let inner: Value = serde_json::from_slice(&data).unwrap();
        assert!(
            inner["error"]
                .as_str()
                .unwrap_or_default()
                .contains("unauthorized"),
            "{name}: {inner}"
        );
        // Public variants answer.
        let info = json!({"wasm_smart": {"contract_addr": s.token.address, "msg": b64(&json!({"token_info": {}}))}});
        assert!(
            s.sink.query(&s.host, &user, &info)["ok"].is_string(),
            "{name}"
        );
        // Raw reads bypass message rules: refused for every key of a cw20-policy token.
        let b64_bytes = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let mut key = vec![0u8, 7];
        key.extend_from_slice(b"balance");
        key.extend_from_slice(account("alice").as_bytes());
        for raw_key in [key, b"token_info".to_vec()] {
            let raw = json!({"wasm": {"raw": {"contract_addr": s.token.address, "key": b64_bytes(&raw_key)}}});
            let out = s.sink.query(
                &s.host,
                &user,
                &json!({"raw_query": {"request": b64(&raw)}}),
            );
            assert!(
                out["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("unauthorized"),
                "{name}: {out}"
            );
        }
    }
}

#[test]
fn a_custom_policy_on_another_contract() {
    for mode in modes() {
        let name = mode_name(&mode);
        let host = open_host(&mode);
        let code_hash = host.store_code(kitchen_sink_wasm()).unwrap();
        let _ = name;
        // Each account reads only the entry stored under its own address; `total` is
        // readable by anyone and raw by other contracts; listings are denied.
        let policy = QueryPolicy::from_json(
            json!({
                "default": "deny",
                "queries": {
                    "get": {"querier_in_message": ["key"]},
                    "range": "deny"
                },
                "raw": {"namespaces": ["total"]}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let owner = account("owner");
        let (envelope, _) = User::fixed("owner").encrypt(&host, &code_hash, &json!({}));
        let (address, response) = host
            .instantiate_with(
                code_hash,
                &signer(&owner),
                "store",
                envelope,
                Vec::new(),
                block(),
                GAS_LIMIT,
                Some(owner.clone()),
                policy,
            )
            .unwrap();
        assert!(response.ok);
        let store = Contract { address, code_hash };
        let alice = account("alice");
        for (key, value) in [(alice.as_str(), "alice's"), ("total", "2")] {
            store.execute_ok(
                &host,
                &User::fixed("owner"),
                &owner,
                &json!({"set": {"key": key, "value": value}}),
            );
        }
        let get = json!({"get": {"key": alice}});
        let permit = valid_permit("alice", &store.address);
        let got = answer(query_as(&host, &store, &get, Some(&permit), None));
        assert_eq!(got, json!({"value": "alice's"}), "{name}");
        let bob = valid_permit("bob", &store.address);
        assert_refused(query_as(&host, &store, &get, Some(&bob), None), "get");
        assert_refused(
            query_as(&host, &store, &json!({"range": {}}), Some(&permit), None),
            "range",
        );

        // The admin opens it up; a non-admin cannot; the admin's transaction runs once.
        let non_admin = host.set_query_policy(
            &store.address,
            &account_key("alice"),
            CHAIN_ID,
            QueryPolicy::public(),
        );
        expect_enclave_error(non_admin, ErrorKind::Unauthorized);
        host.set_query_policy(
            &store.address,
            &signer(&owner),
            CHAIN_ID,
            QueryPolicy::public(),
        )
        .unwrap();
        assert_eq!(
            answer(query_as(&host, &store, &get, None, None)),
            json!({"value": "alice's"})
        );
        // A policy edited by the host after the admin signed does not verify.
        let tx = host.sign(
            &signer(&owner),
            CHAIN_ID,
            veil_types::Msg::SetQueryPolicy {
                contract: store.address.clone(),
                query_policy: QueryPolicy::preset("private").unwrap(),
            },
        );
        let mut edited: veil_types::Tx = veil_types::Tx::from_bytes(&tx).unwrap();
        edited.body.msg = veil_types::Msg::SetQueryPolicy {
            contract: store.address.clone(),
            query_policy: QueryPolicy::public(),
        };
        let edited = host.submit_query_policy(edited.to_bytes(), CHAIN_ID);
        expect_enclave_error(edited, ErrorKind::BadRequest);
        host.submit_query_policy(tx.clone(), CHAIN_ID).unwrap();
        let replay = host.submit_query_policy(tx, CHAIN_ID);
        expect_enclave_error(replay, ErrorKind::Replay);
        assert_refused(query_as(&host, &store, &get, Some(&permit), None), "get");
        // Only the admin reads a private contract, and the policy survives a restart.
        let mut host = host;
        host.restart_enclave().unwrap();
        let admin = valid_permit("owner", &store.address);
        assert_eq!(
            answer(query_as(&host, &store, &get, Some(&admin), None)),
            json!({"value": "alice's"}),
            "{name}"
        );
        assert_refused(query_as(&host, &store, &get, Some(&permit), None), "get");
    }
}
