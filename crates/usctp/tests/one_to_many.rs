//! The one-to-many socket (lksctp's SOCK_SEQPACKET style) over UDP on
//! loopback: one endpoint serving many associations, associations set up
//! implicitly by `send_to`, and `peeloff`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use usctp::proto::association::{AssocId, SendError};
use usctp::proto::config::Config;
use usctp::socket::{ConnectOptions, ListenOptions, SctpSocket, SctpStream, StreamEvent};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 10 s"))
}

/// Echoes every message back on its association, stream and PPID.
async fn echo_socket(mut socket: SctpSocket) {
    while let Some((id, event)) = socket.next_event().await {
        if let StreamEvent::Message(m) = event {
            let _ = socket.send(id, m.stream, m.ppid, m.data, m.unordered).await;
        }
    }
}

#[tokio::test]
async fn one_socket_serves_many_associations_and_sets_them_up_on_send() {
    let server = SctpSocket::bind(loopback(), 7, ListenOptions::default())
        .await
        .unwrap();
    let server_addr = server.local_addr();
    tokio::spawn(echo_socket(server));

    // Three one-to-one clients at once, each on its own stream.
    let mut clients = Vec::new();
    for i in 0..3u16 {
        let options = ConnectOptions {
            local: loopback(),
            ..ConnectOptions::default()
        };
        let stream = within("connect", SctpStream::connect(server_addr, 7, options))
            .await
            .unwrap();
        clients.push((i, stream));
    }
    for (i, stream) in &mut clients {
        let text = format!("client {i}");
        stream
            .send(*i, 50 + u32::from(*i), Bytes::from(text.clone()))
            .await
            .unwrap();
        let echo = within("echo", stream.recv()).await.unwrap();
        assert_eq!(echo.data, text.as_bytes());
        assert_eq!((echo.stream, echo.ppid), (*i, 50 + u32::from(*i)));
    }

    // A one-to-many client: the first send_to sets the association up, the
    // second reuses it; the echo comes back on the same association.
    let mut client = SctpSocket::bind(loopback(), 5000, ListenOptions::default())
        .await
        .unwrap();
    let first = within(
        "send_to",
        client.send_to(server_addr, 7, 1, 51, Bytes::from_static(b"one"), false),
    )
    .await
    .unwrap();
    let second = client
        .send_to(server_addr, 7, 2, 51, Bytes::from_static(b"two"), true)
        .await
        .unwrap();
    assert_eq!(first, second, "one association per peer");
    let mut up = 0;
    let mut echoed = Vec::new();
    while echoed.len() < 2 {
        match within("events", client.next_event()).await.unwrap() {
            (id, StreamEvent::Up(e)) => {
                assert_eq!(id, first);
                assert!(e.outbound_streams >= 3);
                up += 1;
            }
            (id, StreamEvent::Message(m)) => {
                assert_eq!(id, first);
                echoed.push(m.data);
            }
            _ => {}
        }
    }
    assert_eq!(up, 1, "one Up notification");
    echoed.sort();
    assert_eq!(echoed, [&b"one"[..], &b"two"[..]]);
}

#[tokio::test]
async fn peeloff_moves_an_association_to_its_own_stream() {
    let mut server = SctpSocket::bind(loopback(), 9, ListenOptions::default())
        .await
        .unwrap();
    let server_addr = server.local_addr();
    let options = ConnectOptions {
        local: loopback(),
        ..ConnectOptions::default()
    };
    let client = SctpStream::connect(server_addr, 9, options).await.unwrap();
    client
        .send(0, 0, Bytes::from_static(b"before"))
        .await
        .unwrap();
    let (id, before) = within("recv_from", server.recv_from()).await.unwrap();
    assert_eq!(before.data, &b"before"[..]);

    let mut peeled = server.peeloff(id).await.unwrap();
    assert_eq!(peeled.assoc_id(), id);
    client
        .send(0, 0, Bytes::from_static(b"after"))
        .await
        .unwrap();
    let after = within("peeled recv", peeled.recv()).await.unwrap();
    assert_eq!(after.data, &b"after"[..]);
    // The peeled stream answers on the same association.
    peeled
        .send(0, 0, Bytes::from_static(b"reply"))
        .await
        .unwrap();
    let mut client = client;
    assert_eq!(
        within("client recv", client.recv()).await.unwrap().data,
        &b"reply"[..]
    );
    // It can be peeled off once; an unknown id not at all.
    assert!(server.peeloff(id).await.is_err());
    assert!(server.peeloff(AssocId(999)).await.is_err());
    // Nothing more for this association reaches the socket.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), server.recv_from())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn send_to_an_unreachable_peer_fails_with_the_reason() {
    let config = Config {
        rto_initial: Duration::from_millis(20),
        rto_min: Duration::from_millis(20),
        rto_max: Duration::from_millis(40),
        max_init_retransmits: 2,
        ..Config::default()
    };
    let options = ListenOptions {
        config,
        ..ListenOptions::default()
    };
    let client = SctpSocket::bind(loopback(), 5001, options).await.unwrap();
    // A port nobody listens on.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = silent.local_addr().unwrap();
    drop(silent);
    let result = within(
        "send_to",
        client.send_to(to, 7, 0, 0, Bytes::from_static(b"lost"), false),
    )
    .await;
    let Err(SendError::SetupFailed(why)) = result else {
        panic!("{result:?}")
    };
    assert!(why.contains("INIT"), "{why}");
}

/// `AsyncRead`/`AsyncWrite`: 3 MB written with `write_all` arrive intact
/// through `read_to_end`, which ends at the graceful shutdown; then an echo
/// through `tokio::io::split` and `tokio::io::copy`.
#[tokio::test]
async fn streams_carry_bytes_through_async_read_and_write() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = usctp::socket::SctpListener::bind(loopback(), 9, Config::default())
        .await
        .unwrap();
    let addr = listener.local_addr();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expected = data.clone();
    let reader = tokio::spawn(async move {
        let mut stream = listener.accept().await.unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        got
    });
    let options = ConnectOptions {
        local: loopback(),
        ..ConnectOptions::default()
    };
    let mut writer = SctpStream::connect(addr, 9, options).await.unwrap();
    writer.write_all(&data).await.unwrap();
    AsyncWriteExt::shutdown(&mut writer).await.unwrap();
    let got = within("read_to_end", reader).await.unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "bytes differ");

    let listener = usctp::socket::SctpListener::bind(loopback(), 7, Config::default())
        .await
        .unwrap();
    let addr = listener.local_addr();
    tokio::spawn(async move {
        let stream = listener.accept().await.unwrap();
        let (mut r, mut w) = tokio::io::split(stream);
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    let options = ConnectOptions {
        local: loopback(),
        ..ConnectOptions::default()
    };
    let stream = SctpStream::connect(addr, 7, options).await.unwrap();
    let (mut r, mut w) = tokio::io::split(stream);
    let sent = data[..200_000].to_vec();
    let echo = tokio::spawn(async move {
        let mut back = vec![0u8; 200_000];
        r.read_exact(&mut back).await.unwrap();
        back
    });
    w.write_all(&sent).await.unwrap();
    let back = within("echo", echo).await.unwrap();
    assert!(back == sent, "echo differs");
}

/// Notifications follow the subscription (SCTP_EVENTS): with everything
/// on, the peer's shutdown is announced before the close; with nothing,
/// only the close arrives.
#[tokio::test]
async fn notifications_follow_the_subscription() {
    use usctp::socket::Subscription;
    for (events, announced) in [(Subscription::ALL, true), (Subscription::NONE, false)] {
        let listener = usctp::socket::SctpListener::bind(loopback(), 9, Config::default())
            .await
            .unwrap();
        let addr = listener.local_addr();
        let server = tokio::spawn(async move {
            let stream = listener.accept().await.unwrap();
            stream.shutdown();
            let mut stream = stream;
            while stream.next_event().await.is_some() {}
        });
        let options = ConnectOptions {
            local: loopback(),
            events,
            ..ConnectOptions::default()
        };
        let mut client = SctpStream::connect(addr, 9, options).await.unwrap();
        let mut seen = Vec::new();
        while let Some(event) = within("events", client.next_event()).await {
            seen.push(event);
        }
        let started = seen
            .iter()
            .any(|e| matches!(e, StreamEvent::ShutdownStarted));
        assert_eq!(started, announced, "{seen:?}");
        assert!(
            matches!(seen.last(), Some(StreamEvent::Closed(None))),
            "{seen:?}"
        );
        server.await.unwrap();
    }
}
