//! Contracts query contracts inside the enclave: smart and raw queries read the target's
//! committed state under its own key, the question and the answer never cross to the
//! host, a host that serves wrong state fails the whole call, and code the enclave has not
//! compiled since a restart is loaded from the host and checked.
//! Every test runs with the enclave in process and as the `veil-enclave` executable.

mod common;

use base64::Engine as _;
use serde_json::{json, Value};
use veil_enclave_abi::ErrorKind;

use common::*;

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

/// The JSON a kitchen-sink `wasm_smart` / `raw_query` outcome carries (`ok` is base64).
fn outcome(answer: &Value) -> Result<Value, String> {
    if let Some(error) = answer["error"].as_str() {
        return Err(error.to_string());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(answer["ok"].as_str().expect("ok or error"))
        .unwrap();
    Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

struct Setup {
    host: TestHost,
    recording: Recording,
    token: Contract,
    sink: Contract,
    user: User,
}

/// A cw20 token (alice holds 1000) and a kitchen-sink that asks it things.
fn setup(mode: &veil_host::EnclaveMode) -> Setup {
    let (tap, recording) = recording_tap();
    let host = open_host_with_tap(mode, Some(tap));
    let token_hash = host.store_code(cw20_wasm()).unwrap();
    let (token, _) = Contract::instantiate(
        &host,
        token_hash,
        &User::fixed("creator"),
        &account("creator"),
        "token",
        &json!({
            "name": "Query Token", "symbol": "QRY", "decimals": 0, "mint": null,
            "initial_balances": [{"address": account("alice"), "amount": "1000"}],
        }),
    );
    let sink_hash = host.store_code(kitchen_sink_wasm()).unwrap();
    let user = User::fixed("sink-user");
    let (sink, _) = Contract::instantiate(
        &host,
        sink_hash,
        &user,
        &account("sink-user"),
        "sink",
        &json!({}),
    );
    Setup {
        host,
        recording,
        token,
        sink,
        user,
    }
}

fn balance_query() -> Value {
    json!({"balance": {"address": account("alice")}})
}

#[test]
fn smart_and_raw_queries_reach_other_contracts_and_stay_inside() {
    for mode in modes() {
        let name = mode_name(&mode);
        let s = setup(&mode);
        s.recording.lock().unwrap().clear();

        let smart =
            json!({"wasm_smart": {"contract_addr": s.token.address, "msg": b64(&balance_query())}});
        let answer = s.sink.query(&s.host, &s.user, &smart);
        assert_eq!(outcome(&answer), Ok(json!({"balance": "1000"})), "{name}");

        // Inside an execute too, after the token's state changed.
        s.token.execute_ok(
            &s.host,
            &User::fixed("alice"),
            &account("alice"),
            &json!({"transfer": {"recipient": account("bob"), "amount": "400"}}),
        );
        let (_, result) = s.sink.execute_ok(
            &s.host,
            &s.user,
            &account("sink-user"),
            &json!({"exec_query": {"query": smart}}),
        );
        let data = base64::engine::general_purpose::STANDARD
            .decode(result["data"].as_str().unwrap())
            .unwrap();
        let answer: Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(outcome(&answer), Ok(json!({"balance": "600"})), "{name}");

        // A raw query reads one key of the token's state (cw20-base's `token_info` item).
        let raw = json!({"wasm": {"raw": {"contract_addr": s.token.address, "key": b64_bytes(b"token_info")}}});
        let answer = s.sink.query(
            &s.host,
            &s.user,
            &json!({"raw_query": {"request": b64(&raw)}}),
        );
        let info = outcome(&answer).unwrap();
        assert_eq!(info["symbol"], "QRY", "{name}: {info}");
        // An absent key reads as nothing.
        let absent = json!({"wasm": {"raw": {"contract_addr": s.token.address, "key": b64_bytes(b"no such key")}}});
        let answer = s.sink.query(
            &s.host,
            &s.user,
            &json!({"raw_query": {"request": b64(&absent)}}),
        );
        assert_eq!(outcome(&answer), Ok(Value::Null), "{name}");

        // An unknown contract is the queried contract's error, not the host's problem.
        let nowhere = json!({"wasm_smart": {"contract_addr": account("nobody"), "msg": b64(&balance_query())}});
        let answer = s.sink.query(&s.host, &s.user, &nowhere);
        let error = outcome(&answer).unwrap_err();
        assert!(error.contains("No such contract"), "{name}: {error}");
        // The token's own error comes back as an error answer.
        let bad = json!({"wasm_smart": {"contract_addr": s.token.address, "msg": b64(&json!({"no_such_query": {}}))}});
        let error = outcome(&s.sink.query(&s.host, &s.user, &bad)).unwrap_err();
        assert!(error.starts_with("contract:"), "{name}: {error}");

        // Nothing of the questions or answers crossed the boundary or reached the disk.
        for (what, bytes) in s.recording.lock().unwrap().iter() {
            let text = String::from_utf8_lossy(bytes);
            for secret in ["\"balance\"", "token_info", "Query Token", "no_such_query"] {
                assert!(!text.contains(secret), "{name}: {secret} in {what}: {text}");
            }
        }
    }
}

fn b64_bytes(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_host_serving_wrong_state_to_a_contract_query_fails_the_call() {
    for mode in modes() {
        let name = mode_name(&mode);
        let s = setup(&mode);
        let root = s.token.root(&s.host).expect("the token has state");
        let honest = veil_host::NodeStore::node(s.host.nodes(), &root).unwrap();
        let mut forged = honest.clone();
        let at = forged.len() / 2;
        forged[at] ^= 1;
        s.host.nodes().overwrite_node(root, Some(forged));

        let smart =
            json!({"wasm_smart": {"contract_addr": s.token.address, "msg": b64(&balance_query())}});
        let (envelope, _) = s.user.encrypt(&s.host, &s.sink.code_hash, &smart);
        let error = enclave_error(s.host.query(&s.sink.address, envelope, block(), GAS_LIMIT));
        assert_eq!(error.kind, ErrorKind::StateIntegrity, "{name}: {error:?}");

        s.host.nodes().overwrite_node(root, Some(honest));
        let answer = s.sink.query(&s.host, &s.user, &smart);
        assert_eq!(outcome(&answer), Ok(json!({"balance": "1000"})), "{name}");
    }
}

#[test]
fn code_is_loaded_from_the_host_after_a_restart_and_checked() {
    for mode in modes() {
        let name = mode_name(&mode);
        let mut s = setup(&mode);
        let smart =
            json!({"wasm_smart": {"contract_addr": s.token.address, "msg": b64(&balance_query())}});

        // After a restart the enclave has compiled nothing: both codes come from the host.
        s.host.restart_enclave().unwrap();
        let answer = s.sink.query(&s.host, &s.user, &smart);
        assert_eq!(outcome(&answer), Ok(json!({"balance": "1000"})), "{name}");

        // A host that serves other code under the token's hash is caught.
        s.host.restart_enclave().unwrap();
        s.host
            .nodes()
            .overwrite_code(s.token.code_hash, Some(kitchen_sink_wasm().to_vec()));
        let (envelope, _) = s.user.encrypt(&s.host, &s.sink.code_hash, &smart);
        let error = enclave_error(s.host.query(&s.sink.address, envelope, block(), GAS_LIMIT));
        assert_eq!(error.kind, ErrorKind::BadRequest, "{name}: {error:?}");
        assert!(error.message.contains("other code"), "{name}: {error:?}");

        // And one that does not have it at all.
        s.host.nodes().overwrite_code(s.token.code_hash, None);
        let (envelope, _) = s.user.encrypt(&s.host, &s.sink.code_hash, &smart);
        let error = enclave_error(s.host.query(&s.sink.address, envelope, block(), GAS_LIMIT));
        assert_eq!(error.kind, ErrorKind::CodeNotLoaded, "{name}: {error:?}");
    }
}

#[test]
fn contract_calls_run_on_verified_state_and_commit_every_contract() {
    for mode in modes() {
        let name = mode_name(&mode);
        let s = setup(&mode);
        let (other, _) = Contract::instantiate(
            &s.host,
            s.sink.code_hash,
            &s.user,
            &account("sink-user"),
            "other",
            &json!({}),
        );
        let set = |value: &str| {
            json!({"sub_message": {"id": 1, "reply_on": "never", "msg": {"wasm": {"execute": {
                "contract_addr": other.address, "funds": [],
                "msg": b64(&json!({"set": {"key": "k", "value": value}}))}}}}})
        };
        let (response, _) = s
            .sink
            .execute_ok(&s.host, &s.user, &account("sink-user"), &set("one"));
        assert_eq!(response.sub_calls.len(), 1, "{name}");
        assert_eq!(response.other_states.len(), 1, "{name}");
        assert_eq!(
            other.query(&s.host, &s.user, &json!({"get": {"key": "k"}}))["value"],
            "one",
            "{name}"
        );

        // A forged node of the called contract's state fails the whole call.
        let root = other.root(&s.host).unwrap();
        let honest = veil_host::NodeStore::node(s.host.nodes(), &root).unwrap();
        let mut forged = honest.clone();
        forged[10] ^= 1;
        s.host.nodes().overwrite_node(root, Some(forged));
        let (envelope, _) = s.user.encrypt(&s.host, &s.sink.code_hash, &set("two"));
        let error = enclave_error(s.host.execute(
            &s.sink.address,
            &signer(&account("sink-user")),
            envelope,
            Vec::new(),
            block(),
            GAS_LIMIT,
        ));
        assert_eq!(error.kind, ErrorKind::StateIntegrity, "{name}: {error:?}");
        s.host.nodes().overwrite_node(root, Some(honest));
        assert_eq!(other.root(&s.host), Some(root), "{name}: nothing committed");
        assert_eq!(
            other.query(&s.host, &s.user, &json!({"get": {"key": "k"}}))["value"],
            "one",
            "{name}"
        );
    }
}
