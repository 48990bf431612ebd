//! `veil inspect`: on a dev chain run with `veil dev --inspect`, its owner (whoever holds
//! the home's `node/inspect-owner.key`) decrypts any transaction and any contract's state.
//! The node answers only what the enclave sealed to that key; this command opens it.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{json, Map, Value};
use veil_client::rpc::TxStatus;
use veil_crypto::x25519_dalek::StaticSecret;

use crate::shared::{
    failed, finish, parse_tx_hash, print_fields, print_json, print_receipt, print_result,
    readable_result, receipt_fields, settings, usage, Failure,
};

pub(crate) const INSPECT_LONG_ABOUT: &str = "\
Decrypt what happens on a dev chain started with `veil dev --inspect` (run with that
chain's --home: the owner key is its node/inspect-owner.key). Only dev chains can be
inspected: a node refuses --inspect on any genesis not marked as a dev chain, and so
does its enclave. Inspection gives up the dev chain's confidentiality for its owner.

Keys and values print as text: printable ASCII as it is, a backslash as \\\\, any other
byte as \\xHH. --prefix reads the same form, so a key prefix seen in the output can be
passed back.

Examples:
  veil inspect tx 3f2a...                       message, result, events, state changes
  veil inspect state veil1...                   every key and value, in key order
  veil inspect state veil1... --prefix count    keys that start with `count`
  veil inspect state veil1... --prefix '\\x00\\x07balance'   a cw-storage-plus map
  veil inspect state veil1... --prefix-hex 0007";

/// Most entries `veil inspect state` asks the node for at once.
const PAGE: usize = 1_000;

#[derive(Subcommand)]
pub enum InspectCommand {
    /// A transaction's decrypted message, result and events, and the state changes it made
    /// in each contract (key, old value, new value, in key order).
    Tx {
        /// The transaction hash (64 hex digits).
        hash: String,
    },
    /// A contract's decrypted state: its keys and values, in key order.
    State {
        /// The contract's address.
        contract: String,
        /// Only keys that start with this (text; `\xHH` for any byte, `\\` for a backslash).
        #[arg(long, conflicts_with = "prefix_hex")]
        prefix: Option<String>,
        /// Only keys that start with these bytes (hex).
        #[arg(long, value_name = "HEX")]
        prefix_hex: Option<String>,
        /// Show at most this many entries.
        #[arg(long, default_value_t = 1_000)]
        limit: usize,
    },
}

pub fn run(command: InspectCommand) -> anyhow::Result<ExitCode> {
    let json = settings().json();
    let result = match command {
        InspectCommand::Tx { hash } => inspect_tx(&hash),
        InspectCommand::State {
            contract,
            prefix,
            prefix_hex,
            limit,
        } => inspect_state(&contract, prefix.as_deref(), prefix_hex.as_deref(), limit),
    };
    finish(result, json)
}

/// The home's owner key: without it nothing the node answers can be read.
fn owner_key() -> Result<StaticSecret, Failure> {
    let home = settings().home().map_err(Failure::Usage)?;
    let node_home = home.join("node");
    veil_node::inspect::load_owner_key(&node_home)
        .map_err(|e| failed("owner_key", e.to_string()))?
        .ok_or_else(|| {
            failed(
                "no_owner_key",
                format!(
                    "no inspect owner key at {}: only the home of a dev chain started with `veil dev --inspect` can inspect it (pass that --home)",
                    veil_node::inspect::owner_key_path(&node_home).display()
                ),
            )
        })
}

fn open(owner: &StaticSecret, sealed: &Value) -> Result<Value, Failure> {
    let bytes = sealed
        .as_str()
        .and_then(|text| crate::shared::b64_decode(text).ok())
        .ok_or_else(|| failed("bad_answer", "the node's sealed answer is not base64"))?;
    let plain = veil_crypto::open_as_owner(owner, &bytes).map_err(|_| {
        failed(
            "not_owner",
            "the node's answer does not open with this home's owner key: it was sealed to another owner (is this the home the node runs in?)",
        )
    })?;
    serde_json::from_slice(&plain).map_err(|e| failed("bad_answer", format!("sealed answer: {e}")))
}

/// Bytes as text: printable ASCII as it is, a backslash as `\\`, every other byte as
/// `\xHH` (what `--prefix` reads back).
fn shown(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

fn shown_b64(value: &Value) -> Result<Option<(String, Vec<u8>)>, Failure> {
    match value.as_str() {
        None => Ok(None),
        Some(text) => {
            let bytes = crate::shared::b64_decode(text)
                .map_err(|_| failed("bad_answer", "a sealed key or value is not base64"))?;
            Ok(Some((shown(&bytes), bytes)))
        }
    }
}

/// `--prefix` text: the inverse of [`shown`].
fn parse_escaped(text: &str) -> Result<Vec<u8>, Failure> {
    let bad = || {
        usage(format!(
            "--prefix {text:?}: after \\ write xHH, \\, n, r, t, ' or \""
        ))
    };
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next().ok_or_else(bad)? {
            b'x' => {
                let hex: Vec<u8> = [bytes.next(), bytes.next()]
                    .into_iter()
                    .collect::<Option<_>>()
                    .ok_or_else(bad)?;
                let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            }
            b'\\' => out.push(b'\\'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

fn inspect_tx(hash: &str) -> Result<(), Failure> {
    let hash = parse_tx_hash(hash)?;
    let owner = owner_key()?;
    let client = settings().client();
    let committed = match client.tx(&hash)? {
        Some(TxStatus::Committed(committed)) => committed,
        Some(TxStatus::Pending) => {
            return Err(failed(
                "pending",
                format!("transaction {} is not in a block yet", hex::encode(hash)),
            ))
        }
        None => {
            return Err(failed(
                "unknown_tx",
                format!("no transaction {} on this chain", hex::encode(hash)),
            ))
        }
    };
    let answer = client.inspect_tx(&hash)?;
    let record = match &answer["sealed"] {
        Value::Null => None,
        sealed => Some(open(&owner, sealed)?),
    };
    if let Some(record) = &record {
        if record["tx_hash"] != json!(hex::encode(hash)) {
            return Err(failed(
                "bad_answer",
                "the node answered the record of another transaction",
            ));
        }
    }
    let receipt = &committed.receipt;
    let message = record.as_ref().map(|r| match &r["message"] {
        Value::Object(m) if m.contains_key("json") => m["json"].clone(),
        other => other.clone(),
    });
    let result = record
        .as_ref()
        .and_then(|r| r.get("result"))
        .filter(|r| !r.is_null())
        .map(readable_result);
    let changes = match &record {
        Some(record) => state_changes(&record["state_changes"])?,
        None => Vec::new(),
    };
    if settings().json() {
        let mut out = receipt_fields(receipt);
        out.insert(
            "public_msg".into(),
            committed
                .tx
                .as_ref()
                .map(|tx| crate::query::public_msg(&tx.body.msg))
                .unwrap_or(Value::Null),
        );
        out.insert(
            "inspection".into(),
            match &record {
                None => Value::Null,
                Some(record) => json!({
                    "contract": record["contract"],
                    "entry": record["entry"],
                    "message": message,
                    "result": result,
                    "state_changes": changes.iter().map(|(contract, changes)| json!({
                        "contract": contract,
                        "changes": changes,
                    })).collect::<Vec<_>>(),
                }),
            },
        );
        print_json(&Value::Object(out));
        return Ok(());
    }
    print_receipt(receipt);
    print_fields(&[("msg_kind", receipt.msg_kind.clone())]);
    match (&receipt.error_kind, &receipt.error) {
        (None, _) => println!("outcome: ok"),
        (Some(kind), error) => println!(
            "outcome: failed ({kind}){}",
            error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
    }
    for event in &receipt.events {
        let attributes: Vec<String> = event
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("event: {} {}", event.kind, attributes.join(" "));
    }
    let Some(record) = &record else {
        println!("inspection: none (no contract call of this transaction ran in the enclave while inspection was on: not a contract call, refused before it, or earlier)");
        return Ok(());
    };
    println!(
        "contract: {} ({})",
        record["contract"].as_str().unwrap_or_default(),
        record["entry"].as_str().unwrap_or_default()
    );
    if let Some(message) = &message {
        println!("message: {message}");
    }
    match &result {
        Some(result) => print_result(result),
        None => println!("result: (none)"),
    }
    if changes.is_empty() {
        println!("state changes: none");
    }
    for (contract, changes) in &changes {
        println!("state changes in {contract}:");
        for change in changes {
            let key = change["key"].as_str().unwrap_or_default();
            match (change["old"].as_str(), change["new"].as_str()) {
                (None, Some(new)) => println!("  {key}: (new) {new}"),
                (Some(old), None) => println!("  {key}: removed (was {old})"),
                (old, new) => println!(
                    "  {key}: {} -> {}",
                    old.unwrap_or_default(),
                    new.unwrap_or_default()
                ),
            }
        }
    }
    Ok(())
}

/// The record's state changes, keys and values shown as text.
fn state_changes(value: &Value) -> Result<Vec<(String, Vec<Value>)>, Failure> {
    let mut out = Vec::new();
    for contract in value.as_array().into_iter().flatten() {
        let mut changes = Vec::new();
        for change in contract["changes"].as_array().into_iter().flatten() {
            let (key, key_bytes) = shown_b64(&change["key"])?.unwrap_or_default();
            changes.push(json!({
                "key": key,
                "key_hex": hex::encode(key_bytes),
                "old": shown_b64(&change["old"])?.map(|(text, _)| text),
                "new": shown_b64(&change["new"])?.map(|(text, _)| text),
            }));
        }
        out.push((
            contract["contract"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            changes,
        ));
    }
    Ok(out)
}

fn inspect_state(
    contract: &str,
    prefix: Option<&str>,
    prefix_hex: Option<&str>,
    limit: usize,
) -> Result<(), Failure> {
    veil_types::validate_address(contract).map_err(|e| usage(format!("{contract:?}: {e}")))?;
    let prefix = match (prefix, prefix_hex) {
        (Some(text), _) => parse_escaped(text)?,
        (None, Some(hex_text)) => hex::decode(hex_text.trim())
            .map_err(|e| usage(format!("--prefix-hex {hex_text:?} is not hex: {e}")))?,
        (None, None) => Vec::new(),
    };
    if limit == 0 {
        return Err(usage("--limit must be at least 1"));
    }
    let owner = owner_key()?;
    let client = settings().client();
    let mut entries = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    let (more, state_root) = loop {
        let page = (limit - entries.len()).min(PAGE);
        let answer = client.inspect_state(contract, &prefix, after.as_deref(), page)?;
        let opened = open(&owner, &answer["sealed"])?;
        if opened["contract"] != json!(contract) {
            return Err(failed(
                "bad_answer",
                "the node answered the state of another contract",
            ));
        }
        for entry in opened["entries"].as_array().into_iter().flatten() {
            let (key, key_bytes) = shown_b64(&entry["key"])?.unwrap_or_default();
            let (value, _) = shown_b64(&entry["value"])?.unwrap_or_default();
            entries.push(json!({ "key": key, "key_hex": hex::encode(&key_bytes), "value": value }));
            after = Some(key_bytes);
        }
        let more = opened["more"] == json!(true);
        if !more || entries.len() >= limit {
            break (more, opened["state_root"].clone());
        }
    };
    if settings().json() {
        let mut out = Map::new();
        out.insert("contract".into(), json!(contract));
        out.insert("prefix_hex".into(), json!(hex::encode(&prefix)));
        out.insert("state_root".into(), state_root);
        out.insert("entries".into(), Value::Array(entries));
        out.insert("more".into(), json!(more));
        print_json(&Value::Object(out));
        return Ok(());
    }
    for entry in &entries {
        println!(
            "{}: {}",
            entry["key"].as_str().unwrap_or_default(),
            entry["value"].as_str().unwrap_or_default()
        );
    }
    if entries.is_empty() {
        eprintln!(
            "veil: no keys{}",
            if prefix.is_empty() {
                String::new()
            } else {
                format!(" start with {}", shown(&prefix))
            }
        );
    }
    if more {
        eprintln!("veil: more keys follow; raise --limit to see them");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{parse_escaped, shown};

    #[test]
    fn prefixes_read_back_what_keys_print_as() {
        let key = b"\x00\x07balance\\veil1\"x\"\n\xff".to_vec();
        assert_eq!(parse_escaped(&shown(&key)).ok(), Some(key));
        assert_eq!(parse_escaped("count").ok(), Some(b"count".to_vec()));
        assert!(parse_escaped("\\q").is_err());
        assert!(parse_escaped("\\x0").is_err());
        assert!(parse_escaped("\\xzz").is_err());
    }
}
