//! Linux's SCTP socket interface: option names, control-message types,
//! flags, states and errno values, with the layouts of the structures the
//! shim reads itself. Values as in `<linux/sctp.h>` and `<asm-generic/errno.h>`.

/// IPPROTO_SCTP, also the socket option level SOL_SCTP.
pub const IPPROTO_SCTP: i32 = 132;
/// The socket option level of SCTP options.
pub const SOL_SCTP: i32 = 132;

/// Socket option names at level SOL_SCTP.
#[allow(missing_docs)]
pub mod opt {
    pub const RTOINFO: i32 = 0;
    pub const ASSOCINFO: i32 = 1;
    pub const INITMSG: i32 = 2;
    pub const NODELAY: i32 = 3;
    pub const AUTOCLOSE: i32 = 4;
    pub const SET_PEER_PRIMARY_ADDR: i32 = 5;
    pub const PRIMARY_ADDR: i32 = 6;
    pub const ADAPTATION_LAYER: i32 = 7;
    pub const DISABLE_FRAGMENTS: i32 = 8;
    pub const PEER_ADDR_PARAMS: i32 = 9;
    pub const DEFAULT_SEND_PARAM: i32 = 10;
    pub const EVENTS: i32 = 11;
    pub const I_WANT_MAPPED_V4_ADDR: i32 = 12;
    pub const MAXSEG: i32 = 13;
    pub const STATUS: i32 = 14;
    pub const GET_PEER_ADDR_INFO: i32 = 15;
    pub const DELAYED_ACK_TIME: i32 = 16;
    pub const CONTEXT: i32 = 17;
    pub const FRAGMENT_INTERLEAVE: i32 = 18;
    pub const PARTIAL_DELIVERY_POINT: i32 = 19;
    pub const MAX_BURST: i32 = 20;
    pub const GET_ASSOC_NUMBER: i32 = 28;
    pub const GET_ASSOC_ID_LIST: i32 = 29;
    pub const RECVRCVINFO: i32 = 32;
    pub const RECVNXTINFO: i32 = 33;
    pub const DEFAULT_SNDINFO: i32 = 34;
    pub const REUSE_PORT: i32 = 36;
    pub const BINDX_ADD: i32 = 100;
    pub const BINDX_REM: i32 = 101;
    pub const PEELOFF: i32 = 102;
    pub const CONNECTX_OLD: i32 = 107;
    pub const GET_PEER_ADDRS: i32 = 108;
    pub const GET_LOCAL_ADDRS: i32 = 109;
    pub const CONNECTX: i32 = 110;
    pub const CONNECTX3: i32 = 111;
    pub const GET_ASSOC_STATS: i32 = 112;
    pub const PEELOFF_FLAGS: i32 = 122;
    pub const EVENT: i32 = 127;
}

/// Control-message types at level SOL_SCTP (RFC 6458 §5.3).
#[allow(missing_docs)]
pub mod cmsg {
    pub const INIT: i32 = 0;
    pub const SNDRCV: i32 = 1;
    pub const SNDINFO: i32 = 2;
    pub const RCVINFO: i32 = 3;
    pub const NXTINFO: i32 = 4;
    pub const PRINFO: i32 = 5;
    pub const AUTHINFO: i32 = 6;
    pub const DSTADDRV4: i32 = 7;
    pub const DSTADDRV6: i32 = 8;
}

/// `sinfo_flags`/`snd_flags` bits.
#[allow(missing_docs)]
pub mod flags {
    pub const UNORDERED: u16 = 1;
    pub const ADDR_OVER: u16 = 2;
    pub const ABORT: u16 = 4;
    pub const SACK_IMMEDIATELY: u16 = 8;
    pub const SENDALL: u16 = 0x40;
    /// SCTP_EOF (MSG_FIN).
    pub const EOF: u16 = 0x200;
}

/// `msg_flags` bits of a received message.
pub const MSG_NOTIFICATION: i32 = 0x8000;
/// The message is complete.
pub const MSG_EOR: i32 = 0x80;

/// `sstat_state` (Linux's `enum sctp_sstat_state`).
#[allow(missing_docs)]
pub mod state {
    pub const CLOSED: i32 = 1;
    pub const COOKIE_WAIT: i32 = 2;
    pub const COOKIE_ECHOED: i32 = 3;
    pub const ESTABLISHED: i32 = 4;
    pub const SHUTDOWN_PENDING: i32 = 5;
    pub const SHUTDOWN_SENT: i32 = 6;
    pub const SHUTDOWN_RECEIVED: i32 = 7;
    pub const SHUTDOWN_ACK_SENT: i32 = 8;
}

/// Notification types (`enum sctp_sn_type`).
#[allow(missing_docs)]
pub mod notification {
    pub const ASSOC_CHANGE: u16 = 0x8001;
    pub const PEER_ADDR_CHANGE: u16 = 0x8002;
    pub const SEND_FAILED: u16 = 0x8003;
    pub const REMOTE_ERROR: u16 = 0x8004;
    pub const SHUTDOWN_EVENT: u16 = 0x8005;
    pub const PARTIAL_DELIVERY_EVENT: u16 = 0x8006;
    pub const ADAPTATION_INDICATION: u16 = 0x8007;
    pub const SENDER_DRY_EVENT: u16 = 0x8009;
    pub const SEND_FAILED_EVENT: u16 = 0x800e;

    /// `sac_state` of SCTP_ASSOC_CHANGE.
    pub const COMM_UP: u16 = 0;
    pub const COMM_LOST: u16 = 1;
    pub const RESTART: u16 = 2;
    pub const SHUTDOWN_COMP: u16 = 3;
    pub const CANT_STR_ASSOC: u16 = 4;

    /// `spc_state` of SCTP_PEER_ADDR_CHANGE.
    pub const ADDR_AVAILABLE: i32 = 0;
    pub const ADDR_UNREACHABLE: i32 = 1;
    pub const ADDR_MADE_PRIM: i32 = 4;
    pub const ADDR_CONFIRMED: i32 = 5;
    pub const ADDR_POTENTIALLY_FAILED: i32 = 6;
}

/// Linux errno values.
#[allow(missing_docs)]
pub mod errno {
    pub const EPERM: i32 = 1;
    pub const EINTR: i32 = 4;
    pub const EIO: i32 = 5;
    pub const EBADF: i32 = 9;
    pub const EAGAIN: i32 = 11;
    pub const ENOMEM: i32 = 12;
    pub const EFAULT: i32 = 14;
    pub const EINVAL: i32 = 22;
    pub const EPIPE: i32 = 32;
    pub const EMSGSIZE: i32 = 90;
    pub const ENOPROTOOPT: i32 = 92;
    pub const EPROTONOSUPPORT: i32 = 93;
    pub const ESOCKTNOSUPPORT: i32 = 94;
    pub const EOPNOTSUPP: i32 = 95;
    pub const EAFNOSUPPORT: i32 = 97;
    pub const EADDRINUSE: i32 = 98;
    pub const EADDRNOTAVAIL: i32 = 99;
    pub const ENETUNREACH: i32 = 101;
    pub const ECONNABORTED: i32 = 103;
    pub const ECONNRESET: i32 = 104;
    pub const EISCONN: i32 = 106;
    pub const ENOTCONN: i32 = 107;
    pub const ETIMEDOUT: i32 = 110;
    pub const ECONNREFUSED: i32 = 111;
    pub const EHOSTUNREACH: i32 = 113;
    pub const EALREADY: i32 = 114;
    pub const EINPROGRESS: i32 = 115;
}

/// What a sent message's control messages say (`sctp_sndrcvinfo`,
/// `sctp_sndinfo`), in host numbers except the PPID, which Linux passes
/// through as the bytes the program stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendParams {
    /// The stream.
    pub stream: u16,
    /// `SCTP_UNORDERED`, `SCTP_EOF`, `SCTP_ABORT`, … (the [`flags`] bits).
    pub flags: u16,
    /// The PPID as stored in the program's memory (network order by
    /// convention).
    pub ppid: u32,
    /// The context returned if the message is not delivered.
    pub context: u32,
    /// The association (one-to-many sockets).
    pub assoc_id: i32,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl SendParams {
    /// Reads an `SCTP_SNDRCV` control message's data (`struct
    /// sctp_sndrcvinfo`, 32 bytes).
    pub fn from_sndrcvinfo(b: &[u8]) -> Option<Self> {
        (b.len() >= SNDRCVINFO_LEN).then(|| Self {
            stream: u16_at(b, 0),
            flags: u16_at(b, 4),
            ppid: u32_at(b, 8),
            context: u32_at(b, 12),
            assoc_id: u32_at(b, 28) as i32,
        })
    }

    /// Reads an `SCTP_SNDINFO` control message's data (`struct
    /// sctp_sndinfo`, 16 bytes).
    pub fn from_sndinfo(b: &[u8]) -> Option<Self> {
        (b.len() >= 16).then(|| Self {
            stream: u16_at(b, 0),
            flags: u16_at(b, 2),
            ppid: u32_at(b, 4),
            context: u32_at(b, 8),
            assoc_id: u32_at(b, 12) as i32,
        })
    }

    /// The `struct sctp_sndrcvinfo` bytes of these parameters.
    pub fn sndrcvinfo(&self) -> [u8; SNDRCVINFO_LEN] {
        let mut b = [0u8; SNDRCVINFO_LEN];
        b[0..2].copy_from_slice(&self.stream.to_ne_bytes());
        b[4..6].copy_from_slice(&self.flags.to_ne_bytes());
        b[8..12].copy_from_slice(&self.ppid.to_ne_bytes());
        b[12..16].copy_from_slice(&self.context.to_ne_bytes());
        b[28..32].copy_from_slice(&self.assoc_id.to_ne_bytes());
        b
    }
}

/// `sizeof(struct sctp_sndrcvinfo)`.
pub const SNDRCVINFO_LEN: usize = 32;
/// `sizeof(struct sctp_rcvinfo)`.
pub const RCVINFO_LEN: usize = 28;
/// `sizeof(struct sctp_event_subscribe)` (Linux 5.x and later; older
/// programs pass fewer bytes, which Linux accepts).
pub const EVENT_SUBSCRIBE_LEN: usize = 14;
