//! `veil vm run --vm near` as a user runs it: the real binary on a near-sdk contract
//! built from source.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};
use veil_contract_build::{
    build_contract, ensure_toolchain, workspace_contract_cache, BuildOptions,
};

fn status_message() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        ensure_toolchain(true).expect("contract toolchain");
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../contracts/near/status-message");
        let options = BuildOptions {
            out_dir: Some(workspace_contract_cache().join("cli-test-artifacts/near")),
            quiet: true,
            ..BuildOptions::near()
        };
        build_contract(&dir, &options).expect("contract builds")
    })
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
    Run {
        out: serde_json::from_slice(&output.stdout).unwrap_or(Value::Null),
        ok: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn near(state: &Path, method: &str, args: Value, extra: &[&str]) -> Run {
    let args = args.to_string();
    let mut argv = vec![
        "vm",
        "run",
        "--vm",
        "near",
        "--wasm",
        status_message().to_str().unwrap(),
        "--method",
        method,
        "--args",
        &args,
        "--state",
        state.to_str().unwrap(),
    ];
    argv.extend(extra);
    veil(&argv)
}

#[test]
fn set_then_view_status_through_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let set = near(
        &state,
        "set_status",
        json!({"message": "hello"}),
        &["--predecessor", "bob.veil"],
    );
    assert!(set.ok, "{} {}", set.out, set.stderr);
    assert_eq!(
        set.out["logs"],
        json!(["bob.veil set_status with message hello"])
    );
    assert_eq!(set.out["return_value"], Value::Null);
    assert_eq!(set.out["state_changes"].as_array().unwrap().len(), 2);
    assert!(set.out["gas_burnt"].as_u64().unwrap() > 0);
    assert!(state.exists());

    let get = near(
        &state,
        "get_status",
        json!({"account_id": "bob.veil"}),
        &["--view"],
    );
    assert!(get.ok, "{}", get.out);
    assert_eq!(get.out["return_value"], json!("hello"));
    assert_eq!(get.out["state_changes"], json!([]));
}

#[test]
fn failures_are_reported_as_json_with_a_failing_exit() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let panic = near(&state, "set_status", json!({"message": ""}), &[]);
    assert!(!panic.ok);
    assert_eq!(panic.out["error_kind"], json!("panic"));
    assert_eq!(
        panic.out["error"],
        json!("Smart contract panicked: status must not be empty")
    );
    assert!(!state.exists(), "a failed call writes no state");

    let view_write = near(&state, "set_status", json!({"message": "x"}), &["--view"]);
    assert!(!view_write.ok);
    assert!(
        view_write.out["error"]
            .as_str()
            .unwrap()
            .contains("is not allowed in view calls"),
        "{}",
        view_write.out
    );

    let missing = near(&state, "nope", json!({}), &[]);
    assert_eq!(
        missing.out["error_kind"],
        json!("method"),
        "{}",
        missing.out
    );

    let out_of_gas = near(
        &state,
        "burn",
        json!({"rounds": 100000000}),
        &["--view", "--prepaid-gas", "1000000000000"],
    );
    // A view's budget is the burnt-gas limit, not --prepaid-gas: it still runs out.
    assert!(!out_of_gas.ok);

    let gas = near(
        &state,
        "burn",
        json!({"rounds": 100000000}),
        &["--prepaid-gas", "1000000000000"],
    );
    assert_eq!(gas.out["error_kind"], json!("out_of_gas"), "{}", gas.out);
    assert_eq!(gas.out["gas_burnt"], json!(1_000_000_000_000u64));

    let bad_wasm = dir.path().join("bad.wasm");
    std::fs::write(&bad_wasm, b"not wasm").unwrap();
    let bad = veil(&[
        "vm",
        "run",
        "--vm",
        "near",
        "--wasm",
        bad_wasm.to_str().unwrap(),
        "--method",
        "x",
    ]);
    assert!(!bad.ok);
    assert_eq!(bad.out["error_kind"], json!("invalid_code"));

    let mixed = veil(&[
        "vm",
        "run",
        "--vm",
        "near",
        "--wasm",
        bad_wasm.to_str().unwrap(),
        "--entry",
        "query",
    ]);
    assert!(!mixed.ok);
    assert!(mixed.stderr.contains("--method"), "{}", mixed.stderr);
}
