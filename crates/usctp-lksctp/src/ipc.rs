//! The preload shim and `usctp daemon` talk in two ways.
//!
//! **Control requests** (socket, bind, listen, connect, socket options,
//! names) go over a connection to the daemon's UNIX-domain socket, one
//! connection per request, so that any process holding an SCTP fd (a fork
//! child, a signal handler) can make one without shared state. A request
//! names its socket by the inode of the program's end of the socket's pair
//! (the same across `dup` and `fork`). Each message is a `u32` length and
//! the body; a reply may carry one fd (`SCM_RIGHTS`): the program's end of a
//! new socket's pair.
//!
//! **Messages** go over the socket's own `AF_UNIX` `SOCK_SEQPACKET` pair:
//! each record is a [`Header`] of [`HEADER_LEN`] bytes and the payload, so
//! the kernel gives the program a real fd with blocking, `O_NONBLOCK`,
//! poll/select/epoll, `dup` and `fork` as for any socket. On a listening
//! socket each record announces an accepted association, its fd attached.

use std::net::SocketAddr;

use crate::abi::SendParams;
use crate::addr;

/// The environment variable with the peers' UDP port for associations the
/// program starts (RFC 6951's destination port), if not the daemon's.
pub const REMOTE_UDP_PORT_ENV: &str = "USCTP_REMOTE_UDP_PORT";

/// The environment variable naming the daemon's socket: an abstract
/// UNIX-domain name, or a path if it starts with `/`.
pub const DAEMON_ENV: &str = "USCTP_DAEMON";

/// The daemon's default socket name for user `uid` and UDP port
/// `udp_port` (abstract, so per network namespace like the UDP port).
pub fn default_daemon_name(uid: u32, udp_port: u16) -> String {
    format!("usctp-{uid}-{udp_port}")
}

/// Control operations.
#[allow(missing_docs)]
pub mod op {
    /// `a`: domain, `b`: type (SOCK_STREAM or SOCK_SEQPACKET), `c`: the
    /// peers' UDP port for associations it starts (0: the daemon's
    /// default). Replies with the new socket's inode in `value` and its fd
    /// attached.
    pub const SOCKET: u32 = 1;
    /// `data`: the packed addresses (bind, or sctp_bindx with `a` = 1 to
    /// add, 2 to remove).
    pub const BIND: u32 = 2;
    /// `a`: the backlog.
    pub const LISTEN: u32 = 3;
    /// `data`: the packed peer addresses, `a`: 1 if the fd is
    /// non-blocking, `b`: 1 when sctp_connectx asks (the association id is
    /// returned in `value`).
    pub const CONNECT: u32 = 4;
    /// `a`: level, `b`: name, `c`: the caller's buffer length, `data`: the
    /// buffer's bytes (some options read an association id from it). The
    /// reply's `data` is what to copy back; peeloff attaches an fd.
    pub const GETSOCKOPT: u32 = 5;
    /// `a`: level, `b`: name, `data`: the option's bytes.
    pub const SETSOCKOPT: u32 = 6;
    /// The local address, in `data`.
    pub const SOCKNAME: u32 = 7;
    /// The peer's address, in `data`.
    pub const PEERNAME: u32 = 8;
}

/// In a record from the program, the `errno` field's bit saying the
/// message came with SCTP_SNDRCV or SCTP_SNDINFO (otherwise the socket's
/// default send parameters apply).
pub const SEND_WITH_PARAMS: i32 = 1;

/// Requests and replies are at most this long.
pub const MAX_MESSAGE: usize = 1 << 20;

/// A control request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// One of [`op`].
    pub op: u32,
    /// The socket, by the inode of the program's end of its pair (0 for
    /// SOCKET).
    pub ino: u64,
    /// Arguments, as the op says.
    pub a: i32,
    /// Arguments, as the op says.
    pub b: i32,
    /// Arguments, as the op says.
    pub c: i32,
    /// [`flags`] bits.
    pub flags: u32,
    /// Bytes, as the op says.
    pub data: Vec<u8>,
}

/// Bits of [`Request::flags`].
pub mod flags {
    /// The program has records it has not read yet on this socket: what it
    /// sees of the association lags behind it (an association that ended
    /// behind those records still shows as it was).
    pub const UNREAD: u32 = 1;
}

const REQUEST_FIXED: usize = 28;
const REPLY_FIXED: usize = 12;

impl Request {
    /// The request with its length prefix.
    pub fn encode(&self) -> Vec<u8> {
        let body = REQUEST_FIXED + self.data.len();
        let mut b = Vec::with_capacity(4 + body);
        b.extend_from_slice(&(body as u32).to_ne_bytes());
        b.extend_from_slice(&self.op.to_ne_bytes());
        b.extend_from_slice(&self.ino.to_ne_bytes());
        b.extend_from_slice(&self.a.to_ne_bytes());
        b.extend_from_slice(&self.b.to_ne_bytes());
        b.extend_from_slice(&self.c.to_ne_bytes());
        b.extend_from_slice(&self.flags.to_ne_bytes());
        b.extend_from_slice(&self.data);
        b
    }

    /// Reads a request's body (after the length prefix).
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() < REQUEST_FIXED {
            return None;
        }
        let i32_at = |at: usize| i32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
        Some(Self {
            op: u32::from_ne_bytes(b[0..4].try_into().unwrap()),
            ino: u64::from_ne_bytes(b[4..12].try_into().unwrap()),
            a: i32_at(12),
            b: i32_at(16),
            c: i32_at(20),
            flags: u32::from_ne_bytes(b[24..28].try_into().unwrap()),
            data: b[REQUEST_FIXED..].to_vec(),
        })
    }
}

/// A control reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// 0, or the errno the call fails with.
    pub errno: i32,
    /// A result, as the op says.
    pub value: i64,
    /// Bytes, as the op says.
    pub data: Vec<u8>,
}

impl Reply {
    /// A failure with `errno`.
    pub fn error(errno: i32) -> Self {
        Self {
            errno,
            ..Self::default()
        }
    }

    /// The reply with its length prefix.
    pub fn encode(&self) -> Vec<u8> {
        let body = REPLY_FIXED + self.data.len();
        let mut b = Vec::with_capacity(4 + body);
        b.extend_from_slice(&(body as u32).to_ne_bytes());
        b.extend_from_slice(&self.errno.to_ne_bytes());
        b.extend_from_slice(&self.value.to_ne_bytes());
        b.extend_from_slice(&self.data);
        b
    }

    /// Reads a reply's body (after the length prefix).
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() < REPLY_FIXED {
            return None;
        }
        Some(Self {
            errno: i32::from_ne_bytes(b[0..4].try_into().unwrap()),
            value: i64::from_ne_bytes(b[4..12].try_into().unwrap()),
            data: b[REPLY_FIXED..].to_vec(),
        })
    }
}

/// The length of a record's header.
pub const HEADER_LEN: usize = 72;

/// What a record is.
#[allow(missing_docs)]
pub mod kind {
    /// A message (or a part of one).
    pub const DATA: u8 = 1;
    /// A notification (the payload is Linux's `union sctp_notification`).
    pub const NOTIFICATION: u8 = 2;
    /// On a listening socket: an accepted association, its fd attached,
    /// its inode in `ino`.
    pub const ACCEPTED: u8 = 3;
    /// The association failed: reads and writes fail with `errno`.
    pub const ERROR: u8 = 4;
}

/// The header of a record on a socket's pair, either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// One of [`kind`].
    pub kind: u8,
    /// The last part of a message.
    pub eor: bool,
    /// Stream, flags, PPID, context and association.
    pub params: SendParams,
    /// The stream sequence number (received messages).
    pub ssn: u16,
    /// The TSN (received messages).
    pub tsn: u32,
    /// The cumulative TSN (received messages).
    pub cumtsn: u32,
    /// The peer's address as the program's socket lays it out; length 0
    /// if none.
    pub addr: [u8; addr::MAX_LEN],
    /// How many bytes of `addr` are the address.
    pub addr_len: u32,
    /// ERROR: the errno.
    pub errno: i32,
    /// ACCEPTED: the new socket's inode.
    pub ino: u64,
}

impl Default for Header {
    fn default() -> Self {
        Self {
            kind: kind::DATA,
            eor: true,
            params: SendParams::default(),
            ssn: 0,
            tsn: 0,
            cumtsn: 0,
            addr: [0; addr::MAX_LEN],
            addr_len: 0,
            errno: 0,
            ino: 0,
        }
    }
}

impl Header {
    /// Sets the address as a socket of `family` shows it.
    pub fn with_addr(mut self, address: SocketAddr, family: i32) -> Self {
        let (b, len) = addr::encode(address, family);
        self.addr = b;
        self.addr_len = len as u32;
        self
    }

    /// The address's bytes (at most [`addr::MAX_LEN`], whatever
    /// `addr_len` says).
    pub fn addr_bytes(&self) -> &[u8] {
        &self.addr[..(self.addr_len as usize).min(addr::MAX_LEN)]
    }

    /// The address, if any.
    pub fn address(&self) -> Option<SocketAddr> {
        let len = (self.addr_len as usize).min(addr::MAX_LEN);
        addr::decode(&self.addr[..len]).map(|(a, _)| a)
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = self.kind;
        b[1] = self.eor as u8;
        b[2..4].copy_from_slice(&self.params.flags.to_ne_bytes());
        b[4..6].copy_from_slice(&self.params.stream.to_ne_bytes());
        b[6..8].copy_from_slice(&self.ssn.to_ne_bytes());
        b[8..12].copy_from_slice(&self.params.ppid.to_ne_bytes());
        b[12..16].copy_from_slice(&self.params.context.to_ne_bytes());
        b[16..20].copy_from_slice(&self.tsn.to_ne_bytes());
        b[20..24].copy_from_slice(&self.cumtsn.to_ne_bytes());
        b[24..28].copy_from_slice(&self.params.assoc_id.to_ne_bytes());
        b[28..32].copy_from_slice(&self.addr_len.to_ne_bytes());
        b[32..60].copy_from_slice(&self.addr);
        b[60..64].copy_from_slice(&self.errno.to_ne_bytes());
        b[64..72].copy_from_slice(&self.ino.to_ne_bytes());
        b
    }

    /// Reads a header.
    pub fn decode(b: &[u8; HEADER_LEN]) -> Self {
        let u16_at = |at: usize| u16::from_ne_bytes([b[at], b[at + 1]]);
        let u32_at = |at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
        let mut addr = [0u8; addr::MAX_LEN];
        addr.copy_from_slice(&b[32..60]);
        Self {
            kind: b[0],
            eor: b[1] != 0,
            params: SendParams {
                flags: u16_at(2),
                stream: u16_at(4),
                ppid: u32_at(8),
                context: u32_at(12),
                assoc_id: u32_at(24) as i32,
            },
            ssn: u16_at(6),
            tsn: u32_at(16),
            cumtsn: u32_at(20),
            addr_len: u32_at(28),
            addr,
            errno: u32_at(60) as i32,
            ino: u64::from_ne_bytes(b[64..72].try_into().unwrap()),
        }
    }

    /// The `struct sctp_rcvinfo` bytes of a received message.
    pub fn rcvinfo(&self) -> [u8; crate::abi::RCVINFO_LEN] {
        let mut b = [0u8; crate::abi::RCVINFO_LEN];
        b[0..2].copy_from_slice(&self.params.stream.to_ne_bytes());
        b[2..4].copy_from_slice(&self.ssn.to_ne_bytes());
        b[4..6].copy_from_slice(&self.params.flags.to_ne_bytes());
        b[8..12].copy_from_slice(&self.params.ppid.to_ne_bytes());
        b[12..16].copy_from_slice(&self.tsn.to_ne_bytes());
        b[16..20].copy_from_slice(&self.cumtsn.to_ne_bytes());
        b[20..24].copy_from_slice(&self.params.context.to_ne_bytes());
        b[24..28].copy_from_slice(&self.params.assoc_id.to_ne_bytes());
        b
    }

    /// The `struct sctp_sndrcvinfo` bytes of a received message.
    pub fn sndrcvinfo(&self) -> [u8; crate::abi::SNDRCVINFO_LEN] {
        let mut b = self.params.sndrcvinfo();
        b[2..4].copy_from_slice(&self.ssn.to_ne_bytes());
        b[20..24].copy_from_slice(&self.tsn.to_ne_bytes());
        b[24..28].copy_from_slice(&self.cumtsn.to_ne_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_replies_and_headers_round_trip() {
        let request = Request {
            op: op::GETSOCKOPT,
            ino: 0x1234_5678_9abc,
            a: 132,
            b: 14,
            c: 176,
            flags: flags::UNREAD,
            data: vec![7; 176],
        };
        let b = request.encode();
        assert_eq!(
            u32::from_ne_bytes(b[..4].try_into().unwrap()) as usize,
            b.len() - 4
        );
        assert_eq!(Request::decode(&b[4..]), Some(request));
        assert_eq!(Request::decode(&b[4..20]), None);

        let reply = Reply {
            errno: 0,
            value: -3,
            data: vec![1, 2, 3],
        };
        assert_eq!(Reply::decode(&reply.encode()[4..]), Some(reply));
        assert_eq!(Reply::decode(&[0; 11]), None);

        let peer: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let header = Header {
            kind: kind::NOTIFICATION,
            eor: false,
            params: SendParams {
                stream: 3,
                flags: crate::abi::flags::UNORDERED,
                ppid: 0x0100_0000,
                context: 9,
                assoc_id: 4,
            },
            ssn: 77,
            tsn: 1000,
            cumtsn: 999,
            errno: 104,
            ino: 42,
            ..Header::default()
        }
        .with_addr(peer, addr::AF_INET);
        let decoded = Header::decode(&header.encode());
        assert_eq!(decoded, header);
        assert_eq!(decoded.address(), Some(peer));
        let info = decoded.sndrcvinfo();
        assert_eq!(SendParams::from_sndrcvinfo(&info), Some(header.params));
        assert_eq!(u16::from_ne_bytes([info[2], info[3]]), 77);
        assert_eq!(&decoded.rcvinfo()[24..28], &4i32.to_ne_bytes());
    }
}
