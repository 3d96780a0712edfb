//! An arbitrary chunk value: emitting it and parsing the bytes gives the same
//! value back (when it fits a 16-bit length at all), and its encoded length
//! is known before it is written.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use usctp_proto::chunk::Chunk;

fuzz_target!(|chunk: Chunk| {
    let mut wire = Vec::new();
    let measured = chunk.encoded_len();
    if chunk.emit(&mut wire).is_err() {
        assert!(measured.is_err(), "encoded_len said {measured:?} for a chunk that does not emit");
        return;
    }
    // What the packet writer reserves is what emit writes.
    assert_eq!(measured, Ok(wire.len()));
    assert_eq!(wire.len() % 4, 0);
    let (parsed, rest) = Chunk::parse(Bytes::from(wire)).expect("an emitted chunk parses");
    assert!(rest.is_empty());
    assert_eq!(parsed, chunk);
});
