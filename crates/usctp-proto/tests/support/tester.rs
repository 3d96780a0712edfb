//! A tester that plays the peer with raw packets against an endpoint under
//! test (the IUT), and reads back the raw packets the IUT sends.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use usctp_proto::association::{AssocId, Event};
use usctp_proto::chunk::packet::packet_checksum;
use usctp_proto::chunk::{Chunk, CommonHeader, Packet};
use usctp_proto::config::Config;
use usctp_proto::endpoint::Endpoint;

/// The IUT's SCTP port.
pub const IUT_PORT: u16 = 13;
/// The tester's SCTP port.
pub const TESTER_PORT: u16 = 5000;
/// The seed of every IUT's randomness (and so of its first cookie key).
pub const IUT_SEED: [u8; 32] = [42; 32];

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

    /// An IUT configured by `config`, except that it does not probe for
    /// the path MTU: the exchanges these tests play are exact, packet by
    /// packet, and a probe would come between them. The probes have tests
    /// of their own (`pmtu.rs`, through `with_probes`).
    pub fn with_config(config: Config, listen: bool) -> Self {
        let config = config.with_path_mtu_limit(None);
        Self::with_probes(config, listen)
    }

    /// An IUT configured by `config` as it is, path MTU probes included.
    pub fn with_probes(config: Config, listen: bool) -> Self {
        // Simulated time starts at a real instant and never reads the
        // clock again.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut iut = Endpoint::new(config, IUT_PORT, IUT_SEED, now);
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

    /// Every packet the IUT has to send now, as raw bytes.
    pub fn sent_raw(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(t) = self.iut.poll_transmit(self.now, &mut self.buf) {
            out.push((t.destination, self.buf[..t.size].to_vec()));
        }
        out
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

    /// Lets `by` pass (timers run); the IUT sends nothing meanwhile.
    #[track_caller]
    pub fn quiet_for(&mut self, by: Duration) {
        self.advance(by);
        self.sent_nothing();
    }

    /// The IUT sends nothing now and has no event for its user.
    #[track_caller]
    pub fn silent(&mut self) {
        self.sent_nothing();
        let events = self.events();
        assert!(events.is_empty(), "{events:?}");
    }

    pub fn events(&mut self) -> Vec<(AssocId, Event)> {
        std::iter::from_fn(|| self.iut.poll_event()).collect()
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.iut.handle_timeout(self.now);
    }

    /// The IUT's user shuts association `id` down (gracefully) now.
    pub fn shutdown(&mut self, id: AssocId) {
        let now = self.now;
        self.iut.association_mut(id).unwrap().shutdown(now);
    }

    /// The IUT connects to the tester (the client side); its INIT waits
    /// to be read.
    pub fn connect(&mut self) -> AssocId {
        let now = self.now;
        self.iut.connect(now, tester_addr(), TESTER_PORT).unwrap()
    }
}

/// An IUT that has just sent an INIT to the tester (client side).
pub fn client() -> (Tester, AssocId) {
    client_with(Config::default())
}

/// An IUT, configured by `config`, that has just sent an INIT to the tester.
pub fn client_with(config: Config) -> (Tester, AssocId) {
    let mut t = Tester::with_config(config, false);
    let id = t.connect();
    (t, id)
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

/// A packet from the tester to the IUT, with a valid checksum.
pub fn tester_packet(vtag: u32, chunks: &[Chunk]) -> Vec<u8> {
    packet(TESTER_PORT, IUT_PORT, vtag, chunks)
}

/// Writes the CRC32c of hand-made bytes into the header (least significant
/// byte first, RFC 9260 Appendix A).
pub fn fix_checksum(bytes: &mut [u8]) {
    let crc = packet_checksum(bytes).unwrap();
    bytes[8..12].copy_from_slice(&crc.to_le_bytes());
}
