//! CRC32c (RFC 9260 Appendix A): the accelerated implementation against a
//! table-driven oracle and the RFC 3720 §B.4 test vectors.

use proptest::prelude::*;
use usctp_proto::chunk::packet::{crc32c, packet_checksum};

/// The reflected Castagnoli polynomial, as RFC 9260 Appendix A gives it.
const POLY: u32 = 0x82F6_3B78;

/// A byte-at-a-time table implementation: slow, obviously right.
fn oracle(data: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|mut c| {
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            c
        })
        .collect();
    !data.iter().fold(!0u32, |crc, &b| {
        table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

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
