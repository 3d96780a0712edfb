//! Partial delivery (RFC 6458 §8.1.20's partial delivery point): a
//! receiver with a small partial delivery point gets a large message in
//! parts as they arrive, each part a `Message` whose `end_of_record` says
//! whether it ends the message, instead of waiting for all of it.
//!
//! ```sh
//! cargo run -p usctp --example partial_delivery
//! ```

use std::io;

use bytes::Bytes;
use usctp::Config;
use usctp::socket::{ConnectOptions, ListenOptions, SctpListener, SctpStream};

#[tokio::main]
async fn main() -> io::Result<()> {
    // Messages of more than 16 KiB reach this receiver in parts.
    let receiver = Config::default().with_partial_delivery_point(Some(16 * 1024));
    let options = ListenOptions::default().with_config(receiver);
    let listener = SctpListener::bind_with("127.0.0.1:0".parse().unwrap(), 9, options).await?;
    let at = listener.local_addr();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let (mut parts, mut bytes) = (0, 0);
        while let Some(m) = stream.recv().await {
            parts += 1;
            bytes += m.data.len();
            if m.end_of_record {
                println!("receiver: one message of {bytes} bytes in {parts} parts");
                (parts, bytes) = (0, 0);
            }
        }
        io::Result::Ok(())
    });

    let sender = SctpStream::connect(at, 9, ConnectOptions::default()).await?;
    let message = Bytes::from(vec![0x5a; 1 << 20]);
    sender.send(0, 0, message).await.map_err(io::Error::other)?;
    sender
        .send(0, 0, Bytes::from_static(b"small"))
        .await
        .map_err(io::Error::other)?;
    sender.close().await.map_err(io::Error::other)?;
    server.await.map_err(io::Error::other)?
}
