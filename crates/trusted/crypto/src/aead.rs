//! AES-256-GCM-SIV (RFC 8452), the only AEAD in the protocol.

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Key, Nonce};

use crate::CryptoError;

/// AES-GCM-SIV nonce length in bytes.
pub const AEAD_NONCE_LEN: usize = 12;
/// AES-GCM-SIV authentication tag length in bytes (appended to the ciphertext).
pub const AEAD_TAG_LEN: usize = 16;

/// Encrypts `plaintext` with AES-256-GCM-SIV and returns `ciphertext || tag`
/// (`plaintext.len() + 16` bytes).
///
/// GCM-SIV is nonce-misuse resistant: encrypting two different plaintexts under the same
/// key and nonce reveals only whether they are equal, not their contents.
///
/// # Panics
/// If `plaintext` or `aad` is longer than 2^36 bytes (the RFC 8452 limit).
pub fn aead_encrypt(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    Aes256GcmSiv::new(Key::<Aes256GcmSiv>::from_slice(key))
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM-SIV input exceeds 2^36 bytes")
}

/// Decrypts and authenticates `ciphertext || tag` produced by [`aead_encrypt`].
///
/// Any mismatch (key, nonce, associated data, modified or short ciphertext) is
/// [`CryptoError::Decryption`]; nothing is returned unless the tag verifies.
pub fn aead_decrypt(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    Aes256GcmSiv::new(Key::<Aes256GcmSiv>::from_slice(key))
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Decryption)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8452, Appendix C.2 (AEAD_AES_256_GCM_SIV), the first vector with both
    /// plaintext and AAD: checks we call the right algorithm with the right argument order.
    #[test]
    fn rfc8452_vector() {
        let key = hex("0100000000000000000000000000000000000000000000000000000000000000");
        let nonce = hex("030000000000000000000000");
        let aad = hex("01");
        let pt = hex("0200000000000000");
        let ct = hex("1de22967237a813291213f267e3b452f02d01ae33e4ec854");
        let key: [u8; 32] = key.try_into().unwrap();
        let nonce: [u8; 12] = nonce.try_into().unwrap();
        assert_eq!(aead_encrypt(&key, &nonce, &aad, &pt), ct);
        assert_eq!(aead_decrypt(&key, &nonce, &aad, &ct).unwrap(), pt);
        assert_eq!(
            aead_decrypt(&key, &nonce, b"", &ct),
            Err(CryptoError::Decryption)
        );
    }

    #[test]
    fn short_ciphertext_is_decryption_error() {
        for len in 0..AEAD_TAG_LEN {
            assert_eq!(
                aead_decrypt(&[0; 32], &[0; 12], b"", &vec![0; len]),
                Err(CryptoError::Decryption)
            );
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        ::hex::decode(s).unwrap()
    }
}
