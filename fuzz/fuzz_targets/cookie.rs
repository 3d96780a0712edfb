//! State cookies (RFC 9260 §5.1.3, §5.1.5): arbitrary bytes never open and
//! never panic; a cookie built from arbitrary fields seals and opens back
//! to itself; flipping any one bit of a sealed cookie makes it fail.
#![no_main]

use std::net::IpAddr;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use usctp_proto::cookie::{Capabilities, CookieKeys, MAX_ADDRESSES, StateCookie};
use usctp_proto::serial::Tsn;

#[derive(Debug, Arbitrary)]
struct Input {
    secret: [u8; 32],
    raw: Vec<u8>,
    tags: (u32, u32, u32, u32),
    tsns: (u32, u32),
    streams: (u16, u16),
    rwnd: u32,
    ports: (u16, u16),
    capabilities: u16,
    addresses: Vec<IpAddr>,
    created_ms: u64,
    lifespan_ms: u32,
    adaptation: Option<u32>,
    now_ms: u64,
    flip: u32,
}

fuzz_target!(|input: Input| {
    let keys = CookieKeys::new(input.secret, 0, 3_600_000);
    // Arbitrary bytes: a forgery (or garbage) is refused without a panic.
    let _ = keys.open(&input.raw, input.now_ms);
    let _ = keys.authenticate(&input.raw);

    let mut addresses = input.addresses;
    addresses.truncate(MAX_ADDRESSES);
    let cookie = StateCookie {
        local_tag: input.tags.0,
        peer_tag: input.tags.1,
        local_initial_tsn: Tsn(input.tsns.0),
        peer_initial_tsn: Tsn(input.tsns.1),
        outbound_streams: input.streams.0,
        inbound_streams: input.streams.1,
        peer_a_rwnd: input.rwnd,
        local_port: input.ports.0,
        peer_port: input.ports.1,
        local_tie_tag: input.tags.2,
        peer_tie_tag: input.tags.3,
        // The ADAPTATION bit only says whether `peer_adaptation` is there.
        capabilities: Capabilities(input.capabilities & !Capabilities::ADAPTATION.0),
        peer_addresses: addresses,
        created_ms: input.created_ms,
        lifespan_ms: input.lifespan_ms,
        peer_adaptation: input.adaptation,
    };
    let mut sealed = Vec::new();
    keys.seal(&cookie, &mut sealed);
    assert_eq!(sealed.len(), cookie.sealed_len());
    // Authentication ignores the lifespan; what was sealed comes back.
    assert_eq!(keys.authenticate(&sealed), Ok(cookie));
    // One flipped bit anywhere: refused.
    let bit = input.flip as usize % (sealed.len() * 8);
    sealed[bit / 8] ^= 1 << (bit % 8);
    assert!(keys.authenticate(&sealed).is_err(), "bit {bit} flipped and still accepted");
});
