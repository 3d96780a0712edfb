//! Flow control from the wire to the application, through the socket
//! API: a receiver that does not read holds its peer back (the window
//! stays closed until the user takes the data, RFC 9260 §6.2), a message
//! larger than the receive buffer arrives in parts (RFC 6458 §8.1.20), a
//! one-to-many socket bounds what it holds across associations, and a
//! program that exits right after its last send has delivered it (linger).

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::{
    child, connected_with, from_loopback, listener_on, loopback, resident_bytes, within,
};
use usctp::proto::config::Config;
use usctp::socket::{ConnectOptions, ListenOptions, SctpSocket, SctpStream};

/// Message `i` of a sender: its index, then a byte that depends on it.
fn message(i: usize, size: usize) -> Bytes {
    let mut body = vec![(i % 251) as u8; size];
    body[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Bytes::from(body)
}

/// Whether `data` is message `i` of `size` bytes, as `message` made it.
fn is_message(data: &[u8], i: usize, size: usize) -> bool {
    data.len() == size
        && data[..8] == (i as u64).to_le_bytes()
        && data[8..].iter().all(|&b| b == (i % 251) as u8)
}

/// The peer of `a_receiver_that_does_not_read_holds_its_peer_back`, in a
/// process of its own: sends SLOW_READER_MESSAGES messages to
/// SLOW_READER_PEER, then closes.
#[tokio::test]
#[ignore = "run as a child process by the test that needs it"]
async fn slow_reader_peer() {
    let Ok(peer) = std::env::var("SLOW_READER_PEER") else {
        return;
    };
    let count: usize = std::env::var("SLOW_READER_MESSAGES")
        .unwrap()
        .parse()
        .unwrap();
    let size: usize = std::env::var("SLOW_READER_SIZE").unwrap().parse().unwrap();
    let options = from_loopback(Config::default());
    let stream = SctpStream::connect(peer.parse().unwrap(), 7, options)
        .await
        .unwrap();
    for i in 0..count {
        stream.send(0, 0, message(i, size)).await.unwrap();
    }
    stream.close().await.unwrap();
}

/// 300 MB sent to a receiver that reads nothing for 5 s once its window
/// is full: the receiver grows by less than its receive buffer meanwhile (the sender is
/// held back by the closed window, not buffered for), and once it reads,
/// every byte arrives intact and in order. The receiver is a process of
/// its own (`slow_reader`): resident memory is the whole process's, and
/// the other tests of this binary run beside this one.
#[test]
fn a_receiver_that_does_not_read_holds_its_peer_back() {
    let mut receiver = child("slow_reader", &[("SLOW_READER", "1".into())]);
    assert!(
        receiver.wait().unwrap().success(),
        "the slow reader failed (its output is above)"
    );
}

/// The receiver of `a_receiver_that_does_not_read_holds_its_peer_back`,
/// in a process of its own with its sender (`slow_reader_peer`) in
/// another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by the test that needs it"]
async fn slow_reader() {
    if std::env::var("SLOW_READER").is_err() {
        return;
    }
    const SIZE: usize = 30_000;
    const COUNT: usize = 10_000; // 300 MB
    let buffer = Config::default().receive_window as usize;
    let listener = listener_on(7).await;
    let mut sender = child(
        "slow_reader_peer",
        &[
            ("SLOW_READER_PEER", listener.local_addr().to_string()),
            ("SLOW_READER_MESSAGES", COUNT.to_string()),
            ("SLOW_READER_SIZE", SIZE.to_string()),
        ],
    );
    let (mut stream, _) = within("accept", listener.accept()).await.unwrap();
    // The window fills within a fraction of a second on a quiet machine;
    // wait until DATA stops arriving (a zero-window probe may still come
    // now and then), for at most 20 s.
    let taken_in =
        |c: &usctp::socket::Counters| c.data_chunks_received.0 + c.data_chunks_received.1;
    let mut last = taken_in(&stream.counters().await.unwrap());
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = taken_in(&stream.counters().await.unwrap());
        if now.saturating_sub(last) <= 1 {
            break;
        }
        last = now;
    }
    let before = resident_bytes();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let grown = resident_bytes().saturating_sub(before);
    let received = taken_in(&stream.counters().await.unwrap());
    eprintln!("resident growth while not reading: {grown} bytes (receive buffer {buffer})");
    assert!(
        grown < buffer,
        "grew by {grown} bytes while not reading (receive buffer {buffer})"
    );
    assert!(
        (received as usize) * 1200 < 4 * buffer,
        "{received} DATA chunks taken in while nothing was read"
    );
    for i in 0..COUNT {
        let m = within("message", stream.recv()).await.expect("a message");
        assert!(m.end_of_record);
        assert!(
            is_message(&m.data, i, SIZE),
            "message {i} damaged or out of order"
        );
    }
    assert!(within("close", stream.recv()).await.is_none());
    assert_eq!(stream.close_reason(), None);
    assert!(sender.wait().unwrap().success());
}

/// A 3 MB message to a receiver with a 256 KiB buffer: it arrives in
/// parts of at most the partial delivery point, the last one marked
/// end-of-record, and the parts make up the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_the_receive_buffer_arrives_in_parts() {
    let receiver = Config::default()
        .with_receive_window(256 * 1024)
        .with_partial_delivery_point(Some(64 * 1024))
        .with_max_message_size(4 << 20);
    let sender = Config::default()
        .with_max_message_size(4 << 20)
        .with_send_buffer(4 << 20);
    let (client, mut server) = connected_with(receiver, sender).await;
    let body: Bytes = (0..3 << 20)
        .map(|i: u32| (i % 253) as u8)
        .collect::<Vec<u8>>()
        .into();
    let sent = body.clone();
    let send = tokio::spawn(async move {
        client.send(3, 77, sent).await.unwrap();
        client
    });
    let mut whole = Vec::new();
    let mut parts = 0;
    loop {
        let m = within("part", server.recv()).await.expect("a part");
        assert_eq!((m.stream, m.ppid), (3, 77));
        assert!(
            m.data.len() <= 256 * 1024,
            "a part of {} bytes",
            m.data.len()
        );
        whole.extend_from_slice(&m.data);
        parts += 1;
        if m.end_of_record {
            break;
        }
    }
    assert!(parts > 1, "delivered whole");
    assert_eq!(whole.len(), body.len());
    assert!(whole == body[..], "the parts do not make up the message");
    // The next message starts a record of its own.
    let client = send.await.unwrap();
    client
        .send(0, 1, Bytes::from_static(b"after"))
        .await
        .unwrap();
    let m = within("after", server.recv()).await.unwrap();
    assert!(m.end_of_record);
    assert_eq!(&m.data[..], b"after");
}

/// A one-to-many socket that is not read holds at most about its receive
/// buffer across its associations; what the peers sent is all there once
/// it reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_to_many_socket_bounds_what_it_holds() {
    const SIZE: usize = 20_000;
    const EACH: usize = 300; // 6 MB from each of three peers
    let options = ListenOptions::default().with_receive_buffer(256 * 1024);
    let mut socket = SctpSocket::bind(loopback(), 9, options).await.unwrap();
    let addr = socket.local_addr();
    let mut peers = Vec::new();
    for p in 0..3u16 {
        peers.push(tokio::spawn(async move {
            let stream = SctpStream::connect(addr, 9, from_loopback(Config::default()))
                .await
                .unwrap();
            for i in 0..EACH {
                stream.send(p, 0, message(i, SIZE)).await.unwrap();
            }
            stream
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Every peer is held back: none could hand all its messages over.
    assert!(peers.iter().all(|p| !p.is_finished()));
    let mut next = [0usize; 3];
    while next.iter().sum::<usize>() < 3 * EACH {
        let (_, m) = within("message", socket.recv_from()).await.unwrap();
        let p = usize::from(m.stream);
        assert!(
            is_message(&m.data, next[p], SIZE),
            "peer {p} message {}",
            next[p]
        );
        next[p] += 1;
    }
    for p in peers {
        within("sender", p).await.unwrap();
    }
}

/// The peer of `a_program_that_exits_after_its_last_send_has_delivered_it`:
/// sends LINGER_MESSAGES messages to LINGER_PEER and returns at once, the
/// stream dropped and the process ending.
#[tokio::test]
#[ignore = "run as a child process by the test that needs it"]
async fn exiting_sender() {
    let Ok(peer) = std::env::var("LINGER_PEER") else {
        return;
    };
    let count: usize = std::env::var("LINGER_MESSAGES").unwrap().parse().unwrap();
    let options = ConnectOptions::default().with_local(loopback());
    let stream = SctpStream::connect(peer.parse().unwrap(), 7, options)
        .await
        .unwrap();
    for i in 0..count {
        stream.send(1, 9, message(i, 10_000)).await.unwrap();
    }
}

/// A process that sends 20 MB and exits right away (dropping its stream
/// with the default linger) has delivered every byte, and its association
/// ends gracefully.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_exits_after_its_last_send_has_delivered_it() {
    const COUNT: usize = 2_000;
    let listener = listener_on(7).await;
    let mut sender = child(
        "exiting_sender",
        &[
            ("LINGER_PEER", listener.local_addr().to_string()),
            ("LINGER_MESSAGES", COUNT.to_string()),
        ],
    );
    let (mut stream, _) = within("accept", listener.accept()).await.unwrap();
    for i in 0..COUNT {
        let m = within("message", stream.recv()).await.expect("a message");
        assert!(is_message(&m.data, i, 10_000), "message {i}");
    }
    assert!(within("close", stream.recv()).await.is_none());
    assert_eq!(stream.close_reason(), None, "not a graceful end");
    assert!(sender.wait().unwrap().success());
}
