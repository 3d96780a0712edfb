//! The tester's side of the wire: a peer that builds every packet itself
//! with the project's codec, sends it over UDP (RFC 6951) to the
//! implementation under test (the IUT), and reads back what the IUT sends,
//! judging each answer as it comes.
//!
//! Each purpose gets a `Wire` of its own, with new UDP sockets and a new
//! SCTP port, so that nothing left over from an earlier purpose (a
//! retransmission, an ABORT) reaches it.

use std::fmt::Write as _;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use usctp::capture::Recorder;
use usctp::proto::chunk::{
    Abort, Chunk, ChunkType, CommonHeader, CookieEcho, Data, DataFlags, ErrorCause, Heartbeat,
    Init, Packet, Param, Sack,
};
use usctp::proto::random::Random;
use usctp::proto::serial::{Ssn, Tsn};

use super::Outcome;

mod client;

/// How long the tester waits.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// For an answer the IUT must send at once.
    pub reply: Duration,
    /// Silence this long counts as "no answer".
    pub quiet: Duration,
    /// For an answer that waits for one of the IUT's timers (T1, T2, T3 at
    /// their initial RTO, the SACK delay).
    pub timer: Duration,
    /// For the IUT to give up after all its retransmissions (`--long`).
    pub give_up: Duration,
}

/// One datagram from the IUT.
#[derive(Debug, Clone)]
pub struct Received {
    /// The IUT's address it came from.
    pub from: SocketAddr,
    /// Which of the tester's sockets it reached (0: the primary address).
    pub on: usize,
    /// When it arrived.
    pub at: Instant,
    /// The packet, or why it does not parse (a bad checksum included).
    pub packet: Result<Packet, String>,
}

impl Received {
    /// The packet's chunks (none when it did not parse).
    pub fn chunks(&self) -> &[Chunk] {
        self.packet.as_ref().map_or(&[], |p| &p.chunks)
    }

    /// The packet's verification tag.
    pub fn vtag(&self) -> Option<u32> {
        self.packet.as_ref().ok().map(|p| p.header.verification_tag)
    }

    /// Whether it carries a chunk of this type.
    pub fn has(&self, chunk_type: ChunkType) -> bool {
        self.chunks().iter().any(|c| c.chunk_type() == chunk_type)
    }

    /// Whether it carries the DATA chunk with this TSN.
    pub fn has_tsn(&self, tsn: Tsn) -> bool {
        self.chunks()
            .iter()
            .any(|c| matches!(c, Chunk::Data(d) if d.tsn == tsn))
    }

    /// The chunk types in order, as the log shows them.
    pub fn summary(&self) -> String {
        match &self.packet {
            Err(e) => format!("an unparsable packet ({e})"),
            Ok(p) => {
                let names: Vec<String> = p.chunks.iter().map(describe).collect();
                names.join("+")
            }
        }
    }
}

/// A chunk as the verdicts name it: its type, with the T bit or the causes
/// where they matter.
pub fn describe(chunk: &Chunk) -> String {
    match chunk {
        Chunk::Abort(a) => format!(
            "ABORT{}{}",
            if a.reflected_tag { "(T)" } else { "" },
            causes(&a.causes)
        ),
        Chunk::Error(e) => format!("ERROR{}", causes(&e.causes)),
        Chunk::ShutdownComplete(s) if s.reflected_tag => "SHUTDOWN_COMPLETE(T)".into(),
        Chunk::Sack(s) => format!("SACK(cum {})", s.cumulative_tsn_ack.0),
        Chunk::Data(d) => format!("DATA(tsn {})", d.tsn.0),
        other => other.chunk_type().to_string(),
    }
}

fn causes(causes: &[ErrorCause]) -> String {
    if causes.is_empty() {
        return String::new();
    }
    let names: Vec<String> = causes.iter().map(|c| c.code().to_string()).collect();
    format!("[{}]", names.join(","))
}

/// The tester's view of one association with the IUT.
#[derive(Debug, Clone)]
pub struct Assoc {
    /// The IUT's Initiate Tag: the tag of every packet the tester sends.
    pub peer_tag: u32,
    /// The tester's Initiate Tag: the tag the IUT must use.
    pub own_tag: u32,
    /// The TSN of the tester's next DATA.
    pub next_tsn: Tsn,
    /// The last TSN received in sequence from the IUT.
    pub cum_ack: Tsn,
    /// The next Stream Sequence Number of each of the tester's streams.
    ssn: Vec<u16>,
    /// The IUT's INIT ACK (its INIT when the IUT is the client).
    pub ack: Init,
}

/// The tester's peer for one purpose.
pub struct Wire {
    sockets: Vec<UdpSocket>,
    inbox: Receiver<Received>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    capture: Option<Arc<Recorder>>,
    /// The IUT's UDP address.
    pub iut: SocketAddr,
    /// The IUT's SCTP port.
    pub iut_port: u16,
    /// The tester's SCTP port.
    pub port: u16,
    /// How long to wait.
    pub timing: Timing,
    /// The tester's random numbers (tags, TSNs, heartbeat nonces).
    pub random: Random,
    /// The association, once set up.
    pub assoc: Option<Assoc>,
    /// Answer the IUT's HEARTBEATs on the association (on by default).
    pub answer_heartbeats: bool,
    /// Everything received and not picked, for the verdict's reason.
    seen: Vec<String>,
    /// The packet `expect` picked last.
    pub last: Option<Received>,
    /// The command that starts the IUT as a client (`{host}`, `{udp}` and
    /// `{port}` are the tester's address, UDP port and SCTP port).
    pub client_cmd: Option<String>,
    client: Option<std::process::Child>,
}

impl Wire {
    /// A peer at `local` (and at each of `alternates`, on the same UDP
    /// port) for the IUT at `iut`, SCTP port `iut_port`.
    pub fn new(
        local: IpAddr,
        alternates: &[IpAddr],
        iut: SocketAddr,
        iut_port: u16,
        timing: Timing,
        mut random: Random,
        capture: Option<Arc<Recorder>>,
    ) -> std::io::Result<Self> {
        let primary = UdpSocket::bind(SocketAddr::new(local, 0))?;
        let udp_port = primary.local_addr()?.port();
        let mut sockets = vec![primary];
        for &ip in alternates {
            sockets.push(UdpSocket::bind(SocketAddr::new(ip, udp_port))?);
        }
        let (tx, inbox) = mpsc::sync_channel(1024);
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (on, socket) in sockets.iter().enumerate() {
            let socket = socket.try_clone()?;
            // A backstop: the thread looks at the stop flag at least this
            // often, should the wake-up datagram of `drop` be lost.
            socket.set_read_timeout(Some(Duration::from_millis(500)))?;
            let tx = tx.clone();
            let stop = Arc::clone(&stop);
            let capture = capture.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("usctp-conformance-rx".into())
                    .spawn(move || receive(&socket, on, &tx, &stop, capture.as_deref()))?,
            );
        }
        // Ports of the dynamic range, never the IUT's own.
        let port = loop {
            let p = 49152 + (random.u32() % 16384) as u16;
            if p != iut_port {
                break p;
            }
        };
        Ok(Self {
            sockets,
            inbox,
            stop,
            threads,
            capture,
            iut,
            iut_port,
            port,
            timing,
            random,
            assoc: None,
            answer_heartbeats: true,
            seen: Vec::new(),
            last: None,
            client_cmd: None,
            client: None,
        })
    }

    /// The address of the tester's socket `on`.
    pub fn local(&self, on: usize) -> SocketAddr {
        self.sockets[on]
            .local_addr()
            .expect("a bound socket has an address")
    }

    /// The association, which the purpose has set up.
    pub fn assoc(&mut self) -> &mut Assoc {
        self.assoc
            .as_mut()
            .expect("the purpose sets the association up first")
    }

    // ---- sending ----

    /// Encodes a packet from the tester's port to the IUT's.
    pub fn encode(&self, tag: u32, chunks: Vec<Chunk>) -> Vec<u8> {
        let packet = Packet {
            header: CommonHeader {
                src_port: self.port,
                dst_port: self.iut_port,
                verification_tag: tag,
                checksum: 0,
            },
            chunks,
        };
        let mut buf = Vec::new();
        // The tester's own chunks always encode: they are built from
        // in-range values.
        packet
            .emit(&mut buf)
            .expect("the tester's chunks are well formed");
        buf
    }

    /// Sends a packet with these chunks from the primary address.
    pub fn send(&mut self, tag: u32, chunks: Vec<Chunk>) {
        let bytes = self.encode(tag, chunks);
        self.send_bytes(0, &bytes);
    }

    /// A packet from the tester's port to the IUT's of raw chunk bytes,
    /// with its checksum: for chunks the codec would not build.
    pub fn raw(&self, tag: u32, chunk_bytes: &[u8]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(12 + chunk_bytes.len());
        buf.extend_from_slice(&self.port.to_be_bytes());
        buf.extend_from_slice(&self.iut_port.to_be_bytes());
        buf.extend_from_slice(&tag.to_be_bytes());
        buf.extend_from_slice(&[0; 4]);
        buf.extend_from_slice(chunk_bytes);
        let crc = usctp::proto::chunk::packet::packet_checksum(&buf).unwrap_or_default();
        buf[8..12].copy_from_slice(&crc.to_le_bytes());
        buf
    }

    /// Sends a packet on the association (the IUT's tag).
    pub fn send_assoc(&mut self, chunks: Vec<Chunk>) {
        let tag = self.assoc().peer_tag;
        self.send(tag, chunks);
    }

    /// Sends raw bytes from the tester's address `on`.
    pub fn send_bytes(&mut self, on: usize, bytes: &[u8]) {
        // A send that fails is a packet lost on the way: the purpose's
        // wait for the answer reports it.
        let _ = self.sockets[on].send_to(bytes, self.iut);
        if let Some(capture) = &self.capture {
            capture.record(self.local(on), self.iut, bytes);
        }
    }

    /// Sends raw bytes from the tester's address `on` to `to`.
    pub fn send_bytes_to(&mut self, on: usize, to: SocketAddr, bytes: &[u8]) {
        let _ = self.sockets[on].send_to(bytes, to);
        if let Some(capture) = &self.capture {
            capture.record(self.local(on), to, bytes);
        }
    }

    // ---- receiving ----

    /// The next datagram before `until`, answering the IUT's HEARTBEATs on
    /// the way (a packet that was only a HEARTBEAT is not returned).
    fn next(&mut self, until: Instant) -> Option<Received> {
        loop {
            let left = until.saturating_duration_since(now());
            let received = match self.inbox.recv_timeout(left) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            };
            if self.answer_heartbeats && self.answer_heartbeat(&received) {
                continue;
            }
            return Some(received);
        }
    }

    /// Answers a HEARTBEAT on the association; true if that was all the
    /// packet held.
    fn answer_heartbeat(&mut self, received: &Received) -> bool {
        let Some(assoc) = &self.assoc else {
            return false;
        };
        if received.vtag() != Some(assoc.own_tag) {
            return false;
        }
        let mut only = true;
        let peer_tag = assoc.peer_tag;
        for chunk in received.chunks() {
            match chunk {
                Chunk::Heartbeat(h) => {
                    let ack = self.encode(peer_tag, vec![Chunk::HeartbeatAck(h.clone())]);
                    let _ = self.sockets[received.on].send_to(&ack, received.from);
                    if let Some(capture) = &self.capture {
                        capture.record(self.local(received.on), received.from, &ack);
                    }
                }
                _ => only = false,
            }
        }
        only
    }

    /// Waits up to `within` for a packet `pick` accepts, and returns what
    /// it made of it. Fails, naming `what` and every packet that came
    /// instead, if none does.
    pub fn expect<T>(
        &mut self,
        what: &str,
        within: Duration,
        mut pick: impl FnMut(&Received) -> Option<T>,
    ) -> Result<T, Outcome> {
        let until = now() + within;
        while let Some(received) = self.next(until) {
            if let Err(e) = &received.packet {
                return Err(Outcome::fail(format!(
                    "the IUT sent a packet that does not parse: {e}"
                )));
            }
            if let Some(t) = pick(&received) {
                self.last = Some(received);
                return Ok(t);
            }
            self.seen.push(received.summary());
        }
        Err(Outcome::fail(format!(
            "no {what} within {}{}",
            humantime::format_duration(within),
            self.seen_so_far()
        )))
    }

    /// Waits `within` and fails if a packet `forbidden` matches arrives.
    pub fn expect_none(
        &mut self,
        what: &str,
        within: Duration,
        mut forbidden: impl FnMut(&Received) -> bool,
    ) -> Result<(), Outcome> {
        let until = now() + within;
        while let Some(received) = self.next(until) {
            if received.packet.is_err() || forbidden(&received) {
                return Err(Outcome::fail(format!(
                    "{what}, but got {}",
                    received.summary()
                )));
            }
            self.seen.push(received.summary());
        }
        Ok(())
    }

    /// Everything the IUT sends within `within`.
    pub fn collect(&mut self, within: Duration) -> Vec<Received> {
        let until = now() + within;
        let mut all = Vec::new();
        while let Some(received) = self.next(until) {
            all.push(received);
        }
        all
    }

    /// Fails if the IUT sends anything at all within the quiet time.
    pub fn silence(&mut self, what: &str) -> Result<(), Outcome> {
        let quiet = self.timing.quiet;
        self.expect_none(what, quiet, |_| true)
    }

    /// Forgets what was received, keeping nothing for the next wait.
    pub fn drain(&mut self) {
        while self.inbox.try_recv().is_ok() {}
        self.seen.clear();
    }

    fn seen_so_far(&mut self) -> String {
        if self.seen.is_empty() {
            return " (nothing came)".into();
        }
        let mut s = String::from(" (got ");
        let n = self.seen.len();
        for (i, what) in self.seen.drain(..).take(6).enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&what);
        }
        if n > 6 {
            let _ = write!(s, " and {} more", n - 6);
        }
        s.push(')');
        s
    }

    // ---- the handshake ----

    /// The tester's INIT: a new tag and TSN, 16 streams each way, a
    /// 1 MiB window, no parameters.
    pub fn init(&mut self) -> Init {
        Init {
            initiate_tag: self.random.nonzero_u32(),
            a_rwnd: 1 << 20,
            outbound_streams: 16,
            inbound_streams: 16,
            initial_tsn: Tsn(self.random.u32()),
            params: Vec::new(),
        }
    }

    /// Sends `init` and waits for the INIT ACK, which must be alone in its
    /// packet and carry the INIT's tag and a State Cookie.
    pub fn send_init(&mut self, init: &Init) -> Result<Init, Outcome> {
        self.send(0, vec![Chunk::Init(init.clone())]);
        self.init_ack(init.initiate_tag)
    }

    /// Waits for the INIT ACK to the INIT with tag `tag`.
    pub fn init_ack(&mut self, tag: u32) -> Result<Init, Outcome> {
        let reply = self.timing.reply;
        let received = self.expect("INIT ACK", reply, |r| {
            r.has(ChunkType::INIT_ACK).then(|| r.clone())
        })?;
        let packet = received.packet.as_ref().expect("checked by expect");
        if packet.header.verification_tag != tag {
            return Err(Outcome::fail(format!(
                "the INIT ACK carries tag {:#x}, not the INIT's Initiate Tag {tag:#x} (§8.5)",
                packet.header.verification_tag
            )));
        }
        if packet.chunks.len() != 1 {
            return Err(Outcome::fail(format!(
                "the INIT ACK is bundled ({}), which §6.10 forbids",
                received.summary()
            )));
        }
        let Some(Chunk::InitAck(ack)) = packet.chunks.first() else {
            unreachable!("the packet has an INIT ACK and one chunk");
        };
        if ack.state_cookie().is_none() {
            return Err(Outcome::fail("the INIT ACK has no State Cookie (§3.3.3)"));
        }
        if ack.initiate_tag == 0 {
            return Err(Outcome::fail("the INIT ACK's Initiate Tag is 0 (§3.3.3)"));
        }
        Ok(ack.clone())
    }

    /// The COOKIE ECHO for `ack`.
    pub fn cookie_echo(ack: &Init) -> Chunk {
        Chunk::CookieEcho(CookieEcho {
            cookie: ack.state_cookie().cloned().unwrap_or_default(),
        })
    }

    /// Echoes the cookie of `ack` (with `more` chunks behind it) and waits
    /// for the COOKIE ACK; the association is then up.
    pub fn establish(
        &mut self,
        init: Init,
        ack: Init,
        more: Vec<Chunk>,
    ) -> Result<Received, Outcome> {
        let mut chunks = vec![Self::cookie_echo(&ack)];
        chunks.extend(more);
        self.send(ack.initiate_tag, chunks);
        let own = init.initiate_tag;
        let reply = self.timing.reply;
        let received = self.expect("COOKIE ACK", reply, |r| {
            r.has(ChunkType::COOKIE_ACK).then(|| r.clone())
        })?;
        if received.vtag() != Some(own) {
            return Err(Outcome::fail(format!(
                "the COOKIE ACK carries tag {:#x}, not the tester's {own:#x} (§8.5)",
                received.vtag().unwrap_or_default()
            )));
        }
        self.assoc = Some(Assoc {
            peer_tag: ack.initiate_tag,
            own_tag: own,
            next_tsn: init.initial_tsn,
            cum_ack: ack.initial_tsn.prev(),
            ssn: vec![0; usize::from(init.outbound_streams)],
            ack,
        });
        Ok(received)
    }

    /// The whole handshake with the tester's default INIT.
    pub fn associate(&mut self) -> Result<(), Outcome> {
        let init = self.init();
        self.associate_with(init)
    }

    /// The whole handshake starting with `init`.
    pub fn associate_with(&mut self, init: Init) -> Result<(), Outcome> {
        let ack = self.send_init(&init)?;
        self.establish(init, ack, Vec::new()).map(drop)
    }

    // ---- on the association ----

    /// The tester's next DATA chunk: a whole, ordered message on `stream`.
    pub fn data(&mut self, stream: u16, payload: &[u8]) -> Chunk {
        self.data_with(stream, payload, DataFlags::WHOLE)
    }

    /// The tester's next DATA chunk with these flags; the SSN advances
    /// after an ordered last fragment.
    pub fn data_with(&mut self, stream: u16, payload: &[u8], flags: DataFlags) -> Chunk {
        let assoc = self.assoc();
        let tsn = assoc.next_tsn;
        assoc.next_tsn = tsn.next();
        let index = usize::from(stream);
        if assoc.ssn.len() <= index {
            assoc.ssn.resize(index + 1, 0);
        }
        let ssn = assoc.ssn[index];
        if flags.end && !flags.unordered {
            assoc.ssn[index] = ssn.wrapping_add(1);
        }
        Chunk::Data(Data {
            flags,
            tsn,
            stream,
            ssn: Ssn(ssn),
            ppid: 0,
            payload: Bytes::copy_from_slice(payload),
        })
    }

    /// A SACK for everything the tester received in sequence.
    pub fn sack(&mut self) -> Chunk {
        let cum = self.assoc().cum_ack;
        self.sack_at(cum, 1 << 20)
    }

    /// A SACK with this cumulative TSN ack and window.
    pub fn sack_at(&mut self, cum: Tsn, a_rwnd: u32) -> Chunk {
        Chunk::Sack(Sack {
            cumulative_tsn_ack: cum,
            a_rwnd,
            gap_blocks: Vec::new(),
            duplicate_tsns: Vec::new(),
        })
    }

    /// Waits for an ABORT; fails if a chunk of type `instead` (the answer
    /// the IUT should not give) comes first.
    pub fn expect_abort_not(&mut self, what: &str, instead: ChunkType) -> Result<Abort, Outcome> {
        let reply = self.timing.reply;
        let got = self.expect(what, reply, |r| {
            if r.has(instead) {
                return Some(Err(r.summary()));
            }
            r.chunks().iter().find_map(|c| match c {
                Chunk::Abort(a) => Some(Ok(a.clone())),
                _ => None,
            })
        })?;
        got.map_err(|other| Outcome::fail(format!("answered with {other}")))
    }

    /// Waits for a packet on the association (the tester's tag) with a
    /// chunk of this type.
    pub fn expect_chunk(
        &mut self,
        what: &str,
        chunk_type: ChunkType,
        within: Duration,
    ) -> Result<(), Outcome> {
        let own = self.assoc().own_tag;
        self.expect(what, within, |r| {
            (r.vtag() == Some(own) && r.has(chunk_type)).then_some(())
        })
    }

    /// Waits for a SACK whose cumulative TSN ack is at least `tsn`.
    pub fn expect_sack(&mut self, tsn: Tsn, within: Duration) -> Result<Sack, Outcome> {
        let own = self.assoc().own_tag;
        self.expect(&format!("SACK of TSN {}", tsn.0), within, |r| {
            if r.vtag() != Some(own) {
                return None;
            }
            r.chunks().iter().find_map(|c| match c {
                Chunk::Sack(s) if s.cumulative_tsn_ack.is_at_or_after(tsn) => Some(s.clone()),
                _ => None,
            })
        })
    }

    /// Waits for a DATA chunk from the IUT (its echo of a message), and
    /// notes its TSN as received when it is the next in sequence.
    pub fn expect_data(&mut self, within: Duration) -> Result<Data, Outcome> {
        let own = self.assoc().own_tag;
        let data = self.expect("DATA from the IUT", within, |r| {
            if r.vtag() != Some(own) {
                return None;
            }
            r.chunks().iter().find_map(|c| match c {
                Chunk::Data(d) => Some(d.clone()),
                _ => None,
            })
        })?;
        let assoc = self.assoc();
        if data.tsn == assoc.cum_ack.next() {
            assoc.cum_ack = data.tsn;
        }
        Ok(data)
    }

    /// Sends a one-chunk message on stream 0 and waits for the IUT to
    /// acknowledge it; returns the SACK.
    pub fn send_message(&mut self, payload: &[u8]) -> Result<Sack, Outcome> {
        let chunk = self.data(0, payload);
        let tsn = data_tsn(&chunk);
        self.send_assoc(vec![chunk]);
        let within = self.timing.timer;
        self.expect_sack(tsn, within)
    }

    /// The IUT answers a HEARTBEAT with a HEARTBEAT ACK carrying its
    /// information unchanged (§8.3): the association is alive.
    pub fn alive(&mut self) -> Result<(), Outcome> {
        let mut nonce = [0u8; 12];
        self.random.fill(&mut nonce);
        let info = Bytes::copy_from_slice(&nonce);
        self.send_assoc(vec![Chunk::Heartbeat(Heartbeat { info: info.clone() })]);
        let own = self.assoc().own_tag;
        let reply = self.timing.reply;
        self.expect(
            "HEARTBEAT ACK (the association should be alive)",
            reply,
            |r| {
                (r.vtag() == Some(own)
                    && r.chunks()
                        .iter()
                        .any(|c| matches!(c, Chunk::HeartbeatAck(h) if h.info == info)))
                .then_some(())
            },
        )
    }

    /// The association is gone at the IUT: a HEARTBEAT with its old tag is
    /// not answered with a HEARTBEAT ACK. Returns how the IUT answered.
    pub fn gone(&mut self) -> Result<&'static str, Outcome> {
        let tag = self.assoc().peer_tag;
        self.answer_heartbeats = false;
        self.assoc = None;
        self.no_association(tag)
    }

    /// The IUT has no association with tag `tag`: a HEARTBEAT carrying it
    /// is out of the blue. §8.3 would have an association answer it; §8.4
    /// (8) says the IUT SHOULD answer with an ABORT with the T bit, so an
    /// ABORT or silence both show there is none. Returns which it was.
    pub fn no_association(&mut self, tag: u32) -> Result<&'static str, Outcome> {
        let info = Bytes::from_static(b"any association?");
        self.send(
            tag,
            vec![Chunk::Heartbeat(Heartbeat { info: info.clone() })],
        );
        let quiet = self
            .timing
            .quiet
            .max(self.timing.reply.min(Duration::from_secs(2)));
        let all = self.collect(quiet);
        if all.iter().any(|r| {
            r.chunks()
                .iter()
                .any(|c| matches!(c, Chunk::HeartbeatAck(h) if h.info == info))
        }) {
            return Err(Outcome::fail(
                "a HEARTBEAT on the association's tag was still answered: it is not gone",
            ));
        }
        let abort = all.iter().find(|r| {
            r.chunks()
                .iter()
                .any(|c| matches!(c, Chunk::Abort(a) if a.reflected_tag))
        });
        match abort {
            Some(r) if r.vtag() != Some(tag) => Err(Outcome::fail(format!(
                "the ABORT with the T bit carries tag {:#x}, not the tag it answers ({tag:#x}, §8.5.1)",
                r.vtag().unwrap_or_default()
            ))),
            Some(_) => Ok("a HEARTBEAT on its tag got ABORT (T)"),
            None => Ok("a HEARTBEAT on its tag got no answer (no ABORT: §8.4 (8) is a SHOULD)"),
        }
    }

    /// Waits for an ABORT with the T bit and the tag `tag` reflected.
    pub fn expect_reflected_abort(&mut self, tag: u32, why: &str) -> Result<(), Outcome> {
        let reply = self.timing.reply;
        let abort = self.expect(&format!("ABORT with the T bit {why}"), reply, |r| {
            r.chunks()
                .iter()
                .any(|c| matches!(c, Chunk::Abort(a) if a.reflected_tag))
                .then(|| r.vtag())
        })?;
        if abort != Some(tag) {
            return Err(Outcome::fail(format!(
                "the ABORT with the T bit carries tag {:#x}, not the tag it answers ({tag:#x}, §8.5.1)",
                abort.unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// The tester starts a graceful shutdown; the IUT, with nothing
    /// outstanding, answers with a SHUTDOWN ACK (§9.2). It is then in
    /// SHUTDOWN-ACK-SENT.
    pub fn shutdown_ack_sent(&mut self) -> Result<(), Outcome> {
        let cum = self.assoc().cum_ack;
        self.send_assoc(vec![shutdown(cum)]);
        let own = self.assoc().own_tag;
        let reply = self.timing.reply;
        self.expect("SHUTDOWN ACK", reply, |r| {
            (r.vtag() == Some(own) && r.has(ChunkType::SHUTDOWN_ACK)).then_some(())
        })
    }

    /// The SHUTDOWN COMPLETE that ends a shutdown the tester started.
    pub fn shutdown_complete(&mut self) {
        if let Some(assoc) = self.assoc.take() {
            self.send(
                assoc.peer_tag,
                vec![Chunk::ShutdownComplete(
                    usctp::proto::chunk::ShutdownComplete {
                        reflected_tag: false,
                    },
                )],
            );
        }
    }

    /// Receives one whole message from the IUT (its echo), SACKing each
    /// packet of it; returns its chunks and its bytes.
    pub fn receive_message(&mut self, within: Duration) -> Result<(Vec<Data>, Vec<u8>), Outcome> {
        let until = now() + within;
        let mut chunks: Vec<Data> = Vec::new();
        let mut bytes = Vec::new();
        loop {
            let left = until.saturating_duration_since(now());
            let data = self.expect_data(left)?;
            if chunks.iter().any(|c| c.tsn == data.tsn) {
                continue; // a retransmission
            }
            let sack = self.sack();
            self.send_assoc(vec![sack]);
            bytes.extend_from_slice(&data.payload);
            let end = data.flags.end;
            chunks.push(data);
            if end {
                return Ok((chunks, bytes));
            }
        }
    }

    /// Sends `payload` as one message on `stream`, in fragments of at most
    /// `fragment` bytes; returns the TSN of the last.
    pub fn send_fragmented(&mut self, stream: u16, payload: &[u8], fragment: usize) -> Tsn {
        let parts: Vec<&[u8]> = payload.chunks(fragment).collect();
        let mut last = Tsn(0);
        for (i, part) in parts.iter().enumerate() {
            let flags = DataFlags {
                beginning: i == 0,
                end: i + 1 == parts.len(),
                ..DataFlags::default()
            };
            let chunk = self.data_with(stream, part, flags);
            last = data_tsn(&chunk);
            self.send_assoc(vec![chunk]);
        }
        last
    }

    /// An ABORT from the tester that ends the association at the IUT, so
    /// that it stops retransmitting to a peer that has gone.
    pub fn abort(&mut self) {
        if let Some(assoc) = self.assoc.take() {
            self.send(
                assoc.peer_tag,
                vec![Chunk::Abort(Abort {
                    reflected_tag: false,
                    causes: Vec::new(),
                })],
            );
        }
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.abort();
        if self.client.is_some() {
            self.stop_client();
        }
        self.stop.store(true, Ordering::Relaxed);
        // Wakes each receiving thread, which then sees the flag.
        for socket in &self.sockets {
            if let Ok(addr) = socket.local_addr() {
                let _ = socket.send_to(&[], addr);
            }
        }
        // Joined, so that the capture they share is the caller's alone
        // again once every wire is gone.
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The TSN of a DATA chunk the tester built.
pub fn data_tsn(chunk: &Chunk) -> Tsn {
    match chunk {
        Chunk::Data(d) => d.tsn,
        _ => unreachable!("the tester built a DATA chunk"),
    }
}

/// A whole message in one DATA chunk with this TSN, on stream 0, SSN 0:
/// for DATA the tester bundles where the association's books do not
/// number it (with an INIT, a COOKIE ECHO, out of the blue).
pub fn lone_data(tsn: Tsn, payload: &'static [u8]) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags::WHOLE,
        tsn,
        stream: 0,
        ssn: Ssn(0),
        ppid: 0,
        payload: Bytes::from_static(payload),
    })
}

/// A SHUTDOWN with this Cumulative TSN Ack.
pub fn shutdown(cumulative_tsn_ack: Tsn) -> Chunk {
    Chunk::Shutdown(usctp::proto::chunk::Shutdown { cumulative_tsn_ack })
}

/// An unknown parameter of type `param_type` with four bytes of value.
pub fn unknown_param(param_type: u16) -> Param {
    Param::Unknown {
        param_type: usctp::proto::chunk::ParamType(param_type),
        value: Bytes::from_static(&[0xAB; 4]),
    }
}

/// The tester reads the clock: it judges the IUT's timers.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
    Instant::now()
}

/// One receiving thread per tester socket.
fn receive(
    socket: &UdpSocket,
    on: usize,
    tx: &mpsc::SyncSender<Received>,
    stop: &AtomicBool,
    capture: Option<&Recorder>,
) {
    let mut buf = vec![0u8; 65536];
    let local = socket.local_addr().ok();
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            // A signal (a client command ending) interrupts the wait.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(_) => return,
        };
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if Some(from) == local {
            continue;
        }
        if let (Some(capture), Some(local)) = (capture, local) {
            capture.record(from, local, &buf[..n]);
        }
        let packet = Packet::parse(Bytes::copy_from_slice(&buf[..n])).map_err(|e| e.to_string());
        let received = Received {
            from,
            on,
            at: now(),
            packet,
        };
        // Bounded: what the purpose does not read past 1024 datagrams is
        // dropped, and the thread never blocks on a full inbox.
        if let Err(mpsc::TrySendError::Disconnected(_)) = tx.try_send(received) {
            return;
        }
    }
}
