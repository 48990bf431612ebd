//! The network's attestation policy (it lives in the genesis file) and the check of a
//! verified quote against it.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::AttestationError;
use crate::hex_serde;

/// A platform's TCB status as Intel's collateral classifies it, with dcap-qvl's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TcbStatus {
    /// The platform is patched.
    UpToDate,
    /// Patched, but the enclave must itself mitigate some attacks (software hardening).
    SWHardeningNeeded,
    /// Patched, but the platform's configuration (e.g. BIOS settings) leaves it exposed.
    ConfigurationNeeded,
    ConfigurationAndSWHardeningNeeded,
    /// A security update for the platform exists and is not applied.
    OutOfDate,
    OutOfDateConfigurationNeeded,
    /// The platform's keys are compromised. Never acceptable: a policy listing it is
    /// invalid, and dcap-qvl refuses such quotes itself.
    Revoked,
}

impl TcbStatus {
    pub const ALL: [TcbStatus; 7] = [
        TcbStatus::UpToDate,
        TcbStatus::SWHardeningNeeded,
        TcbStatus::ConfigurationNeeded,
        TcbStatus::ConfigurationAndSWHardeningNeeded,
        TcbStatus::OutOfDate,
        TcbStatus::OutOfDateConfigurationNeeded,
        TcbStatus::Revoked,
    ];

    /// The name dcap-qvl and Intel's collateral use (also the JSON form).
    pub fn name(self) -> &'static str {
        match self {
            TcbStatus::UpToDate => "UpToDate",
            TcbStatus::SWHardeningNeeded => "SWHardeningNeeded",
            TcbStatus::ConfigurationNeeded => "ConfigurationNeeded",
            TcbStatus::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            TcbStatus::OutOfDate => "OutOfDate",
            TcbStatus::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            TcbStatus::Revoked => "Revoked",
        }
    }

    /// The status named `name`, `None` for any other string (TDX-only statuses included).
    pub fn from_name(name: &str) -> Option<TcbStatus> {
        TcbStatus::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Accept the enclave build with exactly this MRENCLAVE (hash of its code and initial
/// data), product id and at least this security version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MrEnclaveRule {
    #[serde(with = "hex_serde::array")]
    pub mrenclave: [u8; 32],
    pub isv_prod_id: u16,
    pub min_isv_svn: u16,
}

/// Accept every enclave signed by this key (MRSIGNER: hash of the signer's public key)
/// with this product id and at least this security version: the signer's later builds
/// are accepted without a policy change, and raising `min_isv_svn` drops the old ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MrSignerRule {
    #[serde(with = "hex_serde::array")]
    pub mrsigner: [u8; 32],
    pub isv_prod_id: u16,
    pub min_isv_svn: u16,
}

/// Which enclaves a network accepts. JSON form (in the genesis file):
///
/// ```json
/// {
///   "mrenclaves": [{"mrenclave": "<64 hex>", "isv_prod_id": 0, "min_isv_svn": 0}],
///   "mrsigners": [{"mrsigner": "<64 hex>", "isv_prod_id": 1, "min_isv_svn": 2}],
///   "tcb_statuses": ["UpToDate", "SWHardeningNeeded"],
///   "allow_simulated": false
/// }
/// ```
///
/// An enclave is accepted when one rule of either list names it (measurement and product
/// id) with an ISV SVN at or above the rule's minimum; a DCAP quote also needs its TCB
/// status listed. Debug enclaves are always refused.
///
/// **`allow_simulated: true` gives the network's seed to anyone who asks**: anyone can
/// forge a simulated attestation (see [`SimulatedQuote`](crate::SimulatedQuote)). Only
/// for development chains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub mrenclaves: Vec<MrEnclaveRule>,
    #[serde(default)]
    pub mrsigners: Vec<MrSignerRule>,
    /// TCB statuses accepted for DCAP quotes (empty: no DCAP quote is accepted).
    #[serde(default)]
    pub tcb_statuses: Vec<TcbStatus>,
    /// Required, never defaulted: whether simulated attestations are accepted.
    pub allow_simulated: bool,
}

impl Policy {
    /// Parses and [validates](Policy::validate) a policy in its JSON form.
    pub fn from_json(json: &str) -> Result<Policy, AttestationError> {
        let policy: Policy = serde_json::from_str(json)
            .map_err(|e| AttestationError::InvalidPolicy(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// Refuses a policy that accepts nothing, lists `Revoked`, an all-zero (placeholder)
    /// measurement, or the same rule or status twice.
    pub fn validate(&self) -> Result<(), AttestationError> {
        let invalid = |msg: String| Err(AttestationError::InvalidPolicy(msg));
        if self.mrenclaves.is_empty() && self.mrsigners.is_empty() {
            return invalid(
                "it accepts no enclave: list at least one MRENCLAVE or MRSIGNER rule".into(),
            );
        }
        if self.tcb_statuses.is_empty() && !self.allow_simulated {
            return invalid(
                "it accepts no attestation: list the TCB statuses accepted for DCAP quotes, \
                 or allow simulated attestation"
                    .into(),
            );
        }
        if self.tcb_statuses.contains(&TcbStatus::Revoked) {
            return invalid("TCB status Revoked can never be accepted".into());
        }
        let mut statuses = HashSet::new();
        for status in &self.tcb_statuses {
            if !statuses.insert(status) {
                return invalid(format!("TCB status {status} is listed twice"));
            }
        }
        let mut seen = HashSet::new();
        for rule in &self.mrenclaves {
            if rule.mrenclave == [0; 32] {
                return invalid("an all-zero MRENCLAVE is a placeholder, not a measurement".into());
            }
            if !seen.insert(("MRENCLAVE", rule.mrenclave, rule.isv_prod_id)) {
                return invalid(format!(
                    "MRENCLAVE {} with ISV prod id {} is listed twice",
                    hex::encode(rule.mrenclave),
                    rule.isv_prod_id
                ));
            }
        }
        for rule in &self.mrsigners {
            if rule.mrsigner == [0; 32] {
                return invalid("an all-zero MRSIGNER is a placeholder, not a measurement".into());
            }
            if !seen.insert(("MRSIGNER", rule.mrsigner, rule.isv_prod_id)) {
                return invalid(format!(
                    "MRSIGNER {} with ISV prod id {} is listed twice",
                    hex::encode(rule.mrsigner),
                    rule.isv_prod_id
                ));
            }
        }
        Ok(())
    }
}

/// Which kind of attestation an enclave presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationKind {
    /// An SGX DCAP quote, verified up to Intel's root CA.
    Dcap,
    /// A simulated attestation: proves nothing (anyone can forge one).
    Simulated,
}

/// A quote whose signatures verified, before any policy: what it says about the enclave.
/// Produced by [`verify_quote`](crate::verify_quote); constructed by hand only in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedQuote {
    pub kind: AttestationKind,
    pub mrenclave: [u8; 32],
    pub mrsigner: [u8; 32],
    pub isv_prod_id: u16,
    pub isv_svn: u16,
    /// The DEBUG bit of the enclave's ATTRIBUTES (SGX: bit 1 of the first byte).
    pub debug: bool,
    pub report_data: [u8; 64],
    /// `Some` for DCAP, `None` for simulated (there is no platform to rate).
    pub tcb_status: Option<TcbStatus>,
    /// Intel security advisories that apply to the platform (DCAP only).
    pub advisory_ids: Vec<String>,
}

/// An enclave that passed [`verify`](crate::verify): its identity, as the chain records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiedEnclave {
    pub kind: AttestationKind,
    #[serde(with = "hex_serde::array")]
    pub mrenclave: [u8; 32],
    #[serde(with = "hex_serde::array")]
    pub mrsigner: [u8; 32],
    pub isv_prod_id: u16,
    pub isv_svn: u16,
    pub tcb_status: Option<TcbStatus>,
    pub advisory_ids: Vec<String>,
}

/// Checks a verified quote against the policy: kind (simulated allowed?), debug
/// attribute, measurement and ISV SVN, TCB status. The report data is checked
/// separately ([`check_report_data`]).
pub fn check_policy(
    quote: &VerifiedQuote,
    policy: &Policy,
) -> Result<VerifiedEnclave, AttestationError> {
    policy.validate()?;
    if quote.kind == AttestationKind::Simulated && !policy.allow_simulated {
        return Err(AttestationError::SimulatedNotAllowed);
    }
    if quote.debug {
        return Err(AttestationError::DebugEnclave);
    }

    // The smallest minimum SVN among the rules naming this enclave.
    let min_isv_svn = policy
        .mrenclaves
        .iter()
        .filter(|r| r.mrenclave == quote.mrenclave && r.isv_prod_id == quote.isv_prod_id)
        .map(|r| r.min_isv_svn)
        .chain(
            policy
                .mrsigners
                .iter()
                .filter(|r| r.mrsigner == quote.mrsigner && r.isv_prod_id == quote.isv_prod_id)
                .map(|r| r.min_isv_svn),
        )
        .min();
    match min_isv_svn {
        None => {
            return Err(AttestationError::MeasurementNotAccepted {
                mrenclave: hex::encode(quote.mrenclave),
                mrsigner: hex::encode(quote.mrsigner),
                isv_prod_id: quote.isv_prod_id,
            })
        }
        Some(min_isv_svn) if quote.isv_svn < min_isv_svn => {
            return Err(AttestationError::SvnTooLow {
                isv_svn: quote.isv_svn,
                min_isv_svn,
            })
        }
        Some(_) => {}
    }

    match (quote.kind, quote.tcb_status) {
        (AttestationKind::Dcap, None) => {
            return Err(AttestationError::Dcap("the quote has no TCB status".into()))
        }
        (AttestationKind::Dcap, Some(TcbStatus::Revoked)) => return Err(AttestationError::Revoked),
        (AttestationKind::Dcap, Some(status)) if !policy.tcb_statuses.contains(&status) => {
            return Err(AttestationError::TcbStatusNotAccepted(status))
        }
        _ => {}
    }

    Ok(VerifiedEnclave {
        kind: quote.kind,
        mrenclave: quote.mrenclave,
        mrsigner: quote.mrsigner,
        isv_prod_id: quote.isv_prod_id,
        isv_svn: quote.isv_svn,
        tcb_status: quote.tcb_status,
        advisory_ids: quote.advisory_ids.clone(),
    })
}

/// Checks that the quote's 64 bytes of report data are exactly `expected` (from
/// [`report_data`](crate::report_data) over the registration being verified).
pub fn check_report_data(
    quote: &VerifiedQuote,
    expected: &[u8; 64],
) -> Result<(), AttestationError> {
    if &quote.report_data != expected {
        return Err(AttestationError::ReportDataMismatch);
    }
    Ok(())
}
