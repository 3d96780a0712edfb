//! The daytime client of the classic lksctp tutorial, over UDP
//! encapsulation: connects with 5 streams each way, prints SCTP_STATUS, then
//! the message of stream 0 as "(Local)" and of stream 1 as "(GMT  )".
//!
//! ```sh
//! cargo run --example daytime_client -- 127.0.0.1:9899
//! ```

use usctp::proto::config::Config;
use usctp::socket::{ConnectOptions, SctpStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9899".into());
    let server = server.parse().map_err(std::io::Error::other)?;
    let options = ConnectOptions::default().with_config(
        Config::default()
            .with_outbound_streams(5)
            .with_max_inbound_streams(5),
    );
    let mut stream = SctpStream::connect(server, 13, options).await?;
    if let Some(status) = stream.status_at_start() {
        println!("assoc id  = {}", status.id);
        println!("state     = {:?}", status.state);
        println!("instrms   = {}", status.inbound_streams);
        println!("outstrms  = {}", status.outbound_streams);
    }
    for _ in 0..2 {
        let Some(message) = stream.recv().await else {
            break;
        };
        let text = String::from_utf8_lossy(&message.data);
        match message.stream {
            0 => println!("(Local) {}", text.trim_end()),
            _ => println!("(GMT  ) {}", text.trim_end()),
        }
    }
    Ok(())
}
