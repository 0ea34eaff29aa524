//! Switches, per thread, from one of our CPU operations back to the path it replaced, so that
//! tests and benchmarks can hold the two side by side in one run.

use std::cell::Cell;
use std::thread::LocalKey;

/// Runs `work` with `flag` set on this thread, and puts the flag back however `work` ends, a
/// panic included.
pub(crate) fn with_flag<T>(flag: &'static LocalKey<Cell<bool>>, work: impl FnOnce() -> T) -> T {
    struct Restore(&'static LocalKey<Cell<bool>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.set(self.1);
        }
    }
    let _restore = Restore(flag, flag.replace(true));
    work()
}
