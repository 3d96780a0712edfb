//! Socket addresses as Linux lays them out: `sockaddr_in` (16 bytes) and
//! `sockaddr_in6` (28 bytes), and the packed lists `sctp_bindx`,
//! `sctp_connectx` and `sctp_getpaddrs` use (each entry as long as its
//! family's structure).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// AF_INET.
pub const AF_INET: i32 = 2;
/// AF_INET6.
pub const AF_INET6: i32 = 10;
/// `sizeof(struct sockaddr_in)`.
pub const SOCKADDR_IN_LEN: usize = 16;
/// `sizeof(struct sockaddr_in6)`.
pub const SOCKADDR_IN6_LEN: usize = 28;
/// The largest of them.
pub const MAX_LEN: usize = SOCKADDR_IN6_LEN;

/// Reads the address at the start of `b`, if its family is one SCTP uses
/// and `b` is long enough for it; with the length it takes.
pub fn decode(b: &[u8]) -> Option<(SocketAddr, usize)> {
    if b.len() < 2 {
        return None;
    }
    let family = u16::from_ne_bytes([b[0], b[1]]) as i32;
    match family {
        AF_INET if b.len() >= SOCKADDR_IN_LEN => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Some((SocketAddr::V4(SocketAddrV4::new(ip, port)), SOCKADDR_IN_LEN))
        }
        AF_INET6 if b.len() >= SOCKADDR_IN6_LEN => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let flowinfo = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&b[8..24]);
            let scope = u32::from_ne_bytes([b[24], b[25], b[26], b[27]]);
            let addr = SocketAddrV6::new(Ipv6Addr::from(ip), port, flowinfo, scope);
            Some((SocketAddr::V6(addr), SOCKADDR_IN6_LEN))
        }
        _ => None,
    }
}

/// Reads a packed list of addresses; `None` if any entry is malformed.
pub fn decode_packed(mut b: &[u8]) -> Option<Vec<SocketAddr>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (addr, len) = decode(b)?;
        out.push(addr);
        b = &b[len..];
    }
    Some(out)
}

/// Writes `addr` as a socket of `family` sees it: an IPv4 address on an
/// AF_INET6 socket as a v4-mapped IPv6 address (Linux's default,
/// SCTP_I_WANT_MAPPED_V4_ADDR), a v4-mapped one on an AF_INET socket as
/// IPv4. Returns the bytes and how many of them are the address.
pub fn encode(addr: SocketAddr, family: i32) -> ([u8; MAX_LEN], usize) {
    let mut b = [0u8; MAX_LEN];
    let v4 = match addr {
        SocketAddr::V4(a) => Some(a),
        SocketAddr::V6(a) => a
            .ip()
            .to_ipv4_mapped()
            .map(|ip| SocketAddrV4::new(ip, a.port())),
    };
    match (v4, family) {
        (Some(a), AF_INET) => {
            b[0..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.ip().octets());
            (b, SOCKADDR_IN_LEN)
        }
        _ => {
            let a = match addr {
                SocketAddr::V6(a) => a,
                SocketAddr::V4(a) => SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0),
            };
            b[0..2].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
            b[8..24].copy_from_slice(&a.ip().octets());
            b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
            (b, SOCKADDR_IN6_LEN)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_ipv4_is_mapped_for_an_inet6_socket() {
        let v4: SocketAddr = "127.0.0.1:19000".parse().unwrap();
        let (b, len) = encode(v4, AF_INET);
        assert_eq!(len, 16);
        assert_eq!(&b[..4], &[2, 0, 0x4a, 0x38]);
        assert_eq!(decode(&b[..len]), Some((v4, 16)));

        let (b, len) = encode(v4, AF_INET6);
        assert_eq!(len, 28);
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:19000".parse().unwrap();
        assert_eq!(decode(&b[..len]), Some((mapped, 28)));
        // And back to IPv4 for an AF_INET socket.
        assert_eq!(encode(mapped, AF_INET).1, 16);

        let mut packed = encode(v4, AF_INET).0[..16].to_vec();
        packed.extend_from_slice(&b[..28]);
        assert_eq!(decode_packed(&packed), Some(vec![v4, mapped]));
        assert_eq!(decode_packed(&packed[..20]), None);
        assert_eq!(decode(&[9, 0, 0, 0]), None);
    }
}
