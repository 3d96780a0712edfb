//! One destination transport address of the peer and everything RFC 9260
//! keeps per destination: the RTO estimator (§6.3.1), congestion control
//! (§7.2), T3-rtx (§6.3.2), the error counter and reachability (§8.2),
//! address confirmation (§5.4) and heartbeats (§8.3), with the
//! potentially-failed state of SCTP-PF (RFC 7829).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use super::rto::Rto;

/// Peer addresses kept per association at most; further addresses a peer
/// lists are ignored, so a peer cannot make this end probe without bound.
pub(crate) const MAX_PATHS: usize = 16;

/// Whether a destination is reachable, as this end judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathState {
    /// Reachable (RFC 9260 §8.2 "active").
    Active,
    /// Errors passed the potentially-failed threshold (RFC 7829 §3.2): new
    /// data avoids it while another path is active; heartbeats probe it
    /// once per RTO.
    PotentiallyFailed,
    /// Errors passed Path.Max.Retrans (§8.2); heartbeats go on probing it.
    Inactive,
}

/// A heartbeat in flight.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe {
    pub nonce: u64,
    pub sent_at: Instant,
    /// When it counts as unanswered: one RTO after it went out (§8.3).
    pub deadline: Instant,
    /// Whether going unanswered is an error for the path. A stall probe
    /// is not: T3-rtx already counts the loss it is checking.
    pub counts: bool,
}

/// A stall probe waits at least this long (clock granularity and the
/// receiver's processing).
const MIN_STALL_PROBE: Duration = Duration::from_millis(10);

/// Per-destination state.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    /// IP address and UDP encapsulation port (RFC 6951 §5.4).
    pub remote: SocketAddr,
    pub state: PathState,
    /// When it left the active state: acknowledgements of DATA sent here
    /// before then do not show it works now.
    pub failed_at: Option<Instant>,
    /// A HEARTBEAT ACK (or the handshake) proved the peer is there (§5.4).
    pub confirmed: bool,
    pub rto: Rto,
    /// Consecutive unanswered retransmissions and heartbeats (§8.2).
    pub error_count: u32,
    pub cwnd: usize,
    pub ssthresh: usize,
    pub partial_bytes_acked: usize,
    /// Payload bytes of DATA sent here and still in flight.
    pub flight: usize,
    /// Fast recovery (§7.2.4) ends when the cumulative ack reaches this.
    pub fast_recovery_exit: Option<u64>,
    /// Bytes in flight when the last SACK or timeout was processed (§6.1 D,
    /// Max.Burst).
    pub burst_base: usize,
    /// When DATA was last sent here, for cwnd after idle (§7.2.1) and for
    /// deciding whether the path is idle (§8.3).
    pub last_data: Option<Instant>,
    /// T3-rtx (§6.3.2), running while DATA sent here is outstanding.
    pub t3: Option<Instant>,
    /// When DATA sent here was last acknowledged, or when data started to
    /// flow here after an idle time.
    pub progress_at: Option<Instant>,
    /// When the next heartbeat is due.
    pub heartbeat_at: Option<Instant>,
    pub probe: Option<Probe>,
    /// A send to this address failed locally (no route, link down): no
    /// DATA goes here before this time.
    pub blocked_until: Option<Instant>,
    /// CUBIC's memory of the last congestion event (when in use).
    pub cubic: super::cc::Cubic,
    /// Path MTU discovery (RFC 8899).
    pub pmtu: super::pmtu::Pmtu,
}

impl Path {
    pub(crate) fn new(remote: SocketAddr, confirmed: bool, rto: Rto) -> Self {
        Self {
            remote,
            state: PathState::Active,
            failed_at: None,
            confirmed,
            rto,
            error_count: 0,
            cwnd: 0,
            ssthresh: 0,
            partial_bytes_acked: 0,
            flight: 0,
            fast_recovery_exit: None,
            burst_base: 0,
            last_data: None,
            t3: None,
            progress_at: None,
            heartbeat_at: None,
            probe: None,
            blocked_until: None,
            cubic: super::cc::Cubic::default(),
            pmtu: super::pmtu::Pmtu::new(0, 0),
        }
    }

    /// §7.2.1: the initial congestion window, min(4 PMDCS, max(2 PMDCS,
    /// 4404)) toward IPv4 and 4344 in place of 4404 toward IPv6, PMDCS
    /// being the largest DATA chunk payload.
    pub(crate) fn initial_cwnd(&self, pmdcs: usize) -> usize {
        let floor = if self.remote.ip().to_canonical().is_ipv6() {
            4344
        } else {
            4404
        };
        (4 * pmdcs).min((2 * pmdcs).max(floor))
    }

    /// Starts congestion control for data transfer; the initial ssthresh
    /// may be arbitrarily high (§7.2.1), here the peer's window.
    pub(crate) fn start_congestion(&mut self, pmdcs: usize, peer_rwnd: u32) {
        self.cwnd = self.initial_cwnd(pmdcs);
        self.ssthresh = (peer_rwnd as usize).max(self.initial_cwnd(pmdcs));
        self.partial_bytes_acked = 0;
        self.flight = 0;
        self.fast_recovery_exit = None;
        self.burst_base = 0;
        self.t3 = None;
    }

    /// Whether new DATA may go here without another path being better.
    pub(crate) fn is_usable(&self) -> bool {
        self.confirmed && self.state == PathState::Active && self.blocked_until.is_none()
    }

    /// Whether an acknowledgement of DATA sent here at `sent_at` shows the
    /// path works: always while active; after a failure, only for DATA
    /// sent since.
    pub(crate) fn ack_proves_reachable(&self, sent_at: Instant) -> bool {
        self.failed_at.is_none_or(|f| sent_at >= f)
    }

    /// When to check that a path carrying a full flight still works.
    ///
    /// With two or more packets of DATA outstanding the receiver
    /// acknowledges at once (§6.2, every second packet), so no SACK within
    /// two smoothed round trips means the path stalled. A HEARTBEAT then
    /// costs one small packet and, when the local interface is down, fails
    /// to send at once, which moves the data to another path long before
    /// T3-rtx would (a send that fails is the signal; see `on_send_error`).
    pub(crate) fn stall_probe_at(&self, mtu: usize) -> Option<Instant> {
        if self.probe.is_some() || self.flight < 2 * mtu.saturating_sub(28) {
            return None;
        }
        let pto = (2 * self.rto.srtt()?).max(MIN_STALL_PROBE);
        Some(self.progress_at? + pto.min(self.rto.rto()))
    }

    /// The earliest of this path's timers; the stall probe only runs on
    /// the primary.
    pub(crate) fn next_deadline(&self, mtu: usize, primary: bool) -> Option<Instant> {
        [
            self.t3,
            self.heartbeat_at,
            self.probe.map(|p| p.deadline),
            self.pmtu.deadline(),
            self.blocked_until,
            self.stall_probe_at(mtu).filter(|_| primary),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The idle-path heartbeat interval of §8.3: RTO + HB.interval, with
    /// jitter of ±50 % of RTO drawn from `random`.
    pub(crate) fn idle_interval(&self, hb_interval: Duration, random: u64) -> Duration {
        let rto = self.rto.rto();
        // A value in [0, RTO], shifted to [-RTO/2, +RTO/2].
        let span = rto.as_micros().max(1) as u64;
        let jitter = Duration::from_micros(random % (span + 1));
        hb_interval + rto / 2 + jitter
    }
}

/// The Sender-Specific Heartbeat Info this end puts in its HEARTBEATs:
/// a random nonce (§8.3 requires one, so a HEARTBEAT ACK cannot be forged
/// blindly to confirm an address), the path index, the address it was
/// sent to, and for a path MTU probe the size of its packet (RFC 8899
/// §6.2.1.2 suggests carrying it; 0 in other heartbeats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeartbeatInfo {
    pub nonce: u64,
    pub path: u16,
    pub address: SocketAddr,
    pub probe_size: u16,
}

impl HeartbeatInfo {
    pub(crate) const LEN: usize = 8 + 2 + 2 + 16 + 2;

    pub(crate) fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(Self::LEN);
        b.put_u64(self.nonce);
        b.put_u16(self.path);
        b.put_u16(self.address.port());
        let ip = match self.address.ip() {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        b.put_slice(&ip.octets());
        b.put_u16(self.probe_size);
        b.freeze()
    }

    /// Reads back what `encode` wrote; anything else (a peer echoing
    /// garbage) is `None`.
    pub(crate) fn decode(info: &[u8]) -> Option<Self> {
        if info.len() != Self::LEN {
            return None;
        }
        let nonce = u64::from_be_bytes(info[0..8].try_into().ok()?);
        let path = u16::from_be_bytes(info[8..10].try_into().ok()?);
        let port = u16::from_be_bytes(info[10..12].try_into().ok()?);
        let octets: [u8; 16] = info[12..28].try_into().ok()?;
        let probe_size = u16::from_be_bytes(info[28..30].try_into().ok()?);
        let v6 = Ipv6Addr::from(octets);
        let ip = match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        };
        Some(Self {
            nonce,
            path,
            address: SocketAddr::new(ip, port),
            probe_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_cwnd_floor_depends_on_the_family() {
        // §7.2.1: 4404 bytes toward IPv4 (an IPv4-mapped address counts as
        // IPv4), 4344 toward IPv6, when 2 PMDCS is smaller.
        let rto = || {
            let s = std::time::Duration::from_secs(1);
            Rto::new(s, s, s)
        };
        let pmdcs = 1172;
        for (address, expected) in [
            ("10.1.2.3:9899", 4404),
            ("[::ffff:10.1.2.3]:9899", 4404),
            ("[2001:db8::7]:9899", 4344),
        ] {
            let path = Path::new(address.parse().unwrap(), true, rto());
            assert_eq!(path.initial_cwnd(pmdcs), expected, "{address}");
        }
        let path = Path::new("[2001:db8::7]:9899".parse().unwrap(), true, rto());
        assert_eq!(path.initial_cwnd(4000 - 28), 2 * (4000 - 28));
    }

    #[test]
    fn heartbeat_info_round_trips_both_families() {
        for address in ["10.1.2.3:9899", "[2001:db8::7]:4000"] {
            let info = HeartbeatInfo {
                nonce: 0x0123_4567_89ab_cdef,
                path: 3,
                address: address.parse().unwrap(),
                probe_size: 1472,
            };
            assert_eq!(HeartbeatInfo::decode(&info.encode()), Some(info));
        }
        assert_eq!(HeartbeatInfo::decode(b"short"), None);
    }

    #[test]
    fn idle_interval_is_hb_interval_plus_rto_within_half_rto() {
        let rto = Rto::new(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(60),
        );
        let path = Path::new("10.0.0.1:9899".parse().unwrap(), true, rto);
        let hb = Duration::from_secs(30);
        let mut rng = crate::random::Random::from_seed([7; 32]);
        for _ in 0..1000 {
            let i = path.idle_interval(hb, rng.u64());
            assert!(i >= Duration::from_millis(30_500), "{i:?}");
            assert!(i <= Duration::from_millis(31_500), "{i:?}");
        }
    }
}
