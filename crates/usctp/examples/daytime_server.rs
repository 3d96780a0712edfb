//! The daytime server of the classic lksctp tutorial, over UDP
//! encapsulation: 5 streams each way; the local time goes out on stream 0,
//! GMT on stream 1, then the association is shut down.
//!
//! ```sh
//! cargo run --example daytime_server            # UDP 127.0.0.1:9899, SCTP port 13
//! cargo run --example daytime_client            # in another terminal
//! ```

use bytes::Bytes;
use usctp::proto::config::Config;
use usctp::socket::SctpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Like setsockopt(SCTP_INITMSG) with 5 streams each way.
    let config = Config::default()
        .with_outbound_streams(5)
        .with_max_inbound_streams(5);
    let listener = SctpListener::bind("127.0.0.1:9899".parse().unwrap(), 13, config).await?;
    loop {
        println!("Awaiting a new connection");
        let (mut stream, _) = listener.accept().await?;
        // ctime(3) and asctime(gmtime(3)).
        let now = chrono::Local::now();
        let local = now.format("%a %b %e %H:%M:%S %Y\n").to_string();
        let gmt = now.naive_utc().format("%a %b %e %H:%M:%S %Y\n").to_string();
        stream.send(0, 0, Bytes::from(local)).await.ok();
        stream.send(1, 0, Bytes::from(gmt)).await.ok();
        stream.shutdown();
        while stream.recv().await.is_some() {}
    }
}
