//! An endpoint: UDP sockets (one per local address) and every SCTP port
//! and association on them, driven by a thread of its own or, with
//! [`EndpointOptions::on_current_runtime`], by a task on the caller's runtime.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use crate::driver::{self, AcceptQueue, Command, Handle, Listener, Spawn, StreamSpec};
use crate::inbox::Inbox;
use crate::proto::endpoint::ConnectOptions as CoreConnect;
use crate::socket::{
    ConnectOptions, EndpointOptions, ListenOptions, SctpListener, SctpSocket, SctpStream,
};

/// An SCTP endpoint over UDP (RFC 6951): one UDP socket per local address
/// serves any number of SCTP ports (listeners and one-to-many sockets) and
/// client associations, as a kernel's single encapsulation port does.
/// Cheap to clone; it stops once every clone, listener, socket and stream
/// made from it is gone and its associations have closed (the shared
/// endpoint, [`Endpoint::shared`], lives as long as the process).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub(crate) handle: Handle,
}

impl Endpoint {
    /// Binds the UDP socket(s): `local`, and `options.also_bind` on the
    /// same UDP port (multi-homing; the explicitly given addresses are
    /// advertised to peers, a wildcard address advertises nothing).
    pub fn bind(local: SocketAddr, options: EndpointOptions) -> io::Result<Self> {
        let first = driver::bind_std(local)?;
        let port = first.local_addr()?.port();
        let mut sockets = vec![first];
        for &also in &options.also_bind {
            let mut also = also;
            if also.port() == 0 {
                also.set_port(port);
            }
            sockets.push(driver::bind_std(also)?);
        }
        let advertise: Vec<IpAddr> = if options.also_bind.is_empty() {
            Vec::new()
        } else {
            std::iter::once(local)
                .chain(options.also_bind.iter().copied())
                .map(|a| a.ip())
                .filter(|ip| !ip.is_unspecified())
                .collect()
        };
        let handle = driver::spawn(Spawn {
            sockets,
            config: options.config.clone(),
            advertise,
            recorder: options.recorder(),
            on_current_runtime: options.on_current_runtime,
        })?;
        Ok(Self { handle })
    }

    /// The process's shared endpoint for associations that ask for nothing
    /// of their own: bound to every address on an ephemeral UDP port
    /// (dual-stack where the system allows), made on first use.
    pub fn shared() -> io::Result<Self> {
        static SHARED: Mutex<Option<Endpoint>> = Mutex::new(None);
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        // Its driver may have stopped abnormally: then a new one is made.
        if let Some(endpoint) = shared.as_ref().filter(|e| !e.handle.commands.is_closed()) {
            return Ok(endpoint.clone());
        }
        let endpoint = Self::bind(
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
            EndpointOptions::default(),
        )
        .or_else(|_| {
            Self::bind(
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                EndpointOptions::default(),
            )
        })?;
        *shared = Some(endpoint.clone());
        Ok(endpoint)
    }

    /// The first local UDP address (the encapsulation port peers use).
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addrs[0]
    }

    /// Every local UDP address.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.handle.local_addrs.to_vec()
    }

    /// Accepts associations on SCTP `port` (one-to-one style).
    pub async fn listen(&self, port: u16, options: ListenOptions) -> io::Result<SctpListener> {
        let queue = Arc::new(AcceptQueue::new(options.backlog));
        let spec = StreamSpec {
            notifications: options.events,
        };
        let listener = Listener::OneToOne {
            queue: queue.clone(),
            spec,
        };
        self.listen_as(port, options.max_associations, listener)
            .await?;
        Ok(SctpListener::new(self.clone(), port, queue, options.linger))
    }

    /// A one-to-many socket on SCTP `port` (lksctp's SOCK_SEQPACKET).
    pub async fn socket(&self, port: u16, options: ListenOptions) -> io::Result<SctpSocket> {
        let inbox = Arc::new(Inbox::new(options.events, options.receive_buffer));
        let listener = Listener::OneToMany {
            inbox: inbox.clone(),
        };
        self.listen_as(port, options.max_associations, listener)
            .await?;
        Ok(SctpSocket::new(self.clone(), port, inbox, options.linger))
    }

    /// Puts `listener` on SCTP `port`.
    async fn listen_as(
        &self,
        port: u16,
        max_associations: usize,
        listener: Listener,
    ) -> io::Result<()> {
        let answer = self
            .handle
            .ask(|reply| Command::Listen {
                port,
                max_associations,
                listener,
                reply,
            })
            .await;
        answer.unwrap_or_else(|| Err(stopped()))?.disarm();
        Ok(())
    }

    /// Starts an association with the peer at UDP address `remote`, SCTP
    /// port `port`, from this endpoint, and waits until it is up.
    pub async fn connect(
        &self,
        remote: SocketAddr,
        port: u16,
        options: ConnectOptions,
    ) -> io::Result<SctpStream> {
        let core = CoreConnect::default()
            .with_local_port((options.port != 0).then_some(options.port))
            .with_peer_addresses(options.peer_addresses.clone())
            .with_config(Some(options.config.clone()));
        let spec = StreamSpec {
            notifications: options.events,
        };
        let answer = self
            .handle
            .ask(|reply| Command::Connect {
                remote,
                port,
                options: Box::new(core),
                spec,
                reply,
            })
            .await;
        let accepted = answer.unwrap_or_else(|| Err(stopped()))?;
        Ok(SctpStream::new(self.clone(), accepted, options.linger))
    }
}

pub(crate) fn stopped() -> io::Error {
    io::Error::other("endpoint stopped")
}
