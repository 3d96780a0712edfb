//! `usctp handshakes`: associations set up and closed gracefully one after
//! another against a server (a discard server, say), from one endpoint as
//! a client program's would be, `--parallel P` clients at once sharing the
//! count; reports handshakes per second.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use usctp::Endpoint;
use usctp::capture::Recorder;
use usctp::proto::config::Config;
use usctp::socket::ConnectOptions;

use crate::services::{Addresses, client_endpoint, now};

/// What to measure.
pub struct Job {
    pub count: usize,
    pub parallel: usize,
    pub json: bool,
}

pub async fn run(
    remote: SocketAddr,
    port: u16,
    addrs: &Addresses,
    config: Config,
    pcap: Option<Arc<Recorder>>,
    job: Job,
) -> io::Result<()> {
    let endpoint = client_endpoint(remote, addrs, &config, pcap)?;
    let parallel = job.parallel.clamp(1, job.count.max(1));
    let start = now();
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..parallel {
        // The first clients take the remainder.
        let share = job.count / parallel + usize::from(i < job.count % parallel);
        let options = ConnectOptions::default()
            .with_config(config.clone())
            .with_peer_addresses(addrs.peer.clone());
        clients.spawn(one_after_another(
            endpoint.clone(),
            remote,
            port,
            options,
            share,
        ));
    }
    while let Some(result) = clients.join_next().await {
        result.map_err(io::Error::other)??;
    }
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    let handshakes = crate::report::Handshakes {
        handshakes: job.count,
        seconds: crate::report::rounded(seconds, 6),
        per_second: crate::report::rounded(job.count as f64 / seconds, 1),
    };
    crate::report::print(job.json, &handshakes);
    Ok(())
}

/// `count` associations set up and closed, each after the last.
async fn one_after_another(
    endpoint: Endpoint,
    remote: SocketAddr,
    port: u16,
    options: ConnectOptions,
    count: usize,
) -> io::Result<()> {
    for _ in 0..count {
        let stream = endpoint.connect(remote, port, options.clone()).await?;
        stream
            .close()
            .await
            .map_err(|e| io::Error::other(format!("association closed: {e}")))?;
    }
    Ok(())
}
