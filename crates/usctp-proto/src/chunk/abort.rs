//! ABORT (RFC 9260 §3.3.7) and ERROR (§3.3.10): chunks made of error causes.
//!
//! ```text
//!  0                   1                   2                   3
//! +---------------+-------------+-+-------------------------------+
//! | Type = 6 or 9 |  Reserved   |T|            Length             |
//! +---------------+-------------+-+-------------------------------+
//! \                   zero or more Error Causes                   \
//! +---------------------------------------------------------------+
//! ```
//!
//! ABORT and SHUTDOWN COMPLETE (§3.3.13) carry a T bit: set, it says the
//! packet's tag is the one the sender got from the packet it answers (its
//! peer's tag reflected, §8.5.1 (B), (C)), because the sender has no
//! association (no TCB) to take a tag from.

use core::fmt;

use bytes::Bytes;

use super::Error;
use super::codec::{self, Joined, Reader};
use super::error_cause::ErrorCause;

/// An ABORT chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Abort {
    /// T bit: the verification tag is the receiver's own, reflected.
    pub reflected_tag: bool,
    /// Why the association is being aborted.
    pub causes: Vec<ErrorCause>,
}

impl Abort {
    pub(crate) fn parse(flags: u8, value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "ABORT");
        Ok(Self {
            reflected_tag: flags & 1 != 0,
            causes: codec::parse_all(&mut r)?,
        })
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T={}", u8::from(self.reflected_tag))?;
        if !self.causes.is_empty() {
            write!(f, ", {}", Joined(&self.causes, ", "))?;
        }
        Ok(())
    }
}

/// An ERROR chunk: conditions that do not end the association.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ErrorChunk {
    /// The causes reported.
    pub causes: Vec<ErrorCause>,
}

impl ErrorChunk {
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "ERROR");
        Ok(Self {
            causes: codec::parse_all(&mut r)?,
        })
    }
}

impl fmt::Display for ErrorChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Joined(&self.causes, ", "))
    }
}
