//! `veil-contract-build`: **untrusted** build tooling that compiles CosmWasm
//! contract crates to `.wasm` for Veil.
//!
//! This crate shells out to `cargo`, `rustc` and `apt-get`. It is used by the
//! `veil` CLI and by tests; it must never be linked into `veil-engine` or
//! anything that runs inside the enclave. See `README.md` in this crate.
//!
//! Toolchain: the rustup toolchain pinned by the workspace has no
//! `wasm32-unknown-unknown` target, so contracts are compiled with Debian's
//! `rustc-web` (`/usr/bin/rustc`, which ships the wasm32 target but no
//! precompiled wasm std) and std is rebuilt from `rust-web-src` with
//! `-Zbuild-std` (enabled through `RUSTC_BOOTSTRAP=1`). `cargo` is the one
//! found on `PATH` (rustup's); cargo 1.95 driving rustc 1.96 works.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// The wasm target every contract is compiled for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The rustc used for contracts unless `$VEIL_WASM_RUSTC` overrides it.
pub const DEFAULT_WASM_RUSTC: &str = "/usr/bin/rustc";

/// Debian packages installed by [`ensure_toolchain`] when something is missing.
/// (`rust-web-llvm` provides `/usr/bin/rust-lld`, the linker rustc invokes for
/// wasm32, as a symlink to `lld-22`.)
pub const APT_PACKAGES: &[&str] = &["rustc-web", "rust-web-src", "rust-web-llvm", "lld-22"];

/// Number of trailing output lines of a failed command kept in the error.
const TAIL_LINES: usize = 40;

/// Options for [`build_contract`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// Compile with `-C target-cpu=mvp` (no post-MVP wasm features such as
    /// bulk-memory, sign-ext, reference-types, multi-value). Default `true`.
    pub mvp: bool,
    /// Where to copy the resulting `.wasm`. Default `<crate_dir>/artifacts/`.
    pub out_dir: Option<PathBuf>,
    /// Suppress progress output (cargo's and ours) on stderr.
    pub quiet: bool,
    /// A NEAR contract (near-sdk 5): adds `--cfg near`, without which near-sdk ≥ 5.27
    /// silently links pure-Rust fallbacks instead of NEAR's host functions (cargo-near
    /// sets the same flag), and builds into its own target dir. Implies `mvp`, as NEAR's
    /// own toolchain does. Default `false`.
    pub near: bool,
}

impl BuildOptions {
    /// Options for a NEAR contract: MVP Wasm with `--cfg near`.
    pub fn near() -> Self {
        BuildOptions {
            mvp: true,
            near: true,
            ..BuildOptions::default()
        }
    }
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            mvp: true,
            out_dir: None,
            quiet: false,
            near: false,
        }
    }
}

/// Errors from the build tooling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("contract crate directory {0} does not exist")]
    CrateDirMissing(PathBuf),
    #[error("{0} is not a cargo project (no Cargo.toml found)")]
    NotACargoProject(PathBuf),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("wasm toolchain unavailable: {0}")]
    Toolchain(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}) in {dir}\n--- last lines of output ---\n{output_tail}")]
    CommandFailed {
        command: String,
        dir: PathBuf,
        status: String,
        output_tail: String,
    },
    #[error("cargo build in {0} produced no .wasm artifact (does [lib] have crate-type = [\"cdylib\", ...]?)")]
    NoWasmArtifact(PathBuf),
    #[error("{0}")]
    Other(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let context = context.into();
    move |source| BuildError::Io { context, source }
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/// Stable cache directory for contract builds: `$VEIL_CONTRACT_CACHE` if set
/// (made absolute), else `<repo>/target/veil-contracts`, where `<repo>` is
/// derived from this crate's `CARGO_MANIFEST_DIR` at compile time.
///
/// Layout: `target-mvp/`, `target-modern/` and `target-near/` (shared `CARGO_TARGET_DIR`s, so
/// the `-Zbuild-std` std build is shared by all contracts), `src/<name>-<ver>/`
/// (sources fetched by [`fetch_crate_source`] when this dir is used as its
/// `cache_root`) and lock files.
pub fn workspace_contract_cache() -> PathBuf {
    if let Some(v) = std::env::var_os("VEIL_CONTRACT_CACHE") {
        if !v.is_empty() {
            return absolute(Path::new(&v));
        }
    }
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // crates/tools/contract-build -> repo root
    let root = manifest_dir.ancestors().nth(3).unwrap_or(manifest_dir);
    root.join("target").join("veil-contracts")
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

fn wasm_rustc() -> PathBuf {
    match std::env::var_os("VEIL_WASM_RUSTC") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_WASM_RUSTC),
    }
}

fn cargo_bin() -> PathBuf {
    match std::env::var_os("VEIL_CARGO") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from("cargo"),
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Exclusive inter-process lock on `path` (released when the file is dropped).
fn lock_file(path: &Path) -> Result<File, BuildError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
    }
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err(format!("opening lock file {}", path.display())))?;
    f.lock()
        .map_err(io_err(format!("locking {}", path.display())))?;
    Ok(f)
}

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd`, returning its stdout. stderr (and stdout unless `capture_stdout`)
/// is echoed to our stderr when `echo`; the last lines of both are kept for the
/// error on failure.
fn run(cmd: &mut Command, echo: bool, capture_stdout: bool) -> Result<String, BuildError> {
    let command = describe(cmd);
    let dir = cmd
        .get_current_dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| BuildError::Io {
        context: format!("running `{command}`"),
        source: e,
    })?;
    let tail: Arc<Mutex<VecDeque<String>>> = Arc::new(Mutex::new(VecDeque::new()));
    let push = |tail: &Arc<Mutex<VecDeque<String>>>, line: String| {
        let mut t = tail.lock().unwrap();
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        t.push_back(line);
    };

    let stderr = child.stderr.take().expect("piped stderr");
    let tail2 = Arc::clone(&tail);
    let err_thread = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if echo {
                eprintln!("{line}");
            }
            push(&tail2, line);
        }
    });

    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut captured = String::new();
    if capture_stdout {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        captured = String::from_utf8_lossy(&buf).into_owned();
    } else {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if echo {
                eprintln!("{line}");
            }
            push(&tail, line);
        }
    }
    let status = child
        .wait()
        .map_err(io_err(format!("waiting for `{command}`")))?;
    let _ = err_thread.join();
    if status.success() {
        return Ok(captured);
    }
    let mut output_tail: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
    if capture_stdout && output_tail.is_empty() {
        output_tail = captured
            .lines()
            .rev()
            .take(TAIL_LINES)
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
    }
    Err(BuildError::CommandFailed {
        command,
        dir,
        status: status.to_string(),
        output_tail: output_tail.join("\n"),
    })
}

/// A `cargo` command with a sanitized environment, using the wasm rustc.
fn cargo_command(dir: &Path) -> Command {
    let mut cmd = Command::new(cargo_bin());
    cmd.current_dir(dir);
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_TARGET_DIR",
        "CARGO_INCREMENTAL",
        "__CARGO_TESTS_ONLY_SRC_ROOT",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUSTC", wasm_rustc())
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TERM_PROGRESS_WHEN", "never");
    cmd
}

// ---------------------------------------------------------------------------
// Toolchain
// ---------------------------------------------------------------------------

fn rustc_output(rustc: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(rustc)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Returns the list of missing pieces (empty if the toolchain is complete).
fn toolchain_problems() -> Vec<String> {
    let mut missing = Vec::new();
    let rustc = wasm_rustc();
    match rustc_output(&rustc, &["--print", "target-list"]) {
        None => missing.push(format!(
            "{} (rustc-web) not found or not runnable",
            rustc.display()
        )),
        Some(list) => {
            if !list.lines().any(|l| l.trim() == WASM_TARGET) {
                missing.push(format!(
                    "{} does not support {WASM_TARGET}",
                    rustc.display()
                ));
            }
            let sysroot = rustc_output(&rustc, &["--print", "sysroot"])
                .map(|s| PathBuf::from(s.trim()))
                .unwrap_or_else(|| PathBuf::from("/usr"));
            let lib = sysroot.join("lib/rustlib/src/rust/library");
            if !lib.join("std/Cargo.toml").is_file() || !lib.join("Cargo.lock").is_file() {
                missing.push(format!(
                    "std sources (rust-web-src) not found at {}",
                    lib.display()
                ));
            }
            let host = rustc_output(&rustc, &["-vV"])
                .and_then(|v| {
                    v.lines()
                        .find_map(|l| l.strip_prefix("host: ").map(|h| h.trim().to_owned()))
                })
                .unwrap_or_default();
            let lld_in_sysroot = sysroot
                .join("lib/rustlib")
                .join(host)
                .join("bin/rust-lld")
                .is_file();
            // rust-lld is a symlink to lld-22; is_file() is false if it dangles.
            if !lld_in_sysroot && find_in_path("rust-lld").is_none() {
                missing.push("rust-lld (rust-web-llvm + lld-22) not found".to_owned());
            }
        }
    }
    if find_in_path("lld-22").is_none() && find_in_path("ld.lld-22").is_none() {
        missing.push("lld-22 not found".to_owned());
    }
    missing
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn can_sudo() -> bool {
    find_in_path("sudo").is_some()
        && Command::new("sudo")
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

static TOOLCHAIN_OK: OnceLock<()> = OnceLock::new();
static TOOLCHAIN_MUTEX: Mutex<()> = Mutex::new(());

/// Makes sure the wasm toolchain is available: `/usr/bin/rustc` (rustc-web)
/// with the `wasm32-unknown-unknown` target, the std sources (rust-web-src)
/// for `-Zbuild-std`, `rust-lld`/`lld-22`, and `cargo` on `PATH`.
///
/// If something is missing it runs `apt-get update` and
/// `apt-get install -y --no-install-recommends rustc-web rust-web-src rust-web-llvm lld-22`
/// (as root, or through passwordless `sudo`). The apt lines are always
/// announced on stderr, even when `quiet`. Success is cached per process.
pub fn ensure_toolchain(quiet: bool) -> Result<(), BuildError> {
    if TOOLCHAIN_OK.get().is_some() {
        return Ok(());
    }
    let _guard = TOOLCHAIN_MUTEX.lock().unwrap_or_else(|e| e.into_inner());
    if TOOLCHAIN_OK.get().is_some() {
        return Ok(());
    }

    let cargo_ok = Command::new(cargo_bin())
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !cargo_ok {
        return Err(BuildError::Toolchain(format!(
            "`{}` not found on PATH (install Rust with rustup, or set VEIL_CARGO)",
            cargo_bin().display()
        )));
    }

    let mut missing = toolchain_problems();
    if !missing.is_empty() {
        // Serialize installs across processes (parallel test binaries).
        let _lock = lock_file(&std::env::temp_dir().join("veil-wasm-toolchain-install.lock"))?;
        missing = toolchain_problems();
        if !missing.is_empty() {
            install_toolchain(&missing, quiet)?;
            let still = toolchain_problems();
            if !still.is_empty() {
                return Err(BuildError::Toolchain(format!(
                    "still missing after apt-get install: {}",
                    still.join("; ")
                )));
            }
        }
    }
    if !quiet && !missing.is_empty() {
        let v = rustc_output(&wasm_rustc(), &["--version"]).unwrap_or_default();
        eprintln!("veil: wasm toolchain ready ({})", v.trim());
    }
    let _ = TOOLCHAIN_OK.set(());
    Ok(())
}

fn install_toolchain(missing: &[String], quiet: bool) -> Result<(), BuildError> {
    let pkgs = APT_PACKAGES.join(" ");
    let manual = format!(
        "install it manually: `sudo apt-get update && sudo apt-get install -y {pkgs}` (Debian 12 bookworm-security/updates)"
    );
    eprintln!("veil: wasm toolchain incomplete: {}", missing.join("; "));
    if find_in_path("apt-get").is_none() {
        return Err(BuildError::Toolchain(format!(
            "{}; apt-get not available, {manual}",
            missing.join("; ")
        )));
    }
    let sudo = if is_root() {
        false
    } else if can_sudo() {
        true
    } else {
        return Err(BuildError::Toolchain(format!(
            "{}; not running as root and passwordless sudo is unavailable, {manual}",
            missing.join("; ")
        )));
    };
    let apt = |args: &[&str]| {
        let mut cmd = if sudo {
            let mut c = Command::new("sudo");
            c.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
            c
        } else {
            Command::new("apt-get")
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        cmd
    };
    eprintln!("veil: running apt-get update ...");
    run(&mut apt(&["update", "-q"]), !quiet, false)
        .map_err(|e| BuildError::Toolchain(format!("apt-get update failed ({manual}):\n{e}")))?;
    eprintln!("veil: installing {pkgs} with apt-get ...");
    let mut args = vec![
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "-o",
        "DPkg::Lock::Timeout=600",
    ];
    args.extend(APT_PACKAGES);
    run(&mut apt(&args), !quiet, false)
        .map_err(|e| BuildError::Toolchain(format!("apt-get install failed ({manual}):\n{e}")))?;
    eprintln!("veil: installed {pkgs}");
    Ok(())
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

/// Best-effort `[package] name` from a manifest (only used for messages).
fn package_name(manifest: &Path) -> Option<String> {
    let text = fs::read_to_string(manifest).ok()?;
    let mut in_package = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_package = l == "[package]";
            continue;
        }
        if in_package {
            if let Some(rest) = l.strip_prefix("name") {
                let rest = rest.trim_start();
                if let Some(v) = rest.strip_prefix('=') {
                    return Some(v.trim().trim_matches('"').to_owned());
                }
            }
        }
    }
    None
}

/// Compiles the contract crate in `crate_dir` to wasm and returns the path of
/// the copied `.wasm`.
///
/// Runs, in `crate_dir`:
/// `cargo build --release --lib --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort`
/// with `RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1`,
/// `RUSTFLAGS="-C link-arg=-s -C link-arg=--allow-undefined [-C target-cpu=mvp] [--cfg near]"`
/// and `CARGO_TARGET_DIR=<workspace_contract_cache()>/target-{mvp,modern,near}`.
///
/// Output: `<out_dir>/<lib_name>.wasm` for MVP builds and
/// `<out_dir>/<lib_name>-modern.wasm` otherwise, where `out_dir` defaults to
/// `<crate_dir>/artifacts` and `lib_name` is the crate's library name (dashes
/// replaced by underscores, as cargo does).
pub fn build_contract(crate_dir: &Path, opts: &BuildOptions) -> Result<PathBuf, BuildError> {
    if !crate_dir.exists() {
        return Err(BuildError::CrateDirMissing(crate_dir.to_path_buf()));
    }
    if !crate_dir.join("Cargo.toml").is_file() {
        return Err(BuildError::NotACargoProject(crate_dir.to_path_buf()));
    }
    let crate_dir = crate_dir
        .canonicalize()
        .map_err(io_err(format!("resolving {}", crate_dir.display())))?;
    let manifest = crate_dir.join("Cargo.toml");
    ensure_toolchain(opts.quiet)?;

    let name = package_name(&manifest).unwrap_or_else(|| {
        crate_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let flavor = match (opts.near, opts.mvp) {
        (true, _) => "near",
        (false, true) => "mvp",
        (false, false) => "modern",
    };
    let cache = workspace_contract_cache();
    let target_dir = cache.join(format!("target-{flavor}"));
    let mut rustflags = String::from("-C link-arg=-s -C link-arg=--allow-undefined");
    if opts.mvp || opts.near {
        rustflags.push_str(" -C target-cpu=mvp");
    }
    if opts.near {
        rustflags.push_str(" --cfg near");
    }

    // Held across build + copy: the shared target dir reuses artifact paths.
    let _lock = lock_file(&cache.join(format!("target-{flavor}.lock")))?;
    if !opts.quiet {
        eprintln!("veil: building contract {name} ({flavor}) ...");
    }
    let start = Instant::now();
    let mut cmd = cargo_command(&crate_dir);
    cmd.args([
        "build",
        "--release",
        "--lib",
        "--target",
        WASM_TARGET,
        "-Zbuild-std=std,panic_abort",
        "--message-format=json-render-diagnostics",
        "--manifest-path",
    ])
    .arg(&manifest)
    .env("RUSTFLAGS", &rustflags)
    .env("CARGO_TARGET_DIR", &target_dir);
    let stdout = run(&mut cmd, !opts.quiet, true)?;

    let built = find_wasm_artifact(&stdout, &manifest)
        .ok_or_else(|| BuildError::NoWasmArtifact(crate_dir.clone()))?;
    let stem = built
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.replace('-', "_"));
    let file_name = if opts.mvp || opts.near {
        format!("{stem}.wasm")
    } else {
        format!("{stem}-modern.wasm")
    };
    let out_dir = match &opts.out_dir {
        Some(d) => absolute(d),
        None => crate_dir.join("artifacts"),
    };
    fs::create_dir_all(&out_dir).map_err(io_err(format!("creating {}", out_dir.display())))?;
    let dest = out_dir.join(file_name);
    let tmp = out_dir.join(format!(".{}.tmp{}", stem, std::process::id()));
    fs::copy(&built, &tmp).map_err(io_err(format!(
        "copying {} to {}",
        built.display(),
        tmp.display()
    )))?;
    fs::rename(&tmp, &dest).map_err(io_err(format!("renaming to {}", dest.display())))?;
    let size = fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
    if !opts.quiet {
        eprintln!(
            "veil: built {name} -> {} ({size} bytes) in {:.1}s",
            dest.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(dest)
}

/// Finds the `.wasm` produced for `manifest` in cargo's JSON message stream.
fn find_wasm_artifact(stdout: &str, manifest: &Path) -> Option<PathBuf> {
    let mut found = None;
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg.get("reason").and_then(|r| r.as_str()) != Some("compiler-artifact") {
            continue;
        }
        let same_manifest = msg
            .get("manifest_path")
            .and_then(|m| m.as_str())
            .map(|m| Path::new(m) == manifest)
            .unwrap_or(false);
        if !same_manifest {
            continue;
        }
        if let Some(files) = msg.get("filenames").and_then(|f| f.as_array()) {
            for f in files.iter().filter_map(|f| f.as_str()) {
                if Path::new(f).extension() == Some(OsStr::new("wasm")) {
                    found = Some(PathBuf::from(f));
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------
// Fetching published contracts
// ---------------------------------------------------------------------------

fn valid_ident(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || extra.contains(&c))
}

/// Builds a published contract crate, unchanged: installs the toolchain if missing,
/// fetches `name@version` into the workspace's contract cache ([`fetch_crate_source`]) and
/// builds it ([`build_contract`]). Returns the `.wasm` path.
pub fn build_published(
    name: &str,
    version: &str,
    options: &BuildOptions,
) -> Result<PathBuf, BuildError> {
    ensure_toolchain(options.quiet)?;
    let src = fetch_crate_source(name, version, &workspace_contract_cache())?;
    build_contract(&src, options)
}

/// Fetches the unchanged source of the published crate `name` `=version` from
/// crates.io into `<cache_root>/src/<name>-<version>` and returns that dir.
///
/// Uses only cargo: a throwaway project `<cache_root>/fetch-<name>-<version>`
/// depending on `name = "=version"` is resolved with `cargo metadata`, which
/// downloads and unpacks the crate into cargo's registry; the unpacked source
/// is copied, an empty `[workspace]` table is appended to its `Cargo.toml`
/// (so it builds standalone, even below another workspace), and `cargo update`
/// is run once so dependencies move to the latest semver-compatible releases
/// (e.g. crates pinned to cosmwasm-std 2.0.0 pick up the latest 2.x, whose
/// allocator works with this std). Returns immediately if already fetched.
pub fn fetch_crate_source(
    name: &str,
    version: &str,
    cache_root: &Path,
) -> Result<PathBuf, BuildError> {
    if !valid_ident(name, &[]) {
        return Err(BuildError::InvalidArgument(format!(
            "bad crate name {name:?}"
        )));
    }
    if !valid_ident(version, &['.', '+']) {
        return Err(BuildError::InvalidArgument(format!(
            "bad crate version {version:?}"
        )));
    }
    let cache_root = absolute(cache_root);
    let dest = cache_root.join("src").join(format!("{name}-{version}"));
    let marker = dest.join(".veil-fetched");
    if marker.is_file() {
        return Ok(dest);
    }
    let _lock = lock_file(&cache_root.join(format!("fetch-{name}-{version}.lock")))?;
    if marker.is_file() {
        return Ok(dest);
    }
    eprintln!("veil: fetching {name} {version} from crates.io ...");

    // 1. Throwaway project that depends on exactly this version.
    let proj = cache_root.join(format!("fetch-{name}-{version}"));
    fs::create_dir_all(proj.join("src")).map_err(io_err(format!("creating {}", proj.display())))?;
    let manifest = format!(
        "[package]\nname = \"veil-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [workspace]\n\n[lib]\npath = \"src/lib.rs\"\n\n[dependencies]\n{name} = \"={version}\"\n"
    );
    fs::write(proj.join("Cargo.toml"), manifest).map_err(io_err("writing fetch manifest"))?;
    fs::write(proj.join("src/lib.rs"), "").map_err(io_err("writing fetch lib.rs"))?;

    // 2. Resolve + download + unpack; find the unpacked source dir.
    let mut cmd = cargo_command(&proj);
    cmd.args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(proj.join("Cargo.toml"));
    let out = run(&mut cmd, false, true)?;
    let meta: serde_json::Value = serde_json::from_str(&out)
        .map_err(|e| BuildError::Other(format!("parsing cargo metadata output: {e}")))?;
    let src_manifest = meta
        .get("packages")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .find(|p| {
            p.get("name").and_then(|n| n.as_str()) == Some(name)
                && p.get("version").and_then(|v| v.as_str()) == Some(version)
        })
        .and_then(|p| p.get("manifest_path").and_then(|m| m.as_str()))
        .map(PathBuf::from)
        .ok_or_else(|| {
            BuildError::Other(format!("cargo metadata did not report {name} {version}"))
        })?;
    let src_dir = src_manifest
        .parent()
        .ok_or_else(|| BuildError::Other("bad manifest path".into()))?;

    // 3. Copy (via a temp dir so a crash never leaves a half-copied source).
    let tmp = cache_root
        .join("src")
        .join(format!(".{name}-{version}.tmp{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    copy_dir(src_dir, &tmp)?;
    add_workspace_table(&tmp.join("Cargo.toml"))?;
    let _ = fs::remove_dir_all(&dest);
    fs::rename(&tmp, &dest).map_err(io_err(format!("renaming to {}", dest.display())))?;

    // 4. Move dependencies to the latest compatible versions.
    let mut cmd = cargo_command(&dest);
    cmd.args(["update", "--manifest-path"])
        .arg(dest.join("Cargo.toml"));
    run(&mut cmd, false, false)?;

    fs::write(&marker, format!("{name} {version}\n")).map_err(io_err("writing fetch marker"))?;
    eprintln!("veil: fetched {name} {version} -> {}", dest.display());
    Ok(dest)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), BuildError> {
    fs::create_dir_all(to).map_err(io_err(format!("creating {}", to.display())))?;
    for entry in fs::read_dir(from).map_err(io_err(format!("reading {}", from.display())))? {
        let entry = entry.map_err(io_err(format!("reading {}", from.display())))?;
        let name = entry.file_name();
        if name == ".cargo-ok" || name == "target" {
            continue;
        }
        let src = entry.path();
        let dst = to.join(&name);
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else if src.is_file() {
            fs::copy(&src, &dst).map_err(io_err(format!("copying {}", src.display())))?;
        }
    }
    Ok(())
}

fn add_workspace_table(manifest: &Path) -> Result<(), BuildError> {
    let text =
        fs::read_to_string(manifest).map_err(io_err(format!("reading {}", manifest.display())))?;
    let has_workspace = text.lines().any(|l| {
        let l = l.trim();
        l == "[workspace]" || l.starts_with("[workspace.")
    });
    if !has_workspace {
        let mut text = text;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("\n# Added by veil-contract-build: build standalone.\n[workspace]\n");
        fs::write(manifest, text).map_err(io_err(format!("writing {}", manifest.display())))?;
    }
    Ok(())
}
