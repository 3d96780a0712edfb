//! The handshake over a simulated network: loss of each packet, duplication
//! and reordering over many seeds, and both ends connecting at once.

mod sim;

use std::time::Duration;

use sim::{Impairment, Sim, seeds};
use usctp_proto::association::{AssociationState, Event};
use usctp_proto::config::Config;

fn connect(sim: &mut Sim) {
    let (now, to) = (sim.now, sim.nodes[1].addr);
    sim.nodes[0].ep.connect(now, to, 13).unwrap();
}

#[track_caller]
fn assert_both_up_once(sim: &Sim, seed: u64) {
    let context = || format!("seed {seed}:\n{}", sim.trace.join("\n"));
    for node in 0..2 {
        assert_eq!(sim.up_count(node), 1, "node {node} {}", context());
        assert_eq!(sim.nodes[node].ep.association_count(), 1, "{}", context());
        let unexpected: Vec<_> = sim.nodes[node]
            .events
            .iter()
            .filter(|(_, e)| !matches!(e, Event::Up(_)))
            .collect();
        assert!(unexpected.is_empty(), "{unexpected:?} {}", context());
    }
}

#[test]
fn handshake_completes_when_any_one_packet_is_lost() {
    // INIT, INIT ACK, COOKIE ECHO, COOKIE ACK: each lost once in turn.
    // T1-init / T1-cookie bring it back after RTO.Initial (1 s).
    for lost in 0..4 {
        let mut sim = Sim::pair(lost as u64, Config::default());
        sim.drop_indices = vec![lost];
        connect(&mut sim);
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
        assert_both_up_once(&sim, lost as u64);
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
        connect(&mut sim);
        let up = sim.run_until(Duration::from_secs(600), |s| {
            s.up_count(0) == 1 && s.up_count(1) == 1
        });
        assert!(up, "seed {seed}:\n{}", sim.trace.join("\n"));
        sim.link.loss = 0.0;
        sim.run_until(Duration::from_secs(700), |_| false);
        assert_both_up_once(&sim, seed);
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
        assert_both_up_once(&sim, seed);
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
