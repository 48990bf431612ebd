//! Query policies: who may read what of a contract through its `query` entry point.
//!
//! A CosmWasm query carries no sender, so a contract cannot tell who asks. Veil lets the
//! deployer state the rule outside the contract: a small document matched on the query
//! message's top-level variant, enforced by the enclave against the querier it verified
//! itself (the signer of a query permit, or the calling contract for contract-to-contract
//! queries). The enclave keeps each contract's policy in its trusted record; presets are
//! only documents ([`QueryPolicy::preset`]), never special-cased code.
//!
//! JSON form (documented with examples in `docs/query-policies.md`):
//! ```json
//! { "default": "deny",
//!   "queries": { "balance": { "querier_in_message": ["address"] },
//!                "token_info": "public",
//!                "owner_of": { "querier_in_answer": "owner" } },
//!   "raw": { "namespaces": ["total", "members"] } }
//! ```
//!
//! The policy is checked against exactly the bytes the contract parses: [`parse_query`]
//! refuses a message that is not one object with one key, has a duplicate key anywhere, or
//! a key written with escapes (`"b\u0061lance"`), so the policy and the contract can never
//! read different variants or fields.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest policy document accepted (bytes of its JSON form).
pub const MAX_POLICY_BYTES: usize = 16 * 1024;
/// Most variants a policy may name, and most fields one rule may name.
pub const MAX_POLICY_VARIANTS: usize = 128;
pub const MAX_RULE_FIELDS: usize = 8;
/// Longest variant name or field path.
pub const MAX_NAME_BYTES: usize = 128;
/// Deepest JSON nesting a query message may have.
pub const MAX_QUERY_DEPTH: usize = 32;

/// Who may run one kind of query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Anyone, signed or not.
    Public,
    /// Nobody.
    Deny,
    /// Only the contract's admin (signed).
    Admin,
    /// Only a querier whose verified address equals the string at one of these field paths
    /// of the variant's body (`"address"`, `"owner"`, `"a.b"` for nested objects).
    QuerierInMessage(Vec<String>),
    /// Only if the string at this field path of the answer equals the querier (cw721's
    /// `owner_of` names the owner only in its answer). The query runs first; a refused
    /// answer is dropped inside the enclave.
    QuerierInAnswer(String),
}

/// Which raw storage reads other contracts may make (`WasmQuery::Raw` bypasses messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawRule {
    /// No raw reads (the default unless the policy is public).
    #[default]
    None,
    /// Any key.
    All,
    /// Keys of these cw-storage-plus namespaces: a key equal to the name (an `Item`), or
    /// starting with the name's length (u16 big-endian) and the name (a `Map`'s entries).
    Namespaces(Vec<String>),
}

/// A contract's query policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryPolicy {
    /// The rule for variants `queries` does not name.
    pub default: Rule,
    /// Rules by top-level variant of the query message.
    #[serde(default)]
    pub queries: BTreeMap<String, Rule>,
    #[serde(default)]
    pub raw: RawRule,
}

/// The preset names `QueryPolicy::preset` knows.
pub const PRESETS: [&str; 4] = ["public", "cw20", "cw721", "private"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("query policy is not valid: {0}")]
    Invalid(String),
    #[error("the query message is not accepted: {0}")]
    Message(String),
}

fn invalid(message: impl Into<String>) -> PolicyError {
    PolicyError::Invalid(message.into())
}

impl QueryPolicy {
    /// Anyone may run any query and read any raw key (CosmWasm's behaviour).
    pub fn public() -> Self {
        Self {
            default: Rule::Public,
            queries: BTreeMap::new(),
            raw: RawRule::All,
        }
    }

    /// A preset by name (`public`, `cw20`, `cw721`, `private`).
    pub fn preset(name: &str) -> Option<Self> {
        let fields =
            |names: &[&str]| Rule::QuerierInMessage(names.iter().map(|n| n.to_string()).collect());
        let rules = |entries: Vec<(&str, Rule)>| -> BTreeMap<String, Rule> {
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect()
        };
        Some(match name {
            "public" => Self::public(),
            // cw20-base 2.0: balances and allowances only for the accounts concerned; what
            // describes the token is public; the holder list is denied.
            "cw20" => Self {
                default: Rule::Deny,
                queries: rules(vec![
                    ("balance", fields(&["address"])),
                    ("allowance", fields(&["owner", "spender"])),
                    ("all_allowances", fields(&["owner"])),
                    ("all_spender_allowances", fields(&["spender"])),
                    ("all_accounts", Rule::Deny),
                    ("token_info", Rule::Public),
                    ("minter", Rule::Public),
                    ("marketing_info", Rule::Public),
                    ("download_logo", Rule::Public),
                ]),
                raw: RawRule::None,
            },
            // cw721-base: which tokens exist and what they look like is public (a
            // marketplace lists them); who owns which, and approvals, only for the owner,
            // operator or spender concerned. See docs/query-policies.md for the reasoning.
            "cw721" => Self {
                default: Rule::Deny,
                queries: rules(vec![
                    ("owner_of", Rule::QuerierInAnswer("owner".into())),
                    ("all_nft_info", Rule::QuerierInAnswer("access.owner".into())),
                    ("approval", fields(&["spender"])),
                    ("approvals", Rule::Deny),
                    ("operator", fields(&["owner", "operator"])),
                    ("all_operators", fields(&["owner"])),
                    ("tokens", fields(&["owner"])),
                    ("all_tokens", Rule::Public),
                    ("num_tokens", Rule::Public),
                    ("contract_info", Rule::Public),
                    ("nft_info", Rule::Public),
                    ("minter", Rule::Public),
                    ("ownership", Rule::Public),
                    ("get_minter_ownership", Rule::Public),
                    ("get_creator_ownership", Rule::Public),
                    ("get_collection_info_and_extension", Rule::Public),
                    ("get_withdraw_address", Rule::Public),
                    ("get_config", Rule::Public),
                    ("get_all_info", Rule::Public),
                    ("get_collection_extension_attributes", Rule::Public),
                    ("get_additional_minters", Rule::Public),
                    ("get_nft_by_extension", Rule::Public),
                ]),
                raw: RawRule::None,
            },
            "private" => Self {
                default: Rule::Admin,
                queries: BTreeMap::new(),
                raw: RawRule::None,
            },
            _ => return None,
        })
    }

    /// The preset this policy is, if it is one.
    pub fn preset_name(&self) -> Option<&'static str> {
        PRESETS
            .into_iter()
            .find(|name| Self::preset(name).as_ref() == Some(self))
    }

    /// A preset name or a JSON document (checked with [`QueryPolicy::validate`]).
    pub fn from_preset_or_json(text: &str) -> Result<Self, PolicyError> {
        if let Some(policy) = Self::preset(text.trim()) {
            return Ok(policy);
        }
        Self::from_json(text.as_bytes())
    }

    /// Parses and validates a JSON policy document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, PolicyError> {
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(invalid(format!(
                "{} bytes exceeds the limit of {MAX_POLICY_BYTES}",
                bytes.len()
            )));
        }
        let policy: Self = serde_json::from_slice(bytes).map_err(|e| {
            invalid(format!(
                "{e} (expected a preset — {} — or a document like {{\"default\": \"deny\", \"queries\": {{\"balance\": {{\"querier_in_message\": [\"address\"]}}}}}})",
                PRESETS.join(", ")
            ))
        })?;
        policy.validate()?;
        Ok(policy)
    }

    /// Checks the limits (sizes, names); the enclave checks every policy it is given.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.queries.len() > MAX_POLICY_VARIANTS {
            return Err(invalid(format!(
                "{} variants exceeds the limit of {MAX_POLICY_VARIANTS}",
                self.queries.len()
            )));
        }
        check_rule("default", &self.default)?;
        for (variant, rule) in &self.queries {
            check_name("variant", variant)?;
            check_rule(variant, rule)?;
        }
        if let RawRule::Namespaces(names) = &self.raw {
            if names.is_empty() || names.len() > MAX_POLICY_VARIANTS {
                return Err(invalid("raw namespaces must list 1 to 128 names"));
            }
            for name in names {
                if name.is_empty() || name.len() > u16::MAX as usize {
                    return Err(invalid(format!(
                        "raw namespace {name:?} is empty or too long"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The rule for a query whose top-level variant is `variant`.
    pub fn rule_for(&self, variant: &str) -> &Rule {
        self.queries.get(variant).unwrap_or(&self.default)
    }

    /// Whether another contract may read raw `key` of this contract's storage.
    pub fn allows_raw(&self, key: &[u8]) -> bool {
        match &self.raw {
            RawRule::None => false,
            RawRule::All => true,
            RawRule::Namespaces(names) => names.iter().any(|name| {
                let name = name.as_bytes();
                if key == name {
                    return true;
                }
                let mut prefix = (name.len() as u16).to_be_bytes().to_vec();
                prefix.extend_from_slice(name);
                key.starts_with(&prefix)
            }),
        }
    }
}

fn check_name(what: &str, name: &str) -> Result<(), PolicyError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(invalid(format!(
            "{what} name {name:?} must be 1 to {MAX_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), PolicyError> {
    check_name("field path", path)?;
    if path.split('.').any(str::is_empty) {
        return Err(invalid(format!("field path {path:?} has an empty part")));
    }
    Ok(())
}

fn check_rule(variant: &str, rule: &Rule) -> Result<(), PolicyError> {
    match rule {
        Rule::QuerierInMessage(paths) => {
            if paths.is_empty() || paths.len() > MAX_RULE_FIELDS {
                return Err(invalid(format!(
                    "the rule for {variant:?} must name 1 to {MAX_RULE_FIELDS} fields"
                )));
            }
            paths.iter().try_for_each(|p| check_path(p))
        }
        Rule::QuerierInAnswer(path) => check_path(path),
        Rule::Public | Rule::Deny | Rule::Admin => Ok(()),
    }
}

/// A query message, parsed strictly: one top-level variant and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedQuery {
    pub variant: String,
    pub body: Value,
}

/// Parses a query message the way the policy reads it, refusing anything the contract
/// could read differently: not a JSON object with exactly one key, a duplicate key at any
/// depth, a key written with escapes, or nesting deeper than [`MAX_QUERY_DEPTH`].
pub fn parse_query(msg: &[u8]) -> Result<ParsedQuery, PolicyError> {
    let mut deserializer = serde_json::Deserializer::from_slice(msg);
    let value = StrictValue::deserialize_at(&mut deserializer, 0)
        .map_err(|e| PolicyError::Message(e.to_string()))?;
    deserializer
        .end()
        .map_err(|e| PolicyError::Message(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(PolicyError::Message(
            "a query message must be a JSON object with one key (its variant)".into(),
        ));
    };
    if map.len() != 1 {
        return Err(PolicyError::Message(format!(
            "a query message must have exactly one top-level key, it has {}",
            map.len()
        )));
    }
    let (variant, body) = map.into_iter().next().expect("one entry");
    Ok(ParsedQuery { variant, body })
}

/// The string at a dotted field path of a JSON value.
pub fn field<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.')
        .try_fold(value, |v, part| v.get(part))
        .and_then(Value::as_str)
}

/// What a policy decides before the query runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Refuse,
    /// Run the query, then allow only if the answer's field at this path is the querier.
    CheckAnswer(String),
}

/// Decides a query of `querier` (`None`: anonymous) under `policy`, for a contract whose
/// admin is `admin`.
pub fn decide(
    policy: &QueryPolicy,
    query: &ParsedQuery,
    querier: Option<&str>,
    admin: Option<&str>,
) -> Decision {
    let allow = |yes: bool| {
        if yes {
            Decision::Allow
        } else {
            Decision::Refuse
        }
    };
    match policy.rule_for(&query.variant) {
        Rule::Public => Decision::Allow,
        Rule::Deny => Decision::Refuse,
        Rule::Admin => allow(querier.is_some() && querier == admin),
        Rule::QuerierInMessage(paths) => {
            allow(querier.is_some_and(|q| paths.iter().any(|p| field(&query.body, p) == Some(q))))
        }
        Rule::QuerierInAnswer(path) => match querier {
            Some(_) => Decision::CheckAnswer(path.clone()),
            None => Decision::Refuse,
        },
    }
}

/// Whether an answer (the contract's JSON) names `querier` at `path`.
pub fn answer_names(answer: &[u8], path: &str, querier: &str) -> bool {
    serde_json::from_slice::<Value>(answer)
        .ok()
        .is_some_and(|v| field(&v, path) == Some(querier))
}

/// Builds a `serde_json::Value` but refuses duplicate keys, escaped keys and deep nesting.
struct StrictValue(Value);

impl StrictValue {
    fn deserialize_at<'de, D: Deserializer<'de>>(d: D, depth: usize) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor { depth }).map(|v| v.0)
    }
}

struct StrictVisitor {
    depth: usize,
}

struct Nested(usize);

impl<'de> de::DeserializeSeed<'de> for Nested {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue::deserialize_at(d, self.0)
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<StrictValue, E> {
        serde_json::Number::from_f64(v)
            .map(|n| StrictValue(Value::Number(n)))
            .ok_or_else(|| E::custom("number is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_string())))
    }
    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        if self.depth >= MAX_QUERY_DEPTH {
            return Err(de::Error::custom("the message nests too deep"));
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Nested(self.depth + 1))? {
            items.push(item);
        }
        Ok(StrictValue(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        if self.depth >= MAX_QUERY_DEPTH {
            return Err(de::Error::custom("the message nests too deep"));
        }
        let mut seen = BTreeSet::new();
        let mut out = serde_json::Map::new();
        // A borrowed `&str` key only deserializes when the key has no escapes.
        while let Some(key) = map
            .next_key::<&'de str>()
            .map_err(|_| de::Error::custom("object keys must be plain strings without escapes"))?
        {
            if !seen.insert(key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let value = map.next_value_seed(Nested(self.depth + 1))?;
            out.insert(key.to_string(), value);
        }
        Ok(StrictValue(Value::Object(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_parsing_refuses_ambiguous_messages() {
        let ok = parse_query(br#"{"balance":{"address":"veil1a"}}"#).unwrap();
        assert_eq!(ok.variant, "balance");
        assert_eq!(field(&ok.body, "address"), Some("veil1a"));
        // Escaped values are fine (the contract unescapes them the same way).
        let escaped_value = parse_query(br#"{"balance":{"address":"veil\u0031a"}}"#).unwrap();
        assert_eq!(field(&escaped_value.body, "address"), Some("veil1a"));
        for bad in [
            &br#"{"balance":{"address":"a","address":"b"}}"#[..],
            br#"{"balance":{},"balance":{}}"#,
            br#"{"balance":{},"token_info":{}}"#,
            br#"{"b\u0061lance":{"address":"a"}}"#,
            br#"{"balance":{"addr\u0065ss":"a"}}"#,
            br#"["balance"]"#,
            br#""balance""#,
            br#"{}"#,
            br#"{"balance":{}} x"#,
            b"not json",
        ] {
            assert!(
                parse_query(bad).is_err(),
                "{:?} must be refused",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert!(parse_query(deep.as_bytes()).is_err());
    }

    #[test]
    fn cw20_preset_decides_by_querier() {
        let p = QueryPolicy::preset("cw20").unwrap();
        let q = |m: &str| parse_query(m.as_bytes()).unwrap();
        let bal = q(r#"{"balance":{"address":"alice"}}"#);
        assert_eq!(decide(&p, &bal, Some("alice"), None), Decision::Allow);
        assert_eq!(decide(&p, &bal, Some("bob"), None), Decision::Refuse);
        assert_eq!(decide(&p, &bal, None, None), Decision::Refuse);
        let allowance = q(r#"{"allowance":{"owner":"alice","spender":"bob"}}"#);
        assert_eq!(decide(&p, &allowance, Some("bob"), None), Decision::Allow);
        assert_eq!(
            decide(&p, &allowance, Some("carol"), None),
            Decision::Refuse
        );
        assert_eq!(
            decide(&p, &q(r#"{"token_info":{}}"#), None, None),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, &q(r#"{"all_accounts":{}}"#), Some("alice"), None),
            Decision::Refuse
        );
        assert_eq!(
            decide(&p, &q(r#"{"unknown":{}}"#), Some("a"), None),
            Decision::Refuse
        );
        // A field that is not a string never matches.
        let nested = q(r#"{"balance":{"address":{"x":"alice"}}}"#);
        assert_eq!(decide(&p, &nested, Some("alice"), None), Decision::Refuse);
    }

    #[test]
    fn private_and_answer_rules() {
        let p = QueryPolicy::preset("private").unwrap();
        let q = parse_query(br#"{"anything":{}}"#).unwrap();
        assert_eq!(
            decide(&p, &q, Some("admin"), Some("admin")),
            Decision::Allow
        );
        assert_eq!(decide(&p, &q, Some("bob"), Some("admin")), Decision::Refuse);
        assert_eq!(decide(&p, &q, None, None), Decision::Refuse);
        let nft = QueryPolicy::preset("cw721").unwrap();
        let owner_of = parse_query(br#"{"owner_of":{"token_id":"1"}}"#).unwrap();
        assert_eq!(
            decide(&nft, &owner_of, Some("alice"), None),
            Decision::CheckAnswer("owner".into())
        );
        assert_eq!(decide(&nft, &owner_of, None, None), Decision::Refuse);
        assert!(answer_names(
            br#"{"owner":"alice","approvals":[]}"#,
            "owner",
            "alice"
        ));
        assert!(!answer_names(br#"{"owner":"bob"}"#, "owner", "alice"));
        assert!(answer_names(
            br#"{"access":{"owner":"alice"},"info":{}}"#,
            "access.owner",
            "alice"
        ));
    }

    #[test]
    fn raw_namespaces_follow_storage_plus_keys() {
        let p = QueryPolicy::from_json(
            br#"{"default":"deny","raw":{"namespaces":["total","members"]}}"#,
        )
        .unwrap();
        assert!(p.allows_raw(b"total"));
        assert!(p.allows_raw(b"\x00\x07membersveil1abc"));
        assert!(!p.allows_raw(b"\x00\x07member"));
        assert!(!p.allows_raw(b"totals"));
        assert!(!p.allows_raw(b"\x00\x07balance"));
        assert!(QueryPolicy::public().allows_raw(b"anything"));
        assert!(!QueryPolicy::preset("cw20").unwrap().allows_raw(b"balance"));
    }

    #[test]
    fn documents_parse_validate_and_round_trip() {
        for name in PRESETS {
            let p = QueryPolicy::preset(name).unwrap();
            p.validate().unwrap();
            let json = serde_json::to_vec(&p).unwrap();
            assert_eq!(QueryPolicy::from_json(&json).unwrap(), p);
            let bytes = postcard::to_stdvec(&p).unwrap();
            assert_eq!(postcard::from_bytes::<QueryPolicy>(&bytes).unwrap(), p);
            assert_eq!(QueryPolicy::from_preset_or_json(name).unwrap(), p);
        }
        for bad in [
            &br#"{"default":"maybe"}"#[..],
            br#"{"default":"deny","extra":1}"#,
            br#"{"queries":{}}"#,
            br#"{"default":{"querier_in_message":[]}}"#,
            br#"{"default":{"querier_in_message":["a..b"]}}"#,
            br#"{"default":"deny","queries":{"":"public"}}"#,
            br#"{"default":"deny","raw":{"namespaces":[]}}"#,
        ] {
            assert!(
                QueryPolicy::from_json(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let err = QueryPolicy::from_preset_or_json("cw2O")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cw20"), "{err}");
    }
}
