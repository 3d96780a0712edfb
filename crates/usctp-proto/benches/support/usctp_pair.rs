//! The usctp side of the in-memory pair: two endpoints, no sockets, time
//! advanced by the harness.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use usctp_proto::association::{AssocId, Event, SendError};
use usctp_proto::config::Config;
use usctp_proto::endpoint::Endpoint;

const A: &str = "10.0.0.1:9899";
const B: &str = "10.0.0.2:9899";

pub struct Pair {
    a: Endpoint,
    b: Endpoint,
    id_a: AssocId,
    id_b: AssocId,
    now: Instant,
    buf: Vec<u8>,
    arena: usctp_proto::arena::Arena,
}

impl Pair {
    pub fn new() -> Self {
        #[allow(clippy::disallowed_methods)] // the harness's clock starts here
        let now = Instant::now();
        let config = Config::default()
            .with_receive_window(4 << 20)
            .with_send_buffer(4 << 20)
            .with_max_packet_size(1228);
        let mut a = Endpoint::new(config.clone(), 5000, [1; 32], now);
        let mut b = Endpoint::new(config, 9, [2; 32], now);
        b.listen(1);
        let id_a = a.connect(now, B.parse().unwrap(), 9).unwrap();
        let mut pair = Self {
            a,
            b,
            id_a,
            id_b: AssocId(0),
            now,
            buf: Vec::with_capacity(2048),
            arena: usctp_proto::arena::Arena::default(),
        };
        pair.shuttle();
        while let Some((id, e)) = pair.b.poll_event() {
            if matches!(e, Event::Up(_)) {
                pair.id_b = id;
            }
        }
        while pair.a.poll_event().is_some() {}
        pair
    }

    /// Moves packets both ways until neither side has any; returns bytes
    /// of user data read on B.
    fn shuttle(&mut self) -> usize {
        let (a_addr, b_addr): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
        let mut read = 0;
        loop {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit(self.now, &mut self.buf) {
                let datagram = self.arena.take(&self.buf[..t.size]);
                self.b.handle(self.now, a_addr, datagram);
                moved = true;
            }
            if let Some(mut assoc) = self.b.association_mut(self.id_b) {
                while let Some(m) = assoc.recv() {
                    read += m.data.len();
                }
            }
            while let Some(t) = self.b.poll_transmit(self.now, &mut self.buf) {
                let datagram = self.arena.take(&self.buf[..t.size]);
                self.a.handle(self.now, b_addr, datagram);
                moved = true;
            }
            self.now += Duration::from_micros(10);
            if !moved {
                // Let a delayed SACK fire if that is all that is left.
                if let Some(t) = self
                    .b
                    .poll_timeout()
                    .into_iter()
                    .chain(self.a.poll_timeout())
                    .min()
                    && t <= self.now + Duration::from_millis(250)
                {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                    continue;
                }
                return read;
            }
        }
    }

    /// Sends `total` bytes in messages of `size` and waits until B read all.
    pub fn transfer(&mut self, total: usize, size: usize) {
        let payload = Bytes::from(vec![0x5a; size]);
        let (mut sent, mut read) = (0, 0);
        while read < total {
            while sent < total {
                let mut assoc = self.a.association_mut(self.id_a).unwrap();
                match assoc.send(0, 0, payload.clone(), false) {
                    Ok(()) => sent += size,
                    Err(SendError::WouldBlock) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            read += self.shuttle();
        }
    }
}
