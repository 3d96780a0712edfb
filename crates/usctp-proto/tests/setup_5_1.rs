//! RFC 9260 §5.1: establishing an association, server side and client side,
//! played with raw packets against the sans-IO endpoint.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use usctp_proto::association::{AssociationError, AssociationState, Event};
use usctp_proto::chunk::{Chunk, CookieEcho, ErrorCause, Heartbeat, Init, Param, ParamType};
use usctp_proto::config::Config;

#[track_caller]
fn init_ack(sent: &Sent) -> &Init {
    match sent.only() {
        Chunk::InitAck(ack) => ack,
        other => panic!("expected INIT ACK, got {other:?}"),
    }
}

#[test]
fn init_is_answered_with_init_ack_and_no_state_is_kept() {
    // §5.1 (B): A -> INIT -> Z; Z -> INIT ACK -> A, from the INIT alone.
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0xa1a1))]);
    let sent = t.sent_one();
    assert_eq!(sent.to, tester_addr(), "reply goes to the INIT's source");
    assert_eq!(sent.vtag(), 0xa1a1, "INIT ACK carries the INIT's tag");
    assert_eq!(
        (sent.packet.header.src_port, sent.packet.header.dst_port),
        (IUT_PORT, TESTER_PORT)
    );
    let ack = init_ack(&sent);
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
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0xb2b2))]);
    let ack = init_ack(&t.sent_one()).clone();
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho { cookie })],
    );
    let reply = t.sent_one();
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
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0xc3c3))]);
    let ack = init_ack(&t.sent_one()).clone();
    let cookie = ack.state_cookie().unwrap().clone();
    let hb = Heartbeat {
        info: Bytes::from_static(b"probe"),
    };
    t.send(
        ack.initiate_tag,
        &[
            Chunk::CookieEcho(CookieEcho { cookie }),
            Chunk::Heartbeat(hb.clone()),
        ],
    );
    let reply = t.sent_one();
    assert_eq!(
        reply.packet.chunks,
        [Chunk::CookieAck, Chunk::HeartbeatAck(hb)]
    );
}

#[test]
fn forged_or_truncated_cookie_is_discarded_silently() {
    // §5.1.5 step 2.
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0xd4d4))]);
    let ack = init_ack(&t.sent_one()).clone();
    let cookie = ack.state_cookie().unwrap().clone();
    for i in 0..cookie.len() {
        let mut forged = cookie.to_vec();
        forged[i] ^= 0x01;
        t.send(
            ack.initiate_tag,
            &[Chunk::CookieEcho(CookieEcho {
                cookie: Bytes::from(forged),
            })],
        );
        t.send(
            ack.initiate_tag,
            &[Chunk::CookieEcho(CookieEcho {
                cookie: cookie.slice(..i),
            })],
        );
    }
    t.sent_nothing();
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn cookie_echo_with_a_tag_other_than_the_cookies_is_discarded() {
    // §8.5.1 (D).
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0xe5e5))]);
    let ack = init_ack(&t.sent_one()).clone();
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(
        ack.initiate_tag ^ 1,
        &[Chunk::CookieEcho(CookieEcho { cookie })],
    );
    t.sent_nothing();
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn stale_cookie_gets_error_with_staleness() {
    // §5.1.5 step 3 and §3.3.10.3: the measure is in microseconds, the
    // ERROR carries the peer's tag from the cookie.
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0xf6f6))]);
    let ack = init_ack(&t.sent_one()).clone();
    let cookie = ack.state_cookie().unwrap().clone();
    t.advance(Duration::from_millis(60_000 + 250));
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho { cookie })],
    );
    let reply = t.sent_one();
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
    t.send(
        0,
        &[Chunk::Init(init_with(
            0x7070,
            vec![Param::CookiePreservative(10_000)],
        ))],
    );
    let ack = init_ack(&t.sent_one()).clone();
    let cookie = ack.state_cookie().unwrap().clone();
    t.advance(Duration::from_millis(69_000));
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho { cookie })],
    );
    assert_eq!(t.sent_one().packet.chunks, [Chunk::CookieAck]);

    let mut t = Tester::server();
    t.send(
        0,
        &[Chunk::Init(init_with(
            0x7171,
            vec![Param::CookiePreservative(u32::MAX)],
        ))],
    );
    let ack = init_ack(&t.sent_one()).clone();
    let cookie = ack.state_cookie().unwrap().clone();
    t.advance(Duration::from_millis(120_001));
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho { cookie })],
    );
    assert!(matches!(t.sent_one().only(), Chunk::Error(_)));
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
    for (os, mis) in [(0, 5), (5, 0)] {
        let mut t = Tester::server();
        let bad = Init {
            outbound_streams: os,
            inbound_streams: mis,
            ..init(0x1234)
        };
        t.send(0, &[Chunk::Init(bad)]);
        let reply = t.sent_one();
        assert_eq!(reply.vtag(), 0x1234);
        let Chunk::Abort(abort) = reply.only() else {
            panic!("expected ABORT")
        };
        assert!(!abort.reflected_tag);
        assert_eq!(abort.causes, [ErrorCause::InvalidMandatoryParameter]);
    }
}

#[test]
fn init_with_host_name_address_gets_unresolvable_address() {
    // §5.1.2: host names are not resolved; the ABORT names the parameter.
    let mut t = Tester::server();
    let name = Param::HostNameAddress(Bytes::from_static(b"example.org\0"));
    t.send(0, &[Chunk::Init(init_with(0x2345, vec![name]))]);
    let reply = t.sent_one();
    let Chunk::Abort(abort) = reply.only() else {
        panic!("expected ABORT")
    };
    let [ErrorCause::UnresolvableAddress(p)] = &abort.causes[..] else {
        panic!("{:?}", abort.causes)
    };
    assert_eq!(&p[..4], &[0, 11, 0, 16]);
    assert_eq!(&p[4..], b"example.org\0");
}

#[test]
fn unknown_init_parameters_follow_their_upper_bits() {
    // §3.2.1: 00 stop, 01 stop and report, 10 skip, 11 skip and report.
    // Reports come back as Unrecognized Parameter in the INIT ACK.
    let unknown = |ty: u16| Param::Unknown {
        param_type: ParamType(ty),
        value: Bytes::from_static(b"xyz"),
    };
    let mut t = Tester::server();
    let params = vec![
        unknown(0x8123),
        unknown(0xC124),
        unknown(0x4125),
        unknown(0xC126),
    ];
    t.send(0, &[Chunk::Init(init_with(0x3456, params))]);
    let ack = init_ack(&t.sent_one()).clone();
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
    t.send(0, &[Chunk::Init(init_with(0x3457, vec![unknown(0x0001)]))]);
    let ack = init_ack(&t.sent_one()).clone();
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
        t.send(0, &[Chunk::Init(init_with(0x4567, vec![types, pad]))]);
        let ack = init_ack(&t.sent_one()).clone();
        let addrs: Vec<std::net::IpAddr> = ack.params.iter().filter_map(Param::address).collect();
        let expected: Vec<std::net::IpAddr> = expected.iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(addrs, expected, "{listed}");
    }
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
    assert!(init_ack(&reply).state_cookie().is_some());

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
        init_ack(&reply)
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
        t.advance(rto - Duration::from_millis(1));
        t.sent_nothing();
        t.advance(Duration::from_millis(1));
        assert_eq!(t.sent_one().only(), &Chunk::Init(sent_init.clone()));
        rto = (rto * 2).min(Duration::from_secs(60));
    }
    t.advance(rto);
    t.sent_nothing();
    assert_eq!(
        t.events(),
        [(id, Event::CantStart(AssociationError::InitTimeout))]
    );
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn init_ack_leads_to_cookie_echo_and_cookie_ack_brings_the_association_up() {
    // §5.1 (C) and (E).
    let (mut t, id) = client();
    let (sent, cookie) = answer_init(&mut t, 0x9999, vec![]);
    let echo = t.sent_one();
    assert_eq!(echo.vtag(), 0x9999);
    assert_eq!(echo.only(), &Chunk::CookieEcho(CookieEcho { cookie }));
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::CookieEchoed
    );
    t.send(sent.initiate_tag, &[Chunk::CookieAck]);
    let events = t.events();
    let [(_, Event::Up(up))] = &events[..] else {
        panic!("{events:?}")
    };
    // min(our OS 10, peer MIS 4), min(our MIS 2048, peer OS 3).
    assert_eq!((up.outbound_streams, up.inbound_streams), (4, 3));
}

#[test]
fn cookie_echo_is_retransmitted_then_the_attempt_fails() {
    let (mut t, id) = client();
    answer_init(&mut t, 0x9999, vec![]);
    let echo = t.sent_one();
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
    let Chunk::Init(sent) = t.sent_one().only().clone() else {
        panic!()
    };
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

#[test]
fn unrecognized_init_ack_parameters_are_reported_after_cookie_echo() {
    // §3.2.1: an ERROR with Unrecognized Parameters, bundled with (after)
    // the COOKIE ECHO.
    let (mut t, _) = client();
    let unknown = Param::Unknown {
        param_type: ParamType(0xC0DE),
        value: Bytes::from_static(b"ab"),
    };
    answer_init(&mut t, 0x7777, vec![unknown]);
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

#[test]
fn stale_cookie_error_restarts_with_a_cookie_preservative() {
    // §5.2.6: back to COOKIE-WAIT with a new INIT asking for more time;
    // bounded retries.
    let (mut t, id) = client();
    let (sent, _) = answer_init(&mut t, 0x6666, vec![]);
    t.sent_one();
    for attempt in 0..3 {
        let stale = usctp_proto::chunk::ErrorChunk {
            causes: vec![ErrorCause::StaleCookie {
                staleness_us: 3_000_000,
            }],
        };
        t.send(sent.initiate_tag, &[Chunk::Error(stale)]);
        let Chunk::Init(again) = t.sent_one().only().clone() else {
            panic!("attempt {attempt}: expected a new INIT")
        };
        assert_eq!(again.initiate_tag, sent.initiate_tag);
        // RTT (0 here) plus at most one second (§5.2.6).
        assert!(again.params.contains(&Param::CookiePreservative(1_000)));
        assert_eq!(
            t.iut.association(id).unwrap().state(),
            AssociationState::CookieWait
        );
        let ack = Init {
            params: vec![Param::StateCookie(Bytes::from_static(b"c"))],
            ..init(0x6666)
        };
        t.send(sent.initiate_tag, &[Chunk::InitAck(ack)]);
        t.sent_one();
    }
    let stale = usctp_proto::chunk::ErrorChunk {
        causes: vec![ErrorCause::StaleCookie { staleness_us: 1 }],
    };
    t.send(sent.initiate_tag, &[Chunk::Error(stale)]);
    assert_eq!(
        t.events(),
        [(id, Event::CantStart(AssociationError::StaleCookie))]
    );
}

#[test]
fn cookie_sealed_before_one_key_rotation_opens_but_not_after_two() {
    // §5.1.3: the cookie key changes every `cookie_key_rotation`; the
    // previous key stays good for one more interval.
    let config = usctp_proto::config::Config {
        cookie_key_rotation: Duration::from_secs(10),
        ..Default::default()
    };
    for (wait, opens) in [(15, true), (26, false)] {
        let mut t = Tester::with_config(config.clone(), true);
        t.send(0, &[Chunk::Init(init(0x5151))]);
        let ack = init_ack(&t.sent_one()).clone();
        let cookie = ack.state_cookie().unwrap().clone();
        // Rotations happen as time passes through the endpoint.
        for _ in 0..wait {
            t.advance(Duration::from_secs(1));
        }
        t.send(
            ack.initiate_tag,
            &[Chunk::CookieEcho(CookieEcho { cookie })],
        );
        if opens {
            assert_eq!(t.sent_one().packet.chunks, [Chunk::CookieAck]);
        } else {
            t.sent_nothing();
            assert_eq!(t.iut.association_count(), 0);
        }
    }
}

/// Protocol parameters per association: one started with its own
/// RTO.Initial retransmits its INIT on that timer, not the endpoint's; a
/// live association takes a smaller send buffer from `set_config`, and
/// contradictory parameters are refused (RFC 9260 §16: "settable per
/// association").
#[test]
fn parameters_can_be_set_per_association() {
    let mut t = Tester::with_config(Config::default(), false);
    let own = Config {
        rto_initial: Duration::from_secs(3),
        ..Config::default()
    };
    let now = t.now;
    let id = t
        .iut
        .connect_with_config(now, tester_addr(), &[], TESTER_PORT, own)
        .unwrap();
    assert!(matches!(t.sent_one().only(), Chunk::Init(_)));
    t.advance(Duration::from_secs(2));
    t.sent_nothing();
    t.advance(Duration::from_secs(1));
    assert!(matches!(t.sent_one().only(), Chunk::Init(_)), "T1 at 3 s");
    let bad = Config {
        rto_min: Duration::from_secs(5),
        rto_max: Duration::from_secs(2),
        ..Config::default()
    };
    let refused =
        t.iut
            .connect_with_config(now, "10.9.9.9:9899".parse().unwrap(), &[], 1, bad.clone());
    assert!(refused.is_err());
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert!(assoc.set_config(bad).is_err());

    let mut t = Tester::server();
    let (_, id) = t.establish(0x7070);
    let small = Config {
        send_buffer: 3000,
        ..Config::default()
    };
    let mut assoc = t.iut.association_mut(id).unwrap();
    assoc.set_config(small).unwrap();
    let message = Bytes::from(vec![1u8; 1000]);
    let mut taken = 0;
    while assoc.send(0, 0, message.clone(), false).is_ok() {
        taken += 1;
    }
    assert_eq!(taken, 3, "the new send buffer holds three messages");
}
