//! `usctp conformance` tests itself. Against usctp's own echo server every
//! purpose it plays passes. Behind a UDP proxy that breaks one rule at a
//! time — drops retransmissions, delays SACKs, strips ERROR chunks,
//! corrupts checksums, silences the answers to out-of-the-blue packets —
//! at least one purpose fails with a reason that names the fault, and the
//! same purposes pass through the proxy when it breaks nothing.

mod support;

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use support::{Proc, USCTP, free_loopback_addr};
use usctp::proto::chunk::{Chunk, CommonHeader, Packet};

/// usctp's echo server on a free loopback port.
fn echo_server() -> (Proc, String) {
    let addr = free_loopback_addr();
    let mut server = Proc::spawn(
        "usctp echo-server",
        USCTP.as_ref(),
        &["echo-server", "--listen", &addr],
    );
    server.wait_for("on udp");
    (server, addr)
}

/// Runs `usctp conformance TARGET --json` with `args`; returns its exit
/// success and the report.
fn conformance(target: &str, args: &[&str]) -> (bool, Value) {
    let out = Command::new("timeout")
        .args(["600", USCTP, "conformance", target, "--json", "--seed", "7"])
        .args(args)
        .output()
        .expect("usctp conformance runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

fn purposes(report: &Value) -> &[Value] {
    report["purposes"].as_array().expect("a list of purposes")
}

/// `id: why` of every purpose with this verdict.
fn with_verdict(report: &Value, verdict: &str) -> Vec<String> {
    purposes(report)
        .iter()
        .filter(|p| p["verdict"] == verdict)
        .map(|p| {
            format!(
                "{}: {}",
                p["id"].as_str().unwrap(),
                p["why"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn usctp_passes_every_purpose_the_tester_plays() {
    let (_server, addr) = echo_server();
    // The client purposes run `usctp cat` against the tester: it sends one
    // line and closes.
    let client = format!("echo hello | {USCTP} cat {{host}}:{{udp}} --port {{port}}");
    let (ok, report) = conformance(&addr, &["--client-cmd", &client]);
    let failed = with_verdict(&report, "fail");
    let inconclusive = with_verdict(&report, "inconclusive");
    assert!(failed.is_empty(), "failed:\n{}", failed.join("\n"));
    assert!(
        inconclusive.is_empty(),
        "inconclusive:\n{}",
        inconclusive.join("\n")
    );
    assert!(ok, "a clean run exits with success");
    assert_eq!(purposes(&report).len(), 121);
    let passed = report["passed"].as_u64().unwrap();
    assert!(passed >= 60, "only {passed} purposes played");
    // Every skip says why, and only purposes that need what this run
    // lacks (--long, the IUT acting on its own, the API) are skipped.
    for p in purposes(&report).iter().filter(|p| p["verdict"] == "skip") {
        let why = p["why"].as_str().unwrap();
        assert!(
            [
                "--long",
                "client command",
                "on the wire",
                "not yet played",
                "cannot send"
            ]
            .iter()
            .any(|k| why.contains(k)),
            "{}: {why}",
            p["id"]
        );
    }
}

#[test]
fn a_failing_run_exits_with_failure_and_a_list_names_every_purpose() {
    // Nothing listens: every purpose that waits for an answer fails.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let (ok, report) = conformance(
        &addr,
        &["--only", "sctp-as-v-1-1-2", "--reply-timeout", "200ms"],
    );
    assert!(!ok);
    assert_eq!(report["failed"], 1);
    let why = &with_verdict(&report, "fail")[0];
    assert!(why.contains("no INIT ACK"), "{why}");
    let out = Command::new(USCTP)
        .args(["conformance", &addr, "--list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        list.lines().filter(|l| l.starts_with("sctp-")).count(),
        121,
        "{list}"
    );
    let out = Command::new(USCTP)
        .args(["conformance", &addr, "--only", "sctp-nonesuch"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sctp-nonesuch"));
}

/// One rule the proxy breaks, in what the IUT sends back.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// Nothing: the control run.
    None,
    /// A DATA chunk whose TSN went through once is dropped.
    DropRetransmissions,
    /// A packet with a SACK is held 400 ms.
    DelaySacks,
    /// ERROR chunks are taken out (a packet left empty is dropped).
    StripErrors,
    /// The checksum is wrong.
    CorruptChecksums,
    /// ABORT and SHUTDOWN COMPLETE with the T bit (the answers to
    /// out-of-the-blue packets) are dropped.
    SilenceOutOfTheBlue,
}

/// A UDP proxy in front of `iut`: what the tester sends goes on unchanged
/// (from a socket of the proxy's per tester address); what the IUT sends
/// back is broken by `fault`. Returns the proxy's address.
fn proxy(iut: SocketAddr, fault: Fault) -> SocketAddr {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    let addr = front.local_addr().unwrap();
    let backs: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, tester)) = front.recv_from(&mut buf) {
            let back = {
                let mut backs = backs.lock().unwrap();
                Arc::clone(backs.entry(tester).or_insert_with(|| {
                    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
                    let (reader, front) = (Arc::clone(&back), Arc::clone(&front));
                    std::thread::spawn(move || back_to_tester(&reader, &front, tester, fault));
                    back
                }))
            };
            let _ = back.send_to(&buf[..n], iut);
        }
    });
    addr
}

fn back_to_tester(back: &UdpSocket, front: &UdpSocket, tester: SocketAddr, fault: Fault) {
    let mut buf = vec![0u8; 65536];
    let mut seen = HashSet::new();
    while let Ok((n, _)) = back.recv_from(&mut buf) {
        let bytes = &buf[..n];
        let Ok(packet) = Packet::parse(Bytes::copy_from_slice(bytes)) else {
            let _ = front.send_to(bytes, tester);
            continue;
        };
        let out = match fault {
            Fault::None => Some(bytes.to_vec()),
            Fault::DropRetransmissions => {
                let again = packet
                    .chunks
                    .iter()
                    .any(|c| matches!(c, Chunk::Data(d) if !seen.insert(d.tsn.0)));
                (!again).then(|| bytes.to_vec())
            }
            Fault::DelaySacks => {
                if packet.chunks.iter().any(|c| matches!(c, Chunk::Sack(_))) {
                    std::thread::sleep(Duration::from_millis(400));
                }
                Some(bytes.to_vec())
            }
            Fault::StripErrors => {
                let kept: Vec<Chunk> = packet
                    .chunks
                    .into_iter()
                    .filter(|c| !matches!(c, Chunk::Error(_)))
                    .collect();
                (!kept.is_empty()).then(|| encode(packet.header, kept))
            }
            Fault::CorruptChecksums => {
                let mut broken = bytes.to_vec();
                broken[8] ^= 0x01;
                Some(broken)
            }
            Fault::SilenceOutOfTheBlue => {
                let ootb = packet.chunks.iter().any(|c| match c {
                    Chunk::Abort(a) => a.reflected_tag,
                    Chunk::ShutdownComplete(s) => s.reflected_tag,
                    _ => false,
                });
                (!ootb).then(|| bytes.to_vec())
            }
        };
        if let Some(out) = out {
            let _ = front.send_to(&out, tester);
        }
    }
}

fn encode(header: CommonHeader, chunks: Vec<Chunk>) -> Vec<u8> {
    let mut buf = Vec::new();
    Packet { header, chunks }.emit(&mut buf).unwrap();
    buf
}

/// Each fault, the purposes it is played against, and a word the reason
/// of a failed purpose must contain.
const FAULTS: &[(Fault, &str, &str)] = &[
    (Fault::DropRetransmissions, "sctp-d-i-8-5", "retransmission"),
    (Fault::DelaySacks, "sctp-a-v-9-1", "acknowledged after"),
    (Fault::StripErrors, "sctp-e-i-6-3,sctp-m-i-10-1", "ERROR"),
    (Fault::CorruptChecksums, "sctp-as-v-1-1-2", "checksum"),
    (
        Fault::SilenceOutOfTheBlue,
        "sctp-fh-o-5-3-1,sctp-fh-o-5-3-3",
        "T bit",
    ),
];

#[test]
fn each_fault_fails_a_purpose_that_passes_without_it() {
    let (_server, addr) = echo_server();
    let iut: SocketAddr = addr.parse().unwrap();
    for &(fault, only, word) in FAULTS {
        let (ok, report) = conformance(&proxy(iut, Fault::None).to_string(), &["--only", only]);
        assert!(
            ok,
            "{only} through a proxy that breaks nothing:\n{report:#}"
        );
        let (ok, report) = conformance(&proxy(iut, fault).to_string(), &["--only", only]);
        let failed = with_verdict(&report, "fail");
        assert!(
            !ok && !failed.is_empty(),
            "{fault:?} failed nothing:\n{report:#}"
        );
        assert!(
            failed.iter().any(|f| f.contains(word)),
            "{fault:?}: no reason names {word:?}:\n{}",
            failed.join("\n")
        );
    }
}
