//! usctp-proto: the sans-IO core of usctp, SCTP (RFC 9260) over UDP
//! encapsulation (RFC 6951).
//!
//! It does no I/O: it consumes datagrams and time and produces datagrams,
//! timer deadlines and application events, reading no clock and touching no
//! socket:
//!
//! - [`chunk`]: the wire codec (every chunk, parameter and error cause,
//!   CRC32c, bundling);
//! - [`serial`]: RFC 1982 serial numbers;
//! - [`cookie`]: the HMAC-signed state cookie;
//! - [`endpoint`]: SCTP ports and their associations, demultiplexing,
//!   stateless INIT handling;
//! - [`association`]: the RFC 9260 state machine;
//! - [`config`]: protocol parameters with RFC 9260 §16 defaults;
//! - [`arena`]: shared buffers for received datagrams, for drivers;
//! - [`random`]: the CSPRNG the endpoint draws tags, TSNs and keys from.
//!
//! The `usctp` crate drives it over UDP with tokio and offers the socket
//! API; a sans-IO user needs only this crate.
//!
//! # Call order
//!
//! Feed an [`endpoint::Endpoint`] datagrams (`handle`) and expired timers
//! (`handle_timeout`); after each input drain `poll_transmit`, re-arm the
//! timer from `poll_timeout`, then drain `poll_event`.
//!
//! # Parsing a packet
//!
//! ```
//! use bytes::Bytes;
//! use usctp_proto::chunk::{Chunk, CommonHeader, Packet, PacketWriter};
//!
//! // Build a COOKIE ACK packet, then parse it back.
//! let mut buf = Vec::new();
//! let header = CommonHeader { src_port: 5000, dst_port: 13, verification_tag: 0x1234, checksum: 0 };
//! let mut w = PacketWriter::new(&mut buf, header, 1200);
//! w.push(&Chunk::CookieAck).unwrap();
//! w.finish();
//!
//! let packet = Packet::parse(Bytes::from(buf)).unwrap();
//! assert_eq!(packet.header.verification_tag, 0x1234);
//! assert_eq!(packet.chunks, [Chunk::CookieAck]);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// A `tracing` event with the `tracing` feature, nothing without it:
/// `trace!` for what happens per packet (drops and their reasons, each
/// retransmission), `debug!` for what happens to an association (its
/// events: state changes, path changes, the end; T3-rtx expiries).
macro_rules! trace {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        tracing::trace!($($arg)*);
    };
}

macro_rules! debug {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        tracing::debug!($($arg)*);
    };
}

pub mod arena;
pub mod association;
pub mod chunk;
pub mod config;
pub mod cookie;
pub mod endpoint;
pub mod random;
pub mod serial;

pub use association::{
    AssocId, Association, AssociationError, AssociationState, Established, Event, Message,
    SendError, SendOptions, Transmit,
};
pub use config::{Config, ConfigError};
pub use endpoint::{ConnectError, ConnectOptions, Endpoint};

/// Where the unit tests' time starts: the one read of the clock in this
/// crate, test builds only. The code under test never reads it; the tests
/// pass this instant and later ones derived from it as inputs.
#[cfg(test)]
pub(crate) fn test_start() -> std::time::Instant {
    #[allow(clippy::disallowed_methods)]
    std::time::Instant::now()
}

/// Builder methods for a struct of options whose fields are public but
/// which is `#[non_exhaustive]` (so that a field can be added without a
/// breaking release): `with_FIELD(value)` for each field, taking and
/// giving back the struct, as in
/// `Config::default().with_outbound_streams(5).with_rto_min(ms)`.
#[doc(hidden)]
#[macro_export]
macro_rules! with_setters {
    ($ty:ident { $( $(#[$attr:meta])* $setter:ident => $field:ident: $fty:ty ),* $(,)? }) => {
        impl $ty {
            $(
                $(#[$attr])*
                #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ").")]
                #[must_use]
                pub fn $setter(mut self, $field: $fty) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}
