use super::{AudioError, Clip, Decoded, Limits, MAX_CHANNELS, SAMPLE_RATE_RANGE};
use std::io::{Cursor, ErrorKind};
use std::panic::AssertUnwindSafe;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// A decoded file may fall this far short of its declared length (encoder padding, rounding of
/// the header) before it counts as truncated.
const TRUNCATION_TOLERANCE: f64 = 0.01;

/// Decodes WAV (8/16/24/32-bit integer, 32/64-bit float), FLAC, OGG/Vorbis or MP3 bytes.
///
/// `extension` is a hint only: the container is recognised by its content. Decoding stops as soon
/// as the audio exceeds `limits.max_seconds`, so a huge file costs no more than the limit.
pub fn decode(
    bytes: Vec<u8>,
    extension: Option<&str>,
    limits: &Limits,
) -> Result<Decoded, AudioError> {
    // symphonia 0.5 still has assertions that malformed headers reach (a sample rate of 0, for
    // one): a user's file must give an error, not bring the program down.
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        decode_unguarded(bytes, extension, limits)
    }))
    .unwrap_or_else(|_| {
        Err(AudioError::Corrupt(
            "the decoder could not make sense of the file's headers".into(),
        ))
    })
}

/// Decodes a file's bytes into a checked 16 kHz mono clip: [`decode`] then [`Clip::from_channels`].
pub fn load_clip(
    bytes: Vec<u8>,
    extension: Option<&str>,
    limits: &Limits,
) -> Result<Clip, AudioError> {
    let decoded = decode(bytes, extension, limits)?;
    Clip::from_channels(&decoded.channels, decoded.sample_rate, limits)
}

fn decode_unguarded(
    bytes: Vec<u8>,
    extension: Option<&str>,
    limits: &Limits,
) -> Result<Decoded, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions {
                enable_gapless: true,
                ..Default::default()
            },
            &MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) => AudioError::Unsupported(what.to_string()),
            SymphoniaError::IoError(io) if io.kind() == ErrorKind::UnexpectedEof => {
                AudioError::Unsupported("the data ends before any audio header".into())
            }
            other => AudioError::Corrupt(other.to_string()),
        })?;
    let mut format = probed.format;
    let track = format
        .default_track()
        .ok_or_else(|| AudioError::Unsupported("the container has no audio track".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| AudioError::Unsupported(e.to_string()))?;

    let mut sample_rate = params.sample_rate;
    if let Some(rate) = sample_rate {
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
        }
    }
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut buffer: Option<SampleBuffer<f32>> = None;
    let mut decoded_packets = 0usize;
    let mut failed_packets = 0usize;
    let mut last_error = None;
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
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            // One damaged packet should not lose the whole recording; too many are reported below.
            Err(SymphoniaError::DecodeError(e)) => {
                failed_packets += 1;
                last_error = Some(e.to_string());
                continue;
            }
            Err(SymphoniaError::IoError(_)) => break,
            Err(e) => return Err(AudioError::Corrupt(e.to_string())),
        };
        decoded_packets += 1;
        let spec = *decoded.spec();
        let rate = spec.rate;
        check_rate(rate)?;
        let channel_count = spec.channels.count();
        if channel_count == 0 || channel_count > MAX_CHANNELS {
            return Err(AudioError::Channels(channel_count));
        }
        if channels.is_empty() {
            channels = vec![Vec::new(); channel_count];
        } else if channels.len() != channel_count || sample_rate.is_some_and(|r| r != rate) {
            return Err(AudioError::Corrupt(
                "the channel count or sample rate changes inside the file".into(),
            ));
        }
        sample_rate = Some(rate);
        let capacity = decoded.capacity() as u64;
        let buf = match &mut buffer {
            Some(buf) if buf.capacity() as u64 >= capacity * channel_count as u64 => buf,
            _ => buffer.insert(SampleBuffer::<f32>::new(capacity, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        for frame in buf.samples().chunks_exact(channel_count) {
            for (channel, &s) in channels.iter_mut().zip(frame) {
                channel.push(s);
            }
        }
        let frames = channels.first().map_or(0, Vec::len);
        if frames as f32 / rate as f32 > limits.max_seconds {
            return Err(AudioError::TooLong {
                seconds: frames as f32 / rate as f32,
                max_seconds: limits.max_seconds,
            });
        }
    }

    let frames = channels.first().map_or(0, Vec::len);
    let Some(rate) = sample_rate.filter(|_| frames > 0) else {
        return Err(match last_error {
            Some(e) => AudioError::Corrupt(format!("no packet could be decoded ({e})")),
            None => AudioError::NoSamples,
        });
    };
    if failed_packets * 10 > decoded_packets {
        return Err(AudioError::Corrupt(format!(
            "{failed_packets} packets could not be decoded ({})",
            last_error.unwrap_or_default()
        )));
    }
    if let Some(declared) = params.n_frames {
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
        channels,
    })
}

fn check_rate(rate: u32) -> Result<(), AudioError> {
    if SAMPLE_RATE_RANGE.contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::SampleRate(rate))
    }
}
