//! What an association tells its user (after RFC 6458's notifications).

use std::net::SocketAddr;

use crate::chunk::ErrorCause;

/// Identifies an association within its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssocId(pub u64);

impl std::fmt::Display for AssocId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The parameters an association came up with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Established {
    /// Streams this end may send on.
    pub outbound_streams: u16,
    /// Streams the peer may send on.
    pub inbound_streams: u16,
    /// The peer's transport addresses (UDP address of each IP address).
    pub peer_addresses: Vec<SocketAddr>,
    /// This end's SCTP port.
    pub local_port: u16,
    /// The peer's SCTP port.
    pub peer_port: u16,
}

/// What happened to a peer address (after RFC 6458 §6.1.2's
/// SCTP_ADDR_AVAILABLE, _UNREACHABLE, _CONFIRMED and _MADE_PRIM, and RFC 7829
/// §7's SCTP_ADDR_POTENTIALLY_FAILED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathChange {
    /// Reachable again after being potentially failed or inactive.
    Available,
    /// Errors passed Path.Max.Retrans: marked inactive (RFC 9260 §8.2).
    Unreachable,
    /// A heartbeat answer confirmed the address (RFC 9260 §5.4).
    Confirmed,
    /// New data now goes to this address.
    MadePrimary,
    /// Errors passed the potentially-failed threshold (RFC 7829).
    PotentiallyFailed,
}

impl std::fmt::Display for PathChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Available => "available",
            Self::Unreachable => "unreachable",
            Self::Confirmed => "confirmed",
            Self::MadePrimary => "made primary",
            Self::PotentiallyFailed => "potentially failed",
        })
    }
}

/// Why an association ended or never started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssociationError {
    /// No INIT ACK came after Max.Init.Retransmits retransmissions of INIT.
    #[error("no answer to INIT")]
    InitTimeout,
    /// No COOKIE ACK came after Max.Init.Retransmits retransmissions of
    /// COOKIE ECHO.
    #[error("no answer to COOKIE ECHO")]
    CookieTimeout,
    /// The peer's cookies kept arriving stale at the peer (RFC 9260 §5.2.6).
    #[error("state cookie kept arriving stale")]
    StaleCookie,
    /// The peer sent an ABORT with these causes.
    #[error("aborted by peer{}", Causes(.0))]
    PeerAborted(Vec<ErrorCause>),
    /// The peer's INIT ACK was invalid; this end sent an ABORT with these
    /// causes.
    #[error("invalid INIT ACK{}", Causes(.0))]
    InvalidInitAck(Vec<ErrorCause>),
    /// The user aborted the association.
    #[error("aborted locally")]
    LocalAbort,
    /// Data went unacknowledged through Association.Max.Retrans timeouts
    /// (RFC 9260 §8.1).
    #[error("peer unreachable: retransmission limit")]
    RetransmissionLimit,
    /// The graceful shutdown did not complete in time (T2-shutdown
    /// retransmissions or the T5-shutdown-guard timer, RFC 9260 §9.2).
    #[error("shutdown did not complete")]
    ShutdownTimeout,
    /// The peer broke the protocol; this end sent an ABORT saying why.
    #[error("protocol violation: {0}")]
    ProtocolViolation(&'static str),
}

/// A list of error causes as an error message ends with it: a colon and
/// each cause, or nothing for none.
struct Causes<'a>(&'a [ErrorCause]);

impl std::fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.0.is_empty() {
            f.write_str(":")?;
        }
        self.0.iter().try_for_each(|c| write!(f, " {c}"))
    }
}

/// Something the user should know about an association.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The association is up (SCTP_COMM_UP).
    Up(Established),
    /// The peer restarted; the association goes on with new tags and
    /// sequence numbers (SCTP_RESTART).
    Restart(Established),
    /// The association could not be set up (SCTP_CANT_STR_ASSOC).
    CantStart(AssociationError),
    /// An established association ended abnormally (SCTP_COMM_LOST).
    Lost(AssociationError),
    /// The peer reported errors in an ERROR chunk (SCTP_REMOTE_ERROR).
    RemoteError(Vec<ErrorCause>),
    /// Messages are ready for `recv`.
    Readable,
    /// Room opened in the send buffer after a `WouldBlock`.
    Writable,
    /// Everything sent has been acknowledged (SCTP_SENDER_DRY_EVENT).
    SenderDry,
    /// One of the peer's addresses changed state (SCTP_PEER_ADDR_CHANGE).
    PathChange {
        /// The peer address (IP and UDP port).
        address: SocketAddr,
        /// What happened to it.
        change: PathChange,
    },
    /// The peer started a graceful shutdown (SCTP_SHUTDOWN_EVENT): no more
    /// messages will arrive.
    ShutdownStarted,
    /// The graceful shutdown finished (SCTP_SHUTDOWN_COMP).
    ShutdownComplete,
    /// Messages that were queued or in flight when the association ended
    /// were not delivered (SCTP_SEND_FAILED_EVENT), each with the part the
    /// peer did not acknowledge.
    SendFailed(Vec<super::Unsent>),
    /// The peer's Adaptation Layer Indication from its INIT or INIT ACK
    /// (SCTP_ADAPTATION_INDICATION, RFC 6458 §6.1.6), right after `Up`.
    AdaptationIndication(u32),
    /// A message being delivered in parts will not be completed: the
    /// association ended or restarted (SCTP_PARTIAL_DELIVERY_EVENT,
    /// SCTP_PARTIAL_DELIVERY_ABORTED).
    PartialDeliveryAborted {
        /// The message's stream.
        stream: u16,
        /// Its stream sequence number.
        ssn: u16,
    },
}

/// What an association has counted (after RFC 6458's
/// SCTP_GET_ASSOC_STATS, with the loss-recovery counts added).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// SCTP packets sent.
    pub packets_sent: u64,
    /// SCTP packets received (that passed the verification tag).
    pub packets_received: u64,
    /// Control chunks (everything but DATA) sent.
    pub control_chunks_sent: u64,
    /// Control chunks received.
    pub control_chunks_received: u64,
    /// Ordered and unordered DATA chunks sent for the first time.
    pub data_chunks_sent: (u64, u64),
    /// Ordered and unordered DATA chunks received (new ones).
    pub data_chunks_received: (u64, u64),
    /// DATA chunks sent again (fast retransmissions and T3-rtx alike).
    pub retransmitted_chunks: u64,
    /// Chunks marked lost before T3-rtx: fast retransmission (§7.2.4) or
    /// RACK (RFC 8985).
    pub fast_retransmits: u64,
    /// T3-rtx expiries with data in flight (§6.3.3).
    pub t3_expiries: u64,
    /// Retransmissions found lost in turn before T3-rtx (RACK).
    pub lost_retransmissions: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub loss_probes: u64,
    /// SACKs sent.
    pub sacks_sent: u64,
    /// SACKs received.
    pub sacks_received: u64,
    /// Gap Ack Blocks received in SACKs.
    pub gap_blocks_received: u64,
    /// DATA chunks received again (duplicate TSNs).
    pub duplicates_received: u64,
    /// DATA chunks received past a gap (TSN above the next expected).
    pub out_of_sequence_received: u64,
}
