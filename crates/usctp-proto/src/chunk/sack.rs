//! SACK (RFC 9260 §3.3.4) and NR-SACK (draft-tuexen-tsvwg-sctp-multipath,
//! as FreeBSD and usrsctp implement it).
//!
//! ```text
//!  0                   1                   2                   3
//! +---------------+---------------+-------------------------------+
//! |   Type = 3    |  Chunk Flags  |          Chunk Length         |
//! +---------------+---------------+-------------------------------+
//! |                      Cumulative TSN Ack                       |
//! +---------------------------------------------------------------+
//! |           Advertised Receiver Window Credit (a_rwnd)          |
//! +-------------------------------+-------------------------------+
//! | Number of Gap Ack Blocks = N  |  Number of Duplicate TSNs = M |
//! +-------------------------------+-------------------------------+
//! |    Gap Ack Block #1 Start     |     Gap Ack Block #1 End      |
//! \                              ...                              \
//! |                        Duplicate TSN 1                        |
//! \                              ...                              \
//! +---------------------------------------------------------------+
//! ```
//!
//! NR-SACK inserts the number of NR gap blocks after N (with 16 reserved
//! bits after M) and lists its NR gap blocks after the gap blocks.
//!
//! The counts must agree exactly with the chunk length: a SACK whose counts
//! claim more blocks than it carries is malformed, not trusted.

use core::fmt;

use bytes::Bytes;

use super::Error;
use super::codec::{Joined, Reader, Writer};
use crate::serial::Tsn;

/// A Gap Ack Block: TSNs `cumulative + start ..= cumulative + end` arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct GapBlock {
    /// Offset of the first TSN of the block from the cumulative TSN ack.
    pub start: u16,
    /// Offset of the last TSN of the block.
    pub end: u16,
}

/// A SACK chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Sack {
    /// Every TSN up to and including this one arrived.
    pub cumulative_tsn_ack: Tsn,
    /// Advertised Receiver Window Credit, in bytes.
    pub a_rwnd: u32,
    /// Blocks received beyond the cumulative TSN ack, in order.
    pub gap_blocks: Vec<GapBlock>,
    /// TSNs received more than once since the last SACK.
    pub duplicate_tsns: Vec<Tsn>,
}

fn parse_blocks(r: &mut Reader, n: usize) -> Result<Vec<GapBlock>, Error> {
    (0..n)
        .map(|_| {
            Ok(GapBlock {
                start: r.u16()?,
                end: r.u16()?,
            })
        })
        .collect()
}

fn parse_tsns(r: &mut Reader, n: usize) -> Result<Vec<Tsn>, Error> {
    (0..n).map(|_| r.u32().map(Tsn)).collect()
}

/// Checks the counts against what is left, before allocating for them.
fn check_counts(what: &'static str, r: &Reader, fixed: usize, items: usize) -> Result<(), Error> {
    if r.remaining() != items * 4 {
        return Err(Error::BadLength {
            what,
            length: fixed + r.remaining(),
        });
    }
    Ok(())
}

impl Sack {
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "SACK");
        let cumulative_tsn_ack = Tsn(r.u32()?);
        let a_rwnd = r.u32()?;
        let gaps = usize::from(r.u16()?);
        let dups = usize::from(r.u16()?);
        check_counts("SACK", &r, 16, gaps + dups)?;
        Ok(Self {
            cumulative_tsn_ack,
            a_rwnd,
            gap_blocks: parse_blocks(&mut r, gaps)?,
            duplicate_tsns: parse_tsns(&mut r, dups)?,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.cumulative_tsn_ack.0);
        w.u32(self.a_rwnd);
        w.u16(self.gap_blocks.len() as u16);
        w.u16(self.duplicate_tsns.len() as u16);
        emit_blocks(&self.gap_blocks, w);
        self.duplicate_tsns.iter().for_each(|t| w.u32(t.0));
    }
}

fn emit_blocks(blocks: &[GapBlock], w: &mut Writer<'_>) {
    for b in blocks {
        w.u16(b.start);
        w.u16(b.end);
    }
}

impl fmt::Display for GapBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl fmt::Display for Sack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cum_tsn={}, a_rwnd={}, gaps=[{}], dups={}",
            self.cumulative_tsn_ack,
            self.a_rwnd,
            Joined(&self.gap_blocks, " "),
            self.duplicate_tsns.len()
        )
    }
}

/// An NR-SACK chunk: a SACK that also says which out-of-order TSNs the
/// receiver will never renege on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct NrSack {
    /// Chunk flags (bit 0: all out-of-order data is non-renegable).
    pub flags: u8,
    /// Every TSN up to and including this one arrived.
    pub cumulative_tsn_ack: Tsn,
    /// Advertised Receiver Window Credit, in bytes.
    pub a_rwnd: u32,
    /// Renegable gap blocks.
    pub gap_blocks: Vec<GapBlock>,
    /// Non-renegable gap blocks.
    pub nr_gap_blocks: Vec<GapBlock>,
    /// Duplicate TSNs.
    pub duplicate_tsns: Vec<Tsn>,
}

impl NrSack {
    pub(crate) fn parse(flags: u8, value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "NR_SACK");
        let cumulative_tsn_ack = Tsn(r.u32()?);
        let a_rwnd = r.u32()?;
        let gaps = usize::from(r.u16()?);
        let nr_gaps = usize::from(r.u16()?);
        let dups = usize::from(r.u16()?);
        let _reserved = r.u16()?;
        check_counts("NR_SACK", &r, 20, gaps + nr_gaps + dups)?;
        Ok(Self {
            flags,
            cumulative_tsn_ack,
            a_rwnd,
            gap_blocks: parse_blocks(&mut r, gaps)?,
            nr_gap_blocks: parse_blocks(&mut r, nr_gaps)?,
            duplicate_tsns: parse_tsns(&mut r, dups)?,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.cumulative_tsn_ack.0);
        w.u32(self.a_rwnd);
        w.u16(self.gap_blocks.len() as u16);
        w.u16(self.nr_gap_blocks.len() as u16);
        w.u16(self.duplicate_tsns.len() as u16);
        w.u16(0);
        emit_blocks(&self.gap_blocks, w);
        emit_blocks(&self.nr_gap_blocks, w);
        self.duplicate_tsns.iter().for_each(|t| w.u32(t.0));
    }
}

impl fmt::Display for NrSack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cum_tsn={}, a_rwnd={}, gaps=[{}], nr_gaps=[{}], dups={}",
            self.cumulative_tsn_ack,
            self.a_rwnd,
            Joined(&self.gap_blocks, " "),
            Joined(&self.nr_gap_blocks, " "),
            self.duplicate_tsns.len()
        )
    }
}
