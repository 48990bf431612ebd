use thiserror::Error;

/// Everything that can go wrong in this crate.
///
/// Variants carry only public protocol values (version numbers, generations, lengths) —
/// never plaintext, key material or anything derived from a secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The input is shorter than its fixed-size parts (header, nonce, tag, code hash).
    #[error("input truncated")]
    Truncated,
    /// The version byte is not one this code understands.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// The envelope was encrypted to a different generation of the network IO key.
    #[error("wrong key generation: expected {expected}, found {found}")]
    WrongGeneration {
        /// The generation of the key that tried to open it.
        expected: u32,
        /// The generation written in the envelope.
        found: u32,
    },
    /// A public key is a low-order (or otherwise non-contributory) curve point: the
    /// Diffie-Hellman result would be all zeros, i.e. known to everyone.
    #[error("public key is a low-order point")]
    LowOrderPublicKey,
    /// Authenticated decryption failed: wrong key, wrong nonce/index/kind, wrong associated
    /// data, or the ciphertext was modified.
    #[error("decryption failed")]
    Decryption,
    /// The message decrypted but was encrypted for different contract code.
    #[error("message was encrypted for different contract code")]
    CodeHashMismatch,
    /// A variable-length field does not fit its length prefix.
    #[error("{field} is too long ({len} bytes, at most {max})")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The largest length the layout can express.
        max: usize,
    },
    /// A secret given as input (e.g. the simulation machine secret) is too short to be one.
    #[error("secret too short: at least {min} bytes required, got {got}")]
    SecretTooShort {
        /// Minimum length in bytes.
        min: usize,
        /// Length received.
        got: usize,
    },
    /// A byte string has the wrong length for a fixed-size key or seed.
    #[error("invalid length: expected {expected} bytes, got {got}")]
    InvalidLength {
        /// Required length in bytes.
        expected: usize,
        /// Length received.
        got: usize,
    },
}
