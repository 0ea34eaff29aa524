//! Matrix products on plain row-major `f32` buffers through the `gemm` crate (the kernels burn's
//! CPU backend uses), for our CPU operations that work on buffers rather than tensors.

/// Whether a product may spread over the machine's cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Threads {
    /// On the calling thread (the caller already runs one part of the work per core).
    One,
    /// On every core natively; one thread in wasm.
    All,
}

/// A row-major `[rows, columns]` matrix as row-major `[columns, rows]`.
pub(crate) fn transposed(values: &[f32], rows: usize, columns: usize) -> Vec<f32> {
    (0..columns)
        .flat_map(|column| (0..rows).map(move |row| values[row * columns + column]))
        .collect()
}

/// `out = a·b` (or `out += a·b`), `a` being `m × k` and `b` `k × n`; either may be given
/// transposed, as stored: `a` as `k × m`, `b` as `n × k`. `out`'s rows lie `out_row_stride`
/// apart (at least `n`), so a block of columns of a wider matrix can be written in place.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_into(
    out: &mut [f32],
    out_row_stride: usize,
    accumulate: bool,
    a: &[f32],
    a_transposed: bool,
    b: &[f32],
    b_transposed: bool,
    [m, k, n]: [usize; 3],
    threads: Threads,
) {
    let size = |rows: usize, columns: usize| rows.saturating_mul(columns);
    assert!(out_row_stride >= n);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        out.len() >= size(m - 1, out_row_stride).saturating_add(n)
            && a.len() >= size(m, k)
            && b.len() >= size(k, n)
    );
    if k == 0 {
        if !accumulate {
            for row in out.chunks_mut(out_row_stride).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let (a_row, a_column) = match a_transposed {
        false => (k, 1),
        true => (1, m),
    };
    let (b_row, b_column) = match b_transposed {
        false => (n, 1),
        true => (1, k),
    };
    let parallelism = match threads {
        Threads::One => gemm::Parallelism::None,
        #[cfg(not(target_family = "wasm"))]
        Threads::All => gemm::Parallelism::Rayon(crate::parallel::cores()),
        #[cfg(target_family = "wasm")]
        Threads::All => gemm::Parallelism::None,
    };
    // SAFETY: the assertions above keep every element gemm reads or writes, at the strides
    // given, inside the three slices; `out` is borrowed mutably, so it overlaps neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_row_stride as isize,
            accumulate,
            a.as_ptr(),
            a_column as isize,
            a_row as isize,
            b.as_ptr(),
            b_column as isize,
            b_row as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
