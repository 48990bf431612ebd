//! Dev inspect end to end: `veil dev --inspect` run as a process, cw20-base 2.0.0 built
//! from source, a confidential transfer, then `veil inspect tx` (message, result, events,
//! the exact state changes) and `veil inspect state` (keys and values in order, under a
//! prefix). What the node answers opens only with the home's owner key; a dev chain run
//! without `--inspect` and a chain whose genesis is not a dev chain's refuse.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use common::DevNode;
use serde_json::{json, Value};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    /// Checks the exit status and that the `error: ` line holds `text`.
    #[track_caller]
    fn fails(self, code: i32, text: &str) -> Self {
        assert_eq!(
            self.code, code,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        assert!(
            self.stderr
                .lines()
                .any(|l| l.starts_with("error: ") && l.contains(text)),
            "expected `{text}` in an error line: {}",
            self.stderr
        );
        self
    }
}

fn veil(home: &Path, node: &str, args: &[&str]) -> Out {
    let output = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .env_remove("VEIL_NODE")
        .env_remove("VEIL_KEYRING_BACKEND")
        .env("VEIL_HOME", home)
        .env("VEIL_NODE", node)
        .env("HOME", home.join("user-home"))
        .stdin(Stdio::null())
        .output()
        .expect("veil runs");
    Out {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn cw20_wasm() -> std::path::PathBuf {
    use veil_contract_build as build;
    let options = build::BuildOptions {
        mvp: true,
        out_dir: None,
        quiet: true,
        near: false,
    };
    build::build_published("cw20-base", "2.0.0", &options).expect("build cw20-base")
}

/// A cw-storage-plus `Map` key under namespace `balance`, as `veil inspect` prints it.
fn balance_key(address: &str) -> String {
    format!("\\x00\\x07balance{address}")
}

#[test]
fn the_owner_sees_inside_a_dev_chain_and_only_there() {
    let wasm = cw20_wasm();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut node = DevNode::start_with(&home, "200ms", &["--inspect"]);
    let url = node.url();
    let key_file = home.join("node/inspect-owner.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the owner key is private to its owner");
    }
    assert!(
        node.log_text().contains("inspection is on"),
        "{}",
        node.log_text()
    );
    let run = |args: &[&str]| veil(&home, &url, args);

    let alice = veil_client::dev_key("alice").address().to_string();
    let bob = veil_client::dev_key("bob").address().to_string();
    let stored = run(&[
        "tx",
        "store",
        wasm.to_str().unwrap(),
        "--query-policy",
        "cw20",
        "--from",
        "alice",
        "--output",
        "json",
    ])
    .ok()
    .json();
    let code_id = stored["code_id"].as_u64().unwrap().to_string();
    let init = json!({
        "name": "Veil Token", "symbol": "VTK", "decimals": 6,
        "initial_balances": [{"address": alice, "amount": "1000"}],
    })
    .to_string();
    let token = run(&[
        "tx",
        "instantiate",
        &code_id,
        &init,
        "--label",
        "token",
        "--query-policy",
        "cw20",
        "--from",
        "alice",
        "--output",
        "json",
    ])
    .ok()
    .json()["contract_address"]
        .as_str()
        .unwrap()
        .to_string();
    let transfer = json!({"transfer": {"recipient": bob, "amount": "250"}});
    let executed = run(&[
        "tx",
        "execute",
        &token,
        &transfer.to_string(),
        "--from",
        "alice",
        "--output",
        "json",
    ])
    .ok()
    .json();
    let tx_hash = executed["tx_hash"].as_str().unwrap().to_string();

    // --- inspect tx: message, result, events, exact state changes ----------------------
    let inspected = run(&["inspect", "tx", &tx_hash, "--output", "json"])
        .ok()
        .json();
    let inspection = &inspected["inspection"];
    assert_eq!(inspection["contract"], json!(token));
    assert_eq!(inspection["entry"], json!("execute"));
    assert_eq!(inspection["message"], transfer);
    let attributes = inspection["result"]["attributes"].as_array().unwrap();
    for (key, value) in [
        ("action", "transfer"),
        ("from", &alice),
        ("to", &bob),
        ("amount", "250"),
    ] {
        assert!(
            attributes.contains(&json!({"key": key, "value": value})),
            "{key}={value} in {inspection}"
        );
    }
    assert!(
        inspected["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "execute"),
        "the public events too: {inspected}"
    );
    let mut expected = vec![
        json!({ "key": balance_key(&alice), "key_hex": hex::encode(format!("\0\x07balance{alice}")),
                "old": "\"1000\"", "new": "\"750\"" }),
        json!({ "key": balance_key(&bob), "key_hex": hex::encode(format!("\0\x07balance{bob}")),
                "old": null, "new": "\"250\"" }),
    ];
    expected.sort_by(|a, b| a["key_hex"].as_str().cmp(&b["key_hex"].as_str()));
    assert_eq!(
        inspection["state_changes"],
        json!([{ "contract": token, "changes": expected }])
    );
    let text = run(&["inspect", "tx", &tx_hash]).ok().stdout;
    for line in [
        format!("message: {transfer}"),
        "result.attribute: action = transfer".to_string(),
        format!("state changes in {token}:"),
        format!("  {}: \"1000\" -> \"750\"", balance_key(&alice)),
        format!("  {}: (new) \"250\"", balance_key(&bob)),
    ] {
        assert!(text.lines().any(|l| l == line), "`{line}` in:\n{text}");
    }
    // A transaction that called no contract: its public receipt, no record.
    let stored_hash = stored["tx_hash"].as_str().unwrap();
    let text = run(&["inspect", "tx", stored_hash]).ok().stdout;
    assert!(text.contains("inspection: none"), "{text}");

    // --- inspect state: keys and values in key order, --prefix -------------------------
    let state = run(&["inspect", "state", &token, "--output", "json"])
        .ok()
        .json();
    let keys: Vec<&str> = state["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key_hex"].as_str().unwrap())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "in key order");
    let shown: Vec<&str> = state["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    let mut balances_first = vec![balance_key(&alice), balance_key(&bob)];
    balances_first.sort_by_key(|key| key.replace("\\x00\\x07", "\0\x07"));
    balances_first.extend(["contract_info".to_string(), "token_info".to_string()]);
    assert_eq!(
        shown, balances_first,
        "the balances, cw2's contract_info, the token info"
    );
    let info: Value = serde_json::from_str(state["entries"][3]["value"].as_str().unwrap()).unwrap();
    assert_eq!(info["name"], json!("Veil Token"));
    assert_eq!(state["more"], json!(false));
    let balances = run(&[
        "inspect",
        "state",
        &token,
        "--prefix",
        "\\x00\\x07balance",
        "--output",
        "json",
    ])
    .ok()
    .json();
    let mut expected = [
        (balance_key(&alice), "\"750\""),
        (balance_key(&bob), "\"250\""),
    ];
    expected.sort_by_key(|(key, _)| {
        // Key order is byte order of the raw key.
        key.replace("\\x00\\x07", "\0\x07")
    });
    let entries: Vec<(String, String)> = balances["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        expected
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect::<Vec<_>>()
    );
    let hex_prefix = run(&[
        "inspect",
        "state",
        &token,
        "--prefix-hex",
        "0007",
        "--output",
        "json",
    ])
    .ok()
    .json();
    assert_eq!(hex_prefix["entries"], balances["entries"]);
    let first = run(&[
        "inspect", "state", &token, "--limit", "1", "--output", "json",
    ])
    .ok()
    .json();
    assert_eq!(first["entries"].as_array().unwrap().len(), 1);
    assert_eq!(first["more"], json!(true));
    let text = run(&["inspect", "state", &token, "--prefix", "token"])
        .ok()
        .stdout;
    assert!(text.starts_with("token_info: {"), "{text}");

    // --- clear errors -----------------------------------------------------------------
    run(&["inspect", "tx", &"00".repeat(32)]).fails(1, "no transaction");
    run(&["inspect", "state", &bob]).fails(1, "no contract at");
    run(&["inspect", "state", &token, "--prefix", "\\q"]).fails(2, "--prefix");

    // --- without the owner key nothing can be read --------------------------------------
    let stranger = dir.path().join("stranger");
    veil(&stranger, &url, &["inspect", "tx", &tx_hash]).fails(1, "no inspect owner key");
    let answer = node
        .client()
        .inspect_tx(&veil_types::serde_hash::parse_hex(&tx_hash).unwrap())
        .unwrap();
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(answer["sealed"].as_str().unwrap())
        .unwrap();
    let other = veil_crypto::x25519_dalek::StaticSecret::random_from_rng(veil_crypto::OsRng);
    assert!(veil_crypto::open_as_owner(&other, &sealed).is_err());
    let sealed_text = String::from_utf8_lossy(&sealed);
    assert!(!sealed_text.contains("transfer") && !sealed_text.contains(&bob));
    // The owner key of another home opens nothing either.
    std::fs::create_dir_all(stranger.join("node")).unwrap();
    std::fs::write(
        stranger.join("node/inspect-owner.key"),
        hex::encode(other.to_bytes()),
    )
    .unwrap();
    veil(&stranger, &url, &["inspect", "tx", &tx_hash])
        .fails(1, "does not open with this home's owner key");

    // --- the same dev chain without --inspect: refused -----------------------------------
    node.stop();
    node.extra_args.clear();
    node.spawn();
    run(&["inspect", "tx", &tx_hash]).fails(1, "inspection is not on");
    run(&["inspect", "state", &token]).fails(1, "inspection is not on");
    node.stop();

    // --- a chain whose genesis is not a dev chain's: --inspect is refused, no key made ---
    let testnet = dir.path().join("testnet");
    let init = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["testnet", "init", "--validators", "1", "--base-port"])
        .arg(common::free_port().to_string())
        .arg("--dir")
        .arg(&testnet)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let validator = testnet.join("node0");
    let started = veil(
        &validator,
        "http://127.0.0.1:1",
        &["node", "start", "--inspect"],
    );
    assert_ne!(started.code, 0, "{}", started.stderr);
    assert!(
        started.stderr.contains("is not a dev chain"),
        "{}",
        started.stderr
    );
    assert!(
        !validator.join("node/inspect-owner.key").exists(),
        "no owner key on a non-dev chain"
    );
}
