//! The classic test services over SCTP: echo (port 7) and discard (port 9)
//! servers, and the `ping` and `bench` clients that measure them.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use usctp::capture::Recorder;
use usctp::config::Config;
use usctp::socket::{ConnectOptions, SctpListener, SctpStream};

/// Reads the clock (the CLI measures; the protocol core never does).
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Echo: every message goes back on its stream, with its PPID and its
/// unordered flag.
pub async fn echo_server(listener: SctpListener, max: Option<usize>) -> io::Result<()> {
    let mut served = 0;
    let mut tasks = Vec::new();
    while max.is_none_or(|m| served < m) {
        let mut stream = listener.accept().await?;
        served += 1;
        tasks.push(tokio::spawn(async move {
            while let Some(m) = stream.recv().await {
                if let Err(e) = stream
                    .send_with(m.stream, m.ppid, m.data, m.unordered)
                    .await
                {
                    eprintln!("association {}: {e}", stream.assoc_id());
                    break;
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

/// One line of measurements, human or JSON.
fn report(json: bool, fields: &[(&str, String)]) {
    if json {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        say!("{{{}}}", body.join(", "));
    } else {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        say!("{}", body.join(" "));
    }
}

/// Discard: counts what arrives and reports each association when it ends.
pub async fn discard_server(
    listener: SctpListener,
    max: Option<usize>,
    json: bool,
) -> io::Result<()> {
    let mut served = 0;
    let mut tasks = Vec::new();
    while max.is_none_or(|m| served < m) {
        let mut stream = listener.accept().await?;
        served += 1;
        tasks.push(tokio::spawn(async move {
            let start = now();
            let (mut bytes, mut messages) = (0usize, 0usize);
            let mut last = start;
            while let Some(m) = stream.recv().await {
                bytes += m.data.len();
                messages += 1;
                last = now();
            }
            let seconds = last.duration_since(start).as_secs_f64().max(1e-9);
            report(
                json,
                &[
                    ("bytes", bytes.to_string()),
                    ("messages", messages.to_string()),
                    ("seconds", format!("{seconds:.6}")),
                    ("MBps", format!("{:.3}", bytes as f64 / seconds / 1e6)),
                ],
            );
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

/// Connects with the CLI's options (shared by every client subcommand).
pub async fn connect(
    remote: SocketAddr,
    port: u16,
    local: Option<SocketAddr>,
    config: Config,
    pcap: Option<Arc<Recorder>>,
) -> io::Result<SctpStream> {
    let mut options = ConnectOptions {
        config,
        pcap,
        ..ConnectOptions::default()
    };
    if let Some(local) = local {
        options.local = local;
    }
    SctpStream::connect(remote, port, options).await
}

/// Sends `count` messages of `size` bytes to an echo server, one at a time,
/// and reports round-trip percentiles.
#[allow(clippy::too_many_arguments)]
pub async fn ping(
    remote: SocketAddr,
    port: u16,
    local: Option<SocketAddr>,
    config: Config,
    pcap: Option<Arc<Recorder>>,
    count: usize,
    size: usize,
    json: bool,
) -> io::Result<()> {
    let mut stream = connect(remote, port, local, config, pcap).await?;
    let mut rtts = Vec::with_capacity(count);
    let mut mismatches = 0;
    for i in 0..count {
        let mut body = format!("{i:08}").into_bytes();
        body.resize(size.max(1), b'p');
        body.truncate(size.max(1));
        let body = Bytes::from(body);
        let sent = now();
        stream
            .send(0, 0, body.clone())
            .await
            .map_err(io::Error::other)?;
        let reply = tokio::time::timeout(Duration::from_secs(30), stream.recv())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no echo within 30 s"))?
            .ok_or_else(|| io::Error::other("association closed"))?;
        rtts.push(sent.elapsed());
        if reply.data != body {
            mismatches += 1;
        }
    }
    stream.shutdown();
    while stream.recv().await.is_some() {}
    rtts.sort_unstable();
    let percentile = |p: f64| -> u128 {
        rtts.get(((rtts.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0, |d| d.as_micros())
    };
    report(
        json,
        &[
            ("messages", count.to_string()),
            ("mismatches", mismatches.to_string()),
            ("rtt_us_p50", percentile(0.5).to_string()),
            ("rtt_us_p99", percentile(0.99).to_string()),
        ],
    );
    if mismatches > 0 {
        return Err(io::Error::other(format!("{mismatches} echoes differed")));
    }
    Ok(())
}

/// Sends `bytes` in messages of `size` to a discard server over `streams`
/// streams and reports the rate, timed until everything is acknowledged.
#[allow(clippy::too_many_arguments)]
pub async fn bench(
    remote: SocketAddr,
    port: u16,
    local: Option<SocketAddr>,
    config: Config,
    pcap: Option<Arc<Recorder>>,
    bytes: usize,
    size: usize,
    streams: u16,
    unordered: bool,
    json: bool,
) -> io::Result<()> {
    let size = size.max(1);
    let config = Config {
        outbound_streams: streams.max(1),
        ..config
    };
    let mut stream = connect(remote, port, local, config, pcap).await?;
    let usable = stream.established().outbound_streams.max(1);
    let payload = Bytes::from(vec![b'x'; size]);
    let start = now();
    let (mut sent, mut messages) = (0usize, 0usize);
    while sent < bytes {
        let n = size.min(bytes - sent);
        let sid = (messages % usize::from(usable)) as u16;
        stream
            .send_with(sid, 0, payload.slice(..n), unordered)
            .await
            .map_err(io::Error::other)?;
        sent += n;
        messages += 1;
    }
    // Timed until the peer has acknowledged everything.
    loop {
        match stream.status().await {
            Some(s) if s.pending > 0 => tokio::time::sleep(Duration::from_micros(200)).await,
            _ => break,
        }
    }
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    stream.shutdown();
    while stream.recv().await.is_some() {}
    report(
        json,
        &[
            ("bytes", sent.to_string()),
            ("messages", messages.to_string()),
            ("seconds", format!("{seconds:.6}")),
            ("MBps", format!("{:.3}", sent as f64 / seconds / 1e6)),
        ],
    );
    Ok(())
}
