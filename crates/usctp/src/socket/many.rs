//! One-to-many sockets: [`SctpSocket`].

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{ListenOptions, Monitor, Notifications, SctpStream, SendInfo, StreamEvent};
use crate::driver::{Command, Outgoing, StreamSpec};
use crate::endpoint::{Endpoint, stopped};
use crate::inbox::{Inbox, Taken};
use crate::proto::association::{AssocId, Message, SendError};

/// A one-to-many socket (lksctp's SOCK_SEQPACKET style): one SCTP port of
/// an endpoint, many associations, each named by its [`AssocId`].
/// Associations peers start are accepted; `send_to` an address without one
/// sets it up. Every association's messages and notifications arrive on
/// the one socket, in order, until [`SctpSocket::peeloff`] gives it a
/// stream of its own.
///
/// The socket holds at most its receive buffer of message bytes for the
/// user across associations; past that, messages wait in their
/// associations, whose receive windows close, so that a socket nobody
/// reads stops its peers.
///
/// Dropping the socket shuts its associations down and, unless its linger
/// is `None`, blocks until they have closed or the linger has passed.
#[derive(Debug)]
pub struct SctpSocket {
    endpoint: Endpoint,
    port: u16,
    inbox: Arc<Inbox>,
    linger: Option<Duration>,
}

impl SctpSocket {
    pub(crate) fn new(
        endpoint: Endpoint,
        port: u16,
        inbox: Arc<Inbox>,
        linger: Option<Duration>,
    ) -> Self {
        Self {
            endpoint,
            port,
            inbox,
            linger,
        }
    }

    /// Binds the UDP socket(s) and listens on SCTP `port`.
    pub async fn bind(bind: SocketAddr, port: u16, options: ListenOptions) -> io::Result<Self> {
        let endpoint = Endpoint::bind(bind, options.endpoint())?;
        endpoint.socket(port, options).await
    }

    /// The UDP address the socket receives on (its endpoint's first).
    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint.local_addr()
    }

    /// The SCTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint the socket runs on.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The sending side, for another task while this one receives
    /// ([`next_event`](Self::next_event) needs `&mut self`): sends, sets
    /// up, shuts down, aborts and peels off associations.
    pub fn sender(&self) -> SocketSender {
        SocketSender {
            endpoint: self.endpoint.clone(),
            port: self.port,
            inbox: self.inbox.clone(),
            linger: self.linger,
        }
    }

    /// [`SocketSender::send_to`].
    pub async fn send_to(
        &self,
        to: SocketAddr,
        port: u16,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
    ) -> Result<AssocId, SendError> {
        let sender = self.sender();
        sender
            .send_to(to, port, stream, ppid, data, unordered)
            .await
    }

    /// [`SocketSender::send_message_to`].
    pub async fn send_message_to(
        &self,
        to: SocketAddr,
        port: u16,
        data: Bytes,
        info: SendInfo,
    ) -> Result<AssocId, SendError> {
        self.sender().send_message_to(to, port, data, info).await
    }

    /// [`SocketSender::send`].
    pub async fn send(
        &self,
        id: AssocId,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
    ) -> Result<(), SendError> {
        let sender = self.sender();
        sender.send(id, stream, ppid, data, unordered).await
    }

    /// [`SocketSender::send_message`].
    pub async fn send_message(
        &self,
        id: AssocId,
        data: Bytes,
        info: SendInfo,
    ) -> Result<(), SendError> {
        self.sender().send_message(id, data, info).await
    }

    /// [`SocketSender::connect_with`].
    pub async fn connect_with(
        &self,
        to: SocketAddr,
        port: u16,
        peer_addresses: Vec<IpAddr>,
    ) -> io::Result<AssocId> {
        self.sender().connect_with(to, port, peer_addresses).await
    }

    /// [`SocketSender::connect`].
    pub async fn connect(&self, to: SocketAddr, port: u16) -> io::Result<AssocId> {
        self.sender().connect(to, port).await
    }

    /// The next message of any association, skipping notifications;
    /// `None` once the socket's endpoint has stopped.
    pub async fn recv_from(&mut self) -> Option<(AssocId, Message)> {
        loop {
            if let (id, StreamEvent::Message(m)) = self.next_event().await? {
                return Some((id, m));
            }
        }
    }

    /// The next message or subscribed notification of any association.
    /// Cancel-safe.
    pub async fn next_event(&mut self) -> Option<(AssocId, StreamEvent)> {
        let taken = self.inbox.take().await?;
        self.taken(taken)
    }

    /// The next message or notification if one is waiting.
    pub fn try_next_event(&mut self) -> Option<(AssocId, StreamEvent)> {
        let taken = self.inbox.try_take();
        self.taken(taken)
    }

    fn taken(&self, taken: Taken) -> Option<(AssocId, StreamEvent)> {
        if taken.release {
            let inbox = self.inbox.clone();
            self.endpoint.handle.send(Command::Release { inbox });
        }
        taken.item
    }

    /// Which notifications are delivered from now on (SCTP_EVENT).
    pub fn subscribe(&self, events: Notifications) {
        self.inbox.subscribe(events);
    }

    /// [`SocketSender::peeloff`].
    pub async fn peeloff(&self, id: AssocId) -> io::Result<SctpStream> {
        self.sender().peeloff(id).await
    }

    /// [`SocketSender::shutdown`].
    pub fn shutdown(&self, id: AssocId) {
        self.sender().shutdown(id);
    }

    /// [`SocketSender::abort`].
    pub fn abort(&self, id: AssocId, reason: &[u8]) {
        self.sender().abort(id, reason);
    }

    /// [`SocketSender::monitor`].
    pub fn monitor(&self, id: AssocId) -> Monitor {
        self.sender().monitor(id)
    }

    /// How long dropping the socket waits for its associations to close.
    pub fn set_linger(&mut self, linger: Option<Duration>) {
        self.linger = linger;
    }
}

impl Drop for SctpSocket {
    fn drop(&mut self) {
        self.endpoint
            .handle
            .send(Command::Unlisten { port: self.port });
        if let Some(linger) = self
            .linger
            .filter(|l| !l.is_zero() && !self.endpoint.handle.on_current_runtime)
        {
            // The endpoint finishes the inbox once the socket's last
            // association has closed; it runs on a thread of its own (a
            // driver on this runtime does not linger, above).
            self.inbox.wait_ended(linger);
        }
    }
}

/// Whether a send queues a message: not an abort, nor an empty SCTP_EOF.
fn carries_message(data: &Bytes, info: &SendInfo) -> bool {
    let only_eof = info.eof && data.is_empty();
    !info.abort && !only_eof
}

/// The sending side of a one-to-many socket ([`SctpSocket::sender`]),
/// cheap to clone: usable from other tasks while one receives. It does not
/// keep the socket open: once the socket is dropped, sends fail.
#[derive(Debug, Clone)]
pub struct SocketSender {
    endpoint: Endpoint,
    port: u16,
    inbox: Arc<Inbox>,
    linger: Option<Duration>,
}

impl SocketSender {
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
        let info = SendInfo::new(stream, ppid, unordered);
        self.send_message_to(to, port, data, info).await
    }

    /// As [`send_to`](Self::send_to), as `info` says (see
    /// [`send_message`](Self::send_message)).
    pub async fn send_message_to(
        &self,
        to: SocketAddr,
        port: u16,
        data: Bytes,
        info: SendInfo,
    ) -> Result<AssocId, SendError> {
        let self_port = self.port;
        let id = if !carries_message(&data, &info) {
            self.connect(to, port)
                .await
                .map_err(|e| crate::error::setup_failed(&e))?
        } else {
            let message = Outgoing::new(data.clone(), &info);
            self.endpoint
                .handle
                .ask(|reply| Command::SendTo {
                    port: self_port,
                    to,
                    peer_port: port,
                    message,
                    reply,
                })
                .await
                .unwrap_or(Err(SendError::NotOpen))?
        };
        self.after(id, data, &info);
        Ok(id)
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
        self.send_message(id, data, SendInfo::new(stream, ppid, unordered))
            .await
    }

    /// Sends a message on association `id` as `info` says (sctp_sendv with
    /// `sctp_sndinfo`): SCTP_EOF starts the association's graceful shutdown
    /// after it (an empty message only shuts down); SCTP_ABORT aborts it,
    /// the message's bytes the reason.
    pub async fn send_message(
        &self,
        id: AssocId,
        data: Bytes,
        info: SendInfo,
    ) -> Result<(), SendError> {
        if carries_message(&data, &info) {
            let message = Outgoing::new(data.clone(), &info);
            self.endpoint.handle.send_waiting(id, message).await?;
        }
        self.after(id, data, &info);
        Ok(())
    }

    /// SCTP_EOF and SCTP_ABORT, once the message (if any) is queued.
    fn after(&self, id: AssocId, data: Bytes, info: &SendInfo) {
        if info.abort {
            self.endpoint
                .handle
                .send(Command::Abort { id, reason: data });
        } else if info.eof {
            self.shutdown(id);
        }
    }

    /// Sets up an association with the peer at UDP address `to`, SCTP port
    /// `port` (sctp_connectx), or names the one there is; does not wait for
    /// it to come up (an `Up` notification says when it has, and messages
    /// sent meanwhile wait). `peer_addresses` are further addresses of the
    /// peer to try.
    pub async fn connect_with(
        &self,
        to: SocketAddr,
        port: u16,
        peer_addresses: Vec<IpAddr>,
    ) -> io::Result<AssocId> {
        let self_port = self.port;
        self.endpoint
            .handle
            .ask(|reply| Command::ConnectFrom {
                port: self_port,
                to,
                peer_port: port,
                peer_addresses,
                reply,
            })
            .await
            .ok_or_else(stopped)?
    }

    /// As [`connect_with`](Self::connect_with), without further addresses.
    pub async fn connect(&self, to: SocketAddr, port: u16) -> io::Result<AssocId> {
        self.connect_with(to, port, Vec::new()).await
    }

    /// Gives association `id` a stream of its own (sctp_peeloff), with
    /// the messages and notifications the socket held for it, in order.
    /// The stream starts with this socket's subscription. Fails if the
    /// association is unknown, not up, or already peeled off.
    pub async fn peeloff(&self, id: AssocId) -> io::Result<SctpStream> {
        let spec = StreamSpec {
            notifications: self.inbox.subscription(),
        };
        let accepted = self
            .endpoint
            .handle
            .ask(|reply| Command::Peeloff { id, spec, reply })
            .await
            .ok_or_else(stopped)?
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no association {id} to peel off"),
                )
            })?;
        Ok(SctpStream::new(
            self.endpoint.clone(),
            accepted,
            self.linger,
        ))
    }

    /// Starts a graceful shutdown of association `id`.
    pub fn shutdown(&self, id: AssocId) {
        self.endpoint.handle.send(Command::Shutdown { id });
    }

    /// Aborts association `id`, telling the peer `reason`.
    pub fn abort(&self, id: AssocId, reason: &[u8]) {
        self.endpoint.handle.send(Command::Abort {
            id,
            reason: Bytes::copy_from_slice(reason),
        });
    }

    /// Status, paths and settings of association `id`.
    pub fn monitor(&self, id: AssocId) -> Monitor {
        Monitor {
            endpoint: self.endpoint.clone(),
            id,
        }
    }
}
