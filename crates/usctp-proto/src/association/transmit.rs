//! Building packets: queued control chunks first, then a SACK if one is
//! due or pending, then DATA, bundled within the packet size under the
//! rules of RFC 9260 §6.10.

use std::time::Instant;

use super::rx::SACK_HEADER_LEN;
use super::state::State;
use super::{Association, Queued, Transmit};
use crate::chunk::{BuildError, Chunk, CommonHeader, PacketWriter};

impl Association {
    /// Appends the next packet to `buf`: queued control chunks, then a
    /// SACK if one is due, then DATA, bundled within the size budget
    /// (§6.10). `buf` is as it was when there is nothing to send.
    pub(crate) fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        let start = buf.len();
        loop {
            // The path DATA takes now (retransmissions may go elsewhere).
            let data_path = match &mut self.state {
                State::Open(tcb, _) => {
                    let retransmitting = tcb.tx.has_retransmissions();
                    let p = tcb.paths.data_path(retransmitting);
                    Some((p, tcb.paths.list[p].remote))
                }
                _ => None,
            };
            let (destination, vtag) = match self.out.queue.front() {
                Some(q) => (q.destination, q.vtag),
                None => {
                    let (State::Open(tcb, phase), Some((_, remote))) = (&self.state, data_path)
                    else {
                        return None;
                    };
                    if tcb.acks.due() {
                        (tcb.acks.to(), tcb.peer_tag)
                    } else if tcb.tx.has_pending()
                        && phase.sends_data()
                        && tcb.paths.data_path_open()
                    {
                        (remote, tcb.peer_tag)
                    } else {
                        return None;
                    }
                }
            };
            buf.truncate(start);
            let header = CommonHeader {
                src_port: self.local_port,
                dst_port: self.peer_port,
                verification_tag: vtag,
                checksum: 0,
            };
            let packet_size = match &self.state {
                State::Open(tcb, _) => tcb.packet_size,
                _ => self.config.packet_size_to(destination),
            };
            // §3.3.3: a peer's State Cookie may be larger than our packets;
            // its COOKIE ECHO goes in a packet as large as it needs (up to
            // what UDP carries), together with what is queued behind it
            // (an ERROR reporting unrecognized parameters, §3.2.2): until
            // the COOKIE ACK no other packet may go (§5.1 C).
            let cookie_echo = matches!(
                self.out.queue.front().map(|q| &q.chunk),
                Some(Chunk::CookieEcho(_))
            );
            let size = match self.out.queue.front().map(|q| &q.chunk) {
                Some(Chunk::CookieEcho(_)) => {
                    let together: usize = self
                        .out
                        .queue
                        .iter()
                        .take_while(|q| q.destination == destination && q.vtag == vtag)
                        .map(|q| q.chunk.encoded_len().unwrap_or(0))
                        .sum();
                    packet_size
                        .max(12 + together)
                        .min(crate::config::MAX_UDP_PAYLOAD)
                }
                // A path MTU probe (RFC 8899 §6.2.1.2): a HEARTBEAT and the
                // PAD chunk behind it, alone in a packet of the size under
                // test.
                Some(Chunk::Heartbeat(_)) if self.out.size_probe_at(0) => {
                    let probe: usize = self
                        .out
                        .queue
                        .iter()
                        .take(2)
                        .map(|q| q.chunk.encoded_len().unwrap_or(0))
                        .sum();
                    (12 + probe).min(crate::config::MAX_UDP_PAYLOAD)
                }
                _ => packet_size,
            };
            let mut w = PacketWriter::new(buf, header, size);
            while let Some(next) = self.out.queue.front() {
                if next.destination != destination || next.vtag != vtag {
                    break;
                }
                // A size probe's HEARTBEAT starts a packet of its own: in a
                // smaller one its answer would confirm a size never sent.
                if !w.is_empty() && self.out.size_probe_at(0) {
                    break;
                }
                // A chunk that cannot be encoded is dropped, never sent
                // broken; one that does not fit waits for the next packet.
                match w.push(&next.chunk) {
                    Ok(()) => self.counters.control_chunks_sent += 1,
                    Err(BuildError::DoesNotFit { .. }) if !w.is_empty() => break,
                    Err(_) => {}
                }
                self.out.queue.pop_front();
            }
            // Nothing joins an oversized COOKIE ECHO.
            if let (State::Open(tcb, phase), Some((p, remote))) = (&mut self.state, data_path)
                && vtag == tcb.peer_tag
                && size == tcb.packet_size
            {
                // A due or pending delayed SACK rides along (§6: SACKs are bundled
                // with outgoing DATA where possible).
                // It is cut to the room left, and waits for the next
                // packet when not even its header fits.
                if tcb.acks.wanted()
                    && destination == tcb.acks.to()
                    && w.remaining() >= SACK_HEADER_LEN
                {
                    let sack = tcb.rx.sack(w.remaining());
                    if w.push(&Chunk::Sack(sack)).is_ok() {
                        self.counters.control_chunks_sent += 1;
                        self.counters.sacks_sent += 1;
                        // What must follow the SACK goes now, or as
                        // the first control chunks of the next packet.
                        for chunk in tcb.acks.sent() {
                            if w.push(&chunk).is_err() {
                                self.out.queue.push_front(Queued {
                                    destination,
                                    vtag,
                                    chunk,
                                });
                            }
                        }
                    }
                }
                let can_send = phase.sends_data() && tcb.paths.data_path_open();
                if destination == remote && can_send {
                    tcb.tx.fill(now, &mut w, &mut tcb.paths.list, p);
                }
            }
            if w.is_empty() {
                buf.truncate(start);
                if self.out.queue.is_empty() {
                    return None;
                }
                continue;
            }
            let written = w.finish();
            self.counters.packets_sent += 1;
            // A probe is exactly as large as it should be; anything else
            // past the packet size must be allowed to fragment.
            let probe = size != packet_size && !cookie_echo;
            return Some(Transmit {
                destination,
                source: self.local_ip,
                size: written,
                fragmentable: written > packet_size && !probe,
            });
        }
    }

    /// Whether packets are waiting in `poll_transmit`.
    pub(crate) fn has_pending_transmit(&self) -> bool {
        if !self.out.queue.is_empty() {
            return true;
        }
        let State::Open(tcb, phase) = &self.state else {
            return false;
        };
        tcb.acks.due() || (tcb.tx.has_pending() && phase.sends_data() && tcb.paths.data_path_open())
    }
}
