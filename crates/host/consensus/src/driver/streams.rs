//! Proposal stream reassembly: the parts of a proposed block, bounded in number and size.

use super::*;

/// Streams being received, bounded in number and size (a peer cannot make us buffer more
/// than `MAX_STREAMS` blocks of the maximum size).
#[derive(Default)]
pub(super) struct Streams {
    pub(super) streams: HashMap<(PeerId, StreamId), PartialStream>,
    pub(super) arrival: u64,
}

pub(super) const MAX_STREAMS: usize = 64;
/// Streams for rounds this far beyond the current one are ignored.
pub(super) const MAX_ROUNDS_AHEAD: u32 = 4;
/// Blocks kept from one proposer's streams for one round (more is equivocation).
pub(super) const MAX_BLOCKS_PER_ROUND: usize = 2;
/// Streams for heights this far beyond the current one are ignored.
pub(super) const MAX_HEIGHTS_AHEAD: u64 = 4;

pub(super) struct PartialStream {
    pub(super) arrival: u64,
    pub(super) height: Option<u64>,
    pub(super) parts: BTreeMap<u64, ProposalPart>,
    /// Sequence number of the end-of-stream message.
    pub(super) fin: Option<u64>,
    pub(super) bytes: usize,
}

pub(super) struct CompleteStream {
    pub(super) height: u64,
    pub(super) round: Round,
    pub(super) pol_round: Round,
    pub(super) proposer: Address,
    pub(super) claimed_hash: BlockHash,
    pub(super) signature: Signature,
    pub(super) block: Bytes,
}

impl Streams {
    pub(super) fn retain_from(&mut self, height: u64) {
        self.streams
            .retain(|_, s| s.height.is_none_or(|h| h >= height));
    }

    pub(super) fn insert(
        &mut self,
        peer: PeerId,
        msg: StreamMessage<ProposalPart>,
        params: &Params,
    ) -> Option<CompleteStream> {
        let key = (peer, msg.stream_id.clone());
        if !self.streams.contains_key(&key) {
            if self.streams.len() >= MAX_STREAMS {
                // Drop the oldest stream.
                let oldest = self
                    .streams
                    .iter()
                    .min_by_key(|(_, s)| s.arrival)
                    .map(|(k, _)| k.clone())?;
                self.streams.remove(&oldest);
            }
            self.arrival += 1;
            self.streams.insert(
                key.clone(),
                PartialStream {
                    arrival: self.arrival,
                    height: None,
                    parts: BTreeMap::new(),
                    fin: None,
                    bytes: 0,
                },
            );
        }
        let stream = self.streams.get_mut(&key)?;
        let max_parts = (params.max_block_bytes / params.part_bytes) as u64 + 3;
        if msg.sequence > max_parts {
            self.streams.remove(&key);
            return None;
        }
        match msg.content {
            StreamContent::Fin => stream.fin = Some(msg.sequence),
            StreamContent::Data(part) => {
                if let ProposalPart::Init { height, .. } = &part {
                    if msg.sequence != 0 {
                        self.streams.remove(&key);
                        return None;
                    }
                    stream.height = Some(height.0);
                }
                if let ProposalPart::Data(data) = &part {
                    stream.bytes += data.len();
                }
                // A repeated sequence replaces the earlier part.
                if let Some(ProposalPart::Data(old)) = stream.parts.insert(msg.sequence, part) {
                    stream.bytes -= old.len();
                }
            }
        }
        if stream.bytes > params.max_block_bytes {
            self.streams.remove(&key);
            return None;
        }
        let fin = stream.fin?;
        if stream.parts.len() as u64 != fin {
            return None;
        }
        // `fin` distinct sequences, all below `fin`: exactly 0..fin.
        if stream
            .parts
            .keys()
            .next_back()
            .is_some_and(|last| *last >= fin)
        {
            self.streams.remove(&key);
            return None;
        }
        let stream = self.streams.remove(&key)?;
        assemble(stream)
    }
}

pub(super) fn assemble(stream: PartialStream) -> Option<CompleteStream> {
    let mut parts = stream.parts.into_values();
    let ProposalPart::Init {
        height,
        round,
        pol_round,
        proposer,
    } = parts.next()?
    else {
        return None;
    };
    let mut block = Vec::with_capacity(stream.bytes);
    let mut fin = None;
    for part in parts {
        match part {
            ProposalPart::Data(data) if fin.is_none() => block.extend_from_slice(&data),
            ProposalPart::Fin {
                block_hash,
                signature,
            } if fin.is_none() => fin = Some((block_hash, signature)),
            _ => return None,
        }
    }
    let (claimed_hash, signature) = fin?;
    Some(CompleteStream {
        height: height.0,
        round,
        pol_round,
        proposer,
        claimed_hash,
        signature,
        block: Bytes::from(block),
    })
}
