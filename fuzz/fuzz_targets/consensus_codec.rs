//! Consensus messages as a validator receives them from peers (votes, proposals,
//! liveness, polka certificates, proposal parts and streams, validator proofs, sync
//! status, requests and responses — `VeilCodec`), and commit certificates as the enclave
//! verifies them. What decodes must encode to bytes that decode to the same encoding.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use malachitebft_app_channel::app::consensus::LivenessMsg;
use malachitebft_app_channel::app::streaming::StreamMessage;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{PolkaCertificate, ValidatorProof};
use malachitebft_app_channel::app::types::sync::{Request, Response, Status};
use malachitebft_app_channel::app::types::{ProposedValue, SignedConsensusMsg};
use veil_consensus::codec::VeilCodec;
use veil_consensus::context::{ProposalPart, VeilContext};
use veil_types::consensus::{
    sign_precommit, verify_commit_certificate, CommitCertificate, ValidatorKey, ValidatorSet,
};

type Ctx = VeilContext;

fn stable<T>(bytes: &[u8])
where
    VeilCodec: Codec<T>,
{
    let Ok(message) = <VeilCodec as Codec<T>>::decode(&VeilCodec, Bytes::copy_from_slice(bytes))
    else {
        return;
    };
    let encoded = VeilCodec
        .encode(&message)
        .ok()
        .expect("a decoded message encodes");
    let again: T = VeilCodec
        .decode(encoded.clone())
        .ok()
        .expect("its own encoding decodes");
    let twice = VeilCodec.encode(&again).ok().expect("encodes again");
    assert_eq!(encoded, twice, "encoding is not stable");
}

fn certificate(bytes: &[u8]) {
    let keys: Vec<ValidatorKey> = (1..=4u8).map(|i| ValidatorKey::from([i; 32])).collect();
    let set = ValidatorSet::new(keys.iter().map(|k| (k.verification_key().to_bytes(), 1u64)))
        .expect("four validators");
    let Ok(cert) = veil_types::decode_exact::<CommitCertificate>(bytes) else {
        return;
    };
    assert_eq!(
        veil_types::decode_exact::<CommitCertificate>(&cert.to_bytes()).as_ref(),
        Ok(&cert)
    );
    let verified =
        verify_commit_certificate(&cert, &set, "veil-fuzz", cert.height, &cert.block_hash);
    // Re-signing the same vote with three of the four keys always verifies: the checks
    // depend on the signatures, not on anything else the host chose.
    let honest = CommitCertificate {
        signatures: keys[..3]
            .iter()
            .map(|k| sign_precommit(k, "veil-fuzz", cert.height, cert.round, &cert.block_hash))
            .collect(),
        ..cert.clone()
    };
    assert_eq!(
        verify_commit_certificate(&honest, &set, "veil-fuzz", cert.height, &cert.block_hash),
        Ok(())
    );
    if verified.is_ok() {
        // Only the four keys exist here: a certificate that verifies names 3 or 4 of them.
        assert!(cert.signatures.len() >= 3);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match selector % 12 {
        0 => stable::<SignedConsensusMsg<Ctx>>(bytes),
        1 => stable::<LivenessMsg<Ctx>>(bytes),
        2 => stable::<PolkaCertificate<Ctx>>(bytes),
        3 => stable::<ProposalPart>(bytes),
        4 => stable::<StreamMessage<ProposalPart>>(bytes),
        5 => stable::<ValidatorProof<Ctx>>(bytes),
        6 => stable::<ProposedValue<Ctx>>(bytes),
        7 => stable::<Status<Ctx>>(bytes),
        8 => stable::<Request<Ctx>>(bytes),
        9 => stable::<Response<Ctx>>(bytes),
        _ => certificate(bytes),
    }
});
