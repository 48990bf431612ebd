use super::*;
use crate::keys::{dev_key, dev_mnemonic};

const PASS: &str = "correct horse battery";

/// Cheap Argon2id costs so the tests stay fast (files record their costs).
const CHEAP: KdfParams = KdfParams {
    m_cost_kib: 64,
    t_cost: 1,
    p_cost: 1,
};

fn keyring(home: &Path, backend: Backend) -> Keyring {
    Keyring::open(home, backend).unwrap().with_kdf_params(CHEAP)
}

fn pass(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Test => None,
        Backend::File => Some(PASS),
    }
}

fn mnemonic_of(secret: ExportedSecret) -> Mnemonic {
    match secret {
        ExportedSecret::Mnemonic(m) => m,
        other => panic!("expected a mnemonic, got {other:?}"),
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &serde_json::Value) {
    fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

#[test]
fn round_trip_both_backends() {
    for backend in [Backend::Test, Backend::File] {
        let home = tempfile::tempdir().unwrap();
        let kr = keyring(home.path(), backend);
        assert_eq!(kr.dir(), home.path().join(backend.dir_name()));
        assert!(kr.list().unwrap().is_empty());
        assert!(!kr.contains("alice").unwrap());

        let new = kr.add("alice", None, pass(backend), false).unwrap();
        assert_eq!(new.mnemonic.word_count(), 24);
        let expected = KeyPair::from_mnemonic(&new.mnemonic).unwrap();
        assert_eq!(new.info.name, "alice");
        assert_eq!(new.info.address, expected.address());
        assert_eq!(new.info.public_key, expected.public_key().to_vec());
        assert_eq!(
            new.info.encryption_public_key,
            expected.encryption_public_key().to_vec()
        );
        assert_eq!(new.info.source, KeySource::Mnemonic);
        assert!(kr.contains("alice").unwrap());

        assert_eq!(kr.show("alice").unwrap(), new.info);
        assert_eq!(kr.list().unwrap(), vec![new.info.clone()]);
        let key = kr.get("alice", pass(backend)).unwrap();
        assert_eq!(key.address(), expected.address());
        assert_eq!(
            key.encryption_secret().to_bytes(),
            expected.encryption_secret().to_bytes()
        );
        let exported = mnemonic_of(kr.export("alice", pass(backend)).unwrap());
        assert_eq!(exported, new.mnemonic);

        // Re-import the exported words under another name: same account.
        let info = kr.import("bob", &exported, pass(backend), false).unwrap();
        assert_eq!(info.address, new.info.address);
        let names: Vec<_> = kr.list().unwrap().into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["alice", "bob"]);

        // Only the test backend keeps the words in the clear.
        let text = fs::read_to_string(kr.path_of("alice").unwrap()).unwrap();
        assert_eq!(
            text.contains(new.mnemonic.phrase().as_str()),
            backend == Backend::Test
        );
        assert!(text.contains(&new.info.address));
    }
}

#[test]
fn known_mnemonic_gives_known_address() {
    let home = tempfile::tempdir().unwrap();
    let kr = keyring(home.path(), Backend::File);
    let info = kr
        .import("alice", &dev_mnemonic("alice"), Some(PASS), false)
        .unwrap();
    assert_eq!(info.address, "veil1q2v47vdn07dkvaf90ng9wfkgvtjv57jnf7u763");
    assert_eq!(info.address, dev_key("alice").address());
}

#[test]
fn raw_secret_keys_round_trip() {
    for backend in [Backend::Test, Backend::File] {
        let home = tempfile::tempdir().unwrap();
        let kr = keyring(home.path(), backend);
        let dev = dev_key("carol");
        let secret = dev.secret_bytes();
        let info = kr
            .import_secret_key("carol", &secret, pass(backend), false)
            .unwrap();
        assert_eq!(info.source, KeySource::SecretKey);
        assert_eq!(info.address, dev.address());
        let key = kr.get("carol", pass(backend)).unwrap();
        assert_eq!(
            key.encryption_secret().to_bytes(),
            dev.encryption_secret().to_bytes()
        );
        match kr.export("carol", pass(backend)).unwrap() {
            ExportedSecret::SecretKey(s) => assert_eq!(*s, *secret),
            other => panic!("expected a secret key, got {other:?}"),
        }
        assert!(matches!(
            kr.import_secret_key("zero", &[0; 32], pass(backend), false),
            Err(KeyringError::Key(KeyError::InvalidSecretKey))
        ));
        assert!(!kr.contains("zero").unwrap());
    }
}

#[test]
fn passphrases() {
    let home = tempfile::tempdir().unwrap();
    let kr = keyring(home.path(), Backend::File);
    assert!(matches!(
        kr.add("a", None, None, false),
        Err(KeyringError::PassphraseRequired(Backend::File))
    ));
    assert!(matches!(
        kr.add("a", None, Some("1234567"), false),
        Err(KeyringError::PassphraseTooShort)
    ));
    assert!(!kr.contains("a").unwrap());
    kr.add("a", None, Some("12345678"), false).unwrap();
    let err = kr.get("a", Some("12345679")).unwrap_err();
    assert!(matches!(err, KeyringError::WrongPassphrase(ref n) if n == "a"));
    assert_eq!(
        err.to_string(),
        "wrong passphrase for key \"a\" (or its file was modified)"
    );
    assert!(matches!(
        kr.export("a", Some("")),
        Err(KeyringError::WrongPassphrase(_))
    ));
    assert!(matches!(
        kr.get("a", None),
        Err(KeyringError::PassphraseRequired(Backend::File))
    ));
    // Public information needs no passphrase.
    kr.show("a").unwrap();
    kr.list().unwrap();
    kr.get("a", Some("12345678")).unwrap();
    // The test backend ignores passphrases.
    let test = keyring(home.path(), Backend::Test);
    test.add("a", None, Some("x"), false).unwrap();
    test.get("a", Some("anything")).unwrap();
}

#[test]
fn default_kdf_params_work() {
    let home = tempfile::tempdir().unwrap();
    let kr = Keyring::open(home.path(), Backend::File).unwrap();
    let new = kr.add("k", None, Some(PASS), false).unwrap();
    let file = read_json(&kr.path_of("k").unwrap());
    assert_eq!(file["encrypted"]["kdf"], "argon2id");
    assert_eq!(file["encrypted"]["m_cost_kib"], 65536);
    assert_eq!(file["encrypted"]["t_cost"], 3);
    assert_eq!(file["encrypted"]["cipher"], "aes-256-gcm-siv");
    // A keyring with other costs still reads it (the file carries its own).
    let cheap = keyring(home.path(), Backend::File);
    assert_eq!(
        mnemonic_of(cheap.export("k", Some(PASS)).unwrap()),
        new.mnemonic
    );
    assert!(matches!(
        Keyring::open(home.path(), Backend::File)
            .unwrap()
            .with_kdf_params(KdfParams {
                m_cost_kib: 1,
                t_cost: 1,
                p_cost: 1
            })
            .add("bad", None, Some(PASS), false),
        Err(KeyringError::InvalidKdfParams(_))
    ));
}

#[test]
fn duplicates_and_overwrite() {
    for backend in [Backend::Test, Backend::File] {
        let home = tempfile::tempdir().unwrap();
        let kr = keyring(home.path(), backend);
        let first = kr.add("k", None, pass(backend), false).unwrap();
        let err = kr.add("k", None, pass(backend), false).unwrap_err();
        assert!(matches!(err, KeyringError::AlreadyExists(ref n) if n == "k"));
        assert!(matches!(
            kr.import("k", &dev_mnemonic("bob"), pass(backend), false),
            Err(KeyringError::AlreadyExists(_))
        ));
        assert!(matches!(
            kr.import_secret_key("k", &[1; 32], pass(backend), false),
            Err(KeyringError::AlreadyExists(_))
        ));
        assert_eq!(kr.show("k").unwrap(), first.info);
        let second = kr
            .import("k", &dev_mnemonic("bob"), pass(backend), true)
            .unwrap();
        assert_eq!(second.address, dev_key("bob").address());
        assert_eq!(kr.show("k").unwrap(), second);
        assert_eq!(kr.list().unwrap().len(), 1);
        // No temporary files are left behind.
        let leftovers: Vec<_> = fs::read_dir(kr.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "k.json")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn unknown_keys() {
    let home = tempfile::tempdir().unwrap();
    let kr = keyring(home.path(), Backend::File);
    for err in [
        kr.show("nobody").unwrap_err(),
        kr.get("nobody", Some(PASS)).unwrap_err(),
        kr.export("nobody", Some(PASS)).unwrap_err(),
        kr.delete("nobody").unwrap_err(),
    ] {
        assert!(
            matches!(err, KeyringError::NotFound { ref name, backend: Backend::File, .. } if name == "nobody"),
            "{err:?}"
        );
        assert!(err
            .to_string()
            .starts_with("no key named \"nobody\" in the file keyring"));
    }
}

#[test]
fn names() {
    let home = tempfile::tempdir().unwrap();
    let kr = keyring(home.path(), Backend::Test);
    let long = "x".repeat(MAX_NAME_LEN);
    for good in ["a", "Alice_2", "my-key", long.as_str()] {
        validate_name(good).unwrap();
        kr.add(good, None, None, false).unwrap();
    }
    let too_long = "x".repeat(MAX_NAME_LEN + 1);
    for bad in [
        "",
        "a b",
        "../x",
        "a/b",
        ".hidden",
        "a.json",
        "é",
        "a\0",
        too_long.as_str(),
    ] {
        assert!(
            matches!(validate_name(bad), Err(KeyringError::InvalidName(ref n)) if n == bad),
            "{bad:?}"
        );
        assert!(matches!(
            kr.add(bad, None, None, false),
            Err(KeyringError::InvalidName(_))
        ));
        assert!(matches!(kr.show(bad), Err(KeyringError::InvalidName(_))));
        assert!(matches!(kr.delete(bad), Err(KeyringError::InvalidName(_))));
        assert!(matches!(
            kr.contains(bad),
            Err(KeyringError::InvalidName(_))
        ));
    }
    assert_eq!(kr.list().unwrap().len(), 4);
}

#[test]
fn delete() {
    for backend in [Backend::Test, Backend::File] {
        let home = tempfile::tempdir().unwrap();
        let kr = keyring(home.path(), backend);
        kr.add("a", None, pass(backend), false).unwrap();
        kr.add("b", None, pass(backend), false).unwrap();
        kr.delete("a").unwrap();
        assert!(!kr.contains("a").unwrap());
        assert!(matches!(kr.delete("a"), Err(KeyringError::NotFound { .. })));
        let names: Vec<_> = kr.list().unwrap().into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["b"]);
        // The name is free again.
        kr.add("a", None, pass(backend), false).unwrap();
    }
}

#[cfg(unix)]
#[test]
fn permissions() {
    use std::os::unix::fs::PermissionsExt;
    for backend in [Backend::Test, Backend::File] {
        let home = tempfile::tempdir().unwrap();
        let kr = keyring(&home.path().join("new-home"), backend);
        kr.add("k", None, pass(backend), false).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(kr.dir()), 0o700);
        assert_eq!(mode(&home.path().join("new-home")), 0o700);
        assert_eq!(mode(&kr.path_of("k").unwrap()), 0o600);
        kr.import("k", &dev_mnemonic("bob"), pass(backend), true)
            .unwrap();
        assert_eq!(mode(&kr.path_of("k").unwrap()), 0o600);
    }
}

/// A change to a key file's JSON.
type Edit = Box<dyn Fn(&mut serde_json::Value)>;

#[test]
fn corrupt_files_are_errors() {
    for backend in [Backend::Test, Backend::File] {
        let home = tempfile::tempdir().unwrap();
        let kr = keyring(home.path(), backend);
        kr.add("good", None, pass(backend), false).unwrap();
        let path = kr.path_of("bad").unwrap();
        let good = read_json(&kr.path_of("good").unwrap());

        let corrupt_cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("garbage", b"\xff\xfe not json".to_vec()),
            (
                "truncated",
                serde_json::to_vec(&good).unwrap()[..40].to_vec(),
            ),
            ("array", b"[1,2,3]".to_vec()),
            ("huge", vec![b' '; 65 * 1024]),
        ];
        for (what, bytes) in corrupt_cases {
            fs::write(&path, bytes).unwrap();
            for err in [
                kr.show("bad").unwrap_err(),
                kr.get("bad", pass(backend)).unwrap_err(),
            ] {
                assert!(
                    matches!(err, KeyringError::Corrupt { .. }),
                    "{what}: {err:?}"
                );
                assert!(err.to_string().contains("bad.json"), "{what}: {err}");
            }
            // One bad file makes `list` fail loudly instead of hiding a key.
            assert!(
                matches!(kr.list(), Err(KeyringError::Corrupt { .. })),
                "{what}"
            );
        }

        let mut edits: Vec<(&str, Edit)> = vec![
            ("other name", Box::new(|v| v["name"] = "someone".into())),
            (
                "bad address",
                Box::new(|v| v["address"] = "veil1xyz".into()),
            ),
            (
                "address of another key",
                Box::new(|v| v["address"] = dev_key("bob").address().into()),
            ),
            ("unknown field", Box::new(|v| v["extra"] = 1.into())),
            (
                "no source",
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("source");
                }),
            ),
            (
                "bad public key",
                Box::new(|v| v["public_key"] = "AAAA".into()),
            ),
        ];
        if backend == Backend::File {
            edits.push(("no salt", Box::new(|v| v["encrypted"]["salt"] = "".into())));
            edits.push((
                "costly",
                Box::new(|v| v["encrypted"]["t_cost"] = 1_000_000.into()),
            ));
            edits.push((
                "other cipher",
                Box::new(|v| v["encrypted"]["cipher"] = "rot13".into()),
            ));
        } else {
            edits.push(("bad words", Box::new(|v| v["mnemonic"] = "abandon".into())));
            edits.push((
                "wrong secret kind",
                Box::new(|v| v["source"] = "secret_key".into()),
            ));
        }
        for (what, edit) in &edits {
            let mut value = good.clone();
            value["name"] = "bad".into();
            edit(&mut value);
            write_json(&path, &value);
            let err = kr.get("bad", pass(backend)).unwrap_err();
            assert!(
                matches!(err, KeyringError::Corrupt { .. }),
                "{what}: {err:?}"
            );
        }

        // A version we do not know.
        let mut value = good.clone();
        value["name"] = "bad".into();
        value["version"] = 2.into();
        write_json(&path, &value);
        assert!(matches!(
            kr.show("bad"),
            Err(KeyringError::UnsupportedVersion { version: 2, .. })
        ));
        fs::remove_file(&path).unwrap();
        kr.show("good").unwrap();
    }
}

#[test]
fn tampering_is_detected() {
    // File backend: the ciphertext and the public fields beside it are authenticated.
    let home = tempfile::tempdir().unwrap();
    let kr = keyring(home.path(), Backend::File);
    kr.add("k", None, Some(PASS), false).unwrap();
    let path = kr.path_of("k").unwrap();
    let good = read_json(&path);
    let bob = dev_key("bob");
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let mut swapped = good.clone();
    swapped["address"] = bob.address().into();
    swapped["public_key"] = b64(bob.public_key()).into();
    swapped["encryption_public_key"] = b64(bob.encryption_public_key()).into();
    write_json(&path, &swapped);
    assert!(matches!(
        kr.get("k", Some(PASS)),
        Err(KeyringError::WrongPassphrase(_))
    ));
    let mut flipped = good.clone();
    let ct = flipped["encrypted"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    let replacement = if ct.starts_with('A') { "B" } else { "A" };
    flipped["encrypted"]["ciphertext"] = format!("{replacement}{}", &ct[1..]).into();
    write_json(&path, &flipped);
    assert!(matches!(
        kr.get("k", Some(PASS)),
        Err(KeyringError::WrongPassphrase(_))
    ));
    let mut relabeled = good.clone();
    relabeled["source"] = "secret_key".into();
    write_json(&path, &relabeled);
    assert!(matches!(
        kr.get("k", Some(PASS)),
        Err(KeyringError::WrongPassphrase(_))
    ));
    write_json(&path, &good);
    kr.get("k", Some(PASS)).unwrap();

    // Test backend: a secret that does not give the stored address is refused.
    let kr = keyring(home.path(), Backend::Test);
    kr.add("k", None, None, false).unwrap();
    let path = kr.path_of("k").unwrap();
    let mut value = read_json(&path);
    value["mnemonic"] = dev_mnemonic("bob").phrase().as_str().into();
    write_json(&path, &value);
    let err = kr.get("k", None).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    assert!(kr.export("k", None).is_err());

    // A plaintext key file dropped into the file keyring is not silently accepted.
    fs::copy(&path, home.path().join("keyring-file/plain.json")).unwrap();
    let mut value = read_json(&path);
    value["name"] = "plain".into();
    write_json(&home.path().join("keyring-file/plain.json"), &value);
    let file_kr = keyring(home.path(), Backend::File);
    assert!(matches!(
        file_kr.show("plain"),
        Err(KeyringError::Corrupt { .. })
    ));
}

#[test]
fn list_skips_other_files() {
    let home = tempfile::tempdir().unwrap();
    let kr = keyring(home.path(), Backend::Test);
    kr.add("b", None, None, false).unwrap();
    kr.add("a", None, None, false).unwrap();
    fs::write(kr.dir().join(".b.json.1.2.tmp"), b"partial").unwrap();
    fs::write(kr.dir().join("notes.txt"), b"hello").unwrap();
    fs::write(kr.dir().join("bad name.json"), b"{}").unwrap();
    let names: Vec<_> = kr.list().unwrap().into_iter().map(|k| k.name).collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn open_errors_and_backend_names() {
    let home = tempfile::tempdir().unwrap();
    fs::write(home.path().join("keyring-test"), b"").unwrap();
    assert!(matches!(
        Keyring::open(home.path(), Backend::Test),
        Err(KeyringError::NotADirectory(_))
    ));
    assert_eq!("test".parse::<Backend>(), Ok(Backend::Test));
    assert_eq!("file".parse::<Backend>(), Ok(Backend::File));
    assert!("os".parse::<Backend>().unwrap_err().contains("\"os\""));
    assert_eq!(Backend::File.to_string(), "file");
}

#[test]
fn json_and_debug() {
    let home = tempfile::tempdir().unwrap();
    let kr = keyring(home.path(), Backend::Test);
    let new = kr.add("k", None, None, false).unwrap();
    let json = serde_json::to_value(&new.info).unwrap();
    assert_eq!(json["name"], "k");
    assert_eq!(json["source"], "mnemonic");
    assert_eq!(json["public_key"].as_str().unwrap().len(), 44);
    let dbg = format!("{new:?} {:?}", kr.export("k", None).unwrap());
    assert!(!dbg.contains(new.mnemonic.phrase().as_str()));
    assert!(dbg.contains("REDACTED"));
    kr.import_secret_key("s", &[9; 32], None, false).unwrap();
    let dbg = format!("{:?}", kr.export("s", None).unwrap());
    assert_eq!(dbg, "SecretKey([REDACTED])");
}
