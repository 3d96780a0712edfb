//! Workloads for the simulator: a seeded plan of messages, a transfer
//! that sends and reads them, and the checks that every message arrived
//! once, intact, in order on ordered streams; smaller steps (send, read,
//! wait for the acknowledgements) for tests that set a scene; and a bulk
//! transfer that keeps nothing.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use usctp_proto::association::{AssocId, Event, Message, SendError};
use usctp_proto::config::Config;

use super::Sim;

pub struct Plan {
    pub messages: Vec<(u16, bool, Bytes)>,
}

pub fn plan(seed: u64, count: usize, max_size: usize) -> Plan {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let messages = (0..count)
        .map(|i| {
            let size = rng.random_range(1..=max_size);
            let stream = rng.random_range(0..4u16);
            let unordered = rng.random_bool(0.2);
            // The message names itself, so corruption or mixing shows.
            let mut body = format!("{i}:").into_bytes();
            body.resize(size.max(body.len()), (i % 251) as u8);
            (stream, unordered, Bytes::from(body))
        })
        .collect();
    Plan { messages }
}

/// Connects node 0 to node 1 and returns both association ids.
pub fn establish(sim: &mut Sim) -> (AssocId, AssocId) {
    let a = sim.connect();
    let up = sim.run_until(Duration::from_secs(3600), |s| {
        s.up_count(0) == 1 && s.up_count(1) == 1
    });
    assert!(
        up,
        "no association: {:?} / {:?}",
        sim.nodes[0].events, sim.nodes[1].events
    );
    let b = sim.nodes[1]
        .events
        .iter()
        .find_map(|(id, e)| matches!(e, Event::Up(_)).then_some(*id))
        .unwrap();
    (a, b)
}

/// Sends the plan from node 0 and reads on node 1 until everything
/// arrived; returns what arrived in order.
pub fn transfer(
    sim: &mut Sim,
    a: AssocId,
    b: AssocId,
    plan: &Plan,
    limit: Duration,
) -> Vec<Message> {
    transfer_timed(sim, a, b, plan, limit, |_| {})
        .into_iter()
        .map(|(_, m)| m)
        .collect()
}

/// Like `transfer`, with the simulated time (since the start of the
/// simulation) at which each message was read, and `each_step` called
/// before every step so a test can change the network as time passes.
pub fn transfer_timed(
    sim: &mut Sim,
    a: AssocId,
    b: AssocId,
    plan: &Plan,
    limit: Duration,
    mut each_step: impl FnMut(&mut Sim),
) -> Vec<(Duration, Message)> {
    let mut next = 0;
    let mut got = Vec::new();
    let start = sim.now;
    while got.len() < plan.messages.len() {
        each_step(sim);
        while next < plan.messages.len() {
            let (stream, unordered, data) = plan.messages[next].clone();
            let mut assoc = sim.nodes[0]
                .ep
                .association_mut(a)
                .expect("sender association");
            match assoc.send(stream, 51, data, unordered) {
                Ok(()) => next += 1,
                Err(SendError::WouldBlock) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        let at = sim.now - sim.start;
        if let Some(mut assoc) = sim.nodes[1].ep.association_mut(b) {
            while let Some(m) = assoc.recv() {
                got.push((at, m));
            }
        }
        assert!(
            sim.now - start < limit,
            "no progress: {} of {} after {:?}",
            got.len(),
            plan.messages.len(),
            limit
        );
        if !sim.step() {
            panic!(
                "nothing left to happen with {} of {} delivered; events: {:?} / {:?}",
                got.len(),
                plan.messages.len(),
                sim.nodes[0].events,
                sim.nodes[1].events,
            );
        }
    }
    got
}

#[track_caller]
pub fn check_delivery(plan: &Plan, got: &[Message], seed: u64) {
    assert_eq!(got.len(), plan.messages.len(), "seed {seed}: count");
    let index = |m: &Message| -> usize {
        let text = std::str::from_utf8(&m.data[..m.data.iter().position(|&b| b == b':').unwrap()])
            .unwrap();
        text.parse().unwrap()
    };
    let mut seen = vec![false; plan.messages.len()];
    let mut last_on_stream: HashMap<u16, usize> = HashMap::new();
    for m in got {
        let i = index(m);
        let (stream, unordered, data) = &plan.messages[i];
        assert!(!seen[i], "seed {seed}: message {i} delivered twice");
        seen[i] = true;
        assert_eq!(&m.data, data, "seed {seed}: message {i} altered");
        assert_eq!(
            (m.stream, m.unordered, m.ppid),
            (*stream, *unordered, 51),
            "seed {seed}: message {i}"
        );
        if !unordered {
            if let Some(&prev) = last_on_stream.get(stream) {
                assert!(
                    prev < i,
                    "seed {seed}: message {i} before {prev} on stream {stream}"
                );
            }
            last_on_stream.insert(*stream, i);
        }
    }
}

pub fn shut_down(sim: &mut Sim, a: AssocId, seed: u64) {
    let now = sim.now;
    sim.nodes[0].ep.association_mut(a).unwrap().shutdown(now);
    let done = sim.run_until(Duration::from_secs(3000), |s| {
        s.nodes.iter().all(|n| {
            n.events
                .iter()
                .any(|(_, e)| matches!(e, Event::ShutdownComplete))
        })
    });
    assert!(
        done,
        "seed {seed}: shutdown did not complete: {:?} / {:?}",
        sim.nodes[0].events, sim.nodes[1].events
    );
    sim.run_until(Duration::from_secs(4000), |_| false);
    for (i, n) in sim.nodes.iter().enumerate() {
        assert_eq!(
            n.ep.association_count(),
            0,
            "seed {seed}: node {i} still holds its association"
        );
        let bad: Vec<_> = n
            .events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Lost(_) | Event::SendFailed { .. }))
            .collect();
        assert!(bad.is_empty(), "seed {seed}: {bad:?}");
    }
}

/// A pair (seed `seed`, default configuration) whose association has
/// measured its path: one message sent, read and acknowledged.
#[track_caller]
pub fn measured_pair(seed: u64) -> (Sim, AssocId, AssocId) {
    measured_pair_with(seed, Config::default())
}

/// `measured_pair` with `config` at both ends.
pub fn measured_pair_with(seed: u64, config: Config) -> (Sim, AssocId, AssocId) {
    let mut sim = Sim::pair(seed, config);
    let (a, b) = establish(&mut sim);
    send_messages(&mut sim, a, 1, 100);
    read_all(&mut sim, b, 1);
    until_acked(&mut sim, a);
    (sim, a, b)
}

/// Sends `count` messages of `size` bytes from node 0 on stream 0, in
/// separate packets when `size` is near a packet.
pub fn send_messages(sim: &mut Sim, a: AssocId, count: usize, size: usize) {
    let mut assoc = sim.nodes[0].ep.association_mut(a).expect("sender");
    for i in 0..count {
        let body = Bytes::from(vec![i as u8; size]);
        assoc.send(0, 0, body, false).expect("send");
    }
}

/// Steps until node 1 has read `count` messages; returns them.
#[track_caller]
pub fn read_all(sim: &mut Sim, b: AssocId, count: usize) -> Vec<Bytes> {
    let mut got = Vec::new();
    let delivered = sim.run_until(Duration::from_secs(600), |s| {
        s.nodes[1]
            .ep
            .association(b)
            .is_some_and(|x| x.readable() + got.len() >= count)
    });
    assert!(delivered, "only {} of {count} messages arrived", got.len());
    let mut assoc = sim.nodes[1].ep.association_mut(b).expect("receiver");
    while let Some(m) = assoc.recv() {
        got.push(m.data);
    }
    got
}

/// Steps until node 0 has every message acknowledged.
#[track_caller]
pub fn until_acked(sim: &mut Sim, a: AssocId) {
    let done = sim.run_until(Duration::from_secs(600), |s| {
        s.nodes[0]
            .ep
            .association(a)
            .is_some_and(|x| x.unacked() == 0)
    });
    assert!(done, "not all acknowledged");
}

/// Sends `total` bytes from node 0 in messages of `size` on stream 0 while
/// node 1 reads and drops them: node 0 fills its send buffer, the network
/// drains it (every message read and acknowledged), and again, until all
/// of it was read.
#[track_caller]
pub fn bulk(sim: &mut Sim, a: AssocId, b: AssocId, total: usize, size: usize) {
    let payload = Bytes::from(vec![0x5a; size]);
    let (mut sent, mut read) = (0, 0);
    while read < total {
        while sent < total {
            let mut assoc = sim.nodes[0].ep.association_mut(a).expect("sender");
            match assoc.send(0, 0, payload.clone(), false) {
                Ok(()) => sent += size,
                Err(SendError::WouldBlock) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        loop {
            let stepped = sim.step();
            let mut assoc = sim.nodes[1].ep.association_mut(b).expect("receiver");
            while let Some(m) = assoc.recv() {
                read += m.data.len();
            }
            let acked = sim.nodes[0]
                .ep
                .association(a)
                .is_some_and(|x| x.unacked() == 0);
            if read == sent && acked {
                break;
            }
            assert!(stepped, "stalled with {read} of {sent} bytes read");
        }
    }
}
