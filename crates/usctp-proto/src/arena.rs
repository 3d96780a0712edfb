//! Memory for received datagrams, for drivers: the endpoint keeps views of
//! a datagram (message payloads are slices of it), so each datagram needs
//! a `Bytes` of its own; copying them into shared large buffers avoids an
//! allocation per datagram.

use bytes::{Bytes, BytesMut};

/// Received datagrams are copied into one large buffer and handed out as
/// views of it, so a datagram costs no allocation of its own: one buffer
/// serves about two hundred 1200-byte datagrams (it is freed when the last
/// message viewing it is read).
#[derive(Debug, Default)]
pub struct Arena(BytesMut);

/// The size of each arena buffer.
const ARENA: usize = 256 * 1024;

impl Arena {
    /// A copy of `datagram` as `Bytes`.
    pub fn take(&mut self, datagram: &[u8]) -> Bytes {
        if self.0.capacity() < datagram.len() {
            self.0 = BytesMut::with_capacity(ARENA.max(datagram.len()));
        }
        self.0.extend_from_slice(datagram);
        self.0.split().freeze()
    }
}
