//! HEARTBEAT (RFC 9260 §3.3.5) and HEARTBEAT ACK (§3.3.6): the same body.
//!
//! ```text
//!  0                   1                   2                   3
//! +---------------+---------------+-------------------------------+
//! | Type = 4 or 5 |  Chunk Flags  |       Heartbeat Length        |
//! +---------------+---------------+-------------------------------+
//! |   Heartbeat Info Type = 1     |          HB Info Length       |
//! +-------------------------------+-------------------------------+
//! \                  Sender-Specific Heartbeat Info               \
//! +---------------------------------------------------------------+
//! ```
//!
//! The receiver of a HEARTBEAT returns the Heartbeat Info parameter
//! unchanged; only its sender interprets it.

use core::fmt;

use bytes::Bytes;

use super::codec::{Reader, Writer};
use super::{Error, ParamType};

/// The body of a HEARTBEAT or HEARTBEAT ACK chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Heartbeat {
    /// The value of the Heartbeat Info parameter, opaque to the receiver.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))]
    pub info: Bytes,
}

impl Heartbeat {
    pub(crate) fn parse(what: &'static str, value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, what);
        let tlv = r.tlv(what)?;
        if tlv.type16() != ParamType::HEARTBEAT_INFO.0 {
            return Err(Error::BadValue {
                what,
                reason: "first parameter is not Heartbeat Info",
            });
        }
        r.finish()?;
        Ok(Self { info: tlv.value })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        let _ = w.tlv(ParamType::HEARTBEAT_INFO.0.to_be_bytes(), |w| {
            w.bytes(&self.info)
        });
    }
}

impl fmt::Display for Heartbeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "info_len={}", self.info.len())
    }
}
