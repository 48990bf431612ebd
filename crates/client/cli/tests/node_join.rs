//! A second node joins `veil dev` with `veil node join` (real processes, both enclave
//! modes): it pins the genesis hash, registers its enclave (attestation verified inside the
//! producer's enclave), installs its seed share, replays every block from height 0 in its
//! own enclave with the same headers and state roots, answers signed queries, keeps
//! following, and resumes after a SIGKILL.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use veil_client::dev_key;
use veil_client::rpc::Client;
use veil_client::tx::{TxOptions, Wallet};
use veil_types::Msg;

fn options() -> TxOptions {
    TxOptions {
        timeout: Duration::from_secs(30),
        ..Default::default()
    }
}

fn join_args(producer: &DevNode, home: &Path, port: u16, pin: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "node".into(),
        "join".into(),
        "--home".into(),
        home.display().to_string(),
        "--peer".into(),
        producer.url(),
        "--genesis-hash".into(),
        pin.into(),
        "--from".into(),
        "bob".into(),
        "--keyring-home".into(),
        producer.home.display().to_string(),
        "--keyring-backend".into(),
        "test".into(),
        "--rpc-addr".into(),
        format!("127.0.0.1:{port}"),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn spawn_joiner(args: &[String], log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("veil node join starts")
}

/// Waits until `client` answers at a height of at least `height`.
fn wait_height(client: &Client, height: u64, child: &mut Child, log: &Path) {
    let started = Instant::now();
    loop {
        if let Ok(status) = client.status() {
            if status.height >= height {
                return;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the joined node exited with {status}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the joined node did not reach height {height}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_same_chain(a: &Client, b: &Client, up_to: u64) {
    for height in 0..=up_to {
        let (x, y) = (
            a.block(Some(height)).unwrap(),
            b.block(Some(height)).unwrap(),
        );
        assert_eq!(x.hash, y.hash, "block {height} differs");
        assert_eq!(
            x.header.app_hash, y.header.app_hash,
            "state root at {height}"
        );
    }
}

fn increment(wallet: &Wallet, counter: &str, code_hash: &veil_types::Hash) {
    let (envelope, _) = wallet
        .encrypt(code_hash, &json!({"increment": {}}))
        .unwrap();
    wallet
        .broadcast(
            Msg::Execute {
                contract: counter.into(),
                msg: envelope,
                funds: 0,
            },
            &options(),
            |_| {},
        )
        .unwrap();
}

fn count_as_alice(client: &Client, counter: &str) -> (u64, u64) {
    let alice = dev_key("alice");
    let wallet = Wallet::connect(client, &alice).unwrap();
    let permit = wallet
        .sign_permit(vec![counter.to_string()], Duration::from_secs(600))
        .unwrap();
    let answer = wallet
        .query_with_permit(counter, &json!({"get_count": {}}), None, Some(&permit))
        .unwrap();
    (answer.data["count"].as_u64().unwrap(), answer.height)
}

fn a_node_joins_and_follows(extra: &[&str]) {
    let producer_home = tempfile::tempdir().unwrap();
    let producer = DevNode::start_with(producer_home.path(), "50ms", extra);
    let client = producer.client();
    let alice = dev_key("alice");
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let (counter, code_hash) = deploy_counter(&wallet, "followed", 0);
    for _ in 0..3 {
        increment(&wallet, &counter, &code_hash);
    }
    let status = client.status().unwrap();
    assert!(status.simulated_attestation_allowed);
    assert!(status.attestation_warning.unwrap().contains("anyone"));

    // A peer must not hand the joiner another network: a wrong pin is refused.
    let join_home = tempfile::tempdir().unwrap();
    let home = join_home.path().join("n1");
    let port = free_port();
    let wrong = join_args(&producer, &home, port, &"00".repeat(32), extra);
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(&wrong)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not the pinned"), "{stderr}");

    let args = join_args(&producer, &home, port, &status.genesis_hash, extra);
    let log = join_home.path().join("join.log");
    let mut joiner = spawn_joiner(&args, &log);
    let follower = Client::new(&format!("http://127.0.0.1:{port}"));
    // At least 200 blocks of history, replayed from height 0.
    while client.status().unwrap().height < 200 {
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_height(&follower, 200, &mut joiner, &log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("registering enclave key"), "{text}");
    assert!(text.contains("holds the network's seed"), "{text}");

    // It keeps following: new transactions on the producer reach it.
    increment(&wallet, &counter, &code_hash);
    let target = client.status().unwrap().height;
    wait_height(&follower, target, &mut joiner, &log);
    assert_same_chain(&client, &follower, target);
    assert_eq!(follower.status().unwrap().network_key, status.network_key);
    // Its own enclave answers alice's signed query.
    let (count, height) = count_as_alice(&follower, &counter);
    assert_eq!(count, 4);
    assert!(height >= target);
    // A transaction sent to the follower is gossiped to its peer and committed; the
    // follower sees it in the blocks it replays.
    let alice = dev_key("alice");
    let through_follower = Wallet::connect(&follower, &alice).unwrap();
    increment(&through_follower, &counter, &code_hash);
    assert_eq!(count_as_alice(&client, &counter).0, 5);

    // SIGKILL, more blocks, restart: it resumes where it stopped and catches up.
    joiner.kill().unwrap();
    joiner.wait().unwrap();
    increment(&wallet, &counter, &code_hash);
    let mut joiner = spawn_joiner(&args, &log);
    let target = client.status().unwrap().height;
    wait_height(&follower, target, &mut joiner, &log);
    assert_same_chain(&client, &follower, target);
    assert_eq!(count_as_alice(&follower, &counter).0, 6);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("has joined already"), "{text}");
    joiner.kill().unwrap();
    joiner.wait().unwrap();
}

/// A peer that lies: forwards everything to `upstream` but serves block `height` with its
/// state root off by one byte. Runs until the test ends.
fn lying_peer(upstream: String, height: u64) -> u16 {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or("").to_string(),
                    parts.next().unwrap_or("").to_string(),
                );
                let mut length = 0usize;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                let url = format!("{upstream}{path}");
                let answer = if method == "POST" {
                    ureq::post(&url)
                        .set("content-type", "application/json")
                        .send_bytes(&body)
                } else {
                    ureq::get(&url).call()
                };
                let (code, mut text) = match answer {
                    Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
                    Err(ureq::Error::Status(code, r)) => {
                        (code, r.into_string().unwrap_or_default())
                    }
                    Err(_) => (502, "{}".to_string()),
                };
                if path == format!("/blocks/{height}") {
                    let mut block: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let root = block["header"]["app_hash"].as_str().unwrap().to_string();
                    // Another first hex digit: the root is off in its first byte.
                    let first = if root.starts_with('0') { '1' } else { '0' };
                    let flipped = format!("{first}{}", &root[1..]);
                    block["header"]["app_hash"] = json!(flipped);
                    text = block.to_string();
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
            });
        }
    });
    port
}

#[test]
fn a_follower_stops_at_a_block_it_does_not_compute() {
    let producer_home = tempfile::tempdir().unwrap();
    let producer = DevNode::start_with(producer_home.path(), "50ms", &[]);
    let client = producer.client();
    while client.status().unwrap().height < 12 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pin = client.status().unwrap().genesis_hash;
    let liar = lying_peer(producer.url(), 7);
    let join_home = tempfile::tempdir().unwrap();
    let home = join_home.path().join("n1");
    let mut args = join_args(&producer, &home, free_port(), &pin, &[]);
    args[5] = format!("http://127.0.0.1:{liar}");
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(&args)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("block 7 is refused")
            && stderr.contains("the state root after block 6")
            && stderr.contains("nothing of it was executed"),
        "{stderr}"
    );
    // Nothing of block 7 was committed: the node stopped at 6.
    let store = veil_node::store::Store::open(&home.join("node/chain.redb")).unwrap();
    assert_eq!(store.height().unwrap(), Some(6));
}

#[test]
fn a_node_joins_dev_and_follows_it_in_process() {
    a_node_joins_and_follows(&[]);
}

#[test]
fn a_node_joins_dev_and_follows_it_with_the_enclave_process() {
    build_enclave_executable();
    a_node_joins_and_follows(&["--enclave", "process"]);
}
