//! Linux's SCTP structures as the daemon reads and writes them: socket
//! option values, notifications, and the translation of usctp's states
//! and errors into Linux's numbers.

use std::io;
use std::net::SocketAddr;

use usctp::proto::association::{
    AssociationError, AssociationState, PathChange, PathInfo, PathState,
};
use usctp::socket::StreamEvent;
use usctp_lksctp::abi::{errno, notification as n, state};
use usctp_lksctp::addr;

/// `sizeof(struct sockaddr_storage)`.
const STORAGE: usize = 128;

/// Builds a C structure's bytes, native-endian.
#[derive(Default)]
pub(super) struct Out(pub(super) Vec<u8>);

impl Out {
    pub(super) fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    pub(super) fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    pub(super) fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    pub(super) fn i32(self, v: i32) -> Self {
        self.u32(v as u32)
    }
    /// A `sockaddr_storage` holding `address` (zeroes if none).
    pub(super) fn storage(mut self, address: Option<SocketAddr>, family: i32) -> Self {
        let start = self.0.len();
        if let Some(a) = address {
            let (b, len) = addr::encode(a, family);
            self.0.extend_from_slice(&b[..len]);
        }
        self.0.resize(start + STORAGE, 0);
        self
    }
    pub(super) fn pad_to(mut self, len: usize) -> Self {
        self.0.resize(len, 0);
        self
    }
}

/// Reads native-endian fields of a C structure; missing bytes read as 0.
pub(super) struct In<'a>(pub(super) &'a [u8]);

impl In<'_> {
    pub(super) fn u16(&self, at: usize) -> u16 {
        self.0
            .get(at..at + 2)
            .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]))
    }
    pub(super) fn u32(&self, at: usize) -> u32 {
        self.0
            .get(at..at + 4)
            .map_or(0, |b| u32::from_ne_bytes(b.try_into().unwrap()))
    }
    pub(super) fn i32(&self, at: usize) -> i32 {
        self.u32(at) as i32
    }
}

/// `sstat_state`.
pub(super) fn state_number(s: AssociationState) -> i32 {
    match s {
        AssociationState::CookieWait => state::COOKIE_WAIT,
        AssociationState::CookieEchoed => state::COOKIE_ECHOED,
        AssociationState::Established => state::ESTABLISHED,
        AssociationState::ShutdownPending => state::SHUTDOWN_PENDING,
        AssociationState::ShutdownSent => state::SHUTDOWN_SENT,
        AssociationState::ShutdownReceived => state::SHUTDOWN_RECEIVED,
        AssociationState::ShutdownAckSent => state::SHUTDOWN_ACK_SENT,
        AssociationState::Closed => state::CLOSED,
        // A state this build does not know: SCTP_EMPTY.
        _ => 0,
    }
}

/// `struct sctp_paddrinfo` (152 bytes, packed to 4).
pub(super) fn paddrinfo(
    assoc_id: i32,
    path: Option<&PathInfo>,
    peer_port: u16,
    family: i32,
) -> Vec<u8> {
    let address = path.map(|p| SocketAddr::new(p.address.ip(), peer_port));
    let spinfo_state = match path {
        None => 0,
        Some(p) if !p.confirmed => 3,
        Some(p) => match p.state {
            PathState::Active => 2,
            PathState::PotentiallyFailed => 1,
            PathState::Inactive => 0,
            // A state this build does not know: SCTP_INACTIVE.
            _ => 0,
        },
    };
    let ms = |d: std::time::Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
    Out::default()
        .i32(assoc_id)
        .storage(address, family)
        .i32(spinfo_state)
        .u32(path.map_or(0, |p| p.cwnd as u32))
        .u32(path.and_then(|p| p.srtt).map_or(0, ms))
        .u32(path.map_or(0, |p| ms(p.rto)))
        .u32(1200)
        .0
}

/// The errno a failed connect or a failed association reports.
pub(super) fn errno_of(e: &io::Error) -> i32 {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => errno::ECONNREFUSED,
        io::ErrorKind::TimedOut => errno::ETIMEDOUT,
        io::ErrorKind::ConnectionReset => errno::ECONNRESET,
        io::ErrorKind::ConnectionAborted => errno::ECONNABORTED,
        io::ErrorKind::AddrInUse => errno::EADDRINUSE,
        io::ErrorKind::AddrNotAvailable => errno::EADDRNOTAVAIL,
        io::ErrorKind::InvalidInput => errno::EINVAL,
        io::ErrorKind::NotConnected => errno::ENOTCONN,
        io::ErrorKind::PermissionDenied => errno::EPERM,
        _ => e.raw_os_error().unwrap_or(errno::EIO),
    }
}

/// The errno reads see after an association ended with `reason`.
pub(super) fn errno_of_end(reason: &AssociationError) -> i32 {
    match reason {
        AssociationError::InitTimeout | AssociationError::CookieTimeout => errno::ETIMEDOUT,
        AssociationError::RetransmissionLimit | AssociationError::ShutdownTimeout => {
            errno::ETIMEDOUT
        }
        AssociationError::PeerAborted(_) => errno::ECONNRESET,
        _ => errno::ECONNRESET,
    }
}

/// A notification's header: type, flags, length (filled in by `finish`).
fn head(kind: u16) -> Out {
    head_with(kind, 0)
}

fn head_with(kind: u16, flags: u16) -> Out {
    Out::default().u16(kind).u16(flags).u32(0)
}

/// One notification per message that was not delivered: SCTP_SEND_FAILED_EVENT
/// (`struct sctp_send_failed_event`) if subscribed, else the older
/// SCTP_SEND_FAILED (`struct sctp_send_failed`), as Linux; each with the
/// message's bytes (as many as a record carries).
pub(super) fn send_failed(
    unsent: &[usctp::proto::association::Unsent],
    subscribed: &[u8; 14],
    assoc_id: i32,
    room: usize,
) -> Vec<Vec<u8>> {
    // SCTP_DATA_UNSENT, SCTP_DATA_SENT (some fragments were).
    let flags = |m: &usctp::proto::association::Unsent| u16::from(m.partly_sent);
    let ppid = |m: &usctp::proto::association::Unsent| u32::from_ne_bytes(m.ppid.to_be_bytes());
    let unordered = |m: &usctp::proto::association::Unsent| if m.unordered { 1u16 } else { 0 };
    unsent
        .iter()
        .filter_map(|m| {
            let out = if subscribed[13] != 0 {
                head_with(n::SEND_FAILED_EVENT, flags(m))
                    .u32(0)
                    .u16(m.stream)
                    .u16(unordered(m))
                    .u32(ppid(m))
                    .u32(m.context)
                    .i32(assoc_id)
                    .i32(assoc_id)
            } else if subscribed[3] != 0 {
                head_with(n::SEND_FAILED, flags(m))
                    .u32(0)
                    .u16(m.stream)
                    .u16(0)
                    .u16(unordered(m))
                    .u16(0)
                    .u32(ppid(m))
                    .u32(m.context)
                    .u32(0)
                    .u32(0)
                    .u32(0)
                    .i32(assoc_id)
                    .i32(assoc_id)
            } else {
                return None;
            };
            let mut out = out.0;
            let take = m.data.len().min(room.saturating_sub(out.len()));
            out.extend_from_slice(&m.data[..take]);
            Some(finish(Out(out)))
        })
        .collect()
}

fn finish(mut out: Out) -> Vec<u8> {
    let len = out.0.len() as u32;
    out.0[4..8].copy_from_slice(&len.to_ne_bytes());
    out.0
}

/// The Linux notification for `event`, if it is one and the socket's
/// subscription (`struct sctp_event_subscribe`, as set) asks for it.
pub(super) fn notification(
    event: &StreamEvent,
    subscribed: &[u8; 14],
    assoc_id: i32,
    peer_port: u16,
    family: i32,
) -> Option<Vec<u8>> {
    let on = |i: usize| subscribed[i] != 0;
    let assoc_change = |sac_state: u16, error: u16, out_streams: u16, in_streams: u16| {
        finish(
            head(n::ASSOC_CHANGE)
                .u16(sac_state)
                .u16(error)
                .u16(out_streams)
                .u16(in_streams)
                .i32(assoc_id),
        )
    };
    Some(match event {
        StreamEvent::Message(_) => return None,
        StreamEvent::Up(e) if on(1) => {
            assoc_change(n::COMM_UP, 0, e.outbound_streams, e.inbound_streams)
        }
        StreamEvent::Restart(e) if on(1) => {
            assoc_change(n::RESTART, 0, e.outbound_streams, e.inbound_streams)
        }
        StreamEvent::Closed(reason) if on(1) => {
            let sac_state = match reason {
                None => n::SHUTDOWN_COMP,
                Some(AssociationError::InitTimeout | AssociationError::CookieTimeout) => {
                    n::CANT_STR_ASSOC
                }
                Some(_) => n::COMM_LOST,
            };
            assoc_change(sac_state, 0, 0, 0)
        }
        StreamEvent::PathChange { address, change } if on(2) => {
            let spc_state = match change {
                PathChange::Available => n::ADDR_AVAILABLE,
                PathChange::Unreachable => n::ADDR_UNREACHABLE,
                PathChange::Confirmed => n::ADDR_CONFIRMED,
                PathChange::MadePrimary => n::ADDR_MADE_PRIM,
                PathChange::PotentiallyFailed => n::ADDR_POTENTIALLY_FAILED,
                // A change Linux has no number for: not told.
                _ => return None,
            };
            let address = SocketAddr::new(address.ip(), peer_port);
            finish(
                head(n::PEER_ADDR_CHANGE)
                    .storage(Some(address), family)
                    .i32(spc_state)
                    .i32(0)
                    .i32(assoc_id),
            )
        }
        StreamEvent::RemoteError(causes) if on(4) => {
            let code = causes.first().map_or(0, |c| c.code().0);
            finish(head(n::REMOTE_ERROR).u16(code.to_be()).u16(0).i32(assoc_id))
        }
        StreamEvent::SendFailed(_) => return None,
        StreamEvent::ShutdownStarted if on(5) => finish(head(n::SHUTDOWN_EVENT).i32(assoc_id)),
        StreamEvent::PartialDeliveryAborted { stream, ssn } if on(6) => finish(
            head(n::PARTIAL_DELIVERY_EVENT)
                .u32(0)
                .i32(assoc_id)
                .u32(u32::from(*stream))
                .u32(u32::from(*ssn)),
        ),
        StreamEvent::AdaptationIndication(ind) if on(7) => {
            finish(head(n::ADAPTATION_INDICATION).u32(*ind).i32(assoc_id))
        }
        StreamEvent::SenderDry if on(9) => finish(head(n::SENDER_DRY_EVENT).i32(assoc_id)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use usctp::proto::association::Established;

    #[test]
    fn notifications_have_linux_layouts_and_follow_the_subscription() {
        let mut established = Established::default();
        established.outbound_streams = 5;
        established.inbound_streams = 6;
        established.peer_addresses = vec!["127.0.0.1:9899".parse().unwrap()];
        established.local_port = 1;
        established.peer_port = 2;
        let up = StreamEvent::Up(established);
        let mut subscribed = [0u8; 14];
        assert_eq!(notification(&up, &subscribed, 3, 2, addr::AF_INET), None);
        subscribed[1] = 1;
        let b = notification(&up, &subscribed, 3, 2, addr::AF_INET).unwrap();
        // struct sctp_assoc_change: 20 bytes.
        assert_eq!(b.len(), 20);
        let r = In(&b);
        assert_eq!(r.u16(0), n::ASSOC_CHANGE);
        assert_eq!(r.u32(4), 20);
        assert_eq!(
            (r.u16(8), r.u16(12), r.u16(14), r.i32(16)),
            (n::COMM_UP, 5, 6, 3)
        );

        let path = StreamEvent::PathChange {
            address: "127.0.0.1:9899".parse().unwrap(),
            change: PathChange::Confirmed,
        };
        assert_eq!(notification(&path, &subscribed, 3, 2, addr::AF_INET), None);
        subscribed[2] = 1;
        let b = notification(&path, &subscribed, 3, 2, addr::AF_INET).unwrap();
        // struct sctp_paddr_change: 148 bytes, the address with the SCTP port.
        assert_eq!(b.len(), 148);
        assert_eq!(&b[8..12], &[2, 0, 0, 2]);
        assert_eq!(In(&b).i32(136), n::ADDR_CONFIRMED);

        subscribed[5] = 1;
        let b = notification(&StreamEvent::ShutdownStarted, &subscribed, 3, 2, 2).unwrap();
        assert_eq!((b.len(), In(&b).u16(0)), (12, n::SHUTDOWN_EVENT));
    }

    #[test]
    fn each_unsent_message_is_its_own_send_failed_notification() {
        use bytes::Bytes;
        use usctp::proto::association::Unsent;
        let options = usctp::proto::association::SendOptions::default()
            .with_unordered(false)
            .with_sack_immediately(false)
            .with_context(9);
        let unsent = |data: &'static [u8], partly_sent| {
            let mut m = Unsent::never_queued(2, 7, options, Bytes::from_static(data));
            m.partly_sent = partly_sent;
            m
        };
        let messages = [unsent(b"abc", false), unsent(b"defgh", true)];
        let mut subscribed = [0u8; 14];
        assert!(send_failed(&messages, &subscribed, 1, 1000).is_empty());
        subscribed[3] = 1;
        let old = send_failed(&messages, &subscribed, 1, 1000);
        // struct sctp_send_failed: 48 bytes and the message.
        assert_eq!(old.len(), 2);
        assert_eq!((In(&old[0]).u16(0), old[0].len()), (n::SEND_FAILED, 48 + 3));
        assert_eq!(In(&old[1]).u16(2), 1, "SCTP_DATA_SENT");
        assert_eq!(&old[1][48..], b"defgh");
        subscribed[13] = 1;
        let new = send_failed(&messages, &subscribed, 1, 34);
        // struct sctp_send_failed_event: 32 bytes; the bytes cut to the room.
        assert_eq!(
            (In(&new[0]).u16(0), new[0].len()),
            (n::SEND_FAILED_EVENT, 34)
        );
        assert_eq!(In(&new[0]).u16(12), 2);
        assert_eq!(In(&new[0]).u32(20), 9);
    }

    #[test]
    fn the_primary_path_is_a_packed_paddrinfo() {
        assert_eq!(paddrinfo(1, None, 0, addr::AF_INET).len(), 152);
        assert_eq!(state_number(AssociationState::Established), 4);
    }
}
