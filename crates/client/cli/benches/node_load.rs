//! Load test on loopback, in one run: a `veil dev` chain (one validator) and a 4-validator
//! `veil testnet` (every validator executes every transfer, all on this machine) —
//! sustained confidential cw20 transfers per second with durable (fsync'd) block commits,
//! time from submission to commit, and the nodes' memory.
//!
//! `cargo bench -p veil-cli --bench node_load` (release build; `VEIL_LOAD_NETWORKS=dev`
//! or `testnet` runs one of the two). For each network, two phases, each of
//! `VEIL_LOAD_TXS` transfers (default 20000) from `VEIL_LOAD_SENDERS` accounts (default 8),
//! each bounded by `VEIL_LOAD_SECONDS` (default 180):
//! - saturation: every sender submits as fast as the node accepts — the most the node
//!   sustains (inclusion times here are mostly queueing);
//! - paced: `VEIL_LOAD_RATE` transfers per second (default 2000; on the testnet
//!   `VEIL_LOAD_TESTNET_RATE`, default 500) — the time from submission to inclusion at that
//!   rate.
//!
//! On the testnet the senders are spread over the validators' RPC; each validator gossips
//! what it admits to the others, so any proposer may include it.
//!
//! Transactions are signed and encrypted before the clock starts; the clock measures the
//! node (and the HTTP submissions). The report is also written to
//! `target/node-load-report.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use veil_client::rpc::Client;
use veil_client::tx::{TxOptions, Wallet};
use veil_client::{dev_key, KeyPair};
use veil_types::{Hash, Msg, TxBody};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cw20_wasm() -> Vec<u8> {
    use veil_contract_build as build;
    let options = build::BuildOptions {
        mvp: true,
        out_dir: None,
        quiet: true,
        near: false,
    };
    let path = build::build_published("cw20-base", "2.0.0", &options).expect("cw20-base builds");
    std::fs::read(path).unwrap()
}

/// The node processes of one network, and their RPC URLs.
struct Network {
    children: Vec<Child>,
    urls: Vec<String>,
    /// Where node 0 keeps its chain.
    store: PathBuf,
}

impl Drop for Network {
    fn drop(&mut self) {
        for child in &self.children {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(args: &[&str], home: &Path) -> Child {
    let log = std::fs::File::create(home.join("load-node.log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .arg(home)
        .args(["--block-time", "200ms"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("veil starts")
}

fn wait_ready(url: &str) {
    let client = Client::new(url);
    let started = Instant::now();
    while client.status().is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "node did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `veil dev`: one validator.
fn start_dev(home: &Path) -> Network {
    let port = free_port();
    let child = spawn(
        &["dev", "--rpc-addr", &format!("127.0.0.1:{port}"), "--home"],
        home,
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url);
    Network {
        children: vec![child],
        urls: vec![url],
        store: home.join("node").join("chain.redb"),
    }
}

/// `veil testnet init` with 4 validators, each run by `veil node start`.
fn start_testnet(dir: &Path) -> Network {
    let base = loop {
        let base = free_port();
        if base < 60_000
            && (0..8).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            break base;
        }
    };
    let init = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["testnet", "init", "--validators", "4", "--dir"])
        .arg(dir)
        .args(["--base-port", &base.to_string()])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let mut network = Network {
        children: Vec::new(),
        urls: Vec::new(),
        store: dir.join("node0").join("node").join("chain.redb"),
    };
    for i in 0..4u16 {
        let home = dir.join(format!("node{i}"));
        network
            .children
            .push(spawn(&["node", "start", "--home"], &home));
        network
            .urls
            .push(format!("http://127.0.0.1:{}", base + 2 * i));
    }
    for url in &network.urls {
        wait_ready(url);
    }
    network
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // `cargo bench` passes `--bench`; filters are not supported here.
    let networks = std::env::var("VEIL_LOAD_NETWORKS").unwrap_or_else(|_| "dev,testnet".into());
    eprintln!("load: building cw20-base 2.0.0 ...");
    let wasm = cw20_wasm();
    let mut reports = serde_json::Map::new();
    for name in networks.split(',').map(str::trim) {
        let dir = tempfile::tempdir().unwrap();
        let (network, rate) = match name {
            "dev" => (start_dev(dir.path()), env_number("VEIL_LOAD_RATE", 2_000)),
            "testnet" => (
                start_testnet(dir.path()),
                env_number("VEIL_LOAD_TESTNET_RATE", 500),
            ),
            other => panic!("VEIL_LOAD_NETWORKS: unknown network {other:?}"),
        };
        eprintln!("load: {name} ({} validators)", network.urls.len());
        reports.insert(name.to_string(), run_network(&network, &wasm, rate.max(1)));
    }
    let report = Value::Object(reports);
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    let out =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/node-load-report.json");
    let _ = std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap());
    for (name, network) in report.as_object().unwrap() {
        for phase in ["saturation", "paced"] {
            let p = &network[phase];
            eprintln!(
                "load: {name} {phase}: {} confidential cw20 transfers in {:.1} s = {:.0}/s; inclusion p50 {:.0} ms, p99 {:.0} ms",
                p["included_ok"], p["seconds"].as_f64().unwrap(), p["per_second"].as_f64().unwrap(),
                p["inclusion_p50_ms"].as_f64().unwrap(), p["inclusion_p99_ms"].as_f64().unwrap(),
            );
        }
        eprintln!(
            "load: {name}: node 0 RSS {:.0} MiB (peak {:.0} MiB); store {:.0} MiB holding {} state nodes",
            network["node_rss_mib"].as_f64().unwrap(),
            network["node_peak_rss_mib"].as_f64().unwrap(),
            network["store_mib"].as_f64().unwrap(),
            network["state_nodes"],
        );
    }
}

/// Deploys cw20-base on `network`, runs both phases and reports them.
fn run_network(network: &Network, wasm: &[u8], rate: u64) -> Value {
    let total = env_number("VEIL_LOAD_TXS", 20_000) as usize;
    let senders = env_number("VEIL_LOAD_SENDERS", 8).max(1) as usize;
    let limit = Duration::from_secs(env_number("VEIL_LOAD_SECONDS", 180));
    let per_sender = total.div_ceil(senders);
    let wasm = wasm.to_vec();
    let pid = network.children[0].id();
    let url = network.urls[0].clone();
    let client = Client::new(&url);
    let alice = dev_key("alice");
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let options = TxOptions::default();

    eprintln!("load: deploying cw20-base and funding {senders} senders ...");
    let stored = wallet
        .broadcast(
            Msg::StoreCode {
                wasm,
                query_policy: None,
            },
            &options,
            |_| {},
        )
        .unwrap();
    let code = client
        .code(stored.committed.receipt.code_id.unwrap())
        .unwrap();
    let keys: Vec<KeyPair> = (0..senders)
        .map(|i| dev_key(&format!("load-{i}")))
        .collect();
    let init = json!({
        "name": "Load", "symbol": "LOAD", "decimals": 0,
        "initial_balances": keys.iter().map(|k| json!({"address": k.address(), "amount": "1000000000"})).collect::<Vec<_>>(),
    });
    let (envelope, _) = wallet.encrypt(&code.code_hash, &init).unwrap();
    let token = wallet
        .broadcast(
            Msg::Instantiate {
                code_id: code.code_id,
                label: "load".into(),
                admin: None,
                msg: envelope,
                funds: 0,
                query_policy: None,
            },
            &options,
            |_| {},
        )
        .unwrap()
        .committed
        .receipt
        .contract_address
        .unwrap();
    for key in &keys {
        wallet
            .broadcast(
                Msg::Send {
                    to: key.address().into(),
                    amount: 100_000_000_000,
                },
                &options,
                |_| {},
            )
            .unwrap();
    }
    let recipient = dev_key("bob").address().to_string();
    let transfer = json!({"transfer": {"recipient": recipient, "amount": "1"}});

    // Gas for one transfer, measured by simulation, with a margin.
    let probe_wallet = Wallet::connect(&client, &keys[0]).unwrap();
    let (envelope, _) = probe_wallet.encrypt(&code.code_hash, &transfer).unwrap();
    let probe = probe_wallet
        .sign(
            Msg::Execute {
                contract: token.clone(),
                msg: envelope,
                funds: 0,
            },
            &options,
        )
        .unwrap();
    let gas_limit = probe.body.gas_limit;
    let fee = probe.body.fee;

    eprintln!(
        "load: signing and encrypting 2 × {} transfers ...",
        per_sender * senders
    );
    let chain_id = wallet.chain_id().to_string();
    let batches: Vec<Vec<(Hash, Vec<u8>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = keys
            .iter()
            .map(|key| {
                let client = &client;
                let code_hash = code.code_hash;
                let token = &token;
                let transfer = &transfer;
                let chain_id = &chain_id;
                scope.spawn(move || {
                    let w = Wallet::connect(client, key).unwrap();
                    (0..2 * per_sender as u64)
                        .map(|sequence| {
                            let (envelope, _) = w.encrypt(&code_hash, transfer).unwrap();
                            let tx = key.sign(TxBody {
                                chain_id: chain_id.clone(),
                                sequence,
                                gas_limit,
                                fee,
                                memo: String::new(),
                                msg: Msg::Execute {
                                    contract: token.clone(),
                                    msg: envelope,
                                    funds: 0,
                                },
                            });
                            let bytes = tx.to_bytes();
                            (veil_types::tx_hash(&bytes), bytes)
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    // Inclusion times from the node's WebSocket events.
    let (included_tx, included_rx) = mpsc::channel::<(Hash, bool, Instant)>();
    let (mut socket, _) = tungstenite::connect(format!(
        "{}/subscribe?events=txs",
        url.replace("http://", "ws://")
    ))
    .unwrap();
    std::thread::spawn(move || loop {
        let Ok(message) = socket.read() else { return };
        let now = Instant::now();
        let Ok(text) = message.to_text() else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        if let Some(hash) = event["receipt"]["tx_hash"].as_str() {
            let hash = veil_types::serde_hash::parse_hex(hash).unwrap();
            let ok = event["receipt"]["ok"] == true;
            if included_tx.send((hash, ok, now)).is_err() {
                return;
            }
        }
    });

    let (first, second): (Vec<_>, Vec<_>) = batches
        .into_iter()
        .map(|mut b| {
            let rest = b.split_off(per_sender);
            (b, rest)
        })
        .unzip();
    eprintln!(
        "load: saturation: {} transfers from {senders} senders, as fast as they go ...",
        per_sender * senders
    );
    let saturated = run_phase(&network.urls, &first, None, limit, &included_rx);
    eprintln!(
        "load: paced: {} transfers at {rate}/s ...",
        per_sender * senders
    );
    let pace = Duration::from_secs_f64(senders as f64 / rate as f64);
    let paced = run_phase(&network.urls, &second, Some(pace), limit, &included_rx);
    // The store keeps current contract state only: replaced nodes go with each block.
    let state_nodes = Client::new(&url).status().unwrap().state_nodes;
    let store_bytes = std::fs::metadata(&network.store)
        .map(|m| m.len())
        .unwrap_or(0);
    let failed = saturated["failed"].as_u64().unwrap() + paced["failed"].as_u64().unwrap();
    assert_eq!(failed, 0, "some transfers failed");
    json!({
        "validators": network.urls.len(),
        "saturation": saturated,
        "state_nodes": state_nodes,
        "store_mib": store_bytes as f64 / (1024.0 * 1024.0),
        "paced": paced,
        "paced_target_per_second": rate,
        "senders": senders,
        "node_rss_mib": rss_kib(pid, "VmRSS:") as f64 / 1024.0,
        "node_peak_rss_mib": rss_kib(pid, "VmHWM:") as f64 / 1024.0,
        "gas_limit_per_transfer": gas_limit,
        "block_time_ms": 200,
    })
}

/// Submits every batch (one thread per sender, in sequence order, sender i to node
/// i mod n), optionally one transaction per `pace` per sender, and waits for their
/// inclusion events.
fn run_phase(
    urls: &[String],
    batches: &[Vec<(Hash, Vec<u8>)>],
    pace: Option<Duration>,
    limit: Duration,
    included: &mpsc::Receiver<(Hash, bool, Instant)>,
) -> Value {
    let start = Instant::now();
    let submitted: Vec<(Hash, Instant)> = std::thread::scope(|scope| {
        let handles: Vec<_> = batches
            .iter()
            .enumerate()
            .map(|(i, batch)| {
                let client = Client::new(&urls[i % urls.len()]);
                scope.spawn(move || {
                    let mut times = Vec::with_capacity(batch.len());
                    for (i, (hash, bytes)) in batch.iter().enumerate() {
                        if let Some(pace) = pace {
                            let due = start + pace * i as u32;
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                        }
                        loop {
                            if start.elapsed() > limit {
                                return times;
                            }
                            let at = Instant::now();
                            match client.submit_bytes(bytes) {
                                Ok(_) => {
                                    times.push((*hash, at));
                                    break;
                                }
                                Err(e) if e.kind() == Some("mempool_full") => {
                                    std::thread::sleep(Duration::from_millis(20))
                                }
                                Err(e) => panic!("submit: {e}"),
                            }
                        }
                    }
                    times
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let submit_done = start.elapsed();
    let submitted_at: HashMap<Hash, Instant> = submitted.iter().copied().collect();
    let mut latencies = Vec::with_capacity(submitted_at.len());
    let mut failed = 0u64;
    let mut last = start;
    while latencies.len() + (failed as usize) < submitted_at.len() {
        let remaining = limit
            .saturating_sub(start.elapsed())
            .max(Duration::from_secs(1));
        let Ok((hash, ok, at)) = included.recv_timeout(remaining) else {
            break;
        };
        if let Some(sent) = submitted_at.get(&hash) {
            if ok {
                latencies.push(at.duration_since(*sent));
            } else {
                failed += 1;
            }
            last = last.max(at);
        }
    }
    let elapsed = last.duration_since(start);
    latencies.sort();
    json!({
        "submitted": submitted_at.len(),
        "included_ok": latencies.len(),
        "failed": failed,
        "seconds": elapsed.as_secs_f64(),
        "submission_seconds": submit_done.as_secs_f64(),
        "per_second": latencies.len() as f64 / elapsed.as_secs_f64(),
        "inclusion_p50_ms": percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        "inclusion_p99_ms": percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    })
}
