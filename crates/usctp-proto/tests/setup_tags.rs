//! RFC 9260 §8.4 (out-of-the-blue packets), §8.5 and §8.5.1 (verification
//! tag rules) and RFC 6951 §5.4 (learning the peer's UDP encapsulation
//! port only from packets that pass them), played with raw packets against
//! the sans-IO endpoint.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use support::*;
use usctp_proto::association::{AssocId, AssociationError, AssociationState, Event};
use usctp_proto::chunk::{Abort, Chunk, Cwr, Data, Ecne, ErrorCause, ErrorChunk, ForwardTsn, Init};
use usctp_proto::config::Config;
use usctp_proto::serial::Tsn;

/// A DATA chunk of the tester's, PPID 0.
fn data(tsn: u32) -> Chunk {
    Chunk::Data(Data {
        tsn: Tsn(tsn),
        ppid: 0,
        payload: Bytes::from_static(b"hello"),
        ..DATA
    })
}

/// A SACK of the tester's.
fn sack() -> Chunk {
    sack_with(Tsn(999), 65_536, &[])
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
    assert_nothing_set_up(&mut t);
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
        assert_ports(&reply);
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
    assert_nothing_set_up(&mut t);
}

#[test]
fn ootb_cookie_ack_and_stale_cookie_error_are_discarded_silently() {
    // §8.4 (7): A -> COOKIE ACK -> Z; A -> ERROR (Stale Cookie) -> Z;
    // Z says nothing.
    let mut t = Tester::server();
    for vtag in [0, 0x4444, 0x8000_0000] {
        t.send(vtag, &[Chunk::CookieAck]);
        t.send(vtag, &[stale_cookie(1_000)]);
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
    assert_nothing_set_up(&mut t);
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
        ("SHUTDOWN", vec![shutdown_chunk(Tsn(5))]),
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
    t.send(0x6768, &[sack(), stale_cookie(1_000)]);
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
fn tag_0_packets_other_than_a_lone_init_get_no_answer() {
    // §8.5.1 (A): only a lone INIT may carry tag 0; out of the blue, a
    // HEARTBEAT or SHUTDOWN ACK with tag 0 is dropped without a word,
    // while with another tag they are answered (§8.4 (8), (5)).
    let mut t = Tester::server();
    t.send(0, &[heartbeat(b"tag 0")]);
    t.sent_nothing();
    t.send(0, &[Chunk::ShutdownAck]);
    t.sent_nothing();
    t.send(0, &[Chunk::Init(init(PEER_TAG)), heartbeat(b"bundled")]);
    assert_nothing_set_up(&mut t);

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

#[test]
fn init_to_a_non_listening_endpoint_gets_abort_with_the_initiate_tag() {
    // §8.4 (3): A -> INIT (tag 0, initiate tag X) -> Z (not listening);
    // Z -> ABORT (T=0, tag X) -> A.
    let mut t = Tester::with_config(Config::default(), false);
    t.send(0, &[Chunk::Init(init(0x0bad_cafe))]);
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_ports(&reply);
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
    let config = Config::default().with_stateless_replies_per_second(10);
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

#[track_caller]
fn assert_undisturbed(t: &mut Tester, id: AssocId, iut_tag: u32, from: SocketAddr) {
    t.silent();
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

/// A tiny deterministic generator for "random" wrong tags.
fn xorshift(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

#[test]
fn blind_attacker_with_wrong_tags_cannot_disturb_an_established_association() {
    // §8.5, §8.5.1: X (spoofing A's address and port, not knowing the tags)
    // -> any chunk (wrong tag) -> Z; Z discards it silently.
    let (mut t, iut_tag, id) = established(PEER_TAG);

    // A genuine cookie the attacker got for itself, from its own address,
    // and a forged one made from it.
    let attacker: SocketAddr = "10.9.9.9:9899".parse().unwrap();
    t.from = attacker;
    t.send(0, &[Chunk::Init(init(0x0a77_ac4e))]);
    let ack = init_ack_of(&t.sent_one());
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
        ("SHUTDOWN", vec![shutdown_chunk(Tsn(1))]),
        ("SHUTDOWN ACK", vec![Chunk::ShutdownAck]),
        (
            "ERROR",
            vec![error(ErrorCause::ProtocolViolation(Bytes::new()))],
        ),
        ("ERROR stale cookie", vec![stale_cookie(1_000)]),
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
        ("forged COOKIE ECHO", vec![cookie_echo(&forged.clone())]),
        (
            "truncated COOKIE ECHO",
            vec![cookie_echo(&genuine.slice(..genuine.len() / 2))],
        ),
        (
            "genuine cookie, wrong tag",
            vec![cookie_echo(&genuine.clone())],
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
    t.send(ack.initiate_tag, &[cookie_echo(&genuine.clone())]);
    // A forged cookie does not pass even with the right tag.
    t.send(iut_tag, &[cookie_echo(&forged)]);

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
    let (mut t, iut_tag, id) = established(PEER_TAG);
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
    let (mut t, _iut_tag, id) = established(PEER_TAG);
    t.send(PEER_TAG, &[abort(true)]);
    assert_eq!(
        t.events(),
        [(id, Event::Lost(AssociationError::PeerAborted(vec![])))]
    );
    assert_nothing_set_up(&mut t);
}

// ---- RFC 6951 §5.4: the UDP encapsulation port ----

#[test]
fn udp_port_is_learned_only_from_packets_that_pass_the_tag_check() {
    // RFC 6951 §5.4: A (new UDP port) -> HEARTBEAT (right tag) -> Z; the
    // port is learned. X (third UDP port) -> HEARTBEAT (wrong tag) -> Z;
    // nothing learned.
    let (mut t, iut_tag, id) = established(PEER_TAG);
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
