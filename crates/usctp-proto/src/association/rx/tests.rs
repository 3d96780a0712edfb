//! Component tests of the receive side: TSN tracking across the wrap,
//! gaps and duplicates in SACKs, SACKs cut to room, reassembly, ordering,
//! the window (held until released, reneging), partial delivery.

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
    Rx::new(FIRST, 2, 64 * 1024, usize::MAX)
}

/// Everything readable, its bytes released as a user's read does.
fn drain(rx: &mut Rx) -> Vec<Bytes> {
    drain_messages(rx).into_iter().map(|m| m.data).collect()
}

fn drain_messages(rx: &mut Rx) -> Vec<Message> {
    let messages: Vec<Message> = std::iter::from_fn(|| rx.recv_held()).collect();
    rx.release(messages.iter().map(|m| m.data.len()).sum());
    messages
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
    let mut rx = Rx::new(FIRST, 1, 4000, usize::MAX);
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

#[test]
fn read_bytes_stay_in_the_window_until_released() {
    let mut rx = Rx::new(FIRST, 1, 4000, usize::MAX);
    static BIG: [u8; 1500] = [1; 1500];
    rx.on_data(&whole(0, 0, &BIG));
    let m = rx.recv_held().unwrap();
    // Taken from the queue, not yet consumed by the user.
    assert_eq!(rx.a_rwnd(), 2500);
    rx.release(m.data.len());
    assert_eq!(rx.a_rwnd(), 4000);
}

#[test]
fn a_chunk_below_what_is_held_takes_the_room_of_the_highest() {
    // §6.2: the receiver may renege on data it holds past a gap; the
    // chunk that moves the cumulative ack must not be the one dropped.
    let mut rx = Rx::new(FIRST, 1, 3000, usize::MAX);
    static BIG: [u8; 1500] = [1; 1500];
    assert_eq!(rx.on_data(&whole(1, 1, &BIG)), DataVerdict::New);
    assert_eq!(rx.on_data(&whole(2, 2, &BIG)), DataVerdict::New);
    assert_eq!(rx.a_rwnd(), 0);
    assert_eq!(rx.on_data(&whole(0, 0, &BIG)), DataVerdict::New);
    // TSN 2 was given up: the cumulative ack reaches TSN 1, no gap left.
    assert_eq!(rx.cumulative_tsn(), Tsn(FIRST.0.wrapping_add(1)));
    assert!(!rx.has_gaps());
    assert_eq!(drain(&mut rx).len(), 2);
    // Sent again, it is new.
    assert_eq!(rx.on_data(&whole(2, 2, &BIG)), DataVerdict::New);
}

#[test]
fn a_message_reaching_the_partial_delivery_point_is_delivered_in_parts() {
    let mut rx = Rx::new(FIRST, 1, 4000, 1000);
    static PART: [u8; 800] = [9; 800];
    rx.on_data(&fragment(0, 0, true, false, &PART));
    assert_eq!(rx.readable(), 0, "below the point");
    rx.on_data(&fragment(1, 0, false, false, &PART));
    let parts = drain_messages(&mut rx);
    assert_eq!(parts.iter().map(|m| m.data.len()).sum::<usize>(), 1600);
    assert!(parts.iter().all(|m| !m.end_of_record));
    assert_eq!(rx.partial_delivery(), Some((0, 0)));
    // More than the window in all: the window is never exceeded.
    for n in 2..8 {
        rx.on_data(&fragment(n, 0, false, false, &PART));
        drain(&mut rx);
    }
    rx.on_data(&fragment(8, 0, false, true, &PART));
    let last = drain_messages(&mut rx);
    assert!(last.last().unwrap().end_of_record);
    assert_eq!(rx.partial_delivery(), None);
    assert_eq!(rx.a_rwnd(), 4000);
}
