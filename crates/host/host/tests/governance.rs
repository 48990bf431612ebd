//! Governance at the enclave interface: only the genesis authority's signed transactions
//! change the attestation policy registrations are verified against, or revoke a
//! registered enclave; the enclave enforces both itself and keeps them across restarts
//! (sealed). Every test runs with the enclave in process and as the `veil-enclave`
//! executable.

mod common;

use veil_attestation::{report_data, Attestation, MrEnclaveRule, Policy, SimulatedQuote};
use veil_enclave_abi::ErrorKind;
use veil_host::{simulated_attestation_policy, simulated_measurements, ConfidentialHost};
use veil_types::genesis::Genesis;
use veil_types::Msg;

use common::*;

/// Block time of the registrations (ns).
const NOW: u64 = 1_800_000_000_000_000_000;

/// A policy that accepts simulated enclaves of one build only.
fn build_policy(mrenclave: [u8; 32]) -> Policy {
    Policy {
        mrenclaves: vec![MrEnclaveRule {
            mrenclave,
            isv_prod_id: 0,
            min_isv_svn: 1,
        }],
        mrsigners: Vec::new(),
        tcb_statuses: Vec::new(),
        allow_simulated: true,
    }
}

fn genesis(policy: Policy, authority: Option<String>) -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_nanos: NOW - 1_000_000_000,
        accounts: Vec::new(),
        params: Default::default(),
        attestation_policy: Some(policy),
        validators: Vec::new(),
        authority,
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

/// A `register_node` transaction for `key`, with a simulated quote of build `mrenclave`
/// binding it to the genesis and the operator.
fn registration(
    host: &ConfidentialHost,
    genesis_hash: &[u8; 32],
    operator: &str,
    key: [u8; 32],
    mrenclave: [u8; 32],
) -> Vec<u8> {
    let (_, mrsigner) = simulated_measurements();
    let quote = SimulatedQuote::sign(
        mrenclave,
        mrsigner,
        0,
        1,
        report_data(&key, genesis_hash, operator, None),
    );
    host.sign(
        &signer(operator),
        CHAIN_ID,
        Msg::RegisterNode {
            registration_key: key,
            attestation: Attestation::Simulated(quote).to_bytes(),
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
fn only_the_authority_changes_the_policy_and_the_enclave_keeps_it() {
    let (this_build, _) = simulated_measurements();
    let new_build = [0x5a; 32];
    for mode in modes() {
        let name = mode_name(&mode);
        let authority = account("authority");
        let mallory = account("mallory");
        let operator = account("operator");
        let (mut host, _dir) = open(
            &mode,
            &genesis(build_policy(this_build), Some(authority.clone())),
        );
        let genesis_hash = host.genesis().unwrap().hash();

        // The new build is not accepted yet.
        let tx = registration(&host, &genesis_hash, &operator, [1; 32], new_build);
        refused(
            host.register_node(tx, NOW),
            ErrorKind::Attestation,
            "not accepted",
        );

        // Someone else signing the upgrade is refused, and nothing changes.
        let upgrade = Msg::SetAttestationPolicy {
            policy: build_policy(new_build),
        };
        let forged = host.sign(&signer(&mallory), CHAIN_ID, upgrade.clone());
        refused(
            host.govern(forged, CHAIN_ID),
            ErrorKind::Unauthorized,
            "only the network's authority",
        );
        let tx = registration(&host, &genesis_hash, &operator, [1; 32], new_build);
        refused(
            host.register_node(tx, NOW),
            ErrorKind::Attestation,
            "not accepted",
        );

        // An invalid policy is refused, even from the authority.
        let empty = Policy {
            mrenclaves: Vec::new(),
            ..build_policy(new_build)
        };
        let invalid = host.sign(
            &signer(&authority),
            CHAIN_ID,
            Msg::SetAttestationPolicy { policy: empty },
        );
        refused(
            host.govern(invalid, CHAIN_ID),
            ErrorKind::BadRequest,
            "accepts no enclave",
        );
        // A transaction for another chain, or that is not governance, is refused too.
        let other_chain = host.sign(&signer(&authority), "another-chain", upgrade.clone());
        refused(
            host.govern(other_chain, CHAIN_ID),
            ErrorKind::BadRequest,
            "another chain",
        );
        let not_governance = host.sign(
            &signer(&authority),
            CHAIN_ID,
            Msg::Send {
                to: operator.clone(),
                amount: 1,
            },
        );
        refused(
            host.govern(not_governance, CHAIN_ID),
            ErrorKind::BadRequest,
            "not a governance transaction",
        );

        // The authority's upgrade: the registration refused before now passes, and the
        // old build is no longer accepted.
        let signed = host.sign(&signer(&authority), CHAIN_ID, upgrade);
        host.govern(signed.clone(), CHAIN_ID).unwrap();
        refused(
            host.govern(signed, CHAIN_ID),
            ErrorKind::Replay,
            "already used",
        );
        let tx = registration(&host, &genesis_hash, &operator, [1; 32], new_build);
        let (_, summary) = host.register_node(tx, NOW).unwrap();
        assert!(
            summary.contains(&hex::encode(new_build)),
            "{name}: {summary}"
        );
        let tx = registration(&host, &genesis_hash, &operator, [2; 32], this_build);
        refused(
            host.register_node(tx, NOW),
            ErrorKind::Attestation,
            "not accepted",
        );

        // The policy in force is sealed: a restarted enclave still applies it.
        host.restart_enclave().unwrap();
        let tx = registration(&host, &genesis_hash, &operator, [2; 32], this_build);
        refused(
            host.register_node(tx, NOW),
            ErrorKind::Attestation,
            "not accepted",
        );
        let tx = registration(&host, &genesis_hash, &operator, [3; 32], new_build);
        host.register_node(tx, NOW).unwrap();
    }
}

#[test]
fn a_revoked_enclave_is_given_nothing_and_stays_revoked() {
    for mode in modes() {
        let authority = account("authority");
        let operator = account("operator");
        let (this_build, _) = simulated_measurements();
        let (mut host, _dir) = open(
            &mode,
            &genesis(simulated_attestation_policy(), Some(authority.clone())),
        );
        let genesis_hash = host.genesis().unwrap().hash();
        let key = [7; 32];
        let revoke = |host: &ConfidentialHost, signer_address: &str, key: [u8; 32]| {
            host.sign(
                &signer(signer_address),
                CHAIN_ID,
                Msg::RevokeNode {
                    registration_key: key,
                    reason: "its operator lost the machine".into(),
                },
            )
        };

        // Only a registered key can be revoked.
        refused(
            host.govern(revoke(&host, &authority, key), CHAIN_ID),
            ErrorKind::BadRequest,
            "no enclave is registered",
        );
        let tx = registration(&host, &genesis_hash, &operator, key, this_build);
        host.register_node(tx, NOW).unwrap();
        // Registering the same key again is refused.
        let tx = registration(&host, &genesis_hash, &operator, key, this_build);
        refused(
            host.register_node(tx, NOW),
            ErrorKind::BadRequest,
            "already registered",
        );

        // The operator cannot revoke (nor un-revoke) anything; the authority can.
        refused(
            host.govern(revoke(&host, &operator, key), CHAIN_ID),
            ErrorKind::Unauthorized,
            "only the network's authority",
        );
        host.govern(revoke(&host, &authority, key), CHAIN_ID)
            .unwrap();
        refused(
            host.govern(revoke(&host, &authority, key), CHAIN_ID),
            ErrorKind::BadRequest,
            "already revoked",
        );

        // A revoked key receives no seed share, also after a restart.
        let tx = registration(&host, &genesis_hash, &operator, key, this_build);
        refused(
            host.register_node(tx, NOW),
            ErrorKind::Unauthorized,
            "revoked",
        );
        host.restart_enclave().unwrap();
        let tx = registration(&host, &genesis_hash, &operator, key, this_build);
        refused(
            host.register_node(tx, NOW),
            ErrorKind::Unauthorized,
            "revoked",
        );
        // Other enclaves still register.
        let tx = registration(&host, &genesis_hash, &operator, [8; 32], this_build);
        host.register_node(tx, NOW).unwrap();
    }
}

#[test]
fn without_a_genesis_authority_the_policy_is_fixed() {
    for mode in modes() {
        let (this_build, _) = simulated_measurements();
        let authority = account("authority");
        let (host, _dir) = open(&mode, &genesis(build_policy(this_build), None));
        let tx = host.sign(
            &signer(&authority),
            CHAIN_ID,
            Msg::SetAttestationPolicy {
                policy: build_policy([0x5a; 32]),
            },
        );
        refused(
            host.govern(tx, CHAIN_ID),
            ErrorKind::Unauthorized,
            "names no authority",
        );
    }
}
