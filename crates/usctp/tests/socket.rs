//! The socket API over UDP on loopback: one-to-one streams (messages
//! both ways, shutdown, abort, `AsyncRead`/`AsyncWrite`, notifications),
//! the one-to-many socket (lksctp's SOCK_SEQPACKET style: one endpoint
//! serving many associations, associations set up implicitly by `send_to`,
//! and `peeloff`), and the checks of what the sockets are given.

mod support;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use support::{connected, from_loopback, giving_up_soon, listener_on, loopback, within};
use usctp::proto::association::{AssocId, AssociationError, SendError};
use usctp::proto::config::Config;
use usctp::socket::{ListenOptions, SctpListener, SctpSocket, SctpStream, StreamEvent};

// ---- one-to-one streams ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_in_both_directions_and_the_association_closes() {
    let (client, mut server) = connected(Config::default()).await;
    assert_eq!(client.established().outbound_streams, 10);

    const N: usize = 500;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            let body = Bytes::from(format!("{i}:").repeat(1 + i % 700));
            client.send((i % 3) as u16, 42, body).await.unwrap();
        }
        client
    });
    let mut next = [0usize; 3];
    for _ in 0..N {
        let m = tokio::time::timeout(Duration::from_secs(20), server.recv())
            .await
            .expect("no stall")
            .expect("message");
        let text = std::str::from_utf8(&m.data).unwrap();
        let i: usize = text.split(':').next().unwrap().parse().unwrap();
        assert_eq!(m.data, Bytes::from(format!("{i}:").repeat(1 + i % 700)));
        assert_eq!(usize::from(m.stream), i % 3);
        assert_eq!(m.ppid, 42);
        // In order on each stream.
        assert_eq!(
            i,
            next[i % 3] * 3 + i % 3,
            "out of order on stream {}",
            i % 3
        );
        next[i % 3] += 1;
    }
    let mut client = sender.await.unwrap();
    server
        .send(1, 0, Bytes::from_static(b"reply"))
        .await
        .unwrap();
    assert_eq!(&client.recv().await.unwrap().data[..], b"reply");
    client.shutdown();
    assert!(
        tokio::time::timeout(Duration::from_secs(10), server.recv())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(server.close_reason(), None, "graceful");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_right_after_sends_that_did_not_wait_delivers_them_all() {
    // `send` may return before the message is in the send buffer (it did
    // not wait for the endpoint task); a shutdown asked for then must still
    // deliver every message first (before the fix: 35 of 200 arrived).
    let (mut client, mut server) = connected(Config::default().with_send_buffer(32 * 1024)).await;
    const N: usize = 200;
    for i in 0..N {
        let body = Bytes::from(vec![(i % 251) as u8; 1000]);
        client.send(0, 0, body).await.unwrap();
    }
    client.shutdown();
    let mut got = 0;
    while let Some(m) = tokio::time::timeout(Duration::from_secs(20), server.recv())
        .await
        .expect("no stall")
    {
        assert_eq!(
            m.data,
            Bytes::from(vec![(got % 251) as u8; 1000]),
            "message {got}"
        );
        got += 1;
    }
    assert_eq!(got, N);
    assert_eq!(server.close_reason(), None, "graceful");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_after_the_peer_aborted_is_refused() {
    // Once the association has ended, `send` says so (before the fix it
    // returned Ok and the message vanished).
    let (client, mut server) = connected(Config::default()).await;
    server.abort(b"bye");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let result = client.send(0, 0, Bytes::from_static(b"hello")).await;
    assert!(result.is_err(), "{result:?}");
}

/// `AsyncRead`/`AsyncWrite`: 3 MB written with `write_all` arrive intact
/// through `read_to_end`, which ends at the graceful shutdown; then an echo
/// through `tokio::io::split` and `tokio::io::copy`.
#[tokio::test]
async fn streams_carry_bytes_through_async_read_and_write() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = listener_on(9).await;
    let addr = listener.local_addr();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expected = data.clone();
    let reader = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        got
    });
    let options = from_loopback(Config::default());
    let mut writer = SctpStream::connect(addr, 9, options).await.unwrap();
    writer.write_all(&data).await.unwrap();
    AsyncWriteExt::shutdown(&mut writer).await.unwrap();
    let got = within("read_to_end", reader).await.unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "bytes differ");

    let listener = listener_on(7).await;
    let addr = listener.local_addr();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = tokio::io::split(stream);
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    let options = from_loopback(Config::default());
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
    use usctp::socket::Notifications;
    for (events, announced) in [(Notifications::ALL, true), (Notifications::NONE, false)] {
        let listener = listener_on(9).await;
        let addr = listener.local_addr();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream.shutdown();
            while stream.next_event().await.is_some() {}
        });
        let options = from_loopback(Config::default()).with_events(events);
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

// ---- the one-to-many socket ----

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
        let options = from_loopback(Config::default());
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
    // second reuses it; the echo comes back on the same association, and
    // the subscribed association change announces it once.
    let options = ListenOptions::default().with_events(usctp::socket::Notifications {
        association_change: true,
        ..usctp::socket::Notifications::NONE
    });
    let mut client = SctpSocket::bind(loopback(), 5000, options).await.unwrap();
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
    let options = from_loopback(Config::default());
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
    let options =
        ListenOptions::default().with_config(giving_up_soon(Duration::from_millis(20), 2));
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
    assert_eq!(
        result,
        Err(SendError::SetupFailed(AssociationError::InitTimeout))
    );
}

// ---- what the sockets are given ----

/// RFC 9260 §3.1: the sockets refuse SCTP port 0 instead of sending from
/// it; a real port binds.
#[tokio::test]
async fn sockets_refuse_sctp_port_0() {
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let Err(e) = SctpListener::bind(local, 0, Config::default()).await else {
        panic!("a listener on SCTP port 0")
    };
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    let Err(e) = SctpSocket::bind(local, 0, ListenOptions::default()).await else {
        panic!("a one-to-many socket on SCTP port 0")
    };
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    assert!(
        SctpListener::bind(local, 7, Config::default())
            .await
            .is_ok()
    );
}
