use super::AudioError;
use rubato::{FftFixedIn, Resampler};

/// Input block size handed to the resampler; larger blocks amortise its FFTs. One sub-chunk
/// keeps the FFT lengths integral for rates with a small common divisor (44 101 Hz, say).
const CHUNK_FRAMES: usize = 1024;

/// Band-limited resampling of a mono signal between integer rates.
///
/// Uses an FFT resampler with an anti-aliasing low-pass below the lower Nyquist frequency, trims
/// the resampler's delay and returns exactly `round(len · to / from)` samples, so a clip keeps its
/// duration and its content stays aligned in time.
pub fn resample(input: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, AudioError> {
    if from_hz == to_hz || input.is_empty() {
        return Ok(input.to_vec());
    }
    let fail = |reason: String| AudioError::Resample { from_hz, reason };
    let expected =
        ((input.len() as u64 * to_hz as u64 + from_hz as u64 / 2) / from_hz as u64) as usize;
    let mut resampler =
        FftFixedIn::<f32>::new(from_hz as usize, to_hz as usize, CHUNK_FRAMES, 1, 1)
            .map_err(|e| fail(e.to_string()))?;
    let delay = resampler.output_delay();
    let mut output = Vec::with_capacity(expected + delay + 2 * CHUNK_FRAMES);

    let mut rest = input;
    while rest.len() >= resampler.input_frames_next() {
        let (block, tail) = rest.split_at(resampler.input_frames_next());
        let out = resampler
            .process(&[block], None)
            .map_err(|e| fail(e.to_string()))?;
        output.extend(out.into_iter().flatten());
        rest = tail;
    }
    if !rest.is_empty() {
        let out = resampler
            .process_partial(Some(&[rest]), None)
            .map_err(|e| fail(e.to_string()))?;
        output.extend(out.into_iter().flatten());
    }
    // Flush the filter with silence so the last input samples reach the output. A call may
    // return nothing while the resampler fills an FFT block (up to a second of input for rates
    // with a small common divisor), so the number of calls is bounded instead.
    let flush_calls = 2 * (from_hz as usize).div_ceil(CHUNK_FRAMES) + 2;
    for _ in 0..flush_calls {
        if output.len() >= expected + delay {
            break;
        }
        let out = resampler
            .process_partial::<&[f32]>(None, None)
            .map_err(|e| fail(e.to_string()))?;
        output.extend(out.into_iter().flatten());
    }
    output.drain(..delay.min(output.len()));
    output.resize(expected, 0.0);
    Ok(output)
}
