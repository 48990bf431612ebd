//! Dispatching the messages a contract's response returns, inside the enclave: bank sends
//! and burns become public transfers and burns the host applies; executions,
//! instantiations and migrations of contracts run here, on their verified state under
//! their own keys, with their messages dispatched in turn — depth first and in order, as
//! wasmd does (instantiate, migrate and admin changes are in `lifecycle.rs`). Messages for
//! modules Veil does not have (staking, distribution, IBC, gov, stargate/any, custom) are
//! refused as `unsupported`, naming the message. Any failure fails the whole call, so nothing
//! is committed unless everything succeeded — but for a message that asked for a reply on
//! error: its effects are undone and the sender's `reply` entry point is told.

use std::collections::BTreeMap;

use veil_enclave_abi::{
    Burn, ContractChange, EnclaveError, EntryPoint, ErrorKind, SubCall, Transfer,
};
use veil_engine::cosmwasm_std::{
    Addr, BankMsg, Binary, Coin, CosmosMsg, Event, MessageInfo, MsgResponse, Reply, ReplyOn,
    Response, SubMsg, SubMsgResponse, SubMsgResult, Uint128, WasmMsg,
};
use veil_engine::{
    build_env, Backend, BackendError, Bech32Api, Call, CallError, Entry, Output, VmError,
};
use veil_state::{PendingWrites, VerifiedState};
use veil_types::gas::{event_gas, CONTRACT_CALL_GAS, GAS_MULTIPLIER, REPLY_GAS};

use crate::{
    ensure_loaded, fail, public_attributes, ContractQuerier, OcallNodeSource, TrustedContract,
};

/// Engine gas charged per bank send or burn a contract dispatches (10,000 chain gas).
pub const BANK_SEND_GAS: u64 = 10_000 * GAS_MULTIPLIER;
/// How deep contracts may call contracts that call contracts.
pub const MAX_DISPATCH_DEPTH: u32 = 8;

/// Why a call's messages could not all be carried out.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The call is reverted; the sender learns why (encrypted), the host the kind.
    Refused { kind: &'static str, message: String },
    /// The host served state or code that does not verify: an enclave error.
    Enclave(EnclaveError),
}

pub(crate) fn refused(kind: &'static str, message: impl Into<String>) -> Stop {
    Stop::Refused {
        kind,
        message: message.into(),
    }
}

/// The total of `coins`, which must all be positive amounts of the chain's denomination.
pub(crate) fn uveil_total(coins: &[Coin], what: &str) -> Result<u128, Stop> {
    let mut total: u128 = 0;
    for coin in coins {
        if coin.denom != veil_types::DENOM {
            return Err(refused(
                "invalid_message",
                format!("{what} of unknown denomination {:?}", coin.denom),
            ));
        }
        let amount = Uint128::try_from(coin.amount)
            .ok()
            .map(|v| v.u128())
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                refused(
                    "invalid_message",
                    format!(
                        "{what} of {}{}: not a positive amount",
                        coin.amount, coin.denom
                    ),
                )
            })?;
        total = total
            .checked_add(amount)
            .ok_or_else(|| refused("invalid_message", format!("{what}: amounts overflow")))?;
    }
    Ok(total)
}

/// One call dispatching its messages.
pub(crate) struct Dispatch {
    /// The call's context (engine, keys, records, block, ledger): what every contract the
    /// call runs gets as its querier.
    pub context: ContractQuerier,
    /// The state of every contract this call ran, with its writes (the called contract's
    /// too, so a contract called back sees what it wrote).
    pub states: BTreeMap<String, VerifiedState<OcallNodeSource>>,
    /// Engine gas used so far and the call's limit.
    pub gas_used: u64,
    pub gas_limit: u64,
    /// Public transfers, in the order they happened.
    pub transfers: Vec<Transfer>,
    /// Burns, in the order they happened.
    pub burns: Vec<Burn>,
    /// Each contract run by a message or a reply, with the entry point and its response
    /// (private: for the sender).
    pub executed: Vec<(String, EntryPoint, Response)>,
    /// The records this call created or changed, the called contract's among them (it
    /// may be new, or migrating): they replace the enclave's when the call commits.
    pub records: BTreeMap<String, TrustedContract>,
    /// Instantiations, migrations and admin changes, in order (public, for the host).
    pub contract_changes: Vec<ContractChange>,
}

/// See [`Dispatch::snapshot`].
struct Snapshot {
    writes: BTreeMap<String, PendingWrites>,
    balances: BTreeMap<String, u128>,
    burned: u128,
    transfers: usize,
    burns: usize,
    executed: usize,
    records: BTreeMap<String, TrustedContract>,
    contract_changes: usize,
}

/// The events wasmd reports for a contract run: `first` (`execute`, `instantiate`,
/// `migrate`, with its own attributes), then the contract's attributes and events.
pub(crate) fn wasm_events(first: Event, address: &str, response: &Response) -> Vec<Event> {
    let mut events = vec![first];
    if !response.attributes.is_empty() {
        events.push(
            Event::new("wasm")
                .add_attribute("_contract_address", address)
                .add_attributes(response.attributes.clone()),
        );
    }
    for event in &response.events {
        events.push(
            Event::new(format!("wasm-{}", event.ty))
                .add_attribute("_contract_address", address)
                .add_attributes(event.attributes.clone()),
        );
    }
    events
}

#[allow(deprecated)]
pub(crate) fn sub_msg_response(
    events: Vec<Event>,
    data: Option<Binary>,
    type_url: &str,
    value: Vec<u8>,
) -> SubMsgResponse {
    SubMsgResponse {
        events,
        data,
        msg_responses: vec![MsgResponse {
            type_url: type_url.to_string(),
            value: Binary::from(value),
        }],
    }
}

/// The response of a message whose protobuf answer is `{ bytes data = 1 }` (execute,
/// migrate): wasmd gives a reply that encoding as its data too.
pub(crate) fn data_response(
    events: Vec<Event>,
    data: Option<Binary>,
    type_url: &str,
) -> SubMsgResponse {
    let value = data
        .as_ref()
        .map(|d| protobuf_bytes_field(1, d.as_slice()))
        .unwrap_or_default();
    sub_msg_response(
        events,
        data.map(|_| Binary::from(value.clone())),
        type_url,
        value,
    )
}

/// A protobuf length-delimited field (`bytes` or `string`): tag, varint length, bytes.
pub(crate) fn protobuf_bytes_field(field: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 6);
    let varint = |mut n: u64, out: &mut Vec<u8>| loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    };
    varint(u64::from(field) << 3 | 2, &mut out);
    varint(bytes.len() as u64, &mut out);
    out.extend_from_slice(bytes);
    out
}

/// Engine gas for the events `response` returns: wasmd's event costs (chain gas) × the
/// multiplier, charged inside the call's limit for every contract run.
pub(crate) fn response_event_gas(response: &Response) -> u64 {
    let lengths = |attributes: &[veil_engine::cosmwasm_std::Attribute]| -> Vec<(usize, usize)> {
        attributes
            .iter()
            .map(|a| (a.key.len(), a.value.len()))
            .collect()
    };
    let events: Vec<(usize, Vec<(usize, usize)>)> = response
        .events
        .iter()
        .map(|e| (e.ty.len(), lengths(&e.attributes)))
        .collect();
    event_gas(&lengths(&response.attributes), &events).saturating_mul(GAS_MULTIPLIER)
}

impl Dispatch {
    pub(crate) fn charge(&mut self, gas: u64) -> Result<u64, Stop> {
        self.gas_used = self.gas_used.saturating_add(gas);
        if self.gas_used > self.gas_limit {
            self.gas_used = self.gas_limit;
            return Err(refused("out_of_gas", "out of gas dispatching messages"));
        }
        Ok(self.gas_limit - self.gas_used)
    }

    pub(crate) fn move_funds(&mut self, from: &str, to: &str, amount: u128) -> Result<(), Stop> {
        let transfer = Transfer {
            from: from.to_string(),
            to: to.to_string(),
            amount,
        };
        self.context
            .ledger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .transfer(&self.context.channel, &transfer)?;
        self.transfers.push(transfer);
        Ok(())
    }

    /// Carries out `messages`, returned by the contract at `sender` at nesting `depth`,
    /// calling `sender`'s `reply` entry point where a message asks for it. Returns the data
    /// a reply set, which replaces `sender`'s own (as in wasmd).
    pub fn messages(
        &mut self,
        sender: &str,
        messages: &[SubMsg],
        depth: u32,
    ) -> Result<Option<Binary>, Stop> {
        let mut data_from_replies = None;
        for sub in messages {
            let snapshot = (sub.reply_on != ReplyOn::Never).then(|| self.snapshot());
            let gas_before = self.gas_used;
            // A sub-message's own gas limit: running out of it is an error it can reply to.
            let outer_limit = self.gas_limit;
            if let Some(limit) = sub.gas_limit {
                self.gas_limit = outer_limit
                    .min(gas_before.saturating_add(limit.saturating_mul(GAS_MULTIPLIER)));
            }
            let outcome = self.message(sender, &sub.msg, depth);
            self.gas_limit = outer_limit;
            let result = match outcome {
                Err(Stop::Enclave(e)) => return Err(Stop::Enclave(e)),
                Err(Stop::Refused { kind, message }) => {
                    let catchable = kind != "out_of_gas" || sub.gas_limit.is_some();
                    match (&sub.reply_on, snapshot) {
                        (ReplyOn::Error | ReplyOn::Always, Some(snapshot)) if catchable => {
                            self.restore(snapshot);
                            SubMsgResult::Err(message)
                        }
                        _ => return Err(Stop::Refused { kind, message }),
                    }
                }
                Ok(response) => match sub.reply_on {
                    ReplyOn::Success | ReplyOn::Always => SubMsgResult::Ok(response),
                    _ => continue,
                },
            };
            let reply = Reply {
                id: sub.id,
                payload: sub.payload.clone(),
                // In chain gas, as wasmd reports SDK gas.
                gas_used: (self.gas_used - gas_before).div_ceil(GAS_MULTIPLIER),
                result,
            };
            let reply = serde_json::to_vec(&reply).expect("replies serialize");
            let response = self.call(sender, Entry::Reply, &reply, None)?;
            let mut data = response.data.clone();
            let next = response.messages.clone();
            self.executed
                .push((sender.to_string(), EntryPoint::Execute, response));
            if let Some(replaced) = self.messages(sender, &next, depth + 1)? {
                data = Some(replaced);
            }
            if data.is_some() {
                data_from_replies = data;
            }
        }
        Ok(data_from_replies)
    }

    /// Carries out one message; what a reply to it is told on success.
    fn message(
        &mut self,
        sender: &str,
        msg: &CosmosMsg,
        depth: u32,
    ) -> Result<SubMsgResponse, Stop> {
        match msg {
            CosmosMsg::Bank(BankMsg::Send { to_address, amount }) => {
                veil_types::validate_address(to_address).map_err(|e| {
                    refused("invalid_message", format!("bank send to {to_address}: {e}"))
                })?;
                let total = uveil_total(amount, "bank send")?;
                self.charge(BANK_SEND_GAS)?;
                self.move_funds(sender, to_address, total)?;
                Ok(sub_msg_response(
                    Vec::new(),
                    None,
                    "/cosmos.bank.v1beta1.MsgSendResponse",
                    Vec::new(),
                ))
            }
            CosmosMsg::Bank(BankMsg::Burn { amount }) => {
                let total = uveil_total(amount, "bank burn")?;
                self.charge(BANK_SEND_GAS)?;
                let burn = Burn {
                    from: sender.to_string(),
                    amount: total,
                };
                self.context
                    .ledger
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .burn(&self.context.channel, &burn)?;
                self.burns.push(burn);
                let event = Event::new("burn")
                    .add_attribute("burner", sender)
                    .add_attribute("amount", format!("{total}{}", veil_types::DENOM));
                Ok(sub_msg_response(
                    vec![event],
                    None,
                    "/cosmos.bank.v1beta1.MsgBurnResponse",
                    Vec::new(),
                ))
            }
            CosmosMsg::Wasm(WasmMsg::Execute {
                contract_addr,
                msg,
                funds,
            }) => {
                check_depth(depth)?;
                let total = if funds.is_empty() {
                    0
                } else {
                    uveil_total(funds, "funds sent with an execution")?
                };
                if total > 0 {
                    self.move_funds(sender, contract_addr, total)?;
                }
                let info = MessageInfo {
                    sender: Addr::unchecked(sender),
                    funds: funds.clone(),
                };
                let first = Event::new("execute").add_attribute("_contract_address", contract_addr);
                let (events, data) = self.run_and_dispatch(
                    contract_addr,
                    Entry::Execute,
                    msg,
                    Some(info),
                    first,
                    depth,
                )?;
                Ok(data_response(
                    events,
                    data,
                    "/cosmwasm.wasm.v1.MsgExecuteContractResponse",
                ))
            }
            CosmosMsg::Wasm(WasmMsg::Instantiate {
                admin,
                code_id,
                msg,
                funds,
                label,
            }) => self.instantiate(
                sender,
                super::lifecycle::Instantiation {
                    admin: admin.as_deref(),
                    code_id: *code_id,
                    label,
                    msg,
                    funds,
                    salt: None,
                },
                depth,
            ),
            CosmosMsg::Wasm(WasmMsg::Instantiate2 {
                admin,
                code_id,
                label,
                msg,
                funds,
                salt,
            }) => self.instantiate(
                sender,
                super::lifecycle::Instantiation {
                    admin: admin.as_deref(),
                    code_id: *code_id,
                    label,
                    msg,
                    funds,
                    salt: Some(salt.as_slice()),
                },
                depth,
            ),
            CosmosMsg::Wasm(WasmMsg::Migrate {
                contract_addr,
                new_code_id,
                msg,
            }) => self.migrate(sender, contract_addr, *new_code_id, msg, depth),
            CosmosMsg::Wasm(WasmMsg::UpdateAdmin {
                contract_addr,
                admin,
            }) => self.set_admin(sender, contract_addr, Some(admin)),
            CosmosMsg::Wasm(WasmMsg::ClearAdmin { contract_addr }) => {
                self.set_admin(sender, contract_addr, None)
            }
            other => {
                let kind = message_kind(other);
                Err(refused(
                    "unsupported",
                    format!(
                        "unsupported: {kind}: Veil has no module for this message, so the \
                         call was reverted"
                    ),
                ))
            }
        }
    }

    /// Runs `entry` of `address` and dispatches the messages it returns: the events wasmd
    /// reports (starting with `first`) and the data (a reply's, if one set it).
    pub(crate) fn run_and_dispatch(
        &mut self,
        address: &str,
        entry: Entry,
        msg: &[u8],
        info: Option<MessageInfo>,
        first: Event,
        depth: u32,
    ) -> Result<(Vec<Event>, Option<Binary>), Stop> {
        let response = self.call(address, entry, msg, info)?;
        let events = wasm_events(first, address, &response);
        let mut data = response.data.clone();
        let next = response.messages.clone();
        let entry_point = match entry {
            Entry::Instantiate => EntryPoint::Instantiate,
            Entry::Migrate => EntryPoint::Migrate,
            _ => EntryPoint::Execute,
        };
        self.executed
            .push((address.to_string(), entry_point, response));
        if let Some(replaced) = self.messages(address, &next, depth + 1)? {
            data = Some(replaced);
        }
        Ok((events, data))
    }

    /// Where to go back to when a sub-message that asked for a reply on error fails: the
    /// writes, balances, transfers and executions so far (gas stays spent).
    fn snapshot(&self) -> Snapshot {
        let (balances, burned) = {
            let ledger = self
                .context
                .ledger
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            (ledger.balances.clone(), ledger.burned)
        };
        Snapshot {
            writes: self
                .states
                .iter()
                .map(|(address, state)| (address.clone(), state.pending_writes()))
                .collect(),
            balances,
            burned,
            transfers: self.transfers.len(),
            burns: self.burns.len(),
            executed: self.executed.len(),
            records: self.records.clone(),
            contract_changes: self.contract_changes.len(),
        }
    }

    fn restore(&mut self, snapshot: Snapshot) {
        // Contracts first opened by the failed message had no writes before it.
        self.states
            .retain(|address, _| snapshot.writes.contains_key(address));
        for (address, writes) in snapshot.writes {
            if let Some(state) = self.states.get_mut(&address) {
                state.restore_writes(writes);
            }
        }
        {
            let mut ledger = self
                .context
                .ledger
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            ledger.balances = snapshot.balances;
            ledger.burned = snapshot.burned;
        }
        self.transfers.truncate(snapshot.transfers);
        self.burns.truncate(snapshot.burns);
        self.executed.truncate(snapshot.executed);
        self.records = snapshot.records;
        self.contract_changes.truncate(snapshot.contract_changes);
    }

    /// The record of a contract this call may run: as this call left it (new, migrated,
    /// with a new admin), else the enclave's.
    pub(crate) fn record(&self, address: &str) -> Result<Option<TrustedContract>, Stop> {
        match self.records.get(address) {
            Some(record) => Ok(Some(record.clone())),
            None => self
                .context
                .records
                .contract(address)
                .map_err(Stop::Enclave),
        }
    }

    /// Runs `entry` of the contract at `address` (`info` for execute).
    fn call(
        &mut self,
        address: &str,
        entry: Entry,
        msg: &[u8],
        info: Option<MessageInfo>,
    ) -> Result<Response, Stop> {
        let Some(record) = self.record(address)? else {
            return Err(refused(
                "invalid_message",
                format!("execute: no contract at {address}"),
            ));
        };
        // Loading the contract: a reply goes to one that just ran (wasmd's discount).
        let setup = if entry == Entry::Reply {
            REPLY_GAS
        } else {
            CONTRACT_CALL_GAS
        };
        self.charge(setup.saturating_mul(GAS_MULTIPLIER))?;
        let context = &self.context;
        ensure_loaded(&context.engine, &context.channel, &record.code_hash)
            .map_err(Stop::Enclave)?;
        let storage = match self.states.remove(address) {
            Some(storage) => storage,
            None => context
                .open_state(address, &record)
                .map_err(Stop::Enclave)?,
        };
        let backend = Backend {
            storage: Box::new(storage),
            api: Box::new(Bech32Api::default()),
            // The executing contract is the querier of the queries it makes.
            querier: Box::new(ContractQuerier {
                caller: address.to_string(),
                ..context.clone()
            }),
        };
        let env = build_env(&context.block, address);
        let randomness = veil_crypto::call_randomness(
            &context.seed,
            context.generation,
            context.block.height,
            context.block.tx_index.unwrap_or(0),
            address,
        );
        let call = Call {
            entry,
            env: &env,
            info: info.as_ref(),
            msg,
            gas_limit: self.gas_limit - self.gas_used,
            random: Some(randomness),
        };
        let checksum = veil_engine::Checksum(record.code_hash);
        let (report, backend) = context.engine.call(&checksum, call, backend);
        let storage: Box<dyn std::any::Any + Send> = backend.storage;
        let storage = storage
            .downcast::<VerifiedState<OcallNodeSource>>()
            .expect("the dispatcher always supplies VerifiedState");
        self.states.insert(address.to_string(), *storage);
        if let Some(error) = self
            .context
            .aborted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return Err(Stop::Enclave(error));
        }
        self.charge(report.gas_used)?;
        match report.result {
            Ok(Output::Response(response)) => {
                self.charge(response_event_gas(&response))?;
                Ok(response)
            }
            Ok(Output::Query(_)) => Err(refused("contract", "a call returned a query answer")),
            Err(CallError::Vm(VmError::Backend(BackendError::Integrity(m)))) => {
                Err(Stop::Enclave(fail(ErrorKind::StateIntegrity, m)))
            }
            Err(CallError::Vm(VmError::OutOfGas)) => {
                self.gas_used = self.gas_limit;
                Err(refused("out_of_gas", format!("{address} ran out of gas")))
            }
            Err(e) => {
                let kind = match &e {
                    CallError::Contract(_) => "contract",
                    CallError::Vm(vm) => vm.kind(),
                };
                Err(refused(kind, format!("{address}: {e}")))
            }
        }
    }

    /// Every contract run by a message or a reply, in order, with its public attributes.
    pub fn sub_calls(&self) -> Vec<SubCall> {
        self.executed
            .iter()
            .map(|(address, entry, response)| SubCall {
                contract: address.clone(),
                entry: *entry,
                public_attributes: public_attributes(response),
            })
            .collect()
    }
}

pub(crate) fn check_depth(depth: u32) -> Result<(), Stop> {
    if depth >= MAX_DISPATCH_DEPTH {
        return Err(refused(
            "invalid_message",
            format!("contract calls nest deeper than {MAX_DISPATCH_DEPTH}"),
        ));
    }
    Ok(())
}

/// The name an `unsupported` refusal gives a message.
#[allow(deprecated)]
fn message_kind(msg: &CosmosMsg) -> &'static str {
    use veil_engine::cosmwasm_std::{DistributionMsg, GovMsg, IbcMsg, StakingMsg};
    match msg {
        CosmosMsg::Bank(_) => "bank",
        CosmosMsg::Wasm(_) => "wasm",
        CosmosMsg::Custom(_) => "custom",
        CosmosMsg::Staking(StakingMsg::Delegate { .. }) => "staking delegate",
        CosmosMsg::Staking(StakingMsg::Undelegate { .. }) => "staking undelegate",
        CosmosMsg::Staking(StakingMsg::Redelegate { .. }) => "staking redelegate",
        CosmosMsg::Staking(_) => "staking",
        CosmosMsg::Distribution(DistributionMsg::SetWithdrawAddress { .. }) => {
            "distribution set withdraw address"
        }
        CosmosMsg::Distribution(DistributionMsg::WithdrawDelegatorReward { .. }) => {
            "distribution withdraw delegator reward"
        }
        CosmosMsg::Distribution(DistributionMsg::FundCommunityPool { .. }) => {
            "distribution fund community pool"
        }
        CosmosMsg::Distribution(_) => "distribution",
        CosmosMsg::Stargate { .. } => "stargate",
        CosmosMsg::Any(_) => "any",
        CosmosMsg::Ibc(IbcMsg::Transfer { .. }) => "ibc transfer",
        CosmosMsg::Ibc(IbcMsg::SendPacket { .. }) => "ibc send packet",
        CosmosMsg::Ibc(IbcMsg::CloseChannel { .. }) => "ibc close channel",
        CosmosMsg::Ibc(_) => "ibc",
        CosmosMsg::Gov(GovMsg::Vote { .. }) => "gov vote",
        CosmosMsg::Gov(_) => "gov",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use veil_engine::cosmwasm_std::Uint256;

    use super::*;

    fn kind(stop: Stop) -> &'static str {
        match stop {
            Stop::Refused { kind, .. } => kind,
            Stop::Enclave(e) => panic!("enclave error {e:?}"),
        }
    }

    /// Messages contracts built with cosmwasm-std's `stargate` feature may return (no
    /// example contract can: that feature requires a capability Veil does not offer).
    #[test]
    #[allow(deprecated)]
    fn unsupported_messages_are_named() {
        let parse = |json: &str| serde_json::from_str::<CosmosMsg>(json).unwrap();
        for (json, kind) in [
            (
                r#"{"stargate":{"type_url":"/x.Msg","value":""}}"#,
                "stargate",
            ),
            (r#"{"any":{"type_url":"/x.Msg","value":""}}"#, "any"),
            (
                r#"{"gov":{"vote":{"proposal_id":1,"option":"yes"}}}"#,
                "gov vote",
            ),
            (
                r#"{"ibc":{"close_channel":{"channel_id":"channel-0"}}}"#,
                "ibc close channel",
            ),
            (
                r#"{"staking":{"delegate":{"validator":"v","amount":{"denom":"uveil","amount":"1"}}}}"#,
                "staking delegate",
            ),
            (r#"{"custom":{}}"#, "custom"),
        ] {
            assert_eq!(message_kind(&parse(json)), kind, "{json}");
        }
    }

    #[test]
    fn only_positive_uveil_amounts_count() {
        let coin = |denom: &str, amount: Uint256| Coin {
            denom: denom.into(),
            amount,
        };
        let uveil = |n: u128| coin("uveil", Uint256::from(n));
        assert_eq!(uveil_total(&[uveil(3), uveil(4)], "send").unwrap(), 7);
        for coins in [
            vec![uveil(0)],
            vec![coin("uatom", Uint256::from(1u8))],
            vec![uveil(u128::MAX), uveil(1)],
            vec![coin("uveil", Uint256::from(u128::MAX) + Uint256::from(1u8))],
        ] {
            assert_eq!(
                kind(uveil_total(&coins, "send").unwrap_err()),
                "invalid_message"
            );
        }
    }
}
