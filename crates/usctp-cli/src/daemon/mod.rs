//! `usctp daemon`: the SCTP stack for programs run under the preload shim
//! (`usctp run`). One usctp endpoint on one UDP port serves every SCTP
//! socket of every program of the user, as a kernel's SCTP would; each
//! socket is a UNIX-domain pair whose other end the program holds, so the
//! associations outlive the program's process (data written before
//! `close()` or `exit()` is still delivered) and programs that fork share
//! their sockets as with kernel fds. `docs/preload.md` says why it is
//! built this way.

mod abi;
mod control;
mod pump;

use anyhow::Context as _;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;

use usctp::Endpoint;
use usctp::proto::config::Config;
use usctp::socket::EndpointOptions;
use usctp_lksctp::abi::errno;
use usctp_lksctp::ipc::{self, Reply, Request, op};

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Its UNIX-domain socket: an abstract name, or a path if it starts
    /// with `/`.
    pub name: String,
    /// The local UDP port (RFC 6951's encapsulation port).
    pub udp_port: u16,
    /// The peer's UDP port for associations the programs start.
    pub remote_udp_port: u16,
    /// Protocol parameters of every association (socket options change
    /// them per socket).
    pub config: Config,
    /// Log every request to standard error.
    pub verbose: bool,
    /// Exit after this long without sockets.
    pub idle_exit: Option<Duration>,
    /// Record every datagram sent and received.
    pub pcap: Option<std::sync::Arc<usctp::capture::Recorder>>,
}

/// The daemon's state.
struct Daemon {
    endpoint: Endpoint,
    settings: Settings,
    sockets: Mutex<HashMap<u64, Arc<Sock>>>,
    /// SCTP ports bound by sockets, and which.
    ports: Mutex<HashMap<u16, u64>>,
    /// Wakes the idle check when the last socket goes.
    emptied: Notify,
    /// The last one-to-one associations that ended, their status when they
    /// came up (see `ipc::flags::UNREAD`); at most `ENDED`.
    ended: Mutex<std::collections::VecDeque<Ended>>,
}

/// An association that ended, as its program may still see it.
struct Ended {
    ino: u64,
    id: i32,
    status: usctp::socket::Status,
    peer_port: u16,
    local: SocketAddr,
    family: i32,
}

/// How many ended associations are remembered.
const ENDED: usize = 256;

/// Binds the daemon's socket and serves until idle (or forever).
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let udp = |ip: IpAddr| SocketAddr::new(ip, settings.udp_port);
    let options = || {
        EndpointOptions::default()
            .with_config(settings.config.clone())
            .with_pcap(settings.pcap.clone())
    };
    let endpoint = Endpoint::bind(udp(IpAddr::from([0u16; 8])), options())
        .or_else(|_| Endpoint::bind(udp(IpAddr::from([0u8; 4])), options()))?;
    let listener = listen_unix(&settings.name).with_context(|| settings.name.clone())?;
    eprintln!(
        "usctp daemon: {} on udp {}, peers' udp port {}",
        shown(&settings.name),
        endpoint.local_addr(),
        settings.remote_udp_port
    );
    let daemon = Arc::new(Daemon {
        endpoint,
        settings,
        sockets: Mutex::default(),
        ports: Mutex::default(),
        emptied: Notify::new(),
        ended: Mutex::default(),
    });
    let uid = own_uid();
    loop {
        let idle = async {
            match daemon.settings.idle_exit {
                Some(after) => loop {
                    if daemon.sockets().is_empty() {
                        tokio::select! {
                            _ = tokio::time::sleep(after) => {
                                if daemon.sockets().is_empty() {
                                    return;
                                }
                            }
                            _ = daemon.emptied.notified() => {}
                        }
                    } else {
                        daemon.emptied.notified().await;
                    }
                },
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((connection, _)) = accepted else { continue };
                // Only the daemon's own user may use its sockets.
                if connection.peer_cred().map(|c| c.uid()).ok() != Some(uid) {
                    continue;
                }
                tokio::spawn(daemon.clone().serve_request(connection));
            }
            () = idle => {
                eprintln!("usctp daemon: no sockets for a while, exiting");
                return Ok(());
            }
        }
    }
}

fn own_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// The daemon socket's name for user `uid` and UDP port `udp_port`,
/// unless `USCTP_DAEMON` names one.
pub fn default_name(udp_port: u16) -> String {
    std::env::var(ipc::DAEMON_ENV).unwrap_or_else(|_| ipc::default_daemon_name(own_uid(), udp_port))
}

fn shown(name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        format!("@{name}")
    }
}

fn unix_address(name: &str) -> io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt as _;
    if name.starts_with('/') {
        std::os::unix::net::SocketAddr::from_pathname(name)
    } else {
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
    }
}

fn listen_unix(name: &str) -> io::Result<UnixListener> {
    if name.starts_with('/') {
        // A socket file left by a daemon that is gone.
        if std::os::unix::net::UnixStream::connect(name).is_err() {
            let _ = std::fs::remove_file(name);
        }
    }
    let std = std::os::unix::net::UnixListener::bind_addr(&unix_address(name)?)?;
    std.set_nonblocking(true)?;
    UnixListener::from_std(std)
}

/// Whether a daemon answers at `name`.
pub fn running(name: &str) -> bool {
    unix_address(name)
        .and_then(|a| std::os::unix::net::UnixStream::connect_addr(&a))
        .is_ok()
}

impl Daemon {
    fn sockets(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Sock>>> {
        self.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ports(&self) -> std::sync::MutexGuard<'_, HashMap<u16, u64>> {
        self.ports.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log(&self, what: std::fmt::Arguments<'_>) {
        if self.settings.verbose {
            eprintln!("usctp daemon: {what}");
        }
    }

    /// Reads one request, answers it.
    async fn serve_request(self: Arc<Self>, mut connection: UnixStream) {
        let mut len = [0u8; 4];
        if connection.read_exact(&mut len).await.is_err() {
            return;
        }
        let len = u32::from_ne_bytes(len) as usize;
        if len > ipc::MAX_MESSAGE {
            return;
        }
        let mut body = vec![0; len];
        if connection.read_exact(&mut body).await.is_err() {
            return;
        }
        let (reply, fd) = match Request::decode(&body) {
            Some(request) => self.handle(request).await,
            None => (Reply::error(errno::EINVAL), None),
        };
        let _ = send_reply(&mut connection, &reply, fd).await;
    }

    /// Registers a new socket and starts watching its pair; returns the
    /// program's end.
    fn new_socket(
        self: &Arc<Self>,
        one_to_many: bool,
        family: i32,
        inherit: Option<&Sock>,
    ) -> io::Result<(Arc<Sock>, OwnedFd)> {
        let (ours, theirs) =
            socket2::Socket::pair(socket2::Domain::UNIX, socket2::Type::SEQPACKET, None)?;
        // Records from the program may be as large as a message; the
        // kernel doubles the value and caps it at wmem_max.
        let _ = theirs.set_send_buffer_size(pump::MAX_RECORD);
        let _ = ours.set_send_buffer_size(256 << 10);
        ours.set_nonblocking(true)?;
        let theirs: OwnedFd = theirs.into();
        let file = std::fs::File::from(theirs);
        let ino = file.metadata()?.ino();
        let theirs = OwnedFd::from(file);
        let options = inherit.map_or_else(
            || control::Options::new(self.settings.config.clone(), self.settings.remote_udp_port),
            |s| s.state().options.clone(),
        );
        let sock = Arc::new(Sock {
            ino,
            one_to_many,
            family,
            pair: register(ours)?,
            state: Mutex::new(SockState {
                options,
                bound: None,
                phase: Phase::Fresh,
            }),
            changed: Notify::new(),
        });
        self.sockets().insert(ino, sock.clone());
        Ok((sock, theirs))
    }

    /// Forgets a socket whose program end is gone and whose association
    /// (if any) has ended.
    fn remove(&self, sock: &Sock) {
        let bound = sock.state().bound.as_ref().map(|b| b.1);
        if let Some(port) = bound {
            let mut ports = self.ports();
            if ports.get(&port) == Some(&sock.ino) {
                ports.remove(&port);
            }
        }
        let empty = {
            let mut sockets = self.sockets();
            sockets.remove(&sock.ino);
            sockets.is_empty()
        };
        self.log(format_args!("socket {} gone", sock.ino));
        if empty {
            self.emptied.notify_waiters();
        }
    }

    /// Remembers an ended one-to-one association (bounded: the oldest go).
    fn remember_ended(&self, ended: Ended) {
        let mut all = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        if all.len() == ENDED {
            all.pop_front();
        }
        all.push_back(ended);
    }

    /// The answer for a socket whose association ended and which the
    /// daemon let go while the program still holds it: socket options are
    /// accepted (there is nothing left to apply them to), SCTP_STATUS
    /// shows the association as it came up while the program has not read
    /// up to its end, the local address stays known.
    fn ended_answer(&self, r: &Request) -> Option<Reply> {
        let all = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        let e = all.iter().rev().find(|e| e.ino == r.ino)?;
        let ok = |data: Vec<u8>| Reply {
            data,
            ..Reply::default()
        };
        Some(match (r.op, r.a, r.b) {
            (op::GETSOCKOPT, usctp_lksctp::abi::SOL_SCTP, usctp_lksctp::abi::opt::STATUS)
                if r.flags & ipc::flags::UNREAD != 0 && r.c >= 176 =>
            {
                ok(control::status_bytes(
                    e.id,
                    &e.status,
                    e.peer_port,
                    e.family,
                ))
            }
            (op::GETSOCKOPT, 1, 4) => ok(0i32.to_ne_bytes().to_vec()), // SO_ERROR
            (op::SETSOCKOPT, _, _) => Reply::default(),
            (op::SOCKNAME, _, _) => {
                let (b, len) = usctp_lksctp::addr::encode(e.local, e.family);
                ok(b[..len].to_vec())
            }
            (op::PEERNAME, _, _) => Reply::error(errno::ENOTCONN),
            _ => Reply::error(errno::EINVAL),
        })
    }

    /// A free SCTP port for a socket that did not bind one.
    fn ephemeral_port(&self, ino: u64) -> Option<u16> {
        let mut ports = self.ports();
        let start = 49152 + (ino % 16384) as u16;
        let port = (0..16384u16)
            .map(|i| 49152 + (start - 49152 + i) % 16384)
            .find(|p| !ports.contains_key(p))?;
        ports.insert(port, ino);
        Some(port)
    }
}

/// Writes a reply, the fd (if any) attached with SCM_RIGHTS.
async fn send_reply(
    connection: &mut UnixStream,
    reply: &Reply,
    fd: Option<OwnedFd>,
) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let bytes = reply.encode();
    let mut sent = 0;
    if let Some(fd) = &fd {
        // struct cmsghdr { size_t len; int level; int type; } and one int.
        let mut control = Vec::with_capacity(24);
        control.extend_from_slice(&20usize.to_ne_bytes());
        control.extend_from_slice(&1i32.to_ne_bytes()); // SOL_SOCKET
        control.extend_from_slice(&1i32.to_ne_bytes()); // SCM_RIGHTS
        control.extend_from_slice(&fd.as_raw_fd().to_ne_bytes());
        control.extend_from_slice(&[0; 4]);
        loop {
            connection.writable().await?;
            let result = connection.try_io(tokio::io::Interest::WRITABLE, || {
                let buffers = [io::IoSlice::new(&bytes)];
                let message = socket2::MsgHdr::new()
                    .with_buffers(&buffers)
                    .with_control(&control);
                socket2::SockRef::from(&*connection).sendmsg(&message, 0)
            });
            match result {
                Ok(n) => {
                    sent = n;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
    connection.write_all(&bytes[sent..]).await
}

/// One SCTP socket of a program.
struct Sock {
    ino: u64,
    /// SOCK_SEQPACKET (one-to-many) rather than SOCK_STREAM.
    one_to_many: bool,
    /// AF_INET or AF_INET6: how addresses are shown to the program.
    family: i32,
    /// The daemon's end of the pair.
    pair: AsyncFd<socket2::Socket>,
    state: Mutex<SockState>,
    /// The phase changed.
    changed: Notify,
}

struct SockState {
    options: control::Options,
    /// Bound addresses and SCTP port.
    bound: Option<(Vec<IpAddr>, u16)>,
    phase: Phase,
}

enum Phase {
    /// Neither connected nor listening.
    Fresh,
    /// A one-to-one socket accepting associations.
    Listening,
    /// connect in progress.
    Connecting,
    /// A one-to-one socket with its association.
    Connected(Box<pump::Conn>),
    /// The last connect failed with this errno (SO_ERROR reads it once).
    Failed(i32),
    /// A one-to-many socket, its commands.
    Many(pump::Many),
    /// The association ended.
    Ended,
}

impl Sock {
    fn state(&self) -> std::sync::MutexGuard<'_, SockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_phase(&self, phase: Phase) {
        self.state().phase = phase;
        self.changed.notify_waiters();
    }
}

/// Puts the daemon's end of a pair on the runtime's reactor.
// `AsyncFd::new` is deprecated in favour of the unsafe `register`, whose
// condition (the fd stays open and the same while registered) a
// `socket2::Socket` meets by owning its fd; this crate has no unsafe code.
#[allow(deprecated)]
fn register(socket: socket2::Socket) -> io::Result<AsyncFd<socket2::Socket>> {
    AsyncFd::new(socket)
}
