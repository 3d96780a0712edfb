//! What an association (or a one-to-many socket) has for its user: the
//! messages and notifications the driver handed over, in order, shared
//! between the driver's thread and the user's tasks.
//!
//! Flow control runs through it: a message's bytes stay counted against
//! its association's receive window until the user takes the message from
//! here, and then the driver is told to release them (one `Release`
//! command for however many messages were read meanwhile). The inbox of a
//! one-to-many socket also bounds the bytes it holds across associations;
//! past that, messages wait in their associations, whose windows close.
//! Notifications are bounded in number; past that they are dropped and
//! counted, and the user hears how many when room opens.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::proto::association::AssocId;
use crate::socket::{Notifications, StreamEvent};

/// Notifications an inbox holds at most before it drops new ones.
const MAX_NOTIFICATIONS: usize = 1024;

/// One item, and whether it counts as a notification.
#[derive(Debug)]
struct Item {
    id: AssocId,
    event: StreamEvent,
    notification: bool,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Item>,
    /// Message bytes held.
    bytes: usize,
    /// Notifications held.
    notifications: usize,
    /// Notifications dropped since the user last heard of it.
    lost: u64,
    subscription: Notifications,
    /// Bytes the user has taken, per association, not yet released: an
    /// entry per run of messages of one association (one entry, or a few,
    /// between two releases; an association may appear more than once).
    consumed: Vec<(AssocId, usize)>,
    /// A release is on its way to the driver.
    release_pending: bool,
    /// No more items will come (the association ended, or the driver).
    finished: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Inbox {
    state: Mutex<State>,
    /// Wakes the task waiting for an item.
    ready: Notify,
    /// Wakes a thread lingering until the association has ended.
    finished: Condvar,
    /// Message bytes held at most before the driver stops handing over
    /// (one-to-many sockets; `usize::MAX` for one association, which its
    /// window bounds).
    limit: usize,
}

/// What the user's read owes the driver.
#[must_use]
pub(crate) struct Taken {
    pub item: Option<(AssocId, StreamEvent)>,
    /// A `Release` command must be sent.
    pub release: bool,
}

impl Inbox {
    pub(crate) fn new(subscription: Notifications, limit: usize) -> Self {
        Self {
            state: Mutex::new(State {
                subscription,
                ..State::default()
            }),
            ready: Notify::new(),
            finished: Condvar::new(),
            limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: go on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- the driver's side ----

    /// Whether more message bytes may be handed over (one message at
    /// least, whatever the limit).
    pub(crate) fn has_room(&self) -> bool {
        let state = self.lock();
        state.bytes == 0 || state.bytes < self.limit
    }

    /// Wakes the task waiting for an item. Every waiter is woken, and a
    /// permit is left for one that is about to wait: a waiter abandoned
    /// mid-wait (a cancelled read) cannot swallow the wake-up.
    fn wake(&self) {
        self.ready.notify_waiters();
        self.ready.notify_one();
    }

    /// Hands over a message or the end of an association's items.
    ///
    /// A reader waits only after finding the inbox empty (under the lock,
    /// as here), so only an item that makes it non-empty wakes: a burst of
    /// messages costs one wake-up, not one each.
    pub(crate) fn push(&self, id: AssocId, event: StreamEvent) {
        let mut state = self.lock();
        if let StreamEvent::Message(m) = &event {
            state.bytes += m.data.len();
        }
        let was_empty = state.items.is_empty();
        state.items.push_back(Item {
            id,
            event,
            notification: false,
        });
        drop(state);
        if was_empty {
            self.wake();
        }
    }

    /// Hands over a notification if the user subscribed to its kind and
    /// there is room; counts it lost otherwise.
    pub(crate) fn notify(&self, id: AssocId, event: StreamEvent) {
        let mut state = self.lock();
        if !state.subscription.wants(&event) {
            return;
        }
        if state.notifications >= MAX_NOTIFICATIONS {
            state.lost += 1;
            return;
        }
        state.notifications += 1;
        let was_empty = state.items.is_empty();
        state.items.push_back(Item {
            id,
            event,
            notification: true,
        });
        drop(state);
        if was_empty {
            self.wake();
        }
    }

    /// No more items will come.
    pub(crate) fn finish(&self) {
        self.lock().finished = true;
        self.wake();
        self.finished.notify_all();
    }

    /// Drops the messages held for association `id` (every association
    /// when `None`): nobody will read them. Returns the bytes to release
    /// per association, with what the user consumed and was not yet
    /// released.
    pub(crate) fn discard(&self, id: Option<AssocId>) -> Vec<(AssocId, usize)> {
        let mut state = self.lock();
        let mut freed: HashMap<AssocId, usize> = HashMap::new();
        let items = std::mem::take(&mut state.items);
        for item in items {
            match &item.event {
                StreamEvent::Message(m) if id.is_none_or(|id| id == item.id) => {
                    *freed.entry(item.id).or_default() += m.data.len();
                    state.bytes -= m.data.len();
                }
                _ => state.items.push_back(item),
            }
        }
        let consumed: Vec<(AssocId, usize)> = match id {
            Some(id) => {
                let (of_id, others) = std::mem::take(&mut state.consumed)
                    .into_iter()
                    .partition(|&(a, _)| a == id);
                state.consumed = others;
                of_id
            }
            None => std::mem::take(&mut state.consumed),
        };
        for (id, bytes) in consumed {
            *freed.entry(id).or_default() += bytes;
        }
        freed.into_iter().collect()
    }

    /// The bytes the user has consumed since the last release, per
    /// association.
    pub(crate) fn take_consumed(&self) -> Vec<(AssocId, usize)> {
        let mut state = self.lock();
        state.release_pending = false;
        std::mem::take(&mut state.consumed)
    }

    /// Moves association `id`'s items to `other` (sctp_peeloff), keeping
    /// their order; its unreleased consumption stays to be released.
    pub(crate) fn move_items(&self, id: AssocId, other: &Inbox) {
        let mut state = self.lock();
        let (moved, kept): (VecDeque<Item>, VecDeque<Item>) = std::mem::take(&mut state.items)
            .into_iter()
            .partition(|i| i.id == id);
        state.items = kept;
        for item in &moved {
            if let StreamEvent::Message(m) = &item.event {
                state.bytes -= m.data.len();
            }
            if item.notification {
                state.notifications -= 1;
            }
        }
        drop(state);
        let mut other_state = other.lock();
        for item in moved {
            if let StreamEvent::Message(m) = &item.event {
                other_state.bytes += m.data.len();
            }
            if item.notification {
                other_state.notifications += 1;
            }
            other_state.items.push_back(item);
        }
        drop(other_state);
        other.wake();
    }

    // ---- the user's side ----

    /// The next item without waiting.
    pub(crate) fn try_take(&self) -> Taken {
        let mut state = self.lock();
        let Some(Item {
            id,
            event,
            notification,
        }) = state.items.pop_front()
        else {
            return Taken {
                item: None,
                release: false,
            };
        };
        let mut release = false;
        if let StreamEvent::Message(m) = &event {
            state.bytes -= m.data.len();
            let len = m.data.len();
            // Consecutive messages of one association add up in one entry.
            match state.consumed.last_mut() {
                Some((last, bytes)) if *last == id => *bytes += len,
                _ => state.consumed.push((id, len)),
            }
            release = !std::mem::replace(&mut state.release_pending, true);
        }
        if notification {
            state.notifications -= 1;
        }
        // Room for notifications again: say how many were dropped, first.
        if state.lost > 0 && state.notifications < MAX_NOTIFICATIONS {
            let lost = std::mem::take(&mut state.lost);
            state.items.push_front(Item {
                id,
                event: StreamEvent::NotificationsLost(lost),
                notification: true,
            });
            state.notifications += 1;
        }
        Taken {
            item: Some((id, event)),
            release,
        }
    }

    /// Waits for the next item; `None` once there are no more.
    pub(crate) async fn take(&self) -> Option<Taken> {
        loop {
            let notified = self.ready.notified();
            let taken = self.try_take();
            if taken.item.is_some() {
                return Some(taken);
            }
            if self.is_finished() {
                return None;
            }
            notified.await;
        }
    }

    /// Whether the association ended and every item was taken, or no more
    /// will come.
    pub(crate) fn is_finished(&self) -> bool {
        let state = self.lock();
        state.finished && state.items.is_empty()
    }

    /// Whether no more items will come (some may still wait to be taken).
    pub(crate) fn is_ended(&self) -> bool {
        self.lock().finished
    }

    /// Blocks the calling thread until no more items will come, at most
    /// `timeout`; whether they ended.
    pub(crate) fn wait_ended(&self, timeout: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .finished
            .wait_timeout_while(state, timeout, |s| !s.finished)
            .unwrap_or_else(|e| e.into_inner());
        state.finished
    }

    /// Which notifications are delivered from now on.
    pub(crate) fn subscribe(&self, subscription: Notifications) {
        self.lock().subscription = subscription;
    }

    pub(crate) fn subscription(&self) -> Notifications {
        self.lock().subscription
    }
}
