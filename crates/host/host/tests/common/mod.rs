//! Shared helpers for the veil-host integration tests: hosts in both enclave modes, users
//! with their own X25519 keys, encrypting messages and decrypting results, contracts built
//! from source.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest;
use veil_crypto::x25519_dalek::{PublicKey, StaticSecret};
use veil_crypto::{CryptoError, OsRng, OutputKind, TxKey};
use veil_enclave_abi::{BlockRef, EnclaveError, ErrorKind, Hash, RunResponse};
use veil_host::{ConfidentialHost, EnclaveMode, HostConfig, HostError, Tap};
use veil_types::k256::ecdsa::SigningKey;

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Gas limit of every call (CosmWasm gas units).
pub const GAS_LIMIT: u64 = 500_000_000_000;

pub const CW20_BASE_VERSION: &str = "2.0.0";

// ---------------------------------------------------------------------------------------
// Enclave executable and modes
// ---------------------------------------------------------------------------------------

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .canonicalize()
        .expect("workspace root")
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// The `veil-enclave` executable (debug profile), built once per test binary.
pub fn enclave_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let output = Command::new(env!("CARGO"))
            // The same selection as `cargo test --workspace` resolves features the same way,
            // so this only links the executable; `-p veil-enclave` alone would compile ~40
            // crates again with other features (minutes and half a GB on CI).
            .args(["build", "--workspace", "--bins", "--tests"])
            .current_dir(workspace_root())
            .output()
            .expect("running cargo build for veil-enclave");
        assert!(
            output.status.success(),
            "building veil-enclave failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let exe = target_dir()
            .join("debug")
            .join(format!("veil-enclave{}", std::env::consts::EXE_SUFFIX));
        assert!(exe.is_file(), "{} was not built", exe.display());
        exe
    })
}

/// Both enclave modes: in this process, and the `veil-enclave` executable.
pub fn modes() -> Vec<EnclaveMode> {
    vec![
        EnclaveMode::InProcess,
        EnclaveMode::Process(enclave_exe().to_path_buf()),
    ]
}

pub fn mode_name(mode: &EnclaveMode) -> &'static str {
    match mode {
        EnclaveMode::InProcess => "in-process",
        EnclaveMode::Process(_) => "process",
    }
}

// ---------------------------------------------------------------------------------------
// Hosts
// ---------------------------------------------------------------------------------------

/// A host whose home is a temporary directory (removed on drop, after the host).
pub struct TestHost {
    pub host: ConfidentialHost,
    pub dir: tempfile::TempDir,
}

impl TestHost {
    /// Stops the host (and its enclave) and keeps its home directory.
    pub fn close(self) -> tempfile::TempDir {
        drop(self.host);
        self.dir
    }
}

impl std::ops::Deref for TestHost {
    type Target = ConfidentialHost;
    fn deref(&self) -> &ConfidentialHost {
        &self.host
    }
}

impl std::ops::DerefMut for TestHost {
    fn deref_mut(&mut self) -> &mut ConfidentialHost {
        &mut self.host
    }
}

pub fn config(home: &Path, mode: &EnclaveMode) -> HostConfig {
    HostConfig {
        home: home.to_path_buf(),
        chain_id: CHAIN_ID.to_string(),
        mode: mode.clone(),
        log_crossings: false,
    }
}

pub fn open_host(mode: &EnclaveMode) -> TestHost {
    open_host_with_tap(mode, None)
}

pub fn open_host_with_tap(mode: &EnclaveMode, tap: Option<Tap>) -> TestHost {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = ConfidentialHost::open_with_tap(config(&dir.path().join("home"), mode), tap)
        .unwrap_or_else(|e| panic!("opening a host ({}): {e}", mode_name(mode)));
    TestHost { host, dir }
}

/// Everything a tap saw: (what, bytes), in order.
pub type Recording = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A tap that records every byte it sees.
pub fn recording_tap() -> (Tap, Recording) {
    let recording: Recording = Arc::default();
    let sink = recording.clone();
    let tap: Tap = Arc::new(move |what: &str, bytes: &[u8]| {
        sink.lock()
            .unwrap()
            .push((what.to_string(), bytes.to_vec()));
    });
    (tap, recording)
}

/// Every file below `dir` (recursively) with its contents.
pub fn read_all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display()))
        {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                out.push((path, bytes));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Blocks and accounts
// ---------------------------------------------------------------------------------------

pub const HEIGHT: u64 = 12_345;
pub const TIME_NANOS: u64 = 1_700_000_000_000_000_000;
pub const CHAIN_ID: &str = "veil-host-test-1";

pub fn block() -> BlockRef {
    BlockRef {
        height: HEIGHT,
        time_nanos: TIME_NANOS,
        chain_id: CHAIN_ID.to_string(),
        tx_index: Some(0),
    }
}

/// The same block, as the plain engine takes it.
pub fn block_context() -> veil_engine::BlockContext {
    veil_engine::BlockContext {
        height: HEIGHT,
        time_nanos: TIME_NANOS,
        chain_id: CHAIN_ID.to_string(),
        tx_index: Some(0),
    }
}

/// The signing key of account `label` (same key in every run).
pub fn account_key(label: &str) -> SigningKey {
    let hash = sha2::Sha256::digest(format!("account/{label}"));
    SigningKey::from_slice(&hash).expect("a valid secp256k1 secret")
}

fn signers() -> &'static Mutex<HashMap<String, SigningKey>> {
    static SIGNERS: OnceLock<Mutex<HashMap<String, SigningKey>>> = OnceLock::new();
    SIGNERS.get_or_init(Default::default)
}

/// A deterministic account address (`veil1…`) for `label`: the address of
/// [`account_key`], remembered so [`signer`] can sign for it.
pub fn account(label: &str) -> String {
    let key = account_key(label);
    let address = veil_host::signer_address(&key);
    signers().lock().unwrap().insert(address.clone(), key);
    address
}

/// The key that signs for an address made by [`account`].
pub fn signer(address: &str) -> SigningKey {
    signers()
        .lock()
        .unwrap()
        .get(address)
        .cloned()
        .unwrap_or_else(|| panic!("{address} was not made by account()"))
}

// ---------------------------------------------------------------------------------------
// Users: X25519 keys, encryption, decryption
// ---------------------------------------------------------------------------------------

/// A user: holds an X25519 secret and reads the results of its own transactions.
pub struct User {
    pub secret: StaticSecret,
}

impl User {
    /// A user with a fixed key derived from `label` (same key in every run).
    pub fn fixed(label: &str) -> Self {
        let seed: [u8; 32] = sha2::Sha256::digest(format!("user/{label}")).into();
        Self {
            secret: StaticSecret::from(seed),
        }
    }

    pub fn random() -> Self {
        Self {
            secret: StaticSecret::random_from_rng(OsRng),
        }
    }

    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.secret).to_bytes()
    }

    /// Encrypts `msg` for contract code `code_hash` to `host`'s network key.
    pub fn encrypt(
        &self,
        host: &ConfidentialHost,
        code_hash: &Hash,
        msg: &Value,
    ) -> (Vec<u8>, TxKey) {
        let (network_key, generation) = host.network_key();
        self.encrypt_to(&network_key, generation, code_hash, msg)
    }

    pub fn encrypt_to(
        &self,
        network_key: &Hash,
        generation: u32,
        code_hash: &Hash,
        msg: &Value,
    ) -> (Vec<u8>, TxKey) {
        let bytes = serde_json::to_vec(msg).unwrap();
        veil_crypto::encrypt_input(
            &mut OsRng,
            &self.secret,
            network_key,
            generation,
            code_hash,
            &bytes,
        )
        .expect("encrypting a message")
    }

    /// Recomputes the transaction key of `envelope` as this user would (from its own secret,
    /// the network key and the envelope's public nonce).
    pub fn tx_key_for(
        &self,
        host: &ConfidentialHost,
        envelope: &[u8],
    ) -> Result<TxKey, CryptoError> {
        let (network_key, generation) = host.network_key();
        let nonce: [u8; 32] = envelope[37..69].try_into().unwrap();
        TxKey::for_client(&self.secret, &network_key, generation, &nonce)
    }
}

/// Decrypts a result as the sender does.
pub fn try_decrypt(tx_key: &TxKey, response: &RunResponse) -> Result<Value, CryptoError> {
    let plain = tx_key.decrypt_output(0, OutputKind::Data, &response.encrypted_result)?;
    Ok(serde_json::from_slice(&plain).expect("decrypted results are JSON"))
}

pub fn decrypt(tx_key: &TxKey, response: &RunResponse) -> Value {
    try_decrypt(tx_key, response).expect("the sender decrypts its result")
}

/// The JSON a successful query answered (its base64 `data`, decoded and parsed).
pub fn query_answer(result: &Value) -> Value {
    let data = result["data"]
        .as_str()
        .unwrap_or_else(|| panic!("query result without data: {result}"));
    serde_json::from_slice(&B64.decode(data).unwrap()).unwrap()
}

/// The enclave error a host call failed with; panics on success or another failure.
pub fn enclave_error<T: std::fmt::Debug>(result: Result<T, HostError>) -> EnclaveError {
    match result {
        Err(HostError::Enclave(e)) => e,
        other => panic!("expected an enclave error, got {other:?}"),
    }
}

pub fn expect_enclave_error<T: std::fmt::Debug>(
    result: Result<T, HostError>,
    kind: ErrorKind,
) -> EnclaveError {
    let e = enclave_error(result);
    assert_eq!(e.kind, kind, "unexpected error kind: {e}");
    e
}

// ---------------------------------------------------------------------------------------
// Contracts on a host
// ---------------------------------------------------------------------------------------

/// One contract instance on a host, called by users.
#[derive(Clone)]
pub struct Contract {
    pub address: String,
    pub code_hash: Hash,
}

impl Contract {
    /// Instantiates `code_hash` as `creator` (the transaction is encrypted by `user`);
    /// panics unless it succeeds. Returns the contract and the decrypted result.
    pub fn instantiate(
        host: &ConfidentialHost,
        code_hash: Hash,
        user: &User,
        creator: &str,
        label: &str,
        msg: &Value,
    ) -> (Contract, Value) {
        let (envelope, key) = user.encrypt(host, &code_hash, msg);
        let (address, response) = host
            .instantiate(
                code_hash,
                &signer(creator),
                label,
                envelope,
                Vec::new(),
                block(),
                GAS_LIMIT,
            )
            .expect("instantiate crosses");
        let result = decrypt(&key, &response);
        assert!(response.ok, "instantiate failed: {result}");
        (Contract { address, code_hash }, result)
    }

    /// Executes `msg` as `sender` (encrypted by `user`); returns the response and the
    /// decrypted result, whatever the outcome.
    pub fn execute(
        &self,
        host: &ConfidentialHost,
        user: &User,
        sender: &str,
        msg: &Value,
    ) -> (RunResponse, Value) {
        let (envelope, key) = user.encrypt(host, &self.code_hash, msg);
        let response = host
            .execute(
                &self.address,
                &signer(sender),
                envelope,
                Vec::new(),
                block(),
                GAS_LIMIT,
            )
            .unwrap_or_else(|e| panic!("execute {msg} crossed with an error: {e}"));
        let result = decrypt(&key, &response);
        (response, result)
    }

    /// Executes and panics unless the contract succeeded.
    pub fn execute_ok(
        &self,
        host: &ConfidentialHost,
        user: &User,
        sender: &str,
        msg: &Value,
    ) -> (RunResponse, Value) {
        let (response, result) = self.execute(host, user, sender, msg);
        assert!(response.ok, "execute {msg} failed: {result}");
        (response, result)
    }

    /// Queries `msg` (encrypted by `user`); returns the response and decrypted result.
    pub fn query_raw(
        &self,
        host: &ConfidentialHost,
        user: &User,
        msg: &Value,
    ) -> (RunResponse, Value) {
        let (envelope, key) = user.encrypt(host, &self.code_hash, msg);
        let response = host
            .query(&self.address, envelope, block(), GAS_LIMIT)
            .unwrap_or_else(|e| panic!("query {msg} crossed with an error: {e}"));
        let result = decrypt(&key, &response);
        (response, result)
    }

    /// The parsed answer of a successful query.
    pub fn query(&self, host: &ConfidentialHost, user: &User, msg: &Value) -> Value {
        let (response, result) = self.query_raw(host, user, msg);
        assert!(response.ok, "query {msg} failed: {result}");
        query_answer(&result)
    }

    /// The state root the host records for this contract.
    pub fn root(&self, host: &ConfidentialHost) -> Option<Hash> {
        host.contract(&self.address).expect("known contract").root
    }
}

// ---------------------------------------------------------------------------------------
// Contracts built from source
// ---------------------------------------------------------------------------------------

/// cw20-base 2.0.0, unchanged from crates.io, built for the MVP target.
pub fn cw20_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        use veil_contract_build as build;
        let options = build::BuildOptions {
            mvp: true,
            out_dir: None,
            quiet: true,
            near: false,
        };
        let path = build::build_published("cw20-base", CW20_BASE_VERSION, &options)
            .expect("build cw20-base");
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    })
}

/// contracts/kitchen-sink (storage, ranges, errors), built for the MVP target.
pub fn kitchen_sink_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        use veil_contract_build as build;
        build::ensure_toolchain(true).expect("wasm toolchain");
        let dir = workspace_root().join("contracts/kitchen-sink");
        let out_dir = build::workspace_contract_cache()
            .join("host-test-artifacts")
            .join("kitchen-sink");
        let path = build::build_contract(
            &dir,
            &build::BuildOptions {
                mvp: true,
                out_dir: Some(out_dir),
                quiet: true,
                near: false,
            },
        )
        .expect("build kitchen-sink");
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    })
}
