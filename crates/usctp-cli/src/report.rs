//! What the measuring subcommands print: one line per report, `key=value`
//! words for people or, with `--json`, one JSON object whose fields are the
//! structs' below (names stable; rates and times rounded as printed).

use serde::Serialize;

/// `discard-server`: one association that ended.
#[derive(Debug, Serialize)]
pub struct Discarded {
    /// User data bytes received.
    pub bytes: usize,
    /// Messages received.
    pub messages: usize,
    /// From the association's first message to its end.
    pub seconds: f64,
    /// `bytes` over `seconds`, in 10^6 bytes per second.
    #[serde(rename = "MBps")]
    pub mbps: f64,
}

/// `ping`: the round trips of one association.
#[derive(Debug, Serialize)]
pub struct Ping {
    /// Echoes received.
    pub messages: usize,
    /// Echoes that differed from what was sent.
    pub mismatches: usize,
    /// Median round trip, microseconds.
    pub rtt_us_p50: u64,
    /// 99th percentile round trip, microseconds.
    pub rtt_us_p99: u64,
    /// Longest round trip, microseconds.
    pub rtt_us_max: u64,
    /// The primary path at the end (the peer's address).
    pub path: String,
    /// Changes of the primary path seen.
    pub failovers: usize,
    /// SCTP packets this end sent on the association.
    pub packets_sent: u64,
    /// SCTP packets this end received on it.
    pub packets_received: u64,
    /// DATA chunks this end sent again.
    pub retransmitted_chunks: u64,
    /// T3-rtx expiries at this end.
    pub t3_expiries: u64,
}

/// `bench`: bulk transfer over one association or several.
#[derive(Debug, Serialize)]
pub struct Bench {
    /// User data bytes sent and acknowledged.
    pub bytes: usize,
    /// Messages sent.
    pub messages: usize,
    /// From the first connect to the last acknowledgement.
    pub seconds: f64,
    /// `bytes` over `seconds`, in 10^6 bytes per second.
    #[serde(rename = "MBps")]
    pub mbps: f64,
    /// Changes of the primary path seen, summed over the associations.
    pub failovers: usize,
    /// Associations used.
    pub associations: usize,
    /// DATA chunks sent again, summed.
    pub retransmitted_chunks: u64,
    /// Fast retransmissions (RFC 9260 §7.2.4, or RACK), summed.
    pub fast_retransmits: u64,
    /// T3-rtx expiries, summed.
    pub t3_expiries: u64,
    /// Retransmissions that were lost again, summed.
    pub lost_retransmissions: u64,
    /// RACK-TLP loss probes sent, summed.
    pub loss_probes: u64,
    /// Gap Ack Blocks received in SACKs, summed.
    pub gap_blocks_received: u64,
    /// The smallest SCTP packet size path MTU discovery left any
    /// association's primary path at.
    pub path_mtu: usize,
}

/// `handshakes`: associations set up and closed.
#[derive(Debug, Serialize)]
pub struct Handshakes {
    /// Associations set up and closed.
    pub handshakes: usize,
    /// For all of them.
    pub seconds: f64,
    /// `handshakes` over `seconds`.
    pub per_second: f64,
}

/// `x` to `places` decimal places (as the report prints it).
pub fn rounded(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

/// Prints `report` on one line of standard output: JSON, or `key=value`
/// words in the same order.
pub fn print<T: Serialize>(json: bool, report: &T) {
    let line = if json {
        one_line(report)
    } else {
        words(report)
    };
    say!("{line}");
}

/// JSON on one line with a space after each colon and comma, as the
/// reports have always been printed (`{"bytes": 16, "messages": 1}`).
fn one_line<T: Serialize>(report: &T) -> String {
    let mut out = Vec::new();
    let mut writer = serde_json::Serializer::with_formatter(&mut out, Spaced);
    if report.serialize(&mut writer).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// serde_json's compact formatter with spaces after separators.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// `key=value` words: strings as they are, numbers as JSON writes them.
fn words<T: Serialize>(report: &T) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(report) else {
        return String::new();
    };
    fields
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_words_carry_the_same_fields_in_order() {
        let ping = Ping {
            messages: 3,
            mismatches: 0,
            rtt_us_p50: 40,
            rtt_us_p99: 90,
            rtt_us_max: 95,
            path: "[::1]:9899".into(),
            failovers: 1,
            packets_sent: 7,
            packets_received: 6,
            retransmitted_chunks: 0,
            t3_expiries: 0,
        };
        let json = one_line(&ping);
        assert_eq!(
            json,
            r#"{"messages": 3, "mismatches": 0, "rtt_us_p50": 40, "rtt_us_p99": 90, "rtt_us_max": 95, "path": "[::1]:9899", "failovers": 1, "packets_sent": 7, "packets_received": 6, "retransmitted_chunks": 0, "t3_expiries": 0}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["path"], "[::1]:9899");
        assert_eq!(
            words(&ping),
            "messages=3 mismatches=0 rtt_us_p50=40 rtt_us_p99=90 rtt_us_max=95 path=[::1]:9899 failovers=1 packets_sent=7 packets_received=6 retransmitted_chunks=0 t3_expiries=0"
        );
        let d = Discarded {
            bytes: 10,
            messages: 1,
            seconds: rounded(0.123_456_789, 6),
            mbps: rounded(81.000_4, 3),
        };
        assert_eq!(
            one_line(&d),
            r#"{"bytes": 10, "messages": 1, "seconds": 0.123457, "MBps": 81.0}"#
        );
    }
}
