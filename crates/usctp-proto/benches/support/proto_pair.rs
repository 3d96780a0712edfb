//! The same in-memory pair with `sctp-proto` (the webrtc-rs / str0m sans-IO
//! SCTP), driven the way its own tests drive it, for side-by-side figures.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sctp_proto::{
    Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig, Event,
    Payload, PayloadProtocolIdentifier, ServerConfig,
};

const CLIENT: &str = "10.0.0.1:5000";
const SERVER: &str = "10.0.0.2:5000";

pub struct ProtoPair {
    client_ep: Endpoint,
    server_ep: Endpoint,
    client: (AssociationHandle, Association),
    server: Option<(AssociationHandle, Association)>,
    to_server: VecDeque<Bytes>,
    to_client: VecDeque<Bytes>,
    now: Instant,
    read_buf: Vec<u8>,
}

fn drain(
    assoc: &mut Association,
    ep: &mut Endpoint,
    ch: AssociationHandle,
    now: Instant,
    out: &mut VecDeque<Bytes>,
) {
    while let Some(t) = assoc.poll_transmit(now) {
        if let Payload::RawEncode(parts) = t.payload {
            out.extend(parts);
        }
    }
    while let Some(ev) = assoc.poll_endpoint_event() {
        if let Some(back) = ep.handle_event(ch, ev) {
            assoc.handle_event(back);
        }
    }
    while let Some(t) = ep.poll_transmit() {
        if let Payload::RawEncode(parts) = t.payload {
            out.extend(parts);
        }
    }
}

impl ProtoPair {
    pub fn new() -> Self {
        #[allow(clippy::disallowed_methods)] // the harness's clock starts here
        let now = Instant::now();
        let config = Arc::new(EndpointConfig::default());
        let server_ep = Endpoint::new(config.clone(), Some(Arc::new(ServerConfig::default())));
        let mut client_ep = Endpoint::new(config, None);
        let client = client_ep
            .connect(ClientConfig::default(), SERVER.parse().unwrap())
            .unwrap();
        let mut pair = Self {
            client_ep,
            server_ep,
            client,
            server: None,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            now,
            read_buf: vec![0; 1 << 17],
        };
        pair.pump();
        assert!(matches!(pair.client.1.poll(), Some(Event::Connected)));
        pair
    }

    /// Moves packets until both sides are quiet; returns bytes read on the
    /// server side.
    pub fn pump(&mut self) -> usize {
        let (c, s): (SocketAddr, SocketAddr) = (CLIENT.parse().unwrap(), SERVER.parse().unwrap());
        let mut read = 0;
        loop {
            let (ch, assoc) = (&mut self.client.0, &mut self.client.1);
            drain(
                assoc,
                &mut self.client_ep,
                *ch,
                self.now,
                &mut self.to_server,
            );
            if let Some((ch, assoc)) = &mut self.server {
                drain(
                    assoc,
                    &mut self.server_ep,
                    *ch,
                    self.now,
                    &mut self.to_client,
                );
            }
            while let Some(t) = self.server_ep.poll_transmit() {
                if let Payload::RawEncode(parts) = t.payload {
                    self.to_client.extend(parts);
                }
            }
            let moved = !self.to_server.is_empty() || !self.to_client.is_empty();
            while let Some(bytes) = self.to_server.pop_front() {
                match self.server_ep.handle(self.now, c, None, None, bytes) {
                    Some((ch, DatagramEvent::NewAssociation(a))) => self.server = Some((ch, a)),
                    Some((_, DatagramEvent::AssociationEvent(ev))) => {
                        if let Some((_, assoc)) = &mut self.server {
                            assoc.handle_event(ev);
                        }
                    }
                    None => {}
                }
            }
            while let Some(bytes) = self.to_client.pop_front() {
                if let Some((_, DatagramEvent::AssociationEvent(ev))) =
                    self.client_ep.handle(self.now, s, None, None, bytes)
                {
                    self.client.1.handle_event(ev);
                }
            }
            if let Some((_, assoc)) = &mut self.server {
                while let Some(stream) = assoc.accept_stream() {
                    let _ = stream.stream_identifier();
                }
                if let Ok(mut stream) = assoc.stream(0) {
                    while let Ok(Some(chunks)) = stream.read_sctp() {
                        read += chunks.read(&mut self.read_buf).unwrap_or(0);
                    }
                }
            }
            self.now += Duration::from_micros(10);
            if !moved {
                // Let a delayed acknowledgement fire if that is all that is left.
                let next = [
                    self.client.1.poll_timeout(),
                    self.server.as_mut().and_then(|s| s.1.poll_timeout()),
                ]
                .into_iter()
                .flatten()
                .min();
                match next {
                    Some(t) if t <= self.now + Duration::from_millis(250) => {
                        self.now = self.now.max(t);
                        self.client.1.handle_timeout(self.now);
                        if let Some((_, a)) = &mut self.server {
                            a.handle_timeout(self.now);
                        }
                    }
                    _ => return read,
                }
            }
        }
    }

    /// Sends `total` bytes in messages of `size` from client to server.
    pub fn transfer(&mut self, total: usize, size: usize) {
        let payload = Bytes::from(vec![0x5a; size]);
        if self.client.1.stream(0).is_err() {
            self.client
                .1
                .open_stream(0, PayloadProtocolIdentifier::Binary)
                .unwrap();
        }
        let (mut sent, mut read) = (0, 0);
        while read < total {
            while sent < total {
                let mut stream = self.client.1.stream(0).unwrap();
                if stream.buffered_amount().unwrap_or(0) > 4 << 20 {
                    break;
                }
                stream
                    .write_sctp(&payload, PayloadProtocolIdentifier::Binary)
                    .unwrap();
                sent += size;
            }
            read += self.pump();
        }
    }
}
