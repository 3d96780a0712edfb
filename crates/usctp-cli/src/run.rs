//! `usctp run -- PROGRAM`: runs an unmodified Linux SCTP program with the
//! preload shim, its SCTP sockets served by the user's `usctp daemon` for
//! the UDP port (started here if none answers).

use anyhow::Context as _;
use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::daemon;

/// What `usctp run` was asked.
pub struct Run {
    pub udp_port: u16,
    pub remote_udp_port: u16,
    pub socket: Option<String>,
    pub verbose: bool,
    /// Protocol options for a daemon started here.
    pub protocol: Vec<String>,
    /// The capture file of a daemon started here.
    pub pcap: Option<PathBuf>,
    pub program: Vec<OsString>,
}

/// How long a daemon started by `usctp run` stays without sockets.
const IDLE_EXIT_SECS: u64 = 10;

/// Starts the daemon if needed, then becomes the program; returns only on
/// failure.
pub fn run(run: Run) -> anyhow::Result<()> {
    let name = run
        .socket
        .clone()
        .unwrap_or_else(|| daemon::default_name(run.udp_port));
    let preload = preload_path()?;
    if !daemon::running(&name) {
        start_daemon(&run, &name)?;
    } else if let Some(pcap) = &run.pcap {
        // The daemon that answers records only what it was started with.
        eprintln!(
            "usctp run: a daemon already serves {name}; it does not record to {}",
            pcap.display()
        );
    }
    let (program, args) = run.program.split_first().context("no program to run")?;
    let mut ld_preload = OsString::from(&preload);
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|o| !o.is_empty()) {
        ld_preload.push(":");
        ld_preload.push(old);
    }
    let mut command = Command::new(program);
    command
        .args(args)
        .env("LD_PRELOAD", ld_preload)
        .env(usctp_lksctp::ipc::DAEMON_ENV, &name)
        .env(
            usctp_lksctp::ipc::REMOTE_UDP_PORT_ENV,
            run.remote_udp_port.to_string(),
        );
    if run.verbose {
        command.env("USCTP_VERBOSE", "1");
    }
    let e = command.exec();
    Err(anyhow::anyhow!("{}: {e}", program.to_string_lossy()))
}

/// The shim: `$USCTP_PRELOAD`, or `libusctp_preload.so` beside this
/// program (where cargo builds both).
fn preload_path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("USCTP_PRELOAD") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("usctp has no directory")?;
    // Tests run `usctp` from target/debug; the shim is built there too.
    let beside = [
        dir.join("libusctp_preload.so"),
        dir.join("../libusctp_preload.so"),
    ];
    beside.into_iter().find(|p| p.exists()).ok_or_else(|| {
        anyhow::anyhow!(
            "libusctp_preload.so is not beside {} (cargo build -p usctp-preload builds it; \
                 USCTP_PRELOAD names another)",
            exe.display()
        )
    })
}

/// Starts `usctp daemon` (detached: not a child of the program, which
/// could otherwise reap it or wait for it) and waits until it answers.
fn start_daemon(run: &Run, name: &str) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .arg("daemon")
        .arg("--detach")
        .args(["--udp-port", &run.udp_port.to_string()])
        .args(["--remote-udp-port", &run.remote_udp_port.to_string()])
        .args(["--socket", name])
        .args(["--idle-exit", &IDLE_EXIT_SECS.to_string()])
        .args(&run.protocol);
    if let Some(pcap) = &run.pcap {
        // The daemon is detached: a path that does not depend on where
        // it runs.
        let pcap = std::path::absolute(pcap).with_context(|| pcap.display().to_string())?;
        command.arg("--pcap").arg(pcap);
    }
    if run.verbose {
        command.arg("--verbose");
    }
    let status = command.status().context("cannot start usctp daemon")?;
    if !status.success() {
        return Err(anyhow::anyhow!("usctp daemon could not start ({status})"));
    }
    // Up to 10 s.
    for _ in 0..1000 {
        if daemon::running(name) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(anyhow::anyhow!(
        "usctp daemon did not answer within 10 s; run `usctp daemon --udp-port {}` to see why",
        run.udp_port
    ))
}

/// `usctp daemon --detach`: starts the daemon in a process group of its
/// own (the program's terminal signals do not reach it) and returns.
pub fn detach(args: impl Iterator<Item = OsString>, verbose: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    Command::new(exe)
        .args(args.filter(|a| a != "--detach"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(if verbose {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .process_group(0)
        .spawn()
        .map(drop)
        .context("cannot start usctp daemon")
}
