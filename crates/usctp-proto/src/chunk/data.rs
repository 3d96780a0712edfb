//! DATA (RFC 9260 §3.3.1) and I-DATA (RFC 8260 §2.1).
//!
//! ```text
//!  DATA                                   I-DATA
//!  0       8     12 13 14 15  16      31   0       8     12 13 14 15  16      31
//! +-------+--------+--+--+--+--+--------+ +-------+--------+--+--+--+--+--------+
//! |Type=0 | Res    |I |U |B |E | Length | |Type=64| Res    |I |U |B |E | Length |
//! +-------+--------+--+--+--+--+--------+ +-------+--------+--+--+--+--+--------+
//! |                 TSN                 | |                 TSN                 |
//! +------------------+------------------+ +------------------+------------------+
//! |   Stream Id S    |  Stream Seq N    | |   Stream Id S    |    (Reserved)    |
//! +------------------+------------------+ +------------------+------------------+
//! |    Payload Protocol Identifier      | |         Message Identifier          |
//! +-------------------------------------+ +-------------------------------------+
//! |          User Data (seq of bytes)   | |  PPID (B=1) or Fragment Seq (B=0)   |
//! +-------------------------------------+ +-------------------------------------+
//!                                         |          User Data (seq of bytes)   |
//! ```
//!
//! A chunk with no user data parses: RFC 9260 §6.2 has the association
//! answer it with an ABORT carrying No User Data, so the codec must not hide
//! it.

use core::fmt;

use bytes::Bytes;

use super::codec::{Reader, Writer};
use super::{BuildError, ChunkType, Error};
use crate::serial::{Mid, Ssn, Tsn};

/// The flag bits shared by DATA and I-DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct DataFlags {
    /// E: the last fragment of a message.
    pub end: bool,
    /// B: the first fragment of a message.
    pub beginning: bool,
    /// U: an unordered message; its SSN (or MID) carries no meaning.
    pub unordered: bool,
    /// I (RFC 9260 §3.3.1, from RFC 7053): the sender asks for an immediate
    /// SACK.
    pub immediate: bool,
}

impl DataFlags {
    /// A whole message in one chunk: both B and E set.
    pub const WHOLE: Self = Self {
        end: true,
        beginning: true,
        unordered: false,
        immediate: false,
    };

    pub(crate) const fn from_bits(b: u8) -> Self {
        Self {
            end: b & 1 != 0,
            beginning: b & 2 != 0,
            unordered: b & 4 != 0,
            immediate: b & 8 != 0,
        }
    }

    pub(crate) const fn bits(self) -> u8 {
        (self.end as u8)
            | (self.beginning as u8) << 1
            | (self.unordered as u8) << 2
            | (self.immediate as u8) << 3
    }
}

impl fmt::Display for DataFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (set, c) in [
            (self.immediate, 'I'),
            (self.unordered, 'U'),
            (self.beginning, 'B'),
            (self.end, 'E'),
        ] {
            if set {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// A DATA chunk: one message or one fragment of it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Data {
    /// Flag bits.
    pub flags: DataFlags,
    /// Transmission Sequence Number.
    pub tsn: Tsn,
    /// Stream Identifier.
    pub stream: u16,
    /// Stream Sequence Number (ignored when unordered).
    pub ssn: Ssn,
    /// Payload Protocol Identifier, opaque to SCTP.
    pub ppid: u32,
    /// User data, a view into the received datagram.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))]
    pub payload: Bytes,
}

impl Data {
    /// Bytes before the user data: chunk header and fixed fields.
    pub const HEADER_LEN: usize = 16;

    pub(crate) fn parse(flags: u8, value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "DATA");
        Ok(Self {
            flags: DataFlags::from_bits(flags),
            tsn: Tsn(r.u32()?),
            stream: r.u16()?,
            ssn: Ssn(r.u16()?),
            ppid: r.u32()?,
            payload: r.rest(),
        })
    }

    /// Appends the chunk as [`super::Chunk::emit`] would.
    pub(crate) fn emit(&self, buf: &mut Vec<u8>) -> Result<(), BuildError> {
        self.emit_into(&mut Writer::new(buf))
    }

    /// What [`Data::emit`] appends, in bytes.
    pub(crate) fn encoded_len(&self) -> Result<usize, BuildError> {
        let mut w = Writer::measure();
        self.emit_into(&mut w)?;
        Ok(w.written())
    }

    fn emit_into(&self, w: &mut Writer<'_>) -> Result<(), BuildError> {
        w.tlv([ChunkType::DATA.0, self.flags.bits()], |w| {
            self.emit_value(w)
        })
        .map_err(|length| BuildError::TooLong { length })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.tsn.0);
        w.u16(self.stream);
        w.u16(self.ssn.0);
        w.u32(self.ppid);
        w.bytes(&self.payload);
    }
}

impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tsn={}, stream={}, ssn={}, ppid={}, len={}, flags={}",
            self.tsn,
            self.stream,
            self.ssn,
            self.ppid,
            self.payload.len(),
            self.flags
        )
    }
}

/// An I-DATA chunk (RFC 8260): DATA with a 32-bit message identifier, so
/// that fragments of messages on different streams can be interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IData {
    /// Flag bits.
    pub flags: DataFlags,
    /// Transmission Sequence Number.
    pub tsn: Tsn,
    /// Stream Identifier.
    pub stream: u16,
    /// Message Identifier.
    pub mid: Mid,
    /// On the first fragment (B set) the Payload Protocol Identifier; on
    /// the others the Fragment Sequence Number (RFC 8260 §2.1).
    pub ppid_or_fsn: u32,
    /// User data, a view into the received datagram.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))]
    pub payload: Bytes,
}

impl IData {
    /// Bytes before the user data: chunk header and fixed fields.
    pub const HEADER_LEN: usize = 20;

    pub(crate) fn parse(flags: u8, value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "I_DATA");
        let tsn = Tsn(r.u32()?);
        let stream = r.u16()?;
        let _reserved = r.u16()?;
        Ok(Self {
            flags: DataFlags::from_bits(flags),
            tsn,
            stream,
            mid: Mid(r.u32()?),
            ppid_or_fsn: r.u32()?,
            payload: r.rest(),
        })
    }

    /// The PPID, carried only by the first fragment.
    pub fn ppid(&self) -> Option<u32> {
        self.flags.beginning.then_some(self.ppid_or_fsn)
    }

    /// The Fragment Sequence Number; the first fragment's is 0.
    pub fn fsn(&self) -> u32 {
        if self.flags.beginning {
            0
        } else {
            self.ppid_or_fsn
        }
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.tsn.0);
        w.u16(self.stream);
        w.u16(0);
        w.u32(self.mid.0);
        w.u32(self.ppid_or_fsn);
        w.bytes(&self.payload);
    }
}

impl fmt::Display for IData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tsn={}, stream={}, mid={}, ",
            self.tsn, self.stream, self.mid
        )?;
        match self.ppid() {
            Some(ppid) => write!(f, "ppid={ppid}")?,
            None => write!(f, "fsn={}", self.fsn())?,
        }
        write!(f, ", len={}, flags={}", self.payload.len(), self.flags)
    }
}
