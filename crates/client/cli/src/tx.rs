//! `veil tx`: sign, encrypt and send transactions (what it shares with `veil query` and
//! `veil status` is in `shared.rs`).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};
use sha2::Digest;
use veil_client::tx::Wallet;
use veil_types::Msg;

use crate::shared::{
    broadcast, failed, finish, hex_encode, human_size, parse_amount, parse_msg, progress, report,
    settings, usage, CodePin, Failure, Signer, TxOpts,
};

pub(crate) const TX_LONG_ABOUT: &str = "\
Sign transactions with a key from the local keyring, send them to a node and wait until
they are in a block.

Contract messages (instantiate, execute, migrate) are encrypted on this machine to the
network's key, for the contract's code only: the node, other users and block explorers see
ciphertext. The contract's answer (its data, attributes, events, or its error message) is
encrypted for the sender; `veil tx` decrypts and prints it. Amounts, addresses, code and
gas are public.

--from KEY names the signing key (see `veil keys`; `veil dev` puts the funded dev accounts
alice, bob and carol into its home's test keyring and says so in that home's client.toml,
so with that home nothing more is needed; elsewhere use --keyring-backend test). Wherever an address is expected (the recipient, --admin), a key
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
// veil tx
// ---------------------------------------------------------------------------------------

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
    let json = settings().json();
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

fn send(args: SendArgs) -> Result<(), Failure> {
    let signer = Signer::open(&args.tx)?;
    let (to, _) = settings().keyring().resolve_address(&args.to)?;
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
        Some(admin) => Some(settings().keyring().resolve_address(admin)?.0),
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
    let (contract, _) = settings().keyring().resolve_address(&args.contract)?;
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
    report(&outcome, vec![("contract", json!(contract))]);
    Ok(())
}

fn migrate(args: MigrateArgs) -> Result<(), Failure> {
    let msg = parse_msg(&args.msg)?;
    let signer = Signer::open(&args.tx)?;
    let (contract, _) = settings().keyring().resolve_address(&args.contract)?;
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
