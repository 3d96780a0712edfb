//! The wire codec: properties over generated values (every chunk
//! round-trips, every strict prefix of a chunk is an error, arbitrary bytes
//! never panic, the packet builder keeps the bundling rules of RFC 9260
//! §6.10), damaged packets, and CRC32c (RFC 9260 Appendix A) against a
//! table-driven oracle and the RFC 3720 §B.4 test vectors.

mod support;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use proptest::prelude::*;
use support::crc_oracle::crc32c as oracle;
use usctp_proto::chunk::packet::{crc32c, packet_checksum};
use usctp_proto::chunk::{
    BuildError, Chunk, ChunkType, CommonHeader, Data, Error, Packet, PacketWriter, Shutdown,
};
use usctp_proto::serial::Tsn;

const HEADER: CommonHeader = CommonHeader {
    src_port: 5000,
    dst_port: 13,
    verification_tag: 0xdead_beef,
    checksum: 0,
};

/// A chunk built from fuzz-style bytes, with every field filled.
fn chunk_from(bytes: &[u8]) -> Option<Chunk> {
    Chunk::arbitrary(&mut Unstructured::new(bytes)).ok()
}

/// The chunk's wire bytes, checking that its encoded length is what it
/// writes.
fn emit(chunk: &Chunk) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let measured = chunk.encoded_len();
    chunk.emit(&mut buf).ok()?;
    assert_eq!(measured, Ok(buf.len()), "{chunk:?}");
    Some(buf)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_chunk_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let Some(chunk) = chunk_from(&bytes) else { return Ok(()) };
        let Some(wire) = emit(&chunk) else { return Ok(()) };
        prop_assert_eq!(wire.len() % 4, 0, "chunk not padded: {:?}", chunk);
        let (parsed, rest) = Chunk::parse(Bytes::from(wire)).map_err(|e| {
            TestCaseError::fail(format!("{chunk:?} does not parse back: {e}"))
        })?;
        prop_assert_eq!(parsed, chunk);
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn every_strict_prefix_of_a_chunk_is_an_error(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let Some(chunk) = chunk_from(&bytes) else { return Ok(()) };
        let Some(wire) = emit(&chunk) else { return Ok(()) };
        let length = usize::from(u16::from_be_bytes([wire[2], wire[3]]));
        for cut in 0..length {
            let prefix = Bytes::copy_from_slice(&wire[..cut]);
            prop_assert!(Chunk::parse(prefix).is_err(), "prefix {} of {:?} parsed", cut, chunk);
        }
    }

    #[test]
    fn a_chunk_that_claims_less_than_it_had_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let Some(chunk) = chunk_from(&bytes) else { return Ok(()) };
        let Some(wire) = emit(&chunk) else { return Ok(()) };
        let length = u16::from_be_bytes([wire[2], wire[3]]);
        for claimed in 0..length {
            let mut cut = wire[..usize::from(claimed)].to_vec();
            if cut.len() >= 4 {
                cut[2..4].copy_from_slice(&claimed.to_be_bytes());
            }
            if let Ok((parsed, _)) = Chunk::parse(Bytes::from(cut)) {
                // Whatever it parsed to must itself round-trip.
                let again = emit(&parsed).expect("a parsed chunk always fits");
                prop_assert_eq!(Chunk::parse(Bytes::from(again)).unwrap().0, parsed);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_what_parses_round_trips(
        body in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut datagram = vec![0; 12];
        datagram.extend_from_slice(&body);
        if let Ok(packet) = Packet::parse_unverified(Bytes::from(datagram)) {
            let mut out = Vec::new();
            packet.emit(&mut out).unwrap();
            let again = Packet::parse(Bytes::from(out)).unwrap();
            prop_assert_eq!(again.chunks, packet.chunks);
        }
    }

    #[test]
    fn packets_round_trip_and_respect_the_budget(
        bytes in prop::collection::vec(any::<u8>(), 0..2000),
        budget in 12usize..1500,
    ) {
        let chunks: Vec<Chunk> = Unstructured::new(&bytes).arbitrary().unwrap_or_default();
        let mut buf = Vec::new();
        let mut writer = PacketWriter::new(&mut buf, HEADER, budget);
        let mut accepted = Vec::new();
        for chunk in &chunks {
            if writer.push(chunk).is_ok() {
                accepted.push(chunk.clone());
            }
        }
        let len = writer.finish();
        prop_assert!(len <= budget);
        prop_assert_eq!(len, buf.len());
        if accepted.is_empty() {
            return Ok(());
        }
        let packet = Packet::parse(Bytes::from(buf)).unwrap();
        prop_assert_eq!(packet.header.verification_tag, HEADER.verification_tag);
        prop_assert_eq!(&packet.chunks, &accepted);
        packet.check_bundling().unwrap();
        // Control chunks come first (RFC 9260 §6.10).
        let first_data = accepted.iter().position(|c| c.chunk_type().is_data()).unwrap_or(accepted.len());
        prop_assert!(accepted[first_data..].iter().all(|c| c.chunk_type().is_data()));
    }
}

#[test]
fn init_init_ack_and_shutdown_complete_travel_alone() {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, HEADER, 1500);
    w.push(&Chunk::CookieAck).unwrap();
    let complete = Chunk::ShutdownComplete(Default::default());
    assert_eq!(
        w.push(&complete),
        Err(BuildError::MustBeAlone(ChunkType::SHUTDOWN_COMPLETE))
    );
    w.finish();

    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, HEADER, 1500);
    w.push(&complete).unwrap();
    assert_eq!(
        w.push(&Chunk::CookieAck),
        Err(BuildError::MustBeAlone(ChunkType::SHUTDOWN_COMPLETE))
    );
}

#[test]
fn control_chunks_are_refused_after_data() {
    let data = Chunk::Data(Data {
        tsn: Tsn(1),
        ppid: 0,
        payload: Bytes::from_static(b"x"),
        ..support::DATA
    });
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, HEADER, 1500);
    w.push(&Chunk::CookieAck).unwrap();
    w.push(&data).unwrap();
    assert_eq!(
        w.push(&Chunk::ShutdownAck),
        Err(BuildError::ControlAfterData(ChunkType::SHUTDOWN_ACK))
    );
    w.push(&data).unwrap();
    assert_eq!(w.finish(), 12 + 4 + 2 * 20);
}

#[test]
fn a_chunk_that_does_not_fit_leaves_the_packet_unchanged() {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, HEADER, 20);
    w.push(&Chunk::CookieAck).unwrap();
    assert_eq!(w.remaining(), 4);
    let abort = Chunk::Abort(Default::default());
    w.push(&abort).unwrap();
    assert_eq!(
        w.push(&Chunk::CookieAck),
        Err(BuildError::DoesNotFit {
            needed: 4,
            available: 0
        })
    );
    assert_eq!(w.finish(), 20);
    let packet = Packet::parse(Bytes::from(buf)).unwrap();
    assert_eq!(packet.chunks, [Chunk::CookieAck, abort]);
}

#[test]
fn wrongly_bundled_packets_parse_but_fail_the_bundling_check() {
    // RFC 9260 §6.10; what to do about it is the state machine's call.
    let mut wire = Vec::new();
    let mut w = PacketWriter::new(&mut wire, HEADER, 1500);
    w.push(&Chunk::CookieAck).unwrap();
    w.finish();
    // Append a SHUTDOWN COMPLETE by hand and fix the checksum.
    wire.extend_from_slice(&[14, 0, 0, 4]);
    let crc = packet_checksum(&wire).unwrap();
    wire[8..12].copy_from_slice(&crc.to_le_bytes());
    let packet = Packet::parse(Bytes::from(wire.clone())).unwrap();
    assert_eq!(
        packet.check_bundling(),
        Err(Error::NotBundlable(ChunkType::SHUTDOWN_COMPLETE))
    );
    // It still re-encodes as received (found by the `packet` fuzz target).
    let mut again = Vec::new();
    packet.emit(&mut again).unwrap();
    assert_eq!(again, wire);
}

#[test]
fn damaged_packets_give_precise_errors() {
    let mut wire = Vec::new();
    let mut w = PacketWriter::new(&mut wire, HEADER, 1500);
    w.push(&Chunk::Shutdown(Shutdown {
        cumulative_tsn_ack: Tsn(9),
    }))
    .unwrap();
    w.finish();
    let good = Bytes::from(wire.clone());
    assert!(Packet::parse(good.clone()).is_ok());

    // A flipped bit anywhere is caught by the CRC.
    for i in 0..wire.len() * 8 {
        let mut bad = wire.clone();
        bad[i / 8] ^= 1 << (i % 8);
        let r = Packet::parse(Bytes::from(bad));
        assert!(
            matches!(r, Err(Error::BadChecksum { .. })),
            "bit {i}: {r:?}"
        );
    }
    // Shorter than the common header.
    assert!(matches!(
        Packet::parse(good.slice(..11)),
        Err(Error::Truncated {
            what: "common header",
            needed: 12,
            available: 11
        })
    ));
    // A header and nothing else.
    assert_eq!(
        Packet::parse_unverified(good.slice(..12)),
        Err(Error::NoChunks)
    );
    // SHUTDOWN whose length says 12: four bytes too many for its field.
    let mut long = wire.clone();
    long[15] = 12;
    long.extend_from_slice(&[0; 4]);
    assert_eq!(
        Packet::parse_unverified(Bytes::from(long)),
        Err(Error::TrailingBytes {
            what: "SHUTDOWN",
            count: 4
        })
    );
    // Chunk length past the end of the packet.
    let mut past = wire.clone();
    past[15] = 40;
    assert_eq!(
        Packet::parse_unverified(Bytes::from(past)),
        Err(Error::Truncated {
            what: "chunk header",
            needed: 40,
            available: 8
        })
    );
    // Chunk length below its own header.
    let mut tiny = wire;
    tiny[15] = 2;
    assert_eq!(
        Packet::parse_unverified(Bytes::from(tiny)),
        Err(Error::BadLength {
            what: "chunk header",
            length: 2
        })
    );
}

// ---- CRC32c ----

/// RFC 3720 §B.4 lists each CRC as the bytes it puts on the wire.
fn wire(crc: u32) -> [u8; 4] {
    crc.to_le_bytes()
}

#[test]
fn rfc3720_b4_vectors() {
    let zeros = [0u8; 32];
    let ones = [0xffu8; 32];
    let up: Vec<u8> = (0..32).collect();
    let down: Vec<u8> = (0..32).rev().collect();
    let iscsi_read: [u8; 48] = [
        0x01, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14, 0, 0, 0, 0, 0, 0x04, 0, 0, 0,
        0, 0x14, 0, 0, 0, 0x18, 0x28, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0,
    ];
    let cases: [(&[u8], [u8; 4]); 5] = [
        (&zeros, [0xaa, 0x36, 0x91, 0x8a]),
        (&ones, [0x43, 0xab, 0xa8, 0x62]),
        (&up, [0x4e, 0x79, 0xdd, 0x46]),
        (&down, [0x5c, 0xdb, 0x3f, 0x11]),
        (&iscsi_read, [0x56, 0x3a, 0x96, 0xd9]),
    ];
    for (data, expected) in cases {
        assert_eq!(wire(crc32c(data)), expected);
        assert_eq!(wire(oracle(data)), expected);
    }
    // The customary check value.
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

proptest! {
    #[test]
    fn accelerated_crc_matches_the_oracle(data in prop::collection::vec(any::<u8>(), 0..3000)) {
        prop_assert_eq!(crc32c(&data), oracle(&data));
    }

    #[test]
    fn packet_checksum_treats_the_checksum_field_as_zero(
        mut packet in prop::collection::vec(any::<u8>(), 12..1500),
    ) {
        let sum = packet_checksum(&packet).unwrap();
        packet[8..12].fill(0);
        prop_assert_eq!(sum, oracle(&packet));
    }
}

#[test]
fn packet_checksum_needs_a_whole_header() {
    assert_eq!(packet_checksum(&[0; 11]), None);
}
