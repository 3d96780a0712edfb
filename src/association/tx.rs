//! The send side (RFC 9260 §6.1–§6.3, §7.2): the send queue and
//! fragmentation, TSN assignment, outstanding chunks, SACK processing, RTO
//! and T3-rtx, fast retransmit, and congestion control.
//!
//! Local TSNs are unwrapped into a 64-bit count, so the outstanding map is
//! ordered without wrapping comparisons.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::rto::Rto;
use crate::chunk::{BuildError, Chunk, Data, DataFlags, PacketWriter, Sack};
use crate::serial::{Ssn, Tsn};

/// Why a message was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The stream is not one of the negotiated outbound streams.
    InvalidStream(u16),
    /// SCTP cannot carry an empty message (a DATA chunk needs user data).
    EmptyMessage,
    /// The message is larger than the configured maximum.
    TooLarge {
        /// Its size.
        size: usize,
        /// The maximum.
        max: usize,
    },
    /// The send buffer is full; try again after a `Writable` event.
    WouldBlock,
    /// The association is shutting down or closed.
    NotOpen,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidStream(s) => write!(f, "stream {s} was not negotiated"),
            Self::EmptyMessage => f.write_str("empty message"),
            Self::TooLarge { size, max } => write!(f, "message of {size} bytes exceeds {max}"),
            Self::WouldBlock => f.write_str("send buffer full"),
            Self::NotOpen => f.write_str("association not open for sending"),
        }
    }
}

impl std::error::Error for SendError {}

#[derive(Debug)]
struct Pending {
    stream: u16,
    ssn: Ssn,
    ppid: u32,
    flags: DataFlags,
    payload: Bytes,
}

#[derive(Debug)]
struct Outstanding {
    data: Data,
    sent_at: Instant,
    transmissions: u32,
    gap_acked: bool,
    in_flight: bool,
    misses: u8,
    fast_retransmitted: bool,
}

/// What a SACK did, for the association.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SackOutcome {
    /// The cumulative ack moved forward.
    pub advanced: bool,
}

#[derive(Debug)]
pub(crate) struct Tx {
    next_tsn: Tsn,
    /// Unwrapped value of `next_tsn`.
    next: u64,
    /// Unwrapped cumulative ack from the peer (all below `acked` + 1).
    acked: u64,
    acked_tsn: Tsn,
    pending: VecDeque<Pending>,
    outstanding: BTreeMap<u64, Outstanding>,
    retransmit: BTreeSet<u64>,
    out_ssn: Vec<Ssn>,
    /// Payload bytes queued or outstanding.
    buffered: usize,
    /// Payload bytes in flight (sent, not acked, not marked for resend).
    flight: usize,
    peer_rwnd: u32,
    cwnd: usize,
    ssthresh: usize,
    partial_bytes_acked: usize,
    fast_recovery_exit: Option<u64>,
    /// A fast retransmission is due and may ignore cwnd for one packet
    /// (§7.2.4 step 3).
    fast_retransmit_due: bool,
    pub(crate) rto: Rto,
    t3: Option<Instant>,
    /// Consecutive timeouts without progress (§8.1).
    pub(crate) error_count: u32,
    mtu: usize,
    max_burst: usize,
    /// Bytes in flight when the last SACK or timeout was processed: with
    /// Max.Burst, new data may fill the flight only up to this plus
    /// Max.Burst packets (§6.1 D), so a large cwnd is not emptied at once.
    burst_base: usize,
    send_buffer: usize,
    max_message: usize,
    last_activity: Option<Instant>,
}

impl Tx {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        initial_tsn: Tsn,
        outbound_streams: u16,
        peer_rwnd: u32,
        mtu: usize,
        rto: Rto,
        max_burst: u32,
        send_buffer: usize,
        max_message: usize,
    ) -> Self {
        Self {
            next_tsn: initial_tsn,
            next: 1,
            acked: 0,
            acked_tsn: initial_tsn.prev(),
            pending: VecDeque::new(),
            outstanding: BTreeMap::new(),
            retransmit: BTreeSet::new(),
            out_ssn: vec![Ssn(0); usize::from(outbound_streams)],
            buffered: 0,
            flight: 0,
            peer_rwnd,
            // §7.2.1: initial cwnd = min(4 MTU, max(2 MTU, 4380 bytes)).
            cwnd: (4 * mtu).min((2 * mtu).max(4380)),
            // §7.2.1: initial ssthresh may be arbitrarily high; use the
            // peer's window.
            ssthresh: peer_rwnd as usize,
            partial_bytes_acked: 0,
            fast_recovery_exit: None,
            fast_retransmit_due: false,
            rto,
            t3: None,
            error_count: 0,
            mtu,
            max_burst: max_burst.max(1) as usize,
            burst_base: 0,
            send_buffer,
            max_message,
            last_activity: None,
        }
    }

    /// User bytes a DATA chunk carries at most.
    fn max_payload(&self) -> usize {
        self.mtu.saturating_sub(12 + Data::HEADER_LEN).max(1)
    }

    /// Queues a message, fragmented to the path MTU (§6.9).
    pub(crate) fn send(
        &mut self,
        stream: u16,
        ppid: u32,
        data: Bytes,
        unordered: bool,
    ) -> Result<(), SendError> {
        if usize::from(stream) >= self.out_ssn.len() {
            return Err(SendError::InvalidStream(stream));
        }
        if data.is_empty() {
            return Err(SendError::EmptyMessage);
        }
        if data.len() > self.max_message {
            return Err(SendError::TooLarge {
                size: data.len(),
                max: self.max_message,
            });
        }
        // Back-pressure: a message is taken while any room is left, so a
        // message larger than the buffer can still be sent when it is empty.
        if self.buffered >= self.send_buffer
            || (self.buffered > 0 && self.buffered + data.len() > self.send_buffer)
        {
            return Err(SendError::WouldBlock);
        }
        let ssn = if unordered {
            Ssn(0)
        } else {
            let ssn = self.out_ssn[usize::from(stream)];
            self.out_ssn[usize::from(stream)] = ssn.next();
            ssn
        };
        self.buffered += data.len();
        let size = self.max_payload();
        let count = data.len().div_ceil(size);
        for i in 0..count {
            let part = data.slice(i * size..((i + 1) * size).min(data.len()));
            self.pending.push_back(Pending {
                stream,
                ssn,
                ppid,
                flags: DataFlags {
                    beginning: i == 0,
                    end: i + 1 == count,
                    unordered,
                    immediate: false,
                },
                payload: part,
            });
        }
        Ok(())
    }

    /// Whether everything sent has been acknowledged and nothing waits.
    pub(crate) fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.outstanding.is_empty()
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.retransmit.is_empty()
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    pub(crate) fn outstanding_count(&self) -> usize {
        self.outstanding.len()
    }

    pub(crate) fn peer_rwnd(&self) -> u32 {
        self.peer_rwnd
    }

    pub(crate) fn cwnd(&self) -> usize {
        self.cwnd
    }

    /// When T3-rtx expires, if it runs.
    pub(crate) fn timeout(&self) -> Option<Instant> {
        self.t3
    }

    /// Adds DATA chunks to a packet: first those marked for retransmission,
    /// then new ones, within cwnd and the peer's window (§6.1).
    pub(crate) fn fill(&mut self, now: Instant, w: &mut PacketWriter<'_>) {
        // §7.2.1: after an idle period of an RTO, cwnd shrinks back.
        if self.flight == 0 {
            if let Some(last) = self.last_activity {
                if now.saturating_duration_since(last) > self.rto.rto() {
                    self.cwnd = self.cwnd.min((4 * self.mtu).min((2 * self.mtu).max(4380)));
                }
            }
        }
        let exempt = std::mem::take(&mut self.fast_retransmit_due);
        let mut sent_any = false;
        while let Some(&at) = self.retransmit.first() {
            let Some(o) = self.outstanding.get(&at) else {
                self.retransmit.pop_first();
                continue;
            };
            let len = o.data.payload.len();
            // §7.2.4: the packet of a fast retransmission ignores cwnd.
            let ignores_cwnd = exempt && !sent_any;
            if !ignores_cwnd && self.flight > 0 && self.flight + len > self.cwnd {
                break;
            }
            if w.push(&Chunk::Data(o.data.clone())).is_err() {
                return;
            }
            self.retransmit.pop_first();
            let o = self.outstanding.get_mut(&at).expect("checked above");
            o.transmissions += 1;
            o.in_flight = true;
            o.sent_at = now;
            o.misses = 0;
            self.flight += len;
            sent_any = true;
        }
        if !self.retransmit.is_empty() {
            self.arm(now, sent_any);
            return;
        }
        // §6.1 D: cwnd is used as if it were at most Max.Burst packets
        // above what was in flight when this burst began.
        let limit = self.cwnd.min(self.burst_base + self.max_burst * self.mtu);
        while let Some(p) = self.pending.front() {
            let len = p.payload.len();
            // §6.1 B: no new data with cwnd or more in flight.
            if self.flight >= limit {
                break;
            }
            // §6.1 A: respect the peer's window, except for one probe
            // when nothing is in flight.
            if len > self.peer_rwnd as usize && self.flight > 0 {
                break;
            }
            let data = Data {
                flags: p.flags,
                tsn: self.next_tsn,
                stream: p.stream,
                ssn: p.ssn,
                ppid: p.ppid,
                payload: p.payload.clone(),
            };
            match w.push(&Chunk::Data(data.clone())) {
                Ok(()) => {}
                Err(BuildError::DoesNotFit { .. }) | Err(_) => break,
            }
            self.pending.pop_front();
            self.outstanding.insert(
                self.next,
                Outstanding {
                    data,
                    sent_at: now,
                    transmissions: 1,
                    gap_acked: false,
                    in_flight: true,
                    misses: 0,
                    fast_retransmitted: false,
                },
            );
            self.next += 1;
            self.next_tsn = self.next_tsn.next();
            self.flight += len;
            self.peer_rwnd = self.peer_rwnd.saturating_sub(len as u32);
            sent_any = true;
        }
        self.arm(now, sent_any);
    }

    /// §6.3.2 R1: T3-rtx runs whenever data is outstanding.
    fn arm(&mut self, now: Instant, sent: bool) {
        if sent {
            self.last_activity = Some(now);
        }
        if sent && self.t3.is_none() {
            self.t3 = Some(now + self.rto.rto());
        }
    }

    /// Processes a SACK (§6.2.1, §7.2).
    pub(crate) fn on_sack(&mut self, now: Instant, sack: &Sack) -> SackOutcome {
        let mut outcome = SackOutcome::default();
        // §6.2.1 D i: a SACK older than the cumulative ack is stale.
        if sack.cumulative_tsn_ack.is_before(self.acked_tsn) {
            return outcome;
        }
        let advance = u64::from(self.acked_tsn.distance_to(sack.cumulative_tsn_ack));
        let cum = self.acked + advance;
        if cum >= self.next {
            // Acknowledges TSNs never sent: ignore it (a protocol error).
            return outcome;
        }
        let flight_before = self.flight;
        let mut bytes_acked = 0;
        let mut rtt = None;
        // Newly acknowledged by the cumulative ack.
        while let Some(entry) = self.outstanding.first_entry() {
            if *entry.key() > cum {
                break;
            }
            let o = entry.remove();
            let len = o.data.payload.len();
            if !o.gap_acked {
                bytes_acked += len;
            }
            if o.in_flight {
                self.flight -= len;
            }
            self.buffered -= len;
            // §6.3.1 C5 (Karn): only chunks sent once give a measurement.
            if o.transmissions == 1 {
                rtt = Some(now.saturating_duration_since(o.sent_at));
            }
        }
        self.retransmit.retain(|&t| t > cum);
        if advance > 0 {
            outcome.advanced = true;
            self.acked = cum;
            self.acked_tsn = sack.cumulative_tsn_ack;
            // §8.1: an acknowledgement clears the error counter.
            self.error_count = 0;
        }
        // Gap blocks.
        let mut highest_newly_acked = None;
        for block in &sack.gap_blocks {
            if block.start == 0 || block.end < block.start {
                continue;
            }
            let (start, end) = (cum + u64::from(block.start), cum + u64::from(block.end));
            for (&at, o) in self.outstanding.range_mut(start..=end) {
                if !o.gap_acked {
                    o.gap_acked = true;
                    let len = o.data.payload.len();
                    bytes_acked += len;
                    if o.in_flight {
                        o.in_flight = false;
                        self.flight -= len;
                    }
                    self.retransmit.remove(&at);
                    highest_newly_acked = Some(at);
                    if o.transmissions == 1 {
                        rtt = Some(now.saturating_duration_since(o.sent_at));
                    }
                }
            }
        }
        if let Some(r) = rtt {
            self.rto.measure(r);
        }
        // §7.2.4: miss indications for TSNs below the highest newly
        // acknowledged one.
        let mut lost = Vec::new();
        if let Some(highest) = highest_newly_acked {
            for (&at, o) in self.outstanding.range_mut(..highest) {
                if o.gap_acked || !o.in_flight {
                    continue;
                }
                o.misses = o.misses.saturating_add(1);
                if o.misses >= 3 && !o.fast_retransmitted {
                    lost.push(at);
                }
            }
        }
        if let Some(exit) = self.fast_recovery_exit {
            if cum >= exit {
                self.fast_recovery_exit = None;
            }
        }
        if !lost.is_empty() {
            if self.fast_recovery_exit.is_none() {
                // §7.2.3 via §7.2.4: halve once per recovery.
                self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
                self.cwnd = self.ssthresh;
                self.partial_bytes_acked = 0;
                self.fast_recovery_exit = Some(self.next - 1);
            }
            self.fast_retransmit_due = true;
            for at in lost {
                if let Some(o) = self.outstanding.get_mut(&at) {
                    o.fast_retransmitted = true;
                    o.in_flight = false;
                    self.flight -= o.data.payload.len();
                    self.retransmit.insert(at);
                }
            }
        }
        // §7.2.1, §7.2.2: grow cwnd on new acks, only when it was in use.
        if outcome.advanced && self.fast_recovery_exit.is_none() {
            let fully_used = flight_before + self.mtu >= self.cwnd;
            if self.cwnd <= self.ssthresh {
                if fully_used {
                    self.cwnd += bytes_acked.min(self.mtu);
                }
            } else {
                self.partial_bytes_acked += bytes_acked;
                if self.partial_bytes_acked >= self.cwnd && fully_used {
                    self.partial_bytes_acked -= self.cwnd;
                    self.cwnd += self.mtu;
                }
            }
        }
        self.burst_base = self.flight;
        // §6.2.1: the peer's window less what is still in flight.
        self.peer_rwnd = sack.a_rwnd.saturating_sub(self.flight as u32);
        // §6.3.2 R2/R3: stop T3 when all is acked; restart it on progress.
        if self.outstanding.is_empty() {
            self.t3 = None;
        } else if outcome.advanced {
            self.t3 = Some(now + self.rto.rto());
        }
        self.last_activity = Some(now);
        outcome
    }

    /// T3-rtx expired (§6.3.3): back off, collapse cwnd, and mark every
    /// outstanding chunk for retransmission. Returns false when the error
    /// counter passed `max_retrans` (the association is lost).
    pub(crate) fn on_t3(&mut self, now: Instant, max_retrans: u32) -> bool {
        self.t3 = None;
        self.burst_base = 0;
        if self.outstanding.is_empty() {
            return true;
        }
        self.error_count += 1;
        if self.error_count > max_retrans {
            return false;
        }
        self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
        self.cwnd = self.mtu;
        self.partial_bytes_acked = 0;
        self.fast_recovery_exit = None;
        self.fast_retransmit_due = false;
        self.rto.back_off();
        for (&at, o) in self.outstanding.iter_mut() {
            if o.gap_acked {
                continue;
            }
            if o.in_flight {
                o.in_flight = false;
                self.flight -= o.data.payload.len();
            }
            self.retransmit.insert(at);
        }
        // E3: restart the timer when the first retransmission goes out.
        let _ = now;
        true
    }

    /// The peer acknowledged up to `cum` in a SHUTDOWN (§9.2); processed
    /// as a SACK without gaps, and tolerated when it lags behind.
    pub(crate) fn on_cumulative_ack(&mut self, now: Instant, cum: Tsn) {
        let sack = Sack {
            cumulative_tsn_ack: cum,
            a_rwnd: self.peer_rwnd + self.flight as u32,
            gap_blocks: vec![],
            duplicate_tsns: vec![],
        };
        self.on_sack(now, &sack);
    }

    /// The messages never delivered, for send-failed reports.
    pub(crate) fn drain_unsent(&mut self) -> usize {
        let n = self.pending.len() + self.outstanding.len();
        self.pending.clear();
        self.outstanding.clear();
        self.retransmit.clear();
        self.buffered = 0;
        self.flight = 0;
        self.t3 = None;
        n
    }

    /// The RTO now.
    pub(crate) fn current_rto(&self) -> Duration {
        self.rto.rto()
    }
}
