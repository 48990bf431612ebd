//! `veil vm run`: one contract call against a plaintext state file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use veil_engine::cosmwasm_std::{Addr, Coin, MessageInfo, Uint256};
use veil_engine::{
    build_env, Api, Backend, BankQuerier, Bech32Api, BlockContext, Call, CallError, CallReport,
    Engine, EngineConfig, Entry, MemoryStorage, Output,
};

#[derive(clap::Subcommand)]
pub enum VmCommand {
    /// Run one call and print its result as JSON.
    Run(RunArgs),
}

/// Which engine runs the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VmKind {
    /// A CosmWasm contract on veil-engine (`--entry`, `--msg`).
    Cosmwasm,
    /// A near-sdk contract on veil-near-engine (`--method`, `--args`).
    Near,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Contract Wasm file.
    #[arg(long)]
    wasm: PathBuf,
    /// The engine: cosmwasm or near.
    #[arg(long, value_enum, default_value_t = VmKind::Cosmwasm)]
    vm: VmKind,
    /// CosmWasm entry point: instantiate, execute, query, migrate, sudo or reply.
    #[arg(long)]
    entry: Option<Entry>,
    /// CosmWasm message JSON (for reply: the Reply JSON).
    #[arg(long, conflicts_with = "msg_file")]
    msg: Option<String>,
    /// Read the message JSON from a file instead.
    #[arg(long)]
    msg_file: Option<PathBuf>,
    /// Sender address (instantiate, execute).
    #[arg(long)]
    sender: Option<String>,
    /// Funds sent with the call, e.g. `100uveil,5ufoo`; credited to the contract's balance.
    #[arg(long, default_value = "")]
    funds: String,
    /// Plaintext state file (JSON); created if missing, written only when the call succeeds.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Contract address.
    #[arg(long)]
    contract: Option<String>,
    #[arg(long, default_value_t = 12_345)]
    height: u64,
    /// Block time in nanoseconds since the Unix epoch.
    #[arg(long, default_value_t = 1_700_000_000_000_000_000)]
    time: u64,
    /// Gas limit in CosmWasm gas units (10^12 ≈ 1 s of CosmWasm execution).
    #[arg(long, default_value_t = 1_000_000_000_000)]
    gas_limit: u64,
    /// Bech32 address prefix.
    #[arg(long, default_value = veil_engine::DEFAULT_ADDRESS_PREFIX)]
    prefix: String,
    /// Replay the same call N more times in this process and report timing.
    #[arg(long, default_value_t = 0)]
    repeat: u32,
    /// Print the contract's debug messages to stderr.
    #[arg(long)]
    debug: bool,
    #[command(flatten)]
    near: crate::vm_near::NearArgs,
}

pub fn run(command: VmCommand) -> anyhow::Result<ExitCode> {
    match command {
        VmCommand::Run(args) => run_call(args),
    }
}

/// The state file: every key and value in base64, sorted by key.
#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    entries: Vec<(String, String)>,
}

const STATE_FORMAT: &str = "veil-vm-state/1";

pub(crate) fn load_state(path: &Path) -> anyhow::Result<MemoryStorage> {
    if !path.exists() {
        return Ok(MemoryStorage::new());
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading state file {}", path.display()))?;
    let file: StateFile = serde_json::from_str(&text)
        .with_context(|| format!("state file {} is not valid", path.display()))?;
    if file.format != STATE_FORMAT {
        bail!(
            "state file {} has format {:?}, expected {STATE_FORMAT:?}",
            path.display(),
            file.format
        );
    }
    let mut entries = BTreeMap::new();
    for (k, v) in file.entries {
        let key = B64
            .decode(&k)
            .with_context(|| format!("state file: key {k:?} is not base64"))?;
        let value = B64
            .decode(&v)
            .with_context(|| format!("state file: value of {k:?} is not base64"))?;
        entries.insert(key, value);
    }
    Ok(MemoryStorage { entries })
}

pub(crate) fn save_state(path: &Path, storage: &MemoryStorage) -> anyhow::Result<()> {
    let file = StateFile {
        format: STATE_FORMAT.into(),
        entries: storage
            .entries
            .iter()
            .map(|(k, v)| (B64.encode(k), B64.encode(v)))
            .collect(),
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&file)?)
        .with_context(|| format!("writing state file {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing state file {}", path.display()))
}

/// `100uveil,5ufoo` -> [(100, "uveil"), (5, "ufoo")]
fn parse_funds(funds: &str) -> anyhow::Result<Vec<(u128, String)>> {
    funds
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|coin| {
            let split = coin
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(coin.len());
            let (amount, denom) = coin.split_at(split);
            if amount.is_empty() || denom.is_empty() {
                bail!(
                    "invalid coin {coin:?}: expected an amount followed by a denom, e.g. 100uveil"
                );
            }
            let amount: u128 = amount
                .parse()
                .with_context(|| format!("invalid amount in {coin:?}"))?;
            Ok((amount, denom.to_string()))
        })
        .collect()
}

/// A stable address derived from a label, so runs are reproducible without flags.
fn default_address(api: &Bech32Api, label: &str, len: usize) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(label.as_bytes());
    api.addr_humanize(&hash[..len]).expect("valid length")
}

fn checked_address(api: &Bech32Api, flag: &str, addr: &str) -> anyhow::Result<String> {
    api.addr_validate(addr)
        .map_err(|e| anyhow::anyhow!("--{flag} {addr:?} is not a valid address: {e}"))?;
    Ok(addr.to_string())
}

fn run_call(args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.vm == VmKind::Near {
        if args.entry.is_some() || args.msg.is_some() || args.msg_file.is_some() {
            bail!("--entry, --msg and --msg-file are for --vm cosmwasm; NEAR calls take --method and --args");
        }
        return crate::vm_near::run_near(
            &args.wasm,
            args.state.as_deref(),
            args.repeat,
            &args.near,
        );
    }
    if args.near.is_used() {
        bail!("--method, --args, --view, --account, --predecessor, --deposit, --balance and --prepaid-gas need --vm near");
    }
    let Some(entry) = args.entry else {
        bail!("--entry is required for --vm cosmwasm (instantiate, execute, query, migrate, sudo or reply)");
    };
    let api = Bech32Api::new(&args.prefix).map_err(|e| anyhow::anyhow!("--prefix: {e}"))?;
    let wasm = std::fs::read(&args.wasm)
        .with_context(|| format!("reading {}", crate::absolute(&args.wasm).display()))?;
    let msg = match (&args.msg, &args.msg_file) {
        (Some(msg), _) => msg.clone().into_bytes(),
        (None, Some(file)) => {
            std::fs::read(file).with_context(|| format!("reading {}", file.display()))?
        }
        (None, None) => bail!("--msg or --msg-file is required for --vm cosmwasm"),
    };
    if let Err(e) = serde_json::from_slice::<Value>(&msg) {
        bail!("the message is not valid JSON: {e}");
    }
    let sender = match &args.sender {
        Some(s) => checked_address(&api, "sender", s)?,
        None => default_address(&api, "veil-vm-sender", 20),
    };
    let contract = match &args.contract {
        Some(c) => checked_address(&api, "contract", c)?,
        None => default_address(&api, "veil-vm-contract", 32),
    };
    let funds = parse_funds(&args.funds)?;
    let mut storage = match &args.state {
        Some(path) => load_state(path)?,
        None => MemoryStorage::new(),
    };

    let mut config = EngineConfig::default();
    if args.debug {
        config.debug_handler = Some(std::sync::Arc::new(|msg: &str| {
            eprintln!("contract debug: {msg}")
        }));
    }
    let engine = Engine::new(config);
    let checksum = match engine.store_code(&wasm) {
        Ok(checksum) => checksum,
        Err(e) => {
            let report = CallReport {
                result: Err(CallError::Vm(e)),
                gas_used: 0,
            };
            println!("{}", render(&report, None));
            return Ok(ExitCode::FAILURE);
        }
    };

    let block = BlockContext {
        height: args.height,
        time_nanos: args.time,
        // The global --chain-id (or $VEIL_CHAIN_ID), else veil-vm.
        chain_id: crate::shared::settings()
            .explicit_chain_id()
            .unwrap_or("veil-vm")
            .to_string(),
        tx_index: (entry != Entry::Query).then_some(0),
    };
    let env = build_env(&block, &contract);
    let mut querier = BankQuerier::default();
    let balance = querier.balances.entry(contract.clone()).or_default();
    for (amount, denom) in &funds {
        let credited = balance.entry(denom.clone()).or_default();
        *credited = credited.checked_add(*amount).context("funds overflow")?;
    }
    let funds: Vec<Coin> = funds
        .into_iter()
        .map(|(amount, denom)| Coin {
            amount: Uint256::from(amount),
            denom,
        })
        .collect();
    let info = MessageInfo {
        sender: Addr::unchecked(sender),
        funds,
    };

    let mut timings_us = Vec::with_capacity(args.repeat as usize);
    let mut last: Option<CallReport> = None;
    for round in 0..=args.repeat {
        let backend = Backend {
            storage: Box::new(storage.clone()),
            api: Box::new(api.clone()),
            querier: Box::new(querier.clone()),
        };
        let call = Call {
            entry,
            env: &env,
            info: Some(&info),
            msg: &msg,
            gas_limit: args.gas_limit,
            random: None,
        };
        let started = Instant::now();
        let (report, backend) = engine.call(&checksum, call, backend);
        if round > 0 {
            timings_us.push(started.elapsed().as_secs_f64() * 1e6);
        }
        if report.result.is_ok() && entry != Entry::Query {
            storage = take_memory_storage(backend);
        }
        last = Some(report);
    }
    let report = last.expect("at least one call");
    let ok = report.result.is_ok();
    if ok && entry != Entry::Query {
        if let Some(path) = &args.state {
            save_state(path, &storage)?;
        }
    }
    let timing = (!timings_us.is_empty()).then(|| timing_summary(&mut timings_us));
    println!("{}", render(&report, timing));
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Gets the plain storage back out of a backend this command built.
fn take_memory_storage(backend: Backend) -> MemoryStorage {
    let storage: Box<dyn std::any::Any + Send> = backend.storage;
    *storage
        .downcast::<MemoryStorage>()
        .expect("this command always supplies a MemoryStorage")
}

pub(crate) fn timing_summary(samples: &mut [f64]) -> Value {
    samples.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    json!({ "median_us": pick(0.5), "p99_us": pick(0.99), "samples": samples.len() })
}

fn render(report: &CallReport, timing: Option<Value>) -> Value {
    let mut out = json!({
        "ok": report.result.is_ok(),
        "error": Value::Null,
        "gas_used": report.gas_used,
        "data": Value::Null,
        "attributes": [],
        "events": [],
        "messages": [],
    });
    match &report.result {
        Ok(Output::Query(data)) => out["data"] = json!(B64.encode(data.as_slice())),
        Ok(Output::Response(response)) => {
            out["data"] = response
                .data
                .as_ref()
                .map_or(Value::Null, |d| json!(B64.encode(d.as_slice())));
            out["attributes"] = json!(response
                .attributes
                .iter()
                .map(|a| json!({"key": a.key, "value": a.value}))
                .collect::<Vec<_>>());
            out["events"] = serde_json::to_value(&response.events).unwrap_or(Value::Null);
            out["messages"] = serde_json::to_value(&response.messages).unwrap_or(Value::Null);
        }
        Err(e) => {
            out["error"] = json!(e.to_string());
            out["error_kind"] = json!(match e {
                CallError::Contract(_) => "contract",
                CallError::Vm(vm) => vm.kind(),
            });
        }
    }
    if let Some(timing) = timing {
        out["timing"] = timing;
    }
    out
}
