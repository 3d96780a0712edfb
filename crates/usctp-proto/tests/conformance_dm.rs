//! ETSI TS 102 369 test purposes of the group DM (duplicate and
//! inopportune messages), as the nplab suite states them
//! (docs/etsi-test-purposes.md), played with raw packets against the IUT and
//! judged by RFC 9260. One test per purpose, named after its id; the record
//! of which purposes are tested lives in conformance_imh_fh_e.rs.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::*;
use usctp_proto::association::{AssociationState, Event};
use usctp_proto::chunk::{Chunk, Param, Shutdown, ShutdownComplete};
use usctp_proto::serial::Tsn;

// ---- DM: duplicate messages ----

/// An INIT received in COOKIE-WAIT is answered with an INIT ACK carrying the
/// IUT's original Initiate Tag and TSN; T1-init keeps running
/// (RFC 9260 §5.2.1).
#[test]
fn sctp_dm_o_4_1() {
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(0x4100_0001));
    assert_eq!(ack.initiate_tag, ours.initiate_tag);
    assert_eq!(ack.initial_tsn, ours.initial_tsn);
    assert!(ack.state_cookie().is_some());
    assert_init_resent(&mut t, id, &ours);
}

/// A repeated INIT in ESTABLISHED gets an INIT ACK with a new tag; the
/// association is unaffected (RFC 9260 §5.2.2).
#[test]
fn sctp_dm_o_4_2_1() {
    let (mut t, iut_tag, id) = established(0x4210_0001);
    // T -> INIT (the same INIT again) -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(0x4210_0001));
    assert_ne!(ack.initiate_tag, iut_tag);
    assert!(ack.state_cookie().is_some());
    assert!(t.events().is_empty());
    assert_established_and_alive(&mut t, id, iut_tag, 0x4210_0001);
}

/// In SHUTDOWN-ACK-SENT, an INIT from the peer is discarded and answered by
/// the SHUTDOWN ACK again, not by an INIT ACK (RFC 9260 §9.2).
#[test]
fn sctp_dm_o_4_2_2() {
    const PEER: u32 = 0x4220_0001;
    // T -> SHUTDOWN -> IUT
    // IUT -> SHUTDOWN ACK -> T
    let (mut t, iut_tag, id) = in_shutdown_ack_sent(PEER);
    t.quiet_for(Duration::from_millis(500));
    // The same INIT as before, and one with a new tag.
    for tag in [PEER, 0x4220_0002] {
        // T -> INIT -> IUT
        t.send(0, &[Chunk::Init(init(tag))]);
        // IUT -> SHUTDOWN ACK -> T
        assert_shutdown_ack(&t.sent_one(), PEER);
    }
    assert!(t.events().is_empty());
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::ShutdownAckSent);
    assert_eq!((assoc.local_tag(), assoc.peer_tag()), (iut_tag, PEER));
    // IUT -> SHUTDOWN ACK -> T (T2-shutdown goes on)
    let sent = run_for(&mut t, Duration::from_secs(1));
    let [(_, again)] = &sent[..] else {
        panic!("{sent:#?}")
    };
    assert_shutdown_ack(again, PEER);
    complete_shutdown(&mut t, iut_tag, id);
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T (the association is gone: a new one may start)
    send_init(&mut t, init(0x4220_0002));
}

/// A second INIT ACK in COOKIE-ECHOED is discarded; the original COOKIE ECHO
/// is resent on T1-cookie and completes setup (RFC 9260 §5.2.3).
#[test]
fn sctp_dm_o_4_3() {
    // IUT -> INIT -> T
    // T -> INIT ACK -> IUT
    // IUT -> COOKIE ECHO -> T
    let (mut t, id, ours, first) = cookie_echoed(0x4300_0001);
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
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    up(&mut t);
    assert_eq!(t.iut.association(id).unwrap().peer_tag(), 0x4300_0001);
}

/// An extra COOKIE ACK in ESTABLISHED is discarded; the association is
/// unaffected (RFC 9260 §5.2.5).
#[test]
fn sctp_dm_o_4_4() {
    // IUT -> INIT -> T
    // T -> INIT ACK -> IUT
    // IUT -> COOKIE ECHO -> T
    let (mut t, id, ours, _) = cookie_echoed(0x4400_0001);
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    up(&mut t);
    // T -> COOKIE ACK -> IUT (again)
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    // IUT: nothing
    t.silent();
    assert_established_and_alive(&mut t, id, ours.initiate_tag, 0x4400_0001);
}

/// In SHUTDOWN-SENT, a SHUTDOWN from the peer (both ends closing at once) is
/// answered at once by a SHUTDOWN ACK, in SHUTDOWN-ACK-SENT; SHUTDOWN
/// COMPLETE then ends the association (RFC 9260 §9.2).
#[test]
fn sctp_dm_o_4_5() {
    const PEER: u32 = 0x4500_0001;
    // IUT -> DATA -> T
    let (mut t, iut_tag, id, data) = in_shutdown_pending(PEER, b"last words");
    // T -> SACK -> IUT
    t.send(iut_tag, &[sack_chunk(data.tsn)]);
    // IUT -> SHUTDOWN -> T
    let sent = t.sent_one();
    assert_eq!(sent.vtag(), PEER);
    assert_eq!(sent.packet.chunks, [shutdown_chunk(Tsn(TESTER_TSN - 1))]);
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownSent));
    assert_events_only(&mut t, |e| matches!(e, Event::SenderDry));
    // T -> SHUTDOWN -> IUT
    t.send(iut_tag, &[shutdown_chunk(data.tsn)]);
    assert_acks_the_shutdown(&mut t, id, PEER);
    assert_events_only(&mut t, |e| matches!(e, Event::ShutdownStarted));
    complete_shutdown_and_forget(&mut t, iut_tag, id);
}

/// A SHUTDOWN in COOKIE-WAIT is discarded; INIT retransmission goes on and
/// setup completes (RFC 9260 §9.2).
#[test]
fn sctp_dm_o_4_6_1() {
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
    // T -> SHUTDOWN -> IUT
    let shutdown = Chunk::Shutdown(Shutdown {
        cumulative_tsn_ack: Tsn(0),
    });
    t.send(ours.initiate_tag, &[shutdown]);
    // IUT: nothing
    t.sent_nothing();
    assert_setup_goes_on(&mut t, id, &ours, 0x4610_0001);
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
    assert_ootb_abort(&mut t, 0x4620_0001);
}

/// In SHUTDOWN-SENT, a SHUTDOWN from the peer gets a SHUTDOWN ACK and
/// restarts T2-shutdown, which from then on resends the SHUTDOWN ACK, never
/// the SHUTDOWN (RFC 9260 §9.2).
#[test]
fn sctp_dm_o_4_6_3() {
    const PEER: u32 = 0x4630_0001;
    // IUT -> SHUTDOWN -> T (T2-shutdown: 1 s)
    let (mut t, iut_tag, id, iut_tsn) = in_shutdown_sent(PEER);
    t.quiet_for(Duration::from_millis(600));
    // T -> SHUTDOWN -> IUT
    t.send(iut_tag, &[shutdown_chunk(iut_tsn.prev())]);
    assert_acks_the_shutdown(&mut t, id, PEER);
    // IUT: nothing when the first T2-shutdown would have run out
    t.quiet_for(Duration::from_millis(400));
    // IUT -> SHUTDOWN ACK -> T (T2-shutdown restarted: 1 s after the
    // SHUTDOWN ACK, then 2 s later)
    for wait in [Duration::from_millis(600), Duration::from_secs(2)] {
        t.quiet_for(wait - Duration::from_millis(1));
        t.advance(Duration::from_millis(1));
        assert_shutdown_ack(&t.sent_one(), PEER);
    }
    assert_events_only(&mut t, |e| matches!(e, Event::ShutdownStarted));
    complete_shutdown_and_forget(&mut t, iut_tag, id);
}

/// A SHUTDOWN ACK in COOKIE-WAIT is treated as out of the blue: SHUTDOWN
/// COMPLETE with the T bit; INIT retransmission goes on
/// (RFC 9260 §8.5.1 (E), §8.4 (5)).
#[test]
fn sctp_dm_o_4_7_1() {
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
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
    assert_init_resent(&mut t, id, &ours);
}

/// A SHUTDOWN ACK in ESTABLISHED is discarded silently; the association goes
/// on (RFC 9260 §9.2, §8.5.1 (E)).
#[test]
fn sctp_dm_o_4_7_2() {
    let (mut t, iut_tag, id) = established(0x4720_0001);
    // T -> SHUTDOWN ACK -> IUT
    t.send(iut_tag, &[Chunk::ShutdownAck]);
    // IUT: nothing
    t.silent();
    assert_established_and_alive(&mut t, id, iut_tag, 0x4720_0001);
}

/// In SHUTDOWN-ACK-SENT, a SHUTDOWN ACK (the peer shut down too) gets a
/// SHUTDOWN COMPLETE and ends the association: T2-shutdown stops and later
/// packets are out of the blue (RFC 9260 §9.2, §8.4 (8)).
#[test]
fn sctp_dm_o_4_7_3() {
    const PEER: u32 = 0x4730_0001;
    // T -> SHUTDOWN -> IUT
    // IUT -> SHUTDOWN ACK -> T
    let (mut t, iut_tag, id) = in_shutdown_ack_sent(PEER);
    // T -> SHUTDOWN ACK -> IUT
    t.send(iut_tag, &[Chunk::ShutdownAck]);
    // IUT -> SHUTDOWN COMPLETE -> T
    assert_shutdown_complete(&t.sent_one(), PEER);
    assert_eq!(t.events(), [(id, Event::ShutdownComplete)]);
    // IUT: no more SHUTDOWN ACK (T2-shutdown stopped)
    let sent = run_for(&mut t, Duration::from_secs(10));
    assert!(sent.is_empty(), "{sent:#?}");
    // T -> HEARTBEAT -> IUT; IUT -> ABORT (T bit) -> T
    assert_gone(&mut t, iut_tag);
}

/// A COOKIE ECHO with a tampered cookie in ESTABLISHED is discarded; the
/// association is unaffected (RFC 9260 §5.1.5, §5.2.4).
#[test]
fn sctp_dm_o_4_8() {
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let (mut t, ack) = init_acked(0x4800_0001);
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    let (id, _) = up(&mut t);
    let mut tampered = ack.state_cookie().unwrap().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    // T -> COOKIE ECHO (tampered cookie) -> IUT
    t.send(ack.initiate_tag, &[cookie_echo(&Bytes::from(tampered))]);
    // IUT: nothing
    t.silent();
    assert_established_and_alive(&mut t, id, ack.initiate_tag, 0x4800_0001);
}

/// A SHUTDOWN COMPLETE in COOKIE-WAIT is discarded; INIT retransmission goes
/// on and setup completes (RFC 9260 §8.5.1 (C)).
#[test]
fn sctp_dm_o_4_9() {
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
    for t_bit in [false, true] {
        // T -> SHUTDOWN COMPLETE -> IUT
        let complete = Chunk::ShutdownComplete(ShutdownComplete {
            reflected_tag: t_bit,
        });
        t.send(ours.initiate_tag, &[complete]);
        // IUT: nothing
        t.sent_nothing();
    }
    assert_setup_goes_on(&mut t, id, &ours, 0x4900_0001);
}

/// In SHUTDOWN-ACK-SENT, DATA from the peer, which promised to send no more,
/// is discarded: no SACK, nothing delivered (an ABORT is tolerated); else
/// the shutdown goes on and completes (RFC 9260 §9.2).
#[test]
fn sctp_dm_o_4_10() {
    const PEER: u32 = 0x4a00_0001;
    // T -> SHUTDOWN -> IUT
    // IUT -> SHUTDOWN ACK -> T
    let (mut t, iut_tag, id) = in_shutdown_ack_sent(PEER);
    // T -> DATA -> IUT
    t.send(iut_tag, &[tester_data(TESTER_TSN, 0, 0, b"too late")]);
    // IUT: no SACK, at once or after SACK.Delay (an ABORT is tolerated)
    let mut sent = t.sent();
    sent.extend(
        run_for(&mut t, Duration::from_millis(900))
            .into_iter()
            .map(|(_, s)| s),
    );
    assert_nothing_or_abort(&sent, PEER);
    let events = t.events();
    assert!(
        events.iter().all(|(_, e)| !matches!(e, Event::Readable)),
        "{events:?}"
    );
    if !sent.is_empty() {
        // IUT -> ABORT -> T
        assert!(
            matches!(events[..], [(i, Event::Lost(_))] if i == id),
            "{events:?}"
        );
        assert_eq!(t.iut.association_count(), 0);
        return;
    }
    assert!(events.is_empty(), "{events:?}");
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::ShutdownAckSent);
    assert!(assoc.recv().is_none());
    // IUT -> SHUTDOWN ACK -> T (T2-shutdown, 1 s)
    t.advance(Duration::from_millis(100));
    assert_shutdown_ack(&t.sent_one(), PEER);
    complete_shutdown(&mut t, iut_tag, id);
}
