//! The liveness invariant: an association that is not closed never waits
//! on nothing. Whatever it still owes the peer (data not yet acknowledged,
//! data not yet sent, an acknowledgement of DATA received) has a timer or
//! an output that will move it; the handshake and shutdown timers (T1, T2,
//! T5) are carried by the states themselves, so those states cannot lack
//! them.
//!
//! The endpoint checks it whenever it has drained an association's
//! packets, in builds with debug assertions and in the fuzz targets: a
//! violation panics there with what is wrong, long before a user would see
//! a message stuck on a live association.

use super::Association;
use super::state::State;

impl Association {
    /// What this association waits on without a timer, if anything. Call
    /// when `poll_transmit` has returned `None`.
    pub(crate) fn liveness_violation(&self) -> Option<String> {
        // Before data transfer only the state's own timer matters, and the
        // state carries it.
        let State::Open(tcb, phase) = &self.state else {
            return None;
        };
        if tcb.acks.owes_without_timer() {
            return Some("DATA arrived and no SACK is due".into());
        }
        if let Err(why) = tcb.tx.liveness(&tcb.paths.list) {
            return Some(why);
        }
        // Unsent data and retransmissions wait only for the window: a SACK
        // (hence T3-rtx on a path with data in flight) or the end of a send
        // block must come.
        let timer = tcb
            .paths
            .list
            .iter()
            .any(|p| p.t3.is_some() || p.blocked_until.is_some());
        if tcb.tx.has_pending() && !timer {
            let why = if phase.sends_data() {
                "data waits to be sent with nothing in flight and no send block"
            } else {
                "data waits to be sent in a state that sends none"
            };
            return Some(why.into());
        }
        None
    }
}
