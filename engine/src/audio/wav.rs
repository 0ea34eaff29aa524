//! Writing 16 kHz mono 16-bit PCM WAV: the format of every corpus `tempokd synth` writes and of
//! clips the page hands back; and reading a WAV header's sample rate, so the browser can decode
//! a file at its own rate instead of resampling it twice.

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

/// The sample rate in a RIFF/WAVE file's `fmt ` chunk, or `None` when `bytes` is not such a
/// file or its header is cut short.
pub fn wav_sample_rate(bytes: &[u8]) -> Option<u32> {
    let le_u32 = |at: usize| {
        let field: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(u32::from_le_bytes(field))
    };
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut chunk = 12usize;
    loop {
        let id = bytes.get(chunk..chunk.checked_add(4)?)?;
        let size = le_u32(chunk + 4)? as usize;
        if id == b"fmt " {
            // The fmt chunk: format (2 bytes), channels (2), then the sample rate (4).
            return le_u32(chunk + 12);
        }
        // Chunks are padded to an even size.
        chunk = chunk
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size % 2)?;
    }
}

#[cfg(test)]
mod header_tests {
    use super::*;

    #[test]
    fn the_sample_rate_is_read_from_the_fmt_chunk_even_after_other_chunks() {
        assert_eq!(
            wav_sample_rate(&encode_wav(&[0.1; 10], 22_050)),
            Some(22_050)
        );
        let plain = encode_wav(&[0.1; 10], 16_000);
        // A LIST chunk of odd size (padded) before fmt, as some editors write.
        let mut listed = plain[..12].to_vec();
        listed.extend_from_slice(b"LIST");
        listed.extend_from_slice(&3u32.to_le_bytes());
        listed.extend_from_slice(&[1, 2, 3, 0]);
        listed.extend_from_slice(&plain[12..]);
        assert_eq!(wav_sample_rate(&listed), Some(16_000));
    }

    #[test]
    fn anything_else_has_no_wav_sample_rate() {
        let wav = encode_wav(&[0.1; 10], 16_000);
        assert_eq!(wav_sample_rate(&wav[..20]), None);
        assert_eq!(wav_sample_rate(b"ID3\x04 not a wav file at all"), None);
        assert_eq!(wav_sample_rate(&[]), None);
        let mut huge_chunk = wav[..12].to_vec();
        huge_chunk.extend_from_slice(b"junk");
        huge_chunk.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(wav_sample_rate(&huge_chunk), None);
    }
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
