//! Path management (RFC 9260 §8.1–§8.3, §5.4, §6.4; RFC 7829): heartbeats,
//! error counting per destination and for the association, address
//! confirmation, the potentially-failed state, and the choice of the path
//! new data takes.
//!
//! [`Paths`] is part of the TCB. What happens on a path that the
//! association as a whole must act on (it ended; an event) comes back
//! through [`Output`] and return values.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::path::{HeartbeatInfo, MAX_PATHS, Path, PathState, Probe};
use super::pmtu::Pmtu;
use super::rto::Rto;
use super::state::{Target, Tcb};
use super::tx::SackOutcome;
use super::{Event, Output, PathChange};
use crate::chunk::{Chunk, Heartbeat, Pad};
use crate::config::Config;
use crate::random::Random;

/// One peer address as `Association::paths` reports it (after the fields of
/// RFC 6458's SCTP_GET_PEER_ADDR_INFO).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PathInfo {
    /// The peer's IP address and UDP encapsulation port.
    pub address: SocketAddr,
    /// Reachability.
    pub state: PathState,
    /// Whether the address has been confirmed (§5.4).
    pub confirmed: bool,
    /// Whether new data goes here now.
    pub primary: bool,
    /// Smoothed round-trip time, once measured.
    pub srtt: Option<Duration>,
    /// Retransmission timeout.
    pub rto: Duration,
    /// Congestion window in bytes.
    pub cwnd: usize,
    /// Payload bytes in flight on this path.
    pub flight: usize,
    /// Consecutive errors (§8.2).
    pub error_count: u32,
    /// The largest SCTP packet sent here (UDP payload bytes): the size path
    /// MTU discovery has confirmed (RFC 8899's PLPMTU), or the configured
    /// one without it. The IP packet is 28 bytes larger over IPv4, 48 over
    /// IPv6.
    pub mtu: usize,
}

/// The peer's destinations and which one data takes.
#[derive(Debug, Clone)]
pub(super) struct Paths {
    pub list: Vec<Path>,
    /// The path new DATA goes to now.
    pub primary: usize,
    /// The primary the user (or the handshake) chose; `primary` returns to
    /// it when it recovers, if so configured.
    pub preferred: usize,
    /// Where retransmissions go after a timeout on the primary that left it
    /// in use (SCTP-PF off): an active alternate (§6.4).
    pub retransmit_to: Option<usize>,
    /// Consecutive errors across all paths (§8.1).
    pub error_count: u32,
}

impl Paths {
    /// Paths to `targets` (the first becomes the primary), each starting
    /// data transfer: congestion control, and a heartbeat at once to each
    /// unconfirmed address (§5.4), after the idle interval to the others
    /// (§8.3).
    pub fn start(
        targets: &[Target],
        now: Instant,
        config: &Config,
        pmdcs: usize,
        peer_rwnd: u32,
        random: &mut Random,
    ) -> Self {
        let mut list: Vec<Path> = Vec::with_capacity(targets.len());
        for t in targets {
            if list.len() < MAX_PATHS && !list.iter().any(|p| p.remote.ip() == t.address.ip()) {
                let rto = Rto::new(config.rto_initial, config.rto_min, config.rto_max);
                list.push(Path::new(t.address, t.confirmed, rto));
            }
        }
        let mut paths = Self {
            list,
            primary: 0,
            preferred: 0,
            retransmit_to: None,
            error_count: 0,
        };
        for path in &mut paths.list {
            let (base, max) = config.pmtu_range(path.remote);
            path.pmtu = Pmtu::new(base, max);
            if path.confirmed {
                path.pmtu.start(now);
            }
            path.start_congestion(pmdcs, peer_rwnd);
            path.heartbeat_at = Some(if path.confirmed {
                now + path.idle_interval(config.hb_interval, random.u64())
            } else {
                now
            });
        }
        paths
    }

    pub fn primary_remote(&self) -> SocketAddr {
        self.list[self.primary].remote
    }

    /// The path to `ip`.
    pub fn index_of_ip(&self, ip: IpAddr) -> Option<usize> {
        self.list.iter().position(|p| p.remote.ip() == ip)
    }

    /// The path to `address` (its IP; the UDP port may have been learned
    /// since).
    pub fn index_of(&self, address: SocketAddr) -> Option<usize> {
        self.index_of_ip(address.ip())
    }

    pub fn address_mut(&mut self, ip: IpAddr) -> Option<&mut SocketAddr> {
        self.list
            .iter_mut()
            .find(|p| p.remote.ip() == ip)
            .map(|p| &mut p.remote)
    }

    /// The peer's transport addresses, primary first.
    pub fn addresses_primary_first(&self) -> Vec<SocketAddr> {
        let mut all: Vec<_> = self.list.iter().map(|p| p.remote).collect();
        all.swap(0, self.primary);
        all
    }

    /// Whether DATA may go to the current primary (a local send failure
    /// keeps it off the path for one RTO).
    pub fn data_path_open(&self) -> bool {
        self.list[self.primary].blocked_until.is_none()
    }

    /// The earliest timer of any path; the stall probe runs on the
    /// primary only.
    pub fn next_deadline(&self, packet_size: usize) -> Option<Instant> {
        self.list
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.next_deadline(packet_size, i == self.primary))
            .min()
    }

    /// Every peer address with its state, primary first.
    pub fn info(&self) -> Vec<PathInfo> {
        let mut all: Vec<PathInfo> = self
            .list
            .iter()
            .enumerate()
            .map(|(i, p)| PathInfo {
                address: p.remote,
                state: p.state,
                confirmed: p.confirmed,
                primary: i == self.primary,
                srtt: p.rto.srtt(),
                rto: p.rto.rto(),
                cwnd: p.cwnd,
                flight: p.flight,
                error_count: p.error_count,
                mtu: p.pmtu.size,
            })
            .collect();
        all.swap(0, self.primary);
        all
    }

    /// The path DATA goes to now: the primary, except that retransmissions
    /// after a timeout on it go to the alternate chosen then (§6.4), until
    /// they are out.
    pub fn data_path(&mut self, retransmitting: bool) -> usize {
        match self.retransmit_to {
            Some(i) if retransmitting && self.list.get(i).is_some_and(Path::is_usable) => i,
            _ => {
                self.retransmit_to = None;
                self.primary
            }
        }
    }

    /// Chooses the path new data takes (§6.4; RFC 7829 §3.2): the chosen
    /// primary while it is usable, else the best usable alternate; when no
    /// path is active, the confirmed one with the fewest errors.
    pub fn select_primary(&mut self, out: &mut Output, failback: bool) {
        let (current, preferred) = (self.primary, self.preferred);
        let usable = |i: usize| self.list[i].is_usable();
        let rank = |p: &Path| (p.error_count, p.rto.srtt().unwrap_or(Duration::MAX));
        let target = if usable(preferred) && (failback || current == preferred) {
            preferred
        } else if usable(current) {
            current
        } else if let Some(best) = (0..self.list.len())
            .filter(|&i| usable(i))
            .min_by_key(|&i| rank(&self.list[i]))
        {
            best
        } else {
            (0..self.list.len())
                .filter(|&i| {
                    let p = &self.list[i];
                    p.confirmed && p.blocked_until.is_none()
                })
                .min_by_key(|&i| (self.list[i].error_count, i != current))
                .unwrap_or(current)
        };
        if target != current {
            self.primary = target;
            out.path_event(self.list[target].remote, PathChange::MadePrimary);
        }
    }

    /// The usable path other than `i` with the fewest errors and lowest
    /// SRTT.
    pub(super) fn best_alternate(&self, i: usize) -> Option<usize> {
        (0..self.list.len())
            .filter(|&j| j != i && self.list[j].is_usable())
            .min_by_key(|&j| {
                let p = &self.list[j];
                (p.error_count, p.rto.srtt().unwrap_or(Duration::MAX))
            })
    }

    /// Makes `address` the preferred primary (SCTP_PRIMARY_ADDR); `false`
    /// if it is not one of the peer's addresses.
    pub fn set_primary(&mut self, address: SocketAddr, out: &mut Output) -> bool {
        let Some(i) = self.index_of(address) else {
            return false;
        };
        self.preferred = i;
        // An explicit choice wins while the path is usable.
        if self.list[i].is_usable() && self.primary != i {
            self.primary = i;
            out.path_event(self.list[i].remote, PathChange::MadePrimary);
        }
        true
    }

    /// A SACK acknowledged DATA last sent on the paths in its mask: those
    /// destinations are reachable (§8.2; RFC 7829 §3.2), and the
    /// association's error count restarts (§8.1).
    pub fn on_acked(&mut self, outcome: SackOutcome, out: &mut Output, failback: bool) {
        if outcome.acked_any {
            self.error_count = 0;
        }
        let mask = outcome.acked_paths;
        if mask == 0 {
            return;
        }
        for (i, path) in self.list.iter_mut().enumerate() {
            if mask & (1 << i) == 0 {
                continue;
            }
            path.error_count = 0;
            path.pmtu.on_progress();
            if path.state != PathState::Active {
                path.state = PathState::Active;
                path.failed_at = None;
                out.path_event(path.remote, PathChange::Available);
            }
        }
        self.select_primary(out, failback);
    }
}

/// What a path error meant for the association.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrorOutcome {
    Counted,
    /// Association.Max.Retrans passed (§8.1): the peer is unreachable.
    PeerUnreachable,
}

/// Zeros for PAD chunks (no allocation per probe): as many as the largest
/// UDP payload needs.
static PADDING: Bytes = Bytes::from_static(&[0; crate::config::MAX_UDP_PAYLOAD]);

impl Tcb {
    /// Queues a HEARTBEAT on path `i` with a fresh nonce (§8.3); `counts`
    /// says whether going unanswered is an error for the path.
    pub(super) fn send_probe(
        &mut self,
        now: Instant,
        i: usize,
        counts: bool,
        random: &mut Random,
        out: &mut Output,
    ) {
        let nonce = random.u64();
        let path = &mut self.paths.list[i];
        path.heartbeat_at = None;
        path.probe = Some(Probe {
            nonce,
            sent_at: now,
            deadline: now + path.rto.rto(),
            counts,
        });
        let info = HeartbeatInfo {
            nonce,
            path: i as u16,
            address: path.remote,
            probe_size: 0,
        }
        .encode();
        out.send(
            path.remote,
            self.peer_tag,
            Chunk::Heartbeat(Heartbeat { info }),
        );
    }

    /// Sends the path MTU probe due on path `i`, if any: a HEARTBEAT and a
    /// PAD chunk filling the packet to the size under test (RFC 8899
    /// §6.2.1.2), which `poll_transmit` sends as a packet of its own.
    fn send_size_probe(
        &mut self,
        now: Instant,
        i: usize,
        config: &Config,
        random: &mut Random,
        out: &mut Output,
    ) {
        let path = &mut self.paths.list[i];
        if !path.confirmed || path.state != PathState::Active || path.blocked_until.is_some() {
            let later = now + config.pmtu_probe_timeout.max(path.rto.rto());
            path.pmtu.defer(now, later);
            return;
        }
        let Some(size) = path.pmtu.due(now) else {
            return;
        };
        let nonce = random.u64();
        let timeout = config.pmtu_probe_timeout.max(path.rto.rto());
        path.pmtu.sent(nonce, size, now + timeout);
        let info = HeartbeatInfo {
            nonce,
            path: i as u16,
            address: path.remote,
            probe_size: u16::try_from(size).unwrap_or(u16::MAX),
        }
        .encode();
        let heartbeat = Chunk::Heartbeat(Heartbeat { info });
        // Common header, the HEARTBEAT, and the PAD chunk's own header.
        let used = 12 + heartbeat.encoded_len().unwrap_or(0) + 4;
        let padding = PADDING.slice(..size.saturating_sub(used).min(PADDING.len()));
        out.send(path.remote, self.peer_tag, heartbeat);
        out.send(path.remote, self.peer_tag, Chunk::Pad(Pad { padding }));
    }

    /// The association's packet size: the smallest size the confirmed
    /// paths have (RFC 9260 §7.3: fragments must fit every destination,
    /// since a retransmission may take another). Messages queued are cut
    /// again to the new size when it shrinks.
    pub(super) fn update_packet_size(&mut self) {
        let confirmed = self.paths.list.iter().filter(|p| p.confirmed);
        let Some(size) = confirmed.map(|p| p.pmtu.size).min() else {
            return;
        };
        if size != self.packet_size {
            self.packet_size = size;
            self.tx.set_mtu(size);
        }
    }

    /// Runs the per-path timers that are due: T3-rtx, heartbeat answers
    /// that did not come, heartbeats to send, and the end of a send-error
    /// block.
    pub(super) fn path_timers(
        &mut self,
        now: Instant,
        config: &Config,
        random: &mut Random,
        out: &mut Output,
    ) -> ErrorOutcome {
        for i in 0..self.paths.list.len() {
            let path = &mut self.paths.list[i];
            if path.blocked_until.is_some_and(|t| now >= t) {
                path.blocked_until = None;
            }
            if path.t3.is_some_and(|t| now >= t) {
                let marked = self.tx.on_t3(&mut self.paths.list, i);
                self.paths.list[i].t3 = None;
                if marked && self.paths.list[i].pmtu.on_t3(now) {
                    self.update_packet_size();
                }
                if marked {
                    // §6.3.3 E1/E2 and §8.2: count the error, back off.
                    if self.path_error(now, i, config, out) == ErrorOutcome::PeerUnreachable {
                        return ErrorOutcome::PeerUnreachable;
                    }
                    // §6.4: retransmit to another active address. With
                    // SCTP-PF the primary has already moved; without it,
                    // the retransmissions alone take an alternate.
                    if self.paths.primary == i {
                        self.paths.retransmit_to = self.paths.best_alternate(i);
                    }
                }
            }
            let path = &mut self.paths.list[i];
            if let Some(probe) = path.probe.filter(|p| now >= p.deadline && !p.counts) {
                // A stall probe went unanswered: T3-rtx deals with the
                // loss; heartbeats resume their schedule.
                path.probe = None;
                path.progress_at = Some(probe.deadline);
                let at = now + path.idle_interval(config.hb_interval, random.u64());
                path.heartbeat_at = Some(path.heartbeat_at.map_or(at, |t| t.min(at)));
            }
            let mtu = self.packet_size;
            if i == self.paths.primary && path.stall_probe_at(mtu).is_some_and(|t| now >= t) {
                self.send_probe(now, i, false, random, out);
            }
            let path = &mut self.paths.list[i];
            if path.probe.is_some_and(|p| now >= p.deadline) {
                path.probe = None;
                // §8.3: an unanswered heartbeat is an error for the path;
                // potentially-failed and unconfirmed paths are probed again
                // at once (once per RTO), others after the idle interval.
                let again = !path.confirmed || path.state == PathState::PotentiallyFailed;
                if self.path_error(now, i, config, out) == ErrorOutcome::PeerUnreachable {
                    return ErrorOutcome::PeerUnreachable;
                }
                let jitter = random.u64();
                let path = &mut self.paths.list[i];
                let again = again && path.state != PathState::Inactive;
                path.heartbeat_at = Some(if again {
                    now
                } else {
                    now + path.idle_interval(config.hb_interval, jitter)
                });
            }
            if self.paths.list[i].heartbeat_at.is_some_and(|t| now >= t) {
                self.heartbeat_due(now, i, config, random, out);
            }
            if self.paths.list[i].pmtu.probe_expired(now) {
                self.paths.list[i].pmtu.on_probe_lost(now);
            }
            self.send_size_probe(now, i, config, random, out);
        }
        self.paths.select_primary(out, config.primary_failback);
        ErrorOutcome::Counted
    }

    /// The heartbeat timer of path `i` fired: probe it unless it is busy
    /// or a probe is already out. A path is busy when it is the one data
    /// goes to and data is outstanding (retransmissions probe it), or when
    /// DATA went there within the current heartbeat period: HB.interval,
    /// or one RTO for a potentially-failed path (§8.3, RFC 7829 §3.2).
    fn heartbeat_due(
        &mut self,
        now: Instant,
        i: usize,
        config: &Config,
        random: &mut Random,
        out: &mut Output,
    ) {
        let jitter = random.u64();
        let carrying = i == self.paths.primary && !self.tx.is_idle();
        let path = &mut self.paths.list[i];
        path.heartbeat_at = None;
        if path.probe.is_some() {
            return;
        }
        // Heartbeats turned off (SPP_HB_DISABLE): only addresses to confirm
        // and paths in trouble are probed.
        if !config.heartbeats && path.confirmed && path.state == PathState::Active {
            return;
        }
        let period = match path.state {
            PathState::PotentiallyFailed => path.rto.rto(),
            _ => config.hb_interval,
        };
        let recent = path.confirmed
            && path
                .last_data
                .is_some_and(|t| now.saturating_duration_since(t) < period);
        if carrying || recent {
            // Look again one period after the last DATA, and never sooner
            // than one RTO from now.
            let from = path.last_data.unwrap_or(now);
            let next = match path.state {
                PathState::PotentiallyFailed => from + period,
                _ => from + path.idle_interval(config.hb_interval, jitter),
            };
            path.heartbeat_at = Some(next.max(now + path.rto.rto()));
            return;
        }
        self.send_probe(now, i, true, random, out);
    }

    /// A HEARTBEAT ACK (§8.3): if it answers the probe in flight (same
    /// nonce, same address), the path is reachable, confirmed, and its RTT
    /// measured; the association's error count is cleared.
    pub(super) fn on_heartbeat_ack(
        &mut self,
        now: Instant,
        info: &[u8],
        config: &Config,
        random: &mut Random,
        out: &mut Output,
    ) {
        let Some(hb) = HeartbeatInfo::decode(info) else {
            return;
        };
        let jitter = random.u64();
        let Some(path) = self.paths.list.get_mut(usize::from(hb.path)) else {
            return;
        };
        if hb.probe_size != 0 {
            // A path MTU probe's answer says its size passed, nothing else
            // (its loss was never an error either).
            if path.remote.ip() == hb.address.ip()
                && path
                    .pmtu
                    .on_ack(now, hb.nonce, usize::from(hb.probe_size))
                    .is_some()
            {
                self.update_packet_size();
            }
            return;
        }
        let Some(probe) = path.probe else {
            return;
        };
        if probe.nonce != hb.nonce || path.remote.ip() != hb.address.ip() {
            return;
        }
        path.probe = None;
        path.rto
            .measure(now.saturating_duration_since(probe.sent_at));
        // An answered stall probe shows the path works, not that its DATA
        // moved: no further stall probe until a SACK acknowledges DATA
        // again (T3-rtx recovers what was lost). Counting it as progress
        // made a probe follow every 2 SRTT for as long as the stall
        // lasted: a HEARTBEAT flood up to T3-rtx, which an RTO inflated by
        // a long outage can put a minute away.
        path.progress_at = probe.counts.then_some(now);
        path.error_count = 0;
        path.blocked_until = None;
        path.heartbeat_at = Some(now + path.idle_interval(config.hb_interval, jitter));
        let address = path.remote;
        let newly_confirmed = !path.confirmed;
        path.confirmed = true;
        if newly_confirmed {
            path.pmtu.start(now);
        }
        let revived = path.state != PathState::Active;
        path.state = PathState::Active;
        path.failed_at = None;
        self.paths.error_count = 0;
        if newly_confirmed {
            out.path_event(address, PathChange::Confirmed);
        }
        if revived {
            out.path_event(address, PathChange::Available);
        }
        if newly_confirmed {
            self.update_packet_size();
        }
        self.paths.select_primary(out, config.primary_failback);
    }

    /// Counts one error on path `i` (a T3-rtx expiry, an unanswered
    /// heartbeat or a failed send): backs off its RTO, moves it to
    /// potentially failed or inactive past the thresholds, and says when
    /// Association.Max.Retrans is passed (§8.1). Errors on an unconfirmed
    /// address do not count for the association: an address the peer
    /// listed but that cannot be reached must not end it.
    pub(super) fn path_error(
        &mut self,
        now: Instant,
        i: usize,
        config: &Config,
        out: &mut Output,
    ) -> ErrorOutcome {
        let (pmr, pfmr) = (config.path_max_retrans, config.pf_max_retrans);
        let multihomed = self.paths.list.len() > 1;
        let path = &mut self.paths.list[i];
        path.error_count = path.error_count.saturating_add(1);
        path.rto.back_off();
        let counts = path.confirmed;
        let address = path.remote;
        let change = if path.error_count > pmr {
            (path.state != PathState::Inactive).then(|| {
                path.state = PathState::Inactive;
                path.failed_at.get_or_insert(now);
                PathChange::Unreachable
            })
        } else if path.error_count > pfmr
            && path.state == PathState::Active
            && path.confirmed
            && multihomed
        {
            // RFC 7829 §3.2: a potentially-failed path is probed at once
            // and then once per RTO while no data goes there. With a
            // single path there is nowhere else to go, and the state would
            // say nothing.
            path.state = PathState::PotentiallyFailed;
            path.failed_at = Some(now);
            if path.probe.is_none() {
                path.heartbeat_at = Some(now);
            }
            Some(PathChange::PotentiallyFailed)
        } else {
            None
        };
        if let Some(change) = change {
            out.path_event(address, change);
        }
        if counts {
            self.paths.error_count += 1;
            if self.paths.error_count > config.association_max_retrans {
                return ErrorOutcome::PeerUnreachable;
            }
        }
        self.paths.select_primary(out, config.primary_failback);
        ErrorOutcome::Counted
    }

    /// A send to `destination` failed locally (no route, interface down):
    /// the packet never left, so this is a path failure, not loss. DATA in
    /// flight there is retransmitted elsewhere at once, the error counted,
    /// and the path left alone for one RTO.
    pub(super) fn on_send_error(
        &mut self,
        now: Instant,
        destination: SocketAddr,
        config: &Config,
        out: &mut Output,
    ) -> ErrorOutcome {
        let Some(i) = self.paths.index_of(destination) else {
            return ErrorOutcome::Counted;
        };
        if self.paths.list[i].blocked_until.is_some() {
            return ErrorOutcome::Counted;
        }
        self.paths.list[i].blocked_until = Some(now + self.paths.list[i].rto.rto());
        self.tx.on_t3(&mut self.paths.list, i);
        let outcome = self.path_error(now, i, config, out);
        if outcome == ErrorOutcome::Counted {
            self.paths.select_primary(out, config.primary_failback);
        }
        outcome
    }
}

impl Output {
    pub(super) fn path_event(&mut self, address: SocketAddr, change: PathChange) {
        self.events.push_back(Event::PathChange { address, change });
    }
}
