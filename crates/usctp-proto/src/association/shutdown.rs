//! Graceful shutdown (RFC 9260 §9.2): SHUTDOWN, SHUTDOWN ACK and SHUTDOWN
//! COMPLETE, once all outstanding data is acknowledged.

use std::net::SocketAddr;
use std::time::Instant;

use super::state::{Phase, ShutdownTimers, State};
use super::{Association, AssociationError, Event, Open};
use crate::chunk::{Abort, Chunk, Shutdown, ShutdownComplete};

impl Association {
    /// Starts a graceful shutdown (§9.2): queued data is sent first.
    pub(crate) fn shutdown(&mut self, now: Instant) {
        match &mut self.state {
            State::Open(_, phase @ Phase::Established) => {
                *phase = Phase::ShutdownPending;
                self.progress_shutdown(now, None);
            }
            // Nothing was established: there is nothing to shut down.
            State::CookieWait(_) | State::CookieEchoed(_) => self.abort(b""),
            _ => {}
        }
    }

    /// Moves a shutdown on once all outstanding data is acknowledged. The
    /// SHUTDOWN goes to the primary; a SHUTDOWN ACK answers the peer's
    /// SHUTDOWN where it came from (`reply_to`, a confirmed path; §6.4's
    /// rule for replies), else to the primary.
    pub(super) fn progress_shutdown(&mut self, now: Instant, reply_to: Option<usize>) {
        let (rto, rto_max) = (self.rto(), self.config.rto_max);
        let State::Open(tcb, phase) = &mut self.state else {
            return;
        };
        if !tcb.tx.is_idle() {
            return;
        }
        match phase {
            Phase::ShutdownPending => {
                let to = tcb.paths.primary;
                let shutdown = Chunk::Shutdown(Shutdown {
                    cumulative_tsn_ack: tcb.cumulative_tsn(),
                });
                self.out
                    .send(tcb.paths.list[to].remote, tcb.peer_tag, shutdown);
                *phase = Phase::ShutdownSent(ShutdownTimers::start(now, rto, rto_max, to));
            }
            Phase::ShutdownReceived => {
                let to = reply_to.unwrap_or(tcb.paths.primary);
                self.out
                    .send(tcb.paths.list[to].remote, tcb.peer_tag, Chunk::ShutdownAck);
                *phase = Phase::ShutdownAckSent(ShutdownTimers::start(now, rto, rto_max, to));
            }
            _ => {}
        }
    }

    /// A SHUTDOWN (§9.2).
    pub(super) fn on_shutdown(&mut self, now: Instant, remote: SocketAddr, shutdown: &Shutdown) {
        let (rto, rto_max) = (self.rto(), self.config.rto_max);
        let Some(Open {
            tcb,
            phase,
            config,
            out,
            ..
        }) = self.open()
        else {
            return;
        };
        // Its cumulative TSN ack acknowledges like a SACK; one that lags
        // behind is tolerated (webrtc-sctp has sent such).
        let outcome =
            tcb.tx
                .on_cumulative_ack(now, shutdown.cumulative_tsn_ack, &mut tcb.paths.list);
        tcb.paths.on_acked(outcome, out, config.primary_failback);
        // The path the SHUTDOWN came from, if replies may go there (§5.4:
        // only HEARTBEATs to an unconfirmed address).
        let source = tcb
            .paths
            .index_of(remote)
            .filter(|&i| tcb.paths.list[i].confirmed);
        let reply = source.map_or(remote, |i| tcb.paths.list[i].remote);
        match phase {
            Phase::Established | Phase::ShutdownPending => {
                *phase = Phase::ShutdownReceived;
                out.event(Event::ShutdownStarted);
                self.progress_shutdown(now, source);
            }
            Phase::ShutdownSent(_) => {
                // Both ends shut down at once: acknowledge.
                out.send(reply, tcb.peer_tag, Chunk::ShutdownAck);
                let to = source.unwrap_or(tcb.paths.primary);
                *phase = Phase::ShutdownAckSent(ShutdownTimers::start(now, rto, rto_max, to));
            }
            Phase::ShutdownReceived => self.progress_shutdown(now, source),
            Phase::ShutdownAckSent(_) => {
                out.send(reply, tcb.peer_tag, Chunk::ShutdownAck);
            }
        }
    }

    /// A SHUTDOWN ACK (§9.2): answered with SHUTDOWN COMPLETE, and the
    /// association closes; in other states it is stale and ignored.
    /// Returns whether the association closed.
    pub(super) fn on_shutdown_ack(&mut self, remote: SocketAddr) -> bool {
        let State::Open(tcb, Phase::ShutdownSent(_) | Phase::ShutdownAckSent(_)) = &self.state
        else {
            return false;
        };
        let complete = Chunk::ShutdownComplete(ShutdownComplete::default());
        self.out.send(remote, tcb.peer_tag, complete);
        self.close_quietly();
        self.out.event(Event::ShutdownComplete);
        true
    }

    /// A SHUTDOWN COMPLETE (§9.2) in SHUTDOWN-ACK-SENT ends the
    /// association. Returns whether it closed.
    pub(super) fn on_shutdown_complete(&mut self) -> bool {
        if !matches!(self.state, State::Open(_, Phase::ShutdownAckSent(_))) {
            return false;
        }
        self.close_quietly();
        self.out.event(Event::ShutdownComplete);
        true
    }

    /// T2-shutdown and the T5 guard (§9.2). Returns whether other timers
    /// may still be due.
    pub(super) fn shutdown_timeout(&mut self, now: Instant) -> bool {
        let (assoc_max, rto_max) = (self.config.association_max_retrans, self.config.rto_max);
        let State::Open(tcb, phase) = &mut self.state else {
            return true;
        };
        let Some(timers) = phase.timers() else {
            return true;
        };
        let peer_tag = tcb.peer_tag;
        // §9.2: T5-shutdown-guard ends a shutdown that does not finish.
        if now >= timers.guard {
            let to = tcb.paths.primary_remote();
            self.out.send(to, peer_tag, Chunk::Abort(Abort::default()));
            self.close(AssociationError::ShutdownTimeout);
            return false;
        }
        if now < timers.t2.deadline {
            return true;
        }
        // §9.2: T2-shutdown retransmits SHUTDOWN or SHUTDOWN ACK; the
        // retransmissions count against Association.Max.Retrans. Like a
        // timed-out DATA chunk (§6.4.1), the retransmission goes to an
        // active address other than the last one when there is one: the
        // last may be the path that failed.
        let retransmission = match phase {
            Phase::ShutdownSent(_) => Chunk::Shutdown(Shutdown {
                cumulative_tsn_ack: tcb.cumulative_tsn(),
            }),
            _ => Chunk::ShutdownAck,
        };
        let (Phase::ShutdownSent(t) | Phase::ShutdownAckSent(t)) = phase else {
            return true;
        };
        if !t.t2.expire(now, assoc_max, rto_max) {
            self.close(AssociationError::ShutdownTimeout);
            return false;
        }
        let to = tcb
            .paths
            .best_alternate(t.sent_to)
            .unwrap_or(tcb.paths.primary);
        t.sent_to = to;
        self.out
            .send(tcb.paths.list[to].remote, peer_tag, retransmission);
        true
    }
}
