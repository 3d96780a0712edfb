//! The association's states (RFC 9260 §4) and what each one owns.
//!
//! A state carries the data only it needs: the INIT and T1 while setting
//! up, what the peer's INIT ACK said while the COOKIE ECHO is out, the
//! transmission control block ([`Tcb`]) from the moment the association is
//! up, and T2-shutdown with the T5 guard while a SHUTDOWN or SHUTDOWN ACK
//! waits for its answer. Leaving a state drops what it owned, timers
//! included: no timer is stopped by hand, and no field means something in
//! one state only.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::AssociationState;
use super::ack::AckScheduler;
use super::paths::Paths;
use super::rx::{Message, Rx};
use super::tx::Tx;
use crate::chunk::Init;
use crate::serial::Tsn;

/// A retransmission timer with exponential backoff (RFC 9260 §6.3.3 E2):
/// T1-init, T1-cookie and T2-shutdown.
#[derive(Debug, Clone, Copy)]
pub(super) struct Backoff {
    pub deadline: Instant,
    pub rto: Duration,
    pub attempts: u32,
}

impl Backoff {
    pub fn start(now: Instant, rto: Duration) -> Self {
        Self {
            deadline: now + rto,
            rto,
            attempts: 0,
        }
    }

    /// Backs off after an expiry; `false` once `max` retransmissions are
    /// spent.
    pub fn expire(&mut self, now: Instant, max: u32, rto_max: Duration) -> bool {
        self.attempts += 1;
        if self.attempts > max {
            return false;
        }
        self.rto = (self.rto * 2).min(rto_max);
        self.deadline = now + self.rto;
        true
    }

    /// When the timed chunk was last sent.
    pub fn sent_at(&self) -> Instant {
        self.deadline - self.rto
    }
}

/// A peer address before the association is up, and whether it is known
/// to reach the peer (the address dialled, or the source of the INIT ACK)
/// or only listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Target {
    pub address: SocketAddr,
    pub confirmed: bool,
}

/// COOKIE-WAIT: INIT sent (RFC 9260 §5.1 A).
#[derive(Debug, Clone)]
pub(super) struct CookieWait {
    /// The INIT, repeated on each T1-init expiry.
    pub init: Init,
    pub t1: Backoff,
    /// Stale Cookie errors answered so far (§5.2.6).
    pub stale_retries: u32,
    /// Where the INIT goes: the address dialled first, then the peer's
    /// other known addresses in turn (§6.4).
    pub targets: Vec<Target>,
}

/// What the peer's INIT ACK settled, before the COOKIE ACK makes it the
/// TCB.
#[derive(Debug, Clone)]
pub(super) struct PeerInit {
    pub tag: u32,
    pub initial_tsn: Tsn,
    pub rwnd: u32,
    pub outbound_streams: u16,
    pub inbound_streams: u16,
    /// The INIT ACK's source first (confirmed by the exchange), then the
    /// addresses it listed.
    pub targets: Vec<Target>,
    /// Its Adaptation Layer Indication.
    pub adaptation: Option<u32>,
}

/// COOKIE-ECHOED: COOKIE ECHO sent (§5.1 C).
#[derive(Debug, Clone)]
pub(super) struct CookieEchoed {
    /// This end's INIT, kept for a restart of the handshake after a Stale
    /// Cookie error (§5.2.6) and for INIT collisions (§5.2.1).
    pub init: Init,
    pub cookie: Bytes,
    pub t1: Backoff,
    pub stale_retries: u32,
    pub peer: PeerInit,
}

/// The transmission control block: everything an association that is up
/// keeps, from the handshake's outcome to both directions of data.
#[derive(Debug, Clone)]
pub(super) struct Tcb {
    /// The peer's verification tag (never 0: §3.3.2).
    pub peer_tag: u32,
    pub outbound_streams: u16,
    pub inbound_streams: u16,
    /// The largest packet sent: the smallest `Config::packet_size_to` of
    /// the peer's addresses, fixed when the TCB is made (queued fragments
    /// were cut to it).
    pub packet_size: usize,
    pub paths: Paths,
    pub rx: Rx,
    pub tx: Tx,
    pub acks: AckScheduler,
    /// When DATA last arrived (for SCTP_AUTOCLOSE; DATA sent is each
    /// path's `last_data`).
    pub last_data: Instant,
    /// SCTP_AUTOCLOSE: shut down after this long without DATA.
    pub autoclose: Option<Duration>,
    /// The peer's Adaptation Layer Indication, if it sent one.
    pub peer_adaptation: Option<u32>,
}

impl Tcb {
    /// The cumulative TSN ack this end would send now.
    pub fn cumulative_tsn(&self) -> Tsn {
        self.rx.cumulative_tsn()
    }

    /// When SCTP_AUTOCLOSE ends the association if no DATA moves either
    /// way before then.
    pub fn autoclose_at(&self) -> Option<Instant> {
        let idle = self.autoclose?;
        let last = self
            .paths
            .list
            .iter()
            .filter_map(|p| p.last_data)
            .fold(self.last_data, Instant::max);
        Some(last + idle)
    }
}

/// T2-shutdown with the T5-shutdown-guard of §9.2, and where the SHUTDOWN
/// or SHUTDOWN ACK last went.
#[derive(Debug, Clone, Copy)]
pub(super) struct ShutdownTimers {
    pub t2: Backoff,
    pub guard: Instant,
    /// The path the chunk was last sent to: a retransmission tries another.
    pub sent_to: usize,
}

impl ShutdownTimers {
    pub fn start(now: Instant, rto: Duration, rto_max: Duration, sent_to: usize) -> Self {
        Self {
            t2: Backoff::start(now, rto),
            // §9.2: T5 is suggested at five times RTO.Max.
            guard: now + 5 * rto_max,
            sent_to,
        }
    }
}

/// Where an association that is up stands in its shutdown (§9.2).
#[derive(Debug, Clone, Copy)]
pub(super) enum Phase {
    /// Data flows both ways.
    Established,
    /// The user asked to shut down; queued data is still being sent.
    ShutdownPending,
    /// SHUTDOWN sent, waiting for SHUTDOWN ACK.
    ShutdownSent(ShutdownTimers),
    /// The peer sent SHUTDOWN; this end finishes sending its data.
    ShutdownReceived,
    /// SHUTDOWN ACK sent, waiting for SHUTDOWN COMPLETE.
    ShutdownAckSent(ShutdownTimers),
}

impl Phase {
    /// Whether DATA may be sent (§9.2: not after SHUTDOWN went out or once
    /// the SHUTDOWN ACK is due).
    pub fn sends_data(self) -> bool {
        matches!(
            self,
            Self::Established | Self::ShutdownPending | Self::ShutdownReceived
        )
    }

    /// Whether new DATA is taken (§9.2: not after the peer's SHUTDOWN).
    pub fn takes_data(self) -> bool {
        matches!(
            self,
            Self::Established | Self::ShutdownPending | Self::ShutdownSent(_)
        )
    }

    pub fn timers(self) -> Option<ShutdownTimers> {
        match self {
            Self::ShutdownSent(t) | Self::ShutdownAckSent(t) => Some(t),
            _ => None,
        }
    }
}

/// CLOSED: gone; what arrived stays readable until taken, and the endpoint
/// drops the association once nothing is left.
#[derive(Debug, Default, Clone)]
pub(super) struct Closed {
    pub unread: VecDeque<Message>,
    /// The peer's addresses, for the endpoint's table until it forgets the
    /// association.
    pub addresses: Vec<SocketAddr>,
}

/// The state of an association, with what each state owns.
#[derive(Debug, Clone)]
pub(super) enum State {
    CookieWait(CookieWait),
    CookieEchoed(CookieEchoed),
    /// Up: established or shutting down.
    Open(Box<Tcb>, Phase),
    Closed(Closed),
}

impl State {
    /// The name RFC 9260 §4 gives this state.
    pub fn name(&self) -> AssociationState {
        match self {
            Self::CookieWait(_) => AssociationState::CookieWait,
            Self::CookieEchoed(_) => AssociationState::CookieEchoed,
            Self::Open(_, Phase::Established) => AssociationState::Established,
            Self::Open(_, Phase::ShutdownPending) => AssociationState::ShutdownPending,
            Self::Open(_, Phase::ShutdownSent(_)) => AssociationState::ShutdownSent,
            Self::Open(_, Phase::ShutdownReceived) => AssociationState::ShutdownReceived,
            Self::Open(_, Phase::ShutdownAckSent(_)) => AssociationState::ShutdownAckSent,
            Self::Closed(_) => AssociationState::Closed,
        }
    }

    pub fn tcb(&self) -> Option<&Tcb> {
        match self {
            Self::Open(tcb, _) => Some(tcb),
            _ => None,
        }
    }

    pub fn tcb_mut(&mut self) -> Option<&mut Tcb> {
        match self {
            Self::Open(tcb, _) => Some(tcb),
            _ => None,
        }
    }

    /// The peer's verification tag, once its INIT or INIT ACK told it.
    pub fn peer_tag(&self) -> Option<u32> {
        match self {
            Self::CookieEchoed(s) => Some(s.peer.tag),
            Self::Open(tcb, _) => Some(tcb.peer_tag),
            Self::CookieWait(_) | Self::Closed(_) => None,
        }
    }

    /// The peer's addresses this state knows, primary (or first target)
    /// first.
    pub fn peer_addresses(&self) -> Vec<SocketAddr> {
        match self {
            Self::CookieWait(s) => s.targets.iter().map(|t| t.address).collect(),
            Self::CookieEchoed(s) => s.peer.targets.iter().map(|t| t.address).collect(),
            Self::Open(tcb, _) => tcb.paths.addresses_primary_first(),
            Self::Closed(c) => c.addresses.clone(),
        }
    }

    /// Whether `ip` is one of the peer's addresses.
    pub fn has_peer_address(&self, ip: std::net::IpAddr) -> bool {
        match self {
            Self::CookieWait(s) => s.targets.iter().any(|t| t.address.ip() == ip),
            Self::CookieEchoed(s) => s.peer.targets.iter().any(|t| t.address.ip() == ip),
            Self::Open(tcb, _) => tcb.paths.index_of_ip(ip).is_some(),
            Self::Closed(c) => c.addresses.iter().any(|a| a.ip() == ip),
        }
    }

    /// RFC 6951 §5.4: the peer's UDP encapsulation port, learned from a
    /// packet from `remote` that passed the verification-tag checks.
    pub fn learn_port(&mut self, remote: SocketAddr) {
        let address = match self {
            Self::CookieWait(s) => s
                .targets
                .iter_mut()
                .find(|t| t.address.ip() == remote.ip())
                .map(|t| &mut t.address),
            Self::CookieEchoed(s) => s
                .peer
                .targets
                .iter_mut()
                .find(|t| t.address.ip() == remote.ip())
                .map(|t| &mut t.address),
            Self::Open(tcb, _) => tcb.paths.address_mut(remote.ip()),
            Self::Closed(_) => None,
        };
        if let Some(address) = address {
            address.set_port(remote.port());
        }
    }

    /// The earliest deadline of the timers this state owns (path timers
    /// and the delayed SACK included).
    pub fn next_deadline(&self) -> Option<Instant> {
        match self {
            Self::CookieWait(s) => Some(s.t1.deadline),
            Self::CookieEchoed(s) => Some(s.t1.deadline),
            Self::Open(tcb, phase) => {
                let shutdown = phase.timers().map(|t| t.t2.deadline.min(t.guard));
                let autoclose = tcb
                    .autoclose_at()
                    .filter(|_| matches!(phase, Phase::Established));
                [
                    shutdown,
                    autoclose,
                    tcb.acks.deadline(),
                    tcb.tx.deadline(),
                    tcb.paths.next_deadline(tcb.packet_size),
                ]
                .into_iter()
                .flatten()
                .min()
            }
            Self::Closed(_) => None,
        }
    }
}
