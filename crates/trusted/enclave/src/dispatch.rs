//! Dispatching the messages a contract's response returns, inside the enclave: bank sends
//! become public transfers the host applies; executions of other contracts run here, on
//! their verified state under their own keys, with their messages dispatched in turn —
//! depth first and in order, as wasmd does. Any failure fails the whole call, so nothing
//! is committed unless everything succeeded — but for a message that asked for a reply on
//! error: its effects are undone and the sender's `reply` entry point is told.

use std::collections::BTreeMap;
use std::sync::Arc;

use veil_enclave_abi::{EnclaveError, ErrorKind, Transfer};
use veil_engine::cosmwasm_std::{
    Addr, BankMsg, Binary, Coin, CosmosMsg, Event, MessageInfo, MsgResponse, Reply, ReplyOn,
    Response, SubMsg, SubMsgResponse, SubMsgResult, Uint128, WasmMsg,
};
use veil_engine::{
    build_env, Backend, BackendError, Bech32Api, Call, CallError, Entry, Output, VmError,
};
use veil_state::{PendingWrites, VerifiedState};

use crate::{
    contract_balance, ensure_loaded, fail, public_attributes, ContractQuerier, OcallChannel,
    OcallNodeSource, TrustedContract,
};

/// Engine gas charged per bank send a contract dispatches (10,000 chain gas).
pub const BANK_SEND_GAS: u64 = 10_000_000;
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

fn refused(kind: &'static str, message: impl Into<String>) -> Stop {
    Stop::Refused {
        kind,
        message: message.into(),
    }
}

/// Native-token balances of the accounts a call's messages touch: as the host reported
/// them at first use, then as this call's transfers left them (contracts' bank queries see
/// these too).
#[derive(Default)]
pub(crate) struct Ledger {
    balances: BTreeMap<String, u128>,
}

impl Ledger {
    pub fn known(&self, address: &str) -> Option<u128> {
        self.balances.get(address).copied()
    }

    fn balance(&mut self, channel: &Arc<dyn OcallChannel>, address: &str) -> Result<u128, Stop> {
        if let Some(balance) = self.known(address) {
            return Ok(balance);
        }
        let balance = contract_balance(channel, address).map_err(|e| refused("unavailable", e))?;
        self.balances.insert(address.to_string(), balance);
        Ok(balance)
    }

    fn transfer(
        &mut self,
        channel: &Arc<dyn OcallChannel>,
        transfer: &Transfer,
    ) -> Result<(), Stop> {
        let have = self.balance(channel, &transfer.from)?;
        let to_before = self.balance(channel, &transfer.to)?;
        if have < transfer.amount {
            return Err(refused(
                "insufficient_funds",
                format!(
                    "{} sends {}{} but holds {have}{}",
                    transfer.from,
                    transfer.amount,
                    veil_types::DENOM,
                    veil_types::DENOM
                ),
            ));
        }
        if transfer.from == transfer.to {
            return Ok(());
        }
        let to_after = to_before
            .checked_add(transfer.amount)
            .ok_or_else(|| refused("invalid_message", "balance overflow"))?;
        self.balances
            .insert(transfer.from.clone(), have - transfer.amount);
        self.balances.insert(transfer.to.clone(), to_after);
        Ok(())
    }
}

/// The total of `coins`, which must all be positive amounts of the chain's denomination.
fn uveil_total(coins: &[Coin], what: &str) -> Result<u128, Stop> {
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
    /// Each contract run by a message or a reply, with its response (private: for the
    /// sender).
    pub executed: Vec<(String, Response)>,
    /// The called contract and its record as this call has it.
    pub called: (String, TrustedContract),
}

/// See [`Dispatch::snapshot`].
struct Snapshot {
    writes: BTreeMap<String, PendingWrites>,
    balances: BTreeMap<String, u128>,
    transfers: usize,
    executed: usize,
}

/// The events wasmd reports for a contract execution.
fn wasm_events(address: &str, response: &Response) -> Vec<Event> {
    let mut events = vec![Event::new("execute").add_attribute("_contract_address", address)];
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
fn sub_msg_response(
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

/// A protobuf `bytes` field: tag, varint length, bytes.
fn protobuf_bytes_field(field: u32, bytes: &[u8]) -> Vec<u8> {
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

impl Dispatch {
    fn charge(&mut self, gas: u64) -> Result<u64, Stop> {
        self.gas_used = self.gas_used.saturating_add(gas);
        if self.gas_used > self.gas_limit {
            self.gas_used = self.gas_limit;
            return Err(refused("out_of_gas", "out of gas dispatching messages"));
        }
        Ok(self.gas_limit - self.gas_used)
    }

    fn move_funds(&mut self, from: &str, to: &str, amount: u128) -> Result<(), Stop> {
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
                self.gas_limit =
                    outer_limit.min(gas_before.saturating_add(limit.saturating_mul(1000)));
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
                gas_used: (self.gas_used - gas_before) / 1000,
                result,
            };
            let reply = serde_json::to_vec(&reply).expect("replies serialize");
            let response = self.call(sender, Entry::Reply, &reply, None)?;
            let mut data = response.data.clone();
            let next = response.messages.clone();
            self.executed.push((sender.to_string(), response));
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
            CosmosMsg::Wasm(WasmMsg::Execute {
                contract_addr,
                msg,
                funds,
            }) => {
                if depth >= MAX_DISPATCH_DEPTH {
                    return Err(refused(
                        "invalid_message",
                        format!("contract calls nest deeper than {MAX_DISPATCH_DEPTH}"),
                    ));
                }
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
                let response =
                    self.call(contract_addr, Entry::Execute, msg.as_slice(), Some(info))?;
                let events = wasm_events(contract_addr, &response);
                let mut data = response.data.clone();
                let next = response.messages.clone();
                self.executed.push((contract_addr.clone(), response));
                if let Some(replaced) = self.messages(contract_addr, &next, depth + 1)? {
                    data = Some(replaced);
                }
                // MsgExecuteContractResponse { bytes data = 1 }, protobuf.
                let value = data
                    .as_ref()
                    .map(|d| protobuf_bytes_field(1, d.as_slice()))
                    .unwrap_or_default();
                Ok(sub_msg_response(
                    events,
                    data,
                    "/cosmwasm.wasm.v1.MsgExecuteContractResponse",
                    value,
                ))
            }
            other => Err(refused(
                "unsupported",
                format!(
                    "the contract returned a {} message; only bank sends and contract \
                     executions are dispatched yet, so the call was reverted",
                    message_kind(other)
                ),
            )),
        }
    }

    /// Where to go back to when a sub-message that asked for a reply on error fails: the
    /// writes, balances, transfers and executions so far (gas stays spent).
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            writes: self
                .states
                .iter()
                .map(|(address, state)| (address.clone(), state.pending_writes()))
                .collect(),
            balances: self
                .context
                .ledger
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .balances
                .clone(),
            transfers: self.transfers.len(),
            executed: self.executed.len(),
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
        self.context
            .ledger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .balances = snapshot.balances;
        self.transfers.truncate(snapshot.transfers);
        self.executed.truncate(snapshot.executed);
    }

    /// The record of a contract this call may run: the called contract's own (it may be
    /// new, or migrating), else the enclave's.
    fn record(&self, address: &str) -> Option<TrustedContract> {
        match &self.called {
            (called, record) if called == address => Some(record.clone()),
            _ => self.context.contracts.get(address).cloned(),
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
        let Some(record) = self.record(address) else {
            return Err(refused(
                "invalid_message",
                format!("execute: no contract at {address}"),
            ));
        };
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
            Ok(Output::Response(response)) => Ok(response),
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

    /// Public attributes of every executed contract, in order.
    pub fn public_events(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.executed
            .iter()
            .map(|(address, response)| (address.clone(), public_attributes(response)))
            .collect()
    }
}

fn message_kind(msg: &CosmosMsg) -> &'static str {
    match msg {
        CosmosMsg::Bank(BankMsg::Burn { .. }) => "bank burn",
        CosmosMsg::Bank(_) => "bank",
        CosmosMsg::Wasm(WasmMsg::Instantiate { .. }) => "wasm instantiate",
        CosmosMsg::Wasm(WasmMsg::Migrate { .. }) => "wasm migrate",
        CosmosMsg::Wasm(_) => "wasm",
        CosmosMsg::Custom(_) => "custom",
        CosmosMsg::Staking(_) => "staking",
        CosmosMsg::Distribution(_) => "distribution",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use veil_engine::cosmwasm_std::Uint256;

    use super::*;

    /// A host that answers nothing: balances must come from the ledger.
    struct NoHost;

    impl OcallChannel for NoHost {
        fn ocall(&self, _request: Vec<u8>) -> Result<Vec<u8>, String> {
            Err("no host".into())
        }
    }

    fn ledger(balances: &[(&str, u128)]) -> Ledger {
        Ledger {
            balances: balances.iter().map(|(a, b)| (a.to_string(), *b)).collect(),
        }
    }

    fn transfer(from: &str, to: &str, amount: u128) -> Transfer {
        Transfer {
            from: from.into(),
            to: to.into(),
            amount,
        }
    }

    fn kind(stop: Stop) -> &'static str {
        match stop {
            Stop::Refused { kind, .. } => kind,
            Stop::Enclave(e) => panic!("enclave error {e:?}"),
        }
    }

    #[test]
    fn transfers_move_balances_and_refuse_what_is_not_there() {
        let host: Arc<dyn OcallChannel> = Arc::new(NoHost);
        let mut l = ledger(&[("a", 100), ("b", 0)]);
        l.transfer(&host, &transfer("a", "b", 60)).unwrap();
        l.transfer(&host, &transfer("b", "b", 60)).unwrap();
        assert_eq!((l.known("a"), l.known("b")), (Some(40), Some(60)));
        let err = l.transfer(&host, &transfer("a", "b", 41)).unwrap_err();
        assert_eq!(kind(err), "insufficient_funds");
        assert_eq!((l.known("a"), l.known("b")), (Some(40), Some(60)));
        // An account the host cannot report is refused, nothing moves.
        let err = l.transfer(&host, &transfer("a", "c", 1)).unwrap_err();
        assert_eq!(kind(err), "unavailable");
        assert_eq!(l.known("a"), Some(40));
        let mut full = ledger(&[("a", 1), ("b", u128::MAX)]);
        assert_eq!(
            kind(full.transfer(&host, &transfer("a", "b", 1)).unwrap_err()),
            "invalid_message"
        );
        assert_eq!(full.known("a"), Some(1));
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
