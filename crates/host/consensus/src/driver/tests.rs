use super::*;
use veil_types::consensus::ValidatorAddress;

fn params() -> Params {
    Params {
        block_time: None,
        timeouts: LinearTimeouts::default(),
        max_block_bytes: 100,
        part_bytes: 10,
        peer_wait: Duration::ZERO,
    }
}

fn proposer() -> Address {
    Address(ValidatorAddress([7; 20]))
}

/// The messages of a stream of `block` in 10-byte parts.
fn stream(id: &[u8], block: &[u8]) -> Vec<StreamMessage<ProposalPart>> {
    let sid = StreamId::new(Bytes::copy_from_slice(id));
    let mut parts = vec![ProposalPart::Init {
        height: Height(3),
        round: Round::new(0),
        pol_round: Round::Nil,
        proposer: proposer(),
    }];
    parts.extend(
        block
            .chunks(10)
            .map(|c| ProposalPart::Data(Bytes::copy_from_slice(c))),
    );
    parts.push(ProposalPart::Fin {
        block_hash: BlockHash([9; 32]),
        signature: Signature::from_bytes([0; 64]),
    });
    let n = parts.len() as u64;
    let mut msgs: Vec<_> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| StreamMessage::new(sid.clone(), i as u64, StreamContent::Data(p)))
        .collect();
    msgs.push(StreamMessage::new(sid, n, StreamContent::Fin));
    msgs
}

fn feed(
    streams: &mut Streams,
    peer: PeerId,
    msgs: Vec<StreamMessage<ProposalPart>>,
) -> Vec<CompleteStream> {
    msgs.into_iter()
        .filter_map(|m| streams.insert(peer, m, &params()))
        .collect()
}

#[test]
fn streams_assemble_in_any_order() {
    let peer = PeerId::random();
    let block: Vec<u8> = (0..35).collect();
    let mut streams = Streams::default();
    let done = feed(&mut streams, peer, stream(b"a", &block));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].block.as_ref(), block.as_slice());
    assert_eq!(done[0].height, 3);
    assert_eq!(done[0].claimed_hash, BlockHash([9; 32]));

    let mut reversed = stream(b"b", &block);
    reversed.reverse();
    let mut dup = reversed.clone();
    dup.truncate(3); // repeated parts before the rest
    dup.extend(reversed);
    let done = feed(&mut streams, peer, dup);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].block.as_ref(), block.as_slice());
    assert!(streams.streams.is_empty());
}

#[test]
fn incomplete_oversized_or_malformed_streams_are_dropped() {
    let peer = PeerId::random();
    let mut streams = Streams::default();
    // Missing a middle part: never complete.
    let mut msgs = stream(b"gap", &[1; 30]);
    msgs.remove(2);
    assert!(feed(&mut streams, peer, msgs).is_empty());
    // Larger than the block limit.
    assert!(feed(&mut streams, peer, stream(b"big", &[1; 101])).is_empty());
    // (Its later messages may open a new partial stream, never one over the limit.)
    assert!(streams.streams.values().all(|s| s.bytes <= 100));
    // Init anywhere but first.
    let mut msgs = stream(b"init", &[1; 20]);
    msgs[1].content = msgs[0].content.clone();
    assert!(feed(&mut streams, peer, msgs).is_empty());
    // A sequence number no valid stream reaches.
    let far = StreamMessage::new(
        StreamId::new(Bytes::from_static(b"far")),
        1_000_000,
        StreamContent::Fin,
    );
    assert!(streams.insert(peer, far, &params()).is_none());
    // Two Fin parts, or data after Fin: refused at assembly.
    let mut msgs = stream(b"twofin", &[1; 10]);
    let fin = msgs[2].clone();
    msgs[1].content = fin.content;
    assert!(feed(&mut streams, peer, msgs).is_empty());
}

#[test]
fn the_number_of_open_streams_is_bounded() {
    let mut streams = Streams::default();
    for i in 0..(MAX_STREAMS as u32 * 3) {
        let mut msgs = stream(&i.to_be_bytes(), &[1; 30]);
        msgs.truncate(2);
        assert!(feed(&mut streams, PeerId::random(), msgs).is_empty());
        assert!(streams.streams.len() <= MAX_STREAMS);
    }
    // Pruning below a height drops streams of lower heights.
    streams.retain_from(4);
    assert!(streams.streams.is_empty());
}

#[tokio::test]
async fn double_votes_become_equivocations() {
    use malachitebft_app_channel::app::types::core::{Context as _, NilOrVal};
    let ctx = VeilContext::new("c");
    let signer = VeilSigner::new(&ctx, PrivateKey::from([4; 32]));
    let a = address_of(&signer.public_key());
    let vote = |hash| ctx.new_prevote(Height(2), Round::new(0), NilOrVal::Val(BlockHash(hash)), a);
    let first = signer.sign_vote(vote([1; 32])).await.unwrap();
    let second = signer.sign_vote(vote([2; 32])).await.unwrap();
    let mut evidence = MisbehaviorEvidence::<VeilContext> {
        proposals: Default::default(),
        votes: Default::default(),
    };
    evidence.votes.add(first.clone(), second);
    let found = equivocations(2, &evidence);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].validator, a.0);
    assert_eq!(found[0].kind, EquivocationKind::Vote);
    let decoded: SignedConsensusMsg<VeilContext> = VeilCodec
        .decode(Bytes::from(found[0].first.clone()))
        .unwrap();
    assert_eq!(decoded, SignedConsensusMsg::Vote(first));
}

struct NullApp;

impl Application for NullApp {
    fn propose(&mut self, _: u64) -> Vec<u8> {
        Vec::new()
    }
    fn validate(&mut self, _: u64, block: &[u8]) -> bool {
        block != b"invalid"
    }
    fn commit(&mut self, _: u64, _: &[u8], _: CommitCertificate) -> anyhow::Result<()> {
        anyhow::bail!("not in this test")
    }
    fn decided(&self, _: u64) -> Option<(Vec<u8>, CommitCertificate)> {
        None
    }
    fn last_committed(&self) -> u64 {
        0
    }
}

fn keys() -> Vec<PrivateKey> {
    (1..=4u8).map(|i| PrivateKey::from([i; 32])).collect()
}

fn test_driver(dir: &std::path::Path) -> Driver<NullApp> {
    let keys = keys();
    let set =
        shared::ValidatorSet::new(keys.iter().map(|k| (*k.public_key().as_bytes(), 1))).unwrap();
    let mut driver = Driver::new(
        NullApp,
        VeilContext::new("c"),
        ValidatorSet::new(set),
        address_of(&keys[0].public_key()),
        Params {
            max_block_bytes: 1000,
            ..params()
        },
        keys[0].clone(),
        watch::channel(Status::default()).0,
        BlockCache::open(dir).unwrap(),
    );
    driver.height = 1;
    driver.round = Round::new(0);
    driver
}

/// A complete stream of `block` for (height 1, `round`), signed by `signer`.
fn signed_stream(
    driver: &Driver<NullApp>,
    round: u32,
    block: &[u8],
    signer: &PrivateKey,
) -> CompleteStream {
    let proposer = driver
        .ctx
        .proposer(&driver.validator_set, Height(1), Round::new(round))
        .address;
    let hash = BlockHash(Sha256::digest(block).into());
    let proposal = driver.ctx.new_proposal(
        Height(1),
        Round::new(round),
        Value { block_hash: hash },
        Round::Nil,
        proposer,
    );
    CompleteStream {
        height: 1,
        round: Round::new(round),
        pol_round: Round::Nil,
        proposer,
        claimed_hash: hash,
        signature: signer.sign(&proposal.sign_bytes("c").unwrap()),
        block: Bytes::copy_from_slice(block),
    }
}

fn proposer_key(driver: &Driver<NullApp>, round: u32) -> PrivateKey {
    let address = driver
        .ctx
        .proposer(&driver.validator_set, Height(1), Round::new(round))
        .address;
    keys()
        .into_iter()
        .find(|k| address_of(&k.public_key()) == address)
        .unwrap()
}

#[test]
fn only_the_proposers_signed_streams_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = test_driver(dir.path());
    let right = proposer_key(&d, 0);
    let wrong = proposer_key(&d, 1);

    let value = d
        .complete_stream(signed_stream(&d, 0, b"good", &right))
        .unwrap();
    assert_eq!(value.unwrap().validity, Validity::Valid);
    // The application's verdict is passed on.
    let value = d
        .complete_stream(signed_stream(&d, 0, b"invalid", &right))
        .unwrap();
    assert_eq!(value.unwrap().validity, Validity::Invalid);
    // Another validator's signature: refused, nothing stored.
    let stored = d.blocks.len();
    assert!(d
        .complete_stream(signed_stream(&d, 0, b"x", &wrong))
        .unwrap()
        .is_none());
    // A block that is not the signed hash.
    let mut forged = signed_stream(&d, 0, b"y", &right);
    forged.block = Bytes::from_static(b"z");
    assert!(d.complete_stream(forged).unwrap().is_none());
    // A third block for one round (two are kept as evidence of equivocation at most).
    assert!(d
        .complete_stream(signed_stream(&d, 0, b"third", &right))
        .unwrap()
        .is_none());
    // A round too far ahead.
    let far = MAX_ROUNDS_AHEAD + 1;
    let key = proposer_key(&d, far);
    assert!(d
        .complete_stream(signed_stream(&d, far, b"far", &key))
        .unwrap()
        .is_none());
    assert_eq!(d.blocks.len(), stored);
    // A later height is kept (on disk too) until its round starts.
    let mut later = signed_stream(&d, 0, b"later", &right);
    later.height = 2;
    assert!(d.complete_stream(later).unwrap().is_none());
    assert!(d.pending.is_empty(), "signature was for height 1");
}

#[test]
fn certificates_convert_both_ways() {
    let shared = CommitCertificate {
        height: 4,
        round: 2,
        block_hash: [3; 32],
        signatures: vec![shared::CommitSignature {
            validator: ValidatorAddress([1; 20]),
            signature: [5; 64],
        }],
    };
    let malachite = to_malachite_certificate(&shared);
    assert_eq!(malachite.height, Height(4));
    assert_eq!(
        to_shared_certificate(&malachite.trim_vote_extensions()),
        shared
    );
}
