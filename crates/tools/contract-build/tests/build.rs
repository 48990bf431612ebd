//! These tests compile real contracts. They call `ensure_toolchain` first, so on
//! a fresh Debian 12 machine (as root) they install rustc-web & friends.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use veil_contract_build::{
    build_contract, ensure_toolchain, fetch_crate_source, workspace_contract_cache, BuildError,
    BuildOptions,
};
use wasmparser::{Parser, Payload, Validator, WasmFeatures};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .canonicalize()
        .unwrap()
}

struct WasmInfo {
    exports: BTreeSet<String>,
    imports: BTreeSet<String>,
}

fn inspect(path: &Path) -> WasmInfo {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\0asm"),
        "{} is not wasm",
        path.display()
    );
    let mut exports = BTreeSet::new();
    let mut imports = BTreeSet::new();
    for payload in Parser::new(0).parse_all(&bytes) {
        match payload.unwrap() {
            Payload::ExportSection(r) => {
                for e in r {
                    exports.insert(e.unwrap().name.to_owned());
                }
            }
            Payload::ImportSection(r) => {
                for i in r {
                    let i = i.unwrap();
                    assert_eq!(i.module, "env", "unexpected import module");
                    imports.insert(i.name.to_owned());
                }
            }
            _ => {}
        }
    }
    WasmInfo { exports, imports }
}

/// MVP builds must validate with only the wasm 1.0 feature set (+ mutable-global).
fn validate_mvp(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    Validator::new_with_features(WasmFeatures::WASM1)
        .validate_all(&bytes)
        .unwrap_or_else(|e| panic!("{} is not an MVP module: {e}", path.display()));
}

fn opts(mvp: bool, out: &str) -> BuildOptions {
    BuildOptions {
        mvp,
        out_dir: Some(workspace_contract_cache().join("test-artifacts").join(out)),
        quiet: false,
        near: false,
    }
}

fn assert_standard_exports(info: &WasmInfo) {
    for e in [
        "interface_version_8",
        "instantiate",
        "execute",
        "query",
        "allocate",
        "deallocate",
        "memory",
    ] {
        assert!(
            info.exports.contains(e),
            "missing export {e}: {:?}",
            info.exports
        );
    }
}

#[test]
fn counter_builds_mvp_and_modern() {
    ensure_toolchain(false).unwrap();
    let dir = repo_root().join("contracts/counter");
    for mvp in [true, false] {
        let wasm = build_contract(&dir, &opts(mvp, "counter")).unwrap();
        let expected = if mvp {
            "counter.wasm"
        } else {
            "counter-modern.wasm"
        };
        assert_eq!(wasm.file_name().unwrap(), expected);
        let info = inspect(&wasm);
        assert_standard_exports(&info);
        if mvp {
            validate_mvp(&wasm);
        }
    }
}

#[test]
fn kitchen_sink_builds_and_imports_everything() {
    ensure_toolchain(false).unwrap();
    let dir = repo_root().join("contracts/kitchen-sink");
    for mvp in [true, false] {
        let wasm = build_contract(&dir, &opts(mvp, "kitchen-sink")).unwrap();
        let info = inspect(&wasm);
        assert_standard_exports(&info);
        for e in [
            "migrate",
            "sudo",
            "reply",
            "requires_iterator",
            "requires_cosmwasm_2_1",
        ] {
            assert!(
                info.exports.contains(e),
                "missing export {e}: {:?}",
                info.exports
            );
        }
        let all_imports = [
            "abort",
            "db_read",
            "db_write",
            "db_remove",
            "db_scan",
            "db_next",
            "db_next_key",
            "db_next_value",
            "addr_validate",
            "addr_canonicalize",
            "addr_humanize",
            "bls12_381_aggregate_g1",
            "bls12_381_aggregate_g2",
            "bls12_381_pairing_equality",
            "bls12_381_hash_to_g1",
            "bls12_381_hash_to_g2",
            "secp256k1_verify",
            "secp256k1_recover_pubkey",
            "secp256r1_verify",
            "secp256r1_recover_pubkey",
            "ed25519_verify",
            "ed25519_batch_verify",
            "debug",
            "query_chain",
        ];
        let expected: BTreeSet<String> = all_imports.iter().map(|s| s.to_string()).collect();
        assert_eq!(info.imports, expected);
        if mvp {
            validate_mvp(&wasm);
        }
    }
}

/// Other tests (engine/CLI) rely on this: a published contract, unchanged,
/// built from `fetch_crate_source(.., workspace_contract_cache())`.
#[test]
fn cw20_base_2_0_0_fetch_and_build() {
    ensure_toolchain(false).unwrap();
    let cache = workspace_contract_cache();
    let src = fetch_crate_source("cw20-base", "2.0.0", &cache).unwrap();
    assert_eq!(src, cache.join("src/cw20-base-2.0.0"));
    // cached: second call returns immediately
    assert_eq!(
        fetch_crate_source("cw20-base", "2.0.0", &cache).unwrap(),
        src
    );
    let wasm = build_contract(&src, &BuildOptions::default()).unwrap();
    assert_eq!(wasm, src.join("artifacts/cw20_base.wasm"));
    let info = inspect(&wasm);
    assert_standard_exports(&info);
    assert!(info.exports.contains("migrate"));
    validate_mvp(&wasm);
}

#[test]
fn missing_crate_dir_is_a_clear_error() {
    let dir = repo_root().join("contracts/does-not-exist");
    let err = build_contract(&dir, &BuildOptions::default()).unwrap_err();
    assert!(matches!(err, BuildError::CrateDirMissing(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("does-not-exist") && text.contains("does not exist"),
        "{text}"
    );

    let not_cargo = std::env::temp_dir();
    let err = build_contract(&not_cargo, &BuildOptions::default()).unwrap_err();
    assert!(matches!(err, BuildError::NotACargoProject(_)), "{err:?}");
}

#[test]
fn bad_fetch_arguments_are_rejected() {
    let cache = std::env::temp_dir();
    assert!(matches!(
        fetch_crate_source("../evil", "1.0.0", &cache),
        Err(BuildError::InvalidArgument(_))
    ));
    assert!(matches!(
        fetch_crate_source("cw20-base", "1.0/..", &cache),
        Err(BuildError::InvalidArgument(_))
    ));
}

/// `--cfg near` is what makes near-sdk call NEAR's host functions: without it the
/// contract would import none of them (near-sdk's pure-Rust fallbacks).
#[test]
fn near_status_message_builds_with_near_host_imports() {
    ensure_toolchain(false).unwrap();
    let dir = repo_root().join("contracts/near/status-message");
    let options = BuildOptions {
        out_dir: Some(workspace_contract_cache().join("test-artifacts/near")),
        ..BuildOptions::near()
    };
    let path = build_contract(&dir, &options).unwrap();
    assert!(
        path.ends_with("near_status_message.wasm"),
        "{}",
        path.display()
    );
    validate_mvp(&path);
    let info = inspect(&path);
    for export in ["set_status", "get_status", "memory"] {
        assert!(info.exports.contains(export), "missing export {export}");
    }
    for import in [
        "input",
        "register_len",
        "read_register",
        "storage_write",
        "value_return",
        "log_utf8",
        "predecessor_account_id",
    ] {
        assert!(info.imports.contains(import), "missing import {import}");
    }
    assert!(!info.exports.contains("interface_version_8"));
}

#[test]
fn near_fungible_token_builds_with_promise_imports() {
    ensure_toolchain(false).unwrap();
    let dir = repo_root().join("contracts/near/fungible-token");
    let options = BuildOptions {
        out_dir: Some(workspace_contract_cache().join("test-artifacts/near")),
        ..BuildOptions::near()
    };
    let path = build_contract(&dir, &options).unwrap();
    validate_mvp(&path);
    let info = inspect(&path);
    for export in [
        "new",
        "ft_transfer",
        "ft_transfer_call",
        "ft_balance_of",
        "storage_deposit",
    ] {
        assert!(info.exports.contains(export), "missing export {export}");
    }
    // near-sdk links every batch action once a contract builds a Promise.
    for import in [
        "promise_batch_create",
        "promise_batch_then",
        "promise_batch_action_function_call_weight",
        "promise_return",
        "promise_result",
    ] {
        assert!(info.imports.contains(import), "missing import {import}");
    }
}
