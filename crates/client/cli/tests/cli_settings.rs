//! The CLI's shared settings: global flags on every command, the environment, the home's
//! client config (`veil config get|set`), `veil dev` writing it so that `--from alice`
//! works with no other flag, and `veil query tx --from` decrypting the sender's message.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

/// `veil` with none of the VEIL_* variables of the caller's environment.
fn veil(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_veil"));
    for name in [
        "VEIL_HOME",
        "VEIL_NODE",
        "VEIL_OUTPUT",
        "VEIL_KEYRING_BACKEND",
        "VEIL_CHAIN_ID",
        "VEIL_KEYRING_PASSPHRASE",
    ] {
        command.env_remove(name);
    }
    command.args(args).envs(env.iter().copied());
    command.output().expect("veil runs")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

#[test]
fn client_config_file_and_precedence() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let set = veil(&["config", "set", "node", "127.0.0.1:9", "--home", h], &[]);
    assert_eq!(code(&set), 0, "{:?}", text(&set));
    let file = std::fs::read_to_string(home.path().join("config/client.toml")).unwrap();
    assert!(file.starts_with("# Veil client settings"), "{file}");
    assert!(file.contains("node = \"http://127.0.0.1:9\""), "{file}");
    // Set again: the value changes, the comment stays.
    assert_eq!(
        code(&veil(
            &["config", "set", "node", "http://127.0.0.1:8", "--home", h],
            &[]
        )),
        0
    );
    assert_eq!(
        code(&veil(
            &["--home", h, "config", "set", "output", "json"],
            &[]
        )),
        0
    );
    let file = std::fs::read_to_string(home.path().join("config/client.toml")).unwrap();
    assert!(
        file.starts_with("# Veil client settings") && file.contains("http://127.0.0.1:8"),
        "{file}"
    );
    let got = veil(&["config", "get", "node", "--home", h], &[]);
    // output = json in the file: the answer is JSON.
    let value: Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(value["node"], "http://127.0.0.1:8");

    // Bad keys and values: usage errors, the file unchanged.
    for args in [
        ["config", "set", "colour", "red"],
        ["config", "set", "output", "xml"],
        ["config", "set", "keyring-backend", "os"],
    ] {
        let out = veil(&[&args[..], &["--home", h]].concat(), &[]);
        assert_eq!(code(&out), 2, "{args:?}: {:?}", text(&out));
    }
    assert_eq!(
        std::fs::read_to_string(home.path().join("config/client.toml")).unwrap(),
        file
    );

    // The node comes from the file, else the environment, else the flag (first wins: flag).
    let status = |env: &[(&str, &str)], extra: &[&str]| {
        let out = veil(
            &[&["status", "--home", h, "--output", "text"], extra].concat(),
            env,
        );
        assert_eq!(code(&out), 1, "nothing listens there: {:?}", text(&out));
        text(&out).1
    };
    assert!(status(&[], &[]).contains("http://127.0.0.1:8"));
    assert!(status(&[("VEIL_NODE", "127.0.0.1:7")], &[]).contains("http://127.0.0.1:7"));
    assert!(
        status(&[("VEIL_NODE", "127.0.0.1:7")], &["--node", "127.0.0.1:6"])
            .contains("http://127.0.0.1:6")
    );
    // VEIL_HOME names the home (and so its client config) too.
    let out = veil(&["status", "--output", "text"], &[("VEIL_HOME", h)]);
    assert!(
        text(&out).1.contains("http://127.0.0.1:8"),
        "{:?}",
        text(&out)
    );

    // A broken file is named, not ignored.
    std::fs::write(home.path().join("config/client.toml"), "node = [").unwrap();
    let out = veil(&["status", "--home", h], &[]);
    assert_eq!(code(&out), 2);
    assert!(text(&out).1.contains("client.toml"), "{:?}", text(&out));
}

#[test]
fn global_flags_are_accepted_by_every_command() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    // Before or after the command's name; on commands that used to refuse them.
    for args in [
        vec![
            "status",
            "--home",
            h,
            "--node",
            "127.0.0.1:9",
            "--chain-id",
            "x",
            "--keyring-backend",
            "test",
        ],
        vec![
            "--home",
            h,
            "--output",
            "json",
            "status",
            "--node",
            "127.0.0.1:9",
        ],
        vec!["query", "block", "--home", h, "--node", "127.0.0.1:9"],
    ] {
        let out = veil(&args, &[]);
        assert_eq!(
            code(&out),
            1,
            "{args:?} is accepted, then cannot reach the node: {:?}",
            text(&out)
        );
    }
    let out = veil(
        &[
            "--output",
            "json",
            "--home",
            h,
            "--keyring-backend",
            "test",
            "keys",
            "list",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
    let out = veil(
        &["keys", "list", "--keyring-backend", "nope", "--home", h],
        &[],
    );
    assert_eq!(code(&out), 2);
    // A command that creates a chain takes --chain-id as the chain to create.
    let out = veil(&["dev", "--home", h, "--chain-id", "other"], &[]);
    assert_eq!(code(&out), 2, "{:?}", text(&out));
    assert!(
        text(&out)
            .1
            .contains("runs the chain veil-dev, not \"other\""),
        "{:?}",
        text(&out)
    );
    assert!(!home.path().join("node").exists(), "nothing was created");
}

fn dev_home_json(home: &Path, args: &[&str]) -> Value {
    let h = home.to_str().unwrap();
    let out = veil(&[args, &["--home", h, "--output", "json"]].concat(), &[]);
    assert_eq!(code(&out), 0, "{args:?}: {:?}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn dev_writes_its_client_config_and_query_tx_decrypts_the_message() {
    let home = tempfile::tempdir().unwrap();
    let node = DevNode::start(home.path(), "200ms");
    let config = std::fs::read_to_string(home.path().join("config/client.toml")).unwrap();
    assert!(
        config.contains(&format!("node = \"{}\"", node.url())),
        "{config}"
    );
    assert!(config.contains("keyring-backend = \"test\""), "{config}");
    assert!(config.contains("chain-id = \"veil-dev\""), "{config}");

    // No --node, no --keyring-backend, no environment: the home's config says it all.
    let wasm = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wasm.path(), counter_wasm()).unwrap();
    let stored = dev_home_json(
        home.path(),
        &[
            "tx",
            "store",
            wasm.path().to_str().unwrap(),
            "--query-policy",
            "public",
            "--from",
            "alice",
        ],
    );
    let code_id = stored["code_id"].as_u64().unwrap().to_string();
    let made = dev_home_json(
        home.path(),
        &[
            "tx",
            "instantiate",
            &code_id,
            r#"{"count":5}"#,
            "--query-policy",
            "public",
            "--label",
            "c",
            "--from",
            "alice",
        ],
    );
    let contract = made["contract_address"].as_str().unwrap().to_string();
    let executed = dev_home_json(
        home.path(),
        &[
            "tx",
            "execute",
            &contract,
            r#"{"increment":{}}"#,
            "--from",
            "alice",
        ],
    );
    let hash = executed["tx_hash"].as_str().unwrap().to_string();

    // The sender reads back its message and the result; another key reads neither.
    let mine = dev_home_json(home.path(), &["query", "tx", &hash, "--from", "alice"]);
    assert_eq!(mine["decrypted"], true);
    assert_eq!(mine["decrypted_msg"], serde_json::json!({"increment": {}}));
    assert_eq!(mine["result"], executed["result"]);
    assert!(
        mine["msg"]["encrypted_msg_bytes"].as_u64().unwrap() > 0,
        "the public view stays: {mine}"
    );
    let theirs = dev_home_json(home.path(), &["query", "tx", &hash, "--from", "bob"]);
    assert_eq!(theirs["decrypted"], false);
    assert_eq!(theirs["decrypted_msg"], Value::Null);
    assert_eq!(theirs["result"], Value::Null);
    let h = home.path().to_str().unwrap();
    let out = veil(&["query", "tx", &hash, "--from", "alice", "--home", h], &[]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains(r#"decrypted msg: {"increment":{}}"#),
        "{stdout}"
    );

    // --chain-id (or client.toml's) must match the node's chain.
    let out = veil(
        &[
            "tx",
            "send",
            "bob",
            "1uveil",
            "--from",
            "alice",
            "--home",
            h,
            "--chain-id",
            "other-chain",
        ],
        &[],
    );
    assert_eq!(code(&out), 1);
    assert!(
        text(&out)
            .1
            .contains("serves chain \"veil-dev\", not \"other-chain\""),
        "{:?}",
        text(&out)
    );
    assert_eq!(
        code(&veil(
            &["config", "set", "chain-id", "elsewhere", "--home", h],
            &[]
        )),
        0
    );
    let out = veil(&["status", "--home", h], &[]);
    assert_eq!(code(&out), 1, "{:?}", text(&out));
    assert!(text(&out).1.contains("not \"elsewhere\""));
}
