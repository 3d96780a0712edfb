//! Moves `--bytes N` in messages of `--msg-size S` through an in-memory
//! association pair, with usctp and then with sctp-proto, and prints one
//! JSON line: `{"usctp_MBps": …, "sctp_proto_MBps": …, "ratio": …}`.
//!
//! ```sh
//! cargo run --release --example pair_vs_sctp_proto -- --bytes 200000000 --msg-size 1200
//! ```
//!
//! `--runs N` alternates the two N times and compares medians.

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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let bytes = arg("--bytes", 200_000_000);
    let size = arg("--msg-size", 1200).max(1);
    // `--runs N`: the two stacks take turns N times; the medians are
    // compared, so a burst of load on a shared machine hits both.
    let runs = arg("--runs", 1).max(1);
    let total = bytes / size * size;
    let usctp_only = std::env::args().any(|a| a == "--usctp-only");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let mut pair = usctp_pair::Pair::new();
        ours.push(total as f64 / timed(|| pair.transfer(total, size)) / 1e6);
        // `--usctp-only`: for profiling one stack.
        if !usctp_only {
            let mut pair = proto_pair::ProtoPair::new();
            theirs.push(total as f64 / timed(|| pair.transfer(total, size)) / 1e6);
        }
    }
    let usctp = median(ours);
    if usctp_only {
        println!("{{\"usctp_MBps\": {usctp:.1}}}");
        return;
    }
    let proto = median(theirs);
    println!(
        "{{\"usctp_MBps\": {usctp:.1}, \"sctp_proto_MBps\": {proto:.1}, \"ratio\": {:.2}}}",
        usctp / proto
    );
}
