//! Reads the "Compared with wasmd" gas table (`docs/gas.md`, quoted in `README.md`).
//! Shared, by `#[path]`, by the test that computes its wasmd column
//! (`crates/tools/conformance/tests/wasmd_gas.rs`) and the one that measures its Veil column
//! on `veil dev` (`crates/client/cli/tests/gas_table.rs`), which live in two workspaces.
#![allow(dead_code)]

use std::path::Path;

/// One row: the transaction, Veil's chain gas, wasmd's SDK gas, the ratio as printed.
pub type Row = (String, u64, u64, String);

/// The repository root, from a crate's manifest directory.
pub fn repository_root(manifest_dir: &str) -> std::path::PathBuf {
    let mut dir = Path::new(manifest_dir);
    while !dir.join("docs/gas.md").is_file() {
        dir = dir
            .parent()
            .expect("the crate is inside the Veil repository");
    }
    dir.to_path_buf()
}

/// The rows of the first table headed `| transaction` after `marker` in `file`.
pub fn table(file: &Path, marker: &str) -> Vec<Row> {
    let text =
        std::fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    let section = text
        .split(marker)
        .nth(1)
        .unwrap_or_else(|| panic!("{} has no {marker:?}", file.display()));
    let number = |cell: &str| -> u64 {
        cell.trim()
            .replace(',', "")
            .parse()
            .unwrap_or_else(|_| panic!("{}: not a number: {cell:?}", file.display()))
    };
    section
        .lines()
        .skip_while(|l| !l.starts_with("| transaction"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
            (
                cells[0].trim().to_string(),
                number(cells[1]),
                number(cells[2]),
                cells[3].trim().to_string(),
            )
        })
        .collect()
}

/// The table of `docs/gas.md`.
pub fn documented(manifest_dir: &str) -> Vec<Row> {
    table(
        &repository_root(manifest_dir).join("docs/gas.md"),
        "## Compared with wasmd",
    )
}
