//! What the tests of the `usctp` binary share (`mod support;` in each test
//! binary): the binary, free ports, children killed when a test fails, the
//! tools some tests need (skipped without them, a failure under CI), the
//! usrsctp peer (interop/usrsctp_peer.c) built once, and the JSON lines the
//! tools print.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::Instant;

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
