//! `usctp decode`: one line per SCTP packet found in UDP in a capture.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use usctp::capture::{self, Datagram};
use usctp::proto::chunk::packet::{self, Chunks, CommonHeader};

/// Prints every SCTP packet of `file` (standard input for `-`) carried on
/// `udp_port`. Fails only when the file cannot be read as a capture.
pub fn run(file: &Path, udp_port: u16) -> Result<(), String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", file.display());
    let datagrams = if file == Path::new("-") {
        capture::read_udp(std::io::stdin().lock())
    } else {
        capture::read_udp(File::open(file).map_err(|e| named(&e))?)
    }
    .map_err(|e| named(&e))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for d in datagrams
        .iter()
        .filter(|d| d.src.port() == udp_port || d.dst.port() == udp_port)
    {
        // A closed pipe (`usctp decode f | head`) is not an error.
        if writeln!(out, "{}", describe(d)).is_err() {
            return Ok(());
        }
    }
    let _ = out.flush();
    Ok(())
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
    } else if types.len() > 1 {
        if let Some(alone) = types.iter().find(|t| t.must_be_alone()) {
            let _ = write!(line, "; malformed: {alone} bundled with other chunks");
        }
    }
    line
}
