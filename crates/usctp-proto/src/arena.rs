//! Memory for received datagrams, for drivers: the endpoint keeps views of
//! a datagram (message payloads are slices of it), so each datagram needs
//! a `Bytes` of its own; copying them into shared large buffers avoids an
//! allocation per datagram.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Received datagrams are copied into one large buffer and handed out as
/// views of it, so a datagram costs no allocation of its own: one buffer
/// serves about two hundred 1200-byte datagrams. A full buffer is kept
/// aside, and used again once every message viewing it has been read:
/// memory the process has already touched, where a fresh allocation costs
/// a page fault per 4 KiB on its first use.
#[derive(Debug, Default)]
pub struct Arena {
    current: BytesMut,
    /// Full buffers, oldest first, some still viewed by messages.
    full: VecDeque<BytesMut>,
}

/// The size of each arena buffer.
const ARENA: usize = 256 * 1024;

/// Full buffers kept for reuse: memory held beyond what messages still
/// view is at most this many buffers.
const KEPT: usize = 3;

impl Arena {
    /// A copy of `datagram` as `Bytes`.
    pub fn take(&mut self, datagram: &[u8]) -> Bytes {
        if self.current.capacity() < datagram.len() {
            self.current = self.fresh(datagram.len());
        }
        self.current.extend_from_slice(datagram);
        self.current.split().freeze()
    }

    /// A buffer with room for `len` bytes: a kept one nothing views any
    /// more, or a new one. The current one joins the kept ones.
    fn fresh(&mut self, len: usize) -> BytesMut {
        // (The first buffer comes from `Default`, with no allocation.)
        let done = std::mem::take(&mut self.current);
        if done.capacity() > 0 {
            self.full.push_back(done);
        }
        if len <= ARENA {
            // `try_reclaim` succeeds only for a buffer no view shares.
            if let Some(i) = self.full.iter_mut().position(|b| b.try_reclaim(ARENA))
                && let Some(reused) = self.full.remove(i)
            {
                return reused;
            }
        }
        while self.full.len() > KEPT {
            self.full.pop_front();
        }
        BytesMut::with_capacity(ARENA.max(len))
    }
}

#[cfg(test)]
mod tests {
    use super::{ARENA, Arena};

    #[test]
    fn a_buffer_is_reused_once_its_views_are_gone() {
        let mut arena = Arena::default();
        let datagram = [7u8; 1000];
        let held: Vec<_> = (0..ARENA / 1000).map(|_| arena.take(&datagram)).collect();
        let first = held[0].as_ptr();
        // The next datagram does not fit: a new buffer, the first kept.
        let next = arena.take(&datagram);
        assert_ne!(next.as_ptr(), first);
        // Its views still read what was written.
        assert!(held.iter().all(|b| b[..] == datagram[..]));
        drop(held);
        // Filling the second buffer brings the first, no longer viewed, back.
        let mut second = Vec::new();
        let reused = loop {
            let b = arena.take(&[9u8; 1000]);
            if b.as_ptr() == first || second.len() > ARENA / 1000 {
                break b;
            }
            second.push(b);
        };
        assert_eq!(reused.as_ptr(), first);
        assert_eq!(reused[..], [9u8; 1000][..]);
        assert!(second.iter().all(|b| b[..] == [9u8; 1000][..]));
    }

    #[test]
    fn a_buffer_still_viewed_is_never_written() {
        let mut arena = Arena::default();
        let kept: Vec<_> = (0..10 * ARENA / 1000)
            .map(|i| arena.take(&[i as u8; 1000]))
            .collect();
        for (i, b) in kept.iter().enumerate() {
            assert_eq!(b[..], [i as u8; 1000][..]);
        }
        assert!(arena.full.len() <= super::KEPT);
    }
}
