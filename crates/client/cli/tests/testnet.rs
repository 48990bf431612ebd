//! A 4-validator BFT network (`veil testnet init`, one `veil node start` per validator, as
//! real processes on loopback): blocks advance with every node agreeing on every block
//! and state root; one validator down and the others go on, and it catches up when it
//! restarts; two down and no block is committed, until they are back — with no fork.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use veil_client::rpc::{Client, TxStatus};
use veil_client::tx::{Gas, TxOptions, Wallet};
use veil_client::{dev_key, KeyPair};
use veil_types::Msg;

const VALIDATORS: usize = 4;

/// A validator process (`veil node start --home DIR/nodeI`).
struct Validator {
    home: PathBuf,
    rpc_port: u16,
    child: Option<Child>,
}

impl Validator {
    fn log(&self) -> PathBuf {
        self.home.join("test-node.log")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    fn client(&self) -> Client {
        Client::new(&format!("http://127.0.0.1:{}", self.rpc_port))
    }

    fn start(&mut self) {
        assert!(self.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_veil"))
            .args(["node", "start", "--home"])
            .arg(&self.home)
            .args(["--block-time", "200ms"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("veil node start");
        self.child = Some(child);
        let started = Instant::now();
        while self.client().status().is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("validator exited with {status}:\n{}", self.log_text());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "validator did not answer:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn height(&self) -> u64 {
        self.client().status().map(|s| s.height).unwrap_or(0)
    }
}

impl Drop for Validator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A base port with `2 * n` free ports after it.
fn free_port_range(n: usize) -> u16 {
    let seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
    for attempt in 0..200u64 {
        let base = 20_000 + ((seed.wrapping_mul(7919) + attempt * 97) % 30_000) as u16;
        let free =
            (0..2 * n as u16).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free port range");
}

fn init(dir: &Path) -> Vec<Validator> {
    let base = free_port_range(VALIDATORS);
    let output = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args([
            "testnet",
            "init",
            "--validators",
            &VALIDATORS.to_string(),
            "--dir",
        ])
        .arg(dir)
        .args(["--base-port", &base.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "testnet init failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (0..VALIDATORS)
        .map(|i| Validator {
            home: dir.join(format!("node{i}")),
            rpc_port: base + 2 * i as u16,
            child: None,
        })
        .collect()
}

#[track_caller]
fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every live node has the same block (hash and header) at every height up to `height`.
#[track_caller]
fn agree(nodes: &[&Validator], height: u64) {
    for h in 1..=height {
        let blocks: Vec<_> = nodes
            .iter()
            .map(|n| n.client().block(Some(h)).unwrap())
            .collect();
        for block in &blocks[1..] {
            assert_eq!(block.hash, blocks[0].hash, "fork at height {h}");
            assert_eq!(block.header, blocks[0].header, "headers differ at {h}");
        }
        let certificate = blocks[0]
            .certificate
            .as_ref()
            .expect("a commit certificate");
        assert!(
            certificate.signatures.len() >= 3,
            "block {h} certified by fewer than 3 of 4"
        );
    }
}

/// Alice sends `amount` to `to` through `node`; answers the receipt once committed.
fn send(node: &Validator, to: &KeyPair, amount: u128) -> veil_types::Receipt {
    let client = node.client();
    let alice = dev_key("alice");
    let wallet = Wallet::connect(&client, &alice).expect("a wallet on the node");
    wallet
        .broadcast(
            Msg::Send {
                to: to.address().to_string(),
                amount,
            },
            &TxOptions {
                gas: Gas::Limit(200_000),
                ..TxOptions::default()
            },
            |_| {},
        )
        .expect("the transfer is committed")
        .committed
        .receipt
}

/// The longest time between consecutive blocks from `from` to `to` (header times).
fn longest_gap(client: &Client, from: u64, to: u64) -> Duration {
    let times: Vec<u64> = (from..=to)
        .map(|h| client.block(Some(h)).unwrap().header.time_nanos)
        .collect();
    let gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    Duration::from_nanos(gap)
}

#[test]
fn four_validators_agree_survive_one_failure_and_halt_without_a_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = init(dir.path());
    for node in &mut nodes {
        node.start();
    }

    // (a) All up: blocks advance and every node agrees on each.
    wait_for("height 8 on every node", Duration::from_secs(120), || {
        nodes.iter().all(|n| n.height() >= 8)
    });
    agree(&nodes.iter().collect::<Vec<_>>(), 8);
    for node in &nodes {
        let status = node.client().status().unwrap();
        assert_eq!(status.consensus["role"], "validator");
        assert_eq!(status.validators.len(), VALIDATORS);
        assert_eq!(status.relays_to.len(), VALIDATORS - 1);
    }
    let bob = dev_key("bob");
    let before = nodes[0].client().account(bob.address()).unwrap().balance;
    let receipt = send(&nodes[2], &bob, 1_000);
    assert!(receipt.ok, "{receipt:?}");
    wait_for("the transfer on node 0", Duration::from_secs(30), || {
        nodes[0].client().account(bob.address()).unwrap().balance == before + 1_000
    });

    // (b) One validator killed: the other three go on; a transfer sent to a live node is
    // included; the restarted validator catches up and agrees.
    nodes[3].kill();
    let killed_at = nodes[0].height();
    let receipt = send(&nodes[1], &bob, 2_000);
    assert!(receipt.ok, "{receipt:?}");
    wait_for("10 blocks without node 3", Duration::from_secs(120), || {
        nodes[0].height() >= killed_at + 10
    });
    let gap = longest_gap(&nodes[0].client(), killed_at, killed_at + 10);
    eprintln!("one validator down: longest gap between blocks {gap:?}");
    nodes[3].start();
    let target = nodes[0].height();
    wait_for("node 3 to catch up", Duration::from_secs(120), || {
        nodes[3].height() >= target
    });
    agree(&nodes.iter().collect::<Vec<_>>(), target);
    assert_eq!(
        nodes[3].client().account(bob.address()).unwrap().balance,
        before + 3_000
    );

    // (c) Two killed: no quorum, no block; back up, the chain resumes with no fork.
    nodes[2].kill();
    nodes[3].kill();
    std::thread::sleep(Duration::from_secs(1));
    let halted = nodes[0].height();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        nodes[0].height(),
        halted,
        "a block was committed by 2 of 4 validators"
    );
    assert_eq!(nodes[1].height(), halted);
    nodes[2].start();
    nodes[3].start();
    wait_for("the chain to resume", Duration::from_secs(120), || {
        nodes.iter().all(|n| n.height() >= halted + 5)
    });
    agree(&nodes.iter().collect::<Vec<_>>(), halted + 5);
    let receipt = send(&nodes[3], &bob, 3_000);
    assert!(receipt.ok, "{receipt:?}");
    wait_for(
        "the last transfer on node 0",
        Duration::from_secs(30),
        || {
            matches!(
                nodes[0].client().tx(&receipt.tx_hash),
                Ok(Some(TxStatus::Committed(_)))
            )
        },
    );
}
