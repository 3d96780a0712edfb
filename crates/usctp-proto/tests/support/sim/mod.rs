//! A deterministic simulated network for endpoint pairs: the one
//! association pair of the tests.
//!
//! Every link delays, and may drop, duplicate or reorder, datagrams under a
//! seeded RNG, so a failing run replays exactly from its seed. Time is
//! simulated: the network jumps to the next delivery or timer deadline.
//! Datagrams are carried in an arena, as the UDP driver carries them, so
//! that the network itself allocates nothing per datagram once running.

pub mod workload;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use usctp_proto::arena::Arena;
use usctp_proto::association::{AssocId, Event, PathChange};
use usctp_proto::chunk::Packet;
use usctp_proto::config::Config;
use usctp_proto::endpoint::Endpoint;

/// How a link mistreats datagrams.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    pub delay: Duration,
    /// Extra random delay up to this much; reorders datagrams.
    pub jitter: Duration,
    pub loss: f64,
    pub duplicate: f64,
    /// Chance that a datagram gets one bit flipped (the CRC must catch it).
    pub corrupt: f64,
    /// Link rate in bits per second: datagrams leave one after another, so
    /// a burst is spread in time as on a real link.
    pub rate_bps: u64,
    /// Datagrams larger than this are dropped (a path MTU below what the
    /// sender assumes), unless sent as fragmentable (`Transmit::
    /// fragmentable`: the IP layer would cut them in fragments that pass).
    pub mtu: usize,
    /// Tail drop: a datagram that would wait longer than this behind the
    /// ones already queued for the link is dropped, as a router's full
    /// queue would.
    pub queue: Option<Duration>,
}

impl Default for Impairment {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            corrupt: 0.0,
            rate_bps: 100_000_000,
            mtu: usize::MAX,
            queue: None,
        }
    }
}

pub struct Node {
    pub ep: Endpoint,
    /// The node's first address.
    pub addr: SocketAddr,
    /// All its addresses, `addr` first; each sits on its own subnet.
    pub addrs: Vec<SocketAddr>,
    pub events: Vec<(AssocId, Event)>,
}

impl Node {
    /// The source address a packet to `to` leaves from: the node's
    /// address on the same /24, as a routing table would pick.
    fn source_for(&self, to: SocketAddr) -> SocketAddr {
        let same_subnet = |a: IpAddr, b: IpAddr| match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
            (IpAddr::V6(a), IpAddr::V6(b)) => a.octets()[..8] == b.octets()[..8],
            _ => false,
        };
        self.addrs
            .iter()
            .copied()
            .find(|a| same_subnet(a.ip(), to.ip()))
            .unwrap_or(self.addr)
    }
}

/// What happens to datagrams on one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Pass,
    /// Dropped silently somewhere on the way.
    BlackHole,
    /// The sender's interface is down: the send fails at once.
    LinkDown,
}

/// Decides each datagram's fate from the simulated time elapsed, its
/// source and its destination.
pub type RouteFilter = Box<dyn FnMut(Duration, SocketAddr, SocketAddr) -> Fate>;

struct InFlight {
    at: Instant,
    seq: u64,
    to: usize,
    from: SocketAddr,
    bytes: Bytes,
}

/// Datagrams leave the queue in (arrival time, sending order).
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for InFlight {}

/// Says which datagrams to drop.
pub type DropFilter = Box<dyn FnMut(&Packet) -> bool>;

/// A trace line: when, who sent, and the chunk names.
pub type Trace = Vec<String>;

pub struct Sim {
    pub nodes: Vec<Node>,
    pub now: Instant,
    pub start: Instant,
    pub link: Impairment,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    /// When each node's outgoing link is free again.
    link_free: Vec<Instant>,
    rng: StdRng,
    seq: u64,
    /// Drop the datagrams with these indices (0-based, in sending order).
    pub drop_indices: Vec<usize>,
    sent: usize,
    pub trace: Trace,
    /// Drops every datagram this says yes to (after the random impairments
    /// are drawn, so seeds stay comparable).
    pub drop_if: Option<DropFilter>,
    /// Cuts routes: black holes and links taken down.
    pub routes: Option<RouteFilter>,
    /// Keep a trace (costly for long transfers).
    pub tracing: bool,
    /// Steps taken, to bound runs.
    pub steps: u64,
    /// Datagrams the tail-drop queue refused.
    pub tail_drops: usize,
    buf: Vec<u8>,
    arena: Arena,
}

/// The seeds to run: `USCTP_SEED` for one, else `count` from 1.
pub fn seeds(count: u64) -> Vec<u64> {
    match std::env::var("USCTP_SEED") {
        Ok(s) => vec![s.parse().expect("USCTP_SEED is a number")],
        Err(_) => (1..=count).collect(),
    }
}

impl Sim {
    /// Two endpoints on port 5000 (node 0, client) and 13 (node 1,
    /// listening).
    pub fn pair(seed: u64, config: Config) -> Self {
        // Simulated time starts at a real instant and never reads the
        // clock again.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut seeded = StdRng::seed_from_u64(seed);
        let a = Endpoint::new(config.clone(), 5000, seeded.random(), now);
        let mut b = Endpoint::new(config, 13, seeded.random(), now);
        b.listen(usize::MAX);
        Self {
            nodes: vec![
                Node {
                    ep: a,
                    addr: "10.0.0.1:9899".parse().unwrap(),
                    addrs: vec!["10.0.0.1:9899".parse().unwrap()],
                    events: vec![],
                },
                Node {
                    ep: b,
                    addr: "10.0.0.2:9899".parse().unwrap(),
                    addrs: vec!["10.0.0.2:9899".parse().unwrap()],
                    events: vec![],
                },
            ],
            now,
            start: now,
            link: Impairment::default(),
            in_flight: BinaryHeap::new(),
            link_free: vec![now; 2],
            rng: seeded,
            seq: 0,
            drop_indices: Vec::new(),
            sent: 0,
            trace: Vec::new(),
            drop_if: None,
            routes: None,
            tracing: true,
            steps: 0,
            tail_drops: 0,
            buf: Vec::new(),
            arena: Arena::default(),
        }
    }

    /// Two endpoints as in `pair`, each with two addresses on two subnets
    /// (10.1.0.0/24 and 10.2.0.0/24), both advertised in the handshake.
    pub fn multihomed(seed: u64, config: Config) -> Self {
        let mut sim = Self::pair(seed, config);
        for (i, node) in sim.nodes.iter_mut().enumerate() {
            let host = i + 1;
            node.addrs = vec![
                format!("10.1.0.{host}:9899").parse().unwrap(),
                format!("10.2.0.{host}:9899").parse().unwrap(),
            ];
            node.addr = node.addrs[0];
            node.ep
                .set_local_addresses(node.addrs.iter().map(|a| a.ip()).collect());
        }
        sim
    }

    fn node_at(&self, addr: SocketAddr) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.addrs.iter().any(|a| a.ip() == addr.ip()))
    }

    /// Moves every pending transmit onto the wire, drains events.
    fn collect(&mut self) {
        for i in 0..self.nodes.len() {
            while let Some(t) = self.nodes[i].ep.poll_transmit(self.now, &mut self.buf) {
                let bytes = self.arena.take(&self.buf[..t.size]);
                let index = self.sent;
                self.sent += 1;
                let names = if !self.tracing {
                    String::new()
                } else {
                    Packet::parse(bytes.clone())
                        .map(|p| {
                            p.chunks
                                .iter()
                                .map(|c| c.chunk_type().to_string())
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_else(|e| format!("malformed: {e}"))
                };
                let Some(to) = self.node_at(t.destination) else {
                    continue;
                };
                let from = self.nodes[i].source_for(t.destination);
                let fate = match &mut self.routes {
                    Some(routes) => routes(self.now - self.start, from, t.destination),
                    None => Fate::Pass,
                };
                if fate == Fate::LinkDown {
                    if self.tracing {
                        self.trace.push(format!(
                            "{:>8.3}s #{index} {from}->{} {names} (send failed)",
                            (self.now - self.start).as_secs_f64(),
                            t.destination
                        ));
                    }
                    self.nodes[i].ep.handle_send_error(self.now, t.destination);
                    continue;
                }
                let mut lost = self.drop_indices.contains(&index)
                    || self.rng.random_bool(self.link.loss)
                    || fate == Fate::BlackHole;
                if let Some(filter) = &mut self.drop_if
                    && let Ok(packet) = Packet::parse(bytes.clone())
                {
                    lost |= filter(&packet);
                }
                // Serialization: the datagram occupies the link for its
                // length at the link rate, lost or not.
                let wire = Duration::from_nanos(
                    (bytes.len() as u64 * 8 * 1_000_000_000) / self.link.rate_bps.max(1),
                );
                let backlog = self.link_free[i].saturating_duration_since(self.now);
                let tail_dropped = self.link.queue.is_some_and(|q| backlog > q);
                lost |= tail_dropped || (bytes.len() > self.link.mtu && !t.fragmentable);
                self.tail_drops += usize::from(tail_dropped);
                let departs = self.link_free[i].max(self.now) + wire;
                if !tail_dropped {
                    self.link_free[i] = departs;
                }
                let copies = if self.rng.random_bool(self.link.duplicate) {
                    2
                } else {
                    1
                };
                let corrupt = !lost && self.rng.random_bool(self.link.corrupt);
                if self.tracing {
                    let elapsed = self.now - self.start;
                    self.trace.push(format!(
                        "{:>8.3}s #{index} {from}->{} {names}{}{}",
                        elapsed.as_secs_f64(),
                        t.destination,
                        if lost { " (lost)" } else { "" },
                        if corrupt { " (corrupted)" } else { "" }
                    ));
                }
                if lost {
                    continue;
                }
                let bytes = if corrupt {
                    let mut flipped = bytes.to_vec();
                    let bit = self.rng.random_range(0..flipped.len() * 8);
                    flipped[bit / 8] ^= 1 << (bit % 8);
                    Bytes::from(flipped)
                } else {
                    bytes
                };
                for _ in 0..copies {
                    let jitter = if self.link.jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        self.link.jitter.mul_f64(self.rng.random())
                    };
                    self.seq += 1;
                    self.in_flight.push(Reverse(InFlight {
                        at: departs + self.link.delay + jitter,
                        seq: self.seq,
                        to,
                        from,
                        bytes: bytes.clone(),
                    }));
                }
            }
            while let Some(e) = self.nodes[i].ep.poll_event() {
                self.nodes[i].events.push(e);
            }
        }
    }

    /// Advances to the next delivery or deadline; `false` when nothing is
    /// left to happen.
    pub fn step(&mut self) -> bool {
        self.steps += 1;
        self.collect();
        let next_delivery = self.in_flight.peek().map(|f| (f.0.at, f.0.seq));
        let next_timer = self.nodes.iter().filter_map(|n| n.ep.poll_timeout()).min();
        let next = match (next_delivery, next_timer) {
            (Some((d, _)), Some(t)) => d.min(t),
            (Some((d, _)), None) => d,
            (None, Some(t)) => t,
            (None, None) => return false,
        };
        self.now = self.now.max(next);
        // Deliver in (time, sequence) order.
        while self.in_flight.peek().is_some_and(|f| f.0.at <= self.now) {
            let Some(Reverse(f)) = self.in_flight.pop() else {
                break;
            };
            // A route cut while datagrams were on it loses them too.
            if let Some(routes) = &mut self.routes {
                let to = self.nodes[f.to].source_for(f.from);
                if routes(self.now - self.start, f.from, to) != Fate::Pass {
                    continue;
                }
            }
            self.nodes[f.to].ep.handle(self.now, f.from, f.bytes);
        }
        for n in &mut self.nodes {
            if n.ep.poll_timeout().is_some_and(|t| t <= self.now) {
                n.ep.handle_timeout(self.now);
            }
        }
        self.collect();
        true
    }

    /// Steps until `done` holds or `limit` of simulated time passes.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        while !done(self) {
            if self.now - self.start > limit || !self.step() {
                return done(self);
            }
        }
        true
    }

    pub fn up_count(&self, node: usize) -> usize {
        self.nodes[node]
            .events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Up(_)))
            .count()
    }

    /// Node 0 starts an association with node 1 (port 13).
    pub fn connect(&mut self) -> AssocId {
        let (now, to) = (self.now, self.nodes[1].addr);
        self.nodes[0].ep.connect(now, to, 13).unwrap()
    }

    /// Each node has one association, which came up once, and nothing
    /// else happened.
    #[track_caller]
    pub fn assert_both_up_once(&self, seed: u64) {
        let context = || format!("seed {seed}:\n{}", self.trace.join("\n"));
        for node in 0..2 {
            assert_eq!(self.up_count(node), 1, "node {node} {}", context());
            assert_eq!(self.nodes[node].ep.association_count(), 1, "{}", context());
            let unexpected: Vec<_> = self.nodes[node]
                .events
                .iter()
                .filter(|(_, e)| !matches!(e, Event::Up(_)))
                .collect();
            assert!(unexpected.is_empty(), "{unexpected:?} {}", context());
        }
    }

    /// The path changes a node was told of, in order.
    pub fn path_events(&self, node: usize) -> Vec<(SocketAddr, PathChange)> {
        self.nodes[node]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::PathChange { address, change } => Some((*address, *change)),
                _ => None,
            })
            .collect()
    }
}
