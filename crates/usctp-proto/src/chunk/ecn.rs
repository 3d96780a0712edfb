//! ECN Echo (ECNE) and Congestion Window Reduced (CWR), RFC 9260 Appendix A.
//!
//! ```text
//!  0                   1                   2                   3
//! +---------------+---------------+-------------------------------+
//! | Type=12 or 13 |  Chunk Flags  |          Length = 8           |
//! +---------------+---------------+-------------------------------+
//! |                       Lowest TSN Number                       |
//! +---------------------------------------------------------------+
//! ```

use bytes::Bytes;

use super::Error;
use super::codec::Reader;
use crate::serial::Tsn;

/// An ECNE chunk: the receiver saw a congestion mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Ecne {
    /// The lowest TSN of the packets that carried the mark.
    pub lowest_tsn: Tsn,
}

/// A CWR chunk: the sender reduced its congestion window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Cwr {
    /// The TSN from the ECNE being answered.
    pub lowest_tsn: Tsn,
}

fn parse_tsn(what: &'static str, value: Bytes) -> Result<Tsn, Error> {
    let mut r = Reader::new(value, what);
    let tsn = Tsn(r.u32()?);
    r.finish()?;
    Ok(tsn)
}

impl Ecne {
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        parse_tsn("ECNE", value).map(|lowest_tsn| Self { lowest_tsn })
    }
}

impl Cwr {
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        parse_tsn("CWR", value).map(|lowest_tsn| Self { lowest_tsn })
    }
}
