//! ETSI TS 102 369 test purposes of the group AS (association setup), as
//! the nplab suite states them (docs/etsi-test-purposes.md), played with raw
//! packets against the IUT and judged by RFC 9260. One test per purpose,
//! named after its id.

mod support;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use support::*;
use usctp_proto::association::{AssociationError, AssociationState, Established, Event};
use usctp_proto::chunk::{Chunk, ErrorCause, Init, Param, ParamType};
use usctp_proto::config::Config;
use usctp_proto::serial::Tsn;

/// Tags that look random, one for each association of the IUT: all distinct, and each bit set in 40 % to 60 %
/// of them (RFC 9260 §5.3.1).
#[track_caller]
fn assert_random_tags(t: &Tester, tags: &[u32]) {
    assert_eq!(tags.len(), 1000);
    assert_eq!(
        t.iut.association_count(),
        tags.len(),
        "one association each"
    );
    let distinct: HashSet<u32> = tags.iter().copied().collect();
    assert_eq!(distinct.len(), tags.len(), "Initiate Tags repeat");
    assert!(!distinct.contains(&0));
    for bit in 0..32 {
        let set = tags.iter().filter(|&&tag| tag & (1 << bit) != 0).count();
        assert!(
            (400..=600).contains(&set),
            "bit {bit} set in {set} of 1000 tags"
        );
    }
}

/// AS-I-1-8-x: an INIT with unknown parameters of types C0C1, `middle`,
/// C0C3 and then an IPv4 address. Checks the types the INIT ACK reports and
/// whether the address after them was processed; the handshake completes.
#[track_caller]
fn unknown_init_parameters(middle: u16, reported: &[u16], address_processed: bool) {
    let mut t = Tester::server();
    let extra: IpAddr = [10, 0, 2, 2].into();
    let params = vec![
        unknown_param(0xC0C1),
        unknown_param(middle),
        unknown_param(0xC0C3),
        Param::from_address(extra),
    ];
    // T -> INIT (unknown parameters) -> IUT
    // IUT -> INIT ACK (Unrecognized Parameter) -> T
    let ack = send_init(&mut t, init_with(0x1800_0000 | u32::from(middle), params));
    assert_eq!(reported_in(&ack), reported, "reported parameter types");
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    let (_, up) = up(&mut t);
    assert_eq!(
        ips(&up).contains(&extra),
        address_processed,
        "address after the unknown parameters: {:?}",
        up.peer_addresses
    );
}

/// The tester sets up an association with a listening IUT configured by
/// the defaults as `change` changes them, starting with the INIT `init`.
/// Returns the IUT's INIT ACK, its Up event, and the association's
/// (outbound, inbound) streams.
#[track_caller]
fn set_up_as_server(
    change: impl FnOnce(&mut Config),
    init: Init,
) -> (Init, Established, (u16, u16)) {
    let mut t = Tester::with_config(configured(change), true);
    let ack = send_init(&mut t, init);
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    let (id, up) = up(&mut t);
    let streams = t.iut.association(id).unwrap().streams();
    (ack, up, streams)
}

/// The association is up with both the tester's addresses, and the
/// alternate one is recognised as the peer: a HEARTBEAT from it is
/// answered there.
#[track_caller]
fn up_at_both_addresses(t: &mut Tester, alternate: IpAddr, iut_tag: u32, peer_tag: u32) {
    let (_, up) = up(t);
    assert_eq!(ips(&up), [tester_addr().ip(), alternate]);
    t.from = SocketAddr::new(alternate, tester_addr().port());
    assert_alive(t, iut_tag, peer_tag);
}

/// Parameters with RTO.Max 4 s, so that retransmissions back off to it
/// within a minute.
fn rto_max_4s() -> Config {
    Config::default().with_rto_max(Duration::from_secs(4))
}

// ---- AS: association setup ----

/// As client the IUT sends INIT, answers the INIT ACK with a COOKIE ECHO
/// carrying the cookie, and is up after the COOKIE ACK (RFC 9260 §5.1).
#[test]
fn sctp_as_v_1_1_1() {
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
    assert_ne!(ours.initiate_tag, 0);
    assert!(ours.outbound_streams > 0 && ours.inbound_streams > 0);
    assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
    // T -> INIT ACK -> IUT
    t.send(
        ours.initiate_tag,
        &[tester_init_ack(0x1111_0001, vec![cookie_param()])],
    );
    // IUT -> COOKIE ECHO -> T
    let echo = t.sent_one();
    assert_eq!(echo.to, tester_addr());
    assert_eq!(echo.vtag(), 0x1111_0001);
    assert_eq!(
        echo.packet.chunks,
        [cookie_echo(&Bytes::from_static(COOKIE))]
    );
    assert_eq!(state(&t, id), Some(AssociationState::CookieEchoed));
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    t.sent_nothing();
    assert_eq!(up(&mut t).0, id);
    assert_established(&t, id, ours.initiate_tag, 0x1111_0001);
}

/// As server the IUT answers INIT with an INIT ACK holding a State Cookie,
/// then the echoed cookie with COOKIE ACK, and is up (RFC 9260 §5.1).
#[test]
fn sctp_as_v_1_1_2() {
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let (mut t, ack) = init_acked(0x1112_0001);
    assert_ne!(ack.initiate_tag, 0);
    assert!(ack.outbound_streams > 0 && ack.outbound_streams <= init(1).inbound_streams);
    assert!(ack.inbound_streams > 0);
    assert!(ack.state_cookie().is_some());
    assert_eq!(t.iut.association_count(), 0);
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    let reply = echo_cookie(&mut t, &ack);
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.vtag(), 0x1112_0001);
    assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
    let (id, _) = up(&mut t);
    assert_established(&t, id, ack.initiate_tag, 0x1112_0001);
}

/// When T1-init expires the IUT sends the same INIT again, and the handshake
/// completes once an INIT ACK arrives (RFC 9260 §5.1 (A)).
#[test]
fn sctp_as_i_1_2_1() {
    // IUT -> INIT -> T (held back by T)
    let (mut t, id, first) = client_init();
    t.quiet_for(Duration::from_millis(999));
    // IUT -> INIT -> T (T1-init expired)
    // T -> INIT ACK -> IUT
    t.advance(Duration::from_millis(1));
    let (again, cookie) = answer_init(&mut t, 0x1121_0001, vec![]);
    assert_eq!(again, first, "the retransmitted INIT is the same INIT");
    // IUT -> COOKIE ECHO -> T
    let echo = t.sent_one();
    assert_eq!(echo.vtag(), 0x1121_0001);
    assert_eq!(echo.only(), &cookie_echo(&cookie));
    // T -> COOKIE ACK -> IUT
    t.send(first.initiate_tag, &[Chunk::CookieAck]);
    assert_eq!(up(&mut t).0, id);
    assert_eq!(state(&t, id), Some(AssociationState::Established));
}

/// When T1-cookie expires the IUT sends the same COOKIE ECHO again
/// (RFC 9260 §5.1 (C)).
#[test]
fn sctp_as_i_1_2_2() {
    // IUT -> INIT -> T
    // T -> INIT ACK -> IUT
    // IUT -> COOKIE ECHO -> T (held back by T)
    let (mut t, id, ours, first) = cookie_echoed(0x1122_0001);
    t.quiet_for(Duration::from_millis(999));
    // IUT -> COOKIE ECHO -> T (T1-cookie expired)
    t.advance(Duration::from_millis(1));
    let again = t.sent_one();
    assert_eq!(again.vtag(), 0x1122_0001);
    assert_eq!(again.packet.chunks, first.packet.chunks);
    assert_eq!(state(&t, id), Some(AssociationState::CookieEchoed));
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    assert_eq!(up(&mut t).0, id);
}

/// An INIT never answered is resent Max.Init.Retransmits (8) times, T1-init
/// doubling up to RTO.Max, then setup fails and the user is told
/// (RFC 9260 §5.1 (A), §6.3.3 E2).
#[test]
fn sctp_as_i_1_3_1() {
    let (mut t, id) = client_with(rto_max_4s());
    // IUT -> INIT -> T (never answered)
    let first = sent_init(&mut t);
    let sent = run_for(&mut t, Duration::from_secs(60));
    // IUT -> INIT -> T, at 1 s, then every 2, 4, 4, ... s (RTO.Max 4 s)
    for (at, s) in &sent {
        assert_eq!(s.vtag(), 0, "at {at:?}");
        assert_eq!(s.only(), &Chunk::Init(first.clone()), "at {at:?}");
    }
    assert_eq!(times(&sent), secs(&[1, 3, 7, 11, 15, 19, 23, 27]));
    assert_cant_start(&mut t, id, AssociationError::InitTimeout);
}

/// A COOKIE ECHO never answered is resent Max.Init.Retransmits (8) times
/// with backoff up to RTO.Max, then setup fails and the user is told; an
/// ABORT on the wire is optional (RFC 9260 §5.1 (C), §6.3.3 E2).
#[test]
fn sctp_as_i_1_3_2() {
    let (mut t, id) = client_with(rto_max_4s());
    // IUT -> INIT -> T
    // T -> INIT ACK -> IUT
    answer_init(&mut t, 0x1132_0001, vec![]);
    // IUT -> COOKIE ECHO -> T (never answered)
    let first = t.sent_one();
    assert!(matches!(first.only(), Chunk::CookieEcho(_)));
    let sent = run_for(&mut t, Duration::from_secs(60));
    // IUT -> COOKIE ECHO -> T, at 1 s, then every 2, 4, 4, ... s
    let mut times = Vec::new();
    for (at, s) in &sent {
        assert_eq!(s.vtag(), 0x1132_0001, "at {at:?}");
        match s.only() {
            Chunk::CookieEcho(_) => {
                assert_eq!(s.packet.chunks, first.packet.chunks);
                times.push(*at);
            }
            // IUT -> ABORT -> T (optional, once it gives up)
            Chunk::Abort(a) => assert!(!a.reflected_tag, "at {at:?}"),
            other => panic!("at {at:?}: {other}"),
        }
    }
    assert_eq!(times, secs(&[1, 3, 7, 11, 15, 19, 23, 27]));
    assert_cant_start(&mut t, id, AssociationError::CookieTimeout);
}

/// INITs that never complete a handshake are each answered with an INIT
/// ACK while the IUT keeps no state for them; the cookie alone later sets
/// up the association (RFC 9260 §5.1 (B), §5.1.3).
#[test]
fn sctp_as_i_1_4() {
    let mut t = Tester::server();
    let mut first = None;
    for i in 0..1000u32 {
        t.from = SocketAddr::from(([10, 4, (i >> 8) as u8, i as u8], 9899));
        // T -> INIT -> IUT
        // IUT -> INIT ACK -> T
        let ack = send_init(&mut t, init(0x1400_0000 + i));
        assert!(ack.state_cookie().is_some());
        first.get_or_insert((t.from, ack));
    }
    assert_eq!(t.iut.association_count(), 0);
    assert_eq!(t.iut.peer_table_len(), 0);
    assert!(t.events().is_empty());
    // T -> COOKIE ECHO -> IUT (the first INIT's cookie)
    // IUT -> COOKIE ACK -> T
    let (from, ack) = first.unwrap();
    t.from = from;
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    up(&mut t);
    assert_eq!(t.iut.association_count(), 1);
}

/// As client the IUT picks Initiate Tags that look random over 1000
/// associations (RFC 9260 §5.3.1).
#[test]
fn sctp_as_v_1_5_1() {
    let mut t = Tester::with_config(Config::default(), false);
    let mut tags = Vec::new();
    for i in 0..1000u32 {
        let peer = SocketAddr::from(([10, 5, (i >> 8) as u8, i as u8], 9899));
        let now = t.now;
        let id = t.iut.connect(now, peer, TESTER_PORT).unwrap();
        t.from = peer;
        // IUT -> INIT -> T
        let ours = sent_init(&mut t);
        // T -> INIT ACK -> IUT
        t.send(
            ours.initiate_tag,
            &[tester_init_ack(i + 1, vec![cookie_param()])],
        );
        // IUT -> COOKIE ECHO -> T
        assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
        // T -> COOKIE ACK -> IUT
        t.send(ours.initiate_tag, &[Chunk::CookieAck]);
        assert_eq!(up(&mut t).0, id);
        assert_eq!(
            t.iut.association(id).unwrap().local_tag(),
            ours.initiate_tag
        );
        tags.push(ours.initiate_tag);
    }
    assert_random_tags(&t, &tags);
}

/// As server the IUT picks Initiate Tags that look random over 1000
/// associations (RFC 9260 §5.3.1).
#[test]
fn sctp_as_v_1_5_2() {
    let mut t = Tester::server();
    let mut tags = Vec::new();
    for i in 0..1000u32 {
        t.from = SocketAddr::from(([10, 6, (i >> 8) as u8, i as u8], 9899));
        // T -> INIT -> IUT
        // IUT -> INIT ACK -> T
        let ack = send_init(&mut t, init(i + 1));
        // T -> COOKIE ECHO -> IUT
        // IUT -> COOKIE ACK -> T
        assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
        let (id, _) = up(&mut t);
        assert_eq!(t.iut.association(id).unwrap().local_tag(), ack.initiate_tag);
        tags.push(ack.initiate_tag);
    }
    assert_random_tags(&t, &tags);
}

/// An INIT with IPv4 and IPv6 addresses, Cookie Preservative, Supported
/// Address Types and ECN Capable is accepted, and every listed address
/// becomes a peer address (RFC 9260 §3.3.2.1, §5.1.2).
#[test]
fn sctp_as_v_1_6_1() {
    let mut t = Tester::server();
    let v6: IpAddr = "fd00::2".parse().unwrap();
    let params = vec![
        Param::from_address(tester_addr().ip()),
        Param::from_address(v6),
        Param::CookiePreservative(5_000),
        Param::SupportedAddressTypes(vec![ParamType::IPV4_ADDRESS, ParamType::IPV6_ADDRESS]),
        Param::EcnCapable,
    ];
    // T -> INIT (IPv4, IPv6, Cookie Preservative, Supported Address Types, ECN) -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init_with(0x1610_0001, params));
    assert!(ack.state_cookie().is_some());
    assert_eq!(reported_in(&ack), [], "nothing to report");
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    let reply = echo_cookie(&mut t, &ack);
    assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
    let (_, up) = up(&mut t);
    assert_eq!(ips(&up), [tester_addr().ip(), v6]);
}

/// As client the IUT accepts an INIT ACK with IPv4 and IPv6 addresses, sends
/// COOKIE ECHO and takes every listed address as a peer address
/// (RFC 9260 §3.3.3, §5.1.2).
#[test]
fn sctp_as_v_1_6_2() {
    let (mut t, id) = client();
    let v6: IpAddr = "fd00::2".parse().unwrap();
    let addresses = vec![
        Param::from_address(tester_addr().ip()),
        Param::from_address(v6),
    ];
    // IUT -> INIT -> T
    // T -> INIT ACK (IPv4, IPv6) -> IUT
    let (ours, cookie) = answer_init(&mut t, 0x1620_0001, addresses);
    // IUT -> COOKIE ECHO -> T
    let echo = t.sent_one();
    assert_eq!(echo.vtag(), 0x1620_0001);
    assert_eq!(echo.packet.chunks, [cookie_echo(&cookie)]);
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    let (up_id, up) = up(&mut t);
    assert_eq!(up_id, id);
    assert_eq!(ips(&up), [tester_addr().ip(), v6]);
}

/// As server wanting 2 outbound streams, the IUT offers and uses only the 1
/// inbound stream the peer allows (RFC 9260 §3.3.3, §5.1.1).
#[test]
fn sctp_as_v_1_7_1() {
    let one_in = Init {
        inbound_streams: 1,
        ..init(0x1710_0001)
    };
    // T -> INIT (MIS 1) -> IUT
    // IUT -> INIT ACK (OS 1) -> T
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    let (ack, up, streams) = set_up_as_server(|c| c.outbound_streams = 2, one_in);
    assert_eq!(ack.outbound_streams, 1, "OS may not exceed the INIT's MIS");
    assert_eq!(up.outbound_streams, 1);
    assert_eq!(streams.0, 1);
}

/// An INIT with 0 outbound streams sets up nothing and is answered by an
/// ABORT (Invalid Mandatory Parameter) under its Initiate Tag
/// (RFC 9260 §3.3.2, §3.3.10.7).
#[test]
fn sctp_as_i_1_7_2() {
    let mut t = Tester::server();
    let bad = Init {
        outbound_streams: 0,
        ..init(0x1720_0001)
    };
    // T -> INIT (OS 0) -> IUT
    t.send(0, &[Chunk::Init(bad)]);
    // IUT -> ABORT (Invalid Mandatory Parameter) -> T
    assert_sends_abort(
        &mut t,
        0x1720_0001,
        false,
        &[ErrorCause::InvalidMandatoryParameter],
    );
    assert_eq!(t.iut.association_count(), 0);
    assert!(t.events().is_empty());
}

/// As client wanting 2 outbound streams, the IUT uses only the 1 the peer's
/// INIT ACK allows (RFC 9260 §5.1.1).
#[test]
fn sctp_as_v_1_7_3() {
    let config = Config::default().with_outbound_streams(2);
    let (mut t, id) = client_with(config);
    // IUT -> INIT (OS 2) -> T
    let ours = sent_init(&mut t);
    assert_eq!(ours.outbound_streams, 2);
    // T -> INIT ACK (MIS 1) -> IUT
    let ack = Init {
        inbound_streams: 1,
        ..init_with(0x1730_0001, vec![cookie_param()])
    };
    t.send(ours.initiate_tag, &[Chunk::InitAck(ack)]);
    // IUT -> COOKIE ECHO -> T
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    let (_, up) = up(&mut t);
    assert_eq!(up.outbound_streams, 1);
    assert_eq!(t.iut.association(id).unwrap().streams().0, 1);
}

/// An INIT ACK with 0 outbound streams gets no COOKIE ECHO: the IUT drops
/// the attempt, with at most an ABORT (Invalid Mandatory Parameter), and
/// tells the user (RFC 9260 §3.3.3, §3.3.10.7).
#[test]
fn sctp_as_i_1_7_4() {
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
    // T -> INIT ACK (OS 0) -> IUT
    let ack = Init {
        outbound_streams: 0,
        ..init_with(0x1740_0001, vec![cookie_param()])
    };
    t.send(ours.initiate_tag, &[Chunk::InitAck(ack)]);
    // IUT -> ABORT (Invalid Mandatory Parameter) -> T, or nothing
    for sent in t.sent() {
        assert_abort(
            &sent,
            0x1740_0001,
            false,
            &[ErrorCause::InvalidMandatoryParameter],
        );
    }
    assert_attempt_ended(&mut t, id);
}

/// As server configured for 2 streams each way, the IUT offers 2 in each
/// direction to a peer asking for 2 and 2 (RFC 9260 §5.1.1).
#[test]
fn sctp_as_v_1_7_5() {
    let two = Init {
        outbound_streams: 2,
        inbound_streams: 2,
        ..init(0x1750_0001)
    };
    // T -> INIT (OS 2, MIS 2) -> IUT
    // IUT -> INIT ACK (OS 2, MIS 2) -> T
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    let streams_2_2 = |c: &mut Config| (c.outbound_streams, c.max_inbound_streams) = (2, 2);
    let (ack, up, streams) = set_up_as_server(streams_2_2, two);
    assert_eq!((ack.outbound_streams, ack.inbound_streams), (2, 2));
    assert_eq!((up.outbound_streams, up.inbound_streams), (2, 2));
    assert_eq!(streams, (2, 2));
}

/// Unknown INIT parameters of prefix 11 are skipped and each reported as
/// Unrecognized Parameter in the INIT ACK; setup completes (RFC 9260 §3.2.1).
#[test]
fn sctp_as_i_1_8_1() {
    // T -> INIT (unknown C0C1, C0C2, C0C3, IPv4) -> IUT
    // IUT -> INIT ACK (Unrecognized: C0C1, C0C2, C0C3) -> T
    // T -> COOKIE ECHO -> IUT; IUT -> COOKIE ACK -> T
    unknown_init_parameters(0xC0C2, &[0xC0C1, 0xC0C2, 0xC0C3], true);
}

/// An unknown INIT parameter of prefix 00 stops parameter processing
/// unreported; what came before is still reported (RFC 9260 §3.2.1).
#[test]
fn sctp_as_i_1_8_2() {
    // T -> INIT (unknown C0C1, 00C2, C0C3, IPv4) -> IUT
    // IUT -> INIT ACK (Unrecognized: C0C1) -> T
    // T -> COOKIE ECHO -> IUT; IUT -> COOKIE ACK -> T
    unknown_init_parameters(0x00C2, &[0xC0C1], false);
}

/// An unknown INIT parameter of prefix 01 is reported and stops parameter
/// processing (RFC 9260 §3.2.1).
#[test]
fn sctp_as_i_1_8_3() {
    // T -> INIT (unknown C0C1, 40C2, C0C3, IPv4) -> IUT
    // IUT -> INIT ACK (Unrecognized: C0C1, 40C2) -> T
    // T -> COOKIE ECHO -> IUT; IUT -> COOKIE ACK -> T
    unknown_init_parameters(0x40C2, &[0xC0C1, 0x40C2], false);
}

/// An unknown INIT parameter of prefix 10 is skipped silently and
/// processing goes on (RFC 9260 §3.2.1).
#[test]
fn sctp_as_i_1_8_4() {
    // T -> INIT (unknown C0C1, 80C2, C0C3, IPv4) -> IUT
    // IUT -> INIT ACK (Unrecognized: C0C1, C0C3) -> T
    // T -> COOKIE ECHO -> IUT; IUT -> COOKIE ACK -> T
    unknown_init_parameters(0x80C2, &[0xC0C1, 0xC0C3], true);
}

/// A new INIT from the established peer at its known addresses gets an INIT
/// ACK with a new tag and leaves the association as it was (RFC 9260 §5.2.2).
#[test]
fn sctp_as_o_1_9_1() {
    let (mut t, iut_tag, id) = established(0x1910_0001);
    let again = init_with(0x1910_0002, vec![Param::from_address(tester_addr().ip())]);
    // T -> INIT (new tag, same address) -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, again);
    assert_ne!(ack.initiate_tag, iut_tag, "§5.2.2: a new Initiate Tag");
    assert!(ack.state_cookie().is_some());
    assert!(t.events().is_empty());
    assert_established_and_alive(&mut t, id, iut_tag, 0x1910_0001);
}

/// An INIT adding an address to an established association is refused with
/// an ABORT (Restart of an Association with New Addresses) naming it; the
/// association stays up (RFC 9260 §5.2.2, §3.3.10.11).
#[test]
fn sctp_as_o_1_9_2() {
    let (mut t, iut_tag, id) = established(0x1920_0001);
    let params = vec![
        Param::from_address(tester_addr().ip()),
        Param::Ipv4Address([192, 0, 2, 9].into()),
    ];
    // T -> INIT (new address 192.0.2.9) -> IUT
    t.send(0, &[Chunk::Init(init_with(0x1920_0002, params))]);
    // IUT -> ABORT (Restart with New Addresses) -> T
    assert_sends_abort(
        &mut t,
        0x1920_0002,
        false,
        &[ErrorCause::RestartWithNewAddresses(Bytes::from_static(&[
            0, 5, 0, 8, 192, 0, 2, 9,
        ]))],
    );
    assert!(t.events().is_empty());
    assert_established_and_alive(&mut t, id, iut_tag, 0x1920_0001);
}

/// An INIT without address parameters makes its source the only peer
/// address, and the reply goes there (RFC 9260 §5.1.2 (B)).
#[test]
fn sctp_as_v_1_10_1() {
    // T -> INIT (no addresses) -> IUT
    // IUT -> INIT ACK -> T (to the INIT's source)
    let (mut t, ack) = init_acked(0x1a10_0001);
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    let reply = echo_cookie(&mut t, &ack);
    assert_eq!(reply.to, tester_addr());
    assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
    assert_eq!(up(&mut t).1.peer_addresses, [tester_addr()]);
}

/// An INIT ACK without address parameters makes its source the only peer
/// address; the COOKIE ECHO goes there (RFC 9260 §5.1.2 (B)).
#[test]
fn sctp_as_v_1_10_2() {
    let (mut t, _) = client();
    // IUT -> INIT -> T
    // T -> INIT ACK (no addresses) -> IUT
    let (ours, _) = answer_init(&mut t, 0x1a20_0001, vec![]);
    // IUT -> COOKIE ECHO -> T (to the INIT ACK's source)
    let echo = t.sent_one();
    assert_eq!(echo.to, tester_addr());
    assert!(matches!(echo.only(), Chunk::CookieEcho(_)));
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    assert_eq!(up(&mut t).1.peer_addresses, [tester_addr()]);
}

/// Both IPv4 addresses a multi-homed peer lists in its INIT become peer
/// addresses, and the alternate one is recognised as the peer (RFC 9260
/// §5.1.2 (C)). Sending to the alternate path awaits path management.
#[test]
fn sctp_as_v_1_11_1() {
    let mut t = Tester::server();
    let alternate: IpAddr = [10, 0, 1, 2].into();
    let params = vec![
        Param::from_address(tester_addr().ip()),
        Param::from_address(alternate),
    ];
    // T -> INIT (10.0.0.2, 10.0.1.2) -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init_with(0x1b10_0001, params));
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    // T (from 10.0.1.2) -> HEARTBEAT -> IUT; IUT -> HEARTBEAT ACK -> T
    up_at_both_addresses(&mut t, alternate, ack.initiate_tag, 0x1b10_0001);
}

/// Both addresses a multi-homed peer lists in its INIT ACK become peer
/// addresses, and the alternate one is recognised as the peer (RFC 9260
/// §5.1.2 (C)). Sending to the alternate path awaits path management.
#[test]
fn sctp_as_v_1_11_2() {
    let (mut t, _) = client();
    let alternate: IpAddr = [10, 0, 1, 2].into();
    let addresses = vec![
        Param::from_address(tester_addr().ip()),
        Param::from_address(alternate),
    ];
    // IUT -> INIT -> T
    // T -> INIT ACK (10.0.0.2, 10.0.1.2) -> IUT
    let (ours, _) = answer_init(&mut t, 0x1b20_0001, addresses);
    // IUT -> COOKIE ECHO -> T
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    // T (from 10.0.1.2) -> HEARTBEAT -> IUT; IUT -> HEARTBEAT ACK -> T
    up_at_both_addresses(&mut t, alternate, ours.initiate_tag, 0x1b20_0001);
}

/// An INIT with a Host Name Address is answered with an ABORT carrying
/// Unresolvable Address; nothing is set up (RFC 9260 §3.3.2.1, §5.1.2).
#[test]
fn sctp_as_v_1_12_1() {
    let mut t = Tester::server();
    // T -> INIT (Host Name Address) -> IUT
    let reply = send_init_with_host_name(&mut t, 0x1c10_0001, b"tester.example\0");
    // IUT -> ABORT (Unresolvable Address) -> T
    assert_unresolvable_host_name(&reply, 0x1c10_0001);
    assert_eq!(t.iut.association_count(), 0);
}

/// Connecting to a peer known by two addresses (like `sctp_connectx`),
/// which never answers: the INIT and its retransmissions go to both
/// addresses in turn, each retransmission after the doubled T1-init, until
/// Max.Init.Retransmits; then setup fails (RFC 9260 §5.1, §6.4). An INIT
/// ACK from the second address is accepted.
#[test]
fn sctp_as_i_1_15() {
    let mut t = Tester::with_config(Config::default(), false);
    let second: std::net::IpAddr = "10.0.0.3".parse().unwrap();
    let now = t.now;
    let id = t
        .iut
        .connect_multihomed(now, tester_addr(), &[second], TESTER_PORT)
        .unwrap();
    // IUT -> INIT -> T (first address)
    let first = t.sent_one();
    assert!(matches!(first.only(), Chunk::Init(_)));
    assert_eq!(first.to, tester_addr());
    // T: no answer. IUT -> INIT at 1, 3, 7, ... s, alternating addresses.
    let mut destinations = Vec::new();
    let mut at = Duration::ZERO;
    let mut times = Vec::new();
    for _ in 0..8 {
        let wait = (1u64 << times.len()).min(60);
        t.advance(Duration::from_secs(wait));
        at += Duration::from_secs(wait);
        let sent = t.sent_one();
        assert!(matches!(sent.only(), Chunk::Init(_)), "{sent:?}");
        destinations.push(sent.to.ip());
        times.push(at.as_secs());
    }
    assert_eq!(times, [1, 3, 7, 15, 31, 63, 123, 183]);
    let primary = tester_addr().ip();
    assert_eq!(
        destinations,
        [
            second, primary, second, primary, second, primary, second, primary
        ],
        "each retransmission goes to the next address"
    );
    // Max.Init.Retransmits (8) spent: the next expiry gives up.
    t.quiet_for(Duration::from_secs(60));
    let events = t.events();
    assert!(
        matches!(events[..], [(i, Event::CantStart(AssociationError::InitTimeout))] if i == id),
        "{events:?}"
    );

    // The same start, answered from the second address: accepted.
    let mut t = Tester::with_config(Config::default(), false);
    let now = t.now;
    t.iut
        .connect_multihomed(now, tester_addr(), &[second], TESTER_PORT)
        .unwrap();
    let init = init_of(&t.sent_one());
    t.from = std::net::SocketAddr::new(second, tester_addr().port());
    let ack = Init {
        initiate_tag: 0x1f00_0001,
        a_rwnd: 10_000,
        outbound_streams: 3,
        inbound_streams: 4,
        initial_tsn: Tsn(77),
        params: vec![Param::StateCookie(Bytes::from_static(b"cookie"))],
    };
    t.send(init.initiate_tag, &[Chunk::InitAck(ack)]);
    let echo = t.sent_one();
    assert!(matches!(echo.only(), Chunk::CookieEcho(_)), "{echo:?}");
    assert_eq!(
        echo.to.ip(),
        second,
        "COOKIE ECHO to where the INIT ACK came from"
    );
    assert_eq!(echo.vtag(), 0x1f00_0001);
    assert!(t.events().is_empty());
}

/// An INIT ACK with a Host Name Address gets no COOKIE ECHO but an ABORT
/// with Unresolvable Address, and setup fails (RFC 9260 §3.3.2.1, §5.1.2).
#[test]
fn sctp_as_i_1_12_2() {
    let (mut t, id) = client();
    let name = Param::HostNameAddress(Bytes::from_static(b"tester.example\0"));
    // IUT -> INIT -> T
    // T -> INIT ACK (Host Name Address) -> IUT
    answer_init(&mut t, 0x1c20_0001, vec![name]);
    // IUT -> ABORT (Unresolvable Address) -> T
    let reply = t.sent_one();
    assert_unresolvable_host_name(&reply, 0x1c20_0001);
    assert_attempt_ended(&mut t, id);
}

/// With Supported Address Types {IPv4, IPv6} in the INIT, setup completes
/// and the INIT ACK lists only such addresses; a Host Name entry in the list
/// is ignored (RFC 9260 §3.3.2.1, §5.1.2).
#[test]
fn sctp_as_v_1_13_1() {
    let both = [ParamType::IPV4_ADDRESS, ParamType::IPV6_ADDRESS];
    let with_host_name = [
        ParamType::IPV4_ADDRESS,
        ParamType::IPV6_ADDRESS,
        ParamType::HOST_NAME_ADDRESS,
    ];
    for (i, types) in [&both[..], &with_host_name[..]].into_iter().enumerate() {
        let mut t = Tester::server();
        t.iut.set_local_addresses(vec![
            "10.0.0.1".parse().unwrap(),
            "fd00::1".parse().unwrap(),
        ]);
        let params = vec![
            Param::SupportedAddressTypes(types.to_vec()),
            Param::Padding(Bytes::from(vec![0; 64])),
        ];
        // T -> INIT (Supported Address Types) -> IUT
        // IUT -> INIT ACK -> T
        let ack = send_init(&mut t, init_with(0x1d10_0001 + i as u32, params));
        assert!(
            ack.params
                .iter()
                .filter(|p| p.address().is_some())
                .all(|p| types.contains(&p.param_type())),
            "{types:?}: {:?}",
            ack.params
        );
        // T -> COOKIE ECHO -> IUT
        // IUT -> COOKIE ACK -> T
        assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
        up(&mut t);
    }
}

/// An INIT sent over IPv4 whose Supported Address Types lists only IPv6 is
/// accepted without error, IPv4 counting as supported too (RFC 9260 §5.1.2,
/// last implementation note).
#[test]
fn sctp_as_i_1_13_2() {
    let mut t = Tester::server();
    let v4: IpAddr = "10.0.0.1".parse().unwrap();
    t.iut
        .set_local_addresses(vec![v4, "fd00::1".parse().unwrap()]);
    let params = vec![
        Param::SupportedAddressTypes(vec![ParamType::IPV6_ADDRESS]),
        Param::Padding(Bytes::from(vec![0; 64])),
    ];
    // T -> INIT over IPv4 (Supported Address Types: IPv6) -> IUT
    // IUT -> INIT ACK -> T (no ABORT, no ERROR)
    let ack = send_init(&mut t, init_with(0x1d20_0001, params));
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    up(&mut t);
    let advertised: Vec<IpAddr> = ack.params.iter().filter_map(Param::address).collect();
    assert!(
        advertised.contains(&v4),
        "IPv4, the INIT's own family, counts as supported: {advertised:?}"
    );
}

/// An INIT with Initiate Tag 0 is discarded silently, no ABORT; a valid INIT
/// afterwards is answered (RFC 9260 §3.3.2).
#[test]
fn sctp_as_i_1_14_1() {
    let mut t = Tester::server();
    // T -> INIT (Initiate Tag 0) -> IUT
    t.send(0, &[Chunk::Init(init(0))]);
    // IUT: nothing
    assert_nothing_set_up(&mut t);
    assert!(t.events().is_empty());
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    send_init(&mut t, init(0x1e10_0001));
}

/// An INIT ACK with Initiate Tag 0 gets no COOKIE ECHO: the IUT drops the
/// attempt (an ABORT is allowed, its tag reflected) and tells the user
/// (RFC 9260 §3.3.3).
#[test]
fn sctp_as_i_1_14_2() {
    // IUT -> INIT -> T
    let (mut t, id, ours) = client_init();
    // T -> INIT ACK (Initiate Tag 0) -> IUT
    t.send(
        ours.initiate_tag,
        &[tester_init_ack(0, vec![cookie_param()])],
    );
    // IUT -> ABORT (T bit, Invalid Mandatory Parameter) -> T, or nothing
    for sent in t.sent() {
        assert_abort(
            &sent,
            ours.initiate_tag,
            true,
            &[ErrorCause::InvalidMandatoryParameter],
        );
    }
    assert_attempt_ended(&mut t, id);
}
