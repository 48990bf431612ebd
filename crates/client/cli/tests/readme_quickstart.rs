//! The README's quickstart, run exactly as written: the shell block between
//! `<!-- quickstart:start -->` and `<!-- quickstart:end -->` under `bash` with
//! `set -euo pipefail`, `veil` on PATH (this build's binary), from the repository root, with
//! a temporary HOME/VEIL_HOME/TMPDIR. The dev chain it starts (on the default port 26657)
//! is killed with the whole process group afterwards, whatever happened.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const START: &str = "<!-- quickstart:start -->";
const END: &str = "<!-- quickstart:end -->";
/// The port `veil dev` listens on by default (the quickstart does not choose one).
const DEFAULT_RPC_PORT: u16 = 26657;
const TIMEOUT: Duration = Duration::from_secs(600);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .canonicalize()
        .unwrap()
}

/// The shell commands of the quickstart's fenced block(s).
fn quickstart_script(readme: &str) -> String {
    let start = readme
        .find(START)
        .expect("README has the quickstart:start marker")
        + START.len();
    let end = readme[start..]
        .find(END)
        .map(|i| start + i)
        .expect("README has the quickstart:end marker");
    let mut script = String::new();
    let mut in_block = false;
    for line in readme[start..end].lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            script.push_str(line);
            script.push('\n');
        }
    }
    assert!(!in_block, "unterminated code block in the quickstart");
    assert!(
        !script.trim().is_empty(),
        "no shell block in the quickstart"
    );
    script
}

/// Kills the whole process group (bash and the `veil dev &` it started) on drop.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[test]
fn readme_quickstart_runs_as_written() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let script = quickstart_script(&readme);
    assert!(
        script.contains("veil dev") && script.contains("kill %1"),
        "the quickstart starts and stops a dev chain:\n{script}"
    );
    assert!(
        port_is_free(DEFAULT_RPC_PORT),
        "port {DEFAULT_RPC_PORT} is in use (a `veil dev` running?); the quickstart starts its \
         dev chain on the default port, stop the other one first"
    );

    let temp = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_veil")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::fs::create_dir_all(temp.path().join("home")).unwrap();
    // The quickstart builds a contract with cargo: keep rustup and cargo finding their
    // toolchains although HOME moves.
    let mut toolchain_env = Vec::new();
    if let Some(real_home) = std::env::home_dir() {
        for (var, dir) in [("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")] {
            if std::env::var_os(var).is_none() && real_home.join(dir).is_dir() {
                toolchain_env.push((var, real_home.join(dir)));
            }
        }
    }
    let started = Instant::now();
    let child = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(repo_root())
        .env("PATH", path)
        .env("HOME", temp.path().join("home"))
        .env("VEIL_HOME", temp.path().join("veil-home"))
        .env("TMPDIR", temp.path())
        .env_remove("VEIL_NODE")
        .env_remove("VEIL_KEYRING_BACKEND")
        .env_remove("VEIL_KEYRING_PASSPHRASE")
        .envs(toolchain_env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("bash runs");
    let mut group = Group(child);
    // Read both pipes on threads: the background dev chain holds them open until killed.
    let mut stdout = group.0.stdout.take().unwrap();
    let mut stderr = group.0.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = group.0.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let elapsed = started.elapsed();
    // `kill %1` stopped the chain; wait for the port, then kill the group regardless.
    let freed = Instant::now();
    while !port_is_free(DEFAULT_RPC_PORT) && freed.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let chain_stopped = port_is_free(DEFAULT_RPC_PORT);
    drop(group);
    let stdout = out_thread.join().unwrap();
    let stderr = err_thread.join().unwrap();
    eprintln!("[quickstart] ran in {elapsed:.2?}");

    let status = status.unwrap_or_else(|| {
        panic!("the quickstart did not finish within {TIMEOUT:?}\nstdout:\n{stdout}\nstderr:\n{stderr}")
    });
    assert!(
        status.success(),
        "the quickstart failed ({status})\nscript:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The signed query's output: the counter's answer; then the anonymous one is refused.
    let answer = stdout
        .rfind("{\n")
        .map(|i| &stdout[i..])
        .and_then(|tail| {
            serde_json::Deserializer::from_str(tail)
                .into_iter::<Value>()
                .next()
                .and_then(Result::ok)
        })
        .unwrap_or_else(|| panic!("the quickstart's signed query printed no JSON:\n{stdout}"));
    assert_eq!(answer, json!({"count": 1}), "stdout:\n{stdout}");
    assert!(
        stdout.trim_end().ends_with("refused") && stderr.contains("unauthorized"),
        "the anonymous query of a private contract is refused:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("result.data: 1"),
        "the execute prints its decrypted result:\n{stdout}"
    );
    assert!(
        chain_stopped,
        "`kill %1` did not stop the dev chain\nstderr:\n{stderr}"
    );
}
