use super::*;
use crate::store::BlockCommit;
use veil_types::state_proof::verify_record;
use veil_types::{Block, BlockHeader};

fn open() -> (tempfile::TempDir, Store, ChainState) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("chain.redb")).unwrap();
    let state = ChainState::open(&store).unwrap();
    (dir, store, state)
}

fn block(height: u64, app_hash: Hash) -> Block {
    Block {
        header: BlockHeader {
            chain_id: "test".into(),
            height,
            time_nanos: height + 1,
            prev_block_hash: [0; 32],
            txs_hash: [0; 32],
            app_hash,
        },
        tx_hashes: Vec::new(),
    }
}

/// Commits the state's pending changes as block `height` (0: genesis).
fn commit(store: &Store, state: &mut ChainState, height: u64) -> Hash {
    let changes = state.prepare_commit().unwrap();
    let root = changes.root;
    let commit = BlockCommit::state_only(block(height, root), changes);
    if height == 0 {
        let genesis: crate::Genesis = serde_json::from_value(serde_json::json!({
            "chain_id": "test", "genesis_time_nanos": 0, "accounts": []
        }))
        .unwrap();
        store.init_chain(&genesis, commit).unwrap();
    } else {
        store.commit_block(commit).unwrap();
    }
    state.committed();
    root
}

fn account(address: &str, balance: u128, sequence: u64) -> Account {
    Account {
        address: address.into(),
        balance,
        sequence,
        public_key: None,
    }
}

fn no_policy() -> AttestationPolicyRecord {
    AttestationPolicyRecord {
        policy: None,
        height: 0,
        set_by: None,
    }
}

/// The test vector of `docs/protocol.md`, "State root" (also recomputed there from the
/// byte layout alone).
#[test]
fn state_root_test_vector() {
    let (_dir, store, mut state) = open();
    assert_eq!(state.app_hash().unwrap(), tree::EMPTY);
    state.set_account(account("veil1alice", 1000, 0));
    state.set_account(account("veil1bob", 5, 2));
    state.set_attestation_policy(no_policy());
    let root = commit(&store, &mut state, 0);
    assert_eq!(
        hex::encode(root),
        "863a07669e561e310e1d190bbbf68a2ef42c557cf497116e13caf9385371d0b5"
    );
    assert_eq!(state.app_hash().unwrap(), root);
    assert_eq!(state.supply(), 1005);
}

#[test]
fn root_covers_every_record_and_transfers_are_all_or_nothing() {
    let (_dir, store, mut state) = open();
    state.set_account(account("a", 10, 0));
    let genesis = commit(&store, &mut state, 0);
    assert!(state.transfer("a", "b", 11).is_err());
    assert_eq!(state.app_hash().unwrap(), genesis);
    state.transfer("a", "b", 4).unwrap();
    assert_eq!((state.balance("a"), state.balance("b")), (6, 4));
    let moved = state.app_hash().unwrap();
    assert_ne!(moved, genesis);
    // A transfer undone leaves the root as it was, even for an account it created.
    state.transfer("a", "c", 1).unwrap();
    state.transfer("c", "a", 1).unwrap();
    assert_eq!(state.app_hash().unwrap(), moved);
    let mut sequenced = state.account("b");
    sequenced.sequence = 1;
    state.set_account(sequenced);
    let after_sequence = state.app_hash().unwrap();
    assert_ne!(after_sequence, moved);
    assert_eq!(commit(&store, &mut state, 1), after_sequence);
    assert_eq!(state.supply(), 10);
    assert_eq!(store.supply().unwrap(), 10);

    // A contract's query policy is part of the state root.
    let contract = ContractInfo {
        address: "c".into(),
        code_id: 1,
        code_hash: [1; 32],
        init_code_hash: [1; 32],
        creator: "a".into(),
        admin: Some("a".into()),
        label: "l".into(),
        state_root: None,
        query_policy: veil_types::QueryPolicy::preset("cw20").unwrap(),
    };
    state.put_contract(contract.clone());
    let closed = commit(&store, &mut state, 2);
    state.put_contract(ContractInfo {
        query_policy: veil_types::QueryPolicy::public(),
        ..contract
    });
    assert_ne!(state.app_hash().unwrap(), closed);
    state.discard_pending();
    assert_eq!(state.app_hash().unwrap(), closed);

    // So are a registration, its revocation and the attestation policy in force.
    let registration = Registration {
        registration_key: [1; 32],
        operator: "a".into(),
        height: 1,
        enclave: "e".into(),
        seed_share: vec![1],
        revocation: None,
    };
    state.put_registration(registration.clone());
    let registered = commit(&store, &mut state, 3);
    assert_ne!(registered, closed);
    state.put_registration(Registration {
        revocation: Some(veil_types::Revocation {
            height: 2,
            reason: "r".into(),
        }),
        ..registration
    });
    let revoked = commit(&store, &mut state, 4);
    assert_ne!(revoked, registered);
    state.set_attestation_policy(AttestationPolicyRecord {
        height: 3,
        ..no_policy()
    });
    let governed = commit(&store, &mut state, 5);
    assert_ne!(governed, revoked);
    // Burns leave circulation; the counter survives a reopen.
    state.burn("a", 2).unwrap();
    assert!(state.burn("a", 100).is_err());
    commit(&store, &mut state, 6);
    let reopened = ChainState::open(&store).unwrap();
    assert_eq!(reopened.supply(), 8);
    assert_eq!(
        reopened.app_hash().unwrap(),
        store.state_root().unwrap().unwrap()
    );
    assert_eq!(
        reopened
            .registration(&[1; 32])
            .unwrap()
            .revocation
            .unwrap()
            .height,
        2
    );
    assert_eq!(reopened.attestation_policy().height, 3);
}

#[test]
fn codes_count_from_the_store() {
    let (_dir, store, mut state) = open();
    assert_eq!(state.next_code_id(), 1);
    let code = CodeInfo {
        code_id: 1,
        code_hash: [4; 32],
        creator: "a".into(),
        size: 3,
        default_query_policy: veil_types::QueryPolicy::public(),
    };
    state.put_code(code.clone());
    assert!(state.has_code_hash(&[4; 32]));
    assert_eq!(state.next_code_id(), 2);
    commit(&store, &mut state, 0);
    let reopened = ChainState::open(&store).unwrap();
    assert_eq!(reopened.next_code_id(), 2);
    assert_eq!(reopened.code(1), Some(code));
    assert_eq!(reopened.code(2), None);
}

#[test]
fn proofs_of_committed_records_verify_and_a_changed_value_fails() {
    let (_dir, store, mut state) = open();
    for i in 0..500u32 {
        state.set_account(account(&format!("veil1user{i}"), u128::from(i) + 1, 0));
    }
    let root = commit(&store, &mut state, 0);
    let key = leaf_key::account("veil1user42");
    let answer = store.state_proof(&key).unwrap();
    assert_eq!((answer.height, answer.state_root), (0, root));
    let (value, proof) = (answer.value.unwrap(), answer.proof);
    assert_eq!(value, encode(&account("veil1user42", 43, 0)));
    assert!(verify_record(&root, &key, Some(&value), &proof));
    let changed = encode(&account("veil1user42", 44, 0));
    assert!(!verify_record(&root, &key, Some(&changed), &proof));
    assert!(!verify_record(&root, &key, None, &proof));
    assert!(!verify_record(
        &root,
        &leaf_key::account("veil1user43"),
        Some(&value),
        &proof
    ));
    // Absence: proven, and the proof of absence proves no value.
    let missing = leaf_key::account("veil1nobody");
    let answer = store.state_proof(&missing).unwrap();
    let (value, proof) = (answer.value, answer.proof);
    assert_eq!(value, None);
    assert!(verify_record(&root, &missing, None, &proof));
    assert!(!verify_record(&root, &missing, Some(&changed), &proof));
    // After a block the old proof no longer holds, the new one does.
    state.transfer("veil1user42", "veil1user7", 1).unwrap();
    let next = commit(&store, &mut state, 1);
    let answer = store.state_proof(&key).unwrap();
    assert_eq!((answer.height, answer.state_root), (1, next));
    let (value, new_proof) = (answer.value, answer.proof);
    assert!(!verify_record(
        &next,
        &key,
        Some(&encode(&account("veil1user42", 43, 0))),
        &proof
    ));
    assert!(verify_record(&next, &key, value.as_deref(), &new_proof));
    assert!(store.state_proof(&[9, 1]).is_err());
}
