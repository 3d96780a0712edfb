//! RFC 9260 §5.2: INIT and COOKIE ECHO when an association already exists —
//! collisions, restarts, and stray handshake chunks.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use usctp_proto::association::{AssociationState, Event};
use usctp_proto::chunk::{Chunk, CookieEcho, ErrorCause, Heartbeat, Init, Param};

#[track_caller]
fn init_ack(sent: &Sent) -> Init {
    match sent.only() {
        Chunk::InitAck(ack) => ack.clone(),
        other => panic!("expected INIT ACK, got {other:?}"),
    }
}

/// The association sat idle: all it sent were heartbeats (§8.3).
fn only_heartbeats(sent: &[Sent]) {
    assert!(!sent.is_empty(), "an idle path is probed");
    for s in sent {
        assert!(matches!(s.only(), Chunk::Heartbeat(_)), "{s:?}");
    }
}

fn echo(cookie: &Bytes) -> Chunk {
    Chunk::CookieEcho(CookieEcho {
        cookie: cookie.clone(),
    })
}

#[test]
fn init_in_cookie_wait_is_answered_with_the_original_parameters() {
    // §5.2.1: Z -> INIT -> A; A -> INIT -> Z; Z -> INIT ACK -> A with Z's
    // original tag and TSN; Z stays in COOKIE-WAIT with T1-init running.
    let (mut t, id) = client();
    let Chunk::Init(ours) = t.sent_one().only().clone() else {
        panic!()
    };
    t.send(0, &[Chunk::Init(init(0x1111))]);
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), 0x1111);
    let ack = init_ack(&reply);
    assert_eq!(ack.initiate_tag, ours.initiate_tag);
    assert_eq!(ack.initial_tsn, ours.initial_tsn);
    assert!(ack.state_cookie().is_some());
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::CookieWait
    );
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
    t.send(0, &[Chunk::Init(init(0x2222))]);
    let ack = init_ack(&t.sent_one());
    t.send(ack.initiate_tag, &[echo(ack.state_cookie().unwrap())]);
    let reply = t.sent_one();
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
        let (mut t, id) = client();
        let (ours, _) = answer_init(&mut t, 0x3333, vec![]);
        assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
        t.send(0, &[Chunk::Init(init(new_tag))]);
        let reply = t.sent_one();
        assert_eq!(reply.vtag(), new_tag);
        let ack = init_ack(&reply);
        assert_eq!(ack.initiate_tag, ours.initiate_tag);
        assert_eq!(
            t.iut.association(id).unwrap().state(),
            AssociationState::CookieEchoed
        );
        t.send(ours.initiate_tag, &[echo(ack.state_cookie().unwrap())]);
        let reply = t.sent_one();
        assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
        assert_eq!(reply.vtag(), new_tag);
        let assoc = t.iut.association(id).unwrap();
        assert_eq!(assoc.state(), AssociationState::Established);
        assert_eq!(assoc.peer_tag(), new_tag);
        assert_eq!(t.events().len(), 1);
    }
}

#[test]
fn init_adding_an_address_in_cookie_echoed_is_aborted() {
    // §5.2.1: a new address in the INIT gets an ABORT with Restart of an
    // Association with New Addresses; the forming association goes on.
    let (mut t, id) = client();
    answer_init(&mut t, 0x4444, vec![]);
    t.sent_one();
    let extra = Param::Ipv4Address([192, 0, 2, 77].into());
    t.send(0, &[Chunk::Init(init_with(0x4444, vec![extra]))]);
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), 0x4444);
    let Chunk::Abort(abort) = reply.only() else {
        panic!("expected ABORT")
    };
    assert_eq!(
        abort.causes,
        [ErrorCause::RestartWithNewAddresses(Bytes::from_static(&[
            0, 5, 0, 8, 192, 0, 2, 77
        ]))]
    );
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::CookieEchoed
    );
}

#[test]
fn init_in_established_gets_a_new_tag_and_leaves_the_association_alone() {
    // §5.2.2: INIT ACK with a fresh Initiate Tag; the association keeps
    // its tags and state; nothing is reported.
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x5555);
    t.send(0, &[Chunk::Init(init(0x5656))]);
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), 0x5656);
    let ack = init_ack(&reply);
    assert_ne!(ack.initiate_tag, iut_tag);
    let assoc = t.iut.association(id).unwrap();
    assert_eq!((assoc.local_tag(), assoc.peer_tag()), (iut_tag, 0x5555));
    assert_eq!(assoc.state(), AssociationState::Established);
    assert!(t.events().is_empty());
}

#[test]
fn peer_restart_is_detected_through_the_tie_tags() {
    // §5.2.4 (A): after the §5.2.2 exchange, the COOKIE ECHO carries both
    // new tags and the association's tie-tags: a restart.
    let mut t = Tester::server();
    let (old_tag, id) = t.establish(0x6666);
    t.send(0, &[Chunk::Init(init(0x6767))]);
    let ack = init_ack(&t.sent_one());
    t.send(ack.initiate_tag, &[echo(ack.state_cookie().unwrap())]);
    let reply = t.sent_one();
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
    let hb = Chunk::Heartbeat(Heartbeat {
        info: Bytes::from_static(b"x"),
    });
    t.send(old_tag, std::slice::from_ref(&hb));
    t.sent_nothing();
    t.send(ack.initiate_tag, &[hb]);
    assert!(matches!(t.sent_one().only(), Chunk::HeartbeatAck(_)));
}

#[test]
fn restart_with_a_stale_cookie_gets_a_stale_cookie_error() {
    // §5.2.4 with §5.1.5: only an agreeing (D) cookie may be late.
    let mut t = Tester::server();
    let (old_tag, id) = t.establish(0x7777);
    t.send(0, &[Chunk::Init(init(0x7878))]);
    let ack = init_ack(&t.sent_one());
    t.advance(Duration::from_secs(61));
    only_heartbeats(&t.sent());
    t.send(ack.initiate_tag, &[echo(ack.state_cookie().unwrap())]);
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), 0x7878);
    assert!(
        matches!(reply.only(), Chunk::Error(e) if matches!(e.causes[..], [ErrorCause::StaleCookie { .. }]))
    );
    assert_eq!(t.iut.association(id).unwrap().local_tag(), old_tag);
    assert!(t.events().is_empty());
}

#[test]
fn init_adding_an_address_in_established_is_aborted_and_changes_nothing() {
    // §5.2.2: a restart may not bring new addresses.
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x8888);
    let extra = Param::Ipv6Address("2001:db8::9".parse().unwrap());
    t.send(0, &[Chunk::Init(init_with(0x8989, vec![extra]))]);
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), 0x8989);
    assert!(
        matches!(reply.only(), Chunk::Abort(a) if matches!(a.causes[..], [ErrorCause::RestartWithNewAddresses(_)]))
    );
    assert_eq!(t.iut.association(id).unwrap().local_tag(), iut_tag);
    assert!(t.events().is_empty());
}

#[test]
fn old_cookie_with_only_the_peer_tag_matching_is_discarded() {
    // §5.2.4 (C): an INIT ACK answered late; its cookie names another
    // local tag, the same peer tag, and no tie-tags.
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0x9999))]);
    let first = init_ack(&t.sent_one());
    t.send(0, &[Chunk::Init(init(0x9999))]);
    let second = init_ack(&t.sent_one());
    t.send(second.initiate_tag, &[echo(second.state_cookie().unwrap())]);
    assert_eq!(t.sent_one().packet.chunks, [Chunk::CookieAck]);
    t.events();
    t.send(first.initiate_tag, &[echo(first.state_cookie().unwrap())]);
    t.sent_nothing();
    assert!(t.events().is_empty());
    assert_eq!(t.iut.association_count(), 1);
}

#[test]
fn duplicate_cookie_echo_in_established_is_acknowledged_again() {
    // §5.2.4 (D): the COOKIE ACK was lost; the repeated COOKIE ECHO gets
    // another, and nothing else happens.
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0xaaaa))]);
    let ack = init_ack(&t.sent_one());
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(ack.initiate_tag, &[echo(&cookie)]);
    t.sent_one();
    assert_eq!(t.events().len(), 1);
    // Even late: a (D) cookie confirms what both ends agree on.
    t.advance(Duration::from_secs(120));
    only_heartbeats(&t.sent());
    t.send(ack.initiate_tag, &[echo(&cookie)]);
    assert_eq!(t.sent_one().packet.chunks, [Chunk::CookieAck]);
    assert!(t.events().is_empty());
    assert_eq!(t.iut.association_count(), 1);
}

#[test]
fn init_ack_outside_cookie_wait_is_discarded() {
    // §5.2.3, in COOKIE-ECHOED and in ESTABLISHED.
    let (mut t, id) = client();
    let (ours, _) = answer_init(&mut t, 0xbbbb, vec![]);
    t.sent_one();
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
    let mut t = Tester::server();
    let (iut_tag, _) = t.establish(0xcccc);
    t.send(iut_tag, &[Chunk::CookieAck]);
    t.sent_nothing();
    assert!(t.events().is_empty());

    let (mut t, id) = client();
    let Chunk::Init(ours) = t.sent_one().only().clone() else {
        panic!()
    };
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    t.sent_nothing();
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::CookieWait
    );
}
