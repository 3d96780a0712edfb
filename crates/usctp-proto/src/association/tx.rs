//! The send side (RFC 9260 §6.1–§6.3, §7.2): the send queue and
//! fragmentation, TSN assignment, outstanding chunks, SACK processing, RTO
//! and T3-rtx, fast retransmit or RACK-TLP (`rack`), and congestion
//! control.
//!
//! Local TSNs are unwrapped into a 64-bit count, so the outstanding window
//! is ordered without wrapping comparisons.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::cc;
use super::path::{MAX_PATHS, Path};
use crate::chunk::{BuildError, Data, DataFlags, PacketWriter, Sack};
use crate::config::{Config, CongestionControl, LossDetection};
use crate::serial::{Ssn, Tsn};

mod loss;
mod rack;
mod seq_map;
use rack::Rack;
use seq_map::SeqMap;

/// Why a message was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The stream is not one of the negotiated outbound streams.
    #[error("stream {0} was not negotiated")]
    InvalidStream(u16),
    /// SCTP cannot carry an empty message (a DATA chunk needs user data).
    #[error("empty message")]
    EmptyMessage,
    /// The message is larger than the configured maximum.
    #[error("message of {size} bytes exceeds {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The maximum.
        max: usize,
    },
    /// The send buffer is full; try again after a `Writable` event.
    #[error("send buffer full")]
    WouldBlock,
    /// The association is shutting down or closed.
    #[error("association not open for sending")]
    NotOpen,
    /// The endpoint would not start the association a one-to-many
    /// `send_to` needed.
    #[error("association refused")]
    SetupRefused(#[source] crate::endpoint::ConnectError),
    /// The association a one-to-many `send_to` started could not be set
    /// up.
    #[error("association could not be set up")]
    SetupFailed(#[source] crate::association::AssociationError),
}

#[derive(Debug, Clone)]
struct Pending {
    stream: u16,
    ssn: Ssn,
    ppid: u32,
    flags: DataFlags,
    payload: Bytes,
    context: u32,
}

#[derive(Debug, Clone)]
struct Outstanding {
    data: Data,
    /// The sender's context for its message (RFC 6458 `snd_context`).
    context: u32,
    sent_at: Instant,
    transmissions: u32,
    gap_acked: bool,
    in_flight: bool,
    misses: u8,
    fast_retransmitted: bool,
    /// The path it was last sent on.
    path: usize,
    /// Its last transmission's number, in sending order (see `Rack`).
    xmit: u64,
}

/// A message that was not delivered when the association ended (after
/// SCTP_SEND_FAILED_EVENT): what of it the peer did not acknowledge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unsent {
    /// Its stream.
    pub stream: u16,
    /// Its Payload Protocol Identifier.
    pub ppid: u32,
    /// Whether it was sent unordered.
    pub unordered: bool,
    /// The bytes the peer had not acknowledged cumulatively: the whole
    /// message, or its tail when `partly_sent`.
    pub data: Bytes,
    /// The peer acknowledged its first fragments.
    pub partly_sent: bool,
    /// The context it was sent with.
    pub context: u32,
    complete: bool,
}

/// How a message is sent (after RFC 6458's `sctp_sndinfo` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    /// Delivered as soon as it arrives, not in stream order (U bit).
    pub unordered: bool,
    /// Ask the peer to acknowledge it at once (the I bit, RFC 9260 §3.3.1, on its
    /// last chunk; SCTP_SACK_IMMEDIATELY).
    pub sack_immediately: bool,
    /// A value of the sender's, given back if the message is not delivered
    /// (in [`Unsent::context`]).
    pub context: u32,
}

crate::with_setters! {
    SendOptions {
        with_unordered => unordered: bool,
        with_sack_immediately => sack_immediately: bool,
        with_context => context: u32,
    }
}

impl Unsent {
    /// A whole message that never reached an association's send buffer (a
    /// driver's queue in front of it held it).
    pub fn never_queued(stream: u16, ppid: u32, options: SendOptions, data: Bytes) -> Self {
        Self {
            stream,
            ppid,
            unordered: options.unordered,
            data,
            partly_sent: false,
            context: options.context,
            complete: true,
        }
    }
}

/// Accounts a chunk newly acknowledged (by the cumulative ack or a gap
/// block) to the path it was last sent on: bytes acked, whether the path
/// is shown reachable, and an RTT sample when `timed` (see
/// [`Tx::rtt_from`]).
fn note_acked(
    o: &Outstanding,
    timed: bool,
    now: Instant,
    paths: &[Path],
    outcome: &mut SackOutcome,
    acked: &mut [usize; MAX_PATHS],
    rtt: &mut [Option<Duration>; MAX_PATHS],
) {
    let at = o.path.min(MAX_PATHS - 1);
    acked[at] += o.data.payload.len();
    outcome.acked_any = true;
    if paths
        .get(at)
        .is_some_and(|p| p.ack_proves_reachable(o.sent_at))
    {
        outcome.acked_paths |= 1 << at;
    }
    if timed {
        rtt[at] = Some(now.saturating_duration_since(o.sent_at));
    }
}

/// The longest a peer is expected to delay a SACK (RFC 9260 §6.2 allows
/// 500 ms; 200 ms is the common SACK.Delay) plus some slack.
const PEER_SACK_DELAY: Duration = Duration::from_millis(250);

/// What a SACK did, for the association.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SackOutcome {
    /// The cumulative ack moved forward.
    pub advanced: bool,
    /// Some DATA was newly acknowledged (§8.1: the association's error
    /// count restarts).
    pub acked_any: bool,
    /// Bit `i` set: DATA last sent on path `i`, since it last failed, was
    /// newly acknowledged, so that destination is reachable (§8.2, RFC
    /// 7829 §3.2).
    pub acked_paths: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Tx {
    next_tsn: Tsn,
    /// Unwrapped value of `next_tsn`.
    next: u64,
    /// Unwrapped cumulative ack from the peer (all below `acked` + 1).
    acked: u64,
    acked_tsn: Tsn,
    pending: VecDeque<Pending>,
    outstanding: SeqMap<Outstanding>,
    retransmit: BTreeSet<u64>,
    out_ssn: Vec<Ssn>,
    /// Ordered messages per stream sent and not yet cumulatively
    /// acknowledged: at most 65,535 (§6.1), so an SSN is never reused
    /// while its first holder may still be retransmitted.
    ordered_in_window: Vec<u16>,
    /// Payload bytes queued or outstanding.
    buffered: usize,
    /// Payload bytes in flight on all paths (sent, not acked, not marked
    /// for resend).
    flight: usize,
    peer_rwnd: u32,
    /// A fast retransmission is due and may ignore cwnd for one packet
    /// (§7.2.4 step 3).
    fast_retransmit_due: bool,
    /// The first chunk (by unwrapped TSN) whose acknowledgement may time a
    /// round trip. RFC 9260 §6.3.1 C5: no sample from a chunk sent more
    /// than once (Karn), nor from a chunk r when a chunk at or below r was
    /// retransmitted after r was first sent: the SACK that acknowledges r
    /// may have been triggered by that retransmission filling a gap, long
    /// after r itself arrived. Every retransmission moves this past all
    /// chunks sent so far (a superset of the rule: chunks below the
    /// retransmitted one lose their sample too, which costs only samples).
    rtt_from: u64,
    /// Chunks gap-acknowledged and not yet cumulatively, to notice a
    /// SACK that leaves one out (the peer reneged).
    gap_acked: usize,
    mtu: usize,
    max_burst: usize,
    send_buffer: usize,
    max_message: usize,
    max_fragment: Option<usize>,
    fragmentation: bool,
    /// `send` said `WouldBlock`; `take_writable` says when room opens.
    blocked: bool,
    loss_detection: LossDetection,
    congestion: CongestionControl,
    rack: Rack,
    /// A loss probe is due: its packet may ignore cwnd.
    probe_due: bool,
    /// The path DATA last went to, whose round trip times the probe.
    last_path: usize,
    /// TSNs just judged lost (kept to reuse its allocation).
    lost: Vec<u64>,
    pub(crate) stats: TxStats,
}

/// What the send side counted, for `Association::counters`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TxStats {
    /// New DATA chunks sent: (ordered, unordered).
    pub data_sent: (u64, u64),
    pub retransmitted: u64,
    pub fast_retransmits: u64,
    pub t3_expiries: u64,
    /// Retransmissions found lost in turn (before T3-rtx).
    pub lost_retransmissions: u64,
    /// Tail loss probes sent.
    pub loss_probes: u64,
}

/// Adds a DATA chunk to the packet. A chunk larger than the packet's size
/// (cut for a larger path MTU before it shrank, or a message that must go
/// whole) goes alone in a packet as large as it needs, never waiting for
/// room that cannot come.
fn push_data(w: &mut PacketWriter<'_>, data: &Data) -> bool {
    match w.push_data(data) {
        Ok(()) => true,
        Err(BuildError::DoesNotFit { needed, .. }) if w.is_empty() => {
            w.grow_to(crate::chunk::packet::COMMON_HEADER_LEN + needed);
            w.push_data(data).is_ok()
        }
        Err(_) => false,
    }
}

impl Tx {
    pub(crate) fn new(
        initial_tsn: Tsn,
        outbound_streams: u16,
        peer_rwnd: u32,
        mtu: usize,
        config: &Config,
    ) -> Self {
        let mut tx = Self {
            next_tsn: initial_tsn,
            next: 1,
            acked: 0,
            acked_tsn: initial_tsn.prev(),
            pending: VecDeque::new(),
            outstanding: SeqMap::new(),
            retransmit: BTreeSet::new(),
            out_ssn: vec![Ssn(0); usize::from(outbound_streams)],
            ordered_in_window: vec![0; usize::from(outbound_streams)],
            buffered: 0,
            flight: 0,
            peer_rwnd,
            fast_retransmit_due: false,
            rtt_from: 1,
            gap_acked: 0,
            mtu,
            max_burst: 1,
            send_buffer: 0,
            max_message: 0,
            max_fragment: None,
            fragmentation: true,
            blocked: false,
            loss_detection: config.loss_detection,
            congestion: config.congestion_control,
            rack: Rack::new(),
            probe_due: false,
            last_path: 0,
            lost: Vec::new(),
            stats: TxStats::default(),
        };
        tx.set_limits(config);
        tx
    }

    /// The limits `config` sets: send buffer, message size, fragment size
    /// (SCTP_MAXSEG, SCTP_DISABLE_FRAGMENTS) and Max.Burst.
    pub(crate) fn set_limits(&mut self, config: &Config) {
        self.send_buffer = config.send_buffer;
        self.max_message = config.max_message_size;
        self.max_burst = config.max_burst.max(1) as usize;
        self.max_fragment = config.max_fragment_size;
        self.fragmentation = config.fragmentation;
        self.loss_detection = config.loss_detection;
        self.congestion = config.congestion_control;
        if self.loss_detection != LossDetection::Rack {
            self.rack.idle();
        }
    }

    /// The packet size changed (path MTU discovery). Fragments waiting to
    /// be sent that no longer fit a packet are cut again: they have no TSN
    /// yet, so each becomes several with the same stream, SSN and PPID,
    /// the first keeping the B bit and the last the E and I bits (§6.9).
    /// A message that must go whole (SCTP_DISABLE_FRAGMENTS) stays whole,
    /// and chunks already sent keep their size (a TSN cannot be split):
    /// they go in packets of their own, larger than the new size.
    pub(crate) fn set_mtu(&mut self, mtu: usize) {
        let shrinks = mtu < self.mtu;
        self.mtu = mtu;
        let size = self.fragment_size();
        if !shrinks || !self.fragmentation || self.pending.iter().all(|p| p.payload.len() <= size) {
            return;
        }
        let before = std::mem::take(&mut self.pending);
        for chunk in before {
            let len = chunk.payload.len();
            if len <= size {
                self.pending.push_back(chunk);
                continue;
            }
            let count = len.div_ceil(size);
            for i in 0..count {
                let last = i + 1 == count;
                self.pending.push_back(Pending {
                    flags: DataFlags {
                        beginning: chunk.flags.beginning && i == 0,
                        end: chunk.flags.end && last,
                        unordered: chunk.flags.unordered,
                        immediate: chunk.flags.immediate && last,
                    },
                    payload: chunk.payload.slice(i * size..((i + 1) * size).min(len)),
                    ..chunk
                });
            }
        }
    }

    /// The payload of each fragment of a message: a packet's worth, or
    /// less if the user asked (SCTP_MAXSEG).
    pub(crate) fn fragment_size(&self) -> usize {
        let pmdcs = self.max_payload();
        self.max_fragment.map_or(pmdcs, |f| f.clamp(1, pmdcs))
    }

    /// User bytes a DATA chunk carries at most: RFC 9260's PMDCS, the unit
    /// of congestion control (§7.2), since cwnd and flight count payload.
    fn max_payload(&self) -> usize {
        self.mtu.saturating_sub(12 + Data::HEADER_LEN).max(1)
    }

    /// Queues a message, fragmented to the path MTU (§6.9).
    pub(crate) fn send(
        &mut self,
        stream: u16,
        ppid: u32,
        data: Bytes,
        options: SendOptions,
    ) -> Result<(), SendError> {
        let unordered = options.unordered;
        if usize::from(stream) >= self.out_ssn.len() {
            return Err(SendError::InvalidStream(stream));
        }
        if data.is_empty() {
            return Err(SendError::EmptyMessage);
        }
        let size = self.fragment_size();
        // SCTP_DISABLE_FRAGMENTS: a message must fit in one chunk.
        let max = if self.fragmentation {
            self.max_message
        } else {
            self.max_message.min(size)
        };
        if data.len() > max {
            return Err(SendError::TooLarge {
                size: data.len(),
                max,
            });
        }
        // Back-pressure: a message is taken while any room is left, so a
        // message larger than the buffer can still be sent when it is empty.
        if self.buffered >= self.send_buffer
            || (self.buffered > 0 && self.buffered + data.len() > self.send_buffer)
        {
            self.blocked = true;
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
                    immediate: options.sack_immediately && i + 1 == count,
                },
                payload: part,
                context: options.context,
            });
        }
        Ok(())
    }

    /// Whether everything sent has been acknowledged and nothing waits.
    pub(crate) fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.outstanding.is_empty()
    }

    /// Chunks are marked for retransmission.
    pub(crate) fn has_retransmissions(&self) -> bool {
        !self.retransmit.is_empty()
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.retransmit.is_empty()
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Whether room has opened since `send` last said `WouldBlock` (true
    /// once per refusal: the moment to say `Writable`).
    pub(crate) fn take_writable(&mut self) -> bool {
        let writable = self.blocked && self.buffered < self.send_buffer;
        if writable {
            self.blocked = false;
        }
        writable
    }

    pub(crate) fn outstanding_count(&self) -> usize {
        self.outstanding.len()
    }

    pub(crate) fn peer_rwnd(&self) -> u32 {
        self.peer_rwnd
    }

    /// Adds DATA chunks bound for path `p` to a packet: first those marked
    /// for retransmission, then new ones, within that path's cwnd and the
    /// peer's window (§6.1).
    pub(crate) fn fill(
        &mut self,
        now: Instant,
        w: &mut PacketWriter<'_>,
        paths: &mut [Path],
        p: usize,
    ) {
        let path = &mut paths[p];
        // §7.2.1: after an idle period of an RTO, cwnd shrinks back.
        if path.flight == 0 {
            path.progress_at = Some(now);
            if let Some(last) = path.last_data
                && now.saturating_duration_since(last) > path.rto.rto()
            {
                path.cwnd = path.cwnd.min(path.initial_cwnd(self.max_payload()));
            }
        }
        let probe = std::mem::take(&mut self.probe_due);
        let exempt = std::mem::take(&mut self.fast_retransmit_due) || probe;
        let mut sent_any = false;
        while let Some(&at) = self.retransmit.first() {
            let Some(o) = self.outstanding.get_mut(at) else {
                self.retransmit.pop_first();
                continue;
            };
            let len = o.data.payload.len();
            // §7.2.4: the packet of a fast retransmission ignores cwnd.
            let ignores_cwnd = exempt && !sent_any;
            if !ignores_cwnd && path.flight > 0 && path.flight + len > path.cwnd {
                break;
            }
            if !push_data(w, &o.data) {
                break;
            }
            self.retransmit.pop_first();
            self.rtt_from = self.next;
            self.stats.retransmitted += 1;
            // §7.2.4 step 4: retransmitting the earliest outstanding chunk
            // restarts T3-rtx, so it is not retransmitted again at once.
            if exempt && self.outstanding.first_key() == Some(at) {
                path.t3 = Some(now + path.rto.rto());
            }
            let Some(o) = self.outstanding.get_mut(at) else {
                continue;
            };
            o.transmissions += 1;
            o.in_flight = true;
            o.sent_at = now;
            o.misses = 0;
            o.path = p;
            self.rack.left_flight(o.xmit);
            o.xmit = self.rack.sent(at, now, p);
            path.flight += len;
            self.flight += len;
            sent_any = true;
        }
        let mut sent_new = false;
        if self.retransmit.is_empty() {
            let ignores_cwnd = probe && !sent_any;
            sent_new = self.fill_new(now, w, path, p, ignores_cwnd);
            sent_any |= sent_new;
        }
        if sent_any {
            path.last_data = Some(now);
            self.last_path = p;
            // §6.3.2 R1: T3-rtx runs whenever data is outstanding.
            if path.t3.is_none() {
                path.t3 = Some(now + path.rto.rto());
            }
        }
        // RFC 8985 §7.2: the probe timer restarts when new data goes out
        // (a probe itself waits for its SACK).
        if sent_new && !probe && self.loss_detection == LossDetection::Rack {
            let one_packet = path.flight <= self.max_payload();
            self.rack
                .arm_probe(now, path.rto.srtt(), one_packet, path.t3);
        }
    }

    /// Adds new DATA; `ignores_cwnd` for a loss probe. Returns whether
    /// any went.
    fn fill_new(
        &mut self,
        now: Instant,
        w: &mut PacketWriter<'_>,
        path: &mut Path,
        p: usize,
        ignores_cwnd: bool,
    ) -> bool {
        let mut sent_any = false;
        // §6.1 D: cwnd is used as if it were at most Max.Burst packets
        // above what was in flight when this burst began.
        let limit = path
            .cwnd
            .min(path.burst_base + self.max_burst * self.max_payload());
        while let Some(pending) = self.pending.front() {
            let len = pending.payload.len();
            // RFC 9260 §6.1 B forbids new data once cwnd + PMDCS - 1 bytes
            // are outstanding; this end stops at cwnd (RFC 4960's rule),
            // at most one chunk short of what the RFC allows.
            if path.flight >= limit && !ignores_cwnd {
                break;
            }
            // §6.1 A: respect the peer's window, except for one probe
            // when nothing is in flight.
            if len > self.peer_rwnd as usize && self.flight > 0 {
                break;
            }
            // §6.1: no more than 65,535 ordered messages of a stream in the
            // send window.
            let stream = usize::from(pending.stream);
            let opens_ordered = pending.flags.beginning && !pending.flags.unordered;
            if opens_ordered && self.ordered_in_window[stream] == u16::MAX {
                break;
            }
            // §3.3.1, §6.2 (the I bit): ask for an immediate SACK when this chunk ends a
            // burst of several packets (it drains the queue or fills the
            // window), since no second packet follows soon to trigger one
            // and the delayed SACK would hold the window for up to
            // SACK.Delay. A lone packet does not ask (in request/response
            // traffic its SACK rides on the response), unless the RTO is
            // too short to wait for a delayed SACK without a spurious
            // timeout.
            let mut flags = pending.flags;
            let drains = self.pending.len() == 1;
            let fills = path.flight + len >= limit;
            // Several packets since the last SACK (a window filled by one
            // packet alone is the steady state of a transfer, each SACK
            // letting one more out: no I bit there).
            let several = path.flight + len > path.burst_base + self.mtu;
            let impatient = path.rto.rto() <= PEER_SACK_DELAY;
            flags.immediate |=
                (drains && (path.flight > 0 || impatient)) || (fills && (several || impatient));
            // The fragment moves into its outstanding record (no copy of
            // its payload handle), and back if the packet has no room.
            let Some(pending) = self.pending.pop_front() else {
                break;
            };
            let data = Data {
                flags,
                tsn: self.next_tsn,
                stream: pending.stream,
                ssn: pending.ssn,
                ppid: pending.ppid,
                payload: pending.payload,
            };
            let context = pending.context;
            if !push_data(w, &data) {
                self.pending.push_front(Pending {
                    payload: data.payload,
                    ..pending
                });
                break;
            }
            if flags.unordered {
                self.stats.data_sent.1 += 1;
            } else {
                self.stats.data_sent.0 += 1;
            }
            if opens_ordered {
                self.ordered_in_window[stream] += 1;
            }
            let xmit = self.rack.sent(self.next, now, p);
            self.outstanding.insert(
                self.next,
                Outstanding {
                    data,
                    context,
                    sent_at: now,
                    transmissions: 1,
                    gap_acked: false,
                    in_flight: true,
                    misses: 0,
                    fast_retransmitted: false,
                    path: p,
                    xmit,
                },
            );
            self.next += 1;
            self.next_tsn = self.next_tsn.next();
            path.flight += len;
            self.flight += len;
            self.peer_rwnd = self.peer_rwnd.saturating_sub(len as u32);
            sent_any = true;
        }
        sent_any
    }

    /// Takes a chunk out of flight (acknowledged or marked for resend).
    fn leave_flight(&mut self, paths: &mut [Path], path: usize, len: usize) {
        self.flight -= len;
        if let Some(p) = paths.get_mut(path) {
            p.flight = p.flight.saturating_sub(len);
        }
    }

    /// Processes a SACK (§6.2.1, §7.2).
    pub(crate) fn on_sack(&mut self, now: Instant, sack: &Sack, paths: &mut [Path]) -> SackOutcome {
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
        // Per path: bytes newly acknowledged, flight before, one RTT
        // sample per SACK (§6.3.1 C4 asks for at most one per round trip; one
        // per SACK is more, recorded in docs/conformance.md).
        let mut acked = [0usize; MAX_PATHS];
        let mut rtt: [Option<Duration>; MAX_PATHS] = [None; MAX_PATHS];
        let mut flight_before = [0usize; MAX_PATHS];
        for (i, p) in paths.iter().enumerate() {
            flight_before[i] = p.flight;
        }
        // Newly acknowledged by the cumulative ack.
        while let Some((tsn, o)) = self.outstanding.pop_through(cum) {
            let len = o.data.payload.len();
            if o.data.flags.end && !o.data.flags.unordered {
                let count = &mut self.ordered_in_window[usize::from(o.data.stream)];
                *count = count.saturating_sub(1);
            }
            if o.gap_acked {
                self.gap_acked -= 1;
            } else {
                let timed = o.transmissions == 1 && tsn >= self.rtt_from;
                note_acked(&o, timed, now, paths, &mut outcome, &mut acked, &mut rtt);
                self.rack.left_flight(o.xmit);
                self.rack
                    .delivered(now, o.xmit, tsn, o.sent_at, o.transmissions, o.path);
            }
            if o.in_flight {
                self.leave_flight(paths, o.path, len);
            }
            self.buffered -= len;
        }
        self.retransmit.retain(|&t| t > cum);
        if advance > 0 {
            outcome.advanced = true;
            self.acked = cum;
            self.acked_tsn = sack.cumulative_tsn_ack;
        }
        // Gap blocks.
        let mut highest_newly_acked = None;
        let mut covered = 0;
        for block in &sack.gap_blocks {
            if block.start == 0 || block.end < block.start {
                continue;
            }
            let (start, end) = (cum + u64::from(block.start), cum + u64::from(block.end));
            for (tsn, o) in self.outstanding.range_mut(start..end + 1) {
                covered += 1;
                if o.gap_acked {
                    continue;
                }
                o.gap_acked = true;
                self.gap_acked += 1;
                let len = o.data.payload.len();
                let timed = o.transmissions == 1 && tsn >= self.rtt_from;
                note_acked(o, timed, now, paths, &mut outcome, &mut acked, &mut rtt);
                self.rack.left_flight(o.xmit);
                self.rack
                    .delivered(now, o.xmit, tsn, o.sent_at, o.transmissions, o.path);
                if o.in_flight {
                    o.in_flight = false;
                    self.flight -= len;
                    if let Some(p) = paths.get_mut(o.path) {
                        p.flight = p.flight.saturating_sub(len);
                    }
                }
                self.retransmit.remove(&tsn);
                highest_newly_acked = Some(tsn);
            }
        }
        for ((p, r), bytes) in paths.iter_mut().zip(rtt).zip(acked) {
            if let Some(r) = r {
                p.rto.measure(r);
            }
            if bytes > 0 {
                p.progress_at = Some(now);
            }
        }
        if covered < self.gap_acked {
            self.on_renege(now, cum, sack, paths);
        }
        match self.loss_detection {
            LossDetection::Rack => {
                if !sack.duplicate_tsns.is_empty() {
                    self.duplicates_reported(sack, cum);
                }
                if outcome.acked_any {
                    self.rack.acknowledged_new();
                }
                self.detect_losses(now, paths);
            }
            LossDetection::Rfc9260 => self.mark_fast_retransmits(highest_newly_acked, paths),
        }
        // §7.2.1, §7.2.2: grow cwnd on new acks, only when it was in use.
        if outcome.advanced {
            for (i, p) in paths.iter_mut().enumerate() {
                if let Some(exit) = p.fast_recovery_exit
                    && cum >= exit
                {
                    p.fast_recovery_exit = None;
                }
                if acked[i] == 0 || p.fast_recovery_exit.is_some() {
                    continue;
                }
                let fully_used = flight_before[i] + self.max_payload() >= p.cwnd;
                if p.cwnd <= p.ssthresh {
                    if fully_used {
                        p.cwnd += acked[i].min(self.max_payload());
                    }
                } else {
                    let pmdcs = self.max_payload();
                    cc::avoid(p, acked[i], pmdcs, now, fully_used, self.congestion);
                }
            }
        }
        // §6.2.1: the peer's window less what is still in flight.
        self.peer_rwnd = sack.a_rwnd.saturating_sub(self.flight as u32);
        for (i, p) in paths.iter_mut().enumerate() {
            p.burst_base = p.flight;
            // §6.3.2 R2/R3: stop T3 when nothing sent here is in flight;
            // restart it when data sent here was acknowledged.
            if p.flight == 0 {
                p.t3 = None;
            } else if outcome.acked_paths & (1 << i.min(MAX_PATHS - 1)) != 0 && outcome.advanced {
                p.t3 = Some(now + p.rto.rto());
            }
        }
        if self.loss_detection == LossDetection::Rack {
            if self.flight == 0 {
                self.rack.idle();
            } else if outcome.acked_any {
                // RFC 8985 §7.2: an acknowledgement of new data restarts
                // the probe timer.
                if let Some(p) = paths.get(self.last_path) {
                    let one_packet = self.flight <= self.max_payload();
                    self.rack.arm_probe(now, p.rto.srtt(), one_packet, p.t3);
                }
            }
        }
        outcome
    }

    /// The liveness invariant of the send side: every chunk sent and not
    /// acknowledged is either in flight on a path whose T3-rtx runs, or
    /// marked for retransmission; the byte counts of what is in flight
    /// agree with the chunks. Says what is wrong otherwise.
    #[cfg(any(debug_assertions, fuzzing))]
    pub(crate) fn liveness(&self, paths: &[Path]) -> Result<(), String> {
        let mut flight = [0usize; MAX_PATHS];
        let mut in_flight = 0;
        for (key, o) in self.outstanding.iter() {
            in_flight += usize::from(o.in_flight);
            if o.gap_acked {
                continue;
            }
            if o.in_flight != self.rack.in_flight(o.xmit) {
                return Err(format!(
                    "TSN {} is {}in flight, and RACK says otherwise",
                    o.data.tsn,
                    if o.in_flight { "" } else { "not " }
                ));
            }
            if o.in_flight {
                flight[o.path.min(MAX_PATHS - 1)] += o.data.payload.len();
                if paths.get(o.path).is_none_or(|p| p.t3.is_none()) {
                    return Err(format!(
                        "TSN {} is in flight on path {} and no T3-rtx runs there",
                        o.data.tsn, o.path
                    ));
                }
            } else if !self.retransmit.contains(&key) {
                return Err(format!(
                    "TSN {} is neither in flight nor marked for retransmission",
                    o.data.tsn
                ));
            }
        }
        for (i, p) in paths.iter().enumerate() {
            if p.flight != flight[i.min(MAX_PATHS - 1)] {
                return Err(format!(
                    "path {i} counts {} bytes in flight, its chunks {}",
                    p.flight,
                    flight[i.min(MAX_PATHS - 1)]
                ));
            }
        }
        if self.rack.in_flight_count() != in_flight {
            return Err(format!(
                "RACK keeps {} chunks in flight, {in_flight} are",
                self.rack.in_flight_count()
            ));
        }
        if self.flight != flight.iter().sum::<usize>() {
            return Err(format!(
                "{} bytes counted in flight, chunks hold {}",
                self.flight,
                flight.iter().sum::<usize>()
            ));
        }
        Ok(())
    }

    /// The peer acknowledged up to `cum` in a SHUTDOWN (§9.2); processed
    /// as a SACK without gaps, and tolerated when it lags behind.
    pub(crate) fn on_cumulative_ack(
        &mut self,
        now: Instant,
        cum: Tsn,
        paths: &mut [Path],
    ) -> SackOutcome {
        let sack = Sack {
            cumulative_tsn_ack: cum,
            a_rwnd: self.peer_rwnd + self.flight as u32,
            gap_blocks: vec![],
            duplicate_tsns: vec![],
        };
        self.on_sack(now, &sack, paths)
    }

    /// The messages never (wholly) acknowledged, for send-failed reports:
    /// their unacknowledged fragments put back together, in sending order.
    pub(crate) fn drain_unsent(&mut self) -> Vec<Unsent> {
        let outstanding = self.outstanding.take_all().map(|o| {
            (
                o.data.stream,
                o.data.ppid,
                o.data.flags,
                o.data.payload,
                o.context,
            )
        });
        let pending = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|p| (p.stream, p.ppid, p.flags, p.payload, p.context));
        let mut unsent: Vec<Unsent> = Vec::new();
        for (stream, ppid, flags, payload, context) in outstanding.chain(pending) {
            match unsent.last_mut() {
                // A fragment continues the message before it unless it
                // begins a new one.
                Some(last) if !flags.beginning && !last.complete && last.stream == stream => {
                    let mut data = bytes::BytesMut::from(&last.data[..]);
                    data.extend_from_slice(&payload);
                    last.data = data.freeze();
                    last.complete = flags.end;
                }
                _ => unsent.push(Unsent {
                    stream,
                    ppid,
                    unordered: flags.unordered,
                    data: payload,
                    partly_sent: !flags.beginning,
                    context,
                    complete: flags.end,
                }),
            }
        }
        self.retransmit.clear();
        self.rack.clear();
        self.ordered_in_window.fill(0);
        self.buffered = 0;
        self.flight = 0;
        self.gap_acked = 0;
        unsent
    }
}

#[cfg(test)]
mod tests;
