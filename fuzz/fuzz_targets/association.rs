//! A live association pair under attack: arbitrary chunks (with the right
//! tag, no tag, a wrong one, or the reflected one), raw bytes, timer jumps,
//! sends, reads, shutdowns and aborts, interleaved with the pair's own
//! traffic. Nothing a peer sends may panic the endpoint.
//!
//! Every run starts from one snapshot of the pair, made once with the
//! handshake done: a clone instead of two endpoints and a four-way
//! handshake per run, and the same start (and clock) for every run.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use usctp_proto::association::AssocId;
use usctp_proto::chunk::{Chunk, CommonHeader, Packet};
use usctp_proto::config::Config;
use usctp_proto::endpoint::Endpoint;

#[derive(Arbitrary, Debug)]
enum Op {
    Packet { chunks: Vec<Chunk>, tag: u8, to_client: bool, any_tag: u32 },
    Raw { bytes: Vec<u8>, to_client: bool },
    Advance { ms: u16 },
    Send { stream: u8, len: u16, unordered: bool, from_client: bool },
    Recv,
    Shuttle,
    Shutdown { client: bool },
    Abort { client: bool },
}

#[derive(Clone)]
struct Pair {
    a: Endpoint,
    b: Endpoint,
    id_a: Option<AssocId>,
    id_b: Option<AssocId>,
    now: Instant,
    buf: Vec<u8>,
}

const A: &str = "10.0.0.1:9899";
const B: &str = "10.0.0.2:9899";

impl Pair {
    fn shuttle(&mut self, rounds: usize) {
        let (a, b): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
        for _ in 0..rounds {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit(self.now, &mut self.buf) {
                self.b.handle(self.now, a, Bytes::copy_from_slice(&self.buf[..t.size]));
                moved = true;
            }
            while let Some(t) = self.b.poll_transmit(self.now, &mut self.buf) {
                self.a.handle(self.now, b, Bytes::copy_from_slice(&self.buf[..t.size]));
                moved = true;
            }
            while let Some((id, _)) = self.a.poll_event() {
                self.id_a.get_or_insert(id);
            }
            while let Some((id, _)) = self.b.poll_event() {
                self.id_b.get_or_insert(id);
            }
            if !moved {
                return;
            }
        }
    }
}

/// The pair with its association up, made once.
fn established() -> &'static Pair {
    static SNAPSHOT: OnceLock<Pair> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        // The clock is the harness's own; the core never reads one.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut a = Endpoint::new(Config::default(), 5000, [1; 32], now);
        let mut b = Endpoint::new(Config::default(), 13, [2; 32], now);
        b.listen(4);
        let id_a = a.connect(now, B.parse().unwrap(), 13).ok();
        let mut pair = Pair { a, b, id_a, id_b: None, now, buf: Vec::new() };
        pair.shuttle(8);
        assert!(pair.id_a.is_some() && pair.id_b.is_some(), "the snapshot's association is up");
        pair
    })
}

fuzz_target!(|ops: Vec<Op>| {
    let mut pair = established().clone();
    for op in ops.into_iter().take(64) {
        match op {
            Op::Packet { chunks, tag, to_client, any_tag } => {
                let (target, assoc) = if to_client {
                    (&mut pair.a, pair.id_a)
                } else {
                    (&mut pair.b, pair.id_b)
                };
                let own = assoc.and_then(|id| target.association(id)).map(|x| x.local_tag());
                let peer = assoc.and_then(|id| target.association(id)).map(|x| x.peer_tag());
                let vtag = match tag % 4 {
                    0 => own.unwrap_or(any_tag),
                    1 => 0,
                    2 => peer.unwrap_or(any_tag),
                    _ => any_tag,
                };
                let (src, dst) = if to_client { (13, 5000) } else { (5000, 13) };
                let header = CommonHeader { src_port: src, dst_port: dst, verification_tag: vtag, checksum: 0 };
                let mut wire = Vec::new();
                if (Packet { header, chunks }).emit(&mut wire).is_ok() {
                    let from: SocketAddr = if to_client { B } else { A }.parse().unwrap();
                    target.handle(pair.now, from, Bytes::from(wire));
                }
            }
            Op::Raw { bytes, to_client } => {
                let (target, from) = if to_client { (&mut pair.a, B) } else { (&mut pair.b, A) };
                target.handle(pair.now, from.parse().unwrap(), Bytes::from(bytes));
            }
            Op::Advance { ms } => {
                pair.now += Duration::from_millis(u64::from(ms));
                pair.a.handle_timeout(pair.now);
                pair.b.handle_timeout(pair.now);
            }
            Op::Send { stream, len, unordered, from_client } => {
                let (ep, id) = if from_client { (&mut pair.a, pair.id_a) } else { (&mut pair.b, pair.id_b) };
                if let Some(mut assoc) = id.and_then(|id| ep.association_mut(id)) {
                    let _ = assoc.send(u16::from(stream % 12), 0, Bytes::from(vec![7; usize::from(len % 5000)]), unordered);
                }
            }
            Op::Recv => {
                for (ep, id) in [(&mut pair.a, pair.id_a), (&mut pair.b, pair.id_b)] {
                    if let Some(mut assoc) = id.and_then(|id| ep.association_mut(id)) {
                        while assoc.recv().is_some() {}
                    }
                }
            }
            Op::Shuttle => pair.shuttle(16),
            Op::Shutdown { client } => {
                let (ep, id) = if client { (&mut pair.a, pair.id_a) } else { (&mut pair.b, pair.id_b) };
                let now = pair.now;
                if let Some(mut assoc) = id.and_then(|id| ep.association_mut(id)) {
                    assoc.shutdown(now);
                }
            }
            Op::Abort { client } => {
                let (ep, id) = if client { (&mut pair.a, pair.id_a) } else { (&mut pair.b, pair.id_b) };
                if let Some(id) = id {
                    ep.abort(id, b"fuzz");
                }
            }
        }
        // Drain what the targets want to send (the pair's traffic too).
        pair.shuttle(4);
    }
});
