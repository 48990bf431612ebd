//! Equivocation evidence: what consensus (Malachite) reported of a validator signing two
//! conflicting proposals or votes for one height and round, kept durably in the store.
//!
//! Each record is numbered in the order it was recorded (`evidence`, from 0) and indexed
//! by its id (`evidence_ids`), a digest that does not depend on the order of the two
//! messages: the same equivocation reported twice (again at the same height, after a
//! restart, or with its messages swapped) is stored once.

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use veil_consensus::{Equivocation, EquivocationKind};
use veil_types::consensus::ValidatorAddress;
use veil_types::Hash;

use super::{decode, encode, err, Store, StoreError};

/// Records by index (the order they were recorded in): `Evidence`, postcard.
pub(super) const EVIDENCE: TableDefinition<u64, &[u8]> = TableDefinition::new("evidence");
/// Index of each record by [`Evidence::id`].
pub(super) const EVIDENCE_IDS: TableDefinition<&[u8], u64> = TableDefinition::new("evidence_ids");
/// Most evidence records one listing returns.
pub const MAX_EVIDENCE_PAGE: usize = 100;
/// Longest signed message a record may hold (a signed vote or proposal is ~200 bytes).
pub const MAX_EVIDENCE_MESSAGE_BYTES: usize = 64 * 1024;
/// Domain separation of evidence ids.
const EVIDENCE_ID_DOMAIN: &[u8] = b"veil/evidence-v1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// Two signed proposals.
    Proposal,
    /// Two signed votes.
    Vote,
}

/// Proof that a validator signed two conflicting messages for one height and round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub height: u64,
    pub validator: ValidatorAddress,
    pub kind: EvidenceKind,
    /// The two signed messages in the consensus wire encoding (`veil-consensus`'s codec),
    /// so that anyone can verify the signatures again.
    #[serde(with = "veil_types::serde_bytes_b64")]
    pub first: Vec<u8>,
    #[serde(with = "veil_types::serde_bytes_b64")]
    pub second: Vec<u8>,
}

impl From<&Equivocation> for Evidence {
    fn from(e: &Equivocation) -> Self {
        Evidence {
            height: e.height,
            validator: e.validator,
            kind: match e.kind {
                EquivocationKind::Proposal => EvidenceKind::Proposal,
                EquivocationKind::Vote => EvidenceKind::Vote,
            },
            first: e.first.clone(),
            second: e.second.clone(),
        }
    }
}

impl Evidence {
    /// SHA-256 over the domain, the kind, the validator, the height and the two messages
    /// (each length-prefixed) in byte order: the same for either order of the messages.
    pub fn id(&self) -> Hash {
        let (a, b) = if self.first <= self.second {
            (&self.first, &self.second)
        } else {
            (&self.second, &self.first)
        };
        let mut hasher = Sha256::new();
        hasher.update(EVIDENCE_ID_DOMAIN);
        hasher.update([match self.kind {
            EvidenceKind::Proposal => 1u8,
            EvidenceKind::Vote => 2,
        }]);
        hasher.update(self.validator.0);
        hasher.update(self.height.to_be_bytes());
        for message in [a, b] {
            hasher.update((message.len() as u64).to_be_bytes());
            hasher.update(message);
        }
        hasher.finalize().into()
    }

    /// Why this is no evidence worth keeping (none: it may be).
    fn check(&self) -> Result<(), String> {
        if self.first.is_empty() || self.second.is_empty() {
            return Err("a signed message is missing (it did not encode)".into());
        }
        if self.first == self.second {
            return Err("its two messages are the same (no equivocation)".into());
        }
        let longest = self.first.len().max(self.second.len());
        if longest > MAX_EVIDENCE_MESSAGE_BYTES {
            return Err(format!(
                "a message of {longest} bytes is over the {MAX_EVIDENCE_MESSAGE_BYTES}-byte limit"
            ));
        }
        Ok(())
    }
}

/// A stored record as the RPC serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceEntry {
    /// Its number, in the order this node recorded them (from 0).
    pub index: u64,
    #[serde(with = "veil_types::serde_hash")]
    pub id: Hash,
    #[serde(flatten)]
    pub evidence: Evidence,
}

/// One page of [`Store::evidence`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidencePage {
    pub evidence: Vec<EvidenceEntry>,
    /// Pass as `after` for the next page; none on the last.
    pub next_after: Option<u64>,
}

impl Store {
    /// Records `evidence` durably; its index, or `None` when it was recorded before.
    /// Refuses (an error, nothing written) a record with a missing or oversized message, or
    /// with two identical ones.
    pub fn record_evidence(&self, evidence: &Evidence) -> Result<Option<u64>, StoreError> {
        evidence
            .check()
            .map_err(|why| StoreError(format!("evidence refused: {why}")))?;
        let id = evidence.id();
        let txn = self.db.begin_write().map_err(err)?;
        let index = {
            let mut ids = txn.open_table(EVIDENCE_IDS).map_err(err)?;
            if ids.get(id.as_slice()).map_err(err)?.is_some() {
                return Ok(None);
            }
            let mut records = txn.open_table(EVIDENCE).map_err(err)?;
            let index = match records.last().map_err(err)? {
                Some((last, _)) => last.value() + 1,
                None => 0,
            };
            records
                .insert(index, encode(evidence).as_slice())
                .map_err(err)?;
            ids.insert(id.as_slice(), index).map_err(err)?;
            index
        };
        txn.commit().map_err(err)?;
        Ok(Some(index))
    }

    /// The evidence recorded after index `after` (exclusive), in index order, at most
    /// `limit` (1 to [`MAX_EVIDENCE_PAGE`]).
    pub fn evidence(&self, after: Option<u64>, limit: usize) -> Result<EvidencePage, StoreError> {
        let limit = limit.clamp(1, MAX_EVIDENCE_PAGE);
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(EVIDENCE).map_err(err)?;
        let range = match after {
            Some(after) => match after.checked_add(1) {
                Some(from) => table.range(from..),
                None => {
                    return Ok(EvidencePage {
                        evidence: Vec::new(),
                        next_after: None,
                    })
                }
            },
            None => table.range::<u64>(..),
        }
        .map_err(err)?;
        let mut evidence = Vec::new();
        let mut more = false;
        for entry in range {
            let (index, bytes) = entry.map_err(err)?;
            if evidence.len() == limit {
                more = true;
                break;
            }
            let record: Evidence = decode("evidence", bytes.value())?;
            evidence.push(EvidenceEntry {
                index: index.value(),
                id: record.id(),
                evidence: record,
            });
        }
        let next_after = more.then(|| evidence.last().map(|e| e.index)).flatten();
        Ok(EvidencePage {
            evidence,
            next_after,
        })
    }

    /// How many evidence records are stored.
    pub fn evidence_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(EVIDENCE).map_err(err)?;
        table.len().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(height: u64, validator: u8, first: &[u8], second: &[u8]) -> Evidence {
        Evidence {
            height,
            validator: ValidatorAddress([validator; 20]),
            kind: EvidenceKind::Vote,
            first: first.to_vec(),
            second: second.to_vec(),
        }
    }

    #[test]
    fn evidence_is_recorded_once_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.evidence_count().unwrap(), 0);
        let a = vote(5, 1, b"vote for x", b"vote for y");
        assert_eq!(store.record_evidence(&a).unwrap(), Some(0));
        // The same one again, or with its messages swapped: not stored twice.
        assert_eq!(store.record_evidence(&a).unwrap(), None);
        let swapped = vote(5, 1, b"vote for y", b"vote for x");
        assert_eq!(swapped.id(), a.id());
        assert_eq!(store.record_evidence(&swapped).unwrap(), None);
        // Another validator, height or kind is other evidence.
        let b = vote(5, 2, b"vote for x", b"vote for y");
        let c = Evidence {
            kind: EvidenceKind::Proposal,
            ..vote(6, 1, b"proposal x", b"proposal y")
        };
        assert_eq!(store.record_evidence(&b).unwrap(), Some(1));
        assert_eq!(store.record_evidence(&c).unwrap(), Some(2));
        drop(store);

        let store = Store::open(&path).unwrap();
        assert_eq!(store.evidence_count().unwrap(), 3);
        assert_eq!(store.record_evidence(&swapped).unwrap(), None);
        let page = store.evidence(None, 2).unwrap();
        assert_eq!(page.evidence.len(), 2);
        assert_eq!(page.evidence[0].evidence, a);
        assert_eq!(page.evidence[0].id, a.id());
        assert_eq!(page.next_after, Some(1));
        let rest = store.evidence(page.next_after, 2).unwrap();
        assert_eq!(rest.evidence.len(), 1);
        assert_eq!(rest.evidence[0].index, 2);
        assert_eq!(rest.evidence[0].evidence, c);
        assert_eq!(rest.next_after, None);
        assert!(store
            .evidence(Some(u64::MAX), 10)
            .unwrap()
            .evidence
            .is_empty());

        // JSON: hex id and validator, snake-case kind, base64 messages.
        let json = serde_json::to_value(&rest.evidence[0]).unwrap();
        assert_eq!(json["kind"], "proposal");
        assert_eq!(json["validator"], hex::encode([1u8; 20]));
        assert_eq!(json["first"], "cHJvcG9zYWwgeA==");
        assert_eq!(json["id"], hex::encode(c.id()));
        assert_eq!(json["height"], 6);
    }

    #[test]
    fn an_equivocation_becomes_evidence() {
        let equivocation = Equivocation {
            height: 9,
            validator: ValidatorAddress([3; 20]),
            kind: EquivocationKind::Proposal,
            first: b"a".to_vec(),
            second: b"b".to_vec(),
        };
        let evidence = Evidence::from(&equivocation);
        assert_eq!(evidence.kind, EvidenceKind::Proposal);
        assert_eq!(
            (
                evidence.height,
                evidence.validator,
                &evidence.first[..],
                &evidence.second[..]
            ),
            (9, ValidatorAddress([3; 20]), &b"a"[..], &b"b"[..])
        );
    }

    #[test]
    fn malformed_evidence_is_refused_and_a_corrupt_record_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("chain.redb")).unwrap();
        for bad in [
            vote(1, 1, b"", b"vote"),
            vote(1, 1, b"same", b"same"),
            vote(1, 1, &vec![0; MAX_EVIDENCE_MESSAGE_BYTES + 1], b"vote"),
        ] {
            let e = store.record_evidence(&bad).unwrap_err();
            assert!(e.0.contains("refused"), "{e}");
        }
        assert_eq!(store.evidence_count().unwrap(), 0);

        // A record that does not decode (a damaged store) is reported, not a panic.
        let txn = store.db.begin_write().unwrap();
        txn.open_table(EVIDENCE)
            .unwrap()
            .insert(0, [0xffu8; 3].as_slice())
            .unwrap();
        txn.commit().unwrap();
        let e = store.evidence(None, 10).unwrap_err();
        assert!(e.0.contains("corrupt evidence record"), "{e}");
        // Recording goes on after it.
        assert_eq!(
            store.record_evidence(&vote(2, 1, b"x", b"y")).unwrap(),
            Some(1)
        );
    }
}
