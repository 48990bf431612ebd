//! A 4-validator BFT network (`veil testnet init`, one `veil node start` per validator, as
//! real processes on loopback): blocks advance with every node agreeing on every block
//! and state root; one validator down and the others go on, and it catches up when it
//! restarts; two down and no block is committed, until they are back — with no fork; one
//! cut off the network (its consensus links run through relays the test cuts) falls
//! behind and catches up when healed.

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

/// A base port with `3 * n` free ports after it (RPC, consensus, gossip).
fn free_port_range(n: usize) -> u16 {
    let seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
    for attempt in 0..200u64 {
        let base = 20_000 + ((seed.wrapping_mul(7919) + attempt * 97) % 30_000) as u16;
        let free =
            (0..3 * n as u16).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
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

/// The node's own consensus address, from its status.
fn validator_address(node: &Validator) -> String {
    let status = node.client().status().unwrap();
    status.consensus["validator"]
        .as_str()
        .expect("a validator address")
        .to_string()
}

/// The validator addresses of the consensus peers a node lists, sorted (`"?"` for one
/// that has not proved its key yet; an empty list while the node does not answer).
fn peer_validators(node: &Validator) -> Vec<String> {
    let Ok(status) = node.client().status() else {
        return Vec::new();
    };
    let mut peers: Vec<String> = status.consensus["peers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|p| p["validator"].as_str().unwrap_or("?").to_string())
        .collect();
    peers.sort();
    peers
}

/// `veil status --node URL`'s text output.
fn veil_status(node: &Validator) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["status", "--node"])
        .arg(format!("http://127.0.0.1:{}", node.rpc_port))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "veil status failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
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
        assert!(status.gossip["listen"].is_string(), "{:?}", status.gossip);
    }
    // Transaction gossip connects every validator to the three others.
    wait_for("gossip between all four", Duration::from_secs(30), || {
        nodes
            .iter()
            .all(|n| n.client().status().unwrap().gossip["peers"] == VALIDATORS - 1)
    });
    // Each is connected to the three others, known by the validator addresses they proved.
    let addresses: Vec<String> = nodes.iter().map(validator_address).collect();
    for (i, node) in nodes.iter().enumerate() {
        let mut others: Vec<String> = addresses
            .iter()
            .filter(|a| **a != addresses[i])
            .cloned()
            .collect();
        others.sort();
        wait_for(
            &format!("node {i} to list its 3 peers"),
            Duration::from_secs(30),
            || peer_validators(node) == others,
        );
        let status = node.client().status().unwrap();
        assert_eq!(status.consensus["peer_count"], 3);
    }
    let printed = veil_status(&nodes[0]);
    assert!(
        printed.lines().any(|l| l.starts_with("peers: 3: ")),
        "`veil status` does not print the peers:\n{printed}"
    );
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
    for (i, node) in nodes.iter().enumerate().take(3) {
        wait_for(
            &format!("node {i} to see 2 peers"),
            Duration::from_secs(30),
            || {
                let peers = peer_validators(node);
                peers.len() == 2 && !peers.contains(&addresses[3])
            },
        );
    }
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

/// A TCP relay between one validator and the rest that the test can cut and heal.
struct Cable {
    port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Cable {
    /// Forwards connections made to `self.port` to `target` while not cut; a cut closes
    /// every connection through it and refuses new ones.
    fn lay(target: u16, cut: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Cable {
        use std::net::{Shutdown, TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let flag = cut.clone();
        std::thread::spawn(move || {
            for inbound in listener.incoming().flatten() {
                if flag.load(Ordering::SeqCst) {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                for (from, to) in [
                    (inbound.try_clone().unwrap(), outbound.try_clone().unwrap()),
                    (outbound, inbound),
                ] {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        let (mut from, mut to) = (from, to);
                        from.set_read_timeout(Some(Duration::from_millis(100)))
                            .unwrap();
                        let mut buf = [0u8; 64 * 1024];
                        loop {
                            if flag.load(Ordering::SeqCst) {
                                break;
                            }
                            match std::io::Read::read(&mut from, &mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => break,
                            }
                        }
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Cable { port, cut }
    }
}

/// Rewrites a home's consensus peers.
fn set_peers(home: &Path, peers: &[u16]) {
    let path = home.join("node").join("node.json");
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    file["persistent_peers"] = serde_json::json!(peers
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>());
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
}

#[test]
fn a_validator_cut_off_the_network_catches_up_when_healed() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = init(dir.path());
    // Every consensus link of node 3 runs through a cable the test controls.
    let p2p = |i: usize| nodes[i].rpc_port + 1;
    let cut = std::sync::Arc::new(AtomicBool::new(false));
    let to_node3 = Cable::lay(p2p(3), cut.clone());
    let from_node3: Vec<Cable> = (0..3).map(|i| Cable::lay(p2p(i), cut.clone())).collect();
    set_peers(
        &nodes[3].home,
        &from_node3.iter().map(|c| c.port).collect::<Vec<_>>(),
    );
    for (i, node) in nodes.iter().enumerate().take(3) {
        let others: Vec<u16> = (0..3)
            .filter(|j| *j != i)
            .map(|j| node.rpc_port - 2 * i as u16 + 2 * j as u16 + 1)
            .chain([to_node3.port])
            .collect();
        set_peers(&node.home, &others);
    }
    assert!(!to_node3.cut.load(Ordering::SeqCst));
    for node in &mut nodes {
        node.start();
    }
    wait_for("height 5 on every node", Duration::from_secs(120), || {
        nodes.iter().all(|n| n.height() >= 5)
    });

    // Cut: the other three go on without node 3, which falls behind.
    cut.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(500));
    let isolated_at = nodes[3].height();
    wait_for("10 blocks without node 3", Duration::from_secs(120), || {
        nodes[0].height() >= isolated_at + 10
    });
    assert!(
        nodes[3].height() <= isolated_at + 1,
        "the isolated node kept committing"
    );

    // Heal: it catches up and agrees.
    cut.store(false, Ordering::SeqCst);
    let target = nodes[0].height();
    wait_for(
        "node 3 to catch up after the heal",
        Duration::from_secs(120),
        || nodes[3].height() >= target,
    );
    agree(&nodes.iter().collect::<Vec<_>>(), target);
}
