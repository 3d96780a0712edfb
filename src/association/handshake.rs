//! The pieces of association setup (RFC 9260 §5) that do not depend on an
//! association's state: judging a received INIT or INIT ACK, building the
//! INIT ACK, and deciding what a COOKIE ECHO means for an existing
//! association (§5.2.4).

use std::net::IpAddr;

use bytes::Bytes;

use crate::chunk::codec::Writer;
use crate::chunk::{ErrorCause, Init, Param, ParamType};
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
    // parameter, answered with ABORT.
    if init.outbound_streams == 0 || init.inbound_streams == 0 {
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
