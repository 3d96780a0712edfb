//! The UDP driver (RFC 6951): one tokio task per endpoint owns the UDP
//! socket and the sans-IO [`Endpoint`], and moves datagrams, time and user
//! commands between them.
//!
//! SCTP packets are the whole UDP payload. The peer's encapsulation port is
//! the UDP source port of its packets; the endpoint keeps it per remote
//! address once packets from there pass the verification-tag checks
//! (RFC 6951 §5.4). This is the only module that reads a clock or touches a
//! socket.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use rand::TryRngCore;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

#[cfg(feature = "pcap")]
pub(crate) use crate::capture::Recorder;
use crate::proto::association::{
    AssocId, AssociationError, AssociationState, Established, Event, Message, PathChange, PathInfo,
    SendError, Unsent,
};

/// Without the `pcap` feature there is nothing to record to.
#[cfg(not(feature = "pcap"))]
pub(crate) enum Recorder {}

#[cfg(not(feature = "pcap"))]
impl Recorder {
    fn record(&self, _: SocketAddr, _: SocketAddr, _: &[u8]) {
        match *self {}
    }
}
use crate::proto::arena::Arena;
use crate::proto::config::Config;
use crate::proto::endpoint::Endpoint;

/// What an association's user hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A message arrived.
    Message(Message),
    /// The association came up (one-to-many sockets only: a one-to-one
    /// stream exists only once it is up).
    Up(Established),
    /// The peer restarted the association.
    Restart(Established),
    /// The peer reported errors.
    RemoteError(Vec<crate::proto::chunk::ErrorCause>),
    /// The peer started a graceful shutdown: no more messages will come.
    ShutdownStarted,
    /// Messages that were not delivered when the association ended.
    SendFailed(Vec<Unsent>),
    /// A peer address changed state.
    PathChange {
        /// The peer address.
        address: SocketAddr,
        /// What happened to it.
        change: PathChange,
    },
    /// The association ended: gracefully (`None`) or not.
    Closed(Option<AssociationError>),
}

/// The fields of SCTP_STATUS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The association's id.
    pub assoc_id: AssocId,
    /// Its state.
    pub state: AssociationState,
    /// Streams the peer may send on.
    pub inbound_streams: u16,
    /// Streams this end may send on.
    pub outbound_streams: u16,
    /// The peer's receive window as last known.
    pub peer_rwnd: u32,
    /// DATA chunks sent and not acknowledged.
    pub unacked: usize,
    /// Payload bytes queued or unacknowledged.
    pub pending: usize,
    /// The primary path.
    pub primary: SocketAddr,
}

/// Whether a send error says the path to the destination is down (as
/// opposed to a full buffer or an ICMP report about an earlier datagram,
/// which retransmission handles).
fn is_path_failure(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkDown
            | io::ErrorKind::AddrNotAvailable
    )
}

/// Which notifications a user receives (after SCTP_EVENTS /
/// SCTP_EVENT): messages, the one-to-many `Up` and the final `Closed`
/// always arrive; the others only when subscribed. All are on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    /// Peer address changes (SCTP_PEER_ADDR_CHANGE).
    pub path_changes: bool,
    /// Messages not delivered when the association ended
    /// (SCTP_SEND_FAILED_EVENT).
    pub send_failed: bool,
    /// ERROR chunks from the peer (SCTP_REMOTE_ERROR).
    pub remote_errors: bool,
    /// The peer started a shutdown (SCTP_SHUTDOWN_EVENT).
    pub shutdown: bool,
    /// The peer restarted (SCTP_ASSOC_CHANGE / SCTP_RESTART).
    pub restarts: bool,
}

impl Default for Subscription {
    fn default() -> Self {
        Self::ALL
    }
}

impl Subscription {
    /// Every notification.
    pub const ALL: Self = Self {
        path_changes: true,
        send_failed: true,
        remote_errors: true,
        shutdown: true,
        restarts: true,
    };
    /// Messages, `Up` and `Closed` only.
    pub const NONE: Self = Self {
        path_changes: false,
        send_failed: false,
        remote_errors: false,
        shutdown: false,
        restarts: false,
    };

    fn wants(&self, event: &StreamEvent) -> bool {
        match event {
            StreamEvent::PathChange { .. } => self.path_changes,
            StreamEvent::SendFailed(_) => self.send_failed,
            StreamEvent::RemoteError(_) => self.remote_errors,
            StreamEvent::ShutdownStarted => self.shutdown,
            StreamEvent::Restart(_) => self.restarts,
            StreamEvent::Message(_) | StreamEvent::Up(_) | StreamEvent::Closed(_) => true,
        }
    }
}

/// Whether an endpoint takes associations peers start, and how it hands
/// them over.
pub(crate) enum Accepting {
    /// Only associations this end starts.
    No,
    /// Each association as its own stream (`SctpListener`), at most this
    /// many at once.
    OneToOne(mpsc::UnboundedSender<Accepted>, usize),
    /// Every association's events on one channel (`SctpSocket`).
    OneToMany(mpsc::UnboundedSender<(AssocId, StreamEvent)>, usize),
}

/// Where an association's events go.
#[derive(Clone)]
enum Sink {
    /// Its own stream.
    Own(mpsc::UnboundedSender<StreamEvent>),
    /// The one-to-many socket's channel.
    Shared(mpsc::UnboundedSender<(AssocId, StreamEvent)>),
}

impl Sink {
    fn send(&self, id: AssocId, event: StreamEvent) {
        let _ = match self {
            Self::Own(tx) => tx.send(event).map_err(drop),
            Self::Shared(tx) => tx.send((id, event)).map_err(drop),
        };
    }
}

/// How a queued send is answered.
enum SendReply {
    /// `send`: done or not.
    Plain(Reply<Result<(), SendError>>),
    /// `send_to`: the association it went on.
    To(AssocId, Reply<Result<AssocId, SendError>>),
    /// A `send` that did not wait (see [`Unanswered`]): its bytes leave the
    /// count once the association takes the message.
    Unanswered(Arc<Unanswered>, usize),
}

/// The bytes a stream handed to the endpoint without waiting for the
/// answer, and not yet taken into the association's send buffer. A stream
/// only skips the round trip to the endpoint task while this stays under
/// [`Unanswered::LIMIT`], so it bounds what may queue in front of the send
/// buffer.
#[derive(Debug, Default)]
pub(crate) struct Unanswered {
    bytes: AtomicUsize,
    /// The association has ended: every `send` waits for its answer.
    ended: AtomicBool,
}

impl Unanswered {
    /// Bytes a stream may have on their way without waiting.
    pub(crate) const LIMIT: usize = 256 * 1024;

    /// Counts `len` more bytes if they fit under the limit and the
    /// association has not ended.
    pub(crate) fn reserve(&self, len: usize) -> bool {
        !self.ended.load(Ordering::Acquire)
            && self
                .bytes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n + len <= Self::LIMIT).then_some(n + len)
                })
                .is_ok()
    }

    pub(crate) fn release(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::AcqRel);
    }

    fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }
}

impl SendReply {
    /// The caller stopped waiting (its `send` future was dropped).
    fn abandoned(&self) -> bool {
        match self {
            Self::Plain(reply) => reply.is_closed(),
            Self::To(_, reply) => reply.is_closed(),
            Self::Unanswered(..) => false,
        }
    }

    fn answer(self, result: Result<(), SendError>) {
        match self {
            Self::Plain(reply) => {
                let _ = reply.send(result);
            }
            Self::To(id, reply) => {
                let _ = reply.send(result.map(|()| id));
            }
            // A refusal is reported by the driver (`Driver::refused`).
            Self::Unanswered(count, len) => count.release(len),
        }
    }
}

/// A newly established association, handed to its user.
pub(crate) struct Accepted {
    pub id: AssocId,
    pub established: Established,
    /// The status the moment the association came up.
    pub status: Option<Status>,
    pub events: mpsc::UnboundedReceiver<StreamEvent>,
    /// The largest message the association takes.
    pub max_message: usize,
    /// What its stream has sent without waiting (shared with the driver,
    /// which marks it when the association ends).
    pub unanswered: Arc<Unanswered>,
}

type Reply<T> = oneshot::Sender<T>;

pub(crate) enum Command {
    Connect {
        remote: SocketAddr,
        /// Further addresses of the peer.
        also: Vec<IpAddr>,
        port: u16,
        reply: Reply<io::Result<Accepted>>,
    },
    Send {
        id: AssocId,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
        reply: Reply<Result<(), SendError>>,
    },
    /// A `send` that does not wait for the answer (the stream validated
    /// it and counted it in `unanswered`).
    SendUnanswered {
        id: AssocId,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
        unanswered: Arc<Unanswered>,
    },
    SendTo {
        to: SocketAddr,
        port: u16,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
        reply: Reply<Result<AssocId, SendError>>,
    },
    Peeloff {
        id: AssocId,
        reply: Reply<Option<Accepted>>,
    },
    Shutdown {
        id: AssocId,
    },
    Abort {
        id: AssocId,
        reason: Bytes,
    },
    Status {
        id: AssocId,
        reply: Reply<Option<Status>>,
    },
    Paths {
        id: AssocId,
        reply: Reply<Vec<PathInfo>>,
    },
    SetPrimary {
        id: AssocId,
        address: SocketAddr,
        reply: Reply<bool>,
    },
}

/// A handle on a running endpoint task.
#[derive(Clone)]
pub(crate) struct Handle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub local_addr: SocketAddr,
}

impl Handle {
    /// Sends the command `make` builds around a reply channel and waits for
    /// the answer to a send; a stopped endpoint answers `NotOpen`.
    pub(crate) async fn send_request<T>(
        &self,
        make: impl FnOnce(Reply<Result<T, SendError>>) -> Command,
    ) -> Result<T, SendError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .map_err(|_| SendError::NotOpen)?;
        answer.await.unwrap_or(Err(SendError::NotOpen))
    }
}

/// Reads the clock: the one place that does, for the whole driver.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// 32 bytes from the operating system, to seed the endpoint's CSPRNG.
fn os_seed() -> io::Result<[u8; 32]> {
    let mut seed = [0; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut seed)
        .map_err(io::Error::other)?;
    Ok(seed)
}

/// Binds one UDP socket per address in `binds` and starts an endpoint task
/// for SCTP port `port`. `accept` receives associations peers start, when
/// listening.
///
/// Every socket shares the first one's UDP port (when the others ask for
/// port 0), since a peer reaches all of this end's addresses on the port
/// it learned from the first (RFC 6951 §5.4). With several addresses, the
/// explicitly given ones are advertised in INIT and INIT ACK; a wildcard
/// address advertises nothing, so peers use the packet's source only.
pub(crate) async fn spawn(
    binds: &[SocketAddr],
    port: Option<u16>,
    config: Config,
    accepting: Accepting,
    recorder: Option<Arc<Recorder>>,
    subscription: Subscription,
) -> io::Result<Handle> {
    config
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if port == Some(0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "SCTP port 0 is reserved (RFC 9260 §3.1)",
        ));
    }
    let (first, rest) = binds
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no local address"))?;
    let socket = Io::bind(*first)?;
    let local_addr = socket.local;
    let mut sockets = vec![socket];
    for bind in rest {
        let mut bind = *bind;
        if bind.port() == 0 {
            bind.set_port(local_addr.port());
        }
        sockets.push(Io::bind(bind)?);
    }
    // A client without a port of its own takes its UDP port's number: the
    // operating system keeps that unique on the host, so two clients
    // reaching one server from one address never share an SCTP port (which,
    // with the address, is what tells their associations apart).
    let port = port.unwrap_or(local_addr.port());
    let mut endpoint = Endpoint::new(config, port, os_seed()?, now());
    if binds.len() > 1 {
        let advertised: Vec<IpAddr> = binds
            .iter()
            .map(SocketAddr::ip)
            .filter(|ip| !ip.is_unspecified())
            .collect();
        endpoint.set_local_addresses(advertised);
    }
    let (accept, many) = match accepting {
        Accepting::No => (None, None),
        Accepting::OneToOne(tx, max) => {
            endpoint.listen(max);
            (Some(tx), None)
        }
        Accepting::OneToMany(tx, max) => {
            endpoint.listen(max);
            (None, Some(tx))
        }
    };
    let (commands, rx) = mpsc::unbounded_channel();
    let driver = Driver {
        sockets,
        routes: HashMap::new(),
        endpoint,
        commands: rx,
        accept,
        many,
        connecting: HashMap::new(),
        streams: HashMap::new(),
        readable: HashSet::new(),
        blocked: HashMap::new(),
        shutdown_after_blocked: HashSet::new(),
        unanswered: HashMap::new(),
        buf: Vec::with_capacity(65_536),
        subscription,
        batch: Batch::default(),
        recv: RecvBuffers::new(),
        inbox: Vec::new(),
        arena: Arena::default(),
        recorder,
    };
    tokio::spawn(driver.run());
    Ok(Handle {
        commands,
        local_addr,
    })
}

type PendingSend = (u16, u32, Bytes, bool, SendReply);

/// Commands taken in one turn of the driver's loop, at most.
const COMMAND_BATCH: usize = 256;

struct Driver {
    /// One socket per local address, all on the same UDP port.
    sockets: Vec<Io>,
    /// Which socket sends to a destination: the one bound to the source
    /// address the kernel's routing picks for it.
    routes: HashMap<IpAddr, usize>,
    endpoint: Endpoint,
    commands: mpsc::UnboundedReceiver<Command>,
    accept: Option<mpsc::UnboundedSender<Accepted>>,
    /// A one-to-many socket's channel, if this endpoint serves one.
    many: Option<mpsc::UnboundedSender<(AssocId, StreamEvent)>>,
    /// Connects waiting for the association, with the address dialled.
    connecting: HashMap<AssocId, (SocketAddr, Reply<io::Result<Accepted>>)>,
    streams: HashMap<AssocId, Sink>,
    readable: HashSet<AssocId>,
    blocked: HashMap<AssocId, VecDeque<PendingSend>>,
    /// Associations whose user asked for a shutdown while messages waited
    /// in `blocked`.
    shutdown_after_blocked: HashSet<AssocId>,
    /// Each stream's no-wait send count, to mark when its association ends.
    unanswered: HashMap<AssocId, Arc<Unanswered>>,
    buf: Vec<u8>,
    /// Notifications the user asked for.
    subscription: Subscription,
    /// Packets on their way out together (GSO).
    batch: Batch,
    recv: RecvBuffers,
    /// The datagrams of the receive being handled (kept for its capacity).
    inbox: Vec<(SocketAddr, Option<IpAddr>, Bytes)>,
    arena: Arena,
    /// Where `--pcap` records every datagram, if anywhere.
    recorder: Option<Arc<Recorder>>,
}

/// A UDP socket with the state for batched I/O: GSO (UDP_SEGMENT) sends
/// many equal-sized datagrams in one system call, and GRO and recvmmsg
/// receive many in one (Linux; elsewhere one at a time).
struct Io {
    socket: UdpSocket,
    state: quinn_udp::UdpSocketState,
    local: SocketAddr,
}

impl Io {
    fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = bind_udp(addr)?;
        keep_offload_enabled();
        let state = quinn_udp::UdpSocketState::new((&socket).into())?;
        let local = socket.local_addr()?;
        Ok(Self {
            socket,
            state,
            local,
        })
    }

    /// Sends `contents` to `destination`: one datagram, or several of
    /// `segment` bytes each (the last may be shorter).
    async fn send(
        &self,
        destination: SocketAddr,
        source: Option<IpAddr>,
        contents: &[u8],
        segment: Option<usize>,
    ) -> io::Result<()> {
        // A socket bound to one address sends from it; a wildcard socket
        // sends from `source` when the association needs one (IP_PKTINFO).
        let src_ip = source.filter(|_| self.local.ip().is_unspecified());
        let transmit = quinn_udp::Transmit {
            destination,
            ecn: None,
            contents,
            segment_size: segment,
            src_ip,
        };
        loop {
            self.socket.writable().await?;
            // `try_send` reports every error (`send` would log and hide
            // them): a failed send is how a dead local link shows.
            let sent = self.socket.try_io(tokio::io::Interest::WRITABLE, || {
                self.state.try_send((&self.socket).into(), &transmit)
            });
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return result,
            }
        }
    }
}

/// Datagrams received at once at most (one system call).
const RECV_BATCH: usize = 8;
/// Each receive buffer holds one datagram, or several coalesced by GRO.
const RECV_BUFFER: usize = 65_536;

struct RecvBuffers {
    data: Vec<u8>,
    meta: [quinn_udp::RecvMeta; RECV_BATCH],
}

/// Receive buffers of endpoints that have ended, for the next ones: a
/// client making one endpoint per association would otherwise zero half a
/// megabyte for each (profiled: a sixth of its time).
static SPARE_RECV_BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Spare receive buffers kept at most.
const SPARE_RECV_KEPT: usize = 16;

impl RecvBuffers {
    fn new() -> Self {
        let spare = SPARE_RECV_BUFFERS.lock().ok().and_then(|mut v| v.pop());
        Self {
            data: spare.unwrap_or_else(|| vec![0; RECV_BATCH * RECV_BUFFER]),
            meta: [quinn_udp::RecvMeta::default(); RECV_BATCH],
        }
    }
}

impl Drop for RecvBuffers {
    fn drop(&mut self) {
        if let Ok(mut spare) = SPARE_RECV_BUFFERS.lock() {
            if spare.len() < SPARE_RECV_KEPT {
                spare.push(std::mem::take(&mut self.data));
            }
        }
    }
}

/// Keeps one UDP socket with GRO enabled open for the life of the process.
/// `quinn_udp` probes for GSO and GRO with a throwaway socket each time it
/// sets up a socket; on Linux enabling GRO on the first socket, and closing
/// the last, switches a kernel static key, which rewrites kernel code on
/// every CPU. A client setting up many endpoints paid that twice per
/// endpoint (profiled: an eighth of its time); with this socket open the
/// key stays on.
fn keep_offload_enabled() {
    static KEEPER: OnceLock<Option<std::net::UdpSocket>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let socket = std::net::UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))
            .or_else(|_| std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))
            .ok()?;
        // Setting the socket up turns GRO on (quinn-udp does it).
        quinn_udp::UdpSocketState::new((&socket).into()).ok()?;
        Some(socket)
    });
}

/// Packets to one destination, gathered for one GSO send.
#[derive(Default)]
struct Batch {
    /// Destination, socket index and source address.
    destination: Option<Route>,
    data: Vec<u8>,
    segment: usize,
    count: usize,
}

/// Where a batch goes: destination, socket index, source address.
type Route = (SocketAddr, usize, Option<IpAddr>);

/// GSO segments per send at most, and bytes (a UDP payload's limit).
const GSO_SEGMENTS: usize = 64;
const GSO_BYTES: usize = 65_000;

impl Batch {
    /// Whether a packet of `size` bytes to `to` via socket `socket` can
    /// join: same destination, not larger than the segment size, and the
    /// batch does not end in a short packet already.
    fn takes(&self, to: Route, size: usize, max_segments: usize) -> bool {
        self.destination == Some(to)
            && size <= self.segment
            && self.data.len() == self.count * self.segment
            && self.count < max_segments.min(GSO_SEGMENTS)
            && self.data.len() + size <= GSO_BYTES
    }

    fn push(&mut self, to: Route, packet: &[u8]) {
        if self.count == 0 {
            self.destination = Some(to);
            self.segment = packet.len();
        }
        self.data.extend_from_slice(packet);
        self.count += 1;
    }
}

/// Socket buffers asked for: a window's worth of datagrams arriving while
/// the task is busy must not overflow the kernel's default (about 200 KiB).
const SOCKET_BUFFER: usize = 4 << 20;

/// Binds a non-blocking UDP socket with large buffers; errors name the
/// address.
fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{addr}: {e}"));
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(named)?;
    // The kernel caps these at net.core.{r,w}mem_max; a smaller buffer is
    // not an error.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    if addr.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    socket.set_nonblocking(true).map_err(named)?;
    socket.bind(&addr.into()).map_err(named)?;
    UdpSocket::from_std(socket.into()).map_err(named)
}

/// Waits for datagrams on any of `sockets` and receives a batch into
/// `bufs`: (socket index, buffers filled).
async fn recv_any(sockets: &[Io], bufs: &mut RecvBuffers) -> (usize, io::Result<usize>) {
    std::future::poll_fn(|cx| {
        for (i, io) in sockets.iter().enumerate() {
            loop {
                match io.socket.poll_recv_ready(cx) {
                    Poll::Pending => break,
                    Poll::Ready(Err(e)) => return Poll::Ready((i, Err(e))),
                    Poll::Ready(Ok(())) => {}
                }
                let mut slices: Vec<std::io::IoSliceMut<'_>> = bufs
                    .data
                    .chunks_mut(RECV_BUFFER)
                    .map(std::io::IoSliceMut::new)
                    .collect();
                let received = io.socket.try_io(tokio::io::Interest::READABLE, || {
                    io.state
                        .recv((&io.socket).into(), &mut slices, &mut bufs.meta)
                });
                match received {
                    // Readiness was stale: look again, which registers
                    // the waker when nothing is there.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    result => return Poll::Ready((i, result)),
                }
            }
        }
        Poll::Pending
    })
    .await
}

/// An IPv4 peer seen through a dual-stack IPv6 socket as `::ffff:a.b.c.d`
/// is the IPv4 address it is.
fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// The source address the kernel would use towards `destination`: a
/// connected UDP socket asks the routing table without sending anything.
fn route_source(destination: SocketAddr) -> io::Result<IpAddr> {
    let any: IpAddr = if destination.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let probe = std::net::UdpSocket::bind((any, 0))?;
    probe.connect(destination)?;
    Ok(probe.local_addr()?.ip())
}

impl Driver {
    async fn run(mut self) {
        // One timer, moved when the endpoint's deadline changes (not a new
        // one registered on every turn of the loop).
        let sleep = tokio::time::sleep_until(now().into());
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        loop {
            self.flush().await;
            let deadline = self.endpoint.poll_timeout();
            if deadline != armed {
                if let Some(t) = deadline {
                    sleep.as_mut().reset(t.into());
                }
                armed = deadline;
            }
            tokio::select! {
                (i, received) = recv_any(&self.sockets, &mut self.recv) => {
                    // ICMP errors surface as errors on a later receive on
                    // some systems: they tear nothing down here.
                    if let Ok(count) = received {
                        self.received_batch(i, count).await;
                    }
                }
                command = self.commands.recv() => match command {
                    Some(command) => {
                        self.command(command);
                        // Take what else is waiting before sending: many
                        // messages then leave in few packets and calls.
                        for _ in 0..COMMAND_BATCH {
                            match self.commands.try_recv() {
                                Ok(command) => self.command(command),
                                Err(_) => break,
                            }
                        }
                    }
                    None => {
                        // Every handle is gone: shut down what is left
                        // gracefully, and stop once it is closed (T5-shutdown-
                        // guard bounds the wait).
                        self.draining(now()).await;
                        return;
                    }
                },
                () = &mut sleep, if armed.is_some() => {
                    armed = None;
                    self.endpoint.handle_timeout(now());
                }
            }
        }
    }

    /// Runs until every association has closed, after shutting each down.
    async fn draining(&mut self, start: Instant) {
        let ids: Vec<AssocId> = self.streams.keys().copied().collect();
        for id in ids {
            if self.blocked.get(&id).is_some_and(|q| !q.is_empty()) {
                // What was sent without waiting goes first.
                self.shutdown_after_blocked.insert(id);
            } else if let Some(mut assoc) = self.endpoint.association_mut(id) {
                assoc.shutdown(start);
            }
        }
        while self.endpoint.association_count() > 0 {
            self.flush().await;
            let Some(deadline) = self.endpoint.poll_timeout() else {
                break;
            };
            tokio::select! {
                (i, received) = recv_any(&self.sockets, &mut self.recv) => {
                    if let Ok(count) = received {
                        self.received_batch(i, count).await;
                    }
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    self.endpoint.handle_timeout(now());
                }
            }
        }
        self.flush().await;
    }

    /// Hands the datagrams a receive on socket `i` filled `count` buffers
    /// with to the endpoint, splitting GRO-coalesced buffers at their
    /// stride. What the endpoint has to send after each datagram is
    /// gathered at once (and sent in as few calls as the batches allow): a
    /// receiver then acknowledges every second packet of a coalesced batch
    /// (§6.2), and a sender that gets several SACKs at once sends after
    /// each, Max.Burst applying to each (§6.1 D), as if they had come one
    /// by one.
    async fn received_batch(&mut self, i: usize, count: usize) {
        let t = now();
        let local = self.sockets[i].local;
        let mut inbox = std::mem::take(&mut self.inbox);
        for (meta, buf) in self.recv.meta[..count]
            .iter()
            .zip(self.recv.data.chunks(RECV_BUFFER))
        {
            let stride = meta.stride.max(1);
            for datagram in buf[..meta.len.min(buf.len())].chunks(stride) {
                if let Some(r) = &self.recorder {
                    r.record(meta.addr, local, datagram);
                }
                let from = unmapped(meta.addr);
                tracing::trace!(%from, bytes = datagram.len(), "receive");
                let datagram = self.arena.take(datagram);
                let to = meta.dst_ip.map(|ip| unmapped(SocketAddr::new(ip, 0)).ip());
                inbox.push((from, to, datagram));
            }
        }
        let several = inbox.len() > 1;
        for (from, to, datagram) in inbox.drain(..) {
            self.endpoint.handle_at(t, from, to, datagram);
            if several {
                self.gather(t).await;
            }
        }
        self.inbox = inbox;
    }

    /// The socket to send to `destination` from: with one socket, that
    /// one; with several, the one bound to the source address the routing
    /// table picks (looked up once per destination, again after a failed
    /// send). No route at all is a send error.
    fn socket_for(&mut self, destination: SocketAddr) -> io::Result<usize> {
        if self.sockets.len() == 1 {
            return Ok(0);
        }
        if let Some(&i) = self.routes.get(&destination.ip()) {
            return Ok(i);
        }
        let source = route_source(destination)?;
        let bound = |want: fn(&SocketAddr, IpAddr) -> bool| {
            self.sockets.iter().position(|s| want(&s.local, source))
        };
        let i = bound(|a, src| a.ip() == src)
            .or_else(|| bound(|a, _| a.ip().is_unspecified()))
            .unwrap_or(0);
        self.routes.insert(destination.ip(), i);
        Ok(i)
    }

    /// Sends the gathered batch, if any.
    async fn send_batch(&mut self, t: Instant) {
        let Some((destination, i, source)) = self.batch.destination.take() else {
            return;
        };
        let segment = (self.batch.count > 1).then_some(self.batch.segment);
        tracing::trace!(
            %destination,
            bytes = self.batch.data.len(),
            datagrams = self.batch.count,
            "send"
        );
        let sent = self.sockets[i]
            .send(destination, source, &self.batch.data, segment)
            .await;
        self.batch.data.clear();
        self.batch.count = 0;
        if let Err(e) = sent {
            self.send_failed(t, destination, &e);
        }
    }

    /// No route or interface down: the path is gone, which the association
    /// learns at once instead of after an RTO. Other errors are losses that
    /// retransmission deals with.
    fn send_failed(&mut self, t: Instant, destination: SocketAddr, e: &io::Error) {
        tracing::debug!(%destination, error = %e, "send failed");
        if is_path_failure(e) {
            self.routes.remove(&destination.ip());
            self.endpoint.handle_send_error(t, destination);
        }
    }

    /// Sends everything due, then routes events and messages.
    /// Moves what the endpoint has to send into the send batch, sending a
    /// batch whenever the next packet cannot join it.
    async fn gather(&mut self, t: Instant) {
        while let Some(tx) = self.endpoint.poll_transmit(t, &mut self.buf) {
            let i = match self.socket_for(tx.destination) {
                Ok(i) => i,
                Err(e) => {
                    self.send_failed(t, tx.destination, &e);
                    continue;
                }
            };
            let packet = &self.buf[..tx.size];
            if let Some(r) = &self.recorder {
                r.record(self.sockets[i].local, tx.destination, packet);
            }
            let to = (tx.destination, i, tx.source);
            let max = self.sockets[i].state.max_gso_segments();
            if self.batch.count > 0 && !self.batch.takes(to, packet.len(), max) {
                self.send_batch(t).await;
            }
            self.batch.push(to, &self.buf[..tx.size]);
        }
    }

    async fn flush(&mut self) {
        loop {
            let t = now();
            self.gather(t).await;
            self.send_batch(t).await;
            let mut any = false;
            while let Some((id, event)) = self.endpoint.poll_event() {
                any = true;
                self.event(id, event);
            }
            for id in std::mem::take(&mut self.readable) {
                let Some(mut assoc) = self.endpoint.association_mut(id) else {
                    continue;
                };
                while let Some(message) = assoc.recv() {
                    if let Some(sink) = self.streams.get(&id) {
                        sink.send(id, StreamEvent::Message(message));
                    }
                }
                any = true;
            }
            if !any {
                return;
            }
        }
    }

    fn event(&mut self, id: AssocId, event: Event) {
        tracing::debug!(assoc = %id, ?event, "event");
        match event {
            Event::Up(established) => {
                if let Some(many) = &self.many {
                    // One-to-many: every association reports on the
                    // socket's channel; messages queued by `send_to` go now.
                    let sink = Sink::Shared(many.clone());
                    sink.send(id, StreamEvent::Up(established));
                    self.streams.insert(id, sink);
                    self.retry_blocked(id);
                    return;
                }
                let (tx, rx) = mpsc::unbounded_channel();
                let accepted = Accepted {
                    id,
                    established,
                    status: self.status(id),
                    events: rx,
                    max_message: self.max_message(id),
                    unanswered: self.unanswered_of(id),
                };
                if let Some((_, reply)) = self.connecting.remove(&id) {
                    self.streams.insert(id, Sink::Own(tx));
                    let _ = reply.send(Ok(accepted));
                } else if let Some(accept) = &self.accept {
                    self.streams.insert(id, Sink::Own(tx));
                    if accept.send(accepted).is_err() {
                        self.endpoint.abort(id, b"no listener");
                    }
                }
            }
            Event::CantStart(error) => {
                if let Some(unanswered) = self.unanswered.remove(&id) {
                    unanswered.end();
                }
                if let Some((remote, reply)) = self.connecting.remove(&id) {
                    let error = match &error {
                        AssociationError::InitTimeout | AssociationError::CookieTimeout => {
                            let attempts = self.endpoint.config().max_init_retransmits + 1;
                            io::Error::new(
                                io::ErrorKind::TimedOut,
                                format!(
                                    "could not reach {remote} after {attempts} attempts ({error})"
                                ),
                            )
                        }
                        other => io::Error::new(io::ErrorKind::ConnectionRefused, other.clone()),
                    };
                    let _ = reply.send(Err(error));
                }
                // Messages `send_to` queued for an association that never
                // came up.
                for (.., reply) in self.blocked.remove(&id).unwrap_or_default() {
                    reply.answer(Err(SendError::SetupFailed(error.to_string())));
                }
                if let Some(many) = &self.many {
                    let _ = many.send((id, StreamEvent::Closed(Some(error))));
                }
            }
            Event::Readable => {
                self.readable.insert(id);
            }
            Event::Writable | Event::SenderDry => self.retry_blocked(id),
            Event::Restart(info) => self.notify(id, StreamEvent::Restart(info)),
            Event::RemoteError(causes) => self.notify(id, StreamEvent::RemoteError(causes)),
            Event::ShutdownStarted => {
                self.readable.insert(id);
                self.notify(id, StreamEvent::ShutdownStarted);
            }
            Event::ShutdownComplete => self.closed(id, None),
            Event::Lost(error) => self.closed(id, Some(error)),
            Event::PathChange { address, change } => {
                self.notify(id, StreamEvent::PathChange { address, change });
            }
            Event::SendFailed(messages) => self.notify(id, StreamEvent::SendFailed(messages)),
            Event::AdaptationIndication(_) | Event::PartialDeliveryAborted { .. } => {}
        }
    }

    /// Hands a notification on if the user subscribed to its kind.
    fn notify(&self, id: AssocId, event: StreamEvent) {
        if !self.subscription.wants(&event) {
            return;
        }
        if let Some(sink) = self.streams.get(&id) {
            sink.send(id, event);
        }
    }

    fn closed(&mut self, id: AssocId, error: Option<AssociationError>) {
        // Deliver what arrived before the end.
        let sink = self.streams.get(&id).cloned();
        if let (Some(mut assoc), Some(sink)) = (self.endpoint.association_mut(id), sink) {
            while let Some(message) = assoc.recv() {
                sink.send(id, StreamEvent::Message(message));
            }
        }
        // From now on every `send` of its stream waits for its answer
        // (which says the association is gone).
        if let Some(unanswered) = self.unanswered.remove(&id) {
            unanswered.end();
        }
        self.shutdown_after_blocked.remove(&id);
        // Messages still waiting for room: those whose sender waits are
        // answered; those sent without waiting are reported unsent.
        let mut unsent = Vec::new();
        for (stream, ppid, data, unordered, reply) in self.blocked.remove(&id).unwrap_or_default() {
            match reply {
                SendReply::Unanswered(count, len) => {
                    count.release(len);
                    unsent.push(Unsent::never_queued(
                        stream,
                        ppid,
                        crate::proto::association::SendOptions {
                            unordered,
                            ..Default::default()
                        },
                        data,
                    ));
                }
                reply => reply.answer(Err(SendError::NotOpen)),
            }
        }
        if !unsent.is_empty() {
            self.notify(id, StreamEvent::SendFailed(unsent));
        }
        if let Some(sink) = self.streams.remove(&id) {
            sink.send(id, StreamEvent::Closed(error));
        }
    }

    /// Hands a message to association `id`, or queues it behind earlier
    /// ones while the send buffer is full or the association is still
    /// being set up.
    fn queue_send(&mut self, id: AssocId, send: PendingSend) {
        let (stream, ppid, data, unordered, reply) = send;
        let queued = self.blocked.get(&id).is_some_and(|q| !q.is_empty());
        let Some(mut assoc) = self.endpoint.association_mut(id) else {
            self.answer(
                id,
                (stream, ppid, data, unordered, reply),
                Err(SendError::NotOpen),
            );
            return;
        };
        let setting_up = matches!(
            assoc.state(),
            AssociationState::CookieWait | AssociationState::CookieEchoed
        );
        // Keep order behind messages already waiting.
        let result = if queued || setting_up {
            Err(SendError::WouldBlock)
        } else {
            assoc.send(stream, ppid, data.clone(), unordered)
        };
        match result {
            Err(SendError::WouldBlock) => self
                .blocked
                .entry(id)
                .or_default()
                .push_back((stream, ppid, data, unordered, reply)),
            result => self.answer(id, (stream, ppid, data, unordered, reply), result),
        }
    }

    /// Gives a send its outcome. A sender that waits is told; a message
    /// sent without waiting that was refused comes back in a `SendFailed`
    /// notification, so that none is lost unreported.
    fn answer(&self, id: AssocId, send: PendingSend, result: Result<(), SendError>) {
        let (stream, ppid, data, unordered, reply) = send;
        if let (SendReply::Unanswered(..), Err(e)) = (&reply, &result) {
            tracing::debug!(assoc = %id, error = %e, "a message sent without waiting was refused");
            let unsent = Unsent::never_queued(
                stream,
                ppid,
                crate::proto::association::SendOptions {
                    unordered,
                    ..Default::default()
                },
                data,
            );
            self.notify(id, StreamEvent::SendFailed(vec![unsent]));
        }
        reply.answer(result);
    }

    /// Moves association `id` off the one-to-many channel onto a stream of
    /// its own (sctp_peeloff).
    fn peel_off(&mut self, id: AssocId) -> Option<Accepted> {
        if !matches!(self.streams.get(&id), Some(Sink::Shared(_))) {
            return None;
        }
        let assoc = self.endpoint.association(id)?;
        let (outbound_streams, inbound_streams) = assoc.streams();
        let established = Established {
            outbound_streams,
            inbound_streams,
            peer_addresses: assoc.peer_addresses(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.streams.insert(id, Sink::Own(tx));
        Some(Accepted {
            id,
            established,
            status: self.status(id),
            events: rx,
            max_message: self.max_message(id),
            unanswered: self.unanswered_of(id),
        })
    }

    /// The no-wait send count association `id`'s stream shares with the
    /// driver.
    fn unanswered_of(&mut self, id: AssocId) -> Arc<Unanswered> {
        self.unanswered.entry(id).or_default().clone()
    }

    /// The largest message association `id` takes (0 once it is gone).
    fn max_message(&self, id: AssocId) -> usize {
        self.endpoint
            .association(id)
            .map_or(0, |a| a.config().max_message_size)
    }

    fn retry_blocked(&mut self, id: AssocId) {
        let Some(mut queue) = self.blocked.remove(&id) else {
            return;
        };
        while let Some((stream, ppid, data, unordered, reply)) = queue.pop_front() {
            // A message whose `send` was cancelled while it waited for room
            // is not sent: cancelling loses nothing the caller was told
            // went out.
            if reply.abandoned() {
                continue;
            }
            let Some(mut assoc) = self.endpoint.association_mut(id) else {
                queue.push_front((stream, ppid, data, unordered, reply));
                break;
            };
            let sent = assoc.send(stream, ppid, data.clone(), unordered);
            match sent {
                Err(SendError::WouldBlock) => {
                    queue.push_front((stream, ppid, data, unordered, reply));
                    break;
                }
                result => self.answer(id, (stream, ppid, data, unordered, reply), result),
            }
        }
        if !queue.is_empty() {
            self.blocked.insert(id, queue);
            return;
        }
        // A shutdown asked for while messages waited starts now that they
        // are all in the send buffer.
        if self.shutdown_after_blocked.remove(&id) {
            if let Some(mut assoc) = self.endpoint.association_mut(id) {
                assoc.shutdown(now());
            }
        }
    }

    /// SCTP_STATUS of association `id`, if it still exists.
    fn status(&self, id: AssocId) -> Option<Status> {
        self.endpoint.association(id).map(|a| Status {
            assoc_id: id,
            state: a.state(),
            inbound_streams: a.streams().1,
            outbound_streams: a.streams().0,
            peer_rwnd: a.peer_rwnd(),
            unacked: a.unacked(),
            pending: a.buffered_amount(),
            primary: a.peer_addresses()[0],
        })
    }

    fn command(&mut self, command: Command) {
        let t = now();
        match command {
            Command::Connect {
                remote,
                also,
                port,
                reply,
            } => match self.endpoint.connect_multihomed(t, remote, &also, port) {
                Ok(id) => {
                    self.connecting.insert(id, (remote, reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(io::Error::new(io::ErrorKind::AlreadyExists, e)));
                }
            },
            Command::Send {
                id,
                stream,
                ppid,
                data,
                unordered,
                reply,
            } => self.queue_send(id, (stream, ppid, data, unordered, SendReply::Plain(reply))),
            Command::SendUnanswered {
                id,
                stream,
                ppid,
                data,
                unordered,
                unanswered,
            } => {
                let reply = SendReply::Unanswered(unanswered, data.len());
                self.queue_send(id, (stream, ppid, data, unordered, reply));
            }
            Command::SendTo {
                to,
                port,
                stream,
                ppid,
                data,
                unordered,
                reply,
            } => {
                // One-to-many: an association to `to` is set up on first use
                // (like sendmsg on an SCTP_SEQPACKET socket).
                let id = match self.endpoint.association_to(to, port) {
                    Some(id) => id,
                    None => match self.endpoint.connect(t, to, port) {
                        Ok(id) => id,
                        Err(e) => {
                            let _ = reply.send(Err(SendError::SetupFailed(e.to_string())));
                            return;
                        }
                    },
                };
                let reply = SendReply::To(id, reply);
                self.queue_send(id, (stream, ppid, data, unordered, reply));
            }
            Command::Peeloff { id, reply } => {
                let _ = reply.send(self.peel_off(id));
            }
            Command::Shutdown { id } => {
                // What was sent goes first: with messages still waiting for
                // room, the shutdown starts once they are in the buffer.
                if self.blocked.get(&id).is_some_and(|q| !q.is_empty()) {
                    self.shutdown_after_blocked.insert(id);
                } else if let Some(mut assoc) = self.endpoint.association_mut(id) {
                    assoc.shutdown(t);
                }
            }
            Command::Abort { id, reason } => self.endpoint.abort(id, &reason),
            Command::Status { id, reply } => {
                let _ = reply.send(self.status(id));
            }
            Command::Paths { id, reply } => {
                let paths = self.endpoint.association(id).map(|a| a.paths());
                let _ = reply.send(paths.unwrap_or_default());
            }
            Command::SetPrimary { id, address, reply } => {
                let done = self
                    .endpoint
                    .association_mut(id)
                    .is_some_and(|mut a| a.set_primary(address));
                let _ = reply.send(done);
            }
        }
    }
}
