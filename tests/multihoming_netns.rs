//! Multi-homing across real network namespaces: two hosts joined by two
//! veth pairs on two subnets. `usctp bench` sends 200 MB to `usctp
//! discard-server`, both bound to both addresses; one second in, the
//! primary path is cut, as a silent black hole (nftables drops on input in
//! both namespaces) or as the sender's link taken down. Every byte must
//! arrive; the stall (cut → 1 MB more acknowledged) is printed and bounded.
//!
//! Needs root and `ip netns` (CI has both); elsewhere it says why it is
//! skipped. The namespaces are removed whatever happens.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const USCTP: &str = env!("CARGO_BIN_EXE_usctp");
/// Enough to still be flowing one second in (the issue asks for at least
/// 50 MB; usctp moves that in under a second on this machine).
const BYTES: usize = 200_000_000;

/// The test reads the wall clock to time the cut (the protocol core never
/// does).
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Two namespaces and two veth pairs, deleted on drop.
struct Testbed {
    a: String,
    b: String,
}

fn run(args: &[&str]) -> Result<Output, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
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

    fn spawn(&self, ns: &str, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", ns, USCTP])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start usctp")
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

/// Kills a child on drop (a failed assertion must not leave it running).
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Why this machine cannot run the test, if it cannot.
fn unavailable() -> Option<String> {
    let uid = run(&["id", "-u"]).ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root".into());
    }
    let probe = format!("usctp-probe{}", std::process::id());
    if let Err(e) = run(&["ip", "netns", "add", &probe]) {
        return Some(e);
    }
    let _ = run(&["ip", "netns", "del", &probe]);
    None
}

fn skip_unless_possible(cut_needs_nft: bool) -> bool {
    let mut why = unavailable();
    if why.is_none() && cut_needs_nft && run(&["nft", "--version"]).is_err() {
        why = Some("nft not installed".into());
    }
    match why {
        None => false,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("CI must run the namespace test, but: {why}")
        }
        Some(why) => {
            eprintln!("skipped: network namespaces unavailable ({why})");
            true
        }
    }
}

/// A progress line of `usctp bench`: (t in s, bytes acknowledged).
fn progress(line: &str) -> Option<(f64, usize)> {
    let mut t = None;
    let mut acked = None;
    for field in line.split_whitespace() {
        if let Some(v) = field.strip_prefix("t=") {
            t = v.strip_suffix('s')?.parse().ok();
        } else if let Some(v) = field.strip_prefix("acked=") {
            acked = v.parse().ok();
        }
    }
    Some((t?, acked?))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    BlackHole,
    LinkDown,
}

/// One transfer at a time: they time a failover, and two at once on two
/// cores would measure each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the transfer, cuts the primary one second in, and returns the
/// stall in seconds.
fn failover(tag: &str, cut: Cut, timers: &[&str]) -> f64 {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let bed = Testbed::new(tag).expect("testbed");
    let server = bed.spawn(
        &bed.b,
        &[
            "discard-server",
            "--listen",
            "10.201.1.2:9899",
            "--listen",
            "10.201.2.2:9899",
            "--max-assocs",
            "1",
        ],
    );
    let mut server = Reaper(Some(server));
    std::thread::sleep(Duration::from_millis(300));
    let bytes = BYTES.to_string();
    let mut args = vec![
        "-v",
        "bench",
        "10.201.1.2:9899",
        "--peer-addr",
        "10.201.2.2",
        "--local",
        "10.201.1.1:0",
        "--local",
        "10.201.2.1:0",
        "--bytes",
        &bytes,
        "--msg-size",
        "1200",
        "--progress-ms",
        "10",
        "--json",
    ];
    args.extend_from_slice(timers);
    let mut client = bed.spawn(&bed.a, &args);
    let stderr = client.stderr.take().unwrap();
    let mut client = Reaper(Some(client));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send((now(), line)).is_err() {
                return;
            }
        }
    });
    let mut log = Vec::new();
    // The bench's clock when the cut was complete, then the bytes acked at
    // the first progress line after it.
    let mut cut_at: Option<f64> = None;
    let mut baseline: Option<usize> = None;
    let mut stall = None;
    let deadline = now() + Duration::from_secs(120);
    while stall.is_none() && now() < deadline {
        let Ok((seen, line)) = rx.recv_timeout(Duration::from_secs(30)) else {
            break;
        };
        log.push(line.clone());
        let Some((t, acked)) = progress(&line) else {
            continue;
        };
        match (cut_at, baseline) {
            (None, _) if t >= 1.0 => {
                match cut {
                    Cut::BlackHole => bed.black_hole().expect("nft"),
                    Cut::LinkDown => bed.link_down().expect("ip link"),
                }
                // The line's time plus how long ago it was read.
                let t_cut = t + seen.elapsed().as_secs_f64();
                log.push(format!("-- cut complete at t={t_cut:.3}s"));
                cut_at = Some(t_cut);
            }
            (Some(t_cut), None) if t >= t_cut => baseline = Some(acked),
            (Some(t_cut), Some(base)) if acked >= base + 1_000_000 => {
                stall = Some(t - t_cut);
            }
            _ => {}
        }
    }
    let output = client.0.take().unwrap().wait_with_output().expect("bench");
    while let Ok((_, line)) = rx.recv_timeout(Duration::from_millis(100)) {
        log.push(line);
    }
    let events: Vec<&String> = log.iter().filter(|l| l.contains(" path ")).collect();
    assert!(
        output.status.success(),
        "bench failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        log.join("\n")
    );
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains(&format!("\"bytes\": {BYTES}")),
        "{summary}"
    );
    let served = server.0.take().unwrap().wait_with_output().expect("server");
    let report = String::from_utf8_lossy(&served.stdout);
    assert!(
        report.contains(&format!("bytes={BYTES}")),
        "the server must count every byte: {report}"
    );
    let stall = stall.unwrap_or_else(|| panic!("no 1 MB after the cut:\n{}", log.join("\n")));
    eprintln!("path events: {events:?}");
    stall
}

#[test]
fn black_hole_with_default_timers() {
    if skip_unless_possible(true) {
        return;
    }
    let stall = failover("d", Cut::BlackHole, &[]);
    println!("black hole, default timers: stall {:.0} ms", stall * 1e3);
    assert!(stall <= 1.5, "stall {stall:.3} s");
}

#[test]
fn black_hole_with_fast_timers() {
    if skip_unless_possible(true) {
        return;
    }
    let timers = [
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
    let stall = failover("f", Cut::BlackHole, &timers);
    println!("black hole, fast timers: stall {:.0} ms", stall * 1e3);
    // Target 0.2 s; room for a loaded machine as above.
    assert!(stall <= 0.35, "stall {stall:.3} s");
}

#[test]
fn sender_link_down_with_default_timers() {
    if skip_unless_possible(false) {
        return;
    }
    let stall = failover("l", Cut::LinkDown, &[]);
    println!("link down, default timers: stall {:.0} ms", stall * 1e3);
    // The target is 0.1 s (met in quiet release runs, docs/multihoming.md);
    // the bound leaves room for a loaded CI machine, and is still far
    // below any timer (RTO.Min is 1 s).
    assert!(stall <= 0.3, "stall {stall:.3} s");
}
