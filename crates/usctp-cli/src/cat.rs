//! `usctp cat`: like `ncat --sctp`. Lines of standard input go out as
//! messages; messages that arrive are written to standard output. When
//! standard input ends, the association is shut down gracefully.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use usctp::capture::Recorder;
use usctp::proto::config::Config;
use usctp::socket::{ListenOptions, StreamEvent};

/// Where the association comes from.
pub enum Mode {
    Connect {
        remote: SocketAddr,
        addrs: crate::services::Addresses,
    },
    Listen(Vec<SocketAddr>),
}

/// What `cat` sends with and how it reports.
pub struct Settings {
    pub port: u16,
    pub stream: u16,
    pub ppid: u32,
    pub config: Config,
    pub verbose: bool,
    pub pcap: Option<Arc<Recorder>>,
}

pub async fn run(mode: Mode, settings: Settings) -> io::Result<()> {
    let Settings {
        port,
        stream: stream_id,
        ppid,
        config,
        verbose,
        pcap,
    } = settings;
    let mut stream = match mode {
        Mode::Connect { remote, addrs } => {
            crate::services::connect(remote, port, &addrs, config, pcap).await?
        }
        Mode::Listen(listen) => {
            let options = ListenOptions {
                config,
                max_associations: 1,
                pcap,
                ..ListenOptions::default()
            };
            let listener = crate::services::bind(&listen, port, options).await?;
            if verbose {
                eprintln!(
                    "listening on udp {}, sctp port {port}",
                    listener.local_addr()
                );
            }
            listener.accept().await?.0
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
