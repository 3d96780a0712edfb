//! What the tests of usctp share (`mod support;` in each test binary):
//! loopback addresses, a bound on every wait, and a connected pair of
//! streams over UDP on loopback.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use usctp::proto::config::Config;
use usctp::socket::{ConnectOptions, SctpListener, SctpStream};

/// Any free UDP port on loopback.
pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// `f`, or a panic naming `what` if it takes more than 10 s.
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 10 s"))
}

/// Connect options from a loopback address, with `config`.
pub fn from_loopback(config: Config) -> ConnectOptions {
    ConnectOptions {
        local: loopback(),
        config,
        ..ConnectOptions::default()
    }
}

/// A listener of default parameters on loopback, SCTP port `port`.
pub async fn listener_on(port: u16) -> SctpListener {
    SctpListener::bind(loopback(), port, Config::default())
        .await
        .unwrap()
}

/// A client with `config` connected over loopback to a listener on SCTP
/// port 7: (client, server).
pub async fn connected(config: Config) -> (SctpStream, SctpStream) {
    let listener = listener_on(7).await;
    let connect = SctpStream::connect(listener.local_addr(), 7, from_loopback(config));
    let (client, server) = tokio::join!(connect, listener.accept());
    (client.unwrap(), server.unwrap().0)
}

/// A client with `client` connected over loopback to a listener with
/// `server` on SCTP port 7: (client, server).
pub async fn connected_with(server: Config, client: Config) -> (SctpStream, SctpStream) {
    let listener = SctpListener::bind(loopback(), 7, server).await.unwrap();
    let connect = SctpStream::connect(listener.local_addr(), 7, from_loopback(client));
    let (client, server) = tokio::join!(connect, listener.accept());
    (client.unwrap(), server.unwrap().0)
}

/// Runs the `#[ignore]`d test `name` of this test binary in a child
/// process, with `env` set: a peer that is a process of its own (whose
/// memory is not ours, and which can exit).
pub fn child(name: &str, env: &[(&str, String)]) -> std::process::Child {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        command.env(k, v);
    }
    command.stdout(std::process::Stdio::null()).spawn().unwrap()
}

/// Resident memory of this process, in bytes (Linux).
pub fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}
