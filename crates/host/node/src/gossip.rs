//! Transaction gossip: what a node's mempool accepts reaches every other node's, over
//! libp2p gossipsub (the libp2p stack Malachite runs consensus on, in a swarm of its own:
//! Malachite's network carries only its consensus channels).
//!
//! Each node listens on its gossip address and dials the peers it is given, re-dialling
//! those it lost. A message is forwarded only after this node's mempool accepted the
//! transaction (signature, chain, fee, sequence and funds checked), so a peer that sends
//! junk gets it refused at the first hop and scored down by gossipsub.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

/// What this node made of a transaction a peer gossiped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid and new here: pass it on.
    Accept,
    /// Not wrong, but not worth passing on (already known, mempool full, a sequence
    /// this node has seen used).
    Ignore,
    /// Invalid (malformed, bad signature, another chain): the sender is scored down.
    Reject,
}

/// Checks a gossiped transaction (the mempool's `submit`); runs off the swarm's task.
pub type Inbound = Arc<dyn Fn(Vec<u8>) -> Verdict + Send + Sync>;

/// Transactions waiting to be published; beyond this the oldest are not waited for.
const OUTBOUND_QUEUE: usize = 16_384;
/// How often lost peers are dialled again.
const REDIAL_EVERY: Duration = Duration::from_secs(1);
/// How long a transaction published with no peer subscribed waits for one (a lone dev
/// chain has none; its transactions are in blocks long before a follower comes).
const UNSENT_FOR: Duration = Duration::from_secs(10);

/// A running gossip swarm.
pub struct TxGossip {
    outbound: mpsc::Sender<Vec<u8>>,
    listen: SocketAddr,
    peers: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
}

impl TxGossip {
    /// Listens on `listen` (port 0: any), dials `peers`, and hands every transaction a
    /// peer gossips on this chain's topic to `inbound`.
    pub async fn start(
        listen: SocketAddr,
        peers: Vec<SocketAddr>,
        chain_id: &str,
        inbound: Inbound,
    ) -> Result<Self, String> {
        let mut swarm = build_swarm()?;
        let topic = IdentTopic::new(format!("veil/txs/{chain_id}"));
        swarm
            .behaviour_mut()
            .subscribe(&topic)
            .map_err(|e| format!("gossip: subscribing: {e}"))?;
        swarm
            .listen_on(multiaddr(listen))
            .map_err(|e| format!("gossip: listening on {listen}: {e}"))?;
        // The address actually bound (port 0 becomes a port).
        let bound = loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => match socket_addr(&address) {
                    Some(addr) => break addr,
                    None => continue,
                },
                SwarmEvent::ListenerError { error, .. }
                | SwarmEvent::ListenerClosed {
                    reason: Err(error), ..
                } => return Err(format!("gossip: listening on {listen}: {error}")),
                _ => {}
            }
        };
        let (outbound, outbound_rx) = mpsc::channel(OUTBOUND_QUEUE);
        let (stop, stop_rx) = oneshot::channel();
        let connected = Arc::new(AtomicUsize::new(0));
        let task = Task {
            swarm,
            topic,
            peers: peers.into_iter().map(multiaddr).collect(),
            inbound,
            connected: connected.clone(),
            open: HashSet::new(),
            unsent: Default::default(),
        };
        tokio::spawn(task.run(outbound_rx, stop_rx));
        Ok(Self {
            outbound,
            listen: bound,
            peers: connected,
            stop: Some(stop),
        })
    }

    /// Passes a transaction this node accepted to its peers (held until one is there;
    /// best effort beyond that: with the queue full it stays only in this node's mempool).
    pub fn publish(&self, tx: Vec<u8>) {
        // A full queue means the swarm is far behind: the transaction stays local.
        let _ = self.outbound.try_send(tx);
    }

    /// The address this node's gossip listens on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// Peers connected now.
    pub fn peer_count(&self) -> usize {
        self.peers.load(Ordering::Relaxed)
    }
}

impl Drop for TxGossip {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

type Behaviour = gossipsub::Behaviour;

fn build_swarm() -> Result<Swarm<Behaviour>, String> {
    let swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .map_err(|e| format!("gossip: transport: {e}"))?
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                // A code upload is the largest transaction.
                .max_transmit_size(veil_types::MAX_TX_BYTES + 64 * 1024)
                // Transactions carry their signers' signatures; a second one per message
                // (and its verification at every hop) would add nothing but cost, so
                // messages are anonymous and known by their content hash. Connections are
                // still authenticated (noise), which is what peer scoring keys on.
                .validation_mode(gossipsub::ValidationMode::Anonymous)
                // Forward only what this node's mempool accepted.
                .validate_messages()
                // The same transaction from two peers is one message.
                .message_id_fn(|message| {
                    gossipsub::MessageId::from(Sha256::digest(&message.data).to_vec())
                })
                .heartbeat_interval(Duration::from_millis(500))
                .build()
                .map_err(|e| format!("gossip config: {e}"))?;
            let _ = key;
            Behaviour::new(MessageAuthenticity::Anonymous, config).map_err(|e| e.to_string().into())
        })
        .map_err(|e| format!("gossip: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    Ok(swarm)
}

struct Task {
    swarm: Swarm<Behaviour>,
    topic: IdentTopic,
    peers: Vec<Multiaddr>,
    inbound: Inbound,
    connected: Arc<AtomicUsize>,
    /// Remote addresses of connections this node dialled and has open.
    open: HashSet<Multiaddr>,
    /// Published while no peer was subscribed: sent when one is.
    unsent: std::collections::VecDeque<(std::time::Instant, Vec<u8>)>,
}

impl Task {
    async fn run(mut self, mut outbound: mpsc::Receiver<Vec<u8>>, mut stop: oneshot::Receiver<()>) {
        let (verdicts, mut verdicts_rx) = mpsc::unbounded_channel();
        let mut redial = tokio::time::interval(REDIAL_EVERY);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = redial.tick() => {
                    self.dial_lost_peers();
                    self.flush_unsent();
                }
                Some(tx) = outbound.recv() => self.publish(tx),
                Some((id, source, verdict)) = verdicts_rx.recv() => {
                    let acceptance = match verdict {
                        Verdict::Accept => MessageAcceptance::Accept,
                        Verdict::Ignore => MessageAcceptance::Ignore,
                        Verdict::Reject => MessageAcceptance::Reject,
                    };
                    self.swarm
                        .behaviour_mut()
                        .report_message_validation_result(&id, &source, acceptance);
                }
                event = self.swarm.select_next_some() => self.on_event(event, &verdicts),
            }
        }
    }

    /// Whether a connected peer subscribed to the topic (else publishing only costs).
    fn has_subscriber(&self) -> bool {
        let topic = self.topic.hash();
        self.swarm
            .behaviour()
            .all_peers()
            .any(|(_, topics)| topics.contains(&&topic))
    }

    fn publish(&mut self, tx: Vec<u8>) {
        if !self.has_subscriber() {
            // A node that dials nobody (a lone dev chain) has nobody to wait for.
            if !self.peers.is_empty() {
                if self.unsent.len() == OUTBOUND_QUEUE {
                    self.unsent.pop_front();
                }
                self.unsent.push_back((std::time::Instant::now(), tx));
            }
            return;
        }
        if !self.unsent.is_empty() {
            self.flush_unsent();
        }
        // Otherwise sent, or a duplicate (sent before), or too large (the mempool
        // refuses those first).
        if let Err(gossipsub::PublishError::NoPeersSubscribedToTopic) = self
            .swarm
            .behaviour_mut()
            .publish(self.topic.clone(), tx.clone())
        {
            if self.unsent.len() == OUTBOUND_QUEUE {
                self.unsent.pop_front();
            }
            self.unsent.push_back((std::time::Instant::now(), tx));
        }
    }

    /// Sends what waited for a subscribed peer, in order, while there is one.
    fn flush_unsent(&mut self) {
        if self.unsent.is_empty() || !self.has_subscriber() {
            self.unsent.retain(|(at, _)| at.elapsed() <= UNSENT_FOR);
            return;
        }
        while let Some((at, tx)) = self.unsent.pop_front() {
            if at.elapsed() > UNSENT_FOR {
                continue;
            }
            if let Err(gossipsub::PublishError::NoPeersSubscribedToTopic) = self
                .swarm
                .behaviour_mut()
                .publish(self.topic.clone(), tx.clone())
            {
                self.unsent.push_front((at, tx));
                return;
            }
        }
    }

    fn dial_lost_peers(&mut self) {
        for peer in &self.peers {
            if !self.open.contains(peer) {
                // Failures are retried on the next tick; the peer may not be up yet.
                let _ = self.swarm.dial(peer.clone());
            }
        }
    }

    fn on_event(
        &mut self,
        event: SwarmEvent<gossipsub::Event>,
        verdicts: &mpsc::UnboundedSender<(gossipsub::MessageId, PeerId, Verdict)>,
    ) {
        match event {
            SwarmEvent::Behaviour(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => {
                let inbound = self.inbound.clone();
                let verdicts = verdicts.clone();
                // The mempool's checks verify a signature: not on the swarm's task.
                tokio::task::spawn_blocking(move || {
                    let verdict = inbound(message.data);
                    let _ = verdicts.send((message_id, propagation_source, verdict));
                });
            }
            SwarmEvent::Behaviour(gossipsub::Event::Subscribed { .. }) => self.flush_unsent(),
            SwarmEvent::ConnectionEstablished {
                endpoint,
                num_established,
                ..
            } => {
                if endpoint.is_dialer() {
                    self.open.insert(endpoint.get_remote_address().clone());
                }
                if num_established.get() == 1 {
                    self.connected.fetch_add(1, Ordering::Relaxed);
                }
            }
            SwarmEvent::ConnectionClosed {
                endpoint,
                num_established,
                ..
            } => {
                if endpoint.is_dialer() {
                    self.open.remove(endpoint.get_remote_address());
                }
                if num_established == 0 {
                    self.connected.fetch_sub(1, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}

fn multiaddr(addr: SocketAddr) -> Multiaddr {
    Multiaddr::from(addr.ip()).with(Protocol::Tcp(addr.port()))
}

fn socket_addr(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut ip = None;
    for protocol in addr.iter() {
        match protocol {
            Protocol::Ip4(v4) => ip = Some(std::net::IpAddr::V4(v4)),
            Protocol::Ip6(v6) => ip = Some(std::net::IpAddr::V6(v6)),
            Protocol::Tcp(port) => return ip.map(|ip| SocketAddr::new(ip, port)),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_reaches_every_peer_once_and_junk_goes_no_further() {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let received: Vec<Arc<std::sync::Mutex<Vec<Vec<u8>>>>> =
            (0..3).map(|_| Arc::default()).collect();
        let inbound = |seen: Arc<std::sync::Mutex<Vec<Vec<u8>>>>| -> Inbound {
            Arc::new(move |tx: Vec<u8>| {
                let verdict = if tx.starts_with(b"junk") {
                    Verdict::Reject
                } else {
                    Verdict::Accept
                };
                seen.lock().unwrap().push(tx);
                verdict
            })
        };
        // A line: a — b — c (a and c dial b). What a publishes reaches c only through b.
        let b = TxGossip::start(loopback, vec![], "test", inbound(received[1].clone()))
            .await
            .unwrap();
        let a = TxGossip::start(
            loopback,
            vec![b.listen_addr()],
            "test",
            inbound(received[0].clone()),
        )
        .await
        .unwrap();
        // Published before a is connected: it waits for a subscribed peer.
        a.publish(b"early".to_vec());
        let c = TxGossip::start(
            loopback,
            vec![b.listen_addr()],
            "test",
            inbound(received[2].clone()),
        )
        .await
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while b.peer_count() < 2 || a.peer_count() < 1 || c.peer_count() < 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "peers never connected"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        while !received[1].lock().unwrap().iter().any(|t| t == b"early") {
            assert!(
                std::time::Instant::now() < deadline,
                "the early one never left a"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // c may subscribe after b forwarded it; from then on everything reaches c.
        let mut n = 0u32;
        while received[2].lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "nothing reached c");
            a.publish(format!("tx {n}").into_bytes());
            n += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        a.publish(b"junk".to_vec());
        a.publish(b"last".to_vec());
        while !received[2].lock().unwrap().iter().any(|t| t == b"last") {
            assert!(
                std::time::Instant::now() < deadline,
                "the last never reached c"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // b refused the junk, so c never saw it; nobody saw a message twice.
        assert!(received[1].lock().unwrap().iter().any(|t| t == b"junk"));
        assert!(!received[2].lock().unwrap().iter().any(|t| t == b"junk"));
        for seen in &received[1..] {
            let seen = seen.lock().unwrap();
            let unique: HashSet<&Vec<u8>> = seen.iter().collect();
            assert_eq!(unique.len(), seen.len(), "a message arrived twice");
        }
        // Nothing comes back to its publisher.
        assert!(received[0].lock().unwrap().is_empty());
    }
}
