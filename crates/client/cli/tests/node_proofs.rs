//! Public records as a light client reads them from a real dev chain: proven under a state
//! root that block h + 1's certified header carries; a tampered answer is refused.

mod common;

use std::time::Duration;

use veil_client::dev_key;
use veil_client::proofs::StateKey;
use veil_client::rpc::ClientError;
use veil_client::tx::{TxOptions, Wallet};
use veil_types::Msg;

use common::DevNode;

#[test]
fn public_records_are_proven_against_the_genesis_validators() {
    let home = tempfile::tempdir().unwrap();
    let node = DevNode::start(home.path(), "100ms");
    let client = node.client();
    // The genesis as a light client would pin it (here from the node, for the test).
    let (genesis, _) = client.genesis().unwrap();
    let alice = dev_key("alice");
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let options = TxOptions {
        timeout: Duration::from_secs(30),
        ..TxOptions::default()
    };
    wallet
        .broadcast(
            Msg::Send {
                to: dev_key("bob").address().into(),
                amount: 777,
            },
            &options,
            |_| {},
        )
        .unwrap();
    let timeout = Duration::from_secs(10);
    let (height, account) = client
        .proven_account(alice.address(), &genesis, timeout)
        .unwrap();
    assert_eq!(account, client.account(alice.address()).unwrap());
    assert!(height >= 1);
    // Absent records are proven absent.
    let (_, nobody) = client
        .proven_contract(alice.address(), &genesis, timeout)
        .unwrap();
    assert_eq!(nobody, None);
    assert_eq!(client.proven_code(999, &genesis, timeout).unwrap().1, None);

    // A node that lies: a changed value, sibling or root fails the check.
    let key = StateKey::Account(alice.address().into());
    let answer = client.state_proof(&key).unwrap();
    answer.verify(&key).unwrap();
    let mut lied = answer.clone();
    lied.value = Some("AAAA".into());
    assert!(matches!(lied.verify(&key), Err(ClientError::Proof(_))));
    let mut lied = answer.clone();
    if let Some(first) = lied.proof.siblings.first_mut() {
        *first = "00".repeat(32);
        assert!(matches!(lied.verify(&key), Err(ClientError::Proof(_))));
    }
    let mut lied = answer.clone();
    lied.app_hash[0] ^= 1;
    assert!(matches!(lied.verify(&key), Err(ClientError::Proof(_))));
    // Another record's proof for this key.
    assert!(matches!(
        answer.verify(&StateKey::Account(dev_key("bob").address().into())),
        Err(ClientError::Proof(_))
    ));
    // A genesis with other validators does not certify the root.
    let mut other = genesis.clone();
    other.chain_id = "another-chain".into();
    assert!(matches!(
        client.prove(&key, &other, timeout),
        Err(ClientError::Proof(_))
    ));
    // Bad requests are clear errors.
    let bad = ureq::get(&format!("{}/proofs/planets/mars", node.url())).call();
    assert!(matches!(bad, Err(ureq::Error::Status(404, _))));
    let bad = ureq::get(&format!("{}/proofs/codes/x", node.url())).call();
    assert!(matches!(bad, Err(ureq::Error::Status(400, _))));
}
