//! Acknowledgement (A) and unknown chunks (M).

use std::time::Duration;

use bytes::Bytes;
use usctp::proto::chunk::{Chunk, ChunkType, ErrorCause, UnknownChunk};

use super::data::ms;
use super::wire::{Received, Wire, data_tsn, now};
use super::{Kind, Outcome, Purpose, purpose};

/// The A group.
pub const A: &[Purpose] = &[
    purpose(
        "sctp-a-v-9-1",
        "the first DATA acknowledged at once",
        "§6.2",
        Kind::Server(a_v_9_1),
    ),
    purpose(
        "sctp-a-v-9-2",
        "two DATA chunks in one packet: one SACK",
        "§6.2",
        Kind::Server(a_v_9_2),
    ),
    purpose(
        "sctp-a-o-9-3",
        "a gap acknowledged at once",
        "§6.2, §6.7",
        Kind::Server(a_o_9_3),
    ),
];

/// The M group.
pub const M: &[Purpose] = &[
    purpose(
        "sctp-m-i-10-1",
        "unknown chunk 11: skipped, reported, DATA processed",
        "§3.2",
        Kind::Server(m_i_10_1),
    ),
    purpose(
        "sctp-m-i-10-2",
        "unknown chunk 00: the rest discarded silently",
        "§3.2",
        Kind::Server(m_i_10_2),
    ),
    purpose(
        "sctp-m-i-10-3",
        "unknown chunk 01: the rest discarded, reported",
        "§3.2",
        Kind::Server(m_i_10_3),
    ),
    purpose(
        "sctp-m-i-10-4",
        "unknown chunk 10: skipped silently, DATA processed",
        "§3.2",
        Kind::Server(m_i_10_4),
    ),
];

/// The SACK delay the tester takes as "at once": under RFC 9260's 200 ms.
const AT_ONCE: Duration = Duration::from_millis(190);

// ---- A ----

fn a_v_9_1(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let chunk = w.data(0, b"first");
    let tsn = data_tsn(&chunk);
    let sent = now();
    w.send_assoc(vec![chunk]);
    let reply = w.timing.reply;
    w.expect_sack(tsn, reply)?;
    let after = w.last.as_ref().map_or(reply, |r| r.at - sent);
    if after >= AT_ONCE {
        return Err(Outcome::fail(format!(
            "the first DATA was acknowledged after {} (§6.2: at once)",
            ms(after)
        )));
    }
    Ok(format!("SACK after {}", ms(after)))
}

fn a_v_9_2(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    let one = w.data(0, b"one");
    let two = w.data(0, b"two");
    let second = data_tsn(&two);
    w.send_assoc(vec![one, two]);
    let own = w.assoc().own_tag;
    let reply = w.timing.reply;
    let sack = w.expect("SACK", reply, |r| {
        (r.vtag() == Some(own))
            .then(|| {
                r.chunks().iter().find_map(|c| match c {
                    Chunk::Sack(s) => Some(s.clone()),
                    _ => None,
                })
            })
            .flatten()
    })?;
    if sack.cumulative_tsn_ack != second {
        return Err(Outcome::fail(format!(
            "the first SACK acknowledges up to TSN {}, not both ({})",
            sack.cumulative_tsn_ack.0, second.0
        )));
    }
    Ok("one SACK for both".into())
}

fn a_o_9_3(w: &mut Wire) -> Result<String, Outcome> {
    w.associate()?;
    w.send_message(b"first")?;
    let missing = w.data(0, b"missing");
    let after = w.data(0, b"after the gap");
    let missing_tsn = data_tsn(&missing);
    let after_tsn = data_tsn(&after);
    let sent = now();
    w.send_assoc(vec![after]);
    let own = w.assoc().own_tag;
    let reply = w.timing.reply;
    let sack = w.expect("SACK with a gap block", reply, |r| {
        (r.vtag() == Some(own))
            .then(|| {
                r.chunks().iter().find_map(|c| match c {
                    Chunk::Sack(s) if !s.gap_blocks.is_empty() => Some(s.clone()),
                    _ => None,
                })
            })
            .flatten()
    })?;
    let delay = w.last.as_ref().map_or(reply, |r| r.at - sent);
    if sack.cumulative_tsn_ack.next() != missing_tsn {
        return Err(Outcome::fail(
            "the gap SACK's cumulative ack is not just before the gap",
        ));
    }
    if delay >= AT_ONCE {
        return Err(Outcome::fail(format!(
            "the gap was reported after {} (§6.7: at once)",
            ms(delay)
        )));
    }
    w.send_assoc(vec![missing]);
    w.expect_sack(after_tsn, reply)?;
    Ok(format!(
        "gap reported after {}; all acknowledged once it was filled",
        ms(delay)
    ))
}

// ---- M ----

/// M-I-10-x: an unknown chunk of `chunk_type` bundled before a DATA chunk.
/// `reported`: an ERROR (Unrecognized Chunk Type) must come, else none
/// may; `processed`: the DATA must be acknowledged, else it must not.
fn unknown_chunk(
    w: &mut Wire,
    chunk_type: u8,
    reported: bool,
    processed: bool,
) -> Result<String, Outcome> {
    w.associate()?;
    let unknown = Chunk::Unknown(UnknownChunk {
        chunk_type: ChunkType(chunk_type),
        flags: 0,
        value: Bytes::from_static(&[0xEE; 4]),
    });
    let data = w.data(0, b"behind an unknown chunk");
    let tsn = data_tsn(&data);
    w.send_assoc(vec![unknown, data]);
    let own = w.assoc().own_tag;
    let all = w.collect(w.timing.quiet.max(Duration::from_millis(500)));
    let ours: Vec<&Received> = all.iter().filter(|r| r.vtag() == Some(own)).collect();
    let errored = ours.iter().any(|r| {
        r.chunks().iter().any(|c| {
            matches!(c, Chunk::Error(e)
                if e.causes.iter().any(|c| matches!(c, ErrorCause::UnrecognizedChunkType(_))))
        })
    });
    let acked = ours.iter().any(|r| {
        r.chunks()
            .iter()
            .any(|c| matches!(c, Chunk::Sack(s) if s.cumulative_tsn_ack.is_at_or_after(tsn)))
    });
    let what = format!("chunk type {chunk_type:#04x}");
    match (errored == reported, acked == processed) {
        (true, true) => Ok(format!(
            "{what}: {}, DATA {}",
            if reported {
                "ERROR (Unrecognized Chunk Type)"
            } else {
                "no ERROR"
            },
            if processed {
                "acknowledged"
            } else {
                "not processed"
            }
        )),
        (false, _) => Err(Outcome::fail(format!(
            "{what}: {} (§3.2: its upper bits say {})",
            if errored { "reported" } else { "not reported" },
            if reported {
                "report it"
            } else {
                "do not report it"
            }
        ))),
        (true, false) => Err(Outcome::fail(format!(
            "{what}: the DATA behind it was {} (§3.2: its upper bits say {})",
            if acked { "processed" } else { "not processed" },
            if processed { "skip and go on" } else { "stop" }
        ))),
    }
}

fn m_i_10_1(w: &mut Wire) -> Result<String, Outcome> {
    unknown_chunk(w, 0xFE, true, true)
}

fn m_i_10_2(w: &mut Wire) -> Result<String, Outcome> {
    unknown_chunk(w, 0x3E, false, false)
}

fn m_i_10_3(w: &mut Wire) -> Result<String, Outcome> {
    unknown_chunk(w, 0x7E, true, false)
}

fn m_i_10_4(w: &mut Wire) -> Result<String, Outcome> {
    unknown_chunk(w, 0xBE, false, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unknown_chunk_types_are_unknown_and_have_their_upper_bits() {
        for (t, bits) in [(0xFEu8, 3u8), (0x3E, 0), (0x7E, 1), (0xBE, 2)] {
            assert!(!ChunkType(t).is_known(), "{t:#x}");
            assert_eq!(t >> 6, bits);
        }
    }
}
