//! When to acknowledge (RFC 9260 §6.2, §6.7, §5.1, §9.2, and the I bit of
//! §3.3.1, which RFC 9260 took over from RFC 7053): the ack
//! scheduler owns the delayed-SACK timer, the packet count of the
//! every-second-packet rule, and where the next SACK goes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::chunk::Chunk;

/// Why a SACK goes out at once instead of after SACK.Delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Urgency {
    /// The association's first DATA (§5.1): the peer's first message then
    /// costs no delayed-SACK wait.
    FirstData,
    /// A duplicate, or a chunk dropped for lack of room (§6.2, §6.7).
    NotNew,
    /// A gap was there or is there now (§6.7): the sender needs the gap
    /// reports to retransmit, and to learn that a gap closed.
    Gap,
    /// The sender set the I bit (§3.3.1, §6.2).
    Requested,
    /// The second packet with DATA since the last SACK (§6.2), or the
    /// number SCTP_DELAYED_SACK's frequency sets.
    SecondPacket,
    /// This end has sent SHUTDOWN (§9.2: each DATA is acknowledged at once).
    ShuttingDown,
}

/// What a DATA chunk's arrival tells the scheduler.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arrival {
    pub new: bool,
    pub gap_before: bool,
    pub gap_after: bool,
    pub immediate_bit: bool,
    pub shutdown_sent: bool,
}

/// RFC 9260 §6.2's "SACK now?" decision: the first condition that holds.
/// `frequency` is how many packets with DATA one SACK may cover.
fn urgency(first: bool, unacked_packets: u32, frequency: u32, a: Arrival) -> Option<Urgency> {
    if first {
        Some(Urgency::FirstData)
    } else if !a.new {
        Some(Urgency::NotNew)
    } else if a.gap_before || a.gap_after {
        Some(Urgency::Gap)
    } else if a.immediate_bit {
        Some(Urgency::Requested)
    } else if unacked_packets + 1 >= frequency {
        Some(Urgency::SecondPacket)
    } else if a.shutdown_sent {
        Some(Urgency::ShuttingDown)
    } else {
        None
    }
}

#[derive(Debug, Clone)]
pub(super) struct AckScheduler {
    /// A SACK goes out with the next packet.
    now: bool,
    /// The delayed SACK timer.
    deadline: Option<Instant>,
    /// Packets with DATA since the last SACK.
    unacked_packets: u32,
    /// Whether any DATA has arrived.
    data_seen: bool,
    /// DATA arrived since the last SACK went out.
    unacknowledged: bool,
    /// Where the next SACK goes: the source of the DATA it acknowledges.
    to: SocketAddr,
    /// Chunks that go right after the next SACK (§6.5: an Invalid Stream
    /// Identifier ERROR may share the SACK's packet only after it).
    after: Vec<Chunk>,
    /// Packets with DATA one SACK may cover at most.
    frequency: u32,
}

impl AckScheduler {
    pub fn new(to: SocketAddr, frequency: u32) -> Self {
        Self {
            frequency: frequency.max(1),
            now: false,
            deadline: None,
            unacked_packets: 0,
            data_seen: false,
            unacknowledged: false,
            to,
            after: Vec::new(),
        }
    }

    /// A DATA chunk from `from` was processed.
    pub fn on_data(&mut self, now: Instant, from: SocketAddr, delay: Duration, a: Arrival) {
        self.to = from;
        self.unacknowledged = true;
        let first = !std::mem::replace(&mut self.data_seen, true);
        if urgency(first, self.unacked_packets, self.frequency, a).is_some() {
            self.now = true;
        } else if self.deadline.is_none() {
            self.deadline = Some(now + delay);
        }
    }

    /// A packet's chunks were all processed; it carried DATA. DATA bundled
    /// with the COOKIE ECHO or COOKIE ACK (`setup`) is acknowledged at
    /// once, in the COOKIE ACK's packet where possible.
    pub fn on_packet(&mut self, setup: bool) {
        self.unacked_packets += 1;
        if setup {
            self.now = true;
            self.deadline = None;
        }
        // §6.2: the every-second-packet rule counts from the last SACK due.
        if self.now {
            self.unacked_packets = 0;
        }
    }

    /// The delayed SACK timer, if it has run out by `now`, makes the SACK
    /// due.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|t| now >= t) {
            self.deadline = None;
            self.now = true;
        }
    }

    /// Reading reopened the window (§6.2): tell the peer now.
    pub fn window_update(&mut self) {
        self.now = true;
    }

    /// Queues `chunk` to follow the next SACK.
    pub fn after_sack(&mut self, chunk: Chunk) {
        self.after.push(chunk);
    }

    /// Whether a SACK must go out with the next packet.
    pub fn due(&self) -> bool {
        self.now
    }

    /// Whether a SACK is due or pending (a packet going out anyway takes
    /// a pending one along, §6.2).
    pub fn wanted(&self) -> bool {
        self.now || self.deadline.is_some()
    }

    pub fn to(&self) -> SocketAddr {
        self.to
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// A SACK went out; returns what must follow it.
    pub fn sent(&mut self) -> Vec<Chunk> {
        self.now = false;
        self.deadline = None;
        self.unacked_packets = 0;
        self.unacknowledged = false;
        std::mem::take(&mut self.after)
    }

    /// The liveness invariant: DATA that arrived is acknowledged now or
    /// when the delayed-SACK timer fires.
    #[cfg(any(debug_assertions, fuzzing))]
    pub fn owes_without_timer(&self) -> bool {
        self.unacknowledged && !self.wanted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: Arrival = Arrival {
        new: true,
        gap_before: false,
        gap_after: false,
        immediate_bit: false,
        shutdown_sent: false,
    };

    fn peer() -> SocketAddr {
        "10.0.0.2:9899".parse().unwrap()
    }

    #[test]
    fn each_reason_for_a_sack_now_is_recognised_in_order() {
        assert_eq!(urgency(true, 0, 2, NEW), Some(Urgency::FirstData));
        let dup = Arrival { new: false, ..NEW };
        assert_eq!(urgency(false, 0, 2, dup), Some(Urgency::NotNew));
        let gap = Arrival {
            gap_after: true,
            ..NEW
        };
        assert_eq!(urgency(false, 0, 2, gap), Some(Urgency::Gap));
        let closed = Arrival {
            gap_before: true,
            ..NEW
        };
        assert_eq!(urgency(false, 0, 2, closed), Some(Urgency::Gap));
        let asked = Arrival {
            immediate_bit: true,
            ..NEW
        };
        assert_eq!(urgency(false, 0, 2, asked), Some(Urgency::Requested));
        assert_eq!(urgency(false, 1, 2, NEW), Some(Urgency::SecondPacket));
        let closing = Arrival {
            shutdown_sent: true,
            ..NEW
        };
        assert_eq!(urgency(false, 0, 2, closing), Some(Urgency::ShuttingDown));
        assert_eq!(urgency(false, 0, 2, NEW), None);
        // Every packet with a frequency of 1; every third with 3.
        assert_eq!(urgency(false, 0, 1, NEW), Some(Urgency::SecondPacket));
        assert_eq!(urgency(false, 1, 3, NEW), None);
        assert_eq!(urgency(false, 2, 3, NEW), Some(Urgency::SecondPacket));
    }

    #[test]
    fn in_order_data_is_acknowledged_every_second_packet_or_after_the_delay() {
        let t0 = crate::test_start();
        let delay = Duration::from_millis(200);
        let mut acks = AckScheduler::new(peer(), 2);
        // The first DATA is acknowledged at once.
        acks.on_data(t0, peer(), delay, NEW);
        acks.on_packet(false);
        assert!(acks.due());
        assert!(acks.sent().is_empty());
        // The next packet starts the delayed SACK timer...
        acks.on_data(t0, peer(), delay, NEW);
        acks.on_packet(false);
        assert!(!acks.due());
        assert_eq!(acks.deadline(), Some(t0 + delay));
        // ... which the packet after it makes moot.
        acks.on_data(t0, peer(), delay, NEW);
        acks.on_packet(false);
        assert!(acks.due());
        acks.sent();
        // A lone packet waits for the timer.
        acks.on_data(t0, peer(), delay, NEW);
        acks.on_packet(false);
        acks.on_timeout(t0 + delay - Duration::from_millis(1));
        assert!(!acks.due());
        acks.on_timeout(t0 + delay);
        assert!(acks.due());
    }

    #[test]
    fn the_sack_goes_to_the_last_data_source_and_takes_followers() {
        let t0 = crate::test_start();
        let other: SocketAddr = "10.1.0.2:9899".parse().unwrap();
        let mut acks = AckScheduler::new(peer(), 2);
        acks.on_data(t0, other, Duration::ZERO, NEW);
        acks.after_sack(Chunk::CookieAck);
        assert_eq!(acks.to(), other);
        assert_eq!(acks.sent(), vec![Chunk::CookieAck]);
        assert!(acks.sent().is_empty());
    }
}
