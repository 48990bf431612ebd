use super::*;
use k256::ecdsa::Signature;

fn key(byte: u8) -> SigningKey {
    SigningKey::from_slice(&[byte; 32]).unwrap()
}

fn body(msg: Msg) -> TxBody {
    TxBody {
        chain_id: "veil-dev".into(),
        sequence: 7,
        gas_limit: 200_000,
        fee: 200,
        memo: String::new(),
        msg,
    }
}

fn send() -> Msg {
    Msg::Send {
        to: account_address(&key(2).verifying_key().to_sec1_bytes()),
        amount: 1_000,
    }
}

#[test]
fn signed_tx_round_trips_and_verifies() {
    let signer = key(1);
    let tx = body(send()).sign(&signer);
    let bytes = tx.to_bytes();
    let decoded = Tx::from_bytes(&bytes).unwrap();
    assert_eq!(decoded, tx);
    assert_eq!(
        decoded.verify().unwrap(),
        account_address(&signer.verifying_key().to_sec1_bytes())
    );
    // JSON round trip (RPC form).
    let json = serde_json::to_string(&tx).unwrap();
    assert!(json.contains("\"amount\":\"1000\""), "{json}");
    assert_eq!(serde_json::from_str::<Tx>(&json).unwrap(), tx);
}

#[test]
fn simulation_signatures_have_their_own_domain() {
    let signer = key(1);
    let address = account_address(&signer.verifying_key().to_sec1_bytes());
    let body = body(send());
    let sign_bytes = body.sign_bytes_for(SignDomain::Simulate);
    assert!(sign_bytes.starts_with(b"veil/simulate-v1"));
    assert_eq!(&sign_bytes[16..], &body.sign_bytes()[10..]);

    let simulation = body.clone().sign_for_simulation(&signer);
    assert_eq!(simulation.verify_simulation().unwrap(), address);
    assert_eq!(simulation.verify(), Err(TxError::SignedForSimulation));
    let real = body.sign(&signer);
    assert_eq!(real.verify().unwrap(), address);
    assert_eq!(real.verify_simulation(), Err(TxError::SignedToRun));
    // Neither domain: a bad signature, as before.
    let mut forged = real.clone();
    forged.body.sequence += 1;
    assert_eq!(forged.verify(), Err(TxError::BadSignature));
    assert_eq!(forged.verify_simulation(), Err(TxError::BadSignature));
}

#[test]
fn any_change_breaks_the_signature() {
    let tx = body(send()).sign(&key(1));
    let mut other = tx.clone();
    other.body.sequence += 1;
    assert_eq!(other.verify(), Err(TxError::BadSignature));
    let mut other = tx.clone();
    other.body.chain_id = "veil-other".into();
    assert_eq!(other.verify(), Err(TxError::BadSignature));
    let mut other = tx.clone();
    other.public_key = key(3).verifying_key().to_sec1_bytes().to_vec();
    assert_eq!(other.verify(), Err(TxError::BadSignature));
    let mut other = tx.clone();
    other.public_key.truncate(10);
    assert_eq!(other.verify(), Err(TxError::BadPublicKey));
    let mut other = tx.clone();
    other.signature[5] ^= 1;
    assert!(other.verify().is_err());
}

#[test]
fn high_s_signatures_are_refused() {
    let tx = body(send()).sign(&key(1));
    let signature = Signature::from_slice(&tx.signature).unwrap();
    // Negating s gives the other valid signature for the same message.
    let (r, s) = signature.split_scalars();
    let high = Signature::from_scalars(r, -*s).unwrap();
    let mut malleated = tx.clone();
    malleated.signature = high.to_bytes().to_vec();
    assert_eq!(malleated.verify(), Err(TxError::HighS));
}

#[test]
fn malformed_and_oversized_bytes_are_errors() {
    let bytes = body(send()).sign(&key(1)).to_bytes();
    assert!(matches!(
        Tx::from_bytes(&bytes[..bytes.len() - 3]),
        Err(TxError::Malformed(_))
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        Tx::from_bytes(&trailing),
        Err(TxError::Malformed(_))
    ));
    assert!(matches!(
        Tx::from_bytes(&vec![0u8; MAX_TX_BYTES + 1]),
        Err(TxError::TooLarge(_))
    ));
    assert!(Tx::from_bytes(&[0xff; 40]).is_err());
}

/// Cosmos address derivation, checked against an independent computation
/// (`docs/protocol.md`: RIPEMD-160 of SHA-256 of the compressed key, bech32 "veil").
#[test]
fn account_address_vector() {
    let public = key(1).verifying_key().to_sec1_bytes();
    assert_eq!(
        hex::encode(&public),
        "031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f"
    );
    assert_eq!(account_address(&public), ADDRESS_VECTOR);
    validate_address(ADDRESS_VECTOR).unwrap();
    let contract = contract_address(&[7; 32], ADDRESS_VECTOR, "my label");
    validate_address(&contract).unwrap();
    assert!(validate_address("cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnrql8a").is_err());
    assert!(validate_address(&ADDRESS_VECTOR.to_uppercase()).is_err());
    assert!(validate_address("veil1").is_err());
}

// Computed independently with Python (hashlib, pycryptodome RIPEMD160, bech32).
const ADDRESS_VECTOR: &str = "veil10xcqpzrky6eff2g52qdye53xkk9jxkvruvef7p";

#[test]
fn fees_round_up() {
    assert_eq!(required_fee(200_000, 1_000), 200);
    assert_eq!(required_fee(1, 1_000), 1);
    assert_eq!(required_fee(0, 1_000), 0);
    assert_eq!(
        required_fee(u64::MAX, u64::MAX),
        (u64::MAX as u128).pow(2).div_ceil(1_000_000)
    );
}

#[test]
fn block_hash_commits_every_field() {
    let header = BlockHeader {
        chain_id: "veil-dev".into(),
        height: 3,
        time_nanos: 1,
        prev_block_hash: [1; 32],
        txs_hash: txs_hash(&[[2; 32]]),
        app_hash: [3; 32],
    };
    let mut other = header.clone();
    other.app_hash[0] ^= 1;
    assert_ne!(header.hash(), other.hash());
    let json = serde_json::to_value(Block {
        header: header.clone(),
        tx_hashes: vec![[2; 32]],
    })
    .unwrap();
    assert_eq!(json["tx_hashes"][0], hex::encode([2u8; 32]));
    assert_eq!(json["header"]["app_hash"], hex::encode([3u8; 32]));
}

/// The signed-query permit vector of `docs/protocol.md` ("Signed queries"): sign bytes,
/// digest and the (RFC 6979, deterministic) signature of key 32 × `0x01`.
#[test]
fn permit_vector_and_checks() {
    use crate::permit::{PermitBody, PermitError, MAX_PERMIT_LIFETIME_NANOS};
    let body = PermitBody {
        chain_id: "veil-dev".into(),
        contracts: vec![ADDRESS_VECTOR.into()],
        expires_at_nanos: 1_800_000_000_000_000_000,
    };
    let doc = include_str!("../../../../docs/protocol.md");
    let field = |name: &str| {
        doc.lines()
            .find_map(|l| l.strip_prefix(&format!("permit_{name}: ")))
            .unwrap_or_else(|| panic!("docs/protocol.md lacks permit_{name}"))
            .trim()
            .to_string()
    };
    assert_eq!(hex::encode(body.sign_bytes()), field("sign_bytes"));
    assert_eq!(
        hex::encode(Sha256::digest(body.sign_bytes())),
        field("digest")
    );
    let permit = body.clone().sign(&key(1));
    assert_eq!(hex::encode(&permit.signature), field("signature"));
    assert_eq!(hex::encode(permit.to_bytes()), field("bytes"));
    // A permit's domain never overlaps a transaction's.
    assert!(!body.sign_bytes().starts_with(TX_SIGN_DOMAIN));

    let now = body.expires_at_nanos - 1;
    let contract = ADDRESS_VECTOR;
    assert_eq!(
        permit.verify("veil-dev", contract, now).unwrap(),
        ADDRESS_VECTOR
    );
    assert!(matches!(
        permit.verify("veil-dev", contract, body.expires_at_nanos),
        Err(PermitError::Expired { .. })
    ));
    assert!(matches!(
        permit.verify(
            "veil-dev",
            contract,
            body.expires_at_nanos - MAX_PERMIT_LIFETIME_NANOS - 1
        ),
        Err(PermitError::TooLong)
    ));
    assert!(matches!(
        permit.verify("other", contract, now),
        Err(PermitError::WrongChain(_))
    ));
    assert!(matches!(
        permit.verify("veil-dev", "veil1other", now),
        Err(PermitError::WrongContract(_))
    ));
    let decoded = QueryPermit::from_bytes(&permit.to_bytes()).unwrap();
    assert_eq!(decoded, permit);
    assert!(QueryPermit::from_bytes(&[0xff; 10]).is_err());
    let mut tampered = permit.clone();
    tampered.body.contracts.push("veil1more".into());
    assert!(matches!(
        tampered.verify("veil-dev", contract, now),
        Err(PermitError::Signature(_))
    ));
    let mut empty = permit.clone();
    empty.body.contracts.clear();
    assert!(matches!(
        empty.verify("veil-dev", contract, now),
        Err(PermitError::Malformed(_))
    ));
}
