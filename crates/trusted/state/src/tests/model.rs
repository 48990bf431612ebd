//! Randomized model test: the verified tree against a `BTreeMap` (and the engine's
//! reference `MemoryStorage` for every `next_in_range` question).

use std::collections::BTreeMap;

use veil_engine::{KeyRange, MemoryStorage, Order, Storage};

use super::*;
use crate::bucket_size;
use crate::TAG_LEN;

struct Gen {
    rng: Rng,
}

impl Gen {
    /// A key: often one already in use, a prefix or an extension of one, the empty key,
    /// short binary keys heavy in 0x00/0xff, rarely a big one (up to 64 KiB).
    fn key(&mut self, model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
        let r = &mut self.rng;
        let existing = |r: &mut Rng| -> Option<Vec<u8>> {
            if model.is_empty() {
                return None;
            }
            // Pick near a random key (BTreeMap has no random access; seek a random key).
            let probe = r.bytes(3);
            model
                .range(probe..)
                .next()
                .or_else(|| model.iter().next())
                .map(|(k, _)| k.clone())
        };
        match r.below(100) {
            0..=3 => Vec::new(),
            4..=33 => existing(r).unwrap_or_default(),
            34..=43 => {
                let mut k = existing(r).unwrap_or_default();
                for _ in 0..1 + r.below(3) {
                    k.push([0x00, 0xff, b'a', r.next() as u8][r.below(4)]);
                }
                k
            }
            44..=50 => {
                let mut k = existing(r).unwrap_or_default();
                let n = r.below(k.len() + 1);
                k.truncate(n);
                k
            }
            51 if r.chance(30) => {
                let n = 1024 + r.below(64 * 1024 - 1024 + 1);
                let mut k = r.bytes(n);
                k[0] = r.next() as u8;
                k
            }
            _ => {
                let n = r.below(12);
                (0..n)
                    .map(|_| [0x00, 0xff, 0x01, 0xfe, b'a', b'b', r.next() as u8][r.below(7)])
                    .collect()
            }
        }
    }

    /// A value: mostly small, some up to 20 KiB, a few up to 128 KiB.
    fn value(&mut self) -> Vec<u8> {
        let r = &mut self.rng;
        let n = match r.below(1000) {
            0..=599 => r.below(65),
            600..=959 => 64 + r.below(2048 - 64),
            960..=994 => 2048 + r.below(20 * 1024 - 2048 + 1),
            _ => 20 * 1024 + r.below(128 * 1024 - 20 * 1024 + 1),
        };
        r.bytes(n)
    }

    fn bound(&mut self, model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Option<Vec<u8>> {
        if self.rng.chance(20) {
            None
        } else {
            Some(self.key(model))
        }
    }

    fn order(&mut self) -> Order {
        if self.rng.chance(50) {
            Order::Ascending
        } else {
            Order::Descending
        }
    }
}

/// Compares one `next_in_range` answer (random range, order and `after`, which may lie
/// outside the range) and one bounded scan with the reference implementation.
fn compare_ranges(g: &mut Gen, st: &dyn Storage, reference: &MemoryStorage) {
    let model = &reference.entries;
    let range = KeyRange {
        start: g.bound(model),
        end: g.bound(model),
    };
    let order = g.order();
    let after = if g.rng.chance(50) {
        None
    } else {
        Some(g.key(model))
    };
    assert_eq!(
        st.next_in_range(&range, order, after.as_deref()).unwrap(),
        reference
            .next_in_range(&range, order, after.as_deref())
            .unwrap(),
        "single step {range:?} {order:?} after={after:?}"
    );
    assert_eq!(
        scan(st, &range, order).unwrap(),
        scan(reference, &range, order).unwrap(),
        "scan {range:?} {order:?}"
    );
}

fn check_blob_sizes(commit: &Commit) {
    let mut prev: Option<NodeId> = None;
    for (id, blob) in &commit.new_nodes {
        assert_eq!(*id, NodeId::of(blob));
        assert!(prev.is_none_or(|p| p < *id), "new nodes not sorted by id");
        prev = Some(*id);
        let padded = blob.len() - TAG_LEN;
        assert_eq!(bucket_size(padded), padded, "blob of {} B", blob.len());
    }
}

struct Config {
    seed: u64,
    commits: usize,
    max_ops: usize,
    /// Small entries written before the first round (a taller tree from the start).
    preload: usize,
    /// Full comparison (whole-tree scans both ways, shape check) every this many commits;
    /// the other commits compare the keys just written and short scans around them.
    full_every: usize,
    /// Rebuild from scratch and compare roots every this many commits (and at the end).
    rebuild_every: usize,
}

/// Up to `limit` steps of a scan, stepping like the engine.
fn scan_some(
    s: &dyn Storage,
    range: &KeyRange,
    order: Order,
    limit: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = vec![];
    let mut after: Option<Vec<u8>> = None;
    while out.len() < limit {
        let Some((k, v)) = s.next_in_range(range, order, after.as_deref()).unwrap() else {
            break;
        };
        after = Some(k.clone());
        out.push((k, v));
    }
    out
}

/// Short scans both ways from `key`, compared with the reference.
fn compare_around(st: &dyn Storage, reference: &MemoryStorage, key: &[u8]) {
    for (range, order) in [
        (
            KeyRange {
                start: Some(key.to_vec()),
                end: None,
            },
            Order::Ascending,
        ),
        (
            KeyRange {
                start: None,
                end: Some(key.to_vec()),
            },
            Order::Descending,
        ),
    ] {
        assert_eq!(
            scan_some(st, &range, order, 8),
            scan_some(reference, &range, order, 8),
            "{range:?} {order:?}"
        );
    }
}

fn run_model(cfg: Config) {
    let mut g = Gen {
        rng: Rng::new(cfg.seed),
    };
    let host = Host::default();
    // The engine's reference storage is the model.
    let mut model = MemoryStorage::new();
    for i in 0..cfg.preload {
        let n = g.rng.below(60);
        model
            .set(&(i as u64 * 0x9e37_79b9).to_be_bytes(), &g.rng.bytes(n))
            .unwrap();
    }
    let mut root = build(&host, &model.entries);
    let mut total_ops = 0;
    for round in 0..cfg.commits {
        let full_check = round % cfg.full_every == cfg.full_every - 1 || round + 1 == cfg.commits;
        let mut st = VerifiedState::open(host.clone(), cipher(), root);
        let mut pending = model.clone();
        let mut written = vec![];
        let ops = 1 + g.rng.below(cfg.max_ops);
        for _ in 0..ops {
            match g.rng.below(100) {
                0..=59 => {
                    let (k, v) = (g.key(&pending.entries), g.value());
                    st.set(&k, &v).unwrap();
                    pending.set(&k, &v).unwrap();
                    written.push(k);
                }
                60..=84 => {
                    let k = g.key(&pending.entries);
                    st.remove(&k).unwrap();
                    pending.remove(&k).unwrap();
                    written.push(k);
                }
                85..=96 => {
                    let k = g.key(&pending.entries);
                    assert_eq!(st.get(&k).unwrap(), pending.get(&k).unwrap());
                }
                _ => compare_ranges(&mut g, &st, &pending),
            }
        }
        total_ops += ops;
        // Reads during the call see the overlay merged over the tree.
        for k in written.iter().take(20) {
            compare_around(&st, &pending, k);
        }
        if full_check {
            assert!(scan(&st, &full(), Order::Ascending)
                .unwrap()
                .into_iter()
                .eq(pending.entries.clone()));
        }
        if g.rng.chance(10) {
            drop(st); // the call failed: its writes are discarded
            continue;
        }
        let c = st.commit().unwrap();
        check_blob_sizes(&c);
        store_and_release(&host, &c);
        root = c.root;
        model = pending;
        // The host keeps exactly the nodes the root uses: none leaked, none lost.
        let kept: std::collections::HashSet<NodeId> =
            host.read().unwrap().keys().copied().collect();
        assert_eq!(kept, reachable(&host, root), "round {round}");

        // A fresh call on the new root.
        let st = VerifiedState::open(host.clone(), cipher(), root);
        for k in &written {
            assert_eq!(st.get(k).unwrap(), model.get(k).unwrap(), "round {round}");
        }
        for k in written.iter().take(20) {
            compare_around(&st, &model, k);
        }
        for _ in 0..20 {
            let k = g.key(&model.entries);
            assert_eq!(st.get(&k).unwrap(), model.get(&k).unwrap());
        }
        if full_check {
            let asc = scan(&st, &full(), Order::Ascending).unwrap();
            assert!(
                asc.iter().map(|(k, v)| (k, v)).eq(model.entries.iter()),
                "round {round}"
            );
            let mut desc = scan(&st, &full(), Order::Descending).unwrap();
            desc.reverse();
            assert_eq!(asc, desc);
            for _ in 0..4 {
                compare_ranges(&mut g, &st, &model);
            }
            assert_eq!(check_tree(&st, root), model.entries, "round {round}");
        }
        // History independence: a rebuild from scratch gives the same root.
        if round % cfg.rebuild_every == cfg.rebuild_every - 1 || round + 1 == cfg.commits {
            assert_eq!(
                build(&Host::default(), &model.entries),
                root,
                "round {round}"
            );
        }
    }
    let bytes: usize = model.entries.iter().map(|(k, v)| k.len() + v.len()).sum();
    let height = root.map_or(0, |r| {
        VerifiedState::open(host.clone(), cipher(), Some(r))
            .load(&r, None)
            .unwrap()
            .level
            + 1
    });
    eprintln!(
        "seed {}: {total_ops} operations in {} calls, {} entries, {bytes} B, height {height}, \
         {} blobs stored",
        cfg.seed,
        cfg.commits,
        model.entries.len(),
        host.read().unwrap().len()
    );
}

#[test]
fn random_operations_match_a_btreemap() {
    // ~2000 operations in 20 calls; keys collide often, values up to 128 KiB; every
    // commit is compared in full.
    run_model(Config {
        seed: 1,
        commits: 20,
        max_ops: 200,
        preload: 0,
        full_every: 1,
        rebuild_every: 10,
    });
}

#[test]
fn random_operations_small_commits() {
    // Many calls of a few operations each on a tree of height 3: commits touch few
    // nodes, and stretches of re-chunking start and stop everywhere.
    run_model(Config {
        seed: 2,
        commits: 200,
        max_ops: 8,
        preload: 6000,
        full_every: 25,
        rebuild_every: 25,
    });
}

/// More seeds (`VEIL_STATE_SOAK` multiplies them).
#[test]
fn random_operations_more_seeds() {
    for seed in 3..3 + 3 * soak() as u64 {
        run_model(Config {
            seed,
            commits: 10,
            max_ops: 250,
            preload: 500 * (seed as usize % 4),
            full_every: 2,
            rebuild_every: 5,
        });
    }
}
