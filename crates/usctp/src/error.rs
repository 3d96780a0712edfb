//! The errors the driver adds to the core's: what an [`std::io::Error`]
//! from a connect carries, and how it becomes a [`SendError`].

use std::net::SocketAddr;

use crate::{AssociationError, SendError};
use usctp_proto::endpoint::ConnectError;

/// No answer from a peer: the INITs (or COOKIE ECHOs) of an association
/// this end started all went unanswered. The [`std::io::Error`] (kind
/// `TimedOut`) that connect returns carries it; its source says which
/// chunk went unanswered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not reach {remote} after {attempts} attempts")]
#[non_exhaustive]
pub struct Unreachable {
    /// The address the association was started towards.
    pub remote: SocketAddr,
    /// How many INITs (or COOKIE ECHOs) were sent.
    pub attempts: u32,
    /// Which of the two went unanswered.
    #[source]
    pub cause: AssociationError,
}

/// The [`SendError`] for a one-to-many send whose association did not come
/// up with `error`.
pub(crate) fn setup_failed(error: &std::io::Error) -> SendError {
    let inner = error.get_ref();
    if let Some(e) = inner.and_then(|e| e.downcast_ref::<ConnectError>()) {
        SendError::SetupRefused(e.clone())
    } else if let Some(e) = inner.and_then(|e| e.downcast_ref::<AssociationError>()) {
        SendError::SetupFailed(e.clone())
    } else if let Some(e) = inner.and_then(|e| e.downcast_ref::<Unreachable>()) {
        SendError::SetupFailed(e.cause.clone())
    } else {
        SendError::NotOpen
    }
}
