//! The test vectors published in `docs/protocol.md`, checked three ways:
//!
//! 1. the document's block equals what this crate computes (docs and code cannot drift);
//! 2. a second, independent computation straight from the primitives (x25519-dalek, hkdf,
//!    aes-gcm-siv), following the byte layouts as the document states them, gives the same
//!    values (the code does what the document says, not just something self-consistent);
//! 3. the values work: the envelope opens, the output decrypts.
//!
//! If the protocol changes on purpose, the failure message prints the whole new block to
//! paste into the document.

use std::collections::BTreeMap;

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::Aes256GcmSiv;
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use veil_crypto::x25519_dalek::{PublicKey, StaticSecret};
use veil_crypto::{
    call_randomness, contract_key, derive_key, encrypt_input_with_nonce, open_input,
    open_seed_share, seed_exchange_public, share_seed, IoKeypair, KeyLabel, MasterSeed, OutputKind,
    TxKey,
};

const PROTOCOL_MD: &str = include_str!("../../../../docs/protocol.md");
const FENCE: &str = "```veil-test-vectors";

// The fixed inputs.
const SEED: [u8; 32] = [0x01; 32];
const USER_SECRET: [u8; 32] = [0x02; 32];
const NONCE: [u8; 32] = [0x03; 32];
const GENERATION: u32 = 1;
const MESSAGE: &str = r#"{"transfer":{}}"#;
const CONTRACT_ADDRESS: &str = "veil1contract";
const CREATOR: &str = "veil1creator";
const BLOCK_HEIGHT: u64 = 42;
const TX_INDEX: u32 = 3;
const OUTPUT_INDEX: u32 = 0;
const OUTPUT_KIND: OutputKind = OutputKind::Data;
const OUTPUT_PLAINTEXT: &str = r#"{"balance":"1000"}"#;
/// The seed share is made for the enclave whose registration secret is `user_secret`.
const GENESIS_HASH: [u8; 32] = [0x04; 32];

fn code_hash() -> [u8; 32] {
    Sha256::digest(b"code").into()
}

/// How a value is written in the document.
enum V {
    Hex(Vec<u8>),
    Str(&'static str),
    Int(u64),
}

impl V {
    fn render(&self) -> String {
        match self {
            V::Hex(b) => hex::encode(b),
            V::Str(s) => format!("\"{s}\""),
            V::Int(n) => n.to_string(),
        }
    }
}

/// Every vector, in document order, computed with this crate's API.
fn computed() -> Vec<(&'static str, V)> {
    let seed = MasterSeed::from_bytes(SEED);
    let user = StaticSecret::from(USER_SECRET);
    let io = IoKeypair::derive(&seed, GENERATION);
    let (envelope, tx_key) = encrypt_input_with_nonce(
        &NONCE,
        &user,
        &io.public(),
        GENERATION,
        &code_hash(),
        MESSAGE.as_bytes(),
    )
    .unwrap();
    let output = tx_key.encrypt_output(OUTPUT_INDEX, OUTPUT_KIND, OUTPUT_PLAINTEXT.as_bytes());
    let reference = reference();
    vec![
        // inputs
        ("master_seed", V::Hex(SEED.to_vec())),
        ("generation", V::Int(GENERATION.into())),
        ("user_secret", V::Hex(USER_SECRET.to_vec())),
        ("nonce", V::Hex(NONCE.to_vec())),
        ("code_hash", V::Hex(code_hash().to_vec())),
        ("message", V::Str(MESSAGE)),
        ("contract_address", V::Str(CONTRACT_ADDRESS)),
        ("creator", V::Str(CREATOR)),
        ("block_height", V::Int(BLOCK_HEIGHT)),
        ("tx_index", V::Int(TX_INDEX.into())),
        ("output_index", V::Int(OUTPUT_INDEX.into())),
        ("output_kind", V::Int(OUTPUT_KIND.as_byte().into())),
        ("output_plaintext", V::Str(OUTPUT_PLAINTEXT)),
        // derived
        (
            "state_key_empty_context",
            V::Hex(derive_key(&seed, KeyLabel::StateKey, GENERATION, b"").to_vec()),
        ),
        (
            "io_secret",
            V::Hex(derive_key(&seed, KeyLabel::IoKey, GENERATION, b"").to_vec()),
        ),
        ("io_public", V::Hex(io.public().to_vec())),
        (
            "user_public",
            V::Hex(PublicKey::from(&user).to_bytes().to_vec()),
        ),
        // Intermediates the API keeps inside TxKey; from the reference computation (the
        // envelope and output below only match if the code derived the same values).
        ("shared_secret", V::Hex(reference["shared_secret"].clone())),
        ("tx_key", V::Hex(reference["tx_key"].clone())),
        (
            "contract_key",
            V::Hex(
                contract_key(&seed, GENERATION, &code_hash(), CONTRACT_ADDRESS, CREATOR)
                    .unwrap()
                    .to_vec(),
            ),
        ),
        ("envelope", V::Hex(envelope)),
        ("output_ciphertext", V::Hex(output)),
        (
            "randomness",
            V::Hex(
                call_randomness(&seed, GENERATION, BLOCK_HEIGHT, TX_INDEX, CONTRACT_ADDRESS)
                    .to_vec(),
            ),
        ),
        ("genesis_hash", V::Hex(GENESIS_HASH.to_vec())),
        (
            "seed_exchange_public",
            V::Hex(seed_exchange_public(&seed, GENERATION).to_vec()),
        ),
        (
            "seed_share",
            V::Hex(
                share_seed(
                    &seed,
                    GENERATION,
                    &GENESIS_HASH,
                    &PublicKey::from(&user).to_bytes(),
                )
                .unwrap(),
            ),
        ),
    ]
}

/// The same derived values, computed from the primitives by the layouts in the document.
fn reference() -> BTreeMap<&'static str, Vec<u8>> {
    fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(Some(salt), ikm)
            .expand(info, &mut out)
            .unwrap();
        out
    }
    fn seed_kdf(label: &[u8], context: &[u8]) -> [u8; 32] {
        let mut info = label.to_vec();
        info.push(0);
        info.extend_from_slice(&GENERATION.to_be_bytes());
        info.extend_from_slice(context);
        hkdf32(b"veil-kdf-v1", &SEED, &info)
    }
    fn gcm_siv(key: &[u8; 32], iv: &[u8; 12], aad: &[u8], msg: &[u8]) -> Vec<u8> {
        Aes256GcmSiv::new(key.into())
            .encrypt(iv.into(), Payload { msg, aad })
            .unwrap()
    }

    let io_secret = seed_kdf(b"veil/io-x25519", b"");
    let io_public = PublicKey::from(&StaticSecret::from(io_secret)).to_bytes();
    let user_public = PublicKey::from(&StaticSecret::from(USER_SECRET)).to_bytes();
    let shared = StaticSecret::from(USER_SECRET)
        .diffie_hellman(&PublicKey::from(io_public))
        .to_bytes();
    // Both sides of the Diffie-Hellman agree.
    assert_eq!(
        shared,
        StaticSecret::from(io_secret)
            .diffie_hellman(&PublicKey::from(user_public))
            .to_bytes()
    );
    let mut tx_info = b"veil/tx-v1".to_vec();
    tx_info.extend_from_slice(&GENERATION.to_be_bytes());
    let tx_key = hkdf32(&NONCE, &shared, &tx_info);

    let mut envelope = vec![1u8];
    envelope.extend_from_slice(&GENERATION.to_be_bytes());
    envelope.extend_from_slice(&user_public);
    envelope.extend_from_slice(&NONCE);
    assert_eq!(envelope.len(), 69);
    let mut plaintext = code_hash().to_vec();
    plaintext.extend_from_slice(MESSAGE.as_bytes());
    let ciphertext = gcm_siv(&tx_key, &[0; 12], &envelope, &plaintext);
    envelope.extend_from_slice(&ciphertext);

    let mut out_iv = [0u8; 12];
    out_iv[0] = 1; // Data
    out_iv[8..].copy_from_slice(&OUTPUT_INDEX.to_be_bytes());
    let output = gcm_siv(
        &tx_key,
        &out_iv,
        b"veil/out-v1",
        OUTPUT_PLAINTEXT.as_bytes(),
    );

    let mut ck_context = code_hash().to_vec();
    ck_context.extend_from_slice(&(CONTRACT_ADDRESS.len() as u16).to_be_bytes());
    ck_context.extend_from_slice(CONTRACT_ADDRESS.as_bytes());
    ck_context.extend_from_slice(&(CREATOR.len() as u16).to_be_bytes());
    ck_context.extend_from_slice(CREATOR.as_bytes());

    let mut rand_context = BLOCK_HEIGHT.to_be_bytes().to_vec();
    rand_context.extend_from_slice(&TX_INDEX.to_be_bytes());
    rand_context.extend_from_slice(CONTRACT_ADDRESS.as_bytes());

    // Seed sharing: X25519(exchange, registration) -> HKDF -> AES-GCM-SIV, nonce 0.
    let exchange_secret = seed_kdf(b"veil/seed-exchange-x25519", b"");
    let exchange_public = PublicKey::from(&StaticSecret::from(exchange_secret)).to_bytes();
    let share_shared = StaticSecret::from(exchange_secret)
        .diffie_hellman(&PublicKey::from(user_public))
        .to_bytes();
    let mut share_info = b"veil/seed-share-v1".to_vec();
    share_info.extend_from_slice(&user_public);
    let share_key = hkdf32(&GENESIS_HASH, &share_shared, &share_info);
    let mut share_aad = b"veil/seed-share-v1".to_vec();
    share_aad.extend_from_slice(&GENESIS_HASH);
    share_aad.extend_from_slice(&user_public);
    let mut share_plain = SEED.to_vec();
    share_plain.extend_from_slice(&GENERATION.to_be_bytes());
    let seed_share = gcm_siv(&share_key, &[0; 12], &share_aad, &share_plain);

    BTreeMap::from([
        ("seed_exchange_public", exchange_public.to_vec()),
        ("seed_share", seed_share),
        (
            "state_key_empty_context",
            seed_kdf(b"veil/state", b"").to_vec(),
        ),
        ("io_secret", io_secret.to_vec()),
        ("io_public", io_public.to_vec()),
        ("user_public", user_public.to_vec()),
        ("shared_secret", shared.to_vec()),
        ("tx_key", tx_key.to_vec()),
        (
            "contract_key",
            seed_kdf(b"veil/contract", &ck_context).to_vec(),
        ),
        ("envelope", envelope),
        ("output_ciphertext", output),
        (
            "randomness",
            seed_kdf(b"veil/random", &rand_context).to_vec(),
        ),
    ])
}

/// The `name: value` lines of the ```` ```veil-test-vectors ```` block, in order.
/// Blank lines and lines starting with `#` are ignored.
fn documented() -> Vec<(String, String)> {
    let mut lines = PROTOCOL_MD.lines();
    assert!(
        lines.any(|l| l.trim_end() == FENCE),
        "docs/protocol.md has no {FENCE} block"
    );
    let mut out = Vec::new();
    for line in lines.by_ref() {
        let line = line.trim();
        if line == "```" {
            return out;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("vector line without `name: value`: {line}"));
        out.push((name.trim().to_string(), value.trim().to_string()));
    }
    panic!("unterminated {FENCE} block in docs/protocol.md");
}

#[test]
fn docs_vectors_match_the_code() {
    let computed = computed();
    let block: String = computed
        .iter()
        .map(|(n, v)| format!("{n}: {}\n", v.render()))
        .collect();
    let expected: Vec<(String, String)> = computed
        .iter()
        .map(|(n, v)| (n.to_string(), v.render()))
        .collect();
    let documented = documented();
    assert!(
        documented == expected,
        "docs/protocol.md test vectors differ from the code.\n\
         If the protocol changed on purpose, replace the block's lines with:\n\n{block}"
    );
}

#[test]
fn code_matches_an_independent_computation_from_the_primitives() {
    let reference = reference();
    let computed: BTreeMap<_, _> = computed().into_iter().collect();
    for (name, value) in &reference {
        match &computed[name] {
            V::Hex(bytes) => assert_eq!(
                hex::encode(bytes),
                hex::encode(value),
                "{name}: the code does not follow the documented layout"
            ),
            _ => unreachable!(),
        }
    }
}

#[test]
fn vectors_work_end_to_end() {
    let seed = MasterSeed::from_bytes(SEED);
    let io = IoKeypair::derive(&seed, GENERATION);
    let reference = reference();
    // The registered enclave opens its seed share.
    let (shared_seed, generation) = open_seed_share(
        &reference["seed_share"],
        &StaticSecret::from(USER_SECRET),
        &reference["seed_exchange_public"]
            .clone()
            .try_into()
            .unwrap(),
        &GENESIS_HASH,
    )
    .unwrap();
    assert_eq!(shared_seed.expose_bytes(), &SEED);
    assert_eq!(generation, GENERATION);
    let (msg, tx_key, user_public) = open_input(&io, &reference["envelope"], &code_hash()).unwrap();
    assert_eq!(msg, MESSAGE.as_bytes());
    assert_eq!(user_public.to_vec(), reference["user_public"]);
    assert_eq!(
        tx_key
            .decrypt_output(OUTPUT_INDEX, OUTPUT_KIND, &reference["output_ciphertext"])
            .unwrap(),
        OUTPUT_PLAINTEXT.as_bytes()
    );
    // The wallet recomputes the same key from its secret and the nonce.
    let client = TxKey::for_client(
        &StaticSecret::from(USER_SECRET),
        &io.public(),
        GENERATION,
        &NONCE,
    )
    .unwrap();
    assert_eq!(
        client
            .decrypt_output(OUTPUT_INDEX, OUTPUT_KIND, &reference["output_ciphertext"])
            .unwrap(),
        OUTPUT_PLAINTEXT.as_bytes()
    );
}
