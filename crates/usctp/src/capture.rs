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

use bytes::Bytes;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};

/// One UDP datagram found in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// 1-based frame number in the capture.
    pub frame: usize,
    /// UDP source.
    pub src: SocketAddr,
    /// UDP destination.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: Bytes,
}

/// Why a capture could not be read.
#[derive(Debug)]
pub struct CaptureError(String);

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaptureError {}

impl From<pcap_file::PcapError> for CaptureError {
    fn from(e: pcap_file::PcapError) -> Self {
        Self(e.to_string())
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

/// Reads every UDP datagram of a pcap or pcapng capture.
///
/// Fails only when the input is not a capture or is damaged; frames that
/// are not UDP are skipped.
pub fn read_udp(mut input: impl Read) -> Result<Vec<Datagram>, CaptureError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| CaptureError(e.to_string()))?;
    let mut out = Vec::new();
    match bytes.first_chunk::<4>() {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(&bytes, &mut out)?,
        Some(_) => read_pcap(&bytes, &mut out)?,
        None => return Err(CaptureError("not a capture: file too short".into())),
    }
    Ok(out)
}

fn read_pcap(bytes: &[u8], out: &mut Vec<Datagram>) -> Result<(), CaptureError> {
    let mut reader = PcapReader::new(bytes)?;
    let linktype = u32::from(reader.header().datalink);
    let mut frame = 0;
    while let Some(packet) = reader.next_packet() {
        let packet = packet?;
        frame += 1;
        out.extend(udp_of(frame, linktype, &packet.data));
    }
    Ok(())
}

fn read_pcapng(bytes: &[u8], out: &mut Vec<Datagram>) -> Result<(), CaptureError> {
    let mut reader = PcapNgReader::new(bytes)?;
    let mut linktypes = Vec::new();
    let mut frame = 0;
    while let Some(block) = reader.next_block() {
        match block? {
            Block::InterfaceDescription(idb) => linktypes.push(u32::from(idb.linktype)),
            Block::EnhancedPacket(epb) => {
                frame += 1;
                let iface = usize::try_from(epb.interface_id).unwrap_or(usize::MAX);
                if let Some(&lt) = linktypes.get(iface) {
                    out.extend(udp_of(frame, lt, &epb.data));
                }
            }
            Block::SimplePacket(spb) => {
                frame += 1;
                if let Some(&lt) = linktypes.first() {
                    out.extend(udp_of(frame, lt, &spb.data));
                }
            }
            _ => {}
        }
    }
    Ok(())
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
pub struct Recorder {
    // Unbuffered: every packet is on disk at once, even if the process is
    // killed.
    writer: std::sync::Mutex<pcap_file::pcap::PcapWriter<std::fs::File>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Recorder")
    }
}

impl Recorder {
    /// Creates (or truncates) the capture file.
    pub fn create(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::File::create(path)?;
        let header = pcap_file::pcap::PcapHeader {
            datalink: pcap_file::DataLink::RAW,
            ..Default::default()
        };
        let writer = pcap_file::pcap::PcapWriter::with_header(file, header)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Self {
            writer: std::sync::Mutex::new(writer),
        })
    }

    /// Records one datagram from `src` to `dst`. Errors are ignored: a
    /// capture must never disturb the traffic it records.
    pub fn record(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        let mut frame = Vec::with_capacity(payload.len() + 48);
        let built = match same_family(src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
                    .udp(src.port(), dst.port())
                    .write(&mut frame, payload)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                etherparse::PacketBuilder::ipv6(s.octets(), d.octets(), 64)
                    .udp(src.port(), dst.port())
                    .write(&mut frame, payload)
            }
            _ => return,
        };
        if built.is_err() {
            return;
        }
        // A capture is stamped with the wall clock, like tcpdump's.
        #[allow(clippy::disallowed_methods)]
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        if let Ok(mut w) = self.writer.lock() {
            let packet = pcap_file::pcap::PcapPacket::new(stamp, frame.len() as u32, &frame);
            let _ = w.write_packet(&packet);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dual_stack_sockets_datagrams_are_recorded_as_ipv4() {
        let path = std::env::temp_dir().join(format!("usctp-capture-{}.pcap", std::process::id()));
        let recorder = Recorder::create(&path).unwrap();
        let wildcard: SocketAddr = "[::]:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:9899".parse().unwrap();
        recorder.record(wildcard, mapped, b"sent");
        recorder.record(mapped, wildcard, b"received");
        let v6: SocketAddr = "[2001:db8::1]:9899".parse().unwrap();
        recorder.record(wildcard, v6, b"v6");
        let datagrams = read_udp(std::fs::File::open(&path).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        let seen: Vec<(String, String, &[u8])> = datagrams
            .iter()
            .map(|d| (d.src.to_string(), d.dst.to_string(), &d.payload[..]))
            .collect();
        assert_eq!(
            seen,
            [
                ("0.0.0.0:5000".into(), "10.0.0.1:9899".into(), &b"sent"[..]),
                (
                    "10.0.0.1:9899".into(),
                    "0.0.0.0:5000".into(),
                    &b"received"[..]
                ),
                ("[::]:5000".into(), "[2001:db8::1]:9899".into(), &b"v6"[..]),
            ]
        );
    }
}
