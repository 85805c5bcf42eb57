//! The allocator's one setting: how soon mimalloc (the global allocator of
//! both binaries) gives freed memory back to the system.
//!
//! mimalloc 3 keeps freed pages for 1 s before purging them. A drain frees
//! and reallocates its sends in bursts (a claim starts up to a batch of them
//! at once), so for the first second every burst took fresh pages: the
//! process peaked at 39-43 MB draining and then settled near 34 MB. At
//! 100 ms the peak is 35-36 MB with the drain rate within noise; at 10 ms it
//! is 30-31 MB but the drain lost about a tenth to the extra `madvise`
//! calls (BENCHMARKS.md, "Memory: the allocator's purge delay").

use std::ffi::c_long;

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (mimalloc.h); the
/// Rust bindings name no constant for it. `purge_delay_is_the_option_defaulting_to_one_second`
/// checks that this index is the option whose default is mimalloc 3's 1000 ms.
const PURGE_DELAY: mi_option_t = 15;

/// Milliseconds freed memory is kept before it is returned to the system.
pub const PURGE_DELAY_MS: c_long = 100;

/// Applies the setting; call it first thing in `main`.
pub fn tune() {
    // SAFETY: mi_option_set only stores a value in mimalloc's option table;
    // any option index is accepted and mimalloc reads options atomically.
    unsafe { mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) }
}

/// The purge delay in force, in milliseconds.
pub fn purge_delay_ms() -> c_long {
    // SAFETY: a read of mimalloc's option table.
    unsafe { mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_delay_is_the_option_defaulting_to_one_second() {
        // Unit tests do not run `tune`: the option still has its default.
        assert_eq!(
            purge_delay_ms(),
            1000,
            "index {PURGE_DELAY} is not mimalloc 3's purge delay"
        );
        tune();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }
}
