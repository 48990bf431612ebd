//! Determinism, history independence, padding, caching and the engine's range bounds.

use std::collections::BTreeMap;

use veil_engine::{KeyRange, Order, Storage};

use super::*;
use crate::{bucket_size, TAG_LEN};

fn entries(n: usize, value_len: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
    (0..n)
        .map(|i| {
            (
                format!("key/{:06}", i * 7919 % 1_000_003).into_bytes(),
                vec![i as u8; value_len],
            )
        })
        .collect()
}

#[test]
fn same_map_same_root_whatever_the_history() {
    let target = entries(3000, 40);
    let host = Host::default();
    let one_shot = build(&host, &target);
    assert!(one_shot.is_some());

    // Reverse order, many small commits, with extra keys written and removed again and
    // values overwritten on the way.
    let host2 = Host::default();
    let mut root = None;
    let keys: Vec<_> = target.keys().rev().cloned().collect();
    for (i, chunk) in keys.chunks(97).enumerate() {
        let mut st = VerifiedState::open(host2.clone(), cipher(), root);
        for k in chunk {
            st.set(k, b"placeholder").unwrap();
            let mut extra = k.clone();
            extra.push(0);
            st.set(&extra, &[9; 300]).unwrap();
        }
        let c = st.commit().unwrap();
        store(&host2, &c);
        root = c.root;
        if i % 3 == 2 {
            // Fix up values and remove extras in a separate commit.
            let mut st = VerifiedState::open(host2.clone(), cipher(), root);
            for (k, v) in &target {
                if st.get(k).unwrap().is_some() {
                    st.set(k, v).unwrap();
                    let mut extra = k.clone();
                    extra.push(0);
                    st.remove(&extra).unwrap();
                }
            }
            let c = st.commit().unwrap();
            store(&host2, &c);
            root = c.root;
        }
    }
    let mut st = VerifiedState::open(host2.clone(), cipher(), root);
    for (k, v) in &target {
        st.set(k, v).unwrap();
        let mut extra = k.clone();
        extra.push(0);
        st.remove(&extra).unwrap();
    }
    let c = st.commit().unwrap();
    store(&host2, &c);
    assert_eq!(check_root(&host2, c.root), target);
    assert_eq!(c.root, one_shot);

    // Deleting everything but a few keys one commit at a time shrinks to the same tree
    // as building those few keys.
    let keep: BTreeMap<_, _> = target
        .iter()
        .take(5)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut root = one_shot;
    for chunk in target.keys().skip(5).collect::<Vec<_>>().chunks(500) {
        let mut st = VerifiedState::open(host.clone(), cipher(), root);
        for k in chunk {
            st.remove(k).unwrap();
        }
        let c = st.commit().unwrap();
        store(&host, &c);
        root = c.root;
    }
    assert_eq!(check_root(&host, root), keep);
    assert_eq!(root, build(&Host::default(), &keep));

    // And removing the rest empties it.
    let mut st = VerifiedState::open(host.clone(), cipher(), root);
    for k in keep.keys() {
        st.remove(k).unwrap();
    }
    let mut every_node: Vec<NodeId> = reachable(&host, root).into_iter().collect();
    every_node.sort_unstable();
    assert_eq!(
        st.commit().unwrap(),
        Commit {
            root: None,
            new_nodes: vec![],
            released: every_node,
        }
    );
}

#[test]
fn other_key_or_binding_gives_other_root() {
    let m = entries(10, 10);
    let mut roots = vec![];
    for (key, binding) in [([1u8; 32], &b"a"[..]), ([2; 32], b"a"), ([1; 32], b"b")] {
        let mut st = VerifiedState::open(Host::default(), NodeCipher::new(key, binding), None);
        for (k, v) in &m {
            st.set(k, v).unwrap();
        }
        roots.push(st.commit().unwrap().root);
    }
    assert_ne!(roots[0], roots[1]);
    assert_ne!(roots[0], roots[2]);
}

#[test]
fn writes_that_change_nothing_give_the_same_root_and_no_nodes() {
    let host = Host::default();
    let m = entries(2000, 50);
    let root = build(&host, &m);
    let mut st = VerifiedState::open(host.clone(), cipher(), root);
    for (k, v) in m.iter().step_by(37) {
        st.set(k, v).unwrap(); // same value
    }
    st.remove(b"absent").unwrap();
    st.set(b"new", b"x").unwrap();
    st.remove(b"new").unwrap();
    assert!(st.has_pending_writes());
    let c = st.commit().unwrap();
    assert_eq!(c.root, root);
    assert!(c.new_nodes.is_empty());
    assert!(c.released.is_empty(), "an unchanged tree releases nothing");

    let st = VerifiedState::open(host.clone(), cipher(), root);
    assert_eq!(
        st.commit().unwrap(),
        Commit {
            root,
            new_nodes: vec![],
            released: vec![],
        }
    );
}

#[test]
fn a_commit_rewrites_only_the_path() {
    let host = Host::default();
    let m = entries(10_000, 100);
    let root = build(&host, &m);
    let total = host.read().unwrap().len();
    let height = {
        let st = VerifiedState::open(host.clone(), cipher(), root);
        st.load(&root.unwrap(), None).unwrap().level as usize + 1
    };
    let mut st = VerifiedState::open(host.clone(), cipher(), root);
    st.set(b"key/500000", b"changed").unwrap();
    let c = st.commit().unwrap();
    assert_ne!(c.root, root);
    // One node per level, plus the occasional neighbour where a boundary moved.
    assert!(
        c.new_nodes.len() <= 2 * height,
        "{} new nodes, height {height}, {total} nodes",
        c.new_nodes.len()
    );
    assert!(height >= 3, "height {height}");
}

#[test]
fn padding_hides_value_sizes_within_a_bucket() {
    let mut sizes = vec![];
    for value_len in [1usize, 100] {
        let host = Host::default();
        let mut st = VerifiedState::open(host.clone(), cipher(), None);
        st.set(b"k", &vec![7; value_len]).unwrap();
        let c = st.commit().unwrap();
        assert_eq!(c.new_nodes.len(), 1);
        sizes.push(c.new_nodes[0].1.len());
    }
    assert_eq!(sizes, [256 + TAG_LEN, 256 + TAG_LEN]);

    // Every blob of a bigger tree is a bucket plus the tag, and nodes mostly fill 4 KiB.
    let host = Host::default();
    build(&host, &entries(5000, 30));
    let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
    for blob in host.read().unwrap().values() {
        let padded = blob.len() - TAG_LEN;
        assert_eq!(bucket_size(padded), padded);
        *histogram.entry(padded).or_default() += 1;
    }
    let full = histogram.get(&4096).copied().unwrap_or(0);
    let total: usize = histogram.values().sum();
    assert!(full * 10 >= total * 8, "{histogram:?}");
}

#[test]
fn big_keys_and_values() {
    let host = Host::default();
    let mut m = BTreeMap::new();
    m.insert(vec![0xab; 64 * 1024], vec![1; 128 * 1024]);
    m.insert(vec![0xab; 64 * 1024 - 1], vec![2; 128 * 1024]);
    m.insert(vec![], vec![3; 128 * 1024]);
    m.insert(vec![0xff; 64 * 1024], vec![]);
    for i in 0..200u32 {
        m.insert(i.to_be_bytes().to_vec(), vec![4; 1000]);
    }
    let root = build(&host, &m);
    assert_eq!(check_root(&host, root), m);
    let st = VerifiedState::open(host.clone(), cipher(), root);
    assert_eq!(
        st.get(&[0xab; 64 * 1024]).unwrap().as_deref(),
        Some(&[1; 128 * 1024][..])
    );
    let all = scan(&st, &full(), Order::Descending).unwrap();
    assert!(all.into_iter().rev().eq(m.clone()));
    // Big internal entries (64 KiB first keys) also work above the leaves.
    let mut m2 = BTreeMap::new();
    for i in 0..12u8 {
        let mut k = vec![i; 64 * 1024];
        k[0] = i;
        m2.insert(k, vec![i; 100 * 1024]);
    }
    let root = build(&host, &m2);
    assert_eq!(check_root(&host, root), m2);
}

#[test]
fn reads_are_cached_within_a_call() {
    let host = Host::default();
    let m = entries(5000, 40);
    let root = build(&host, &m);
    let st = VerifiedState::open(host.clone(), cipher(), root);
    let k = m.keys().nth(1234).unwrap().clone();
    assert_eq!(st.get(&k).unwrap(), m.get(&k).cloned());
    let after_first = st.fetch_count();
    assert!(after_first >= 3, "{after_first}");
    for _ in 0..10 {
        st.get(&k).unwrap();
    }
    assert_eq!(st.fetch_count(), after_first);
    // A full scan fetches every node exactly once.
    let nodes = host.read().unwrap().len() as u64;
    scan(&st, &full(), Order::Ascending).unwrap();
    scan(&st, &full(), Order::Descending).unwrap();
    assert_eq!(st.fetch_count(), nodes);

    // A tiny cache still answers correctly (it refetches).
    let small = VerifiedState::open(host.clone(), cipher(), root).with_cache_limit(10_000);
    assert!(scan(&small, &full(), Order::Ascending)
        .unwrap()
        .into_iter()
        .eq(m.clone()));
    assert!(small.fetch_count() > nodes);
}

/// The engine's own bound cases (veil_engine::backend tests), through overlay and tree.
#[test]
fn ranges_follow_cosmwasm_bounds() {
    let collect = |s: &dyn Storage, start: Option<&str>, end: Option<&str>, order| {
        let range = KeyRange {
            start: start.map(|x| x.as_bytes().to_vec()),
            end: end.map(|x| x.as_bytes().to_vec()),
        };
        scan(s, &range, order)
            .unwrap()
            .into_iter()
            .map(|(k, _)| String::from_utf8(k).unwrap())
            .collect::<Vec<_>>()
    };
    let host = Host::default();
    // "a" and "c" committed, "b" and "d" pending, "x" committed then removed in the call.
    let mut st = VerifiedState::open(host.clone(), cipher(), None);
    for k in ["a", "c", "x"] {
        st.set(k.as_bytes(), b"v").unwrap();
    }
    let c = st.commit().unwrap();
    store(&host, &c);
    let mut st = VerifiedState::open(host.clone(), cipher(), c.root);
    st.set(b"b", b"v").unwrap();
    st.set(b"d", b"v").unwrap();
    st.remove(b"x").unwrap();
    let s: &dyn Storage = &st;
    use Order::*;
    assert_eq!(collect(s, None, None, Ascending), ["a", "b", "c", "d"]);
    assert_eq!(collect(s, None, None, Descending), ["d", "c", "b", "a"]);
    assert_eq!(collect(s, Some("b"), Some("d"), Ascending), ["b", "c"]);
    assert_eq!(collect(s, Some("b"), Some("d"), Descending), ["c", "b"]);
    assert_eq!(collect(s, Some("bb"), None, Descending), ["d", "c"]);
    assert!(collect(s, Some("c"), Some("c"), Ascending).is_empty());
    assert!(collect(s, Some("d"), Some("a"), Descending).is_empty());
    // `after` outside the range behaves like MemoryStorage: the next key is found and
    // then filtered by the range.
    let range = KeyRange {
        start: Some(b"c".to_vec()),
        end: None,
    };
    assert_eq!(
        st.next_in_range(&range, Ascending, Some(b"a")).unwrap(),
        None
    );
    assert_eq!(
        st.next_in_range(&range, Ascending, Some(b"bz")).unwrap(),
        Some((b"c".to_vec(), b"v".to_vec()))
    );
    assert_eq!(st.get(b"x").unwrap(), None);
    assert_eq!(st.get(b"b").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn empty_state() {
    let st = VerifiedState::open(Host::default(), cipher(), None);
    assert_eq!(st.get(b"").unwrap(), None);
    assert_eq!(
        st.next_in_range(&full(), Order::Ascending, None).unwrap(),
        None
    );
    assert_eq!(
        st.next_in_range(&full(), Order::Descending, None).unwrap(),
        None
    );
    assert_eq!(st.fetch_count(), 0);
    let mut st = VerifiedState::open(Host::default(), cipher(), None);
    st.remove(b"a").unwrap();
    assert_eq!(
        st.commit().unwrap(),
        Commit {
            root: None,
            new_nodes: vec![],
            released: vec![],
        }
    );
}

/// The storage is usable as the engine's backend storage.
#[test]
fn fits_the_engine_backend() {
    let st = VerifiedState::open(Host::default(), cipher(), None);
    let mut boxed: Box<dyn Storage + Send> = Box::new(st);
    boxed.set(b"k", b"v").unwrap();
    let any: Box<dyn std::any::Any> = boxed;
    let st = any.downcast::<VerifiedState<Host>>().unwrap();
    assert!(st.commit().unwrap().root.is_some());
}

/// Edits right at node boundaries (first and last keys of leaves, which are also the
/// first keys of internal nodes), one small commit at a time: after every commit the
/// root equals a rebuild from scratch.
#[test]
fn edits_at_node_boundaries_stay_canonical() {
    let mut rng = Rng::new(99);
    let host = Host::default();
    // Long keys: internal nodes fill quickly, so three levels with few bytes.
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = (0..2000u32)
        .map(|i| {
            let mut k = vec![b'k'; 96];
            k.extend_from_slice(&(i * 3).to_be_bytes());
            (k, vec![i as u8; i as usize % 50])
        })
        .collect();
    let mut root = build(&host, &model);
    let height = |root: Option<NodeId>| {
        let st = VerifiedState::open(host.clone(), cipher(), root);
        root.map_or(0, |r| st.load(&r, None).unwrap().level + 1)
    };
    assert!(height(root) >= 3, "height {}", height(root));
    for round in 0..30 * soak() {
        // First and last keys of every leaf.
        let st = VerifiedState::open(host.clone(), cipher(), root);
        let mut edges = vec![];
        let mut level = vec![st.load(&root.unwrap(), None).unwrap()];
        while !level[0].is_leaf() {
            let mut below = vec![];
            for n in &level {
                for i in 0..n.entries.len() {
                    below.push(st.load_child(n, i).unwrap());
                }
            }
            level = below;
        }
        for leaf in &level {
            edges.push(leaf.entries[0].key.clone());
            edges.push(leaf.entries.last().unwrap().key.clone());
        }
        drop(level);
        let mut st = VerifiedState::open(host.clone(), cipher(), root);
        for _ in 0..1 + rng.below(3) {
            let edge = edges[rng.below(edges.len())].clone();
            let mut before = edge.clone();
            *before.last_mut().unwrap() = before.last().unwrap().wrapping_sub(1);
            let mut after = edge.clone();
            after.extend_from_slice(&[0]);
            let (key, value) = match rng.below(6) {
                0 => (edge, None),
                1 => (before, Some(vec![1; rng.below(200)])),
                2 => (after, Some(vec![2; rng.below(200)])),
                3 => (edge, Some(vec![3; 1000 + rng.below(3000)])),
                4 => (edge, Some(vec![])),
                _ => (edge, Some(vec![5; rng.below(9000)])),
            };
            match &value {
                Some(v) => {
                    st.set(&key, v).unwrap();
                    model.insert(key, v.clone());
                }
                None => {
                    st.remove(&key).unwrap();
                    model.remove(&key);
                }
            }
        }
        let c = st.commit().unwrap();
        store(&host, &c);
        root = c.root;
        assert_eq!(root, build(&Host::default(), &model), "round {round}");
    }
    assert_eq!(check_root(&host, root), model);
}

#[test]
fn pending_writes_can_be_restored() {
    let host = Host::default();
    let root = build(&host, &entries(50, 10));
    let mut st = VerifiedState::open(host.clone(), cipher(), root);
    st.set(b"a", b"1").unwrap();
    let saved = st.pending_writes();
    st.set(b"a", b"2").unwrap();
    st.set(b"b", b"3").unwrap();
    st.remove(b"key/000000").unwrap();
    st.restore_writes(saved);
    assert_eq!(st.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(st.get(b"b").unwrap(), None);
    assert!(st.get(b"key/000000").unwrap().is_some());
}

/// `changes` lists what a call changed against its starting state, in key order, and
/// leaves out writes that change nothing.
#[test]
fn changes_are_the_writes_that_change_something_in_key_order() {
    let host = Host::default();
    let root = build(
        &host,
        &BTreeMap::from([
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"3".to_vec()),
        ]),
    );
    let mut st = VerifiedState::open(host.clone(), cipher(), root);
    st.set(b"d", b"4").unwrap();
    st.set(b"b", b"2").unwrap(); // the same value: no change
    st.set(b"a", b"9").unwrap();
    st.remove(b"c").unwrap();
    st.remove(b"z").unwrap(); // never there: no change
    let changes = st.changes().unwrap();
    let seen: Vec<_> = changes
        .iter()
        .map(|c| (c.key.as_slice(), c.old.as_deref(), c.new.as_deref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (&b"a"[..], Some(&b"1"[..]), Some(&b"9"[..])),
            (&b"c"[..], Some(&b"3"[..]), None),
            (&b"d"[..], None, Some(&b"4"[..])),
        ]
    );
}
