//! `veil keys`: the local keyring (create, recover, list, show, export, import, delete).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use serde_json::{json, Value};
use veil_client::keyring::{
    validate_name, Backend, ExportedSecret, KeyInfo, Keyring, KeyringError,
};
use veil_client::keys::{KeyError, Mnemonic};
use zeroize::Zeroizing;

use crate::shared::{
    failed, finish, passphrase_from_env, prompt_hidden, settings, stdin_line, usage, Failure,
};

pub(crate) const KEYS_LONG_ABOUT: &str = "\
Manage the keys in the local keyring.

A key is a BIP-39 mnemonic (24 words when created here; 12, 15, 18, 21 or 24 accepted when
recovering) giving the secp256k1 account key at the Cosmos path m/44'/118'/0'/0/0 (the same
words give the same account as in other Cosmos wallets), its veil1... address, and the
X25519 key that encrypts the account's contract messages and decrypts their results.

Keyring backends (--keyring-backend, $VEIL_KEYRING_BACKEND or the home's client.toml; default: file):
  file  <home>/keyring-file/<name>.json: the mnemonic encrypted with a passphrase
        (Argon2id + AES-256-GCM-SIV). Names, addresses and public keys are readable
        without it.
  test  <home>/keyring-test/<name>.json: the mnemonic in PLAINTEXT. Tests and dev chains only.
The home directory is --home, else $VEIL_HOME, else ~/.veil. Key names are 1 to 64
characters from a-z, A-Z, 0-9, '_' and '-'.

Passphrase (file backend): $VEIL_KEYRING_PASSPHRASE if set; else asked on the terminal
without echo (twice for a new key); else, when stdin is not a terminal, read as one line
from stdin (after the mnemonic, for `add --recover` and `import`). New passphrases need at
least 8 characters.

--output json prints one JSON object (an array for `list`) on stdout; byte strings are
base64. Errors go to stderr as `error: ...`. Exit status: 0 on success, 1 when the command
failed (unknown or existing key, wrong passphrase, unreadable keyring), 2 for bad input
(bad name, invalid mnemonic, missing confirmation, bad flags).";

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Create a new key and print its mnemonic once (or recover one with --recover).
    #[command(long_about = "\
Create a new key from a fresh 24-word mnemonic and print the mnemonic once: write it down,
it is the only way to recover the key. With --recover, read an existing mnemonic from
stdin instead (one line; asked without echo on a terminal).")]
    Add(AddArgs),
    /// List the keys (name and address), sorted by name.
    List(ListArgs),
    /// Show a key's public information: address, public key, encryption public key.
    Show(ShowArgs),
    /// Print a key's mnemonic (needs the passphrase of the file backend).
    #[command(long_about = "\
Print a key's mnemonic (or, for a key imported as a raw secret key, that key in hex).
Anyone who sees it controls the account. Needs the passphrase of the file backend.")]
    Export(ExportArgs),
    /// Store the key of an existing mnemonic, read from stdin (one line).
    Import(ImportArgs),
    /// Delete a key; asks for confirmation unless --yes.
    #[command(long_about = "\
Delete a key. Only its mnemonic can bring it back. Asks for confirmation on a terminal;
when stdin is not a terminal, refuses unless --yes is given.")]
    Delete(DeleteArgs),
}

#[derive(clap::Args)]
pub struct AddArgs {
    /// Key name.
    name: String,
    /// Recover the key from an existing mnemonic read from stdin.
    #[arg(long)]
    recover: bool,
    /// Replace an existing key of the same name.
    #[arg(long)]
    overwrite: bool,
}

#[derive(clap::Args)]
pub struct ListArgs {}

#[derive(clap::Args)]
pub struct ShowArgs {
    /// Key name.
    name: String,
    /// Print only the address (text output).
    #[arg(long, short = 'a')]
    address: bool,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Key name.
    name: String,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// Key name.
    name: String,
    /// Replace an existing key of the same name.
    #[arg(long)]
    overwrite: bool,
}

#[derive(clap::Args)]
pub struct DeleteArgs {
    /// Key name.
    name: String,
    /// Delete without asking.
    #[arg(long, short = 'y')]
    yes: bool,
}

impl From<KeyError> for Failure {
    fn from(e: KeyError) -> Self {
        Failure::Usage(e.into())
    }
}

pub fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    let json = settings().json();
    let result = match command {
        KeysCommand::Add(args) => add(args),
        KeysCommand::List(args) => list(args),
        KeysCommand::Show(args) => show(args),
        KeysCommand::Export(args) => export(args),
        KeysCommand::Import(args) => import(args),
        KeysCommand::Delete(args) => delete(args),
    };
    finish(result, json)
}

fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// One line from stdin; `what` names it in the error on end of input.
fn read_stdin_line(what: &str) -> Result<Zeroizing<String>, Failure> {
    stdin_line(what)?
        .ok_or_else(|| usage(format!("expected the {what} on stdin, got end of input")))
}

/// The mnemonic for `add --recover` and `import`.
fn read_mnemonic() -> Result<Mnemonic, Failure> {
    let phrase = if stdin_is_terminal() {
        prompt_hidden("Enter the BIP-39 mnemonic (input hidden): ")?
    } else {
        read_stdin_line("mnemonic")?
    };
    Ok(Mnemonic::parse(&phrase)?)
}

/// The passphrase of the file backend (None for the test backend). A `new` passphrase is
/// asked twice on a terminal.
fn passphrase(keyring: &Keyring, new: bool) -> Result<Option<Zeroizing<String>>, Failure> {
    if keyring.backend() == Backend::Test {
        return Ok(None);
    }
    if let Some(value) = passphrase_from_env()? {
        return Ok(Some(value));
    }
    if !stdin_is_terminal() {
        return read_stdin_line("passphrase").map(Some);
    }
    if !new {
        return prompt_hidden("Keyring passphrase: ").map(Some);
    }
    let first = prompt_hidden("Choose a keyring passphrase (at least 8 characters): ")?;
    let second = prompt_hidden("Repeat the passphrase: ")?;
    if *first != *second {
        return Err(usage("the two passphrases differ"));
    }
    Ok(Some(first))
}

/// Fails before any prompt if `name` is invalid or (without `overwrite`) taken.
fn check_new_name(keyring: &Keyring, name: &str, overwrite: bool) -> Result<(), Failure> {
    validate_name(name)?;
    if !overwrite && keyring.contains(name)? {
        return Err(KeyringError::AlreadyExists(name.to_string()).into());
    }
    Ok(())
}

fn info_json(info: &KeyInfo) -> Value {
    serde_json::to_value(info).expect("KeyInfo serializes")
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON serializes")
    );
}

fn print_info(info: &KeyInfo) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    println!("name: {}", info.name);
    println!("address: {}", info.address);
    println!("public_key: {}", b64.encode(&info.public_key));
    println!(
        "encryption_public_key: {}",
        b64.encode(&info.encryption_public_key)
    );
    println!("source: {}", info.source.as_str());
}

fn add(args: AddArgs) -> Result<(), Failure> {
    let keyring = settings().keyring().open()?;
    check_new_name(&keyring, &args.name, args.overwrite)?;
    let mnemonic = if args.recover {
        Some(read_mnemonic()?)
    } else {
        None
    };
    let pass = passphrase(&keyring, true)?;
    let new = keyring.add(
        &args.name,
        mnemonic,
        pass.as_ref().map(|p| p.as_str()),
        args.overwrite,
    )?;
    if settings().json() {
        let mut value = info_json(&new.info);
        if !args.recover {
            value["mnemonic"] = Value::String(new.mnemonic.phrase().to_string());
        }
        print_json(&value);
    } else {
        print_info(&new.info);
        if !args.recover {
            println!();
            println!(
                "**Important**: write this mnemonic down and keep it somewhere safe. It is \
                 the only way to recover the key if the keyring is lost or its passphrase \
                 forgotten, and anyone who sees it controls the account. It is not shown again."
            );
            println!();
            println!("{}", new.mnemonic.phrase().as_str());
        }
    }
    Ok(())
}

fn import(args: ImportArgs) -> Result<(), Failure> {
    let keyring = settings().keyring().open()?;
    check_new_name(&keyring, &args.name, args.overwrite)?;
    let mnemonic = read_mnemonic()?;
    let pass = passphrase(&keyring, true)?;
    let info = keyring.import(
        &args.name,
        &mnemonic,
        pass.as_ref().map(|p| p.as_str()),
        args.overwrite,
    )?;
    if settings().json() {
        print_json(&info_json(&info));
    } else {
        print_info(&info);
    }
    Ok(())
}

fn list(_: ListArgs) -> Result<(), Failure> {
    let keyring = settings().keyring().open()?;
    let keys = keyring.list()?;
    if settings().json() {
        print_json(&Value::Array(keys.iter().map(info_json).collect()));
    } else if keys.is_empty() {
        eprintln!(
            "no keys in the {} keyring ({})",
            keyring.backend(),
            keyring.dir().display()
        );
    } else {
        let width = keys.iter().map(|k| k.name.len()).max().unwrap_or(0);
        for key in &keys {
            println!("{:width$}  {}", key.name, key.address);
        }
    }
    Ok(())
}

fn show(args: ShowArgs) -> Result<(), Failure> {
    let keyring = settings().keyring().open()?;
    let info = keyring.show(&args.name)?;
    if settings().json() {
        print_json(&info_json(&info));
    } else if args.address {
        println!("{}", info.address);
    } else {
        print_info(&info);
    }
    Ok(())
}

fn export(args: ExportArgs) -> Result<(), Failure> {
    let keyring = settings().keyring().open()?;
    let info = keyring.show(&args.name)?; // unknown key: fail before asking for a passphrase
    let pass = passphrase(&keyring, false)?;
    let secret = keyring.export(&args.name, pass.as_ref().map(|p| p.as_str()))?;
    let (field, text) = match &secret {
        ExportedSecret::Mnemonic(m) => ("mnemonic", m.phrase()),
        ExportedSecret::SecretKey(s) => {
            let mut hex = Zeroizing::new(String::with_capacity(64));
            for byte in s.iter() {
                hex.push_str(&format!("{byte:02x}"));
            }
            ("secret_key", hex)
        }
    };
    if settings().json() {
        print_json(&json!({
            "name": info.name,
            "address": info.address,
            field: text.as_str(),
        }));
    } else {
        let what = if field == "mnemonic" {
            "mnemonic"
        } else {
            "secret key (hex)"
        };
        eprintln!("**Warning**: anyone who sees the following {what} controls the account.");
        println!("{}", text.as_str());
    }
    Ok(())
}

fn delete(args: DeleteArgs) -> Result<(), Failure> {
    let keyring = settings().keyring().open()?;
    let info = keyring.show(&args.name)?;
    if !args.yes {
        if !stdin_is_terminal() {
            return Err(usage(format!(
                "refusing to delete key {:?} without confirmation: stdin is not a terminal \
                 (pass --yes)",
                args.name
            )));
        }
        eprint!(
            "Delete key {:?} ({})? Only its mnemonic can bring it back. [y/N] ",
            info.name, info.address
        );
        let _ = io::stderr().flush();
        let answer = read_stdin_line("confirmation")?;
        if !matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            return Err(failed(
                "not_confirmed",
                format!("key {:?} not deleted", info.name),
            ));
        }
    }
    keyring.delete(&args.name)?;
    if settings().json() {
        print_json(&json!({ "deleted": info.name, "address": info.address }));
    } else {
        println!("deleted key {:?} ({})", info.name, info.address);
    }
    Ok(())
}
