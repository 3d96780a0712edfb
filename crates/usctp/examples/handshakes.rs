//! Sets up and gracefully closes `--count N` associations one after
//! another against a server (e.g. `usctp discard-server`), each from a
//! fresh endpoint as a new client would, and prints one JSON line:
//! `{"count": …, "seconds": …, "per_second": …}`. `--parallel P` runs P
//! such clients at once (tasks on one thread), sharing the count.
//!
//! ```sh
//! cargo run --release --example handshakes -- 127.0.0.1:9899 --count 1000
//! ```

use std::net::SocketAddr;
use std::time::Instant;

use usctp::socket::{ConnectOptions, SctpStream};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let server: SocketAddr = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .expect("usage: handshakes IP:UDPPORT [--count N] [--port P]");
    let count: usize = arg("--count").map_or(1000, |v| v.parse().expect("a number"));
    let port: u16 = arg("--port").map_or(9, |v| v.parse().expect("a port"));
    let parallel: usize = arg("--parallel").map_or(1, |v| v.parse().expect("a number"));
    #[allow(clippy::disallowed_methods)] // a benchmark reads the clock
    let start = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..parallel.max(1) {
        let share = count / parallel.max(1) + usize::from(i < count % parallel.max(1));
        clients.spawn(handshakes(server, port, share));
    }
    while let Some(result) = clients.join_next().await {
        result.map_err(std::io::Error::other)??;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"count\": {count}, \"seconds\": {seconds:.6}, \"per_second\": {:.1}}}",
        count as f64 / seconds
    );
    Ok(())
}

/// `count` associations set up and closed one after another.
async fn handshakes(server: SocketAddr, port: u16, count: usize) -> std::io::Result<()> {
    for _ in 0..count {
        let options = ConnectOptions {
            local: SocketAddr::new(server.ip(), 0),
            ..ConnectOptions::default()
        };
        let mut stream = SctpStream::connect(server, port, options).await?;
        stream.shutdown();
        while stream.next_event().await.is_some() {}
        if let Some(e) = stream.close_reason() {
            return Err(std::io::Error::other(format!("association closed: {e}")));
        }
    }
    Ok(())
}
