//! Cutting a batch into one part per core for our CPU operations whose batch rows are
//! independent (the recurrences, the convolutions): natively each part runs on a thread of its
//! own; in wasm the page's worker has one thread and runs the whole batch as one part.

use std::ops::Range;

/// The threads the parts of a batch run on: the machine's cores natively, one in wasm.
pub(crate) fn threads() -> usize {
    #[cfg(not(target_family = "wasm"))]
    let threads = crate::parallel::cores();
    #[cfg(target_family = "wasm")]
    let threads = 1;
    threads
}

/// The rows `0..batch` cut into at most `threads` runs of nearly equal length, each at least
/// `min_rows` long (fewer rows and a thread costs more than it saves), one run at least.
pub(crate) fn batch_parts(batch: usize, threads: usize, min_rows: usize) -> Vec<Range<usize>> {
    let parts = threads.min(batch / min_rows.max(1)).max(1);
    (0..parts)
        .map(|p| p * batch / parts..(p + 1) * batch / parts)
        .collect()
}

/// A buffer of `row` values per batch row whose rows each part of the batch fills, with what
/// `work` returns for each part (its index, its rows, its share of the buffer), in order;
/// natively the parts run side by side on rayon's pool.
pub(crate) fn fill_by_parts<R: Send>(
    parts: &[Range<usize>],
    row: usize,
    work: impl Fn(usize, Range<usize>, &mut [f32]) -> R + Sync,
) -> (Vec<f32>, Vec<R>) {
    let mut buffer = vec![0.0; parts.last().map_or(0, |p| p.end) * row];
    let mut rest = &mut buffer[..];
    let mut shares = Vec::with_capacity(parts.len());
    for part in parts {
        let (share, tail) = std::mem::take(&mut rest).split_at_mut(part.len() * row);
        shares.push(share);
        rest = tail;
    }
    let work = |(index, share): (usize, &mut [f32])| work(index, parts[index].clone(), share);
    // On rayon's pool, which gemm and burn already keep, rather than threads of our own: a thread
    // started for each operation cost more than the small ones (TC-ResNet's) took.
    #[cfg(not(target_family = "wasm"))]
    if parts.len() > 1 {
        use rayon::prelude::*;
        let results = shares.into_par_iter().enumerate().map(work).collect();
        return (buffer, results);
    }
    let results = shares.into_iter().enumerate().map(work).collect();
    (buffer, results)
}
