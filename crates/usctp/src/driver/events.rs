//! What the core raises, handed to users: messages into inboxes (flow
//! control: their bytes stay in the receive window until the user takes
//! them), associations that came up to their connect, listener or
//! one-to-many socket, notifications, and the end of an association.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use super::{
    Accepted, Assoc, Connecting, Driver, Listener, Orphaned, StreamSpec, now, sends, wake,
};
use crate::inbox::Inbox;
use crate::proto::association::{AssocId, AssociationError, Established, Event, SendError};
use crate::socket::StreamEvent;

impl Driver {
    /// Hands association `id`'s readable messages to its inbox while it
    /// has room; their bytes stay held in the window until the user takes
    /// them. Messages nobody will read are dropped and their bytes
    /// released at once.
    pub(super) fn deliver(&mut self, id: AssocId) {
        while self.deliver_one(id) {}
    }

    /// Hands one readable message of association `id` over; whether it
    /// has more and its inbox room for them.
    fn deliver_one(&mut self, id: AssocId) -> bool {
        let Some(entry) = self.assocs.get_mut(&id) else {
            return false;
        };
        let Some(mut assoc) = self.endpoint.association_mut(id) else {
            return false;
        };
        if entry.discarding {
            while let Some(message) = assoc.recv_held() {
                assoc.release(message.data.len());
            }
            return false;
        }
        if assoc.readable() == 0 {
            undefer(&mut self.waiting, entry);
            return false;
        }
        if !entry.inbox.has_room() {
            defer(&mut self.waiting, &mut self.deferrals, entry, id);
            return false;
        }
        let Some(message) = assoc.recv_held() else {
            return false;
        };
        entry.inbox.push(id, StreamEvent::Message(message));
        true
    }

    /// The user took messages from `inbox`: their bytes leave the windows,
    /// and messages left waiting for room in it come, a message from each
    /// waiting association in turn (oldest waiting first), so that one
    /// busy peer cannot keep the others out of a one-to-many socket.
    pub(super) fn release(&mut self, inbox: &Arc<Inbox>) {
        for (id, bytes) in inbox.take_consumed() {
            if let Some(mut assoc) = self.endpoint.association_mut(id) {
                assoc.release(bytes);
            }
        }
        let mut turn: VecDeque<AssocId> = self
            .waiting
            .get(&inbox_key(inbox))
            .map(|queue| queue.values().copied().collect())
            .unwrap_or_default();
        while inbox.has_room() {
            let Some(id) = turn.pop_front() else {
                break;
            };
            if let Some(entry) = self.assocs.get_mut(&id) {
                undefer(&mut self.waiting, entry);
            }
            if self.deliver_one(id) {
                turn.push_back(id);
            }
        }
        // Those still waiting keep their place (or take a new turn, if
        // served and still with more).
        for id in turn {
            if let Some(entry) = self.assocs.get_mut(&id) {
                defer(&mut self.waiting, &mut self.deferrals, entry, id);
            }
        }
    }

    /// Nobody will read association `id`'s messages: what its inbox holds
    /// and what comes later are dropped, their bytes released.
    pub(super) fn discard(&mut self, id: AssocId) {
        let Some(entry) = self.assocs.get_mut(&id) else {
            return;
        };
        entry.discarding = true;
        let freed = entry.inbox.discard(Some(id));
        for (id, bytes) in freed {
            if let Some(mut assoc) = self.endpoint.association_mut(id) {
                assoc.release(bytes);
            }
        }
        self.deliver(id);
    }

    pub(super) fn event(&mut self, id: AssocId, event: Event) {
        match event {
            Event::Up(established) => self.up(id, established),
            Event::CantStart(error) => self.cant_start(id, error),
            Event::Readable => self.readable.push(id),
            Event::Writable => self.retry_blocked(id),
            Event::SenderDry => {
                self.retry_blocked(id);
                // The notification is in the inbox before any waiter
                // hears that everything was acknowledged.
                self.notify(id, StreamEvent::SenderDry);
                if let Some(a) = self.assocs.get_mut(&id) {
                    a.drained.drain(..).for_each(wake);
                }
            }
            Event::Restart(info) => self.notify(id, StreamEvent::Restart(info)),
            Event::RemoteError(causes) => self.notify(id, StreamEvent::RemoteError(causes)),
            Event::ShutdownStarted => {
                // The association takes no more messages.
                if let Some(entry) = self.assocs.get(&id) {
                    entry.unanswered.end();
                }
                self.deliver(id);
                self.notify(id, StreamEvent::ShutdownStarted);
            }
            Event::ShutdownComplete => self.closed(id, None),
            Event::Lost(error) => self.closed(id, Some(error)),
            Event::PathChange { address, change } => {
                self.notify(id, StreamEvent::PathChange { address, change });
            }
            Event::SendFailed(messages) => self.notify(id, StreamEvent::SendFailed(messages)),
            Event::AdaptationIndication(code) => {
                self.notify(id, StreamEvent::AdaptationIndication(code));
            }
            Event::PartialDeliveryAborted { stream, ssn } => {
                self.notify(id, StreamEvent::PartialDeliveryAborted { stream, ssn });
            }
            // The core's events are open for additions; one this driver
            // does not know yet has nothing to tell its sockets.
            other => tracing::debug!(assoc = %id, ?other, "event not handled"),
        }
    }

    /// Association `id` came up: a connect is answered, a listener's
    /// association queued for `accept`, a one-to-many socket told.
    pub(super) fn up(&mut self, id: AssocId, established: Established) {
        let Some(assoc) = self.endpoint.association(id) else {
            return;
        };
        let port = assoc.local_port();
        if let Some(entry) = self.assocs.get_mut(&id) {
            // This end started it.
            if let Some(Connecting { reply, .. }) = entry.connecting.take() {
                let Some(accepted) = self.accepted(id, established) else {
                    return;
                };
                // A caller that stopped waiting (its `connect` cancelled)
                // gets nothing: the association is shut down.
                if let Err(Ok(mut accepted)) = reply.send(Ok(accepted)) {
                    accepted.orphan.disarm();
                    self.orphaned(Orphaned::Association(id), now());
                }
                return;
            }
            if entry.shared {
                entry.inbox.notify(id, StreamEvent::Up(established));
                self.retry_blocked(id);
            }
            return;
        }
        match self.listeners.get(&port) {
            Some(Listener::OneToOne { queue, spec }) => {
                let queue = queue.clone();
                let inbox = Arc::new(Inbox::new(spec.notifications, usize::MAX));
                self.assocs.insert(id, Assoc::new(inbox, false));
                let Some(accepted) = self.accepted(id, established) else {
                    return;
                };
                let full = {
                    let Ok(mut q) = queue.queue.lock() else {
                        return;
                    };
                    q.push_back(accepted);
                    q.len() >= queue.backlog
                };
                queue.ready.notify_one();
                // The accept queue is full: new associations on the port
                // are refused with Out of Resource until the user accepts.
                if full {
                    self.endpoint.pause_accepting(port, true);
                }
            }
            Some(Listener::OneToMany { inbox }) => {
                let inbox = inbox.clone();
                inbox.notify(id, StreamEvent::Up(established));
                self.assocs.insert(id, Assoc::new(inbox, true));
            }
            None => {
                // Nobody to hand it to (the listener went away meanwhile).
                self.endpoint.abort(id, b"no listener");
            }
        }
    }

    /// What a stream of association `id` starts from; `None` if the
    /// driver does not know it.
    pub(super) fn accepted(&self, id: AssocId, established: Established) -> Option<Accepted> {
        let entry = self.assocs.get(&id)?;
        let assoc = self.endpoint.association(id)?;
        let status = assoc.status();
        entry
            .unanswered
            .set_largest(assoc.config(), status.fragmentation_point);
        let peer = assoc
            .peer_addresses()
            .first()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        Some(Accepted {
            id,
            established,
            peer,
            local_port: assoc.local_port(),
            inbox: entry.inbox.clone(),
            unanswered: entry.unanswered.clone(),
            status: Some(status),
            orphan: self.orphan(Orphaned::Association(id)),
        })
    }

    pub(super) fn cant_start(&mut self, id: AssocId, error: AssociationError) {
        let Some(mut entry) = self.assocs.remove(&id) else {
            return;
        };
        undefer(&mut self.waiting, &mut entry);
        entry.unanswered.end();
        if let Some(Connecting {
            remote,
            attempts,
            reply,
        }) = entry.connecting.take()
        {
            let error = match &error {
                AssociationError::InitTimeout | AssociationError::CookieTimeout => {
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        crate::error::Unreachable {
                            remote,
                            attempts,
                            cause: error.clone(),
                        },
                    )
                }
                other => std::io::Error::new(std::io::ErrorKind::ConnectionRefused, other.clone()),
            };
            let _ = reply.send(Err(error));
        }
        // Messages `send_to` queued for an association that never came up.
        for send in entry.blocked.drain(..) {
            send.reply
                .answer(Err(SendError::SetupFailed(error.clone())));
        }
        if entry.shared {
            entry.inbox.notify(id, StreamEvent::Closed(Some(error)));
            if !self.inbox_in_use(&entry.inbox) {
                entry.inbox.finish();
            }
        }
    }

    /// Hands a notification on if the user subscribed to its kind.
    pub(super) fn notify(&self, id: AssocId, event: StreamEvent) {
        if let Some(entry) = self.assocs.get(&id) {
            entry.inbox.notify(id, event);
        }
    }

    /// Association `id` ended: what it received goes to its user first,
    /// then the end.
    pub(super) fn closed(&mut self, id: AssocId, error: Option<AssociationError>) {
        // Deliver what arrived before the end (its window no longer
        // matters).
        if let Some(entry) = self.assocs.get(&id)
            && let Some(mut assoc) = self.endpoint.association_mut(id)
        {
            while let Some(message) = assoc.recv_held() {
                entry.inbox.push(id, StreamEvent::Message(message));
            }
        }
        let Some(mut entry) = self.assocs.remove(&id) else {
            return;
        };
        undefer(&mut self.waiting, &mut entry);
        // From now on every `send` of its stream waits for its answer
        // (which says the association is gone).
        entry.unanswered.end();
        entry.drained.drain(..).for_each(wake);
        let unsent = sends::refuse_blocked(&mut entry.blocked);
        if !unsent.is_empty() {
            entry.inbox.notify(id, StreamEvent::SendFailed(unsent));
        }
        if entry.shared {
            entry.inbox.notify(id, StreamEvent::Closed(error));
            if !self.inbox_in_use(&entry.inbox) {
                entry.inbox.finish();
            }
        } else {
            entry.inbox.push(id, StreamEvent::Closed(error));
            entry.inbox.finish();
        }
    }

    /// Moves association `id` off its one-to-many socket onto a stream of
    /// its own (sctp_peeloff), with what the socket held for it.
    pub(super) fn peel_off(&mut self, id: AssocId, spec: StreamSpec) -> Option<Accepted> {
        let entry = self.assocs.get_mut(&id)?;
        if !entry.shared {
            return None;
        }
        let established = self.endpoint.association(id)?.established()?;
        let inbox = Arc::new(Inbox::new(spec.notifications, usize::MAX));
        entry.inbox.move_items(id, &inbox);
        // It waits on its new inbox from now on, if at all.
        undefer(&mut self.waiting, entry);
        let old = std::mem::replace(&mut entry.inbox, inbox);
        entry.shared = false;
        // Bytes it consumed from the socket's inbox are released now.
        self.release(&old);
        self.deliver(id);
        self.accepted(id, established)
    }
}

/// Associations waiting for room, by inbox ([`inbox_key`]), by turn.
pub(super) type Waiting = HashMap<usize, BTreeMap<u64, AssocId>>;

/// An inbox's key in [`Waiting`]: its address, which stays the same while
/// any association refers to it.
fn inbox_key(inbox: &Arc<Inbox>) -> usize {
    Arc::as_ptr(inbox) as usize
}

/// Association `id` (`entry`) waits for room in its inbox: from a new turn,
/// unless it already waits.
fn defer(waiting: &mut Waiting, deferrals: &mut u64, entry: &mut Assoc, id: AssocId) {
    if entry.deferred.is_none() {
        *deferrals += 1;
        entry.deferred = Some(*deferrals);
        waiting
            .entry(inbox_key(&entry.inbox))
            .or_default()
            .insert(*deferrals, id);
    }
}

/// `entry` waits no more.
fn undefer(waiting: &mut Waiting, entry: &mut Assoc) {
    if let Some(turn) = entry.deferred.take() {
        let key = inbox_key(&entry.inbox);
        if let Some(queue) = waiting.get_mut(&key) {
            queue.remove(&turn);
            if queue.is_empty() {
                waiting.remove(&key);
            }
        }
    }
}
