//! Consensus data shared by the untrusted host (which runs the BFT engine) and the enclave
//! (which re-verifies every commit certificate itself): validator sets, the bytes a
//! validator signs when it votes, commit certificates and their verification.
//!
//! Nothing here depends on the consensus engine (Malachite): the enclave links this module
//! and trusts only its own copy of the validator set. Signatures are ed25519 verified with
//! the ZIP-215 rules of `ed25519-consensus`, the same crate Malachite's `signing-ed25519`
//! uses, so the host's engine and every enclave agree on which signatures are valid.
//!
//! # Validators
//!
//! A validator is an ed25519 public key (32 bytes) with a voting power (`u64`, > 0). Its
//! address is `SHA-256(public key)[..20]` (as CometBFT's). A [`ValidatorSet`] holds
//! distinct keys ordered by address (ascending bytes); the total voting power must fit a
//! `u64`.
//!
//! # Vote sign bytes (`veil/vote-v1`)
//!
//! A validator's ed25519 signature on a vote is over exactly these bytes
//! ([`vote_sign_bytes`]):
//!
//! | field      | bytes                                                   |
//! |------------|---------------------------------------------------------|
//! | domain     | `"veil/vote-v1"` (12 ASCII bytes)                       |
//! | chain id   | length as u32 big-endian, then the UTF-8 chain id       |
//! | type       | 1 byte: `0x01` prevote, `0x02` precommit                |
//! | height     | u64 big-endian                                          |
//! | round      | u32 big-endian                                          |
//! | value      | 1 byte `0x00` (nil), or `0x01` then the 32-byte block hash |
//!
//! Nothing else is signed (no timestamp, no vote extension): two honest validators voting
//! for the same block at the same height and round sign identical bytes.
//!
//! # Commit certificates
//!
//! A [`CommitCertificate`] names a height, a round and a block hash, and carries
//! `(validator address, 64-byte signature)` pairs. [`verify_commit_certificate`] accepts it
//! only if it is for exactly the expected height and block hash, every signer is in the
//! set and appears once, every signature verifies over the **precommit** sign bytes of
//! that height, round and block hash, and the signers hold more than 2/3 of the set's total
//! voting power (`3 × signed > 2 × total`).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Hash;

/// Domain separation of vote signatures.
pub const VOTE_SIGN_DOMAIN: &[u8] = b"veil/vote-v1";

/// A validator's address: the first 20 bytes of SHA-256 of its ed25519 public key.
/// Hex in JSON; 20 bytes in postcard.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorAddress(pub [u8; 20]);

impl Serialize for ValidatorAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(self.0))
        } else {
            s.serialize_newtype_struct("ValidatorAddress", &self.0)
        }
    }
}

impl<'de> Deserialize<'de> for ValidatorAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "ValidatorAddress")]
        struct Raw([u8; 20]);
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
            bytes.try_into().map(ValidatorAddress).map_err(|_| {
                serde::de::Error::custom("a validator address is 20 bytes (40 hex digits)")
            })
        } else {
            Raw::deserialize(d).map(|raw| ValidatorAddress(raw.0))
        }
    }
}

impl ValidatorAddress {
    pub fn from_public_key(public_key: &[u8; 32]) -> Self {
        let digest = Sha256::digest(public_key);
        let mut address = [0u8; 20];
        address.copy_from_slice(&digest[..20]);
        ValidatorAddress(address)
    }
}

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidatorAddress({self})")
    }
}

/// One member of a validator set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub address: ValidatorAddress,
    pub public_key: [u8; 32],
    pub voting_power: u64,
    key: ed25519_consensus::VerificationKey,
}

impl Validator {
    pub fn verification_key(&self) -> &ed25519_consensus::VerificationKey {
        &self.key
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    #[error("a validator set needs at least one validator")]
    Empty,
    #[error("validator {0} has zero voting power")]
    ZeroPower(ValidatorAddress),
    #[error("public key {} is not a valid ed25519 point", hex::encode(.0))]
    InvalidKey([u8; 32]),
    #[error("validator {0} appears twice")]
    Duplicate(ValidatorAddress),
    #[error("the total voting power overflows u64")]
    PowerOverflow,
}

/// Validators ordered by address, with distinct keys and a total power that fits a u64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total_power: u64,
}

impl ValidatorSet {
    /// Builds a set from `(ed25519 public key, voting power)` pairs in any order.
    pub fn new(
        members: impl IntoIterator<Item = ([u8; 32], u64)>,
    ) -> Result<Self, ValidatorSetError> {
        let mut validators = Vec::new();
        let mut total: u64 = 0;
        for (public_key, voting_power) in members {
            let address = ValidatorAddress::from_public_key(&public_key);
            if voting_power == 0 {
                return Err(ValidatorSetError::ZeroPower(address));
            }
            let key = ed25519_consensus::VerificationKey::try_from(public_key)
                .map_err(|_| ValidatorSetError::InvalidKey(public_key))?;
            total = total
                .checked_add(voting_power)
                .ok_or(ValidatorSetError::PowerOverflow)?;
            validators.push(Validator {
                address,
                public_key,
                voting_power,
                key,
            });
        }
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        validators.sort_by_key(|v| v.address);
        if let Some(pair) = validators.windows(2).find(|w| w[0].address == w[1].address) {
            return Err(ValidatorSetError::Duplicate(pair[0].address));
        }
        Ok(ValidatorSet {
            validators,
            total_power: total,
        })
    }

    /// The validators, ordered by address.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    pub fn len(&self) -> usize {
        self.validators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    pub fn total_power(&self) -> u64 {
        self.total_power
    }

    pub fn get(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators
            .binary_search_by(|v| v.address.cmp(address))
            .ok()
            .map(|i| &self.validators[i])
    }

    pub fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }

    /// Whether `power` is more than 2/3 of the total voting power.
    pub fn is_quorum(&self, power: u64) -> bool {
        3 * u128::from(power) > 2 * u128::from(self.total_power)
    }
}

/// The two kinds of votes of a Tendermint round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoteType {
    Prevote,
    Precommit,
}

impl VoteType {
    fn tag(self) -> u8 {
        match self {
            VoteType::Prevote => 0x01,
            VoteType::Precommit => 0x02,
        }
    }
}

/// The bytes a validator signs for a vote (layout in the module documentation).
pub fn vote_sign_bytes(
    chain_id: &str,
    vote_type: VoteType,
    height: u64,
    round: u32,
    value: Option<&Hash>,
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(VOTE_SIGN_DOMAIN.len() + 4 + chain_id.len() + 46);
    bytes.extend_from_slice(VOTE_SIGN_DOMAIN);
    bytes.extend_from_slice(&(chain_id.len() as u32).to_be_bytes());
    bytes.extend_from_slice(chain_id.as_bytes());
    bytes.push(vote_type.tag());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&round.to_be_bytes());
    match value {
        None => bytes.push(0x00),
        Some(hash) => {
            bytes.push(0x01);
            bytes.extend_from_slice(hash);
        }
    }
    bytes
}

/// One validator's precommit signature in a commit certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSignature {
    pub validator: ValidatorAddress,
    #[serde(with = "signature_bytes")]
    pub signature: [u8; 64],
}

/// Proof that a block was decided: precommits of more than 2/3 of the voting power for
/// `block_hash` at `height` and `round`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitCertificate {
    pub height: u64,
    pub round: u32,
    #[serde(with = "crate::serde_hash")]
    pub block_hash: Hash,
    pub signatures: Vec<CommitSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("certificate is for height {found}, expected {expected}")]
    WrongHeight { expected: u64, found: u64 },
    #[error("certificate is for block {}, expected {}", hex::encode(.found), hex::encode(.expected))]
    WrongBlock { expected: Hash, found: Hash },
    #[error("validator {0} is not in the validator set")]
    UnknownSigner(ValidatorAddress),
    #[error("validator {0} signed more than once")]
    DuplicateSigner(ValidatorAddress),
    #[error("validator {0}'s signature is not a precommit for this height, round and block")]
    InvalidSignature(ValidatorAddress),
    #[error("signers hold {signed} of {total} voting power, more than 2/3 is needed")]
    InsufficientPower { signed: u64, total: u64 },
}

/// Verifies `cert` against `validators` (see the module documentation for the rules).
pub fn verify_commit_certificate(
    cert: &CommitCertificate,
    validators: &ValidatorSet,
    chain_id: &str,
    expected_height: u64,
    expected_block_hash: &Hash,
) -> Result<(), CertificateError> {
    if cert.height != expected_height {
        return Err(CertificateError::WrongHeight {
            expected: expected_height,
            found: cert.height,
        });
    }
    if &cert.block_hash != expected_block_hash {
        return Err(CertificateError::WrongBlock {
            expected: *expected_block_hash,
            found: cert.block_hash,
        });
    }
    let sign_bytes = vote_sign_bytes(
        chain_id,
        VoteType::Precommit,
        cert.height,
        cert.round,
        Some(&cert.block_hash),
    );
    let mut seen = BTreeSet::new();
    let mut signed: u64 = 0;
    for sig in &cert.signatures {
        let validator = validators
            .get(&sig.validator)
            .ok_or(CertificateError::UnknownSigner(sig.validator))?;
        if !seen.insert(sig.validator) {
            return Err(CertificateError::DuplicateSigner(sig.validator));
        }
        let signature = ed25519_consensus::Signature::from(sig.signature);
        validator
            .verification_key()
            .verify(&signature, &sign_bytes)
            .map_err(|_| CertificateError::InvalidSignature(sig.validator))?;
        // Cannot overflow: distinct members of a set whose total fits a u64.
        signed += validator.voting_power;
    }
    if !validators.is_quorum(signed) {
        return Err(CertificateError::InsufficientPower {
            signed,
            total: validators.total_power(),
        });
    }
    Ok(())
}

/// A validator's ed25519 consensus signing key (the host's; never an enclave key).
pub use ed25519_consensus::SigningKey as ValidatorKey;

/// `validator`'s precommit signature for `block_hash` at `height` and `round`.
pub fn sign_precommit(
    validator: &ValidatorKey,
    chain_id: &str,
    height: u64,
    round: u32,
    block_hash: &Hash,
) -> CommitSignature {
    let sign_bytes = vote_sign_bytes(
        chain_id,
        VoteType::Precommit,
        height,
        round,
        Some(block_hash),
    );
    CommitSignature {
        validator: ValidatorAddress::from_public_key(&validator.verification_key().to_bytes()),
        signature: validator.sign(&sign_bytes).to_bytes(),
    }
}

impl CommitCertificate {
    /// The canonical encoding (postcard), as it crosses into the enclave and is stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("serializable")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        crate::decode_exact(bytes)
    }
}

mod signature_bytes {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        crate::serde_bytes_b64::serialize(value, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let bytes = crate::serde_bytes_b64::deserialize(d)?;
        bytes.try_into().map_err(|b: Vec<u8>| {
            serde::de::Error::custom(format!("expected a 64-byte signature, got {}", b.len()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_consensus::SigningKey;

    const CHAIN: &str = "veil-test-1";
    const HEIGHT: u64 = 7;
    const ROUND: u32 = 1;
    const BLOCK: Hash = [0xab; 32];

    fn keys(n: usize) -> Vec<SigningKey> {
        (0..n)
            .map(|i| SigningKey::from([i as u8 + 1; 32]))
            .collect()
    }

    fn set(keys: &[SigningKey]) -> ValidatorSet {
        ValidatorSet::new(keys.iter().map(|k| (k.verification_key().to_bytes(), 10))).unwrap()
    }

    fn sign(
        key: &SigningKey,
        vote_type: VoteType,
        height: u64,
        round: u32,
        block: &Hash,
    ) -> CommitSignature {
        let bytes = vote_sign_bytes(CHAIN, vote_type, height, round, Some(block));
        CommitSignature {
            validator: ValidatorAddress::from_public_key(&key.verification_key().to_bytes()),
            signature: key.sign(&bytes).to_bytes(),
        }
    }

    fn precommit(key: &SigningKey) -> CommitSignature {
        sign(key, VoteType::Precommit, HEIGHT, ROUND, &BLOCK)
    }

    fn cert(signatures: Vec<CommitSignature>) -> CommitCertificate {
        CommitCertificate {
            height: HEIGHT,
            round: ROUND,
            block_hash: BLOCK,
            signatures,
        }
    }

    fn verify(cert: &CommitCertificate, set: &ValidatorSet) -> Result<(), CertificateError> {
        verify_commit_certificate(cert, set, CHAIN, HEIGHT, &BLOCK)
    }

    #[test]
    fn sign_bytes_layout() {
        let bytes = vote_sign_bytes("c", VoteType::Precommit, 2, 3, Some(&[9; 32]));
        let mut expected = b"veil/vote-v1".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 1, b'c', 0x02]);
        expected.extend_from_slice(&2u64.to_be_bytes());
        expected.extend_from_slice(&3u32.to_be_bytes());
        expected.push(0x01);
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(bytes, expected);
        let nil = vote_sign_bytes("c", VoteType::Prevote, 2, 3, None);
        assert_eq!(nil[17], 0x01);
        assert_eq!(*nil.last().unwrap(), 0x00);
        assert_eq!(nil.len(), 12 + 4 + 1 + 1 + 8 + 4 + 1);
    }

    #[test]
    fn three_of_four_is_accepted() {
        let k = keys(4);
        let s = set(&k);
        verify(
            &cert(vec![precommit(&k[0]), precommit(&k[1]), precommit(&k[2])]),
            &s,
        )
        .unwrap();
        verify(&cert(k.iter().map(precommit).collect()), &s).unwrap();
    }

    #[test]
    fn two_of_four_is_refused() {
        let k = keys(4);
        let err = verify(&cert(vec![precommit(&k[0]), precommit(&k[3])]), &set(&k)).unwrap_err();
        assert_eq!(
            err,
            CertificateError::InsufficientPower {
                signed: 20,
                total: 40
            }
        );
        assert!(matches!(
            verify(&cert(vec![]), &set(&k)),
            Err(CertificateError::InsufficientPower { signed: 0, .. })
        ));
    }

    #[test]
    fn voting_power_not_head_count() {
        // One validator with 70 of 100: alone it is a quorum; the three others are not.
        let k = keys(4);
        let s = ValidatorSet::new([
            (k[0].verification_key().to_bytes(), 70),
            (k[1].verification_key().to_bytes(), 10),
            (k[2].verification_key().to_bytes(), 10),
            (k[3].verification_key().to_bytes(), 10),
        ])
        .unwrap();
        verify(&cert(vec![precommit(&k[0])]), &s).unwrap();
        assert!(matches!(
            verify(
                &cert(vec![precommit(&k[1]), precommit(&k[2]), precommit(&k[3])]),
                &s
            ),
            Err(CertificateError::InsufficientPower { signed: 30, .. })
        ));
    }

    #[test]
    fn duplicated_signer_is_refused() {
        let k = keys(4);
        let c = cert(vec![precommit(&k[0]), precommit(&k[1]), precommit(&k[1])]);
        let addr = precommit(&k[1]).validator;
        assert_eq!(
            verify(&c, &set(&k)),
            Err(CertificateError::DuplicateSigner(addr))
        );
    }

    #[test]
    fn signer_outside_the_set_is_refused() {
        let k = keys(5);
        let s = set(&k[..4]);
        let c = cert(vec![
            precommit(&k[0]),
            precommit(&k[1]),
            precommit(&k[2]),
            precommit(&k[4]),
        ]);
        assert_eq!(
            verify(&c, &s),
            Err(CertificateError::UnknownSigner(precommit(&k[4]).validator))
        );
    }

    #[test]
    fn prevotes_are_refused() {
        let k = keys(4);
        let prevote = sign(&k[2], VoteType::Prevote, HEIGHT, ROUND, &BLOCK);
        let c = cert(vec![precommit(&k[0]), precommit(&k[1]), prevote.clone()]);
        assert_eq!(
            verify(&c, &set(&k)),
            Err(CertificateError::InvalidSignature(prevote.validator))
        );
    }

    #[test]
    fn votes_for_another_height_round_or_block_are_refused() {
        let k = keys(4);
        let s = set(&k);
        for other in [
            sign(&k[2], VoteType::Precommit, HEIGHT + 1, ROUND, &BLOCK),
            sign(&k[2], VoteType::Precommit, HEIGHT, ROUND + 1, &BLOCK),
            sign(&k[2], VoteType::Precommit, HEIGHT, ROUND, &[0xcd; 32]),
        ] {
            let c = cert(vec![precommit(&k[0]), precommit(&k[1]), other.clone()]);
            assert_eq!(
                verify(&c, &s),
                Err(CertificateError::InvalidSignature(other.validator))
            );
        }
        // A nil precommit does not count for the block either.
        let nil = CommitSignature {
            validator: precommit(&k[2]).validator,
            signature: k[2]
                .sign(&vote_sign_bytes(
                    CHAIN,
                    VoteType::Precommit,
                    HEIGHT,
                    ROUND,
                    None,
                ))
                .to_bytes(),
        };
        let c = cert(vec![precommit(&k[0]), precommit(&k[1]), nil]);
        assert!(matches!(
            verify(&c, &s),
            Err(CertificateError::InvalidSignature(_))
        ));
        // Another chain's votes.
        let c = cert(vec![precommit(&k[0]), precommit(&k[1]), precommit(&k[2])]);
        assert!(matches!(
            verify_commit_certificate(&c, &s, "other-chain", HEIGHT, &BLOCK),
            Err(CertificateError::InvalidSignature(_))
        ));
    }

    #[test]
    fn certificate_for_another_height_or_block_is_refused() {
        let k = keys(4);
        let s = set(&k);
        let c = cert(k.iter().map(precommit).collect());
        assert_eq!(
            verify_commit_certificate(&c, &s, CHAIN, HEIGHT + 1, &BLOCK),
            Err(CertificateError::WrongHeight {
                expected: HEIGHT + 1,
                found: HEIGHT
            })
        );
        assert!(matches!(
            verify_commit_certificate(&c, &s, CHAIN, HEIGHT, &[0; 32]),
            Err(CertificateError::WrongBlock { .. })
        ));
        // Relabelling a valid certificate's round breaks every signature.
        let mut relabelled = c.clone();
        relabelled.round += 1;
        assert!(matches!(
            verify(&relabelled, &s),
            Err(CertificateError::InvalidSignature(_))
        ));
        // A corrupted signature.
        let mut corrupted = c;
        corrupted.signatures[0].signature[5] ^= 1;
        assert!(matches!(
            verify(&corrupted, &s),
            Err(CertificateError::InvalidSignature(_))
        ));
    }

    #[test]
    fn validator_set_rules() {
        let k = keys(3);
        let pk = |i: usize| k[i].verification_key().to_bytes();
        let s = ValidatorSet::new([(pk(2), 1), (pk(0), 2), (pk(1), 3)]).unwrap();
        let addrs: Vec<_> = s.validators().iter().map(|v| v.address).collect();
        let mut sorted = addrs.clone();
        sorted.sort();
        assert_eq!(addrs, sorted);
        assert_eq!(s.total_power(), 6);
        assert_eq!(
            s.get(&ValidatorAddress::from_public_key(&pk(1)))
                .unwrap()
                .voting_power,
            3
        );
        assert_eq!(ValidatorSet::new([]), Err(ValidatorSetError::Empty));
        assert!(matches!(
            ValidatorSet::new([(pk(0), 0)]),
            Err(ValidatorSetError::ZeroPower(_))
        ));
        assert!(matches!(
            ValidatorSet::new([(pk(0), 1), (pk(0), 1)]),
            Err(ValidatorSetError::Duplicate(_))
        ));
        assert_eq!(
            ValidatorSet::new([(pk(0), u64::MAX), (pk(1), 1)]),
            Err(ValidatorSetError::PowerOverflow)
        );
    }

    #[test]
    fn certificate_serde_round_trip() {
        let k = keys(4);
        let c = cert(k.iter().map(precommit).collect());
        let bytes = postcard::to_allocvec(&c).unwrap();
        assert_eq!(
            postcard::from_bytes::<CommitCertificate>(&bytes).unwrap(),
            c
        );
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<CommitCertificate>(&json).unwrap(), c);
    }
}
