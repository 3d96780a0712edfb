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
//! By default the driver runs on a thread of its own, so a user blocking in
//! `Drop` (a stream lingering until its last message is delivered) never
//! stalls it, and users on any runtime share it. With
//! `EndpointOptions::on_current_runtime` it is a task on the caller's
//! runtime instead: no hand-off between threads per message, and drops do
//! not linger (blocking there could stall the very task that finishes
//! the shutdown).

mod commands;
mod events;
mod io;
mod sends;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{Notify, mpsc, oneshot};

use crate::inbox::Inbox;
use crate::proto::arena::Arena;
use crate::proto::association::{AssocId, Established, SendError, Status};
use crate::proto::config::Config;
use crate::proto::endpoint::Endpoint;
use crate::socket::Notifications;
pub(crate) use commands::{Command, Query};

use io::{Batch, Io, RECV_BUFFER, RecvBuffers, recv_any, route_source, unmapped};
pub(crate) use io::{bind_std, now, os_seed};
use sends::PendingSend;
pub(crate) use sends::{Outgoing, Unanswered};

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
    /// which marks it when the association ends), and the largest message
    /// it may send so.
    pub unanswered: Arc<Unanswered>,
    /// Its status when it came up.
    pub status: Option<Status>,
    /// Shuts it down if this is dropped before it becomes a stream.
    pub orphan: Orphan,
}

/// What the driver made for a user who may no longer be there.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Orphaned {
    Association(AssocId),
    Port(u16),
}

/// Undoes what the driver made for a user when the answer carrying it is
/// dropped unused (a `connect`, `peeloff`, `listen` or `socket` cancelled
/// after the endpoint answered): an association is shut down, a port
/// stops listening. Nobody else knows of them.
///
/// The guard sends its command down the users' command channel, after
/// anything its user sent before, but holds it weakly: it does not keep
/// the endpoint running.
#[derive(Debug)]
pub(crate) struct Orphan {
    what: Orphaned,
    commands: Option<mpsc::WeakUnboundedSender<Command>>,
}

impl Orphan {
    /// The user has it.
    pub(crate) fn disarm(&mut self) {
        self.commands = None;
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        if let Some(commands) = self.commands.take().and_then(|c| c.upgrade()) {
            let _ = commands.send(Command::Orphaned(self.what));
        }
    }
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

/// A handle on a running endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Handle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub local_addrs: Arc<Vec<SocketAddr>>,
    /// The driver is a task on a user's runtime: nothing may block waiting
    /// for it (a linger would stall the very runtime that runs it).
    pub on_current_runtime: bool,
}

impl Handle {
    /// Sends a command; `false` when the endpoint has stopped.
    pub(crate) fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    /// Sends a message on association `id`, waiting until the association
    /// has taken it (or refused it).
    pub(crate) async fn send_waiting(
        &self,
        id: AssocId,
        message: Outgoing,
    ) -> Result<(), SendError> {
        self.ask(|reply| Command::Send { id, message, reply })
            .await
            .unwrap_or(Err(SendError::NotOpen))
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
    /// A task on the caller's tokio runtime instead of a thread.
    pub on_current_runtime: bool,
}

/// Starts an endpoint's driver: on a thread of its own, or as a task on
/// the caller's runtime.
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
    // What the sockets hold for every association together, divided among
    // them (Endpoint::set_receive_budget).
    let budget = spawn.sockets.iter().map(io::receive_budget).sum();
    endpoint.set_receive_budget(Some(budget));
    if !spawn.advertise.is_empty() {
        endpoint.set_local_addresses(spawn.advertise);
    }
    let (commands, rx) = mpsc::unbounded_channel();
    let weak_commands = commands.downgrade();
    let (started, ready) = std::sync::mpsc::channel();
    let sockets = spawn.sockets;
    let recorder = spawn.recorder;
    // Everything the driver and the core log for this endpoint is inside
    // its span (the core adds each association's id to its events).
    let span = tracing::debug_span!("usctp_endpoint", local = ?local_addrs);
    let handle = Handle {
        commands,
        local_addrs: Arc::new(local_addrs),
        on_current_runtime: spawn.on_current_runtime,
    };
    if spawn.on_current_runtime {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            std::io::Error::other("an endpoint on the current runtime needs a tokio runtime")
        })?;
        let _entered = runtime.enter();
        let sockets = sockets
            .into_iter()
            .map(Io::from_std)
            .collect::<std::io::Result<Vec<Io>>>()?;
        let driver = Driver::new(sockets, endpoint, (rx, weak_commands), recorder);
        runtime.spawn(tracing::Instrument::instrument(driver.run(), span));
        return Ok(handle);
    }
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
                let driver = Driver::new(sockets, endpoint, (rx, weak_commands), recorder);
                tracing::Instrument::instrument(driver.run(), span).await;
            });
        })?;
    ready
        .recv()
        .map_err(|_| std::io::Error::other("endpoint thread stopped"))??;
    Ok(handle)
}

/// Answers a `WhenDrained` caller.
fn wake(waiter: Reply<()>) {
    let _ = waiter.send(());
}

/// Destinations whose sending socket is remembered, at most.
const MAX_ROUTES: usize = 4096;

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
    /// Readable messages left in the association since the given turn
    /// (one-to-many: the socket's inbox was full).
    deferred: Option<u64>,
    /// Nobody reads its messages any more: they are dropped as they come.
    discarding: bool,
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
            deferred: None,
            discarding: false,
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
pub(crate) enum Listener {
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
    /// Turns counted for associations that wait for room in an inbox (the
    /// order they are served in).
    deferrals: u64,
    /// The associations that wait, by inbox, in turn order: taking from an
    /// inbox serves its waiting associations without looking at the
    /// others.
    waiting: events::Waiting,
    /// Packets on their way out together (GSO).
    batch: Batch,
    recv: RecvBuffers,
    /// The datagrams of the receive being handled (kept for its capacity).
    inbox: Vec<(SocketAddr, Option<IpAddr>, bytes::Bytes)>,
    arena: Arena,
    /// Where `--pcap` records every datagram, if anywhere.
    recorder: Option<Arc<Recorder>>,
    /// The users' command channel, held weakly, for [`Orphan`] guards.
    weak_commands: mpsc::WeakUnboundedSender<Command>,
    /// The socket read first on the next receive (taking turns, so that
    /// traffic on one cannot starve the others).
    first_socket: usize,
}

impl Driver {
    /// A guard that undoes `what` if its user never takes it.
    fn orphan(&self, what: Orphaned) -> Orphan {
        Orphan {
            what,
            commands: Some(self.weak_commands.clone()),
        }
    }

    fn new(
        sockets: Vec<Io>,
        endpoint: Endpoint,
        (commands, weak_commands): (
            mpsc::UnboundedReceiver<Command>,
            mpsc::WeakUnboundedSender<Command>,
        ),
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
            deferrals: 0,
            waiting: events::Waiting::default(),
            batch: Batch::default(),
            recv: RecvBuffers::new(),
            inbox: Vec::new(),
            arena: Arena::default(),
            recorder,
            weak_commands,
            first_socket: 0,
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
                (i, received) = recv_any(&self.sockets, self.first_socket, &mut self.recv) => {
                    self.first_socket = (i + 1) % self.sockets.len();
                    // ICMP errors surface as errors on a later receive on
                    // some systems: they tear nothing down here.
                    if let Ok(count) = received {
                        self.received_batch(i, count).await;
                    }
                }
                command = self.commands.recv() => match command {
                    Some(command) => {
                        // One reading of the clock for the batch: the
                        // commands are taken within microseconds.
                        let t = now();
                        self.command(command, t);
                        // Take what else is waiting before sending: many
                        // messages then leave in few packets and calls.
                        for _ in 0..COMMAND_BATCH {
                            match self.commands.try_recv() {
                                Ok(command) => self.command(command, t),
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
        let t = now();
        // No new associations; what nobody will read is dropped, so that
        // every shutdown can finish.
        let ports: Vec<u16> = self.listeners.keys().copied().collect();
        for port in ports {
            self.unlisten(port, t);
        }
        let ids: Vec<AssocId> = self.assocs.keys().copied().collect();
        for id in ids {
            self.discard(id);
            self.shutdown(id, t);
        }
        while self.endpoint.association_count() > 0 {
            self.flush().await;
            let Some(deadline) = self.endpoint.poll_timeout() else {
                break;
            };
            tokio::select! {
                (i, received) = recv_any(&self.sockets, self.first_socket, &mut self.recv) => {
                    self.first_socket = (i + 1) % self.sockets.len();
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
                    // The address the datagram came to, where the socket
                    // is bound to the wildcard and says.
                    let to = meta
                        .dst_ip
                        .map_or(local, |ip| SocketAddr::new(ip, local.port()));
                    r.record(meta.addr, to, datagram);
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
        // Peers choose the destinations (an INIT from anywhere is
        // answered): the cache is bounded.
        if self.routes.len() >= MAX_ROUTES {
            self.routes.clear();
        }
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
            if tx.fragmentable {
                // Alone, after what is batched, with DF clear.
                let packet = self.batch.data.split_off(held);
                self.send_batch(t).await;
                if let Some(r) = &self.recorder {
                    r.record(self.sockets[i].local, tx.destination, &packet);
                }
                let sent = self.sockets[i]
                    .send_fragmentable(tx.destination, tx.source, &packet)
                    .await;
                if let Err(e) = sent {
                    self.send_failed(t, tx.destination, &e);
                }
                continue;
            }
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
}

impl Drop for Driver {
    /// However the driver stops (a panic included), every user waiting on
    /// it hears that nothing more will come.
    fn drop(&mut self) {
        for entry in self.assocs.values() {
            entry.unanswered.end();
            entry.inbox.finish();
        }
        for listener in self.listeners.values() {
            match listener {
                Listener::OneToOne { queue, .. } => queue.close(),
                Listener::OneToMany { inbox } => inbox.finish(),
            }
        }
    }
}
