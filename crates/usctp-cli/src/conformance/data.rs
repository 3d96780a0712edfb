//! Errors (E), bundling (BDC) and data (D).

use std::time::Duration;

use bytes::Bytes;
use usctp::proto::chunk::{
    Chunk, ChunkType, ErrorCause, ErrorChunk, GapBlock, Param, ParamType, Sack, ShutdownComplete,
};
use usctp::proto::serial::Tsn;

use super::client;
use super::teardown::echo_outstanding;
use super::wire::{Received, Wire, data_tsn, lone_data, now, shutdown};
use super::{Kind, Outcome, Purpose, Verdict, purpose};

/// The E group.
pub const E: &[Purpose] = &[
    purpose(
        "sctp-e-o-6-1",
        "Stale Cookie ERROR in COOKIE-ECHOED: a new INIT",
        "§5.2.6",
        Kind::Client(client::e_o_6_1),
    ),
    purpose(
        "sctp-e-o-6-2",
        "Stale Cookie ERROR in ESTABLISHED ignored",
        "§5.2.6",
        Kind::Server(e_o_6_2),
    ),
    purpose(
        "sctp-e-i-6-3",
        "DATA on a stream that does not exist: ERROR, still acknowledged",
        "§6.5",
        Kind::Server(e_i_6_3),
    ),
    purpose(
        "sctp-e-i-6-4",
        "INIT ACK without a State Cookie: ABORT",
        "§3.3.3",
        Kind::Client(client::e_i_6_4),
    ),
    purpose(
        "sctp-e-i-6-5",
        "unknown INIT ACK parameter reported with the COOKIE ECHO",
        "§3.2.1",
        Kind::Client(client::e_i_6_5),
    ),
    purpose(
        "sctp-e-i-6-6",
        "COOKIE ECHO bundled with an ERROR accepted",
        "§5.1",
        Kind::Server(e_i_6_6),
    ),
];

/// The BDC group.
pub const BDC: &[Purpose] = &[
    purpose(
        "sctp-bdc-i-7-1",
        "INIT bundled with DATA discarded",
        "§6.10",
        Kind::Server(bdc_i_7_1),
    ),
    purpose(
        "sctp-bdc-i-7-2",
        "INIT ACK bundled with DATA not accepted",
        "§6.10",
        Kind::Client(client::bdc_i_7_2),
    ),
    purpose(
        "sctp-bdc-i-7-3",
        "SHUTDOWN COMPLETE bundled with DATA not accepted",
        "§6.10",
        Kind::Server(bdc_i_7_3),
    ),
    purpose(
        "sctp-bdc-v-7-4",
        "COOKIE ECHO bundled with DATA: up, DATA acknowledged",
        "§5.1, §6.10",
        Kind::Server(bdc_v_7_4),
    ),
    purpose(
        "sctp-bdc-v-7-5",
        "COOKIE ACK bundled with DATA",
        "§5.1, §6.10",
        Kind::Client(client::bdc_v_7_5),
    ),
    purpose(
        "sctp-bdc-v-7-6",
        "SACK bundled with SHUTDOWN: both processed",
        "§6.10, §9.2",
        Kind::Server(bdc_v_7_6),
    ),
    purpose(
        "sctp-bdc-v-7-7",
        "SACK bundled with DATA: both processed",
        "§6.10",
        Kind::Server(bdc_v_7_7),
    ),
    purpose(
        "sctp-bdc-v-7-8",
        "SHUTDOWN ACK bundled with DATA in SHUTDOWN-SENT",
        "§6.10, §9.2",
        Kind::Client(client::bdc_v_7_8),
    ),
];

/// The D group.
pub const D: &[Purpose] = &[
    purpose(
        "sctp-d-v-8-1",
        "a message that fits goes as one DATA chunk",
        "§6.1, §6.9",
        Kind::Server(d_v_8_1),
    ),
    purpose(
        "sctp-d-v-8-2",
        "a message larger than the path MTU is fragmented",
        "§6.9",
        Kind::Server(d_v_8_2),
    ),
    purpose(
        "sctp-d-v-8-3",
        "fragments reassembled and delivered",
        "§6.9",
        Kind::Server(d_v_8_3),
    ),
    purpose(
        "sctp-d-v-8-4",
        "acknowledged DATA is not retransmitted",
        "§6.3.2",
        Kind::Server(d_v_8_4),
    ),
    purpose(
        "sctp-d-i-8-5",
        "unacknowledged DATA retransmitted on T3-rtx expiry",
        "§6.3.3",
        Kind::Server(d_i_8_5),
    ),
    purpose(
        "sctp-d-o-8-6",
        "duplicate DATA reported, delivered once",
        "§6.2",
        Kind::Server(d_o_8_6),
    ),
    purpose(
        "sctp-d-o-8-7",
        "zero window: one DATA chunk in flight",
        "§6.1 (A)",
        Kind::Server(d_o_8_7),
    ),
    purpose(
        "sctp-d-o-8-8",
        "zero window: one fragment in flight",
        "§6.1 (A)",
        Kind::Server(d_o_8_8),
    ),
    purpose(
        "sctp-d-v-8-9",
        "the lost DATA retransmitted first",
        "§6.1 (C), §6.3.3",
        Kind::Server(d_v_8_9),
    ),
    purpose(
        "sctp-d-v-8-10",
        "SACK from another peer address accepted",
        "§6.4",
        Kind::MultiHomed(d_v_8_10),
    ),
    purpose(
        "sctp-d-i-8-11",
        "DATA without user data: ABORT with No User Data",
        "§6.2",
        Kind::Server(d_i_8_11),
    ),
    purpose(
        "sctp-d-o-8-12",
        "a SACK older than the cumulative ack ignored",
        "§6.2.1 (D)",
        Kind::Server(d_o_8_12),
    ),
    purpose(
        "sctp-d-v-8-13",
        "a large message received and delivered whole",
        "§6.9",
        Kind::Server(d_v_8_13),
    ),
    purpose(
        "sctp-d-v-8-14",
        "the IUT's largest message sent",
        "§6.9",
        Kind::Off(
            "the IUT's largest message is a local setting the tester cannot learn on the wire",
        ),
    ),
    purpose(
        "sctp-d-v-8-15",
        "a message beyond the IUT's limit refused",
        "§6.9",
        Kind::Off(
            "needs the IUT's receive-side message size limit, which the tester cannot learn on the wire",
        ),
    ),
];
fn inconclusive(why: impl Into<String>) -> Outcome {
    Outcome {
        verdict: Verdict::Inconclusive,
        why: why.into(),
    }
}

// ---- E ----

fn e_o_6_2(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.send_assoc(vec![Chunk::Error(ErrorChunk {
        causes: vec![ErrorCause::StaleCookie { staleness_us: 1000 }],
    })]);
    w.send_message(b"after the stale cookie error")?;
    w.alive()?;
    Ok("ignored: DATA still acknowledged, HEARTBEAT answered".into())
}

fn e_i_6_3(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let streams = w.assoc().ack.inbound_streams;
    if streams == u16::MAX {
        return Err(inconclusive("the IUT accepts every stream number"));
    }
    let chunk = w.data(streams, b"no such stream");
    let tsn = data_tsn(&chunk);
    w.send_assoc(vec![chunk]);
    let own = w.assoc().own_tag;
    let all = w.collect(w.timing.quiet.max(Duration::from_millis(500)));
    let ours: Vec<&Received> = all.iter().filter(|r| r.vtag() == Some(own)).collect();
    let error = ours.iter().any(|r| {
        r.chunks().iter().any(|c| {
            matches!(c, Chunk::Error(e)
                if e.causes.contains(&ErrorCause::InvalidStreamIdentifier(streams)))
        })
    });
    let acked = ours.iter().any(|r| {
        r.chunks()
            .iter()
            .any(|c| matches!(c, Chunk::Sack(s) if s.cumulative_tsn_ack.is_at_or_after(tsn)))
    });
    let echoed = ours.iter().any(|r| r.has(ChunkType::DATA));
    if !error {
        return Err(Outcome::fail(format!(
            "no ERROR with Invalid Stream Identifier {streams} (§6.5)"
        )));
    }
    if !acked {
        return Err(Outcome::fail("the TSN was not acknowledged (§6.5)"));
    }
    if echoed {
        return Err(Outcome::fail(
            "the message on the invalid stream was delivered",
        ));
    }
    Ok(format!(
        "stream {streams}: ERROR (Invalid Stream Identifier), SACKed, not delivered"
    ))
}

fn e_i_6_6(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.init();
    let ack = w.send_init(&init)?;
    // Reports the INIT ACK's first optional parameter as unrecognized (or
    // a Forward-TSN-Supported one if it has none).
    let reported = ack
        .params
        .iter()
        .find(|p| !matches!(p, Param::StateCookie(_)))
        .map_or(ParamType::FORWARD_TSN_SUPPORTED, Param::param_type);
    let mut tlv = reported.0.to_be_bytes().to_vec();
    tlv.extend_from_slice(&4u16.to_be_bytes());
    let error = Chunk::Error(ErrorChunk {
        causes: vec![ErrorCause::UnrecognizedParameters(Bytes::from(tlv))],
    });
    w.establish(init, ack, vec![error])?;
    w.send_message(b"usable")?;
    Ok(format!(
        "COOKIE ACK with {reported} reported unrecognized; DATA acknowledged"
    ))
}

// ---- BDC ----

fn bdc_i_7_1(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.init();
    let data = lone_data(init.initial_tsn, b"bundled with the INIT");
    w.send(0, vec![Chunk::Init(init), data]);
    let quiet = w.timing.quiet;
    w.expect_none("no INIT ACK to an INIT bundled with DATA", quiet, |r| {
        r.has(ChunkType::INIT_ACK)
    })?;
    let init = w.init();
    w.send_init(&init)?;
    Ok("discarded; a clean INIT then answered".into())
}

fn bdc_i_7_3(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.shutdown_ack_sent()?;
    let data = w.data(0, b"bundled with SHUTDOWN COMPLETE");
    let tag = w.assoc().peer_tag;
    w.send(
        tag,
        vec![
            Chunk::ShutdownComplete(ShutdownComplete {
                reflected_tag: false,
            }),
            data,
        ],
    );
    let own = w.assoc().own_tag;
    let timer = w.timing.timer;
    let got = w.expect("SHUTDOWN ACK retransmitted, or ABORT", timer, |r| {
        (r.vtag() == Some(own) && (r.has(ChunkType::SHUTDOWN_ACK) || r.has(ChunkType::ABORT)))
            .then(|| r.summary())
    })?;
    w.shutdown_complete();
    Ok(format!("not accepted: {got}"))
}

fn bdc_v_7_4(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.init();
    let ack = w.send_init(&init)?;
    // The DATA's TSN is the INIT's Initial TSN; set the association up
    // first in the tester's books so that the chunk is numbered.
    let tsn = init.initial_tsn;
    let data = lone_data(tsn, b"bundled with the COOKIE ECHO");
    let cookie_ack = w.establish(init, ack, vec![data])?;
    {
        let assoc = w.assoc();
        assoc.next_tsn = tsn.next();
    }
    let in_same = cookie_ack
        .chunks()
        .iter()
        .any(|c| matches!(c, Chunk::Sack(s) if s.cumulative_tsn_ack.is_at_or_after(tsn)));
    if !in_same {
        let reply = w.timing.reply;
        w.expect_sack(tsn, reply)?;
    }
    let within = w.timing.reply;
    w.expect_data(within)?;
    Ok(format!(
        "COOKIE ACK, the DATA acknowledged{} and echoed",
        if in_same { " in its packet" } else { "" }
    ))
}

fn bdc_v_7_6(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let echo = echo_outstanding(w)?;
    let sack = w.sack_at(echo, 1 << 20);
    w.send_assoc(vec![sack, shutdown(echo)]);
    let reply = w.timing.reply;
    w.expect_chunk("SHUTDOWN ACK", ChunkType::SHUTDOWN_ACK, reply)?;
    w.shutdown_complete();
    Ok("SACK and SHUTDOWN processed: SHUTDOWN ACK".into())
}

fn bdc_v_7_7(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let echo = echo_outstanding(w)?;
    let sack = w.sack_at(echo, 1 << 20);
    let data = w.data(0, b"behind a SACK");
    let tsn = data_tsn(&data);
    w.send_assoc(vec![sack, data]);
    let reply = w.timing.reply;
    w.expect_sack(tsn, reply)?;
    // The SACK was processed too: the first echo is never retransmitted.
    let own = w.assoc().own_tag;
    let timer = w.timing.timer.min(Duration::from_secs(3));
    w.expect_none("the acknowledged echo not retransmitted", timer, |r| {
        r.vtag() == Some(own) && r.has_tsn(echo)
    })?;
    Ok("the DATA acknowledged and the SACK's acknowledgement kept".into())
}

// ---- D ----

fn d_v_8_1(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let payload = vec![0x31; 1000];
    let chunk = w.data(0, &payload);
    w.send_assoc(vec![chunk]);
    let within = w.timing.reply;
    let (chunks, bytes) = w.receive_message(within)?;
    if chunks.len() != 1 || !chunks[0].flags.beginning || !chunks[0].flags.end {
        return Err(Outcome::fail(format!(
            "a 1000-byte message came in {} chunks",
            chunks.len()
        )));
    }
    echoed_whole(&bytes, &payload)?;
    Ok("1000 bytes in one DATA chunk with B and E set".into())
}

/// The echo is the message. An echo that is a piece of it is the echo
/// service's doing (it read the message in smaller pieces and sent back
/// one), not the protocol's: inconclusive.
fn echoed_whole(echo: &[u8], message: &[u8]) -> Result<(), Outcome> {
    if echo == message {
        Ok(())
    } else if !echo.is_empty() && message.windows(echo.len()).any(|piece| piece == echo) {
        Err(inconclusive(format!(
            "the echo service sent back {} of the {} bytes as a message of its own: it reads in smaller pieces",
            echo.len(),
            message.len()
        )))
    } else {
        Err(Outcome::fail(format!(
            "the echo ({} bytes) differs from the message ({} bytes)",
            echo.len(),
            message.len()
        )))
    }
}

/// Checks that `chunks` are the fragments of one message: consecutive
/// TSNs, one stream and SSN, B on the first only, E on the last only.
fn fragments_of_one_message(chunks: &[usctp::proto::chunk::Data]) -> Result<(), Outcome> {
    let first = &chunks[0];
    for (i, c) in chunks.iter().enumerate() {
        if c.tsn != first.tsn.add(i as u32) {
            return Err(Outcome::fail(format!(
                "fragment {i} has TSN {}, not consecutive",
                c.tsn.0
            )));
        }
        if c.stream != first.stream || c.ssn != first.ssn {
            return Err(Outcome::fail(format!(
                "fragment {i} has another stream or SSN"
            )));
        }
        if c.flags.beginning != (i == 0) || c.flags.end != (i + 1 == chunks.len()) {
            return Err(Outcome::fail(format!(
                "fragment {i} has the wrong B or E flag"
            )));
        }
    }
    Ok(())
}

fn d_v_8_2(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let payload: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    w.send_fragmented(0, &payload, 1200);
    let within = w.timing.timer;
    let (chunks, bytes) = w.receive_message(within)?;
    echoed_whole(&bytes, &payload)?;
    if chunks.len() == 1 {
        return Err(inconclusive(
            "20,000 bytes came in one packet: the IUT's path MTU is that large",
        ));
    }
    fragments_of_one_message(&chunks)?;
    let largest = chunks.iter().map(|c| c.payload.len()).max().unwrap_or(0);
    Ok(format!(
        "20,000 bytes in {} fragments of at most {largest} bytes, B..E, consecutive TSNs",
        chunks.len()
    ))
}

fn d_v_8_3(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    let last = w.send_fragmented(0, &payload, 1000);
    let reply = w.timing.reply;
    w.expect_sack(last, reply)?;
    let (_, bytes) = w.receive_message(reply)?;
    echoed_whole(&bytes, &payload)?;
    Ok("three fragments acknowledged, reassembled and echoed whole".into())
}

fn d_v_8_4(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let echo = echo_outstanding(w)?;
    let sack = w.sack_at(echo, 1 << 20);
    w.send_assoc(vec![sack]);
    let own = w.assoc().own_tag;
    let timer = w.timing.timer;
    w.expect_none("the acknowledged DATA not retransmitted", timer, |r| {
        r.vtag() == Some(own) && r.has_tsn(echo)
    })?;
    Ok(format!(
        "not retransmitted within {}",
        humantime::format_duration(timer)
    ))
}

/// Waits for DATA `tsn` again; returns how long after `since` it came.
fn retransmission(w: &mut Wire, tsn: Tsn, within: Duration) -> Result<Duration, Outcome> {
    let own = w.assoc().own_tag;
    let since = w.last.as_ref().map_or_else(now, |r| r.at);
    let at = w.expect(&format!("retransmission of TSN {}", tsn.0), within, |r| {
        (r.vtag() == Some(own) && r.has_tsn(tsn)).then_some(r.at)
    })?;
    Ok(at - since)
}

pub fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn d_i_8_5(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let echo = echo_outstanding(w)?;
    let timer = w.timing.timer;
    let after = retransmission(w, echo, timer)?;
    Ok(format!("retransmitted after {}", ms(after)))
}

fn d_o_8_6(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let chunk = w.data(0, b"twice");
    let tsn = data_tsn(&chunk);
    w.send_assoc(vec![chunk.clone()]);
    let reply = w.timing.reply;
    w.expect_sack(tsn, reply)?;
    w.expect_data(reply)?;
    let sack = w.sack();
    w.send_assoc(vec![sack]);
    w.send_assoc(vec![chunk]);
    let own = w.assoc().own_tag;
    let timer = w.timing.timer.min(Duration::from_secs(3));
    let all = w.collect(timer);
    let mut reported = false;
    for r in all.iter().filter(|r| r.vtag() == Some(own)) {
        for c in r.chunks() {
            match c {
                Chunk::Sack(s) if s.duplicate_tsns.contains(&tsn) => reported = true,
                Chunk::Data(_) => {
                    return Err(Outcome::fail(
                        "the duplicate was delivered again (echoed twice)",
                    ));
                }
                _ => {}
            }
        }
    }
    if !reported {
        return Err(Outcome::fail(format!(
            "no SACK lists TSN {} as a duplicate (§6.2)",
            tsn.0
        )));
    }
    Ok("SACK with the duplicate TSN; delivered once".into())
}

/// D-O-8-7 and 8-8: with the tester's window at 0, the IUT keeps at most
/// one DATA chunk in flight; the rest follows when the window opens.
fn zero_window(w: &mut Wire, message: usize) -> Result<String, Outcome> {
    w.associate()?;
    let first = echo_outstanding(w)?;
    let closed = w.sack_at(first, 0);
    w.send_assoc(vec![closed]);
    // Three more messages for the IUT to echo into the closed window.
    let payload = vec![0x77; message];
    for _ in 0..3 {
        if message > 1200 {
            w.send_fragmented(0, &payload, 1200);
        } else {
            let chunk = w.data(0, &payload);
            w.send_assoc(vec![chunk]);
        }
    }
    let own = w.assoc().own_tag;
    let timer = w.timing.timer;
    let all = w.collect(timer);
    let mut tsns: Vec<Tsn> = Vec::new();
    for r in all.iter().filter(|r| r.vtag() == Some(own)) {
        for c in r.chunks() {
            if let Chunk::Data(d) = c
                && d.tsn != first
                && !tsns.contains(&d.tsn)
            {
                tsns.push(d.tsn);
            }
        }
    }
    if tsns.len() > 1 {
        let shown: Vec<u32> = tsns.iter().map(|t| t.0).collect();
        return Err(Outcome::fail(format!(
            "{} new DATA chunks ({shown:?}) into a zero window (§6.1 (A) allows one)",
            tsns.len()
        )));
    }
    // Open the window: the rest must follow.
    let open = w.sack_at(tsns.first().copied().unwrap_or(first), 1 << 20);
    w.send_assoc(vec![open]);
    let reply = w.timing.timer;
    w.expect_data(reply)?;
    Ok(format!(
        "{} in flight while the window was 0; the rest after it opened",
        if tsns.is_empty() {
            "no chunk (no probe within the wait)"
        } else {
            "one probe chunk"
        }
    ))
}

fn d_o_8_7(w: &mut Wire) -> Result<String, Outcome> {
    zero_window(w, 100)
}

fn d_o_8_8(w: &mut Wire) -> Result<String, Outcome> {
    zero_window(w, 6000)
}

fn d_v_8_9(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    // Three echoes x, x+1, x+2; x+1 "lost": acknowledged around it.
    let mut echoes = Vec::new();
    for _ in 0..3 {
        echoes.push(echo_outstanding(w)?);
    }
    let x = echoes[0];
    if echoes[1] != x.next() || echoes[2] != x.add(2) {
        return Err(inconclusive(
            "the three echoes do not have consecutive TSNs",
        ));
    }
    let gap = Chunk::Sack(Sack {
        cumulative_tsn_ack: x,
        a_rwnd: 1 << 20,
        gap_blocks: vec![GapBlock { start: 2, end: 2 }],
        duplicate_tsns: Vec::new(),
    });
    w.send_assoc(vec![gap]);
    // New data for the IUT to send, which may go before T3 expires.
    let chunk = w.data(0, b"new data");
    w.send_assoc(vec![chunk]);
    let own = w.assoc().own_tag;
    let lost = x.next();
    let mut sent: Vec<Tsn> = echoes.clone();
    let until = now() + w.timing.timer;
    loop {
        let left = until.saturating_duration_since(now());
        let r = w.expect(&format!("retransmission of TSN {}", lost.0), left, |r| {
            (r.vtag() == Some(own) && r.has(ChunkType::DATA)).then(|| r.clone())
        })?;
        for c in r.chunks() {
            let Chunk::Data(d) = c else { continue };
            if d.tsn == lost {
                return Ok(format!(
                    "TSN {} retransmitted ahead of any new DATA in its packet",
                    lost.0
                ));
            }
            if !sent.contains(&d.tsn) {
                // New DATA may go before T3 expires, never in front of a
                // retransmission in the same packet.
                sent.push(d.tsn);
                if r.chunks()
                    .iter()
                    .any(|c| matches!(c, Chunk::Data(l) if l.tsn == lost))
                {
                    return Err(Outcome::fail(format!(
                        "new DATA (TSN {}) ahead of the retransmission of TSN {} (§6.1 (C))",
                        d.tsn.0, lost.0
                    )));
                }
            }
        }
    }
}

fn d_v_8_10(w: &mut Wire) -> Result<String, Outcome> {
    let mut init = w.init();
    init.params = vec![
        Param::from_address(w.local(0).ip()),
        Param::from_address(w.local(1).ip()),
    ];
    w.associate_with(init)?;
    let echo = echo_outstanding(w)?;
    let sack = w.sack_at(echo, 1 << 20);
    let tag = w.assoc().peer_tag;
    let bytes = w.encode(tag, vec![sack]);
    w.send_bytes(1, &bytes);
    let own = w.assoc().own_tag;
    let timer = w.timing.timer;
    w.expect_none(
        "no retransmission after the SACK from the second address",
        timer,
        |r| r.vtag() == Some(own) && r.has_tsn(echo),
    )?;
    Ok(format!("the SACK from {} was accepted", w.local(1)))
}

fn d_i_8_11(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let chunk = w.data(0, b"");
    let tsn = data_tsn(&chunk);
    w.send_assoc(vec![chunk]);
    let own = w.assoc().own_tag;
    let reply = w.timing.reply;
    let abort = w.expect("ABORT with No User Data", reply, |r| {
        (r.vtag() == Some(own))
            .then(|| {
                r.chunks().iter().find_map(|c| match c {
                    Chunk::Abort(a) => Some(a.clone()),
                    _ => None,
                })
            })
            .flatten()
    })?;
    if !abort.causes.contains(&ErrorCause::NoUserData(tsn)) {
        return Err(Outcome::fail(format!(
            "the ABORT lacks No User Data for TSN {} ({})",
            tsn.0,
            super::wire::describe(&Chunk::Abort(abort))
        )));
    }
    w.assoc = None;
    Ok("ABORT with No User Data and the TSN".into())
}

fn d_o_8_12(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let first = echo_outstanding(w)?;
    let second = echo_outstanding(w)?;
    let sack = w.sack_at(first, 1 << 20);
    w.send_assoc(vec![sack]);
    let stale = w.sack_at(first.prev(), 1 << 20);
    w.send_assoc(vec![stale]);
    // Taken for news, the older SACK would un-acknowledge `first`.
    let own = w.assoc().own_tag;
    let since = now();
    let timer = w.timing.timer;
    let again = w.expect(&format!("retransmission of TSN {}", second.0), timer, |r| {
        if r.vtag() != Some(own) {
            return None;
        }
        let tsns: Vec<Tsn> = r
            .chunks()
            .iter()
            .filter_map(|c| match c {
                Chunk::Data(d) => Some(d.tsn),
                _ => None,
            })
            .collect();
        if tsns.contains(&first) {
            Some(Err(()))
        } else if tsns.contains(&second) {
            Some(Ok(r.at))
        } else {
            None
        }
    })?;
    match again {
        Ok(at) => Ok(format!(
            "the older SACK ignored: TSN {} retransmitted after {}, the acknowledged TSN never",
            second.0,
            ms(at - since)
        )),
        Err(()) => Err(Outcome::fail(format!(
            "TSN {} was retransmitted after the older SACK: it was taken back (§6.2.1 (D))",
            first.0
        ))),
    }
}

fn d_v_8_13(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let window = w.assoc().ack.a_rwnd as usize;
    let size = (window / 2).clamp(1, 65_536);
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    w.send_fragmented(0, &payload, 1200);
    let timer = w.timing.timer;
    let (_, bytes) = w.receive_message(timer)?;
    echoed_whole(&bytes, &payload)?;
    Ok(format!(
        "{size} bytes (half the IUT's window, at most 64 KiB) delivered whole"
    ))
}
