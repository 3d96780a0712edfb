//! `usctp cat`: like `ncat --sctp`. Lines of standard input go out as
//! messages; messages that arrive are written to standard output. When
//! standard input ends, the association is shut down gracefully.

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use usctp::config::Config;
use usctp::socket::{ConnectOptions, SctpListener, SctpStream, StreamEvent};

/// Where the association comes from.
pub enum Mode {
    Connect {
        remote: SocketAddr,
        local: Option<SocketAddr>,
    },
    Listen(SocketAddr),
}

pub async fn run(
    mode: Mode,
    port: u16,
    stream_id: u16,
    ppid: u32,
    config: Config,
    verbose: bool,
) -> io::Result<()> {
    let mut stream = match mode {
        Mode::Connect { remote, local } => {
            let mut options = ConnectOptions {
                config,
                ..ConnectOptions::default()
            };
            if let Some(local) = local {
                options.local = local;
            }
            SctpStream::connect(remote, port, options).await?
        }
        Mode::Listen(addr) => {
            let listener = SctpListener::bind_with_limit(addr, port, config, 1).await?;
            if verbose {
                eprintln!(
                    "listening on udp {}, sctp port {port}",
                    listener.local_addr()
                );
            }
            listener.accept().await?
        }
    };
    if verbose {
        let e = stream.established();
        eprintln!(
            "association {} up: {} outbound / {} inbound streams, peer {:?}",
            stream.assoc_id(),
            e.outbound_streams,
            e.inbound_streams,
            e.peer_addresses
        );
    }
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    let mut input_open = true;
    loop {
        tokio::select! {
            line = lines.next_line(), if input_open => match line? {
                Some(line) => {
                    let mut text = line.into_bytes();
                    text.push(b'\n');
                    stream.send(stream_id, ppid, Bytes::from(text)).await.map_err(io::Error::other)?;
                }
                None => {
                    input_open = false;
                    stream.shutdown();
                }
            },
            event = stream.next_event() => match event {
                Some(StreamEvent::Message(m)) => {
                    stdout.write_all(&m.data).await?;
                    stdout.flush().await?;
                }
                Some(StreamEvent::Closed(reason)) => {
                    if verbose {
                        eprintln!("association closed: {}", reason.as_ref().map_or("gracefully".into(), |e| e.to_string()));
                    }
                    return match reason {
                        None => Ok(()),
                        Some(e) => Err(io::Error::other(e)),
                    };
                }
                Some(other) => {
                    if verbose {
                        eprintln!("notification: {other:?}");
                    }
                }
                None => return Ok(()),
            },
        }
    }
}
