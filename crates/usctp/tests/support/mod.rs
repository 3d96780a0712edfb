//! What the tests of usctp share (`mod support;` in each test binary):
//! loopback addresses, a bound on every wait, and a connected pair of
//! streams over UDP on loopback.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
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

/// The default configuration, but giving up soon on a peer that does not
/// answer: every RTO `rto` (twice that at most) and at most
/// `max_init_retransmits` retransmissions of the INIT.
pub fn giving_up_soon(rto: Duration, max_init_retransmits: u32) -> Config {
    Config::default()
        .with_rto_initial(rto)
        .with_rto_min(rto)
        .with_rto_max(rto * 2)
        .with_max_init_retransmits(max_init_retransmits)
}

/// `from` sends `text` on stream 0 with PPID `ppid`, and `to` receives it
/// within 10 s, whole, on that stream with that PPID.
pub async fn assert_carried(
    from: &SctpStream,
    to: &mut SctpStream,
    ppid: u32,
    text: &'static [u8],
) {
    from.send(0, ppid, Bytes::from_static(text)).await.unwrap();
    let m = within("the message", to.recv()).await.expect("a message");
    assert_eq!(&m.data[..], text);
    assert_eq!((m.stream, m.ppid), (0, ppid));
}

/// Connect options from a loopback address, with `config`.
pub fn from_loopback(config: Config) -> ConnectOptions {
    ConnectOptions::default()
        .with_local(loopback())
        .with_config(config)
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
