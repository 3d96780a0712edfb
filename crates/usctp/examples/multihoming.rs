//! Multi-homing on one machine: a server on two loopback addresses
//! (127.0.0.1 and 127.0.0.2, one UDP port), a client (on two of its own)
//! that learns both from
//! the INIT ACK, confirms each with a heartbeat (RFC 9260 §5.4), and is
//! told so by peer address change notifications; then the client moves its
//! primary path to the second address and data follows it.
//!
//! ```sh
//! cargo run -p usctp --example multihoming
//! ```

use std::io;
use std::time::Duration;

use bytes::Bytes;
use usctp::socket::{
    ConnectOptions, ListenOptions, Notifications, SctpListener, SctpStream, StreamEvent,
};
use usctp::{Config, PathChange};

#[tokio::main]
async fn main() -> io::Result<()> {
    // Heartbeats every 200 ms, so that the second address is confirmed at
    // once instead of after 30 s.
    let config = Config::default().with_hb_interval(Duration::from_millis(200));
    // A further address gets a socket on the listener's UDP port; both
    // addresses go in the INIT ACK.
    let options = ListenOptions::default()
        .with_config(config.clone())
        .with_also_bind(vec!["127.0.0.2:0".parse().unwrap()]);
    let listener = SctpListener::bind_with("127.0.0.1:0".parse().unwrap(), 7, options).await?;
    let at = listener.local_addr();
    let server = tokio::spawn(async move {
        let (mut stream, peer) = listener.accept().await?;
        println!("server: association from {peer}");
        while let Some(m) = stream.recv().await {
            println!("server: {:?}", String::from_utf8_lossy(&m.data));
        }
        io::Result::Ok(())
    });

    // The client is multi-homed too (127.0.0.1 and 127.0.0.3). That also
    // makes its INIT large enough for an INIT ACK with both of the server's
    // addresses: usctp answers an INIT with at most four times its size
    // (against amplification), and a bare 32-byte INIT leaves room for one.
    let options = ConnectOptions::default()
        .with_config(config)
        .with_local("127.0.0.1:0".parse().unwrap())
        .with_also_bind(vec!["127.0.0.3:0".parse().unwrap()])
        .with_events(Notifications::ALL);
    let mut client = SctpStream::connect(at, 7, options).await?;
    println!("client: the server's addresses: {:?}", client.peer_addrs());
    let second = std::net::SocketAddr::new([127, 0, 0, 2].into(), at.port());
    // The address the INIT went to is confirmed by the handshake; the other
    // by a heartbeat, which the notification reports.
    let confirmed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = client.next_event().await {
            if let StreamEvent::PathChange { address, change } = event {
                println!("client: path {address}: {change}");
                if address == second && change == PathChange::Confirmed {
                    return true;
                }
            }
        }
        false
    });
    if !confirmed.await.unwrap_or(false) {
        return Err(io::Error::other("the second address was not confirmed"));
    }
    if !client.set_primary(second).await {
        return Err(io::Error::other("no path to the second address"));
    }
    client
        .send(0, 0, Bytes::from_static(b"over the second path"))
        .await
        .map_err(io::Error::other)?;
    client.all_acknowledged().await;
    for path in client.paths().await {
        println!(
            "client: path {} confirmed={} primary={} srtt={:?}",
            path.address, path.confirmed, path.primary, path.srtt
        );
    }
    client.close().await.map_err(io::Error::other)?;
    server.await.map_err(io::Error::other)?
}
