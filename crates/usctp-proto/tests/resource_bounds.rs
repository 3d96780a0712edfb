//! What a peer can make usctp hold is bounded. A global allocator counts
//! live heap bytes; each scenario plays a hostile or careless peer against
//! the sans-IO endpoint and checks the growth against the documented
//! limits (docs/conformance.md, "Resource bounds"):
//!
//! - 100,000 INITs leave no state (RFC 9260 §5.1.3: none before a valid
//!   COOKIE ECHO);
//! - endless fragments of a message that never ends: the receive window
//!   (the message is delivered in parts past the partial delivery point);
//! - a user who never reads: the receive window (a strict window: data
//!   past it is dropped, or reneged for a TSN below what is held);
//! - tiny chunks past a gap: at most one held TSN per 64 bytes of window;
//! - a peer that never acknowledges: the send buffer.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};

use bytes::Bytes;
use support::*;
use usctp_proto::chunk::{Chunk, Data};
use usctp_proto::config::Config;
use usctp_proto::serial::Ssn;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The `i`th of many tester addresses, 10.x.y.z port 9899, one per `i`
/// below 2^24.
fn nth_source(i: u32) -> SocketAddr {
    let octets = i.to_be_bytes();
    SocketAddr::from(([10, octets[1], octets[2], octets[3]], 9899))
}

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const WINDOW: usize = 1 << 20;
const MIB: isize = 1 << 20;

fn piece(tsn: u32, beginning: bool, end: bool, stream: u16, len: usize) -> Chunk {
    message(tsn, beginning, end, stream, 0, len)
}

fn message(tsn: u32, beginning: bool, end: bool, stream: u16, ssn: u16, len: usize) -> Chunk {
    let Chunk::Data(data) = fragment(tsn, beginning, end, vec![0x42; len]) else {
        unreachable!("a fragment is DATA")
    };
    Chunk::Data(Data {
        stream,
        ssn: Ssn(ssn),
        ppid: 0,
        ..data
    })
}

/// Plays `count` packets from `make` (TSN offset → chunk), discarding what
/// the IUT answers; returns the live-heap growth.
fn growth(t: &mut Tester, vtag: u32, count: u32, make: impl Fn(u32) -> Chunk) -> isize {
    let before = live();
    for i in 0..count {
        t.send(vtag, &[make(i)]);
        if i % 64 == 0 {
            drop(t.sent());
        }
    }
    drop(t.sent());
    live() - before
}

/// The tests here measure one global counter: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn what_a_peer_can_make_usctp_hold_is_bounded() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // 100,000 INITs, each from another address and port: no association,
    // no table entry, and the heap back where it was.
    let mut t = Tester::server();
    drop(t.sent());
    let before = live();
    for i in 0..100_000u32 {
        t.from = nth_source(i);
        t.send(0, &[Chunk::Init(init(i | 1))]);
        if i % 128 == 0 {
            drop(t.sent());
        }
    }
    drop(t.sent());
    assert_eq!(t.iut.association_count(), 0);
    assert_eq!(t.iut.peer_table_len(), 0);
    let after_inits = live() - before;
    println!("100,000 INITs: heap grew {after_inits} bytes");
    assert!(after_inits < 64 * 1024, "{after_inits} bytes");

    // Endless fragments of one message, each filling the cumulative ack.
    let (mut t, iut_tag, _) = established(0x0100);
    let first = TESTER_TSN;
    let grew = growth(&mut t, iut_tag, 20_000, |i| {
        piece(first.wrapping_add(i), i == 0, false, 0, 1000)
    });
    println!("20 MB of fragments that never end: heap grew {grew} bytes");
    // The window's bytes and the bookkeeping around them.
    assert!(grew < WINDOW as isize + WINDOW as isize / 2, "{grew} bytes");

    // Whole messages nobody reads.
    let (mut t, iut_tag, _) = established(0x0200);
    let first = TESTER_TSN;
    let grew = growth(&mut t, iut_tag, 20_000, |i| {
        message(first.wrapping_add(i), true, true, 0, i as u16, 1000)
    });
    println!("20 MB of messages never read: heap grew {grew} bytes");
    assert!(
        grew > WINDOW as isize / 2,
        "the window's worth is held: {grew}"
    );
    assert!(grew < WINDOW as isize + WINDOW as isize / 2, "{grew} bytes");

    // One-byte chunks past a gap (the first TSN never comes).
    let (mut t, iut_tag, _) = established(0x0300);
    let first = TESTER_TSN;
    let grew = growth(&mut t, iut_tag, 200_000, |i| {
        piece(first.wrapping_add(i + 1), true, true, 0, 1)
    });
    println!("200,000 one-byte chunks past a gap: heap grew {grew} bytes");
    assert!(grew < 4 * MIB, "{grew} bytes");

    // A peer that never acknowledges: the user fills the send buffer and
    // is told to wait.
    let config = Config::default();
    let (mut t, _, assoc_id) = established(0x0400);
    let before = live();
    let mut queued = 0;
    for _ in 0..100_000 {
        let mut assoc = t.iut.association_mut(assoc_id).expect("the association");
        // A fresh buffer each time, as an application would pass.
        match assoc.send(0, 0, Bytes::from(vec![0x55; 1000]), false) {
            Ok(()) => queued += 1,
            Err(usctp_proto::association::SendError::WouldBlock) => break,
            Err(e) => panic!("{e}"),
        }
        drop(t.sent());
    }
    let grew = live() - before;
    println!("never acknowledged: {queued} messages queued, heap grew {grew} bytes");
    assert!(queued * 1000 <= config.send_buffer + 1000);
    assert!(grew < config.send_buffer as isize + 2 * MIB, "{grew} bytes");
}

/// 10,000 idle associations on one endpoint (`USCTP_IDLE_ASSOCIATIONS`
/// others: performance II measures 100,000): the heap each one costs with
/// empty queues (target: at most 4 KiB).
#[test]
fn ten_thousand_idle_associations_fit_in_a_few_kib_each() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let count: u32 = std::env::var("USCTP_IDLE_ASSOCIATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let mut t = Tester::server();
    drop(t.sent());
    let before = live();
    for i in 0..count {
        t.from = nth_source(i);
        t.establish(0x1000 + i);
    }
    assert_eq!(t.iut.association_count(), count as usize);
    let per_association = (live() - before) / count as isize;
    println!("{count} idle associations: {per_association} bytes of heap each");
    assert!(per_association <= 4096, "{per_association} bytes each");
}
