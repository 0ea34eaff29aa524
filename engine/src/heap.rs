//! The process heap's policy for training natively.
//!
//! Each training step allocates and frees the same large buffers (the recurrent layers' saved
//! gates, the batch's activations and their gradients: tens of megabytes each). glibc's malloc
//! maps every block above its mmap threshold on its own and unmaps it when it is freed, and
//! trims the top of its heaps above a second threshold, so the next step gets fresh pages that
//! the kernel must fault in and zero one by one: about a quarter of the samples of LSTM-P's
//! training step on two cores (README, "Students"). Keeping freed blocks in the heap lets the
//! next step reuse them. Raising the mmap threshold alone stops at glibc's ceiling of 32 MiB,
//! and LSTM-P's projected inputs and their gradient (39 MB at a batch of 100) lie above it, so
//! no block is mapped on its own: every one comes from the heap. (glibc still maps a block that
//! a thread's heap cannot hold, over 64 MiB, rather than fail.)
//!
//! This is a choice for a process that trains or measures, made once at its start by the
//! command line and the benchmarks, not by the library on its own: it keeps the heap at its high
//! water mark instead of returning memory to the system. Elsewhere (other C libraries, wasm,
//! where the heap never shrinks anyway) it changes nothing.

/// Keeps every freed block in the process heap for reuse: no block is mapped on its own, and
/// glibc stops trimming its heaps. Returns whether the allocator took both settings (`false`
/// where there is nothing to set).
pub fn keep_freed_blocks() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes the allocator's parameters; glibc takes them at any
        // time, from any thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::keep_freed_blocks;

    /// Page faults this thread has taken so far (minor ones: pages mapped in, not read from
    /// disk).
    fn page_faults() -> i64 {
        // SAFETY: `getrusage` fills the zeroed struct it is given and reads nothing else.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above; RUSAGE_THREAD counts only the calling thread, so other tests
        // running beside this one do not disturb it.
        let status = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
        assert_eq!(status, 0);
        usage.ru_minflt
    }

    /// Faults taken while a buffer of `bytes` is allocated, written through and freed.
    fn faults_of_one_buffer(bytes: usize) -> i64 {
        let before = page_faults();
        let buffer = std::hint::black_box(vec![1u8; bytes]);
        drop(buffer);
        page_faults() - before
    }

    #[test]
    fn a_freed_block_is_reused_without_faulting_its_pages_in_again() {
        assert!(keep_freed_blocks(), "glibc refused the settings");
        // 24 MiB: above glibc's default mmap threshold at any moment (128 KiB at start, raised
        // to the largest block freed so far, so it is mapped afresh every time without the
        // settings); 48 MiB: above the 32 MiB that threshold can be raised to at most.
        for bytes in [24 << 20, 48 << 20] {
            let pages = (bytes / 4096) as i64;
            // The first buffer may reuse a block another test on this thread's arena freed, so
            // only the second is held to the reuse.
            faults_of_one_buffer(bytes);
            let second = faults_of_one_buffer(bytes);
            assert!(
                second < pages / 10,
                "the second buffer of {bytes} bytes should reuse the first one's pages: \
                 {second} faults for {pages} pages"
            );
        }
    }
}
