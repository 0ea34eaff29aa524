//! Stopping a long command without losing its work: the first Ctrl-C (SIGINT) or SIGTERM asks
//! each run to save its state and stop before its next step; a second Ctrl-C ends the process
//! at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The exit status of a process ended by a second Ctrl-C, as a shell reports SIGINT.
const SECOND_INTERRUPT_STATUS: i32 = 130;

static ASKED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The flag a stop signal sets, its handlers installed on the first call.
pub fn flag() -> Result<&'static AtomicBool, String> {
    if let Some(flag) = ASKED.get() {
        return Ok(flag);
    }
    let flag = Arc::new(AtomicBool::new(false));
    install(&flag).map_err(|e| format!("cannot watch for Ctrl-C: {e}"))?;
    Ok(ASKED.get_or_init(|| flag))
}

#[cfg(unix)]
fn install(flag: &Arc<AtomicBool>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    // Registered first, so it sees the flag as the earlier signal left it.
    signal_hook::flag::register_conditional_shutdown(
        SIGINT,
        SECOND_INTERRUPT_STATUS,
        Arc::clone(flag),
    )?;
    signal_hook::flag::register(SIGINT, Arc::clone(flag))?;
    signal_hook::flag::register(SIGTERM, Arc::clone(flag))?;
    Ok(())
}

#[cfg(not(unix))]
fn install(flag: &Arc<AtomicBool>) -> std::io::Result<()> {
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(flag)).map(|_| ())
}

/// Whether a stop was asked.
pub fn asked() -> bool {
    ASKED.get().is_some_and(|flag| flag.load(Ordering::Relaxed))
}

/// Asks `child` to stop as this process was asked (it saves its run first).
pub fn pass_on(child: &std::process::Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a child's id and a signal number reads no memory of ours.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}
