//! `veil tx`: sign, encrypt and send transactions; and what `veil tx`, `veil query` and
//! `veil status` share: the node flag, the keyring flags, output, errors and progress.

use std::io::{self, BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::Digest;
use veil_client::keyring::{validate_name, Backend, Keyring, KeyringError};
use veil_client::keys::KeyPair;
use veil_client::rpc::{Client, ClientError, DEFAULT_NODE_URL};
use veil_client::tx::{decode_data, Gas, Outcome, TxOptions, Wallet, WalletError};
use veil_types::{Msg, Receipt, DENOM};
use zeroize::Zeroizing;

use crate::keys::{default_home, BACKEND_ENV, PASSPHRASE_ENV};

/// Environment variable: the node's RPC URL.
pub(crate) const NODE_ENV: &str = "VEIL_NODE";

pub(crate) const TX_LONG_ABOUT: &str = "\
Sign transactions with a key from the local keyring, send them to a node and wait until
they are in a block.

Contract messages (instantiate, execute, migrate) are encrypted on this machine to the
network's key, for the contract's code only: the node, other users and block explorers see
ciphertext. The contract's answer (its data, attributes, events, or its error message) is
encrypted for the sender; `veil tx` decrypts and prints it. Amounts, addresses, code and
gas are public.

--from KEY names the signing key (see `veil keys`; `veil dev` puts the funded dev accounts
alice, bob and carol into the test keyring: use --keyring-backend test or set
VEIL_KEYRING_BACKEND=test). Wherever an address is expected (the recipient, --admin), a key
name from the keyring works too.

Gas: --gas auto (the default) runs the transaction in simulation first and sets the limit
to 1.3 × the gas it used (a failure found there is reported and nothing is sent); --gas N
sets the limit. The fee defaults to the minimum the node takes for the limit; the whole
fee is charged even when the transaction fails in the block.

Output: text for people, or --output json: exactly one JSON value on stdout, with tx_hash,
height, index, gas_used, gas_limit, fee (a decimal string, in uveil), code_id, code_hash,
contract_address where relevant, and `result`: the decrypted answer with `data` decoded
to JSON when it is JSON. Progress goes to stderr as `veil: ...`.

Errors go to stderr as `error: ...` (with --output json, also as {\"error\": {\"kind\",
\"message\", ...}} on stdout). Exit status: 0 when the transaction succeeded, 1 when it
failed or could not be sent (node unreachable, unknown key, insufficient funds, out of gas,
the contract's error), 2 for bad command-line input (bad JSON message, bad amount).";

// ---------------------------------------------------------------------------------------
// Shared flags
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    Text,
    Json,
}

/// Which node to talk to and how to print.
#[derive(clap::Args)]
pub struct NodeOpts {
    /// The node's RPC URL [default: $VEIL_NODE, else http://127.0.0.1:26657].
    #[arg(long, value_name = "URL")]
    node: Option<String>,
    /// Output format: `text` for people; `json` for scripts (exactly one JSON value on
    /// stdout, also when the command fails).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
}

impl NodeOpts {
    pub(crate) fn url(&self) -> String {
        let url = self
            .node
            .clone()
            .or_else(|| std::env::var(NODE_ENV).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| DEFAULT_NODE_URL.to_string());
        if url.contains("://") {
            url
        } else {
            format!("http://{url}")
        }
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(&self.url())
    }

    pub(crate) fn json(&self) -> bool {
        self.output == OutputFormat::Json
    }
}

/// Where the keyring is.
#[derive(clap::Args)]
pub struct KeyringOpts {
    /// Veil home directory, where the keyring is [default: $VEIL_HOME, else ~/.veil].
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Keyring backend: `file` (passphrase-encrypted) or `test` (plaintext; where `veil
    /// dev` puts alice, bob and carol) [default: $VEIL_KEYRING_BACKEND, else file]. The
    /// file backend's passphrase comes from $VEIL_KEYRING_PASSPHRASE, else the terminal,
    /// else one line of stdin.
    #[arg(long, value_name = "BACKEND")]
    keyring_backend: Option<Backend>,
}

impl KeyringOpts {
    /// The keyring of `home` (a command whose own `--home` is another directory).
    pub(crate) fn at(home: Option<PathBuf>, keyring_backend: Option<Backend>) -> Self {
        Self {
            home,
            keyring_backend,
        }
    }

    fn backend(&self) -> Result<Backend, Failure> {
        if let Some(backend) = self.keyring_backend {
            return Ok(backend);
        }
        match std::env::var(BACKEND_ENV) {
            Ok(value) if !value.is_empty() => value
                .parse()
                .map_err(|e| usage(format!("{BACKEND_ENV}: {e}"))),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(Backend::File),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(usage(format!("{BACKEND_ENV} is not valid UTF-8")))
            }
        }
    }

    fn keyring(&self, backend: Backend) -> Result<Keyring, Failure> {
        let home = match &self.home {
            Some(home) => crate::absolute(home),
            None => default_home().map_err(Failure::Usage)?,
        };
        Ok(Keyring::open(&home, backend)?)
    }

    /// The keyring of the other backend, if it holds `name` (for a hint).
    fn other_backend_has(&self, backend: Backend, name: &str) -> Option<Backend> {
        let other = match backend {
            Backend::File => Backend::Test,
            Backend::Test => Backend::File,
        };
        let keyring = self.keyring(other).ok()?;
        keyring.contains(name).ok()?.then_some(other)
    }

    fn not_found(&self, backend: Backend, name: &str, e: KeyringError) -> Failure {
        let mut message = e.to_string();
        if let Some(other) = self.other_backend_has(backend, name) {
            message.push_str(&format!(
                "; the {other} keyring has one: pass --keyring-backend {other} (or set {BACKEND_ENV}={other})"
            ));
        } else {
            message.push_str("; `veil keys list` shows the keys");
        }
        failed("unknown_key", message)
    }

    /// Loads key `name`, asking for the file backend's passphrase if needed.
    pub(crate) fn load(&self, name: &str) -> Result<KeyPair, Failure> {
        validate_name(name)?;
        let backend = self.backend()?;
        let keyring = self.keyring(backend)?;
        if let Err(e) = keyring.show(name) {
            return Err(match e {
                KeyringError::NotFound { .. } => self.not_found(backend, name, e),
                other => other.into(),
            });
        }
        let passphrase = passphrase(backend, name)?;
        Ok(keyring.get(name, passphrase.as_ref().map(|p| p.as_str()))?)
    }

    /// An address as given, or the address of a key in the keyring (public information,
    /// no passphrase needed). Returns the address and the key name, if it was one.
    pub(crate) fn resolve_address(&self, text: &str) -> Result<(String, Option<String>), Failure> {
        let address_error = match veil_types::validate_address(text) {
            Ok(()) => return Ok((text.to_string(), None)),
            Err(e) => e,
        };
        if text.starts_with("veil1") || validate_name(text).is_err() {
            return Err(usage(format!(
                "{text:?} is neither an address nor a key name: {address_error}"
            )));
        }
        let backend = self.backend()?;
        let keyring = self.keyring(backend)?;
        match keyring.show(text) {
            Ok(info) => Ok((info.address, Some(text.to_string()))),
            Err(e @ KeyringError::NotFound { .. }) => {
                // Public keys of the other backend are fine for naming an address.
                if let Some(other) = self.other_backend_has(backend, text) {
                    let info = self.keyring(other)?.show(text)?;
                    return Ok((info.address, Some(text.to_string())));
                }
                Err(failed(
                    "unknown_key",
                    format!("{text:?} is not an address, and {e}"),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The file backend's passphrase, as `veil keys` reads it: $VEIL_KEYRING_PASSPHRASE, else
/// the terminal (no echo), else one line of stdin.
fn passphrase(backend: Backend, name: &str) -> Result<Option<Zeroizing<String>>, Failure> {
    if backend == Backend::Test {
        return Ok(None);
    }
    if let Some(value) = std::env::var_os(PASSPHRASE_ENV) {
        let value = value
            .into_string()
            .map_err(|_| usage(format!("{PASSPHRASE_ENV} is not valid UTF-8")))?;
        return Ok(Some(Zeroizing::new(value)));
    }
    if io::stdin().is_terminal() {
        return rpassword::prompt_password(format!("Passphrase of key {name:?}: "))
            .map(|p| Some(Zeroizing::new(p)))
            .map_err(|e| failed("io", format!("reading from the terminal: {e}")));
    }
    let mut line = Zeroizing::new(String::with_capacity(128));
    let n = io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| failed("io", format!("reading the passphrase from stdin: {e}")))?;
    if n == 0 {
        return Err(usage(format!(
            "key {name:?} is in the file keyring and needs its passphrase: set \
             {PASSPHRASE_ENV} or pass it on stdin"
        )));
    }
    let len = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(len);
    Ok(Some(line))
}

// ---------------------------------------------------------------------------------------
// Failures, output, progress
// ---------------------------------------------------------------------------------------

/// Why a command did not succeed: bad input (exit 2, reported by `main`) or a failure
/// (exit 1, reported by [`finish`]).
pub(crate) enum Failure {
    Usage(anyhow::Error),
    Failed {
        kind: String,
        message: String,
        details: Map<String, Value>,
    },
}

pub(crate) fn usage(message: impl std::fmt::Display) -> Failure {
    Failure::Usage(anyhow!("{message}"))
}

pub(crate) fn failed(kind: &str, message: impl Into<String>) -> Failure {
    Failure::Failed {
        kind: kind.to_string(),
        message: message.into(),
        details: Map::new(),
    }
}

impl From<KeyringError> for Failure {
    fn from(e: KeyringError) -> Self {
        match e {
            KeyringError::InvalidName(_)
            | KeyringError::PassphraseRequired(_)
            | KeyringError::PassphraseTooShort
            | KeyringError::Key(_) => Failure::Usage(e.into()),
            KeyringError::NotFound { .. } => failed("unknown_key", e.to_string()),
            KeyringError::WrongPassphrase(_) => failed("wrong_passphrase", e.to_string()),
            _ => failed("keyring", e.to_string()),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let kind = match &e {
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::Api { kind, .. } => kind.as_str(),
            ClientError::Decode(_) => "bad_answer",
            ClientError::Timeout { .. } => "timeout",
        }
        .to_string();
        let message = match &e {
            ClientError::Api { kind, message, .. } => {
                format!("the node answered: {message} ({kind})")
            }
            _ => e.to_string(),
        };
        let mut details = Map::new();
        if let ClientError::Timeout { tx_hash, .. } = &e {
            details.insert("tx_hash".into(), json!(tx_hash));
        }
        Failure::Failed {
            kind,
            message,
            details,
        }
    }
}

impl From<WalletError> for Failure {
    fn from(e: WalletError) -> Self {
        match e {
            WalletError::Client(e) => e.into(),
            WalletError::Crypto(_) => failed("crypto", e.to_string()),
            WalletError::CodeHashMismatch { .. } => failed("code_hash_mismatch", e.to_string()),
            WalletError::Other(_) => failed("other", e.to_string()),
            WalletError::Failed {
                ref tx_hash,
                ref kind,
                ref message,
                gas_used,
                gas_limit,
                ref contract_error,
            } => {
                let mut text = e.to_string();
                if tx_hash.is_empty() {
                    if gas_limit > 0 {
                        text.push_str("; nothing was sent and no fee was charged");
                    }
                } else {
                    text.push_str(&format!(
                        "; transaction {tx_hash} was included in a block and failed (its fee was charged)"
                    ));
                }
                if kind == "out_of_gas" {
                    text.push_str("; raise --gas, or use --gas auto");
                }
                let mut details = Map::new();
                if !tx_hash.is_empty() {
                    details.insert("tx_hash".into(), json!(tx_hash));
                }
                details.insert("public_message".into(), json!(message));
                details.insert("gas_used".into(), json!(gas_used));
                details.insert("gas_limit".into(), json!(gas_limit));
                details.insert("contract_error".into(), json!(contract_error));
                Failure::Failed {
                    kind: if kind.is_empty() {
                        "failed".into()
                    } else {
                        kind.clone()
                    },
                    message: text,
                    details,
                }
            }
        }
    }
}

/// Reports a command's outcome the way `main` and `veil keys` do.
pub(crate) fn finish(result: Result<(), Failure>, json: bool) -> anyhow::Result<ExitCode> {
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Failure::Usage(e)) => Err(e),
        Err(Failure::Failed {
            kind,
            message,
            details,
        }) => {
            eprintln!("error: {message}");
            if json {
                let mut error = Map::new();
                error.insert("kind".into(), json!(kind));
                error.insert("message".into(), json!(message));
                error.extend(details);
                print_json(&json!({ "error": error }));
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

pub(crate) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON serializes")
    );
}

/// Prints `key: value` lines (text output).
pub(crate) fn print_fields(fields: &[(&str, String)]) {
    for (key, value) in fields {
        println!("{key}: {value}");
    }
}

/// A progress line on stderr.
pub(crate) fn progress(message: &str) {
    eprintln!("veil: {message}");
}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

/// A --gas-adjustment factor: at least 1 (less would set the limit below what the
/// simulation used) and at most 10.
fn parse_gas_adjustment(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(factor) if (1.0..=10.0).contains(&factor) => Ok(factor),
        Ok(_) => Err(format!("{text} is outside 1 to 10")),
        Err(_) => Err(format!("{text:?} is not a number")),
    }
}

/// An amount of uveil: `1000` or `1000uveil`.
pub(crate) fn parse_amount(text: &str) -> Result<u128, String> {
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!(
            "{text:?} is not an amount: write a whole number of {DENOM}, like 1000 or 1000{DENOM}"
        ));
    }
    if !unit.is_empty() && unit != DENOM {
        return Err(format!(
            "{text:?}: unknown denomination {unit:?}; the only token is {DENOM} (write 1000 or 1000{DENOM})"
        ));
    }
    digits
        .parse()
        .map_err(|_| format!("{text:?} is too large for an amount"))
}

/// A contract message given on the command line: JSON.
pub(crate) fn parse_msg(text: &str) -> Result<Value, Failure> {
    serde_json::from_str(text).map_err(|e| {
        usage(format!(
            "the message is not valid JSON ({e}): {text:?}; pass it as one shell word, e.g. '{{\"increment\":{{}}}}'"
        ))
    })
}

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------

/// A decrypted contract answer with `data` decoded (JSON when it is JSON, else base64).
pub(crate) fn readable_result(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        if object.contains_key("data") {
            let data = decode_data(&Value::Object(object.clone())).unwrap_or(Value::Null);
            object.insert("data".into(), data);
        }
    }
    body
}

/// Text lines for a (readable) decrypted result.
pub(crate) fn print_result(result: &Value) {
    if let Some(error) = result.get("error").and_then(Value::as_str) {
        println!("result: error: {error}");
        return;
    }
    if let Some(data) = result.get("data") {
        println!("result.data: {data}");
    }
    if let Some(attributes) = result.get("attributes").and_then(Value::as_array) {
        for attribute in attributes {
            println!(
                "result.attribute: {} = {}",
                attribute["key"].as_str().unwrap_or_default(),
                attribute["value"].as_str().unwrap_or_default()
            );
        }
    }
    if let Some(events) = result.get("events").and_then(Value::as_array) {
        for event in events {
            println!("result.event: {event}");
        }
    }
}

/// The public facts of a committed transaction's receipt, as JSON fields.
pub(crate) fn receipt_fields(receipt: &Receipt) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("tx_hash".into(), json!(hex_encode(&receipt.tx_hash)));
    map.insert("height".into(), json!(receipt.height));
    map.insert("index".into(), json!(receipt.index));
    map.insert("sender".into(), json!(receipt.sender));
    map.insert("msg_kind".into(), json!(receipt.msg_kind));
    map.insert("ok".into(), json!(receipt.ok));
    map.insert("error_kind".into(), json!(receipt.error_kind));
    map.insert("error".into(), json!(receipt.error));
    map.insert("gas_used".into(), json!(receipt.gas_used));
    map.insert("gas_limit".into(), json!(receipt.gas_limit));
    map.insert("fee".into(), json!(receipt.fee.to_string()));
    map.insert(
        "events".into(),
        serde_json::to_value(&receipt.events).expect("events serialize"),
    );
    if let Some(code_id) = receipt.code_id {
        map.insert("code_id".into(), json!(code_id));
    }
    if let Some(address) = &receipt.contract_address {
        map.insert("contract_address".into(), json!(address));
    }
    map
}

/// Text lines for the public facts of a receipt.
pub(crate) fn print_receipt(receipt: &Receipt) {
    print_fields(&[
        ("tx_hash", hex_encode(&receipt.tx_hash)),
        ("height", receipt.height.to_string()),
        ("index", receipt.index.to_string()),
        ("sender", receipt.sender.clone()),
        (
            "gas",
            format!(
                "used {} of the limit {}",
                receipt.gas_used, receipt.gas_limit
            ),
        ),
        ("fee", format!("{}{DENOM}", receipt.fee)),
    ]);
}

pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

// ---------------------------------------------------------------------------------------
// veil tx
// ---------------------------------------------------------------------------------------

/// Flags every `veil tx` command takes.
#[derive(clap::Args)]
pub struct TxOpts {
    /// The key that signs the transaction and pays its fee (a key name in the keyring).
    #[arg(long, value_name = "KEY")]
    from: String,
    /// Gas limit, or `auto`: simulate the transaction first and allow 1.3 × the gas it
    /// used (see --gas-adjustment).
    #[arg(long, value_name = "N|auto", default_value = "auto")]
    gas: Gas,
    /// With --gas auto: the factor applied to the simulated gas [default: 1.3].
    #[arg(long, value_name = "FACTOR", value_parser = parse_gas_adjustment)]
    gas_adjustment: Option<f64>,
    /// Fee in uveil, e.g. `2000` or `2000uveil` [default: the minimum for the gas limit].
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount)]
    fee: Option<u128>,
    /// A public note stored with the transaction (at most 256 bytes).
    #[arg(long, default_value = "")]
    memo: String,
    /// How long to wait for the transaction to be included in a block, e.g. 30s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::node::parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    pub(crate) keyring: KeyringOpts,
    #[command(flatten)]
    pub(crate) node: NodeOpts,
}

#[derive(clap::Subcommand)]
pub enum TxCommand {
    /// Send uveil to an address (or to a key in the keyring).
    #[command(long_about = "\
Send uveil from --from to TO. TO is a veil1... address or the name of a key in the
keyring. AMOUNT is a whole number of uveil: 1000 or 1000uveil. Transfers are public.

Example: veil tx send bob 1000uveil --from alice --keyring-backend test")]
    Send(SendArgs),
    /// Upload contract code (a .wasm file); prints its code id and code hash.
    #[command(long_about = "\
Upload contract code (a CosmWasm .wasm file, e.g. from `veil contract build`) and print its
code id and code hash. The code is public; the node checks and compiles it. Instantiate it
with `veil tx instantiate CODE_ID ...`.

Example: veil tx store contracts/counter/artifacts/counter.wasm --from alice")]
    Store(StoreArgs),
    /// Create a contract from stored code; prints its address.
    #[command(long_about = "\
Create a contract from stored code: runs its `instantiate` entry point with MSG (JSON,
encrypted for the code) and prints the new contract's address. The address follows from
the code, the sender and the label, so a sender uses each label once per code.

Without --admin the contract can never be migrated.

Example: veil tx instantiate 1 '{\"count\":0}' --label my-counter --from alice")]
    Instantiate(InstantiateArgs),
    /// Call a contract's `execute` entry point with an encrypted message.
    #[command(long_about = "\
Call a contract's `execute` entry point with MSG (JSON). MSG is encrypted for the
contract's code; the contract's answer (data, attributes, events, or its error message) is
encrypted for you and printed decrypted. ADDR is the contract's address.

Example: veil tx execute veil1... '{\"increment\":{}}' --from alice")]
    Execute(ExecuteArgs),
    /// Move a contract to other stored code (only its admin may).
    #[command(long_about = "\
Move the contract at ADDR to the stored code CODE_ID, running the new code's `migrate`
entry point with MSG (JSON, encrypted for the new code). Only the contract's admin (set
with `veil tx instantiate --admin`) may migrate it; its state stays.

Example: veil tx migrate veil1... 2 '{}' --from alice")]
    Migrate(MigrateArgs),
    /// Replace a contract's query policy (only its admin may).
    #[command(long_about = "\
Replace the query policy of the contract at ADDR: who may read what through its queries
(public, cw20, cw721, private, or a JSON policy FILE; see docs/query-policies.md). Only the
contract's admin may; the enclave checks the signature itself and applies the policy from
the block that includes the transaction. An admin that is a contract cannot send this
transaction (contracts do not sign).

Example: veil tx set-query-policy veil1... private --from alice")]
    SetQueryPolicy(crate::policy::SetQueryPolicyArgs),
    /// Replace the network's attestation policy (only the genesis authority may).
    #[command(long_about = crate::governance::SET_ATTESTATION_POLICY_ABOUT)]
    SetAttestationPolicy(crate::governance::SetAttestationPolicyArgs),
    /// Revoke a registered enclave (only the genesis authority may).
    #[command(long_about = crate::governance::REVOKE_NODE_ABOUT)]
    RevokeNode(crate::governance::RevokeNodeArgs),
}

#[derive(clap::Args)]
pub struct SendArgs {
    /// Recipient: a veil1... address or a key name.
    #[arg(value_name = "TO")]
    to: String,
    /// Amount of uveil: 1000 or 1000uveil.
    #[arg(value_name = "AMOUNT", value_parser = parse_amount)]
    amount: u128,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(clap::Args)]
pub struct StoreArgs {
    /// The contract's .wasm file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The default query policy of contracts instantiated from this code.
    #[command(flatten)]
    policy: crate::policy::PolicyArg,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(clap::Args)]
pub struct InstantiateArgs {
    /// The stored code's id (from `veil tx store`).
    #[arg(value_name = "CODE_ID")]
    code_id: u64,
    /// The instantiate message (JSON), e.g. '{"count":0}'.
    #[arg(value_name = "MSG")]
    msg: String,
    /// A name for the contract, 1 to 128 bytes (public).
    #[arg(long)]
    label: String,
    /// Who may migrate the contract and change its query policy: an address or a key
    /// name [default: nobody].
    #[arg(long, value_name = "ADDR|KEY")]
    admin: Option<String>,
    #[command(flatten)]
    policy: crate::policy::PolicyArg,
    /// uveil to send to the contract with the call.
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount, default_value = "0")]
    amount: u128,
    #[command(flatten)]
    pin: CodePin,
    #[command(flatten)]
    tx: TxOpts,
}

/// `--code-hash`: the code a message may be encrypted for.
#[derive(clap::Args)]
pub(crate) struct CodePin {
    /// Refuse unless the contract's code has this hash (64 hex digits): what you audited
    /// is what your message is encrypted for.
    #[arg(long, value_name = "HEX", value_parser = parse_code_hash)]
    pub(crate) code_hash: Option<[u8; 32]>,
}

#[derive(clap::Args)]
pub struct ExecuteArgs {
    /// The contract's address.
    #[arg(value_name = "ADDR")]
    contract: String,
    /// The execute message (JSON), e.g. '{"increment":{}}'.
    #[arg(value_name = "MSG")]
    msg: String,
    /// uveil to send to the contract with the call.
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount, default_value = "0")]
    amount: u128,
    #[command(flatten)]
    pin: CodePin,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The contract's address.
    #[arg(value_name = "ADDR")]
    contract: String,
    /// The id of the code to move to.
    #[arg(value_name = "CODE_ID")]
    code_id: u64,
    /// The migrate message (JSON).
    #[arg(value_name = "MSG")]
    msg: String,
    #[command(flatten)]
    pin: CodePin,
    #[command(flatten)]
    tx: TxOpts,
}

pub fn run(command: TxCommand) -> anyhow::Result<ExitCode> {
    let json = match &command {
        TxCommand::Send(a) => a.tx.node.json(),
        TxCommand::Store(a) => a.tx.node.json(),
        TxCommand::Instantiate(a) => a.tx.node.json(),
        TxCommand::Execute(a) => a.tx.node.json(),
        TxCommand::Migrate(a) => a.tx.node.json(),
        TxCommand::SetQueryPolicy(a) => a.tx.node.json(),
        TxCommand::SetAttestationPolicy(a) => a.tx.node.json(),
        TxCommand::RevokeNode(a) => a.tx.node.json(),
    };
    let result = match command {
        TxCommand::Send(args) => send(args),
        TxCommand::Store(args) => store(args),
        TxCommand::Instantiate(args) => instantiate(args),
        TxCommand::Execute(args) => execute(args),
        TxCommand::Migrate(args) => migrate(args),
        TxCommand::SetQueryPolicy(args) => crate::policy::set_query_policy(args),
        TxCommand::SetAttestationPolicy(args) => crate::governance::set_attestation_policy(args),
        TxCommand::RevokeNode(args) => crate::governance::revoke_node(args),
    };
    finish(result, json)
}

/// The signing key and the node.
pub(crate) struct Signer {
    key: KeyPair,
    client: Client,
}

impl Signer {
    pub(crate) fn open(opts: &TxOpts) -> Result<Self, Failure> {
        if opts.memo.len() > veil_types::MAX_MEMO_BYTES {
            return Err(usage(format!(
                "--memo must be at most {} bytes, got {}",
                veil_types::MAX_MEMO_BYTES,
                opts.memo.len()
            )));
        }
        let key = opts.keyring.load(&opts.from)?;
        Ok(Self {
            key,
            client: opts.node.client(),
        })
    }

    pub(crate) fn wallet(&self) -> Result<Wallet<'_>, Failure> {
        Ok(Wallet::connect(&self.client, &self.key)?)
    }
}

/// Signs (simulating first with --gas auto), sends and waits; a failed transaction is an
/// error.
pub(crate) fn broadcast(wallet: &Wallet, opts: &TxOpts, msg: Msg) -> Result<Outcome, Failure> {
    let gas = match (opts.gas, opts.gas_adjustment) {
        (Gas::Auto { .. }, Some(multiplier)) => Gas::Auto { multiplier },
        (Gas::Limit(_), Some(_)) => {
            return Err(usage("--gas-adjustment applies to --gas auto only"));
        }
        (gas, None) => gas,
    };
    let options = TxOptions {
        gas,
        fee: opts.fee,
        memo: opts.memo.clone(),
        timeout: opts.timeout,
    };
    if let Gas::Auto { .. } = opts.gas {
        progress("simulating the transaction to estimate its gas");
    }
    let tx = wallet.sign(msg, &options)?;
    let size = tx.to_bytes().len();
    progress(&format!(
        "sending the {} transaction ({}, gas limit {}, fee {}{DENOM}) to {}",
        tx.body.msg.kind(),
        human_size(size),
        tx.body.gas_limit,
        tx.body.fee,
        wallet.client().url()
    ));
    let outcome = wallet.broadcast_signed(&tx, &options, progress)?;
    progress(&format!(
        "included in block {} (index {})",
        outcome.committed.height, outcome.committed.index
    ));
    Ok(outcome)
}

fn human_size(bytes: usize) -> String {
    if bytes >= 10 * 1024 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Prints a successful transaction: `fields` first (text), then the receipt and result.
pub(crate) fn report(opts: &TxOpts, outcome: &Outcome, fields: Vec<(&str, Value)>) {
    let receipt = &outcome.committed.receipt;
    let result = outcome.result.as_ref().map(readable_result);
    if opts.node.json() {
        let mut map = receipt_fields(receipt);
        for (key, value) in fields {
            map.insert(key.to_string(), value);
        }
        map.insert("result".into(), result.unwrap_or(Value::Null));
        print_json(&Value::Object(map));
    } else {
        for (key, value) in &fields {
            match value {
                Value::String(s) => println!("{key}: {s}"),
                other => println!("{key}: {other}"),
            }
        }
        print_receipt(receipt);
        if let Some(result) = &result {
            print_result(result);
        }
    }
}

fn send(args: SendArgs) -> Result<(), Failure> {
    let signer = Signer::open(&args.tx)?;
    let (to, _) = args.tx.keyring.resolve_address(&args.to)?;
    let wallet = signer.wallet()?;
    let outcome = broadcast(
        &wallet,
        &args.tx,
        Msg::Send {
            to: to.clone(),
            amount: args.amount,
        },
    )?;
    report(
        &args.tx,
        &outcome,
        vec![
            ("from", json!(signer.key.address())),
            ("to", json!(to)),
            ("amount", json!(format!("{}", args.amount))),
        ],
    );
    Ok(())
}

fn store(args: StoreArgs) -> Result<(), Failure> {
    let wasm = std::fs::read(&args.file)
        .map_err(|e| failed("io", format!("reading {}: {e}", args.file.display())))?;
    if !wasm.starts_with(b"\0asm") {
        return Err(usage(format!(
            "{} is not a Wasm module (it does not start with \\0asm); build one with `veil contract build`",
            args.file.display()
        )));
    }
    // The transaction carries the code as is; leave room for the rest.
    if wasm.len() > veil_types::MAX_TX_BYTES - 4096 {
        return Err(failed(
            "too_large",
            format!(
                "{} is {} bytes; a transaction holds at most {} bytes",
                args.file.display(),
                wasm.len(),
                veil_types::MAX_TX_BYTES
            ),
        ));
    }
    let query_policy = args.policy.required("storing code")?;
    let signer = Signer::open(&args.tx)?;
    let wallet = signer.wallet()?;
    progress(&format!(
        "uploading {} ({})",
        args.file.display(),
        human_size(wasm.len())
    ));
    let uploaded = wasm.clone();
    let outcome = broadcast(
        &wallet,
        &args.tx,
        Msg::StoreCode {
            wasm,
            query_policy: Some(query_policy),
        },
    )?;
    let receipt = &outcome.committed.receipt;
    let code_id = receipt
        .code_id
        .ok_or_else(|| failed("bad_answer", "the receipt names no code id"))?;
    let code_hash = hex_encode(&signer.client.code(code_id)?.code_hash);
    // The node must have stored exactly what was uploaded.
    if code_hash != hex_encode(&sha2::Sha256::digest(&uploaded)) {
        return Err(failed(
            "code_hash_mismatch",
            format!("the node stored code {code_hash} under code id {code_id}, which is not the file uploaded"),
        ));
    }
    report(
        &args.tx,
        &outcome,
        vec![("code_id", json!(code_id)), ("code_hash", json!(code_hash))],
    );
    Ok(())
}

fn instantiate(args: InstantiateArgs) -> Result<(), Failure> {
    let msg = parse_msg(&args.msg)?;
    if args.label.is_empty() || args.label.len() > veil_types::MAX_LABEL_BYTES {
        return Err(usage(format!(
            "--label must be 1 to {} bytes, got {}",
            veil_types::MAX_LABEL_BYTES,
            args.label.len()
        )));
    }
    let query_policy = args.policy.required("instantiating a contract")?;
    let signer = Signer::open(&args.tx)?;
    let admin = match &args.admin {
        Some(admin) => Some(args.tx.keyring.resolve_address(admin)?.0),
        None => None,
    };
    let wallet = signer.wallet()?;
    let (_, envelope) = encrypt_for_code(&signer, &wallet, args.code_id, &args.pin, &msg)?;
    let outcome = broadcast(
        &wallet,
        &args.tx,
        Msg::Instantiate {
            code_id: args.code_id,
            label: args.label.clone(),
            admin: admin.clone(),
            msg: envelope,
            funds: args.amount,
            query_policy: Some(query_policy),
        },
    )?;
    let address = outcome
        .committed
        .receipt
        .contract_address
        .clone()
        .ok_or_else(|| failed("bad_answer", "the receipt names no contract address"))?;
    report(
        &args.tx,
        &outcome,
        vec![
            ("contract_address", json!(address)),
            ("code_id", json!(args.code_id)),
            ("label", json!(args.label)),
            ("admin", json!(admin)),
        ],
    );
    Ok(())
}

fn execute(args: ExecuteArgs) -> Result<(), Failure> {
    let msg = parse_msg(&args.msg)?;
    let signer = Signer::open(&args.tx)?;
    let (contract, _) = args.tx.keyring.resolve_address(&args.contract)?;
    let wallet = signer.wallet()?;
    let code_hash = wallet.contract_code_hash(&contract, args.pin.code_hash.as_ref())?;
    let (envelope, _) = wallet.encrypt(&code_hash, &msg)?;
    let outcome = broadcast(
        &wallet,
        &args.tx,
        Msg::Execute {
            contract: contract.clone(),
            msg: envelope,
            funds: args.amount,
        },
    )?;
    report(&args.tx, &outcome, vec![("contract", json!(contract))]);
    Ok(())
}

fn migrate(args: MigrateArgs) -> Result<(), Failure> {
    let msg = parse_msg(&args.msg)?;
    let signer = Signer::open(&args.tx)?;
    let (contract, _) = args.tx.keyring.resolve_address(&args.contract)?;
    let wallet = signer.wallet()?;
    // Make sure the contract exists (a clear error), then encrypt for the new code.
    wallet.contract_code_hash(&contract, None)?;
    let (code, envelope) = encrypt_for_code(&signer, &wallet, args.code_id, &args.pin, &msg)?;
    let outcome = broadcast(
        &wallet,
        &args.tx,
        Msg::Migrate {
            contract: contract.clone(),
            code_id: args.code_id,
            msg: envelope,
        },
    )?;
    report(
        &args.tx,
        &outcome,
        vec![
            ("contract", json!(contract)),
            ("code_id", json!(args.code_id)),
            ("code_hash", json!(hex_encode(&code.code_hash))),
        ],
    );
    Ok(())
}

/// Parses `--code-hash`.
fn parse_code_hash(text: &str) -> Result<[u8; 32], String> {
    veil_types::serde_hash::parse_hex(text.trim())
}

/// Encrypts `msg` for code `code_id`, refusing code other than the pinned one.
fn encrypt_for_code(
    signer: &Signer,
    wallet: &Wallet,
    code_id: u64,
    pin: &CodePin,
    msg: &Value,
) -> Result<(veil_types::CodeInfo, Vec<u8>), Failure> {
    let code = signer.client.code(code_id)?;
    if let Some(pinned) = pin.code_hash.filter(|p| *p != code.code_hash) {
        return Err(failed(
            "code_hash_mismatch",
            format!(
                "code {code_id} has code hash {}, not the expected {}; nothing was sent",
                hex_encode(&code.code_hash),
                hex_encode(&pinned)
            ),
        ));
    }
    let (envelope, _) = wallet.encrypt(&code.code_hash, msg)?;
    Ok((code, envelope))
}

/// Base64 of bytes (for JSON output of public byte strings).
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
