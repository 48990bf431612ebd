//! Veil's Malachite [`Context`]: heights, validators, the consensus value (a block hash),
//! proposals, proposal parts, votes, and the ed25519 signer and verifier.
//!
//! Votes are signed over [`veil_types::consensus::vote_sign_bytes`] exactly, so that the
//! certificate Malachite assembles converts one-to-one into the shared
//! [`veil_types::consensus::CommitCertificate`] the enclave verifies.
//!
//! Proposals are signed over `"veil/proposal-v1" || chain id (u32 BE length, bytes) ||
//! height u64 BE || round u32 BE || POL round i64 BE (-1 = none) || block hash (32)`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use malachitebft_app_channel::app::types::core::{
    self as mtypes, Context, LinearTimeouts, NilOrVal, Round, SignedExtension, SignedMessage,
    ValidatorProof, VoteExtensionScope, VoteType, VotingPower,
};
use malachitebft_app_channel::{Signer, Verifier};
use malachitebft_signing::{Error as SigningError, VerificationResult};
use malachitebft_signing_ed25519::{Ed25519, PrivateKey, PublicKey, Signature};
use veil_types::consensus::{self as shared, ValidatorAddress};
use veil_types::Hash;

/// Domain separation of proposal signatures.
pub const PROPOSAL_SIGN_DOMAIN: &[u8] = b"veil/proposal-v1";

/// A block height (the first block is 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mtypes::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address (see [`ValidatorAddress`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub ValidatorAddress);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.0)
    }
}

impl mtypes::Address for Address {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub address: Address,
    pub public_key: PublicKey,
    pub voting_power: VotingPower,
}

impl mtypes::Validator<VeilContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The shared validator set, with Malachite's view of each member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    shared: Arc<shared::ValidatorSet>,
    validators: Arc<Vec<Validator>>,
}

impl ValidatorSet {
    pub fn new(shared: shared::ValidatorSet) -> Self {
        let validators = shared
            .validators()
            .iter()
            .map(|v| Validator {
                address: Address(v.address),
                // The shared set has already checked that the key is a valid point.
                public_key: PublicKey::new(*v.verification_key()),
                voting_power: v.voting_power,
            })
            .collect();
        ValidatorSet {
            shared: Arc::new(shared),
            validators: Arc::new(validators),
        }
    }

    pub fn shared(&self) -> &shared::ValidatorSet {
        &self.shared
    }

    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }
}

impl mtypes::ValidatorSet<VeilContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.shared.total_power()
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators
            .binary_search_by(|v| v.address.cmp(address))
            .ok()
            .map(|i| &self.validators[i])
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// The 32-byte block hash consensus decides on.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockHash(pub Hash);

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({self})")
    }
}

/// The consensus value: a block, named by its hash.
///
/// The block's bytes are not part of the value: they travel once, in the proposal parts
/// (and in value sync responses), and the driver keeps them keyed by this hash. The signed
/// proposal message, which Malachite gossips separately, so stays small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Value {
    pub block_hash: BlockHash,
}

impl Value {
    pub fn new(block_hash: Hash) -> Self {
        Value {
            block_hash: BlockHash(block_hash),
        }
    }
}

impl mtypes::Value for Value {
    type Id = BlockHash;

    fn id(&self) -> BlockHash {
        self.block_hash
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub height: Height,
    pub round: Round,
    pub value: Value,
    pub pol_round: Round,
    pub proposer: Address,
}

impl Proposal {
    /// The bytes the proposer signs; `None` if the round is undefined.
    pub fn sign_bytes(&self, chain_id: &str) -> Option<Vec<u8>> {
        let round = self.round.as_u32()?;
        let mut bytes = Vec::with_capacity(PROPOSAL_SIGN_DOMAIN.len() + 4 + chain_id.len() + 52);
        bytes.extend_from_slice(PROPOSAL_SIGN_DOMAIN);
        bytes.extend_from_slice(&(chain_id.len() as u32).to_be_bytes());
        bytes.extend_from_slice(chain_id.as_bytes());
        bytes.extend_from_slice(&self.height.0.to_be_bytes());
        bytes.extend_from_slice(&round.to_be_bytes());
        bytes.extend_from_slice(&self.pol_round.as_i64().to_be_bytes());
        bytes.extend_from_slice(&self.value.block_hash.0);
        Some(bytes)
    }
}

impl mtypes::Proposal<VeilContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &Value {
        &self.value
    }

    fn take_value(self) -> Value {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// One message of a proposal stream: `Init`, the block in `Data` chunks, then `Fin`.
///
/// `Fin` carries the proposer's signature of the [`Proposal`] the stream is for (height,
/// round and POL round of `Init`, and the hash of the streamed bytes): the very signature
/// of the proposal message. A receiver keeps a stream only if that signature is the
/// round's proposer's, so no other peer can make it store blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    Init {
        height: Height,
        round: Round,
        pol_round: Round,
        proposer: Address,
    },
    Data(bytes::Bytes),
    Fin {
        block_hash: BlockHash,
        signature: Signature,
    },
}

impl mtypes::ProposalPart<VeilContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    pub vote_type: VoteType,
    pub height: Height,
    pub round: Round,
    pub value: NilOrVal<BlockHash>,
    pub validator: Address,
    pub extension: Option<SignedExtension<VeilContext>>,
}

impl Vote {
    /// The shared vote sign bytes; `None` if the round is undefined.
    pub fn sign_bytes(&self, chain_id: &str) -> Option<Vec<u8>> {
        let round = self.round.as_u32()?;
        let vote_type = match self.vote_type {
            VoteType::Prevote => shared::VoteType::Prevote,
            VoteType::Precommit => shared::VoteType::Precommit,
        };
        let value = match &self.value {
            NilOrVal::Nil => None,
            NilOrVal::Val(hash) => Some(&hash.0),
        };
        Some(shared::vote_sign_bytes(
            chain_id,
            vote_type,
            self.height.0,
            round,
            value,
        ))
    }
}

impl mtypes::Vote<VeilContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &Address {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<VeilContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<VeilContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<VeilContext>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// Veil's consensus context. It carries the chain id, which every signature commits to.
#[derive(Clone, Debug)]
pub struct VeilContext {
    chain_id: Arc<str>,
}

impl VeilContext {
    pub fn new(chain_id: &str) -> Self {
        VeilContext {
            chain_id: chain_id.into(),
        }
    }

    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Round-robin over the set's address order, starting at height 1, round 0 with the
    /// first validator. (Not weighted by voting power: genesis sets are equal-power for
    /// now; weighted rotation hooks in here with validator set changes.)
    pub fn proposer<'a>(
        &self,
        set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let n = set.validators.len() as u64;
        let round = u64::from(round.as_u32().unwrap_or(0));
        let index = (height.0.wrapping_sub(1).wrapping_add(round)) % n;
        &set.validators[index as usize]
    }
}

impl Context for VeilContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = Value;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        self.proposer(validator_set, height, round)
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: Value,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }
}

/// The address of an ed25519 public key.
pub fn address_of(public_key: &PublicKey) -> Address {
    Address(ValidatorAddress::from_public_key(public_key.as_bytes()))
}

fn undefined_round() -> SigningError {
    SigningError::from_source("cannot sign a message for an undefined round")
}

fn verify(
    public_key: &PublicKey,
    bytes: Option<Vec<u8>>,
    signature: &Signature,
) -> VerificationResult {
    VerificationResult::from_bool(
        bytes.is_some_and(|bytes| public_key.verify(&bytes, signature).is_ok()),
    )
}

/// Verifies votes, proposals and validator proofs of the chain (holds no key).
#[derive(Clone, Debug)]
pub struct VeilVerifier {
    chain_id: Arc<str>,
}

impl VeilVerifier {
    pub fn new(ctx: &VeilContext) -> Self {
        VeilVerifier {
            chain_id: ctx.chain_id.clone(),
        }
    }
}

#[async_trait]
impl Verifier<VeilContext> for VeilVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verify(
            public_key,
            vote.sign_bytes(&self.chain_id),
            signature,
        ))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(verify(
            public_key,
            proposal.sign_bytes(&self.chain_id),
            signature,
        ))
    }

    async fn verify_signed_vote_extension(
        &self,
        _scope: &VoteExtensionScope<VeilContext>,
        _extension: &(),
        _signature: &Signature,
        _public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        // Veil does not use vote extensions: none is ever valid.
        Ok(VerificationResult::Invalid)
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<VeilContext>,
    ) -> Result<VerificationResult, SigningError> {
        let Ok(public_key) = proof.decoded_public_key() else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(verify(
            &public_key,
            Some(proof.preimage()),
            &proof.signature,
        ))
    }
}

/// Signs with a validator's ed25519 consensus key (held by the host, never the enclave's).
pub struct VeilSigner {
    key: PrivateKey,
    verifier: VeilVerifier,
}

impl VeilSigner {
    pub fn new(ctx: &VeilContext, key: PrivateKey) -> Self {
        VeilSigner {
            key,
            verifier: VeilVerifier::new(ctx),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }
}

#[async_trait]
impl Signer<VeilContext> for VeilSigner {
    async fn sign_vote(
        &self,
        vote: Vote,
    ) -> Result<SignedMessage<VeilContext, Vote>, SigningError> {
        let bytes = vote
            .sign_bytes(&self.verifier.chain_id)
            .ok_or_else(undefined_round)?;
        let signature = self.key.sign(&bytes);
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<VeilContext, Proposal>, SigningError> {
        let bytes = proposal
            .sign_bytes(&self.verifier.chain_id)
            .ok_or_else(undefined_round)?;
        let signature = self.key.sign(&bytes);
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        _scope: VoteExtensionScope<VeilContext>,
        _extension: (),
    ) -> Result<SignedMessage<VeilContext, ()>, SigningError> {
        Err(SigningError::from_source(
            "Veil does not use vote extensions",
        ))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<VeilContext>, SigningError> {
        let signature = self.key.sign(&ValidatorProof::<VeilContext>::signing_bytes(
            &public_key,
            &peer_id,
        ));
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> PrivateKey {
        PrivateKey::from([i; 32])
    }

    #[tokio::test]
    async fn vote_signatures_are_the_shared_sign_bytes() {
        let ctx = VeilContext::new("veil-test");
        let signer = VeilSigner::new(&ctx, key(1));
        let vote = ctx.new_precommit(
            Height(5),
            Round::new(2),
            NilOrVal::Val(BlockHash([7; 32])),
            address_of(&signer.public_key()),
        );
        let signed = signer.sign_vote(vote.clone()).await.unwrap();
        let shared_bytes = shared::vote_sign_bytes(
            "veil-test",
            shared::VoteType::Precommit,
            5,
            2,
            Some(&[7; 32]),
        );
        let vk =
            ed25519_consensus::VerificationKey::try_from(*signer.public_key().as_bytes()).unwrap();
        vk.verify(
            &ed25519_consensus::Signature::from(signed.signature.to_bytes()),
            &shared_bytes,
        )
        .unwrap();
        let verifier = VeilVerifier::new(&ctx);
        let ok = verifier
            .verify_signed_vote(&vote, &signed.signature, &signer.public_key())
            .await
            .unwrap();
        assert!(ok.is_valid());
        // Another chain's verifier refuses it.
        let other = VeilVerifier::new(&VeilContext::new("other"));
        let ok = other
            .verify_signed_vote(&vote, &signed.signature, &signer.public_key())
            .await
            .unwrap();
        assert!(ok.is_invalid());
        // An undefined round is never signed.
        let mut nil_round = vote;
        nil_round.round = Round::Nil;
        assert!(signer.sign_vote(nil_round).await.is_err());
    }

    #[tokio::test]
    async fn proposal_signatures_verify() {
        let ctx = VeilContext::new("veil-test");
        let signer = VeilSigner::new(&ctx, key(2));
        let proposal = ctx.new_proposal(
            Height(1),
            Round::new(0),
            Value::new([1; 32]),
            Round::Nil,
            address_of(&signer.public_key()),
        );
        let signed = signer.sign_proposal(proposal.clone()).await.unwrap();
        let verifier = VeilVerifier::new(&ctx);
        assert!(verifier
            .verify_signed_proposal(&proposal, &signed.signature, &signer.public_key())
            .await
            .unwrap()
            .is_valid());
        let mut other = proposal;
        other.pol_round = Round::new(0);
        assert!(verifier
            .verify_signed_proposal(&other, &signed.signature, &signer.public_key())
            .await
            .unwrap()
            .is_invalid());
    }

    #[test]
    fn proposer_rotates_over_the_set() {
        let ctx = VeilContext::new("c");
        let set = ValidatorSet::new(
            shared::ValidatorSet::new((1..=4).map(|i| (*key(i).public_key().as_bytes(), 1)))
                .unwrap(),
        );
        let at = |h, r| ctx.proposer(&set, Height(h), Round::new(r)).address;
        assert_eq!(at(1, 0), set.validators()[0].address);
        assert_eq!(at(2, 0), set.validators()[1].address);
        assert_eq!(at(1, 1), set.validators()[1].address);
        assert_eq!(at(4, 1), set.validators()[0].address);
    }
}
