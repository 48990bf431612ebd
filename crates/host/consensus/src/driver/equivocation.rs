//! Equivocations: what Malachite's misbehaviour evidence says, in Veil's terms.

use super::*;

/// Proof that a validator signed two conflicting messages for one height and round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivocation {
    pub height: u64,
    pub validator: ValidatorAddress,
    pub kind: EquivocationKind,
    /// The two signed messages, each in the consensus wire encoding ([`VeilCodec`]), so
    /// anyone can re-verify the signatures.
    pub first: Vec<u8>,
    pub second: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EquivocationKind {
    Proposal,
    Vote,
}

/// The equivocations in Malachite's evidence of a height.
pub fn equivocations(
    height: u64,
    evidence: &MisbehaviorEvidence<VeilContext>,
) -> Vec<Equivocation> {
    let encode = |msg: SignedConsensusMsg<VeilContext>| {
        VeilCodec
            .encode(&msg)
            .map(|b| b.to_vec())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for (address, pairs) in evidence.proposals.iter() {
        for (a, b) in pairs {
            out.push(Equivocation {
                height,
                validator: address.0,
                kind: EquivocationKind::Proposal,
                first: encode(SignedConsensusMsg::Proposal(a.clone())),
                second: encode(SignedConsensusMsg::Proposal(b.clone())),
            });
        }
    }
    for (address, pairs) in evidence.votes.iter() {
        for (a, b) in pairs {
            out.push(Equivocation {
                height,
                validator: address.0,
                kind: EquivocationKind::Vote,
                first: encode(SignedConsensusMsg::Vote(a.clone())),
                second: encode(SignedConsensusMsg::Vote(b.clone())),
            });
        }
    }
    out
}
