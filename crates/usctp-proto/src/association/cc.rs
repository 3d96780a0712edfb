//! Congestion control per destination: RFC 9260 §7.2's (slow start,
//! congestion avoidance by one PMDCS per cwnd acknowledged, halving on
//! loss), or CUBIC (RFC 9438) in congestion avoidance and on loss, with
//! SCTP's slow start, its T3-rtx collapse and its rule that cwnd grows only
//! when it was in use.

use std::time::{Duration, Instant};

use super::path::Path;
use crate::config::CongestionControl;

/// CUBIC's multiplicative decrease (RFC 9438 §4.6).
const BETA: f64 = 0.7;
/// CUBIC's scaling constant, in PMDCS per second cubed (RFC 9438 §5).
const C: f64 = 0.4;

/// What CUBIC remembers of the last congestion event (RFC 9438 §4.1).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cubic {
    /// W_max: cwnd just before the last reduction, in PMDCS.
    w_max: f64,
    /// Where the cubic curve was when this epoch began and K, the time it
    /// takes to return to `w_max` (seconds).
    k: f64,
    /// When congestion avoidance began after the last reduction.
    epoch: Option<Instant>,
    /// W_est, the window Reno would have (the Reno-friendly region,
    /// RFC 9438 §4.3), in PMDCS.
    w_est: f64,
}

/// Reduces cwnd for a loss found before T3-rtx (§7.2.3 via §7.2.4, or
/// RFC 9438 §4.6), once per recovery (the caller checks).
pub(crate) fn on_loss(path: &mut Path, pmdcs: usize, algorithm: CongestionControl) {
    let floor = 4 * pmdcs;
    match algorithm {
        CongestionControl::Rfc9260 => {
            path.ssthresh = (path.cwnd / 2).max(floor);
        }
        CongestionControl::Cubic => {
            let cwnd = path.cwnd as f64 / pmdcs as f64;
            // Fast convergence (§4.7): a window that stopped short of the
            // last W_max gives room to newer flows.
            path.cubic.w_max = if cwnd < path.cubic.w_max {
                cwnd * (1.0 + BETA) / 2.0
            } else {
                cwnd
            };
            path.cubic.epoch = None;
            path.ssthresh = ((path.cwnd as f64 * BETA) as usize).max(floor);
        }
    }
    path.cwnd = path.ssthresh;
    path.partial_bytes_acked = 0;
}

/// T3-rtx expired (§7.2.3): ssthresh as for a loss, cwnd one PMDCS.
pub(crate) fn on_timeout(path: &mut Path, pmdcs: usize, algorithm: CongestionControl) {
    on_loss(path, pmdcs, algorithm);
    path.cwnd = pmdcs;
}

/// Congestion avoidance for `acked` bytes newly acknowledged (§7.2.2;
/// RFC 9438 §4.2–§4.5): cwnd grows only if it was in use (`fully_used`:
/// at least cwnd outstanding before the SACK).
pub(crate) fn avoid(
    path: &mut Path,
    acked: usize,
    pmdcs: usize,
    now: Instant,
    fully_used: bool,
    algorithm: CongestionControl,
) {
    match algorithm {
        CongestionControl::Rfc9260 => {
            path.partial_bytes_acked += acked;
            if path.partial_bytes_acked >= path.cwnd && fully_used {
                path.partial_bytes_acked -= path.cwnd;
                path.cwnd += pmdcs;
            }
        }
        CongestionControl::Cubic if fully_used => cubic_avoid(path, acked, pmdcs, now),
        CongestionControl::Cubic => {}
    }
}

fn cubic_avoid(path: &mut Path, acked: usize, pmdcs: usize, now: Instant) {
    let mss = pmdcs as f64;
    let cwnd = path.cwnd as f64 / mss;
    let state = &mut path.cubic;
    let epoch = *state.epoch.get_or_insert_with(|| {
        // §4.2: a new epoch; with no loss yet, the curve starts here.
        if state.w_max < cwnd {
            state.w_max = cwnd;
        }
        state.k = ((state.w_max - cwnd) / C).cbrt();
        state.w_est = cwnd;
        now
    });
    let rtt = path.rto.srtt().unwrap_or(Duration::from_millis(100));
    let t = now.saturating_duration_since(epoch).as_secs_f64();
    let cubic_at = |t: f64| C * (t - state.k).powi(3) + state.w_max;
    // §4.3: Reno's growth at CUBIC's β: α segments per window acked.
    let alpha = if state.w_est >= state.w_max {
        1.0
    } else {
        3.0 * (1.0 - BETA) / (1.0 + BETA)
    };
    let segments = acked as f64 / mss;
    state.w_est += alpha * segments / cwnd;
    let next = if cubic_at(t) < state.w_est {
        state.w_est
    } else {
        // §4.4, §4.5: toward the curve one RTT ahead, at most 1.5 cwnd.
        let target = cubic_at(t + rtt.as_secs_f64()).clamp(cwnd, 1.5 * cwnd);
        cwnd + (target - cwnd) / cwnd * segments
    };
    // Whole bytes; what rounds away is carried by the next ack.
    let grown = (next * mss) as usize;
    if grown > path.cwnd {
        path.cwnd = grown;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::association::rto::Rto;

    const PMDCS: usize = 1172;

    /// A path whose one round trip measured `rtt`.
    fn path_with(rtt: Duration) -> Path {
        let ms = Duration::from_millis;
        let mut p = Path::new(
            "10.0.0.2:9899".parse().unwrap(),
            true,
            Rto::new(ms(10), ms(10), ms(1000)),
        );
        p.start_congestion(PMDCS, 1 << 20);
        p.rto.measure(rtt);
        p
    }

    fn path() -> Path {
        path_with(Duration::from_millis(10))
    }

    #[test]
    fn rfc9260_halves_and_cubic_keeps_seven_tenths() {
        let mut reno = path();
        reno.cwnd = 100 * PMDCS;
        on_loss(&mut reno, PMDCS, CongestionControl::Rfc9260);
        assert_eq!(reno.cwnd, 50 * PMDCS);
        let mut cubic = path();
        cubic.cwnd = 100 * PMDCS;
        on_loss(&mut cubic, PMDCS, CongestionControl::Cubic);
        assert_eq!(cubic.cwnd, 70 * PMDCS);
        on_timeout(&mut cubic, PMDCS, CongestionControl::Cubic);
        assert_eq!(cubic.cwnd, PMDCS);
    }

    #[test]
    fn cubic_returns_to_the_last_maximum_after_k_seconds() {
        // A long round trip (100 ms), where the cubic curve leads.
        let rtt = Duration::from_millis(100);
        let mut p = path_with(rtt);
        p.cwnd = 100 * PMDCS;
        on_loss(&mut p, PMDCS, CongestionControl::Cubic);
        let start = crate::test_start();
        // K = cbrt(100 * 0.3 / 0.4) = 4.2 s; one window acknowledged per
        // round trip until just past it.
        let mut now = start;
        let mut at_half_k = 0.0;
        while now < start + Duration::from_millis(4300) {
            let window = p.cwnd;
            avoid(&mut p, window, PMDCS, now, true, CongestionControl::Cubic);
            now += rtt;
            if now.duration_since(start) == Duration::from_millis(2100) {
                at_half_k = p.cwnd as f64 / PMDCS as f64;
            }
        }
        let cwnd = p.cwnd as f64 / PMDCS as f64;
        assert!((99.0..=104.0).contains(&cwnd), "{cwnd} PMDCS");
        // Concave on the way: most of the way back by K/2.
        assert!(
            (92.0..99.0).contains(&at_half_k),
            "{at_half_k} PMDCS at K/2"
        );
    }

    #[test]
    fn cubic_is_never_slower_than_reno_at_its_beta() {
        // Short round trips: the Reno-friendly region leads (§4.3).
        let mut p = path_with(Duration::from_millis(1));
        p.cwnd = 20 * PMDCS;
        on_loss(&mut p, PMDCS, CongestionControl::Cubic);
        let start = crate::test_start();
        let before = p.cwnd;
        for i in 0..100 {
            let window = p.cwnd;
            let now = start + Duration::from_millis(i);
            avoid(&mut p, window, PMDCS, now, true, CongestionControl::Cubic);
        }
        // 100 round trips of 1 ms at about 0.53 segments each.
        assert!(p.cwnd >= before + 50 * PMDCS, "{} -> {}", before, p.cwnd);
    }
}
