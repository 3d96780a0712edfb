//! The classic test services over SCTP: echo (port 7) and discard (port 9)
//! servers, and the `ping` and `bench` clients that measure them.

use std::io::{self, IsTerminal};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use usctp::Endpoint;
use usctp::capture::Recorder;
use usctp::proto::config::Config;
use usctp::socket::{
    ConnectOptions, EndpointOptions, ListenOptions, Monitor, Notifications, SctpListener,
    SctpStream, StreamEvent,
};

use crate::report::{self, rounded};
use crate::watch::Watch;

/// `--driver-thread`: each endpoint's driver on a thread of its own.
pub static DRIVER_THREAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn driver_thread() -> bool {
    DRIVER_THREAD.load(Ordering::Relaxed)
}

/// Reads the clock (the CLI measures; the protocol core never does).
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// Accepts `max` associations (forever when `None`) and runs `serve` on
/// each in a task of its own; returns when all of them have ended.
async fn serve_each<F>(
    listener: SctpListener,
    max: Option<usize>,
    verbose: bool,
    serve: impl Fn(SctpStream, Watch) -> F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut served = 0;
    let mut tasks = Vec::new();
    let start = now();
    while max.is_none_or(|m| served < m) {
        let (stream, peer) = listener.accept().await?;
        served += 1;
        if verbose {
            eprintln!("association {} from {peer}", stream.assoc_id());
        }
        tasks.push(tokio::spawn(serve(stream, Watch::new(start, verbose))));
    }
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

/// Echo: every message goes back on its stream, with its PPID and its
/// unordered flag.
pub async fn echo_server(
    listener: SctpListener,
    max: Option<usize>,
    verbose: bool,
) -> io::Result<()> {
    serve_each(listener, max, verbose, |mut stream, mut watch| async move {
        let id = stream.assoc_id();
        while let Some(event) = stream.next_event().await {
            let StreamEvent::Message(m) = event else {
                watch.note(id, &event);
                continue;
            };
            if let Err(e) = stream
                .send_with(m.stream, m.ppid, m.data, m.unordered)
                .await
            {
                eprintln!("association {id}: {e}");
                break;
            }
        }
    })
    .await
}

/// How a client reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    /// One JSON object at the end.
    pub json: bool,
    /// Print notifications (path changes) as they come.
    pub verbose: bool,
    /// Print a progress line this often (bench).
    pub progress: Option<Duration>,
}

/// Notes every notification waiting on `stream`; messages are not
/// expected and are dropped.
fn drain(watch: &mut Watch, stream: &mut SctpStream) {
    let id = stream.assoc_id();
    while let Some(event) = stream.try_next_event() {
        watch.note(id, &event);
    }
}

/// Discard: counts what arrives and reports each association when it ends.
pub async fn discard_server(
    listener: SctpListener,
    max: Option<usize>,
    json: bool,
    verbose: bool,
) -> io::Result<()> {
    serve_each(
        listener,
        max,
        verbose,
        move |mut stream, mut watch| async move {
            let id = stream.assoc_id();
            // The report goes out when the peer's data ends: at its
            // SHUTDOWN, not when the shutdown completes (a SHUTDOWN
            // COMPLETE lost after the peer went away leaves the association
            // retransmitting its SHUTDOWN ACK for minutes, §9.2).
            let mut subscription = stream.subscription();
            subscription.shutdown = true;
            stream.subscribe(subscription);
            let start = now();
            let (mut bytes, mut messages) = (0usize, 0usize);
            let mut last = start;
            let mut reported = false;
            while let Some(event) = stream.next_event().await {
                match event {
                    StreamEvent::Message(m) => {
                        bytes += m.data.len();
                        messages += 1;
                        last = now();
                    }
                    StreamEvent::ShutdownStarted | StreamEvent::Closed(_) if !reported => {
                        reported = true;
                        report_discarded(json, bytes, messages, last.duration_since(start));
                        watch.note(id, &event);
                    }
                    other => watch.note(id, &other),
                }
            }
            if !reported {
                report_discarded(json, bytes, messages, last.duration_since(start));
            }
        },
    )
    .await
}

/// What a discard server prints for one association.
fn report_discarded(json: bool, bytes: usize, messages: usize, took: Duration) {
    let seconds = took.as_secs_f64().max(1e-9);
    let discarded = report::Discarded {
        bytes,
        messages,
        seconds: rounded(seconds, 6),
        mbps: rounded(bytes as f64 / seconds / 1e6, 3),
    };
    report::print(json, &discarded);
}

/// The endpoint a client subcommand runs on: bound to `--local` (any
/// address otherwise), its driver a task on the command's runtime (one
/// thread for everything, as the CLI's runtime is) unless
/// `--driver-thread`.
pub fn client_endpoint(
    remote: SocketAddr,
    addrs: &Addresses,
    config: &Config,
    pcap: Option<Arc<Recorder>>,
) -> io::Result<Endpoint> {
    let (local, also_bind) = match addrs.local.split_first() {
        Some((first, rest)) => (*first, rest.to_vec()),
        None if remote.is_ipv6() => (SocketAddr::from(([0u16; 8], 0)), Vec::new()),
        None => (SocketAddr::from(([0, 0, 0, 0], 0)), Vec::new()),
    };
    let options = EndpointOptions::default()
        .with_config(config.clone())
        .with_also_bind(also_bind)
        .with_pcap(pcap)
        .with_on_current_runtime(!driver_thread());
    Endpoint::bind(local, options)
}

/// Starts an association from `endpoint` with the CLI's options.
pub async fn connect_on(
    endpoint: &Endpoint,
    remote: SocketAddr,
    port: u16,
    addrs: &Addresses,
    config: Config,
) -> io::Result<SctpStream> {
    let options = ConnectOptions::default()
        .with_config(config)
        .with_peer_addresses(addrs.peer.clone())
        .with_events(Notifications::ALL);
    endpoint.connect(remote, port, options).await
}

/// Connects with the CLI's options (shared by every client subcommand).
pub async fn connect(
    remote: SocketAddr,
    port: u16,
    addrs: &Addresses,
    config: Config,
    pcap: Option<Arc<Recorder>>,
) -> io::Result<SctpStream> {
    let endpoint = client_endpoint(remote, addrs, &config, pcap)?;
    connect_on(&endpoint, remote, port, addrs, config).await
}

/// The addresses a client uses besides the server's first one.
#[derive(Debug, Clone, Default)]
pub struct Addresses {
    /// Local IP:UDPPORT to bind, several for multi-homing.
    pub local: Vec<SocketAddr>,
    /// Further IP addresses of the peer.
    pub peer: Vec<IpAddr>,
}

/// Binds a listener on every address in `listen` (several for
/// multi-homing), its endpoint's driver a task on the command's runtime.
pub async fn bind(
    listen: &[SocketAddr],
    port: u16,
    options: ListenOptions,
) -> io::Result<SctpListener> {
    let (first, rest) = listen
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on"))?;
    let endpoint = Endpoint::bind(
        *first,
        EndpointOptions::default()
            .with_config(options.config.clone())
            .with_also_bind(rest.to_vec())
            .with_pcap(options.pcap.clone())
            .with_on_current_runtime(!driver_thread()),
    )?;
    endpoint.listen(port, options).await
}

/// Sends `count` messages of `size` bytes to an echo server, one at a time,
/// and reports round-trip percentiles, the path in use at the end and how
/// often the primary path changed.
#[allow(clippy::too_many_arguments)]
pub async fn ping(
    remote: SocketAddr,
    port: u16,
    addrs: &Addresses,
    config: Config,
    pcap: Option<Arc<Recorder>>,
    count: usize,
    size: usize,
    out: Output,
) -> io::Result<()> {
    let mut stream = connect(remote, port, addrs, config, pcap).await?;
    let id = stream.assoc_id();
    let mut watch = Watch::new(now(), out.verbose);
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
        let reply = loop {
            let event = tokio::time::timeout(Duration::from_secs(30), stream.next_event())
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no echo within 30 s"))?;
            match event {
                Some(StreamEvent::Message(m)) => break m,
                Some(StreamEvent::Closed(Some(why))) => {
                    return Err(io::Error::other(format!("association closed: {why}")));
                }
                Some(StreamEvent::Closed(None)) | None => {
                    return Err(io::Error::other("association closed"));
                }
                Some(other) => watch.note(id, &other),
            }
        };
        rtts.push(sent.elapsed());
        if reply.data != body {
            mismatches += 1;
        }
    }
    let path = stream
        .status()
        .await
        .and_then(|s| s.primary)
        .map_or_else(|| "none".to_string(), |p| p.address.to_string());
    let counters = stream.counters().await.unwrap_or_default();
    stream.shutdown();
    while let Some(event) = stream.next_event().await {
        watch.note(id, &event);
    }
    rtts.sort_unstable();
    let percentile = |p: f64| -> u64 {
        rtts.get(((rtts.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    };
    let ping = report::Ping {
        messages: count,
        mismatches,
        rtt_us_p50: percentile(0.5),
        rtt_us_p99: percentile(0.99),
        rtt_us_max: percentile(1.0),
        path,
        failovers: watch.failovers,
        packets_sent: counters.packets_sent,
        packets_received: counters.packets_received,
        retransmitted_chunks: counters.retransmitted_chunks,
        t3_expiries: counters.t3_expiries,
    };
    report::print(out.json, &ping);
    if mismatches > 0 {
        return Err(io::Error::other(format!("{mismatches} echoes differed")));
    }
    Ok(())
}

/// What `bench` sends.
#[derive(Debug, Clone, Copy)]
pub struct BenchJob {
    /// Bytes of user data in all.
    pub bytes: usize,
    /// Bytes per message.
    pub size: usize,
    /// Streams to spread the messages over.
    pub streams: u16,
    pub unordered: bool,
    /// Concurrent associations, all on one endpoint, sharing the bytes
    /// evenly.
    pub associations: usize,
}

/// Sends the job's bytes to a discard server and reports the rate, timed
/// until everything is acknowledged; shows progress while it runs. With
/// several associations the rate is their aggregate, timed from the first
/// message to the last acknowledgement.
pub async fn bench(
    remote: SocketAddr,
    port: u16,
    addrs: &Addresses,
    config: Config,
    pcap: Option<Arc<Recorder>>,
    job: BenchJob,
    out: Output,
) -> io::Result<()> {
    let config = config.with_outbound_streams(job.streams.max(1));
    let count = job.associations.max(1);
    // Every association on one endpoint: one UDP socket, as a kernel's.
    let endpoint = client_endpoint(remote, addrs, &config, pcap)?;
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        streams.push(connect_on(&endpoint, remote, port, addrs, config.clone()).await?);
    }
    let payload = Bytes::from(vec![b'x'; job.size.max(1)]);
    let start = now();
    let total = if count == 1 {
        let stream = streams.pop().expect("one stream");
        send_bulk(stream, payload, job.bytes, job, start, out).await?
    } else {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, stream) in streams.into_iter().enumerate() {
            // The first associations take the remainder.
            let share = job.bytes / count + usize::from(i < job.bytes % count);
            let quiet = Output {
                progress: None,
                ..out
            };
            tasks.spawn(send_bulk(stream, payload.clone(), share, job, start, quiet));
        }
        let mut total = Bulk::default();
        while let Some(result) = tasks.join_next().await {
            total.add(&result.map_err(io::Error::other)??);
        }
        total
    };
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    let bench = report::Bench {
        bytes: total.bytes,
        messages: total.messages,
        seconds: rounded(seconds, 6),
        mbps: rounded(total.bytes as f64 / seconds / 1e6, 3),
        failovers: total.failovers,
        associations: count,
        retransmitted_chunks: total.retransmitted,
        fast_retransmits: total.fast_retransmits,
        t3_expiries: total.t3_expiries,
        lost_retransmissions: total.lost_retransmissions,
        loss_probes: total.loss_probes,
        gap_blocks_received: total.gap_blocks,
        path_mtu: total.path_mtu,
    };
    report::print(out.json, &bench);
    Ok(())
}

/// What bulk sending did on one association or several.
#[derive(Debug, Default)]
struct Bulk {
    bytes: usize,
    messages: usize,
    failovers: usize,
    retransmitted: u64,
    fast_retransmits: u64,
    t3_expiries: u64,
    lost_retransmissions: u64,
    loss_probes: u64,
    gap_blocks: u64,
    path_mtu: usize,
}

impl Bulk {
    fn add(&mut self, other: &Bulk) {
        self.bytes += other.bytes;
        self.messages += other.messages;
        self.failovers += other.failovers;
        self.retransmitted += other.retransmitted;
        self.fast_retransmits += other.fast_retransmits;
        self.t3_expiries += other.t3_expiries;
        self.lost_retransmissions += other.lost_retransmissions;
        self.loss_probes += other.loss_probes;
        self.gap_blocks += other.gap_blocks;
        self.path_mtu = match self.path_mtu {
            0 => other.path_mtu,
            mtu => mtu.min(other.path_mtu),
        };
    }
}

/// Sends `bytes` in messages of `payload`'s size over one association,
/// waits until the peer has acknowledged them and shuts it down. Returns
/// the bytes and messages sent, the failovers seen and the association's
/// retransmission counters.
async fn send_bulk(
    mut stream: SctpStream,
    payload: Bytes,
    bytes: usize,
    job: BenchJob,
    start: Instant,
    out: Output,
) -> io::Result<Bulk> {
    let size = payload.len();
    let usable = stream.established().outbound_streams.max(1);
    let mut watch = Watch::new(start, out.verbose);
    let id = stream.assoc_id();
    let queued = Arc::new(AtomicUsize::new(0));
    let progress = out.progress.map(|every| {
        tokio::spawn(show_progress(
            stream.monitor(),
            queued.clone(),
            start,
            every,
        ))
    });
    let (mut sent, mut messages) = (0usize, 0usize);
    while sent < bytes {
        let n = size.min(bytes - sent);
        let sid = (messages % usize::from(usable)) as u16;
        stream
            .send_with(sid, 0, payload.slice(..n), job.unordered)
            .await
            .map_err(io::Error::other)?;
        sent += n;
        messages += 1;
        queued.store(sent, Ordering::Relaxed);
        drain(&mut watch, &mut stream);
    }
    // Timed until the peer has acknowledged everything.
    stream.all_acknowledged().await;
    drain(&mut watch, &mut stream);
    let counters = stream.counters().await.unwrap_or_default();
    let path_mtu = stream.paths().await.first().map_or(0, |p| p.mtu);
    if let Some(task) = progress {
        task.abort();
        eprintln!();
    }
    stream.shutdown();
    while let Some(event) = stream.next_event().await {
        watch.note(id, &event);
    }
    Ok(Bulk {
        bytes: sent,
        messages,
        failovers: watch.failovers,
        retransmitted: counters.retransmitted_chunks,
        fast_retransmits: counters.fast_retransmits,
        t3_expiries: counters.t3_expiries,
        lost_retransmissions: counters.lost_retransmissions,
        loss_probes: counters.loss_probes,
        gap_blocks: counters.gap_blocks_received,
        path_mtu,
    })
}

/// Prints, every `every`, the time, the bytes the peer has acknowledged,
/// the rate and the path in use: overwriting one line on a terminal, one
/// line each otherwise (so a script can follow a failover).
async fn show_progress(
    monitor: Monitor,
    queued: Arc<AtomicUsize>,
    start: Instant,
    every: Duration,
) {
    let terminal = io::stderr().is_terminal();
    let mut last = (Duration::ZERO, 0usize);
    loop {
        tokio::time::sleep(every).await;
        let Some(status) = monitor.status().await else {
            return;
        };
        let t = start.elapsed();
        let acked = queued
            .load(Ordering::Relaxed)
            .saturating_sub(status.send_queued);
        let dt = (t - last.0).as_secs_f64().max(1e-9);
        let rate = acked.saturating_sub(last.1) as f64 / dt / 1e6;
        last = (t, acked);
        // The primary's congestion state over time: cwnd and bytes in
        // flight, smoothed RTT, packet size (what path MTU discovery found).
        let path = status.primary.map_or_else(
            || "none".to_string(),
            |p| {
                let srtt = p.srtt.map_or(0.0, |d| d.as_secs_f64() * 1e3);
                format!(
                    "{} cwnd={} flight={} srtt={srtt:.2}ms mtu={}",
                    p.address, p.cwnd, p.flight, p.mtu
                )
            },
        );
        let line = format!(
            "t={:.3}s acked={acked} rate={rate:.1}MB/s path={path}",
            t.as_secs_f64()
        );
        if terminal {
            eprint!("\r{line}   ");
        } else {
            eprintln!("{line}");
        }
    }
}
