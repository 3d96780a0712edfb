use super::*;

fn sample() -> StateCookie {
    StateCookie {
        local_tag: 0x1111_2222,
        peer_tag: 0x3333_4444,
        local_initial_tsn: Tsn(7),
        peer_initial_tsn: Tsn(u32::MAX),
        outbound_streams: 5,
        inbound_streams: 10,
        peer_a_rwnd: 131_072,
        local_port: 13,
        peer_port: 40_000,
        local_tie_tag: 0,
        peer_tie_tag: 0,
        capabilities: Capabilities::PARTIAL_RELIABILITY.union(Capabilities::RECONFIG),
        peer_addresses: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
        created_ms: 1_000,
        lifespan_ms: 60_000,
        peer_adaptation: Some(0x1234_5678),
    }
}

fn keys() -> CookieKeys {
    CookieKeys::new([7; KEY_LEN], 0, 3_600_000)
}

fn sealed(keys: &CookieKeys, cookie: &StateCookie) -> Vec<u8> {
    let mut out = Vec::new();
    keys.seal(cookie, &mut out);
    out
}

#[test]
fn seal_then_open_gives_the_cookie_back() {
    let (k, c) = (keys(), sample());
    let bytes = sealed(&k, &c);
    assert_eq!(bytes.len(), c.sealed_len());
    // Fixed part, two addresses, the adaptation indication, the MAC.
    assert_eq!(bytes.len(), 53 + 5 + 17 + 4 + 20);
    assert_eq!(k.open(&bytes, 2_000), Ok(c));
}

#[test]
fn every_flipped_bit_is_caught() {
    // RFC 9260 §5.1.5 step 2: a cookie whose MAC does not match is
    // discarded silently.
    let k = keys();
    let bytes = sealed(&k, &sample());
    for bit in 0..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(
            matches!(
                k.open(&bad, 2_000),
                Err(CookieError::Forged | CookieError::Malformed)
            ),
            "bit {bit}"
        );
    }
}

#[test]
fn truncated_cookies_are_refused() {
    let k = keys();
    let bytes = sealed(&k, &sample());
    for len in 0..bytes.len() {
        assert!(k.open(&bytes[..len], 2_000).is_err(), "length {len}");
    }
}

#[test]
fn a_cookie_sealed_under_another_key_is_forged() {
    let bytes = sealed(&CookieKeys::new([8; KEY_LEN], 0, 1000), &sample());
    assert_eq!(keys().open(&bytes, 2_000), Err(CookieError::Forged));
}

#[test]
fn stale_cookie_reports_how_late_it_is() {
    // RFC 9260 §3.3.10.3: the measure of staleness is in microseconds.
    let k = keys();
    let bytes = sealed(&k, &sample());
    assert!(k.open(&bytes, 61_000).is_ok());
    assert_eq!(
        k.open(&bytes, 61_001),
        Err(CookieError::Stale { by_us: 1_000 })
    );
    assert_eq!(
        k.open(&bytes, u64::MAX),
        Err(CookieError::Stale { by_us: u32::MAX })
    );
}

#[test]
fn previous_key_still_opens_after_one_rotation_but_not_two() {
    let mut k = keys();
    let bytes = sealed(&k, &sample());
    k.rotate([9; KEY_LEN], 10);
    assert!(k.open(&bytes, 2_000).is_ok());
    let fresh = sealed(&k, &sample());
    assert!(k.open(&fresh, 2_000).is_ok());
    k.rotate([10; KEY_LEN], 20);
    assert_eq!(k.open(&bytes, 2_000), Err(CookieError::Forged));
    assert!(k.open(&fresh, 2_000).is_ok());
    assert_eq!(k.next_rotation_ms(), 20 + 3_600_000);
}

#[test]
fn address_list_is_bounded() {
    let mut c = sample();
    c.peer_addresses = (0..40u8)
        .map(|i| IpAddr::V4([10, 0, 0, i].into()))
        .collect();
    let k = keys();
    let opened = k.open(&sealed(&k, &c), 2_000).unwrap();
    assert_eq!(opened.peer_addresses.len(), MAX_ADDRESSES);
    assert_eq!(opened.peer_addresses[..], c.peer_addresses[..MAX_ADDRESSES]);
}

#[test]
fn debug_output_hides_the_secrets() {
    let text = format!("{:?}", keys());
    assert!(!text.contains("7, 7"), "{text}");
}
