//! `veil tx`, `veil query`, `veil status` and `veil keys` against a real `veil dev` chain:
//! the binary started as a process on a free loopback port, cw20-base 2.0.0 built from
//! source, every command run as a user runs it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CW20_BASE_VERSION: &str = "2.0.0";

fn veil_exe() -> &'static str {
    env!("CARGO_BIN_EXE_veil")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .unwrap()
        .port()
}

/// A running `veil dev`, killed on drop.
struct DevChain {
    child: Child,
    home: tempfile::TempDir,
    url: String,
    log: PathBuf,
}

impl DevChain {
    fn start() -> Self {
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = home.path().join("dev.log");
        let child = Command::new(veil_exe())
            .args(["dev", "--block-time", "200ms", "--rpc-addr"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--home")
            .arg(home.path())
            .env("HOME", home.path().join("user-home"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("veil dev starts");
        let mut chain = DevChain {
            child,
            home,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        chain.wait_ready();
        chain
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("veil dev exited ({status}):\n{}", self.log_text());
            }
            if self.veil(&["status", "--output", "json"]).code == 0 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "veil dev did not answer within 60s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `veil <args>` with this chain's node and home in the environment and the test
    /// keyring as the default backend.
    fn veil(&self, args: &[&str]) -> Out {
        run_veil(
            args,
            &[
                ("VEIL_NODE", self.url.as_str()),
                ("VEIL_HOME", self.home().to_str().unwrap()),
                ("VEIL_KEYRING_BACKEND", "test"),
            ],
            self.home(),
        )
    }
}

impl Drop for DevChain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {}", self.stdout))
    }

    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        self
    }

    /// Checks the exit status and that stderr reports `error: ...` containing each text.
    #[track_caller]
    fn fails(self, code: i32, texts: &[&str]) -> Self {
        assert_eq!(
            self.code, code,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        let error = self
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no `error: ` line in stderr: {}", self.stderr));
        for text in texts {
            assert!(
                error.contains(text),
                "expected `{text}` in the error, got: {error}"
            );
        }
        self
    }
}

fn run_veil(args: &[&str], env: &[(&str, &str)], home: &Path) -> Out {
    let output = Command::new(veil_exe())
        .args(args)
        .env_remove("VEIL_HOME")
        .env_remove("VEIL_NODE")
        .env_remove("VEIL_KEYRING_BACKEND")
        .env_remove("VEIL_KEYRING_PASSPHRASE")
        .env("HOME", home.join("user-home"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("veil runs");
    Out {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// cw20-base 2.0.0, unchanged from crates.io, built for the MVP target (cached).
fn cw20_wasm() -> PathBuf {
    use veil_contract_build as build;
    let options = build::BuildOptions {
        mvp: true,
        out_dir: None,
        quiet: true,
        near: false,
    };
    build::build_published("cw20-base", CW20_BASE_VERSION, &options).expect("build cw20-base")
}

fn timed<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = f();
    eprintln!("[e2e] {name}: {:.2?}", started.elapsed());
    value
}

#[test]
fn cli_drives_a_dev_chain_end_to_end() {
    let wasm = timed("build cw20-base", cw20_wasm);
    let wasm = wasm.to_str().unwrap();
    let chain = timed("start veil dev", DevChain::start);

    // --- status, keys -------------------------------------------------------------------
    let status = chain.veil(&["status", "--output", "json"]).ok().json();
    assert_eq!(status["chain_id"], "veil-dev");
    assert_eq!(status["node"], chain.url.as_str());
    let text = chain.veil(&["status"]).ok().stdout;
    assert!(text.contains("chain_id: veil-dev"), "{text}");

    let keys = chain
        .veil(&["keys", "list", "--output", "json"])
        .ok()
        .json();
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let address_of = |name: &str| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap()["address"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let alice = address_of("alice");
    let bob = address_of("bob");
    let dave = chain
        .veil(&["keys", "add", "dave", "--output", "json"])
        .ok()
        .json()["address"]
        .as_str()
        .unwrap()
        .to_string();

    // --- send, account --------------------------------------------------------------------
    let sent = timed("tx send", || {
        chain
            .veil(&[
                "tx",
                "send",
                "dave",
                "5000uveil",
                "--from",
                "alice",
                "--output",
                "json",
            ])
            .ok()
    });
    assert!(
        sent.stderr.contains("veil: ") && sent.stderr.contains("waiting for a block"),
        "progress on stderr: {}",
        sent.stderr
    );
    let sent = sent.json();
    assert_eq!(sent["to"], dave.as_str());
    assert_eq!(sent["amount"], "5000");
    assert_eq!(sent["msg_kind"], "send");
    assert!(sent["height"].as_u64().unwrap() > 0);
    assert!(sent["gas_used"].as_u64().unwrap() <= sent["gas_limit"].as_u64().unwrap());
    let account = chain
        .veil(&["query", "account", "dave", "--output", "json"])
        .ok()
        .json();
    assert_eq!(account["address"], dave.as_str());
    assert_eq!(account["balance"], "5000");
    assert_eq!(account["name"], "dave");
    // By address, with explicit flags instead of the environment.
    let text = run_veil(
        &["query", "account", &dave, "--node", &chain.url],
        &[],
        chain.home(),
    )
    .ok()
    .stdout;
    assert!(text.contains("balance: 5000uveil"), "{text}");
    // The new key can spend (file-less test keyring, explicit flags).
    let home = chain.home().to_str().unwrap();
    run_veil(
        &[
            "tx",
            "send",
            &bob,
            "1",
            "--from",
            "dave",
            "--home",
            home,
            "--keyring-backend",
            "test",
            "--node",
            &chain.url,
        ],
        &[],
        chain.home(),
    )
    .ok();

    // --- store, instantiate ---------------------------------------------------------------
    // Whoever deploys must say who may read: no default.
    chain
        .veil(&["tx", "store", wasm, "--from", "alice"])
        .fails(2, &["--query-policy", "anyone"]);
    chain
        .veil(&[
            "tx",
            "store",
            wasm,
            "--from",
            "alice",
            "--query-policy",
            "cw2O",
        ])
        .fails(2, &["neither a preset", "cw20"]);
    let stored = timed("tx store", || {
        chain.veil(&[
            "tx",
            "store",
            wasm,
            "--from",
            "alice",
            "--query-policy",
            "public",
            "--output",
            "json",
        ])
    })
    .ok();
    assert!(stored.stderr.contains("uploading"), "{}", stored.stderr);
    let stored = stored.json();
    let code_id = stored["code_id"].as_u64().expect("code id");
    let code = chain
        .veil(&["query", "code", &code_id.to_string(), "--output", "json"])
        .ok()
        .json();
    assert_eq!(code["code_hash"], stored["code_hash"]);
    assert_eq!(code["creator"], alice.as_str());

    let init = json!({
        "name": "Veil Token", "symbol": "VTK", "decimals": 6,
        "initial_balances": [{"address": alice, "amount": "1000"}],
    })
    .to_string();
    let instantiated = timed("tx instantiate", || {
        chain.veil(&[
            "tx",
            "instantiate",
            &code_id.to_string(),
            &init,
            "--label",
            "token",
            "--admin",
            "alice",
            "--query-policy",
            "cw20",
            "--from",
            "alice",
            "--output",
            "json",
        ])
    })
    .ok()
    .json();
    let token = instantiated["contract_address"]
        .as_str()
        .expect("contract address")
        .to_string();
    assert_eq!(instantiated["admin"], alice.as_str());
    let info = chain
        .veil(&["query", "contract-info", &token, "--output", "json"])
        .ok()
        .json();
    assert_eq!(info["code_id"], code_id);
    assert_eq!(info["label"], "token");
    assert_eq!(
        info["query_policy"],
        serde_json::to_value(veil_types::QueryPolicy::preset("cw20").unwrap()).unwrap()
    );
    let text = chain.veil(&["query", "contract-info", &token]).ok().stdout;
    assert!(text.contains("query_policy: cw20"), "{text}");

    // --- execute, query -------------------------------------------------------------------
    let transfer = json!({"transfer": {"recipient": dave, "amount": "250"}}).to_string();
    let executed = timed("tx execute", || {
        chain.veil(&[
            "tx", "execute", &token, &transfer, "--from", "alice", "--output", "json",
        ])
    })
    .ok()
    .json();
    let tx_hash = executed["tx_hash"].as_str().unwrap().to_string();
    let attributes = executed["result"]["attributes"].as_array().unwrap();
    assert!(
        attributes.contains(&json!({"key": "action", "value": "transfer"})),
        "{executed}"
    );
    // Text output shows the decrypted result too.
    let text = chain
        .veil(&["tx", "execute", &token, &transfer, "--from", "alice"])
        .ok()
        .stdout;
    assert!(
        text.contains("result.attribute: action = transfer"),
        "{text}"
    );

    let balance = |who: &str, from: Option<&str>| {
        let msg = json!({"balance": {"address": who}}).to_string();
        let mut args = vec!["query", "contract", &token, &msg, "--output", "json"];
        if let Some(key) = from {
            args.extend(["--from", key]);
        }
        chain.veil(&args).ok().json()
    };
    // cw20 policy: only the account concerned reads its balance, signed.
    assert_eq!(balance(&alice, Some("alice")), json!({"balance": "500"}));
    let refused = |who: &str, from: Option<&str>, msg: Value| {
        let msg = if msg.is_null() {
            json!({"balance": {"address": who}})
        } else {
            msg
        }
        .to_string();
        let mut args = vec!["query", "contract", &token, &msg];
        if let Some(key) = from {
            args.extend(["--from", key]);
        }
        chain.veil(&args).fails(1, &["unauthorized"]);
    };
    refused(&dave, None, Value::Null);
    refused(&alice, Some("bob"), Value::Null);
    refused("", Some("alice"), json!({"all_accounts": {}}));
    assert_eq!(
        chain
            .veil(&[
                "query",
                "contract",
                &token,
                r#"{"token_info":{}}"#,
                "--output",
                "json"
            ])
            .ok()
            .json()["symbol"],
        "VTK"
    );
    // Only the admin changes the policy; from the next block on it applies.
    chain
        .veil(&["tx", "set-query-policy", &token, "public", "--from", "bob"])
        .fails(1, &["only the admin"]);
    chain
        .veil(&[
            "tx",
            "set-query-policy",
            &token,
            "public",
            "--from",
            "alice",
        ])
        .ok();
    assert_eq!(balance(&dave, None), json!({"balance": "500"}));

    // --- query tx: the sender decrypts, others are told it is not for them ----------------
    let seen = chain
        .veil(&[
            "query", "tx", &tx_hash, "--from", "alice", "--output", "json",
        ])
        .ok()
        .json();
    assert_eq!(seen["decrypted"], true);
    assert_eq!(seen["sender"], alice.as_str());
    assert_eq!(seen["msg"]["contract"], token.as_str());
    assert!(seen["result"]["attributes"]
        .as_array()
        .unwrap()
        .contains(&json!({"key": "amount", "value": "250"})));
    let text = chain
        .veil(&["query", "tx", &tx_hash, "--from", "alice"])
        .ok()
        .stdout;
    assert!(text.contains("result.attribute: to = "), "{text}");
    let unseen = chain
        .veil(&["query", "tx", &tx_hash, "--from", "bob", "--output", "json"])
        .ok()
        .json();
    assert_eq!(unseen["decrypted"], false);
    assert_eq!(unseen["result"], Value::Null);
    let note = unseen["result_note"].as_str().unwrap();
    assert!(
        note.contains("encrypted for the sender") && note.contains("bob") && note.contains(&bob),
        "{note}"
    );
    let text = chain
        .veil(&["query", "tx", &tx_hash, "--from", "bob"])
        .ok()
        .stdout;
    assert!(
        text.contains("result: encrypted for the sender") && text.contains("cannot decrypt"),
        "{text}"
    );
    let text = chain.veil(&["query", "tx", &tx_hash]).ok().stdout;
    assert!(text.contains("pass --from"), "{text}");
    let block = chain
        .veil(&[
            "query",
            "block",
            &seen["height"].to_string(),
            "--output",
            "json",
        ])
        .ok()
        .json();
    assert!(block["tx_hashes"]
        .as_array()
        .unwrap()
        .contains(&json!(tx_hash)));
    chain.veil(&["query", "block"]).ok();

    // --gas auto with another margin: the limit scales with the factor (a send to oneself
    // changes no balance but the fee).
    let limit_with = |factor: &str| {
        chain
            .veil(&[
                "tx",
                "send",
                "alice",
                "1",
                "--from",
                "alice",
                "--gas-adjustment",
                factor,
                "--output",
                "json",
            ])
            .ok()
            .json()["gas_limit"]
            .as_u64()
            .unwrap() as f64
    };
    let ratio = limit_with("2.6") / limit_with("1");
    assert!((2.5..2.7).contains(&ratio), "limits scale by {ratio}");
    chain
        .veil(&[
            "tx",
            "send",
            "bob",
            "1",
            "--from",
            "alice",
            "--gas-adjustment",
            "0.5",
        ])
        .fails(2, &["outside 1 to 10"]);
    chain
        .veil(&[
            "tx",
            "send",
            "bob",
            "1",
            "--from",
            "alice",
            "--gas",
            "90000",
            "--gas-adjustment",
            "2",
        ])
        .fails(2, &["--gas auto only"]);

    // --- failures -------------------------------------------------------------------------
    // Out of gas in the block: the numbers are reported.
    let out = timed("out of gas", || {
        chain.veil(&[
            "tx", "execute", &token, &transfer, "--from", "alice", "--gas", "30000", "--output",
            "json",
        ])
    })
    .fails(1, &["out of gas", "30000"]);
    let error = &out.json()["error"];
    assert_eq!(error["kind"], "out_of_gas");
    assert_eq!(error["gas_limit"], 30000);
    assert!(error["gas_used"].as_u64().unwrap() > 0);
    assert!(error["tx_hash"].is_string());

    // The contract's own error, decrypted: found by simulation (nothing sent) ...
    let too_much = json!({"transfer": {"recipient": dave, "amount": "1000000"}}).to_string();
    chain
        .veil(&["tx", "execute", &token, &too_much, "--from", "alice"])
        .fails(1, &["Cannot Sub", "nothing was sent"]);
    // ... and in a block, with a fixed gas limit (no simulation).
    let out = chain
        .veil(&[
            "tx", "execute", &token, &too_much, "--from", "alice", "--gas", "2000000", "--output",
            "json",
        ])
        .fails(1, &["Cannot Sub", "included in a block"]);
    assert_eq!(out.json()["error"]["kind"], "contract");
    assert!(out.json()["error"]["contract_error"]
        .as_str()
        .unwrap()
        .contains("Cannot Sub"));
    // A query's error is the contract's message too.
    chain
        .veil(&["query", "contract", &token, r#"{"no_such_query":{}}"#])
        .fails(1, &["no_such_query"]);

    // Insufficient funds.
    chain
        .veil(&["tx", "send", "alice", "10000000uveil", "--from", "dave"])
        .fails(1, &["insufficient funds"]);
    // The whole balance leaves nothing for the fee: refused before sending (the simulation
    // runs without a fee and cannot see it).
    let balance_of_dave = chain
        .veil(&["query", "account", "dave", "--output", "json"])
        .ok()
        .json()["balance"]
        .as_str()
        .unwrap()
        .to_string();
    chain
        .veil(&["tx", "send", "alice", &balance_of_dave, "--from", "dave"])
        .fails(
            1,
            &["insufficient funds", "plus the fee", "nothing was sent"],
        );

    // Unknown key, unknown recipient key, unknown contract.
    chain
        .veil(&["tx", "send", "bob", "1", "--from", "nobody"])
        .fails(1, &["no key named \"nobody\""]);
    chain
        .veil(&["tx", "send", "nobody", "1", "--from", "alice"])
        .fails(1, &["nobody"]);
    chain
        .veil(&["tx", "execute", &alice, "{}", "--from", "alice"])
        .fails(1, &["no contract at"]);
    // A pinned code hash that is not the contract's: nothing is sent.
    let other_hash = "00".repeat(32);
    chain
        .veil(&[
            "tx",
            "execute",
            &token,
            &transfer,
            "--from",
            "alice",
            "--code-hash",
            &other_hash,
        ])
        .fails(1, &["not the expected", &other_hash]);
    chain
        .veil(&[
            "query",
            "contract",
            &token,
            r#"{"token_info":{}}"#,
            "--code-hash",
            &other_hash,
        ])
        .fails(1, &["not the expected"]);
    // The file backend does not have the dev keys: say where they are.
    chain
        .veil(&[
            "tx",
            "send",
            "bob",
            "1",
            "--from",
            "alice",
            "--keyring-backend",
            "file",
        ])
        .fails(1, &["--keyring-backend test"]);

    // Node unreachable.
    let closed = format!("http://127.0.0.1:{}", free_port());
    chain
        .veil(&[
            "tx", "send", "bob", "1", "--from", "alice", "--node", &closed,
        ])
        .fails(1, &["cannot reach the node", &closed]);
    let out = chain
        .veil(&["status", "--node", &closed, "--output", "json"])
        .fails(1, &["cannot reach the node"]);
    assert_eq!(out.json()["error"]["kind"], "unreachable");

    // Usage errors: exit 2.
    chain
        .veil(&["tx", "execute", &token, "{not json", "--from", "alice"])
        .fails(2, &["not valid JSON"]);
    chain
        .veil(&["tx", "send", "bob", "5ufoo", "--from", "alice"])
        .fails(2, &["unknown denomination"]);
    chain
        .veil(&["query", "tx", "abc"])
        .fails(2, &["not a transaction hash"]);

    // --- migrate: only the admin ----------------------------------------------------------
    chain
        .veil(&[
            "tx",
            "migrate",
            &token,
            &code_id.to_string(),
            "{}",
            "--from",
            "bob",
        ])
        .fails(1, &["only the admin"]);
    let migrated = timed("tx migrate", || {
        chain.veil(&[
            "tx",
            "migrate",
            &token,
            &code_id.to_string(),
            "{}",
            "--from",
            "alice",
            "--output",
            "json",
        ])
    })
    .ok()
    .json();
    assert_eq!(migrated["msg_kind"], "migrate");
    assert_eq!(balance(&dave, None), json!({"balance": "500"}));
}
