//! The pieces of association setup (RFC 9260 §5) that do not depend on an
//! association's state: judging a received INIT or INIT ACK, building the
//! INIT ACK, and deciding what a COOKIE ECHO means for an existing
//! association (§5.2.4).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;

use super::state::{self, Backoff, CookieEchoed, CookieWait, Phase, State};
use super::{Association, AssociationError, Context, Event, MAX_STALE_RETRIES, Negotiated};
use crate::chunk::codec::{TlvItem, Writer};
use crate::chunk::{Abort, Chunk, CookieEcho, ErrorCause, ErrorChunk, Init, Param, ParamType};
use crate::cookie::{Capabilities, MAX_ADDRESSES, StateCookie};
use crate::serial::Tsn;

/// What the fixed fields and parameters of a peer's INIT or INIT ACK say,
/// once judged acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerInit {
    pub tag: u32,
    pub a_rwnd: u32,
    pub outbound_streams: u16,
    pub inbound_streams: u16,
    pub initial_tsn: Tsn,
    /// Addresses the chunk listed, in order, without duplicates.
    pub addresses: Vec<IpAddr>,
    /// Address types the peer accepts, if it said.
    pub address_types: Option<Vec<ParamType>>,
    /// The peer's Cookie Preservative, in ms.
    pub cookie_preservative_ms: Option<u32>,
    /// The State Cookie (INIT ACK only).
    pub cookie: Option<Bytes>,
    /// Its Adaptation Layer Indication (RFC 5061 §4.2.6).
    pub adaptation: Option<u32>,
    /// Unrecognized parameters to report, each as the whole TLV.
    pub unrecognized: Vec<Bytes>,
}

/// RFC 9260 §5.1 and §3.3.2/§3.3.3: what to do with a received INIT or
/// INIT ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InitVerdict {
    /// Drop it without a word (an Initiate Tag of 0, RFC 9260 §3.3.2).
    Discard,
    /// Answer with an ABORT carrying these causes.
    Abort(Vec<ErrorCause>),
    /// Go on with it.
    Accept(PeerInit),
}

/// The whole TLV of an unrecognized parameter, for reporting it.
fn tlv_bytes(param: &Param) -> Bytes {
    let mut buf = Vec::new();
    param.emit(&mut Writer::new(&mut buf));
    // Reports carry the parameter as it came: without trailing padding.
    let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    buf.truncate(len);
    Bytes::from(buf)
}

/// Judges an INIT (`is_ack == false`) or INIT ACK.
/// The smallest receiver window an INIT or INIT ACK may advertise.
pub(crate) const MIN_A_RWND: u32 = 1500;

pub(crate) fn judge_init(init: &Init, is_ack: bool) -> InitVerdict {
    // RFC 9260 §3.3.2: an INIT whose Initiate Tag is 0 is discarded
    // silently. §3.3.3: an INIT ACK with one ends the attempt, reported as
    // an invalid mandatory parameter.
    if init.initiate_tag == 0 {
        return if is_ack {
            InitVerdict::Abort(vec![ErrorCause::InvalidMandatoryParameter])
        } else {
            InitVerdict::Discard
        };
    }
    // §3.3.2: zero outbound or inbound streams is an invalid mandatory
    // parameter, answered with ABORT; so is a window below 1500 bytes
    // (§3.3.2, §3.3.3: the chunk is not acted on, an ABORT may answer).
    if init.outbound_streams == 0 || init.inbound_streams == 0 || init.a_rwnd < MIN_A_RWND {
        return InitVerdict::Abort(vec![ErrorCause::InvalidMandatoryParameter]);
    }
    let mut peer = PeerInit {
        tag: init.initiate_tag,
        a_rwnd: init.a_rwnd,
        outbound_streams: init.outbound_streams,
        inbound_streams: init.inbound_streams,
        initial_tsn: init.initial_tsn,
        addresses: Vec::new(),
        address_types: None,
        cookie_preservative_ms: None,
        cookie: None,
        adaptation: None,
        unrecognized: Vec::new(),
    };
    for param in &init.params {
        match param {
            Param::Ipv4Address(_) | Param::Ipv6Address(_) => {
                let addr = param.address().unwrap_or(IpAddr::from([0, 0, 0, 0]));
                // Only unicast addresses can be paths (§5.1.2 ignores the
                // rest); the list is bounded like the cookie's.
                let usable = !addr.is_unspecified() && !addr.is_multicast() && !is_broadcast(addr);
                if usable && !peer.addresses.contains(&addr) && peer.addresses.len() < MAX_ADDRESSES
                {
                    peer.addresses.push(addr);
                }
            }
            // RFC 9260 §5.1.2: a host name cannot be resolved here; the
            // answer is an ABORT with Unresolvable Address.
            Param::HostNameAddress(_) => {
                return InitVerdict::Abort(vec![ErrorCause::UnresolvableAddress(tlv_bytes(param))]);
            }
            Param::SupportedAddressTypes(types) => peer.address_types = Some(types.clone()),
            Param::CookiePreservative(ms) => peer.cookie_preservative_ms = Some(*ms),
            Param::StateCookie(c) if is_ack => peer.cookie = Some(c.clone()),
            Param::AdaptationLayerIndication(code) => peer.adaptation = Some(*code),
            Param::Unknown { param_type, .. } => {
                // §3.2.1: the upper two bits say whether to report it and
                // whether to look at the parameters after it.
                let action = param_type.unknown_action();
                if action.reports() {
                    peer.unrecognized.push(tlv_bytes(param));
                }
                if !action.continues() {
                    break;
                }
            }
            // Known parameters this end does not use (ECN, PR-SCTP,
            // extensions, AUTH, padding, …) are not negotiated: ignoring
            // them declines the feature.
            _ => {}
        }
    }
    // §3.3.3: the State Cookie is mandatory in an INIT ACK.
    if is_ack && peer.cookie.is_none() {
        return InitVerdict::Abort(vec![ErrorCause::MissingMandatoryParameter(vec![
            ParamType::STATE_COOKIE,
        ])]);
    }
    InitVerdict::Accept(peer)
}

fn is_broadcast(addr: IpAddr) -> bool {
    matches!(addr, IpAddr::V4(a) if a.is_broadcast())
}

impl PeerInit {
    /// Whether the peer accepts addresses like `addr` (§5.1.2: without a
    /// Supported Address Types parameter, it accepts every type; the family
    /// its INIT came over from `source` counts as supported even when the
    /// parameter leaves it out).
    pub(crate) fn accepts(&self, addr: IpAddr, source: IpAddr) -> bool {
        if addr.is_ipv4() == source.is_ipv4() {
            return true;
        }
        let ty = match addr {
            IpAddr::V4(_) => ParamType::IPV4_ADDRESS,
            IpAddr::V6(_) => ParamType::IPV6_ADDRESS,
        };
        self.address_types
            .as_ref()
            .is_none_or(|types| types.contains(&ty))
    }

    /// The peer's addresses: the packet's source first, then the listed
    /// ones (RFC 9260 §5.1.2 (A), (C)).
    pub(crate) fn addresses_with_source(&self, source: IpAddr) -> Vec<IpAddr> {
        let mut all = Vec::with_capacity(self.addresses.len() + 1);
        all.push(source);
        all.extend(self.addresses.iter().filter(|&&a| a != source));
        all.truncate(MAX_ADDRESSES);
        all
    }
}

/// What the parameters of this end's INIT or INIT ACK carry about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalInit {
    pub tag: u32,
    pub initial_tsn: Tsn,
    pub a_rwnd: u32,
    pub outbound_streams: u16,
    pub max_inbound_streams: u16,
    /// This end's Adaptation Layer Indication, if configured.
    pub adaptation: Option<u32>,
}

/// The cookie an INIT ACK carries, from the INIT it answers.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cookie_for(
    local: &LocalInit,
    peer: &PeerInit,
    source: IpAddr,
    ports: (u16, u16),
    tie_tags: (u32, u32),
    created_ms: u64,
    lifespan_ms: u32,
) -> StateCookie {
    StateCookie {
        local_tag: local.tag,
        peer_tag: peer.tag,
        local_initial_tsn: local.initial_tsn,
        peer_initial_tsn: peer.initial_tsn,
        // §5.1.1: each side sends on no more streams than the other takes.
        outbound_streams: local.outbound_streams.min(peer.inbound_streams),
        inbound_streams: local.max_inbound_streams.min(peer.outbound_streams),
        peer_a_rwnd: peer.a_rwnd,
        local_port: ports.0,
        peer_port: ports.1,
        local_tie_tag: tie_tags.0,
        peer_tie_tag: tie_tags.1,
        capabilities: Capabilities::default(),
        peer_addresses: peer.addresses_with_source(source),
        created_ms,
        lifespan_ms,
        peer_adaptation: peer.adaptation,
    }
}

/// RFC 9260 §5.2.4, Table 7: what a valid COOKIE ECHO means when an
/// association with the peer already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CookieResolution {
    /// (A) Both tags differ and the tie-tags match: the peer restarted.
    PeerRestart,
    /// (B) Our tag matches, the peer's differs: setup collision; take the
    /// peer's tag and establish.
    Collision,
    /// (C) Our tag differs, the peer's matches, no tie-tags: an old INIT
    /// ACK's cookie, discard.
    Discard,
    /// (D) Both tags match: the association exists; acknowledge it.
    Established,
}

/// Applies Table 7. `tcb` is (local tag, peer tag, local tie-tag, peer
/// tie-tag) of the existing association; a peer tag of 0 means none yet.
pub(crate) fn resolve_cookie(cookie: &StateCookie, tcb: (u32, u32, u32, u32)) -> CookieResolution {
    let (local, peer, local_tie, peer_tie) = tcb;
    let local_match = cookie.local_tag == local;
    let peer_match = cookie.peer_tag == peer;
    if !local_match
        && !peer_match
        && cookie.local_tie_tag != 0
        && cookie.local_tie_tag == local_tie
        && cookie.peer_tie_tag == peer_tie
    {
        CookieResolution::PeerRestart
    } else if local_match && (!peer_match || peer == 0) {
        CookieResolution::Collision
    } else if local_match && peer_match {
        CookieResolution::Established
    } else {
        // Case (C), and every combination Table 7 does not list.
        CookieResolution::Discard
    }
}

// ---- the handshake inside an association (§5.1, §5.2) ----

/// RFC 9260 §5.2.1, §5.2.2, §9.2: what an INIT for an existing association
/// gets, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InitResponse {
    /// §5.2.1, COOKIE-WAIT or COOKIE-ECHOED: an INIT ACK with this end's
    /// original INIT parameters, tag unchanged. In COOKIE-WAIT only the
    /// local tie-tag is known.
    RepeatOurInit { both_tie_tags: bool },
    /// §5.2.2, established or shutting down (before SHUTDOWN ACK): an INIT
    /// ACK with a new tag and TSN; the tie-tags let the COOKIE ECHO that
    /// follows be recognised as a restart (§5.2.4 A).
    NewTag,
    /// §9.2, SHUTDOWN-ACK-SENT: the SHUTDOWN COMPLETE was lost; repeat the
    /// SHUTDOWN ACK.
    RepeatShutdownAck,
    /// CLOSED: nothing.
    Ignore,
}

impl InitResponse {
    fn of(state: &State) -> Self {
        match state {
            State::CookieWait(_) => Self::RepeatOurInit {
                both_tie_tags: false,
            },
            State::CookieEchoed(_) => Self::RepeatOurInit {
                both_tie_tags: true,
            },
            State::Open(_, Phase::ShutdownAckSent(_)) => Self::RepeatShutdownAck,
            State::Open(..) => Self::NewTag,
            State::Closed(_) => Self::Ignore,
        }
    }
}

impl Association {
    /// An INIT for an existing association: collision or restart (§5.2.1,
    /// §5.2.2).
    pub(super) fn on_init(&mut self, remote: SocketAddr, init: &Init, ctx: &mut Context<'_>) {
        let peer = match judge_init(init, false) {
            InitVerdict::Discard => return,
            InitVerdict::Abort(causes) => {
                self.queue_abort(remote, init.initiate_tag, causes);
                return;
            }
            InitVerdict::Accept(peer) => peer,
        };
        let (local, tie_tags, reply_to) = match InitResponse::of(&self.state) {
            InitResponse::RepeatOurInit { both_tie_tags } => {
                // §5.2.1: in COOKIE-ECHOED the peer already knows some of
                // this end's addresses; new ones are refused.
                if both_tie_tags && self.refuse_new_addresses(remote, &peer) {
                    return;
                }
                let Some(reply_to) = self.collision_reply_to(remote, &peer) else {
                    return;
                };
                let ours = match &self.state {
                    State::CookieWait(s) => local_of(&s.init),
                    State::CookieEchoed(s) => local_of(&s.init),
                    _ => return,
                };
                let tie_tags = if both_tie_tags {
                    self.tie_tags
                } else {
                    (self.tie_tags.0, 0)
                };
                (ours, tie_tags, reply_to)
            }
            InitResponse::NewTag => {
                if self.refuse_new_addresses(remote, &peer) {
                    return;
                }
                let local = LocalInit {
                    tag: ctx.nonzero(),
                    initial_tsn: Tsn(ctx.rng.u32()),
                    a_rwnd: self.config.receive_window,
                    outbound_streams: self.config.outbound_streams,
                    max_inbound_streams: self.config.max_inbound_streams,
                    adaptation: self.config.adaptation_indication,
                };
                (local, self.tie_tags, remote)
            }
            InitResponse::RepeatShutdownAck => {
                let peer_tag = self.peer_tag();
                self.out.send(remote, peer_tag, Chunk::ShutdownAck);
                return;
            }
            InitResponse::Ignore => return,
        };
        let lifespan = ctx.cookie_lifespan_ms(peer.cookie_preservative_ms);
        let cookie = cookie_for(
            &local,
            &peer,
            remote.ip(),
            (self.local_port, self.peer_port),
            tie_tags,
            ctx.clock_ms,
            lifespan,
        );
        let ack = init_ack_chunk(&local, &peer, remote.ip(), &cookie, ctx, usize::MAX);
        self.out.send(reply_to, peer.tag, Chunk::InitAck(ack));
    }

    /// §5.2.1: where the INIT ACK answering a colliding INIT goes: an
    /// address the user gave (one of the paths) that the INIT also
    /// reports, its source if possible; `None` when there is none.
    fn collision_reply_to(&self, remote: SocketAddr, peer: &PeerInit) -> Option<SocketAddr> {
        let reported = peer.addresses_with_source(remote.ip());
        self.peer_addresses()
            .into_iter()
            .filter(|a| reported.contains(&a.ip()))
            .min_by_key(|a| a.ip() != remote.ip())
            .map(|a| if a.ip() == remote.ip() { remote } else { a })
    }

    /// RFC 9260 §5.2.1, §5.2.2: an INIT that adds addresses to an existing
    /// association is refused with an ABORT listing them, so that a restart
    /// cannot hijack the association to new addresses.
    pub(super) fn refuse_new_addresses(&mut self, remote: SocketAddr, peer: &PeerInit) -> bool {
        let new: Vec<IpAddr> = peer
            .addresses_with_source(remote.ip())
            .into_iter()
            .filter(|&a| !self.has_peer_address(a))
            .collect();
        if new.is_empty() {
            return false;
        }
        let mut listed = Vec::new();
        let mut w = crate::chunk::codec::Writer::new(&mut listed);
        for a in new {
            Param::from_address(a).emit(&mut w);
        }
        let cause = ErrorCause::RestartWithNewAddresses(Bytes::from(listed));
        self.queue_abort(remote, peer.tag, vec![cause]);
        true
    }

    pub(super) fn queue_abort(&mut self, to: SocketAddr, vtag: u32, causes: Vec<ErrorCause>) {
        let abort = Chunk::Abort(Abort {
            reflected_tag: false,
            causes,
        });
        self.out.send(to, vtag, abort);
    }

    /// §5.1 (C): the INIT ACK in COOKIE-WAIT; §5.2.3: discarded in any
    /// other state.
    pub(super) fn on_init_ack(&mut self, now: Instant, remote: SocketAddr, ack: &Init) {
        if !matches!(self.state, State::CookieWait(_)) {
            return;
        }
        let peer = match judge_init(ack, true) {
            InitVerdict::Accept(peer) => peer,
            InitVerdict::Discard => return,
            InitVerdict::Abort(causes) => {
                // §3.3.3: an invalid INIT ACK ends the attempt; with no
                // usable peer tag the ABORT reflects ours (T bit).
                let (vtag, reflected_tag) = if ack.initiate_tag != 0 {
                    (ack.initiate_tag, false)
                } else {
                    (self.local_tag, true)
                };
                let abort = Chunk::Abort(Abort {
                    reflected_tag,
                    causes: causes.clone(),
                });
                self.out.send(remote, vtag, abort);
                self.close(AssociationError::InvalidInitAck(causes));
                return;
            }
        };
        let State::CookieWait(wait) = std::mem::take(&mut self.state) else {
            return;
        };
        let listed = peer.addresses_with_source(remote.ip());
        let cookie = peer.cookie.clone().unwrap_or_default();
        // §5.1 (C): COOKIE ECHO first; unrecognized parameters of the INIT
        // ACK are reported in an ERROR bundled after it (§3.2.2).
        let echo = Chunk::CookieEcho(CookieEcho {
            cookie: cookie.clone(),
        });
        self.out.send(remote, peer.tag, echo);
        if !peer.unrecognized.is_empty() {
            let causes = peer
                .unrecognized
                .iter()
                .map(|p| ErrorCause::UnrecognizedParameters(p.clone()))
                .collect();
            self.out
                .send(remote, peer.tag, Chunk::Error(ErrorChunk { causes }));
        }
        // §5.1.1: each side sends on no more streams than the other takes.
        let half = state::PeerInit {
            tag: peer.tag,
            initial_tsn: peer.initial_tsn,
            rwnd: peer.a_rwnd,
            outbound_streams: wait.init.outbound_streams.min(peer.inbound_streams),
            inbound_streams: wait.init.inbound_streams.min(peer.outbound_streams),
            targets: super::targets_with(remote, &listed),
            adaptation: peer.adaptation,
        };
        self.addresses_changed = true;
        self.state = State::CookieEchoed(CookieEchoed {
            init: wait.init,
            cookie,
            t1: Backoff::start(now, self.config.rto_initial),
            stale_retries: wait.stale_retries,
            peer: half,
        });
    }

    /// §5.1 (E): the COOKIE ACK in COOKIE-ECHOED establishes the
    /// association; §5.2.5: in any other state it is discarded.
    pub(super) fn on_cookie_ack(&mut self, now: Instant) {
        if !matches!(self.state, State::CookieEchoed(_)) {
            return;
        }
        let State::CookieEchoed(echoed) = std::mem::take(&mut self.state) else {
            return;
        };
        let negotiated = Negotiated {
            local_tag: self.local_tag,
            peer_tag: echoed.peer.tag,
            local_initial_tsn: echoed.init.initial_tsn,
            peer_initial_tsn: echoed.peer.initial_tsn,
            outbound_streams: echoed.peer.outbound_streams,
            inbound_streams: echoed.peer.inbound_streams,
            peer_rwnd: echoed.peer.rwnd,
            targets: echoed.peer.targets,
            peer_adaptation: echoed.peer.adaptation,
        };
        self.establish(now, negotiated);
        self.announce(false);
    }

    /// A COOKIE ECHO for an existing association (§5.2.4). Returns whether
    /// the rest of the packet is to be processed.
    pub(super) fn on_cookie_echo(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        vtag: u32,
        sealed: &[u8],
        ctx: &mut Context<'_>,
    ) -> bool {
        // §5.1.5: a cookie that fails authentication is discarded silently.
        let Ok(cookie) = ctx.keys.authenticate(sealed) else {
            return false;
        };
        // §5.1.5 step 3 (and §8.5.1 (D)): the packet's tag and ports must be
        // the cookie's.
        if vtag != cookie.local_tag
            || cookie.local_port != self.local_port
            || cookie.peer_port != self.peer_port
        {
            return false;
        }
        let tcb = (
            self.local_tag,
            self.peer_tag(),
            self.tie_tags.0,
            self.tie_tags.1,
        );
        let resolution = resolve_cookie(&cookie, tcb);
        if resolution == CookieResolution::Discard {
            return false;
        }
        // A stale cookie may only confirm an association both ends already
        // agree on (D); restarting or resolving a collision from it would
        // let an old COOKIE ECHO replace the association.
        if resolution != CookieResolution::Established
            && let Some(by_us) = cookie.staleness_us(ctx.clock_ms)
        {
            let error = Chunk::Error(ErrorChunk {
                causes: vec![ErrorCause::StaleCookie {
                    staleness_us: by_us,
                }],
            });
            self.out.send(remote, cookie.peer_tag, error);
            return false;
        }
        let shutting_down = matches!(self.state, State::Open(_, Phase::ShutdownAckSent(_)));
        if resolution == CookieResolution::PeerRestart && shutting_down {
            // §5.2.4 (A): no restart while shutting down; say so.
            let peer_tag = self.peer_tag();
            self.out.send(remote, peer_tag, Chunk::ShutdownAck);
            let error = Chunk::Error(ErrorChunk {
                causes: vec![ErrorCause::CookieReceivedWhileShuttingDown],
            });
            self.out.send(remote, peer_tag, error);
            return false;
        }
        match resolution {
            CookieResolution::PeerRestart => {
                // (A): everything from the old incarnation is gone.
                if cookie
                    .peer_addresses
                    .iter()
                    .any(|&a| !self.has_peer_address(a))
                {
                    return false;
                }
                self.out.queue.clear();
                if let Some(tcb) = self.state.tcb_mut() {
                    super::report_unsent(&mut tcb.tx, &mut self.out);
                }
                self.tie_tags = (ctx.nonzero(), ctx.nonzero());
                self.establish(now, Negotiated::from_cookie(&cookie, remote));
                self.announce(true);
            }
            CookieResolution::Collision => {
                let negotiated = Negotiated::from_cookie(&cookie, remote);
                if let State::Open(tcb, _) = &mut self.state {
                    // (B) while up: only the peer's tag changes; the data
                    // path goes on as it was.
                    tcb.peer_tag = negotiated.peer_tag;
                } else {
                    self.establish(now, negotiated);
                    self.announce(false);
                }
            }
            CookieResolution::Established => {
                // (D): the association exists; in COOKIE-ECHOED it is now
                // up, from what the INIT ACK said.
                if matches!(self.state, State::CookieEchoed(_)) {
                    self.on_cookie_ack(now);
                }
            }
            CookieResolution::Discard => return false,
        }
        let peer_tag = self.peer_tag();
        self.out.send(remote, peer_tag, Chunk::CookieAck);
        true
    }

    /// ERROR chunks: a Stale Cookie in COOKIE-ECHOED restarts the handshake
    /// asking for a longer cookie life (§5.2.6); the rest is reported.
    pub(super) fn on_error(&mut self, now: Instant, error: &ErrorChunk) {
        let stale = error
            .causes
            .iter()
            .any(|c| matches!(c, ErrorCause::StaleCookie { .. }));
        if !(stale && matches!(self.state, State::CookieEchoed(_))) {
            self.out.event(Event::RemoteError(error.causes.clone()));
            return;
        }
        let State::CookieEchoed(echoed) = std::mem::take(&mut self.state) else {
            return;
        };
        let retries = echoed.stale_retries + 1;
        if retries > MAX_STALE_RETRIES {
            self.state = State::CookieEchoed(echoed);
            self.close(AssociationError::StaleCookie);
            return;
        }
        // §5.2.6: ask for the round trip of the COOKIE ECHO / ERROR
        // exchange plus at most one second; a long cookie life only widens
        // the window for replays.
        let rtt = now.saturating_duration_since(echoed.t1.sent_at());
        let extra_ms = u32::try_from(rtt.as_millis() + 1000).unwrap_or(u32::MAX);
        let mut init = echoed.init;
        init.params
            .retain(|p| !matches!(p, Param::CookiePreservative(_)));
        init.params.push(Param::CookiePreservative(extra_ms));
        let targets = echoed.peer.targets;
        self.out
            .send(targets[0].address, 0, Chunk::Init(init.clone()));
        self.state = State::CookieWait(CookieWait {
            init,
            t1: Backoff::start(now, self.config.rto_initial),
            stale_retries: retries,
            targets,
        });
    }

    /// T1-init and T1-cookie (§5.1 A, C): retransmit INIT or COOKIE ECHO
    /// with backoff, up to Max.Init.Retransmits, then give up. Returns
    /// whether other timers may still be due.
    pub(super) fn handshake_timeout(&mut self, now: Instant) -> bool {
        let (max, rto_max) = (self.config.max_init_retransmits, self.config.rto_max);
        match &mut self.state {
            State::CookieWait(s) if now >= s.t1.deadline => {
                if s.t1.expire(now, max, rto_max) {
                    // §6.4: retransmissions of INIT go to the peer's
                    // addresses in turn.
                    let n = s.t1.attempts as usize % s.targets.len();
                    let to = s.targets[n].address;
                    let init = Chunk::Init(s.init.clone());
                    self.out.send(to, 0, init);
                } else {
                    self.close(AssociationError::InitTimeout);
                }
                false
            }
            State::CookieEchoed(s) if now >= s.t1.deadline => {
                if s.t1.expire(now, max, rto_max) {
                    let echo = Chunk::CookieEcho(CookieEcho {
                        cookie: s.cookie.clone(),
                    });
                    let (to, vtag) = (s.peer.targets[0].address, s.peer.tag);
                    self.out.send(to, vtag, echo);
                } else {
                    self.close(AssociationError::CookieTimeout);
                }
                false
            }
            _ => true,
        }
    }
}

/// This end's parameters as its INIT carried them.
fn local_of(init: &Init) -> LocalInit {
    LocalInit {
        tag: init.initiate_tag,
        initial_tsn: init.initial_tsn,
        a_rwnd: init.a_rwnd,
        outbound_streams: init.outbound_streams,
        max_inbound_streams: init.inbound_streams,
        adaptation: init.params.iter().find_map(|p| match p {
            Param::AdaptationLayerIndication(code) => Some(*code),
            _ => None,
        }),
    }
}

/// This end's INIT.
pub(crate) fn local_init_chunk(
    local: &LocalInit,
    addresses: &[IpAddr],
    preservative_ms: Option<u32>,
) -> Init {
    let mut params: Vec<Param> = addresses.iter().map(|&a| Param::from_address(a)).collect();
    params.extend(preservative_ms.map(Param::CookiePreservative));
    params.extend(local.adaptation.map(Param::AdaptationLayerIndication));
    Init {
        initiate_tag: local.tag,
        a_rwnd: local.a_rwnd,
        outbound_streams: local.outbound_streams,
        inbound_streams: local.max_inbound_streams,
        initial_tsn: local.initial_tsn,
        params,
    }
}

/// The INIT ACK answering `peer`'s INIT: this end's addresses (of the types
/// the peer accepts, while the chunk stays within `budget` bytes), the
/// sealed cookie, and reports of unrecognized parameters (§3.2.2).
pub(crate) fn init_ack_chunk(
    local: &LocalInit,
    peer: &PeerInit,
    source: IpAddr,
    cookie: &StateCookie,
    ctx: &Context<'_>,
    budget: usize,
) -> Init {
    let mut sealed = Vec::with_capacity(cookie.sealed_len());
    ctx.keys.seal(cookie, &mut sealed);
    // Fixed part (20) + cookie parameter + reports.
    let mut size = 20 + 4 + sealed.len().next_multiple_of(4);
    size += peer
        .unrecognized
        .iter()
        .map(|p| 4 + p.len().next_multiple_of(4))
        .sum::<usize>();
    if local.adaptation.is_some() {
        size += 8;
    }
    let mut params = Vec::new();
    for &addr in ctx
        .local_addresses
        .iter()
        .filter(|&&a| peer.accepts(a, source))
    {
        let len = if addr.is_ipv4() { 8 } else { 20 };
        if size + len > budget {
            break;
        }
        size += len;
        params.push(Param::from_address(addr));
    }
    params.push(Param::StateCookie(Bytes::from(sealed)));
    params.extend(local.adaptation.map(Param::AdaptationLayerIndication));
    params.extend(
        peer.unrecognized
            .iter()
            .map(|p| Param::UnrecognizedParameter(p.clone())),
    );
    Init {
        initiate_tag: local.tag,
        a_rwnd: local.a_rwnd,
        // §5.1.1: no more outbound streams than the peer takes in.
        outbound_streams: local.outbound_streams.min(peer.inbound_streams),
        inbound_streams: local.max_inbound_streams,
        initial_tsn: local.initial_tsn,
        params,
    }
}
