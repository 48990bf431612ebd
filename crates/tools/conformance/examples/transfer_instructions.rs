//! cw20-base transfers for instruction counts that do not drift with machine load
//! (`scripts/profile-transfer.sh` runs this under callgrind; README.md, "Benchmarks"):
//!
//! - `transfer_instructions engine N`: N transfers on Veil's engine alone;
//! - `transfer_instructions store N`: stores cw20-base on N fresh engines (compile on store);
//! - `transfer_instructions confidential N`: N confidential transfers through the enclave
//!   (in-process, simulation), admitted with `CheckTx` and run in blocks of
//!   `BLOCK_TRANSFERS`, as a node runs them. Signing (the users' work) happens first,
//!   outside the measured function `run_blocks`.
//!
//! Run each mode with two values of N: the difference of the counts divided by the
//! difference of N is one transfer, without the setup.

#[path = "../tests/common/confidential.rs"]
mod confidential;

use serde_json::json;
use veil_conformance::{account, contract, cw20_base_wasm, env, info, GAS_LIMIT};
use veil_engine::{
    Backend, BankQuerier, Bech32Api, Call, Checksum, Engine, EngineConfig, Entry, MemoryStorage,
    Output,
};

/// Transfers per block in the confidential mode.
const BLOCK_TRANSFERS: usize = 100;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: transfer_instructions engine|store|confidential N";
    let mode = args.next().expect(usage);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("N: a number of transfers");
    let (alice, bob) = (account("alice"), account("bob"));
    let init = json!({"name": "Veil Token", "symbol": "VEIL", "decimals": 6,
        "initial_balances": [{"address": alice, "amount": "1000000000"}], "mint": null})
    .to_string();
    let transfer = json!({"transfer": {"recipient": bob, "amount": "1"}}).to_string();
    match mode.as_str() {
        "engine" => {
            let engine = Engine::new(EngineConfig::default());
            let checksum = engine.store_code(cw20_base_wasm()).expect("store_code");
            let token = contract("token");
            let mut backend = Backend {
                storage: Box::new(MemoryStorage::new()),
                api: Box::new(Bech32Api::default()),
                querier: Box::new(BankQuerier::default()),
            };
            let (_, next) = call(
                &engine,
                &checksum,
                &token,
                &alice,
                Entry::Instantiate,
                init.as_bytes(),
                backend,
            );
            backend = next;
            let start = std::time::Instant::now();
            let gas = run_engine(
                &engine,
                &checksum,
                &token,
                &alice,
                transfer.as_bytes(),
                n,
                backend,
            );
            println!(
                "{n} transfers on the engine: {:.1} µs each, gas of the last {gas}",
                micros_each(start, n)
            );
        }
        "store" => {
            store_fresh(cw20_base_wasm(), n);
            println!("cw20-base stored on {n} fresh engines");
        }
        "confidential" => {
            let setup = confidential::ConfidentialSetup::new(
                cw20_base_wasm(),
                init.as_bytes(),
                &alice,
                transfer.as_bytes(),
            );
            let signed = setup.sign_transfers(n);
            let start = std::time::Instant::now();
            run_blocks(&setup, signed);
            println!(
                "{n} confidential transfers in blocks of {BLOCK_TRANSFERS}: {:.1} µs each",
                micros_each(start, n)
            );
        }
        _ => panic!("{usage}"),
    }
}

/// Wall time since `start` per item of `n` (a rough figure: the bench has the real ones).
fn micros_each(start: std::time::Instant, n: usize) -> f64 {
    start.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64
}

/// One call on the engine, as the bench's engine-only run makes it; panics unless it succeeds.
fn call(
    engine: &Engine,
    checksum: &Checksum,
    token: &str,
    sender: &str,
    entry: Entry,
    msg: &[u8],
    backend: Backend,
) -> (u64, Backend) {
    let (env, info) = (env(token), info(sender));
    let call = Call {
        entry,
        env: &env,
        info: Some(&info),
        msg,
        gas_limit: GAS_LIMIT,
        random: None,
    };
    let (report, backend) = engine.call(checksum, call, backend);
    assert!(
        matches!(report.result, Ok(Output::Response(_))),
        "{entry:?}: {:?}",
        report.result
    );
    (report.gas_used, backend)
}

#[inline(never)]
fn run_engine(
    engine: &Engine,
    checksum: &Checksum,
    token: &str,
    alice: &str,
    transfer: &[u8],
    n: usize,
    mut backend: Backend,
) -> u64 {
    let mut gas = 0;
    for _ in 0..n {
        (gas, backend) = call(
            engine,
            checksum,
            token,
            alice,
            Entry::Execute,
            transfer,
            backend,
        );
    }
    gas
}

#[inline(never)]
fn store_fresh(wasm: &[u8], n: usize) {
    for _ in 0..n {
        let engine = Engine::new(EngineConfig::default());
        std::hint::black_box(engine.store_code(wasm).expect("store_code"));
    }
}

#[inline(never)]
fn run_blocks(setup: &confidential::ConfidentialSetup, mut signed: Vec<veil_host::SignedExecute>) {
    while !signed.is_empty() {
        let rest = signed.split_off(signed.len().min(BLOCK_TRANSFERS));
        setup.admit_and_run_block(std::mem::replace(&mut signed, rest));
    }
}
