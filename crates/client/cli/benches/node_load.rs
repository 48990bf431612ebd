//! Load test of a `veil dev` node on loopback: sustained confidential cw20 transfers per
//! second with durable (fsync'd) block commits, time from submission to inclusion, and the
//! node's memory.
//!
//! `cargo bench -p veil-cli --bench node_load` (release build). Two phases, each of
//! `VEIL_LOAD_TXS` transfers (default 20000) from `VEIL_LOAD_SENDERS` accounts (default 8),
//! each bounded by `VEIL_LOAD_SECONDS` (default 180):
//! - saturation: every sender submits as fast as the node accepts — the most the node
//!   sustains (inclusion times here are mostly queueing);
//! - paced: `VEIL_LOAD_RATE` transfers per second (default 2000) — the time from submission
//!   to inclusion at that rate.
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
    };
    let path = build::build_published("cw20-base", "2.0.0", &options).expect("cw20-base builds");
    std::fs::read(path).unwrap()
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn start_node(home: &Path, port: u16) -> Node {
    let log = std::fs::File::create(home.join("node.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["dev", "--home"])
        .arg(home)
        .args([
            "--rpc-addr",
            &format!("127.0.0.1:{port}"),
            "--block-time",
            "200ms",
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("veil dev starts");
    let client = Client::new(&format!("http://127.0.0.1:{port}"));
    let started = Instant::now();
    while client.status().is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "node did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Node(child)
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
    let total = env_number("VEIL_LOAD_TXS", 20_000) as usize;
    let senders = env_number("VEIL_LOAD_SENDERS", 8).max(1) as usize;
    let limit = Duration::from_secs(env_number("VEIL_LOAD_SECONDS", 180));
    let rate = env_number("VEIL_LOAD_RATE", 2_000).max(1);
    let per_sender = total.div_ceil(senders);

    eprintln!("load: building cw20-base 2.0.0 ...");
    let wasm = cw20_wasm();
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let node = start_node(home.path(), port);
    let pid = node.0.id();
    let url = format!("http://127.0.0.1:{port}");
    let client = Client::new(&url);
    let alice = dev_key("alice");
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let options = TxOptions::default();

    eprintln!("load: deploying cw20-base and funding {senders} senders ...");
    let stored = wallet
        .broadcast(Msg::StoreCode { wasm }, &options, |_| {})
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
    let (mut socket, _) =
        tungstenite::connect(format!("ws://127.0.0.1:{port}/subscribe?events=txs")).unwrap();
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
    let saturated = run_phase(&url, &first, None, limit, &included_rx);
    eprintln!(
        "load: paced: {} transfers at {rate}/s ...",
        per_sender * senders
    );
    let pace = Duration::from_secs_f64(senders as f64 / rate as f64);
    let paced = run_phase(&url, &second, Some(pace), limit, &included_rx);
    // The store keeps current contract state only: replaced nodes go with each block.
    let state_nodes = Client::new(&url).status().unwrap().state_nodes;
    let store_bytes = std::fs::metadata(home.path().join("node").join("chain.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    let report = json!({
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
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    let out =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/node-load-report.json");
    let _ = std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap());
    for (name, phase) in [("saturation", &saturated), ("paced", &paced)] {
        eprintln!(
            "load: {name}: {} confidential cw20 transfers in {:.1} s = {:.0}/s; inclusion p50 {:.0} ms, p99 {:.0} ms",
            phase["included_ok"], phase["seconds"].as_f64().unwrap(), phase["per_second"].as_f64().unwrap(),
            phase["inclusion_p50_ms"].as_f64().unwrap(), phase["inclusion_p99_ms"].as_f64().unwrap(),
        );
    }
    eprintln!(
        "load: node RSS {:.0} MiB (peak {:.0} MiB); store {:.0} MiB holding {state_nodes} state nodes",
        report["node_rss_mib"].as_f64().unwrap(),
        report["node_peak_rss_mib"].as_f64().unwrap(),
        report["store_mib"].as_f64().unwrap(),
    );
    let failed = saturated["failed"].as_u64().unwrap() + paced["failed"].as_u64().unwrap();
    drop(node);
    assert_eq!(failed, 0, "some transfers failed");
}

/// Submits every batch (one thread per sender, in sequence order), optionally one
/// transaction per `pace` per sender, and waits for their inclusion events.
fn run_phase(
    url: &str,
    batches: &[Vec<(Hash, Vec<u8>)>],
    pace: Option<Duration>,
    limit: Duration,
    included: &mpsc::Receiver<(Hash, bool, Instant)>,
) -> Value {
    let start = Instant::now();
    let submitted: Vec<(Hash, Instant)> = std::thread::scope(|scope| {
        let handles: Vec<_> = batches
            .iter()
            .map(|batch| {
                let client = Client::new(url);
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
