//! Admission: what the enclave checks before it runs anything — signed transactions
//! (signer, chain, call, sequence), the contract's trusted record, and who asks a query.

use super::*;

impl Enclave {
    /// Checks a request against the enclave's own record of the contract and returns the
    /// record the call runs under (for instantiate: the one it will create). `bound`: the
    /// hash of its transaction, bound to the open block (a real call; not a simulation).
    pub(crate) fn admit(
        &self,
        request: &RunRequest,
        bound: Option<&Hash>,
    ) -> EnclaveResult<(TrustedContract, Option<veil_types::Tx>)> {
        self.check_chain(&request.block.chain_id)?;
        let contract = &request.contract;
        let tx = match (&request.tx, request.entry) {
            (None, EntryPoint::Query) => None,
            (Some(_), EntryPoint::Query) => {
                return Err(fail(ErrorKind::BadRequest, "a query takes no transaction"))
            }
            (None, _) => {
                return Err(fail(
                    ErrorKind::BadRequest,
                    "a contract call needs the transaction its sender signed",
                ))
            }
            (Some(bytes), _) => {
                let tx = verify_tx(bytes, request, bound.and_then(|h| self.signatures.take(h)))?;
                self.check_sequence(&request.sender, &tx)?;
                Some(tx)
            }
        };
        let Some(trusted) = self.records.contract(&contract.address)? else {
            if request.entry != EntryPoint::Instantiate {
                return Err(fail(
                    ErrorKind::StaleStateRoot,
                    format!("no trusted state root for contract {}", contract.address),
                ));
            }
            if request.state_root.is_some() {
                return Err(fail(
                    ErrorKind::StaleStateRoot,
                    "a new contract cannot start with existing state",
                ));
            }
            let Some(veil_types::Msg::Instantiate {
                admin,
                code_id,
                query_policy,
                ..
            }) = tx.as_ref().map(|tx| &tx.body.msg)
            else {
                return Err(fail(
                    ErrorKind::BadRequest,
                    "an instantiation needs its signed instantiate transaction",
                ));
            };
            let query_policy = match query_policy {
                Some(policy) => policy.clone(),
                None => self.code_default_policy(*code_id, &contract.code_hash)?,
            };
            query_policy
                .validate()
                .map_err(|e| fail(ErrorKind::BadRequest, e.to_string()))?;
            return Ok((
                TrustedContract {
                    root: None,
                    code_hash: contract.code_hash,
                    init_code_hash: contract.code_hash,
                    creator: contract.creator.clone(),
                    admin: admin.clone(),
                    query_policy,
                },
                tx,
            ));
        };
        if request.entry == EntryPoint::Instantiate {
            return Err(fail(
                ErrorKind::BadRequest,
                format!("contract {} already exists", contract.address),
            ));
        }
        if trusted.root != request.state_root {
            return Err(fail(
                ErrorKind::StaleStateRoot,
                "state root does not match the last committed root",
            ));
        }
        if trusted.creator != contract.creator {
            return Err(fail(
                ErrorKind::BadRequest,
                "creator does not match the contract's record",
            ));
        }
        if request.entry == EntryPoint::Migrate {
            let signer = tx
                .as_ref()
                .map(|_| request.sender.as_str())
                .ok_or_else(|| {
                    fail(
                        ErrorKind::BadRequest,
                        "a migration needs the admin's signed transaction",
                    )
                })?;
            if trusted.admin.as_deref() != Some(signer) {
                return Err(fail(
                    ErrorKind::BadRequest,
                    "only the contract's admin may migrate it",
                ));
            }
        } else if trusted.code_hash != contract.code_hash {
            return Err(fail(
                ErrorKind::BadRequest,
                "code hash does not match the contract's code",
            ));
        }
        Ok((trusted.clone(), tx))
    }

    /// Refuses a transaction whose sequence its sender has already used.
    pub(crate) fn check_sequence(&self, sender: &str, tx: &veil_types::Tx) -> EnclaveResult<()> {
        // No sequence follows the largest: marking it used would wrap the next to 0 and
        // reopen every sequence already used.
        if tx.body.sequence == u64::MAX {
            return Err(fail(
                ErrorKind::Replay,
                format!(
                    "transaction sequence {} of {sender} cannot be used: no sequence follows it",
                    u64::MAX
                ),
            ));
        }
        let next = self.records.next_sequence(sender)?;
        if tx.body.sequence < next {
            return Err(fail(
                ErrorKind::Replay,
                format!(
                    "transaction sequence {} of {sender} was already used (next is {next})",
                    tx.body.sequence
                ),
            ));
        }
        Ok(())
    }

    /// Verifies a signed transaction that is not a contract call (store code, set query
    /// policy) and checks its sequence; the caller marks it used once it has run.
    pub(crate) fn verify_admin_tx(
        &self,
        bytes: &[u8],
        chain_id: &str,
    ) -> EnclaveResult<(veil_types::Tx, String)> {
        let bad = |message: String| fail(ErrorKind::BadRequest, message);
        let tx = veil_types::Tx::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
        let signer = tx.verify().map_err(|e| bad(format!("transaction: {e}")))?;
        self.check_chain(chain_id)?;
        if tx.body.chain_id != chain_id {
            return Err(bad("transaction is for another chain".into()));
        }
        self.check_sequence(&signer, &tx)?;
        Ok((tx, signer))
    }

    /// Refuses a request for another chain than the genesis this enclave is bound to.
    pub(crate) fn check_chain(&self, chain_id: &str) -> EnclaveResult<()> {
        let genesis_chain = &self.identity()?.genesis.chain_id;
        if chain_id != genesis_chain {
            return Err(fail(
                ErrorKind::BadRequest,
                format!(
                    "the request is for chain {chain_id:?}; this enclave runs {genesis_chain:?}"
                ),
            ));
        }
        Ok(())
    }

    /// The default query policy of code `code_id`, which must be `code_hash`.
    pub(crate) fn code_default_policy(
        &self,
        code_id: u64,
        code_hash: &Hash,
    ) -> EnclaveResult<QueryPolicy> {
        let record = self.records.code(code_id)?.ok_or_else(|| {
            fail(
                ErrorKind::BadRequest,
                format!("code id {code_id} was not stored by a transaction this enclave ran"),
            )
        })?;
        if record.code_hash != *code_hash {
            return Err(fail(
                ErrorKind::BadRequest,
                format!("code id {code_id} is other code than the request names"),
            ));
        }
        Ok(record.default_query_policy.clone())
    }

    /// Who asks a query: the signer of the permit it carries (checked for this chain,
    /// contract and block time), or nobody. A bad permit is the querier's error, told only
    /// to them.
    pub(crate) fn querier(
        &self,
        request: &RunRequest,
        tx_key: &TxKey,
    ) -> Result<Option<String>, String> {
        let Some(encrypted) = &request.encrypted_permit else {
            return Ok(None);
        };
        let bytes = tx_key
            .decrypt_output(0, OutputKind::QueryPermit, encrypted)
            .map_err(|_| "the permit does not decrypt under this query's key".to_string())?;
        let permit = veil_types::QueryPermit::from_bytes(&bytes).map_err(|e| e.to_string())?;
        permit
            .verify(
                &request.block.chain_id,
                &request.contract.address,
                request.block.time_nanos,
            )
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// Checks a query message against the contract's policy for `querier`. `Ok(Some(path))`:
/// allowed if the answer names the querier at `path`; `Err`: refused, and why.
pub(crate) fn check_query(
    record: &TrustedContract,
    msg: &[u8],
    querier: Option<&str>,
) -> Result<Option<String>, String> {
    let policy = &record.query_policy;
    // A fully public contract reads messages exactly as CosmWasm does.
    if policy.default == Rule::Public && policy.queries.is_empty() {
        return Ok(None);
    }
    let query = query_policy::parse_query(msg).map_err(|e| e.to_string())?;
    match query_policy::decide(policy, &query, querier, record.admin.as_deref()) {
        Decision::Allow => Ok(None),
        Decision::CheckAnswer(path) => Ok(Some(path)),
        Decision::Refuse => Err(format!(
            "the contract's query policy does not let {} run {:?}",
            querier.unwrap_or("an anonymous querier"),
            query.variant
        )),
    }
}

/// Verifies the signed transaction behind a contract call: signed by the request's sender,
/// for this chain, and asking for exactly this call (entry point, contract, envelope,
/// funds). A simulation must be signed for simulation (`veil/simulate-v1`) and a real
/// call to run (`veil/tx-v1`): a host can neither rerun a user's real transaction as a
/// simulation nor run a simulation for real. A transaction to run whose signature this
/// enclave verified at admission is not verified again: `verified_signer` is who signed
/// it then.
pub(crate) fn verify_tx(
    bytes: &[u8],
    request: &RunRequest,
    verified_signer: Option<String>,
) -> EnclaveResult<veil_types::Tx> {
    let bad = |message: String| fail(ErrorKind::BadRequest, message);
    let tx = veil_types::Tx::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
    let signer = match (verified_signer, request.simulate) {
        (Some(signer), false) => Ok(signer),
        (None, false) => tx.verify_for(veil_types::SignDomain::Tx),
        (_, true) => tx.verify_for(veil_types::SignDomain::Simulate),
    }
    .map_err(|e| bad(format!("transaction: {e}")))?;
    if signer != request.sender {
        return Err(bad("transaction is not signed by the sender".into()));
    }
    if tx.body.chain_id != request.block.chain_id {
        return Err(bad("transaction is for another chain".into()));
    }
    let funds_match = |amount: &u128| match request.funds.as_slice() {
        [] => *amount == 0,
        [(denom, sent)] => denom == veil_types::DENOM && sent == amount && *amount > 0,
        _ => false,
    };
    let address = &request.contract.address;
    let matches = match (&tx.body.msg, request.entry) {
        (veil_types::Msg::Instantiate { msg, funds, .. }, EntryPoint::Instantiate) => {
            *msg == request.envelope && funds_match(funds)
        }
        (
            veil_types::Msg::Execute {
                contract,
                msg,
                funds,
            },
            EntryPoint::Execute,
        ) => contract == address && *msg == request.envelope && funds_match(funds),
        (veil_types::Msg::Migrate { contract, msg, .. }, EntryPoint::Migrate) => {
            contract == address && *msg == request.envelope && request.funds.is_empty()
        }
        _ => false,
    };
    if !matches {
        return Err(bad("transaction does not ask for this call".into()));
    }
    Ok(tx)
}
