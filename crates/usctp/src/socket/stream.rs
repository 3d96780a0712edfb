//! One association, one-to-one style: [`SctpStream`], its halves, and
//! [`Monitor`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::{ConnectOptions, Notifications, SendInfo, StreamEvent};
use crate::driver::{Accepted, Command, Outgoing, Query, Unanswered};
use crate::endpoint::{Endpoint, stopped};
use crate::inbox::{Inbox, Taken};
use crate::proto::association::{
    AssocId, AssociationError, Counters, Established, Message, PathInfo, SendError, Status,
};
use crate::proto::config::Config;

/// One association, one-to-one style (lksctp's SOCK_STREAM).
///
/// Messages and subscribed notifications arrive in order through
/// [`next_event`](Self::next_event) (or [`recv`](Self::recv) for messages
/// only). Flow control reaches the peer: a message's bytes count against
/// the receive window this end advertises until the user takes the
/// message, so a stream nobody reads stops its peer once the window is
/// full.
///
/// Dropping the stream shuts the association down gracefully and, unless
/// its linger is `None`, blocks until the shutdown is complete (everything
/// sent acknowledged, SHUTDOWN COMPLETE exchanged) or the linger has
/// passed (SO_LINGER): a program that exits right after its last `send`
/// still delivers it, and its peer sees a graceful end.
#[derive(Debug)]
pub struct SctpStream {
    // Dropped in this order: what nobody will read is discarded first, so
    // that the shutdown the send half starts (and lingers on) can finish.
    recv: RecvHalf,
    send: SendHalf,
}

impl SctpStream {
    pub(crate) fn new(
        endpoint: Endpoint,
        mut accepted: Accepted,
        linger: Option<Duration>,
    ) -> Self {
        accepted.orphan.disarm();
        let monitor = Monitor {
            endpoint: endpoint.clone(),
            id: accepted.id,
        };
        Self {
            recv: RecvHalf {
                monitor: monitor.clone(),
                inbox: accepted.inbox.clone(),
                closed: None,
                unread: Bytes::new(),
                reading: PendingRead::default(),
            },
            send: SendHalf {
                monitor,
                established: accepted.established,
                status_at_start: accepted.status,
                peer: accepted.peer,
                local_port: accepted.local_port,
                inbox: accepted.inbox,
                unanswered: accepted.unanswered,
                writing: None,
                linger,
                default: SendInfo::default(),
                shut: false,
            },
        }
    }

    /// Starts an association with the peer at UDP address `remote`, SCTP
    /// port `port`, and waits until it is up. With the default options the
    /// association runs on the process's shared endpoint
    /// ([`Endpoint::shared`]); asking for a local address, port, further
    /// local addresses or a capture makes an endpoint of its own.
    pub async fn connect(
        remote: SocketAddr,
        port: u16,
        options: ConnectOptions,
    ) -> io::Result<Self> {
        let endpoint = if options.shares_endpoint() {
            Endpoint::shared()?
        } else {
            let local = if remote.is_ipv6() && options.local.ip().is_unspecified() {
                SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, options.local.port()))
            } else {
                options.local
            };
            Endpoint::bind(local, options.endpoint())?
        };
        endpoint.connect(remote, port, options).await
    }

    /// Splits the stream into a half that receives and a half that sends,
    /// usable from different tasks. Dropping the send half shuts the
    /// association down (and lingers) as dropping the stream does.
    pub fn into_split(self) -> (RecvHalf, SendHalf) {
        (self.recv, self.send)
    }

    /// The association's id within its endpoint.
    pub fn assoc_id(&self) -> AssocId {
        self.send.monitor.id
    }

    /// What the handshake settled.
    pub fn established(&self) -> &Established {
        &self.send.established
    }

    /// The endpoint the association runs on.
    pub fn endpoint(&self) -> &Endpoint {
        &self.send.monitor.endpoint
    }

    /// The first UDP address of the endpoint this end sends from.
    pub fn local_addr(&self) -> SocketAddr {
        self.send.local_addr()
    }

    /// Every local UDP address of the endpoint.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.endpoint().local_addrs()
    }

    /// This end's SCTP port.
    pub fn local_port(&self) -> u16 {
        self.send.local_port
    }

    /// The peer's primary address when the association came up.
    pub fn peer_addr(&self) -> SocketAddr {
        self.send.peer
    }

    /// The peer's addresses, as the handshake announced them.
    pub fn peer_addrs(&self) -> &[SocketAddr] {
        &self.send.established.peer_addresses
    }

    /// See [`SendHalf::send`].
    pub async fn send(&self, stream: u16, ppid: u32, data: Bytes) -> Result<(), SendError> {
        self.send.send(stream, ppid, data).await
    }

    /// See [`SendHalf::send_with`].
    pub async fn send_with(
        &self,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
    ) -> Result<(), SendError> {
        self.send.send_with(stream, ppid, data, unordered).await
    }

    /// See [`SendHalf::send_message`].
    pub async fn send_message(&mut self, data: Bytes, info: SendInfo) -> Result<(), SendError> {
        self.send.send_message(data, info).await
    }

    /// See [`SendHalf::send_default`].
    pub async fn send_default(&mut self, data: Bytes) -> Result<(), SendError> {
        self.send.send_default(data).await
    }

    /// See [`SendHalf::set_default_send_info`].
    pub fn set_default_send_info(&mut self, info: SendInfo) {
        self.send.set_default_send_info(info);
    }

    /// See [`RecvHalf::recv`].
    pub async fn recv(&mut self) -> Option<Message> {
        self.recv.recv().await
    }

    /// See [`RecvHalf::next_event`].
    pub async fn next_event(&mut self) -> Option<StreamEvent> {
        self.recv.next_event().await
    }

    /// See [`RecvHalf::try_next_event`].
    pub fn try_next_event(&mut self) -> Option<StreamEvent> {
        self.recv.try_next_event()
    }

    /// See [`RecvHalf::close_reason`].
    pub fn close_reason(&self) -> Option<&AssociationError> {
        self.recv.close_reason()
    }

    /// See [`RecvHalf::subscribe`].
    pub fn subscribe(&self, events: Notifications) {
        self.recv.subscribe(events);
    }

    /// Which notifications are delivered.
    pub fn subscription(&self) -> Notifications {
        self.recv.inbox.subscription()
    }

    /// See [`SendHalf::shutdown`].
    pub fn shutdown(&mut self) {
        self.send.shutdown();
    }

    /// Shuts the association down and waits until it has closed: every
    /// message sent is delivered, and every message the peer sent before
    /// its shutdown is read and dropped. `Ok` for a graceful end.
    pub async fn close(mut self) -> Result<(), AssociationError> {
        self.send.shutdown();
        while self.recv.next_event().await.is_some() {}
        match self.recv.close_reason() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// See [`SendHalf::abort`].
    pub fn abort(&mut self, reason: &[u8]) {
        self.send.abort(reason);
    }

    /// How long dropping the stream waits for its shutdown to complete
    /// (SO_LINGER); `None` does not wait.
    pub fn set_linger(&mut self, linger: Option<Duration>) {
        self.send.linger = linger;
    }

    /// The status the moment the association came up.
    pub fn status_at_start(&self) -> Option<&Status> {
        self.send.status_at_start.as_ref()
    }

    /// See [`Monitor::status`].
    pub async fn status(&self) -> Option<Status> {
        self.send.monitor.status().await
    }

    /// See [`Monitor::paths`].
    pub async fn paths(&self) -> Vec<PathInfo> {
        self.send.monitor.paths().await
    }

    /// See [`Monitor::counters`].
    pub async fn counters(&self) -> Option<Counters> {
        self.send.monitor.counters().await
    }

    /// See [`Monitor::config`].
    pub async fn config(&self) -> Option<Config> {
        self.send.monitor.config().await
    }

    /// See [`Monitor::set_config`].
    pub async fn set_config(&self, config: Config) -> io::Result<()> {
        self.send.monitor.set_config(config).await
    }

    /// See [`Monitor::set_primary`].
    pub async fn set_primary(&self, address: SocketAddr) -> bool {
        self.send.monitor.set_primary(address).await
    }

    /// See [`Monitor::all_acknowledged`].
    pub async fn all_acknowledged(&self) {
        self.send.monitor.all_acknowledged().await;
    }

    /// A handle that reads this association's status and paths from
    /// another task (a progress display, say).
    pub fn monitor(&self) -> Monitor {
        self.send.monitor.clone()
    }
}

type Reading = Pin<Box<dyn Future<Output = Option<Taken>> + Send>>;

/// `AsyncRead`'s wait for the next item, while one is under way (in a
/// mutex only so that the half is `Sync`; reached by `get_mut`).
#[derive(Default)]
struct PendingRead(std::sync::Mutex<Option<Reading>>);

impl std::fmt::Debug for PendingRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingRead")
    }
}

/// The receiving half of an [`SctpStream`].
#[derive(Debug)]
pub struct RecvHalf {
    monitor: Monitor,
    inbox: Arc<Inbox>,
    closed: Option<Option<AssociationError>>,
    /// `AsyncRead`: what is left of the message being read.
    unread: Bytes,
    reading: PendingRead,
}

impl RecvHalf {
    /// The next message; `None` once the association has ended (see
    /// [`close_reason`](Self::close_reason)). Notifications are skipped;
    /// [`next_event`](Self::next_event) shows them.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            if let StreamEvent::Message(m) = self.next_event().await? {
                return Some(m);
            }
        }
    }

    /// The next message or subscribed notification; the last item is
    /// `Closed`, after which this returns `None`. Cancel-safe: nothing is
    /// taken unless it is returned.
    pub async fn next_event(&mut self) -> Option<StreamEvent> {
        if self.closed.is_some() {
            return None;
        }
        self.abandon_read();
        let taken = match self.inbox.take().await {
            Some(taken) => taken,
            None => Taken {
                item: Some((self.monitor.id, StreamEvent::Closed(None))),
                release: false,
            },
        };
        self.taken(taken)
    }

    /// The next message or notification if one is waiting.
    pub fn try_next_event(&mut self) -> Option<StreamEvent> {
        if self.closed.is_some() {
            return None;
        }
        self.abandon_read();
        let taken = self.inbox.try_take();
        if taken.item.is_none() && self.inbox.is_finished() {
            self.closed = Some(None);
            return Some(StreamEvent::Closed(None));
        }
        self.taken(taken)
    }

    /// Drops the wait of an `AsyncRead` that was left pending (it took
    /// nothing: items are only taken when returned).
    fn abandon_read(&mut self) {
        *self.reading.0.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The bookkeeping of a taken item: the driver hears the user read
    /// message bytes (their window space opens), and the end is noted.
    fn taken(&mut self, taken: Taken) -> Option<StreamEvent> {
        if taken.release {
            let inbox = self.inbox.clone();
            self.monitor
                .endpoint
                .handle
                .send(Command::Release { inbox });
        }
        let (_, event) = taken.item?;
        if let StreamEvent::Closed(reason) = &event {
            self.closed = Some(reason.clone());
        }
        Some(event)
    }

    /// Why the association ended, once it has: `None` for a graceful
    /// shutdown (or while it is up).
    pub fn close_reason(&self) -> Option<&AssociationError> {
        self.closed.as_ref().and_then(Option::as_ref)
    }

    /// Which notifications are delivered from now on (SCTP_EVENT).
    pub fn subscribe(&self, events: Notifications) {
        self.inbox.subscribe(events);
    }
}

impl Drop for RecvHalf {
    /// Nobody will read what the association received: the endpoint drops
    /// it, and what comes later, so that the window stays open and the
    /// peer can finish a shutdown.
    fn drop(&mut self) {
        if !self.inbox.is_ended() {
            let id = self.monitor.id;
            self.monitor.endpoint.handle.send(Command::Discard { id });
        }
    }
}

/// The sending half of an [`SctpStream`]. Dropping it shuts the
/// association down, lingering as the stream's drop does.
#[derive(Debug)]
pub struct SendHalf {
    monitor: Monitor,
    established: Established,
    status_at_start: Option<Status>,
    peer: SocketAddr,
    local_port: u16,
    /// The association's inbox, to know whether it has ended.
    inbox: Arc<Inbox>,
    /// Bytes `send` handed over without waiting, not yet in the send buffer.
    unanswered: Arc<Unanswered>,
    /// `AsyncWrite`: the message handed to the endpoint and not yet taken
    /// into its send buffer, with its length.
    writing: Option<(oneshot::Receiver<Result<(), SendError>>, usize)>,
    linger: Option<Duration>,
    /// What `AsyncWrite` and `send_default` send with
    /// (SCTP_DEFAULT_SNDINFO).
    default: SendInfo,
    /// A shutdown or abort has been asked for.
    shut: bool,
}

impl SendHalf {
    fn local_addr(&self) -> SocketAddr {
        self.monitor.endpoint.local_addr()
    }

    /// Sends a message on `stream` with `ppid`, ordered. Waits while the
    /// send buffer is full.
    pub async fn send(&self, stream: u16, ppid: u32, data: Bytes) -> Result<(), SendError> {
        self.send_with(stream, ppid, data, false).await
    }

    /// Sends a message, ordered or not.
    ///
    /// A valid message is handed to the endpoint without waiting for its
    /// answer while less than 256 KiB sent that way are still waiting to
    /// enter the send buffer; past that (or for a message the association
    /// could refuse) `send` waits until the endpoint has taken it, which is
    /// while the send buffer is full. `Ok` thus means the message is on its
    /// way: a shutdown delivers it first, and if the association ends
    /// before taking it, it comes back in [`StreamEvent::SendFailed`].
    /// Once the association has ended, `send` fails.
    ///
    /// Cancellation: dropping the future before it completes sends the
    /// message only if the endpoint had already taken it into the send
    /// buffer; a message still waiting for room is discarded.
    pub async fn send_with(
        &self,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
    ) -> Result<(), SendError> {
        self.queue(data, &SendInfo::new(stream, ppid, unordered))
            .await
    }

    /// Sends a message as `info` says (sctp_sendv with `sctp_sndinfo`):
    /// SCTP_EOF starts a graceful shutdown after it (an empty message only
    /// shuts down); SCTP_ABORT aborts, the message's bytes the reason.
    pub async fn send_message(&mut self, data: Bytes, info: SendInfo) -> Result<(), SendError> {
        if info.abort {
            self.abort(&data);
            return Ok(());
        }
        if !(info.eof && data.is_empty()) {
            self.queue(data, &info).await?;
        }
        if info.eof {
            self.shutdown();
        }
        Ok(())
    }

    /// Sends a message with the default send information.
    pub async fn send_default(&mut self, data: Bytes) -> Result<(), SendError> {
        self.send_message(data, self.default).await
    }

    /// What `AsyncWrite` and [`send_default`](Self::send_default) send
    /// with from now on (SCTP_DEFAULT_SNDINFO); stream 0, PPID 0, ordered
    /// by default.
    pub fn set_default_send_info(&mut self, info: SendInfo) {
        self.default = info;
    }

    async fn queue(&self, data: Bytes, info: &SendInfo) -> Result<(), SendError> {
        if let Some(handed) = self.without_waiting(&data, info) {
            return handed;
        }
        let message = Outgoing::new(data, info);
        self.monitor
            .endpoint
            .handle
            .send_waiting(self.monitor.id, message)
            .await
    }

    /// Hands a message the association cannot refuse (valid, and little
    /// enough already on its way) to the endpoint without waiting for its
    /// answer: a sender then queues many messages per wake-up of the
    /// endpoint. `None` if it must wait instead.
    fn without_waiting(&self, data: &Bytes, info: &SendInfo) -> Option<Result<(), SendError>> {
        if !(self.valid(data, info.stream) && self.unanswered.reserve(data.len())) {
            return None;
        }
        let command = Command::SendUnanswered {
            id: self.monitor.id,
            message: Outgoing::new(data.clone(), info),
            unanswered: self.unanswered.clone(),
        };
        if !self.monitor.endpoint.handle.send(command) {
            self.unanswered.release(data.len());
            return Some(Err(SendError::NotOpen));
        }
        Some(Ok(()))
    }

    /// Whether the association will surely take the message.
    fn valid(&self, data: &Bytes, stream: u16) -> bool {
        !self.shut
            && !data.is_empty()
            && data.len() <= self.unanswered.largest()
            && stream < self.established.outbound_streams
    }

    /// Starts a graceful shutdown: what was sent is delivered first, and
    /// messages from the peer may still arrive until it has shut down too.
    pub fn shutdown(&mut self) {
        if !std::mem::replace(&mut self.shut, true) {
            let id = self.monitor.id;
            self.monitor.endpoint.handle.send(Command::Shutdown { id });
        }
    }

    /// Ends the association at once, telling the peer `reason`; messages
    /// not yet acknowledged are lost (and reported in `SendFailed`).
    pub fn abort(&mut self, reason: &[u8]) {
        self.shut = true;
        let id = self.monitor.id;
        self.monitor.endpoint.handle.send(Command::Abort {
            id,
            reason: Bytes::copy_from_slice(reason),
        });
    }

    /// A handle on the association's status.
    pub fn monitor(&self) -> Monitor {
        self.monitor.clone()
    }

    /// `AsyncWrite`: waits until the message in hand (if any) is taken into
    /// the send buffer; its length, or 0 with none in hand.
    fn poll_written(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some((answer, n)) = &mut self.writing else {
            return Poll::Ready(Ok(0));
        };
        let n = *n;
        let Poll::Ready(result) = Pin::new(answer).poll(cx) else {
            return Poll::Pending;
        };
        self.writing = None;
        Poll::Ready(match result {
            Ok(Ok(())) => Ok(n),
            Ok(Err(e)) => Err(io::Error::new(io::ErrorKind::BrokenPipe, e)),
            Err(_) => Err(io::ErrorKind::BrokenPipe.into()),
        })
    }
}

impl Drop for SendHalf {
    /// Shuts the association down gracefully, then lingers (see
    /// [`SctpStream`]).
    fn drop(&mut self) {
        if self.inbox.is_ended() {
            return;
        }
        self.shutdown();
        let Some(linger) = self
            .linger
            .filter(|l| !l.is_zero() && !self.monitor.endpoint.handle.on_current_runtime)
        else {
            return;
        };
        // The endpoint finishes the inbox once the association has closed
        // (SHUTDOWN COMPLETE, or an ABORT); it runs on a thread of its own
        // (a driver on this runtime does not linger, above), so blocking
        // here cannot stall it.
        self.inbox.wait_ended(linger);
    }
}

/// Reads an association's status and paths, and changes its settings;
/// cheap to clone.
#[derive(Debug, Clone)]
pub struct Monitor {
    pub(crate) endpoint: Endpoint,
    pub(crate) id: AssocId,
}

impl Monitor {
    /// The association's status (SCTP_STATUS), or `None` once it is gone.
    pub async fn status(&self) -> Option<Status> {
        self.query(Query::Status).await.flatten()
    }

    /// Every peer address with its state, primary first
    /// (SCTP_GET_PEER_ADDR_INFO for each).
    pub async fn paths(&self) -> Vec<PathInfo> {
        self.query(Query::Paths).await.unwrap_or_default()
    }

    /// What the association has counted (SCTP_GET_ASSOC_STATS), or `None`
    /// once it is gone.
    pub async fn counters(&self) -> Option<Counters> {
        self.query(Query::Counters).await.flatten()
    }

    /// The association's protocol parameters, or `None` once it is gone.
    pub async fn config(&self) -> Option<Config> {
        self.query(Query::Config).await.flatten()
    }

    async fn query<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Query) -> Option<T> {
        let id = self.id;
        self.endpoint
            .handle
            .ask(|reply| Command::Query {
                id,
                query: make(reply),
            })
            .await
    }

    /// Changes the association's protocol parameters (the socket options
    /// RFC 6458 §8 lists: RTO bounds, path failure threshold, heartbeat
    /// interval, delayed SACK, ...). Parameters settled by the handshake
    /// (streams, the cookie) cannot change.
    pub async fn set_config(&self, config: Config) -> io::Result<()> {
        let id = self.id;
        let config = Box::new(config);
        self.endpoint
            .handle
            .ask(|reply| Command::SetConfig { id, config, reply })
            .await
            .ok_or_else(stopped)?
    }

    /// Makes `address` the primary path (SCTP_PRIMARY_ADDR); `false` if it
    /// is not one of the peer's addresses or the association is gone.
    pub async fn set_primary(&self, address: SocketAddr) -> bool {
        let id = self.id;
        self.endpoint
            .handle
            .ask(|reply| Command::SetPrimary { id, address, reply })
            .await
            .unwrap_or(false)
    }

    /// Waits until everything sent so far has been acknowledged by the
    /// peer (or the association has ended).
    pub async fn all_acknowledged(&self) {
        let id = self.id;
        let _ = self
            .endpoint
            .handle
            .ask(|reply| Command::WhenDrained { id, reply })
            .await;
    }
}

/// Messages written through `AsyncWrite` are at most this long; a longer
/// write is cut and reports the part taken.
const WRITE_CHUNK: usize = 64 * 1024;

impl RecvHalf {
    fn poll_next_message(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if !self.unread.is_empty() || self.closed.is_some() {
                return Poll::Ready(());
            }
            let inbox = self.inbox.clone();
            let reading = self.reading.0.get_mut().unwrap_or_else(|e| e.into_inner());
            let future = reading.get_or_insert_with(|| Box::pin(async move { inbox.take().await }));
            let Poll::Ready(taken) = future.as_mut().poll(cx) else {
                return Poll::Pending;
            };
            *reading = None;
            let event = match taken {
                Some(taken) => self.taken(taken),
                None => {
                    self.closed = Some(None);
                    None
                }
            };
            if let Some(StreamEvent::Message(m)) = event {
                self.unread = m.data;
            }
        }
    }
}

/// Byte-stream use: reads return message payloads in order (message
/// boundaries, streams and PPIDs are not visible; notifications are
/// skipped), and end at a graceful shutdown or any close.
impl tokio::io::AsyncRead for RecvHalf {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.poll_next_message(cx).is_pending() {
            return Poll::Pending;
        }
        let n = self.unread.len().min(buf.remaining());
        let part = self.unread.split_to(n);
        buf.put_slice(&part);
        Poll::Ready(Ok(()))
    }
}

/// Byte-stream use: each write goes as one message (at most 64 KiB of it)
/// with the default send information (stream 0, PPID 0, ordered, unless
/// set); a write waits while the send buffer is full. `poll_shutdown`
/// starts a graceful shutdown.
impl tokio::io::AsyncWrite for SendHalf {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.writing.is_none() {
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            if self.shut {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            let n = buf.len().min(WRITE_CHUNK);
            let data = Bytes::copy_from_slice(&buf[..n]);
            let info = self.default;
            match self.without_waiting(&data, &info) {
                Some(Ok(())) => return Poll::Ready(Ok(n)),
                Some(Err(_)) => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                None => {}
            }
            let (reply, answer) = oneshot::channel();
            let command = Command::Send {
                id: self.monitor.id,
                message: Outgoing::new(data, &info),
                reply,
            };
            if !self.monitor.endpoint.handle.send(command) {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            self.writing = Some((answer, n));
        }
        // A write that returned Pending is answered, when its message is
        // taken, with that message's length (the caller repeats the same
        // buffer, as AsyncWrite asks).
        self.poll_written(cx)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_written(cx).map(|r| r.map(drop))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.as_mut().poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                self.shutdown();
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl tokio::io::AsyncRead for SctpStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.recv).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for SctpStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.send).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.send).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.send).poll_shutdown(cx)
    }
}
