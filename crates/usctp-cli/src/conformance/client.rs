//! The purposes in which the IUT acts on its own: it starts the
//! association (the client role) or closes it. The tester starts the
//! IUT's client command (`--client-cmd`), which must connect to the
//! tester, send one message, and then close the association gracefully.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use usctp::proto::chunk::{
    Chunk, ChunkType, ErrorCause, ErrorChunk, Param, ParamType, ShutdownComplete,
};

use super::Outcome;
use super::wire::{Received, Wire, data_tsn, lone_data, now, shutdown, unknown_param};

/// Waits for the client's message and acknowledges it.
fn client_message(w: &mut Wire) -> Result<(), Outcome> {
    let timer = w.timing.timer;
    w.expect_data(timer)?;
    let sack = w.sack();
    w.send_assoc(vec![sack]);
    Ok(())
}

/// The IUT refuses an INIT ACK: no COOKIE ECHO within the quiet time.
/// Returns what it sent instead.
fn no_cookie_echo(w: &mut Wire) -> Result<String, Outcome> {
    let quiet = w.timing.quiet.max(Duration::from_millis(1500));
    let all = w.collect(quiet);
    if let Some(r) = all.iter().find(|r| r.has(ChunkType::COOKIE_ECHO)) {
        return Err(Outcome::fail(format!("answered with {}", r.summary())));
    }
    Ok(all.iter().find(|r| r.has(ChunkType::ABORT)).map_or_else(
        || {
            if all.iter().any(|r| r.has(ChunkType::INIT)) {
                "discarded (the INIT retransmitted)".to_string()
            } else {
                "discarded".to_string()
            }
        },
        Received::summary,
    ))
}

/// The ABORT the IUT sent, with a cause `wanted` matches.
fn expect_abort_with(
    w: &mut Wire,
    what: &str,
    wanted: impl Fn(&ErrorCause) -> bool,
) -> Result<String, Outcome> {
    let abort = w.expect_abort_not(what, ChunkType::COOKIE_ECHO)?;
    let shown = super::wire::describe(&Chunk::Abort(abort.clone()));
    if abort.causes.iter().any(wanted) {
        Ok(shown)
    } else {
        Err(Outcome::fail(format!("{shown} lacks the cause ({what})")))
    }
}

// ---- AS ----

pub fn as_v_1_1_1(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    if init.outbound_streams == 0 || init.inbound_streams == 0 {
        return Err(Outcome::fail("the INIT asks for 0 streams"));
    }
    let ack = w.init_ack_for();
    w.accept_with(init, ack, Vec::new())?;
    client_message(w)?;
    Ok("INIT, COOKIE ECHO with the cookie, DATA after the COOKIE ACK".into())
}

pub fn as_i_1_2_1(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let first = now();
    let timer = w.timing.timer;
    let again = w.expect_init(timer)?;
    let after = first.elapsed();
    if again.initiate_tag != init.initiate_tag || again.initial_tsn != init.initial_tsn {
        return Err(Outcome::fail(
            "the retransmitted INIT differs from the first (§5.1)",
        ));
    }
    let ack = w.init_ack_for();
    w.accept_with(again, ack, Vec::new())?;
    client_message(w)?;
    Ok(format!(
        "the INIT retransmitted after {} ms, the same; then up",
        after.as_millis()
    ))
}

pub fn as_i_1_2_2(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let ack = w.init_ack_for();
    w.send(init.initiate_tag, vec![Chunk::InitAck(ack.clone())]);
    let reply = w.timing.reply;
    w.expect_cookie_echo(&ack, reply)?;
    let first = now();
    let timer = w.timing.timer;
    w.expect_cookie_echo(&ack, timer)?;
    let after = first.elapsed();
    w.send(init.initiate_tag, vec![Chunk::CookieAck]);
    w.assoc = None;
    Ok(format!(
        "the COOKIE ECHO retransmitted after {} ms",
        after.as_millis()
    ))
}

/// Counts the retransmissions of what `pick` recognises until they stop
/// (75 s of silence); the IUT must give up after at most `most`.
fn count_until_silent(
    w: &mut Wire,
    most: usize,
    what: &str,
    pick: impl Fn(&Received) -> bool,
) -> Result<String, Outcome> {
    let give_up = now() + w.timing.give_up;
    let mut count = 0;
    while now() < give_up {
        let left = give_up.saturating_duration_since(now());
        if w.expect("", left.min(Duration::from_secs(75)), |r| {
            pick(r).then_some(())
        })
        .is_err()
        {
            break;
        }
        count += 1;
    }
    if now() >= give_up {
        return Err(Outcome::fail(format!(
            "{what} still retransmitted after {count} times"
        )));
    }
    if count > most {
        return Err(Outcome::fail(format!(
            "{what} retransmitted {count} times, more than Max.Init.Retransmits ({most})"
        )));
    }
    Ok(format!("{what} retransmitted {count} times, then given up"))
}

pub fn as_i_1_3_1(w: &mut Wire) -> Result<String, Outcome> {
    w.client_init()?;
    count_until_silent(w, 8, "the INIT", |r| r.has(ChunkType::INIT))
}

pub fn as_i_1_3_2(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let ack = w.init_ack_for();
    w.send(init.initiate_tag, vec![Chunk::InitAck(ack.clone())]);
    let reply = w.timing.reply;
    w.expect_cookie_echo(&ack, reply)?;
    count_until_silent(w, 8, "the COOKIE ECHO", |r| r.has(ChunkType::COOKIE_ECHO))
}

pub fn as_v_1_5_1(w: &mut Wire) -> Result<String, Outcome> {
    // 100 client runs: each bit must be set in 30 % to 70 % of them (four
    // standard deviations of a fair coin).
    let mut tags = Vec::new();
    for run in 1..=100 {
        let init = w.client_init().map_err(|e| Outcome {
            why: format!("client run {run}: {}", e.why),
            ..e
        })?;
        tags.push(init.initiate_tag);
        w.stop_client();
    }
    let distinct: HashSet<u32> = tags.iter().copied().collect();
    if distinct.len() != tags.len() {
        return Err(Outcome::fail(format!(
            "only {} distinct tags in 100 INITs",
            distinct.len()
        )));
    }
    for bit in 0..32 {
        let set = tags.iter().filter(|&&t| t & (1 << bit) != 0).count();
        if !(30..=70).contains(&set) {
            return Err(Outcome::fail(format!(
                "bit {bit} is set in {set} of 100 tags"
            )));
        }
    }
    Ok("100 INIT tags: distinct, each bit set in 30-70 %".into())
}

pub fn as_v_1_6_2(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let mut ack = w.init_ack_for();
    ack.params.push(Param::from_address(w.local(0).ip()));
    ack.params.push(Param::Ipv6Address(
        "2001:db8::2".parse().expect("an IPv6 address"),
    ));
    w.accept_with(init, ack, Vec::new())?;
    client_message(w)?;
    Ok("INIT ACK with IPv4 and IPv6 addresses accepted; up".into())
}

pub fn as_v_1_7_3(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let mut ack = w.init_ack_for();
    ack.inbound_streams = 1;
    w.accept_with(init, ack, Vec::new())?;
    let timer = w.timing.timer;
    let data = w.expect_data(timer)?;
    if data.stream >= 1 {
        return Err(Outcome::fail(format!(
            "DATA on stream {} beyond the tester's MIS 1 (§5.1.1)",
            data.stream
        )));
    }
    Ok("with MIS 1 in the INIT ACK the client sent on stream 0".into())
}

pub fn as_i_1_7_4(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let mut ack = w.init_ack_for();
    ack.outbound_streams = 0;
    w.send(init.initiate_tag, vec![Chunk::InitAck(ack)]);
    no_cookie_echo(w)
}

pub fn as_v_1_10_2(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let ack = w.init_ack_for();
    w.accept_with(init, ack, Vec::new())?;
    let to = w.last.as_ref().map(|r| r.on);
    if to != Some(0) {
        return Err(Outcome::fail(
            "the COOKIE ECHO went elsewhere than the INIT ACK's source",
        ));
    }
    client_message(w)?;
    Ok("COOKIE ECHO to the INIT ACK's source".into())
}

pub fn as_i_1_12_2(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let mut ack = w.init_ack_for();
    ack.params.push(Param::HostNameAddress(Bytes::from_static(
        b"tester.invalid\0",
    )));
    w.send(init.initiate_tag, vec![Chunk::InitAck(ack)]);
    expect_abort_with(w, "Unresolvable Address", |c| {
        matches!(c, ErrorCause::UnresolvableAddress(_))
    })
}

pub fn as_i_1_14_2(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let mut ack = w.init_ack_for();
    ack.initiate_tag = 0;
    w.send(init.initiate_tag, vec![Chunk::InitAck(ack)]);
    no_cookie_echo(w)
}

// ---- AT: the client closes after its message ----

/// The client is up and has sent its message, unacknowledged.
fn up_with_outstanding(w: &mut Wire) -> Result<usctp::proto::serial::Tsn, Outcome> {
    w.accept_client()?;
    let timer = w.timing.timer;
    Ok(w.expect_data(timer)?.tsn)
}

/// Waits for the IUT's SHUTDOWN.
fn expect_shutdown(w: &mut Wire, within: Duration) -> Result<(), Outcome> {
    w.expect_chunk("SHUTDOWN", ChunkType::SHUTDOWN, within)
}

/// The client's message is acknowledged and its SHUTDOWN has come: the
/// IUT is in SHUTDOWN-SENT.
fn shutdown_sent(w: &mut Wire) -> Result<(), Outcome> {
    up_with_outstanding(w)?;
    let sack = w.sack();
    w.send_assoc(vec![sack]);
    let timer = w.timing.timer;
    expect_shutdown(w, timer)
}

pub fn at_i_2_3(w: &mut Wire) -> Result<String, Outcome> {
    let tsn = up_with_outstanding(w)?;
    let own = w.assoc().own_tag;
    let wait = Duration::from_millis(1500);
    w.expect_none("no SHUTDOWN while its DATA is unacknowledged", wait, |r| {
        r.vtag() == Some(own) && r.has(ChunkType::SHUTDOWN)
    })?;
    let sack = w.sack_at(tsn, 1 << 20);
    w.send_assoc(vec![sack]);
    let timer = w.timing.timer;
    expect_shutdown(w, timer)?;
    w.send_assoc(vec![Chunk::ShutdownAck]);
    Ok("SHUTDOWN only after the SACK".into())
}

pub fn at_i_2_4(w: &mut Wire) -> Result<String, Outcome> {
    shutdown_sent(w)?;
    let first = now();
    let timer = w.timing.timer;
    expect_shutdown(w, timer)?;
    let after = first.elapsed();
    w.send_assoc(vec![Chunk::ShutdownAck]);
    Ok(format!(
        "SHUTDOWN retransmitted after {} ms",
        after.as_millis()
    ))
}

pub fn at_i_2_5(w: &mut Wire) -> Result<String, Outcome> {
    shutdown_sent(w)?;
    let own = w.assoc().own_tag;
    let counted = count_until_silent(w, 10, "the SHUTDOWN", |r| {
        r.vtag() == Some(own) && r.has(ChunkType::SHUTDOWN)
    })?;
    let how = w.gone()?;
    Ok(format!("{counted}; gone: {how}"))
}

pub fn at_v_2_6(w: &mut Wire) -> Result<String, Outcome> {
    shutdown_sent(w)?;
    w.send_assoc(vec![Chunk::ShutdownAck]);
    let reply = w.timing.reply;
    w.expect_chunk("SHUTDOWN COMPLETE", ChunkType::SHUTDOWN_COMPLETE, reply)?;
    let how = w.gone()?;
    Ok(format!("SHUTDOWN COMPLETE, then gone: {how}"))
}

pub fn at_i_2_8(w: &mut Wire) -> Result<String, Outcome> {
    shutdown_sent(w)?;
    let chunk = w.data(0, b"to a shutting down client");
    let tsn = data_tsn(&chunk);
    w.send_assoc(vec![chunk]);
    // §9.2: each packet with DATA is answered at once with a SHUTDOWN,
    // whose Cumulative TSN Ack acknowledges it (a SACK too where gaps or
    // duplicates need one).
    let own = w.assoc().own_tag;
    let reply = w.timing.reply;
    let sack = w.expect(
        &format!("SHUTDOWN acknowledging TSN {}", tsn.0),
        reply,
        |r| {
            if r.vtag() != Some(own) {
                return None;
            }
            let mut sack = false;
            let mut shutdown = false;
            for c in r.chunks() {
                match c {
                    Chunk::Sack(s) if s.cumulative_tsn_ack.is_at_or_after(tsn) => sack = true,
                    Chunk::Shutdown(s) if s.cumulative_tsn_ack.is_at_or_after(tsn) => {
                        shutdown = true
                    }
                    _ => {}
                }
            }
            shutdown.then_some(sack)
        },
    )?;
    w.send_assoc(vec![Chunk::ShutdownAck]);
    Ok(format!(
        "the DATA acknowledged at once by a SHUTDOWN{}",
        if sack { " with a SACK" } else { "" }
    ))
}

// ---- IMH ----

pub fn imh_i_3_2(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let ack = w.init_ack_for();
    let mut packet = w.encode(init.initiate_tag, vec![Chunk::InitAck(ack)]);
    // The chunk claims its full length; the datagram ends 16 bytes in.
    packet.truncate(12 + 16);
    let crc = usctp::proto::chunk::packet::packet_checksum(&packet).unwrap_or_default();
    packet[8..12].copy_from_slice(&crc.to_le_bytes());
    w.send_bytes(0, &packet);
    no_cookie_echo(w)
}

pub fn imh_i_3_9(w: &mut Wire) -> Result<String, Outcome> {
    shutdown_sent(w)?;
    let wrong = w.assoc().peer_tag ^ 0x0FF0_0FF0;
    w.send(wrong, vec![Chunk::ShutdownAck]);
    let timer = w.timing.timer;
    expect_shutdown(w, timer)?;
    w.send_assoc(vec![Chunk::ShutdownAck]);
    Ok("discarded; SHUTDOWN retransmitted".into())
}

// ---- DM ----

pub fn dm_o_4_1(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let ours = w.init();
    w.send(0, vec![Chunk::Init(ours.clone())]);
    let ack = w.init_ack(ours.initiate_tag)?;
    if ack.initiate_tag != init.initiate_tag {
        return Err(Outcome::fail(format!(
            "the INIT ACK carries Initiate Tag {:#x}, not its INIT's {:#x} (§5.2.1)",
            ack.initiate_tag, init.initiate_tag
        )));
    }
    Ok("INIT ACK with the Initiate Tag of its own INIT".into())
}

pub fn dm_o_4_3(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let ack = w.init_ack_for();
    w.send(init.initiate_tag, vec![Chunk::InitAck(ack.clone())]);
    let reply = w.timing.reply;
    w.expect_cookie_echo(&ack, reply)?;
    let second = w.init_ack_for();
    w.send(init.initiate_tag, vec![Chunk::InitAck(second)]);
    let timer = w.timing.timer;
    // The retransmission still carries the first cookie and tag.
    w.expect_cookie_echo(&ack, timer)?;
    w.send(init.initiate_tag, vec![Chunk::CookieAck]);
    Ok("the second INIT ACK discarded; the first COOKIE ECHO retransmitted".into())
}

pub fn dm_o_4_4(w: &mut Wire) -> Result<String, Outcome> {
    w.accept_client()?;
    w.send_assoc(vec![Chunk::CookieAck]);
    w.alive()?;
    Ok("the extra COOKIE ACK discarded; the association lives".into())
}

pub fn dm_o_4_5(w: &mut Wire) -> Result<String, Outcome> {
    shutdown_sent(w)?;
    let cum = w.assoc().cum_ack;
    w.send_assoc(vec![shutdown(cum)]);
    let reply = w.timing.reply;
    w.expect_chunk("SHUTDOWN ACK", ChunkType::SHUTDOWN_ACK, reply)?;
    w.shutdown_complete();
    Ok("SHUTDOWN ACK to the peer's SHUTDOWN".into())
}

pub fn dm_o_4_6_1(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    w.send(init.initiate_tag, vec![shutdown(init.initial_tsn.prev())]);
    let timer = w.timing.timer;
    w.expect_init(timer)?;
    Ok("the SHUTDOWN ignored; the INIT retransmitted".into())
}

pub fn dm_o_4_6_3(w: &mut Wire) -> Result<String, Outcome> {
    shutdown_sent(w)?;
    let cum = w.assoc().cum_ack;
    for _ in 0..2 {
        w.send_assoc(vec![shutdown(cum)]);
    }
    let reply = w.timing.reply;
    w.expect_chunk("SHUTDOWN ACK", ChunkType::SHUTDOWN_ACK, reply)?;
    w.shutdown_complete();
    Ok("SHUTDOWN ACK to the duplicated SHUTDOWN".into())
}

pub fn dm_o_4_7_1(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    w.send(init.initiate_tag, vec![Chunk::ShutdownAck]);
    let reply = w.timing.reply;
    let tag = w.expect("SHUTDOWN COMPLETE with the T bit", reply, |r| {
        r.chunks()
            .iter()
            .any(|c| matches!(c, Chunk::ShutdownComplete(s) if s.reflected_tag))
            .then(|| r.vtag())
    })?;
    if tag != Some(init.initiate_tag) {
        return Err(Outcome::fail(
            "the SHUTDOWN COMPLETE does not reflect the tag (§8.5.1 (E))",
        ));
    }
    let timer = w.timing.timer;
    w.expect_init(timer)?;
    Ok("SHUTDOWN COMPLETE (T); the INIT retransmitted".into())
}

pub fn dm_o_4_9(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    w.send(
        init.initiate_tag,
        vec![Chunk::ShutdownComplete(ShutdownComplete {
            reflected_tag: false,
        })],
    );
    let timer = w.timing.timer;
    let again = w.expect_init(timer)?;
    let ack = w.init_ack_for();
    w.accept_with(again, ack, Vec::new())?;
    client_message(w)?;
    Ok("the SHUTDOWN COMPLETE discarded; the INIT retransmitted; up".into())
}

// ---- E ----

pub fn e_o_6_1(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let ack = w.init_ack_for();
    w.send(init.initiate_tag, vec![Chunk::InitAck(ack.clone())]);
    let reply = w.timing.reply;
    w.expect_cookie_echo(&ack, reply)?;
    w.send(
        init.initiate_tag,
        vec![Chunk::Error(ErrorChunk {
            causes: vec![ErrorCause::StaleCookie {
                staleness_us: 100_000,
            }],
        })],
    );
    let all = w.collect(w.timing.timer.min(Duration::from_secs(3)));
    let restarted = all.iter().find_map(|r| {
        r.chunks().iter().find_map(|c| match c {
            Chunk::Init(i) => Some(i.clone()),
            _ => None,
        })
    });
    match restarted {
        Some(i) => Ok(format!(
            "a new INIT{}",
            if i.params
                .iter()
                .any(|p| matches!(p, Param::CookiePreservative(_)))
            {
                " with a Cookie Preservative"
            } else {
                ""
            }
        )),
        None if all.iter().any(|r| r.has(ChunkType::COOKIE_ECHO)) => Err(Outcome::fail(
            "the COOKIE ECHO retransmitted after a Stale Cookie ERROR (§5.2.6)",
        )),
        None => Ok("gave up (no new INIT), which §5.2.6 allows".into()),
    }
}

pub fn e_i_6_4(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let mut ack = w.init_ack_for();
    ack.params.clear();
    w.send(init.initiate_tag, vec![Chunk::InitAck(ack)]);
    expect_abort_with(
        w,
        "Missing Mandatory Parameter (State Cookie)",
        |c| matches!(c, ErrorCause::MissingMandatoryParameter(t) if t.contains(&ParamType::STATE_COOKIE)),
    )
}

pub fn e_i_6_5(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let mut ack = w.init_ack_for();
    ack.params.push(unknown_param(0xC0C7));
    w.send(init.initiate_tag, vec![Chunk::InitAck(ack.clone())]);
    let reply = w.timing.reply;
    let own = ack.initiate_tag;
    let packet = w.expect("COOKIE ECHO", reply, |r| {
        (r.vtag() == Some(own) && r.has(ChunkType::COOKIE_ECHO)).then(|| r.clone())
    })?;
    let reported = packet.chunks().iter().any(|c| {
        matches!(c, Chunk::Error(e) if e.causes.iter().any(|c| matches!(c,
            ErrorCause::UnrecognizedParameters(b) if b.starts_with(&[0xC0, 0xC7]))))
    });
    w.send(init.initiate_tag, vec![Chunk::CookieAck]);
    if !reported {
        return Err(Outcome::fail(format!(
            "the COOKIE ECHO's packet ({}) reports no Unrecognized Parameter 0xc0c7 (§3.2.1)",
            packet.summary()
        )));
    }
    Ok("COOKIE ECHO bundled with an ERROR reporting 0xc0c7".into())
}

// ---- BDC ----

pub fn bdc_i_7_2(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let ack = w.init_ack_for();
    let data = lone_data(ack.initial_tsn, b"bundled with the INIT ACK");
    w.send(init.initiate_tag, vec![Chunk::InitAck(ack), data]);
    no_cookie_echo(w)
}

pub fn bdc_v_7_5(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.client_init()?;
    let ack = w.init_ack_for();
    let tsn = ack.initial_tsn;
    let data = lone_data(tsn, b"bundled with the COOKIE ACK");
    w.accept_with(init, ack, vec![data])?;
    w.assoc().next_tsn = tsn.next();
    let reply = w.timing.reply;
    w.expect_sack(tsn, reply)?;
    Ok("up, and the DATA behind the COOKIE ACK acknowledged".into())
}

pub fn bdc_v_7_8(w: &mut Wire) -> Result<String, Outcome> {
    shutdown_sent(w)?;
    let data = w.data(0, b"behind the SHUTDOWN ACK");
    w.send_assoc(vec![Chunk::ShutdownAck, data]);
    let reply = w.timing.reply;
    w.expect_chunk("SHUTDOWN COMPLETE", ChunkType::SHUTDOWN_COMPLETE, reply)?;
    w.assoc = None;
    Ok("SHUTDOWN COMPLETE; the DATA behind the SHUTDOWN ACK ignored".into())
}
