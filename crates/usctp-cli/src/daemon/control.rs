//! Control requests: socket, bind, listen, connect, socket options and
//! names, answered as Linux's SCTP answers them (its structures, its
//! errno values; RFC 6458 as Linux implements it).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use usctp::proto::association::Established;
use usctp::proto::config::Config;
use usctp::socket::{ConnectOptions, ListenOptions, Monitor, Notifications};
use usctp_lksctp::abi::{self, SendParams, errno, opt};
use usctp_lksctp::addr::{self, AF_INET, AF_INET6};
use usctp_lksctp::ipc::{self, Reply, Request, op};

use super::abi::{In, Out, errno_of, paddrinfo, state_number};
use super::pump::{self, Many, ManyCommand};
use super::{Daemon, Phase, Sock};

const SOL_SOCKET: i32 = 1;
const IPPROTO_IP: i32 = 0;
const IPPROTO_TCP: i32 = 6;
const IPPROTO_IPV6: i32 = 41;
const SO_REUSEADDR: i32 = 2;
const SO_TYPE: i32 = 3;
const SO_ERROR: i32 = 4;
const SO_SNDBUF: i32 = 7;
const SO_RCVBUF: i32 = 8;
const SO_KEEPALIVE: i32 = 9;
const SO_LINGER: i32 = 13;
const SO_REUSEPORT: i32 = 15;
const SO_ACCEPTCONN: i32 = 30;
const SO_PROTOCOL: i32 = 38;
const SO_DOMAIN: i32 = 39;
const IPV6_V6ONLY: i32 = 26;
const SOCK_STREAM: i32 = 1;
const SOCK_SEQPACKET: i32 = 5;

/// `spp_flags` of SCTP_PEER_ADDR_PARAMS.
const SPP_HB_ENABLE: u32 = 1;
const SPP_HB_DISABLE: u32 = 2;
const SPP_PMTUD_DISABLE: u32 = 16;
const SPP_SACKDELAY_ENABLE: u32 = 32;

/// A socket's settings: the protocol parameters its next associations
/// get, and what Linux lets a program set and read back.
#[derive(Debug, Clone)]
pub(super) struct Options {
    pub(super) config: Config,
    /// `struct sctp_event_subscribe`: none on until subscribed.
    pub(super) events: [u8; 14],
    /// SCTP_DEFAULT_SEND_PARAM / SCTP_DEFAULT_SNDINFO.
    pub(super) default_send: SendParams,
    /// SO_LINGER: on, seconds.
    linger: (i32, i32),
    /// The peers' UDP port for associations the socket starts.
    pub(super) remote_udp_port: u16,
    init_timeout: u16,
    /// Plain int options stored and read back (level, name).
    ints: HashMap<(i32, i32), i32>,
}

impl Options {
    pub(super) fn new(config: Config, remote_udp_port: u16) -> Self {
        let mut ints = HashMap::new();
        // Linux's defaults: v4-mapped addresses on AF_INET6 sockets.
        ints.insert((abi::SOL_SCTP, opt::I_WANT_MAPPED_V4_ADDR), 1);
        Self {
            config,
            events: [0; 14],
            default_send: SendParams::default(),
            linger: (0, 0),
            remote_udp_port,
            init_timeout: 0,
            ints,
        }
    }

    /// SO_LINGER with a zero time: close aborts the association.
    pub(super) fn abortive_close(&self) -> bool {
        self.linger.0 != 0 && self.linger.1 == 0
    }

    fn int(&self, level: i32, name: i32) -> i32 {
        self.ints.get(&(level, name)).copied().unwrap_or(0)
    }
}

/// Names that are plain ints stored and read back.
fn stored_int(level: i32, name: i32) -> bool {
    match level {
        abi::SOL_SCTP => matches!(
            name,
            opt::NODELAY
                | opt::I_WANT_MAPPED_V4_ADDR
                | opt::FRAGMENT_INTERLEAVE
                | opt::RECVRCVINFO
                | opt::RECVNXTINFO
                | opt::REUSE_PORT
        ),
        SOL_SOCKET => matches!(name, SO_REUSEADDR | SO_REUSEPORT | SO_KEEPALIVE),
        IPPROTO_IPV6 => name == IPV6_V6ONLY,
        _ => false,
    }
}

fn ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

fn int_reply(v: i32) -> Result<Reply, i32> {
    Ok(Reply {
        data: v.to_ne_bytes().to_vec(),
        ..Reply::default()
    })
}

fn data_reply(data: Vec<u8>) -> Result<Reply, i32> {
    Ok(Reply {
        data,
        ..Reply::default()
    })
}

/// An association of the socket: its monitor, how it came up, the peer
/// (address and SCTP port) and the program's id for it.
struct Assoc {
    id: i32,
    monitor: Monitor,
    established: Established,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    /// A one-to-one association's status when it came up.
    started: Option<usctp::socket::Status>,
}

impl Sock {
    /// The association a request names: a one-to-one socket's own, or a
    /// one-to-many socket's by id.
    fn assoc(&self, id: i32) -> Result<Assoc, i32> {
        match &self.state().phase {
            Phase::Connected(c) => Ok(Assoc {
                id: pump::program_id(c.id),
                monitor: c.monitor.clone(),
                established: c.established.clone(),
                peer: c.peer,
                local: Some(c.local),
                started: c.started.clone(),
            }),
            Phase::Many(m) => m
                .assocs
                .get(&id)
                .map(|a| Assoc {
                    id,
                    monitor: a.monitor.clone(),
                    established: a.established.clone(),
                    peer: a.peer,
                    local: None,
                    started: None,
                })
                .ok_or(errno::EINVAL),
            _ => Err(errno::ENOTCONN),
        }
    }

    /// A live association's monitor, if the socket has exactly one.
    fn connected(&self) -> Option<Monitor> {
        match &self.state().phase {
            Phase::Connected(c) => Some(c.monitor.clone()),
            _ => None,
        }
    }
}

impl Daemon {
    /// Answers a request.
    pub(super) async fn handle(self: &Arc<Self>, r: Request) -> (Reply, Option<OwnedFd>) {
        if r.op == op::SOCKET {
            return match self.socket(r.a, r.b, r.c) {
                Ok((reply, fd)) => (reply, Some(fd)),
                Err(e) => (Reply::error(e), None),
            };
        }
        let Some(sock) = self.sockets().get(&r.ino).cloned() else {
            if let Some(reply) = self.ended_answer(&r) {
                return (reply, None);
            }
            // Not a socket of the daemon's (or one long gone).
            let e = if r.op == op::PEERNAME {
                errno::ENOTCONN
            } else {
                errno::EINVAL
            };
            return (Reply::error(e), None);
        };
        let mut fd = None;
        let result = match r.op {
            op::BIND => self.bind(&sock, r.a, &r.data),
            op::LISTEN => self.listen(&sock, r.a).await,
            op::CONNECT => self.connect(&sock, r.a != 0, r.b != 0, &r.data).await,
            op::GETSOCKOPT if r.a == abi::SOL_SCTP && r.b == opt::PEELOFF => {
                match self.peeloff(&sock, In(&r.data).i32(0)).await {
                    Ok((ino, theirs)) => {
                        fd = Some(theirs);
                        Ok(Reply {
                            value: ino as i64,
                            ..Reply::default()
                        })
                    }
                    Err(e) => Err(e),
                }
            }
            op::GETSOCKOPT => {
                let unread = r.flags & ipc::flags::UNREAD != 0;
                self.getsockopt(&sock, r.a, r.b, r.c.max(0) as usize, &r.data, unread)
                    .await
            }
            op::SETSOCKOPT => self.setsockopt(&sock, r.a, r.b, &r.data).await,
            op::SOCKNAME => self.sockname(&sock),
            op::PEERNAME => sock
                .assoc(0)
                .map(|a| addr_reply(a.peer, sock.family))
                .map_err(|_| errno::ENOTCONN),
            _ => Err(errno::EINVAL),
        };
        self.log(format_args!(
            "socket {}: op {} ({}, {}) -> {}",
            sock.ino,
            r.op,
            r.a,
            r.b,
            result
                .as_ref()
                .map_or_else(|e| format!("errno {e}"), |_| "ok".into())
        ));
        (result.unwrap_or_else(Reply::error), fd)
    }

    fn socket(
        self: &Arc<Self>,
        family: i32,
        ty: i32,
        remote_udp_port: i32,
    ) -> Result<(Reply, OwnedFd), i32> {
        if family != AF_INET && family != AF_INET6 {
            return Err(errno::EAFNOSUPPORT);
        }
        if ty != SOCK_STREAM && ty != SOCK_SEQPACKET {
            return Err(errno::ESOCKTNOSUPPORT);
        }
        let (sock, theirs) = self
            .new_socket(ty == SOCK_SEQPACKET, family, None)
            .map_err(|e| errno_of(&e))?;
        if let Ok(port) = u16::try_from(remote_udp_port)
            && port != 0
        {
            sock.state().options.remote_udp_port = port;
        }
        tokio::spawn(pump::watch(self.clone(), sock.clone()));
        self.log(format_args!("socket {} made", sock.ino));
        let reply = Reply {
            value: sock.ino as i64,
            ..Reply::default()
        };
        Ok((reply, theirs))
    }

    /// bind (`how` 0), sctp_bindx add (1) or remove (2).
    fn bind(&self, sock: &Sock, how: i32, data: &[u8]) -> Result<Reply, i32> {
        let addrs = if how == 0 {
            addr::decode(data).map(|(a, _)| vec![a])
        } else {
            addr::decode_packed(data)
        }
        .filter(|a| !a.is_empty())
        .ok_or(errno::EINVAL)?;
        for a in &addrs {
            let ip = a.ip().to_canonical();
            if !ip.is_unspecified() && std::net::UdpSocket::bind((ip, 0)).is_err() {
                return Err(errno::EADDRNOTAVAIL);
            }
        }
        let mut state = sock.state();
        let port = addrs
            .iter()
            .map(|a| a.port())
            .find(|&p| p != 0)
            .unwrap_or(0);
        match (&mut state.bound, how) {
            (Some(_), 0) => Err(errno::EINVAL),
            (Some((ips, bound)), 1) => {
                if port != 0 && port != *bound {
                    return Err(errno::EINVAL);
                }
                ips.extend(addrs.iter().map(|a| a.ip().to_canonical()));
                Ok(Reply::default())
            }
            (Some((ips, _)), _) => {
                let before = ips.len();
                ips.retain(|ip| !addrs.iter().any(|a| a.ip().to_canonical() == *ip));
                if ips.is_empty() || ips.len() == before {
                    return Err(errno::EINVAL);
                }
                Ok(Reply::default())
            }
            (None, 2) => Err(errno::EINVAL),
            (None, _) => {
                let port = if port == 0 {
                    self.ephemeral_port(sock.ino).ok_or(errno::EADDRINUSE)?
                } else {
                    let mut ports = self.ports();
                    if ports.get(&port).is_some_and(|&other| other != sock.ino) {
                        return Err(errno::EADDRINUSE);
                    }
                    ports.insert(port, sock.ino);
                    port
                };
                let ips = addrs.iter().map(|a| a.ip().to_canonical()).collect();
                state.bound = Some((ips, port));
                Ok(Reply::default())
            }
        }
    }

    /// The socket's SCTP port, binding an ephemeral one if it has none
    /// (as Linux autobinds on listen, connect and send).
    fn port(&self, sock: &Sock) -> Result<u16, i32> {
        if let Some((_, port)) = &sock.state().bound {
            return Ok(*port);
        }
        let port = self.ephemeral_port(sock.ino).ok_or(errno::EADDRINUSE)?;
        sock.state().bound = Some((vec![IpAddr::from([0u8; 4])], port));
        Ok(port)
    }

    async fn listen(self: &Arc<Self>, sock: &Arc<Sock>, backlog: i32) -> Result<Reply, i32> {
        if sock.one_to_many {
            self.many(sock).await?;
            sock.state()
                .options
                .ints
                .insert((SOL_SOCKET, SO_ACCEPTCONN), 1);
            return Ok(Reply::default());
        }
        match sock.state().phase {
            Phase::Listening => return Ok(Reply::default()),
            Phase::Fresh => {}
            _ => return Err(errno::EINVAL),
        }
        let port = self.port(sock)?;
        let options = ListenOptions::default()
            .with_config(sock.state().options.config.clone())
            .with_backlog(backlog.clamp(1, 4096) as usize)
            .with_events(Notifications::ALL)
            .with_linger(None);
        let listener = self
            .endpoint
            .listen(port, options)
            .await
            .map_err(|_| errno::EADDRINUSE)?;
        sock.set_phase(Phase::Listening);
        tokio::spawn(pump::accept_loop(self.clone(), sock.clone(), listener));
        Ok(Reply::default())
    }

    /// The one-to-many socket's task, started (and the socket bound) on
    /// first use; its command queue.
    pub(super) async fn many(
        self: &Arc<Self>,
        sock: &Arc<Sock>,
    ) -> Result<mpsc::Sender<ManyCommand>, i32> {
        if let Phase::Many(m) = &sock.state().phase {
            return Ok(m.commands.clone());
        }
        let port = self.port(sock)?;
        let options = ListenOptions::default()
            .with_config(sock.state().options.config.clone())
            .with_events(Notifications::ALL)
            .with_linger(None);
        let many = self
            .endpoint
            .socket(port, options)
            .await
            .map_err(|_| errno::EADDRINUSE)?;
        let (commands, receiver) = mpsc::channel(16);
        {
            let mut state = sock.state();
            if let Phase::Many(m) = &state.phase {
                // Another request started it meanwhile.
                return Ok(m.commands.clone());
            }
            state.phase = Phase::Many(Many {
                commands: commands.clone(),
                assocs: HashMap::new(),
            });
        }
        sock.changed.notify_waiters();
        tokio::spawn(pump::run_many(self.clone(), sock.clone(), many, receiver));
        Ok(commands)
    }

    /// connect, sctp_connectx (`connectx`: a packed list, the id returned).
    async fn connect(
        self: &Arc<Self>,
        sock: &Arc<Sock>,
        nonblocking: bool,
        connectx: bool,
        data: &[u8],
    ) -> Result<Reply, i32> {
        let addrs = if connectx {
            addr::decode_packed(data)
        } else {
            addr::decode(data).map(|(a, _)| vec![a])
        }
        .filter(|a| !a.is_empty())
        .ok_or(errno::EINVAL)?;
        let to = addrs[0];
        if to.port() == 0 || to.ip().is_unspecified() {
            return Err(errno::EINVAL);
        }
        let udp = SocketAddr::new(to.ip().to_canonical(), sock.state().options.remote_udp_port);
        let more: Vec<IpAddr> = addrs[1..].iter().map(|a| a.ip().to_canonical()).collect();
        if sock.one_to_many {
            let commands = self.many(sock).await?;
            let (reply, answer) = oneshot::channel();
            let command = ManyCommand::Connect {
                to: udp,
                port: to.port(),
                more,
                reply,
            };
            commands.send(command).await.map_err(|_| errno::EINVAL)?;
            let id = answer.await.map_err(|_| errno::EINVAL)??;
            return Ok(Reply {
                value: i64::from(pump::program_id(id)),
                ..Reply::default()
            });
        }
        match sock.state().phase {
            Phase::Connected(_) => return Err(errno::EISCONN),
            Phase::Connecting => return Err(errno::EALREADY),
            // A socket whose connect failed has its reads ended (see
            // fail_reads): it cannot carry another association.
            Phase::Listening | Phase::Many(_) | Phase::Failed(_) | Phase::Ended => {
                return Err(errno::EINVAL);
            }
            Phase::Fresh => {}
        }
        let port = sock.state().bound.as_ref().map_or(0, |b| b.1);
        let options = ConnectOptions::default()
            .with_config(sock.state().options.config.clone())
            .with_port(port)
            .with_events(Notifications::ALL)
            .with_linger(None)
            .with_peer_addresses(more);
        sock.set_phase(Phase::Connecting);
        let daemon = self.clone();
        let sock = sock.clone();
        let attempt = async move {
            match daemon.endpoint.connect(udp, to.port(), options).await {
                Ok(stream) => {
                    let conn = pump::Conn::of(&stream);
                    let id = pump::program_id(conn.id);
                    if sock.state().bound.is_none() {
                        sock.state().bound = Some((vec![conn.local.ip()], conn.local.port()));
                    }
                    sock.set_phase(Phase::Connected(Box::new(conn)));
                    tokio::spawn(pump::run_stream(daemon.clone(), sock, stream, true));
                    Ok(Reply {
                        value: i64::from(id),
                        ..Reply::default()
                    })
                }
                Err(e) => {
                    let e = errno_of(&e);
                    sock.set_phase(Phase::Failed(e));
                    // As on Linux, reads fail now (once: a later connect
                    // may succeed) rather than wait for nothing.
                    pump::fail_reads(&sock, errno::ENOTCONN).await;
                    Err(e)
                }
            }
        };
        if nonblocking {
            tokio::spawn(attempt);
            Ok(Reply::error(errno::EINPROGRESS))
        } else {
            attempt.await
        }
    }

    async fn peeloff(self: &Arc<Self>, sock: &Arc<Sock>, id: i32) -> Result<(u64, OwnedFd), i32> {
        let commands = match &sock.state().phase {
            Phase::Many(m) => m.commands.clone(),
            _ => return Err(errno::EINVAL),
        };
        let (reply, answer) = oneshot::channel();
        commands
            .send(ManyCommand::Peeloff { id, reply })
            .await
            .map_err(|_| errno::EINVAL)?;
        answer.await.map_err(|_| errno::EINVAL)?
    }

    fn sockname(&self, sock: &Sock) -> Result<Reply, i32> {
        if let Ok(Assoc {
            local: Some(local), ..
        }) = sock.assoc(0)
        {
            return Ok(addr_reply(local, sock.family));
        }
        let state = sock.state();
        let (ip, port) = match &state.bound {
            Some((ips, port)) => (
                ips.first().copied().unwrap_or(IpAddr::from([0u8; 4])),
                *port,
            ),
            None => (IpAddr::from([0u8; 4]), 0),
        };
        Ok(addr_reply(SocketAddr::new(ip, port), sock.family))
    }

    async fn getsockopt(
        &self,
        sock: &Arc<Sock>,
        level: i32,
        name: i32,
        room: usize,
        input: &[u8],
        unread: bool,
    ) -> Result<Reply, i32> {
        let id = In(input).i32(0);
        let need = |n: usize| if room < n { Err(errno::EINVAL) } else { Ok(()) };
        if stored_int(level, name) {
            need(4)?;
            return int_reply(sock.state().options.int(level, name));
        }
        match (level, name) {
            (SOL_SOCKET, SO_ERROR) => {
                need(4)?;
                // A non-blocking connect's outcome: wait for it (the
                // program asks once the fd is writable, which a fresh
                // pair end always is).
                let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
                loop {
                    let changed = sock.changed.notified();
                    tokio::pin!(changed);
                    changed.as_mut().enable();
                    {
                        let mut state = sock.state();
                        match state.phase {
                            Phase::Connecting => {}
                            Phase::Failed(e) => {
                                // Read once, as Linux clears it.
                                state.phase = Phase::Failed(0);
                                return int_reply(e);
                            }
                            _ => return int_reply(0),
                        }
                    }
                    if tokio::time::timeout_at(deadline, changed).await.is_err() {
                        return int_reply(0);
                    }
                }
            }
            (SOL_SOCKET, SO_TYPE) => {
                need(4)?;
                int_reply(if sock.one_to_many {
                    SOCK_SEQPACKET
                } else {
                    SOCK_STREAM
                })
            }
            (SOL_SOCKET, SO_DOMAIN) => {
                need(4)?;
                int_reply(sock.family)
            }
            (SOL_SOCKET, SO_PROTOCOL) => {
                need(4)?;
                int_reply(abi::IPPROTO_SCTP)
            }
            (SOL_SOCKET, SO_ACCEPTCONN) => {
                need(4)?;
                let state = sock.state();
                let listening = matches!(state.phase, Phase::Listening)
                    || state.options.int(SOL_SOCKET, SO_ACCEPTCONN) != 0;
                int_reply(listening as i32)
            }
            (SOL_SOCKET, SO_RCVBUF) => {
                need(4)?;
                int_reply(
                    sock.state()
                        .options
                        .config
                        .receive_window
                        .min(i32::MAX as u32) as i32,
                )
            }
            (SOL_SOCKET, SO_SNDBUF) => {
                need(4)?;
                int_reply(
                    sock.state()
                        .options
                        .config
                        .send_buffer
                        .min(i32::MAX as usize) as i32,
                )
            }
            (SOL_SOCKET, SO_LINGER) => {
                need(8)?;
                let (on, secs) = sock.state().options.linger;
                data_reply(Out::default().i32(on).i32(secs).0)
            }
            (abi::SOL_SCTP, opt::INITMSG) => {
                need(8)?;
                let state = sock.state();
                let c = &state.options.config;
                let attempts = c.max_init_retransmits.min(u16::MAX as u32) as u16;
                data_reply(
                    Out::default()
                        .u16(c.outbound_streams)
                        .u16(c.max_inbound_streams)
                        .u16(attempts)
                        .u16(state.options.init_timeout)
                        .0,
                )
            }
            (abi::SOL_SCTP, opt::EVENTS) => {
                let events = sock.state().options.events;
                data_reply(events[..room.min(events.len())].to_vec())
            }
            (abi::SOL_SCTP, opt::STATUS) => {
                need(176)?;
                let a = match sock.assoc(id) {
                    Ok(a) => a,
                    Err(_) if unread => {
                        let request = Request {
                            op: op::GETSOCKOPT,
                            ino: sock.ino,
                            a: level,
                            b: name,
                            c: room as i32,
                            flags: ipc::flags::UNREAD,
                            data: Vec::new(),
                        };
                        return self.ended_answer(&request).ok_or(errno::EINVAL);
                    }
                    Err(_) => return Err(errno::EINVAL),
                };
                let live = a.monitor.status().await;
                // Until the program has read up to the association's end
                // (the pair's end comes after everything), it sees the
                // association as it came up, not shutting down or gone.
                let behind = |s: &usctp::socket::Status| {
                    !matches!(
                        s.state,
                        usctp::proto::association::AssociationState::Established
                    )
                };
                let s = match (live, a.started) {
                    // Its end has not reached the program (that comes
                    // after every message before it).
                    (Some(live), Some(started)) if behind(&live) => started,
                    // Gone, and its end has not reached the program yet.
                    (None, Some(started)) => started,
                    (live, _) => live.ok_or(errno::EINVAL)?,
                };
                data_reply(status_bytes(a.id, &s, a.peer.port(), sock.family))
            }
            (abi::SOL_SCTP, opt::GET_PEER_ADDR_INFO) => {
                need(152)?;
                let a = sock.assoc(id).map_err(|_| errno::EINVAL)?;
                let wanted =
                    addr::decode(&input[4.min(input.len())..]).map(|(w, _)| w.ip().to_canonical());
                let paths = a.monitor.paths().await;
                let path = paths
                    .iter()
                    .find(|p| Some(p.address.ip().to_canonical()) == wanted)
                    .ok_or(errno::EINVAL)?;
                data_reply(paddrinfo(a.id, Some(path), a.peer.port(), sock.family))
            }
            (abi::SOL_SCTP, opt::GET_PEER_ADDRS | opt::GET_LOCAL_ADDRS) => {
                need(8)?;
                let addresses: Vec<SocketAddr> = if name == opt::GET_PEER_ADDRS {
                    let a = sock.assoc(id).map_err(|_| errno::EINVAL)?;
                    a.established
                        .peer_addresses
                        .iter()
                        .map(|u| SocketAddr::new(u.ip().to_canonical(), a.peer.port()))
                        .collect()
                } else {
                    match sock.assoc(id) {
                        Ok(Assoc {
                            local: Some(local), ..
                        }) => vec![local],
                        _ => match &sock.state().bound {
                            Some((ips, port)) => {
                                ips.iter().map(|&ip| SocketAddr::new(ip, *port)).collect()
                            }
                            None => Vec::new(),
                        },
                    }
                };
                let mut out = Out::default().i32(id).u32(addresses.len() as u32);
                for a in addresses {
                    let (b, len) = addr::encode(a, sock.family);
                    out.0.extend_from_slice(&b[..len]);
                }
                if out.0.len() > room {
                    return Err(errno::ENOMEM);
                }
                data_reply(out.0)
            }
            (abi::SOL_SCTP, opt::PRIMARY_ADDR) => {
                need(132)?;
                let a = sock.assoc(id).map_err(|_| errno::EINVAL)?;
                let s = a.monitor.status().await.ok_or(errno::EINVAL)?;
                let primary = s
                    .primary
                    .map(|p| SocketAddr::new(p.address.ip(), a.peer.port()));
                data_reply(Out::default().i32(a.id).storage(primary, sock.family).0)
            }
            (abi::SOL_SCTP, opt::RTOINFO) => {
                need(16)?;
                let c = self.live_config(sock).await;
                data_reply(
                    Out::default()
                        .i32(id)
                        .u32(ms(c.rto_initial))
                        .u32(ms(c.rto_max))
                        .u32(ms(c.rto_min))
                        .0,
                )
            }
            (abi::SOL_SCTP, opt::ASSOCINFO) => {
                need(20)?;
                let c = self.live_config(sock).await;
                let (peers, peer_rwnd) = match sock.assoc(id) {
                    Ok(a) => {
                        let rwnd = a.monitor.status().await.map_or(0, |s| s.peer_rwnd);
                        (a.established.peer_addresses.len() as u16, rwnd)
                    }
                    Err(_) => (0, 0),
                };
                let max_retrans = c.association_max_retrans.min(u16::MAX as u32) as u16;
                data_reply(
                    Out::default()
                        .i32(id)
                        .u16(max_retrans)
                        .u16(peers)
                        .u32(peer_rwnd)
                        .u32(c.receive_window)
                        .u32(ms(c.valid_cookie_life))
                        .0,
                )
            }
            (abi::SOL_SCTP, opt::PEER_ADDR_PARAMS) => {
                need(156)?;
                let c = self.live_config(sock).await;
                let flags = if c.heartbeats {
                    SPP_HB_ENABLE
                } else {
                    SPP_HB_DISABLE
                } | SPP_PMTUD_DISABLE
                    | SPP_SACKDELAY_ENABLE;
                let address = addr::decode(&input[4.min(input.len())..]).map(|(a, _)| a);
                let max_retrans = c.path_max_retrans.min(u16::MAX as u32) as u16;
                let mtu = c.max_packet_size.min(u32::MAX as usize) as u32;
                data_reply(
                    Out::default()
                        .i32(id)
                        .storage(address, sock.family)
                        .u32(ms(c.hb_interval))
                        .u16(max_retrans)
                        .u32(mtu)
                        .u32(ms(c.sack_delay))
                        .u32(flags)
                        .u32(0)
                        .u8(0)
                        .pad_to(156)
                        .0,
                )
            }
            (abi::SOL_SCTP, opt::DEFAULT_SEND_PARAM) => {
                need(32)?;
                data_reply(sock.state().options.default_send.sndrcvinfo().to_vec())
            }
            (abi::SOL_SCTP, opt::DEFAULT_SNDINFO) => {
                need(16)?;
                let p = sock.state().options.default_send;
                data_reply(
                    Out::default()
                        .u16(p.stream)
                        .u16(p.flags)
                        .u32(p.ppid)
                        .u32(p.context)
                        .i32(id)
                        .0,
                )
            }
            (abi::SOL_SCTP, opt::MAXSEG) => {
                need(4)?;
                let c = self.live_config(sock).await;
                let value = c.max_fragment_size.unwrap_or(0).min(u32::MAX as usize) as u32;
                if room >= 8 {
                    data_reply(Out::default().i32(id).u32(value).0)
                } else {
                    int_reply(value as i32)
                }
            }
            (abi::SOL_SCTP, opt::MAX_BURST | opt::CONTEXT | opt::DELAYED_ACK_TIME) => {
                need(8)?;
                let c = self.live_config(sock).await;
                let value = match name {
                    opt::MAX_BURST => c.max_burst,
                    opt::CONTEXT => sock.state().options.default_send.context,
                    _ => ms(c.sack_delay),
                };
                let mut out = Out::default().i32(id).u32(value);
                if name == opt::DELAYED_ACK_TIME && room >= 12 {
                    out = out.u32(c.sack_frequency);
                }
                data_reply(out.0)
            }
            (
                abi::SOL_SCTP,
                opt::AUTOCLOSE
                | opt::DISABLE_FRAGMENTS
                | opt::PARTIAL_DELIVERY_POINT
                | opt::ADAPTATION_LAYER,
            ) => {
                need(4)?;
                let c = &sock.state().options.config;
                let value = match name {
                    opt::AUTOCLOSE => c
                        .autoclose
                        .map_or(0, |d| d.as_secs().min(i32::MAX as u64) as i32),
                    opt::DISABLE_FRAGMENTS => (!c.fragmentation) as i32,
                    opt::PARTIAL_DELIVERY_POINT => {
                        c.partial_delivery_point.unwrap_or(0).min(i32::MAX as usize) as i32
                    }
                    _ => c.adaptation_indication.unwrap_or(0) as i32,
                };
                int_reply(value)
            }
            (abi::SOL_SCTP, opt::GET_ASSOC_NUMBER) => {
                need(4)?;
                let n = match &sock.state().phase {
                    Phase::Many(m) => m.assocs.len(),
                    Phase::Connected(_) => 1,
                    _ => 0,
                };
                int_reply(n as i32)
            }
            (abi::SOL_SCTP, opt::GET_ASSOC_ID_LIST) => {
                need(4)?;
                let ids: Vec<i32> = match &sock.state().phase {
                    Phase::Many(m) => m.assocs.keys().copied().collect(),
                    _ => Vec::new(),
                };
                let mut out = Out::default().u32(ids.len() as u32);
                for i in ids {
                    out = out.i32(i);
                }
                if out.0.len() > room {
                    return Err(errno::EINVAL);
                }
                data_reply(out.0)
            }
            (abi::SOL_SCTP | IPPROTO_IP | IPPROTO_IPV6 | IPPROTO_TCP | SOL_SOCKET, _) => {
                Err(errno::ENOPROTOOPT)
            }
            _ => Err(errno::ENOPROTOOPT),
        }
    }

    /// The protocol parameters of the socket's association, or those its
    /// next association gets.
    async fn live_config(&self, sock: &Sock) -> Config {
        let stored = sock.state().options.config.clone();
        match sock.connected() {
            Some(m) => m.config().await.unwrap_or(stored),
            None => stored,
        }
    }

    async fn setsockopt(
        &self,
        sock: &Arc<Sock>,
        level: i32,
        name: i32,
        data: &[u8],
    ) -> Result<Reply, i32> {
        let v = In(data);
        let need = |n: usize| {
            if data.len() < n {
                Err(errno::EINVAL)
            } else {
                Ok(())
            }
        };
        if stored_int(level, name) {
            need(4)?;
            sock.state().options.ints.insert((level, name), v.i32(0));
            return Ok(Reply::default());
        }
        let millis = |x: u32| Duration::from_millis(u64::from(x));
        // An int, or a struct sctp_assoc_value's value.
        let value = if data.len() >= 8 { v.u32(4) } else { v.u32(0) };
        {
            // Changed on a copy, kept only if valid: a refused option
            // leaves the socket as it was.
            let mut options = sock.state().options.clone();
            let o = &mut options;
            let c = &mut o.config;
            match (level, name) {
                (SOL_SOCKET, SO_RCVBUF) => {
                    need(4)?;
                    c.receive_window = (v.u32(0).saturating_mul(2)).clamp(4096, 64 << 20);
                }
                (SOL_SOCKET, SO_SNDBUF) => {
                    need(4)?;
                    c.send_buffer = (v.u32(0) as usize).saturating_mul(2).clamp(4096, 64 << 20);
                }
                (SOL_SOCKET, SO_LINGER) => {
                    need(8)?;
                    o.linger = (v.i32(0), v.i32(4));
                }
                (IPPROTO_IP, _) => {}
                (abi::SOL_SCTP, opt::INITMSG) => {
                    need(8)?;
                    if v.u16(0) != 0 {
                        c.outbound_streams = v.u16(0);
                    }
                    if v.u16(2) != 0 {
                        c.max_inbound_streams = v.u16(2);
                    }
                    if v.u16(4) != 0 {
                        c.max_init_retransmits = u32::from(v.u16(4));
                    }
                    o.init_timeout = v.u16(6);
                }
                (abi::SOL_SCTP, opt::EVENTS) => {
                    if data.is_empty() || data.len() > o.events.len() {
                        return Err(errno::EINVAL);
                    }
                    o.events[..data.len()].copy_from_slice(data);
                }
                (abi::SOL_SCTP, opt::EVENT) => {
                    need(7)?;
                    let index = usize::from(v.u16(4).wrapping_sub(0x8000));
                    let slot = o.events.get_mut(index).ok_or(errno::EINVAL)?;
                    *slot = data[6];
                }
                (abi::SOL_SCTP, opt::RTOINFO) => {
                    need(16)?;
                    let (initial, max, min) = (v.u32(4), v.u32(8), v.u32(12));
                    if initial != 0 {
                        c.rto_initial = millis(initial);
                    }
                    if max != 0 {
                        c.rto_max = millis(max);
                    }
                    if min != 0 {
                        c.rto_min = millis(min);
                    }
                    if c.rto_min > c.rto_max
                        || c.rto_initial < c.rto_min
                        || c.rto_initial > c.rto_max
                    {
                        return Err(errno::EINVAL);
                    }
                }
                (abi::SOL_SCTP, opt::ASSOCINFO) => {
                    need(20)?;
                    if v.u16(4) != 0 {
                        c.association_max_retrans = u32::from(v.u16(4));
                    }
                    if v.u32(16) != 0 {
                        c.valid_cookie_life = millis(v.u32(16));
                    }
                }
                (abi::SOL_SCTP, opt::PEER_ADDR_PARAMS) => {
                    need(152)?;
                    let flags = v.u32(146);
                    if v.u32(132) != 0 {
                        c.hb_interval = millis(v.u32(132));
                    }
                    if v.u16(136) != 0 {
                        c.path_max_retrans = u32::from(v.u16(136));
                    }
                    if flags & SPP_SACKDELAY_ENABLE != 0 && v.u32(142) != 0 {
                        c.sack_delay = millis(v.u32(142));
                    }
                    if flags & SPP_HB_DISABLE != 0 {
                        c.heartbeats = false;
                    } else if flags & SPP_HB_ENABLE != 0 {
                        c.heartbeats = true;
                    }
                }
                (abi::SOL_SCTP, opt::DEFAULT_SEND_PARAM) => {
                    o.default_send = SendParams::from_sndrcvinfo(data).ok_or(errno::EINVAL)?;
                }
                (abi::SOL_SCTP, opt::DEFAULT_SNDINFO) => {
                    o.default_send = SendParams::from_sndinfo(data).ok_or(errno::EINVAL)?;
                }
                (abi::SOL_SCTP, opt::MAXSEG) => {
                    need(4)?;
                    c.max_fragment_size = (value != 0).then_some(value as usize);
                }
                (abi::SOL_SCTP, opt::MAX_BURST) => {
                    need(4)?;
                    c.max_burst = value;
                }
                (abi::SOL_SCTP, opt::CONTEXT) => {
                    need(8)?;
                    o.default_send.context = value;
                }
                (abi::SOL_SCTP, opt::DELAYED_ACK_TIME) => {
                    need(8)?;
                    if value != 0 {
                        c.sack_delay = millis(value);
                    }
                    if data.len() >= 12 && v.u32(8) != 0 {
                        c.sack_frequency = v.u32(8);
                    }
                }
                (abi::SOL_SCTP, opt::AUTOCLOSE) => {
                    need(4)?;
                    c.autoclose = (v.u32(0) != 0).then(|| Duration::from_secs(u64::from(v.u32(0))));
                }
                (abi::SOL_SCTP, opt::DISABLE_FRAGMENTS) => {
                    need(4)?;
                    c.fragmentation = v.i32(0) == 0;
                }
                (abi::SOL_SCTP, opt::PARTIAL_DELIVERY_POINT) => {
                    need(4)?;
                    c.partial_delivery_point = (v.u32(0) != 0).then_some(v.u32(0) as usize);
                }
                (abi::SOL_SCTP, opt::ADAPTATION_LAYER) => {
                    need(4)?;
                    c.adaptation_indication = Some(v.u32(0));
                }
                (abi::SOL_SCTP, opt::PRIMARY_ADDR) => {}
                // Asking the peer to change its primary needs ASCONF (RFC
                // 5061), which usctp does not speak yet.
                (abi::SOL_SCTP, opt::SET_PEER_PRIMARY_ADDR) => return Err(errno::EOPNOTSUPP),
                _ => return Err(errno::ENOPROTOOPT),
            }
            if c.validate().is_err() {
                return Err(errno::EINVAL);
            }
            sock.state().options = options;
        }
        if level == abi::SOL_SCTP && name == opt::PRIMARY_ADDR {
            need(4 + addr::SOCKADDR_IN_LEN)?;
            let a = sock.assoc(v.i32(0)).map_err(|_| errno::EINVAL)?;
            let wanted = addr::decode(&data[4..])
                .ok_or(errno::EINVAL)?
                .0
                .ip()
                .to_canonical();
            let path = a
                .monitor
                .paths()
                .await
                .into_iter()
                .find(|p| p.address.ip().to_canonical() == wanted)
                .ok_or(errno::EINVAL)?;
            return if a.monitor.set_primary(path.address).await {
                Ok(Reply::default())
            } else {
                Err(errno::EINVAL)
            };
        }
        // A connected socket's association takes the new parameters too.
        if let Some(monitor) = sock.connected() {
            let config = sock.state().options.config.clone();
            let _ = monitor.set_config(config).await;
        }
        Ok(Reply::default())
    }
}

/// `struct sctp_status` (176 bytes).
pub(super) fn status_bytes(
    id: i32,
    s: &usctp::socket::Status,
    peer_port: u16,
    family: i32,
) -> Vec<u8> {
    let primary = paddrinfo(id, s.primary.as_ref(), peer_port, family);
    let mut out = Out::default()
        .i32(id)
        .i32(state_number(s.state))
        .u32(s.peer_rwnd)
        .u16(s.unacked.min(u16::MAX as usize) as u16)
        .u16(s.pending_receipt.min(u16::MAX as usize) as u16)
        .u16(s.inbound_streams)
        .u16(s.outbound_streams)
        .u32(s.fragmentation_point.min(u32::MAX as usize) as u32);
    out.0.extend_from_slice(&primary);
    out.0
}

fn addr_reply(address: SocketAddr, family: i32) -> Reply {
    let (b, len) = addr::encode(address, family);
    Reply {
        data: b[..len].to_vec(),
        ..Reply::default()
    }
}
