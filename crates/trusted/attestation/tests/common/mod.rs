//! The SGX sample quote and collateral that the dcap-qvl crates.io package ships in its
//! `sample/` folder, found through `cargo metadata` (where Cargo unpacked the dependency)
//! rather than copied into this repository.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use veil_attestation::Collateral;

/// `sample/` of the dcap-qvl package this crate is built with.
pub fn dcap_qvl_sample_dir() -> PathBuf {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("metadata JSON");
    let manifest = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "dcap-qvl")
        .expect("dcap-qvl is a dependency")["manifest_path"]
        .as_str()
        .expect("manifest_path")
        .to_string();
    PathBuf::from(manifest)
        .parent()
        .expect("package dir")
        .join("sample")
}

pub struct Sample {
    pub quote: Vec<u8>,
    pub collateral: Collateral,
    /// Latest `issueDate` of the TCB info and QE identity (unix seconds).
    pub issued: u64,
    /// Earliest `nextUpdate` of the TCB info and QE identity (unix seconds).
    pub next_update: u64,
}

impl Sample {
    /// A time well inside the collateral's validity.
    pub fn valid_time(&self) -> u64 {
        self.issued + (self.next_update - self.issued) / 2
    }
}

pub fn sgx_sample() -> Sample {
    sample("sgx_quote", "sgx_quote_collateral.json")
}

/// A TDX quote (a real quote of another TEE type) and its collateral.
pub fn tdx_sample() -> Sample {
    sample("tdx_quote", "tdx_quote_collateral.json")
}

fn sample(quote_file: &str, collateral_file: &str) -> Sample {
    let dir = dcap_qvl_sample_dir();
    let quote = std::fs::read(dir.join(quote_file)).expect("read the sample quote");
    let json =
        std::fs::read_to_string(dir.join(collateral_file)).expect("read the sample collateral");
    let collateral = Collateral::from_json(&json).expect("sample collateral parses");
    let window = |json: &str| {
        let v: serde_json::Value = serde_json::from_str(json).expect("collateral JSON");
        (
            rfc3339_utc(v["issueDate"].as_str().expect("issueDate")),
            rfc3339_utc(v["nextUpdate"].as_str().expect("nextUpdate")),
        )
    };
    let (tcb_issued, tcb_next) = window(&collateral.tcb_info);
    let (qe_issued, qe_next) = window(&collateral.qe_identity);
    let (issued, next_update) = (tcb_issued.max(qe_issued), tcb_next.min(qe_next));
    assert!(
        issued < next_update,
        "sample collateral has an empty validity window"
    );
    Sample {
        quote,
        collateral,
        issued,
        next_update,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` to unix seconds.
pub fn rfc3339_utc(s: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| -> i64 { s[r].parse().expect("date digits") };
    assert!(
        s.len() == 20 && s.ends_with('Z'),
        "unexpected date format {s}"
    );
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    (days * 86400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as u64
}

/// Offsets in an SGX (version 3) quote: 48-byte header, 384-byte enclave report, then
/// the signature data.
pub const HEADER_LEN: usize = 48;
pub const REPORT_LEN: usize = 384;
pub const MRENCLAVE_AT: usize = HEADER_LEN + 64;
pub const MRSIGNER_AT: usize = HEADER_LEN + 128;
pub const ISV_PROD_ID_AT: usize = HEADER_LEN + 256;
pub const ISV_SVN_AT: usize = HEADER_LEN + 258;
pub const REPORT_DATA_AT: usize = HEADER_LEN + 320;
