//! Graceful shutdown (RFC 9260 §9.2): SHUTDOWN, SHUTDOWN ACK and SHUTDOWN
//! COMPLETE, once all outstanding data is acknowledged.

use std::net::SocketAddr;
use std::time::Instant;

use super::{Association, Backoff, Event, State};
use crate::chunk::{Chunk, Shutdown};

impl Association {
    /// Starts a graceful shutdown (§9.2): queued data is sent first.
    pub fn shutdown(&mut self, now: Instant) {
        if matches!(self.state, State::Established) {
            self.state = State::ShutdownPending;
            self.progress_shutdown(now);
        } else if matches!(
            self.state,
            State::CookieWait { .. } | State::CookieEchoed { .. }
        ) {
            // Nothing was established: there is nothing to shut down.
            self.abort(b"");
        }
    }

    /// Moves a shutdown on once all outstanding data is acknowledged.
    pub(super) fn progress_shutdown(&mut self, now: Instant) {
        let idle = self.data.as_ref().is_none_or(|d| d.tx.is_idle());
        if !idle {
            return;
        }
        let rto = self.rto();
        let guard = now + 5 * self.config.rto_max;
        let primary = self.primary_remote();
        match self.state {
            State::ShutdownPending => {
                let cum = self.cumulative_tsn();
                self.queue(
                    primary,
                    self.peer_tag,
                    Chunk::Shutdown(Shutdown {
                        cumulative_tsn_ack: cum,
                    }),
                );
                self.state = State::ShutdownSent {
                    t2: Backoff::start(now, rto),
                    guard,
                };
            }
            State::ShutdownReceived => {
                self.queue(primary, self.peer_tag, Chunk::ShutdownAck);
                self.state = State::ShutdownAckSent {
                    t2: Backoff::start(now, rto),
                    guard,
                };
            }
            _ => {}
        }
    }

    /// A SHUTDOWN (§9.2).
    pub(super) fn on_shutdown(&mut self, now: Instant, remote: SocketAddr, shutdown: &Shutdown) {
        // Its cumulative TSN ack acknowledges like a SACK; one that lags
        // behind is tolerated (webrtc-sctp has sent such).
        if let Some(path) = &mut self.data {
            let outcome =
                path.tx
                    .on_cumulative_ack(now, shutdown.cumulative_tsn_ack, &mut self.paths);
            self.on_acked(outcome);
        }
        match self.state {
            State::Established | State::ShutdownPending => {
                self.state = State::ShutdownReceived;
                self.events.push_back(Event::ShutdownStarted);
                self.progress_shutdown(now);
            }
            State::ShutdownSent { .. } => {
                // Both ends shut down at once: acknowledge.
                let rto = self.rto();
                self.queue(remote, self.peer_tag, Chunk::ShutdownAck);
                self.state = State::ShutdownAckSent {
                    t2: Backoff::start(now, rto),
                    guard: now + 5 * self.config.rto_max,
                };
            }
            State::ShutdownReceived => self.progress_shutdown(now),
            State::ShutdownAckSent { .. } => {
                self.queue(remote, self.peer_tag, Chunk::ShutdownAck);
            }
            _ => {}
        }
    }
}
