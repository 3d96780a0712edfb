//! The association pair over the simulated network: the handshake under
//! the loss of each packet, duplication and reordering over many seeds,
//! and both ends connecting at once (RFC 9260 §5.1, §5.2.1); then reliable
//! transfer (§6): every message arrives exactly once and intact, in order
//! on ordered streams, across loss, duplication, reordering and
//! corruption, and the association shuts down cleanly (§9.2).

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::sim::workload::{
    Plan, check_delivery, establish, measured_pair, measured_pair_with, plan, read_all,
    send_messages, shut_down, transfer, until_acked,
};
use support::sim::{Fate, Impairment, Sim, seeds};
use usctp_proto::association::AssociationState;
use usctp_proto::chunk::{Chunk, Packet};
use usctp_proto::config::{Config, CongestionControl, LossDetection};

// ---- the handshake ----

#[test]
fn handshake_completes_when_any_one_packet_is_lost() {
    // INIT, INIT ACK, COOKIE ECHO, COOKIE ACK: each lost once in turn.
    // T1-init / T1-cookie bring it back after RTO.Initial (1 s).
    for lost in 0..4 {
        let mut sim = Sim::pair(lost as u64, Config::default());
        sim.drop_indices = vec![lost];
        sim.connect();
        let done = sim.run_until(Duration::from_secs(10), |s| {
            s.up_count(0) == 1 && s.up_count(1) == 1
        });
        assert!(done, "packet {lost} lost:\n{}", sim.trace.join("\n"));
        // One retransmission after RTO.Initial: up within 1 s + a few delays.
        assert!(
            sim.now - sim.start < Duration::from_millis(1100),
            "{:?}",
            sim.now - sim.start
        );
        // Let any duplicate COOKIE ECHO play out: still one association.
        sim.run_until(Duration::from_secs(20), |_| false);
        sim.assert_both_up_once(lost as u64);
    }
}

#[test]
fn handshake_survives_loss_duplication_and_reordering() {
    for seed in seeds(300) {
        let mut sim = Sim::pair(seed, Config::default());
        sim.link = Impairment {
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(30),
            // Low enough that nine losses in a row of one handshake
            // packet (Max.Init.Retransmits) stay out of reach in 300 seeds.
            loss: 0.1,
            duplicate: 0.3,
            corrupt: 0.02,
            ..Impairment::default()
        };
        sim.connect();
        let up = sim.run_until(Duration::from_secs(600), |s| {
            s.up_count(0) == 1 && s.up_count(1) == 1
        });
        assert!(up, "seed {seed}:\n{}", sim.trace.join("\n"));
        sim.link.loss = 0.0;
        sim.run_until(Duration::from_secs(700), |_| false);
        sim.assert_both_up_once(seed);
    }
}

#[test]
fn simultaneous_connect_yields_one_association_each_side() {
    // §5.2.1: INIT collision. Both ends connect at the same instant; each
    // answers the other's INIT from COOKIE-WAIT; one association results.
    for seed in seeds(100) {
        let mut sim = Sim::pair(seed, Config::default());
        sim.nodes[0].ep.listen(usize::MAX);
        sim.link.jitter = Duration::from_millis(20);
        let now = sim.now;
        let (a, b) = (sim.nodes[0].addr, sim.nodes[1].addr);
        let id_a = sim.nodes[0].ep.connect(now, b, 13).unwrap();
        let id_b = sim.nodes[1].ep.connect(now, a, 5000).unwrap();
        let up = sim.run_until(Duration::from_secs(30), |s| {
            s.up_count(0) == 1 && s.up_count(1) == 1
        });
        assert!(up, "seed {seed}:\n{}", sim.trace.join("\n"));
        sim.run_until(Duration::from_secs(60), |_| false);
        sim.assert_both_up_once(seed);
        // The INITs really crossed: both were sent before any INIT ACK.
        assert!(
            sim.trace[0].ends_with(" INIT") && sim.trace[1].ends_with(" INIT"),
            "{:?}",
            sim.trace
        );
        let a = sim.nodes[0].ep.association(id_a).unwrap();
        let b = sim.nodes[1].ep.association(id_b).unwrap();
        assert_eq!(a.state(), AssociationState::Established);
        assert_eq!(
            (a.local_tag(), a.peer_tag()),
            (b.peer_tag(), b.local_tag()),
            "seed {seed}"
        );
    }
}

// ---- transfer ----

fn run(seed: u64, link: Impairment, count: usize, max_size: usize) {
    run_with(seed, link, count, max_size, Config::default());
}

/// Heavy loss: at 30% each way, eleven timeouts in a row
/// (Association.Max.Retrans = 10, §8.1) happen in a few seeds in a
/// thousand, and the association is then rightly declared lost. These runs
/// test delivery, so they allow more retransmissions.
fn patient() -> Config {
    Config::default()
        .with_association_max_retrans(40)
        .with_max_init_retransmits(40)
}

fn run_with(seed: u64, link: Impairment, count: usize, max_size: usize, config: Config) {
    let mut sim = Sim::pair(seed, config);
    sim.tracing = false;
    sim.link = link;
    let (a, b) = establish(&mut sim);
    let plan = plan(seed, count, max_size);
    let got = transfer(&mut sim, a, b, &plan, Duration::from_secs(3600));
    check_delivery(&plan, &got, seed);
    // The shutdown handshake is bounded by T5-shutdown-guard (5 × RTO.Max,
    // §9.2); at 30% loss each way it runs out in about one seed in two
    // hundred, rightly. The shutdown is checked at a loss it must survive.
    sim.link.loss = sim.link.loss.min(0.1);
    shut_down(&mut sim, a, seed);
}

/// A link of `delay_ms` plus up to `jitter_ms` that loses, duplicates and
/// corrupts datagrams at these rates.
fn lossy(delay_ms: u64, jitter_ms: u64, loss: f64, duplicate: f64, corrupt: f64) -> Impairment {
    Impairment {
        delay: Duration::from_millis(delay_ms),
        jitter: Duration::from_millis(jitter_ms),
        loss,
        duplicate,
        corrupt,
        ..Impairment::default()
    }
}

#[test]
fn clean_network_delivers_everything_in_order() {
    run(1, Impairment::default(), 300, 5000);
}

#[test]
fn lossy_duplicating_reordering_corrupting_network_over_many_seeds() {
    let link = lossy(20, 15, 0.1, 0.1, 0.02);
    for seed in seeds(1000) {
        run(seed, link, 10, 4000);
    }
}

#[test]
fn thirty_percent_loss() {
    let link = lossy(10, 5, 0.3, 0.1, 0.01);
    for seed in seeds(20) {
        run_with(seed, link, 20, 3000, patient());
    }
}

#[test]
#[ignore = "long: 100,000 seeds (11 s); run with --ignored, without --release so that the liveness invariant is checked"]
fn one_hundred_thousand_seeds() {
    let link = lossy(20, 15, 0.3, 0.1, 0.02);
    for seed in seeds(100_000) {
        run_with(seed, link, 5, 3000, patient());
    }
}

#[test]
fn loss_on_one_stream_does_not_delay_another() {
    // No head-of-line blocking across streams (RFC 9260 §1.3): the first
    // transmission of every stream-0 DATA is lost; stream 1's messages are
    // delivered long before stream 0's retransmissions arrive.
    let mut sim = Sim::pair(7, Config::default());
    sim.tracing = false;
    let (a, b) = establish(&mut sim);
    let mut seen = std::collections::HashSet::new();
    sim.drop_if = Some(Box::new(move |p: &Packet| {
        let first_tries = p.chunks.iter().filter(|c| match c {
            Chunk::Data(d) if d.stream == 0 => seen.insert(d.tsn.0),
            _ => false,
        });
        first_tries.count() > 0
    }));
    // One message per packet, so that stream 1's never share a packet with
    // stream 0's; four fit in the initial cwnd (§7.2.1), so the sender
    // holds nothing back and only the receiver could.
    for i in 0..4u8 {
        let mut assoc = sim.nodes[0].ep.association_mut(a).unwrap();
        assoc
            .send(u16::from(i % 2), 0, Bytes::from(vec![i; 1100]), false)
            .unwrap();
    }
    let start = sim.now;
    let mut arrivals: Vec<(u16, Duration)> = Vec::new();
    while arrivals.len() < 4 {
        assert!(sim.step(), "stalled");
        let now = sim.now;
        let mut assoc = sim.nodes[1].ep.association_mut(b).unwrap();
        while let Some(m) = assoc.recv() {
            arrivals.push((m.stream, now - start));
        }
    }
    // When the messages of `stream` arrived.
    let times_on = |stream: u16| {
        arrivals
            .iter()
            .filter(move |(s, _)| *s == stream)
            .map(|(_, t)| *t)
    };
    let last_stream1 = times_on(1).max().unwrap();
    let first_stream0 = times_on(0).min().unwrap();
    assert!(
        last_stream1 < Duration::from_millis(100),
        "stream 1 delayed: {arrivals:?}"
    );
    // Stream 0's messages come once their loss is repaired (by RACK
    // after one round trip; T3-rtx, 1 s, with RFC 9260's detection).
    assert!(
        first_stream0 > last_stream1,
        "stream 0 was not held back: {arrivals:?}"
    );
}

/// Goodput over the simulated network in MB/s of simulated time, with
/// `detection` finding the losses and `congestion` answering them; path
/// MTU discovery on, or `fixed` 1200-byte packets.
fn goodput(
    loss: f64,
    rtt: Duration,
    bytes: usize,
    (detection, congestion): (LossDetection, CongestionControl),
    fixed: bool,
) -> f64 {
    let config = Config::default()
        .with_loss_detection(detection)
        .with_congestion_control(congestion)
        .with_path_mtu_limit(if fixed {
            None
        } else {
            Config::default().path_mtu_limit
        });
    let mut sim = Sim::pair(42, config);
    sim.tracing = false;
    sim.link = Impairment {
        delay: rtt / 2,
        loss,
        ..Impairment::default()
    };
    let (a, b) = establish(&mut sim);
    let count = bytes / 1200;
    let plan = Plan {
        messages: (0..count)
            .map(|i| {
                let mut body = format!("{i}:").into_bytes();
                body.resize(1200, 0);
                (0, false, Bytes::from(body))
            })
            .collect(),
    };
    let start = sim.now;
    let got = transfer(&mut sim, a, b, &plan, Duration::from_secs(36_000));
    check_delivery(&plan, &got, 42);
    bytes as f64 / (sim.now - start).as_secs_f64() / 1e6
}

#[test]
#[ignore = "prints docs/throughput-vs-loss.md; run with --ignored --release --nocapture"]
fn throughput_versus_loss_table() {
    let rtts = [1, 20, 100].map(Duration::from_millis);
    println!("| loss | RTT 1 ms | RTT 20 ms | RTT 100 ms |");
    println!("| --- | --- | --- | --- |");
    for loss in [0.0, 0.001, 0.01, 0.03, 0.10] {
        let row: Vec<String> = rtts
            .iter()
            .map(|&rtt| {
                let run = |d, c, fixed| goodput(loss, rtt, 2_400_000, (d, c), fixed);
                let rack = run(LossDetection::Rack, CongestionControl::Rfc9260, false);
                let cubic = run(LossDetection::Rack, CongestionControl::Cubic, false);
                let rfc = run(LossDetection::Rfc9260, CongestionControl::Rfc9260, true);
                let small = run(LossDetection::Rack, CongestionControl::Rfc9260, true);
                format!("{rack:.3} / {cubic:.3} / {rfc:.3} / {small:.3}")
            })
            .collect();
        println!("| {:.1}% | {} |", loss * 100.0, row.join(" | "));
    }
    // Loss costs throughput; a longer RTT costs throughput; RACK-TLP
    // recovers faster than RFC 9260's detection alone.
    let rack = LossDetection::Rack;
    let reno = CongestionControl::Rfc9260;
    let at = |loss, rtt, detection| goodput(loss, rtt, 1_200_000, (detection, reno), false);
    assert!(at(0.0, rtts[0], rack) > at(0.03, rtts[0], rack));
    assert!(at(0.0, rtts[0], rack) > at(0.0, rtts[2], rack));
    assert!(at(0.03, rtts[1], rack) > at(0.03, rtts[1], LossDetection::Rfc9260));
}

/// A bottleneck with a short tail-drop queue (a 10 Mbit/s link that holds
/// at most 5 ms of packets): slow start overruns it and loses bursts, and
/// every message still arrives once, in order. A path MTU smaller than the
/// packets would lose everything; one just above the configured packet
/// size loses nothing.
#[test]
fn tail_drop_queue_and_path_mtu() {
    for seed in seeds(20) {
        let link = Impairment {
            rate_bps: 10_000_000,
            queue: Some(Duration::from_millis(5)),
            mtu: 1200 + 28,
            ..Impairment::default()
        };
        let mut sim = Sim::pair(seed, Config::default());
        sim.tracing = false;
        sim.link = link;
        let (a, b) = establish(&mut sim);
        let plan = plan(seed, 400, 6000);
        let got = transfer(&mut sim, a, b, &plan, Duration::from_secs(3600));
        check_delivery(&plan, &got, seed);
        assert!(
            sim.tail_drops > 0,
            "seed {seed}: the queue never overflowed"
        );
        shut_down(&mut sim, a, seed);
    }
}

#[test]
#[ignore = "writes fuzz/seeds/packet/sim-*.bin; run with --ignored"]
fn simulator_packets_seed_the_fuzz_corpus() {
    // The fuzz corpus starts from what the simulator puts on the wire: a
    // lossy, duplicating transfer with fragments, gaps, retransmissions and
    // a shutdown. Up to three packets per sequence of chunk kinds are kept.
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;
    let kept: Rc<RefCell<HashMap<String, Vec<Vec<u8>>>>> = Rc::default();
    let mut sim = Sim::pair(7, Config::default());
    sim.tracing = false;
    sim.link = Impairment {
        loss: 0.1,
        duplicate: 0.05,
        ..Impairment::default()
    };
    let seen = kept.clone();
    sim.drop_if = Some(Box::new(move |packet| {
        let kinds: Vec<String> = packet
            .chunks
            .iter()
            .map(|c| match c {
                // SACKs with gap blocks or duplicates are kinds of their own.
                Chunk::Sack(s) => format!(
                    "Sack{}{}",
                    if s.gap_blocks.is_empty() { "" } else { "Gaps" },
                    if s.duplicate_tsns.is_empty() {
                        ""
                    } else {
                        "Dups"
                    }
                ),
                c => {
                    let name = format!("{c:?}");
                    name.split(['(', ' ', '{']).next().unwrap_or("").to_string()
                }
            })
            .collect();
        let mut seen = seen.borrow_mut();
        let slot = seen.entry(kinds.join("-")).or_default();
        if slot.len() < 3 {
            let mut bytes = Vec::new();
            packet.emit(&mut bytes).expect("a parsed packet emits");
            slot.push(bytes);
        }
        false
    }));
    let (a, b) = establish(&mut sim);
    let plan = plan(7, 300, 3000);
    let got = transfer(&mut sim, a, b, &plan, Duration::from_secs(3600));
    check_delivery(&plan, &got, 7);
    sim.link.loss = 0.0;
    shut_down(&mut sim, a, 7);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/packet");
    std::fs::create_dir_all(&dir).unwrap();
    let mut written = 0;
    for (kinds, packets) in kept.borrow().iter() {
        for (i, bytes) in packets.iter().enumerate() {
            std::fs::write(dir.join(format!("sim-{kinds}-{i}.bin")), bytes).unwrap();
            written += 1;
        }
    }
    assert!(written >= 10, "only {written} packets");
    println!("{written} seeds in {}", dir.display());
}

/// The situation the `pair` fuzz target found (fuzz/regressions/pair):
/// DATA arrives but every SACK for it is lost for seconds, T3-rtx
/// retransmits only the first chunk, and the SACK that finally comes back
/// acknowledges chunks that were first sent seconds before. RFC 9260
/// §6.3.1 C5: a chunk acknowledged after a chunk at or below it was
/// retransmitted must not time the round trip. Taking that sample put
/// SRTT at the length of the outage, RTO at RTO.Max, and the next
/// T3-rtx a minute away.
#[test]
fn a_gap_filled_by_a_retransmission_does_not_time_the_round_trip() {
    // One exchange measures the path: SRTT about 20 ms.
    let (mut sim, a, b) = measured_pair(1);
    let srtt = sim.nodes[0]
        .ep
        .association(a)
        .unwrap()
        .srtt()
        .expect("measured");
    assert!(srtt < Duration::from_millis(100), "{srtt:?}");
    // The first of three one-packet messages is lost; every packet from
    // the receiver is lost for the next 6 s.
    let first_data = std::cell::Cell::new(true);
    sim.drop_if = Some(Box::new(move |p| {
        let data = p.chunks.iter().any(|c| matches!(c, Chunk::Data(_)));
        data && first_data.replace(false)
    }));
    let from = sim.now - sim.start;
    let receiver = sim.nodes[1].addr;
    sim.routes = Some(Box::new(move |at, src, _| {
        if src == receiver && at >= from && at < from + Duration::from_secs(6) {
            Fate::BlackHole
        } else {
            Fate::Pass
        }
    }));
    send_messages(&mut sim, a, 3, 1000);
    let got = read_all(&mut sim, b, 3);
    assert_eq!(got.len(), 3);
    // Everything acknowledged: T3-rtx fired at 1 s and 3 s (lost SACKs),
    // then 7 s, and that SACK acknowledged all three.
    until_acked(&mut sim, a);
    let srtt = sim.nodes[0].ep.association(a).unwrap().srtt().unwrap();
    assert!(
        srtt < Duration::from_millis(100),
        "SRTT {srtt:?} after the outage"
    );
}

/// The other half of that failure: with DATA lost and the path otherwise
/// working, the stall probe (a HEARTBEAT after two SRTTs without a SACK)
/// is answered, and that answer must not count as the DATA's progress, or
/// a probe follows every two SRTTs until T3-rtx fires: 1,639 HEARTBEATs
/// in 16 s in the fuzz input. With RACK-TLP the loss probe (DATA) is due
/// at the same time and the HEARTBEAT rides in its packet, lost with it
/// here (the simulator drops whole packets); still only one goes.
#[test]
fn an_answered_stall_probe_is_not_repeated_while_data_is_stuck() {
    for (detection, answers) in [(LossDetection::Rfc9260, 1), (LossDetection::Rack, 0)] {
        let config = Config::default().with_loss_detection(detection);
        let (mut sim, a, _) = measured_pair_with(1, config);
        // Every DATA packet is lost from now on; HEARTBEATs pass.
        sim.drop_if = Some(Box::new(|p| {
            p.chunks.iter().any(|c| matches!(c, Chunk::Data(_)))
        }));
        let from = sim.now;
        sim.trace.clear();
        send_messages(&mut sim, a, 4, 1000);
        // Up to just before T3-rtx (RTO.Min = 1 s).
        sim.run_until(Duration::from_secs(600), |s| {
            s.now - from >= Duration::from_millis(950)
        });
        let sender = sim.nodes[0].addr.to_string();
        let probes = sim
            .trace
            .iter()
            .filter(|l| {
                l.contains(&format!("{sender}->"))
                    && l.contains("HEARTBEAT")
                    && !l.contains("HEARTBEAT_ACK")
            })
            .count();
        let answered = sim
            .trace
            .iter()
            .filter(|l| l.contains("HEARTBEAT_ACK"))
            .count();
        assert_eq!(
            (probes, answered),
            (1, answers),
            "{detection:?}: {:#?}",
            sim.trace
        );
    }
}

/// A link that reorders heavily but loses nothing (10 ms ± up to 6 ms, so
/// a packet is often overtaken by several sent after it): every
/// retransmission is spurious. RACK-TLP's time-based window, widened when
/// the peer reports duplicates (RFC 8985 §6.2), retransmits less than RFC
/// 9260's three-miss rule does, and a small share of what it sends.
#[test]
fn a_reordering_link_is_not_mistaken_for_loss() {
    let mut spurious = Vec::new();
    for detection in [LossDetection::Rack, LossDetection::Rfc9260] {
        let mut total = (0, 0);
        for seed in seeds(5) {
            let config = Config::default().with_loss_detection(detection);
            let mut sim = Sim::pair(seed, config);
            sim.tracing = false;
            sim.link = Impairment {
                delay: Duration::from_millis(10),
                jitter: Duration::from_millis(6),
                ..Impairment::default()
            };
            let (a, b) = establish(&mut sim);
            let plan = plan(seed, 1000, 1200);
            let got = transfer(&mut sim, a, b, &plan, Duration::from_secs(3600));
            check_delivery(&plan, &got, seed);
            let c = sim.nodes[0].ep.association(a).unwrap().counters();
            total.0 += c.retransmitted_chunks;
            total.1 += c.data_chunks_sent.0 + c.data_chunks_sent.1;
            shut_down(&mut sim, a, seed);
        }
        eprintln!(
            "{detection:?}: {} of {} chunks retransmitted",
            total.0, total.1
        );
        spurious.push(total);
    }
    let (rack, rfc) = (spurious[0], spurious[1]);
    assert!(rack.0 < rfc.0, "RACK {rack:?}, RFC 9260 {rfc:?}");
    assert!(rack.0 * 20 < rack.1, "RACK retransmitted {rack:?}");
}
