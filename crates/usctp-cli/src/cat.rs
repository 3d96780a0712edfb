//! `usctp cat`: like `ncat --sctp`. Standard input goes out as messages,
//! each read one message (a line at a time from a terminal), bytes as they
//! are; messages that arrive are written to standard output. When standard
//! input ends, the association is shut down gracefully. Standard output
//! not read holds the messages back, and the peer with them (the receive
//! window stays closed until they are written).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use usctp::capture::Recorder;
use usctp::proto::config::Config;
use usctp::socket::{ListenOptions, StreamEvent};

use crate::watch::Watch;

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
            let options = ListenOptions::default()
                .with_config(config)
                .with_max_associations(1)
                .with_pcap(pcap)
                .with_events(crate::notifications(verbose));
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
    let id = stream.assoc_id();
    // Data that never reached the peer fails the command.
    let mut events = stream.subscription();
    events.send_failed = true;
    stream.subscribe(events);
    let mut undelivered = 0;
    let mut watch = Watch::new(crate::services::now(), verbose);
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let mut input = vec![0; READ_SIZE];
    let mut input_open = true;
    loop {
        tokio::select! {
            read = stdin.read(&mut input), if input_open => match read? {
                0 => {
                    input_open = false;
                    stream.shutdown();
                }
                n => {
                    let data = Bytes::copy_from_slice(&input[..n]);
                    stream.send(stream_id, ppid, data).await.map_err(io::Error::other)?;
                }
            },
            event = stream.next_event() => match event {
                Some(StreamEvent::Message(m)) => {
                    stdout.write_all(&m.data).await?;
                    stdout.flush().await?;
                }
                Some(StreamEvent::Closed(reason)) => {
                    watch.note(id, &StreamEvent::Closed(reason.clone()));
                    return match reason {
                        Some(e) => Err(io::Error::other(e)),
                        None if undelivered > 0 => Err(io::Error::other(format!(
                            "{undelivered} message(s) not delivered (the peer shut down first)"
                        ))),
                        None => Ok(()),
                    };
                }
                Some(StreamEvent::SendFailed(unsent)) => {
                    undelivered += unsent.len();
                    watch.note(id, &StreamEvent::SendFailed(unsent));
                }
                Some(other) => watch.note(id, &other),
                None => return Ok(()),
            },
        }
    }
}

/// Bytes of standard input read at once at most (one message each).
const READ_SIZE: usize = 64 * 1024;
