//! Association setup benchmarks: cookie seal + open, and complete
//! handshakes through an in-memory endpoint pair.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use usctp_proto::association::Event;
use usctp_proto::config::Config;
use usctp_proto::cookie::{Capabilities, CookieKeys, StateCookie};
use usctp_proto::endpoint::Endpoint;
use usctp_proto::serial::Tsn;

fn cookie(c: &mut Criterion) {
    let keys = CookieKeys::new([7; 32], 0, 3_600_000);
    let cookie = StateCookie {
        local_tag: 1,
        peer_tag: 2,
        local_initial_tsn: Tsn(3),
        peer_initial_tsn: Tsn(4),
        outbound_streams: 10,
        inbound_streams: 10,
        peer_a_rwnd: 1 << 20,
        local_port: 13,
        peer_port: 5000,
        local_tie_tag: 0,
        peer_tie_tag: 0,
        capabilities: Capabilities::default(),
        peer_addresses: vec!["127.0.0.1".parse().unwrap()],
        created_ms: 0,
        lifespan_ms: 60_000,
        peer_adaptation: None,
    };
    let mut buf = Vec::with_capacity(128);
    let mut g = c.benchmark_group("cookie");
    g.bench_function("seal", |b| {
        b.iter(|| {
            buf.clear();
            keys.seal(black_box(&cookie), &mut buf);
        })
    });
    buf.clear();
    keys.seal(&cookie, &mut buf);
    let sealed = buf.clone();
    g.bench_function("open", |b| {
        b.iter(|| keys.open(black_box(&sealed), 1).unwrap())
    });
    g.finish();
}

/// Moves packets between two endpoints until neither has any to send.
fn shuttle(a: &mut Endpoint, b: &mut Endpoint, now: Instant, buf: &mut Vec<u8>) {
    let (addr_a, addr_b): (SocketAddr, SocketAddr) = (
        "10.0.0.1:9899".parse().unwrap(),
        "10.0.0.2:9899".parse().unwrap(),
    );
    loop {
        let mut moved = false;
        while let Some(t) = a.poll_transmit(now, buf) {
            b.handle(now, addr_a, Bytes::copy_from_slice(&buf[..t.size]));
            moved = true;
        }
        while let Some(t) = b.poll_transmit(now, buf) {
            a.handle(now, addr_b, Bytes::copy_from_slice(&buf[..t.size]));
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn handshake(c: &mut Criterion) {
    #[allow(clippy::disallowed_methods)] // a fixed instant; time does not advance here
    let now = Instant::now();
    let mut client = Endpoint::new(Config::default(), 5000, [1; 32], now);
    let mut server = Endpoint::new(Config::default(), 13, [2; 32], now);
    server.listen(usize::MAX);
    let server_addr: SocketAddr = "10.0.0.2:9899".parse().unwrap();
    let mut buf = Vec::with_capacity(2048);
    let mut g = c.benchmark_group("handshake");
    g.throughput(Throughput::Elements(1));
    // One element: INIT, INIT ACK, COOKIE ECHO, COOKIE ACK, then an ABORT
    // so that the next connect starts from nothing.
    g.bench_function("four_way_then_abort", |b| {
        b.iter(|| {
            let id = client.connect(now, server_addr, 13).unwrap();
            shuttle(&mut client, &mut server, now, &mut buf);
            let mut up = false;
            while let Some((_, e)) = client.poll_event() {
                up |= matches!(e, Event::Up(_));
            }
            while server.poll_event().is_some() {}
            assert!(up);
            client.abort(id, b"");
            shuttle(&mut client, &mut server, now, &mut buf);
            while client.poll_event().is_some() {}
            while server.poll_event().is_some() {}
            assert_eq!(server.association_count(), 0);
        })
    });
    g.finish();
}

criterion_group!(benches, cookie, handshake);
criterion_main!(benches);
