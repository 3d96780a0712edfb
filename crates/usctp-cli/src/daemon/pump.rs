//! Moving messages between a socket's pair and its associations: one task
//! per one-to-one association, one per one-to-many socket, one per
//! listener, and a watcher for sockets that have none yet.

use std::collections::HashMap;
use std::io::{self, IoSlice, Read as _};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};

use usctp::proto::association::{AssocId, Established};
use usctp::socket::{
    Monitor, SctpListener, SctpSocket, SctpStream, SendInfo, SocketSender, StreamEvent,
};
use usctp_lksctp::abi::{self, SendParams, errno};
use usctp_lksctp::ipc::{self, HEADER_LEN, Header, kind};

use super::{Daemon, Phase, Sock, abi as linux};

/// The largest message part in one record, either way.
pub(super) const MAX_PAYLOAD: usize = 64 * 1024;
/// The largest record.
pub(super) const MAX_RECORD: usize = HEADER_LEN + MAX_PAYLOAD;

/// MSG_NOSIGNAL: a program that closed its end does not kill the daemon.
const MSG_NOSIGNAL: i32 = 0x4000;

/// A one-to-one socket's association.
pub(super) struct Conn {
    pub(super) id: AssocId,
    pub(super) monitor: Monitor,
    pub(super) established: Established,
    /// The peer's address and SCTP port.
    pub(super) peer: SocketAddr,
    /// The local address towards the peer and the SCTP port.
    pub(super) local: SocketAddr,
    /// Its status when it came up.
    pub(super) started: Option<usctp::socket::Status>,
}

impl Conn {
    pub(super) fn of(stream: &SctpStream) -> Self {
        let established = stream.established().clone();
        let udp = stream.peer_addr();
        let peer = SocketAddr::new(udp.ip().to_canonical(), established.peer_port);
        let local = SocketAddr::new(
            local_ip_towards(stream.local_addr(), udp),
            established.local_port,
        );
        Self {
            id: stream.assoc_id(),
            monitor: stream.monitor(),
            established,
            peer,
            local,
            started: stream.status_at_start().cloned(),
        }
    }
}

/// The local address packets to `peer` leave from.
fn local_ip_towards(local: SocketAddr, peer: SocketAddr) -> std::net::IpAddr {
    if !local.ip().is_unspecified() {
        return local.ip().to_canonical();
    }
    let unspecified = if peer.is_ipv4() || peer.ip().to_canonical().is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port().max(1));
    std::net::UdpSocket::bind(unspecified)
        .and_then(|s| s.connect(peer).and_then(|()| s.local_addr()))
        .map_or(local.ip(), |a| a.ip())
}

/// The next record from the program; 0 once its end is gone or shut down
/// for writing.
async fn recv_record(pair: &AsyncFd<socket2::Socket>, buf: &mut [u8]) -> io::Result<usize> {
    // A read first: the readiness may have been cleared by a watcher
    // while records were waiting (`gone`), and no new edge would come.
    match pair.get_ref().read(buf) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        result => return result,
    }
    loop {
        let mut guard = pair.readable().await?;
        if let Ok(result) = guard.try_io(|s| s.get_ref().read(buf)) {
            return result;
        }
    }
}

/// Writes a record to the program, waiting while its end is full; `fd` is
/// attached with SCM_RIGHTS.
async fn send_record(
    pair: &AsyncFd<socket2::Socket>,
    header: &Header,
    payload: &[u8],
    fd: Option<&OwnedFd>,
) -> io::Result<()> {
    let head = header.encode();
    let control: Vec<u8> = fd.map_or_else(Vec::new, |fd| {
        // struct cmsghdr { size_t len; int level; int type; } and one int.
        let mut c = Vec::with_capacity(24);
        c.extend_from_slice(&20usize.to_ne_bytes());
        c.extend_from_slice(&1i32.to_ne_bytes());
        c.extend_from_slice(&1i32.to_ne_bytes());
        c.extend_from_slice(&fd.as_raw_fd().to_ne_bytes());
        c.extend_from_slice(&[0; 4]);
        c
    });
    loop {
        let mut guard = pair.writable().await?;
        let sent = guard.try_io(|s| {
            let buffers = [IoSlice::new(&head), IoSlice::new(payload)];
            let mut message = socket2::MsgHdr::new().with_buffers(&buffers);
            if !control.is_empty() {
                message = message.with_control(&control);
            }
            s.get_ref().sendmsg(&message, MSG_NOSIGNAL)
        });
        if let Ok(result) = sent {
            return result.map(drop);
        }
    }
}

/// What waits on a socket's pair.
enum Waiting {
    /// The program's end is gone (or shut down for writing).
    Gone,
    /// Records to read.
    Records,
}

/// Waits for the program's end to go or to write, taking nothing.
async fn waiting(pair: &AsyncFd<socket2::Socket>) -> Waiting {
    loop {
        let Ok(mut guard) = pair.readable().await else {
            return Waiting::Gone;
        };
        // Records first: a program may send and close at once (its
        // records are still sent); its end is gone once none are left.
        let mut byte = [MaybeUninit::uninit(); 1];
        match guard.try_io(|s| s.get_ref().peek(&mut byte)) {
            Ok(Ok(0) | Err(_)) => return Waiting::Gone,
            Ok(Ok(_)) => return Waiting::Records,
            Err(_would_block) if guard_closed(pair) => return Waiting::Gone,
            Err(_would_block) => {}
        }
    }
}

/// Whether the program's end has closed (or shut down for writing).
fn guard_closed(pair: &AsyncFd<socket2::Socket>) -> bool {
    let mut byte = [MaybeUninit::uninit(); 1];
    matches!(pair.get_ref().peek(&mut byte), Ok(0))
}

/// Returns once the program's end is closed, records waiting or not.
async fn gone(pair: &AsyncFd<socket2::Socket>) {
    loop {
        let Ok(mut guard) = pair.readable().await else {
            return;
        };
        if guard.ready().is_read_closed() {
            return;
        }
        // Records: wait for the next change (more, or the end).
        guard.clear_ready();
    }
}

/// Returns once the program's end is gone; never, while records wait to
/// be read (whoever reads them sees the end).
async fn closed(pair: &AsyncFd<socket2::Socket>) {
    if let Waiting::Records = waiting(pair).await {
        std::future::pending::<()>().await;
    }
}

/// Makes the program's next read fail with `errno` and later ones see the
/// end (a one-to-one socket whose connect failed has nothing to read; a
/// later connect on it can still send, not receive).
pub(super) async fn fail_reads(sock: &Sock, errno: i32) {
    let header = Header {
        kind: kind::ERROR,
        errno,
        ..Header::default()
    };
    let _ = send_record(&sock.pair, &header, &[], None).await;
    let _ = sock.pair.get_ref().shutdown(std::net::Shutdown::Write);
}

/// Watches a socket that has no task of its own yet (fresh, connecting,
/// failed): forgets it once the program's end is gone, and starts a
/// one-to-many socket whose program sends before binding or listening
/// (its first message sets up an association, RFC 6458 §3.1.4).
pub(super) async fn watch(daemon: Arc<Daemon>, sock: Arc<Sock>) {
    loop {
        let changed = sock.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let idle = |sock: &Sock| {
            matches!(
                sock.state().phase,
                Phase::Fresh | Phase::Failed(_) | Phase::Ended
            )
        };
        let connecting = match sock.state().phase {
            Phase::Fresh | Phase::Failed(_) | Phase::Ended => false,
            Phase::Connecting => true,
            Phase::Listening | Phase::Connected(_) | Phase::Many(_) => return,
        };
        if connecting {
            changed.await;
            continue;
        }
        tokio::select! {
            w = waiting(&sock.pair) => match w {
                Waiting::Gone if idle(&sock) => {
                    daemon.remove(&sock);
                    return;
                }
                Waiting::Records if sock.one_to_many && idle(&sock) => {
                    if daemon.many(&sock).await.is_err() {
                        changed.await;
                    }
                }
                // Records written before a connect wait for it; the
                // program may also close the socket meanwhile.
                _ => tokio::select! {
                    () = gone(&sock.pair) => {
                        if idle(&sock) {
                            daemon.remove(&sock);
                            return;
                        }
                    }
                    () = &mut changed => {}
                },
            },
            () = &mut changed => {}
        }
    }
}

/// Message records from the program, reassembled (a message larger than
/// one record comes in several, the last with `eor`).
struct Incoming {
    buf: Vec<u8>,
    partial: Option<(Header, BytesMut)>,
}

impl Incoming {
    fn new() -> Self {
        Self {
            buf: vec![0; MAX_RECORD],
            partial: None,
        }
    }

    /// The next whole message; `None` once the program's end is gone or
    /// shut down for writing.
    async fn next(
        &mut self,
        pair: &AsyncFd<socket2::Socket>,
        limit: usize,
    ) -> Option<(Header, Bytes)> {
        loop {
            let n = match recv_record(pair, &mut self.buf).await {
                Ok(0) => return None,
                Ok(n) => n,
                // A program that closes its end with notifications unread
                // leaves this error for the first read (AF_UNIX's
                // ECONNRESET); the records it wrote before are still there.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => continue,
                Err(_) => return None,
            };
            if n < HEADER_LEN {
                continue;
            }
            let header = Header::decode(self.buf[..HEADER_LEN].try_into().unwrap());
            let part = &self.buf[HEADER_LEN..n];
            match (&mut self.partial, header.eor) {
                (None, true) => return Some((header, Bytes::copy_from_slice(part))),
                (None, false) => self.partial = Some((header, BytesMut::from(part))),
                (Some((_, data)), _) => {
                    // A message past the limit is cut there; the
                    // association refuses it as too large.
                    let room = limit.saturating_add(1).saturating_sub(data.len());
                    data.extend_from_slice(&part[..part.len().min(room)]);
                }
            }
            if header.eor
                && let Some((first, data)) = self.partial.take()
            {
                return Some((first, data.freeze()));
            }
        }
    }
}

/// The PPID as usctp holds it (a number sent big-endian) from the bytes
/// the program stored, and back.
fn ppid_from_program(ppid: u32) -> u32 {
    u32::from_be_bytes(ppid.to_ne_bytes())
}

fn ppid_to_program(ppid: u32) -> u32 {
    u32::from_ne_bytes(ppid.to_be_bytes())
}

/// How a message from the program is sent: its own parameters or the
/// socket's defaults (SCTP_DEFAULT_SEND_PARAM).
fn send_info(header: &Header, defaults: &SendParams) -> SendInfo {
    let p = if header.errno & ipc::SEND_WITH_PARAMS != 0 {
        header.params
    } else {
        *defaults
    };
    let f = p.flags;
    SendInfo::default()
        .with_stream(p.stream)
        .with_ppid(ppid_from_program(p.ppid))
        .with_unordered(f & abi::flags::UNORDERED != 0)
        .with_sack_immediately(f & abi::flags::SACK_IMMEDIATELY != 0)
        .with_eof(f & abi::flags::EOF != 0)
        .with_abort(f & abi::flags::ABORT != 0)
        .with_context(p.context)
}

/// Writes a message to the program in records of at most MAX_PAYLOAD.
async fn deliver(
    sock: &Sock,
    m: &usctp::proto::association::Message,
    assoc_id: i32,
    peer: SocketAddr,
) -> io::Result<()> {
    let mut header = Header {
        kind: kind::DATA,
        params: SendParams {
            stream: m.stream,
            flags: if m.unordered {
                abi::flags::UNORDERED
            } else {
                0
            },
            ppid: ppid_to_program(m.ppid),
            context: 0,
            assoc_id,
        },
        ssn: m.ssn,
        tsn: m.tsn.0,
        cumtsn: m.cumulative_tsn.0,
        ..Header::default()
    }
    .with_addr(peer, sock.family);
    let mut parts = m.data.chunks(MAX_PAYLOAD).peekable();
    while let Some(part) = parts.next() {
        header.eor = parts.peek().is_none() && m.end_of_record;
        send_record(&sock.pair, &header, part, None).await?;
    }
    Ok(())
}

/// Writes the Linux notifications for `event` if the socket subscribes to
/// them.
async fn notify(
    sock: &Sock,
    event: &StreamEvent,
    assoc_id: i32,
    peer: SocketAddr,
) -> io::Result<()> {
    let events = sock.state().options.events;
    let bodies = match event {
        StreamEvent::SendFailed(unsent) => {
            linux::send_failed(unsent, &events, assoc_id, MAX_PAYLOAD)
        }
        _ => linux::notification(event, &events, assoc_id, peer.port(), sock.family)
            .into_iter()
            .collect(),
    };
    let header = Header {
        kind: kind::NOTIFICATION,
        params: SendParams {
            assoc_id,
            ..SendParams::default()
        },
        ..Header::default()
    };
    for body in bodies {
        send_record(&sock.pair, &header, &body, None).await?;
    }
    Ok(())
}

/// The association id a program sees.
pub(super) fn program_id(id: AssocId) -> i32 {
    id.0 as i32
}

/// Runs a one-to-one socket's association until it has ended and the
/// program has seen everything; then the pair is closed.
pub(super) async fn run_stream(
    daemon: Arc<Daemon>,
    sock: Arc<Sock>,
    stream: SctpStream,
    announce: bool,
) {
    let (peer, id, up) = {
        let state = sock.state();
        match &state.phase {
            Phase::Connected(c) => (c.peer, program_id(c.id), Some(c.established.clone())),
            _ => (SocketAddr::from(([0, 0, 0, 0], 0)), 0, None),
        }
    };
    // Linux tells a one-to-one socket that subscribes to association
    // changes that its association came up (SCTP_COMM_UP), before any
    // message.
    if let Some(up) = up.filter(|_| announce) {
        let _ = notify(&sock, &StreamEvent::Up(up), id, peer).await;
    }
    let limit = daemon.settings.config.max_message_size;
    let (mut rx, mut tx) = stream.into_split();
    // Whether the association ended gracefully.
    let writer = async {
        let mut open = true;
        while let Some(event) = rx.next_event().await {
            let written = match &event {
                StreamEvent::Message(m) => !open || deliver(&sock, m, id, peer).await.is_ok(),
                StreamEvent::Closed(reason) => {
                    if open {
                        let _ = notify(&sock, &event, id, peer).await;
                        if let Some(reason) = reason {
                            let header = Header {
                                kind: kind::ERROR,
                                errno: linux::errno_of_end(reason),
                                ..Header::default()
                            };
                            let _ = send_record(&sock.pair, &header, &[], None).await;
                        }
                    }
                    daemon.log(format_args!(
                        "socket {}: association {id} ended: {reason:?}",
                        sock.ino
                    ));
                    return reason.is_none();
                }
                _ => !open || notify(&sock, &event, id, peer).await.is_ok(),
            };
            // The program's end is gone: the rest is dropped, the
            // association still finishes.
            open &= written;
        }
        false
    };
    let reader = async {
        let mut incoming = Incoming::new();
        while let Some((header, data)) = incoming.next(&sock.pair, limit).await {
            let info = send_info(&header, &sock.state().options.default_send);
            if info.abort {
                tx.abort(&data);
                return;
            }
            if !data.is_empty()
                && let Err(e) = tx.send_message(data, info).await
            {
                daemon.log(format_args!("socket {}: send failed: {e}", sock.ino));
            }
            if info.eof {
                tx.shutdown();
            }
        }
        // The program closed the socket (or shut it down for writing).
        daemon.log(format_args!(
            "socket {}: the program closed it or shut it down",
            sock.ino
        ));
        if sock.state().options.abortive_close() {
            tx.abort(&[]);
        } else {
            tx.shutdown();
        }
    };
    tokio::pin!(writer);
    let ended_gracefully = tokio::select! {
        graceful = &mut writer => graceful,
        () = reader => writer.await,
    };
    // What the program may still ask about while it reads what came
    // before the end.
    if ended_gracefully
        && let Phase::Connected(c) = &sock.state().phase
        && let Some(started) = &c.started
    {
        daemon.remember_ended(super::Ended {
            ino: sock.ino,
            id,
            status: started.clone(),
            peer_port: c.peer.port(),
            local: c.local,
            family: sock.family,
        });
    }
    sock.set_phase(Phase::Ended);
    daemon.remove(&sock);
}

/// Accepts associations for a listening one-to-one socket: each becomes a
/// socket of its own, its fd passed on the listener's pair.
pub(super) async fn accept_loop(daemon: Arc<Daemon>, sock: Arc<Sock>, listener: SctpListener) {
    loop {
        tokio::select! {
            () = closed(&sock.pair) => break,
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        daemon.log(format_args!("socket {}: accept failed: {e}", sock.ino));
                        break;
                    }
                };
                let Ok((child, theirs)) = daemon.new_socket(false, sock.family, Some(&sock)) else {
                    continue;
                };
                let conn = Conn::of(&stream);
                let header = Header {
                    kind: kind::ACCEPTED,
                    ino: child.ino,
                    ..Header::default()
                }
                .with_addr(conn.peer, sock.family);
                daemon.log(format_args!("socket {}: accepted {} as socket {}", sock.ino, conn.peer, child.ino));
                child.set_phase(Phase::Connected(Box::new(conn)));
                let passed = send_record(&sock.pair, &header, &[], Some(&theirs)).await;
                drop(theirs);
                tokio::spawn(run_stream(daemon.clone(), child, stream, true));
                if passed.is_err() {
                    break;
                }
            }
        }
    }
    drop(listener);
    daemon.remove(&sock);
}

/// What the control side asks of a one-to-many socket's task.
pub(super) enum ManyCommand {
    /// Set up an association (connect, sctp_connectx).
    Connect {
        to: SocketAddr,
        port: u16,
        more: Vec<std::net::IpAddr>,
        reply: oneshot::Sender<Result<AssocId, i32>>,
    },
    /// sctp_peeloff: the new socket's inode and the program's end.
    Peeloff {
        id: i32,
        reply: oneshot::Sender<Result<(u64, OwnedFd), i32>>,
    },
}

/// An association of a one-to-many socket.
pub(super) struct ManyAssoc {
    pub(super) monitor: Monitor,
    pub(super) established: Established,
    /// The peer's address and SCTP port.
    pub(super) peer: SocketAddr,
}

/// A one-to-many socket's state shared with the control side.
pub(super) struct Many {
    pub(super) commands: mpsc::Sender<ManyCommand>,
    pub(super) assocs: HashMap<i32, ManyAssoc>,
}

/// Runs a one-to-many socket until the program's end is gone.
pub(super) async fn run_many(
    daemon: Arc<Daemon>,
    sock: Arc<Sock>,
    mut many: SctpSocket,
    mut commands: mpsc::Receiver<ManyCommand>,
) {
    let limit = daemon.settings.config.max_message_size;
    let sender = many.sender();
    let (ended, mut end) = oneshot::channel::<()>();
    // Three parts, so that none waits for another (as Linux's socket calls
    // do not): what arrives goes to the program, which may be slow to read;
    // what the program sends goes to the associations, which may have no
    // room; set-ups and peel-offs are answered meanwhile.
    let arriving = async {
        let mut open = true;
        loop {
            let event = tokio::select! {
                event = many.next_event() => event,
                _ = &mut end => None,
            };
            let Some((id, event)) = event else { break };
            daemon.log(format_args!(
                "socket {}: association {id}: {}",
                sock.ino,
                event_name(&event)
            ));
            let pid = program_id(id);
            if let StreamEvent::Up(e) | StreamEvent::Restart(e) = &event {
                let peer = e
                    .peer_addresses
                    .first()
                    .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |a| {
                        SocketAddr::new(a.ip().to_canonical(), e.peer_port)
                    });
                let assoc = ManyAssoc {
                    monitor: many.monitor(id),
                    established: e.clone(),
                    peer,
                };
                with_many(&sock, |m| {
                    m.assocs.insert(pid, assoc);
                });
            }
            let peer = with_many(&sock, |m| m.assocs.get(&pid).map(|a| a.peer))
                .flatten()
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
            // Once the program's end is gone nothing more is written.
            if open {
                let written = match &event {
                    StreamEvent::Message(m) => deliver(&sock, m, pid, peer).await,
                    _ => notify(&sock, &event, pid, peer).await,
                };
                open = written.is_ok();
            }
            if let StreamEvent::Closed(_) = &event {
                with_many(&sock, |m| {
                    m.assocs.remove(&pid);
                });
            }
        }
        // Dropping the socket shuts its associations down, after what was
        // queued.
        drop(many);
    };
    let sending = async {
        let mut incoming = Incoming::new();
        while let Some((header, data)) = incoming.next(&sock.pair, limit).await {
            let info = send_info(&header, &sock.state().options.default_send);
            let id = match header.address() {
                Some(to) => {
                    let to = SocketAddr::new(to.ip().to_canonical(), to.port());
                    let known = with_many(&sock, |m| {
                        m.assocs
                            .iter()
                            .find(|(_, a)| a.peer == to)
                            .map(|(&id, _)| id)
                    })
                    .flatten();
                    match known {
                        Some(id) => Some(id),
                        // SCTP_ABORT, or SCTP_EOF with no message, to a peer
                        // without an association: nothing to end, nothing
                        // sent (Linux fails the call with EINVAL).
                        None if info.abort || (info.eof && data.is_empty()) => {
                            daemon.log(format_args!(
                                "socket {}: nothing to end with {to}",
                                sock.ino
                            ));
                            None
                        }
                        None => {
                            let remote_udp_port = sock.state().options.remote_udp_port;
                            let udp = SocketAddr::new(to.ip(), remote_udp_port);
                            let sent = sender
                                .send_message_to(udp, to.port(), data.clone(), info)
                                .await;
                            if let Err(e) = sent {
                                daemon.log(format_args!(
                                    "socket {}: send to {to} failed: {e}",
                                    sock.ino
                                ));
                            }
                            None
                        }
                    }
                }
                None => Some(header.params.assoc_id),
            };
            if let Some(id) = id {
                let id = AssocId(u64::from(id as u32));
                if let Err(e) = sender.send_message(id, data, info).await {
                    daemon.log(format_args!(
                        "socket {}: send on {id} failed: {e}",
                        sock.ino
                    ));
                }
            }
        }
        daemon.log(format_args!("socket {}: the program closed it", sock.ino));
        let _ = ended.send(());
    };
    let answering = async {
        while let Some(command) = commands.recv().await {
            match command {
                ManyCommand::Connect {
                    to,
                    port,
                    more,
                    reply,
                } => {
                    let result = sender.connect_with(to, port, more).await;
                    let _ = reply.send(result.map_err(|e| linux::errno_of(&e)));
                }
                ManyCommand::Peeloff { id, reply } => {
                    let _ = reply.send(peel(&daemon, &sock, &sender, id).await);
                }
            }
        }
    };
    tokio::select! {
        _ = async { tokio::join!(arriving, sending) } => {}
        () = answering => {}
    }
    daemon.remove(&sock);
}

/// Runs `f` on the socket's one-to-many state.
fn with_many<T>(sock: &Sock, f: impl FnOnce(&mut Many) -> T) -> Option<T> {
    match &mut sock.state().phase {
        Phase::Many(m) => Some(f(m)),
        _ => None,
    }
}

/// sctp_peeloff: association `id` becomes a one-to-one socket.
async fn peel(
    daemon: &Arc<Daemon>,
    sock: &Arc<Sock>,
    many: &SocketSender,
    id: i32,
) -> Result<(u64, OwnedFd), i32> {
    let stream = many
        .peeloff(AssocId(u64::from(id as u32)))
        .await
        .map_err(|_| errno::EINVAL)?;
    with_many(sock, |m| {
        m.assocs.remove(&id);
    });
    let (child, theirs) = daemon
        .new_socket(false, sock.family, Some(sock))
        .map_err(|e| linux::errno_of(&e))?;
    child.set_phase(Phase::Connected(Box::new(Conn::of(&stream))));
    // A peeled-off association's COMM_UP came on the one-to-many socket.
    tokio::spawn(run_stream(daemon.clone(), child.clone(), stream, false));
    Ok((child.ino, theirs))
}

/// An event's name, for the log.
fn event_name(event: &StreamEvent) -> String {
    match event {
        StreamEvent::Message(m) => {
            format!("message of {} bytes on stream {}", m.data.len(), m.stream)
        }
        other => format!("{other:?}").chars().take(80).collect(),
    }
}
