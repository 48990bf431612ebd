//! The transaction envelope (user → enclave) and the per-transaction key that encrypts
//! results (enclave → user).

use core::fmt;

use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use x25519_dalek::{PublicKey, SharedSecret, StaticSecret};
use zeroize::Zeroizing;

use crate::aead::{aead_decrypt, aead_encrypt, AEAD_TAG_LEN};
use crate::{CryptoError, IoKeypair};

/// The only envelope version this code writes and reads.
pub const ENVELOPE_VERSION: u8 = 1;
/// Length of the random per-envelope nonce (the HKDF salt of the transaction key).
pub const ENVELOPE_NONCE_LEN: usize = 32;
/// `version (1) || generation (4) || user_pubkey (32) || nonce (32)`: the bytes before the
/// ciphertext, authenticated as its associated data.
pub const ENVELOPE_HEADER_LEN: usize = 1 + 4 + 32 + ENVELOPE_NONCE_LEN;
/// The shortest well-formed envelope: header, the 32-byte code hash (empty message) and the tag.
pub const ENVELOPE_MIN_LEN: usize = ENVELOPE_HEADER_LEN + 32 + AEAD_TAG_LEN;
/// HKDF info prefix of the transaction key (followed by the generation, u32 BE).
pub const TX_KEY_INFO: &[u8] = b"veil/tx-v1";
/// Associated data of every encrypted output.
pub const OUTPUT_AAD: &[u8] = b"veil/out-v1";

/// The input ciphertext uses the all-zero IV; output IVs start with a non-zero kind byte,
/// so the two can never collide under the same transaction key.
const INPUT_IV: [u8; 12] = [0; 12];

/// What an encrypted output is. The kind (and the output's index) are bound into its IV,
/// so the host cannot reorder outputs or pass one kind off as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OutputKind {
    /// The `data` field of a response.
    Data = 1,
    /// An event/response attribute key.
    AttributeKey = 2,
    /// An event/response attribute value.
    AttributeValue = 3,
    /// A contract error message.
    Error = 4,
    /// A sub-message the contract emits.
    SubMessage = 5,
    /// A whole encrypted event.
    Event = 6,
    /// The result of a smart query.
    QueryResult = 7,
    /// The query permit a client attaches to a signed query (client → enclave, under the
    /// query's transaction key: the host never sees who signed).
    QueryPermit = 8,
}

impl OutputKind {
    /// The kind's byte (the first byte of the output IV).
    pub const fn as_byte(self) -> u8 {
        self as u8
    }

    /// The kind with this byte, if any. `0` is reserved (it would collide with the input IV).
    pub const fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => OutputKind::Data,
            2 => OutputKind::AttributeKey,
            3 => OutputKind::AttributeValue,
            4 => OutputKind::Error,
            5 => OutputKind::SubMessage,
            6 => OutputKind::Event,
            7 => OutputKind::QueryResult,
            8 => OutputKind::QueryPermit,
            _ => return None,
        })
    }

    fn iv(self, index: u32) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[0] = self.as_byte();
        iv[8..].copy_from_slice(&index.to_be_bytes());
        iv
    }
}

/// The per-transaction key: decrypts the input and encrypts every output of one transaction.
///
/// `HKDF-SHA256(ikm = X25519 shared secret, salt = envelope nonce, info = "veil/tx-v1" || generation u32 BE)`.
///
/// The enclave gets it from [`open_input`]; the client gets it from [`encrypt_input`] or
/// recomputes it later with [`TxKey::for_client`]. Zeroized on drop; `Debug` shows only the
/// generation.
#[derive(Clone)]
pub struct TxKey {
    key: Box<Zeroizing<[u8; 32]>>,
    generation: u32,
}

impl TxKey {
    /// Recomputes a transaction's key on the client side from the user's secret, the
    /// network public key of `generation` and the envelope's nonce — so a wallet can decrypt
    /// the results of its past transactions without storing per-transaction keys.
    pub fn for_client(
        user_secret: &StaticSecret,
        network_public: &[u8; 32],
        generation: u32,
        nonce: &[u8; 32],
    ) -> Result<Self, CryptoError> {
        let shared = ecdh(user_secret, network_public)?;
        Ok(Self::from_shared(shared.as_bytes(), nonce, generation))
    }

    fn from_shared(shared: &[u8; 32], nonce: &[u8; 32], generation: u32) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(nonce), shared);
        let mut key = Box::new(Zeroizing::new([0u8; 32]));
        hk.expand_multi_info(&[TX_KEY_INFO, &generation.to_be_bytes()], &mut key[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self { key, generation }
    }

    /// The master-seed generation of the network key this transaction was encrypted to.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Encrypts output number `index` of kind `kind`:
    /// `AES-256-GCM-SIV(tx_key, iv = kind || 0x00 * 7 || index u32 BE, aad = "veil/out-v1", plaintext)`.
    ///
    /// Each `(kind, index)` pair must be used for one output per transaction. (Reusing one
    /// only reveals whether the two plaintexts are equal — GCM-SIV is misuse-resistant —
    /// but it is still a bug.)
    pub fn encrypt_output(&self, index: u32, kind: OutputKind, plaintext: &[u8]) -> Vec<u8> {
        aead_encrypt(&self.key, &kind.iv(index), OUTPUT_AAD, plaintext)
    }

    /// Decrypts output number `index` of kind `kind`; [`CryptoError::Decryption`] if the key,
    /// index or kind is wrong or the ciphertext was modified.
    pub fn decrypt_output(
        &self,
        index: u32,
        kind: OutputKind,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        aead_decrypt(&self.key, &kind.iv(index), OUTPUT_AAD, ciphertext)
    }
}

impl fmt::Debug for TxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxKey")
            .field("generation", &self.generation)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// Client side: encrypts `msg` for the contract code `code_hash`, to the network IO key
/// `network_public` of `generation`, with a fresh random 32-byte nonce from `rng`.
///
/// Returns the envelope bytes and the transaction key (to decrypt the results).
/// Errors with [`CryptoError::LowOrderPublicKey`] if `network_public` is a low-order point.
pub fn encrypt_input(
    rng: &mut impl CryptoRngCore,
    user_secret: &StaticSecret,
    network_public: &[u8; 32],
    generation: u32,
    code_hash: &[u8; 32],
    msg: &[u8],
) -> Result<(Vec<u8>, TxKey), CryptoError> {
    let mut nonce = [0u8; ENVELOPE_NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    encrypt_input_with_nonce(
        &nonce,
        user_secret,
        network_public,
        generation,
        code_hash,
        msg,
    )
}

/// [`encrypt_input`] with a caller-chosen nonce, for test vectors and deterministic tests.
///
/// The nonce must be unique per (user key, network key): reusing one makes two envelopes
/// share a transaction key (GCM-SIV then leaks only equality of messages and outputs, but
/// use [`encrypt_input`] in real clients).
pub fn encrypt_input_with_nonce(
    nonce: &[u8; 32],
    user_secret: &StaticSecret,
    network_public: &[u8; 32],
    generation: u32,
    code_hash: &[u8; 32],
    msg: &[u8],
) -> Result<(Vec<u8>, TxKey), CryptoError> {
    let shared = ecdh(user_secret, network_public)?;
    let tx_key = TxKey::from_shared(shared.as_bytes(), nonce, generation);
    let user_public = PublicKey::from(user_secret);

    let mut envelope = Vec::with_capacity(ENVELOPE_MIN_LEN + msg.len());
    envelope.push(ENVELOPE_VERSION);
    envelope.extend_from_slice(&generation.to_be_bytes());
    envelope.extend_from_slice(user_public.as_bytes());
    envelope.extend_from_slice(nonce);
    debug_assert_eq!(envelope.len(), ENVELOPE_HEADER_LEN);

    let mut plaintext = Zeroizing::new(Vec::with_capacity(32 + msg.len()));
    plaintext.extend_from_slice(code_hash);
    plaintext.extend_from_slice(msg);
    let ciphertext = aead_encrypt(&tx_key.key, &INPUT_IV, &envelope, &plaintext);
    envelope.extend_from_slice(&ciphertext);
    Ok((envelope, tx_key))
}

/// Reads the generation an envelope was encrypted to without decrypting it, so an enclave
/// holding several generations can pick the right [`IoKeypair`]. Checks version and length
/// like [`open_input`].
pub fn envelope_generation(envelope: &[u8]) -> Result<u32, CryptoError> {
    check_version_and_length(envelope)?;
    Ok(u32::from_be_bytes(envelope[1..5].try_into().unwrap()))
}

/// Enclave side: opens an envelope with the network IO key and checks that it was
/// encrypted for `expected_code_hash`.
///
/// Returns `(message, transaction key, user public key)`. Checks, in order:
/// empty → [`CryptoError::Truncated`]; version ≠ 1 → [`CryptoError::UnsupportedVersion`];
/// shorter than [`ENVELOPE_MIN_LEN`] → `Truncated`; generation ≠ `io.generation()` →
/// [`CryptoError::WrongGeneration`]; low-order user key → [`CryptoError::LowOrderPublicKey`];
/// authentication failure → [`CryptoError::Decryption`]; other code hash →
/// [`CryptoError::CodeHashMismatch`].
///
/// The returned user public key is authenticated (it is part of the associated data), but
/// it only proves who can read the results — not who signed the transaction.
pub fn open_input(
    io: &IoKeypair,
    envelope: &[u8],
    expected_code_hash: &[u8; 32],
) -> Result<(Vec<u8>, TxKey, [u8; 32]), CryptoError> {
    open_input_with(io, envelope, expected_code_hash, |user_public| {
        Ok(Zeroizing::new(*ecdh(io.secret(), user_public)?.as_bytes()))
    })
}

/// [`open_input`] for an enclave that sees the same senders again: the X25519 shared
/// secret of each user key is computed once and kept in `cache` (inside the enclave).
/// The cache belongs to one [`IoKeypair`]; use a new one for another generation.
pub fn open_input_cached(
    io: &IoKeypair,
    cache: &mut SharedSecretCache,
    envelope: &[u8],
    expected_code_hash: &[u8; 32],
) -> Result<(Vec<u8>, TxKey, [u8; 32]), CryptoError> {
    open_input_with(io, envelope, expected_code_hash, |user_public| {
        if let Some(shared) = cache.entries.get(user_public) {
            return Ok(shared.clone());
        }
        let shared = Zeroizing::new(*ecdh(io.secret(), user_public)?.as_bytes());
        if cache.entries.len() >= cache.capacity {
            cache.entries.clear(); // entries zeroize on drop
        }
        cache.entries.insert(*user_public, shared.clone());
        Ok(shared)
    })
}

/// Shared secrets by user public key (see [`open_input_cached`]), zeroized when dropped.
pub struct SharedSecretCache {
    entries: std::collections::HashMap<[u8; 32], Zeroizing<[u8; 32]>>,
    capacity: usize,
}

impl SharedSecretCache {
    /// A cache of at most `capacity` senders (cleared when full).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: std::collections::HashMap::new(),
            capacity: capacity.max(1),
        }
    }
}

impl fmt::Debug for SharedSecretCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SharedSecretCache({} entries, [REDACTED])",
            self.entries.len()
        )
    }
}

fn open_input_with(
    io: &IoKeypair,
    envelope: &[u8],
    expected_code_hash: &[u8; 32],
    shared_for: impl FnOnce(&[u8; 32]) -> Result<Zeroizing<[u8; 32]>, CryptoError>,
) -> Result<(Vec<u8>, TxKey, [u8; 32]), CryptoError> {
    let generation = envelope_generation(envelope)?;
    if generation != io.generation() {
        return Err(CryptoError::WrongGeneration {
            expected: io.generation(),
            found: generation,
        });
    }
    let (header, ciphertext) = envelope.split_at(ENVELOPE_HEADER_LEN);
    let user_public: [u8; 32] = header[5..37].try_into().unwrap();
    let nonce: [u8; 32] = header[37..69].try_into().unwrap();

    let shared = shared_for(&user_public)?;
    let tx_key = TxKey::from_shared(&shared, &nonce, generation);
    let plaintext = Zeroizing::new(aead_decrypt(&tx_key.key, &INPUT_IV, header, ciphertext)?);
    // The code hash is public; the comparison needs no constant time.
    if plaintext[..32] != expected_code_hash[..] {
        return Err(CryptoError::CodeHashMismatch);
    }
    Ok((plaintext[32..].to_vec(), tx_key, user_public))
}

fn check_version_and_length(envelope: &[u8]) -> Result<(), CryptoError> {
    match envelope.first() {
        None => Err(CryptoError::Truncated),
        Some(&v) if v != ENVELOPE_VERSION => Err(CryptoError::UnsupportedVersion(v)),
        Some(_) if envelope.len() < ENVELOPE_MIN_LEN => Err(CryptoError::Truncated),
        Some(_) => Ok(()),
    }
}

/// X25519, rejecting non-contributory results (the all-zero shared secret a low-order
/// public key produces).
fn ecdh(secret: &StaticSecret, public: &[u8; 32]) -> Result<SharedSecret, CryptoError> {
    let shared = secret.diffie_hellman(&PublicKey::from(*public));
    if !shared.was_contributory() {
        return Err(CryptoError::LowOrderPublicKey);
    }
    Ok(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_kinds_round_trip_and_zero_is_reserved() {
        assert_eq!(OutputKind::from_byte(0), None);
        assert_eq!(OutputKind::from_byte(9), None);
        for b in 1..=8 {
            let k = OutputKind::from_byte(b).unwrap();
            assert_eq!(k.as_byte(), b);
            assert_ne!(k.iv(0), INPUT_IV);
        }
        assert_eq!(
            OutputKind::AttributeValue.iv(0x0102_0304),
            [3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn tx_key_debug_is_redacted() {
        let secret = StaticSecret::from([2; 32]);
        let network = PublicKey::from(&StaticSecret::from([9; 32])).to_bytes();
        let key = TxKey::for_client(&secret, &network, 5, &[3; 32]).unwrap();
        let hex: String = key.key.iter().map(|b| format!("{b:02x}")).collect();
        let dbg = format!("{key:?}");
        assert_eq!(dbg, "TxKey { generation: 5, key: \"[REDACTED]\" }");
        assert!(!dbg.contains(&hex));
    }
}
