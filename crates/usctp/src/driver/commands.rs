//! The users' commands: what they are, and how the driver carries each
//! out on the endpoint.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use super::sends::{Outgoing, PendingSend, SendReply, Unanswered};
use super::{
    Accepted, Assoc, Connecting, Driver, Listener, Orphan, Orphaned, Reply, StreamSpec, wake,
};
use crate::inbox::Inbox;
use crate::proto::association::{AssocId, AssociationState, Counters, PathInfo, SendError, Status};
use crate::proto::config::Config;
use crate::proto::endpoint::ConnectOptions;

/// What a query asks of an association.
#[derive(Debug)]
pub(crate) enum Query {
    Status(Reply<Option<Status>>),
    Paths(Reply<Vec<PathInfo>>),
    Counters(Reply<Option<Counters>>),
    Config(Reply<Option<Config>>),
}

pub(crate) enum Command {
    /// Starts an association (a one-to-one stream's, or a one-to-many
    /// socket's on `from_port`).
    Connect {
        remote: SocketAddr,
        port: u16,
        options: Box<ConnectOptions>,
        spec: StreamSpec,
        reply: Reply<std::io::Result<Accepted>>,
    },
    /// A one-to-one listener or a one-to-many socket on SCTP `port`.
    Listen {
        port: u16,
        max_associations: usize,
        listener: Listener,
        reply: Reply<std::io::Result<Orphan>>,
    },
    /// The listener or socket on `port` is gone.
    Unlisten {
        port: u16,
    },
    /// The user took an association from `port`'s accept queue.
    Accepted {
        port: u16,
    },
    Send {
        id: AssocId,
        message: Outgoing,
        reply: Reply<Result<(), SendError>>,
    },
    /// A `send` that does not wait for the answer (the stream validated
    /// it and counted it in `unanswered`).
    SendUnanswered {
        id: AssocId,
        message: Outgoing,
        unanswered: Arc<Unanswered>,
    },
    /// One-to-many: a message to a peer, setting an association up on
    /// first use (like `sendmsg` on an SCTP_SEQPACKET socket).
    SendTo {
        port: u16,
        to: SocketAddr,
        peer_port: u16,
        message: Outgoing,
        reply: Reply<Result<AssocId, SendError>>,
    },
    /// One-to-many: an association without data (sctp_connectx).
    ConnectFrom {
        port: u16,
        to: SocketAddr,
        peer_port: u16,
        peer_addresses: Vec<IpAddr>,
        reply: Reply<std::io::Result<AssocId>>,
    },
    /// The user consumed messages of `inbox`: release their bytes.
    Release {
        inbox: Arc<Inbox>,
    },
    /// Nobody will read association `id`'s messages any more (its
    /// receiving half is gone): drop them, and the ones to come.
    Discard {
        id: AssocId,
    },
    /// What the driver made for a user who was gone when it came.
    Orphaned(Orphaned),
    Peeloff {
        id: AssocId,
        spec: StreamSpec,
        reply: Reply<Option<Accepted>>,
    },
    Shutdown {
        id: AssocId,
    },
    Abort {
        id: AssocId,
        reason: bytes::Bytes,
    },
    Query {
        id: AssocId,
        query: Query,
    },
    SetPrimary {
        id: AssocId,
        address: SocketAddr,
        reply: Reply<bool>,
    },
    SetConfig {
        id: AssocId,
        config: Box<Config>,
        reply: Reply<std::io::Result<()>>,
    },
    /// Answers once everything sent on `id` is acknowledged (or it ended).
    WhenDrained {
        id: AssocId,
        reply: Reply<()>,
    },
}

impl Driver {
    /// Starts a graceful shutdown of `id`: what was sent goes first.
    pub(super) fn shutdown(&mut self, id: AssocId, t: Instant) {
        if let Some(entry) = self.assocs.get_mut(&id)
            && !entry.blocked.is_empty()
        {
            entry.shutdown_after_blocked = true;
            return;
        }
        if let Some(mut assoc) = self.endpoint.association_mut(id) {
            assoc.shutdown(t);
        }
    }

    /// Carries out a user's command at time `t`.
    pub(super) fn command(&mut self, command: Command, t: Instant) {
        match command {
            Command::Connect {
                remote,
                port,
                options,
                spec,
                reply,
            } => self.connect(t, remote, port, *options, spec, reply),
            Command::Listen {
                port,
                max_associations,
                listener,
                reply,
            } => {
                let result = self.add_listener(port, max_associations, listener);
                self.answer_listen(port, result, reply, t);
            }
            Command::Unlisten { port } => self.unlisten(port, t),
            Command::Accepted { port } => {
                if let Some(Listener::OneToOne { queue, .. }) = self.listeners.get(&port)
                    && queue.len() < queue.backlog
                {
                    self.endpoint.pause_accepting(port, false);
                }
            }
            Command::Send { id, message, reply } => {
                let reply = SendReply::Plain(reply);
                self.queue_send(id, PendingSend { message, reply });
            }
            Command::SendUnanswered {
                id,
                message,
                unanswered,
            } => {
                let reply = SendReply::Unanswered(unanswered, message.data.len());
                self.queue_send(id, PendingSend { message, reply });
            }
            Command::SendTo {
                port,
                to,
                peer_port,
                message,
                reply,
            } => {
                let id = match self.one_to_many_association(t, port, to, peer_port, Vec::new()) {
                    Ok(id) => id,
                    Err(e) => {
                        let _ = reply.send(Err(crate::error::setup_failed(&e)));
                        return;
                    }
                };
                let reply = SendReply::To(id, reply);
                self.queue_send(id, PendingSend { message, reply });
            }
            Command::ConnectFrom {
                port,
                to,
                peer_port,
                peer_addresses,
                reply,
            } => {
                let result = self.one_to_many_association(t, port, to, peer_port, peer_addresses);
                let _ = reply.send(result);
            }
            Command::Release { inbox } => self.release(&inbox),
            Command::Discard { id } => self.discard(id),
            Command::Orphaned(what) => self.orphaned(what, t),
            Command::Peeloff { id, spec, reply } => {
                // Nobody waits for it any more: it is shut down.
                if let Err(Some(mut accepted)) = reply.send(self.peel_off(id, spec)) {
                    accepted.orphan.disarm();
                    self.orphaned(Orphaned::Association(id), t);
                }
            }
            Command::Shutdown { id } => self.shutdown(id, t),
            Command::Abort { id, reason } => self.endpoint.abort(id, &reason),
            Command::Query { id, query } => self.query(id, query),
            Command::SetPrimary { id, address, reply } => {
                let done = self
                    .endpoint
                    .association_mut(id)
                    .is_some_and(|mut a| a.set_primary(address));
                let _ = reply.send(done);
            }
            Command::SetConfig { id, config, reply } => {
                let result = match self.endpoint.association_mut(id) {
                    Some(mut a) => a
                        .set_config(*config)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e)),
                    None => Err(std::io::Error::new(
                        std::io::ErrorKind::NotConnected,
                        "the association has ended",
                    )),
                };
                if let (Some(entry), Some(assoc)) =
                    (self.assocs.get(&id), self.endpoint.association(id))
                {
                    let fragment = assoc.status().fragmentation_point;
                    entry.unanswered.set_largest(assoc.config(), fragment);
                }
                let _ = reply.send(result);
            }
            Command::WhenDrained { id, reply } => self.when_drained(id, reply),
        }
    }

    /// Answers a `listen` or `socket`. A caller that stopped waiting will
    /// never unlisten: that is done now if it is gone already, or by the
    /// guard in the answer if it goes before taking it.
    fn answer_listen(
        &mut self,
        port: u16,
        result: std::io::Result<()>,
        reply: Reply<std::io::Result<Orphan>>,
        t: Instant,
    ) {
        let answer = result.map(|()| self.orphan(Orphaned::Port(port)));
        if let Err(Ok(mut orphan)) = reply.send(answer) {
            orphan.disarm();
            self.orphaned(Orphaned::Port(port), t);
        }
    }

    /// Undoes what was made for a user who is gone.
    pub(super) fn orphaned(&mut self, what: Orphaned, t: Instant) {
        match what {
            Orphaned::Association(id) => {
                self.discard(id);
                self.shutdown(id, t);
            }
            Orphaned::Port(port) => self.unlisten(port, t),
        }
    }

    /// Starts a one-to-one association; `reply` is answered once it is up
    /// (or could not be set up).
    pub(super) fn connect(
        &mut self,
        t: Instant,
        remote: SocketAddr,
        port: u16,
        options: ConnectOptions,
        spec: StreamSpec,
        reply: Reply<std::io::Result<Accepted>>,
    ) {
        let retransmits = options
            .config
            .as_ref()
            .unwrap_or_else(|| self.endpoint.config())
            .max_init_retransmits;
        match self.endpoint.connect_with(t, remote, port, options) {
            Ok(id) => {
                let inbox = Arc::new(Inbox::new(spec.notifications, usize::MAX));
                let mut entry = Assoc::new(inbox, false);
                entry.connecting = Some(Connecting {
                    remote,
                    attempts: retransmits + 1,
                    reply,
                });
                self.assocs.insert(id, entry);
            }
            Err(e) => {
                use crate::proto::endpoint::ConnectError;
                let kind = match e {
                    ConnectError::InvalidPort | ConnectError::InvalidConfig(_) => {
                        std::io::ErrorKind::InvalidInput
                    }
                    _ => std::io::ErrorKind::AddrInUse,
                };
                let _ = reply.send(Err(std::io::Error::new(kind, e)));
            }
        }
    }

    /// Wakes `waiter` once association `id` has nothing unacknowledged and
    /// no send waiting for room (at once if that is so already).
    pub(super) fn when_drained(&mut self, id: AssocId, waiter: Reply<()>) {
        let idle = self
            .endpoint
            .association(id)
            .is_none_or(|a| a.buffered_amount() == 0 || a.state() == AssociationState::Closed);
        match self.assocs.get_mut(&id) {
            Some(entry) if !idle || !entry.blocked.is_empty() => entry.drained.push(waiter),
            _ => wake(waiter),
        }
    }

    /// The listener or one-to-many socket on `port` is gone: associations
    /// never accepted, or the socket's, are shut down.
    pub(super) fn unlisten(&mut self, port: u16, t: Instant) {
        self.endpoint.stop_listening(port);
        match self.listeners.remove(&port) {
            Some(Listener::OneToOne { queue, .. }) => {
                queue.close();
                let waiting: Vec<Accepted> = queue
                    .queue
                    .lock()
                    .map(|mut q| q.drain(..).collect())
                    .unwrap_or_default();
                for mut a in waiting {
                    a.orphan.disarm();
                    self.discard(a.id);
                    self.shutdown(a.id, t);
                }
            }
            Some(Listener::OneToMany { inbox }) => {
                let ids: Vec<AssocId> = self
                    .assocs
                    .iter()
                    .filter(|(_, a)| a.shared && Arc::ptr_eq(&a.inbox, &inbox))
                    .map(|(&id, _)| id)
                    .collect();
                if ids.is_empty() {
                    inbox.finish();
                }
                for id in ids {
                    self.discard(id);
                    self.shutdown(id, t);
                }
            }
            None => {}
        }
    }

    /// Whether a one-to-many socket's inbox still has a user: its socket,
    /// or an association of it.
    pub(super) fn inbox_in_use(&self, inbox: &Arc<Inbox>) -> bool {
        self.listeners
            .values()
            .any(|l| matches!(l, Listener::OneToMany { inbox: i } if Arc::ptr_eq(i, inbox)))
            || self.assocs.values().any(|a| Arc::ptr_eq(&a.inbox, inbox))
    }

    pub(super) fn add_listener(
        &mut self,
        port: u16,
        max: usize,
        listener: Listener,
    ) -> std::io::Result<()> {
        if port == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "SCTP port 0 is reserved (RFC 9260 §3.1)",
            ));
        }
        if self.listeners.contains_key(&port) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("SCTP port {port} is already listening on this endpoint"),
            ));
        }
        self.endpoint.listen_on(port, max);
        self.listeners.insert(port, listener);
        Ok(())
    }

    /// The association a one-to-many socket on `port` has with the peer,
    /// set up if there is none.
    pub(super) fn one_to_many_association(
        &mut self,
        t: Instant,
        port: u16,
        to: SocketAddr,
        peer_port: u16,
        peer_addresses: Vec<IpAddr>,
    ) -> std::io::Result<AssocId> {
        if let Some(id) = self.endpoint.association_on(port, to, peer_port) {
            return Ok(id);
        }
        let Some(Listener::OneToMany { inbox }) = self.listeners.get(&port) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the socket has closed",
            ));
        };
        let inbox = inbox.clone();
        let options = ConnectOptions::default()
            .with_local_port(Some(port))
            .with_peer_addresses(peer_addresses)
            .with_config(None);
        let id = self
            .endpoint
            .connect_with(t, to, peer_port, options)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::AddrInUse, e))?;
        self.assocs.insert(id, Assoc::new(inbox, true));
        Ok(id)
    }

    pub(super) fn query(&self, id: AssocId, query: Query) {
        let assoc = self.endpoint.association(id);
        match query {
            Query::Status(reply) => {
                let _ = reply.send(assoc.map(|a| a.status()));
            }
            Query::Paths(reply) => {
                let _ = reply.send(assoc.map(|a| a.paths()).unwrap_or_default());
            }
            Query::Counters(reply) => {
                let _ = reply.send(assoc.map(|a| a.counters()));
            }
            Query::Config(reply) => {
                let _ = reply.send(assoc.map(|a| a.config().clone()));
            }
        }
    }
}
