//! RFC 9260 §5.2: INIT and COOKIE ECHO when an association already exists
//! or is being set up: collisions, restarts with their tie-tags, and stray
//! handshake chunks; played with raw packets against the sans-IO endpoint.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use support::*;
use usctp_proto::association::{AssociationState, Event};
use usctp_proto::chunk::{Chunk, ErrorCause, Init, Param};
use usctp_proto::config::Config;
use usctp_proto::serial::Tsn;

/// The association sat idle: all it sent were heartbeats (§8.3).
fn only_heartbeats(sent: &[Sent]) {
    assert!(!sent.is_empty(), "an idle path is probed");
    for s in sent {
        assert!(matches!(s.only(), Chunk::Heartbeat(_)), "{s:?}");
    }
}

// ---- collisions (§5.2.1, §5.2.4) ----

#[test]
fn init_in_cookie_wait_is_answered_with_the_original_parameters() {
    // §5.2.1: Z -> INIT -> A; A -> INIT -> Z; Z -> INIT ACK -> A with Z's
    // original tag and TSN; Z stays in COOKIE-WAIT with T1-init running.
    let (mut t, id) = client();
    let ours = init_of(&t.sent_one());
    t.send(0, &[Chunk::Init(init(0x1111))]);
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), 0x1111);
    let ack = init_ack_of(&reply);
    assert_eq!(ack.initiate_tag, ours.initiate_tag);
    assert_eq!(ack.initial_tsn, ours.initial_tsn);
    assert!(ack.state_cookie().is_some());
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
    t.advance(Duration::from_secs(1));
    assert!(
        matches!(t.sent_one().only(), Chunk::Init(_)),
        "T1-init still runs"
    );
}

#[test]
fn collision_from_cookie_wait_completes_through_the_cookie() {
    // §5.2.1 then §5.2.4 (B): the tester answers Z's INIT only through its
    // own INIT; Z's INIT ACK cookie, echoed, establishes the association.
    let (mut t, id) = client();
    t.sent_one();
    let ack = send_init(&mut t, init(0x2222));
    let reply = echo_cookie(&mut t, &ack);
    assert_eq!(reply.vtag(), 0x2222);
    assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::Established);
    assert_eq!(assoc.peer_tag(), 0x2222);
    assert!(matches!(t.events()[..], [(_, Event::Up(_))]));
}

#[test]
fn init_in_cookie_echoed_is_answered_and_its_cookie_resolves_the_collision() {
    // §5.2.1 in COOKIE-ECHOED, then §5.2.4: (D) when the peer kept its
    // tag, (B) when it changed it.
    for new_tag in [0x3333, 0x3334] {
        let (mut t, id, ours, _) = cookie_echoed(0x3333);
        t.send(0, &[Chunk::Init(init(new_tag))]);
        let reply = t.sent_one();
        assert_eq!(reply.vtag(), new_tag);
        let ack = init_ack_of(&reply);
        assert_eq!(ack.initiate_tag, ours.initiate_tag);
        assert_eq!(state(&t, id), Some(AssociationState::CookieEchoed));
        t.send(
            ours.initiate_tag,
            &[cookie_echo(ack.state_cookie().unwrap())],
        );
        let reply = t.sent_one();
        assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
        assert_eq!(reply.vtag(), new_tag);
        let assoc = t.iut.association(id).unwrap();
        assert_eq!(assoc.state(), AssociationState::Established);
        assert_eq!(assoc.peer_tag(), new_tag);
        assert_eq!(t.events().len(), 1);
    }
}

/// RFC 9260 §5.2.1: an INIT in COOKIE-ECHOED gets an INIT ACK whose cookie
/// carries the association's tie-tags; the state stays, T1-cookie keeps
/// running and the association is not destroyed.
#[test]
fn init_in_cookie_echoed_keeps_the_state_and_timer_and_fills_the_tie_tags() {
    let (mut t, id, ours, echo) = cookie_echoed(0x4040_0001);
    t.advance(Duration::from_millis(500));
    let ack = send_init(&mut t, init(0x4040_0002));
    assert_eq!(ack.initiate_tag, ours.initiate_tag);
    let c = open_cookie(ack.state_cookie().unwrap());
    assert_ne!(c.local_tie_tag, 0);
    assert_ne!(c.peer_tie_tag, 0);
    assert_eq!(state(&t, id), Some(AssociationState::CookieEchoed));
    // T1-cookie was started 500 ms before the INIT and still fires at 1 s.
    t.quiet_for(Duration::from_millis(499));
    t.advance(Duration::from_millis(1));
    assert_eq!(t.sent_one().packet.chunks, echo.packet.chunks);
    assert!(t.events().is_empty());
}

/// RFC 9260 §5.2.1: an INIT colliding with this end's own setup is
/// answered at an address that the user gave and that the INIT reports,
/// its source when that qualifies: not at the primary address when the
/// INIT neither comes from it nor lists it. In COOKIE-WAIT the paths are
/// the addresses the user connected to; in COOKIE-ECHOED those the INIT
/// ACK confirmed.
#[test]
fn a_colliding_init_is_answered_where_the_user_and_the_init_agree() {
    let primary = tester_addr();
    let second = SocketAddr::new("10.0.1.2".parse().unwrap(), primary.port());
    let stranger: SocketAddr = "10.0.9.9:9899".parse().unwrap();
    let mut t = Tester::with_config(Config::default(), false);
    let now = t.now;
    let id = t
        .iut
        .connect_multihomed(now, primary, &[second.ip()], TESTER_PORT)
        .unwrap();
    let ours = init_of(&t.sent_one());
    let answered_at = |t: &mut Tester, from, tag, listed: &[IpAddr]| {
        t.from = from;
        let params = listed.iter().map(|&a| Param::from_address(a)).collect();
        t.send(0, &[Chunk::Init(init_with(tag, params))]);
        let reply = t.sent_one();
        let ack = init_ack_of(&reply);
        assert_eq!(ack.initiate_tag, ours.initiate_tag);
        assert_eq!(reply.vtag(), tag);
        reply.to
    };
    // COOKIE-WAIT.
    assert_eq!(answered_at(&mut t, second, 0x5454_0001, &[]), second);
    assert_eq!(
        answered_at(&mut t, second, 0x5454_0002, &[primary.ip()]),
        second
    );
    assert_eq!(
        answered_at(&mut t, stranger, 0x5454_0003, &[second.ip()]),
        second
    );
    assert_eq!(
        answered_at(&mut t, stranger, 0x5454_0004, &[primary.ip()]),
        primary
    );
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
    // COOKIE-ECHOED, after an INIT ACK from the primary listing the second.
    t.from = primary;
    t.send(
        ours.initiate_tag,
        &[Chunk::InitAck(init_with(
            0x5454_0005,
            vec![
                Param::from_address(second.ip()),
                Param::StateCookie(Bytes::from_static(b"c")),
            ],
        ))],
    );
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    assert_eq!(answered_at(&mut t, second, 0x5454_0006, &[]), second);
    assert_eq!(
        answered_at(&mut t, second, 0x5454_0007, &[primary.ip()]),
        second
    );
    assert_eq!(state(&t, id), Some(AssociationState::CookieEchoed));
}

#[test]
fn init_adding_an_address_in_cookie_echoed_is_aborted() {
    // §5.2.1: a new address in the INIT gets an ABORT with Restart of an
    // Association with New Addresses; the forming association goes on.
    let (mut t, id, _, _) = cookie_echoed(0x4444);
    let extra = Param::Ipv4Address([192, 0, 2, 77].into());
    t.send(0, &[Chunk::Init(init_with(0x4444, vec![extra]))]);
    let new_address = [0, 5, 0, 8, 192, 0, 2, 77];
    let causes = [ErrorCause::RestartWithNewAddresses(Bytes::copy_from_slice(
        &new_address,
    ))];
    assert_sends_abort(&mut t, 0x4444, false, &causes);
    assert_eq!(state(&t, id), Some(AssociationState::CookieEchoed));
}

// ---- an INIT for an established association, and restarts (§5.2.2, §5.2.4) ----

#[test]
fn init_in_established_gets_a_new_tag_and_leaves_the_association_alone() {
    // §5.2.2: INIT ACK with a fresh Initiate Tag; the association keeps
    // its tags and state; nothing is reported.
    let (mut t, iut_tag, id) = established(0x5555);
    t.send(0, &[Chunk::Init(init(0x5656))]);
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), 0x5656);
    let ack = init_ack_of(&reply);
    assert_ne!(ack.initiate_tag, iut_tag);
    let assoc = t.iut.association(id).unwrap();
    assert_eq!((assoc.local_tag(), assoc.peer_tag()), (iut_tag, 0x5555));
    assert_eq!(assoc.state(), AssociationState::Established);
    assert!(t.events().is_empty());
}

/// RFC 9260 §3.3.2: an INIT with 0 outbound or 0 inbound streams is
/// refused (ABORT under its Initiate Tag) and leaves the existing
/// association as it was.
#[test]
fn zero_stream_init_leaves_an_existing_association_alone() {
    let (mut t, iut_tag, id) = established(0x3333_0001);
    for bad in zero_stream_inits(0x3333_0002) {
        t.send(0, &[Chunk::Init(bad)]);
        let invalid = [ErrorCause::InvalidMandatoryParameter];
        assert_abort(&t.sent_one(), 0x3333_0002, false, &invalid);
        assert_unchanged(&mut t, id, iut_tag, 0x3333_0001);
    }
    t.send(iut_tag, &[heartbeat(b"still there")]);
    assert_eq!(t.sent_one().packet.chunks, [heartbeat_ack(b"still there")]);
}

#[test]
fn init_adding_an_address_in_established_is_aborted_and_changes_nothing() {
    // §5.2.2: a restart may not bring new addresses.
    let (mut t, iut_tag, id) = established(0x8888);
    let extra = Param::Ipv6Address("2001:db8::9".parse().unwrap());
    t.send(0, &[Chunk::Init(init_with(0x8989, vec![extra]))]);
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), 0x8989);
    assert!(
        matches!(reply.only(), Chunk::Abort(a) if matches!(a.causes[..], [ErrorCause::RestartWithNewAddresses(_)]))
    );
    assert_unchanged(&mut t, id, iut_tag, 0x8888);
}

/// RFC 9260 §5.1.2 (D): an INIT from an unknown source that lists an
/// address of an existing association belongs to that association: it is
/// judged as a restart adding an address (refused with an ABORT naming
/// the new source), not answered as a new association.
#[test]
fn init_listing_an_address_of_an_existing_association_is_routed_to_it() {
    let (mut t, iut_tag, id) = established(0x3737_0001);
    let known = tester_addr().ip();
    t.from = "10.0.9.9:9899".parse().unwrap();
    t.send(
        0,
        &[Chunk::Init(init_with(
            0x3737_0002,
            vec![Param::from_address(known)],
        ))],
    );
    let new_address = [0, 5, 0, 8, 10, 0, 9, 9];
    let causes = [ErrorCause::RestartWithNewAddresses(Bytes::copy_from_slice(
        &new_address,
    ))];
    assert_sends_abort(&mut t, 0x3737_0002, false, &causes);
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(
        (assoc.local_tag(), assoc.state()),
        (iut_tag, AssociationState::Established)
    );
    assert_eq!(t.iut.association_count(), 1);
}

#[test]
fn peer_restart_is_detected_through_the_tie_tags() {
    // §5.2.4 (A): after the §5.2.2 exchange, the COOKIE ECHO carries both
    // new tags and the association's tie-tags: a restart.
    let (mut t, old_tag, id) = established(0x6666);
    let ack = send_init(&mut t, init(0x6767));
    let reply = echo_cookie(&mut t, &ack);
    assert_eq!(reply.vtag(), 0x6767);
    assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
    let events = t.events();
    assert!(
        matches!(events[..], [(i, Event::Restart(_))] if i == id),
        "{events:?}"
    );
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(
        (assoc.local_tag(), assoc.peer_tag()),
        (ack.initiate_tag, 0x6767)
    );
    // The old incarnation's tag is no longer accepted.
    t.send(old_tag, &[heartbeat(b"x")]);
    t.sent_nothing();
    t.send(ack.initiate_tag, &[heartbeat(b"x")]);
    assert!(matches!(t.sent_one().only(), Chunk::HeartbeatAck(_)));
}

/// RFC 9260 §5.2.4 (A): a peer restart resets the congestion control state
/// of the association's paths (no RTT measurement, initial cwnd).
#[test]
fn restart_resets_the_congestion_state() {
    let mut fresh = Tester::server();
    let (_, fresh_id) = fresh.establish(0x4646_0009);
    let initial_cwnd = fresh.iut.association(fresh_id).unwrap().paths()[0].cwnd;

    let (mut t, iut_tag, id) = established(0x4646_0001);
    for _ in 0..8 {
        user_sends(&mut t, id, vec![9u8; 1000]);
    }
    let last = *tsns(&data_in(&t.sent())).last().unwrap();
    t.advance(Duration::from_millis(50));
    t.send(iut_tag, &[sack_with(last, 65_536, &[])]);
    let before = t.iut.association(id).unwrap().paths()[0].clone();
    assert!(before.srtt.is_some(), "the SACK measured an RTT");
    assert_ne!(before.cwnd, initial_cwnd, "the window grew");
    t.sent();

    let ack = send_init(&mut t, init(0x4646_0002));
    t.send(
        ack.initiate_tag,
        &[cookie_echo(ack.state_cookie().unwrap())],
    );
    assert!(
        t.events()
            .iter()
            .any(|(i, e)| *i == id && matches!(e, Event::Restart(_)))
    );
    let after = t.iut.association(id).unwrap().paths()[0].clone();
    assert_eq!(after.srtt, None);
    assert_eq!(after.cwnd, initial_cwnd);
}

#[test]
fn restart_with_a_stale_cookie_gets_a_stale_cookie_error() {
    // §5.2.4 with §5.1.5: only an agreeing (D) cookie may be late.
    let (mut t, old_tag, id) = established(0x7777);
    let ack = send_init(&mut t, init(0x7878));
    t.advance(Duration::from_secs(61));
    only_heartbeats(&t.sent());
    let reply = echo_cookie(&mut t, &ack);
    assert_eq!(reply.vtag(), 0x7878);
    assert!(
        matches!(reply.only(), Chunk::Error(e) if matches!(e.causes[..], [ErrorCause::StaleCookie { .. }]))
    );
    assert_unchanged(&mut t, id, old_tag, 0x7777);
}

/// RFC 9260 §5.2.4 (A): in SHUTDOWN-ACK-SENT a restarting peer's COOKIE
/// ECHO sets up nothing: the SHUTDOWN ACK is sent again with an ERROR
/// (Cookie Received While Shutting Down).
#[test]
fn restart_cookie_in_shutdown_ack_sent_gets_the_shutdown_ack_again() {
    let (mut t, iut_tag, id) = established(0x4747_0001);
    // The restarting peer's INIT, answered while still ESTABLISHED.
    let ack = send_init(&mut t, init(0x4747_0002));
    t.send(iut_tag, &[shutdown_chunk(Tsn(999))]);
    assert_eq!(t.sent_one().packet.chunks, [Chunk::ShutdownAck]);
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownAckSent));
    t.events();
    t.send(
        ack.initiate_tag,
        &[cookie_echo(ack.state_cookie().unwrap())],
    );
    let chunks: Vec<Chunk> = t
        .sent()
        .into_iter()
        .flat_map(|s| {
            assert_eq!(s.vtag(), 0x4747_0001);
            s.packet.chunks
        })
        .collect();
    assert!(chunks.contains(&Chunk::ShutdownAck), "{chunks:?}");
    assert!(
        chunks.iter().any(|c| matches!(c, Chunk::Error(e)
            if e.causes == [ErrorCause::CookieReceivedWhileShuttingDown])),
        "{chunks:?}"
    );
    assert!(!chunks.contains(&Chunk::CookieAck));
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::ShutdownAckSent);
    assert_eq!(assoc.local_tag(), iut_tag);
    assert!(t.events().is_empty());
}

#[test]
fn old_cookie_with_only_the_peer_tag_matching_is_discarded() {
    // §5.2.4 (C): an INIT ACK answered late; its cookie names another
    // local tag, the same peer tag, and no tie-tags.
    let (mut t, first) = init_acked(0x9999);
    let second = send_init(&mut t, init(0x9999));
    assert_eq!(
        echo_cookie(&mut t, &second).packet.chunks,
        [Chunk::CookieAck]
    );
    t.events();
    t.send(
        first.initiate_tag,
        &[cookie_echo(first.state_cookie().unwrap())],
    );
    t.silent();
    assert_eq!(t.iut.association_count(), 1);
}

#[test]
fn duplicate_cookie_echo_in_established_is_acknowledged_again() {
    // §5.2.4 (D): the COOKIE ACK was lost; the repeated COOKIE ECHO gets
    // another, and nothing else happens.
    let (mut t, ack) = init_acked(0xaaaa);
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(ack.initiate_tag, &[cookie_echo(&cookie)]);
    t.sent_one();
    assert_eq!(t.events().len(), 1);
    // Even late: a (D) cookie confirms what both ends agree on.
    t.advance(Duration::from_secs(120));
    only_heartbeats(&t.sent());
    t.send(ack.initiate_tag, &[cookie_echo(&cookie)]);
    assert_eq!(t.sent_one().packet.chunks, [Chunk::CookieAck]);
    assert!(t.events().is_empty());
    assert_eq!(t.iut.association_count(), 1);
}

// ---- stray handshake chunks (§5.2.3, §5.2.5) ----

#[test]
fn init_ack_outside_cookie_wait_is_discarded() {
    // §5.2.3, in COOKIE-ECHOED and in ESTABLISHED.
    let (mut t, id, ours, _) = cookie_echoed(0xbbbb);
    let stray = Init {
        params: vec![Param::StateCookie(Bytes::from_static(b"other"))],
        ..init(0xbcbc)
    };
    t.send(ours.initiate_tag, &[Chunk::InitAck(stray.clone())]);
    t.sent_nothing();
    assert_eq!(t.iut.association(id).unwrap().peer_tag(), 0xbbbb);
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    t.events();
    t.send(ours.initiate_tag, &[Chunk::InitAck(stray)]);
    t.sent_nothing();
    assert_eq!(t.iut.association(id).unwrap().peer_tag(), 0xbbbb);
    assert!(t.events().is_empty());
}

#[test]
fn cookie_ack_outside_cookie_echoed_is_discarded() {
    // §5.2.5: in ESTABLISHED, and in COOKIE-WAIT.
    let (mut t, iut_tag, _) = established(0xcccc);
    t.send(iut_tag, &[Chunk::CookieAck]);
    t.silent();

    let (mut t, id) = client();
    let ours = init_of(&t.sent_one());
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    t.sent_nothing();
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
}
