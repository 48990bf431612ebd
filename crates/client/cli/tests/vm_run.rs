//! `veil vm run` as a user runs it: the real binary on contracts built from source.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::Digest;
use veil_contract_build::{
    build_contract, ensure_toolchain, workspace_contract_cache, BuildOptions,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn build(name: &str, mvp: bool) -> PathBuf {
    ensure_toolchain(true).expect("contract toolchain");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../contracts")
        .join(name);
    let out_dir = workspace_contract_cache()
        .join("cli-test-artifacts")
        .join(name);
    build_contract(
        &dir,
        &BuildOptions {
            mvp,
            out_dir: Some(out_dir),
            quiet: true,
            near: false,
        },
    )
    .expect("contract builds")
}

fn kitchen_sink() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| build("kitchen-sink", true))
}

struct Run {
    out: Value,
    ok: bool,
    stderr: String,
}

fn veil(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .output()
        .expect("veil runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let out = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    Run {
        out,
        ok: output.status.success(),
        stderr,
    }
}

/// Runs one call against `state` and returns the JSON output.
fn call(wasm: &Path, state: &Path, entry: &str, msg: Value, extra: &[&str]) -> Run {
    let msg = msg.to_string();
    let mut args = vec![
        "vm",
        "run",
        "--wasm",
        wasm.to_str().unwrap(),
        "--entry",
        entry,
        "--msg",
        &msg,
    ];
    args.extend(["--state", state.to_str().unwrap()]);
    args.extend(extra);
    veil(&args)
}

fn query(wasm: &Path, state: &Path, msg: Value) -> Value {
    let run = call(wasm, state, "query", msg.clone(), &[]);
    assert!(run.ok, "query {msg} failed: {}", run.out);
    let data = B64.decode(run.out["data"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&data).unwrap()
}

fn ok(run: Run) -> Value {
    assert!(
        run.ok && run.out["ok"] == json!(true),
        "call failed: {} {}",
        run.out,
        run.stderr
    );
    run.out
}

fn instantiated_sink() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    ok(call(kitchen_sink(), &state, "instantiate", json!({}), &[]));
    (dir, state)
}

#[test]
fn counter_runs_in_mvp_and_modern_builds() {
    for mvp in [true, false] {
        let wasm = build("counter", mvp);
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let out = ok(call(&wasm, &state, "instantiate", json!({"count": 5}), &[]));
        assert!(out["gas_used"].as_u64().unwrap() > 0);
        let out = ok(call(
            &wasm,
            &state,
            "execute",
            json!({"increment": {}}),
            &["--repeat", "3"],
        ));
        assert_eq!(
            out["attributes"][1],
            json!({"key": "count", "value": "9"}),
            "mvp={mvp}"
        );
        assert!(out["timing"]["median_us"].as_f64().unwrap() > 0.0);
        assert_eq!(
            query(&wasm, &state, json!({"get_count": {}})),
            json!({"count": 9})
        );
    }
}

#[test]
fn storage_iteration_matches_cosmwasm_bounds_in_both_orders() {
    let (_dir, state) = instantiated_sink();
    for key in ["a", "b", "c", "d", "e"] {
        ok(call(
            kitchen_sink(),
            &state,
            "execute",
            json!({"set": {"key": key, "value": key.to_uppercase()}}),
            &[],
        ));
    }
    ok(call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"remove": {"key": "c"}}),
        &[],
    ));
    let keys = |q: Value| -> Vec<String> {
        let r = query(kitchen_sink(), &state, json!({"range_keys": q}));
        serde_json::from_value(r["keys"].clone()).unwrap()
    };
    assert_eq!(keys(json!({"start": "b", "end": "e"})), ["b", "d"]);
    assert_eq!(
        keys(json!({"start": "b", "end": "e", "descending": true})),
        ["d", "b"]
    );
    assert_eq!(
        keys(json!({"start": "a", "end": "bz", "descending": true})),
        ["b", "a"]
    );
    assert_eq!(
        keys(json!({"start": "e", "end": "b"})),
        Vec::<String>::new()
    );
    let values = query(
        kitchen_sink(),
        &state,
        json!({"range_values": {"start": "d", "end": "f"}}),
    );
    assert_eq!(values["values"], json!(["D", "E"]));
    let entries = query(
        kitchen_sink(),
        &state,
        json!({"range": {"start": "a", "end": "b\u{0}", "limit": 5}}),
    );
    assert_eq!(
        entries["entries"],
        json!([{"key": "a", "value": "A"}, {"key": "b", "value": "B"}])
    );

    // cw-storage-plus pagination over a composite-key map.
    for (owner, key) in [
        ("alice", "x"),
        ("alice", "y"),
        ("alice", "z"),
        ("carol", "x"),
        ("bob", "x"),
    ] {
        let msg =
            json!({"map_set": {"owner": owner, "key": key, "value": format!("{owner}-{key}")}});
        ok(call(kitchen_sink(), &state, "execute", msg, &[]));
    }
    let page = query(
        kitchen_sink(),
        &state,
        json!({"map_page": {"owner": "alice", "limit": 2}}),
    );
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let rest = query(
        kitchen_sink(),
        &state,
        json!({"map_page": {"owner": "alice", "start_after": "y"}}),
    );
    assert_eq!(
        rest["entries"],
        json!([{"owner": "alice", "key": "z", "value": "alice-z"}])
    );
    // Keys are length-prefixed, so "bob" sorts before "alice" and falls outside [alice, carol].
    let desc = query(
        kitchen_sink(),
        &state,
        json!({"map_prefix_range": {"min_owner": "alice", "max_owner": "carol", "descending": true}}),
    );
    assert_eq!(
        desc["entries"][0],
        json!({"owner": "carol", "key": "x", "value": "carol-x"}),
        "{desc}"
    );
    assert_eq!(
        desc["entries"][3],
        json!({"owner": "alice", "key": "x", "value": "alice-x"}),
        "{desc}"
    );
    assert_eq!(desc["entries"].as_array().unwrap().len(), 4);
}

#[test]
fn addresses_use_bech32_with_the_configured_prefix() {
    let (_dir, state) = instantiated_sink();
    let canonical = "0102030405060708090a0b0c0d0e0f1011121314";
    let human = query(
        kitchen_sink(),
        &state,
        json!({"humanize_addr": {"hex": canonical}}),
    )["addr"]
        .clone();
    let human = human.as_str().unwrap().to_string();
    assert!(human.starts_with("veil1"), "{human}");
    assert_eq!(
        query(
            kitchen_sink(),
            &state,
            json!({"canonicalize_addr": {"addr": human}})
        )["hex"],
        json!(canonical)
    );
    assert_eq!(
        query(
            kitchen_sink(),
            &state,
            json!({"validate_addr": {"addr": human}})
        )["addr"],
        json!(human)
    );
    // 32-byte (contract) addresses too.
    let long = "ab".repeat(32);
    let human32 = query(
        kitchen_sink(),
        &state,
        json!({"humanize_addr": {"hex": long}}),
    )["addr"]
        .clone();
    assert_eq!(
        query(
            kitchen_sink(),
            &state,
            json!({"canonicalize_addr": {"addr": human32}})
        )["hex"],
        json!(long)
    );
    // Wrong prefix: a contract error carrying the API's message.
    let run = call(
        kitchen_sink(),
        &state,
        "query",
        json!({"validate_addr": {"addr": "cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu"}}),
        &[],
    );
    assert!(!run.ok);
    assert!(
        run.out["error"]
            .as_str()
            .unwrap()
            .contains("Wrong bech32 prefix"),
        "{}",
        run.out
    );
    // Another prefix is a flag away.
    let run = veil(&[
        "vm",
        "run",
        "--wasm",
        kitchen_sink().to_str().unwrap(),
        "--entry",
        "query",
        "--prefix",
        "cosmos",
        "--msg",
        r#"{"validate_addr":{"addr":"cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu"}}"#,
    ]);
    assert!(run.ok, "{}", run.out);
}

fn verify(state: &Path, msg: Value) -> bool {
    query(kitchen_sink(), state, msg)["valid"]
        .as_bool()
        .unwrap()
}

#[test]
fn crypto_imports_verify_real_signatures() {
    let (_dir, state) = instantiated_sink();
    let hash = sha2::Sha256::digest(b"veil signs this");
    let hash_hex = hex::encode(hash);

    // secp256k1: verify and recover.
    let k1 = k256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
    let (sig, recovery) = k1.sign_prehash_recoverable(&hash).unwrap();
    let k1_pub = hex::encode(k1.verifying_key().to_encoded_point(true).as_bytes());
    let k1_sig = hex::encode(sig.to_bytes());
    assert!(verify(
        &state,
        json!({"secp256k1_verify": {"hash": hash_hex, "sig": k1_sig, "pubkey": k1_pub}})
    ));
    let other = hex::encode(sha2::Sha256::digest(b"something else"));
    assert!(!verify(
        &state,
        json!({"secp256k1_verify": {"hash": other, "sig": k1_sig, "pubkey": k1_pub}})
    ));
    let recovered = query(
        kitchen_sink(),
        &state,
        json!({"secp256k1_recover": {"hash": hash_hex, "sig": k1_sig, "recovery_param": recovery.to_byte()}}),
    );
    let uncompressed = hex::encode(k1.verifying_key().to_encoded_point(false).as_bytes());
    assert_eq!(recovered["pubkey"], json!(uncompressed));

    // secp256r1: verify and recover.
    let r1 = p256::ecdsa::SigningKey::from_bytes(&[9u8; 32].into()).unwrap();
    let (sig, recovery) = r1.sign_prehash_recoverable(&hash).unwrap();
    let r1_pub = hex::encode(r1.verifying_key().to_encoded_point(false).as_bytes());
    let r1_sig = hex::encode(sig.to_bytes());
    assert!(verify(
        &state,
        json!({"secp256r1_verify": {"hash": hash_hex, "sig": r1_sig, "pubkey": r1_pub}})
    ));
    let recovered = query(
        kitchen_sink(),
        &state,
        json!({"secp256r1_recover": {"hash": hash_hex, "sig": r1_sig, "recovery_param": recovery.to_byte()}}),
    );
    assert_eq!(recovered["pubkey"], json!(r1_pub));

    // ed25519: single and batch.
    let keys: Vec<ed25519_zebra::SigningKey> = (1u8..=3)
        .map(|i| ed25519_zebra::SigningKey::from([i; 32]))
        .collect();
    let msgs: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("message {i}").into_bytes())
        .collect();
    let sigs: Vec<String> = keys
        .iter()
        .zip(&msgs)
        .map(|(k, m)| hex::encode(<[u8; 64]>::from(k.sign(m))))
        .collect();
    let pubs: Vec<String> = keys
        .iter()
        .map(|k| hex::encode(<[u8; 32]>::from(ed25519_zebra::VerificationKey::from(k))))
        .collect();
    let msgs_hex: Vec<String> = msgs.iter().map(hex::encode).collect();
    assert!(verify(
        &state,
        json!({"ed25519_verify": {"msg": msgs_hex[0], "sig": sigs[0], "pubkey": pubs[0]}})
    ));
    assert!(!verify(
        &state,
        json!({"ed25519_verify": {"msg": msgs_hex[1], "sig": sigs[0], "pubkey": pubs[0]}})
    ));
    assert!(verify(
        &state,
        json!({"ed25519_batch_verify": {"msgs": msgs_hex, "sigs": sigs, "pubkeys": pubs}})
    ));
    let mut swapped = sigs.clone();
    swapped.swap(0, 1);
    assert!(!verify(
        &state,
        json!({"ed25519_batch_verify": {"msgs": msgs_hex, "sigs": swapped, "pubkeys": pubs}})
    ));

    // bls12-381: generators, aggregation, hashing, pairings.
    let g1 = "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb";
    let g2 = "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8";
    let two_g1 = query(
        kitchen_sink(),
        &state,
        json!({"bls12381_aggregate_g1": {"points": format!("{g1}{g1}")}}),
    )["point"]
        .clone();
    let expected =
        cosmwasm_crypto::bls12_381_aggregate_g1(&hex::decode(format!("{g1}{g1}")).unwrap())
            .unwrap();
    assert_eq!(two_g1, json!(hex::encode(expected)));
    let two_g2 = query(
        kitchen_sink(),
        &state,
        json!({"bls12381_aggregate_g2": {"points": format!("{g2}{g2}")}}),
    )["point"]
        .clone();
    assert_eq!(two_g2.as_str().unwrap().len(), 192);
    // e(2·g1, g2) == e(g1, 2·g2), and != e(g1, g2).
    let two_g1 = two_g1.as_str().unwrap();
    let two_g2 = two_g2.as_str().unwrap();
    assert!(verify(
        &state,
        json!({"bls12381_pairing_equality": {"ps": two_g1, "qs": g2, "r": g1, "s": two_g2}})
    ));
    assert!(!verify(
        &state,
        json!({"bls12381_pairing_equality": {"ps": two_g1, "qs": g2, "r": g1, "s": g2}})
    ));
    let (msg, dst) = (
        hex::encode(b"abc"),
        hex::encode(b"QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"),
    );
    let h1 = query(
        kitchen_sink(),
        &state,
        json!({"bls12381_hash_to_g1": {"msg": msg, "dst": dst}}),
    )["point"]
        .clone();
    let expected = cosmwasm_crypto::bls12_381_hash_to_g1(
        cosmwasm_crypto::HashFunction::Sha256,
        b"abc",
        &hex::decode(&dst).unwrap(),
    );
    assert_eq!(h1, json!(hex::encode(expected)));
    let h2 = query(
        kitchen_sink(),
        &state,
        json!({"bls12381_hash_to_g2": {"msg": msg, "dst": dst}}),
    )["point"]
        .clone();
    assert_eq!(h2.as_str().unwrap().len(), 192);
}

#[test]
fn query_chain_debug_abort_and_other_entry_points() {
    let (_dir, state) = instantiated_sink();
    // Funds sent with an execute are the contract's balance, seen through query_chain.
    use veil_engine::Api;
    let contract = &veil_engine::Bech32Api::default()
        .addr_humanize(&[5u8; 32])
        .unwrap();
    let q = json!({"exec_query": {"query": {"query_balance": {"address": contract, "denom": "uveil"}}}});
    let out = ok(call(
        kitchen_sink(),
        &state,
        "execute",
        q,
        &["--contract", contract, "--funds", "250uveil,3ufoo"],
    ));
    let data: Value =
        serde_json::from_slice(&B64.decode(out["data"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(data["amount"], json!("250"));
    // An unsupported chain query is reported back to the contract, not a crash.
    let smart = query(
        kitchen_sink(),
        &state,
        json!({"wasm_smart": {"contract_addr": contract, "msg": B64.encode("{}")}}),
    );
    assert!(
        smart["error"].as_str().unwrap().contains("system"),
        "{smart}"
    );
    // debug reaches stderr only with --debug.
    let run = call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"debug": {"msg": "hello from wasm"}}),
        &["--debug"],
    );
    assert!(
        run.ok && run.stderr.contains("hello from wasm"),
        "{}",
        run.stderr
    );
    let run = call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"debug": {"msg": "quiet"}}),
        &[],
    );
    assert!(run.ok && !run.stderr.contains("quiet"));
    // abort (panic) is a structured error.
    let run = call(kitchen_sink(), &state, "execute", json!({"panic": {}}), &[]);
    assert!(
        !run.ok
            && run.out["error"]
                .as_str()
                .unwrap()
                .contains("kitchen-sink panic"),
        "{}",
        run.out
    );
    assert_eq!(run.out["error_kind"], json!("aborted"));
    // A contract error is the contract's own message.
    let run = call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"err": {"msg": "nope"}}),
        &[],
    );
    assert!(!run.ok && run.out["error"].as_str().unwrap().contains("nope"));
    assert_eq!(run.out["error_kind"], json!("contract"));
    // migrate, sudo, reply.
    let out = ok(call(kitchen_sink(), &state, "migrate", json!({}), &[]));
    assert_eq!(
        out["attributes"][0],
        json!({"key": "migrated", "value": "yes"})
    );
    let out = ok(call(
        kitchen_sink(),
        &state,
        "sudo",
        json!({"echo": {"msg": "root"}}),
        &[],
    ));
    assert_eq!(out["data"], json!(B64.encode("root")));
    let reply = json!({"id": 7, "payload": "", "gas_used": 0, "result": {"ok": {"events": [], "msg_responses": []}}});
    let out = ok(call(kitchen_sink(), &state, "reply", reply, &[]));
    assert!(
        out["attributes"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "reply_id", "value": "7"})),
        "{out}"
    );
    assert_eq!(
        query(kitchen_sink(), &state, json!({"last_reply": {}}))["reply"]["id"],
        json!(7)
    );
}

#[test]
fn bombs_end_cleanly_and_leave_state_untouched() {
    let (_dir, state) = instantiated_sink();
    ok(call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"set": {"key": "k", "value": "before"}}),
        &[],
    ));
    let before = std::fs::read(&state).unwrap();
    let run = call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"loop": {}}),
        &["--gas-limit", "5000000000"],
    );
    assert!(!run.ok);
    assert_eq!(run.out["error_kind"], json!("out_of_gas"));
    assert_eq!(run.out["gas_used"], json!(5_000_000_000u64));
    let run = call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"storage_loop": {}}),
        &["--gas-limit", "5000000000"],
    );
    assert_eq!(run.out["error_kind"], json!("out_of_gas"), "{}", run.out);
    let run = call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"recurse": {"depth": 1_000_000}}),
        &[],
    );
    assert_eq!(
        run.out["error_kind"],
        json!("stack_exhausted"),
        "{}",
        run.out
    );
    let run = call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"grow_memory": {"pages": 4096}}),
        &[],
    );
    assert!(!run.ok, "{}", run.out);
    assert!(
        ["memory_limit", "aborted", "trap"].contains(&run.out["error_kind"].as_str().unwrap()),
        "{}",
        run.out
    );
    // A modest recursion and allocation still work.
    ok(call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"recurse": {"depth": 100}}),
        &[],
    ));
    ok(call(
        kitchen_sink(),
        &state,
        "execute",
        json!({"grow_memory": {"pages": 16}}),
        &[],
    ));
    let after_ok = std::fs::read(&state).unwrap();
    assert_eq!(
        before, after_ok,
        "failed or read-only calls must not change the state file"
    );
    assert_eq!(
        query(kitchen_sink(), &state, json!({"get": {"key": "k"}}))["value"],
        json!("before")
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let sink = kitchen_sink();
    // Invalid JSON message.
    let run = call(sink, &state, "instantiate", json!({}), &[]);
    assert!(run.ok);
    let snapshot = std::fs::read(&state).unwrap();
    let bad = veil(&[
        "vm",
        "run",
        "--wasm",
        sink.to_str().unwrap(),
        "--entry",
        "execute",
        "--msg",
        "{not json",
        "--state",
        state.to_str().unwrap(),
    ]);
    assert!(
        !bad.ok && bad.stderr.contains("not valid JSON"),
        "{}",
        bad.stderr
    );
    // Sender with the wrong prefix.
    let bad = call(
        sink,
        &state,
        "execute",
        json!({"set": {"key": "x", "value": "y"}}),
        &["--sender", "cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu"],
    );
    assert!(
        !bad.ok && bad.stderr.contains("--sender") && bad.stderr.contains("Wrong bech32 prefix"),
        "{}",
        bad.stderr
    );
    // Unknown message variant: the contract's own parse error.
    let bad = call(sink, &state, "execute", json!({"no_such_msg": {}}), &[]);
    assert!(
        !bad.ok && bad.out["error_kind"] == json!("contract"),
        "{}",
        bad.out
    );
    // Truncated and random wasm.
    let full = std::fs::read(sink).unwrap();
    let truncated = dir.path().join("truncated.wasm");
    std::fs::write(&truncated, &full[..full.len() / 3]).unwrap();
    let bad = call(&truncated, &state, "execute", json!({}), &[]);
    assert!(
        !bad.ok && bad.out["error_kind"] == json!("static_validation"),
        "{}",
        bad.out
    );
    let random = dir.path().join("random.wasm");
    std::fs::write(&random, sha2::Sha256::digest(b"noise").repeat(100)).unwrap();
    let bad = call(&random, &state, "execute", json!({}), &[]);
    assert!(
        !bad.ok
            && bad.out["error"]
                .as_str()
                .unwrap()
                .contains("invalid contract code"),
        "{}",
        bad.out
    );
    // A 10 MiB message (passed by file: too big for a command line).
    let big = dir.path().join("big.json");
    std::fs::write(
        &big,
        format!(
            "{{\"set\":{{\"key\":\"k\",\"value\":\"{}\"}}}}",
            "x".repeat(10 * 1024 * 1024)
        ),
    )
    .unwrap();
    let bad = veil(&[
        "vm",
        "run",
        "--wasm",
        sink.to_str().unwrap(),
        "--entry",
        "execute",
        "--msg-file",
        big.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert!(
        !bad.ok && bad.out["error_kind"] == json!("too_large"),
        "{}",
        bad.out
    );
    // Missing wasm file, corrupt state file.
    let bad = call(
        &dir.path().join("missing.wasm"),
        &state,
        "execute",
        json!({}),
        &[],
    );
    assert!(!bad.ok && bad.stderr.contains("missing.wasm"));
    assert_eq!(
        std::fs::read(&state).unwrap(),
        snapshot,
        "nothing above may change the state"
    );
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, "garbage").unwrap();
    let bad = call(sink, &corrupt, "execute", json!({}), &[]);
    assert!(
        !bad.ok && bad.stderr.contains("not valid"),
        "{}",
        bad.stderr
    );
    assert_eq!(std::fs::read(&corrupt).unwrap(), b"garbage");
}
