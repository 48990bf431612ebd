//! The public state root's hashing and its proofs, on the side that checks them: a node
//! computes the root and answers proofs (`veil-node`'s `state/tree.rs`), a light client
//! verifies them here against an `app_hash` its validators certified. Byte layout and test
//! vector: `docs/protocol.md`, "Blocks and the state root".

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Hash;

/// The hash of an empty subtree (and the root of an empty state).
pub const EMPTY: Hash = [0; 32];

/// Deepest possible position: two distinct 256-bit key hashes part by then.
pub const MAX_DEPTH: u16 = 256;

/// A record's key in the state tree: a tag byte, then the record's own key. Its value is
/// the record's postcard encoding.
pub mod leaf_key {
    use crate::Hash;

    pub const ACCOUNT: u8 = 1;
    pub const CODE: u8 = 2;
    pub const CONTRACT: u8 = 3;
    pub const REGISTRATION: u8 = 4;
    pub const ATTESTATION_POLICY: u8 = 5;

    fn tagged(tag: u8, key: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(1 + key.len());
        bytes.push(tag);
        bytes.extend_from_slice(key);
        bytes
    }

    pub fn account(address: &str) -> Vec<u8> {
        tagged(ACCOUNT, address.as_bytes())
    }

    pub fn code(code_id: u64) -> Vec<u8> {
        tagged(CODE, &code_id.to_be_bytes())
    }

    pub fn contract(address: &str) -> Vec<u8> {
        tagged(CONTRACT, address.as_bytes())
    }

    pub fn registration(registration_key: &Hash) -> Vec<u8> {
        tagged(REGISTRATION, registration_key)
    }

    pub fn attestation_policy() -> Vec<u8> {
        vec![ATTESTATION_POLICY]
    }
}

/// Where an entry's key goes in the tree.
pub fn key_hash(leaf_key: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(b"veil/state-key-v2");
    hasher.update(leaf_key);
    hasher.finalize().into()
}

pub fn value_hash(value: &[u8]) -> Hash {
    Sha256::digest(value).into()
}

pub fn leaf_hash(key: &Hash, value: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(key);
    hasher.update(value);
    hasher.finalize().into()
}

pub fn internal_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Bit `depth` of `key`, most significant bit of byte 0 first: 0 goes left.
pub fn bit(key: &Hash, depth: u16) -> u8 {
    (key[usize::from(depth / 8)] >> (7 - depth % 8)) & 1
}

/// The path from the root towards a key: the sibling hashes from the root down, and the
/// leaf the path ends at (`None`: it ends at an empty subtree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    pub siblings: Vec<Hash>,
    /// The leaf's key hash and value hash.
    pub leaf: Option<(Hash, Hash)>,
}

/// Whether `proof` shows that, under `root`, `key` (a key hash) holds the value whose hash
/// is `value` (`None`: that `key` holds nothing).
pub fn verify(root: &Hash, key: &Hash, value: Option<&Hash>, proof: &Proof) -> bool {
    if proof.siblings.len() > usize::from(MAX_DEPTH) {
        return false;
    }
    let depth = proof.siblings.len() as u16;
    let end = match (&proof.leaf, value) {
        (Some((leaf_key, leaf_value)), Some(value)) => {
            if leaf_key != key || leaf_value != value {
                return false;
            }
            leaf_hash(leaf_key, leaf_value)
        }
        (None, None) => EMPTY,
        // Another key's leaf where `key`'s path ends: `key` is absent.
        (Some((leaf_key, leaf_value)), None) => {
            if leaf_key == key || (0..depth).any(|d| bit(leaf_key, d) != bit(key, d)) {
                return false;
            }
            leaf_hash(leaf_key, leaf_value)
        }
        (None, Some(_)) => return false,
    };
    let mut hash = end;
    for (depth, sibling) in proof.siblings.iter().enumerate().rev() {
        hash = match bit(key, depth as u16) {
            0 => internal_hash(&hash, sibling),
            _ => internal_hash(sibling, &hash),
        };
    }
    hash == *root
}

/// Whether `proof` shows that under the state root `root` the record at `leaf_key` is
/// `value` (its postcard encoding), or, with `None`, that there is none.
pub fn verify_record(root: &Hash, leaf_key: &[u8], value: Option<&[u8]>, proof: &Proof) -> bool {
    let value = value.map(value_hash);
    verify(root, &key_hash(leaf_key), value.as_ref(), proof)
}
