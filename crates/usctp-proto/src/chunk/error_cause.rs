//! Error causes (RFC 9260 §3.3.10), carried by ABORT and ERROR chunks and by
//! the RFC 5061 Error Cause Indication parameter.
//!
//! ```text
//!  0                   1                   2                   3
//! +-------------------------------+-------------------------------+
//! |          Cause Code           |         Cause Length          |
//! +-------------------------------+-------------------------------+
//! \                  Cause-Specific Information                   \
//! +---------------------------------------------------------------+
//! ```

use core::fmt;

use bytes::Bytes;

use super::codec::{Joined, Reader, Tlv, TlvItem, Writer};
use super::macros::wire_enum;
use super::param::u16_list;
use super::{Error, ParamType};
use crate::serial::Tsn;

wire_enum! {
    /// An error cause code (IANA "Error Cause Codes"): code, name, meaning.
    pub struct CauseCode(u16);
    INVALID_STREAM_IDENTIFIER = 1, "Invalid_Stream_Identifier", "DATA was sent to a stream that does not exist";
    MISSING_MANDATORY_PARAMETER = 2, "Missing_Mandatory_Parameter", "An INIT or INIT ACK lacks mandatory parameters";
    STALE_COOKIE = 3, "Stale_Cookie", "A COOKIE ECHO carried an expired state cookie";
    OUT_OF_RESOURCE = 4, "Out_of_Resource", "The sender is out of resources";
    UNRESOLVABLE_ADDRESS = 5, "Unresolvable_Address", "The sender cannot resolve or use an address parameter";
    UNRECOGNIZED_CHUNK_TYPE = 6, "Unrecognized_Chunk_Type", "The sender did not understand a chunk";
    INVALID_MANDATORY_PARAMETER = 7, "Invalid_Mandatory_Parameter", "A mandatory INIT or INIT ACK parameter has an invalid value";
    UNRECOGNIZED_PARAMETERS = 8, "Unrecognized_Parameters", "The sender did not understand parameters";
    NO_USER_DATA = 9, "No_User_Data", "A DATA chunk carried no user data";
    COOKIE_RECEIVED_WHILE_SHUTTING_DOWN = 10, "Cookie_Received_While_Shutting_Down", "A COOKIE ECHO arrived during shutdown";
    RESTART_WITH_NEW_ADDRESSES = 11, "Restart_of_an_Association_with_New_Addresses", "A restart tried to add addresses";
    USER_INITIATED_ABORT = 12, "User_Initiated_Abort", "The upper layer aborted the association";
    PROTOCOL_VIOLATION = 13, "Protocol_Violation", "The peer broke the protocol";
    DELETE_LAST_REMAINING_ADDRESS = 0x00A0, "Request_to_Delete_Last_Remaining_IP_Address", "ASCONF tried to delete the last address (RFC 5061)";
    RESOURCE_SHORTAGE = 0x00A1, "Operation_Refused_Due_to_Resource_Shortage", "ASCONF refused for lack of resources (RFC 5061)";
    DELETE_SOURCE_ADDRESS = 0x00A2, "Request_to_Delete_Source_IP_Address", "ASCONF tried to delete the packet's source address (RFC 5061)";
    ILLEGAL_ASCONF_ACK = 0x00A3, "Association_Aborted_due_to_illegal_ASCONF_ACK", "An ASCONF-ACK was not valid (RFC 5061)";
    REQUEST_REFUSED_NO_AUTHORIZATION = 0x00A4, "Request_refused_no_authorization", "ASCONF refused: not authorized (RFC 5061)";
    UNSUPPORTED_HMAC_IDENTIFIER = 0x0105, "Unsupported_HMAC_Identifier", "AUTH used an HMAC the receiver does not support (RFC 4895)";
}

/// One error cause, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum ErrorCause {
    /// 1: the stream of the DATA that was refused.
    InvalidStreamIdentifier(u16),
    /// 2: the types of the missing parameters.
    MissingMandatoryParameter(Vec<ParamType>),
    /// 3: how late the cookie was, in microseconds.
    StaleCookie {
        /// Measure of Staleness (usec).
        staleness_us: u32,
    },
    /// 4.
    OutOfResource,
    /// 5: the unresolvable address parameter, header included.
    UnresolvableAddress(
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes,
    ),
    /// 6: the unrecognized chunk, header included.
    UnrecognizedChunkType(
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes,
    ),
    /// 7.
    InvalidMandatoryParameter,
    /// 8: the unrecognized parameters, headers included.
    UnrecognizedParameters(
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes,
    ),
    /// 9: the TSN of the DATA chunk that had no user data.
    NoUserData(Tsn),
    /// 10.
    CookieReceivedWhileShuttingDown,
    /// 11: the new address parameters, headers included.
    RestartWithNewAddresses(
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes,
    ),
    /// 12: the upper layer's reason, opaque.
    UserInitiatedAbort(
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes,
    ),
    /// 13: additional information, opaque.
    ProtocolViolation(
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes,
    ),
    /// Any other code, extension causes included: RFC 5061's carry the
    /// offending parameter, RFC 4895's the HMAC identifier.
    Other {
        /// Its code; never one this enum has a variant for when parsed.
        #[cfg_attr(feature = "arbitrary", arbitrary(with = arbitrary_other_code))]
        code: CauseCode,
        /// Its information, as received.
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))]
        info: Bytes,
    },
}

impl ErrorCause {
    /// The cause's code.
    pub const fn code(&self) -> CauseCode {
        match self {
            Self::InvalidStreamIdentifier(_) => CauseCode::INVALID_STREAM_IDENTIFIER,
            Self::MissingMandatoryParameter(_) => CauseCode::MISSING_MANDATORY_PARAMETER,
            Self::StaleCookie { .. } => CauseCode::STALE_COOKIE,
            Self::OutOfResource => CauseCode::OUT_OF_RESOURCE,
            Self::UnresolvableAddress(_) => CauseCode::UNRESOLVABLE_ADDRESS,
            Self::UnrecognizedChunkType(_) => CauseCode::UNRECOGNIZED_CHUNK_TYPE,
            Self::InvalidMandatoryParameter => CauseCode::INVALID_MANDATORY_PARAMETER,
            Self::UnrecognizedParameters(_) => CauseCode::UNRECOGNIZED_PARAMETERS,
            Self::NoUserData(_) => CauseCode::NO_USER_DATA,
            Self::CookieReceivedWhileShuttingDown => CauseCode::COOKIE_RECEIVED_WHILE_SHUTTING_DOWN,
            Self::RestartWithNewAddresses(_) => CauseCode::RESTART_WITH_NEW_ADDRESSES,
            Self::UserInitiatedAbort(_) => CauseCode::USER_INITIATED_ABORT,
            Self::ProtocolViolation(_) => CauseCode::PROTOCOL_VIOLATION,
            Self::Other { code, .. } => *code,
        }
    }
}

impl TlvItem for ErrorCause {
    const WHAT: &'static str = "error cause";

    fn from_tlv(tlv: Tlv) -> Result<Self, Error> {
        let code = CauseCode(tlv.type16());
        let what = code.name().unwrap_or("error cause");
        let v = tlv.value;
        let mut r = Reader::new(v.clone(), what);
        let cause = match code {
            CauseCode::INVALID_STREAM_IDENTIFIER => {
                let stream = r.u16()?;
                let _reserved = r.u16()?;
                Self::InvalidStreamIdentifier(stream)
            }
            CauseCode::MISSING_MANDATORY_PARAMETER => {
                let count = r.u32()?;
                let types = u16_list(what, &mut r)?;
                if usize::try_from(count).ok() != Some(types.len()) {
                    return Err(Error::BadValue {
                        what,
                        reason: "parameter count does not match the length",
                    });
                }
                Self::MissingMandatoryParameter(types.into_iter().map(ParamType).collect())
            }
            CauseCode::STALE_COOKIE => Self::StaleCookie {
                staleness_us: r.u32()?,
            },
            CauseCode::OUT_OF_RESOURCE => Self::OutOfResource,
            CauseCode::UNRESOLVABLE_ADDRESS => return Ok(Self::UnresolvableAddress(v)),
            CauseCode::UNRECOGNIZED_CHUNK_TYPE => return Ok(Self::UnrecognizedChunkType(v)),
            CauseCode::INVALID_MANDATORY_PARAMETER => Self::InvalidMandatoryParameter,
            CauseCode::UNRECOGNIZED_PARAMETERS => return Ok(Self::UnrecognizedParameters(v)),
            CauseCode::NO_USER_DATA => Self::NoUserData(Tsn(r.u32()?)),
            CauseCode::COOKIE_RECEIVED_WHILE_SHUTTING_DOWN => Self::CookieReceivedWhileShuttingDown,
            CauseCode::RESTART_WITH_NEW_ADDRESSES => return Ok(Self::RestartWithNewAddresses(v)),
            CauseCode::USER_INITIATED_ABORT => return Ok(Self::UserInitiatedAbort(v)),
            CauseCode::PROTOCOL_VIOLATION => return Ok(Self::ProtocolViolation(v)),
            _ => return Ok(Self::Other { code, info: v }),
        };
        r.finish()?;
        Ok(cause)
    }

    fn emit(&self, w: &mut Writer<'_>) {
        // A nested overflow is sticky in the writer and fails the chunk.
        let _ = w.tlv(self.code().0.to_be_bytes(), |w| match self {
            Self::InvalidStreamIdentifier(stream) => {
                w.u16(*stream);
                w.u16(0);
            }
            Self::MissingMandatoryParameter(types) => {
                w.u32(types.len() as u32);
                types.iter().for_each(|t| w.u16(t.0));
            }
            Self::StaleCookie { staleness_us } => w.u32(*staleness_us),
            Self::OutOfResource
            | Self::InvalidMandatoryParameter
            | Self::CookieReceivedWhileShuttingDown => {}
            Self::UnresolvableAddress(b)
            | Self::UnrecognizedChunkType(b)
            | Self::UnrecognizedParameters(b)
            | Self::RestartWithNewAddresses(b)
            | Self::UserInitiatedAbort(b)
            | Self::ProtocolViolation(b)
            | Self::Other { info: b, .. } => w.bytes(b),
            Self::NoUserData(tsn) => w.u32(tsn.0),
        });
    }
}

impl fmt::Display for ErrorCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code();
        match self {
            Self::InvalidStreamIdentifier(s) => write!(f, "{code}(stream={s})"),
            Self::MissingMandatoryParameter(types) => {
                write!(f, "{code}({})", Joined(types, " "))
            }
            Self::StaleCookie { staleness_us } => write!(f, "{code}(staleness={staleness_us}us)"),
            Self::NoUserData(tsn) => write!(f, "{code}(tsn={tsn})"),
            Self::UserInitiatedAbort(reason) => {
                write!(f, "{code}(\"{}\")", reason.escape_ascii())
            }
            Self::UnresolvableAddress(b)
            | Self::UnrecognizedChunkType(b)
            | Self::UnrecognizedParameters(b)
            | Self::RestartWithNewAddresses(b)
            | Self::ProtocolViolation(b)
            | Self::Other { info: b, .. } => write!(f, "{code}(len={})", b.len()),
            Self::OutOfResource
            | Self::InvalidMandatoryParameter
            | Self::CookieReceivedWhileShuttingDown => write!(f, "{code}"),
        }
    }
}

/// Codes with a variant of their own, which `Other` must not carry.
#[cfg(any(test, feature = "arbitrary"))]
const fn has_variant(code: CauseCode) -> bool {
    code.0 >= 1 && code.0 <= 13
}

#[cfg(feature = "arbitrary")]
fn arbitrary_other_code(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<CauseCode> {
    let mut code = CauseCode(u.arbitrary()?);
    while has_variant(code) {
        code = CauseCode(code.0.wrapping_add(13));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rfc9260_cause_has_a_variant_and_a_name() {
        for code in 1..=13 {
            assert!(has_variant(CauseCode(code)));
            assert!(CauseCode(code).name().is_some());
            assert!(CauseCode(code).meaning().is_some());
        }
        assert!(!has_variant(CauseCode::UNSUPPORTED_HMAC_IDENTIFIER));
    }
}
