//! Loops compiled for wider vector instructions than the native build's baseline, chosen at run
//! time. The x86-64 baseline has SSE2's four lanes of `f32`; most CPUs that train have AVX2's
//! eight. Our elementwise loops (the recurrent layers' gates, GELU) are written so that they
//! compile to SIMD, and a function compiled with AVX2 enabled runs them eight lanes at a time.
//! In wasm the build's own `simd128` (four lanes) is the only width.

/// Defines `fn $name(args) -> ret` that runs `$body(args)` compiled with AVX2 where the CPU has
/// it (checked at every call; the check is a cached load) and as the baseline build elsewhere.
/// `$body` must be `#[inline(always)]`, so that its loops, and the `#[inline(always)]`
/// arithmetic they call, are compiled inside the AVX2 function.
///
/// Only AVX2, not FMA: Rust does not contract `a·b + c` into a fused multiply-add on its own,
/// so FMA would change nothing in these loops unless they asked for it with `mul_add`, which
/// the baseline build would turn into a libm call per value.
macro_rules! widest_simd {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:path) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, as just checked.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

pub(crate) use widest_simd;
