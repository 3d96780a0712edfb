//! The receive side (RFC 9260 §6.2, §6.5, §6.9): TSN tracking, duplicate
//! detection, reassembly, ordered and unordered delivery, the advertised
//! window, and what the next SACK says.
//!
//! TSNs are unwrapped into a 64-bit count from the peer's initial TSN, so
//! the containers here never compare wrapped numbers; every 32-bit TSN that
//! arrives is placed relative to the cumulative TSN ack first.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use bytes::{Bytes, BytesMut};

use crate::chunk::{Data, GapBlock, Sack};
use crate::serial::{Ssn, Tsn};

/// Duplicate TSNs remembered for the next SACK, at most.
const MAX_DUPLICATES: usize = 32;
/// A SACK chunk without gap blocks or duplicates (§3.3.4).
pub(crate) const SACK_HEADER_LEN: usize = 16;

/// A message handed to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Default)]
struct InStream {
    next_ssn: Ssn,
    /// Complete ordered messages waiting for earlier SSNs.
    waiting: HashMap<u16, Message>,
}

#[derive(Debug)]
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
    /// Bytes held: chunks waiting for reassembly or order, and messages
    /// not yet read.
    buffered: usize,
    window: usize,
    /// The a_rwnd last advertised, to know when a window update is due.
    advertised: u32,
}

impl Rx {
    pub(crate) fn new(peer_initial_tsn: Tsn, inbound_streams: u16, window: u32) -> Self {
        Self {
            cum: 0,
            cum_tsn: peer_initial_tsn.prev(),
            received: BTreeSet::new(),
            fragments: BTreeMap::new(),
            duplicates: Vec::new(),
            streams: (0..inbound_streams).map(|_| InStream::default()).collect(),
            ready: VecDeque::new(),
            buffered: 0,
            window: window as usize,
            advertised: window,
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
        // §6.2: beyond the window, new data is dropped. The TSN that fills
        // the cumulative ack is taken up to twice the window, so that a
        // message as large as the window can complete; past that, a peer
        // sending endless fragments is refused too.
        let len = chunk.payload.len();
        let limit = if fills_cum {
            2 * self.window
        } else {
            self.window
        };
        if self.buffered + len > limit {
            return DataVerdict::NoRoom;
        }
        self.buffered += len;
        self.mark(at);
        if chunk.flags.beginning && chunk.flags.end {
            // A whole message in one chunk (the common case) skips the
            // reassembly map.
            self.deliver(
                Message {
                    stream: chunk.stream,
                    ppid: chunk.ppid,
                    unordered: chunk.flags.unordered,
                    data: chunk.payload.clone(),
                },
                chunk.ssn,
            );
        } else {
            self.fragments.insert(at, chunk.clone());
            self.reassemble(at);
        }
        DataVerdict::New
    }

    fn note_duplicate(&mut self, tsn: Tsn) {
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

    /// Assembles the message `at` belongs to if all its fragments are here.
    /// Fragments of one message carry consecutive TSNs (§6.9).
    fn reassemble(&mut self, at: u64) {
        let mut first = at;
        while !self.fragments[&first].flags.beginning {
            match first.checked_sub(1) {
                Some(prev) if self.fragments.contains_key(&prev) => first = prev,
                _ => return,
            }
        }
        let mut last = at;
        while !self.fragments[&last].flags.end {
            if !self.fragments.contains_key(&(last + 1)) {
                return;
            }
            last += 1;
        }
        let mut parts = self.fragments.range(first..=last).map(|(_, d)| d);
        let Some(head) = parts.next().cloned() else {
            return;
        };
        let data = if first == last {
            head.payload.clone()
        } else {
            let mut whole = BytesMut::with_capacity(
                self.fragments
                    .range(first..=last)
                    .map(|(_, d)| d.payload.len())
                    .sum(),
            );
            whole.extend_from_slice(&head.payload);
            parts.for_each(|d| whole.extend_from_slice(&d.payload));
            whole.freeze()
        };
        for tsn in first..=last {
            self.fragments.remove(&tsn);
        }
        let message = Message {
            stream: head.stream,
            ppid: head.ppid,
            unordered: head.flags.unordered,
            data,
        };
        self.deliver(message, head.ssn);
    }

    /// Hands a whole message on: unordered at once, ordered in SSN order.
    fn deliver(&mut self, message: Message, ssn: Ssn) {
        if message.unordered {
            // §6.6: unordered messages go up as soon as they are whole.
            self.ready.push_back(message);
            return;
        }
        let stream = &mut self.streams[usize::from(message.stream)];
        if ssn != stream.next_ssn {
            // An SSN already delivered or already waiting is the peer
            // reusing one: the message cannot be placed in order and is
            // dropped (its bytes released, so the window stays true).
            if ssn.is_before(stream.next_ssn) || stream.waiting.contains_key(&ssn.0) {
                self.buffered = self.buffered.saturating_sub(message.data.len());
                return;
            }
            stream.waiting.insert(ssn.0, message);
            return;
        }
        self.ready.push_back(message);
        stream.next_ssn = stream.next_ssn.next();
        while let Some(m) = stream.waiting.remove(&stream.next_ssn.0) {
            self.ready.push_back(m);
            stream.next_ssn = stream.next_ssn.next();
        }
    }

    /// The next message for the user.
    pub(crate) fn recv(&mut self) -> Option<Message> {
        let m = self.ready.pop_front()?;
        self.buffered = self.buffered.saturating_sub(m.data.len());
        Some(m)
    }

    /// The messages ready for the user, for the association's closed
    /// state to hand out.
    pub(crate) fn into_unread(self) -> VecDeque<Message> {
        self.ready
    }

    pub(crate) fn readable(&self) -> usize {
        self.ready.len()
    }

    /// The receiver window to advertise.
    pub(crate) fn a_rwnd(&self) -> u32 {
        u32::try_from(self.window.saturating_sub(self.buffered)).unwrap_or(u32::MAX)
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
mod tests {
    use super::*;
    use crate::chunk::DataFlags;

    const FIRST: Tsn = Tsn(0xffff_fff0);

    /// DATA `n` TSNs after the first, on `stream` with `ssn`.
    fn chunk(n: u32, stream: u16, ssn: u16, flags: DataFlags, payload: &'static [u8]) -> Data {
        Data {
            flags,
            tsn: Tsn(FIRST.0.wrapping_add(n)),
            stream,
            ssn: Ssn(ssn),
            ppid: 7,
            payload: Bytes::from_static(payload),
        }
    }

    fn whole(n: u32, ssn: u16, payload: &'static [u8]) -> Data {
        chunk(n, 0, ssn, DataFlags::WHOLE, payload)
    }

    fn fragment(n: u32, ssn: u16, beginning: bool, end: bool, payload: &'static [u8]) -> Data {
        let flags = DataFlags {
            beginning,
            end,
            ..DataFlags::WHOLE
        };
        chunk(n, 0, ssn, flags, payload)
    }

    fn rx() -> Rx {
        Rx::new(FIRST, 2, 64 * 1024)
    }

    fn drain(rx: &mut Rx) -> Vec<Bytes> {
        std::iter::from_fn(|| rx.recv()).map(|m| m.data).collect()
    }

    #[test]
    fn the_cumulative_ack_follows_contiguous_tsns_across_the_wrap() {
        let mut rx = rx();
        assert_eq!(rx.cumulative_tsn(), FIRST.prev());
        for n in 0..20 {
            assert_eq!(rx.on_data(&whole(n, n as u16, b"m")), DataVerdict::New);
        }
        // Twenty TSNs from 0xffff_fff0: the sixteenth wrapped to 0.
        assert_eq!(rx.cumulative_tsn(), Tsn(3));
        assert!(!rx.has_gaps());
        assert_eq!(drain(&mut rx).len(), 20);
    }

    #[test]
    fn gaps_are_reported_lowest_first_and_duplicates_once() {
        let mut rx = rx();
        for n in [0, 2, 3, 6] {
            rx.on_data(&chunk(
                n,
                1,
                0,
                DataFlags {
                    unordered: true,
                    ..DataFlags::WHOLE
                },
                b"u",
            ));
        }
        assert!(rx.has_gaps());
        assert_eq!(
            rx.on_data(&chunk(3, 1, 0, DataFlags::WHOLE, b"u")),
            DataVerdict::Duplicate
        );
        // A TSN at or below the cumulative ack is a duplicate too.
        assert_eq!(rx.on_data(&whole(0, 0, b"u")), DataVerdict::Duplicate);
        let sack = rx.sack(1500);
        assert_eq!(sack.cumulative_tsn_ack, FIRST);
        let blocks: Vec<(u16, u16)> = sack.gap_blocks.iter().map(|b| (b.start, b.end)).collect();
        assert_eq!(blocks, [(2, 3), (6, 6)]);
        assert_eq!(sack.duplicate_tsns, [Tsn(FIRST.0 + 3), FIRST]);
        // Reported once: the next SACK has none.
        assert!(rx.sack(1500).duplicate_tsns.is_empty());
    }

    #[test]
    fn a_sack_is_cut_to_the_room_it_has() {
        let mut rx = rx();
        // Every other TSN: 50 gaps.
        for n in (2..102).step_by(2) {
            rx.on_data(&chunk(
                n,
                1,
                0,
                DataFlags {
                    unordered: true,
                    ..DataFlags::WHOLE
                },
                b"u",
            ));
        }
        let room = SACK_HEADER_LEN + 10 * 4;
        let sack = rx.sack(room);
        assert_eq!(sack.gap_blocks.len(), 10);
        // Offsets count from the cumulative ack, one before the first TSN.
        assert_eq!(sack.gap_blocks[0].start, 3);
    }

    #[test]
    fn fragments_arriving_in_any_order_make_one_message() {
        let mut rx = rx();
        rx.on_data(&fragment(2, 0, false, true, b"C"));
        rx.on_data(&fragment(0, 0, true, false, b"A"));
        assert_eq!(rx.readable(), 0);
        // The same middle fragment twice: counted once.
        rx.on_data(&fragment(1, 0, false, false, b"B"));
        assert_eq!(
            rx.on_data(&fragment(1, 0, false, false, b"B")),
            DataVerdict::Duplicate
        );
        assert_eq!(drain(&mut rx), [Bytes::from_static(b"ABC")]);
        // Nothing of it is left held.
        assert_eq!(rx.a_rwnd(), 64 * 1024);
    }

    #[test]
    fn ordered_messages_wait_for_their_turn_unordered_do_not() {
        let mut rx = rx();
        rx.on_data(&whole(1, 1, b"second"));
        rx.on_data(&chunk(
            2,
            0,
            0,
            DataFlags {
                unordered: true,
                ..DataFlags::WHOLE
            },
            b"loose",
        ));
        assert_eq!(drain(&mut rx), [Bytes::from_static(b"loose")]);
        rx.on_data(&whole(0, 0, b"first"));
        assert_eq!(
            drain(&mut rx),
            [Bytes::from_static(b"first"), Bytes::from_static(b"second")]
        );
    }

    #[test]
    fn the_window_shrinks_with_what_is_held_and_reopens_when_read() {
        let mut rx = Rx::new(FIRST, 1, 4000);
        static BIG: [u8; 1500] = [1; 1500];
        rx.on_data(&whole(0, 0, &BIG));
        rx.on_data(&whole(1, 1, &BIG));
        assert_eq!(rx.a_rwnd(), 1000);
        // Beyond the window, a TSN past a gap is refused.
        assert_eq!(rx.on_data(&whole(3, 3, &BIG)), DataVerdict::NoRoom);
        rx.sack(1500);
        drain(&mut rx);
        assert_eq!(rx.a_rwnd(), 4000);
        assert!(rx.window_update_due(1200));
    }

    #[test]
    fn a_stream_that_does_not_exist_is_acknowledged_and_reported() {
        let mut rx = rx();
        assert_eq!(
            rx.on_data(&chunk(0, 9, 0, DataFlags::WHOLE, b"x")),
            DataVerdict::InvalidStream
        );
        assert_eq!(rx.cumulative_tsn(), FIRST);
        assert_eq!(rx.readable(), 0);
    }
}
