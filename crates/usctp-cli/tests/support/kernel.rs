//! Linux kernel SCTP in a QEMU guest as a test peer (`interop/kernel/guest.sh`),
//! for `kernel_peer.rs` and `kernel_peer_netns.rs`: the guest booted with a
//! job and its console read, kpeer's reports, usctp on the host, and a
//! network namespace with tap devices for a guest with real addresses.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::lksctp::usctp_in;
use super::{Proc, Reaper, USCTP, available, free_port, now, run};

/// The SCTP port the tutorial's programs use (`MY_PORT_NUM`).
pub const TUTORIAL_PORT: &str = "19000";

/// How long a guest may take to boot and do its job (TCG on a busy
/// 2-core machine boots in 5-10 s).
pub const GUEST_LIMIT: Duration = Duration::from_secs(90);

pub fn script() -> PathBuf {
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
        (
            Path::new("/usr/bin/sctp_test").exists(),
            "/usr/bin/sctp_test is missing (lksctp-tools)",
        ),
    ]
    .into_iter()
    .find(|(present, _)| !present)
    .map(|(_, why)| why);
    available(
        "qemu-system-x86 linux-image-amd64 busybox-static libsctp-dev lksctp-tools cpio",
        missing,
    )
}

/// The guests run one at a time: each takes a core for its emulation.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A kernel test's turn: `None` when the guest's tools are missing (the
/// test says it is skipped), else held while its guest runs.
pub fn turn() -> Option<std::sync::MutexGuard<'static, ()>> {
    tools().then(one_at_a_time)
}

/// A booted guest running one job; its console read line by line.
pub struct Guest {
    qemu: Reaper,
    lines: mpsc::Receiver<String>,
    console: Vec<String>,
}

/// Builds the initramfs (cached) and kpeer for the host; the directory
/// they are in.
pub fn build() -> PathBuf {
    let build = Command::new(script()).arg("build").output().unwrap();
    assert!(
        build.status.success(),
        "guest.sh build failed:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let initrd = String::from_utf8_lossy(&build.stdout).trim().to_string();
    Path::new(&initrd).parent().unwrap().to_path_buf()
}

/// kpeer built for the host (against libsctp.so), to run under `usctp run`.
pub fn host_kpeer() -> String {
    build().join("kpeer").to_string_lossy().into_owned()
}

impl Guest {
    /// Boots a guest with `job` on QEMU's user network, forwarding the
    /// host's UDP `127.0.0.1:hostfwd` to it if given.
    pub fn boot(job: &[&str], hostfwd: Option<u16>) -> Guest {
        let mut run = Command::new(script());
        if let Some(port) = hostfwd {
            run.env("HOSTFWD", port.to_string());
        }
        Self::start(run, job)
    }

    /// Boots a guest running server `job` with the host's UDP port it
    /// is reached at forwarded to it, and waits until its console says
    /// `ready`; the guest and that port.
    pub fn serving(job: &[&str], ready: &str) -> (Guest, u16) {
        let forwarded = free_port();
        let mut guest = Self::boot(job, Some(forwarded));
        guest.wait_for(ready);
        (guest, forwarded)
    }

    /// Boots a guest with `job` and one NIC on each of `net`'s taps,
    /// recording the first NIC's traffic in `pcap` if given.
    pub fn boot_on(net: &TapNet, job: &[&str], pcap: Option<&Path>) -> Guest {
        let mut run = Command::new("ip");
        run.args(["netns", "exec", &net.ns])
            .arg(script())
            .env("TAP", net.taps.join(","));
        if let Some(pcap) = pcap {
            run.env("PCAP", pcap);
        }
        Self::start(run, job)
    }

    /// Runs `guest.sh run JOB` as `run` says (the script, or a command
    /// whose first argument after its own is the script).
    pub fn start(mut run: Command, job: &[&str]) -> Guest {
        build();
        run.arg("run")
            .args(job)
            .env("TIMEOUT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
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
    pub fn wait_for(&mut self, text: &str) {
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
    pub fn stop(mut self) -> String {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.console.push(line);
        }
        self.console.join("\n")
    }

    /// Waits for the guest to power off; its whole console.
    pub fn finish(mut self) -> String {
        self.wait_for("Power down");
        let status = self.qemu.child().wait().unwrap();
        assert!(status.success(), "QEMU exited with {status}");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
            self.console.push(line);
        }
        self.console.join("\n")
    }
}

/// The JSON lines kpeer printed on the guest's console, in order.
pub fn kpeer_reports(console: &str) -> Vec<&str> {
    console
        .lines()
        .filter(|l| l.starts_with("{\"mode\""))
        .collect()
}

/// The one report of a kpeer job that served or made one association,
/// which must say it went well.
#[track_caller]
pub fn kpeer_report(console: &str) -> &str {
    let reports = kpeer_reports(console);
    assert_eq!(reports.len(), 1, "{console}");
    assert!(reports[0].contains("\"ok\":true"), "{console}");
    reports[0]
}

/// The one report of mode `mode` among a kpeer job's.
#[track_caller]
pub fn kpeer_report_of<'a>(console: &'a str, mode: &str) -> &'a str {
    let tag = format!("{{\"mode\":\"{mode}\"");
    let reports: Vec<&str> = kpeer_reports(console)
        .into_iter()
        .filter(|r| r.starts_with(&tag))
        .collect();
    assert_eq!(reports.len(), 1, "{console}");
    reports[0]
}

/// `usctp ARGS...`, named after its subcommand.
pub fn usctp(args: &[&str]) -> Proc {
    Proc::spawn(&format!("usctp {}", args[0]), Path::new(USCTP), args)
}

/// A usctp server (`daytime-server`, `echo-server`, `discard-server`)
/// for one association on SCTP port `sctp_port`, at a free UDP port on
/// 127.0.0.1 (which the guest reaches at 10.0.2.2); with that port.
pub fn usctp_server(service: &str, sctp_port: &str, extra: &[&str]) -> (Proc, u16) {
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

/// A network namespace with a tap device for each of a guest's NICs:
/// `kt1` has 10.202.1.1/24 (the guest is 10.202.1.2 behind it), `kt2`
/// 10.202.2.1/24; deleted on drop, with everything still in it.
pub struct TapNet {
    pub ns: String,
    pub taps: Vec<String>,
}

impl TapNet {
    pub fn new(tag: &str, nics: usize) -> TapNet {
        let net = TapNet {
            ns: format!("usctp-k{}{tag}", std::process::id() % 100_000),
            taps: (1..=nics).map(|n| format!("kt{n}")).collect(),
        };
        run(&["ip", "netns", "add", &net.ns]).unwrap();
        run(&["ip", "-n", &net.ns, "link", "set", "lo", "up"]).unwrap();
        for (n, tap) in net.taps.iter().enumerate() {
            let addr = format!("10.202.{}.1/24", n + 1);
            for step in [
                &["tuntap", "add", "dev", tap, "mode", "tap"][..],
                &["addr", "add", &addr, "dev", tap],
                &["link", "set", tap, "up"],
            ] {
                let mut args = vec!["ip", "-n", &net.ns];
                args.extend(step);
                run(&args).unwrap();
            }
        }
        net
    }

    /// Drops every IP packet crossing `tap`, both ways, at the device:
    /// neither end gets an error, packets just vanish. ARP still passes,
    /// so nothing waits in a neighbour queue to go out when the cut is
    /// mended.
    pub fn cut(&self, tap: &str) {
        let rules = format!(
            "table netdev cut {{
                chain in {{ type filter hook ingress device {tap} priority 0; meta protocol ip drop; }}
                chain out {{ type filter hook egress device {tap} priority 0; meta protocol ip drop; }}
            }}"
        );
        run(&["ip", "netns", "exec", &self.ns, "nft", &rules]).unwrap();
    }

    /// Undoes `cut` in one direction: "in" (to the host) or "out".
    pub fn mend(&self, direction: &str) {
        run(&[
            "ip", "netns", "exec", &self.ns, "nft", "flush", "chain", "netdev", "cut", direction,
        ])
        .unwrap();
    }

    /// `usctp ARGS...` in the namespace.
    pub fn usctp(&self, args: &[&str]) -> Proc {
        usctp_in(Some(&self.ns), &format!("usctp {}", args[0]), args)
    }
}

impl Drop for TapNet {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}
