//! A transaction message (`veil_types::Msg`) the structured targets sign: every kind a
//! user may send, with fuzzed fields. Shared by `tx_decode` and `enclave_ecall`.

use arbitrary::Arbitrary;
use veil_types::Msg;

#[derive(Debug, Arbitrary)]
pub enum MsgSpec {
    Send {
        to: String,
        amount: u128,
    },
    StoreCode {
        wasm: Vec<u8>,
        policy: Option<String>,
    },
    Instantiate {
        code_id: u64,
        label: String,
        admin: Option<String>,
        msg: Vec<u8>,
        funds: u128,
    },
    Execute {
        contract: String,
        msg: Vec<u8>,
        funds: u128,
    },
    Migrate {
        contract: String,
        code_id: u64,
        msg: Vec<u8>,
    },
    SetQueryPolicy {
        contract: String,
        policy: String,
    },
    RegisterNode {
        key: [u8; 32],
        attestation: Vec<u8>,
    },
    RevokeNode {
        key: [u8; 32],
        reason: String,
    },
}

impl MsgSpec {
    /// The message; a policy that does not parse is left out (or, for `SetQueryPolicy`,
    /// which needs one, the message becomes a `Send`).
    pub fn to_msg(&self) -> Msg {
        let policy = |p: &Option<String>| {
            p.as_deref()
                .and_then(|p| veil_types::QueryPolicy::from_preset_or_json(p).ok())
        };
        match self {
            MsgSpec::Send { to, amount } => Msg::Send {
                to: to.clone(),
                amount: *amount,
            },
            MsgSpec::StoreCode { wasm, policy: p } => Msg::StoreCode {
                wasm: wasm.clone(),
                query_policy: policy(p),
            },
            MsgSpec::Instantiate {
                code_id,
                label,
                admin,
                msg,
                funds,
            } => Msg::Instantiate {
                code_id: *code_id,
                label: label.clone(),
                admin: admin.clone(),
                msg: msg.clone(),
                funds: *funds,
                query_policy: None,
            },
            MsgSpec::Execute {
                contract,
                msg,
                funds,
            } => Msg::Execute {
                contract: contract.clone(),
                msg: msg.clone(),
                funds: *funds,
            },
            MsgSpec::Migrate {
                contract,
                code_id,
                msg,
            } => Msg::Migrate {
                contract: contract.clone(),
                code_id: *code_id,
                msg: msg.clone(),
            },
            MsgSpec::SetQueryPolicy {
                contract,
                policy: p,
            } => match policy(&Some(p.clone())) {
                Some(query_policy) => Msg::SetQueryPolicy {
                    contract: contract.clone(),
                    query_policy,
                },
                None => Msg::Send {
                    to: contract.clone(),
                    amount: 0,
                },
            },
            MsgSpec::RegisterNode { key, attestation } => Msg::RegisterNode {
                registration_key: *key,
                attestation: attestation.clone(),
            },
            MsgSpec::RevokeNode { key, reason } => Msg::RevokeNode {
                registration_key: *key,
                reason: reason.clone(),
            },
        }
    }
}
