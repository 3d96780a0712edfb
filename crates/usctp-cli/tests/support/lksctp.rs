//! Unmodified lksctp programs under `usctp run`, for the tests that run
//! them (`preload.rs`, `kernel_peer.rs`): the shim built once, the
//! tutorial's programs compiled as the tutorial says, and a daemon of a
//! test's own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{Proc, USCTP, free_port};

/// The shim, built once (cargo builds a cdylib only when asked for it).
pub fn shim() -> &'static Path {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let release = USCTP.contains("/release/");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "--quiet", "-p", "usctp-preload"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            cargo.arg("--release");
        }
        let out = cargo.output().expect("run cargo");
        assert!(
            out.status.success(),
            "cargo build -p usctp-preload failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = Path::new(USCTP).with_file_name("libusctp_preload.so");
        assert!(path.exists(), "{} was not built", path.display());
        path
    })
}

/// The tutorial's client and server (`interop/seed/`), compiled once with
/// `gcc -o NAME NAME.c -lsctp` as the tutorial says.
pub fn seed(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/seed");
        let out = Path::new(USCTP)
            .parent()
            .and_then(Path::parent)
            .expect("the target directory")
            .join(format!("seed.{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        for program in ["sctpclnt", "sctpsrvr"] {
            let gcc = Command::new("gcc")
                .arg("-o")
                .arg(out.join(program))
                .arg(source.join(format!("{program}.c")))
                .arg("-lsctp")
                .output()
                .expect("run gcc");
            assert!(
                gcc.status.success(),
                "gcc {program}.c failed:\n{}",
                String::from_utf8_lossy(&gcc.stderr)
            );
        }
        out
    });
    dir.join(name)
}

/// A `usctp daemon` of the test's own: a free UDP port, its own socket
/// name; killed when dropped.
pub struct Stack {
    pub daemon: Proc,
    pub udp_port: u16,
    pub name: String,
    /// The network namespace the daemon and its programs run in.
    netns: Option<String>,
}

impl Stack {
    pub fn new() -> Self {
        Self::with(&[])
    }

    /// A daemon with further options.
    pub fn with(options: &[&str]) -> Self {
        Self::start(None, options)
    }

    /// A daemon in network namespace `netns`, whose programs run there too.
    pub fn in_netns(netns: &str, options: &[&str]) -> Self {
        Self::start(Some(netns), options)
    }

    fn start(netns: Option<&str>, options: &[&str]) -> Self {
        let udp_port = free_port();
        let name = format!("usctp-test-{}-{udp_port}", std::process::id());
        let port = udp_port.to_string();
        let mut args = vec!["daemon", "--udp-port", &port, "--socket", &name];
        args.extend(options);
        let mut daemon = usctp_in(netns, "usctp daemon", &args);
        daemon.wait_for("on udp");
        shim();
        Self {
            daemon,
            udp_port,
            name,
            netns: netns.map(str::to_string),
        }
    }

    /// `usctp run` of `program` with this daemon, its peers at
    /// `remote_udp_port` (this daemon's own port when `None`).
    pub fn command(&self, remote_udp_port: Option<u16>, program: &[&str]) -> Vec<String> {
        let remote = remote_udp_port.unwrap_or(self.udp_port).to_string();
        let mut args: Vec<String> = [
            "run",
            "-v",
            "--udp-port",
            &self.udp_port.to_string(),
            "--remote-udp-port",
            &remote,
            "--socket",
            &self.name,
            "--",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(program.iter().map(|s| s.to_string()));
        args
    }

    pub fn spawn(&self, name: &str, program: &[&str]) -> Proc {
        self.spawn_with(name, None, program, false)
    }

    pub fn spawn_with(
        &self,
        name: &str,
        remote: Option<u16>,
        program: &[&str],
        stdin: bool,
    ) -> Proc {
        let args = self.command(remote, program);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        spawn_usctp(self.netns.as_deref(), name, &args, stdin)
    }
}

/// `usctp ARGS...`, in network namespace `netns` if given.
pub fn usctp_in(netns: Option<&str>, name: &str, args: &[&str]) -> Proc {
    spawn_usctp(netns, name, args, false)
}

fn spawn_usctp(netns: Option<&str>, name: &str, args: &[&str], stdin: bool) -> Proc {
    match netns {
        None => Proc::spawn_with_stdin(name, Path::new(USCTP), args, stdin),
        Some(ns) => {
            let mut all = vec!["netns", "exec", ns, USCTP];
            all.extend(args);
            Proc::spawn_with_stdin(name, Path::new("ip"), &all, stdin)
        }
    }
}
