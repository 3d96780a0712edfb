//! `usctp decode` as a user runs it, checked against tshark where it is
//! installed (CI installs it; elsewhere the tshark comparisons say they were
//! skipped, and fail if `CI` is set).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use bytes::Bytes;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use support::{USCTP, available};
use usctp::proto::chunk::{
    Abort, Asconf, AsconfAck, Auth, Chunk, ChunkType, CommonHeader, CookieEcho, Cwr, Data,
    DataFlags, Ecne, ErrorCause, ErrorChunk, ForwardTsn, ForwardTsnStream, GapBlock, Heartbeat,
    IData, IForwardTsn, IForwardTsnStream, Init, NrSack, OutgoingSsnReset, PacketWriter, Pad,
    Param, ReconfigResponse, ReconfigResult, Sack, Shutdown, ShutdownComplete, UnknownChunk,
    packet::packet_checksum,
};
use usctp::proto::serial::{Mid, Ssn, Tsn};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// A line of decode's output ends with `suffix`.
#[track_caller]
fn assert_ends_with(line: &str, suffix: &str) {
    assert!(line.ends_with(suffix), "{line}");
}

fn decode(file: &Path) -> Output {
    Command::new(USCTP)
        .arg("decode")
        .arg(file)
        .output()
        .unwrap()
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The chunk names decode printed on a line, in order.
fn chunk_names(line: &str) -> Vec<String> {
    let Some((_, chunks)) = line.split_once(": ") else {
        return vec![];
    };
    chunks
        .split("; ")
        .map(|c| match c.strip_prefix("UNKNOWN(") {
            Some(rest) => format!("UNKNOWN({})", rest.split(')').next().unwrap()),
            None => c.split('(').next().unwrap().trim().to_owned(),
        })
        .filter(|name| !name.starts_with("malformed"))
        .collect()
}

/// tshark, if installed. Under CI its absence is a failure.
fn tshark() -> Option<&'static str> {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    available(
        "tshark (the comparisons)",
        (!found).then_some("tshark not installed"),
    )
    .then_some("tshark")
}

/// Per frame, the chunk types tshark dissects, as (frame, [type numbers]).
fn tshark_chunks(tshark: &str, file: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new(tshark);
    cmd.args(["-r"]).arg(file).args([
        "-d",
        "udp.port==9899,sctp",
        "-o",
        "sctp.checksum:crc-32c",
        "-T",
        "fields",
        "-E",
        "separator=/t",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn decode_lists_the_same_chunks_as_tshark() {
    for name in ["daytime.pcap", "echo.pcap"] {
        let out = decode(&fixture(name));
        assert!(out.status.success());
        let lines = stdout_lines(&out);
        assert!(
            lines.iter().all(|l| l.contains("checksum ok")),
            "{lines:#?}"
        );
        let ours: Vec<Vec<String>> = lines.iter().map(|l| chunk_names(l)).collect();
        let Some(tshark) = tshark() else { continue };
        let theirs: Vec<Vec<String>> = tshark_chunks(tshark, &fixture(name), &["sctp.chunk_type"])
            .into_iter()
            .map(|fields| {
                fields[0]
                    .split(',')
                    .map(|t| ChunkType(t.parse().unwrap()).to_string())
                    .collect()
            })
            .collect();
        assert_eq!(ours, theirs, "{name}");
    }
}

#[test]
fn decode_prints_key_fields() {
    let lines = stdout_lines(&decode(&fixture("echo.pcap")));
    assert_eq!(lines.len(), 26);
    assert!(lines[0].starts_with("1 0.000000 127.0.0.1:9900 > 127.0.0.1:9899 sctp 63794 > 7 vtag=0x00000000 checksum ok: INIT(init_tag=0x55e8c391, a_rwnd=131072, os=10, mis=2048, init_tsn=100692956"), "{}", lines[0]);
    assert_ends_with(
        &lines[15],
        "DATA(tsn=100692956, stream=0, ssn=0, ppid=0, len=6, flags=BE)",
    );
    assert_ends_with(
        &lines[17],
        "SACK(cum_tsn=100692956, a_rwnd=130402, gaps=[], dups=0)",
    );
}

fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    etherparse::PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
        .udp(9900, 9899)
        .write(&mut frame, payload)
        .unwrap();
    frame
}

fn write_pcap(path: &Path, payloads: &[Vec<u8>]) {
    let file = std::fs::File::create(path).unwrap();
    let header = PcapHeader {
        datalink: DataLink::RAW,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    for (i, p) in payloads.iter().enumerate() {
        let frame = ipv4_udp(p);
        w.write_packet(&PcapPacket::new(
            Duration::from_millis(i as u64),
            frame.len() as u32,
            &frame,
        ))
        .unwrap();
    }
}

fn packet(chunks: &[Chunk]) -> Vec<u8> {
    let header = CommonHeader {
        src_port: 5000,
        dst_port: 13,
        verification_tag: 0x0102_0304,
        checksum: 0,
    };
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, header, 65_000);
    for c in chunks {
        w.push(c).unwrap();
    }
    w.finish();
    buf
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("usctp-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn bad_checksum_and_truncated_chunk_are_flagged_and_decoding_goes_on() {
    let good = packet(&[Chunk::CookieAck]);
    let mut bad_crc = good.clone();
    bad_crc[8] ^= 0xff;
    // A SHUTDOWN whose length claims 16 bytes in a packet that has 8.
    let mut truncated = packet(&[Chunk::Shutdown(Shutdown {
        cumulative_tsn_ack: Tsn(7),
    })]);
    truncated[15] = 16;
    let crc = packet_checksum(&truncated).unwrap();
    truncated[8..12].copy_from_slice(&crc.to_le_bytes());
    let after = packet(&[Chunk::ShutdownAck]);
    let path = temp("damaged.pcap");
    write_pcap(&path, &[good, bad_crc, truncated, after]);

    let out = decode(&path);
    assert!(out.status.success());
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert_ends_with(&lines[0], "checksum ok: COOKIE_ACK");
    assert!(lines[1].contains("bad checksum"), "{}", lines[1]);
    assert_ends_with(&lines[1], ": COOKIE_ACK");
    let truncated = "checksum ok: malformed: chunk header: truncated, needs 16 bytes, 8 left";
    assert_ends_with(&lines[2], truncated);
    assert_ends_with(&lines[3], "checksum ok: SHUTDOWN_ACK");

    let Some(tshark) = tshark() else { return };
    // tshark agrees: frame 2's checksum is bad, frame 3 is malformed.
    let rows = tshark_chunks(tshark, &path, &["sctp.checksum.status", "_ws.malformed"]);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1][0], "0", "tshark: bad checksum status");
    assert!(rows[2][1].contains("_ws.malformed"), "{rows:?}");
    assert!(rows[3].get(1).is_none_or(|m| m.is_empty()), "{rows:?}");
}

#[test]
fn every_chunk_type_is_dissected_by_tshark_as_we_emit_it() {
    let data = Data {
        flags: DataFlags {
            immediate: true,
            ..DataFlags::WHOLE
        },
        tsn: Tsn(100),
        stream: 3,
        ssn: Ssn(4),
        ppid: 51,
        payload: Bytes::from_static(b"hello"),
    };
    let init = Init {
        initiate_tag: 0xabcd,
        a_rwnd: 1 << 20,
        outbound_streams: 5,
        inbound_streams: 5,
        initial_tsn: Tsn(1),
        params: vec![
            Param::Ipv4Address([10, 0, 0, 1].into()),
            Param::Ipv6Address("2001:db8::1".parse().unwrap()),
            Param::SupportedAddressTypes(vec![usctp::proto::chunk::ParamType::IPV4_ADDRESS]),
            Param::CookiePreservative(1000),
            Param::EcnCapable,
            Param::ForwardTsnSupported,
            Param::SupportedExtensions(vec![ChunkType::RE_CONFIG, ChunkType::FORWARD_TSN]),
            Param::AdaptationLayerIndication(7),
            Param::ZeroChecksumAcceptable(1),
        ],
    };
    let mut init_ack = init.clone();
    init_ack
        .params
        .push(Param::StateCookie(Bytes::from_static(&[9; 21])));
    let packets: Vec<Vec<Chunk>> = vec![
        vec![Chunk::Init(init)],
        vec![Chunk::InitAck(init_ack)],
        vec![
            Chunk::CookieEcho(CookieEcho {
                cookie: Bytes::from_static(&[9; 21]),
            }),
            Chunk::Data(data.clone()),
        ],
        vec![
            Chunk::CookieAck,
            Chunk::Sack(Sack {
                cumulative_tsn_ack: Tsn(100),
                a_rwnd: 5000,
                gap_blocks: vec![GapBlock { start: 2, end: 3 }, GapBlock { start: 5, end: 5 }],
                duplicate_tsns: vec![Tsn(99)],
            }),
            Chunk::Heartbeat(Heartbeat {
                info: Bytes::from_static(b"nonce+time"),
            }),
            Chunk::HeartbeatAck(Heartbeat {
                info: Bytes::from_static(b"nonce+time"),
            }),
            Chunk::Error(ErrorChunk {
                causes: vec![
                    ErrorCause::InvalidStreamIdentifier(9),
                    ErrorCause::StaleCookie { staleness_us: 1500 },
                    ErrorCause::NoUserData(Tsn(5)),
                ],
            }),
            Chunk::Ecne(Ecne { lowest_tsn: Tsn(7) }),
            Chunk::Cwr(Cwr { lowest_tsn: Tsn(7) }),
            Chunk::ForwardTsn(ForwardTsn {
                new_cumulative_tsn: Tsn(120),
                streams: vec![ForwardTsnStream {
                    stream: 1,
                    ssn: Ssn(2),
                }],
            }),
            Chunk::ReConfig(vec![
                Param::OutgoingSsnReset(OutgoingSsnReset {
                    request_seq: 1,
                    response_seq: 0,
                    last_tsn: Tsn(99),
                    streams: vec![1, 2, 3],
                }),
                Param::ReconfigResponse(ReconfigResponse {
                    response_seq: 4,
                    result: ReconfigResult::SUCCESS_PERFORMED,
                    next_tsns: None,
                }),
            ]),
            Chunk::Asconf(Asconf {
                serial: 1,
                address: "10.0.0.1".parse().unwrap(),
                params: vec![Param::AddIpAddress(usctp::proto::chunk::AsconfParam {
                    correlation_id: 1,
                    address: "10.0.0.2".parse().unwrap(),
                })],
            }),
            Chunk::AsconfAck(AsconfAck {
                serial: 1,
                params: vec![Param::SuccessIndication(1)],
            }),
            Chunk::Auth(Auth {
                shared_key_id: 0,
                hmac_id: 1,
                hmac: Bytes::from_static(&[1; 20]),
            }),
            Chunk::Pad(Pad {
                padding: Bytes::from_static(&[0; 8]),
            }),
            Chunk::NrSack(NrSack {
                flags: 0,
                cumulative_tsn_ack: Tsn(100),
                a_rwnd: 5000,
                gap_blocks: vec![GapBlock { start: 2, end: 3 }],
                nr_gap_blocks: vec![GapBlock { start: 2, end: 3 }],
                duplicate_tsns: vec![],
            }),
            Chunk::IForwardTsn(IForwardTsn {
                new_cumulative_tsn: Tsn(130),
                streams: vec![IForwardTsnStream {
                    stream: 1,
                    unordered: true,
                    mid: Mid(8),
                }],
            }),
            Chunk::Unknown(UnknownChunk {
                chunk_type: ChunkType(0xbf),
                flags: 0,
                value: Bytes::from_static(b"?"),
            }),
            Chunk::Data(data.clone()),
            Chunk::IData(IData {
                flags: DataFlags::WHOLE,
                tsn: Tsn(101),
                stream: 3,
                mid: Mid(0),
                ppid_or_fsn: 51,
                payload: Bytes::from_static(b"world"),
            }),
        ],
        vec![
            Chunk::Shutdown(Shutdown {
                cumulative_tsn_ack: Tsn(100),
            }),
            Chunk::ShutdownAck,
            Chunk::Abort(Abort {
                reflected_tag: true,
                causes: vec![ErrorCause::UserInitiatedAbort(Bytes::from_static(b"bye"))],
            }),
        ],
        vec![Chunk::ShutdownComplete(ShutdownComplete {
            reflected_tag: true,
        })],
    ];
    let payloads: Vec<Vec<u8>> = packets.iter().map(|p| packet(p)).collect();
    let path = temp("every-chunk.pcap");
    write_pcap(&path, &payloads);

    let lines = stdout_lines(&decode(&path));
    let ours: Vec<Vec<String>> = lines.iter().map(|l| chunk_names(l)).collect();
    let expected: Vec<Vec<String>> = packets
        .iter()
        .map(|p| p.iter().map(|c| c.chunk_type().to_string()).collect())
        .collect();
    assert_eq!(ours, expected);

    let Some(tshark) = tshark() else { return };
    let rows = tshark_chunks(
        tshark,
        &path,
        &[
            "sctp.checksum.status",
            "sctp.chunk_type",
            "sctp.chunk_length",
            "_ws.malformed",
            "_ws.expert.severity",
        ],
    );
    assert_eq!(rows.len(), packets.len());
    for ((row, chunks), wire) in rows.iter().zip(&packets).zip(&payloads) {
        assert_eq!(row[0], "1", "checksum status of {chunks:?}");
        let types: Vec<u8> = row[1].split(',').map(|t| t.parse().unwrap()).collect();
        let expected: Vec<u8> = chunks.iter().map(|c| c.chunk_type().0).collect();
        assert_eq!(types, expected);
        // Our lengths, read back from our bytes, are the lengths tshark saw.
        let lengths: Vec<usize> = row[2].split(',').map(|t| t.parse().unwrap()).collect();
        let mut at = 12;
        for &len in &lengths {
            assert_eq!(
                usize::from(u16::from_be_bytes([wire[at + 2], wire[at + 3]])),
                len
            );
            at += len.next_multiple_of(4);
        }
        assert_eq!(at, wire.len());
        assert!(
            row.get(3).is_none_or(|m| m.is_empty()),
            "tshark calls {chunks:?} malformed: {row:?}"
        );
    }

    // Field values, read by tshark from our bytes: (field, packet, value).
    let expected: &[(&str, usize, &str)] = &[
        ("sctp.init_initiate_tag", 0, "0x0000abcd"),
        ("sctp.init_initial_tsn", 0, "1"),
        ("sctp.init_nr_out_streams", 0, "5"),
        ("sctp.parameter_ipv4_address", 0, "10.0.0.1"),
        ("sctp.parameter_ipv6_address", 0, "2001:db8::1"),
        ("sctp.initack_initiate_tag", 1, "0x0000abcd"),
        ("sctp.data_tsn_raw", 2, "100"),
        ("sctp.data_sid", 2, "0x0003"),
        ("sctp.data_ssn", 2, "4"),
        ("sctp.data_payload_proto_id", 2, "51"),
        ("sctp.data_i_bit", 2, "1"),
        ("sctp.data_tsn_raw", 3, "100,101"),
        ("sctp.data_mid", 3, "0"),
        ("sctp.sack_cumulative_tsn_ack_raw", 3, "100"),
        ("sctp.sack_a_rwnd", 3, "5000"),
        ("sctp.sack_gap_block_start", 3, "2,5"),
        ("sctp.sack_gap_block_end", 3, "3,5"),
        ("sctp.sack_duplicate_tsn", 3, "99"),
        ("sctp.cause_code", 3, "0x0001,0x0003,0x0009"),
        ("sctp.cause_tsn", 3, "5"),
        ("sctp.ecne_lowest_tsn", 3, "7"),
        ("sctp.cwr_lowest_tsn", 3, "7"),
        ("sctp.forward_tsn_tsn", 3, "120"),
        ("sctp.forward_tsn_sid", 3, "1"),
        ("sctp.forward_tsn_ssn", 3, "2"),
        ("sctp.parameter_senders_last_assigned_tsn", 3, "99"),
        ("sctp.parameter_reconfig_sid", 3, "1,2,3"),
        ("sctp.parameter_reconfig_response_result", 3, "1"),
        ("sctp.asconf_seq_nr_number", 3, "0x00000001"),
        ("sctp.asconf_ack_seq_nr_number", 3, "0x00000001"),
        ("sctp.parameter_ipv4_address", 3, "10.0.0.1,10.0.0.2"),
        ("sctp.nr_sack_nr_gap_block_start", 3, "2"),
        ("sctp.i_forward_tsn_tsn", 3, "130"),
        ("sctp.forward_tsn_mid", 3, "8"),
        ("sctp.i_forward_tsn_u_bit", 3, "1"),
        ("sctp.shutdown_cumulative_tsn_ack", 4, "100"),
        ("sctp.abort_t_bit", 4, "1"),
        ("sctp.cause_code", 4, "0x000c"),
        ("sctp.shutdown_complete_t_bit", 5, "1"),
    ];
    // tshark prints a field named twice only once: ask for each once.
    let mut fields: Vec<&str> = expected.iter().map(|(f, _, _)| *f).collect();
    fields.sort_unstable();
    fields.dedup();
    let rows = tshark_chunks(tshark, &path, &fields);
    for (field, packet, value) in expected {
        let column = fields.iter().position(|f| f == field).unwrap();
        assert_eq!(rows[*packet][column], *value, "{field} of packet {packet}");
    }
}

#[test]
fn unreadable_files_exit_non_zero() {
    let out = decode(Path::new("/nonexistent/capture.pcap"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usctp: /nonexistent/capture.pcap"));
    let junk = temp("junk.pcap");
    std::fs::write(&junk, b"this is not a capture at all").unwrap();
    assert!(!decode(&junk).status.success());
}

/// The time column of decode's lines: seconds since the first packet, or
/// since the epoch with `--absolute-time`.
/// Kills process `pid` after 20 s, so that a read from a decode that
/// does not print what it should fails the test instead of hanging it.
fn watchdog(pid: u32) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
}

fn times(out: &Output) -> Vec<f64> {
    stdout_lines(out)
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn each_packet_has_its_capture_time_relative_or_absolute() {
    let relative = times(&decode(&fixture("echo.pcap")));
    assert_eq!(relative[0], 0.0);
    assert!(relative.windows(2).all(|w| w[0] <= w[1]), "{relative:?}");
    assert!(relative.last().unwrap() > &0.0, "{relative:?}");
    let out = Command::new(USCTP)
        .args(["decode", "--absolute-time"])
        .arg(fixture("echo.pcap"))
        .output()
        .unwrap();
    let absolute = times(&out);
    // The fixture was captured in 2025 or later.
    assert!(absolute[0] > 1.7e9, "{absolute:?}");
    for (a, r) in absolute.iter().zip(&relative) {
        assert!((a - absolute[0] - r).abs() < 1e-5, "{a} {r}");
    }
}

#[test]
fn standard_input_is_decoded_as_it_arrives() {
    use std::io::{BufRead, BufReader, Write};
    let capture = std::fs::read(fixture("echo.pcap")).unwrap();
    let mut child = Command::new(USCTP)
        .args(["decode", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    watchdog(child.id());
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The header and the first packet only (24 + 16 + the frame): its line
    // comes while the pipe stays open.
    let first_len = u32::from_le_bytes(capture[32..36].try_into().unwrap()) as usize;
    let first = 24 + 16 + first_len;
    stdin.write_all(&capture[..first]).unwrap();
    stdin.flush().unwrap();
    let line = lines.next().unwrap().unwrap();
    assert!(line.starts_with("1 0.000000 127.0.0.1:9900 > "), "{line}");
    stdin.write_all(&capture[first..]).unwrap();
    drop(stdin);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(rest.len(), 25);
    assert!(child.wait().unwrap().success());
}

#[test]
fn follow_decodes_a_capture_while_it_is_written() {
    use std::io::{BufRead, BufReader, Write};
    let capture = std::fs::read(fixture("echo.pcap")).unwrap();
    let first_len = u32::from_le_bytes(capture[32..36].try_into().unwrap()) as usize;
    let first = 24 + 16 + first_len;
    let path = temp("growing.pcap");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(&capture[..first]).unwrap();
    file.flush().unwrap();
    let mut child = support::Reaper::new(
        Command::new(USCTP)
            .args(["decode", "--follow"])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    watchdog(child.child().id());
    let mut lines = BufReader::new(child.child().stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    assert!(line.starts_with("1 0.000000 "), "{line}");
    // The rest written later, in two parts, one cut inside a record.
    let middle = first + 30;
    file.write_all(&capture[first..middle]).unwrap();
    file.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    file.write_all(&capture[middle..]).unwrap();
    file.flush().unwrap();
    for frame in 2..=26 {
        let line = lines.next().unwrap().unwrap();
        assert!(line.starts_with(&format!("{frame} ")), "{line}");
    }
    // Still following: the process waits for more.
    assert!(child.child().try_wait().unwrap().is_none());
    std::fs::remove_file(&path).unwrap();
}
