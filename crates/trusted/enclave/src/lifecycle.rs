//! The contract lifecycle messages a contract may return — `WasmMsg::Instantiate`,
//! `Instantiate2`, `Migrate`, `UpdateAdmin`, `ClearAdmin` — carried out inside the enclave
//! with wasmd's rules: the addresses wasmd derives, its admin checks, events and reply
//! data. The enclave's trusted record of each contract changes with them (a new contract's
//! creator is the instantiating contract, its query policy its code's default); the host
//! learns the public record changes ([`ContractChange`]) to keep its copy.

use sha2::{Digest, Sha256};
use veil_enclave_abi::{ContractChange, Hash};
use veil_engine::cosmwasm_std::{
    instantiate2_address, Addr, Binary, CanonicalAddr, Coin, Event, MessageInfo, SubMsgResponse,
};
use veil_engine::{Api, Bech32Api, Entry};

use crate::dispatch::{
    check_depth, data_response, protobuf_bytes_field, refused, sub_msg_response, uveil_total,
    Dispatch, Stop,
};
use crate::{CodeRecord, TrustedContract};

/// wasmd's `MaxLabelSize`.
pub const MAX_LABEL_BYTES: usize = 128;

/// What an `Instantiate` or `Instantiate2` message asks for.
pub(crate) struct Instantiation<'a> {
    pub admin: Option<&'a str>,
    pub code_id: u64,
    pub label: &'a str,
    pub msg: &'a Binary,
    pub funds: &'a [Coin],
    /// `Instantiate2`'s salt: the address is predictable (wasmd's
    /// `BuildContractAddressPredictable`); without it, wasmd's classic address.
    pub salt: Option<&'a [u8]>,
}

/// wasmd's `address.Module("wasm", key)`: SHA-256(SHA-256("module") || "wasm\0" || key),
/// the 32-byte address of classic instantiations (`BuildContractAddressClassic`, key =
/// code id || instance id, big-endian).
pub fn classic_contract_address(code_id: u64, instance_id: u64) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(Sha256::digest(b"module"));
    hasher.update(b"wasm\0");
    hasher.update(code_id.to_be_bytes());
    hasher.update(instance_id.to_be_bytes());
    hasher.finalize().into()
}

/// wasmd's `BuildContractAddressPredictable` (`Instantiate2` without `fix_msg`):
/// cosmwasm-std's `instantiate2_address` of the code's checksum, the creator's canonical
/// address and the salt (1 to 64 bytes).
pub fn predictable_contract_address(
    checksum: &Hash,
    creator: &[u8],
    salt: &[u8],
) -> Result<Vec<u8>, String> {
    instantiate2_address(checksum, &CanonicalAddr::from(creator), salt)
        .map(|address| address.as_slice().to_vec())
        .map_err(|e| e.to_string())
}

/// wasmd's `ValidateLabel`.
fn check_label(label: &str) -> Result<(), Stop> {
    let why = if label.is_empty() {
        "label is required"
    } else if label.len() > MAX_LABEL_BYTES {
        "label is longer than 128 bytes"
    } else if label.trim() != label {
        "label must not start or end with whitespace"
    } else {
        return Ok(());
    };
    Err(refused("invalid_message", format!("instantiate: {why}")))
}

fn check_address(what: &str, address: &str) -> Result<(), Stop> {
    veil_types::validate_address(address)
        .map_err(|e| refused("invalid_message", format!("{what}: {e}")))
}

impl Dispatch {
    fn code(&self, code_id: u64) -> Result<CodeRecord, Stop> {
        self.context
            .records
            .code(code_id)
            .map_err(Stop::Enclave)?
            .ok_or_else(|| refused("invalid_message", format!("no code with id {code_id}")))
    }

    /// The next classic instance id: one more than every contract the chain has (those the
    /// enclave recorded and those this call created so far), so it never repeats.
    fn next_instance_id(&self) -> Result<u64, Stop> {
        let mut created = 0;
        for address in self.records.keys() {
            if !self
                .context
                .records
                .has_contract(address)
                .map_err(Stop::Enclave)?
            {
                created += 1;
            }
        }
        Ok(self.context.records.contract_count() + created + 1)
    }

    pub(crate) fn instantiate(
        &mut self,
        sender: &str,
        request: Instantiation<'_>,
        depth: u32,
    ) -> Result<SubMsgResponse, Stop> {
        check_depth(depth)?;
        check_label(request.label)?;
        if let Some(admin) = request.admin {
            check_address("instantiate: admin", admin)?;
        }
        let code = self.code(request.code_id)?;
        let api = Bech32Api::default();
        let canonical = match request.salt {
            Some(salt) => {
                let creator = api
                    .addr_canonicalize(sender)
                    .map_err(|e| refused("invalid_message", format!("instantiate2: {e}")))?;
                predictable_contract_address(&code.code_hash, &creator, salt)
                    .map_err(|e| refused("invalid_message", format!("instantiate2: {e}")))?
            }
            None => classic_contract_address(request.code_id, self.next_instance_id()?).to_vec(),
        };
        let address = api
            .addr_humanize(&canonical)
            .map_err(|e| refused("invalid_message", format!("instantiate: {e}")))?;
        if self.record(&address)?.is_some() {
            return Err(refused(
                "invalid_message",
                format!(
                    "instantiate: a contract exists at {address} (for instantiate2: use \
                     another salt)"
                ),
            ));
        }
        let total = if request.funds.is_empty() {
            0
        } else {
            uveil_total(request.funds, "funds sent with an instantiation")?
        };
        if total > 0 {
            self.move_funds(sender, &address, total)?;
        }
        self.records.insert(
            address.clone(),
            TrustedContract {
                root: None,
                code_hash: code.code_hash,
                init_code_hash: code.code_hash,
                creator: sender.to_string(),
                admin: request.admin.map(str::to_string),
                query_policy: code.default_query_policy.clone(),
            },
        );
        self.contract_changes.push(ContractChange::Instantiated {
            address: address.clone(),
            code_id: request.code_id,
            code_hash: code.code_hash,
            creator: sender.to_string(),
            admin: request.admin.map(str::to_string),
            label: request.label.to_string(),
        });
        let info = MessageInfo {
            sender: Addr::unchecked(sender),
            funds: request.funds.to_vec(),
        };
        let first = Event::new("instantiate")
            .add_attribute("_contract_address", &address)
            .add_attribute("code_id", request.code_id.to_string());
        let (events, data) = self.run_and_dispatch(
            &address,
            Entry::Instantiate,
            request.msg.as_slice(),
            Some(info),
            first,
            depth,
        )?;
        // MsgInstantiateContractResponse { string address = 1; bytes data = 2; }
        let mut value = protobuf_bytes_field(1, address.as_bytes());
        if let Some(data) = &data {
            value.extend(protobuf_bytes_field(2, data.as_slice()));
        }
        Ok(sub_msg_response(
            events,
            Some(Binary::from(value.clone())),
            "/cosmwasm.wasm.v1.MsgInstantiateContractResponse",
            value,
        ))
    }

    /// The record of `address` if `sender` is its admin (wasmd's check for migrate and
    /// admin changes).
    fn administered(
        &self,
        sender: &str,
        address: &str,
        what: &str,
    ) -> Result<TrustedContract, Stop> {
        let record = self.record(address)?.ok_or_else(|| {
            refused(
                "invalid_message",
                format!("{what}: no contract at {address}"),
            )
        })?;
        if record.admin.as_deref() != Some(sender) {
            return Err(refused(
                "unauthorized",
                match &record.admin {
                    Some(admin) => {
                        format!("{what}: only the admin {admin} of {address} may do this")
                    }
                    None => format!("{what}: {address} has no admin"),
                },
            ));
        }
        Ok(record)
    }

    pub(crate) fn migrate(
        &mut self,
        sender: &str,
        address: &str,
        code_id: u64,
        msg: &Binary,
        depth: u32,
    ) -> Result<SubMsgResponse, Stop> {
        check_depth(depth)?;
        let record = self.administered(sender, address, "migrate")?;
        let code = self.code(code_id)?;
        self.records.insert(
            address.to_string(),
            TrustedContract {
                code_hash: code.code_hash,
                ..record
            },
        );
        self.contract_changes.push(ContractChange::Migrated {
            address: address.to_string(),
            code_id,
            code_hash: code.code_hash,
        });
        let info = MessageInfo {
            sender: Addr::unchecked(sender),
            funds: Vec::new(),
        };
        let first = Event::new("migrate")
            .add_attribute("_contract_address", address)
            .add_attribute("code_id", code_id.to_string());
        let (events, data) = self.run_and_dispatch(
            address,
            Entry::Migrate,
            msg.as_slice(),
            Some(info),
            first,
            depth,
        )?;
        Ok(data_response(
            events,
            data,
            "/cosmwasm.wasm.v1.MsgMigrateContractResponse",
        ))
    }

    /// `UpdateAdmin` (`Some`) or `ClearAdmin` (`None`).
    pub(crate) fn set_admin(
        &mut self,
        sender: &str,
        address: &str,
        admin: Option<&String>,
    ) -> Result<SubMsgResponse, Stop> {
        let what = if admin.is_some() {
            "update admin"
        } else {
            "clear admin"
        };
        if let Some(admin) = admin {
            check_address("update admin: new admin", admin)?;
        }
        let record = self.administered(sender, address, what)?;
        self.records.insert(
            address.to_string(),
            TrustedContract {
                admin: admin.cloned(),
                ..record
            },
        );
        self.contract_changes.push(ContractChange::AdminChanged {
            address: address.to_string(),
            admin: admin.cloned(),
        });
        let event = Event::new("update_contract_admin")
            .add_attribute("_contract_address", address)
            .add_attribute("new_admin_address", admin.cloned().unwrap_or_default());
        let type_url = if admin.is_some() {
            "/cosmwasm.wasm.v1.MsgUpdateAdminResponse"
        } else {
            "/cosmwasm.wasm.v1.MsgClearAdminResponse"
        };
        Ok(sub_msg_response(vec![event], None, type_url, Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// wasmd's own test vector (x/wasm/keeper/addresses_test.go, "initial account addr
    /// example"): checksum, creator and salt as there, the address it expects.
    #[test]
    fn instantiate2_gives_wasmd_addresses() {
        let checksum: Hash =
            unhex("13a1fc994cc6d1c81b746ee0c0ff6f90043875e0bf1d9be6b7d779fc978dc2a5")
                .try_into()
                .unwrap();
        let creator = unhex("9999999999aaaaaaaaaabbbbbbbbbbcccccccccc");
        let address = predictable_contract_address(&checksum, &creator, &unhex("61")).unwrap();
        assert_eq!(
            address,
            unhex("5e865d3e45ad3e961f77fd77d46543417ced44d924dc3e079b5415ff6775f847")
        );
        assert!(predictable_contract_address(&checksum, &creator, &[]).is_err());
        assert!(predictable_contract_address(&checksum, &creator, &[7; 65]).is_err());
    }

    /// Code id 1, instance 1: the first contract of every wasmd chain, as wasmd's own
    /// test chains list it (`wasmd query wasm list-contract-by-code 1`).
    #[test]
    fn classic_addresses_are_wasmds() {
        let address = Bech32Api::new("wasm")
            .unwrap()
            .addr_humanize(&classic_contract_address(1, 1))
            .unwrap();
        assert_eq!(
            address,
            "wasm14hj2tavq8fpesdwxxcu44rty3hh90vhujrvcmstl4zr3txmfvw9s0phg4d"
        );
    }

    #[test]
    fn labels_follow_wasmds_rules() {
        assert!(check_label("factory child 1").is_ok());
        for bad in ["", " padded", "padded ", &"x".repeat(129)] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
    }
}
