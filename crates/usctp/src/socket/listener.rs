//! One-to-one listeners: [`SctpListener`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{ListenOptions, SctpStream};
use crate::driver::{AcceptQueue, Command};
use crate::endpoint::{Endpoint, stopped};
use crate::proto::config::Config;

/// Accepts associations on one SCTP port of an endpoint (lksctp's
/// SOCK_STREAM `listen` and `accept`). Associations peers set up wait in a
/// queue of at most the backlog for `accept`; while it is full, new ones
/// are refused (with an Out of Resource error, RFC 9260 §3.3.10.4).
/// Dropping the listener stops accepting and shuts down the associations
/// still waiting; accepted streams go on.
#[derive(Debug)]
pub struct SctpListener {
    endpoint: Endpoint,
    port: u16,
    queue: Arc<AcceptQueue>,
    linger: Option<Duration>,
}

impl SctpListener {
    pub(crate) fn new(
        endpoint: Endpoint,
        port: u16,
        queue: Arc<AcceptQueue>,
        linger: Option<Duration>,
    ) -> Self {
        Self {
            endpoint,
            port,
            queue,
            linger,
        }
    }

    /// Binds a UDP socket to `bind` and accepts associations on SCTP
    /// `port`.
    pub async fn bind(bind: SocketAddr, port: u16, config: Config) -> io::Result<Self> {
        Self::bind_with_limit(bind, port, config, usize::MAX).await
    }

    /// As [`bind`](Self::bind), holding at most `max_associations` at once
    /// (further INITs are answered with an ABORT, Out of Resource).
    pub async fn bind_with_limit(
        bind: SocketAddr,
        port: u16,
        config: Config,
        max_associations: usize,
    ) -> io::Result<Self> {
        let options = ListenOptions {
            config,
            max_associations,
            ..ListenOptions::default()
        };
        Self::bind_with(bind, port, options).await
    }

    /// As [`bind`](Self::bind), with every option.
    pub async fn bind_with(
        bind: SocketAddr,
        port: u16,
        options: ListenOptions,
    ) -> io::Result<Self> {
        let endpoint = Endpoint::bind(bind, options.endpoint())?;
        endpoint.listen(port, options).await
    }

    /// The UDP address peers send to (the endpoint's first).
    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint.local_addr()
    }

    /// The SCTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint the listener runs on: more listeners, one-to-many
    /// sockets and client associations can share its UDP socket.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The next association a peer set up, with the peer's primary
    /// address. Cancel-safe.
    pub async fn accept(&self) -> io::Result<(SctpStream, SocketAddr)> {
        loop {
            let ready = self.queue.ready.notified();
            let next = self.queue.queue.lock().ok().and_then(|mut q| q.pop_front());
            if let Some(accepted) = next {
                // Room in the queue again: the endpoint may resume
                // accepting.
                self.endpoint
                    .handle
                    .send(Command::Accepted { port: self.port });
                let peer = accepted.peer;
                let stream = SctpStream::new(self.endpoint.clone(), accepted, self.linger);
                return Ok((stream, peer));
            }
            if self.queue.closed.load(Ordering::Acquire)
                || self.endpoint.handle.commands.is_closed()
            {
                return Err(stopped());
            }
            ready.await;
        }
    }
}

impl Drop for SctpListener {
    fn drop(&mut self) {
        self.endpoint
            .handle
            .send(Command::Unlisten { port: self.port });
    }
}
