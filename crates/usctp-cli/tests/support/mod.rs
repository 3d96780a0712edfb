//! What the tests of the `usctp` binary share (`mod support;` in each test
//! binary): the binary, free ports, children killed when a test fails, the
//! tools some tests need (skipped without them, a failure under CI), the
//! usrsctp peer (interop/usrsctp_peer.c) built once, the JSON lines the
//! tools print, and commands for the tests across network namespaces;
//! `lksctp`: programs under `usctp run`; `kernel`: Linux kernel SCTP in a
//! QEMU guest.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod kernel;
pub mod lksctp;

/// The binary under test.
pub const USCTP: &str = env!("CARGO_BIN_EXE_usctp");
/// The usrsctp peer's source.
const PEER_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop/usrsctp_peer.c");

/// The tests time their processes (the protocol core never reads a clock).
#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
    Instant::now()
}

/// A free UDP port (free on the wildcard address, so on loopback too).
pub fn free_port() -> u16 {
    free_ports().0
}

/// The loopback address at a free UDP port, as `127.0.0.1:PORT`.
pub fn free_loopback_addr() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// Two distinct free UDP ports.
pub fn free_ports() -> (u16, u16) {
    let a = UdpSocket::bind("0.0.0.0:0").unwrap();
    let b = UdpSocket::bind("0.0.0.0:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// How long any one process may run.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A child process that is killed when dropped (a failed assertion kills
/// everything the test started). Its output is read as it comes.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<String>>,
    stderr_lines: mpsc::Receiver<String>,
}

/// What a finished process left.
pub struct Done {
    pub status: ExitStatus,
    pub stdout: String,
    /// Standard output as bytes (binary-safe).
    pub bytes: Vec<u8>,
    pub stderr: String,
}

impl Done {
    pub fn assert_success(&self, name: &str) {
        assert!(
            self.status.success(),
            "{name} exited with {}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
    }
}

impl Proc {
    pub fn spawn(name: &str, program: &Path, args: &[&str]) -> Proc {
        Self::spawn_with_stdin(name, program, args, false)
    }

    pub fn spawn_with_stdin(name: &str, program: &Path, args: &[&str], stdin: bool) -> Proc {
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {}: {e}", program.display()));
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = out.read_to_end(&mut bytes);
            bytes
        });
        let err = child.stderr.take().unwrap();
        let (tx, stderr_lines) = mpsc::channel();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        Proc {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
            stderr_lines,
        }
    }

    /// Waits for a line on standard error containing `text` (a server
    /// saying that it listens).
    pub fn wait_for(&mut self, text: &str) {
        let deadline = now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => {
                    let _ = self.child.kill();
                    let done = self.collect();
                    panic!(
                        "{}: no \"{text}\" on standard error ({})\nstderr:\n{}",
                        self.name, done.status, done.stderr
                    );
                }
            }
        }
    }

    pub fn collect(&mut self) -> Done {
        let status = self.child.wait().unwrap();
        let bytes = self
            .stdout
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        Done {
            status,
            stdout: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
            stderr: self
                .stderr
                .take()
                .map(|h| h.join().unwrap())
                .unwrap_or_default(),
        }
    }

    /// Waits for the process to exit by itself within `LIMIT`, and checks
    /// that it succeeded (`what` names it in the failure).
    pub fn succeeded(self, what: &str) -> Done {
        let done = self.finish();
        done.assert_success(what);
        done
    }

    /// Waits for the process to exit by itself within `LIMIT`.
    pub fn finish(mut self) -> Done {
        let deadline = now() + LIMIT;
        while self.child.try_wait().unwrap().is_none() {
            if now() > deadline {
                let _ = self.child.kill();
                let done = self.collect();
                panic!(
                    "{} did not exit within {LIMIT:?}\nstdout:\n{}\nstderr:\n{}",
                    self.name, done.stdout, done.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.collect()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A child process killed when dropped: a failed assertion must not leave
/// it running.
pub struct Reaper(Option<Child>);

impl Reaper {
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child is still here")
    }

    /// The child, no longer killed on drop (to wait for it).
    pub fn release(mut self) -> Child {
        self.0.take().expect("the child is still here")
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether a tool a test needs is here. Without it the test says it was
/// skipped; under CI (the CI variable set) that is a failure instead.
#[track_caller]
pub fn available(what: &str, missing: Option<&str>) -> bool {
    let Some(why) = missing else {
        return true;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}: CI must install {what}"
    );
    eprintln!("{why}: {what} tests skipped");
    false
}

/// The usrsctp peer, compiled once per test binary into
/// `target/usrsctp_peer`; `None` (with a message) when libusrsctp or gcc
/// is missing outside CI.
pub fn usrsctp_peer() -> Option<&'static Path> {
    static PEER: OnceLock<Option<PathBuf>> = OnceLock::new();
    PEER.get_or_init(build_peer).as_deref()
}

fn build_peer() -> Option<PathBuf> {
    let missing = if !Path::new("/usr/include/usrsctp.h").exists() {
        Some("libusrsctp-dev is not installed (/usr/include/usrsctp.h)")
    } else if Command::new("gcc").arg("--version").output().is_err() {
        Some("gcc is not installed")
    } else {
        None
    };
    if !available("libusrsctp-dev and gcc (the usrsctp peer)", missing) {
        return None;
    }
    // target/debug/usctp -> target/usrsctp_peer
    let target = Path::new(USCTP)
        .parent()
        .and_then(Path::parent)
        .expect("the target directory");
    let out = target.join("usrsctp_peer");
    // Built under a private name and renamed, so that test runs side by
    // side never run a half-written binary.
    let tmp = target.join(format!("usrsctp_peer.{}.tmp", std::process::id()));
    let gcc = Command::new("gcc")
        .args(["-O2", "-Wall", "-Wextra", "-o"])
        .arg(&tmp)
        .arg(PEER_SOURCE)
        .args(["-lusrsctp", "-lpthread"])
        .output()
        .expect("run gcc");
    assert!(
        gcc.status.success(),
        "gcc {PEER_SOURCE} failed:\n{}",
        String::from_utf8_lossy(&gcc.stderr)
    );
    std::fs::rename(&tmp, &out).expect("move the peer into place");
    Some(out)
}

/// The value of `key` in a one-line JSON object (`"key": value` or
/// `"key":value`).
#[track_caller]
pub fn json(line: &str, key: &str) -> String {
    let pattern = format!("\"{key}\"");
    let at = line
        .find(&pattern)
        .unwrap_or_else(|| panic!("no {key} in {line}"));
    line[at + pattern.len()..]
        .trim_start()
        .strip_prefix(':')
        .unwrap_or_else(|| panic!("{key} in {line}"))
        .trim_start()
        .split([',', '}'])
        .next()
        .unwrap()
        .trim()
        .to_string()
}

#[track_caller]
pub fn json_u64(line: &str, key: &str) -> u64 {
    json(line, key)
        .parse()
        .unwrap_or_else(|e| panic!("{key} in {line}: {e}"))
}

#[track_caller]
pub fn json_f64(line: &str, key: &str) -> f64 {
    json(line, key)
        .parse()
        .unwrap_or_else(|e| panic!("{key} in {line}: {e}"))
}

/// The one JSON line of a process's output.
#[track_caller]
pub fn json_line(out: &str) -> &str {
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 1, "one JSON line expected in:\n{out}");
    lines[0]
}

/// Runs a command to its end; its standard error when it fails.
pub fn run(args: &[&str]) -> Result<Output, String> {
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

/// Why this machine cannot run the tests across network namespaces, if
/// it cannot (root and `ip netns`; `nft` too when `needs_nft`).
fn netns_unavailable(needs_nft: bool) -> Option<String> {
    // Probed once per test binary: tests probing at the same time would
    // collide on the probe namespace's name.
    static PROBE: OnceLock<Option<String>> = OnceLock::new();
    let why = PROBE.get_or_init(|| {
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
    });
    match why {
        None if needs_nft && run(&["nft", "--version"]).is_err() => {
            Some("nft not installed".into())
        }
        other => other.clone(),
    }
}

/// Whether a test across network namespaces must be skipped here (it says
/// why); under CI that is a failure instead.
pub fn skip_without_netns(needs_nft: bool) -> bool {
    match netns_unavailable(needs_nft) {
        None => false,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("CI must run the namespace tests, but: {why}")
        }
        Some(why) => {
            eprintln!("skipped: network namespaces unavailable ({why})");
            true
        }
    }
}
