//! Path management (RFC 9260 §8.1–§8.3, §5.4, §6.4; RFC 7829): heartbeats,
//! error counting per destination and for the association, address
//! confirmation, the potentially-failed state, and the choice of the path
//! new data takes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::path::{HeartbeatInfo, Path, PathState, Probe};
use super::tx::SackOutcome;
use super::{Association, AssociationError, Event, PathChange, State};
use crate::chunk::{Abort, Chunk, Heartbeat};

/// One peer address as `Association::paths` reports it (after the fields of
/// RFC 6458's SCTP_GET_PEER_ADDR_INFO).
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Association {
    /// Starts path management when data transfer starts: congestion
    /// control on every path, a heartbeat at once to each unconfirmed
    /// address (§5.4) and after the idle interval to the others (§8.3).
    pub(super) fn start_paths(&mut self, now: Instant) {
        // §7.2.1: congestion control counts in DATA chunk payloads.
        let (pmdcs, rwnd) = (self.packet_size - 12 - 16, self.peer_rwnd);
        let hb_interval = self.config.hb_interval;
        for path in &mut self.paths {
            path.start_congestion(pmdcs, rwnd);
            path.error_count = 0;
            path.state = PathState::Active;
            path.probe = None;
            path.blocked_until = None;
            path.heartbeat_at = Some(if path.confirmed {
                now + path.idle_interval(hb_interval, self.random.next())
            } else {
                now
            });
        }
        self.select_primary();
    }

    /// Whether DATA may go to the current primary (a local send failure
    /// keeps it off the path for one RTO).
    pub(super) fn data_path_open(&self) -> bool {
        self.paths[self.primary].blocked_until.is_none()
    }

    /// Runs the per-path timers that are due: T3-rtx, heartbeat answers
    /// that did not come, heartbeats to send, and the end of a send-error
    /// block.
    pub(super) fn path_timers(&mut self, now: Instant) {
        for i in 0..self.paths.len() {
            if self.is_closed() {
                return;
            }
            let path = &mut self.paths[i];
            if path.blocked_until.is_some_and(|t| now >= t) {
                path.blocked_until = None;
            }
            if path.t3.is_some_and(|t| now >= t) {
                let marked = match &mut self.data {
                    Some(data) => data.tx.on_t3(&mut self.paths, i),
                    None => false,
                };
                self.paths[i].t3 = None;
                if marked {
                    // §6.3.3 E1/E2 and §8.2: count the error, back off.
                    self.path_error(now, i);
                    // §6.4: retransmit to another active address. With
                    // SCTP-PF the primary has already moved; without it,
                    // the retransmissions alone take an alternate.
                    if self.primary == i {
                        self.retransmit_to = self.best_alternate(i);
                    }
                }
            }
            if self.is_closed() {
                return;
            }
            let path = &mut self.paths[i];
            if let Some(probe) = path.probe.filter(|p| now >= p.deadline && !p.counts) {
                // A stall probe went unanswered: T3-rtx deals with the
                // loss; heartbeats resume their schedule.
                path.probe = None;
                path.progress_at = Some(probe.deadline);
                let random = self.random.next();
                let at = now + path.idle_interval(self.config.hb_interval, random);
                path.heartbeat_at = Some(path.heartbeat_at.map_or(at, |t| t.min(at)));
            }
            let mtu = self.packet_size;
            if i == self.primary && path.stall_probe_at(mtu).is_some_and(|t| now >= t) {
                self.send_probe(now, i, false);
            }
            let path = &mut self.paths[i];
            if path.probe.is_some_and(|p| now >= p.deadline) {
                path.probe = None;
                // §8.3: an unanswered heartbeat is an error for the path;
                // potentially-failed and unconfirmed paths are probed again
                // at once (once per RTO), others after the idle interval.
                let again = !path.confirmed || path.state == PathState::PotentiallyFailed;
                self.path_error(now, i);
                if self.is_closed() {
                    return;
                }
                let random = self.random.next();
                let hb_interval = self.config.hb_interval;
                let path = &mut self.paths[i];
                let again = again && path.state != PathState::Inactive;
                path.heartbeat_at = Some(if again {
                    now
                } else {
                    now + path.idle_interval(hb_interval, random)
                });
            }
            let path = &self.paths[i];
            if path.heartbeat_at.is_some_and(|t| now >= t) {
                self.heartbeat_due(now, i);
            }
        }
        self.select_primary();
    }

    /// The heartbeat timer of path `i` fired: probe it unless it is busy
    /// or a probe is already out. A path is busy when it is the one data
    /// goes to and data is outstanding (retransmissions probe it), or when
    /// DATA went there within the current heartbeat period: HB.interval,
    /// or one RTO for a potentially-failed path (§8.3, RFC 7829 §5.1).
    fn heartbeat_due(&mut self, now: Instant, i: usize) {
        let random = self.random.next();
        let hb_interval = self.config.hb_interval;
        let carrying = i == self.primary && self.data.as_ref().is_some_and(|d| !d.tx.is_idle());
        let path = &mut self.paths[i];
        path.heartbeat_at = None;
        if path.probe.is_some() {
            return;
        }
        let period = match path.state {
            PathState::PotentiallyFailed => path.rto.rto(),
            _ => hb_interval,
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
                _ => from + path.idle_interval(hb_interval, random),
            };
            path.heartbeat_at = Some(next.max(now + path.rto.rto()));
            return;
        }
        self.send_heartbeat(now, i);
    }

    /// Queues a HEARTBEAT to path `i` with a fresh nonce (§8.3).
    fn send_heartbeat(&mut self, now: Instant, i: usize) {
        self.send_probe(now, i, true);
    }

    /// Queues a HEARTBEAT; `counts` says whether going unanswered is an
    /// error for the path.
    pub(super) fn send_probe(&mut self, now: Instant, i: usize, counts: bool) {
        if self.peer_tag == 0 || self.is_closed() {
            return;
        }
        let nonce = self.random.next();
        let path = &mut self.paths[i];
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
        }
        .encode();
        let remote = path.remote;
        self.queue(remote, self.peer_tag, Chunk::Heartbeat(Heartbeat { info }));
    }

    /// A HEARTBEAT ACK (§8.3): if it answers the probe in flight (same
    /// nonce, same address), the path is reachable, confirmed, and its RTT
    /// measured; the association's error count is cleared.
    pub(super) fn on_heartbeat_ack(&mut self, now: Instant, info: &[u8]) {
        let Some(hb) = HeartbeatInfo::decode(info) else {
            return;
        };
        let i = usize::from(hb.path);
        let hb_interval = self.config.hb_interval;
        let random = self.random.next();
        let Some(path) = self.paths.get_mut(i) else {
            return;
        };
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
        path.heartbeat_at = Some(now + path.idle_interval(hb_interval, random));
        let address = path.remote;
        let newly_confirmed = !path.confirmed;
        path.confirmed = true;
        let revived = path.state != PathState::Active;
        path.state = PathState::Active;
        path.failed_at = None;
        self.error_count = 0;
        if newly_confirmed {
            self.path_event(address, PathChange::Confirmed);
        }
        if revived {
            self.path_event(address, PathChange::Available);
        }
        self.select_primary();
    }

    /// A SACK acknowledged DATA last sent on the paths in `mask`: those
    /// destinations are reachable (§8.2; RFC 7829 §5.1 step 5), and the
    /// association's error count restarts (§8.1).
    pub(super) fn on_acked(&mut self, outcome: SackOutcome) {
        if outcome.acked_any {
            self.error_count = 0;
        }
        let mask = outcome.acked_paths;
        if mask == 0 {
            return;
        }
        for i in 0..self.paths.len() {
            if mask & (1 << i) == 0 {
                continue;
            }
            let path = &mut self.paths[i];
            path.error_count = 0;
            if path.state != PathState::Active {
                path.state = PathState::Active;
                path.failed_at = None;
                let address = path.remote;
                self.path_event(address, PathChange::Available);
            }
        }
        self.select_primary();
    }

    /// Counts one error on path `i` (a T3-rtx expiry, an unanswered
    /// heartbeat or a failed send): backs off its RTO, moves it to
    /// potentially failed or inactive past the thresholds, and ends the
    /// association past Association.Max.Retrans (§8.1). Errors on an
    /// unconfirmed address do not count for the association: an address
    /// the peer listed but that cannot be reached must not end it.
    fn path_error(&mut self, now: Instant, i: usize) {
        let (pmr, pfmr) = (self.config.path_max_retrans, self.config.pf_max_retrans);
        let multihomed = self.paths.len() > 1;
        let path = &mut self.paths[i];
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
            // RFC 7829 §5.1: a potentially-failed path is probed at once
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
            self.path_event(address, change);
        }
        if counts {
            self.error_count += 1;
            if self.error_count > self.config.association_max_retrans {
                // §8.1: the peer is unreachable.
                let primary = self.primary_remote();
                self.queue(primary, self.peer_tag, Chunk::Abort(Abort::default()));
                self.close(AssociationError::RetransmissionLimit);
                return;
            }
        }
        self.select_primary();
    }

    /// Chooses the path new data takes (§6.4; RFC 7829 §5.1): the chosen
    /// primary while it is usable, else the best usable alternate; when no
    /// path is active, the confirmed one with the fewest errors.
    pub(super) fn select_primary(&mut self) {
        let (current, preferred) = (self.primary, self.preferred);
        let failback = self.config.primary_failback;
        let usable = |i: usize| self.paths[i].is_usable();
        let rank = |p: &Path| (p.error_count, p.rto.srtt().unwrap_or(Duration::MAX));
        let target = if usable(preferred) && (failback || current == preferred) {
            preferred
        } else if usable(current) {
            current
        } else if let Some(best) = (0..self.paths.len())
            .filter(|&i| usable(i))
            .min_by_key(|&i| rank(&self.paths[i]))
        {
            best
        } else {
            (0..self.paths.len())
                .filter(|&i| {
                    let p = &self.paths[i];
                    p.confirmed && p.blocked_until.is_none()
                })
                .min_by_key(|&i| (self.paths[i].error_count, i != current))
                .unwrap_or(current)
        };
        if target != current {
            self.primary = target;
            let address = self.paths[target].remote;
            self.path_event(address, PathChange::MadePrimary);
        }
    }

    /// The usable path other than `i` with the fewest errors and lowest
    /// SRTT.
    fn best_alternate(&self, i: usize) -> Option<usize> {
        (0..self.paths.len())
            .filter(|&j| j != i && self.paths[j].is_usable())
            .min_by_key(|&j| {
                let p = &self.paths[j];
                (p.error_count, p.rto.srtt().unwrap_or(Duration::MAX))
            })
    }

    /// The path to `address` (its IP; the UDP port may have been learned
    /// since).
    pub(super) fn path_of(&self, address: SocketAddr) -> Option<usize> {
        self.paths
            .iter()
            .position(|p| p.remote.ip() == address.ip())
    }

    fn path_event(&mut self, address: SocketAddr, change: PathChange) {
        self.events.push_back(Event::PathChange { address, change });
    }

    /// A send to `destination` failed locally (no route, interface down):
    /// the packet never left, so this is a path failure, not loss. DATA in
    /// flight there is retransmitted elsewhere at once, the error counted,
    /// and the path left alone for one RTO.
    pub fn on_send_error(&mut self, now: Instant, destination: SocketAddr) {
        if self.data.is_none() || self.is_closed() {
            return;
        }
        let Some(i) = self.path_of(destination) else {
            return;
        };
        if self.paths[i].blocked_until.is_some() {
            return;
        }
        self.paths[i].blocked_until = Some(now + self.paths[i].rto.rto());
        if let Some(data) = &mut self.data {
            data.tx.on_t3(&mut self.paths, i);
        }
        self.path_error(now, i);
        self.select_primary();
    }

    /// Makes `address` the primary path (SCTP_PRIMARY_ADDR). `false` if it
    /// is not one of the peer's addresses.
    pub fn set_primary(&mut self, address: SocketAddr) -> bool {
        let Some(i) = self.path_of(address) else {
            return false;
        };
        self.preferred = i;
        // An explicit choice wins while the path is usable.
        if self.paths[i].is_usable() && self.primary != i {
            self.primary = i;
            let address = self.paths[i].remote;
            self.path_event(address, PathChange::MadePrimary);
        }
        true
    }

    /// Sends a heartbeat to `address` now (heartbeat on demand, §8.3).
    /// `false` if the address is unknown, the association is not up, or a
    /// heartbeat to it is already waiting for its answer.
    pub fn request_heartbeat(&mut self, now: Instant, address: SocketAddr) -> bool {
        if self.data.is_none() || self.is_closed() || matches!(self.state, State::Closed) {
            return false;
        }
        let Some(i) = self.path_of(address) else {
            return false;
        };
        if self.paths[i].probe.is_some() {
            return false;
        }
        self.send_heartbeat(now, i);
        true
    }

    /// Every peer address with its state, primary first.
    pub fn paths(&self) -> Vec<PathInfo> {
        let mut all: Vec<PathInfo> = self
            .paths
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
            })
            .collect();
        all.swap(0, self.primary);
        all
    }
}
