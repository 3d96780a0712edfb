//! The retransmission timeout (RFC 9260 §6.3.1), per destination.

use std::time::Duration;

/// RTO.Alpha = 1/8 and RTO.Beta = 1/4 (RFC 9260 §16), as divisors.
const ALPHA_DIV: u32 = 8;
const BETA_DIV: u32 = 4;
/// G, the clock granularity term of C2/C3: this stack measures in
/// microseconds.
const GRANULARITY: Duration = Duration::from_micros(1);

/// SRTT, RTTVAR and RTO of one path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rto {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    min: Duration,
    max: Duration,
}

impl Rto {
    /// C1: before any measurement, RTO is RTO.Initial.
    ///
    /// A maximum below the minimum is raised to it (`Config::validate`
    /// refuses such a configuration; the core must not panic on one).
    pub(crate) fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        Self {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min, max),
            min,
            max,
        }
    }

    /// New RTO.Min and RTO.Max; the current RTO is brought within them.
    pub(crate) fn set_bounds(&mut self, min: Duration, max: Duration) {
        self.min = min;
        self.max = max.max(min);
        self.rto = self.rto.clamp(self.min, self.max);
    }

    pub(crate) fn rto(&self) -> Duration {
        self.rto
    }

    pub(crate) fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// C2/C3: takes one RTT measurement R.
    pub(crate) fn measure(&mut self, r: Duration) {
        let (srtt, rttvar) = match self.srtt {
            None => (r, r / 2),
            Some(srtt) => {
                let delta = srtt.abs_diff(r);
                let rttvar = self.rttvar - self.rttvar / BETA_DIV + delta / BETA_DIV;
                let srtt = srtt - srtt / ALPHA_DIV + r / ALPHA_DIV;
                (srtt, rttvar)
            }
        };
        self.srtt = Some(srtt);
        self.rttvar = rttvar.max(GRANULARITY);
        // C3 with C6/C7: RTO = SRTT + 4 * RTTVAR within [RTO.Min, RTO.Max].
        self.rto = (srtt + 4 * self.rttvar).clamp(self.min, self.max);
    }

    /// E2 of §6.3.3: doubles RTO after a timeout, up to RTO.Max.
    pub(crate) fn back_off(&mut self) {
        self.rto = (self.rto * 2).min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn rfc9260_6_3_1_first_and_later_measurements() {
        let mut rto = Rto::new(1000 * MS, 10 * MS, 60_000 * MS);
        assert_eq!(rto.rto(), 1000 * MS);
        // C2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR.
        rto.measure(100 * MS);
        assert_eq!(rto.rto(), 300 * MS);
        // C3: RTTVAR = 3/4 * 50 + 1/4 * |100 - 20| = 57.5 ms;
        // SRTT = 7/8 * 100 + 1/8 * 20 = 90 ms; RTO = 90 + 230 = 320 ms.
        rto.measure(20 * MS);
        assert_eq!(rto.srtt(), Some(90 * MS));
        assert_eq!(rto.rto(), 320 * MS);
    }

    #[test]
    fn rto_stays_within_min_and_max_and_backs_off() {
        let mut rto = Rto::new(1000 * MS, 1000 * MS, 4000 * MS);
        rto.measure(MS);
        assert_eq!(rto.rto(), 1000 * MS, "C6: RTO.Min");
        rto.back_off();
        rto.back_off();
        rto.back_off();
        assert_eq!(rto.rto(), 4000 * MS, "C7 and E2: RTO.Max");
    }
}
