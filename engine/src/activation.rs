//! Exponential, sigmoid, tanh and GELU in plain arithmetic, so that a loop over a row of values
//! compiles to SIMD instructions: libm's `expf`, `tanhf` and `erff` are one call per element
//! (they took about a quarter of a recurrent layer's time, and burn's CPU GELU calls `erff`).
//! Within 2e-7 of the exact values (relative for `exp` and `sigmoid`, absolute for `tanh`, of
//! `max(1, |x|)` for GELU; erf within 3.5e-7), as libm's are within 1.4e-7: far inside the
//! recurrent layers' 1e-5 agreement with burn's graph and the teacher's 1e-4 agreement with
//! `transformers`.
//! A NaN stays NaN, so a diverging step is still seen as one.

/// log2(e)
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two, the first part exact in few bits, so that `n·ln 2` loses nothing for the
/// exponents `exp` meets (Cody and Waite's reduction).
const LN_2_HIGH: f32 = 0.693_359_4;
const LN_2_LOW: f32 = -2.121_944_4e-4;
/// Adding 1.5·2²³ rounds an `f32` of magnitude below 2²² to an integer, which then sits in the
/// low bits of the sum: rounding without a call to `roundf`.
const ROUNDER: f32 = 12_582_912.0;

/// `e^x`, for `x` clamped to [−87, 88] (the range whose result is a normal `f32`).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // Comparisons, not `clamp`/`max`, so that NaN passes through.
    #[allow(clippy::manual_clamp)]
    let x = if x < -87.0 {
        -87.0
    } else if x > 88.0 {
        88.0
    } else {
        x
    };
    let shifted = x * LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    let exponent = shifted.to_bits().wrapping_sub(ROUNDER.to_bits());
    let r = x - n * LN_2_HIGH - n * LN_2_LOW;
    // e^r on |r| ≤ ln2/2 by its Taylor series to r⁷ (truncation below 6e-9).
    let p = 1.0 / 5040.0;
    let p = p * r + 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    p * f32::from_bits(exponent.wrapping_add(127) << 23)
}

#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let e = exp(2.0 * x);
    (e - 1.0) / (e + 1.0)
}

/// The error function: its Taylor series below 0.5 (to x¹¹, truncation below 1.3e-8), above
/// it Abramowitz and Stegun's 7.1.26 (below 1.5e-7 in exact arithmetic) with the exponential
/// above, whose `1 − …` would lose the small values' relative precision.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let p = 1.061_405_4;
    let p = p * t - 1.453_152;
    let p = p * t + 1.421_413_8;
    let p = p * t - 0.284_496_74;
    let p = p * t + 0.254_829_6;
    let large = 1.0 - p * t * exp(-a * a);
    // 2/√π · Σ (−1)ⁿ x^(2n+1) / (n!·(2n+1)), n ≤ 5.
    let s = a * a;
    let q = -1.0 / 1320.0;
    let q = q * s + 1.0 / 216.0;
    let q = q * s - 1.0 / 42.0;
    let q = q * s + 1.0 / 10.0;
    let q = q * s - 1.0 / 3.0;
    let q = q * s + 1.0;
    let small = std::f32::consts::FRAC_2_SQRT_PI * a * q;
    let magnitude = if a < 0.5 { small } else { large };
    magnitude.copysign(x)
}

/// GELU in its exact form, `x·Φ(x) = x/2·(1 + erf(x/√2))`, not the tanh approximation.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// [`gelu`] of every value, in place: natively over every core from a million values on, and
/// eight lanes at a time where the CPU has AVX2 (the native build's baseline has four).
pub fn gelu_in_place(values: &mut [f32]) {
    gelu_over_cores(None, values);
}

/// `out[i] = gelu(input[i])`, over cores and lanes as [`gelu_in_place`]; `out` as long as
/// `input`.
pub fn gelu_into(input: &[f32], out: &mut [f32]) {
    debug_assert_eq!(input.len(), out.len());
    gelu_over_cores(Some(input), out);
}

/// GELU of `input` into `out`, or of `out` in place when there is no `input`.
fn gelu_over_cores(input: Option<&[f32]>, out: &mut [f32]) {
    #[cfg(not(target_family = "wasm"))]
    {
        let threads = crate::parallel::cores();
        if threads > 1 && out.len() >= 1 << 20 {
            let part = out.len().div_ceil(threads);
            std::thread::scope(|scope| {
                for (index, out) in out.chunks_mut(part).enumerate() {
                    let input = input.map(|input| &input[index * part..][..out.len()]);
                    scope.spawn(move || gelu_run(input, out));
                }
            });
            return;
        }
    }
    gelu_run(input, out);
}

crate::simd::widest_simd!(fn gelu_run(input: Option<&[f32]>, out: &mut [f32]) => gelu_lanes);

#[inline(always)]
fn gelu_lanes(input: Option<&[f32]>, out: &mut [f32]) {
    match input {
        Some(input) => {
            for (out, x) in out.iter_mut().zip(input) {
                *out = gelu(*x);
            }
        }
        None => {
            for value in out {
                *value = gelu(*value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 997th `f32` bit pattern between −100 and 100, both signs, and the edges.
    fn inputs() -> impl Iterator<Item = f32> {
        (0..100.0f32.to_bits())
            .step_by(997)
            .map(f32::from_bits)
            .flat_map(|x| [x, -x])
            .chain([0.0, -87.0, 88.0, 44.0, -44.0, 1e-30])
    }

    /// Against the exact values (in f64): libm's own `f32` functions are off by up to 6e-8
    /// (exp), 1.4e-7 (sigmoid) and 1e-7 (tanh) on these inputs.
    #[test]
    fn exp_sigmoid_and_tanh_match_f64() {
        for x in inputs() {
            let exact = f64::from(x);
            if (-87.0..=88.0).contains(&x) {
                let error = (f64::from(exp(x)) - exact.exp()) / exact.exp();
                assert!(error.abs() < 1.5e-7, "exp({x}): relative error {error}");
            }
            let sigmoid_exact = 1.0 / (1.0 + (-exact).exp());
            // Below e^−87 the clamp gives about 1e−38 where the result is smaller still.
            let error = (f64::from(sigmoid(x)) - sigmoid_exact).abs();
            assert!(
                error <= 2e-7 * sigmoid_exact + 1e-37,
                "sigmoid({x}): error {error} of {sigmoid_exact}"
            );
            let error = f64::from(tanh(x)) - exact.tanh();
            assert!(error.abs() < 2e-7, "tanh({x}): error {error}");
        }
        assert_eq!(exp(-1000.0), exp(-87.0));
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(exp(f32::INFINITY), exp(88.0));
    }

    /// erf against f64 values of the function from its Taylor series (|x| ≤ 3) and its tail
    /// (erfc below 2.3e-5 beyond 3), and GELU against the same.
    #[test]
    fn erf_and_gelu_match_f64() {
        fn erf_exact(x: f64) -> f64 {
            if x.abs() > 3.0 {
                return x.signum();
            }
            // 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1)), to n = 60: converges in f64 for |x| ≤ 3.
            let mut term = x;
            let mut sum = x;
            for n in 1..60 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        }
        for x in inputs() {
            let exact = erf_exact(f64::from(x));
            let error = f64::from(erf(x)) - exact;
            let tolerance = if x.abs() > 3.0 { 2.3e-5 } else { 3.5e-7 };
            assert!(error.abs() < tolerance, "erf({x}): error {error}");
            if x.abs() <= 3.0 * std::f32::consts::SQRT_2 {
                let gelu_exact = 0.5 * f64::from(x) * (1.0 + erf_exact(f64::from(x) / 2f64.sqrt()));
                let error = f64::from(gelu(x)) - gelu_exact;
                assert!(
                    error.abs() < 2e-7 * f64::from(x).abs().max(1.0),
                    "gelu({x}): {error}"
                );
            }
        }
    }

    /// Over threads and wide lanes (2²¹ + 3 values, so the parts differ in length), in place
    /// and into another buffer, every value as [`gelu`] gives it.
    #[test]
    fn gelu_of_many_values_is_gelu_of_each() {
        let values: Vec<f32> = (0..(1 << 21) + 3)
            .map(|i| (i % 4001) as f32 / 400.0 - 5.0)
            .collect();
        let mut in_place = values.clone();
        gelu_in_place(&mut in_place);
        let mut into = vec![0.0; values.len()];
        gelu_into(&values, &mut into);
        for ((x, a), b) in values.iter().zip(&in_place).zip(&into) {
            assert_eq!(*a, gelu(*x), "gelu({x}) in place");
            assert_eq!(*b, gelu(*x), "gelu({x}) into another buffer");
        }
    }

    #[test]
    fn nan_stays_nan() {
        assert!(erf(f32::NAN).is_nan());
        assert!(gelu(f32::NAN).is_nan());
        assert!(exp(f32::NAN).is_nan());
        assert!(sigmoid(f32::NAN).is_nan());
        assert!(tanh(f32::NAN).is_nan());
    }
}
