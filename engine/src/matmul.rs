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
    let operands = Operands {
        a: a.as_ptr(),
        a_transposed,
        b: b.as_ptr(),
        b_transposed,
        out: out.as_mut_ptr(),
        out_row_stride,
        accumulate,
        shape: [m, k, n],
    };
    // SAFETY (all three calls): the assertions above keep every element gemm reads or writes, at
    // the strides given, inside the three slices; `out` is borrowed mutably, so it overlaps
    // neither input; blocks of columns write disjoint elements of `out`.
    match threads {
        Threads::One => unsafe { operands.columns(0..n, gemm::Parallelism::None) },
        #[cfg(target_family = "wasm")]
        Threads::All => unsafe { operands.columns(0..n, gemm::Parallelism::None) },
        #[cfg(not(target_family = "wasm"))]
        Threads::All => match split([m, k, n], crate::parallel::cores()) {
            Split::None => unsafe { operands.columns(0..n, gemm::Parallelism::None) },
            Split::Gemms => unsafe {
                operands.columns(0..n, gemm::Parallelism::Rayon(crate::parallel::cores()))
            },
            Split::Columns(blocks) => {
                use rayon::prelude::*;
                blocks.into_par_iter().for_each(|columns| unsafe {
                    operands.columns(columns, gemm::Parallelism::None)
                });
            }
        },
    }
}

/// Rows below which a product's columns are cut into blocks, one per core, each one gemm on one
/// thread. gemm's own threads split a product by rows, and on few rows (the teacher's layers on a
/// clip of a second or two, a convolution's last layers) one core then waits on the other; on
/// many rows gemm's own is as fast or faster. `cargo bench -p tempokd --bench teacher` measures
/// what this buys (its "with burn's linear" column).
#[cfg(not(target_family = "wasm"))]
const FEW_ROWS: usize = 1024;

/// Multiply-adds below which a product stays on the calling thread: waking another costs about
/// what it saves (the shipped teacher's products on a 1 s clip, 3.6 M at most, ran no faster
/// split).
#[cfg(not(target_family = "wasm"))]
const MIN_SPLIT_WORK: usize = 1 << 23;

/// Columns each block has at least: a multiple of gemm's widest register tile (4 × 16 lanes).
#[cfg(not(target_family = "wasm"))]
const BLOCK_COLUMNS: usize = 64;

/// How a product spreads over the cores.
#[cfg(not(target_family = "wasm"))]
#[derive(Debug, PartialEq)]
enum Split {
    /// On the calling thread.
    None,
    /// gemm's own threads.
    Gemms,
    /// Blocks of columns, one gemm on one thread each.
    Columns(Vec<std::ops::Range<usize>>),
}

/// How an `m × k × n` product spreads over `cores` threads.
#[cfg(not(target_family = "wasm"))]
fn split([m, k, n]: [usize; 3], cores: usize) -> Split {
    let blocks = cores.min(n / BLOCK_COLUMNS);
    if m.saturating_mul(k).saturating_mul(n) < MIN_SPLIT_WORK || cores < 2 {
        return Split::None;
    }
    if m >= FEW_ROWS || blocks < 2 {
        return Split::Gemms;
    }
    let width = n.div_ceil(blocks).next_multiple_of(16);
    Split::Columns(
        (0..n)
            .step_by(width)
            .map(|start| start..(start + width).min(n))
            .collect(),
    )
}

/// One product's operands as raw pointers, so that blocks of its output's columns can be
/// written from several threads at once.
#[derive(Clone, Copy)]
struct Operands {
    a: *const f32,
    a_transposed: bool,
    b: *const f32,
    b_transposed: bool,
    out: *mut f32,
    out_row_stride: usize,
    accumulate: bool,
    /// `[m, k, n]`
    shape: [usize; 3],
}

// SAFETY: the pointers come from slices the caller holds for the whole product, and the
// threads write disjoint blocks of columns of `out`.
unsafe impl Send for Operands {}
unsafe impl Sync for Operands {}

impl Operands {
    /// `out[.., columns] = a·b[.., columns]` (or `+=`).
    ///
    /// # Safety
    /// The pointers must hold the product's operands at its shape and `columns` lie within `n`;
    /// no other thread may write the same columns of `out` at the same time.
    unsafe fn columns(self, columns: std::ops::Range<usize>, parallelism: gemm::Parallelism) {
        let [m, k, n] = self.shape;
        let (a_row, a_column) = match self.a_transposed {
            false => (k, 1),
            true => (1, m),
        };
        let (b_row, b_column) = match self.b_transposed {
            false => (n, 1),
            true => (1, k),
        };
        unsafe {
            gemm::gemm(
                m,
                columns.len(),
                k,
                self.out.add(columns.start),
                1,
                self.out_row_stride as isize,
                self.accumulate,
                self.a,
                a_column as isize,
                a_row as isize,
                self.b.add(columns.start * b_column),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(count: usize, seed: usize) -> Vec<f32> {
        (0..count)
            .map(|i| ((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    /// `out[i, j] (+)= Σ a[i, l] b[l, j]` one value at a time, `a` and `b` row-major.
    fn naive(a: &[f32], b: &[f32], [m, k, n]: [usize; 3], out: &mut [f32], stride: usize) {
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k).map(|l| (a[i * k + l] * b[l * n + j]) as f64).sum();
                out[i * stride + j] += dot as f32;
            }
        }
    }

    #[test]
    fn products_of_few_rows_split_into_blocks_of_columns_equal_one_product() {
        // Natively: few rows (cut into blocks of columns), many rows (gemm's own threads), little
        // work (the calling thread).
        for [m, k, n] in [[49, 600, 300], [1100, 64, 130], [3, 5, 40]] {
            for (a_transposed, b_transposed) in [(false, false), (true, false), (false, true)] {
                let (a, b) = (values(m * k, 1), values(k * n, 2));
                let stored_a = match a_transposed {
                    true => transposed(&a, m, k),
                    false => a.clone(),
                };
                let stored_b = match b_transposed {
                    true => transposed(&b, k, n),
                    false => b.clone(),
                };
                // Written into a wider matrix, over values that the accumulating product keeps.
                let stride = n + 3;
                let start = values(m * stride, 3);
                let mut expected = start.clone();
                naive(&a, &b, [m, k, n], &mut expected, stride);
                let mut out = start.clone();
                matmul_into(
                    &mut out,
                    stride,
                    true,
                    &stored_a,
                    a_transposed,
                    &stored_b,
                    b_transposed,
                    [m, k, n],
                    Threads::All,
                );
                for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
                    assert!(
                        (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                        "{m}x{k}x{n} (a transposed {a_transposed}, b {b_transposed}) \
                         at {i}: {got} against {want}"
                    );
                }
            }
        }
    }

    #[cfg(not(target_family = "wasm"))]
    #[test]
    fn few_rows_split_into_blocks_of_columns_many_rows_into_gemms_threads() {
        assert_eq!(
            split([49, 768, 3072], 2),
            Split::Columns(vec![0..1536, 1536..3072])
        );
        assert_eq!(
            split([49, 768, 300], 2),
            Split::Columns(vec![0..160, 160..300])
        );
        assert_eq!(split([490, 768, 100], 2), Split::Gemms);
        assert_eq!(split([2000, 768, 3072], 2), Split::Gemms);
        assert_eq!(split([49, 192, 384], 2), Split::None);
        assert_eq!(split([49, 768, 3072], 1), Split::None);
        let Split::Columns(blocks) = split([10, 768, 3072], 8) else {
            panic!("few rows, many columns");
        };
        assert_eq!(blocks.len(), 8);
        assert!(blocks.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!((blocks[0].start, blocks[7].end), (0, 3072));
    }
}
