//! CheckTx: what the mempool (and a validator voting on a proposal) checks before a
//! transaction enters a block.

use super::*;
use veil_host::TxCheck;

/// Remembers who signed transactions the mempool already verified, so a block does not
/// verify the same signature twice.
#[derive(Default)]
pub struct SignatureCache(Mutex<HashMap<Hash, String>>);

const SIGNATURE_CACHE_LIMIT: usize = 200_000;

impl SignatureCache {
    pub fn insert(&self, hash: Hash, signer: String) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SIGNATURE_CACHE_LIMIT {
            map.clear();
        }
        map.insert(hash, signer);
    }

    pub(super) fn take(&self, hash: &Hash) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash)
    }
}

/// Checks that need no state: chain id, fee for the gas limit, gas cap, memo, label.
pub fn check_static(
    tx: &Tx,
    chain_id: &str,
    params: &crate::genesis::Params,
) -> Result<(), Rejection> {
    if tx.body.chain_id != chain_id {
        return Err(reject(
            "wrong_chain",
            format!(
                "transaction is for chain {:?}, this is {chain_id:?}",
                tx.body.chain_id
            ),
        ));
    }
    if tx.body.gas_limit > params.max_tx_gas {
        return Err(reject(
            "gas_limit",
            format!(
                "gas limit {} exceeds the maximum {}",
                tx.body.gas_limit, params.max_tx_gas
            ),
        ));
    }
    let needed = required_fee(tx.body.gas_limit, params.fee_per_million_gas);
    if tx.body.fee < needed {
        return Err(reject(
            "insufficient_fee",
            format!(
                "fee {}uveil is below the minimum {needed}uveil for gas limit {} ({} uveil per million gas)",
                tx.body.fee, tx.body.gas_limit, params.fee_per_million_gas
            ),
        ));
    }
    if tx.body.memo.len() > veil_types::MAX_MEMO_BYTES {
        return Err(reject("malformed", "memo is too long"));
    }
    if let Msg::Instantiate { label, .. } = &tx.body.msg {
        if label.is_empty() || label.len() > veil_types::MAX_LABEL_BYTES {
            return Err(reject(
                "malformed",
                format!("label must be 1 to {} bytes", veil_types::MAX_LABEL_BYTES),
            ));
        }
    }
    Ok(())
}

/// The mempool's view: committed state only, never the enclave.
#[derive(Clone)]
pub struct Checker {
    pub(super) store: Store,
    pub chain_id: String,
    pub params: crate::genesis::Params,
    pub(crate) signatures: Arc<SignatureCache>,
    /// The enclave's signature check: what it verifies at admission it need not verify
    /// again when the transaction runs (`None`, or the enclave busy: checked here).
    pub(crate) enclave: Option<veil_host::TxCheckLink>,
}

/// A transaction that passed [`Checker::check`].
pub struct CheckedTx {
    pub hash: Hash,
    pub sender: String,
    pub sequence: u64,
    pub fee: u128,
    /// What else it moves out of the sender's account (a send's amount, call funds).
    pub moves: u128,
    pub gas_limit: u64,
}

impl CheckedTx {
    /// The most it can take from its sender's balance: fee and what it moves.
    pub fn debit(&self) -> u128 {
        self.fee.saturating_add(self.moves)
    }
}

impl Checker {
    /// ABCI CheckTx, first half: everything that needs no account state (size, encoding,
    /// signature, chain, fee for the gas limit, addresses, code validity).
    pub fn check_stateless(&self, bytes: &[u8]) -> Result<CheckedTx, Rejection> {
        if bytes.len() > veil_types::MAX_TX_BYTES {
            return Err(reject(
                "too_large",
                format!(
                    "transaction of {} bytes exceeds the limit of {} bytes",
                    bytes.len(),
                    veil_types::MAX_TX_BYTES
                ),
            ));
        }
        let tx = Tx::from_bytes(bytes).map_err(|e| reject("malformed", e.to_string()))?;
        let sender = match self.enclave.as_ref().and_then(|e| e.check(bytes)) {
            Some(Ok(TxCheck::Signed { signer })) => signer,
            Some(Ok(TxCheck::SignedForSimulation)) => {
                return Err(reject(
                    "signed_for_simulation",
                    veil_types::TxError::SignedForSimulation.to_string(),
                ))
            }
            Some(Ok(TxCheck::Refused { reason })) => return Err(reject("bad_signature", reason)),
            Some(Err(e)) => return Err(reject("enclave", e.to_string())),
            None => tx.verify().map_err(|e| match e {
                veil_types::TxError::SignedForSimulation => {
                    reject("signed_for_simulation", e.to_string())
                }
                other => reject("bad_signature", other.to_string()),
            })?,
        };
        check_static(&tx, &self.chain_id, &self.params)?;
        self.check_msg(&tx)?;
        Ok(CheckedTx {
            hash: tx_hash(bytes),
            sender,
            sequence: tx.body.sequence,
            fee: tx.body.fee,
            moves: tx.body.msg.moves(),
            gas_limit: tx.body.gas_limit,
        })
    }

    /// ABCI CheckTx, second half: sequence, fee and what it moves against the committed
    /// account, given how many transactions of the sender already wait in the mempool and
    /// the most they can take (`waiting_debits`). A transaction is accepted only if its
    /// fee and funds are there even if every earlier one takes all it may: so in a block
    /// its fee and funds can never fail (the enclave relies on it, `BlockBudget`).
    pub fn check_account(
        &self,
        tx: &CheckedTx,
        waiting: u64,
        waiting_debits: u128,
    ) -> Result<(), Rejection> {
        let account = self
            .store
            .account(&tx.sender)
            .map_err(|e| reject("store", e.to_string()))?
            .unwrap_or_default();
        check_budget(
            tx,
            account.sequence + waiting,
            account.balance.saturating_sub(waiting_debits),
        )?;
        self.signatures.insert(tx.hash, tx.sender.clone());
        Ok(())
    }

    /// A fresh budget over the committed accounts for the transactions of one block.
    pub fn block_budget(&self) -> BlockBudget<'_> {
        BlockBudget {
            checker: self,
            senders: HashMap::new(),
        }
    }

    /// The committed sequence of an account (0 if it does not exist).
    pub fn sequence(&self, address: &str) -> u64 {
        self.store
            .account(address)
            .ok()
            .flatten()
            .map_or(0, |a| a.sequence)
    }

    pub(super) fn check_msg(&self, tx: &Tx) -> Result<(), Rejection> {
        let bad_address = |e: String| reject("invalid_address", e);
        match &tx.body.msg {
            Msg::Send { to, .. } => veil_types::validate_address(to).map_err(bad_address),
            Msg::StoreCode { wasm, query_policy } => {
                if let Some(policy) = query_policy {
                    admissible_policy(policy)?;
                }
                let config = veil_engine::EngineConfig::default();
                veil_engine::validate::check_wasm(wasm, &config.wasm_limits, &config.capabilities)
                    .map(|_| ())
                    .map_err(|e| reject("invalid_code", format!("invalid contract code: {e}")))
            }
            Msg::Instantiate {
                code_id,
                admin,
                query_policy,
                ..
            } => {
                if let Some(admin) = admin {
                    veil_types::validate_address(admin).map_err(bad_address)?;
                }
                if let Some(policy) = query_policy {
                    admissible_policy(policy)?;
                }
                self.known_code(*code_id)
            }
            Msg::SetQueryPolicy {
                contract,
                query_policy,
            } => {
                admissible_policy(query_policy)?;
                self.known_contract(contract)
            }
            Msg::RegisterNode { attestation, .. } => {
                if attestation.len() > veil_attestation_limit() {
                    return Err(reject("attestation", "the attestation is too large"));
                }
                Ok(())
            }
            Msg::SetAttestationPolicy { .. } | Msg::RevokeNode { .. } => {
                governance::check_governance_msg(&tx.body.msg)
            }
            Msg::Execute { contract, .. } => self.known_contract(contract),
            Msg::Migrate {
                contract, code_id, ..
            } => {
                self.known_contract(contract)?;
                self.known_code(*code_id)
            }
        }
    }

    pub(super) fn known_code(&self, code_id: u64) -> Result<(), Rejection> {
        match self.store.code(code_id) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(reject("unknown_code", format!("no code with id {code_id}"))),
            Err(e) => Err(reject("store", e.to_string())),
        }
    }

    pub(super) fn known_contract(&self, address: &str) -> Result<(), Rejection> {
        veil_types::validate_address(address).map_err(|e| reject("invalid_address", e))?;
        match self.store.contract(address) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(reject(
                "unknown_contract",
                format!("no contract at {address}"),
            )),
            Err(e) => Err(reject("store", e.to_string())),
        }
    }
}

/// The block rule that makes every transaction of a certified block pass the ante
/// handler: per sender, sequences follow the committed one without a gap, and each
/// transaction's fee and funds are covered by the committed balance minus everything the
/// sender's earlier transactions in the block may take. Balances only shrink by their
/// owner's own transactions, so whatever those earlier ones do, the fee and funds are
/// there. Proposers build blocks by it and validators refuse proposals that break it.
pub struct BlockBudget<'a> {
    checker: &'a Checker,
    /// Per sender: the next sequence and the balance no earlier transaction can take.
    senders: HashMap<String, (u64, u128)>,
}

impl BlockBudget<'_> {
    /// Admits `tx` as the next transaction of the block (its debit counts from now), or
    /// says why it may not be in it here.
    pub fn admit(&mut self, tx: &CheckedTx) -> Result<(), Rejection> {
        let (next, left) = match self.senders.get(&tx.sender) {
            Some(budget) => *budget,
            None => {
                let account = self
                    .checker
                    .store
                    .account(&tx.sender)
                    .map_err(|e| reject("store", e.to_string()))?
                    .unwrap_or_default();
                (account.sequence, account.balance)
            }
        };
        check_budget(tx, next, left)?;
        self.senders
            .insert(tx.sender.clone(), (next + 1, left - tx.debit()));
        Ok(())
    }
}

/// `tx` must carry sequence `expected` and its fee and funds must fit in `spendable`.
fn check_budget(tx: &CheckedTx, expected: u64, spendable: u128) -> Result<(), Rejection> {
    if tx.sequence != expected {
        return Err(reject(
            "wrong_sequence",
            format!(
                "account sequence mismatch: expected {expected}, got {}",
                tx.sequence
            ),
        ));
    }
    if spendable < tx.debit() {
        return Err(reject(
            "insufficient_funds",
            if tx.moves == 0 {
                format!(
                    "insufficient funds for the fee: {} has {spendable}uveil available, the fee is {}uveil",
                    tx.sender, tx.fee
                )
            } else {
                format!(
                    "insufficient funds: {} has {spendable}uveil available, the fee {}uveil plus the {}uveil it sends is more",
                    tx.sender, tx.fee, tx.moves
                )
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::BlockCommit;

    fn checker(balance: u128, sequence: u64) -> (Checker, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let genesis: crate::genesis::Genesis = serde_json::from_value(
            serde_json::json!({"chain_id": "test", "genesis_time_nanos": 0, "accounts": []}),
        )
        .unwrap();
        store
            .init_chain(
                &genesis,
                BlockCommit::state_only(
                    Block {
                        header: BlockHeader {
                            chain_id: "test".into(),
                            height: 0,
                            time_nanos: 0,
                            prev_block_hash: [0; 32],
                            txs_hash: veil_types::txs_hash(&[]),
                            app_hash: [0; 32],
                        },
                        tx_hashes: Vec::new(),
                    },
                    crate::state::StateChanges {
                        accounts: vec![veil_types::Account {
                            address: "alice".into(),
                            balance,
                            sequence,
                            public_key: None,
                        }],
                        ..Default::default()
                    },
                ),
            )
            .unwrap();
        let checker = Checker {
            store,
            chain_id: "test".into(),
            params: Default::default(),
            signatures: Default::default(),
            enclave: None,
        };
        (checker, dir)
    }

    fn tx(sender: &str, sequence: u64, fee: u128, moves: u128) -> CheckedTx {
        CheckedTx {
            hash: [sequence as u8; 32],
            sender: sender.into(),
            sequence,
            fee,
            moves,
            gas_limit: 1,
        }
    }

    #[test]
    fn a_block_keeps_each_senders_fees_and_funds_within_the_committed_balance() {
        let (checker, _dir) = checker(1_000, 4);
        let mut budget = checker.block_budget();
        budget.admit(&tx("alice", 4, 100, 500)).unwrap();
        // 400 are left whatever the first does: a fee of 100 and a send of 400 do not fit.
        let over = budget.admit(&tx("alice", 5, 100, 400)).unwrap_err();
        assert_eq!(over.kind, "insufficient_funds");
        assert!(over.message.contains("400uveil available"), "{over:?}");
        // A refused one takes nothing: the same sequence with less fits.
        budget.admit(&tx("alice", 5, 100, 300)).unwrap();
        // Sequences follow on without a gap or a repeat.
        assert_eq!(
            budget.admit(&tx("alice", 7, 0, 0)).unwrap_err().kind,
            "wrong_sequence"
        );
        assert_eq!(
            budget.admit(&tx("alice", 5, 0, 0)).unwrap_err().kind,
            "wrong_sequence"
        );
        budget.admit(&tx("alice", 6, 0, 0)).unwrap();
        // An account the store does not know has nothing and starts at sequence 0.
        assert_eq!(
            budget.admit(&tx("nobody", 0, 1, 0)).unwrap_err().kind,
            "insufficient_funds"
        );
        budget.admit(&tx("nobody", 0, 0, 0)).unwrap();
        // The mempool's check is the same rule over what already waits.
        assert!(checker
            .check_account(&tx("alice", 6, 100, 0), 2, 900)
            .is_ok());
        let refused = checker
            .check_account(&tx("alice", 6, 100, 1), 2, 900)
            .unwrap_err();
        assert_eq!(refused.kind, "insufficient_funds");
        assert!(
            refused.message.contains("plus the 1uveil it sends"),
            "{refused:?}"
        );
    }
}
