//! Governance on `veil dev` (a real process; its genesis names alice as the authority):
//! the authority's `veil tx set-attestation-policy` makes a refused enclave build
//! acceptable; `veil tx revoke-node` revokes a registration, which then never registers
//! again; anybody else's governance transaction is a failed one that changes nothing but
//! the fee; `veil query registrations` / `attestation-policy` show it all.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;
use veil_client::dev_key;
use veil_client::rpc::Client;
use veil_client::tx::{Gas, TxOptions, Wallet, WalletError};
use veil_types::veil_attestation::{
    report_data, Attestation, MrEnclaveRule, Policy, SimulatedQuote,
};
use veil_types::Msg;

/// A fixed gas limit: the transaction goes into a block even when it fails.
fn options() -> TxOptions {
    TxOptions {
        gas: Gas::Limit(2_000_000),
        timeout: Duration::from_secs(30),
        ..Default::default()
    }
}

/// `veil ARGS --node URL --output json` with the dev keyring; its JSON and exit code.
fn veil(node: &DevNode, args: &[&str]) -> (Value, i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .args(["--node", &node.url(), "--output", "json"])
        .env("VEIL_HOME", &node.home)
        .env("VEIL_KEYRING_BACKEND", "test")
        .output()
        .expect("veil runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    (
        serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A `register_node` by `wallet` for `key` with a simulated quote of build `mrenclave`.
fn register(
    wallet: &Wallet,
    genesis_hash: &[u8; 32],
    key: [u8; 32],
    mrenclave: [u8; 32],
) -> Result<(), WalletError> {
    let (_, mrsigner) = veil_host::simulated_measurements();
    let quote = SimulatedQuote::sign(
        mrenclave,
        mrsigner,
        0,
        1,
        report_data(&key, genesis_hash, wallet.key().address(), None),
    );
    wallet
        .broadcast(
            Msg::RegisterNode {
                registration_key: key,
                attestation: Attestation::Simulated(quote).to_bytes(),
            },
            &options(),
            |_| {},
        )
        .map(|_| ())
}

#[track_caller]
fn failed_with(result: Result<(), WalletError>, expected_kind: &str, words: &str) {
    match result {
        Err(WalletError::Failed {
            tx_hash,
            kind,
            message,
            ..
        }) => {
            assert!(!tx_hash.is_empty(), "the transaction went into a block");
            assert_eq!(kind, expected_kind, "{message}");
            assert!(message.contains(words), "expected `{words}` in: {message}");
        }
        other => panic!("expected a failed {expected_kind} transaction, got {other:?}"),
    }
}

#[test]
fn the_authority_governs_who_joins_and_nobody_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("home"), "200ms");
    let client = Client::new(&node.url());
    let (genesis, _) = client.genesis().unwrap();
    let genesis_hash = genesis.hash();
    let (alice, bob) = (dev_key("alice"), dev_key("bob"));
    assert_eq!(genesis.authority.as_deref(), Some(alice.address()));
    let alice_wallet = Wallet::connect(&client, &alice).unwrap();
    let bob_wallet = Wallet::connect(&client, &bob).unwrap();

    // The genesis policy is in force: this build, not the new one.
    let (record, code, err) = veil(&node, &["query", "attestation-policy"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(record["height"], 0);
    assert_eq!(record["set_by"], Value::Null);
    let (this_build, _) = veil_host::simulated_measurements();
    let new_build = [0x5a; 32];
    register(&bob_wallet, &genesis_hash, [1; 32], this_build).unwrap();
    failed_with(
        register(&bob_wallet, &genesis_hash, [2; 32], new_build),
        "attestation",
        "not accepted",
    );

    // bob is not the authority: his policy change is a failed transaction that costs
    // him the fee and changes nothing else.
    let upgrade = Policy {
        mrenclaves: vec![MrEnclaveRule {
            mrenclave: new_build,
            isv_prod_id: 0,
            min_isv_svn: 1,
        }],
        mrsigners: Vec::new(),
        tcb_statuses: Vec::new(),
        allow_simulated: true,
    };
    let before = client.account(bob.address()).unwrap();
    let forged = bob_wallet.broadcast(
        Msg::SetAttestationPolicy {
            policy: upgrade.clone(),
        },
        &options(),
        |_| {},
    );
    failed_with(
        forged.map(|_| ()),
        "unauthorized",
        "only the network's authority",
    );
    let after = client.account(bob.address()).unwrap();
    assert_eq!(after.sequence, before.sequence + 1);
    assert_eq!(
        after.balance,
        before.balance - veil_types::required_fee(2_000_000, 1_000)
    );
    assert_eq!(client.attestation_policy().unwrap().height, 0);
    // The CLI refuses it before signing (no fee).
    let policy_file = dir.path().join("policy.json");
    std::fs::write(&policy_file, serde_json::to_vec(&upgrade).unwrap()).unwrap();
    let policy_path = policy_file.to_str().unwrap();
    let (out, code, _) = veil(
        &node,
        &[
            "tx",
            "set-attestation-policy",
            "--policy",
            policy_path,
            "--from",
            "bob",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["error"]["kind"], "unauthorized", "{out}");
    assert_eq!(
        client.account(bob.address()).unwrap().sequence,
        after.sequence
    );

    // alice's upgrade: the registration refused before now passes.
    let (out, code, err) = veil(
        &node,
        &[
            "tx",
            "set-attestation-policy",
            "--policy",
            policy_path,
            "--from",
            "alice",
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    let record = client.attestation_policy().unwrap();
    assert!(record.height > 0);
    assert_eq!(record.set_by.as_deref(), Some(alice.address()));
    assert_eq!(record.policy, Some(upgrade));
    register(&bob_wallet, &genesis_hash, [2; 32], new_build).unwrap();
    failed_with(
        register(&bob_wallet, &genesis_hash, [3; 32], this_build),
        "attestation",
        "not accepted",
    );

    // Revocation: bob cannot, alice can; the revoked key never registers again.
    failed_with(
        bob_wallet
            .broadcast(
                Msg::RevokeNode {
                    registration_key: [1; 32],
                    reason: "mine".into(),
                },
                &options(),
                |_| {},
            )
            .map(|_| ()),
        "unauthorized",
        "only the network's authority",
    );
    let key = hex::encode([1u8; 32]);
    let (out, code, err) = veil(
        &node,
        &[
            "tx",
            "revoke-node",
            &key,
            "--reason",
            "lost machine",
            "--from",
            "alice",
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    let (out, code, _) = veil(
        &node,
        &[
            "tx",
            "revoke-node",
            &key,
            "--reason",
            "again",
            "--from",
            "alice",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["error"]["kind"], "already_revoked", "{out}");
    failed_with(
        alice_wallet
            .broadcast(
                Msg::RevokeNode {
                    registration_key: [9; 32],
                    reason: String::new(),
                },
                &options(),
                |_| {},
            )
            .map(|_| ()),
        "unknown_registration",
        "no enclave is registered",
    );
    failed_with(
        register(&bob_wallet, &genesis_hash, [1; 32], new_build),
        "revoked",
        "revoked",
    );

    // The listing shows both, with their status.
    let (page, code, err) = veil(&node, &["query", "registrations"]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<(String, String)> = page["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["registration_key"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (key.clone(), "revoked".to_string()),
            (hex::encode([2u8; 32]), "active".to_string()),
        ]
    );
    assert_eq!(
        page["registrations"][0]["revocation"]["reason"],
        "lost machine"
    );
    assert_eq!(page["next_after"], Value::Null);
    let first = client.registrations(None, Some(1)).unwrap();
    assert_eq!(first.registrations.len(), 1);
    assert_eq!(first.next_after, Some([1; 32]));
    let rest = client
        .registrations(first.next_after.as_ref(), Some(1))
        .unwrap();
    assert_eq!(rest.registrations[0].registration_key, [2; 32]);
    assert_eq!(rest.next_after, None);

    // After a restart the node (and its enclave) still apply all of it.
    let mut node = node;
    node.stop();
    node.spawn();
    let client = Client::new(&node.url());
    let bob_wallet = Wallet::connect(&client, &bob).unwrap();
    failed_with(
        register(&bob_wallet, &genesis_hash, [4; 32], this_build),
        "attestation",
        "not accepted",
    );
    register(&bob_wallet, &genesis_hash, [4; 32], new_build).unwrap();
}
