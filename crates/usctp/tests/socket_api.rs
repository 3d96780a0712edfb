//! The lksctp semantics of the async socket API (RFC 6458), through the
//! public API over loopback: addresses, backlog, notifications subscribed
//! per kind and bounded, send and receive information, peeloff that keeps
//! what was queued, awaited close, split halves, and what misuse gets.

mod support;

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use support::{
    assert_carried, connected, connected_with, from_loopback, giving_up_soon, listener_on,
    loopback, within,
};
use usctp::proto::association::{AssociationError, AssociationState, SendError};
use usctp::proto::config::Config;
use usctp::socket::{
    ConnectOptions, ListenOptions, Notifications, SctpListener, SctpSocket, SctpStream, SendInfo,
    StreamEvent,
};

/// Sends `data` as one message with `info`; the send is accepted.
async fn send(stream: &mut SctpStream, data: impl Into<Bytes>, info: SendInfo) {
    stream.send_message(data.into(), info).await.unwrap();
}

/// Send information asking the peer to acknowledge at once
/// (SCTP_SACK_IMMEDIATELY).
fn ack_now() -> SendInfo {
    SendInfo::default().with_sack_immediately(true)
}

/// Only the given kind of notification.
fn only(set: impl FnOnce(&mut Notifications)) -> Notifications {
    let mut n = Notifications::NONE;
    set(&mut n);
    n
}

#[tokio::test]
async fn accept_names_the_peer_and_each_end_knows_both_addresses() {
    let listener = listener_on(7).await;
    let connect = SctpStream::connect(listener.local_addr(), 7, from_loopback(Config::default()));
    let (client, accepted) = tokio::join!(connect, listener.accept());
    let (client, (server, peer)) = (client.unwrap(), accepted.unwrap());
    assert_eq!(peer, client.local_addr(), "accept's peer address");
    assert_eq!(server.peer_addr(), client.local_addr());
    assert_eq!(client.peer_addr(), listener.local_addr());
    assert_eq!(server.local_addr(), listener.local_addr());
    assert_eq!(server.local_port(), 7);
    assert_eq!(client.peer_addrs(), &[listener.local_addr()]);
    assert_eq!(server.local_addrs(), vec![listener.local_addr()]);
}

/// A listener whose user does not accept holds at most its backlog; past
/// that, new peers are refused until `accept` makes room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accept_backlog_refuses_peers_until_accept_makes_room() {
    let options = ListenOptions::default().with_backlog(1);
    let listener = SctpListener::bind_with(loopback(), 7, options)
        .await
        .unwrap();
    let addr = listener.local_addr();
    let quick = giving_up_soon(Duration::from_millis(50), 1);
    let first = within(
        "first",
        SctpStream::connect(addr, 7, from_loopback(quick.clone())),
    )
    .await
    .unwrap();
    let refused = within(
        "second",
        SctpStream::connect(addr, 7, from_loopback(quick.clone())),
    )
    .await;
    let Err(e) = refused else {
        panic!("a second association past a backlog of 1")
    };
    assert!(e.to_string().contains("Out_of_Resource"), "{e}");
    let (accepted, _) = within("accept", listener.accept()).await.unwrap();
    assert_eq!(accepted.peer_addr(), first.local_addr());
    let third = within("third", SctpStream::connect(addr, 7, from_loopback(quick))).await;
    assert!(third.is_ok(), "{third:?}");
}

/// Notifications are off until subscribed, and a subscription can change
/// while the association runs.
#[tokio::test]
async fn a_subscription_changes_while_the_association_runs() {
    let (mut client, _server) = connected(Config::default()).await;
    send(&mut client, Bytes::from_static(b"one"), ack_now()).await;
    client.all_acknowledged().await;
    assert_eq!(
        client.try_next_event(),
        None,
        "no notification unsubscribed"
    );
    client.subscribe(only(|n| n.sender_dry = true));
    assert!(client.subscription().sender_dry);
    send(&mut client, Bytes::from_static(b"two"), ack_now()).await;
    let event = within("sender dry", client.next_event()).await;
    assert_eq!(event, Some(StreamEvent::SenderDry));
    client.subscribe(Notifications::NONE);
    send(&mut client, Bytes::from_static(b"three"), ack_now()).await;
    client.all_acknowledged().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(client.try_next_event(), None);
}

/// Notifications nobody reads are bounded: past the queue's limit they are
/// dropped, and the user is told how many once it reads.
#[tokio::test]
async fn notifications_past_the_bound_are_dropped_and_counted() {
    const SENT: usize = 1_100;
    let (mut client, _server) = connected(Config::default()).await;
    client.subscribe(only(|n| n.sender_dry = true));
    for _ in 0..SENT {
        send(&mut client, Bytes::from_static(b"x"), ack_now()).await;
        client.all_acknowledged().await;
    }
    let mut dry = 0;
    let mut lost = 0;
    while let Some(event) = client.try_next_event() {
        match event {
            StreamEvent::SenderDry => dry += 1,
            StreamEvent::NotificationsLost(n) => lost += n,
            other => panic!("{other:?}"),
        }
    }
    assert!(dry <= 1_024 + 1, "{dry} notifications held");
    assert!(lost > 0, "none dropped of {SENT}");
    assert_eq!(
        dry + lost as usize,
        SENT,
        "every notification delivered or counted"
    );
}

/// Receive information: the stream, PPID, stream sequence numbers in
/// order per stream, TSNs rising, and the cumulative TSN.
#[tokio::test]
async fn messages_carry_their_receive_information() {
    let (client, mut server) = connected(Config::default()).await;
    for (stream, ppid) in [(0, 10), (1, 11), (0, 12), (1, 13), (0, 14)] {
        client
            .send(stream, ppid, Bytes::from_static(b"m"))
            .await
            .unwrap();
    }
    let mut ssn = [0u16; 2];
    let mut last_tsn = None;
    for ppid in 10..15 {
        let m = within("message", server.recv()).await.unwrap();
        assert_eq!(m.ppid, ppid);
        let s = usize::from(m.stream);
        assert_eq!(m.ssn, ssn[s], "stream {s}");
        ssn[s] += 1;
        if let Some(last) = last_tsn {
            assert!(m.tsn.is_after(last));
        }
        assert!(!m.tsn.is_after(m.cumulative_tsn));
        last_tsn = Some(m.tsn);
        assert!(m.end_of_record && !m.unordered);
    }
}

/// Send information: SCTP_EOF queues the message and shuts down; SCTP_ABORT
/// ends the association with the message as the reason; a message that
/// never went comes back with its context (SCTP_SEND_FAILED_EVENT).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_information_shuts_down_aborts_and_returns_contexts() {
    let (mut client, mut server) = connected(Config::default()).await;
    let eof = SendInfo::default()
        .with_stream(2)
        .with_ppid(5)
        .with_eof(true);
    send(&mut client, Bytes::from_static(b"last"), eof).await;
    let m = within("last", server.recv()).await.unwrap();
    assert_eq!((&m.data[..], m.stream, m.ppid), (&b"last"[..], 2, 5));
    assert!(within("end", server.recv()).await.is_none());
    assert_eq!(server.close_reason(), None);

    let (mut client, mut server) = connected(Config::default()).await;
    let abort = SendInfo::default().with_abort(true);
    send(&mut client, Bytes::from_static(b"going away"), abort).await;
    assert!(within("abort", server.recv()).await.is_none());
    let Some(AssociationError::PeerAborted(causes)) = server.close_reason() else {
        panic!("{:?}", server.close_reason())
    };
    assert!(format!("{causes:?}").contains("going away"), "{causes:?}");

    // A peer that does not read: its window closes, messages stay queued
    // here, and an abort returns each with its context.
    let small = Config::default().with_receive_window(8 * 1024);
    let (mut client, _server) = connected_with(small, Config::default()).await;
    client.subscribe(only(|n| n.send_failed = true));
    for context in 0..64 {
        let info = SendInfo::default().with_context(context);
        send(&mut client, vec![7; 1000], info).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.abort(b"enough");
    let mut contexts = Vec::new();
    while let Some(event) = within("events", client.next_event()).await {
        if let StreamEvent::SendFailed(unsent) = event {
            contexts.extend(unsent.iter().map(|u| u.context));
            assert!(unsent.iter().all(|u| u.data.len() == 1000));
        }
    }
    assert!(!contexts.is_empty(), "no message came back");
    contexts.sort_unstable();
    contexts.dedup();
    assert!(contexts.iter().all(|&c| c < 64));
    assert!(
        contexts.contains(&63),
        "the last message was delivered? {contexts:?}"
    );
}

/// sctp_peeloff moves the association with what the one-to-many socket
/// held for it, in order; the socket keeps the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peeloff_takes_the_messages_queued_for_the_association() {
    let options = ListenOptions::default().with_events(only(|n| n.association_change = true));
    let mut server = SctpSocket::bind(loopback(), 9, options).await.unwrap();
    let addr = server.local_addr();
    let a = SctpStream::connect(addr, 9, from_loopback(Config::default()))
        .await
        .unwrap();
    let b = SctpStream::connect(addr, 9, from_loopback(Config::default()))
        .await
        .unwrap();
    let Some((id_a, StreamEvent::Up(_))) = within("up", server.next_event()).await else {
        panic!("no Up")
    };
    for i in 0..3u32 {
        a.send(0, i, Bytes::from(format!("a{i}"))).await.unwrap();
    }
    b.send(0, 9, Bytes::from_static(b"b")).await.unwrap();
    a.all_acknowledged().await;
    b.all_acknowledged().await;
    let mut peeled = within("peeloff", server.peeloff(id_a)).await.unwrap();
    assert_eq!(peeled.assoc_id(), id_a);
    for i in 0..3u32 {
        let m = within("queued", peeled.recv()).await.unwrap();
        assert_eq!((m.ppid, &m.data[..]), (i, format!("a{i}").as_bytes()));
    }
    // b's Up and message stay on the socket; nothing of a's.
    let mut rest = Vec::new();
    while let Some(item) = server.try_next_event() {
        rest.push(item);
    }
    assert!(rest.iter().all(|(id, _)| *id != id_a), "{rest:?}");
    assert!(
        rest.iter()
            .any(|(_, e)| matches!(e, StreamEvent::Message(m) if &m.data[..] == b"b"))
    );
    a.send(0, 3, Bytes::from_static(b"a3")).await.unwrap();
    assert_eq!(
        &within("after", peeled.recv()).await.unwrap().data[..],
        b"a3"
    );
}

/// `close` returns once the shutdown is complete: `Ok` for a graceful end,
/// the reason otherwise.
#[tokio::test]
async fn close_returns_when_the_association_has_ended() {
    let (client, server) = connected(Config::default()).await;
    let (closed, _) = tokio::join!(within("close", client.close()), async {
        let mut server = server;
        while server.next_event().await.is_some() {}
        server
    });
    assert_eq!(closed, Ok(()));

    let (client, mut server) = connected(Config::default()).await;
    server.abort(b"no");
    // The abort has gone (else the client's SHUTDOWN could reach the
    // server first and end the association gracefully).
    while within("abort", server.next_event()).await.is_some() {}
    let closed = within("close", client.close()).await;
    assert!(
        matches!(closed, Err(AssociationError::PeerAborted(_))),
        "{closed:?}"
    );
}

/// The halves of a stream work from different tasks at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_send_and_receive_from_different_tasks() {
    let (client, server) = connected(Config::default()).await;
    let (mut server_rx, server_tx) = server.into_split();
    // The server echoes from two tasks: one reads, one writes.
    let (pass, mut passed) = tokio::sync::mpsc::channel(16);
    let reader = tokio::spawn(async move {
        while let Some(m) = server_rx.recv().await {
            pass.send(m).await.unwrap();
        }
    });
    let writer = tokio::spawn(async move {
        while let Some(m) = passed.recv().await {
            server_tx.send(m.stream, m.ppid, m.data).await.unwrap();
        }
    });
    let (mut rx, tx) = client.into_split();
    let sending = tokio::spawn(async move {
        for i in 0..100u32 {
            tx.send(0, i, Bytes::from(vec![1; 500])).await.unwrap();
        }
        tx
    });
    for i in 0..100u32 {
        assert_eq!(within("echo", rx.recv()).await.unwrap().ppid, i);
    }
    let mut tx = sending.await.unwrap();
    tx.shutdown();
    assert!(within("end", rx.recv()).await.is_none());
    within("reader", reader).await.unwrap();
    within("writer", writer).await.unwrap();
}

/// Status, counters and settings through the API, and settings changed.
#[tokio::test]
async fn status_counters_and_settings_are_readable_and_settable() {
    let (client, mut server) = connected(Config::default()).await;
    client
        .send(0, 0, Bytes::from_static(b"counted"))
        .await
        .unwrap();
    within("message", server.recv()).await.unwrap();
    let status = client.status().await.unwrap();
    assert_eq!(status.state, AssociationState::Established);
    assert_eq!(
        status.outbound_streams,
        client.established().outbound_streams
    );
    assert!(status.primary.is_some());
    let counters = server.counters().await.unwrap();
    assert!(counters.data_chunks_received.0 + counters.data_chunks_received.1 >= 1);
    assert!(counters.packets_received >= 1);
    let mut config = client.config().await.unwrap();
    config.hb_interval = Duration::from_secs(5);
    client.set_config(config).await.unwrap();
    assert_eq!(
        client.config().await.unwrap().hb_interval,
        Duration::from_secs(5)
    );
    let bad = Config::default()
        .with_rto_min(Duration::from_secs(10))
        .with_rto_max(Duration::from_secs(1));
    let e = client.set_config(bad).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
}

/// Misuse gets a clear error and loses nothing: a stream not negotiated,
/// a message larger than allowed, an empty one, and any send once the
/// association has ended.
#[tokio::test]
async fn misuse_is_refused_with_the_reason() {
    let (client, mut server) = connected(Config::default()).await;
    let streams = client.established().outbound_streams;
    let r = client.send(streams, 0, Bytes::from_static(b"x")).await;
    assert_eq!(r, Err(SendError::InvalidStream(streams)));
    let max = Config::default().max_message_size;
    let r = client.send(0, 0, Bytes::from(vec![0; max + 1])).await;
    assert!(matches!(r, Err(SendError::TooLarge { .. })), "{r:?}");
    assert_eq!(
        client.send(0, 0, Bytes::new()).await,
        Err(SendError::EmptyMessage)
    );
    // The association still works.
    assert_carried(&client, &mut server, 0, b"fine").await;
    server.abort(b"bye");
    while within("end", server.next_event()).await.is_some() {}
    let mut client = client;
    while within("client end", client.next_event()).await.is_some() {}
    assert_eq!(
        client.send(0, 0, Bytes::from_static(b"late")).await,
        Err(SendError::NotOpen)
    );
    assert_eq!(client.status().await, None);
}

/// Options that ask for an endpoint of their own get one; the defaults
/// share the process's.
#[tokio::test]
async fn default_clients_share_an_endpoint_and_explicit_ones_do_not() {
    let listener = listener_on(7).await;
    let addr = listener.local_addr();
    let shared1 = SctpStream::connect(addr, 7, ConnectOptions::default())
        .await
        .unwrap();
    let shared2 = SctpStream::connect(addr, 7, ConnectOptions::default())
        .await
        .unwrap();
    let own = SctpStream::connect(addr, 7, from_loopback(Config::default()))
        .await
        .unwrap();
    assert_eq!(shared1.local_addr(), shared2.local_addr());
    assert_ne!(shared1.local_port(), shared2.local_port());
    assert_ne!(own.local_addr(), shared1.local_addr());
}

/// The default send information (SCTP_DEFAULT_SNDINFO) is what writes
/// through `AsyncWrite` and `send_default` go with.
#[tokio::test]
async fn writes_go_with_the_default_send_information() {
    use tokio::io::AsyncWriteExt;
    let (mut client, mut server) = connected(Config::default()).await;
    client.set_default_send_info(
        SendInfo::default()
            .with_stream(2)
            .with_ppid(99)
            .with_unordered(true),
    );
    client.write_all(b"written").await.unwrap();
    client.flush().await.unwrap();
    client
        .send_default(Bytes::from_static(b"sent"))
        .await
        .unwrap();
    for body in [&b"written"[..], b"sent"] {
        let m = within("message", server.recv()).await.unwrap();
        assert_eq!(
            (&m.data[..], m.stream, m.ppid, m.unordered),
            (body, 2, 99, true)
        );
    }
}

/// A read abandoned while waiting (a timeout around `AsyncRead`) does not
/// swallow the wake-up of the next wait.
#[tokio::test]
async fn an_abandoned_read_does_not_hide_the_next_message() {
    use tokio::io::AsyncReadExt;
    let (client, mut server) = connected(Config::default()).await;
    let mut buf = [0; 16];
    let waited = tokio::time::timeout(Duration::from_millis(20), server.read(&mut buf)).await;
    assert!(waited.is_err(), "nothing was sent");
    client
        .send(0, 0, Bytes::from_static(b"later"))
        .await
        .unwrap();
    let m = within("next event", server.next_event()).await;
    assert!(matches!(m, Some(StreamEvent::Message(m)) if &m.data[..] == b"later"));
}

/// A stream dropped with data it never read lets the peer finish: what
/// it held is dropped, its window opens, the peer's data goes and the
/// shutdown completes, well before the linger would end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_unread_lets_its_peer_finish() {
    let small = Config::default().with_receive_window(64 * 1024);
    let (mut client, mut server) = connected_with(small, Config::default()).await;
    server.set_linger(Some(Duration::from_secs(60)));
    for _ in 0..100 {
        client
            .send(0, 0, Bytes::from(vec![3; 10_000]))
            .await
            .unwrap();
    }
    // The server has not read a byte; its window is closed.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dropped = tokio::task::spawn_blocking(move || drop(server));
    within("drop", dropped).await.unwrap();
    while let Some(event) = within("client", client.next_event()).await {
        assert!(matches!(event, StreamEvent::Closed(_)), "{event:?}");
    }
    assert_eq!(client.close_reason(), None, "not a graceful end");
}

/// A `listen` cancelled before its answer was taken (answered already or
/// not) leaves the port free.
#[tokio::test]
async fn a_cancelled_listen_leaves_the_port_free() {
    let endpoint = usctp::Endpoint::bind(loopback(), Default::default()).unwrap();
    for _ in 0..20 {
        let mut listen = Box::pin(endpoint.listen(7, ListenOptions::default()));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        // Polled once (the command goes), then dropped.
        let _ = listen.as_mut().poll(&mut cx);
        drop(listen);
    }
    let listener = within("listen", endpoint.listen(7, ListenOptions::default())).await;
    assert!(listener.is_ok(), "{listener:?}");
}

/// Endpoints whose drivers are tasks on the test's single-threaded
/// runtime: messages cross and both ends close, all on one thread.
#[tokio::test(flavor = "current_thread")]
async fn endpoints_can_run_on_the_callers_runtime() {
    use usctp::socket::EndpointOptions;
    let on_runtime = || EndpointOptions::default().with_on_current_runtime(true);
    let server = usctp::Endpoint::bind(loopback(), on_runtime()).unwrap();
    let client = usctp::Endpoint::bind(loopback(), on_runtime()).unwrap();
    let listener = server.listen(7, ListenOptions::default()).await.unwrap();
    let connect = client.connect(server.local_addr(), 7, ConnectOptions::default());
    let (stream, accepted) = tokio::join!(connect, listener.accept());
    let (stream, (mut peer, _)) = (stream.unwrap(), accepted.unwrap());
    assert_carried(&stream, &mut peer, 1, b"same thread").await;
    let (closed, _) = tokio::join!(within("close", stream.close()), async {
        while peer.next_event().await.is_some() {}
    });
    assert_eq!(closed, Ok(()));
}
