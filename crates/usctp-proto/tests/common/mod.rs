//! A tester that plays the peer with raw packets against an endpoint under
//! test (the IUT), and reads back the raw packets the IUT sends.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use usctp_proto::association::{AssocId, Event};
use usctp_proto::chunk::{Chunk, CommonHeader, Init, Packet, Param};
use usctp_proto::config::Config;
use usctp_proto::endpoint::Endpoint;
use usctp_proto::serial::Tsn;

/// The IUT's SCTP port.
pub const IUT_PORT: u16 = 13;
/// The tester's SCTP port.
pub const TESTER_PORT: u16 = 5000;

pub fn tester_addr() -> SocketAddr {
    "10.0.0.2:9899".parse().unwrap()
}

/// One packet the IUT sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub to: SocketAddr,
    pub packet: Packet,
    pub size: usize,
}

impl Sent {
    pub fn vtag(&self) -> u32 {
        self.packet.header.verification_tag
    }

    #[track_caller]
    pub fn only(&self) -> &Chunk {
        assert_eq!(self.packet.chunks.len(), 1, "{:?}", self.packet.chunks);
        &self.packet.chunks[0]
    }
}

pub struct Tester {
    pub iut: Endpoint,
    pub now: Instant,
    pub from: SocketAddr,
    buf: Vec<u8>,
}

impl Tester {
    /// An IUT listening on port 13 with default parameters.
    pub fn server() -> Self {
        Self::with_config(Config::default(), true)
    }

    pub fn with_config(config: Config, listen: bool) -> Self {
        // Simulated time starts at a real instant and never reads the
        // clock again.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut iut = Endpoint::new(config, IUT_PORT, [42; 32], now);
        if listen {
            iut.listen(usize::MAX);
        }
        Self {
            iut,
            now,
            from: tester_addr(),
            buf: Vec::new(),
        }
    }

    /// Sends `chunks` in one packet with tag `vtag` from the tester.
    pub fn send(&mut self, vtag: u32, chunks: &[Chunk]) {
        let bytes = packet(TESTER_PORT, IUT_PORT, vtag, chunks);
        self.iut.handle(self.now, self.from, Bytes::from(bytes));
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: Vec<u8>) {
        self.iut.handle(self.now, self.from, Bytes::from(bytes));
    }

    /// Every packet the IUT has to send now.
    pub fn sent(&mut self) -> Vec<Sent> {
        let mut out = Vec::new();
        while let Some(t) = self.iut.poll_transmit(self.now, &mut self.buf) {
            let bytes = Bytes::copy_from_slice(&self.buf[..t.size]);
            let packet = Packet::parse(bytes).expect("the IUT sends well-formed packets");
            packet
                .check_bundling()
                .expect("the IUT bundles by the rules");
            out.push(Sent {
                to: t.destination,
                packet,
                size: t.size,
            });
        }
        out
    }

    /// The single packet the IUT sends now.
    #[track_caller]
    pub fn sent_one(&mut self) -> Sent {
        let mut sent = self.sent();
        assert_eq!(sent.len(), 1, "{sent:#?}");
        sent.remove(0)
    }

    #[track_caller]
    pub fn sent_nothing(&mut self) {
        let sent = self.sent();
        assert!(sent.is_empty(), "{sent:#?}");
    }

    pub fn events(&mut self) -> Vec<(AssocId, Event)> {
        std::iter::from_fn(|| self.iut.poll_event()).collect()
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.iut.handle_timeout(self.now);
    }

    /// Runs the four-way handshake as the peer; returns (IUT's tag, id).
    pub fn establish(&mut self, peer_tag: u32) -> (u32, AssocId) {
        self.send(0, &[Chunk::Init(init(peer_tag))]);
        let ack = self.sent_one();
        let Chunk::InitAck(ack) = ack.only() else {
            panic!("expected INIT ACK")
        };
        let cookie = ack.state_cookie().unwrap().clone();
        self.send(
            ack.initiate_tag,
            &[Chunk::CookieEcho(usctp_proto::chunk::CookieEcho { cookie })],
        );
        let reply = self.sent_one();
        assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
        let events = self.events();
        let [(id, Event::Up(_))] = events[..] else {
            panic!("expected Up: {events:?}")
        };
        (ack.initiate_tag, id)
    }
}

/// An IUT that has just sent an INIT to the tester (client side).
pub fn client() -> (Tester, AssocId) {
    let mut t = Tester::with_config(Config::default(), false);
    let now = t.now;
    let id = t.iut.connect(now, tester_addr(), TESTER_PORT).unwrap();
    (t, id)
}

/// Reads the IUT's INIT and answers it with an INIT ACK carrying tag
/// `peer_tag`, an opaque cookie and `extra` parameters. Returns the INIT
/// and the cookie.
#[track_caller]
pub fn answer_init(t: &mut Tester, peer_tag: u32, extra: Vec<Param>) -> (Init, Bytes) {
    let Chunk::Init(sent) = t.sent_one().only().clone() else {
        panic!("expected INIT")
    };
    let cookie = Bytes::from_static(b"tester's opaque cookie");
    let mut params = vec![Param::StateCookie(cookie.clone())];
    params.extend(extra);
    let ack = Init {
        initiate_tag: peer_tag,
        a_rwnd: 10_000,
        outbound_streams: 3,
        inbound_streams: 4,
        initial_tsn: Tsn(77),
        params,
    };
    t.send(sent.initiate_tag, &[Chunk::InitAck(ack)]);
    (sent, cookie)
}

/// A packet with a valid checksum.
pub fn packet(src: u16, dst: u16, vtag: u32, chunks: &[Chunk]) -> Vec<u8> {
    let header = CommonHeader {
        src_port: src,
        dst_port: dst,
        verification_tag: vtag,
        checksum: 0,
    };
    let packet = Packet {
        header,
        chunks: chunks.to_vec(),
    };
    let mut buf = Vec::new();
    packet.emit(&mut buf).unwrap();
    buf
}

/// A minimal INIT: 20 bytes of chunk, no parameters.
pub fn init(tag: u32) -> Init {
    Init {
        initiate_tag: tag,
        a_rwnd: 65_536,
        outbound_streams: 5,
        inbound_streams: 5,
        initial_tsn: Tsn(1000),
        params: vec![],
    }
}

pub fn init_with(tag: u32, params: Vec<Param>) -> Init {
    Init {
        params,
        ..init(tag)
    }
}
