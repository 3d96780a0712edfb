//! RACK-TLP (RFC 8985) on SCTP's TSNs and SACKs.
//!
//! RACK judges loss by time instead of by counting: once a chunk sent
//! after chunk C has been acknowledged (by the cumulative ack or a gap
//! block), C is lost when it has been out longer than that chunk's round
//! trip plus a reordering window. A retransmission is just a chunk sent
//! later, so a lost retransmission is found like any other loss, and one
//! SACK past a gap is enough, however small the window. TLP sends one
//! probe two round trips after the last acknowledgement while data is in
//! flight: its SACK shows what was lost at the tail of the flight, which
//! no later chunk would otherwise reveal before T3-rtx.
//!
//! Chunks in flight are kept in the order they were last sent (each
//! transmission gets the next number), so a loss check walks from the
//! oldest and stops at the first chunk whose time has not come: amortized
//! constant work per chunk sent.

use super::seq_map::SeqMap;
use std::time::{Duration, Instant};

/// A peer may delay the SACK for a lone packet (RFC 8985 §7.2's
/// WCDelAckT; RFC 9260 §6.2 allows 500 ms, 200 ms is the usual delay).
pub(super) const PEER_ACK_DELAY: Duration = Duration::from_millis(200);

/// The shortest probe timeout: below this a probe would race the SACKs of
/// a busy receiver (its scheduling, not the path).
const MIN_PTO: Duration = Duration::from_millis(2);

/// Recoveries after which a reordering window widened by duplicate reports
/// returns to its base (RFC 8985 §6.2 step 4).
const REORDER_DECAY: u32 = 16;

/// The chunk RACK measures from: the one sent last among those known
/// delivered.
#[derive(Debug, Clone, Copy)]
struct Delivered {
    /// Its transmission number.
    xmit: u64,
    /// The path it was sent on: chunks sent elsewhere are not judged
    /// against a round trip they did not take.
    path: usize,
}

#[derive(Debug, Clone)]
pub(super) struct Rack {
    /// Chunks in flight by transmission number, each with its TSN
    /// (unwrapped), when and on which path it was sent.
    sent: SeqMap<(u64, Instant, usize)>,
    next_xmit: u64,
    latest: Option<Delivered>,
    /// RACK.rtt: the round trip of `latest`.
    rtt: Duration,
    /// The shortest round trip seen.
    min_rtt: Option<Duration>,
    /// A chunk sent once was acknowledged after one with a higher TSN: the
    /// path reorders, so losses wait for the reordering window.
    reordering_seen: bool,
    /// The highest TSN acknowledged so far (unwrapped) among chunks sent
    /// once.
    highest_delivered: u64,
    /// RACK.reo_wnd_mult, raised by duplicate TSN reports (a spurious
    /// retransmission: the original was only late).
    reo_wnd_mult: u32,
    /// Widening waits for the cumulative ack to pass this TSN, so one
    /// round of duplicates widens once.
    widened_until: u64,
    recoveries_since_widened: u32,
    /// When the oldest chunk not yet judged lost would be.
    pub reorder_timer: Option<Instant>,
    /// The loss probe timeout.
    pub pto: Option<Instant>,
    /// A probe is out (no other until a SACK acknowledges new data).
    pub probe_out: bool,
    /// The TSN a probe retransmitted: its duplicate report is the probe's
    /// own, not a sign of reordering.
    pub probe_tsn: Option<u64>,
    /// Transmissions judged lost by the last check (kept to reuse its
    /// allocation).
    gone: Vec<u64>,
}

impl Rack {
    pub fn new() -> Self {
        Self {
            sent: SeqMap::new(),
            next_xmit: 0,
            latest: None,
            rtt: Duration::ZERO,
            min_rtt: None,
            reordering_seen: false,
            highest_delivered: 0,
            reo_wnd_mult: 1,
            widened_until: 0,
            recoveries_since_widened: 0,
            reorder_timer: None,
            pto: None,
            probe_out: false,
            probe_tsn: None,
            gone: Vec::new(),
        }
    }

    /// Records a transmission of `tsn` at `now` on `path`; returns its
    /// number.
    pub fn sent(&mut self, tsn: u64, now: Instant, path: usize) -> u64 {
        let xmit = self.next_xmit;
        self.next_xmit += 1;
        self.sent.insert(xmit, (tsn, now, path));
        xmit
    }

    /// Puts a chunk back in flight under its last transmission (a reneged
    /// gap ack).
    pub fn back_in_flight(&mut self, xmit: u64, tsn: u64, sent_at: Instant, path: usize) {
        self.sent.insert(xmit, (tsn, sent_at, path));
    }

    /// The path of the chunk RACK measures from.
    pub fn measured_path(&self) -> Option<usize> {
        self.latest.map(|l| l.path)
    }

    /// The chunk of transmission `xmit` left flight (acknowledged, or
    /// marked for retransmission).
    pub fn left_flight(&mut self, xmit: u64) {
        self.sent.remove(xmit);
    }

    /// Whether transmission `xmit` is in flight, for the invariant check.
    #[cfg(any(debug_assertions, fuzzing))]
    pub fn in_flight(&self, xmit: u64) -> bool {
        self.sent.contains(xmit)
    }

    /// Chunks in flight as RACK counts them.
    #[cfg(any(debug_assertions, fuzzing))]
    pub fn in_flight_count(&self) -> usize {
        self.sent.len()
    }

    /// A chunk newly acknowledged (RFC 8985 §6.2 steps 1 and 2): it
    /// becomes the measure if it was sent after the current one, unless it
    /// was retransmitted and acknowledged sooner than any round trip could
    /// be (the SACK was for the original: an ambiguous sample).
    pub fn delivered(
        &mut self,
        now: Instant,
        xmit: u64,
        tsn: u64,
        sent_at: Instant,
        transmissions: u32,
        path: usize,
    ) {
        let rtt = now.saturating_duration_since(sent_at);
        if transmissions > 1 && self.min_rtt.is_some_and(|m| rtt < m) {
            return;
        }
        if transmissions == 1 {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
            if tsn < self.highest_delivered {
                self.reordering_seen = true;
            }
            self.highest_delivered = self.highest_delivered.max(tsn);
        }
        if self.latest.is_none_or(|l| xmit > l.xmit) {
            self.latest = Some(Delivered { xmit, path });
            self.rtt = rtt;
        }
    }

    /// The SACK reported duplicate TSNs (RFC 8985 §6.2 step 4 takes DSACK
    /// as the sign): a retransmission was spurious, so the window widens,
    /// once per round trip. `cum` is the cumulative ack, `next` the next
    /// TSN to be sent.
    pub fn duplicates_reported(&mut self, duplicates: &[u64], cum: u64, next: u64) {
        let probe = self.probe_tsn;
        if duplicates.iter().all(|&d| Some(d) == probe) {
            return;
        }
        self.reordering_seen = true;
        if cum >= self.widened_until {
            self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1).min(64);
            self.widened_until = next;
            self.recoveries_since_widened = 0;
        }
    }

    /// A recovery began: after enough of them without duplicates, the
    /// window returns to its base.
    pub fn recovery_started(&mut self) {
        self.recoveries_since_widened += 1;
        if self.recoveries_since_widened >= REORDER_DECAY {
            self.reo_wnd_mult = 1;
            self.recoveries_since_widened = 0;
        }
    }

    /// RACK.reo_wnd (RFC 8985 §6.2 step 4): none while the path has not
    /// been seen to reorder and either a recovery is under way or three
    /// chunks were acknowledged past a gap (where RFC 9260 would count
    /// three misses); otherwise a quarter of the shortest round trip per
    /// widening, at most one smoothed round trip.
    pub fn reordering_window(
        &self,
        in_recovery: bool,
        gap_acked: usize,
        srtt: Duration,
    ) -> Duration {
        if !self.reordering_seen && (in_recovery || gap_acked >= 3) {
            return Duration::ZERO;
        }
        let base = self.min_rtt.unwrap_or(srtt) / 4;
        (base * self.reo_wnd_mult).min(srtt)
    }

    /// Finds the chunks now lost (RFC 8985 §6.2 step 5): in flight on
    /// the measured chunk's path, sent before it, and out longer than its
    /// round trip plus `reo_wnd`. Their TSNs go to `lost` (and leave the
    /// flight kept here); the reordering timer is set for the first chunk
    /// whose time has not yet come.
    pub fn detect(&mut self, now: Instant, reo_wnd: Duration, lost: &mut Vec<u64>) {
        self.reorder_timer = None;
        let Some(latest) = self.latest else {
            return;
        };
        let wait = self.rtt + reo_wnd;
        self.gone.clear();
        for (xmit, &mut (tsn, sent_at, path)) in self.sent.range_mut(0..latest.xmit) {
            if path != latest.path {
                continue;
            }
            let due = sent_at + wait;
            if due > now {
                self.reorder_timer = Some(due);
                break;
            }
            self.gone.push(xmit);
            lost.push(tsn);
        }
        for xmit in &self.gone {
            self.sent.remove(*xmit);
        }
    }

    /// (Re)arms the loss probe (RFC 8985 §7.2): two smoothed round trips
    /// after now, plus the peer's delayed SACK when a single packet is in
    /// flight, and never after `t3`. No probe while one is out.
    pub fn arm_probe(
        &mut self,
        now: Instant,
        srtt: Option<Duration>,
        one_packet: bool,
        t3: Option<Instant>,
    ) {
        if self.probe_out {
            return;
        }
        let Some(srtt) = srtt else {
            // No round trip measured yet: T3-rtx alone.
            self.pto = None;
            return;
        };
        let mut pto = (2 * srtt).max(MIN_PTO);
        if one_packet {
            pto += PEER_ACK_DELAY;
        }
        let at = now + pto;
        self.pto = Some(t3.map_or(at, |t| t.min(at)));
    }

    /// New data was acknowledged: a new probe may go out.
    pub fn acknowledged_new(&mut self) {
        self.probe_out = false;
        self.probe_tsn = None;
    }

    /// Nothing is in flight: no timers.
    pub fn idle(&mut self) {
        self.pto = None;
        self.reorder_timer = None;
    }

    /// T3-rtx expired (its chunks left flight one by one): a probe may
    /// go out again once data is.
    pub fn timed_out(&mut self) {
        self.probe_out = false;
    }

    /// The association's data went away (it ended).
    pub fn clear(&mut self) {
        self.sent.clear();
        self.idle();
        self.probe_out = false;
        self.probe_tsn = None;
    }

    /// The earliest RACK timer.
    pub fn deadline(&self) -> Option<Instant> {
        [self.reorder_timer, self.pto].into_iter().flatten().min()
    }
}
