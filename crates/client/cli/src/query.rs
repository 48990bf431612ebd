//! `veil query` (contracts, transactions, blocks, accounts, code) and `veil status`.

use std::process::ExitCode;

use serde_json::{json, Map, Value};
use veil_client::keys::{KeyPair, Mnemonic};
use veil_client::rpc::{CommittedTx, TxStatus};
use veil_client::tx::{decrypt_own_message, decrypt_result, envelope_of, Wallet};
use veil_types::{Msg, DENOM};

use crate::shared::b64;
use crate::shared::{
    failed, finish, hex_encode, parse_msg, parse_tx_hash, print_fields, print_json, print_receipt,
    print_result, readable_result, receipt_fields, settings, Failure,
};

pub(crate) const QUERY_LONG_ABOUT: &str = "\
Read the chain through a node: contract queries, transactions, blocks, accounts, code.

Contract queries are confidential: the query is encrypted on this machine to the network's
key, for the contract's code only, and the answer comes back encrypted for the querier.
`veil query contract` encrypts with --from KEY when given, else with a fresh throwaway key.

Transactions' receipts are public (sender, kind, gas, fee, success, public events); what a
contract answered is encrypted for the sender: `veil query tx HASH --from KEY` decrypts it
when KEY sent the transaction.

Output: text for people, or --output json: exactly one JSON value on stdout (for
`query contract`: the contract's answer itself). Errors go to stderr as `error: ...` (with
--output json also as {\"error\": {\"kind\", \"message\"}} on stdout). Exit status: 0 on
success, 1 when the query failed (node unreachable, not found, the contract's error), 2 for
bad command-line input.";

#[derive(clap::Subcommand)]
pub enum QueryCommand {
    /// Query a contract (encrypted); prints its answer as JSON.
    #[command(long_about = "\
Run a contract's `query` entry point with MSG (JSON) and print its answer (JSON). The
query and the answer are encrypted end to end between this machine and the contract's
code; --from KEY encrypts with that key (contracts see no sender for queries either way),
else a fresh throwaway key is used.

Example: veil query contract veil1... '{\"get_count\":{}}'")]
    Contract(ContractArgs),
    /// Show a transaction's receipt; with --from the sender's key, also its decrypted result.
    #[command(long_about = "\
Show a transaction by its hash: where it is (height, index), what it did (public fields),
whether it succeeded, gas and fee, public events. What the contract answered (data,
attributes, events or its error message) is encrypted for the sender: pass --from KEY with
the sender's key to decrypt it; anyone else is told it is encrypted for the sender.")]
    Tx(TxArgs),
    /// Show a block (default: the latest): header and its transactions.
    Block(BlockArgs),
    /// Show an account's balance and sequence (an address or a key name).
    Account(AccountArgs),
    /// Show stored code: its hash, size and uploader.
    Code(CodeArgs),
    /// Show a contract's public record: code, creator, admin, label.
    ContractInfo(ContractInfoArgs),
    /// List the registered enclaves (active and revoked).
    Registrations(crate::governance::RegistrationsArgs),
    /// Show the attestation policy registrations are verified against now.
    AttestationPolicy(crate::governance::AttestationPolicyArgs),
}

#[derive(clap::Args)]
pub struct ContractArgs {
    /// The contract's address.
    #[arg(value_name = "ADDR")]
    contract: String,
    /// The query (JSON), e.g. '{"get_count":{}}'.
    #[arg(value_name = "MSG")]
    msg: String,
    /// Sign the query with this key from the keyring, so the contract's query policy knows
    /// who asks [default: an anonymous query, encrypted with a fresh throwaway key].
    #[arg(long, value_name = "KEY")]
    from: Option<String>,
    #[command(flatten)]
    pin: crate::shared::CodePin,
}

#[derive(clap::Args)]
pub struct TxArgs {
    /// The transaction hash (64 hex digits).
    #[arg(value_name = "HASH")]
    hash: String,
    /// Decrypt the result with this key (works only for the transaction's sender).
    #[arg(long, value_name = "KEY")]
    from: Option<String>,
}

#[derive(clap::Args)]
pub struct BlockArgs {
    /// Block height [default: the latest block].
    #[arg(value_name = "HEIGHT")]
    height: Option<u64>,
}

#[derive(clap::Args)]
pub struct AccountArgs {
    /// A veil1... address or a key name from the keyring.
    #[arg(value_name = "ADDR|KEY")]
    account: String,
}

#[derive(clap::Args)]
pub struct CodeArgs {
    /// The code id (from `veil tx store`).
    #[arg(value_name = "ID")]
    code_id: u64,
}

#[derive(clap::Args)]
pub struct ContractInfoArgs {
    /// The contract's address.
    #[arg(value_name = "ADDR")]
    contract: String,
}

/// `veil status`.
#[derive(clap::Args)]
pub struct StatusArgs {}

pub fn run(command: QueryCommand) -> anyhow::Result<ExitCode> {
    let json = settings().json();
    let result = match command {
        QueryCommand::Contract(args) => contract(args),
        QueryCommand::Tx(args) => tx(args),
        QueryCommand::Block(args) => block(args),
        QueryCommand::Account(args) => account(args),
        QueryCommand::Code(args) => code(args),
        QueryCommand::ContractInfo(args) => contract_info(args),
        QueryCommand::Registrations(args) => crate::governance::registrations(args),
        QueryCommand::AttestationPolicy(args) => crate::governance::attestation_policy(args),
    };
    finish(result, json)
}

pub fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let json = settings().json();
    finish(status_inner(args), json)
}

fn status_inner(_: StatusArgs) -> Result<(), Failure> {
    let client = settings().client();
    let status = client.status()?;
    settings().check_chain(&status.chain_id)?;
    if settings().json() {
        let mut value = serde_json::to_value(&status).expect("status serializes");
        value["node"] = json!(client.url());
        print_json(&value);
    } else {
        print_fields(&[
            ("node", client.url().to_string()),
            ("chain_id", status.chain_id.clone()),
            ("height", status.height.to_string()),
            ("latest_block_hash", status.latest_block_hash.clone()),
            (
                "latest_block_time",
                format_time(status.latest_block_time_nanos),
            ),
            ("app_hash", status.app_hash.clone()),
            (
                "network_key",
                format!(
                    "{} (generation {})",
                    status.network_key, status.key_generation
                ),
            ),
            ("mempool_size", status.mempool_size.to_string()),
            ("state_nodes", status.state_nodes.to_string()),
            ("params", status.params.to_string()),
            ("node_version", status.node_version.clone()),
            ("genesis_hash", status.genesis_hash.clone()),
            (
                "role",
                match (
                    status.consensus["role"].as_str(),
                    status.consensus["validator"].as_str(),
                ) {
                    (Some(role), Some(address)) => format!("{role} {address}"),
                    (Some(role), None) => role.to_string(),
                    _ => "unknown".into(),
                },
            ),
            (
                "catching_up",
                status.consensus["catching_up"]
                    .as_bool()
                    .unwrap_or(false)
                    .to_string(),
            ),
            (
                "validators",
                status
                    .validators
                    .iter()
                    .map(|v| {
                        format!(
                            "{} {} (power {})",
                            v["name"].as_str().unwrap_or("?"),
                            v["address"].as_str().unwrap_or("?"),
                            v["power"]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            ("peers", peers_line(&status.consensus)),
            ("evidence", status.evidence_count.to_string()),
            (
                "gossip",
                match status.gossip["listen"].as_str() {
                    Some(listen) => format!("{listen}, {} peer(s)", status.gossip["peers"]),
                    None => "off".into(),
                },
            ),
        ]);
        if let Some(warning) = &status.attestation_warning {
            eprintln!("veil: WARNING: {warning}");
        }
    }
    Ok(())
}

/// `3: <validator> <address> (<direction>), …` — the consensus peers a validator is
/// connected to; each is named by the validator address it proved, else by its libp2p id.
fn peers_line(consensus: &serde_json::Value) -> String {
    let peers = consensus["peers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let count = consensus["peer_count"]
        .as_u64()
        .unwrap_or(peers.len() as u64);
    if peers.is_empty() {
        return count.to_string();
    }
    let listed = peers
        .iter()
        .map(|p| {
            let name = p["validator"]
                .as_str()
                .or_else(|| p["id"].as_str())
                .unwrap_or("?");
            match p["direction"].as_str() {
                Some(direction) => {
                    format!(
                        "{name} {} ({direction})",
                        p["address"].as_str().unwrap_or("?")
                    )
                }
                None => format!("{name} {}", p["address"].as_str().unwrap_or("?")),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("{count}: {listed}")
}

fn contract(args: ContractArgs) -> Result<(), Failure> {
    let msg = parse_msg(&args.msg)?;
    let key = match &args.from {
        Some(name) => settings().keyring().load(name)?,
        None => KeyPair::from_mnemonic(&Mnemonic::generate())
            .map_err(|e| failed("crypto", e.to_string()))?,
    };
    let (address, _) = settings().keyring().resolve_address(&args.contract)?;
    let client = settings().client();
    let wallet = Wallet::connect(&client, &key)?;
    settings().check_chain(wallet.chain_id())?;
    // One permit per invocation, short-lived (a dApp signs one per session instead).
    let permit = match &args.from {
        Some(_) => Some(wallet.sign_permit(vec![address.clone()], CLI_PERMIT_LIFETIME)?),
        None => None,
    };
    let answer =
        wallet.query_with_permit(&address, &msg, args.pin.code_hash.as_ref(), permit.as_ref())?;
    crate::shared::progress(&format!("answered at height {}", answer.height));
    // Text and JSON alike: the contract's answer is JSON.
    print_json(&answer.data);
    Ok(())
}

/// How long the permit `veil query contract --from` signs stays valid.
const CLI_PERMIT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);

/// The public part of a transaction's message (contract messages are ciphertext).
pub(crate) fn public_msg(msg: &Msg) -> Value {
    match msg {
        Msg::Send { to, amount } => json!({"kind": "send", "to": to, "amount": amount.to_string()}),
        Msg::StoreCode { wasm, query_policy } => json!({
            "kind": "store_code", "wasm_bytes": wasm.len(), "default_query_policy": query_policy,
        }),
        Msg::Instantiate {
            code_id,
            label,
            admin,
            msg,
            funds,
            query_policy,
        } => json!({
            "kind": "instantiate", "code_id": code_id, "label": label, "admin": admin,
            "funds": funds.to_string(), "encrypted_msg_bytes": msg.len(),
            "query_policy": query_policy,
        }),
        Msg::SetQueryPolicy {
            contract,
            query_policy,
        } => json!({
            "kind": "set_query_policy", "contract": contract, "query_policy": query_policy,
        }),
        Msg::RegisterNode {
            registration_key,
            attestation,
        } => json!({
            "kind": "register_node", "registration_key": hex_encode(registration_key),
            "attestation_bytes": attestation.len(),
        }),
        Msg::SetAttestationPolicy { policy } => json!({
            "kind": "set_attestation_policy", "policy": policy,
        }),
        Msg::RevokeNode {
            registration_key,
            reason,
        } => json!({
            "kind": "revoke_node", "registration_key": hex_encode(registration_key),
            "reason": reason,
        }),
        Msg::Execute {
            contract,
            msg,
            funds,
        } => json!({
            "kind": "execute", "contract": contract, "funds": funds.to_string(),
            "encrypted_msg_bytes": msg.len(),
        }),
        Msg::Migrate {
            contract,
            code_id,
            msg,
        } => json!({
            "kind": "migrate", "contract": contract, "code_id": code_id,
            "encrypted_msg_bytes": msg.len(),
        }),
    }
}

/// What `--from` makes of a committed transaction's encrypted result: the decrypted result,
/// or why there is none.
/// What `veil query tx --from KEY` could decrypt: the sender's own message and result.
#[derive(Default)]
struct Decrypted {
    message: Option<Value>,
    result: Option<Value>,
    /// Why nothing was decrypted.
    note: Option<String>,
}

fn decrypt_for(
    committed: &CommittedTx,
    args: &TxArgs,
    client: &veil_client::rpc::Client,
) -> Result<Decrypted, Failure> {
    let receipt = &committed.receipt;
    let envelope = committed.tx.as_ref().and_then(envelope_of);
    if envelope.is_none() && receipt.encrypted_result.is_none() {
        return Ok(Decrypted::default());
    }
    let note = |text: String| {
        Ok(Decrypted {
            note: Some(text),
            ..Decrypted::default()
        })
    };
    let sender = &receipt.sender;
    let Some(name) = &args.from else {
        return note(format!(
            "encrypted for the sender {sender}; pass --from with the sender's key to decrypt it"
        ));
    };
    let key = settings().keyring().load(name)?;
    if key.address() != sender {
        return note(format!(
            "encrypted for the sender {sender}; {name} ({}) cannot decrypt it",
            key.address()
        ));
    }
    let Some(envelope) = envelope else {
        return note("the transaction carries no contract message".into());
    };
    let (network_key, _) = client.network_key()?;
    let message = decrypt_own_message(&key, &network_key, &envelope)?;
    let result = match &receipt.encrypted_result {
        Some(encrypted) => Some(readable_result(&decrypt_result(
            &key,
            &network_key,
            &envelope,
            encrypted,
        )?)),
        None => None,
    };
    Ok(Decrypted {
        message: Some(message),
        result,
        note: None,
    })
}

fn tx(args: TxArgs) -> Result<(), Failure> {
    let hash = parse_tx_hash(&args.hash)?;
    let client = settings().client();
    let committed = match client.tx(&hash)? {
        None => {
            return Err(failed(
                "not_found",
                format!(
                    "no transaction {}: it is neither in a block nor waiting in the node's mempool",
                    hex_encode(&hash)
                ),
            ))
        }
        Some(TxStatus::Pending) => {
            if settings().json() {
                print_json(&json!({"tx_hash": hex_encode(&hash), "status": "pending"}));
            } else {
                print_fields(&[
                    ("tx_hash", hex_encode(&hash)),
                    (
                        "status",
                        "pending (in the mempool, not yet in a block)".into(),
                    ),
                ]);
            }
            return Ok(());
        }
        Some(TxStatus::Committed(committed)) => *committed,
    };
    let Decrypted {
        message,
        result,
        note,
    } = decrypt_for(&committed, &args, &client)?;
    let receipt = &committed.receipt;
    let msg = committed.tx.as_ref().map(|tx| public_msg(&tx.body.msg));
    if settings().json() {
        let mut map = Map::new();
        map.insert("status".into(), json!("committed"));
        map.extend(receipt_fields(receipt));
        if let Some(tx) = &committed.tx {
            map.insert("memo".into(), json!(tx.body.memo));
            map.insert("sequence".into(), json!(tx.body.sequence));
        }
        map.insert("msg".into(), msg.unwrap_or(Value::Null));
        map.insert(
            "encrypted_result".into(),
            json!(receipt.encrypted_result.as_deref().map(b64)),
        );
        map.insert(
            "decrypted".into(),
            json!(message.is_some() || result.is_some()),
        );
        map.insert(
            "decrypted_msg".into(),
            message.clone().unwrap_or(Value::Null),
        );
        map.insert("result".into(), result.unwrap_or(Value::Null));
        if let Some(note) = note {
            map.insert("result_note".into(), json!(note));
        }
        print_json(&Value::Object(map));
        return Ok(());
    }
    print_fields(&[("status", "committed".into())]);
    print_receipt(receipt);
    let mut fields = vec![("kind", receipt.msg_kind.clone())];
    if let Some(Value::Object(msg)) = &msg {
        for (key, value) in msg {
            if key != "kind" {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                fields.push((key.as_str(), text));
            }
        }
    }
    if let Some(tx) = committed.tx.as_ref().filter(|tx| !tx.body.memo.is_empty()) {
        fields.push(("memo", tx.body.memo.clone()));
    }
    if receipt.ok {
        fields.push(("ok", "true".into()));
    } else {
        fields.push((
            "ok",
            format!(
                "false: {} ({})",
                receipt.error.clone().unwrap_or_default(),
                receipt.error_kind.clone().unwrap_or_default()
            ),
        ));
    }
    if let Some(code_id) = receipt.code_id {
        fields.push(("code_id", code_id.to_string()));
    }
    if let Some(address) = &receipt.contract_address {
        fields.push(("contract_address", address.clone()));
    }
    print_fields(&fields);
    for event in &receipt.events {
        let attributes: Vec<String> = event
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("event: {} {}", event.kind, attributes.join(" "));
    }
    if let Some(message) = &message {
        println!("decrypted msg: {message}");
    }
    match (&result, &note) {
        (Some(result), _) => print_result(result),
        (None, Some(note)) => println!("result: {note}"),
        (None, None) => {}
    }
    Ok(())
}

fn block(args: BlockArgs) -> Result<(), Failure> {
    let client = settings().client();
    let block = client.block(args.height)?;
    let receipts = if block.tx_hashes.is_empty() {
        Vec::new()
    } else {
        client.block_receipts(block.header.height)?
    };
    let txs: Vec<Value> = receipts
        .iter()
        .map(|r| {
            json!({
                "tx_hash": hex_encode(&r.tx_hash), "index": r.index, "sender": r.sender,
                "msg_kind": r.msg_kind, "ok": r.ok, "error_kind": r.error_kind,
                "gas_used": r.gas_used, "contract_address": r.contract_address,
                "code_id": r.code_id,
            })
        })
        .collect();
    let header = &block.header;
    if settings().json() {
        print_json(&json!({
            "height": header.height,
            "hash": block.hash,
            "header": header,
            "time": format_time(header.time_nanos),
            "tx_hashes": block.tx_hashes,
            "txs": txs,
        }));
        return Ok(());
    }
    print_fields(&[
        ("height", header.height.to_string()),
        ("hash", block.hash.clone()),
        ("time", format_time(header.time_nanos)),
        ("chain_id", header.chain_id.clone()),
        ("prev_block_hash", hex_encode(&header.prev_block_hash)),
        ("app_hash", hex_encode(&header.app_hash)),
        ("txs_hash", hex_encode(&header.txs_hash)),
        ("txs", block.tx_hashes.len().to_string()),
    ]);
    for r in &receipts {
        println!(
            "tx: {} {} {} {}",
            hex_encode(&r.tx_hash),
            r.msg_kind,
            r.sender,
            if r.ok {
                "ok".to_string()
            } else {
                format!("failed ({})", r.error_kind.clone().unwrap_or_default())
            }
        );
    }
    Ok(())
}

fn account(args: AccountArgs) -> Result<(), Failure> {
    let (address, name) = settings().keyring().resolve_address(&args.account)?;
    let client = settings().client();
    let account = client.account(&address)?;
    if settings().json() {
        let mut value = serde_json::to_value(&account).expect("account serializes");
        value["name"] = json!(name);
        print_json(&value);
    } else {
        let mut fields = vec![("address", account.address.clone())];
        if let Some(name) = name {
            fields.push(("key", name));
        }
        fields.push(("balance", format!("{}{DENOM}", account.balance)));
        fields.push(("sequence", account.sequence.to_string()));
        fields.push((
            "public_key",
            account
                .public_key
                .as_deref()
                .map(b64)
                .unwrap_or_else(|| "(none yet: the account has not sent a transaction)".into()),
        ));
        print_fields(&fields);
    }
    Ok(())
}

fn code(args: CodeArgs) -> Result<(), Failure> {
    let client = settings().client();
    let code = client.code(args.code_id)?;
    if settings().json() {
        print_json(&serde_json::to_value(&code).expect("code serializes"));
    } else {
        print_fields(&[
            ("code_id", code.code_id.to_string()),
            ("code_hash", hex_encode(&code.code_hash)),
            ("creator", code.creator.clone()),
            ("size", format!("{} bytes", code.size)),
        ]);
    }
    Ok(())
}

fn contract_info(args: ContractInfoArgs) -> Result<(), Failure> {
    let client = settings().client();
    let info = client.contract(&args.contract)?;
    if settings().json() {
        print_json(&serde_json::to_value(&info).expect("contract info serializes"));
    } else {
        print_fields(&[
            ("address", info.address.clone()),
            ("code_id", info.code_id.to_string()),
            ("code_hash", hex_encode(&info.code_hash)),
            ("init_code_hash", hex_encode(&info.init_code_hash)),
            ("creator", info.creator.clone()),
            (
                "admin",
                info.admin.clone().unwrap_or_else(|| {
                    "(none: cannot be migrated, query policy cannot change)".into()
                }),
            ),
            ("query_policy", crate::policy::describe(&info.query_policy)),
            ("label", info.label.clone()),
            (
                "state_root",
                info.state_root
                    .map(|r| hex_encode(&r))
                    .unwrap_or_else(|| "(empty)".into()),
            ),
        ]);
    }
    Ok(())
}

/// Nanoseconds since the Unix epoch as UTC `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn format_time(nanos: u64) -> String {
    let secs = nanos / 1_000_000_000;
    let millis = (nanos / 1_000_000) % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_times() {
        assert_eq!(super::format_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::format_time(1_700_000_000_123_000_000),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            super::format_time(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
