//! Helpers for comparing Veil's NEAR engine with nearcore: where nearcore's sources are
//! and how to read its host-function list. The comparisons themselves are the tests.

use std::path::PathBuf;
use std::process::Command;

/// A host function as nearcore's `imports!` declares it: name, Wasm param and result
/// types (`"i32"`/`"i64"`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostFunction {
    pub name: String,
    pub params: Vec<&'static str>,
    pub results: Vec<&'static str>,
}

/// The unpacked source directory of `package` as this workspace resolves it
/// (`cargo metadata`; the package must be a dependency of this crate).
pub fn package_source(package: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let manifest = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == package)
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or_else(|| format!("{package} is not in this workspace's dependencies"))?;
    Ok(PathBuf::from(manifest)
        .parent()
        .expect("a manifest is in a directory")
        .to_path_buf())
}

fn wasm_type(rust: &str) -> Result<&'static str, String> {
    match rust {
        "u32" => Ok("i32"),
        "u64" => Ok("i64"),
        other => Err(format!("unexpected host-function type {other}")),
    }
}

/// Parses the `imports! { … }` table of nearcore's `near-vm-runner/src/imports.rs`: every
/// function of module `env`, without the `internal` (finite-wasm) module and the
/// functions behind the `sandbox` and `test_features` cargo features.
pub fn parse_nearcore_imports(source: &str) -> Result<Vec<HostFunction>, String> {
    let start = source
        .find("\nimports! {")
        .ok_or("no `imports! {` table found")?;
    let body = &source[start + "\nimports! {".len()..];
    let body = &body[..body.find("\n}").ok_or("unterminated imports! table")?];
    let text: String = body
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    let mut functions = Vec::new();
    // Entries end with `>,`: `[attrs] [@in m:] [@as name:] func<[a: t, …] -> [r]>`.
    for entry in text.split(">,").map(str::trim).filter(|e| !e.is_empty()) {
        let mut rest = entry;
        let mut cargo_feature = false;
        while let Some(attr) = rest.strip_prefix("#[") {
            let end = attr.find(']').ok_or("unterminated attribute")?;
            // `#[["sandbox"]]` is a cargo feature; `#[config_field]` a protocol switch.
            cargo_feature |= attr.starts_with('[');
            rest = attr[end + 1..].trim_start_matches(']').trim();
        }
        let mut module = "env";
        let mut alias = None;
        if let Some(after) = rest.strip_prefix("@in ") {
            let (m, tail) = after.split_once(':').ok_or("bad @in")?;
            module = m.trim();
            rest = tail.trim();
        }
        if let Some(after) = rest.strip_prefix("@as ") {
            let (name, tail) = after.split_once(':').ok_or("bad @as")?;
            alias = Some(name.trim().to_string());
            rest = tail.trim();
        }
        let (func, signature) = rest.split_once('<').ok_or(format!("bad entry {entry:?}"))?;
        let (params, results) = signature
            .split_once("->")
            .ok_or(format!("no -> in {entry:?}"))?;
        let list = |s: &str| -> Result<Vec<&'static str>, String> {
            s.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| wasm_type(p.rsplit(':').next().unwrap_or(p).trim()))
                .collect()
        };
        if module != "env" || cargo_feature {
            continue;
        }
        functions.push(HostFunction {
            name: alias.unwrap_or_else(|| func.trim().to_string()),
            params: list(params)?,
            results: list(results)?,
        });
    }
    Ok(functions)
}

/// Veil's linked imports in the same form.
pub fn veil_imports() -> Vec<HostFunction> {
    let ty = |t: &veil_near_engine::ValType| match t {
        veil_near_engine::ValType::I32 => "i32",
        veil_near_engine::ValType::I64 => "i64",
    };
    veil_near_engine::IMPORTS
        .iter()
        .map(|(name, params, results)| HostFunction {
            name: name.to_string(),
            params: params.iter().map(ty).collect(),
            results: results.iter().map(ty).collect(),
        })
        .collect()
}

/// The status-message contract built for Veil.
pub fn status_message_wasm() -> Vec<u8> {
    near_contract_wasm("status-message")
}

/// A contract of `contracts/near/` built for Veil, cached by veil-contract-build in the
/// Veil workspace's `target/veil-contracts` (shared with the engine's tests).
pub fn near_contract_wasm(name: &str) -> Vec<u8> {
    use veil_contract_build::{build_contract, workspace_contract_cache, BuildOptions};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../contracts/near")
        .join(name);
    let options = BuildOptions {
        out_dir: Some(workspace_contract_cache().join("test-artifacts/near")),
        quiet: true,
        ..BuildOptions::near()
    };
    let path = build_contract(&dir, &options).unwrap_or_else(|e| panic!("{name} builds: {e}"));
    std::fs::read(path).expect("built wasm is readable")
}
