//! What a Linux SCTP program and usctp have to agree on, in safe code:
//!
//! - [`abi`]: the numbers of Linux's SCTP socket interface (`<linux/sctp.h>`,
//!   RFC 6458 as Linux implements it) and the errno values its programs test.
//! - [`addr`]: `sockaddr_in`/`sockaddr_in6` bytes to and from
//!   [`SocketAddr`](std::net::SocketAddr).
//! - [`ipc`]: the messages between the preload shim (`usctp-preload`, inside
//!   the program) and `usctp daemon` (which runs the associations): control
//!   requests and their replies, and the header before each message record
//!   on a socket's UNIX-domain pair.
//!
//! Everything here is plain data; the shim reads it out of the program's
//! memory and the daemon acts on it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod abi;
pub mod addr;
pub mod ipc;
