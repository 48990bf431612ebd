//! SGX DCAP quotes, verified by dcap-qvl up to Intel's root CA (the one dcap-qvl pins).

#[cfg(feature = "dcap")]
use dcap_qvl::configs::RustCryptoConfig;
#[cfg(feature = "dcap")]
use dcap_qvl::quote::Report;
#[cfg(feature = "dcap")]
use dcap_qvl::verify::QuoteVerifier;
#[cfg(feature = "dcap")]
use dcap_qvl::QuoteCollateralV3;
use serde::{Deserialize, Serialize};

use crate::error::AttestationError;
use crate::hex_serde;
use crate::policy::VerifiedQuote;
#[cfg(feature = "dcap")]
use crate::policy::{AttestationKind, TcbStatus};

/// Largest quote accepted (an SGX quote with its PCK certificate chain is ~5 KB).
pub const MAX_QUOTE_BYTES: usize = 64 * 1024;
/// Largest collateral accepted, all fields together (Intel's is ~15 KB).
pub const MAX_COLLATERAL_BYTES: usize = 256 * 1024;

/// What a quote is verified against, as Intel's PCS or a PCCS serves it (the host fetches
/// it; dcap-qvl's `QuoteCollateralV3` with the same field names and JSON form, byte
/// fields as hex). Everything in it is signed by Intel, so the host cannot forge it; it
/// can only pick an older or newer one, which the time check bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collateral {
    /// PEM chain of the PCK CRL's issuer.
    pub pck_crl_issuer_chain: String,
    /// DER CRL of Intel's root CA.
    #[serde(with = "hex_serde::vec")]
    pub root_ca_crl: Vec<u8>,
    /// DER CRL of the PCK CA.
    #[serde(with = "hex_serde::vec")]
    pub pck_crl: Vec<u8>,
    pub tcb_info_issuer_chain: String,
    /// Intel's TCB info JSON, verbatim (it is what the signature covers).
    pub tcb_info: String,
    #[serde(with = "hex_serde::vec")]
    pub tcb_info_signature: Vec<u8>,
    pub qe_identity_issuer_chain: String,
    /// Intel's QE identity JSON, verbatim.
    pub qe_identity: String,
    #[serde(with = "hex_serde::vec")]
    pub qe_identity_signature: Vec<u8>,
    /// PEM PCK certificate chain, when the quote does not carry it (certification data
    /// type 5 quotes carry it; then this is `None`).
    #[serde(default)]
    pub pck_certificate_chain: Option<String>,
}

impl Collateral {
    /// Parses the JSON form (what dcap-qvl's collateral client and Intel's samples give).
    pub fn from_json(json: &str) -> Result<Collateral, AttestationError> {
        serde_json::from_str(json).map_err(|e| AttestationError::Decode(format!("collateral: {e}")))
    }

    /// Total size of its fields, in bytes.
    pub fn len(&self) -> usize {
        self.pck_crl_issuer_chain.len()
            + self.root_ca_crl.len()
            + self.pck_crl.len()
            + self.tcb_info_issuer_chain.len()
            + self.tcb_info.len()
            + self.tcb_info_signature.len()
            + self.qe_identity_issuer_chain.len()
            + self.qe_identity.len()
            + self.qe_identity_signature.len()
            + self.pck_certificate_chain.as_ref().map_or(0, String::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(feature = "dcap")]
impl From<Collateral> for QuoteCollateralV3 {
    fn from(c: Collateral) -> QuoteCollateralV3 {
        QuoteCollateralV3 {
            pck_crl_issuer_chain: c.pck_crl_issuer_chain,
            root_ca_crl: c.root_ca_crl,
            pck_crl: c.pck_crl,
            tcb_info_issuer_chain: c.tcb_info_issuer_chain,
            tcb_info: c.tcb_info,
            tcb_info_signature: c.tcb_info_signature,
            qe_identity_issuer_chain: c.qe_identity_issuer_chain,
            qe_identity: c.qe_identity,
            qe_identity_signature: c.qe_identity_signature,
            pck_certificate_chain: c.pck_certificate_chain,
        }
    }
}

#[cfg(feature = "dcap")]
impl From<QuoteCollateralV3> for Collateral {
    fn from(c: QuoteCollateralV3) -> Collateral {
        Collateral {
            pck_crl_issuer_chain: c.pck_crl_issuer_chain,
            root_ca_crl: c.root_ca_crl,
            pck_crl: c.pck_crl,
            tcb_info_issuer_chain: c.tcb_info_issuer_chain,
            tcb_info: c.tcb_info,
            tcb_info_signature: c.tcb_info_signature,
            qe_identity_issuer_chain: c.qe_identity_issuer_chain,
            qe_identity: c.qe_identity,
            qe_identity_signature: c.qe_identity_signature,
            pck_certificate_chain: c.pck_certificate_chain,
        }
    }
}

/// Verifies an SGX DCAP quote against its collateral at `now_unix_secs` (the block's
/// time): the chain from Intel's pinned root CA through the PCK certificate, the CRLs,
/// the TCB info and QE identity signatures and validity windows, the QE report, and the
/// attestation key's signature over the quote header and enclave report. Debug enclaves
/// and revoked platforms are refused here already. No policy is applied.
pub fn verify_dcap_quote(
    quote: &[u8],
    collateral: &Collateral,
    now_unix_secs: u64,
) -> Result<VerifiedQuote, AttestationError> {
    if quote.len() > MAX_QUOTE_BYTES {
        return Err(AttestationError::TooLarge {
            what: "DCAP quote",
            len: quote.len(),
            max: MAX_QUOTE_BYTES,
        });
    }
    if collateral.len() > MAX_COLLATERAL_BYTES {
        return Err(AttestationError::TooLarge {
            what: "DCAP collateral",
            len: collateral.len(),
            max: MAX_COLLATERAL_BYTES,
        });
    }
    verify_checked(quote, collateral, now_unix_secs)
}

/// Without the `dcap` feature (builds that must not link dcap-qvl, such as the
/// conformance tools beside cosmwasm-vm) every DCAP quote is refused.
#[cfg(not(feature = "dcap"))]
fn verify_checked(
    _quote: &[u8],
    _collateral: &Collateral,
    _now_unix_secs: u64,
) -> Result<VerifiedQuote, AttestationError> {
    Err(AttestationError::Dcap(
        "this build has no DCAP verifier (veil-attestation's `dcap` feature is off)".into(),
    ))
}

#[cfg(feature = "dcap")]
fn verify_checked(
    quote: &[u8],
    collateral: &Collateral,
    now_unix_secs: u64,
) -> Result<VerifiedQuote, AttestationError> {
    // Named explicitly: whatever backend features other crates turn on in dcap-qvl, the
    // chain verifies with the same pure-Rust code on every node.
    let verifier = QuoteVerifier::new_prod().with_config::<RustCryptoConfig>();
    let collateral = QuoteCollateralV3::from(collateral.clone());
    let verified = verifier
        .verify(quote, &collateral, now_unix_secs)
        .map_err(|e| classify(&format!("{e:#}"), now_unix_secs))?;

    let Report::SgxEnclave(report) = verified.report else {
        return Err(AttestationError::NotSgx);
    };
    let tcb_status = TcbStatus::from_name(&verified.status)
        .ok_or_else(|| AttestationError::UnknownTcbStatus(verified.status.clone()))?;
    Ok(VerifiedQuote {
        kind: AttestationKind::Dcap,
        mrenclave: report.mr_enclave,
        mrsigner: report.mr_signer,
        isv_prod_id: report.isv_prod_id,
        isv_svn: report.isv_svn,
        debug: report.attributes[0] & SGX_FLAGS_DEBUG != 0,
        report_data: report.report_data,
        tcb_status: Some(tcb_status),
        advisory_ids: verified.advisory_ids,
    })
}

/// ATTRIBUTES.FLAGS bit 1: the enclave was launched in debug mode (its memory can be read
/// and single-stepped by the host).
pub const SGX_FLAGS_DEBUG: u8 = 0x02;

#[cfg(feature = "dcap")]
/// Sorts dcap-qvl's error (an error chain rendered as text, its only form) into the
/// refusals this crate names. Anything not recognised stays a generic DCAP failure: a
/// wrong class only changes the message, never whether the quote is accepted.
fn classify(message: &str, now: u64) -> AttestationError {
    const TIME: &[&str] = &[
        "TCBInfo expired",
        "TCBInfo issue date is in the future",
        "QE Identity expired",
        "QE Identity issue date is in the future",
        "CertExpired",
        "CertNotValidYet",
        "CrlExpired",
    ];
    const SIGNATURE: &[&str] = &[
        "Signature is invalid",
        "signature is invalid",
        "QE report hash mismatch",
        "InvalidSignatureForPublicKey",
        "InvalidCrlSignatureForPublicKey",
        "UnknownIssuer",
    ];
    let has = |needles: &[&str]| needles.iter().any(|n| message.contains(n));
    if message.contains("Debug mode is enabled") {
        AttestationError::DebugEnclave
    } else if message.contains("TCB status is invalid: Revoked") {
        AttestationError::Revoked
    } else if message.contains("CertRevoked") {
        AttestationError::CertificateRevoked(message.to_string())
    } else if has(TIME) {
        AttestationError::CollateralTime {
            at: now,
            detail: message.to_string(),
        }
    } else if has(SIGNATURE) {
        AttestationError::QuoteSignature(message.to_string())
    } else {
        AttestationError::Dcap(message.to_string())
    }
}

#[cfg(all(test, feature = "dcap"))]
mod tests {
    use super::*;

    #[test]
    fn every_dcap_qvl_sgx_status_has_a_name_here() {
        use dcap_qvl::TcbStatus as Q;
        for status in [
            Q::UpToDate,
            Q::SWHardeningNeeded,
            Q::ConfigurationNeeded,
            Q::ConfigurationAndSWHardeningNeeded,
            Q::OutOfDate,
            Q::OutOfDateConfigurationNeeded,
            Q::Revoked,
        ] {
            let ours = TcbStatus::from_name(&status.to_string());
            assert_eq!(ours.map(TcbStatus::name), Some(status.to_string().as_str()));
        }
        assert_eq!(
            TcbStatus::from_name(&Q::TDRelaunchAdvised.to_string()),
            None
        );
    }

    #[test]
    fn classifies_dcap_qvl_errors() {
        assert!(matches!(
            classify("x: TCBInfo expired", 5),
            AttestationError::CollateralTime { at: 5, .. }
        ));
        assert!(matches!(
            classify(
                "Failed to verify certificate chain: CertNotValidYet { time: .. }",
                5
            ),
            AttestationError::CollateralTime { .. }
        ));
        assert!(matches!(
            classify("ISV enclave report signature is invalid", 5),
            AttestationError::QuoteSignature(_)
        ));
        assert_eq!(
            classify("Debug mode is enabled", 5),
            AttestationError::DebugEnclave
        );
        assert_eq!(
            classify("TCB status is invalid: Revoked", 5),
            AttestationError::Revoked
        );
        assert!(matches!(
            classify("Failed to verify certificate chain: CertRevoked", 5),
            AttestationError::CertificateRevoked(_)
        ));
        assert!(matches!(
            classify("Failed to decode quote", 5),
            AttestationError::Dcap(_)
        ));
    }
}
