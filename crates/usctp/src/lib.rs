//! usctp: SCTP (RFC 9260) in user space over UDP encapsulation (RFC 6951).
//!
//! This crate runs the sans-IO core of [`usctp_proto`] (re-exported as
//! [`proto`]) over UDP sockets with tokio, and offers an lksctp-style
//! socket API on top:
//!
//! - [`Endpoint`]: the UDP socket(s) every SCTP port and association of
//!   an endpoint share, driven by a thread of its own or by a task on the
//!   caller's runtime;
//! - [`socket`]: one-to-one ([`socket::SctpListener`],
//!   [`socket::SctpStream`]) and one-to-many ([`socket::SctpSocket`])
//!   sockets, with notifications, send and receive information, and flow
//!   control that reaches the peer;
//! - [`capture`] (feature `pcap`): recording datagrams to pcap files and
//!   reading them back.
//!
//! The driver (`driver`) is the only code that reads a clock or touches a
//! socket.
//!
//! ```no_run
//! use bytes::Bytes;
//! use usctp::Config;
//! use usctp::socket::{ConnectOptions, SctpStream};
//!
//! # async fn daytime() -> std::io::Result<()> {
//! // A daytime server as `usctp daytime-server` runs it: UDP 9899, SCTP port 13.
//! let config = Config::default()
//!     .with_outbound_streams(5)
//!     .with_max_inbound_streams(5);
//! let options = ConnectOptions::default().with_config(config);
//! let server = "127.0.0.1:9899".parse().unwrap();
//! let mut stream = SctpStream::connect(server, 13, options).await?;
//! while let Some(message) = stream.recv().await {
//!     let text = String::from_utf8_lossy(&message.data);
//!     println!("stream {}: {text}", message.stream);
//! }
//! stream.send(0, 0, Bytes::from_static(b"thanks")).await.ok();
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use usctp_proto as proto;
pub use usctp_proto::association::{
    AssocId, AssociationError, AssociationState, Established, Message, PathChange, PathInfo,
    PathState, SendError, Unsent,
};
pub use usctp_proto::config::{Config, ConfigError};

#[cfg(feature = "pcap")]
pub mod capture;
mod driver;
mod endpoint;
mod error;
mod inbox;
pub mod socket;

pub use endpoint::Endpoint;
pub use error::Unreachable;
