//! Interop with webrtc-sctp (webrtc-rs), which carries SCTP packets
//! directly in UDP datagrams like RFC 6951: both directions, over loopback.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use usctp::socket::{ConnectOptions, SctpListener, SctpStream};
use webrtc_sctp::association::{Association, Config};
use webrtc_sctp::chunk::chunk_payload_data::PayloadProtocolIdentifier;

/// webrtc-sctp uses SCTP port 5000 at both ends (as WebRTC does).
const PORT: u16 = 5000;

fn webrtc_config(conn: Arc<UdpSocket>, name: &str) -> Config {
    Config {
        net_conn: conn,
        max_receive_buffer_size: 0,
        max_message_size: 0,
        name: name.to_owned(),
        local_port: PORT,
        remote_port: PORT,
        mtu: 1200,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_sctp_client_talks_to_our_echo_server() {
    let listener = SctpListener::bind("127.0.0.1:0".parse().unwrap(), PORT, Default::default())
        .await
        .unwrap();
    let addr = listener.local_addr();
    let server = tokio::spawn(async move {
        let mut s = listener.accept().await.unwrap();
        let mut echoed = 0;
        while let Some(m) = s.recv().await {
            s.send_with(m.stream, m.ppid, m.data, m.unordered)
                .await
                .unwrap();
            echoed += 1;
        }
        echoed
    });
    let conn = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    conn.connect(addr).await.unwrap();
    let a = tokio::time::timeout(
        Duration::from_secs(10),
        Association::client(webrtc_config(conn, "client")),
    )
    .await
    .expect("handshake in time")
    .unwrap();
    let stream = a
        .open_stream(3, PayloadProtocolIdentifier::Binary)
        .await
        .unwrap();
    let mut buf = vec![0u8; 70_000];
    for size in [1, 100, 1200, 5000, 65_000] {
        let body = Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        stream
            .write_sctp(&body, PayloadProtocolIdentifier::Binary)
            .await
            .unwrap();
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("echo in time")
            .unwrap();
        assert_eq!(&buf[..n], &body[..], "message of {size} bytes");
    }
    // A graceful shutdown (webrtc-sctp's `close` just stops, without a
    // word to the peer).
    a.shutdown().await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server ends")
        .unwrap();
    assert_eq!(echoed, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_talks_to_a_webrtc_sctp_server() {
    let conn = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let server_addr = conn.local_addr().unwrap();
    // webrtc-sctp's server needs its socket connected to the client: fix
    // the client's UDP address first.
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let client_addr = probe.local_addr().unwrap();
    drop(probe);
    conn.connect(client_addr).await.unwrap();
    let server = tokio::spawn(async move {
        let a = Association::server(webrtc_config(conn, "server"))
            .await
            .unwrap();
        let stream = a.accept_stream().await.expect("a stream");
        let mut buf = vec![0u8; 2048];
        let n = stream.read(&mut buf).await.unwrap();
        stream
            .write_sctp(
                &Bytes::copy_from_slice(&buf[..n]),
                PayloadProtocolIdentifier::String,
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        a.close().await.unwrap();
    });
    let options = ConnectOptions {
        local: client_addr,
        port: PORT,
        ..ConnectOptions::default()
    };
    let mut client = tokio::time::timeout(
        Duration::from_secs(10),
        SctpStream::connect(server_addr, PORT, options),
    )
    .await
    .expect("handshake in time")
    .unwrap();
    client
        .send(1, 51, Bytes::from_static(b"hello webrtc"))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), client.recv())
        .await
        .expect("reply in time")
        .expect("a message");
    assert_eq!(&reply.data[..], b"hello webrtc");
    assert_eq!(reply.stream, 1);
    server.await.unwrap();
}
