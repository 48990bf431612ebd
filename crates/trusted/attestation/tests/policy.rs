//! The policy: its JSON form, its validation, and the check of a verified report against
//! it (on constructed reports: there is no sample quote of a debug enclave, of a revoked
//! platform or with a Veil measurement).

use veil_attestation::{
    check_policy, check_report_data, AttestationError, AttestationKind, MrEnclaveRule,
    MrSignerRule, Policy, TcbStatus, VerifiedQuote,
};

const ENCLAVE: [u8; 32] = [0xe1; 32];
const SIGNER: [u8; 32] = [0x51; 32];

fn policy_json() -> String {
    format!(
        r#"{{
          "mrenclaves": [{{"mrenclave": "{}", "isv_prod_id": 1, "min_isv_svn": 2}}],
          "mrsigners": [{{"mrsigner": "{}", "isv_prod_id": 1, "min_isv_svn": 5}}],
          "tcb_statuses": ["UpToDate", "SWHardeningNeeded"],
          "allow_simulated": false
        }}"#,
        hex::encode(ENCLAVE),
        hex::encode(SIGNER)
    )
}

fn policy() -> Policy {
    Policy::from_json(&policy_json()).expect("valid policy")
}

fn report() -> VerifiedQuote {
    VerifiedQuote {
        kind: AttestationKind::Dcap,
        mrenclave: ENCLAVE,
        mrsigner: [0x99; 32],
        isv_prod_id: 1,
        isv_svn: 2,
        debug: false,
        report_data: [0x42; 64],
        tcb_status: Some(TcbStatus::UpToDate),
        advisory_ids: vec![],
    }
}

fn invalid(json: &str) -> String {
    match Policy::from_json(json) {
        Err(AttestationError::InvalidPolicy(msg)) => msg,
        other => panic!("expected an invalid policy, got {other:?}"),
    }
}

#[test]
fn policy_json_parses_and_round_trips() {
    let p = policy();
    assert_eq!(
        p.mrenclaves,
        vec![MrEnclaveRule {
            mrenclave: ENCLAVE,
            isv_prod_id: 1,
            min_isv_svn: 2
        }]
    );
    assert_eq!(
        p.mrsigners,
        vec![MrSignerRule {
            mrsigner: SIGNER,
            isv_prod_id: 1,
            min_isv_svn: 5
        }]
    );
    assert_eq!(
        p.tcb_statuses,
        vec![TcbStatus::UpToDate, TcbStatus::SWHardeningNeeded]
    );
    assert!(!p.allow_simulated);
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains(&hex::encode(ENCLAVE)), "{json}");
    assert_eq!(Policy::from_json(&json), Ok(p.clone()));
    // Binary (postcard) round trip, as the policy may sit in chain state.
    let bytes = postcard::to_allocvec(&p).unwrap();
    assert_eq!(postcard::from_bytes::<Policy>(&bytes).unwrap(), p);
    // Uppercase hex is read too.
    let upper = policy_json().replace(&hex::encode(ENCLAVE), &hex::encode_upper(ENCLAVE));
    assert_eq!(Policy::from_json(&upper), Ok(p));
}

#[test]
fn policy_json_refuses_unknown_fields_bad_hex_and_missing_flag() {
    let msg = invalid(&policy_json().replace(
        "\"allow_simulated\"",
        "\"allow_debug\": true, \"allow_simulated\"",
    ));
    assert!(msg.contains("unknown field `allow_debug`"), "{msg}");
    let msg = invalid(
        &policy_json().replace("\"min_isv_svn\": 2", "\"min_isv_svn\": 2, \"note\": \"x\""),
    );
    assert!(msg.contains("unknown field `note`"), "{msg}");

    let hex_enclave = hex::encode(ENCLAVE);
    let msg = invalid(&policy_json().replace(&hex_enclave, &hex_enclave[2..]));
    assert!(
        msg.contains("expected 32 bytes (64 hex characters), got 31 bytes"),
        "{msg}"
    );
    let msg = invalid(&policy_json().replace(&hex_enclave, &format!("{hex_enclave}00")));
    assert!(msg.contains("got 33 bytes"), "{msg}");
    let msg = invalid(&policy_json().replace(&hex_enclave, &format!("zz{}", &hex_enclave[2..])));
    assert!(msg.contains("invalid hex"), "{msg}");
    let msg = invalid(&policy_json().replace(&hex_enclave, &hex_enclave[1..]));
    assert!(msg.contains("invalid hex"), "{msg}");

    let msg = invalid(&policy_json().replace("\"SWHardeningNeeded\"", "\"Fine\""));
    assert!(msg.contains("unknown variant `Fine`"), "{msg}");
    let msg = invalid(&policy_json().replace(",\n          \"allow_simulated\": false", ""));
    assert!(msg.contains("missing field `allow_simulated`"), "{msg}");
    let msg = invalid("not json");
    assert!(!msg.is_empty());
}

#[test]
fn policy_validation_refuses_a_policy_that_accepts_nothing_or_is_wrong() {
    let msg = invalid(r#"{"allow_simulated": true}"#);
    assert_eq!(
        msg,
        "it accepts no enclave: list at least one MRENCLAVE or MRSIGNER rule"
    );
    assert_eq!(
        AttestationError::InvalidPolicy(msg).to_string(),
        "invalid attestation policy: it accepts no enclave: list at least one MRENCLAVE or MRSIGNER rule"
    );

    let mut p = policy();
    p.tcb_statuses.clear();
    assert!(
        matches!(p.validate(), Err(AttestationError::InvalidPolicy(m)) if m.starts_with("it accepts no attestation"))
    );
    p.allow_simulated = true; // a simulation-only network
    assert_eq!(p.validate(), Ok(()));

    let mut p = policy();
    p.tcb_statuses.push(TcbStatus::Revoked);
    assert!(
        matches!(p.validate(), Err(AttestationError::InvalidPolicy(m)) if m.contains("Revoked"))
    );
    let mut p = policy();
    p.tcb_statuses.push(TcbStatus::UpToDate);
    assert!(
        matches!(p.validate(), Err(AttestationError::InvalidPolicy(m)) if m.contains("listed twice"))
    );
    let mut p = policy();
    p.mrenclaves.push(p.mrenclaves[0].clone());
    assert!(
        matches!(p.validate(), Err(AttestationError::InvalidPolicy(m)) if m.contains("listed twice"))
    );
    let mut p = policy();
    p.mrsigners[0].mrsigner = [0; 32];
    assert!(
        matches!(p.validate(), Err(AttestationError::InvalidPolicy(m)) if m.contains("placeholder"))
    );

    // check_policy validates too: an invalid policy accepts nothing.
    let mut p = policy();
    p.mrenclaves.clear();
    p.mrsigners.clear();
    assert!(matches!(
        check_policy(&report(), &p),
        Err(AttestationError::InvalidPolicy(_))
    ));
}

#[test]
fn an_accepted_report_gives_the_enclave_identity() {
    let enclave = check_policy(&report(), &policy()).expect("accepted");
    assert_eq!(enclave.kind, AttestationKind::Dcap);
    assert_eq!(enclave.mrenclave, ENCLAVE);
    assert_eq!(enclave.mrsigner, [0x99; 32]);
    assert_eq!((enclave.isv_prod_id, enclave.isv_svn), (1, 2));
    assert_eq!(enclave.tcb_status, Some(TcbStatus::UpToDate));
}

#[test]
fn a_debug_enclave_is_refused_even_with_an_accepted_measurement() {
    let mut r = report();
    r.debug = true;
    assert_eq!(
        check_policy(&r, &policy()),
        Err(AttestationError::DebugEnclave)
    );
    assert_eq!(
        AttestationError::DebugEnclave.to_string(),
        "debug enclave refused: the host can read a debug enclave's memory"
    );
}

#[test]
fn a_wrong_measurement_or_product_is_refused() {
    let mut r = report();
    r.mrenclave[31] ^= 1;
    let err = check_policy(&r, &policy()).unwrap_err();
    assert!(matches!(
        err,
        AttestationError::MeasurementNotAccepted { .. }
    ));
    let shown = err.to_string();
    assert!(
        shown.contains(&hex::encode(r.mrenclave)) && shown.contains("not accepted"),
        "{shown}"
    );

    let mut r = report();
    r.isv_prod_id = 2; // the right MRENCLAVE, another product
    assert!(matches!(
        check_policy(&r, &policy()),
        Err(AttestationError::MeasurementNotAccepted { .. })
    ));
}

#[test]
fn a_low_svn_is_refused_and_the_signer_rule_accepts_later_builds() {
    let mut r = report();
    r.isv_svn = 1;
    assert_eq!(
        check_policy(&r, &policy()),
        Err(AttestationError::SvnTooLow {
            isv_svn: 1,
            min_isv_svn: 2
        })
    );

    // Another build (new MRENCLAVE) by the accepted signer.
    let mut r = report();
    r.mrenclave = [0x77; 32];
    r.mrsigner = SIGNER;
    r.isv_svn = 4;
    assert_eq!(
        check_policy(&r, &policy()),
        Err(AttestationError::SvnTooLow {
            isv_svn: 4,
            min_isv_svn: 5
        })
    );
    r.isv_svn = 5;
    assert!(check_policy(&r, &policy()).is_ok());
    r.isv_svn = u16::MAX;
    assert!(check_policy(&r, &policy()).is_ok());
}

#[test]
fn an_unaccepted_or_revoked_tcb_status_is_refused() {
    for status in [
        TcbStatus::OutOfDate,
        TcbStatus::OutOfDateConfigurationNeeded,
        TcbStatus::ConfigurationNeeded,
        TcbStatus::ConfigurationAndSWHardeningNeeded,
    ] {
        let mut r = report();
        r.tcb_status = Some(status);
        assert_eq!(
            check_policy(&r, &policy()),
            Err(AttestationError::TcbStatusNotAccepted(status))
        );
    }
    let mut r = report();
    r.tcb_status = Some(TcbStatus::OutOfDate);
    assert_eq!(
        check_policy(&r, &policy()).unwrap_err().to_string(),
        "TCB status OutOfDate not accepted by this network's policy"
    );
    r.tcb_status = Some(TcbStatus::SWHardeningNeeded);
    assert!(check_policy(&r, &policy()).is_ok());
    r.tcb_status = Some(TcbStatus::Revoked);
    assert_eq!(check_policy(&r, &policy()), Err(AttestationError::Revoked));
    r.tcb_status = None;
    assert!(matches!(
        check_policy(&r, &policy()),
        Err(AttestationError::Dcap(_))
    ));
}

#[test]
fn a_simulated_report_needs_allow_simulated_and_an_accepted_measurement() {
    let mut r = report();
    r.kind = AttestationKind::Simulated;
    r.tcb_status = None;
    assert_eq!(
        check_policy(&r, &policy()),
        Err(AttestationError::SimulatedNotAllowed)
    );
    let mut p = policy();
    p.allow_simulated = true;
    assert_eq!(
        check_policy(&r, &p).unwrap().kind,
        AttestationKind::Simulated
    );
    r.mrenclave = [0x12; 32];
    assert!(matches!(
        check_policy(&r, &p),
        Err(AttestationError::MeasurementNotAccepted { .. })
    ));
}

#[test]
fn report_data_must_match_all_64_bytes() {
    let r = report();
    assert_eq!(check_report_data(&r, &[0x42; 64]), Ok(()));
    for at in [0, 31, 32, 63] {
        let mut expected = [0x42; 64];
        expected[at] ^= 1;
        assert_eq!(
            check_report_data(&r, &expected),
            Err(AttestationError::ReportDataMismatch)
        );
    }
}
