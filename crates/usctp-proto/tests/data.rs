//! RFC 9260 §6: user data transfer on an established association: when
//! DATA may flow, acknowledgement (§6.2), sending within the windows
//! (§6.1), streams and ordering (§6.5, §6.6) and fragmentation (§6.9),
//! played with raw packets against the sans-IO endpoint.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::*;
use usctp_proto::association::{AssociationError, AssociationState, Event, SendError};
use usctp_proto::chunk::{Chunk, Data, DataFlags, ErrorCause, GapBlock, Sack};
use usctp_proto::config::Config;
use usctp_proto::serial::{Ssn, Tsn};

/// The tester's Initiate Tag.
const PEER: u32 = 0x6900_0001;

// ---- §5.1, §6: when DATA may flow ----

#[test]
fn no_data_is_taken_or_sent_before_the_association_is_up() {
    // §6: DATA goes out only from ESTABLISHED on (this end never bundles
    // DATA with its COOKIE ECHO).
    let (mut t, id) = client();
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::CookieWait);
    assert_eq!(
        assoc.send(0, 7, Bytes::from_static(b"early"), false),
        Err(SendError::NotOpen)
    );
    let (ours, _) = answer_init(&mut t, PEER, vec![]);
    let echo = t.sent_one();
    assert!(matches!(echo.only(), Chunk::CookieEcho(_)));
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::CookieEchoed);
    assert_eq!(
        assoc.send(0, 7, Bytes::from_static(b"early"), false),
        Err(SendError::NotOpen)
    );
    // The COOKIE ECHO goes again on T1-cookie, still without DATA.
    t.advance(Duration::from_secs(1));
    let again = t.sent_one();
    assert!(matches!(again.only(), Chunk::CookieEcho(_)));
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    user_sends(&mut t, id, b"now");
    let data = data_in(&t.sent());
    assert_eq!(data.len(), 1);
    assert_eq!(&data[0].payload[..], b"now");
}

#[test]
fn data_bundled_with_cookie_echo_is_acknowledged_with_the_cookie_ack() {
    // §5.1 (D), §6.10: DATA may follow the COOKIE ECHO; its SACK rides with
    // the COOKIE ACK (ETSI sctp-bdc-v-7-4).
    let (mut t, ack) = init_acked(0x4242);
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(
        ack.initiate_tag,
        &[
            cookie_echo(&cookie),
            tester_data(TESTER_TSN, 0, 0, b"early"),
        ],
    );
    let reply = t.sent_one();
    assert!(
        matches!(&reply.packet.chunks[..], [Chunk::CookieAck, Chunk::Sack(s)] if s.cumulative_tsn_ack == Tsn(TESTER_TSN))
    );
    let events = t.events();
    let id = events[0].0;
    assert_eq!(recv_all(&mut t, id), [(0, Bytes::from_static(b"early"))]);
}

#[test]
fn data_bundled_with_cookie_ack_is_acknowledged_at_once() {
    // §5.1 (E): the client side (ETSI sctp-bdc-v-7-5).
    let (mut t, id, ours, _) = cookie_echoed(0x4343);
    t.send(
        ours.initiate_tag,
        &[Chunk::CookieAck, tester_data(77, 0, 0, b"hello")],
    );
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(77));
    assert_eq!(recv_all(&mut t, id), [(0, Bytes::from_static(b"hello"))]);
}

/// RFC 9260 §5.1: the Cumulative TSN Ack Point starts at the Initial TSN
/// minus one: the first DATA carries the Initial TSN the INIT ACK
/// announced, and a SACK for the TSN before it acknowledges nothing.
#[test]
fn first_data_carries_the_initial_tsn() {
    let (mut t, iut_tag, id, initial_tsn) = established_with(Config::default(), 0x3838_0001);
    user_sends(&mut t, id, b"first");
    let sent = t.sent_one();
    let [Chunk::Data(d)] = &sent.packet.chunks[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(d.tsn, initial_tsn);
    t.send(iut_tag, &[sack_with(initial_tsn.prev(), 65_536, &[])]);
    t.sent_nothing();
    t.advance(Duration::from_secs(1));
    let again = t.sent_one();
    assert!(
        matches!(&again.packet.chunks[..], [Chunk::Data(r)] if r.tsn == initial_tsn),
        "not acknowledged, so retransmitted: {again:?}"
    );
}

// ---- §6.2: acknowledgement ----

#[test]
fn single_packet_is_acknowledged_after_the_sack_delay() {
    // §5.1: the association's first DATA is acknowledged at once; §6.2:
    // after that SACK.Delay (200 ms) when nothing else prompts a SACK.
    let (mut t, tag, id) = established(PEER);
    t.send(tag, &[tester_data(TESTER_TSN, 0, 0, b"one")]);
    assert_eq!(sack_of(&t.sent_one()).cumulative_tsn_ack, Tsn(TESTER_TSN));
    assert!(matches!(t.events()[..], [(_, Event::Readable)]));
    assert_eq!(recv_all(&mut t, id), [(0, Bytes::from_static(b"one"))]);
    t.send(tag, &[tester_data(TESTER_TSN + 1, 0, 1, b"two")]);
    t.sent_nothing();
    t.quiet_for(Duration::from_millis(199));
    t.advance(Duration::from_millis(1));
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN + 1));
    assert!(sack.gap_blocks.is_empty());
}

#[test]
fn every_second_packet_is_acknowledged_at_once() {
    // §6.2: a SACK at least for every second packet with DATA (after the
    // first DATA, which §5.1 has acknowledged at once).
    let (mut t, tag, _) = established(PEER);
    t.send(tag, &[tester_data(TESTER_TSN, 0, 0, b"a")]);
    assert_eq!(sack_of(&t.sent_one()).cumulative_tsn_ack, Tsn(TESTER_TSN));
    t.send(tag, &[tester_data(TESTER_TSN + 1, 0, 1, b"b")]);
    t.sent_nothing();
    t.send(tag, &[tester_data(TESTER_TSN + 2, 0, 2, b"c")]);
    assert_eq!(
        sack_of(&t.sent_one()).cumulative_tsn_ack,
        Tsn(TESTER_TSN + 2)
    );
}

#[test]
fn a_gap_is_reported_at_once_and_filled_later() {
    // §6.2, §6.7: out-of-order DATA gets an immediate SACK with gap blocks.
    let (mut t, tag, id) = established(PEER);
    t.send(tag, &[tester_data(TESTER_TSN + 2, 0, 2, b"c")]);
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN - 1));
    assert_eq!(sack.gap_blocks, [GapBlock { start: 3, end: 3 }]);
    t.send(tag, &[tester_data(TESTER_TSN, 0, 0, b"a")]);
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN));
    assert_eq!(sack.gap_blocks, [GapBlock { start: 2, end: 2 }]);
    // Ordered delivery waits for SSN 1.
    assert_eq!(recv_all(&mut t, id), [(0, Bytes::from_static(b"a"))]);
    t.send(tag, &[tester_data(TESTER_TSN + 1, 0, 1, b"b")]);
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN + 2));
    assert!(sack.gap_blocks.is_empty());
    assert_eq!(
        recv_all(&mut t, id),
        [(0, Bytes::from_static(b"b")), (0, Bytes::from_static(b"c"))]
    );
}

#[test]
fn duplicates_are_reported_and_delivered_once() {
    // §6.2, §3.3.4: duplicate TSNs go in the next SACK, which is sent at once.
    let (mut t, tag, id) = established(PEER);
    t.send(tag, &[tester_data(TESTER_TSN, 0, 0, b"a")]);
    t.send(tag, &[tester_data(TESTER_TSN, 0, 0, b"a")]);
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.duplicate_tsns, [Tsn(TESTER_TSN)]);
    assert_eq!(recv_all(&mut t, id).len(), 1);
}

/// An endpoint told what its transport can hold for all associations
/// (`set_receive_budget`, a UDP socket's receive buffer) advertises an
/// equal share of it per association, so that many senders at once fill
/// their windows instead of overflowing the socket (§6.2: the receiver
/// says what it can take). A second association halves the share.
#[test]
fn the_receive_budget_is_shared_among_the_associations() {
    let (mut t, tag, _) = established(PEER);
    t.iut.set_receive_budget(Some(60_000));
    t.send(tag, &[tester_data(TESTER_TSN, 0, 0, [1; 100])]);
    let sack = only_sack(&t.sent());
    assert_eq!(sack.a_rwnd, 60_000 - 100);
    // A second association, from another address of the tester's.
    let first = t.from;
    t.from = "10.0.9.9:9899".parse().unwrap();
    let ack = send_init(&mut t, init(PEER + 1));
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    t.from = first;
    t.send(tag, &[tester_data(TESTER_TSN + 1, 0, 1, [1; 100])]);
    t.advance(Duration::from_millis(250));
    let sacks = sacks_in(&t.sent());
    assert_eq!(sacks.last().unwrap().a_rwnd, 30_000 - 200);
    // Without a budget, the configured window again.
    t.iut.set_receive_budget(None);
    t.send(tag, &[tester_data(TESTER_TSN + 2, 0, 2, [1; 100])]);
    t.advance(Duration::from_millis(250));
    let sacks = sacks_in(&t.sent());
    let window = Config::default().receive_window;
    assert_eq!(sacks.last().unwrap().a_rwnd, window - 300);
}

#[test]
fn data_beyond_the_receive_window_is_dropped_left_out_of_the_sack_and_said_at_once() {
    // §6.2: a dropped DATA chunk gets an immediate SACK that does not
    // acknowledge it.
    let (mut t, iut_tag, id, _) = established_configured(PEER, |c| c.receive_window = 1500);
    t.send(iut_tag, &[in_sequence(TESTER_TSN + 1, [1; 1000])]);
    let sacks = sacks_in(&t.sent());
    assert_eq!(sacks[0].gap_blocks, [GapBlock { start: 2, end: 2 }]);
    assert_eq!(sacks[0].a_rwnd, 500);
    // No room for this one.
    t.send(iut_tag, &[in_sequence(TESTER_TSN + 2, [2; 1000])]);
    let sack = only_sack(&t.sent());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN - 1));
    assert_eq!(sack.gap_blocks, [GapBlock { start: 2, end: 2 }]);
    assert_eq!(sack.a_rwnd, 500);
    // Filling the gap acknowledges TESTER_TSN and TESTER_TSN + 1, not the dropped TESTER_TSN + 2.
    t.send(iut_tag, &[in_sequence(TESTER_TSN, [0; 100])]);
    let sacks = sacks_in(&t.sent());
    assert_eq!(sacks[0].cumulative_tsn_ack, Tsn(TESTER_TSN + 1));
    assert!(sacks[0].gap_blocks.is_empty());
    let mut assoc = t.iut.association_mut(id).unwrap();
    let got: Vec<usize> = std::iter::from_fn(|| assoc.recv())
        .map(|m| m.data.len())
        .collect();
    assert_eq!(got, [100, 1000]);
}

#[test]
fn window_updates_wait_until_the_window_has_grown_by_a_packet() {
    // §6.2: receiver silly window avoidance, and no burst of window
    // updates: reading three messages announces the window once.
    let (mut t, iut_tag, id, _) = established_configured(PEER, |c| c.receive_window = 4000);
    for i in 0..3 {
        t.send(iut_tag, &[in_sequence(TESTER_TSN + i, [9; 1000])]);
    }
    t.advance(Duration::from_millis(200));
    let sacks = sacks_in(&t.sent());
    assert_eq!(
        sacks.last().unwrap().cumulative_tsn_ack,
        Tsn(TESTER_TSN + 2)
    );
    assert_eq!(sacks.last().unwrap().a_rwnd, 1000);
    let mut updates = Vec::new();
    for _ in 0..3 {
        assert!(t.iut.association_mut(id).unwrap().recv().is_some());
        updates.push(
            sacks_in(&t.sent())
                .iter()
                .map(|s| s.a_rwnd)
                .collect::<Vec<_>>(),
        );
    }
    // 1000 -> 2000 is less than a packet: no update; 3000 is; 4000 follows
    // a window already half open.
    assert_eq!(updates, [vec![], vec![3000], vec![]]);
}

#[test]
fn sack_delay_above_500_ms_is_refused() {
    // §6.2: SACK.Delay cannot be configured above 500 ms.
    let at = |ms| Config::default().with_sack_delay(Duration::from_millis(ms));
    assert_eq!(at(500).validate(), Ok(()));
    assert!(at(501).validate().is_err());
    let (mut t, _iut_tag, id) = established(PEER);
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert!(assoc.set_config(at(501)).is_err());
    assert_eq!(assoc.config().sack_delay, Duration::from_millis(200));
    assert_connect_refused(&mut t, at(600));
}

#[test]
#[should_panic(expected = "SACK.Delay")]
fn an_endpoint_with_sack_delay_above_500_ms_is_refused() {
    // §6.2: the endpoint's own configuration cannot raise SACK.Delay
    // beyond 500 ms either; 500 ms itself is taken.
    let at = |ms| Config::default().with_sack_delay(Duration::from_millis(ms));
    Tester::with_config(at(500), true);
    Tester::with_config(at(501), true);
}

/// The tester sends `count` packets of DATA, each one TSN beyond a gap
/// (TSNs 1, 3, 5, … after the first): each draws a SACK at once, in
/// packets of at most `packet_size` bytes; returns the last SACK.
#[track_caller]
fn sack_after_gaps(t: &mut Tester, iut_tag: u32, count: u32, packet_size: usize) -> Sack {
    let mut last = None;
    for i in 0..count {
        t.send(iut_tag, &[in_sequence(TESTER_TSN + 1 + 2 * i, b"x")]);
        let sent = t.sent();
        assert!(sent.iter().all(|s| s.size <= packet_size), "{sent:#?}");
        last = Some(only_sack(&sent));
    }
    let last = last.unwrap();
    assert_eq!(last.cumulative_tsn_ack, Tsn(TESTER_TSN - 1));
    last
}

/// The lowest `count` gap blocks of `sack_after_gaps`.
fn lowest_gap_blocks(count: usize) -> Vec<GapBlock> {
    (0..count as u16)
        .map(|i| GapBlock {
            start: 2 + 2 * i,
            end: 2 + 2 * i,
        })
        .collect()
}

#[test]
fn gap_blocks_that_are_left_out_are_the_highest() {
    // §6.7: when not every gap block can be reported, one SACK reports
    // them from the lowest TSN up and leaves the highest out; §6.2: as
    // many as fit in the packet.
    let (mut t, iut_tag, _id) = established(PEER);
    let max = Config::default().max_packet_size;
    let last = sack_after_gaps(&mut t, iut_tag, 400, max);
    // The packet less the common header and the SACK's own 16 bytes.
    assert_eq!(last.gap_blocks.len(), (max - 12 - 16) / 4);
    assert_eq!(last.gap_blocks, lowest_gap_blocks(last.gap_blocks.len()));
}

#[test]
fn sacks_fit_small_packets_whatever_the_gaps() {
    // §6.2, §6.7: with 400-byte packets and hundreds of gaps, every packet
    // of DATA still draws one SACK, cut to the gap blocks that fit (the
    // lowest), and no packet exceeds the size.
    let (mut t, iut_tag, _id, _) = established_configured(PEER, |c| c.max_packet_size = 400);
    let last = sack_after_gaps(&mut t, iut_tag, 300, 400);
    assert_eq!(last.gap_blocks, lowest_gap_blocks((400 - 12 - 16) / 4));
}

// ---- §6.1: sending ----

#[test]
fn a_sack_bundled_with_data_goes_first_and_the_packet_stays_within_the_mtu() {
    // §6 (2), §6.10: control chunks before DATA; §6.9, §6.10: the packet
    // with a SACK in it still fits the packet size.
    let (mut t, iut_tag, id) = established(PEER);
    // A delayed SACK is pending when the user sends (the first DATA of
    // the association is acknowledged at once, §5.1; the second waits).
    t.send(iut_tag, &[in_sequence(TESTER_TSN, b"first")]);
    assert_eq!(sacks_in(&t.sent()).len(), 1);
    t.send(iut_tag, &[in_sequence(TESTER_TSN + 1, b"theirs")]);
    t.sent_nothing();
    let mut message: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    user_sends(&mut t, id, vec![8; 500]);
    user_sends(&mut t, id, message.clone());
    message.splice(0..0, [8; 500]);
    let sent = t.sent();
    let max = Config::default().max_packet_size;
    for s in &sent {
        assert!(s.size <= max, "{} bytes", s.size);
        let first_data = s
            .packet
            .chunks
            .iter()
            .position(|c| matches!(c, Chunk::Data(_)));
        if let Some(first) = first_data {
            assert!(
                s.packet.chunks[first..]
                    .iter()
                    .all(|c| matches!(c, Chunk::Data(_))),
                "control chunk after DATA: {:?}",
                s.packet.chunks
            );
        }
    }
    assert!(
        matches!(sent[0].packet.chunks[0], Chunk::Sack(ref s) if s.cumulative_tsn_ack == Tsn(TESTER_TSN + 1)),
        "{:?}",
        sent[0].packet.chunks
    );
    assert!(
        sent[0].packet.chunks.len() > 1,
        "the SACK rides with DATA: {:?}",
        sent[0].packet.chunks
    );
    let joined: Vec<u8> = data_in(&sent)
        .iter()
        .flat_map(|d| d.payload.to_vec())
        .collect();
    assert_eq!(joined, message);
}

#[test]
fn a_small_peer_window_is_not_filled_with_part_of_a_chunk() {
    // §6.1 A and sender-side silly window avoidance: with DATA in flight
    // and a window smaller than the next chunk, nothing goes; the chunk is
    // never cut to fit the window.
    let (mut t, iut_tag, id) = established(PEER);
    user_sends(&mut t, id, vec![1; 10]);
    let first = data_in(&t.sent());
    assert_eq!(first.len(), 1);
    t.send(iut_tag, &[sack_with(first[0].tsn.prev(), 100, &[])]);
    user_sends(&mut t, id, vec![2; 1000]);
    assert!(data_in(&t.sent()).is_empty(), "the window holds 90 bytes");
    t.send(iut_tag, &[sack_with(first[0].tsn, 2000, &[])]);
    let next = data_in(&t.sent());
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].payload.len(), 1000, "sent whole");
    assert_eq!(next[0].tsn, first[0].tsn.next());
}

#[test]
fn zero_window_allows_one_probe() {
    // §6.1 A: with a_rwnd 0 and nothing in flight, one DATA chunk probes.
    let (mut t, tag, id, first) = with_outstanding_data(PEER, b"a");
    t.send(tag, &[sack_with(first.tsn, 0, &[])]);
    for _ in 0..3 {
        user_sends(&mut t, id, b"b");
    }
    assert_eq!(data_in(&t.sent()).len(), 1, "one probe only");
}

#[test]
fn the_send_buffer_keeps_tsns_within_half_the_serial_space() {
    // §6.1: no TSN more than 2^31 - 1 above the oldest unacknowledged one.
    // Each outstanding chunk holds a byte at least, and the buffer holds at
    // most `send_buffer` bytes plus one message: configurations that could
    // exceed the bound are refused.
    let with = |send_buffer: usize, max_message_size: usize| {
        Config::default()
            .with_send_buffer(send_buffer)
            .with_max_message_size(max_message_size)
    };
    assert_eq!(with(1 << 30, (1 << 30) - 1).validate(), Ok(()));
    assert!(with(1 << 30, 1 << 30).validate().is_err());
    assert!(with(1 << 31, 1).validate().is_err());
    assert!(with(usize::MAX, 1).validate().is_err());
    let (mut t, _iut_tag, id) = established(PEER);
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert!(assoc.set_config(with(1 << 31, 1)).is_err());
    assert_eq!(assoc.config().send_buffer, Config::default().send_buffer);
}

#[test]
fn sends_are_refused_on_unknown_streams_and_when_empty() {
    let (mut t, _, id) = established(PEER);
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert_eq!(
        assoc.send(5, 0, Bytes::from_static(b"x"), false),
        Err(SendError::InvalidStream(5))
    );
    assert_eq!(
        assoc.send(0, 0, Bytes::new(), false),
        Err(SendError::EmptyMessage)
    );
}

// ---- §6.5, §6.6: streams ----

#[test]
fn streams_do_not_block_each_other() {
    // §1.3 multi-streaming: a gap on stream 0 does not hold stream 1.
    let (mut t, tag, id) = established(PEER);
    t.send(tag, &[tester_data(TESTER_TSN + 1, 1, 0, b"s1")]);
    assert_eq!(recv_all(&mut t, id), [(1, Bytes::from_static(b"s1"))]);
}

#[test]
fn data_on_an_unknown_stream_gets_invalid_stream_identifier() {
    // §6.5: ERROR with Invalid Stream Identifier; the TSN is acknowledged.
    let (mut t, tag, id) = established(PEER);
    t.send(tag, &[tester_data(TESTER_TSN, 9, 0, b"x")]);
    let sent = t.sent_one();
    assert!(
        sent.packet
            .chunks
            .contains(&error(ErrorCause::InvalidStreamIdentifier(9)))
    );
    assert_eq!(sack_of(&sent).cumulative_tsn_ack, Tsn(TESTER_TSN));
    assert!(recv_all(&mut t, id).is_empty());
}

#[test]
fn data_without_user_data_aborts_with_no_user_data() {
    // §6.2: an empty DATA chunk is a protocol violation.
    let (mut t, tag, id) = established(PEER);
    t.send(tag, &[tester_data(TESTER_TSN, 0, 0, b"")]);
    let sent = t.sent_one();
    assert_eq!(sent.vtag(), PEER);
    assert!(
        matches!(sent.only(), Chunk::Abort(a) if a.causes == [ErrorCause::NoUserData(Tsn(TESTER_TSN))])
    );
    let events = t.events();
    assert!(
        matches!(&events[..], [(i, Event::Lost(AssociationError::ProtocolViolation(_)))] if *i == id),
        "{events:?}"
    );
}

#[test]
fn stream_sequence_numbers_start_at_0_count_ordered_messages_and_wrap() {
    // §6.5: SSNs start at 0, go up by one per ordered message, wrap from
    // 65535 to 0, and unordered messages leave them alone.
    let (mut t, iut_tag, id) = established(PEER);
    let ordered = 65_538usize;
    user_sends_on(&mut t, id, 1, vec![0], true);
    for i in 0..ordered {
        user_sends_on(&mut t, id, 1, vec![1], false);
        if i == 1 || i == 65_535 {
            user_sends_on(&mut t, id, 1, vec![0], true);
        }
    }
    let mut ssns = Vec::new();
    let mut unordered = 0;
    loop {
        let data = data_in(&t.sent());
        let Some(last) = data.last() else { break };
        for d in &data {
            assert_eq!(d.stream, 1);
            if d.flags.unordered {
                unordered += 1;
            } else {
                ssns.push(d.ssn.0);
            }
        }
        t.send(iut_tag, &[sack_with(last.tsn, 1_000_000, &[])]);
    }
    assert_eq!(unordered, 3);
    assert_eq!(ssns.len(), ordered);
    for (i, &ssn) in ssns.iter().enumerate() {
        assert_eq!(usize::from(ssn), i % 65_536, "message {i}");
    }
}

#[test]
fn at_most_65535_ordered_messages_of_a_stream_are_in_the_send_window() {
    // §6.1: with the first message never acknowledged, the sender stops
    // after 65,535 ordered messages on a stream (so SSN 0 is not reused
    // while its first holder is outstanding), and goes on once it is.
    let (mut t, iut_tag, id) = established(PEER);
    let total = 65_600usize;
    for _ in 0..total {
        user_sends(&mut t, id, vec![1]);
    }
    let mut first = None;
    let mut new = std::collections::BTreeSet::new();
    loop {
        let data = data_in(&t.sent());
        let before = new.len();
        for d in &data {
            first.get_or_insert(d.tsn);
            new.insert(d.tsn.0);
        }
        if new.len() == before {
            break;
        }
        // Everything but the first TSN is acknowledged by a gap block.
        let first = first.expect("data went out");
        let highest = *new.last().unwrap();
        let end = u16::try_from(highest - first.0 + 1).expect("within a gap block's reach");
        t.send(iut_tag, &[sack_with(first.prev(), 1 << 30, &[(2, end)])]);
    }
    assert_eq!(new.len(), 65_535, "ordered messages in the window");
    // The first message acknowledged: the rest follows, SSNs wrapping.
    let first = first.unwrap();
    let mut ssns = Vec::new();
    let mut cum = Tsn(first.0 + 65_534);
    t.send(iut_tag, &[sack_with(cum, 1 << 30, &[])]);
    loop {
        let data = data_in(&t.sent());
        let Some(last) = data.last() else { break };
        ssns.extend(data.iter().filter(|d| d.tsn.0 > cum.0).map(|d| d.ssn.0));
        cum = last.tsn;
        t.send(iut_tag, &[sack_with(cum, 1 << 30, &[])]);
    }
    let expected: Vec<u16> = (65_535..total).map(|i| (i % 65_536) as u16).collect();
    assert_eq!(ssns, expected);
}

/// The tester's unordered message, with the SSN `ssn` that means nothing.
fn unordered(tsn: u32, ssn: u16, payload: &'static [u8]) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags {
            unordered: true,
            ..DataFlags::WHOLE
        },
        tsn: Tsn(tsn),
        ssn: Ssn(ssn),
        payload: Bytes::from_static(payload),
        ..DATA
    })
}

#[test]
fn unordered_messages_are_delivered_as_soon_as_whole() {
    // §6.6.
    let (mut t, tag, id) = established(PEER);
    t.send(tag, &[unordered(TESTER_TSN + 1, 0, b"u")]);
    let got = t.iut.association_mut(id).unwrap().recv().unwrap();
    assert!(got.unordered);
    assert_eq!(&got.data[..], b"u");
}

/// RFC 9260 §3.3.1, §6.6: the receiver ignores the SSN of unordered DATA:
/// unordered chunks with SSNs far ahead are delivered at once, in one
/// packet with an ordered chunk or each in a packet of its own, and the
/// ordered sequence of their stream is not disturbed.
#[test]
fn unordered_data_is_delivered_whatever_its_stream_sequence_number() {
    // T -> DATA (U, SSN 777), DATA (SSN 0) -> IUT
    let (mut t, iut_tag, id) = established(0x4242_0001);
    t.send(
        iut_tag,
        &[
            unordered(TESTER_TSN, 777, b"u"),
            tester_data(TESTER_TSN + 1, 0, 0, b"ordered"),
        ],
    );
    assert_delivered(&mut t, id, &[b"u", b"ordered"]);
    // T -> DATA (U, SSN 500) -> IUT, twice; T -> DATA (SSN 0) -> IUT
    let (mut t, iut_tag, id) = established(PEER);
    t.send(iut_tag, &[unordered(TESTER_TSN, 500, b"u1")]);
    t.send(iut_tag, &[unordered(TESTER_TSN + 1, 500, b"u2")]);
    t.send(iut_tag, &[tester_data(TESTER_TSN + 2, 0, 0, b"o0")]);
    assert_delivered(&mut t, id, &[b"u1", b"u2", b"o0"]);
}

// ---- §6.9: fragmentation ----

#[test]
fn fragments_are_reassembled_in_any_arrival_order() {
    // §6.9.
    let (mut t, tag, id) = established(PEER);
    t.send(tag, &[fragment(TESTER_TSN + 2, false, true, b"ghi")]);
    t.send(tag, &[fragment(TESTER_TSN, true, false, b"abc")]);
    assert!(recv_all(&mut t, id).is_empty());
    t.send(tag, &[fragment(TESTER_TSN + 1, false, false, b"def")]);
    assert_eq!(
        recv_all(&mut t, id),
        [(0, Bytes::from_static(b"abcdefghi"))]
    );
}

#[test]
fn large_messages_are_fragmented_with_consecutive_tsns() {
    // §6.9: B on the first fragment, E on the last, one SSN.
    let (mut t, _, id) = established(PEER);
    let big = Bytes::from(vec![7u8; 3000]);
    t.iut
        .association_mut(id)
        .unwrap()
        .send(2, 99, big.clone(), false)
        .unwrap();
    let chunks = data_in(&t.sent());
    assert_eq!(
        chunks.len(),
        3,
        "1200-byte packets carry 1172 bytes of data"
    );
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.tsn, chunks[0].tsn.add(i as u32));
        assert_eq!((c.stream, c.ssn, c.ppid), (2, Ssn(0), 99));
        assert_eq!(c.flags.beginning, i == 0);
        assert_eq!(c.flags.end, i == 2);
    }
    let joined: Vec<u8> = chunks.iter().flat_map(|c| c.payload.to_vec()).collect();
    assert_eq!(joined, big);
}

/// RFC 9260 §6.9: with fragmentation turned off (SCTP_DISABLE_FRAGMENTS,
/// `Config::fragmentation`), a message that needs more than one DATA chunk
/// is refused with an error and nothing of it is sent; one that fits in a
/// single chunk still goes, whole and unfragmented.
#[test]
fn with_fragmentation_off_a_message_too_large_for_one_packet_is_refused_and_not_sent() {
    let (mut t, _, id, _) = established_configured(PEER, |c| c.fragmentation = false);
    // 1200-byte packets: 12 bytes of common header, 16 of DATA header.
    let fits = 1200 - 12 - 16;
    let refused =
        t.iut
            .association_mut(id)
            .unwrap()
            .send(0, 5, Bytes::from(vec![1u8; fits + 1]), false);
    assert_eq!(
        refused,
        Err(SendError::TooLarge {
            size: fits + 1,
            max: fits
        })
    );
    t.quiet_for(Duration::from_secs(1));
    t.iut
        .association_mut(id)
        .unwrap()
        .send(0, 5, Bytes::from(vec![2u8; fits]), false)
        .unwrap();
    let chunks = data_in(&t.sent());
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].flags.beginning && chunks[0].flags.end);
    assert_eq!(chunks[0].payload, vec![2u8; fits]);
}

/// RFC 9260 §3.3.1, §6.9: every fragment of an unordered message has the
/// U bit, and the message leaves its stream's SSN untouched; on stream 0
/// and on another stream.
#[test]
fn every_fragment_of_an_unordered_message_is_unordered() {
    for stream in [0, 1] {
        let (mut t, _, id) = established(PEER);
        user_sends_on(&mut t, id, stream, vec![5; 3000], true);
        user_sends_on(&mut t, id, stream, b"ordered", false);
        let data = data_in(&t.sent());
        assert_eq!(data.len(), 4, "stream {stream}: {data:?}");
        for (i, d) in data[..3].iter().enumerate() {
            assert!(d.flags.unordered, "stream {stream}, fragment {i}");
            assert_eq!(d.flags.beginning, i == 0);
            assert_eq!(d.flags.end, i == 2);
            assert_eq!(d.tsn, data[0].tsn.add(i as u32));
            assert_eq!(d.stream, stream);
        }
        assert!(!data[3].flags.unordered);
        assert_eq!(data[3].ssn, Ssn(0));
    }
}
