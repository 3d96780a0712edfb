//! Black-box robustness over UDP: a burst of garbage, truncated, mutated,
//! replayed and forged packets at a running `usctp echo-server`, some aimed
//! at a live association (its peer address and SCTP port, wrong tags).
//! Afterwards the server is still running, the live association still
//! echoes, and a new one comes up and echoes.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{Reaper, USCTP, free_loopback_addr};
use usctp::proto::chunk::{
    Abort, Chunk, ChunkType, CommonHeader, CookieEcho, Data, DataFlags, Heartbeat, Init, Packet,
    Param, ParamType, Sack, Shutdown, UnknownChunk,
};
use usctp::proto::serial::{Ssn, Tsn};
use usctp::socket::{ConnectOptions, SctpStream};

const ECHO_PORT: u16 = 7;

/// A packet with a correct checksum.
fn packet(src_port: u16, vtag: u32, chunks: Vec<Chunk>) -> Vec<u8> {
    let p = Packet {
        header: CommonHeader {
            src_port,
            dst_port: ECHO_PORT,
            verification_tag: vtag,
            checksum: 0,
        },
        chunks,
    };
    let mut buf = Vec::new();
    p.emit(&mut buf).unwrap();
    buf
}

fn init(tag: u32, params: Vec<Param>) -> Chunk {
    Chunk::Init(Init {
        initiate_tag: tag,
        a_rwnd: 65_535,
        outbound_streams: 4,
        inbound_streams: 4,
        initial_tsn: Tsn(tag),
        params,
    })
}

fn data(tsn: u32) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags {
            beginning: true,
            end: true,
            ..DataFlags::default()
        },
        tsn: Tsn(tsn),
        stream: 0,
        ssn: Ssn(0),
        ppid: 0,
        payload: Bytes::from_static(b"forged"),
    })
}

/// Everything hostile, from `rng`, for a server whose live association has
/// the peer SCTP port `victim_port`.
fn hostile(rng: &mut StdRng, victim_port: u16, real_cookie: &Bytes) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let attacker_port = 40_001;
    // Garbage of every length up to a large datagram.
    for len in [0, 1, 4, 11, 12, 13, 15, 16, 100, 1200, 9000] {
        all.push((0..len).map(|_| rng.random()).collect());
    }
    // A valid INIT, then every truncation of it, and a bad checksum.
    let good = packet(attacker_port, 0, vec![init(0x1111, vec![])]);
    for cut in 1..good.len() {
        all.push(good[..cut].to_vec());
    }
    let mut bad_crc = good.clone();
    bad_crc[8] ^= 1;
    all.push(bad_crc);
    // Random bit flips of valid packets, checksum fixed up afterwards so
    // that the parser, not the CRC, has to cope.
    for _ in 0..300 {
        let mut p = good.clone();
        let bit = rng.random_range(12 * 8..p.len() * 8);
        p[bit / 8] ^= 1 << (bit % 8);
        let sum = usctp::proto::chunk::packet::packet_checksum(&p).unwrap();
        p[8..12].copy_from_slice(&sum.to_le_bytes());
        all.push(p);
    }
    // Chunk lengths running past the end of the packet.
    let mut long = packet(attacker_port, 0, vec![init(0x2222, vec![])]);
    long[14..16].copy_from_slice(&0xfff0u16.to_be_bytes());
    let sum = usctp::proto::chunk::packet::packet_checksum(&long).unwrap();
    long[8..12].copy_from_slice(&sum.to_le_bytes());
    all.push(long);
    // INITs with unknown parameters of each action class, and a tag of 0.
    for high_bits in [0x0000u16, 0x4000, 0x8000, 0xc000] {
        let unknown = Param::Unknown {
            param_type: ParamType(high_bits | 0x0123),
            value: Bytes::from_static(b"xx"),
        };
        all.push(packet(attacker_port, 0, vec![init(0x3333, vec![unknown])]));
    }
    all.push(packet(attacker_port, 0, vec![init(0, vec![])]));
    // Forged cookies: random bytes, and the real cookie with each of
    // its first bits flipped.
    for _ in 0..20 {
        let cookie: Vec<u8> = (0..rng.random_range(1..400))
            .map(|_| rng.random())
            .collect();
        let echo = Chunk::CookieEcho(CookieEcho {
            cookie: cookie.into(),
        });
        all.push(packet(attacker_port, rng.random(), vec![echo]));
    }
    for bit in 0..(real_cookie.len() * 8).min(256) {
        let mut forged = real_cookie.to_vec();
        forged[bit / 8] ^= 1 << (bit % 8);
        let echo = Chunk::CookieEcho(CookieEcho {
            cookie: forged.into(),
        });
        all.push(packet(attacker_port, 0x4444, vec![echo]));
    }
    // Aimed at the live association (its address and port): wrong tags on
    // DATA, SACK, HEARTBEAT, SHUTDOWN and ABORT (with and without the T
    // bit), and unknown chunks of each action class.
    for _ in 0..50 {
        let tag: u32 = rng.random();
        let chunks = [
            data(rng.random()),
            Chunk::Sack(Sack {
                cumulative_tsn_ack: Tsn(rng.random()),
                a_rwnd: 0,
                gap_blocks: vec![],
                duplicate_tsns: vec![],
            }),
            Chunk::Heartbeat(Heartbeat {
                info: Bytes::from_static(b"hb"),
            }),
            Chunk::Shutdown(Shutdown {
                cumulative_tsn_ack: Tsn(rng.random()),
            }),
            Chunk::Abort(Abort::default()),
            Chunk::Abort(Abort {
                reflected_tag: true,
                causes: vec![],
            }),
        ];
        for chunk in chunks {
            all.push(packet(victim_port, tag, vec![chunk]));
        }
        for high_bits in [0x00u8, 0x40, 0x80, 0xc0] {
            let unknown = Chunk::Unknown(UnknownChunk {
                chunk_type: ChunkType(high_bits | 0x2e),
                flags: 0,
                value: Bytes::from_static(b"unknown"),
            });
            all.push(packet(victim_port, tag, vec![unknown]));
        }
    }
    // Replays: everything so far a second time.
    let replay = all.clone();
    all.extend(replay);
    all
}

/// Sends an INIT from a raw socket and returns the cookie of the INIT ACK.
fn real_cookie(raw: &UdpSocket, server: SocketAddr) -> Bytes {
    raw.send_to(&packet(40_002, 0, vec![init(0x5555, vec![])]), server)
        .unwrap();
    let mut buf = [0u8; 2048];
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (len, _) = raw.recv_from(&mut buf).expect("an INIT ACK");
    let p = Packet::parse(Bytes::copy_from_slice(&buf[..len])).unwrap();
    let Some(Chunk::InitAck(ack)) = p.chunks.first() else {
        panic!("expected INIT ACK, got {p:?}")
    };
    ack.params
        .iter()
        .find_map(|p| match p {
            Param::StateCookie(c) => Some(c.clone()),
            _ => None,
        })
        .expect("a cookie")
}

/// An association from loopback, SCTP port `port` (0: any), to the echo
/// server at `server`.
async fn echo_client(server: SocketAddr, port: u16) -> SctpStream {
    let options = ConnectOptions::default()
        .with_port(port)
        .with_local("127.0.0.1:0".parse().unwrap());
    SctpStream::connect(server, ECHO_PORT, options)
        .await
        .unwrap()
}

async fn echo_once(stream: &mut SctpStream, text: &'static str) {
    stream
        .send(1, 0, Bytes::from_static(text.as_bytes()))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), stream.recv())
        .await
        .expect("echo within 10 s")
        .expect("association open");
    assert_eq!(&reply.data[..], text.as_bytes());
}

#[tokio::test]
async fn hostile_packets_leave_the_server_and_its_associations_working() {
    let server_addr: SocketAddr = free_loopback_addr().parse().unwrap();
    let child = Command::new(USCTP)
        .args(["echo-server", "--listen", &server_addr.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Reaper::new(child);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let victim_port = 45_678;
    let mut live = echo_client(server_addr, victim_port).await;
    echo_once(&mut live, "before").await;

    let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
    let cookie = real_cookie(&raw, server_addr);
    let mut rng = StdRng::seed_from_u64(0x0b0e);
    let burst = hostile(&mut rng, victim_port, &cookie);
    let count = burst.len();
    for datagram in &burst {
        let _ = raw.send_to(datagram, server_addr);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert!(
        server.child().try_wait().unwrap().is_none(),
        "the server died after {count} hostile datagrams"
    );
    echo_once(&mut live, "after").await;
    let mut fresh = echo_client(server_addr, 0).await;
    echo_once(&mut fresh, "fresh").await;
    println!("{count} hostile datagrams; both associations echo");
}
