//! One endpoint, many associations: 1,000 client associations of one
//! process, each with an SCTP port of its own, run over one UDP socket (as
//! RFC 6951's single encapsulation port has it). A test binary of its own:
//! it counts the process's sockets, which no other test may open meanwhile.

mod support;

use bytes::Bytes;
use support::{loopback, within};
use usctp::proto::config::Config;
use usctp::socket::{ConnectOptions, ListenOptions, SctpSocket, SctpStream};

/// Sockets the process has open.
fn sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_client_associations_share_one_udp_socket() {
    const N: usize = 1_000;
    let mut server = SctpSocket::bind(loopback(), 7, ListenOptions::default())
        .await
        .unwrap();
    let addr = server.local_addr();
    let echo = tokio::spawn(async move {
        let mut echoed = 0;
        while echoed < N {
            let (id, m) = server.recv_from().await.unwrap();
            server
                .send(id, m.stream, m.ppid, m.data, false)
                .await
                .unwrap();
            echoed += 1;
        }
        server
    });
    let before = sockets();
    let mut clients = Vec::with_capacity(N);
    for _ in 0..N {
        // The default options: the process's shared endpoint.
        let options = ConnectOptions::default().with_config(Config::default());
        clients.push(
            within("connect", SctpStream::connect(addr, 7, options))
                .await
                .unwrap(),
        );
    }
    let opened = sockets() - before;
    assert_eq!(opened, 1, "{N} associations opened {opened} sockets");
    let local = clients[0].local_addr();
    assert!(clients.iter().all(|c| c.local_addr() == local));
    let mut ports: Vec<u16> = clients.iter().map(|c| c.local_port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), N, "SCTP ports shared between associations");
    // Every association works.
    for (i, c) in clients.iter().enumerate() {
        c.send(0, i as u32, Bytes::from(format!("{i}")))
            .await
            .unwrap();
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let m = within("echo", c.recv()).await.unwrap();
        assert_eq!(m.ppid, i as u32);
        assert_eq!(m.data, format!("{i}").as_bytes());
    }
    let _server = within("server", echo).await.unwrap();
    for c in clients {
        within("close", c.close()).await.unwrap();
    }
}
