//! RFC 9260 §9: ending an association: the graceful shutdown from either
//! side and its states (§9.2), and ABORT (§9.1, §3.3.7) with what becomes of
//! the user's unsent messages; played with raw packets against the sans-IO
//! endpoint.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::*;
use usctp_proto::association::{AssociationState, Event};
use usctp_proto::chunk::Chunk;
use usctp_proto::serial::Tsn;

/// The tester's Initiate Tag.
const PEER: u32 = 0x6900_0001;

// ---- §9.2: graceful shutdown ----

#[test]
fn graceful_shutdown_initiated_locally() {
    // §9.2: SHUTDOWN once data is acknowledged; SHUTDOWN ACK gets SHUTDOWN
    // COMPLETE; T2-shutdown retransmits the SHUTDOWN meanwhile.
    let (mut t, tag, _, sent) = in_shutdown_pending(PEER, b"bye");
    t.send(tag, &[sack_with(sent.tsn, 100_000, &[])]);
    let shutdown = t.sent_one();
    assert_eq!(shutdown.vtag(), PEER);
    assert_eq!(shutdown.only(), &shutdown_chunk(Tsn(TESTER_TSN - 1)));
    t.advance(Duration::from_secs(1));
    assert!(matches!(t.sent_one().only(), Chunk::Shutdown(_)));
    t.send(tag, &[Chunk::ShutdownAck]);
    let complete = t.sent_one();
    assert!(matches!(complete.only(), Chunk::ShutdownComplete(c) if !c.reflected_tag));
    assert_shut_down(&mut t);
}

#[test]
fn graceful_shutdown_initiated_by_the_peer() {
    // §9.2: SHUTDOWN -> SHUTDOWN ACK; SHUTDOWN COMPLETE closes.
    let (mut t, tag, id) = established(PEER);
    t.send(tag, &[shutdown_chunk(Tsn(0))]);
    let ack = t.sent_one();
    assert_eq!(ack.only(), &Chunk::ShutdownAck);
    assert!(
        t.events()
            .iter()
            .any(|(_, e)| matches!(e, Event::ShutdownStarted))
    );
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownAckSent));
    // SHUTDOWN ACK is retransmitted on T2.
    t.advance(Duration::from_secs(1));
    assert_eq!(t.sent_one().only(), &Chunk::ShutdownAck);
    t.send(tag, &[Chunk::ShutdownComplete(Default::default())]);
    assert_shut_down(&mut t);
}

#[test]
fn data_is_received_and_acknowledged_in_shutdown_pending() {
    // §6: DATA is received in SHUTDOWN-PENDING like in ESTABLISHED.
    let (mut t, iut_tag, id) = established(PEER);
    user_sends(&mut t, id, b"mine");
    assert_eq!(data_in(&t.sent()).len(), 1);
    t.shutdown(id);
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownPending));
    t.send(iut_tag, &[in_sequence(TESTER_TSN, b"theirs")]);
    t.advance(Duration::from_millis(200));
    let sack = only_sack(&t.sent());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(TESTER_TSN));
    let message = t.iut.association_mut(id).unwrap().recv().unwrap();
    assert_eq!(&message.data[..], b"theirs");
}

#[test]
fn a_retransmitted_shutdown_carries_the_latest_cumulative_tsn() {
    // §9.2: on T2-shutdown the SHUTDOWN goes again with the last TSN
    // received in sequence since.
    let (mut t, iut_tag, _, _) = in_shutdown_sent(PEER);
    t.send(iut_tag, &[in_sequence(TESTER_TSN, b"late")]);
    assert_eq!(shutdowns_in(&t.sent()), [Tsn(TESTER_TSN)]);
    t.advance(Duration::from_secs(1));
    assert_eq!(shutdowns_in(&t.sent()), [Tsn(TESTER_TSN)]);
}

#[test]
fn duplicates_in_shutdown_sent_get_a_sack_with_the_shutdown() {
    // §9.2: a SHUTDOWN cannot report duplicate TSNs, so a SACK goes too.
    let (mut t, iut_tag, _, _) = in_shutdown_sent(PEER);
    t.send(iut_tag, &[in_sequence(TESTER_TSN, b"once")]);
    t.sent();
    t.send(iut_tag, &[in_sequence(TESTER_TSN, b"once")]);
    let sent = t.sent();
    assert_eq!(shutdowns_in(&sent), [Tsn(TESTER_TSN)]);
    let sack = only_sack(&sent);
    assert_eq!(sack.duplicate_tsns, [Tsn(TESTER_TSN)]);
}

#[test]
fn shutdown_received_ignores_the_users_shutdown() {
    // §9.2: in SHUTDOWN-RECEIVED a shutdown request from the user changes
    // nothing; the SHUTDOWN ACK follows once the DATA is acknowledged.
    let (mut t, iut_tag, id) = established(PEER);
    user_sends(&mut t, id, b"outstanding");
    let mine = data_in(&t.sent());
    t.send(iut_tag, &[shutdown_chunk(Tsn(TESTER_TSN - 1))]);
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownReceived));
    t.events();
    t.shutdown(id);
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownReceived));
    t.silent();
    t.send(iut_tag, &[sack_with(mine[0].tsn, 100_000, &[])]);
    assert_eq!(t.sent_one().only(), &Chunk::ShutdownAck);
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownAckSent));
}

/// RFC 9260 §3.3.8: a SHUTDOWN has no Gap Ack Blocks, and their absence is
/// no renege: a TSN a SACK acknowledged in a gap block is not sent again.
#[test]
fn shutdown_without_gap_blocks_is_no_renege() {
    let (mut t, iut_tag, id) = established(0x4545_0001);
    for m in [b"one", b"two", b"six"] {
        user_sends(&mut t, id, m);
    }
    let tsns = tsns(&data_in(&t.sent()));
    assert_eq!(tsns.len(), 3);
    t.send(iut_tag, &[sack_with(tsns[0], 65_536, &[(2, 2)])]);
    t.send(iut_tag, &[shutdown_chunk(Tsn(999))]);
    let mut again = Vec::new();
    for _ in 0..15 {
        t.advance(Duration::from_millis(100));
        for s in t.sent() {
            for c in &s.packet.chunks {
                if let Chunk::Data(d) = c {
                    again.push(d.tsn);
                }
            }
        }
    }
    assert!(again.contains(&tsns[1]), "the missing TSN is retransmitted");
    assert!(
        !again.contains(&tsns[2]),
        "the gap-acked TSN is not: {again:?}"
    );
}

#[test]
fn shutdown_complete_outside_shutdown_ack_sent_is_ignored() {
    // §8.5.1 (C): with the right tag, but in ESTABLISHED or SHUTDOWN-SENT.
    let complete = shutdown_complete(false);
    let (mut t, iut_tag, id) = established(PEER);
    t.send(iut_tag, std::slice::from_ref(&complete));
    t.silent();
    assert_eq!(state(&t, id), Some(AssociationState::Established));
    t.shutdown(id);
    assert!(matches!(t.sent_one().only(), Chunk::Shutdown(_)));
    t.send(iut_tag, &[complete]);
    t.silent();
    assert_eq!(state(&t, id), Some(AssociationState::ShutdownSent));
    t.advance(Duration::from_secs(1));
    assert!(matches!(t.sent_one().only(), Chunk::Shutdown(_)));
}

// ---- §9.1: abort ----

/// RFC 9260 §3.3.7, §9.1: an ABORT the user asks for goes without DATA:
/// with messages queued and never sent, nothing follows it in its packet;
/// with DATA in flight and a SACK due, it goes alone, under the peer's
/// tag, and nothing follows it.
#[test]
fn an_abort_goes_without_data() {
    // Messages queued, none sent yet.
    let (mut t, _, id) = established(0x4444_0001);
    for _ in 0..20 {
        user_sends(&mut t, id, vec![3u8; 1000]);
    }
    t.iut.abort(id, b"bye");
    let sent = t.sent();
    let with_abort: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.packet.chunks.iter().any(|c| matches!(c, Chunk::Abort(_))))
        .collect();
    assert_eq!(with_abort.len(), 1, "{sent:#?}");
    let chunks = &with_abort[0].packet.chunks;
    assert!(matches!(chunks.last(), Some(Chunk::Abort(_))), "{chunks:?}");
    assert!(
        !chunks.iter().any(|c| matches!(c, Chunk::Data(_))),
        "{chunks:?}"
    );

    // DATA in flight and more queued; a SACK due for the peer's DATA.
    let (mut t, iut_tag, id) = established(PEER);
    for _ in 0..20 {
        user_sends(&mut t, id, vec![6; 1000]);
    }
    assert!(!data_in(&t.sent()).is_empty());
    t.send(iut_tag, &[in_sequence(TESTER_TSN, b"theirs")]);
    t.iut.abort(id, b"enough");
    let sent = t.sent();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].vtag(), PEER);
    assert!(
        matches!(sent[0].only(), Chunk::Abort(a) if !a.reflected_tag),
        "{:?}",
        sent[0].packet.chunks
    );
    t.quiet_for(Duration::from_secs(2));
}

/// When the association ends, each undelivered message comes back to the
/// user once (SCTP_SEND_FAILED_EVENT), put back together from its
/// fragments: a message whose first fragment was acknowledged returns
/// its unacknowledged tail, marked as partly sent; one never sent returns
/// whole.
#[test]
fn unsent_messages_come_back_whole_or_as_their_tail() {
    let (mut t, iut_tag, id) = established(PEER);
    let first: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let mut assoc = t.iut.association_mut(id).unwrap();
    assoc.send(1, 7, Bytes::from(first.clone()), false).unwrap();
    assoc
        .send(0, 8, Bytes::from_static(b"second"), true)
        .unwrap();
    let fragments = data_in(&t.sent());
    assert!(fragments.len() >= 3, "{fragments:?}");
    let head = fragments[0].clone();
    assert!(head.flags.beginning && !head.flags.end);
    // The peer acknowledges the first fragment only; then the user aborts.
    t.send(iut_tag, &[sack_chunk(head.tsn)]);
    t.iut.abort(id, b"done");
    let failed: Vec<_> = t
        .events()
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::SendFailed(m) => Some(m),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed[0].partly_sent);
    assert_eq!((failed[0].stream, failed[0].ppid), (1, 7));
    assert_eq!(&failed[0].data[..], &first[head.payload.len()..]);
    assert!(!failed[1].partly_sent && failed[1].unordered);
    assert_eq!(&failed[1].data[..], b"second");
}
