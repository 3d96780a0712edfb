//! SHUTDOWN (RFC 9260 §3.3.8), SHUTDOWN ACK (§3.3.9) and SHUTDOWN COMPLETE
//! (§3.3.13).
//!
//! ```text
//!  SHUTDOWN                                SHUTDOWN ACK / SHUTDOWN COMPLETE
//! +---------------+---------------+-------+ +----------------+-----------+-+-------------+
//! |   Type = 7    |  Chunk Flags  | Len=8 | | Type = 8 or 14 | Reserved  |T| Length = 4  |
//! +---------------+---------------+-------+ +----------------+-----------+-+-------------+
//! |          Cumulative TSN Ack           |   (T only on SHUTDOWN COMPLETE)
//! +---------------------------------------+
//! ```
//!
//! SHUTDOWN ACK has no fields, so `Chunk::ShutdownAck` carries nothing.

use core::fmt;

use bytes::Bytes;

use super::Error;
use super::codec::Reader;
use crate::serial::Tsn;

/// A SHUTDOWN chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Shutdown {
    /// The last TSN received in sequence by the sender.
    pub cumulative_tsn_ack: Tsn,
}

impl Shutdown {
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "SHUTDOWN");
        let cumulative_tsn_ack = Tsn(r.u32()?);
        r.finish()?;
        Ok(Self { cumulative_tsn_ack })
    }
}

impl fmt::Display for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cum_tsn={}", self.cumulative_tsn_ack)
    }
}

/// A SHUTDOWN COMPLETE chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ShutdownComplete {
    /// T bit: the verification tag is the receiver's own, reflected.
    pub reflected_tag: bool,
}

impl fmt::Display for ShutdownComplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T={}", u8::from(self.reflected_tag))
    }
}
