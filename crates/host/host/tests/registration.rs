//! Attested registration and seed sharing at the enclave interface: a joining enclave gets
//! the master seed only through a registration whose attestation the network's policy
//! accepts, bound to its key, the genesis and the operator; it accepts only a seed that
//! derives the genesis network key; and an enclave never runs under another genesis.
//! Every test runs with the enclave in process and as the `veil-enclave` executable.

mod common;

use serde_json::json;
use veil_attestation::{
    report_data, Attestation, MrEnclaveRule, Policy, SimulatedQuote, TcbStatus,
};
use veil_enclave_abi::ErrorKind;
use veil_host::{simulated_attestation_policy, simulated_measurements, ConfidentialHost};
use veil_types::genesis::Genesis;
use veil_types::Msg;

use common::*;

/// Block time of the registrations (ns).
const NOW: u64 = 1_800_000_000_000_000_000;

fn base_genesis(policy: Option<Policy>) -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_nanos: NOW - 1_000_000_000,
        accounts: Vec::new(),
        params: Default::default(),
        attestation_policy: policy,
        validators: Vec::new(),
        authority: None,
        network: None,
        dev: false,
    }
}

fn open(mode: &veil_host::EnclaveMode, genesis: &Genesis) -> (ConfidentialHost, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let host = ConfidentialHost::open_with_genesis(config(&dir.path().join("home"), mode), genesis)
        .unwrap_or_else(|e| panic!("opening a host: {e}"));
    (host, dir)
}

fn register_tx(
    host: &ConfidentialHost,
    operator: &str,
    key: [u8; 32],
    attestation: Vec<u8>,
) -> Vec<u8> {
    host.sign(
        &signer(operator),
        CHAIN_ID,
        Msg::RegisterNode {
            registration_key: key,
            attestation,
        },
    )
}

#[track_caller]
fn refused<T: std::fmt::Debug>(
    result: Result<T, veil_host::HostError>,
    kind: ErrorKind,
    words: &str,
) {
    let e = expect_enclave_error(result, kind);
    assert!(
        e.message.contains(words),
        "expected `{words}` in: {}",
        e.message
    );
}

#[test]
fn a_joining_enclave_gets_the_seed_only_through_an_attested_registration() {
    for mode in modes() {
        let name = mode_name(&mode);
        let (bootstrap, _a) = open(&mode, &base_genesis(Some(simulated_attestation_policy())));
        let genesis = bootstrap.genesis().unwrap();
        let network = genesis
            .network
            .clone()
            .expect("the bootstrap wrote the network section");
        assert_eq!(network.network_key, bootstrap.network_key().0, "{name}");

        // A new node starts from the full genesis: bound to it, but without the seed.
        let (mut joiner, joiner_dir) = open(&mode, &genesis);
        let code_hash = joiner.store_code(kitchen_sink_wasm()).unwrap();
        let (envelope, _) = User::fixed("u").encrypt(&joiner, &code_hash, &json!({}));
        let no_seed = joiner.instantiate(
            code_hash,
            &signer(&account("u")),
            "early",
            envelope,
            Vec::new(),
            block(),
            GAS_LIMIT,
        );
        refused(no_seed, ErrorKind::Genesis, "no master seed");
        let operator = account("operator");
        let attested = joiner.attest(&operator).unwrap();

        // Someone else cannot replay this enclave's attestation as their registration
        // (the report data binds the operator), nor alter it.
        let mallory = account("mallory");
        let replayed = register_tx(
            &bootstrap,
            &mallory,
            attested.registration_key,
            attested.attestation.clone(),
        );
        refused(
            bootstrap.register_node(replayed, NOW),
            ErrorKind::Attestation,
            "report data",
        );
        let mut tampered = Attestation::from_bytes(&attested.attestation).unwrap();
        if let Attestation::Simulated(q) = &mut tampered {
            q.isv_svn += 1;
        }
        let tx = register_tx(
            &bootstrap,
            &operator,
            attested.registration_key,
            tampered.to_bytes(),
        );
        refused(
            bootstrap.register_node(tx, NOW),
            ErrorKind::Attestation,
            "signature",
        );
        // Another key under the same attestation does not match its report data.
        let tx = register_tx(&bootstrap, &operator, [9; 32], attested.attestation.clone());
        refused(
            bootstrap.register_node(tx, NOW),
            ErrorKind::Attestation,
            "report data",
        );

        // The real registration: the seed comes back encrypted to the joiner's key.
        let tx = register_tx(
            &bootstrap,
            &operator,
            attested.registration_key,
            attested.attestation.clone(),
        );
        let (share, summary) = bootstrap.register_node(tx.clone(), NOW).unwrap();
        assert!(summary.contains("Simulated"), "{name}: {summary}");
        assert_eq!(share.len(), veil_crypto::SEED_SHARE_LEN);
        // ... once: the same transaction again is a replay.
        refused(
            bootstrap.register_node(tx, NOW),
            ErrorKind::Replay,
            "already used",
        );

        // A seed that does not derive the genesis network key is refused, even when it
        // opens with the joiner's key.
        let foreign = veil_crypto::share_seed(
            &veil_crypto::MasterSeed::from_bytes([7; 32]),
            0,
            &genesis.hash(),
            &attested.registration_key,
        )
        .unwrap();
        refused(
            joiner.install_seed(foreign),
            ErrorKind::Attestation,
            "does not open",
        );
        refused(
            joiner.install_seed(vec![0; 52]),
            ErrorKind::Attestation,
            "does not open",
        );
        joiner.install_seed(share.clone()).unwrap();
        assert_eq!(joiner.network_key(), bootstrap.network_key(), "{name}");

        // The joiner now runs contracts, and keeps the seed across restarts.
        let (sink, _) = Contract::instantiate(
            &joiner,
            code_hash,
            &User::fixed("u"),
            &account("u"),
            "sink",
            &json!({}),
        );
        assert_eq!(
            sink.query(&joiner, &User::fixed("u"), &json!({"get": {"key": "k"}})),
            json!({"value": null})
        );
        let mut joiner = joiner;
        joiner.restart_enclave().unwrap();
        assert_eq!(
            sink.query(&joiner, &User::fixed("u"), &json!({"get": {"key": "k"}})),
            json!({"value": null})
        );
        refused(
            joiner.install_seed(share),
            ErrorKind::BadRequest,
            "already holds",
        );

        // An enclave never runs under another genesis: swap the genesis file and restart.
        drop(joiner);
        let mut other = genesis.clone();
        other.params.max_block_txs += 1;
        std::fs::write(joiner_dir.path().join("home/genesis.bin"), other.to_bytes()).unwrap();
        let reopened = ConfidentialHost::open(config(&joiner_dir.path().join("home"), &mode));
        refused(reopened.map(|_| ()), ErrorKind::Genesis, "bound to genesis");
    }
}

#[test]
fn policies_refuse_simulated_quotes_and_unknown_measurements() {
    for mode in modes() {
        let name = mode_name(&mode);
        let (mrenclave, mrsigner) = simulated_measurements();
        // A DCAP-only policy: simulated attestations are refused — also the bootstrap's,
        // so a node cannot even start from such a genesis with a simulated seed.
        let dcap_only = Policy {
            mrenclaves: vec![MrEnclaveRule {
                mrenclave,
                isv_prod_id: 0,
                min_isv_svn: 0,
            }],
            mrsigners: Vec::new(),
            tcb_statuses: vec![TcbStatus::UpToDate],
            allow_simulated: false,
        };
        let (bootstrap, _a) = open(&mode, &base_genesis(Some(dcap_only)));
        let genesis = bootstrap.genesis().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let joiner =
            ConfidentialHost::open_with_genesis(config(&dir.path().join("home"), &mode), &genesis);
        refused(
            joiner.map(|_| ()),
            ErrorKind::Genesis,
            "simulated attestation not allowed",
        );
        let operator = account("operator");
        let key = [5; 32];
        let quote = SimulatedQuote::sign(
            mrenclave,
            mrsigner,
            0,
            1,
            report_data(&key, &genesis.hash(), &operator, None),
        );
        let tx = register_tx(
            &bootstrap,
            &operator,
            key,
            Attestation::Simulated(quote).to_bytes(),
        );
        refused(
            bootstrap.register_node(tx, NOW),
            ErrorKind::Attestation,
            "simulated attestation not allowed",
        );

        // A policy that names another build: the simulated measurement is not accepted.
        let other_build = Policy {
            mrenclaves: vec![MrEnclaveRule {
                mrenclave: [0x42; 32],
                isv_prod_id: 0,
                min_isv_svn: 0,
            }],
            mrsigners: Vec::new(),
            tcb_statuses: Vec::new(),
            allow_simulated: true,
        };
        let (bootstrap, _b) = open(&mode, &base_genesis(Some(other_build)));
        let genesis = bootstrap.genesis().unwrap();
        let quote = SimulatedQuote::sign(
            mrenclave,
            mrsigner,
            0,
            1,
            report_data(&key, &genesis.hash(), &operator, None),
        );
        let tx = register_tx(
            &bootstrap,
            &operator,
            key,
            Attestation::Simulated(quote).to_bytes(),
        );
        refused(
            bootstrap.register_node(tx, NOW),
            ErrorKind::Attestation,
            "not accepted",
        );

        // No policy at all: nobody may register.
        let (bootstrap, _c) = open(&mode, &base_genesis(None));
        let tx = register_tx(&bootstrap, &operator, key, vec![1, 2, 3]);
        refused(
            bootstrap.register_node(tx, NOW),
            ErrorKind::Attestation,
            "no attestation policy",
        );
        let _ = name;
    }
}
