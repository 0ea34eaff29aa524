//! Running independent pieces of work over a few threads, natively.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Runs `work` on every item over `threads` threads (at least one); the first error wins and
/// stops the others from taking new items.
pub fn for_each<T: Sync, E: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<E>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                        return;
                    }
                    let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        return;
                    };
                    if let Err(error) = work(item)
                        && let Ok(mut slot) = failure.lock()
                    {
                        slot.get_or_insert(error);
                    }
                }
            });
        }
    });
    match failure.into_inner() {
        Ok(Some(error)) => Err(error),
        _ => Ok(()),
    }
}

/// `work` on every item over `threads` threads, the results in the items' order; the first
/// error wins as in [`for_each`].
pub fn map<T: Sync, R: Send, E: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let numbered: Vec<(&T, &Mutex<Option<R>>)> = items.iter().zip(&results).collect();
    for_each(&numbered, threads, |(item, slot)| {
        let result = work(item)?;
        if let Ok(mut slot) = slot.lock() {
            *slot = Some(result);
        }
        Ok(())
    })?;
    // Every slot is filled once for_each returns without an error.
    Ok(results
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect())
}

/// The machine's cores, at most eight; asked once, because on Linux the standard library reads
/// the cgroup's CPU quota from files on every call, which the small operations that ask before
/// every product felt.
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_the_items_order_and_reports_the_first_error() {
        let items: Vec<u32> = (0..50).collect();
        let squares = map(&items, 3, |n| Ok::<u32, String>(n * n));
        assert_eq!(squares, Ok(items.iter().map(|n| n * n).collect()));
        let failed = map(&items, 3, |n| match n {
            7 => Err(format!("item {n}")),
            _ => Ok(*n),
        });
        assert_eq!(failed, Err("item 7".to_string()));
    }
}
