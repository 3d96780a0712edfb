//! Heap allocations per message in steady-state bulk transfer, counted by
//! a wrapping global allocator over the association pair of the simulator
//! on a clean network (no sockets; datagrams pass through an arena, as
//! the UDP driver carries them).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::sim::workload::{bulk, establish};
use support::sim::{Impairment, Sim};
use usctp_proto::config::Config;

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
    let config = Config::default()
        .with_receive_window(4 << 20)
        .with_send_buffer(4 << 20)
        .with_max_packet_size(1228);
    let mut sim = Sim::pair(1, config);
    sim.tracing = false;
    // An ideal link, no delay and no serialization: a burst arrives whole,
    // as the driver hands over a batch of received datagrams.
    sim.link = Impairment {
        delay: Duration::ZERO,
        rate_bps: u64::MAX,
        ..Impairment::default()
    };
    let (a, b) = establish(&mut sim);
    // Warm up: queues, maps and buffers reach their working size.
    bulk(&mut sim, a, b, 10_000_000 / size * size, size);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let messages = 20_000_000 / size;
    bulk(&mut sim, a, b, messages * size, size);
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
