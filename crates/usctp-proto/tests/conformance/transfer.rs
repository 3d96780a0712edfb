//! Helpers for the conformance tests that need data transfer and shutdown.
#![allow(dead_code)]

use crate::common::*;
use bytes::Bytes;
use usctp_proto::association::{AssocId, AssociationError, AssociationState, Event};
use usctp_proto::chunk::{Chunk, Data, DataFlags, Heartbeat, Sack, Shutdown, ShutdownComplete};
use usctp_proto::config::Config;
use usctp_proto::serial::{Ssn, Tsn};

use super::*;

/// The tester's Initial TSN (`common::init`).
pub const TESTER_TSN: u32 = 1000;

/// An association the tester set up with the IUT (a server configured by
/// `config`); returns the IUT's tag, the association and the IUT's Initial
/// TSN.
pub fn established_with(config: Config, peer_tag: u32) -> (Tester, u32, AssocId, Tsn) {
    let mut t = Tester::with_config(config, true);
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(peer_tag));
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    let (id, _) = up(&mut t);
    (t, ack.initiate_tag, id, ack.initial_tsn)
}

pub fn shutdown_chunk(cumulative_tsn_ack: Tsn) -> Chunk {
    Chunk::Shutdown(Shutdown { cumulative_tsn_ack })
}

pub fn sack_chunk(cumulative_tsn_ack: Tsn) -> Chunk {
    Chunk::Sack(Sack {
        cumulative_tsn_ack,
        a_rwnd: 100_000,
        gap_blocks: vec![],
        duplicate_tsns: vec![],
    })
}

/// The tester's DATA chunk: a whole message with PPID 7.
pub fn tester_data(tsn: u32, stream: u16, ssn: u16, payload: &'static [u8]) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags::WHOLE,
        tsn: Tsn(tsn),
        stream,
        ssn: Ssn(ssn),
        ppid: 7,
        payload: Bytes::from_static(payload),
    })
}

/// The user of the IUT sends `payload` on stream 0.
pub fn user_sends(t: &mut Tester, id: AssocId, payload: &'static [u8]) {
    t.iut
        .association_mut(id)
        .unwrap()
        .send(0, 7, Bytes::from_static(payload), false)
        .unwrap();
}

/// The single DATA chunk of a packet of the IUT's, to the tester under
/// `peer_tag`.
#[track_caller]
pub fn only_data(sent: &Sent, peer_tag: u32) -> Data {
    assert_eq!(sent.to, tester_addr());
    assert_eq!(sent.vtag(), peer_tag, "DATA's Verification Tag");
    match sent.only() {
        Chunk::Data(d) => d.clone(),
        other => panic!("expected DATA, got {other}"),
    }
}

/// The SACK chunks of some packets of the IUT's.
pub fn sacks_in(sent: &[Sent]) -> Vec<Sack> {
    sent.iter()
        .flat_map(|s| &s.packet.chunks)
        .filter_map(|c| match c {
            Chunk::Sack(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// The user of an established IUT with nothing outstanding shuts down: the
/// IUT sends SHUTDOWN, acknowledging none of the tester's TSNs, and is in
/// SHUTDOWN-SENT. Returns the IUT's tag, the association and the IUT's
/// Initial TSN.
pub fn in_shutdown_sent(peer_tag: u32) -> (Tester, u32, AssocId, Tsn) {
    let (mut t, iut_tag, id, iut_tsn) = established_with(Config::default(), peer_tag);
    let now = t.now;
    t.iut.association_mut(id).unwrap().shutdown(now);
    // IUT -> SHUTDOWN -> T
    let sent = t.sent_one();
    assert_eq!(sent.to, tester_addr());
    assert_eq!(sent.vtag(), peer_tag, "SHUTDOWN's Verification Tag");
    assert_eq!(sent.packet.chunks, [shutdown_chunk(Tsn(TESTER_TSN - 1))]);
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownSent));
    assert!(t.events().is_empty());
    (t, iut_tag, id, iut_tsn)
}

/// The tester shuts down an established association with nothing
/// outstanding: the IUT answers SHUTDOWN ACK and is in SHUTDOWN-ACK-SENT.
/// Returns the IUT's tag and the association.
pub fn in_shutdown_ack_sent(peer_tag: u32) -> (Tester, u32, AssocId) {
    let (mut t, iut_tag, id, iut_tsn) = established_with(Config::default(), peer_tag);
    // T -> SHUTDOWN -> IUT
    t.send(iut_tag, &[shutdown_chunk(iut_tsn.prev())]);
    // IUT -> SHUTDOWN ACK -> T
    assert_shutdown_ack(&t.sent_one(), peer_tag);
    assert_eq!(t.events(), [(id, Event::ShutdownStarted)]);
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownAckSent));
    (t, iut_tag, id)
}

/// The packet holds one SHUTDOWN ACK, to the tester under `peer_tag`.
#[track_caller]
pub fn assert_shutdown_ack(sent: &Sent, peer_tag: u32) {
    assert_eq!(sent.to, tester_addr());
    assert_eq!(sent.vtag(), peer_tag, "SHUTDOWN ACK's Verification Tag");
    assert_eq!(sent.packet.chunks, [Chunk::ShutdownAck]);
}

/// The packet holds one SHUTDOWN COMPLETE without the T bit, to the tester
/// under `peer_tag`.
#[track_caller]
pub fn assert_shutdown_complete(sent: &Sent, peer_tag: u32) {
    assert_eq!(sent.to, tester_addr());
    assert_eq!(
        sent.vtag(),
        peer_tag,
        "SHUTDOWN COMPLETE's Verification Tag"
    );
    assert_eq!(
        sent.packet.chunks,
        [Chunk::ShutdownComplete(ShutdownComplete {
            reflected_tag: false
        })]
    );
}

/// The association is gone: a HEARTBEAT under its old tag is out of the
/// blue and gets an ABORT with the T bit (RFC 9260 §8.4 (8)).
#[track_caller]
pub fn assert_gone(t: &mut Tester, iut_tag: u32) {
    assert_eq!(t.iut.association_count(), 0);
    let hb = Heartbeat {
        info: Bytes::from_static(b"anybody home?"),
    };
    // T -> HEARTBEAT -> IUT
    t.send(iut_tag, &[Chunk::Heartbeat(hb)]);
    // IUT -> ABORT (T bit) -> T
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    assert_abort(&reply, iut_tag, true, &[]);
}

/// What the IUT sends when it gives up on an association: nothing, or an
/// ABORT without the T bit under `peer_tag`.
#[track_caller]
pub fn assert_nothing_or_abort(sent: &[Sent], peer_tag: u32) {
    assert!(sent.len() <= 1, "{sent:#?}");
    for s in sent {
        assert_eq!(s.vtag(), peer_tag, "ABORT's Verification Tag");
        assert!(
            matches!(s.only(), Chunk::Abort(a) if !a.reflected_tag),
            "{:?}",
            s.packet.chunks
        );
    }
}

/// The association was lost to the retransmission limit; a report of the
/// data never delivered may follow.
#[track_caller]
pub fn assert_lost_to_retransmissions(events: &[(AssocId, Event)], id: AssocId) {
    // The only path may be reported unreachable on the way (§8.2).
    let events: Vec<(AssocId, Event)> = events
        .iter()
        .filter(|(_, e)| {
            !matches!(
                e,
                Event::PathChange {
                    change: usctp_proto::association::PathChange::Unreachable,
                    ..
                }
            )
        })
        .cloned()
        .collect();
    let Some((first, rest)) = events.split_first() else {
        panic!("no event")
    };
    assert_eq!(
        first,
        &(id, Event::Lost(AssociationError::RetransmissionLimit)),
        "{events:?}"
    );
    assert!(
        rest.iter()
            .all(|(i, e)| *i == id && matches!(e, Event::SendFailed { .. })),
        "{events:?}"
    );
}
