//! The receive side (RFC 9260 §6.2, §6.5, §6.6, §6.9): TSN tracking,
//! duplicate detection, reassembly, ordered and unordered delivery,
//! partial delivery of messages too large to hold whole, the advertised
//! window, and what the next SACK says.
//!
//! TSNs are unwrapped into a 64-bit count from the peer's initial TSN, so
//! the containers here never compare wrapped numbers; every 32-bit TSN that
//! arrives is placed relative to the cumulative TSN ack first.
//!
//! # The window
//!
//! Every byte received counts against the window until the user has taken
//! it: chunks waiting for the rest of their message or for an earlier SSN,
//! messages ready to read, and messages handed out with
//! [`Rx::recv_held`] until [`Rx::release`] says the application consumed
//! them. Nothing beyond the window is kept: when a chunk that would fill a
//! gap does not fit, the data held past it with the highest TSNs is given
//! up (reneged, §6.2) to make room, and the peer retransmits it later.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use bytes::{Bytes, BytesMut};

use crate::chunk::{Data, GapBlock, Sack};
use crate::serial::{Ssn, Tsn};

/// Duplicate TSNs remembered for the next SACK, at most.
const MAX_DUPLICATES: usize = 32;
/// A SACK chunk without gap blocks or duplicates (§3.3.4).
pub(crate) const SACK_HEADER_LEN: usize = 16;

/// A message handed to the user, with what RFC 6458's `sctp_rcvinfo`
/// carries about it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The stream it arrived on.
    pub stream: u16,
    /// Its Payload Protocol Identifier.
    pub ppid: u32,
    /// Whether it was sent unordered.
    pub unordered: bool,
    /// Its bytes: a view of the received datagram when it came in one
    /// chunk.
    pub data: Bytes,
    /// Its stream sequence number (meaningless when unordered).
    pub ssn: u16,
    /// The TSN of its first chunk (of this part, when partly delivered).
    pub tsn: Tsn,
    /// The cumulative TSN ack when it was delivered.
    pub cumulative_tsn: Tsn,
    /// Whether this ends the message. A message too large for the
    /// receive buffer arrives in parts (partial delivery, RFC 6458
    /// §8.1.21); all but the last have this `false`.
    pub end_of_record: bool,
}

/// What the association must do about a DATA chunk (§6.2, §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataVerdict {
    /// Accepted (new).
    New,
    /// A TSN already received; report it as a duplicate.
    Duplicate,
    /// Dropped for lack of buffer space (§6.2); the peer will retransmit.
    NoRoom,
    /// The stream does not exist: report Invalid Stream Identifier (§6.5);
    /// the TSN counts as received.
    InvalidStream,
}

/// A complete message not yet deliverable, with the TSNs it covers (so
/// that it can be given up to make room).
#[derive(Debug, Clone)]
struct Held {
    message: Message,
    first: u64,
    last: u64,
}

#[derive(Debug, Default, Clone)]
struct InStream {
    next_ssn: Ssn,
    /// Complete ordered messages waiting for earlier SSNs.
    waiting: HashMap<u16, Held>,
}

/// A message being delivered in parts.
#[derive(Debug, Clone, Copy)]
struct Partial {
    stream: u16,
    unordered: bool,
    ssn: Ssn,
    /// The unwrapped TSN of its next fragment.
    next: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Rx {
    /// Unwrapped cumulative TSN ack: every TSN up to it has arrived.
    cum: u64,
    /// `cum` as a wire TSN.
    cum_tsn: Tsn,
    /// TSNs received beyond `cum` (the gaps are what is missing).
    received: BTreeSet<u64>,
    /// Chunks waiting for the rest of their message, by unwrapped TSN.
    fragments: BTreeMap<u64, Data>,
    duplicates: Vec<Tsn>,
    streams: Vec<InStream>,
    ready: VecDeque<Message>,
    /// The message being delivered in parts, if any; while it lasts
    /// nothing else is delivered (`deferred` holds what completes).
    partial: Option<Partial>,
    deferred: VecDeque<Held>,
    /// Bytes counted against the window: everything received and not yet
    /// released by the user.
    buffered: usize,
    window: usize,
    /// The association's share of what the endpoint's transport can hold
    /// (see `Endpoint::set_receive_budget`): the window advertised is at
    /// most this.
    share: Option<usize>,
    /// The size from which an incomplete message is delivered in parts.
    partial_delivery_point: usize,
    /// The a_rwnd last advertised, to know when a window update is due.
    advertised: u32,
    pub(crate) stats: RxStats,
}

/// What the receive side counted, for `Association::counters`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RxStats {
    /// New DATA chunks: (ordered, unordered).
    pub data_received: (u64, u64),
    pub duplicates: u64,
    pub out_of_sequence: u64,
}

impl Rx {
    pub(crate) fn new(
        peer_initial_tsn: Tsn,
        inbound_streams: u16,
        window: u32,
        partial_delivery_point: usize,
    ) -> Self {
        let window = window as usize;
        Self {
            cum: 0,
            cum_tsn: peer_initial_tsn.prev(),
            received: BTreeSet::new(),
            fragments: BTreeMap::new(),
            duplicates: Vec::new(),
            streams: (0..inbound_streams).map(|_| InStream::default()).collect(),
            ready: VecDeque::new(),
            partial: None,
            deferred: VecDeque::new(),
            buffered: 0,
            window,
            share: None,
            // A point at or above the window could never be reached by a
            // message the window cannot hold.
            partial_delivery_point: partial_delivery_point.clamp(1, (window / 2).max(1)),
            advertised: u32::try_from(window).unwrap_or(u32::MAX),
            stats: RxStats::default(),
        }
    }

    /// The cumulative TSN ack.
    pub(crate) fn cumulative_tsn(&self) -> Tsn {
        self.cum_tsn
    }

    /// TSNs held past a gap, at most: one per 64 bytes of window.
    fn max_gap_entries(&self) -> usize {
        (self.window / 64).max(64)
    }

    /// Where `tsn` falls: its unwrapped value, or `None` if it is at or
    /// before the cumulative ack.
    fn place(&self, tsn: Tsn) -> Option<u64> {
        tsn.is_after(self.cum_tsn)
            .then(|| self.cum + u64::from(self.cum_tsn.distance_to(tsn)))
    }

    /// Whether any TSN after the cumulative ack has arrived (a gap exists).
    pub(crate) fn has_gaps(&self) -> bool {
        !self.received.is_empty()
    }

    /// Receives one DATA chunk whose payload the association has checked.
    pub(crate) fn on_data(&mut self, chunk: &Data) -> DataVerdict {
        let Some(at) = self.place(chunk.tsn) else {
            self.note_duplicate(chunk.tsn);
            return DataVerdict::Duplicate;
        };
        if self.received.contains(&at) {
            self.note_duplicate(chunk.tsn);
            return DataVerdict::Duplicate;
        }
        let fills_cum = at == self.cum + 1;
        // What a peer can make this end hold is bounded: TSNs noted past a
        // gap (each costs memory however small its payload), and bytes.
        if !fills_cum && self.received.len() >= self.max_gap_entries() {
            return DataVerdict::NoRoom;
        }
        if usize::from(chunk.stream) >= self.streams.len() {
            // §6.5: acknowledged, never delivered.
            self.mark(at);
            return DataVerdict::InvalidStream;
        }
        // §6.2: beyond the window, new data is dropped; a chunk below data
        // already held takes the room of the highest held (the peer
        // retransmits what was given up).
        let len = chunk.payload.len();
        if self.buffered + len > self.window && !self.make_room(at, len) {
            return DataVerdict::NoRoom;
        }
        self.buffered += len;
        if !fills_cum {
            self.stats.out_of_sequence += 1;
        }
        if chunk.flags.unordered {
            self.stats.data_received.1 += 1;
        } else {
            self.stats.data_received.0 += 1;
        }
        self.mark(at);
        if chunk.flags.beginning && chunk.flags.end {
            // A whole message in one chunk (the common case) skips the
            // reassembly map.
            let message = self.message(chunk, chunk.payload.clone(), true);
            self.deliver(Held {
                message,
                first: at,
                last: at,
            });
        } else {
            self.fragments.insert(at, chunk.clone());
            self.reassemble(at);
        }
        self.continue_partial();
        DataVerdict::New
    }

    fn message(&self, head: &Data, data: Bytes, end_of_record: bool) -> Message {
        Message {
            stream: head.stream,
            ppid: head.ppid,
            unordered: head.flags.unordered,
            data,
            ssn: head.ssn.0,
            tsn: head.tsn,
            cumulative_tsn: self.cum_tsn,
            end_of_record,
        }
    }

    fn note_duplicate(&mut self, tsn: Tsn) {
        self.stats.duplicates += 1;
        if self.duplicates.len() < MAX_DUPLICATES {
            self.duplicates.push(tsn);
        }
    }

    /// Records `at` as received and advances the cumulative ack over the
    /// TSNs that are now contiguous.
    fn mark(&mut self, at: u64) {
        // In-order arrival with no gap moves the cumulative ack alone.
        if at == self.cum + 1 && self.received.is_empty() {
            self.cum = at;
            self.cum_tsn = self.cum_tsn.next();
            return;
        }
        self.received.insert(at);
        while self.received.first() == Some(&(self.cum + 1)) {
            self.received.pop_first();
            self.cum += 1;
            self.cum_tsn = self.cum_tsn.next();
        }
    }

    /// §6.2: gives up data held past `at` for reordering, highest TSN
    /// first, until `len` more bytes fit. Only TSNs above the cumulative
    /// ack can be given up (the peer was told of the rest); `false` if not
    /// enough could.
    fn make_room(&mut self, at: u64, len: usize) -> bool {
        while self.buffered + len > self.window {
            let fragment = self
                .fragments
                .last_key_value()
                .map(|(&t, _)| t)
                .filter(|&t| t > at);
            let cum = self.cum;
            let message = self
                .streams
                .iter()
                .flat_map(|s| s.waiting.values())
                .chain(self.deferred.iter())
                .filter(|h| h.first > cum && h.last > at)
                .map(|h| h.last)
                .max();
            match (fragment, message) {
                (Some(t), m) if m.is_none_or(|m| t > m) => {
                    let data = self.fragments.remove(&t).expect("the highest fragment");
                    self.buffered -= data.payload.len();
                    self.received.remove(&t);
                }
                (_, Some(last)) => {
                    // A whole message held: all of its TSNs go.
                    let held = self.take_held_ending_at(last).expect("the highest held");
                    self.buffered -= held.message.data.len();
                    for t in held.first..=held.last {
                        self.received.remove(&t);
                    }
                }
                _ => return false,
            }
        }
        true
    }

    fn take_held_ending_at(&mut self, last: u64) -> Option<Held> {
        if let Some(i) = self.deferred.iter().position(|h| h.last == last) {
            return self.deferred.remove(i);
        }
        for stream in &mut self.streams {
            let key = stream
                .waiting
                .iter()
                .find(|(_, h)| h.last == last)
                .map(|(&k, _)| k);
            if let Some(key) = key {
                return stream.waiting.remove(&key);
            }
        }
        None
    }

    /// Assembles the message `at` belongs to if all its fragments are here,
    /// or starts delivering it in parts once its first fragments are
    /// deliverable and reach the partial delivery point. Fragments of one
    /// message carry consecutive TSNs (§6.9).
    fn reassemble(&mut self, at: u64) {
        // Back over consecutive TSNs to the message's first fragment, then
        // forward to its last, counting what is held on the way.
        let mut held = 0;
        let mut first = None;
        let mut expect = at;
        for (&tsn, d) in self.fragments.range(..=at).rev() {
            if tsn != expect {
                return;
            }
            held += d.payload.len();
            if d.flags.beginning {
                first = Some(tsn);
                break;
            }
            expect = tsn.wrapping_sub(1);
        }
        let Some(first) = first else {
            return;
        };
        let mut last = at;
        if !self.fragments[&at].flags.end {
            let mut whole = false;
            for (&tsn, d) in self.fragments.range(at + 1..) {
                if tsn != last + 1 {
                    break;
                }
                held += d.payload.len();
                last = tsn;
                if d.flags.end {
                    whole = true;
                    break;
                }
            }
            if !whole {
                self.maybe_start_partial(first, last, held);
                return;
            }
        }
        let (head, data) = self.take_fragments(first, last);
        let message = self.message(&head, data, true);
        self.deliver(Held {
            message,
            first,
            last,
        });
    }

    /// Removes fragments `first..=last` and joins their payloads.
    fn take_fragments(&mut self, first: u64, last: u64) -> (Data, Bytes) {
        let head = self.fragments[&first].clone();
        let data = if first == last {
            head.payload.clone()
        } else {
            let size = self
                .fragments
                .range(first..=last)
                .map(|(_, d)| d.payload.len())
                .sum();
            let mut whole = BytesMut::with_capacity(size);
            for (_, d) in self.fragments.range(first..=last) {
                whole.extend_from_slice(&d.payload);
            }
            whole.freeze()
        };
        for tsn in first..=last {
            self.fragments.remove(&tsn);
        }
        (head, data)
    }

    /// RFC 6458 §8.1.21: the first fragments `first..=last` of a message
    /// that is next in line (unordered, or its SSN is the stream's next)
    /// are delivered as a part once they reach the partial delivery point;
    /// the rest follows as it comes. `held` counts their payload bytes.
    fn maybe_start_partial(&mut self, first: u64, last: u64, held: usize) {
        if self.partial.is_some() {
            return;
        }
        let head = &self.fragments[&first];
        let stream = &self.streams[usize::from(head.stream)];
        if !head.flags.unordered && head.ssn != stream.next_ssn {
            return;
        }
        if held < self.partial_delivery_point {
            return;
        }
        let (head, data) = self.take_fragments(first, last);
        self.partial = Some(Partial {
            stream: head.stream,
            unordered: head.flags.unordered,
            ssn: head.ssn,
            next: last + 1,
        });
        let part = self.message(&head, data, false);
        self.ready.push_back(part);
    }

    /// Delivers what has arrived of the message in parts, and ends the
    /// partial delivery at its last fragment.
    fn continue_partial(&mut self) {
        let Some(partial) = self.partial else {
            return;
        };
        let first = partial.next;
        if !self.fragments.contains_key(&first) {
            return;
        }
        let mut last = first;
        while !self.fragments[&last].flags.end && self.fragments.contains_key(&(last + 1)) {
            last += 1;
        }
        let end = self.fragments[&last].flags.end;
        let (head, data) = self.take_fragments(first, last);
        let mut part = self.message(&head, data, end);
        // The parts carry the message's SSN; the first fragment had it.
        part.ssn = partial.ssn.0;
        self.ready.push_back(part);
        if !end {
            self.partial = Some(Partial {
                next: last + 1,
                ..partial
            });
            return;
        }
        self.partial = None;
        if !partial.unordered {
            self.advance_stream(usize::from(partial.stream));
        }
        // What completed meanwhile goes now, in the order it completed.
        for held in std::mem::take(&mut self.deferred) {
            self.deliver(held);
        }
        self.start_any_partial();
    }

    /// Starts delivering in parts the first message whose first fragments
    /// are deliverable and reach the partial delivery point: one waiting
    /// behind a delivery that just ended could otherwise sit in a full
    /// window with nothing more able to arrive.
    fn start_any_partial(&mut self) {
        if self.partial.is_some() || self.fragments.is_empty() {
            return;
        }
        let starts: Vec<u64> = self
            .fragments
            .iter()
            .filter(|(_, d)| d.flags.beginning)
            .map(|(&t, _)| t)
            .collect();
        for first in starts {
            if self.partial.is_some() {
                return;
            }
            let mut last = first;
            let mut held = self.fragments[&first].payload.len();
            while !self.fragments[&last].flags.end {
                let Some(next) = self.fragments.get(&(last + 1)) else {
                    break;
                };
                held += next.payload.len();
                last += 1;
            }
            if !self.fragments[&last].flags.end {
                self.maybe_start_partial(first, last, held);
            }
        }
    }

    /// Hands a whole message on: unordered at once, ordered in SSN order;
    /// while a message is delivered in parts, everything waits.
    fn deliver(&mut self, held: Held) {
        if self.partial.is_some() {
            self.deferred.push_back(held);
            return;
        }
        let message = &held.message;
        if message.unordered {
            // §6.6: unordered messages go up as soon as they are whole.
            self.ready.push_back(held.message);
            return;
        }
        let i = usize::from(message.stream);
        let ssn = Ssn(message.ssn);
        let stream = &mut self.streams[i];
        if ssn != stream.next_ssn {
            // An SSN already delivered or already waiting is the peer
            // reusing one: the message cannot be placed in order and is
            // dropped (its bytes released, so the window stays true).
            if ssn.is_before(stream.next_ssn) || stream.waiting.contains_key(&ssn.0) {
                self.buffered = self.buffered.saturating_sub(message.data.len());
                return;
            }
            stream.waiting.insert(ssn.0, held);
            return;
        }
        self.ready.push_back(held.message);
        self.advance_stream(i);
    }

    /// Stream `i`'s next message was delivered: so are those waiting
    /// behind it, and a message whose first fragments wait may now start
    /// in parts.
    fn advance_stream(&mut self, i: usize) {
        let stream = &mut self.streams[i];
        stream.next_ssn = stream.next_ssn.next();
        while let Some(held) = stream.waiting.remove(&stream.next_ssn.0) {
            self.ready.push_back(held.message);
            stream.next_ssn = stream.next_ssn.next();
        }
        // The stream's next message may be partly here already.
        self.start_any_partial();
    }

    /// The next message for the user, its bytes still counted against the
    /// window until [`Rx::release`].
    pub(crate) fn recv_held(&mut self) -> Option<Message> {
        let mut m = self.ready.pop_front()?;
        m.cumulative_tsn = self.cum_tsn;
        Some(m)
    }

    /// `bytes` handed out by `recv_held` were consumed.
    pub(crate) fn release(&mut self, bytes: usize) {
        self.buffered = self.buffered.saturating_sub(bytes);
    }

    /// The messages ready for the user, for the association's closed
    /// state to hand out.
    pub(crate) fn into_unread(self) -> VecDeque<Message> {
        self.ready
    }

    pub(crate) fn readable(&self) -> usize {
        self.ready.len()
    }

    /// DATA chunks received and not yet handed to the user (SCTP_STATUS's
    /// sstat_penddata counts these).
    pub(crate) fn pending_chunks(&self) -> usize {
        self.fragments.len()
            + self.ready.len()
            + self.deferred.len()
            + self.streams.iter().map(|s| s.waiting.len()).sum::<usize>()
    }

    /// The stream and SSN of a message being delivered in parts.
    pub(crate) fn partial_delivery(&self) -> Option<(u16, u16)> {
        self.partial.map(|p| (p.stream, p.ssn.0))
    }

    /// The receiver window to advertise.
    pub(crate) fn a_rwnd(&self) -> u32 {
        let window = self.share.map_or(self.window, |s| s.min(self.window));
        u32::try_from(window.saturating_sub(self.buffered)).unwrap_or(u32::MAX)
    }

    /// Limits the window advertised to `share` bytes (`None`: the
    /// configured window alone).
    pub(crate) fn set_share(&mut self, share: Option<usize>) {
        self.share = share;
    }

    /// §6.2: after a read, a SACK is due when the window grew by a full
    /// packet's worth from a small one (or reopened from zero).
    pub(crate) fn window_update_due(&self, mtu: usize) -> bool {
        let now = self.a_rwnd();
        let before = self.advertised as usize;
        now as usize >= before + mtu && before < self.window / 2
    }

    /// Builds the SACK to send now, at most `room` bytes long, and forgets
    /// the duplicates it reports. Gap blocks come first, lowest first (they
    /// steer retransmission); duplicates fill what room is left (§6.2
    /// asks for a SACK that fits, whatever it leaves out).
    pub(crate) fn sack(&mut self, room: usize) -> Sack {
        let entries = room.saturating_sub(SACK_HEADER_LEN) / 4;
        // §6.2: as many gap blocks as fit in the packet.
        let max_blocks = entries;
        let mut gap_blocks = Vec::new();
        let mut run: Option<(u64, u64)> = None;
        for &at in &self.received {
            run = match run {
                Some((s, e)) if at == e + 1 => Some((s, at)),
                Some(block) => {
                    gap_blocks.push(block);
                    Some((at, at))
                }
                None => Some((at, at)),
            };
            if gap_blocks.len() >= max_blocks {
                break;
            }
        }
        if let (Some(block), true) = (run, gap_blocks.len() < max_blocks) {
            gap_blocks.push(block);
        }
        // Offsets are 16 bits: blocks further than that are left out.
        let gap_blocks: Vec<GapBlock> = gap_blocks
            .into_iter()
            .filter(|&(_, e)| e - self.cum <= u64::from(u16::MAX))
            .map(|(s, e)| GapBlock {
                start: (s - self.cum) as u16,
                end: (e - self.cum) as u16,
            })
            .collect();
        let reported = self.duplicates.len().min(entries - gap_blocks.len());
        let duplicate_tsns = self.duplicates.drain(..reported).collect();
        self.duplicates.clear();
        self.advertised = self.a_rwnd();
        Sack {
            cumulative_tsn_ack: self.cum_tsn,
            a_rwnd: self.advertised,
            gap_blocks,
            duplicate_tsns,
        }
    }
}

#[cfg(test)]
mod tests;
