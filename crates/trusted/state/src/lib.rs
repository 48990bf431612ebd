//! Veil's contract state (trusted): encrypted, integrity- and freshness-checked on every
//! read, padded, and iterable in key order.
//!
//! A contract's state is a search tree of nodes (B+tree shaped: entries in leaves,
//! internal nodes route by each child's first key). Each node is padded, encrypted
//! deterministically under the contract's key and binding ([`NodeCipher`]) and addressed
//! by the SHA-256 of its blob ([`NodeId`]). The root id is the state root: whoever trusts
//! it can verify every node the untrusted host hands back ([`NodeSource`]). Node
//! boundaries are content defined (see `chunk.rs`), so the tree — and the root — depends
//! only on the contents of the state, not on the history of writes.
//!
//! [`VerifiedState`] serves one contract call: it implements the engine's [`Storage`]
//! over the tree plus an overlay of the call's writes, and [`VerifiedState::commit`]
//! turns the writes into new nodes copy-on-write.
//!
//! [`Storage`]: veil_engine::Storage

mod chunk;
mod cipher;
mod commit;
mod node;
mod state;

#[cfg(test)]
mod tests;

/// Hooks for the fuzz targets (`fuzz/`): what a holder of the contract key could hand the
/// tree, so the fuzzer reaches node decoding behind the AEAD.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    use crate::{node::Node, NodeCipher};

    /// Pads and encrypts `node` (any bytes) as the enclave seals a node encoding.
    pub fn seal(cipher: &NodeCipher, node: &[u8]) -> Vec<u8> {
        cipher.seal(node)
    }

    /// Decodes a node encoding; when it decodes, checks that it encodes back to `bytes`
    /// (the encoding is canonical).
    pub fn decode_round_trip(bytes: &[u8]) -> Result<(), &'static str> {
        let node = Node::decode(bytes)?;
        let mut again = Vec::new();
        node.encode_into(&mut again);
        assert_eq!(again, bytes, "a decoded node must encode to the same bytes");
        assert_eq!(node.encoded_len(), bytes.len(), "encoded_len must match");
        Ok(())
    }
}

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use cipher::{bucket_size, NodeCipher, LEN_PREFIX, NODE_AAD_PREFIX, TAG_LEN};
pub use commit::Commit;
pub use node::FORMAT_VERSION;
pub use state::{PendingWrites, StateChange, VerifiedState, DEFAULT_CACHE_LIMIT};
pub use veil_engine::BackendError;

/// A node's address: SHA-256 of its blob.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub [u8; 32]);

impl NodeId {
    pub const LEN: usize = 32;

    /// The id of `blob`.
    pub fn of(blob: &[u8]) -> NodeId {
        use sha2::Digest;
        NodeId(sha2::Sha256::digest(blob).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeId({self})")
    }
}

/// Where node blobs come from: the untrusted host (the enclave turns `fetch` into an
/// ocall). Whatever it returns is verified; a missing blob is an integrity failure too.
/// Reserve `Err` for a host that cannot answer at all (`BackendError::Unavailable`).
pub trait NodeSource {
    fn fetch(&self, id: &NodeId) -> Result<Option<Vec<u8>>, BackendError>;
}

impl<T: NodeSource + ?Sized> NodeSource for &T {
    fn fetch(&self, id: &NodeId) -> Result<Option<Vec<u8>>, BackendError> {
        (**self).fetch(id)
    }
}

impl<T: NodeSource + ?Sized> NodeSource for Box<T> {
    fn fetch(&self, id: &NodeId) -> Result<Option<Vec<u8>>, BackendError> {
        (**self).fetch(id)
    }
}

impl<T: NodeSource + ?Sized> NodeSource for Arc<T> {
    fn fetch(&self, id: &NodeId) -> Result<Option<Vec<u8>>, BackendError> {
        (**self).fetch(id)
    }
}

impl NodeSource for HashMap<NodeId, Vec<u8>> {
    fn fetch(&self, id: &NodeId) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.get(id).cloned())
    }
}

impl NodeSource for BTreeMap<NodeId, Vec<u8>> {
    fn fetch(&self, id: &NodeId) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.get(id).cloned())
    }
}

impl<T: NodeSource + ?Sized> NodeSource for std::sync::RwLock<T> {
    fn fetch(&self, id: &NodeId) -> Result<Option<Vec<u8>>, BackendError> {
        self.read()
            .map_err(|_| BackendError::Unavailable("node store lock poisoned".into()))?
            .fetch(id)
    }
}

/// An integrity failure about node `id`. `what` must never contain plaintext.
pub(crate) fn integrity(id: &NodeId, what: &str) -> BackendError {
    BackendError::Integrity(format!("state node {id}: {what}"))
}
