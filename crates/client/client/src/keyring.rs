//! The local keyring: named wallet keys stored as one JSON file per key, like the Cosmos
//! SDK's `test` and `file` keyring backends.
//!
//! - [`Backend::Test`]: `<home>/keyring-test/<name>.json`, the mnemonic (or raw secret key)
//!   in **plaintext**. For tests and dev chains only.
//! - [`Backend::File`]: `<home>/keyring-file/<name>.json`, the mnemonic (or raw secret key)
//!   encrypted under a passphrase: Argon2id (random 16-byte salt; parameters stored in the
//!   file) derives a 32-byte key, AES-256-GCM-SIV (random 12-byte nonce) encrypts, and the
//!   associated data binds the ciphertext to the file's name, address and key source.
//!
//! Public information (name, address, public keys) is stored in plaintext in both backends,
//! so listing and showing keys needs no passphrase. Directories are created `0700`, files
//! `0600`; every write goes to a temporary file that is then renamed (or hard-linked, when
//! it must not replace an existing key) into place, so a crash never leaves half a key file.

use core::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::keys::{KeyError, KeyPair, Mnemonic};

/// The key-file format this code writes and reads.
pub const KEY_FILE_VERSION: u32 = 1;
/// Shortest passphrase the file backend accepts for a new key.
pub const MIN_PASSPHRASE_LEN: usize = 8;
/// Longest key name.
pub const MAX_NAME_LEN: usize = 64;
/// Key files larger than this are rejected unread.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;
/// Prefix of the AEAD associated data of encrypted key files.
const FILE_AAD_DOMAIN: &[u8] = b"veil/keyring-file-v1";
const KDF_NAME: &str = "argon2id";
const CIPHER_NAME: &str = "aes-256-gcm-siv";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;

/// Where and how keys are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Plaintext secrets under `<home>/keyring-test/` (tests and dev chains only).
    Test,
    /// Passphrase-encrypted secrets under `<home>/keyring-file/`.
    File,
}

impl Backend {
    pub const fn as_str(self) -> &'static str {
        match self {
            Backend::Test => "test",
            Backend::File => "file",
        }
    }

    /// The keyring's directory under the home directory.
    pub const fn dir_name(self) -> &'static str {
        match self {
            Backend::Test => "keyring-test",
            Backend::File => "keyring-file",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "test" => Ok(Backend::Test),
            "file" => Ok(Backend::File),
            _ => Err(format!(
                "unknown keyring backend {s:?}: expected \"test\" or \"file\""
            )),
        }
    }
}

/// Where a stored key came from (and so what [`Keyring::export`] returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// A BIP-39 mnemonic (stored, so it can be exported again).
    Mnemonic,
    /// A raw 32-byte secp256k1 secret key.
    SecretKey,
}

impl KeySource {
    pub const fn as_str(self) -> &'static str {
        match self {
            KeySource::Mnemonic => "mnemonic",
            KeySource::SecretKey => "secret_key",
        }
    }
}

/// The public information about a stored key (needs no passphrase). JSON: byte strings in
/// base64, like the rest of Veil's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub name: String,
    pub address: String,
    /// Compressed secp256k1 public key (33 bytes).
    #[serde(with = "veil_types::serde_bytes_b64")]
    pub public_key: Vec<u8>,
    /// X25519 public key of the wallet's encryption key (32 bytes).
    #[serde(with = "veil_types::serde_bytes_b64")]
    pub encryption_public_key: Vec<u8>,
    pub source: KeySource,
}

/// A key [`Keyring::add`] stored, with its mnemonic (to show the user once).
#[derive(Debug)]
pub struct NewKey {
    pub info: KeyInfo,
    pub mnemonic: Mnemonic,
}

/// The secret [`Keyring::export`] returns. Zeroized on drop; `Debug` redacts it.
pub enum ExportedSecret {
    Mnemonic(Mnemonic),
    /// The 32 secret-key bytes (big-endian scalar).
    SecretKey(Zeroizing<[u8; 32]>),
}

impl fmt::Debug for ExportedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportedSecret::Mnemonic(m) => f.debug_tuple("Mnemonic").field(m).finish(),
            ExportedSecret::SecretKey(_) => f.write_str("SecretKey([REDACTED])"),
        }
    }
}

/// Argon2id cost parameters for newly encrypted keys. Files record the parameters they were
/// written with, so changing these never breaks existing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes over the memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane (about 0.2–0.5 s on a laptop core).
    fn default() -> Self {
        Self {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

// Bounds on what a key file may ask for, so a tampered file cannot make us allocate or
// spin without limit.
const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 64;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("invalid key name {0:?}: use 1 to 64 characters from a-z, A-Z, 0-9, '_' and '-'")]
    InvalidName(String),
    #[error("a key named {0:?} already exists (overwrite it explicitly to replace it)")]
    AlreadyExists(String),
    #[error("no key named {name:?} in the {backend} keyring ({})", dir.display())]
    NotFound {
        name: String,
        backend: Backend,
        dir: PathBuf,
    },
    #[error("the {0} keyring backend needs a passphrase")]
    PassphraseRequired(Backend),
    #[error("the passphrase is too short: use at least {MIN_PASSPHRASE_LEN} characters")]
    PassphraseTooShort,
    #[error("wrong passphrase for key {0:?} (or its file was modified)")]
    WrongPassphrase(String),
    #[error("key file {} is corrupt: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("key file {} has format version {version}; this program reads version {KEY_FILE_VERSION}", path.display())]
    UnsupportedVersion { path: PathBuf, version: u32 },
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("invalid key-derivation parameters: {0}")]
    InvalidKdfParams(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> KeyringError + '_ {
    move |source| KeyringError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a key name: 1 to 64 characters from `a-z A-Z 0-9 _ -`.
pub fn validate_name(name: &str) -> Result<(), KeyringError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(KeyringError::InvalidName(name.to_string()))
    }
}

/// One key file (format version 1).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    name: String,
    address: String,
    #[serde(with = "veil_types::serde_bytes_b64")]
    public_key: Vec<u8>,
    #[serde(with = "veil_types::serde_bytes_b64")]
    encryption_public_key: Vec<u8>,
    source: KeySource,
    /// Test backend, source = mnemonic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mnemonic: Option<String>,
    /// Test backend, source = secret_key: 64 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_key: Option<String>,
    /// File backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encrypted: Option<EncryptedSecret>,
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        self.mnemonic.zeroize();
        self.secret_key.zeroize();
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EncryptedSecret {
    kdf: String,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    #[serde(with = "veil_types::serde_bytes_b64")]
    salt: Vec<u8>,
    cipher: String,
    #[serde(with = "veil_types::serde_bytes_b64")]
    nonce: Vec<u8>,
    /// The mnemonic's UTF-8 words or the 32 secret-key bytes, plus the 16-byte tag.
    #[serde(with = "veil_types::serde_bytes_b64")]
    ciphertext: Vec<u8>,
}

/// A secret on its way into a key file.
enum SecretToStore<'a> {
    Mnemonic(&'a Mnemonic),
    SecretKey(&'a [u8; 32]),
}

/// A directory of key files of one backend.
#[derive(Debug, Clone)]
pub struct Keyring {
    dir: PathBuf,
    backend: Backend,
    kdf: KdfParams,
}

impl Keyring {
    /// The keyring of `backend` under `home` (`<home>/keyring-<backend>/`). Nothing is
    /// created until a key is written.
    pub fn open(home: &Path, backend: Backend) -> Result<Self, KeyringError> {
        let dir = home.join(backend.dir_name());
        match fs::metadata(&dir) {
            Ok(meta) if !meta.is_dir() => return Err(KeyringError::NotADirectory(dir)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&dir)(e)),
        }
        Ok(Self {
            dir,
            backend,
            kdf: KdfParams::default(),
        })
    }

    /// Uses other Argon2id costs for keys written from now on (e.g. cheaper ones in tests).
    pub fn with_kdf_params(mut self, params: KdfParams) -> Self {
        self.kdf = params;
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The directory holding the key files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of key `name` (which may not exist).
    pub fn path_of(&self, name: &str) -> Result<PathBuf, KeyringError> {
        validate_name(name)?;
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Whether a key named `name` exists.
    pub fn contains(&self, name: &str) -> Result<bool, KeyringError> {
        let path = self.path_of(name)?;
        match fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// Stores a key under `name`: the key of `mnemonic`, or of a freshly generated 24-word
    /// mnemonic if `None`. Returns its public information and the mnemonic (show it to the
    /// user once: it is the only backup). `passphrase` is required by the file backend (at
    /// least [`MIN_PASSPHRASE_LEN`] characters) and ignored by the test backend. Fails with
    /// [`KeyringError::AlreadyExists`] if the name is taken, unless `overwrite`.
    pub fn add(
        &self,
        name: &str,
        mnemonic: Option<Mnemonic>,
        passphrase: Option<&str>,
        overwrite: bool,
    ) -> Result<NewKey, KeyringError> {
        self.check_new(name, passphrase, overwrite)?;
        let mnemonic = mnemonic.unwrap_or_else(Mnemonic::generate);
        let key = KeyPair::from_mnemonic(&mnemonic)?;
        let info = self.store(
            name,
            &key,
            SecretToStore::Mnemonic(&mnemonic),
            passphrase,
            overwrite,
        )?;
        Ok(NewKey { info, mnemonic })
    }

    /// Stores the key of an existing mnemonic under `name` (see [`Self::add`]).
    pub fn import(
        &self,
        name: &str,
        mnemonic: &Mnemonic,
        passphrase: Option<&str>,
        overwrite: bool,
    ) -> Result<KeyInfo, KeyringError> {
        self.check_new(name, passphrase, overwrite)?;
        let key = KeyPair::from_mnemonic(mnemonic)?;
        self.store(
            name,
            &key,
            SecretToStore::Mnemonic(mnemonic),
            passphrase,
            overwrite,
        )
    }

    /// Stores a raw 32-byte secp256k1 secret key under `name` (see [`Self::add`]);
    /// [`Self::export`] then returns the secret key, as there is no mnemonic.
    pub fn import_secret_key(
        &self,
        name: &str,
        secret_key: &[u8; 32],
        passphrase: Option<&str>,
        overwrite: bool,
    ) -> Result<KeyInfo, KeyringError> {
        self.check_new(name, passphrase, overwrite)?;
        let key = KeyPair::from_secret_bytes(secret_key)?;
        self.store(
            name,
            &key,
            SecretToStore::SecretKey(secret_key),
            passphrase,
            overwrite,
        )
    }

    /// Every key's public information, sorted by name. Fails on an unreadable or corrupt
    /// key file (naming it) rather than hiding it.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyringError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&self.dir)(e)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error(&self.dir))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            // Temporary files start with '.', which no valid name does.
            if validate_name(name).is_err() {
                continue;
            }
            keys.push(self.show(name)?);
        }
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys)
    }

    /// The public information of key `name`.
    pub fn show(&self, name: &str) -> Result<KeyInfo, KeyringError> {
        let (_, file) = self.read(name)?;
        Ok(info_of(&file))
    }

    /// The key `name`, decrypted with `passphrase` for the file backend.
    pub fn get(&self, name: &str, passphrase: Option<&str>) -> Result<KeyPair, KeyringError> {
        Ok(self.load(name, passphrase)?.0)
    }

    /// The secret of key `name`: its mnemonic, or its raw secret key if it was imported as
    /// one. `passphrase` as for [`Self::get`].
    pub fn export(
        &self,
        name: &str,
        passphrase: Option<&str>,
    ) -> Result<ExportedSecret, KeyringError> {
        Ok(self.load(name, passphrase)?.1)
    }

    /// Reads and decrypts key `name`, and checks that its secret gives the stored address.
    fn load(
        &self,
        name: &str,
        passphrase: Option<&str>,
    ) -> Result<(KeyPair, ExportedSecret), KeyringError> {
        let (path, file) = self.read(name)?;
        let secret = self.decrypt(&path, &file, passphrase)?;
        let key = match &secret {
            ExportedSecret::Mnemonic(m) => KeyPair::from_mnemonic(m)?,
            ExportedSecret::SecretKey(s) => KeyPair::from_secret_bytes(s)
                .map_err(|e| corrupt(&path, format!("stored secret key: {e}")))?,
        };
        if key.address() != file.address
            || key.public_key()[..] != file.public_key[..]
            || key.encryption_public_key()[..] != file.encryption_public_key[..]
        {
            return Err(corrupt(
                &path,
                "the stored secret does not match the stored address",
            ));
        }
        Ok((key, secret))
    }

    /// Deletes key `name` (for good, unless its mnemonic is written down somewhere).
    pub fn delete(&self, name: &str) -> Result<(), KeyringError> {
        let path = self.path_of(name)?;
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(&self.dir);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(self.not_found(name)),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    fn not_found(&self, name: &str) -> KeyringError {
        KeyringError::NotFound {
            name: name.to_string(),
            backend: self.backend,
            dir: self.dir.clone(),
        }
    }

    /// The checks before a write that need no secret: cheap, and done before any prompt-
    /// or KDF-sized work.
    fn check_new(
        &self,
        name: &str,
        passphrase: Option<&str>,
        overwrite: bool,
    ) -> Result<(), KeyringError> {
        validate_name(name)?;
        if self.backend == Backend::File {
            match passphrase {
                None => return Err(KeyringError::PassphraseRequired(self.backend)),
                Some(p) if p.chars().count() < MIN_PASSPHRASE_LEN => {
                    return Err(KeyringError::PassphraseTooShort)
                }
                Some(_) => {}
            }
        }
        if !overwrite && self.contains(name)? {
            return Err(KeyringError::AlreadyExists(name.to_string()));
        }
        Ok(())
    }

    fn store(
        &self,
        name: &str,
        key: &KeyPair,
        secret: SecretToStore<'_>,
        passphrase: Option<&str>,
        overwrite: bool,
    ) -> Result<KeyInfo, KeyringError> {
        let source = match secret {
            SecretToStore::Mnemonic(_) => KeySource::Mnemonic,
            SecretToStore::SecretKey(_) => KeySource::SecretKey,
        };
        let mut file = KeyFile {
            version: KEY_FILE_VERSION,
            name: name.to_string(),
            address: key.address().to_string(),
            public_key: key.public_key().to_vec(),
            encryption_public_key: key.encryption_public_key().to_vec(),
            source,
            mnemonic: None,
            secret_key: None,
            encrypted: None,
        };
        match self.backend {
            Backend::Test => match secret {
                SecretToStore::Mnemonic(m) => file.mnemonic = Some(m.phrase().to_string()),
                SecretToStore::SecretKey(s) => file.secret_key = Some(hex::encode(s)),
            },
            Backend::File => {
                let passphrase =
                    passphrase.ok_or(KeyringError::PassphraseRequired(self.backend))?;
                let plaintext: Zeroizing<Vec<u8>> = match secret {
                    SecretToStore::Mnemonic(m) => Zeroizing::new(m.phrase().as_bytes().to_vec()),
                    SecretToStore::SecretKey(s) => Zeroizing::new(s.to_vec()),
                };
                file.encrypted = Some(encrypt_secret(
                    &self.kdf,
                    passphrase,
                    &file_aad(&file),
                    &plaintext,
                )?);
            }
        }
        // Big enough never to reallocate (which would leave copies of a plaintext secret).
        let mut bytes = Zeroizing::new(Vec::with_capacity(8192));
        serde_json::to_writer_pretty(&mut *bytes, &file).expect("a key file serializes");
        bytes.push(b'\n');
        self.write_atomic(name, &bytes, overwrite)?;
        Ok(info_of(&file))
    }

    fn read(&self, name: &str) -> Result<(PathBuf, KeyFile), KeyringError> {
        let path = self.path_of(name)?;
        let mut f = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.not_found(name)),
            Err(e) => return Err(io_error(&path)(e)),
        };
        let len = f.metadata().map_err(io_error(&path))?.len();
        if len > MAX_KEY_FILE_BYTES {
            return Err(corrupt(
                &path,
                format!("{len} bytes, more than a key file can hold"),
            ));
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(len as usize + 1));
        (&mut f)
            .take(MAX_KEY_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error(&path))?;
        // Check the version first, so a newer format gets a clear message.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let version: Version = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(&path, format!("not a key file: {e}")))?;
        if version.version != KEY_FILE_VERSION {
            return Err(KeyringError::UnsupportedVersion {
                path,
                version: version.version,
            });
        }
        let file: KeyFile = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(&path, format!("not a key file: {e}")))?;
        self.check_file(&path, name, &file)?;
        Ok((path, file))
    }

    /// Structural checks of a parsed key file (the secret itself is checked on `get`).
    fn check_file(&self, path: &Path, name: &str, file: &KeyFile) -> Result<(), KeyringError> {
        if file.name != name {
            return Err(corrupt(
                path,
                format!("it holds key {:?}, not {name:?}", file.name),
            ));
        }
        veil_types::validate_address(&file.address).map_err(|e| corrupt(path, e))?;
        if file.public_key.len() != 33 || file.encryption_public_key.len() != 32 {
            return Err(corrupt(path, "public keys of the wrong length"));
        }
        if veil_types::account_address(&file.public_key) != file.address {
            return Err(corrupt(path, "the address does not match the public key"));
        }
        let fields = (
            file.mnemonic.is_some(),
            file.secret_key.is_some(),
            file.encrypted.is_some(),
        );
        let expected = match (self.backend, file.source) {
            (Backend::Test, KeySource::Mnemonic) => (true, false, false),
            (Backend::Test, KeySource::SecretKey) => (false, true, false),
            (Backend::File, _) => (false, false, true),
        };
        if fields != expected {
            return Err(corrupt(
                path,
                format!(
                    "its secret fields do not fit a {} key in the {} backend",
                    file.source.as_str(),
                    self.backend
                ),
            ));
        }
        Ok(())
    }

    fn decrypt(
        &self,
        path: &Path,
        file: &KeyFile,
        passphrase: Option<&str>,
    ) -> Result<ExportedSecret, KeyringError> {
        let plaintext: Zeroizing<Vec<u8>> =
            match (&file.mnemonic, &file.secret_key, &file.encrypted) {
                (Some(m), _, _) => Zeroizing::new(m.as_bytes().to_vec()),
                (_, Some(s), _) => Zeroizing::new(
                    hex::decode(s).map_err(|_| corrupt(path, "secret_key is not hex"))?,
                ),
                (_, _, Some(enc)) => {
                    let passphrase =
                        passphrase.ok_or(KeyringError::PassphraseRequired(self.backend))?;
                    decrypt_secret(path, &file.name, enc, passphrase, &file_aad(file))?
                }
                (None, None, None) => return Err(corrupt(path, "no secret")),
            };
        match file.source {
            KeySource::Mnemonic => {
                let phrase = std::str::from_utf8(&plaintext)
                    .map_err(|_| corrupt(path, "the mnemonic is not UTF-8"))?;
                let mnemonic = Mnemonic::parse(phrase)
                    .map_err(|e| corrupt(path, format!("stored mnemonic: {e}")))?;
                Ok(ExportedSecret::Mnemonic(mnemonic))
            }
            KeySource::SecretKey => {
                let secret: [u8; 32] = plaintext
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupt(path, "the secret key is not 32 bytes"))?;
                Ok(ExportedSecret::SecretKey(Zeroizing::new(secret)))
            }
        }
    }

    /// Writes `<name>.json` through a temporary file in the same directory. Without
    /// `overwrite` the file is hard-linked into place, which fails atomically if the name
    /// was taken in the meantime.
    fn write_atomic(&self, name: &str, bytes: &[u8], overwrite: bool) -> Result<(), KeyringError> {
        self.ensure_dir()?;
        let path = self.path_of(name)?;
        let tmp = self.dir.join(format!(
            ".{name}.json.{}.{:016x}.tmp",
            std::process::id(),
            OsRng.next_u64()
        ));
        let result = write_new_file(&tmp, bytes).and_then(|()| {
            if overwrite {
                return fs::rename(&tmp, &path).map_err(io_error(&path));
            }
            match fs::hard_link(&tmp, &path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    Err(KeyringError::AlreadyExists(name.to_string()))
                }
                // Filesystems without hard links: check, then rename.
                Err(_) => {
                    if self.contains(name)? {
                        Err(KeyringError::AlreadyExists(name.to_string()))
                    } else {
                        fs::rename(&tmp, &path).map_err(io_error(&path))
                    }
                }
            }
        });
        let _ = fs::remove_file(&tmp);
        result?;
        sync_dir(&self.dir);
        Ok(())
    }

    fn ensure_dir(&self) -> Result<(), KeyringError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.dir).map_err(io_error(&self.dir))
    }
}

fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), KeyringError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(io_error(path))?;
    f.write_all(bytes).map_err(io_error(path))?;
    f.sync_all().map_err(io_error(path))
}

/// Makes a rename or unlink durable (best effort: not every platform can sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> KeyringError {
    KeyringError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn info_of(file: &KeyFile) -> KeyInfo {
    KeyInfo {
        name: file.name.clone(),
        address: file.address.clone(),
        public_key: file.public_key.clone(),
        encryption_public_key: file.encryption_public_key.clone(),
        source: file.source,
    }
}

/// `"veil/keyring-file-v1" || 0x00 || name || 0x00 || source || 0x00 || address`: binds the
/// ciphertext to the public fields beside it (names and addresses contain no NUL).
fn file_aad(file: &KeyFile) -> Vec<u8> {
    let mut aad = FILE_AAD_DOMAIN.to_vec();
    for part in [
        file.name.as_str(),
        file.source.as_str(),
        file.address.as_str(),
    ] {
        aad.push(0);
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

fn argon2(params: &KdfParams) -> Result<Argon2<'static>, argon2::Error> {
    let params = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn encrypt_secret(
    kdf: &KdfParams,
    passphrase: &str,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<EncryptedSecret, KeyringError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut nonce);
    let mut key = Zeroizing::new([0u8; 32]);
    argon2(kdf)
        .and_then(|a| a.hash_password_into(passphrase.as_bytes(), &salt, &mut key[..]))
        .map_err(|e| KeyringError::InvalidKdfParams(e.to_string()))?;
    let ciphertext = Aes256GcmSiv::new_from_slice(&key[..])
        .expect("32-byte key")
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM-SIV encrypts any short message");
    Ok(EncryptedSecret {
        kdf: KDF_NAME.into(),
        m_cost_kib: kdf.m_cost_kib,
        t_cost: kdf.t_cost,
        p_cost: kdf.p_cost,
        salt: salt.to_vec(),
        cipher: CIPHER_NAME.into(),
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

fn decrypt_secret(
    path: &Path,
    name: &str,
    enc: &EncryptedSecret,
    passphrase: &str,
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    if enc.kdf != KDF_NAME || enc.cipher != CIPHER_NAME {
        return Err(corrupt(
            path,
            format!(
                "unknown kdf {:?} or cipher {:?} (expected {KDF_NAME}, {CIPHER_NAME})",
                enc.kdf, enc.cipher
            ),
        ));
    }
    if enc.m_cost_kib > MAX_M_COST_KIB || enc.t_cost > MAX_T_COST || enc.p_cost > MAX_P_COST {
        return Err(corrupt(path, "key-derivation costs out of range"));
    }
    if enc.salt.len() < 8 || enc.salt.len() > 64 || enc.nonce.len() != NONCE_LEN {
        return Err(corrupt(path, "salt or nonce of the wrong length"));
    }
    let params = KdfParams {
        m_cost_kib: enc.m_cost_kib,
        t_cost: enc.t_cost,
        p_cost: enc.p_cost,
    };
    let mut key = Zeroizing::new([0u8; 32]);
    argon2(&params)
        .and_then(|a| a.hash_password_into(passphrase.as_bytes(), &enc.salt, &mut key[..]))
        .map_err(|e| corrupt(path, format!("key derivation: {e}")))?;
    Aes256GcmSiv::new_from_slice(&key[..])
        .expect("32-byte key")
        .decrypt(
            Nonce::from_slice(&enc.nonce),
            Payload {
                msg: &enc.ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| KeyringError::WrongPassphrase(name.to_string()))
}

#[cfg(test)]
mod tests;
