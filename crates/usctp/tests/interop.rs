//! Interop with the other Rust SCTP stacks, over UDP on loopback:
//! dcSCTP and webrtc-sctp, each as client and as server of usctp.

mod support;

/// Interop with dcSCTP (the `dcsctp` crate, the Rust port of WebRTC's
/// sans-IO SCTP), carried over a tokio UDP socket by this test: handshake,
/// echo on several streams (ordered and unordered, up to 200 KB), and
/// graceful shutdown, with usctp as the server and as the client.
mod dcsctp_peer {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use dcsctp::api::{
        DcSctpSocket, Message, Options, PpId, SendOptions, SocketEvent, SocketState, SocketTime,
        StreamId,
    };
    use tokio::net::UdpSocket;
    use usctp::proto::config::Config;
    use usctp::socket::{ConnectOptions, SctpListener, SctpStream};

    use super::support::within;

    /// A dcSCTP socket and the UDP socket that carries its packets to `peer`.
    struct Dc {
        socket: Box<dyn DcSctpSocket>,
        udp: UdpSocket,
        peer: SocketAddr,
        start: Instant,
        received: Vec<Message>,
        closed: bool,
    }

    #[allow(clippy::disallowed_methods)] // the test drives dcSCTP's clock
    fn now() -> Instant {
        Instant::now()
    }

    impl Dc {
        async fn new(local_port: u16, remote_port: u16, peer: SocketAddr) -> Self {
            let options = Options {
                local_port,
                remote_port,
                ..Options::default()
            };
            Self {
                socket: dcsctp::new_socket("dc", &options),
                udp: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
                peer,
                start: now(),
                received: Vec::new(),
                closed: false,
            }
        }

        fn time(&self) -> SocketTime {
            SocketTime::zero() + self.start.elapsed()
        }

        /// Sends what dcSCTP wants sent and collects what it reports.
        async fn pump(&mut self) {
            while let Some(event) = self.socket.poll_event() {
                match event {
                    SocketEvent::SendPacket(p) => {
                        self.udp.send_to(&p, self.peer).await.unwrap();
                    }
                    SocketEvent::OnClosed() | SocketEvent::OnAborted(..) => self.closed = true,
                    _ => {}
                }
            }
            while let Some(m) = self.socket.get_next_message() {
                self.received.push(m);
            }
        }

        /// Runs dcSCTP until `done` holds (or 10 s pass), answering packets
        /// and timers; the peer address follows where packets come from.
        async fn run_until(&mut self, mut done: impl FnMut(&mut Self) -> bool) {
            let deadline = now() + Duration::from_secs(10);
            let mut buf = vec![0u8; 65_536];
            loop {
                self.pump().await;
                if done(self) {
                    return;
                }
                assert!(now() < deadline, "dcSCTP did not get there in 10 s");
                let timeout = self.socket.poll_timeout();
                let wait = if timeout == SocketTime::infinite_future() {
                    Duration::from_millis(50)
                } else {
                    (timeout - self.time()).min(Duration::from_millis(50))
                };
                if let Ok(Ok((len, from))) =
                    tokio::time::timeout(wait, self.udp.recv_from(&mut buf)).await
                {
                    self.peer = from;
                    self.socket.handle_input(&buf[..len]);
                }
                let t = self.time();
                self.socket.advance_time(t);
            }
        }

        fn send(&mut self, stream: u16, ppid: u32, payload: Vec<u8>, unordered: bool) {
            let options = SendOptions {
                unordered,
                ..SendOptions::default()
            };
            let message = Message::new(StreamId(stream), PpId(ppid), payload);
            self.socket.send(message, &options).unwrap();
        }
    }

    /// The messages both directions carry: several streams, ordered and not,
    /// small and fragmented.
    fn messages() -> Vec<(u16, u32, bool, Vec<u8>)> {
        [
            (0, 10),
            (1, 1200),
            (2, 5000),
            (3, 200_000),
            (1, 70_000),
            (0, 3),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (stream, size))| {
            let body: Vec<u8> = (0..size).map(|b| (b * 31 + i) as u8).collect();
            (stream, 51 + i as u32, i % 2 == 1, body)
        })
        .collect()
    }

    fn sorted(mut v: Vec<(u16, u32, Vec<u8>)>) -> Vec<(u16, u32, Vec<u8>)> {
        v.sort();
        v
    }

    #[tokio::test]
    async fn dcsctp_client_echoes_through_a_usctp_server() {
        let listener = SctpListener::bind("127.0.0.1:0".parse().unwrap(), 5000, Config::default())
            .await
            .unwrap();
        let server_addr = listener.local_addr();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            while let Some(m) = stream.recv().await {
                stream
                    .send_with(m.stream, m.ppid, m.data, m.unordered)
                    .await
                    .unwrap();
            }
            stream.close_reason().cloned()
        });
        let mut dc = Dc::new(5001, 5000, server_addr).await;
        dc.socket.connect();
        dc.run_until(|dc| dc.socket.state() == SocketState::Connected)
            .await;
        let sent = messages();
        for (stream, ppid, unordered, body) in &sent {
            dc.send(*stream, *ppid, body.clone(), *unordered);
        }
        let n = sent.len();
        dc.run_until(|dc| dc.received.len() == n).await;
        let got = dc
            .received
            .iter()
            .map(|m| (m.stream_id.0, m.ppid.0, m.payload.clone()))
            .collect();
        let want = sent
            .iter()
            .map(|(s, p, _, b)| (*s, *p, b.clone()))
            .collect();
        assert_eq!(sorted(got), sorted(want), "every echo, intact");
        // dcSCTP shuts down; usctp sees a graceful close.
        dc.socket.shutdown();
        dc.run_until(|dc| dc.closed).await;
        let reason = within("the server's end", server).await.unwrap();
        assert_eq!(reason, None, "closed gracefully");
    }

    #[tokio::test]
    async fn usctp_client_echoes_through_a_dcsctp_server() {
        let mut dc = Dc::new(7, 5002, "127.0.0.1:9".parse().unwrap()).await;
        let dc_addr = dc.udp.local_addr().unwrap();
        let options = ConnectOptions::default()
            .with_local("127.0.0.1:0".parse().unwrap())
            .with_port(5002);
        let client = tokio::spawn(async move {
            let mut stream = SctpStream::connect(dc_addr, 7, options).await.unwrap();
            let sent = messages();
            for (s, p, unordered, body) in &sent {
                stream
                    .send_with(*s, *p, Bytes::from(body.clone()), *unordered)
                    .await
                    .unwrap();
            }
            let mut got = Vec::new();
            while got.len() < sent.len() {
                let m = stream.recv().await.expect("echo");
                got.push((m.stream, m.ppid, m.data.to_vec()));
            }
            let want = sent
                .iter()
                .map(|(s, p, _, b)| (*s, *p, b.clone()))
                .collect();
            assert_eq!(sorted(got), sorted(want), "every echo, intact");
            // usctp shuts down; it ends gracefully.
            stream.shutdown();
            while stream.recv().await.is_some() {}
            stream.close_reason().cloned()
        });
        // dcSCTP echoes whatever arrives until the association closes.
        let mut echoed = 0;
        dc.run_until(|dc| {
            for m in std::mem::take(&mut dc.received) {
                let unordered = false;
                dc.send(m.stream_id.0, m.ppid.0, m.payload, unordered);
                echoed += 1;
            }
            dc.closed
        })
        .await;
        assert_eq!(echoed, messages().len());
        let reason = within("the client's end", client).await.unwrap();
        assert_eq!(reason, None, "closed gracefully");
    }
}

/// Interop with webrtc-sctp (webrtc-rs), which carries SCTP packets
/// directly in UDP datagrams like RFC 6951: both directions, over loopback.
mod webrtc_peer {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use tokio::net::UdpSocket;
    use usctp::socket::{ConnectOptions, SctpListener, SctpStream};
    use webrtc_sctp::association::{Association, Config};
    use webrtc_sctp::chunk::chunk_payload_data::PayloadProtocolIdentifier;

    use super::support::within;

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
            let (mut s, _) = listener.accept().await.unwrap();
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
        let a = within(
            "handshake",
            Association::client(webrtc_config(conn, "client")),
        )
        .await
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
            let n = within("echo", stream.read(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], &body[..], "message of {size} bytes");
        }
        // A graceful shutdown (webrtc-sctp's `close` just stops, without a
        // word to the peer).
        a.shutdown().await.unwrap();
        let echoed = within("the server's end", server).await.unwrap();
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
        let options = ConnectOptions::default()
            .with_local(client_addr)
            .with_port(PORT);
        let mut client = within("handshake", SctpStream::connect(server_addr, PORT, options))
            .await
            .unwrap();
        client
            .send(1, 51, Bytes::from_static(b"hello webrtc"))
            .await
            .unwrap();
        let reply = within("reply", client.recv()).await.expect("a message");
        assert_eq!(&reply.data[..], b"hello webrtc");
        assert_eq!(reply.stream, 1);
        server.await.unwrap();
    }
}
