//! Sharing the master seed with a registered enclave (`docs/protocol.md`, "Seed sharing").
//!
//! Every enclave that executes a `register_node` transaction encrypts the seed to the new
//! enclave's registration key, and all of them must write the same bytes into chain state
//! (the state root must agree), so the encryption is deterministic:
//!
//! ```text
//! exchange   = X25519 secret derive_key(seed, SeedExchange, generation, "")
//! shared     = X25519(exchange, registration_public)
//! share_key  = HKDF-SHA256(ikm = shared, salt = genesis_hash,
//!                          info = "veil/seed-share-v1" || registration_public)
//! share      = AES-256-GCM-SIV(share_key, nonce = 0^12,
//!                              aad = "veil/seed-share-v1" || genesis_hash || registration_public,
//!                              seed || generation u32 BE)
//! ```
//!
//! The nonce is fixed because the key is unique per (registration key, genesis) and only
//! ever encrypts the one seed; GCM-SIV is misuse-resistant besides. The new enclave
//! recomputes `shared` from its registration secret and the genesis' exchange public key.

use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::aead::{aead_decrypt, aead_encrypt};
use crate::kdf::{derive_key, KeyLabel, MasterSeed};
use crate::CryptoError;

/// Domain of the seed share's key derivation and associated data.
pub const SEED_SHARE_INFO: &[u8] = b"veil/seed-share-v1";
/// Bytes of a seed share: 32 (seed) + 4 (generation) + 16 (tag).
pub const SEED_SHARE_LEN: usize = 52;

/// The exchange keypair of a seed generation (secret from the seed; public in genesis).
pub fn seed_exchange_secret(seed: &MasterSeed, generation: u32) -> StaticSecret {
    StaticSecret::from(*derive_key(seed, KeyLabel::SeedExchange, generation, b""))
}

/// The public key registering enclaves compute their share key with.
pub fn seed_exchange_public(seed: &MasterSeed, generation: u32) -> [u8; 32] {
    PublicKey::from(&seed_exchange_secret(seed, generation)).to_bytes()
}

fn share_key(
    shared: &[u8; 32],
    genesis_hash: &[u8; 32],
    registration_public: &[u8; 32],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    // An all-zero shared secret means a low-order public key: refuse it.
    if shared.iter().all(|b| *b == 0) {
        return Err(CryptoError::LowOrderPublicKey);
    }
    let hk = Hkdf::<Sha256>::new(Some(genesis_hash), shared);
    let mut key = Zeroizing::new([0u8; 32]);
    hk.expand_multi_info(&[SEED_SHARE_INFO, registration_public], &mut key[..])
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Ok(key)
}

fn aad(genesis_hash: &[u8; 32], registration_public: &[u8; 32]) -> Vec<u8> {
    [SEED_SHARE_INFO, genesis_hash, registration_public].concat()
}

/// Encrypts `seed` (of `generation`) to a registered enclave's X25519 key, deterministically.
pub fn share_seed(
    seed: &MasterSeed,
    generation: u32,
    genesis_hash: &[u8; 32],
    registration_public: &[u8; 32],
) -> Result<Vec<u8>, CryptoError> {
    let exchange = seed_exchange_secret(seed, generation);
    let shared = Zeroizing::new(
        exchange
            .diffie_hellman(&PublicKey::from(*registration_public))
            .to_bytes(),
    );
    let key = share_key(&shared, genesis_hash, registration_public)?;
    let mut plain = Zeroizing::new([0u8; 36]);
    plain[..32].copy_from_slice(seed.expose_bytes());
    plain[32..].copy_from_slice(&generation.to_be_bytes());
    Ok(aead_encrypt(
        &key,
        &[0; 12],
        &aad(genesis_hash, registration_public),
        &plain[..],
    ))
}

/// Opens a seed share with the registration secret; returns the seed and its generation.
/// The caller must still check that the seed derives the genesis network key.
pub fn open_seed_share(
    share: &[u8],
    registration_secret: &StaticSecret,
    exchange_public: &[u8; 32],
    genesis_hash: &[u8; 32],
) -> Result<(MasterSeed, u32), CryptoError> {
    let registration_public = PublicKey::from(registration_secret).to_bytes();
    let shared = Zeroizing::new(
        registration_secret
            .diffie_hellman(&PublicKey::from(*exchange_public))
            .to_bytes(),
    );
    let key = share_key(&shared, genesis_hash, &registration_public)?;
    let plain = Zeroizing::new(aead_decrypt(
        &key,
        &[0; 12],
        &aad(genesis_hash, &registration_public),
        share,
    )?);
    if plain.len() != 36 {
        return Err(CryptoError::Decryption);
    }
    let seed: [u8; 32] = plain[..32].try_into().expect("32 bytes");
    let generation = u32::from_be_bytes(plain[32..].try_into().expect("4 bytes"));
    Ok((MasterSeed::from_bytes(seed), generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_open_only_for_their_key_and_genesis_and_are_deterministic() {
        let seed = MasterSeed::from_bytes([1; 32]);
        let genesis = [2; 32];
        let registration = StaticSecret::from([3; 32]);
        let public = PublicKey::from(&registration).to_bytes();
        let share = share_seed(&seed, 0, &genesis, &public).unwrap();
        assert_eq!(share.len(), SEED_SHARE_LEN);
        assert_eq!(share, share_seed(&seed, 0, &genesis, &public).unwrap());
        let exchange = seed_exchange_public(&seed, 0);
        let (opened, generation) =
            open_seed_share(&share, &registration, &exchange, &genesis).unwrap();
        assert_eq!(opened.expose_bytes(), seed.expose_bytes());
        assert_eq!(generation, 0);
        // Another registration key, another genesis, a flipped bit: nothing opens.
        let other = StaticSecret::from([4; 32]);
        assert!(open_seed_share(&share, &other, &exchange, &genesis).is_err());
        assert!(open_seed_share(&share, &registration, &exchange, &[9; 32]).is_err());
        let mut flipped = share.clone();
        flipped[5] ^= 1;
        assert!(open_seed_share(&flipped, &registration, &exchange, &genesis).is_err());
        // A low-order registration key is refused.
        assert!(matches!(
            share_seed(&seed, 0, &genesis, &[0; 32]),
            Err(CryptoError::LowOrderPublicKey)
        ));
    }
}
