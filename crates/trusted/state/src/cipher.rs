//! Node encryption: deterministic AES-256-GCM-SIV over a padded node encoding.
//!
//! ```text
//! padded = node_len:u32le || node || 0x00 * (bucket(4 + node_len) - 4 - node_len)
//! blob   = AES-256-GCM-SIV(key, nonce = 0^12, aad = "veil/node-v1" || binding, padded)
//!        = ciphertext (len = bucket) || tag (16)
//! id     = SHA-256(blob)
//! ```

use aes_gcm_siv::aead::{AeadInPlace, KeyInit};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// Associated-data prefix of every node blob; the contract binding follows it.
pub const NODE_AAD_PREFIX: &[u8] = b"veil/node-v1";
/// Bytes the AEAD adds to the padded plaintext.
pub const TAG_LEN: usize = 16;
/// Length of the length prefix inside the padded plaintext.
pub const LEN_PREFIX: usize = 4;
const NONCE: [u8; 12] = [0; 12];
/// Domain of the key that places chunk boundaries (see `chunk.rs`).
const BOUNDARY_KEY_DOMAIN: &[u8] = b"veil/boundary-v1";

/// The size a padded plaintext of `n` bytes occupies: 256 B, 512 B, 1 KiB, 2 KiB, 4 KiB,
/// then the next multiple of 4 KiB.
pub fn bucket_size(n: usize) -> usize {
    for b in [256, 512, 1024, 2048, 4096] {
        if n <= b {
            return b;
        }
    }
    n.div_ceil(4096) * 4096
}

/// Why a blob could not be opened. Deliberately carries no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Authentication failed: another key, another binding, or altered bytes.
    Aead,
    /// Authentic, but the padding is not what `seal` writes.
    Padding,
}

/// Encrypts and decrypts one contract's nodes.
///
/// `binding` names the contract (the enclave passes its address, code hash, …): a node of
/// one contract does not open under another's binding even with the same key.
pub struct NodeCipher {
    aead: Aes256GcmSiv,
    aad: Vec<u8>,
    boundary_key: Zeroizing<[u8; 32]>,
}

impl NodeCipher {
    pub fn new(mut key: [u8; 32], binding: &[u8]) -> Self {
        let aead = Aes256GcmSiv::new(&key.into());
        let mut aad = Vec::with_capacity(NODE_AAD_PREFIX.len() + binding.len());
        aad.extend_from_slice(NODE_AAD_PREFIX);
        aad.extend_from_slice(binding);
        // boundary_key = SHA-256("veil/boundary-v1" || key || binding)
        let mut h = Sha256::new();
        h.update(BOUNDARY_KEY_DOMAIN);
        h.update(key);
        h.update(binding);
        let boundary_key = Zeroizing::new(h.finalize().into());
        key.zeroize();
        Self {
            aead,
            aad,
            boundary_key,
        }
    }

    /// Pads and encrypts a node encoding into a blob.
    pub(crate) fn seal(&self, node: &[u8]) -> Vec<u8> {
        let len = u32::try_from(node.len()).expect("node encoding exceeds 4 GiB");
        let padded_len = bucket_size(LEN_PREFIX + node.len());
        let mut buf = Vec::with_capacity(padded_len + TAG_LEN);
        buf.extend_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(node);
        buf.resize(padded_len, 0);
        self.aead
            .encrypt_in_place(Nonce::from_slice(&NONCE), &self.aad, &mut buf)
            .expect("AES-GCM-SIV encrypts any buffer below 64 GiB");
        buf
    }

    /// Decrypts a blob and strips its padding, returning the node encoding.
    pub(crate) fn open(&self, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let mut buf = Zeroizing::new(blob.to_vec());
        self.aead
            .decrypt_in_place(Nonce::from_slice(&NONCE), &self.aad, &mut *buf)
            .map_err(|_| OpenError::Aead)?;
        if buf.len() < LEN_PREFIX || bucket_size(buf.len()) != buf.len() {
            return Err(OpenError::Padding);
        }
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let end = LEN_PREFIX
            .checked_add(len)
            .filter(|end| *end <= buf.len() && bucket_size(*end) == buf.len())
            .ok_or(OpenError::Padding)?;
        if buf[end..].iter().any(|b| *b != 0) {
            return Err(OpenError::Padding);
        }
        // Shift the node to the front in place so no unzeroized copy is left behind.
        buf.copy_within(LEN_PREFIX..end, 0);
        buf[len..].zeroize();
        buf.truncate(len);
        Ok(buf)
    }

    /// A keyed 32-bit hash of `(level, key)`: decides where chunk boundaries fall, so it
    /// must be a pure function of the contract's key material, identical on every
    /// validator, and unpredictable to the host.
    pub(crate) fn boundary_hash(&self, level: u8, key: &[u8]) -> u32 {
        let mut h = Sha256::new();
        h.update(*self.boundary_key);
        h.update([level]);
        h.update(key);
        let d = h.finalize();
        u32::from_le_bytes([d[0], d[1], d[2], d[3]])
    }
}

impl std::fmt::Debug for NodeCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeCipher(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        assert_eq!(bucket_size(0), 256);
        assert_eq!(bucket_size(256), 256);
        assert_eq!(bucket_size(257), 512);
        assert_eq!(bucket_size(1025), 2048);
        assert_eq!(bucket_size(4096), 4096);
        assert_eq!(bucket_size(4097), 8192);
        assert_eq!(bucket_size(12289), 16384);
    }

    #[test]
    fn seal_open_round_trip_and_binding() {
        let c = NodeCipher::new([1; 32], b"contract-a");
        for n in [0usize, 1, 252, 253, 4092, 4093, 70_000] {
            let node: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let blob = c.seal(&node);
            assert_eq!(blob.len(), bucket_size(n + 4) + TAG_LEN, "{n}");
            assert_eq!(c.seal(&node), blob, "deterministic");
            assert_eq!(&**c.open(&blob).unwrap(), &node[..]);
        }
        let blob = c.seal(b"node");
        let other_binding = NodeCipher::new([1; 32], b"contract-b");
        let other_key = NodeCipher::new([2; 32], b"contract-a");
        assert_eq!(other_binding.open(&blob).unwrap_err(), OpenError::Aead);
        assert_eq!(other_key.open(&blob).unwrap_err(), OpenError::Aead);
        let mut flipped = blob.clone();
        flipped[3] ^= 1;
        assert_eq!(c.open(&flipped).unwrap_err(), OpenError::Aead);
        assert!(c.open(&[]).is_err());
        assert!(c.open(&blob[..16]).is_err());
    }

    #[test]
    fn boundary_hash_depends_on_key_binding_level() {
        let a = NodeCipher::new([1; 32], b"a");
        let b = NodeCipher::new([1; 32], b"b");
        assert_eq!(a.boundary_hash(0, b"k"), a.boundary_hash(0, b"k"));
        assert_ne!(a.boundary_hash(0, b"k"), b.boundary_hash(0, b"k"));
        assert_ne!(a.boundary_hash(0, b"k"), a.boundary_hash(1, b"k"));
    }
}
