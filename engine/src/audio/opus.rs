//! Opus, in Ogg (`.opus`, voice notes) and in WebM (what browsers' MediaRecorder writes).
//! symphonia finds the packets but has no Opus decoder; `opus-decoder`, a port of the reference
//! decoder in safe Rust, decodes them.

use super::AudioError;
use opus_decoder::OpusDecoder;

/// The rate Opus is decoded at: its native rate, so the product's own resampler does the rest,
/// as for every other format.
pub const OPUS_RATE: u32 = 48_000;

/// What the identification header (`OpusHead`, RFC 7845 section 5.1) says about decoding.
#[derive(Clone, Copy, Debug, PartialEq)]
struct OpusHead {
    channels: usize,
    /// Frames at 48 kHz the encoder put before the audio, dropped from the stream's start.
    pre_skip: usize,
    /// The output gain as a factor.
    gain: f32,
}

impl OpusHead {
    /// Reads the header that both containers carry as the track's codec data.
    fn parse(header: &[u8]) -> Result<Self, AudioError> {
        let corrupt = |what: &str| AudioError::Corrupt(format!("the Opus header {what}"));
        if header.len() < 19 || &header[..8] != b"OpusHead" {
            return Err(corrupt("is missing or too short"));
        }
        if header[8] >> 4 != 0 {
            return Err(AudioError::Unsupported(format!(
                "Opus header version {}",
                header[8]
            )));
        }
        let channels = usize::from(header[9]);
        let pre_skip = usize::from(u16::from_le_bytes([header[10], header[11]]));
        let gain_q8 = i16::from_le_bytes([header[16], header[17]]);
        let mapping_family = header[18];
        if channels == 0 {
            return Err(corrupt("names no channels"));
        }
        // Family 0 is mono or stereo in one stream; the others (surround, ambisonics) are not
        // what people record speech in.
        if mapping_family != 0 || channels > 2 {
            return Err(AudioError::Unsupported(format!(
                "Opus with {channels} channels in mapping family {mapping_family}; \
                 mono and stereo Opus are read"
            )));
        }
        Ok(Self {
            channels,
            pre_skip,
            gain: 10f32.powf(f32::from(gain_q8) / (20.0 * 256.0)),
        })
    }
}

/// One Opus track being decoded, packet by packet.
pub struct OpusStream {
    decoder: OpusDecoder,
    head: OpusHead,
    /// Interleaved samples of the last packet.
    pcm: Vec<f32>,
    /// Pre-skip frames still to drop.
    to_skip: usize,
}

impl OpusStream {
    /// A decoder for the track whose codec data is `header` (the `OpusHead` packet).
    pub fn new(header: Option<&[u8]>) -> Result<Self, AudioError> {
        let head = OpusHead::parse(
            header.ok_or_else(|| AudioError::Corrupt("the Opus track has no header".into()))?,
        )?;
        let decoder = OpusDecoder::new(OPUS_RATE, head.channels)
            .map_err(|e| AudioError::Corrupt(format!("the Opus decoder refused the track: {e}")))?;
        let pcm = vec![0.0; decoder.max_frame_size_per_channel() * head.channels];
        Ok(Self {
            decoder,
            head,
            pcm,
            to_skip: head.pre_skip,
        })
    }

    pub fn channels(&self) -> usize {
        self.head.channels
    }

    /// Decodes one packet into interleaved samples, without the encoder's pre-skip at the start
    /// of the stream and without `trim_end` frames at its end (the container's end trim).
    pub fn decode(&mut self, packet: &[u8], trim_end: usize) -> Result<&[f32], String> {
        let frames = self
            .decoder
            .decode_float(packet, &mut self.pcm, false)
            .map_err(|e| e.to_string())?;
        let skipped = self.to_skip.min(frames);
        self.to_skip -= skipped;
        let end = frames.saturating_sub(trim_end).max(skipped);
        let samples = &mut self.pcm[skipped * self.head.channels..end * self.head.channels];
        if self.head.gain != 1.0 {
            samples.iter_mut().for_each(|s| *s *= self.head.gain);
        }
        Ok(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(channels: u8, pre_skip: u16, gain_q8: i16, family: u8) -> Vec<u8> {
        let mut head = b"OpusHead".to_vec();
        head.push(1);
        head.push(channels);
        head.extend(pre_skip.to_le_bytes());
        head.extend(48_000u32.to_le_bytes());
        head.extend(gain_q8.to_le_bytes());
        head.push(family);
        head
    }

    #[test]
    fn the_header_gives_channels_pre_skip_and_gain() {
        let head = OpusHead::parse(&header(2, 312, 256 * 6, 0)).unwrap();
        assert_eq!((head.channels, head.pre_skip), (2, 312));
        // +6 dB.
        assert!((head.gain - 1.9953).abs() < 1e-3, "{}", head.gain);
    }

    #[test]
    fn surround_short_and_foreign_headers_are_refused() {
        assert!(matches!(
            OpusHead::parse(&header(6, 312, 0, 1)),
            Err(AudioError::Unsupported(_))
        ));
        assert!(matches!(
            OpusHead::parse(&header(0, 312, 0, 0)),
            Err(AudioError::Corrupt(_))
        ));
        assert!(matches!(
            OpusHead::parse(&header(1, 312, 0, 0)[..12]),
            Err(AudioError::Corrupt(_))
        ));
        assert!(matches!(OpusStream::new(None), Err(AudioError::Corrupt(_))));
    }
}
