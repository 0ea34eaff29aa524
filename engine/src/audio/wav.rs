use super::AudioError;
use std::io::Cursor;

/// Encodes mono float samples as a 16-bit PCM WAV file.
pub fn write_wav(samples: &[f32], sample_rate: u32) -> Result<Vec<u8>, AudioError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Cursor::new(Vec::new());
    let write_err = |e: hound::Error| AudioError::Write(e.to_string());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).map_err(write_err)?;
    for &s in samples {
        let quantised = (s.clamp(-1.0, 1.0) * i16::MAX as f32).round() as i16;
        writer.write_sample(quantised).map_err(write_err)?;
    }
    writer.finalize().map_err(write_err)?;
    Ok(bytes.into_inner())
}
