//! The `usctp` commands as a user runs them, over UDP on loopback: the
//! demo, the services with ping, bench and cat against them, captures for
//! decode, protocol options, errors and logs.

mod support;

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use support::{USCTP, free_loopback_addr, free_ports, json_f64};

/// Spawns `command`, a server, and gives it 300 ms to bind its port.
fn start(command: &mut Command) -> Child {
    let child = command.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child
}

/// The command exited 0; if not, its standard error says why.
#[track_caller]
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_demo_prints_the_classic_output() {
    let out = Command::new(USCTP).arg("demo").output().unwrap();
    assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[0].starts_with("assoc id  = "));
    assert_eq!(
        lines[1..4],
        ["state     = 4", "instrms   = 5", "outstrms  = 5"]
    );
    assert!(
        lines[4].starts_with("(Local) ") && lines[4].len() > 20,
        "{}",
        lines[4]
    );
    assert!(
        lines[5].starts_with("(GMT  ) ") && lines[5].len() > 20,
        "{}",
        lines[5]
    );
}

/// With RUST_LOG, the state machine says what happens to each association,
/// inside the span of the endpoint it runs on; without it, nothing.
#[test]
fn the_log_shows_each_association_event_in_its_endpoint_span() {
    let out = Command::new(USCTP)
        .arg("demo")
        .env("RUST_LOG", "usctp=debug")
        .output()
        .unwrap();
    assert_success(&out);
    let log = String::from_utf8(out.stderr).unwrap();
    let events: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("association event assoc="))
        .collect();
    for wanted in [
        "event=Up(",
        "event=ShutdownStarted",
        "event=ShutdownComplete",
    ] {
        let line = events
            .iter()
            .find(|l| l.contains(wanted))
            .unwrap_or_else(|| panic!("no {wanted} in:\n{log}"));
        assert!(line.contains("usctp_endpoint{local=[127.0.0.1:"), "{line}");
    }
    let quiet = Command::new(USCTP)
        .arg("demo")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_success(&quiet);
    let quiet_log = String::from_utf8(quiet.stderr).unwrap();
    assert!(!quiet_log.contains("association event"), "{quiet_log}");
}

/// Runs a `usctp` server subcommand on a free loopback port, then a client
/// subcommand against it; returns both outputs.
fn serve_and_run(server: &[&str], client: &[&str]) -> (Output, Output) {
    let addr = free_loopback_addr();
    let server = start(
        Command::new(USCTP)
            .args(server)
            .args(["--listen", &addr, "--max-assocs", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let client = Command::new("timeout")
        .args(["60", USCTP])
        .args(client)
        .arg(&addr)
        .output()
        .unwrap();
    (server.wait_with_output().unwrap(), client)
}

#[test]
fn ping_against_echo_server_reports_round_trips() {
    let (server, client) = serve_and_run(
        &["echo-server"],
        &["ping", "--count", "200", "--msg-size", "100", "--json"],
    );
    assert_success(&client);
    assert!(server.status.success());
    let line = String::from_utf8(client.stdout).unwrap();
    assert_eq!(json_f64(&line, "messages"), 200.0);
    assert_eq!(json_f64(&line, "mismatches"), 0.0);
    let (p50, p99) = (json_f64(&line, "rtt_us_p50"), json_f64(&line, "rtt_us_p99"));
    assert!(p50 > 0.0 && p50 <= p99, "{line}");
}

#[test]
fn bench_against_discard_server_counts_every_byte() {
    let (server, client) = serve_and_run(
        &["discard-server", "--json"],
        &[
            "bench",
            "--bytes",
            "3000000",
            "--msg-size",
            "1200",
            "--streams",
            "4",
            "--json",
        ],
    );
    assert_success(&client);
    let sent = String::from_utf8(client.stdout).unwrap();
    let received = String::from_utf8(server.stdout).unwrap();
    assert_eq!(json_f64(&sent, "bytes"), 3_000_000.0);
    assert_eq!(json_f64(&sent, "messages"), 2500.0);
    assert_eq!(json_f64(&received, "bytes"), 3_000_000.0);
    assert_eq!(json_f64(&received, "messages"), 2500.0);
    assert!(json_f64(&sent, "MBps") > 0.0);
}

#[test]
fn protocol_options_reach_the_handshake() {
    // `--streams` sets the streams asked for and accepted (SCTP_INITMSG).
    let (server, client) = serve_and_run(
        &["daytime-server", "--streams", "3"],
        &["daytime-client", "--streams", "2", "--rto-initial", "300"],
    );
    assert_success(&client);
    assert!(server.status.success());
    let text = String::from_utf8(client.stdout).unwrap();
    assert!(text.contains("instrms   = 2\noutstrms  = 2\n"), "{text}");
}

/// Like `ncat --sctp`: any bytes go through unchanged (4 MB of every byte
/// value, no text), and the end of input closes the association.
#[test]
fn cat_carries_any_bytes_and_closes_gracefully_at_end_of_input() {
    let addr = free_loopback_addr();
    let listener = start(
        Command::new(USCTP)
            .args(["cat", "--listen", &addr, "--port", "4242"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    // Its input stays open (an end of input would shut the association
    // down from this side); its output is read as it comes (output not
    // read would hold the sender back: flow control reaches it).
    let mut listener = listener;
    let listener_input = listener.stdin.take().unwrap();
    let receiving = std::thread::spawn(move || listener.wait_with_output().unwrap());
    let mut sender = Command::new("timeout")
        .args(["20", USCTP, "cat", &addr, "--port", "4242", "--stream", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let body: Vec<u8> = (0..4 << 20).map(|i: u32| (i * 7 % 256) as u8).collect();
    let mut input = sender.stdin.take().unwrap();
    let writing = {
        let body = body.clone();
        std::thread::spawn(move || input.write_all(&body).unwrap())
    };
    let sent = sender.wait_with_output().unwrap();
    writing.join().unwrap();
    assert!(sent.status.success());
    // The listener's own input stays open: the peer's shutdown ends it.
    let received = receiving.join().unwrap();
    drop(listener_input);
    assert!(received.status.success());
    assert_eq!(received.stdout.len(), body.len());
    assert!(received.stdout == body, "the bytes changed on the way");
}

/// `usctp handshakes` sets up and closes associations against a discard
/// server and reports the rate; the server's `-v` prints each one's
/// notifications.
#[test]
fn handshakes_are_counted_and_servers_print_notifications_with_v() {
    let addr = free_loopback_addr();
    let server = start(
        Command::new(USCTP)
            .args([
                "discard-server",
                "-v",
                "--listen",
                &addr,
                "--max-assocs",
                "30",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let out = Command::new("timeout")
        .args([
            "30",
            USCTP,
            "handshakes",
            &addr,
            "--count",
            "30",
            "--parallel",
            "4",
            "--json",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(json_f64(&text, "handshakes"), 30.0, "{text}");
    assert!(json_f64(&text, "per_second") > 0.0, "{text}");
    let served = server.wait_with_output().unwrap();
    assert!(served.status.success());
    let log = String::from_utf8(served.stderr).unwrap();
    assert_eq!(log.matches("the peer shuts down").count(), 30, "{log}");
    assert_eq!(log.matches("closed gracefully").count(), 30, "{log}");
}

#[test]
fn pcap_records_the_whole_exchange_for_decode() {
    let path = std::env::temp_dir().join(format!("usctp-demo-{}.pcap", std::process::id()));
    let out = Command::new(USCTP)
        .args(["demo", "--pcap"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let port = stderr
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .expect("server address on stderr");
    let decoded = Command::new(USCTP)
        .arg("decode")
        .arg(&path)
        .args(["--udp-port", port])
        .output()
        .unwrap();
    let text = String::from_utf8(decoded.stdout).unwrap();
    let _ = std::fs::remove_file(&path);
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split(": ").nth(1).unwrap().split('(').next().unwrap())
        .collect();
    assert_eq!(
        names[..4],
        ["INIT", "INIT_ACK", "COOKIE_ECHO", "COOKIE_ACK"],
        "{text}"
    );
    assert_eq!(names.last(), Some(&"SHUTDOWN_COMPLETE"), "{text}");
    assert!(text.lines().all(|l| l.contains("checksum ok")), "{text}");
    assert_eq!(text.matches("DATA(").count(), 2, "{text}");
}

/// Runs `usctp` with `args`; returns (success, standard error).
fn usctp_fails(args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new("timeout")
        .args(["30", USCTP])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Each mistake a user can make, or meet, ends with a message that says
/// what happened and a failing exit status.
#[test]
fn errors_name_the_cause_and_fail_the_command() {
    // Nothing listens on `silent`: INIT goes unanswered.
    let (silent, busy) = free_ports();
    let silent = format!("127.0.0.1:{silent}");
    let fast = ["--rto-initial", "50", "--rto-min", "50", "--rto-max", "100"];
    let mut args = vec!["daytime-client", &silent, "--max-init-retrans", "2"];
    args.extend(fast);
    let (ok, err) = usctp_fails(&args, "");
    assert!(!ok);
    assert!(
        err.contains(&format!("could not reach {silent} after 3 attempts")),
        "{err}"
    );
    // Contradictory protocol parameters.
    let (ok, err) = usctp_fails(&["daytime-client", &silent, "--rto-max", "200"], "");
    assert!(!ok);
    assert!(
        err.contains("RTO.Min (1000 ms) is above RTO.Max (200 ms)"),
        "{err}"
    );
    // The UDP port is taken.
    let busy = format!("127.0.0.1:{busy}");
    let holder = UdpSocket::bind(&busy).unwrap();
    let (ok, err) = usctp_fails(&["discard-server", "--listen", &busy], "");
    assert!(!ok);
    assert!(err.contains(&busy) && err.contains("in use"), "{err}");
    drop(holder);
    // A stream the association did not negotiate, against a live echo
    // server.
    let addr = free_loopback_addr();
    let mut server = start(
        Command::new(USCTP)
            .args(["echo-server", "--listen", &addr])
            .stderr(Stdio::null()),
    );
    let (ok, err) = usctp_fails(&["cat", &addr, "--port", "7", "--stream", "999"], "hello\n");
    assert!(!ok);
    assert!(err.contains("stream 999 was not negotiated"), "{err}");
    let _ = server.kill();
    let _ = server.wait();
}

/// RUST_LOG turns on tracing: events at debug, every datagram at trace.
#[test]
fn rust_log_traces_events_and_datagrams() {
    let out = Command::new("timeout")
        .args(["30", USCTP, "demo"])
        .env("RUST_LOG", "usctp=trace")
        .output()
        .unwrap();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    for wanted in ["event", "Up(Established", "send", "receive"] {
        assert!(log.contains(wanted), "no {wanted:?} in:\n{log}");
    }
    // Without RUST_LOG, nothing of the kind.
    let quiet = Command::new("timeout")
        .args(["30", USCTP, "demo"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("Up(Established"));
}
