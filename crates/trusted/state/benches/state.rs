//! Cost of verified state operations on a tree of 10k entries (100-byte values).
//!
//! `cargo bench -p veil-state` (add `-- --quick` for a short run). The host is an
//! in-memory map whose `fetch` copies the blob out, as an ocall would.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use veil_engine::{KeyRange, Order, Storage};
use veil_state::{NodeCipher, NodeId, VerifiedState};

type Host = Arc<HashMap<NodeId, Vec<u8>>>;

const ENTRIES: usize = 10_000;

fn cipher() -> NodeCipher {
    NodeCipher::new([7; 32], b"veil1benchcontract")
}

fn key(i: usize) -> Vec<u8> {
    // Spread the insertion order over the key space.
    format!("balance/veil1{:012}", (i * 7919) % 1_000_003).into_bytes()
}

fn setup() -> (Host, Option<NodeId>, Vec<Vec<u8>>) {
    let mut st = VerifiedState::open(Arc::new(HashMap::new()), cipher(), None);
    let keys: Vec<Vec<u8>> = (0..ENTRIES).map(key).collect();
    for (i, k) in keys.iter().enumerate() {
        st.set(k, &[i as u8; 100]).unwrap();
    }
    let c = st.commit().unwrap();
    let host: HashMap<_, _> = c.new_nodes.into_iter().collect();
    (Arc::new(host), c.root, keys)
}

fn full() -> KeyRange {
    KeyRange {
        start: None,
        end: None,
    }
}

fn scan_all(st: &dyn Storage) -> usize {
    let mut n = 0;
    let mut after: Option<Vec<u8>> = None;
    while let Some((k, _)) = st
        .next_in_range(&full(), Order::Ascending, after.as_deref())
        .unwrap()
    {
        after = Some(k);
        n += 1;
    }
    n
}

fn benches(c: &mut Criterion) {
    let (host, root, keys) = setup();
    let height = {
        let st = VerifiedState::open(host.clone(), cipher(), root);
        st.get(&keys[0]).unwrap();
        st.fetch_count()
    };
    eprintln!(
        "tree: {ENTRIES} entries, {} nodes, height {height}",
        host.len()
    );

    let mut g = c.benchmark_group("get");
    let warm = VerifiedState::open(host.clone(), cipher(), root);
    assert_eq!(scan_all(&warm), ENTRIES); // every node cached
    let mut i = 0;
    g.bench_function("warm", |b| {
        b.iter(|| {
            i = (i + 7) % ENTRIES;
            black_box(warm.get(&keys[i]).unwrap())
        })
    });
    // Cold: a new call; the whole path is fetched, hashed, decrypted and parsed.
    g.bench_function("cold", |b| {
        b.iter_batched(
            || {
                i = (i + 7) % ENTRIES;
                (VerifiedState::open(host.clone(), cipher(), root), i)
            },
            |(st, i)| black_box(st.get(&keys[i]).unwrap()),
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("write+commit");
    for writes in [1usize, 100] {
        g.throughput(Throughput::Elements(writes as u64));
        g.bench_function(format!("{writes} writes/call"), |b| {
            b.iter_batched(
                || VerifiedState::open(host.clone(), cipher(), root),
                |mut st| {
                    for _ in 0..writes {
                        i = (i + 7) % ENTRIES;
                        st.set(&keys[i], &[0xee; 100]).unwrap();
                    }
                    black_box(st.commit().unwrap())
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.bench_function("warm step", |b| b.iter(|| black_box(scan_all(&warm))));
    g.bench_function("cold step", |b| {
        b.iter_batched(
            || VerifiedState::open(host.clone(), cipher(), root),
            |st| black_box(scan_all(&st)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(state, benches);
criterion_main!(state);
