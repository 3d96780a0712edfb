//! One-to-many sockets (RFC 6458 §3) with notifications and peeloff: a
//! server socket serves every association on one socket and hears each
//! come up; two clients set their associations up by sending (no connect);
//! the server peels the first one off into a one-to-one stream of its own
//! and answers each client on its own socket.
//!
//! ```sh
//! cargo run -p usctp --example one_to_many
//! ```

use std::io;

use bytes::Bytes;
use usctp::socket::{ListenOptions, Notifications, SctpSocket, StreamEvent};

#[tokio::main]
async fn main() -> io::Result<()> {
    let options = ListenOptions::default().with_events(Notifications::ALL);
    let mut server = SctpSocket::bind("127.0.0.1:0".parse().unwrap(), 7, options).await?;
    let at = server.local_addr();
    println!("server on udp {at}, sctp port 7");

    let mut clients = Vec::new();
    for (port, text) in [(5001, "first"), (5002, "second")] {
        // Subscribed to the association change events, to see the end.
        let events = ListenOptions::default().with_events(Notifications::ALL);
        let client = SctpSocket::bind("127.0.0.1:0".parse().unwrap(), port, events).await?;
        // The first message sets the association up (RFC 6458 §3.1.4).
        client
            .send_to(at, 7, 0, 0, Bytes::from_static(text.as_bytes()), false)
            .await
            .map_err(io::Error::other)?;
        clients.push(client);
    }

    let mut peeled = None;
    let mut answered = 0;
    while answered < clients.len() {
        let Some((id, event)) = server.next_event().await else {
            break;
        };
        match event {
            StreamEvent::Up(up) => {
                println!(
                    "{id}: up, peer port {}, addresses {:?}",
                    up.peer_port, up.peer_addresses
                );
            }
            StreamEvent::Message(m) => {
                let text = String::from_utf8_lossy(&m.data).into_owned();
                println!("{id}: {text:?} on stream {}", m.stream);
                let reply = Bytes::from(format!("hello, {text}"));
                if peeled.is_none() {
                    // The first association leaves the socket: from now on
                    // it is a one-to-one stream and the socket no longer
                    // sees it.
                    let stream = server.peeloff(id).await?;
                    stream.send(0, 0, reply).await.map_err(io::Error::other)?;
                    peeled = Some(stream);
                } else {
                    server
                        .send(id, 0, 0, reply, false)
                        .await
                        .map_err(io::Error::other)?;
                }
                answered += 1;
            }
            other => println!("{id}: {other:?}"),
        }
    }

    for client in &mut clients {
        // recv_from skips the notifications (the Up) before the message.
        if let Some((id, m)) = client.recv_from().await {
            println!("client {id} got {:?}", String::from_utf8_lossy(&m.data));
            client.shutdown(id);
        }
    }
    // Each client sees its association end gracefully.
    for client in &mut clients {
        while let Some((id, event)) = client.next_event().await {
            if let StreamEvent::Closed(reason) = event {
                println!("client {id}: closed ({reason:?})");
                break;
            }
        }
    }
    Ok(())
}
