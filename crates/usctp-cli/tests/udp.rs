//! Over real UDP on loopback: the socket API, the time demo, and interop
//! with usrsctp's example programs (Debian's libusrsctp-examples; CI
//! installs them, elsewhere those tests say they were skipped).

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use usctp::proto::config::Config;
use usctp::socket::{ConnectOptions, SctpListener, SctpStream};

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A client with `config` connected over loopback to a listener on SCTP
/// port 7: (client, server).
async fn connected(config: Config) -> (SctpStream, SctpStream) {
    let listener = SctpListener::bind(loopback(), 7, Config::default())
        .await
        .unwrap();
    let options = ConnectOptions {
        local: loopback(),
        config,
        ..ConnectOptions::default()
    };
    let connect = SctpStream::connect(listener.local_addr(), 7, options);
    let (client, server) = tokio::join!(connect, listener.accept());
    (client.unwrap(), server.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_in_both_directions_and_the_association_closes() {
    let (client, mut server) = connected(Config::default()).await;
    assert_eq!(client.established().outbound_streams, 10);

    const N: usize = 500;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            let body = Bytes::from(format!("{i}:").repeat(1 + i % 700));
            client.send((i % 3) as u16, 42, body).await.unwrap();
        }
        client
    });
    let mut next = [0usize; 3];
    for _ in 0..N {
        let m = tokio::time::timeout(Duration::from_secs(20), server.recv())
            .await
            .expect("no stall")
            .expect("message");
        let text = std::str::from_utf8(&m.data).unwrap();
        let i: usize = text.split(':').next().unwrap().parse().unwrap();
        assert_eq!(m.data, Bytes::from(format!("{i}:").repeat(1 + i % 700)));
        assert_eq!(usize::from(m.stream), i % 3);
        assert_eq!(m.ppid, 42);
        // In order on each stream.
        assert_eq!(
            i,
            next[i % 3] * 3 + i % 3,
            "out of order on stream {}",
            i % 3
        );
        next[i % 3] += 1;
    }
    let mut client = sender.await.unwrap();
    server
        .send(1, 0, Bytes::from_static(b"reply"))
        .await
        .unwrap();
    assert_eq!(&client.recv().await.unwrap().data[..], b"reply");
    client.shutdown();
    assert!(
        tokio::time::timeout(Duration::from_secs(10), server.recv())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        server.close_reason().is_none(),
        "graceful: {:?}",
        server.close_reason()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_right_after_sends_that_did_not_wait_delivers_them_all() {
    // `send` may return before the message is in the send buffer (it did
    // not wait for the endpoint task); a shutdown asked for then must still
    // deliver every message first (before the fix: 35 of 200 arrived).
    let (client, mut server) = connected(Config {
        send_buffer: 32 * 1024,
        ..Config::default()
    })
    .await;
    const N: usize = 200;
    for i in 0..N {
        let body = Bytes::from(vec![(i % 251) as u8; 1000]);
        client.send(0, 0, body).await.unwrap();
    }
    client.shutdown();
    let mut got = 0;
    while let Some(m) = tokio::time::timeout(Duration::from_secs(20), server.recv())
        .await
        .expect("no stall")
    {
        assert_eq!(
            m.data,
            Bytes::from(vec![(got % 251) as u8; 1000]),
            "message {got}"
        );
        got += 1;
    }
    assert_eq!(got, N);
    assert!(
        server.close_reason().is_none(),
        "{:?}",
        server.close_reason()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_after_the_peer_aborted_is_refused() {
    // Once the association has ended, `send` says so (before the fix it
    // returned Ok and the message vanished).
    let (client, server) = connected(Config::default()).await;
    server.abort(b"bye");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let result = client.send(0, 0, Bytes::from_static(b"hello")).await;
    assert!(result.is_err(), "{result:?}");
}

#[test]
fn the_demo_prints_the_classic_output() {
    let out = Command::new(env!("CARGO_BIN_EXE_usctp"))
        .arg("demo")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

/// The usrsctp example programs, if installed. Under CI their absence is a
/// failure.
fn usrsctp(program: &str) -> Option<String> {
    let path = format!("/usr/lib/usrsctp/{program}");
    if Path::new(&path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install libusrsctp-examples"
    );
    eprintln!("{path} not installed: interop test skipped");
    None
}

/// Two free UDP ports on loopback.
fn free_ports() -> (u16, u16) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

#[test]
fn usrsctp_client_gets_the_time_from_our_server() {
    let Some(client) = usrsctp("client") else {
        return;
    };
    let (ours, theirs) = free_ports();
    let mut server = Command::new(env!("CARGO_BIN_EXE_usctp"))
        .args([
            "daytime-server",
            "--listen",
            &format!("127.0.0.1:{ours}"),
            "--max-assocs",
            "1",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // client remote_addr remote_port local_port local_encaps remote_encaps;
    // it shuts down when its standard input ends, so that stays open a
    // moment for the server's messages to arrive first.
    let mut peer = Command::new("timeout")
        .args([
            "10",
            &client,
            "127.0.0.1",
            "13",
            "0",
            &theirs.to_string(),
            &ours.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    drop(peer.stdin.take());
    let out = peer.wait_with_output().unwrap();
    let status = server.wait().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SCTP_COMM_UP"), "{text}");
    assert!(text.contains("streams (in/out) = (5/5)"), "{text}");
    // usrsctp prints what it received: the local time.
    let year = chrono::Local::now().format("%Y").to_string();
    assert!(
        text.lines().next().is_some_and(|l| l.ends_with(&year)),
        "{text}"
    );
    assert!(text.contains("SCTP_SHUTDOWN_COMP"), "{text}");
    assert!(status.success());
}

#[test]
fn our_client_talks_to_the_usrsctp_daytime_server() {
    // usrsctp's daytime_server sends one message (the local time, stream 0)
    // and closes: our client prints it, then reports the missing second one.
    let Some(server) = usrsctp("daytime_server") else {
        return;
    };
    let (theirs, ours) = free_ports();
    let mut server = Command::new(&server)
        .args([theirs.to_string(), ours.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new(env!("CARGO_BIN_EXE_usctp"))
        .args([
            "daytime-client",
            &format!("127.0.0.1:{theirs}"),
            "--local",
            &format!("127.0.0.1:{ours}"),
        ])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("state     = 4"), "{text}");
    assert!(text.contains("(Local) "), "{text}");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("closed before both messages arrived"));
}

/// Runs a `usctp` server subcommand on a free loopback port, then a client
/// subcommand against it; returns both outputs.
fn serve_and_run(server: &[&str], client: &[&str]) -> (std::process::Output, std::process::Output) {
    let (port, _) = free_ports();
    let addr = format!("127.0.0.1:{port}");
    let server = Command::new(env!("CARGO_BIN_EXE_usctp"))
        .args(server)
        .args(["--listen", &addr, "--max-assocs", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let client = Command::new("timeout")
        .args(["60", env!("CARGO_BIN_EXE_usctp")])
        .args(client)
        .arg(&addr)
        .output()
        .unwrap();
    (server.wait_with_output().unwrap(), client)
}

fn json_field(line: &str, key: &str) -> f64 {
    let at = line
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("{key} in {line}"));
    line[at + key.len() + 4..]
        .split([',', '}'])
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn ping_against_echo_server_reports_round_trips() {
    let (server, client) = serve_and_run(
        &["echo-server"],
        &["ping", "--count", "200", "--msg-size", "100", "--json"],
    );
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert!(server.status.success());
    let line = String::from_utf8(client.stdout).unwrap();
    assert_eq!(json_field(&line, "messages"), 200.0);
    assert_eq!(json_field(&line, "mismatches"), 0.0);
    let (p50, p99) = (
        json_field(&line, "rtt_us_p50"),
        json_field(&line, "rtt_us_p99"),
    );
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
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    let sent = String::from_utf8(client.stdout).unwrap();
    let received = String::from_utf8(server.stdout).unwrap();
    assert_eq!(json_field(&sent, "bytes"), 3_000_000.0);
    assert_eq!(json_field(&sent, "messages"), 2500.0);
    assert_eq!(json_field(&received, "bytes"), 3_000_000.0);
    assert_eq!(json_field(&received, "messages"), 2500.0);
    assert!(json_field(&sent, "MBps") > 0.0);
}

#[test]
fn protocol_options_reach_the_handshake() {
    // `--streams` sets the streams asked for and accepted (SCTP_INITMSG).
    let (server, client) = serve_and_run(
        &["daytime-server", "--streams", "3"],
        &["daytime-client", "--streams", "2", "--rto-initial", "300"],
    );
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert!(server.status.success());
    let text = String::from_utf8(client.stdout).unwrap();
    assert!(text.contains("instrms   = 2\noutstrms  = 2\n"), "{text}");
}

#[test]
fn cat_carries_lines_and_closes_gracefully_at_end_of_input() {
    use std::io::Write;
    let (port, _) = free_ports();
    let addr = format!("127.0.0.1:{port}");
    let listener = Command::new(env!("CARGO_BIN_EXE_usctp"))
        .args(["cat", "--listen", &addr, "--port", "4242"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut sender = Command::new("timeout")
        .args([
            "20",
            env!("CARGO_BIN_EXE_usctp"),
            "cat",
            &addr,
            "--port",
            "4242",
            "--stream",
            "1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = sender.stdin.take().unwrap();
    input.write_all(b"hello\nsecond line\n").unwrap();
    drop(input);
    let sent = sender.wait_with_output().unwrap();
    assert!(sent.status.success());
    // The listener's own input stays open: the peer's shutdown ends it.
    let received = listener.wait_with_output().unwrap();
    assert!(received.status.success());
    assert_eq!(
        String::from_utf8(received.stdout).unwrap(),
        "hello\nsecond line\n"
    );
}

#[test]
fn pcap_records_the_whole_exchange_for_decode() {
    let path = std::env::temp_dir().join(format!("usctp-demo-{}.pcap", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_usctp"))
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
    let decoded = Command::new(env!("CARGO_BIN_EXE_usctp"))
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
        .args(["30", env!("CARGO_BIN_EXE_usctp")])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
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
    let holder = std::net::UdpSocket::bind(&busy).unwrap();
    let (ok, err) = usctp_fails(&["discard-server", "--listen", &busy], "");
    assert!(!ok);
    assert!(err.contains(&busy) && err.contains("in use"), "{err}");
    drop(holder);
    // A stream the association did not negotiate, and a message over the
    // limit, against a live echo server.
    let (port, _) = free_ports();
    let addr = format!("127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_usctp"))
        .args(["echo-server", "--listen", &addr])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (ok, err) = usctp_fails(&["cat", &addr, "--port", "7", "--stream", "999"], "hello\n");
    assert!(!ok);
    assert!(err.contains("stream 999 was not negotiated"), "{err}");
    let long = "a".repeat(2_000_000) + "\n";
    let (ok, err) = usctp_fails(&["cat", &addr, "--port", "7"], &long);
    assert!(!ok);
    assert!(err.contains("exceeds 1048576"), "{err}");
    let _ = server.kill();
    let _ = server.wait();
}

/// RUST_LOG turns on tracing: events at debug, every datagram at trace.
#[test]
fn rust_log_traces_events_and_datagrams() {
    let out = Command::new("timeout")
        .args(["30", env!("CARGO_BIN_EXE_usctp"), "demo"])
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
        .args(["30", env!("CARGO_BIN_EXE_usctp"), "demo"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("Up(Established"));
}
