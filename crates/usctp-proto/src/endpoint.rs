//! The endpoint: one SCTP port, its associations, and everything that
//! happens before an association exists (RFC 9260 §5.1, §8.4), sans IO.
//!
//! # Call order
//!
//! Feed it datagrams with [`Endpoint::handle`] and expired deadlines with
//! [`Endpoint::handle_timeout`]; after any input, drain
//! [`Endpoint::poll_transmit`] until `None`, re-arm the timer from
//! [`Endpoint::poll_timeout`], then drain [`Endpoint::poll_event`].
//!
//! # No state before the cookie
//!
//! An INIT from an unknown peer is answered with an INIT ACK built from the
//! INIT alone; the state needed later travels in the signed cookie. Nothing
//! is stored per peer until a valid COOKIE ECHO comes back: the only memory
//! an INIT flood can take is the bounded queue of replies not yet sent.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::association::handshake::{self, InitVerdict, LocalInit};
use crate::association::{AssocId, Association, Context, Event, Transmit};
use crate::chunk::packet::{self, COMMON_HEADER_LEN};
use crate::chunk::{
    Abort, Chunk, CommonHeader, ErrorCause, ErrorChunk, Init, Packet, PacketWriter,
    ShutdownComplete,
};
use crate::config::Config;
use crate::cookie::{CookieError, CookieKeys, KEY_LEN};
use crate::random::Random;
use crate::serial::Tsn;

/// The context an association borrows from the endpoint while it handles an
/// input: built from disjoint fields, so the association table stays free.
macro_rules! context {
    ($ep:ident, $clock_ms:expr) => {
        Context {
            config: &$ep.config,
            rng: &mut $ep.rng,
            keys: &$ep.keys,
            clock_ms: $clock_ms,
            local_addresses: &$ep.local_addresses,
        }
    };
}

/// Stateless replies waiting to be sent, at most; more are dropped, as a
/// router would.
const MAX_QUEUED_REPLIES: usize = 256;

/// Why `connect` refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// An association with that peer address and port exists already.
    AlreadyConnected(AssocId),
    /// The endpoint holds as many associations as it may.
    TooManyAssociations,
    /// The peer port 0 cannot be addressed.
    InvalidPort,
    /// The association's own parameters contradict each other.
    InvalidConfig(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AlreadyConnected(id) => write!(f, "already associated with that peer ({id})"),
            Self::TooManyAssociations => f.write_str("association limit reached"),
            Self::InvalidPort => f.write_str("peer port 0"),
            Self::InvalidConfig(why) => write!(f, "invalid parameters: {why}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Counters of what the endpoint dropped, for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Datagrams whose checksum failed.
    pub bad_checksum: u64,
    /// Datagrams that were not well-formed SCTP.
    pub malformed: u64,
    /// Stateless replies not sent because of the rate limit or a full queue.
    pub replies_suppressed: u64,
    /// INITs answered with an INIT ACK without keeping state.
    pub init_acks_sent: u64,
}

/// A token bucket limiting stateless replies (RFC 9260 §8.4 lets an
/// endpoint answer out-of-the-blue packets; it must not become a reflector).
#[derive(Debug)]
struct RateLimit {
    per_second: u32,
    tokens: u32,
    refilled: Instant,
}

impl RateLimit {
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

/// An SCTP endpoint on one port.
#[derive(Debug)]
pub struct Endpoint {
    config: Arc<Config>,
    port: u16,
    local_addresses: Vec<IpAddr>,
    listening: bool,
    max_associations: usize,
    rng: Random,
    keys: CookieKeys,
    epoch: Instant,
    next_id: u64,
    associations: BTreeMap<AssocId, Association>,
    /// The chunk vector of the last packet parsed, kept for the next one.
    spare_chunks: Vec<Chunk>,
    /// The local address the datagram being handled was sent to, if known.
    arrived_at: Option<IpAddr>,
    /// Associations that may have packets to send: those touched since
    /// `poll_transmit` last found them with nothing, so it need not visit
    /// every idle association for every packet.
    ready: BTreeSet<AssocId>,
    /// Every association's next deadline, earliest first, so that
    /// `poll_timeout` and `handle_timeout` need not visit every association.
    timers: BTreeSet<(Instant, AssocId)>,
    /// The deadline each association has in `timers`.
    deadlines: HashMap<AssocId, Instant>,
    /// Associations handed out by `association_mut` since their deadline
    /// was last read: their entries in `timers` may be out of date. The
    /// endpoint updates the others' entries as it acts on them.
    touched: BTreeSet<AssocId>,
    by_peer: HashMap<(IpAddr, u16), AssocId>,
    registered: HashMap<AssocId, Vec<(IpAddr, u16)>>,
    replies: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<(AssocId, Event)>,
    limit: RateLimit,
    /// Where round-robin transmission resumes.
    cursor: AssocId,
    stats: EndpointStats,
}

impl Endpoint {
    /// An endpoint on SCTP `port`, seeded with 32 bytes of randomness (the
    /// driver takes them from the OS; tests fix them).
    ///
    /// # Panics
    ///
    /// If `config` is invalid ([`Config::validate`] says why) or `port` is
    /// 0; the UDP driver checks both first and returns an error instead.
    pub fn new(config: Config, port: u16, seed: [u8; 32], now: Instant) -> Self {
        if let Err(e) = config.validate() {
            panic!("invalid endpoint configuration: {e}");
        }
        assert!(port != 0, "SCTP port 0 is reserved (RFC 9260 §3.1)");
        let mut rng = Random::from_seed(seed);
        let mut secret = [0; KEY_LEN];
        rng.fill(&mut secret);
        let rotation_ms = config.cookie_key_rotation.as_millis();
        let keys = CookieKeys::new(secret, 0, u64::try_from(rotation_ms).unwrap_or(u64::MAX));
        let limit = RateLimit {
            per_second: config.stateless_replies_per_second,
            tokens: config.stateless_replies_per_second,
            refilled: now,
        };
        Self {
            config: Arc::new(config),
            port,
            local_addresses: Vec::new(),
            listening: false,
            max_associations: usize::MAX,
            rng,
            keys,
            epoch: now,
            next_id: 1,
            associations: BTreeMap::new(),
            spare_chunks: Vec::new(),
            arrived_at: None,
            ready: BTreeSet::new(),
            timers: BTreeSet::new(),
            deadlines: HashMap::new(),
            touched: BTreeSet::new(),
            by_peer: HashMap::new(),
            registered: HashMap::new(),
            replies: VecDeque::new(),
            events: VecDeque::new(),
            limit,
            cursor: AssocId(0),
            stats: EndpointStats::default(),
        }
    }

    /// Accept associations that peers start (a listening socket).
    pub fn listen(&mut self, max_associations: usize) {
        self.listening = true;
        self.max_associations = max_associations;
    }

    /// The addresses to advertise in INIT and INIT ACK. Empty (the
    /// default) advertises none: the peer then uses the address the packets
    /// come from (RFC 9260 §5.1.2), and a wildcard bind never advertises
    /// unreachable host addresses.
    pub fn set_local_addresses(&mut self, addresses: Vec<IpAddr>) {
        // §3.3.2.1: an IPv4 address goes as IPv4, never IPv4-mapped IPv6.
        self.local_addresses = addresses.into_iter().map(|a| a.to_canonical()).collect();
    }

    /// This endpoint's SCTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The protocol parameters.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What has been dropped so far.
    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// The association `id`, if it exists.
    pub fn association(&self, id: AssocId) -> Option<&Association> {
        self.associations.get(&id)
    }

    /// The association `id`, to act on it.
    pub fn association_mut(&mut self, id: AssocId) -> Option<&mut Association> {
        // The caller may queue data (look at it in `poll_transmit`) or
        // change timers.
        self.ready.insert(id);
        self.touched.insert(id);
        self.associations.get_mut(&id)
    }

    /// Number of associations held (in any state).
    pub fn association_count(&self) -> usize {
        self.associations.len()
    }

    /// Entries in the demultiplexing table (peer addresses).
    pub fn peer_table_len(&self) -> usize {
        self.by_peer.len()
    }

    fn clock_ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn rotate_keys(&mut self, now: Instant) {
        let clock = self.clock_ms(now);
        if clock >= self.keys.next_rotation_ms() {
            let mut secret = [0; KEY_LEN];
            self.rng.fill(&mut secret);
            self.keys.rotate(secret, clock);
        }
    }

    /// The association with the peer at `remote` (any of its addresses)
    /// and SCTP port `peer_port`, if there is one.
    pub fn association_to(&self, remote: SocketAddr, peer_port: u16) -> Option<AssocId> {
        self.by_peer.get(&(remote.ip(), peer_port)).copied()
    }

    /// Starts an association with the peer at UDP address `remote`, SCTP
    /// port `peer_port`.
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        peer_port: u16,
    ) -> Result<AssocId, ConnectError> {
        self.connect_multihomed(now, remote, &[], peer_port)
    }

    /// As `connect`, knowing further addresses of the peer (on `remote`'s
    /// UDP port): INIT retransmissions go to each in turn and an INIT ACK
    /// from any of them is taken (RFC 9260 §5.1, §6.4).
    pub fn connect_multihomed(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        also: &[IpAddr],
        peer_port: u16,
    ) -> Result<AssocId, ConnectError> {
        let config = self.config.clone();
        self.start_association(now, remote, also, peer_port, config)
    }

    /// As `connect_multihomed`, with protocol parameters of its own for this
    /// association instead of the endpoint's.
    pub fn connect_with_config(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        also: &[IpAddr],
        peer_port: u16,
        config: Config,
    ) -> Result<AssocId, ConnectError> {
        config.validate().map_err(ConnectError::InvalidConfig)?;
        self.start_association(now, remote, also, peer_port, Arc::new(config))
    }

    fn start_association(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        also: &[IpAddr],
        peer_port: u16,
        config: Arc<Config>,
    ) -> Result<AssocId, ConnectError> {
        if peer_port == 0 {
            return Err(ConnectError::InvalidPort);
        }
        if let Some(&id) = self.by_peer.get(&(remote.ip(), peer_port)) {
            return Err(ConnectError::AlreadyConnected(id));
        }
        if self.associations.len() >= self.max_associations {
            return Err(ConnectError::TooManyAssociations);
        }
        let id = self.allocate_id();
        let clock_ms = self.clock_ms(now);
        let mut ctx = context!(self, clock_ms);
        let mut assoc =
            Association::connect(id, config, now, remote, (self.port, peer_port), &mut ctx);
        assoc.add_init_targets(also);
        self.associations.insert(id, assoc);
        self.sync(id);
        Ok(id)
    }

    fn allocate_id(&mut self) -> AssocId {
        let id = AssocId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Handles one received datagram: `remote` is its UDP source.
    pub fn handle(&mut self, now: Instant, remote: SocketAddr, datagram: Bytes) {
        self.handle_at(now, remote, None, datagram);
    }

    /// As `handle`, knowing the local address the datagram was sent to. An
    /// endpoint that advertises no addresses is known to each peer by that
    /// address only, so its associations send from it (see
    /// [`Transmit::source`]).
    pub fn handle_at(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<IpAddr>,
        datagram: Bytes,
    ) {
        self.arrived_at = local;
        self.update_timers();
        let datagram_len = datagram.len();
        // RFC 9260 §6.8: a packet with a bad checksum is dropped silently.
        if packet::verify_checksum(&datagram).is_err() {
            trace!(%remote, "dropped: bad checksum");
            self.stats.bad_checksum += 1;
            return;
        }
        let spare = std::mem::take(&mut self.spare_chunks);
        let packet = match Packet::parse_unverified_into(datagram, spare) {
            Ok(p) => p,
            Err(_e) => {
                trace!(%remote, error = %_e, "dropped: malformed");
                self.stats.malformed += 1;
                return;
            }
        };
        // §6.10: INIT, INIT ACK and SHUTDOWN COMPLETE travel alone. A packet
        // bundling one with other chunks is discarded whole, in any state
        // (ETSI BDC-i-7-2 and -7-3 accept this; the sender retransmits).
        if packet.check_bundling().is_err() {
            self.stats.malformed += 1;
            return;
        }
        // §3.1: SCTP port 0 is never used, so nothing from it (or to it) is
        // taken or answered.
        if packet.header.src_port == 0 || packet.header.dst_port == 0 {
            self.stats.malformed += 1;
            return;
        }
        // §8.4 (1): nothing from a non-unicast source is answered or kept.
        let ip = remote.ip();
        if ip.is_unspecified()
            || ip.is_multicast()
            || matches!(ip, IpAddr::V4(a) if a.is_broadcast())
        {
            return;
        }
        self.rotate_keys(now);
        let header = packet.header;
        let key = (ip, header.src_port);
        if header.dst_port == self.port {
            if let Some(&id) = self.by_peer.get(&key) {
                self.route_to(id, now, remote, &packet);
                // The chunk vector serves the next packet.
                let mut chunks = packet.chunks;
                chunks.clear();
                self.spare_chunks = chunks;
                return;
            }
        }
        self.without_association(now, remote, packet, datagram_len);
    }

    fn route_to(&mut self, id: AssocId, now: Instant, remote: SocketAddr, packet: &Packet) {
        let clock_ms = self.clock_ms(now);
        let Some(assoc) = self.associations.get_mut(&id) else {
            return;
        };
        if let Some(local) = self.arrived_at {
            assoc.note_local_address(local);
        }
        let mut ctx = context!(self, clock_ms);
        assoc.handle_packet(now, remote, packet, &mut ctx);
        self.sync(id);
    }

    /// §8.4 and §5.1: packets that no association claims.
    fn without_association(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        packet: Packet,
        datagram_len: usize,
    ) {
        let header = packet.header;
        let wrong_port = header.dst_port != self.port;
        let contains = |f: fn(&Chunk) -> bool| packet.chunks.iter().any(f);
        // §8.4 (2): a packet holding an ABORT is dropped without a word,
        // whatever else it holds; this rule comes before all the others.
        if contains(|c| matches!(c, Chunk::Abort(_))) {
            return;
        }
        // §8.5.1 (A): tag 0 belongs to a lone INIT; any other packet with it
        // is discarded silently, never answered.
        if header.verification_tag == 0 && !matches!(packet.chunks[..], [Chunk::Init(_)]) {
            return;
        }
        match packet.chunks.first() {
            // §8.4 (3) and §8.5.1 (A): an INIT comes alone with tag 0;
            // otherwise it is dropped silently.
            Some(Chunk::Init(init)) => {
                if packet.chunks.len() != 1 || header.verification_tag != 0 {
                    return;
                }
                if !wrong_port {
                    // §5.2.2: an INIT from a new address of an existing
                    // association is that association's business.
                    let existing = init
                        .params
                        .iter()
                        .filter_map(|p| p.address())
                        .find_map(|a| self.by_peer.get(&(a, header.src_port)).copied());
                    if let Some(id) = existing {
                        self.route_to(id, now, remote, &packet);
                        return;
                    }
                }
                if wrong_port || !self.listening || self.associations.len() >= self.max_associations
                {
                    // Nobody accepts it: answered with an ABORT.
                    let causes = if wrong_port || !self.listening {
                        vec![]
                    } else {
                        vec![ErrorCause::OutOfResource]
                    };
                    let abort = Chunk::Abort(Abort {
                        reflected_tag: false,
                        causes,
                    });
                    self.reply(now, remote, header, init.initiate_tag, &abort);
                    return;
                }
                self.answer_init(now, remote, header, init, datagram_len);
            }
            // §8.4 (4): a COOKIE ECHO goes to §5.1.
            Some(Chunk::CookieEcho(echo)) if !wrong_port => {
                let echo = echo.cookie.clone();
                self.cookie_echo(now, remote, packet, &echo);
            }
            _ => {
                // §8.4 (5): SHUTDOWN ACK gets SHUTDOWN COMPLETE with the T bit.
                if contains(|c| matches!(c, Chunk::ShutdownAck)) {
                    let reply = Chunk::ShutdownComplete(ShutdownComplete {
                        reflected_tag: true,
                    });
                    self.reply(now, remote, header, header.verification_tag, &reply);
                    return;
                }
                // §8.4 (6), (7): SHUTDOWN COMPLETE, COOKIE ACK, a Stale
                // Cookie ERROR, and an INIT out of place are not answered.
                let silent = contains(|c| match c {
                    Chunk::ShutdownComplete(_) | Chunk::CookieAck | Chunk::Init(_) => true,
                    Chunk::Error(e) => e
                        .causes
                        .iter()
                        .any(|c| matches!(c, ErrorCause::StaleCookie { .. })),
                    _ => false,
                });
                if silent || packet.chunks.is_empty() {
                    return;
                }
                // §8.4 (8): anything else gets an ABORT with the T bit.
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
        };
        let clock_ms = self.clock_ms(now);
        let ctx = context!(self, clock_ms);
        let lifespan = ctx.cookie_lifespan_ms(peer.cookie_preservative_ms);
        let cookie = handshake::cookie_for(
            &local,
            &peer,
            remote.ip(),
            (self.port, header.src_port),
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
            Err(CookieError::Forged | CookieError::Malformed | CookieError::Stale { .. }) => {
                return;
            }
        };
        // §8.5.1 (D): the packet's tag is the one the cookie holds.
        if header.verification_tag != cookie.local_tag
            || cookie.local_port != self.port
            || cookie.peer_port != header.src_port
        {
            return;
        }
        // The peer may come back from another of its addresses.
        if let Some(id) = cookie
            .peer_addresses
            .iter()
            .find_map(|&a| self.by_peer.get(&(a, header.src_port)).copied())
        {
            self.route_to(id, now, remote, &packet);
            return;
        }
        if let Some(by_us) = stale {
            // §5.1.5 step 3, §3.3.10.3: say how late it was.
            let error = Chunk::Error(ErrorChunk {
                causes: vec![ErrorCause::StaleCookie {
                    staleness_us: by_us,
                }],
            });
            self.reply(now, remote, header, cookie.peer_tag, &error);
            return;
        }
        if self.associations.len() >= self.max_associations {
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
        self.associations.insert(id, assoc);
        self.sync(id);
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
        if !self.limit.allow(now) {
            self.stats.replies_suppressed += 1;
            return;
        }
        self.queue_reply(remote, header, vtag, chunk);
    }

    fn queue_reply(&mut self, remote: SocketAddr, header: CommonHeader, vtag: u32, chunk: &Chunk) {
        if self.replies.len() >= MAX_QUEUED_REPLIES {
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
            self.replies.push_back((remote, buf));
        }
    }

    /// Drains an association's events and keeps the demultiplexing table in
    /// step with its addresses.
    fn sync(&mut self, id: AssocId) {
        let Some(assoc) = self.associations.get_mut(&id) else {
            return;
        };
        self.ready.insert(id);
        while let Some(event) = assoc.poll_event() {
            self.events.push_back((id, event));
        }
        let changed = assoc.take_addresses_changed();
        self.update_timer(id);
        if !changed {
            return;
        }
        let Some(assoc) = self.associations.get_mut(&id) else {
            return;
        };
        let port = assoc.peer_port();
        let current: Vec<(IpAddr, u16)> = assoc
            .peer_addresses()
            .iter()
            .map(|a| (a.ip(), port))
            .collect();
        let old = self
            .registered
            .insert(id, current.clone())
            .unwrap_or_default();
        for key in old {
            if self.by_peer.get(&key) == Some(&id) && !current.contains(&key) {
                self.by_peer.remove(&key);
            }
        }
        for key in current {
            self.by_peer.entry(key).or_insert(id);
        }
    }

    /// Forgets an association that is closed and has nothing left to send.
    fn reap(&mut self, id: AssocId) {
        let Some(assoc) = self.associations.get(&id) else {
            return;
        };
        // Kept while packets or unread messages remain.
        if !assoc.is_closed() || assoc.has_pending_transmit() || assoc.readable() > 0 {
            return;
        }
        self.associations.remove(&id);
        self.ready.remove(&id);
        self.update_timer(id);
        for key in self.registered.remove(&id).unwrap_or_default() {
            if self.by_peer.get(&key) == Some(&id) {
                self.by_peer.remove(&key);
            }
        }
    }

    /// Acts on expired timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.rotate_keys(now);
        self.update_timers();
        // Each association whose deadline has come acts once per call:
        // one that left a deadline in the past behind cannot hold the
        // endpoint in a loop.
        let due: Vec<AssocId> = self
            .timers
            .iter()
            .take_while(|&&(at, _)| at <= now)
            .map(|&(_, id)| id)
            .collect();
        for id in due {
            if let Some(assoc) = self.associations.get_mut(&id) {
                assoc.handle_timeout(now);
            }
            self.sync(id);
            self.reap(id);
            // The association's next deadline (or none) replaces this one.
            self.update_timer(id);
        }
    }

    /// Brings the entries of the associations touched since into `timers`.
    fn update_timers(&mut self) {
        while let Some(id) = self.touched.pop_first() {
            self.update_timer(id);
        }
    }

    fn update_timer(&mut self, id: AssocId) {
        self.touched.remove(&id);
        let next = self
            .associations
            .get(&id)
            .and_then(Association::poll_timeout);
        let old = self.deadlines.get(&id).copied();
        if next == old {
            return;
        }
        if let Some(old) = old {
            self.timers.remove(&(old, id));
        }
        match next {
            Some(at) => {
                self.timers.insert((at, id));
                self.deadlines.insert(id, at);
            }
            None => {
                self.deadlines.remove(&id);
            }
        }
    }

    /// Writes the next packet to send into `buf` (cleared first).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.update_timers();
        if let Some((destination, bytes)) = self.replies.pop_front() {
            buf.clear();
            buf.extend_from_slice(&bytes);
            return Some(Transmit {
                destination,
                source: None,
                size: bytes.len(),
            });
        }
        // Round robin over the associations that may have something,
        // starting after the last one served.
        loop {
            let next = self
                .ready
                .range((Bound::Excluded(self.cursor), Bound::Unbounded))
                .next()
                .or_else(|| self.ready.first())
                .copied()?;
            let sent = match self.associations.get_mut(&next) {
                Some(assoc) => assoc.poll_transmit(now, buf),
                None => None,
            };
            // Sending starts timers (T3-rtx, heartbeats).
            self.update_timer(next);
            if let Some(mut t) = sent {
                // With addresses advertised, every one of them is known to
                // the peer: the route decides.
                if !self.local_addresses.is_empty() {
                    t.source = None;
                }
                self.cursor = next;
                self.reap(next);
                return Some(t);
            }
            self.ready.remove(&next);
            #[cfg(any(debug_assertions, fuzzing))]
            self.assert_live(next);
            self.reap(next);
        }
    }

    /// Panics when association `id`, drained of packets, waits on nothing
    /// (see `association::liveness`). Debug builds and fuzz targets only.
    #[cfg(any(debug_assertions, fuzzing))]
    fn assert_live(&self, id: AssocId) {
        if let Some(assoc) = self.associations.get(&id) {
            if let Some(why) = assoc.liveness_violation() {
                panic!("liveness: association {id} in {:?}: {why}", assoc.state());
            }
        }
    }

    /// The earliest deadline of any timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        // The entries of touched associations may be out of date: theirs
        // are read afresh (there are few between two calls that update).
        let settled = self
            .timers
            .iter()
            .find(|(_, id)| !self.touched.contains(id))
            .map(|&(at, _)| at);
        let touched = self
            .touched
            .iter()
            .filter_map(|id| self.associations.get(id)?.poll_timeout());
        settled.into_iter().chain(touched).min()
    }

    /// The next event of any association.
    pub fn poll_event(&mut self) -> Option<(AssocId, Event)> {
        let event = self.events.pop_front();
        if let Some((id, _)) = event {
            self.reap(id);
        }
        event
    }

    /// A send to `destination` failed locally (no route, interface down):
    /// the associations with a path there treat it as failed at once.
    pub fn handle_send_error(&mut self, now: Instant, destination: SocketAddr) {
        let ids: Vec<AssocId> = self
            .associations
            .iter()
            .filter(|(_, a)| a.has_peer_address(destination.ip()))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            if let Some(assoc) = self.associations.get_mut(&id) {
                assoc.on_send_error(now, destination);
            }
            self.sync(id);
        }
    }

    /// Aborts association `id` (RFC 9260 §9.1).
    pub fn abort(&mut self, id: AssocId, reason: &[u8]) {
        if let Some(assoc) = self.associations.get_mut(&id) {
            assoc.abort(reason);
        }
        self.sync(id);
    }
}
