//! COOKIE ECHO (RFC 9260 §3.3.11) and COOKIE ACK (§3.3.12).
//!
//! ```text
//!  COOKIE ECHO                             COOKIE ACK
//! +---------------+---------------+------+ +----------+-------------+------------+
//! |   Type = 10   |  Chunk Flags  |Length| | Type = 11| Chunk Flags | Length = 4 |
//! +---------------+---------------+------+ +----------+-------------+------------+
//! \                Cookie                \
//! +--------------------------------------+
//! ```
//!
//! The cookie is the State Cookie parameter's value from the INIT ACK,
//! returned unchanged. COOKIE ACK has no fields (`Chunk::CookieAck`).

use bytes::Bytes;

/// A COOKIE ECHO chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct CookieEcho {
    /// The state cookie, as the INIT ACK carried it.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))]
    pub cookie: Bytes,
}
