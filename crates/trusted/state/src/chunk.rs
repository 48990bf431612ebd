//! Where node boundaries fall: content-defined chunking of one level's sorted entries.
//!
//! The chunker reads a level's entries left to right and cuts:
//! 1. *before* an entry if the node would otherwise outgrow [`MAX_NODE`] (padded plaintext
//!    bytes) and already holds [`min_entries`] entries (forced split);
//! 2. *after* an entry `e` once the node holds `min_entries` entries and more than
//!    [`SOFT_MIN`] bytes, with probability `size(e) * (S - SOFT_MIN) / (SOFT_MIN * 512)` —
//!    `S` the node's size with `e` — decided by a keyed hash of `(level, e.key)`.
//!
//! A level's chunking is therefore a pure function of its sorted entries (and the
//! contract's key): the tree is *history independent*, so one map always has one root,
//! whatever order and grouping of writes produced it. Boundaries of rule 2 depend only
//! on local content, so after an edit the new chunking falls back in step with the old
//! one within a node or two and a commit rewrites only the nodes around the edits.

use crate::cipher::{NodeCipher, LEN_PREFIX};
use crate::node::{entry_size, Entry, HEADER_LEN};

/// Largest padded plaintext a node grows to before it is split (the 4 KiB bucket). A
/// node exceeds it only when its minimum entries alone do.
pub(crate) const MAX_NODE: usize = 4096;
/// Below this size no content-defined boundary is placed.
pub(crate) const SOFT_MIN: usize = 2048;
/// Scale of the boundary probability (see the module docs).
const HAZARD_SCALE: u128 = SOFT_MIN as u128 * 512;

/// Fewest entries in a node before a boundary may follow: 1 in leaves, 2 in internal
/// nodes (so every level but the top shrinks by at least half). Only the last node of a
/// level can hold fewer.
pub(crate) fn min_entries(level: u8) -> usize {
    if level == 0 {
        1
    } else {
        2
    }
}

pub(crate) struct Chunker<'a> {
    cipher: &'a NodeCipher,
    level: u8,
    cur: Vec<Entry>,
    /// Padded-plaintext size of `cur` as a node (length prefix + header + entries).
    cur_size: usize,
    done: Vec<Vec<Entry>>,
}

impl<'a> Chunker<'a> {
    pub fn new(cipher: &'a NodeCipher, level: u8) -> Self {
        Self {
            cipher,
            level,
            cur: Vec::new(),
            cur_size: LEN_PREFIX + HEADER_LEN,
            done: Vec::new(),
        }
    }

    fn size_of(&self, e: &Entry) -> usize {
        entry_size(self.level, e.key.len(), e.val.len())
    }

    /// Whether a boundary falls right before the next entry whatever it is: the node
    /// just ended (`Some(true)`), or it cannot end yet (`Some(false)`). `None`: it
    /// depends on the next entry's size (see [`cuts_before`](Self::cuts_before)).
    pub fn cut_pending(&self) -> Option<bool> {
        if self.cur.is_empty() {
            Some(true)
        } else if self.cur.len() < min_entries(self.level) {
            Some(false)
        } else {
            None
        }
    }

    /// Whether a boundary falls right before the next entry if it takes `size` bytes.
    pub fn cuts_before(&self, size: usize) -> bool {
        self.cut_pending()
            .unwrap_or_else(|| self.cur_size + size > MAX_NODE)
    }

    pub fn push(&mut self, e: Entry) {
        let size = self.size_of(&e);
        if !self.cur.is_empty() && self.cuts_before(size) {
            self.flush();
        }
        self.cur_size += size;
        self.cur.push(e);
        if self.cur.len() >= min_entries(self.level) && self.cur_size > SOFT_MIN {
            let key = &self.cur.last().expect("just pushed").key;
            let h = u128::from(self.cipher.boundary_hash(self.level, key));
            let weight = size as u128 * (self.cur_size - SOFT_MIN) as u128;
            if h * HAZARD_SCALE < weight << 32 {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        if !self.cur.is_empty() {
            self.done.push(std::mem::take(&mut self.cur));
            self.cur_size = LEN_PREFIX + HEADER_LEN;
        }
    }

    /// Ends the sequence (a boundary) and returns the nodes' entries in order.
    pub fn finish(mut self) -> Vec<Vec<Entry>> {
        self.flush();
        std::mem::take(&mut self.done)
    }
}
