//! `--query-policy` (store, instantiate) and `veil tx set-query-policy`.

use serde_json::json;
use veil_types::{Msg, QueryPolicy};

use crate::shared::{broadcast, report, Signer, TxOpts};
use crate::shared::{failed, settings, usage, Failure};

pub(crate) const POLICY_HELP: &str = "\
Who may read what through queries: `public` (anyone reads everything: an explicit opt-out),
`cw20` (balances and allowances only for the account concerned; token info public; the
holder list denied), `cw721` (token ownership and approvals only for the owner, operator
or spender concerned; token listings and metadata public), `private` (only the admin), or
a JSON policy FILE (docs/query-policies.md). The enclave enforces it on every query.";

/// `--query-policy`: required, because whoever deploys must decide who can read.
#[derive(clap::Args)]
pub(crate) struct PolicyArg {
    #[arg(long, value_name = "public|cw20|cw721|private|FILE", long_help = POLICY_HELP)]
    pub(crate) query_policy: Option<String>,
}

impl PolicyArg {
    /// The chosen policy; a usage error saying why when none was chosen.
    pub(crate) fn required(&self, what: &str) -> Result<QueryPolicy, Failure> {
        let Some(text) = &self.query_policy else {
            return Err(usage(format!(
                "{what} needs --query-policy public|cw20|cw721|private|FILE: queries carry no \
                 sender, so without a policy anyone — including node operators — can read \
                 whatever the contract's queries expose. Choose who may read (`public` keeps \
                 CosmWasm's behaviour and lets everyone read)."
            )));
        };
        parse_policy(text)
    }
}

/// A preset name or a file holding a JSON policy.
pub(crate) fn parse_policy(text: &str) -> Result<QueryPolicy, Failure> {
    if let Some(policy) = QueryPolicy::preset(text) {
        return Ok(policy);
    }
    let path = std::path::Path::new(text);
    if !path.exists() {
        return Err(usage(format!(
            "--query-policy {text:?} is neither a preset ({}) nor a file",
            veil_types::query_policy::PRESETS.join(", ")
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    QueryPolicy::from_json(&bytes).map_err(|e| usage(format!("{}: {e}", path.display())))
}

#[derive(clap::Args)]
pub struct SetQueryPolicyArgs {
    /// The contract's address.
    #[arg(value_name = "ADDR")]
    contract: String,
    /// The new policy: public, cw20, cw721, private or a JSON policy FILE.
    #[arg(value_name = "POLICY")]
    policy: String,
    #[command(flatten)]
    pub(crate) tx: TxOpts,
}

pub(crate) fn set_query_policy(args: SetQueryPolicyArgs) -> Result<(), Failure> {
    let policy = parse_policy(&args.policy)?;
    let signer = Signer::open(&args.tx)?;
    let (contract, _) = settings().keyring().resolve_address(&args.contract)?;
    let wallet = signer.wallet()?;
    let info = wallet.client().contract(&contract)?;
    if info.admin.as_deref() != Some(wallet.key().address()) {
        return Err(failed(
            "unauthorized",
            match &info.admin {
                Some(admin) => {
                    format!("only the admin {admin} may change the query policy of {contract}")
                }
                None => format!("{contract} has no admin: its query policy cannot change"),
            },
        ));
    }
    let outcome = broadcast(
        &wallet,
        &args.tx,
        Msg::SetQueryPolicy {
            contract: contract.clone(),
            query_policy: policy.clone(),
        },
    )?;
    report(
        &outcome,
        vec![
            ("contract", json!(contract)),
            ("query_policy", json!(policy)),
        ],
    );
    Ok(())
}

/// How `veil query contract-info` shows a policy: its preset name, or its JSON.
pub(crate) fn describe(policy: &QueryPolicy) -> String {
    match policy.preset_name() {
        Some(name) => name.to_string(),
        None => serde_json::to_string(policy).expect("policies serialize"),
    }
}
