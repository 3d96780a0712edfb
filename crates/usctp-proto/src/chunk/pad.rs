//! PAD (RFC 4820 §3): a chunk that only takes up room, for path MTU probes.
//!
//! ```text
//!  0                   1                   2                   3
//! +---------------+---------------+-------------------------------+
//! | Type = 0x84   |   Flags=0     |             Length            |
//! +---------------+---------------+-------------------------------+
//! \                         Padding Data                          \
//! +---------------------------------------------------------------+
//! ```

use bytes::Bytes;

/// A PAD chunk; its receiver ignores the padding data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Pad {
    /// The padding data, as received.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))]
    pub padding: Bytes,
}
