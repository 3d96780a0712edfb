//! RFC 9260 §§6–9: the MUSTs of user data transfer, congestion control,
//! fault management and termination that no other test checks, played with
//! raw packets against the sans-IO endpoint. `docs/rfc9260-musts.md` names
//! the requirement each test stands for.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use usctp_proto::association::{AssocId, AssociationState};
use usctp_proto::chunk::{Chunk, CookieEcho, Data, DataFlags, GapBlock, Heartbeat, Init, Sack};
use usctp_proto::config::Config;
use usctp_proto::serial::{Ssn, Tsn};

/// The tester's Initiate Tag.
const PEER: u32 = 0x6900_0001;
/// The tester's first TSN (`common::init`).
const T0: u32 = 1000;

fn established_with(config: Config) -> (Tester, u32, AssocId) {
    let mut t = Tester::with_config(config, true);
    let (iut_tag, id) = t.establish(PEER);
    (t, iut_tag, id)
}

fn established() -> (Tester, u32, AssocId) {
    established_with(Config::default())
}

fn data_chunk(tsn: u32, stream: u16, ssn: u16, flags: DataFlags, payload: &[u8]) -> Chunk {
    Chunk::Data(Data {
        flags,
        tsn: Tsn(tsn),
        stream,
        ssn: Ssn(ssn),
        ppid: 7,
        payload: Bytes::copy_from_slice(payload),
    })
}

fn whole(tsn: u32, payload: &[u8]) -> Chunk {
    data_chunk(tsn, 0, (tsn - T0) as u16, DataFlags::WHOLE, payload)
}

fn sack(cum: Tsn, a_rwnd: u32, gaps: &[(u16, u16)]) -> Chunk {
    Chunk::Sack(Sack {
        cumulative_tsn_ack: cum,
        a_rwnd,
        gap_blocks: gaps
            .iter()
            .map(|&(start, end)| GapBlock { start, end })
            .collect(),
        duplicate_tsns: vec![],
    })
}

fn heartbeat(info: &'static [u8]) -> Chunk {
    Chunk::Heartbeat(Heartbeat {
        info: Bytes::from_static(info),
    })
}

/// The DATA chunks in some packets of the IUT's, in order.
fn data_in(sent: &[Sent]) -> Vec<Data> {
    sent.iter()
        .flat_map(|s| &s.packet.chunks)
        .filter_map(|c| match c {
            Chunk::Data(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

/// The SACK chunks in some packets of the IUT's, in order.
fn sacks_in(sent: &[Sent]) -> Vec<Sack> {
    sent.iter()
        .flat_map(|s| &s.packet.chunks)
        .filter_map(|c| match c {
            Chunk::Sack(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// The user of the IUT queues `payload` on `stream`.
fn user_sends(t: &mut Tester, id: AssocId, stream: u16, payload: Vec<u8>, unordered: bool) {
    t.iut
        .association_mut(id)
        .unwrap()
        .send(stream, 7, Bytes::from(payload), unordered)
        .unwrap();
}

fn state(t: &Tester, id: AssocId) -> AssociationState {
    t.iut.association(id).unwrap().state()
}

// ---- §6: when DATA and SACK may flow ----

#[test]
fn no_data_is_taken_or_sent_before_the_association_is_up() {
    // §6: DATA goes out only from ESTABLISHED on (this end never bundles
    // DATA with its COOKIE ECHO).
    let (mut t, id) = client();
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::CookieWait);
    assert_eq!(
        assoc.send(0, 7, Bytes::from_static(b"early"), false),
        Err(usctp_proto::association::SendError::NotOpen)
    );
    let (ours, _) = answer_init(&mut t, PEER, vec![]);
    let echo = t.sent_one();
    assert!(matches!(echo.only(), Chunk::CookieEcho(_)));
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::CookieEchoed);
    assert_eq!(
        assoc.send(0, 7, Bytes::from_static(b"early"), false),
        Err(usctp_proto::association::SendError::NotOpen)
    );
    // The COOKIE ECHO goes again on T1-cookie, still without DATA.
    t.advance(Duration::from_secs(1));
    let again = t.sent_one();
    assert!(matches!(again.only(), Chunk::CookieEcho(_)));
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    user_sends(&mut t, id, 0, b"now".to_vec(), false);
    let data = data_in(&t.sent());
    assert_eq!(data.len(), 1);
    assert_eq!(&data[0].payload[..], b"now");
}

#[test]
fn data_is_received_and_acknowledged_in_shutdown_pending() {
    // §6: DATA is received in SHUTDOWN-PENDING like in ESTABLISHED.
    let (mut t, iut_tag, id) = established();
    user_sends(&mut t, id, 0, b"mine".to_vec(), false);
    assert_eq!(data_in(&t.sent()).len(), 1);
    let now = t.now;
    t.iut.association_mut(id).unwrap().shutdown(now);
    assert_eq!(state(&t, id), AssociationState::ShutdownPending);
    t.send(iut_tag, &[whole(T0, b"theirs")]);
    t.advance(Duration::from_millis(200));
    let sacks = sacks_in(&t.sent());
    assert_eq!(sacks.len(), 1, "{sacks:?}");
    assert_eq!(sacks[0].cumulative_tsn_ack, Tsn(T0));
    let message = t.iut.association_mut(id).unwrap().recv().unwrap();
    assert_eq!(&message.data[..], b"theirs");
}

#[test]
fn a_sack_bundled_with_data_goes_first_and_the_packet_stays_within_the_mtu() {
    // §6 (2), §6.10: control chunks before DATA; §6.9, §6.10: the packet
    // with a SACK in it still fits the packet size.
    let (mut t, iut_tag, id) = established();
    // A delayed SACK is pending when the user sends (the first DATA of
    // the association is acknowledged at once, §5.1; the second waits).
    t.send(iut_tag, &[whole(T0, b"first")]);
    assert_eq!(sacks_in(&t.sent()).len(), 1);
    t.send(iut_tag, &[whole(T0 + 1, b"theirs")]);
    t.sent_nothing();
    let mut message: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    user_sends(&mut t, id, 0, vec![8; 500], false);
    user_sends(&mut t, id, 0, message.clone(), false);
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
        matches!(sent[0].packet.chunks[0], Chunk::Sack(ref s) if s.cumulative_tsn_ack == Tsn(T0 + 1)),
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

// ---- §6.1: transmission of DATA ----

#[test]
fn a_small_peer_window_is_not_filled_with_part_of_a_chunk() {
    // §6.1 A and sender-side silly window avoidance: with DATA in flight
    // and a window smaller than the next chunk, nothing goes; the chunk is
    // never cut to fit the window.
    let (mut t, iut_tag, id) = established();
    user_sends(&mut t, id, 0, vec![1; 10], false);
    let first = data_in(&t.sent());
    assert_eq!(first.len(), 1);
    t.send(iut_tag, &[sack(first[0].tsn.prev(), 100, &[])]);
    user_sends(&mut t, id, 0, vec![2; 1000], false);
    assert!(data_in(&t.sent()).is_empty(), "the window holds 90 bytes");
    t.send(iut_tag, &[sack(first[0].tsn, 2000, &[])]);
    let next = data_in(&t.sent());
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].payload.len(), 1000, "sent whole");
    assert_eq!(next[0].tsn, first[0].tsn.next());
}

#[test]
fn new_data_stops_at_the_congestion_window_overshooting_by_one_packet_at_most() {
    // §6.1 B: no new data with cwnd + PMDCS - 1 or more outstanding, the
    // overshoot in one packet only; when the window is full nothing more
    // goes until a SACK; §6.10: TSNs increase within and across packets.
    let (mut t, iut_tag, id) = established();
    let cwnd = t.iut.association(id).unwrap().cwnd();
    let pmdcs = Config::default().max_packet_size - 12;
    for _ in 0..30 {
        user_sends(&mut t, id, 0, vec![3; 500], false);
    }
    let sent = t.sent();
    let mut outstanding = 0;
    let mut over = 0;
    let mut previous: Option<Tsn> = None;
    for s in &sent {
        assert!(outstanding < cwnd, "a packet started at {outstanding}");
        for d in data_in(std::slice::from_ref(s)) {
            if let Some(p) = previous {
                assert_eq!(d.tsn, p.next(), "TSNs in increasing order");
            }
            previous = Some(d.tsn);
            outstanding += d.payload.len();
        }
        if outstanding > cwnd {
            over += 1;
        }
    }
    assert!(outstanding >= cwnd, "the window was used: {outstanding}");
    assert!(outstanding < cwnd + pmdcs, "{outstanding} for cwnd {cwnd}");
    assert!(over <= 1, "{over} packets past cwnd");
    // Nothing more before an acknowledgement (T3-rtx is 1 s away).
    t.advance(Duration::from_millis(500));
    assert!(data_in(&t.sent()).is_empty());
    let first = data_in(&sent)[0].tsn;
    t.send(iut_tag, &[sack(first.next(), 100_000, &[])]);
    let more = data_in(&t.sent());
    assert!(!more.is_empty());
    assert_eq!(more[0].tsn, previous.unwrap().next());
}

#[test]
fn sending_more_data_does_not_restart_a_running_t3() {
    // §6.1: T3-rtx starts with the first DATA and is not restarted by new
    // DATA while it runs.
    let (mut t, _iut_tag, id) = established();
    user_sends(&mut t, id, 0, b"first".to_vec(), false);
    let first = data_in(&t.sent());
    assert_eq!(first.len(), 1);
    t.advance(Duration::from_millis(600));
    user_sends(&mut t, id, 0, b"second".to_vec(), false);
    assert_eq!(data_in(&t.sent()).len(), 1);
    t.advance(Duration::from_millis(399));
    assert!(data_in(&t.sent()).is_empty());
    // One RTO (1 s) after the first DATA, not after the second.
    t.advance(Duration::from_millis(1));
    let resent = data_in(&t.sent());
    assert!(resent.iter().any(|d| d.tsn == first[0].tsn), "{resent:?}");
}

// ---- §6.2: acknowledgement ----

#[test]
fn data_beyond_the_receive_window_is_dropped_left_out_of_the_sack_and_said_at_once() {
    // §6.2: a dropped DATA chunk gets an immediate SACK that does not
    // acknowledge it.
    let config = Config {
        receive_window: 1500,
        ..Config::default()
    };
    let (mut t, iut_tag, id) = established_with(config);
    t.send(iut_tag, &[whole(T0 + 1, &[1; 1000])]);
    let sacks = sacks_in(&t.sent());
    assert_eq!(sacks[0].gap_blocks, [GapBlock { start: 2, end: 2 }]);
    assert_eq!(sacks[0].a_rwnd, 500);
    // No room for this one.
    t.send(iut_tag, &[whole(T0 + 2, &[2; 1000])]);
    let sacks = sacks_in(&t.sent());
    assert_eq!(sacks.len(), 1, "a SACK at once");
    assert_eq!(sacks[0].cumulative_tsn_ack, Tsn(T0 - 1));
    assert_eq!(sacks[0].gap_blocks, [GapBlock { start: 2, end: 2 }]);
    assert_eq!(sacks[0].a_rwnd, 500);
    // Filling the gap acknowledges T0 and T0 + 1, not the dropped T0 + 2.
    t.send(iut_tag, &[whole(T0, &[0; 100])]);
    let sacks = sacks_in(&t.sent());
    assert_eq!(sacks[0].cumulative_tsn_ack, Tsn(T0 + 1));
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
    let config = Config {
        receive_window: 4000,
        ..Config::default()
    };
    let (mut t, iut_tag, id) = established_with(config);
    for i in 0..3 {
        t.send(iut_tag, &[whole(T0 + i, &[9; 1000])]);
    }
    t.advance(Duration::from_millis(200));
    let sacks = sacks_in(&t.sent());
    assert_eq!(sacks.last().unwrap().cumulative_tsn_ack, Tsn(T0 + 2));
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
fn the_send_buffer_keeps_tsns_within_half_the_serial_space() {
    // §6.1: no TSN more than 2^31 - 1 above the oldest unacknowledged one.
    // Each outstanding chunk holds a byte at least, and the buffer holds at
    // most `send_buffer` bytes plus one message: configurations that could
    // exceed the bound are refused.
    let with = |send_buffer: usize, max_message_size: usize| Config {
        send_buffer,
        max_message_size,
        ..Config::default()
    };
    assert_eq!(with(1 << 30, (1 << 30) - 1).validate(), Ok(()));
    assert!(with(1 << 30, 1 << 30).validate().is_err());
    assert!(with(1 << 31, 1).validate().is_err());
    assert!(with(usize::MAX, 1).validate().is_err());
    let (mut t, _iut_tag, id) = established();
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert!(assoc.set_config(with(1 << 31, 1)).is_err());
    assert_eq!(assoc.config().send_buffer, Config::default().send_buffer);
}

#[test]
fn sack_delay_above_500_ms_is_refused() {
    // §6.2: SACK.Delay cannot be configured above 500 ms.
    let at = |ms| Config {
        sack_delay: Duration::from_millis(ms),
        ..Config::default()
    };
    assert_eq!(at(500).validate(), Ok(()));
    assert!(at(501).validate().is_err());
    let (mut t, _iut_tag, id) = established();
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert!(assoc.set_config(at(501)).is_err());
    assert_eq!(assoc.config().sack_delay, Duration::from_millis(200));
    let now = t.now;
    let refused = t.iut.connect_with_config(
        now,
        "10.0.0.3:9899".parse().unwrap(),
        &[],
        TESTER_PORT,
        at(600),
    );
    assert!(matches!(
        refused,
        Err(usctp_proto::endpoint::ConnectError::InvalidConfig(_))
    ));
}

// ---- §6.3.1: RTT measurement ----

#[test]
fn rtt_is_measured_each_round_trip_but_never_from_a_retransmitted_chunk() {
    // §6.3.1 C4 and C5 (Karn's algorithm).
    let (mut t, iut_tag, id) = established();
    let srtt = |t: &Tester| t.iut.association(id).unwrap().srtt();
    assert_eq!(srtt(&t), None);
    user_sends(&mut t, id, 0, b"a".to_vec(), false);
    let a = data_in(&t.sent())[0].tsn;
    t.advance(Duration::from_millis(100));
    t.send(iut_tag, &[sack(a, 100_000, &[])]);
    assert_eq!(srtt(&t), Some(Duration::from_millis(100)));
    // Retransmitted on T3-rtx, then acknowledged: no sample.
    user_sends(&mut t, id, 0, b"b".to_vec(), false);
    let b = data_in(&t.sent())[0].tsn;
    t.advance(Duration::from_secs(1));
    assert_eq!(data_in(&t.sent())[0].tsn, b);
    t.advance(Duration::from_millis(50));
    t.send(iut_tag, &[sack(b, 100_000, &[])]);
    assert_eq!(srtt(&t), Some(Duration::from_millis(100)));
    // The next round trip is measured again: SRTT = 7/8 100 + 1/8 300.
    user_sends(&mut t, id, 0, b"c".to_vec(), false);
    let c = data_in(&t.sent())[0].tsn;
    t.advance(Duration::from_millis(300));
    t.send(iut_tag, &[sack(c, 100_000, &[])]);
    assert_eq!(srtt(&t), Some(Duration::from_millis(125)));
}

// ---- §6.5, §6.6: streams ----

#[test]
fn stream_sequence_numbers_start_at_0_count_ordered_messages_and_wrap() {
    // §6.5: SSNs start at 0, go up by one per ordered message, wrap from
    // 65535 to 0, and unordered messages leave them alone.
    let (mut t, iut_tag, id) = established();
    let ordered = 65_538usize;
    user_sends(&mut t, id, 1, vec![0], true);
    for i in 0..ordered {
        user_sends(&mut t, id, 1, vec![1], false);
        if i == 1 || i == 65_535 {
            user_sends(&mut t, id, 1, vec![0], true);
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
        t.send(iut_tag, &[sack(last.tsn, 1_000_000, &[])]);
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
    let (mut t, iut_tag, id) = established();
    let total = 65_600usize;
    for _ in 0..total {
        user_sends(&mut t, id, 0, vec![1], false);
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
        t.send(iut_tag, &[sack(first.prev(), 1 << 30, &[(2, end)])]);
    }
    assert_eq!(new.len(), 65_535, "ordered messages in the window");
    // The first message acknowledged: the rest follows, SSNs wrapping.
    let first = first.unwrap();
    let mut ssns = Vec::new();
    let mut cum = Tsn(first.0 + 65_534);
    t.send(iut_tag, &[sack(cum, 1 << 30, &[])]);
    loop {
        let data = data_in(&t.sent());
        let Some(last) = data.last() else { break };
        ssns.extend(data.iter().filter(|d| d.tsn.0 > cum.0).map(|d| d.ssn.0));
        cum = last.tsn;
        t.send(iut_tag, &[sack(cum, 1 << 30, &[])]);
    }
    let expected: Vec<u16> = (65_535..total).map(|i| (i % 65_536) as u16).collect();
    assert_eq!(ssns, expected);
}

#[test]
fn unordered_data_is_delivered_whatever_its_stream_sequence_number() {
    // §6.6: the receiver ignores the SSN of unordered DATA.
    let (mut t, iut_tag, id) = established();
    let unordered = DataFlags {
        unordered: true,
        ..DataFlags::WHOLE
    };
    t.send(iut_tag, &[data_chunk(T0, 0, 500, unordered, b"u1")]);
    t.send(iut_tag, &[data_chunk(T0 + 1, 0, 500, unordered, b"u2")]);
    t.send(
        iut_tag,
        &[data_chunk(T0 + 2, 0, 0, DataFlags::WHOLE, b"o0")],
    );
    let mut assoc = t.iut.association_mut(id).unwrap();
    let got: Vec<Bytes> = std::iter::from_fn(|| assoc.recv())
        .map(|m| m.data)
        .collect();
    assert_eq!(got, [&b"u1"[..], b"u2", b"o0"]);
}

// ---- §6.7: gap reports ----

#[test]
fn gap_blocks_that_are_left_out_are_the_highest() {
    // §6.7: when not every gap block can be reported, one SACK reports
    // them from the lowest TSN up and leaves the highest out; §6.2: as
    // many as fit in the packet.
    let (mut t, iut_tag, _id) = established();
    let mut last = None;
    for i in 0..400u32 {
        t.send(iut_tag, &[whole(T0 + 1 + 2 * i, b"x")]);
        let sacks = sacks_in(&t.sent());
        assert_eq!(sacks.len(), 1, "one SACK for packet {i}");
        last = sacks.into_iter().next();
    }
    let last = last.unwrap();
    assert_eq!(last.cumulative_tsn_ack, Tsn(T0 - 1));
    let blocks = last.gap_blocks.len();
    // The packet less the common header and the SACK's own 16 bytes.
    assert_eq!(blocks, (Config::default().max_packet_size - 12 - 16) / 4);
    let expected: Vec<GapBlock> = (0..blocks as u16)
        .map(|i| GapBlock {
            start: 2 + 2 * i,
            end: 2 + 2 * i,
        })
        .collect();
    assert_eq!(last.gap_blocks, expected);
}

// ---- §6.8: CRC32c ----

#[test]
fn every_packet_sent_carries_the_crc32c_of_its_bytes() {
    // §6.8: the checksum is the CRC32c of the packet with the field
    // taken as zero, least significant byte first; the tag is filled in.
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(PEER))]);
    let mut buf = Vec::new();
    let mut checked = 0;
    let now = t.now;
    while let Some(tx) = t.iut.poll_transmit(now, &mut buf) {
        let bytes = &buf[..tx.size];
        assert_eq!(bytes[4..8], PEER.to_be_bytes(), "Verification Tag");
        let mut zeroed = bytes.to_vec();
        zeroed[8..12].fill(0);
        let crc = usctp_proto::chunk::packet::crc32c(&zeroed);
        assert_eq!(bytes[8..12], crc.to_le_bytes());
        checked += 1;
    }
    assert_eq!(checked, 1);
}

#[test]
fn a_packet_with_a_bad_checksum_is_not_processed() {
    // §6.8: the receiver checks the CRC32c first and drops a packet whose
    // checksum is wrong.
    let (mut t, iut_tag, id) = established();
    let good = packet(TESTER_PORT, IUT_PORT, iut_tag, &[whole(T0, b"data")]);
    let mut bad = good.clone();
    bad[8] ^= 1;
    t.send_raw(bad);
    t.advance(Duration::from_millis(500));
    assert!(sacks_in(&t.sent()).is_empty());
    assert!(t.iut.association_mut(id).unwrap().recv().is_none());
    assert_eq!(t.iut.stats().bad_checksum, 1);
    t.send_raw(good);
    t.advance(Duration::from_millis(200));
    assert_eq!(sacks_in(&t.sent())[0].cumulative_tsn_ack, Tsn(T0));
}

// ---- §6.9: fragmentation ----

#[test]
fn every_fragment_of_an_unordered_message_is_unordered() {
    // §6.9: the U flag on each fragment; the stream's SSN is untouched.
    let (mut t, _iut_tag, id) = established();
    user_sends(&mut t, id, 1, vec![5; 3000], true);
    user_sends(&mut t, id, 1, b"ordered".to_vec(), false);
    let data = data_in(&t.sent());
    assert_eq!(data.len(), 4);
    for (i, d) in data[..3].iter().enumerate() {
        assert!(d.flags.unordered, "fragment {i}");
        assert_eq!(d.flags.beginning, i == 0);
        assert_eq!(d.flags.end, i == 2);
        assert_eq!(d.tsn, data[0].tsn.add(i as u32));
    }
    assert!(!data[3].flags.unordered);
    assert_eq!(data[3].ssn, Ssn(0));
}

// ---- §7.2: congestion control ----

#[test]
fn slow_start_grows_cwnd_only_when_it_is_used_and_by_what_was_acknowledged() {
    // §7.2.1: in slow start cwnd grows only while fully used, by at most
    // the bytes newly acknowledged and at most one PMDCS.
    let (mut t, iut_tag, id) = established();
    let cwnd = |t: &Tester| t.iut.association(id).unwrap().cwnd();
    let initial = cwnd(&t);
    // One small message does not use the window: no growth.
    user_sends(&mut t, id, 0, vec![1; 100], false);
    let a = data_in(&t.sent())[0].tsn;
    t.send(iut_tag, &[sack(a, 100_000, &[])]);
    assert_eq!(cwnd(&t), initial);
    // A full window: an acknowledgement of 1000 bytes adds 1000.
    for _ in 0..10 {
        user_sends(&mut t, id, 0, vec![2; 1000], false);
    }
    let sent = data_in(&t.sent());
    assert!(sent.len() >= 4);
    t.send(iut_tag, &[sack(sent[0].tsn, 100_000, &[])]);
    assert_eq!(cwnd(&t), initial + 1000);
    // Acknowledging 3000 bytes at once adds one PMDCS only (the largest
    // DATA payload: the packet less the common and DATA chunk headers).
    let more = data_in(&t.sent());
    assert!(!more.is_empty());
    t.send(iut_tag, &[sack(sent[3].tsn, 100_000, &[])]);
    let pmdcs = Config::default().max_packet_size - 12 - 16;
    assert_eq!(cwnd(&t), initial + 1000 + pmdcs);
}

#[test]
fn each_destination_has_its_own_congestion_window() {
    // §7.2: cwnd is kept per destination: a timeout on the primary leaves
    // the other address's window alone.
    let second: std::net::SocketAddr = "10.0.1.2:9899".parse().unwrap();
    let mut t = Tester::server();
    let init = usctp_proto::chunk::Init {
        params: vec![usctp_proto::chunk::Param::from_address(second.ip())],
        ..init(PEER)
    };
    t.send(0, &[Chunk::Init(init)]);
    let Chunk::InitAck(ack) = t.sent_one().only().clone() else {
        panic!("expected INIT ACK")
    };
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(usctp_proto::chunk::CookieEcho { cookie })],
    );
    let id = t.events()[0].0;
    t.advance(Duration::ZERO);
    // Confirm the second address: answer its HEARTBEAT from there.
    let info = t
        .sent()
        .iter()
        .filter(|s| s.to == second)
        .flat_map(|s| &s.packet.chunks)
        .find_map(|c| match c {
            Chunk::Heartbeat(hb) => Some(hb.info.clone()),
            _ => None,
        })
        .expect("a HEARTBEAT to the unconfirmed address");
    t.from = second;
    t.send(ack.initiate_tag, &[Chunk::HeartbeatAck(Heartbeat { info })]);
    t.from = tester_addr();
    let cwnd_of = |t: &Tester, address| {
        let paths = t.iut.association(id).unwrap().paths();
        let path = paths.iter().find(|p| p.address == address).unwrap();
        assert!(path.confirmed);
        path.cwnd
    };
    let initial = cwnd_of(&t, second);
    assert_eq!(cwnd_of(&t, tester_addr()), initial);
    user_sends(&mut t, id, 0, vec![4; 1000], false);
    let sent = t.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, tester_addr());
    t.advance(Duration::from_secs(1));
    t.sent();
    assert!(
        cwnd_of(&t, tester_addr()) < initial,
        "the primary collapsed"
    );
    assert_eq!(cwnd_of(&t, second), initial, "the other path kept its own");
}

// ---- §8.3: heartbeats ----

#[test]
fn heartbeats_are_answered_from_cookie_echoed_through_shutdown_received() {
    // §8.3: the INIT's sender answers from COOKIE-ECHOED on, and both ends
    // until SHUTDOWN-SENT or SHUTDOWN-ACK-SENT.
    let (mut t, id) = client();
    let (ours, _) = answer_init(&mut t, PEER, vec![]);
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    let answered = |t: &mut Tester, info: &'static [u8]| {
        t.send(ours.initiate_tag, &[heartbeat(info)]);
        let reply = t.sent_one();
        assert_eq!(reply.vtag(), PEER);
        assert_eq!(
            reply.packet.chunks,
            [Chunk::HeartbeatAck(Heartbeat {
                info: Bytes::from_static(info)
            })]
        );
    };
    assert_eq!(state(&t, id), AssociationState::CookieEchoed);
    answered(&mut t, b"cookie-echoed");
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    assert_eq!(state(&t, id), AssociationState::Established);
    answered(&mut t, b"established");
    user_sends(&mut t, id, 0, b"outstanding".to_vec(), false);
    let mine = data_in(&t.sent());
    let now = t.now;
    t.iut.association_mut(id).unwrap().shutdown(now);
    assert_eq!(state(&t, id), AssociationState::ShutdownPending);
    answered(&mut t, b"shutdown-pending");
    t.send(
        ours.initiate_tag,
        &[Chunk::Shutdown(usctp_proto::chunk::Shutdown {
            cumulative_tsn_ack: mine[0].tsn.prev(),
        })],
    );
    assert_eq!(state(&t, id), AssociationState::ShutdownReceived);
    answered(&mut t, b"shutdown-received");
}

// ---- §8.5.1: SHUTDOWN COMPLETE out of place ----

#[test]
fn shutdown_complete_outside_shutdown_ack_sent_is_ignored() {
    // §8.5.1 (C): with the right tag, but in ESTABLISHED or SHUTDOWN-SENT.
    let complete = Chunk::ShutdownComplete(usctp_proto::chunk::ShutdownComplete {
        reflected_tag: false,
    });
    let (mut t, iut_tag, id) = established();
    t.send(iut_tag, std::slice::from_ref(&complete));
    t.sent_nothing();
    assert!(t.events().is_empty());
    assert_eq!(state(&t, id), AssociationState::Established);
    let now = t.now;
    t.iut.association_mut(id).unwrap().shutdown(now);
    assert!(matches!(t.sent_one().only(), Chunk::Shutdown(_)));
    t.send(iut_tag, &[complete]);
    t.sent_nothing();
    assert!(t.events().is_empty());
    assert_eq!(state(&t, id), AssociationState::ShutdownSent);
    t.advance(Duration::from_secs(1));
    assert!(matches!(t.sent_one().only(), Chunk::Shutdown(_)));
}

// ---- §9.1: abort ----

#[test]
fn an_abort_goes_without_data() {
    // §9.1: the ABORT carries the peer's tag and no DATA is bundled with
    // it, though DATA and a SACK were waiting.
    let (mut t, iut_tag, id) = established();
    for _ in 0..20 {
        user_sends(&mut t, id, 0, vec![6; 1000], false);
    }
    assert!(!data_in(&t.sent()).is_empty());
    t.send(iut_tag, &[whole(T0, b"theirs")]);
    t.iut.abort(id, b"enough");
    let sent = t.sent();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].vtag(), PEER);
    assert!(
        matches!(sent[0].only(), Chunk::Abort(a) if !a.reflected_tag),
        "{:?}",
        sent[0].packet.chunks
    );
    t.advance(Duration::from_secs(2));
    t.sent_nothing();
}

// ---- §9.2: shutdown ----

/// An established association whose user shut down with nothing
/// outstanding: the IUT is in SHUTDOWN-SENT, its SHUTDOWN acknowledging
/// none of the tester's TSNs.
fn in_shutdown_sent() -> (Tester, u32, AssocId) {
    let (mut t, iut_tag, id) = established();
    let now = t.now;
    t.iut.association_mut(id).unwrap().shutdown(now);
    let sent = t.sent_one();
    assert_eq!(
        sent.only(),
        &Chunk::Shutdown(usctp_proto::chunk::Shutdown {
            cumulative_tsn_ack: Tsn(T0 - 1)
        })
    );
    assert_eq!(state(&t, id), AssociationState::ShutdownSent);
    (t, iut_tag, id)
}

fn shutdowns_in(sent: &[Sent]) -> Vec<Tsn> {
    sent.iter()
        .flat_map(|s| &s.packet.chunks)
        .filter_map(|c| match c {
            Chunk::Shutdown(s) => Some(s.cumulative_tsn_ack),
            _ => None,
        })
        .collect()
}

#[test]
fn a_retransmitted_shutdown_carries_the_latest_cumulative_tsn() {
    // §9.2: on T2-shutdown the SHUTDOWN goes again with the last TSN
    // received in sequence since.
    let (mut t, iut_tag, _id) = in_shutdown_sent();
    t.send(iut_tag, &[whole(T0, b"late")]);
    assert_eq!(shutdowns_in(&t.sent()), [Tsn(T0)]);
    t.advance(Duration::from_secs(1));
    assert_eq!(shutdowns_in(&t.sent()), [Tsn(T0)]);
}

#[test]
fn duplicates_in_shutdown_sent_get_a_sack_with_the_shutdown() {
    // §9.2: a SHUTDOWN cannot report duplicate TSNs, so a SACK goes too.
    let (mut t, iut_tag, _id) = in_shutdown_sent();
    t.send(iut_tag, &[whole(T0, b"once")]);
    t.sent();
    t.send(iut_tag, &[whole(T0, b"once")]);
    let sent = t.sent();
    assert_eq!(shutdowns_in(&sent), [Tsn(T0)]);
    let sacks = sacks_in(&sent);
    assert_eq!(sacks.len(), 1, "{sent:#?}");
    assert_eq!(sacks[0].duplicate_tsns, [Tsn(T0)]);
}

#[test]
fn shutdown_received_ignores_the_users_shutdown() {
    // §9.2: in SHUTDOWN-RECEIVED a shutdown request from the user changes
    // nothing; the SHUTDOWN ACK follows once the DATA is acknowledged.
    let (mut t, iut_tag, id) = established();
    user_sends(&mut t, id, 0, b"outstanding".to_vec(), false);
    let mine = data_in(&t.sent());
    t.send(
        iut_tag,
        &[Chunk::Shutdown(usctp_proto::chunk::Shutdown {
            cumulative_tsn_ack: Tsn(T0 - 1),
        })],
    );
    assert_eq!(state(&t, id), AssociationState::ShutdownReceived);
    t.events();
    let now = t.now;
    t.iut.association_mut(id).unwrap().shutdown(now);
    assert_eq!(state(&t, id), AssociationState::ShutdownReceived);
    t.sent_nothing();
    assert!(t.events().is_empty());
    t.send(iut_tag, &[sack(mine[0].tsn, 100_000, &[])]);
    assert_eq!(t.sent_one().only(), &Chunk::ShutdownAck);
    assert_eq!(state(&t, id), AssociationState::ShutdownAckSent);
}

// ---- Deviations fixed since the first record ----

/// The largest DATA payload in a packet of `packet_size` bytes: the packet
/// less the common header (12) and the DATA chunk header (16).
fn pmdcs(packet_size: usize) -> usize {
    packet_size - 12 - 16
}

/// The TSNs of some DATA chunks, in order.
fn tsns(data: &[Data]) -> Vec<Tsn> {
    data.iter().map(|d| d.tsn).collect()
}

#[test]
fn a_fast_retransmission_of_the_earliest_chunk_restarts_t3() {
    // §6.1, §7.2.4: when the lowest outstanding TSN goes again by fast
    // retransmit, T3-rtx starts over from then: no timeout retransmits it
    // a third time before a full RTO has passed.
    let (mut t, iut_tag, id) = established();
    for _ in 0..6 {
        user_sends(&mut t, id, 0, vec![1; 100], false);
    }
    let sent = tsns(&data_in(&t.sent()));
    assert_eq!(sent.len(), 6);
    let before = sent[0].prev();
    // 400 ms into T3-rtx (1 s), three SACKs miss the first TSN; the last
    // two stay in flight, so T3-rtx keeps running.
    t.advance(Duration::from_millis(400));
    for highest in 2..=3 {
        t.send(iut_tag, &[sack(before, 100_000, &[(2, highest)])]);
        assert!(data_in(&t.sent()).is_empty());
    }
    t.send(iut_tag, &[sack(before, 100_000, &[(2, 4)])]);
    assert_eq!(tsns(&data_in(&t.sent())), [sent[0]], "fast retransmit");
    let rto = t.iut.association(id).unwrap().rto();
    assert!(rto >= Duration::from_secs(1));
    // The original T3-rtx would have expired 600 ms from here.
    t.advance(rto - Duration::from_millis(1));
    assert!(data_in(&t.sent()).is_empty(), "T3-rtx was restarted");
    t.advance(Duration::from_millis(1));
    let again = tsns(&data_in(&t.sent()));
    assert_eq!(again, [sent[0], sent[4], sent[5]], "a full RTO later");
}

#[test]
#[should_panic(expected = "SACK.Delay")]
fn an_endpoint_with_sack_delay_above_500_ms_is_refused() {
    // §6.2: the endpoint's own configuration cannot raise SACK.Delay
    // beyond 500 ms either; 500 ms itself is taken.
    let at = |ms| Config {
        sack_delay: Duration::from_millis(ms),
        ..Config::default()
    };
    Tester::with_config(at(500), true);
    Tester::with_config(at(501), true);
}

#[test]
fn sacks_fit_small_packets_whatever_the_gaps() {
    // §6.2, §6.7: with 400-byte packets and hundreds of gaps, every packet
    // of DATA still draws one SACK, cut to the gap blocks that fit (the
    // lowest), and no packet exceeds the size.
    let config = Config {
        max_packet_size: 400,
        ..Config::default()
    };
    let (mut t, iut_tag, _id) = established_with(config);
    let mut last = None;
    for i in 0..300u32 {
        t.send(iut_tag, &[whole(T0 + 1 + 2 * i, b"x")]);
        let sent = t.sent();
        assert!(sent.iter().all(|s| s.size <= 400), "{sent:#?}");
        let sacks = sacks_in(&sent);
        assert_eq!(sacks.len(), 1, "one SACK for packet {i}");
        last = sacks.into_iter().next();
    }
    let last = last.unwrap();
    assert_eq!(last.cumulative_tsn_ack, Tsn(T0 - 1));
    let blocks = (400 - 12 - 16) / 4;
    let expected: Vec<GapBlock> = (0..blocks as u16)
        .map(|i| GapBlock {
            start: 2 + 2 * i,
            end: 2 + 2 * i,
        })
        .collect();
    assert_eq!(last.gap_blocks, expected);
}

#[test]
fn initial_cwnd_is_counted_in_pmdcs() {
    // §7.2.1: the initial cwnd is min(4 PMDCS, max(2 PMDCS, 4404)) toward
    // an IPv4 peer, PMDCS being the packet size less 28 bytes of headers.
    for (size, expected) in [(1200, 4404), (600, 4 * pmdcs(600)), (4000, 2 * pmdcs(4000))] {
        let config = Config {
            max_packet_size: size,
            ..Config::default()
        };
        let (t, _iut_tag, id) = established_with(config);
        assert_eq!(t.iut.association(id).unwrap().cwnd(), expected, "{size}");
    }
}

#[test]
fn a_timeout_leaves_a_window_of_one_pmdcs() {
    // §7.2.3 via §6.3.3: after T3-rtx cwnd is one PMDCS (1172 bytes with
    // 1200-byte packets), so one packet goes again: here one full-sized
    // chunk, or two of 500 bytes.
    for (size, per_packet) in [(pmdcs(1200), 1), (500, 2)] {
        let (mut t, _iut_tag, id) = established();
        for _ in 0..8 {
            user_sends(&mut t, id, 0, vec![2; size], false);
        }
        let first = tsns(&data_in(&t.sent()));
        assert!(first.len() >= 4, "{first:?}");
        t.advance(Duration::from_secs(1));
        let again = t.sent();
        assert_eq!(t.iut.association(id).unwrap().cwnd(), pmdcs(1200));
        assert_eq!(again.len(), 1, "{again:#?}");
        assert_eq!(tsns(&data_in(&again)), first[..per_packet]);
    }
}

#[test]
fn congestion_avoidance_adds_one_pmdcs_per_window_acknowledged() {
    // §7.2.2: above ssthresh cwnd grows by one PMDCS once a whole cwnd of
    // bytes has been acknowledged (and only while it is used).
    let pmdcs = pmdcs(1200);
    // A peer window of 1500 bytes makes ssthresh the initial cwnd (4404).
    let mut t = Tester::server();
    t.send(
        0,
        &[Chunk::Init(Init {
            a_rwnd: 1500,
            ..init(PEER)
        })],
    );
    let Chunk::InitAck(ack) = t.sent_one().only().clone() else {
        panic!("expected INIT ACK")
    };
    let iut_tag = ack.initiate_tag;
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(iut_tag, &[Chunk::CookieEcho(CookieEcho { cookie })]);
    t.sent();
    let id = t.events()[0].0;
    let cwnd = |t: &Tester| t.iut.association(id).unwrap().cwnd();
    assert_eq!(cwnd(&t), 4404);
    for _ in 0..40 {
        user_sends(&mut t, id, 0, vec![3; pmdcs], false);
    }
    // Each SACK acknowledges the oldest chunk and opens the peer window.
    let mut outstanding: std::collections::VecDeque<Tsn> = tsns(&data_in(&t.sent())).into();
    let mut seen = Vec::new();
    for _ in 0..13 {
        let tsn = outstanding.pop_front().unwrap();
        t.send(iut_tag, &[sack(tsn, 1_000_000, &[])]);
        seen.push(cwnd(&t));
        outstanding.extend(tsns(&data_in(&t.sent())));
    }
    // 1: the window was not in use, no growth; 2: slow start up to
    // ssthresh and one PMDCS past it; then congestion avoidance: one PMDCS
    // after 5 chunks (5860 >= 5576 bytes), the next after 6 more.
    let (ss, ca1, ca2) = (4404 + pmdcs, 4404 + 2 * pmdcs, 4404 + 3 * pmdcs);
    assert_eq!(
        seen,
        [4404, ss, ss, ss, ss, ss, ca1, ca1, ca1, ca1, ca1, ca1, ca2]
    );
}

#[test]
fn tag_0_packets_other_than_a_lone_init_get_no_answer() {
    // §8.5.1 (A): only a lone INIT may carry tag 0; out of the blue, a
    // HEARTBEAT or SHUTDOWN ACK with tag 0 is dropped without a word,
    // while with another tag they are answered (§8.4 (8), (5)).
    let mut t = Tester::server();
    t.send(0, &[heartbeat(b"tag 0")]);
    t.sent_nothing();
    t.send(0, &[Chunk::ShutdownAck]);
    t.sent_nothing();
    t.send(0, &[Chunk::Init(init(PEER)), heartbeat(b"bundled")]);
    t.sent_nothing();
    assert_eq!(t.iut.association_count(), 0);

    t.send(5, &[heartbeat(b"tag 5")]);
    let reply = t.sent_one();
    assert!(matches!(reply.only(), Chunk::Abort(a) if a.reflected_tag));
    assert_eq!(reply.vtag(), 5);
    t.send(5, &[Chunk::ShutdownAck]);
    assert!(matches!(
        t.sent_one().only(),
        Chunk::ShutdownComplete(c) if c.reflected_tag
    ));
}
