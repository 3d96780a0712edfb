//! RFC 9260 §6.3 (retransmission timer, RTT measurement), §7.2.4 (fast
//! retransmit) and §7.2 (congestion control), played with raw packets
//! against an established association.

mod support;

use std::time::Duration;

use support::*;
use usctp_proto::association::{AssocId, Event};
use usctp_proto::chunk::{Chunk, Init};
use usctp_proto::config::Config;
use usctp_proto::serial::Tsn;

/// The tester's Initiate Tag.
const PEER: u32 = 0x6900_0001;

// ---- §6.3: the retransmission timer ----

#[test]
fn unacknowledged_data_is_retransmitted_with_backoff() {
    // §6.3.3: T3-rtx at RTO (RTO.Initial 1 s), doubling each time.
    let (mut t, _, _, first) = with_outstanding_data(PEER, b"hi");
    let mut rto = Duration::from_secs(1);
    for _ in 0..3 {
        t.advance(rto - Duration::from_millis(1));
        assert!(data_in(&t.sent()).is_empty());
        t.advance(Duration::from_millis(1));
        assert_eq!(data_in(&t.sent()), std::slice::from_ref(&first));
        rto *= 2;
    }
}

#[test]
fn acknowledged_data_is_not_retransmitted() {
    // §6.3.2: T3-rtx stops when everything is acknowledged.
    let (mut t, tag, id, sent) = with_outstanding_data(PEER, b"hi");
    t.send(tag, &[sack_with(sent.tsn, 100_000, &[])]);
    assert!(
        t.events()
            .iter()
            .any(|(_, e)| matches!(e, Event::SenderDry))
    );
    t.advance(Duration::from_secs(5));
    assert!(data_in(&t.sent()).is_empty());
    assert_eq!(t.iut.association(id).unwrap().unacked(), 0);
}

#[test]
fn sending_more_data_does_not_restart_a_running_t3() {
    // §6.1: T3-rtx starts with the first DATA and is not restarted by new
    // DATA while it runs.
    let (mut t, _iut_tag, id, first) = with_outstanding_data(PEER, b"first");
    t.advance(Duration::from_millis(600));
    user_sends(&mut t, id, b"second");
    assert_eq!(data_in(&t.sent()).len(), 1);
    t.advance(Duration::from_millis(399));
    assert!(data_in(&t.sent()).is_empty());
    // One RTO (1 s) after the first DATA, not after the second.
    t.advance(Duration::from_millis(1));
    let resent = data_in(&t.sent());
    assert!(resent.iter().any(|d| d.tsn == first.tsn), "{resent:?}");
}

#[test]
fn rtt_is_measured_each_round_trip_but_never_from_a_retransmitted_chunk() {
    // §6.3.1 C4 and C5 (Karn's algorithm).
    let (mut t, iut_tag, id) = established(PEER);
    let srtt = |t: &Tester| t.iut.association(id).unwrap().srtt();
    assert_eq!(srtt(&t), None);
    let a = send_one(&mut t, id, b"a");
    ack_after(&mut t, iut_tag, Duration::from_millis(100), a);
    assert_eq!(srtt(&t), Some(Duration::from_millis(100)));
    // Retransmitted on T3-rtx, then acknowledged: no sample.
    let b = send_one(&mut t, id, b"b");
    t.advance(Duration::from_secs(1));
    assert_eq!(data_in(&t.sent())[0].tsn, b);
    ack_after(&mut t, iut_tag, Duration::from_millis(50), b);
    assert_eq!(srtt(&t), Some(Duration::from_millis(100)));
    // The next round trip is measured again: SRTT = 7/8 100 + 1/8 300.
    let c = send_one(&mut t, id, b"c");
    ack_after(&mut t, iut_tag, Duration::from_millis(300), c);
    assert_eq!(srtt(&t), Some(Duration::from_millis(125)));
}

/// The user of `id` sends `payload`; returns the TSN of the DATA that goes.
fn send_one(t: &mut Tester, id: AssocId, payload: &'static [u8]) -> Tsn {
    user_sends(t, id, payload);
    data_in(&t.sent())[0].tsn
}

/// After `delay`, the tester acknowledges everything up to `tsn`.
fn ack_after(t: &mut Tester, iut_tag: u32, delay: Duration, tsn: Tsn) {
    t.advance(delay);
    t.send(iut_tag, &[sack_with(tsn, 100_000, &[])]);
}

// ---- §7.2.4: fast retransmit ----

#[test]
fn three_miss_indications_trigger_fast_retransmit() {
    // §7.2.4: the fourth SACK reporting a TSN missing... the third miss
    // indication retransmits it before T3 expires. (RACK, the default,
    // acts on the first SACK past the gap once the reordering window has
    // passed; here, with no time between sending and the SACKs, at once.)
    let (mut t, tag, id, _) = established_with(rfc9260_loss_detection(), PEER);
    for _ in 0..5 {
        user_sends(&mut t, id, b"m");
    }
    let sent = data_in(&t.sent());
    assert!(sent.len() >= 4, "{}", sent.len());
    let first = sent[0].tsn;
    let before = first.prev();
    for n in 1..=3u16 {
        t.send(tag, &[sack_with(before, 100_000, &[(2, 1 + n)])]);
        let resent = data_in(&t.sent());
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
fn a_fast_retransmission_of_the_earliest_chunk_restarts_t3() {
    // §6.1, §7.2.4: when the lowest outstanding TSN goes again by fast
    // retransmit, T3-rtx starts over from then: no timeout retransmits it
    // a third time before a full RTO has passed. RFC 9260's loss
    // detection: the restart is its rule.
    let (mut t, iut_tag, id, _) = established_with(rfc9260_loss_detection(), PEER);
    for _ in 0..6 {
        user_sends(&mut t, id, vec![1; 100]);
    }
    let sent = tsns(&data_in(&t.sent()));
    assert_eq!(sent.len(), 6);
    let before = sent[0].prev();
    // 400 ms into T3-rtx (1 s), three SACKs miss the first TSN; the last
    // two stay in flight, so T3-rtx keeps running.
    t.advance(Duration::from_millis(400));
    for highest in 2..=3 {
        t.send(iut_tag, &[sack_with(before, 100_000, &[(2, highest)])]);
        assert!(data_in(&t.sent()).is_empty());
    }
    t.send(iut_tag, &[sack_with(before, 100_000, &[(2, 4)])]);
    assert_eq!(tsns(&data_in(&t.sent())), [sent[0]], "fast retransmit");
    let rto = t.iut.association(id).unwrap().rto();
    assert!(rto >= Duration::from_secs(1));
    // The original T3-rtx would have expired 600 ms from here.
    t.advance(rto - Duration::from_millis(1));
    assert!(data_in(&t.sent()).is_empty(), "T3-rtx was restarted");
    t.advance(Duration::from_millis(1));
    let again = tsns(&data_in(&t.sent()));
    assert_eq!(again, [sent[0], sent[4], sent[5]], "a full RTO later");
}

// ---- §7.2: congestion control ----

/// The largest DATA payload in a packet of `packet_size` bytes: the packet
/// less the common header (12) and the DATA chunk header (16).
fn pmdcs(packet_size: usize) -> usize {
    packet_size - 12 - 16
}

#[test]
fn initial_cwnd_is_counted_in_pmdcs() {
    // §7.2.1: the initial cwnd is min(4 PMDCS, max(2 PMDCS, 4404)) toward
    // an IPv4 peer, PMDCS being the packet size less 28 bytes of headers.
    for (size, expected) in [(1200, 4404), (600, 4 * pmdcs(600)), (4000, 2 * pmdcs(4000))] {
        let (t, _iut_tag, id, _) = established_configured(PEER, |c| c.max_packet_size = size);
        assert_eq!(t.iut.association(id).unwrap().cwnd(), expected, "{size}");
    }
}

#[test]
fn new_data_stops_at_the_congestion_window_overshooting_by_one_packet_at_most() {
    // §6.1 B: no new data with cwnd + PMDCS - 1 or more outstanding, the
    // overshoot in one packet only; when the window is full nothing more
    // goes until a SACK; §6.10: TSNs increase within and across packets.
    let (mut t, iut_tag, id) = established(PEER);
    let cwnd = t.iut.association(id).unwrap().cwnd();
    let pmdcs = Config::default().max_packet_size - 12;
    for _ in 0..30 {
        user_sends(&mut t, id, vec![3; 500]);
    }
    let sent = t.sent();
    let mut outstanding = 0;
    let mut over = 0;
    let mut previous: Option<Tsn> = None;
    for s in &sent {
        assert!(outstanding < cwnd, "a packet started at {outstanding}");
        for d in data_in(std::slice::from_ref(s)) {
            if let Some(p) = previous {
                assert_eq!(d.tsn, p.next(), "TSNs in increasing order");
            }
            previous = Some(d.tsn);
            outstanding += d.payload.len();
        }
        if outstanding > cwnd {
            over += 1;
        }
    }
    assert!(outstanding >= cwnd, "the window was used: {outstanding}");
    assert!(outstanding < cwnd + pmdcs, "{outstanding} for cwnd {cwnd}");
    assert!(over <= 1, "{over} packets past cwnd");
    // Nothing more before an acknowledgement (T3-rtx is 1 s away).
    t.advance(Duration::from_millis(500));
    assert!(data_in(&t.sent()).is_empty());
    let first = data_in(&sent)[0].tsn;
    t.send(iut_tag, &[sack_with(first.next(), 100_000, &[])]);
    let more = data_in(&t.sent());
    assert!(!more.is_empty());
    assert_eq!(more[0].tsn, previous.unwrap().next());
}

#[test]
fn slow_start_grows_cwnd_only_when_it_is_used_and_by_what_was_acknowledged() {
    // §7.2.1: in slow start cwnd grows only while fully used, by at most
    // the bytes newly acknowledged and at most one PMDCS.
    let (mut t, iut_tag, id) = established(PEER);
    let cwnd = |t: &Tester| t.iut.association(id).unwrap().cwnd();
    let initial = cwnd(&t);
    // One small message does not use the window: no growth.
    user_sends(&mut t, id, vec![1; 100]);
    let a = data_in(&t.sent())[0].tsn;
    t.send(iut_tag, &[sack_with(a, 100_000, &[])]);
    assert_eq!(cwnd(&t), initial);
    // A full window: an acknowledgement of 1000 bytes adds 1000.
    for _ in 0..10 {
        user_sends(&mut t, id, vec![2; 1000]);
    }
    let sent = data_in(&t.sent());
    assert!(sent.len() >= 4);
    t.send(iut_tag, &[sack_with(sent[0].tsn, 100_000, &[])]);
    assert_eq!(cwnd(&t), initial + 1000);
    // Acknowledging 3000 bytes at once adds one PMDCS only (the largest
    // DATA payload: the packet less the common and DATA chunk headers).
    let more = data_in(&t.sent());
    assert!(!more.is_empty());
    t.send(iut_tag, &[sack_with(sent[3].tsn, 100_000, &[])]);
    let pmdcs = Config::default().max_packet_size - 12 - 16;
    assert_eq!(cwnd(&t), initial + 1000 + pmdcs);
}

#[test]
fn congestion_avoidance_adds_one_pmdcs_per_window_acknowledged() {
    // §7.2.2: above ssthresh cwnd grows by one PMDCS once a whole cwnd of
    // bytes has been acknowledged (and only while it is used).
    let pmdcs = pmdcs(1200);
    // A peer window of 1500 bytes makes ssthresh the initial cwnd (4404).
    let mut t = Tester::server();
    let small_window = Init {
        a_rwnd: 1500,
        ..init(PEER)
    };
    let ack = send_init(&mut t, small_window);
    let iut_tag = ack.initiate_tag;
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    let (id, _) = up(&mut t);
    let cwnd = |t: &Tester| t.iut.association(id).unwrap().cwnd();
    assert_eq!(cwnd(&t), 4404);
    for _ in 0..40 {
        user_sends(&mut t, id, vec![3; pmdcs]);
    }
    // Each SACK acknowledges the oldest chunk and opens the peer window.
    let mut outstanding: std::collections::VecDeque<Tsn> = tsns(&data_in(&t.sent())).into();
    let mut seen = Vec::new();
    for _ in 0..13 {
        let tsn = outstanding.pop_front().unwrap();
        t.send(iut_tag, &[sack_with(tsn, 1_000_000, &[])]);
        seen.push(cwnd(&t));
        outstanding.extend(tsns(&data_in(&t.sent())));
    }
    // 1: the window was not in use, no growth; 2: slow start up to
    // ssthresh and one PMDCS past it; then congestion avoidance: one PMDCS
    // after 5 chunks (5860 >= 5576 bytes), the next after 6 more.
    let (ss, ca1, ca2) = (4404 + pmdcs, 4404 + 2 * pmdcs, 4404 + 3 * pmdcs);
    assert_eq!(
        seen,
        [4404, ss, ss, ss, ss, ss, ca1, ca1, ca1, ca1, ca1, ca1, ca2]
    );
}

#[test]
fn a_timeout_leaves_a_window_of_one_pmdcs() {
    // §7.2.3 via §6.3.3: after T3-rtx cwnd is one PMDCS (1172 bytes with
    // 1200-byte packets), so one packet goes again: here one full-sized
    // chunk, or two of 500 bytes.
    for (size, per_packet) in [(pmdcs(1200), 1), (500, 2)] {
        let (mut t, _iut_tag, id) = established(PEER);
        for _ in 0..8 {
            user_sends(&mut t, id, vec![2; size]);
        }
        let first = tsns(&data_in(&t.sent()));
        assert!(first.len() >= 4, "{first:?}");
        t.advance(Duration::from_secs(1));
        let again = t.sent();
        assert_eq!(t.iut.association(id).unwrap().cwnd(), pmdcs(1200));
        assert_eq!(again.len(), 1, "{again:#?}");
        assert_eq!(tsns(&data_in(&again)), first[..per_packet]);
    }
}
