//! `veil vm run --vm near`: one near-sdk contract call against a plaintext state file.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use veil_near_engine::{
    is_valid_account_id, Action, FunctionCallError, MemoryStorage, NearContext, NearEngine,
    NearEngineConfig, NearOutcome, ReturnData, TERA_GAS,
};

#[derive(clap::Args)]
pub struct NearArgs {
    /// NEAR: the exported method to call.
    #[arg(long)]
    method: Option<String>,
    /// NEAR: the method's arguments (JSON for near-sdk's default serializer).
    #[arg(long)]
    args: Option<String>,
    /// NEAR: a view call (no state writes, no promises).
    #[arg(long)]
    view: bool,
    /// NEAR: the contract's account.
    #[arg(long)]
    account: Option<String>,
    /// NEAR: the calling account (also the signer).
    #[arg(long)]
    predecessor: Option<String>,
    /// NEAR: yoctoNEAR attached to the call.
    #[arg(long)]
    deposit: Option<u128>,
    /// NEAR: the contract account's balance before the call, in yoctoNEAR (the deposit is added).
    #[arg(long)]
    balance: Option<u128>,
    /// NEAR: gas attached to the call, in NEAR gas (default 300 Tgas).
    #[arg(long)]
    prepaid_gas: Option<u64>,
}

impl NearArgs {
    pub fn is_used(&self) -> bool {
        self.method.is_some()
            || self.args.is_some()
            || self.view
            || self.account.is_some()
            || self.predecessor.is_some()
            || self.deposit.is_some()
            || self.balance.is_some()
            || self.prepaid_gas.is_some()
    }
}

const DEFAULT_ACCOUNT: &str = "contract.veil";
const DEFAULT_PREDECESSOR: &str = "alice.veil";
/// Storage usage NEAR counts per record on top of key and value.
const BYTES_PER_RECORD: u64 = 40;

fn account(flag: &str, value: Option<&str>, default: &str) -> anyhow::Result<String> {
    let id = value.unwrap_or(default);
    if !is_valid_account_id(id) {
        bail!("--{flag} {id:?} is not a valid NEAR account id");
    }
    Ok(id.to_string())
}

pub fn run_near(
    wasm_path: &Path,
    state_path: Option<&Path>,
    repeat: u32,
    args: &NearArgs,
) -> anyhow::Result<ExitCode> {
    let Some(method) = args.method.as_deref() else {
        bail!("--method is required for --vm near");
    };
    let input = args
        .args
        .clone()
        .unwrap_or_else(|| "{}".into())
        .into_bytes();
    let wasm = std::fs::read(wasm_path)
        .with_context(|| format!("reading {}", crate::absolute(wasm_path).display()))?;
    let mut storage = MemoryStorage::new();
    if let Some(path) = state_path {
        storage.entries = crate::vm::load_state(path)?.entries;
    }
    let current = account("account", args.account.as_deref(), DEFAULT_ACCOUNT)?;
    let predecessor = account(
        "predecessor",
        args.predecessor.as_deref(),
        DEFAULT_PREDECESSOR,
    )?;
    let deposit = args.deposit.unwrap_or(0);
    let mut context = NearContext::new(&current, &predecessor, input);
    context.view = args.view;
    context.attached_deposit = deposit;
    context.account_balance = args
        .balance
        .unwrap_or(0)
        .checked_add(deposit)
        .context("--balance + --deposit overflows")?;
    context.prepaid_gas = args.prepaid_gas.unwrap_or(300 * TERA_GAS);
    context.chain_id = crate::shared::settings()
        .explicit_chain_id()
        .unwrap_or("veil-vm")
        .to_string();
    // Deterministic per call: the same inputs give the same seed.
    context.random_seed = {
        use sha2::Digest;
        sha2::Sha256::digest([current.as_bytes(), method.as_bytes(), &context.input].concat())
            .to_vec()
    };
    context.storage_usage = storage.records_usage(BYTES_PER_RECORD);

    let engine = NearEngine::new(NearEngineConfig::default());
    let checksum = match engine.store_code(&wasm) {
        Ok(checksum) => checksum,
        Err(e) => {
            let out = json!({"ok": false, "error": e.to_string(), "error_kind": "invalid_code"});
            println!("{out}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut timings_us = Vec::new();
    let mut last = None;
    for round in 0..=repeat {
        let started = Instant::now();
        let (outcome, after) = engine.call(&checksum, method, &context, storage.clone());
        if round > 0 {
            timings_us.push(started.elapsed().as_secs_f64() * 1e6);
        }
        if round == repeat && outcome.result.is_ok() {
            storage = after;
        }
        last = Some(outcome);
    }
    let outcome = last.expect("at least one call");
    let ok = outcome.result.is_ok();
    if let (true, false, Some(path)) = (ok, args.view, state_path) {
        let mut file = veil_engine::MemoryStorage::new();
        file.entries = storage.entries;
        crate::vm::save_state(path, &file)?;
    }
    let mut out = render(&outcome);
    if !timings_us.is_empty() {
        out["timing"] = crate::vm::timing_summary(&mut timings_us);
    }
    println!("{out}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Bytes as JSON if they are JSON, else as base64.
fn bytes_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|_| json!({ "base64": B64.encode(bytes) }))
}

fn render(outcome: &NearOutcome) -> Value {
    let error_kind = |e: &FunctionCallError| match e {
        FunctionCallError::HostError(veil_near_engine::HostError::GuestPanic { .. }) => "panic",
        FunctionCallError::HostError(veil_near_engine::HostError::GasExceeded)
        | FunctionCallError::HostError(veil_near_engine::HostError::GasLimitExceeded) => {
            "out_of_gas"
        }
        FunctionCallError::HostError(_) => "host",
        FunctionCallError::MethodNotFound(_)
        | FunctionCallError::MethodEmptyName
        | FunctionCallError::MethodInvalidSignature(_) => "method",
        FunctionCallError::WasmTrap(_) => "trap",
        FunctionCallError::CompilationError(_) | FunctionCallError::CodeNotFound(_) => {
            "invalid_code"
        }
    };
    let (return_value, error, kind) = match &outcome.result {
        Ok(ReturnData::None) => (Value::Null, Value::Null, Value::Null),
        Ok(ReturnData::Value(bytes)) => (bytes_value(bytes), Value::Null, Value::Null),
        Ok(ReturnData::ReceiptIndex(i)) => (json!({ "receipt": i }), Value::Null, Value::Null),
        Err(e) => (Value::Null, json!(e.to_string()), json!(error_kind(e))),
    };
    let receipts: Vec<Value> = outcome
        .receipts
        .iter()
        .map(|r| {
            let actions: Vec<Value> = r
                .actions
                .iter()
                .map(|a| match a {
                    Action::CreateAccount => json!({"create_account": {}}),
                    Action::DeployContract {
                        code_hash,
                        code_len,
                    } => json!({"deploy_contract": {
                        "code_sha256": code_hash.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                        "code_len": code_len,
                    }}),
                    Action::FunctionCall {
                        method_name,
                        args,
                        deposit,
                        gas,
                        gas_weight,
                    } => json!({"function_call": {
                        "method": method_name,
                        "args": bytes_value(args),
                        "deposit": deposit.to_string(),
                        "gas": gas,
                        "gas_weight": gas_weight,
                    }}),
                    Action::Transfer { deposit } => {
                        json!({"transfer": {"deposit": deposit.to_string()}})
                    }
                })
                .collect();
            json!({
                "receiver_id": r.receiver_id,
                "depends_on": r.depends_on,
                "actions": actions,
                "refund_to": r.refund_to,
            })
        })
        .collect();
    let state_changes: Vec<Value> = outcome
        .state_changes
        .iter()
        .map(|c| {
            json!({
                "key": B64.encode(&c.key),
                "value": c.value.as_ref().map(|v| B64.encode(v)),
            })
        })
        .collect();
    json!({
        "ok": outcome.result.is_ok(),
        "error": error,
        "error_kind": kind,
        "return_value": return_value,
        "logs": outcome.logs,
        "gas_burnt": outcome.burnt_gas,
        "gas_used": outcome.used_gas,
        "gas_instructions": outcome.instruction_gas,
        "state_changes": state_changes,
        "receipts": receipts,
        "balance": outcome.balance.to_string(),
        "storage_usage": outcome.storage_usage,
    })
}
