//! Signature primitives behind `ecrecover` and `ed25519_verify`, with nearcore's
//! acceptance rules (near-crypto on libsecp256k1; ed25519-dalek 2).

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use k256::elliptic_curve::scalar::IsHigh;

/// The uncompressed public key (x ‖ y, 64 bytes) that signed `hash`, or `None` if the
/// signature is invalid. With `reject_upper`, signatures whose `s` is in the upper half
/// of the curve order are refused (malleability), as nearcore does.
pub(crate) fn secp256k1_recover(
    hash: &[u8],
    signature: &[u8],
    v: u8,
    reject_upper: bool,
) -> Option<[u8; 64]> {
    // near-crypto's `check_signature_values`: r < n and s < n (or s ≤ n/2); zero is left
    // to the recovery, which refuses it.
    let signature = Signature::from_slice(signature).ok()?;
    if reject_upper && bool::from(signature.s().is_high()) {
        return None;
    }
    // libsecp256k1 recovers from a high `s` too; k256 only from a low one. (r, n − s)
    // with the y parity flipped is the same signature in low form.
    let (signature, v) = match signature.normalize_s() {
        Some(low) => (low, v ^ 1),
        None => (signature, v),
    };
    let recovery_id = RecoveryId::from_byte(v)?;
    let key = VerifyingKey::recover_from_prehash(hash, &signature, recovery_id).ok()?;
    let point = key.to_encoded_point(false);
    point.as_bytes()[1..].try_into().ok()
}

/// Ed25519 verification as nearcore does it (`VerifyingKey::verify`, not `verify_strict`).
pub(crate) fn ed25519_verify(signature: &[u8; 64], message: &[u8], public_key: &[u8; 32]) -> bool {
    use ed25519_dalek::Verifier;
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    key.verify(message, &ed25519_dalek::Signature::from_bytes(signature))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::SigningKey;
    use sha2::Digest;

    #[test]
    fn recovers_the_signer_from_low_and_high_s() {
        let signer = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let hash: [u8; 32] = sha2::Sha256::digest(b"veil").into();
        let (signature, recovery_id) = signer.sign_prehash_recoverable(&hash).unwrap();
        let expected: [u8; 64] = signer.verifying_key().to_encoded_point(false).as_bytes()[1..]
            .try_into()
            .unwrap();
        let v = recovery_id.to_byte();
        assert_eq!(
            secp256k1_recover(&hash, &signature.to_bytes(), v, true),
            Some(expected)
        );
        // The same signature with s' = n - s and the parity flipped.
        let high = Signature::from_scalars(signature.r(), -*signature.s()).unwrap();
        assert_eq!(
            secp256k1_recover(&hash, &high.to_bytes(), v ^ 1, false),
            Some(expected)
        );
        assert_eq!(
            secp256k1_recover(&hash, &high.to_bytes(), v ^ 1, true),
            None
        );
        assert_eq!(secp256k1_recover(&hash, &[0u8; 64], 0, false), None);
    }

    #[test]
    fn ed25519_accepts_only_the_right_message() {
        use ed25519_dalek::Signer;
        let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let signature = key.sign(b"hello").to_bytes();
        let public = key.verifying_key().to_bytes();
        assert!(ed25519_verify(&signature, b"hello", &public));
        assert!(!ed25519_verify(&signature, b"hellp", &public));
    }
}
