//! The consensus peers this node is connected to, from Malachite's network actor.
//!
//! Malachite tells its own actors (consensus, sync) about peer connections; the
//! application only gets the network's state on request (`NetworkRequest::DumpState`).
//! Its `peers` are exactly the connected peers that completed libp2p's identify
//! exchange on Malachite's protocol (an entry is removed when the peer's last
//! connection closes), so a task asks for it every [`PEER_POLL`] and publishes the list
//! in the node's [`Status`].

use std::collections::HashMap;

use tokio::sync::mpsc;

use super::*;

/// How often the connected peers are read from the network actor.
pub(super) const PEER_POLL: Duration = Duration::from_millis(500);

/// A consensus peer this node is connected to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Peer {
    /// Its libp2p peer id (base58), which is bound to its ed25519 consensus key.
    pub id: String,
    /// The validator whose consensus key the peer proved it holds (a signed validator
    /// proof Malachite verified); none until then, or for a peer that is no validator.
    pub validator: Option<ValidatorAddress>,
    /// The remote end of the connection (a libp2p multiaddr): the address dialed for an
    /// outbound connection, the peer's source address for an inbound one.
    pub address: String,
    /// `outbound` (this node dialed) or `inbound`; none for a connection Malachite has
    /// not classified.
    pub direction: Option<&'static str>,
    /// The name the peer gives itself (its libp2p agent's moniker); not authenticated.
    pub moniker: String,
}

/// The peers of a network state dump, ordered by peer id.
fn peers_of<P>(peers: &HashMap<P, PeerInfoView<'_>>) -> Vec<Peer>
where
    P: std::fmt::Display,
{
    let mut out: Vec<Peer> = peers
        .iter()
        .map(|(id, info)| Peer {
            id: id.to_string(),
            validator: info
                .public_key
                .and_then(|key| <[u8; 32]>::try_from(key).ok())
                .map(|key| ValidatorAddress::from_public_key(&key)),
            address: info.address.clone(),
            direction: info.direction,
            moniker: info.moniker.to_string(),
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// What [`peers_of`] reads of Malachite's `PeerInfo` (so that it can be tested without a
/// network).
struct PeerInfoView<'a> {
    public_key: Option<&'a [u8]>,
    address: String,
    direction: Option<&'static str>,
    moniker: &'a str,
}

/// The connected peers, as the network actor reports them; `None` when it does not
/// answer (stopped, or its request queue is full).
pub(super) async fn connected_peers(requests: &mpsc::Sender<NetworkRequest>) -> Option<Vec<Peer>> {
    let dump = NetworkRequest::dump_state(requests).await.ok()??;
    let views: HashMap<_, PeerInfoView<'_>> = dump
        .peers
        .iter()
        .map(|(id, info)| {
            (
                *id,
                PeerInfoView {
                    public_key: info.consensus_public_key.as_deref(),
                    address: info.address.to_string(),
                    direction: info.connection_direction.map(|d| d.as_str()),
                    moniker: &info.moniker,
                },
            )
        })
        .collect();
    Some(peers_of(&views))
}

/// Follows the connected peers into `status` until aborted (the node aborts it when it
/// stops, the driver when its loop ends). A poll the network actor does not answer keeps
/// the last list.
pub(super) fn spawn_peer_watch(
    requests: mpsc::Sender<NetworkRequest>,
    status: watch::Sender<Status>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PEER_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if requests.is_closed() {
                return;
            }
            let Some(peers) = connected_peers(&requests).await else {
                continue;
            };
            status.send_if_modified(|s| {
                if s.peers == peers {
                    return false;
                }
                debug!(count = peers.len(), "consensus peers changed");
                s.peers = peers;
                true
            });
        }
    })
}

/// Before the first height, waits (up to `wait`) until this node is connected to the
/// `others` validators, so that its first proposal is not gossiped to nobody (which costs
/// a round timeout).
pub(super) async fn wait_for_peers(
    others: usize,
    wait: Duration,
    channels: &Channels<VeilContext>,
) {
    if others == 0 || wait.is_zero() {
        return;
    }
    let deadline = tokio::time::Instant::now() + wait;

    loop {
        let connected = connected_peers(&channels.net_requests)
            .await
            .map_or(0, |peers| {
                peers.iter().filter(|p| p.validator.is_some()).count()
            });
        if connected >= others {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            debug!(
                connected,
                others, "starting before every validator is connected"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_listed_in_id_order_with_their_proven_validator() {
        let key = [5u8; 32];
        let short = [1u8, 2, 3];
        let mut dump = HashMap::new();
        dump.insert(
            "b-peer",
            PeerInfoView {
                public_key: Some(&key),
                address: "/ip4/127.0.0.1/tcp/26656".into(),
                direction: Some("outbound"),
                moniker: "veil-b",
            },
        );
        dump.insert(
            "a-peer",
            PeerInfoView {
                // Not an ed25519 key: no validator address.
                public_key: Some(&short),
                address: "/ip4/127.0.0.1/tcp/40000".into(),
                direction: None,
                moniker: "veil-a",
            },
        );
        dump.insert(
            "c-peer",
            PeerInfoView {
                public_key: None,
                address: "/ip4/127.0.0.1/tcp/40001".into(),
                direction: Some("inbound"),
                moniker: "",
            },
        );
        let peers = peers_of(&dump);
        let ids: Vec<_> = peers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a-peer", "b-peer", "c-peer"]);
        assert_eq!(peers[0].validator, None);
        assert_eq!(
            peers[1].validator,
            Some(ValidatorAddress::from_public_key(&key))
        );
        assert_eq!(peers[1].direction, Some("outbound"));
        assert_eq!(peers[2].validator, None);
    }
}
