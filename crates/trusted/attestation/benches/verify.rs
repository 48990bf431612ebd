//! Verification time: a DCAP quote (dcap-qvl's SGX sample, the whole chain to Intel's
//! root CA), a simulated attestation, the policy check and the report data hash.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use veil_attestation::{
    check_policy, report_data, verify, verify_dcap_quote, verify_quote, Attestation,
    AttestationError, MrEnclaveRule, Policy, SimulatedQuote, TcbStatus,
};

fn bench(c: &mut Criterion) {
    let sample = common::sgx_sample();
    let now = sample.valid_time();
    let verified =
        verify_dcap_quote(&sample.quote, &sample.collateral, now).expect("sample verifies");
    let policy = Policy {
        mrenclaves: vec![MrEnclaveRule {
            mrenclave: verified.mrenclave,
            isv_prod_id: verified.isv_prod_id,
            min_isv_svn: verified.isv_svn,
        }],
        mrsigners: vec![],
        tcb_statuses: vec![TcbStatus::ConfigurationAndSWHardeningNeeded],
        allow_simulated: true,
    };
    let dcap = Attestation::Dcap {
        quote: sample.quote.clone(),
        collateral: sample.collateral.clone(),
    };
    let dcap_bytes = dcap.to_bytes();

    c.bench_function("dcap: verify_quote (sample SGX quote)", |b| {
        b.iter(|| verify_quote(black_box(&dcap), now).unwrap())
    });
    c.bench_function("dcap: decode + verify (refused: report data)", |b| {
        b.iter(|| {
            let attestation = Attestation::from_bytes(black_box(&dcap_bytes)).unwrap();
            let err = verify(&attestation, &policy, now, &[0; 64]).unwrap_err();
            assert_eq!(err, AttestationError::ReportDataMismatch);
        })
    });

    let rd = report_data(&[1; 32], &[2; 32], "veil1operator", Some(&[3; 32]));
    let simulated = Attestation::Simulated(SimulatedQuote::sign(
        verified.mrenclave,
        verified.mrsigner,
        verified.isv_prod_id,
        verified.isv_svn,
        rd,
    ));
    c.bench_function("simulated: verify", |b| {
        b.iter(|| verify(black_box(&simulated), &policy, now, &rd).unwrap())
    });
    c.bench_function("check_policy", |b| {
        b.iter(|| check_policy(black_box(&verified), &policy).unwrap())
    });
    c.bench_function("report_data", |b| {
        b.iter(|| {
            report_data(
                black_box(&[1; 32]),
                &[2; 32],
                "veil1operator",
                Some(&[3; 32]),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
