//! The state cookie (RFC 9260 §5.1.3): everything needed to create an
//! association, sealed with a MAC and handed to the peer in the INIT ACK, so
//! that a server keeps no state for a peer until that peer returns it in a
//! COOKIE ECHO.
//!
//! # Layout (version 1, big-endian)
//!
//! ```text
//!  0 version=1 | 1 key id | 2..4 capabilities
//!  4 local tag           |  8 peer tag
//! 12 local initial TSN   | 16 peer initial TSN
//! 20 outbound streams(2) | 22 inbound streams(2) | 24 peer a_rwnd
//! 28 local port(2)       | 30 peer port(2)
//! 32 local tie-tag       | 36 peer tie-tag
//! 40 created, ms on the endpoint's clock (8)     | 48 lifespan ms (4)
//! 52 address count (1), then per address: 4 or 6, and 4 or 16 bytes
//!  … the peer's Adaptation Layer Indication (4), if the capability bit
//!    ADAPTATION says so
//!  … HMAC-SHA-1 (20 bytes) over everything before it
//! ```
//!
//! The cookie is not encrypted: it only carries what the peer already
//! knows or may know (tags it exchanged, its own addresses) and random
//! tie-tags that reveal nothing (RFC 9260 §5.2.2).

mod keys;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use keys::{CookieKeys, KEY_LEN};

use crate::serial::Tsn;

/// Layout version written by this implementation.
const VERSION: u8 = 1;
/// Bytes before the address list.
const FIXED_LEN: usize = 53;
/// Bytes of the MAC.
pub const MAC_LEN: usize = 20;
/// Peer addresses a cookie carries at most; the rest of an INIT's address
/// list is dropped, which bounds both the cookie and the association.
pub const MAX_ADDRESSES: usize = 16;

/// Features both ends agreed on during the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Capabilities(pub u16);

impl Capabilities {
    /// PR-SCTP, FORWARD TSN (RFC 3758).
    pub const PARTIAL_RELIABILITY: Self = Self(1);
    /// Stream reconfiguration, RE-CONFIG (RFC 6525).
    pub const RECONFIG: Self = Self(2);
    /// I-DATA and I-FORWARD-TSN (RFC 8260).
    pub const INTERLEAVING: Self = Self(4);
    /// ECN (RFC 9260 Appendix A).
    pub const ECN: Self = Self(8);
    /// The peer's INIT carried an Adaptation Layer Indication (RFC 5061
    /// §4.2.6), which the cookie holds.
    pub const ADAPTATION: Self = Self(16);

    /// Whether every capability of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets together.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The state an association is created from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCookie {
    /// The tag this end chose (the INIT ACK's Initiate Tag).
    pub local_tag: u32,
    /// The tag the peer chose (the INIT's Initiate Tag).
    pub peer_tag: u32,
    /// This end's initial TSN.
    pub local_initial_tsn: Tsn,
    /// The peer's initial TSN.
    pub peer_initial_tsn: Tsn,
    /// Negotiated outbound streams.
    pub outbound_streams: u16,
    /// Negotiated inbound streams.
    pub inbound_streams: u16,
    /// The peer's advertised receiver window.
    pub peer_a_rwnd: u32,
    /// This end's SCTP port.
    pub local_port: u16,
    /// The peer's SCTP port.
    pub peer_port: u16,
    /// RFC 9260 §5.2.2 tie-tags: zero, or the nonces of the association
    /// that existed when the INIT ACK was made.
    pub local_tie_tag: u32,
    /// See `local_tie_tag`.
    pub peer_tie_tag: u32,
    /// What both ends support.
    pub capabilities: Capabilities,
    /// The peer's addresses: the INIT's source first, then those the INIT
    /// listed, at most [`MAX_ADDRESSES`].
    pub peer_addresses: Vec<IpAddr>,
    /// When it was made, in ms on the endpoint's cookie clock.
    pub created_ms: u64,
    /// How long it stays valid, in ms.
    pub lifespan_ms: u32,
    /// The Adaptation Layer Indication the peer's INIT carried.
    pub peer_adaptation: Option<u32>,
}

/// Why a received cookie cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// Too short, a different version, or a bad address list. RFC 9260
    /// §5.1.5: discarded silently, like a forgery.
    #[error("malformed state cookie")]
    Malformed,
    /// The MAC does not match under any current key: forged, modified, or
    /// sealed under a key that has been retired. Discarded silently.
    #[error("state cookie fails authentication")]
    Forged,
    /// Authentic but expired: answered with a Stale Cookie error cause
    /// (RFC 9260 §3.3.10.3) carrying how late it was.
    #[error("state cookie stale by {by_us} us")]
    Stale {
        /// Microseconds past its lifespan (saturating).
        by_us: u32,
    },
}

impl StateCookie {
    /// Bytes the sealed cookie takes.
    pub fn sealed_len(&self) -> usize {
        FIXED_LEN
            + self.addresses().map(|a| 1 + addr_len(a)).sum::<usize>()
            + if self.peer_adaptation.is_some() { 4 } else { 0 }
            + MAC_LEN
    }

    /// How many microseconds past its lifespan the cookie is at `now_ms`
    /// (saturating), or `None` while it is valid.
    pub fn staleness_us(&self, now_ms: u64) -> Option<u32> {
        let expiry = self.created_ms.saturating_add(u64::from(self.lifespan_ms));
        let late_ms = now_ms.checked_sub(expiry).filter(|&ms| ms > 0)?;
        Some(u32::try_from(late_ms.saturating_mul(1000)).unwrap_or(u32::MAX))
    }

    fn addresses(&self) -> impl Iterator<Item = &IpAddr> {
        self.peer_addresses.iter().take(MAX_ADDRESSES)
    }

    /// Appends the cookie's body (without the MAC) to `out`.
    fn encode(&self, key_id: u8, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.push(key_id);
        // The ADAPTATION bit says whether the trailer is there, nothing else.
        let mut capabilities = Capabilities(self.capabilities.0 & !Capabilities::ADAPTATION.0);
        if self.peer_adaptation.is_some() {
            capabilities = capabilities.union(Capabilities::ADAPTATION);
        }
        out.extend_from_slice(&capabilities.0.to_be_bytes());
        for v in [
            self.local_tag,
            self.peer_tag,
            self.local_initial_tsn.0,
            self.peer_initial_tsn.0,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.outbound_streams.to_be_bytes());
        out.extend_from_slice(&self.inbound_streams.to_be_bytes());
        out.extend_from_slice(&self.peer_a_rwnd.to_be_bytes());
        out.extend_from_slice(&self.local_port.to_be_bytes());
        out.extend_from_slice(&self.peer_port.to_be_bytes());
        out.extend_from_slice(&self.local_tie_tag.to_be_bytes());
        out.extend_from_slice(&self.peer_tie_tag.to_be_bytes());
        out.extend_from_slice(&self.created_ms.to_be_bytes());
        out.extend_from_slice(&self.lifespan_ms.to_be_bytes());
        out.push(self.addresses().count() as u8);
        for addr in self.addresses() {
            match addr {
                IpAddr::V4(a) => {
                    out.push(4);
                    out.extend_from_slice(&a.octets());
                }
                IpAddr::V6(a) => {
                    out.push(6);
                    out.extend_from_slice(&a.octets());
                }
            }
        }
        if let Some(code) = self.peer_adaptation {
            out.extend_from_slice(&code.to_be_bytes());
        }
    }

    /// Reads a cookie body whose MAC has been checked.
    fn decode(body: &[u8]) -> Result<Self, CookieError> {
        let fixed = body
            .first_chunk::<FIXED_LEN>()
            .ok_or(CookieError::Malformed)?;
        if fixed[0] != VERSION {
            return Err(CookieError::Malformed);
        }
        let u16_at = |i: usize| u16::from_be_bytes([fixed[i], fixed[i + 1]]);
        let u32_at =
            |i: usize| u32::from_be_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
        let mut created = [0; 8];
        created.copy_from_slice(&fixed[40..48]);
        let count = usize::from(fixed[52]);
        if count > MAX_ADDRESSES {
            return Err(CookieError::Malformed);
        }
        let mut rest = &body[FIXED_LEN..];
        let mut peer_addresses = Vec::with_capacity(count);
        for _ in 0..count {
            let [family] = take(&mut rest)?;
            let addr = match family {
                4 => IpAddr::V4(Ipv4Addr::from(take::<4>(&mut rest)?)),
                6 => IpAddr::V6(Ipv6Addr::from(take::<16>(&mut rest)?)),
                _ => return Err(CookieError::Malformed),
            };
            peer_addresses.push(addr);
        }
        let capabilities = Capabilities(u16_at(2));
        let peer_adaptation = if capabilities.contains(Capabilities::ADAPTATION) {
            let (code, tail) = rest
                .split_first_chunk::<4>()
                .ok_or(CookieError::Malformed)?;
            rest = tail;
            Some(u32::from_be_bytes(*code))
        } else {
            None
        };
        if !rest.is_empty() {
            return Err(CookieError::Malformed);
        }
        Ok(Self {
            capabilities: Capabilities(capabilities.0 & !Capabilities::ADAPTATION.0),
            peer_adaptation,
            local_tag: u32_at(4),
            peer_tag: u32_at(8),
            local_initial_tsn: Tsn(u32_at(12)),
            peer_initial_tsn: Tsn(u32_at(16)),
            outbound_streams: u16_at(20),
            inbound_streams: u16_at(22),
            peer_a_rwnd: u32_at(24),
            local_port: u16_at(28),
            peer_port: u16_at(30),
            local_tie_tag: u32_at(32),
            peer_tie_tag: u32_at(36),
            created_ms: u64::from_be_bytes(created),
            lifespan_ms: u32_at(48),
            peer_addresses,
        })
    }
}

fn addr_len(a: &IpAddr) -> usize {
    match a {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 16,
    }
}

/// The first `N` bytes of `rest`, which then starts after them.
fn take<const N: usize>(rest: &mut &[u8]) -> Result<[u8; N], CookieError> {
    let (bytes, tail) = rest
        .split_first_chunk::<N>()
        .ok_or(CookieError::Malformed)?;
    *rest = tail;
    Ok(*bytes)
}

#[cfg(test)]
mod tests;
