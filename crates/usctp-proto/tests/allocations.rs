//! Heap allocations per message in steady-state bulk transfer, counted by
//! a wrapping global allocator over the in-memory association pair (no
//! sockets; datagrams pass through the same arena the UDP driver uses).

#[path = "../benches/support/usctp_pair.rs"]
mod usctp_pair;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations per message while `total` bytes move in messages of
/// `size`, after a warm-up.
fn allocations_per_message(size: usize) -> f64 {
    let mut pair = usctp_pair::Pair::new();
    // Warm up: queues, maps and buffers reach their working size.
    pair.transfer(10_000_000 / size * size, size);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let messages = 20_000_000 / size;
    pair.transfer(messages * size, size);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let per_message = allocations as f64 / messages as f64;
    println!(
        "{size}-byte messages: {allocations} allocations for {messages} messages ({per_message:.3} each)"
    );
    per_message
}

#[test]
fn steady_state_allocates_nothing_per_packet() {
    // One DATA chunk per message and packet: received datagrams are views
    // of a shared arena, chunk vectors are reused, queues keep their size.
    let whole = allocations_per_message(1000);
    assert!(whole < 0.05, "{whole:.3} allocations per 1000-byte message");
    // 1300 bytes do not fit one chunk of the harness's 1228-byte packets: two fragments,
    // put back together in one new buffer per message.
    let fragmented = allocations_per_message(1300);
    assert!(
        fragmented < 1.1,
        "{fragmented:.3} allocations per 1300-byte message"
    );
}
