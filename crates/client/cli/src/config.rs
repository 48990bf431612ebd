//! `veil config get|set`: the home's client settings, `<home>/config/client.toml`.

use std::process::ExitCode;

use serde_json::{json, Map, Value};

use crate::shared::{
    check_config_value, finish, print_json, set_config_values, settings, usage, ClientConfig,
    Failure, CLIENT_CONFIG, CONFIG_KEYS,
};

pub(crate) const CONFIG_LONG_ABOUT: &str = "\
Read or change the client settings of the home (--home, else $VEIL_HOME, else ~/.veil),
kept in <home>/config/client.toml as in the Cosmos SDK:

  chain-id         the chain the node must serve (commands that sign or query refuse another)
  keyring-backend  file or test
  node             the node's RPC URL
  output           text or json

A flag (--chain-id, --keyring-backend, --node, --output) wins over the environment
($VEIL_CHAIN_ID, $VEIL_KEYRING_BACKEND, $VEIL_NODE, $VEIL_OUTPUT), which wins over the
file. `veil dev` writes its home's file (node, chain-id, keyring-backend test), so
`veil tx ... --from alice --home <that home>` works against it without more flags.";

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the value of KEY in client.toml (every key when none is named; unset keys
    /// print nothing in text, null in JSON).
    Get {
        #[arg(value_name = "KEY")]
        key: Option<String>,
    },
    /// Set KEY to VALUE in client.toml (created if missing; other lines kept).
    Set {
        #[arg(value_name = "KEY")]
        key: String,
        #[arg(value_name = "VALUE")]
        value: String,
    },
}

pub fn run(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    let result = match command {
        ConfigCommand::Get { key } => get(key),
        ConfigCommand::Set { key, value } => set(&key, &value),
    };
    finish(result, settings().json())
}

fn known(key: &str) -> Result<(), Failure> {
    if CONFIG_KEYS.contains(&key) {
        Ok(())
    } else {
        Err(usage(format!(
            "unknown client config key {key:?} (known: {})",
            CONFIG_KEYS.join(", ")
        )))
    }
}

fn get(key: Option<String>) -> Result<(), Failure> {
    let home = settings().home().map_err(Failure::Usage)?;
    let config = ClientConfig::load(&home).map_err(Failure::Usage)?;
    match key {
        Some(key) => {
            known(&key)?;
            let value = config.get(&key);
            if settings().json() {
                print_json(&json!({ key: value }));
            } else if let Some(value) = value {
                println!("{value}");
            }
        }
        None => {
            let entries: Map<String, Value> = CONFIG_KEYS
                .iter()
                .map(|key| (key.to_string(), json!(config.get(key))))
                .collect();
            if settings().json() {
                print_json(&Value::Object(entries));
            } else {
                for key in CONFIG_KEYS {
                    println!("{key} = {}", config.get(key).unwrap_or_default());
                }
            }
        }
    }
    Ok(())
}

fn set(key: &str, value: &str) -> Result<(), Failure> {
    known(key)?;
    let value = check_config_value(key, value).map_err(Failure::Usage)?;
    let home = settings().home().map_err(Failure::Usage)?;
    set_config_values(&home, &[(key, &value)])
        .map_err(|e| crate::shared::failed("config", format!("{e:#}")))?;
    if settings().json() {
        print_json(&json!({ key: value, "file": home.join(CLIENT_CONFIG) }));
    } else {
        eprintln!(
            "veil: {key} = {value} in {}",
            home.join(CLIENT_CONFIG).display()
        );
    }
    Ok(())
}
