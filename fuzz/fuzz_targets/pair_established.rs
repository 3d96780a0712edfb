//! The `pair` target started from a snapshot of the pair with its
//! association up: the same operations and invariants
//! (`fuzz/harness/pair.rs`), without two endpoints and a handshake per run.
#![no_main]

#[path = "../harness/pair.rs"]
mod pair;

libfuzzer_sys::fuzz_target!(|ops: Vec<pair::Op>| pair::run_established(ops));
