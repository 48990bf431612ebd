//! Key derivation from the network master seed.

use core::fmt;

use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::CryptoError;

/// HKDF salt for every key derived from the master seed.
pub const KDF_SALT: &[u8] = b"veil-kdf-v1";

/// The network master seed: 32 secret bytes every enclave of the network shares.
///
/// Kept on the heap (so moves don't leave copies on the stack) and zeroized on drop.
/// Not `Clone`; prints as `MasterSeed([REDACTED])`.
pub struct MasterSeed(Box<Zeroizing<[u8; 32]>>);

impl MasterSeed {
    /// Seed length in bytes.
    pub const LEN: usize = 32;

    /// Draws a fresh seed from `rng` (in production: [`rand_core::OsRng`] inside the enclave).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut seed = Box::new(Zeroizing::new([0u8; 32]));
        rng.fill_bytes(&mut seed[..]);
        Self(seed)
    }

    /// Wraps existing seed bytes (e.g. just unsealed).
    ///
    /// The argument is a copy the caller should not keep around; prefer [`Self::from_slice`]
    /// on a buffer the caller zeroizes (e.g. a `Zeroizing<Vec<u8>>`).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let bytes = Zeroizing::new(bytes); // wipes this stack copy on return
        let mut seed = Box::new(Zeroizing::new([0u8; 32]));
        seed.copy_from_slice(&bytes[..]);
        Self(seed)
    }

    /// Copies seed bytes from a slice, which must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != Self::LEN {
            return Err(CryptoError::InvalidLength {
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        let mut seed = Box::new(Zeroizing::new([0u8; 32]));
        seed.copy_from_slice(bytes);
        Ok(Self(seed))
    }

    /// The raw seed, for sealing it (and nothing else). Everything else should go through
    /// [`derive_key`] and the functions built on it.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for MasterSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterSeed([REDACTED])")
    }
}

/// Domain-separation labels for keys derived from the master seed. Each is an ASCII string
/// without NUL bytes, so `label || 0x00` is unambiguous in the HKDF info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyLabel {
    /// `b"veil/io-x25519"`: the network IO X25519 secret users encrypt transactions to.
    IoKey,
    /// `b"veil/state"`: the root of contract-state encryption keys.
    StateKey,
    /// `b"veil/contract"`: per-contract keys binding state to code, address and creator.
    ContractKey,
    /// `b"veil/random"`: private per-call randomness.
    Randomness,
    /// `b"veil/seed-exchange-x25519"`: the X25519 secret that encrypts the master seed
    /// to a registering enclave (its public key is in the genesis).
    SeedExchange,
}

impl KeyLabel {
    /// The label's bytes as they enter the HKDF info.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            KeyLabel::IoKey => b"veil/io-x25519",
            KeyLabel::StateKey => b"veil/state",
            KeyLabel::ContractKey => b"veil/contract",
            KeyLabel::Randomness => b"veil/random",
            KeyLabel::SeedExchange => b"veil/seed-exchange-x25519",
        }
    }
}

/// Derives a 32-byte key from the master seed:
///
/// `HKDF-SHA256(ikm = seed, salt = "veil-kdf-v1", info = label || 0x00 || generation (u32 BE) || context)`.
///
/// `generation` is the master-seed generation the key belongs to; the same label and context
/// under another generation gives an unrelated key.
pub fn derive_key(
    seed: &MasterSeed,
    label: KeyLabel,
    generation: u32,
    context: &[u8],
) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(KDF_SALT), seed.expose_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    hk.expand_multi_info(
        &[label.as_bytes(), &[0u8], &generation.to_be_bytes(), context],
        &mut out[..],
    )
    .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// The network IO keypair of one seed generation. Users encrypt transaction envelopes to
/// [`IoKeypair::public`]; only enclaves holding the master seed can open them.
///
/// The secret is zeroized on drop; `Debug` shows only the generation and public key.
#[derive(Clone)]
pub struct IoKeypair {
    secret: StaticSecret,
    public: [u8; 32],
    generation: u32,
}

impl IoKeypair {
    /// The X25519 secret is `derive_key(seed, IoKey, generation, b"")`, used as an X25519
    /// scalar (clamped per RFC 7748 at use).
    pub fn derive(seed: &MasterSeed, generation: u32) -> Self {
        let bytes = derive_key(seed, KeyLabel::IoKey, generation, b"");
        let secret = StaticSecret::from(*bytes);
        let public = PublicKey::from(&secret).to_bytes();
        Self {
            secret,
            public,
            generation,
        }
    }

    /// A keypair around a secret that does not come from the seed (a dev chain's inspect
    /// owner key, which opens what the enclave seals to it).
    pub(crate) fn from_secret(secret: StaticSecret, generation: u32) -> Self {
        let public = PublicKey::from(&secret).to_bytes();
        Self {
            secret,
            public,
            generation,
        }
    }

    /// The X25519 public key users encrypt to.
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// The master-seed generation this key belongs to.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub(crate) fn secret(&self) -> &StaticSecret {
        &self.secret
    }
}

impl fmt::Debug for IoKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoKeypair")
            .field("generation", &self.generation)
            .field("public", &HexBytes(&self.public))
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Derives the key of one contract instance:
///
/// `derive_key(seed, ContractKey, generation,
///     code_hash (32) || len(address) u16 BE || address || len(creator) u16 BE || creator)`.
///
/// The key binds the contract's state to its code, its address and its creator: the same
/// state under other code (or at another address) is encrypted under an unrelated key.
///
/// Errors with [`CryptoError::FieldTooLong`] if an address is longer than 65535 bytes.
pub fn contract_key(
    seed: &MasterSeed,
    generation: u32,
    code_hash: &[u8; 32],
    contract_address: &str,
    creator: &str,
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut context = Vec::with_capacity(32 + 2 + contract_address.len() + 2 + creator.len());
    context.extend_from_slice(code_hash);
    push_u16_prefixed(
        &mut context,
        "contract_address",
        contract_address.as_bytes(),
    )?;
    push_u16_prefixed(&mut context, "creator", creator.as_bytes())?;
    Ok(derive_key(
        seed,
        KeyLabel::ContractKey,
        generation,
        &context,
    ))
}

/// Private randomness for one contract call:
///
/// `derive_key(seed, Randomness, generation, block_height u64 BE || tx_index u32 BE || contract_address)`.
///
/// Unpredictable to anyone without the seed (including the host and the block producer),
/// identical on every enclave executing the same call, and different for every
/// (height, tx, contract). The address is the last field, so it needs no length prefix.
pub fn call_randomness(
    seed: &MasterSeed,
    generation: u32,
    block_height: u64,
    tx_index: u32,
    contract_address: &str,
) -> [u8; 32] {
    let mut context = Vec::with_capacity(8 + 4 + contract_address.len());
    context.extend_from_slice(&block_height.to_be_bytes());
    context.extend_from_slice(&tx_index.to_be_bytes());
    context.extend_from_slice(contract_address.as_bytes());
    *derive_key(seed, KeyLabel::Randomness, generation, &context)
}

fn push_u16_prefixed(
    out: &mut Vec<u8>,
    field: &'static str,
    bytes: &[u8],
) -> Result<(), CryptoError> {
    let len = u16::try_from(bytes.len()).map_err(|_| CryptoError::FieldTooLong {
        field,
        len: bytes.len(),
        max: u16::MAX as usize,
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Debug-formats public bytes as lowercase hex.
pub(crate) struct HexBytes<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> MasterSeed {
        MasterSeed::from_bytes([1; 32])
    }

    #[test]
    fn labels_are_distinct_and_nul_free() {
        let labels = [
            KeyLabel::IoKey,
            KeyLabel::StateKey,
            KeyLabel::ContractKey,
            KeyLabel::Randomness,
        ];
        for (i, a) in labels.iter().enumerate() {
            assert!(!a.as_bytes().contains(&0));
            for b in &labels[i + 1..] {
                assert_ne!(a.as_bytes(), b.as_bytes());
                assert_ne!(
                    *derive_key(&seed(), *a, 0, b""),
                    *derive_key(&seed(), *b, 0, b"")
                );
            }
        }
    }

    #[test]
    fn derive_key_matches_hkdf_definition() {
        let hk = Hkdf::<Sha256>::new(Some(b"veil-kdf-v1"), &[1; 32]);
        let mut expected = [0u8; 32];
        hk.expand(b"veil/state\x00\x00\x00\x01\x02ctx", &mut expected)
            .unwrap();
        assert_eq!(
            *derive_key(&seed(), KeyLabel::StateKey, 0x0102, b"ctx"),
            expected
        );
    }

    #[test]
    fn generation_and_context_separate_keys() {
        let s = seed();
        let k = derive_key(&s, KeyLabel::StateKey, 0, b"");
        assert_ne!(*k, *derive_key(&s, KeyLabel::StateKey, 1, b""));
        assert_ne!(*k, *derive_key(&s, KeyLabel::StateKey, 0, b"x"));
        let other = MasterSeed::from_bytes([2; 32]);
        assert_ne!(*k, *derive_key(&other, KeyLabel::StateKey, 0, b""));
    }

    #[test]
    fn contract_key_fields_are_unambiguous() {
        let s = seed();
        let h = [7; 32];
        let k = contract_key(&s, 0, &h, "ab", "c").unwrap();
        // Moving a byte from one field to the other must change the key.
        assert_ne!(*k, *contract_key(&s, 0, &h, "a", "bc").unwrap());
        assert_ne!(*k, *contract_key(&s, 0, &[8; 32], "ab", "c").unwrap());
        assert_ne!(*k, *contract_key(&s, 1, &h, "ab", "c").unwrap());
        let long = "a".repeat(65_536);
        assert_eq!(
            contract_key(&s, 0, &h, &long, "c"),
            Err(CryptoError::FieldTooLong {
                field: "contract_address",
                len: 65_536,
                max: 65_535
            })
        );
        assert!(contract_key(&s, 0, &h, "a", &long).is_err());
        assert!(contract_key(&s, 0, &h, &long[1..], &long[1..]).is_ok());
    }

    #[test]
    fn randomness_differs_per_call() {
        let s = seed();
        let r = call_randomness(&s, 0, 10, 0, "veil1a");
        assert_eq!(r, call_randomness(&s, 0, 10, 0, "veil1a"));
        assert_ne!(r, call_randomness(&s, 0, 11, 0, "veil1a"));
        assert_ne!(r, call_randomness(&s, 0, 10, 1, "veil1a"));
        assert_ne!(r, call_randomness(&s, 0, 10, 0, "veil1b"));
        assert_ne!(r, call_randomness(&s, 1, 10, 0, "veil1a"));
    }

    #[test]
    fn seed_constructors_and_debug() {
        let s = MasterSeed::generate(&mut rand_core::OsRng);
        let t = MasterSeed::from_slice(s.expose_bytes()).unwrap();
        assert_eq!(s.expose_bytes(), t.expose_bytes());
        assert_eq!(
            MasterSeed::from_slice(&[0; 31]).unwrap_err(),
            CryptoError::InvalidLength {
                expected: 32,
                got: 31
            }
        );
        assert_eq!(format!("{s:?}"), "MasterSeed([REDACTED])");
        let io = IoKeypair::derive(&seed(), 3);
        let dbg = format!("{io:?}");
        assert!(dbg.contains("generation: 3"));
        assert!(dbg.contains("REDACTED"));
        let secret = derive_key(&seed(), KeyLabel::IoKey, 3, b"");
        let secret_hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!dbg.contains(&secret_hex));
    }
}
