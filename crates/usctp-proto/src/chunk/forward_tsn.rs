//! FORWARD TSN (RFC 3758 §3.2) and I-FORWARD-TSN (RFC 8260 §2.3.1).
//!
//! ```text
//!  FORWARD TSN                              I-FORWARD-TSN
//! +-----------+-------------+--------+      +-----------+-------------+--------+
//! | Type=192  | Flags = 0x00| Length |      | Type=194  | Flags = 0x00| Length |
//! +-----------+-------------+--------+      +-----------+-------------+--------+
//! |      New Cumulative TSN          |      |      New Cumulative TSN          |
//! +----------------+-----------------+      +----------------+-------------+---+
//! |   Stream-1     | Stream Seq-1    |      |   Stream-1     |  Reserved   | U |
//! +----------------+-----------------+      +----------------+-------------+---+
//! \              ...                 \      |        Message Identifier-1      |
//! +----------------+-----------------+      +----------------------------------+
//!                                           \              ...                 \
//! ```

use core::fmt;

use bytes::Bytes;

use super::Error;
use super::codec::{Joined, Reader, Writer};
use crate::serial::{Mid, Ssn, Tsn};

/// One stream entry of a FORWARD TSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ForwardTsnStream {
    /// Stream Identifier.
    pub stream: u16,
    /// The largest SSN skipped on it.
    pub ssn: Ssn,
}

/// A FORWARD TSN or I-FORWARD-TSN chunk: the receiver moves its cumulative
/// TSN forward past abandoned messages. `E` is the chunk's stream entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ForwardTsnOf<E> {
    /// The new cumulative TSN.
    pub new_cumulative_tsn: Tsn,
    /// Streams whose skipped messages affect delivery (for FORWARD TSN,
    /// ordered streams only).
    pub streams: Vec<E>,
}

/// A FORWARD TSN chunk (RFC 3758 §3.2).
pub type ForwardTsn = ForwardTsnOf<ForwardTsnStream>;

/// An I-FORWARD-TSN chunk (RFC 8260 §2.3.1).
pub type IForwardTsn = ForwardTsnOf<IForwardTsnStream>;

/// One stream entry of an I-FORWARD-TSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IForwardTsnStream {
    /// Stream Identifier.
    pub stream: u16,
    /// U bit: the entry is about unordered messages.
    pub unordered: bool,
    /// The largest MID skipped.
    pub mid: Mid,
}

/// A fixed-size stream entry after the new cumulative TSN.
trait Entry: Sized + fmt::Display {
    /// The chunk's name, for errors.
    const CHUNK: &'static str;
    const SIZE: usize;
    fn read(r: &mut Reader) -> Result<Self, Error>;
    fn write(&self, w: &mut Writer<'_>);
}

impl Entry for ForwardTsnStream {
    const CHUNK: &'static str = "FORWARD_TSN";
    const SIZE: usize = 4;

    fn read(r: &mut Reader) -> Result<Self, Error> {
        Ok(Self {
            stream: r.u16()?,
            ssn: Ssn(r.u16()?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u16(self.stream);
        w.u16(self.ssn.0);
    }
}

impl fmt::Display for ForwardTsnStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.stream, self.ssn)
    }
}

impl Entry for IForwardTsnStream {
    const CHUNK: &'static str = "I_FORWARD_TSN";
    const SIZE: usize = 8;

    fn read(r: &mut Reader) -> Result<Self, Error> {
        let stream = r.u16()?;
        let flags = r.u16()?;
        Ok(Self {
            stream,
            unordered: flags & 1 != 0,
            mid: Mid(r.u32()?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u16(self.stream);
        w.u16(u16::from(self.unordered));
        w.u32(self.mid.0);
    }
}

impl fmt::Display for IForwardTsnStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = if self.unordered { "U" } else { "" };
        write!(f, "{}:{}{u}", self.stream, self.mid)
    }
}

// `Entry` is private: only the two entry types above implement it, and these
// methods are the crate's.
#[allow(private_bounds)]
impl<E: Entry> ForwardTsnOf<E> {
    /// Fails unless what follows the new cumulative TSN splits into whole
    /// entries.
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, E::CHUNK);
        let new_cumulative_tsn = Tsn(r.u32()?);
        if !r.remaining().is_multiple_of(E::SIZE) {
            return Err(Error::BadLength {
                what: E::CHUNK,
                length: 8 + r.remaining(),
            });
        }
        let streams = (0..r.remaining() / E::SIZE)
            .map(|_| E::read(&mut r))
            .collect::<Result<_, Error>>()?;
        Ok(Self {
            new_cumulative_tsn,
            streams,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.new_cumulative_tsn.0);
        self.streams.iter().for_each(|e| e.write(w));
    }
}

impl<E: fmt::Display> fmt::Display for ForwardTsnOf<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "new_cum_tsn={}, streams=[{}]",
            self.new_cumulative_tsn,
            Joined(&self.streams, " ")
        )
    }
}
