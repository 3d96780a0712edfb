//! Path MTU discovery (RFC 8899 for SCTP, RFC 9260 §7.3): probes on the
//! wire, what their answers and their losses do, and searches over
//! simulated links of several MTUs, including one that shrinks in the
//! middle of a transfer (a black hole).

mod support;

use std::time::Duration;

use support::sim::workload::{check_delivery, establish, plan, shut_down, transfer};
use support::sim::{Impairment, Sim, seeds};
use support::*;
use usctp_proto::association::{AssocId, PathChange};
use usctp_proto::chunk::{Chunk, Heartbeat};
use usctp_proto::config::Config;

/// The probe timeout the simulated searches use: the least RFC 8899
/// allows, so a failing size costs 3 s of simulated time.
fn quick_probes() -> Config {
    Config::default().with_pmtu_probe_timeout(Duration::from_secs(1))
}

/// Two nodes joined by a link that passes datagrams of at most `mtu`
/// bytes, with an association between them.
fn linked(seed: u64, config: Config, mtu: usize) -> (Sim, AssocId, AssocId) {
    let mut sim = Sim::pair(seed, config);
    sim.tracing = false;
    sim.link = Impairment {
        mtu,
        ..Impairment::default()
    };
    let (a, b) = establish(&mut sim);
    (sim, a, b)
}

/// Sends `count` messages of up to 5000 bytes from node 0 and checks that
/// they all arrive.
fn transfer_checked(sim: &mut Sim, (a, b): (AssocId, AssocId), seed: u64, count: usize) {
    let plan = plan(seed, count, 5000);
    let got = transfer(sim, a, b, &plan, Duration::from_secs(600));
    check_delivery(&plan, &got, seed);
}

/// The path MTU association `id` of node `node` uses to its primary.
fn mtu(sim: &Sim, node: usize, id: AssocId) -> usize {
    sim.nodes[node].ep.association(id).unwrap().paths()[0].mtu
}

#[test]
fn the_first_probe_is_a_heartbeat_padded_to_the_limit_and_its_answer_raises_the_packet_size() {
    let mut t = Tester::with_probes(Config::default(), true);
    let (iut_tag, id) = t.establish(0x4d54_0001);
    // The probe goes when the timers next run.
    t.advance(Duration::ZERO);
    // IUT -> HEARTBEAT + PAD (1500 less IPv4 and UDP headers) -> T
    let sent = t.sent_one();
    assert_eq!(sent.size, 1472);
    let [Chunk::Heartbeat(hb), Chunk::Pad(_)] = &sent.packet.chunks[..] else {
        panic!("not a probe: {:?}", sent.packet.chunks);
    };
    assert_eq!(t.iut.association(id).unwrap().paths()[0].mtu, 1200);
    // T -> HEARTBEAT ACK -> IUT: the size is confirmed.
    t.send(
        iut_tag,
        &[Chunk::HeartbeatAck(Heartbeat {
            info: hb.info.clone(),
        })],
    );
    assert_eq!(t.iut.association(id).unwrap().paths()[0].mtu, 1472);
    // Data now goes in packets of that size.
    let message = bytes::Bytes::from(vec![7u8; 4000]);
    t.iut
        .association_mut(id)
        .unwrap()
        .send(0, 0, message, false)
        .unwrap();
    let sizes: Vec<usize> = t.sent().iter().map(|s| s.size).collect();
    assert!(sizes.iter().all(|&s| s <= 1472), "{sizes:?}");
    assert!(sizes.iter().any(|&s| s > 1200), "{sizes:?}");
}

#[test]
fn unanswered_probes_are_not_path_errors_and_end_the_search_at_the_base() {
    let config = Config::default()
        .with_pmtu_probe_timeout(Duration::from_secs(1))
        .with_path_mtu_limit(Some(1236));
    let mut t = Tester::with_probes(config, true);
    let (_, id) = t.establish(0x4d54_0002);
    // Answer nothing for a minute: heartbeats are not due (30 s and
    // more), so everything sent is a probe.
    let sent = sent_within(&mut t, Duration::from_secs(20));
    let probes: Vec<usize> = sent.iter().map(|s| s.size).collect();
    // Three at the limit; then, the base and the limit 8 bytes apart, the
    // sizes between are tried three times each, and the search ends.
    assert_eq!(&probes[..3], &[1208, 1208, 1208], "{probes:?}");
    assert!(probes.iter().all(|&s| s > 1200 && s <= 1208), "{probes:?}");
    assert!(probes.len() <= 6, "{probes:?}");
    let path = &t.iut.association(id).unwrap().paths()[0];
    assert_eq!((path.mtu, path.error_count), (1200, 0));
    let events = t.events();
    assert!(
        !events
            .iter()
            .any(|(_, e)| matches!(e, usctp_proto::association::Event::PathChange { .. })),
        "{events:?}"
    );
    // Nothing more (heartbeats begin 30 s after the handshake; the search
    // starts again after 600 s).
    assert!(run_for(&mut t, Duration::from_secs(8)).is_empty());
}

#[test]
fn a_path_as_wide_as_the_limit_is_found_with_one_probe() {
    for seed in seeds(5) {
        let (mut sim, a, b) = linked(seed, Config::default(), 1472);
        sim.run_until(Duration::from_millis(100), |_| false);
        assert_eq!(
            (mtu(&sim, 0, a), mtu(&sim, 1, b)),
            (1472, 1472),
            "seed {seed}"
        );
        transfer_checked(&mut sim, (a, b), seed, 200);
        shut_down(&mut sim, a, seed);
    }
}

#[test]
fn a_narrower_path_is_found_by_searching_and_costs_no_path_error() {
    for seed in seeds(5) {
        // A tunnel on the way: 1400-byte IP packets.
        let (mut sim, a, b) = linked(seed, quick_probes(), 1400 - 28);
        transfer_checked(&mut sim, (a, b), seed, 300);
        sim.run_until(Duration::from_secs(60), |_| false);
        assert_eq!(mtu(&sim, 0, a), 1372, "seed {seed}");
        assert!(sim.path_events(0).is_empty(), "{:?}", sim.path_events(0));
        shut_down(&mut sim, a, seed);
    }
}

#[test]
fn a_path_that_narrows_mid_transfer_falls_back_and_delivers_everything() {
    for seed in seeds(5) {
        let (mut sim, a, b) = linked(seed, quick_probes(), 1472);
        sim.run_until(Duration::from_millis(100), |_| false);
        assert_eq!(mtu(&sim, 0, a), 1472, "seed {seed}");
        // A route change: from now on only 1228-byte IP packets pass, and
        // nothing says so (no ICMP over UDP encapsulation here).
        sim.link.mtu = 1200;
        transfer_checked(&mut sim, (a, b), seed, 300);
        assert_eq!(mtu(&sim, 0, a), 1200, "seed {seed}");
        let unreachable = sim
            .path_events(0)
            .iter()
            .filter(|(_, c)| *c == PathChange::Unreachable)
            .count();
        assert_eq!(unreachable, 0, "seed {seed}: {:?}", sim.path_events(0));
        shut_down(&mut sim, a, seed);
    }
}
