//! ETSI TS 102 369 test purposes of the groups IMH, FH and E
//! (docs/etsi-test-purposes.md), played with raw packets against the IUT
//! and judged by RFC 9260: association setup, data transfer and shutdown.
//! One test per purpose, named after its id (DM is in conformance_dm.rs); purposes of AS, IMH, DM, FH and
//! E that need what the IUT does not have yet are listed in NOT_YET, and a
//! test keeps that list, these tests and the record in step.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::etsi::assert_record;
use support::*;
use usctp_proto::association::{AssociationError, AssociationState, Event, PathChange};
use usctp_proto::chunk::{
    Abort, Chunk, Data, DataFlags, ErrorCause, ErrorChunk, Heartbeat, Param, ParamType,
    ShutdownComplete,
};
use usctp_proto::config::Config;
use usctp_proto::serial::{Ssn, Tsn};

/// Test purposes of these groups that cannot be checked yet, with why.
const NOT_YET: &[(&str, &str)] = &[];

// ---- IMH: invalid message handling ----

/// An INIT chunk too short for its mandatory fields is dropped, no INIT
/// ACK; a valid INIT afterwards is answered (RFC 9260 §3.2, §3.3.2).
#[test]
fn sctp_imh_i_3_1() {
    let mut t = Tester::server();
    let whole = packet(TESTER_PORT, IUT_PORT, 0, &[Chunk::Init(init(0x3100_0001))]);
    // Chunk of 16 bytes: header and 12 of the 16 bytes of fixed fields.
    let mut short = whole[..12 + 16].to_vec();
    short[14..16].copy_from_slice(&16u16.to_be_bytes());
    fix_checksum(&mut short);
    // T -> INIT (too short) -> IUT
    t.send_raw(short);
    assert_init_dropped_and_a_clean_one_answered(&mut t, 0x3100_0002);
}

/// A truncated INIT ACK gets no COOKIE ECHO: either it is dropped and INIT
/// is resent on T1-init, or the IUT aborts with Protocol Violation
/// (RFC 9260 §3.2, §3.3.3).
#[test]
fn sctp_imh_i_3_2() {
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
    let whole = packet(
        TESTER_PORT,
        IUT_PORT,
        ours.initiate_tag,
        &[tester_init_ack(0x3200_0001, vec![cookie_param()])],
    );
    let mut short = whole[..12 + 16].to_vec();
    short[14..16].copy_from_slice(&16u16.to_be_bytes());
    fix_checksum(&mut short);
    // T -> INIT ACK (truncated) -> IUT
    t.send_raw(short);
    let sent = t.sent();
    if sent.is_empty() {
        // IUT: dropped; IUT -> INIT -> T on T1-init
        assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
        t.advance(Duration::from_secs(1));
        // T -> INIT ACK -> IUT
        let (again, _) = answer_init(&mut t, 0x3200_0001, vec![]);
        assert_eq!(again, ours);
        // IUT -> COOKIE ECHO -> T
        assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    } else {
        assert_protocol_violation(&sent);
        assert!(matches!(t.events()[..], [(_, Event::CantStart(_))]));
    }
}

/// A COOKIE ECHO in a packet whose Verification Tag is not the cookie's is
/// discarded silently: no COOKIE ACK, no association (RFC 9260 §5.1.5,
/// §8.5.1 (D)).
#[test]
fn sctp_imh_i_3_3() {
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let (mut t, ack) = init_acked(0x3300_0001);
    let cookie = ack.state_cookie().unwrap().clone();
    for wrong in [ack.initiate_tag.wrapping_add(1), 0, 0x3300_0001] {
        // T -> COOKIE ECHO (wrong Verification Tag) -> IUT
        t.send(wrong, &[cookie_echo(&cookie)]);
        // IUT: nothing
        t.sent_nothing();
    }
    assert_eq!(t.iut.association_count(), 0);
    assert!(t.events().is_empty());
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
}

/// An INIT with a bad CRC32c checksum is discarded silently; with the right
/// checksum it is answered (RFC 9260 §6.8).
#[test]
fn sctp_imh_i_3_4() {
    let mut t = Tester::server();
    let good = packet(TESTER_PORT, IUT_PORT, 0, &[Chunk::Init(init(0x3400_0001))]);
    let mut bad = good.clone();
    bad[8] ^= 0x5a;
    // T -> INIT (bad checksum) -> IUT
    t.send_raw(bad);
    // IUT: nothing
    assert_nothing_set_up(&mut t);
    // T -> INIT -> IUT
    t.send_raw(good);
    // IUT -> INIT ACK -> T
    assert!(matches!(t.sent_one().only(), Chunk::InitAck(_)));
}

/// A COOKIE ECHO whose cookie was tampered with (MAC fails) is discarded
/// silently: no COOKIE ACK, no association (RFC 9260 §5.1.5 step 2).
#[test]
fn sctp_imh_i_3_5() {
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let (mut t, ack) = init_acked(0x3500_0001);
    let cookie = ack.state_cookie().unwrap().clone();
    for at in [0, cookie.len() / 2, cookie.len() - 1] {
        let mut tampered = cookie.to_vec();
        tampered[at] ^= 0x80;
        // T -> COOKIE ECHO (tampered cookie) -> IUT
        t.send(ack.initiate_tag, &[cookie_echo(&Bytes::from(tampered))]);
        // IUT: nothing
        t.sent_nothing();
    }
    assert_eq!(t.iut.association_count(), 0);
    assert!(t.events().is_empty());
}

/// A valid cookie echoed after its lifetime gets an ERROR with Stale Cookie
/// saying how late it is; no association (RFC 9260 §5.1.5, §3.3.10.3).
#[test]
fn sctp_imh_i_3_6() {
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let (mut t, ack) = init_acked(0x3600_0001);
    t.advance(Duration::from_secs(61));
    // T -> COOKIE ECHO (cookie 1 s past its 60 s life) -> IUT
    // IUT -> ERROR (Stale Cookie) -> T
    let reply = echo_cookie(&mut t, &ack);
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), 0x3600_0001);
    assert_eq!(
        reply.packet.chunks,
        [Chunk::Error(ErrorChunk {
            causes: vec![ErrorCause::StaleCookie {
                staleness_us: 1_000_000
            }]
        })]
    );
    assert_eq!(t.iut.association_count(), 0);
    assert!(t.events().is_empty());
}

/// An ABORT with a wrong Verification Tag (with or without the T bit) is
/// discarded and the association survives; the right one ends it
/// (RFC 9260 §8.5.1 (B)).
#[test]
fn sctp_imh_i_3_7() {
    let (mut t, iut_tag, id) = established(0x3700_0001);
    for (vtag, t_bit) in [(iut_tag ^ 1, false), (0x3700_0002, true), (iut_tag, true)] {
        // T -> ABORT (wrong Verification Tag) -> IUT
        let abort = abort(t_bit);
        t.send(vtag, &[abort]);
        // IUT: nothing
        t.sent_nothing();
    }
    assert!(t.events().is_empty());
    assert_established_and_alive(&mut t, id, iut_tag, 0x3700_0001);
    // T -> ABORT -> IUT (right tag)
    t.send(iut_tag, &[Chunk::Abort(Abort::default())]);
    t.sent_nothing();
    assert_eq!(
        t.events(),
        [(id, Event::Lost(AssociationError::PeerAborted(vec![])))]
    );
}

/// A packet shorter than the INIT chunk length it claims is dropped, no
/// INIT ACK; a valid INIT afterwards is answered (RFC 9260 §3.2).
#[test]
fn sctp_imh_i_3_8() {
    let mut t = Tester::server();
    let preservative = vec![Param::CookiePreservative(1_000)];
    let whole = packet(
        TESTER_PORT,
        IUT_PORT,
        0,
        &[Chunk::Init(init_with(0x3800_0001, preservative))],
    );
    // The chunk says 28 bytes; 4 of them (of the parameter) are missing.
    assert_eq!(u16::from_be_bytes([whole[14], whole[15]]), 28);
    let mut short = whole[..whole.len() - 4].to_vec();
    fix_checksum(&mut short);
    // T -> INIT (shorter than its length) -> IUT
    t.send_raw(short);
    assert_init_dropped_and_a_clean_one_answered(&mut t, 0x3800_0002);
}

/// In SHUTDOWN-SENT, a SHUTDOWN ACK under a wrong Verification Tag is
/// discarded and T2-shutdown goes on resending the SHUTDOWN; the right one
/// gets SHUTDOWN COMPLETE (RFC 9260 §8.5, §9.2).
#[test]
fn sctp_imh_i_3_9() {
    const PEER: u32 = 0x3900_0001;
    // IUT -> SHUTDOWN -> T
    let (mut t, iut_tag, id, _) = in_shutdown_sent(PEER);
    let resent = [shutdown_chunk(Tsn(TESTER_TSN - 1))];
    // T2-shutdown: RTO (1 s), doubling.
    for (wrong, rto) in [(iut_tag ^ 1, 1), (PEER, 2), (0, 4)] {
        // T -> SHUTDOWN ACK (wrong Verification Tag) -> IUT
        t.send(wrong, &[Chunk::ShutdownAck]);
        // IUT: nothing
        t.silent();
        assert_eq!(state(&t, id), Some(AssociationState::ShutdownSent));
        // IUT -> SHUTDOWN -> T (T2-shutdown)
        t.quiet_for(Duration::from_secs(rto) - Duration::from_millis(1));
        t.advance(Duration::from_millis(1));
        let again = t.sent_one();
        assert_eq!(again.vtag(), PEER);
        assert_eq!(again.packet.chunks, resent, "after {rto} s");
    }
    // T -> SHUTDOWN ACK -> IUT
    t.send(iut_tag, &[Chunk::ShutdownAck]);
    // IUT -> SHUTDOWN COMPLETE -> T
    assert_shutdown_complete(&t.sent_one(), PEER);
    assert_eq!(t.events(), [(id, Event::ShutdownComplete)]);
    // T -> HEARTBEAT -> IUT; IUT -> ABORT (T bit) -> T
    assert_gone(&mut t, iut_tag);
}

/// In SHUTDOWN-ACK-SENT, a SHUTDOWN COMPLETE whose Verification Tag is not
/// the one its T bit calls for is discarded and T2-shutdown goes on resending
/// the SHUTDOWN ACK; the right one ends the association (RFC 9260 §8.5.1 (C),
/// §9.2).
#[test]
fn sctp_imh_i_3_10() {
    const PEER: u32 = 0x3a00_0001;
    // T -> SHUTDOWN -> IUT
    // IUT -> SHUTDOWN ACK -> T
    let (mut t, iut_tag, id) = in_shutdown_ack_sent(PEER);
    // Without the T bit the tag must be the IUT's, with it the tester's.
    let wrong = [
        (iut_tag ^ 1, false),
        (PEER, false),
        (iut_tag, true),
        (0, false),
    ];
    // T2-shutdown: RTO (1 s), doubling.
    for ((vtag, t_bit), rto) in wrong.into_iter().zip([1, 2, 4, 8]) {
        // T -> SHUTDOWN COMPLETE (wrong Verification Tag) -> IUT
        let complete = Chunk::ShutdownComplete(ShutdownComplete {
            reflected_tag: t_bit,
        });
        t.send(vtag, &[complete]);
        // IUT: nothing
        t.silent();
        assert_eq!(state(&t, id), Some(AssociationState::ShutdownAckSent));
        // IUT -> SHUTDOWN ACK -> T (T2-shutdown)
        t.quiet_for(Duration::from_secs(rto) - Duration::from_millis(1));
        t.advance(Duration::from_millis(1));
        assert_shutdown_ack(&t.sent_one(), PEER);
    }
    complete_shutdown_and_forget(&mut t, iut_tag, id);
}

// ---- FH: fault handling ----

/// DATA never acknowledged is retransmitted on T3-rtx, RTO doubling up to
/// RTO.Max, Association.Max.Retrans (10) times; at the next expiry the peer
/// is deemed unreachable, the association closes and the user is told
/// (RFC 9260 §8.1, §6.3.3 E1–E3).
#[test]
fn sctp_fh_i_5_1_1() {
    const PEER: u32 = 0x5110_0001;
    // IUT -> DATA -> T (never acknowledged)
    let (mut t, iut_tag, id, data) = with_outstanding_data(PEER, b"are you there?");
    // IUT -> DATA -> T (T3-rtx) at 1, 3, 7, 15, 31, 63, 123, ... 303 s
    let sent = run_for(&mut t, Duration::from_secs(362));
    for (at, s) in &sent {
        assert_eq!(only_data(s, PEER), data, "at {at:?}");
    }
    assert_eq!(
        times(&sent),
        secs(&[1, 3, 7, 15, 31, 63, 123, 183, 243, 303]),
        "ten retransmissions"
    );
    // §8.2: the path's error count passed Path.Max.Retrans (5) at the
    // sixth timeout: it is reported unreachable; the association lives on.
    let events = t.events();
    assert!(
        matches!(
            events.as_slice(),
            [(i, Event::PathChange { change: PathChange::Unreachable, .. })] if *i == id
        ),
        "{events:?}"
    );
    assert_eq!(state(&t, id), Some(AssociationState::Established));
    // T3-rtx expires an eleventh time (363 s): the error counter passes 10
    t.advance(Duration::from_secs(1));
    // IUT -> ABORT -> T (optional)
    assert_nothing_or_abort(&t.sent(), PEER);
    let events = t.events();
    assert_lost_to_retransmissions(&events, id);
    // The user gets the message back (SCTP_SEND_FAILED_EVENT).
    let failed: Vec<_> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::SendFailed(m) => Some(m.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(&failed[0].data[..], b"are you there?");
    assert!(!failed[0].partly_sent);
    let sent = run_for(&mut t, Duration::from_secs(120));
    assert!(sent.is_empty(), "{sent:#?}");
    // T -> HEARTBEAT -> IUT; IUT -> ABORT (T bit) -> T
    assert_gone(&mut t, iut_tag);
}

/// A SACK resets the error counter: after one message was retransmitted 3
/// times and then acknowledged, the next one, never acknowledged, is still
/// retransmitted Association.Max.Retrans (10) times before the association
/// is given up (RFC 9260 §8.1).
#[test]
fn sctp_fh_i_5_1_2() {
    const PEER: u32 = 0x5120_0001;
    // IUT -> DATA -> T
    let (mut t, iut_tag, id, first) = with_outstanding_data(PEER, b"first");
    // IUT -> DATA -> T (T3-rtx) at 1, 3 and 7 s: the error counter is 3
    let sent = run_for(&mut t, Duration::from_secs(7));
    assert_eq!(sent.len(), 3, "{sent:#?}");
    for (at, s) in &sent {
        assert_eq!(only_data(s, PEER), first, "at {at:?}");
    }
    // T -> SACK -> IUT
    t.send(iut_tag, &[sack_chunk(first.tsn)]);
    // IUT: nothing
    t.sent_nothing();
    assert_events_only(&mut t, |e| matches!(e, Event::SenderDry));
    user_sends(&mut t, id, b"second");
    // IUT -> DATA -> T (never acknowledged)
    let second = only_data(&t.sent_one(), PEER);
    assert_eq!(second.tsn, first.tsn.next());
    // IUT -> DATA -> T (T3-rtx) ten times, then ABORT (optional)
    let sent: Vec<Sent> = run_for(&mut t, Duration::from_secs(900))
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let retransmissions = sent
        .iter()
        .take_while(|s| matches!(&s.packet.chunks[..], [Chunk::Data(_)]))
        .count();
    assert_eq!(retransmissions, 10, "{sent:#?}");
    for s in &sent[..retransmissions] {
        assert_eq!(only_data(s, PEER), second);
    }
    assert_nothing_or_abort(&sent[retransmissions..], PEER);
    assert_lost_to_retransmissions(&t.events(), id);
    // T -> HEARTBEAT -> IUT; IUT -> ABORT (T bit) -> T
    assert_gone(&mut t, iut_tag);
}

/// A HEARTBEAT is answered with a HEARTBEAT ACK returning the Heartbeat Info
/// unchanged, to its source (RFC 9260 §8.3).
#[test]
fn sctp_fh_v_5_2() {
    let (mut t, iut_tag, _) = established(0x5200_0001);
    let info: Vec<u8> = (0..=255u8).rev().collect();
    let hb = Heartbeat {
        info: Bytes::from(info),
    };
    // T -> HEARTBEAT -> IUT
    t.send(iut_tag, &[Chunk::Heartbeat(hb.clone())]);
    // IUT -> HEARTBEAT ACK -> T
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), 0x5200_0001);
    assert_eq!(reply.packet.chunks, [Chunk::HeartbeatAck(hb)]);
}

/// An out-of-the-blue DATA gets an ABORT with the T bit and the packet's tag
/// reflected (RFC 9260 §8.4 (8)).
#[test]
fn sctp_fh_o_5_3_1() {
    let mut t = Tester::server();
    let data = Chunk::Data(Data {
        flags: DataFlags::WHOLE,
        tsn: Tsn(1),
        stream: 0,
        ssn: Ssn(0),
        ppid: 0,
        payload: Bytes::from_static(b"out of the blue"),
    });
    // T -> DATA -> IUT
    t.send(0x5310_0001, &[data]);
    assert_ootb_abort(&mut t, 0x5310_0001);
}

/// An out-of-the-blue ABORT is discarded silently (RFC 9260 §8.4 (2)).
#[test]
fn sctp_fh_o_5_3_2() {
    // T -> ABORT -> IUT
    assert_ootb_discarded(0x5320_0001, abort);
}

/// An out-of-the-blue SHUTDOWN ACK gets a SHUTDOWN COMPLETE with the T bit
/// and the packet's tag reflected (RFC 9260 §8.4 (5)).
#[test]
fn sctp_fh_o_5_3_3() {
    let mut t = Tester::server();
    // T -> SHUTDOWN ACK -> IUT
    t.send(0x5330_0001, &[Chunk::ShutdownAck]);
    // IUT -> SHUTDOWN COMPLETE (T bit) -> T
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), 0x5330_0001);
    assert_eq!(
        reply.packet.chunks,
        [Chunk::ShutdownComplete(ShutdownComplete {
            reflected_tag: true
        })]
    );
}

/// An out-of-the-blue SHUTDOWN COMPLETE is discarded silently
/// (RFC 9260 §8.4 (6)).
#[test]
fn sctp_fh_o_5_3_4() {
    // T -> SHUTDOWN COMPLETE -> IUT
    assert_ootb_discarded(0x5340_0001, |reflected_tag| {
        Chunk::ShutdownComplete(ShutdownComplete { reflected_tag })
    });
}

/// The out-of-the-blue chunk `with_t_bit` makes, with the T bit clear and
/// set, is each time discarded silently, and nothing is set up.
#[track_caller]
fn assert_ootb_discarded(vtag: u32, with_t_bit: impl Fn(bool) -> Chunk) {
    let mut t = Tester::server();
    for t_bit in [false, true] {
        t.send(vtag, &[with_t_bit(t_bit)]);
        // IUT: nothing
        t.sent_nothing();
    }
    assert_eq!(t.iut.association_count(), 0);
}

/// A COOKIE ECHO from a multicast or broadcast source is discarded silently
/// even with a valid cookie, which from unicast works (RFC 9260 §8.4 (1)).
#[test]
fn sctp_fh_o_5_3_5() {
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let (mut t, ack) = init_acked(0x5350_0001);
    for source in ["224.0.0.1:9899", "255.255.255.255:9899", "[ff02::1]:9899"] {
        t.from = source.parse().unwrap();
        // T (non-unicast source) -> COOKIE ECHO -> IUT
        t.send(
            ack.initiate_tag,
            &[cookie_echo(&ack.state_cookie().unwrap().clone())],
        );
        // IUT: nothing
        t.sent_nothing();
        assert_eq!(t.iut.association_count(), 0, "from {source}");
    }
    assert!(t.events().is_empty());
    // T -> COOKIE ECHO -> IUT (from the INIT's source)
    // IUT -> COOKIE ACK -> T
    t.from = tester_addr();
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
}

// ---- E: error ----

/// A Stale Cookie ERROR in COOKIE-ECHOED restarts setup with a new INIT
/// (whose Cookie Preservative, if any, asks for at most the measured RTT
/// plus 1 s) or ends it (RFC 9260 §5.2.6).
#[test]
fn sctp_e_o_6_1() {
    // A slow path: T1-cookie must not fire during the 4 s round trip.
    let config = Config::default().with_rto_initial(Duration::from_secs(10));
    let (mut t, id) = client_with(config);
    // IUT -> INIT -> T
    // T -> INIT ACK -> IUT
    let (ours, _) = answer_init(&mut t, 0x6100_0001, vec![]);
    // IUT -> COOKIE ECHO -> T
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    let rtt = Duration::from_secs(4);
    t.quiet_for(rtt);
    // T -> ERROR (Stale Cookie: 3 s late, a 1 s cookie life) -> IUT
    t.send(ours.initiate_tag, &[stale_cookie(3_000_000)]);
    let sent = t.sent();
    if sent.is_empty() {
        // IUT gives up
        assert_eq!(
            t.events(),
            [(id, Event::CantStart(AssociationError::StaleCookie))]
        );
        return;
    }
    // IUT -> INIT -> T
    let [packet] = &sent[..] else {
        panic!("{sent:#?}")
    };
    assert_eq!(packet.vtag(), 0);
    let Chunk::Init(again) = packet.only().clone() else {
        panic!("expected INIT, got {}", packet.only())
    };
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
    for p in &again.params {
        if let Param::CookiePreservative(ms) = p {
            let bound = rtt + Duration::from_secs(1);
            assert!(
                Duration::from_millis(u64::from(*ms)) <= bound,
                "Cookie Preservative of {ms} ms; at most {bound:?}"
            );
        }
    }
    // T -> INIT ACK -> IUT
    t.send(
        again.initiate_tag,
        &[tester_init_ack(0x6100_0001, vec![cookie_param()])],
    );
    // IUT -> COOKIE ECHO -> T
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    // T -> COOKIE ACK -> IUT
    t.send(again.initiate_tag, &[Chunk::CookieAck]);
    assert_eq!(up(&mut t).0, id);
}

/// A Stale Cookie ERROR outside COOKIE-ECHOED is discarded: in ESTABLISHED
/// the association goes on, in COOKIE-WAIT so does T1-init
/// (RFC 9260 §5.2.6).
#[test]
fn sctp_e_o_6_2() {
    let stale = || {
        Chunk::Error(ErrorChunk {
            causes: vec![ErrorCause::StaleCookie {
                staleness_us: 1_000_000,
            }],
        })
    };
    // ESTABLISHED
    let (mut t, iut_tag, id) = established(0x6200_0001);
    // T -> ERROR (Stale Cookie) -> IUT
    t.send(iut_tag, &[stale()]);
    // IUT: nothing
    t.sent_nothing();
    assert_events_only(&mut t, |e| matches!(e, Event::RemoteError(_)));
    assert_established_and_alive(&mut t, id, iut_tag, 0x6200_0001);

    // COOKIE-WAIT
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
    // T -> ERROR (Stale Cookie) -> IUT
    t.send(ours.initiate_tag, &[stale()]);
    // IUT: nothing
    t.sent_nothing();
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
    // IUT -> INIT -> T (T1-init, the same INIT)
    t.quiet_for(Duration::from_millis(999));
    t.advance(Duration::from_millis(1));
    assert_eq!(sent_init(&mut t), ours);
}

/// DATA on a stream the IUT does not have is acknowledged but never
/// delivered, and reported at once in an ERROR (Invalid Stream Identifier)
/// that, if bundled with the SACK, follows it (RFC 9260 §6.5, §3.3.10.1).
#[test]
fn sctp_e_i_6_3() {
    const PEER: u32 = 0x6300_0001;
    let (mut t, iut_tag, id, _) = established_configured(PEER, |c| c.max_inbound_streams = 1);
    assert_eq!(t.iut.association(id).unwrap().streams().1, 1);
    // T -> DATA (stream 1; only stream 0 exists) -> IUT
    t.send(iut_tag, &[tester_data(TESTER_TSN, 1, 0, b"nowhere")]);
    // IUT -> SACK, ERROR (Invalid Stream Identifier) -> T
    let error = Chunk::Error(ErrorChunk {
        causes: vec![ErrorCause::InvalidStreamIdentifier(1)],
    });
    let mut sent = t.sent();
    assert!(
        sent.iter().any(|s| s.packet.chunks.contains(&error)),
        "ERROR at once: {sent:#?}"
    );
    if sacks_in(&sent).is_empty() {
        // The SACK may wait for SACK.Delay.
        t.advance(Duration::from_millis(200));
        sent.extend(t.sent());
    }
    for s in &sent {
        assert_eq!(s.to, tester_addr());
        assert_eq!(s.vtag(), PEER);
        let chunks = &s.packet.chunks;
        assert!(
            chunks
                .iter()
                .all(|c| matches!(c, Chunk::Sack(_)) || *c == error),
            "{chunks:?}"
        );
        let at = |f: fn(&Chunk) -> bool| chunks.iter().position(f);
        if let (Some(sack), Some(err)) = (
            at(|c| matches!(c, Chunk::Sack(_))),
            at(|c| matches!(c, Chunk::Error(_))),
        ) {
            assert!(
                sack < err,
                "an ERROR bundled with the SACK follows it: {chunks:?}"
            );
        }
    }
    let errors = sent
        .iter()
        .flat_map(|s| &s.packet.chunks)
        .filter(|c| **c == error)
        .count();
    assert_eq!(errors, 1, "{sent:#?}");
    let sacks = sacks_in(&sent);
    let [sack] = &sacks[..] else {
        panic!("{sent:#?}")
    };
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN));
    assert!(sack.gap_blocks.is_empty() && sack.duplicate_tsns.is_empty());
    // IUT: nothing delivered
    assert!(t.events().is_empty());
    assert!(t.iut.association_mut(id).unwrap().recv().is_none());
    // T -> DATA (stream 0, the next TSN) -> IUT
    t.send(iut_tag, &[tester_data(TESTER_TSN + 1, 0, 0, b"somewhere")]);
    // IUT -> SACK -> T (at once or after SACK.Delay)
    let mut sent = t.sent();
    if sent.is_empty() {
        t.advance(Duration::from_millis(200));
        sent = t.sent();
    }
    let [reply] = &sent[..] else {
        panic!("{sent:#?}")
    };
    assert_eq!(reply.vtag(), PEER);
    let Chunk::Sack(sack) = reply.only() else {
        panic!("expected SACK, got {}", reply.only())
    };
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN + 1));
    assert!(sack.gap_blocks.is_empty());
    assert_eq!(t.events(), [(id, Event::Readable)]);
    let message = t.iut.association_mut(id).unwrap().recv().unwrap();
    assert_eq!((message.stream, &message.data[..]), (0, &b"somewhere"[..]));
}

/// An INIT ACK without State Cookie is answered with an ABORT (Missing
/// Mandatory Parameter: State Cookie), and setup fails (RFC 9260 §3.3.3,
/// §3.3.10.2, §5.1).
#[test]
fn sctp_e_i_6_4() {
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
    // T -> INIT ACK (no State Cookie) -> IUT
    t.send(ours.initiate_tag, &[tester_init_ack(0x6400_0001, vec![])]);
    // IUT -> ABORT (Missing Mandatory Parameter) -> T
    assert_sends_abort(
        &mut t,
        0x6400_0001,
        false,
        &[ErrorCause::MissingMandatoryParameter(vec![
            ParamType::STATE_COOKIE,
        ])],
    );
    assert_attempt_ended(&mut t, id);
}

/// An unknown INIT ACK parameter of prefix 11 is reported in an ERROR
/// (Unrecognized Parameters) bundled after the COOKIE ECHO; setup completes
/// (RFC 9260 §3.2.1, §3.3.10.8).
#[test]
fn sctp_e_i_6_5() {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    // T -> INIT ACK (unknown parameter C0DE) -> IUT
    let (ours, cookie) = answer_init(&mut t, 0x6500_0001, vec![unknown_param(0xC0DE)]);
    // IUT -> COOKIE ECHO, ERROR (Unrecognized Parameters) -> T
    let sent = t.sent_one();
    assert_eq!(sent.vtag(), 0x6500_0001);
    let [Chunk::CookieEcho(echo), Chunk::Error(error)] = &sent.packet.chunks[..] else {
        panic!("{:?}", sent.packet.chunks)
    };
    assert_eq!(echo.cookie, cookie);
    let reported: Vec<u16> = error
        .causes
        .iter()
        .flat_map(|c| match c {
            ErrorCause::UnrecognizedParameters(tlvs) => tlv_types(tlvs),
            other => panic!("unexpected cause {other:?}"),
        })
        .collect();
    assert_eq!(reported, [0xC0DE]);
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    assert_eq!(up(&mut t).0, id);
}

/// A COOKIE ECHO bundled with an ERROR (Unrecognized Parameters) is
/// accepted: COOKIE ACK, and the association is up and usable
/// (RFC 9260 §5.1 (D), §3.3.10.8).
#[test]
fn sctp_e_i_6_6() {
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let (mut t, ack) = init_acked(0x6600_0001);
    let report = ErrorChunk {
        causes: vec![ErrorCause::UnrecognizedParameters(Bytes::from_static(&[
            0xC0, 0x00, 0, 4,
        ]))],
    };
    // T -> COOKIE ECHO, ERROR (Unrecognized Parameters: Forward-TSN-Supported) -> IUT
    t.send(
        ack.initiate_tag,
        &[
            cookie_echo(&ack.state_cookie().unwrap().clone()),
            Chunk::Error(report),
        ],
    );
    // IUT -> COOKIE ACK -> T
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), 0x6600_0001);
    assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
    let events = t.events();
    let id = up_first(&events);
    assert!(
        events[1..]
            .iter()
            .all(|(_, e)| matches!(e, Event::RemoteError(_))),
        "{events:?}"
    );
    assert_established_and_alive(&mut t, id, ack.initiate_tag, 0x6600_0001);
}

// ---- the record ----

/// NOT_YET names each purpose once, none that has a test here, and with the
/// tests covers exactly the AS, IMH, DM, FH and E purposes of the record.
#[test]
fn not_yet_applicable_as_imh_dm_fh_e_purposes_are_listed_once() {
    let source = [
        include_str!("conformance_as.rs"),
        include_str!("conformance_imh_fh_e.rs"),
        include_str!("conformance_dm.rs"),
    ]
    .concat();
    assert_record(
        &source,
        NOT_YET,
        &["as", "imh", "dm", "fh", "e"],
        33 + 10 + 15 + 8 + 6,
    );
}
