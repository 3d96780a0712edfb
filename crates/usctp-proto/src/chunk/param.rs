//! Variable-length parameters (RFC 9260 §3.2.1) of every chunk that carries
//! them: INIT and INIT ACK, ASCONF and ASCONF-ACK, RE-CONFIG.
//!
//! ```text
//!  0                   1                   2                   3
//! +-------------------------------+-------------------------------+
//! |        Parameter Type         |       Parameter Length        |
//! +-------------------------------+-------------------------------+
//! \                       Parameter Value                         \
//! +---------------------------------------------------------------+
//! ```
//!
//! The length counts the 4-byte header and the value, not the padding to
//! a multiple of four. All parameter types share one IANA number space, so
//! one enum holds them all.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use super::asconf::{AsconfParam, CorrelatedCauses};
use super::codec::{Joined, Reader, Tlv, TlvItem, Writer};
use super::macros::wire_enum;
use super::reconfig::{AddStreams, IncomingSsnReset, OutgoingSsnReset, ReconfigResponse};
use super::{ChunkType, Error, UnknownAction};

wire_enum! {
    /// A parameter type (IANA "Chunk Parameter Types").
    pub struct ParamType(u16);
    HEARTBEAT_INFO = 1, "Heartbeat_Info", "Sender-specific heartbeat information (RFC 9260 §3.3.5)";
    IPV4_ADDRESS = 5, "IPv4_Address", "An IPv4 address of the sender (RFC 9260 §3.3.2.1)";
    IPV6_ADDRESS = 6, "IPv6_Address", "An IPv6 address of the sender (RFC 9260 §3.3.2.1)";
    STATE_COOKIE = 7, "State_Cookie", "The state cookie of an INIT ACK (RFC 9260 §3.3.3.1)";
    UNRECOGNIZED_PARAMETER = 8, "Unrecognized_Parameter", "An INIT parameter the sender of the INIT ACK did not recognize (RFC 9260 §3.3.3.1)";
    COOKIE_PRESERVATIVE = 9, "Cookie_Preservative", "Suggested cookie life-span increment in ms (RFC 9260 §3.3.2.1)";
    HOST_NAME_ADDRESS = 11, "Host_Name_Address", "A host name; deprecated by RFC 9260 §3.3.2.1";
    SUPPORTED_ADDRESS_TYPES = 12, "Supported_Address_Types", "Address types the sender accepts (RFC 9260 §3.3.2.1)";
    OUTGOING_SSN_RESET_REQUEST = 13, "Outgoing_SSN_Reset_Request", "Reset outgoing streams (RFC 6525 §4.1)";
    INCOMING_SSN_RESET_REQUEST = 14, "Incoming_SSN_Reset_Request", "Ask the peer to reset its outgoing streams (RFC 6525 §4.2)";
    SSN_TSN_RESET_REQUEST = 15, "SSN_TSN_Reset_Request", "Reset all streams and the TSN (RFC 6525 §4.3)";
    RECONFIGURATION_RESPONSE = 16, "Re_configuration_Response", "Answer to a re-configuration request (RFC 6525 §4.4)";
    ADD_OUTGOING_STREAMS_REQUEST = 17, "Add_Outgoing_Streams_Request", "Add outgoing streams (RFC 6525 §4.5)";
    ADD_INCOMING_STREAMS_REQUEST = 18, "Add_Incoming_Streams_Request", "Ask the peer to add its outgoing streams (RFC 6525 §4.6)";
    ECN_CAPABLE = 0x8000, "ECN_Capable", "The sender supports ECN (RFC 9260 Appendix A)";
    ZERO_CHECKSUM_ACCEPTABLE = 0x8001, "Zero_Checksum_Acceptable", "The sender accepts a zero checksum under an alternate error detection method (RFC 9653)";
    RANDOM = 0x8002, "Random", "Random number for the AUTH key (RFC 4895 §3.1)";
    CHUNK_LIST = 0x8003, "Chunk_List", "Chunk types that must be authenticated (RFC 4895 §3.2)";
    REQUESTED_HMAC_ALGORITHM = 0x8004, "Requested_HMAC_Algorithm", "HMAC identifiers in order of preference (RFC 4895 §3.3)";
    PADDING = 0x8005, "Padding", "Padding to grow an INIT (RFC 4820 §4)";
    SUPPORTED_EXTENSIONS = 0x8008, "Supported_Extensions", "Extension chunk types the sender supports (RFC 5061 §4.2.7)";
    FORWARD_TSN_SUPPORTED = 0xC000, "Forward_TSN_Supported", "The sender supports PR-SCTP (RFC 3758 §3.1)";
    ADD_IP_ADDRESS = 0xC001, "Add_IP_Address", "Add an address to the association (RFC 5061 §4.2.1)";
    DELETE_IP_ADDRESS = 0xC002, "Delete_IP_Address", "Delete an address from the association (RFC 5061 §4.2.2)";
    ERROR_CAUSE_INDICATION = 0xC003, "Error_Cause_Indication", "Why an ASCONF request failed (RFC 5061 §4.2.3)";
    SET_PRIMARY_ADDRESS = 0xC004, "Set_Primary_Address", "Make an address the peer's primary (RFC 5061 §4.2.4)";
    SUCCESS_INDICATION = 0xC005, "Success_Indication", "An ASCONF request succeeded (RFC 5061 §4.2.5)";
    ADAPTATION_LAYER_INDICATION = 0xC006, "Adaptation_Layer_Indication", "Adaptation layer code point (RFC 5061 §4.2.6)";
}

impl ParamType {
    /// RFC 9260 §3.2.1: what a receiver that does not know this type does,
    /// from the type's upper two bits.
    pub const fn unknown_action(self) -> UnknownAction {
        UnknownAction::from_upper_bits((self.0 >> 14) as u8)
    }
}

/// One parameter, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum Param {
    /// Opaque to the receiver, echoed in HEARTBEAT ACK.
    HeartbeatInfo(
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes,
    ),
    /// An IPv4 address of the sender.
    Ipv4Address(Ipv4Addr),
    /// An IPv6 address of the sender.
    Ipv6Address(Ipv6Addr),
    /// The state cookie, opaque to everyone but its maker.
    StateCookie(#[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes),
    /// The unrecognized parameter(s), header included, as received.
    UnrecognizedParameter(
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes,
    ),
    /// Suggested cookie life-span increment, in milliseconds.
    CookiePreservative(u32),
    /// A host name, with its terminating NUL and any padding it was sent
    /// with; RFC 9260 answers it with Unresolvable Address.
    HostNameAddress(
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes,
    ),
    /// Address parameter types the sender accepts.
    SupportedAddressTypes(Vec<ParamType>),
    /// RFC 6525 §4.1.
    OutgoingSsnReset(OutgoingSsnReset),
    /// RFC 6525 §4.2.
    IncomingSsnReset(IncomingSsnReset),
    /// RFC 6525 §4.3: the request sequence number.
    SsnTsnReset(u32),
    /// RFC 6525 §4.4.
    ReconfigResponse(ReconfigResponse),
    /// RFC 6525 §4.5.
    AddOutgoingStreams(AddStreams),
    /// RFC 6525 §4.6.
    AddIncomingStreams(AddStreams),
    /// The sender supports ECN.
    EcnCapable,
    /// RFC 9653: the Error Detection Method Identifier.
    ZeroChecksumAcceptable(u32),
    /// RFC 4895 random number.
    Random(#[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes),
    /// RFC 4895 chunk types to authenticate.
    ChunkList(Vec<ChunkType>),
    /// RFC 4895 HMAC identifiers.
    RequestedHmacAlgorithm(Vec<u16>),
    /// RFC 4820 padding bytes.
    Padding(#[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))] Bytes),
    /// RFC 5061 extension chunk types the sender supports.
    SupportedExtensions(Vec<ChunkType>),
    /// RFC 3758: the sender supports FORWARD TSN.
    ForwardTsnSupported,
    /// RFC 5061 §4.2.1.
    AddIpAddress(AsconfParam),
    /// RFC 5061 §4.2.2.
    DeleteIpAddress(AsconfParam),
    /// RFC 5061 §4.2.3.
    ErrorCauseIndication(CorrelatedCauses),
    /// RFC 5061 §4.2.4.
    SetPrimaryAddress(AsconfParam),
    /// RFC 5061 §4.2.5: the correlation ID of the request that succeeded.
    SuccessIndication(u32),
    /// RFC 5061 §4.2.6: the adaptation code point.
    AdaptationLayerIndication(u32),
    /// A parameter of a type this crate does not parse.
    Unknown {
        /// Its type; never one of [`ParamType::KNOWN`] when parsed.
        #[cfg_attr(feature = "arbitrary", arbitrary(with = arbitrary_unknown_param_type))]
        param_type: ParamType,
        /// Its value, as received.
        #[cfg_attr(feature = "arbitrary", arbitrary(with = super::arbitrary_bytes))]
        value: Bytes,
    },
}

impl Param {
    /// The parameter's type.
    pub const fn param_type(&self) -> ParamType {
        match self {
            Self::HeartbeatInfo(_) => ParamType::HEARTBEAT_INFO,
            Self::Ipv4Address(_) => ParamType::IPV4_ADDRESS,
            Self::Ipv6Address(_) => ParamType::IPV6_ADDRESS,
            Self::StateCookie(_) => ParamType::STATE_COOKIE,
            Self::UnrecognizedParameter(_) => ParamType::UNRECOGNIZED_PARAMETER,
            Self::CookiePreservative(_) => ParamType::COOKIE_PRESERVATIVE,
            Self::HostNameAddress(_) => ParamType::HOST_NAME_ADDRESS,
            Self::SupportedAddressTypes(_) => ParamType::SUPPORTED_ADDRESS_TYPES,
            Self::OutgoingSsnReset(_) => ParamType::OUTGOING_SSN_RESET_REQUEST,
            Self::IncomingSsnReset(_) => ParamType::INCOMING_SSN_RESET_REQUEST,
            Self::SsnTsnReset(_) => ParamType::SSN_TSN_RESET_REQUEST,
            Self::ReconfigResponse(_) => ParamType::RECONFIGURATION_RESPONSE,
            Self::AddOutgoingStreams(_) => ParamType::ADD_OUTGOING_STREAMS_REQUEST,
            Self::AddIncomingStreams(_) => ParamType::ADD_INCOMING_STREAMS_REQUEST,
            Self::EcnCapable => ParamType::ECN_CAPABLE,
            Self::ZeroChecksumAcceptable(_) => ParamType::ZERO_CHECKSUM_ACCEPTABLE,
            Self::Random(_) => ParamType::RANDOM,
            Self::ChunkList(_) => ParamType::CHUNK_LIST,
            Self::RequestedHmacAlgorithm(_) => ParamType::REQUESTED_HMAC_ALGORITHM,
            Self::Padding(_) => ParamType::PADDING,
            Self::SupportedExtensions(_) => ParamType::SUPPORTED_EXTENSIONS,
            Self::ForwardTsnSupported => ParamType::FORWARD_TSN_SUPPORTED,
            Self::AddIpAddress(_) => ParamType::ADD_IP_ADDRESS,
            Self::DeleteIpAddress(_) => ParamType::DELETE_IP_ADDRESS,
            Self::ErrorCauseIndication(_) => ParamType::ERROR_CAUSE_INDICATION,
            Self::SetPrimaryAddress(_) => ParamType::SET_PRIMARY_ADDRESS,
            Self::SuccessIndication(_) => ParamType::SUCCESS_INDICATION,
            Self::AdaptationLayerIndication(_) => ParamType::ADAPTATION_LAYER_INDICATION,
            Self::Unknown { param_type, .. } => *param_type,
        }
    }

    /// The address this parameter carries, if it is an address parameter.
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Self::Ipv4Address(a) => Some(IpAddr::V4(*a)),
            Self::Ipv6Address(a) => Some(IpAddr::V6(*a)),
            _ => None,
        }
    }

    /// The address parameter for `addr`.
    pub fn from_address(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => Self::Ipv4Address(a),
            IpAddr::V6(a) => Self::Ipv6Address(a),
        }
    }
}

impl TlvItem for Param {
    const WHAT: &'static str = "parameter";

    fn from_tlv(tlv: Tlv) -> Result<Self, Error> {
        let ty = ParamType(tlv.type16());
        let what = ty.name().unwrap_or("parameter");
        let v = tlv.value;
        let mut r = Reader::new(v.clone(), what);
        let param = match ty {
            ParamType::HEARTBEAT_INFO => return Ok(Self::HeartbeatInfo(v)),
            ParamType::IPV4_ADDRESS => Self::Ipv4Address(Ipv4Addr::from(exact::<4>(what, &mut r)?)),
            ParamType::IPV6_ADDRESS => {
                Self::Ipv6Address(Ipv6Addr::from(exact::<16>(what, &mut r)?))
            }
            ParamType::STATE_COOKIE => return Ok(Self::StateCookie(v)),
            ParamType::UNRECOGNIZED_PARAMETER => return Ok(Self::UnrecognizedParameter(v)),
            ParamType::COOKIE_PRESERVATIVE => {
                Self::CookiePreservative(u32::from_be_bytes(exact(what, &mut r)?))
            }
            ParamType::HOST_NAME_ADDRESS => return Ok(Self::HostNameAddress(v)),
            ParamType::SUPPORTED_ADDRESS_TYPES => Self::SupportedAddressTypes(
                u16_list(what, &mut r)?.into_iter().map(ParamType).collect(),
            ),
            ParamType::OUTGOING_SSN_RESET_REQUEST => {
                Self::OutgoingSsnReset(OutgoingSsnReset::parse(&mut r)?)
            }
            ParamType::INCOMING_SSN_RESET_REQUEST => {
                Self::IncomingSsnReset(IncomingSsnReset::parse(&mut r)?)
            }
            ParamType::SSN_TSN_RESET_REQUEST => Self::SsnTsnReset(r.u32()?),
            ParamType::RECONFIGURATION_RESPONSE => {
                Self::ReconfigResponse(ReconfigResponse::parse(&mut r)?)
            }
            ParamType::ADD_OUTGOING_STREAMS_REQUEST => {
                Self::AddOutgoingStreams(AddStreams::parse(&mut r)?)
            }
            ParamType::ADD_INCOMING_STREAMS_REQUEST => {
                Self::AddIncomingStreams(AddStreams::parse(&mut r)?)
            }
            ParamType::ECN_CAPABLE => Self::EcnCapable,
            ParamType::ZERO_CHECKSUM_ACCEPTABLE => Self::ZeroChecksumAcceptable(r.u32()?),
            ParamType::RANDOM => return Ok(Self::Random(v)),
            ParamType::CHUNK_LIST => {
                Self::ChunkList(r.rest().iter().map(|&t| ChunkType(t)).collect())
            }
            ParamType::REQUESTED_HMAC_ALGORITHM => {
                Self::RequestedHmacAlgorithm(u16_list(what, &mut r)?)
            }
            ParamType::PADDING => return Ok(Self::Padding(v)),
            ParamType::SUPPORTED_EXTENSIONS => {
                Self::SupportedExtensions(r.rest().iter().map(|&t| ChunkType(t)).collect())
            }
            ParamType::FORWARD_TSN_SUPPORTED => Self::ForwardTsnSupported,
            ParamType::ADD_IP_ADDRESS => Self::AddIpAddress(AsconfParam::parse(&mut r)?),
            ParamType::DELETE_IP_ADDRESS => Self::DeleteIpAddress(AsconfParam::parse(&mut r)?),
            ParamType::ERROR_CAUSE_INDICATION => {
                Self::ErrorCauseIndication(CorrelatedCauses::parse(&mut r)?)
            }
            ParamType::SET_PRIMARY_ADDRESS => Self::SetPrimaryAddress(AsconfParam::parse(&mut r)?),
            ParamType::SUCCESS_INDICATION => Self::SuccessIndication(r.u32()?),
            ParamType::ADAPTATION_LAYER_INDICATION => Self::AdaptationLayerIndication(r.u32()?),
            _ => {
                return Ok(Self::Unknown {
                    param_type: ty,
                    value: v,
                });
            }
        };
        r.finish()?;
        Ok(param)
    }

    fn emit(&self, w: &mut Writer<'_>) {
        // A nested overflow is sticky in the writer and fails the chunk.
        let _ = w.tlv(self.param_type().0.to_be_bytes(), |w| self.emit_value(w));
    }
}

impl Param {
    fn emit_value(&self, w: &mut Writer<'_>) {
        match self {
            Self::HeartbeatInfo(b)
            | Self::StateCookie(b)
            | Self::UnrecognizedParameter(b)
            | Self::HostNameAddress(b)
            | Self::Random(b)
            | Self::Padding(b)
            | Self::Unknown { value: b, .. } => w.bytes(b),
            Self::Ipv4Address(a) => w.bytes(&a.octets()),
            Self::Ipv6Address(a) => w.bytes(&a.octets()),
            Self::CookiePreservative(v)
            | Self::SsnTsnReset(v)
            | Self::ZeroChecksumAcceptable(v)
            | Self::SuccessIndication(v)
            | Self::AdaptationLayerIndication(v) => w.u32(*v),
            Self::SupportedAddressTypes(types) => types.iter().for_each(|t| w.u16(t.0)),
            Self::OutgoingSsnReset(x) => x.emit_value(w),
            Self::IncomingSsnReset(x) => x.emit_value(w),
            Self::ReconfigResponse(x) => x.emit_value(w),
            Self::AddOutgoingStreams(x) | Self::AddIncomingStreams(x) => x.emit_value(w),
            Self::EcnCapable | Self::ForwardTsnSupported => {}
            Self::ChunkList(types) | Self::SupportedExtensions(types) => {
                types.iter().for_each(|t| w.u8(t.0))
            }
            Self::RequestedHmacAlgorithm(ids) => ids.iter().for_each(|&id| w.u16(id)),
            Self::AddIpAddress(x) | Self::DeleteIpAddress(x) | Self::SetPrimaryAddress(x) => {
                x.emit_value(w)
            }
            Self::ErrorCauseIndication(x) => x.emit_value(w),
        }
    }
}

/// Exactly `N` bytes and nothing else.
fn exact<const N: usize>(what: &'static str, r: &mut Reader) -> Result<[u8; N], Error> {
    if r.remaining() != N {
        return Err(Error::BadLength {
            what,
            length: 4 + r.remaining(),
        });
    }
    r.array()
}

/// A list of 16-bit values; an odd trailing byte is an error.
pub(crate) fn u16_list(what: &'static str, r: &mut Reader) -> Result<Vec<u16>, Error> {
    if !r.remaining().is_multiple_of(2) {
        return Err(Error::BadLength {
            what,
            length: 4 + r.remaining(),
        });
    }
    let mut out = Vec::with_capacity(r.remaining() / 2);
    while !r.is_empty() {
        out.push(r.u16()?);
    }
    Ok(out)
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = self.param_type();
        match self {
            Self::Ipv4Address(a) => write!(f, "{ty}={a}"),
            Self::Ipv6Address(a) => write!(f, "{ty}={a}"),
            Self::HeartbeatInfo(b)
            | Self::StateCookie(b)
            | Self::UnrecognizedParameter(b)
            | Self::HostNameAddress(b)
            | Self::Random(b)
            | Self::Padding(b) => write!(f, "{ty}(len={})", b.len()),
            Self::CookiePreservative(ms) => write!(f, "{ty}={ms}ms"),
            Self::SupportedAddressTypes(types) => {
                write!(f, "{ty}=[{}]", Joined(types, " "))
            }
            Self::OutgoingSsnReset(x) => write!(f, "{ty}({x})"),
            Self::IncomingSsnReset(x) => write!(f, "{ty}({x})"),
            Self::SsnTsnReset(seq) => write!(f, "{ty}(req_seq={seq})"),
            Self::ReconfigResponse(x) => write!(f, "{ty}({x})"),
            Self::AddOutgoingStreams(x) | Self::AddIncomingStreams(x) => write!(f, "{ty}({x})"),
            Self::EcnCapable | Self::ForwardTsnSupported => write!(f, "{ty}"),
            Self::ZeroChecksumAcceptable(edmid) => write!(f, "{ty}(edmid={edmid})"),
            Self::ChunkList(types) | Self::SupportedExtensions(types) => {
                write!(f, "{ty}=[{}]", Joined(types, " "))
            }
            Self::RequestedHmacAlgorithm(ids) => write!(f, "{ty}={ids:?}"),
            Self::AddIpAddress(x) | Self::DeleteIpAddress(x) | Self::SetPrimaryAddress(x) => {
                write!(f, "{ty}({x})")
            }
            Self::ErrorCauseIndication(x) => write!(f, "{ty}({x})"),
            Self::SuccessIndication(id) => write!(f, "{ty}(correlation_id={id})"),
            Self::AdaptationLayerIndication(code) => write!(f, "{ty}={code:#x}"),
            Self::Unknown { param_type, value } => write!(
                f,
                "{param_type}(len={}, action={:?})",
                value.len(),
                param_type.unknown_action()
            ),
        }
    }
}

/// Reads one address parameter (IPv4 or IPv6) as RFC 5061 embeds them.
pub(crate) fn parse_address(r: &mut Reader) -> Result<IpAddr, Error> {
    let tlv = r.tlv("address parameter")?;
    Param::from_tlv(tlv)?.address().ok_or(Error::BadValue {
        what: "address parameter",
        reason: "not an IPv4 or IPv6 address",
    })
}

pub(crate) fn emit_address(addr: IpAddr, w: &mut Writer<'_>) {
    Param::from_address(addr).emit(w);
}

#[cfg(feature = "arbitrary")]
fn arbitrary_unknown_param_type(
    u: &mut arbitrary::Unstructured<'_>,
) -> arbitrary::Result<ParamType> {
    let mut ty = ParamType(u.arbitrary()?);
    while ty.is_known() {
        ty = ParamType(ty.0.wrapping_add(1));
    }
    Ok(ty)
}
