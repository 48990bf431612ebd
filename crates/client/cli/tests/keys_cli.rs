//! `veil keys` as a user runs it: the real binary on a temporary home directory, stdin
//! piped (so never a terminal: passphrases and mnemonics come from stdin or the environment).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

const PASS: &str = "a long passphrase";
/// The BIP-39 all-zero-entropy mnemonic and its address (docs/protocol.md, "Wallet keys").
const ABANDON_24: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
    abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
    abandon abandon abandon abandon art";
const ABANDON_ADDRESS: &str = "veil1r5v5srda7xfth3hn2s26txvrcrntldjux8ywfa";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        self
    }

    /// Checks the exit status and that stderr is one `error: ...` report containing `text`.
    #[track_caller]
    fn fails(self, code: i32, text: &str) -> Self {
        assert_eq!(
            self.code, code,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        assert!(
            self.stderr.starts_with("error: ") && self.stderr.contains(text),
            "expected `error: ...{text}...`, got: {}",
            self.stderr
        );
        self
    }
}

/// Runs `veil keys <args>` with `home` as `--home`, `env` added to a clean environment
/// and `stdin` piped in.
fn keys(home: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_veil"));
    cmd.arg("keys")
        .args(args)
        .arg("--home")
        .arg(home)
        .env_remove("VEIL_HOME")
        .env_remove("VEIL_KEYRING_BACKEND")
        .env_remove("VEIL_KEYRING_PASSPHRASE")
        .env("HOME", home.join("user-home"))
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("veil runs");
    // The command may exit without reading stdin: ignore a broken pipe.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let output = child.wait_with_output().unwrap();
    Out {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

const TEST: &[&str] = &["--keyring-backend", "test"];
const JSON: &[&str] = &["--output", "json"];

fn args<'a>(parts: &[&'a [&'a str]]) -> Vec<&'a str> {
    parts.concat()
}

#[test]
fn test_backend_round_trip() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();

    let added = keys(home, &args(&[&["add", "alice"], TEST, JSON]), &[], "")
        .ok()
        .json();
    let address = added["address"].as_str().unwrap().to_string();
    let mnemonic = added["mnemonic"].as_str().unwrap().to_string();
    assert!(address.starts_with("veil1"));
    assert_eq!(mnemonic.split(' ').count(), 24);
    assert_eq!(added["name"], "alice");
    assert_eq!(added["source"], "mnemonic");
    assert!(home.join("keyring-test/alice.json").is_file());

    // Text output shows the mnemonic once, with a warning.
    let text = keys(home, &args(&[&["add", "bob"], TEST]), &[], "").ok();
    assert!(text.stdout.contains("**Important**"), "{}", text.stdout);
    assert!(text.stdout.contains("address: veil1"));
    let bob_words = text.stdout.lines().last().unwrap();
    assert_eq!(bob_words.split(' ').count(), 24);

    let list = keys(home, &args(&[&["list"], TEST, JSON]), &[], "")
        .ok()
        .json();
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(list[0]["address"], address.as_str());
    let list_text = keys(home, &args(&[&["list"], TEST]), &[], "").ok().stdout;
    assert!(
        list_text.contains(&format!("alice  {address}")),
        "{list_text}"
    );

    let shown = keys(home, &args(&[&["show", "alice"], TEST, JSON]), &[], "")
        .ok()
        .json();
    assert_eq!(shown["address"], address.as_str());
    assert_eq!(shown["public_key"], added["public_key"]);
    assert_eq!(
        shown["encryption_public_key"],
        added["encryption_public_key"]
    );
    assert!(shown.get("mnemonic").is_none());
    let bare = keys(
        home,
        &args(&[&["show", "alice", "--address"], TEST]),
        &[],
        "",
    )
    .ok();
    assert_eq!(bare.stdout, format!("{address}\n"));

    // Export, then import the words elsewhere: the same account.
    let exported = keys(home, &args(&[&["export", "alice"], TEST, JSON]), &[], "")
        .ok()
        .json();
    assert_eq!(exported["mnemonic"], mnemonic.as_str());
    let text = keys(home, &args(&[&["export", "alice"], TEST]), &[], "").ok();
    assert_eq!(text.stdout.trim(), mnemonic);
    assert!(text.stderr.contains("Warning"));
    let other = tempfile::tempdir().unwrap();
    let imported = keys(
        other.path(),
        &args(&[&["import", "again"], TEST, JSON]),
        &[],
        &format!("{mnemonic}\n"),
    )
    .ok()
    .json();
    assert_eq!(imported["address"], address.as_str());
    assert_eq!(
        imported["encryption_public_key"],
        added["encryption_public_key"]
    );
    assert!(imported.get("mnemonic").is_none());
}

#[test]
fn file_backend_round_trip_and_wrong_passphrase() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let env = [("VEIL_KEYRING_PASSPHRASE", PASS)];

    // `file` is the default backend.
    let added = keys(home, &args(&[&["add", "k"], JSON]), &env, "")
        .ok()
        .json();
    let mnemonic = added["mnemonic"].as_str().unwrap().to_string();
    let stored = std::fs::read_to_string(home.join("keyring-file/k.json")).unwrap();
    assert!(!stored.contains(&mnemonic));
    assert!(stored.contains("argon2id"));

    // Listing and showing need no passphrase.
    let list = keys(home, &args(&[&["list"], JSON]), &[], "").ok().json();
    assert_eq!(list[0]["address"], added["address"]);

    let exported = keys(home, &args(&[&["export", "k"], JSON]), &env, "")
        .ok()
        .json();
    assert_eq!(exported["mnemonic"], mnemonic.as_str());

    // Wrong passphrase, from the environment and from stdin.
    keys(
        home,
        &["export", "k"],
        &[("VEIL_KEYRING_PASSPHRASE", "not the passphrase")],
        "",
    )
    .fails(1, "wrong passphrase for key \"k\"");
    let wrong =
        keys(home, &["export", "k"], &[], "not the passphrase\n").fails(1, "wrong passphrase");
    assert!(wrong.stdout.is_empty());
    // No passphrase at all (stdin closed).
    keys(home, &["export", "k"], &[], "").fails(2, "passphrase on stdin");

    // The right passphrase from stdin.
    let from_stdin = keys(
        home,
        &args(&[&["export", "k"], JSON]),
        &[],
        &format!("{PASS}\n"),
    )
    .ok()
    .json();
    assert_eq!(from_stdin["mnemonic"], mnemonic.as_str());

    // Recover with the mnemonic then the passphrase on stdin: same address.
    let recovered = keys(
        home,
        &args(&[&["add", "copy", "--recover"], JSON]),
        &[],
        &format!("{mnemonic}\n{PASS}\n"),
    )
    .ok()
    .json();
    assert_eq!(recovered["address"], added["address"]);
    assert!(recovered.get("mnemonic").is_none());

    // A new passphrase must be long enough.
    keys(
        home,
        &["add", "short"],
        &[("VEIL_KEYRING_PASSPHRASE", "1234567")],
        "",
    )
    .fails(2, "at least 8 characters");
    assert!(!home.join("keyring-file/short.json").exists());
}

#[test]
fn known_mnemonic_and_environment_defaults() {
    let home = tempfile::tempdir().unwrap();
    // No --home: VEIL_HOME; no --keyring-backend: VEIL_KEYRING_BACKEND.
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["keys", "import", "abandon", "--output", "json"])
        .env("VEIL_HOME", home.path())
        .env("VEIL_KEYRING_BACKEND", "test")
        .env_remove("VEIL_KEYRING_PASSPHRASE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("  {}  \n", ABANDON_24.to_uppercase()).as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["address"], ABANDON_ADDRESS);
    assert!(home.path().join("keyring-test/abandon.json").is_file());

    // A bad backend name in the environment is a usage error.
    keys(
        home.path(),
        &["list"],
        &[("VEIL_KEYRING_BACKEND", "os")],
        "",
    )
    .fails(2, "VEIL_KEYRING_BACKEND: unknown keyring backend \"os\"");
    // ... and on the command line, clap's own error.
    let bad_flag = keys(home.path(), &["list", "--keyring-backend", "os"], &[], "");
    assert_eq!(bad_flag.code, 2);
}

#[test]
fn delete_needs_confirmation() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    keys(home, &args(&[&["add", "gone"], TEST]), &[], "").ok();

    // stdin is not a terminal: refuse without --yes, even if it says "y".
    keys(home, &args(&[&["delete", "gone"], TEST]), &[], "y\n").fails(2, "pass --yes");
    assert!(home.join("keyring-test/gone.json").exists());

    let deleted = keys(
        home,
        &args(&[&["delete", "gone", "--yes"], TEST, JSON]),
        &[],
        "",
    )
    .ok()
    .json();
    assert_eq!(deleted["deleted"], "gone");
    assert!(!home.join("keyring-test/gone.json").exists());
    keys(home, &args(&[&["show", "gone"], TEST]), &[], "").fails(1, "no key named \"gone\"");
    let list = keys(home, &args(&[&["list"], TEST, JSON]), &[], "")
        .ok()
        .json();
    assert_eq!(list, Value::Array(vec![]));
}

#[test]
fn unknown_keys_bad_names_and_duplicates() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let env = [("VEIL_KEYRING_PASSPHRASE", PASS)];

    for cmd in [
        &["show", "nobody"][..],
        &["export", "nobody"],
        &["delete", "nobody", "--yes"],
    ] {
        keys(home, cmd, &env, "").fails(1, "no key named \"nobody\" in the file keyring");
    }

    for bad in ["bad name", "../escape", "", "x.json", &"x".repeat(65)] {
        keys(home, &["add", bad], &env, "").fails(2, "invalid key name");
        keys(home, &["show", bad], &env, "").fails(2, "invalid key name");
    }
    assert!(
        !home.join("keyring-file").exists()
            || std::fs::read_dir(home.join("keyring-file"))
                .unwrap()
                .count()
                == 0
    );

    let first = keys(home, &args(&[&["add", "dup"], JSON]), &env, "")
        .ok()
        .json();
    keys(home, &["add", "dup"], &env, "").fails(1, "already exists");
    keys(home, &["import", "dup"], &env, &format!("{ABANDON_24}\n")).fails(1, "already exists");
    let replaced = keys(
        home,
        &args(&[&["import", "dup", "--overwrite"], JSON]),
        &env,
        &format!("{ABANDON_24}\n"),
    )
    .ok()
    .json();
    assert_ne!(replaced["address"], first["address"]);
    assert_eq!(replaced["address"], ABANDON_ADDRESS);
}

#[test]
fn invalid_mnemonics_are_usage_errors_and_not_echoed() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let bad_checksum = ABANDON_24.replace(" art", " abandon");
    let out = keys(
        home,
        &args(&[&["import", "k"], TEST]),
        &[],
        &format!("{bad_checksum}\n"),
    )
    .fails(2, "checksum");
    assert!(!out.stderr.contains("abandon"));
    let out = keys(
        home,
        &args(&[&["add", "k", "--recover"], TEST]),
        &[],
        "abandon secretword abandon abandon abandon abandon abandon abandon abandon abandon \
         abandon about\n",
    )
    .fails(2, "word 2 is not in the BIP-39 English word list");
    assert!(!out.stderr.contains("secretword"));
    keys(
        home,
        &args(&[&["import", "k"], TEST]),
        &[],
        "one two three\n",
    )
    .fails(2, "has 3 words");
    keys(home, &args(&[&["import", "k"], TEST]), &[], "").fails(2, "mnemonic on stdin");
    assert!(!home.join("keyring-test/k.json").exists());
}

#[test]
fn help_explains_the_keyring() {
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["keys", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "m/44'/118'/0'/0/0",
        "VEIL_KEYRING_BACKEND",
        "VEIL_KEYRING_PASSPHRASE",
        "VEIL_HOME",
        "PLAINTEXT",
        "Exit status",
        "add",
        "export",
        "import",
        "delete",
    ] {
        assert!(
            help.contains(needle),
            "`veil keys --help` lacks {needle:?}:\n{help}"
        );
    }
}
