//! Heap allocations per packet in steady-state bulk transfer, counted by a
//! wrapping global allocator over the in-memory association pair (no
//! sockets). The figure is printed; the test fails if it grows past the
//! bound recorded in docs/performance.md.

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

#[test]
fn allocations_per_data_packet_in_steady_state() {
    const SIZE: usize = 1200;
    let mut pair = usctp_pair::Pair::new();
    // Warm up: queues, maps and buffers reach their working size.
    pair.transfer(20_000_000, SIZE);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let bytes = 20_000_000;
    pair.transfer(bytes, SIZE);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let messages = bytes / SIZE;
    // One DATA chunk per message of this size, one message per packet.
    let per_packet = allocations as f64 / messages as f64;
    println!("{allocations} allocations for {messages} DATA packets: {per_packet:.2} per packet");
    assert!(per_packet <= 8.0, "{per_packet:.2} allocations per packet");
}
