//! What the endpoint does with packets no association claims (RFC 9260
//! §8.4), and the stateless half of the handshake (§5.1 B, D): an INIT is
//! answered from the INIT alone, and only a valid COOKIE ECHO makes an
//! association.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::{Endpoint, context};
use crate::association::handshake::{self, InitVerdict, LocalInit};
use crate::association::{Association, Context};
use crate::chunk::packet::COMMON_HEADER_LEN;
use crate::chunk::{
    Abort, Chunk, CommonHeader, ErrorCause, ErrorChunk, Init, Packet, PacketWriter,
    ShutdownComplete,
};
use crate::cookie::CookieError;
use crate::serial::Tsn;

/// Stateless replies waiting to be sent, at most; more are dropped, as a
/// router would.
const MAX_QUEUED_REPLIES: usize = 256;

/// RFC 9260 §8.4 (<https://www.rfc-editor.org/rfc/rfc9260#section-8.4>):
/// what an out-of-the-blue packet gets, rule by rule in the RFC's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutOfTheBlue {
    /// (2) it holds an ABORT; (6) SHUTDOWN COMPLETE; (7) COOKIE ACK or a
    /// Stale Cookie ERROR. Also §8.5.1 (A), which makes tag 0 the mark of
    /// a lone INIT: a packet with tag 0 and anything else, or an INIT
    /// with another tag, is not a valid packet to answer. Dropped without
    /// a word.
    Discard,
    /// (3) an INIT: the handshake (§5.1), if this port accepts.
    Init,
    /// (4) a COOKIE ECHO: the handshake (§5.1 D).
    CookieEcho,
    /// (5) a SHUTDOWN ACK: SHUTDOWN COMPLETE with the T bit.
    ShutdownComplete,
    /// (8) anything else: ABORT with the T bit.
    Abort,
}

impl OutOfTheBlue {
    /// Rule (1), a non-unicast source, is the caller's. `ours` says
    /// whether the packet's port is one this endpoint serves: a COOKIE
    /// ECHO to another port falls under (8).
    pub fn classify(packet: &Packet, ours: bool) -> Self {
        let chunks = &packet.chunks[..];
        let contains = |f: fn(&Chunk) -> bool| chunks.iter().any(f);
        if contains(|c| matches!(c, Chunk::Abort(_))) {
            return Self::Discard;
        }
        if packet.header.verification_tag == 0 && !matches!(chunks, [Chunk::Init(_)]) {
            return Self::Discard;
        }
        match chunks.first() {
            // §8.5.1 (A): an INIT comes alone with tag 0 (a tag-0 INIT
            // bundled with more was discarded above).
            Some(Chunk::Init(_)) if packet.header.verification_tag == 0 => Self::Init,
            Some(Chunk::Init(_)) => Self::Discard,
            Some(Chunk::CookieEcho(_)) if ours => Self::CookieEcho,
            _ if contains(|c| matches!(c, Chunk::ShutdownAck)) => Self::ShutdownComplete,
            _ if chunks.is_empty() || contains(silent) => Self::Discard,
            _ => Self::Abort,
        }
    }
}

/// Chunks whose presence makes an out-of-the-blue packet go unanswered:
/// §8.4 (6), (7), and an INIT that is not first (§6.10: it travels
/// alone).
fn silent(chunk: &Chunk) -> bool {
    match chunk {
        Chunk::ShutdownComplete(_) | Chunk::CookieAck | Chunk::Init(_) => true,
        Chunk::Error(e) => e
            .causes
            .iter()
            .any(|c| matches!(c, ErrorCause::StaleCookie { .. })),
        _ => false,
    }
}

/// A token bucket limiting stateless replies (RFC 9260 §8.4 lets an
/// endpoint answer out-of-the-blue packets; it must not become a reflector).
#[derive(Debug, Clone)]
pub(super) struct RateLimit {
    per_second: u32,
    tokens: u32,
    refilled: Instant,
}

impl RateLimit {
    pub fn new(per_second: u32, now: Instant) -> Self {
        Self {
            per_second,
            tokens: per_second,
            refilled: now,
        }
    }

    fn allow(&mut self, now: Instant) -> bool {
        let elapsed_ms = now.saturating_duration_since(self.refilled).as_millis();
        let refill = elapsed_ms * u128::from(self.per_second) / 1000;
        if refill > 0 {
            let tokens = u128::from(self.tokens) + refill;
            self.tokens = u32::try_from(tokens.min(u128::from(self.per_second))).unwrap_or(0);
            self.refilled = now;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// Stateless replies, encoded, waiting for `poll_transmit`.
#[derive(Debug, Clone)]
pub(super) struct Replies {
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    limit: RateLimit,
}

impl Replies {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            queue: VecDeque::new(),
            limit,
        }
    }

    pub fn pop(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.queue.pop_front()
    }
}

impl Endpoint {
    /// §8.4 and §5.1: a packet no association claims.
    pub(super) fn out_of_the_blue(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        packet: Packet,
        datagram_len: usize,
    ) {
        let header = packet.header;
        let ours = self.serves(header.dst_port);
        let accepts = self.accepts(header.dst_port);
        match OutOfTheBlue::classify(&packet, ours) {
            OutOfTheBlue::Discard => {
                trace!(%remote, port = header.dst_port, "dropped: out of the blue (§8.4)");
            }
            OutOfTheBlue::Init => {
                let Some(Chunk::Init(init)) = packet.chunks.first() else {
                    return;
                };
                if ours {
                    // §5.1.2 (D): an INIT from a new address of an existing
                    // association is that association's business.
                    let existing = init
                        .params
                        .iter()
                        .filter_map(|p| p.address())
                        .find_map(|a| self.table.route((header.dst_port, a, header.src_port)));
                    if let Some(id) = existing {
                        self.route_to(id, now, remote, &packet);
                        return;
                    }
                }
                match accepts {
                    Some(true) => self.answer_init(now, remote, header, init, datagram_len),
                    // Nobody accepts it: answered with an ABORT, saying why
                    // when the listener is full or paused.
                    _ => {
                        let causes = match accepts {
                            Some(_) => vec![ErrorCause::OutOfResource],
                            None => vec![],
                        };
                        let abort = Chunk::Abort(Abort {
                            reflected_tag: false,
                            causes,
                        });
                        self.reply(now, remote, header, init.initiate_tag, &abort);
                    }
                }
            }
            OutOfTheBlue::CookieEcho => {
                let Some(Chunk::CookieEcho(echo)) = packet.chunks.first() else {
                    return;
                };
                let sealed = echo.cookie.clone();
                self.cookie_echo(now, remote, packet, &sealed);
            }
            OutOfTheBlue::ShutdownComplete => {
                let reply = Chunk::ShutdownComplete(ShutdownComplete {
                    reflected_tag: true,
                });
                self.reply(now, remote, header, header.verification_tag, &reply);
            }
            OutOfTheBlue::Abort => {
                let abort = Chunk::Abort(Abort {
                    reflected_tag: true,
                    causes: vec![],
                });
                self.reply(now, remote, header, header.verification_tag, &abort);
            }
        }
    }

    /// §5.1 (B): answers an INIT with an INIT ACK built from it alone.
    fn answer_init(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        header: CommonHeader,
        init: &Init,
        datagram_len: usize,
    ) {
        let peer = match handshake::judge_init(init, false) {
            InitVerdict::Discard => return,
            InitVerdict::Abort(causes) => {
                let abort = Chunk::Abort(Abort {
                    reflected_tag: false,
                    causes,
                });
                self.reply(now, remote, header, init.initiate_tag, &abort);
                return;
            }
            InitVerdict::Accept(peer) => peer,
        };
        let local = LocalInit {
            tag: self.rng.nonzero_u32(),
            initial_tsn: Tsn(self.rng.u32()),
            a_rwnd: self.config.receive_window,
            outbound_streams: self.config.outbound_streams,
            max_inbound_streams: self.config.max_inbound_streams,
            adaptation: self.config.adaptation_indication,
        };
        let clock_ms = self.clock_ms(now);
        let ctx = context!(self, clock_ms);
        let lifespan = ctx.cookie_lifespan_ms(peer.cookie_preservative_ms);
        let cookie = handshake::cookie_for(
            &local,
            &peer,
            remote.ip(),
            (header.dst_port, header.src_port),
            (0, 0),
            clock_ms,
            lifespan,
        );
        // The reply stays within four times the INIT (no amplification):
        // this end's addresses are left out when they would not fit.
        let budget = (4 * datagram_len).saturating_sub(COMMON_HEADER_LEN);
        let ack = handshake::init_ack_chunk(&local, &peer, remote.ip(), &cookie, &ctx, budget);
        self.stats.init_acks_sent += 1;
        self.queue_reply(remote, header, init.initiate_tag, &Chunk::InitAck(ack));
    }

    /// §5.1 (D), §5.1.5: a COOKIE ECHO with no association for its source.
    fn cookie_echo(&mut self, now: Instant, remote: SocketAddr, packet: Packet, sealed: &Bytes) {
        let header = packet.header;
        let clock_ms = self.clock_ms(now);
        let (cookie, stale) = match self.keys.authenticate(sealed) {
            Ok(c) => {
                let stale = c.staleness_us(clock_ms);
                (c, stale)
            }
            // Forged, modified or truncated: discarded silently.
            Err(
                _e @ (CookieError::Forged | CookieError::Malformed | CookieError::Stale { .. }),
            ) => {
                trace!(%remote, error = %_e, "dropped: COOKIE ECHO");
                return;
            }
        };
        // §5.1.5 step 3: the packet's tag and ports are the cookie's, or the
        // packet is discarded silently.
        if header.verification_tag != cookie.local_tag
            || cookie.local_port != header.dst_port
            || cookie.peer_port != header.src_port
        {
            trace!(%remote, "dropped: COOKIE ECHO with another tag or ports than its cookie's");
            return;
        }
        // The peer may come back from another of its addresses.
        if let Some(id) = cookie
            .peer_addresses
            .iter()
            .find_map(|&a| self.table.route((header.dst_port, a, header.src_port)))
        {
            self.route_to(id, now, remote, &packet);
            return;
        }
        if let Some(by_us) = stale {
            // §5.1.5 step 4, §3.3.10.3: say how late it was.
            let error = Chunk::Error(ErrorChunk {
                causes: vec![ErrorCause::StaleCookie {
                    staleness_us: by_us,
                }],
            });
            self.reply(now, remote, header, cookie.peer_tag, &error);
            return;
        }
        // Without a listener, only the associations this end's own INIT
        // ACKs (sent in collisions) lead to come this way.
        if self.accepts(header.dst_port) == Some(false) {
            let abort = Chunk::Abort(Abort {
                reflected_tag: false,
                causes: vec![ErrorCause::OutOfResource],
            });
            self.reply(now, remote, header, cookie.peer_tag, &abort);
            return;
        }
        let id = self.allocate_id();
        let mut ctx = context!(self, clock_ms);
        let mut assoc =
            Association::from_cookie(id, self.config.clone(), now, &cookie, remote, &mut ctx);
        if let Some(local) = self.arrived_at {
            assoc.note_local_address(local);
        }
        // Chunks bundled after the COOKIE ECHO are the new association's.
        assoc.handle_chunks(now, remote, &packet.chunks[1..], true);
        self.table.insert(assoc, &mut self.events);
    }

    /// Queues a stateless reply, subject to the rate limit.
    fn reply(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        header: CommonHeader,
        vtag: u32,
        chunk: &Chunk,
    ) {
        if !self.replies.limit.allow(now) {
            self.stats.replies_suppressed += 1;
            return;
        }
        self.queue_reply(remote, header, vtag, chunk);
    }

    fn queue_reply(&mut self, remote: SocketAddr, header: CommonHeader, vtag: u32, chunk: &Chunk) {
        if self.replies.queue.len() >= MAX_QUEUED_REPLIES {
            self.stats.replies_suppressed += 1;
            return;
        }
        let mut buf = Vec::new();
        let reply_header = CommonHeader {
            src_port: header.dst_port,
            dst_port: header.src_port,
            verification_tag: vtag,
            checksum: 0,
        };
        let mut w = PacketWriter::new(&mut buf, reply_header, usize::MAX);
        if w.push(chunk).is_ok() {
            w.finish();
            self.replies.queue.push_back((remote, buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{CookieEcho, Data, Sack};

    fn packet(vtag: u32, chunks: Vec<Chunk>) -> Packet {
        Packet {
            header: CommonHeader {
                src_port: 5000,
                dst_port: 13,
                verification_tag: vtag,
                checksum: 0,
            },
            chunks,
        }
    }

    fn init() -> Chunk {
        Chunk::Init(Init {
            initiate_tag: 1,
            a_rwnd: 65536,
            outbound_streams: 1,
            inbound_streams: 1,
            initial_tsn: Tsn(1),
            params: vec![],
        })
    }

    #[test]
    fn each_out_of_the_blue_rule_in_the_rfc_order() {
        use OutOfTheBlue as O;
        let abort = Chunk::Abort(Abort::default());
        let sack = Chunk::Sack(Sack {
            cumulative_tsn_ack: Tsn(1),
            a_rwnd: 1500,
            gap_blocks: vec![],
            duplicate_tsns: vec![],
        });
        let echo = Chunk::CookieEcho(CookieEcho {
            cookie: Bytes::from_static(b"c"),
        });
        let complete = Chunk::ShutdownComplete(ShutdownComplete::default());
        let cases: Vec<(Packet, bool, OutOfTheBlue)> = vec![
            // (2) before everything: an ABORT anywhere.
            (
                packet(7, vec![sack.clone(), abort.clone()]),
                true,
                O::Discard,
            ),
            (packet(0, vec![init(), abort]), true, O::Discard),
            // §8.5.1 (A): tag 0 only on a lone INIT.
            (packet(0, vec![sack.clone()]), true, O::Discard),
            (packet(0, vec![init()]), true, O::Init),
            (packet(0, vec![init()]), false, O::Init),
            (packet(7, vec![init()]), true, O::Discard),
            // (4), or (8) where nothing listens.
            (packet(7, vec![echo.clone()]), true, O::CookieEcho),
            (packet(7, vec![echo]), false, O::Abort),
            // (5), (6), (7).
            (
                packet(7, vec![Chunk::ShutdownAck]),
                true,
                O::ShutdownComplete,
            ),
            (packet(7, vec![complete]), true, O::Discard),
            (packet(7, vec![Chunk::CookieAck]), true, O::Discard),
            // (8).
            (packet(7, vec![sack]), true, O::Abort),
            (
                packet(
                    7,
                    vec![Chunk::Data(Data {
                        flags: Default::default(),
                        tsn: Tsn(1),
                        stream: 0,
                        ssn: crate::serial::Ssn(0),
                        ppid: 0,
                        payload: Bytes::from_static(b"x"),
                    })],
                ),
                false,
                O::Abort,
            ),
        ];
        for (p, listening, expected) in cases {
            assert_eq!(
                OutOfTheBlue::classify(&p, listening),
                expected,
                "{:?}",
                p.chunks
            );
        }
    }

    #[test]
    fn the_reply_rate_is_limited_and_refills() {
        let t0 = crate::test_start();
        let mut limit = RateLimit::new(10, t0);
        assert_eq!((0..20).filter(|_| limit.allow(t0)).count(), 10);
        let later = t0 + std::time::Duration::from_millis(500);
        assert_eq!((0..20).filter(|_| limit.allow(later)).count(), 5);
    }
}
