//! Sealing: encrypting data so that only this enclave (on this machine) can read it back.

use core::fmt;

use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::aead::{aead_decrypt, aead_encrypt, AEAD_NONCE_LEN, AEAD_TAG_LEN};
use crate::CryptoError;

/// Version byte at the start of every sealed blob.
pub const SEAL_VERSION: u8 = 1;
/// HKDF salt of the simulation sealing key.
pub const SIM_SEAL_SALT: &[u8] = b"veil-sim-seal-v1";
/// HKDF info of the simulation sealing key.
pub const SIM_SEAL_INFO: &[u8] = b"veil/sim-seal-key";
/// The shortest machine secret [`SimulatedSealer::new`] accepts.
pub const SIM_MACHINE_SECRET_MIN_LEN: usize = 32;

const BLOB_HEADER_LEN: usize = 1 + AEAD_NONCE_LEN;

/// Encrypts data to the enclave itself, for storage outside it (the master seed, caches).
///
/// In SGX this is EGETKEY sealing bound to MRENCLAVE: only the same enclave code on the same
/// CPU can unseal. `aad` is authenticated but not encrypted; unsealing with different `aad`
/// fails. Takes `&mut dyn CryptoRngCore` so the trait stays object-safe (`Box<dyn Sealer>`).
pub trait Sealer {
    /// Seals `plaintext` under `aad` with a fresh random nonce from `rng`.
    fn seal(&self, aad: &[u8], plaintext: &[u8], rng: &mut dyn CryptoRngCore) -> Vec<u8>;
    /// Opens a blob made by [`Sealer::seal`] with the same `aad`.
    fn unseal(&self, aad: &[u8], blob: &[u8]) -> Result<Vec<u8>, CryptoError>;
}

/// Sealing for the simulated enclave.
///
/// **It protects nothing against the host.** Its key is derived from a machine secret the
/// host itself reads from a file and passes in, so the host can derive the same key and
/// unseal everything. It exists so that simulation runs the same code path (seal → blob on
/// disk → unseal, versioned format, authenticated `aad`) a TEE build runs with real sealing.
///
/// Key: `HKDF-SHA256(ikm = machine_secret, salt = "veil-sim-seal-v1", info = "veil/sim-seal-key")`.
/// Blob: `version (0x01) || nonce (12, random) || AES-256-GCM-SIV(key, nonce, aad = 0x01 || aad, plaintext)`.
pub struct SimulatedSealer {
    key: Box<Zeroizing<[u8; 32]>>,
}

impl SimulatedSealer {
    /// Derives the sealing key from the host's per-machine secret (at least
    /// [`SIM_MACHINE_SECRET_MIN_LEN`] bytes; see [`SimulatedSealer::generate_machine_secret`]).
    pub fn new(machine_secret: &[u8]) -> Result<Self, CryptoError> {
        if machine_secret.len() < SIM_MACHINE_SECRET_MIN_LEN {
            return Err(CryptoError::SecretTooShort {
                min: SIM_MACHINE_SECRET_MIN_LEN,
                got: machine_secret.len(),
            });
        }
        let hk = Hkdf::<Sha256>::new(Some(SIM_SEAL_SALT), machine_secret);
        let mut key = Box::new(Zeroizing::new([0u8; 32]));
        hk.expand(SIM_SEAL_INFO, &mut key[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Ok(Self { key })
    }

    /// A fresh 32-byte machine secret for the host to store (it does the file I/O, not us).
    pub fn generate_machine_secret(rng: &mut impl CryptoRngCore) -> Zeroizing<[u8; 32]> {
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut secret[..]);
        secret
    }
}

fn blob_aad(aad: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(1 + aad.len());
    full.push(SEAL_VERSION);
    full.extend_from_slice(aad);
    full
}

impl Sealer for SimulatedSealer {
    fn seal(&self, aad: &[u8], plaintext: &[u8], rng: &mut dyn CryptoRngCore) -> Vec<u8> {
        let mut nonce = [0u8; AEAD_NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let ciphertext = aead_encrypt(&self.key, &nonce, &blob_aad(aad), plaintext);
        let mut blob = Vec::with_capacity(BLOB_HEADER_LEN + ciphertext.len());
        blob.push(SEAL_VERSION);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        blob
    }

    fn unseal(&self, aad: &[u8], blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match blob.first() {
            None => return Err(CryptoError::Truncated),
            Some(&v) if v != SEAL_VERSION => return Err(CryptoError::UnsupportedVersion(v)),
            Some(_) if blob.len() < BLOB_HEADER_LEN + AEAD_TAG_LEN => {
                return Err(CryptoError::Truncated)
            }
            Some(_) => {}
        }
        let nonce: [u8; AEAD_NONCE_LEN] = blob[1..BLOB_HEADER_LEN].try_into().unwrap();
        aead_decrypt(&self.key, &nonce, &blob_aad(aad), &blob[BLOB_HEADER_LEN..])
    }
}

impl fmt::Debug for SimulatedSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SimulatedSealer([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    fn sealer() -> SimulatedSealer {
        SimulatedSealer::new(&[0x42; 32]).unwrap()
    }

    #[test]
    fn round_trip_and_layout() {
        let s = sealer();
        let blob = s.seal(b"master-seed/gen0", b"secret seed bytes", &mut OsRng);
        assert_eq!(blob[0], SEAL_VERSION);
        assert_eq!(blob.len(), 1 + 12 + 17 + 16);
        assert_eq!(
            s.unseal(b"master-seed/gen0", &blob).unwrap(),
            b"secret seed bytes"
        );

        // The layout, recomputed from the primitives as docs/protocol.md states it.
        let hk = Hkdf::<Sha256>::new(Some(b"veil-sim-seal-v1"), &[0x42; 32]);
        let mut key = [0u8; 32];
        hk.expand(b"veil/sim-seal-key", &mut key).unwrap();
        let nonce: [u8; 12] = blob[1..13].try_into().unwrap();
        assert_eq!(
            aead_decrypt(&key, &nonce, b"\x01master-seed/gen0", &blob[13..]).unwrap(),
            b"secret seed bytes"
        );
    }

    #[test]
    fn fresh_nonce_each_time() {
        let s = sealer();
        assert_ne!(s.seal(b"", b"x", &mut OsRng), s.seal(b"", b"x", &mut OsRng));
    }

    #[test]
    fn rejects_tampering_wrong_aad_wrong_machine() {
        let s = sealer();
        let blob = s.seal(b"aad", b"plaintext", &mut OsRng);
        assert_eq!(s.unseal(b"other", &blob), Err(CryptoError::Decryption));
        let other = SimulatedSealer::new(&[0x43; 32]).unwrap();
        assert_eq!(other.unseal(b"aad", &blob), Err(CryptoError::Decryption));
        for i in 1..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 1;
            assert_eq!(
                s.unseal(b"aad", &bad),
                Err(CryptoError::Decryption),
                "byte {i}"
            );
        }
        let mut bad = blob.clone();
        bad[0] = 2;
        assert_eq!(
            s.unseal(b"aad", &bad),
            Err(CryptoError::UnsupportedVersion(2))
        );
        for len in 0..blob.len() {
            let err = s.unseal(b"aad", &blob[..len]).unwrap_err();
            if len < 1 + 12 + 16 {
                assert_eq!(err, CryptoError::Truncated, "len {len}");
            } else {
                assert_eq!(err, CryptoError::Decryption, "len {len}");
            }
        }
    }

    #[test]
    fn short_machine_secret_rejected_and_debug_redacted() {
        assert_eq!(
            SimulatedSealer::new(&[1; 31]).unwrap_err(),
            CryptoError::SecretTooShort { min: 32, got: 31 }
        );
        let secret = SimulatedSealer::generate_machine_secret(&mut OsRng);
        let s = SimulatedSealer::new(&secret[..]).unwrap();
        assert_eq!(format!("{s:?}"), "SimulatedSealer([REDACTED])");
        let boxed: Box<dyn Sealer> = Box::new(s);
        let blob = boxed.seal(b"", b"y", &mut OsRng);
        assert_eq!(boxed.unseal(b"", &blob).unwrap(), b"y");
    }
}
