//! What the tests of usctp-proto share (`mod support;` in each test
//! binary):
//!
//! - `tester`: the raw-packet tester, which plays the peer of an endpoint
//!   under test (the IUT) with hand-made packets and reads back what it
//!   sends;
//! - `chunks`: the tester's chunk templates (`..INIT`, `..DATA`, `..SACK`),
//!   builders, and readers of what the IUT sent;
//! - `exchanges` and `shutdown`: the handshake, the user's sends and
//!   reads, the shutdown states, and their `#[track_caller]` checks;
//! - `sim`: one association pair over a deterministic simulated network,
//!   and the workloads that run over it;
//! - `etsi`: the check of the ETSI TS 102 369 record;
//! - `crc_oracle`: CRC32c from a table, also measured by benches/codec.rs.
#![allow(dead_code, unused_imports)]

mod chunks;
pub mod crc_oracle;
pub mod etsi;
mod exchanges;
mod shutdown;
pub mod sim;
mod tester;

pub use chunks::*;
pub use exchanges::*;
pub use shutdown::*;
pub use tester::*;
