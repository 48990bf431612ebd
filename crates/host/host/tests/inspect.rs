//! Dev-chain inspection at the enclave: it is turned on only under a genesis marked as a
//! dev chain (the enclave refuses it otherwise, whatever the host does), and what it
//! answers — a call's message, result and state changes, a contract's state — is sealed
//! to the owner key: no other key opens it. Both enclave modes.

mod common;

use base64::Engine as _;
use serde_json::{json, Value};
use veil_crypto::x25519_dalek::{PublicKey, StaticSecret};
use veil_crypto::{open_as_owner, CryptoError, OsRng};
use veil_enclave_abi::ErrorKind;
use veil_host::ConfidentialHost;
use veil_types::genesis::Genesis;

use common::*;

fn genesis(dev: bool) -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_nanos: 0,
        accounts: Vec::new(),
        params: Default::default(),
        attestation_policy: None,
        validators: Vec::new(),
        authority: None,
        network: None,
        dev,
    }
}

fn open(mode: &veil_host::EnclaveMode, dev: bool) -> (ConfidentialHost, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let host =
        ConfidentialHost::open_with_genesis(config(&dir.path().join("home"), mode), &genesis(dev))
            .unwrap();
    (host, dir)
}

fn owner() -> (StaticSecret, [u8; 32]) {
    let secret = StaticSecret::random_from_rng(OsRng);
    let public = PublicKey::from(&secret).to_bytes();
    (secret, public)
}

fn opened(secret: &StaticSecret, sealed: &[u8]) -> Value {
    serde_json::from_slice(&open_as_owner(secret, sealed).expect("the owner opens it")).unwrap()
}

fn b64(text: &str) -> String {
    B64.encode(text)
}

#[test]
fn inspection_is_refused_unless_the_genesis_is_a_dev_chain() {
    for mode in modes() {
        let name = mode_name(&mode);
        let (host, _dir) = open(&mode, false);
        let (_, public) = owner();
        let e = enclave_error(host.enclave().enable_inspect(public));
        assert_eq!(e.kind, ErrorKind::Inspect, "{name}");
        assert!(
            e.message.contains("not a dev chain"),
            "{name}: {}",
            e.message
        );
        // Nothing answers without it: not the state, not a call's record.
        let code_hash = host.store_code(kitchen_sink_wasm()).unwrap();
        let user = User::fixed("u");
        let (sink, _) =
            Contract::instantiate(&host, code_hash, &user, &account("a"), "sink", &json!({}));
        let e = enclave_error(
            host.enclave()
                .inspect_state(&sink.address, Vec::new(), None, 10),
        );
        assert_eq!(e.kind, ErrorKind::Inspect, "{name}");
        assert!(
            e.message.contains("not a dev chain"),
            "{name}: {}",
            e.message
        );
        let (response, _) = sink.execute_ok(
            &host,
            &user,
            &account("a"),
            &json!({"set": {"key": "k", "value": "v"}}),
        );
        assert_eq!(response.inspection, None, "{name}");
    }
}

#[test]
fn the_owner_reads_calls_and_state_and_no_other_key_does() {
    for mode in modes() {
        let name = mode_name(&mode);
        let (host, _dir) = open(&mode, true);
        let code_hash = host.store_code(kitchen_sink_wasm()).unwrap();
        let user = User::fixed("u");
        let sender = account("a");
        let (sink, _) = Contract::instantiate(&host, code_hash, &user, &sender, "sink", &json!({}));

        // Before it is on, a dev chain answers nothing either.
        let e = enclave_error(
            host.enclave()
                .inspect_state(&sink.address, Vec::new(), None, 10),
        );
        assert!(e.message.contains("not on"), "{name}: {}", e.message);
        let (response, _) = sink.execute_ok(
            &host,
            &user,
            &sender,
            &json!({"set": {"key": "b", "value": "1"}}),
        );
        assert_eq!(response.inspection, None, "{name}");

        // A low-order owner key would let anyone read: refused.
        let e = enclave_error(host.enclave().enable_inspect([0; 32]));
        assert_eq!(e.kind, ErrorKind::BadRequest, "{name}");

        let (secret, public) = owner();
        host.enclave().enable_inspect(public).unwrap();
        for (key, value) in [("a", "x"), ("c", "3"), ("ab", "y")] {
            sink.execute_ok(
                &host,
                &user,
                &sender,
                &json!({"set": {"key": key, "value": value}}),
            );
        }
        let set = json!({"set": {"key": "b", "value": "2"}});
        let (response, result) = sink.execute_ok(&host, &user, &sender, &set);
        let sealed = response
            .inspection
            .clone()
            .expect("an inspected call has a record");
        let record = opened(&secret, &sealed);
        assert_eq!(record["message"], json!({ "json": set }), "{name}");
        assert_eq!(record["contract"], json!(sink.address), "{name}");
        assert_eq!(record["ok"], json!(true), "{name}");
        assert_eq!(
            record["result"], result,
            "{name}: the result the sender read"
        );
        assert_eq!(
            record["state_changes"],
            json!([{ "contract": sink.address, "changes": [
                { "key": b64("b"), "old": b64("1"), "new": b64("2") },
            ]}]),
            "{name}"
        );
        // Removals show the old value and no new one.
        let (response, _) =
            sink.execute_ok(&host, &user, &sender, &json!({"remove": {"key": "c"}}));
        let record = opened(&secret, &response.inspection.unwrap());
        assert_eq!(
            record["state_changes"][0]["changes"],
            json!([{ "key": b64("c"), "old": b64("3"), "new": null }]),
            "{name}"
        );
        // A failed call has its error and no changes.
        let (response, _) = sink.execute(&host, &user, &sender, &json!({"no_such_message": {}}));
        assert!(!response.ok, "{name}");
        let record = opened(&secret, &response.inspection.unwrap());
        assert_eq!(record["ok"], json!(false), "{name}");
        assert!(record["result"]["error"].is_string(), "{name}: {record}");
        assert_eq!(record["state_changes"], json!([]), "{name}");

        // The state, in key order, under a prefix, in pages.
        let state = host
            .enclave()
            .inspect_state(&sink.address, Vec::new(), None, 100)
            .unwrap();
        let state = opened(&secret, &state);
        let keys: Vec<_> = state["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["key"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys, vec![b64("a"), b64("ab"), b64("b")], "{name}");
        assert_eq!(state["entries"][2]["value"], json!(b64("2")), "{name}");
        assert_eq!(state["more"], json!(false), "{name}");
        let under_a = host
            .enclave()
            .inspect_state(&sink.address, b"a".to_vec(), None, 1)
            .unwrap();
        let under_a = opened(&secret, &under_a);
        assert_eq!(
            under_a["entries"],
            json!([{ "key": b64("a"), "value": b64("x") }])
        );
        assert_eq!(under_a["more"], json!(true), "{name}");
        let next = host
            .enclave()
            .inspect_state(&sink.address, b"a".to_vec(), Some(b"a".to_vec()), 1)
            .unwrap();
        let next = opened(&secret, &next);
        assert_eq!(
            next["entries"],
            json!([{ "key": b64("ab"), "value": b64("y") }])
        );
        assert_eq!(next["more"], json!(false), "{name}");
        let e =
            enclave_error(
                host.enclave()
                    .inspect_state(&account("nobody"), Vec::new(), None, 1),
            );
        assert!(
            e.message.contains("unknown contract"),
            "{name}: {}",
            e.message
        );

        // No other key opens what is sealed to the owner: not the sender's, not the
        // network's side, not another owner's.
        let (other, _) = owner();
        assert_eq!(
            open_as_owner(&other, &sealed),
            Err(CryptoError::Decryption),
            "{name}"
        );
        // Whoever enables inspection with their own key reads only what comes after.
        let (late, late_public) = owner();
        host.enclave().enable_inspect(late_public).unwrap();
        assert_eq!(
            open_as_owner(&late, &sealed),
            Err(CryptoError::Decryption),
            "{name}"
        );
    }
}
