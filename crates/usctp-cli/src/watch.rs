//! Notifications as `-v` prints them, on every subcommand: one line each,
//! with the seconds since the command started and the association.

use tokio::time::Instant;
use usctp::AssocId;
use usctp::proto::association::PathChange;
use usctp::socket::StreamEvent;

/// Watches associations' notifications while a command works: prints them
/// when verbose and counts failovers.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    start: Instant,
    verbose: bool,
    pub failovers: usize,
}

impl Watch {
    pub fn new(start: Instant, verbose: bool) -> Self {
        Self {
            start,
            verbose,
            failovers: 0,
        }
    }

    /// Notes a notification of association `id` (messages are not
    /// notifications and are ignored).
    pub fn note(&mut self, id: AssocId, event: &StreamEvent) {
        if let StreamEvent::PathChange {
            change: PathChange::MadePrimary,
            ..
        } = event
        {
            self.failovers += 1;
        }
        if self.verbose
            && let Some(text) = describe(event)
        {
            let t = self.start.elapsed().as_secs_f64();
            eprintln!("{t:9.3} s  association {id}: {text}");
        }
    }
}

/// A notification in words; `None` for a message.
fn describe(event: &StreamEvent) -> Option<String> {
    Some(match event {
        StreamEvent::Message(_) => return None,
        StreamEvent::Up(e) => format!(
            "up, {} outbound / {} inbound streams, peer {:?}",
            e.outbound_streams, e.inbound_streams, e.peer_addresses
        ),
        StreamEvent::Restart(_) => "the peer restarted".into(),
        StreamEvent::RemoteError(causes) => format!("the peer reported {causes:?}"),
        StreamEvent::ShutdownStarted => "the peer shuts down".into(),
        StreamEvent::SendFailed(unsent) => format!("{} message(s) not delivered", unsent.len()),
        StreamEvent::PathChange { address, change } => format!("path {address} {change}"),
        StreamEvent::SenderDry => "everything sent is acknowledged".into(),
        StreamEvent::AdaptationIndication(code) => format!("adaptation layer indication {code:#x}"),
        StreamEvent::PartialDeliveryAborted { stream, ssn } => {
            format!("partial delivery aborted on stream {stream}, SSN {ssn}")
        }
        StreamEvent::NotificationsLost(n) => format!("{n} notification(s) dropped (queue full)"),
        StreamEvent::Closed(None) => "closed gracefully".into(),
        StreamEvent::Closed(Some(e)) => format!("closed: {e}"),
        other => format!("{other:?}"),
    })
}
