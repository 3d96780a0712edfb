//! The driver's sockets: one UDP socket per local address, batched sends
//! (GSO, UDP_SEGMENT) and receives (GRO, recvmmsg) through `quinn-udp`,
//! the clock, and the operating system's randomness. The only code of the
//! crate that touches a socket or reads a clock.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::task::Poll;
use std::time::Instant;

use rand::TryRngCore;
use tokio::net::UdpSocket;

/// Whether a send error says the path to the destination is down (as
/// opposed to a full buffer or an ICMP report about an earlier datagram,
/// which retransmission handles).
pub(super) fn is_path_failure(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkDown
            | io::ErrorKind::AddrNotAvailable
    )
}

/// Reads the clock: the one place that does, for the whole driver.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// 32 bytes from the operating system, to seed the endpoint's CSPRNG.
pub(crate) fn os_seed() -> io::Result<[u8; 32]> {
    let mut seed = [0; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut seed)
        .map_err(io::Error::other)?;
    Ok(seed)
}

/// A UDP socket with the state for batched I/O: GSO (UDP_SEGMENT) sends
/// many equal-sized datagrams in one system call, and GRO and recvmmsg
/// receive many in one (Linux; elsewhere one at a time).
pub(super) struct Io {
    socket: UdpSocket,
    pub state: quinn_udp::UdpSocketState,
    pub local: SocketAddr,
}

impl Io {
    /// Takes over a socket `bind_std` made, inside the driver's runtime.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<Self> {
        let local = socket.local_addr()?;
        let socket = UdpSocket::from_std(socket)?;
        keep_offload_enabled();
        let state = quinn_udp::UdpSocketState::new((&socket).into())?;
        Ok(Self {
            socket,
            state,
            local,
        })
    }

    /// Sends `contents` to `destination`: one datagram, or several of
    /// `segment` bytes each (the last may be shorter).
    pub async fn send(
        &self,
        destination: SocketAddr,
        source: Option<IpAddr>,
        contents: &[u8],
        segment: Option<usize>,
    ) -> io::Result<()> {
        // A socket bound to one address sends from it; a wildcard socket
        // sends from `source` when the association needs one (IP_PKTINFO).
        let src_ip = source.filter(|_| self.local.ip().is_unspecified());
        // The core names IPv4 peers by their IPv4 addresses; a dual-stack
        // IPv6 socket reaches them at the mapped ones.
        let destination = match destination {
            SocketAddr::V4(v4) if self.local.is_ipv6() => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            other => other,
        };
        let transmit = quinn_udp::Transmit {
            destination,
            ecn: None,
            contents,
            segment_size: segment,
            src_ip,
        };
        loop {
            self.socket.writable().await?;
            // `try_send` reports every error (`send` would log and hide
            // them): a failed send is how a dead local link shows.
            let sent = self.socket.try_io(tokio::io::Interest::WRITABLE, || {
                self.state.try_send((&self.socket).into(), &transmit)
            });
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return result,
            }
        }
    }
}

impl Io {
    /// Sends one datagram with IP fragmentation allowed (the DF bit clear)
    /// and puts the socket back as it was: for the rare packet larger than
    /// its path's MTU as discovered (`Transmit::fragmentable`). Other sends
    /// keep DF set, which path MTU discovery relies on (its probes must
    /// not be fragmented).
    pub async fn send_fragmentable(
        &self,
        destination: SocketAddr,
        source: Option<IpAddr>,
        contents: &[u8],
    ) -> io::Result<()> {
        self.set_fragmentation(true);
        let sent = self.send(destination, source, contents, None).await;
        self.set_fragmentation(false);
        sent
    }

    #[cfg(target_os = "linux")]
    fn set_fragmentation(&self, allowed: bool) {
        use rustix::net::sockopt::{
            Ipv4PathMtuDiscovery as V4, Ipv6PathMtuDiscovery as V6, set_ip_mtu_discover,
            set_ipv6_mtu_discover,
        };
        // quinn-udp sets PROBE (DF, ignoring the kernel's PMTU cache).
        let (v4, v6) = if allowed {
            (V4::DONT, V6::DONT)
        } else {
            (V4::PROBE, V6::PROBE)
        };
        // A dual-stack IPv6 socket sends to IPv4 peers under the IPv4
        // option; failures leave DF set, which only costs the packet.
        if self.local.is_ipv6() {
            let _ = set_ipv6_mtu_discover(&self.socket, v6);
        }
        let _ = set_ip_mtu_discover(&self.socket, v4);
    }

    #[cfg(not(target_os = "linux"))]
    fn set_fragmentation(&self, _allowed: bool) {}
}

/// Datagrams received at once at most (one system call).
pub(super) const RECV_BATCH: usize = 8;
/// Each receive buffer holds one datagram, or several coalesced by GRO.
pub(super) const RECV_BUFFER: usize = 65_536;

pub(super) struct RecvBuffers {
    pub data: Vec<u8>,
    pub meta: [quinn_udp::RecvMeta; RECV_BATCH],
}

/// Receive buffers of endpoints that have ended, for the next ones: a
/// client making one endpoint per association would otherwise zero half a
/// megabyte for each (profiled: a sixth of its time).
static SPARE_RECV_BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Spare receive buffers kept at most.
const SPARE_RECV_KEPT: usize = 16;

impl RecvBuffers {
    pub fn new() -> Self {
        let spare = SPARE_RECV_BUFFERS.lock().ok().and_then(|mut v| v.pop());
        Self {
            data: spare.unwrap_or_else(|| vec![0; RECV_BATCH * RECV_BUFFER]),
            meta: [quinn_udp::RecvMeta::default(); RECV_BATCH],
        }
    }
}

impl Drop for RecvBuffers {
    fn drop(&mut self) {
        if let Ok(mut spare) = SPARE_RECV_BUFFERS.lock()
            && spare.len() < SPARE_RECV_KEPT
        {
            spare.push(std::mem::take(&mut self.data));
        }
    }
}

/// Keeps one UDP socket with GRO enabled open for the life of the process.
/// `quinn_udp` probes for GSO and GRO with a throwaway socket each time it
/// sets up a socket; on Linux enabling GRO on the first socket, and closing
/// the last, switches a kernel static key, which rewrites kernel code on
/// every CPU. A client setting up many endpoints paid that twice per
/// endpoint (profiled: an eighth of its time); with this socket open the
/// key stays on.
fn keep_offload_enabled() {
    static KEEPER: OnceLock<Option<std::net::UdpSocket>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let socket = std::net::UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))
            .or_else(|_| std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))
            .ok()?;
        // Setting the socket up turns GRO on (quinn-udp does it).
        quinn_udp::UdpSocketState::new((&socket).into()).ok()?;
        Some(socket)
    });
}

/// Packets to one destination, gathered for one GSO send. The endpoint
/// writes each packet straight into `data` (`poll_transmit_append`): no
/// copy per packet.
#[derive(Default)]
pub(super) struct Batch {
    /// Destination, socket index and source address.
    pub destination: Option<Route>,
    pub data: Vec<u8>,
    pub segment: usize,
    pub count: usize,
}

/// Where a batch goes: destination, socket index, source address.
pub(super) type Route = (SocketAddr, usize, Option<IpAddr>);

/// GSO segments per send at most, and bytes (a UDP payload's limit).
const GSO_SEGMENTS: usize = 64;
const GSO_BYTES: usize = 65_000;

impl Batch {
    /// Whether a packet of `size` bytes to `to`, written after the
    /// batch's `count` packets, joins them: same destination, not larger
    /// than the segment size, the batch not ending in a short packet
    /// already, and within GSO's limits.
    pub fn takes(&self, to: Route, size: usize, max_segments: usize) -> bool {
        let held = self.data.len() - size;
        self.destination == Some(to)
            && size <= self.segment
            && held == self.count * self.segment
            && self.count < max_segments.min(GSO_SEGMENTS)
            && self.data.len() <= GSO_BYTES
    }

    /// The packet of `size` bytes at the end of `data`, to `to`, joins.
    pub fn add(&mut self, to: Route, size: usize) {
        if self.count == 0 {
            self.destination = Some(to);
            self.segment = size;
        }
        self.count += 1;
    }
}

/// Socket buffers asked for: a window's worth of datagrams arriving while
/// the task is busy must not overflow the kernel's default (about 200 KiB).
const SOCKET_BUFFER: usize = 4 << 20;

/// Bytes of DATA `socket`'s receive buffer holds before the kernel drops
/// datagrams: Linux reports twice what was granted (SO_RCVBUF's doubling
/// for its bookkeeping) and charges each datagram more than its payload;
/// half the figure, measured with 100 bulk associations on loopback, fills
/// it without overflowing (a quarter cost 15-30% of their throughput, the
/// whole figure lost thousands of packets).
pub(crate) fn receive_budget(socket: &std::net::UdpSocket) -> usize {
    socket2::SockRef::from(socket)
        .recv_buffer_size()
        .map_or(SOCKET_BUFFER / 2, |reported| reported / 2)
}

/// Binds a non-blocking UDP socket with large buffers (dual-stack when it
/// is IPv6); errors name the address.
pub(crate) fn bind_std(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{addr}: {e}"));
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(named)?;
    // The kernel caps these at net.core.{r,w}mem_max; a smaller buffer is
    // not an error.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    if addr.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    socket.set_nonblocking(true).map_err(named)?;
    socket.bind(&addr.into()).map_err(named)?;
    Ok(socket.into())
}

/// Waits for datagrams on any of `sockets`, looking at `first` first, and
/// receives a batch into `bufs`: (socket index, buffers filled).
pub(super) async fn recv_any(
    sockets: &[Io],
    first: usize,
    bufs: &mut RecvBuffers,
) -> (usize, io::Result<usize>) {
    std::future::poll_fn(|cx| {
        let n = sockets.len();
        for i in (0..n).map(|k| (first + k) % n) {
            let io = &sockets[i];
            loop {
                match io.socket.poll_recv_ready(cx) {
                    Poll::Pending => break,
                    Poll::Ready(Err(e)) => return Poll::Ready((i, Err(e))),
                    Poll::Ready(Ok(())) => {}
                }
                let mut slices: Vec<std::io::IoSliceMut<'_>> = bufs
                    .data
                    .chunks_mut(RECV_BUFFER)
                    .map(std::io::IoSliceMut::new)
                    .collect();
                let received = io.socket.try_io(tokio::io::Interest::READABLE, || {
                    io.state
                        .recv((&io.socket).into(), &mut slices, &mut bufs.meta)
                });
                match received {
                    // Readiness was stale: look again, which registers
                    // the waker when nothing is there.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    result => return Poll::Ready((i, result)),
                }
            }
        }
        Poll::Pending
    })
    .await
}

/// An IPv4 peer seen through a dual-stack IPv6 socket as `::ffff:a.b.c.d`
/// is the IPv4 address it is.
pub(super) fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// The source address the kernel would use towards `destination`: a
/// connected UDP socket asks the routing table without sending anything.
pub(super) fn route_source(destination: SocketAddr) -> io::Result<IpAddr> {
    let any: IpAddr = if destination.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let probe = std::net::UdpSocket::bind((any, 0))?;
    probe.connect(destination)?;
    Ok(probe.local_addr()?.ip())
}
