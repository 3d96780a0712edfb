//! Real packets: an exchange between Debian's usrsctp example programs
//! (`daytime_server` and `client`, and `echo_server` and `client`) over UDP
//! encapsulation, captured with tcpdump. Every packet must parse, re-encode
//! to the same bytes, and carry the field values tshark shows for it.

use bytes::Bytes;
use usctp::capture::{self, Datagram};
use usctp::proto::chunk::{Chunk, CommonHeader, DataFlags, Packet, Param, ParamType};
use usctp::proto::serial::{Ssn, Tsn};

/// The single chunk of the packet `$packet`, checked to be a `$variant`.
macro_rules! only {
    ($packet:expr, $variant:path) => {
        match &$packet.chunks[..] {
            [$variant(chunk)] => chunk,
            other => panic!("expected one {}, got {other:?}", stringify!($variant)),
        }
    };
}

#[track_caller]
fn fixture(name: &str) -> Vec<Datagram> {
    let path = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::File::open(&path).unwrap();
    let datagrams = capture::read_udp(file).unwrap();
    assert!(!datagrams.is_empty(), "{path} holds no UDP");
    datagrams
}

#[track_caller]
fn parse(d: &Datagram) -> Packet {
    Packet::parse(d.payload.clone()).unwrap_or_else(|e| panic!("frame {}: {e}", d.frame))
}

#[test]
fn every_captured_packet_parses_and_reencodes_byte_for_byte() {
    for name in ["daytime.pcap", "echo.pcap"] {
        for d in fixture(name) {
            let packet = parse(&d);
            packet.check_bundling().unwrap();
            let mut out = Vec::new();
            packet.emit(&mut out).unwrap();
            assert_eq!(Bytes::from(out), d.payload, "{name} frame {}", d.frame);
        }
    }
}

#[test]
fn daytime_exchange_has_the_chunks_tshark_shows() {
    let names: Vec<Vec<String>> = fixture("daytime.pcap")
        .iter()
        .map(|d| {
            parse(d)
                .chunks
                .iter()
                .map(|c| c.chunk_type().to_string())
                .collect()
        })
        .collect();
    let expected: [&[&str]; 13] = [
        &["INIT"],
        &["INIT_ACK"],
        &["COOKIE_ECHO"],
        &["COOKIE_ACK"],
        &["HEARTBEAT"],
        &["HEARTBEAT"],
        &["HEARTBEAT_ACK"],
        &["HEARTBEAT_ACK"],
        &["SHUTDOWN"],
        &["DATA"],
        &["SHUTDOWN"],
        &["SHUTDOWN", "SHUTDOWN_ACK"],
        &["SHUTDOWN_COMPLETE"],
    ];
    assert_eq!(names, expected);
}

#[test]
fn usrsctp_init_fields() {
    // Frame 1: 127.0.0.1:9900 -> 127.0.0.1:9899, INIT from the client.
    let d = &fixture("daytime.pcap")[0];
    let packet = parse(d);
    assert_eq!(
        packet.header,
        CommonHeader {
            src_port: 55974,
            dst_port: 13,
            verification_tag: 0,
            checksum: packet.header.checksum,
        }
    );
    let init = only!(packet, Chunk::Init);
    assert_eq!(init.initiate_tag, 0x5112_ddd8);
    assert_eq!(init.a_rwnd, 131_072);
    assert_eq!((init.outbound_streams, init.inbound_streams), (10, 2048));
    assert_eq!(init.initial_tsn, Tsn(4_011_996_451));
    let types: Vec<ParamType> = init.params.iter().map(Param::param_type).collect();
    assert_eq!(
        types,
        [
            ParamType::ECN_CAPABLE,
            ParamType::FORWARD_TSN_SUPPORTED,
            ParamType::SUPPORTED_EXTENSIONS,
            ParamType::RANDOM,
            ParamType::REQUESTED_HMAC_ALGORITHM,
            ParamType::CHUNK_LIST,
            ParamType::SUPPORTED_ADDRESS_TYPES,
            ParamType::IPV6_ADDRESS,
            ParamType::IPV4_ADDRESS,
            ParamType::IPV6_ADDRESS,
            ParamType::IPV4_ADDRESS,
        ]
    );
    assert_eq!(
        init.params.last().and_then(Param::address),
        Some("127.0.0.1".parse().unwrap())
    );
    assert!(matches!(&init.params[3], Param::Random(r) if r.len() == 32));
    assert_eq!(init.params[4], Param::RequestedHmacAlgorithm(vec![1]));
}

#[test]
fn usrsctp_init_ack_carries_a_cookie_echoed_verbatim() {
    let datagrams = fixture("daytime.pcap");
    let init_ack = parse(&datagrams[1]);
    let ack = only!(init_ack, Chunk::InitAck);
    assert_eq!(init_ack.header.verification_tag, 0x5112_ddd8);
    assert_eq!(ack.initiate_tag, 0xde26_7235);
    let cookie = ack.state_cookie().expect("INIT ACK without cookie");
    assert_eq!(cookie.len(), 396);
    let echo = parse(&datagrams[2]);
    assert_eq!(echo.header.verification_tag, 0xde26_7235);
    assert!(matches!(&echo.chunks[..], [Chunk::CookieEcho(c)] if c.cookie == cookie));
}

#[test]
fn usrsctp_data_and_sack_fields() {
    let datagrams = fixture("echo.pcap");
    // Frame 16: the client's first message, "hello\n".
    let data = parse(&datagrams[15]);
    let d = only!(data, Chunk::Data);
    assert_eq!(d.tsn, Tsn(100_692_956));
    assert_eq!((d.stream, d.ssn, d.ppid), (0, Ssn(0), 0));
    assert_eq!(d.flags, DataFlags::WHOLE);
    assert_eq!(&d.payload[..], b"hello\n");
    // Frame 18: its SACK.
    let sack = parse(&datagrams[17]);
    let s = only!(sack, Chunk::Sack);
    assert_eq!(s.cumulative_tsn_ack, Tsn(100_692_956));
    assert_eq!(s.a_rwnd, 130_402);
    assert!(s.gap_blocks.is_empty() && s.duplicate_tsns.is_empty());
    // Frame 22: a SACK bundled before DATA, as RFC 9260 §6.10 orders.
    let bundled = parse(&datagrams[21]);
    assert!(matches!(&bundled.chunks[..], [Chunk::Sack(_), Chunk::Data(d)] if d.ssn == Ssn(1)));
}

#[test]
fn usrsctp_heartbeat_info_is_echoed_unchanged() {
    let datagrams = fixture("daytime.pcap");
    let hb = parse(&datagrams[4]);
    let ack = parse(&datagrams[7]);
    let (Chunk::Heartbeat(hb), Chunk::HeartbeatAck(ack)) = (&hb.chunks[0], &ack.chunks[0]) else {
        panic!("not a heartbeat exchange")
    };
    assert_eq!(hb.info.len(), 36);
    assert_eq!(hb.info, ack.info);
}

#[test]
fn usrsctp_shutdown_sequence() {
    let datagrams = fixture("echo.pcap");
    let shutdown = parse(&datagrams[23]);
    assert!(
        matches!(&shutdown.chunks[..], [Chunk::Shutdown(s)] if s.cumulative_tsn_ack == Tsn(1_036_923_741))
    );
    assert_eq!(parse(&datagrams[24]).chunks, [Chunk::ShutdownAck]);
    let complete = parse(&datagrams[25]);
    assert!(matches!(&complete.chunks[..], [Chunk::ShutdownComplete(c)] if !c.reflected_tag));
}
