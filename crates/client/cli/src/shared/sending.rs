//! Signing and sending a transaction, and printing what it did: what every `veil tx`
//! command (and the governance and query-policy ones) does after building its message.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use veil_client::keys::KeyPair;
use veil_client::rpc::Client;
use veil_client::tx::{Gas, Outcome, TxOptions, Wallet};
use veil_types::{Msg, DENOM};

use super::{
    parse_amount, parse_gas_adjustment, print_json, print_receipt, print_result, progress,
    readable_result, receipt_fields, settings, usage, Failure,
};

/// Flags every `veil tx` command takes.
#[derive(clap::Args)]
pub struct TxOpts {
    /// The key that signs the transaction and pays its fee (a key name in the keyring).
    #[arg(long, value_name = "KEY")]
    pub(crate) from: String,
    /// Gas limit, or `auto`: simulate the transaction first and allow 1.3 × the gas it
    /// used (see --gas-adjustment).
    #[arg(long, value_name = "N|auto", default_value = "auto")]
    pub(crate) gas: Gas,
    /// With --gas auto: the factor applied to the simulated gas [default: 1.3].
    #[arg(long, value_name = "FACTOR", value_parser = parse_gas_adjustment)]
    pub(crate) gas_adjustment: Option<f64>,
    /// Fee in uveil, e.g. `2000` or `2000uveil` [default: the minimum for the gas limit].
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount)]
    pub(crate) fee: Option<u128>,
    /// A public note stored with the transaction (at most 256 bytes).
    #[arg(long, default_value = "")]
    pub(crate) memo: String,
    /// How long to wait for the transaction to be included in a block, e.g. 30s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::parse_duration)]
    pub(crate) timeout: Duration,
}

/// `--code-hash`: the code a message may be encrypted for.
#[derive(clap::Args)]
pub(crate) struct CodePin {
    /// Refuse unless the contract's code has this hash (64 hex digits): what you audited
    /// is what your message is encrypted for.
    #[arg(long, value_name = "HEX", value_parser = parse_code_hash)]
    pub(crate) code_hash: Option<[u8; 32]>,
}

/// The signing key and the node.
pub(crate) struct Signer {
    pub(crate) key: KeyPair,
    pub(crate) client: Client,
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
        let key = settings().keyring().load(&opts.from)?;
        Ok(Self {
            key,
            client: settings().client(),
        })
    }

    pub(crate) fn wallet(&self) -> Result<Wallet<'_>, Failure> {
        let wallet = Wallet::connect(&self.client, &self.key)?;
        settings().check_chain(wallet.chain_id())?;
        Ok(wallet)
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

pub(crate) fn human_size(bytes: usize) -> String {
    if bytes >= 10 * 1024 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Prints a successful transaction: `fields` first (text), then the receipt and result.
pub(crate) fn report(outcome: &Outcome, fields: Vec<(&str, Value)>) {
    let receipt = &outcome.committed.receipt;
    let result = outcome.result.as_ref().map(readable_result);
    if settings().json() {
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

/// Base64 of bytes (for JSON output of public byte strings).
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Bytes from base64 (as the node writes them).
pub(crate) fn b64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::STANDARD.decode(text)
}

fn parse_code_hash(text: &str) -> Result<[u8; 32], String> {
    veil_types::serde_hash::parse_hex(text.trim())
}
