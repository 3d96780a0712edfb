//! Unmodified Linux SCTP programs on usctp (`usctp run`): the tutorial's C
//! client and server (`interop/seed/`, compiled as the tutorial says,
//! against Debian's libsctp), lksctp-tools' `checksctp`, `sctp_test` and
//! `sctp_darn`, `ncat --sctp` and `iperf3 --sctp`, with each other and with
//! native usctp services; and, as negative controls, the same programs
//! failing without the shim (this host's kernel has no SCTP).
//!
//! Each test runs its own `usctp daemon` on a free UDP port with a socket
//! name of its own, so tests side by side do not meet. Without gcc,
//! libsctp-dev, lksctp-tools, ncat or iperf3 the tests say they were
//! skipped; under CI (the CI variable set) that is a failure instead.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::lksctp::{Stack, seed, shim};
use support::{Proc, USCTP, available, free_port, now};

/// The tests here run one at a time: each starts several processes and a
/// daemon, and the tutorial's client races its own server (see below),
/// which a machine busy with the other tests makes it lose.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the programs these tests run are installed.
fn tools() -> bool {
    let missing = [
        ("/usr/include/netinet/sctp.h", "libsctp-dev"),
        ("/usr/bin/checksctp", "lksctp-tools"),
        ("/usr/bin/sctp_test", "lksctp-tools"),
        ("/usr/bin/sctp_darn", "lksctp-tools"),
        ("/usr/bin/ncat", "ncat"),
        ("/usr/bin/iperf3", "iperf3"),
        ("/usr/bin/gcc", "gcc"),
    ]
    .iter()
    .find(|(path, _)| !Path::new(path).exists())
    .map(|(path, package)| format!("{path} is missing (Debian package {package})"));
    available(
        "gcc libsctp-dev lksctp-tools ncat iperf3",
        missing.as_deref(),
    )
}

/// A native usctp server (`usctp SUBCOMMAND ARGS --listen 127.0.0.1:PORT`)
/// on a free UDP port, once it listens; with that port.
fn native(subcommand: &str, args: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut all = vec![subcommand];
    all.extend(args);
    all.extend(["--listen", &listen]);
    let mut server = Proc::spawn(&format!("usctp {subcommand}"), Path::new(USCTP), &all);
    server.wait_for("on udp");
    (server, port)
}

/// Waits until `check` holds (a server is up, a file has its lines).
#[track_caller]
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = now() + Duration::from_secs(10);
    while !check() {
        assert!(now() < deadline, "{what}: not within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Stack {
    /// A server under the shim, once it listens (`-v` makes the shim log
    /// each call; the server's `listen` is awaited in that log).
    fn server(&self, name: &str, program: &[&str], stdin: bool) -> Proc {
        let mut server = self.spawn_with(name, None, program, stdin);
        server.wait_for("listen(");
        server
    }
}

/// The tutorial client's output lines: the status, then a (Local) and a
/// (GMT  ) line with the time.
#[track_caller]
fn assert_time_lines(out: &str) {
    let local = out.lines().find(|l| l.starts_with("(Local) "));
    let gmt = out.lines().find(|l| l.starts_with("(GMT  ) "));
    for line in [local, gmt] {
        let line = line.unwrap_or_else(|| panic!("no time line in:\n{out}"));
        // "(Local) Tue Dec  1 09:52:27 2026"
        assert!(
            line.len() >= 8 + 24 && line[8..].split_whitespace().count() == 5,
            "not a time: {line:?}"
        );
    }
}

#[test]
fn the_tutorials_client_and_server_exchange_the_time_under_the_shim() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let stack = Stack::new();
    let server = seed("sctpsrvr");
    let _server = stack.server("sctpsrvr", &[server.to_str().unwrap()], false);
    let client = seed("sctpclnt");
    // The client asks for the association's status after its server has
    // sent both lines and closed; when the shutdown has completed by
    // then, there is no association to report (kernel SCTP answers
    // EINVAL too) and the client prints zeroes. A loaded machine can lose
    // that race, so the exchange is tried a few times.
    let mut out = String::new();
    for _ in 0..5 {
        let done = stack
            .spawn("sctpclnt", &[client.to_str().unwrap()])
            .succeeded("sctpclnt");
        out = done.stdout;
        if out.contains("state     = 4") {
            break;
        }
        eprintln!("the status came too late:\n{out}");
    }
    let out = &out;
    let id: i64 = out
        .lines()
        .find_map(|l| l.strip_prefix("assoc id  = "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no association id in:\n{out}"));
    assert!(id > 0, "{out}");
    // ESTABLISHED is 4 in Linux's numbering; five streams each way, as
    // both asked with SCTP_INITMSG.
    for line in ["state     = 4", "instrms   = 5", "outstrms  = 5"] {
        assert!(out.lines().any(|l| l == line), "no {line:?} in:\n{out}");
    }
    assert_time_lines(out);
    // The server sent both lines and closed at once: nothing was lost.
    assert_eq!(out.matches("(Local) ").count(), 1, "{out}");
    assert_eq!(out.matches("(GMT  ) ").count(), 1, "{out}");
}

#[test]
fn the_tutorials_programs_get_and_give_the_time_with_native_usctp() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let stack = Stack::new();
    // usctp daytime-server, the tutorial's client under the shim.
    let (native, native_port) = native("daytime-server", &["--port", "19000", "--max-assocs", "1"]);
    let client = seed("sctpclnt");
    let done = stack
        .spawn_with(
            "sctpclnt",
            Some(native_port),
            &[client.to_str().unwrap()],
            false,
        )
        .succeeded("sctpclnt");
    assert_time_lines(&done.stdout);
    native.succeeded("usctp daytime-server");

    // The tutorial's server under the shim, usctp daytime-client.
    let server = seed("sctpsrvr");
    let _server = stack.server("sctpsrvr", &[server.to_str().unwrap()], false);
    let peer = format!("127.0.0.1:{}", stack.udp_port);
    let done = Proc::spawn(
        "usctp daytime-client",
        Path::new(USCTP),
        &["daytime-client", &peer, "--port", "19000"],
    )
    .succeeded("usctp daytime-client");
    assert_time_lines(&done.stdout);
}

#[test]
fn without_the_shim_the_same_programs_find_no_sctp() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    // The negative controls: on this host every one of them fails.
    let run =
        |program: &str, args: &[&str]| Proc::spawn(program, Path::new(program), args).finish();
    let done = run("/usr/bin/checksctp", &[]);
    assert!(
        !done.status.success(),
        "checksctp found SCTP: {}",
        done.stderr
    );
    assert!(
        done.stderr.contains("Protocol not supported"),
        "{}",
        done.stderr
    );
    let done = run(
        "/usr/bin/sctp_test",
        &["-H", "127.0.0.1", "-P", "5999", "-l"],
    );
    assert!(!done.status.success());
    let done = run("/usr/bin/ncat", &["--sctp", "-l", "127.0.0.1", "5999"]);
    assert!(!done.status.success());
    let done = run(
        "/usr/bin/iperf3",
        &["--sctp", "-c", "127.0.0.1", "-p", "5999", "-t", "1"],
    );
    assert!(!done.status.success());
    // The tutorial's client exits 0 regardless, with nothing to show.
    let client = seed("sctpclnt");
    let done = run(client.to_str().unwrap(), &[]);
    assert!(done.stdout.contains("state     = 0"), "{}", done.stdout);
    assert!(!done.stdout.contains("(Local)"), "{}", done.stdout);
}

#[test]
fn checksctp_finds_sctp_under_the_shim() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let stack = Stack::new();
    let done = stack
        .spawn("checksctp", &["checksctp"])
        .succeeded("checksctp");
    assert!(done.stderr.contains("SCTP supported"), "{}", done.stderr);
}

/// sctp_test sends `-x 3` rounds of ten messages; the server prints each
/// with its SNDRCV information and the association's notifications.
fn sctp_test(one_to_one: bool) {
    let stack = Stack::new();
    let style: &[&str] = if one_to_one { &["-T"] } else { &[] };
    let (server_port, client_port) = (free_port().to_string(), free_port().to_string());
    let mut server_args = vec!["stdbuf", "-oL", "sctp_test"];
    server_args.extend(style);
    server_args.extend(["-H", "127.0.0.1", "-P", &server_port, "-l"]);
    let mut server = stack.server("sctp_test -l", &server_args, false);
    let mut client_args = vec!["sctp_test"];
    client_args.extend(style);
    client_args.extend(["-H", "127.0.0.1", "-P", &client_port, "-h", "127.0.0.1"]);
    client_args.extend(["-p", &server_port, "-s", "-c", "1", "-x", "3"]);
    let client = stack
        .spawn("sctp_test -s", &client_args)
        .succeeded("sctp_test -s");
    let sent = client.stdout.matches("sendmsg(sk=").count();
    assert_eq!(sent, 30, "{}", client.stdout);
    // The client closed and exited at once; the daemon still delivers
    // every message, then the shutdown completes.
    std::thread::sleep(Duration::from_secs(1));
    let _ = server.child.kill();
    let out = server.collect().stdout;
    assert_eq!(out.matches(") Data ").count(), sent, "{out}");
    assert!(out.contains("SCTP_ASSOC_CHANGE(COMMUNICATION_UP)"), "{out}");
    assert!(
        out.contains("SCTP_ASSOC_CHANGE(SHUTDOWN_COMPLETE)"),
        "{out}"
    );
    assert!(out.contains("SNDRCV(stream=0"), "{out}");
}

#[test]
fn sctp_test_exchanges_messages_one_to_many() {
    let _serial = one_at_a_time();
    if tools() {
        sctp_test(false);
    }
}

#[test]
fn sctp_test_exchanges_messages_one_to_one() {
    let _serial = one_at_a_time();
    if tools() {
        sctp_test(true);
    }
}

#[test]
fn sctp_darn_sends_a_message_with_notifications() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let stack = Stack::new();
    let (server_port, client_port) = (free_port().to_string(), free_port().to_string());
    let mut server = stack.server(
        "sctp_darn -l",
        &[
            "stdbuf",
            "-oL",
            "sctp_darn",
            "-H",
            "127.0.0.1",
            "-P",
            &server_port,
            "-l",
        ],
        false,
    );
    let mut client = stack.spawn_with(
        "sctp_darn -s",
        None,
        &[
            "stdbuf",
            "-oL",
            "sctp_darn",
            "-H",
            "127.0.0.1",
            "-P",
            &client_port,
            "-h",
            "127.0.0.1",
            "-p",
            &server_port,
            "-s",
        ],
        true,
    );
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"hello\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    drop(client.stdin.take());
    let client = client.finish();
    // sctp_getpaddrs names the server.
    assert!(
        client.stdout.contains("Received SCTP_COMM_UP"),
        "{}",
        client.stdout
    );
    assert!(
        client.stdout.contains(&format!("127.0.0.1:{server_port}")),
        "{}",
        client.stdout
    );
    std::thread::sleep(Duration::from_millis(500));
    let _ = server.child.kill();
    let out = server.collect().stdout;
    assert!(
        out.contains("NOTIFICATION: ASSOC_CHANGE - COMM_UP"),
        "{out}"
    );
    assert!(out.contains("DATA(") && out.contains("hello"), "{out}");
    assert!(out.contains("sinfo_stream 0"), "{out}");
}

/// Bytes no text encoding would pass unharmed.
fn binary(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn ncat_carries_binary_data_both_ways_and_two_servers_share_the_udp_port() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let stack = Stack::new();
    let data = binary(300_000);
    // Two servers in two programs on two SCTP ports, one UDP port.
    let (up, down) = (free_port().to_string(), free_port().to_string());
    // The receiving server's standard input stays open (ncat would end
    // the connection at its end).
    let mut receiver = stack.server("ncat -l", &["ncat", "--sctp", "-l", "127.0.0.1", &up], true);
    let mut sender = stack.server(
        "ncat -l --send-only",
        &["ncat", "--sctp", "-l", "--send-only", "127.0.0.1", &down],
        true,
    );

    // Client to server.
    let mut client = stack.spawn_with(
        "ncat --send-only",
        None,
        &["ncat", "--sctp", "--send-only", "127.0.0.1", &up],
        true,
    );
    client.stdin.as_mut().unwrap().write_all(&data).unwrap();
    drop(client.stdin.take());
    client.succeeded("ncat --send-only");
    drop(receiver.stdin.take());
    let got = receiver.finish();
    assert!(
        got.bytes == data,
        "the server received {} bytes, not the {} sent",
        got.bytes.len(),
        data.len()
    );

    // Server to client: the server reads its input once connected.
    let mut input = sender.stdin.take().unwrap();
    let sent = data.clone();
    let feeder = std::thread::spawn(move || input.write_all(&sent));
    let client = stack.spawn_with("ncat", None, &["ncat", "--sctp", "127.0.0.1", &down], true);
    let got = client.finish();
    feeder.join().unwrap().unwrap();
    assert!(
        got.bytes == data,
        "the client received {} bytes, not the {} sent",
        got.bytes.len(),
        data.len()
    );
}

#[test]
fn ncat_exec_forks_and_the_forked_child_serves_the_association() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let stack = Stack::new();
    let port = free_port().to_string();
    // --exec: ncat forks, the child relays between the association and
    // cat; the parent closes its copy of the fd, which must not end the
    // association.
    let _server = stack.server(
        "ncat --exec",
        &[
            "ncat",
            "--sctp",
            "-l",
            "127.0.0.1",
            &port,
            "--exec",
            "/bin/cat",
        ],
        false,
    );
    let mut client = stack.spawn_with("ncat", None, &["ncat", "--sctp", "127.0.0.1", &port], true);
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"echo through a fork\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    drop(client.stdin.take());
    let done = client.finish();
    assert_eq!(done.stdout, "echo through a fork\n", "{}", done.stderr);
}

#[test]
fn a_program_killed_with_sigkill_leaves_its_association_closed_and_nothing_behind() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let stack = Stack::with(&["--idle-exit", "1"]);
    let (discard, native_port) = native(
        "discard-server",
        &["--port", "9", "--json", "--max-assocs", "1"],
    );
    let mut client = stack.spawn_with(
        "ncat",
        Some(native_port),
        &["ncat", "--sctp", "127.0.0.1", "9"],
        true,
    );
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"before the kill\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // SIGKILL: no exit handler runs; the daemon sees the fd go.
    client.child.kill().unwrap();
    client.collect();
    // The association ended gracefully after what was sent.
    let done = discard.succeeded("usctp discard-server");
    assert!(done.stdout.contains("\"bytes\": 16,"), "{}", done.stdout);
    // The daemon held nothing more: with no socket left it exits.
    let daemon = stack.daemon.succeeded("usctp daemon");
    assert!(daemon.stderr.contains("exiting"), "{}", daemon.stderr);
}

#[test]
fn iperf3_measures_sctp_throughput() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let stack = Stack::new();
    let port = free_port().to_string();
    // Its control connection is TCP, which the shim leaves alone.
    let _server = stack.spawn("iperf3 -s", &["iperf3", "-s", "-p", &port]);
    eventually("iperf3 server", || {
        std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_ok()
    });
    let done = stack
        .spawn(
            "iperf3 --sctp",
            &[
                "iperf3",
                "--sctp",
                "-c",
                "127.0.0.1",
                "-p",
                &port,
                "-t",
                "2",
                "-J",
            ],
        )
        .succeeded("iperf3 --sctp");
    let received = done
        .stdout
        .split("\"sum_received\"")
        .nth(1)
        .and_then(|rest| rest.split("\"bits_per_second\":").nth(1))
        .and_then(|v| v.split([',', '\n']).next())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no sum_received in:\n{}", done.stdout));
    assert!(received > 1e6, "{received} bit/s");
    assert!(
        done.stdout.contains("\"protocol\":\t\"SCTP\""),
        "{}",
        done.stdout
    );
}

#[test]
fn usctp_run_starts_a_daemon_when_none_answers() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    shim();
    // No daemon on this port and name: usctp run starts one (detached,
    // exiting once idle).
    let udp_port = free_port().to_string();
    let name = format!("usctp-test-auto-{}-{udp_port}", std::process::id());
    let server = seed("sctpsrvr");
    // It records what it sends and receives where the first `run` says.
    let pcap = std::env::temp_dir().join(format!("{name}.pcap"));
    let mut server = Proc::spawn(
        "sctpsrvr",
        Path::new(USCTP),
        &[
            "run",
            "-v",
            "--pcap",
            pcap.to_str().unwrap(),
            "--udp-port",
            &udp_port,
            "--remote-udp-port",
            &udp_port,
            "--socket",
            &name,
            "--",
            server.to_str().unwrap(),
        ],
    );
    // Its daemon is up once the server listens (the shim logs each call).
    server.wait_for("listen(");
    let client = seed("sctpclnt");
    let elsewhere = std::env::temp_dir().join(format!("{name}-not.pcap"));
    let elsewhere_text = elsewhere.to_str().unwrap();
    let mut out = String::new();
    eventually("the client gets the time", || {
        let done = Proc::spawn(
            "sctpclnt",
            Path::new(USCTP),
            &[
                "run",
                "--pcap",
                elsewhere_text,
                "--udp-port",
                &udp_port,
                "--remote-udp-port",
                &udp_port,
                "--socket",
                &name,
                "--",
                client.to_str().unwrap(),
            ],
        )
        .finish();
        // The daemon is the one the server's `run` started.
        let warning = format!("does not record to {elsewhere_text}");
        assert!(done.stderr.contains(&warning), "{}", done.stderr);
        out = done.stdout;
        out.contains("(GMT  ) ")
    });
    assert_time_lines(&out);
    let decoded = Proc::spawn(
        "usctp decode",
        Path::new(USCTP),
        &["decode", "--udp-port", &udp_port, pcap.to_str().unwrap()],
    )
    .succeeded("usctp decode");
    let _ = std::fs::remove_file(&pcap);
    for chunk in ["INIT(", "INIT_ACK(", "COOKIE_ECHO(", "DATA("] {
        assert!(decoded.stdout.contains(chunk), "{}", decoded.stdout);
    }
    assert!(!elsewhere.exists(), "{} was written", elsewhere.display());
}

#[test]
fn the_shim_exports_the_libc_functions_it_hooks_and_nothing_else() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let nm = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(shim())
        .output()
        .expect("run nm");
    assert!(
        nm.status.success(),
        "{}",
        String::from_utf8_lossy(&nm.stderr)
    );
    let mut exported: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    exported.sort();
    let expected = [
        "__read_chk",
        "__recv_chk",
        "__recvfrom_chk",
        "accept",
        "accept4",
        "bind",
        "close",
        "close_range",
        "connect",
        "dup",
        "dup2",
        "dup3",
        "fcntl",
        "fcntl64",
        "getpeername",
        "getsockname",
        "getsockopt",
        "ioctl",
        "listen",
        "read",
        "readv",
        "recv",
        "recvfrom",
        "recvmsg",
        "send",
        "sendmsg",
        "sendto",
        "setsockopt",
        "shutdown",
        "socket",
        "write",
        "writev",
    ];
    assert_eq!(exported, expected);
}

#[test]
fn the_seed_programs_are_the_tutorials_text_restored() {
    let _serial = one_at_a_time();
    // The tutorial's text lives beside the repository on the developers'
    // machines (`../shared/seed/`), not in it; where it is, restore.py
    // must give back exactly the programs committed in interop/seed/.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let seed = root.join("../shared/seed/000_36e0cf67570aeaff.txt");
    if !seed.exists() {
        eprintln!(
            "{} is not here: the restoration is not checked",
            seed.display()
        );
        return;
    }
    let out = std::env::temp_dir().join(format!("usctp-seed-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let python = Command::new("python3")
        .arg(root.join("interop/seed/restore.py"))
        .arg(&seed)
        .arg(&out)
        .output()
        .expect("run python3");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    for file in ["sctpclnt.c", "sctpsrvr.c", "common.h"] {
        let restored = std::fs::read_to_string(out.join(file)).unwrap();
        let committed = std::fs::read_to_string(root.join("interop/seed").join(file)).unwrap();
        assert_eq!(restored, committed, "{file}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// A Python program whose SCTP socket goes through libc: the socket
/// module's connect, send and recv, select, `ioctl(FIONREAD)` and an
/// `fcntl(F_DUPFD)` copy, against a native usctp echo server.
const PYTHON_CLIENT: &str = r#"
import fcntl, os, select, socket, struct, sys, termios
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
s.connect(("127.0.0.1", 7))
s.send(b"hello")
select.select([s], [], [], 5)
waiting = struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
assert waiting == 5, waiting
assert s.recv(100) == b"hello"
copy = fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 0)
os.write(copy, b"through a copy")
select.select([copy], [], [], 5)
assert os.read(copy, 100) == b"through a copy"
print("ok", s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL))
"#;

#[test]
fn a_python_program_gets_sctp_through_libc() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let stack = Stack::new();
    let (_echo, native_port) = native("echo-server", &["--port", "7"]);
    let done = stack
        .spawn_with(
            "python3",
            Some(native_port),
            &["python3", "-c", PYTHON_CLIENT],
            false,
        )
        .succeeded("python3");
    assert_eq!(done.stdout, "ok 132\n", "{}", done.stderr);
}

/// A one-to-many server whose daemon dies while it waits in recvmsg, then
/// reads again and sends: it counts how often a read returns 0 (at most a
/// hundred times, so that a shim that returned 0 for ever cannot make the
/// test spin).
const ORPHANED_SERVER: &str = r#"
import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, socket.IPPROTO_SCTP)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
zeros = 0
while zeros < 100:
    try:
        if not s.recvmsg(1000)[0]:
            zeros += 1
    except OSError as e:
        print("recv", errno.errorcode[e.errno])
        break
print("zeros", zeros)
try:
    s.sendto(b"after", ("127.0.0.1", 9))
except OSError as e:
    print("send", errno.errorcode[e.errno])
"#;

#[test]
fn a_one_to_many_socket_whose_daemon_dies_fails_as_reset_instead_of_reading_nothing_for_ever() {
    let _serial = one_at_a_time();
    if !tools() {
        return;
    }
    let mut stack = Stack::new();
    let port = free_port().to_string();
    let server = stack.server("python3", &["python3", "-c", ORPHANED_SERVER, &port], false);
    std::thread::sleep(Duration::from_millis(200));
    stack.daemon.child.kill().unwrap();
    let done = server.succeeded("python3");
    assert_eq!(
        done.stdout, "recv ECONNRESET\nzeros 0\nsend EPIPE\n",
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("the daemon serving SCTP socket"),
        "{}",
        done.stderr
    );
}
