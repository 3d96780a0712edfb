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
                self.progress_shutdown(now);
            }
            // Nothing was established: there is nothing to shut down.
            State::CookieWait(_) | State::CookieEchoed(_) => self.abort(b""),
            _ => {}
        }
    }

    /// Moves a shutdown on once all outstanding data is acknowledged.
    pub(super) fn progress_shutdown(&mut self, now: Instant) {
        let (rto, rto_max) = (self.rto(), self.config.rto_max);
        let State::Open(tcb, phase) = &mut self.state else {
            return;
        };
        if !tcb.tx.is_idle() {
            return;
        }
        let primary = tcb.paths.primary_remote();
        match phase {
            Phase::ShutdownPending => {
                let shutdown = Chunk::Shutdown(Shutdown {
                    cumulative_tsn_ack: tcb.cumulative_tsn(),
                });
                self.out.send(primary, tcb.peer_tag, shutdown);
                *phase = Phase::ShutdownSent(ShutdownTimers::start(now, rto, rto_max));
            }
            Phase::ShutdownReceived => {
                self.out.send(primary, tcb.peer_tag, Chunk::ShutdownAck);
                *phase = Phase::ShutdownAckSent(ShutdownTimers::start(now, rto, rto_max));
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
        match phase {
            Phase::Established | Phase::ShutdownPending => {
                *phase = Phase::ShutdownReceived;
                out.event(Event::ShutdownStarted);
                self.progress_shutdown(now);
            }
            Phase::ShutdownSent(_) => {
                // Both ends shut down at once: acknowledge.
                out.send(remote, tcb.peer_tag, Chunk::ShutdownAck);
                *phase = Phase::ShutdownAckSent(ShutdownTimers::start(now, rto, rto_max));
            }
            Phase::ShutdownReceived => self.progress_shutdown(now),
            Phase::ShutdownAckSent(_) => {
                out.send(remote, tcb.peer_tag, Chunk::ShutdownAck);
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
        let primary = tcb.paths.primary_remote();
        let peer_tag = tcb.peer_tag;
        // §9.2: T5-shutdown-guard ends a shutdown that does not finish.
        if now >= timers.guard {
            self.out
                .send(primary, peer_tag, Chunk::Abort(Abort::default()));
            self.close(AssociationError::ShutdownTimeout);
            return false;
        }
        if now < timers.t2.deadline {
            return true;
        }
        // §9.2: T2-shutdown retransmits SHUTDOWN or SHUTDOWN ACK; the
        // retransmissions count against Association.Max.Retrans.
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
        self.out.send(primary, peer_tag, retransmission);
        true
    }
}
