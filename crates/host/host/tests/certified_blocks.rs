//! The enclave executes signed transactions only inside a block whose commit certificate
//! it verified itself against the validators of its genesis: every forgery a host could
//! try is refused, and nothing of the block runs.

mod common;

use common::*;
use veil_enclave_abi::ErrorKind;
use veil_enclave_abi::LeftOut;
use veil_host::{ConfidentialHost, EnclaveClient};
use veil_types::consensus::{
    sign_precommit, vote_sign_bytes, CommitCertificate, CommitSignature, ValidatorAddress,
    ValidatorKey, VoteType,
};
use veil_types::genesis::{Genesis, GenesisValidator};
use veil_types::{tx_hash, txs_hash, BlockHeader, Hash, Msg, TxBody};

const GENESIS_TIME: u64 = TIME_NANOS;

fn validator(i: u8) -> ValidatorKey {
    ValidatorKey::from([i + 1; 32])
}

fn address(key: &ValidatorKey) -> ValidatorAddress {
    ValidatorAddress::from_public_key(&key.verification_key().to_bytes())
}

/// A host whose genesis names four validators of equal power (a quorum is three).
fn four_validator_host(mode: &veil_host::EnclaveMode) -> (ConfidentialHost, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let genesis = Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_nanos: GENESIS_TIME,
        accounts: Vec::new(),
        params: Default::default(),
        attestation_policy: None,
        validators: (0..4)
            .map(|i| GenesisValidator {
                name: format!("v{i}"),
                public_key: validator(i).verification_key().to_bytes(),
                power: 1,
            })
            .collect(),
        authority: None,
        network: None,
        dev: false,
    };
    let host =
        ConfidentialHost::open_with_genesis(config(&dir.path().join("home"), mode), &genesis)
            .unwrap_or_else(|e| panic!("opening a host: {e}"));
    (host, dir)
}

fn header(height: u64, prev: Hash, txs: &[&[u8]]) -> BlockHeader {
    let hashes: Vec<Hash> = txs.iter().map(|tx| tx_hash(tx)).collect();
    BlockHeader {
        chain_id: CHAIN_ID.into(),
        height,
        time_nanos: GENESIS_TIME + height * 1_000_000_000,
        prev_block_hash: prev,
        txs_hash: txs_hash(&hashes),
        app_hash: [0; 32],
    }
}

fn certificate(header: &BlockHeader, signers: &[u8]) -> CommitCertificate {
    let hash = header.hash();
    CommitCertificate {
        height: header.height,
        round: 0,
        block_hash: hash,
        signatures: signers
            .iter()
            .map(|i| sign_precommit(&validator(*i), CHAIN_ID, header.height, 0, &hash))
            .collect(),
    }
}

fn hashes(txs: &[&[u8]]) -> Vec<Vec<u8>> {
    txs.iter().map(|tx| tx.to_vec()).collect()
}

#[track_caller]
fn refused(result: Result<(), veil_host::HostError>, needle: &str) {
    let error = enclave_error(result);
    assert_eq!(error.kind, ErrorKind::Block, "{error:?}");
    assert!(
        error.message.contains(needle),
        "{needle:?} not in {:?}",
        error.message
    );
}

fn store_code_tx(host: &ConfidentialHost, signer_name: &str) -> Vec<u8> {
    host.sign(
        &signer(&account(signer_name)),
        CHAIN_ID,
        Msg::StoreCode {
            wasm: cw20_wasm().to_vec(),
            query_policy: None,
        },
    )
}

/// Nothing of a refused block ran: a transaction of it is refused for want of an open
/// block.
#[track_caller]
fn nothing_runs(enclave: &EnclaveClient, tx: &[u8]) {
    let error = enclave_error(enclave.store_code(cw20_wasm(), Some(tx.to_vec()), CHAIN_ID));
    assert_eq!(error.kind, ErrorKind::Block, "{error:?}");
    assert!(
        error.message.contains("no certified block is open"),
        "{error:?}"
    );
}

#[test]
fn forged_certificates_are_refused_and_nothing_of_the_block_runs() {
    for mode in modes() {
        let (host, _dir) = four_validator_host(&mode);
        let enclave = host.enclave();
        let tx = store_code_tx(&host, "alice");
        let block = header(1, [0; 32], &[&tx]);
        let txs = hashes(&[&tx]);

        // 2 of 4 is not more than 2/3.
        refused(
            enclave.begin_block(&block, &txs, &certificate(&block, &[0, 1])),
            "more than 2/3",
        );
        // One signer twice does not count twice.
        refused(
            enclave.begin_block(&block, &txs, &certificate(&block, &[0, 1, 1])),
            "signed more than once",
        );
        // A key outside the genesis set.
        let mut outsider = certificate(&block, &[0, 1]);
        outsider
            .signatures
            .push(sign_precommit(&validator(9), CHAIN_ID, 1, 0, &block.hash()));
        refused(
            enclave.begin_block(&block, &txs, &outsider),
            "is not in the validator set",
        );
        // Prevotes are not precommits.
        let prevote_bytes = vote_sign_bytes(CHAIN_ID, VoteType::Prevote, 1, 0, Some(&block.hash()));
        let prevotes = CommitCertificate {
            signatures: (0..3)
                .map(|i| CommitSignature {
                    validator: address(&validator(i)),
                    signature: validator(i).sign(&prevote_bytes).to_bytes(),
                })
                .collect(),
            ..certificate(&block, &[])
        };
        refused(
            enclave.begin_block(&block, &txs, &prevotes),
            "is not a precommit",
        );
        // Votes for another round than the certificate claims.
        let mut other_round = certificate(&block, &[0, 1, 2]);
        other_round.round = 1;
        refused(
            enclave.begin_block(&block, &txs, &other_round),
            "is not a precommit",
        );
        // A certificate of another height, or of another block.
        let other_block = header(1, [0; 32], &[]);
        refused(
            enclave.begin_block(&block, &txs, &certificate(&other_block, &[0, 1, 2])),
            "certificate is for block",
        );
        let mut other_height = certificate(&block, &[0, 1, 2]);
        other_height.height = 2;
        refused(
            enclave.begin_block(&block, &txs, &other_height),
            "certificate is for height 2",
        );
        // A certified header with another transaction list.
        let other_tx = store_code_tx(&host, "bob");
        refused(
            enclave.begin_block(
                &block,
                &hashes(&[&other_tx]),
                &certificate(&block, &[0, 1, 2]),
            ),
            "transaction list does not match",
        );
        // Not the next height.
        let skipping = header(2, [0; 32], &[&tx]);
        refused(
            enclave.begin_block(&skipping, &txs, &certificate(&skipping, &[0, 1, 2])),
            "is not the next block",
        );
        nothing_runs(enclave, &tx);
        eprintln!("{}: forged certificates refused", mode_name(&mode));
    }
}

/// Found by fuzzing (`fuzz/seeds/enclave_ecall/block-time-overflow`): after a certified
/// block at the largest time, the next block's minimum time overflowed (and, without
/// overflow checks, wrapped to 0 so that any time passed).
#[test]
fn no_block_follows_one_at_the_largest_time() {
    for mode in modes() {
        let (host, _dir) = four_validator_host(&mode);
        let enclave = host.enclave();
        let last = BlockHeader {
            time_nanos: u64::MAX,
            ..header(1, [0; 32], &[])
        };
        enclave
            .begin_block(&last, &[], &certificate(&last, &[0, 1, 2]))
            .expect("a certified empty block");
        enclave.end_block().expect("the block ends");
        let next = BlockHeader {
            time_nanos: 0,
            ..header(2, last.hash(), &[])
        };
        refused(
            enclave.begin_block(&next, &[], &certificate(&next, &[0, 1, 2])),
            "has the largest time",
        );
    }
}

/// Found reading the fuzzing results: running a transaction of sequence `u64::MAX` would
/// mark `u64::MAX + 1` next, which wraps to 0 without overflow checks and reopens every
/// sequence its sender used.
#[test]
fn the_largest_sequence_is_refused() {
    for mode in modes() {
        let (host, _dir) = four_validator_host(&mode);
        let enclave = host.enclave();
        let tx = signed_tx(
            "alice",
            u64::MAX,
            20_000_000,
            Msg::StoreCode {
                wasm: cw20_wasm().to_vec(),
                query_policy: None,
            },
        );
        let block = header(1, [0; 32], &[&tx]);
        enclave
            .begin_block(&block, &hashes(&[&tx]), &certificate(&block, &[0, 1, 2]))
            .expect("a certified block");
        let error = enclave_error(
            enclave
                .store_code(cw20_wasm(), Some(tx), CHAIN_ID)
                .map(|_| ()),
        );
        assert_eq!(error.kind, ErrorKind::Replay, "{error:?}");
        assert!(
            error.message.contains("no sequence follows it"),
            "{error:?}"
        );
    }
}

#[test]
fn a_certified_block_runs_only_its_own_transactions_in_order_and_once() {
    for mode in modes() {
        let (mut host, _dir) = four_validator_host(&mode);
        let first = store_code_tx(&host, "alice");
        let second = store_code_tx(&host, "bob");
        let outside = store_code_tx(&host, "carol");
        let block = header(1, [0; 32], &[&first, &second]);
        host.enclave()
            .begin_block(
                &block,
                &hashes(&[&first, &second]),
                &certificate(&block, &[1, 2, 3]),
            )
            .expect("three of four certify the block");
        // A block cannot open while another is.
        refused(
            host.enclave().begin_block(
                &block,
                &hashes(&[&first, &second]),
                &certificate(&block, &[0, 1, 2]),
            ),
            "is still open",
        );
        // A transaction the validators did not decide.
        refused(
            host.enclave()
                .store_code(cw20_wasm(), Some(outside.clone()), CHAIN_ID)
                .map(|_| ()),
            "is not in certified block 1",
        );
        // The block's second transaction before its first: the first would be dropped.
        refused(
            host.enclave()
                .store_code(cw20_wasm(), Some(second.clone()), CHAIN_ID)
                .map(|_| ()),
            "transaction 0",
        );
        // Its first, its second, then its first again: out of order.
        host.enclave()
            .store_code(cw20_wasm(), Some(first.clone()), CHAIN_ID)
            .expect("the first transaction runs");
        host.enclave()
            .store_code(cw20_wasm(), Some(second.clone()), CHAIN_ID)
            .expect("the second transaction runs");
        refused(
            host.enclave()
                .store_code(cw20_wasm(), Some(first.clone()), CHAIN_ID)
                .map(|_| ()),
            "calls run in the block's order",
        );
        host.close_block().expect("the block closes");

        // The height is executed: the same block again (a replay) or a fork of it is refused,
        // also after the enclave restarts from its sealed state.
        refused(
            host.enclave().begin_block(
                &block,
                &hashes(&[&first, &second]),
                &certificate(&block, &[0, 1, 2]),
            ),
            "never executes a height twice",
        );
        host.restart_enclave().unwrap();
        let fork = header(1, [0; 32], &[&first]);
        refused(
            host.enclave()
                .begin_block(&fork, &hashes(&[&first]), &certificate(&fork, &[0, 1, 2])),
            "never executes a height twice",
        );
        // The next block must name the executed one as its predecessor.
        let unlinked = header(2, [7; 32], &[&first]);
        refused(
            host.enclave().begin_block(
                &unlinked,
                &hashes(&[&first]),
                &certificate(&unlinked, &[0, 1, 2]),
            ),
            "does not follow block 1",
        );
        let next = header(2, block.hash(), &[&outside]);
        host.enclave()
            .begin_block(&next, &hashes(&[&outside]), &certificate(&next, &[0, 2, 3]))
            .expect("block 2 follows block 1");
        host.enclave()
            .store_code(cw20_wasm(), Some(outside.clone()), CHAIN_ID)
            .expect("a transaction of block 2 runs in it");
        host.close_block().unwrap();
        eprintln!(
            "{}: certified blocks bind their transactions",
            mode_name(&mode)
        );
    }
}

/// A transaction signed by `name` with a gas limit of `gas_limit`.
fn signed_tx(name: &str, sequence: u64, gas_limit: u64, msg: Msg) -> Vec<u8> {
    TxBody {
        chain_id: CHAIN_ID.into(),
        sequence,
        gas_limit,
        fee: 0,
        memo: String::new(),
        msg,
    }
    .sign_for(&signer(&account(name)), veil_types::SignDomain::Tx)
    .to_bytes()
}

#[test]
fn a_call_of_a_certified_block_cannot_be_dropped_only_left_out_for_a_true_reason() {
    for mode in modes() {
        let (host, _dir) = four_validator_host(&mode);
        let upload = Msg::StoreCode {
            wasm: cw20_wasm().to_vec(),
            query_policy: None,
        };
        // Enough gas: it must run. Too little: it never reaches the enclave.
        let runs = signed_tx("alice", 1, 100_000_000, upload.clone());
        let starved = signed_tx("bob", 1, 1_000, upload.clone());
        let send = signed_tx(
            "carol",
            1,
            100_000,
            Msg::Send {
                to: account("bob"),
                amount: 1,
            },
        );
        let nowhere = veil_types::contract_address(&[9; 32], &account("carol"), "none");
        let to_nowhere = signed_tx(
            "carol",
            2,
            100_000_000,
            Msg::Execute {
                contract: nowhere,
                msg: Vec::new(),
                funds: 0,
            },
        );
        let last = signed_tx("alice", 2, 100_000_000, upload);
        let block_txs: [&[u8]; 5] = [&runs, &starved, &send, &to_nowhere, &last];
        let block = header(1, [0; 32], &block_txs);
        let enclave = host.enclave();
        enclave
            .begin_block(
                &block,
                &hashes(&block_txs),
                &certificate(&block, &[0, 1, 2]),
            )
            .expect("the block is certified");

        // The host drops the first call and runs the last: refused, and so is closing.
        refused(
            enclave
                .store_code(cw20_wasm(), Some(last.clone()), CHAIN_ID)
                .map(|_| ()),
            "transaction 0",
        );
        refused(
            enclave.end_block().map(|_| ()),
            "neither ran nor was left out",
        );
        // Reasons that are not true of it.
        for reason in [
            LeftOut::OutOfGas,
            LeftOut::UnknownContract,
            LeftOut::UnknownCode,
            LeftOut::Unauthorized,
            LeftOut::InvalidInput,
            LeftOut::Registration,
        ] {
            refused(enclave.leave_out(0, reason), "cannot be left out");
        }
        enclave
            .store_code(cw20_wasm(), Some(runs.clone()), CHAIN_ID)
            .expect("the first call runs");
        // The second has too little gas to reach the enclave: true, so it may be left out,
        // and then it never runs.
        refused(enclave.leave_out(1, LeftOut::UnknownCode), "not true");
        enclave
            .leave_out(1, LeftOut::OutOfGas)
            .expect("its gas limit is below what a transaction costs before the enclave");
        let replayed = enclave_error(
            enclave
                .store_code(cw20_wasm(), Some(starved.clone()), CHAIN_ID)
                .map(|_| ()),
        );
        assert_eq!(replayed.kind, ErrorKind::Replay, "{replayed:?}");
        // A bank send does not take the enclave: nothing to leave out, nothing missing.
        refused(
            enclave.leave_out(2, LeftOut::OutOfGas),
            "does not take the enclave",
        );
        // A call of a contract that does not exist.
        enclave
            .leave_out(3, LeftOut::UnknownContract)
            .expect("no contract is at that address");
        refused(enclave.end_block().map(|_| ()), "transaction 4");
        enclave
            .store_code(cw20_wasm(), Some(last.clone()), CHAIN_ID)
            .expect("the last call runs");
        host.close_block().expect("every call is accounted for");
        eprintln!(
            "{}: calls of a certified block cannot be dropped",
            mode_name(&mode)
        );
    }
}

#[test]
fn a_signature_checked_at_admission_vouches_only_for_those_exact_bytes() {
    use veil_host::TxCheck;
    for mode in modes() {
        let (host, _dir) = four_validator_host(&mode);
        let enclave = host.enclave();
        let checker = enclave.tx_checker();
        let check = |tx: &[u8]| checker.check(tx).expect("the enclave is idle").unwrap();

        let nowhere = veil_types::contract_address(&[9; 32], &account("carol"), "none");
        let call = || Msg::Execute {
            contract: nowhere.clone(),
            msg: Vec::new(),
            funds: 0,
        };
        let checked = signed_tx("carol", 1, 100_000_000, call());
        assert_eq!(
            check(&checked),
            TxCheck::Signed {
                signer: account("carol")
            }
        );
        let for_simulation = TxBody {
            chain_id: CHAIN_ID.into(),
            sequence: 1,
            gas_limit: 100_000_000,
            fee: 0,
            memo: String::new(),
            msg: call(),
        }
        .sign_for(&signer(&account("carol")), veil_types::SignDomain::Simulate)
        .to_bytes();
        assert_eq!(check(&for_simulation), TxCheck::SignedForSimulation);
        assert!(matches!(check(b"no transaction"), TxCheck::Refused { .. }));

        // The same transaction with its signature altered: checked at admission it is
        // refused, and presented in a block beside the genuine one that was checked, the
        // enclave verifies it — and refuses it — rather than trusting the earlier check.
        let mut forged = checked.clone();
        let at = forged.len() - 10;
        forged[at] ^= 1;
        assert!(matches!(check(&forged), TxCheck::Refused { .. }), "forged");
        let block_txs: [&[u8]; 2] = [&checked, &forged];
        let block = header(1, [0; 32], &block_txs);
        enclave
            .begin_block(
                &block,
                &hashes(&block_txs),
                &certificate(&block, &[0, 1, 2]),
            )
            .expect("the block is certified");
        // The genuine one, checked at admission, is taken as verified.
        enclave
            .leave_out(0, LeftOut::UnknownContract)
            .expect("no contract is at that address");
        refused(
            enclave.leave_out(1, LeftOut::UnknownContract),
            "its signature does not verify",
        );
        eprintln!(
            "{}: a signature checked at admission vouches only for its bytes",
            mode_name(&mode)
        );
    }
}
