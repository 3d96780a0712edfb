//! An async socket API in the lksctp style, over the UDP driver.
//!
//! One-to-one style: [`SctpListener`] accepts associations that peers start,
//! [`SctpStream::connect`] starts one. Each [`SctpStream`] sends and
//! receives whole messages with a stream id, a PPID and an unordered flag.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use usctp::socket::{SctpListener, SctpStream};
//!
//! let listener = SctpListener::bind("127.0.0.1:9899".parse().unwrap(), 13, Default::default()).await?;
//! let mut client = SctpStream::connect(listener.local_addr(), 13, Default::default()).await?;
//! let mut server = listener.accept().await?;
//! client.send(0, 0, "hello".into()).await.unwrap();
//! let message = server.recv().await.unwrap();
//! assert_eq!(&message.data[..], b"hello");
//! # Ok(()) }
//! ```

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::proto::association::{
    AssocId, AssociationError, Established, Message, PathInfo, SendError,
};
use crate::proto::config::Config;
use crate::udp::Recorder;
use crate::udp::{self, Accepted, Accepting, Command, Handle, Unanswered};
pub use crate::udp::{Status, StreamEvent, Subscription};

/// Accepts associations on a UDP address and SCTP port.
pub struct SctpListener {
    handle: Handle,
    accepted: Mutex<mpsc::UnboundedReceiver<Accepted>>,
}

impl SctpListener {
    /// Binds the UDP socket (`bind`, port 0 for any) and listens on SCTP
    /// `port`.
    pub async fn bind(bind: SocketAddr, port: u16, config: Config) -> io::Result<Self> {
        Self::bind_with_limit(bind, port, config, usize::MAX).await
    }

    /// As `bind`, holding at most `max_associations` at once.
    pub async fn bind_with_limit(
        bind: SocketAddr,
        port: u16,
        config: Config,
        max_associations: usize,
    ) -> io::Result<Self> {
        let options = ListenOptions {
            config,
            max_associations,
            ..ListenOptions::default()
        };
        Self::bind_with(bind, port, options).await
    }

    /// As `bind`, with every option.
    pub async fn bind_with(
        bind: SocketAddr,
        port: u16,
        options: ListenOptions,
    ) -> io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let accept = Accepting::OneToOne(tx, options.max_associations);
        let mut binds = vec![bind];
        binds.extend(&options.also_bind);
        let recorder = options.recorder();
        let handle = udp::spawn(
            &binds,
            Some(port),
            options.config,
            accept,
            recorder,
            options.events,
        )
        .await?;
        Ok(Self {
            handle,
            accepted: Mutex::new(rx),
        })
    }

    /// The UDP address the listener receives on.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    /// The next association a peer established.
    pub async fn accept(&self) -> io::Result<SctpStream> {
        let accepted = self.accepted.lock().await.recv().await;
        let accepted = accepted.ok_or_else(|| io::Error::other("endpoint stopped"))?;
        Ok(SctpStream::new(self.handle.clone(), accepted))
    }
}

/// Options for a listener.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// Protocol parameters.
    pub config: Config,
    /// Associations held at once, at most.
    pub max_associations: usize,
    /// Record every datagram sent and received in this pcap file.
    #[cfg(feature = "pcap")]
    pub pcap: Option<Arc<Recorder>>,
    /// Further local addresses (multi-homing): each gets a socket on the
    /// listener's UDP port, and all of them are advertised to peers.
    pub also_bind: Vec<SocketAddr>,
    /// Notifications to deliver (SCTP_EVENTS).
    pub events: Subscription,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            config: Config::default(),
            max_associations: usize::MAX,
            #[cfg(feature = "pcap")]
            pcap: None,
            also_bind: Vec::new(),
            events: Subscription::ALL,
        }
    }
}

impl ListenOptions {
    fn recorder(&self) -> Option<Arc<Recorder>> {
        #[cfg(feature = "pcap")]
        return self.pcap.clone();
        #[cfg(not(feature = "pcap"))]
        None
    }
}

impl ConnectOptions {
    fn recorder(&self) -> Option<Arc<Recorder>> {
        #[cfg(feature = "pcap")]
        return self.pcap.clone();
        #[cfg(not(feature = "pcap"))]
        None
    }
}

/// Options for starting an association (after SCTP_INITMSG).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Protocol parameters, including outbound streams, maximum inbound
    /// streams and INIT retransmissions.
    pub config: Config,
    /// The local UDP address to bind (port 0 for any).
    pub local: SocketAddr,
    /// This end's SCTP port (0: the number of its UDP port, which the
    /// operating system keeps unique on the host).
    pub port: u16,
    /// Record every datagram sent and received in this pcap file.
    #[cfg(feature = "pcap")]
    pub pcap: Option<Arc<Recorder>>,
    /// Further local addresses (multi-homing), on `local`'s UDP port.
    pub also_bind: Vec<SocketAddr>,
    /// Further addresses of the peer: INIT retransmissions go to them in
    /// turn, and an INIT ACK from any of them is accepted (RFC 9260 §6.4).
    pub peer_addresses: Vec<IpAddr>,
    /// Notifications to deliver (SCTP_EVENTS).
    pub events: Subscription,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            config: Config::default(),
            local: SocketAddr::from(([0, 0, 0, 0], 0)),
            port: 0,
            #[cfg(feature = "pcap")]
            pcap: None,
            also_bind: Vec::new(),
            peer_addresses: Vec::new(),
            events: Subscription::ALL,
        }
    }
}

/// One association, one-to-one style.
pub struct SctpStream {
    handle: Handle,
    id: AssocId,
    established: Established,
    status_at_start: Option<Status>,
    events: mpsc::UnboundedReceiver<StreamEvent>,
    closed: Option<Option<AssociationError>>,
    /// `AsyncRead`: what is left of the message being read.
    unread: Bytes,
    /// `AsyncWrite`: the message handed to the endpoint and not yet taken
    /// into its send buffer, with its length.
    writing: Option<(oneshot::Receiver<Result<(), SendError>>, usize)>,
    /// Bytes `send` handed over without waiting, not yet in the send buffer.
    unanswered: Arc<Unanswered>,
    max_message: usize,
}

impl SctpStream {
    fn new(handle: Handle, accepted: Accepted) -> Self {
        Self {
            handle,
            id: accepted.id,
            established: accepted.established,
            status_at_start: accepted.status,
            events: accepted.events,
            closed: None,
            unread: Bytes::new(),
            writing: None,
            unanswered: accepted.unanswered,
            max_message: accepted.max_message,
        }
    }

    /// Starts an association with the peer at UDP address `remote`, SCTP
    /// port `port`, and waits until it is up.
    pub async fn connect(
        remote: SocketAddr,
        port: u16,
        options: ConnectOptions,
    ) -> io::Result<Self> {
        let local = if remote.is_ipv6() && options.local.ip().is_unspecified() {
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, options.local.port()))
        } else {
            options.local
        };
        let sctp_port = (options.port != 0).then_some(options.port);
        let mut binds = vec![local];
        binds.extend(&options.also_bind);
        let recorder = options.recorder();
        let handle = udp::spawn(
            &binds,
            sctp_port,
            options.config,
            Accepting::No,
            recorder,
            options.events,
        )
        .await?;
        let (reply, answer) = oneshot::channel();
        handle
            .commands
            .send(Command::Connect {
                remote,
                also: options.peer_addresses,
                port,
                reply,
            })
            .map_err(|_| io::Error::other("endpoint stopped"))?;
        let accepted = answer
            .await
            .map_err(|_| io::Error::other("endpoint stopped"))??;
        Ok(Self::new(handle, accepted))
    }

    /// The association's id within its endpoint.
    pub fn assoc_id(&self) -> AssocId {
        self.id
    }

    /// What the handshake settled.
    pub fn established(&self) -> &Established {
        &self.established
    }

    /// The UDP address this end sends from.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    /// Sends a message on `stream` with `ppid`, ordered. Waits while the
    /// send buffer is full.
    pub async fn send(&self, stream: u16, ppid: u32, data: Bytes) -> Result<(), SendError> {
        self.send_with(stream, ppid, data, false).await
    }

    /// Sends a message, ordered or not.
    ///
    /// A valid message is handed to the endpoint task without waiting for
    /// its answer while less than 256 KiB sent that way are still waiting
    /// to enter the send buffer; past that (or for a message the
    /// association could refuse) `send` waits until the endpoint has taken
    /// it, which is while the send buffer is full. `Ok` thus means the
    /// message is on its way: a [`shutdown`](Self::shutdown) delivers it
    /// first, and if the association ends before taking it, it comes back
    /// in [`StreamEvent::SendFailed`]. Once the association has ended,
    /// `send` fails.
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
        // A message that cannot be refused (valid, and little enough
        // already on its way) is handed over without waiting for the
        // endpoint task's answer: a sender then queues many messages per
        // wake-up of that task. Past the limit, `send` waits as before.
        let valid = !data.is_empty()
            && data.len() <= self.max_message
            && stream < self.established.outbound_streams;
        if valid && self.closed.is_none() && self.unanswered.reserve(data.len()) {
            let len = data.len();
            let command = Command::SendUnanswered {
                id: self.id,
                stream,
                ppid,
                data,
                unordered,
                unanswered: self.unanswered.clone(),
            };
            if self.handle.commands.send(command).is_err() {
                self.unanswered.release(len);
                return Err(SendError::NotOpen);
            }
            return Ok(());
        }
        self.handle
            .send_request(|reply| Command::Send {
                id: self.id,
                stream,
                ppid,
                data,
                unordered,
                reply,
            })
            .await
    }

    /// The next message; `None` once the association has ended (see
    /// [`SctpStream::close_reason`]). Notifications are skipped; use
    /// [`SctpStream::next_event`] to see them.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            match self.next_event().await? {
                StreamEvent::Message(m) => return Some(m),
                _ => continue,
            }
        }
    }

    /// The next message or notification (like SCTP_EVENTS subscriptions);
    /// the last one is `Closed`, after which this returns `None`.
    pub async fn next_event(&mut self) -> Option<StreamEvent> {
        if self.closed.is_some() {
            return None;
        }
        match self.events.recv().await {
            Some(StreamEvent::Closed(reason)) => {
                self.closed = Some(reason.clone());
                Some(StreamEvent::Closed(reason))
            }
            Some(event) => Some(event),
            None => {
                self.closed = Some(None);
                Some(StreamEvent::Closed(None))
            }
        }
    }

    /// Why the association ended, once `recv` has returned `None`: `None`
    /// for a graceful shutdown.
    pub fn close_reason(&self) -> Option<&AssociationError> {
        self.closed.as_ref().and_then(Option::as_ref)
    }

    /// Starts a graceful shutdown: what was sent is delivered first.
    pub fn shutdown(&self) {
        let _ = self.handle.commands.send(Command::Shutdown { id: self.id });
    }

    /// Ends the association at once, telling the peer `reason`.
    pub fn abort(&self, reason: &[u8]) {
        let _ = self.handle.commands.send(Command::Abort {
            id: self.id,
            reason: Bytes::copy_from_slice(reason),
        });
    }

    /// The status the moment the association came up.
    pub fn status_at_start(&self) -> Option<&Status> {
        self.status_at_start.as_ref()
    }

    /// The association's status (SCTP_STATUS), or `None` once it is gone.
    pub async fn status(&self) -> Option<Status> {
        self.monitor().status().await
    }

    /// Every peer address with its state, primary first
    /// (SCTP_GET_PEER_ADDR_INFO for each).
    pub async fn paths(&self) -> Vec<PathInfo> {
        self.monitor().paths().await
    }

    /// The next message or notification if one is waiting, without
    /// waiting.
    pub fn try_next_event(&mut self) -> Option<StreamEvent> {
        if self.closed.is_some() {
            return None;
        }
        match self.events.try_recv() {
            Ok(StreamEvent::Closed(reason)) => {
                self.closed = Some(reason.clone());
                Some(StreamEvent::Closed(reason))
            }
            Ok(event) => Some(event),
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => {
                self.closed = Some(None);
                Some(StreamEvent::Closed(None))
            }
        }
    }

    /// Makes `address` the primary path (SCTP_PRIMARY_ADDR); `false` if it
    /// is not one of the peer's addresses or the association is gone.
    pub async fn set_primary(&self, address: SocketAddr) -> bool {
        let (reply, answer) = oneshot::channel();
        let command = Command::SetPrimary {
            id: self.id,
            address,
            reply,
        };
        if self.handle.commands.send(command).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// A handle that reads this association's status and paths from
    /// another task (a progress display, say).
    pub fn monitor(&self) -> Monitor {
        Monitor {
            handle: self.handle.clone(),
            id: self.id,
        }
    }
}

/// Reads an association's status and paths; cheap to clone.
#[derive(Clone)]
pub struct Monitor {
    handle: Handle,
    id: AssocId,
}

impl Monitor {
    /// As [`SctpStream::status`].
    pub async fn status(&self) -> Option<Status> {
        let (reply, answer) = oneshot::channel();
        self.handle
            .commands
            .send(Command::Status { id: self.id, reply })
            .ok()?;
        answer.await.ok().flatten()
    }

    /// As [`SctpStream::paths`].
    pub async fn paths(&self) -> Vec<PathInfo> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Paths { id: self.id, reply };
        if self.handle.commands.send(command).is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }
}

impl Drop for SctpStream {
    /// Dropping a stream closes its association gracefully.
    fn drop(&mut self) {
        if self.closed.is_none() {
            self.shutdown();
        }
    }
}

/// A one-to-many socket (lksctp's SOCK_SEQPACKET style): one endpoint,
/// many associations, each named by its [`AssocId`]. Associations peers
/// start are accepted; `send_to` an address without one sets it up. Every
/// association's messages and notifications arrive on the one socket until
/// [`SctpSocket::peeloff`] gives it a stream of its own.
pub struct SctpSocket {
    handle: Handle,
    events: mpsc::UnboundedReceiver<(AssocId, StreamEvent)>,
}

impl SctpSocket {
    /// Binds the UDP socket(s) and listens on SCTP `port`.
    pub async fn bind(bind: SocketAddr, port: u16, options: ListenOptions) -> io::Result<Self> {
        let (tx, events) = mpsc::unbounded_channel();
        let accepting = Accepting::OneToMany(tx, options.max_associations);
        let mut binds = vec![bind];
        binds.extend(&options.also_bind);
        let recorder = options.recorder();
        let handle = udp::spawn(
            &binds,
            Some(port),
            options.config,
            accepting,
            recorder,
            options.events,
        )
        .await?;
        Ok(Self { handle, events })
    }

    /// The UDP address the socket receives on.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    /// Sends a message to the peer at UDP address `to`, SCTP port `port`,
    /// setting up an association first if there is none; returns the
    /// association it went on. Waits while the send buffer is full.
    pub async fn send_to(
        &self,
        to: SocketAddr,
        port: u16,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
    ) -> Result<AssocId, SendError> {
        self.handle
            .send_request(|reply| Command::SendTo {
                to,
                port,
                stream,
                ppid,
                data,
                unordered,
                reply,
            })
            .await
    }

    /// Sends a message on association `id`.
    pub async fn send(
        &self,
        id: AssocId,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
    ) -> Result<(), SendError> {
        self.handle
            .send_request(|reply| Command::Send {
                id,
                stream,
                ppid,
                data,
                unordered,
                reply,
            })
            .await
    }

    /// The next message of any association, skipping notifications;
    /// `None` once the endpoint has stopped.
    pub async fn recv_from(&mut self) -> Option<(AssocId, Message)> {
        loop {
            if let (id, StreamEvent::Message(m)) = self.next_event().await? {
                return Some((id, m));
            }
        }
    }

    /// The next message or notification of any association.
    pub async fn next_event(&mut self) -> Option<(AssocId, StreamEvent)> {
        self.events.recv().await
    }

    /// Gives association `id` a stream of its own (sctp_peeloff); what it
    /// received before stays on this socket. Fails if the association is
    /// unknown, gone, or already peeled off.
    pub async fn peeloff(&self, id: AssocId) -> io::Result<SctpStream> {
        let (reply, answer) = oneshot::channel();
        self.handle
            .commands
            .send(Command::Peeloff { id, reply })
            .map_err(|_| io::Error::other("endpoint stopped"))?;
        let accepted = answer
            .await
            .map_err(|_| io::Error::other("endpoint stopped"))?
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no association {id} to peel off"),
                )
            })?;
        Ok(SctpStream::new(self.handle.clone(), accepted))
    }

    /// Starts a graceful shutdown of association `id`.
    pub fn shutdown(&self, id: AssocId) {
        let _ = self.handle.commands.send(Command::Shutdown { id });
    }

    /// Aborts association `id`, telling the peer `reason`.
    pub fn abort(&self, id: AssocId, reason: &[u8]) {
        let _ = self.handle.commands.send(Command::Abort {
            id,
            reason: Bytes::copy_from_slice(reason),
        });
    }

    /// Status and paths of association `id`.
    pub fn monitor(&self, id: AssocId) -> Monitor {
        Monitor {
            handle: self.handle.clone(),
            id,
        }
    }
}

impl SctpStream {
    /// `AsyncWrite`: waits until the message in hand (if any) is taken into
    /// the send buffer; its length, or 0 with none in hand.
    fn poll_written(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<usize>> {
        use std::task::Poll;
        let Some((answer, n)) = &mut self.writing else {
            return Poll::Ready(Ok(0));
        };
        let n = *n;
        let Poll::Ready(result) = std::pin::Pin::new(answer).poll(cx) else {
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

/// Messages written through `AsyncWrite` are at most this long; a longer
/// write is cut and reports the part taken.
const WRITE_CHUNK: usize = 64 * 1024;

/// Byte-stream use: reads return message payloads in order (message
/// boundaries, streams and PPIDs are not visible; notifications are
/// skipped), and end at a graceful shutdown or any close.
impl tokio::io::AsyncRead for SctpStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        use std::task::Poll;
        loop {
            if !self.unread.is_empty() {
                let n = self.unread.len().min(buf.remaining());
                let part = self.unread.split_to(n);
                buf.put_slice(&part);
                return Poll::Ready(Ok(()));
            }
            if self.closed.is_some() {
                return Poll::Ready(Ok(()));
            }
            match self.events.poll_recv(cx) {
                Poll::Ready(Some(StreamEvent::Message(m))) => self.unread = m.data,
                Poll::Ready(Some(StreamEvent::Closed(reason))) => self.closed = Some(reason),
                Poll::Ready(Some(_)) => {}
                Poll::Ready(None) => self.closed = Some(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Byte-stream use: each write goes as one ordered message on stream 0
/// with PPID 0 (at most 64 KiB of it); a write waits while the send buffer
/// is full. `poll_shutdown` starts a graceful shutdown.
impl tokio::io::AsyncWrite for SctpStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        use std::task::Poll;
        if self.writing.is_none() {
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let n = buf.len().min(WRITE_CHUNK);
            let (reply, answer) = oneshot::channel();
            let command = Command::Send {
                id: self.id,
                stream: 0,
                ppid: 0,
                data: Bytes::copy_from_slice(&buf[..n]),
                unordered: false,
                reply,
            };
            if self.handle.commands.send(command).is_err() {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            self.writing = Some((answer, n));
        }
        // A write that returned Pending is answered, when its message is
        // taken, with that message's length (the caller repeats the same
        // buffer, as AsyncWrite asks).
        self.poll_written(cx)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.poll_written(cx).map(|r| r.map(drop))
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        use std::task::Poll;
        match self.as_mut().poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                self.shutdown();
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}
