//! Public state at scale: a store filled with 1k, 100k and 1M accounts (and 10,000
//! contracts at the largest size), then blocks that each change ~100 accounts (50
//! transfers between accounts picked at random over the whole chain, so their records and
//! tree paths are mostly cold). Per size: the block's commit time — the state root
//! (`ChainState::prepare_commit`) and the store's durable write (`Store::commit_block`,
//! fsync) — the node's RSS after the blocks (a fresh process that opened the store, as a
//! restarted node does), and the store's size on disk. For comparison, in the same run,
//! the state root as it was computed before the state tree (every record rehashed each
//! block, all of them in memory) and that process's RSS.
//!
//! `cargo bench -p veil-node --bench state_scale` (release). `VEIL_STATE_SIZES`
//! (default `1000,100000,1000000`) and `VEIL_STATE_BLOCKS` (default 30) change the run;
//! the stores live under `$CARGO_TARGET_DIR/state-scale` (or the system's temp dir) and are
//! deleted after each size. Each size runs in child processes of this binary, so one
//! size's memory does not count in the next. The store is compacted after the fill (its
//! few huge fill transactions leave the file mostly free pages) and measured that way; the
//! report gives its size before and after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use veil_node::state::ChainState;
use veil_node::store::{BlockCommit, Store};
use veil_types::{Account, Block, BlockHeader, ContractInfo, QueryPolicy};

/// Accounts written per fill block.
const FILL_BATCH: u64 = 100_000;
/// Transfers per measured block (each changes two accounts).
const TRANSFERS_PER_BLOCK: usize = 50;
const WARMUP_BLOCKS: usize = 3;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn address(prefix: &str, i: u64, chars: usize) -> String {
    let digest = Sha256::digest(i.to_be_bytes());
    let mut text = format!("veil1{prefix}{}", hex::encode(digest));
    text.truncate(chars);
    text
}

/// Account `i` as the fill writes it (an account that has sent: it has a public key).
fn account(i: u64) -> Account {
    Account {
        address: address("", i, 43),
        balance: 1_000_000 + u128::from(i),
        sequence: i % 7,
        public_key: Some(vec![2; 33]),
    }
}

fn contract(i: u64) -> ContractInfo {
    ContractInfo {
        address: address("c", i, 63),
        code_id: 1 + i % 3,
        code_hash: [3; 32],
        init_code_hash: [3; 32],
        creator: address("", i, 43),
        admin: None,
        label: format!("token {i}"),
        state_root: Some(Sha256::digest(i.to_le_bytes()).into()),
        query_policy: QueryPolicy::preset("cw20").expect("a preset"),
    }
}

fn contracts_at(accounts: u64) -> u64 {
    if accounts >= 1_000_000 {
        10_000
    } else {
        0
    }
}

fn block(height: u64, app_hash: [u8; 32]) -> Block {
    Block {
        header: BlockHeader {
            chain_id: "state-scale".into(),
            height,
            time_nanos: height + 1,
            prev_block_hash: [0; 32],
            txs_hash: [0; 32],
            app_hash,
        },
        tx_hashes: Vec::new(),
    }
}

/// Commits the state's changes as the next block; returns (root time, write time).
fn commit(store: &Store, state: &mut ChainState, height: u64) -> (Duration, Duration) {
    let started = Instant::now();
    let changes = state.prepare_commit().expect("the state root");
    let rooted = started.elapsed();
    let commit = BlockCommit::state_only(block(height, changes.root), changes);
    if height == 0 {
        let genesis: veil_node::Genesis = serde_json::from_value(json!({
            "chain_id": "state-scale", "genesis_time_nanos": 0, "accounts": []
        }))
        .expect("a genesis");
        store.init_chain(&genesis, commit).expect("genesis commits");
    } else {
        store.commit_block(commit).expect("the block commits");
    }
    state.committed();
    (rooted, started.elapsed() - rooted)
}

/// `VmRSS` and `VmHWM` of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn fill(dir: &Path, accounts: u64, contracts: u64) -> Value {
    let started = Instant::now();
    let store = Store::open(&dir.join("chain.redb")).expect("the store opens");
    let mut state = ChainState::open(&store).expect("the state opens");
    state.set_attestation_policy(veil_types::AttestationPolicyRecord {
        policy: None,
        height: 0,
        set_by: None,
    });
    for i in 0..contracts {
        state.put_contract(contract(i));
    }
    let mut height = 0;
    let mut next = 0;
    while next < accounts {
        let end = (next + FILL_BATCH).min(accounts);
        for i in next..end {
            state.set_account(account(i));
        }
        commit(&store, &mut state, height);
        height += 1;
        next = end;
    }
    let fill_seconds = started.elapsed().as_secs_f64();
    // The fill's few huge transactions leave most of the file as free pages (redb never
    // shrinks a file by itself); a store grown block by block does not. Compacted, the
    // store is what the chain holds.
    drop(state);
    drop(store);
    let path = dir.join("chain.redb");
    let filled_mib = dir_size(dir) as f64 / (1 << 20) as f64;
    let mut db = redb::Database::create(&path).expect("the store reopens");
    while db.compact().expect("compaction") {}
    drop(db);
    json!({
        "height": height,
        "fill_seconds": fill_seconds,
        "filled_mib": filled_mib,
        "compacted_mib": dir_size(dir) as f64 / (1 << 20) as f64,
    })
}

/// A deterministic xorshift, so every run picks the same accounts.
struct Picker(u64);

impl Picker {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn measure(dir: &Path, accounts: u64, first_height: u64, blocks: usize) -> Value {
    let store = Store::open(&dir.join("chain.redb")).expect("the store opens");
    let mut state = ChainState::open(&store).expect("the state opens");
    let mut picker = Picker(0x9e37_79b9_7f4a_7c15 ^ accounts);
    let (mut roots, mut writes, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for (n, height) in (0..WARMUP_BLOCKS + blocks).zip(first_height..) {
        let started = Instant::now();
        for _ in 0..TRANSFERS_PER_BLOCK {
            let from = account(picker.next(accounts)).address;
            let to = account(picker.next(accounts)).address;
            state.transfer(&from, &to, 1).expect("funded");
        }
        let executed = started.elapsed();
        let (root, write) = commit(&store, &mut state, height);
        if n >= WARMUP_BLOCKS {
            roots.push(root.as_secs_f64() * 1e3);
            writes.push(write.as_secs_f64() * 1e3);
            totals.push((executed + root + write).as_secs_f64() * 1e3);
        }
    }
    let (rss, peak) = memory();
    let commit_ms = median(&mut totals);
    let commit_p90_ms = totals[totals.len() * 9 / 10];
    json!({
        "root_ms": median(&mut roots),
        "write_ms": median(&mut writes),
        "commit_ms": commit_ms,
        "commit_p90_ms": commit_p90_ms,
        "rss_mib": rss,
        "peak_rss_mib": peak,
    })
}

/// The state root before the state tree (`veil/app-hash-v1`): every record, in key order,
/// rehashed each block; and the memory of holding them all, as the node did.
fn old_full_rehash(accounts: u64, contracts: u64) -> Value {
    let all_accounts: BTreeMap<String, Account> = (0..accounts)
        .map(account)
        .map(|a| (a.address.clone(), a))
        .collect();
    let all_contracts: BTreeMap<String, ContractInfo> = (0..contracts)
        .map(contract)
        .map(|c| (c.address.clone(), c))
        .collect();
    let (rss, _) = memory();
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut hasher = Sha256::new();
        hasher.update(b"veil/app-hash-v1");
        fn section<'a, T: serde::Serialize + 'a>(
            hasher: &mut Sha256,
            tag: &[u8],
            items: impl ExactSizeIterator<Item = &'a T>,
        ) {
            hasher.update(tag);
            hasher.update((items.len() as u64).to_be_bytes());
            for item in items {
                let bytes = postcard::to_stdvec(item).expect("serializable");
                hasher.update((bytes.len() as u32).to_be_bytes());
                hasher.update(&bytes);
            }
        }
        section(&mut hasher, b"accounts", all_accounts.values());
        section(&mut hasher, b"contracts", all_contracts.values());
        std::hint::black_box(hasher.finalize());
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    json!({ "old_root_ms": median(&mut times), "old_rss_mib": rss })
}

fn child(mode: &str, dir: &Path, accounts: u64, extra: &[(&str, String)]) -> Value {
    let mut command = Command::new(std::env::current_exe().expect("this binary"));
    command
        .env("VEIL_STATE_CHILD", mode)
        .env("VEIL_STATE_DIR", dir)
        .env("VEIL_STATE_ACCOUNTS", accounts.to_string());
    for (name, value) in extra {
        command.env(name, value);
    }
    let output = command.output().expect("the child runs");
    assert!(
        output.status.success(),
        "{mode} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the child reports JSON")
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    if let Ok(mode) = std::env::var("VEIL_STATE_CHILD") {
        let dir = PathBuf::from(std::env::var("VEIL_STATE_DIR").expect("a directory"));
        let accounts = env_number("VEIL_STATE_ACCOUNTS", 1000);
        let contracts = contracts_at(accounts);
        let report = match mode.as_str() {
            "fill" => fill(&dir, accounts, contracts),
            "measure" => measure(
                &dir,
                accounts,
                env_number("VEIL_STATE_HEIGHT", 1),
                env_number("VEIL_STATE_BLOCKS", 30) as usize,
            ),
            "old" => old_full_rehash(accounts, contracts),
            other => panic!("unknown mode {other}"),
        };
        println!("{report}");
        return;
    }
    // `cargo bench` passes `--bench`; nothing else is taken.
    let sizes: Vec<u64> = std::env::var("VEIL_STATE_SIZES")
        .unwrap_or_else(|_| "1000,100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("state-scale");
    std::fs::create_dir_all(&base).expect("a work directory");
    println!(
        "| accounts | contracts | commit (median / p90) | state root | store write | node RSS (peak) | store on disk | old full rehash | old RSS |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut reports = Vec::new();
    for accounts in sizes {
        let dir = tempfile::tempdir_in(&base).expect("a store directory");
        let filled = child("fill", dir.path(), accounts, &[]);
        let height = filled["height"].as_u64().expect("a height");
        let measured = child(
            "measure",
            dir.path(),
            accounts,
            &[("VEIL_STATE_HEIGHT", height.to_string())],
        );
        let disk = dir_size(dir.path()) as f64 / (1 << 20) as f64;
        let old = child("old", dir.path(), accounts, &[]);
        println!(
            "| {accounts} | {} | {:.2} / {:.2} ms | {:.2} ms | {:.2} ms | {:.0} MiB ({:.0}) | {:.0} MiB | {:.1} ms | {:.0} MiB |",
            contracts_at(accounts),
            measured["commit_ms"].as_f64().unwrap_or(0.0),
            measured["commit_p90_ms"].as_f64().unwrap_or(0.0),
            measured["root_ms"].as_f64().unwrap_or(0.0),
            measured["write_ms"].as_f64().unwrap_or(0.0),
            measured["rss_mib"].as_f64().unwrap_or(0.0),
            measured["peak_rss_mib"].as_f64().unwrap_or(0.0),
            disk,
            old["old_root_ms"].as_f64().unwrap_or(0.0),
            old["old_rss_mib"].as_f64().unwrap_or(0.0),
        );
        reports.push(json!({
            "accounts": accounts,
            "contracts": contracts_at(accounts),
            "fill": filled,
            "measured": measured,
            "store_mib": disk,
            "old": old,
        }));
    }
    let report = serde_json::to_string_pretty(&reports).expect("JSON");
    let _ = std::fs::write(base.join("state-scale-report.json"), &report);
    println!("{report}");
}
