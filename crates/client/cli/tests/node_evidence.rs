//! Equivocation evidence a node recorded is durable and served: evidence written to a dev
//! node's store (as its validator records what consensus reports) is still there after
//! restarts, listed page by page by `GET /evidence` and counted by `/status` and
//! `veil status`; a duplicate is stored once, a malformed record is refused, and bad
//! paging parameters get clear errors.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use veil_node::store::{Evidence, EvidenceKind, Store};
use veil_types::consensus::ValidatorAddress;

use common::DevNode;

fn get(url: &str, path: &str) -> (u16, Value) {
    match ureq::get(&format!("{url}{path}")).call() {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("transport error: {e}"),
    }
}

fn vote(height: u64, validator: u8, first: &[u8], second: &[u8]) -> Evidence {
    Evidence {
        height,
        validator: ValidatorAddress([validator; 20]),
        kind: EvidenceKind::Vote,
        first: first.to_vec(),
        second: second.to_vec(),
    }
}

fn evidence_count(node: &DevNode) -> u64 {
    node.client().status().unwrap().evidence_count
}

#[test]
fn recorded_evidence_survives_restarts_and_is_served_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut node = DevNode::start(&home, "100ms");
    let url = node.url();

    let (code, body) = get(&url, "/evidence");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["evidence"], serde_json::json!([]));
    assert_eq!(body["next_after"], Value::Null);
    assert_eq!(evidence_count(&node), 0);
    for bad in [
        "/evidence?limit=0",
        "/evidence?limit=101",
        "/evidence?limit=ten",
        "/evidence?after=-1",
    ] {
        let (code, body) = get(&url, bad);
        assert_eq!(code, 400, "{bad}: {body}");
        assert_eq!(body["error"]["kind"], "malformed", "{bad}: {body}");
    }

    // Stopped, its store takes evidence the way its validator records it.
    node.stop();
    let a = vote(3, 1, b"prevote for block x", b"prevote for block y");
    let b = Evidence {
        kind: EvidenceKind::Proposal,
        ..vote(4, 2, b"proposal x", b"proposal y")
    };
    {
        let store = Store::open(&home.join("node/chain.redb")).unwrap();
        assert_eq!(store.record_evidence(&a).unwrap(), Some(0));
        // A duplicate (its messages swapped) is not stored again.
        let swapped = vote(3, 1, b"prevote for block y", b"prevote for block x");
        assert_eq!(store.record_evidence(&swapped).unwrap(), None);
        // Malformed: refused with a reason, nothing written.
        let e = store
            .record_evidence(&vote(3, 1, b"same", b"same"))
            .unwrap_err();
        assert!(e.to_string().contains("same"), "{e}");
        assert_eq!(store.record_evidence(&b).unwrap(), Some(1));
    }

    node.spawn();
    assert_eq!(evidence_count(&node), 2);
    let (code, page) = get(&url, "/evidence?limit=1");
    assert_eq!(code, 200, "{page}");
    let first = &page["evidence"][0];
    assert_eq!(first["index"], 0);
    assert_eq!(first["id"], hex::encode(a.id()));
    assert_eq!(first["height"], 3);
    assert_eq!(first["validator"], hex::encode([1u8; 20]));
    assert_eq!(first["kind"], "vote");
    assert_eq!(
        first["first"],
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            b"prevote for block x"
        )
    );
    assert_eq!(page["next_after"], 0);
    let (_, rest) = get(&url, "/evidence?after=0&limit=1");
    assert_eq!(rest["evidence"][0]["index"], 1);
    assert_eq!(rest["evidence"][0]["kind"], "proposal");
    assert_eq!(rest["next_after"], Value::Null);

    let output = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["status", "--node", &url])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.lines().any(|l| l == "evidence: 2"), "{text}");

    // Another restart loses nothing.
    let height = node.client().status().unwrap().height;
    std::thread::sleep(Duration::from_millis(500));
    node.stop();
    node.spawn();
    assert!(node.client().status().unwrap().height >= height);
    assert_eq!(evidence_count(&node), 2);
    let (_, all) = get(&url, "/evidence");
    assert_eq!(all["evidence"].as_array().unwrap().len(), 2);
}
