//! Linux kernel SCTP as a peer: Debian's kernel in a QEMU guest
//! (`interop/kernel/guest.sh`: TCG, a small initramfs, SCTP over UDP with
//! `net.sctp.udp_port`), reached through QEMU's user network (the host is
//! 10.0.2.2 to the guest; a host UDP port is forwarded to the guest's
//! encapsulation port). The tutorial's programs (`interop/seed/`, linked
//! statically; the client's server address set to the host) run on kernel
//! SCTP in the guest against `usctp daytime-*` on the host, both ways;
//! and `interop/kernel/kpeer.c` on kernel SCTP (echo, discard, a sender)
//! against `usctp ping`, `usctp bench` and `usctp discard-server`.
//!
//! Without qemu-system-x86, linux-image-amd64, busybox-static, libsctp-dev
//! or cpio the tests say they were skipped; under CI that is a failure.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::lksctp::{Stack, seed, usctp_in};
use support::{
    Proc, Reaper, USCTP, available, free_port, json, json_line, json_u64, now, run,
    skip_without_netns,
};

/// The SCTP port the tutorial's programs use (`MY_PORT_NUM`).
const TUTORIAL_PORT: &str = "19000";

/// How long a guest may take to boot and do its job (TCG on a busy
/// 2-core machine boots in 5-10 s).
const GUEST_LIMIT: Duration = Duration::from_secs(90);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/kernel/guest.sh")
}

/// Whether the guest can be built and booted here.
fn tools() -> bool {
    let kernel = std::fs::read_dir("/boot").ok().is_some_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
    });
    let missing = [
        (
            kernel,
            "no /boot/vmlinuz-* (Debian package linux-image-amd64)",
        ),
        (
            Path::new("/usr/bin/qemu-system-x86_64").exists(),
            "/usr/bin/qemu-system-x86_64 is missing (qemu-system-x86)",
        ),
        (
            Path::new("/bin/busybox").exists(),
            "/bin/busybox is missing (busybox-static)",
        ),
        (
            Path::new("/usr/lib/x86_64-linux-gnu/libsctp.a").exists(),
            "libsctp.a is missing (libsctp-dev)",
        ),
        (
            Path::new("/usr/bin/cpio").exists(),
            "/usr/bin/cpio is missing (cpio)",
        ),
        (
            Path::new("/usr/bin/sctp_test").exists(),
            "/usr/bin/sctp_test is missing (lksctp-tools)",
        ),
    ]
    .into_iter()
    .find(|(present, _)| !present)
    .map(|(_, why)| why);
    available(
        "qemu-system-x86 linux-image-amd64 busybox-static libsctp-dev lksctp-tools cpio",
        missing,
    )
}

/// The guests run one at a time: each takes a core for its emulation.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A booted guest running one job; its console read line by line.
struct Guest {
    qemu: Reaper,
    lines: mpsc::Receiver<String>,
    console: Vec<String>,
}

/// Builds the initramfs (cached) and kpeer for the host; the directory
/// they are in.
fn build() -> PathBuf {
    let build = Command::new(script()).arg("build").output().unwrap();
    assert!(
        build.status.success(),
        "guest.sh build failed:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let initrd = String::from_utf8_lossy(&build.stdout).trim().to_string();
    Path::new(&initrd).parent().unwrap().to_path_buf()
}

/// kpeer built for the host (against libsctp.so), to run under `usctp run`.
fn host_kpeer() -> String {
    build().join("kpeer").to_string_lossy().into_owned()
}

impl Guest {
    /// Boots a guest with `job` on QEMU's user network, forwarding the
    /// host's UDP `127.0.0.1:hostfwd` to it if given.
    fn boot(job: &[&str], hostfwd: Option<u16>) -> Guest {
        let mut run = Command::new(script());
        if let Some(port) = hostfwd {
            run.env("HOSTFWD", port.to_string());
        }
        Self::start(run, job)
    }

    /// Boots a guest with `job` and one NIC on each of `net`'s taps,
    /// recording the first NIC's traffic in `pcap` if given.
    fn boot_on(net: &TapNet, job: &[&str], pcap: Option<&Path>) -> Guest {
        let mut run = Command::new("ip");
        run.args(["netns", "exec", &net.ns])
            .arg(script())
            .env("TAP", net.taps.join(","));
        if let Some(pcap) = pcap {
            run.env("PCAP", pcap);
        }
        Self::start(run, job)
    }

    /// Runs `guest.sh run JOB` as `run` says (the script, or a command
    /// whose first argument after its own is the script).
    fn start(mut run: Command, job: &[&str]) -> Guest {
        build();
        run.arg("run")
            .args(job)
            .env("TIMEOUT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = run.spawn().expect("run guest.sh");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                // The console writes terminal control sequences around
                // the BIOS's output; keep the text.
                let text: String = line.chars().filter(|c| !c.is_control()).collect();
                if tx.send(text).is_err() {
                    break;
                }
            }
        });
        Guest {
            qemu: Reaper::new(child),
            lines,
            console: Vec::new(),
        }
    }

    /// Waits for a console line containing `text`.
    fn wait_for(&mut self, text: &str) {
        let deadline = now() + GUEST_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.console.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!(
                    "the guest's console never said \"{text}\":\n{}",
                    self.console.join("\n")
                ),
            }
        }
    }

    /// Stops the guest's job now (it is bounded anyway) and returns the
    /// console so far.
    fn stop(mut self) -> String {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.console.push(line);
        }
        self.console.join("\n")
    }

    /// Waits for the guest to power off; its whole console.
    fn finish(mut self) -> String {
        self.wait_for("Power down");
        let status = self.qemu.child().wait().unwrap();
        assert!(status.success(), "QEMU exited with {status}");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
            self.console.push(line);
        }
        self.console.join("\n")
    }
}

/// The tutorial client's report: the association came up (state 4 is
/// SCTP_ESTABLISHED) with five streams each way, and both times arrived.
fn assert_tutorial_client_report(out: &str) {
    assert!(
        out.contains("state     = 4"),
        "no \"state     = 4\" in:\n{out}"
    );
    assert_tutorial_client_times(out);
}

/// The tutorial client's report, whatever the association's state when
/// the client asked for it: five streams each way and both times. (The
/// client asks after `connect` returns; a server that sends both lines
/// and closes at once may by then be shutting the association down,
/// state 7 or 8, SHUTDOWN-RECEIVED or SHUTDOWN-ACK-SENT, or have ended
/// it, and the client prints zeroes: the guest's job tries again then.)
fn assert_tutorial_client_times(out: &str) {
    for line in ["instrms   = 5", "outstrms  = 5", "(Local) ", "(GMT  ) "] {
        assert!(out.contains(line), "no \"{line}\" in:\n{out}");
    }
}

#[test]
fn usctp_daytime_client_gets_the_time_from_the_tutorial_server_on_kernel_sctp() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let forwarded = free_port();
    let mut guest = Guest::boot(&["daytime-server", "60"], Some(forwarded));
    guest.wait_for("Awaiting a new connection");
    let server = format!("127.0.0.1:{forwarded}");
    let client = usctp(&["daytime-client", &server, "--port", TUTORIAL_PORT])
        .succeeded("usctp daytime-client");
    assert_tutorial_client_report(&client.stdout);
    // The server served the association and waits for the next one.
    guest.wait_for("Awaiting a new connection");
    // The guest's job is bounded; stop it now.
    drop(guest);
}

#[test]
fn the_tutorial_client_on_kernel_sctp_gets_the_time_from_usctp_daytime_server() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    // No limit on associations: the client may try more than once.
    let mut server = usctp(&[
        "daytime-server",
        "--listen",
        &listen,
        "--port",
        TUTORIAL_PORT,
    ]);
    server.wait_for("daytime server on");
    // The guest reaches the host's 127.0.0.1 at 10.0.2.2.
    let console = Guest::boot(&["daytime-client", &port.to_string(), "3"], None).finish();
    assert_tutorial_client_times(&console);
    assert!(console.contains("guest: job exit 0"), "{console}");
}

/// The JSON lines kpeer printed on the guest's console, in order.
fn kpeer_reports(console: &str) -> Vec<&str> {
    console
        .lines()
        .filter(|l| l.starts_with("{\"mode\""))
        .collect()
}

/// The one report of a kpeer job that served or made one association,
/// which must say it went well.
#[track_caller]
fn kpeer_report(console: &str) -> &str {
    let reports = kpeer_reports(console);
    assert_eq!(reports.len(), 1, "{console}");
    assert!(reports[0].contains("\"ok\":true"), "{console}");
    reports[0]
}

/// The one report of mode `mode` among a kpeer job's.
#[track_caller]
fn kpeer_report_of<'a>(console: &'a str, mode: &str) -> &'a str {
    let tag = format!("{{\"mode\":\"{mode}\"");
    let reports: Vec<&str> = kpeer_reports(console)
        .into_iter()
        .filter(|r| r.starts_with(&tag))
        .collect();
    assert_eq!(reports.len(), 1, "{console}");
    reports[0]
}

/// `usctp ARGS...`, named after its subcommand.
fn usctp(args: &[&str]) -> Proc {
    Proc::spawn(&format!("usctp {}", args[0]), Path::new(USCTP), args)
}

/// A usctp server (`daytime-server`, `echo-server`, `discard-server`)
/// for one association on SCTP port `sctp_port`, at a free UDP port on
/// 127.0.0.1 (which the guest reaches at 10.0.2.2); with that port.
fn usctp_server(service: &str, sctp_port: &str, extra: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        service,
        "--listen",
        &listen,
        "--port",
        sctp_port,
        "--max-assocs",
        "1",
    ];
    args.extend(extra);
    (usctp(&args), port)
}

#[test]
fn usctp_ping_against_an_echo_server_on_kernel_sctp_from_1_byte_to_150_kb() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let forwarded = free_port();
    let rounds = [(1, 50), (1000, 50), (150_000, 3)];
    let count = rounds.len().to_string();
    let mut guest = Guest::boot(&["echo-server", "19001", &count], Some(forwarded));
    guest.wait_for("kpeer: listening");
    let server = format!("127.0.0.1:{forwarded}");
    for (size, messages) in rounds {
        let (size, messages) = (size.to_string(), messages.to_string());
        let ping = usctp(&[
            "ping",
            &server,
            "--port",
            "19001",
            "--msg-size",
            &size,
            "--count",
            &messages,
            "--json",
        ])
        .succeeded("usctp ping");
        // Every echo compared with what was sent.
        let line = json_line(&ping.stdout);
        assert_eq!(json_u64(line, "messages").to_string(), messages, "{line}");
        assert_eq!(json_u64(line, "mismatches"), 0, "{line}");
        guest.wait_for("\"mode\":\"echo\"");
    }
    let console = guest.stop();
    let reports = kpeer_reports(&console);
    assert_eq!(reports.len(), rounds.len(), "{console}");
    for (report, (size, messages)) in reports.iter().zip(rounds) {
        assert_eq!(json_u64(report, "messages"), messages, "{report}");
        assert_eq!(json_u64(report, "bytes"), size * messages, "{report}");
        assert!(report.contains("\"ok\":true"), "{report}");
        // usctp ping shut the association down gracefully.
        assert!(report.contains("\"end\":\"shutdown\""), "{report}");
    }
}

#[test]
fn usctp_bench_against_a_discard_server_on_kernel_sctp_ordered_and_unordered() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let forwarded = free_port();
    // 5 MB in 1200-byte messages, then 3 MB in 150,000-byte unordered
    // messages (each in 100 or more DATA chunks).
    let runs: [(u64, u64, &[&str]); 2] = [
        (5_000_000, 1200, &[]),
        (3_000_000, 150_000, &["--unordered"]),
    ];
    let mut guest = Guest::boot(&["discard-server", "19002", "2"], Some(forwarded));
    guest.wait_for("kpeer: listening");
    let server = format!("127.0.0.1:{forwarded}");
    for (bytes, size, extra) in runs {
        let (b, s) = (bytes.to_string(), size.to_string());
        let mut args = vec![
            "bench",
            &server,
            "--port",
            "19002",
            "--bytes",
            &b,
            "--msg-size",
            &s,
            "--json",
        ];
        args.extend(extra);
        let bench = usctp(&args).succeeded("usctp bench");
        let line = json_line(&bench.stdout);
        assert_eq!(json_u64(line, "bytes"), bytes, "{line}");
        guest.wait_for("\"mode\":\"discard\"");
    }
    let console = guest.stop();
    let reports = kpeer_reports(&console);
    assert_eq!(reports.len(), runs.len(), "{console}");
    for (report, (bytes, size, _)) in reports.iter().zip(runs) {
        assert_eq!(json_u64(report, "bytes"), bytes, "{report}");
        assert_eq!(
            json_u64(report, "messages"),
            bytes.div_ceil(size),
            "{report}"
        );
        assert!(report.contains("\"ok\":true"), "{report}");
        assert!(report.contains("\"end\":\"shutdown\""), "{report}");
    }
}

#[test]
fn a_sender_on_kernel_sctp_delivers_everything_to_usctp_discard_server() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let (server, port) = usctp_server("discard-server", "19003", &["--json", "-v"]);
    // 300 KB in 1200-byte messages over four streams in turn, then a
    // graceful close. (QEMU's user network drops much of what the guest
    // sends in bursts, and the kernel recovers most of it by T3-rtx: a
    // second per loss, so this direction moves little.)
    let console = Guest::boot(
        &["send", &port.to_string(), "19003", "300000", "1200", "4"],
        None,
    )
    .finish();
    assert_eq!(
        json_u64(kpeer_report(&console), "bytes"),
        300_000,
        "{console}"
    );
    let received = server.succeeded("usctp discard-server");
    let line = json_line(&received.stdout);
    assert_eq!(json_u64(line, "bytes"), 300_000, "{line}");
    assert_eq!(json_u64(line, "messages"), 250, "{line}");
    assert_closed_by_the_kernel(&received.stderr);
}

/// A usctp server's notifications (`-v`) say that the kernel shut the
/// association down and that the shutdown completed.
#[track_caller]
fn assert_closed_by_the_kernel(notifications: &str) {
    for text in ["the peer shuts down", "closed gracefully"] {
        assert!(notifications.contains(text), "{notifications}");
    }
}

#[test]
fn an_echo_client_on_kernel_sctp_gets_every_message_back_from_usctp_echo_server() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let (server, port) = usctp_server("echo-server", "19004", &["-v"]);
    // 20 messages of 100,000 bytes over four streams, every second one
    // unordered, each with its number as PPID: kpeer compares each echo's
    // bytes, stream, PPID and unordered flag with what it sent.
    let console = Guest::boot(
        &["ping", &port.to_string(), "19004", "20", "100000", "4"],
        None,
    )
    .finish();
    let report = kpeer_report(&console);
    assert_eq!(json_u64(report, "messages"), 20, "{console}");
    assert_eq!(json_u64(report, "mismatches"), 0, "{console}");
    assert_closed_by_the_kernel(&server.succeeded("usctp echo-server").stderr);
}

#[test]
fn an_abort_from_kernel_sctp_ends_usctp_ping_with_the_peers_reason() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let forwarded = free_port();
    // The server takes one message, then closes lingering 0 s: Linux
    // sends ABORT (with a User-Initiated Abort cause, RFC 9260 §3.3.10.12).
    let mut guest = Guest::boot(&["abort-server", "19005"], Some(forwarded));
    guest.wait_for("kpeer: listening");
    let server = format!("127.0.0.1:{forwarded}");
    let ping = usctp(&[
        "ping",
        &server,
        "--port",
        "19005",
        "--count",
        "5",
        "--msg-size",
        "100",
    ])
    .finish();
    assert!(!ping.status.success(), "ping went on after the abort");
    assert!(
        ping.stderr.contains("aborted by peer") && ping.stderr.contains("User_Initiated_Abort"),
        "{}",
        ping.stderr
    );
    guest.wait_for("\"mode\":\"abort\"");
    let console = guest.stop();
    assert_eq!(json_u64(kpeer_report(&console), "bytes"), 100, "{console}");
}

#[test]
fn usctp_keeps_the_association_when_the_kernel_side_restarts() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let (server, port) = usctp_server("echo-server", "19006", &["-v"]);
    // Five echoes from SCTP port 5000; then the guest loses the
    // association without a word (eth0 down while it closes, so its
    // ABORT goes nowhere) and connects again from port 5000: an INIT for
    // an association usctp still has, whose COOKIE ECHO carries a new tag
    // (RFC 9260 §5.2.2, §5.2.4 action A: a restart).
    let console = Guest::boot(
        &[
            "KPEER_PORT=5000",
            "restart",
            &port.to_string(),
            "19006",
            "5",
            "1000",
        ],
        None,
    )
    .finish();
    let reports = kpeer_reports(&console);
    assert_eq!(reports.len(), 2, "{console}");
    assert!(reports[0].starts_with("{\"mode\":\"restart\""), "{console}");
    for report in &reports {
        assert_eq!(json_u64(report, "messages"), 5, "{console}");
        assert!(report.contains("\"ok\":true"), "{console}");
    }
    // One association, restarted, then shut down by the kernel.
    let served = server.succeeded("usctp echo-server");
    assert!(
        served.stderr.contains("the peer restarted"),
        "{}",
        served.stderr
    );
    assert_closed_by_the_kernel(&served.stderr);
    assert!(
        !served.stderr.contains("association 2"),
        "{}",
        served.stderr
    );
}

#[test]
fn an_abort_from_a_program_under_usctp_run_ends_the_kernels_association() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let stack = Stack::new();
    let kpeer = host_kpeer();
    // kpeer itself, built for the host against libsctp.so, under the
    // shim: one message, then close lingering 0 s (an ABORT).
    let mut server = stack.spawn("kpeer abort (usctp run)", &[&kpeer, "abort", "19007"]);
    server.wait_for("listen(");
    let console = Guest::boot(
        &[
            "ping",
            &stack.udp_port.to_string(),
            "19007",
            "3",
            "100",
            "1",
        ],
        None,
    )
    .finish();
    let report = kpeer_report_of(&console, "ping");
    assert!(report.contains("\"end\":\"abort\""), "{console}");
    assert_eq!(json_u64(report, "messages"), 0, "{console}");
    let served = server.succeeded("kpeer abort under usctp run");
    assert_eq!(
        json_u64(json_line(&served.stdout), "bytes"),
        100,
        "{}",
        served.stdout
    );
}

#[test]
fn the_tutorials_client_under_usctp_run_gets_the_time_from_its_server_on_kernel_sctp() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let forwarded = free_port();
    let mut guest = Guest::boot(&["daytime-server", "60"], Some(forwarded));
    guest.wait_for("Awaiting a new connection");
    let stack = Stack::new();
    let client = seed("sctpclnt");
    // The tutorial's client connects to 127.0.0.1, port 19000; the daemon
    // sends to UDP port `forwarded` there, which QEMU forwards.
    let out = stack
        .spawn_with(
            "sctpclnt",
            Some(forwarded),
            &[client.to_str().unwrap()],
            false,
        )
        .succeeded("sctpclnt under usctp run");
    assert_tutorial_client_times(&out.stdout);
    guest.wait_for("Awaiting a new connection");
    drop(guest);
}

#[test]
fn the_tutorials_client_on_kernel_sctp_gets_the_time_from_its_server_under_usctp_run() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let stack = Stack::new();
    let program = seed("sctpsrvr");
    let mut server = stack.spawn("sctpsrvr (usctp run)", &[program.to_str().unwrap()]);
    server.wait_for("listen(");
    let console = Guest::boot(&["daytime-client", &stack.udp_port.to_string(), "3"], None).finish();
    assert_tutorial_client_times(&console);
    assert!(console.contains("guest: job exit 0"), "{console}");
}

/// What lksctp-tools' `sctp_test -l` printed for one association from
/// `sctp_test -s -c 1 -x 3` (ten messages of each of three sizes, then
/// a close): every message, and the association's start and end.
#[track_caller]
fn assert_sctp_test_server_saw_30_messages(out: &str) {
    assert_eq!(out.matches(") Data ").count(), 30, "{out}");
    for event in ["COMMUNICATION_UP", "SHUTDOWN_COMPLETE"] {
        let line = format!("SCTP_ASSOC_CHANGE({event})");
        assert!(out.contains(&line), "{out}");
    }
}

#[test]
fn sctp_test_under_usctp_run_sends_to_sctp_test_on_kernel_sctp() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let forwarded = free_port();
    let mut guest = Guest::boot(
        &[
            "sctp_test",
            "0",
            "60",
            "-H",
            "10.0.2.15",
            "-P",
            "19012",
            "-l",
        ],
        Some(forwarded),
    );
    guest.wait_for("guest: up");
    let stack = Stack::new();
    let args = [
        "sctp_test",
        "-H",
        "127.0.0.1",
        "-P",
        "5002",
        "-h",
        "127.0.0.1",
        "-p",
        "19012",
        "-s",
        "-c",
        "1",
        "-x",
        "3",
    ];
    let client = stack
        .spawn_with("sctp_test -s (usctp run)", Some(forwarded), &args, false)
        .succeeded("sctp_test -s under usctp run");
    assert_eq!(
        client.stdout.matches("sendmsg(sk=").count(),
        30,
        "{}",
        client.stdout
    );
    guest.wait_for("SHUTDOWN_COMPLETE");
    assert_sctp_test_server_saw_30_messages(&guest.stop());
}

#[test]
fn sctp_test_on_kernel_sctp_sends_to_sctp_test_under_usctp_run() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let stack = Stack::new();
    let args = [
        "stdbuf",
        "-oL",
        "sctp_test",
        "-H",
        "127.0.0.1",
        "-P",
        "19013",
        "-l",
    ];
    let mut server = stack.spawn("sctp_test -l (usctp run)", &args);
    server.wait_for("listen(");
    let udp = stack.udp_port.to_string();
    let console = Guest::boot(
        &[
            "sctp_test",
            &udp,
            "60",
            "-H",
            "10.0.2.15",
            "-P",
            "5003",
            "-h",
            "10.0.2.2",
            "-p",
            "19013",
            "-s",
            "-c",
            "1",
            "-x",
            "3",
        ],
        None,
    )
    .finish();
    assert_eq!(console.matches("sendmsg(sk=").count(), 30, "{console}");
    // The client closed and exited; the daemon delivers everything, then
    // the shutdown completes.
    std::thread::sleep(Duration::from_secs(1));
    let _ = server.child.kill();
    assert_sctp_test_server_saw_30_messages(&server.collect().stdout);
}

/// A network namespace with a tap device for each of a guest's NICs:
/// `kt1` has 10.202.1.1/24 (the guest is 10.202.1.2 behind it), `kt2`
/// 10.202.2.1/24; deleted on drop, with everything still in it.
struct TapNet {
    ns: String,
    taps: Vec<String>,
}

impl TapNet {
    fn new(tag: &str, nics: usize) -> TapNet {
        let net = TapNet {
            ns: format!("usctp-k{}{tag}", std::process::id() % 100_000),
            taps: (1..=nics).map(|n| format!("kt{n}")).collect(),
        };
        run(&["ip", "netns", "add", &net.ns]).unwrap();
        run(&["ip", "-n", &net.ns, "link", "set", "lo", "up"]).unwrap();
        for (n, tap) in net.taps.iter().enumerate() {
            let addr = format!("10.202.{}.1/24", n + 1);
            for step in [
                &["tuntap", "add", "dev", tap, "mode", "tap"][..],
                &["addr", "add", &addr, "dev", tap],
                &["link", "set", tap, "up"],
            ] {
                let mut args = vec!["ip", "-n", &net.ns];
                args.extend(step);
                run(&args).unwrap();
            }
        }
        net
    }

    /// Drops every IP packet crossing `tap`, both ways, at the device:
    /// neither end gets an error, packets just vanish. ARP still passes,
    /// so nothing waits in a neighbour queue to go out when the cut is
    /// mended.
    fn cut(&self, tap: &str) {
        let rules = format!(
            "table netdev cut {{
                chain in {{ type filter hook ingress device {tap} priority 0; meta protocol ip drop; }}
                chain out {{ type filter hook egress device {tap} priority 0; meta protocol ip drop; }}
            }}"
        );
        run(&["ip", "netns", "exec", &self.ns, "nft", &rules]).unwrap();
    }

    /// Undoes `cut` in one direction: "in" (to the host) or "out".
    fn mend(&self, direction: &str) {
        run(&[
            "ip", "netns", "exec", &self.ns, "nft", "flush", "chain", "netdev", "cut", direction,
        ])
        .unwrap();
    }

    /// `usctp ARGS...` in the namespace.
    fn usctp(&self, args: &[&str]) -> Proc {
        usctp_in(Some(&self.ns), &format!("usctp {}", args[0]), args)
    }
}

impl Drop for TapNet {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// Timers short enough for a path cut to be survived in a test: RTO 200
/// ms to 1 s, heartbeats every 300 ms, a path failed after two misses
/// (kpeer's KPEER_FAST is the same on the kernel's side).
const FAST: [&str; 10] = [
    "--rto-min",
    "200",
    "--rto-initial",
    "500",
    "--rto-max",
    "1000",
    "--hb-interval",
    "300",
    "--path-max-retrans",
    "2",
];

#[test]
fn a_multihomed_kernel_client_keeps_echoing_with_usctp_across_a_path_cut() {
    if !tools() || skip_without_netns(true) {
        return;
    }
    let _turn = one_at_a_time();
    let net = TapNet::new("mh1", 2);
    let mut args = vec![
        "echo-server",
        "--listen",
        "10.202.1.1:9900",
        "--listen",
        "10.202.2.1:9900",
        "--port",
        "19008",
        "--max-assocs",
        "1",
        "-v",
    ];
    args.extend(FAST);
    let mut server = net.usctp(&args);
    server.wait_for("listening");
    // 100 echoes of 1000 bytes, one every 50 ms, once both of usctp's
    // addresses are active for the kernel (its heartbeats answered);
    // after the 20th the path between 10.202.1.2 and 10.202.1.1 (the
    // primary both ways) is cut.
    let mut guest = Guest::boot_on(
        &net,
        &[
            "KPEER_FAST=1",
            "KPEER_PATHS=2",
            "KPEER_INTERVAL_MS=50",
            "ping",
            "9900",
            "19008",
            "100",
            "1000",
            "2",
        ],
        None,
    );
    guest.wait_for("kpeer: 2 paths active");
    guest.wait_for("kpeer: echoed 20");
    net.cut("kt1");
    let console = guest.finish();
    let report = kpeer_report_of(&console, "ping");
    assert!(report.contains("\"ok\":true"), "{console}");
    assert_eq!(json_u64(report, "messages"), 100, "{console}");
    assert_eq!(json_u64(report, "mismatches"), 0, "{console}");
    // The longest wait for an echo spans the failover of both ends.
    let stall = json_u64(report, "max_rtt_ms");
    assert!(stall < 5000, "an echo took {stall} ms:\n{console}");
    let served = server.succeeded("usctp echo-server");
    for text in [
        "path 10.202.2.2:9899 confirmed",
        "path 10.202.2.2:9899 made primary",
        "closed gracefully",
    ] {
        assert!(served.stderr.contains(text), "{}", served.stderr);
    }
}

#[test]
fn multihomed_usctp_ping_keeps_echoing_with_kernel_sctp_across_a_path_cut() {
    if !tools() || skip_without_netns(true) {
        return;
    }
    let _turn = one_at_a_time();
    let net = TapNet::new("mh2", 2);
    let mut guest = Guest::boot_on(
        &net,
        &["KPEER_FAST=1", "KPEER_PATHS=2", "echo-server", "19009"],
        None,
    );
    guest.wait_for("kpeer: listening");
    let mut args = vec![
        "ping",
        "10.202.1.2:9899",
        "--local",
        "10.202.1.1:9900",
        "--local",
        "10.202.2.1:9900",
        "--port",
        "19009",
        "--count",
        "4000",
        "--msg-size",
        "1000",
        "--json",
        "-v",
    ];
    args.extend(FAST);
    let mut ping = net.usctp(&args);
    // Both of the kernel's addresses confirmed on usctp's side and the
    // kernel's heartbeats to usctp's second address answered; then the
    // primary path is cut with thousands of echoes to go.
    ping.wait_for("path 10.202.2.2:9899 confirmed");
    guest.wait_for("kpeer: 2 paths active");
    net.cut("kt1");
    let done = ping.succeeded("usctp ping");
    let line = json_line(&done.stdout);
    assert_eq!(json_u64(line, "messages"), 4000, "{line}");
    assert_eq!(json_u64(line, "mismatches"), 0, "{line}");
    assert_eq!(json(line, "path"), "\"10.202.2.2:9899\"", "{line}");
    assert!(json_u64(line, "failovers") >= 1, "{line}");
    let stall = json_u64(line, "rtt_us_max");
    assert!(
        stall < 5_000_000,
        "an echo took {stall} us:\n{}",
        done.stderr
    );
    let console = guest.finish();
    let report = kpeer_report_of(&console, "echo");
    assert!(report.contains("\"end\":\"shutdown\""), "{console}");
    assert_eq!(json_u64(report, "messages"), 4000, "{console}");
}

/// Both ends connect at once, each to the other's SCTP port from its own:
/// kpeer on kernel SCTP in the guest and kpeer under `usctp run` on the
/// host. Everything between them is dropped until both have sent an INIT
/// (both are in COOKIE-WAIT); then one direction is let through first, so
/// that an INIT meets an endpoint waiting for its own INIT's answer: the
/// kernel when `usctp_answers` is false, usctp otherwise (RFC 9260
/// §5.2.1; then §5.2.4 for the COOKIE ECHO). The guest's NIC and the
/// daemon record what each sent, dropped or not.
fn init_collision(usctp_answers: bool) {
    let net = TapNet::new(if usctp_answers { "c1" } else { "c2" }, 1);
    let dir = std::env::temp_dir();
    let guest_pcap = dir.join(format!("{}-guest.pcap", net.ns));
    let usctp_pcap = dir.join(format!("{}-usctp.pcap", net.ns));
    net.cut("kt1");
    let stack = Stack::in_netns(&net.ns, &["--pcap", usctp_pcap.to_str().unwrap()]);
    let udp = stack.udp_port.to_string();
    let job = [
        "KPEER_FAST=1",
        "KPEER_PORT=19011",
        "exchange",
        &udp,
        "19010",
        "10",
        "1000",
    ];
    let mut guest = Guest::boot_on(&net, &job, Some(&guest_pcap));
    guest.wait_for("kpeer: connecting");
    let kpeer = host_kpeer();
    let mut host = stack.spawn_with(
        "kpeer exchange (usctp run)",
        Some(9899),
        &[
            "env",
            "KPEER_PORT=19010",
            &kpeer,
            "exchange",
            "10.202.1.2",
            "19011",
            "10",
            "1000",
        ],
        false,
    );
    // The shim logs each call once it returns: kpeer connects right after
    // its bind (a blocking connect returns only when it is up).
    host.wait_for("bind -> ok");
    std::thread::sleep(Duration::from_millis(300));
    // The answering end hears the other's next INIT (both retransmit
    // within a second) while its answers are still dropped; a second
    // later everything passes.
    net.mend(if usctp_answers { "in" } else { "out" });
    std::thread::sleep(Duration::from_millis(1500));
    net.mend(if usctp_answers { "out" } else { "in" });
    let console = guest.finish();
    let guest_report = kpeer_report_of(&console, "exchange");
    let done = host.succeeded("kpeer exchange under usctp run");
    for report in [guest_report, json_line(&done.stdout)] {
        assert!(
            report.contains("\"ok\":true"),
            "{report}\n{console}\n{}",
            done.stderr
        );
        assert_eq!(json_u64(report, "messages"), 10, "{report}");
        assert_eq!(json_u64(report, "mismatches"), 0, "{report}");
    }
    drop(stack);
    let mut decoded = String::new();
    for (pcap, port) in [(&guest_pcap, "9899"), (&usctp_pcap, udp.as_str())] {
        let out = usctp(&["decode", "--udp-port", port, pcap.to_str().unwrap()])
            .succeeded("usctp decode");
        decoded.push_str(&out.stdout);
    }
    // The Initiate Tags an end sent in `chunk`s, the end named by its SCTP
    // ports ("sctp FROM > TO" in each line).
    let tags = |ports: &str, chunk: &str| -> Vec<String> {
        let marker = format!(": {chunk}(init_tag=");
        decoded
            .lines()
            .filter(|l| l.contains(ports))
            .filter_map(|l| l.split(&marker).nth(1))
            .map(|rest| rest[..10].to_string())
            .collect()
    };
    let (kernel, host_end) = ("sctp 19011 > 19010", "sctp 19010 > 19011");
    // Both ends sent an INIT: both were in COOKIE-WAIT.
    for end in [kernel, host_end] {
        assert!(
            !tags(end, "INIT").is_empty(),
            "no INIT from {end}:\n{decoded}"
        );
    }
    // The answering end answered, and every INIT ACK carried the Initiate
    // Tag of its sender's own INIT (§5.2.1).
    let answering = if usctp_answers { host_end } else { kernel };
    assert!(!tags(answering, "INIT_ACK").is_empty(), "{decoded}");
    for end in [kernel, host_end] {
        let inits = tags(end, "INIT");
        for tag in tags(end, "INIT_ACK") {
            assert!(
                inits.contains(&tag),
                "{end} answered with {tag}:\n{decoded}"
            );
        }
    }
    // Kept when an assertion fails, for a look with `usctp decode`.
    let _ = std::fs::remove_file(&guest_pcap);
    let _ = std::fs::remove_file(&usctp_pcap);
}

#[test]
fn an_init_collision_with_kernel_sctp_answered_by_usctp() {
    if !tools() || skip_without_netns(true) {
        return;
    }
    let _turn = one_at_a_time();
    init_collision(true);
}

#[test]
fn an_init_collision_with_kernel_sctp_answered_by_the_kernel() {
    if !tools() || skip_without_netns(true) {
        return;
    }
    let _turn = one_at_a_time();
    init_collision(false);
}
