//! The ends of an association: the shutdown states the tester drives the
//! IUT into, and the checks that it is gone, and how.

use bytes::Bytes;
use usctp_proto::association::{AssocId, AssociationError, AssociationState, Event, PathChange};
use usctp_proto::chunk::{Chunk, Data, Heartbeat};
use usctp_proto::config::Config;
use usctp_proto::serial::Tsn;

use super::{
    Sent, TESTER_TSN, Tester, assert_abort, established_with, shutdown_chunk, shutdown_complete,
    state, tester_addr, with_outstanding_data,
};

/// The user of an established IUT with nothing outstanding shuts down: the
/// IUT sends SHUTDOWN, acknowledging none of the tester's TSNs, and is in
/// SHUTDOWN-SENT. Returns the IUT's tag, the association and the IUT's
/// Initial TSN.
#[track_caller]
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
#[track_caller]
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

/// An association in SHUTDOWN-PENDING: its user sent `payload`, still
/// unacknowledged, and then shut down, so no SHUTDOWN goes yet. Returns the
/// IUT's tag, the association and the DATA chunk outstanding.
#[track_caller]
pub fn in_shutdown_pending(peer_tag: u32, payload: &'static [u8]) -> (Tester, u32, AssocId, Data) {
    let (mut t, iut_tag, id, data) = with_outstanding_data(peer_tag, payload);
    t.shutdown(id);
    // IUT: no SHUTDOWN while the DATA is outstanding
    t.sent_nothing();
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownPending));
    (t, iut_tag, id, data)
}

/// The tester completes the shutdown of an association in
/// SHUTDOWN-ACK-SENT: it ends without a word, and the user is told.
#[track_caller]
pub fn complete_shutdown(t: &mut Tester, iut_tag: u32, id: AssocId) {
    // T -> SHUTDOWN COMPLETE -> IUT
    t.send(iut_tag, &[shutdown_complete(false)]);
    // IUT: nothing
    t.sent_nothing();
    assert_eq!(t.events(), [(id, Event::ShutdownComplete)]);
    assert_eq!(t.iut.association_count(), 0);
}

/// The tester completes the shutdown (as `complete_shutdown`) and the
/// association is gone (as `assert_gone`).
#[track_caller]
pub fn complete_shutdown_and_forget(t: &mut Tester, iut_tag: u32, id: AssocId) {
    complete_shutdown(t, iut_tag, id);
    // T -> HEARTBEAT -> IUT; IUT -> ABORT (T bit) -> T
    assert_gone(t, iut_tag);
}

/// The IUT answers with a SHUTDOWN ACK, to the tester under `peer_tag`,
/// and is in SHUTDOWN-ACK-SENT.
#[track_caller]
pub fn assert_acks_the_shutdown(t: &mut Tester, id: AssocId, peer_tag: u32) {
    // IUT -> SHUTDOWN ACK -> T
    assert_shutdown_ack(&t.sent_one(), peer_tag);
    assert_eq!(state(t, id), Some(AssociationState::ShutdownAckSent));
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
    assert_eq!(sent.packet.chunks, [shutdown_complete(false)]);
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

/// The association was lost to the retransmission limit, the last event;
/// a report of the data never delivered may come before it.
#[track_caller]
pub fn assert_lost_to_retransmissions(events: &[(AssocId, Event)], id: AssocId) {
    // The only path may be reported unreachable on the way (§8.2).
    let events: Vec<(AssocId, Event)> = events
        .iter()
        .filter(|(_, e)| {
            !matches!(
                e,
                Event::PathChange {
                    change: PathChange::Unreachable,
                    ..
                }
            )
        })
        .cloned()
        .collect();
    let Some((last, rest)) = events.split_last() else {
        panic!("no event")
    };
    assert_eq!(
        last,
        &(id, Event::Lost(AssociationError::RetransmissionLimit)),
        "{events:?}"
    );
    assert!(
        rest.iter()
            .all(|(i, e)| *i == id && matches!(e, Event::SendFailed { .. })),
        "{events:?}"
    );
}

/// The user was told the shutdown completed, and the association is gone.
#[track_caller]
pub fn assert_shut_down(t: &mut Tester) {
    let events = t.events();
    assert!(
        events
            .iter()
            .any(|(_, e)| matches!(e, Event::ShutdownComplete)),
        "{events:?}"
    );
    assert_eq!(t.iut.association_count(), 0);
}
