//! What the commands share: the global settings (flags, environment, client config), the
//! keyring, failures, output, progress, parsing and result formatting, and signing and
//! sending a transaction (`sending.rs`).

use std::io::{self, BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::{json, Map, Value};
use veil_client::keyring::{validate_name, Backend, Keyring, KeyringError};
use veil_client::keys::KeyPair;
use veil_client::rpc::ClientError;
use veil_client::tx::{decode_data, WalletError};
use veil_types::{Receipt, DENOM};
use zeroize::Zeroizing;

mod sending;
mod settings;

pub(crate) use sending::{b64, b64_decode, broadcast, human_size, report, CodePin, Signer, TxOpts};

pub(crate) use settings::{
    check_config_value, default_home, parse_duration, set_config_values, settings, ClientConfig,
    GlobalOpts, Settings, BACKEND_ENV, CLIENT_CONFIG, CONFIG_KEYS, PASSPHRASE_ENV,
};

// ---------------------------------------------------------------------------------------
// Keyring
// ---------------------------------------------------------------------------------------

/// Where a keyring is: a home and a backend (`settings().keyring()` for the home's).
pub(crate) struct KeyringOpts {
    home: Option<PathBuf>,
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
        Ok(self.keyring_backend.unwrap_or(settings().keyring_backend()))
    }

    /// The keyring itself, for `veil keys`.
    pub(crate) fn open(&self) -> Result<Keyring, Failure> {
        self.keyring(self.backend()?)
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
pub(crate) fn passphrase(
    backend: Backend,
    name: &str,
) -> Result<Option<Zeroizing<String>>, Failure> {
    if backend == Backend::Test {
        return Ok(None);
    }
    if let Some(value) = passphrase_from_env()? {
        return Ok(Some(value));
    }
    if io::stdin().is_terminal() {
        return prompt_hidden(&format!("Passphrase of key {name:?}: ")).map(Some);
    }
    match stdin_line("passphrase")? {
        Some(line) => Ok(Some(line)),
        None => Err(usage(format!(
            "key {name:?} is in the file keyring and needs its passphrase: set \
             {PASSPHRASE_ENV} or pass it on stdin"
        ))),
    }
}

/// `$VEIL_KEYRING_PASSPHRASE`, if set.
pub(crate) fn passphrase_from_env() -> Result<Option<Zeroizing<String>>, Failure> {
    match std::env::var_os(PASSPHRASE_ENV) {
        Some(value) => value
            .into_string()
            .map(|v| Some(Zeroizing::new(v)))
            .map_err(|_| usage(format!("{PASSPHRASE_ENV} is not valid UTF-8"))),
        None => Ok(None),
    }
}

/// One line of stdin without its line ending (`None` at end of input); `what` names it in
/// a read error.
pub(crate) fn stdin_line(what: &str) -> Result<Option<Zeroizing<String>>, Failure> {
    let mut line = Zeroizing::new(String::with_capacity(512));
    let n = io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| failed("io", format!("reading the {what} from stdin: {e}")))?;
    if n == 0 {
        return Ok(None);
    }
    let len = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(len);
    Ok(Some(line))
}

/// A line typed at the terminal without echo.
pub(crate) fn prompt_hidden(prompt: &str) -> Result<Zeroizing<String>, Failure> {
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|e| failed("io", format!("reading from the terminal: {e}")))
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
            ClientError::Proof(_) => "bad_proof",
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
pub(crate) fn parse_gas_adjustment(text: &str) -> Result<f64, String> {
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

/// A transaction hash given on the command line: 64 hex digits.
pub(crate) fn parse_tx_hash(text: &str) -> Result<[u8; 32], Failure> {
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            usage(format!(
                "{text:?} is not a transaction hash (64 hex digits)"
            ))
        })?;
    Ok(bytes)
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
