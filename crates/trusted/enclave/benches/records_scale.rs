//! The enclave's records at scale: a records tree filled with 1k, 100k and 1M senders
//! (the per-sender replay guard, the record that grows with accounts), then blocks that
//! each change 100 of them (50 picked at random over all, so mostly cold, and 50 new).
//! Per size: the block's record work (reads, writes and the checkpoint's commit), the
//! nodes and bytes the checkpoint hands the host, the sealed records root, and the
//! process's RSS (the host's in-memory node map is in it; its bytes are given beside).
//!
//! `cargo bench -p veil-enclave --bench records_scale` (release). `VEIL_RECORDS_SIZES`
//! (default `1000,100000,1000000`) and `VEIL_RECORDS_BLOCKS` (default 30) change the run.
//! Before the records tree, the enclave resealed every record at every checkpoint: the
//! "old" columns time that in the same run (postcard-encode every sender's record and seal
//! it, as `SealedState` did) and give its size. Each size runs in a child process of this
//! binary, so one size's memory does not count in the next; RSS is the whole process's
//! (the host's node map, given beside, is in it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use veil_enclave::records::{Records, RecordsRoot};
use veil_enclave::OcallChannel;
use veil_enclave_abi::{decode, encode, Hash, Ocall, OcallResponse};

// The allocator the `veil-enclave` executable uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// New senders recorded per fill checkpoint.
const FILL_BATCH: u64 = 10_000;
const CHANGES_PER_BLOCK: u64 = 100;
const WARMUP_BLOCKS: usize = 3;

/// The host's node store, in memory.
#[derive(Default)]
struct Host {
    nodes: Mutex<HashMap<Hash, Vec<u8>>>,
}

impl OcallChannel for Host {
    fn ocall(&self, request: Vec<u8>) -> Result<Vec<u8>, String> {
        match decode::<Ocall>(&request).map_err(|e| e.to_string())? {
            Ocall::FetchNode { id, .. } => Ok(encode(&OcallResponse::Node(
                self.nodes.lock().unwrap().get(&id).cloned(),
            ))),
            other => Err(format!("unexpected ocall {other:?}")),
        }
    }
}

impl Host {
    fn keep(&self, update: veil_enclave_abi::StateUpdate) -> (usize, usize) {
        let mut nodes = self.nodes.lock().unwrap();
        let (count, bytes) = (
            update.new_nodes.len(),
            update.new_nodes.iter().map(|(_, b)| b.len()).sum(),
        );
        for (id, blob) in update.new_nodes {
            nodes.insert(id, blob);
        }
        for id in update.released_nodes {
            nodes.remove(&id);
        }
        (count, bytes)
    }

    fn bytes(&self) -> usize {
        self.nodes.lock().unwrap().values().map(Vec::len).sum()
    }
}

fn sender(i: u64) -> String {
    // A 43-character bech32-like address, as Veil's are.
    let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(
        i.to_be_bytes(),
    ));
    let mut text = format!("veil1{}", hex::encode(digest));
    text.truncate(43);
    text
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A small deterministic generator (xorshift): the same senders every run.
struct Picks(u64);
impl Picks {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn main() {
    if let Some(size) = std::env::args()
        .nth(1)
        .and_then(|a| a.strip_prefix("--size=").map(str::to_string))
    {
        run_size(size.parse().expect("--size=N"));
        return;
    }
    let sizes: Vec<u64> = std::env::var("VEIL_RECORDS_SIZES")
        .unwrap_or_else(|_| "1000,100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!(
        "| senders | block (100 changes + checkpoint), median | p90 | nodes written | bytes written | sealed root | RSS after fill | RSS at end | host node bytes | old: reseal per block | old: sealed size |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for size in sizes {
        let exe = std::env::current_exe().expect("this bench");
        let status = std::process::Command::new(exe)
            .arg(format!("--size={size}"))
            .status()
            .expect("runs a size");
        assert!(status.success(), "size {size} failed");
    }
}

fn run_size(size: u64) {
    let blocks = std::env::var("VEIL_RECORDS_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize);
    let host = Arc::new(Host::default());
    let records = Records::open(host.clone(), [7; 32], [9; 32], RecordsRoot::default());
    let fill = Instant::now();
    let mut filled = 0;
    while filled < size {
        let end = (filled + FILL_BATCH).min(size);
        for i in filled..end {
            records.set_next_sequence(&sender(i), 1).expect("fill");
        }
        let (_, update) = records.checkpoint().expect("fill checkpoint");
        host.keep(update);
        filled = end;
    }
    eprintln!(
        "records_scale: {size} senders filled in {:.1} s",
        fill.elapsed().as_secs_f64()
    );
    let rss_filled = rss_mib();
    let mut picks = Picks(0x9e37_79b9_7f4a_7c15 ^ size);
    let mut next_new = size;
    let (mut times, mut written) = (Vec::new(), Vec::new());
    for block in 0..WARMUP_BLOCKS + blocks {
        let start = Instant::now();
        for _ in 0..CHANGES_PER_BLOCK / 2 {
            let who = sender(picks.next(next_new));
            let next = records.next_sequence(&who).expect("read");
            records.set_next_sequence(&who, next + 1).expect("write");
        }
        for _ in 0..CHANGES_PER_BLOCK / 2 {
            let who = sender(next_new);
            next_new += 1;
            assert_eq!(records.next_sequence(&who).expect("read"), 0);
            records.set_next_sequence(&who, 1).expect("write");
        }
        let (_, update) = records.checkpoint().expect("checkpoint");
        let elapsed = start.elapsed();
        let kept = host.keep(update);
        if block >= WARMUP_BLOCKS {
            times.push(elapsed);
            written.push(kept);
        }
    }
    let sealed = postcard::to_stdvec(&records.committed())
        .expect("encodes")
        .len();
    let nodes = written.iter().map(|w| w.0).sum::<usize>() / written.len();
    let bytes = written.iter().map(|w| w.1).sum::<usize>() / written.len();
    let mut sorted = times.clone();
    sorted.sort();
    let p90 = sorted[sorted.len() * 9 / 10];
    let rss = rss_mib();
    let (old_reseal, old_size) = old_reseal(next_new);
    println!(
        "| {size} | {:.2} ms | {:.2} ms | {nodes} | {:.1} KiB | {sealed} B | {rss_filled:.0} MiB | {rss:.0} MiB | {:.0} MiB | {:.1} ms | {:.1} MiB |",
        median(times).as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3,
        bytes as f64 / 1024.0,
        host.bytes() as f64 / (1024.0 * 1024.0),
        old_reseal.as_secs_f64() * 1e3,
        old_size as f64 / (1024.0 * 1024.0),
    );
}

/// What a checkpoint cost before the records tree: every sender's record encoded and
/// sealed (AES-256-GCM-SIV, as `SealedState` was) — median of 5 — and the sealed size.
fn old_reseal(senders: u64) -> (Duration, usize) {
    use veil_crypto::{OsRng, Sealer, SimulatedSealer};
    let all: Vec<(String, u64)> = (0..senders).map(|i| (sender(i), 1)).collect();
    let sealer = SimulatedSealer::new(&[5; 32]).expect("a machine secret");
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let plain = postcard::to_stdvec(&all).expect("encodes");
        size = sealer
            .seal(b"veil/sealed-state-v2", &plain, &mut OsRng)
            .len();
        times.push(start.elapsed());
    }
    (median(times), size)
}
