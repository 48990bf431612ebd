//! Signatures the enclave has verified before their transactions run.
//!
//! A node checks every transaction's signature as it admits it to its mempool; when the
//! enclave does that check (`Ecall::CheckTx`), it remembers the transaction's hash, and
//! when the same bytes later run in a block it takes the signer from here instead of
//! verifying the ECDSA signature a second time — on the block-commit path, where it was a
//! fifth of the work of a cw20 transfer. Only the enclave writes this set, only for bytes
//! whose signature it verified itself (to run, `veil/tx-v1`), so what the host presents
//! can never skip a check it did not pass.
//!
//! [`TxChecker`] answers `CheckTx` beside the enclave's other ecalls (a TEE runs ecalls
//! on several threads): it shares only this set with the [`Enclave`](crate::Enclave).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use veil_enclave_abi::{decode, encode, Ecall, EcallResponse, ErrorKind, Hash, TxCheck};
use veil_types::{tx_hash, Tx, TxError};

/// How many verified transactions are remembered (a node's mempool holds up to 50,000);
/// the oldest are forgotten first, and a forgotten one is simply verified again.
const CAPACITY: usize = 100_000;

#[derive(Default)]
pub(crate) struct VerifiedSignatures {
    inner: Mutex<Remembered>,
}

#[derive(Default)]
struct Remembered {
    signers: HashMap<Hash, String>,
    /// Insertion order, for forgetting the oldest (may name hashes already taken).
    order: VecDeque<Hash>,
}

impl VerifiedSignatures {
    fn lock(&self) -> std::sync::MutexGuard<'_, Remembered> {
        // Every update leaves the maps consistent: a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Verifies `bytes` as a transaction signed to run and remembers its signer.
    pub(crate) fn check(&self, bytes: &[u8]) -> TxCheck {
        let tx = match Tx::from_bytes(bytes) {
            Ok(tx) => tx,
            Err(e) => {
                return TxCheck::Refused {
                    reason: e.to_string(),
                }
            }
        };
        match tx.verify() {
            Ok(signer) => {
                self.remember(tx_hash(bytes), signer.clone());
                TxCheck::Signed { signer }
            }
            Err(TxError::SignedForSimulation) => TxCheck::SignedForSimulation,
            Err(e) => TxCheck::Refused {
                reason: e.to_string(),
            },
        }
    }

    fn remember(&self, hash: Hash, signer: String) {
        let mut remembered = self.lock();
        if remembered.signers.insert(hash, signer).is_none() {
            remembered.order.push_back(hash);
        }
        while remembered.order.len() > CAPACITY {
            if let Some(oldest) = remembered.order.pop_front() {
                remembered.signers.remove(&oldest);
            }
        }
    }

    /// The signer of the transaction whose bytes hash to `hash`, if this enclave verified
    /// its signature to run; forgotten once taken (a transaction runs once).
    pub(crate) fn take(&self, hash: &Hash) -> Option<String> {
        let mut remembered = self.lock();
        let signer = remembered.signers.remove(hash);
        if remembered.order.len() > 2 * remembered.signers.len() + 1024 {
            let Remembered { signers, order } = &mut *remembered;
            order.retain(|h| signers.contains_key(h));
        }
        signer
    }
}

/// Answers `Ecall::CheckTx` without the enclave's lock. Cloned from
/// [`Enclave::tx_checker`](crate::Enclave::tx_checker).
#[derive(Clone)]
pub struct TxChecker(pub(crate) Arc<VerifiedSignatures>);

impl TxChecker {
    /// Handles one encoded ecall, which must be `CheckTx`, and returns the encoded answer.
    pub fn handle(&self, request: &[u8]) -> Vec<u8> {
        let response = match decode::<Ecall>(request) {
            Ok(Ecall::CheckTx { tx }) => EcallResponse::TxChecked(self.0.check(&tx)),
            Ok(other) => EcallResponse::Error(crate::fail(
                ErrorKind::BadRequest,
                format!("{} cannot run beside other ecalls", other.name()),
            )),
            Err(e) => EcallResponse::Error(crate::fail(ErrorKind::Abi, e.to_string())),
        };
        encode(&response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_signer_is_forgotten_and_the_oldest_go_first() {
        let set = VerifiedSignatures::default();
        for i in 0..(CAPACITY + 10) as u32 {
            let mut hash = [0u8; 32];
            hash[..4].copy_from_slice(&i.to_be_bytes());
            set.remember(hash, format!("signer{i}"));
        }
        let hash_of = |i: u32| {
            let mut hash = [0u8; 32];
            hash[..4].copy_from_slice(&i.to_be_bytes());
            hash
        };
        assert_eq!(set.take(&hash_of(0)), None, "the oldest were forgotten");
        let last = (CAPACITY + 9) as u32;
        assert_eq!(set.take(&hash_of(last)), Some(format!("signer{last}")));
        assert_eq!(set.take(&hash_of(last)), None, "taken once");
        assert!(set.lock().signers.len() <= CAPACITY);
    }

    #[test]
    fn bytes_that_are_no_transaction_are_refused_and_not_remembered() {
        let set = VerifiedSignatures::default();
        assert!(matches!(set.check(b"not a tx"), TxCheck::Refused { .. }));
        assert!(set.lock().signers.is_empty());
        let checker = TxChecker(Arc::new(set));
        let answer: EcallResponse =
            decode(&checker.handle(&encode(&Ecall::EndBlock))).expect("an answer");
        assert!(
            matches!(answer, EcallResponse::Error(e) if e.message.contains("end_block cannot run beside"))
        );
    }
}
