//! The sans-IO core driven by hand over plain `std::net::UdpSocket`s: an
//! echo server (SCTP port 7) on one thread and a client on another, each
//! an `Endpoint` and a socket, with no runtime. This is the whole contract
//! between the core and a driver:
//!
//! 1. after any input, send what `poll_transmit` gives;
//! 2. wait for a datagram until `poll_timeout`, then `handle` the datagram
//!    or `handle_timeout`;
//! 3. act on what `poll_event` reports (through `association_mut`).
//!
//! ```sh
//! cargo run -p usctp-proto --example sans_io_udp
//! ```

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use bytes::Bytes;
use usctp_proto::{AssocId, Config, Endpoint, Event};

/// One endpoint and its socket.
struct Driver {
    endpoint: Endpoint,
    socket: UdpSocket,
    buf: Vec<u8>,
}

/// The driver is what reads the clock; the core takes `now` as an input.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// A seed for the endpoint's generator (tags, initial TSNs, cookie keys).
/// A real driver takes it from the operating system; the example derives
/// it from the clock and the port so that it needs no other crate.
#[allow(clippy::disallowed_methods)]
fn seed(port: u16) -> [u8; 32] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(&nanos.to_le_bytes());
    seed[16..18].copy_from_slice(&port.to_le_bytes());
    seed
}

impl Driver {
    fn new(sctp_port: u16) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        let endpoint = Endpoint::new(Config::default(), sctp_port, seed(sctp_port), now());
        Ok(Self {
            endpoint,
            socket,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Step 1: sends every datagram the core has ready.
    fn flush(&mut self) -> std::io::Result<()> {
        while let Some(t) = self.endpoint.poll_transmit(now(), &mut self.buf) {
            self.socket.send_to(&self.buf[..t.size], t.destination)?;
        }
        Ok(())
    }

    /// Steps 1 and 2: sends what is due, then waits at most `most` for one
    /// datagram or the core's next deadline.
    fn turn(&mut self, most: Duration) -> std::io::Result<()> {
        self.flush()?;
        let t = now();
        let wait = self
            .endpoint
            .poll_timeout()
            .map_or(most, |deadline| {
                deadline.saturating_duration_since(t).min(most)
            })
            .max(Duration::from_millis(1));
        self.socket.set_read_timeout(Some(wait))?;
        let mut datagram = [0u8; 65536];
        match self.socket.recv_from(&mut datagram) {
            Ok((n, from)) => {
                let bytes = Bytes::copy_from_slice(&datagram[..n]);
                self.endpoint.handle(now(), from, bytes);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                self.endpoint.handle_timeout(now());
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// Echoes every message back on its stream until its one association ends.
fn serve(mut server: Driver) -> std::io::Result<()> {
    server.endpoint.listen(1);
    loop {
        server.turn(Duration::from_secs(1))?;
        while let Some((id, event)) = server.endpoint.poll_event() {
            match event {
                Event::Readable => echo(&mut server.endpoint, id),
                Event::ShutdownComplete | Event::Lost(_) => {
                    // Whatever the end queued (an ABORT, say) goes out first.
                    server.flush()?;
                    return Ok(());
                }
                _ => {}
            }
        }
    }
}

fn echo(endpoint: &mut Endpoint, id: AssocId) {
    let Some(mut assoc) = endpoint.association_mut(id) else {
        return;
    };
    while let Some(m) = assoc.recv() {
        // A full send buffer would drop the echo; this example sends little.
        let _ = assoc.send(m.stream, m.ppid, m.data, m.unordered);
    }
}

fn main() -> std::io::Result<()> {
    let server = Driver::new(7)?;
    let server_addr: SocketAddr = server.socket.local_addr()?;
    let serving = std::thread::spawn(move || serve(server));

    let mut client = Driver::new(5000)?;
    let id = client
        .endpoint
        .connect(now(), server_addr, 7)
        .map_err(std::io::Error::other)?;
    let words = ["one", "two", "three"];
    let mut echoed = 0;
    let deadline = now() + Duration::from_secs(10);
    while echoed < words.len() && now() < deadline {
        client.turn(Duration::from_millis(100))?;
        while let Some((_, event)) = client.endpoint.poll_event() {
            match event {
                Event::Up(up) => {
                    println!(
                        "up: {} streams out, {} in",
                        up.outbound_streams, up.inbound_streams
                    );
                    let mut assoc = client.endpoint.association_mut(id).expect("it is up");
                    for (stream, word) in words.iter().enumerate() {
                        let data = Bytes::from_static(word.as_bytes());
                        assoc
                            .send(stream as u16, 0, data, false)
                            .map_err(std::io::Error::other)?;
                    }
                }
                Event::Readable => {
                    let mut assoc = client.endpoint.association_mut(id).expect("it is up");
                    while let Some(m) = assoc.recv() {
                        println!(
                            "echo on stream {}: {}",
                            m.stream,
                            String::from_utf8_lossy(&m.data)
                        );
                        echoed += 1;
                    }
                }
                Event::CantStart(e) | Event::Lost(e) => return Err(std::io::Error::other(e)),
                _ => {}
            }
        }
    }
    // Graceful shutdown (RFC 9260 §9.2), driven like everything else.
    if let Some(mut assoc) = client.endpoint.association_mut(id) {
        assoc.shutdown(now());
    }
    let mut closed = false;
    while !closed && now() < deadline {
        client.turn(Duration::from_millis(100))?;
        while let Some((_, event)) = client.endpoint.poll_event() {
            closed |= matches!(event, Event::ShutdownComplete | Event::Lost(_));
        }
    }
    // The SHUTDOWN ACK that ended the association was answered with a
    // SHUTDOWN COMPLETE the core has queued: send it, or the server keeps
    // retransmitting its SHUTDOWN ACK (§9.2) until it gives up.
    client.flush()?;
    println!("{echoed} echoes; shut down: {closed}");
    serving.join().expect("the server thread")?;
    if echoed == words.len() && closed {
        Ok(())
    } else {
        Err(std::io::Error::other("the exchange did not complete"))
    }
}
