//! Transaction relay: a transaction a client submits to this node is passed on to other
//! nodes' RPC (`POST /txs`), so it reaches every proposer whichever node it was sent to.
//!
//! Validators relay to each other (a full mesh) and mark what they relay, so a relayed
//! transaction travels one hop; a following node relays to its peer unmarked, so that
//! validator passes it on to the others. Best effort: a peer that is down or slow misses
//! transactions (the node they were sent to still has them), a bounded queue per peer
//! drops the overflow.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

/// The header that marks a relayed transaction (it is not relayed again).
pub const RELAYED_HEADER: &str = "x-veil-relayed";
/// Transactions waiting per peer before the overflow is dropped.
const QUEUE: usize = 50_000;

pub struct Relay {
    peers: Vec<(String, SyncSender<Arc<Vec<u8>>>)>,
}

impl Relay {
    /// Starts one sender thread per peer RPC URL; `mark`: whether peers should not relay
    /// what they get from this node again.
    pub fn start(peers: &[String], mark: bool) -> Self {
        let peers = peers
            .iter()
            .map(|url| {
                let (sender, receiver) = sync_channel::<Arc<Vec<u8>>>(QUEUE);
                let endpoint = format!("{}/txs", url.trim_end_matches('/'));
                let url = url.clone();
                let thread_url = url.clone();
                let spawned = std::thread::Builder::new()
                    .name("veil-relay".into())
                    .spawn(move || {
                        let agent = ureq::AgentBuilder::new()
                            .timeout_connect(Duration::from_secs(2))
                            .timeout(Duration::from_secs(5))
                            .build();
                        let mut reachable = true;
                        while let Ok(tx) = receiver.recv() {
                            let body = serde_json::json!({
                                "tx": base64::engine::general_purpose::STANDARD.encode(tx.as_slice())
                            });
                            let mut request = agent.post(&endpoint);
                            if mark {
                                request = request.set(RELAYED_HEADER, "1");
                            }
                            // A refusal (a duplicate, a sequence the peer has seen) is fine.
                            let now_reachable =
                                !matches!(request.send_json(body), Err(ureq::Error::Transport(_)));
                            if now_reachable != reachable {
                                reachable = now_reachable;
                                if reachable {
                                    eprintln!("veil: relaying transactions to {thread_url} again");
                                } else {
                                    eprintln!(
                                        "veil: {thread_url} is unreachable: transactions are not relayed to it"
                                    );
                                }
                            }
                        }
                    });
                if let Err(e) = spawned {
                    eprintln!("veil: cannot start relaying to {url}: {e}");
                }
                (url, sender)
            })
            .collect();
        Self { peers }
    }

    /// Queues `tx` for every peer.
    pub fn relay(&self, tx: Vec<u8>) {
        let tx = Arc::new(tx);
        for (_, sender) in &self.peers {
            match sender.try_send(tx.clone()) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                // The peer is far behind: it misses this one.
                Err(TrySendError::Full(_)) => {}
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    pub fn peers(&self) -> impl Iterator<Item = &str> {
        self.peers.iter().map(|(url, _)| url.as_str())
    }
}
