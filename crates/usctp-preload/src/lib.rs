//! `libusctp_preload.so`: loaded into an unmodified program with
//! `LD_PRELOAD` (`usctp run` does it), it makes the program's SCTP sockets
//! usctp sockets served by `usctp daemon`, and leaves every other fd alone.
//!
//! Each SCTP socket the program opens is one end of an `AF_UNIX`
//! `SOCK_SEQPACKET` pair whose other end the daemon holds, so blocking,
//! `O_NONBLOCK`, poll/select/epoll, timeouts, `dup` and `fork` are the
//! kernel's own. The functions here only translate: control calls (bind,
//! listen, connect, socket options, names) become requests to the daemon
//! ([`usctp_lksctp::ipc`]); sends and receives add and strip a record header
//! that carries what Linux passes in control messages (stream, PPID, flags,
//! addresses). libsctp's functions (`sctp_sendmsg`, `sctp_recvmsg`,
//! `sctp_connectx`, …) are left as they are: they only call the libc
//! functions hooked here.
//!
//! Calls on fds that are not SCTP sockets go to libc's own functions
//! (`dlsym(RTLD_NEXT)`) after one atomic load. The shim's own system calls
//! are made with `syscall(2)`, so they never come back through its hooks.
//! This crate is the only place in usctp with `unsafe` code: it reads and
//! writes the program's buffers as the C interface hands them over.

#![allow(clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

use libc::{iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};
use usctp_lksctp::abi::{self, SendParams, errno, opt};
use usctp_lksctp::ipc::{self, HEADER_LEN, Header, Reply, Request, kind, op};

// ---------------------------------------------------------------------------
// Which fds are SCTP sockets

/// fds at or above this are never SCTP sockets (a socket made there is
/// refused with EMFILE).
const MAX_FDS: usize = 1 << 16;

const OURS: u32 = 1;
const SEQPACKET: u32 = 2;
const INET6: u32 = 4;
const LISTENING: u32 = 8;
/// SCTP_EVENTS with sctp_data_io_event: receives carry SCTP_SNDRCV.
const DATA_IO: u32 = 16;
/// SCTP_RECVRCVINFO: receives carry SCTP_RCVINFO.
const RCVINFO: u32 = 32;
/// Bits an accepted or peeled-off socket inherits.
const INHERITED: u32 = INET6 | DATA_IO | RCVINFO;

/// Per fd: 0, or OURS and the bits above. Lock-free, so that the check on
/// every hooked call costs one load and works in signal handlers.
static STATE: [AtomicU32; MAX_FDS] = [const { AtomicU32::new(0) }; MAX_FDS];
/// Per fd: the inode of the pair end, the socket's name for the daemon.
static INODE: [AtomicU64; MAX_FDS] = [const { AtomicU64::new(0) }; MAX_FDS];

fn state(fd: c_int) -> u32 {
    usize::try_from(fd)
        .ok()
        .and_then(|i| STATE.get(i))
        .map_or(0, |s| s.load(Relaxed))
}

fn ours(fd: c_int) -> bool {
    state(fd) & OURS != 0
}

fn remember(fd: c_int, bits: u32, ino: u64) {
    if let Ok(i) = usize::try_from(fd)
        && i < MAX_FDS
    {
        INODE[i].store(ino, Relaxed);
        STATE[i].store(bits | OURS, Relaxed);
    }
}

fn forget(fd: c_int) {
    if let Ok(i) = usize::try_from(fd)
        && i < MAX_FDS
        && STATE[i].swap(0, Relaxed) & OURS != 0
        && PARTIALS.load(Relaxed) > 0
    {
        offsets().retain(|e| e.0 != INODE[i].load(Relaxed));
        PARTIALS.store(offsets().len(), Relaxed);
    }
}

fn set_bits(fd: c_int, bits: u32, on: bool) {
    if let Ok(i) = usize::try_from(fd)
        && i < MAX_FDS
    {
        if on {
            STATE[i].fetch_or(bits, Relaxed);
        } else {
            STATE[i].fetch_and(!bits, Relaxed);
        }
    }
}

fn inode(fd: c_int) -> u64 {
    usize::try_from(fd)
        .ok()
        .and_then(|i| INODE.get(i))
        .map_or(0, |s| s.load(Relaxed))
}

/// Copies `from`'s entry to `to` (dup).
fn copy_entry(from: c_int, to: c_int) {
    let bits = state(from);
    if bits & OURS != 0 {
        remember(to, bits, inode(from));
    }
}

// ---------------------------------------------------------------------------
// errno, libc's own functions, raw system calls

fn set_errno(e: c_int) {
    // SAFETY: __errno_location returns this thread's errno, always valid.
    unsafe { *libc::__errno_location() = e };
}

fn get_errno() -> c_int {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() }
}

/// Fails the call with `e`.
fn fail<T: From<i8>>(e: c_int) -> T {
    set_errno(e);
    T::from(-1)
}

/// libc's function `$name` (the next definition after this library), with
/// the given C signature.
macro_rules! real {
    ($name:ident: fn($($arg:ty),*) -> $ret:ty) => {{
        // A function of its own, so that its unsafe blocks are not inside
        // the caller's.
        fn resolve() -> unsafe extern "C" fn($($arg),*) -> $ret {
            static ADDRESS: AtomicUsize = AtomicUsize::new(0);
            let mut address = ADDRESS.load(Relaxed);
            if address == 0 {
                // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name
                // only looks the symbol up.
                address = unsafe {
                    libc::dlsym(libc::RTLD_NEXT, concat!(stringify!($name), "\0").as_ptr().cast())
                } as usize;
                if address == 0 {
                    let _ = std::io::stderr().write_all(
                        concat!("usctp-preload: libc has no ", stringify!($name), "\n").as_bytes(),
                    );
                    std::process::abort();
                }
                ADDRESS.store(address, Relaxed);
            }
            // SAFETY: the symbol is libc's function of this signature (the
            // prototypes of <sys/socket.h>, <unistd.h> and glibc's fortify
            // functions).
            unsafe { std::mem::transmute::<usize, unsafe extern "C" fn($($arg),*) -> $ret>(address) }
        }
        resolve()
    }};
}

fn sys_close(fd: c_int) {
    // SAFETY: closes an fd this library opened.
    unsafe { libc::syscall(libc::SYS_close, fd) };
}

fn set_nonblocking(fd: c_int) {
    // SAFETY: fcntl on an fd this library just received; no pointers.
    unsafe {
        let flags = libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL);
        if flags >= 0 {
            libc::syscall(
                libc::SYS_fcntl,
                fd,
                libc::F_SETFL,
                flags | libc::O_NONBLOCK as i64,
            );
        }
    }
}

fn is_nonblocking(fd: c_int) -> bool {
    // SAFETY: fcntl F_GETFL takes no pointer.
    let flags = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK as i64 != 0
}

/// `len` bytes at `p` (empty if `p` is null).
///
/// # Safety
/// `p` must be readable for `len` bytes, as the C caller promises.
unsafe fn bytes<'a>(p: *const c_void, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the caller's promise.
    unsafe { std::slice::from_raw_parts(p.cast(), len) }
}

/// Copies `from` to the caller's buffer `to` of `*len` bytes, truncating,
/// and sets `*len` to the full length (getsockname, accept, getsockopt).
///
/// # Safety
/// `to` writable for `*len` bytes and `len` valid, or either null.
unsafe fn copy_out(from: &[u8], to: *mut c_void, len: *mut socklen_t) {
    if len.is_null() {
        return;
    }
    // SAFETY: the caller's promise about `len` and `to`.
    unsafe {
        let room = *len as usize;
        if !to.is_null() {
            std::ptr::copy_nonoverlapping(from.as_ptr(), to.cast(), from.len().min(room));
        }
        *len = from.len() as socklen_t;
    }
}

// ---------------------------------------------------------------------------
// Talking to the daemon

fn verbose() -> bool {
    static VERBOSE: OnceLock<bool> = OnceLock::new();
    *VERBOSE.get_or_init(|| std::env::var_os("USCTP_VERBOSE").is_some_and(|v| v != "0"))
}

fn log(what: std::fmt::Arguments<'_>) {
    if verbose() {
        // Straight to fd 2, not through the hooked write (fd 2 could be
        // an SCTP socket).
        let line = format!("usctp: {what}\n");
        // SAFETY: write(2) of a buffer that lives across the call.
        unsafe { libc::syscall(libc::SYS_write, 2, line.as_ptr(), line.len()) };
    }
}

/// The peers' UDP port for associations this program starts (0: the
/// daemon's).
fn remote_udp_port() -> i32 {
    static PORT: OnceLock<i32> = OnceLock::new();
    *PORT.get_or_init(|| {
        std::env::var(ipc::REMOTE_UDP_PORT_ENV)
            .ok()
            .and_then(|p| p.parse::<u16>().ok())
            .map_or(0, i32::from)
    })
}

/// The daemon's `sockaddr_un` and its length.
fn daemon_address() -> &'static (libc::sockaddr_un, socklen_t) {
    static ADDRESS: OnceLock<(libc::sockaddr_un, socklen_t)> = OnceLock::new();
    ADDRESS.get_or_init(|| {
        let name = std::env::var(ipc::DAEMON_ENV).unwrap_or_else(|_| {
            let port = std::env::var("USCTP_UDP_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(9899);
            // SAFETY: getuid cannot fail.
            ipc::default_daemon_name(unsafe { libc::getuid() }, port)
        });
        // SAFETY: sockaddr_un is plain data; all zeroes is valid.
        let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        address.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let path = name.as_bytes();
        // An abstract name starts with a NUL; a path ends with one.
        let (start, abstract_name) = if path.first() == Some(&b'/') {
            (0, false)
        } else {
            (1, true)
        };
        let n = path.len().min(address.sun_path.len() - 1 - start);
        for (slot, &b) in address.sun_path[start..].iter_mut().zip(&path[..n]) {
            *slot = b as c_char;
        }
        let len =
            std::mem::size_of::<libc::sa_family_t>() + start + n + usize::from(!abstract_name);
        (address, len as socklen_t)
    })
}

/// Sends `request` to the daemon and waits for the reply; the fd attached
/// to it, if any, is received close-on-exec when `cloexec`. Errors are
/// errno values.
fn ask(request: &Request, cloexec: bool) -> Result<(Reply, Option<c_int>), c_int> {
    let (address, address_len) = daemon_address();
    // SAFETY: system calls on a socket this function owns, with buffers
    // that live across each call.
    unsafe {
        let s = libc::syscall(
            libc::SYS_socket,
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
        ) as c_int;
        if s < 0 {
            return Err(get_errno());
        }
        let result = (|| {
            if libc::syscall(
                libc::SYS_connect,
                s,
                (address as *const libc::sockaddr_un).cast::<sockaddr>(),
                *address_len,
            ) < 0
            {
                log(format_args!(
                    "cannot reach usctp daemon: errno {}",
                    get_errno()
                ));
                // As on a host without SCTP.
                return Err(errno::EPROTONOSUPPORT);
            }
            // An abstract name can be taken by anyone: only a daemon of
            // this user is trusted with the program's sockets.
            let mut cred: libc::ucred = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::ucred>() as socklen_t;
            if libc::syscall(
                libc::SYS_getsockopt,
                s,
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                &mut cred as *mut libc::ucred,
                &mut len as *mut socklen_t,
            ) < 0
                || cred.uid != libc::getuid()
            {
                log(format_args!(
                    "the usctp daemon's socket belongs to another user"
                ));
                return Err(errno::EPROTONOSUPPORT);
            }
            let message = request.encode();
            let mut sent = 0;
            while sent < message.len() {
                let n = libc::syscall(
                    libc::SYS_sendto,
                    s,
                    message[sent..].as_ptr(),
                    message.len() - sent,
                    libc::MSG_NOSIGNAL,
                    0usize,
                    0usize,
                );
                if n < 0 {
                    let e = get_errno();
                    if e == errno::EINTR {
                        continue;
                    }
                    return Err(e);
                }
                sent += n as usize;
            }
            let mut reply = Vec::new();
            let mut fd = None;
            let mut chunk = [0u8; 4096];
            loop {
                if reply.len() >= 4 {
                    let want = u32::from_ne_bytes(reply[..4].try_into().unwrap()) as usize;
                    if want > ipc::MAX_MESSAGE {
                        return Err(errno::EIO);
                    }
                    if reply.len() >= 4 + want {
                        let decoded = Reply::decode(&reply[4..4 + want]).ok_or(errno::EIO)?;
                        return Ok((decoded, fd));
                    }
                }
                let (n, got) = recv_with_fd(s, &mut chunk, cloexec);
                if n < 0 {
                    let e = get_errno();
                    // A blocking connect is interrupted as the kernel's is
                    // (it goes on in the daemon); every other request has
                    // taken effect once sent, so its answer is awaited.
                    if e == errno::EINTR && request.op == op::CONNECT && reply.is_empty() {
                        return Err(e);
                    }
                    if e == errno::EINTR {
                        continue;
                    }
                    return Err(e);
                }
                if got.is_some() {
                    fd = got;
                }
                if n == 0 {
                    return Err(errno::EIO);
                }
                reply.extend_from_slice(&chunk[..n as usize]);
            }
        })();
        sys_close(s);
        if let Err(e) = result {
            set_errno(e);
        }
        result
    }
}

/// One `recvmsg` into `buf` that also takes an fd passed with it.
fn recv_with_fd(s: c_int, buf: &mut [u8], cloexec: bool) -> (isize, Option<c_int>) {
    let mut control = [0u64; 8];
    let mut iov = iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; every pointer in it refers to a local
    // that outlives the call, and the control buffer is 8-byte aligned as
    // cmsghdr requires.
    unsafe {
        let mut m: msghdr = std::mem::zeroed();
        m.msg_iov = &mut iov;
        m.msg_iovlen = 1;
        m.msg_control = control.as_mut_ptr().cast();
        m.msg_controllen = std::mem::size_of_val(&control);
        let flags = if cloexec { libc::MSG_CMSG_CLOEXEC } else { 0 };
        let n = libc::syscall(libc::SYS_recvmsg, s, &mut m, flags) as isize;
        let mut fd = None;
        if n >= 0 {
            let mut c = libc::CMSG_FIRSTHDR(&m);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c).cast::<c_int>();
                    fd = Some(data.read_unaligned());
                }
                c = libc::CMSG_NXTHDR(&m, c);
            }
        }
        (n, fd)
    }
}

/// Moves `fd` (received while the request's own socket held a lower
/// number) to the lowest free number, the one the kernel would have given
/// a new socket: programs such as iperf3 rely on it.
fn lowest_fd(fd: c_int, cloexec: bool) -> c_int {
    let cmd = if cloexec {
        libc::F_DUPFD_CLOEXEC
    } else {
        libc::F_DUPFD
    };
    // SAFETY: fcntl F_DUPFD on an fd this library owns; no pointers.
    let low = unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, 0) } as c_int;
    if low < 0 || low > fd {
        if low > fd {
            sys_close(low);
        }
        return fd;
    }
    sys_close(fd);
    low
}

/// A control request about SCTP socket `fd`.
fn control(fd: c_int, op: u32, a: i32, b: i32, c: i32, data: &[u8]) -> Result<Reply, c_int> {
    let request = Request {
        op,
        ino: inode(fd),
        a,
        b,
        c,
        flags: 0,
        data: data.to_vec(),
    };
    ask_about(fd, &request)
}

/// Sends `request` about SCTP socket `fd`; its errno as an error.
fn ask_about(fd: c_int, request: &Request) -> Result<Reply, c_int> {
    let (op, a, b) = (request.op, request.a, request.b);
    let (reply, stray) = ask(request, true)?;
    if let Some(stray) = stray {
        sys_close(stray);
    }
    log(format_args!(
        "fd {fd}: {} -> {}",
        op_name(op, a, b),
        if reply.errno == 0 {
            "ok".to_string()
        } else {
            format!("errno {}", reply.errno)
        }
    ));
    if reply.errno != 0 && !(op == op::CONNECT && reply.errno == errno::EINPROGRESS) {
        set_errno(reply.errno);
        return Err(reply.errno);
    }
    Ok(reply)
}

fn op_name(op: u32, a: i32, b: i32) -> String {
    match op {
        op::BIND => "bind".into(),
        op::LISTEN => format!("listen({a})"),
        op::CONNECT => "connect".into(),
        op::GETSOCKOPT => format!("getsockopt({a}, {b})"),
        op::SETSOCKOPT => format!("setsockopt({a}, {b})"),
        op::SOCKNAME => "getsockname".into(),
        op::PEERNAME => "getpeername".into(),
        _ => format!("op {op}"),
    }
}

/// 0, or -1 with errno set.
fn status(result: Result<Reply, c_int>) -> c_int {
    match result {
        Ok(_) => 0,
        Err(e) => fail(e),
    }
}

// ---------------------------------------------------------------------------
// Sockets

#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let base = ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    let sctp = protocol == abi::IPPROTO_SCTP
        && (domain == libc::AF_INET || domain == libc::AF_INET6)
        && (base == libc::SOCK_STREAM || base == libc::SOCK_SEQPACKET);
    if !sctp {
        // SAFETY: libc's socket, the caller's arguments.
        let fd = unsafe { real!(socket: fn(c_int, c_int, c_int) -> c_int)(domain, ty, protocol) };
        forget(fd);
        return fd;
    }
    let request = Request {
        op: op::SOCKET,
        a: domain,
        b: base,
        c: remote_udp_port(),
        ..Request::default()
    };
    let (reply, fd) = match ask(&request, ty & libc::SOCK_CLOEXEC != 0) {
        Ok(answer) => answer,
        Err(e) => return fail(e),
    };
    let Some(fd) = fd.filter(|_| reply.errno == 0) else {
        return fail(if reply.errno != 0 {
            reply.errno
        } else {
            errno::EIO
        });
    };
    let fd = lowest_fd(fd, ty & libc::SOCK_CLOEXEC != 0);
    if fd as usize >= MAX_FDS {
        sys_close(fd);
        return fail(libc::EMFILE);
    }
    if ty & libc::SOCK_NONBLOCK != 0 {
        set_nonblocking(fd);
    }
    let mut bits = 0;
    if base == libc::SOCK_SEQPACKET {
        bits |= SEQPACKET;
    }
    if domain == libc::AF_INET6 {
        bits |= INET6;
    }
    remember(fd, bits, reply.value as u64);
    log(format_args!(
        "fd {fd}: socket({}, {}) on the usctp daemon",
        if domain == libc::AF_INET6 {
            "AF_INET6"
        } else {
            "AF_INET"
        },
        if base == libc::SOCK_SEQPACKET {
            "SOCK_SEQPACKET"
        } else {
            "SOCK_STREAM"
        }
    ));
    fd
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn bind(fd: c_int, address: *const sockaddr, len: socklen_t) -> c_int {
    if !ours(fd) {
        // SAFETY: libc's bind, the caller's arguments.
        return unsafe {
            real!(bind: fn(c_int, *const sockaddr, socklen_t) -> c_int)(fd, address, len)
        };
    }
    // SAFETY: the caller passes `len` readable bytes at `address`.
    let data = unsafe { bytes(address.cast(), len as usize) };
    status(control(fd, op::BIND, 0, 0, 0, data))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    if !ours(fd) {
        // SAFETY: libc's listen.
        return unsafe { real!(listen: fn(c_int, c_int) -> c_int)(fd, backlog) };
    }
    let result = control(fd, op::LISTEN, backlog, 0, 0, &[]);
    if result.is_ok() && state(fd) & SEQPACKET == 0 {
        set_bits(fd, LISTENING, true);
    }
    status(result)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(fd: c_int, address: *const sockaddr, len: socklen_t) -> c_int {
    if !ours(fd) {
        // SAFETY: libc's connect, the caller's arguments.
        return unsafe {
            real!(connect: fn(c_int, *const sockaddr, socklen_t) -> c_int)(fd, address, len)
        };
    }
    // SAFETY: the caller passes `len` readable bytes at `address`.
    let data = unsafe { bytes(address.cast(), len as usize) };
    match control(fd, op::CONNECT, is_nonblocking(fd) as i32, 0, 0, data) {
        Ok(reply) if reply.errno != 0 => fail(reply.errno),
        other => status(other),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(fd: c_int, address: *mut sockaddr, len: *mut socklen_t) -> c_int {
    if !ours(fd) {
        // SAFETY: libc's accept, the caller's arguments.
        let new = unsafe {
            real!(accept: fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int)(fd, address, len)
        };
        forget(new);
        return new;
    }
    // SAFETY: the caller's buffers, as for accept(2).
    unsafe { sctp_accept(fd, address, len, 0) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    address: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    if !ours(fd) {
        // SAFETY: libc's accept4, the caller's arguments.
        let new = unsafe {
            real!(accept4: fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int)(
                fd, address, len, flags,
            )
        };
        forget(new);
        return new;
    }
    // SAFETY: the caller's buffers, as for accept4(2).
    unsafe { sctp_accept(fd, address, len, flags) }
}

/// accept on a listening SCTP socket: the next ACCEPTED record, its fd.
///
/// # Safety
/// `address`/`len` as accept(2) requires.
unsafe fn sctp_accept(
    fd: c_int,
    address: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    let listener = state(fd);
    if listener & LISTENING == 0 {
        return fail(errno::EINVAL);
    }
    let mut head = [0u8; HEADER_LEN];
    let (n, new) = recv_with_fd(fd, &mut head, flags & libc::SOCK_CLOEXEC != 0);
    if n < 0 {
        return -1;
    }
    let Some(new) = new else {
        // The daemon let the listener go: as for a socket that is not
        // listening (ECONNABORTED would have programs retry forever).
        return fail(errno::EINVAL);
    };
    let header = Header::decode(&head);
    if n as usize != HEADER_LEN || header.kind != kind::ACCEPTED || new as usize >= MAX_FDS {
        sys_close(new);
        return fail(errno::ECONNABORTED);
    }
    if flags & libc::SOCK_NONBLOCK != 0 {
        set_nonblocking(new);
    }
    remember(new, listener & INHERITED, header.ino);
    // SAFETY: the caller's address buffer.
    unsafe { copy_out(header.addr_bytes(), address.cast(), len) };
    log(format_args!("fd {fd}: accepted fd {new}"));
    new
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getsockname(
    fd: c_int,
    address: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    if !ours(fd) {
        // SAFETY: libc's getsockname.
        return unsafe {
            real!(getsockname: fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int)(fd, address, len)
        };
    }
    // SAFETY: the caller's buffer.
    unsafe { name(fd, op::SOCKNAME, address, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getpeername(
    fd: c_int,
    address: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    if !ours(fd) {
        // SAFETY: libc's getpeername.
        return unsafe {
            real!(getpeername: fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int)(fd, address, len)
        };
    }
    // SAFETY: the caller's buffer.
    unsafe { name(fd, op::PEERNAME, address, len) }
}

/// # Safety
/// As getsockname(2).
unsafe fn name(fd: c_int, op: u32, address: *mut sockaddr, len: *mut socklen_t) -> c_int {
    if len.is_null() {
        return fail(errno::EFAULT);
    }
    match control(fd, op, 0, 0, 0, &[]) {
        Ok(reply) => {
            // SAFETY: the caller's buffer.
            unsafe { copy_out(&reply.data, address.cast(), len) };
            0
        }
        Err(e) => fail(e),
    }
}

/// Options answered by the daemon at a level other than SOL_SCTP; others
/// at SOL_SOCKET (timeouts, SO_PRIORITY, …) act on the pair end itself.
fn emulated(level: c_int, name: c_int) -> bool {
    match level {
        abi::SOL_SCTP | libc::IPPROTO_IP | libc::IPPROTO_IPV6 | libc::IPPROTO_TCP => true,
        libc::SOL_SOCKET => matches!(
            name,
            libc::SO_ERROR
                | libc::SO_TYPE
                | libc::SO_DOMAIN
                | libc::SO_PROTOCOL
                | libc::SO_ACCEPTCONN
                | libc::SO_RCVBUF
                | libc::SO_SNDBUF
                | libc::SO_LINGER
                | libc::SO_REUSEADDR
                | libc::SO_REUSEPORT
                | libc::SO_KEEPALIVE
        ),
        _ => false,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    if !ours(fd) || !emulated(level, name) {
        // SAFETY: libc's getsockopt, the caller's arguments.
        return unsafe {
            real!(getsockopt: fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int)(
                fd, level, name, value, len,
            )
        };
    }
    if value.is_null() || len.is_null() {
        return fail(errno::EFAULT);
    }
    // SAFETY: the caller passes a buffer of `*len` bytes at `value`.
    let room = unsafe { *len } as usize;
    let input = unsafe { bytes(value, room.min(ipc::MAX_MESSAGE - 1024)) };
    if level == abi::SOL_SCTP && name == opt::CONNECTX3 {
        // SAFETY: the caller's struct sctp_getaddrs_old.
        return unsafe { connectx3(fd, value, room) };
    }
    if level == abi::SOL_SCTP && (name == opt::PEELOFF || name == opt::PEELOFF_FLAGS) {
        // SAFETY: the caller's sctp_peeloff_arg_t.
        return unsafe { peeloff(fd, name, value, room) };
    }
    let result = if level == abi::SOL_SCTP && name == opt::STATUS {
        // Records the program has not read yet may end with the
        // association's end: until it reads them, it sees the association
        // as it was (ESTABLISHED), as a kernel whose socket still held
        // that data would.
        let mut unread: c_int = 0;
        // SAFETY: FIONREAD writes one int.
        unsafe {
            libc::syscall(
                libc::SYS_ioctl,
                fd,
                libc::FIONREAD,
                &mut unread as *mut c_int,
            )
        };
        let request = Request {
            op: op::GETSOCKOPT,
            ino: inode(fd),
            a: level,
            b: name,
            c: room as i32,
            flags: if unread > 0 { ipc::flags::UNREAD } else { 0 },
            data: input.to_vec(),
        };
        ask_about(fd, &request)
    } else {
        control(fd, op::GETSOCKOPT, level, name, room as i32, input)
    };
    match result {
        Ok(reply) => {
            // SAFETY: the caller's buffer; the daemon never answers with
            // more than it holds.
            unsafe { copy_out(&reply.data[..reply.data.len().min(room)], value, len) };
            0
        }
        Err(e) => fail(e),
    }
}

/// sctp_connectx (libsctp's default version): `struct sctp_getaddrs_old
/// { assoc_id; addr_num (bytes); struct sockaddr *addrs; }`.
///
/// # Safety
/// `value` readable and writable for `room` bytes.
unsafe fn connectx3(fd: c_int, value: *mut c_void, room: usize) -> c_int {
    if room < 16 {
        return fail(errno::EINVAL);
    }
    // SAFETY: the struct's fields, inside the `room` bytes; `addrs` points
    // to `addr_num` bytes of addresses as sctp_connectx promises.
    unsafe {
        let p = value.cast::<u8>();
        let count = p.add(4).cast::<i32>().read_unaligned().max(0) as usize;
        let addrs = p.add(8).cast::<*const c_void>().read_unaligned();
        let data = bytes(addrs, count);
        match control(fd, op::CONNECT, is_nonblocking(fd) as i32, 1, 0, data) {
            Ok(reply) => {
                p.cast::<i32>().write_unaligned(reply.value as i32);
                if reply.errno != 0 {
                    return fail(reply.errno);
                }
                // libsctp falls back to older calls if errno still says
                // ENOPROTOOPT after a success.
                set_errno(0);
                0
            }
            Err(e) => fail(e),
        }
    }
}

/// sctp_peeloff: `{ assoc_id; int sd; [unsigned flags;] }`; the new fd
/// comes with the reply.
///
/// # Safety
/// `value` readable and writable for `room` bytes.
unsafe fn peeloff(fd: c_int, name: c_int, value: *mut c_void, room: usize) -> c_int {
    let need = if name == opt::PEELOFF_FLAGS { 12 } else { 8 };
    if room < need {
        return fail(errno::EINVAL);
    }
    // SAFETY: inside the caller's `room` bytes.
    let input = unsafe { bytes(value, need) };
    let flags = if name == opt::PEELOFF_FLAGS {
        u32::from_ne_bytes(input[8..12].try_into().unwrap()) as c_int
    } else {
        0
    };
    let request = Request {
        op: op::GETSOCKOPT,
        ino: inode(fd),
        a: abi::SOL_SCTP,
        b: opt::PEELOFF,
        c: room as i32,
        flags: 0,
        data: input.to_vec(),
    };
    let (reply, new) = match ask(&request, flags & libc::SOCK_CLOEXEC != 0) {
        Ok(answer) => answer,
        Err(e) => return fail(e),
    };
    let new = new.map(|n| lowest_fd(n, flags & libc::SOCK_CLOEXEC != 0));
    let new = match new {
        Some(new) if reply.errno == 0 && (new as usize) < MAX_FDS => new,
        Some(new) => {
            sys_close(new);
            return fail(if reply.errno != 0 {
                reply.errno
            } else {
                libc::EMFILE
            });
        }
        None => {
            return fail(if reply.errno != 0 {
                reply.errno
            } else {
                errno::EIO
            });
        }
    };
    if flags & libc::SOCK_NONBLOCK != 0 {
        set_nonblocking(new);
    }
    remember(new, state(fd) & INHERITED, reply.value as u64);
    // SAFETY: `sd` at offset 4, inside `room`.
    unsafe {
        value
            .cast::<u8>()
            .add(4)
            .cast::<c_int>()
            .write_unaligned(new)
    };
    log(format_args!("fd {fd}: peeled off fd {new}"));
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> c_int {
    if !ours(fd) || !emulated(level, name) {
        // SAFETY: libc's setsockopt, the caller's arguments.
        return unsafe {
            real!(setsockopt: fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int)(
                fd, level, name, value, len,
            )
        };
    }
    if value.is_null() && len > 0 {
        return fail(errno::EFAULT);
    }
    // SAFETY: the caller passes `len` readable bytes.
    let data = unsafe { bytes(value, len as usize) };
    if level == abi::SOL_SCTP {
        match name {
            opt::CONNECTX | opt::CONNECTX_OLD => {
                let connectx = (name == opt::CONNECTX) as i32;
                return match control(
                    fd,
                    op::CONNECT,
                    is_nonblocking(fd) as i32,
                    connectx,
                    0,
                    data,
                ) {
                    Ok(reply) if reply.errno != 0 => fail(reply.errno),
                    // sctp_connectx's second version returns the id.
                    Ok(reply) if connectx == 1 => reply.value as c_int,
                    other => status(other),
                };
            }
            opt::BINDX_ADD | opt::BINDX_REM => {
                let how = if name == opt::BINDX_ADD { 1 } else { 2 };
                return status(control(fd, op::BIND, how, 0, 0, data));
            }
            _ => {}
        }
    }
    let result = control(fd, op::SETSOCKOPT, level, name, 0, data);
    if result.is_ok() && level == abi::SOL_SCTP {
        match name {
            opt::EVENTS => set_bits(fd, DATA_IO, data.first().is_some_and(|&b| b != 0)),
            // SCTP_EVENT with SCTP_DATA_IO_EVENT (struct sctp_event:
            // assoc_id, se_type, se_on).
            opt::EVENT if data.len() >= 7 && u16::from_ne_bytes([data[4], data[5]]) == 0x8000 => {
                set_bits(fd, DATA_IO, data[6] != 0)
            }
            opt::RECVRCVINFO if data.len() >= 4 => set_bits(
                fd,
                RCVINFO,
                i32::from_ne_bytes(data[..4].try_into().unwrap()) != 0,
            ),
            _ => {}
        }
    }
    status(result)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    let bits = state(fd);
    if bits & OURS == 0 {
        // SAFETY: libc's shutdown.
        return unsafe { real!(shutdown: fn(c_int, c_int) -> c_int)(fd, how) };
    }
    // Linux ignores SHUT_RD on SCTP sockets, and shutdown on one-to-many
    // ones. SHUT_WR on the pair end: the daemon reads the end of the
    // records after everything written before, and shuts the association
    // down gracefully; later writes fail with EPIPE, as Linux's do.
    if how == libc::SHUT_RD || bits & SEQPACKET != 0 {
        return 0;
    }
    if bits & LISTENING != 0 {
        return fail(errno::ENOTCONN);
    }
    // SAFETY: libc's shutdown on the pair end.
    unsafe { real!(shutdown: fn(c_int, c_int) -> c_int)(fd, libc::SHUT_WR) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    // The association ends when the daemon sees the last reference to the
    // pair end go (across dup and fork), as Linux's does.
    forget(fd);
    // SAFETY: libc's close.
    unsafe { real!(close: fn(c_int) -> c_int)(fd) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    if flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 {
        let end = (last as usize).min(MAX_FDS - 1);
        for fd in first as usize..=end {
            forget(fd as c_int);
        }
    }
    // SAFETY: libc's close_range.
    unsafe { real!(close_range: fn(c_uint, c_uint, c_int) -> c_int)(first, last, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: libc's dup.
    let new = unsafe { real!(dup: fn(c_int) -> c_int)(fd) };
    forget(new);
    copy_entry(fd, new);
    new
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(fd: c_int, to: c_int) -> c_int {
    // SAFETY: libc's dup2.
    let new = unsafe { real!(dup2: fn(c_int, c_int) -> c_int)(fd, to) };
    if new >= 0 && new != fd {
        forget(new);
        copy_entry(fd, new);
    }
    new
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(fd: c_int, to: c_int, flags: c_int) -> c_int {
    // SAFETY: libc's dup3.
    let new = unsafe { real!(dup3: fn(c_int, c_int, c_int) -> c_int)(fd, to, flags) };
    if new >= 0 {
        forget(new);
        copy_entry(fd, new);
    }
    new
}

/// `fcntl(fd, cmd, ...)`: copies made with F_DUPFD and F_DUPFD_CLOEXEC are
/// SCTP sockets too; everything else is libc's. The variadic argument is
/// taken as one machine word, which is how the x86-64 and AArch64 Linux
/// ABIs pass every `fcntl` argument (an int, a pointer, nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    // SAFETY: libc's fcntl with the caller's arguments.
    let r = unsafe { real!(fcntl: fn(c_int, c_int, usize) -> c_int)(fd, cmd, arg) };
    duplicated(fd, cmd, r)
}

/// glibc's name for `fcntl` in programs built with 64-bit file offsets.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    // SAFETY: libc's fcntl64 with the caller's arguments.
    let r = unsafe { real!(fcntl64: fn(c_int, c_int, usize) -> c_int)(fd, cmd, arg) };
    duplicated(fd, cmd, r)
}

/// After `fcntl(fd, cmd)` returned `r`: a new fd from F_DUPFD is a copy.
fn duplicated(fd: c_int, cmd: c_int, r: c_int) -> c_int {
    if (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) && r >= 0 {
        forget(r);
        copy_entry(fd, r);
    }
    r
}

/// `ioctl(fd, request, ...)`: FIONREAD (SIOCINQ) on an SCTP socket says
/// how many bytes of the next message are left to read, as Linux's does,
/// not counting the record header; everything else is libc's. The
/// variadic argument is one machine word, as for `fcntl`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioctl(fd: c_int, request: libc::c_ulong, arg: usize) -> c_int {
    if ours(fd) && request == libc::FIONREAD {
        if arg == 0 {
            return fail(errno::EFAULT);
        }
        let mut head = [0u8; HEADER_LEN];
        // SAFETY: a peek of the next record's header; MSG_TRUNC returns
        // its whole length.
        let n = unsafe {
            recv_record(
                fd,
                &mut head,
                &[],
                libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_DONTWAIT,
            )
        };
        let left = match usize::try_from(n) {
            Ok(n) if n >= HEADER_LEN && Header::decode(&head).kind != kind::ERROR => {
                let payload = n - HEADER_LEN;
                payload - partial(inode(fd)).unwrap_or(0).min(payload)
            }
            _ => 0,
        };
        // SAFETY: FIONREAD's argument is the caller's int.
        unsafe { (arg as *mut c_int).write_unaligned(left.min(c_int::MAX as usize) as c_int) };
        return 0;
    }
    // SAFETY: libc's ioctl with the caller's arguments.
    unsafe { real!(ioctl: fn(c_int, libc::c_ulong, usize) -> c_int)(fd, request, arg) }
}

// ---------------------------------------------------------------------------
// Sending

/// Sends the message `m` describes (its iovecs, destination and control
/// messages) as records with a header; returns the payload bytes sent.
/// A message larger than one record goes in several, the last marked as
/// its end; once the first is sent the rest are sent even on a
/// non-blocking socket, so that the message is never cut short.
///
/// # Safety
/// As sendmsg(2): `m`'s pointers refer to readable memory of their lengths.
unsafe fn sctp_send(fd: c_int, m: &msghdr, flags: c_int) -> ssize_t {
    if state(fd) & LISTENING != 0 {
        return fail(errno::ENOTCONN);
    }
    let mut header = Header::default();
    // SAFETY: the caller's control buffer.
    let control = unsafe { bytes(m.msg_control, m.msg_controllen) };
    for (level, ty, data) in cmsgs(control) {
        if level != abi::SOL_SCTP {
            continue;
        }
        let params = match ty {
            abi::cmsg::SNDRCV => SendParams::from_sndrcvinfo(data),
            abi::cmsg::SNDINFO => SendParams::from_sndinfo(data),
            _ => None,
        };
        if let Some(params) = params {
            header.params = params;
            header.errno = ipc::SEND_WITH_PARAMS;
        }
    }
    if !m.msg_name.is_null() && m.msg_namelen > 0 {
        let len = (m.msg_namelen as usize).min(header.addr.len());
        // SAFETY: the caller's address.
        let name = unsafe { bytes(m.msg_name, len) };
        header.addr[..len].copy_from_slice(name);
        header.addr_len = len as u32;
    }
    let user = if m.msg_iov.is_null() {
        &[][..]
    } else {
        // SAFETY: the caller's iovecs.
        unsafe { std::slice::from_raw_parts(m.msg_iov, m.msg_iovlen) }
    };
    let total: usize = user.iter().map(|v| v.iov_len).sum();
    let shutdown_only = header.params.flags & (abi::flags::EOF | abi::flags::ABORT) != 0;
    if total == 0 && !shutdown_only {
        return fail(errno::EINVAL);
    }
    let pass = flags & (libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
    let mut sent = 0;
    loop {
        let part = (total - sent).min(MAX_PAYLOAD);
        header.eor = sent + part == total;
        let head = header.encode();
        let mut vecs = Iovecs::new(iovec {
            iov_base: head.as_ptr() as *mut c_void,
            iov_len: HEADER_LEN,
        });
        slice_iovecs(user, sent, part, &mut vecs);
        // SAFETY: msghdr is plain data; its iovecs refer to the header
        // above and the caller's buffers, all alive for the call.
        let n = unsafe {
            let mut out: msghdr = std::mem::zeroed();
            let vecs = vecs.as_mut_slice();
            out.msg_iov = vecs.as_mut_ptr();
            out.msg_iovlen = vecs.len();
            libc::syscall(
                libc::SYS_sendmsg,
                fd,
                &out,
                if sent == 0 {
                    pass
                } else {
                    pass & !libc::MSG_DONTWAIT
                },
            ) as ssize_t
        };
        if n < 0 {
            let e = get_errno();
            if sent == 0 {
                return -1;
            }
            if e == errno::EAGAIN || e == errno::EINTR {
                wait_writable(fd);
                continue;
            }
            return -1;
        }
        sent += part;
        if sent == total {
            return total as ssize_t;
        }
    }
}

/// The record header's iovec and the caller's: on the stack for the few a
/// call usually has, in a `Vec` past that (no allocation per message).
struct Iovecs {
    small: [iovec; 8],
    len: usize,
    large: Vec<iovec>,
}

impl Iovecs {
    fn new(first: iovec) -> Self {
        let empty = iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut small = [empty; 8];
        small[0] = first;
        Self {
            small,
            len: 1,
            large: Vec::new(),
        }
    }

    fn push(&mut self, v: iovec) {
        if self.large.is_empty() && self.len < self.small.len() {
            self.small[self.len] = v;
            self.len += 1;
        } else {
            if self.large.is_empty() {
                self.large.extend_from_slice(&self.small[..self.len]);
            }
            self.large.push(v);
        }
    }

    fn as_mut_slice(&mut self) -> &mut [iovec] {
        if self.large.is_empty() {
            &mut self.small[..self.len]
        } else {
            &mut self.large
        }
    }
}

/// Adds to `out` the iovecs covering `len` bytes of `user` from byte `from`.
fn slice_iovecs(user: &[iovec], from: usize, len: usize, out: &mut Iovecs) {
    let (mut skip, mut left) = (from, len);
    for v in user {
        if left == 0 {
            break;
        }
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        let n = (v.iov_len - skip).min(left);
        out.push(iovec {
            // SAFETY: inside the caller's buffer.
            iov_base: unsafe { v.iov_base.cast::<u8>().add(skip) }.cast(),
            iov_len: n,
        });
        left -= n;
        skip = 0;
    }
}

/// Waits until `fd` can be written (a non-blocking socket in the middle of
/// a message).
fn wait_writable(fd: c_int) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll on one pollfd that lives across the call.
    unsafe { libc::syscall(libc::SYS_poll, &mut p, 1, 1000) };
}

/// A msghdr of one buffer and an optional destination.
fn msghdr_of(iov: &iovec, name: *const c_void, name_len: socklen_t) -> msghdr {
    // SAFETY: msghdr is plain data; all zeroes is valid.
    let mut m: msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = iov as *const iovec as *mut iovec;
    m.msg_iovlen = 1;
    m.msg_name = name as *mut c_void;
    m.msg_namelen = name_len;
    m
}

/// The control messages in `control`: (level, type, data).
fn cmsgs(control: &[u8]) -> impl Iterator<Item = (c_int, c_int, &[u8])> {
    const HDR: usize = std::mem::size_of::<libc::cmsghdr>();
    let align = |n: usize| (n + 7) & !7;
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = control.get(at..)?;
        if rest.len() < HDR {
            return None;
        }
        let len = usize::from_ne_bytes(rest[..8].try_into().unwrap());
        let level = c_int::from_ne_bytes(rest[8..12].try_into().unwrap());
        let ty = c_int::from_ne_bytes(rest[12..16].try_into().unwrap());
        if len < HDR || len > rest.len() {
            return None;
        }
        at += align(len);
        Some((level, ty, &rest[HDR..len]))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmsg(fd: c_int, m: *const msghdr, flags: c_int) -> ssize_t {
    if !ours(fd) {
        // SAFETY: libc's sendmsg.
        return unsafe { real!(sendmsg: fn(c_int, *const msghdr, c_int) -> ssize_t)(fd, m, flags) };
    }
    if m.is_null() {
        return fail(errno::EFAULT);
    }
    // SAFETY: the caller's msghdr and what it points to.
    unsafe { sctp_send(fd, &*m, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    address: *const sockaddr,
    address_len: socklen_t,
) -> ssize_t {
    if !ours(fd) {
        // SAFETY: libc's sendto.
        return unsafe {
            real!(sendto: fn(c_int, *const c_void, size_t, c_int, *const sockaddr, socklen_t) -> ssize_t)(
                fd,
                buf,
                len,
                flags,
                address,
                address_len,
            )
        };
    }
    let v = iovec {
        iov_base: buf as *mut c_void,
        iov_len: len,
    };
    // SAFETY: one iovec over the caller's buffer, the caller's address.
    unsafe { sctp_send(fd, &msghdr_of(&v, address.cast(), address_len), flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    if !ours(fd) {
        // SAFETY: libc's send.
        return unsafe {
            real!(send: fn(c_int, *const c_void, size_t, c_int) -> ssize_t)(fd, buf, len, flags)
        };
    }
    let v = iovec {
        iov_base: buf as *mut c_void,
        iov_len: len,
    };
    // SAFETY: one iovec over the caller's buffer.
    unsafe { sctp_send(fd, &msghdr_of(&v, std::ptr::null(), 0), flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    if !ours(fd) {
        // SAFETY: libc's write.
        return unsafe { real!(write: fn(c_int, *const c_void, size_t) -> ssize_t)(fd, buf, len) };
    }
    let v = iovec {
        iov_base: buf as *mut c_void,
        iov_len: len,
    };
    // SAFETY: one iovec over the caller's buffer.
    unsafe { sctp_send(fd, &msghdr_of(&v, std::ptr::null(), 0), 0) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t {
    if !ours(fd) {
        // SAFETY: libc's writev.
        return unsafe { real!(writev: fn(c_int, *const iovec, c_int) -> ssize_t)(fd, iov, count) };
    }
    // SAFETY: msghdr is plain data; the caller's iovecs.
    unsafe {
        let mut m: msghdr = std::mem::zeroed();
        m.msg_iov = iov as *mut iovec;
        m.msg_iovlen = count.max(0) as usize;
        sctp_send(fd, &m, 0)
    }
}

// ---------------------------------------------------------------------------
// Receiving

/// How far into the record at the head of a socket's queue the program
/// has read, by the socket's inode: a message longer than the program's
/// buffer is returned in parts, the last with MSG_EOR (Linux's partial
/// delivery). The record stays queued until its last part is read, so the
/// fd stays readable for poll and epoll, as Linux's does.
/// The offset is the socket's (its inode's), shared by `dup`ed fds; the
/// lock is held from looking at the record to taking it, so that two
/// readers never take one record twice or skip one.
static OFFSETS: Mutex<Vec<(u64, usize)>> = Mutex::new(Vec::new());
/// How many entries `OFFSETS` has: reads skip the lock while it is 0.
static PARTIALS: AtomicUsize = AtomicUsize::new(0);

fn offsets() -> std::sync::MutexGuard<'static, Vec<(u64, usize)>> {
    OFFSETS.lock().unwrap_or_else(|e| e.into_inner())
}

/// How far into the head record of socket `ino` the program has read.
fn partial(ino: u64) -> Option<usize> {
    if PARTIALS.load(Relaxed) == 0 {
        return None;
    }
    offsets().iter().find(|e| e.0 == ino).map(|e| e.1)
}

fn set_offset(all: &mut Vec<(u64, usize)>, ino: u64, offset: Option<usize>) {
    all.retain(|e| e.0 != ino);
    if let Some(offset) = offset {
        all.push((ino, offset));
    }
    PARTIALS.store(all.len(), Relaxed);
}

/// The largest payload of a record from the daemon.
const MAX_PAYLOAD: usize = 64 * 1024;

thread_local! {
    /// Where a record that may not fit the caller's buffers is looked at.
    static PEEKED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// What a receive returns besides the bytes.
struct Received {
    header: Header,
    /// All of the message's remaining bytes were delivered.
    complete: bool,
}

/// Scatters `from` over the caller's iovecs; returns how many bytes fit.
///
/// # Safety
/// The iovecs point to writable memory of their lengths.
unsafe fn scatter(from: &[u8], iov: &[iovec]) -> usize {
    let mut done = 0;
    for v in iov {
        if done == from.len() {
            break;
        }
        let n = v.iov_len.min(from.len() - done);
        // SAFETY: the caller's promise.
        unsafe { std::ptr::copy_nonoverlapping(from[done..].as_ptr(), v.iov_base.cast(), n) };
        done += n;
    }
    done
}

/// One `recvmsg` of a record into the header buffer and `iov`.
///
/// # Safety
/// The iovecs point to writable memory of their lengths.
unsafe fn recv_record(
    fd: c_int,
    head: &mut [u8; HEADER_LEN],
    iov: &[iovec],
    flags: c_int,
) -> ssize_t {
    let mut vecs = Iovecs::new(iovec {
        iov_base: head.as_mut_ptr().cast(),
        iov_len: HEADER_LEN,
    });
    iov.iter().for_each(|v| vecs.push(*v));
    // SAFETY: msghdr is plain data; its iovecs are the header buffer and
    // the caller's, alive for the call.
    unsafe {
        let mut m: msghdr = std::mem::zeroed();
        let vecs = vecs.as_mut_slice();
        m.msg_iov = vecs.as_mut_ptr();
        m.msg_iovlen = vecs.len();
        libc::syscall(libc::SYS_recvmsg, fd, &mut m, flags) as ssize_t
    }
}

/// Receives the next message (or its next part) into `iov`; returns the
/// byte count, 0 at the end, or -1 with errno set.
///
/// # Safety
/// The iovecs point to writable memory of their lengths.
unsafe fn sctp_recv(fd: c_int, iov: &[iovec], flags: c_int) -> (ssize_t, Option<Received>) {
    // SAFETY: the caller's iovecs.
    match unsafe { sctp_recv_record(fd, iov, flags) } {
        (0, None) if state(fd) & SEQPACKET != 0 => (orphaned(fd), None),
        other => other,
    }
}

/// A one-to-many socket's pair end closed: the daemon is gone (it keeps
/// such a socket's end open while the socket lives; only one-to-one
/// sockets see the end of their association as end of file). Linux never
/// returns 0 from a one-to-many socket, and a program that reads again
/// after 0 would spin, so the read fails as for a reset connection, and
/// the program is told once why.
fn orphaned(fd: c_int) -> ssize_t {
    static TOLD: std::sync::Once = std::sync::Once::new();
    TOLD.call_once(|| {
        let line = format!(
            "usctp: the daemon serving SCTP socket {fd} is gone; its sockets fail with ECONNRESET\n"
        );
        // SAFETY: write(2) of a buffer that lives across the call (not the
        // hooked write: fd 2 could be an SCTP socket).
        unsafe { libc::syscall(libc::SYS_write, 2, line.as_ptr(), line.len()) };
    });
    fail(errno::ECONNRESET)
}

/// [`sctp_recv`] before the end of a one-to-many socket is told apart.
///
/// # Safety
/// The iovecs point to writable memory of their lengths.
unsafe fn sctp_recv_record(fd: c_int, iov: &[iovec], flags: c_int) -> (ssize_t, Option<Received>) {
    let bits = state(fd);
    if bits & LISTENING != 0 {
        return (fail(errno::ENOTCONN), None);
    }
    let pass = flags & (libc::MSG_DONTWAIT | libc::MSG_PEEK);
    let room = iov
        .iter()
        .fold(0usize, |sum, v| sum.saturating_add(v.iov_len));
    let ino = inode(fd);
    let mut head = [0u8; HEADER_LEN];
    if room >= MAX_PAYLOAD && partial(ino).is_none() {
        // Any record fits: one read, straight into the caller's buffers.
        // SAFETY: the caller's iovecs.
        let n = unsafe { recv_record(fd, &mut head, iov, pass) };
        return match usize::try_from(n) {
            Err(_) | Ok(0) => (n, None),
            Ok(n) if n < HEADER_LEN => (fail(errno::EIO), None),
            Ok(n) => {
                let header = Header::decode(&head);
                if header.kind == kind::ERROR {
                    return (fail(header.errno), None);
                }
                let received = Received {
                    header,
                    complete: true,
                };
                ((n - HEADER_LEN) as ssize_t, Some(received))
            }
        };
    }
    // The record may not fit: look at it whole, give the caller what fits
    // from where it left off, and take it from the queue once all of it
    // has been given. A blocking socket waits for a record first, without
    // the lock; the look and the take are then made under it.
    PEEKED.with(|cell| match cell.try_borrow_mut() {
        // SAFETY: the caller's iovecs.
        Ok(mut buf) => unsafe { recv_in_parts(fd, iov, flags, ino, &mut buf) },
        // This thread is inside a read already (a signal handler reads):
        // a buffer of its own.
        Err(_) => unsafe { recv_in_parts(fd, iov, flags, ino, &mut Vec::new()) },
    })
}

/// The receive of a record that may not fit the caller's buffers, looked at
/// whole in `buf`.
///
/// # Safety
/// The iovecs point to writable memory of their lengths.
unsafe fn recv_in_parts(
    fd: c_int,
    iov: &[iovec],
    flags: c_int,
    ino: u64,
    buf: &mut Vec<u8>,
) -> (ssize_t, Option<Received>) {
    let peek = flags & libc::MSG_PEEK != 0;
    let waits = flags & libc::MSG_DONTWAIT == 0 && !is_nonblocking(fd);
    let mut head = [0u8; HEADER_LEN];
    buf.resize(MAX_PAYLOAD, 0);
    loop {
        if waits {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one pollfd that lives across the call.
            if unsafe { libc::syscall(libc::SYS_poll, &mut p, 1, -1) } < 0 {
                return (-1, None);
            }
        }
        let mut all = offsets();
        let whole = iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: one iovec over this call's buffer.
        let n = unsafe {
            recv_record(
                fd,
                &mut head,
                std::slice::from_ref(&whole),
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        let n = match usize::try_from(n) {
            // Another reader took it first: wait again.
            Err(_) if waits && get_errno() == errno::EAGAIN => continue,
            Err(_) | Ok(0) => return (n, None),
            Ok(n) if n < HEADER_LEN => return (fail(errno::EIO), None),
            Ok(n) => n,
        };
        let header = Header::decode(&head);
        let consume = |fd| {
            let mut discard = [0u8; HEADER_LEN];
            // SAFETY: no caller buffer: the record is cut to its header.
            unsafe { recv_record(fd, &mut discard, &[], libc::MSG_DONTWAIT) };
        };
        if header.kind == kind::ERROR {
            if !peek {
                consume(fd);
            }
            return (fail(header.errno), None);
        }
        let payload = n - HEADER_LEN;
        let offset = all
            .iter()
            .find(|e| e.0 == ino)
            .map_or(0, |e| e.1.min(payload));
        let rest = &buf[offset..payload];
        // SAFETY: the caller's iovecs.
        let copied = unsafe { scatter(rest, iov) };
        let complete = copied == rest.len();
        if !peek {
            if complete {
                consume(fd);
                if offset > 0 {
                    set_offset(&mut all, ino, None);
                }
            } else {
                set_offset(&mut all, ino, Some(offset + copied));
            }
        }
        return (copied as ssize_t, Some(Received { header, complete }));
    }
}

/// Completes a recvmsg: address, control messages and flags as Linux
/// gives them.
///
/// # Safety
/// `m` is the caller's msghdr, its buffers writable for their lengths.
unsafe fn finish_msghdr(fd: c_int, m: &mut msghdr, received: &Received) {
    let header = &received.header;
    // SAFETY: the caller's address buffer.
    unsafe {
        if !m.msg_name.is_null() {
            let mut len = m.msg_namelen;
            copy_out(header.addr_bytes(), m.msg_name, &mut len);
            m.msg_namelen = len;
        }
    }
    let mut flags = 0;
    let mut written = 0;
    if header.kind == kind::NOTIFICATION {
        flags |= abi::MSG_NOTIFICATION;
        if received.complete {
            log(format_args!("fd {fd}: notification delivered"));
        }
    } else {
        let bits = state(fd);
        let mut infos: Vec<(c_int, Vec<u8>)> = Vec::new();
        if bits & DATA_IO != 0 {
            infos.push((abi::cmsg::SNDRCV, header.sndrcvinfo().to_vec()));
        }
        if bits & RCVINFO != 0 {
            infos.push((abi::cmsg::RCVINFO, header.rcvinfo().to_vec()));
        }
        for (ty, data) in infos {
            let space = (std::mem::size_of::<libc::cmsghdr>() + data.len() + 7) & !7;
            if m.msg_control.is_null() || written + space > m.msg_controllen {
                flags |= libc::MSG_CTRUNC;
                continue;
            }
            // SAFETY: `space` bytes at `written` are inside the caller's
            // control buffer (checked above); cmsghdr is written unaligned.
            unsafe {
                let at = m.msg_control.cast::<u8>().add(written);
                std::ptr::write_bytes(at, 0, space);
                let c = libc::cmsghdr {
                    cmsg_len: std::mem::size_of::<libc::cmsghdr>() + data.len(),
                    cmsg_level: abi::SOL_SCTP,
                    cmsg_type: ty,
                };
                at.cast::<libc::cmsghdr>().write_unaligned(c);
                std::ptr::copy_nonoverlapping(
                    data.as_ptr(),
                    at.add(std::mem::size_of::<libc::cmsghdr>()),
                    data.len(),
                );
            }
            written += space;
        }
    }
    m.msg_controllen = written;
    if received.complete && header.eor {
        flags |= abi::MSG_EOR;
    }
    m.msg_flags = flags;
}

/// recv/read/recvfrom on an SCTP socket, with the sender's address for
/// recvfrom.
///
/// # Safety
/// `buf` writable for `len` bytes; `address`/`address_len` as recvfrom(2).
unsafe fn recv_simple(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    address: *mut sockaddr,
    address_len: *mut socklen_t,
) -> ssize_t {
    let v = iovec {
        iov_base: buf,
        iov_len: len,
    };
    // SAFETY: one iovec over the caller's buffer.
    let (n, received) = unsafe { sctp_recv(fd, std::slice::from_ref(&v), flags) };
    if let Some(received) = received
        && !address.is_null()
    {
        let header = &received.header;
        // SAFETY: the caller's address buffer.
        unsafe { copy_out(header.addr_bytes(), address.cast(), address_len) };
    }
    n
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvmsg(fd: c_int, m: *mut msghdr, flags: c_int) -> ssize_t {
    if !ours(fd) {
        // SAFETY: libc's recvmsg.
        return unsafe { real!(recvmsg: fn(c_int, *mut msghdr, c_int) -> ssize_t)(fd, m, flags) };
    }
    if m.is_null() {
        return fail(errno::EFAULT);
    }
    // SAFETY: the caller's msghdr and its buffers.
    unsafe {
        let m = &mut *m;
        let iov = if m.msg_iov.is_null() {
            &[][..]
        } else {
            std::slice::from_raw_parts(m.msg_iov, m.msg_iovlen)
        };
        let (n, received) = sctp_recv(fd, iov, flags);
        match received {
            Some(received) => finish_msghdr(fd, m, &received),
            None => {
                m.msg_controllen = 0;
                m.msg_flags = 0;
            }
        }
        n
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    if !ours(fd) {
        // SAFETY: libc's recv.
        return unsafe {
            real!(recv: fn(c_int, *mut c_void, size_t, c_int) -> ssize_t)(fd, buf, len, flags)
        };
    }
    // SAFETY: the caller's buffer.
    unsafe {
        recv_simple(
            fd,
            buf,
            len,
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    address: *mut sockaddr,
    address_len: *mut socklen_t,
) -> ssize_t {
    if !ours(fd) {
        // SAFETY: libc's recvfrom.
        return unsafe {
            real!(recvfrom: fn(c_int, *mut c_void, size_t, c_int, *mut sockaddr, *mut socklen_t) -> ssize_t)(
                fd,
                buf,
                len,
                flags,
                address,
                address_len,
            )
        };
    }
    // SAFETY: the caller's buffers.
    unsafe { recv_simple(fd, buf, len, flags, address, address_len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    if !ours(fd) {
        // SAFETY: libc's read.
        return unsafe { real!(read: fn(c_int, *mut c_void, size_t) -> ssize_t)(fd, buf, len) };
    }
    // SAFETY: the caller's buffer.
    unsafe { recv_simple(fd, buf, len, 0, std::ptr::null_mut(), std::ptr::null_mut()) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t {
    if !ours(fd) {
        // SAFETY: libc's readv.
        return unsafe { real!(readv: fn(c_int, *const iovec, c_int) -> ssize_t)(fd, iov, count) };
    }
    // SAFETY: the caller's iovecs.
    unsafe {
        let iov = if iov.is_null() {
            &[][..]
        } else {
            std::slice::from_raw_parts(iov, count.max(0) as usize)
        };
        sctp_recv(fd, iov, 0).0
    }
}

/// glibc's fortified read (`_FORTIFY_SOURCE`): glibc calls its internal
/// read, which a preload cannot see, so it is hooked itself.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    size: size_t,
) -> ssize_t {
    if !ours(fd) {
        // SAFETY: glibc's __read_chk.
        return unsafe {
            real!(__read_chk: fn(c_int, *mut c_void, size_t, size_t) -> ssize_t)(fd, buf, len, size)
        };
    }
    if len > size {
        std::process::abort();
    }
    // SAFETY: the caller's buffer.
    unsafe { recv_simple(fd, buf, len, 0, std::ptr::null_mut(), std::ptr::null_mut()) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    size: size_t,
    flags: c_int,
) -> ssize_t {
    if !ours(fd) {
        // SAFETY: glibc's __recv_chk.
        return unsafe {
            real!(__recv_chk: fn(c_int, *mut c_void, size_t, size_t, c_int) -> ssize_t)(
                fd, buf, len, size, flags,
            )
        };
    }
    if len > size {
        std::process::abort();
    }
    // SAFETY: the caller's buffer.
    unsafe {
        recv_simple(
            fd,
            buf,
            len,
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    size: size_t,
    flags: c_int,
    address: *mut sockaddr,
    address_len: *mut socklen_t,
) -> ssize_t {
    if !ours(fd) {
        // SAFETY: glibc's __recvfrom_chk.
        return unsafe {
            real!(__recvfrom_chk: fn(c_int, *mut c_void, size_t, size_t, c_int, *mut sockaddr, *mut socklen_t) -> ssize_t)(
                fd,
                buf,
                len,
                size,
                flags,
                address,
                address_len,
            )
        };
    }
    if len > size {
        std::process::abort();
    }
    // SAFETY: the caller's buffers.
    unsafe { recv_simple(fd, buf, len, flags, address, address_len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_are_walked_with_their_alignment_and_a_bad_length_stops_the_walk() {
        let mut control = Vec::new();
        // SCTP_SNDRCV (32 bytes of data: 48 in all), then SCTP_SNDINFO.
        for (ty, len) in [(abi::cmsg::SNDRCV, 32usize), (abi::cmsg::SNDINFO, 16)] {
            control.extend_from_slice(&(16 + len).to_ne_bytes());
            control.extend_from_slice(&abi::SOL_SCTP.to_ne_bytes());
            control.extend_from_slice(&ty.to_ne_bytes());
            control.extend((0..len).map(|i| i as u8));
        }
        let found: Vec<(c_int, c_int, usize)> =
            cmsgs(&control).map(|(l, t, d)| (l, t, d.len())).collect();
        assert_eq!(
            found,
            [
                (abi::SOL_SCTP, abi::cmsg::SNDRCV, 32),
                (abi::SOL_SCTP, abi::cmsg::SNDINFO, 16)
            ]
        );
        // A length past the buffer ends the walk instead of reading past it.
        control[48..56].copy_from_slice(&1000usize.to_ne_bytes());
        assert_eq!(cmsgs(&control).count(), 1);
        assert_eq!(cmsgs(&control[..10]).count(), 0);
    }

    #[test]
    fn a_message_is_cut_into_parts_across_the_callers_buffers() {
        let (a, b) = ([1u8; 10], [2u8; 5]);
        let user = [
            iovec {
                iov_base: a.as_ptr() as *mut c_void,
                iov_len: a.len(),
            },
            iovec {
                iov_base: b.as_ptr() as *mut c_void,
                iov_len: b.len(),
            },
        ];
        let mut vecs = Iovecs::new(user[0]);
        slice_iovecs(&user, 8, 5, &mut vecs);
        let part = &vecs.as_mut_slice()[1..];
        assert_eq!(part.len(), 2);
        assert_eq!((part[0].iov_len, part[1].iov_len), (2, 3));
        assert_eq!(part[0].iov_base as usize, a.as_ptr() as usize + 8);
        assert_eq!(part[1].iov_base as usize, b.as_ptr() as usize);
        let mut none = Iovecs::new(user[0]);
        slice_iovecs(&user, 15, 0, &mut none);
        assert_eq!(none.as_mut_slice().len(), 1);
        // Past eight iovecs they move to the heap, in order.
        let mut many = Iovecs::new(user[0]);
        (0..12).for_each(|_| many.push(user[1]));
        assert_eq!(many.as_mut_slice().len(), 13);
        assert_eq!(many.as_mut_slice()[12].iov_len, b.len());
    }

    #[test]
    fn fds_are_remembered_copied_and_forgotten() {
        let fd = 4000;
        assert!(!ours(fd));
        remember(fd, SEQPACKET | DATA_IO, 77);
        assert!(ours(fd));
        assert_eq!(inode(fd), 77);
        copy_entry(fd, fd + 1);
        assert_eq!(state(fd + 1), state(fd));
        set_bits(fd, DATA_IO, false);
        assert_eq!(state(fd) & DATA_IO, 0);
        forget(fd);
        forget(fd + 1);
        assert!(!ours(fd) && !ours(fd + 1));
        // Out of range: never ours, and remembering is a no-op.
        remember(-1, 0, 1);
        remember(MAX_FDS as c_int, 0, 1);
        assert!(!ours(-1) && !ours(MAX_FDS as c_int));
    }
}
