//! The process heap's policy for training natively.
//!
//! Each training step allocates and frees the same large buffers (the recurrent layers' saved
//! gates, the batch's activations and their gradients: tens of megabytes each). glibc's malloc
//! hands every block above its mmap threshold straight back to the kernel when it is freed, and
//! trims the top of its heaps above a second threshold, so the next step gets fresh pages that
//! the kernel must fault in and zero one by one: about a fifth of LSTM-P's training step on two
//! cores (README, "Students"). Keeping freed blocks in the heap lets the next step reuse them.
//!
//! This is a choice for a process that trains or measures, made once at its start by the
//! command line and the benchmarks, not by the library on its own: it keeps the heap at its high
//! water mark instead of returning memory to the system. Elsewhere (other C libraries, wasm,
//! where the heap never shrinks anyway) it changes nothing.

/// glibc's largest mmap threshold on 64-bit systems (`DEFAULT_MMAP_THRESHOLD_MAX`): blocks up to
/// this size come from the heap; larger ones are still mapped and unmapped on their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const LARGEST_HEAP_BLOCK: libc::c_int = 32 << 20;

/// Keeps freed blocks of up to 32 MiB in the process heap for reuse and stops glibc from
/// trimming its heaps; returns whether the allocator took both settings (`false` where there is
/// nothing to set).
pub fn keep_freed_blocks() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes the allocator's parameters; glibc takes them at any
        // time, from any thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, LARGEST_HEAP_BLOCK) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
