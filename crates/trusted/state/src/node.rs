//! Tree nodes in plaintext and their byte encoding.
//!
//! ```text
//! node   = version:u8 (=1) || kind:u8 (0 leaf, 1 internal) || level:u8 || count:u32le || entry*count
//! leaf entry     = key_len:u32le || key || value_len:u32le || value
//! internal entry = key_len:u32le || key || child:NodeId(32)
//! ```
//! A leaf has level 0, an internal node level >= 1 and children of level - 1. Keys are
//! strictly increasing; an internal entry's key is the smallest key stored under that
//! child. No node is empty. Nothing may follow the last entry.

use zeroize::Zeroize;

use crate::NodeId;

/// Version of the node encoding (first byte of every node).
pub const FORMAT_VERSION: u8 = 1;
pub(crate) const KIND_LEAF: u8 = 0;
pub(crate) const KIND_INTERNAL: u8 = 1;
/// version, kind, level, count.
pub(crate) const HEADER_LEN: usize = 1 + 1 + 1 + 4;

/// One entry: a key with a value (leaf) or with a child's id (internal, `val` is 32 bytes).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: Vec<u8>,
    pub val: Vec<u8>,
}

impl Entry {
    pub fn new(key: Vec<u8>, val: Vec<u8>) -> Self {
        Self { key, val }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.key.zeroize();
        self.val.zeroize();
    }
}

impl std::fmt::Debug for Entry {
    // Never prints contents: entries hold contract plaintext.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Entry({} B key, {} B val)",
            self.key.len(),
            self.val.len()
        )
    }
}

/// Encoded size of an entry at `level`.
pub(crate) fn entry_size(level: u8, key_len: usize, val_len: usize) -> usize {
    if level == 0 {
        4 + key_len + 4 + val_len
    } else {
        4 + key_len + NodeId::LEN
    }
}

#[derive(Debug)]
pub(crate) struct Node {
    pub level: u8,
    pub entries: Vec<Entry>,
}

impl Node {
    pub fn is_leaf(&self) -> bool {
        self.level == 0
    }

    pub fn first_key(&self) -> &[u8] {
        &self.entries[0].key
    }

    /// Child id of entry `i` of an internal node.
    pub fn child(&self, i: usize) -> NodeId {
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.entries[i].val);
        NodeId(id)
    }

    /// Index of the child whose subtree would hold `key`: the last entry whose key is
    /// `<= key`. `None` when `key` is smaller than every key of the node.
    pub fn child_index(&self, key: &[u8]) -> Option<usize> {
        self.entries
            .partition_point(|e| e.key.as_slice() <= key)
            .checked_sub(1)
    }

    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + self
                .entries
                .iter()
                .map(|e| entry_size(self.level, e.key.len(), e.val.len()))
                .sum::<usize>()
    }

    /// Writes the encoding into `out` (appending).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.push(FORMAT_VERSION);
        out.push(if self.is_leaf() {
            KIND_LEAF
        } else {
            KIND_INTERNAL
        });
        out.push(self.level);
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            out.extend_from_slice(&(e.key.len() as u32).to_le_bytes());
            out.extend_from_slice(&e.key);
            if self.is_leaf() {
                out.extend_from_slice(&(e.val.len() as u32).to_le_bytes());
            }
            out.extend_from_slice(&e.val);
        }
    }

    /// Parses and checks a node encoding. Errors name the defect, never the contents.
    pub fn decode(bytes: &[u8]) -> Result<Node, &'static str> {
        let mut r = Reader { bytes };
        if r.u8()? != FORMAT_VERSION {
            return Err("unknown node format version");
        }
        let kind = r.u8()?;
        let level = r.u8()?;
        match (kind, level) {
            (KIND_LEAF, 0) => {}
            (KIND_INTERNAL, 1..) => {}
            (KIND_LEAF | KIND_INTERNAL, _) => return Err("node kind does not match its level"),
            _ => return Err("unknown node kind"),
        }
        let count = r.u32()? as usize;
        if count == 0 {
            return Err("empty node");
        }
        // Each entry takes at least 8 bytes: never preallocate more than the input allows.
        let mut entries: Vec<Entry> = Vec::with_capacity(count.min(r.bytes.len() / 8));
        for _ in 0..count {
            let key = r.chunk()?.to_vec();
            let val = if level == 0 {
                r.chunk()?.to_vec()
            } else {
                r.take(NodeId::LEN)?.to_vec()
            };
            if let Some(prev) = entries.last() {
                if prev.key >= key {
                    return Err("node keys are not strictly increasing");
                }
            }
            entries.push(Entry { key, val });
        }
        if !r.bytes.is_empty() {
            return Err("trailing bytes after the last entry");
        }
        Ok(Node { level, entries })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.bytes.len() < n {
            return Err("node encoding is truncated");
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn chunk(&mut self) -> Result<&'a [u8], &'static str> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(pairs: &[(&[u8], &[u8])]) -> Node {
        Node {
            level: 0,
            entries: pairs
                .iter()
                .map(|(k, v)| Entry::new(k.to_vec(), v.to_vec()))
                .collect(),
        }
    }

    #[test]
    fn leaf_layout_is_byte_exact() {
        let n = leaf(&[(b"", b"x"), (b"ab", b"")]);
        let mut out = vec![];
        n.encode_into(&mut out);
        assert_eq!(
            out,
            b"\x01\x00\x00\x02\0\0\0\
              \0\0\0\0\x01\0\0\0x\
              \x02\0\0\0ab\0\0\0\0"
        );
        assert_eq!(out.len(), n.encoded_len());
        let back = Node::decode(&out).unwrap();
        assert_eq!(back.entries, n.entries);
        assert_eq!(back.level, 0);
    }

    #[test]
    fn internal_layout_is_byte_exact() {
        let n = Node {
            level: 3,
            entries: vec![Entry::new(b"k".to_vec(), vec![7; 32])],
        };
        let mut out = vec![];
        n.encode_into(&mut out);
        let mut want = b"\x01\x01\x03\x01\0\0\0\x01\0\0\0k".to_vec();
        want.extend_from_slice(&[7; 32]);
        assert_eq!(out, want);
        assert_eq!(out.len(), n.encoded_len());
        assert_eq!(Node::decode(&out).unwrap().child(0), NodeId([7; 32]));
    }

    #[test]
    fn malformed_encodings_are_rejected() {
        let mut good = vec![];
        leaf(&[(b"a", b"1"), (b"b", b"2")]).encode_into(&mut good);
        assert!(Node::decode(&good).is_ok());
        // Every truncation fails, and so does any trailing byte.
        for n in 0..good.len() {
            assert!(Node::decode(&good[..n]).is_err(), "{n}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(Node::decode(&long).is_err());
        // Unsorted keys, empty nodes, bad kinds and versions.
        let mut unsorted = vec![];
        leaf(&[(b"b", b"1"), (b"a", b"2")]).encode_into(&mut unsorted);
        assert!(Node::decode(&unsorted).is_err());
        assert!(Node::decode(b"\x01\x00\x00\0\0\0\0").is_err());
        assert!(Node::decode(b"\x01\x01\x00\x01\0\0\0").is_err());
        assert!(Node::decode(b"\x01\x00\x01\x01\0\0\0").is_err());
        assert!(Node::decode(b"\x01\x02\x00\x01\0\0\0").is_err());
        assert!(Node::decode(b"\x02\x00\x00\x01\0\0\0").is_err());
        // A huge count with no data neither allocates nor panics.
        assert!(Node::decode(b"\x01\x00\x00\xff\xff\xff\xff").is_err());
    }
}
