//! Component tests of the send side: fragmentation, refusals, cumulative
//! and gap acks, fast retransmit, T3-rtx, unsent messages.

use super::*;
use crate::association::rto::Rto;
use crate::chunk::{CommonHeader, GapBlock, Packet};

const MTU: usize = 1200;
const FIRST: Tsn = Tsn(1000);

use crate::test_start as start;

fn paths() -> Vec<Path> {
    let s = Duration::from_secs(1);
    let mut p = Path::new("10.0.0.2:9899".parse().unwrap(), true, Rto::new(s, s, s));
    p.start_congestion(MTU - 28, 1 << 20);
    vec![p]
}

fn tx() -> Tx {
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
