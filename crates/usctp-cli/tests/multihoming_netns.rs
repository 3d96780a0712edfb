//! Multi-homing across real network namespaces: two hosts joined by two
//! veth pairs on two subnets. `usctp bench` sends 200 MB to `usctp
//! discard-server`, both bound to both addresses; one second in (or once a
//! quarter of the bytes is acknowledged, if that comes first), the
//! primary path is cut, as a silent black hole (nftables drops on input in
//! both namespaces) or as the sender's link taken down. Every byte must
//! arrive; the stall (cut → 1 MB more acknowledged) is printed and bounded.
//!
//! Needs root and `ip netns` (CI has both); elsewhere it says why it is
//! skipped. The namespaces are removed whatever happens.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{Reaper, USCTP, now, run, skip_without_netns, usrsctp_peer};

/// At least 50 MB (what the issue asks for). usctp moves 200 MB in under
/// half a second between these namespaces, so the cut comes when a quarter
/// is acknowledged if that is before one second: 150 MB are left to
/// cross the other path.
const BYTES: usize = 200_000_000;

/// Two namespaces and two veth pairs, deleted on drop.
struct Testbed {
    a: String,
    b: String,
}

impl Testbed {
    /// Host A has 10.201.1.1 and 10.201.2.1, host B .2 on each subnet.
    fn new(tag: &str) -> Result<Self, String> {
        let id = format!("{}{tag}", std::process::id() % 100_000);
        let bed = Self {
            a: format!("usctp-a{id}"),
            b: format!("usctp-b{id}"),
        };
        run(&["ip", "netns", "add", &bed.a])?;
        run(&["ip", "netns", "add", &bed.b])?;
        for ns in [&bed.a, &bed.b] {
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        for subnet in ["1", "2"] {
            let (va, vb) = (format!("ua{subnet}"), format!("ub{subnet}"));
            run(&[
                "ip", "link", "add", &va, "netns", &bed.a, "type", "veth", "peer", "name", &vb,
                "netns", &bed.b,
            ])?;
            for (ns, dev, host) in [(&bed.a, &va, "1"), (&bed.b, &vb, "2")] {
                let addr = format!("10.201.{subnet}.{host}/24");
                run(&["ip", "-n", ns, "addr", "add", &addr, "dev", dev])?;
                run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
            }
        }
        Ok(bed)
    }

    /// Drops everything arriving from the other host's subnet-1 address,
    /// in both namespaces: neither end gets an error, packets just vanish.
    fn black_hole(&self) -> Result<(), String> {
        for (ns, from) in [(&self.a, "10.201.1.2"), (&self.b, "10.201.1.1")] {
            run(&[
                "ip", "netns", "exec", ns, "nft", "add", "table", "inet", "cut",
            ])?;
            run(&[
                "ip",
                "netns",
                "exec",
                ns,
                "nft",
                "add",
                "chain",
                "inet",
                "cut",
                "in",
                "{ type filter hook input priority 0; }",
            ])?;
            run(&[
                "ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "cut", "in", "ip",
                "saddr", from, "drop",
            ])?;
        }
        Ok(())
    }

    /// Takes host A's subnet-1 link down: its sends there fail at once.
    fn link_down(&self) -> Result<(), String> {
        run(&["ip", "-n", &self.a, "link", "set", "ua1", "down"]).map(drop)
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// A progress line (`usctp bench`: `t=…s acked=N …`; the usrsctp peer's
/// discard server: `t=…s received=N`): (t in s, bytes).
fn progress(line: &str) -> Option<(f64, usize)> {
    let mut t = None;
    let mut bytes = None;
    for field in line.split_whitespace() {
        if let Some(v) = field.strip_prefix("t=") {
            t = v.strip_suffix('s')?.parse().ok();
        } else if let Some(v) = field
            .strip_prefix("acked=")
            .or_else(|| field.strip_prefix("received="))
        {
            bytes = v.parse().ok();
        }
    }
    Some((t?, bytes?))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    BlackHole,
    LinkDown,
}

/// Which stack runs on each side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stack {
    Usctp,
    Usrsctp,
}

/// One transfer at a time: they time a failover, and two at once on two
/// cores would measure each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The command of one side, in its namespace.
fn command(ns: &str, program: &str, args: &[String]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a side")
}

/// The arguments of a command line, split at white space.
fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// The timer options for one side: `--pf-threshold N` is the usrsctp
/// peer's only (usctp's SCTP-PF is on by default).
fn timers_for(stack: Stack, timers: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < timers.len() {
        if timers[i] == "--pf-threshold" && stack == Stack::Usctp {
            i += 2;
            continue;
        }
        out.push(timers[i].to_string());
        i += 1;
    }
    out
}

/// Runs the transfer from `sender` to `receiver`, cuts the primary one
/// second in, checks every byte arrived, and returns the stall in seconds
/// (None when neither side reports progress: usrsctp sending to usctp).
fn failover(tag: &str, cut: Cut, timers: &[&str], sender: Stack, receiver: Stack) -> Option<f64> {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let bed = Testbed::new(tag).expect("testbed");
    let peer = || usrsctp_peer().and_then(Path::to_str).expect("usrsctp peer");
    let progress_from_server = sender == Stack::Usrsctp && receiver == Stack::Usrsctp;
    let (program, mut args) = match receiver {
        Stack::Usctp => (
            USCTP,
            words(
                "-v discard-server --listen 10.201.1.2:9899 --listen 10.201.2.2:9899 \
                 --max-assocs 1",
            ),
        ),
        Stack::Usrsctp => (
            peer(),
            words(
                "server --service discard --udp-port 9899 --bind 10.201.1.2 --bind 10.201.2.2 \
                 --once --progress-ms 10",
            ),
        ),
    };
    args.extend(timers_for(receiver, timers));
    let mut server = command(&bed.b, program, &args);
    let server_err = server.stderr.take().unwrap();
    let server = Reaper::new(server);
    std::thread::sleep(Duration::from_millis(300));
    let (program, mut args) = match sender {
        Stack::Usctp => (
            USCTP,
            words(&format!(
                "-v bench 10.201.1.2:9899 --peer-addr 10.201.2.2 \
                 --local 10.201.1.1:0 --local 10.201.2.1:0 \
                 --bytes {BYTES} --msg-size 1200 --progress-ms 10 --json"
            )),
        ),
        Stack::Usrsctp => (
            peer(),
            words(&format!(
                "client --service bench --connect 10.201.1.2:9899 --peer-addr 10.201.2.2 \
                 --bind 10.201.1.1 --bind 10.201.2.1 \
                 --bytes {BYTES} --msg-size 1200 --timeout 300"
            )),
        ),
    };
    args.extend(timers_for(sender, timers));
    let mut client = command(&bed.a, program, &args);
    let client_err = client.stderr.take().unwrap();
    let client = Reaper::new(client);
    // Progress comes from the sender's `usctp bench`, or from the usrsctp
    // receiver; the other stream is only logged.
    let (progress_err, other_err) = if progress_from_server {
        (server_err, client_err)
    } else {
        (client_err, server_err)
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(progress_err).lines().map_while(Result::ok) {
            if tx.send((now(), line)).is_err() {
                return;
            }
        }
    });
    let other = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(other_err), &mut text);
        text
    });
    let measured = sender == Stack::Usctp || progress_from_server;
    let mut log = Vec::new();
    // The sender's (or receiver's) clock when the cut was complete, then
    // the bytes counted at the first progress line after it.
    let mut cut_at: Option<f64> = None;
    let mut baseline: Option<usize> = None;
    let mut stall = None;
    let deadline = now() + Duration::from_secs(300);
    if !measured {
        // No progress to follow: cut one second in by the wall clock.
        std::thread::sleep(Duration::from_secs(1));
        match cut {
            Cut::BlackHole => bed.black_hole().expect("nft"),
            Cut::LinkDown => bed.link_down().expect("ip link"),
        }
    }
    while measured && stall.is_none() && now() < deadline {
        let Ok((seen, line)) = rx.recv_timeout(Duration::from_secs(120)) else {
            break;
        };
        log.push(line.clone());
        let Some((t, counted)) = progress(&line) else {
            continue;
        };
        match (cut_at, baseline) {
            (None, _) if t >= 1.0 || counted >= BYTES / 4 => {
                match cut {
                    Cut::BlackHole => bed.black_hole().expect("nft"),
                    Cut::LinkDown => bed.link_down().expect("ip link"),
                }
                // The line's time plus how long ago it was read.
                let t_cut = t + seen.elapsed().as_secs_f64();
                log.push(format!("-- cut complete at t={t_cut:.3}s"));
                cut_at = Some(t_cut);
            }
            (Some(t_cut), None) if t >= t_cut => baseline = Some(counted),
            (Some(t_cut), Some(base)) if counted >= base + 1_000_000 => {
                stall = Some(t - t_cut);
            }
            _ => {}
        }
    }
    let output = client.release().wait_with_output().expect("sender");
    while let Ok((_, line)) = rx.recv_timeout(Duration::from_millis(100)) {
        log.push(line);
    }
    let served = server.release().wait_with_output().expect("receiver");
    let other = other.join().unwrap_or_default();
    let context = format!(
        "{}\n{other}\nreceiver's report: {}",
        log.join("\n"),
        String::from_utf8_lossy(&served.stdout)
    );
    assert!(
        output.status.success(),
        "sender failed: {}\n{context}",
        String::from_utf8_lossy(&output.stdout)
    );
    // Both stacks report the bytes: usctp as `"bytes": N` or `bytes=N`,
    // the usrsctp peer as `"bytes":N`.
    let counts = |text: &str| {
        [
            format!("\"bytes\": {BYTES}"),
            format!("bytes={BYTES}"),
            format!("\"bytes\":{BYTES}"),
        ]
        .iter()
        .any(|p| text.contains(p.as_str()))
    };
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(counts(&summary), "sender summary: {summary}");
    let report = String::from_utf8_lossy(&served.stdout);
    assert!(
        counts(&report),
        "the receiver must count every byte: {report}\n{context}"
    );
    let events: Vec<&String> = log.iter().filter(|l| l.contains(" path ")).collect();
    eprintln!("path events: {events:?}");
    if measured {
        Some(stall.unwrap_or_else(|| panic!("no 1 MB after the cut:\n{context}")))
    } else {
        None
    }
}

const FAST: [&str; 10] = [
    "--rto-min",
    "100",
    "--rto-max",
    "1000",
    "--rto-initial",
    "200",
    "--hb-interval",
    "1000",
    "--path-max-retrans",
    "2",
];

/// The fast timers, and SCTP-PF on a usrsctp side.
fn fast_with_pf() -> Vec<&'static str> {
    let mut timers = FAST.to_vec();
    timers.extend(["--pf-threshold", "0"]);
    timers
}

/// Runs `failover` where this machine can (network namespaces; nft for a
/// black hole; the usrsctp peer when a side is usrsctp) and prints its
/// stall as `what`. `None`: skipped, or nothing measured (usrsctp sending
/// to usctp).
fn stall(
    what: &str,
    tag: &str,
    cut: Cut,
    timers: &[&str],
    sender: Stack,
    receiver: Stack,
) -> Option<f64> {
    let usrsctp = sender == Stack::Usrsctp || receiver == Stack::Usrsctp;
    if skip_without_netns(cut == Cut::BlackHole) || usrsctp && usrsctp_peer().is_none() {
        return None;
    }
    let stall = failover(tag, cut, timers, sender, receiver)?;
    println!("{what}: stall {:.0} ms", stall * 1e3);
    Some(stall)
}

/// The failover, if it ran, stalled the transfer `bound` seconds at most.
#[track_caller]
fn assert_stall_at_most(stall: Option<f64>, bound: f64) {
    if let Some(stall) = stall {
        assert!(stall <= bound, "stall {stall:.3} s");
    }
}

/// `stall` with usctp at both ends, checked by `assert_stall_at_most`.
#[track_caller]
fn assert_usctp_stall_at_most(what: &str, tag: &str, cut: Cut, timers: &[&str], bound: f64) {
    let stall = stall(what, tag, cut, timers, Stack::Usctp, Stack::Usctp);
    assert_stall_at_most(stall, bound);
}

/// `stall` with usrsctp at both ends, for comparison: nothing is asserted
/// but that every byte arrives.
fn usrsctp_stall(what: &str, tag: &str, cut: Cut, timers: &[&str]) -> Option<f64> {
    stall(what, tag, cut, timers, Stack::Usrsctp, Stack::Usrsctp)
}

#[test]
fn black_hole_with_default_timers() {
    assert_usctp_stall_at_most("black hole, default timers", "d", Cut::BlackHole, &[], 1.5);
}

#[test]
fn black_hole_with_fast_timers() {
    // Target 0.2 s; room for a loaded machine as above.
    assert_usctp_stall_at_most("black hole, fast timers", "f", Cut::BlackHole, &FAST, 0.35);
}

#[test]
fn sender_link_down_with_default_timers() {
    // The target is 0.1 s (met in quiet release runs, docs/multihoming.md);
    // the bound leaves room for a loaded CI machine, and is still far
    // below any timer (RTO.Min is 1 s).
    assert_usctp_stall_at_most("link down, default timers", "l", Cut::LinkDown, &[], 0.3);
}

/// usctp sending to the usrsctp peer, both multi-homed: the failover is
/// usctp's, across a stack it did not write.
#[test]
fn usctp_to_usrsctp_black_hole_with_fast_timers() {
    let what = "usctp -> usrsctp, black hole, fast timers";
    let (sender, receiver) = (Stack::Usctp, Stack::Usrsctp);
    let stall = stall(what, "u", Cut::BlackHole, &FAST, sender, receiver);
    assert_stall_at_most(stall, 0.35);
}

/// The usrsctp peer sending to usctp, both multi-homed, with the fast
/// timers and SCTP-PF on the usrsctp side: every byte arrives.
#[test]
fn usrsctp_to_usctp_across_a_black_hole() {
    let timers = fast_with_pf();
    let what = "usrsctp -> usctp, black hole";
    let (sender, receiver) = (Stack::Usrsctp, Stack::Usctp);
    stall(what, "r", Cut::BlackHole, &timers, sender, receiver);
}

/// usrsctp to usrsctp, for comparison (the figures in
/// docs/multihoming.md): with the fast timers and PF, and with its
/// defaults (ignored: the default failover takes about a minute).
#[test]
fn usrsctp_to_usrsctp_black_hole_with_fast_timers_and_pf() {
    let what = "usrsctp -> usrsctp, black hole, fast timers and PF";
    usrsctp_stall(what, "p", Cut::BlackHole, &fast_with_pf());
}

#[test]
#[ignore = "takes about a minute: usrsctp's default failover"]
fn usrsctp_to_usrsctp_black_hole_with_default_timers() {
    let what = "usrsctp -> usrsctp, black hole, default timers";
    usrsctp_stall(what, "q", Cut::BlackHole, &[]);
}

#[test]
#[ignore = "usrsctp may never recover from its link going down"]
fn usrsctp_to_usrsctp_sender_link_down() {
    let what = "usrsctp -> usrsctp, link down, default timers";
    usrsctp_stall(what, "k", Cut::LinkDown, &[]);
}
