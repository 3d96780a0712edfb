//! The `pair` fuzz target's harness, shared with `tests/fuzz_regressions.rs`
//! so that every input the fuzzer found replays under `cargo test`.
//!
//! An association pair over a network the fuzzer controls: it picks which
//! datagram in flight is delivered, dropped, duplicated or held back, when
//! time advances, and what the client sends. Invariants: nothing panics;
//! every message delivered was sent, once, intact; ordered messages keep
//! their order per stream; and once the network turns reliable the
//! association delivers everything still outstanding, unless it ended.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use usctp_proto::association::{AssocId, Event};
use usctp_proto::config::{Config, CongestionControl, LossDetection};
use usctp_proto::endpoint::Endpoint;

#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Deliver the in-flight datagram at this index (modulo the count).
    Deliver(u8),
    Drop(u8),
    Duplicate(u8),
    /// Move a datagram to the back of the queue (reordering).
    Hold(u8),
    Advance {
        ms: u16,
    },
    Send {
        stream: u8,
        len: u16,
        unordered: bool,
    },
    Read,
    Shutdown,
}

const A: &str = "10.0.0.1:9899";
const B: &str = "10.0.0.2:9899";

#[derive(Clone)]
struct Net {
    a: Endpoint,
    b: Endpoint,
    now: Instant,
    /// (to the server?, bytes)
    wire: Vec<(bool, Bytes)>,
    buf: Vec<u8>,
    id_a: Option<AssocId>,
    id_b: Option<AssocId>,
    ended: bool,
    /// `USCTP_PAIR_TRACE` set: print every operation and packet.
    trace: bool,
    start: Instant,
}

impl Net {
    fn collect(&mut self) {
        while let Some(t) = self.a.poll_transmit(self.now, &mut self.buf) {
            self.wire
                .push((true, Bytes::copy_from_slice(&self.buf[..t.size])));
        }
        while let Some(t) = self.b.poll_transmit(self.now, &mut self.buf) {
            self.wire
                .push((false, Bytes::copy_from_slice(&self.buf[..t.size])));
        }
        for (ep, id) in [(&mut self.a, &mut self.id_a), (&mut self.b, &mut self.id_b)] {
            while let Some((i, e)) = ep.poll_event() {
                id.get_or_insert(i);
                if matches!(
                    e,
                    Event::Lost(_) | Event::ShutdownComplete | Event::CantStart(_)
                ) {
                    self.ended = true;
                }
            }
        }
    }

    /// One line for a datagram on the wire, when tracing.
    fn show(&self, what: &str, (to_server, bytes): &(bool, Bytes)) {
        if self.trace {
            let ms = self.now.duration_since(self.start).as_millis();
            let dir = if *to_server { "A->B" } else { "B->A" };
            let chunks: Vec<String> = usctp_proto::chunk::packet::Chunks::new(bytes.clone())
                .map(|c| c.map_or_else(|e| format!("malformed: {e}"), |c| c.to_string()))
                .collect();
            eprintln!("{ms:>7} ms {what:<9} {dir} {}", chunks.join("; "));
        }
    }

    fn deliver(&mut self, i: usize) {
        self.show("deliver", &self.wire[i]);
        let (to_server, bytes) = self.wire.remove(i);
        if to_server {
            self.b.handle(self.now, A.parse().unwrap(), bytes);
        } else {
            self.a.handle(self.now, B.parse().unwrap(), bytes);
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
    }
}

/// Messages name themselves: 8 bytes of sequence number, then filler.
fn message(seq: u64, len: usize) -> Bytes {
    let mut body = seq.to_be_bytes().to_vec();
    body.resize(len.max(8), (seq % 251) as u8);
    Bytes::from(body)
}

struct Checker {
    sent: HashMap<u64, (u16, bool, Bytes)>,
    delivered: HashSet<u64>,
    last_on_stream: HashMap<u16, u64>,
}

impl Checker {
    fn read(&mut self, net: &mut Net) {
        let Some(mut assoc) = net.id_b.and_then(|id| net.b.association_mut(id)) else {
            return;
        };
        while let Some(m) = assoc.recv() {
            let seq = u64::from_be_bytes(m.data[..8].try_into().expect("8 bytes"));
            let (stream, unordered, data) = self.sent.get(&seq).expect("delivered but never sent");
            assert_eq!(&m.data, data, "message {seq} altered");
            assert_eq!(
                (m.stream, m.unordered),
                (*stream, *unordered),
                "message {seq}"
            );
            assert!(self.delivered.insert(seq), "message {seq} delivered twice");
            if !m.unordered {
                if let Some(&before) = self.last_on_stream.get(&m.stream) {
                    assert!(
                        before < seq,
                        "message {seq} after {before} on stream {}",
                        m.stream
                    );
                }
                self.last_on_stream.insert(m.stream, seq);
            }
        }
    }
}

/// The pair before anything was delivered: the client's INIT on the wire.
fn fresh() -> Net {
    #[allow(clippy::disallowed_methods)] // the harness's clock
    let now = Instant::now();
    let config = Config::default().with_outbound_streams(4);
    // One end with RACK-TLP and CUBIC, the other with RFC 9260's loss
    // detection and congestion control: every algorithm is exercised.
    let a_config = config
        .clone()
        .with_congestion_control(CongestionControl::Cubic);
    let b_config = config.with_loss_detection(LossDetection::Rfc9260);
    let mut a = Endpoint::new(a_config, 5000, [1; 32], now);
    let mut b = Endpoint::new(b_config, 13, [2; 32], now);
    b.listen(1);
    let id_a = a.connect(now, B.parse::<SocketAddr>().unwrap(), 13).ok();
    let trace = std::env::var_os("USCTP_PAIR_TRACE").is_some();
    let mut net = Net {
        a,
        b,
        now,
        wire: Vec::new(),
        buf: Vec::new(),
        id_a,
        id_b: None,
        ended: false,
        trace,
        start: now,
    };
    net.collect();
    net
}

/// The pair with its handshake done over a reliable network, made once:
/// runs that start from it skip two endpoints and a handshake each.
fn established() -> &'static Net {
    static SNAPSHOT: std::sync::OnceLock<Net> = std::sync::OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let mut net = fresh();
        while !net.wire.is_empty() {
            net.deliver(0);
            net.collect();
        }
        assert!(net.id_a.is_some() && net.id_b.is_some() && !net.ended);
        net
    })
}

/// Runs one sequence of operations from the client's first INIT and checks
/// the invariants (panics on a violation).
#[allow(dead_code)] // the `pair_established` target uses the other start
pub fn run(ops: Vec<Op>) {
    play(fresh(), ops);
}

/// As [`run`], from the snapshot of the pair with its association up.
#[allow(dead_code)] // the `pair` target uses the other start
pub fn run_established(ops: Vec<Op>) {
    play(established().clone(), ops);
}

fn play(mut net: Net, ops: Vec<Op>) {
    let mut check = Checker {
        sent: HashMap::new(),
        delivered: HashSet::new(),
        last_on_stream: HashMap::new(),
    };
    let mut seq = 0u64;
    let mut shut = false;
    for op in ops.into_iter().take(200) {
        if net.trace {
            eprintln!(
                "{:>7} ms op {op:?}",
                net.now.duration_since(net.start).as_millis()
            );
        }
        let pick = |i: u8, n: usize| usize::from(i) % n;
        match op {
            Op::Deliver(i) if !net.wire.is_empty() => {
                let i = pick(i, net.wire.len());
                net.deliver(i);
            }
            Op::Drop(i) if !net.wire.is_empty() => {
                let i = pick(i, net.wire.len());
                net.show("drop", &net.wire[i]);
                net.wire.remove(i);
            }
            Op::Duplicate(i) if !net.wire.is_empty() && net.wire.len() < 256 => {
                let i = pick(i, net.wire.len());
                let copy = net.wire[i].clone();
                net.wire.push(copy);
            }
            Op::Hold(i) if !net.wire.is_empty() => {
                let i = pick(i, net.wire.len());
                let held = net.wire.remove(i);
                net.wire.push(held);
            }
            Op::Advance { ms } => net.advance(Duration::from_millis(u64::from(ms))),
            Op::Send {
                stream,
                len,
                unordered,
            } if !shut => {
                let stream = u16::from(stream % 4);
                if let Some(mut assoc) = net.id_a.and_then(|id| net.a.association_mut(id)) {
                    let body = message(seq, usize::from(len % 4000));
                    if assoc.send(stream, 0, body.clone(), unordered).is_ok() {
                        check.sent.insert(seq, (stream, unordered, body));
                        seq += 1;
                    }
                }
            }
            Op::Read => check.read(&mut net),
            Op::Shutdown => {
                let now = net.now;
                if let Some(mut assoc) = net.id_a.and_then(|id| net.a.association_mut(id)) {
                    assoc.shutdown(now);
                    shut = true;
                }
            }
            _ => {}
        }
        net.collect();
        check.read(&mut net);
    }
    // The network turns reliable: everything in flight arrives, in order,
    // and time moves on to each timer. Bounded in steps, so a livelock (a
    // pair that keeps talking without delivering) fails here too.
    let healed = net.now;
    let mut steps = 0;
    while check.delivered.len() < check.sent.len() && steps < MAX_STEPS {
        steps += 1;
        net.collect();
        check.read(&mut net);
        if !net.wire.is_empty() {
            net.deliver(0);
            continue;
        }
        let next = [net.a.poll_timeout(), net.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= net.now + Duration::from_secs(3600) => {
                net.advance(t.saturating_duration_since(net.now));
            }
            _ => break,
        }
    }
    net.collect();
    check.read(&mut net);
    // Unless the association ended (aborted, lost, shut down with data
    // still queued after a loss), everything sent was delivered.
    if !net.ended && net.id_a.is_some() && net.id_b.is_some() {
        let missing = check.sent.len() - check.delivered.len();
        if net.trace && missing > 0 {
            let mut seqs: Vec<_> = check
                .sent
                .keys()
                .filter(|s| !check.delivered.contains(s))
                .collect();
            seqs.sort();
            eprintln!("undelivered: {seqs:?}");
            for (name, ep, id) in [("A", &mut net.a, net.id_a), ("B", &mut net.b, net.id_b)] {
                if let Some(assoc) = id.and_then(|id| ep.association(id)) {
                    eprintln!("{name}: {assoc:#?}");
                }
            }
        }
        let waited = net.now.duration_since(healed);
        assert!(
            missing == 0,
            "{missing} of {} messages outstanding on a live association {waited:?} after the \
             network healed ({})",
            check.sent.len(),
            if steps == MAX_STEPS {
                "still talking: a livelock"
            } else {
                "gone quiet: a stall"
            }
        );
    }
}

/// Deliveries and timer expiries allowed once the network is reliable.
const MAX_STEPS: usize = 5000;
