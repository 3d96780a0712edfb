//! The tester's chunks: templates that a test updates with `..TEMPLATE`
//! (`Init { a_rwnd: 1500, ..INIT }`), builders for the common cases, and
//! readers that pick chunks out of what the IUT sent.

use bytes::Bytes;
use usctp_proto::chunk::{
    Abort, Chunk, ChunkType, CookieEcho, Data, DataFlags, ErrorCause, ErrorChunk, GapBlock,
    Heartbeat, Init, Param, ParamType, Sack, Shutdown, ShutdownComplete, UnknownChunk,
};
use usctp_proto::serial::{Ssn, Tsn};

use super::Sent;

/// The tester's Initial TSN (the INIT template's).
pub const TESTER_TSN: u32 = 1000;

/// The tester's INIT: 20 bytes of chunk, no parameters.
pub const INIT: Init = Init {
    initiate_tag: 0,
    a_rwnd: 65_536,
    outbound_streams: 5,
    inbound_streams: 5,
    initial_tsn: Tsn(TESTER_TSN),
    params: Vec::new(),
};

/// The tester's INIT ACK to the IUT's INIT (see `answer_init`), without
/// its State Cookie.
pub const INIT_ACK: Init = Init {
    initiate_tag: 0,
    a_rwnd: 10_000,
    outbound_streams: 3,
    inbound_streams: 4,
    initial_tsn: Tsn(77),
    params: Vec::new(),
};

/// The tester's first DATA chunk: a whole message on stream 0, PPID 7.
pub const DATA: Data = Data {
    flags: DataFlags::WHOLE,
    tsn: Tsn(TESTER_TSN),
    stream: 0,
    ssn: Ssn(0),
    ppid: 7,
    payload: Bytes::from_static(b"data"),
};

/// The tester's SACK: nothing of the IUT's acknowledged yet, a large
/// window, no gaps.
pub const SACK: Sack = Sack {
    cumulative_tsn_ack: Tsn(0),
    a_rwnd: 100_000,
    gap_blocks: Vec::new(),
    duplicate_tsns: Vec::new(),
};

/// The tester's INIT with Initiate Tag `tag`.
pub fn init(tag: u32) -> Init {
    Init {
        initiate_tag: tag,
        ..INIT
    }
}

pub fn init_with(tag: u32, params: Vec<Param>) -> Init {
    Init {
        params,
        ..init(tag)
    }
}

/// The tester's INIT ACK: the INIT template with tag `tag` and exactly
/// `params` (no cookie unless given).
pub fn tester_init_ack(tag: u32, params: Vec<Param>) -> Chunk {
    Chunk::InitAck(init_with(tag, params))
}

/// The two INITs of tag `tag` that RFC 9260 §3.3.2 forbids: 0 outbound
/// streams, and 0 inbound streams.
pub fn zero_stream_inits(tag: u32) -> [Init; 2] {
    [(0, 5), (5, 0)].map(|(outbound_streams, inbound_streams)| Init {
        outbound_streams,
        inbound_streams,
        ..init(tag)
    })
}

/// The tester's DATA chunk: a whole message with PPID 7.
pub fn tester_data(tsn: u32, stream: u16, ssn: u16, payload: impl AsRef<[u8]>) -> Chunk {
    Chunk::Data(Data {
        tsn: Tsn(tsn),
        stream,
        ssn: Ssn(ssn),
        payload: Bytes::copy_from_slice(payload.as_ref()),
        ..DATA
    })
}

/// The tester's message of TSN `tsn` on stream 0, ordered, its SSN
/// following its TSN from the first (`TESTER_TSN`, SSN 0).
pub fn in_sequence(tsn: u32, payload: impl AsRef<[u8]>) -> Chunk {
    tester_data(tsn, 0, (tsn - TESTER_TSN) as u16, payload)
}

/// The tester's DATA fragment on stream 0 with these B and E bits.
pub fn fragment(tsn: u32, beginning: bool, end: bool, payload: impl AsRef<[u8]>) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags {
            beginning,
            end,
            ..DataFlags::default()
        },
        tsn: Tsn(tsn),
        payload: Bytes::copy_from_slice(payload.as_ref()),
        ..DATA
    })
}

/// A SACK with this window and gap blocks.
pub fn sack_with(cum: Tsn, a_rwnd: u32, gaps: &[(u16, u16)]) -> Chunk {
    Chunk::Sack(Sack {
        cumulative_tsn_ack: cum,
        a_rwnd,
        gap_blocks: gaps
            .iter()
            .map(|&(start, end)| GapBlock { start, end })
            .collect(),
        ..SACK
    })
}

/// A SACK up to `cumulative_tsn_ack`, with the template's window.
pub fn sack_chunk(cumulative_tsn_ack: Tsn) -> Chunk {
    Chunk::Sack(Sack {
        cumulative_tsn_ack,
        ..SACK
    })
}

pub fn shutdown_chunk(cumulative_tsn_ack: Tsn) -> Chunk {
    Chunk::Shutdown(Shutdown { cumulative_tsn_ack })
}

pub fn shutdown_complete(reflected_tag: bool) -> Chunk {
    Chunk::ShutdownComplete(ShutdownComplete { reflected_tag })
}

pub fn abort(reflected_tag: bool) -> Chunk {
    Chunk::Abort(Abort {
        reflected_tag,
        causes: vec![],
    })
}

pub fn heartbeat(info: &'static [u8]) -> Chunk {
    Chunk::Heartbeat(Heartbeat {
        info: Bytes::from_static(info),
    })
}

pub fn heartbeat_ack(info: &'static [u8]) -> Chunk {
    Chunk::HeartbeatAck(Heartbeat {
        info: Bytes::from_static(info),
    })
}

pub fn cookie_echo(cookie: &Bytes) -> Chunk {
    Chunk::CookieEcho(CookieEcho {
        cookie: cookie.clone(),
    })
}

pub fn error(cause: ErrorCause) -> Chunk {
    Chunk::Error(ErrorChunk {
        causes: vec![cause],
    })
}

/// An ERROR with a Stale Cookie cause, `staleness_us` late.
pub fn stale_cookie(staleness_us: u32) -> Chunk {
    error(ErrorCause::StaleCookie { staleness_us })
}

/// A chunk of a type this end does not know.
#[track_caller]
pub fn unknown(ty: u8, flags: u8, value: &'static [u8]) -> Chunk {
    let chunk_type = ChunkType(ty);
    assert!(!chunk_type.is_known(), "{ty:#x} is a known chunk type");
    Chunk::Unknown(UnknownChunk {
        chunk_type,
        flags,
        value: Bytes::from_static(value),
    })
}

/// An unknown chunk of type `ty` with a small value.
pub fn unknown_chunk(ty: u8) -> Chunk {
    unknown(ty, 0, b"odd!")
}

/// A parameter of a type this end does not know, with a small value.
pub fn unknown_param(ty: u16) -> Param {
    Param::Unknown {
        param_type: ParamType(ty),
        value: Bytes::from_static(b"xyz"),
    }
}

// ---- reading what the IUT sent ----

/// The INIT ACK that is all of a packet.
#[track_caller]
pub fn init_ack_of(sent: &Sent) -> Init {
    match sent.only() {
        Chunk::InitAck(ack) => ack.clone(),
        other => panic!("expected INIT ACK, got {other:?}"),
    }
}

/// The INIT that is all of a packet.
#[track_caller]
pub fn init_of(sent: &Sent) -> Init {
    match sent.only() {
        Chunk::Init(init) => init.clone(),
        other => panic!("expected INIT, got {other:?}"),
    }
}

/// The first SACK of a packet.
#[track_caller]
pub fn sack_of(sent: &Sent) -> Sack {
    match sacks_in(std::slice::from_ref(sent)).into_iter().next() {
        Some(s) => s,
        None => panic!("no SACK in {:?}", sent.packet.chunks),
    }
}

/// The one SACK in some packets (checked to be the only one).
#[track_caller]
pub fn only_sack(sent: &[Sent]) -> Sack {
    match &sacks_in(sent)[..] {
        [sack] => sack.clone(),
        _ => panic!("expected one SACK: {sent:#?}"),
    }
}

/// Every DATA chunk in some packets, in order.
pub fn data_in(sent: &[Sent]) -> Vec<Data> {
    chunks_in(sent, |c| match c {
        Chunk::Data(d) => Some(d.clone()),
        _ => None,
    })
}

/// Every SACK chunk in some packets, in order.
pub fn sacks_in(sent: &[Sent]) -> Vec<Sack> {
    chunks_in(sent, |c| match c {
        Chunk::Sack(s) => Some(s.clone()),
        _ => None,
    })
}

/// The Cumulative TSN Ack of every SHUTDOWN in some packets.
pub fn shutdowns_in(sent: &[Sent]) -> Vec<Tsn> {
    chunks_in(sent, |c| match c {
        Chunk::Shutdown(s) => Some(s.cumulative_tsn_ack),
        _ => None,
    })
}

/// The causes of every ERROR chunk in some packets.
pub fn errors_in(sent: &[Sent]) -> Vec<ErrorCause> {
    chunks_in(sent, |c| match c {
        Chunk::Error(e) => Some(e.causes.clone()),
        _ => None,
    })
    .into_iter()
    .flatten()
    .collect()
}

/// The TSNs of some DATA chunks, in order.
pub fn tsns(data: &[Data]) -> Vec<Tsn> {
    data.iter().map(|d| d.tsn).collect()
}

fn chunks_in<T>(sent: &[Sent], pick: impl FnMut(&Chunk) -> Option<T>) -> Vec<T> {
    sent.iter()
        .flat_map(|s| &s.packet.chunks)
        .filter_map(pick)
        .collect()
}

/// The parameter types in a run of whole parameter TLVs.
pub fn tlv_types(mut tlvs: &[u8]) -> Vec<u16> {
    let mut types = Vec::new();
    while tlvs.len() >= 4 {
        types.push(u16::from_be_bytes([tlvs[0], tlvs[1]]));
        let len = usize::from(u16::from_be_bytes([tlvs[2], tlvs[3]])).max(4);
        tlvs = &tlvs[len.next_multiple_of(4).min(tlvs.len())..];
    }
    types
}

/// The types an INIT ACK reports in its Unrecognized Parameter parameters.
pub fn reported_in(ack: &Init) -> Vec<u16> {
    ack.params
        .iter()
        .flat_map(|p| match p {
            Param::UnrecognizedParameter(tlvs) => tlv_types(tlvs),
            _ => vec![],
        })
        .collect()
}
