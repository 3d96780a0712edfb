//! Component tests of the send side: fragmentation, refusals, cumulative
//! and gap acks, fast retransmit, RACK-TLP, T3-rtx, unsent messages.

use super::*;
use crate::association::rto::Rto;
use crate::chunk::{Chunk, CommonHeader, GapBlock, Packet};

const MTU: usize = 1200;
const FIRST: Tsn = Tsn(1000);

use crate::test_start as start;

fn paths() -> Vec<Path> {
    let s = Duration::from_secs(1);
    let mut p = Path::new("10.0.0.2:9899".parse().unwrap(), true, Rto::new(s, s, s));
    p.start_congestion(MTU - 28, 1 << 20);
    vec![p]
}

/// A send side with RFC 9260's loss detection alone (§7.2.4).
fn tx() -> Tx {
    let config = Config {
        loss_detection: LossDetection::Rfc9260,
        ..Config::default()
    };
    Tx::new(FIRST, 2, 1 << 20, MTU, &config)
}

/// A send side with RACK-TLP, the default.
fn rack_tx() -> Tx {
    Tx::new(FIRST, 2, 1 << 20, MTU, &Config::default())
}

const ORDERED: SendOptions = SendOptions {
    unordered: false,
    sack_immediately: false,
    context: 0,
};
const UNORDERED: SendOptions = SendOptions {
    unordered: true,
    ..ORDERED
};

/// Packets `fill` makes until it stops, as the DATA chunks in each.
fn fill_all(tx: &mut Tx, now: Instant, paths: &mut [Path]) -> Vec<Vec<Data>> {
    let mut packets = Vec::new();
    loop {
        let mut buf = Vec::new();
        let header = CommonHeader {
            src_port: 1,
            dst_port: 2,
            verification_tag: 3,
            checksum: 0,
        };
        let mut w = PacketWriter::new(&mut buf, header, MTU);
        tx.fill(now, &mut w, paths, 0);
        if w.is_empty() {
            return packets;
        }
        w.finish();
        let packet = Packet::parse(Bytes::from(buf)).expect("a packet it wrote");
        packets.push(
            packet
                .chunks
                .into_iter()
                .filter_map(|c| match c {
                    Chunk::Data(d) => Some(d),
                    _ => None,
                })
                .collect(),
        );
    }
}

fn sack(cum: u32, gaps: &[(u16, u16)]) -> Sack {
    Sack {
        cumulative_tsn_ack: Tsn(cum),
        a_rwnd: 1 << 20,
        gap_blocks: gaps
            .iter()
            .map(|&(start, end)| GapBlock { start, end })
            .collect(),
        duplicate_tsns: vec![],
    }
}

#[test]
fn a_message_is_cut_into_fragments_that_fill_packets() {
    let mut tx = tx();
    let message: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    tx.send(1, 9, Bytes::from(message.clone()), ORDERED)
        .unwrap();
    let packets = fill_all(&mut tx, start(), &mut paths());
    let chunks: Vec<&Data> = packets.iter().flatten().collect();
    assert_eq!(chunks.len(), 3);
    assert!(chunks[0].flags.beginning && !chunks[0].flags.end);
    assert!(!chunks[1].flags.beginning && !chunks[1].flags.end);
    assert!(chunks[2].flags.end);
    let tsns: Vec<Tsn> = chunks.iter().map(|d| d.tsn).collect();
    assert_eq!(tsns, [Tsn(1000), Tsn(1001), Tsn(1002)]);
    let joined: Vec<u8> = chunks.iter().flat_map(|d| d.payload.to_vec()).collect();
    assert_eq!(joined, message);
    assert!(chunks.iter().all(|d| d.stream == 1 && d.ppid == 9));
    // Each fragment is as large as a packet allows.
    assert_eq!(chunks[0].payload.len(), MTU - 12 - Data::HEADER_LEN);
}

#[test]
fn bad_messages_are_refused_and_a_full_buffer_says_wait() {
    let config = Config {
        send_buffer: 2000,
        max_message_size: 1500,
        ..Config::default()
    };
    let mut tx = Tx::new(FIRST, 2, 1 << 20, MTU, &config);
    let too_large = SendError::TooLarge {
        size: 1501,
        max: 1500,
    };
    let refused = [
        (5, Bytes::from_static(b"x"), SendError::InvalidStream(5)),
        (0, Bytes::new(), SendError::EmptyMessage),
        (0, Bytes::from(vec![0; 1501]), too_large),
    ];
    for (stream, message, error) in refused {
        assert_eq!(tx.send(stream, 0, message, ORDERED), Err(error));
    }
    tx.send(0, 0, Bytes::from(vec![0; 1500]), ORDERED).unwrap();
    assert_eq!(
        tx.send(0, 0, Bytes::from(vec![0; 600]), ORDERED),
        Err(SendError::WouldBlock)
    );
    assert_eq!(tx.buffered(), 1500);
}

#[test]
fn the_cumulative_ack_frees_chunks_and_gap_acks_take_them_out_of_flight() {
    let (now, mut paths, mut tx) = (start(), paths(), tx());
    for _ in 0..4 {
        tx.send(0, 0, Bytes::from(vec![1; 1000]), ORDERED).unwrap();
    }
    assert_eq!(fill_all(&mut tx, now, &mut paths).len(), 4);
    assert_eq!((tx.outstanding_count(), paths[0].flight), (4, 4000));
    assert!(paths[0].t3.is_some());
    // 1000 and 1001 acknowledged; 1003 in a gap block.
    let outcome = tx.on_sack(now, &sack(1001, &[(2, 2)]), &mut paths);
    assert!(outcome.advanced);
    assert_eq!(tx.outstanding_count(), 2);
    assert_eq!(paths[0].flight, 1000);
    assert_eq!(tx.buffered(), 2000);
    // A SACK older than the cumulative ack changes nothing.
    let stale = tx.on_sack(now, &sack(1000, &[]), &mut paths);
    assert!(!stale.advanced && !stale.acked_any);
    // Everything: T3-rtx stops.
    tx.on_sack(now, &sack(1003, &[]), &mut paths);
    assert!(tx.is_idle());
    assert!(paths[0].t3.is_none());
}

#[test]
fn three_miss_indications_mark_a_chunk_for_fast_retransmission() {
    let (now, mut paths, mut tx) = (start(), paths(), tx());
    paths[0].cwnd = 100_000;
    for _ in 0..6 {
        tx.send(0, 0, Bytes::from(vec![1; 1000]), UNORDERED)
            .unwrap();
    }
    fill_all(&mut tx, now, &mut paths);
    // 1000 is lost; each SACK reports one more TSN after it.
    for end in 1..=2 {
        tx.on_sack(now, &sack(999, &[(2, 1 + end)]), &mut paths);
        assert!(!tx.has_retransmissions(), "after {end} misses");
    }
    tx.on_sack(now, &sack(999, &[(2, 4)]), &mut paths);
    assert!(tx.has_retransmissions());
    // §7.2.4: cwnd halved once (not below 4 PMDCS).
    assert_eq!(paths[0].cwnd, 50_000);
    let again = fill_all(&mut tx, now, &mut paths);
    assert_eq!(again[0][0].tsn, Tsn(1000));
    assert!(!tx.has_retransmissions());
}

#[test]
fn t3_expiry_marks_what_was_in_flight_and_collapses_cwnd() {
    let (now, mut paths, mut tx) = (start(), paths(), tx());
    for _ in 0..3 {
        tx.send(0, 0, Bytes::from(vec![1; 1000]), UNORDERED)
            .unwrap();
    }
    fill_all(&mut tx, now, &mut paths);
    // 1001 was gap-acked: T3-rtx leaves it alone.
    tx.on_sack(now, &sack(999, &[(2, 2)]), &mut paths);
    assert!(tx.on_t3(&mut paths, 0));
    assert_eq!(paths[0].cwnd, MTU - 28);
    assert_eq!(paths[0].flight, 0);
    // One packet of retransmissions goes at once: cwnd is one PMDCS.
    let again = fill_all(&mut tx, now, &mut paths);
    let tsns: Vec<Tsn> = again.iter().flatten().map(|d| d.tsn).collect();
    assert_eq!(tsns, [Tsn(1000)]);
}

#[test]
fn unsent_messages_come_back_put_together() {
    let (now, mut paths, mut tx) = (start(), paths(), tx());
    tx.send(0, 3, Bytes::from(vec![7; 2500]), ORDERED).unwrap();
    tx.send(1, 4, Bytes::from_static(b"short"), UNORDERED)
        .unwrap();
    fill_all(&mut tx, now, &mut paths);
    // The first fragment arrived.
    tx.on_sack(now, &sack(1000, &[]), &mut paths);
    let unsent = tx.drain_unsent();
    assert_eq!(unsent.len(), 2);
    assert!(unsent[0].partly_sent && unsent[0].data.len() == 2500 - (MTU - 28));
    assert_eq!(
        (unsent[1].stream, unsent[1].ppid, unsent[1].unordered),
        (1, 4, true)
    );
    assert_eq!(&unsent[1].data[..], b"short");
    assert!(tx.is_idle() && tx.buffered() == 0);
}

// ---- RACK-TLP (RFC 8985) ----

const MS: Duration = Duration::from_millis(1);

/// Six chunks of 1000 bytes sent at `t0`, one per packet (cwnd and
/// Max.Burst opened wide).
fn six_in_flight(tx: &mut Tx, paths: &mut [Path], t0: Instant) {
    paths[0].cwnd = 100_000;
    tx.max_burst = 16;
    for _ in 0..6 {
        tx.send(0, 0, Bytes::from(vec![1; 1000]), UNORDERED)
            .unwrap();
    }
    fill_all(tx, t0, paths);
}

#[test]
fn rack_marks_a_chunk_lost_once_a_later_one_is_acked_and_the_window_passed() {
    let (t0, mut paths, mut tx) = (start(), paths(), rack_tx());
    six_in_flight(&mut tx, &mut paths, t0);
    // 1000 and 1001 arrive after 10 ms: the round trip and the shortest
    // one (the reordering window is a quarter of it).
    tx.on_sack(t0 + 10 * MS, &sack(1001, &[]), &mut paths);
    // 1003 is acknowledged past the gap at 1002: one miss only, which
    // RFC 9260 would not act on. RACK waits the round trip of 1003 (11
    // ms) and 2.5 ms from 1002's send: until t0 + 13.5 ms.
    tx.on_sack(t0 + 11 * MS, &sack(1001, &[(2, 2)]), &mut paths);
    assert!(!tx.has_retransmissions());
    let timer = tx.deadline().expect("the reordering timer runs");
    assert_eq!(timer, t0 + 13 * MS + 500 * Duration::from_micros(1));
    tx.on_timers(timer, &mut paths);
    assert!(tx.has_retransmissions());
    let again = fill_all(&mut tx, timer, &mut paths);
    assert_eq!(again[0][0].tsn, Tsn(1002));
    assert_eq!(tx.stats.fast_retransmits, 1);
    // §7.2.3: the recovery halved cwnd, once.
    assert_eq!(paths[0].cwnd, 50_000);
    tx.liveness(&paths).unwrap();
}

#[test]
fn rack_finds_a_lost_retransmission_without_t3() {
    let (t0, mut paths, mut tx) = (start(), paths(), rack_tx());
    six_in_flight(&mut tx, &mut paths, t0);
    tx.on_sack(t0 + 10 * MS, &sack(999, &[(2, 4)]), &mut paths);
    // Three acknowledged past the gap, no reordering seen: lost at once.
    assert!(tx.has_retransmissions());
    let t1 = t0 + 11 * MS;
    assert_eq!(fill_all(&mut tx, t1, &mut paths)[0][0].tsn, Tsn(1000));
    // New data after the retransmission, acknowledged; the retransmission
    // of 1000 is lost again.
    tx.send(0, 0, Bytes::from(vec![1; 1000]), UNORDERED)
        .unwrap();
    let t2 = t0 + 12 * MS;
    fill_all(&mut tx, t2, &mut paths);
    tx.on_sack(t2 + 10 * MS, &sack(999, &[(2, 6)]), &mut paths);
    tx.on_sack(t2 + 10 * MS, &sack(999, &[(2, 7)]), &mut paths);
    assert!(
        tx.has_retransmissions(),
        "a chunk sent after the retransmission was acknowledged"
    );
    assert_eq!(
        fill_all(&mut tx, t2 + 10 * MS, &mut paths)[0][0].tsn,
        Tsn(1000)
    );
    assert_eq!(tx.stats.lost_retransmissions, 1);
    assert_eq!(tx.stats.t3_expiries, 0);
    tx.liveness(&paths).unwrap();
}

#[test]
fn the_loss_probe_resends_the_tail_when_no_sack_comes() {
    let (t0, mut paths, mut tx) = (start(), paths(), rack_tx());
    six_in_flight(&mut tx, &mut paths, t0);
    // The first two are acknowledged after 10 ms; the rest of the flight
    // is lost and no SACK follows.
    let t1 = t0 + 10 * MS;
    tx.on_sack(t1, &sack(1001, &[]), &mut paths);
    let srtt = paths[0].rto.srtt().unwrap();
    let pto = tx.deadline().expect("the probe timer runs");
    assert_eq!(pto, t1 + 2 * srtt);
    assert!(pto < paths[0].t3.unwrap());
    tx.on_timers(pto, &mut paths);
    let probe = fill_all(&mut tx, pto, &mut paths);
    let tsns: Vec<Tsn> = probe.iter().flatten().map(|d| d.tsn).collect();
    assert_eq!(tsns, [Tsn(1005)], "the last chunk, once");
    assert_eq!(tx.stats.loss_probes, 1);
    // Its SACK shows the others lost: RACK marks them, no T3-rtx.
    tx.on_sack(pto + 10 * MS, &sack(1001, &[(4, 4)]), &mut paths);
    let again: Vec<Tsn> = fill_all(&mut tx, pto + 10 * MS, &mut paths)
        .iter()
        .flatten()
        .map(|d| d.tsn)
        .collect();
    assert_eq!(again, [Tsn(1002), Tsn(1003), Tsn(1004)]);
    tx.liveness(&paths).unwrap();
}

#[test]
fn a_reordering_link_widens_the_window_instead_of_retransmitting() {
    let (t0, mut paths, mut tx) = (start(), paths(), rack_tx());
    six_in_flight(&mut tx, &mut paths, t0);
    // 1001 arrives before 1000: reordering seen.
    tx.on_sack(t0 + 10 * MS, &sack(999, &[(2, 2)]), &mut paths);
    tx.on_sack(t0 + 10 * MS, &sack(1001, &[]), &mut paths);
    // Now 1003..1005 before 1002: three past the gap, but the link
    // reorders, so 1002 gets the reordering window.
    tx.on_sack(t0 + 11 * MS, &sack(1001, &[(2, 4)]), &mut paths);
    assert!(!tx.has_retransmissions());
    tx.on_sack(t0 + 11 * MS, &sack(1005, &[]), &mut paths);
    assert!(tx.is_idle());
    assert_eq!(tx.stats.fast_retransmits, 0);
}

#[test]
fn rfc9260_loss_detection_stays_selectable() {
    let (t0, mut paths, mut tx) = (start(), paths(), tx());
    six_in_flight(&mut tx, &mut paths, t0);
    tx.on_sack(t0 + 10 * MS, &sack(1001, &[]), &mut paths);
    tx.on_sack(t0 + 11 * MS, &sack(1001, &[(2, 2)]), &mut paths);
    // One miss: nothing, and no RACK timer or probe.
    assert!(!tx.has_retransmissions());
    assert_eq!(tx.deadline(), None);
}
