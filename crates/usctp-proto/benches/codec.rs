//! Codec benchmarks: CRC32c, parsing and emitting the packets that dominate
//! bulk transfer (full-size DATA, SACKs with many gap blocks).
//!
//! `cargo bench --bench codec` prints ns/op and throughput; the CRC group
//! runs the alternatives side by side so their ratio comes from one run.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use usctp_proto::chunk::{
    Chunk, CommonHeader, Data, DataFlags, GapBlock, Packet, PacketWriter, Sack, packet::crc32c,
};
use usctp_proto::serial::{Ssn, Tsn};

/// Table-driven CRC32c: what the accelerated versions are measured against.
#[allow(dead_code)] // the tests' oracle, of which the benchmark needs a part
#[path = "../tests/support/crc_oracle.rs"]
mod crc_oracle;

const HEADER: CommonHeader = CommonHeader {
    src_port: 5000,
    dst_port: 9,
    verification_tag: 0x1234_5678,
    checksum: 0,
};

fn crc(c: &mut Criterion) {
    let data: Vec<u8> = (0..1200u32).map(|i| (i * 7) as u8).collect();
    let table = crc_oracle::table();
    assert_eq!(crc32c(&data), crc_oracle::crc32c_with(&table, &data));
    assert_eq!(crc32c::crc32c(&data), crc32c(&data));
    let mut g = c.benchmark_group("crc32c_1200B");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("usctp (crc-fast digest)", |b| {
        b.iter(|| crc32c(black_box(&data)))
    });
    g.bench_function("crc32c crate (SSE 4.2 crc32)", |b| {
        b.iter(|| crc32c::crc32c(black_box(&data)))
    });
    g.bench_function("table (oracle)", |b| {
        b.iter(|| crc_oracle::crc32c_with(&table, black_box(&data)))
    });
    g.finish();
}

/// A full-size DATA chunk: 1200 bytes of payload.
fn data_chunk() -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags::WHOLE,
        tsn: Tsn(1),
        stream: 1,
        ssn: Ssn(1),
        ppid: 0,
        payload: Bytes::from(vec![0xa5; 1200]),
    })
}

fn data_packet() -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, HEADER, 1500);
    w.push(&data_chunk()).unwrap();
    w.finish();
    buf
}

fn parse(c: &mut Criterion) {
    let data = Bytes::from(data_packet());
    assert_eq!(data.len(), 1228);
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("data_1228B_verify_and_parse", |b| {
        b.iter(|| Packet::parse(black_box(data.clone())).unwrap())
    });

    let sack = Chunk::Sack(Sack {
        cumulative_tsn_ack: Tsn(1000),
        a_rwnd: 1 << 20,
        gap_blocks: (0..100)
            .map(|i| GapBlock {
                start: i * 4 + 2,
                end: i * 4 + 3,
            })
            .collect(),
        duplicate_tsns: Vec::new(),
    });
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, HEADER, 1500);
    w.push(&sack).unwrap();
    w.finish();
    let sack = Bytes::from(buf);
    g.throughput(Throughput::Bytes(sack.len() as u64));
    g.bench_function("sack_100_gap_blocks_verify_and_parse", |b| {
        b.iter(|| Packet::parse(black_box(sack.clone())).unwrap())
    });
    g.finish();
}

fn emit(c: &mut Criterion) {
    let chunk = data_chunk();
    let mut buf = Vec::with_capacity(2048);
    let mut g = c.benchmark_group("emit");
    g.throughput(Throughput::Bytes(1228));
    g.bench_function("data_1228B_with_checksum", |b| {
        b.iter(|| {
            buf.clear();
            let mut w = PacketWriter::new(&mut buf, HEADER, 1500);
            w.push(black_box(&chunk)).unwrap();
            w.finish()
        })
    });
    g.finish();
}

criterion_group!(benches, crc, parse, emit);
criterion_main!(benches);
