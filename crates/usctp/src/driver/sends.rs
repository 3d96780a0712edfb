//! Sends on their way into an association: answered when the association
//! takes them, or queued in order while its send buffer is full or it is
//! still being set up.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;

use super::{Driver, Reply, now};
use crate::proto::association::{AssocId, AssociationState, SendError, SendOptions, Unsent};
use crate::proto::endpoint::AssociationMut;
use crate::socket::{SendInfo, StreamEvent};

/// How a queued send is answered.
pub(super) enum SendReply {
    /// `send`: done or not.
    Plain(Reply<Result<(), SendError>>),
    /// `send_to`: the association it went on.
    To(AssocId, Reply<Result<AssocId, SendError>>),
    /// A `send` that did not wait (see [`Unanswered`]): its bytes leave the
    /// count once the association takes the message.
    Unanswered(Arc<Unanswered>, usize),
}

impl SendReply {
    /// The caller stopped waiting (its `send` future was dropped).
    fn abandoned(&self) -> bool {
        match self {
            Self::Plain(reply) => reply.is_closed(),
            Self::To(_, reply) => reply.is_closed(),
            Self::Unanswered(..) => false,
        }
    }

    pub(super) fn answer(self, result: Result<(), SendError>) {
        match self {
            Self::Plain(reply) => {
                let _ = reply.send(result);
            }
            Self::To(id, reply) => {
                let _ = reply.send(result.map(|()| id));
            }
            // A refusal is reported by the driver (`Driver::answer`).
            Self::Unanswered(count, len) => count.release(len),
        }
    }
}

/// A message on its way to an association, as its user sent it.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub stream: u16,
    pub ppid: u32,
    pub data: Bytes,
    pub options: SendOptions,
}

impl Outgoing {
    /// `data` as `info` says.
    pub(crate) fn new(data: Bytes, info: &SendInfo) -> Self {
        Self {
            stream: info.stream,
            ppid: info.ppid,
            data,
            options: info.options(),
        }
    }

    fn unsent(self) -> Unsent {
        Unsent::never_queued(self.stream, self.ppid, self.options, self.data)
    }

    /// Hands it to the association (the bytes are shared, not copied).
    fn send_on(&self, assoc: &mut AssociationMut<'_>) -> Result<(), SendError> {
        assoc.send_with(self.stream, self.ppid, self.data.clone(), self.options)
    }
}

/// A message handed to the driver, not yet in its association.
pub(super) struct PendingSend {
    pub message: Outgoing,
    pub reply: SendReply,
}

/// The bytes a stream handed to the endpoint without waiting for the
/// answer, and not yet taken into the association's send buffer. A stream
/// only skips the round trip to the endpoint while this stays under
/// [`Unanswered::LIMIT`], so it bounds what may queue in front of the send
/// buffer.
#[derive(Debug, Default)]
pub(crate) struct Unanswered {
    bytes: AtomicUsize,
    /// The association has ended, or will take no more messages (either
    /// end shut it down): every `send` waits for its answer.
    ended: AtomicBool,
    /// The largest message the association takes whole without asking
    /// (kept by the driver as its settings change).
    largest: AtomicUsize,
}

impl Unanswered {
    /// Bytes a stream may have on their way without waiting.
    pub(crate) const LIMIT: usize = 256 * 1024;

    /// Counts `len` more bytes if they fit under the limit and the
    /// association has not ended.
    pub(crate) fn reserve(&self, len: usize) -> bool {
        !self.ended.load(Ordering::Acquire)
            && self
                .bytes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n + len <= Self::LIMIT).then_some(n + len)
                })
                .is_ok()
    }

    pub(crate) fn release(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::AcqRel);
    }

    pub(super) fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// The largest message a `send` may hand over without waiting.
    pub(crate) fn largest(&self) -> usize {
        self.largest.load(Ordering::Acquire)
    }

    /// Sets it from the association's settings: the largest message, or
    /// one fragment when messages are not fragmented (SCTP_DISABLE_FRAGMENTS).
    pub(super) fn set_largest(&self, config: &crate::proto::config::Config, fragment: usize) {
        let largest = if config.fragmentation {
            config.max_message_size
        } else {
            config.max_message_size.min(fragment)
        };
        self.largest.store(largest, Ordering::Release);
    }
}

/// Answers every send still waiting when an association ends: those whose
/// sender waits hear it is gone; those sent without waiting come back as
/// unsent.
pub(super) fn refuse_blocked(blocked: &mut VecDeque<PendingSend>) -> Vec<Unsent> {
    let mut unsent = Vec::new();
    for send in blocked.drain(..) {
        match send.reply {
            SendReply::Unanswered(ref count, len) => {
                count.release(len);
                unsent.push(send.message.unsent());
            }
            reply => reply.answer(Err(SendError::NotOpen)),
        }
    }
    unsent
}

impl Driver {
    /// Hands a message to association `id`, or queues it behind earlier
    /// ones while the send buffer is full or the association is still
    /// being set up.
    pub(super) fn queue_send(&mut self, id: AssocId, send: PendingSend) {
        let Some(entry) = self.assocs.get_mut(&id) else {
            self.answer(id, send, Err(SendError::NotOpen));
            return;
        };
        let queued = !entry.blocked.is_empty();
        let Some(mut assoc) = self.endpoint.association_mut(id) else {
            self.answer(id, send, Err(SendError::NotOpen));
            return;
        };
        let setting_up = matches!(
            assoc.state(),
            AssociationState::CookieWait | AssociationState::CookieEchoed
        );
        // Keep order behind messages already waiting.
        let result = if queued || setting_up {
            Err(SendError::WouldBlock)
        } else {
            send.message.send_on(&mut assoc)
        };
        match result {
            Err(SendError::WouldBlock) => {
                // Sends whose callers stopped waiting leave the queue here
                // too, so that retried sends cannot pile up: checked each
                // time the queue doubles (constant work per send, where a
                // check per send cost a pass over the queue).
                if entry.blocked.len().is_power_of_two() {
                    entry.blocked.retain(|s| !s.reply.abandoned());
                }
                entry.blocked.push_back(send);
            }
            result => self.answer(id, send, result),
        }
    }

    /// Gives a send its outcome. A sender that waits is told; a message
    /// sent without waiting that was refused comes back in a `SendFailed`
    /// notification, so that none is lost unreported.
    fn answer(&self, id: AssocId, send: PendingSend, result: Result<(), SendError>) {
        if let (SendReply::Unanswered(count, len), Err(e)) = (&send.reply, &result) {
            tracing::debug!(assoc = %id, error = %e, "a message sent without waiting was refused");
            count.release(*len);
            self.notify(id, StreamEvent::SendFailed(vec![send.message.unsent()]));
            return;
        }
        send.reply.answer(result);
    }

    /// Room opened in association `id`'s send buffer (or it came up):
    /// waiting sends go in, in order.
    pub(super) fn retry_blocked(&mut self, id: AssocId) {
        let Some(entry) = self.assocs.get_mut(&id) else {
            return;
        };
        let mut queue = std::mem::take(&mut entry.blocked);
        while let Some(send) = queue.pop_front() {
            // A message whose `send` was cancelled while it waited for room
            // is not sent: cancelling loses nothing the caller was told
            // went out.
            if send.reply.abandoned() {
                continue;
            }
            let Some(mut assoc) = self.endpoint.association_mut(id) else {
                queue.push_front(send);
                break;
            };
            let sent = send.message.send_on(&mut assoc);
            match sent {
                Err(SendError::WouldBlock) => {
                    queue.push_front(send);
                    break;
                }
                result => self.answer(id, send, result),
            }
        }
        let Some(entry) = self.assocs.get_mut(&id) else {
            return;
        };
        entry.blocked = queue;
        // A shutdown asked for while messages waited starts now that they
        // are all in the send buffer.
        if entry.blocked.is_empty()
            && std::mem::take(&mut entry.shutdown_after_blocked)
            && let Some(mut assoc) = self.endpoint.association_mut(id)
        {
            assoc.shutdown(now());
        }
    }
}
