//! Network governance: `veil tx set-attestation-policy`, `veil tx revoke-node`, `veil
//! query registrations` and `veil query attestation-policy`.
//!
//! Only the genesis authority may sign the two transactions; every node's enclave checks
//! that itself. The commands check it here first too, so a mistake costs no fee.

use std::path::PathBuf;

use serde_json::json;
use veil_types::veil_attestation::Policy;
use veil_types::{Msg, RegistrationInfo};

use crate::shared::{broadcast, report, Signer, TxOpts};
use crate::shared::{failed, hex_encode, print_fields, print_json, settings, usage, Failure};

pub(crate) const SET_ATTESTATION_POLICY_ABOUT: &str = "\
Replace the attestation policy every enclave verifies registrations against: to accept a
new enclave build (an upgrade) or to drop an old one. FILE holds the policy as JSON, in the
genesis' form:

  {\"mrenclaves\": [{\"mrenclave\": \"<64 hex>\", \"isv_prod_id\": 0, \"min_isv_svn\": 1}],
   \"mrsigners\": [], \"tcb_statuses\": [\"UpToDate\"], \"allow_simulated\": false}

Only the account the genesis names as `authority` may send it; the enclaves check the
signature themselves and apply the policy from the block that includes it. Enclaves that
registered before keep the seed they were given.

Example: veil tx set-attestation-policy --policy policy.json --from alice";

pub(crate) const REVOKE_NODE_ABOUT: &str = "\
Revoke a registered enclave by its registration key (64 hex digits, from `veil query
registrations`): no enclave gives it anything from now on, and the same key can never
register again. Revocation cannot take back the master seed the enclave was already given
(that needs seed rotation). Only the genesis authority may send it.

Example: veil tx revoke-node 3f2a... --reason 'operator lost the machine' --from alice";

#[derive(clap::Args)]
pub struct SetAttestationPolicyArgs {
    /// The new policy (a JSON file).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    #[command(flatten)]
    pub(crate) tx: TxOpts,
}

#[derive(clap::Args)]
pub struct RevokeNodeArgs {
    /// The enclave's registration key (64 hex digits).
    #[arg(value_name = "REGISTRATION_KEY")]
    registration_key: String,
    /// Why (public, at most 256 bytes).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    pub(crate) tx: TxOpts,
}

#[derive(clap::Args)]
pub struct RegistrationsArgs {
    /// List the registrations after this registration key (the previous page's last).
    #[arg(long, value_name = "HEX")]
    after: Option<String>,
    /// At most this many (1 to 100).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

#[derive(clap::Args)]
pub struct AttestationPolicyArgs {}

/// Refuses (before anything is signed) a signer that is not the genesis authority.
fn check_authority(signer: &Signer, what: &str) -> Result<(), Failure> {
    let wallet = signer.wallet()?;
    let (genesis, _) = wallet.client().genesis()?;
    let me = wallet.key().address();
    match genesis.authority {
        None => Err(failed(
            "unauthorized",
            format!("this network's genesis names no authority: nobody may {what}"),
        )),
        Some(authority) if authority != me => Err(failed(
            "unauthorized",
            format!("only the network's authority {authority} may {what}, not {me}"),
        )),
        Some(_) => Ok(()),
    }
}

pub(crate) fn set_attestation_policy(args: SetAttestationPolicyArgs) -> Result<(), Failure> {
    let text = std::fs::read_to_string(&args.policy)
        .map_err(|e| usage(format!("cannot read {}: {e}", args.policy.display())))?;
    let policy =
        Policy::from_json(&text).map_err(|e| usage(format!("{}: {e}", args.policy.display())))?;
    let signer = Signer::open(&args.tx)?;
    check_authority(&signer, "change the attestation policy")?;
    let wallet = signer.wallet()?;
    let outcome = broadcast(
        &wallet,
        &args.tx,
        Msg::SetAttestationPolicy {
            policy: policy.clone(),
        },
    )?;
    report(&outcome, vec![("attestation_policy", json!(policy))]);
    Ok(())
}

pub(crate) fn revoke_node(args: RevokeNodeArgs) -> Result<(), Failure> {
    let key = veil_types::serde_hash::parse_hex(args.registration_key.trim())
        .map_err(|e| usage(format!("REGISTRATION_KEY: {e}")))?;
    if args.reason.len() > veil_types::MAX_REVOCATION_REASON_BYTES {
        return Err(usage(format!(
            "--reason must be at most {} bytes, got {}",
            veil_types::MAX_REVOCATION_REASON_BYTES,
            args.reason.len()
        )));
    }
    let signer = Signer::open(&args.tx)?;
    check_authority(&signer, "revoke an enclave")?;
    let wallet = signer.wallet()?;
    match wallet.client().registration(&key)? {
        None => {
            return Err(failed(
                "unknown_registration",
                format!("no enclave is registered with key {}", hex_encode(&key)),
            ))
        }
        Some(r) if r.revocation.is_some() => {
            return Err(failed(
                "already_revoked",
                format!("enclave key {} is already revoked", hex_encode(&key)),
            ))
        }
        Some(_) => {}
    }
    let outcome = broadcast(
        &wallet,
        &args.tx,
        Msg::RevokeNode {
            registration_key: key,
            reason: args.reason.clone(),
        },
    )?;
    report(
        &outcome,
        vec![
            ("registration_key", json!(hex_encode(&key))),
            ("reason", json!(args.reason)),
        ],
    );
    Ok(())
}

pub(crate) fn registrations(args: RegistrationsArgs) -> Result<(), Failure> {
    if args.limit == 0 || args.limit > 100 {
        return Err(usage(format!(
            "--limit must be 1 to 100, got {}",
            args.limit
        )));
    }
    let after = match &args.after {
        Some(text) => Some(
            veil_types::serde_hash::parse_hex(text.trim())
                .map_err(|e| usage(format!("--after: {e}")))?,
        ),
        None => None,
    };
    let page = settings()
        .client()
        .registrations(after.as_ref(), Some(args.limit))?;
    if settings().json() {
        print_json(&serde_json::to_value(&page).expect("registrations serialize"));
        return Ok(());
    }
    if page.registrations.is_empty() {
        println!("no registered enclaves");
    }
    for (i, registration) in page.registrations.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_registration(registration);
    }
    if let Some(next) = page.next_after {
        println!(
            "\nmore: veil query registrations --after {}",
            hex_encode(&next)
        );
    }
    Ok(())
}

fn print_registration(r: &RegistrationInfo) {
    let mut fields = vec![
        ("registration_key", hex_encode(&r.registration_key)),
        ("status", r.status.name().to_string()),
        ("operator", r.operator.clone()),
        ("height", r.height.to_string()),
        ("enclave", r.enclave.clone()),
    ];
    if let Some(revocation) = &r.revocation {
        fields.push(("revoked_at", revocation.height.to_string()));
        fields.push(("reason", revocation.reason.clone()));
    }
    print_fields(&fields);
}

pub(crate) fn attestation_policy(_: AttestationPolicyArgs) -> Result<(), Failure> {
    let record = settings().client().attestation_policy()?;
    if settings().json() {
        print_json(&serde_json::to_value(&record).expect("the policy serializes"));
        return Ok(());
    }
    print_fields(&[
        (
            "set_at",
            match record.height {
                0 => "genesis".to_string(),
                height => format!("height {height}"),
            },
        ),
        (
            "set_by",
            record
                .set_by
                .clone()
                .unwrap_or_else(|| "genesis".to_string()),
        ),
        (
            "policy",
            match &record.policy {
                Some(policy) => serde_json::to_string_pretty(policy).expect("serializes"),
                None => "none: no enclave may register".to_string(),
            },
        ),
    ]);
    if record.policy.as_ref().is_some_and(|p| p.allow_simulated) {
        println!(
            "warning: this policy accepts simulated attestations: anyone can forge one, so the network gives its master seed to anyone who asks"
        );
    }
    Ok(())
}
