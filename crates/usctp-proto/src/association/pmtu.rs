//! Packetization-layer path MTU discovery (RFC 8899), one search per path.
//!
//! Probes are HEARTBEATs padded with a PAD chunk (RFC 4820) to the size
//! under test (RFC 8899 §6.2.1.2); the HEARTBEAT ACK confirms the size, and
//! only then do packets grow to it. A probe's loss is not a path error and
//! not congestion (§3, §4.4): it only says that size did not pass.
//!
//! The search starts from the base size (`Config::max_packet_size`, which
//! the handshake's packets already used) and tries the largest size first
//! (`Config::path_mtu_limit` less the headers), the common case of a path
//! as wide as the local link; if that fails, it halves the interval between
//! the largest confirmed size and the smallest failed one, down to 4 bytes
//! (chunks are padded to 4). A size fails after `MAX_PROBES` probes go
//! unanswered (§5.1.2). Once done, the search starts again after
//! `RAISE_INTERVAL` (PMTU_RAISE_TIMER, §5.1.1), so a path that grew is
//! noticed.
//!
//! Black holes (§4.3): SCTP acknowledges its packets, so no separate
//! confirmation timer runs (§5.1.1 forbids one for an acknowledged PL).
//! Two T3-rtx expiries in a row on a path whose packets are larger than
//! the base, with no DATA acknowledged between them, mean packets of that
//! size may no longer pass: the path falls back to the base and searches
//! again, below the size that stopped passing.

use std::time::{Duration, Instant};

/// Unanswered probes after which a size counts as too large (§5.1.2).
pub(crate) const MAX_PROBES: u32 = 3;

/// When a finished search starts again (§5.1.1: 600 s, RFC 4821's value).
pub(crate) const RAISE_INTERVAL: Duration = Duration::from_secs(600);

/// Consecutive T3-rtx expiries that make the path fall back to the base.
const BLACK_HOLE_TIMEOUTS: u32 = 2;

/// Sizes are multiples of this (chunk padding).
const STEP: usize = 4;

/// A probe in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SizeProbe {
    pub nonce: u64,
    pub size: usize,
    pub deadline: Instant,
}

/// One path's search.
#[derive(Debug, Clone)]
pub(crate) struct Pmtu {
    /// The confirmed size (RFC 8899's PLPMTU): SCTP packets, common header
    /// included, UDP payload bytes.
    pub size: usize,
    base: usize,
    /// The largest size probed for (MAX_PLPMTU).
    max: usize,
    /// The smallest size known not to pass; above `max` while none failed.
    high: usize,
    probe: Option<SizeProbe>,
    /// Probes of `probe`'s size lost in a row (PROBE_COUNT).
    lost: u32,
    /// When the next probe may go (search) or the search restarts (done).
    next_at: Option<Instant>,
    /// T3-rtx expiries in a row on this path, for black-hole detection.
    timeouts: u32,
}

impl Pmtu {
    /// A path at `base` that may grow to `max`; no probe before `start`.
    pub(crate) fn new(base: usize, max: usize) -> Self {
        Self {
            size: base,
            base,
            max: max.max(base),
            high: max.max(base) + STEP,
            probe: None,
            lost: 0,
            next_at: None,
            timeouts: 0,
        }
    }

    /// Whether there is anything to search for.
    pub(crate) fn enabled(&self) -> bool {
        self.max > self.base
    }

    /// Lets the search begin at `now` (the path is confirmed and the
    /// association up).
    pub(crate) fn start(&mut self, now: Instant) {
        if self.enabled() && self.next_at.is_none() && self.probe.is_none() {
            self.next_at = Some(now);
        }
    }

    /// The size to probe next, if the search is not finished.
    fn next_size(&self) -> Option<usize> {
        if self.high > self.max {
            return (self.max > self.size).then_some(self.max);
        }
        if self.high - self.size <= STEP {
            return None;
        }
        let mid = self.size + (self.high - self.size) / 2;
        Some((mid / STEP * STEP).max(self.size + STEP))
    }

    /// The size of the probe to send now, if one is due.
    pub(crate) fn due(&mut self, now: Instant) -> Option<usize> {
        if self.probe.is_some() || self.next_at.is_none_or(|t| now < t) {
            return None;
        }
        match self.next_size() {
            Some(size) => Some(size),
            None => {
                // The raise timer fired: forget which sizes failed.
                self.high = self.max + STEP;
                self.next_at = None;
                let size = self.next_size();
                if size.is_none() {
                    self.next_at = Some(now + RAISE_INTERVAL);
                }
                size
            }
        }
    }

    /// A probe was due at `now` but the path cannot take one (unreachable,
    /// or a local send failed): look again at `later`.
    pub(crate) fn defer(&mut self, now: Instant, later: Instant) {
        if self.probe.is_none() && self.next_at.is_some_and(|t| t <= now) {
            self.next_at = Some(later);
        }
    }

    /// A probe of `size` went out with `nonce`; it is lost at `deadline`.
    pub(crate) fn sent(&mut self, nonce: u64, size: usize, deadline: Instant) {
        self.probe = Some(SizeProbe {
            nonce,
            size,
            deadline,
        });
        self.next_at = None;
    }

    /// A HEARTBEAT ACK for a probe of `size` with `nonce` arrived: returns
    /// the newly confirmed size if it answers the probe in flight.
    pub(crate) fn on_ack(&mut self, now: Instant, nonce: u64, size: usize) -> Option<usize> {
        let probe = self.probe.filter(|p| p.nonce == nonce && p.size == size)?;
        self.probe = None;
        self.lost = 0;
        self.size = self.size.max(probe.size);
        self.schedule(now);
        Some(self.size)
    }

    /// The probe in flight went unanswered by its deadline.
    pub(crate) fn on_probe_lost(&mut self, now: Instant) {
        let Some(probe) = self.probe.take() else {
            return;
        };
        self.lost += 1;
        if self.lost >= MAX_PROBES {
            self.lost = 0;
            self.high = self.high.min(probe.size);
        }
        self.schedule(now);
    }

    /// §5.3.1: the next probe goes at once while the search goes on; once
    /// it is done, the raise timer.
    fn schedule(&mut self, now: Instant) {
        self.next_at = Some(if self.next_size().is_some() {
            now
        } else {
            now + RAISE_INTERVAL
        });
    }

    /// T3-rtx expired on this path: returns true when that makes the path
    /// fall back to the base (a black hole).
    pub(crate) fn on_t3(&mut self, now: Instant) -> bool {
        if self.size <= self.base {
            return false;
        }
        self.timeouts += 1;
        if self.timeouts < BLACK_HOLE_TIMEOUTS {
            return false;
        }
        self.high = self.size;
        self.size = self.base;
        self.timeouts = 0;
        self.lost = 0;
        self.probe = None;
        self.next_at = Some(now);
        true
    }

    /// DATA sent on this path was acknowledged.
    pub(crate) fn on_progress(&mut self) {
        self.timeouts = 0;
    }

    /// The probe's deadline or when the next probe is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.probe {
            Some(p) => Some(p.deadline),
            None => self.next_at,
        }
    }

    /// The probe in flight, if its deadline has passed.
    pub(crate) fn probe_expired(&self, now: Instant) -> bool {
        self.probe.is_some_and(|p| now >= p.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    /// Answers probes up to `path_mtu`, loses larger ones; returns the
    /// sizes probed, in order, until the search is done.
    fn search(pmtu: &mut Pmtu, path_mtu: usize) -> Vec<usize> {
        let start = crate::test_start();
        pmtu.start(start);
        let mut now = start;
        let mut probed = Vec::new();
        for nonce in 0..100 {
            let Some(size) = pmtu.due(now) else {
                break;
            };
            probed.push(size);
            pmtu.sent(nonce, size, now + Duration::from_secs(15));
            if size <= path_mtu {
                now = at(now, 1);
                assert_eq!(pmtu.on_ack(now, nonce, size), Some(size));
            } else {
                now += Duration::from_secs(15);
                pmtu.on_probe_lost(now);
            }
        }
        probed
    }

    #[test]
    fn a_path_as_wide_as_the_limit_takes_one_probe() {
        let mut p = Pmtu::new(1200, 1472);
        assert_eq!(search(&mut p, 1472), vec![1472]);
        assert_eq!(p.size, 1472);
        // Done: nothing more until the raise timer.
        let later = crate::test_start() + Duration::from_secs(60);
        assert_eq!(p.due(later), None);
        assert!(p.deadline().unwrap() >= crate::test_start() + RAISE_INTERVAL);
    }

    #[test]
    fn a_narrower_path_is_found_to_within_four_bytes() {
        let mut p = Pmtu::new(1200, 1472);
        let probed = search(&mut p, 1372);
        // Three lost probes of the limit, then a binary search.
        assert_eq!(&probed[..3], &[1472, 1472, 1472]);
        assert!(p.size <= 1372 && p.size > 1372 - STEP, "{}", p.size);
        assert_eq!(p.size % STEP, 0);
        assert!(probed.len() < 3 + 3 * 8, "{probed:?}");
    }

    #[test]
    fn a_path_no_wider_than_the_base_stays_there() {
        let mut p = Pmtu::new(1200, 1472);
        search(&mut p, 1000);
        assert_eq!(p.size, 1200);
        let off = Pmtu::new(1200, 1200);
        assert!(!off.enabled());
    }

    #[test]
    fn only_the_probe_in_flight_is_confirmed() {
        let start = crate::test_start();
        let mut p = Pmtu::new(1200, 1472);
        p.start(start);
        let size = p.due(start).unwrap();
        p.sent(7, size, at(start, 15_000));
        assert_eq!(p.on_ack(start, 8, size), None, "another nonce");
        assert_eq!(p.on_ack(start, 7, size - 4), None, "another size");
        assert_eq!(p.size, 1200);
        assert_eq!(p.on_ack(start, 7, size), Some(1472));
        assert_eq!(p.on_ack(start, 7, size), None, "answered once");
    }

    #[test]
    fn two_timeouts_in_a_row_fall_back_to_the_base_and_search_below() {
        let mut p = Pmtu::new(1200, 1472);
        search(&mut p, 1472);
        let now = crate::test_start() + Duration::from_secs(100);
        assert!(!p.on_t3(now));
        p.on_progress();
        assert!(!p.on_t3(now), "the count restarts after progress");
        assert!(p.on_t3(now));
        assert_eq!(p.size, 1200);
        // The search resumes at once, below the size that stopped passing.
        let next = p.due(now).unwrap();
        assert!(next < 1472 && next > 1200, "{next}");
        // At the base, timeouts are not a black hole.
        let mut base = Pmtu::new(1200, 1472);
        assert!(!base.on_t3(now) && !base.on_t3(now));
    }

    #[test]
    fn the_search_starts_again_after_the_raise_interval() {
        let mut p = Pmtu::new(1200, 1472);
        search(&mut p, 1300);
        let found = p.size;
        let later = p.deadline().unwrap();
        // The path grew meanwhile: the limit is tried again first.
        assert_eq!(p.due(later), Some(1472));
        p.sent(99, 1472, later + Duration::from_secs(15));
        assert_eq!(p.on_ack(later, 99, 1472), Some(1472));
        assert!(found < 1472);
    }
}
