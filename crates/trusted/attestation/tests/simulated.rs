//! Simulated attestation end to end through `verify`, and the report data vector.

use veil_attestation::{
    report_data, simulated_platform_public_key, verify, Attestation, AttestationError,
    AttestationKind, MrEnclaveRule, Policy, SimulatedQuote, TcbStatus, REPORT_DATA_DOMAIN,
    SIMULATED_KIND,
};

const MRENCLAVE: [u8; 32] = [1; 32];
const MRSIGNER: [u8; 32] = [2; 32];

fn registration() -> [u8; 64] {
    report_data(&[5; 32], &[6; 32], "veil1operatoraddress", Some(&[7; 32]))
}

fn policy(allow_simulated: bool) -> Policy {
    Policy {
        mrenclaves: vec![MrEnclaveRule {
            mrenclave: MRENCLAVE,
            isv_prod_id: 3,
            min_isv_svn: 4,
        }],
        mrsigners: vec![],
        tcb_statuses: vec![TcbStatus::UpToDate],
        allow_simulated,
    }
}

fn simulated(report_data: [u8; 64]) -> Attestation {
    Attestation::Simulated(SimulatedQuote::sign(MRENCLAVE, MRSIGNER, 3, 4, report_data))
}

#[test]
fn report_data_test_vector() {
    // Computed independently (Python hashlib) from the layout in src/report_data.rs.
    let registration_key: [u8; 32] = std::array::from_fn(|i| i as u8);
    let genesis_hash = [0xaa; 32];
    let operator = "veil1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu";
    assert_eq!(REPORT_DATA_DOMAIN, b"veil/attestation-report-v1");
    assert_eq!(
        hex::encode(report_data(
            &registration_key,
            &genesis_hash,
            operator,
            None
        )),
        "445db24abccd250f899013e6c82fe25db2a76e862446055596da4b08a8aefaae\
         0000000000000000000000000000000000000000000000000000000000000000"
    );
    assert_eq!(
        hex::encode(report_data(
            &registration_key,
            &genesis_hash,
            operator,
            Some(&[0x11; 32])
        )),
        "34e080effab87366a20c1fb8fedc7042f214d1b60e1f09e8295949811726f77d\
         0000000000000000000000000000000000000000000000000000000000000000"
    );
}

#[test]
fn report_data_binds_every_field() {
    let base = report_data(&[5; 32], &[6; 32], "veil1op", Some(&[7; 32]));
    assert_ne!(
        base,
        report_data(&[4; 32], &[6; 32], "veil1op", Some(&[7; 32]))
    );
    assert_ne!(
        base,
        report_data(&[5; 32], &[4; 32], "veil1op", Some(&[7; 32]))
    );
    assert_ne!(
        base,
        report_data(&[5; 32], &[6; 32], "veil1oq", Some(&[7; 32]))
    );
    assert_ne!(
        base,
        report_data(&[5; 32], &[6; 32], "veil1op", Some(&[8; 32]))
    );
    assert_ne!(base, report_data(&[5; 32], &[6; 32], "veil1op", None));
    assert_ne!(
        report_data(&[5; 32], &[6; 32], "", None),
        report_data(&[5; 32], &[6; 32], "\0", None)
    );
}

#[test]
fn simulated_platform_key_and_signature_vectors() {
    // Ed25519 key from SHA-256("veil/simulated-platform-key-v1"), and a signature over the
    // documented message, both computed independently (Python `cryptography`).
    assert_eq!(
        hex::encode(simulated_platform_public_key()),
        "8c66cb21ebaf22a665e41ceefc181ca3931c22422bed20200ee8dd3d9ee7adee"
    );
    let mut rd = [0u8; 64];
    hex::decode_to_slice(
        "445db24abccd250f899013e6c82fe25db2a76e862446055596da4b08a8aefaae",
        &mut rd[..32],
    )
    .unwrap();
    let quote = SimulatedQuote::sign([1; 32], [2; 32], 3, 4, rd);
    assert_eq!(quote.kind, SIMULATED_KIND);
    assert_eq!(
        hex::encode(quote.signature),
        "8b984a03ff37d93fc982cc2680bbe657ffecf3909d4dfbd1e3261310430dd030\
         e5d7f45f0f186e12a7ecad12ae384c1f1e7b2777ff022c333116f04df7202002"
    );
}

#[test]
fn simulated_round_trip_passes_under_a_policy_allowing_simulation() {
    let attestation = simulated(registration());
    // Through both encodings, as it rides in a transaction or a genesis file.
    let decoded = Attestation::from_bytes(&attestation.to_bytes()).unwrap();
    assert_eq!(decoded, attestation);
    let json = serde_json::to_string(&attestation).unwrap();
    assert!(
        json.starts_with(r#"{"simulated":{"kind":"veil-simulated-v1","mrenclave":"0101"#),
        "{json}"
    );
    assert_eq!(Attestation::from_json(&json).unwrap(), attestation);

    let enclave = verify(&decoded, &policy(true), 0, &registration()).expect("accepted");
    assert_eq!(enclave.kind, AttestationKind::Simulated);
    assert_eq!((enclave.mrenclave, enclave.mrsigner), (MRENCLAVE, MRSIGNER));
    assert_eq!((enclave.isv_prod_id, enclave.isv_svn), (3, 4));
    assert_eq!(enclave.tcb_status, None);
    // The time does not matter for a simulated attestation.
    assert!(verify(&decoded, &policy(true), u64::MAX, &registration()).is_ok());
}

#[test]
fn simulated_binary_encoding_is_the_documented_postcard_layout() {
    let Attestation::Simulated(q) = simulated(registration()) else {
        unreachable!()
    };
    let mut expected = vec![1u8, 17]; // variant 1: Simulated; kind's length
    expected.extend_from_slice(b"veil-simulated-v1");
    expected.push(32);
    expected.extend_from_slice(&MRENCLAVE);
    expected.push(32);
    expected.extend_from_slice(&MRSIGNER);
    expected.extend_from_slice(&[3, 4]); // isv_prod_id, isv_svn (varints)
    expected.push(64);
    expected.extend_from_slice(&q.report_data);
    expected.push(64);
    expected.extend_from_slice(&q.signature);
    assert_eq!(Attestation::Simulated(q).to_bytes(), expected);
}

#[test]
fn simulated_is_refused_under_a_dcap_only_policy() {
    let err = verify(
        &simulated(registration()),
        &policy(false),
        0,
        &registration(),
    )
    .unwrap_err();
    assert_eq!(err, AttestationError::SimulatedNotAllowed);
    assert_eq!(
        err.to_string(),
        "simulated attestation not allowed by this network's policy"
    );
    // Even a tampered one gets that answer first.
    let Attestation::Simulated(mut q) = simulated(registration()) else {
        unreachable!()
    };
    q.signature[0] ^= 1;
    assert_eq!(
        verify(
            &Attestation::Simulated(q),
            &policy(false),
            0,
            &registration()
        ),
        Err(AttestationError::SimulatedNotAllowed)
    );
}

#[test]
fn simulated_with_other_report_data_is_refused() {
    let other = report_data(&[5; 32], &[6; 32], "veil1someoneelse", Some(&[7; 32]));
    assert_eq!(
        verify(&simulated(other), &policy(true), 0, &registration()),
        Err(AttestationError::ReportDataMismatch)
    );
}

type Tamper = Box<dyn Fn(&mut SimulatedQuote)>;

#[test]
fn a_tampered_simulated_field_fails_the_signature() {
    let Attestation::Simulated(original) = simulated(registration()) else {
        unreachable!()
    };
    let tampers: Vec<(&str, Tamper)> = vec![
        ("mrenclave", Box::new(|q| q.mrenclave[0] ^= 1)),
        ("mrsigner", Box::new(|q| q.mrsigner[9] ^= 1)),
        ("isv_prod_id", Box::new(|q| q.isv_prod_id ^= 1)),
        ("isv_svn", Box::new(|q| q.isv_svn += 1)),
        ("report_data", Box::new(|q| q.report_data[63] ^= 1)),
        ("signature", Box::new(|q| q.signature[10] ^= 1)),
    ];
    for (what, tamper) in tampers {
        let mut q = original.clone();
        tamper(&mut q);
        // Re-point the report data at what was tampered, so only the signature can catch it.
        let expected = q.report_data;
        match verify(&Attestation::Simulated(q), &policy(true), 0, &expected) {
            Err(AttestationError::QuoteSignature(msg)) => {
                assert!(msg.contains("simulated"), "{what}: {msg}")
            }
            other => panic!("{what}: expected a signature error, got {other:?}"),
        }
    }
    let mut q = original.clone();
    q.kind = "veil-simulated-v2".into();
    assert_eq!(
        verify(
            &Attestation::Simulated(q),
            &policy(true),
            0,
            &registration()
        ),
        Err(AttestationError::UnknownSimulatedKind(
            "veil-simulated-v2".into()
        ))
    );
    // A well-signed quote for a measurement the policy does not list.
    let other = Attestation::Simulated(SimulatedQuote::sign(
        [9; 32],
        MRSIGNER,
        3,
        4,
        registration(),
    ));
    assert!(matches!(
        verify(&other, &policy(true), 0, &registration()),
        Err(AttestationError::MeasurementNotAccepted { .. })
    ));
}

#[test]
fn simulated_json_refuses_unknown_fields_and_bad_lengths() {
    let json = serde_json::to_string(&simulated(registration())).unwrap();
    let extra = json.replacen(r#""kind":"#, r#""debug":false,"kind":"#, 1);
    assert!(
        matches!(Attestation::from_json(&extra), Err(AttestationError::Decode(m)) if m.contains("unknown field `debug`"))
    );
    let short = json.replacen(r#""mrenclave":"01"#, r#""mrenclave":""#, 1);
    assert!(
        matches!(Attestation::from_json(&short), Err(AttestationError::Decode(m)) if m.contains("expected 32 bytes"))
    );
}
