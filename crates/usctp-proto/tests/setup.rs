//! RFC 9260 §5.1: setting up an association, server side and client
//! side; what goes in the INIT and INIT ACK (§3.3.2, §3.3.3, §5.1.2) and in
//! the State Cookie (§5.1.3, §5.1.5); played with raw packets against the
//! sans-IO endpoint.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use support::*;
use usctp_proto::association::{AssociationError, AssociationState, Event};
use usctp_proto::chunk::{Chunk, ErrorCause, Init, Param, ParamType};
use usctp_proto::config::Config;
use usctp_proto::endpoint::ConnectOptions;

/// An INIT ACK parameter of unknown type 0xC0DE (upper bits 11: skip and
/// report) with the value "ab".
const C0DE_AB: Param = Param::Unknown {
    param_type: ParamType(0xC0DE),
    value: Bytes::from_static(b"ab"),
};

// ---- server side ----

#[test]
fn init_is_answered_with_init_ack_and_no_state_is_kept() {
    // §5.1 (B): A -> INIT -> Z; Z -> INIT ACK -> A, from the INIT alone.
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0xa1a1))]);
    let sent = t.sent_one();
    assert_eq!(sent.to, tester_addr(), "reply goes to the INIT's source");
    assert_eq!(sent.vtag(), 0xa1a1, "INIT ACK carries the INIT's tag");
    assert_ports(&sent);
    let ack = init_ack_of(&sent);
    assert_ne!(ack.initiate_tag, 0);
    // §5.1.1: streams are offered up to the peer's MIS.
    assert_eq!(ack.outbound_streams, 5);
    assert!(ack.state_cookie().is_some());
    assert_eq!(t.iut.association_count(), 0);
    assert_eq!(t.iut.peer_table_len(), 0);
    assert!(t.events().is_empty());
}

#[test]
fn valid_cookie_echo_creates_the_association_and_gets_cookie_ack() {
    // §5.1 (D): A -> COOKIE ECHO -> Z; Z -> COOKIE ACK -> A; Z is up.
    let (mut t, ack) = init_acked(0xb2b2);
    let reply = echo_cookie(&mut t, &ack);
    assert_eq!(reply.vtag(), 0xb2b2);
    assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
    let events = t.events();
    let [(id, Event::Up(up))] = &events[..] else {
        panic!("{events:?}")
    };
    // Negotiated: min(IUT outbound 10, peer MIS 5), min(IUT MIS, peer OS 5).
    assert_eq!((up.outbound_streams, up.inbound_streams), (5, 5));
    assert_eq!(up.peer_addresses, [tester_addr()]);
    let assoc = t.iut.association(*id).unwrap();
    assert_eq!(assoc.state(), AssociationState::Established);
    assert_eq!(assoc.peer_tag(), 0xb2b2);
    assert_eq!(assoc.local_tag(), ack.initiate_tag);
}

#[test]
fn chunks_bundled_after_cookie_echo_are_processed() {
    // §5.1 (D): DATA and control chunks may follow the COOKIE ECHO; here a
    // HEARTBEAT, whose ACK is bundled after the COOKIE ACK.
    let (mut t, ack) = init_acked(0xc3c3);
    let cookie = ack.state_cookie().unwrap();
    t.send(
        ack.initiate_tag,
        &[cookie_echo(cookie), heartbeat(b"probe")],
    );
    let reply = t.sent_one();
    assert_eq!(
        reply.packet.chunks,
        [Chunk::CookieAck, heartbeat_ack(b"probe")]
    );
}

#[test]
fn init_with_initiate_tag_zero_is_discarded_silently() {
    // RFC 9260 §3.3.2 (RFC 4960 answered with ABORT).
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0))]);
    t.sent_nothing();
}

#[test]
fn init_with_zero_streams_gets_abort_invalid_mandatory_parameter() {
    // §3.3.2: OS or MIS of 0.
    for bad in zero_stream_inits(0x1234) {
        let mut t = Tester::server();
        t.send(0, &[Chunk::Init(bad)]);
        let invalid = [ErrorCause::InvalidMandatoryParameter];
        assert_abort(&t.sent_one(), 0x1234, false, &invalid);
    }
}

/// RFC 9260 §3.3.2: an INIT advertising a window below 1500 bytes is not
/// acted on: it draws only an ABORT (invalid mandatory parameter, under its
/// Initiate Tag), sets nothing up, and leaves an association with that
/// peer as it was. 1500 itself is taken.
#[test]
fn init_with_a_window_below_1500_is_refused() {
    let with_window = |tag, a_rwnd| Init {
        a_rwnd,
        ..init(tag)
    };
    let refused = |t: &mut Tester, tag| {
        let reply = t.sent_one();
        assert_eq!(reply.vtag(), tag);
        assert!(
            matches!(reply.only(), Chunk::Abort(a)
                if a.causes == [ErrorCause::InvalidMandatoryParameter]),
            "{reply:?}"
        );
    };
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(with_window(0x4949_0001, 1499))]);
    refused(&mut t, 0x4949_0001);
    assert_eq!(t.iut.association_count(), 0);
    let ack = send_init(&mut t, with_window(0x4949_0002, 1500));
    assert_ne!(ack.initiate_tag, 0);

    let (iut_tag, id) = t.establish(0x4949_0003);
    t.send(0, &[Chunk::Init(with_window(0x4949_0004, 1000))]);
    refused(&mut t, 0x4949_0004);
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::Established);
    assert_eq!(
        (assoc.local_tag(), assoc.peer_tag()),
        (iut_tag, 0x4949_0003)
    );
    assert_eq!(assoc.peer_rwnd(), init(0).a_rwnd);
    assert!(t.events().is_empty());
    assert_eq!(t.iut.association_count(), 1);
}

#[test]
fn init_with_host_name_address_gets_unresolvable_address() {
    // §5.1.2: host names are not resolved; the ABORT names the parameter.
    let mut t = Tester::server();
    let reply = send_init_with_host_name(&mut t, 0x2345, b"example.org\0");
    let p = assert_unresolvable_host_name(&reply, 0x2345);
    assert_eq!(&p[..4], &[0, 11, 0, 16]);
    assert_eq!(&p[4..], b"example.org\0");
}

#[test]
fn unknown_init_parameters_follow_their_upper_bits() {
    // §3.2.1: 00 stop, 01 stop and report, 10 skip, 11 skip and report.
    // Reports come back as Unrecognized Parameter in the INIT ACK.
    let mut t = Tester::server();
    let params = vec![
        unknown_param(0x8123),
        unknown_param(0xC124),
        unknown_param(0x4125),
        unknown_param(0xC126),
    ];
    let ack = send_init(&mut t, init_with(0x3456, params));
    let reported: Vec<Bytes> = ack
        .params
        .iter()
        .filter_map(|p| match p {
            Param::UnrecognizedParameter(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    // 0x8123 skipped silently; 0xC124 reported; 0x4125 reported and stops;
    // 0xC126 after it is never looked at.
    assert_eq!(
        reported,
        [
            Bytes::from_static(&[0xC1, 0x24, 0, 7, b'x', b'y', b'z']),
            Bytes::from_static(&[0x41, 0x25, 0, 7, b'x', b'y', b'z']),
        ]
    );

    let mut t = Tester::server();
    let ack = send_init(&mut t, init_with(0x3457, vec![unknown_param(0x0001)]));
    assert!(
        !ack.params
            .iter()
            .any(|p| matches!(p, Param::UnrecognizedParameter(_)))
    );
}

#[test]
fn supported_address_types_limit_the_advertised_addresses() {
    // §5.1.2 (B): answer only with address types the peer accepts; the
    // family the INIT came over counts as accepted even when unlisted.
    for (listed, expected) in [
        (ParamType::IPV4_ADDRESS, vec!["10.0.0.1"]),
        (ParamType::IPV6_ADDRESS, vec!["10.0.0.1", "fd00::1"]),
    ] {
        let mut t = Tester::server();
        t.iut.set_local_addresses(vec![
            "10.0.0.1".parse().unwrap(),
            "fd00::1".parse().unwrap(),
        ]);
        let types = Param::SupportedAddressTypes(vec![listed]);
        // A larger INIT, so both addresses would fit the reply budget.
        let pad = Param::Padding(Bytes::from(vec![0; 64]));
        let ack = send_init(&mut t, init_with(0x4567, vec![types, pad]));
        let addrs: Vec<std::net::IpAddr> = ack.params.iter().filter_map(Param::address).collect();
        let expected: Vec<std::net::IpAddr> = expected.iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(addrs, expected, "{listed}");
    }
}

/// RFC 9260 §3.3.2, §3.3.2.1.4, §3.3.2.1.5, §3.3.3, §3.3.3.1: the IUT's
/// INIT and INIT ACK never carry a Host Name Address, nor a Supported
/// Address Types naming that type.
#[test]
fn own_init_and_init_ack_carry_no_host_name() {
    let no_host_name = |params: &[Param]| {
        assert!(
            params.iter().all(|p| match p {
                Param::HostNameAddress(_) => false,
                Param::SupportedAddressTypes(types) =>
                    !types.contains(&ParamType::HOST_NAME_ADDRESS),
                _ => true,
            }),
            "{params:?}"
        );
    };
    let addresses: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()];
    let mut t = Tester::with_config(Config::default(), false);
    t.iut.set_local_addresses(addresses.clone());
    t.connect();
    let ours = init_of(&t.sent_one());
    no_host_name(&ours.params);
    assert_eq!(ours.params.iter().filter_map(Param::address).count(), 2);

    let mut t = Tester::server();
    t.iut.set_local_addresses(addresses);
    let pad = Param::Padding(Bytes::from(vec![0; 64]));
    let ack = send_init(&mut t, init_with(0x3131_0001, vec![pad]));
    no_host_name(&ack.params);
    assert_eq!(ack.params.iter().filter_map(Param::address).count(), 2);
}

/// RFC 9260 §3.3.2.1.2: a local IPv4 address given as an IPv4-mapped IPv6
/// address is advertised in an IPv4 Address parameter, in the INIT and in
/// the INIT ACK.
#[test]
fn ipv4_mapped_local_addresses_are_advertised_as_ipv4() {
    let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
    let v6: IpAddr = "fd00::1".parse().unwrap();
    // `with_v6`: whether `v6` fits (an INIT ACK to an unknown peer is at
    // most four times its INIT, and the tester's bare INIT leaves room for
    // the cookie and one IPv4 address only).
    let advertised = |params: &[Param], with_v6: bool| {
        let listed: Vec<IpAddr> = params.iter().filter_map(Param::address).collect();
        assert!(
            !params.iter().any(|p| matches!(p, Param::Ipv6Address(a)
                if a.to_ipv4_mapped().is_some())),
            "{params:?}"
        );
        assert!(
            params.iter().any(
                |p| matches!(p, Param::Ipv4Address(a) if *a == std::net::Ipv4Addr::new(10, 0, 0, 1))
            ),
            "{params:?}"
        );
        assert_eq!(listed.contains(&v6), with_v6, "{params:?}");
    };
    let mut t = Tester::with_config(Config::default(), false);
    t.iut.set_local_addresses(vec![mapped, v6]);
    t.connect();
    advertised(&init_of(&t.sent_one()).params, true);

    let mut t = Tester::server();
    t.iut.set_local_addresses(vec![mapped, v6]);
    advertised(&send_init(&mut t, init(0x5252_0001)).params, false);
}

#[test]
fn init_ack_is_at_most_four_times_the_init() {
    // No amplification: a minimal 32-byte INIT, and usrsctp's 216-byte one.
    let mut t = Tester::server();
    t.iut.set_local_addresses(vec![
        "10.0.0.1".parse().unwrap(),
        "10.0.0.3".parse().unwrap(),
        "fd00::1".parse().unwrap(),
    ]);
    let minimal = packet(TESTER_PORT, IUT_PORT, 0, &[Chunk::Init(init(0x5678))]);
    assert_eq!(minimal.len(), 32);
    t.send_raw(minimal);
    let reply = t.sent_one();
    eprintln!(
        "minimal INIT: 32 bytes in, INIT ACK {} bytes out",
        reply.size
    );
    assert!(reply.size <= 4 * 32, "INIT ACK of {} bytes", reply.size);
    assert!(init_ack_of(&reply).state_cookie().is_some());

    let usrsctp = usrsctp_init();
    let len = usrsctp.len();
    t.send_raw(usrsctp);
    let reply = t.sent_one();
    eprintln!(
        "usrsctp INIT: {len} bytes in, INIT ACK {} bytes out",
        reply.size
    );
    assert!(
        reply.size <= 4 * len,
        "INIT ACK of {} bytes for {len}",
        reply.size
    );
    // Room enough here for every address.
    assert_eq!(
        init_ack_of(&reply)
            .params
            .iter()
            .filter_map(Param::address)
            .count(),
        3
    );
}

/// usrsctp's INIT, readdressed to the IUT's port: the first datagram of
/// `testdata/daytime.pcap`, as `usctp decode` reads it.
fn usrsctp_init() -> Vec<u8> {
    let bytes = include_bytes!("../../../testdata/usrsctp-init.bin");
    let packet = usctp_proto::chunk::Packet::parse(bytes::Bytes::from_static(bytes)).unwrap();
    self::packet(TESTER_PORT, IUT_PORT, 0, &packet.chunks)
}

#[test]
fn a_flood_of_inits_leaves_no_state() {
    // 100,000 INITs from distinct sources: each is answered (or, past the
    // reply queue, dropped), and the endpoint holds nothing afterwards.
    let mut t = Tester::server();
    let mut answered = 0;
    for i in 0..100_000u32 {
        t.from = std::net::SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 9899));
        t.send(0, &[Chunk::Init(init(i + 1))]);
        if i % 100 == 99 {
            answered += t.sent().len();
        }
    }
    answered += t.sent().len();
    assert_eq!(answered, 100_000);
    assert_eq!(t.iut.association_count(), 0);
    assert_eq!(t.iut.peer_table_len(), 0);
    assert_eq!(t.iut.stats().init_acks_sent, 100_000);
}

// ---- the State Cookie ----

#[test]
fn forged_or_truncated_cookie_is_discarded_silently() {
    // §5.1.5 step 2.
    let (mut t, ack) = init_acked(0xd4d4);
    let cookie = ack.state_cookie().unwrap().clone();
    for i in 0..cookie.len() {
        let mut forged = cookie.to_vec();
        forged[i] ^= 0x01;
        t.send(ack.initiate_tag, &[cookie_echo(&Bytes::from(forged))]);
        t.send(ack.initiate_tag, &[cookie_echo(&cookie.slice(..i))]);
    }
    assert_nothing_set_up(&mut t);
}

#[test]
fn cookie_echo_with_a_tag_other_than_the_cookies_is_discarded() {
    // §8.5.1 (D).
    let (mut t, ack) = init_acked(0xe5e5);
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(ack.initiate_tag ^ 1, &[cookie_echo(&cookie)]);
    assert_nothing_set_up(&mut t);
}

#[test]
fn stale_cookie_gets_error_with_staleness() {
    // §5.1.5 step 3 and §3.3.10.3: the measure is in microseconds, the
    // ERROR carries the peer's tag from the cookie.
    let (mut t, ack) = init_acked(0xf6f6);
    t.advance(Duration::from_millis(60_000 + 250));
    let reply = echo_cookie(&mut t, &ack);
    assert_eq!(reply.vtag(), 0xf6f6);
    let Chunk::Error(e) = reply.only() else {
        panic!("expected ERROR")
    };
    assert_eq!(
        e.causes,
        [ErrorCause::StaleCookie {
            staleness_us: 250_000
        }]
    );
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn cookie_preservative_extends_the_lifespan_within_the_bound() {
    // §5.1.3: the receiver may honour the increment; the bound is
    // Config::max_cookie_preservative (60 s by default).
    let mut t = Tester::server();
    let ack = send_init(
        &mut t,
        init_with(0x7070, vec![Param::CookiePreservative(10_000)]),
    );
    t.advance(Duration::from_millis(69_000));
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);

    let mut t = Tester::server();
    let ack = send_init(
        &mut t,
        init_with(0x7171, vec![Param::CookiePreservative(u32::MAX)]),
    );
    t.advance(Duration::from_millis(120_001));
    assert!(matches!(echo_cookie(&mut t, &ack).only(), Chunk::Error(_)));
}

#[test]
fn cookie_sealed_before_one_key_rotation_opens_but_not_after_two() {
    // §5.1.3: the cookie key changes every `cookie_key_rotation`; the
    // previous key stays good for one more interval.
    let config = Config::default().with_cookie_key_rotation(Duration::from_secs(10));
    for (wait, opens) in [(15, true), (26, false)] {
        let mut t = Tester::with_config(config.clone(), true);
        let ack = send_init(&mut t, init(0x5151));
        let cookie = ack.state_cookie().unwrap().clone();
        // Rotations happen as time passes through the endpoint.
        for _ in 0..wait {
            t.advance(Duration::from_secs(1));
        }
        t.send(ack.initiate_tag, &[cookie_echo(&cookie)]);
        if opens {
            assert_eq!(t.sent_one().packet.chunks, [Chunk::CookieAck]);
        } else {
            assert_nothing_set_up(&mut t);
        }
    }
}

/// RFC 9260 §3.3.3.1.1, §5.1.3, §5.2.2: the State Cookie holds what the
/// association needs (tags, TSNs, ports, streams, addresses); an INIT in
/// CLOSED gets tie-tags 0, one for an established association gets the
/// association's tie-tags (the same for every such INIT, not the tags).
#[test]
fn cookie_holds_the_association_and_the_right_tie_tags() {
    let (mut t, ack) = init_acked(0x3939_0001);
    let fresh = open_cookie(ack.state_cookie().unwrap());
    assert_eq!((fresh.local_tie_tag, fresh.peer_tie_tag), (0, 0));
    assert_eq!(
        (fresh.local_tag, fresh.peer_tag),
        (ack.initiate_tag, 0x3939_0001)
    );
    assert_eq!(
        (fresh.local_initial_tsn, fresh.peer_initial_tsn),
        (ack.initial_tsn, init(1).initial_tsn)
    );
    assert_eq!((fresh.local_port, fresh.peer_port), (IUT_PORT, TESTER_PORT));
    assert_eq!(fresh.outbound_streams, ack.outbound_streams);
    assert_eq!(fresh.peer_addresses, [tester_addr().ip()]);

    let (iut_tag, _) = t.establish(0x3939_0002);
    let mut ties = Vec::new();
    for tag in [0x3939_0003, 0x3939_0004] {
        let ack = send_init(&mut t, init(tag));
        let c = open_cookie(ack.state_cookie().unwrap());
        assert_ne!(c.local_tie_tag, 0);
        assert_ne!(c.peer_tie_tag, 0);
        assert_ne!(c.local_tie_tag, iut_tag, "tie-tags are not the tags");
        assert_ne!(c.peer_tie_tag, 0x3939_0002);
        ties.push((c.local_tie_tag, c.peer_tie_tag));
    }
    assert_eq!(ties[0], ties[1], "the association's tie-tags");
}

// ---- client side ----

#[test]
fn connect_sends_init_and_retransmits_it_with_backoff() {
    // §5.1 (A) and §6.3.3 E2: T1-init doubles up to RTO.Max, then
    // Max.Init.Retransmits (8) ends the attempt.
    let (mut t, id) = client();
    let first = t.sent_one();
    assert_eq!(first.vtag(), 0);
    assert_eq!(first.to, tester_addr());
    let Chunk::Init(sent_init) = first.only().clone() else {
        panic!("expected INIT")
    };
    assert_ne!(sent_init.initiate_tag, 0);
    let mut rto = Duration::from_secs(1);
    for _ in 0..8 {
        t.quiet_for(rto - Duration::from_millis(1));
        t.advance(Duration::from_millis(1));
        assert_eq!(t.sent_one().only(), &Chunk::Init(sent_init.clone()));
        rto = (rto * 2).min(Duration::from_secs(60));
    }
    t.quiet_for(rto);
    assert_cant_start(&mut t, id, AssociationError::InitTimeout);
}

/// RFC 9260 §3.3.2: each optional parameter of the IUT's INIT appears once,
/// also after Stale Cookie errors made it ask for more cookie life.
#[test]
fn init_repeats_no_parameter() {
    let mut t = Tester::with_config(Config::default(), false);
    t.iut.set_local_addresses(vec![
        "10.0.0.1".parse().unwrap(),
        "10.0.0.3".parse().unwrap(),
    ]);
    t.connect();
    let mut sent = init_of(&t.sent_one());
    for _ in 0..2 {
        let ack = Init {
            params: vec![Param::StateCookie(Bytes::from_static(b"c"))],
            ..init(0x3232_0001)
        };
        t.send(sent.initiate_tag, &[Chunk::InitAck(ack)]);
        assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
        t.send(sent.initiate_tag, &[stale_cookie(10_000)]);
        sent = init_of(&t.sent_one());
        let mut seen = Vec::new();
        for p in &sent.params {
            assert!(!seen.contains(p), "{p:?} twice in {:?}", sent.params);
            seen.push(p.clone());
        }
        let preservatives = sent
            .params
            .iter()
            .filter(|p| matches!(p, Param::CookiePreservative(_)))
            .count();
        assert_eq!(preservatives, 1, "{:?}", sent.params);
    }
}

#[test]
fn init_ack_leads_to_cookie_echo_and_cookie_ack_brings_the_association_up() {
    // §5.1 (C) and (E).
    let (mut t, id, sent, _) = cookie_echoed(0x9999);
    assert_eq!(state(&t, id), Some(AssociationState::CookieEchoed));
    t.send(sent.initiate_tag, &[Chunk::CookieAck]);
    let events = t.events();
    let [(_, Event::Up(up))] = &events[..] else {
        panic!("{events:?}")
    };
    // min(our OS 10, peer MIS 4), min(our MIS 2048, peer OS 3).
    assert_eq!((up.outbound_streams, up.inbound_streams), (4, 3));
}

/// RFC 9260 §3.2.2, §3.3.11, §5.1 (C): in COOKIE-ECHOED the IUT sends the
/// COOKIE ECHO first in its packet and nothing else until the COOKIE ACK:
/// no DATA (the user cannot send yet), no HEARTBEAT.
#[test]
fn cookie_echo_goes_first_and_nothing_else_until_the_cookie_ack() {
    let (mut t, id) = client();
    let (ours, _) = answer_init(&mut t, 0x3636_0001, vec![C0DE_AB]);
    let first = t.sent_one();
    assert!(matches!(
        first.packet.chunks[..],
        [Chunk::CookieEcho(_), Chunk::Error(_)]
    ));
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert!(
        assoc
            .send(0, 0, Bytes::from_static(b"early"), false)
            .is_err()
    );
    let mut seen = 0;
    for _ in 0..40 {
        t.advance(Duration::from_millis(100));
        for sent in t.sent() {
            assert!(
                matches!(sent.packet.chunks.first(), Some(Chunk::CookieEcho(_))),
                "{sent:?}"
            );
            assert!(
                sent.packet
                    .chunks
                    .iter()
                    .all(|c| matches!(c, Chunk::CookieEcho(_) | Chunk::Error(_))),
                "{sent:?}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 2, "the COOKIE ECHO is retransmitted");
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    assert!(matches!(t.events()[..], [(_, Event::Up(_))]));
}

#[test]
fn cookie_echo_is_retransmitted_then_the_attempt_fails() {
    let (mut t, id, _, echo) = cookie_echoed(0x9999);
    let mut rto = Duration::from_secs(1);
    for _ in 0..8 {
        t.advance(rto);
        assert_eq!(t.sent_one().packet.chunks, echo.packet.chunks);
        rto = (rto * 2).min(Duration::from_secs(60));
    }
    t.advance(rto);
    assert_eq!(
        t.events(),
        [(id, Event::CantStart(AssociationError::CookieTimeout))]
    );
}

#[test]
fn init_ack_without_cookie_is_aborted_with_missing_mandatory_parameter() {
    // §3.3.3: the State Cookie is mandatory.
    let (mut t, id) = client();
    let sent = init_of(&t.sent_one());
    let ack = Init {
        params: vec![],
        ..init(0x8888)
    };
    t.send(sent.initiate_tag, &[Chunk::InitAck(ack)]);
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), 0x8888);
    let cause = ErrorCause::MissingMandatoryParameter(vec![ParamType::STATE_COOKIE]);
    assert!(matches!(reply.only(), Chunk::Abort(a) if a.causes == [cause.clone()]));
    assert_eq!(
        t.events(),
        [(
            id,
            Event::CantStart(AssociationError::InvalidInitAck(vec![cause]))
        )]
    );
}

/// RFC 9260 §3.3.3: an INIT ACK with 0 inbound streams ends the attempt in
/// COOKIE-WAIT: no COOKIE ECHO, the association is gone, the user is told.
#[test]
fn init_ack_with_zero_inbound_streams_ends_the_attempt() {
    let (mut t, id) = client();
    let ours = init_of(&t.sent_one());
    let ack = Init {
        inbound_streams: 0,
        ..init_with(
            0x3434_0001,
            vec![Param::StateCookie(Bytes::from_static(b"c"))],
        )
    };
    t.send(ours.initiate_tag, &[Chunk::InitAck(ack)]);
    for sent in t.sent() {
        assert!(matches!(sent.only(), Chunk::Abort(_)), "{sent:?}");
    }
    assert_attempt_ended(&mut t, id);
}

/// RFC 9260 §3.3.3 (as corrected by erratum 7148): an INIT ACK advertising
/// a window below 1500 bytes is not acted on: no COOKIE ECHO, no move to
/// COOKIE-ECHOED; in COOKIE-WAIT the attempt ends with an ABORT under the
/// INIT ACK's tag, and in COOKIE-ECHOED it changes nothing.
#[test]
fn init_ack_with_a_window_below_1500_is_not_acted_on() {
    let small = |tag| Init {
        a_rwnd: 1499,
        ..init_with(tag, vec![Param::StateCookie(Bytes::from_static(b"c"))])
    };
    let (mut t, id) = client();
    let ours = init_of(&t.sent_one());
    t.send(ours.initiate_tag, &[Chunk::InitAck(small(0x5050_0001))]);
    let sent = t.sent();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].vtag(), 0x5050_0001);
    assert!(
        matches!(sent[0].only(), Chunk::Abort(a)
            if a.causes == [ErrorCause::InvalidMandatoryParameter]),
        "{sent:?}"
    );
    assert!(matches!(t.events()[..], [(i, Event::CantStart(_))] if i == id));
    assert!(t.iut.association(id).is_none());
    t.quiet_for(Duration::from_secs(3));

    // In COOKIE-ECHOED another such INIT ACK is ignored.
    let (mut t, id, ours, echo) = cookie_echoed(0x5050_0002);
    t.send(ours.initiate_tag, &[Chunk::InitAck(small(0x5050_0003))]);
    t.sent_nothing();
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::CookieEchoed);
    assert_eq!(assoc.peer_tag(), 0x5050_0002);
    t.advance(Duration::from_secs(1));
    assert_eq!(t.sent_one().packet.chunks, echo.packet.chunks);
}

#[test]
fn unrecognized_init_ack_parameters_are_reported_after_cookie_echo() {
    // §3.2.1: an ERROR with Unrecognized Parameters, bundled with (after)
    // the COOKIE ECHO.
    let (mut t, _) = client();
    answer_init(&mut t, 0x7777, vec![C0DE_AB]);
    let sent = t.sent_one();
    let [Chunk::CookieEcho(_), Chunk::Error(e)] = &sent.packet.chunks[..] else {
        panic!("{:?}", sent.packet.chunks)
    };
    assert_eq!(
        e.causes,
        [ErrorCause::UnrecognizedParameters(Bytes::from_static(&[
            0xC0, 0xDE, 0, 6, b'a', b'b'
        ]))]
    );
}

/// RFC 9260 §3.3.3 (implementation note): an INIT ACK larger than 1500
/// bytes (here for its address list) is taken and answered.
#[test]
fn a_large_init_ack_is_taken() {
    let (mut t, id) = client();
    let ours = init_of(&t.sent_one());
    let mut params: Vec<Param> = (0..200u8)
        .map(|i| Param::from_address(IpAddr::from([10, 7, 0, i])))
        .collect();
    params.push(Param::StateCookie(Bytes::from_static(b"cookie")));
    let ack = init_with(0x3535_0001, params);
    let bytes = tester_packet(ours.initiate_tag, &[Chunk::InitAck(ack)]);
    assert!(bytes.len() > 1500);
    t.send_raw(bytes);
    let echo = t.sent_one();
    assert_eq!(echo.vtag(), 0x3535_0001);
    assert_eq!(
        echo.packet.chunks,
        [cookie_echo(&Bytes::from_static(b"cookie"))]
    );
    assert_eq!(state(&t, id), Some(AssociationState::CookieEchoed));
}

/// RFC 9260 §3.3.3: a State Cookie larger than this end's packets (3000
/// bytes against 1200) is echoed exactly, alone in a packet as large as it
/// needs, also when T1-cookie sends it again; the COOKIE ACK sets the
/// association up.
#[test]
fn a_cookie_larger_than_a_packet_is_echoed_whole() {
    let (mut t, id) = client();
    let ours = init_of(&t.sent_one());
    let cookie = Bytes::from((0..3000u32).map(|i| (i * 7) as u8).collect::<Vec<u8>>());
    let ack = init_with(0x5353_0001, vec![Param::StateCookie(cookie.clone())]);
    t.send(ours.initiate_tag, &[Chunk::InitAck(ack)]);
    let expected = [cookie_echo(&cookie)];
    let echo = t.sent_one();
    assert_eq!(echo.vtag(), 0x5353_0001);
    assert_eq!(echo.packet.chunks, expected);
    assert_eq!(echo.size, 12 + 4 + 3000);
    assert!(echo.size > Config::default().max_packet_size);
    assert_eq!(state(&t, id), Some(AssociationState::CookieEchoed));
    t.advance(Duration::from_secs(1));
    assert_eq!(t.sent_one().packet.chunks, expected);
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    assert!(matches!(t.events()[..], [(i, Event::Up(_))] if i == id));
}

#[test]
fn stale_cookie_error_restarts_with_a_cookie_preservative() {
    // §5.2.6: back to COOKIE-WAIT with a new INIT asking for more time;
    // bounded retries.
    let (mut t, id, sent, _) = cookie_echoed(0x6666);
    for attempt in 0..3 {
        t.send(sent.initiate_tag, &[stale_cookie(3_000_000)]);
        let Chunk::Init(again) = t.sent_one().only().clone() else {
            panic!("attempt {attempt}: expected a new INIT")
        };
        assert_eq!(again.initiate_tag, sent.initiate_tag);
        // RTT (0 here) plus at most one second (§5.2.6).
        assert!(again.params.contains(&Param::CookiePreservative(1_000)));
        assert_eq!(state(&t, id), Some(AssociationState::CookieWait));
        let ack = Init {
            params: vec![Param::StateCookie(Bytes::from_static(b"c"))],
            ..init(0x6666)
        };
        t.send(sent.initiate_tag, &[Chunk::InitAck(ack)]);
        t.sent_one();
    }
    t.send(sent.initiate_tag, &[stale_cookie(1)]);
    assert_eq!(
        t.events(),
        [(id, Event::CantStart(AssociationError::StaleCookie))]
    );
}

// ---- protocol parameters ----

/// Protocol parameters per association: one started with its own
/// RTO.Initial retransmits its INIT on that timer, not the endpoint's; a
/// live association takes a smaller send buffer from `set_config`, and
/// contradictory parameters are refused (RFC 9260 §16: "settable per
/// association").
#[test]
fn parameters_can_be_set_per_association() {
    let mut t = Tester::with_config(Config::default(), false);
    let own = Config::default().with_rto_initial(Duration::from_secs(3));
    let now = t.now;
    let id = t
        .iut
        .connect_with(now, tester_addr(), TESTER_PORT, own_config(own))
        .unwrap();
    assert!(matches!(t.sent_one().only(), Chunk::Init(_)));
    t.quiet_for(Duration::from_secs(2));
    t.advance(Duration::from_secs(1));
    assert!(matches!(t.sent_one().only(), Chunk::Init(_)), "T1 at 3 s");
    let bad = Config::default()
        .with_rto_min(Duration::from_secs(5))
        .with_rto_max(Duration::from_secs(2));
    let remote = "10.9.9.9:9899".parse().unwrap();
    let refused = t.iut.connect_with(now, remote, 1, own_config(bad.clone()));
    assert!(refused.is_err());
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert!(assoc.set_config(bad).is_err());

    let (mut t, _, id) = established(0x7070);
    let small = Config::default().with_send_buffer(3000);
    let mut assoc = t.iut.association_mut(id).unwrap();
    assoc.set_config(small).unwrap();
    let message = Bytes::from(vec![1u8; 1000]);
    let mut taken = 0;
    while assoc.send(0, 0, message.clone(), false).is_ok() {
        taken += 1;
    }
    assert_eq!(taken, 3, "the new send buffer holds three messages");
}

/// RFC 9260 §3.3.2, §3.3.3: this end's INIT and INIT ACK never advertise a
/// window below 1500 bytes: such a receive window is refused wherever a
/// configuration is taken, and 1500 goes out as it is.
#[test]
fn own_receive_window_below_1500_is_refused() {
    let window = |bytes| Config::default().with_receive_window(bytes);
    assert!(window(1499).validate().is_err());
    assert_eq!(window(1500).validate(), Ok(()));

    let mut t = Tester::with_config(window(1500), true);
    assert_connect_refused(&mut t, window(1499));
    let now = t.now;
    let id = t
        .iut
        .connect(now, "10.0.0.4:9899".parse().unwrap(), TESTER_PORT)
        .unwrap();
    assert_eq!(init_of(&t.sent_one()).a_rwnd, 1500);
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert!(assoc.set_config(window(1000)).is_err());
    assert_eq!(assoc.config().receive_window, 1500);
    assert_eq!(send_init(&mut t, init(0x5151_0001)).a_rwnd, 1500);
}

/// RFC 9260 §3.3.2, §3.3.3: the endpoint refuses a configuration whose
/// receive window is below 1500 bytes.
#[test]
#[should_panic(expected = "1500")]
fn an_endpoint_with_a_window_below_1500_is_refused() {
    let config = Config::default().with_receive_window(1499);
    Tester::with_config(config, true);
}

/// Connect options that give the association `config` of its own.
fn own_config(config: Config) -> ConnectOptions {
    ConnectOptions::default().with_config(Some(config))
}
