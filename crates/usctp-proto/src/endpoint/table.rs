//! The endpoint's associations: one structure that keeps, for each, the
//! association itself, its entries in the demultiplexing map, its place in
//! the timer order and whether it may have packets to send.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use crate::association::{AssocId, Association, Event};

/// Associations acted on whose deadline waits to be written into the timer
/// order: each costs a look at its timers whenever the earliest deadline
/// is asked for.
const STALE_LIMIT: usize = 16;

/// What demultiplexes a packet to its association: this end's SCTP port,
/// one of the peer's IP addresses and the peer's SCTP port (RFC 9260 §1.3:
/// an association is named by the two ports and the peer's addresses; the
/// UDP port is not part of it, RFC 6951 §5.4).
pub(super) type PeerKey = (u16, IpAddr, u16);

#[derive(Debug)]
#[cfg_attr(feature = "arbitrary", derive(Clone))]
struct Entry {
    assoc: Association,
    /// Its next deadline as `timers` holds it.
    deadline: Option<Instant>,
    /// Whether it is in `stale`.
    stale: bool,
    /// Its keys in `by_peer`.
    keys: Vec<PeerKey>,
    /// Whether it is in `ready`.
    ready: bool,
}

#[derive(Debug, Default)]
#[cfg_attr(feature = "arbitrary", derive(Clone))]
pub(super) struct Table {
    /// By id, in creation order (round-robin transmission follows it).
    entries: BTreeMap<AssocId, Entry>,
    by_peer: HashMap<PeerKey, AssocId>,
    /// Every association's next deadline, earliest first, so that timers
    /// need not visit every association.
    timers: BTreeSet<(Instant, AssocId)>,
    /// Associations acted on since their entry in `timers` was last
    /// brought up to date. An association's deadline moves with nearly
    /// every packet it sends or receives (T3-rtx restarts, the delayed
    /// SACK); it is looked up once per turn of the driver instead, when
    /// the earliest deadline is asked for, and written into `timers`
    /// before timers are acted on or when this list grows long.
    stale: Vec<AssocId>,
    /// Associations that may have packets to send, in round-robin order:
    /// those acted on since `poll_transmit` last found them with nothing,
    /// so it need not visit every idle association for every packet. (A
    /// queue rather than a set: an association going in and out of it for
    /// each packet costs no allocation.)
    ready: VecDeque<AssocId>,
    /// Associations per local SCTP port, for the listeners' limits.
    per_port: HashMap<u16, usize>,
}

impl Table {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every association, to change a setting of each.
    pub fn each_mut(&mut self) -> impl Iterator<Item = &mut Association> {
        self.entries.values_mut().map(|e| &mut e.assoc)
    }

    /// Entries in the demultiplexing map.
    pub fn keys_len(&self) -> usize {
        self.by_peer.len()
    }

    /// Associations on this end's SCTP port `port`.
    pub fn count_on_port(&self, port: u16) -> usize {
        self.per_port.get(&port).copied().unwrap_or(0)
    }

    pub fn get(&self, id: AssocId) -> Option<&Association> {
        self.entries.get(&id).map(|e| &e.assoc)
    }

    /// The association, to act on; the caller calls [`Table::settle`]
    /// afterwards.
    pub fn get_mut(&mut self, id: AssocId) -> Option<&mut Association> {
        self.entries.get_mut(&id).map(|e| &mut e.assoc)
    }

    pub fn route(&self, key: PeerKey) -> Option<AssocId> {
        self.by_peer.get(&key).copied()
    }

    /// Adds a new association and settles it.
    pub fn insert(&mut self, assoc: Association, events: &mut VecDeque<(AssocId, Event)>) {
        let id = assoc.id();
        *self.per_port.entry(assoc.local_port()).or_default() += 1;
        let entry = Entry {
            assoc,
            deadline: None,
            stale: false,
            keys: Vec::new(),
            ready: false,
        };
        self.entries.insert(id, entry);
        self.settle(id, events);
    }

    /// After association `id` was acted on: its events move to `events`,
    /// its keys follow its addresses, its deadline is brought up to date,
    /// and it may have packets to send.
    pub fn settle(&mut self, id: AssocId, events: &mut VecDeque<(AssocId, Event)>) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        if !std::mem::replace(&mut entry.ready, true) {
            self.ready.push_back(id);
        }
        while let Some(event) = entry.assoc.poll_event() {
            // Every user event passes here, with its association: the
            // state changes (up, restart, shutdown, the end and why), path
            // changes, send failures.
            if !matches!(event, Event::Readable | Event::Writable) {
                debug!(assoc = %id, peer_port = entry.assoc.peer_port(), ?event, "association event");
            }
            events.push_back((id, event));
        }
        if entry.assoc.take_addresses_changed() {
            let (local, peer) = (entry.assoc.local_port(), entry.assoc.peer_port());
            let keys: Vec<PeerKey> = entry
                .assoc
                .peer_addresses()
                .iter()
                .map(|a| (local, a.ip(), peer))
                .collect();
            let old = std::mem::replace(&mut entry.keys, keys);
            for key in old {
                if self.by_peer.get(&key) == Some(&id) && !entry.keys.contains(&key) {
                    self.by_peer.remove(&key);
                }
            }
            for &key in &entry.keys {
                self.by_peer.entry(key).or_insert(id);
            }
        }
        self.touch(id);
    }

    /// Association `id` was acted on: its deadline may have moved.
    pub fn touch(&mut self, id: AssocId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        if !std::mem::replace(&mut entry.stale, true) {
            self.stale.push(id);
            if self.stale.len() > STALE_LIMIT {
                self.refresh_timers();
            }
        }
    }

    /// Writes the deadline of every association acted on into `timers`.
    pub fn refresh_timers(&mut self) {
        let mut stale = std::mem::take(&mut self.stale);
        for id in stale.drain(..) {
            self.update_timer(id);
        }
        // The list keeps its allocation.
        self.stale = stale;
    }

    /// Brings association `id`'s entry in `timers` up to date.
    fn update_timer(&mut self, id: AssocId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        entry.stale = false;
        let next = entry.assoc.poll_timeout();
        if next == entry.deadline {
            return;
        }
        // The new entry goes in before the old one leaves, so the set never
        // empties and refills (which would free and allocate its node).
        if let Some(at) = next {
            self.timers.insert((at, id));
        }
        if let Some(old) = entry.deadline {
            self.timers.remove(&(old, id));
        }
        entry.deadline = next;
    }

    /// Forgets association `id` if it is closed and has nothing left to
    /// send or to read.
    pub fn reap(&mut self, id: AssocId) {
        let Some(entry) = self.entries.get(&id) else {
            return;
        };
        let a = &entry.assoc;
        if !a.is_closed() || a.has_pending_transmit() || a.readable() > 0 {
            return;
        }
        let Some(entry) = self.entries.remove(&id) else {
            return;
        };
        if entry.ready {
            self.ready.retain(|&r| r != id);
        }
        if entry.stale {
            self.stale.retain(|&r| r != id);
        }
        let port = entry.assoc.local_port();
        if let Some(count) = self.per_port.get_mut(&port) {
            *count -= 1;
            if *count == 0 {
                self.per_port.remove(&port);
            }
        }
        if let Some(at) = entry.deadline {
            self.timers.remove(&(at, id));
        }
        for key in entry.keys {
            if self.by_peer.get(&key) == Some(&id) {
                self.by_peer.remove(&key);
            }
        }
    }

    /// The associations whose deadline has come by `now`.
    pub fn due(&mut self, now: Instant) -> Vec<AssocId> {
        self.refresh_timers();
        self.timers
            .iter()
            .take_while(|&&(at, _)| at <= now)
            .map(|&(_, id)| id)
            .collect()
    }

    /// The earliest deadline of any association. (An association acted
    /// on may have left an earlier entry in `timers` than its deadline now:
    /// that wakes the driver early, to find nothing due, and is then
    /// corrected.)
    pub fn next_deadline(&self) -> Option<Instant> {
        let recorded = self.timers.first().map(|&(at, _)| at);
        let acted_on = self
            .stale
            .iter()
            .filter_map(|id| self.entries.get(id)?.assoc.poll_timeout());
        recorded.into_iter().chain(acted_on).min()
    }

    /// The next association that may have packets, in round-robin order.
    pub fn next_ready(&self) -> Option<AssocId> {
        self.ready.front().copied()
    }

    /// The association `next_ready` gave sent a packet: the others come
    /// first next time.
    pub fn served(&mut self) {
        self.ready.rotate_left(1.min(self.ready.len()));
    }

    /// The association `next_ready` gave has nothing to send until acted
    /// on again.
    pub fn idle(&mut self) {
        if let Some(id) = self.ready.pop_front()
            && let Some(entry) = self.entries.get_mut(&id)
        {
            entry.ready = false;
        }
    }

    /// The associations with a path to `ip`.
    pub fn with_peer_address(&self, ip: IpAddr) -> Vec<AssocId> {
        self.entries
            .iter()
            .filter(|(_, e)| e.assoc.has_peer_address(ip))
            .map(|(&id, _)| id)
            .collect()
    }
}
