//! The handful of numeric loops bellhop runs itself rather than through candle: the fused
//! bias + GELU of the embedding model's feed-forward layers, the attention softmax over real
//! tokens, mean pooling, and the matrix product of a few rows by half-precision weights.
//!
//! They live in their own crate so that `[profile.dev.package.bellhop-kernels]` can optimise
//! them in dev and test builds, where the main crate is compiled without optimisation (a
//! scalar loop at opt-level 0 is ten times slower than candle's own kernels). Each loop is
//! written plainly so the compiler vectorises it, and compiled again for AVX-512 and AVX2
//! (`multiversion!`), picked at run time.

use rayon::prelude::*;

/// Rows per parallel task: small enough to spread a short query over both cores, large enough
/// that scheduling costs nothing next to the arithmetic.
const ROWS_PER_TASK: usize = 8;

/// `multiversion!(name, plain, (args))` defines `name(args)`, which runs the
/// `#[inline(always)]` function `plain` compiled for the widest vector instructions the CPU
/// has: AVX-512, else AVX2 with FMA, else the baseline. Because `plain` is inlined into each
/// variant, its loops are vectorised for that instruction set (a generic closure-taking
/// version was tried: the compiler did not inline the closure, and all three ran baseline code).
macro_rules! multiversion {
    ($name:ident, $plain:ident, ($($arg:ident: $ty:ty),*)) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) {
                    $plain($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    $plain($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F, checked just above.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has AVX2 and FMA, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $plain($($arg),*)
        }
    };
}

multiversion!(bias_gelu_rows, bias_gelu_plain, (x: &[f32], bias: &[f32], out: &mut [f32]));
multiversion!(softmax_row, softmax_row_plain, (row: &mut [f32], valid: usize));

/// `out[r][c] = gelu(x[r][c] + bias[c])` for a row-major `x` of rows `bias.len()` wide; GELU
/// the exact (erf) form BERT was trained with, erf within 1e-6 of the true value.
///
/// # Panics
/// If `x` is not a whole number of rows or `out` is not as long as `x`.
pub fn bias_gelu(x: &[f32], bias: &[f32], out: &mut [f32]) {
    let width = bias.len();
    assert!(width > 0 && x.len() % width == 0 && out.len() == x.len(), "bias_gelu: shapes do not match");
    let chunk = width * ROWS_PER_TASK;
    out.par_chunks_mut(chunk).zip(x.par_chunks(chunk)).for_each(|(o, x)| bias_gelu_rows(x, bias, o));
}

#[inline(always)]
fn bias_gelu_plain(x: &[f32], bias: &[f32], out: &mut [f32]) {
    for (o, x) in out.chunks_exact_mut(bias.len()).zip(x.chunks_exact(bias.len())) {
        for ((o, &x), &b) in o.iter_mut().zip(x).zip(bias) {
            let v = x + b;
            *o = 0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

/// The error function in single precision: a rational approximation on [-4, 4] (beyond it erf
/// is ±1 to within f32's precision), the one Eigen and XLA use. Only arithmetic, so a loop of
/// it vectorises.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_600_1e-3;
    p = x2 * p + -1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329_4e-3;
    q = x2 * q + -1.426_473_9e-2;
    p / q
}

/// Softmax of each row of attention scores over its sequence's real tokens, in place: row `r`
/// belongs to sequence `r / rows_per_seq`, whose first `lens[seq]` columns are real and the rest
/// padding (given probability 0). `x` holds rows `width` wide. Rows run in parallel.
///
/// # Panics
/// If `x` is not `lens.len() × rows_per_seq` rows of `width`, or a length exceeds `width`.
pub fn masked_softmax(x: &mut [f32], width: usize, rows_per_seq: usize, lens: &[usize]) {
    assert!(width > 0 && x.len() == lens.len() * rows_per_seq * width, "masked_softmax: shapes do not match");
    assert!(lens.iter().all(|&l| l <= width), "masked_softmax: a length exceeds the row");
    let chunk = width * ROWS_PER_TASK;
    x.par_chunks_mut(chunk).enumerate().for_each(|(c, rows)| {
        for (i, row) in rows.chunks_exact_mut(width).enumerate() {
            let r = c * ROWS_PER_TASK + i;
            softmax_row(row, lens[r / rows_per_seq]);
        }
    });
}

#[inline(always)]
fn softmax_row_plain(row: &mut [f32], valid: usize) {
    let (real, padding) = row.split_at_mut(valid);
    padding.iter_mut().for_each(|v| *v = 0.0);
    // Three plain loops, the reductions over 16 lanes: a float sum or maximum carried through
    // one variable is a chain the compiler may not reorder, so it would not vectorise.
    let max = lanes(real, f32::NEG_INFINITY, |a, b| if b > a { b } else { a });
    real.iter_mut().for_each(|v| *v = exp(*v - max));
    let inv = 1.0 / lanes(real, 0.0, |a, b| a + b);
    real.iter_mut().for_each(|v| *v *= inv);
}

/// `xs` folded with `f` in 16 independent lanes, then the lanes and the rest folded together.
#[inline(always)]
fn lanes(xs: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; 16];
    let mut chunks = xs.chunks_exact(16);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = f(*a, v);
        }
    }
    chunks.remainder().iter().fold(acc.into_iter().fold(init, &f), |a, &v| f(a, v))
}

/// e^x in single precision for x ≤ 88 (Cephes' `expf`: x = n·ln 2 + r, a degree-6 polynomial
/// for e^r, 2^n put in the exponent bits); within 2e-7 relative. Below -87 it returns about
/// 1e-38 rather than 0. Only arithmetic, so a loop of it vectorises.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Mean of each sequence's first `lens[i]` rows of `hidden` (`lens.len()` sequences of
/// `seq_len` rows, `width` wide; rows past a sequence's length are padding and left out).
///
/// # Panics
/// If `hidden` does not hold `lens.len() × seq_len × width` values or a length exceeds `seq_len`.
pub fn mean_pool(hidden: &[f32], lens: &[usize], seq_len: usize, width: usize) -> Vec<Vec<f32>> {
    assert_eq!(hidden.len(), lens.len() * seq_len * width, "mean_pool: shapes do not match");
    lens.iter()
        .enumerate()
        .map(|(i, &len)| {
            assert!(len <= seq_len, "mean_pool: a length exceeds the sequence");
            let seq = &hidden[i * seq_len * width..][..len * width];
            let mut sum = vec![0f32; width];
            for row in seq.chunks_exact(width) {
                for (s, &v) in sum.iter_mut().zip(row) {
                    *s += v;
                }
            }
            let n = len.max(1) as f32;
            sum.iter_mut().for_each(|s| *s /= n);
            sum
        })
        .collect()
}

/// Columns of a panel of [`product_f16`]'s weights.
pub const PANEL: usize = 16;

/// `out = x · w` for `x` (m, k) and `out` (m, n) in f32, row-major, and `w` (k, n) in IEEE
/// half precision (the bits of each value) laid out in panels of [`PANEL`] columns: panel `p`
/// holds rows 0..k of columns `16p..16p + 16`, row after row ([`to_panels`] makes them). Each
/// output is summed over `k` in order with fused multiply-adds.
///
/// For a pass of a few rows (a question: some ten word pieces) the product reads every weight
/// once and does little arithmetic with it, so its time is the time to read the weights: in
/// half precision, panel by panel, that is half the bytes of f32 read straight through. Each
/// panel is read once per 6 rows of `x`.
///
/// Returns `false`, leaving `out` as it was, where the CPU lacks AVX2, FMA or F16C or `n` is
/// not a multiple of [`PANEL`]: the caller then multiplies by its f32 copy of the same weights.
///
/// # Panics
/// If the lengths are not `m × k`, `k × n` and `m × n`.
pub fn product_f16(x: &[f32], w: &[u16], m: usize, k: usize, n: usize, out: &mut [f32]) -> bool {
    assert!(x.len() == m * k && w.len() == k * n && out.len() == m * n, "product_f16: shapes do not match");
    #[cfg(target_arch = "x86_64")]
    if n % PANEL == 0
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
    {
        // SAFETY: the CPU has AVX2, FMA and F16C (checked just above); the shapes are checked
        // above and `n` is a multiple of 16.
        unsafe { half_avx2::product(x, w, m, k, n, out) };
        return true;
    }
    false
}

/// `w` (k, n), row-major, in the panels of [`product_f16`].
///
/// # Panics
/// If `w` is not `k × n` or `n` is not a multiple of [`PANEL`].
pub fn to_panels<T: Copy>(w: &[T], k: usize, n: usize) -> Vec<T> {
    assert!(w.len() == k * n && n % PANEL == 0, "to_panels: shapes do not match");
    (0..n / PANEL).flat_map(|p| (0..k).flat_map(move |r| w[r * n + p * PANEL..][..PANEL].iter().copied())).collect()
}

#[cfg(target_arch = "x86_64")]
mod half_avx2 {
    use std::arch::x86_64::*;

    /// [`super::product_f16`] with AVX2, FMA and F16C: tiles of up to 6 rows × 16 columns, the
    /// 12 sums in registers.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C; `x`, `w` and `out` are (m, k), (k, n) in panels and
    /// (m, n); `n` is a multiple of 16.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn product(x: &[f32], w: &[u16], m: usize, k: usize, n: usize, out: &mut [f32]) {
        for j in (0..n).step_by(16) {
            let mut i = 0;
            while i < m {
                let rows = (m - i).min(6);
                // SAFETY: rows i..i + rows and columns j..j + 16 are within the shapes.
                unsafe {
                    match rows {
                        6 => tile::<6>(x, w, i, j, k, n, out),
                        5 => tile::<5>(x, w, i, j, k, n, out),
                        4 => tile::<4>(x, w, i, j, k, n, out),
                        3 => tile::<3>(x, w, i, j, k, n, out),
                        2 => tile::<2>(x, w, i, j, k, n, out),
                        _ => tile::<1>(x, w, i, j, k, n, out),
                    }
                }
                i += rows;
            }
        }
    }

    /// Rows `i..i + R` × columns `j..j + 16` of the product.
    ///
    /// # Safety
    /// As [`product`], and `i + R ≤ m`, `j + 16 ≤ n`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn tile<const R: usize>(x: &[f32], w: &[u16], i: usize, j: usize, k: usize, n: usize, out: &mut [f32]) {
        let mut low = [_mm256_setzero_ps(); R];
        let mut high = [_mm256_setzero_ps(); R];
        let xs = x[i * k..].as_ptr();
        // The panel of columns j..j + 16: k rows of 16.
        let panel = &w[j * k..][..k * 16];
        for (kk, row) in panel.chunks_exact(16).enumerate() {
            // SAFETY: `row` is 16 values; rows i..i + R of `x` have column kk.
            unsafe {
                let w0 = _mm256_cvtph_ps(_mm_loadu_si128(row.as_ptr().cast()));
                let w1 = _mm256_cvtph_ps(_mm_loadu_si128(row.as_ptr().add(8).cast()));
                for r in 0..R {
                    let v = _mm256_broadcast_ss(&*xs.add(r * k + kk));
                    low[r] = _mm256_fmadd_ps(v, w0, low[r]);
                    high[r] = _mm256_fmadd_ps(v, w1, high[r]);
                }
            }
        }
        let o = out.as_mut_ptr();
        for r in 0..R {
            // SAFETY: row i + r of `out` has columns j..j + 16.
            unsafe {
                _mm256_storeu_ps(o.add((i + r) * n + j), low[r]);
                _mm256_storeu_ps(o.add((i + r) * n + j + 8), high[r]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_f16_is_the_product_by_the_half_precision_weights() {
        for (m, k, n) in [(1, 1, 16), (5, 7, 32), (6, 384, 48), (13, 100, 64), (49, 33, 16)] {
            let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0).collect();
            let w: Vec<u16> = (0..k * n).map(|i| half::f16::from_f32(((i * 104_729) % 2001) as f32 / 1000.0 - 1.0).to_bits()).collect();
            let mut out = vec![f32::NAN; m * n];
            if !product_f16(&x, &to_panels(&w, k, n), m, k, n, &mut out) {
                assert!(out.iter().all(|v| v.is_nan()), "left as it was when it cannot run");
                continue;
            }
            for r in 0..m {
                for c in 0..n {
                    let want: f64 = (0..k).map(|t| x[r * k + t] as f64 * half::f16::from_bits(w[t * n + c]).to_f64()).sum();
                    let got = out[r * n + c] as f64;
                    assert!((got - want).abs() <= 1e-5 * (1.0 + want.abs()), "({m}, {k}, {n}) at {r}, {c}: {got} vs {want}");
                }
            }
        }
        let mut out = vec![0f32; 8];
        assert!(!product_f16(&[1.0], &[0; 8], 1, 1, 8, &mut out), "8 columns are not a multiple of 16");
    }

    #[test]
    fn panels_hold_sixteen_columns_row_after_row() {
        let w: Vec<usize> = (0..3 * 32).collect(); // (3, 32): w[r][c] = 32r + c
        let p = to_panels(&w, 3, 32);
        assert_eq!(&p[..18], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 32, 33]);
        assert_eq!(&p[48..50], &[16, 17], "the second panel starts with row 0's columns 16 and 17");
        assert_eq!(p.len(), w.len());
    }

    /// erf by its Taylor series (exact enough in f64 for |x| ≤ 4 with enough terms).
    fn erf_series(x: f64) -> f64 {
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 * sum.abs().max(1e-300) || n < 5.0 {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
            if n > 400.0 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_within_a_millionth() {
        let mut worst = 0f64;
        for i in -600..=600 {
            let x = i as f64 / 100.0;
            let want = if x.abs() > 5.0 { x.signum() } else { erf_series(x) };
            worst = worst.max((erf(x as f32) as f64 - want).abs());
        }
        assert!(worst < 1e-6, "largest error {worst}");
    }

    #[test]
    fn bias_gelu_matches_the_formula_on_every_path() {
        let bias: Vec<f32> = (0..37).map(|i| i as f32 * 0.1 - 1.8).collect();
        let x: Vec<f32> = (0..37 * 21).map(|i| ((i * 7919) % 1000) as f32 / 125.0 - 4.0).collect();
        let mut out = vec![0f32; x.len()];
        bias_gelu(&x, &bias, &mut out);
        for (i, (&o, &x)) in out.iter().zip(&x).enumerate() {
            let v = (x + bias[i % 37]) as f64;
            let want = 0.5 * v * (1.0 + erf_series(v / std::f64::consts::SQRT_2));
            assert!((o as f64 - want).abs() < 1e-5, "at {i}: {o} vs {want}");
        }
    }

    #[test]
    fn exp_is_within_two_parts_in_ten_million() {
        let mut worst = 0f64;
        for i in -8600..=8800 {
            let x = i as f32 / 100.0;
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64) - want).abs() / want);
        }
        assert!(worst < 2e-7, "largest relative error {worst}");
    }

    #[test]
    fn masked_softmax_ignores_padding_and_sums_to_one() {
        // Two sequences, 2 heads × 3 query rows each, rows 3 wide; the second has 2 real tokens.
        let mut x: Vec<f32> = (0..2 * 6 * 3).map(|i| ((i * 37) % 11) as f32 * 0.7 - 3.0).collect();
        let orig = x.clone();
        masked_softmax(&mut x, 3, 6, &[3, 2]);
        for (r, (row, o)) in x.chunks(3).zip(orig.chunks(3)).enumerate() {
            let valid = if r < 6 { 3 } else { 2 };
            let m = o[..valid].iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let z: f64 = o[..valid].iter().map(|&v| ((v - m) as f64).exp()).sum();
            for j in 0..3 {
                let want = if j < valid { ((o[j] - m) as f64).exp() / z } else { 0.0 };
                assert!((row[j] as f64 - want).abs() < 1e-6, "row {r} column {j}: {} vs {want}", row[j]);
            }
        }
    }

    #[test]
    fn mean_pool_leaves_padding_out() {
        // Two sequences of 3 rows, 2 wide; the second has one real row.
        let hidden = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0, 20.0, 99.0, 99.0, 99.0, 99.0];
        assert_eq!(mean_pool(&hidden, &[3, 1], 3, 2), vec![vec![3.0, 4.0], vec![10.0, 20.0]]);
    }
}
