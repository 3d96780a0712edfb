//! Reading UDP datagrams out of packet captures (pcap and pcapng), for
//! `usctp decode` and for tests that replay real traffic.
//!
//! Link types understood: Ethernet (with VLAN tags), Linux cooked capture
//! v1 and v2 (`tcpdump -i any`), BSD loopback, and raw IPv4/IPv6. Frames
//! that are not UDP over IP, IP fragments, and frames cut short by the
//! capture's snap length are skipped; frame numbers still count them, as
//! Wireshark does.

use std::fmt;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};

/// One UDP datagram found in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Datagram {
    /// 1-based frame number in the capture.
    pub frame: usize,
    /// When it was captured, since the Unix epoch (`None` for a pcapng
    /// simple packet block, which has no timestamp).
    pub time: Option<Duration>,
    /// UDP source.
    pub src: SocketAddr,
    /// UDP destination.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: Bytes,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Reading the input failed.
    #[error("cannot read the capture")]
    Io(#[from] std::io::Error),
    /// The input ended before a capture's first four bytes.
    #[error("not a capture: too short")]
    TooShort,
    /// The input is not a pcap or pcapng capture, or is damaged.
    #[error("not a capture, or a damaged one")]
    Damaged(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<pcap_file::PcapError> for CaptureError {
    fn from(e: pcap_file::PcapError) -> Self {
        match e {
            pcap_file::PcapError::IoError(e) => Self::Io(e),
            other => Self::Damaged(Box::new(other)),
        }
    }
}

// Link-layer header types (tcpdump.org linktypes).
const LINKTYPE_NULL: u32 = 0;
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_LOOP: u32 = 108;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_IPV4: u32 = 228;
const LINKTYPE_IPV6: u32 = 229;
const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Reads every UDP datagram of a pcap or pcapng capture into memory.
///
/// Fails only when the input is not a capture or is damaged; frames that
/// are not UDP are skipped. [`CaptureReader`] reads one at a time.
pub fn read_udp(input: impl Read) -> Result<Vec<Datagram>, CaptureError> {
    CaptureReader::new(input)?.collect()
}

/// The input with the four bytes read to tell the format put back.
type Rewound<R> = std::io::Chain<std::io::Cursor<[u8; 4]>, R>;

/// The UDP datagrams of a pcap or pcapng capture, read as they come: a
/// pipe (`tcpdump -w - | usctp decode -`) or a file still being written
/// ([`Follow`]) is decoded packet by packet, in constant memory.
pub struct CaptureReader<R: Read> {
    format: Format<Rewound<R>>,
    frame: usize,
}

enum Format<R: Read> {
    Pcap {
        reader: PcapReader<R>,
        linktype: u32,
    },
    PcapNg {
        reader: PcapNgReader<R>,
        /// The link type of each interface described so far.
        linktypes: Vec<u32>,
    },
}

impl<R: Read> std::fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = match self.format {
            Format::Pcap { .. } => "pcap",
            Format::PcapNg { .. } => "pcapng",
        };
        f.debug_struct("CaptureReader")
            .field("format", &format)
            .field("frame", &self.frame)
            .finish()
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the capture's header (pcap or pcapng, told by its first
    /// bytes).
    pub fn new(mut input: R) -> Result<Self, CaptureError> {
        let mut magic = [0u8; 4];
        let mut got = 0;
        while got < magic.len() {
            match input.read(&mut magic[got..]) {
                Ok(0) => return Err(CaptureError::TooShort),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        let input = std::io::Cursor::new(magic).chain(input);
        let format = if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
            Format::PcapNg {
                reader: PcapNgReader::new(input)?,
                linktypes: Vec::new(),
            }
        } else {
            let reader = PcapReader::new(input)?;
            let linktype = u32::from(reader.header().datalink);
            Format::Pcap { reader, linktype }
        };
        Ok(Self { format, frame: 0 })
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<Datagram, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let found = match &mut self.format {
                Format::Pcap { reader, linktype } => match reader.next_packet()? {
                    Err(e) => return Some(Err(e.into())),
                    Ok(packet) => {
                        self.frame += 1;
                        udp_of(self.frame, *linktype, &packet.data)
                            .map(|d| d.at(Some(packet.timestamp)))
                    }
                },
                Format::PcapNg { reader, linktypes } => match reader.next_block()? {
                    Err(e) => return Some(Err(e.into())),
                    Ok(Block::InterfaceDescription(idb)) => {
                        linktypes.push(u32::from(idb.linktype));
                        None
                    }
                    Ok(Block::EnhancedPacket(epb)) => {
                        self.frame += 1;
                        let iface = usize::try_from(epb.interface_id).unwrap_or(usize::MAX);
                        linktypes.get(iface).and_then(|&lt| {
                            udp_of(self.frame, lt, &epb.data).map(|d| d.at(Some(epb.timestamp)))
                        })
                    }
                    Ok(Block::SimplePacket(spb)) => {
                        self.frame += 1;
                        linktypes
                            .first()
                            .and_then(|&lt| udp_of(self.frame, lt, &spb.data))
                    }
                    Ok(_) => None,
                },
            };
            if let Some(datagram) = found {
                return Some(Ok(datagram));
            }
        }
    }
}

impl Datagram {
    fn at(mut self, time: Option<Duration>) -> Self {
        self.time = time;
        self
    }
}

/// A file read as `tail -f` reads it: at its end, waits for more instead
/// of ending, so that a capture another program is still writing can be
/// decoded as it grows. It never ends by itself.
#[derive(Debug)]
pub struct Follow<R> {
    inner: R,
    poll: Duration,
}

impl<R: Read> Follow<R> {
    /// Follows `inner`, looking for more every `poll` at its end.
    pub fn new(inner: R, poll: Duration) -> Self {
        Self { inner, poll }
    }
}

impl<R: Read> Read for Follow<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.inner.read(buf)? {
                0 if !buf.is_empty() => std::thread::sleep(self.poll),
                n => return Ok(n),
            }
        }
    }
}

/// The UDP datagram in one frame, if there is one.
fn udp_of(frame: usize, linktype: u32, data: &[u8]) -> Option<Datagram> {
    let sliced = match linktype {
        LINKTYPE_ETHERNET => SlicedPacket::from_ethernet(data).ok()?,
        LINKTYPE_NULL | LINKTYPE_LOOP => SlicedPacket::from_ip(data.get(4..)?).ok()?,
        LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_IPV6 => SlicedPacket::from_ip(data).ok()?,
        LINKTYPE_LINUX_SLL => SlicedPacket::from_ip(data.get(16..)?).ok()?,
        LINKTYPE_LINUX_SLL2 => SlicedPacket::from_ip(data.get(20..)?).ok()?,
        _ => return None,
    };
    let (src_ip, dst_ip): (IpAddr, IpAddr) = match sliced.net? {
        NetSlice::Ipv4(ip) if !ip.is_payload_fragmented() => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Ipv6(ip) if !ip.is_payload_fragmented() => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        _ => return None,
    };
    let TransportSlice::Udp(udp) = sliced.transport? else {
        return None;
    };
    Some(Datagram {
        frame,
        time: None,
        src: SocketAddr::new(src_ip, udp.source_port()),
        dst: SocketAddr::new(dst_ip, udp.destination_port()),
        payload: Bytes::copy_from_slice(udp.payload()),
    })
}

/// The two addresses of a datagram in one family, as a capture needs them.
/// A dual-stack socket sees IPv4 peers as IPv4-mapped IPv6 addresses
/// (`::ffff:a.b.c.d`) and, bound to the wildcard, has `::` as its own
/// address: a mapped address is written as the IPv4 address it maps, and
/// a wildcard beside an IPv4 address as 0.0.0.0.
fn same_family(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    let (a, b) = (a.to_canonical(), b.to_canonical());
    let v4_wildcard = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    match (a, b) {
        (IpAddr::V6(v6), IpAddr::V4(_)) if v6.is_unspecified() => (v4_wildcard, b),
        (IpAddr::V4(_), IpAddr::V6(v6)) if v6.is_unspecified() => (a, v4_wildcard),
        _ => (a, b),
    }
}

/// Writes every SCTP-over-UDP datagram an endpoint sends and receives to a
/// pcap file (raw IP link type), so Wireshark or `usctp decode` can open it.
///
/// Recording costs the endpoint a copy of the datagram and a channel send:
/// a thread of the recorder's own builds the frames and writes them,
/// buffered, flushing whenever it has caught up, so the file is complete
/// moments after the traffic. Where a socket bound to the wildcard address
/// sent or received, the capture shows the address the system chose (the
/// route's source for sent datagrams, the destination for received ones
/// when the socket reports it). If the writer falls more than
/// [`Recorder::QUEUE`] datagrams behind, later ones are left out and
/// counted ([`Recorder::dropped`]), never waited for.
pub struct Recorder {
    queue: Option<std::sync::mpsc::SyncSender<Captured>>,
    writer: Option<std::thread::JoinHandle<()>>,
    dropped: std::sync::atomic::AtomicU64,
}

/// One datagram on its way to the writer thread.
struct Captured {
    stamp: Duration,
    src: SocketAddr,
    dst: SocketAddr,
    payload: Vec<u8>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Datagrams that may wait for the writer thread.
    pub const QUEUE: usize = 8192;

    /// Creates (or truncates) the capture file and starts its writer.
    pub fn create(path: &std::path::Path) -> std::io::Result<Self> {
        let mut writer = std::io::BufWriter::new(std::fs::File::create(path)?);
        write_pcap_header(&mut writer)?;
        std::io::Write::flush(&mut writer)?;
        let (queue, captured) = std::sync::mpsc::sync_channel(Self::QUEUE);
        let writer = std::thread::Builder::new()
            .name("usctp-capture".into())
            .spawn(move || write_frames(writer, &captured))?;
        Ok(Self {
            queue: Some(queue),
            writer: Some(writer),
            dropped: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Records one datagram from `src` to `dst`. Never blocks and never
    /// fails: a capture must not disturb the traffic it records.
    pub fn record(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        // A capture is stamped with the wall clock, like tcpdump's.
        #[allow(clippy::disallowed_methods)]
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let captured = Captured {
            stamp,
            src,
            dst,
            payload: payload.to_vec(),
        };
        let sent = self.queue.as_ref().map(|q| q.try_send(captured));
        if !matches!(sent, Some(Ok(()))) {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Datagrams left out because the writer was [`Self::QUEUE`] behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Recorder {
    /// Waits for the writer to write what is queued and flush.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

type PcapFile = std::io::BufWriter<std::fs::File>;

/// The pcap file header: microsecond timestamps, snap length 65535, link
/// type raw IP (the libpcap format, host byte order as libpcap writes it).
fn write_pcap_header(out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut header = Vec::with_capacity(24);
    header.extend(0xa1b2_c3d4u32.to_ne_bytes());
    header.extend(2u16.to_ne_bytes());
    header.extend(4u16.to_ne_bytes());
    header.extend(0i32.to_ne_bytes());
    header.extend(0u32.to_ne_bytes());
    header.extend(65535u32.to_ne_bytes());
    header.extend(LINKTYPE_RAW.to_ne_bytes());
    out.write_all(&header)
}

/// One pcap record: its header, then the frame.
fn write_pcap_record(
    out: &mut impl std::io::Write,
    stamp: Duration,
    frame: &[u8],
) -> std::io::Result<()> {
    let seconds = u32::try_from(stamp.as_secs()).unwrap_or(u32::MAX);
    let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let mut header = [0u8; 16];
    header[..4].copy_from_slice(&seconds.to_ne_bytes());
    header[4..8].copy_from_slice(&stamp.subsec_micros().to_ne_bytes());
    header[8..12].copy_from_slice(&len.to_ne_bytes());
    header[12..].copy_from_slice(&len.to_ne_bytes());
    out.write_all(&header)?;
    out.write_all(frame)
}

/// The writer thread: frames what comes, flushes when nothing more waits.
fn write_frames(mut writer: PcapFile, captured: &std::sync::mpsc::Receiver<Captured>) {
    let mut routes = Routes::default();
    let mut frame = Vec::new();
    while let Ok(first) = captured.recv() {
        let mut next = Some(first);
        while let Some(c) = next {
            let src = routes.resolve(c.src, c.dst);
            let dst = routes.resolve(c.dst, c.src);
            frame.clear();
            if build_frame(src, dst, &c.payload, &mut frame) {
                let _ = write_pcap_record(&mut writer, c.stamp, &frame);
            }
            next = captured.try_recv().ok();
        }
        let _ = std::io::Write::flush(&mut writer);
    }
}

/// An IP/UDP frame around `payload` into `frame`; false where the two
/// addresses cannot be put in one family.
fn build_frame(src: SocketAddr, dst: SocketAddr, payload: &[u8], frame: &mut Vec<u8>) -> bool {
    let built = match same_family(src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
                .udp(src.port(), dst.port())
                .write(frame, payload)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            etherparse::PacketBuilder::ipv6(s.octets(), d.octets(), 64)
                .udp(src.port(), dst.port())
                .write(frame, payload)
        }
        _ => return false,
    };
    built.is_ok()
}

/// The source address the system's routes choose towards a peer, for
/// datagrams a wildcard-bound socket sent: found once per peer address (a
/// UDP socket connected to it is asked its own address) and remembered.
#[derive(Default)]
struct Routes {
    known: std::collections::HashMap<IpAddr, Option<IpAddr>>,
}

impl Routes {
    /// Peers remembered at most (forgotten all at once past that).
    const MAX: usize = 1024;

    /// `local` with the address the system would send from towards
    /// `peer` in place of a wildcard; `local` as it is otherwise, or when
    /// no route is found.
    fn resolve(&mut self, local: SocketAddr, peer: SocketAddr) -> SocketAddr {
        if !local.ip().is_unspecified() || peer.ip().is_unspecified() {
            return local;
        }
        let peer_ip = peer.ip().to_canonical();
        if self.known.len() >= Self::MAX {
            self.known.clear();
        }
        let source = *self.known.entry(peer_ip).or_insert_with(|| {
            let any: SocketAddr = match peer_ip {
                IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
                IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let probe = std::net::UdpSocket::bind(any).ok()?;
            probe.connect((peer_ip, peer.port().max(1))).ok()?;
            Some(probe.local_addr().ok()?.ip())
        });
        source.map_or(local, |ip| SocketAddr::new(ip, local.port()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_sockets_datagrams_show_the_routes_source_and_dual_stack_ones_are_ipv4() {
        let path = std::env::temp_dir().join(format!("usctp-capture-{}.pcap", std::process::id()));
        let recorder = Recorder::create(&path).unwrap();
        let wildcard: SocketAddr = "[::]:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:9899".parse().unwrap();
        recorder.record(wildcard, mapped, b"sent");
        recorder.record(mapped, wildcard, b"received");
        let v6: SocketAddr = "[::1]:9899".parse().unwrap();
        recorder.record(wildcard, v6, b"v6");
        let bound: SocketAddr = "10.9.8.7:5000".parse().unwrap();
        recorder.record(bound, mapped, b"bound");
        // Dropping the recorder waits for its writer to flush.
        drop(recorder);
        let datagrams = read_udp(std::fs::File::open(&path).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        let seen: Vec<(String, String, &[u8])> = datagrams
            .iter()
            .map(|d| (d.src.to_string(), d.dst.to_string(), &d.payload[..]))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "127.0.0.1:5000".into(),
                    "127.0.0.1:9899".into(),
                    &b"sent"[..]
                ),
                (
                    "127.0.0.1:9899".into(),
                    "127.0.0.1:5000".into(),
                    &b"received"[..]
                ),
                ("[::1]:5000".into(), "[::1]:9899".into(), &b"v6"[..]),
                (
                    "10.9.8.7:5000".into(),
                    "127.0.0.1:9899".into(),
                    &b"bound"[..]
                ),
            ]
        );
        #[allow(clippy::disallowed_methods)]
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        for d in &datagrams {
            let time = d.time.expect("pcap packets carry a timestamp");
            assert!(now - time < Duration::from_secs(60), "{time:?}");
        }
    }

    #[test]
    fn a_capture_is_read_packet_by_packet_from_a_reader_that_gives_a_byte_at_a_time() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((&first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                if buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = first;
                self.0 = rest;
                Ok(1)
            }
        }
        let path = std::env::temp_dir().join(format!("usctp-trickle-{}.pcap", std::process::id()));
        let recorder = Recorder::create(&path).unwrap();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        for i in 0..3u8 {
            recorder.record(a, b, &[i; 40]);
        }
        drop(recorder);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let frames: Vec<(usize, u8)> = CaptureReader::new(Trickle(&bytes))
            .unwrap()
            .map(|d| d.map(|d| (d.frame, d.payload[0])))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(frames, [(1, 0), (2, 1), (3, 2)]);
        assert!(matches!(
            CaptureReader::new(&bytes[..3]),
            Err(CaptureError::TooShort)
        ));
        let e = CaptureReader::new(&b"not a capture at all, nor the start of one"[..]).unwrap_err();
        assert!(matches!(e, CaptureError::Damaged(_)), "{e:?}");
    }
}
