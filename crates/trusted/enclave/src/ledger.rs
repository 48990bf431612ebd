//! The native-token ledger of one call: balances of the accounts its messages touch, as
//! the host reported them at first use and then as the call's transfers and burns left
//! them (contracts' bank queries see these too).

use std::collections::BTreeMap;
use std::sync::Arc;

use veil_enclave_abi::{Burn, Transfer};

use crate::contract_balance;
use crate::dispatch::{refused, Stop};
use crate::OcallChannel;

/// Native-token balances of the accounts a call's messages touch: as the host reported
/// them at first use, then as this call's transfers left them (contracts' bank queries see
/// these too).
#[derive(Default)]
pub(crate) struct Ledger {
    pub(crate) balances: BTreeMap<String, u128>,
    /// What this call's burns took out of the supply the host reports.
    pub(crate) burned: u128,
}

impl Ledger {
    pub fn known(&self, address: &str) -> Option<u128> {
        self.balances.get(address).copied()
    }

    pub fn burned(&self) -> u128 {
        self.burned
    }

    pub(crate) fn burn(
        &mut self,
        channel: &Arc<dyn OcallChannel>,
        burn: &Burn,
    ) -> Result<(), Stop> {
        let have = self.balance(channel, &burn.from)?;
        if have < burn.amount {
            return Err(refused(
                "insufficient_funds",
                format!(
                    "{} burns {}{} but holds {have}{}",
                    burn.from,
                    burn.amount,
                    veil_types::DENOM,
                    veil_types::DENOM
                ),
            ));
        }
        self.balances.insert(burn.from.clone(), have - burn.amount);
        self.burned = self.burned.saturating_add(burn.amount);
        Ok(())
    }

    pub(crate) fn balance(
        &mut self,
        channel: &Arc<dyn OcallChannel>,
        address: &str,
    ) -> Result<u128, Stop> {
        if let Some(balance) = self.known(address) {
            return Ok(balance);
        }
        let balance = contract_balance(channel, address).map_err(|e| refused("unavailable", e))?;
        self.balances.insert(address.to_string(), balance);
        Ok(balance)
    }

    pub(crate) fn transfer(
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

#[cfg(test)]
mod tests {
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
            burned: 0,
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
    fn burns_take_from_the_balance_and_count_against_the_supply() {
        let host: Arc<dyn OcallChannel> = Arc::new(NoHost);
        let mut l = ledger(&[("a", 100)]);
        let burn = |amount| Burn {
            from: "a".into(),
            amount,
        };
        l.burn(&host, &burn(30)).unwrap();
        assert_eq!((l.known("a"), l.burned()), (Some(70), 30));
        assert_eq!(
            kind(l.burn(&host, &burn(71)).unwrap_err()),
            "insufficient_funds"
        );
        assert_eq!((l.known("a"), l.burned()), (Some(70), 30));
    }
}
