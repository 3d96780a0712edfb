//! The socket API's checks of what it is given.

use std::io;
use std::net::SocketAddr;

use usctp::Config;
use usctp::socket::{ListenOptions, SctpListener, SctpSocket};

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
