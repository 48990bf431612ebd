//! Wallet keys: BIP-39 mnemonics, the Cosmos HD path and the X25519 key that encrypts
//! contract messages.
//!
//! A wallet key is one secp256k1 signing key. From a mnemonic it is derived like every
//! Cosmos wallet does (BIP-39 seed with an empty passphrase, BIP-32 path
//! [`COSMOS_HD_PATH`]), so the same words give the same account in other Cosmos tools
//! (modulo the `veil` address prefix). The account address is
//! [`veil_types::account_address`] of the compressed public key.
//!
//! The X25519 secret that encrypts the wallet's contract messages (and decrypts their
//! results) is derived from the 32 secret-key bytes alone:
//!
//! `x25519_secret = HKDF-SHA256(ikm = secp256k1 secret key, salt = "veil/wallet-x25519-v1", info = "")`
//!
//! so a key imported any way (mnemonic or raw secret) can still decrypt its past results.
//! The rule and a test vector are in `docs/protocol.md` ("Wallet keys").

use core::fmt;

use bip32::{DerivationPath, XPrv};
use hkdf::Hkdf;
use k256::ecdsa::SigningKey;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use veil_types::{Tx, TxBody};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// The Cosmos Hub HD path (coin type 118, first account, first address).
pub const COSMOS_HD_PATH: &str = "m/44'/118'/0'/0/0";
/// HKDF salt of the wallet's X25519 secret.
pub const WALLET_X25519_SALT: &[u8] = b"veil/wallet-x25519-v1";
/// Prefix of the entropy of the public development accounts (see [`dev_mnemonic`]).
pub const DEV_ACCOUNT_DOMAIN: &[u8] = b"veil/dev-account/";
/// Word count of newly generated mnemonics.
pub const DEFAULT_WORD_COUNT: usize = 24;
/// Word counts accepted when recovering a key.
pub const WORD_COUNTS: [usize; 5] = [12, 15, 18, 21, 24];

/// Why a key could not be made. Never contains secret material (a bad mnemonic word is
/// named by its position, not its text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("invalid mnemonic: it has {0} words; a BIP-39 mnemonic has 12, 15, 18, 21 or 24")]
    MnemonicWordCount(usize),
    #[error("invalid mnemonic: word {0} is not in the BIP-39 English word list")]
    MnemonicUnknownWord(usize),
    #[error("invalid mnemonic: the checksum does not match (a word is wrong or out of order)")]
    MnemonicChecksum,
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
    #[error(
        "invalid secret key: not a valid secp256k1 scalar (zero or not below the group order)"
    )]
    InvalidSecretKey,
    #[error("key derivation failed: {0}")]
    Derivation(String),
}

impl From<bip39::Error> for KeyError {
    fn from(e: bip39::Error) -> Self {
        match e {
            bip39::Error::BadWordCount(n) => KeyError::MnemonicWordCount(n),
            bip39::Error::UnknownWord(i) => KeyError::MnemonicUnknownWord(i + 1),
            bip39::Error::InvalidChecksum => KeyError::MnemonicChecksum,
            other => KeyError::Mnemonic(other.to_string()),
        }
    }
}

/// A BIP-39 mnemonic in the English word list. Zeroized on drop; `Debug` prints only the
/// word count.
#[derive(Clone, PartialEq, Eq)]
pub struct Mnemonic(bip39::Mnemonic);

impl Mnemonic {
    /// A fresh 24-word mnemonic (256 bits from the operating system's RNG).
    pub fn generate() -> Self {
        Self::generate_words(DEFAULT_WORD_COUNT).expect("24 is a valid word count")
    }

    /// A fresh mnemonic of `word_count` words (12, 15, 18, 21 or 24).
    pub fn generate_words(word_count: usize) -> Result<Self, KeyError> {
        if !WORD_COUNTS.contains(&word_count) {
            return Err(KeyError::MnemonicWordCount(word_count));
        }
        let mut entropy = Zeroizing::new([0u8; 32]);
        let len = word_count / 3 * 4;
        OsRng.fill_bytes(&mut entropy[..len]);
        Self::from_entropy(&entropy[..len])
    }

    /// The mnemonic encoding `entropy` (16, 20, 24, 28 or 32 bytes).
    pub fn from_entropy(entropy: &[u8]) -> Result<Self, KeyError> {
        Ok(Self(bip39::Mnemonic::from_entropy_in(
            bip39::Language::English,
            entropy,
        )?))
    }

    /// Parses and checks a mnemonic: English words, 12/15/18/21/24 of them, valid checksum.
    /// Surrounding and repeated whitespace is ignored, and so is letter case.
    pub fn parse(phrase: &str) -> Result<Self, KeyError> {
        let normalized = Zeroizing::new(
            phrase
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" "),
        );
        Ok(Self(bip39::Mnemonic::parse_in(
            bip39::Language::English,
            normalized.as_str(),
        )?))
    }

    /// The words, separated by single spaces.
    pub fn phrase(&self) -> Zeroizing<String> {
        let mut phrase = Zeroizing::new(String::with_capacity(24 * 9));
        for (i, word) in self.0.words().enumerate() {
            if i > 0 {
                phrase.push(' ');
            }
            phrase.push_str(word);
        }
        phrase
    }

    pub fn word_count(&self) -> usize {
        self.0.word_count()
    }

    /// The 64-byte BIP-39 seed (PBKDF2-HMAC-SHA512, 2048 rounds) for `passphrase`
    /// (Veil wallets use the empty passphrase).
    pub fn to_seed(&self, passphrase: &str) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(self.0.to_seed(passphrase))
    }
}

impl fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mnemonic({} words, [REDACTED])", self.word_count())
    }
}

/// A wallet key: the secp256k1 signing key, the X25519 secret derived from it, and their
/// public parts. The secrets are zeroized on drop; `Debug` shows only public values.
pub struct KeyPair {
    signing_key: SigningKey,
    encryption_secret: StaticSecret,
    public_key: [u8; 33],
    encryption_public_key: [u8; 32],
    address: String,
}

impl KeyPair {
    /// The key of `mnemonic` at [`COSMOS_HD_PATH`], with the empty BIP-39 passphrase.
    pub fn from_mnemonic(mnemonic: &Mnemonic) -> Result<Self, KeyError> {
        let seed = mnemonic.to_seed("");
        let path: DerivationPath = COSMOS_HD_PATH.parse().expect("valid HD path");
        let xprv = XPrv::derive_from_path(&seed[..], &path)
            .map_err(|e| KeyError::Derivation(e.to_string()))?;
        Ok(Self::from_signing_key(xprv.private_key().clone()))
    }

    /// The key with these 32 secret bytes (big-endian scalar, as Cosmos exports it).
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Result<Self, KeyError> {
        let key = SigningKey::from_slice(secret).map_err(|_| KeyError::InvalidSecretKey)?;
        Ok(Self::from_signing_key(key))
    }

    pub fn from_signing_key(signing_key: SigningKey) -> Self {
        let secret = Zeroizing::new(<[u8; 32]>::from(signing_key.to_bytes()));
        let encryption_secret = wallet_x25519_secret(&secret);
        let encryption_public_key = PublicKey::from(&encryption_secret).to_bytes();
        let public_key: [u8; 33] = signing_key
            .verifying_key()
            .to_encoded_point(true)
            .as_bytes()
            .try_into()
            .expect("a compressed secp256k1 point is 33 bytes");
        let address = veil_types::account_address(&public_key);
        Self {
            signing_key,
            encryption_secret,
            public_key,
            encryption_public_key,
            address,
        }
    }

    /// The bech32 account address (`veil1…`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The compressed SEC1 secp256k1 public key (33 bytes).
    pub fn public_key(&self) -> &[u8; 33] {
        &self.public_key
    }

    /// The X25519 public key matching [`Self::encryption_secret`].
    pub fn encryption_public_key(&self) -> &[u8; 32] {
        &self.encryption_public_key
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The X25519 secret that encrypts this wallet's contract messages and decrypts their
    /// results (see the module documentation for its derivation).
    pub fn encryption_secret(&self) -> &StaticSecret {
        &self.encryption_secret
    }

    /// The 32 secret-key bytes (for storing or exporting the key; zeroized on drop).
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing_key.to_bytes().into())
    }

    /// Signs a transaction body with this key, to run.
    pub fn sign(&self, body: TxBody) -> Tx {
        body.sign(&self.signing_key)
    }

    /// Signs a transaction body for simulation only (`veil/simulate-v1`): what a node
    /// estimates gas with; no node or enclave ever runs it for real.
    pub fn sign_simulation(&self, body: TxBody) -> Tx {
        body.sign_for_simulation(&self.signing_key)
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("address", &self.address)
            .field("public_key", &hex::encode(self.public_key))
            .field(
                "encryption_public_key",
                &hex::encode(self.encryption_public_key),
            )
            .field("secrets", &"[REDACTED]")
            .finish()
    }
}

/// `HKDF-SHA256(ikm = secp256k1 secret, salt = "veil/wallet-x25519-v1", info = "")`, used
/// as an X25519 static secret (clamped at use, per RFC 7748).
pub fn wallet_x25519_secret(secp256k1_secret: &[u8; 32]) -> StaticSecret {
    let hk = Hkdf::<Sha256>::new(Some(WALLET_X25519_SALT), secp256k1_secret);
    let mut okm = Zeroizing::new([0u8; 32]);
    hk.expand(b"", &mut okm[..])
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    StaticSecret::from(*okm)
}

/// The mnemonic of the development account `name`: the 24 words encoding the entropy
/// `SHA-256("veil/dev-account/" || name)`.
///
/// These keys are PUBLIC — anyone can compute them from the name. They exist so that a
/// local dev chain has funded, well-known accounts (`alice`, `bob`, `carol`, …); never use
/// them on a network where tokens have value.
pub fn dev_mnemonic(name: &str) -> Mnemonic {
    let mut hasher = Sha256::new();
    hasher.update(DEV_ACCOUNT_DOMAIN);
    hasher.update(name.as_bytes());
    let entropy = Zeroizing::new(<[u8; 32]>::from(hasher.finalize()));
    Mnemonic::from_entropy(&entropy[..]).expect("32 bytes is valid BIP-39 entropy")
}

/// The development account `name` (a PUBLIC key: see [`dev_mnemonic`]).
pub fn dev_key(name: &str) -> KeyPair {
    KeyPair::from_mnemonic(&dev_mnemonic(name))
        .expect("BIP-32 derivation fails only with negligible probability")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::signature::hazmat::PrehashVerifier;

    /// The BIP-39 all-zero-entropy 24-word mnemonic.
    pub(crate) const ABANDON_24: &str = "abandon abandon abandon abandon abandon abandon abandon \
        abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
        abandon abandon abandon abandon abandon art";

    // Computed independently (Python: hashlib PBKDF2/HMAC, hand-written secp256k1, BIP-32,
    // RIPEMD-160, bech32, HKDF and X25519); also in docs/protocol.md.
    // (The same key's `cosmos` address, cosmos1r5v5srda7xfth3hn2s26txvrcrntldjumt8mhl, is
    // the one every Cosmos wallet shows for this mnemonic.)
    const ABANDON_ADDRESS: &str = "veil1r5v5srda7xfth3hn2s26txvrcrntldjux8ywfa";
    const ABANDON_PUBLIC_KEY: &str =
        "02ba66a84cf7839af172a13e7fc9f5e7008cb8bca1585f8f3bafb3039eda3c1fdd";
    const ABANDON_SECRET_KEY: &str =
        "8088c2ed2149c34f6d6533b774da4e1692eb5cb426fdbaef6898eeda489630b7";
    const ABANDON_X25519_SECRET: &str =
        "d38c7ef60e363acf75357f811f09b0cf188ccc1527643a9dbbfe1ceb32fd5113";
    const ABANDON_X25519_PUBLIC: &str =
        "2db11e214e87a27bbfb367ca4628c813fea52010d4de405c9c20327ebecefb41";

    #[test]
    fn abandon_vector() {
        let key = KeyPair::from_mnemonic(&Mnemonic::parse(ABANDON_24).unwrap()).unwrap();
        assert_eq!(hex::encode(*key.secret_bytes()), ABANDON_SECRET_KEY);
        assert_eq!(hex::encode(key.public_key()), ABANDON_PUBLIC_KEY);
        assert_eq!(key.address(), ABANDON_ADDRESS);
        assert_eq!(
            hex::encode(key.encryption_secret().to_bytes()),
            ABANDON_X25519_SECRET
        );
        assert_eq!(
            hex::encode(key.encryption_public_key()),
            ABANDON_X25519_PUBLIC
        );
    }

    #[test]
    fn dev_account_vectors() {
        // Computed independently, as above; also in docs/protocol.md.
        let alice = dev_mnemonic("alice");
        assert_eq!(
            alice.phrase().as_str(),
            "desert response video motor appear minimum fetch job orbit tube victory miss \
             shed artefact wild force rally planet trigger remember glimpse sell find siren"
        );
        for (name, address, x25519_public) in [
            (
                "alice",
                "veil1q2v47vdn07dkvaf90ng9wfkgvtjv57jnf7u763",
                "2bd52342d8ff12c23692f134cb15d2685da662ec137b5298eb21e69683a5f735",
            ),
            (
                "bob",
                "veil1wzxuw584alwxzf7gdtv56hygwk4dkch8lscjzl",
                "e5192b6937659618cfc07cacc6045036a86db3fa00a9ba4a34cf5dcabb6a9277",
            ),
            (
                "carol",
                "veil127zvc2d50fz4lx7agfx8e237q7shq8ph5wllwg",
                "fa8b035884b16e9ee39e0d1c1b655b1131134106b230179bafb2a87dca0d6a07",
            ),
        ] {
            let key = dev_key(name);
            assert_eq!(key.address(), address, "{name}");
            assert_eq!(
                hex::encode(key.encryption_public_key()),
                x25519_public,
                "{name}"
            );
        }
    }

    #[test]
    fn x25519_derivation_matches_hkdf_definition() {
        let secret = [7u8; 32];
        let hk = Hkdf::<Sha256>::new(Some(b"veil/wallet-x25519-v1"), &secret);
        let mut expected = [0u8; 32];
        hk.expand(&[], &mut expected).unwrap();
        assert_eq!(wallet_x25519_secret(&secret).to_bytes(), expected);
        let key = KeyPair::from_secret_bytes(&secret).unwrap();
        assert_eq!(key.encryption_secret().to_bytes(), expected);
        assert_eq!(
            *key.encryption_public_key(),
            PublicKey::from(&StaticSecret::from(expected)).to_bytes()
        );
    }

    #[test]
    fn import_by_secret_keeps_every_key() {
        let from_words = dev_key("alice");
        let from_secret = KeyPair::from_secret_bytes(&from_words.secret_bytes()).unwrap();
        assert_eq!(from_words.address(), from_secret.address());
        assert_eq!(from_words.public_key(), from_secret.public_key());
        assert_eq!(
            from_words.encryption_secret().to_bytes(),
            from_secret.encryption_secret().to_bytes()
        );
    }

    #[test]
    fn bad_secret_keys_are_rejected() {
        assert_eq!(
            KeyPair::from_secret_bytes(&[0; 32]).unwrap_err(),
            KeyError::InvalidSecretKey
        );
        assert_eq!(
            KeyPair::from_secret_bytes(&[0xff; 32]).unwrap_err(),
            KeyError::InvalidSecretKey
        );
    }

    #[test]
    fn mnemonic_parsing() {
        let m = Mnemonic::parse(&format!("  {}\n", ABANDON_24.to_uppercase())).unwrap();
        assert_eq!(
            m.phrase().as_str(),
            ABANDON_24.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert_eq!(m.word_count(), 24);
        let twelve = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
            abandon abandon about";
        assert_eq!(Mnemonic::parse(twelve).unwrap().word_count(), 12);
        for n in WORD_COUNTS {
            let m = Mnemonic::generate_words(n).unwrap();
            assert_eq!(m.word_count(), n);
            assert_eq!(Mnemonic::parse(&m.phrase()).unwrap(), m);
        }
        assert_eq!(
            Mnemonic::parse("abandon abandon").unwrap_err(),
            KeyError::MnemonicWordCount(2)
        );
        assert_eq!(
            Mnemonic::parse(&twelve.replace("about", "abandon")).unwrap_err(),
            KeyError::MnemonicChecksum
        );
        assert_eq!(
            Mnemonic::parse(&twelve.replacen("abandon", "veil", 1)).unwrap_err(),
            KeyError::MnemonicUnknownWord(1)
        );
        assert_eq!(
            Mnemonic::generate_words(13).unwrap_err(),
            KeyError::MnemonicWordCount(13)
        );
        assert_eq!(Mnemonic::generate().word_count(), 24);
        assert_ne!(Mnemonic::generate(), Mnemonic::generate());
    }

    #[test]
    fn dev_keys_are_deterministic_and_distinct() {
        let alice = dev_key("alice");
        assert_eq!(alice.address(), dev_key("alice").address());
        assert_ne!(alice.address(), dev_key("bob").address());
        assert_ne!(dev_key("bob").address(), dev_key("carol").address());
        let entropy = Sha256::digest(b"veil/dev-account/alice");
        let expected = Mnemonic::from_entropy(&entropy).unwrap();
        assert_eq!(dev_mnemonic("alice"), expected);
        assert!(alice.address().starts_with("veil1"));
    }

    #[test]
    fn debug_hides_secrets() {
        let key = dev_key("alice");
        let dbg = format!("{key:?}");
        assert!(dbg.contains(key.address()));
        assert!(dbg.contains("REDACTED"));
        assert!(!dbg.contains(&hex::encode(*key.secret_bytes())));
        assert!(!dbg.contains(&hex::encode(key.encryption_secret().to_bytes())));
        let m = dev_mnemonic("alice");
        let dbg = format!("{m:?}");
        assert_eq!(dbg, "Mnemonic(24 words, [REDACTED])");
    }

    #[test]
    fn signatures_verify_and_recover_the_address() {
        let key = dev_key("bob");
        let body = TxBody {
            chain_id: "veil-dev".into(),
            sequence: 0,
            gas_limit: 100_000,
            fee: 1,
            memo: String::new(),
            msg: veil_types::Msg::Send {
                to: dev_key("carol").address().to_string(),
                amount: 5,
            },
        };
        let tx = key.sign(body.clone());
        assert_eq!(tx.verify().unwrap(), key.address());
        let digest = Sha256::digest(body.sign_bytes());
        let sig = k256::ecdsa::Signature::from_slice(&tx.signature).unwrap();
        key.signing_key()
            .verifying_key()
            .verify_prehash(&digest, &sig)
            .unwrap();
    }
}
