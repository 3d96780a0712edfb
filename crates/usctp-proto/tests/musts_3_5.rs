//! Requirements of RFC 9260 §§3–5 that no other test checked, one test per
//! requirement or small group, played with raw packets against the sans-IO
//! endpoint. `docs/rfc9260-musts.md` names the rows each one covers.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use usctp_proto::association::{AssociationState, Event};
use usctp_proto::chunk::{
    Chunk, CookieEcho, Data, DataFlags, ErrorCause, ErrorChunk, Heartbeat, Init, Packet, Param,
    ParamType, Sack,
};
use usctp_proto::config::Config;
use usctp_proto::cookie::{CookieKeys, KEY_LEN, StateCookie};
use usctp_proto::endpoint::{ConnectError, Endpoint};
use usctp_proto::random::Random;
use usctp_proto::serial::{Ssn, Tsn};

#[track_caller]
fn init_ack_of(sent: &Sent) -> Init {
    match sent.only() {
        Chunk::InitAck(ack) => ack.clone(),
        other => panic!("expected INIT ACK, got {other:?}"),
    }
}

#[track_caller]
fn init_of(sent: &Sent) -> Init {
    match sent.only() {
        Chunk::Init(init) => init.clone(),
        other => panic!("expected INIT, got {other:?}"),
    }
}

/// Opens a cookie the IUT sealed: the tester's endpoints are seeded with
/// `[42; 32]`, and an endpoint's first key is the first `KEY_LEN` bytes of
/// that generator (see `Endpoint::new`).
fn open_cookie(sealed: &[u8]) -> StateCookie {
    let mut rng = Random::from_seed([42; 32]);
    let mut secret = [0; KEY_LEN];
    rng.fill(&mut secret);
    let rotation = u64::try_from(Config::default().cookie_key_rotation.as_millis()).unwrap();
    CookieKeys::new(secret, 0, rotation)
        .authenticate(sealed)
        .expect("a cookie the IUT sealed")
}

/// Every packet the IUT has to send now, as raw bytes.
fn raw_sent(t: &mut Tester) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while let Some(tx) = t.iut.poll_transmit(t.now, &mut buf) {
        out.push((tx.destination, buf[..tx.size].to_vec()));
    }
    out
}

/// Walks TLVs (chunks, or parameters) in `bytes`: each length excludes the
/// padding, the padding is 0 to 3 zero bytes, and the next item starts on a
/// multiple of 4; returns (type field, length) of each.
#[track_caller]
fn walk_padded(mut bytes: &[u8], type_len: usize) -> Vec<(u16, usize)> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        let ty = if type_len == 1 {
            u16::from(bytes[0])
        } else {
            u16::from_be_bytes([bytes[0], bytes[1]])
        };
        let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        let padded = len.next_multiple_of(4);
        assert!(padded - len <= 3);
        assert!(bytes.len() >= padded, "item of {len} bytes is not padded");
        assert!(
            bytes[len..padded].iter().all(|&b| b == 0),
            "padding is not zero: {:?}",
            &bytes[len..padded]
        );
        items.push((ty, len));
        bytes = &bytes[padded..];
    }
    items
}

/// How many DATA chunks a packet holds.
fn data_in(sent: &Sent) -> usize {
    sent.packet
        .chunks
        .iter()
        .filter(|c| matches!(c, Chunk::Data(_)))
        .count()
}

fn data(tsn: u32, payload: &'static [u8]) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags::WHOLE,
        tsn: Tsn(tsn),
        stream: 0,
        ssn: Ssn(0),
        ppid: 0,
        payload: Bytes::from_static(payload),
    })
}

/// RFC 9260 §3.2, §3.2.1, §3.3.1: chunks and parameters the IUT sends are
/// padded to 4 bytes with at most 3 zero bytes, not counted in their
/// length; padding it receives is ignored whatever its value.
#[test]
fn chunks_and_parameters_are_zero_padded_and_padding_received_is_ignored() {
    // An INIT with an odd-length unknown parameter to report: the INIT ACK
    // carries it (length 7) in an Unrecognized Parameter (length 11).
    let mut t = Tester::server();
    let odd = Param::Unknown {
        param_type: ParamType(0xC0DE),
        value: Bytes::from_static(b"abc"),
    };
    t.send(0, &[Chunk::Init(init_with(0x3030_0001, vec![odd]))]);
    let [(_, ack)] = &raw_sent(&mut t)[..] else {
        panic!("one INIT ACK expected")
    };
    let chunks = walk_padded(&ack[12..], 1);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].0, 2, "INIT ACK");
    // The chunk length leaves out the last parameter's padding (§3.2).
    let params = walk_padded(&ack[12 + 20..12 + chunks[0].1.next_multiple_of(4)], 2);
    assert!(params.contains(&(ParamType::UNRECOGNIZED_PARAMETER.0, 4 + 7)));
    assert!(
        params
            .iter()
            .any(|&(ty, _)| ty == ParamType::STATE_COOKIE.0)
    );
    let ack = Packet::parse(Bytes::from(ack.clone())).unwrap();
    let Chunk::InitAck(ack) = &ack.chunks[0] else {
        unreachable!()
    };
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho { cookie })],
    );
    assert_eq!(t.sent_one().packet.chunks, [Chunk::CookieAck]);
    let events = t.events();
    let [(id, Event::Up(_))] = events[..] else {
        panic!("{events:?}")
    };

    // A one-byte message: DATA of length 17 and three zero bytes.
    let mut assoc = t.iut.association_mut(id).unwrap();
    assoc.send(0, 0, Bytes::from_static(b"x"), false).unwrap();
    let [(_, packet)] = &raw_sent(&mut t)[..] else {
        panic!("one DATA packet expected")
    };
    assert_eq!(walk_padded(&packet[12..], 1), [(0, 17)]);
    assert_eq!(packet.len(), 12 + 20);

    // DATA from the peer whose padding bytes are not zero: accepted.
    let mut bytes = packet_bytes(ack.initiate_tag, &[data(1000, b"y")]);
    let end = bytes.len();
    bytes[end - 3..].copy_from_slice(&[0xFF, 0xEE, 0xDD]);
    fix_checksum(&mut bytes);
    t.send_raw(bytes);
    let got = t
        .iut
        .association_mut(id)
        .unwrap()
        .recv()
        .expect("delivered");
    assert_eq!(&got.data[..], b"y");
}

fn packet_bytes(vtag: u32, chunks: &[Chunk]) -> Vec<u8> {
    packet(TESTER_PORT, IUT_PORT, vtag, chunks)
}

fn fix_checksum(bytes: &mut [u8]) {
    let crc = usctp_proto::chunk::packet::packet_checksum(bytes).unwrap();
    bytes[8..12].copy_from_slice(&crc.to_le_bytes());
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
    let now = t.now;
    t.iut.connect(now, tester_addr(), TESTER_PORT).unwrap();
    let ours = init_of(&t.sent_one());
    no_host_name(&ours.params);
    assert_eq!(ours.params.iter().filter_map(Param::address).count(), 2);

    let mut t = Tester::server();
    t.iut.set_local_addresses(addresses);
    let pad = Param::Padding(Bytes::from(vec![0; 64]));
    t.send(0, &[Chunk::Init(init_with(0x3131_0001, vec![pad]))]);
    let ack = init_ack_of(&t.sent_one());
    no_host_name(&ack.params);
    assert_eq!(ack.params.iter().filter_map(Param::address).count(), 2);
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
    let now = t.now;
    t.iut.connect(now, tester_addr(), TESTER_PORT).unwrap();
    let mut sent = init_of(&t.sent_one());
    for _ in 0..2 {
        let ack = Init {
            params: vec![Param::StateCookie(Bytes::from_static(b"c"))],
            ..init(0x3232_0001)
        };
        t.send(sent.initiate_tag, &[Chunk::InitAck(ack)]);
        assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
        let stale = ErrorChunk {
            causes: vec![ErrorCause::StaleCookie {
                staleness_us: 10_000,
            }],
        };
        t.send(sent.initiate_tag, &[Chunk::Error(stale)]);
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

/// RFC 9260 §3.3.2: an INIT with 0 outbound or 0 inbound streams is
/// refused (ABORT under its Initiate Tag) and leaves the existing
/// association as it was.
#[test]
fn zero_stream_init_leaves_an_existing_association_alone() {
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x3333_0001);
    for (os, mis) in [(0, 5), (5, 0)] {
        let bad = Init {
            outbound_streams: os,
            inbound_streams: mis,
            ..init(0x3333_0002)
        };
        t.send(0, &[Chunk::Init(bad)]);
        let reply = t.sent_one();
        assert_eq!(reply.vtag(), 0x3333_0002);
        assert!(
            matches!(reply.only(), Chunk::Abort(a) if a.causes == [ErrorCause::InvalidMandatoryParameter])
        );
        let assoc = t.iut.association(id).unwrap();
        assert_eq!(assoc.state(), AssociationState::Established);
        assert_eq!(
            (assoc.local_tag(), assoc.peer_tag()),
            (iut_tag, 0x3333_0001)
        );
        assert!(t.events().is_empty());
    }
    let hb = Heartbeat {
        info: Bytes::from_static(b"still there"),
    };
    t.send(iut_tag, &[Chunk::Heartbeat(hb.clone())]);
    assert_eq!(t.sent_one().packet.chunks, [Chunk::HeartbeatAck(hb)]);
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
    assert!(matches!(t.events()[..], [(i, Event::CantStart(_))] if i == id));
    assert!(t.iut.association(id).is_none());
    t.advance(Duration::from_secs(2));
    t.sent_nothing();
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
    let bytes = packet_bytes(ours.initiate_tag, &[Chunk::InitAck(ack)]);
    assert!(bytes.len() > 1500);
    t.send_raw(bytes);
    let echo = t.sent_one();
    assert_eq!(echo.vtag(), 0x3535_0001);
    assert_eq!(
        echo.packet.chunks,
        [Chunk::CookieEcho(CookieEcho {
            cookie: Bytes::from_static(b"cookie")
        })]
    );
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::CookieEchoed
    );
}

/// RFC 9260 §3.2.2, §3.3.11, §5.1 (C): in COOKIE-ECHOED the IUT sends the
/// COOKIE ECHO first in its packet and nothing else until the COOKIE ACK:
/// no DATA (the user cannot send yet), no HEARTBEAT.
#[test]
fn cookie_echo_goes_first_and_nothing_else_until_the_cookie_ack() {
    let (mut t, id) = client();
    let unknown = Param::Unknown {
        param_type: ParamType(0xC0DE),
        value: Bytes::from_static(b"ab"),
    };
    let (ours, _) = answer_init(&mut t, 0x3636_0001, vec![unknown]);
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

/// RFC 9260 §5.1.2 (D): an INIT from an unknown source that lists an
/// address of an existing association belongs to that association: it is
/// judged as a restart adding an address (refused with an ABORT naming
/// the new source), not answered as a new association.
#[test]
fn init_listing_an_address_of_an_existing_association_is_routed_to_it() {
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x3737_0001);
    let known = tester_addr().ip();
    t.from = "10.0.9.9:9899".parse().unwrap();
    t.send(
        0,
        &[Chunk::Init(init_with(
            0x3737_0002,
            vec![Param::from_address(known)],
        ))],
    );
    let reply = t.sent_one();
    assert_eq!(reply.vtag(), 0x3737_0002);
    let Chunk::Abort(abort) = reply.only() else {
        panic!("expected ABORT, got {reply:?}")
    };
    assert_eq!(
        abort.causes,
        [ErrorCause::RestartWithNewAddresses(Bytes::from_static(&[
            0, 5, 0, 8, 10, 0, 9, 9
        ]))]
    );
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(
        (assoc.local_tag(), assoc.state()),
        (iut_tag, AssociationState::Established)
    );
    assert_eq!(t.iut.association_count(), 1);
}

/// RFC 9260 §5.1: the Cumulative TSN Ack Point starts at the Initial TSN
/// minus one: the first DATA carries the Initial TSN the INIT ACK
/// announced, and a SACK for the TSN before it acknowledges nothing.
#[test]
fn first_data_carries_the_initial_tsn() {
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0x3838_0001))]);
    let ack = init_ack_of(&t.sent_one());
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho { cookie })],
    );
    t.sent_one();
    let events = t.events();
    let [(id, Event::Up(_))] = events[..] else {
        panic!("{events:?}")
    };
    let mut assoc = t.iut.association_mut(id).unwrap();
    assoc
        .send(0, 0, Bytes::from_static(b"first"), false)
        .unwrap();
    let sent = t.sent_one();
    let [Chunk::Data(d)] = &sent.packet.chunks[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(d.tsn, ack.initial_tsn);
    let sack = Sack {
        cumulative_tsn_ack: ack.initial_tsn.prev(),
        a_rwnd: 65_536,
        gap_blocks: vec![],
        duplicate_tsns: vec![],
    };
    t.send(ack.initiate_tag, &[Chunk::Sack(sack)]);
    t.sent_nothing();
    t.advance(Duration::from_secs(1));
    let again = t.sent_one();
    assert!(
        matches!(&again.packet.chunks[..], [Chunk::Data(r)] if r.tsn == ack.initial_tsn),
        "not acknowledged, so retransmitted: {again:?}"
    );
}

/// RFC 9260 §3.3.3.1.1, §5.1.3, §5.2.2: the State Cookie holds what the
/// association needs (tags, TSNs, ports, streams, addresses); an INIT in
/// CLOSED gets tie-tags 0, one for an established association gets the
/// association's tie-tags (the same for every such INIT, not the tags).
#[test]
fn cookie_holds_the_association_and_the_right_tie_tags() {
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0x3939_0001))]);
    let ack = init_ack_of(&t.sent_one());
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
        t.send(0, &[Chunk::Init(init(tag))]);
        let ack = init_ack_of(&t.sent_one());
        let c = open_cookie(ack.state_cookie().unwrap());
        assert_ne!(c.local_tie_tag, 0);
        assert_ne!(c.peer_tie_tag, 0);
        assert_ne!(c.local_tie_tag, iut_tag, "tie-tags are not the tags");
        assert_ne!(c.peer_tie_tag, 0x3939_0002);
        ties.push((c.local_tie_tag, c.peer_tie_tag));
    }
    assert_eq!(ties[0], ties[1], "the association's tie-tags");
}

/// RFC 9260 §5.2.1: an INIT in COOKIE-ECHOED gets an INIT ACK whose cookie
/// carries the association's tie-tags; the state stays, T1-cookie keeps
/// running and the association is not destroyed.
#[test]
fn init_in_cookie_echoed_keeps_the_state_and_timer_and_fills_the_tie_tags() {
    let (mut t, id) = client();
    let (ours, _) = answer_init(&mut t, 0x4040_0001, vec![]);
    let echo = t.sent_one();
    t.advance(Duration::from_millis(500));
    t.send(0, &[Chunk::Init(init(0x4040_0002))]);
    let ack = init_ack_of(&t.sent_one());
    assert_eq!(ack.initiate_tag, ours.initiate_tag);
    let c = open_cookie(ack.state_cookie().unwrap());
    assert_ne!(c.local_tie_tag, 0);
    assert_ne!(c.peer_tie_tag, 0);
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::CookieEchoed
    );
    // T1-cookie was started 500 ms before the INIT and still fires at 1 s.
    t.advance(Duration::from_millis(499));
    t.sent_nothing();
    t.advance(Duration::from_millis(1));
    assert_eq!(t.sent_one().packet.chunks, echo.packet.chunks);
    assert!(t.events().is_empty());
}

/// RFC 9260 §5.4, §3.3.5: an address the peer listed but that no packet
/// came from is UNCONFIRMED: it gets HEARTBEATs carrying a 64-bit nonce and
/// nothing else; a HEARTBEAT ACK with another nonce does not confirm it,
/// the echo of the right one does.
#[test]
fn unconfirmed_addresses_get_only_heartbeats_with_a_nonce() {
    let mut t = Tester::server();
    let alternate: IpAddr = "10.0.2.2".parse().unwrap();
    t.send(
        0,
        &[Chunk::Init(init_with(
            0x4141_0001,
            vec![Param::from_address(alternate)],
        ))],
    );
    let ack = init_ack_of(&t.sent_one());
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho { cookie })],
    );
    let events = t.events();
    let Some((id, _)) = events.iter().find(|(_, e)| matches!(e, Event::Up(_))) else {
        panic!("{events:?}")
    };
    let id = *id;
    let mut probe = None;
    let check = |sent: Vec<Sent>, probe: &mut Option<Heartbeat>| {
        for s in sent {
            if s.to.ip() != alternate {
                continue;
            }
            let [Chunk::Heartbeat(hb)] = &s.packet.chunks[..] else {
                panic!("only HEARTBEATs go to an unconfirmed address: {s:?}")
            };
            assert!(hb.info.len() >= 8, "a nonce of 64 bits at least");
            *probe = Some(hb.clone());
        }
    };
    for _ in 0..20 {
        check(t.sent(), &mut probe);
        t.advance(Duration::from_millis(100));
    }
    let mut assoc = t.iut.association_mut(id).unwrap();
    for _ in 0..5 {
        assoc
            .send(0, 0, Bytes::from_static(b"to the confirmed path"), false)
            .unwrap();
    }
    for _ in 0..5 {
        check(t.sent(), &mut probe);
        t.advance(Duration::from_millis(100));
    }
    let hb = probe.expect("the alternate is probed at once");
    let mut forged = hb.info.to_vec();
    forged[0] ^= 0x80;
    t.from = SocketAddr::new(alternate, tester_addr().port());
    t.send(
        ack.initiate_tag,
        &[Chunk::HeartbeatAck(Heartbeat {
            info: Bytes::from(forged),
        })],
    );
    let confirmed = |t: &Tester| {
        t.iut
            .association(id)
            .unwrap()
            .paths()
            .iter()
            .find(|p| p.address.ip() == alternate)
            .unwrap()
            .confirmed
    };
    assert!(!confirmed(&t), "a wrong nonce confirms nothing");
    t.send(ack.initiate_tag, &[Chunk::HeartbeatAck(hb)]);
    assert!(confirmed(&t));
}

/// RFC 9260 §3.3.1: the SSN of an unordered DATA chunk is ignored: one
/// with an SSN far ahead is delivered at once, and the ordered sequence of
/// its stream is not disturbed.
#[test]
fn unordered_data_ignores_its_ssn() {
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x4242_0001);
    let unordered = Chunk::Data(Data {
        flags: DataFlags {
            unordered: true,
            ..DataFlags::WHOLE
        },
        tsn: Tsn(1000),
        stream: 0,
        ssn: Ssn(777),
        ppid: 0,
        payload: Bytes::from_static(b"u"),
    });
    t.send(iut_tag, &[unordered, data(1001, b"ordered")]);
    let mut assoc = t.iut.association_mut(id).unwrap();
    let got: Vec<Bytes> = std::iter::from_fn(|| assoc.recv().map(|m| m.data)).collect();
    assert_eq!(
        got,
        [Bytes::from_static(b"u"), Bytes::from_static(b"ordered")]
    );
}

/// RFC 9260 §3.3.1: every fragment of an unordered message has the U bit.
#[test]
fn every_fragment_of_an_unordered_message_is_unordered() {
    let mut t = Tester::server();
    let (_, id) = t.establish(0x4343_0001);
    let mut assoc = t.iut.association_mut(id).unwrap();
    assoc
        .send(0, 5, Bytes::from(vec![1u8; 3000]), true)
        .unwrap();
    let mut fragments = Vec::new();
    for _ in 0..30 {
        for sent in t.sent() {
            for c in &sent.packet.chunks {
                if let Chunk::Data(d) = c {
                    fragments.push(d.clone());
                }
            }
        }
        if fragments.iter().any(|d| d.flags.end) {
            break;
        }
        t.advance(Duration::from_millis(100));
    }
    assert!(fragments.len() >= 3, "{fragments:?}");
    assert!(fragments.first().unwrap().flags.beginning);
    assert!(fragments.last().unwrap().flags.end);
    assert!(fragments.iter().all(|d| d.flags.unordered), "{fragments:?}");
}

/// RFC 9260 §3.3.7: an ABORT the user asks for goes without DATA, even
/// with messages queued, and nothing follows it in its packet.
#[test]
fn abort_goes_without_data() {
    let mut t = Tester::server();
    let (_, id) = t.establish(0x4444_0001);
    let mut assoc = t.iut.association_mut(id).unwrap();
    for _ in 0..20 {
        assoc
            .send(0, 0, Bytes::from(vec![3u8; 1000]), false)
            .unwrap();
    }
    t.iut.abort(id, b"bye");
    let sent = t.sent();
    let with_abort: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.packet.chunks.iter().any(|c| matches!(c, Chunk::Abort(_))))
        .collect();
    assert_eq!(with_abort.len(), 1, "{sent:#?}");
    let chunks = &with_abort[0].packet.chunks;
    assert!(matches!(chunks.last(), Some(Chunk::Abort(_))), "{chunks:?}");
    assert!(
        !chunks.iter().any(|c| matches!(c, Chunk::Data(_))),
        "{chunks:?}"
    );
}

/// RFC 9260 §3.3.8: a SHUTDOWN has no Gap Ack Blocks, and their absence is
/// no renege: a TSN a SACK acknowledged in a gap block is not sent again.
#[test]
fn shutdown_without_gap_blocks_is_no_renege() {
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x4545_0001);
    let mut assoc = t.iut.association_mut(id).unwrap();
    for m in [b"one", b"two", b"six"] {
        assoc.send(0, 0, Bytes::from_static(m), false).unwrap();
    }
    let tsns: Vec<Tsn> = t
        .sent()
        .iter()
        .flat_map(|s| s.packet.chunks.clone())
        .filter_map(|c| match c {
            Chunk::Data(d) => Some(d.tsn),
            _ => None,
        })
        .collect();
    assert_eq!(tsns.len(), 3);
    let sack = Sack {
        cumulative_tsn_ack: tsns[0],
        a_rwnd: 65_536,
        gap_blocks: vec![usctp_proto::chunk::GapBlock { start: 2, end: 2 }],
        duplicate_tsns: vec![],
    };
    t.send(iut_tag, &[Chunk::Sack(sack)]);
    t.send(
        iut_tag,
        &[Chunk::Shutdown(usctp_proto::chunk::Shutdown {
            cumulative_tsn_ack: Tsn(999),
        })],
    );
    let mut again = Vec::new();
    for _ in 0..15 {
        t.advance(Duration::from_millis(100));
        for s in t.sent() {
            for c in &s.packet.chunks {
                if let Chunk::Data(d) = c {
                    again.push(d.tsn);
                }
            }
        }
    }
    assert!(again.contains(&tsns[1]), "the missing TSN is retransmitted");
    assert!(
        !again.contains(&tsns[2]),
        "the gap-acked TSN is not: {again:?}"
    );
}

/// RFC 9260 §5.2.4 (A): a peer restart resets the congestion control state
/// of the association's paths (no RTT measurement, initial cwnd).
#[test]
fn restart_resets_the_congestion_state() {
    let mut fresh = Tester::server();
    let (_, fresh_id) = fresh.establish(0x4646_0009);
    let initial_cwnd = fresh.iut.association(fresh_id).unwrap().paths()[0].cwnd;

    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x4646_0001);
    let mut assoc = t.iut.association_mut(id).unwrap();
    for _ in 0..8 {
        assoc
            .send(0, 0, Bytes::from(vec![9u8; 1000]), false)
            .unwrap();
    }
    let last = t
        .sent()
        .iter()
        .flat_map(|s| s.packet.chunks.clone())
        .filter_map(|c| match c {
            Chunk::Data(d) => Some(d.tsn),
            _ => None,
        })
        .last()
        .unwrap();
    t.advance(Duration::from_millis(50));
    let sack = Sack {
        cumulative_tsn_ack: last,
        a_rwnd: 65_536,
        gap_blocks: vec![],
        duplicate_tsns: vec![],
    };
    t.send(iut_tag, &[Chunk::Sack(sack)]);
    let before = t.iut.association(id).unwrap().paths()[0].clone();
    assert!(before.srtt.is_some(), "the SACK measured an RTT");
    assert_ne!(before.cwnd, initial_cwnd, "the window grew");
    t.sent();

    t.send(0, &[Chunk::Init(init(0x4646_0002))]);
    let ack = init_ack_of(&t.sent_one());
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho {
            cookie: ack.state_cookie().unwrap().clone(),
        })],
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

/// RFC 9260 §5.2.4 (A): in SHUTDOWN-ACK-SENT a restarting peer's COOKIE
/// ECHO sets up nothing: the SHUTDOWN ACK is sent again with an ERROR
/// (Cookie Received While Shutting Down).
#[test]
fn restart_cookie_in_shutdown_ack_sent_gets_the_shutdown_ack_again() {
    let mut t = Tester::server();
    let (iut_tag, id) = t.establish(0x4747_0001);
    // The restarting peer's INIT, answered while still ESTABLISHED.
    t.send(0, &[Chunk::Init(init(0x4747_0002))]);
    let ack = init_ack_of(&t.sent_one());
    t.send(
        iut_tag,
        &[Chunk::Shutdown(usctp_proto::chunk::Shutdown {
            cumulative_tsn_ack: Tsn(999),
        })],
    );
    assert_eq!(t.sent_one().packet.chunks, [Chunk::ShutdownAck]);
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::ShutdownAckSent
    );
    t.events();
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho {
            cookie: ack.state_cookie().unwrap().clone(),
        })],
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

// ---- Deviations fixed since the first record ----

/// RFC 9260 §3.1: SCTP port 0 is never used, so a packet from it or to it
/// is dropped without an answer (an INIT from port 0 used to draw an INIT
/// ACK addressed to port 0, an OOTB DATA an ABORT), and the user cannot
/// connect to it.
#[test]
fn packets_from_or_to_sctp_port_0_are_dropped_unanswered() {
    let mut t = Tester::server();
    t.send_raw(packet(0, IUT_PORT, 0, &[Chunk::Init(init(0x4848_0001))]));
    t.sent_nothing();
    t.send_raw(packet(TESTER_PORT, 0, 0, &[Chunk::Init(init(0x4848_0002))]));
    t.sent_nothing();
    t.send_raw(packet(0, IUT_PORT, 0x4848_0003, &[data(1000, b"x")]));
    t.sent_nothing();
    assert_eq!(t.iut.association_count(), 0);
    assert!(t.events().is_empty());
    // The same INIT from a real port is answered, there.
    t.send(0, &[Chunk::Init(init(0x4848_0004))]);
    let ack = t.sent_one();
    init_ack_of(&ack);
    assert_eq!(
        (ack.packet.header.src_port, ack.packet.header.dst_port),
        (IUT_PORT, TESTER_PORT)
    );
    // Nor does the user reach port 0.
    let now = t.now;
    assert!(matches!(
        t.iut.connect(now, "10.0.0.3:9899".parse().unwrap(), 0),
        Err(ConnectError::InvalidPort)
    ));
    t.sent_nothing();
}

/// RFC 9260 §3.1: the sans-IO endpoint cannot be put on SCTP port 0.
#[test]
#[should_panic(expected = "port 0")]
fn an_endpoint_on_sctp_port_0_is_refused() {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    Endpoint::new(Config::default(), 0, [42; 32], now);
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
    t.send(0, &[Chunk::Init(with_window(0x4949_0002, 1500))]);
    assert_ne!(init_ack_of(&t.sent_one()).initiate_tag, 0);

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
    t.advance(Duration::from_secs(3));
    t.sent_nothing();

    // In COOKIE-ECHOED another such INIT ACK is ignored.
    let (mut t, id) = client();
    let (ours, cookie) = answer_init(&mut t, 0x5050_0002, vec![]);
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    t.send(ours.initiate_tag, &[Chunk::InitAck(small(0x5050_0003))]);
    t.sent_nothing();
    let assoc = t.iut.association(id).unwrap();
    assert_eq!(assoc.state(), AssociationState::CookieEchoed);
    assert_eq!(assoc.peer_tag(), 0x5050_0002);
    t.advance(Duration::from_secs(1));
    assert_eq!(
        t.sent_one().packet.chunks,
        [Chunk::CookieEcho(CookieEcho { cookie })]
    );
}

/// RFC 9260 §3.3.2, §3.3.3: this end's INIT and INIT ACK never advertise a
/// window below 1500 bytes: such a receive window is refused wherever a
/// configuration is taken, and 1500 goes out as it is.
#[test]
fn own_receive_window_below_1500_is_refused() {
    let window = |bytes| Config {
        receive_window: bytes,
        ..Config::default()
    };
    assert!(window(1499).validate().is_err());
    assert_eq!(window(1500).validate(), Ok(()));

    let mut t = Tester::with_config(window(1500), true);
    let now = t.now;
    let refused = t.iut.connect_with_config(
        now,
        "10.0.0.3:9899".parse().unwrap(),
        &[],
        TESTER_PORT,
        window(1499),
    );
    assert!(matches!(refused, Err(ConnectError::InvalidConfig(_))));
    let id = t
        .iut
        .connect(now, "10.0.0.4:9899".parse().unwrap(), TESTER_PORT)
        .unwrap();
    assert_eq!(init_of(&t.sent_one()).a_rwnd, 1500);
    let mut assoc = t.iut.association_mut(id).unwrap();
    assert!(assoc.set_config(window(1000)).is_err());
    assert_eq!(assoc.config().receive_window, 1500);
    t.send(0, &[Chunk::Init(init(0x5151_0001))]);
    assert_eq!(init_ack_of(&t.sent_one()).a_rwnd, 1500);
}

/// RFC 9260 §3.3.2, §3.3.3: the endpoint refuses a configuration whose
/// receive window is below 1500 bytes.
#[test]
#[should_panic(expected = "1500")]
fn an_endpoint_with_a_window_below_1500_is_refused() {
    let config = Config {
        receive_window: 1499,
        ..Config::default()
    };
    Tester::with_config(config, true);
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
    let now = t.now;
    t.iut.connect(now, tester_addr(), TESTER_PORT).unwrap();
    advertised(&init_of(&t.sent_one()).params, true);

    let mut t = Tester::server();
    t.iut.set_local_addresses(vec![mapped, v6]);
    t.send(0, &[Chunk::Init(init(0x5252_0001))]);
    advertised(&init_ack_of(&t.sent_one()).params, false);
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
    let expected = [Chunk::CookieEcho(CookieEcho {
        cookie: cookie.clone(),
    })];
    let echo = t.sent_one();
    assert_eq!(echo.vtag(), 0x5353_0001);
    assert_eq!(echo.packet.chunks, expected);
    assert_eq!(echo.size, 12 + 4 + 3000);
    assert!(echo.size > Config::default().max_packet_size);
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::CookieEchoed
    );
    t.advance(Duration::from_secs(1));
    assert_eq!(t.sent_one().packet.chunks, expected);
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    assert!(matches!(t.events()[..], [(i, Event::Up(_))] if i == id));
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
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::CookieWait
    );
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
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::CookieEchoed
    );
}

/// RFC 9260 §5.4: a COOKIE ECHO from another address the INIT listed does
/// not confirm that address: the INIT's source, where the INIT ACK went,
/// is the confirmed primary; the COOKIE ECHO's source gets its COOKIE ACK
/// with a HEARTBEAT right behind it and no DATA until the HEARTBEAT ACK.
#[test]
fn a_cookie_echo_from_another_address_confirms_only_the_init_source() {
    let source = tester_addr();
    let other = SocketAddr::new("10.0.2.2".parse().unwrap(), source.port());
    let mut t = Tester::server();
    t.send(
        0,
        &[Chunk::Init(init_with(
            0x5555_0001,
            vec![Param::from_address(other.ip())],
        ))],
    );
    let reply = t.sent_one();
    assert_eq!(reply.to, source);
    let ack = init_ack_of(&reply);
    t.from = other;
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho {
            cookie: ack.state_cookie().unwrap().clone(),
        })],
    );
    let sent = t.sent();
    let events = t.events();
    let [(id, Event::Up(_))] = events[..] else {
        panic!("{events:?}")
    };
    let to_other: Vec<&Sent> = sent.iter().filter(|s| s.to == other).collect();
    let [cookie_ack] = to_other[..] else {
        panic!("{sent:#?}")
    };
    let [Chunk::CookieAck, Chunk::Heartbeat(probe)] = &cookie_ack.packet.chunks[..] else {
        panic!("{:?}", cookie_ack.packet.chunks)
    };
    let mut probe = probe.clone();
    let paths = t.iut.association(id).unwrap().paths();
    let path = |address| paths.iter().find(|p| p.address == address).unwrap();
    assert!(path(source).confirmed && path(source).primary);
    assert!(!path(other).confirmed && !path(other).primary);

    let mut assoc = t.iut.association_mut(id).unwrap();
    for _ in 0..3 {
        assoc
            .send(0, 0, Bytes::from(vec![1u8; 800]), false)
            .unwrap();
    }
    // Within the probe's RTO (1 s), while DATA is outstanding.
    let mut data_to_source = 0;
    for _ in 0..5 {
        for s in t.sent() {
            if s.to == other {
                let [Chunk::Heartbeat(hb)] = &s.packet.chunks[..] else {
                    panic!("only HEARTBEATs to the unconfirmed address: {s:?}")
                };
                probe = hb.clone();
            } else {
                assert_eq!(s.to, source);
                data_to_source += data_in(&s);
            }
        }
        t.advance(Duration::from_millis(100));
    }
    assert_eq!(data_to_source, 3, "the DATA went to the confirmed source");
    t.send(ack.initiate_tag, &[Chunk::HeartbeatAck(probe)]);
    let paths = t.iut.association(id).unwrap().paths();
    assert!(paths.iter().all(|p| p.confirmed), "{paths:?}");
}
