//! Arbitrary bytes as a received datagram: parsing never panics, and a
//! packet that parses re-encodes to one that parses to the same value.
//! The checksum is not checked under `cfg(fuzzing)`, so every input reaches
//! the chunk parser.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use usctp_proto::chunk::Packet;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = packet.check_bundling();
    for chunk in &packet.chunks {
        let _ = chunk.to_string();
    }
    let mut wire = Vec::new();
    packet.emit(&mut wire).expect("a parsed packet re-encodes");
    let again = Packet::parse(Bytes::from(wire)).expect("a re-encoded packet parses");
    assert_eq!(again.header.verification_tag, packet.header.verification_tag);
    assert_eq!(again.chunks, packet.chunks);
});
