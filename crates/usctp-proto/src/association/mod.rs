//! One association: the RFC 9260 state machine, sans IO.
//!
//! The [`Endpoint`](crate::endpoint::Endpoint) owns associations, feeds
//! them the packets it has demultiplexed to them, and is the only way in:
//! a user reads an association through [`Endpoint::association`] and acts
//! on it through [`Endpoint::association_mut`], whose guard hands what the
//! command produced (packets, events, timers) back to the endpoint when it
//! is dropped.
//!
//! The files, by what they own:
//!
//! - `state.rs`: the states and what each carries (the TCB once up);
//! - `input.rs`: a packet's verification tag (§8.5.1) and its chunks;
//! - `transmit.rs`: building packets (bundling, §6.10);
//! - `handshake.rs`: INIT, INIT ACK, COOKIE ECHO in every state (§5);
//! - `shutdown.rs`: the graceful shutdown (§9.2);
//! - `ack.rs`: when to send a SACK (§6.2);
//! - `rx.rs`, `tx.rs`: the two directions of data (§6);
//! - `paths.rs`, `path.rs`, `rto.rs`: destinations, heartbeats, failover,
//!   RTO (§6.3, §8);
//! - `events.rs`: what the user is told;
//! - `liveness.rs`: the invariant that nothing waits without a timer.
//!
//! [`Endpoint::association`]: crate::endpoint::Endpoint::association
//! [`Endpoint::association_mut`]: crate::endpoint::Endpoint::association_mut

mod ack;
mod cc;
mod events;
pub(crate) mod handshake;
mod input;
#[cfg(any(debug_assertions, fuzzing))]
mod liveness;
mod path;
mod paths;
mod pmtu;
mod rto;
mod rx;
mod shutdown;
mod state;
mod transmit;
mod tx;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use events::{AssocId, AssociationError, Counters, Established, Event, PathChange};
pub use path::PathState;
pub use paths::PathInfo;
pub use rx::Message;
pub use tx::{SendError, SendOptions, Unsent};

use handshake::{LocalInit, local_init_chunk};
use path::MAX_PATHS;
use paths::{ErrorOutcome, Paths};
use state::{Backoff, Closed, CookieWait, Phase, State, Target, Tcb};

use crate::chunk::{Abort, Chunk, ErrorCause};
use crate::config::{Config, ConfigError};
use crate::cookie::{CookieKeys, StateCookie};
use crate::random::Random;
use crate::serial::Tsn;

/// The state of an association, as RFC 9260 §4 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct Transmit {
    /// Where to send it: the peer's IP address and UDP port.
    pub destination: SocketAddr,
    /// The local address to send it from, when it matters.
    pub source: Option<IpAddr>,
    /// Its length; the packet is the first `size` bytes of the buffer.
    pub size: usize,
    /// The packet is larger than path MTU discovery last confirmed for its
    /// path: it carries a chunk cut for a larger path MTU before that
    /// shrank (a TSN cannot be cut again), or a State Cookie larger than
    /// the packet size. Send it with IP fragmentation allowed (the DF bit
    /// clear), or it may never pass (RFC 9260 §7.3; RFC 8899 §4.5).
    pub fragmentable: bool,
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

    /// Seed material for a generator of the association's own.
    pub fn seed(&mut self) -> [u8; 32] {
        let mut seed = [0; 32];
        self.rng.fill(&mut seed);
        seed
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

/// A chunk waiting to be sent, with the packet header it needs.
#[derive(Debug, Clone)]
struct Queued {
    destination: SocketAddr,
    vtag: u32,
    chunk: Chunk,
}

/// What an association has produced and not yet handed out: control
/// chunks to send, events for the user.
#[derive(Debug, Default, Clone)]
struct Output {
    queue: VecDeque<Queued>,
    events: VecDeque<Event>,
}

impl Output {
    fn send(&mut self, destination: SocketAddr, vtag: u32, chunk: Chunk) {
        self.queue.push_back(Queued {
            destination,
            vtag,
            chunk,
        });
    }

    /// Whether the chunk at `i` is a path MTU probe's HEARTBEAT: the PAD
    /// chunk that fills its packet follows it to the same destination.
    fn size_probe_at(&self, i: usize) -> bool {
        let (Some(hb), Some(pad)) = (self.queue.get(i), self.queue.get(i + 1)) else {
            return false;
        };
        matches!(hb.chunk, Chunk::Heartbeat(_))
            && matches!(pad.chunk, Chunk::Pad(_))
            && (hb.destination, hb.vtag) == (pad.destination, pad.vtag)
    }

    fn event(&mut self, event: Event) {
        self.events.push_back(event);
    }
}

/// What the handshake settled, from the peer's INIT ACK or a cookie: the
/// seed of a TCB.
#[derive(Debug, Clone)]
struct Negotiated {
    local_tag: u32,
    peer_tag: u32,
    local_initial_tsn: Tsn,
    peer_initial_tsn: Tsn,
    outbound_streams: u16,
    inbound_streams: u16,
    peer_rwnd: u32,
    /// The confirmed address first.
    targets: Vec<Target>,
    /// The peer's Adaptation Layer Indication (RFC 5061 §4.2.6).
    peer_adaptation: Option<u32>,
}

impl Negotiated {
    /// What a valid cookie holds, `confirmed` being the address the
    /// handshake confirmed.
    fn from_cookie(cookie: &StateCookie, confirmed: SocketAddr) -> Self {
        Self {
            local_tag: cookie.local_tag,
            peer_tag: cookie.peer_tag,
            local_initial_tsn: cookie.local_initial_tsn,
            peer_initial_tsn: cookie.peer_initial_tsn,
            outbound_streams: cookie.outbound_streams,
            inbound_streams: cookie.inbound_streams,
            peer_rwnd: cookie.peer_a_rwnd,
            targets: targets_with(confirmed, &cookie.peer_addresses),
            peer_adaptation: cookie.peer_adaptation,
        }
    }
}

/// `confirmed` first, then each of `listed` on its UDP port until a packet
/// from there says otherwise (§5.4: the others stay unconfirmed until a
/// heartbeat answers), without duplicates and within the path limit.
fn targets_with(confirmed: SocketAddr, listed: &[IpAddr]) -> Vec<Target> {
    let mut targets = vec![Target {
        address: confirmed,
        confirmed: true,
    }];
    for &ip in listed {
        add_target(&mut targets, SocketAddr::new(ip, confirmed.port()));
    }
    targets
}

/// Adds an unconfirmed target unless its address is there (or the limit
/// is reached).
fn add_target(targets: &mut Vec<Target>, address: SocketAddr) -> bool {
    if targets.len() >= MAX_PATHS || targets.iter().any(|t| t.address.ip() == address.ip()) {
        return false;
    }
    targets.push(Target {
        address,
        confirmed: false,
    });
    true
}

/// Stale-cookie retries before giving up (RFC 9260 §5.2.6 leaves the bound
/// to the implementation).
const MAX_STALE_RETRIES: u32 = 3;

/// An SCTP association.
///
/// With the `arbitrary` feature (fuzzing), `Clone`: a snapshot to start
/// each run from.
#[derive(Debug)]
#[cfg_attr(feature = "arbitrary", derive(Clone))]
pub struct Association {
    id: AssocId,
    config: Arc<Config>,
    local_port: u16,
    peer_port: u16,
    local_tag: u32,
    /// RFC 9260 §5.2.2 tie-tags: random nonces, never the real tags.
    tie_tags: (u32, u32),
    /// The peer's addresses changed since the endpoint last looked.
    addresses_changed: bool,
    /// The local address the peer sent to first: when this end lists no
    /// addresses, the only one the peer knows it by.
    local_ip: Option<IpAddr>,
    /// Heartbeat nonces and jitter: a CSPRNG of its own, seeded from the
    /// endpoint's, since a nonce a peer could predict would let it forge
    /// the HEARTBEAT ACK that confirms an address (RFC 9260 §5.4, §8.3).
    random: Random,
    out: Output,
    /// What the association counted, less what its current TCB counts.
    counters: Counters,
    /// Its share of the endpoint's receive budget, for the window it
    /// advertises.
    receive_share: Option<usize>,
    state: State,
}

/// An association's status (after RFC 6458's SCTP_STATUS).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The association's id (sstat_assoc_id).
    pub id: AssocId,
    /// Its state (sstat_state).
    pub state: AssociationState,
    /// The peer's receive window as last known (sstat_rwnd).
    pub peer_rwnd: u32,
    /// DATA chunks sent and not yet acknowledged (sstat_unackdata).
    pub unacked: usize,
    /// DATA chunks received and not yet read (sstat_penddata).
    pub pending_receipt: usize,
    /// Payload bytes queued or unacknowledged.
    pub send_queued: usize,
    /// Streams the peer may send on (sstat_instrms).
    pub inbound_streams: u16,
    /// Streams this end may send on (sstat_outstrms).
    pub outbound_streams: u16,
    /// The largest message fragment sent (sstat_fragmentation_point).
    pub fragmentation_point: usize,
    /// The primary path (sstat_primary), once there are paths.
    pub primary: Option<PathInfo>,
}

/// The parts of an association that is up (ESTABLISHED or shutting
/// down), borrowed apart so that its TCB can work with the rest.
struct Open<'a> {
    tcb: &'a mut Tcb,
    phase: &'a mut Phase,
    config: &'a Config,
    random: &'a mut Random,
    out: &'a mut Output,
}

impl Association {
    /// Its parts, if it is up.
    fn open(&mut self) -> Option<Open<'_>> {
        let Self {
            state: State::Open(tcb, phase),
            config,
            random,
            out,
            ..
        } = self
        else {
            return None;
        };
        Some(Open {
            tcb,
            phase,
            config,
            random,
            out,
        })
    }

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
            adaptation: config.adaptation_indication,
        };
        let init = local_init_chunk(&local, ctx.local_addresses, None);
        let tie_tags = (ctx.nonzero(), ctx.nonzero());
        let seed = ctx.seed();
        let t1 = Backoff::start(now, config.rto_initial);
        let mut assoc = Self::new(id, config, ports, local.tag, tie_tags, seed);
        assoc.out.send(remote, 0, Chunk::Init(init.clone()));
        assoc.state = State::CookieWait(CookieWait {
            init,
            t1,
            stale_retries: 0,
            targets: vec![Target {
                address: remote,
                confirmed: true,
            }],
        });
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
        let tie_tags = (ctx.nonzero(), ctx.nonzero());
        let ports = (cookie.local_port, cookie.peer_port);
        let seed = ctx.seed();
        let mut assoc = Self::new(id, config, ports, cookie.local_tag, tie_tags, seed);
        // §5.4: the address the INIT ACK went to (the INIT's source, first
        // in the cookie) is the one the handshake confirms, wherever the
        // COOKIE ECHO came from.
        let confirmed = cookie
            .peer_addresses
            .first()
            .map_or(remote, |&ip| SocketAddr::new(ip, remote.port()));
        let mut negotiated = Negotiated::from_cookie(cookie, confirmed);
        add_target(&mut negotiated.targets, remote);
        assoc.establish(now, negotiated);
        let peer_tag = cookie.peer_tag;
        assoc.out.send(remote, peer_tag, Chunk::CookieAck);
        // A COOKIE ACK to an unconfirmed address carries a HEARTBEAT
        // behind it (§5.4), which starts confirming the address.
        if let State::Open(tcb, _) = &mut assoc.state
            && let Some(i) = tcb.paths.index_of(remote)
            && !tcb.paths.list[i].confirmed
        {
            tcb.send_probe(now, i, true, &mut assoc.random, &mut assoc.out);
        }
        assoc.announce(false);
        assoc
    }

    fn new(
        id: AssocId,
        config: Arc<Config>,
        ports: (u16, u16),
        local_tag: u32,
        tie_tags: (u32, u32),
        seed: [u8; 32],
    ) -> Self {
        Self {
            id,
            config,
            local_port: ports.0,
            peer_port: ports.1,
            local_tag,
            tie_tags,
            addresses_changed: true,
            local_ip: None,
            random: Random::from_seed(seed),
            out: Output::default(),
            counters: Counters::default(),
            receive_share: None,
            state: State::Closed(Closed::default()),
        }
    }

    /// Enters ESTABLISHED with a new TCB: data transfer starts (or
    /// restarts) from the negotiated sequence numbers and streams.
    fn establish(&mut self, now: Instant, n: Negotiated) {
        self.absorb_counts();
        let config = &self.config;
        self.local_tag = n.local_tag;
        // One packet size for every path: the smallest any of them takes.
        let packet_size = n
            .targets
            .iter()
            .map(|t| config.packet_size_to(t.address))
            .min()
            .unwrap_or(config.max_packet_size);
        // Congestion control counts DATA payload bytes, not chunk headers
        // and padding (a choice of this end; §7.2.2 counts those too).
        let pmdcs = packet_size - 12 - 16;
        let mut paths = Paths::start(
            &n.targets,
            now,
            config,
            pmdcs,
            n.peer_rwnd,
            &mut self.random,
        );
        paths.select_primary(&mut self.out, config.primary_failback);
        let tcb = Tcb {
            peer_tag: n.peer_tag,
            outbound_streams: n.outbound_streams,
            inbound_streams: n.inbound_streams,
            packet_size,
            rx: rx::Rx::new(
                n.peer_initial_tsn,
                n.inbound_streams,
                config.receive_window,
                config.partial_delivery_point(),
            ),
            tx: tx::Tx::new(
                n.local_initial_tsn,
                n.outbound_streams,
                n.peer_rwnd,
                packet_size,
                config,
            ),
            acks: ack::AckScheduler::new(paths.primary_remote(), config.sack_frequency),
            paths,
            last_data: now,
            autoclose: config.autoclose,
            peer_adaptation: n.peer_adaptation,
        };
        self.state = State::Open(Box::new(tcb), Phase::Established);
        self.set_receive_share(self.receive_share);
        self.addresses_changed = true;
    }

    /// The events of an association that came up (or restarted): the
    /// event itself, then the peer's adaptation layer if it named one.
    fn announce(&mut self, restart: bool) {
        let info = self.agreed();
        self.out.event(if restart {
            Event::Restart(info)
        } else {
            Event::Up(info)
        });
        if let Some(code) = self.state.tcb().and_then(|t| t.peer_adaptation) {
            self.out.event(Event::AdaptationIndication(code));
        }
    }

    /// Further peer addresses to try the INIT on, before the peer's INIT
    /// ACK says which addresses it has.
    pub(crate) fn add_init_targets(&mut self, also: &[IpAddr]) {
        if let State::CookieWait(s) = &mut self.state {
            let port = s.targets[0].address.port();
            for &ip in also {
                add_target(&mut s.targets, SocketAddr::new(ip, port));
            }
        }
        self.addresses_changed = true;
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

    fn agreed(&self) -> Established {
        let (outbound_streams, inbound_streams) = self.streams();
        Established {
            outbound_streams,
            inbound_streams,
            peer_addresses: self.state.tcb().map_or_else(Vec::new, |tcb| {
                tcb.paths.list.iter().map(|p| p.remote).collect()
            }),
            local_port: self.local_port,
            peer_port: self.peer_port,
        }
    }

    /// Replaces this association's protocol parameters (after the socket
    /// options SCTP_RTOINFO, SCTP_PEER_ADDR_PARAMS, SCTP_ASSOCINFO):
    /// timers, retransmission limits, heartbeats, SACK delay, send buffer
    /// and failover behaviour take the new values from now on; what the
    /// handshake fixed (streams, initial TSNs, the advertised window and
    /// the packet size) stays.
    pub(crate) fn set_config(&mut self, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        if let Some(tcb) = self.state.tcb_mut() {
            for path in &mut tcb.paths.list {
                path.rto.set_bounds(config.rto_min, config.rto_max);
            }
            tcb.tx.set_limits(&config);
            tcb.autoclose = config.autoclose;
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
        self.state.name()
    }

    /// The verification tag this end chose.
    pub fn local_tag(&self) -> u32 {
        self.local_tag
    }

    /// The verification tag the peer chose (0 until known).
    pub fn peer_tag(&self) -> u32 {
        self.state.peer_tag().unwrap_or(0)
    }

    /// This end's SCTP port.
    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    /// The peer's SCTP port.
    pub fn peer_port(&self) -> u16 {
        self.peer_port
    }

    /// Negotiated (outbound, inbound) stream counts; before the peer
    /// answered, what this end asks for.
    pub fn streams(&self) -> (u16, u16) {
        match &self.state {
            State::CookieWait(s) => (s.init.outbound_streams, s.init.inbound_streams),
            State::CookieEchoed(s) => (s.peer.outbound_streams, s.peer.inbound_streams),
            State::Open(tcb, _) => (tcb.outbound_streams, tcb.inbound_streams),
            State::Closed(_) => (0, 0),
        }
    }

    /// What the association agreed on when it came up (as
    /// [`Event::Up`] told it), while it is established.
    pub fn established(&self) -> Option<Established> {
        (self.state() == AssociationState::Established).then(|| self.agreed())
    }

    /// The peer's transport addresses, primary first.
    pub fn peer_addresses(&self) -> Vec<SocketAddr> {
        self.state.peer_addresses()
    }

    /// Whether a packet from `ip` belongs to one of this association's
    /// paths.
    pub(crate) fn has_peer_address(&self, ip: IpAddr) -> bool {
        self.state.has_peer_address(ip)
    }

    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// Where packets that are not replies go: the primary path, or before
    /// the association is up, the first address.
    fn primary_remote(&self) -> SocketAddr {
        match &self.state {
            State::CookieWait(s) => s.targets[0].address,
            State::CookieEchoed(s) => s.peer.targets[0].address,
            State::Open(tcb, _) => tcb.paths.primary_remote(),
            State::Closed(c) => c
                .addresses
                .first()
                .copied()
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
        }
    }

    /// Ends the association: the user hears why, and what was never
    /// delivered (§9.1, §5.2.4 A). Messages already received stay readable
    /// until the user takes them.
    fn close(&mut self, error: AssociationError) {
        let event = match self.state {
            State::CookieWait(_) | State::CookieEchoed(_) => Event::CantStart(error),
            State::Closed(_) => return,
            State::Open(..) => Event::Lost(error),
        };
        // What was never delivered is reported first: the end is the last
        // a user hears of the association.
        self.close_quietly();
        self.out.event(event);
    }

    /// Enters CLOSED, reporting only what was never delivered.
    fn close_quietly(&mut self) {
        self.absorb_counts();
        let addresses = self.state.peer_addresses();
        let unread = match std::mem::take(&mut self.state) {
            State::Open(mut tcb, _) => {
                report_unsent(&mut tcb.tx, &mut self.out);
                if let Some((stream, ssn)) = tcb.rx.partial_delivery() {
                    self.out
                        .event(Event::PartialDeliveryAborted { stream, ssn });
                }
                tcb.rx.into_unread()
            }
            State::Closed(closed) => closed.unread,
            _ => VecDeque::new(),
        };
        self.state = State::Closed(Closed { unread, addresses });
    }

    /// Aborts the association (RFC 9260 §9.1), telling the peer why.
    pub(crate) fn abort(&mut self, reason: &[u8]) {
        if self.is_closed() {
            return;
        }
        // In COOKIE-WAIT the peer holds no state and its tag is unknown:
        // there is nobody to tell.
        if let Some(peer_tag) = self.state.peer_tag() {
            let abort = Chunk::Abort(Abort {
                reflected_tag: false,
                causes: vec![ErrorCause::UserInitiatedAbort(Bytes::copy_from_slice(
                    reason,
                ))],
            });
            // An ABORT goes alone, ahead of anything still queued.
            self.out.queue.clear();
            let to = self.primary_remote();
            self.out.send(to, peer_tag, abort);
        }
        self.close(AssociationError::LocalAbort);
    }

    /// The peer is unreachable (§8.1): ABORT and close.
    fn give_up(&mut self) {
        if let Some(peer_tag) = self.state.peer_tag() {
            let to = self.primary_remote();
            self.out.send(to, peer_tag, Chunk::Abort(Abort::default()));
        }
        self.close(AssociationError::RetransmissionLimit);
    }

    /// Limits the receive window this association advertises to `share`
    /// bytes (its part of the endpoint's receive budget).
    pub(crate) fn set_receive_share(&mut self, share: Option<usize>) {
        self.receive_share = share;
        if let State::Open(tcb, _) = &mut self.state {
            tcb.rx.set_share(share);
        }
    }

    /// The next event, if any.
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.state.next_deadline()
    }

    /// Acts on expired timers.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if !self.handshake_timeout(now) || !self.shutdown_timeout(now) {
            return;
        }
        let Some(Open {
            tcb,
            config,
            random,
            out,
            ..
        }) = self.open()
        else {
            return;
        };
        tcb.acks.on_timeout(now);
        tcb.tx.on_timers(now, &mut tcb.paths.list);
        if tcb.path_timers(now, config, random, out) == ErrorOutcome::PeerUnreachable {
            self.give_up();
            return;
        }
        // SCTP_AUTOCLOSE: an association idle that long shuts down.
        let idle = matches!(self.state, State::Open(_, Phase::Established))
            && self
                .state
                .tcb()
                .and_then(Tcb::autoclose_at)
                .is_some_and(|t| now >= t);
        if idle {
            self.shutdown(now);
        }
    }

    /// The send buffer, while messages may be queued (§6.1): not before
    /// the association is up, nor after shutdown began.
    pub(crate) fn send_buffer(&mut self) -> Result<&mut tx::Tx, SendError> {
        match &mut self.state {
            State::Open(tcb, Phase::Established) => Ok(&mut tcb.tx),
            _ => Err(SendError::NotOpen),
        }
    }

    /// The next received message, if one is ready; its bytes leave the
    /// receive window.
    pub(crate) fn recv(&mut self) -> Option<Message> {
        let message = self.recv_held()?;
        self.release(message.data.len());
        Some(message)
    }

    /// The next received message, its bytes still counted against the
    /// receive window until `release` says the application took them.
    pub(crate) fn recv_held(&mut self) -> Option<Message> {
        match &mut self.state {
            State::Open(tcb, _) => tcb.rx.recv_held(),
            State::Closed(closed) => closed.unread.pop_front(),
            _ => None,
        }
    }

    /// The application consumed `bytes` of messages taken with
    /// `recv_held`: the window opens by as much.
    pub(crate) fn release(&mut self, bytes: usize) {
        if let State::Open(tcb, _) = &mut self.state {
            tcb.rx.release(bytes);
            // §6.2: tell the peer when reading reopened the window.
            if tcb.rx.window_update_due(tcb.packet_size) {
                tcb.acks.window_update();
            }
        }
    }

    /// Messages ready for `recv`.
    pub fn readable(&self) -> usize {
        match &self.state {
            State::Open(tcb, _) => tcb.rx.readable(),
            State::Closed(closed) => closed.unread.len(),
            _ => 0,
        }
    }

    /// Payload bytes queued or unacknowledged.
    pub fn buffered_amount(&self) -> usize {
        self.state.tcb().map_or(0, |tcb| tcb.tx.buffered())
    }

    /// The peer's receive window as last known.
    pub fn peer_rwnd(&self) -> u32 {
        match &self.state {
            State::CookieEchoed(s) => s.peer.rwnd,
            State::Open(tcb, _) => tcb.tx.peer_rwnd(),
            _ => 0,
        }
    }

    /// The congestion window of the primary path.
    pub fn cwnd(&self) -> usize {
        self.state
            .tcb()
            .map_or(0, |tcb| tcb.paths.list[tcb.paths.primary].cwnd)
    }

    /// The retransmission timeout of the primary path.
    pub fn rto(&self) -> Duration {
        self.state.tcb().map_or(self.config.rto_initial, |tcb| {
            tcb.paths.list[tcb.paths.primary].rto.rto()
        })
    }

    /// The smoothed round-trip time of the primary path, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        let tcb = self.state.tcb()?;
        tcb.paths.list[tcb.paths.primary].rto.srtt()
    }

    /// DATA chunks sent and not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.state.tcb().map_or(0, |tcb| tcb.tx.outstanding_count())
    }

    /// Every peer address with its state, primary first. Before the
    /// association is up, the addresses it tries, with the initial RTO.
    pub fn paths(&self) -> Vec<PathInfo> {
        if let Some(tcb) = self.state.tcb() {
            return tcb.paths.info();
        }
        let targets: &[Target] = match &self.state {
            State::CookieWait(s) => &s.targets,
            State::CookieEchoed(s) => &s.peer.targets,
            _ => &[],
        };
        targets
            .iter()
            .enumerate()
            .map(|(i, t)| PathInfo {
                address: t.address,
                state: PathState::Active,
                confirmed: t.confirmed,
                primary: i == 0,
                srtt: None,
                rto: self.config.rto_initial,
                cwnd: 0,
                flight: 0,
                error_count: 0,
                mtu: self.config.packet_size_to(t.address),
            })
            .collect()
    }

    /// Makes `address` the primary path (SCTP_PRIMARY_ADDR). `false` if it
    /// is not one of the peer's addresses or the association is not up.
    pub(crate) fn set_primary(&mut self, address: SocketAddr) -> bool {
        let Some(Open { tcb, out, .. }) = self.open() else {
            return false;
        };
        tcb.paths.set_primary(address, out)
    }

    /// Sends a heartbeat to `address` now (heartbeat on demand, §8.3).
    /// `false` if the address is unknown, the association is not up, or a
    /// heartbeat to it is already waiting for its answer.
    pub(crate) fn request_heartbeat(&mut self, now: Instant, address: SocketAddr) -> bool {
        let Some(Open {
            tcb, random, out, ..
        }) = self.open()
        else {
            return false;
        };
        let Some(i) = tcb.paths.index_of(address) else {
            return false;
        };
        if tcb.paths.list[i].probe.is_some() {
            return false;
        }
        tcb.send_probe(now, i, true, random, out);
        true
    }

    /// A send to `destination` failed locally (no route, interface down):
    /// the packet never left, so this is a path failure, not loss.
    pub(crate) fn on_send_error(&mut self, now: Instant, destination: SocketAddr) {
        let Some(Open {
            tcb, config, out, ..
        }) = self.open()
        else {
            return;
        };
        if tcb.on_send_error(now, destination, config, out) == ErrorOutcome::PeerUnreachable {
            self.give_up();
        }
    }
}

impl Association {
    /// Moves what the TCB counted into the association's counters, before
    /// the TCB goes (close, restart).
    fn absorb_counts(&mut self) {
        if let Some(tcb) = self.state.tcb_mut() {
            let (tx, rx) = (
                std::mem::take(&mut tcb.tx.stats),
                std::mem::take(&mut tcb.rx.stats),
            );
            add_tcb_counts(&mut self.counters, tx, rx);
        }
    }

    /// What the association has counted since it was made (after RFC
    /// 6458's SCTP_GET_ASSOC_STATS).
    pub fn counters(&self) -> Counters {
        let mut counters = self.counters;
        if let Some(tcb) = self.state.tcb() {
            add_tcb_counts(&mut counters, tcb.tx.stats, tcb.rx.stats);
        }
        counters
    }

    /// The association's status (SCTP_STATUS).
    pub fn status(&self) -> Status {
        let (outbound_streams, inbound_streams) = self.streams();
        let tcb = self.state.tcb();
        Status {
            id: self.id,
            state: self.state(),
            peer_rwnd: self.peer_rwnd(),
            unacked: self.unacked(),
            pending_receipt: tcb.map_or(self.readable(), |t| t.rx.pending_chunks()),
            send_queued: self.buffered_amount(),
            inbound_streams,
            outbound_streams,
            fragmentation_point: tcb.map_or(0, |t| t.tx.fragment_size()),
            primary: self.paths().into_iter().next(),
        }
    }
}

fn add_tcb_counts(c: &mut Counters, tx: tx::TxStats, rx: rx::RxStats) {
    c.data_chunks_sent.0 += tx.data_sent.0;
    c.data_chunks_sent.1 += tx.data_sent.1;
    c.retransmitted_chunks += tx.retransmitted;
    c.fast_retransmits += tx.fast_retransmits;
    c.t3_expiries += tx.t3_expiries;
    c.lost_retransmissions += tx.lost_retransmissions;
    c.loss_probes += tx.loss_probes;
    c.data_chunks_received.0 += rx.data_received.0;
    c.data_chunks_received.1 += rx.data_received.1;
    c.duplicates_received += rx.duplicates;
    c.out_of_sequence_received += rx.out_of_sequence;
}

/// Reports data that will never be delivered (§9.1, §5.2.4 A).
fn report_unsent(tx: &mut tx::Tx, out: &mut Output) {
    let messages = tx.drain_unsent();
    if !messages.is_empty() {
        out.event(Event::SendFailed(messages));
    }
}

impl Default for State {
    /// A placeholder while a state is being moved out.
    fn default() -> Self {
        Self::Closed(Closed::default())
    }
}
