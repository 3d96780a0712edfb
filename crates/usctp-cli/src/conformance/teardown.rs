//! Association termination (AT), duplicate messages (DM), fault handling
//! (FH) and the retransmission timer (RT).

use std::time::Duration;

use usctp::proto::chunk::{Abort, Chunk, ChunkType, ShutdownComplete};
use usctp::proto::serial::Tsn;

use super::client;
use super::wire::{Wire, lone_data, now, shutdown};
use super::{Kind, Outcome, Purpose, purpose, setup};

const API: &str = "judged at the IUT's API (its user's send must fail), not on the wire";

/// The AT group.
pub const AT: &[Purpose] = &[
    purpose(
        "sctp-at-v-2-2",
        "after an ABORT the association is gone",
        "§9.1",
        Kind::Server(at_v_2_2),
    ),
    purpose(
        "sctp-at-i-2-3",
        "SHUTDOWN held until outstanding DATA is acknowledged",
        "§9.2",
        Kind::Client(client::at_i_2_3),
    ),
    purpose(
        "sctp-at-i-2-4",
        "SHUTDOWN retransmitted on T2-shutdown expiry",
        "§9.2",
        Kind::Client(client::at_i_2_4),
    ),
    purpose(
        "sctp-at-i-2-5",
        "SHUTDOWN given up after Association.Max.Retrans",
        "§9.2",
        Kind::ClientLong(client::at_i_2_5),
    ),
    purpose(
        "sctp-at-v-2-6",
        "SHUTDOWN ACK answered with SHUTDOWN COMPLETE",
        "§9.2",
        Kind::Client(client::at_v_2_6),
    ),
    purpose(
        "sctp-at-i-2-7-1",
        "no sending in SHUTDOWN-SENT",
        "§9.2",
        Kind::Off(API),
    ),
    purpose(
        "sctp-at-i-2-7-2",
        "no sending in SHUTDOWN-RECEIVED",
        "§9.2",
        Kind::Off(API),
    ),
    purpose(
        "sctp-at-i-2-7-3",
        "no sending in SHUTDOWN-PENDING",
        "§9.2",
        Kind::Off(API),
    ),
    purpose(
        "sctp-at-i-2-7-4",
        "no sending in SHUTDOWN-ACK-SENT",
        "§9.2",
        Kind::Off(API),
    ),
    purpose(
        "sctp-at-i-2-8",
        "DATA in SHUTDOWN-SENT acknowledged at once",
        "§9.2",
        Kind::Client(client::at_i_2_8),
    ),
    purpose(
        "sctp-at-i-2-9",
        "no new DATA after a SHUTDOWN; SHUTDOWN ACK once acknowledged",
        "§9.2",
        Kind::Server(at_i_2_9),
    ),
    purpose(
        "sctp-at-i-2-10",
        "outstanding DATA retransmitted before the SHUTDOWN ACK",
        "§9.2",
        Kind::Server(at_i_2_10),
    ),
    purpose(
        "sctp-at-i-2-11",
        "SHUTDOWN ACK retransmitted on T2-shutdown expiry",
        "§9.2",
        Kind::Server(at_i_2_11),
    ),
    purpose(
        "sctp-at-i-2-12",
        "SHUTDOWN ACK given up after Association.Max.Retrans",
        "§9.2",
        Kind::Long(at_i_2_12),
    ),
    purpose(
        "sctp-at-i-2-13",
        "SHUTDOWN COMPLETE ends the association",
        "§9.2",
        Kind::Server(at_i_2_13),
    ),
    purpose(
        "sctp-at-v-2-14",
        "a SHUTDOWN acknowledging everything: SHUTDOWN ACK at once",
        "§9.2",
        Kind::Server(at_v_2_14),
    ),
];

/// The DM group.
pub const DM: &[Purpose] = &[
    purpose(
        "sctp-dm-o-4-1",
        "INIT in COOKIE-WAIT: INIT ACK with the original tag",
        "§5.2.1",
        Kind::Client(client::dm_o_4_1),
    ),
    purpose(
        "sctp-dm-o-4-2-1",
        "INIT in ESTABLISHED: INIT ACK, association kept",
        "§5.2.2",
        Kind::Server(setup::init_in_established),
    ),
    purpose(
        "sctp-dm-o-4-2-2",
        "INIT in SHUTDOWN-ACK-SENT: SHUTDOWN ACK again",
        "§9.2",
        Kind::Server(dm_o_4_2_2),
    ),
    purpose(
        "sctp-dm-o-4-3",
        "INIT ACK in COOKIE-ECHOED discarded",
        "§5.2.3",
        Kind::Client(client::dm_o_4_3),
    ),
    purpose(
        "sctp-dm-o-4-4",
        "COOKIE ACK in ESTABLISHED discarded",
        "§5.2.5",
        Kind::Client(client::dm_o_4_4),
    ),
    purpose(
        "sctp-dm-o-4-5",
        "SHUTDOWN in SHUTDOWN-SENT: SHUTDOWN ACK",
        "§9.2",
        Kind::Client(client::dm_o_4_5),
    ),
    purpose(
        "sctp-dm-o-4-6-1",
        "SHUTDOWN in COOKIE-WAIT ignored",
        "§8.5.1",
        Kind::Client(client::dm_o_4_6_1),
    ),
    purpose(
        "sctp-dm-o-4-6-2",
        "SHUTDOWN out of the blue: ABORT with the T bit",
        "§8.4",
        Kind::Server(dm_o_4_6_2),
    ),
    purpose(
        "sctp-dm-o-4-6-3",
        "duplicate SHUTDOWN in SHUTDOWN-SENT: SHUTDOWN ACK",
        "§9.2",
        Kind::Client(client::dm_o_4_6_3),
    ),
    purpose(
        "sctp-dm-o-4-7-1",
        "SHUTDOWN ACK in COOKIE-WAIT: SHUTDOWN COMPLETE (T)",
        "§8.4, §8.5.1",
        Kind::Client(client::dm_o_4_7_1),
    ),
    purpose(
        "sctp-dm-o-4-7-2",
        "SHUTDOWN ACK in ESTABLISHED: association kept",
        "§8.5.1",
        Kind::Server(dm_o_4_7_2),
    ),
    purpose(
        "sctp-dm-o-4-7-3",
        "SHUTDOWN ACK in SHUTDOWN-ACK-SENT: SHUTDOWN COMPLETE",
        "§9.2",
        Kind::Server(dm_o_4_7_3),
    ),
    purpose(
        "sctp-dm-o-4-8",
        "COOKIE ECHO with a forged cookie in ESTABLISHED discarded",
        "§5.1.5, §5.2.4",
        Kind::Server(dm_o_4_8),
    ),
    purpose(
        "sctp-dm-o-4-9",
        "SHUTDOWN COMPLETE in COOKIE-WAIT discarded",
        "§8.5.1",
        Kind::Client(client::dm_o_4_9),
    ),
    purpose(
        "sctp-dm-o-4-10",
        "DATA in SHUTDOWN-ACK-SENT not acknowledged",
        "§9.2",
        Kind::Server(dm_o_4_10),
    ),
];

/// The FH group.
pub const FH: &[Purpose] = &[
    purpose(
        "sctp-fh-i-5-1-1",
        "association ended after Association.Max.Retrans",
        "§8.1, §8.2",
        Kind::Long(fh_i_5_1_1),
    ),
    purpose(
        "sctp-fh-i-5-1-2",
        "a SACK resets the error counter",
        "§8.1",
        Kind::Long(fh_i_5_1_2),
    ),
    purpose(
        "sctp-fh-v-5-2",
        "HEARTBEAT ACK returns the Heartbeat Info",
        "§8.3",
        Kind::Server(fh_v_5_2),
    ),
    purpose(
        "sctp-fh-o-5-3-1",
        "DATA out of the blue: ABORT with the T bit",
        "§8.4 (8)",
        Kind::Server(fh_o_5_3_1),
    ),
    purpose(
        "sctp-fh-o-5-3-2",
        "ABORT out of the blue: no answer",
        "§8.4 (2)",
        Kind::Server(fh_o_5_3_2),
    ),
    purpose(
        "sctp-fh-o-5-3-3",
        "SHUTDOWN ACK out of the blue: SHUTDOWN COMPLETE (T)",
        "§8.4 (5)",
        Kind::Server(fh_o_5_3_3),
    ),
    purpose(
        "sctp-fh-o-5-3-4",
        "SHUTDOWN COMPLETE out of the blue: no answer",
        "§8.4 (6)",
        Kind::Server(fh_o_5_3_4),
    ),
    purpose(
        "sctp-fh-o-5-3-5",
        "COOKIE ECHO from a non-unicast source discarded",
        "§8.4 (1)",
        Kind::Off(
            "needs a multicast or broadcast source address, which a UDP socket cannot send from",
        ),
    ),
];

/// The RT group.
pub const RT: &[Purpose] = &[
    purpose(
        "sctp-rt-i-11-1",
        "retransmission timer doubles up to RTO.Max",
        "§6.3.3 (E2)",
        Kind::Long(rt_backoff),
    ),
    purpose(
        "sctp-rt-i-11-2",
        "the same with heartbeats on",
        "§6.3.3, §6.3.1",
        Kind::Long(rt_backoff),
    ),
    purpose(
        "sctp-rt-i-11-3",
        "retransmissions move between a multi-homed peer's addresses",
        "§6.4, §8.2",
        Kind::Off("not yet played by this tester (needs --long with a second address)"),
    ),
];

/// The tester sends a message; the IUT acknowledges it and sends its echo,
/// which the tester leaves unacknowledged. Returns the echo's TSN.
pub fn echo_outstanding(w: &mut Wire) -> Result<Tsn, Outcome> {
    let chunk = w.data(0, b"outstanding");
    w.send_assoc(vec![chunk]);
    let within = w.timing.reply;
    let echo = w.expect_data(within)?;
    Ok(echo.tsn)
}

fn shutdown_complete(reflected_tag: bool) -> Chunk {
    Chunk::ShutdownComplete(ShutdownComplete { reflected_tag })
}

fn abort() -> Chunk {
    Chunk::Abort(Abort {
        reflected_tag: false,
        causes: Vec::new(),
    })
}

/// Waits for the SHUTDOWN ACK on the association.
fn expect_shutdown_ack(w: &mut Wire, within: Duration) -> Result<(), Outcome> {
    w.expect_chunk("SHUTDOWN ACK", ChunkType::SHUTDOWN_ACK, within)
}

// ---- AT ----

fn at_v_2_2(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.send_assoc(vec![abort()]);
    let how = w.gone()?;
    Ok(format!("gone after the ABORT: {how}"))
}

fn at_i_2_9(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let echo = echo_outstanding(w)?;
    // SHUTDOWN acknowledging nothing of the IUT's; then new DATA.
    w.send_assoc(vec![shutdown(echo.prev())]);
    let late = w.data(0, b"after the SHUTDOWN");
    w.send_assoc(vec![late]);
    let own = w.assoc().own_tag;
    let timer = w.timing.timer;
    // Until the tester acknowledges the echo: no DATA but the echo's
    // retransmission, and no SHUTDOWN ACK.
    let all = w.collect(timer.min(Duration::from_secs(3)));
    for r in all.iter().filter(|r| r.vtag() == Some(own)) {
        for c in r.chunks() {
            match c {
                Chunk::Data(d) if d.tsn != echo => {
                    return Err(Outcome::fail(format!(
                        "new DATA (TSN {}) after the peer's SHUTDOWN (§9.2)",
                        d.tsn.0
                    )));
                }
                Chunk::ShutdownAck => {
                    return Err(Outcome::fail(
                        "SHUTDOWN ACK while its own DATA was unacknowledged (§9.2)",
                    ));
                }
                _ => {}
            }
        }
    }
    let sack = w.sack_at(echo, 1 << 20);
    w.send_assoc(vec![sack, shutdown(echo)]);
    let reply = w.timing.reply;
    expect_shutdown_ack(w, reply)?;
    w.shutdown_complete();
    Ok("the DATA after the SHUTDOWN was not echoed; SHUTDOWN ACK after the SACK".into())
}

fn at_i_2_10(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let echo = echo_outstanding(w)?;
    w.send_assoc(vec![shutdown(echo.prev())]);
    let own = w.assoc().own_tag;
    let timer = w.timing.timer;
    let retransmitted = w.expect("the unacknowledged DATA retransmitted", timer, |r| {
        if r.vtag() == Some(own) && r.has(ChunkType::SHUTDOWN_ACK) {
            return Some(Err(()));
        }
        r.has_tsn(echo).then_some(Ok(()))
    })?;
    if retransmitted.is_err() {
        return Err(Outcome::fail(
            "SHUTDOWN ACK before its DATA was acknowledged (§9.2)",
        ));
    }
    w.send_assoc(vec![shutdown(echo)]);
    let reply = w.timing.reply;
    expect_shutdown_ack(w, reply)?;
    w.shutdown_complete();
    Ok("DATA retransmitted; SHUTDOWN ACK once the SHUTDOWN acknowledged it".into())
}

fn at_i_2_11(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.shutdown_ack_sent()?;
    let timer = w.timing.timer;
    let first = now();
    expect_shutdown_ack(w, timer)?;
    let waited = first.elapsed();
    w.shutdown_complete();
    Ok(format!(
        "SHUTDOWN ACK retransmitted after {}",
        humantime::format_duration(Duration::from_millis(waited.as_millis() as u64))
    ))
}

fn at_i_2_12(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.shutdown_ack_sent()?;
    let own = w.assoc().own_tag;
    let mut count = 0;
    let give_up = now() + w.timing.give_up;
    // The IUT gives up when its SHUTDOWN ACKs stop: silence for longer
    // than RTO.Max (60 s by default) after the last one.
    loop {
        let left = give_up.saturating_duration_since(now());
        let within = left.min(Duration::from_secs(75));
        match w.expect("", within, |r| {
            (r.vtag() == Some(own) && r.has(ChunkType::SHUTDOWN_ACK)).then_some(())
        }) {
            Ok(()) => count += 1,
            Err(_) => break,
        }
        if now() >= give_up {
            return Err(Outcome::fail(format!(
                "still retransmitting the SHUTDOWN ACK after {} ({count} times)",
                humantime::format_duration(w.timing.give_up)
            )));
        }
    }
    let how = w.gone()?;
    Ok(format!(
        "SHUTDOWN ACK retransmitted {count} times, then gone: {how}"
    ))
}

fn at_i_2_13(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.shutdown_ack_sent()?;
    let tag = w.assoc().peer_tag;
    w.send(tag, vec![shutdown_complete(false)]);
    let how = w.gone()?;
    Ok(format!("gone after the SHUTDOWN COMPLETE: {how}"))
}

fn at_v_2_14(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let echo = echo_outstanding(w)?;
    w.send_assoc(vec![shutdown(echo)]);
    let reply = w.timing.reply;
    expect_shutdown_ack(w, reply)?;
    w.shutdown_complete();
    Ok("the SHUTDOWN's Cumulative TSN Ack counted as the SACK: SHUTDOWN ACK".into())
}

// ---- DM ----

fn dm_o_4_2_2(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.shutdown_ack_sent()?;
    let init = w.init();
    w.send(0, vec![Chunk::Init(init)]);
    let own = w.assoc().own_tag;
    let timer = w.timing.timer;
    let got = w.expect("SHUTDOWN ACK again", timer, |r| {
        if r.has(ChunkType::INIT_ACK) {
            return Some(Err(()));
        }
        (r.vtag() == Some(own) && r.has(ChunkType::SHUTDOWN_ACK)).then_some(Ok(()))
    })?;
    if got.is_err() {
        return Err(Outcome::fail(
            "answered the INIT with an INIT ACK in SHUTDOWN-ACK-SENT",
        ));
    }
    w.shutdown_complete();
    Ok("the INIT was discarded and the SHUTDOWN ACK sent again".into())
}

fn dm_o_4_6_2(w: &mut Wire) -> Result<String, Outcome> {
    let tag = w.random.nonzero_u32();
    let cum = Tsn(w.random.u32());
    w.send(tag, vec![shutdown(cum)]);
    w.expect_reflected_abort(tag, "(the answer §8.4 (8) recommends)")?;
    Ok("ABORT with the T bit and the tag reflected".into())
}

fn dm_o_4_7_2(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.send_assoc(vec![Chunk::ShutdownAck]);
    w.alive()?;
    Ok("the SHUTDOWN ACK was discarded; the association lives".into())
}

fn dm_o_4_7_3(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.shutdown_ack_sent()?;
    w.send_assoc(vec![Chunk::ShutdownAck]);
    let reply = w.timing.reply;
    w.expect_chunk("SHUTDOWN COMPLETE", ChunkType::SHUTDOWN_COMPLETE, reply)?;
    let how = w.gone()?;
    Ok(format!("SHUTDOWN COMPLETE, then gone: {how}"))
}

fn dm_o_4_8(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let forged = setup::forged(&w.assoc().ack);
    w.send_assoc(vec![Wire::cookie_echo(&forged)]);
    let quiet = w.timing.quiet;
    w.expect_none("no COOKIE ACK", quiet, |r| r.has(ChunkType::COOKIE_ACK))?;
    w.alive()?;
    Ok("the forged cookie was discarded; the association lives".into())
}

fn dm_o_4_10(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.shutdown_ack_sent()?;
    let chunk = w.data(0, b"too late");
    let tsn = super::wire::data_tsn(&chunk);
    w.send_assoc(vec![chunk]);
    let quiet = w.timing.quiet;
    w.expect_none("the DATA not acknowledged", quiet, |r| {
        r.chunks()
            .iter()
            .any(|c| matches!(c, Chunk::Sack(s) if s.cumulative_tsn_ack.is_at_or_after(tsn)))
    })?;
    w.shutdown_complete();
    Ok("discarded, not acknowledged".into())
}

// ---- FH ----

/// Counts the IUT's retransmissions of `tsn` until they stop; fails if the
/// association is not then gone.
fn until_given_up(w: &mut Wire, tsn: Tsn) -> Result<usize, Outcome> {
    let own = w.assoc().own_tag;
    let give_up = now() + w.timing.give_up;
    let mut count = 0;
    let mut aborted = false;
    while now() < give_up && !aborted {
        let left = give_up.saturating_duration_since(now());
        let got = w.expect("", left.min(Duration::from_secs(75)), |r| {
            if r.vtag() != Some(own) {
                return None;
            }
            if r.has(ChunkType::ABORT) {
                return Some(true);
            }
            r.has_tsn(tsn).then_some(false)
        });
        match got {
            Ok(true) => aborted = true,
            Ok(false) => count += 1,
            Err(_) => break,
        }
    }
    if now() >= give_up {
        return Err(Outcome::fail(format!(
            "still retransmitting after {}",
            humantime::format_duration(w.timing.give_up)
        )));
    }
    w.gone()?;
    Ok(count)
}

fn fh_i_5_1_1(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let echo = echo_outstanding(w)?;
    let count = until_given_up(w, echo)?;
    Ok(format!(
        "{count} retransmissions, then the association ended"
    ))
}

fn fh_i_5_1_2(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let first = echo_outstanding(w)?;
    let own = w.assoc().own_tag;
    let timer = w.timing.timer * 4;
    // Two retransmissions, then the SACK that resets the error counter.
    for _ in 0..2 {
        w.expect("a retransmission", timer, |r| {
            (r.vtag() == Some(own) && r.has_tsn(first)).then_some(())
        })?;
    }
    let sack = w.sack_at(first, 1 << 20);
    w.send_assoc(vec![sack]);
    let second = echo_outstanding(w)?;
    let count = until_given_up(w, second)?;
    Ok(format!(
        "after the SACK, {count} more retransmissions before the end"
    ))
}

fn fh_v_5_2(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.alive()?;
    Ok("HEARTBEAT ACK with the Heartbeat Info unchanged".into())
}

fn fh_o_5_3_1(w: &mut Wire) -> Result<String, Outcome> {
    let tag = w.random.nonzero_u32();
    let data = lone_data(Tsn(w.random.u32()), b"out of the blue");
    w.send(tag, vec![data]);
    w.expect_reflected_abort(tag, "(the answer §8.4 (8) recommends)")?;
    Ok("ABORT with the T bit and the tag reflected".into())
}

fn fh_o_5_3_2(w: &mut Wire) -> Result<String, Outcome> {
    let tag = w.random.nonzero_u32();
    w.send(tag, vec![abort()]);
    w.silence("no answer to an out-of-the-blue ABORT")?;
    Ok("no answer".into())
}

fn fh_o_5_3_3(w: &mut Wire) -> Result<String, Outcome> {
    let tag = w.random.nonzero_u32();
    w.send(tag, vec![Chunk::ShutdownAck]);
    let reply = w.timing.reply;
    let got = w.expect("SHUTDOWN COMPLETE with the T bit", reply, |r| {
        r.chunks()
            .iter()
            .any(|c| matches!(c, Chunk::ShutdownComplete(s) if s.reflected_tag))
            .then(|| r.vtag())
    })?;
    if got != Some(tag) {
        return Err(Outcome::fail(
            "the SHUTDOWN COMPLETE does not reflect the tag (§8.5.1)",
        ));
    }
    Ok("SHUTDOWN COMPLETE with the T bit and the tag reflected".into())
}

fn fh_o_5_3_4(w: &mut Wire) -> Result<String, Outcome> {
    let tag = w.random.nonzero_u32();
    w.send(tag, vec![shutdown_complete(false)]);
    w.silence("no answer to an out-of-the-blue SHUTDOWN COMPLETE")?;
    Ok("no answer".into())
}

// ---- RT ----

/// The IUT retransmits an unacknowledged DATA at intervals that double
/// (within 40 %) until they stop growing at RTO.Max, and never shrink.
fn rt_backoff(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let echo = echo_outstanding(w)?;
    let own = w.assoc().own_tag;
    let mut stamps = vec![w.last.as_ref().map_or_else(now, |r| r.at)];
    // Seven retransmissions: 1 + 2 + … + 64 s at the defaults, capped at
    // RTO.Max (60 s).
    while stamps.len() < 8 {
        let at = w.expect("a retransmission", Duration::from_secs(75), |r| {
            (r.vtag() == Some(own) && r.has_tsn(echo)).then_some(r.at)
        })?;
        stamps.push(at);
    }
    let gaps: Vec<f64> = stamps
        .windows(2)
        .map(|p| (p[1] - p[0]).as_secs_f64())
        .collect();
    let mut capped = false;
    for pair in gaps.windows(2) {
        let ratio = pair[1] / pair[0];
        if capped || (0.8..1.25).contains(&ratio) {
            capped = true;
            if !(0.8..1.25).contains(&ratio) {
                return Err(Outcome::fail(format!(
                    "intervals {gaps:.2?}: changed after the cap"
                )));
            }
        } else if !(1.6..2.5).contains(&ratio) {
            return Err(Outcome::fail(format!(
                "intervals {gaps:.2?} s do not double"
            )));
        }
    }
    let shown: Vec<String> = gaps.iter().map(|g| format!("{g:.1}")).collect();
    Ok(format!("retransmitted after {} s", shown.join(", ")))
}
