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
use super::codec::{Reader, Writer};
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

/// A FORWARD TSN chunk: the receiver moves its cumulative TSN forward past
/// abandoned messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ForwardTsn {
    /// The new cumulative TSN.
    pub new_cumulative_tsn: Tsn,
    /// Ordered streams whose skipped messages affect delivery.
    pub streams: Vec<ForwardTsnStream>,
}

/// Fails unless what is left splits into whole entries of `size` bytes.
fn entries(what: &'static str, r: &Reader, size: usize) -> Result<usize, Error> {
    if r.remaining() % size != 0 {
        return Err(Error::BadLength {
            what,
            length: 8 + r.remaining(),
        });
    }
    Ok(r.remaining() / size)
}

impl ForwardTsn {
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "FORWARD_TSN");
        let new_cumulative_tsn = Tsn(r.u32()?);
        let n = entries("FORWARD_TSN", &r, 4)?;
        let streams = (0..n)
            .map(|_| {
                Ok(ForwardTsnStream {
                    stream: r.u16()?,
                    ssn: Ssn(r.u16()?),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Self {
            new_cumulative_tsn,
            streams,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.new_cumulative_tsn.0);
        for s in &self.streams {
            w.u16(s.stream);
            w.u16(s.ssn.0);
        }
    }
}

impl fmt::Display for ForwardTsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "new_cum_tsn={}, streams=[", self.new_cumulative_tsn)?;
        for (i, s) in self.streams.iter().enumerate() {
            f.write_str(if i > 0 { " " } else { "" })?;
            write!(f, "{}:{}", s.stream, s.ssn)?;
        }
        f.write_str("]")
    }
}

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

/// An I-FORWARD-TSN chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IForwardTsn {
    /// The new cumulative TSN.
    pub new_cumulative_tsn: Tsn,
    /// Streams whose skipped messages affect delivery.
    pub streams: Vec<IForwardTsnStream>,
}

impl IForwardTsn {
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "I_FORWARD_TSN");
        let new_cumulative_tsn = Tsn(r.u32()?);
        let n = entries("I_FORWARD_TSN", &r, 8)?;
        let streams = (0..n)
            .map(|_| {
                let stream = r.u16()?;
                let flags = r.u16()?;
                Ok(IForwardTsnStream {
                    stream,
                    unordered: flags & 1 != 0,
                    mid: Mid(r.u32()?),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Self {
            new_cumulative_tsn,
            streams,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.new_cumulative_tsn.0);
        for s in &self.streams {
            w.u16(s.stream);
            w.u16(u16::from(s.unordered));
            w.u32(s.mid.0);
        }
    }
}

impl fmt::Display for IForwardTsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "new_cum_tsn={}, streams=[", self.new_cumulative_tsn)?;
        for (i, s) in self.streams.iter().enumerate() {
            f.write_str(if i > 0 { " " } else { "" })?;
            let u = if s.unordered { "U" } else { "" };
            write!(f, "{}:{}{u}", s.stream, s.mid)?;
        }
        f.write_str("]")
    }
}
