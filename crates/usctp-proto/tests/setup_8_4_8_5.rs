//! RFC 9260 §8.4 (out-of-the-blue packets), §8.5 and §8.5.1 (verification
//! tag rules), §3.2 (unrecognized chunk types) and RFC 6951 §5.4 (learning
//! the peer's UDP encapsulation port), played with raw packets against the
//! sans-IO endpoint.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use usctp_proto::association::{AssocId, AssociationError, AssociationState, Event};
use usctp_proto::chunk::{
    Abort, Chunk, ChunkType, CookieEcho, Cwr, Data, DataFlags, Ecne, ErrorCause, ErrorChunk,
    ForwardTsn, Heartbeat, Init, Sack, Shutdown, ShutdownComplete, UnknownChunk,
};
use usctp_proto::config::Config;
use usctp_proto::serial::{Ssn, Tsn};

// ---- chunk builders ----

fn heartbeat(info: &'static [u8]) -> Chunk {
    Chunk::Heartbeat(Heartbeat {
        info: Bytes::from_static(info),
    })
}

fn heartbeat_ack(info: &'static [u8]) -> Chunk {
    Chunk::HeartbeatAck(Heartbeat {
        info: Bytes::from_static(info),
    })
}

fn data(tsn: u32) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags::WHOLE,
        tsn: Tsn(tsn),
        stream: 0,
        ssn: Ssn(0),
        ppid: 0,
        payload: Bytes::from_static(b"hello"),
    })
}

fn sack() -> Chunk {
    Chunk::Sack(Sack {
        cumulative_tsn_ack: Tsn(999),
        a_rwnd: 65_536,
        gap_blocks: vec![],
        duplicate_tsns: vec![],
    })
}

fn abort(reflected_tag: bool) -> Chunk {
    Chunk::Abort(Abort {
        reflected_tag,
        causes: vec![],
    })
}

fn shutdown_complete(reflected_tag: bool) -> Chunk {
    Chunk::ShutdownComplete(ShutdownComplete { reflected_tag })
}

fn error(cause: ErrorCause) -> Chunk {
    Chunk::Error(ErrorChunk {
        causes: vec![cause],
    })
}

fn stale_cookie_error() -> Chunk {
    error(ErrorCause::StaleCookie {
        staleness_us: 1_000,
    })
}

fn unknown(ty: u8, flags: u8, value: &'static [u8]) -> Chunk {
    let chunk_type = ChunkType(ty);
    assert!(!chunk_type.is_known(), "{ty:#x} is a known chunk type");
    Chunk::Unknown(UnknownChunk {
        chunk_type,
        flags,
        value: Bytes::from_static(value),
    })
}

/// A tiny deterministic generator for "random" wrong tags.
fn xorshift(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

#[track_caller]
fn assert_reflected_abort(sent: &Sent, vtag: u32, to: SocketAddr) {
    assert_eq!(sent.to, to, "reply goes to the packet's source");
    assert_eq!(
        (sent.packet.header.src_port, sent.packet.header.dst_port),
        (IUT_PORT, TESTER_PORT)
    );
    assert_eq!(sent.vtag(), vtag, "the packet's tag is reflected");
    match sent.only() {
        Chunk::Abort(a) => assert!(a.reflected_tag, "T bit set: {a:?}"),
        other => panic!("expected ABORT, got {other:?}"),
    }
}

// ---- §8.4: out-of-the-blue packets ----

#[test]
fn ootb_abort_is_discarded_silently() {
    // §8.4 (2): A -> ABORT (no association) -> Z; Z says nothing.
    let mut t = Tester::server();
    for (vtag, t_bit) in [(0x1111, false), (0x2222, true), (0, false), (0, true)] {
        t.send(vtag, &[abort(t_bit)]);
        t.send(
            vtag,
            &[Chunk::Abort(Abort {
                reflected_tag: t_bit,
                causes: vec![ErrorCause::UserInitiatedAbort(Bytes::from_static(b"x"))],
            })],
        );
    }
    t.sent_nothing();
    assert_eq!(t.iut.association_count(), 0);
    assert!(t.events().is_empty());
    assert_eq!(
        t.iut.stats().replies_suppressed,
        0,
        "dropped, not rate limited"
    );
}

#[test]
fn ootb_shutdown_ack_gets_shutdown_complete_with_t_bit_and_reflected_tag() {
    // §8.4 (5): A -> SHUTDOWN ACK (tag X) -> Z; Z -> SHUTDOWN COMPLETE
    // (T=1, tag X) -> A.
    let mut t = Tester::server();
    for vtag in [0x5a5a_0001, 0xdead_beef, 1] {
        t.send(vtag, &[Chunk::ShutdownAck]);
        let reply = t.sent_one();
        assert_eq!(reply.to, tester_addr());
        assert_eq!(
            (reply.packet.header.src_port, reply.packet.header.dst_port),
            (IUT_PORT, TESTER_PORT)
        );
        assert_eq!(reply.vtag(), vtag, "tag copied from the SHUTDOWN ACK");
        assert_eq!(reply.packet.chunks, [shutdown_complete(true)]);
    }
    assert_eq!(t.iut.association_count(), 0);
    assert!(t.events().is_empty());
}

#[test]
fn ootb_shutdown_complete_is_discarded_silently() {
    // §8.4 (6): A -> SHUTDOWN COMPLETE (T=0 or 1) -> Z; Z says nothing.
    let mut t = Tester::server();
    for vtag in [0, 0x3333, 0xffff_ffff] {
        t.send(vtag, &[shutdown_complete(false)]);
        t.send(vtag, &[shutdown_complete(true)]);
    }
    t.sent_nothing();
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn ootb_cookie_ack_and_stale_cookie_error_are_discarded_silently() {
    // §8.4 (7): A -> COOKIE ACK -> Z; A -> ERROR (Stale Cookie) -> Z;
    // Z says nothing.
    let mut t = Tester::server();
    for vtag in [0, 0x4444, 0x8000_0000] {
        t.send(vtag, &[Chunk::CookieAck]);
        t.send(vtag, &[stale_cookie_error()]);
        // The Stale Cookie cause need not be the first one.
        t.send(
            vtag,
            &[Chunk::Error(ErrorChunk {
                causes: vec![
                    ErrorCause::ProtocolViolation(Bytes::from_static(b"p")),
                    ErrorCause::StaleCookie { staleness_us: 7 },
                ],
            })],
        );
    }
    t.sent_nothing();
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn ootb_other_chunks_get_abort_with_t_bit_and_reflected_tag() {
    // §8.4 (8): A -> DATA / HEARTBEAT / SACK / ... (tag X) -> Z;
    // Z -> ABORT (T=1, tag X) -> A; nothing is kept.
    let mut t = Tester::server();
    let other_error = error(ErrorCause::InvalidStreamIdentifier(3));
    let init_ack = Chunk::InitAck(Init {
        params: vec![usctp_proto::chunk::Param::StateCookie(Bytes::from_static(
            b"c",
        ))],
        ..init(0x7777)
    });
    let cases: Vec<(&str, Vec<Chunk>)> = vec![
        ("DATA", vec![data(1000)]),
        ("HEARTBEAT", vec![heartbeat(b"hb")]),
        ("HEARTBEAT ACK", vec![heartbeat_ack(b"hb")]),
        ("SACK", vec![sack()]),
        ("ERROR, other cause", vec![other_error]),
        ("INIT ACK", vec![init_ack]),
        (
            "SHUTDOWN",
            vec![Chunk::Shutdown(Shutdown {
                cumulative_tsn_ack: Tsn(5),
            })],
        ),
        ("unknown chunk", vec![unknown(0xBF, 0, b"zz")]),
        ("SACK + DATA", vec![sack(), data(1001)]),
    ];
    for (i, (what, chunks)) in cases.into_iter().enumerate() {
        let vtag = 0x0100_0000 + i as u32;
        t.send(vtag, &chunks);
        let sent = t.sent();
        assert_eq!(sent.len(), 1, "{what}: {sent:#?}");
        assert_reflected_abort(&sent[0], vtag, tester_addr());
    }
    assert_eq!(t.iut.association_count(), 0);
    assert_eq!(t.iut.peer_table_len(), 0);
    assert!(t.events().is_empty());
}

#[test]
fn ootb_packet_containing_an_abort_anywhere_gets_no_reply() {
    // §8.4 (2) comes before (8): A -> HEARTBEAT, ..., ABORT -> Z; nothing.
    let mut t = Tester::server();
    let cases = [
        vec![heartbeat(b"hb"), abort(false)],
        vec![sack(), abort(true)],
        vec![error(ErrorCause::OutOfResource), abort(false)],
        vec![heartbeat_ack(b"x"), sack(), abort(true)],
        vec![unknown(0xFF, 0, b"u"), abort(false)],
        vec![Chunk::CookieAck, abort(false)],
    ];
    for chunks in &cases {
        t.send(0x5555, chunks);
        let sent = t.sent();
        assert!(sent.is_empty(), "{chunks:?}: {sent:#?}");
    }
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn ootb_shutdown_ack_bundled_with_abort_gets_no_reply() {
    // §8.4 (2) before (5): A -> SHUTDOWN ACK, ABORT -> Z; nothing.
    let mut t = Tester::server();
    t.send(0x6666, &[Chunk::ShutdownAck, abort(false)]);
    t.sent_nothing();
}

#[test]
fn ootb_cookie_ack_or_stale_cookie_after_another_chunk_is_discarded() {
    // §8.4 (7) before (8): A -> HEARTBEAT, COOKIE ACK -> Z; nothing.
    let mut t = Tester::server();
    t.send(0x6767, &[heartbeat(b"hb"), Chunk::CookieAck]);
    t.sent_nothing();
    t.send(0x6768, &[sack(), stale_cookie_error()]);
    t.sent_nothing();
}

#[test]
fn ootb_packet_with_bundled_init_is_discarded_silently() {
    // §8.5.1 (A), §6.10: A -> INIT + HEARTBEAT (tag 0) -> Z; nothing, and no
    // ABORT either (§8.4 (3) only takes an INIT that travels alone).
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0x1234)), heartbeat(b"hb")]);
    t.send(0, &[heartbeat(b"hb"), Chunk::Init(init(0x1234))]);
    t.sent_nothing();
    assert_eq!(t.iut.stats().init_acks_sent, 0);
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn init_to_a_non_listening_endpoint_gets_abort_with_the_initiate_tag() {
    // §8.4 (3): A -> INIT (tag 0, initiate tag X) -> Z (not listening);
    // Z -> ABORT (T=0, tag X) -> A.
    let mut t = Tester::with_config(Config::default(), false);
    t.send(0, &[Chunk::Init(init(0x0bad_cafe))]);
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(
        (reply.packet.header.src_port, reply.packet.header.dst_port),
        (IUT_PORT, TESTER_PORT)
    );
    assert_eq!(reply.vtag(), 0x0bad_cafe, "the INIT's Initiate Tag");
    let Chunk::Abort(a) = reply.only() else {
        panic!("expected ABORT, got {:?}", reply.only())
    };
    assert!(!a.reflected_tag, "T bit clear");
    assert_eq!(t.iut.association_count(), 0);
    assert_eq!(t.iut.stats().init_acks_sent, 0);
}

// ---- rate limit on stateless replies ----

#[test]
fn stateless_replies_are_rate_limited() {
    // 1000 x (A -> DATA (OOTB) -> Z) at one instant; Z -> ABORT -> A only 10
    // times; a second later, 10 more.
    let config = Config {
        stateless_replies_per_second: 10,
        ..Default::default()
    };
    let mut t = Tester::with_config(config, true);
    for i in 0..1000 {
        t.send(0x1000 + i, &[data(i)]);
    }
    let sent = t.sent();
    assert_eq!(sent.len(), 10);
    for (i, s) in sent.iter().enumerate() {
        // The first ten packets were the ones answered.
        assert_reflected_abort(s, 0x1000 + i as u32, tester_addr());
    }
    assert_eq!(t.iut.stats().replies_suppressed, 990);

    // Still the same instant: nothing more.
    t.send(0x9999, &[data(1)]);
    t.sent_nothing();
    assert_eq!(t.iut.stats().replies_suppressed, 991);

    t.advance(Duration::from_secs(1));
    for i in 0..1000 {
        t.send(0x2000 + i, &[data(i)]);
    }
    let sent = t.sent();
    assert_eq!(sent.len(), 10, "the bucket refills, to its size only");
    assert_reflected_abort(&sent[0], 0x2000, tester_addr());
    assert_eq!(t.iut.stats().replies_suppressed, 991 + 990);
    assert_eq!(t.iut.association_count(), 0);
}

// ---- §8.5, §8.5.1: the tag of an established association ----

/// An established association with the tester as peer, tag `PEER_TAG`.
const PEER_TAG: u32 = 0xa5a5_0001;

fn established() -> (Tester, u32, AssocId) {
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(PEER_TAG);
    assert_ne!(iut_tag, PEER_TAG);
    (t, iut_tag, id)
}

#[track_caller]
fn assert_undisturbed(t: &mut Tester, id: AssocId, iut_tag: u32, from: SocketAddr) {
    t.sent_nothing();
    assert!(t.events().is_empty());
    let assoc = t
        .iut
        .association(id)
        .expect("the association is still there");
    assert_eq!(assoc.state(), AssociationState::Established);
    assert_eq!(assoc.local_tag(), iut_tag);
    assert_eq!(assoc.peer_tag(), PEER_TAG);
    assert_eq!(assoc.peer_addresses(), [from]);
    assert_eq!(t.iut.association_count(), 1);
}

#[test]
fn blind_attacker_with_wrong_tags_cannot_disturb_an_established_association() {
    // §8.5, §8.5.1: X (spoofing A's address and port, not knowing the tags)
    // -> any chunk (wrong tag) -> Z; Z discards it silently.
    let (mut t, iut_tag, id) = established();

    // A genuine cookie the attacker got for itself, from its own address,
    // and a forged one made from it.
    let attacker: SocketAddr = "10.9.9.9:9899".parse().unwrap();
    t.from = attacker;
    t.send(0, &[Chunk::Init(init(0x0a77_ac4e))]);
    let Chunk::InitAck(ack) = t.sent_one().only().clone() else {
        panic!("expected INIT ACK")
    };
    t.from = tester_addr();
    let genuine = ack.state_cookie().unwrap().clone();
    let mut forged = genuine.to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 0x80;
    let forged = Bytes::from(forged);

    let mut wrong = vec![
        0,
        iut_tag ^ 1,
        iut_tag ^ 0x8000_0000,
        iut_tag.wrapping_add(1),
        iut_tag.wrapping_sub(1),
        !iut_tag,
        PEER_TAG,
        PEER_TAG ^ 1,
        u32::MAX,
        1,
    ];
    let mut seed = 0x1234_5678;
    for _ in 0..50 {
        wrong.push(xorshift(&mut seed));
    }
    wrong.retain(|&w| w != iut_tag);
    // For chunks whose T bit says "your own tag, reflected", the IUT's own
    // tag is just as wrong.
    let mut wrong_reflected: Vec<u32> = wrong.iter().copied().filter(|&w| w != PEER_TAG).collect();
    wrong_reflected.push(iut_tag);

    let chunks: Vec<(&str, Vec<Chunk>)> = vec![
        ("DATA", vec![data(1000)]),
        ("SACK", vec![sack()]),
        ("HEARTBEAT", vec![heartbeat(b"hb")]),
        ("HEARTBEAT ACK", vec![heartbeat_ack(b"hb")]),
        ("ABORT T=0", vec![abort(false)]),
        (
            "SHUTDOWN",
            vec![Chunk::Shutdown(Shutdown {
                cumulative_tsn_ack: Tsn(1),
            })],
        ),
        ("SHUTDOWN ACK", vec![Chunk::ShutdownAck]),
        (
            "ERROR",
            vec![error(ErrorCause::ProtocolViolation(Bytes::new()))],
        ),
        ("ERROR stale cookie", vec![stale_cookie_error()]),
        ("COOKIE ACK", vec![Chunk::CookieAck]),
        ("SHUTDOWN COMPLETE T=0", vec![shutdown_complete(false)]),
        (
            "ECNE",
            vec![Chunk::Ecne(Ecne {
                lowest_tsn: Tsn(1000),
            })],
        ),
        (
            "CWR",
            vec![Chunk::Cwr(Cwr {
                lowest_tsn: Tsn(1000),
            })],
        ),
        (
            "FORWARD TSN",
            vec![Chunk::ForwardTsn(ForwardTsn {
                new_cumulative_tsn: Tsn(2000),
                streams: vec![],
            })],
        ),
        ("unknown 0xFF", vec![unknown(0xFF, 0, b"report me")]),
        ("unknown 0x7F", vec![unknown(0x7F, 0, b"report me")]),
        (
            "INIT bundled",
            vec![Chunk::Init(init(0x0a77_ac4e)), heartbeat(b"hb")],
        ),
        (
            "forged COOKIE ECHO",
            vec![Chunk::CookieEcho(CookieEcho {
                cookie: forged.clone(),
            })],
        ),
        (
            "truncated COOKIE ECHO",
            vec![Chunk::CookieEcho(CookieEcho {
                cookie: genuine.slice(..genuine.len() / 2),
            })],
        ),
        (
            "genuine cookie, wrong tag",
            vec![Chunk::CookieEcho(CookieEcho {
                cookie: genuine.clone(),
            })],
        ),
    ];
    for (what, chunks) in &chunks {
        for &vtag in &wrong {
            t.send(vtag, chunks);
            let sent = t.sent();
            assert!(sent.is_empty(), "{what}, tag {vtag:#x}: {sent:#?}");
        }
    }
    // An INIT alone with a tag other than 0 (with 0 it would be a restart
    // attempt, §5.2.2).
    for &vtag in wrong.iter().filter(|&&w| w != 0) {
        t.send(vtag, &[Chunk::Init(init(0x0a77_ac4e))]);
        let sent = t.sent();
        assert!(sent.is_empty(), "INIT, tag {vtag:#x}: {sent:#?}");
    }
    // T bit set: the tag must be the peer's own (§8.5.1 (B), (C)).
    for chunk in [abort(true), shutdown_complete(true)] {
        for &vtag in &wrong_reflected {
            t.send(vtag, std::slice::from_ref(&chunk));
            let sent = t.sent();
            assert!(sent.is_empty(), "{chunk:?}, tag {vtag:#x}: {sent:#?}");
        }
    }
    // The cookie the attacker got, with the tag its INIT ACK gave it: the
    // tags match neither side of the association (§5.2.4 (C)-like, §5.1.5).
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho {
            cookie: genuine.clone(),
        })],
    );
    // A forged cookie does not pass even with the right tag.
    t.send(iut_tag, &[Chunk::CookieEcho(CookieEcho { cookie: forged })]);

    assert_undisturbed(&mut t, id, iut_tag, tester_addr());

    // And the association still works: a HEARTBEAT with the right tag is
    // answered.
    t.send(iut_tag, &[heartbeat(b"alive")]);
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), PEER_TAG);
    assert_eq!(reply.packet.chunks, [heartbeat_ack(b"alive")]);
}

#[test]
fn abort_with_the_iuts_tag_and_t_bit_clear_ends_the_association() {
    // §8.5.1 (B): A -> ABORT (T=0, Z's tag) -> Z; Z is gone, says nothing.
    let (mut t, iut_tag, id) = established();
    let cause = ErrorCause::UserInitiatedAbort(Bytes::from_static(b"bye"));
    t.send(
        iut_tag,
        &[Chunk::Abort(Abort {
            reflected_tag: false,
            causes: vec![cause.clone()],
        })],
    );
    assert_eq!(
        t.events(),
        [(id, Event::Lost(AssociationError::PeerAborted(vec![cause])))]
    );
    // §3.3.7: an ABORT is never answered with an ABORT.
    t.sent_nothing();
    assert!(t.iut.association(id).is_none());
    assert_eq!(t.iut.association_count(), 0);
    assert_eq!(t.iut.peer_table_len(), 0);
}

#[test]
fn abort_with_t_bit_and_the_peers_own_tag_ends_the_association() {
    // §8.5.1 (B): A -> ABORT (T=1, A's own tag) -> Z; Z is gone.
    let (mut t, _iut_tag, id) = established();
    t.send(PEER_TAG, &[abort(true)]);
    assert_eq!(
        t.events(),
        [(id, Event::Lost(AssociationError::PeerAborted(vec![])))]
    );
    t.sent_nothing();
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn heartbeat_with_the_right_tag_is_answered_with_the_same_info() {
    // §8.3, §8.5: A -> HEARTBEAT (Z's tag) -> Z; Z -> HEARTBEAT ACK (A's
    // tag, same info) -> A, to the HEARTBEAT's source.
    let (mut t, iut_tag, id) = established();
    let info: &'static [u8] = b"sender-specific \x00\x01\x02 info, 29 bytes";
    t.send(iut_tag, &[heartbeat(info)]);
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(
        (reply.packet.header.src_port, reply.packet.header.dst_port),
        (IUT_PORT, TESTER_PORT)
    );
    assert_eq!(reply.vtag(), PEER_TAG);
    assert_eq!(reply.packet.chunks, [heartbeat_ack(info)]);
    assert!(t.events().is_empty());
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::Established
    );
}

// ---- RFC 6951 §5.4: the UDP encapsulation port ----

#[test]
fn udp_port_is_learned_only_from_packets_that_pass_the_tag_check() {
    // RFC 6951 §5.4: A (new UDP port) -> HEARTBEAT (right tag) -> Z; the
    // port is learned. X (third UDP port) -> HEARTBEAT (wrong tag) -> Z;
    // nothing learned.
    let (mut t, iut_tag, id) = established();
    let second: SocketAddr = "10.0.0.2:20002".parse().unwrap();
    let third: SocketAddr = "10.0.0.2:30003".parse().unwrap();

    t.from = second;
    t.send(iut_tag, &[heartbeat(b"one")]);
    let reply = t.sent_one();
    assert_eq!(reply.to, second);
    assert_eq!(reply.packet.chunks, [heartbeat_ack(b"one")]);
    assert_eq!(t.iut.association(id).unwrap().peer_addresses(), [second]);

    t.from = third;
    for vtag in [0, iut_tag ^ 1, PEER_TAG] {
        t.send(vtag, &[heartbeat(b"evil")]);
        t.send(vtag, &[data(1000)]);
    }
    t.send(iut_tag ^ 1, &[abort(false)]);
    t.send(iut_tag, &[abort(true)]);
    assert_undisturbed(&mut t, id, iut_tag, second);

    t.from = second;
    t.send(iut_tag, &[heartbeat(b"two")]);
    let reply = t.sent_one();
    assert_eq!(reply.to, second);
    assert_eq!(reply.packet.chunks, [heartbeat_ack(b"two")]);

    // What the IUT sends on its own goes to the learned port too.
    t.iut.abort(id, b"done");
    let abort = t.sent_one();
    assert_eq!(abort.to, second);
    assert_eq!(abort.vtag(), PEER_TAG);
    assert!(matches!(abort.only(), Chunk::Abort(a) if !a.reflected_tag));
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

#[test]
fn unknown_chunk_type_00_stops_processing_without_report() {
    // §3.2, upper bits 00: A -> HEARTBEAT, 0x3F, HEARTBEAT -> Z;
    // Z -> HEARTBEAT ACK (first only) -> A; no ERROR.
    let (mut t, iut_tag, id) = established();
    t.send(
        iut_tag,
        &[
            heartbeat(b"before"),
            unknown(0x3F, 0, b"abcd"),
            heartbeat(b"after"),
        ],
    );
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), PEER_TAG);
    assert_eq!(reply.packet.chunks, [heartbeat_ack(b"before")]);

    t.send(iut_tag, &[unknown(0x3E, 0x01, b"x"), heartbeat(b"after")]);
    t.sent_nothing();
    assert!(t.events().is_empty());
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::Established
    );
}

#[test]
fn unknown_chunk_type_01_stops_processing_and_reports_the_chunk() {
    // §3.2, upper bits 01: A -> HEARTBEAT, 0x7F, HEARTBEAT -> Z;
    // Z -> HEARTBEAT ACK (first only), ERROR (Unrecognized Chunk Type) -> A.
    let (mut t, iut_tag, id) = established();
    t.send(
        iut_tag,
        &[
            heartbeat(b"before"),
            unknown(0x7F, 0xA5, &[1, 2, 3, 4, 5, 6, 7, 8]),
            heartbeat(b"after"),
        ],
    );
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), PEER_TAG);
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
    // An ERROR is not an event, and the association goes on.
    assert!(t.events().is_empty());
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::Established
    );
}

#[test]
fn unknown_chunk_type_10_is_skipped_silently() {
    // §3.2, upper bits 10: A -> 0xBF, HEARTBEAT -> Z; Z -> HEARTBEAT ACK
    // -> A; no ERROR.
    let (mut t, iut_tag, _) = established();
    t.send(
        iut_tag,
        &[
            heartbeat(b"before"),
            unknown(0xBF, 0x80, b"skip me"),
            heartbeat(b"after"),
        ],
    );
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), PEER_TAG);
    assert_eq!(
        reply.packet.chunks,
        [heartbeat_ack(b"before"), heartbeat_ack(b"after")]
    );
}

#[test]
fn unknown_chunk_type_11_is_skipped_and_reported() {
    // §3.2, upper bits 11: A -> 0xFF, HEARTBEAT -> Z; Z -> ERROR
    // (Unrecognized Chunk Type), HEARTBEAT ACK -> A.
    let (mut t, iut_tag, _) = established();
    t.send(
        iut_tag,
        &[
            unknown(0xFF, 0x3C, &[9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0xAA, 0xBB]),
            heartbeat(b"after"),
        ],
    );
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), PEER_TAG);
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
    let (mut t, iut_tag, _) = established();
    t.send(iut_tag, &[unknown(0xD1, 0x07, b"abc"), heartbeat(b"hb")]);
    let reply = t.sent_one();
    let [report, ack] = &reply.packet.chunks[..] else {
        panic!("{:?}", reply.packet.chunks)
    };
    let raw = unrecognized_chunk(report);
    assert_eq!(&raw[..], &[0xD1, 0x07, 0, 7, b'a', b'b', b'c']);
    assert_eq!(ack, &heartbeat_ack(b"hb"));
}
