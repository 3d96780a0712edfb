//! What the endpoint makes of a packet before and besides its state
//! machine: the CRC32c (RFC 9260 §6.8), SCTP port 0 (§3.1), padding
//! (§3.2, §3.2.1) and chunk types it does not know (§3.2), played with raw
//! packets against the sans-IO endpoint.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use support::*;
use usctp_proto::association::{AssocId, AssociationState, Event};
use usctp_proto::chunk::{Chunk, ErrorCause, Packet, Param, ParamType};
use usctp_proto::config::Config;
use usctp_proto::endpoint::{ConnectError, Endpoint};
use usctp_proto::serial::Tsn;

/// The tester's Initiate Tag.
const PEER: u32 = 0xa5a5_0001;

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
    let (mut t, iut_tag, id) = established(PEER);
    let good = tester_packet(iut_tag, &[tester_data(TESTER_TSN, 0, 0, b"data")]);
    let mut bad = good.clone();
    bad[8] ^= 1;
    t.send_raw(bad);
    t.advance(Duration::from_millis(500));
    assert!(sacks_in(&t.sent()).is_empty());
    assert!(t.iut.association_mut(id).unwrap().recv().is_none());
    assert_eq!(t.iut.stats().bad_checksum, 1);
    t.send_raw(good);
    t.advance(Duration::from_millis(200));
    assert_eq!(sacks_in(&t.sent())[0].cumulative_tsn_ack, Tsn(TESTER_TSN));
}

// ---- §3.1: SCTP port 0 ----

/// RFC 9260 §3.1: SCTP port 0 is never used, so a packet from it or to it
/// is dropped without an answer (an INIT from port 0 used to draw an INIT
/// ACK addressed to port 0, an OOTB DATA an ABORT), and the user cannot
/// connect to it.
#[test]
fn packets_from_or_to_sctp_port_0_are_dropped_unanswered() {
    let mut t = Tester::server();
    t.send_raw(packet(0, IUT_PORT, 0, &[Chunk::Init(init(0x4848_0001))]));
    t.sent_nothing();
    t.send_raw(packet(TESTER_PORT, 0, 0, &[Chunk::Init(init(0x4848_0002))]));
    t.sent_nothing();
    t.send_raw(packet(
        0,
        IUT_PORT,
        0x4848_0003,
        &[tester_data(TESTER_TSN, 0, 0, b"x")],
    ));
    assert_nothing_set_up(&mut t);
    assert!(t.events().is_empty());
    // The same INIT from a real port is answered, there.
    t.send(0, &[Chunk::Init(init(0x4848_0004))]);
    let ack = t.sent_one();
    init_ack_of(&ack);
    assert_ports(&ack);
    // Nor does the user reach port 0.
    let now = t.now;
    assert!(matches!(
        t.iut.connect(now, "10.0.0.3:9899".parse().unwrap(), 0),
        Err(ConnectError::InvalidPort)
    ));
    t.sent_nothing();
}

/// RFC 9260 §3.1: the sans-IO endpoint cannot be put on SCTP port 0.
#[test]
#[should_panic(expected = "port 0")]
fn an_endpoint_on_sctp_port_0_is_refused() {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    Endpoint::new(Config::default(), 0, IUT_SEED, now);
}

// ---- §3.2, §3.2.1: padding ----

/// Walks TLVs (chunks, or parameters) in `bytes`: each length excludes the
/// padding, the padding is 0 to 3 zero bytes, and the next item starts on a
/// multiple of 4; returns (type field, length) of each.
#[track_caller]
fn walk_padded(mut bytes: &[u8], type_len: usize) -> Vec<(u16, usize)> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        let ty = if type_len == 1 {
            u16::from(bytes[0])
        } else {
            u16::from_be_bytes([bytes[0], bytes[1]])
        };
        let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        let padded = len.next_multiple_of(4);
        assert!(padded - len <= 3);
        assert!(bytes.len() >= padded, "item of {len} bytes is not padded");
        assert!(
            bytes[len..padded].iter().all(|&b| b == 0),
            "padding is not zero: {:?}",
            &bytes[len..padded]
        );
        items.push((ty, len));
        bytes = &bytes[padded..];
    }
    items
}

/// RFC 9260 §3.2, §3.2.1, §3.3.1: chunks and parameters the IUT sends are
/// padded to 4 bytes with at most 3 zero bytes, not counted in their
/// length; padding it receives is ignored whatever its value.
#[test]
fn chunks_and_parameters_are_zero_padded_and_padding_received_is_ignored() {
    // An INIT with an odd-length unknown parameter to report: the INIT ACK
    // carries it (length 7) in an Unrecognized Parameter (length 11).
    let mut t = Tester::server();
    let odd = Param::Unknown {
        param_type: ParamType(0xC0DE),
        value: Bytes::from_static(b"abc"),
    };
    t.send(0, &[Chunk::Init(init_with(0x3030_0001, vec![odd]))]);
    let [(_, ack)] = &t.sent_raw()[..] else {
        panic!("one INIT ACK expected")
    };
    let chunks = walk_padded(&ack[12..], 1);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].0, 2, "INIT ACK");
    // The chunk length leaves out the last parameter's padding (§3.2).
    let params = walk_padded(&ack[12 + 20..12 + chunks[0].1.next_multiple_of(4)], 2);
    assert!(params.contains(&(ParamType::UNRECOGNIZED_PARAMETER.0, 4 + 7)));
    assert!(
        params
            .iter()
            .any(|&(ty, _)| ty == ParamType::STATE_COOKIE.0)
    );
    let ack = Packet::parse(Bytes::from(ack.clone())).unwrap();
    let Chunk::InitAck(ack) = &ack.chunks[0] else {
        unreachable!()
    };
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(ack.initiate_tag, &[cookie_echo(&cookie)]);
    assert_eq!(t.sent_one().packet.chunks, [Chunk::CookieAck]);
    let events = t.events();
    let [(id, Event::Up(_))] = events[..] else {
        panic!("{events:?}")
    };

    // A one-byte message: DATA of length 17 and three zero bytes.
    let mut assoc = t.iut.association_mut(id).unwrap();
    assoc.send(0, 0, Bytes::from_static(b"x"), false).unwrap();
    let [(_, packet)] = &t.sent_raw()[..] else {
        panic!("one DATA packet expected")
    };
    assert_eq!(walk_padded(&packet[12..], 1), [(0, 17)]);
    assert_eq!(packet.len(), 12 + 20);

    // DATA from the peer whose padding bytes are not zero: accepted.
    let mut bytes = tester_packet(ack.initiate_tag, &[tester_data(TESTER_TSN, 0, 0, b"y")]);
    let end = bytes.len();
    bytes[end - 3..].copy_from_slice(&[0xFF, 0xEE, 0xDD]);
    fix_checksum(&mut bytes);
    t.send_raw(bytes);
    let got = t
        .iut
        .association_mut(id)
        .unwrap()
        .recv()
        .expect("delivered");
    assert_eq!(&got.data[..], b"y");
}

// ---- §3.2: unrecognized chunk types in an established association ----

/// The value of the single Unrecognized Chunk Type cause of an ERROR.
#[track_caller]
fn unrecognized_chunk(chunk: &Chunk) -> Bytes {
    let Chunk::Error(e) = chunk else {
        panic!("expected ERROR, got {chunk:?}")
    };
    let [ErrorCause::UnrecognizedChunkType(raw)] = &e.causes[..] else {
        panic!("expected one Unrecognized Chunk Type cause: {:?}", e.causes)
    };
    raw.clone()
}

/// T -> HEARTBEAT, `unknown`, HEARTBEAT -> IUT; returns the IUT's single
/// answer, to the tester under its tag.
#[track_caller]
fn between_heartbeats(t: &mut Tester, iut_tag: u32, unknown: Chunk) -> Sent {
    t.send(
        iut_tag,
        &[heartbeat(b"before"), unknown, heartbeat(b"after")],
    );
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), PEER);
    reply
}

/// The association is still established, and nothing was reported to the
/// user (an ERROR is not an event).
#[track_caller]
fn assert_goes_on(t: &mut Tester, id: AssocId) {
    assert!(t.events().is_empty());
    assert_eq!(state(t, id), Some(AssociationState::Established));
}

#[test]
fn unknown_chunk_type_00_stops_processing_without_report() {
    // §3.2, upper bits 00: A -> HEARTBEAT, 0x3F, HEARTBEAT -> Z;
    // Z -> HEARTBEAT ACK (first only) -> A; no ERROR.
    let (mut t, iut_tag, id) = established(PEER);
    let reply = between_heartbeats(&mut t, iut_tag, unknown(0x3F, 0, b"abcd"));
    assert_eq!(reply.packet.chunks, [heartbeat_ack(b"before")]);

    t.send(iut_tag, &[unknown(0x3E, 0x01, b"x"), heartbeat(b"after")]);
    t.sent_nothing();
    assert_goes_on(&mut t, id);
}

#[test]
fn unknown_chunk_type_01_stops_processing_and_reports_the_chunk() {
    // §3.2, upper bits 01: A -> HEARTBEAT, 0x7F, HEARTBEAT -> Z;
    // Z -> HEARTBEAT ACK (first only), ERROR (Unrecognized Chunk Type) -> A.
    let (mut t, iut_tag, id) = established(PEER);
    let reply = between_heartbeats(
        &mut t,
        iut_tag,
        unknown(0x7F, 0xA5, &[1, 2, 3, 4, 5, 6, 7, 8]),
    );
    let [first, report] = &reply.packet.chunks[..] else {
        panic!("{:?}", reply.packet.chunks)
    };
    assert_eq!(first, &heartbeat_ack(b"before"));
    // §3.3.10.6: the whole chunk: type, flags, length, value.
    assert_eq!(
        &unrecognized_chunk(report)[..],
        &[0x7F, 0xA5, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8]
    );
    // Alone, it is reported and nothing after it is processed.
    t.send(
        iut_tag,
        &[unknown(0x40 | 0x2A, 0, b"wxyz"), heartbeat(b"x")],
    );
    let reply = t.sent_one();
    assert_eq!(reply.packet.chunks.len(), 1, "{:?}", reply.packet.chunks);
    assert_eq!(
        &unrecognized_chunk(&reply.packet.chunks[0])[..],
        &[0x6A, 0, 0, 8, b'w', b'x', b'y', b'z']
    );
    assert_goes_on(&mut t, id);
}

#[test]
fn unknown_chunk_type_10_is_skipped_silently() {
    // §3.2, upper bits 10: A -> 0xBF, HEARTBEAT -> Z; Z -> HEARTBEAT ACK
    // -> A; no ERROR.
    let (mut t, iut_tag, _) = established(PEER);
    let reply = between_heartbeats(&mut t, iut_tag, unknown(0xBF, 0x80, b"skip me"));
    assert_eq!(
        reply.packet.chunks,
        [heartbeat_ack(b"before"), heartbeat_ack(b"after")]
    );
}

#[test]
fn unknown_chunk_type_11_is_skipped_and_reported() {
    // §3.2, upper bits 11: A -> 0xFF, HEARTBEAT -> Z; Z -> ERROR
    // (Unrecognized Chunk Type), HEARTBEAT ACK -> A.
    let (mut t, iut_tag, _) = established(PEER);
    t.send(
        iut_tag,
        &[
            unknown(0xFF, 0x3C, &[9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0xAA, 0xBB]),
            heartbeat(b"after"),
        ],
    );
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), PEER);
    let [report, ack] = &reply.packet.chunks[..] else {
        panic!("{:?}", reply.packet.chunks)
    };
    assert_eq!(
        &unrecognized_chunk(report)[..],
        &[0xFF, 0x3C, 0, 16, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0xAA, 0xBB]
    );
    assert_eq!(ack, &heartbeat_ack(b"after"));

    // Two of them in one packet: both reported, and the HEARTBEAT after
    // them is answered.
    t.send(
        iut_tag,
        &[
            unknown(0xFE, 0, b"1234"),
            unknown(0xC5, 0, b"5678"),
            heartbeat(b"end"),
        ],
    );
    let chunks: Vec<Chunk> = t.sent().into_iter().flat_map(|s| s.packet.chunks).collect();
    assert_eq!(chunks.len(), 3, "{chunks:?}");
    assert_eq!(&unrecognized_chunk(&chunks[0])[..4], &[0xFE, 0, 0, 8]);
    assert_eq!(&unrecognized_chunk(&chunks[1])[..4], &[0xC5, 0, 0, 8]);
    assert_eq!(chunks[2], heartbeat_ack(b"end"));
}

#[test]
fn unrecognized_chunk_cause_holds_an_unaligned_chunk_as_received() {
    // §3.3.10.6: a chunk of length 7 (value "abc") comes back with its
    // header as received, length 7, without the padding that followed it.
    let (mut t, iut_tag, _) = established(PEER);
    t.send(iut_tag, &[unknown(0xD1, 0x07, b"abc"), heartbeat(b"hb")]);
    let reply = t.sent_one();
    let [report, ack] = &reply.packet.chunks[..] else {
        panic!("{:?}", reply.packet.chunks)
    };
    let raw = unrecognized_chunk(report);
    assert_eq!(&raw[..], &[0xD1, 0x07, 0, 7, b'a', b'b', b'c']);
    assert_eq!(ack, &heartbeat_ack(b"hb"));
}
