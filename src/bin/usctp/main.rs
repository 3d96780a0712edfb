//! The `usctp` command-line tool.

mod decode;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// SCTP (RFC 9260) in user space over UDP encapsulation (RFC 6951).
#[derive(Debug, Parser)]
#[command(name = "usctp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Dissect the SCTP packets carried in UDP in a pcap or pcapng capture.
    Decode {
        /// The capture file.
        file: PathBuf,
        /// The UDP port SCTP is encapsulated on (either direction).
        #[arg(long, default_value_t = 9899)]
        udp_port: u16,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode { file, udp_port } => decode::run(&file, udp_port),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usctp: {e}");
            ExitCode::FAILURE
        }
    }
}
