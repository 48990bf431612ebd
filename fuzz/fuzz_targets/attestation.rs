//! Attestations as every enclave verifies them in `register_node` (binary and JSON
//! forms, DCAP quotes with their collateral, simulated quotes), and attestation policies
//! as governance sets them. Simulated quotes signed with the (public) simulated platform
//! key are then changed: only the untouched quote verifies.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use veil_attestation::{
    verify, verify_dcap_quote, Attestation, Collateral, Policy, SimulatedQuote,
};

#[derive(Debug, Arbitrary)]
enum Input {
    Binary {
        bytes: Vec<u8>,
        policy: Vec<u8>,
        now: u64,
        report_data: Vec<u8>,
    },
    Json {
        text: String,
        now: u64,
    },
    Dcap {
        quote: Vec<u8>,
        collateral: String,
        now: u64,
    },
    PolicyJson(String),
    Simulated {
        mrenclave: [u8; 32],
        mrsigner: [u8; 32],
        isv_prod_id: u16,
        isv_svn: u16,
        report_data: [u8; 32],
        flip: Option<(u16, u8)>,
    },
}

fn report_data(bytes: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    let n = bytes.len().min(64);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

fn check(attestation: &Attestation, now: u64, policy: &Policy, data: &[u8; 64]) {
    let again = Attestation::from_bytes(&attestation.to_bytes()).expect("own encoding decodes");
    assert_eq!(&again, attestation);
    let _ = veil_attestation::verify_quote(attestation, now);
    let _ = verify(attestation, policy, now, data);
}

fuzz_target!(|input: Input| match input {
    Input::Binary {
        bytes,
        policy,
        now,
        report_data: data,
    } => {
        let policy = serde_json::from_slice::<Policy>(&policy)
            .unwrap_or_else(|_| veil_enclave::simulated_attestation_policy());
        if let Ok(attestation) = Attestation::from_bytes(&bytes) {
            check(&attestation, now, &policy, &report_data(&data));
        }
    }
    Input::Json { text, now } => {
        if let Ok(attestation) = Attestation::from_json(&text) {
            let policy = veil_enclave::simulated_attestation_policy();
            check(&attestation, now, &policy, &[0; 64]);
        }
    }
    Input::Dcap {
        quote,
        collateral,
        now,
    } => {
        if let Ok(collateral) = Collateral::from_json(&collateral) {
            let _ = verify_dcap_quote(&quote, &collateral, now);
        }
    }
    Input::PolicyJson(text) => {
        if let Ok(policy) = Policy::from_json(&text) {
            if policy.validate().is_ok() {
                let json = serde_json::to_string(&policy).expect("a policy serializes");
                assert_eq!(Policy::from_json(&json).expect("own JSON"), policy);
            }
        }
    }
    Input::Simulated {
        mrenclave,
        mrsigner,
        isv_prod_id,
        isv_svn,
        report_data: data,
        flip,
    } => {
        let data = report_data(&data);
        let quote = SimulatedQuote::sign(mrenclave, mrsigner, isv_prod_id, isv_svn, data);
        let attestation = Attestation::Simulated(quote);
        let mut bytes = attestation.to_bytes();
        if let Some((at, mask)) = flip {
            let i = usize::from(at) % bytes.len();
            bytes[i] ^= mask;
        }
        let Ok(decoded) = Attestation::from_bytes(&bytes) else {
            return;
        };
        let verified = veil_attestation::verify_quote(&decoded, 0);
        if decoded == attestation {
            assert!(verified.is_ok());
        } else {
            assert!(verified.is_err(), "a changed simulated quote verified");
        }
        let policy = veil_enclave::simulated_attestation_policy();
        check(&decoded, 0, &policy, &data);
    }
});
