//! A map keyed by sequence numbers that are added in increasing order and
//! leave mostly from the lowest: the chunks sent and not yet cumulatively
//! acknowledged (by unwrapped TSN), and RACK's chunks in flight (by
//! transmission number).
//!
//! It is a ring buffer indexed by distance from the lowest key, with an
//! empty slot where a key left out of order: insertion at the top, removal
//! and lookup are O(1), where an ordered tree cost a walk and a node
//! allocation per chunk. The ring spans from the lowest key held to the
//! highest, so it is as long as the keys issued since the oldest one still
//! held: for both users, what one round trip or one retransmission timeout
//! can send.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub(super) struct SeqMap<T> {
    /// The key of `slots[0]`.
    first: u64,
    slots: VecDeque<Option<T>>,
    /// Slots holding a value.
    len: usize,
}

impl<T> SeqMap<T> {
    pub(super) fn new() -> Self {
        Self {
            first: 0,
            slots: VecDeque::new(),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The lowest key held.
    pub(super) fn first_key(&self) -> Option<u64> {
        // The ring never starts with an empty slot.
        (self.len > 0).then_some(self.first)
    }

    fn index(&self, key: u64) -> Option<usize> {
        let i = usize::try_from(key.checked_sub(self.first)?).ok()?;
        (i < self.slots.len()).then_some(i)
    }

    /// Sets the value of `key`: above every key held (the usual case),
    /// between them, or below them.
    pub(super) fn insert(&mut self, key: u64, value: T) {
        if self.slots.is_empty() {
            self.first = key;
        }
        if key < self.first {
            for _ in key..self.first {
                self.slots.push_front(None);
            }
            self.first = key;
        }
        let i = usize::try_from(key - self.first).unwrap_or(usize::MAX);
        while self.slots.len() <= i {
            self.slots.push_back(None);
        }
        if self.slots[i].replace(value).is_none() {
            self.len += 1;
        }
    }

    /// Removes `key`'s value and returns it.
    pub(super) fn remove(&mut self, key: u64) -> Option<T> {
        let i = self.index(key)?;
        let value = self.slots[i].take()?;
        self.len -= 1;
        self.trim();
        Some(value)
    }

    /// Drops empty slots at the bottom, so the lowest slot holds a value.
    fn trim(&mut self) {
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first += 1;
        }
    }

    /// Removes and returns the lowest entry if its key is at most `upto`.
    pub(super) fn pop_through(&mut self, upto: u64) -> Option<(u64, T)> {
        let key = self.first_key().filter(|&k| k <= upto)?;
        self.remove(key).map(|v| (key, v))
    }

    pub(super) fn get_mut(&mut self, key: u64) -> Option<&mut T> {
        let i = self.index(key)?;
        self.slots[i].as_mut()
    }

    #[cfg(any(debug_assertions, fuzzing))]
    pub(super) fn contains(&self, key: u64) -> bool {
        self.index(key).is_some_and(|i| self.slots[i].is_some())
    }

    #[cfg(any(debug_assertions, fuzzing))]
    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &T)> {
        let first = self.first;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(i, v)| Some((first + i as u64, v.as_ref()?)))
    }

    pub(super) fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (u64, &mut T)> {
        self.range_mut(0..u64::MAX)
    }

    /// The entries with keys in `keys`, in order.
    pub(super) fn range_mut(
        &mut self,
        keys: std::ops::Range<u64>,
    ) -> impl DoubleEndedIterator<Item = (u64, &mut T)> {
        let held = self.slots.len() as u64;
        let to = keys.end.saturating_sub(self.first).min(held);
        let from = keys.start.saturating_sub(self.first).min(to);
        let first = self.first;
        let (from, to) = (from as usize, to as usize);
        self.slots
            .range_mut(from..to)
            .enumerate()
            .filter_map(move |(i, v)| Some((first + (from + i) as u64, v.as_mut()?)))
    }

    /// Everything held, in key order, leaving the map empty.
    pub(super) fn take_all(&mut self) -> impl Iterator<Item = T> {
        self.len = 0;
        std::mem::take(&mut self.slots).into_iter().flatten()
    }

    pub(super) fn clear(&mut self) {
        self.slots.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::SeqMap;

    #[test]
    fn in_order_keys_leave_from_the_front() {
        let mut m = SeqMap::new();
        for k in 10..15u64 {
            m.insert(k, k * 100);
        }
        assert_eq!((m.first_key(), m.len()), (Some(10), 5));
        assert_eq!(m.pop_through(9), None);
        assert_eq!(m.pop_through(11), Some((10, 1000)));
        assert_eq!(m.pop_through(11), Some((11, 1100)));
        assert_eq!(m.pop_through(11), None);
        assert_eq!(m.get_mut(12).copied(), Some(1200));
        assert!(m.get_mut(11).is_none() && m.get_mut(15).is_none());
        let keys: Vec<u64> = m.range_mut(13..100).map(|(k, _)| k).collect();
        assert_eq!(keys, [13, 14]);
        let sums: Vec<u64> = m.range_mut(0..13).map(|(k, v)| k + *v).collect();
        assert_eq!(sums, [1212]);
        let (start, end) = (14, 13);
        assert_eq!(
            m.range_mut(15..20).count() + m.range_mut(start..end).count(),
            0
        );
        assert_eq!(m.iter_mut().next_back().map(|(k, _)| k), Some(14));
        assert_eq!(m.take_all().collect::<Vec<_>>(), [1200, 1300, 1400]);
        assert!(m.is_empty() && m.first_key().is_none());
        m.insert(40, 1);
        assert_eq!(m.first_key(), Some(40));
    }

    #[test]
    fn keys_leave_out_of_order_and_come_back_below() {
        let mut m = SeqMap::new();
        for k in 0..6u64 {
            m.insert(k, k);
        }
        assert_eq!(m.remove(2), Some(2));
        assert_eq!(m.remove(2), None);
        assert!(!m.contains(2) && m.contains(3));
        assert_eq!(m.len(), 5);
        assert_eq!(m.remove(0), Some(0));
        assert_eq!(m.remove(1), Some(1));
        // The empty slot of 2 went with them: 3 is the lowest now.
        assert_eq!(m.first_key(), Some(3));
        assert_eq!(m.iter().map(|(k, _)| k).collect::<Vec<_>>(), [3, 4, 5]);
        // A key below every key held (a chunk put back in flight).
        m.insert(1, 10);
        assert_eq!(m.first_key(), Some(1));
        assert_eq!(m.iter().map(|(k, _)| k).collect::<Vec<_>>(), [1, 3, 4, 5]);
        assert_eq!(m.len(), 4);
        // Between keys held, and above with a gap.
        m.insert(2, 20);
        m.insert(9, 90);
        assert_eq!(
            m.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>(),
            [(1, 10), (2, 20), (3, 3), (4, 4), (5, 5), (9, 90)]
        );
        m.clear();
        assert!(m.is_empty() && m.iter().next().is_none());
    }
}
