//! RE-CONFIG (RFC 6525 §3.1) and its request and response parameters
//! (§4.1–§4.6).
//!
//! ```text
//!  0                   1                   2                   3
//! +---------------+---------------+-------------------------------+
//! | Type = 130    |  Chunk Flags  |      Chunk Length             |
//! +---------------+---------------+-------------------------------+
//! \                  Re-configuration Parameter                   \
//! +---------------------------------------------------------------+
//! \             Re-configuration Parameter (optional)             \
//! +---------------------------------------------------------------+
//! ```
//!
//! The chunk's parameters share the parameter number space, so they are
//! [`Param`](super::Param) variants; the structures they carry live here.

use core::fmt;

use bytes::Bytes;

use super::Error;
use super::codec::{self, Reader, Writer};
use super::macros::wire_enum;
use super::param::{Param, u16_list};
use crate::serial::Tsn;

wire_enum! {
    /// The result of a re-configuration request (RFC 6525 §4.4).
    pub struct ReconfigResult(u32);
    SUCCESS_NOTHING_TO_DO = 0, "Success_Nothing_to_do", "Nothing needed doing";
    SUCCESS_PERFORMED = 1, "Success_Performed", "The request was carried out";
    DENIED = 2, "Denied", "The request was refused";
    ERROR_WRONG_SSN = 3, "Error_Wrong_SSN", "The stream sequence numbers did not match";
    ERROR_REQUEST_IN_PROGRESS = 4, "Error_Request_already_in_progress", "Another request is being handled";
    ERROR_BAD_SEQUENCE_NUMBER = 5, "Error_Bad_Sequence_Number", "The request sequence number was wrong";
    IN_PROGRESS = 6, "In_progress", "The request is being carried out";
}

/// Outgoing SSN Reset Request (RFC 6525 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct OutgoingSsnReset {
    /// Re-configuration Request Sequence Number.
    pub request_seq: u32,
    /// Re-configuration Response Sequence Number (of the Incoming request
    /// this answers, if any).
    pub response_seq: u32,
    /// The last TSN the sender assigned.
    pub last_tsn: Tsn,
    /// The streams to reset; empty means all.
    pub streams: Vec<u16>,
}

impl OutgoingSsnReset {
    pub(crate) fn parse(r: &mut Reader) -> Result<Self, Error> {
        Ok(Self {
            request_seq: r.u32()?,
            response_seq: r.u32()?,
            last_tsn: Tsn(r.u32()?),
            streams: u16_list("Outgoing_SSN_Reset_Request", r)?,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.request_seq);
        w.u32(self.response_seq);
        w.u32(self.last_tsn.0);
        self.streams.iter().for_each(|&s| w.u16(s));
    }
}

impl fmt::Display for OutgoingSsnReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "req_seq={}, resp_seq={}, last_tsn={}, streams={:?}",
            self.request_seq, self.response_seq, self.last_tsn, self.streams
        )
    }
}

/// Incoming SSN Reset Request (RFC 6525 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IncomingSsnReset {
    /// Re-configuration Request Sequence Number.
    pub request_seq: u32,
    /// The streams to reset; empty means all.
    pub streams: Vec<u16>,
}

impl IncomingSsnReset {
    pub(crate) fn parse(r: &mut Reader) -> Result<Self, Error> {
        Ok(Self {
            request_seq: r.u32()?,
            streams: u16_list("Incoming_SSN_Reset_Request", r)?,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.request_seq);
        self.streams.iter().for_each(|&s| w.u16(s));
    }
}

impl fmt::Display for IncomingSsnReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "req_seq={}, streams={:?}",
            self.request_seq, self.streams
        )
    }
}

/// Re-configuration Response (RFC 6525 §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ReconfigResponse {
    /// The request sequence number being answered.
    pub response_seq: u32,
    /// What became of the request.
    pub result: ReconfigResult,
    /// Sender's Next TSN and Receiver's Next TSN, present only in the
    /// answer to an SSN/TSN Reset Request.
    pub next_tsns: Option<(Tsn, Tsn)>,
}

impl ReconfigResponse {
    pub(crate) fn parse(r: &mut Reader) -> Result<Self, Error> {
        let response_seq = r.u32()?;
        let result = ReconfigResult(r.u32()?);
        let next_tsns = match r.remaining() {
            0 => None,
            8 => Some((Tsn(r.u32()?), Tsn(r.u32()?))),
            n => {
                return Err(Error::BadLength {
                    what: "Re_configuration_Response",
                    length: 12 + n,
                });
            }
        };
        Ok(Self {
            response_seq,
            result,
            next_tsns,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.response_seq);
        w.u32(self.result.0);
        if let Some((sender, receiver)) = self.next_tsns {
            w.u32(sender.0);
            w.u32(receiver.0);
        }
    }
}

impl fmt::Display for ReconfigResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "resp_seq={}, result={}", self.response_seq, self.result)?;
        if let Some((s, r)) = self.next_tsns {
            write!(f, ", sender_next_tsn={s}, receiver_next_tsn={r}")?;
        }
        Ok(())
    }
}

/// Add Outgoing Streams or Add Incoming Streams Request (RFC 6525 §4.5,
/// §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AddStreams {
    /// Re-configuration Request Sequence Number.
    pub request_seq: u32,
    /// Number of new streams.
    pub count: u16,
}

impl AddStreams {
    pub(crate) fn parse(r: &mut Reader) -> Result<Self, Error> {
        let request_seq = r.u32()?;
        let count = r.u16()?;
        let _reserved = r.u16()?;
        Ok(Self { request_seq, count })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.request_seq);
        w.u16(self.count);
        w.u16(0);
    }
}

impl fmt::Display for AddStreams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "req_seq={}, count={}", self.request_seq, self.count)
    }
}

/// Parses the parameters of a RE-CONFIG chunk. RFC 6525 §3.1 allows one
/// or two; judging the count is left to the receiver's state machine.
pub(crate) fn parse(value: Bytes) -> Result<Vec<Param>, Error> {
    codec::parse_all(&mut Reader::new(value, "RE_CONFIG"))
}
