//! INIT (RFC 9260 §3.3.2) and INIT ACK (§3.3.3): the same body.
//!
//! ```text
//!  0                   1                   2                   3
//! +---------------+---------------+-------------------------------+
//! | Type = 1 or 2 |  Chunk Flags  |          Chunk Length         |
//! +---------------+---------------+-------------------------------+
//! |                         Initiate Tag                          |
//! +---------------------------------------------------------------+
//! |           Advertised Receiver Window Credit (a_rwnd)          |
//! +-------------------------------+-------------------------------+
//! |  Number of Outbound Streams   |   Number of Inbound Streams   |
//! +-------------------------------+-------------------------------+
//! |                          Initial TSN                          |
//! +---------------------------------------------------------------+
//! \              Optional/Variable-Length Parameters              \
//! +---------------------------------------------------------------+
//! ```
//!
//! The codec takes any values; whether a zero tag or zero stream count is
//! acceptable is the association's call (RFC 9260 §5.1).

use core::fmt;

use bytes::Bytes;

use super::Error;
use super::codec::{self, Joined, Reader, Writer};
use super::param::Param;
use crate::serial::Tsn;

/// The body of an INIT or INIT ACK chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Init {
    /// The tag the receiver must put in every packet it sends back.
    pub initiate_tag: u32,
    /// Advertised Receiver Window Credit, in bytes.
    pub a_rwnd: u32,
    /// Number of Outbound Streams the sender wants.
    pub outbound_streams: u16,
    /// Number of Inbound Streams the sender allows.
    pub inbound_streams: u16,
    /// The TSN the sender's first DATA will carry.
    pub initial_tsn: Tsn,
    /// Optional and variable-length parameters, in order.
    pub params: Vec<Param>,
}

impl Init {
    pub(crate) fn parse(what: &'static str, value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, what);
        Ok(Self {
            initiate_tag: r.u32()?,
            a_rwnd: r.u32()?,
            outbound_streams: r.u16()?,
            inbound_streams: r.u16()?,
            initial_tsn: Tsn(r.u32()?),
            params: codec::parse_all(&mut r)?,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.initiate_tag);
        w.u32(self.a_rwnd);
        w.u16(self.outbound_streams);
        w.u16(self.inbound_streams);
        w.u32(self.initial_tsn.0);
        codec::emit_all(&self.params, w);
    }

    /// The State Cookie parameter of an INIT ACK, if present.
    pub fn state_cookie(&self) -> Option<&Bytes> {
        self.params.iter().find_map(|p| match p {
            Param::StateCookie(c) => Some(c),
            _ => None,
        })
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "init_tag={:#010x}, a_rwnd={}, os={}, mis={}, init_tsn={}",
            self.initiate_tag,
            self.a_rwnd,
            self.outbound_streams,
            self.inbound_streams,
            self.initial_tsn
        )?;
        if !self.params.is_empty() {
            write!(f, ", {}", Joined(&self.params, ", "))?;
        }
        Ok(())
    }
}
