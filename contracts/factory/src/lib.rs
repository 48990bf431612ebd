//! A factory contract: children at predictable addresses (`Instantiate2`), classic
//! instantiations, migrations and admin changes of its children, and any messages or
//! chain queries passed through (see the README).

use cosmwasm_std::{
    entry_point, instantiate2_address, to_json_binary, to_json_vec, Addr, Binary, ContractResult,
    CosmosMsg, Deps, DepsMut, Env, MessageInfo, QueryRequest, Reply, Response, StdError, StdResult,
    SubMsg, SystemResult, WasmMsg,
};
use cw_storage_plus::{Item, Map};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstantiateMsg {}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecuteMsg {
    /// Instantiate2 of `code_id` with `salt`; the child's admin is the factory.
    CreateChild {
        code_id: u64,
        salt: Binary,
        label: String,
        msg: Binary,
    },
    /// Classic instantiation of `code_id`; the child's admin is the factory.
    CreateClassic {
        code_id: u64,
        label: String,
        msg: Binary,
    },
    MigrateChild {
        contract: String,
        code_id: u64,
        msg: Binary,
    },
    UpdateChildAdmin {
        contract: String,
        admin: String,
    },
    ClearChildAdmin {
        contract: String,
    },
    /// Returns `msgs` as they are.
    Dispatch {
        msgs: Vec<CosmosMsg>,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QueryMsg {
    /// Every child created, in order.
    Children {},
    /// Where `CreateChild` with this code and salt puts the child.
    Predict { code_id: u64, salt: Binary },
    /// Runs a chain query; answers `{"ok": base64}` or `{"error": "…"}`.
    Chain { request: QueryRequest },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Child {
    pub label: String,
    pub address: Addr,
    pub code_id: u64,
}

#[derive(Serialize, Deserialize)]
pub struct ChildrenResponse {
    pub children: Vec<Child>,
}

#[derive(Serialize, Deserialize)]
pub struct PredictResponse {
    pub address: Addr,
}

#[derive(Serialize, Deserialize, Default)]
pub struct ChainResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<Binary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A child being instantiated: what the reply checks and records.
#[derive(Serialize, Deserialize)]
struct Pending {
    label: String,
    code_id: u64,
    /// Set for Instantiate2: the address the child must get.
    expected: Option<Addr>,
}

const PENDING: Item<Pending> = Item::new("pending");
const CHILDREN: Map<u64, Child> = Map::new("children");
const CHILD_COUNT: Item<u64> = Item::new("child_count");
const INSTANTIATED: u64 = 1;

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    _msg: InstantiateMsg,
) -> StdResult<Response> {
    CHILD_COUNT.save(deps.storage, &0)?;
    Ok(Response::new())
}

fn predict(deps: Deps, env: &Env, code_id: u64, salt: &[u8]) -> StdResult<Addr> {
    let checksum = deps.querier.query_wasm_code_info(code_id)?.checksum;
    let creator = deps.api.addr_canonicalize(env.contract.address.as_str())?;
    let address = instantiate2_address(checksum.as_slice(), &creator, salt)
        .map_err(|e| StdError::generic_err(e.to_string()))?;
    deps.api.addr_humanize(&address)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    _info: MessageInfo,
    msg: ExecuteMsg,
) -> StdResult<Response> {
    let admin = Some(env.contract.address.to_string());
    match msg {
        ExecuteMsg::CreateChild {
            code_id,
            salt,
            label,
            msg,
        } => {
            let expected = predict(deps.as_ref(), &env, code_id, &salt)?;
            PENDING.save(
                deps.storage,
                &Pending {
                    label: label.clone(),
                    code_id,
                    expected: Some(expected.clone()),
                },
            )?;
            let create = WasmMsg::Instantiate2 {
                admin,
                code_id,
                label,
                msg,
                funds: vec![],
                salt,
            };
            Ok(Response::new()
                .add_attribute("predicted", expected)
                .add_submessage(SubMsg::reply_on_success(create, INSTANTIATED)))
        }
        ExecuteMsg::CreateClassic {
            code_id,
            label,
            msg,
        } => {
            PENDING.save(
                deps.storage,
                &Pending {
                    label: label.clone(),
                    code_id,
                    expected: None,
                },
            )?;
            let create = WasmMsg::Instantiate {
                admin,
                code_id,
                label,
                msg,
                funds: vec![],
            };
            Ok(Response::new().add_submessage(SubMsg::reply_on_success(create, INSTANTIATED)))
        }
        ExecuteMsg::MigrateChild {
            contract,
            code_id,
            msg,
        } => Ok(Response::new().add_message(WasmMsg::Migrate {
            contract_addr: contract,
            new_code_id: code_id,
            msg,
        })),
        ExecuteMsg::UpdateChildAdmin { contract, admin } => {
            Ok(Response::new().add_message(WasmMsg::UpdateAdmin {
                contract_addr: contract,
                admin,
            }))
        }
        ExecuteMsg::ClearChildAdmin { contract } => {
            Ok(Response::new().add_message(WasmMsg::ClearAdmin {
                contract_addr: contract,
            }))
        }
        ExecuteMsg::Dispatch { msgs } => Ok(Response::new().add_messages(msgs)),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn reply(deps: DepsMut, _env: Env, reply: Reply) -> StdResult<Response> {
    if reply.id != INSTANTIATED {
        return Err(StdError::generic_err(format!("unknown reply {}", reply.id)));
    }
    let pending = PENDING.load(deps.storage)?;
    PENDING.remove(deps.storage);
    let response = reply.result.into_result().map_err(StdError::generic_err)?;
    let first = response
        .msg_responses
        .first()
        .ok_or_else(|| StdError::generic_err("the instantiation answered no message response"))?;
    let created = cw_utils::parse_instantiate_response_data(first.value.as_slice())
        .map_err(|e| StdError::generic_err(e.to_string()))?;
    let address = deps.api.addr_validate(&created.contract_address)?;
    if let Some(expected) = &pending.expected {
        if *expected != address {
            return Err(StdError::generic_err(format!(
                "the child is at {address}, not at the predicted {expected}"
            )));
        }
    }
    let count = CHILD_COUNT.load(deps.storage)?;
    CHILDREN.save(
        deps.storage,
        count,
        &Child {
            label: pending.label,
            address: address.clone(),
            code_id: pending.code_id,
        },
    )?;
    CHILD_COUNT.save(deps.storage, &(count + 1))?;
    Ok(Response::new()
        .add_attribute("child", address.as_str())
        .set_data(address.as_bytes().to_vec()))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Children {} => {
            let children = CHILDREN
                .range(deps.storage, None, None, cosmwasm_std::Order::Ascending)
                .map(|item| item.map(|(_, child)| child))
                .collect::<StdResult<Vec<_>>>()?;
            to_json_binary(&ChildrenResponse { children })
        }
        QueryMsg::Predict { code_id, salt } => to_json_binary(&PredictResponse {
            address: predict(deps, &env, code_id, &salt)?,
        }),
        QueryMsg::Chain { request } => {
            let outcome = match deps.querier.raw_query(&to_json_vec(&request)?) {
                SystemResult::Ok(ContractResult::Ok(data)) => ChainResponse {
                    ok: Some(data),
                    ..Default::default()
                },
                SystemResult::Ok(ContractResult::Err(e)) => ChainResponse {
                    error: Some(e),
                    ..Default::default()
                },
                SystemResult::Err(e) => ChainResponse {
                    error: Some(e.to_string()),
                    ..Default::default()
                },
            };
            to_json_binary(&outcome)
        }
    }
}
