use super::mp4;
use super::opus::{OPUS_RATE, OpusStream};
use super::probe::{self, Opened};
use super::webm;
use super::{AudioError, Clip, Decoded, Limits, MAX_CHANNELS, SAMPLE_RATE_RANGE};
use std::io::ErrorKind;
use std::panic::AssertUnwindSafe;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_OPUS, CodecParameters, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, Packet};

/// A decoded file may fall this far short of its declared length (encoder padding, rounding of
/// the header) before it counts as truncated.
const TRUNCATION_TOLERANCE: f64 = 0.01;

/// Decodes WAV (8/16/24/32-bit integer, 32/64-bit float, μ-law, A-law), AIFF, FLAC, Ogg/Vorbis,
/// Opus (in Ogg or WebM), AAC (in MP4/M4A) or MP3 bytes.
///
/// The container is recognised by its content, never by a file's name. Decoding stops as soon
/// as the audio exceeds `limits.max_seconds`, so a huge file costs no more than the limit.
pub fn decode(bytes: Vec<u8>, limits: &Limits) -> Result<Decoded, AudioError> {
    // symphonia 0.5 still has assertions that malformed headers reach (a sample rate of 0, for
    // one): a user's file must give an error, not bring the program down.
    std::panic::catch_unwind(AssertUnwindSafe(|| decode_unguarded(bytes, limits))).unwrap_or_else(
        |_| {
            Err(AudioError::Corrupt(
                "the decoder could not make sense of the file's headers".into(),
            ))
        },
    )
}

/// Decodes a file's bytes into a checked 16 kHz mono clip: [`decode`] then [`Clip::from_channels`].
pub fn load_clip(bytes: Vec<u8>, limits: &Limits) -> Result<Clip, AudioError> {
    let decoded = decode(bytes, limits)?;
    Clip::from_channels(&decoded.channels, decoded.sample_rate, limits)
}

fn decode_unguarded(bytes: Vec<u8>, limits: &Limits) -> Result<Decoded, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    if bytes.starts_with(&webm::MAGIC) {
        return decode_webm(&bytes, limits);
    }
    let Opened {
        mut format,
        edit_start,
    } = probe::open(
        bytes,
        &FormatOptions {
            enable_gapless: true,
            ..Default::default()
        },
    )?;
    let track = format
        .default_track()
        .ok_or_else(|| AudioError::Unsupported("the container has no audio track".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();

    if let Some(rate) = params.sample_rate {
        check_rate(rate)?;
        // Where the header says how long the audio is, a clip over the limit is refused before
        // a single packet is decoded.
        if let Some(frames) = params.n_frames {
            let seconds = frames as f64 / f64::from(rate);
            if seconds > f64::from(limits.max_seconds) {
                return Err(AudioError::TooLong {
                    seconds: seconds as f32,
                    max_seconds: limits.max_seconds,
                });
            }
            if let Some(channels) = params.channels.map(|c| c.count()) {
                check_held_samples(frames, channels, rate, limits)?;
            }
        }
    }
    check_packet_size(&params, limits)?;
    let mut decoder = PacketDecoder::for_track(&params)?;
    let priming = edit_start.filter(|_| decoder.keeps_priming());
    let mut collected = Collector::new(params.sample_rate, priming);
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(io)) if io.kind() == ErrorKind::UnexpectedEof => break,
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(AudioError::Corrupt(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        if !collected.take(decoder.decode(&packet)?, limits)? {
            break;
        }
    }
    collected.finish(params.n_frames)
}

/// WebM, as browsers record it: Opus packets from [`webm::read`].
fn decode_webm(bytes: &[u8], limits: &Limits) -> Result<Decoded, AudioError> {
    // Opus's shortest packet is 2.5 ms, so more packets than this are past the limit whatever
    // their lengths, and the collector says so.
    let max_packets = (f64::from(limits.max_seconds.max(0.0)) * 400.0).ceil() as usize + 1;
    let audio = webm::read(bytes, max_packets)?;
    if audio.codec != "A_OPUS" {
        return Err(AudioError::Unsupported(format!(
            "WebM with {} audio; WebM is read with Opus audio",
            audio.codec
        )));
    }
    let mut stream = OpusStream::new(audio.codec_private)?;
    let mut collected = Collector::new(Some(OPUS_RATE), None);
    for packet in audio.packets {
        // WebM as recorded says nothing of the encoder's padding at the end.
        if !collected.take(opus_outcome(&mut stream, packet, 0), limits)? {
            break;
        }
    }
    collected.finish(None)
}

/// Decoded packets gathered into planar channels, with the checks every format shares: one
/// layout throughout, the length limit, priming dropped, too many damaged packets reported.
struct Collector {
    channels: Vec<Vec<f32>>,
    sample_rate: Option<u32>,
    /// Where the audio proper starts, as an MP4 edit list says, for decoders that keep the
    /// encoder's priming.
    priming: Option<mp4::EditStart>,
    /// Priming frames still to drop, once the rate is known.
    to_skip: Option<u64>,
    decoded_packets: usize,
    failed_packets: usize,
    last_error: Option<String>,
}

impl Collector {
    fn new(sample_rate: Option<u32>, priming: Option<mp4::EditStart>) -> Self {
        Self {
            channels: Vec::new(),
            sample_rate,
            priming,
            to_skip: None,
            decoded_packets: 0,
            failed_packets: 0,
            last_error: None,
        }
    }

    /// Takes one packet's outcome; `false` once the stream has ended.
    fn take(&mut self, outcome: PacketOutcome<'_>, limits: &Limits) -> Result<bool, AudioError> {
        let audio = match outcome {
            PacketOutcome::Audio(audio) => audio,
            // One damaged packet should not lose the whole recording; too many are reported
            // when the stream ends.
            PacketOutcome::Damaged(e) => {
                self.failed_packets += 1;
                self.last_error = Some(e);
                return Ok(true);
            }
            PacketOutcome::End => return Ok(false),
        };
        self.decoded_packets += 1;
        let rate = audio.rate;
        check_rate(rate)?;
        let channel_count = audio.channels;
        if channel_count == 0 || channel_count > MAX_CHANNELS {
            return Err(AudioError::Channels(channel_count));
        }
        if self.channels.is_empty() {
            self.channels = vec![Vec::new(); channel_count];
        } else if self.channels.len() != channel_count
            || self.sample_rate.is_some_and(|r| r != rate)
        {
            return Err(AudioError::Corrupt(
                "the channel count or sample rate changes inside the file".into(),
            ));
        }
        self.sample_rate = Some(rate);
        let priming = self.priming;
        let to_skip = self
            .to_skip
            .get_or_insert_with(|| priming.map_or(0, |start| start.frames_at(rate)));
        let frames = audio.interleaved.chunks_exact(channel_count);
        let skipped = usize::try_from(*to_skip)
            .unwrap_or(usize::MAX)
            .min(frames.len());
        *to_skip -= skipped as u64;
        let held = self.channels[0].len() + frames.len() - skipped;
        check_held_samples(held as u64, channel_count, rate, limits)?;
        for frame in frames.skip(skipped) {
            for (channel, &s) in self.channels.iter_mut().zip(frame) {
                channel.push(s);
            }
        }
        let seconds = self.channels[0].len() as f32 / rate as f32;
        if seconds > limits.max_seconds {
            return Err(AudioError::TooLong {
                seconds,
                max_seconds: limits.max_seconds,
            });
        }
        Ok(true)
    }

    /// The decoded audio, checked against the length the container declared, if any.
    fn finish(self, declared_frames: Option<u64>) -> Result<Decoded, AudioError> {
        let frames = self.channels.first().map_or(0, Vec::len);
        let Some(rate) = self.sample_rate.filter(|_| frames > 0) else {
            return Err(match self.last_error {
                Some(e) => AudioError::Corrupt(format!("no packet could be decoded ({e})")),
                None => AudioError::NoSamples,
            });
        };
        if self.failed_packets * 10 > self.decoded_packets {
            return Err(AudioError::Corrupt(format!(
                "{} packets could not be decoded ({})",
                self.failed_packets,
                self.last_error.unwrap_or_default()
            )));
        }
        if let Some(declared) = declared_frames {
            let shortfall = declared as f64 * (1.0 - TRUNCATION_TOLERANCE) - 2048.0;
            if (frames as f64) < shortfall {
                return Err(AudioError::Truncated {
                    declared_s: declared as f32 / rate as f32,
                    decoded_s: frames as f32 / rate as f32,
                });
            }
        }
        Ok(Decoded {
            sample_rate: rate,
            channels: self.channels,
        })
    }
}

/// Turns a track's packets into samples: symphonia's decoders, or Opus's own (symphonia 0.5
/// finds Opus packets in Ogg but cannot decode them).
enum PacketDecoder {
    Symphonia {
        decoder: Box<dyn symphonia::core::codecs::Decoder>,
        buffer: Option<SampleBuffer<f32>>,
    },
    // Boxed: the Opus decoder's state is far larger than the other variant.
    Opus(Box<OpusStream>),
}

/// What became of one packet.
enum PacketOutcome<'a> {
    Audio(PacketAudio<'a>),
    /// The packet could not be decoded; the ones after it may still be.
    Damaged(String),
    /// The stream ended inside the packet.
    End,
}

/// One packet's samples, interleaved.
struct PacketAudio<'a> {
    rate: u32,
    channels: usize,
    interleaved: &'a [f32],
}

impl PacketDecoder {
    fn for_track(params: &CodecParameters) -> Result<Self, AudioError> {
        if params.codec == CODEC_TYPE_OPUS {
            return OpusStream::new(params.extra_data.as_deref())
                .map(|stream| Self::Opus(Box::new(stream)));
        }
        let decoder = symphonia::default::get_codecs()
            .make(params, &DecoderOptions::default())
            .map_err(|e| AudioError::Unsupported(e.to_string()))?;
        Ok(Self::Symphonia {
            decoder,
            buffer: None,
        })
    }

    /// Whether the decoder's output still holds the encoder's priming that an MP4 edit list
    /// tells of (Opus drops its pre-skip itself).
    fn keeps_priming(&self) -> bool {
        matches!(self, Self::Symphonia { .. })
    }

    fn decode(&mut self, packet: &Packet) -> Result<PacketOutcome<'_>, AudioError> {
        match self {
            Self::Symphonia { decoder, buffer } => {
                let decoded = match decoder.decode(packet) {
                    Ok(decoded) => decoded,
                    Err(SymphoniaError::DecodeError(e)) => {
                        return Ok(PacketOutcome::Damaged(e.to_string()));
                    }
                    Err(SymphoniaError::IoError(_)) => return Ok(PacketOutcome::End),
                    Err(e) => return Err(AudioError::Corrupt(e.to_string())),
                };
                let spec = *decoded.spec();
                let channels = spec.channels.count();
                if channels == 0 || channels > MAX_CHANNELS {
                    return Err(AudioError::Channels(channels));
                }
                let capacity = decoded.capacity() as u64;
                if buffer
                    .as_ref()
                    .is_some_and(|buf| (buf.capacity() as u64) < capacity * channels as u64)
                {
                    *buffer = None;
                }
                let buf = buffer.get_or_insert_with(|| SampleBuffer::<f32>::new(capacity, spec));
                buf.copy_interleaved_ref(decoded);
                Ok(PacketOutcome::Audio(PacketAudio {
                    rate: spec.rate,
                    channels,
                    interleaved: buf.samples(),
                }))
            }
            Self::Opus(stream) => Ok(opus_outcome(
                stream,
                &packet.data,
                packet.trim_end() as usize,
            )),
        }
    }
}

/// Refuses audio that would hold more decoded samples than [`Limits::max_decoded_samples`]
/// allows: the length limit is in seconds, and a high rate times many channels would make even
/// a short file gigabytes.
fn check_held_samples(
    frames: u64,
    channels: usize,
    rate: u32,
    limits: &Limits,
) -> Result<(), AudioError> {
    let most = limits.max_decoded_samples();
    if frames.saturating_mul(channels as u64) > most {
        return Err(AudioError::TooManySamples {
            channels,
            rate,
            most,
        });
    }
    Ok(())
}

/// A decoder sizes its buffer from the header's frames per packet before it decodes anything
/// (an MP4 `lpcm` entry may say four billion), so a packet larger than a whole file's samples is
/// refused first.
fn check_packet_size(params: &CodecParameters, limits: &Limits) -> Result<(), AudioError> {
    let Some(frames) = params.max_frames_per_packet else {
        return Ok(());
    };
    let channels = params
        .channels
        .map_or(1, |channels| channels.count().max(1));
    let most = limits.max_decoded_samples();
    if frames.saturating_mul(channels as u64) > most {
        return Err(AudioError::Corrupt(format!(
            "its header gives packets of {frames} frames of {channels} channels, more than the \
             {most} samples decoded for a whole file"
        )));
    }
    Ok(())
}

fn check_rate(rate: u32) -> Result<(), AudioError> {
    if SAMPLE_RATE_RANGE.contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::SampleRate(rate))
    }
}

/// One Opus packet decoded, less `trim_end` frames at its end.
fn opus_outcome<'a>(
    stream: &'a mut OpusStream,
    packet: &[u8],
    trim_end: usize,
) -> PacketOutcome<'a> {
    let channels = stream.channels();
    match stream.decode(packet, trim_end) {
        Ok(interleaved) => PacketOutcome::Audio(PacketAudio {
            rate: OPUS_RATE,
            channels,
            interleaved,
        }),
        Err(e) => PacketOutcome::Damaged(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use symphonia::core::audio::Channels;

    /// An MP4 `lpcm` entry's frames per packet sizes the PCM decoder's buffer when it is made.
    #[test]
    fn a_header_asking_for_packets_larger_than_a_file_is_refused_before_a_decoder_is_made() {
        let limits = Limits::default();
        let mut params = CodecParameters::new();
        params
            .with_channels(Channels::FRONT_LEFT | Channels::FRONT_RIGHT)
            .with_max_frames_per_packet(4_096);
        assert_eq!(check_packet_size(&params, &limits), Ok(()));
        params.with_max_frames_per_packet(u64::from(u32::MAX));
        assert_eq!(
            check_packet_size(&params, &limits),
            Err(AudioError::Corrupt(
                "its header gives packets of 4294967295 frames of 2 channels, more than the \
                 11520000 samples decoded for a whole file"
                    .into()
            ))
        );
    }

    /// Where no header gives the length (a FLAC stream with its total unset), the collector
    /// refuses the packet that would take it over the budget, before holding it.
    #[test]
    fn packets_past_the_sample_budget_are_refused_before_they_are_held() {
        let limits = Limits::default();
        let (channels, rate) = (64, 768_000);
        let packet = vec![0.0f32; channels * 4_096];
        let mut collected = Collector::new(None, None);
        let mut packets = 0;
        let refused = loop {
            let audio = PacketOutcome::Audio(PacketAudio {
                rate,
                channels,
                interleaved: &packet,
            });
            match collected.take(audio, &limits) {
                Ok(_) => packets += 1,
                Err(error) => break error,
            }
        };
        assert!(matches!(refused, AudioError::TooManySamples { .. }));
        let held = (collected.channels[0].len() * channels) as u64;
        assert!(held <= limits.max_decoded_samples());
        assert_eq!(held, packets * packet.len() as u64);
        // Under the seconds limit all along: a fifth of a second at this rate.
        assert!(collected.channels[0].len() < rate as usize);
    }
}
