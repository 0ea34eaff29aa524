//! Writing 16 kHz mono 16-bit PCM WAV: the format of every corpus `tempokd synth` writes and of
//! clips the page hands back.

/// A complete WAV file; samples are clipped to [-1, 1] and rounded to 16 bits.
pub fn encode_wav(samples: &[f32], sample_rate: u32) -> Vec<u8> {
    let data_bytes = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_bytes.to_le_bytes());
    for sample in samples {
        let value = (sample.clamp(-1.0, 1.0) * i16::MAX as f32).round() as i16;
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

#[cfg(all(test, feature = "decoders"))]
mod tests {
    use super::*;
    use crate::audio::{Limits, load_clip};

    #[test]
    fn written_wav_decodes_to_the_same_samples() {
        let samples: Vec<f32> = (0..1600).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let clip = load_clip(
            encode_wav(&samples, 16_000),
            Some("wav"),
            &Limits::default(),
        );
        let clip = clip.map_err(|e| e.to_string());
        assert!(clip.is_ok(), "{clip:?}");
        let decoded = clip.map(|c| c.into_samples()).unwrap_or_default();
        assert_eq!(decoded.len(), samples.len());
        let worst = decoded
            .iter()
            .zip(&samples)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1.0 / 16_000.0, "{worst}");
    }
}
