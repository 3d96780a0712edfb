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

impl Association {
    /// What this association waits on without a timer, if anything. Call
    /// when `poll_transmit` has returned `None`.
    pub(crate) fn liveness_violation(&self) -> Option<String> {
        if self.is_closed() {
            return None;
        }
        // Before data transfer only the state's own timer matters.
        let data = self.data.as_ref()?;
        if data.unacknowledged && !data.sack_now && data.sack_deadline.is_none() {
            return Some("DATA arrived and no SACK is due".into());
        }
        if let Err(why) = data.tx.liveness(&self.paths) {
            return Some(why);
        }
        // Unsent data and retransmissions wait only for the window: a SACK
        // (hence T3-rtx on a path with data in flight) or the end of a send
        // block must come.
        let timer = self
            .paths
            .iter()
            .any(|p| p.t3.is_some() || p.blocked_until.is_some());
        if data.tx.has_pending() && !timer {
            let why = if self.can_send_data() {
                "data waits to be sent with nothing in flight and no send block"
            } else {
                "data waits to be sent in a state that sends none"
            };
            return Some(why.into());
        }
        None
    }
}
