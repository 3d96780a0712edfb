//! AUTH (RFC 4895 §4.1).
//!
//! ```text
//!  0                   1                   2                   3
//! +---------------+---------------+-------------------------------+
//! |  Type = 0x0F  |  Chunk Flags  |             Length            |
//! +---------------+---------------+-------------------------------+
//! |      Shared Key Identifier    |        HMAC Identifier        |
//! +-------------------------------+-------------------------------+
//! \                             HMAC                              \
//! +---------------------------------------------------------------+
//! ```

use core::fmt;

use bytes::Bytes;

use super::Error;
use super::codec::{Reader, Writer};

/// An AUTH chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Auth {
    /// Which shared key the HMAC was computed with.
    pub shared_key_id: u16,
    /// Which HMAC algorithm (1 = SHA-1, 3 = SHA-256).
    pub hmac_id: u16,
    /// The HMAC over the chunks that follow.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))]
    pub hmac: Bytes,
}

impl Auth {
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "AUTH");
        Ok(Self {
            shared_key_id: r.u16()?,
            hmac_id: r.u16()?,
            hmac: r.rest(),
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u16(self.shared_key_id);
        w.u16(self.hmac_id);
        w.bytes(&self.hmac);
    }
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "key_id={}, hmac_id={}, hmac_len={}",
            self.shared_key_id,
            self.hmac_id,
            self.hmac.len()
        )
    }
}
