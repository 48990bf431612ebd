//! [`VeilCodec`]: the one byte encoding of everything Malachite sends over the network,
//! writes to its WAL and exchanges in value sync.
//!
//! Each Malachite type is mapped to a plain wire struct of this module and encoded with
//! postcard. Decoding never panics: lengths of keys and signatures, rounds and enum tags
//! are checked, and any mismatch is a [`CodecError`] (Malachite then drops the message or
//! scores the peer down).

use bytes::Bytes;
use malachitebft_app_channel::app::consensus::LivenessMsg;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature,
    Round, RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof,
    Validity, VoteType,
};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_app_channel::app::types::{PeerId, ProposedValue, SignedConsensusMsg};
use malachitebft_signing_ed25519::Signature;
use malachitebft_sync as engine_sync;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use veil_types::consensus::ValidatorAddress;
use veil_types::Hash;

use crate::context::{
    Address, BlockHash, Height, Proposal, ProposalPart, Value, VeilContext, Vote,
};

type Ctx = VeilContext;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("malformed message: {0}")]
    Postcard(#[from] postcard::Error),
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// Postcard encoding of Veil's consensus, WAL and sync messages.
#[derive(Clone, Copy, Debug, Default)]
pub struct VeilCodec;

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    Ok(postcard::from_bytes(bytes)?)
}

fn encode<T: Serialize>(value: &T) -> Result<Bytes, CodecError> {
    Ok(Bytes::from(postcard::to_allocvec(value)?))
}

// ---- wire primitives -------------------------------------------------------------------

/// A round: -1 for "none", otherwise 0..=u32::MAX.
fn round_to_wire(round: Round) -> i64 {
    round.as_i64()
}

fn round_from_wire(round: i64) -> Result<Round, CodecError> {
    match round {
        -1 => Ok(Round::Nil),
        r if (0..=i64::from(u32::MAX)).contains(&r) => Ok(Round::new(r as u32)),
        _ => Err(CodecError::Invalid("round")),
    }
}

fn sig_from_wire(bytes: &[u8]) -> Result<Signature, CodecError> {
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| CodecError::Invalid("signature length"))?;
    Ok(Signature::from_bytes(bytes))
}

fn sig_to_wire(sig: &Signature) -> Vec<u8> {
    sig.to_bytes().to_vec()
}

fn vote_type_to_wire(t: VoteType) -> u8 {
    match t {
        VoteType::Prevote => 1,
        VoteType::Precommit => 2,
    }
}

fn vote_type_from_wire(t: u8) -> Result<VoteType, CodecError> {
    match t {
        1 => Ok(VoteType::Prevote),
        2 => Ok(VoteType::Precommit),
        _ => Err(CodecError::Invalid("vote type")),
    }
}

fn nil_or_val_to_wire(v: &NilOrVal<BlockHash>) -> Option<Hash> {
    match v {
        NilOrVal::Nil => None,
        NilOrVal::Val(h) => Some(h.0),
    }
}

fn nil_or_val_from_wire(v: Option<Hash>) -> NilOrVal<BlockHash> {
    match v {
        None => NilOrVal::Nil,
        Some(h) => NilOrVal::Val(BlockHash(h)),
    }
}

fn addr(a: [u8; 20]) -> Address {
    Address(ValidatorAddress(a))
}

// ---- votes and proposals ---------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct WireVote {
    vote_type: u8,
    height: u64,
    round: i64,
    value: Option<Hash>,
    validator: [u8; 20],
    /// Signature of a vote extension (Veil has none; kept so a vote round-trips).
    extension_signature: Option<Vec<u8>>,
}

impl WireVote {
    fn from_vote(v: &Vote) -> Self {
        WireVote {
            vote_type: vote_type_to_wire(v.vote_type),
            height: v.height.0,
            round: round_to_wire(v.round),
            value: nil_or_val_to_wire(&v.value),
            validator: v.validator.0 .0,
            extension_signature: v.extension.as_ref().map(|e| sig_to_wire(&e.signature)),
        }
    }

    fn into_vote(self) -> Result<Vote, CodecError> {
        Ok(Vote {
            vote_type: vote_type_from_wire(self.vote_type)?,
            height: Height(self.height),
            round: round_from_wire(self.round)?,
            value: nil_or_val_from_wire(self.value),
            validator: addr(self.validator),
            extension: match self.extension_signature {
                None => None,
                Some(sig) => Some(SignedMessage::new((), sig_from_wire(&sig)?)),
            },
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireSignedVote {
    vote: WireVote,
    signature: Vec<u8>,
}

impl WireSignedVote {
    fn from_signed(v: &SignedMessage<Ctx, Vote>) -> Self {
        WireSignedVote {
            vote: WireVote::from_vote(&v.message),
            signature: sig_to_wire(&v.signature),
        }
    }

    fn into_signed(self) -> Result<SignedMessage<Ctx, Vote>, CodecError> {
        Ok(SignedMessage::new(
            self.vote.into_vote()?,
            sig_from_wire(&self.signature)?,
        ))
    }
}

#[derive(Serialize, Deserialize)]
struct WireProposal {
    height: u64,
    round: i64,
    block_hash: Hash,
    pol_round: i64,
    proposer: [u8; 20],
    signature: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
enum WireConsensusMsg {
    Vote(WireSignedVote),
    Proposal(WireProposal),
}

impl Codec<SignedConsensusMsg<Ctx>> for VeilCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<SignedConsensusMsg<Ctx>, CodecError> {
        Ok(match decode::<WireConsensusMsg>(&bytes)? {
            WireConsensusMsg::Vote(v) => SignedConsensusMsg::Vote(v.into_signed()?),
            WireConsensusMsg::Proposal(p) => SignedConsensusMsg::Proposal(SignedMessage::new(
                Proposal {
                    height: Height(p.height),
                    round: round_from_wire(p.round)?,
                    value: Value::new(p.block_hash),
                    pol_round: round_from_wire(p.pol_round)?,
                    proposer: addr(p.proposer),
                },
                sig_from_wire(&p.signature)?,
            )),
        })
    }

    fn encode(&self, msg: &SignedConsensusMsg<Ctx>) -> Result<Bytes, CodecError> {
        encode(&match msg {
            SignedConsensusMsg::Vote(v) => WireConsensusMsg::Vote(WireSignedVote::from_signed(v)),
            SignedConsensusMsg::Proposal(p) => WireConsensusMsg::Proposal(WireProposal {
                height: p.height.0,
                round: round_to_wire(p.round),
                block_hash: p.value.block_hash.0,
                pol_round: round_to_wire(p.pol_round),
                proposer: p.proposer.0 .0,
                signature: sig_to_wire(&p.signature),
            }),
        })
    }
}

// ---- certificates ----------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct WirePolka {
    height: u64,
    round: i64,
    block_hash: Hash,
    signatures: Vec<([u8; 20], Vec<u8>)>,
}

impl WirePolka {
    fn from_cert(c: &PolkaCertificate<Ctx>) -> Self {
        WirePolka {
            height: c.height.0,
            round: round_to_wire(c.round),
            block_hash: c.value_id.0,
            signatures: c
                .polka_signatures
                .iter()
                .map(|s| (s.address.0 .0, sig_to_wire(&s.signature)))
                .collect(),
        }
    }

    fn into_cert(self) -> Result<PolkaCertificate<Ctx>, CodecError> {
        Ok(PolkaCertificate {
            height: Height(self.height),
            round: round_from_wire(self.round)?,
            value_id: BlockHash(self.block_hash),
            polka_signatures: self
                .signatures
                .into_iter()
                .map(|(a, s)| Ok(PolkaSignature::new(addr(a), sig_from_wire(&s)?)))
                .collect::<Result<_, CodecError>>()?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireRoundSignature {
    vote_type: u8,
    value: Option<Hash>,
    validator: [u8; 20],
    signature: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct WireRoundCertificate {
    height: u64,
    round: i64,
    /// 0 = skip, 1 = precommit.
    cert_type: u8,
    signatures: Vec<WireRoundSignature>,
}

impl WireRoundCertificate {
    fn from_cert(c: &RoundCertificate<Ctx>) -> Self {
        WireRoundCertificate {
            height: c.height.0,
            round: round_to_wire(c.round),
            cert_type: match c.cert_type {
                RoundCertificateType::Skip => 0,
                RoundCertificateType::Precommit => 1,
            },
            signatures: c
                .round_signatures
                .iter()
                .map(|s| WireRoundSignature {
                    vote_type: vote_type_to_wire(s.vote_type),
                    value: nil_or_val_to_wire(&s.value_id),
                    validator: s.address.0 .0,
                    signature: sig_to_wire(&s.signature),
                })
                .collect(),
        }
    }

    fn into_cert(self) -> Result<RoundCertificate<Ctx>, CodecError> {
        Ok(RoundCertificate {
            height: Height(self.height),
            round: round_from_wire(self.round)?,
            cert_type: match self.cert_type {
                0 => RoundCertificateType::Skip,
                1 => RoundCertificateType::Precommit,
                _ => return Err(CodecError::Invalid("round certificate type")),
            },
            round_signatures: self
                .signatures
                .into_iter()
                .map(|s| {
                    Ok(RoundSignature::new(
                        vote_type_from_wire(s.vote_type)?,
                        nil_or_val_from_wire(s.value),
                        addr(s.validator),
                        sig_from_wire(&s.signature)?,
                    ))
                })
                .collect::<Result<_, CodecError>>()?,
        })
    }
}

#[derive(Serialize, Deserialize)]
enum WireLiveness {
    Vote(WireSignedVote),
    Polka(WirePolka),
    SkipRound(WireRoundCertificate),
}

impl Codec<LivenessMsg<Ctx>> for VeilCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<LivenessMsg<Ctx>, CodecError> {
        Ok(match decode::<WireLiveness>(&bytes)? {
            WireLiveness::Vote(v) => LivenessMsg::Vote(v.into_signed()?),
            WireLiveness::Polka(p) => LivenessMsg::PolkaCertificate(p.into_cert()?),
            WireLiveness::SkipRound(c) => LivenessMsg::SkipRoundCertificate(c.into_cert()?),
        })
    }

    fn encode(&self, msg: &LivenessMsg<Ctx>) -> Result<Bytes, CodecError> {
        encode(&match msg {
            LivenessMsg::Vote(v) => WireLiveness::Vote(WireSignedVote::from_signed(v)),
            LivenessMsg::PolkaCertificate(c) => WireLiveness::Polka(WirePolka::from_cert(c)),
            LivenessMsg::SkipRoundCertificate(c) => {
                WireLiveness::SkipRound(WireRoundCertificate::from_cert(c))
            }
        })
    }
}

impl Codec<PolkaCertificate<Ctx>> for VeilCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<PolkaCertificate<Ctx>, CodecError> {
        decode::<WirePolka>(&bytes)?.into_cert()
    }

    fn encode(&self, msg: &PolkaCertificate<Ctx>) -> Result<Bytes, CodecError> {
        encode(&WirePolka::from_cert(msg))
    }
}

#[derive(Serialize, Deserialize)]
struct WireCommitSignature {
    validator: [u8; 20],
    signature: Vec<u8>,
    extension_signature: Option<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct WireCommitCertificate {
    height: u64,
    round: i64,
    block_hash: Hash,
    signatures: Vec<WireCommitSignature>,
}

impl WireCommitCertificate {
    fn from_cert(c: &ExtendedCommitCertificate<Ctx>) -> Self {
        WireCommitCertificate {
            height: c.height.0,
            round: round_to_wire(c.round),
            block_hash: c.value_id.0,
            signatures: c
                .commit_signatures
                .iter()
                .map(|s| WireCommitSignature {
                    validator: s.address.0 .0,
                    signature: sig_to_wire(&s.signature),
                    extension_signature: s.extension.as_ref().map(|e| sig_to_wire(&e.signature)),
                })
                .collect(),
        }
    }

    fn into_cert(self) -> Result<ExtendedCommitCertificate<Ctx>, CodecError> {
        Ok(ExtendedCommitCertificate {
            height: Height(self.height),
            round: round_from_wire(self.round)?,
            value_id: BlockHash(self.block_hash),
            commit_signatures: self
                .signatures
                .into_iter()
                .map(|s| {
                    Ok(ExtendedCommitSignature::new(
                        addr(s.validator),
                        sig_from_wire(&s.signature)?,
                        match s.extension_signature {
                            None => None,
                            Some(e) => Some(SignedMessage::new((), sig_from_wire(&e)?)),
                        },
                    ))
                })
                .collect::<Result<_, CodecError>>()?,
        })
    }
}

// ---- proposal parts and streams --------------------------------------------------------

#[derive(Serialize, Deserialize)]
enum WirePart {
    Init {
        height: u64,
        round: i64,
        pol_round: i64,
        proposer: [u8; 20],
    },
    Data(#[serde(with = "veil_types::serde_bytes_b64")] Vec<u8>),
    Fin {
        block_hash: Hash,
        signature: Vec<u8>,
    },
}

impl WirePart {
    fn from_part(p: &ProposalPart) -> Self {
        match p {
            ProposalPart::Init {
                height,
                round,
                pol_round,
                proposer,
            } => WirePart::Init {
                height: height.0,
                round: round_to_wire(*round),
                pol_round: round_to_wire(*pol_round),
                proposer: proposer.0 .0,
            },
            ProposalPart::Data(data) => WirePart::Data(data.to_vec()),
            ProposalPart::Fin {
                block_hash,
                signature,
            } => WirePart::Fin {
                block_hash: block_hash.0,
                signature: sig_to_wire(signature),
            },
        }
    }

    fn into_part(self) -> Result<ProposalPart, CodecError> {
        Ok(match self {
            WirePart::Init {
                height,
                round,
                pol_round,
                proposer,
            } => ProposalPart::Init {
                height: Height(height),
                round: round_from_wire(round)?,
                pol_round: round_from_wire(pol_round)?,
                proposer: addr(proposer),
            },
            WirePart::Data(data) => ProposalPart::Data(Bytes::from(data)),
            WirePart::Fin {
                block_hash,
                signature,
            } => ProposalPart::Fin {
                block_hash: BlockHash(block_hash),
                signature: sig_from_wire(&signature)?,
            },
        })
    }
}

impl Codec<ProposalPart> for VeilCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ProposalPart, CodecError> {
        decode::<WirePart>(&bytes)?.into_part()
    }

    fn encode(&self, msg: &ProposalPart) -> Result<Bytes, CodecError> {
        encode(&WirePart::from_part(msg))
    }
}

#[derive(Serialize, Deserialize)]
struct WireStreamMessage {
    #[serde(with = "veil_types::serde_bytes_b64")]
    stream_id: Vec<u8>,
    sequence: u64,
    /// `None` is the end of the stream.
    part: Option<WirePart>,
}

impl Codec<StreamMessage<ProposalPart>> for VeilCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<StreamMessage<ProposalPart>, CodecError> {
        let w = decode::<WireStreamMessage>(&bytes)?;
        Ok(StreamMessage::new(
            StreamId::new(Bytes::from(w.stream_id)),
            w.sequence,
            match w.part {
                None => StreamContent::Fin,
                Some(p) => StreamContent::Data(p.into_part()?),
            },
        ))
    }

    fn encode(&self, msg: &StreamMessage<ProposalPart>) -> Result<Bytes, CodecError> {
        encode(&WireStreamMessage {
            stream_id: msg.stream_id.to_bytes().to_vec(),
            sequence: msg.sequence,
            part: match &msg.content {
                StreamContent::Fin => None,
                StreamContent::Data(p) => Some(WirePart::from_part(p)),
            },
        })
    }
}

// ---- validator proofs (libp2p peer id bound to a consensus key) -------------------------

#[derive(Serialize, Deserialize)]
struct WireValidatorProof {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: Vec<u8>,
}

impl Codec<ValidatorProof<Ctx>> for VeilCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<Ctx>, CodecError> {
        let w = decode::<WireValidatorProof>(&bytes)?;
        Ok(ValidatorProof::new(
            w.public_key,
            w.peer_id,
            sig_from_wire(&w.signature)?,
        ))
    }

    fn encode(&self, msg: &ValidatorProof<Ctx>) -> Result<Bytes, CodecError> {
        encode(&WireValidatorProof {
            public_key: msg.public_key.clone(),
            peer_id: msg.peer_id.clone(),
            signature: sig_to_wire(&msg.signature),
        })
    }
}

// ---- WAL: proposed values --------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct WireProposedValue {
    height: u64,
    round: i64,
    valid_round: i64,
    proposer: [u8; 20],
    block_hash: Hash,
    valid: bool,
}

impl Codec<ProposedValue<Ctx>> for VeilCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ProposedValue<Ctx>, CodecError> {
        let w = decode::<WireProposedValue>(&bytes)?;
        Ok(ProposedValue {
            height: Height(w.height),
            round: round_from_wire(w.round)?,
            valid_round: round_from_wire(w.valid_round)?,
            proposer: addr(w.proposer),
            value: Value::new(w.block_hash),
            validity: Validity::from_bool(w.valid),
        })
    }

    fn encode(&self, msg: &ProposedValue<Ctx>) -> Result<Bytes, CodecError> {
        encode(&WireProposedValue {
            height: msg.height.0,
            round: round_to_wire(msg.round),
            valid_round: round_to_wire(msg.valid_round),
            proposer: msg.proposer.0 .0,
            block_hash: msg.value.block_hash.0,
            valid: msg.validity.is_valid(),
        })
    }
}

// ---- value sync ------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct WireStatus {
    peer_id: Vec<u8>,
    tip_height: u64,
    history_min_height: u64,
}

fn peer_id_from_wire(bytes: &[u8]) -> Result<PeerId, CodecError> {
    PeerId::from_bytes(bytes).map_err(|_| CodecError::Invalid("peer id"))
}

impl Codec<Status<Ctx>> for VeilCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Status<Ctx>, CodecError> {
        let w = decode::<WireStatus>(&bytes)?;
        Ok(Status {
            peer_id: peer_id_from_wire(&w.peer_id)?,
            tip_height: Height(w.tip_height),
            history_min_height: Height(w.history_min_height),
        })
    }

    fn encode(&self, msg: &Status<Ctx>) -> Result<Bytes, CodecError> {
        encode(&WireStatus {
            peer_id: msg.peer_id.to_bytes(),
            tip_height: msg.tip_height.0,
            history_min_height: msg.history_min_height.0,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireValueRequest {
    start: u64,
    end: u64,
}

impl Codec<Request<Ctx>> for VeilCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Request<Ctx>, CodecError> {
        let w = decode::<WireValueRequest>(&bytes)?;
        Ok(Request::ValueRequest(engine_sync::ValueRequest::new(
            Height(w.start)..=Height(w.end),
        )))
    }

    fn encode(&self, msg: &Request<Ctx>) -> Result<Bytes, CodecError> {
        let Request::ValueRequest(r) = msg;
        encode(&WireValueRequest {
            start: r.range.start().0,
            end: r.range.end().0,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireDecidedValue {
    #[serde(with = "veil_types::serde_bytes_b64")]
    block: Vec<u8>,
    certificate: WireCommitCertificate,
}

#[derive(Serialize, Deserialize)]
struct WireValueResponse {
    start_height: u64,
    values: Vec<WireDecidedValue>,
}

impl Codec<Response<Ctx>> for VeilCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Response<Ctx>, CodecError> {
        let w = decode::<WireValueResponse>(&bytes)?;
        let values = w
            .values
            .into_iter()
            .map(|v| {
                Ok(RawDecidedValue::new(
                    Bytes::from(v.block),
                    v.certificate.into_cert()?,
                ))
            })
            .collect::<Result<_, CodecError>>()?;
        Ok(Response::ValueResponse(engine_sync::ValueResponse::new(
            Height(w.start_height),
            values,
        )))
    }

    fn encode(&self, msg: &Response<Ctx>) -> Result<Bytes, CodecError> {
        let Response::ValueResponse(r) = msg;
        encode(&WireValueResponse {
            start_height: r.start_height.0,
            values: r
                .values
                .iter()
                .map(|v| WireDecidedValue {
                    block: v.value_bytes.to_vec(),
                    certificate: WireCommitCertificate::from_cert(&v.certificate),
                })
                .collect(),
        })
    }
}

impl HasEncodedLen<Response<Ctx>> for VeilCodec {
    fn encoded_len(&self, msg: &Response<Ctx>) -> Result<usize, CodecError> {
        Ok(<Self as Codec<Response<Ctx>>>::encode(self, msg)?.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::VeilSigner;
    use malachitebft_app_channel::app::types::core::Context as _;
    use malachitebft_app_channel::Signer as _;
    use malachitebft_signing_ed25519::PrivateKey;

    fn round_trip<T>(msg: &T) -> T
    where
        VeilCodec: Codec<T>,
        <VeilCodec as Codec<T>>::Error: std::fmt::Debug,
    {
        let bytes = VeilCodec.encode(msg).unwrap();
        VeilCodec.decode(bytes).unwrap()
    }

    #[tokio::test]
    async fn messages_round_trip() {
        let ctx = VeilContext::new("c");
        let signer = VeilSigner::new(&ctx, PrivateKey::from([3; 32]));
        let a = crate::context::address_of(&signer.public_key());
        let vote = ctx.new_precommit(
            Height(9),
            Round::new(1),
            NilOrVal::Val(BlockHash([4; 32])),
            a,
        );
        let signed = signer.sign_vote(vote).await.unwrap();
        let msg = SignedConsensusMsg::Vote(signed.clone());
        assert_eq!(round_trip(&msg), msg);
        let proposal =
            ctx.new_proposal(Height(9), Round::new(1), Value::new([5; 32]), Round::Nil, a);
        let msg = SignedConsensusMsg::Proposal(signer.sign_proposal(proposal).await.unwrap());
        assert_eq!(round_trip(&msg), msg);
        let live = LivenessMsg::Vote(signed.clone());
        assert_eq!(round_trip(&live), live);
        let polka = PolkaCertificate::new(Height(9), Round::new(1), BlockHash([4; 32]), vec![]);
        assert_eq!(round_trip(&polka), polka);
        for part in [
            ProposalPart::Init {
                height: Height(2),
                round: Round::new(0),
                pol_round: Round::Nil,
                proposer: a,
            },
            ProposalPart::Data(Bytes::from_static(b"block")),
            ProposalPart::Fin {
                block_hash: BlockHash([1; 32]),
                signature: Signature::from_bytes([6; 64]),
            },
        ] {
            assert_eq!(round_trip(&part), part);
            let msg = StreamMessage::new(
                StreamId::new(Bytes::from_static(b"s")),
                3,
                StreamContent::Data(part),
            );
            assert_eq!(round_trip(&msg), msg);
        }
        let cert = ExtendedCommitCertificate::from_votes(
            Height(9),
            Round::new(1),
            BlockHash([4; 32]),
            vec![signed],
        );
        assert_eq!(cert.commit_signatures.len(), 1);
        let response = Response::ValueResponse(engine_sync::ValueResponse::new(
            Height(9),
            vec![RawDecidedValue::new(Bytes::from_static(b"blk"), cert)],
        ));
        assert_eq!(round_trip(&response), response);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let inputs: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xff; 3],
            vec![0, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            (0..200u8).collect(),
        ];
        for bytes in inputs {
            let b = Bytes::from(bytes);
            let _ = <VeilCodec as Codec<SignedConsensusMsg<Ctx>>>::decode(&VeilCodec, b.clone());
            let _ = <VeilCodec as Codec<LivenessMsg<Ctx>>>::decode(&VeilCodec, b.clone());
            let _ =
                <VeilCodec as Codec<StreamMessage<ProposalPart>>>::decode(&VeilCodec, b.clone());
            let _ = <VeilCodec as Codec<Response<Ctx>>>::decode(&VeilCodec, b.clone());
            let _ = <VeilCodec as Codec<Status<Ctx>>>::decode(&VeilCodec, b.clone());
            let _ = <VeilCodec as Codec<ValidatorProof<Ctx>>>::decode(&VeilCodec, b);
        }
        // A round outside u32 and a short signature are refused.
        let bad_round = WireProposedValue {
            height: 1,
            round: i64::from(u32::MAX) + 1,
            valid_round: -1,
            proposer: [0; 20],
            block_hash: [0; 32],
            valid: true,
        };
        let bytes = encode(&bad_round).unwrap();
        assert!(<VeilCodec as Codec<ProposedValue<Ctx>>>::decode(&VeilCodec, bytes).is_err());
        let short_sig = WireValidatorProof {
            public_key: vec![1; 32],
            peer_id: vec![],
            signature: vec![0; 63],
        };
        let bytes = encode(&short_sig).unwrap();
        assert!(<VeilCodec as Codec<ValidatorProof<Ctx>>>::decode(&VeilCodec, bytes).is_err());
    }
}
