//! A lying host gets clear errors, never a wrong answer, and never changes state: tampered,
//! misdirected, truncated or replayed envelopes; stale state roots; stale, swapped,
//! deleted and forged state nodes; forged contract records; an old sealed file. After each
//! refusal the contract's root is unchanged and an honest query still gives the old answer.
//! Every test runs with the enclave in process and as the `veil-enclave` executable.

mod common;

use std::collections::BTreeMap;

use veil_host::NodeStore;
use veil_types::Msg;

use common::*;
use serde_json::{json, Value};
use veil_enclave_abi::{EntryPoint, ErrorKind, Hash, RunResponse};
use veil_host::ContractRecord;

/// A cw20 token with three holders on a fresh host.
struct Fixture {
    host: TestHost,
    token: Contract,
    alice: User,
    alice_addr: String,
    bob_addr: String,
}

fn setup(mode: &veil_host::EnclaveMode) -> Fixture {
    let host = open_host(mode);
    let code_hash = host.store_code(cw20_wasm()).unwrap();
    let (alice_addr, bob_addr, carol_addr) = (account("alice"), account("bob"), account("carol"));
    let msg = json!({
        "name": "Tamper Token",
        "symbol": "TMP",
        "decimals": 0,
        "initial_balances": [
            {"address": alice_addr, "amount": "1000"},
            {"address": bob_addr, "amount": "500"},
            {"address": carol_addr, "amount": "250"},
        ],
        "mint": null,
    });
    let creator = User::fixed("creator");
    let (token, _) = Contract::instantiate(
        &host,
        code_hash,
        &creator,
        &account("creator"),
        "token",
        &msg,
    );
    Fixture {
        host,
        token,
        alice: User::fixed("alice"),
        alice_addr,
        bob_addr,
    }
}

impl Fixture {
    fn root(&self) -> Option<Hash> {
        self.token.root(&self.host)
    }

    fn record(&self) -> ContractRecord {
        self.host.contract(&self.token.address).unwrap()
    }

    fn balance_query(&self) -> Value {
        json!({"balance": {"address": self.alice_addr}})
    }

    /// Alice's balance, asked honestly.
    fn alice_balance(&self) -> Value {
        self.token
            .query(&self.host, &self.alice, &self.balance_query())
    }

    fn transfer(&self, amount: u32) -> Value {
        json!({"transfer": {"recipient": self.bob_addr, "amount": amount.to_string()}})
    }

    /// A valid envelope: alice transfers `amount` to bob.
    fn transfer_envelope(&self, amount: u32) -> Vec<u8> {
        self.alice
            .encrypt(&self.host, &self.token.code_hash, &self.transfer(amount))
            .0
    }

    fn execute_envelope(&self, envelope: Vec<u8>) -> Result<RunResponse, veil_host::HostError> {
        self.host.execute(
            &self.token.address,
            &signer(&self.alice_addr),
            envelope,
            Vec::new(),
            block(),
            GAS_LIMIT,
        )
    }

    fn query_envelope(&self, envelope: Vec<u8>) -> Result<RunResponse, veil_host::HostError> {
        self.host
            .query(&self.token.address, envelope, block(), GAS_LIMIT)
    }

    /// Runs with an explicit (possibly forged) record.
    fn run_with(
        &self,
        entry: EntryPoint,
        record: &ContractRecord,
        envelope: Vec<u8>,
    ) -> Result<RunResponse, veil_host::HostError> {
        let (sender, tx) = if entry == EntryPoint::Query {
            ("", None)
        } else {
            let tx = self.signed_execute(&envelope);
            (self.alice_addr.as_str(), Some(tx))
        };
        self.host.run(
            entry,
            &self.token.address,
            record,
            sender,
            envelope,
            Vec::new(),
            block(),
            GAS_LIMIT,
            tx,
        )
    }

    /// Alice's signed transaction executing `envelope` on the token.
    fn signed_execute(&self, envelope: &[u8]) -> Vec<u8> {
        self.host.sign(
            &signer(&self.alice_addr),
            CHAIN_ID,
            Msg::Execute {
                contract: self.token.address.clone(),
                msg: envelope.to_vec(),
                funds: 0,
            },
        )
    }

    /// Nothing changed: same root, and an honest query gives alice's `balance`.
    fn assert_unchanged(&self, root: Option<Hash>, balance: &str, case: &str) {
        assert_eq!(self.root(), root, "{case}: the contract's root changed");
        assert_eq!(
            self.alice_balance(),
            json!({ "balance": balance }),
            "{case}: an honest query no longer gives the old answer"
        );
    }
}

fn expect_error(
    result: Result<RunResponse, veil_host::HostError>,
    kind: ErrorKind,
    message: &str,
    case: &str,
) {
    let e = enclave_error(result);
    assert_eq!(e.kind, kind, "{case}: wrong error kind: {e}");
    assert!(
        e.message.contains(message),
        "{case}: unclear error message {:?} (expected {message:?})",
        e.message
    );
}

// ---------------------------------------------------------------------------------------
// Envelopes
// ---------------------------------------------------------------------------------------

#[test]
fn flipped_envelope_bytes_are_refused() {
    for mode in modes() {
        let f = setup(&mode);
        let root = f.root();
        let valid = f.transfer_envelope(7);
        let query = f
            .alice
            .encrypt(&f.host, &f.token.code_hash, &f.balance_query())
            .0;
        let last = valid.len() - 1;
        // (byte, what it is, expected message)
        let positions = [
            (0, "version", "unsupported version"),
            (4, "generation", "wrong key generation"),
            (10, "user public key", "decryption failed"),
            (50, "nonce", "decryption failed"),
            (70, "encrypted code hash", "decryption failed"),
            (69 + 32 + 5, "encrypted message", "decryption failed"),
            (last, "tag", "decryption failed"),
        ];
        for (at, what, message) in positions {
            let case = format!("{}: flipped {what} byte {at}", mode_name(&mode));
            let mut tampered = valid.clone();
            tampered[at] ^= 0x80;
            expect_error(
                f.execute_envelope(tampered),
                ErrorKind::Envelope,
                message,
                &case,
            );
            let mut tampered = query.clone();
            tampered[at.min(query.len() - 1)] ^= 0x80;
            expect_error(
                f.query_envelope(tampered),
                ErrorKind::Envelope,
                message,
                &case,
            );
            f.assert_unchanged(root, "1000", &case);
        }
        // The untouched envelope still works.
        assert!(f.execute_envelope(valid).unwrap().ok);
        assert_eq!(f.alice_balance(), json!({"balance": "993"}));
    }
}

#[test]
fn envelope_for_another_code_hash_is_refused() {
    for mode in modes() {
        let f = setup(&mode);
        let root = f.root();
        let other_code = f.host.store_code(kitchen_sink_wasm()).unwrap();
        let (envelope, _) = f.alice.encrypt(&f.host, &other_code, &f.transfer(7));
        let case = format!("{}: envelope for other code", mode_name(&mode));
        expect_error(
            f.execute_envelope(envelope),
            ErrorKind::Envelope,
            "different contract code",
            &case,
        );
        let (envelope, _) = f.alice.encrypt(&f.host, &other_code, &f.balance_query());
        expect_error(
            f.query_envelope(envelope),
            ErrorKind::Envelope,
            "different contract code",
            &case,
        );
        f.assert_unchanged(root, "1000", &case);
    }
}

#[test]
fn envelope_for_another_network_key_is_refused() {
    for mode in modes() {
        let f = setup(&mode);
        let root = f.root();
        let other = open_host(&mode);
        let (other_key, other_generation) = other.network_key();
        assert_ne!(
            other_key,
            f.host.network_key().0,
            "two hosts share a network key"
        );
        let (envelope, _) = f.alice.encrypt_to(
            &other_key,
            other_generation,
            &f.token.code_hash,
            &f.transfer(7),
        );
        let case = format!("{}: envelope for another network key", mode_name(&mode));
        expect_error(
            f.execute_envelope(envelope),
            ErrorKind::Envelope,
            "decryption failed",
            &case,
        );
        let (envelope, _) = f.alice.encrypt_to(
            &other_key,
            other_generation,
            &f.token.code_hash,
            &f.balance_query(),
        );
        expect_error(
            f.query_envelope(envelope),
            ErrorKind::Envelope,
            "decryption failed",
            &case,
        );
        f.assert_unchanged(root, "1000", &case);
    }
}

#[test]
fn truncated_and_extended_envelopes_are_refused() {
    for mode in modes() {
        let f = setup(&mode);
        let root = f.root();
        let valid = f.transfer_envelope(7);
        let mut cases: Vec<(String, Vec<u8>, &str)> = [0, 1, 5, 68, 69, 100, 116]
            .into_iter()
            .map(|len| {
                (
                    format!("truncated to {len} bytes"),
                    valid[..len].to_vec(),
                    "input truncated",
                )
            })
            .collect();
        cases.push((
            "without its last byte".into(),
            valid[..valid.len() - 1].to_vec(),
            "decryption failed",
        ));
        cases.push((
            "without its first ciphertext byte".into(),
            [&valid[..69], &valid[70..]].concat(),
            "decryption failed",
        ));
        let mut extended = valid.clone();
        extended.push(0);
        cases.push(("with a byte appended".into(), extended, "decryption failed"));
        for (what, envelope, message) in cases {
            let case = format!("{}: envelope {what}", mode_name(&mode));
            expect_error(
                f.execute_envelope(envelope.clone()),
                ErrorKind::Envelope,
                message,
                &case,
            );
            expect_error(
                f.query_envelope(envelope),
                ErrorKind::Envelope,
                message,
                &case,
            );
            f.assert_unchanged(root, "1000", &case);
        }
    }
}

#[test]
fn envelope_replayed_into_a_contract_with_other_code_is_refused() {
    for mode in modes() {
        let f = setup(&mode);
        let user = User::fixed("sink-user");
        let sink_hash = f.host.store_code(kitchen_sink_wasm()).unwrap();
        let (sink, _) =
            Contract::instantiate(&f.host, sink_hash, &user, &f.alice_addr, "sink", &json!({}));
        sink.execute_ok(
            &f.host,
            &user,
            &f.alice_addr,
            &json!({"set": {"key": "k", "value": "v"}}),
        );
        let sink_root = sink.root(&f.host);

        // Alice's transfer runs once where she sent it...
        let envelope = f.transfer_envelope(7);
        assert!(f.execute_envelope(envelope.clone()).unwrap().ok);
        let root = f.root();
        // ... and the host replays it into the other contract.
        let case = format!("{}: replay into other code", mode_name(&mode));
        let replayed = f.host.execute(
            &sink.address,
            &signer(&f.alice_addr),
            envelope.clone(),
            Vec::new(),
            block(),
            GAS_LIMIT,
        );
        expect_error(
            replayed,
            ErrorKind::Envelope,
            "different contract code",
            &case,
        );
        let replayed = f.host.query(&sink.address, envelope, block(), GAS_LIMIT);
        expect_error(
            replayed,
            ErrorKind::Envelope,
            "different contract code",
            &case,
        );

        assert_eq!(
            sink.root(&f.host),
            sink_root,
            "{case}: the other contract's root changed"
        );
        let entries = sink.query(&f.host, &user, &json!({"range": {}}));
        assert_eq!(entries, json!({"entries": [{"key": "k", "value": "v"}]}));
        f.assert_unchanged(root, "993", &case);
    }
}

// ---------------------------------------------------------------------------------------
// State roots and nodes
// ---------------------------------------------------------------------------------------

#[test]
fn calls_run_only_with_their_senders_signed_transaction_and_only_once() {
    for mode in modes() {
        let f = setup(&mode);
        let name = mode_name(&mode);
        let root = f.root();
        let record = f.record();
        let run = |sender: &str, envelope: Vec<u8>, tx: Option<Vec<u8>>| {
            f.host.run(
                EntryPoint::Execute,
                &f.token.address,
                &record,
                sender,
                envelope,
                Vec::new(),
                block(),
                GAS_LIMIT,
                tx,
            )
        };

        // No transaction: the host cannot act for a sender on its own word.
        let envelope = f.transfer_envelope(1);
        let case = format!("{name}: no transaction");
        expect_error(
            run(&f.alice_addr, envelope.clone(), None),
            ErrorKind::BadRequest,
            "signed",
            &case,
        );
        f.assert_unchanged(root, "1000", &case);

        // Signed by someone else (the host's own key) but claiming to be alice.
        let mallory = account("mallory");
        let forged = f.host.sign(
            &signer(&mallory),
            CHAIN_ID,
            Msg::Execute {
                contract: f.token.address.clone(),
                msg: envelope.clone(),
                funds: 0,
            },
        );
        let case = format!("{name}: forged sender");
        expect_error(
            run(&f.alice_addr, envelope.clone(), Some(forged)),
            ErrorKind::BadRequest,
            "not signed by the sender",
            &case,
        );
        f.assert_unchanged(root, "1000", &case);

        // Alice's transaction, with another envelope (or for another contract) put in.
        let signed = f.signed_execute(&envelope);
        let other_envelope = f.transfer_envelope(2);
        let case = format!("{name}: transaction for another call");
        expect_error(
            run(&f.alice_addr, other_envelope, Some(signed.clone())),
            ErrorKind::BadRequest,
            "does not ask for this call",
            &case,
        );
        let mut flipped = signed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        expect_error(
            run(&f.alice_addr, envelope.clone(), Some(flipped)),
            ErrorKind::BadRequest,
            "transaction",
            &case,
        );
        f.assert_unchanged(root, "1000", &case);

        // The real thing runs once; presenting it again is a replay.
        let response = run(&f.alice_addr, envelope.clone(), Some(signed.clone())).unwrap();
        assert!(response.ok, "{name}: alice's signed transfer");
        let mut record = f.record();
        let after = f.root();
        assert_ne!(after, root);
        assert_eq!(f.alice_balance(), json!({"balance": "999"}));
        let case = format!("{name}: replayed transaction");
        let replay = f.host.run(
            EntryPoint::Execute,
            &f.token.address,
            &record,
            &f.alice_addr,
            envelope.clone(),
            Vec::new(),
            block(),
            GAS_LIMIT,
            Some(signed.clone()),
        );
        expect_error(replay, ErrorKind::Replay, "already used", &case);
        f.assert_unchanged(after, "999", &case);
        // ... also after the enclave restarts from its sealed checkpoint.
        let mut host = f.host;
        host.restart_enclave().unwrap();
        record.root = after;
        let replay = host.run(
            EntryPoint::Execute,
            &f.token.address,
            &record,
            &f.alice_addr,
            envelope,
            Vec::new(),
            block(),
            GAS_LIMIT,
            Some(signed),
        );
        expect_error(
            replay,
            ErrorKind::Replay,
            "already used",
            &format!("{case} after restart"),
        );
    }
}

#[test]
fn stale_state_root_is_refused() {
    for mode in modes() {
        let f = setup(&mode);
        let old_record = f.record();
        assert!(f.execute_envelope(f.transfer_envelope(100)).unwrap().ok);
        let root = f.root();
        assert_ne!(root, old_record.root);
        assert_eq!(f.alice_balance(), json!({"balance": "900"}));

        let case = format!("{}: stale root", mode_name(&mode));
        let query = || {
            f.alice
                .encrypt(&f.host, &f.token.code_hash, &f.balance_query())
                .0
        };
        // The old root (the state before the transfer).
        expect_error(
            f.run_with(EntryPoint::Execute, &old_record, f.transfer_envelope(1)),
            ErrorKind::StaleStateRoot,
            "does not match",
            &case,
        );
        expect_error(
            f.run_with(EntryPoint::Query, &old_record, query()),
            ErrorKind::StaleStateRoot,
            "does not match",
            &case,
        );
        // A root the enclave never committed, and no root at all.
        for bogus in [Some([0x42; 32]), None] {
            let record = ContractRecord {
                root: bogus,
                ..f.record()
            };
            expect_error(
                f.run_with(EntryPoint::Execute, &record, f.transfer_envelope(1)),
                ErrorKind::StaleStateRoot,
                "",
                &case,
            );
            expect_error(
                f.run_with(EntryPoint::Query, &record, query()),
                ErrorKind::StaleStateRoot,
                "",
                &case,
            );
        }
        // Instantiating over the existing contract is refused too.
        let instantiate = f.alice.encrypt(&f.host, &f.token.code_hash, &json!({})).0;
        let err = enclave_error(f.run_with(EntryPoint::Instantiate, &old_record, instantiate));
        assert!(
            matches!(err.kind, ErrorKind::BadRequest | ErrorKind::StaleStateRoot),
            "{case}: re-instantiate: {err}"
        );
        // A new contract cannot start from an existing contract's state.
        let address = f
            .host
            .contract_address(&f.token.code_hash, &f.alice_addr, "fresh");
        let msg = json!({"name": "Fresh", "symbol": "FRS", "decimals": 0, "initial_balances": [], "mint": null});
        let envelope = f.alice.encrypt(&f.host, &f.token.code_hash, &msg).0;
        let tx = f.host.sign(
            &signer(&f.alice_addr),
            CHAIN_ID,
            Msg::Instantiate {
                code_id: 1,
                label: "fresh".into(),
                admin: None,
                msg: envelope.clone(),
                funds: 0,
                query_policy: Some(veil_types::QueryPolicy::public()),
            },
        );
        let result = f.host.run(
            EntryPoint::Instantiate,
            &address,
            &f.record(),
            &f.alice_addr,
            envelope,
            Vec::new(),
            block(),
            GAS_LIMIT,
            Some(tx),
        );
        expect_error(result, ErrorKind::StaleStateRoot, "existing state", &case);
        assert!(f.host.contract(&address).is_none());
        f.assert_unchanged(root, "900", &case);
    }
}

/// Tampers with a node of the token's current tree, checks that reads and writes are
/// refused with `StateIntegrity` and nothing changes, then restores the node.
fn assert_node_tamper_refused(
    f: &Fixture,
    id: Hash,
    blob: Option<Vec<u8>>,
    balance: &str,
    case: &str,
) {
    let root = f.root();
    let honest = f.host.nodes().node(&id).expect("the node is stored");
    f.host.nodes().overwrite_node(id, blob);
    let query = f
        .alice
        .encrypt(&f.host, &f.token.code_hash, &f.balance_query())
        .0;
    expect_error(
        f.query_envelope(query),
        ErrorKind::StateIntegrity,
        "state node",
        case,
    );
    expect_error(
        f.execute_envelope(f.transfer_envelope(1)),
        ErrorKind::StateIntegrity,
        "state node",
        case,
    );
    assert_eq!(f.root(), root, "{case}: the contract's root changed");
    f.host.nodes().overwrite_node(id, Some(honest));
    f.assert_unchanged(root, balance, case);
}

#[test]
fn stale_node_served_for_the_current_root_is_refused() {
    for mode in modes() {
        let f = setup(&mode);
        let old_root = f.root().expect("cw20 has state");
        let old_blob = f.host.nodes().node(&old_root).unwrap();
        assert!(f.execute_envelope(f.transfer_envelope(100)).unwrap().ok);
        let root = f.root().unwrap();
        assert_ne!(root, old_root);
        let case = format!(
            "{}: the old root's blob served as the new root",
            mode_name(&mode)
        );
        assert_node_tamper_refused(&f, root, Some(old_blob), "900", &case);
    }
}

#[test]
fn swapped_deleted_and_forged_nodes_are_refused() {
    for mode in modes() {
        let f = setup(&mode);
        let root = f.root().expect("cw20 has state");
        let blob = f.host.nodes().node(&root).unwrap();
        let name = mode_name(&mode);

        // Swapped: another token's root (same code, same holders, another address).
        let creator = User::fixed("creator");
        let msg = json!({
            "name": "Tamper Token",
            "symbol": "TMP",
            "decimals": 0,
            "initial_balances": [{"address": f.alice_addr, "amount": "1000"}],
            "mint": null,
        });
        let (twin, _) = Contract::instantiate(
            &f.host,
            f.token.code_hash,
            &creator,
            &account("creator"),
            "twin",
            &msg,
        );
        let twin_blob = f.host.nodes().node(&twin.root(&f.host).unwrap()).unwrap();
        assert_node_tamper_refused(
            &f,
            root,
            Some(twin_blob),
            "1000",
            &format!("{name}: another contract's node"),
        );
        // Deleted.
        assert_node_tamper_refused(&f, root, None, "1000", &format!("{name}: deleted root"));
        // Forged: flipped bytes, truncated, extended, empty.
        for at in [0, 1, blob.len() / 2, blob.len() - 17, blob.len() - 1] {
            let mut forged = blob.clone();
            forged[at] ^= 0x01;
            assert_node_tamper_refused(
                &f,
                root,
                Some(forged),
                "1000",
                &format!("{name}: root byte {at} flipped"),
            );
        }
        assert_node_tamper_refused(
            &f,
            root,
            Some(blob[..blob.len() - 1].to_vec()),
            "1000",
            &format!("{name}: truncated"),
        );
        assert_node_tamper_refused(
            &f,
            root,
            Some([&blob[..], &[0]].concat()),
            "1000",
            &format!("{name}: extended"),
        );
        assert_node_tamper_refused(
            &f,
            root,
            Some(Vec::new()),
            "1000",
            &format!("{name}: empty"),
        );
        // The twin is untouched by all this.
        assert_eq!(
            twin.query(&f.host, &f.alice, &f.balance_query()),
            json!({"balance": "1000"})
        );
    }
}

/// Every node of a multi-node tree is verified: whatever stored node the host tampers with
/// (the host keeps only the nodes the current root uses), a full scan fails with
/// `StateIntegrity`. Never a wrong answer.
#[test]
fn every_node_of_a_larger_tree_is_verified() {
    for mode in modes() {
        let host = open_host(&mode);
        let user = User::fixed("sink-user");
        let sender = account("sink-user");
        let sink_hash = host.store_code(kitchen_sink_wasm()).unwrap();
        let (sink, _) = Contract::instantiate(&host, sink_hash, &user, &sender, "sink", &json!({}));
        let mut ids = BTreeMap::new();
        for i in 0..40 {
            let msg = json!({"set": {"key": format!("key-{i:03}"), "value": format!("{i:03}-{}", "v".repeat(250))}});
            let (response, _) = sink.execute_ok(&host, &user, &sender, &msg);
            for (id, blob) in response.state.unwrap().new_nodes {
                ids.insert(id, blob.len());
            }
        }
        // Older versions' nodes were released and deleted as each write replaced them.
        let written = ids.len();
        ids.retain(|id, _| host.nodes().node(id).is_some());
        assert!(ids.len() < written, "replaced nodes are deleted");
        let root = sink.root(&host).unwrap();
        let scan = json!({"range": {}});
        let honest = sink.query(&host, &user, &scan);
        assert_eq!(honest["entries"].as_array().unwrap().len(), 40);

        let some_other_blob = |id: &Hash| {
            let other = ids.keys().find(|other| *other != id).unwrap();
            host.nodes().node(other).unwrap()
        };
        let mut live_by_kind = Vec::new();
        for kind in ["deleted", "flipped", "swapped"] {
            let mut live = 0;
            for id in ids.keys() {
                let honest_blob = host.nodes().node(id).expect("stored");
                let tampered = match kind {
                    "deleted" => None,
                    "flipped" => {
                        let mut b = honest_blob.clone();
                        let at = b.len() / 3;
                        b[at] ^= 0x20;
                        Some(b)
                    }
                    _ => Some(some_other_blob(id)),
                };
                host.nodes().overwrite_node(*id, tampered);
                let (envelope, key) = user.encrypt(&host, &sink_hash, &scan);
                match host.query(&sink.address, envelope, block(), GAS_LIMIT) {
                    Err(veil_host::HostError::Enclave(e)) => {
                        assert_eq!(e.kind, ErrorKind::StateIntegrity, "{kind} node: {e}");
                        live += 1;
                    }
                    Ok(response) => panic!(
                        "{}: a {kind} node went unnoticed: {}",
                        mode_name(&mode),
                        decrypt(&key, &response)
                    ),
                    Err(e) => panic!("{kind} node: {e}"),
                }
                host.nodes().overwrite_node(*id, Some(honest_blob));
            }
            live_by_kind.push(live);
        }
        eprintln!(
            "{}: {written} nodes written, {} live (root + {} below it)",
            mode_name(&mode),
            ids.len(),
            ids.len() - 1
        );
        assert!(
            ids.len() >= 3,
            "the tree should have a root and at least two leaves"
        );
        assert!(
            live_by_kind.iter().all(|n| *n == ids.len()),
            "{live_by_kind:?}"
        );
        assert_eq!(sink.root(&host), Some(root));
        assert_eq!(sink.query(&host, &user, &scan), honest);
    }
}

// ---------------------------------------------------------------------------------------
// Contract records
// ---------------------------------------------------------------------------------------

#[test]
fn forged_contract_record_cannot_open_the_state() {
    for mode in modes() {
        let f = setup(&mode);
        let root = f.root();
        let honest = f.record();
        let name = mode_name(&mode);
        let query = || {
            f.alice
                .encrypt(&f.host, &f.token.code_hash, &f.balance_query())
                .0
        };

        // Another creator: the enclave's own record of the contract says otherwise.
        for creator in [
            account("mallory"),
            String::new(),
            format!("{}x", honest.creator),
        ] {
            let forged = ContractRecord {
                creator: creator.clone(),
                ..honest.clone()
            };
            let case = format!("{name}: creator {creator:?}");
            expect_error(
                f.run_with(EntryPoint::Query, &forged, query()),
                ErrorKind::BadRequest,
                "creator does not match",
                &case,
            );
            expect_error(
                f.run_with(EntryPoint::Execute, &forged, f.transfer_envelope(1)),
                ErrorKind::BadRequest,
                "creator does not match",
                &case,
            );
            f.assert_unchanged(root, "1000", &case);
        }

        // Other code: the enclave knows which code the contract runs, whoever wrote the
        // message (the token's users or the host itself)...
        let sink_hash = f.host.store_code(kitchen_sink_wasm()).unwrap();
        let forged = ContractRecord {
            code_hash: sink_hash,
            ..honest.clone()
        };
        let case = format!("{name}: other code, token's messages");
        expect_error(
            f.run_with(EntryPoint::Query, &forged, query()),
            ErrorKind::BadRequest,
            "code hash does not match",
            &case,
        );
        expect_error(
            f.run_with(EntryPoint::Execute, &forged, f.transfer_envelope(1)),
            ErrorKind::BadRequest,
            "code hash does not match",
            &case,
        );
        // ... so the host cannot run its own code on the token's state.
        let host_user = User::random();
        let case = format!("{name}: other code, its own messages");
        let scan = host_user
            .encrypt(&f.host, &sink_hash, &json!({"range": {}}))
            .0;
        expect_error(
            f.run_with(EntryPoint::Query, &forged, scan),
            ErrorKind::BadRequest,
            "code hash does not match",
            &case,
        );
        let set = host_user
            .encrypt(
                &f.host,
                &sink_hash,
                &json!({"set": {"key": "balance", "value": "forged"}}),
            )
            .0;
        expect_error(
            f.run_with(EntryPoint::Execute, &forged, set),
            ErrorKind::BadRequest,
            "code hash does not match",
            &case,
        );
        f.assert_unchanged(root, "1000", &case);

        // The record of one token used at another's address.
        let creator = User::fixed("creator");
        let msg = json!({
            "name": "Other Token",
            "symbol": "OTH",
            "decimals": 0,
            "initial_balances": [{"address": f.alice_addr, "amount": "5"}],
            "mint": null,
        });
        let (other, _) = Contract::instantiate(
            &f.host,
            f.token.code_hash,
            &creator,
            &account("creator"),
            "other",
            &msg,
        );
        let other_root = other.root(&f.host);
        let case = format!("{name}: token's record at another address");
        let envelope = f
            .alice
            .encrypt(&f.host, &f.token.code_hash, &f.balance_query())
            .0;
        let result = f.host.run(
            EntryPoint::Query,
            &other.address,
            &honest,
            "",
            envelope,
            Vec::new(),
            block(),
            GAS_LIMIT,
            None,
        );
        let err = enclave_error(result);
        assert!(
            matches!(
                err.kind,
                ErrorKind::StaleStateRoot | ErrorKind::StateIntegrity
            ),
            "{case}: {err}"
        );
        assert_eq!(other.root(&f.host), other_root);
        assert_eq!(
            other.query(&f.host, &f.alice, &f.balance_query()),
            json!({"balance": "5"})
        );
        f.assert_unchanged(root, "1000", &case);
    }
}

// ---------------------------------------------------------------------------------------
// Sealed state
// ---------------------------------------------------------------------------------------

#[test]
fn old_sealed_file_is_refused_and_the_current_one_restarts() {
    for mode in modes() {
        let mut f = setup(&mode);
        let name = mode_name(&mode);
        let sealed_path = f.host.home().join("enclave.sealed");
        let old_sealed = std::fs::read(&sealed_path).unwrap();
        let key_before = f.host.network_key();
        let old_record = f.record();

        for amount in [100, 20] {
            assert!(f.execute_envelope(f.transfer_envelope(amount)).unwrap().ok);
        }
        let root = f.root();
        let current_sealed = std::fs::read(&sealed_path).unwrap();
        assert_ne!(current_sealed, old_sealed);

        // The host puts the older sealed file back and restarts the enclave.
        std::fs::write(&sealed_path, &old_sealed).unwrap();
        let err = expect_enclave_error(f.host.restart_enclave(), ErrorKind::StaleSealedState);
        assert!(err.message.contains("generation"), "{name}: {err}");

        // A corrupted sealed file does not unseal.
        let mut corrupted = current_sealed.clone();
        let at = corrupted.len() / 2;
        corrupted[at] ^= 1;
        std::fs::write(&sealed_path, &corrupted).unwrap();
        expect_enclave_error(f.host.restart_enclave(), ErrorKind::Sealing);

        // With the current file the enclave restarts: same network key, same state.
        std::fs::write(&sealed_path, &current_sealed).unwrap();
        f.host
            .restart_enclave()
            .unwrap_or_else(|e| panic!("{name}: restart with the current sealed file: {e}"));
        assert_eq!(
            f.host.network_key(),
            key_before,
            "{name}: restart changed the network key"
        );
        f.assert_unchanged(root, "880", &format!("{name}: after restart"));
        // The restarted enclave still refuses the stale root it had before...
        let query = f
            .alice
            .encrypt(&f.host, &f.token.code_hash, &f.balance_query())
            .0;
        expect_error(
            f.run_with(EntryPoint::Query, &old_record, query),
            ErrorKind::StaleStateRoot,
            "",
            name,
        );
        // ... and keeps working.
        assert!(f.execute_envelope(f.transfer_envelope(1)).unwrap().ok);
        assert_eq!(f.alice_balance(), json!({"balance": "879"}));
        // An envelope encrypted before the restart (same key) still opens.
        let early = f.transfer_envelope(9);
        f.host.restart_enclave().unwrap();
        assert!(f.execute_envelope(early).unwrap().ok);
        assert_eq!(f.alice_balance(), json!({"balance": "870"}));
    }
}
