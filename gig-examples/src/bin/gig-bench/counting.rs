//! A global allocator that counts heap allocations, for this benchmark binary only: each
//! phase reports allocations per record, a figure that does not depend on how busy the
//! machine is.
//!
//! `alloc`, `alloc_zeroed` and `realloc` count as one allocation each; frees are not
//! counted. The count is the whole process's: the phase's consumer, actix and rdkafka's
//! Rust side (librdkafka's own C allocations do not pass through here). Counters are
//! spread over padded slots, one per thread (modulo the slot count), so that threads that
//! allocate at once do not fight over one cache line and slow each other down.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const SLOTS: usize = 16;

#[repr(align(128))]
struct Slot(AtomicU64);

#[allow(clippy::declare_interior_mutable_const)] // Only to repeat it in the array below.
const ZERO: Slot = Slot(AtomicU64::new(0));
static COUNTS: [Slot; SLOTS] = [ZERO; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // `usize::MAX` until the thread first allocates. A const initializer and no destructor:
    // reading it never allocates, so it is safe inside the allocator.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn count() {
    let slot = MY_SLOT
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS);
            }
            s.get()
        })
        .unwrap_or(0);
    COUNTS[slot].0.fetch_add(1, Ordering::Relaxed);
}

/// Allocations so far, by every thread.
pub fn allocations() -> u64 {
    COUNTS.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
}

/// Wraps an allocator and counts its allocations.
pub struct Counting<A>(pub A);

// SAFETY: every call is passed to the wrapped allocator unchanged; counting touches only
// atomics and a const thread-local, and allocates nothing.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) }
    }
}
