//! The daytime service of the classic lksctp tutorial: the server sends the
//! local time on stream 0 and GMT on stream 1, then closes the association;
//! the client prints the association status and both messages.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use usctp::capture::Recorder;
use usctp::proto::association::AssociationState;
use usctp::proto::config::Config;
use usctp::socket::{ListenOptions, SctpListener, StreamEvent};

use crate::watch::Watch;

/// Streams requested each way, as the classic example's SCTP_INITMSG does.
const STREAMS: u16 = 5;

/// The classic example's parameters: 5 streams each way, unless the user
/// set `--streams`.
pub fn config(base: Config, streams_given: bool) -> Config {
    if streams_given {
        return base;
    }
    base.with_outbound_streams(STREAMS)
        .with_max_inbound_streams(STREAMS)
}

/// lksctp's numbering of association states (enum sctp_sstat_state).
fn lksctp_state(state: AssociationState) -> u8 {
    match state {
        AssociationState::Closed => 1,
        AssociationState::CookieWait => 2,
        AssociationState::CookieEchoed => 3,
        AssociationState::Established => 4,
        AssociationState::ShutdownPending => 5,
        AssociationState::ShutdownSent => 6,
        AssociationState::ShutdownReceived => 7,
        AssociationState::ShutdownAckSent => 8,
        // A state lksctp has no number for (SCTP_EMPTY).
        _ => 0,
    }
}

/// Serves `max` associations (forever when `None`).
pub async fn server(listener: SctpListener, max: Option<usize>, verbose: bool) -> io::Result<()> {
    let mut served = 0;
    let mut watch = Watch::new(crate::services::now(), verbose);
    while max.is_none_or(|m| served < m) {
        eprintln!("Awaiting a new connection");
        let (mut stream, peer) = listener.accept().await?;
        let id = stream.assoc_id();
        if verbose {
            eprintln!("association {id} from {peer}");
        }
        served += 1;
        let now = chrono::Local::now();
        // ctime(3) and asctime(gmtime(3)) formats.
        let local = now.format("%a %b %e %H:%M:%S %Y\n").to_string();
        let gmt = now.naive_utc().format("%a %b %e %H:%M:%S %Y\n").to_string();
        for (stream_id, text) in [(0, local), (1, gmt)] {
            // One peer's trouble (it shut down first, say) is reported and
            // the server goes on.
            if let Err(e) = stream.send(stream_id, 0, Bytes::from(text)).await {
                eprintln!("association {}: {e}", stream.assoc_id());
                break;
            }
        }
        stream.shutdown();
        // Wait for the graceful close, so that both messages are delivered.
        while let Some(event) = stream.next_event().await {
            watch.note(id, &event);
        }
    }
    Ok(())
}

/// Connects, prints the status block and the two messages.
pub async fn client(
    remote: SocketAddr,
    port: u16,
    addrs: &crate::services::Addresses,
    config: Config,
    pcap: Option<Arc<Recorder>>,
    verbose: bool,
) -> io::Result<()> {
    let mut stream = crate::services::connect(remote, port, addrs, config, pcap).await?;
    let id = stream.assoc_id();
    let mut watch = Watch::new(crate::services::now(), verbose);
    // SCTP_STATUS right after the connect, as the classic client asks for
    // it; the server may already have finished by the time we could ask
    // again.
    let status = stream
        .status_at_start()
        .cloned()
        .ok_or_else(|| io::Error::other("association vanished"))?;
    say!("assoc id  = {}", status.id);
    say!("state     = {}", lksctp_state(status.state));
    say!("instrms   = {}", status.inbound_streams);
    say!("outstrms  = {}", status.outbound_streams);
    let mut seen = [false; 2];
    while seen != [true, true] {
        let message = loop {
            match stream.next_event().await {
                Some(StreamEvent::Message(m)) => break Some(m),
                Some(other) => watch.note(id, &other),
                None => break None,
            }
        };
        let Some(message) = message else {
            let why = match stream.close_reason() {
                Some(e) => e.to_string(),
                None => "closed before both messages arrived".into(),
            };
            return Err(io::Error::other(why));
        };
        let text = String::from_utf8_lossy(&message.data);
        let text = text.trim_end();
        match message.stream {
            0 => say!("(Local) {text}"),
            1 => say!("(GMT  ) {text}"),
            other => say!("(stream {other}) {text}"),
        }
        if let Some(slot) = seen.get_mut(usize::from(message.stream)) {
            *slot = true;
        }
    }
    // The server closes the association: let that finish cleanly (bounded;
    // should the server not close, dropping the stream shuts it down).
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(event) = stream.next_event().await {
            watch.note(id, &event);
        }
    })
    .await;
    Ok(())
}

/// Binds the daytime server's listener.
pub async fn listen(
    listen: &[SocketAddr],
    port: u16,
    max: Option<usize>,
    config: Config,
    pcap: Option<Arc<Recorder>>,
    verbose: bool,
) -> io::Result<SctpListener> {
    let options = ListenOptions::default()
        .with_config(config)
        .with_max_associations(max.unwrap_or(usize::MAX))
        .with_pcap(pcap)
        .with_events(crate::notifications(verbose));
    crate::services::bind(listen, port, options).await
}

/// Server and client in one process over UDP on loopback.
pub async fn demo(pcap: Option<Arc<Recorder>>) -> io::Result<()> {
    let config = config(Config::default(), false);
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    // Only the client records: it sees every packet of the one association
    // once (the server would record each a second time).
    let listener = listen(&[any], 13, Some(1), config.clone(), None, false).await?;
    let server_addr = listener.local_addr();
    eprintln!("daytime server on udp {server_addr}, sctp port 13");
    let server = tokio::spawn(server(listener, Some(1), false));
    let addrs = crate::services::Addresses {
        local: vec![any],
        ..Default::default()
    };
    client(server_addr, 13, &addrs, config, pcap, false).await?;
    server.await.map_err(io::Error::other)??;
    Ok(())
}
