//! Sequences of operations on an association pair; the harness and its
//! invariants are in `fuzz/harness/pair.rs`.
#![no_main]

#[path = "../harness/pair.rs"]
mod pair;

libfuzzer_sys::fuzz_target!(|ops: Vec<pair::Op>| pair::run(ops));
