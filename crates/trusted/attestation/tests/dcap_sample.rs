#![cfg(feature = "dcap")]
//! The DCAP path on the SGX sample quote and collateral dcap-qvl ships (a real quote from
//! real hardware, with Intel's signed collateral). Its report data is not a Veil binding:
//! a full DCAP registration needs an SGX machine (see README).

mod common;

use common::*;
use veil_attestation::{
    check_policy, report_data, verify, verify_dcap_quote, verify_quote, Attestation,
    AttestationError, AttestationKind, MrEnclaveRule, MrSignerRule, Policy, TcbStatus,
    MAX_QUOTE_BYTES,
};

fn sample_attestation(sample: &Sample) -> Attestation {
    Attestation::Dcap {
        quote: sample.quote.clone(),
        collateral: sample.collateral.clone(),
    }
}

fn arr<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes[at..at + N].try_into().unwrap()
}

/// A policy accepting exactly the sample's enclave (read from the quote's bytes) and
/// platform status.
fn policy_for_sample(sample: &Sample, status: TcbStatus) -> Policy {
    Policy {
        mrenclaves: vec![MrEnclaveRule {
            mrenclave: arr(&sample.quote, MRENCLAVE_AT),
            isv_prod_id: u16::from_le_bytes(arr(&sample.quote, ISV_PROD_ID_AT)),
            min_isv_svn: u16::from_le_bytes(arr(&sample.quote, ISV_SVN_AT)),
        }],
        mrsigners: vec![],
        tcb_statuses: vec![status],
        allow_simulated: false,
    }
}

#[test]
fn sample_quote_verifies_inside_the_collateral_window() {
    let sample = sgx_sample();
    let q = &sample.quote;
    let verified =
        verify_dcap_quote(q, &sample.collateral, sample.valid_time()).expect("sample verifies");
    assert_eq!(verified.kind, AttestationKind::Dcap);
    assert_eq!(verified.mrenclave, arr::<32>(q, MRENCLAVE_AT));
    assert_eq!(verified.mrsigner, arr::<32>(q, MRSIGNER_AT));
    assert_eq!(
        verified.isv_prod_id,
        u16::from_le_bytes(arr(q, ISV_PROD_ID_AT))
    );
    assert_eq!(verified.isv_svn, u16::from_le_bytes(arr(q, ISV_SVN_AT)));
    assert_eq!(verified.report_data, arr::<64>(q, REPORT_DATA_AT));
    assert!(!verified.debug);
    // What Intel's collateral says of the sample's platform (dcap-qvl's own tests agree).
    assert_eq!(
        verified.tcb_status,
        Some(TcbStatus::ConfigurationAndSWHardeningNeeded)
    );
    assert!(!verified.advisory_ids.is_empty());

    // Both edges of the TCB info / QE identity window are inside too (the CRLs and
    // certificates of the sample are valid longer).
    verify_dcap_quote(q, &sample.collateral, sample.issued).expect("at issueDate");
    verify_dcap_quote(q, &sample.collateral, sample.next_update).expect("at nextUpdate");
}

#[test]
fn sample_quote_is_refused_before_and_after_the_collateral_window() {
    let sample = sgx_sample();
    for at in [
        0,
        sample.issued - 1,
        sample.next_update + 1,
        sample.next_update + 365 * 86400,
        u64::MAX,
    ] {
        match verify_dcap_quote(&sample.quote, &sample.collateral, at) {
            Err(AttestationError::CollateralTime { at: reported, .. }) => assert_eq!(reported, at),
            other => panic!("at {at}: expected a collateral time error, got {other:?}"),
        }
    }
}

/// Flips one byte at `at` and expects a signature error.
fn assert_signature_error(
    what: &str,
    quote: &[u8],
    collateral: &veil_attestation::Collateral,
    now: u64,
) {
    match verify_dcap_quote(quote, collateral, now) {
        Err(AttestationError::QuoteSignature(detail)) => {
            let shown = AttestationError::QuoteSignature(detail).to_string();
            assert!(shown.starts_with("quote signature invalid: "), "{shown}");
        }
        other => panic!("{what}: expected a signature error, got {other:?}"),
    }
}

#[test]
fn a_flipped_byte_in_each_signed_region_of_the_quote_fails_its_signature() {
    let sample = sgx_sample();
    let now = sample.valid_time();
    let q = &sample.quote;

    // Where the signature data lies, from the quote layout, cross-checked with dcap-qvl's
    // parser so the offsets cannot silently be wrong.
    let sig_at = HEADER_LEN + REPORT_LEN + 4;
    let key_at = sig_at + 64;
    let qe_report_at = key_at + 64;
    let qe_sig_at = qe_report_at + 384;
    let qe_auth_len_at = qe_sig_at + 64;
    let qe_auth_at = qe_auth_len_at + 2;
    let parsed = dcap_qvl::quote::Quote::parse(q).expect("sample parses");
    let auth = parsed.auth_data.clone().into_v3();
    assert_eq!(q[sig_at..sig_at + 64], auth.ecdsa_signature);
    assert_eq!(q[key_at..key_at + 64], auth.ecdsa_attestation_key);
    assert_eq!(q[qe_report_at..qe_report_at + 384], auth.qe_report);
    assert_eq!(q[qe_sig_at..qe_sig_at + 64], auth.qe_report_signature);
    let qe_auth_len = u16::from_le_bytes(arr(q, qe_auth_len_at)) as usize;
    assert!(qe_auth_len > 0);
    assert_eq!(
        q[qe_auth_at..qe_auth_at + qe_auth_len],
        auth.qe_auth_data.data
    );

    let regions: &[(&str, usize)] = &[
        // Signed by the attestation key: header and enclave report.
        ("header QE SVN", 8),
        ("header user data", 30),
        ("report CPU SVN", HEADER_LEN),
        ("report MRENCLAVE", MRENCLAVE_AT + 5),
        ("report MRSIGNER", MRSIGNER_AT + 31),
        ("report ISV SVN", ISV_SVN_AT),
        ("report data", REPORT_DATA_AT + 17),
        ("ISV report signature", sig_at + 3),
        ("ISV report signature (s)", sig_at + 40),
        // Bound by the QE report (its report data hashes the key and auth data).
        ("attestation key", key_at + 10),
        ("QE auth data", qe_auth_at),
        // Signed by the PCK certificate.
        ("QE report", qe_report_at + 100),
        ("QE report's MRENCLAVE", qe_report_at + 64),
        ("QE report signature", qe_sig_at + 7),
    ];
    for &(what, at) in regions {
        let mut tampered = q.clone();
        tampered[at] ^= 0x01;
        assert_signature_error(what, &tampered, &sample.collateral, now);
    }

    // The PCK leaf certificate's signature (by Intel's PCK CA), inside the certification
    // data: change a base64 character of its signature value, near the end of the first
    // PEM block.
    let text = q.as_slice();
    let end = find(text, b"-----END CERTIFICATE-----").expect("PEM chain in the quote");
    let mut at = end - 1;
    while !text[at].is_ascii_alphanumeric() {
        at -= 1; // skip the newline and '=' padding
    }
    at -= 8;
    let mut tampered = q.clone();
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    assert_signature_error(
        "PCK certificate signature",
        &tampered,
        &sample.collateral,
        now,
    );
}

#[test]
fn a_flipped_byte_in_the_signed_collateral_fails_its_signature() {
    let sample = sgx_sample();
    let now = sample.valid_time();

    // TCB info and QE identity: their JSON is what Intel signed; change a hex digit so it
    // still parses.
    for field in ["tcb_info", "qe_identity"] {
        let mut collateral = sample.collateral.clone();
        let json = if field == "tcb_info" {
            &mut collateral.tcb_info
        } else {
            &mut collateral.qe_identity
        };
        let key = if field == "tcb_info" {
            "\"fmspc\":\""
        } else {
            "\"mrsigner\":\""
        };
        let at = json.find(key).unwrap_or_else(|| panic!("{key} in {field}")) + key.len();
        let digit = json.as_bytes()[at];
        let other = if digit == b'0' { "1" } else { "0" };
        json.replace_range(at..at + 1, other);
        assert_signature_error(field, &sample.quote, &collateral, now);
    }
    let mut collateral = sample.collateral.clone();
    collateral.tcb_info_signature[5] ^= 0x01;
    assert_signature_error("TCB info signature", &sample.quote, &collateral, now);
    let mut collateral = sample.collateral.clone();
    collateral.qe_identity_signature[40] ^= 0x01;
    assert_signature_error("QE identity signature", &sample.quote, &collateral, now);
}

#[test]
fn full_verify_refuses_the_sample_because_its_report_data_is_not_a_veil_binding() {
    let sample = sgx_sample();
    let now = sample.valid_time();
    let attestation = sample_attestation(&sample);
    let policy = policy_for_sample(&sample, TcbStatus::ConfigurationAndSWHardeningNeeded);
    let expected = report_data(&[7; 32], &[9; 32], "veil1operator", None);
    assert_eq!(
        verify(&attestation, &policy, now, &expected),
        Err(AttestationError::ReportDataMismatch)
    );

    // It is the only reason: with the sample's own report data, the same call passes.
    let own: [u8; 64] = arr(&sample.quote, REPORT_DATA_AT);
    let enclave =
        verify(&attestation, &policy, now, &own).expect("accepted with its own report data");
    assert_eq!(enclave.kind, AttestationKind::Dcap);
    assert_eq!(enclave.mrenclave, policy.mrenclaves[0].mrenclave);
    assert_eq!(
        enclave.tcb_status,
        Some(TcbStatus::ConfigurationAndSWHardeningNeeded)
    );

    // Time is checked in the full path too.
    assert!(matches!(
        verify(&attestation, &policy, sample.next_update + 1, &own),
        Err(AttestationError::CollateralTime { .. })
    ));
}

#[test]
fn the_policy_refuses_the_verified_sample_for_measurement_svn_and_tcb_status() {
    let sample = sgx_sample();
    let now = sample.valid_time();
    let attestation = sample_attestation(&sample);
    let own: [u8; 64] = arr(&sample.quote, REPORT_DATA_AT);
    let base = policy_for_sample(&sample, TcbStatus::ConfigurationAndSWHardeningNeeded);

    // Another MRENCLAVE.
    let mut policy = base.clone();
    policy.mrenclaves[0].mrenclave[0] ^= 0xff;
    assert!(matches!(
        verify(&attestation, &policy, now, &own),
        Err(AttestationError::MeasurementNotAccepted { .. })
    ));

    // The right signer, but a minimum SVN above the sample's.
    let svn = u16::from_le_bytes(arr(&sample.quote, ISV_SVN_AT));
    let mut policy = base.clone();
    policy.mrenclaves.clear();
    policy.mrsigners.push(MrSignerRule {
        mrsigner: arr(&sample.quote, MRSIGNER_AT),
        isv_prod_id: base.mrenclaves[0].isv_prod_id,
        min_isv_svn: svn + 1,
    });
    assert_eq!(
        verify(&attestation, &policy, now, &own),
        Err(AttestationError::SvnTooLow {
            isv_svn: svn,
            min_isv_svn: svn + 1
        })
    );
    // … and at the sample's SVN it passes through the MRSIGNER rule.
    policy.mrsigners[0].min_isv_svn = svn;
    verify(&attestation, &policy, now, &own).expect("MRSIGNER rule accepts");

    // A policy accepting only up-to-date platforms.
    let policy = policy_for_sample(&sample, TcbStatus::UpToDate);
    assert_eq!(
        verify(&attestation, &policy, now, &own),
        Err(AttestationError::TcbStatusNotAccepted(
            TcbStatus::ConfigurationAndSWHardeningNeeded
        ))
    );
    assert_eq!(
        verify(&attestation, &policy, now, &own)
            .unwrap_err()
            .to_string(),
        "TCB status ConfigurationAndSWHardeningNeeded not accepted by this network's policy"
    );

    // check_policy alone, on the verified report, agrees.
    let verified = verify_quote(&attestation, now).unwrap();
    assert!(check_policy(&verified, &policy).is_err());
    assert!(check_policy(&verified, &base).is_ok());
}

#[test]
fn a_valid_tdx_quote_is_refused_as_not_sgx() {
    let tdx = tdx_sample();
    assert_eq!(
        verify_dcap_quote(&tdx.quote, &tdx.collateral, tdx.valid_time()),
        Err(AttestationError::NotSgx)
    );
    // Its signatures are checked first: a tampered TDX quote is a signature error.
    let mut tampered = tdx.quote.clone();
    tampered[HEADER_LEN + 200] ^= 1;
    assert!(matches!(
        verify_dcap_quote(&tampered, &tdx.collateral, tdx.valid_time()),
        Err(AttestationError::QuoteSignature(_))
    ));
    // And the SGX collateral does not fit it.
    let sgx = sgx_sample();
    assert!(verify_dcap_quote(&tdx.quote, &sgx.collateral, sgx.valid_time()).is_err());
}

#[test]
fn the_binary_encoding_is_the_documented_postcard_layout() {
    let sample = sgx_sample();
    let c = &sample.collateral;
    let attestation = sample_attestation(&sample);
    let mut expected = vec![0u8]; // variant 0: Dcap
    let mut bytes = |b: &[u8]| {
        varint(&mut expected, b.len() as u64);
        expected.extend_from_slice(b);
    };
    bytes(&sample.quote);
    bytes(c.pck_crl_issuer_chain.as_bytes());
    bytes(&c.root_ca_crl);
    bytes(&c.pck_crl);
    bytes(c.tcb_info_issuer_chain.as_bytes());
    bytes(c.tcb_info.as_bytes());
    bytes(&c.tcb_info_signature);
    bytes(c.qe_identity_issuer_chain.as_bytes());
    bytes(c.qe_identity.as_bytes());
    bytes(&c.qe_identity_signature);
    assert!(c.pck_certificate_chain.is_none());
    expected.push(0); // pck_certificate_chain: None
    assert_eq!(attestation.to_bytes(), expected);
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[test]
fn malformed_quotes_and_encodings_are_errors_never_panics() {
    let sample = sgx_sample();
    let now = sample.valid_time();
    // Truncations of the quote at many lengths.
    for len in (0..sample.quote.len())
        .step_by(61)
        .chain([1, 47, 48, 431, 432, 436, 1011, 1014])
    {
        let result = verify_dcap_quote(&sample.quote[..len], &sample.collateral, now);
        assert!(result.is_err(), "truncated to {len} bytes");
    }
    // Oversized input is refused before parsing.
    let big = vec![0u8; MAX_QUOTE_BYTES + 1];
    assert!(matches!(
        verify_dcap_quote(&big, &sample.collateral, now),
        Err(AttestationError::TooLarge { .. })
    ));
    // Garbage collateral.
    let mut collateral = sample.collateral.clone();
    collateral.root_ca_crl = vec![0x30, 0x82, 0xff];
    assert!(verify_dcap_quote(&sample.quote, &collateral, now).is_err());

    // The binary encoding round-trips, and every truncation or corruption of it decodes to
    // an error or to a different attestation — never a panic.
    let attestation = sample_attestation(&sample);
    let bytes = attestation.to_bytes();
    assert_eq!(Attestation::from_bytes(&bytes), Ok(attestation.clone()));
    for len in (0..bytes.len()).step_by(97) {
        assert!(
            Attestation::from_bytes(&bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        Attestation::from_bytes(&trailing),
        Err(AttestationError::Decode(_))
    ));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 300) as usize;
        let junk: Vec<u8> = (0..len).map(|i| (state >> (i % 56)) as u8).collect();
        let _ = Attestation::from_bytes(&junk);
        let mut flipped = bytes.clone();
        let at = (state as usize) % flipped.len();
        flipped[at] ^= (state >> 32) as u8 | 1;
        if let Ok(decoded) = Attestation::from_bytes(&flipped) {
            assert_ne!(decoded, attestation);
        }
    }

    // JSON round trip (hex byte fields), and unknown fields are refused.
    let json = serde_json::to_string(&attestation).unwrap();
    assert!(json.starts_with("{\"dcap\":{\"quote\":\""));
    assert_eq!(Attestation::from_json(&json), Ok(attestation));
    let extra = json.replacen("{\"dcap\":{", "{\"dcap\":{\"extra\":1,", 1);
    assert!(matches!(
        Attestation::from_json(&extra),
        Err(AttestationError::Decode(_))
    ));
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
