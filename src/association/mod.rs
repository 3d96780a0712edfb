//! One association: the RFC 9260 state machine, sans IO.
//!
//! The [`Endpoint`](crate::endpoint::Endpoint) owns associations and feeds
//! them the packets it has demultiplexed to them. The user reaches one
//! through the endpoint and calls, in this order after any input:
//! `poll_transmit` until it returns `None`, `poll_timeout`, then the
//! endpoint's `poll_event`.
//!
//! This module holds the handshake side of the machine (RFC 9260 §5 and the
//! tag rules of §8.5); data transfer and shutdown build on it.

mod events;
pub(crate) mod handshake;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use rand::rngs::StdRng;

pub use events::{AssocId, AssociationError, Established, Event};
use handshake::{CookieResolution, InitVerdict, LocalInit, PeerInit};

use crate::chunk::{
    Abort, Chunk, CommonHeader, CookieEcho, ErrorCause, ErrorChunk, Heartbeat, Init, Packet,
    PacketWriter, Param, ShutdownComplete,
};
use crate::config::Config;
use crate::cookie::{CookieKeys, StateCookie};
use crate::serial::Tsn;

/// The state of an association, as RFC 9260 §4 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssociationState {
    /// INIT sent, waiting for INIT ACK.
    CookieWait,
    /// COOKIE ECHO sent, waiting for COOKIE ACK.
    CookieEchoed,
    /// Up.
    Established,
    /// Gone; the endpoint drops it once its events are read.
    Closed,
}

/// A packet written into the caller's buffer by `poll_transmit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it: the peer's IP address and UDP port.
    pub destination: SocketAddr,
    /// The local address to send it from, when it matters.
    pub source: Option<IpAddr>,
    /// Its length; the packet is the first `size` bytes of the buffer.
    pub size: usize,
}

/// What the endpoint lends an association while it handles an input.
pub(crate) struct Context<'a> {
    pub config: &'a Config,
    pub rng: &'a mut StdRng,
    pub keys: &'a CookieKeys,
    /// `now` on the cookie clock, in ms.
    pub clock_ms: u64,
    /// Addresses this end advertises (explicitly bound ones).
    pub local_addresses: &'a [IpAddr],
}

impl Context<'_> {
    /// A random nonzero 32-bit value: tags must not be 0 (RFC 9260 §3.3.2).
    pub fn nonzero(&mut self) -> u32 {
        loop {
            let v: u32 = self.rng.random();
            if v != 0 {
                return v;
            }
        }
    }

    /// The lifespan of a cookie made for a peer that asked for `extra_ms`
    /// more (Cookie Preservative, bounded by configuration).
    pub fn cookie_lifespan_ms(&self, extra_ms: Option<u32>) -> u32 {
        let base = self.config.valid_cookie_life.as_millis();
        let cap = self.config.max_cookie_preservative.as_millis();
        let extra = u128::from(extra_ms.unwrap_or(0)).min(cap);
        u32::try_from(base + extra).unwrap_or(u32::MAX)
    }
}

/// A retransmission timer with exponential backoff (RFC 9260 §6.3.3 E2).
#[derive(Debug, Clone, Copy)]
struct Backoff {
    deadline: Instant,
    rto: Duration,
    attempts: u32,
}

impl Backoff {
    fn start(now: Instant, rto: Duration) -> Self {
        Self {
            deadline: now + rto,
            rto,
            attempts: 0,
        }
    }

    /// Backs off after an expiry; `false` once `max` retransmissions are
    /// spent.
    fn expire(&mut self, now: Instant, max: u32, rto_max: Duration) -> bool {
        self.attempts += 1;
        if self.attempts > max {
            return false;
        }
        self.rto = (self.rto * 2).min(rto_max);
        self.deadline = now + self.rto;
        true
    }
}

/// Data each state carries; leaving a state drops its timers.
#[derive(Debug)]
enum State {
    CookieWait {
        init: Init,
        t1_init: Backoff,
        stale_retries: u32,
    },
    CookieEchoed {
        init: Init,
        cookie: Bytes,
        t1_cookie: Backoff,
        stale_retries: u32,
    },
    Established,
    Closed,
}

/// A chunk waiting to be sent, with the packet header it needs.
#[derive(Debug)]
struct Queued {
    destination: SocketAddr,
    vtag: u32,
    chunk: Chunk,
}

/// One peer transport address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Path {
    /// IP address and UDP encapsulation port (RFC 6951 §5.4).
    remote: SocketAddr,
}

/// An SCTP association.
#[derive(Debug)]
pub struct Association {
    id: AssocId,
    config: Arc<Config>,
    state: State,
    local_port: u16,
    peer_port: u16,
    local_tag: u32,
    /// 0 until the peer's INIT or INIT ACK is known.
    peer_tag: u32,
    /// RFC 9260 §5.2.2 tie-tags: random nonces, never the real tags.
    tie_tags: (u32, u32),
    local_initial_tsn: Tsn,
    peer_initial_tsn: Tsn,
    outbound_streams: u16,
    inbound_streams: u16,
    peer_rwnd: u32,
    paths: Vec<Path>,
    primary: usize,
    queue: VecDeque<Queued>,
    events: VecDeque<Event>,
}

/// Stale-cookie retries before giving up (RFC 9260 §5.2.6 leaves the bound
/// to the implementation).
const MAX_STALE_RETRIES: u32 = 3;

impl Association {
    /// Starts an association towards `remote` (RFC 9260 §5.1 A): queues an
    /// INIT and starts T1-init.
    pub(crate) fn connect(
        id: AssocId,
        config: Arc<Config>,
        now: Instant,
        remote: SocketAddr,
        ports: (u16, u16),
        ctx: &mut Context<'_>,
    ) -> Self {
        let local = LocalInit {
            tag: ctx.nonzero(),
            initial_tsn: Tsn(ctx.rng.random()),
            a_rwnd: config.receive_window,
            outbound_streams: config.outbound_streams,
            max_inbound_streams: config.max_inbound_streams,
        };
        let init = local_init_chunk(&local, ctx.local_addresses, None);
        let tie_tags = (ctx.nonzero(), ctx.nonzero());
        let mut assoc = Self::new(id, config, remote, ports, &local, tie_tags);
        assoc.queue(remote, 0, Chunk::Init(init.clone()));
        let rto = assoc.config.rto_initial;
        assoc.state = State::CookieWait {
            init,
            t1_init: Backoff::start(now, rto),
            stale_retries: 0,
        };
        assoc
    }

    /// Creates the association a valid COOKIE ECHO asks for (RFC 9260
    /// §5.1 D): established at once, with a COOKIE ACK queued.
    pub(crate) fn from_cookie(
        id: AssocId,
        config: Arc<Config>,
        cookie: &StateCookie,
        remote: SocketAddr,
        ctx: &mut Context<'_>,
    ) -> Self {
        let local = LocalInit {
            tag: cookie.local_tag,
            initial_tsn: cookie.local_initial_tsn,
            a_rwnd: config.receive_window,
            outbound_streams: cookie.outbound_streams,
            max_inbound_streams: cookie.inbound_streams,
        };
        let tie_tags = (ctx.nonzero(), ctx.nonzero());
        let ports = (cookie.local_port, cookie.peer_port);
        let mut assoc = Self::new(id, config, remote, ports, &local, tie_tags);
        assoc.adopt_cookie(cookie, remote);
        assoc.state = State::Established;
        assoc.queue(remote, assoc.peer_tag, Chunk::CookieAck);
        let up = assoc.established();
        assoc.events.push_back(Event::Up(up));
        assoc
    }

    fn new(
        id: AssocId,
        config: Arc<Config>,
        remote: SocketAddr,
        ports: (u16, u16),
        local: &LocalInit,
        tie_tags: (u32, u32),
    ) -> Self {
        Self {
            id,
            config,
            state: State::Closed,
            local_port: ports.0,
            peer_port: ports.1,
            local_tag: local.tag,
            peer_tag: 0,
            tie_tags,
            local_initial_tsn: local.initial_tsn,
            peer_initial_tsn: Tsn(0),
            outbound_streams: local.outbound_streams,
            inbound_streams: local.max_inbound_streams,
            peer_rwnd: 0,
            paths: vec![Path { remote }],
            primary: 0,
            queue: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Takes tags, sequence numbers, streams and addresses from a cookie.
    fn adopt_cookie(&mut self, cookie: &StateCookie, remote: SocketAddr) {
        self.local_tag = cookie.local_tag;
        self.peer_tag = cookie.peer_tag;
        self.local_initial_tsn = cookie.local_initial_tsn;
        self.peer_initial_tsn = cookie.peer_initial_tsn;
        self.outbound_streams = cookie.outbound_streams;
        self.inbound_streams = cookie.inbound_streams;
        self.peer_rwnd = cookie.peer_a_rwnd;
        self.set_paths(remote, &cookie.peer_addresses);
    }

    /// Paths to `remote` (the primary) and to every address in `listed`;
    /// other addresses use `remote`'s UDP port until a packet from them
    /// says otherwise.
    fn set_paths(&mut self, remote: SocketAddr, listed: &[IpAddr]) {
        self.paths.clear();
        self.paths.push(Path { remote });
        for &ip in listed {
            if ip != remote.ip() {
                self.paths.push(Path {
                    remote: SocketAddr::new(ip, remote.port()),
                });
            }
        }
        self.primary = 0;
    }

    fn established(&self) -> Established {
        Established {
            outbound_streams: self.outbound_streams,
            inbound_streams: self.inbound_streams,
            peer_addresses: self.paths.iter().map(|p| p.remote).collect(),
        }
    }

    /// This association's id.
    pub fn id(&self) -> AssocId {
        self.id
    }

    /// Its state.
    pub fn state(&self) -> AssociationState {
        match self.state {
            State::CookieWait { .. } => AssociationState::CookieWait,
            State::CookieEchoed { .. } => AssociationState::CookieEchoed,
            State::Established => AssociationState::Established,
            State::Closed => AssociationState::Closed,
        }
    }

    /// The verification tag this end chose.
    pub fn local_tag(&self) -> u32 {
        self.local_tag
    }

    /// The verification tag the peer chose (0 until known).
    pub fn peer_tag(&self) -> u32 {
        self.peer_tag
    }

    /// The peer's SCTP port.
    pub fn peer_port(&self) -> u16 {
        self.peer_port
    }

    /// Negotiated (outbound, inbound) stream counts.
    pub fn streams(&self) -> (u16, u16) {
        (self.outbound_streams, self.inbound_streams)
    }

    /// The peer's transport addresses, primary first.
    pub fn peer_addresses(&self) -> Vec<SocketAddr> {
        let mut all: Vec<_> = self.paths.iter().map(|p| p.remote).collect();
        all.swap(0, self.primary);
        all
    }

    /// Whether a packet from `ip` belongs to one of this association's
    /// paths.
    pub(crate) fn has_peer_address(&self, ip: IpAddr) -> bool {
        self.paths.iter().any(|p| p.remote.ip() == ip)
    }

    /// The IP addresses of the peer.
    pub(crate) fn peer_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.paths.iter().map(|p| p.remote.ip())
    }

    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    fn primary_remote(&self) -> SocketAddr {
        self.paths[self.primary].remote
    }

    fn queue(&mut self, destination: SocketAddr, vtag: u32, chunk: Chunk) {
        self.queue.push_back(Queued {
            destination,
            vtag,
            chunk,
        });
    }

    fn close(&mut self, error: AssociationError) {
        let event = match self.state {
            State::CookieWait { .. } | State::CookieEchoed { .. } => Event::CantStart(error),
            State::Established => Event::Lost(error),
            State::Closed => return,
        };
        self.state = State::Closed;
        self.events.push_back(event);
    }

    /// Aborts the association (RFC 9260 §9.1), telling the peer why.
    pub fn abort(&mut self, reason: &[u8]) {
        if self.is_closed() {
            return;
        }
        // In COOKIE-WAIT the peer holds no state and its tag is unknown:
        // there is nobody to tell.
        if self.peer_tag != 0 {
            let abort = Chunk::Abort(Abort {
                reflected_tag: false,
                causes: vec![ErrorCause::UserInitiatedAbort(Bytes::copy_from_slice(
                    reason,
                ))],
            });
            // An ABORT goes alone, ahead of anything still queued.
            self.queue.clear();
            self.queue(self.primary_remote(), self.peer_tag, abort);
        }
        self.close(AssociationError::LocalAbort);
    }

    /// The next event, if any.
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::CookieWait { t1_init: t, .. } | State::CookieEchoed { t1_cookie: t, .. } => {
                Some(t.deadline)
            }
            State::Established | State::Closed => None,
        }
    }

    /// Acts on expired timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let (max, rto_max) = (self.config.max_init_retransmits, self.config.rto_max);
        let primary = self.primary_remote();
        match &mut self.state {
            // RFC 9260 §5.1 (A) and (C): retransmit INIT or COOKIE ECHO with
            // backoff, up to Max.Init.Retransmits, then give up.
            State::CookieWait { init, t1_init, .. } if now >= t1_init.deadline => {
                if t1_init.expire(now, max, rto_max) {
                    let init = Chunk::Init(init.clone());
                    self.queue(primary, 0, init);
                } else {
                    self.close(AssociationError::InitTimeout);
                }
            }
            State::CookieEchoed {
                cookie, t1_cookie, ..
            } if now >= t1_cookie.deadline => {
                if t1_cookie.expire(now, max, rto_max) {
                    let echo = Chunk::CookieEcho(CookieEcho {
                        cookie: cookie.clone(),
                    });
                    let vtag = self.peer_tag;
                    self.queue(primary, vtag, echo);
                } else {
                    self.close(AssociationError::CookieTimeout);
                }
            }
            _ => {}
        }
    }

    /// Writes the next packet into `buf` (cleared first), bundling queued
    /// chunks that share a destination and tag within the size budget.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<Transmit> {
        let first = self.queue.pop_front()?;
        buf.clear();
        let header = CommonHeader {
            src_port: self.local_port,
            dst_port: self.peer_port,
            verification_tag: first.vtag,
            checksum: 0,
        };
        let mut w = PacketWriter::new(buf, header, self.config.max_packet_size);
        // A chunk that cannot be encoded is dropped, never sent broken.
        let _ = w.push(&first.chunk);
        while let Some(next) = self.queue.front() {
            if next.destination != first.destination || next.vtag != first.vtag {
                break;
            }
            if w.push(&next.chunk).is_err() {
                break;
            }
            self.queue.pop_front();
        }
        if w.is_empty() {
            return self.poll_transmit(buf);
        }
        let size = w.finish();
        Some(Transmit {
            destination: first.destination,
            source: None,
            size,
        })
    }

    /// Handles a packet the endpoint routed here: from one of the peer's
    /// addresses and ports, checksum verified.
    pub(crate) fn handle_packet(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        packet: Packet,
        ctx: &mut Context<'_>,
    ) {
        let vtag = packet.header.verification_tag;
        let Some(first) = packet.chunks.first() else {
            return;
        };
        match first {
            // RFC 9260 §8.5.1 (A): INIT travels alone with tag 0.
            Chunk::Init(init) => {
                if packet.chunks.len() == 1 && vtag == 0 {
                    self.on_init(remote, init, ctx);
                }
                return;
            }
            // §8.5.1 (D): a COOKIE ECHO is checked against its cookie.
            Chunk::CookieEcho(echo) => {
                if !self.on_cookie_echo(remote, vtag, &echo.cookie, ctx) {
                    return;
                }
            }
            // §8.5.1 (B), (C): with the T bit, the tag is the peer's own.
            Chunk::Abort(Abort { reflected_tag, .. })
            | Chunk::ShutdownComplete(ShutdownComplete { reflected_tag }) => {
                let expected = if *reflected_tag {
                    self.peer_tag
                } else {
                    self.local_tag
                };
                if vtag != expected || expected == 0 {
                    return;
                }
            }
            // §8.5.1 (E) and §8.4 (5): a SHUTDOWN ACK during setup is out
            // of the blue; answer SHUTDOWN COMPLETE with the T bit.
            Chunk::ShutdownAck
                if matches!(
                    self.state,
                    State::CookieWait { .. } | State::CookieEchoed { .. }
                ) =>
            {
                let reply = Chunk::ShutdownComplete(ShutdownComplete {
                    reflected_tag: true,
                });
                self.queue(remote, vtag, reply);
                return;
            }
            // §8.5: every other packet carries this end's tag.
            _ => {
                if vtag != self.local_tag {
                    return;
                }
            }
        }
        // RFC 6951 §5.4: the peer's encapsulation port is learned from
        // packets that passed the tag check.
        if let Some(path) = self.paths.iter_mut().find(|p| p.remote.ip() == remote.ip()) {
            path.remote.set_port(remote.port());
        }
        let skip = usize::from(matches!(first, Chunk::CookieEcho(_)));
        self.handle_chunks(now, remote, &packet.chunks[skip..]);
    }

    /// Handles the chunks of a packet whose tag has been accepted, in order.
    pub(crate) fn handle_chunks(&mut self, now: Instant, remote: SocketAddr, chunks: &[Chunk]) {
        for chunk in chunks {
            if !self.on_chunk(now, remote, chunk) {
                break;
            }
        }
    }

    /// Whether packets are waiting in `poll_transmit`.
    pub(crate) fn has_pending_transmit(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Handles one chunk of an accepted packet; `false` stops processing
    /// the rest of the packet.
    fn on_chunk(&mut self, now: Instant, remote: SocketAddr, chunk: &Chunk) -> bool {
        match chunk {
            Chunk::InitAck(ack) => {
                // §5.2.3: an INIT ACK outside COOKIE-WAIT is discarded.
                if matches!(self.state, State::CookieWait { .. }) {
                    self.on_init_ack(now, remote, ack);
                }
            }
            Chunk::CookieAck => {
                // §5.1 (E); §5.2.5: a COOKIE ACK in any other state is
                // discarded.
                if matches!(self.state, State::CookieEchoed { .. }) {
                    self.state = State::Established;
                    let up = self.established();
                    self.events.push_back(Event::Up(up));
                }
            }
            Chunk::Heartbeat(hb) => {
                // §8.3: answer from the address the HEARTBEAT came to, to
                // the address it came from, with its info unchanged.
                if self.peer_tag != 0 {
                    let ack = Chunk::HeartbeatAck(Heartbeat {
                        info: hb.info.clone(),
                    });
                    self.queue(remote, self.peer_tag, ack);
                }
            }
            Chunk::Abort(abort) => {
                self.close(AssociationError::PeerAborted(abort.causes.clone()));
                return false;
            }
            Chunk::Error(error) => self.on_error(now, error),
            Chunk::Unknown(unknown) => {
                // §3.2: the upper two bits of the type decide.
                let action = unknown.action();
                if action.reports() && self.peer_tag != 0 {
                    // The cause holds the chunk as received, without the
                    // padding that followed it.
                    let mut raw = Vec::new();
                    let _ = chunk.emit(&mut raw);
                    raw.truncate(4 + unknown.value.len());
                    let cause = ErrorCause::UnrecognizedChunkType(Bytes::from(raw));
                    let error = Chunk::Error(ErrorChunk {
                        causes: vec![cause],
                    });
                    self.queue(remote, self.peer_tag, error);
                }
                return action.continues();
            }
            _ => {}
        }
        !self.is_closed()
    }

    /// An INIT for an existing association: collision or restart (§5.2.1,
    /// §5.2.2).
    fn on_init(&mut self, remote: SocketAddr, init: &Init, ctx: &mut Context<'_>) {
        let peer = match handshake::judge_init(init, false) {
            InitVerdict::Discard => return,
            InitVerdict::Abort(causes) => {
                self.queue_abort(remote, init.initiate_tag, causes);
                return;
            }
            InitVerdict::Accept(peer) => peer,
        };
        let ours = match &self.state {
            State::CookieWait { init, .. } | State::CookieEchoed { init, .. } => {
                Some(local_of(init))
            }
            _ => None,
        };
        let (local, tie_tags, reply_to) = match (self.state(), ours) {
            // §5.2.1: answer with this end's original INIT parameters,
            // tag unchanged, to where that INIT went; in COOKIE-WAIT only
            // our tie-tag is known.
            (AssociationState::CookieWait, Some(ours)) => {
                (ours, (self.tie_tags.0, 0), self.primary_remote())
            }
            (AssociationState::CookieEchoed, Some(ours)) => {
                if self.refuse_new_addresses(remote, &peer) {
                    return;
                }
                (ours, self.tie_tags, self.primary_remote())
            }
            // §5.2.2: a new tag and TSN; the tie-tags let the COOKIE ECHO
            // that follows be recognised as a restart (§5.2.4 A).
            (AssociationState::Established, _) => {
                if self.refuse_new_addresses(remote, &peer) {
                    return;
                }
                let local = LocalInit {
                    tag: ctx.nonzero(),
                    initial_tsn: Tsn(ctx.rng.random()),
                    a_rwnd: self.config.receive_window,
                    outbound_streams: self.config.outbound_streams,
                    max_inbound_streams: self.config.max_inbound_streams,
                };
                (local, self.tie_tags, remote)
            }
            _ => return,
        };
        let lifespan = ctx.cookie_lifespan_ms(peer.cookie_preservative_ms);
        let cookie = handshake::cookie_for(
            &local,
            &peer,
            remote.ip(),
            (self.local_port, self.peer_port),
            tie_tags,
            ctx.clock_ms,
            lifespan,
        );
        let ack = init_ack_chunk(&local, &peer, &cookie, ctx, usize::MAX);
        self.queue(reply_to, peer.tag, Chunk::InitAck(ack));
    }

    /// RFC 9260 §5.2.1, §5.2.2: an INIT that adds addresses to an existing
    /// association is refused with an ABORT listing them, so that a restart
    /// cannot hijack the association to new addresses.
    fn refuse_new_addresses(&mut self, remote: SocketAddr, peer: &PeerInit) -> bool {
        let new: Vec<IpAddr> = peer
            .addresses_with_source(remote.ip())
            .into_iter()
            .filter(|&a| !self.has_peer_address(a))
            .collect();
        if new.is_empty() {
            return false;
        }
        let mut listed = Vec::new();
        let mut w = crate::chunk::codec::Writer::new(&mut listed);
        for a in new {
            Param::from_address(a).emit(&mut w);
        }
        let cause = ErrorCause::RestartWithNewAddresses(Bytes::from(listed));
        self.queue_abort(remote, peer.tag, vec![cause]);
        true
    }

    fn queue_abort(&mut self, to: SocketAddr, vtag: u32, causes: Vec<ErrorCause>) {
        let abort = Chunk::Abort(Abort {
            reflected_tag: false,
            causes,
        });
        self.queue(to, vtag, abort);
    }

    /// §5.1 (C): the INIT ACK in COOKIE-WAIT.
    fn on_init_ack(&mut self, now: Instant, remote: SocketAddr, ack: &Init) {
        let State::CookieWait {
            init,
            stale_retries,
            ..
        } = &self.state
        else {
            return;
        };
        let (init, stale_retries) = (init.clone(), *stale_retries);
        let peer = match handshake::judge_init(ack, true) {
            InitVerdict::Accept(peer) => peer,
            InitVerdict::Discard => return,
            InitVerdict::Abort(causes) => {
                // §3.3.3: an invalid INIT ACK ends the attempt; with no
                // usable peer tag the ABORT reflects ours (T bit).
                let (vtag, reflected_tag) = if ack.initiate_tag != 0 {
                    (ack.initiate_tag, false)
                } else {
                    (self.local_tag, true)
                };
                let abort = Chunk::Abort(Abort {
                    reflected_tag,
                    causes: causes.clone(),
                });
                self.queue(remote, vtag, abort);
                self.close(AssociationError::InvalidInitAck(causes));
                return;
            }
        };
        self.peer_tag = peer.tag;
        self.peer_initial_tsn = peer.initial_tsn;
        self.peer_rwnd = peer.a_rwnd;
        self.outbound_streams = init.outbound_streams.min(peer.inbound_streams);
        self.inbound_streams = init.inbound_streams.min(peer.outbound_streams);
        let listed = peer.addresses_with_source(remote.ip());
        self.set_paths(remote, &listed);
        let cookie = peer.cookie.clone().unwrap_or_default();
        // §5.1 (C): COOKIE ECHO first; unrecognized parameters of the INIT
        // ACK are reported in an ERROR bundled after it (§3.2.1).
        let echo = Chunk::CookieEcho(CookieEcho {
            cookie: cookie.clone(),
        });
        self.queue(remote, peer.tag, echo);
        if !peer.unrecognized.is_empty() {
            let causes = peer
                .unrecognized
                .iter()
                .map(|p| ErrorCause::UnrecognizedParameters(p.clone()))
                .collect();
            self.queue(remote, peer.tag, Chunk::Error(ErrorChunk { causes }));
        }
        self.state = State::CookieEchoed {
            init,
            cookie,
            t1_cookie: Backoff::start(now, self.config.rto_initial),
            stale_retries,
        };
    }

    /// A COOKIE ECHO for an existing association (§5.2.4). Returns whether
    /// the rest of the packet is to be processed.
    fn on_cookie_echo(
        &mut self,
        remote: SocketAddr,
        vtag: u32,
        sealed: &[u8],
        ctx: &mut Context<'_>,
    ) -> bool {
        // §5.1.5: a cookie that fails authentication is discarded silently.
        let Ok(cookie) = ctx.keys.authenticate(sealed) else {
            return false;
        };
        // §8.5.1 (D): the packet's tag must be the one in the cookie.
        if vtag != cookie.local_tag
            || cookie.local_port != self.local_port
            || cookie.peer_port != self.peer_port
        {
            return false;
        }
        let tcb = (
            self.local_tag,
            self.peer_tag,
            self.tie_tags.0,
            self.tie_tags.1,
        );
        let resolution = handshake::resolve_cookie(&cookie, tcb);
        if resolution == CookieResolution::Discard {
            return false;
        }
        // A stale cookie may only confirm an association both ends already
        // agree on (D); restarting or resolving a collision from it would
        // let an old COOKIE ECHO replace the association.
        if resolution != CookieResolution::Established {
            if let Some(by_us) = cookie.staleness_us(ctx.clock_ms) {
                let error = Chunk::Error(ErrorChunk {
                    causes: vec![ErrorCause::StaleCookie {
                        staleness_us: by_us,
                    }],
                });
                self.queue(remote, cookie.peer_tag, error);
                return false;
            }
        }
        match resolution {
            CookieResolution::PeerRestart => {
                // (A): everything from the old incarnation is gone.
                if cookie
                    .peer_addresses
                    .iter()
                    .any(|&a| !self.has_peer_address(a))
                {
                    return false;
                }
                self.queue.clear();
                self.adopt_cookie(&cookie, remote);
                self.tie_tags = (ctx.nonzero(), ctx.nonzero());
                self.state = State::Established;
                let info = self.established();
                self.events.push_back(Event::Restart(info));
            }
            CookieResolution::Collision | CookieResolution::Established => {
                if resolution == CookieResolution::Collision {
                    self.adopt_cookie(&cookie, remote);
                }
                if !matches!(self.state, State::Established) {
                    self.state = State::Established;
                    let up = self.established();
                    self.events.push_back(Event::Up(up));
                }
            }
            CookieResolution::Discard => return false,
        }
        self.queue(remote, self.peer_tag, Chunk::CookieAck);
        true
    }

    /// ERROR chunks: a Stale Cookie in COOKIE-ECHOED restarts the handshake
    /// asking for a longer cookie life (§5.2.6); the rest is reported.
    fn on_error(&mut self, now: Instant, error: &ErrorChunk) {
        let stale = error.causes.iter().find_map(|c| match c {
            ErrorCause::StaleCookie { staleness_us } => Some(*staleness_us),
            _ => None,
        });
        if let (
            Some(by_us),
            State::CookieEchoed {
                init,
                stale_retries,
                ..
            },
        ) = (stale, &self.state)
        {
            let retries = stale_retries + 1;
            if retries > MAX_STALE_RETRIES {
                self.close(AssociationError::StaleCookie);
                return;
            }
            // Ask for twice the measured lateness, in ms, at least 1 ms.
            let extra_ms = (by_us / 1000).max(1).saturating_mul(2);
            let mut init = init.clone();
            init.params
                .retain(|p| !matches!(p, Param::CookiePreservative(_)));
            init.params.push(Param::CookiePreservative(extra_ms));
            self.queue(self.primary_remote(), 0, Chunk::Init(init.clone()));
            self.peer_tag = 0;
            self.state = State::CookieWait {
                init,
                t1_init: Backoff::start(now, self.config.rto_initial),
                stale_retries: retries,
            };
            return;
        }
        self.events
            .push_back(Event::RemoteError(error.causes.clone()));
    }
}

/// This end's parameters as its INIT carried them.
fn local_of(init: &Init) -> LocalInit {
    LocalInit {
        tag: init.initiate_tag,
        initial_tsn: init.initial_tsn,
        a_rwnd: init.a_rwnd,
        outbound_streams: init.outbound_streams,
        max_inbound_streams: init.inbound_streams,
    }
}

/// This end's INIT.
pub(crate) fn local_init_chunk(
    local: &LocalInit,
    addresses: &[IpAddr],
    preservative_ms: Option<u32>,
) -> Init {
    let mut params: Vec<Param> = addresses.iter().map(|&a| Param::from_address(a)).collect();
    params.extend(preservative_ms.map(Param::CookiePreservative));
    Init {
        initiate_tag: local.tag,
        a_rwnd: local.a_rwnd,
        outbound_streams: local.outbound_streams,
        inbound_streams: local.max_inbound_streams,
        initial_tsn: local.initial_tsn,
        params,
    }
}

/// The INIT ACK answering `peer`'s INIT: this end's addresses (of the types
/// the peer accepts, while the chunk stays within `budget` bytes), the
/// sealed cookie, and reports of unrecognized parameters (§3.2.1).
pub(crate) fn init_ack_chunk(
    local: &LocalInit,
    peer: &PeerInit,
    cookie: &StateCookie,
    ctx: &Context<'_>,
    budget: usize,
) -> Init {
    let mut sealed = Vec::with_capacity(cookie.sealed_len());
    ctx.keys.seal(cookie, &mut sealed);
    // Fixed part (20) + cookie parameter + reports.
    let mut size = 20 + 4 + sealed.len().next_multiple_of(4);
    size += peer
        .unrecognized
        .iter()
        .map(|p| 4 + p.len().next_multiple_of(4))
        .sum::<usize>();
    let mut params = Vec::new();
    for &addr in ctx.local_addresses.iter().filter(|&&a| peer.accepts(a)) {
        let len = if addr.is_ipv4() { 8 } else { 20 };
        if size + len > budget {
            break;
        }
        size += len;
        params.push(Param::from_address(addr));
    }
    params.push(Param::StateCookie(Bytes::from(sealed)));
    params.extend(
        peer.unrecognized
            .iter()
            .map(|p| Param::UnrecognizedParameter(p.clone())),
    );
    Init {
        initiate_tag: local.tag,
        a_rwnd: local.a_rwnd,
        // §5.1.1: no more outbound streams than the peer takes in.
        outbound_streams: local.outbound_streams.min(peer.inbound_streams),
        inbound_streams: local.max_inbound_streams,
        initial_tsn: local.initial_tsn,
        params,
    }
}
