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
#[cfg(any(debug_assertions, fuzzing))]
mod liveness;
mod path;
mod paths;
mod rto;
mod rx;
mod shutdown;
mod tx;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use events::{AssocId, AssociationError, Established, Event, PathChange};
use handshake::{LocalInit, local_init_chunk};
pub use path::PathState;
pub use paths::PathInfo;
pub use rx::Message;
pub use tx::{SendError, Unsent};

use path::{Path, SplitMix};
use rto::Rto;
use rx::{DataVerdict, Rx};
use tx::Tx;

use crate::chunk::{
    Abort, Chunk, CommonHeader, CookieEcho, Data, ErrorCause, ErrorChunk, Heartbeat, Init, Packet,
    PacketWriter, Shutdown, ShutdownComplete,
};
use crate::config::Config;
use crate::cookie::{CookieKeys, StateCookie};
use crate::random::Random;
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
    /// The user asked to shut down; queued data is still being sent.
    ShutdownPending,
    /// SHUTDOWN sent, waiting for SHUTDOWN ACK.
    ShutdownSent,
    /// The peer sent SHUTDOWN; this end finishes sending its data.
    ShutdownReceived,
    /// SHUTDOWN ACK sent, waiting for SHUTDOWN COMPLETE.
    ShutdownAckSent,
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
    pub rng: &'a mut Random,
    pub keys: &'a CookieKeys,
    /// `now` on the cookie clock, in ms.
    pub clock_ms: u64,
    /// Addresses this end advertises (explicitly bound ones).
    pub local_addresses: &'a [IpAddr],
}

impl Context<'_> {
    /// A random nonzero 32-bit value: tags must not be 0 (RFC 9260 §3.3.2).
    pub fn nonzero(&mut self) -> u32 {
        self.rng.nonzero_u32()
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
    ShutdownPending,
    ShutdownSent {
        t2: Backoff,
        guard: Instant,
    },
    ShutdownReceived,
    ShutdownAckSent {
        t2: Backoff,
        guard: Instant,
    },
    Closed,
}

/// A chunk waiting to be sent, with the packet header it needs.
#[derive(Debug)]
struct Queued {
    destination: SocketAddr,
    vtag: u32,
    chunk: Chunk,
}

/// An SCTP association.
#[derive(Debug)]
pub struct Association {
    id: AssocId,
    config: Arc<Config>,
    /// The largest packet sent: the smallest `Config::packet_size_to` of
    /// the peer's addresses, fixed when data transfer starts.
    packet_size: usize,
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
    /// The path new DATA goes to now.
    primary: usize,
    /// The primary the user (or the handshake) chose; `primary` returns to
    /// it when it recovers, if so configured.
    preferred: usize,
    /// Consecutive errors across all paths (§8.1).
    error_count: u32,
    /// The peer's addresses changed since the endpoint last looked.
    addresses_changed: bool,
    /// The local address the peer sent to first: when this end lists no
    /// addresses, the only one the peer knows it by.
    local_ip: Option<IpAddr>,
    /// Where retransmissions go after a timeout on the primary that left it
    /// in use (SCTP-PF off): an active alternate (§6.4).
    retransmit_to: Option<usize>,
    /// Heartbeat nonces and jitter.
    random: SplitMix,
    queue: VecDeque<Queued>,
    events: VecDeque<Event>,
    /// Data transfer, once established.
    data: Option<DataPath>,
}

/// The two directions of data transfer and the SACK timing (§6.2).
#[derive(Debug)]
struct DataPath {
    rx: Rx,
    tx: Tx,
    /// A SACK goes out with the next packet.
    sack_now: bool,
    /// The delayed SACK timer.
    sack_deadline: Option<Instant>,
    /// Packets with DATA since the last SACK.
    unacked_packets: u32,
    /// Whether any DATA has arrived: the first is acknowledged at once
    /// (§5.1).
    data_seen: bool,
    /// Where the next SACK goes: the source of the DATA it acknowledges.
    sack_to: SocketAddr,
    /// `send` said `WouldBlock`; say `Writable` when room opens.
    blocked: bool,
    /// Chunks that go right after the next SACK (§6.5: an Invalid Stream
    /// Identifier ERROR may share the SACK's packet only after it).
    after_sack: Vec<Chunk>,
    /// DATA arrived since the last SACK went out.
    unacknowledged: bool,
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
            initial_tsn: Tsn(ctx.rng.u32()),
            a_rwnd: config.receive_window,
            outbound_streams: config.outbound_streams,
            max_inbound_streams: config.max_inbound_streams,
        };
        let init = local_init_chunk(&local, ctx.local_addresses, None);
        let tie_tags = (ctx.nonzero(), ctx.nonzero());
        let seed = ctx.rng.u64();
        let mut assoc = Self::new(id, config, remote, ports, &local, tie_tags, seed);
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
        now: Instant,
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
        let seed = ctx.rng.u64();
        // §5.4: the address the INIT ACK went to (the INIT's source, first
        // in the cookie) is the one the handshake confirms, wherever the
        // COOKIE ECHO came from.
        let confirmed = cookie
            .peer_addresses
            .first()
            .map_or(remote, |&ip| SocketAddr::new(ip, remote.port()));
        let mut assoc = Self::new(id, config, confirmed, ports, &local, tie_tags, seed);
        assoc.adopt_cookie(cookie, confirmed);
        if remote.ip() != confirmed.ip() {
            assoc.add_unconfirmed_path(remote);
        }
        assoc.establish(now);
        assoc.queue(remote, assoc.peer_tag, Chunk::CookieAck);
        // A COOKIE ACK to an unconfirmed address carries a HEARTBEAT
        // behind it (§5.4), which starts confirming the address.
        if let Some(i) = assoc.path_of(remote) {
            if !assoc.paths[i].confirmed {
                assoc.send_probe(now, i, true);
            }
        }
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
        seed: u64,
    ) -> Self {
        let rto = Rto::new(config.rto_initial, config.rto_min, config.rto_max);
        Self {
            id,
            packet_size: config.packet_size_to(remote),
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
            paths: vec![Path::new(remote, true, rto)],
            primary: 0,
            preferred: 0,
            error_count: 0,
            addresses_changed: true,
            local_ip: None,
            retransmit_to: None,
            random: SplitMix(seed),
            queue: VecDeque::new(),
            events: VecDeque::new(),
            data: None,
        }
    }

    /// Enters ESTABLISHED: data transfer starts (or restarts) from the
    /// negotiated sequence numbers and streams.
    fn establish(&mut self, now: Instant) {
        self.state = State::Established;
        // One packet size for every path: the smallest any of them takes.
        self.packet_size = self.packet_size_for(&self.config);
        self.error_count = 0;
        self.start_paths(now);
        let config = &self.config;
        self.data = Some(DataPath {
            rx: Rx::new(
                self.peer_initial_tsn,
                self.inbound_streams,
                config.receive_window,
            ),
            tx: Tx::new(
                self.local_initial_tsn,
                self.outbound_streams,
                self.peer_rwnd,
                self.packet_size,
                config.max_burst,
                config.send_buffer,
                config.max_message_size,
            ),
            sack_now: false,
            sack_deadline: None,
            unacked_packets: 0,
            data_seen: false,
            sack_to: self.primary_remote(),
            blocked: false,
            after_sack: Vec::new(),
            unacknowledged: false,
        });
    }

    /// Further peer addresses to try the INIT on, before the peer's INIT
    /// ACK says which addresses it has.
    pub(crate) fn add_init_targets(&mut self, also: &[IpAddr]) {
        let remote = self.paths[0].remote;
        let rto = self.paths[0].rto;
        for &ip in also {
            if self.paths.len() < path::MAX_PATHS && !self.has_peer_address(ip) {
                let address = SocketAddr::new(ip, remote.port());
                self.paths.push(Path::new(address, false, rto));
            }
        }
        self.addresses_changed = true;
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
    ///
    /// The packet's source is confirmed by the handshake itself; the other
    /// addresses stay unconfirmed until a heartbeat answers (§5.4).
    fn set_paths(&mut self, remote: SocketAddr, listed: &[IpAddr]) {
        let config = &self.config;
        let rto = Rto::new(config.rto_initial, config.rto_min, config.rto_max);
        self.paths.clear();
        self.paths.push(Path::new(remote, true, rto));
        for &ip in listed {
            self.add_unconfirmed_path(SocketAddr::new(ip, remote.port()));
        }
        self.primary = 0;
        self.preferred = 0;
        self.addresses_changed = true;
    }

    /// The largest packet `config` allows toward every peer address.
    fn packet_size_for(&self, config: &Config) -> usize {
        self.paths
            .iter()
            .map(|p| config.packet_size_to(p.remote))
            .min()
            .unwrap_or(config.max_packet_size)
    }

    /// Adds an unconfirmed path to `address` unless one exists (or the
    /// limit is reached).
    fn add_unconfirmed_path(&mut self, address: SocketAddr) {
        if self.paths.len() < path::MAX_PATHS
            && !self.paths.iter().any(|p| p.remote.ip() == address.ip())
        {
            let config = &self.config;
            let rto = Rto::new(config.rto_initial, config.rto_min, config.rto_max);
            self.paths.push(Path::new(address, false, rto));
            self.addresses_changed = true;
        }
    }

    /// Records the local address a packet for this association arrived at,
    /// the first time one is known.
    pub(crate) fn note_local_address(&mut self, local: IpAddr) {
        if self.local_ip.is_none() && !local.is_unspecified() {
            self.local_ip = Some(local);
        }
    }

    /// Whether the peer's addresses changed since the last call.
    pub(crate) fn take_addresses_changed(&mut self) -> bool {
        std::mem::take(&mut self.addresses_changed)
    }

    fn established(&self) -> Established {
        Established {
            outbound_streams: self.outbound_streams,
            inbound_streams: self.inbound_streams,
            peer_addresses: self.paths.iter().map(|p| p.remote).collect(),
        }
    }

    /// Replaces this association's protocol parameters (after the socket
    /// options SCTP_RTOINFO, SCTP_PEER_ADDR_PARAMS, SCTP_ASSOCINFO):
    /// timers, retransmission limits, heartbeats, SACK delay, send buffer
    /// and failover behaviour take the new values from now on; what the
    /// handshake fixed (streams, initial TSNs, the advertised window) stays.
    pub fn set_config(&mut self, config: Config) -> Result<(), String> {
        config.validate()?;
        for path in &mut self.paths {
            path.rto.set_bounds(config.rto_min, config.rto_max);
        }
        if let Some(data) = &mut self.data {
            data.tx.set_limits(
                config.send_buffer,
                config.max_message_size,
                config.max_burst,
            );
        }
        // Queued fragments were cut to the packet size: it stays once data
        // transfer has started.
        if self.data.is_none() {
            self.packet_size = self.packet_size_for(&config);
        }
        self.config = Arc::new(config);
        Ok(())
    }

    /// The protocol parameters in force.
    pub fn config(&self) -> &Config {
        &self.config
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
            State::ShutdownPending => AssociationState::ShutdownPending,
            State::ShutdownSent { .. } => AssociationState::ShutdownSent,
            State::ShutdownReceived => AssociationState::ShutdownReceived,
            State::ShutdownAckSent { .. } => AssociationState::ShutdownAckSent,
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
            State::Closed => return,
            _ => Event::Lost(error),
        };
        self.state = State::Closed;
        self.events.push_back(event);
        self.report_unsent();
        self.stop_data();
    }

    /// Stops data transfer on closing; messages already received stay
    /// readable until the user takes them.
    fn stop_data(&mut self) {
        if let Some(data) = &mut self.data {
            data.sack_now = false;
            data.sack_deadline = None;
        }
        for path in &mut self.paths {
            path.t3 = None;
            path.heartbeat_at = None;
            path.probe = None;
            path.blocked_until = None;
        }
    }

    /// Reports data that will never be delivered (§9.1, §5.2.4 A).
    fn report_unsent(&mut self) {
        if let Some(data) = &mut self.data {
            let messages = data.tx.drain_unsent();
            if !messages.is_empty() {
                self.events.push_back(Event::SendFailed(messages));
            }
        }
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
        let state = match &self.state {
            State::CookieWait { t1_init: t, .. } | State::CookieEchoed { t1_cookie: t, .. } => {
                Some(t.deadline)
            }
            State::ShutdownSent { t2, guard } | State::ShutdownAckSent { t2, guard } => {
                Some(t2.deadline.min(*guard))
            }
            _ => None,
        };
        let sack = self.data.as_ref().and_then(|d| d.sack_deadline);
        let paths = if self.data.is_some() && !self.is_closed() {
            let mtu = self.packet_size;
            self.paths
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.next_deadline(mtu, i == self.primary))
                .min()
        } else {
            None
        };
        [state, sack, paths].into_iter().flatten().min()
    }

    /// Acts on expired timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let (max, rto_max) = (self.config.max_init_retransmits, self.config.rto_max);
        let assoc_max = self.config.association_max_retrans;
        let primary = self.primary_remote();
        let cum = self.data.as_ref().map(|d| d.rx.cumulative_tsn());
        match &mut self.state {
            // RFC 9260 §5.1 (A) and (C): retransmit INIT or COOKIE ECHO with
            // backoff, up to Max.Init.Retransmits, then give up.
            State::CookieWait { init, t1_init, .. } if now >= t1_init.deadline => {
                if t1_init.expire(now, max, rto_max) {
                    let init = Chunk::Init(init.clone());
                    // §6.4: retransmissions of INIT go to the peer's
                    // addresses in turn.
                    let n = t1_init.attempts as usize % self.paths.len();
                    let to = self.paths[n].remote;
                    self.queue(to, 0, init);
                } else {
                    self.close(AssociationError::InitTimeout);
                }
                return;
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
                return;
            }
            // §9.2: T5-shutdown-guard ends a shutdown that does not finish.
            State::ShutdownSent { guard, .. } | State::ShutdownAckSent { guard, .. }
                if now >= *guard =>
            {
                let abort = Chunk::Abort(Abort::default());
                self.queue(primary, self.peer_tag, abort);
                self.close(AssociationError::ShutdownTimeout);
                return;
            }
            // §9.2: T2-shutdown retransmits SHUTDOWN or SHUTDOWN ACK; the
            // retransmissions count against Association.Max.Retrans.
            State::ShutdownSent { t2, .. } if now >= t2.deadline => {
                if t2.expire(now, assoc_max, rto_max) {
                    let cum = cum.unwrap_or(self.peer_initial_tsn.prev());
                    let shutdown = Chunk::Shutdown(Shutdown {
                        cumulative_tsn_ack: cum,
                    });
                    self.queue(primary, self.peer_tag, shutdown);
                } else {
                    self.close(AssociationError::ShutdownTimeout);
                    return;
                }
            }
            State::ShutdownAckSent { t2, .. } if now >= t2.deadline => {
                if t2.expire(now, assoc_max, rto_max) {
                    self.queue(primary, self.peer_tag, Chunk::ShutdownAck);
                } else {
                    self.close(AssociationError::ShutdownTimeout);
                    return;
                }
            }
            _ => {}
        }
        let Some(data) = &mut self.data else {
            return;
        };
        if data.sack_deadline.is_some_and(|t| now >= t) {
            data.sack_deadline = None;
            data.sack_now = true;
        }
        self.path_timers(now);
    }

    /// Writes the next packet into `buf` (cleared first): queued control
    /// chunks, then a SACK if one is due, then DATA, bundled within the
    /// size budget (§6.10).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        loop {
            let data_path = self.data_path();
            let primary = self.paths[data_path].remote;
            let (destination, vtag) = match self.queue.front() {
                Some(q) => (q.destination, q.vtag),
                None => {
                    let data = self.data.as_ref()?;
                    if data.sack_now {
                        (data.sack_to, self.peer_tag)
                    } else if data.tx.has_pending() && self.can_send_data() && self.data_path_open()
                    {
                        (primary, self.peer_tag)
                    } else {
                        return None;
                    }
                }
            };
            buf.clear();
            let header = CommonHeader {
                src_port: self.local_port,
                dst_port: self.peer_port,
                verification_tag: vtag,
                checksum: 0,
            };
            // §3.3.3: a peer's State Cookie may be larger than our packets;
            // its COOKIE ECHO goes alone in a packet as large as it needs
            // (up to what UDP carries).
            let size = match self.queue.front().map(|q| &q.chunk) {
                Some(Chunk::CookieEcho(echo)) => self
                    .packet_size
                    .max((12 + 4 + echo.cookie.len()).next_multiple_of(4))
                    .min(crate::config::MAX_UDP_PAYLOAD),
                _ => self.packet_size,
            };
            let mut w = PacketWriter::new(buf, header, size);
            while let Some(next) = self.queue.front() {
                if next.destination != destination || next.vtag != vtag {
                    break;
                }
                // A chunk that cannot be encoded is dropped, never sent
                // broken; one that does not fit waits for the next packet.
                match w.push(&next.chunk) {
                    Ok(()) => {}
                    Err(crate::chunk::BuildError::DoesNotFit { .. }) if !w.is_empty() => break,
                    Err(_) => {}
                }
                self.queue.pop_front();
            }
            // Nothing joins an oversized COOKIE ECHO.
            let ours = vtag == self.peer_tag && self.peer_tag != 0 && size == self.packet_size;
            let can_send = self.can_send_data() && self.data_path_open();
            let p = data_path;
            if let (true, Some(data)) = (ours, &mut self.data) {
                // A due or pending delayed SACK rides along (§6.2).
                // It is cut to the room left, and waits for the next
                // packet when not even its header fits.
                if (data.sack_now || data.sack_deadline.is_some())
                    && destination == data.sack_to
                    && w.remaining() >= rx::SACK_HEADER_LEN
                {
                    let sack = data.rx.sack(w.remaining());
                    if w.push(&Chunk::Sack(sack)).is_ok() {
                        data.sack_now = false;
                        data.sack_deadline = None;
                        data.unacked_packets = 0;
                        data.unacknowledged = false;
                        // What must follow the SACK goes now, or as the
                        // first control chunks of the next packet.
                        for chunk in std::mem::take(&mut data.after_sack) {
                            if w.push(&chunk).is_err() {
                                self.queue.push_front(Queued {
                                    destination,
                                    vtag,
                                    chunk,
                                });
                            }
                        }
                    }
                }
                if destination == primary && can_send {
                    data.tx.fill(now, &mut w, &mut self.paths, p);
                }
            }
            if w.is_empty() {
                if self.queue.is_empty() {
                    return None;
                }
                continue;
            }
            let size = w.finish();
            return Some(Transmit {
                destination,
                source: self.local_ip,
                size,
            });
        }
    }

    /// The path DATA goes to now: the primary, except that retransmissions
    /// after a timeout on it go to the alternate chosen then (§6.4), until
    /// they are out.
    fn data_path(&mut self) -> usize {
        let retransmitting = self
            .data
            .as_ref()
            .is_some_and(|d| d.tx.has_retransmissions());
        match self.retransmit_to {
            Some(i) if retransmitting && self.paths.get(i).is_some_and(Path::is_usable) => i,
            _ => {
                self.retransmit_to = None;
                self.primary
            }
        }
    }

    /// Whether DATA may be sent in this state (§9.2: not after SHUTDOWN
    /// went out or once the peer's SHUTDOWN ACK is due).
    fn can_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownReceived
        )
    }

    /// Queues a message on `stream` (§6.1). Messages sent before the
    /// association is up, or after shutdown began, are refused.
    pub fn send(
        &mut self,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
    ) -> Result<(), SendError> {
        if !matches!(self.state, State::Established) {
            return Err(SendError::NotOpen);
        }
        let Some(path) = &mut self.data else {
            return Err(SendError::NotOpen);
        };
        let result = path.tx.send(stream, ppid, data, unordered);
        if result == Err(SendError::WouldBlock) {
            path.blocked = true;
        }
        result
    }

    /// The next received message, if one is ready.
    pub fn recv(&mut self) -> Option<Message> {
        let data = self.data.as_mut()?;
        let message = data.rx.recv()?;
        // §6.2: tell the peer when reading reopened the window.
        if data.rx.window_update_due(self.packet_size) {
            data.sack_now = true;
        }
        Some(message)
    }

    /// Messages ready for `recv`.
    pub fn readable(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.rx.readable())
    }

    /// Payload bytes queued or unacknowledged.
    pub fn buffered_amount(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.tx.buffered())
    }

    /// The peer's receive window as last known.
    pub fn peer_rwnd(&self) -> u32 {
        self.data
            .as_ref()
            .map_or(self.peer_rwnd, |d| d.tx.peer_rwnd())
    }

    /// The congestion window of the primary path.
    pub fn cwnd(&self) -> usize {
        self.paths[self.primary].cwnd
    }

    /// The retransmission timeout of the primary path.
    pub fn rto(&self) -> Duration {
        self.paths[self.primary].rto.rto()
    }

    /// The smoothed round-trip time of the primary path, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.paths[self.primary].rto.srtt()
    }

    /// DATA chunks sent and not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.tx.outstanding_count())
    }

    fn cumulative_tsn(&self) -> Tsn {
        self.data
            .as_ref()
            .map_or(self.peer_initial_tsn.prev(), |d| d.rx.cumulative_tsn())
    }

    /// Handles a packet the endpoint routed here: from one of the peer's
    /// addresses and ports, checksum verified.
    pub(crate) fn handle_packet(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        packet: &Packet,
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
                if !self.on_cookie_echo(now, remote, vtag, &echo.cookie, ctx) {
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
        self.handle_chunks(now, remote, &packet.chunks[skip..], skip == 1);
    }

    /// Handles the chunks of a packet whose tag has been accepted, in order.
    /// `after_cookie_echo` says the chunks followed a COOKIE ECHO.
    pub(crate) fn handle_chunks(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        chunks: &[Chunk],
        after_cookie_echo: bool,
    ) {
        let mut had_data = false;
        // DATA bundled with the COOKIE ECHO or COOKIE ACK is acknowledged at
        // once, in the same packet as the COOKIE ACK where possible: the
        // peer's first message then costs no delayed-SACK wait.
        let mut setup = after_cookie_echo;
        for chunk in chunks {
            had_data |= matches!(chunk, Chunk::Data(_));
            setup |= matches!(chunk, Chunk::CookieAck);
            if !self.on_chunk(now, remote, chunk) {
                break;
            }
        }
        // §6.2: packets with DATA are counted for the every-second-packet
        // rule once the whole packet is processed.
        if let (true, Some(path)) = (had_data, &mut self.data) {
            path.unacked_packets += 1;
            if setup {
                path.sack_now = true;
                path.sack_deadline = None;
            }
            if path.sack_now {
                path.unacked_packets = 0;
            }
        }
    }

    /// Whether packets are waiting in `poll_transmit`.
    pub(crate) fn has_pending_transmit(&self) -> bool {
        !self.queue.is_empty()
            || self.data.as_ref().is_some_and(|d| {
                d.sack_now || (d.tx.has_pending() && self.can_send_data() && self.data_path_open())
            })
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
                    self.establish(now);
                    let up = self.established();
                    self.events.push_back(Event::Up(up));
                }
            }
            // §8.3: answer from the address the HEARTBEAT came to, to the
            // address it came from, with its info unchanged.
            Chunk::Heartbeat(hb) if self.peer_tag != 0 => {
                let ack = Chunk::HeartbeatAck(Heartbeat {
                    info: hb.info.clone(),
                });
                self.queue(remote, self.peer_tag, ack);
            }
            Chunk::HeartbeatAck(ack) => self.on_heartbeat_ack(now, &ack.info),
            Chunk::Abort(abort) => {
                if matches!(self.state, State::ShutdownAckSent { .. }) {
                    // Everything was delivered both ways before the SHUTDOWN
                    // ACK went out; an ABORT now is the peer, already
                    // closed (its SHUTDOWN COMPLETE lost), answering a late
                    // packet of ours (§8.4 (8)). The shutdown is complete.
                    self.state = State::Closed;
                    self.stop_data();
                    self.events.push_back(Event::ShutdownComplete);
                } else {
                    self.close(AssociationError::PeerAborted(abort.causes.clone()));
                }
                return false;
            }
            Chunk::Error(error) => self.on_error(now, error),
            Chunk::Data(data) => return self.on_data(now, remote, data),
            Chunk::Sack(sack) => {
                if let Some(path) = &mut self.data {
                    let was_blocked = path.blocked;
                    let outcome = path.tx.on_sack(now, sack, &mut self.paths);
                    if outcome.advanced {
                        if path.tx.is_idle() {
                            self.events.push_back(Event::SenderDry);
                        }
                        if was_blocked && path.tx.buffered() < self.config.send_buffer {
                            path.blocked = false;
                            self.events.push_back(Event::Writable);
                        }
                    }
                    self.on_acked(outcome);
                    self.progress_shutdown(now);
                }
            }
            Chunk::Shutdown(shutdown) => self.on_shutdown(now, remote, shutdown),
            Chunk::ShutdownAck => {
                // §9.2: answer with SHUTDOWN COMPLETE and close; in other
                // states a SHUTDOWN ACK is stale and ignored.
                if matches!(
                    self.state,
                    State::ShutdownSent { .. } | State::ShutdownAckSent { .. }
                ) {
                    let complete = Chunk::ShutdownComplete(ShutdownComplete::default());
                    self.queue(remote, self.peer_tag, complete);
                    self.state = State::Closed;
                    self.stop_data();
                    self.events.push_back(Event::ShutdownComplete);
                    return false;
                }
            }
            Chunk::ShutdownComplete(_) => {
                if matches!(self.state, State::ShutdownAckSent { .. }) {
                    self.state = State::Closed;
                    self.stop_data();
                    self.events.push_back(Event::ShutdownComplete);
                    return false;
                }
            }
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

    /// A DATA chunk (§6.2, §6.5). Returns whether to go on with the packet.
    fn on_data(&mut self, now: Instant, remote: SocketAddr, chunk: &Data) -> bool {
        let receiving = matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownSent { .. }
        );
        let Some(path) = self.data.as_mut().filter(|_| receiving) else {
            // §9.2: after the peer's SHUTDOWN no new DATA is taken.
            return true;
        };
        // §6.2: DATA without user data ends the association.
        if chunk.payload.is_empty() {
            let abort = Chunk::Abort(Abort {
                reflected_tag: false,
                causes: vec![ErrorCause::NoUserData(chunk.tsn)],
            });
            self.queue.clear();
            self.queue(remote, self.peer_tag, abort);
            self.close(AssociationError::ProtocolViolation(
                "DATA chunk without user data",
            ));
            return false;
        }
        let readable_before = path.rx.readable();
        let gaps_before = path.rx.has_gaps();
        let verdict = path.rx.on_data(chunk);
        path.sack_to = remote;
        path.unacknowledged = true;
        // §5.1: SACK at once for the association's first DATA.
        // §6.2, §6.7: SACK at once on duplicates, on gaps and when a gap
        // closes, when the sender asks (I bit, RFC 7053), and in
        // SHUTDOWN-SENT (§9.2); otherwise at least every second packet, or
        // when the delay runs out.
        let first = !std::mem::replace(&mut path.data_seen, true);
        let immediate = verdict != DataVerdict::New
            || first
            || gaps_before
            || path.rx.has_gaps()
            || chunk.flags.immediate
            || path.unacked_packets >= 1
            || matches!(self.state, State::ShutdownSent { .. });
        if immediate {
            path.sack_now = true;
        } else if path.sack_deadline.is_none() {
            path.sack_deadline = Some(now + self.config.sack_delay);
        }
        if readable_before == 0 && path.rx.readable() > 0 {
            self.events.push_back(Event::Readable);
        }
        if verdict == DataVerdict::InvalidStream {
            // §6.5: report the stream after acknowledging the TSN as usual;
            // the ERROR follows the SACK, in its packet or the next.
            path.after_sack.push(Chunk::Error(ErrorChunk {
                causes: vec![ErrorCause::InvalidStreamIdentifier(chunk.stream)],
            }));
        }
        if let State::ShutdownSent { t2, .. } = &mut self.state {
            // §9.2: acknowledge and repeat the SHUTDOWN, restarting T2.
            t2.deadline = now + t2.rto;
            let cum = self.cumulative_tsn();
            let shutdown = Chunk::Shutdown(Shutdown {
                cumulative_tsn_ack: cum,
            });
            self.queue(remote, self.peer_tag, shutdown);
        }
        true
    }
}
