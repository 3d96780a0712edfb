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

use support::{Proc, Reaper, USCTP, available, free_port, json_line, json_u64, now};

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
    ]
    .into_iter()
    .find(|(present, _)| !present)
    .map(|(_, why)| why);
    available(
        "qemu-system-x86 linux-image-amd64 busybox-static libsctp-dev cpio",
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

impl Guest {
    /// Builds the initramfs (cached) and boots a guest with `job`,
    /// forwarding the host's UDP `127.0.0.1:hostfwd` to it if given.
    fn boot(job: &[&str], hostfwd: Option<u16>) -> Guest {
        let build = Command::new(script()).arg("build").output().unwrap();
        assert!(
            build.status.success(),
            "guest.sh build failed:\n{}{}",
            String::from_utf8_lossy(&build.stdout),
            String::from_utf8_lossy(&build.stderr)
        );
        let mut run = Command::new(script());
        run.arg("run")
            .args(job)
            .env("TIMEOUT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(port) = hostfwd {
            run.env("HOSTFWD", port.to_string());
        }
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
    for line in [
        "state     = 4",
        "instrms   = 5",
        "outstrms  = 5",
        "(Local) ",
        "(GMT  ) ",
    ] {
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
    let (mut server, port) = usctp_server("daytime-server", TUTORIAL_PORT, &[]);
    server.wait_for("daytime server on");
    // The guest reaches the host's 127.0.0.1 at 10.0.2.2.
    let console = Guest::boot(&["daytime-client", &port.to_string()], None).finish();
    assert_tutorial_client_report(&console);
    assert!(console.contains("guest: job exit 0"), "{console}");
    server.succeeded("usctp daytime-server");
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
    }
}

#[test]
fn a_sender_on_kernel_sctp_delivers_everything_to_usctp_discard_server() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let (server, port) = usctp_server("discard-server", "19003", &["--json"]);
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
}

#[test]
fn an_echo_client_on_kernel_sctp_gets_every_message_back_from_usctp_echo_server() {
    if !tools() {
        return;
    }
    let _turn = one_at_a_time();
    let (server, port) = usctp_server("echo-server", "19004", &[]);
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
    server.succeeded("usctp echo-server");
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
