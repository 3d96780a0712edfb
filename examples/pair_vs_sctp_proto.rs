//! Moves `--bytes N` in messages of `--msg-size S` through an in-memory
//! association pair, with usctp and then with sctp-proto, and prints one
//! JSON line: `{"usctp_MBps": …, "sctp_proto_MBps": …, "ratio": …}`.
//!
//! ```sh
//! cargo run --release --example pair_vs_sctp_proto -- --bytes 200000000 --msg-size 1200
//! ```

use std::time::Instant;

#[path = "../benches/support/proto_pair.rs"]
mod proto_pair;
#[path = "../benches/support/usctp_pair.rs"]
mod usctp_pair;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

#[allow(clippy::disallowed_methods)] // a benchmark reads the clock
fn timed(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

fn main() {
    let bytes = arg("--bytes", 200_000_000);
    let size = arg("--msg-size", 1200).max(1);
    let total = bytes / size * size;
    let mut ours = usctp_pair::Pair::new();
    let usctp_s = timed(|| ours.transfer(total, size));
    // `--usctp-only`: for profiling one stack.
    if std::env::args().any(|a| a == "--usctp-only") {
        println!("{{\"usctp_MBps\": {:.1}}}", total as f64 / usctp_s / 1e6);
        return;
    }
    let mut theirs = proto_pair::ProtoPair::new();
    let proto_s = timed(|| theirs.transfer(total, size));
    let usctp = total as f64 / usctp_s / 1e6;
    let proto = total as f64 / proto_s / 1e6;
    println!(
        "{{\"usctp_MBps\": {usctp:.1}, \"sctp_proto_MBps\": {proto:.1}, \"ratio\": {:.2}}}",
        usctp / proto
    );
}
