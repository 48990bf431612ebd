//! Dev-chain inspection: what an enclave seals to its dev chain's owner
//! (`docs/protocol.md`, "Dev inspect").
//!
//! A sealed answer is a transaction envelope written by the enclave to the owner's X25519
//! key: a fresh ephemeral sender key per answer, generation 0, and
//! [`inspect_binding`] where a transaction has its code hash. Only the owner's secret
//! opens it; it can never be taken for a transaction (no network key is involved, and no
//! contract code has this hash as far as anyone can find).

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use x25519_dalek::StaticSecret;

use crate::envelope::{encrypt_input, open_input};
use crate::{CryptoError, IoKeypair};

/// The domain hashed into [`inspect_binding`].
pub const INSPECT_DOMAIN: &[u8] = b"veil/inspect-v1";

/// `SHA-256("veil/inspect-v1")`: what a sealed answer binds instead of a code hash.
pub fn inspect_binding() -> [u8; 32] {
    Sha256::digest(INSPECT_DOMAIN).into()
}

/// Enclave side: seals `plaintext` to the owner key `owner_public`.
pub fn seal_for_owner(
    rng: &mut impl CryptoRngCore,
    owner_public: &[u8; 32],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let ephemeral = StaticSecret::random_from_rng(&mut *rng);
    let (sealed, _) = encrypt_input(
        rng,
        &ephemeral,
        owner_public,
        0,
        &inspect_binding(),
        plaintext,
    )?;
    Ok(sealed)
}

/// Owner side: opens an answer sealed by [`seal_for_owner`] with the owner's secret;
/// [`CryptoError::Decryption`] under any other key.
pub fn open_as_owner(owner_secret: &StaticSecret, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let owner = IoKeypair::from_secret(owner_secret.clone(), 0);
    let (plaintext, _, _) = open_input(&owner, sealed, &inspect_binding())?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;
    use x25519_dalek::PublicKey;

    #[test]
    fn only_the_owner_opens_an_answer() {
        let owner = StaticSecret::random_from_rng(OsRng);
        let public = PublicKey::from(&owner).to_bytes();
        let sealed = seal_for_owner(&mut OsRng, &public, b"{\"k\":1}").unwrap();
        assert_eq!(open_as_owner(&owner, &sealed).unwrap(), b"{\"k\":1}");
        let other = StaticSecret::random_from_rng(OsRng);
        assert_eq!(open_as_owner(&other, &sealed), Err(CryptoError::Decryption));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            open_as_owner(&owner, &tampered),
            Err(CryptoError::Decryption)
        );
        // Two answers of the same plaintext look unrelated.
        let again = seal_for_owner(&mut OsRng, &public, b"{\"k\":1}").unwrap();
        assert_ne!(sealed, again);
    }
}
