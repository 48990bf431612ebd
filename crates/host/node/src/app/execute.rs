//! Executing a transaction's message: bank sends, code uploads, contract calls through
//! the enclave, registrations, query policies.

use super::*;

impl App {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn execute(
        &mut self,
        context: &TxContext,
        tx: &Tx,
        sender: &str,
        meter: &mut GasMeter,
        wasm: &mut Vec<(Hash, Vec<u8>)>,
        receipt: &mut Receipt,
    ) -> Result<(), Failure> {
        match &tx.body.msg {
            Msg::Send { to, amount } => {
                validate_address(to)?;
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                state
                    .transfer(sender, to, *amount)
                    .map_err(|e| failure("insufficient_funds", e))?;
                receipt.events.push(Event {
                    kind: "transfer".into(),
                    attributes: vec![
                        ("sender".into(), sender.to_string()),
                        ("recipient".into(), to.clone()),
                        ("amount".into(), format!("{amount}{DENOM}")),
                    ],
                });
                Ok(())
            }
            Msg::StoreCode {
                wasm: code,
                query_policy,
            } => {
                meter.charge(STORE_CODE_GAS_PER_BYTE.saturating_mul(code.len() as u64))?;
                let default_query_policy = query_policy.clone().unwrap_or_else(QueryPolicy::public);
                valid_policy(&default_query_policy)?;
                // The enclave records the code (and its default policy) only for a real
                // execution, under the same id this node gives it.
                let signed = (!self.simulating).then(|| context.for_enclave());
                let (code_hash, enclave_code_id) = self
                    .enclave
                    .store_code(code, signed, &self.genesis.chain_id)
                    .map_err(|e| failure("invalid_code", public_error(e)))?;
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let code_id = state.next_code_id();
                if enclave_code_id.is_some_and(|id| id != code_id) {
                    return Err(failure(
                        "enclave",
                        format!("the enclave recorded this code as {enclave_code_id:?}, the chain as {code_id}: the enclave's sealed state does not belong to this store"),
                    ));
                }
                let known =
                    state.has_code_hash(&code_hash) || wasm.iter().any(|(h, _)| *h == code_hash);
                if !known {
                    wasm.push((code_hash, code.clone()));
                }
                state.put_code(CodeInfo {
                    code_id,
                    code_hash,
                    creator: sender.to_string(),
                    size: code.len() as u64,
                    default_query_policy,
                });
                receipt.code_id = Some(code_id);
                receipt.events.push(Event {
                    kind: "store_code".into(),
                    attributes: vec![
                        ("code_id".into(), code_id.to_string()),
                        ("code_hash".into(), hex::encode(code_hash)),
                    ],
                });
                Ok(())
            }
            Msg::Instantiate {
                code_id,
                label,
                admin,
                msg,
                funds,
                query_policy,
            } => {
                if let Some(admin) = admin {
                    validate_address(admin)?;
                }
                if let Some(policy) = query_policy {
                    valid_policy(policy)?;
                }
                let code = self.code(*code_id)?;
                let address = veil_types::contract_address(&code.code_hash, sender, label);
                receipt.contract_address = Some(address.clone());
                if self.contract_info(&address).is_some() {
                    return Err(failure(
                        "contract_exists",
                        format!("contract {address} exists: {sender} already used label {label:?} with this code"),
                    ));
                }
                let info = ContractInfo {
                    address: address.clone(),
                    code_id: *code_id,
                    code_hash: code.code_hash,
                    init_code_hash: code.code_hash,
                    creator: sender.to_string(),
                    admin: admin.clone(),
                    label: label.clone(),
                    state_root: None,
                    query_policy: query_policy
                        .clone()
                        .unwrap_or_else(|| code.default_query_policy.clone()),
                };
                self.call_contract(
                    context,
                    EntryPoint::Instantiate,
                    info,
                    sender,
                    msg,
                    *funds,
                    meter,
                    receipt,
                )
            }
            Msg::Execute {
                contract,
                msg,
                funds,
            } => {
                let info = self.contract_info(contract).ok_or_else(|| {
                    failure("unknown_contract", format!("no contract at {contract}"))
                })?;
                self.call_contract(
                    context,
                    EntryPoint::Execute,
                    info,
                    sender,
                    msg,
                    *funds,
                    meter,
                    receipt,
                )
            }
            Msg::Migrate {
                contract,
                code_id,
                msg,
            } => {
                let mut info = self.contract_info(contract).ok_or_else(|| {
                    failure("unknown_contract", format!("no contract at {contract}"))
                })?;
                if info.admin.as_deref() != Some(sender) {
                    return Err(failure(
                        "unauthorized",
                        match &info.admin {
                            Some(admin) => format!("only the admin {admin} may migrate {contract}"),
                            None => format!("{contract} has no admin and cannot be migrated"),
                        },
                    ));
                }
                let code = self.code(*code_id)?;
                info.code_id = *code_id;
                info.code_hash = code.code_hash;
                self.call_contract(
                    context,
                    EntryPoint::Migrate,
                    info,
                    sender,
                    msg,
                    0,
                    meter,
                    receipt,
                )
            }
            Msg::RegisterNode {
                registration_key,
                attestation,
            } => {
                meter.charge(REGISTER_NODE_GAS)?;
                let known = self
                    .state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .registration(registration_key)
                    .map(|r| r.revocation.is_some());
                match known {
                    Some(true) => {
                        return Err(failure(
                            "revoked",
                            format!(
                                "enclave key {} was revoked by the network's authority: it is given nothing",
                                hex::encode(registration_key)
                            ),
                        ))
                    }
                    Some(false) => {
                        return Err(failure(
                            "already_registered",
                            format!(
                                "enclave key {} is already registered",
                                hex::encode(registration_key)
                            ),
                        ))
                    }
                    None => {}
                }
                if attestation.len() > veil_attestation_limit() {
                    return Err(failure("attestation", "the attestation is too large"));
                }
                if self.simulating {
                    return Ok(());
                }
                let (seed_share, enclave) = self
                    .enclave
                    .register_node(context.for_enclave())
                    .map_err(|e| match e {
                        HostError::Enclave(EnclaveError {
                            kind: ErrorKind::Attestation,
                            message,
                        }) => failure("attestation", format!("attestation refused: {message}")),
                        other => enclave_failure(other),
                    })?;
                receipt.events.push(Event {
                    kind: "register_node".into(),
                    attributes: vec![
                        ("operator".into(), sender.to_string()),
                        ("registration_key".into(), hex::encode(registration_key)),
                        ("enclave".into(), enclave.clone()),
                    ],
                });
                let registration = veil_types::Registration {
                    registration_key: *registration_key,
                    operator: sender.to_string(),
                    height: context.height,
                    enclave,
                    seed_share,
                    revocation: None,
                };
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .put_registration(registration);
                Ok(())
            }
            Msg::SetAttestationPolicy { .. } | Msg::RevokeNode { .. } => {
                self.govern(context, tx, sender, meter, receipt)
            }
            Msg::SetQueryPolicy {
                contract,
                query_policy,
            } => {
                meter.charge(SET_QUERY_POLICY_GAS)?;
                let mut info = self.contract_info(contract).ok_or_else(|| {
                    failure("unknown_contract", format!("no contract at {contract}"))
                })?;
                if info.admin.as_deref() != Some(sender) {
                    return Err(failure(
                        "unauthorized",
                        match &info.admin {
                            Some(admin) => format!(
                                "only the admin {admin} may change the query policy of {contract}"
                            ),
                            None => {
                                format!("{contract} has no admin: its query policy cannot change")
                            }
                        },
                    ));
                }
                valid_policy(query_policy)?;
                if !self.simulating {
                    self.enclave
                        .set_query_policy(context.for_enclave(), &self.genesis.chain_id)
                        .map_err(enclave_failure)?;
                }
                info.query_policy = query_policy.clone();
                receipt.events.push(Event {
                    kind: "set_query_policy".into(),
                    attributes: vec![("contract_address".into(), contract.clone())],
                });
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .put_contract(info);
                Ok(())
            }
        }
    }

    pub(super) fn code(&self, code_id: u64) -> Result<CodeInfo, Failure> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .code(code_id)
            .ok_or_else(|| failure("unknown_code", format!("no code with id {code_id}")))
    }

    pub(super) fn contract_info(&self, address: &str) -> Option<ContractInfo> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contract(address)
    }

    /// Runs a contract entry point in the enclave; funds move only if it succeeds.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn call_contract(
        &mut self,
        context: &TxContext,
        entry: EntryPoint,
        mut info: ContractInfo,
        sender: &str,
        envelope: &[u8],
        funds: u128,
        meter: &mut GasMeter,
        receipt: &mut Receipt,
    ) -> Result<(), Failure> {
        meter.charge(CONTRACT_CALL_GAS)?;
        let address = info.address.clone();
        if funds > 0 {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state
                .transfer(sender, &address, funds)
                .map_err(|e| failure("insufficient_funds", e))?;
        }
        let request = RunRequest {
            entry,
            contract: ContractRef {
                address: address.clone(),
                code_hash: info.code_hash,
                creator: info.creator.clone(),
            },
            block: BlockRef {
                height: context.height,
                time_nanos: context.time_nanos,
                chain_id: self.genesis.chain_id.clone(),
                tx_index: Some(context.index),
            },
            sender: sender.to_string(),
            funds: if funds > 0 {
                vec![(DENOM.to_string(), funds)]
            } else {
                Vec::new()
            },
            envelope: envelope.to_vec(),
            state_root: info.state_root,
            gas_limit: meter.remaining().saturating_mul(GAS_MULTIPLIER),
            tx: Some(context.for_enclave()),
            simulate: self.simulating,
            encrypted_permit: None,
        };
        let result = self.run_in_enclave(request);
        let undo_funds = |state: &Mutex<ChainState>| {
            if funds > 0 {
                let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                state
                    .transfer(&address, sender, funds)
                    .expect("the funds just moved are there");
            }
        };
        let mut response = match result {
            Ok(response) => response,
            Err(e) => {
                undo_funds(&self.state);
                return Err(enclave_failure(e));
            }
        };
        meter.charge_engine(response.gas_used);
        receipt.encrypted_result = Some(response.encrypted_result.clone());
        if let Some(sealed) = response.inspection.take() {
            self.inspections.push((context.hash, sealed));
        }
        if !response.ok {
            undo_funds(&self.state);
            let kind = response.error_kind.unwrap_or_else(|| "contract".into());
            let message = match kind.as_str() {
                "out_of_gas" => format!(
                    "out of gas: used {} of the limit {}",
                    meter.used, meter.limit
                ),
                "contract" => {
                    "the contract returned an error (its message is in the encrypted result)".into()
                }
                other => format!("the call failed ({other}); details are in the encrypted result"),
            };
            return Err(Failure { kind, message });
        }
        // The enclave has committed: its state must be taken whatever else happens. Gas
        // cannot overflow here, the engine ran with at most the remaining gas.
        debug_assert!(meter.used <= meter.limit);
        if let Some(update) = response.state {
            self.nodes.apply(&update);
            info.state_root = update.new_root;
        }
        let mut attributes = vec![("contract_address".to_string(), address.clone())];
        attributes.extend(response.public_attributes);
        receipt.events.push(Event {
            kind: entry_event(entry).into(),
            attributes,
        });
        for call in &response.sub_calls {
            let mut attributes = vec![("contract_address".to_string(), call.contract.clone())];
            attributes.extend(call.public_attributes.iter().cloned());
            receipt.events.push(Event {
                kind: entry_event(call.entry).into(),
                attributes,
            });
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for transfer in &response.transfers {
            // The enclave checked each against the balances this node reported from this
            // same state, in this order, so they fit.
            state
                .transfer(&transfer.from, &transfer.to, transfer.amount)
                .expect("the enclave checked the balances it was given");
            receipt.events.push(Event {
                kind: "transfer".into(),
                attributes: vec![
                    ("recipient".into(), transfer.to.clone()),
                    ("sender".into(), transfer.from.clone()),
                    ("amount".into(), format!("{}{DENOM}", transfer.amount)),
                ],
            });
        }
        for burn in &response.burns {
            state
                .burn(&burn.from, burn.amount)
                .expect("the enclave checked the balances it was given");
            receipt.events.push(Event {
                kind: "burn".into(),
                attributes: vec![
                    ("burner".into(), burn.from.clone()),
                    ("amount".into(), format!("{}{DENOM}", burn.amount)),
                ],
            });
        }
        state.put_contract(info);
        // The call's own contract may have been migrated or given a new admin by its
        // messages: applied after its record is stored.
        for change in &response.contract_changes {
            apply_contract_change(&mut state, change, receipt);
        }
        for (other, update) in &response.other_states {
            self.nodes.apply(update);
            if let Some(mut info) = state.contract(other) {
                info.state_root = update.new_root;
                state.put_contract(info);
            }
        }
        drop(state);
        Ok(())
    }

    pub(super) fn run_in_enclave(&self, request: RunRequest) -> Result<RunResponse, HostError> {
        self.enclave.run(request)
    }
}

fn entry_event(entry: EntryPoint) -> &'static str {
    match entry {
        EntryPoint::Instantiate => "instantiate",
        EntryPoint::Migrate => "migrate",
        _ => "execute",
    }
}

/// Keeps the chain's copy of a contract record the enclave changed for a contract's
/// message (the enclave's own record is the one it trusts).
fn apply_contract_change(state: &mut ChainState, change: &ContractChange, receipt: &mut Receipt) {
    match change {
        ContractChange::Instantiated {
            address,
            code_id,
            code_hash,
            creator,
            admin,
            label,
        } => {
            let query_policy = state
                .code(*code_id)
                .map(|code| code.default_query_policy)
                .unwrap_or_else(QueryPolicy::public);
            state.put_contract(ContractInfo {
                address: address.clone(),
                code_id: *code_id,
                code_hash: *code_hash,
                init_code_hash: *code_hash,
                creator: creator.clone(),
                admin: admin.clone(),
                label: label.clone(),
                state_root: None,
                query_policy,
            });
            receipt.events.push(Event {
                kind: "contract_created".into(),
                attributes: vec![
                    ("contract_address".into(), address.clone()),
                    ("code_id".into(), code_id.to_string()),
                    ("creator".into(), creator.clone()),
                ],
            });
        }
        ContractChange::Migrated {
            address,
            code_id,
            code_hash,
        } => {
            if let Some(mut info) = state.contract(address) {
                info.code_id = *code_id;
                info.code_hash = *code_hash;
                state.put_contract(info);
            }
            receipt.events.push(Event {
                kind: "contract_migrated".into(),
                attributes: vec![
                    ("contract_address".into(), address.clone()),
                    ("code_id".into(), code_id.to_string()),
                ],
            });
        }
        ContractChange::AdminChanged { address, admin } => {
            if let Some(mut info) = state.contract(address) {
                info.admin = admin.clone();
                state.put_contract(info);
            }
            receipt.events.push(Event {
                kind: "update_contract_admin".into(),
                attributes: vec![
                    ("contract_address".into(), address.clone()),
                    (
                        "new_admin_address".into(),
                        admin.clone().unwrap_or_default(),
                    ),
                ],
            });
        }
    }
}
