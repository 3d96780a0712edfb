//! RFC 9260 §6 (user data transfer) and §9.2 (shutdown), played with raw
//! packets against an established association.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use usctp_proto::association::{AssocId, AssociationError, AssociationState, Event};
use usctp_proto::chunk::{Chunk, Data, DataFlags, ErrorCause, GapBlock, Sack, Shutdown};
use usctp_proto::serial::{Ssn, Tsn};

/// The tester's first TSN (see `common::init`).
const T0: u32 = 1000;

fn data(tsn: u32, stream: u16, ssn: u16, flags: DataFlags, payload: &'static [u8]) -> Chunk {
    Chunk::Data(Data {
        flags,
        tsn: Tsn(tsn),
        stream,
        ssn: Ssn(ssn),
        ppid: 7,
        payload: Bytes::from_static(payload),
    })
}

fn whole(tsn: u32, stream: u16, ssn: u16, payload: &'static [u8]) -> Chunk {
    data(tsn, stream, ssn, DataFlags::WHOLE, payload)
}

#[track_caller]
fn sack_of(sent: &Sent) -> Sack {
    match sent.packet.chunks.iter().find_map(|c| match c {
        Chunk::Sack(s) => Some(s.clone()),
        _ => None,
    }) {
        Some(s) => s,
        None => panic!("no SACK in {:?}", sent.packet.chunks),
    }
}

fn established() -> (Tester, u32, AssocId) {
    let mut t = Tester::server();
    let (tag, id) = t.establish(0x1234);
    (t, tag, id)
}

fn recv_all(t: &mut Tester, id: AssocId) -> Vec<(u16, Bytes)> {
    let mut assoc = t.iut.association_mut(id).unwrap();
    std::iter::from_fn(|| assoc.recv().map(|m| (m.stream, m.data))).collect()
}

#[test]
fn single_packet_is_acknowledged_after_the_sack_delay() {
    // §5.1: the association's first DATA is acknowledged at once; §6.2:
    // after that SACK.Delay (200 ms) when nothing else prompts a SACK.
    let (mut t, tag, id) = established();
    t.send(tag, &[whole(T0, 0, 0, b"one")]);
    assert_eq!(sack_of(&t.sent_one()).cumulative_tsn_ack, Tsn(T0));
    assert!(matches!(t.events()[..], [(_, Event::Readable)]));
    assert_eq!(recv_all(&mut t, id), [(0, Bytes::from_static(b"one"))]);
    t.send(tag, &[whole(T0 + 1, 0, 1, b"two")]);
    t.sent_nothing();
    t.advance(Duration::from_millis(199));
    t.sent_nothing();
    t.advance(Duration::from_millis(1));
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(T0 + 1));
    assert!(sack.gap_blocks.is_empty());
}

#[test]
fn every_second_packet_is_acknowledged_at_once() {
    // §6.2: a SACK at least for every second packet with DATA (after the
    // first DATA, which §5.1 has acknowledged at once).
    let (mut t, tag, _) = established();
    t.send(tag, &[whole(T0, 0, 0, b"a")]);
    assert_eq!(sack_of(&t.sent_one()).cumulative_tsn_ack, Tsn(T0));
    t.send(tag, &[whole(T0 + 1, 0, 1, b"b")]);
    t.sent_nothing();
    t.send(tag, &[whole(T0 + 2, 0, 2, b"c")]);
    assert_eq!(sack_of(&t.sent_one()).cumulative_tsn_ack, Tsn(T0 + 2));
}

#[test]
fn a_gap_is_reported_at_once_and_filled_later() {
    // §6.2, §6.7: out-of-order DATA gets an immediate SACK with gap blocks.
    let (mut t, tag, id) = established();
    t.send(tag, &[whole(T0 + 2, 0, 2, b"c")]);
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(T0 - 1));
    assert_eq!(sack.gap_blocks, [GapBlock { start: 3, end: 3 }]);
    t.send(tag, &[whole(T0, 0, 0, b"a")]);
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(T0));
    assert_eq!(sack.gap_blocks, [GapBlock { start: 2, end: 2 }]);
    // Ordered delivery waits for SSN 1.
    assert_eq!(recv_all(&mut t, id), [(0, Bytes::from_static(b"a"))]);
    t.send(tag, &[whole(T0 + 1, 0, 1, b"b")]);
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(T0 + 2));
    assert!(sack.gap_blocks.is_empty());
    assert_eq!(
        recv_all(&mut t, id),
        [(0, Bytes::from_static(b"b")), (0, Bytes::from_static(b"c"))]
    );
}

#[test]
fn duplicates_are_reported_and_delivered_once() {
    // §6.2, §3.3.4: duplicate TSNs go in the next SACK, which is sent at once.
    let (mut t, tag, id) = established();
    t.send(tag, &[whole(T0, 0, 0, b"a")]);
    t.send(tag, &[whole(T0, 0, 0, b"a")]);
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.duplicate_tsns, [Tsn(T0)]);
    assert_eq!(recv_all(&mut t, id).len(), 1);
}

#[test]
fn streams_do_not_block_each_other() {
    // §1.3 multi-streaming: a gap on stream 0 does not hold stream 1.
    let (mut t, tag, id) = established();
    t.send(tag, &[whole(T0 + 1, 1, 0, b"s1")]);
    assert_eq!(recv_all(&mut t, id), [(1, Bytes::from_static(b"s1"))]);
}

#[test]
fn unordered_messages_are_delivered_as_soon_as_whole() {
    // §6.6.
    let (mut t, tag, id) = established();
    let unordered = DataFlags {
        unordered: true,
        ..DataFlags::WHOLE
    };
    t.send(tag, &[data(T0 + 1, 0, 0, unordered, b"u")]);
    let got = t.iut.association_mut(id).unwrap().recv().unwrap();
    assert!(got.unordered);
    assert_eq!(&got.data[..], b"u");
}

#[test]
fn fragments_are_reassembled_in_any_arrival_order() {
    // §6.9.
    let (mut t, tag, id) = established();
    let first = DataFlags {
        end: false,
        ..DataFlags::WHOLE
    };
    let middle = DataFlags {
        beginning: false,
        end: false,
        ..DataFlags::WHOLE
    };
    let last = DataFlags {
        beginning: false,
        ..DataFlags::WHOLE
    };
    t.send(tag, &[data(T0 + 2, 0, 0, last, b"ghi")]);
    t.send(tag, &[data(T0, 0, 0, first, b"abc")]);
    assert!(recv_all(&mut t, id).is_empty());
    t.send(tag, &[data(T0 + 1, 0, 0, middle, b"def")]);
    assert_eq!(
        recv_all(&mut t, id),
        [(0, Bytes::from_static(b"abcdefghi"))]
    );
}

#[test]
fn data_on_an_unknown_stream_gets_invalid_stream_identifier() {
    // §6.5: ERROR with Invalid Stream Identifier; the TSN is acknowledged.
    let (mut t, tag, id) = established();
    t.send(tag, &[whole(T0, 9, 0, b"x")]);
    let sent = t.sent_one();
    assert!(
        sent.packet
            .chunks
            .contains(&Chunk::Error(usctp_proto::chunk::ErrorChunk {
                causes: vec![ErrorCause::InvalidStreamIdentifier(9)]
            }))
    );
    assert_eq!(sack_of(&sent).cumulative_tsn_ack, Tsn(T0));
    assert!(recv_all(&mut t, id).is_empty());
}

#[test]
fn data_without_user_data_aborts_with_no_user_data() {
    // §6.2: an empty DATA chunk is a protocol violation.
    let (mut t, tag, id) = established();
    t.send(tag, &[whole(T0, 0, 0, b"")]);
    let sent = t.sent_one();
    assert_eq!(sent.vtag(), 0x1234);
    assert!(
        matches!(sent.only(), Chunk::Abort(a) if a.causes == [ErrorCause::NoUserData(Tsn(T0))])
    );
    let events = t.events();
    assert!(
        matches!(&events[..], [(i, Event::Lost(AssociationError::ProtocolViolation(_)))] if *i == id),
        "{events:?}"
    );
}

/// The IUT's DATA chunks in what it sends now.
fn data_sent(t: &mut Tester) -> Vec<Data> {
    t.sent()
        .into_iter()
        .flat_map(|s| s.packet.chunks)
        .filter_map(|c| match c {
            Chunk::Data(d) => Some(d),
            _ => None,
        })
        .collect()
}

#[test]
fn large_messages_are_fragmented_with_consecutive_tsns() {
    // §6.9: B on the first fragment, E on the last, one SSN.
    let (mut t, _, id) = established();
    let big = Bytes::from(vec![7u8; 3000]);
    t.iut
        .association_mut(id)
        .unwrap()
        .send(2, 99, big.clone(), false)
        .unwrap();
    let chunks = data_sent(&mut t);
    assert_eq!(
        chunks.len(),
        3,
        "1200-byte packets carry 1172 bytes of data"
    );
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.tsn, chunks[0].tsn.add(i as u32));
        assert_eq!((c.stream, c.ssn, c.ppid), (2, Ssn(0), 99));
        assert_eq!(c.flags.beginning, i == 0);
        assert_eq!(c.flags.end, i == 2);
    }
    let joined: Vec<u8> = chunks.iter().flat_map(|c| c.payload.to_vec()).collect();
    assert_eq!(joined, big);
}

#[test]
fn unacknowledged_data_is_retransmitted_with_backoff() {
    // §6.3.3: T3-rtx at RTO (RTO.Initial 1 s), doubling each time.
    let (mut t, _, id) = established();
    t.iut
        .association_mut(id)
        .unwrap()
        .send(0, 0, Bytes::from_static(b"hi"), false)
        .unwrap();
    let first = data_sent(&mut t);
    assert_eq!(first.len(), 1);
    let mut rto = Duration::from_secs(1);
    for _ in 0..3 {
        t.advance(rto - Duration::from_millis(1));
        assert!(data_sent(&mut t).is_empty());
        t.advance(Duration::from_millis(1));
        assert_eq!(data_sent(&mut t), first);
        rto *= 2;
    }
}

#[test]
fn acknowledged_data_is_not_retransmitted() {
    // §6.3.2: T3-rtx stops when everything is acknowledged.
    let (mut t, tag, id) = established();
    t.iut
        .association_mut(id)
        .unwrap()
        .send(0, 0, Bytes::from_static(b"hi"), false)
        .unwrap();
    let sent = data_sent(&mut t);
    let sack = Sack {
        cumulative_tsn_ack: sent[0].tsn,
        a_rwnd: 100_000,
        gap_blocks: vec![],
        duplicate_tsns: vec![],
    };
    t.send(tag, &[Chunk::Sack(sack)]);
    assert!(
        t.events()
            .iter()
            .any(|(_, e)| matches!(e, Event::SenderDry))
    );
    t.advance(Duration::from_secs(5));
    assert!(data_sent(&mut t).is_empty());
    assert_eq!(t.iut.association(id).unwrap().unacked(), 0);
}

#[test]
fn three_miss_indications_trigger_fast_retransmit() {
    // §7.2.4: the fourth SACK reporting a TSN missing... the third miss
    // indication retransmits it before T3 expires.
    let (mut t, tag, id) = established();
    for _ in 0..5 {
        t.iut
            .association_mut(id)
            .unwrap()
            .send(0, 0, Bytes::from_static(b"m"), false)
            .unwrap();
    }
    let sent = data_sent(&mut t);
    assert!(sent.len() >= 4, "{}", sent.len());
    let first = sent[0].tsn;
    let before = first.prev();
    for n in 1..=3u16 {
        let sack = Sack {
            cumulative_tsn_ack: before,
            a_rwnd: 100_000,
            gap_blocks: vec![GapBlock {
                start: 2,
                end: 1 + n,
            }],
            duplicate_tsns: vec![],
        };
        t.send(tag, &[Chunk::Sack(sack)]);
        let resent = data_sent(&mut t);
        if n < 3 {
            assert!(
                resent.iter().all(|d| d.tsn != first),
                "after {n} SACKs: {resent:?}"
            );
        } else {
            assert!(
                resent.iter().any(|d| d.tsn == first),
                "after 3 SACKs: {resent:?}"
            );
        }
    }
}

#[test]
fn zero_window_allows_one_probe() {
    // §6.1 A: with a_rwnd 0 and nothing in flight, one DATA chunk probes.
    let (mut t, tag, id) = established();
    t.iut
        .association_mut(id)
        .unwrap()
        .send(0, 0, Bytes::from_static(b"a"), false)
        .unwrap();
    let first = data_sent(&mut t);
    let sack = Sack {
        cumulative_tsn_ack: first[0].tsn,
        a_rwnd: 0,
        gap_blocks: vec![],
        duplicate_tsns: vec![],
    };
    t.send(tag, &[Chunk::Sack(sack)]);
    for _ in 0..3 {
        t.iut
            .association_mut(id)
            .unwrap()
            .send(0, 0, Bytes::from_static(b"b"), false)
            .unwrap();
    }
    assert_eq!(data_sent(&mut t).len(), 1, "one probe only");
}

#[test]
fn sends_are_refused_on_unknown_streams_and_when_empty() {
    let (mut t, _, id) = established();
    let mut assoc = t.iut.association_mut(id).unwrap();
    use usctp_proto::association::SendError;
    assert_eq!(
        assoc.send(5, 0, Bytes::from_static(b"x"), false),
        Err(SendError::InvalidStream(5))
    );
    assert_eq!(
        assoc.send(0, 0, Bytes::new(), false),
        Err(SendError::EmptyMessage)
    );
}

#[test]
fn graceful_shutdown_initiated_locally() {
    // §9.2: SHUTDOWN once data is acknowledged; SHUTDOWN ACK gets SHUTDOWN
    // COMPLETE; T2-shutdown retransmits the SHUTDOWN meanwhile.
    let (mut t, tag, id) = established();
    t.iut
        .association_mut(id)
        .unwrap()
        .send(0, 0, Bytes::from_static(b"bye"), false)
        .unwrap();
    let sent = data_sent(&mut t);
    let now = t.now;
    t.iut.association_mut(id).unwrap().shutdown(now);
    t.sent_nothing();
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::ShutdownPending
    );
    let sack = Sack {
        cumulative_tsn_ack: sent[0].tsn,
        a_rwnd: 100_000,
        gap_blocks: vec![],
        duplicate_tsns: vec![],
    };
    t.send(tag, &[Chunk::Sack(sack)]);
    let shutdown = t.sent_one();
    assert_eq!(shutdown.vtag(), 0x1234);
    assert_eq!(
        shutdown.only(),
        &Chunk::Shutdown(Shutdown {
            cumulative_tsn_ack: Tsn(T0 - 1)
        })
    );
    t.advance(Duration::from_secs(1));
    assert!(matches!(t.sent_one().only(), Chunk::Shutdown(_)));
    t.send(tag, &[Chunk::ShutdownAck]);
    let complete = t.sent_one();
    assert!(matches!(complete.only(), Chunk::ShutdownComplete(c) if !c.reflected_tag));
    assert!(
        t.events()
            .iter()
            .any(|(_, e)| matches!(e, Event::ShutdownComplete))
    );
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn graceful_shutdown_initiated_by_the_peer() {
    // §9.2: SHUTDOWN -> SHUTDOWN ACK; SHUTDOWN COMPLETE closes.
    let (mut t, tag, id) = established();
    t.send(
        tag,
        &[Chunk::Shutdown(Shutdown {
            cumulative_tsn_ack: Tsn(0),
        })],
    );
    let ack = t.sent_one();
    assert_eq!(ack.only(), &Chunk::ShutdownAck);
    assert!(
        t.events()
            .iter()
            .any(|(_, e)| matches!(e, Event::ShutdownStarted))
    );
    assert_eq!(
        t.iut.association(id).unwrap().state(),
        AssociationState::ShutdownAckSent
    );
    // SHUTDOWN ACK is retransmitted on T2.
    t.advance(Duration::from_secs(1));
    assert_eq!(t.sent_one().only(), &Chunk::ShutdownAck);
    t.send(tag, &[Chunk::ShutdownComplete(Default::default())]);
    assert!(
        t.events()
            .iter()
            .any(|(_, e)| matches!(e, Event::ShutdownComplete))
    );
    assert_eq!(t.iut.association_count(), 0);
}

#[test]
fn data_bundled_with_cookie_echo_is_acknowledged_with_the_cookie_ack() {
    // §5.1 (D), §6.10: DATA may follow the COOKIE ECHO; its SACK rides with
    // the COOKIE ACK (ETSI sctp-bdc-v-7-4).
    let mut t = Tester::server();
    t.send(0, &[Chunk::Init(init(0x4242))]);
    let Chunk::InitAck(ack) = t.sent_one().only().clone() else {
        panic!("expected INIT ACK")
    };
    let cookie = ack.state_cookie().unwrap().clone();
    t.send(
        ack.initiate_tag,
        &[
            Chunk::CookieEcho(usctp_proto::chunk::CookieEcho { cookie }),
            whole(T0, 0, 0, b"early"),
        ],
    );
    let reply = t.sent_one();
    assert!(
        matches!(&reply.packet.chunks[..], [Chunk::CookieAck, Chunk::Sack(s)] if s.cumulative_tsn_ack == Tsn(T0))
    );
    let events = t.events();
    let id = events[0].0;
    assert_eq!(recv_all(&mut t, id), [(0, Bytes::from_static(b"early"))]);
}

#[test]
fn data_bundled_with_cookie_ack_is_acknowledged_at_once() {
    // §5.1 (E): the client side (ETSI sctp-bdc-v-7-5).
    let (mut t, id) = client();
    let (ours, _) = answer_init(&mut t, 0x4343, vec![]);
    t.sent_one();
    t.send(
        ours.initiate_tag,
        &[Chunk::CookieAck, whole(77, 0, 0, b"hello")],
    );
    let sack = sack_of(&t.sent_one());
    assert_eq!(sack.cumulative_tsn_ack, Tsn(77));
    assert_eq!(recv_all(&mut t, id), [(0, Bytes::from_static(b"hello"))]);
}

/// When the association ends, each undelivered message comes back to the
/// user once (SCTP_SEND_FAILED_EVENT), put back together from its
/// fragments: a message whose first fragment was acknowledged returns
/// its unacknowledged tail, marked as partly sent; one never sent returns
/// whole.
#[test]
fn unsent_messages_come_back_whole_or_as_their_tail() {
    let (mut t, iut_tag, id) = established();
    let first: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let mut assoc = t.iut.association_mut(id).unwrap();
    assoc.send(1, 7, Bytes::from(first.clone()), false).unwrap();
    assoc
        .send(0, 8, Bytes::from_static(b"second"), true)
        .unwrap();
    let sent = t.sent();
    let fragments: Vec<Data> = sent
        .iter()
        .flat_map(|s| &s.packet.chunks)
        .filter_map(|c| match c {
            Chunk::Data(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    assert!(fragments.len() >= 3, "{fragments:?}");
    let head = fragments[0].clone();
    assert!(head.flags.beginning && !head.flags.end);
    // The peer acknowledges the first fragment only; then the user aborts.
    let sack = Chunk::Sack(Sack {
        cumulative_tsn_ack: head.tsn,
        a_rwnd: 100_000,
        gap_blocks: vec![],
        duplicate_tsns: vec![],
    });
    t.send(iut_tag, &[sack]);
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
