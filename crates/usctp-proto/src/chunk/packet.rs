//! The SCTP packet (RFC 9260 §3): common header, chunks, CRC32c checksum
//! (Appendix B) and the bundling rules of §6.10.
//!
//! ```text
//!  0                   1                   2                   3
//! +-------------------------------+-------------------------------+
//! |     Source Port Number        |     Destination Port Number   |
//! +-------------------------------+-------------------------------+
//! |                      Verification Tag                         |
//! +---------------------------------------------------------------+
//! |                           Checksum                            |
//! +---------------------------------------------------------------+
//! \                    Chunk #1 … Chunk #n                        \
//! +---------------------------------------------------------------+
//! ```
//!
//! Over UDP (RFC 6951) the packet is the whole UDP payload.

use core::fmt;

use bytes::Bytes;

use super::codec::Reader;
use super::{BuildError, Chunk, ChunkType, Data, Error};

/// Size of the common header.
pub const COMMON_HEADER_LEN: usize = 12;

/// The CRC32c (Castagnoli) of `data`, as RFC 9260 Appendix B defines it,
/// computed with the processor's carry-less multiply (folding) or CRC
/// instructions where it has them.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_of(&[data])
}

/// The CRC32c of the concatenation of `parts`.
fn crc32c_of(parts: &[&[u8]]) -> u32 {
    let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
    for part in parts {
        digest.update(part);
    }
    // A CRC-32 digest's value fits 32 bits.
    digest.finalize() as u32
}

/// The checksum of a whole packet: the CRC32c of its bytes with the
/// checksum field taken as zero.
///
/// Returns `None` when `packet` is shorter than the common header.
pub fn packet_checksum(packet: &[u8]) -> Option<u32> {
    let (head, rest) = packet.split_at_checked(COMMON_HEADER_LEN)?;
    Some(crc32c_of(&[&head[..8], &[0; 4], rest]))
}

/// The 12-byte header every packet starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommonHeader {
    /// SCTP sender's port number.
    pub src_port: u16,
    /// SCTP destination port number.
    pub dst_port: u16,
    /// Verification Tag.
    pub verification_tag: u32,
    /// The checksum as received; ignored when building.
    pub checksum: u32,
}

impl CommonHeader {
    /// Reads the common header from the start of a datagram.
    pub fn parse(datagram: &[u8]) -> Result<Self, Error> {
        let Some(h) = datagram.first_chunk::<COMMON_HEADER_LEN>() else {
            return Err(Error::Truncated {
                what: "common header",
                needed: COMMON_HEADER_LEN,
                available: datagram.len(),
            });
        };
        Ok(Self {
            src_port: u16::from_be_bytes([h[0], h[1]]),
            dst_port: u16::from_be_bytes([h[2], h[3]]),
            verification_tag: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            // RFC 9260 Appendix B: the CRC goes on the wire least
            // significant byte first.
            checksum: u32::from_le_bytes([h[8], h[9], h[10], h[11]]),
        })
    }
}

impl fmt::Display for CommonHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} vtag={:#010x}",
            self.src_port, self.dst_port, self.verification_tag
        )
    }
}

/// Checks the CRC32c of a received packet (RFC 9260 §6.8).
///
/// Fuzzing builds (`cfg(fuzzing)`) accept any checksum, so that the fuzzer
/// reaches the chunk parser.
pub fn verify_checksum(datagram: &[u8]) -> Result<(), Error> {
    let header = CommonHeader::parse(datagram)?;
    let computed = packet_checksum(datagram).unwrap_or_default();
    if cfg!(fuzzing) || computed == header.checksum {
        Ok(())
    } else {
        Err(Error::BadChecksum {
            received: header.checksum,
            computed,
        })
    }
}

/// A parsed packet: the common header and its chunks in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The common header.
    pub header: CommonHeader,
    /// The chunks, in the order they were bundled.
    pub chunks: Vec<Chunk>,
}

impl Packet {
    /// Verifies the checksum and parses every chunk of a received datagram.
    ///
    /// Bundling is not judged here: RFC 9260 leaves what to do with a
    /// wrongly bundled packet to the state (discard, or ABORT), so the
    /// association asks [`Packet::check_bundling`].
    pub fn parse(datagram: Bytes) -> Result<Self, Error> {
        verify_checksum(&datagram)?;
        Self::parse_unverified(datagram)
    }

    /// Parses without looking at the checksum.
    pub fn parse_unverified(datagram: Bytes) -> Result<Self, Error> {
        Self::parse_unverified_into(datagram, Vec::new())
    }

    /// As [`Packet::parse_unverified`], filling `chunks` (cleared first):
    /// a receiver that hands the vector back each time parses without
    /// allocating it.
    pub fn parse_unverified_into(datagram: Bytes, mut chunks: Vec<Chunk>) -> Result<Self, Error> {
        let header = CommonHeader::parse(&datagram)?;
        chunks.clear();
        for chunk in Chunks::new(datagram) {
            chunks.push(chunk?);
        }
        if chunks.is_empty() {
            return Err(Error::NoChunks);
        }
        Ok(Self { header, chunks })
    }

    /// RFC 9260 §6.10: INIT, INIT ACK and SHUTDOWN COMPLETE must be the only
    /// chunk of their packet.
    pub fn check_bundling(&self) -> Result<(), Error> {
        if self.chunks.len() > 1
            && let Some(c) = self.chunks.iter().find(|c| c.chunk_type().must_be_alone())
        {
            return Err(Error::NotBundlable(c.chunk_type()));
        }
        Ok(())
    }

    /// Encodes the packet into `buf` (appending), checksum included, with
    /// its chunks as they are: unlike [`PacketWriter`], this applies no
    /// bundling rule and no size budget, so that a received packet, wrongly
    /// bundled or not, can be re-encoded (for captures, tests and fuzzing).
    pub fn emit(&self, buf: &mut Vec<u8>) -> Result<(), BuildError> {
        let start = buf.len();
        write_header(buf, self.header);
        for chunk in &self.chunks {
            if let Err(e) = chunk.emit(buf) {
                buf.truncate(start);
                return Err(e);
            }
        }
        fill_checksum(&mut buf[start..]);
        Ok(())
    }
}

fn write_header(buf: &mut Vec<u8>, header: CommonHeader) {
    buf.extend_from_slice(&header.src_port.to_be_bytes());
    buf.extend_from_slice(&header.dst_port.to_be_bytes());
    buf.extend_from_slice(&header.verification_tag.to_be_bytes());
    buf.extend_from_slice(&[0; 4]);
}

/// Computes the checksum of a packet whose checksum field is zero or stale
/// and writes it in (least significant byte first, RFC 9260 Appendix B).
fn fill_checksum(packet: &mut [u8]) {
    let crc = packet_checksum(packet).unwrap_or_default();
    packet[8..12].copy_from_slice(&crc.to_le_bytes());
}

/// Iterates over the chunks of a datagram (after the common header) without
/// collecting them; stops after the first error.
#[derive(Debug, Clone)]
pub struct Chunks {
    reader: Reader,
    failed: bool,
}

impl Chunks {
    /// The chunks of `datagram`, which starts with the common header.
    pub fn new(mut datagram: Bytes) -> Self {
        let header = datagram.len().min(COMMON_HEADER_LEN);
        let _ = datagram.split_to(header);
        Self {
            reader: Reader::new(datagram, "packet"),
            failed: false,
        }
    }
}

impl Iterator for Chunks {
    type Item = Result<Chunk, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.is_empty() {
            return None;
        }
        let item = self.reader.tlv("chunk header").and_then(Chunk::from_tlv);
        self.failed = item.is_err();
        Some(item)
    }
}

/// Builds one packet into a caller-owned buffer, chunk by chunk, within a
/// size budget, enforcing the bundling rules of RFC 9260 §6.10.
///
/// ```
/// use usctp_proto::chunk::{Chunk, CommonHeader, PacketWriter};
///
/// let mut buf = Vec::new();
/// let header = CommonHeader { src_port: 13, dst_port: 5000, verification_tag: 7, checksum: 0 };
/// let mut packet = PacketWriter::new(&mut buf, header, 1200);
/// packet.push(&Chunk::CookieAck).unwrap();
/// let len = packet.finish();
/// assert_eq!(len, 16);
/// ```
#[derive(Debug)]
pub struct PacketWriter<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
    limit: usize,
    first: Option<ChunkType>,
    has_data: bool,
}

impl<'a> PacketWriter<'a> {
    /// Starts a packet at the end of `buf` that may grow to `max_size`
    /// bytes, common header included. Over UDP, `max_size` is the path MTU
    /// less the IP header and UDP's 8 bytes (RFC 6951 §5.6).
    pub fn new(buf: &'a mut Vec<u8>, header: CommonHeader, max_size: usize) -> Self {
        let start = buf.len();
        write_header(buf, header);
        Self {
            buf,
            start,
            limit: max_size.max(COMMON_HEADER_LEN),
            first: None,
            has_data: false,
        }
    }

    /// Bytes still free in the budget.
    pub fn remaining(&self) -> usize {
        self.limit - (self.buf.len() - self.start)
    }

    /// Raises the packet's size budget to `size` bytes (never above a UDP
    /// datagram's payload), for a chunk that cannot be cut to fit.
    pub fn grow_to(&mut self, size: usize) {
        self.limit = self.limit.max(size.min(crate::config::MAX_UDP_PAYLOAD));
    }

    /// Whether no chunk has been added yet.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Adds a chunk, or says why it cannot be added and leaves the packet
    /// as it was.
    pub fn push(&mut self, chunk: &Chunk) -> Result<(), BuildError> {
        let ty = chunk.chunk_type();
        self.may_bundle(ty)?;
        // The chunk's length is known before anything is written: a chunk
        // that does not fit leaves the packet untouched.
        let needed = chunk.encoded_len()?;
        self.append(ty, needed, |buf| chunk.emit(buf))
    }

    /// Adds a DATA chunk, as `push(&Chunk::Data(..))` would, without the
    /// copy of its payload handle that building a `Chunk` takes.
    pub fn push_data(&mut self, data: &Data) -> Result<(), BuildError> {
        self.may_bundle(ChunkType::DATA)?;
        let needed = data.encoded_len()?;
        self.append(ChunkType::DATA, needed, |buf| data.emit(buf))
    }

    /// Whether a chunk of type `ty` may join what the packet holds
    /// (§6.10: chunks that must go alone; control chunks before DATA).
    fn may_bundle(&self, ty: ChunkType) -> Result<(), BuildError> {
        if let Some(first) = self.first {
            if ty.must_be_alone() {
                return Err(BuildError::MustBeAlone(ty));
            }
            if first.must_be_alone() {
                return Err(BuildError::MustBeAlone(first));
            }
            if self.has_data && !ty.is_data() {
                return Err(BuildError::ControlAfterData(ty));
            }
        }
        Ok(())
    }

    /// Appends a chunk of type `ty` taking `needed` bytes, written by
    /// `emit`, if it fits.
    fn append(
        &mut self,
        ty: ChunkType,
        needed: usize,
        emit: impl FnOnce(&mut Vec<u8>) -> Result<(), BuildError>,
    ) -> Result<(), BuildError> {
        let available = self.remaining();
        if needed > available {
            return Err(BuildError::DoesNotFit { needed, available });
        }
        emit(self.buf)?;
        debug_assert_eq!(
            self.buf.len() - self.start,
            self.limit - available + needed,
            "encoded_len agrees with emit"
        );
        self.first.get_or_insert(ty);
        self.has_data |= ty.is_data();
        Ok(())
    }

    /// Fills in the checksum and returns the packet's length.
    pub fn finish(self) -> usize {
        let packet = &mut self.buf[self.start..];
        fill_checksum(packet);
        packet.len()
    }
}
