//! Transaction envelope and outputs: round trips, and every way an envelope can be wrong.

use veil_crypto::x25519_dalek::{PublicKey, StaticSecret};
use veil_crypto::{
    encrypt_input, encrypt_input_with_nonce, envelope_generation, open_input, CryptoError,
    IoKeypair, MasterSeed, OsRng, OutputKind, TxKey, ENVELOPE_HEADER_LEN, ENVELOPE_MIN_LEN,
};

const GEN: u32 = 4;
const CODE: [u8; 32] = [0xc0; 32];
const MSG: &[u8] = br#"{"transfer":{"recipient":"veil1bob","amount":"17"}}"#;

/// Small-order points of Curve25519 (u-coordinates, little-endian), including non-canonical
/// encodings (>= p): each makes X25519 output all zeros.
const LOW_ORDER: [&str; 7] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

fn low_order_points() -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for h in LOW_ORDER {
        let p: [u8; 32] = hex::decode(h).unwrap().try_into().unwrap();
        out.push(p);
        // X25519 ignores the top bit: the same points with it set.
        let mut q = p;
        q[31] ^= 0x80;
        out.push(q);
    }
    out
}

struct Fixture {
    io: IoKeypair,
    user: StaticSecret,
    envelope: Vec<u8>,
    nonce: [u8; 32],
}

fn fixture(msg: &[u8]) -> Fixture {
    let io = IoKeypair::derive(&MasterSeed::from_bytes([7; 32]), GEN);
    let user = StaticSecret::random_from_rng(OsRng);
    let nonce = [9; 32];
    let (envelope, _) =
        encrypt_input_with_nonce(&nonce, &user, &io.public(), GEN, &CODE, msg).unwrap();
    Fixture {
        io,
        user,
        envelope,
        nonce,
    }
}

#[test]
fn round_trip_with_random_nonce() {
    let io = IoKeypair::derive(&MasterSeed::generate(&mut OsRng), GEN);
    let user = StaticSecret::random_from_rng(OsRng);
    let (envelope, client_key) =
        encrypt_input(&mut OsRng, &user, &io.public(), GEN, &CODE, MSG).unwrap();
    assert_eq!(envelope.len(), ENVELOPE_MIN_LEN + MSG.len());
    assert_eq!(envelope_generation(&envelope), Ok(GEN));

    let (msg, enclave_key, user_public) = open_input(&io, &envelope, &CODE).unwrap();
    assert_eq!(msg, MSG);
    assert_eq!(user_public, PublicKey::from(&user).to_bytes());
    assert_eq!(enclave_key.generation(), GEN);
    assert_eq!(client_key.generation(), GEN);

    // Enclave encrypts results; the client decrypts them with its own copy of the key and
    // with a key recomputed later from its secret and the envelope's nonce.
    let nonce: [u8; 32] = envelope[37..69].try_into().unwrap();
    let recomputed = TxKey::for_client(&user, &io.public(), GEN, &nonce).unwrap();
    for (i, kind) in [
        OutputKind::Data,
        OutputKind::AttributeKey,
        OutputKind::AttributeValue,
        OutputKind::Error,
        OutputKind::SubMessage,
        OutputKind::Event,
        OutputKind::QueryResult,
    ]
    .into_iter()
    .enumerate()
    {
        let pt = format!("output {i}");
        let ct = enclave_key.encrypt_output(i as u32, kind, pt.as_bytes());
        assert_eq!(ct.len(), pt.len() + 16);
        assert_eq!(
            client_key.decrypt_output(i as u32, kind, &ct).unwrap(),
            pt.as_bytes()
        );
        assert_eq!(
            recomputed.decrypt_output(i as u32, kind, &ct).unwrap(),
            pt.as_bytes()
        );
    }

    // Two envelopes of the same message differ (fresh nonce → fresh key).
    let (again, _) = encrypt_input(&mut OsRng, &user, &io.public(), GEN, &CODE, MSG).unwrap();
    assert_ne!(envelope, again);
}

#[test]
fn empty_message_is_the_minimum_length() {
    let f = fixture(b"");
    assert_eq!(f.envelope.len(), ENVELOPE_MIN_LEN);
    let (msg, _, _) = open_input(&f.io, &f.envelope, &CODE).unwrap();
    assert!(msg.is_empty());
}

#[test]
fn every_flipped_bit_is_rejected_with_the_right_error() {
    let f = fixture(MSG);
    let len = f.envelope.len();
    for pos in 0..len {
        for bit in 0..8 {
            let mut bad = f.envelope.clone();
            bad[pos] ^= 1 << bit;
            let err = open_input(&f.io, &bad, &CODE).unwrap_err();
            let expected = match pos {
                0 => CryptoError::UnsupportedVersion(bad[0]),
                1..=4 => CryptoError::WrongGeneration {
                    expected: GEN,
                    found: u32::from_be_bytes(bad[1..5].try_into().unwrap()),
                },
                // user public key (a flip of its ignored top bit gives the same shared secret,
                // but the header is associated data), nonce, ciphertext, tag
                _ => CryptoError::Decryption,
            };
            assert_eq!(err, expected, "byte {pos} bit {bit}");
        }
    }
}

#[test]
fn wrong_key_wrong_generation_wrong_code() {
    let f = fixture(MSG);
    let other_seed = IoKeypair::derive(&MasterSeed::from_bytes([8; 32]), GEN);
    assert_eq!(
        open_input(&other_seed, &f.envelope, &CODE).unwrap_err(),
        CryptoError::Decryption
    );
    let other_gen = IoKeypair::derive(&MasterSeed::from_bytes([7; 32]), GEN + 1);
    assert_eq!(
        open_input(&other_gen, &f.envelope, &CODE).unwrap_err(),
        CryptoError::WrongGeneration {
            expected: GEN + 1,
            found: GEN
        }
    );
    // The client encrypted to the right key but labelled it with another generation: the
    // generation is in the header (associated data) and in the key derivation.
    let (relabelled, _) =
        encrypt_input_with_nonce(&f.nonce, &f.user, &f.io.public(), GEN + 1, &CODE, MSG).unwrap();
    assert_eq!(
        open_input(&other_gen, &relabelled, &CODE).unwrap_err(),
        CryptoError::Decryption
    );
    // Encrypted for other code: the message cannot be replayed into this contract.
    let mut other_code = CODE;
    other_code[31] ^= 1;
    assert_eq!(
        open_input(&f.io, &f.envelope, &other_code).unwrap_err(),
        CryptoError::CodeHashMismatch
    );
}

#[test]
fn truncation_at_every_length() {
    let f = fixture(MSG);
    for len in 0..=100 {
        assert_eq!(
            open_input(&f.io, &f.envelope[..len], &CODE).unwrap_err(),
            CryptoError::Truncated,
            "length {len}"
        );
    }
    for len in 0..f.envelope.len() {
        let err = open_input(&f.io, &f.envelope[..len], &CODE).unwrap_err();
        let expected = if len < ENVELOPE_MIN_LEN {
            CryptoError::Truncated
        } else {
            CryptoError::Decryption
        };
        assert_eq!(err, expected, "length {len}");
    }
    // Extra bytes appended are not ignored either.
    let mut long = f.envelope.clone();
    long.push(0);
    assert_eq!(
        open_input(&f.io, &long, &CODE).unwrap_err(),
        CryptoError::Decryption
    );
}

#[test]
fn wrong_versions() {
    let f = fixture(MSG);
    for v in [0u8, 2, 0x7f, 0xff] {
        let mut bad = f.envelope.clone();
        bad[0] = v;
        assert_eq!(
            open_input(&f.io, &bad, &CODE).unwrap_err(),
            CryptoError::UnsupportedVersion(v)
        );
        // Even when short: an unknown version's layout is unknown.
        assert_eq!(
            open_input(&f.io, &[v], &CODE).unwrap_err(),
            CryptoError::UnsupportedVersion(v)
        );
        assert_eq!(
            envelope_generation(&bad),
            Err(CryptoError::UnsupportedVersion(v))
        );
    }
}

#[test]
fn low_order_public_keys_are_rejected_on_both_sides() {
    let f = fixture(MSG);
    let user = StaticSecret::random_from_rng(OsRng);
    for point in low_order_points() {
        // Enclave side: an envelope claiming a low-order user key.
        let mut bad = f.envelope.clone();
        bad[5..37].copy_from_slice(&point);
        assert_eq!(
            open_input(&f.io, &bad, &CODE).unwrap_err(),
            CryptoError::LowOrderPublicKey,
            "{}",
            hex::encode(point)
        );
        // Client side: a low-order "network key".
        assert_eq!(
            encrypt_input(&mut OsRng, &user, &point, GEN, &CODE, MSG).unwrap_err(),
            CryptoError::LowOrderPublicKey
        );
        assert_eq!(
            TxKey::for_client(&user, &point, GEN, &[0; 32]).unwrap_err(),
            CryptoError::LowOrderPublicKey
        );
    }
}

#[test]
fn outputs_are_bound_to_key_index_and_kind() {
    let f = fixture(MSG);
    let (_, key, _) = open_input(&f.io, &f.envelope, &CODE).unwrap();
    let ct = key.encrypt_output(5, OutputKind::AttributeValue, b"secret value");
    assert_eq!(
        key.decrypt_output(5, OutputKind::AttributeValue, &ct)
            .unwrap(),
        b"secret value"
    );
    assert_eq!(
        key.decrypt_output(6, OutputKind::AttributeValue, &ct),
        Err(CryptoError::Decryption)
    );
    assert_eq!(
        key.decrypt_output(5, OutputKind::AttributeKey, &ct),
        Err(CryptoError::Decryption)
    );
    for pos in 0..ct.len() {
        let mut bad = ct.clone();
        bad[pos] ^= 0x20;
        assert_eq!(
            key.decrypt_output(5, OutputKind::AttributeValue, &bad),
            Err(CryptoError::Decryption)
        );
    }
    for len in 0..ct.len() {
        assert_eq!(
            key.decrypt_output(5, OutputKind::AttributeValue, &ct[..len]),
            Err(CryptoError::Decryption)
        );
    }
    // Another transaction's key (same user, other nonce) cannot read it.
    let other = TxKey::for_client(&f.user, &f.io.public(), GEN, &[10; 32]).unwrap();
    assert_eq!(
        other.decrypt_output(5, OutputKind::AttributeValue, &ct),
        Err(CryptoError::Decryption)
    );
    // The input ciphertext is not an output: output IVs never equal the input's zero IV.
    let input_ct = &f.envelope[ENVELOPE_HEADER_LEN..];
    for kind in [OutputKind::Data, OutputKind::QueryResult] {
        assert!(key.decrypt_output(0, kind, input_ct).is_err());
    }
}

#[test]
fn errors_and_debug_output_carry_no_secrets() {
    let f = fixture(MSG);
    let (_, key, _) = open_input(&f.io, &f.envelope, &CODE).unwrap();
    let mut other_code = CODE;
    other_code[0] ^= 1;
    let mut errors = vec![open_input(&f.io, &f.envelope, &other_code).unwrap_err()];
    let mut flipped = f.envelope.clone();
    flipped[80] ^= 1;
    errors.push(open_input(&f.io, &flipped, &CODE).unwrap_err());
    errors.push(open_input(&f.io, &f.envelope[..90], &CODE).unwrap_err());
    let user_secret_hex = hex::encode(f.user.to_bytes());
    for e in &errors {
        for text in [format!("{e}"), format!("{e:?}")] {
            assert!(!text.contains("transfer"), "{text}");
            assert!(!text.contains(&hex::encode(MSG)), "{text}");
            assert!(!text.contains(&user_secret_hex), "{text}");
        }
    }
    assert!(format!("{key:?}").contains("REDACTED"));
    assert!(format!("{:?}", f.io).contains("REDACTED"));
}

#[test]
fn cached_opening_matches_uncached_and_keeps_every_check() {
    use veil_crypto::{open_input, open_input_cached, SharedSecretCache};
    let seed = veil_crypto::MasterSeed::from_bytes([1u8; 32]);
    let io = veil_crypto::IoKeypair::derive(&seed, 0);
    let code_hash = [9u8; 32];
    let mut cache = SharedSecretCache::new(2);
    for round in 0..5u8 {
        // Three senders, two cache slots: hits, misses and clears all happen.
        let user = veil_crypto::x25519_dalek::StaticSecret::from([round % 3 + 2; 32]);
        let (envelope, _) = veil_crypto::encrypt_input_with_nonce(
            &[round; 32],
            &user,
            &io.public(),
            0,
            &code_hash,
            b"{\"hello\":1}",
        )
        .unwrap();
        let (plain, key, sender) = open_input(&io, &envelope, &code_hash).unwrap();
        let (cached_plain, cached_key, cached_sender) =
            open_input_cached(&io, &mut cache, &envelope, &code_hash).unwrap();
        assert_eq!((plain, sender), (cached_plain, cached_sender));
        let out = key.encrypt_output(0, veil_crypto::OutputKind::Data, b"r");
        assert_eq!(
            cached_key
                .decrypt_output(0, veil_crypto::OutputKind::Data, &out)
                .unwrap(),
            b"r"
        );
        // A cached secret does not skip the other checks.
        let mut flipped = envelope.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(open_input_cached(&io, &mut cache, &flipped, &code_hash).is_err());
        assert!(open_input_cached(&io, &mut cache, &envelope, &[8u8; 32]).is_err());
    }
    assert!(format!("{cache:?}").contains("REDACTED"));
}
