//! Linux kernel SCTP in a QEMU guest with real addresses: the guest's NICs
//! on tap devices in a network namespace of the test's own (root), usctp
//! in that namespace. A multi-homed association across a path cut, both
//! ways, and INIT collisions answered by either end. Skipped without the
//! guest's tools or network namespaces; under CI that is a failure.

mod support;

use std::time::Duration;

use support::kernel::{Guest, TapNet, host_kpeer, kpeer_report_of, turn, usctp};
use support::lksctp::Stack;
use support::{json, json_line, json_u64, skip_without_netns};

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
    let Some(_turn) = turn() else { return };
    if skip_without_netns(true) {
        return;
    }
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
    let Some(_turn) = turn() else { return };
    if skip_without_netns(true) {
        return;
    }
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
    // (ping fails when an echo is missing or differs.)
    let line = json_line(&done.stdout);
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
/// §5.2.1; then §5.2.4 for the COOKIE ECHO). The timers make the order
/// certain: the end that is to answer retransmits its INIT late (usctp
/// after 5 s, the kernel after 8 s), the other soon (the kernel every
/// second at most, usctp after 1 s and 2 s more), so the first INIT
/// ACK to get through is the answering end's. The guest's NIC and the
/// daemon record what each sent, dropped or not.
fn init_collision(usctp_answers: bool) {
    let net = TapNet::new(if usctp_answers { "c1" } else { "c2" }, 1);
    let dir = std::env::temp_dir();
    let guest_pcap = dir.join(format!("{}-guest.pcap", net.ns));
    let usctp_pcap = dir.join(format!("{}-usctp.pcap", net.ns));
    net.cut("kt1");
    let (usctp_rto, kernel_timers) = if usctp_answers {
        ("5000", "KPEER_FAST=1")
    } else {
        ("1000", "KPEER_RTO_INITIAL_MS=8000")
    };
    let pcap = usctp_pcap.to_str().unwrap();
    let stack = Stack::in_netns(&net.ns, &["--pcap", pcap, "--rto-initial", usctp_rto]);
    let udp = stack.udp_port.to_string();
    let job = [
        kernel_timers,
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
    // The answering end hears the other's next INIT while its answers
    // are still dropped; a moment later everything passes.
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
    // Both ends sent an INIT.
    for end in [kernel, host_end] {
        assert!(
            !tags(end, "INIT").is_empty(),
            "no INIT from {end}:\n{decoded}"
        );
    }
    // The answering end's INIT ACK completed the setup: only the other
    // end sent a COOKIE ECHO (it had an INIT ACK to echo).
    let (answering, other) = if usctp_answers {
        (host_end, kernel)
    } else {
        (kernel, host_end)
    };
    let echoed = |end: &str| {
        decoded
            .lines()
            .any(|l| l.contains(end) && l.contains(": COOKIE_ECHO("))
    };
    assert!(echoed(other) && !echoed(answering), "{decoded}");
    // Every INIT ACK carried the Initiate Tag of its sender's own INIT
    // (§5.2.1): the answering end answered while in COOKIE-WAIT.
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
    let Some(_turn) = turn() else { return };
    if skip_without_netns(true) {
        return;
    }
    init_collision(true);
}

#[test]
fn an_init_collision_with_kernel_sctp_answered_by_the_kernel() {
    let Some(_turn) = turn() else { return };
    if skip_without_netns(true) {
        return;
    }
    init_collision(false);
}
