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
    // The fmt chunk: format (2 bytes), channels (2), then the sample rate (4).
    let fmt = chunk(bytes, b"fmt ")?;
    Some(u32::from_le_bytes(fmt.get(4..8)?.try_into().ok()?))
}

/// The samples and rate of a mono 16-bit PCM WAV, the format [`encode_wav`] writes (the
/// browser's training pack is in it), without a general decoder; `None` for anything else.
pub fn decode_pcm16_mono(bytes: &[u8]) -> Option<(u32, Vec<f32>)> {
    let fmt = chunk(bytes, b"fmt ")?;
    let field = |at: usize| Some(u16::from_le_bytes(fmt.get(at..at + 2)?.try_into().ok()?));
    let (format, channels, bits) = (field(0)?, field(2)?, field(14)?);
    if (format, channels, bits) != (1, 1, 16) {
        return None;
    }
    let samples = chunk(bytes, b"data")?
        .chunks_exact(2)
        .map(|pair| f32::from(i16::from_le_bytes([pair[0], pair[1]])) / f32::from(i16::MAX))
        .collect();
    Some((wav_sample_rate(bytes)?, samples))
}

/// Refuses a `LIST` chunk before the audio that claims more bytes than the file has: symphonia
/// 0.5 reads its `INFO` entries into buffers of the sizes they claim, which only the list's own
/// size bounds, so a list and an entry of four billion bytes in a file of a hundred would ask
/// for gigabytes before it read a byte. Bytes that are not RIFF/WAVE pass.
#[cfg(feature = "decoders")]
pub(crate) fn check_lists(bytes: &[u8]) -> Result<(), String> {
    let lying = chunks(bytes)
        .take_while(|chunk| chunk.name != b"data")
        .find(|chunk| chunk.name == b"LIST" && chunk.size > bytes.len() - chunk.body);
    match lying {
        Some(chunk) => Err(format!(
            "a LIST chunk claims {} bytes where the file has {} left",
            chunk.size,
            bytes.len() - chunk.body
        )),
        None => Ok(()),
    }
}

/// The body of the first chunk `id` of a RIFF/WAVE file (cut at the file's end when the size
/// says more), or `None` when there is none.
fn chunk<'a>(bytes: &'a [u8], id: &[u8; 4]) -> Option<&'a [u8]> {
    let found = chunks(bytes).find(|chunk| chunk.name == id)?;
    bytes.get(found.body..found.body.checked_add(found.size)?.min(bytes.len()))
}

/// A chunk's header: its name, the size it claims and where its body starts.
struct ChunkHeader<'a> {
    name: &'a [u8],
    size: usize,
    body: usize,
}

/// The chunk headers of a RIFF/WAVE file in order, up to the first that is cut short; none when
/// `bytes` is not such a file.
fn chunks(bytes: &[u8]) -> impl Iterator<Item = ChunkHeader<'_>> {
    let riff = bytes.get(0..4) == Some(b"RIFF") && bytes.get(8..12) == Some(b"WAVE");
    let mut next = riff.then_some(12usize);
    std::iter::from_fn(move || {
        let at = next.take()?;
        let name = bytes.get(at..at.checked_add(4)?)?;
        let size: [u8; 4] = bytes.get(at + 4..at.checked_add(8)?)?.try_into().ok()?;
        let size = u32::from_le_bytes(size) as usize;
        let body = at + 8;
        // Chunks are padded to an even size.
        next = body
            .checked_add(size)
            .and_then(|end| end.checked_add(size % 2));
        Some(ChunkHeader { name, size, body })
    })
}

#[cfg(test)]
mod header_tests {
    use super::*;

    /// A WAV of `samples` with a `LIST` chunk claiming `list_size` bytes before its audio.
    #[cfg(feature = "decoders")]
    fn listed(list_size: u32, list: &[u8]) -> Vec<u8> {
        let wav = encode_wav(&[0.25; 16], 16_000);
        let data = wav.windows(4).position(|w| w == b"data").unwrap();
        let mut out = wav[..data].to_vec();
        out.extend(b"LIST");
        out.extend(list_size.to_le_bytes());
        out.extend(list);
        out.extend(&wav[data..]);
        out
    }

    #[cfg(feature = "decoders")]
    #[test]
    fn a_list_chunk_claiming_more_than_the_file_has_is_refused() {
        let mut info = b"INFOINAM".to_vec();
        info.extend(6u32.to_le_bytes());
        info.extend(b"title\0");
        let honest = listed(info.len() as u32, &info);
        assert_eq!(check_lists(&honest), Ok(()));
        assert_eq!(decode_pcm16_mono(&honest).map(|(_, s)| s.len()), Some(16));
        // The list and its entry each claim about four billion bytes.
        let mut lying_entry = b"INFOINAM".to_vec();
        lying_entry.extend(0xFFFF_FFF0u32.to_le_bytes());
        let lying = listed(u32::MAX, &lying_entry);
        assert_eq!(
            check_lists(&lying),
            Err(format!(
                "a LIST chunk claims 4294967295 bytes where the file has {} left",
                lying.len() - 44
            ))
        );
        // Not a WAV, or cut short: nothing to refuse.
        assert_eq!(check_lists(b"OggS"), Ok(()));
        assert_eq!(check_lists(&lying[..40]), Ok(()));
    }

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
    fn what_encode_wav_writes_decodes_back_to_16_bit_precision() {
        let samples: Vec<f32> = (0..100).map(|n| (n as f32 * 0.1).sin() * 0.8).collect();
        let (rate, decoded) = decode_pcm16_mono(&encode_wav(&samples, 16_000)).unwrap_or_default();
        assert_eq!((rate, decoded.len()), (16_000, 100));
        assert!(
            samples
                .iter()
                .zip(&decoded)
                .all(|(a, b)| (a - b).abs() < 1e-4)
        );
        let mut stereo = encode_wav(&samples, 16_000);
        stereo[22] = 2;
        assert_eq!(decode_pcm16_mono(&stereo), None);
        assert_eq!(decode_pcm16_mono(b"RIFF"), None);
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
        let clip = load_clip(encode_wav(&samples, 16_000), &Limits::default());
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
