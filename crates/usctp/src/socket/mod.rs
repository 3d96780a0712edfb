//! An async socket API in the lksctp style (RFC 6458), over the UDP
//! driver.
//!
//! One-to-one style: [`SctpListener`] accepts associations that peers
//! start, [`SctpStream::connect`] starts one. One-to-many style:
//! [`SctpSocket`] holds any number of associations, named by their
//! [`AssocId`](crate::proto::association::AssocId). All of them run on an [`Endpoint`](crate::Endpoint): one
//! UDP socket per local address for every SCTP port and association on it
//! (the simple constructors make one, or share a default one).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use usctp::socket::{SctpListener, SctpStream};
//!
//! let listener = SctpListener::bind("127.0.0.1:9899".parse().unwrap(), 13, Default::default()).await?;
//! let mut client = SctpStream::connect(listener.local_addr(), 13, Default::default()).await?;
//! let (mut server, peer) = listener.accept().await?;
//! client.send(0, 0, "hello".into()).await.unwrap();
//! let message = server.recv().await.unwrap();
//! assert_eq!(&message.data[..], b"hello");
//! # Ok(()) }
//! ```
//!
//! `docs/socket-api.md` maps each RFC 6458 item to this API.

mod listener;
mod many;
mod stream;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use listener::SctpListener;
pub use many::{SctpSocket, SocketSender};
pub use stream::{Monitor, RecvHalf, SctpStream, SendHalf};

use crate::driver::Recorder;
use crate::proto::association::{
    AssociationError, Established, Message, PathChange, SendOptions, Unsent,
};
pub use crate::proto::association::{Counters, Status};
use crate::proto::chunk::ErrorCause;
use crate::proto::config::Config;

/// A message or a notification (RFC 6458 §6.1), in the order they
/// happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// A message (or, when partly delivered, a part of one).
    Message(Message),
    /// An association came up (SCTP_ASSOC_CHANGE, SCTP_COMM_UP): on a
    /// one-to-many socket, how a new association shows.
    Up(Established),
    /// The peer restarted the association (SCTP_RESTART).
    Restart(Established),
    /// The peer reported errors (SCTP_REMOTE_ERROR).
    RemoteError(Vec<ErrorCause>),
    /// The peer started a graceful shutdown: no more messages will come
    /// (SCTP_SHUTDOWN_EVENT).
    ShutdownStarted,
    /// Messages that were not delivered (SCTP_SEND_FAILED_EVENT), each
    /// with the context it was sent with.
    SendFailed(Vec<Unsent>),
    /// A peer address changed state (SCTP_PEER_ADDR_CHANGE).
    PathChange {
        /// The peer address.
        address: SocketAddr,
        /// What happened to it.
        change: PathChange,
    },
    /// Everything sent has been acknowledged (SCTP_SENDER_DRY_EVENT).
    SenderDry,
    /// The peer's Adaptation Layer Indication (SCTP_ADAPTATION_INDICATION).
    AdaptationIndication(u32),
    /// A message delivered in parts will not be completed
    /// (SCTP_PARTIAL_DELIVERY_EVENT, SCTP_PARTIAL_DELIVERY_ABORTED).
    PartialDeliveryAborted {
        /// Its stream.
        stream: u16,
        /// Its stream sequence number.
        ssn: u16,
    },
    /// So many notifications were waiting that this many were dropped
    /// (the queue for them is bounded).
    NotificationsLost(u64),
    /// The association ended: gracefully (`None`) or not. On a one-to-one
    /// stream it always comes, last; on a one-to-many socket it is an
    /// association change (SCTP_SHUTDOWN_COMP, SCTP_COMM_LOST,
    /// SCTP_CANT_STR_ASSOC).
    Closed(Option<AssociationError>),
}

/// Which notifications a user receives (after RFC 6458 §6.2's SCTP_EVENT).
/// Messages, and a one-to-one stream's final `Closed`, always arrive; the
/// rest only when subscribed. As on Linux, none is on until subscribed
/// ([`Notifications::NONE`] is the default); a subscription can change at
/// any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notifications {
    /// SCTP_ASSOC_CHANGE: `Up`, `Restart`, and a one-to-many socket's
    /// `Closed`.
    pub association_change: bool,
    /// SCTP_PEER_ADDR_CHANGE: `PathChange`.
    pub peer_address_change: bool,
    /// SCTP_REMOTE_ERROR: `RemoteError`.
    pub remote_error: bool,
    /// SCTP_SEND_FAILED_EVENT: `SendFailed`.
    pub send_failed: bool,
    /// SCTP_SHUTDOWN_EVENT: `ShutdownStarted`.
    pub shutdown: bool,
    /// SCTP_SENDER_DRY_EVENT: `SenderDry`.
    pub sender_dry: bool,
    /// SCTP_PARTIAL_DELIVERY_EVENT: `PartialDeliveryAborted`.
    pub partial_delivery: bool,
    /// SCTP_ADAPTATION_INDICATION: `AdaptationIndication`.
    pub adaptation: bool,
}

impl Notifications {
    /// None (the default).
    pub const NONE: Self = Self {
        association_change: false,
        peer_address_change: false,
        remote_error: false,
        send_failed: false,
        shutdown: false,
        sender_dry: false,
        partial_delivery: false,
        adaptation: false,
    };
    /// Every kind.
    pub const ALL: Self = Self {
        association_change: true,
        peer_address_change: true,
        remote_error: true,
        send_failed: true,
        shutdown: true,
        sender_dry: true,
        partial_delivery: true,
        adaptation: true,
    };

    /// Whether `event` is delivered under this subscription.
    pub fn wants(&self, event: &StreamEvent) -> bool {
        match event {
            StreamEvent::Message(_) => true,
            StreamEvent::Up(_) | StreamEvent::Restart(_) | StreamEvent::Closed(_) => {
                self.association_change
            }
            StreamEvent::PathChange { .. } => self.peer_address_change,
            StreamEvent::RemoteError(_) => self.remote_error,
            StreamEvent::SendFailed(_) => self.send_failed,
            StreamEvent::ShutdownStarted => self.shutdown,
            StreamEvent::SenderDry => self.sender_dry,
            StreamEvent::PartialDeliveryAborted { .. } => self.partial_delivery,
            StreamEvent::AdaptationIndication(_) => self.adaptation,
            // Saying notifications were lost is itself one.
            StreamEvent::NotificationsLost(_) => *self != Self::NONE,
        }
    }
}

/// How a message is sent (after RFC 6458 §5.3.4's `sctp_sndinfo`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendInfo {
    /// The stream (snd_sid).
    pub stream: u16,
    /// The Payload Protocol Identifier (snd_ppid).
    pub ppid: u32,
    /// SCTP_UNORDERED: delivered as soon as it arrives.
    pub unordered: bool,
    /// SCTP_SACK_IMMEDIATELY: the peer is asked to acknowledge at once.
    pub sack_immediately: bool,
    /// SCTP_EOF: a graceful shutdown starts once this message is queued
    /// (an empty message only shuts down).
    pub eof: bool,
    /// SCTP_ABORT: the association is aborted, the message's bytes the
    /// reason the peer is told.
    pub abort: bool,
    /// A value returned with the message if it is not delivered
    /// (snd_context).
    pub context: u32,
}

usctp_proto::with_setters! {
    SendInfo {
        with_stream => stream: u16,
        with_ppid => ppid: u32,
        with_unordered => unordered: bool,
        with_sack_immediately => sack_immediately: bool,
        with_eof => eof: bool,
        with_abort => abort: bool,
        with_context => context: u32,
    }
}

impl SendInfo {
    /// A message on `stream` with `ppid`, ordered or not; nothing else set.
    pub fn new(stream: u16, ppid: u32, unordered: bool) -> Self {
        Self {
            stream,
            ppid,
            unordered,
            ..Self::default()
        }
    }

    pub(crate) fn options(&self) -> SendOptions {
        SendOptions::default()
            .with_unordered(self.unordered)
            .with_sack_immediately(self.sack_immediately)
            .with_context(self.context)
    }
}

/// Options for an endpoint: the UDP sockets and what every association on
/// them shares.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EndpointOptions {
    /// Protocol parameters for its associations (each can change its own
    /// later).
    pub config: Config,
    /// Further local addresses (multi-homing): each gets a socket on the
    /// first one's UDP port, and all of them are advertised to peers.
    pub also_bind: Vec<SocketAddr>,
    /// Record every datagram sent and received in this pcap file.
    #[cfg(feature = "pcap")]
    pub pcap: Option<Arc<Recorder>>,
    /// Run the driver as a task on the caller's tokio runtime instead of
    /// on a thread of its own. Messages then reach a user on that runtime
    /// without a hand-off between threads (a round trip over loopback
    /// takes about half as long), but nothing may wait for the driver
    /// while blocking that runtime: drops do not linger (close streams
    /// with `close().await`), and the endpoint stops with the runtime.
    pub on_current_runtime: bool,
}

usctp_proto::with_setters! {
    EndpointOptions {
        with_config => config: Config,
        with_also_bind => also_bind: Vec<SocketAddr>,
        #[cfg(feature = "pcap")]
        with_pcap => pcap: Option<Arc<Recorder>>,
        with_on_current_runtime => on_current_runtime: bool,
    }
}

impl EndpointOptions {
    pub(crate) fn recorder(&self) -> Option<Arc<Recorder>> {
        #[cfg(feature = "pcap")]
        return self.pcap.clone();
        #[cfg(not(feature = "pcap"))]
        None
    }
}

/// Options for a listener or a one-to-many socket.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListenOptions {
    /// Protocol parameters (for the endpoint `SctpListener::bind_with`
    /// makes).
    pub config: Config,
    /// Associations held at once, at most.
    pub max_associations: usize,
    /// Associations set up and not yet accepted, at most (the listen
    /// backlog): past that, peers are refused with Out of Resource until
    /// `accept` takes one.
    pub backlog: usize,
    /// Record every datagram sent and received in this pcap file.
    #[cfg(feature = "pcap")]
    pub pcap: Option<Arc<Recorder>>,
    /// Further local addresses (multi-homing): each gets a socket on the
    /// listener's UDP port, and all of them are advertised to peers.
    pub also_bind: Vec<SocketAddr>,
    /// Notifications to deliver (SCTP_EVENT); none by default.
    pub events: Notifications,
    /// One-to-many: message bytes the socket holds for the user across its
    /// associations at most (SO_RCVBUF); past that, each association's
    /// window closes until the user reads.
    pub receive_buffer: usize,
    /// How long dropping an accepted stream (or the one-to-many socket)
    /// waits for its graceful shutdown (SO_LINGER); `None` does not wait.
    pub linger: Option<Duration>,
}

usctp_proto::with_setters! {
    ListenOptions {
        with_config => config: Config,
        with_max_associations => max_associations: usize,
        with_backlog => backlog: usize,
        #[cfg(feature = "pcap")]
        with_pcap => pcap: Option<Arc<Recorder>>,
        with_also_bind => also_bind: Vec<SocketAddr>,
        with_events => events: Notifications,
        with_receive_buffer => receive_buffer: usize,
        with_linger => linger: Option<Duration>,
    }
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            config: Config::default(),
            max_associations: usize::MAX,
            backlog: 128,
            #[cfg(feature = "pcap")]
            pcap: None,
            also_bind: Vec::new(),
            events: Notifications::NONE,
            receive_buffer: 4 << 20,
            linger: Some(DEFAULT_LINGER),
        }
    }
}

impl ListenOptions {
    pub(crate) fn endpoint(&self) -> EndpointOptions {
        EndpointOptions {
            config: self.config.clone(),
            also_bind: self.also_bind.clone(),
            #[cfg(feature = "pcap")]
            pcap: self.pcap.clone(),
            on_current_runtime: false,
        }
    }
}

/// Options for starting an association (after SCTP_INITMSG).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Protocol parameters, including outbound streams, maximum inbound
    /// streams and INIT retransmissions.
    pub config: Config,
    /// The local UDP address to bind (port 0 for any). With the defaults
    /// (any address, any port, nothing else bound, no capture) the
    /// association runs on the process's shared endpoint.
    pub local: SocketAddr,
    /// This end's SCTP port (0: chosen by the endpoint).
    pub port: u16,
    /// Record every datagram sent and received in this pcap file.
    #[cfg(feature = "pcap")]
    pub pcap: Option<Arc<Recorder>>,
    /// Further local addresses (multi-homing), on `local`'s UDP port.
    pub also_bind: Vec<SocketAddr>,
    /// Further addresses of the peer: INIT retransmissions go to them in
    /// turn, and an INIT ACK from any of them is accepted (RFC 9260 §6.4).
    pub peer_addresses: Vec<IpAddr>,
    /// Notifications to deliver (SCTP_EVENT); none by default.
    pub events: Notifications,
    /// How long dropping the stream waits for its graceful shutdown to
    /// finish (SO_LINGER); `None` does not wait.
    pub linger: Option<Duration>,
}

usctp_proto::with_setters! {
    ConnectOptions {
        with_config => config: Config,
        with_local => local: SocketAddr,
        with_port => port: u16,
        #[cfg(feature = "pcap")]
        with_pcap => pcap: Option<Arc<Recorder>>,
        with_also_bind => also_bind: Vec<SocketAddr>,
        with_peer_addresses => peer_addresses: Vec<IpAddr>,
        with_events => events: Notifications,
        with_linger => linger: Option<Duration>,
    }
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
            events: Notifications::NONE,
            linger: Some(DEFAULT_LINGER),
        }
    }
}

impl ConnectOptions {
    /// Whether the defaults leave the choice of endpoint free (the shared
    /// one will do).
    pub(crate) fn shares_endpoint(&self) -> bool {
        let pcap = {
            #[cfg(feature = "pcap")]
            {
                self.pcap.is_some()
            }
            #[cfg(not(feature = "pcap"))]
            {
                false
            }
        };
        self.local.ip().is_unspecified()
            && self.local.port() == 0
            && self.also_bind.is_empty()
            && !pcap
    }

    pub(crate) fn endpoint(&self) -> EndpointOptions {
        EndpointOptions {
            config: self.config.clone(),
            also_bind: self.also_bind.clone(),
            #[cfg(feature = "pcap")]
            pcap: self.pcap.clone(),
            on_current_runtime: false,
        }
    }
}

/// How long a dropped stream waits, by default, for its last messages to
/// be delivered and the shutdown to finish: a program that exits right
/// after its last write has still delivered it.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(10);
