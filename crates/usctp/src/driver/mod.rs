//! The driver: one thread per endpoint runs a tokio task that owns the UDP
//! sockets and the sans-IO [`Endpoint`](crate::proto::endpoint::Endpoint),
//! and moves datagrams, time and the users' commands between them.
//!
//! SCTP packets are the whole UDP payload (RFC 6951). One endpoint serves
//! any number of SCTP ports (listeners, one-to-many sockets) and client
//! associations over the same sockets, as RFC 6951's single encapsulation
//! port does. The peer's encapsulation port is the UDP source port of its
//! packets; the core keeps it per remote address once packets from there
//! pass the verification-tag checks (§5.4).
//!
//! The driver runs on a thread of its own, so a user blocking in `Drop`
//! (a stream lingering until its last message is delivered) never stalls
//! it, and users on any runtime share it.

mod io;
mod sends;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{Notify, mpsc, oneshot};

use crate::inbox::Inbox;
use crate::proto::arena::Arena;
use crate::proto::association::{
    AssocId, AssociationError, AssociationState, Counters, Established, Event, PathInfo, SendError,
    SendOptions, Status,
};
use crate::proto::config::Config;
use crate::proto::endpoint::{ConnectOptions, Endpoint};
use crate::socket::{Notifications, StreamEvent};
use io::{Batch, Io, RECV_BUFFER, RecvBuffers, recv_any, route_source, unmapped};
pub(crate) use io::{bind_std, now, os_seed};
pub(crate) use sends::Unanswered;
use sends::{PendingSend, SendReply};

#[cfg(feature = "pcap")]
pub(crate) use crate::capture::Recorder;

/// Without the `pcap` feature there is nothing to record to.
#[cfg(not(feature = "pcap"))]
#[derive(Debug)]
pub(crate) enum Recorder {}

#[cfg(not(feature = "pcap"))]
impl Recorder {
    fn record(&self, _: SocketAddr, _: SocketAddr, _: &[u8]) {
        match *self {}
    }
}

type Reply<T> = oneshot::Sender<T>;

/// An association handed to its user: a stream's start.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub id: AssocId,
    pub established: Established,
    /// The peer's primary address.
    pub peer: SocketAddr,
    /// The local SCTP port.
    pub local_port: u16,
    pub inbox: Arc<Inbox>,
    /// What its stream has sent without waiting (shared with the driver,
    /// which marks it when the association ends).
    pub unanswered: Arc<Unanswered>,
    /// The largest message the association takes.
    pub max_message: usize,
    /// Its status when it came up.
    pub status: Option<Status>,
}

/// Associations peers set up on a one-to-one listener, waiting for the
/// user's `accept`: at most `backlog` (RFC 6458's listen backlog).
#[derive(Debug)]
pub(crate) struct AcceptQueue {
    pub queue: Mutex<VecDeque<Accepted>>,
    pub ready: Notify,
    pub backlog: usize,
    /// The listener or its endpoint is gone: no more will come.
    pub closed: std::sync::atomic::AtomicBool,
}

impl AcceptQueue {
    pub(crate) fn new(backlog: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            backlog: backlog.max(1),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn len(&self) -> usize {
        self.queue.lock().map_or(0, |q| q.len())
    }

    fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.ready.notify_waiters();
        self.ready.notify_one();
    }
}

/// How a one-to-one listener or a connect sets up its associations.
#[derive(Debug, Clone)]
pub(crate) struct StreamSpec {
    pub notifications: Notifications,
}

/// What a query asks of an association.
#[derive(Debug)]
pub(crate) enum Query {
    Status(Reply<Option<Status>>),
    Paths(Reply<Vec<PathInfo>>),
    Counters(Reply<Option<Counters>>),
    Config(Reply<Option<Config>>),
}

pub(crate) enum Command {
    /// Starts an association (a one-to-one stream's, or a one-to-many
    /// socket's on `from_port`).
    Connect {
        remote: SocketAddr,
        port: u16,
        options: Box<ConnectOptions>,
        spec: StreamSpec,
        reply: Reply<std::io::Result<Accepted>>,
    },
    /// A one-to-one listener on SCTP `port`.
    Listen {
        port: u16,
        max_associations: usize,
        queue: Arc<AcceptQueue>,
        spec: StreamSpec,
        reply: Reply<std::io::Result<()>>,
    },
    /// A one-to-many socket on SCTP `port`.
    Socket {
        port: u16,
        max_associations: usize,
        inbox: Arc<Inbox>,
        reply: Reply<std::io::Result<()>>,
    },
    /// The listener or socket on `port` is gone.
    Unlisten {
        port: u16,
    },
    /// The user took an association from `port`'s accept queue.
    Accepted {
        port: u16,
    },
    Send {
        id: AssocId,
        stream: u16,
        ppid: u32,
        data: bytes::Bytes,
        options: SendOptions,
        reply: Reply<Result<(), SendError>>,
    },
    /// A `send` that does not wait for the answer (the stream validated
    /// it and counted it in `unanswered`).
    SendUnanswered {
        id: AssocId,
        stream: u16,
        ppid: u32,
        data: bytes::Bytes,
        options: SendOptions,
        unanswered: Arc<Unanswered>,
    },
    /// One-to-many: a message to a peer, setting an association up on
    /// first use (like `sendmsg` on an SCTP_SEQPACKET socket).
    SendTo {
        port: u16,
        to: SocketAddr,
        peer_port: u16,
        stream: u16,
        ppid: u32,
        data: bytes::Bytes,
        options: SendOptions,
        reply: Reply<Result<AssocId, SendError>>,
    },
    /// One-to-many: an association without data (sctp_connectx).
    ConnectFrom {
        port: u16,
        to: SocketAddr,
        peer_port: u16,
        peer_addresses: Vec<IpAddr>,
        reply: Reply<std::io::Result<AssocId>>,
    },
    /// The user consumed messages of `inbox`: release their bytes.
    Release {
        inbox: Arc<Inbox>,
    },
    Peeloff {
        id: AssocId,
        spec: StreamSpec,
        reply: Reply<Option<Accepted>>,
    },
    Shutdown {
        id: AssocId,
    },
    Abort {
        id: AssocId,
        reason: bytes::Bytes,
    },
    Query {
        id: AssocId,
        query: Query,
    },
    SetPrimary {
        id: AssocId,
        address: SocketAddr,
        reply: Reply<bool>,
    },
    SetConfig {
        id: AssocId,
        config: Box<Config>,
        reply: Reply<Result<(), String>>,
    },
    /// Answers once everything sent on `id` is acknowledged (or it ended).
    WhenDrained {
        id: AssocId,
        reply: Reply<()>,
    },
}

/// A handle on a running endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Handle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub local_addrs: Arc<Vec<SocketAddr>>,
}

impl Handle {
    /// Sends a command; `false` when the endpoint has stopped.
    pub(crate) fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    /// Sends the command `make` builds around a reply channel and waits
    /// for the answer; `None` when the endpoint has stopped.
    pub(crate) async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        if !self.send(make(reply)) {
            return None;
        }
        answer.await.ok()
    }
}

/// What starting an endpoint needs.
pub(crate) struct Spawn {
    pub sockets: Vec<std::net::UdpSocket>,
    pub config: Config,
    pub advertise: Vec<IpAddr>,
    pub recorder: Option<Arc<Recorder>>,
}

/// Starts an endpoint's driver on a thread of its own.
pub(crate) fn spawn(spawn: Spawn) -> std::io::Result<Handle> {
    spawn
        .config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let local_addrs: Vec<SocketAddr> = spawn
        .sockets
        .iter()
        .map(std::net::UdpSocket::local_addr)
        .collect::<std::io::Result<_>>()?;
    // Associations this end starts take the UDP port's number as their
    // SCTP port when they can: the operating system keeps it unique on the
    // host, so two processes reaching one server from one address never
    // share an SCTP port (which, with the address, names an association).
    let home = local_addrs[0].port();
    let mut endpoint = Endpoint::new(spawn.config, home, os_seed()?, now());
    if !spawn.advertise.is_empty() {
        endpoint.set_local_addresses(spawn.advertise);
    }
    let (commands, rx) = mpsc::unbounded_channel();
    let (started, ready) = std::sync::mpsc::channel();
    let sockets = spawn.sockets;
    let recorder = spawn.recorder;
    std::thread::Builder::new()
        .name("usctp-endpoint".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = started.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                let sockets: std::io::Result<Vec<Io>> =
                    sockets.into_iter().map(Io::from_std).collect();
                let sockets = match sockets {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return;
                    }
                };
                let _ = started.send(Ok(()));
                Driver::new(sockets, endpoint, rx, recorder).run().await;
            });
        })?;
    ready
        .recv()
        .map_err(|_| std::io::Error::other("endpoint thread stopped"))??;
    Ok(Handle {
        commands,
        local_addrs: Arc::new(local_addrs),
    })
}

/// Answers a `WhenDrained` caller.
fn wake(waiter: Reply<()>) {
    let _ = waiter.send(());
}

/// Commands taken in one turn of the driver's loop, at most.
const COMMAND_BATCH: usize = 256;

/// What the driver keeps per association besides the core's state.
struct Assoc {
    /// Where its messages and notifications go: its stream's, or its
    /// one-to-many socket's (`shared`).
    inbox: Arc<Inbox>,
    shared: bool,
    unanswered: Arc<Unanswered>,
    /// Sends waiting for room in the send buffer (or for the association
    /// to come up), in order.
    blocked: VecDeque<PendingSend>,
    /// A shutdown asked for while sends waited in `blocked`.
    shutdown_after_blocked: bool,
    /// A connect waiting for the association to come up.
    connecting: Option<Connecting>,
    /// `WhenDrained` callers.
    drained: Vec<Reply<()>>,
    /// Readable messages left in the association (one-to-many: the
    /// socket's inbox was full).
    deferred: bool,
}

impl Assoc {
    fn new(inbox: Arc<Inbox>, shared: bool) -> Self {
        Self {
            inbox,
            shared,
            unanswered: Arc::default(),
            blocked: VecDeque::new(),
            shutdown_after_blocked: false,
            connecting: None,
            drained: Vec::new(),
            deferred: false,
        }
    }
}

/// A `connect` waiting for its association to come up.
struct Connecting {
    remote: SocketAddr,
    /// INITs it sends at most (for the error that says none was answered).
    attempts: u32,
    reply: Reply<std::io::Result<Accepted>>,
}

/// What listens on an SCTP port.
enum Listener {
    OneToOne {
        queue: Arc<AcceptQueue>,
        spec: StreamSpec,
    },
    OneToMany {
        inbox: Arc<Inbox>,
    },
}

struct Driver {
    /// One socket per local address, all on the same UDP port.
    sockets: Vec<Io>,
    /// Which socket sends to a destination: the one bound to the source
    /// address the kernel's routing picks for it.
    routes: HashMap<IpAddr, usize>,
    endpoint: Endpoint,
    commands: mpsc::UnboundedReceiver<Command>,
    assocs: HashMap<AssocId, Assoc>,
    /// Associations whose user is still to be found: up, from a listener
    /// port, until the event routes them.
    listeners: HashMap<u16, Listener>,
    /// Associations with messages readable.
    readable: Vec<AssocId>,
    /// Packets on their way out together (GSO).
    batch: Batch,
    recv: RecvBuffers,
    /// The datagrams of the receive being handled (kept for its capacity).
    inbox: Vec<(SocketAddr, Option<IpAddr>, bytes::Bytes)>,
    arena: Arena,
    /// Where `--pcap` records every datagram, if anywhere.
    recorder: Option<Arc<Recorder>>,
}

impl Driver {
    fn new(
        sockets: Vec<Io>,
        endpoint: Endpoint,
        commands: mpsc::UnboundedReceiver<Command>,
        recorder: Option<Arc<Recorder>>,
    ) -> Self {
        Self {
            sockets,
            routes: HashMap::new(),
            endpoint,
            commands,
            assocs: HashMap::new(),
            listeners: HashMap::new(),
            readable: Vec::new(),
            batch: Batch::default(),
            recv: RecvBuffers::new(),
            inbox: Vec::new(),
            arena: Arena::default(),
            recorder,
        }
    }

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
                        self.draining().await;
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
    async fn draining(&mut self) {
        for listener in self.listeners.values() {
            match listener {
                Listener::OneToOne { queue, .. } => queue.close(),
                Listener::OneToMany { inbox } => inbox.finish(),
            }
        }
        let ids: Vec<AssocId> = self.assocs.keys().copied().collect();
        let t = now();
        for id in ids {
            self.shutdown(id, t);
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
    fn socket_for(&mut self, destination: SocketAddr) -> std::io::Result<usize> {
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
            self.batch.data.clear();
            self.batch.count = 0;
            return;
        };
        let segment = (self.batch.count > 1).then_some(self.batch.segment);
        tracing::trace!(
            %destination,
            bytes = self.batch.data.len(),
            datagrams = self.batch.count,
            "send"
        );
        if let Some(r) = &self.recorder {
            for packet in self.batch.data.chunks(self.batch.segment.max(1)) {
                r.record(self.sockets[i].local, destination, packet);
            }
        }
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
    fn send_failed(&mut self, t: Instant, destination: SocketAddr, e: &std::io::Error) {
        tracing::debug!(%destination, error = %e, "send failed");
        if io::is_path_failure(e) {
            self.routes.remove(&destination.ip());
            self.endpoint.handle_send_error(t, destination);
        }
    }

    /// Moves what the endpoint has to send into the send batch, written
    /// in place; a packet that cannot join the batch starts the next one
    /// once the batch has gone.
    async fn gather(&mut self, t: Instant) {
        loop {
            let held = self.batch.data.len();
            let Some(tx) = self.endpoint.poll_transmit_append(t, &mut self.batch.data) else {
                return;
            };
            let i = match self.socket_for(tx.destination) {
                Ok(i) => i,
                Err(e) => {
                    self.batch.data.truncate(held);
                    self.send_failed(t, tx.destination, &e);
                    continue;
                }
            };
            let to = (tx.destination, i, tx.source);
            let max = self.sockets[i].state.max_gso_segments();
            if self.batch.count > 0 && !self.batch.takes(to, tx.size, max) {
                let next = self.batch.data.split_off(held);
                self.send_batch(t).await;
                self.batch.data = next;
            }
            self.batch.add(to, tx.size);
        }
    }

    /// Sends everything due, then hands events and messages to users.
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
                self.deliver(id);
                any = true;
            }
            if !any {
                return;
            }
        }
    }

    /// Hands association `id`'s readable messages to its inbox while it
    /// has room; their bytes stay held in the window until the user takes
    /// them.
    fn deliver(&mut self, id: AssocId) {
        let Some(entry) = self.assocs.get_mut(&id) else {
            return;
        };
        let Some(mut assoc) = self.endpoint.association_mut(id) else {
            return;
        };
        entry.deferred = false;
        while assoc.readable() > 0 {
            if !entry.inbox.has_room() {
                entry.deferred = true;
                break;
            }
            let Some(message) = assoc.recv_held() else {
                break;
            };
            entry.inbox.push(id, StreamEvent::Message(message));
        }
    }

    /// The user took messages from `inbox`: their bytes leave the windows,
    /// and messages left waiting for room in it come.
    fn release(&mut self, inbox: &Arc<Inbox>) {
        for (id, bytes) in inbox.take_consumed() {
            if let Some(mut assoc) = self.endpoint.association_mut(id) {
                assoc.release(bytes);
            }
        }
        let waiting: Vec<AssocId> = self
            .assocs
            .iter()
            .filter(|(_, a)| a.deferred && Arc::ptr_eq(&a.inbox, inbox))
            .map(|(&id, _)| id)
            .collect();
        for id in waiting {
            self.deliver(id);
        }
    }

    fn event(&mut self, id: AssocId, event: Event) {
        tracing::debug!(assoc = %id, ?event, "event");
        match event {
            Event::Up(established) => self.up(id, established),
            Event::CantStart(error) => self.cant_start(id, error),
            Event::Readable => self.readable.push(id),
            Event::Writable => self.retry_blocked(id),
            Event::SenderDry => {
                self.retry_blocked(id);
                // The notification is in the inbox before any waiter
                // hears that everything was acknowledged.
                self.notify(id, StreamEvent::SenderDry);
                if let Some(a) = self.assocs.get_mut(&id) {
                    a.drained.drain(..).for_each(wake);
                }
            }
            Event::Restart(info) => self.notify(id, StreamEvent::Restart(info)),
            Event::RemoteError(causes) => self.notify(id, StreamEvent::RemoteError(causes)),
            Event::ShutdownStarted => {
                self.deliver(id);
                self.notify(id, StreamEvent::ShutdownStarted);
            }
            Event::ShutdownComplete => self.closed(id, None),
            Event::Lost(error) => self.closed(id, Some(error)),
            Event::PathChange { address, change } => {
                self.notify(id, StreamEvent::PathChange { address, change });
            }
            Event::SendFailed(messages) => self.notify(id, StreamEvent::SendFailed(messages)),
            Event::AdaptationIndication(code) => {
                self.notify(id, StreamEvent::AdaptationIndication(code));
            }
            Event::PartialDeliveryAborted { stream, ssn } => {
                self.notify(id, StreamEvent::PartialDeliveryAborted { stream, ssn });
            }
        }
    }

    /// Association `id` came up: a connect is answered, a listener's
    /// association queued for `accept`, a one-to-many socket told.
    fn up(&mut self, id: AssocId, established: Established) {
        let Some(assoc) = self.endpoint.association(id) else {
            return;
        };
        let port = assoc.local_port();
        if let Some(entry) = self.assocs.get_mut(&id) {
            // This end started it.
            if let Some(Connecting { reply, .. }) = entry.connecting.take() {
                let Some(accepted) = self.accepted(id, established) else {
                    return;
                };
                // The caller stopped waiting (its `connect` was cancelled):
                // nobody will use the association.
                if reply.send(Ok(accepted)).is_err() {
                    self.shutdown(id, now());
                }
                return;
            }
            if entry.shared {
                entry.inbox.notify(id, StreamEvent::Up(established));
                self.retry_blocked(id);
            }
            return;
        }
        match self.listeners.get(&port) {
            Some(Listener::OneToOne { queue, spec }) => {
                let queue = queue.clone();
                let inbox = Arc::new(Inbox::new(spec.notifications, usize::MAX));
                self.assocs.insert(id, Assoc::new(inbox, false));
                let Some(accepted) = self.accepted(id, established) else {
                    return;
                };
                let full = {
                    let Ok(mut q) = queue.queue.lock() else {
                        return;
                    };
                    q.push_back(accepted);
                    q.len() >= queue.backlog
                };
                queue.ready.notify_one();
                // The accept queue is full: new associations on the port
                // are refused with Out of Resource until the user accepts.
                if full {
                    self.endpoint.pause_accepting(port, true);
                }
            }
            Some(Listener::OneToMany { inbox }) => {
                let inbox = inbox.clone();
                inbox.notify(id, StreamEvent::Up(established));
                self.assocs.insert(id, Assoc::new(inbox, true));
            }
            None => {
                // Nobody to hand it to (the listener went away meanwhile).
                self.endpoint.abort(id, b"no listener");
            }
        }
    }

    /// What a stream of association `id` starts from; `None` if the
    /// driver does not know it.
    fn accepted(&self, id: AssocId, established: Established) -> Option<Accepted> {
        let entry = self.assocs.get(&id)?;
        let assoc = self.endpoint.association(id)?;
        let peer = assoc
            .peer_addresses()
            .first()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        Some(Accepted {
            id,
            established,
            peer,
            local_port: assoc.local_port(),
            inbox: entry.inbox.clone(),
            unanswered: entry.unanswered.clone(),
            max_message: assoc.config().max_message_size,
            status: Some(assoc.status()),
        })
    }

    fn cant_start(&mut self, id: AssocId, error: AssociationError) {
        let Some(mut entry) = self.assocs.remove(&id) else {
            return;
        };
        entry.unanswered.end();
        if let Some(Connecting {
            remote,
            attempts,
            reply,
        }) = entry.connecting.take()
        {
            let error = match &error {
                AssociationError::InitTimeout | AssociationError::CookieTimeout => {
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("could not reach {remote} after {attempts} attempts ({error})"),
                    )
                }
                other => std::io::Error::new(std::io::ErrorKind::ConnectionRefused, other.clone()),
            };
            let _ = reply.send(Err(error));
        }
        // Messages `send_to` queued for an association that never came up.
        for send in entry.blocked.drain(..) {
            send.reply
                .answer(Err(SendError::SetupFailed(error.to_string())));
        }
        if entry.shared {
            entry.inbox.notify(id, StreamEvent::Closed(Some(error)));
            if !self.inbox_in_use(&entry.inbox) {
                entry.inbox.finish();
            }
        }
    }

    /// Hands a notification on if the user subscribed to its kind.
    fn notify(&self, id: AssocId, event: StreamEvent) {
        if let Some(entry) = self.assocs.get(&id) {
            entry.inbox.notify(id, event);
        }
    }

    /// Association `id` ended: what it received goes to its user first,
    /// then the end.
    fn closed(&mut self, id: AssocId, error: Option<AssociationError>) {
        // Deliver what arrived before the end (its window no longer
        // matters).
        if let Some(entry) = self.assocs.get(&id) {
            if let Some(mut assoc) = self.endpoint.association_mut(id) {
                while let Some(message) = assoc.recv_held() {
                    entry.inbox.push(id, StreamEvent::Message(message));
                }
            }
        }
        let Some(mut entry) = self.assocs.remove(&id) else {
            return;
        };
        // From now on every `send` of its stream waits for its answer
        // (which says the association is gone).
        entry.unanswered.end();
        entry.drained.drain(..).for_each(wake);
        let unsent = sends::refuse_blocked(&mut entry.blocked);
        if !unsent.is_empty() {
            entry.inbox.notify(id, StreamEvent::SendFailed(unsent));
        }
        if entry.shared {
            entry.inbox.notify(id, StreamEvent::Closed(error));
            if !self.inbox_in_use(&entry.inbox) {
                entry.inbox.finish();
            }
        } else {
            entry.inbox.push(id, StreamEvent::Closed(error));
            entry.inbox.finish();
        }
    }

    /// Moves association `id` off its one-to-many socket onto a stream of
    /// its own (sctp_peeloff), with what the socket held for it.
    fn peel_off(&mut self, id: AssocId, spec: StreamSpec) -> Option<Accepted> {
        let entry = self.assocs.get_mut(&id)?;
        if !entry.shared {
            return None;
        }
        let assoc = self.endpoint.association(id)?;
        if assoc.state() != AssociationState::Established {
            return None;
        }
        let (outbound_streams, inbound_streams) = assoc.streams();
        let established = Established {
            outbound_streams,
            inbound_streams,
            peer_addresses: assoc.peer_addresses(),
        };
        let inbox = Arc::new(Inbox::new(spec.notifications, usize::MAX));
        entry.inbox.move_items(id, &inbox);
        let old = std::mem::replace(&mut entry.inbox, inbox);
        entry.shared = false;
        // Bytes it consumed from the socket's inbox are released now.
        self.release(&old);
        self.deliver(id);
        self.accepted(id, established)
    }

    /// Starts a graceful shutdown of `id`: what was sent goes first.
    fn shutdown(&mut self, id: AssocId, t: Instant) {
        if let Some(entry) = self.assocs.get_mut(&id) {
            if !entry.blocked.is_empty() {
                entry.shutdown_after_blocked = true;
                return;
            }
        }
        if let Some(mut assoc) = self.endpoint.association_mut(id) {
            assoc.shutdown(t);
        }
    }

    fn command(&mut self, command: Command) {
        let t = now();
        match command {
            Command::Connect {
                remote,
                port,
                options,
                spec,
                reply,
            } => self.connect(t, remote, port, *options, spec, reply),
            Command::Listen {
                port,
                max_associations,
                queue,
                spec,
                reply,
            } => {
                let result =
                    self.add_listener(port, max_associations, Listener::OneToOne { queue, spec });
                let _ = reply.send(result);
            }
            Command::Socket {
                port,
                max_associations,
                inbox,
                reply,
            } => {
                let result =
                    self.add_listener(port, max_associations, Listener::OneToMany { inbox });
                let _ = reply.send(result);
            }
            Command::Unlisten { port } => self.unlisten(port, t),
            Command::Accepted { port } => {
                if let Some(Listener::OneToOne { queue, .. }) = self.listeners.get(&port) {
                    if queue.len() < queue.backlog {
                        self.endpoint.pause_accepting(port, false);
                    }
                }
            }
            Command::Send {
                id,
                stream,
                ppid,
                data,
                options,
                reply,
            } => self.queue_send(
                id,
                PendingSend::new(stream, ppid, data, options, SendReply::Plain(reply)),
            ),
            Command::SendUnanswered {
                id,
                stream,
                ppid,
                data,
                options,
                unanswered,
            } => {
                let reply = SendReply::Unanswered(unanswered, data.len());
                self.queue_send(id, PendingSend::new(stream, ppid, data, options, reply));
            }
            Command::SendTo {
                port,
                to,
                peer_port,
                stream,
                ppid,
                data,
                options,
                reply,
            } => {
                let id = match self.one_to_many_association(t, port, to, peer_port, Vec::new()) {
                    Ok(id) => id,
                    Err(e) => {
                        let _ = reply.send(Err(SendError::SetupFailed(e.to_string())));
                        return;
                    }
                };
                let reply = SendReply::To(id, reply);
                self.queue_send(id, PendingSend::new(stream, ppid, data, options, reply));
            }
            Command::ConnectFrom {
                port,
                to,
                peer_port,
                peer_addresses,
                reply,
            } => {
                let result = self.one_to_many_association(t, port, to, peer_port, peer_addresses);
                let _ = reply.send(result);
            }
            Command::Release { inbox } => self.release(&inbox),
            Command::Peeloff { id, spec, reply } => {
                let _ = reply.send(self.peel_off(id, spec));
            }
            Command::Shutdown { id } => self.shutdown(id, t),
            Command::Abort { id, reason } => self.endpoint.abort(id, &reason),
            Command::Query { id, query } => self.query(id, query),
            Command::SetPrimary { id, address, reply } => {
                let done = self
                    .endpoint
                    .association_mut(id)
                    .is_some_and(|mut a| a.set_primary(address));
                let _ = reply.send(done);
            }
            Command::SetConfig { id, config, reply } => {
                let result = match self.endpoint.association_mut(id) {
                    Some(mut a) => a.set_config(*config),
                    None => Err("the association has ended".to_string()),
                };
                let _ = reply.send(result);
            }
            Command::WhenDrained { id, reply } => self.when_drained(id, reply),
        }
    }

    /// Starts a one-to-one association; `reply` is answered once it is up
    /// (or could not be set up).
    fn connect(
        &mut self,
        t: Instant,
        remote: SocketAddr,
        port: u16,
        options: ConnectOptions,
        spec: StreamSpec,
        reply: Reply<std::io::Result<Accepted>>,
    ) {
        let retransmits = options
            .config
            .as_ref()
            .unwrap_or_else(|| self.endpoint.config())
            .max_init_retransmits;
        match self.endpoint.connect_with(t, remote, port, options) {
            Ok(id) => {
                let inbox = Arc::new(Inbox::new(spec.notifications, usize::MAX));
                let mut entry = Assoc::new(inbox, false);
                entry.connecting = Some(Connecting {
                    remote,
                    attempts: retransmits + 1,
                    reply,
                });
                self.assocs.insert(id, entry);
            }
            Err(e) => {
                use crate::proto::endpoint::ConnectError;
                let kind = match e {
                    ConnectError::InvalidPort | ConnectError::InvalidConfig(_) => {
                        std::io::ErrorKind::InvalidInput
                    }
                    _ => std::io::ErrorKind::AddrInUse,
                };
                let _ = reply.send(Err(std::io::Error::new(kind, e)));
            }
        }
    }

    /// Wakes `waiter` once association `id` has nothing unacknowledged and
    /// no send waiting for room (at once if that is so already).
    fn when_drained(&mut self, id: AssocId, waiter: Reply<()>) {
        let idle = self
            .endpoint
            .association(id)
            .is_none_or(|a| a.buffered_amount() == 0 || a.state() == AssociationState::Closed);
        match self.assocs.get_mut(&id) {
            Some(entry) if !idle || !entry.blocked.is_empty() => entry.drained.push(waiter),
            _ => wake(waiter),
        }
    }

    /// The listener or one-to-many socket on `port` is gone: associations
    /// never accepted, or the socket's, are shut down.
    fn unlisten(&mut self, port: u16, t: Instant) {
        self.endpoint.stop_listening(port);
        match self.listeners.remove(&port) {
            Some(Listener::OneToOne { queue, .. }) => {
                queue.close();
                let waiting: Vec<Accepted> = queue
                    .queue
                    .lock()
                    .map(|mut q| q.drain(..).collect())
                    .unwrap_or_default();
                for a in waiting {
                    self.shutdown(a.id, t);
                }
            }
            Some(Listener::OneToMany { inbox }) => {
                let ids: Vec<AssocId> = self
                    .assocs
                    .iter()
                    .filter(|(_, a)| a.shared && Arc::ptr_eq(&a.inbox, &inbox))
                    .map(|(&id, _)| id)
                    .collect();
                if ids.is_empty() {
                    inbox.finish();
                }
                for id in ids {
                    self.shutdown(id, t);
                }
            }
            None => {}
        }
    }

    /// Whether a one-to-many socket's inbox still has a user: its socket,
    /// or an association of it.
    fn inbox_in_use(&self, inbox: &Arc<Inbox>) -> bool {
        self.listeners
            .values()
            .any(|l| matches!(l, Listener::OneToMany { inbox: i } if Arc::ptr_eq(i, inbox)))
            || self.assocs.values().any(|a| Arc::ptr_eq(&a.inbox, inbox))
    }

    fn add_listener(&mut self, port: u16, max: usize, listener: Listener) -> std::io::Result<()> {
        if port == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "SCTP port 0 is reserved (RFC 9260 §3.1)",
            ));
        }
        if self.listeners.contains_key(&port) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("SCTP port {port} is already listening on this endpoint"),
            ));
        }
        self.endpoint.listen_on(port, max);
        self.listeners.insert(port, listener);
        Ok(())
    }

    /// The association a one-to-many socket on `port` has with the peer,
    /// set up if there is none.
    fn one_to_many_association(
        &mut self,
        t: Instant,
        port: u16,
        to: SocketAddr,
        peer_port: u16,
        peer_addresses: Vec<IpAddr>,
    ) -> std::io::Result<AssocId> {
        if let Some(id) = self.endpoint.association_on(port, to, peer_port) {
            return Ok(id);
        }
        let Some(Listener::OneToMany { inbox }) = self.listeners.get(&port) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the socket has closed",
            ));
        };
        let inbox = inbox.clone();
        let options = ConnectOptions {
            local_port: Some(port),
            peer_addresses,
            config: None,
        };
        let id = self
            .endpoint
            .connect_with(t, to, peer_port, options)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::AddrInUse, e))?;
        self.assocs.insert(id, Assoc::new(inbox, true));
        Ok(id)
    }

    fn query(&self, id: AssocId, query: Query) {
        let assoc = self.endpoint.association(id);
        match query {
            Query::Status(reply) => {
                let _ = reply.send(assoc.map(|a| a.status()));
            }
            Query::Paths(reply) => {
                let _ = reply.send(assoc.map(|a| a.paths()).unwrap_or_default());
            }
            Query::Counters(reply) => {
                let _ = reply.send(assoc.map(|a| a.counters()));
            }
            Query::Config(reply) => {
                let _ = reply.send(assoc.map(|a| a.config().clone()));
            }
        }
    }
}
