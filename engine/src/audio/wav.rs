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
/// size bounds, so a list and an entry of four billion bytes
/// in a file of a hundred would ask for gigabytes before it read a byte. The chunks are walked
/// as symphonia reads them, which is not always by their sizes: a format chunk is read as its
/// format says (an A-law or ADPCM one by its extra-size field, an extensible one to 40 bytes),
/// and an odd-sized list is padded twice. Bytes that are not RIFF/WAVE pass, and so does a file
/// from where symphonia gives up on it.
#[cfg(feature = "decoders")]
pub(crate) fn check_lists(bytes: &[u8]) -> Result<(), String> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Ok(());
    }
    let riff = Chunks::new(u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]));
    let mut walk = Walk { bytes, at: 12 };
    walk.check_riff(riff).map_or(Ok(()), |checked| checked)
}

/// A position in the file, moved as symphonia's reader moves through it.
#[cfg(feature = "decoders")]
struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// symphonia's account of one level of chunks: how many bytes of the parent's claimed length
/// its chunks have claimed.
#[cfg(feature = "decoders")]
#[derive(Clone, Copy)]
struct Chunks {
    length: u32,
    claimed: u32,
}

#[cfg(feature = "decoders")]
impl Chunks {
    fn new(length: u32) -> Self {
        Chunks { length, claimed: 0 }
    }
}

#[cfg(feature = "decoders")]
impl Walk<'_> {
    /// The top level's chunks up to the audio; `None` where symphonia gives up on the file.
    fn check_riff(&mut self, mut riff: Chunks) -> Option<Result<(), String>> {
        loop {
            let (tag, length) = self.next_chunk(&mut riff)?;
            match &tag {
                b"fmt " => self.at = self.at.checked_add(self.format_bytes(length)?)?,
                b"fact" if length == 4 => self.at += 4,
                b"LIST" if length >= 4 => {
                    let left = self.bytes.len().saturating_sub(self.at);
                    if length as usize > left {
                        return Some(Err(format!(
                            "a LIST chunk claims {length} bytes where the file has {left} left"
                        )));
                    }
                    let form = self.bytes.get(self.at..self.at + 4)?;
                    self.at += 4;
                    let mut list = Chunks::new(length - 4);
                    // An `INFO` list's entries are read one by one (the byte that aligns the
                    // next can take the list a byte past its length); any other list is skipped.
                    if form == b"INFO" {
                        while let Some((_, size)) = self.next_chunk(&mut list) {
                            self.at += size as usize;
                        }
                    }
                    self.finish(list);
                }
                b"data" => return Some(Ok(())),
                b"fact" | b"LIST" => return None,
                _ => self.at = self.at.checked_add(length as usize)?,
            }
        }
    }

    /// The next chunk header of `level`, after the byte that aligns it; `None` where the level
    /// ends, the file does, or a chunk claims more than its parent has left.
    fn next_chunk(&mut self, level: &mut Chunks) -> Option<([u8; 4], u32)> {
        if level.claimed & 1 == 1 {
            self.at = self.at.saturating_add(1);
            level.claimed = level.claimed.wrapping_add(1);
        }
        // symphonia's release build adds in 32 bits, wrapping: a claim near 2^32 lets the next
        // chunk claim again (its debug build panics there, which `decode` turns into an error).
        if level.claimed.wrapping_add(8) > level.length {
            return None;
        }
        let header = self.bytes.get(self.at..self.at.checked_add(8)?)?;
        let tag = [header[0], header[1], header[2], header[3]];
        let length = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        self.at += 8;
        level.claimed = level.claimed.wrapping_add(8);
        // ffmpeg writes both lengths as 2^32 - 1 when it streams.
        let streamed = level.length == length && length == u32::MAX;
        if level.length.wrapping_sub(level.claimed) < length && !streamed {
            return None;
        }
        level.claimed = level.claimed.saturating_add(length);
        Some((tag, length))
    }

    /// Skips what a level's chunks left unread, then the byte that pads an odd length.
    fn finish(&mut self, level: Chunks) {
        if level.claimed < level.length {
            self.at = self
                .at
                .saturating_add((level.length - level.claimed) as usize);
        }
        self.at = self.at.saturating_add((level.length & 1) as usize);
    }

    /// How many bytes symphonia reads of a format chunk of `length` at the current position,
    /// by its format tag; `None` where it refuses the chunk.
    fn format_bytes(&self, length: u32) -> Option<usize> {
        let chunk = self.bytes.get(self.at..)?;
        let field = |at: usize| Some(u16::from_le_bytes([*chunk.get(at)?, *chunk.get(at + 1)?]));
        if length < 16 {
            return None;
        }
        let extra = || field(16).map(usize::from);
        match (field(0)?, length) {
            // PCM and IEEE float: by the chunk's length, one of three.
            (1 | 3, 16 | 18 | 40) => Some(length as usize),
            // ADPCM (Microsoft, IMA): the extra bytes its field claims.
            (2 | 0x11, 20..) if field(14)? == 4 => Some(18 + extra()?),
            // A-law and μ-law: the same, from a chunk of 18 bytes.
            (6 | 7, 18) => Some(18 + extra()?),
            // Extensible: always 40 bytes.
            (0xfffe, 40..) => Some(40),
            _ => None,
        }
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
        // The length ffmpeg writes when it streams, so the list's claim passes symphonia's.
        out[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
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
        let lying = listed(u32::MAX, &lying_info());
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

    /// An `INFO` list's form and an entry claiming about four billion bytes.
    #[cfg(feature = "decoders")]
    fn lying_info() -> Vec<u8> {
        [b"INFOINAM".as_slice(), &0xFFFF_FFF0u32.to_le_bytes()].concat()
    }

    /// A lying list where symphonia reads the next chunk header, not where the chunks' sizes say.
    #[cfg(feature = "decoders")]
    fn lying_list() -> Vec<u8> {
        [b"LIST".as_slice(), &u32::MAX.to_le_bytes(), &lying_info()].concat()
    }

    #[cfg(feature = "decoders")]
    fn riff(chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = b"RIFF".to_vec();
        out.extend(u32::MAX.to_le_bytes());
        out.extend(b"WAVE");
        for chunk in chunks {
            out.extend(*chunk);
        }
        out
    }

    #[cfg(feature = "decoders")]
    #[test]
    fn lists_are_found_where_symphonia_reads_past_a_format_chunk_or_pads_twice() {
        // An A-law format chunk of 18 bytes whose extra-size field claims 8 more: symphonia
        // reads them, so the `data` header after the chunk is skipped and the list is read.
        let mut alaw = b"fmt ".to_vec();
        alaw.extend(18u32.to_le_bytes());
        alaw.extend([
            6, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0, 8, 0,
        ]);
        let data = [b"data".as_slice(), &0u32.to_le_bytes()].concat();
        let refused = check_lists(&riff(&[&alaw, &data, &lying_list()]));
        assert!(
            refused
                .unwrap_err()
                .starts_with("a LIST chunk claims 4294967295")
        );
        // Without the extra bytes the `data` header ends the chunks before the list.
        let mut plain = alaw.clone();
        plain[24] = 0;
        assert_eq!(check_lists(&riff(&[&plain, &data, &lying_list()])), Ok(()));
        // An odd-sized list is padded by its own reader and again by the file's: the next
        // header is read a byte later than its size says.
        let mut pcm = b"fmt ".to_vec();
        pcm.extend(16u32.to_le_bytes());
        pcm.extend([1, 0, 1, 0, 0x80, 0x3e, 0, 0, 0, 0x7d, 0, 0, 2, 0, 16, 0]);
        let odd = [b"LIST".as_slice(), &5u32.to_le_bytes(), b"INFO", &[0, 0]].concat();
        let file = riff(&[&pcm, &odd, b"x", &lying_list()]);
        assert!(
            check_lists(&file)
                .unwrap_err()
                .starts_with("a LIST chunk claims")
        );
        // An `INFO` list of odd length whose last entry ends at its end: the entries' reader
        // aligns past it and the list pads again, so the next header is two bytes on.
        let info = [
            b"LIST".as_slice(),
            &17u32.to_le_bytes(),
            b"INFOINAM",
            &5u32.to_le_bytes(),
            b"title",
        ]
        .concat();
        let file = riff(&[&pcm, &info, b"xyz", &lying_list()]);
        assert!(
            check_lists(&file)
                .unwrap_err()
                .starts_with("a LIST chunk claims")
        );
        // A format chunk claiming nearly 2^32 bytes, of which symphonia reads 40: the account of
        // the file's chunks wraps, and the list after those 40 bytes is read.
        let mut extensible = b"fmt ".to_vec();
        extensible.extend(0xFFFF_FFF4u32.to_le_bytes());
        extensible.extend([
            0xfe, 0xff, 1, 0, 0x80, 0x3e, 0, 0, 0, 0x7d, 0, 0, 2, 0, 16, 0,
        ]);
        extensible.extend([22, 0, 16, 0, 4, 0, 0, 0]);
        extensible.extend([
            1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71,
        ]);
        let file = riff(&[&extensible, &lying_list()]);
        assert!(
            check_lists(&file)
                .unwrap_err()
                .starts_with("a LIST chunk claims")
        );
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
