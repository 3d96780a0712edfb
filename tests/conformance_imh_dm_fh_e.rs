//! ETSI TS 102 369 test purposes of the groups IMH, DM, FH and E that
//! association setup alone can decide (docs/etsi-test-purposes.md), played
//! with raw packets against the IUT and judged by RFC 9260. One test per
//! purpose, named after its id; purposes of AS, IMH, DM, FH and E that need
//! what the IUT does not have yet are listed in NOT_YET, and a test keeps
//! that list, these tests and the record in step.

mod common;
mod conformance;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use usctp::association::{AssociationError, AssociationState, Event};
use usctp::chunk::{
    Abort, Chunk, CookieEcho, Data, DataFlags, ErrorCause, ErrorChunk, Heartbeat, Param, ParamType,
    Shutdown, ShutdownComplete,
};
use usctp::config::Config;
use usctp::serial::{Ssn, Tsn};

use conformance::*;

/// Test purposes of these groups that cannot be checked yet, with why.
const NOT_YET: &[(&str, &str)] = &[
    (
        "sctp-as-i-1-15",
        "needs connect to several peer addresses (multi-homing issue)",
    ),
    (
        "sctp-imh-i-3-9",
        "needs shutdown: SHUTDOWN-SENT state and T2-shutdown",
    ),
    (
        "sctp-imh-i-3-10",
        "needs shutdown: SHUTDOWN-ACK-SENT state and T2-shutdown",
    ),
    ("sctp-dm-o-4-2-2", "needs shutdown: SHUTDOWN-ACK-SENT state"),
    (
        "sctp-dm-o-4-5",
        "needs shutdown: SHUTDOWN-SENT state and SHUTDOWN collision",
    ),
    (
        "sctp-dm-o-4-6-3",
        "needs shutdown: SHUTDOWN-SENT state and T2-shutdown",
    ),
    ("sctp-dm-o-4-7-3", "needs shutdown: SHUTDOWN-ACK-SENT state"),
    (
        "sctp-dm-o-4-10",
        "needs shutdown (SHUTDOWN-ACK-SENT) and data transfer (DATA, SACK)",
    ),
    (
        "sctp-fh-i-5-1-1",
        "needs data transfer: DATA retransmission and Association.Max.Retrans",
    ),
    (
        "sctp-fh-i-5-1-2",
        "needs data transfer: SACK resetting the error counter",
    ),
    (
        "sctp-e-i-6-3",
        "needs data transfer: DATA on a missing stream, Invalid Stream Identifier, SACK",
    ),
];

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
    // IUT: no INIT ACK (an ABORT is tolerated)
    for sent in t.sent() {
        assert!(
            matches!(sent.only(), Chunk::Abort(_)),
            "{:?}",
            sent.packet.chunks
        );
    }
    assert_eq!(t.iut.association_count(), 0);
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    send_init(&mut t, init(0x3100_0002));
}

/// A truncated INIT ACK gets no COOKIE ECHO: either it is dropped and INIT
/// is resent on T1-init, or the IUT aborts with Protocol Violation
/// (RFC 9260 §3.2, §3.3.3).
#[test]
fn sctp_imh_i_3_2() {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    let ours = sent_init(&mut t);
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
        // IUT -> ABORT (Protocol Violation) -> T
        let [abort] = &sent[..] else {
            panic!("{sent:#?}")
        };
        let Chunk::Abort(a) = abort.only() else {
            panic!("expected ABORT, got {}", abort.only())
        };
        assert!(
            matches!(a.causes[..], [ErrorCause::ProtocolViolation(_)]),
            "{a}"
        );
        assert!(matches!(t.events()[..], [(_, Event::CantStart(_))]));
    }
}

/// A COOKIE ECHO in a packet whose Verification Tag is not the cookie's is
/// discarded silently: no COOKIE ACK, no association (RFC 9260 §5.1.5,
/// §8.5.1 (D)).
#[test]
fn sctp_imh_i_3_3() {
    let mut t = Tester::server();
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(0x3300_0001));
    let cookie = ack.state_cookie().unwrap().clone();
    for wrong in [ack.initiate_tag.wrapping_add(1), 0, 0x3300_0001] {
        // T -> COOKIE ECHO (wrong Verification Tag) -> IUT
        t.send(
            wrong,
            &[Chunk::CookieEcho(CookieEcho {
                cookie: cookie.clone(),
            })],
        );
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
    t.sent_nothing();
    assert_eq!(t.iut.association_count(), 0);
    // T -> INIT -> IUT
    t.send_raw(good);
    // IUT -> INIT ACK -> T
    assert!(matches!(t.sent_one().only(), Chunk::InitAck(_)));
}

/// A COOKIE ECHO whose cookie was tampered with (MAC fails) is discarded
/// silently: no COOKIE ACK, no association (RFC 9260 §5.1.5 step 2).
#[test]
fn sctp_imh_i_3_5() {
    let mut t = Tester::server();
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(0x3500_0001));
    let cookie = ack.state_cookie().unwrap().clone();
    for at in [0, cookie.len() / 2, cookie.len() - 1] {
        let mut tampered = cookie.to_vec();
        tampered[at] ^= 0x80;
        // T -> COOKIE ECHO (tampered cookie) -> IUT
        t.send(
            ack.initiate_tag,
            &[Chunk::CookieEcho(CookieEcho {
                cookie: Bytes::from(tampered),
            })],
        );
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
    let mut t = Tester::server();
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(0x3600_0001));
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
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x3700_0001);
    for (vtag, t_bit) in [(iut_tag ^ 1, false), (0x3700_0002, true), (iut_tag, true)] {
        // T -> ABORT (wrong Verification Tag) -> IUT
        let abort = Chunk::Abort(Abort {
            reflected_tag: t_bit,
            causes: vec![],
        });
        t.send(vtag, &[abort]);
        // IUT: nothing
        t.sent_nothing();
    }
    assert_eq!(state(&t, id), Some(AssociationState::Established));
    assert!(t.events().is_empty());
    // T -> HEARTBEAT -> IUT; IUT -> HEARTBEAT ACK -> T
    assert_alive(&mut t, iut_tag, 0x3700_0001);
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
    // IUT: no INIT ACK (an ABORT is tolerated)
    for sent in t.sent() {
        assert!(
            matches!(sent.only(), Chunk::Abort(_)),
            "{:?}",
            sent.packet.chunks
        );
    }
    assert_eq!(t.iut.association_count(), 0);
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    send_init(&mut t, init(0x3800_0002));
}

// ---- DM: duplicate messages ----

/// An INIT received in COOKIE-WAIT is answered with an INIT ACK carrying the
/// IUT's original Initiate Tag and TSN; T1-init keeps running
/// (RFC 9260 §5.2.1).
#[test]
fn sctp_dm_o_4_1() {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    let ours = sent_init(&mut t);
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(0x4100_0001));
    assert_eq!(ack.initiate_tag, ours.initiate_tag);
    assert_eq!(ack.initial_tsn, ours.initial_tsn);
    assert!(ack.state_cookie().is_some());
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
    // IUT -> INIT -> T (T1-init still running)
    t.advance(Duration::from_secs(1));
    assert_eq!(sent_init(&mut t), ours);
}

/// A repeated INIT in ESTABLISHED gets an INIT ACK with a new tag; the
/// association is unaffected (RFC 9260 §5.2.2).
#[test]
fn sctp_dm_o_4_2_1() {
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x4210_0001);
    // T -> INIT (the same INIT again) -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(0x4210_0001));
    assert_ne!(ack.initiate_tag, iut_tag);
    assert!(ack.state_cookie().is_some());
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::Established);
    assert_eq!(
        (assoc.local_tag(), assoc.peer_tag()),
        (iut_tag, 0x4210_0001)
    );
    assert!(t.events().is_empty());
    // T -> HEARTBEAT -> IUT; IUT -> HEARTBEAT ACK -> T
    assert_alive(&mut t, iut_tag, 0x4210_0001);
}

/// A second INIT ACK in COOKIE-ECHOED is discarded; the original COOKIE ECHO
/// is resent on T1-cookie and completes setup (RFC 9260 §5.2.3).
#[test]
fn sctp_dm_o_4_3() {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    // T -> INIT ACK -> IUT
    let (ours, cookie) = answer_init(&mut t, 0x4300_0001, vec![]);
    // IUT -> COOKIE ECHO -> T
    let first = t.sent_one();
    // T -> INIT ACK (another tag and cookie) -> IUT
    let other = init_with(
        0x4300_0002,
        vec![Param::StateCookie(Bytes::from_static(b"another"))],
    );
    t.send(ours.initiate_tag, &[Chunk::InitAck(other)]);
    // IUT: nothing
    t.sent_nothing();
    assert_eq!(t.iut.association(id).unwrap().peer_tag(), 0x4300_0001);
    // IUT -> COOKIE ECHO -> T (T1-cookie, the original one)
    t.advance(Duration::from_secs(1));
    let again = t.sent_one();
    assert_eq!(again.vtag(), 0x4300_0001);
    assert_eq!(again.packet.chunks, first.packet.chunks);
    assert_eq!(again.only(), &Chunk::CookieEcho(CookieEcho { cookie }));
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    up(&mut t);
    assert_eq!(t.iut.association(id).unwrap().peer_tag(), 0x4300_0001);
}

/// An extra COOKIE ACK in ESTABLISHED is discarded; the association is
/// unaffected (RFC 9260 §5.2.5).
#[test]
fn sctp_dm_o_4_4() {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    // T -> INIT ACK -> IUT
    let (ours, _) = answer_init(&mut t, 0x4400_0001, vec![]);
    // IUT -> COOKIE ECHO -> T
    t.sent_one();
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    up(&mut t);
    // T -> COOKIE ACK -> IUT (again)
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    // IUT: nothing
    t.sent_nothing();
    assert!(t.events().is_empty());
    assert_eq!(state(&t, id), Some(AssociationState::Established));
    // T -> HEARTBEAT -> IUT; IUT -> HEARTBEAT ACK -> T
    assert_alive(&mut t, ours.initiate_tag, 0x4400_0001);
}

/// A SHUTDOWN in COOKIE-WAIT is discarded; INIT retransmission goes on and
/// setup completes (RFC 9260 §9.2).
#[test]
fn sctp_dm_o_4_6_1() {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    let ours = sent_init(&mut t);
    // T -> SHUTDOWN -> IUT
    let shutdown = Chunk::Shutdown(Shutdown {
        cumulative_tsn_ack: Tsn(0),
    });
    t.send(ours.initiate_tag, &[shutdown]);
    // IUT: nothing
    t.sent_nothing();
    assert!(t.events().is_empty());
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
    // IUT -> INIT -> T (T1-init)
    // T -> INIT ACK -> IUT
    t.advance(Duration::from_secs(1));
    let (again, _) = answer_init(&mut t, 0x4610_0001, vec![]);
    assert_eq!(again, ours);
    // IUT -> COOKIE ECHO -> T
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    assert_eq!(up(&mut t).0, id);
}

/// A SHUTDOWN with no association is out of the blue: ABORT with the T bit
/// and the packet's tag reflected (RFC 9260 §8.4 (8)).
#[test]
fn sctp_dm_o_4_6_2() {
    let mut t = Tester::server();
    // T -> SHUTDOWN -> IUT
    let shutdown = Chunk::Shutdown(Shutdown {
        cumulative_tsn_ack: Tsn(0),
    });
    t.send(0x4620_0001, &[shutdown]);
    // IUT -> ABORT (T bit) -> T
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_abort(&reply, 0x4620_0001, true, &[]);
    assert_eq!(t.iut.association_count(), 0);
}

/// A SHUTDOWN ACK in COOKIE-WAIT is treated as out of the blue: SHUTDOWN
/// COMPLETE with the T bit; INIT retransmission goes on
/// (RFC 9260 §8.5.1 (E), §8.4 (5)).
#[test]
fn sctp_dm_o_4_7_1() {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    let ours = sent_init(&mut t);
    // T -> SHUTDOWN ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::ShutdownAck]);
    // IUT -> SHUTDOWN COMPLETE (T bit) -> T
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), ours.initiate_tag);
    assert_eq!(
        reply.packet.chunks,
        [Chunk::ShutdownComplete(ShutdownComplete {
            reflected_tag: true
        })]
    );
    assert!(t.events().is_empty());
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
    // IUT -> INIT -> T (T1-init)
    t.advance(Duration::from_secs(1));
    assert_eq!(sent_init(&mut t), ours);
}

/// A SHUTDOWN ACK in ESTABLISHED is discarded silently; the association goes
/// on (RFC 9260 §9.2, §8.5.1 (E)).
#[test]
fn sctp_dm_o_4_7_2() {
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x4720_0001);
    // T -> SHUTDOWN ACK -> IUT
    t.send(iut_tag, &[Chunk::ShutdownAck]);
    // IUT: nothing
    t.sent_nothing();
    assert!(t.events().is_empty());
    assert_eq!(state(&t, id), Some(AssociationState::Established));
    // T -> HEARTBEAT -> IUT; IUT -> HEARTBEAT ACK -> T
    assert_alive(&mut t, iut_tag, 0x4720_0001);
}

/// A COOKIE ECHO with a tampered cookie in ESTABLISHED is discarded; the
/// association is unaffected (RFC 9260 §5.1.5, §5.2.4).
#[test]
fn sctp_dm_o_4_8() {
    let mut t = Tester::server();
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(0x4800_0001));
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    let (id, _) = up(&mut t);
    let mut tampered = ack.state_cookie().unwrap().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    // T -> COOKIE ECHO (tampered cookie) -> IUT
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho {
            cookie: Bytes::from(tampered),
        })],
    );
    // IUT: nothing
    t.sent_nothing();
    assert!(t.events().is_empty());
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::Established);
    assert_eq!(
        (assoc.local_tag(), assoc.peer_tag()),
        (ack.initiate_tag, 0x4800_0001)
    );
    // T -> HEARTBEAT -> IUT; IUT -> HEARTBEAT ACK -> T
    assert_alive(&mut t, ack.initiate_tag, 0x4800_0001);
}

/// A SHUTDOWN COMPLETE in COOKIE-WAIT is discarded; INIT retransmission goes
/// on and setup completes (RFC 9260 §8.5.1 (C)).
#[test]
fn sctp_dm_o_4_9() {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    let ours = sent_init(&mut t);
    for t_bit in [false, true] {
        // T -> SHUTDOWN COMPLETE -> IUT
        let complete = Chunk::ShutdownComplete(ShutdownComplete {
            reflected_tag: t_bit,
        });
        t.send(ours.initiate_tag, &[complete]);
        // IUT: nothing
        t.sent_nothing();
    }
    assert!(t.events().is_empty());
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
    // IUT -> INIT -> T (T1-init)
    // T -> INIT ACK -> IUT
    t.advance(Duration::from_secs(1));
    let (again, _) = answer_init(&mut t, 0x4900_0001, vec![]);
    assert_eq!(again, ours);
    // IUT -> COOKIE ECHO -> T
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    assert_eq!(up(&mut t).0, id);
}

// ---- FH: fault handling ----

/// A HEARTBEAT is answered with a HEARTBEAT ACK returning the Heartbeat Info
/// unchanged, to its source (RFC 9260 §8.3).
#[test]
fn sctp_fh_v_5_2() {
    let mut t = Tester::server();
    let (iut_tag, _) = t.establish(0x5200_0001);
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
    // IUT -> ABORT (T bit) -> T
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_abort(&reply, 0x5310_0001, true, &[]);
    assert_eq!(t.iut.association_count(), 0);
}

/// An out-of-the-blue ABORT is discarded silently (RFC 9260 §8.4 (2)).
#[test]
fn sctp_fh_o_5_3_2() {
    let mut t = Tester::server();
    for t_bit in [false, true] {
        // T -> ABORT -> IUT
        let abort = Chunk::Abort(Abort {
            reflected_tag: t_bit,
            causes: vec![],
        });
        t.send(0x5320_0001, &[abort]);
        // IUT: nothing
        t.sent_nothing();
    }
    assert_eq!(t.iut.association_count(), 0);
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
    let mut t = Tester::server();
    for t_bit in [false, true] {
        // T -> SHUTDOWN COMPLETE -> IUT
        let complete = Chunk::ShutdownComplete(ShutdownComplete {
            reflected_tag: t_bit,
        });
        t.send(0x5340_0001, &[complete]);
        // IUT: nothing
        t.sent_nothing();
    }
    assert_eq!(t.iut.association_count(), 0);
}

/// A COOKIE ECHO from a multicast or broadcast source is discarded silently
/// even with a valid cookie, which from unicast works (RFC 9260 §8.4 (1)).
#[test]
fn sctp_fh_o_5_3_5() {
    let mut t = Tester::server();
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(0x5350_0001));
    for source in ["224.0.0.1:9899", "255.255.255.255:9899", "[ff02::1]:9899"] {
        t.from = source.parse().unwrap();
        // T (non-unicast source) -> COOKIE ECHO -> IUT
        t.send(
            ack.initiate_tag,
            &[Chunk::CookieEcho(CookieEcho {
                cookie: ack.state_cookie().unwrap().clone(),
            })],
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
    let config = Config {
        rto_initial: Duration::from_secs(10),
        ..Config::default()
    };
    let (mut t, id) = client_with(config);
    // IUT -> INIT -> T
    // T -> INIT ACK -> IUT
    let (ours, _) = answer_init(&mut t, 0x6100_0001, vec![]);
    // IUT -> COOKIE ECHO -> T
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    let rtt = Duration::from_secs(4);
    t.advance(rtt);
    t.sent_nothing();
    // T -> ERROR (Stale Cookie: 3 s late, a 1 s cookie life) -> IUT
    let stale = ErrorChunk {
        causes: vec![ErrorCause::StaleCookie {
            staleness_us: 3_000_000,
        }],
    };
    t.send(ours.initiate_tag, &[Chunk::Error(stale)]);
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
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x6200_0001);
    // T -> ERROR (Stale Cookie) -> IUT
    t.send(iut_tag, &[stale()]);
    // IUT: nothing
    t.sent_nothing();
    let events = t.events();
    assert!(
        events
            .iter()
            .all(|(_, e)| matches!(e, Event::RemoteError(_))),
        "{events:?}"
    );
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::Established);
    assert_eq!(
        (assoc.local_tag(), assoc.peer_tag()),
        (iut_tag, 0x6200_0001)
    );
    // T -> HEARTBEAT -> IUT; IUT -> HEARTBEAT ACK -> T
    assert_alive(&mut t, iut_tag, 0x6200_0001);

    // COOKIE-WAIT
    let (mut t, id) = client();
    // IUT -> INIT -> T
    let ours = sent_init(&mut t);
    // T -> ERROR (Stale Cookie) -> IUT
    t.send(ours.initiate_tag, &[stale()]);
    // IUT: nothing
    t.sent_nothing();
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
    // IUT -> INIT -> T (T1-init, the same INIT)
    t.advance(Duration::from_millis(999));
    t.sent_nothing();
    t.advance(Duration::from_millis(1));
    assert_eq!(sent_init(&mut t), ours);
}

/// An INIT ACK without State Cookie is answered with an ABORT (Missing
/// Mandatory Parameter: State Cookie), and setup fails (RFC 9260 §3.3.3,
/// §3.3.10.2, §5.1).
#[test]
fn sctp_e_i_6_4() {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    let ours = sent_init(&mut t);
    // T -> INIT ACK (no State Cookie) -> IUT
    t.send(ours.initiate_tag, &[tester_init_ack(0x6400_0001, vec![])]);
    // IUT -> ABORT (Missing Mandatory Parameter) -> T
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_abort(
        &reply,
        0x6400_0001,
        false,
        &[ErrorCause::MissingMandatoryParameter(vec![
            ParamType::STATE_COOKIE,
        ])],
    );
    let events = t.events();
    assert!(
        matches!(events[..], [(i, Event::CantStart(_))] if i == id),
        "{events:?}"
    );
    t.advance(Duration::from_secs(2));
    t.sent_nothing();
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
    let mut t = Tester::server();
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(0x6600_0001));
    let report = ErrorChunk {
        causes: vec![ErrorCause::UnrecognizedParameters(Bytes::from_static(&[
            0xC0, 0x00, 0, 4,
        ]))],
    };
    // T -> COOKIE ECHO, ERROR (Unrecognized Parameters: Forward-TSN-Supported) -> IUT
    t.send(
        ack.initiate_tag,
        &[
            Chunk::CookieEcho(CookieEcho {
                cookie: ack.state_cookie().unwrap().clone(),
            }),
            Chunk::Error(report),
        ],
    );
    // IUT -> COOKIE ACK -> T
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), 0x6600_0001);
    assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
    let events = t.events();
    let Some((id, Event::Up(_))) = events.first() else {
        panic!("expected Up first: {events:?}")
    };
    assert!(
        events[1..]
            .iter()
            .all(|(_, e)| matches!(e, Event::RemoteError(_))),
        "{events:?}"
    );
    assert_eq!(state(&t, *id), Some(AssociationState::Established));
    // T -> HEARTBEAT -> IUT; IUT -> HEARTBEAT ACK -> T
    assert_alive(&mut t, ack.initiate_tag, 0x6600_0001);
}

// ---- the record ----

/// NOT_YET names each purpose once, none that has a test here, and with the
/// tests covers exactly the AS, IMH, DM, FH and E purposes of the record.
#[test]
fn not_yet_applicable_purposes_are_listed_once() {
    let source = [
        include_str!("conformance_as.rs"),
        include_str!("conformance_imh_dm_fh_e.rs"),
    ]
    .concat();
    let mut listed = HashSet::new();
    for (id, reason) in NOT_YET {
        assert!(listed.insert(*id), "{id} is listed twice");
        assert!(!reason.trim().is_empty(), "{id} has no reason");
        let function = format!("fn {}(", id.replace('-', "_"));
        assert!(
            !source.contains(&function),
            "{id} is both tested and listed as not yet applicable"
        );
    }
    // Every purpose of these groups in the record is tested or listed, and
    // only those are listed.
    let record = include_str!("../docs/etsi-test-purposes.md");
    let mut groups_seen = 0;
    for line in record.lines() {
        let Some(cell) = line.strip_prefix("| ") else {
            continue;
        };
        let id = cell.split('|').next().unwrap().trim();
        if !id.starts_with("sctp-") {
            continue;
        }
        let group = id.split('-').nth(1).unwrap();
        if !["as", "imh", "dm", "fh", "e"].contains(&group) {
            continue;
        }
        groups_seen += 1;
        let function = format!("fn {}(", id.replace('-', "_"));
        assert!(
            source.contains(&function) != listed.contains(id),
            "{id} must be either tested or listed, not both or neither"
        );
    }
    assert_eq!(groups_seen, 33 + 10 + 15 + 8 + 6);
    for (id, _) in NOT_YET {
        assert!(
            record.contains(&format!("| {id} |")),
            "{id} is not a test purpose of the record"
        );
    }
}
