//! Envelopes as the enclave opens them (`open_input`, `open_input_cached`,
//! `envelope_generation`), outputs as a client decrypts them (`decrypt_output`), and seed
//! shares as a joining enclave opens them: raw bytes from anyone, and real ones that are
//! then changed. Only the untouched envelope may open, and it opens to what was sealed.
#![no_main]

#[path = "../common/mutation.rs"]
mod mutation;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mutation::Mutation;
use veil_crypto::x25519_dalek::{PublicKey, StaticSecret};
use veil_crypto::{
    encrypt_input_with_nonce, envelope_generation, open_input, open_input_cached, open_seed_share,
    seed_exchange_public, share_seed, IoKeypair, MasterSeed, OutputKind, SharedSecretCache, TxKey,
};

#[derive(Debug, Arbitrary)]
struct Input {
    seed: [u8; 32],
    generation: u8,
    code_hash: [u8; 32],
    case: Case,
}

#[derive(Debug, Arbitrary)]
enum Case {
    /// Bytes the host passes off as an envelope.
    RawEnvelope(Vec<u8>),
    /// A real envelope, then changed.
    Envelope {
        user: [u8; 32],
        nonce: [u8; 32],
        msg: Vec<u8>,
        mutation: Mutation,
        other_code_hash: Option<[u8; 32]>,
    },
    /// An output as a client receives it from a node.
    Output {
        user: [u8; 32],
        nonce: [u8; 32],
        index: u32,
        kind: u8,
        plaintext: Vec<u8>,
        mutation: Mutation,
        raw: Option<Vec<u8>>,
    },
    /// A seed share as a joining enclave receives it.
    SeedShare {
        registration: [u8; 32],
        genesis_hash: [u8; 32],
        mutation: Mutation,
        raw: Option<Vec<u8>>,
    },
}

fuzz_target!(|input: Input| {
    let seed = MasterSeed::from_bytes(input.seed);
    let io = IoKeypair::derive(&seed, u32::from(input.generation));
    let mut cache = SharedSecretCache::new(4);
    match input.case {
        Case::RawEnvelope(bytes) => {
            let plain = open_input(&io, &bytes, &input.code_hash);
            let cached = open_input_cached(&io, &mut cache, &bytes, &input.code_hash);
            assert_eq!(plain.is_ok(), cached.is_ok());
            if plain.is_ok() {
                assert_eq!(envelope_generation(&bytes).ok(), Some(io.generation()));
            }
        }
        Case::Envelope {
            user,
            nonce,
            msg,
            mutation,
            other_code_hash,
        } => {
            let user = StaticSecret::from(user);
            let Ok((envelope, key)) = encrypt_input_with_nonce(
                &nonce,
                &user,
                &io.public(),
                io.generation(),
                &input.code_hash,
                &msg,
            ) else {
                return;
            };
            let changed = mutation.apply(envelope.clone());
            let expected = other_code_hash.unwrap_or(input.code_hash);
            let opened = open_input(&io, &changed, &expected);
            let cached = open_input_cached(&io, &mut cache, &changed, &expected);
            // Twice: the second time the shared secret comes from the cache.
            let again = open_input_cached(&io, &mut cache, &changed, &expected);
            assert_eq!(opened.is_ok(), cached.is_ok());
            assert_eq!(opened.is_ok(), again.is_ok());
            if changed == envelope && expected == input.code_hash {
                let (plain, tx_key, user_public) = opened.expect("an untouched envelope opens");
                assert_eq!(plain, msg);
                assert_eq!(user_public, PublicKey::from(&user).to_bytes());
                // Both sides derive the same transaction key.
                let out = tx_key.encrypt_output(0, OutputKind::Data, b"x");
                assert_eq!(
                    key.decrypt_output(0, OutputKind::Data, &out).as_deref(),
                    Ok(&b"x"[..])
                );
            } else {
                assert!(opened.is_err(), "a changed envelope opened");
            }
        }
        Case::Output {
            user,
            nonce,
            index,
            kind,
            plaintext,
            mutation,
            raw,
        } => {
            let user = StaticSecret::from(user);
            let Ok(key) = TxKey::for_client(&user, &io.public(), io.generation(), &nonce) else {
                return;
            };
            let Some(kind) = OutputKind::from_byte(kind % 9) else {
                return;
            };
            let sealed = key.encrypt_output(index, kind, &plaintext);
            let changed = match raw {
                Some(raw) => raw,
                None => mutation.apply(sealed.clone()),
            };
            let opened = key.decrypt_output(index, kind, &changed);
            if changed == sealed {
                assert_eq!(opened.as_deref(), Ok(plaintext.as_slice()));
            } else {
                assert!(opened.is_err(), "a changed output decrypted");
            }
            // Another index or kind never opens it.
            assert!(key
                .decrypt_output(index.wrapping_add(1), kind, &sealed)
                .is_err());
        }
        Case::SeedShare {
            registration,
            genesis_hash,
            mutation,
            raw,
        } => {
            let registration = StaticSecret::from(registration);
            let public = PublicKey::from(&registration).to_bytes();
            let exchange = seed_exchange_public(&seed, io.generation());
            let share = match share_seed(&seed, io.generation(), &genesis_hash, &public) {
                Ok(share) => share,
                Err(_) => return,
            };
            let changed = match raw {
                Some(raw) => raw,
                None => mutation.apply(share.clone()),
            };
            let opened = open_seed_share(&changed, &registration, &exchange, &genesis_hash);
            if changed == share {
                let (opened, generation) = opened.expect("an untouched share opens");
                assert_eq!(opened.expose_bytes(), seed.expose_bytes());
                assert_eq!(generation, io.generation());
            } else {
                assert!(opened.is_err(), "a changed seed share opened");
            }
        }
    }
});
