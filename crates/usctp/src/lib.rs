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

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use usctp_proto as proto;
pub use usctp_proto::association::{
    AssocId, AssociationError, AssociationState, Established, Message, PathChange, PathInfo,
    PathState, SendError, Unsent,
};
pub use usctp_proto::config::Config;

#[cfg(feature = "pcap")]
pub mod capture;
mod driver;
mod endpoint;
mod error;
mod inbox;
pub mod socket;

pub use endpoint::Endpoint;
pub use error::Unreachable;
