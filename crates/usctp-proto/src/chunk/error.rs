//! Codec errors: what was wrong with received bytes, or why a packet could
//! not be built.

use core::fmt;

use super::ChunkType;

/// Why received bytes are not a well-formed SCTP packet, chunk, parameter or
/// error cause. `what` names the structure being read ("SACK", "IPv4
/// Address", "common header", …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes remain than the structure needs.
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
    BadLength {
        /// The structure being read.
        what: &'static str,
        /// The length it claims (or has).
        length: usize,
    },
    /// Padding after an item is cut short by the end of its container.
    BadPadding {
        /// The structure being read.
        what: &'static str,
    },
    /// A field holds a value the structure cannot have.
    BadValue {
        /// The structure being read.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Bytes are left over after the structure's fields.
    TrailingBytes {
        /// The structure being read.
        what: &'static str,
        /// How many.
        count: usize,
    },
    /// RFC 9260 §6.10: this chunk must travel alone in its packet.
    NotBundlable(ChunkType),
    /// A packet holds no chunk at all.
    NoChunks,
    /// The CRC32c in the common header does not match the packet.
    BadChecksum {
        /// The value in the header.
        received: u32,
        /// The value computed over the packet.
        computed: u32,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated {
                what,
                needed,
                available,
            } => write!(
                f,
                "{what}: truncated, needs {needed} bytes, {available} left"
            ),
            Self::BadLength { what, length } => write!(f, "{what}: bad length {length}"),
            Self::BadPadding { what } => write!(f, "{what}: padding cut short"),
            Self::BadValue { what, reason } => write!(f, "{what}: {reason}"),
            Self::TrailingBytes { what, count } => {
                write!(f, "{what}: {count} trailing bytes")
            }
            Self::NotBundlable(ty) => write!(f, "{ty} bundled with other chunks"),
            Self::NoChunks => f.write_str("packet holds no chunk"),
            Self::BadChecksum { received, computed } => write!(
                f,
                "bad checksum {received:#010x}, computed {computed:#010x}"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Why a chunk could not be added to a packet under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The chunk does not fit in what is left of the size budget. The
    /// packet is unchanged and can be finished as it is.
    DoesNotFit {
        /// The chunk's encoded size with padding.
        needed: usize,
        /// Bytes left in the budget.
        available: usize,
    },
    /// RFC 9260 §6.10: INIT, INIT ACK and SHUTDOWN COMPLETE travel alone.
    MustBeAlone(ChunkType),
    /// RFC 9260 §6.10: control chunks go before DATA chunks.
    ControlAfterData(ChunkType),
    /// The chunk is longer than a 16-bit length can say.
    TooLong {
        /// Its length.
        length: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DoesNotFit { needed, available } => {
                write!(f, "chunk of {needed} bytes does not fit in {available}")
            }
            Self::MustBeAlone(ty) => write!(f, "{ty} must travel alone in a packet"),
            Self::ControlAfterData(ty) => write!(f, "control chunk {ty} after DATA"),
            Self::TooLong { length } => write!(f, "chunk of {length} bytes is too long"),
        }
    }
}

impl std::error::Error for BuildError {}
