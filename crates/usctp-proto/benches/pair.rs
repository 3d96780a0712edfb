//! An in-memory association pair: no sockets, time advanced by the harness.
//! Measures how fast the sans-IO core moves data (both ends' CPU on one
//! thread), side by side with sctp-proto: 1200-byte and 64 KiB messages.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "support/proto_pair.rs"]
mod proto_pair;
#[path = "support/usctp_pair.rs"]
mod usctp_pair;

fn pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("pair");
    g.sample_size(10);
    for (name, size, total) in [
        ("1200B", 1200, 12_000_000),
        ("64KiB", 65_536, 32 * 65_536 * 8),
    ] {
        g.throughput(Throughput::Bytes(total as u64));
        g.bench_function(format!("usctp/{name}"), |b| {
            let mut p = usctp_pair::Pair::new();
            b.iter(|| p.transfer(total, size));
        });
        g.bench_function(format!("sctp-proto/{name}"), |b| {
            let mut p = proto_pair::ProtoPair::new();
            b.iter(|| p.transfer(total, size));
        });
    }
    g.finish();
}

criterion_group!(benches, pair);
criterion_main!(benches);
