//! Dispatching the messages a contract's response returns, inside the enclave: bank sends
//! become public transfers the host applies; executions of other contracts run here, on
//! their verified state under their own keys, with their messages dispatched in turn —
//! depth first and in order, as wasmd does. Any failure fails the whole call, so nothing
//! is committed unless everything succeeded. Replies are not supported yet.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use veil_crypto::MasterSeed;
use veil_enclave_abi::{EnclaveError, ErrorKind, Transfer};
use veil_engine::cosmwasm_std::{
    Addr, BankMsg, Coin, CosmosMsg, MessageInfo, ReplyOn, Response, SubMsg, Uint128, WasmMsg,
};
use veil_engine::{
    build_env, Backend, BackendError, Bech32Api, BlockContext, Call, CallError, Engine, Entry,
    Output, VmError,
};
use veil_state::VerifiedState;

use crate::{
    contract_balance, contract_cipher, ensure_loaded, fail, public_attributes, ContractQuerier,
    OcallChannel, OcallNodeSource, TrustedContract,
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
    pub engine: Arc<Engine>,
    pub channel: Arc<dyn OcallChannel>,
    pub seed: Arc<MasterSeed>,
    pub generation: u32,
    pub contracts: Arc<BTreeMap<String, TrustedContract>>,
    pub block: BlockContext,
    pub ledger: Arc<Mutex<Ledger>>,
    pub aborted: Arc<Mutex<Option<EnclaveError>>>,
    /// The state of every contract this call ran, with its writes (the called contract's
    /// too, so a contract called back sees what it wrote).
    pub states: BTreeMap<String, VerifiedState<OcallNodeSource>>,
    /// Engine gas used so far and the call's limit.
    pub gas_used: u64,
    pub gas_limit: u64,
    /// Public transfers, in the order they happened.
    pub transfers: Vec<Transfer>,
    /// Each contract executed by a message, with its response (private: for the sender).
    pub executed: Vec<(String, Response)>,
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
        self.ledger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .transfer(&self.channel, &transfer)?;
        self.transfers.push(transfer);
        Ok(())
    }

    /// Carries out `messages`, returned by the contract at `sender` at nesting `depth`.
    pub fn messages(&mut self, sender: &str, messages: &[SubMsg], depth: u32) -> Result<(), Stop> {
        for sub in messages {
            if sub.reply_on != ReplyOn::Never {
                return Err(refused(
                    "unsupported",
                    "replies to sub-messages are not supported yet, so the call was reverted",
                ));
            }
            match &sub.msg {
                CosmosMsg::Bank(BankMsg::Send { to_address, amount }) => {
                    veil_types::validate_address(to_address).map_err(|e| {
                        refused("invalid_message", format!("bank send to {to_address}: {e}"))
                    })?;
                    let total = uveil_total(amount, "bank send")?;
                    self.charge(BANK_SEND_GAS)?;
                    self.move_funds(sender, to_address, total)?;
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
                    let response =
                        self.execute(sender, contract_addr, msg.as_slice(), funds.clone())?;
                    let next = response.messages.clone();
                    self.executed.push((contract_addr.clone(), response));
                    self.messages(contract_addr, &next, depth + 1)?;
                }
                other => {
                    return Err(refused(
                        "unsupported",
                        format!(
                            "the contract returned a {} message; only bank sends and contract \
                             executions are dispatched yet, so the call was reverted",
                            message_kind(other)
                        ),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Runs `address`'s execute entry point for `sender`.
    fn execute(
        &mut self,
        sender: &str,
        address: &str,
        msg: &[u8],
        funds: Vec<Coin>,
    ) -> Result<Response, Stop> {
        let Some(record) = self.contracts.get(address).cloned() else {
            return Err(refused(
                "invalid_message",
                format!("execute: no contract at {address}"),
            ));
        };
        ensure_loaded(&self.engine, &self.channel, &record.code_hash).map_err(Stop::Enclave)?;
        let storage = match self.states.remove(address) {
            Some(storage) => storage,
            None => {
                let cipher = contract_cipher(&self.seed, self.generation, address, &record)
                    .map_err(Stop::Enclave)?;
                let source = OcallNodeSource {
                    channel: self.channel.clone(),
                    contract: address.to_string(),
                };
                VerifiedState::open(source, cipher, record.root.map(veil_state::NodeId))
            }
        };
        let backend = Backend {
            storage: Box::new(storage),
            api: Box::new(Bech32Api::default()),
            querier: Box::new(ContractQuerier {
                channel: self.channel.clone(),
                engine: self.engine.clone(),
                seed: self.seed.clone(),
                generation: self.generation,
                contracts: self.contracts.clone(),
                block: self.block.clone(),
                depth: 1,
                aborted: self.aborted.clone(),
                ledger: self.ledger.clone(),
            }),
        };
        let env = build_env(&self.block, address);
        let info = MessageInfo {
            sender: Addr::unchecked(sender),
            funds,
        };
        let randomness = veil_crypto::call_randomness(
            &self.seed,
            self.generation,
            self.block.height,
            self.block.tx_index.unwrap_or(0),
            address,
        );
        let call = Call {
            entry: Entry::Execute,
            env: &env,
            info: Some(&info),
            msg,
            gas_limit: self.gas_limit - self.gas_used,
            random: Some(randomness),
        };
        let checksum = veil_engine::Checksum(record.code_hash);
        let (report, backend) = self.engine.call(&checksum, call, backend);
        let storage: Box<dyn std::any::Any + Send> = backend.storage;
        let storage = storage
            .downcast::<VerifiedState<OcallNodeSource>>()
            .expect("the dispatcher always supplies VerifiedState");
        self.states.insert(address.to_string(), *storage);
        if let Some(error) = self
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
            Ok(Output::Query(_)) => Err(refused("contract", "execute returned a query answer")),
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
