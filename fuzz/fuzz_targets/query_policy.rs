//! Query policies as the enclave reads them (JSON from a deployer, presets) and query
//! messages and answers as it checks them against a policy: parsing, validation and
//! decisions must never panic, and a valid policy survives a JSON round trip.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use veil_types::query_policy::{answer_names, decide, parse_query, Decision};
use veil_types::QueryPolicy;

#[derive(Debug, Arbitrary)]
struct Input {
    policy: Policy,
    query: Vec<u8>,
    answer: Vec<u8>,
    querier: Option<String>,
    admin: Option<String>,
    raw_key: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
enum Policy {
    Json(Vec<u8>),
    Text(String),
    Preset(u8),
}

fuzz_target!(|input: Input| {
    let policy = match &input.policy {
        Policy::Json(bytes) => QueryPolicy::from_json(bytes),
        Policy::Text(text) => QueryPolicy::from_preset_or_json(text),
        Policy::Preset(i) => {
            let names = ["public", "cw20", "cw721", "private"];
            Ok(QueryPolicy::preset(names[usize::from(*i) % names.len()]).expect("a preset"))
        }
    };
    let parsed = parse_query(&input.query);
    if let Ok(parsed) = &parsed {
        // What the policy parses is what the contract would read: the same JSON value.
        let value: serde_json::Value =
            serde_json::from_slice(&input.query).expect("strictly parsed JSON is JSON");
        assert_eq!(value.get(&parsed.variant), Some(&parsed.body));
    }
    let Ok(policy) = policy else {
        return;
    };
    if policy.validate().is_ok() {
        let json = serde_json::to_vec(&policy).expect("a policy serializes");
        let again = QueryPolicy::from_json(&json).expect("its own JSON parses");
        assert_eq!(again, policy);
        let _ = policy.preset_name();
    }
    let _ = policy.allows_raw(&input.raw_key);
    if let Ok(parsed) = parsed {
        let decision = decide(
            &policy,
            &parsed,
            input.querier.as_deref(),
            input.admin.as_deref(),
        );
        if input.querier.is_none() {
            assert!(!matches!(decision, Decision::CheckAnswer(_)));
        }
        if let (Decision::CheckAnswer(path), Some(querier)) = (&decision, &input.querier) {
            let _ = answer_names(&input.answer, path, querier);
        }
    }
});
