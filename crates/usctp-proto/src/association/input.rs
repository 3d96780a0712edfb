//! A packet for this association: whether its verification tag lets it in
//! (RFC 9260 §8.5, §8.5.1), then each of its chunks in order.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::Open;
use super::ack::Arrival;
use super::rx::DataVerdict;
use super::state::{Phase, State};
use super::{Association, AssociationError, Context, Event};
use crate::chunk::{
    Abort, Chunk, Data, ErrorCause, ErrorChunk, Heartbeat, Packet, Sack, Shutdown, ShutdownComplete,
};

/// RFC 9260 §8.5.1: how a packet's verification tag is judged, by its
/// first chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TagRule {
    /// (A) An INIT travels alone with tag 0.
    Init,
    /// (D) A COOKIE ECHO is judged by the tag in its cookie.
    CookieEcho,
    /// (B), (C) ABORT and SHUTDOWN COMPLETE: this end's tag, or with the
    /// T bit the peer's own.
    Reflectable { reflected: bool },
    /// (E) A SHUTDOWN ACK while setting up is out of the blue (§8.4 (5)):
    /// answered with a SHUTDOWN COMPLETE under its own tag, T bit set.
    StrayShutdownAck,
    /// Every other packet carries this end's tag (§8.5).
    Local,
}

impl TagRule {
    fn of(first: &Chunk, setting_up: bool) -> Self {
        match first {
            Chunk::Init(_) => Self::Init,
            Chunk::CookieEcho(_) => Self::CookieEcho,
            Chunk::Abort(Abort { reflected_tag, .. })
            | Chunk::ShutdownComplete(ShutdownComplete { reflected_tag }) => Self::Reflectable {
                reflected: *reflected_tag,
            },
            Chunk::ShutdownAck if setting_up => Self::StrayShutdownAck,
            _ => Self::Local,
        }
    }
}

impl Association {
    /// Handles a packet the endpoint routed here: from one of the peer's
    /// addresses and ports, checksum verified.
    pub(crate) fn handle_packet(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        packet: &Packet,
        ctx: &mut Context<'_>,
    ) {
        let vtag = packet.header.verification_tag;
        let Some(first) = packet.chunks.first() else {
            return;
        };
        let setting_up = matches!(self.state, State::CookieWait(_) | State::CookieEchoed(_));
        match TagRule::of(first, setting_up) {
            TagRule::Init => {
                if let (Chunk::Init(init), true) = (first, packet.chunks.len() == 1 && vtag == 0) {
                    self.on_init(remote, init, ctx);
                }
                return;
            }
            TagRule::CookieEcho => {
                let Chunk::CookieEcho(echo) = first else {
                    return;
                };
                if !self.on_cookie_echo(now, remote, vtag, &echo.cookie, ctx) {
                    return;
                }
            }
            TagRule::Reflectable { reflected } => {
                let expected = if reflected {
                    self.state.peer_tag()
                } else {
                    Some(self.local_tag)
                };
                if expected != Some(vtag) {
                    return;
                }
            }
            TagRule::StrayShutdownAck => {
                let reply = Chunk::ShutdownComplete(ShutdownComplete {
                    reflected_tag: true,
                });
                self.out.send(remote, vtag, reply);
                return;
            }
            TagRule::Local => {
                if vtag != self.local_tag {
                    return;
                }
            }
        }
        // RFC 6951 §5.4: the peer's encapsulation port is learned from
        // packets that passed the tag check.
        self.state.learn_port(remote);
        self.counters.packets_received += 1;
        let skip = usize::from(matches!(first, Chunk::CookieEcho(_)));
        self.handle_chunks(now, remote, &packet.chunks[skip..], skip == 1);
    }

    /// Handles the chunks of a packet whose tag has been accepted, in order.
    /// `after_cookie_echo` says the chunks followed a COOKIE ECHO.
    pub(crate) fn handle_chunks(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        chunks: &[Chunk],
        after_cookie_echo: bool,
    ) {
        let mut had_data = false;
        // DATA bundled with the COOKIE ECHO or COOKIE ACK is acknowledged at
        // once, in the same packet as the COOKIE ACK where possible: the
        // peer's first message then costs no delayed-SACK wait.
        let mut setup = after_cookie_echo;
        for chunk in chunks {
            match chunk {
                Chunk::Data(_) => had_data = true,
                Chunk::Sack(sack) => {
                    self.counters.control_chunks_received += 1;
                    self.counters.sacks_received += 1;
                    self.counters.gap_blocks_received += sack.gap_blocks.len() as u64;
                }
                _ => self.counters.control_chunks_received += 1,
            }
            setup |= matches!(chunk, Chunk::CookieAck);
            if !self.on_chunk(now, remote, chunk) {
                break;
            }
        }
        // §6.2: packets with DATA are counted for the every-second-packet
        // rule once the whole packet is processed.
        if let (true, Some(tcb)) = (had_data, self.state.tcb_mut()) {
            tcb.acks.on_packet(setup);
            self.repeat_shutdown(now, remote);
        }
    }

    /// Handles one chunk of an accepted packet; `false` stops processing
    /// the rest of the packet.
    fn on_chunk(&mut self, now: Instant, remote: SocketAddr, chunk: &Chunk) -> bool {
        match chunk {
            // §5.2.3: an INIT ACK outside COOKIE-WAIT is discarded.
            Chunk::InitAck(ack) => self.on_init_ack(now, remote, ack),
            // §5.1 (E); §5.2.5: a COOKIE ACK in any other state is
            // discarded.
            Chunk::CookieAck => self.on_cookie_ack(now),
            // §3.3.6, §8.3: answer to the address the HEARTBEAT came from,
            // with its information unchanged (the source address is the
            // one the route to it takes).
            // §8.3 makes a HEARTBEAT ACK due from COOKIE-ECHOED on (the one
            // packet §5.1's "nothing else until the COOKIE ACK" leaves out).
            Chunk::Heartbeat(hb) => {
                if let Some(peer_tag) = self.state.peer_tag() {
                    let ack = Chunk::HeartbeatAck(Heartbeat {
                        info: hb.info.clone(),
                    });
                    self.out.send(remote, peer_tag, ack);
                }
            }
            Chunk::HeartbeatAck(ack) => self.on_heartbeat_ack(now, &ack.info),
            Chunk::Abort(abort) => {
                self.on_abort(abort);
                return false;
            }
            Chunk::Error(error) => self.on_error(now, error),
            Chunk::Data(data) => return self.on_data(now, remote, data),
            Chunk::Sack(sack) => self.on_sack(now, sack),
            Chunk::Shutdown(shutdown) => self.on_shutdown(now, remote, shutdown),
            Chunk::ShutdownAck if self.on_shutdown_ack(remote) => return false,
            Chunk::ShutdownComplete(_) if self.on_shutdown_complete() => return false,
            Chunk::Unknown(unknown) => {
                // §3.2: the upper two bits of the type decide.
                let action = unknown.action();
                if let (true, Some(peer_tag)) = (action.reports(), self.state.peer_tag()) {
                    // The cause holds the chunk as received, without the
                    // padding that followed it.
                    let mut raw = Vec::new();
                    let _ = chunk.emit(&mut raw);
                    raw.truncate(4 + unknown.value.len());
                    let cause = ErrorCause::UnrecognizedChunkType(Bytes::from(raw));
                    let error = Chunk::Error(ErrorChunk {
                        causes: vec![cause],
                    });
                    self.out.send(remote, peer_tag, error);
                }
                return action.continues();
            }
            _ => {}
        }
        !self.is_closed()
    }

    /// An ABORT that passed the tag check (§9.1).
    fn on_abort(&mut self, abort: &Abort) {
        if matches!(self.state, State::Open(_, Phase::ShutdownAckSent(_))) {
            // Everything was delivered both ways before the SHUTDOWN ACK
            // went out; an ABORT now is the peer, already closed (its
            // SHUTDOWN COMPLETE lost), answering a late packet of ours
            // (§8.4 (8)). The shutdown is complete.
            self.close_quietly();
            self.out.event(Event::ShutdownComplete);
        } else {
            self.close(AssociationError::PeerAborted(abort.causes.clone()));
        }
    }

    /// A HEARTBEAT ACK (§8.3), for the path it answers.
    fn on_heartbeat_ack(&mut self, now: Instant, info: &[u8]) {
        if let Some(Open {
            tcb,
            config,
            random,
            out,
            ..
        }) = self.open()
        {
            tcb.on_heartbeat_ack(now, info, config, random, out);
        }
    }

    /// A SACK (§6.2.1).
    fn on_sack(&mut self, now: Instant, sack: &Sack) {
        let Some(Open {
            tcb, config, out, ..
        }) = self.open()
        else {
            return;
        };
        let outcome = tcb.tx.on_sack(now, sack, &mut tcb.paths.list);
        if outcome.advanced {
            if tcb.tx.is_idle() {
                out.event(Event::SenderDry);
            }
            if tcb.tx.take_writable() {
                out.event(Event::Writable);
            }
        }
        tcb.paths.on_acked(outcome, out, config.primary_failback);
        self.progress_shutdown(now, None);
    }

    /// A DATA chunk (§6.2, §6.5). Returns whether to go on with the packet.
    fn on_data(&mut self, now: Instant, remote: SocketAddr, chunk: &Data) -> bool {
        let Some(Open {
            tcb,
            phase,
            config,
            out,
            ..
        }) = self.open()
        else {
            return true;
        };
        // After the peer's SHUTDOWN no DATA of its is taken: it sends SHUTDOWN
        // only once all its DATA is acknowledged (§9.2), so anything more is
        // stale.
        if !phase.takes_data() {
            return true;
        }
        // §6.2: DATA without user data ends the association.
        if chunk.payload.is_empty() {
            let abort = Chunk::Abort(Abort {
                reflected_tag: false,
                causes: vec![ErrorCause::NoUserData(chunk.tsn)],
            });
            out.queue.clear();
            out.send(remote, tcb.peer_tag, abort);
            self.close(AssociationError::ProtocolViolation(
                "DATA chunk without user data",
            ));
            return false;
        }
        tcb.last_data = now;
        let readable_before = tcb.rx.readable();
        let gap_before = tcb.rx.has_gaps();
        let verdict = tcb.rx.on_data(chunk);
        let shutdown_sent = matches!(phase, Phase::ShutdownSent(_));
        let arrival = Arrival {
            new: verdict == DataVerdict::New,
            gap_before,
            gap_after: tcb.rx.has_gaps(),
            immediate_bit: chunk.flags.immediate,
            shutdown_sent,
        };
        // §5.4: nothing but HEARTBEATs goes to an address not yet
        // confirmed, so the SACK for DATA from one goes to the primary.
        let confirmed = tcb
            .paths
            .index_of(remote)
            .is_some_and(|i| tcb.paths.list[i].confirmed);
        let sack_to = if confirmed {
            remote
        } else {
            tcb.paths.primary_remote()
        };
        tcb.acks.on_data(now, sack_to, config.sack_delay, arrival);
        if readable_before == 0 && tcb.rx.readable() > 0 {
            out.event(Event::Readable);
        }
        if verdict == DataVerdict::InvalidStream {
            // §6.5: report the stream after acknowledging the TSN as usual;
            // the ERROR follows the SACK, in its packet or the next.
            tcb.acks.after_sack(Chunk::Error(ErrorChunk {
                causes: vec![ErrorCause::InvalidStreamIdentifier(chunk.stream)],
            }));
        }
        true
    }

    /// §9.2: in SHUTDOWN-SENT, each packet with DATA is acknowledged with
    /// a SHUTDOWN, and T2-shutdown restarts.
    fn repeat_shutdown(&mut self, now: Instant, remote: SocketAddr) {
        if let State::Open(tcb, Phase::ShutdownSent(timers)) = &mut self.state {
            timers.t2.deadline = now + timers.t2.rto;
            let shutdown = Chunk::Shutdown(Shutdown {
                cumulative_tsn_ack: tcb.cumulative_tsn(),
            });
            let (to, vtag) = (remote, tcb.peer_tag);
            self.out.send(to, vtag, shutdown);
        }
    }
}
