//! Codec errors: what was wrong with received bytes, or why a packet could
//! not be built.

use super::ChunkType;

/// Why received bytes are not a well-formed SCTP packet, chunk, parameter or
/// error cause. `what` names the structure being read ("SACK", "IPv4
/// Address", "common header", …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes remain than the structure needs.
    #[error("{what}: truncated, needs {needed} bytes, {available} left")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// Bytes it needs.
        needed: usize,
        /// Bytes that were there.
        available: usize,
    },
    /// A length field is below the header size, or not a length the
    /// structure can have.
    #[error("{what}: bad length {length}")]
    BadLength {
        /// The structure being read.
        what: &'static str,
        /// The length it claims (or has).
        length: usize,
    },
    /// Padding after an item is cut short by the end of its container.
    #[error("{what}: padding cut short")]
    BadPadding {
        /// The structure being read.
        what: &'static str,
    },
    /// A field holds a value the structure cannot have.
    #[error("{what}: {reason}")]
    BadValue {
        /// The structure being read.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Bytes are left over after the structure's fields.
    #[error("{what}: {count} trailing bytes")]
    TrailingBytes {
        /// The structure being read.
        what: &'static str,
        /// How many.
        count: usize,
    },
    /// RFC 9260 §6.10: this chunk must travel alone in its packet.
    #[error("{0} bundled with other chunks")]
    NotBundlable(ChunkType),
    /// A packet holds no chunk at all.
    #[error("packet holds no chunk")]
    NoChunks,
    /// The CRC32c in the common header does not match the packet.
    #[error("bad checksum {received:#010x}, computed {computed:#010x}")]
    BadChecksum {
        /// The value in the header.
        received: u32,
        /// The value computed over the packet.
        computed: u32,
    },
}

/// Why a chunk could not be added to a packet under construction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The chunk does not fit in what is left of the size budget. The
    /// packet is unchanged and can be finished as it is.
    #[error("chunk of {needed} bytes does not fit in {available}")]
    DoesNotFit {
        /// The chunk's encoded size with padding.
        needed: usize,
        /// Bytes left in the budget.
        available: usize,
    },
    /// RFC 9260 §6.10: INIT, INIT ACK and SHUTDOWN COMPLETE travel alone.
    #[error("{0} must travel alone in a packet")]
    MustBeAlone(ChunkType),
    /// RFC 9260 §6.10: control chunks go before DATA chunks.
    #[error("control chunk {0} after DATA")]
    ControlAfterData(ChunkType),
    /// The chunk is longer than a 16-bit length can say.
    #[error("chunk of {length} bytes is too long")]
    TooLong {
        /// Its length.
        length: usize,
    },
}
