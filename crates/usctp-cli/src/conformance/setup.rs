//! Association setup (AS) and invalid message handling (IMH).

use std::collections::HashSet;
use std::net::IpAddr;

use bytes::Bytes;
use usctp::proto::chunk::{Abort, Chunk, ChunkType, ErrorCause, Init, Param, ParamType};

use super::client;
use super::wire::{Received, Wire, unknown_param};
use super::{Kind, Outcome, Purpose, purpose};

/// The AS group.
pub const AS: &[Purpose] = &[
    purpose(
        "sctp-as-v-1-1-1",
        "as client: INIT, COOKIE ECHO, up after COOKIE ACK",
        "§5.1",
        Kind::Client(client::as_v_1_1_1),
    ),
    purpose(
        "sctp-as-v-1-1-2",
        "as server: INIT ACK with a State Cookie, then COOKIE ACK",
        "§5.1",
        Kind::Server(as_v_1_1_2),
    ),
    purpose(
        "sctp-as-i-1-2-1",
        "INIT retransmitted on T1-init expiry",
        "§5.1",
        Kind::Client(client::as_i_1_2_1),
    ),
    purpose(
        "sctp-as-i-1-2-2",
        "COOKIE ECHO retransmitted on T1-cookie expiry",
        "§5.1",
        Kind::Client(client::as_i_1_2_2),
    ),
    purpose(
        "sctp-as-i-1-3-1",
        "INIT given up after Max.Init.Retransmits",
        "§5.1, §6.3.3",
        Kind::ClientLong(client::as_i_1_3_1),
    ),
    purpose(
        "sctp-as-i-1-3-2",
        "COOKIE ECHO given up after Max.Init.Retransmits",
        "§5.1",
        Kind::ClientLong(client::as_i_1_3_2),
    ),
    purpose(
        "sctp-as-i-1-4",
        "no state kept for INITs that never complete",
        "§5.1.3",
        Kind::Server(as_i_1_4),
    ),
    purpose(
        "sctp-as-v-1-5-1",
        "Initiate Tags of its INITs look random",
        "§5.3.1",
        Kind::Client(client::as_v_1_5_1),
    ),
    purpose(
        "sctp-as-v-1-5-2",
        "Initiate Tags of its INIT ACKs look random",
        "§5.3.1",
        Kind::Server(as_v_1_5_2),
    ),
    purpose(
        "sctp-as-v-1-6-1",
        "INIT with optional parameters accepted",
        "§3.3.2, §5.1.2",
        Kind::Server(as_v_1_6_1),
    ),
    purpose(
        "sctp-as-v-1-6-2",
        "INIT ACK with optional parameters accepted",
        "§3.3.3",
        Kind::Client(client::as_v_1_6_2),
    ),
    purpose(
        "sctp-as-v-1-7-1",
        "no more outbound streams than the peer's MIS",
        "§5.1.1",
        Kind::Server(as_v_1_7_1),
    ),
    purpose(
        "sctp-as-i-1-7-2",
        "INIT with 0 outbound streams refused",
        "§3.3.2",
        Kind::Server(as_i_1_7_2),
    ),
    purpose(
        "sctp-as-v-1-7-3",
        "INIT ACK's MIS limits the outbound streams",
        "§5.1.1",
        Kind::Client(client::as_v_1_7_3),
    ),
    purpose(
        "sctp-as-i-1-7-4",
        "INIT ACK with 0 outbound streams refused",
        "§3.3.3",
        Kind::Client(client::as_i_1_7_4),
    ),
    purpose(
        "sctp-as-v-1-7-5",
        "two streams usable each way",
        "§5.1.1",
        Kind::Server(as_v_1_7_5),
    ),
    purpose(
        "sctp-as-i-1-8-1",
        "unknown INIT parameters 11: skipped and reported",
        "§3.2.1",
        Kind::Server(as_i_1_8_1),
    ),
    purpose(
        "sctp-as-i-1-8-2",
        "unknown INIT parameter 00: processing stops, not reported",
        "§3.2.1",
        Kind::Server(as_i_1_8_2),
    ),
    purpose(
        "sctp-as-i-1-8-3",
        "unknown INIT parameter 01: processing stops, reported",
        "§3.2.1",
        Kind::Server(as_i_1_8_3),
    ),
    purpose(
        "sctp-as-i-1-8-4",
        "unknown INIT parameter 10: skipped silently",
        "§3.2.1",
        Kind::Server(as_i_1_8_4),
    ),
    purpose(
        "sctp-as-o-1-9-1",
        "INIT in ESTABLISHED answered, association kept",
        "§5.2.2",
        Kind::Server(init_in_established),
    ),
    purpose(
        "sctp-as-o-1-9-2",
        "INIT with a new address in ESTABLISHED: ABORT, association kept",
        "§5.2.2",
        Kind::Server(as_o_1_9_2),
    ),
    purpose(
        "sctp-as-v-1-10-1",
        "INIT without addresses: the source is the peer",
        "§5.1.2",
        Kind::Server(as_v_1_10_1),
    ),
    purpose(
        "sctp-as-v-1-10-2",
        "INIT ACK without addresses: COOKIE ECHO to its source",
        "§5.1.2",
        Kind::Client(client::as_v_1_10_2),
    ),
    purpose(
        "sctp-as-v-1-11-1",
        "every address of a multi-homed INIT used",
        "§5.1.2, §6.4",
        Kind::MultiHomed(as_v_1_11_1),
    ),
    purpose(
        "sctp-as-v-1-11-2",
        "every address of a multi-homed INIT ACK used",
        "§5.1.2, §6.4",
        Kind::Off("the IUT as a client of a multi-homed peer: not yet played by this tester"),
    ),
    purpose(
        "sctp-as-v-1-12-1",
        "INIT with a Host Name Address: ABORT, Unresolvable Address",
        "§5.1.2",
        Kind::Server(as_v_1_12_1),
    ),
    purpose(
        "sctp-as-i-1-12-2",
        "INIT ACK with a Host Name Address: ABORT",
        "§5.1.2",
        Kind::Client(client::as_i_1_12_2),
    ),
    purpose(
        "sctp-as-v-1-13-1",
        "Supported Address Types {IPv4, IPv6} accepted",
        "§5.1.2",
        Kind::Server(as_v_1_13_1),
    ),
    purpose(
        "sctp-as-i-1-13-2",
        "the INIT's own family counts as supported",
        "§5.1.2",
        Kind::Server(as_i_1_13_2),
    ),
    purpose(
        "sctp-as-i-1-14-1",
        "INIT with Initiate Tag 0 discarded",
        "§3.3.2",
        Kind::Server(as_i_1_14_1),
    ),
    purpose(
        "sctp-as-i-1-14-2",
        "INIT ACK with Initiate Tag 0: ABORT",
        "§3.3.3",
        Kind::Client(client::as_i_1_14_2),
    ),
    purpose(
        "sctp-as-i-1-15",
        "INIT retransmitted to each of the peer's addresses",
        "§5.1, §6.4",
        Kind::Off("the IUT as a client of a multi-homed peer: not yet played by this tester"),
    ),
];

/// The IMH group.
pub const IMH: &[Purpose] = &[
    purpose(
        "sctp-imh-i-3-1",
        "INIT too short for its fields discarded",
        "§3.3.2",
        Kind::Server(imh_i_3_1),
    ),
    purpose(
        "sctp-imh-i-3-2",
        "truncated INIT ACK not answered with a COOKIE ECHO",
        "§3.3.3",
        Kind::Client(client::imh_i_3_2),
    ),
    purpose(
        "sctp-imh-i-3-3",
        "COOKIE ECHO with a wrong tag discarded",
        "§8.5",
        Kind::Server(imh_i_3_3),
    ),
    purpose(
        "sctp-imh-i-3-4",
        "INIT with a bad checksum discarded",
        "§6.8",
        Kind::Server(imh_i_3_4),
    ),
    purpose(
        "sctp-imh-i-3-5",
        "COOKIE ECHO with a forged cookie discarded",
        "§5.1.5",
        Kind::Server(imh_i_3_5),
    ),
    purpose(
        "sctp-imh-i-3-6",
        "stale cookie answered with a Stale Cookie ERROR",
        "§5.1.5",
        Kind::Long(imh_i_3_6),
    ),
    purpose(
        "sctp-imh-i-3-7",
        "ABORT with a wrong tag discarded",
        "§8.5.1",
        Kind::Server(imh_i_3_7),
    ),
    purpose(
        "sctp-imh-i-3-8",
        "packet shorter than its INIT's length discarded",
        "§3.2",
        Kind::Server(imh_i_3_8),
    ),
    purpose(
        "sctp-imh-i-3-9",
        "SHUTDOWN ACK with a wrong tag discarded",
        "§8.5",
        Kind::Client(client::imh_i_3_9),
    ),
    purpose(
        "sctp-imh-i-3-10",
        "SHUTDOWN COMPLETE with a wrong tag discarded",
        "§8.5.1",
        Kind::Server(imh_i_3_10),
    ),
];

// ---- AS ----

fn as_v_1_1_2(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.alive()?;
    Ok("INIT ACK with a State Cookie, COOKIE ACK, HEARTBEAT answered".into())
}

fn as_i_1_4(w: &mut Wire) -> Result<String, Outcome> {
    let mut tags = Vec::new();
    for _ in 0..100 {
        let init = w.init();
        tags.push(w.send_init(&init)?.initiate_tag);
    }
    // With no state kept, a packet on one of those tags is out of the blue.
    let how = w.no_association(tags[50])?;
    Ok(format!(
        "100 INITs each answered with an INIT ACK; none left an association ({how})"
    ))
}

fn as_v_1_5_2(w: &mut Wire) -> Result<String, Outcome> {
    let mut tags = Vec::new();
    for _ in 0..1000 {
        let init = w.init();
        tags.push(w.send_init(&init)?.initiate_tag);
    }
    random_looking(&tags)?;
    Ok("1000 INIT ACK tags: distinct, non-zero, each bit set in 40-60 %".into())
}

/// Tags that look random: all distinct, none 0, each bit set in 40 % to
/// 60 % of 1000 (six standard deviations of a fair coin).
fn random_looking(tags: &[u32]) -> Result<(), Outcome> {
    let distinct: HashSet<u32> = tags.iter().copied().collect();
    if distinct.len() != tags.len() {
        return Err(Outcome::fail(format!(
            "only {} distinct tags in {}",
            distinct.len(),
            tags.len()
        )));
    }
    for bit in 0..32 {
        let set = tags.iter().filter(|&&t| t & (1 << bit) != 0).count();
        let share = set * 1000 / tags.len();
        if !(400..=600).contains(&share) {
            return Err(Outcome::fail(format!(
                "bit {bit} is set in {set} of {} tags",
                tags.len()
            )));
        }
    }
    Ok(())
}

fn as_v_1_6_1(w: &mut Wire) -> Result<String, Outcome> {
    let mut init = w.init();
    init.params = vec![
        Param::from_address(w.local(0).ip()),
        Param::Ipv6Address("2001:db8::1".parse().expect("an IPv6 address")),
        Param::CookiePreservative(1000),
        Param::SupportedAddressTypes(vec![ParamType::IPV4_ADDRESS, ParamType::IPV6_ADDRESS]),
        Param::EcnCapable,
    ];
    w.associate_with(init)?;
    w.alive()?;
    Ok("IPv4 and IPv6 addresses, Cookie Preservative, Supported Address Types, ECN: up".into())
}

fn as_v_1_7_1(w: &mut Wire) -> Result<String, Outcome> {
    let mut init = w.init();
    init.inbound_streams = 1;
    let ack = w.send_init(&init)?;
    w.establish(init, ack, Vec::new())?;
    // The echo of a message on stream 1 would be on a stream the tester
    // does not accept: the IUT must not send it. Its echo service may end
    // the association instead.
    let chunk = w.data(1, b"stream 1");
    w.send_assoc(vec![chunk]);
    let own = w.assoc().own_tag;
    let quiet = w.timing.quiet.max(std::time::Duration::from_millis(500));
    let all = w.collect(quiet);
    let ours: Vec<&Received> = all.iter().filter(|r| r.vtag() == Some(own)).collect();
    if let Some(d) = ours.iter().flat_map(|r| r.chunks()).find_map(|c| match c {
        Chunk::Data(d) if d.stream >= 1 => Some(d.stream),
        _ => None,
    }) {
        return Err(Outcome::fail(format!(
            "DATA on stream {d}, beyond the tester's one inbound stream (§5.1.1)"
        )));
    }
    if let Some(end) = ours
        .iter()
        .find(|r| r.has(ChunkType::SHUTDOWN) || r.has(ChunkType::ABORT))
    {
        return Ok(format!(
            "nothing sent on stream 1; the echo service then ended the association ({})",
            end.summary()
        ));
    }
    w.send_message(b"stream 0")?;
    let within = w.timing.reply;
    let echo = w.expect_data(within)?;
    if echo.stream != 0 {
        return Err(Outcome::fail(format!(
            "the echo came on stream {}",
            echo.stream
        )));
    }
    Ok("with MIS 1 the IUT sent on stream 0 only".into())
}

/// The IUT refuses an INIT: no INIT ACK, and either nothing or an ABORT.
fn refused(w: &mut Wire, init: Init, expected: &str) -> Result<String, Outcome> {
    w.send(0, vec![Chunk::Init(init)]);
    let all = w.collect(w.timing.quiet);
    if let Some(ack) = all.iter().find(|r| r.has(ChunkType::INIT_ACK)) {
        return Err(Outcome::fail(format!("answered with {}", ack.summary())));
    }
    Ok(match all.iter().find(|r| r.has(ChunkType::ABORT)) {
        Some(abort) => format!("{} ({expected})", abort.summary()),
        None => "discarded".into(),
    })
}

fn as_i_1_7_2(w: &mut Wire) -> Result<String, Outcome> {
    let mut init = w.init();
    init.outbound_streams = 0;
    refused(w, init, "Invalid Mandatory Parameter allowed")
}

fn as_v_1_7_5(w: &mut Wire) -> Result<String, Outcome> {
    let mut init = w.init();
    init.outbound_streams = 2;
    init.inbound_streams = 2;
    let ack = w.send_init(&init)?;
    if ack.outbound_streams < 2 || ack.inbound_streams < 2 {
        return Err(Outcome {
            verdict: super::Verdict::Inconclusive,
            why: format!(
                "the IUT is configured for {} out and {} in (the purpose wants 2 each way)",
                ack.outbound_streams, ack.inbound_streams
            ),
        });
    }
    w.establish(init, ack, Vec::new())?;
    for stream in 0..2u16 {
        let chunk = w.data(stream, b"two streams");
        w.send_assoc(vec![chunk]);
        let within = w.timing.reply;
        let echo = w.expect_data(within)?;
        if echo.stream != stream {
            return Err(Outcome::fail(format!(
                "the message on stream {stream} was echoed on stream {}",
                echo.stream
            )));
        }
        let sack = w.sack();
        w.send_assoc(vec![sack]);
    }
    Ok("messages on streams 0 and 1 both ways".into())
}

/// The parameter types an INIT ACK reports as unrecognized.
fn reported(ack: &Init) -> Vec<u16> {
    let mut types = Vec::new();
    for p in &ack.params {
        if let Param::UnrecognizedParameter(bytes) = p {
            let mut rest: &[u8] = bytes;
            while rest.len() >= 4 {
                types.push(u16::from_be_bytes([rest[0], rest[1]]));
                let len = usize::from(u16::from_be_bytes([rest[2], rest[3]])).max(4);
                rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
            }
        }
    }
    types
}

/// AS-I-1-8-x: unknown parameters C0C1, `middle`, C0C3; the types the INIT
/// ACK reports must be `expected`, and the handshake completes.
fn unknown_parameters(w: &mut Wire, middle: u16, expected: &[u16]) -> Result<String, Outcome> {
    let mut init = w.init();
    init.params = vec![
        unknown_param(0xC0C1),
        unknown_param(middle),
        unknown_param(0xC0C3),
    ];
    let ack = w.send_init(&init)?;
    let got = reported(&ack);
    if got != expected {
        return Err(Outcome::fail(format!(
            "the INIT ACK reports {} instead of {}",
            hex_list(&got),
            hex_list(expected)
        )));
    }
    w.establish(init, ack, Vec::new())?;
    Ok(format!("reported {}; up", hex_list(&got)))
}

fn hex_list(types: &[u16]) -> String {
    if types.is_empty() {
        return "nothing".into();
    }
    let names: Vec<String> = types.iter().map(|t| format!("{t:#06x}")).collect();
    names.join(", ")
}

fn as_i_1_8_1(w: &mut Wire) -> Result<String, Outcome> {
    unknown_parameters(w, 0xC0C2, &[0xC0C1, 0xC0C2, 0xC0C3])
}

fn as_i_1_8_2(w: &mut Wire) -> Result<String, Outcome> {
    unknown_parameters(w, 0x00C2, &[0xC0C1])
}

fn as_i_1_8_3(w: &mut Wire) -> Result<String, Outcome> {
    unknown_parameters(w, 0x40C2, &[0xC0C1, 0x40C2])
}

fn as_i_1_8_4(w: &mut Wire) -> Result<String, Outcome> {
    unknown_parameters(w, 0x80C2, &[0xC0C1, 0xC0C3])
}

/// A second INIT from the same peer in ESTABLISHED gets an INIT ACK and
/// leaves the association as it was (§5.2.2).
pub fn init_in_established(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let init = w.init();
    w.send_init(&init)?;
    w.alive()?;
    Ok("INIT ACK; the association still answers HEARTBEATs".into())
}

fn as_o_1_9_2(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let mut init = w.init();
    let new: IpAddr = [192, 0, 2, 77].into();
    init.params = vec![Param::from_address(new)];
    let tag = init.initiate_tag;
    w.send(0, vec![Chunk::Init(init)]);
    let reply = w.timing.reply;
    let abort = w.expect("ABORT (restart with new addresses)", reply, |r| {
        r.chunks().iter().find_map(|c| match c {
            Chunk::Abort(a) => Some(a.clone()),
            _ => None,
        })
    })?;
    if w.last.as_ref().and_then(Received::vtag) != Some(tag) {
        return Err(Outcome::fail(
            "the ABORT does not carry the INIT's Initiate Tag (§8.5.1)",
        ));
    }
    if !abort
        .causes
        .iter()
        .any(|c| matches!(c, ErrorCause::RestartWithNewAddresses(_)))
    {
        return Err(Outcome::fail(format!(
            "the ABORT lacks the Restart With New Addresses cause ({})",
            super::wire::describe(&Chunk::Abort(abort))
        )));
    }
    w.alive()?;
    Ok("ABORT with Restart With New Addresses; the association lives".into())
}

fn as_v_1_10_1(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.init();
    let ack = w.send_init(&init)?;
    let from = w.last.as_ref().map(|r| r.from);
    if from != Some(w.iut) {
        return Err(Outcome::fail(format!(
            "the INIT ACK came from {from:?}, not the address the INIT went to"
        )));
    }
    w.establish(init, ack, Vec::new())?;
    w.alive()?;
    Ok("the INIT's source is the peer; INIT ACK from the INIT's destination".into())
}

fn as_v_1_11_1(w: &mut Wire) -> Result<String, Outcome> {
    let mut init = w.init();
    let alternate = w.local(1);
    init.params = vec![
        Param::from_address(w.local(0).ip()),
        Param::from_address(alternate.ip()),
    ];
    w.answer_heartbeats = false;
    w.associate_with(init)?;
    // The alternate address is unconfirmed: the IUT must probe it (§5.4)
    // before it may send there. HEARTBEATs on the primary are answered on
    // the way, so that its path stays up.
    let own = w.assoc().own_tag;
    let peer = w.assoc().peer_tag;
    let until = super::wire::now() + w.timing.timer.max(std::time::Duration::from_secs(65));
    loop {
        let left = until.saturating_duration_since(super::wire::now());
        let (on, from, hb) = w.expect("HEARTBEAT to the tester's second address", left, |r| {
            (r.vtag() == Some(own))
                .then(|| {
                    r.chunks().iter().find_map(|c| match c {
                        Chunk::Heartbeat(h) => Some((r.on, r.from, h.clone())),
                        _ => None,
                    })
                })
                .flatten()
        })?;
        let ack = w.encode(peer, vec![Chunk::HeartbeatAck(hb)]);
        w.send_bytes_to(on, from, &ack);
        if on == 1 {
            break;
        }
    }
    Ok(format!(
        "HEARTBEAT to {alternate}, the INIT's second address"
    ))
}

fn as_v_1_12_1(w: &mut Wire) -> Result<String, Outcome> {
    let mut init = w.init();
    init.params = vec![Param::HostNameAddress(Bytes::from_static(
        b"tester.invalid\0",
    ))];
    let tag = init.initiate_tag;
    w.send(0, vec![Chunk::Init(init)]);
    let abort = w.expect_abort_not("ABORT (Unresolvable Address)", ChunkType::INIT_ACK)?;
    if w.last.as_ref().and_then(Received::vtag) != Some(tag) {
        return Err(Outcome::fail(
            "the ABORT does not carry the INIT's Initiate Tag",
        ));
    }
    if !abort
        .causes
        .iter()
        .any(|c| matches!(c, ErrorCause::UnresolvableAddress(_)))
    {
        return Err(Outcome::fail(format!(
            "the ABORT lacks the Unresolvable Address cause ({})",
            super::wire::describe(&Chunk::Abort(abort))
        )));
    }
    Ok("ABORT with Unresolvable Address".into())
}

fn as_v_1_13_1(w: &mut Wire) -> Result<String, Outcome> {
    let mut init = w.init();
    init.params = vec![Param::SupportedAddressTypes(vec![
        ParamType::IPV4_ADDRESS,
        ParamType::IPV6_ADDRESS,
    ])];
    w.associate_with(init)?;
    w.alive()?;
    Ok("up".into())
}

fn as_i_1_13_2(w: &mut Wire) -> Result<String, Outcome> {
    let mut init = w.init();
    let other = if w.local(0).is_ipv4() {
        ParamType::IPV6_ADDRESS
    } else {
        ParamType::IPV4_ADDRESS
    };
    init.params = vec![Param::SupportedAddressTypes(vec![other])];
    w.associate_with(init)?;
    w.alive()?;
    Ok("the family the INIT came over was taken as supported; up".into())
}

fn as_i_1_14_1(w: &mut Wire) -> Result<String, Outcome> {
    let mut init = w.init();
    init.initiate_tag = 0;
    w.send(0, vec![Chunk::Init(init)]);
    let quiet = w.timing.quiet;
    w.expect_none(
        "RFC 9260 discards an INIT with Initiate Tag 0 (RFC 4960 sent an ABORT)",
        quiet,
        |_| true,
    )?;
    Ok("discarded".into())
}

// ---- IMH ----

/// After a malformed INIT was discarded, a good one is still answered: the
/// IUT was listening all along.
fn then_listening(w: &mut Wire, what: &str) -> Result<String, Outcome> {
    let init = w.init();
    w.send_init(&init)?;
    Ok(format!("{what} discarded; the next INIT answered"))
}

/// Nothing but an ABORT may answer a malformed INIT.
fn no_init_ack(w: &mut Wire) -> Result<(), Outcome> {
    let quiet = w.timing.quiet;
    w.expect_none("no INIT ACK", quiet, |r| r.has(ChunkType::INIT_ACK))
}

fn imh_i_3_1(w: &mut Wire) -> Result<String, Outcome> {
    // Type 1, length 12: the tag and the window, nothing after.
    let mut chunk = vec![1, 0, 0, 12];
    chunk.extend_from_slice(&w.random.nonzero_u32().to_be_bytes());
    chunk.extend_from_slice(&65536u32.to_be_bytes());
    let packet = w.raw(0, &chunk);
    w.send_bytes(0, &packet);
    no_init_ack(w)?;
    then_listening(w, "the 12-byte INIT")
}

fn imh_i_3_3(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.init();
    let ack = w.send_init(&init)?;
    let wrong = ack.initiate_tag ^ 0x0101_0101;
    w.send(wrong, vec![Wire::cookie_echo(&ack)]);
    let quiet = w.timing.quiet;
    w.expect_none("no COOKIE ACK", quiet, |r| r.has(ChunkType::COOKIE_ACK))?;
    let how = w.no_association(ack.initiate_tag)?;
    Ok(format!("discarded; no association ({how})"))
}

fn imh_i_3_4(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.init();
    let mut packet = w.encode(0, vec![Chunk::Init(init)]);
    packet[8] ^= 0xFF;
    w.send_bytes(0, &packet);
    no_init_ack(w)?;
    then_listening(w, "the INIT with a bad checksum")
}

/// The INIT ACK's cookie with one byte in its middle changed.
pub fn forged(ack: &Init) -> Init {
    let mut forged = ack.clone();
    for p in &mut forged.params {
        if let Param::StateCookie(cookie) = p {
            let mut bytes = cookie.to_vec();
            let middle = bytes.len() / 2;
            if let Some(b) = bytes.get_mut(middle) {
                *b ^= 0x5A;
            }
            *cookie = Bytes::from(bytes);
        }
    }
    forged
}

fn imh_i_3_5(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.init();
    let ack = w.send_init(&init)?;
    w.send(ack.initiate_tag, vec![Wire::cookie_echo(&forged(&ack))]);
    let quiet = w.timing.quiet;
    w.expect_none("no COOKIE ACK", quiet, |r| r.has(ChunkType::COOKIE_ACK))?;
    let how = w.no_association(ack.initiate_tag)?;
    Ok(format!(
        "the forged cookie was discarded; no association ({how})"
    ))
}

fn imh_i_3_6(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.init();
    let ack = w.send_init(&init)?;
    // RFC 9260's Valid.Cookie.Life is 60 s; a longer-lived cookie makes
    // this purpose inconclusive rather than failed.
    std::thread::sleep(std::time::Duration::from_secs(65));
    w.drain();
    w.send(ack.initiate_tag, vec![Wire::cookie_echo(&ack)]);
    let reply = w.timing.reply;
    let got = w.expect("ERROR with Stale Cookie", reply, |r| {
        if r.has(ChunkType::COOKIE_ACK) {
            return Some(Err(()));
        }
        r.chunks()
            .iter()
            .any(|c| {
                matches!(c, Chunk::Error(e)
                    if e.causes.iter().any(|c| matches!(c, ErrorCause::StaleCookie { .. })))
            })
            .then_some(Ok(()))
    })?;
    match got {
        Ok(()) => Ok("65 s later: ERROR with Stale Cookie".into()),
        Err(()) => Err(Outcome {
            verdict: super::Verdict::Inconclusive,
            why:
                "the cookie was still accepted after 65 s: its life is longer than the default 60 s"
                    .into(),
        }),
    }
}

fn imh_i_3_7(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let wrong = w.assoc().peer_tag ^ 0x0F0F_0F0F;
    w.send(
        wrong,
        vec![Chunk::Abort(Abort {
            reflected_tag: false,
            causes: Vec::new(),
        })],
    );
    w.alive()?;
    Ok("discarded; the association lives".into())
}

fn imh_i_3_8(w: &mut Wire) -> Result<String, Outcome> {
    let init = w.init();
    let mut packet = w.encode(0, vec![Chunk::Init(init)]);
    // The chunk claims 100 bytes; the datagram ends after 20.
    packet[14..16].copy_from_slice(&100u16.to_be_bytes());
    packet.truncate(12 + 20);
    let crc = usctp::proto::chunk::packet::packet_checksum(&packet).unwrap_or_default();
    packet[8..12].copy_from_slice(&crc.to_le_bytes());
    w.send_bytes(0, &packet);
    no_init_ack(w)?;
    then_listening(w, "the INIT longer than its packet")
}

fn imh_i_3_10(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.shutdown_ack_sent()?;
    let wrong = w.assoc().peer_tag ^ 0x00FF_00FF;
    w.send(
        wrong,
        vec![Chunk::ShutdownComplete(
            usctp::proto::chunk::ShutdownComplete {
                reflected_tag: false,
            },
        )],
    );
    let timer = w.timing.timer;
    w.expect_chunk(
        "the SHUTDOWN ACK retransmitted (T2-shutdown)",
        ChunkType::SHUTDOWN_ACK,
        timer,
    )?;
    w.shutdown_complete();
    Ok("discarded; SHUTDOWN ACK retransmitted".into())
}
