//! The SCTP wire codec: packets, chunks, parameters and error causes.
//!
//! # No-panic contract
//!
//! Parsing takes a [`Bytes`] holding one received datagram and never panics,
//! whatever it holds; every problem is an [`Error`] that names the structure
//! and what was wrong. All slicing happens in the private `codec` module.
//! Parsed payloads (DATA user data, cookies, heartbeat info, …) are views
//! into the datagram, not copies.
//!
//! # Open number spaces
//!
//! Chunk types, parameter types and cause codes are newtypes over their
//! integer ([`ChunkType`], [`ParamType`], [`CauseCode`]) with named
//! constants. A chunk or parameter of a type this crate does not know is
//! kept with its bytes ([`UnknownChunk`], [`Param::Unknown`]) together with
//! the action RFC 9260 §3.2 assigns to its upper two type bits
//! ([`UnknownAction`]), so the association can skip, report or stop.

mod abort;
mod asconf;
mod auth;
pub(crate) mod codec;
mod cookie;
mod data;
mod ecn;
mod error;
mod error_cause;
mod forward_tsn;
mod heartbeat;
mod init;
pub(crate) mod macros;
pub mod packet;
mod pad;
mod param;
mod reconfig;
mod sack;
mod shutdown;

use core::fmt;

use bytes::Bytes;

pub use abort::{Abort, ErrorChunk};
pub use asconf::{Asconf, AsconfAck, AsconfParam, CorrelatedCauses};
pub use auth::Auth;
pub use cookie::CookieEcho;
pub use data::{Data, DataFlags, IData};
pub use ecn::{Cwr, Ecne};
pub use error::{BuildError, Error};
pub use error_cause::{CauseCode, ErrorCause};
pub use forward_tsn::{ForwardTsn, ForwardTsnOf, ForwardTsnStream, IForwardTsn, IForwardTsnStream};
pub use heartbeat::Heartbeat;
pub use init::Init;
pub use packet::{CommonHeader, Packet, PacketWriter};
pub use pad::Pad;
pub use param::{Param, ParamType};
pub use reconfig::{
    AddStreams, IncomingSsnReset, OutgoingSsnReset, ReconfigResponse, ReconfigResult,
};
pub use sack::{GapBlock, NrSack, Sack};
pub use shutdown::{Shutdown, ShutdownComplete};

use codec::{Joined, Reader, Tlv, Writer};
use macros::wire_enum;

wire_enum! {
    /// A chunk type (RFC 9260 §3.2 and the IANA "Chunk Types" registry).
    pub struct ChunkType(u8);
    DATA = 0, "DATA", "Payload Data (RFC 9260)";
    INIT = 1, "INIT", "Initiation (RFC 9260)";
    INIT_ACK = 2, "INIT_ACK", "Initiation Acknowledgement (RFC 9260)";
    SACK = 3, "SACK", "Selective Acknowledgement (RFC 9260)";
    HEARTBEAT = 4, "HEARTBEAT", "Heartbeat Request (RFC 9260)";
    HEARTBEAT_ACK = 5, "HEARTBEAT_ACK", "Heartbeat Acknowledgement (RFC 9260)";
    ABORT = 6, "ABORT", "Abort (RFC 9260)";
    SHUTDOWN = 7, "SHUTDOWN", "Shutdown (RFC 9260)";
    SHUTDOWN_ACK = 8, "SHUTDOWN_ACK", "Shutdown Acknowledgement (RFC 9260)";
    ERROR = 9, "ERROR", "Operation Error (RFC 9260)";
    COOKIE_ECHO = 10, "COOKIE_ECHO", "State Cookie (RFC 9260)";
    COOKIE_ACK = 11, "COOKIE_ACK", "Cookie Acknowledgement (RFC 9260)";
    ECNE = 12, "ECNE", "Explicit Congestion Notification Echo (RFC 9260 Appendix A)";
    CWR = 13, "CWR", "Congestion Window Reduced (RFC 9260 Appendix A)";
    SHUTDOWN_COMPLETE = 14, "SHUTDOWN_COMPLETE", "Shutdown Complete (RFC 9260)";
    AUTH = 15, "AUTH", "Authentication Chunk (RFC 4895)";
    NR_SACK = 16, "NR_SACK", "Non-Renegable SACK (draft-tuexen-tsvwg-sctp-multipath)";
    I_DATA = 64, "I_DATA", "Payload Data supporting Interleaving (RFC 8260)";
    ASCONF_ACK = 128, "ASCONF_ACK", "Address Configuration Acknowledgement (RFC 5061)";
    RE_CONFIG = 130, "RE_CONFIG", "Re-configuration Chunk (RFC 6525)";
    PAD = 132, "PAD", "Padding Chunk (RFC 4820)";
    FORWARD_TSN = 192, "FORWARD_TSN", "Increment expected TSN (RFC 3758)";
    ASCONF = 193, "ASCONF", "Address Configuration Change Chunk (RFC 5061)";
    I_FORWARD_TSN = 194, "I_FORWARD_TSN", "Increment expected TSN, supporting Interleaving (RFC 8260)";
}

impl ChunkType {
    /// RFC 9260 §3.2: what a receiver that does not know this type does,
    /// from the type's upper two bits.
    pub const fn unknown_action(self) -> UnknownAction {
        UnknownAction::from_upper_bits(self.0 >> 6)
    }

    /// RFC 9260 §6.10: INIT, INIT ACK and SHUTDOWN COMPLETE are never
    /// bundled with another chunk.
    pub const fn must_be_alone(self) -> bool {
        matches!(self, Self::INIT | Self::INIT_ACK | Self::SHUTDOWN_COMPLETE)
    }

    /// Chunks that carry user data; every other chunk is a control chunk
    /// and goes before them in a packet (RFC 9260 §6.10).
    pub const fn is_data(self) -> bool {
        matches!(self, Self::DATA | Self::I_DATA)
    }
}

/// What to do with a chunk or parameter of an unrecognized type, encoded in
/// the upper two bits of its type (RFC 9260 §3.2 for chunks, §3.2.1 for
/// parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnknownAction {
    /// `00`: stop processing; for a chunk, discard it and every chunk after
    /// it in the packet (those before it stand); for a parameter, process no
    /// further parameters of its chunk.
    Stop,
    /// `01`: as `Stop`, and report it (an ERROR with Unrecognized Chunk Type,
    /// or an Unrecognized Parameter).
    StopAndReport,
    /// `10`: skip it and go on with the rest.
    Skip,
    /// `11`: skip it, go on, and report it.
    SkipAndReport,
}

impl UnknownAction {
    pub(crate) const fn from_upper_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => Self::Stop,
            1 => Self::StopAndReport,
            2 => Self::Skip,
            _ => Self::SkipAndReport,
        }
    }

    /// Whether processing continues after the item.
    pub const fn continues(self) -> bool {
        matches!(self, Self::Skip | Self::SkipAndReport)
    }

    /// Whether the item is reported to the peer.
    pub const fn reports(self) -> bool {
        matches!(self, Self::StopAndReport | Self::SkipAndReport)
    }
}

/// A chunk of a type this crate does not parse, kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct UnknownChunk {
    /// Its type; never one of [`ChunkType::KNOWN`] when parsed.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = arbitrary_unknown_chunk_type))]
    pub chunk_type: ChunkType,
    /// Its flags byte.
    pub flags: u8,
    /// Its value, without header and padding.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = arbitrary_bytes))]
    pub value: Bytes,
}

impl UnknownChunk {
    /// RFC 9260 §3.2: what the receiver does with it.
    pub const fn action(&self) -> UnknownAction {
        self.chunk_type.unknown_action()
    }
}

/// One SCTP chunk, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[allow(missing_docs)] // each variant is named after its chunk type
#[non_exhaustive]
pub enum Chunk {
    Data(Data),
    Init(Init),
    InitAck(Init),
    Sack(Sack),
    Heartbeat(Heartbeat),
    HeartbeatAck(Heartbeat),
    Abort(Abort),
    Shutdown(Shutdown),
    ShutdownAck,
    Error(ErrorChunk),
    CookieEcho(CookieEcho),
    CookieAck,
    Ecne(Ecne),
    Cwr(Cwr),
    ShutdownComplete(ShutdownComplete),
    Auth(Auth),
    NrSack(NrSack),
    IData(IData),
    AsconfAck(AsconfAck),
    ReConfig(Vec<Param>),
    Pad(Pad),
    ForwardTsn(ForwardTsn),
    Asconf(Asconf),
    IForwardTsn(IForwardTsn),
    Unknown(UnknownChunk),
}

impl Chunk {
    /// The chunk's type.
    pub const fn chunk_type(&self) -> ChunkType {
        match self {
            Self::Data(_) => ChunkType::DATA,
            Self::Init(_) => ChunkType::INIT,
            Self::InitAck(_) => ChunkType::INIT_ACK,
            Self::Sack(_) => ChunkType::SACK,
            Self::Heartbeat(_) => ChunkType::HEARTBEAT,
            Self::HeartbeatAck(_) => ChunkType::HEARTBEAT_ACK,
            Self::Abort(_) => ChunkType::ABORT,
            Self::Shutdown(_) => ChunkType::SHUTDOWN,
            Self::ShutdownAck => ChunkType::SHUTDOWN_ACK,
            Self::Error(_) => ChunkType::ERROR,
            Self::CookieEcho(_) => ChunkType::COOKIE_ECHO,
            Self::CookieAck => ChunkType::COOKIE_ACK,
            Self::Ecne(_) => ChunkType::ECNE,
            Self::Cwr(_) => ChunkType::CWR,
            Self::ShutdownComplete(_) => ChunkType::SHUTDOWN_COMPLETE,
            Self::Auth(_) => ChunkType::AUTH,
            Self::NrSack(_) => ChunkType::NR_SACK,
            Self::IData(_) => ChunkType::I_DATA,
            Self::AsconfAck(_) => ChunkType::ASCONF_ACK,
            Self::ReConfig(_) => ChunkType::RE_CONFIG,
            Self::Pad(_) => ChunkType::PAD,
            Self::ForwardTsn(_) => ChunkType::FORWARD_TSN,
            Self::Asconf(_) => ChunkType::ASCONF,
            Self::IForwardTsn(_) => ChunkType::I_FORWARD_TSN,
            Self::Unknown(u) => u.chunk_type,
        }
    }

    /// Parses one chunk from the start of `bytes` and returns it with the
    /// bytes that follow it (after its padding).
    pub fn parse(bytes: Bytes) -> Result<(Self, Bytes), Error> {
        let mut r = Reader::new(bytes, "chunk");
        let tlv = r.tlv("chunk header")?;
        Ok((Self::from_tlv(tlv)?, r.rest()))
    }

    pub(crate) fn from_tlv(tlv: Tlv) -> Result<Self, Error> {
        let [ty, flags] = tlv.head;
        let ty = ChunkType(ty);
        let v = tlv.value;
        Ok(match ty {
            ChunkType::DATA => Self::Data(Data::parse(flags, v)?),
            ChunkType::INIT => Self::Init(Init::parse("INIT", v)?),
            ChunkType::INIT_ACK => Self::InitAck(Init::parse("INIT_ACK", v)?),
            ChunkType::SACK => Self::Sack(Sack::parse(v)?),
            ChunkType::HEARTBEAT => Self::Heartbeat(Heartbeat::parse("HEARTBEAT", v)?),
            ChunkType::HEARTBEAT_ACK => Self::HeartbeatAck(Heartbeat::parse("HEARTBEAT_ACK", v)?),
            ChunkType::ABORT => Self::Abort(Abort::parse(flags, v)?),
            ChunkType::SHUTDOWN => Self::Shutdown(Shutdown::parse(v)?),
            ChunkType::SHUTDOWN_ACK => {
                empty("SHUTDOWN_ACK", &v)?;
                Self::ShutdownAck
            }
            ChunkType::ERROR => Self::Error(ErrorChunk::parse(v)?),
            ChunkType::COOKIE_ECHO => Self::CookieEcho(CookieEcho { cookie: v }),
            ChunkType::COOKIE_ACK => {
                empty("COOKIE_ACK", &v)?;
                Self::CookieAck
            }
            ChunkType::ECNE => Self::Ecne(Ecne::parse(v)?),
            ChunkType::CWR => Self::Cwr(Cwr::parse(v)?),
            ChunkType::SHUTDOWN_COMPLETE => {
                empty("SHUTDOWN_COMPLETE", &v)?;
                Self::ShutdownComplete(ShutdownComplete {
                    reflected_tag: flags & 1 != 0,
                })
            }
            ChunkType::AUTH => Self::Auth(Auth::parse(v)?),
            ChunkType::NR_SACK => Self::NrSack(NrSack::parse(flags, v)?),
            ChunkType::I_DATA => Self::IData(IData::parse(flags, v)?),
            ChunkType::ASCONF_ACK => Self::AsconfAck(AsconfAck::parse(v)?),
            ChunkType::RE_CONFIG => Self::ReConfig(reconfig::parse(v)?),
            ChunkType::PAD => Self::Pad(Pad { padding: v }),
            ChunkType::FORWARD_TSN => Self::ForwardTsn(ForwardTsn::parse(v)?),
            ChunkType::ASCONF => Self::Asconf(Asconf::parse(v)?),
            ChunkType::I_FORWARD_TSN => Self::IForwardTsn(IForwardTsn::parse(v)?),
            _ => Self::Unknown(UnknownChunk {
                chunk_type: ty,
                flags,
                value: v,
            }),
        })
    }

    /// The flags byte this chunk is sent with.
    fn flags(&self) -> u8 {
        match self {
            Self::Data(d) => d.flags.bits(),
            Self::IData(d) => d.flags.bits(),
            Self::Abort(a) => u8::from(a.reflected_tag),
            Self::ShutdownComplete(s) => u8::from(s.reflected_tag),
            Self::NrSack(s) => s.flags,
            Self::Unknown(u) => u.flags,
            _ => 0,
        }
    }

    /// Appends the chunk, with its padding, to `buf`.
    ///
    /// Fails, leaving `buf` as it was, when the chunk is longer than its
    /// 16-bit length field can say.
    pub fn emit(&self, buf: &mut Vec<u8>) -> Result<(), BuildError> {
        self.emit_into(&mut Writer::new(buf))
    }

    /// The bytes the chunk takes on the wire, padding included: what
    /// [`Chunk::emit`] would append, known without writing it.
    pub fn encoded_len(&self) -> Result<usize, BuildError> {
        let mut w = Writer::measure();
        self.emit_into(&mut w)?;
        Ok(w.written())
    }

    fn emit_into(&self, w: &mut Writer<'_>) -> Result<(), BuildError> {
        w.tlv([self.chunk_type().0, self.flags()], |w| self.emit_value(w))
            .map_err(|length| BuildError::TooLong { length })
    }

    fn emit_value(&self, w: &mut Writer<'_>) {
        match self {
            Self::Data(d) => d.emit_value(w),
            Self::Init(i) | Self::InitAck(i) => i.emit_value(w),
            Self::Sack(s) => s.emit_value(w),
            Self::Heartbeat(h) | Self::HeartbeatAck(h) => h.emit_value(w),
            Self::Abort(a) => codec::emit_all(&a.causes, w),
            Self::Shutdown(s) => w.u32(s.cumulative_tsn_ack.0),
            Self::ShutdownAck | Self::CookieAck | Self::ShutdownComplete(_) => {}
            Self::Error(e) => codec::emit_all(&e.causes, w),
            Self::CookieEcho(c) => w.bytes(&c.cookie),
            Self::Ecne(e) => w.u32(e.lowest_tsn.0),
            Self::Cwr(c) => w.u32(c.lowest_tsn.0),
            Self::Auth(a) => a.emit_value(w),
            Self::NrSack(s) => s.emit_value(w),
            Self::IData(d) => d.emit_value(w),
            Self::AsconfAck(a) => a.emit_value(w),
            Self::ReConfig(params) => codec::emit_all(params, w),
            Self::Pad(p) => w.bytes(&p.padding),
            Self::ForwardTsn(f) => f.emit_value(w),
            Self::Asconf(a) => a.emit_value(w),
            Self::IForwardTsn(f) => f.emit_value(w),
            Self::Unknown(u) => w.bytes(&u.value),
        }
    }
}

/// Checks that a chunk that has no value has none.
fn empty(what: &'static str, v: &Bytes) -> Result<(), Error> {
    if v.is_empty() {
        Ok(())
    } else {
        Err(Error::BadLength {
            what,
            length: 4 + v.len(),
        })
    }
}

impl fmt::Display for Chunk {
    /// One line: the chunk's IANA name and its key fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.chunk_type();
        match self {
            Self::Data(d) => write!(f, "{name}({d})"),
            Self::IData(d) => write!(f, "{name}({d})"),
            Self::Init(i) | Self::InitAck(i) => write!(f, "{name}({i})"),
            Self::Sack(s) => write!(f, "{name}({s})"),
            Self::NrSack(s) => write!(f, "{name}({s})"),
            Self::Heartbeat(h) | Self::HeartbeatAck(h) => write!(f, "{name}({h})"),
            Self::Abort(a) => write!(f, "{name}({a})"),
            Self::Error(e) => write!(f, "{name}({e})"),
            Self::Shutdown(s) => write!(f, "{name}({s})"),
            Self::ShutdownComplete(s) => write!(f, "{name}({s})"),
            Self::CookieEcho(c) => write!(f, "{name}(cookie_len={})", c.cookie.len()),
            Self::Ecne(e) => write!(f, "{name}(lowest_tsn={})", e.lowest_tsn),
            Self::Cwr(c) => write!(f, "{name}(lowest_tsn={})", c.lowest_tsn),
            Self::Auth(a) => write!(f, "{name}({a})"),
            Self::AsconfAck(a) => write!(f, "{name}({a})"),
            Self::Asconf(a) => write!(f, "{name}({a})"),
            Self::ReConfig(params) => {
                write!(f, "{name}({})", Joined(params, ", "))
            }
            Self::Pad(p) => write!(f, "{name}(len={})", p.padding.len()),
            Self::ForwardTsn(x) => write!(f, "{name}({x})"),
            Self::IForwardTsn(x) => write!(f, "{name}({x})"),
            Self::Unknown(u) => write!(
                f,
                "{name}(flags={:#04x}, len={}, action={:?})",
                u.flags,
                u.value.len(),
                u.action()
            ),
            Self::ShutdownAck | Self::CookieAck => write!(f, "{name}"),
        }
    }
}

#[cfg(feature = "arbitrary")]
pub(crate) fn arbitrary_bytes(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<Bytes> {
    let v: Vec<u8> = arbitrary::Arbitrary::arbitrary(u)?;
    Ok(Bytes::from(v))
}

#[cfg(feature = "arbitrary")]
fn arbitrary_unknown_chunk_type(
    u: &mut arbitrary::Unstructured<'_>,
) -> arbitrary::Result<ChunkType> {
    let mut ty = ChunkType(u.arbitrary()?);
    while ty.is_known() {
        ty = ChunkType(ty.0.wrapping_add(1));
    }
    Ok(ty)
}
