//! The endpoint: its SCTP ports, its associations, and everything that
//! happens before an association exists (RFC 9260 §5.1, §8.4), sans IO.
//!
//! # Call order
//!
//! Feed it datagrams with [`Endpoint::handle`] and expired deadlines with
//! [`Endpoint::handle_timeout`]; after any input, drain
//! [`Endpoint::poll_transmit`] until `None`, re-arm the timer from
//! [`Endpoint::poll_timeout`], then drain [`Endpoint::poll_event`].
//! Commands on an association go through [`Endpoint::association_mut`]:
//! what they produce is the endpoint's as soon as the guard is dropped.
//!
//! # No state before the cookie
//!
//! An INIT from an unknown peer is answered with an INIT ACK built from the
//! INIT alone; the state needed later travels in the signed cookie. Nothing
//! is stored per peer until a valid COOKIE ECHO comes back: the only memory
//! an INIT flood can take is the bounded queue of replies not yet sent.
//!
//! The files: `table.rs` holds the associations (the one structure for
//! them, demultiplexing and timers included), `stateless.rs` the packets no
//! association claims (§8.4) and the stateless half of the handshake.

mod stateless;
mod table;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::association::{
    AssocId, Association, Context, Event, Message, SendError, SendOptions, Transmit,
};
use crate::chunk::Packet;
use crate::chunk::packet;
use crate::config::{Config, ConfigError};
use crate::cookie::{CookieKeys, KEY_LEN};
use crate::random::Random;
use stateless::{RateLimit, Replies};
use table::Table;

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
use context;

/// Why `connect` refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// An association with that peer address and port exists already.
    #[error("already associated with that peer ({0})")]
    AlreadyConnected(AssocId),
    /// The endpoint holds as many associations as it may.
    #[error("association limit reached")]
    TooManyAssociations,
    /// The peer port 0 cannot be addressed.
    #[error("peer port 0")]
    InvalidPort,
    /// The association's own parameters contradict each other.
    #[error("invalid parameters")]
    InvalidConfig(#[source] ConfigError),
}

/// Counters of what the endpoint dropped, for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
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

/// A port that accepts associations peers start.
#[derive(Debug, Clone, Copy)]
struct Listener {
    /// Associations held on the port at most.
    max: usize,
    /// Taking none for now (the user's accept queue is full).
    paused: bool,
}

/// Options for [`Endpoint::connect_with`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// This end's SCTP port; `None`: the endpoint's own port if it has no
    /// association with this peer yet, else a free ephemeral one.
    pub local_port: Option<u16>,
    /// Further addresses of the peer (on the dialled address's UDP port):
    /// INIT retransmissions go to each in turn and an INIT ACK from any of
    /// them is taken (RFC 9260 §5.1, §6.4).
    pub peer_addresses: Vec<IpAddr>,
    /// Protocol parameters of its own for this association, instead of the
    /// endpoint's.
    pub config: Option<Config>,
}

crate::with_setters! {
    ConnectOptions {
        with_local_port => local_port: Option<u16>,
        with_peer_addresses => peer_addresses: Vec<IpAddr>,
        with_config => config: Option<Config>,
    }
}

/// The range ephemeral SCTP ports are taken from (the IANA dynamic
/// range, as for TCP and UDP).
const EPHEMERAL: std::ops::RangeInclusive<u16> = 49152..=65535;

/// An SCTP endpoint: SCTP ports over one transport, and their
/// associations.
///
/// With the `arbitrary` feature (fuzzing), `Clone`: a snapshot to start
/// each run from.
#[derive(Debug)]
#[cfg_attr(feature = "arbitrary", derive(Clone))]
pub struct Endpoint {
    config: Arc<Config>,
    /// The port associations this end starts use, and `listen` listens on.
    port: u16,
    /// Ports that accept associations.
    listeners: HashMap<u16, Listener>,
    local_addresses: Vec<IpAddr>,
    rng: Random,
    keys: CookieKeys,
    epoch: Instant,
    next_id: u64,
    table: Table,
    /// The chunk vector of the last packet parsed, kept for the next one.
    spare_chunks: Vec<crate::chunk::Chunk>,
    /// The local address the datagram being handled was sent to, if known.
    arrived_at: Option<IpAddr>,
    replies: Replies,
    events: VecDeque<(AssocId, Event)>,
    stats: EndpointStats,
    /// Bytes of DATA the transport below holds for all associations at
    /// once (a UDP socket's receive buffer), shared among them.
    receive_budget: Option<usize>,
    /// How many associations the budget was last divided among.
    budget_shared_by: usize,
}

impl Endpoint {
    /// An endpoint whose own associations use SCTP `port`, seeded with 32
    /// bytes of randomness (the driver takes them from the OS; tests fix
    /// them).
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
        let limit = RateLimit::new(config.stateless_replies_per_second, now);
        Self {
            config: Arc::new(config),
            port,
            listeners: HashMap::new(),
            local_addresses: Vec::new(),
            rng,
            keys,
            epoch: now,
            next_id: 1,
            table: Table::default(),
            spare_chunks: Vec::new(),
            arrived_at: None,
            replies: Replies::new(limit),
            events: VecDeque::new(),
            stats: EndpointStats::default(),
            receive_budget: None,
            budget_shared_by: 0,
        }
    }

    /// Says how many bytes of DATA the transport can hold for all the
    /// associations together before it drops datagrams (a UDP socket's
    /// receive buffer, less its per-datagram overhead). Each association
    /// then advertises at most an equal share as its receive window (RFC
    /// 9260 §6.2 lets a receiver advertise what it can take), so that
    /// many associations sending at once fill their windows rather than
    /// overflow the socket and lose their own packets. `None`: no limit
    /// but each association's window.
    pub fn set_receive_budget(&mut self, bytes: Option<usize>) {
        self.receive_budget = bytes;
        self.budget_shared_by = usize::MAX;
        self.share_receive_budget();
    }

    /// Divides the receive budget again when the number of associations
    /// changed (O(associations), once per change).
    fn share_receive_budget(&mut self) {
        let count = self.table.len();
        if count == self.budget_shared_by {
            return;
        }
        self.budget_shared_by = count;
        // At least a few full packets each, so that no association is
        // starved to a window it cannot fill one packet into.
        let floor = 4 * self.config.max_packet_size;
        let share = self
            .receive_budget
            .map(|budget| (budget / count.max(1)).max(floor));
        for assoc in self.table.each_mut() {
            assoc.set_receive_share(share);
        }
    }

    /// Accept associations that peers start on this endpoint's port (a
    /// listening socket), holding at most `max_associations` there.
    pub fn listen(&mut self, max_associations: usize) {
        self.listen_on(self.port, max_associations);
    }

    /// Accept associations on SCTP `port` too, at most `max_associations`
    /// of them at once.
    pub fn listen_on(&mut self, port: u16, max_associations: usize) {
        let listener = Listener {
            max: max_associations,
            paused: false,
        };
        self.listeners.insert(port, listener);
    }

    /// Stops accepting associations on SCTP `port`; those it has stay.
    pub fn stop_listening(&mut self, port: u16) {
        self.listeners.remove(&port);
    }

    /// While `paused`, a listener takes no new association: INITs and
    /// COOKIE ECHOs for it are answered with an ABORT saying Out of
    /// Resource (RFC 9260 §3.3.10.4), as when it is full. A driver pauses
    /// a listener whose user has not accepted the associations it has.
    pub fn pause_accepting(&mut self, port: u16, paused: bool) {
        if let Some(listener) = self.listeners.get_mut(&port) {
            listener.paused = paused;
        }
    }

    /// Whether a listener on `port` takes a new association now; `None`
    /// when nothing listens there.
    fn accepts(&self, port: u16) -> Option<bool> {
        let listener = self.listeners.get(&port)?;
        Some(!listener.paused && self.table.count_on_port(port) < listener.max)
    }

    /// Whether SCTP `port` is one this endpoint serves.
    fn serves(&self, port: u16) -> bool {
        port == self.port || self.listeners.contains_key(&port)
    }

    /// The addresses to advertise in INIT and INIT ACK. Empty (the
    /// default) advertises none: the peer then uses the address the packets
    /// come from (RFC 9260 §5.1.2), and a wildcard bind never advertises
    /// unreachable host addresses.
    pub fn set_local_addresses(&mut self, addresses: Vec<IpAddr>) {
        // §3.3.2.1: an IPv4 address goes as IPv4, never IPv4-mapped IPv6.
        self.local_addresses = addresses.into_iter().map(|a| a.to_canonical()).collect();
    }

    /// The SCTP port this endpoint's own associations use.
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
        self.table.get(id)
    }

    /// The association `id`, to act on it: what its commands produce
    /// (packets, timers, events) is taken up when the guard is dropped.
    pub fn association_mut(&mut self, id: AssocId) -> Option<AssociationMut<'_>> {
        self.table.get(id)?;
        Some(AssociationMut { endpoint: self, id })
    }

    /// Number of associations held (in any state).
    pub fn association_count(&self) -> usize {
        self.table.len()
    }

    /// Entries in the demultiplexing table (peer addresses).
    pub fn peer_table_len(&self) -> usize {
        self.table.keys_len()
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

    /// The association this endpoint's port has with the peer at `remote`
    /// (any of its addresses) and SCTP port `peer_port`, if there is one.
    pub fn association_to(&self, remote: SocketAddr, peer_port: u16) -> Option<AssocId> {
        self.table.route((self.port, remote.ip(), peer_port))
    }

    /// The association this end's SCTP port `local_port` has with the peer
    /// at `remote` (any of its addresses) and SCTP port `peer_port`.
    pub fn association_on(
        &self,
        local_port: u16,
        remote: SocketAddr,
        peer_port: u16,
    ) -> Option<AssocId> {
        self.table.route((local_port, remote.ip(), peer_port))
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
        let options = ConnectOptions {
            peer_addresses: also.to_vec(),
            ..ConnectOptions::default()
        };
        self.connect_with(now, remote, peer_port, options)
    }

    /// Starts an association with the peer at UDP address `remote`, SCTP
    /// port `peer_port`, with every option.
    pub fn connect_with(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        peer_port: u16,
        options: ConnectOptions,
    ) -> Result<AssocId, ConnectError> {
        if peer_port == 0 || options.local_port == Some(0) {
            return Err(ConnectError::InvalidPort);
        }
        let config = match options.config {
            Some(config) => {
                config.validate().map_err(ConnectError::InvalidConfig)?;
                Arc::new(config)
            }
            None => self.config.clone(),
        };
        let local_port = match options.local_port {
            Some(port) => {
                if let Some(id) = self.table.route((port, remote.ip(), peer_port)) {
                    return Err(ConnectError::AlreadyConnected(id));
                }
                port
            }
            None => self
                .free_port(remote.ip(), peer_port)
                .ok_or(ConnectError::TooManyAssociations)?,
        };
        if self.accepts(local_port) == Some(false) {
            return Err(ConnectError::TooManyAssociations);
        }
        let id = self.allocate_id();
        let clock_ms = self.clock_ms(now);
        let mut ctx = context!(self, clock_ms);
        let ports = (local_port, peer_port);
        let mut assoc = Association::connect(id, config, now, remote, ports, &mut ctx);
        assoc.add_init_targets(&options.peer_addresses);
        self.table.insert(assoc, &mut self.events);
        Ok(id)
    }

    /// An SCTP port of this end with no association to `peer_ip` and
    /// `peer_port`: the endpoint's own port if it is free for that peer,
    /// else an ephemeral one, searched from a random start.
    fn free_port(&mut self, peer_ip: IpAddr, peer_port: u16) -> Option<u16> {
        if self.table.route((self.port, peer_ip, peer_port)).is_none() {
            return Some(self.port);
        }
        let span = u32::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        let start = self.rng.u32() % span;
        (0..span)
            .map(|i| EPHEMERAL.start() + ((start + i) % span) as u16)
            .find(|&port| {
                port != self.port
                    && !self.listeners.contains_key(&port)
                    && self.table.route((port, peer_ip, peer_port)).is_none()
            })
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
            trace!(%remote, "dropped: INIT, INIT ACK or SHUTDOWN COMPLETE bundled (§6.10)");
            self.stats.malformed += 1;
            return;
        }
        // §3.1: SCTP port 0 is never used, so nothing from it (or to it) is
        // taken or answered.
        if packet.header.src_port == 0 || packet.header.dst_port == 0 {
            trace!(%remote, "dropped: SCTP port 0 (§3.1)");
            self.stats.malformed += 1;
            return;
        }
        // §8.4 (1): nothing from or to a non-unicast address is answered or
        // kept (the destination when the driver says what it was).
        let ip = remote.ip();
        let unicast =
            |a: IpAddr| !a.is_multicast() && !matches!(a, IpAddr::V4(v4) if v4.is_broadcast());
        if ip.is_unspecified() || !unicast(ip) || local.is_some_and(|l| !unicast(l)) {
            trace!(%remote, "dropped: not unicast (§8.4 (1))");
            return;
        }
        self.rotate_keys(now);
        let header = packet.header;
        if self.receive_budget.is_some() {
            self.share_receive_budget();
        }
        if let Some(id) = self.table.route((header.dst_port, ip, header.src_port)) {
            self.route_to(id, now, remote, &packet);
            // The chunk vector serves the next packet.
            let mut chunks = packet.chunks;
            chunks.clear();
            self.spare_chunks = chunks;
            return;
        }
        self.out_of_the_blue(now, remote, packet, datagram_len);
    }

    fn route_to(&mut self, id: AssocId, now: Instant, remote: SocketAddr, packet: &Packet) {
        let clock_ms = self.clock_ms(now);
        let mut ctx = context!(self, clock_ms);
        let Some(assoc) = self.table.get_mut(id) else {
            return;
        };
        if let Some(local) = self.arrived_at {
            assoc.note_local_address(local);
        }
        // What the association logs while it handles the packet is in its
        // span: its id and peer.
        #[cfg(feature = "tracing")]
        let _span = tracing::debug_span!("association", id = %id, peer = %remote).entered();
        assoc.handle_packet(now, remote, packet, &mut ctx);
        self.table.settle(id, &mut self.events);
    }

    /// Acts on expired timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.rotate_keys(now);
        // Each association whose deadline has come acts once per call:
        // one that left a deadline in the past behind cannot hold the
        // endpoint in a loop.
        for id in self.table.due(now) {
            if let Some(assoc) = self.table.get_mut(id) {
                #[cfg(feature = "tracing")]
                let _span =
                    tracing::debug_span!("association", id = %id, peer_port = assoc.peer_port())
                        .entered();
                assoc.handle_timeout(now);
            }
            self.table.settle(id, &mut self.events);
            self.table.reap(id);
        }
        // What fired left no entry in the past behind it.
        self.table.refresh_timers();
    }

    /// Writes the next packet to send into `buf` (cleared first).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        buf.clear();
        self.poll_transmit_append(now, buf)
    }

    /// As [`Endpoint::poll_transmit`], appending the packet to what `buf`
    /// holds (a driver gathering packets for one system call writes them
    /// in place): the packet is the last [`Transmit::size`] bytes.
    pub fn poll_transmit_append(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        if let Some((destination, bytes)) = self.replies.pop() {
            buf.extend_from_slice(&bytes);
            return Some(Transmit {
                destination,
                source: None,
                size: bytes.len(),
                fragmentable: false,
            });
        }
        // Round robin over the associations that may have something,
        // starting after the last one served.
        loop {
            let next = self.table.next_ready()?;
            let sent = self
                .table
                .get_mut(next)
                .and_then(|assoc| assoc.poll_transmit(now, buf));
            // Sending starts timers (T3-rtx, heartbeats).
            self.table.touch(next);
            if let Some(mut t) = sent {
                // With addresses advertised, every one of them is known to
                // the peer: the route decides.
                if !self.local_addresses.is_empty() {
                    t.source = None;
                }
                self.table.served();
                self.table.reap(next);
                return Some(t);
            }
            self.table.idle();
            #[cfg(any(debug_assertions, fuzzing))]
            self.assert_live(next);
            self.table.reap(next);
        }
    }

    /// Panics when association `id`, drained of packets, waits on nothing
    /// (see `association::liveness`). Debug builds and fuzz targets only.
    #[cfg(any(debug_assertions, fuzzing))]
    fn assert_live(&self, id: AssocId) {
        if let Some(assoc) = self.table.get(id)
            && let Some(why) = assoc.liveness_violation()
        {
            panic!("liveness: association {id} in {:?}: {why}", assoc.state());
        }
    }

    /// The earliest deadline of any timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.table.next_deadline()
    }

    /// The next event of any association.
    pub fn poll_event(&mut self) -> Option<(AssocId, Event)> {
        let event = self.events.pop_front();
        if let Some((id, _)) = event {
            self.table.reap(id);
        }
        event
    }

    /// A send to `destination` failed locally (no route, interface down):
    /// the associations with a path there treat it as failed at once.
    pub fn handle_send_error(&mut self, now: Instant, destination: SocketAddr) {
        for id in self.table.with_peer_address(destination.ip()) {
            if let Some(assoc) = self.table.get_mut(id) {
                assoc.on_send_error(now, destination);
            }
            self.table.settle(id, &mut self.events);
        }
    }

    /// Aborts association `id` (RFC 9260 §9.1).
    pub fn abort(&mut self, id: AssocId, reason: &[u8]) {
        if let Some(mut assoc) = self.association_mut(id) {
            assoc.abort(reason);
        }
    }
}

/// Association `id` of an endpoint, to act on. Each command's packets,
/// timers and events become the endpoint's as it returns; what the
/// association shows can be read through [`Deref`].
#[derive(Debug)]
pub struct AssociationMut<'a> {
    endpoint: &'a mut Endpoint,
    id: AssocId,
}

impl Deref for AssociationMut<'_> {
    type Target = Association;

    fn deref(&self) -> &Association {
        self.endpoint
            .table
            .get(self.id)
            .expect("the endpoint keeps the association while the guard lives")
    }
}

impl AssociationMut<'_> {
    /// Runs a command on the association, then hands what it produced to
    /// the endpoint.
    fn act<T>(&mut self, command: impl FnOnce(&mut Association) -> T) -> T {
        let assoc = self
            .endpoint
            .table
            .get_mut(self.id)
            .expect("the endpoint keeps the association while the guard lives");
        let result = command(assoc);
        self.endpoint
            .table
            .settle(self.id, &mut self.endpoint.events);
        result
    }

    /// Queues a message on `stream` (RFC 9260 §6.1). Messages sent before
    /// the association is up, or after shutdown began, are refused.
    pub fn send(
        &mut self,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
    ) -> Result<(), SendError> {
        let options = SendOptions {
            unordered,
            ..SendOptions::default()
        };
        self.send_with(stream, ppid, data, options)
    }

    /// As `send`, with every option of RFC 6458's `sctp_sndinfo` this end
    /// supports.
    pub fn send_with(
        &mut self,
        stream: u16,
        ppid: u32,
        data: Bytes,
        options: SendOptions,
    ) -> Result<(), SendError> {
        self.act(|a| a.send_buffer()?.send(stream, ppid, data, options))
    }

    /// The next received message, if one is ready; its bytes leave the
    /// receive window at once.
    pub fn recv(&mut self) -> Option<Message> {
        self.act(Association::recv)
    }

    /// The next received message, its bytes still counted against the
    /// receive window until [`AssociationMut::release`]: a driver that
    /// hands messages on to an application releases them when the
    /// application has taken them, so the window follows the application.
    pub fn recv_held(&mut self) -> Option<Message> {
        self.act(Association::recv_held)
    }

    /// The application consumed `bytes` of messages taken with
    /// [`AssociationMut::recv_held`].
    pub fn release(&mut self, bytes: usize) {
        self.act(|a| a.release(bytes));
    }

    /// Starts a graceful shutdown (§9.2): queued data is sent first.
    pub fn shutdown(&mut self, now: Instant) {
        self.act(|a| a.shutdown(now));
    }

    /// Aborts the association (§9.1), telling the peer `reason`.
    pub fn abort(&mut self, reason: &[u8]) {
        self.act(|a| a.abort(reason));
    }

    /// Makes `address` the primary path (SCTP_PRIMARY_ADDR); `false` if it
    /// is not one of the peer's addresses or the association is not up.
    pub fn set_primary(&mut self, address: SocketAddr) -> bool {
        self.act(|a| a.set_primary(address))
    }

    /// Sends a heartbeat to `address` now (§8.3); `false` if the address is
    /// unknown, the association is not up, or a heartbeat to it is out.
    pub fn request_heartbeat(&mut self, now: Instant, address: SocketAddr) -> bool {
        self.act(|a| a.request_heartbeat(now, address))
    }

    /// Replaces the association's protocol parameters (after the socket
    /// options SCTP_RTOINFO, SCTP_PEER_ADDR_PARAMS, SCTP_ASSOCINFO):
    /// timers, retransmission limits, heartbeats, SACK delay, send buffer
    /// and failover behaviour take the new values from now on; what the
    /// handshake fixed (streams, initial TSNs, the advertised window, the
    /// packet size) stays.
    pub fn set_config(&mut self, config: Config) -> Result<(), ConfigError> {
        self.act(|a| a.set_config(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "10.0.0.1:9899";
    const B: &str = "10.0.0.2:9899";

    use crate::test_start as start;

    /// Moves packets both ways until neither endpoint has any.
    fn shuttle(a: &mut Endpoint, b: &mut Endpoint, now: Instant) {
        let mut buf = Vec::new();
        loop {
            let mut moved = false;
            while let Some(t) = a.poll_transmit(now, &mut buf) {
                b.handle(
                    now,
                    A.parse().unwrap(),
                    Bytes::copy_from_slice(&buf[..t.size]),
                );
                moved = true;
            }
            while let Some(t) = b.poll_transmit(now, &mut buf) {
                a.handle(
                    now,
                    B.parse().unwrap(),
                    Bytes::copy_from_slice(&buf[..t.size]),
                );
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    fn up(ep: &mut Endpoint) -> Vec<AssocId> {
        std::iter::from_fn(|| ep.poll_event())
            .filter_map(|(id, e)| matches!(e, Event::Up(_)).then_some(id))
            .collect()
    }

    #[test]
    fn associations_are_found_by_port_and_peer_and_forgotten_once_done() {
        let now = start();
        let mut a = Endpoint::new(Config::default(), 5000, [1; 32], now);
        let mut b = Endpoint::new(Config::default(), 13, [2; 32], now);
        b.listen(10);
        b.listen_on(7, 10);
        let to_13 = a.connect(now, B.parse().unwrap(), 13).unwrap();
        let to_7 = a.connect(now, B.parse().unwrap(), 7).unwrap();
        // A second association to the same peer and port takes an
        // ephemeral port; a port asked for that is taken is refused.
        let again = a.connect(now, B.parse().unwrap(), 7).unwrap();
        let ephemeral = a.association(again).unwrap().local_port();
        assert!(EPHEMERAL.contains(&ephemeral), "{ephemeral}");
        let taken = ConnectOptions {
            local_port: Some(5000),
            ..ConnectOptions::default()
        };
        assert_eq!(
            a.connect_with(now, B.parse().unwrap(), 7, taken),
            Err(ConnectError::AlreadyConnected(to_7))
        );
        shuttle(&mut a, &mut b, now);
        assert_eq!(up(&mut a), [to_13, to_7, again]);
        let served = up(&mut b);
        let ports: Vec<(u16, u16)> = served
            .iter()
            .map(|&id| {
                let assoc = b.association(id).unwrap();
                (assoc.local_port(), assoc.peer_port())
            })
            .collect();
        assert_eq!(ports, [(13, 5000), (7, 5000), (7, ephemeral)]);
        assert_eq!(a.association_to(B.parse().unwrap(), 7), Some(to_7));
        assert_eq!(b.peer_table_len(), 3);
        // Closed and with nothing left to send or read: forgotten.
        a.association_mut(to_7).unwrap().shutdown(now);
        shuttle(&mut a, &mut b, now);
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        assert_eq!((a.association_count(), b.association_count()), (2, 2));
        assert_eq!(a.association_to(B.parse().unwrap(), 7), None);
        assert_eq!(b.peer_table_len(), 2);
    }

    #[test]
    fn a_full_listener_answers_out_of_resource_and_others_refuse() {
        let now = start();
        let mut a = Endpoint::new(Config::default(), 5000, [1; 32], now);
        let mut b = Endpoint::new(Config::default(), 13, [2; 32], now);
        b.listen(1);
        a.connect(now, B.parse().unwrap(), 13).unwrap();
        shuttle(&mut a, &mut b, now);
        assert_eq!(up(&mut b).len(), 1);
        // A second client on another port finds the listener full.
        let mut c = Endpoint::new(Config::default(), 5001, [3; 32], now);
        let id = c.connect(now, B.parse().unwrap(), 13).unwrap();
        shuttle(&mut c, &mut b, now);
        let ended: Vec<Event> = std::iter::from_fn(|| c.poll_event())
            .map(|(_, e)| e)
            .collect();
        assert!(
            ended.iter().any(|e| matches!(
                e,
                Event::CantStart(crate::association::AssociationError::PeerAborted(causes))
                    if causes == &[crate::chunk::ErrorCause::OutOfResource]
            )),
            "{ended:?}"
        );
        assert!(c.association(id).is_none());
    }

    #[test]
    fn the_earliest_deadline_is_the_endpoints_and_each_fires_once() {
        let now = start();
        let mut a = Endpoint::new(Config::default(), 5000, [1; 32], now);
        assert_eq!(a.poll_timeout(), None);
        let first = a.connect(now, B.parse().unwrap(), 13).unwrap();
        let later = now + std::time::Duration::from_millis(300);
        let second = a
            .connect(later, "10.0.0.3:9899".parse().unwrap(), 13)
            .unwrap();
        let t1 = a.association(first).unwrap().poll_timeout().unwrap();
        assert_eq!(a.poll_timeout(), Some(t1));
        let mut buf = Vec::new();
        while a.poll_transmit(now, &mut buf).is_some() {}
        // T1-init of the first fires; the second's deadline is then next.
        a.handle_timeout(t1);
        let t2 = a.association(second).unwrap().poll_timeout().unwrap();
        assert!(a.poll_timeout().is_some_and(|t| t <= t2 && t > t1));
    }
}
