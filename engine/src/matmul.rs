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

/// The product `a·b` of an `m × k` matrix `a` and a `k × n` matrix `b`, row-major, either
/// operand possibly stored transposed (`a` as `k × m`, `b` as `n × k`), written into (or added
/// to) an `m × n` output whose rows lie `out_row_stride` apart (`n` unless set wider), so that a
/// block of columns of a wider matrix can be written in place.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Product<'a> {
    a: &'a [f32],
    b: &'a [f32],
    layout: Layout,
}

/// How a product's operands and output lie in memory.
#[derive(Clone, Copy, Debug)]
struct Layout {
    a_transposed: bool,
    b_transposed: bool,
    /// `[m, k, n]`
    shape: [usize; 3],
    out_row_stride: usize,
}

impl<'a> Product<'a> {
    /// `a·b` for `shape` `[m, k, n]`, both operands stored as the product reads them.
    pub(crate) fn new(a: &'a [f32], b: &'a [f32], shape: [usize; 3]) -> Self {
        let layout = Layout {
            a_transposed: false,
            b_transposed: false,
            shape,
            out_row_stride: shape[2],
        };
        Self { a, b, layout }
    }

    /// `a` is stored as `k × m`.
    pub(crate) fn a_transposed(self) -> Self {
        self.transposed(true, self.layout.b_transposed)
    }

    /// `b` is stored as `n × k`.
    pub(crate) fn b_transposed(self) -> Self {
        self.transposed(self.layout.a_transposed, true)
    }

    /// Which operands are stored transposed.
    pub(crate) fn transposed(mut self, a_transposed: bool, b_transposed: bool) -> Self {
        self.layout.a_transposed = a_transposed;
        self.layout.b_transposed = b_transposed;
        self
    }

    /// The output's rows lie `stride` values apart (at least `n`).
    pub(crate) fn out_row_stride(mut self, stride: usize) -> Self {
        self.layout.out_row_stride = stride;
        self
    }

    /// `out = a·b`.
    pub(crate) fn write(self, out: &mut [f32], threads: Threads) {
        self.spread(out, false, self.split_over(threads));
    }

    /// `out += a·b`.
    pub(crate) fn add(self, out: &mut [f32], threads: Threads) {
        self.spread(out, true, self.split_over(threads));
    }

    /// How this product spreads over `threads`.
    fn split_over(&self, threads: Threads) -> Split {
        #[cfg(not(target_family = "wasm"))]
        let cores = crate::parallel::cores();
        #[cfg(target_family = "wasm")]
        let cores = 1;
        match threads {
            Threads::One => Split::CallingThread,
            Threads::All => split(self.layout.shape, cores),
        }
    }

    /// `out = a·b` (or `out += a·b` when `accumulate`) spread over the cores as `split` says.
    fn spread(self, out: &mut [f32], accumulate: bool, split: Split) {
        let [m, k, n] = self.layout.shape;
        let stride = self.layout.out_row_stride;
        let size = |rows: usize, columns: usize| rows.saturating_mul(columns);
        assert!(stride >= n);
        if m == 0 || n == 0 {
            return;
        }
        assert!(
            out.len() >= size(m - 1, stride).saturating_add(n)
                && self.a.len() >= size(m, k)
                && self.b.len() >= size(k, n)
        );
        if k == 0 {
            if !accumulate {
                for row in out.chunks_mut(stride).take(m) {
                    row[..n].fill(0.0);
                }
            }
            return;
        }
        let operands = Operands {
            a: self.a.as_ptr(),
            b: self.b.as_ptr(),
            out: out.as_mut_ptr(),
            accumulate,
            layout: self.layout,
        };
        // SAFETY: the assertions above keep every element gemm reads or writes, at the strides
        // given, inside the three slices; `out` is borrowed mutably, so it overlaps neither input.
        unsafe { operands.multiply(split) }
    }
}

/// Rows from which a product is left to gemm's own threads rather than cut into blocks of
/// columns. gemm's threads split a product by rows, and on few rows (the teacher's linear layers
/// on a clip of a second or two, 49 or 99 frames; a convolution's output channels) one core
/// waits for the other; on many rows gemm's own split is as fast or faster.
#[cfg(not(target_family = "wasm"))]
const MAX_COLUMN_SPLIT_ROWS: usize = 1024;

/// Multiply-adds below which a product stays on the calling thread: waking another costs about
/// what it saves, about where burn's CPU backend starts threading its own products (192³). This
/// decides for one product; `convolution::MIN_PARALLEL_WORK` decides for a whole convolution
/// whether its batch is cut into parts.
#[cfg(not(target_family = "wasm"))]
const MIN_SPLIT_WORK: usize = 1 << 23;

/// The fewest columns a product needs per block to be cut: gemm's widest register tile is
/// 4 × 16 lanes wide, and narrower blocks would leave it partly empty.
#[cfg(not(target_family = "wasm"))]
const BLOCK_COLUMNS: usize = 64;

/// How a product spreads over the cores.
#[derive(Debug, PartialEq)]
enum Split {
    /// On the calling thread.
    CallingThread,
    /// gemm's own threads.
    #[cfg(not(target_family = "wasm"))]
    Gemms,
    /// Blocks of columns, each one gemm on one thread of rayon's pool (the one gemm and burn
    /// run on).
    #[cfg(not(target_family = "wasm"))]
    Columns(Vec<std::ops::Range<usize>>),
}

/// How an `m × k × n` product spreads over `cores` threads: the calling thread for little work
/// or one core, blocks of columns (widths a multiple of 16, at most one per core and at least
/// [`BLOCK_COLUMNS`] wide on average) for few rows, else gemm's own threads.
#[cfg(not(target_family = "wasm"))]
fn split([m, k, n]: [usize; 3], cores: usize) -> Split {
    let blocks = cores.min(n / BLOCK_COLUMNS);
    if m.saturating_mul(k).saturating_mul(n) < MIN_SPLIT_WORK || cores < 2 {
        return Split::CallingThread;
    }
    if m >= MAX_COLUMN_SPLIT_ROWS || blocks < 2 {
        return Split::Gemms;
    }
    Split::Columns(column_blocks(n, blocks))
}

/// In the browser the model workers have one thread each.
#[cfg(target_family = "wasm")]
fn split(_: [usize; 3], _: usize) -> Split {
    Split::CallingThread
}

/// `n` columns cut into `blocks` ranges, in order, whose widths are a multiple of 16 but the
/// last.
#[cfg(not(target_family = "wasm"))]
fn column_blocks(n: usize, blocks: usize) -> Vec<std::ops::Range<usize>> {
    let width = n.div_ceil(blocks.max(1)).next_multiple_of(16).max(16);
    (0..n)
        .step_by(width)
        .map(|start| start..(start + width).min(n))
        .collect()
}

/// One product's operands as raw pointers, so that blocks of its output's columns can be
/// written from several threads at once.
#[derive(Clone, Copy)]
struct Operands {
    a: *const f32,
    b: *const f32,
    out: *mut f32,
    accumulate: bool,
    layout: Layout,
}

// SAFETY: plain pointers and sizes; whoever dereferences them on another thread answers for
// what it reads and writes (`Operands::multiply`).
unsafe impl Send for Operands {}
unsafe impl Sync for Operands {}

impl Operands {
    /// `out = a·b` (or `+=`) spread over the cores as `split` says.
    ///
    /// # Safety
    /// The pointers must hold the product's operands at its shape and strides, `out` overlapping
    /// neither input, and nothing else may touch `out` meanwhile.
    unsafe fn multiply(self, split: Split) {
        let n = self.layout.shape[2];
        match split {
            // SAFETY: the caller's guarantee, for all the columns.
            Split::CallingThread => unsafe { self.multiply_columns(0..n, gemm::Parallelism::None) },
            #[cfg(not(target_family = "wasm"))]
            Split::Gemms => unsafe {
                self.multiply_columns(0..n, gemm::Parallelism::Rayon(crate::parallel::cores()))
            },
            #[cfg(not(target_family = "wasm"))]
            Split::Columns(blocks) => {
                use rayon::prelude::*;
                // SAFETY: the caller's guarantee; the blocks are disjoint ranges of columns,
                // so no two threads write the same element of `out`.
                blocks.into_par_iter().for_each(|columns| unsafe {
                    self.multiply_columns(columns, gemm::Parallelism::None)
                });
            }
        }
    }

    /// `out[.., columns] = a·b[.., columns]` (or `+=`).
    ///
    /// # Safety
    /// As [`Operands::multiply`], `columns` within `n`, and no other thread writing the same
    /// columns of `out` at the same time.
    unsafe fn multiply_columns(
        self,
        columns: std::ops::Range<usize>,
        parallelism: gemm::Parallelism,
    ) {
        let [m, k, n] = self.layout.shape;
        debug_assert!(columns.end <= n);
        let (a_row, a_column) = match self.layout.a_transposed {
            false => (k, 1),
            true => (1, m),
        };
        let (b_row, b_column) = match self.layout.b_transposed {
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
                self.layout.out_row_stride as isize,
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

    /// Every way a product may be spread that applies to its shape on this target.
    fn splits(n: usize) -> Vec<Split> {
        #[cfg(not(target_family = "wasm"))]
        return vec![
            Split::CallingThread,
            Split::Gemms,
            Split::Columns(column_blocks(n, 2)),
            Split::Columns(column_blocks(n, 3)),
        ];
        #[cfg(target_family = "wasm")]
        {
            let _ = n;
            vec![Split::CallingThread]
        }
    }

    #[test]
    fn every_split_of_a_product_equals_the_product() {
        let layouts = [(false, false), (true, false), (false, true), (true, true)];
        for [m, k, n] in [[49, 60, 300], [130, 17, 130], [3, 5, 40]] {
            for (a_transposed, b_transposed) in layouts {
                for accumulate in [false, true] {
                    for split in splits(n) {
                        let (a, b) = (values(m * k, 1), values(k * n, 2));
                        let stored_a = match a_transposed {
                            true => transposed(&a, m, k),
                            false => a.clone(),
                        };
                        let stored_b = match b_transposed {
                            true => transposed(&b, k, n),
                            false => b.clone(),
                        };
                        // Written into a wider matrix, whose values outside the product stay
                        // and inside it are kept only when accumulating.
                        let stride = n + 3;
                        let start = values(m * stride, 3);
                        let mut expected = start.clone();
                        if !accumulate {
                            for row in expected.chunks_mut(stride) {
                                row[..n].fill(0.0);
                            }
                        }
                        naive(&a, &b, [m, k, n], &mut expected, stride);
                        let mut out = start.clone();
                        let case = format!(
                            "{m}x{k}x{n}, a transposed {a_transposed}, b transposed \
                             {b_transposed}, accumulate {accumulate}, {split:?}"
                        );
                        let product = Product::new(&stored_a, &stored_b, [m, k, n])
                            .transposed(a_transposed, b_transposed)
                            .out_row_stride(stride);
                        product.spread(&mut out, accumulate, split);
                        for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
                            assert!(
                                (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                                "{case}, at {i}: {got} against {want}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn write_replaces_and_add_adds_into_an_output_of_n_columns() {
        let [m, k, n] = [5, 7, 300];
        let (a, b) = (values(m * k, 1), values(k * n, 2));
        let mut product = vec![0.0; m * n];
        naive(&a, &b, [m, k, n], &mut product, n);
        for threads in [Threads::One, Threads::All] {
            let mut written = values(m * n, 3);
            Product::new(&a, &b, [m, k, n]).write(&mut written, threads);
            let mut added = values(m * n, 3);
            Product::new(&a, &b, [m, k, n]).add(&mut added, threads);
            let start = values(m * n, 3);
            for i in 0..m * n {
                let want = [product[i], start[i] + product[i]];
                for (got, want) in [written[i], added[i]].into_iter().zip(want) {
                    assert!(
                        (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                        "{threads:?}, at {i}"
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
        assert_eq!(split([49, 192, 384], 2), Split::CallingThread);
        assert_eq!(split([49, 768, 3072], 1), Split::CallingThread);
        let Split::Columns(blocks) = split([10, 768, 3072], 8) else {
            panic!("few rows, many columns");
        };
        assert_eq!(blocks.len(), 8);
        assert!(blocks.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!((blocks[0].start, blocks[7].end), (0, 3072));
        assert_eq!(column_blocks(130, 3), vec![0..48, 48..96, 96..130]);
    }
}
