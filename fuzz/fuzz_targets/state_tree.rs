//! Contract state as the enclave reads it from the host: a real tree built and changed by
//! the fuzzer's writes, checked read for read and range for range against a `BTreeMap`;
//! then the host tampers (drops, swaps, replaces or forges nodes — forged ones sealed
//! with the contract key, so node decoding behind the AEAD is reached) and every read
//! must either give the true answer or an integrity error, never a wrong one or a panic.
#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use veil_engine::{BackendError, KeyRange, Order, Storage};
use veil_state::{fuzzing, NodeCipher, NodeId, VerifiedState};

type Host = Arc<RwLock<HashMap<NodeId, Vec<u8>>>>;

#[derive(Debug, Arbitrary)]
struct Input {
    rounds: Vec<Vec<Write>>,
    tampering: Vec<Tamper>,
    reads: Vec<Read>,
    /// A node encoding decoded directly.
    node: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
enum Write {
    Set(Vec<u8>, Vec<u8>),
    /// Many keys at once, so trees grow past one node.
    Fill {
        prefix: u8,
        count: u8,
        value_len: u8,
    },
    Remove(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Tamper {
    Drop(u8),
    Swap(u8, u8),
    Garbage(u8, Vec<u8>),
    /// Replaces the root with a sealed node encoding of the fuzzer's.
    ForgeRoot(Vec<u8>),
    /// Replaces any node with a sealed forgery (its id no longer matches: refused).
    Forge(u8, Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Read {
    Get(Vec<u8>),
    Range {
        start: Option<Vec<u8>>,
        end: Option<Vec<u8>>,
        descending: bool,
        limit: u8,
    },
}

fn cipher() -> NodeCipher {
    NodeCipher::new([0x42; 32], b"veil1fuzzcontract/code-hash")
}

fn writes_of(round: &[Write]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    for w in round {
        match w {
            Write::Set(k, v) => out.push((k.clone(), Some(v.clone()))),
            Write::Remove(k) => out.push((k.clone(), None)),
            Write::Fill {
                prefix,
                count,
                value_len,
            } => {
                for i in 0..u16::from(*count) * 4 {
                    let key = [&[*prefix][..], &i.to_be_bytes()].concat();
                    out.push((key, Some(vec![i as u8; usize::from(*value_len)])));
                }
            }
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// Untampered: every answer is the model's.
    Exact,
    /// The host tampered: an answer is the model's or an integrity error.
    TrueOrIntegrity,
    /// The root itself was forged (by a key holder): any answer, or an integrity error.
    Anything,
}

/// Reads through the state and checks the answers against `model` as `expect` says.
fn check_reads(
    state: &VerifiedState<Host>,
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    reads: &[Read],
    expect: Expect,
) {
    let tampered = expect != Expect::Exact;
    let ok_or_integrity = |e: &BackendError| {
        assert!(
            tampered && matches!(e, BackendError::Integrity(_)),
            "unexpected error: {e}"
        );
    };
    for read in reads {
        match read {
            Read::Get(key) => match state.get(key) {
                Ok(found) => {
                    if expect != Expect::Anything {
                        assert_eq!(found.as_ref(), model.get(key));
                    }
                }
                Err(e) => ok_or_integrity(&e),
            },
            Read::Range {
                start,
                end,
                descending,
                limit,
            } => {
                let range = KeyRange {
                    start: start.clone(),
                    end: end.clone(),
                };
                let order = if *descending {
                    Order::Descending
                } else {
                    Order::Ascending
                };
                let lower = start
                    .as_ref()
                    .map_or(Bound::Unbounded, |s| Bound::Included(s.clone()));
                let upper = end
                    .as_ref()
                    .map_or(Bound::Unbounded, |e| Bound::Excluded(e.clone()));
                let valid = match (start, end) {
                    (Some(s), Some(e)) => s < e,
                    _ => true,
                };
                let expected: Vec<(Vec<u8>, Vec<u8>)> = if valid {
                    let it = model
                        .range((lower, upper))
                        .map(|(k, v)| (k.clone(), v.clone()));
                    if *descending {
                        it.rev().take(usize::from(*limit)).collect()
                    } else {
                        it.take(usize::from(*limit)).collect()
                    }
                } else {
                    Vec::new()
                };
                let mut got = Vec::new();
                let mut after: Option<Vec<u8>> = None;
                let mut failed = false;
                while got.len() < usize::from(*limit) {
                    match state.next_in_range(&range, order, after.as_deref()) {
                        Ok(Some((k, v))) => {
                            after = Some(k.clone());
                            got.push((k, v));
                        }
                        Ok(None) => break,
                        Err(e) => {
                            ok_or_integrity(&e);
                            failed = true;
                            break;
                        }
                    }
                }
                if expect != Expect::Anything {
                    if failed {
                        assert_eq!(got[..], expected[..got.len()], "range {range:?} {order:?}");
                    } else {
                        assert_eq!(got, expected, "range {range:?} {order:?}");
                    }
                }
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let _ = fuzzing::decode_round_trip(&input.node);

    let host: Host = Arc::default();
    let mut model = BTreeMap::new();
    let mut root = None;
    for round in input.rounds.iter().take(8) {
        let mut state = VerifiedState::open(host.clone(), cipher(), root);
        for (k, v) in writes_of(round) {
            match v {
                Some(v) => {
                    state.set(&k, &v).unwrap();
                    model.insert(k, v);
                }
                None => {
                    state.remove(&k).unwrap();
                    model.remove(&k);
                }
            }
        }
        // Reads see the call's own writes before commit.
        check_reads(&state, &model, &input.reads, Expect::Exact);
        let commit = state.commit().expect("an untampered tree commits");
        let mut h = host.write().unwrap();
        for (id, blob) in commit.new_nodes {
            assert_eq!(NodeId::of(&blob), id);
            h.insert(id, blob);
        }
        for id in commit.released {
            h.remove(&id);
        }
        drop(h);
        assert_eq!(commit.root.is_none(), model.is_empty());
        root = commit.root;
    }
    let state = VerifiedState::open(host.clone(), cipher(), root).with_cache_limit(0);
    check_reads(&state, &model, &input.reads, Expect::Exact);
    drop(state);

    if input.tampering.is_empty() {
        return;
    }
    let mut expect = Expect::TrueOrIntegrity;
    let mut h = host.write().unwrap();
    let mut ids: Vec<NodeId> = h.keys().copied().collect();
    ids.sort();
    let pick = |i: &u8| ids.get(usize::from(*i) % ids.len().max(1)).copied();
    for t in &input.tampering {
        match t {
            Tamper::Drop(i) => {
                if let Some(id) = pick(i) {
                    h.remove(&id);
                }
            }
            Tamper::Swap(a, b) => {
                if let (Some(a), Some(b)) = (pick(a), pick(b)) {
                    if let (Some(x), Some(y)) = (h.get(&a).cloned(), h.get(&b).cloned()) {
                        h.insert(a, y);
                        h.insert(b, x);
                    }
                }
            }
            Tamper::Garbage(i, bytes) => {
                if let Some(id) = pick(i) {
                    h.insert(id, bytes.clone());
                }
            }
            Tamper::Forge(i, node) => {
                if let Some(id) = pick(i) {
                    h.insert(id, fuzzing::seal(&cipher(), node));
                }
            }
            Tamper::ForgeRoot(node) => {
                let blob = fuzzing::seal(&cipher(), node);
                let id = NodeId::of(&blob);
                h.insert(id, blob);
                root = Some(id);
                expect = Expect::Anything;
            }
        }
    }
    drop(h);
    let state = VerifiedState::open(host.clone(), cipher(), root);
    check_reads(&state, &model, &input.reads, expect);
    // A commit over a tampered tree fails cleanly or succeeds; it never panics.
    let mut state = VerifiedState::open(host, cipher(), root);
    for (k, v) in input
        .rounds
        .first()
        .map(|r| writes_of(r))
        .unwrap_or_default()
    {
        match v {
            Some(v) => state.set(&k, &v).unwrap(),
            None => state.remove(&k).unwrap(),
        }
    }
    let _ = state.commit();
});
