//! The wallet-key vectors of `docs/protocol.md` ("Wallet keys") against the code: the
//! document's block must equal what `veil_client::keys` computes, so they cannot drift. (The
//! values themselves were computed independently, see the document.)

use veil_client::keys::{dev_key, dev_mnemonic, KeyPair, Mnemonic};

const PROTOCOL_MD: &str = include_str!("../../../../docs/protocol.md");
const FENCE: &str = "```veil-wallet-vectors";
const ABANDON_24: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
    abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
    abandon abandon abandon abandon art";

fn computed() -> Vec<(&'static str, String)> {
    let abandon = KeyPair::from_mnemonic(&Mnemonic::parse(ABANDON_24).unwrap()).unwrap();
    let alice = dev_key("alice");
    vec![
        ("abandon_secret_key", hex::encode(*abandon.secret_bytes())),
        ("abandon_public_key", hex::encode(abandon.public_key())),
        ("abandon_address", abandon.address().to_string()),
        (
            "abandon_x25519_secret",
            hex::encode(abandon.encryption_secret().to_bytes()),
        ),
        (
            "abandon_x25519_public",
            hex::encode(abandon.encryption_public_key()),
        ),
        ("alice_mnemonic", dev_mnemonic("alice").phrase().to_string()),
        ("alice_address", alice.address().to_string()),
        (
            "alice_x25519_public",
            hex::encode(alice.encryption_public_key()),
        ),
        ("bob_address", dev_key("bob").address().to_string()),
        ("carol_address", dev_key("carol").address().to_string()),
    ]
}

/// The `name: value` lines of the wallet block, in order (blank and `#` lines skipped).
fn documented() -> Vec<(String, String)> {
    let mut lines = PROTOCOL_MD.lines();
    assert!(
        lines.any(|l| l.trim_end() == FENCE),
        "docs/protocol.md has no {FENCE} block"
    );
    let mut out = Vec::new();
    for line in lines.by_ref() {
        let line = line.trim();
        if line == "```" {
            return out;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("vector line without `name: value`: {line}"));
        out.push((name.trim().to_string(), value.trim().to_string()));
    }
    panic!("unterminated {FENCE} block in docs/protocol.md");
}

#[test]
fn docs_wallet_vectors_match_the_code() {
    let computed: Vec<(String, String)> = computed()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    let block: String = computed
        .iter()
        .map(|(n, v)| format!("{n}: {v}\n"))
        .collect();
    assert_eq!(
        documented(),
        computed,
        "docs/protocol.md wallet vectors differ from the code; the code computes:\n{block}"
    );
}

/// The `name: value` lines of the envelope block (`veil-test-vectors`), quotes removed.
fn envelope_vectors() -> std::collections::HashMap<String, String> {
    let mut lines = PROTOCOL_MD.lines();
    assert!(lines.any(|l| l.trim_end() == "```veil-test-vectors"));
    lines
        .take_while(|l| l.trim() != "```")
        .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
        .map(|l| {
            let (name, value) = l.split_once(':').expect("name: value");
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            (name.trim().to_string(), value.to_string())
        })
        .collect()
}

#[test]
fn a_sender_opens_its_own_envelope_of_the_protocol_vectors() {
    use veil_client::tx::open_own_envelope;
    use veil_crypto::x25519_dalek::StaticSecret;
    let v = envelope_vectors();
    let bytes = |name: &str| hex::decode(&v[name]).unwrap();
    let secret = StaticSecret::from(<[u8; 32]>::try_from(bytes("user_secret")).unwrap());
    let network: [u8; 32] = bytes("io_public").try_into().unwrap();
    let envelope = bytes("envelope");
    let (code_hash, message) = open_own_envelope(&secret, &network, &envelope).unwrap();
    assert_eq!(hex::encode(code_hash), v["code_hash"]);
    assert_eq!(String::from_utf8(message).unwrap(), v["message"]);
    // Another key, or one modified byte, opens nothing.
    let other = StaticSecret::from([7u8; 32]);
    assert!(open_own_envelope(&other, &network, &envelope).is_err());
    let mut tampered = envelope.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(open_own_envelope(&secret, &network, &tampered).is_err());
}
