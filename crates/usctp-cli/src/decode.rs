//! `usctp decode`: one line per SCTP packet found in UDP in a capture.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Read, Write};

use anyhow::Context as _;
use std::path::Path;

use usctp::capture::{self, Datagram};
use usctp::proto::chunk::packet::{self, Chunks, CommonHeader};

/// What `usctp decode` reads and how it prints.
#[derive(Debug, Clone)]
pub struct Options {
    /// The capture (`-`: standard input).
    pub file: std::path::PathBuf,
    /// The UDP port SCTP is encapsulated on (either direction).
    pub udp_port: u16,
    /// At the end of the file, wait for more (a capture being written).
    pub follow: bool,
    /// Timestamps since the Unix epoch instead of since the first packet.
    pub absolute_time: bool,
}

/// Prints every SCTP packet of the capture carried on the UDP port, each as
/// soon as it is read (a pipe from `tcpdump -w -` is decoded live). Fails
/// when the input cannot be read as a capture; a capture damaged part way
/// fails after the packets before the damage are printed.
pub fn run(options: &Options) -> anyhow::Result<()> {
    let file = &options.file;
    let input: Box<dyn Read> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let f = File::open(file).with_context(|| file.display().to_string())?;
        if options.follow {
            Box::new(capture::Follow::new(f, FOLLOW_POLL))
        } else {
            Box::new(f)
        }
    };
    let named = || file.display().to_string();
    let reader = capture::CaptureReader::new(input).with_context(named)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut first = None;
    for d in reader {
        let d = d.with_context(named)?;
        if d.src.port() != options.udp_port && d.dst.port() != options.udp_port {
            continue;
        }
        let time = d.time.map(|t| {
            if options.absolute_time {
                t
            } else {
                t.saturating_sub(*first.get_or_insert(t))
            }
        });
        // A closed pipe (`usctp decode f | head`) is not an error.
        if writeln!(out, "{}", describe_at(&d, time)).is_err() {
            return Ok(());
        }
        // Live input: each line as it is decoded.
        if options.follow || file == Path::new("-") {
            let _ = out.flush();
        }
    }
    let _ = out.flush();
    Ok(())
}

/// How often `--follow` looks for more at the end of the file.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// The line for one datagram with its time (seconds, to the microsecond)
/// after the frame number.
pub fn describe_at(d: &Datagram, time: Option<std::time::Duration>) -> String {
    let line = describe(d);
    match (time, line.split_once(' ')) {
        (Some(t), Some((frame, rest))) => {
            format!("{frame} {}.{:06} {rest}", t.as_secs(), t.subsec_micros())
        }
        _ => line,
    }
}

/// The line for one datagram.
pub fn describe(d: &Datagram) -> String {
    let mut line = format!("{} {} > {}", d.frame, d.src, d.dst);
    let header = match CommonHeader::parse(&d.payload) {
        Ok(h) => h,
        Err(e) => {
            let _ = write!(line, " malformed: {e}");
            return line;
        }
    };
    let _ = write!(line, " sctp {header}");
    match packet::verify_checksum(&d.payload) {
        Ok(()) => line.push_str(" checksum ok"),
        Err(e) => {
            let _ = write!(line, " bad checksum ({e})");
        }
    }
    let mut types = Vec::new();
    let mut sep = ":";
    for chunk in Chunks::new(d.payload.clone()) {
        match chunk {
            Ok(chunk) => {
                let _ = write!(line, "{sep} {chunk}");
                types.push(chunk.chunk_type());
                sep = ";";
            }
            Err(e) => {
                let _ = write!(line, "{sep} malformed: {e}");
                return line;
            }
        }
    }
    if types.is_empty() {
        line.push_str(": malformed: packet holds no chunk");
    } else if types.len() > 1
        && let Some(alone) = types.iter().find(|t| t.must_be_alone())
    {
        let _ = write!(line, "; malformed: {alone} bundled with other chunks");
    }
    line
}
