//! Finding lost DATA: a gap acknowledgement taken back (reneging), RFC
//! 9260's miss indications (§7.2.4), RACK-TLP's checks and timers (RFC
//! 8985, `rack`), and T3-rtx (§6.3.3); each marks chunks for
//! retransmission and answers with congestion control (§7.2.3).

use std::time::Instant;

use super::Tx;
use crate::association::cc;
use crate::association::path::Path;
use crate::chunk::Sack;

impl Tx {
    /// RFC 9260 §6.2.1 (D)(iii): a chunk a gap block acknowledged before and
    /// this SACK leaves out was given up by the peer (it reneged): it may
    /// be missing, so it counts one miss toward fast retransmission, is in
    /// flight again, and its destination's T3-rtx runs.
    pub(super) fn on_renege(&mut self, now: Instant, cum: u64, sack: &Sack, paths: &mut [Path]) {
        let blocks: Vec<(u64, u64)> = sack
            .gap_blocks
            .iter()
            .filter(|b| b.start != 0 && b.end >= b.start)
            .map(|b| (cum + u64::from(b.start), cum + u64::from(b.end)))
            .collect();
        for (tsn, o) in self.outstanding.iter_mut() {
            if !o.gap_acked || blocks.iter().any(|&(s, e)| (s..=e).contains(&tsn)) {
                continue;
            }
            o.gap_acked = false;
            self.gap_acked -= 1;
            o.misses = o.misses.saturating_add(1);
            o.in_flight = true;
            self.rack.back_in_flight(o.xmit, tsn, o.sent_at, o.path);
            let len = o.data.payload.len();
            self.flight += len;
            if let Some(p) = paths.get_mut(o.path) {
                p.flight += len;
                if p.t3.is_none() {
                    p.t3 = Some(now + p.rto.rto());
                }
            }
        }
    }

    /// §7.2.4: counts miss indications for TSNs below the highest newly
    /// acknowledged one and marks those missed three times.
    pub(super) fn mark_fast_retransmits(
        &mut self,
        highest_newly_acked: Option<u64>,
        paths: &mut [Path],
    ) {
        let Some(highest) = highest_newly_acked else {
            return;
        };
        let mut any = false;
        let pmdcs = self.max_payload();
        for (tsn, o) in self.outstanding.range_mut(0..highest) {
            if o.gap_acked || !o.in_flight {
                continue;
            }
            o.misses = o.misses.saturating_add(1);
            if o.misses < 3 || o.fast_retransmitted {
                continue;
            }
            any = true;
            let len = o.data.payload.len();
            if let Some(p) = paths.get_mut(o.path) {
                if p.fast_recovery_exit.is_none() {
                    // §7.2.3 via §7.2.4: halve once per recovery on the
                    // destination the lost chunk went to.
                    cc::on_loss(p, pmdcs, self.congestion);
                    p.fast_recovery_exit = Some(self.next - 1);
                }
                p.flight = p.flight.saturating_sub(len);
            }
            o.fast_retransmitted = true;
            self.stats.fast_retransmits += 1;
            trace!(
                tsn = tsn,
                path = o.path,
                "fast retransmit: three miss indications"
            );
            o.in_flight = false;
            self.rack.left_flight(o.xmit);
            self.flight -= len;
            self.retransmit.insert(tsn);
        }
        if any {
            self.fast_retransmit_due = true;
        }
    }

    /// T3-rtx of path `p` expired (§6.3.3): collapse its cwnd and mark every
    /// chunk in flight there for retransmission. The caller counts the
    /// error and backs off the RTO. Returns whether anything was in flight.
    pub(crate) fn on_t3(&mut self, paths: &mut [Path], p: usize) -> bool {
        paths[p].t3 = None;
        paths[p].burst_base = 0;
        let mut any = false;
        for (tsn, o) in self.outstanding.iter_mut() {
            if o.gap_acked || !o.in_flight || o.path != p {
                continue;
            }
            o.in_flight = false;
            self.rack.left_flight(o.xmit);
            let len = o.data.payload.len();
            self.flight -= len;
            paths[p].flight = paths[p].flight.saturating_sub(len);
            self.retransmit.insert(tsn);
            any = true;
        }
        self.rack.timed_out();
        if self.flight == 0 {
            self.rack.idle();
        }
        if !any {
            return false;
        }
        self.stats.t3_expiries += 1;
        debug!(
            path = p,
            flight = self.flight,
            "T3-rtx expired: outstanding chunks marked for retransmission"
        );
        let path = &mut paths[p];
        cc::on_timeout(path, self.max_payload(), self.congestion);
        path.fast_recovery_exit = None;
        self.fast_retransmit_due = false;
        true
    }

    /// Duplicate TSNs in a SACK, unwrapped around the cumulative ack
    /// (`cum`), widen RACK's reordering window.
    pub(super) fn duplicates_reported(&mut self, sack: &Sack, cum: u64) {
        let base = sack.cumulative_tsn_ack;
        let mut duplicates = [0u64; 8];
        let mut n = 0;
        for &d in sack.duplicate_tsns.iter().take(duplicates.len()) {
            let unwrapped = if d.is_at_or_before(base) {
                cum.checked_sub(u64::from(d.distance_to(base)))
            } else {
                Some(cum + u64::from(base.distance_to(d)))
            };
            if let Some(u) = unwrapped {
                duplicates[n] = u;
                n += 1;
            }
        }
        self.rack
            .duplicates_reported(&duplicates[..n], cum, self.next);
    }

    /// RACK's loss check (RFC 8985 §6.2): marks what it finds lost for
    /// retransmission.
    pub(super) fn detect_losses(&mut self, now: Instant, paths: &mut [Path]) {
        let Some(measured) = self.rack.measured_path().and_then(|i| paths.get(i)) else {
            return;
        };
        let in_recovery = measured.fast_recovery_exit.is_some();
        let srtt = measured.rto.srtt().unwrap_or(measured.rto.rto());
        let reo_wnd = self
            .rack
            .reordering_window(in_recovery, self.gap_acked, srtt);
        let mut lost = std::mem::take(&mut self.lost);
        lost.clear();
        self.rack.detect(now, reo_wnd, &mut lost);
        for &tsn in &lost {
            self.mark_lost(tsn, paths);
        }
        self.lost = lost;
    }

    /// Takes chunk `tsn` out of flight for retransmission as lost: the
    /// first loss on its path starts a recovery there, halving cwnd once
    /// (§7.2.3 via §7.2.4), and the packet it goes in may ignore cwnd.
    fn mark_lost(&mut self, tsn: u64, paths: &mut [Path]) {
        let pmdcs = self.max_payload();
        let Some(o) = self.outstanding.get_mut(tsn) else {
            return;
        };
        if o.gap_acked || !o.in_flight {
            return;
        }
        let len = o.data.payload.len();
        if let Some(p) = paths.get_mut(o.path) {
            if p.fast_recovery_exit.is_none() {
                cc::on_loss(p, pmdcs, self.congestion);
                p.fast_recovery_exit = Some(self.next - 1);
                self.rack.recovery_started();
            }
            p.flight = p.flight.saturating_sub(len);
        }
        if o.transmissions > 1 {
            self.stats.lost_retransmissions += 1;
        }
        o.fast_retransmitted = true;
        o.in_flight = false;
        self.stats.fast_retransmits += 1;
        trace!(
            tsn = tsn,
            path = o.path,
            "retransmit: RACK found the chunk lost"
        );
        self.flight -= len;
        self.retransmit.insert(tsn);
        self.fast_retransmit_due = true;
    }

    /// When RACK's reordering timer or the loss probe is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.rack.deadline()
    }

    /// Runs RACK's timers that are due (RFC 8985 §6.3, §7.3): the
    /// reordering timer checks for losses again; the probe timer sends one
    /// packet regardless of cwnd: new data if the peer's window takes it,
    /// else the last chunk in flight again.
    pub(crate) fn on_timers(&mut self, now: Instant, paths: &mut [Path]) {
        if self.rack.reorder_timer.is_some_and(|t| now >= t) {
            self.detect_losses(now, paths);
        }
        if self.rack.pto.is_none_or(|t| now < t) {
            return;
        }
        self.rack.pto = None;
        if self.flight == 0 {
            return;
        }
        self.rack.probe_out = true;
        self.probe_due = true;
        self.stats.loss_probes += 1;
        trace!("RACK-TLP loss probe due");
        let new_fits = self
            .pending
            .front()
            .is_some_and(|p| p.payload.len() <= self.peer_rwnd as usize);
        if new_fits || !self.retransmit.is_empty() {
            return;
        }
        let last = self
            .outstanding
            .iter_mut()
            .rev()
            .find(|(_, o)| o.in_flight && !o.gap_acked);
        let Some((tsn, o)) = last else {
            return;
        };
        let len = o.data.payload.len();
        o.in_flight = false;
        self.rack.left_flight(o.xmit);
        self.rack.probe_tsn = Some(tsn);
        self.flight -= len;
        if let Some(p) = paths.get_mut(o.path) {
            p.flight = p.flight.saturating_sub(len);
        }
        self.retransmit.insert(tsn);
    }
}
