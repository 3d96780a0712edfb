//! ETSI TS 102 369 test purposes of the groups AT and BDC
//! (docs/etsi-test-purposes.md), played with raw packets against the IUT
//! and judged by RFC 9260: association termination and the bundling of
//! DATA with control chunks. One test per purpose, named after its id; a
//! test keeps these tests and the record in step.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::etsi::assert_record;
use support::*;
use usctp_proto::association::{AssocId, AssociationError, AssociationState, Event};
use usctp_proto::chunk::{Chunk, ShutdownComplete};
use usctp_proto::config::Config;
use usctp_proto::serial::Tsn;

/// Test purposes of these groups that cannot be checked, with why.
const NOT_YET: &[(&str, &str)] = &[];

/// The packets that are not a lone HEARTBEAT.
fn without_heartbeats(sent: Vec<(Duration, Sent)>) -> Vec<(Duration, Sent)> {
    sent.into_iter()
        .filter(|(_, s)| !matches!(s.packet.chunks[..], [Chunk::Heartbeat(_)]))
        .collect()
}

/// T2-shutdown sends the IUT's last shutdown chunk again at 1, 3, 7, 15
/// and 31 s, the RTO doubling (each one checked by `resent`, given when it
/// went); the idle
/// path may be probed by HEARTBEATs on the way (§8.3).
#[track_caller]
fn resent_with_backoff(t: &mut Tester, resent: impl Fn(Duration, &Sent)) {
    let sent = without_heartbeats(run_for(t, Duration::from_secs(31)));
    for (at, s) in &sent {
        resent(*at, s);
    }
    assert_eq!(times(&sent), secs(&[1, 3, 7, 15, 31]));
}

/// An association in SHUTDOWN-RECEIVED: the IUT's DATA is outstanding and
/// the tester's SHUTDOWN did not acknowledge it, so no SHUTDOWN ACK goes
/// yet and the user is told the shutdown started. Returns the IUT's tag,
/// the association and the DATA's TSN.
#[track_caller]
fn in_shutdown_received(peer: u32) -> (Tester, u32, AssocId, Tsn) {
    let (mut t, iut_tag, id, tsn) = with_outstanding(peer, b"outstanding");
    // T -> SHUTDOWN (not acknowledging the DATA) -> IUT
    t.send(iut_tag, &[shutdown_chunk(tsn.prev())]);
    // IUT: no SHUTDOWN ACK yet
    t.sent_nothing();
    assert_eq!(t.events(), [(id, Event::ShutdownStarted)]);
    (t, iut_tag, id, tsn)
}

fn config_max_retrans(n: u32) -> Config {
    Config::default()
        .with_association_max_retrans(n)
        .with_path_max_retrans(n)
}

// ---- AT: association termination ----

/// An ABORT under the IUT's tag deletes the association at once and tells
/// the user; a later HEARTBEAT is out of the blue and gets an ABORT with the
/// T bit (RFC 9260 §9.1, §8.4 (8)).
#[test]
fn sctp_at_v_2_2() {
    const PEER: u32 = 0x2200_0001;
    let (mut t, iut_tag, id) = established(PEER);
    // T -> ABORT -> IUT
    t.send(iut_tag, &[abort(false)]);
    // IUT: nothing
    t.sent_nothing();
    assert_eq!(
        t.events(),
        [(id, Event::Lost(AssociationError::PeerAborted(vec![])))]
    );
    // T -> HEARTBEAT -> IUT; IUT -> ABORT (T bit) -> T
    assert_gone(&mut t, iut_tag);
}

/// A user shutdown with DATA outstanding waits: the DATA is retransmitted
/// on T3-rtx and SHUTDOWN goes only once a SACK covers it (RFC 9260 §9.2).
#[test]
fn sctp_at_i_2_3() {
    const PEER: u32 = 0x2300_0001;
    let (mut t, iut_tag, id, data) = in_shutdown_pending(PEER, b"wait for me");
    let tsn = data.tsn;
    // IUT -> DATA -> T (T3-rtx), still no SHUTDOWN
    let sent = run_for(&mut t, Duration::from_secs(1));
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(only_data(&sent[0].1, PEER).tsn, tsn);
    // T -> SACK -> IUT (late)
    t.send(iut_tag, &[sack_chunk(tsn)]);
    // IUT -> SHUTDOWN -> T
    let sent = t.sent_one();
    assert_eq!(sent.vtag(), PEER);
    assert_eq!(sent.packet.chunks, [shutdown_chunk(Tsn(TESTER_TSN - 1))]);
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownSent));
}

/// In SHUTDOWN-SENT without an answer, SHUTDOWN is resent each time
/// T2-shutdown expires, the RTO doubling (RFC 9260 §9.2, §6.3.3).
#[test]
fn sctp_at_i_2_4() {
    const PEER: u32 = 0x2400_0001;
    let (mut t, _, id, _) = in_shutdown_sent(PEER);
    // IUT -> SHUTDOWN -> T at 1, 3, 7, 15 and 31 s
    resent_with_backoff(&mut t, |at, s| {
        assert_eq!(s.vtag(), PEER, "at {at:?}");
        let chunks = [shutdown_chunk(Tsn(TESTER_TSN - 1))];
        assert_eq!(s.packet.chunks, chunks, "at {at:?}");
    });
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownSent));
}

/// In SHUTDOWN-SENT with Association.Max.Retrans 3 and no answer, after 3
/// retransmissions of SHUTDOWN the IUT gives up (ABORT optional), tells the
/// user, and a later HEARTBEAT gets an ABORT with the T bit (RFC 9260 §9.2,
/// §8.1).
#[test]
fn sctp_at_i_2_5() {
    const PEER: u32 = 0x2500_0001;
    let (mut t, iut_tag, id, _) = established_with(config_max_retrans(3), PEER);
    t.shutdown(id);
    // IUT -> SHUTDOWN -> T
    assert_eq!(
        t.sent_one().packet.chunks,
        [shutdown_chunk(Tsn(TESTER_TSN - 1))]
    );
    // IUT -> SHUTDOWN -> T at 1, 3 and 7 s, then gives up
    shutdown_given_up(&mut t, PEER, iut_tag, id, |s| {
        assert_eq!(s.packet.chunks, [shutdown_chunk(Tsn(TESTER_TSN - 1))]);
    });
}

/// With Association.Max.Retrans 3 and no answer, T2-shutdown sends the
/// IUT's last shutdown chunk again at 1, 3 and 7 s (each one checked by
/// `resent`) and nothing is reported; at its fourth expiry (15 s) the IUT
/// gives up (an ABORT is optional), tells the user, and a later HEARTBEAT
/// gets an ABORT with the T bit (RFC 9260 §9.2, §8.1).
#[track_caller]
fn shutdown_given_up(t: &mut Tester, peer: u32, iut_tag: u32, id: AssocId, resent: impl Fn(&Sent)) {
    let sent = run_for(t, Duration::from_secs(14));
    assert_eq!(times(&sent), secs(&[1, 3, 7]), "{sent:#?}");
    for (_, s) in &sent {
        resent(s);
    }
    assert!(t.events().is_empty());
    // T2-shutdown expires a fourth time (15 s)
    t.advance(Duration::from_secs(1));
    // IUT -> ABORT -> T (optional)
    assert_nothing_or_abort(&t.sent(), peer);
    assert_eq!(
        t.events(),
        [(id, Event::Lost(AssociationError::ShutdownTimeout))]
    );
    // T -> HEARTBEAT -> IUT; IUT -> ABORT (T bit) -> T
    assert_gone(t, iut_tag);
}

/// In SHUTDOWN-SENT a SHUTDOWN ACK is answered with SHUTDOWN COMPLETE and
/// the association is deleted (RFC 9260 §9.2).
#[test]
fn sctp_at_v_2_6() {
    const PEER: u32 = 0x2600_0001;
    let (mut t, iut_tag, id, _) = in_shutdown_sent(PEER);
    // T -> SHUTDOWN ACK -> IUT
    t.send(iut_tag, &[Chunk::ShutdownAck]);
    // IUT -> SHUTDOWN COMPLETE -> T
    assert_shutdown_complete(&t.sent_one(), PEER);
    assert_eq!(t.events(), [(id, Event::ShutdownComplete)]);
    // T -> HEARTBEAT -> IUT; IUT -> ABORT (T bit) -> T
    assert_gone(&mut t, iut_tag);
}

/// The user of an association in `state` tries to send: refused, and no
/// DATA goes out (RFC 9260 §9.2).
#[track_caller]
fn send_refused(t: &mut Tester, id: AssocId, state_now: AssociationState) {
    assert_send_refused(t, id, state_now);
    assert_no_data_within(t, Duration::from_millis(500));
}

/// The user of an association in `state` tries to send and is refused.
#[track_caller]
fn assert_send_refused(t: &mut Tester, id: AssocId, state_now: AssociationState) {
    assert_eq!(state(t, id), Some(state_now));
    let result =
        t.iut
            .association_mut(id)
            .unwrap()
            .send(0, 7, Bytes::from_static(b"too late"), false);
    assert!(result.is_err(), "send in {state_now:?} was accepted");
}

/// In SHUTDOWN-SENT the user cannot send new data (RFC 9260 §9.2).
#[test]
fn sctp_at_i_2_7_1() {
    let (mut t, _, id, _) = in_shutdown_sent(0x2710_0001);
    send_refused(&mut t, id, AssociationState::ShutdownSent);
}

/// In SHUTDOWN-RECEIVED the user cannot send new data (RFC 9260 §9.2).
#[test]
fn sctp_at_i_2_7_2() {
    const PEER: u32 = 0x2720_0001;
    let (mut t, _, id, _) = in_shutdown_received(PEER);
    send_refused(&mut t, id, AssociationState::ShutdownReceived);
}

/// In SHUTDOWN-PENDING the user cannot send new data (RFC 9260 §9.2).
#[test]
fn sctp_at_i_2_7_3() {
    let (mut t, _, id, _) = in_shutdown_pending(0x2730_0001, b"outstanding");
    assert_send_refused(&mut t, id, AssociationState::ShutdownPending);
    // Only the outstanding DATA is retransmitted, nothing new.
    let sent = sent_within(&mut t, Duration::from_millis(1500));
    let data = data_in(&sent);
    assert!(!data.is_empty());
    assert!(
        data.iter().all(|d| &d.payload[..] == b"outstanding"),
        "{data:?}"
    );
}

/// In SHUTDOWN-ACK-SENT the user cannot send new data (RFC 9260 §9.2).
#[test]
fn sctp_at_i_2_7_4() {
    let (mut t, _, id) = in_shutdown_ack_sent(0x2740_0001);
    send_refused(&mut t, id, AssociationState::ShutdownAckSent);
}

/// In SHUTDOWN-SENT, DATA from the peer is acknowledged at once by a new
/// SHUTDOWN (with a SACK if needed) and T2-shutdown restarts (RFC 9260
/// §9.2).
#[test]
fn sctp_at_i_2_8() {
    const PEER: u32 = 0x2800_0001;
    let (mut t, iut_tag, id, _) = in_shutdown_sent(PEER);
    t.quiet_for(Duration::from_millis(500));
    // T -> DATA -> IUT
    t.send(iut_tag, &[tester_data(TESTER_TSN, 0, 0, b"one more")]);
    // IUT -> SHUTDOWN (+ SACK) -> T at once
    let sent = t.sent_one();
    assert_eq!(sent.vtag(), PEER);
    assert!(
        sent.packet
            .chunks
            .contains(&shutdown_chunk(Tsn(TESTER_TSN))),
        "{:?}",
        sent.packet.chunks
    );
    for sack in sacks_in(std::slice::from_ref(&sent)) {
        assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN));
    }
    assert_delivered(&mut t, id, &[b"one more"]);
    // T2-shutdown restarted: no SHUTDOWN at 1 s after the first, one at 1 s
    // after the DATA.
    t.quiet_for(Duration::from_millis(900));
    t.advance(Duration::from_millis(100));
    let sent = t.sent_one();
    assert_eq!(sent.packet.chunks, [shutdown_chunk(Tsn(TESTER_TSN))]);
    // T -> DATA (leaving a gap) -> IUT
    t.send(
        iut_tag,
        &[tester_data(TESTER_TSN + 2, 0, 2, b"after a gap")],
    );
    // IUT -> SHUTDOWN + SACK (gap block) -> T: the SHUTDOWN alone cannot
    // acknowledge the TSN beyond the gap
    let sent = t.sent();
    assert!(
        sent.iter()
            .any(|s| s.packet.chunks.contains(&shutdown_chunk(Tsn(TESTER_TSN)))),
        "{sent:#?}"
    );
    let sack = only_sack(&sent);
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN));
    assert_eq!(
        sack.gap_blocks,
        [usctp_proto::chunk::GapBlock { start: 2, end: 2 }]
    );
}

/// In SHUTDOWN-RECEIVED with its own DATA outstanding, DATA the peer sends
/// after its SHUTDOWN is not delivered (or the IUT aborts); once its DATA is
/// acknowledged the IUT sends SHUTDOWN ACK (RFC 9260 §9.2).
#[test]
fn sctp_at_i_2_9() {
    const PEER: u32 = 0x2900_0001;
    let (mut t, iut_tag, id, tsn) = in_shutdown_received(PEER);
    // T -> DATA -> IUT (after its own SHUTDOWN)
    t.send(iut_tag, &[tester_data(TESTER_TSN, 0, 0, b"after shutdown")]);
    let sent = t.sent();
    if sent
        .iter()
        .any(|s| matches!(s.packet.chunks[..], [Chunk::Abort(_)]))
    {
        // IUT -> ABORT -> T
        assert_nothing_or_abort(&sent, PEER);
        return;
    }
    let events = t.events();
    assert_not_readable(&events);
    assert!(delivered(&mut t, id).is_empty());
    // T -> SACK -> IUT
    t.send(iut_tag, &[sack_chunk(tsn)]);
    assert_acks_the_shutdown(&mut t, id, PEER);
}

/// A SHUTDOWN that does not acknowledge the IUT's DATA leaves it
/// retransmitting that DATA; SHUTDOWN ACK follows only once all of it is
/// acknowledged (RFC 9260 §9.2).
#[test]
fn sctp_at_i_2_10() {
    const PEER: u32 = 0x2a00_0001;
    let (mut t, iut_tag, id, tsn) = in_shutdown_received(PEER);
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownReceived));
    // IUT -> DATA -> T (T3-rtx)
    let sent = run_for(&mut t, Duration::from_secs(1));
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(only_data(&sent[0].1, PEER).tsn, tsn);
    // T -> SHUTDOWN (acknowledging it) -> IUT
    t.send(iut_tag, &[shutdown_chunk(tsn)]);
    assert_acks_the_shutdown(&mut t, id, PEER);
}

/// In SHUTDOWN-ACK-SENT without SHUTDOWN COMPLETE, SHUTDOWN ACK is resent
/// each time T2-shutdown expires (RFC 9260 §9.2).
#[test]
fn sctp_at_i_2_11() {
    const PEER: u32 = 0x2b00_0001;
    let (mut t, _, id) = in_shutdown_ack_sent(PEER);
    // IUT -> SHUTDOWN ACK -> T at 1, 3, 7, 15 and 31 s
    resent_with_backoff(&mut t, |_, s| assert_shutdown_ack(s, PEER));
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownAckSent));
}

/// In SHUTDOWN-ACK-SENT with Association.Max.Retrans 3 and no SHUTDOWN
/// COMPLETE, the IUT gives up after 3 retransmissions (ABORT optional) and
/// tells the user (RFC 9260 §9.2, §8.1).
#[test]
fn sctp_at_i_2_12() {
    const PEER: u32 = 0x2c00_0001;
    let (mut t, iut_tag, id, iut_tsn) = established_with(config_max_retrans(3), PEER);
    // T -> SHUTDOWN -> IUT
    t.send(iut_tag, &[shutdown_chunk(iut_tsn.prev())]);
    // IUT -> SHUTDOWN ACK -> T
    assert_shutdown_ack(&t.sent_one(), PEER);
    assert_eq!(t.events(), [(id, Event::ShutdownStarted)]);
    // IUT -> SHUTDOWN ACK -> T at 1, 3 and 7 s, then gives up
    shutdown_given_up(&mut t, PEER, iut_tag, id, |s| assert_shutdown_ack(s, PEER));
}

/// In SHUTDOWN-ACK-SENT a SHUTDOWN COMPLETE deletes the association; a
/// later HEARTBEAT gets an ABORT with the T bit (RFC 9260 §9.2).
#[test]
fn sctp_at_i_2_13() {
    let (mut t, iut_tag, id) = in_shutdown_ack_sent(0x2d00_0001);
    complete_shutdown_and_forget(&mut t, iut_tag, id);
}

/// A SHUTDOWN whose Cumulative TSN Ack covers all outstanding DATA
/// acknowledges it: SHUTDOWN ACK goes at once and the DATA is never
/// retransmitted (RFC 9260 §9.2, §6.2.1).
#[test]
fn sctp_at_v_2_14() {
    const PEER: u32 = 0x2e00_0001;
    let (mut t, iut_tag, id, tsn) = with_outstanding(PEER, b"outstanding");
    // T -> SHUTDOWN (acknowledging the DATA) -> IUT
    t.send(iut_tag, &[shutdown_chunk(tsn)]);
    assert_acks_the_shutdown(&mut t, id, PEER);
    assert_eq!(t.iut.association(id).unwrap().unacked(), 0);
    // Only SHUTDOWN ACKs follow, never the DATA.
    assert_no_data_within(&mut t, Duration::from_secs(3));
}

// ---- BDC: bundling of DATA chunks with control chunks ----

/// An INIT bundled with DATA breaks §6.10 (INIT goes alone): the packet is
/// dropped, no INIT ACK; a clean INIT afterwards is answered (RFC 9260
/// §6.10, §3.3.2).
#[test]
fn sctp_bdc_i_7_1() {
    let mut t = Tester::server();
    // T -> INIT + DATA -> IUT
    t.send(
        0,
        &[
            Chunk::Init(init(0x7100_0001)),
            tester_data(TESTER_TSN, 0, 0, b"too early"),
        ],
    );
    assert_init_dropped_and_a_clean_one_answered(&mut t, 0x7100_0002);
}

/// An INIT ACK bundled with DATA is not accepted as is: dropped (INIT
/// resent on T1-init) or answered with an ABORT for Protocol Violation
/// (RFC 9260 §6.10).
#[test]
fn sctp_bdc_i_7_2() {
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
    // T -> INIT ACK + DATA -> IUT
    t.send(
        ours.initiate_tag,
        &[
            tester_init_ack(0x7200_0001, vec![cookie_param()]),
            tester_data(TESTER_TSN, 0, 0, b"too early"),
        ],
    );
    let sent = t.sent();
    if sent.is_empty() {
        // IUT: dropped; IUT -> INIT -> T on T1-init
        assert_init_resent(&mut t, id, &ours);
    } else {
        assert_protocol_violation(&sent);
    }
}

/// A SHUTDOWN COMPLETE bundled with DATA breaks §6.10: dropped (SHUTDOWN
/// ACK resent on T2-shutdown) or an ABORT for Protocol Violation (RFC 9260
/// §6.10, §9.2).
#[test]
fn sctp_bdc_i_7_3() {
    const PEER: u32 = 0x7300_0001;
    let (mut t, iut_tag, id) = in_shutdown_ack_sent(PEER);
    // T -> SHUTDOWN COMPLETE + DATA -> IUT
    t.send(
        iut_tag,
        &[
            Chunk::ShutdownComplete(ShutdownComplete::default()),
            tester_data(TESTER_TSN, 0, 0, b"too late"),
        ],
    );
    let sent = t.sent();
    if sent.is_empty() {
        // IUT: dropped; IUT -> SHUTDOWN ACK -> T on T2-shutdown
        assert_eq!(state(&t, id), Some(AssociationState::ShutdownAckSent));
        t.advance(Duration::from_secs(1));
        assert_shutdown_ack(&t.sent_one(), PEER);
    } else {
        assert_protocol_violation(&sent);
    }
}

/// A COOKIE ECHO bundled with DATA sets the association up and the DATA is
/// accepted: COOKIE ACK first, and a SACK for the DATA (RFC 9260 §5.1 D,
/// §6.10).
#[test]
fn sctp_bdc_v_7_4() {
    const PEER: u32 = 0x7400_0001;
    // T -> INIT -> IUT; IUT -> INIT ACK -> T
    let (mut t, ack) = init_acked(PEER);
    let cookie = ack.state_cookie().unwrap().clone();
    // T -> COOKIE ECHO + DATA -> IUT
    t.send(
        ack.initiate_tag,
        &[
            cookie_echo(&cookie),
            tester_data(TESTER_TSN, 0, 0, b"with the cookie"),
        ],
    );
    // IUT -> COOKIE ACK (+ SACK) -> T
    let sent = sent_within(&mut t, SACK_DELAY);
    assert!(!sent.is_empty());
    assert_eq!(sent[0].vtag(), PEER);
    assert_eq!(sent[0].packet.chunks[0], Chunk::CookieAck);
    let sack = only_sack(&sent);
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN));
    assert_up_and_delivered(&mut t, &[b"with the cookie"]);
}

/// A COOKIE ACK bundled with DATA sets the association up and the DATA is
/// accepted and acknowledged (RFC 9260 §5.1 E, §6.10).
#[test]
fn sctp_bdc_v_7_5() {
    const PEER: u32 = 0x7500_0001;
    // IUT -> INIT -> T; T -> INIT ACK -> IUT (Initial TSN 77)
    // IUT -> COOKIE ECHO -> T
    let (mut t, id, ours, _) = cookie_echoed(PEER);
    // T -> COOKIE ACK + DATA -> IUT
    t.send(
        ours.initiate_tag,
        &[Chunk::CookieAck, tester_data(77, 0, 0, b"with the ack")],
    );
    // IUT -> SACK -> T
    let sent = sent_within(&mut t, SACK_DELAY);
    let sack = only_sack(&sent);
    assert_eq!(sack.cumulative_tsn_ack, Tsn(77));
    assert!(sent.iter().all(|s| s.vtag() == PEER));
    assert_eq!(state(&t, id), Some(AssociationState::Established));
    let up_id = assert_up_and_delivered(&mut t, &[b"with the ack"]);
    assert_eq!(up_id, id);
}

/// A SACK bundled with a SHUTDOWN: both are processed, the DATA counts as
/// acknowledged and SHUTDOWN ACK goes at once (RFC 9260 §6.10, §9.2).
#[test]
fn sctp_bdc_v_7_6() {
    const PEER: u32 = 0x7600_0001;
    let (mut t, iut_tag, id, tsn) = with_outstanding(PEER, b"outstanding");
    // T -> SACK + SHUTDOWN -> IUT
    t.send(iut_tag, &[sack_chunk(tsn), shutdown_chunk(tsn)]);
    assert_acks_the_shutdown(&mut t, id, PEER);
    assert_eq!(t.iut.association(id).unwrap().unacked(), 0);
}

/// A SACK bundled with DATA: both are processed; the IUT's DATA counts as
/// acknowledged and the tester's DATA is acknowledged (RFC 9260 §6.10).
#[test]
fn sctp_bdc_v_7_7() {
    const PEER: u32 = 0x7700_0001;
    let (mut t, iut_tag, id, tsn) = with_outstanding(PEER, b"outstanding");
    // T -> SACK + DATA -> IUT
    t.send(
        iut_tag,
        &[
            sack_chunk(tsn),
            tester_data(TESTER_TSN, 0, 0, b"and some data"),
        ],
    );
    // IUT -> SACK -> T
    let sent = sent_within(&mut t, SACK_DELAY);
    let sack = only_sack(&sent);
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN));
    assert!(data_in(&sent).is_empty(), "{sent:#?}");
    assert_eq!(t.iut.association(id).unwrap().unacked(), 0);
    assert_delivered(&mut t, id, &[b"and some data"]);
}

/// A SHUTDOWN ACK bundled with DATA in SHUTDOWN-SENT: the IUT sends
/// SHUTDOWN COMPLETE and deletes the association; the DATA behind the
/// SHUTDOWN ACK is not delivered (RFC 9260 §6.10, §9.2).
#[test]
fn sctp_bdc_v_7_8() {
    const PEER: u32 = 0x7800_0001;
    let (mut t, iut_tag, id, _) = in_shutdown_sent(PEER);
    // T -> SHUTDOWN ACK + DATA -> IUT
    t.send(
        iut_tag,
        &[
            Chunk::ShutdownAck,
            tester_data(TESTER_TSN, 0, 0, b"ignored"),
        ],
    );
    // IUT -> SHUTDOWN COMPLETE -> T
    assert_shutdown_complete(&t.sent_one(), PEER);
    let events = t.events();
    assert_not_readable(&events);
    assert!(
        events.contains(&(id, Event::ShutdownComplete)),
        "{events:?}"
    );
    assert_gone(&mut t, iut_tag);
}

// ---- the record ----

#[test]
fn not_yet_applicable_at_bdc_purposes_are_listed_once() {
    let source = include_str!("conformance_at_bdc.rs");
    assert_record(source, NOT_YET, &["at", "bdc"], 16 + 8);
}
