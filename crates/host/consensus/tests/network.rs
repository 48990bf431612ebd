//! Validators on real libp2p networking over loopback TCP, each with its own in-memory
//! application: decisions, identical blocks, certificates the enclave's rules accept, a
//! stopped validator, and a restart from the WAL that catches up through value sync.
//!
//! Each node listens on its own 127.0.0.x address. Every test is bounded: a height not
//! reached in time fails the test.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use veil_consensus::{start, Application, CommitCertificate, Config, Node};
use veil_types::consensus::{verify_commit_certificate, ValidatorSet};

const CHAIN: &str = "veil-consensus-test";
const BLOCK_TIME: Duration = Duration::from_millis(200);

/// Multi-node tests share two cores: run them one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

type Chain = Arc<Mutex<BTreeMap<u64, (Vec<u8>, CommitCertificate)>>>;

/// The node's stand-in: blocks are `name/height/counter` strings, a block is valid if it
/// names the height it is proposed at, commits go to a map that outlives the node.
struct MemApp {
    name: String,
    chain: Chain,
    proposals: u64,
    /// Bytes of padding per block, so that blocks span several proposal parts.
    padding: usize,
    /// Commits of these heights fail once (a store write error).
    fail_once: Arc<Mutex<Vec<u64>>>,
}

impl MemApp {
    fn new(name: &str, chain: Chain) -> Self {
        MemApp {
            name: name.to_string(),
            chain,
            proposals: 0,
            padding: 0,
            fail_once: Arc::default(),
        }
    }
}

impl Application for MemApp {
    fn propose(&mut self, height: u64) -> Vec<u8> {
        self.proposals += 1;
        let mut block = format!("block/{height}/{}/{}/", self.name, self.proposals).into_bytes();
        block.extend((0..self.padding).map(|i| (i % 251) as u8));
        block
    }

    fn validate(&mut self, height: u64, block: &[u8]) -> bool {
        let text = String::from_utf8_lossy(block);
        text.starts_with(&format!("block/{height}/"))
    }

    fn commit(&mut self, height: u64, block: &[u8], cert: CommitCertificate) -> anyhow::Result<()> {
        let mut chain = self.chain.lock().unwrap();
        let last = chain.keys().next_back().copied().unwrap_or(0);
        anyhow::ensure!(height == last + 1, "commit of {height} after {last}");
        let mut fail = self.fail_once.lock().unwrap();
        if let Some(i) = fail.iter().position(|h| *h == height) {
            fail.remove(i);
            anyhow::bail!("simulated store failure at height {height}");
        }
        chain.insert(height, (block.to_vec(), cert));
        Ok(())
    }

    fn decided(&self, height: u64) -> Option<(Vec<u8>, CommitCertificate)> {
        self.chain.lock().unwrap().get(&height).cloned()
    }

    fn last_committed(&self) -> u64 {
        self.chain
            .lock()
            .unwrap()
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
    }
}

fn key(i: usize) -> [u8; 32] {
    [i as u8 + 1; 32]
}

fn public_key(i: usize) -> [u8; 32] {
    ed25519_consensus::SigningKey::from(key(i))
        .verification_key()
        .to_bytes()
}

fn validator_set(n: usize) -> ValidatorSet {
    ValidatorSet::new((0..n).map(|i| (public_key(i), 1))).unwrap()
}

/// A free TCP port on `ip` (bound and released; the node binds it right after).
fn free_addr(ip: Ipv4Addr) -> SocketAddr {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    listener.local_addr().unwrap()
}

struct Net {
    n: usize,
    addrs: Vec<SocketAddr>,
    chains: Vec<Chain>,
    dir: tempfile::TempDir,
    padding: usize,
}

impl Net {
    fn new(n: usize, subnet: u8) -> Self {
        let addrs = (0..n)
            .map(|i| free_addr(Ipv4Addr::new(127, 0, subnet, 10 + i as u8)))
            .collect();
        Net {
            n,
            addrs,
            chains: (0..n).map(|_| Chain::default()).collect(),
            dir: tempfile::tempdir().unwrap(),
            padding: 0,
        }
    }

    fn config(&self, i: usize, moniker: &str) -> Config {
        let wal = self.dir.path().join(format!("node{i}")).join("wal");
        let mut config = Config::new(
            moniker,
            CHAIN,
            validator_set(self.n),
            key(i),
            self.addrs[i],
            wal,
        );
        config.persistent_peers = (0..self.n)
            .filter(|j| *j != i)
            .map(|j| self.addrs[j])
            .collect();
        config.block_time = Some(BLOCK_TIME);
        config
    }

    async fn start(&self, i: usize, moniker: &str) -> Node {
        self.start_with(i, moniker, Arc::default()).await
    }

    async fn start_with(&self, i: usize, moniker: &str, fail_once: Arc<Mutex<Vec<u64>>>) -> Node {
        let mut app = MemApp::new(&format!("v{i}"), self.chains[i].clone());
        app.padding = self.padding;
        app.fail_once = fail_once;
        start(self.config(i, moniker), app).await.unwrap()
    }

    fn wal_dir(&self, i: usize) -> std::path::PathBuf {
        self.dir.path().join(format!("node{i}")).join("wal")
    }

    fn last(&self, i: usize) -> u64 {
        self.chains[i]
            .lock()
            .unwrap()
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
    }
}

/// Every node that has a height has the same block there, and its certificate passes
/// the shared verification (what the enclave runs) against the genesis set.
fn check_agreement(net: &Net, nodes: &[usize], up_to: u64) {
    let set = validator_set(net.n);
    for h in 1..=up_to {
        let mut reference: Option<Vec<u8>> = None;
        for &i in nodes {
            let chain = net.chains[i].lock().unwrap();
            let Some((block, cert)) = chain.get(&h) else {
                continue;
            };
            let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(block).into();
            verify_commit_certificate(cert, &set, CHAIN, h, &hash)
                .unwrap_or_else(|e| panic!("node {i} height {h}: {e}"));
            match &reference {
                None => reference = Some(block.clone()),
                Some(r) => assert_eq!(r, block, "node {i} disagrees at height {h}"),
            }
        }
        assert!(reference.is_some(), "no node has height {h}");
    }
}

/// Longest time between two consecutive commits observed on node `i` while `until`
/// heights are reached.
async fn watch_gaps(net: &Net, i: usize, until: u64, timeout: Duration) -> Duration {
    let start = Instant::now();
    let mut last_height = net.last(i);
    let mut last_change = Instant::now();
    let mut longest = Duration::ZERO;
    while net.last(i) < until {
        assert!(
            start.elapsed() < timeout,
            "node {i} stuck at {} (wanted {until})",
            net.last(i)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        let h = net.last(i);
        if h != last_height {
            longest = longest.max(last_change.elapsed());
            last_height = h;
            last_change = Instant::now();
        }
    }
    longest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_validator_decides_quickly() {
    init_logs();
    let _serial = SERIAL.lock().await;
    let net = Net::new(1, 1);
    let started = Instant::now();
    let node = net.start(0, "solo").await;
    node.wait_for_height(1, Duration::from_secs(10))
        .await
        .unwrap();
    let first = started.elapsed();
    node.wait_for_height(20, Duration::from_secs(60))
        .await
        .unwrap();
    let total = started.elapsed();
    let after_first = total - first;
    eprintln!(
        "one validator: first block after {first:?}, 20 blocks after {total:?} \
         ({:.1} blocks/s after the first, block time {BLOCK_TIME:?})",
        19.0 / after_first.as_secs_f64()
    );
    assert!(first < Duration::from_secs(2), "first block took {first:?}");
    node.stop().await;
    check_agreement(&net, &[0], 20);
    // Block time is honoured: 19 heights take at least 19 block times.
    assert!(after_first >= BLOCK_TIME * 19 - Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_agree() {
    init_logs();
    let _serial = SERIAL.lock().await;
    let mut net = Net::new(4, 2);
    // 150 KB blocks: three 64 KiB proposal parts each.
    net.padding = 150_000;
    let started = Instant::now();
    let mut nodes = Vec::new();
    for i in 0..4 {
        nodes.push(net.start(i, &format!("agree{i}")).await);
    }
    for node in &nodes {
        node.wait_for_height(1, Duration::from_secs(30))
            .await
            .unwrap();
    }
    let first = started.elapsed();
    for node in &nodes {
        node.wait_for_height(20, Duration::from_secs(60))
            .await
            .unwrap();
    }
    let total = started.elapsed();
    eprintln!(
        "four validators: first block on all after {first:?}, 20 blocks on all after {total:?} \
         ({:.1} blocks/s after the first)",
        19.0 / (total - first).as_secs_f64()
    );
    assert!(net.chains[0].lock().unwrap()[&1].0.len() > 150_000);
    // Each is connected to the three others, each known by its proven validator address.
    for (i, node) in nodes.iter().enumerate() {
        let mut others: Vec<_> = nodes
            .iter()
            .filter(|n| n.address() != node.address())
            .map(|n| Some(n.address()))
            .collect();
        others.sort();
        let mut updates = node.status_updates();
        // (The borrow `wait_for` answers is dropped at the end of the statement.)
        let seen = matches!(
            tokio::time::timeout(
                Duration::from_secs(10),
                updates.wait_for(|s| {
                    let mut peers: Vec<_> = s.peers.iter().map(|p| p.validator).collect();
                    peers.sort();
                    peers == others
                }),
            )
            .await,
            Ok(Ok(_))
        );
        assert!(
            seen,
            "v{i} does not list the three others as peers: {:?}",
            node.status().peers
        );
    }
    // A stopped validator leaves its peers' lists.
    let stopped = nodes.pop().unwrap();
    let gone = stopped.address();
    stopped.stop().await;
    for node in &nodes {
        let mut updates = node.status_updates();
        let left = matches!(
            tokio::time::timeout(
                Duration::from_secs(10),
                updates.wait_for(|s| {
                    s.peers.len() == 2 && s.peers.iter().all(|p| p.validator != Some(gone))
                }),
            )
            .await,
            Ok(Ok(_))
        );
        assert!(
            left,
            "a stopped validator is still listed: {:?}",
            node.status().peers
        );
    }
    for node in nodes {
        node.stop().await;
    }
    let up_to = (0..4).map(|i| net.last(i)).min().unwrap();
    assert!(up_to >= 20);
    check_agreement(&net, &[0, 1, 2, 3], up_to);
    // Every validator proposed (round-robin), so blocks come from all four.
    let chain = net.chains[0].lock().unwrap();
    for i in 0..4 {
        assert!(
            chain
                .values()
                .any(|(b, _)| String::from_utf8_lossy(b).contains(&format!("/v{i}/"))),
            "no block proposed by v{i}"
        );
    }
    // Certificates carry precommits of at least 3 of the 4 validators.
    assert!(chain.values().all(|(_, c)| c.signatures.len() >= 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_validator_then_restart_from_wal_catches_up() {
    init_logs();
    let _serial = SERIAL.lock().await;
    let net = Net::new(4, 3);
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for i in 0..4 {
        nodes.push(Some(net.start(i, &format!("fault{i}")).await));
    }
    for node in nodes.iter().flatten() {
        node.wait_for_height(5, Duration::from_secs(60))
            .await
            .unwrap();
    }

    // Stop validator 3: the other three (3 of 4 > 2/3) keep deciding.
    nodes[3].take().unwrap().stop().await;
    let stopped_at = net.last(3);
    let target = net.last(0) + 12;
    let gap = watch_gaps(&net, 0, target, Duration::from_secs(90)).await;
    for node in nodes.iter().flatten() {
        node.wait_for_height(target, Duration::from_secs(30))
            .await
            .unwrap();
    }
    eprintln!(
        "validator 3 stopped at height {stopped_at}; the others reached {target}, \
         longest gap between blocks {gap:?}"
    );
    assert!(net.last(3) == stopped_at, "a stopped node committed");
    assert!(
        Path::new(&net.wal_dir(3)).join("consensus.wal").exists(),
        "no WAL written"
    );

    // Restart it from its WAL and its store: it catches up through value sync.
    let restarted_at = Instant::now();
    nodes[3] = Some(net.start(3, "fault3-restarted").await);
    let goal = net.last(0) + 3;
    nodes[3]
        .as_ref()
        .unwrap()
        .wait_for_height(goal, Duration::from_secs(90))
        .await
        .unwrap();
    let status = nodes[3].as_ref().unwrap().status();
    eprintln!(
        "validator 3 restarted at height {stopped_at}, reached {goal} after {:?} \
         ({} heights from value sync)",
        restarted_at.elapsed(),
        status.synced
    );
    assert!(
        status.synced > 0,
        "the restarted node did not use value sync"
    );
    for node in nodes.into_iter().flatten() {
        node.stop().await;
    }
    let up_to = (0..4).map(|i| net.last(i)).min().unwrap();
    check_agreement(&net, &[0, 1, 2, 3], up_to);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_four_stopped_halts_then_resumes_without_fork() {
    init_logs();
    let _serial = SERIAL.lock().await;
    let net = Net::new(4, 4);
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for i in 0..4 {
        nodes.push(Some(net.start(i, &format!("halt{i}")).await));
    }
    for node in nodes.iter().flatten() {
        node.wait_for_height(4, Duration::from_secs(60))
            .await
            .unwrap();
    }
    // Stop two: the remaining half has no quorum, so nothing more is committed.
    nodes[2].take().unwrap().stop().await;
    nodes[3].take().unwrap().stop().await;
    // A height in flight may still complete; after that the chain must stand still.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let halted = [net.last(0), net.last(1)];
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        [net.last(0), net.last(1)],
        halted,
        "blocks committed without a quorum"
    );
    eprintln!("two of four stopped: halted at {halted:?}");

    // Restart both from their WALs: the chain resumes, every node agrees.
    let resumed = Instant::now();
    nodes[2] = Some(net.start(2, "halt2-restarted").await);
    nodes[3] = Some(net.start(3, "halt3-restarted").await);
    let goal = halted[0].max(halted[1]) + 5;
    for node in nodes.iter().flatten() {
        node.wait_for_height(goal, Duration::from_secs(90))
            .await
            .unwrap();
    }
    eprintln!(
        "restarted the two: all four at {goal} after {:?}",
        resumed.elapsed()
    );
    for node in nodes.into_iter().flatten() {
        node.stop().await;
    }
    let up_to = (0..4).map(|i| net.last(i)).min().unwrap();
    check_agreement(&net, &[0, 1, 2, 3], up_to);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_restarts_lose_nothing_and_never_fork() {
    init_logs();
    let _serial = SERIAL.lock().await;
    let net = Net::new(4, 5);
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for i in 0..4 {
        nodes.push(Some(net.start(i, &format!("cycle{i}")).await));
    }
    nodes[0]
        .as_ref()
        .unwrap()
        .wait_for_height(2, Duration::from_secs(60))
        .await
        .unwrap();
    // Stop and restart a validator at varying points of a height, several times, each
    // time a different one, so that the WALs replay prevotes, precommits and proposals.
    for cycle in 0..6u64 {
        let victim = (cycle % 4) as usize;
        let delay = Duration::from_millis(70 * cycle + 30);
        tokio::time::sleep(delay).await;
        let before = net.last(victim);
        nodes[victim].take().unwrap().stop().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        nodes[victim] = Some(net.start(victim, &format!("cycle{victim}-r{cycle}")).await);
        assert!(
            net.last(victim) >= before,
            "a restart lost a committed block"
        );
        let goal = (0..4).map(|i| net.last(i)).max().unwrap() + 2;
        for node in nodes.iter().flatten() {
            node.wait_for_height(goal, Duration::from_secs(90))
                .await
                .unwrap();
        }
    }
    for node in nodes.into_iter().flatten() {
        node.stop().await;
    }
    let up_to = (0..4).map(|i| net.last(i)).min().unwrap();
    eprintln!("six restarts: all four agree up to {up_to}");
    check_agreement(&net, &[0, 1, 2, 3], up_to);
}

/// Malachite issue #1434: a WAL cut mid-write could hang consensus. With two of four
/// validators stopped the chain stalls, and the live ones' WALs fill with votes of the
/// stalled height. Stop one of them too, damage the tail of its WAL (cut inside the last
/// entry; then, the second time, trailing garbage), and restart all three: the WAL is
/// replayed up to the damage and the chain resumes without a fork.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_wal_tail_does_not_hang_a_restart() {
    init_logs();
    let _serial = SERIAL.lock().await;
    let net = Net::new(4, 6);
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for i in 0..4 {
        nodes.push(Some(net.start(i, &format!("wal{i}")).await));
    }
    for node in nodes.iter().flatten() {
        node.wait_for_height(3, Duration::from_secs(60))
            .await
            .unwrap();
    }
    let wal = net.wal_dir(1).join("consensus.wal");
    for (cycle, damage) in ["cut", "garbage"].iter().enumerate() {
        nodes[2].take().unwrap().stop().await;
        nodes[3].take().unwrap().stop().await;
        // Let the stalled height collect rounds of votes in the live nodes' WALs.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let stalled = net.last(0).max(net.last(1));
        nodes[1].take().unwrap().stop().await;
        let len = std::fs::metadata(&wal).unwrap().len();
        assert!(len > 100, "no votes in the WAL of the stalled height");
        match *damage {
            "cut" => {
                let file = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
                file.set_len(len - 5).unwrap();
            }
            _ => {
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new().append(true).open(&wal).unwrap();
                file.write_all(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x10, 0x00, 0x42])
                    .unwrap();
            }
        }
        eprintln!("cycle {cycle}: stalled after {stalled}, WAL of {len} bytes, {damage}");
        for (i, node) in nodes.iter_mut().enumerate().skip(1) {
            *node = Some(net.start(i, &format!("wal{i}-r{cycle}")).await);
        }
        let goal = stalled + 3;
        for node in nodes.iter().flatten() {
            node.wait_for_height(goal, Duration::from_secs(60))
                .await
                .unwrap();
        }
    }
    for node in nodes.into_iter().flatten() {
        node.stop().await;
    }
    let up_to = (0..4).map(|i| net.last(i)).min().unwrap();
    eprintln!("damaged WAL twice: all four agree up to {up_to}");
    check_agreement(&net, &[0, 1, 2, 3], up_to);
}

/// A failed commit (the store refused the write) restarts the height; the node commits it
/// later and stays in agreement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_restarts_the_height() {
    init_logs();
    let _serial = SERIAL.lock().await;
    let net = Net::new(4, 7);
    let fail = Arc::new(Mutex::new(vec![3, 5, 6]));
    let mut nodes = Vec::new();
    for i in 0..4 {
        let f = if i == 1 { fail.clone() } else { Arc::default() };
        nodes.push(net.start_with(i, &format!("fail{i}"), f).await);
    }
    for node in &nodes {
        node.wait_for_height(10, Duration::from_secs(60))
            .await
            .unwrap();
    }
    assert!(
        fail.lock().unwrap().is_empty(),
        "the failures were not exercised"
    );
    for node in nodes {
        node.stop().await;
    }
    let up_to = (0..4).map(|i| net.last(i)).min().unwrap();
    check_agreement(&net, &[0, 1, 2, 3], up_to);
}
