//! Helpers shared by the ETSI TS 102 369 conformance tests.
#![allow(dead_code)]

mod transfer;
#[allow(unused_imports)] // not every test file needs them
pub use transfer::*;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::common::*;
use bytes::Bytes;
use usctp_proto::association::{AssocId, AssociationState, Established, Event};
use usctp_proto::chunk::packet::packet_checksum;
use usctp_proto::chunk::{Abort, Chunk, CookieEcho, ErrorCause, Heartbeat, Init, Param, ParamType};
use usctp_proto::config::Config;

/// The State Cookie the tester puts in its INIT ACKs.
pub const COOKIE: &[u8] = b"tester's state cookie";

pub fn cookie_param() -> Param {
    Param::StateCookie(Bytes::from_static(COOKIE))
}

/// The tester's INIT ACK: `common::init`'s fields with tag `tag` and exactly
/// `params` (no cookie unless given).
pub fn tester_init_ack(tag: u32, params: Vec<Param>) -> Chunk {
    Chunk::InitAck(init_with(tag, params))
}

/// An IUT, configured by `config`, that has just sent an INIT to the tester.
pub fn client_with(config: Config) -> (Tester, AssocId) {
    let mut t = Tester::with_config(config, false);
    let now = t.now;
    let id = t.iut.connect(now, tester_addr(), TESTER_PORT).unwrap();
    (t, id)
}

/// Reads the IUT's INIT: alone, tag 0, to the tester's address.
#[track_caller]
pub fn sent_init(t: &mut Tester) -> Init {
    let sent = t.sent_one();
    assert_eq!(sent.vtag(), 0, "INIT goes with Verification Tag 0");
    assert_eq!(sent.to, t.from);
    match sent.only() {
        Chunk::Init(init) => init.clone(),
        other => panic!("expected INIT, got {other}"),
    }
}

/// Sends the tester's INIT (tag 0) and returns the IUT's INIT ACK, checked
/// to go alone to the INIT's source with the INIT's Initiate Tag.
#[track_caller]
pub fn send_init(t: &mut Tester, init: Init) -> Init {
    let tag = init.initiate_tag;
    t.send(0, &[Chunk::Init(init)]);
    let sent = t.sent_one();
    assert_eq!(sent.to, t.from, "INIT ACK goes to the INIT's source");
    assert_eq!(sent.vtag(), tag, "INIT ACK carries the INIT's Initiate Tag");
    match sent.only() {
        Chunk::InitAck(ack) => ack.clone(),
        other => panic!("expected INIT ACK, got {other}"),
    }
}

/// Echoes the cookie of the IUT's INIT ACK `ack` under `ack`'s tag; returns
/// the IUT's single reply.
#[track_caller]
pub fn echo_cookie(t: &mut Tester, ack: &Init) -> Sent {
    let cookie = ack
        .state_cookie()
        .expect("INIT ACK has a State Cookie")
        .clone();
    t.send(
        ack.initiate_tag,
        &[Chunk::CookieEcho(CookieEcho { cookie })],
    );
    t.sent_one()
}

/// The single event pending is Up.
#[track_caller]
pub fn up(t: &mut Tester) -> (AssocId, Established) {
    let events = t.events();
    match &events[..] {
        [(id, Event::Up(up))] => (*id, up.clone()),
        _ => panic!("expected one Up event: {events:?}"),
    }
}

pub fn state(t: &Tester, id: AssocId) -> Option<AssociationState> {
    t.iut.association(id).map(|a| a.state())
}

/// The peer IP addresses of an association that came up, sorted.
pub fn ips(up: &Established) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = up.peer_addresses.iter().map(SocketAddr::ip).collect();
    ips.sort();
    ips
}

/// The packet holds one ABORT with this tag, T bit and causes.
#[track_caller]
pub fn assert_abort(sent: &Sent, vtag: u32, t_bit: bool, causes: &[ErrorCause]) {
    assert_eq!(
        sent.packet.chunks,
        [Chunk::Abort(Abort {
            reflected_tag: t_bit,
            causes: causes.to_vec(),
        })]
    );
    assert_eq!(sent.vtag(), vtag, "ABORT's Verification Tag");
}

/// The association is alive with these tags: a HEARTBEAT under `iut_tag` is
/// answered, under `peer_tag`, with the Heartbeat Info unchanged.
#[track_caller]
pub fn assert_alive(t: &mut Tester, iut_tag: u32, peer_tag: u32) {
    let hb = Heartbeat {
        info: Bytes::from_static(b"are you still there?"),
    };
    // T -> HEARTBEAT -> IUT
    t.send(iut_tag, &[Chunk::Heartbeat(hb.clone())]);
    // IUT -> HEARTBEAT ACK -> T
    let reply = t.sent_one();
    assert_eq!(
        reply.to, t.from,
        "HEARTBEAT ACK goes to the HEARTBEAT's source"
    );
    assert_eq!(reply.vtag(), peer_tag);
    assert_eq!(reply.packet.chunks, [Chunk::HeartbeatAck(hb)]);
}

/// The parameter types in a run of whole parameter TLVs.
pub fn tlv_types(mut tlvs: &[u8]) -> Vec<u16> {
    let mut types = Vec::new();
    while tlvs.len() >= 4 {
        types.push(u16::from_be_bytes([tlvs[0], tlvs[1]]));
        let len = usize::from(u16::from_be_bytes([tlvs[2], tlvs[3]])).max(4);
        tlvs = &tlvs[len.next_multiple_of(4).min(tlvs.len())..];
    }
    types
}

/// The types an INIT ACK reports in its Unrecognized Parameter parameters.
pub fn reported_in(ack: &Init) -> Vec<u16> {
    ack.params
        .iter()
        .flat_map(|p| match p {
            Param::UnrecognizedParameter(tlvs) => tlv_types(tlvs),
            _ => vec![],
        })
        .collect()
}

pub fn unknown_param(ty: u16) -> Param {
    Param::Unknown {
        param_type: ParamType(ty),
        value: Bytes::from_static(b"xyz"),
    }
}

/// Lets `span` pass in 100 ms steps, running timers; returns what the IUT
/// sent and when (time since the call).
pub fn run_for(t: &mut Tester, span: Duration) -> Vec<(Duration, Sent)> {
    let step = Duration::from_millis(100);
    let mut elapsed = Duration::ZERO;
    let mut out = Vec::new();
    while elapsed < span {
        t.advance(step);
        elapsed += step;
        out.extend(t.sent().into_iter().map(|s| (elapsed, s)));
    }
    out
}

pub fn secs(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|&s| Duration::from_secs(s)).collect()
}

/// Writes the CRC32c of hand-made bytes into the header (least significant
/// byte first, RFC 9260 Appendix A).
pub fn fix_checksum(bytes: &mut [u8]) {
    let crc = packet_checksum(bytes).unwrap();
    bytes[8..12].copy_from_slice(&crc.to_le_bytes());
}

/// Tags that look random: all distinct, and each bit set in 40 % to 60 %
/// of them (RFC 9260 §5.3.1).
#[track_caller]
pub fn assert_random_tags(tags: &[u32]) {
    assert_eq!(tags.len(), 1000);
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
pub fn unknown_init_parameters(middle: u16, reported: &[u16], address_processed: bool) {
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

/// Checks the ETSI record for `groups` against the tests in `source`:
/// NOT_YET names each purpose once, with a reason, none that is tested;
/// every purpose of these groups in docs/etsi-test-purposes.md is tested
/// (a `fn sctp_…(` in `source`) or listed, never both; there are
/// `expected` of them.
#[allow(dead_code)]
pub fn assert_record(source: &str, not_yet: &[(&str, &str)], groups: &[&str], expected: usize) {
    let mut listed = std::collections::HashSet::new();
    for (id, reason) in not_yet {
        assert!(listed.insert(*id), "{id} is listed twice");
        assert!(!reason.trim().is_empty(), "{id} has no reason");
        let function = format!("fn {}(", id.replace('-', "_"));
        assert!(
            !source.contains(&function),
            "{id} is both tested and listed as not yet applicable"
        );
    }
    let record = include_str!("../../../../docs/etsi-test-purposes.md");
    let mut seen = 0;
    for line in record.lines() {
        let Some(cell) = line.strip_prefix("| ") else {
            continue;
        };
        let id = cell.split('|').next().unwrap().trim();
        if !id.starts_with("sctp-") || !groups.contains(&id.split('-').nth(1).unwrap()) {
            continue;
        }
        seen += 1;
        let function = format!("fn {}(", id.replace('-', "_"));
        assert!(
            source.contains(&function) != listed.contains(id),
            "{id} must be either tested or listed, not both or neither"
        );
    }
    assert_eq!(seen, expected, "purposes of {groups:?} in the record");
    for (id, _) in not_yet {
        assert!(
            record.contains(&format!("| {id} |")),
            "{id} is not a test purpose of the record"
        );
    }
}
