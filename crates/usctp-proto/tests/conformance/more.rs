//! Helpers for the conformance tests of the groups AT, BDC, D, A, M and RT.
#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use usctp_proto::association::{AssocId, Event};
use usctp_proto::chunk::{Chunk, ChunkType, Data, DataFlags, ErrorCause, Sack, UnknownChunk};
use usctp_proto::serial::{Ssn, Tsn};

use crate::common::*;
use crate::conformance::*;

/// Every DATA chunk in some packets, in order.
pub fn data_in(sent: &[Sent]) -> Vec<Data> {
    sent.iter()
        .flat_map(|s| &s.packet.chunks)
        .filter_map(|c| match c {
            Chunk::Data(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

/// Every packet the IUT sends within `span` (timers run in 100 ms steps),
/// starting with what it has to send now.
pub fn sent_within(t: &mut Tester, span: Duration) -> Vec<Sent> {
    let mut out = t.sent();
    out.extend(run_for(t, span).into_iter().map(|(_, s)| s));
    out
}

/// A SACK chunk with this window and gap blocks.
pub fn sack_with(cum: Tsn, a_rwnd: u32, gaps: &[(u16, u16)]) -> Chunk {
    Chunk::Sack(Sack {
        cumulative_tsn_ack: cum,
        a_rwnd,
        gap_blocks: gaps
            .iter()
            .map(|&(start, end)| usctp_proto::chunk::GapBlock { start, end })
            .collect(),
        duplicate_tsns: vec![],
    })
}

/// The tester's DATA fragment with these B and E bits.
pub fn fragment(tsn: u32, beginning: bool, end: bool, payload: &'static [u8]) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags {
            beginning,
            end,
            ..DataFlags::default()
        },
        tsn: Tsn(tsn),
        stream: 0,
        ssn: Ssn(0),
        ppid: 7,
        payload: Bytes::from_static(payload),
    })
}

/// An unknown chunk of type `ty` with a small value.
pub fn unknown_chunk(ty: u8) -> Chunk {
    Chunk::Unknown(UnknownChunk {
        chunk_type: ChunkType(ty),
        flags: 0,
        value: Bytes::from_static(b"odd!"),
    })
}

/// The messages the IUT's user can read from `id` now.
pub fn delivered(t: &mut Tester, id: AssocId) -> Vec<Bytes> {
    let mut assoc = t.iut.association_mut(id).unwrap();
    std::iter::from_fn(|| assoc.recv())
        .map(|m| m.data)
        .collect()
}

/// The causes of every ERROR chunk in some packets.
pub fn errors_in(sent: &[Sent]) -> Vec<ErrorCause> {
    sent.iter()
        .flat_map(|s| &s.packet.chunks)
        .filter_map(|c| match c {
            Chunk::Error(e) => Some(e.causes.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// No event says the user has something to read.
#[track_caller]
pub fn assert_not_readable(events: &[(AssocId, Event)]) {
    assert!(
        events.iter().all(|(_, e)| !matches!(e, Event::Readable)),
        "{events:?}"
    );
}
