//! The `usctp` command-line tool.

/// Prints a line to standard output; when the reader has gone (`usctp … |
/// head`), stops quietly instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod cat;
mod conformance;
mod daemon;
mod daytime;
mod decode;
mod duration;
mod handshakes;
mod report;
mod run;
mod services;
mod watch;

use anyhow::Context as _;
use duration::{Millis, Seconds};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use usctp::proto::config::{Config, CongestionControl, LossDetection};

use clap::{Parser, Subcommand};

/// SCTP (RFC 9260) in user space over UDP encapsulation (RFC 6951).
#[derive(Debug, Parser)]
#[command(name = "usctp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    protocol: ProtocolArgs,
    /// Print notifications (association up and down, peer errors, shutdown).
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Record every packet sent and received in this pcap file.
    #[arg(long, global = true)]
    pcap: Option<PathBuf>,
    /// Run each endpoint's driver on a thread of its own instead of on the
    /// command's one thread: bulk transfers use a second core, round trips
    /// take a hand-off between threads more.
    #[arg(long, global = true)]
    driver_thread: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The classic SCTP daytime exchange: server and client in one process
    /// over UDP on loopback.
    Demo,
    /// Serve the time: local time on stream 0, GMT on stream 1.
    DaytimeServer {
        /// UDP address to receive on (the RFC 6951 encapsulation port);
        /// repeat for multi-homing.
        #[arg(long, default_value = "0.0.0.0:9899")]
        listen: Vec<SocketAddr>,
        /// SCTP port.
        #[arg(long, default_value_t = 13)]
        port: u16,
        /// Exit after serving this many associations.
        #[arg(long)]
        max_assocs: Option<usize>,
    },
    /// Ask a daytime server for the time and print it.
    DaytimeClient {
        /// The server's HOST:UDPPORT.
        server: String,
        /// The server's SCTP port.
        #[arg(long, default_value_t = 13)]
        port: u16,
        /// Local IP:UDPPORT to send from (repeat for multi-homing; the
        /// others share the first one's UDP port).
        #[arg(long)]
        local: Vec<SocketAddr>,
        /// Further addresses of the peer (multi-homing).
        #[arg(long)]
        peer_addr: Vec<std::net::IpAddr>,
    },
    /// Echo every message back on its stream (SCTP port 7).
    EchoServer {
        #[command(flatten)]
        server: ServerArgs,
        /// SCTP port.
        #[arg(long, default_value_t = 7)]
        port: u16,
    },
    /// Count and drop what arrives (SCTP port 9); report each association.
    DiscardServer {
        #[command(flatten)]
        server: ServerArgs,
        /// SCTP port.
        #[arg(long, default_value_t = 9)]
        port: u16,
        /// One JSON object per association.
        #[arg(long)]
        json: bool,
    },
    /// Measure round trips against an echo server.
    Ping {
        #[command(flatten)]
        client: ClientArgs,
        /// SCTP port.
        #[arg(long, default_value_t = 7)]
        port: u16,
        /// Messages to send, one at a time.
        #[arg(long, default_value_t = 10)]
        count: usize,
        /// Bytes per message.
        #[arg(long, default_value_t = 64)]
        msg_size: usize,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Measure throughput against a discard server.
    Bench {
        #[command(flatten)]
        client: ClientArgs,
        /// SCTP port.
        #[arg(long, default_value_t = 9)]
        port: u16,
        /// Bytes of user data to send.
        #[arg(long)]
        bytes: usize,
        /// Bytes per message.
        #[arg(long)]
        msg_size: usize,
        /// Send unordered messages.
        #[arg(long)]
        unordered: bool,
        /// Concurrent associations (all on one endpoint, one UDP socket),
        /// sharing `--bytes`; the rate reported is their aggregate.
        #[arg(long, default_value_t = 1)]
        associations: usize,
        /// One JSON object.
        #[arg(long)]
        json: bool,
        /// Print a progress line this often (a plain number is in ms;
        /// default: every 250 ms when standard error is a terminal, else
        /// never).
        #[arg(long)]
        progress_ms: Option<Millis>,
    },
    /// Measure association setup: set up and close `--count` associations
    /// against a server (a discard server, say), one after another.
    Handshakes {
        #[command(flatten)]
        client: ClientArgs,
        /// SCTP port.
        #[arg(long, default_value_t = 9)]
        port: u16,
        /// Associations to set up and close.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Clients at once, sharing the count.
        #[arg(long, default_value_t = 1)]
        parallel: usize,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run an unmodified Linux SCTP program (lksctp API, libsctp) with its
    /// SCTP sockets on usctp: `usctp run -- ./sctpsrvr`. Its associations
    /// are SCTP over UDP, served by the user's `usctp daemon` for the UDP
    /// port (started if none answers).
    Run {
        #[command(flatten)]
        daemon: DaemonArgs,
        /// The program and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        program: Vec<std::ffi::OsString>,
    },
    /// Serve the SCTP sockets of programs run under the preload shim
    /// (`usctp run` starts one when needed).
    Daemon {
        #[command(flatten)]
        daemon: DaemonArgs,
        /// Exit after this long without sockets (a plain number is in
        /// seconds; or 500ms, 2m).
        #[arg(long)]
        idle_exit: Option<Seconds>,
        /// Start in the background and return at once.
        #[arg(long)]
        detach: bool,
    },
    /// Like `ncat --sctp`: standard input out as messages, messages in to
    /// standard output (binary-safe).
    Cat {
        /// The peer's HOST:UDPPORT (omit with --listen).
        server: Option<String>,
        /// Wait for a peer on this UDP address instead of connecting
        /// (repeat for multi-homing).
        #[arg(long)]
        listen: Vec<SocketAddr>,
        /// SCTP port.
        #[arg(long, default_value_t = 9899)]
        port: u16,
        /// Stream to send on.
        #[arg(long, default_value_t = 0)]
        stream: u16,
        /// Payload Protocol Identifier to send with.
        #[arg(long, default_value_t = 0)]
        ppid: u32,
        /// Local IP:UDPPORT to send from (repeat for multi-homing; the
        /// others share the first one's UDP port).
        #[arg(long)]
        local: Vec<SocketAddr>,
    },
    /// Play the ETSI TS 102 369 test purposes black-box against an SCTP
    /// implementation over UDP, judging each by RFC 9260.
    Conformance {
        /// The implementation's HOST:UDPPORT.
        target: String,
        /// Its SCTP port, where it runs an echo service (every message back
        /// on its stream, with its PPID and unordered flag).
        #[arg(long, default_value_t = 7)]
        port: u16,
        /// Play only these groups (AS, IMH, …), purpose ids or id prefixes;
        /// comma-separated or repeated.
        #[arg(long)]
        only: Vec<String>,
        /// List the purposes and how each is played, and exit.
        #[arg(long)]
        list: bool,
        /// The seed of the tester's tags, TSNs and ports (printed when not
        /// given, to repeat a run).
        #[arg(long)]
        seed: Option<u64>,
        /// Also play the purposes that wait for the implementation to give
        /// up (up to --give-up each).
        #[arg(long)]
        long: bool,
        /// A second local address for the multi-homed purposes (default on
        /// IPv4 loopback: a 127/8 neighbour).
        #[arg(long)]
        alternate: Option<std::net::IpAddr>,
        /// One JSON document: the run and one object per purpose.
        #[arg(long)]
        json: bool,
        /// How long an answer due at once may take.
        #[arg(long, default_value = "2s")]
        reply_timeout: Millis,
        /// Silence this long counts as no answer.
        #[arg(long, default_value = "1s")]
        quiet: Millis,
        /// How long an answer due to a timer (T1, T2, T3, the SACK delay)
        /// may take.
        #[arg(long, default_value = "5s")]
        timer_timeout: Millis,
        /// How long the long purposes wait for the implementation to give up.
        #[arg(long, default_value = "10m")]
        give_up: Seconds,
        /// A shell command that starts the implementation as a client of
        /// the tester: it must connect to {host}:{udp}, SCTP port {port},
        /// send one message and close gracefully. Plays the purposes in
        /// which the implementation starts or closes the association.
        #[arg(long)]
        client_cmd: Option<String>,
    },
    /// Dissect the SCTP packets carried in UDP in a pcap or pcapng capture.
    Decode {
        /// The capture file, pcap or pcapng (`-`: standard input, as from
        /// `tcpdump -w -`).
        file: PathBuf,
        /// The UDP port SCTP is encapsulated on (either direction).
        #[arg(long, default_value_t = 9899)]
        udp_port: u16,
        /// At the end of the file wait for more, as `tail -f` does (a
        /// capture still being written); stop with Ctrl-C.
        #[arg(long, short)]
        follow: bool,
        /// Print each packet's time since the Unix epoch instead of since
        /// the first packet.
        #[arg(long)]
        absolute_time: bool,
    },
}

/// Protocol parameters (RFC 9260 §16), on every subcommand; the defaults
/// are `Config::default()`'s.
#[derive(Debug, Clone, clap::Args)]
struct ProtocolArgs {
    /// RTO.Initial (a plain number is in ms; or 250ms, 2s, 1m).
    #[arg(long, global = true, default_value_t = Millis(DEFAULTS.rto_initial))]
    rto_initial: Millis,
    /// RTO.Min (a plain number is in ms).
    #[arg(long, global = true, default_value_t = Millis(DEFAULTS.rto_min))]
    rto_min: Millis,
    /// RTO.Max (a plain number is in ms).
    #[arg(long, global = true, default_value_t = Millis(DEFAULTS.rto_max))]
    rto_max: Millis,
    /// Path.Max.Retrans.
    #[arg(long, global = true, default_value_t = DEFAULTS.path_max_retrans)]
    path_max_retrans: u32,
    /// Association.Max.Retrans.
    #[arg(long, global = true, default_value_t = DEFAULTS.association_max_retrans)]
    assoc_max_retrans: u32,
    /// HB.interval (a plain number is in ms).
    #[arg(long, global = true, default_value_t = Millis(DEFAULTS.hb_interval))]
    hb_interval: Millis,
    /// Max.Init.Retransmits.
    #[arg(long, global = true, default_value_t = DEFAULTS.max_init_retransmits)]
    max_init_retrans: u32,
    /// Outbound streams to ask for, and inbound streams to accept (`bench`
    /// spreads its messages over them).
    #[arg(long, global = true)]
    streams: Option<u16>,
    /// How lost DATA is found before T3-rtx: RACK-TLP (RFC 8985), or RFC
    /// 9260's three miss indications alone.
    #[arg(long, global = true, value_enum, default_value_t = LossArg::Rack)]
    loss_detection: LossArg,
    /// Congestion control per path: RFC 9260's, or CUBIC (RFC 9438).
    #[arg(long, global = true, value_enum, default_value_t = CongestionArg::Rfc9260)]
    congestion: CongestionArg,
    /// The SCTP packet size to a non-loopback peer, common header
    /// included, until path MTU discovery confirms a larger one (the base
    /// of its search).
    #[arg(long, global = true, default_value_t = DEFAULTS.max_packet_size)]
    max_packet_size: usize,
    /// Path MTU discovery (RFC 8899): the largest IP packet to probe for,
    /// IP and UDP headers included (1500: 1472-byte SCTP packets over
    /// IPv4); 0 turns discovery off.
    #[arg(long, global = true, default_value_t = DEFAULTS.path_mtu_limit.unwrap_or(0))]
    pmtu_limit: usize,
    /// How long a path MTU probe waits for its answer (at least 1s; a
    /// plain number is in ms).
    #[arg(long, global = true, default_value_t = Millis(DEFAULTS.pmtu_probe_timeout))]
    pmtu_probe_timeout: Millis,
}

/// `--congestion`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CongestionArg {
    Rfc9260,
    Cubic,
}

impl CongestionArg {
    fn control(self) -> CongestionControl {
        match self {
            Self::Rfc9260 => CongestionControl::Rfc9260,
            Self::Cubic => CongestionControl::Cubic,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Rfc9260 => "rfc9260",
            Self::Cubic => "cubic",
        }
    }
}

/// `--loss-detection`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LossArg {
    Rack,
    Rfc9260,
}

impl LossArg {
    fn detection(self) -> LossDetection {
        match self {
            Self::Rack => LossDetection::Rack,
            Self::Rfc9260 => LossDetection::Rfc9260,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Rack => "rack",
            Self::Rfc9260 => "rfc9260",
        }
    }
}

static DEFAULTS: std::sync::LazyLock<Config> = std::sync::LazyLock::new(Config::default);

impl ProtocolArgs {
    /// The default parameters with the given options applied.
    fn config(&self) -> Config {
        let streams = self.streams;
        Config::default()
            .with_rto_initial(self.rto_initial.0)
            .with_rto_min(self.rto_min.0)
            .with_rto_max(self.rto_max.0)
            .with_path_max_retrans(self.path_max_retrans)
            .with_association_max_retrans(self.assoc_max_retrans)
            .with_hb_interval(self.hb_interval.0)
            .with_max_init_retransmits(self.max_init_retrans)
            .with_outbound_streams(streams.unwrap_or(DEFAULTS.outbound_streams))
            .with_max_inbound_streams(streams.unwrap_or(DEFAULTS.max_inbound_streams))
            .with_loss_detection(self.loss_detection.detection())
            .with_congestion_control(self.congestion.control())
            .with_max_packet_size(self.max_packet_size)
            .with_path_mtu_limit((self.pmtu_limit > 0).then_some(self.pmtu_limit))
            .with_pmtu_probe_timeout(self.pmtu_probe_timeout.0)
    }
}

/// Where the daemon for preloaded programs listens and sends.
#[derive(Debug, Clone, clap::Args)]
struct DaemonArgs {
    /// The local UDP port (RFC 6951's encapsulation port).
    #[arg(long, default_value_t = 9899)]
    udp_port: u16,
    /// The peers' UDP port for associations the programs start.
    #[arg(long, default_value_t = 9899)]
    remote_udp_port: u16,
    /// The daemon's UNIX-domain socket: an abstract name, or a path
    /// starting with `/` [default: $USCTP_DAEMON, else usctp-UID-UDPPORT].
    #[arg(long)]
    socket: Option<String>,
}

impl ProtocolArgs {
    /// The options as command-line arguments (for a daemon started by
    /// `usctp run`).
    fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--rto-initial={}", self.rto_initial),
            format!("--rto-min={}", self.rto_min),
            format!("--rto-max={}", self.rto_max),
            format!("--path-max-retrans={}", self.path_max_retrans),
            format!("--assoc-max-retrans={}", self.assoc_max_retrans),
            format!("--hb-interval={}", self.hb_interval),
            format!("--max-init-retrans={}", self.max_init_retrans),
            format!("--loss-detection={}", self.loss_detection.name()),
            format!("--congestion={}", self.congestion.name()),
            format!("--max-packet-size={}", self.max_packet_size),
            format!("--pmtu-limit={}", self.pmtu_limit),
            format!("--pmtu-probe-timeout={}", self.pmtu_probe_timeout),
        ];
        if let Some(streams) = self.streams {
            args.push(format!("--streams={streams}"));
        }
        args
    }
}

/// Options every server takes.
#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// UDP address to receive on (the RFC 6951 encapsulation port);
    /// repeat for multi-homing.
    #[arg(long, default_value = "0.0.0.0:9899")]
    listen: Vec<SocketAddr>,
    /// Exit after this many associations have ended.
    #[arg(long)]
    max_assocs: Option<usize>,
}

/// Options every client takes.
#[derive(Debug, clap::Args)]
struct ClientArgs {
    /// The server's HOST:UDPPORT.
    server: String,
    /// Local IP:UDPPORT to send from (repeat for multi-homing; the others
    /// share the first one's UDP port).
    #[arg(long)]
    local: Vec<SocketAddr>,
    /// Further addresses of the peer (multi-homing).
    #[arg(long)]
    peer_addr: Vec<std::net::IpAddr>,
}

impl ServerArgs {
    async fn listen(
        &self,
        port: u16,
        config: Config,
        pcap: Option<std::sync::Arc<usctp::capture::Recorder>>,
        verbose: bool,
    ) -> anyhow::Result<usctp::socket::SctpListener> {
        let options = usctp::socket::ListenOptions::default()
            .with_config(config)
            .with_max_associations(self.max_assocs.unwrap_or(usize::MAX))
            .with_pcap(pcap)
            .with_events(notifications(verbose));
        let listener = services::bind(&self.listen, port, options).await?;
        eprintln!(
            "listening on udp {}, sctp port {port}",
            listener.local_addr()
        );
        Ok(listener)
    }
}

impl ClientArgs {
    async fn endpoints(&self) -> anyhow::Result<(SocketAddr, services::Addresses)> {
        let resolved = resolve(&self.server).await?;
        let addrs = services::Addresses {
            local: self.local.clone(),
            peer: resolved.peer_addresses(&self.peer_addr),
        };
        Ok((resolved.first, addrs))
    }

    /// An error of the run against the server, saying which server.
    fn failed(&self, e: std::io::Error) -> anyhow::Error {
        anyhow::Error::from(e).context(self.server.clone())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // RUST_LOG=usctp=debug shows events and send failures; =trace every
    // datagram sent and received.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    services::DRIVER_THREAD.store(cli.driver_thread, std::sync::atomic::Ordering::Relaxed);
    let result = match cli.command {
        Command::Decode {
            file,
            udp_port,
            follow,
            absolute_time,
        } => decode::run(&decode::Options {
            file,
            udp_port,
            follow,
            absolute_time,
        }),
        Command::Run { daemon, program } => run::run(run::Run {
            udp_port: daemon.udp_port,
            remote_udp_port: daemon.remote_udp_port,
            socket: daemon.socket,
            verbose: cli.verbose,
            protocol: cli.protocol.to_args(),
            pcap: cli.pcap.clone(),
            program,
        }),
        Command::Daemon { detach: true, .. } => {
            run::detach(std::env::args_os().skip(1), cli.verbose)
        }
        Command::Conformance {
            target,
            port,
            only,
            list,
            seed,
            long,
            alternate,
            json,
            reply_timeout,
            quiet,
            timer_timeout,
            give_up,
            client_cmd,
        } => conformance_target(&target).and_then(|target| {
            let options = conformance::Options {
                target,
                port,
                only,
                list,
                seed: seed.unwrap_or_else(clock_seed),
                long,
                alternate,
                timing: conformance::Timing {
                    reply: reply_timeout.0,
                    quiet: quiet.0,
                    timer: timer_timeout.0,
                    give_up: give_up.0,
                },
                json,
                pcap: cli.pcap.clone(),
                client_cmd,
            };
            if conformance::run(&options)? {
                Ok(())
            } else {
                anyhow::bail!("the implementation failed test purposes")
            }
        }),
        command => run_async(command, &cli.protocol, cli.verbose, cli.pcap.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usctp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a networked subcommand on a tokio runtime.
fn run_async(
    command: Command,
    protocol: &ProtocolArgs,
    verbose: bool,
    pcap: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let config = protocol.config();
    let pcap = match pcap {
        Some(path) => Some(std::sync::Arc::new(
            usctp::capture::Recorder::create(path).with_context(|| path.display().to_string())?,
        )),
        None => None,
    };
    let streams_given = protocol.streams.is_some();
    // One thread: the endpoint task and the user's task hand each other
    // every message, and across threads each hand-off costs a futex wake
    // (profiled: over a third of the time in bench went to task switches).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async move {
        match command {
            Command::Demo => daytime::demo(pcap).await.map_err(anyhow::Error::from),
            Command::DaytimeServer {
                listen,
                port,
                max_assocs,
            } => {
                let config = daytime::config(config, streams_given);
                let listener =
                    daytime::listen(&listen, port, max_assocs, config, pcap, verbose).await?;
                eprintln!(
                    "daytime server on udp {}, sctp port {port}",
                    listener.local_addr()
                );
                daytime::server(listener, max_assocs, verbose)
                    .await
                    .map_err(anyhow::Error::from)
            }
            Command::DaytimeClient {
                server,
                port,
                local,
                peer_addr,
            } => {
                let resolved = resolve(&server).await?;
                let config = daytime::config(config, streams_given);
                let addrs = services::Addresses {
                    local,
                    peer: resolved.peer_addresses(&peer_addr),
                };
                daytime::client(resolved.first, port, &addrs, config, pcap, verbose)
                    .await
                    .with_context(|| server.clone())
            }
            Command::EchoServer { server, port } => {
                let listener = server.listen(port, config, pcap, verbose).await?;
                services::echo_server(listener, server.max_assocs, verbose)
                    .await
                    .map_err(anyhow::Error::from)
            }
            Command::DiscardServer { server, port, json } => {
                let listener = server.listen(port, config, pcap, verbose).await?;
                services::discard_server(listener, server.max_assocs, json, verbose)
                    .await
                    .map_err(anyhow::Error::from)
            }
            Command::Ping {
                client,
                port,
                count,
                msg_size,
                json,
            } => {
                let (remote, addrs) = client.endpoints().await?;
                let out = services::Output {
                    json,
                    verbose,
                    ..Default::default()
                };
                services::ping(remote, port, &addrs, config, pcap, count, msg_size, out)
                    .await
                    .map_err(|e| client.failed(e))
            }
            Command::Bench {
                client,
                port,
                bytes,
                msg_size,
                unordered,
                associations,
                json,
                progress_ms,
            } => {
                // `--streams K` spreads the messages over K streams.
                let job = services::BenchJob {
                    bytes,
                    size: msg_size,
                    streams: protocol.streams.unwrap_or(1),
                    unordered,
                    associations,
                };
                let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
                let progress = match progress_ms {
                    Some(every) => Some(every.0.max(Duration::from_millis(1))),
                    None => terminal.then_some(std::time::Duration::from_millis(250)),
                };
                let out = services::Output {
                    json,
                    verbose,
                    progress,
                };
                let (remote, addrs) = client.endpoints().await?;
                services::bench(remote, port, &addrs, config, pcap, job, out)
                    .await
                    .map_err(|e| client.failed(e))
            }
            Command::Handshakes {
                client,
                port,
                count,
                parallel,
                json,
            } => {
                let (remote, addrs) = client.endpoints().await?;
                let job = handshakes::Job {
                    count,
                    parallel,
                    json,
                };
                handshakes::run(remote, port, &addrs, config, pcap, job)
                    .await
                    .map_err(|e| client.failed(e))
            }
            Command::Cat {
                server,
                listen,
                port,
                stream,
                ppid,
                local,
            } => {
                let mode = match (server, listen) {
                    (Some(server), listen) if listen.is_empty() => {
                        let resolved = resolve(&server).await?;
                        cat::Mode::Connect {
                            remote: resolved.first,
                            addrs: services::Addresses {
                                local,
                                peer: resolved.peer_addresses(&[]),
                            },
                        }
                    }
                    (None, listen) if !listen.is_empty() => cat::Mode::Listen(listen),
                    _ => anyhow::bail!("cat takes HOST:UDPPORT or --listen IP:UDPPORT"),
                };
                let settings = cat::Settings {
                    port,
                    stream,
                    ppid,
                    config,
                    verbose,
                    pcap,
                };
                cat::run(mode, settings).await.map_err(anyhow::Error::from)
            }
            Command::Daemon {
                daemon: args,
                idle_exit,
                ..
            } => {
                let settings = daemon::Settings {
                    name: args
                        .socket
                        .unwrap_or_else(|| daemon::default_name(args.udp_port)),
                    udp_port: args.udp_port,
                    remote_udp_port: args.remote_udp_port,
                    config,
                    verbose,
                    idle_exit: idle_exit.map(|d| d.0),
                    pcap,
                };
                daemon::serve(settings).await
            }
            Command::Decode { .. } | Command::Run { .. } | Command::Conformance { .. } => {
                unreachable!("decode, run and conformance need no runtime")
            }
        }
    });
    // `cat` reads standard input on a blocking thread; waiting for that
    // read would keep the process alive after the association has ended.
    runtime.shutdown_background();
    result
}

/// The implementation under test's address: its first address of the
/// system's family order (the tester speaks to one address).
fn conformance_target(target: &str) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs as _;
    target
        .to_socket_addrs()
        .with_context(|| format!("resolving {target} (HOST:UDPPORT)"))?
        .next()
        .with_context(|| format!("{target} has no address"))
}

/// A seed from the clock, for a run that was given none.
#[allow(clippy::disallowed_methods)]
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// What a server subscribes to: every notification with `-v`, none
/// otherwise.
fn notifications(verbose: bool) -> usctp::socket::Notifications {
    if verbose {
        usctp::socket::Notifications::ALL
    } else {
        usctp::socket::Notifications::NONE
    }
}

/// HOST:PORT to a socket address.
async fn resolve(host: &str) -> anyhow::Result<Resolved> {
    let all: Vec<SocketAddr> = tokio::net::lookup_host(host)
        .await
        .with_context(|| host.to_string())?
        .collect();
    Resolved::of(&all).with_context(|| format!("{host}: no address"))
}

/// A server name's addresses: the first to send the INIT to, and the
/// others of its family, given to the association as further addresses of
/// the peer, so that the INIT's retransmissions try each in turn (RFC 9260
/// §6.4) instead of giving up on the first.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resolved {
    first: SocketAddr,
    others: Vec<std::net::IpAddr>,
}

impl Resolved {
    fn of(all: &[SocketAddr]) -> Option<Self> {
        let first = *all.first()?;
        let mut others: Vec<std::net::IpAddr> = Vec::new();
        for a in &all[1..] {
            let ip = a.ip();
            if ip.is_ipv4() == first.is_ipv4() && ip != first.ip() && !others.contains(&ip) {
                others.push(ip);
            }
        }
        Some(Self { first, others })
    }

    /// The further peer addresses the user named, and these.
    fn peer_addresses(&self, named: &[std::net::IpAddr]) -> Vec<std::net::IpAddr> {
        let mut all = named.to_vec();
        all.extend(self.others.iter().filter(|ip| !named.contains(ip)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_names_other_addresses_of_its_family_become_further_peer_addresses() {
        let all: Vec<SocketAddr> = [
            "10.0.0.1:9899",
            "[2001:db8::1]:9899",
            "10.0.0.2:9899",
            "10.0.0.1:9899",
            "10.0.0.3:9899",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        let r = Resolved::of(&all).unwrap();
        assert_eq!(r.first, all[0]);
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(r.others, [ip("10.0.0.2"), ip("10.0.0.3")]);
        assert_eq!(
            r.peer_addresses(&[ip("10.0.0.3"), ip("10.0.0.9")]),
            [ip("10.0.0.3"), ip("10.0.0.9"), ip("10.0.0.2")]
        );
        assert_eq!(Resolved::of(&[]), None);
    }
}
