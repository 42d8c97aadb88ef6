//! How much memory the page holds: live heap bytes, counted by the global allocator, and the
//! size of the wasm linear memory (which only grows). The playground decides what to do about
//! it (`Playground::enforce_memory_budget`); this module only measures.
//!
//! The only `unsafe` of the web app (`tidy` keeps the list): `GlobalAlloc` is an unsafe trait.
//! Each method hands the caller's arguments to `System` unchanged, and only counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes allocated and not yet freed. wasm32 without the atomics feature is single-threaded;
/// an atomic is simply the safe way to have a mutable static (relaxed compiles to a load and a
/// store).
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// `System` (dlmalloc on wasm32) with a count of live bytes.
struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// SAFETY: every method forwards to `System` with the arguments it was given, so `System`'s
// guarantees hold; the counters are only ever read.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract for `layout`.
        let ptr = unsafe { System.alloc(layout) };
        if ptr.is_null() {
            out_of_memory(layout);
        } else {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if ptr.is_null() {
            out_of_memory(layout);
        } else {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this allocator (so `System`) returned for `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract, which `System` shares.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if new.is_null() {
            // The old block is untouched and still counted.
            out_of_memory(Layout::from_size_align(new_size, layout.align()).unwrap_or(layout));
        } else {
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new
    }
}

/// The wasm memory could not grow (it reached 4 GiB, or the browser refused). Returning null
/// makes std abort without running the panic hook, so the page would die silently; a panic
/// runs the hook, which shows the crash banner. A panic may not unwind out of an allocator,
/// and here it cannot: wasm32-unknown-unknown and the `wasm-release` profile abort on panic.
fn out_of_memory(layout: Layout) {
    if cfg!(all(target_arch = "wasm32", panic = "abort")) {
        panic!(
            "out of memory: {} more bytes could not be allocated (the page holds {} MB, its \
             wasm memory is {} MB)",
            layout.size(),
            live_bytes() >> 20,
            wasm_bytes() >> 20
        );
    }
}

/// Heap bytes allocated and not freed.
pub fn live_bytes() -> u64 {
    LIVE_BYTES.load(Ordering::Relaxed) as u64
}

/// The size of the wasm linear memory: the most the heap ever needed, plus the stack and
/// static data (it never shrinks).
pub fn wasm_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}
