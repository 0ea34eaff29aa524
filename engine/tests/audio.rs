//! Decoding, mixing, resampling and validation of the audio a user brings. Native only: the
//! browser decodes through WebAudio, and the fixtures are read from disk.
#![cfg(not(target_arch = "wasm32"))]

use std::f32::consts::PI;
use std::io::Cursor;
use tempokd::audio::{AudioError, Clip, Limits, MODEL_SAMPLE_RATE, decode, resample};

const RATES: [u32; 5] = [8_000, 22_050, 44_100, 48_000, 96_000];

fn sine(freq: f32, amplitude: f32, rate: u32, seconds: f32) -> Vec<f32> {
    let n = (rate as f32 * seconds) as usize;
    (0..n)
        .map(|i| amplitude * (2.0 * PI * freq * i as f32 / rate as f32).sin())
        .collect()
}

/// The frequency (1 Hz resolution) where the clip's spectrum peaks, between `lo` and `hi`.
fn peak_frequency(samples: &[f32], rate: u32, lo: u32, hi: u32) -> u32 {
    // Zero-padding to one second of samples puts the FFT bins 1 Hz apart.
    let n = samples.len().max(rate as usize);
    let fft = realfft::RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let mut input = samples.to_vec();
    input.resize(n, 0.0);
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut input, &mut spectrum).unwrap();
    let hz_per_bin = rate as f64 / n as f64;
    let (bin, _) = spectrum
        .iter()
        .enumerate()
        .filter(|(k, _)| (lo as f64..=hi as f64).contains(&(*k as f64 * hz_per_bin)))
        .max_by(|a, b| a.1.norm_sqr().total_cmp(&b.1.norm_sqr()))
        .unwrap();
    (bin as f64 * hz_per_bin).round() as u32
}

/// RMS in dB of the middle 80 % (away from the filter's edge effects).
fn rms_db(samples: &[f32]) -> f32 {
    let skip = samples.len() / 10;
    let middle = &samples[skip..samples.len() - skip];
    let mean_sq = middle.iter().map(|s| s * s).sum::<f32>() / middle.len() as f32;
    10.0 * mean_sq.log10()
}

enum WavFormat {
    Int(u16),
    Float,
}

fn wav_bytes(channels: &[Vec<f32>], rate: u32, format: WavFormat) -> Vec<u8> {
    let (bits_per_sample, sample_format) = match format {
        WavFormat::Int(bits) => (bits, hound::SampleFormat::Int),
        WavFormat::Float => (32, hound::SampleFormat::Float),
    };
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample,
        sample_format,
    };
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
    let full_scale = ((1i64 << (bits_per_sample - 1)) - 1) as f32;
    for i in 0..channels[0].len() {
        for channel in channels {
            match sample_format {
                hound::SampleFormat::Float => writer.write_sample(channel[i]).unwrap(),
                hound::SampleFormat::Int if bits_per_sample == 8 => writer
                    .write_sample((channel[i] * full_scale).round() as i8)
                    .unwrap(),
                hound::SampleFormat::Int => writer
                    .write_sample((channel[i] * full_scale).round() as i32)
                    .unwrap(),
            }
        }
    }
    writer.finalize().unwrap();
    bytes.into_inner()
}

fn tone_wav(rate: u32, channels: usize, format: WavFormat) -> Vec<u8> {
    let tone = sine(440.0, 0.5, rate, 0.5);
    wav_bytes(&vec![tone; channels], rate, format)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/audio/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decoded audio, once mixed and resampled, is the 440 Hz tone at the level it was written with.
fn assert_is_the_tone(channels: &[Vec<f32>], rate: u32, seconds: f32, level_db: f32) {
    let clip = Clip::from_channels(channels, rate, &Limits::default()).unwrap();
    assert_eq!(clip.sample_rate(), MODEL_SAMPLE_RATE);
    assert!(
        (clip.duration_s() - seconds).abs() < 0.08,
        "duration {} s, expected {seconds} s",
        clip.duration_s()
    );
    let peak = peak_frequency(clip.samples(), MODEL_SAMPLE_RATE, 100, 2000);
    assert!(
        peak.abs_diff(440) <= 1,
        "peak at {peak} Hz, expected 440 Hz"
    );
    let level = rms_db(clip.samples());
    assert!(
        (level - level_db).abs() < 0.5,
        "level {level} dB, expected {level_db} dB"
    );
}

#[test]
fn wav_of_every_sample_format_rate_and_channel_count_decodes_to_the_tone() {
    let expected_db = 20.0 * (0.5f32 / 2f32.sqrt()).log10();
    for rate in RATES {
        for channels in [1, 2, 6] {
            for format in [
                WavFormat::Int(8),
                WavFormat::Int(16),
                WavFormat::Int(24),
                WavFormat::Int(32),
                WavFormat::Float,
            ] {
                let decoded = decode(tone_wav(rate, channels, format), &Limits::default()).unwrap();
                assert_eq!(decoded.sample_rate, rate);
                assert_eq!(decoded.channels.len(), channels);
                assert_eq!(decoded.channels[0].len(), (rate / 2) as usize);
                assert_is_the_tone(&decoded.channels, rate, 0.5, expected_db);
            }
        }
    }
}

#[test]
fn compressed_formats_decode_to_the_tone() {
    // The files are 0.6 s of 440 Hz at -6 dBFS (scripts/oracle/make_audio_fixtures.sh).
    let expected_db = -6.0 - 3.01;
    for (name, rate, channels) in [
        ("tone-44100-stereo.flac", 44_100, 2),
        ("tone-22050-mono.ogg", 22_050, 1),
        ("tone-48000-stereo.mp3", 48_000, 2),
        ("tone-8000-mono.mp3", 8_000, 1),
    ] {
        // No extension hint: the container is recognised from its bytes.
        let decoded =
            decode(fixture(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.sample_rate, rate, "{name}");
        assert_eq!(decoded.channels.len(), channels, "{name}");
        assert_is_the_tone(&decoded.channels, rate, 0.6, expected_db);
    }
}

/// The demo clip in every format people record in (scripts/oracle/make_audio_fixtures.sh), with
/// how far our samples may sit from the reference decoder's 16-bit output: nothing for the
/// lossless ones; for the lossy ones, three steps of 16 bits (1e-4): two decoders of one stream
/// round their arithmetic differently (two steps at most in these files).
const RECORDED: [(&str, f32); 8] = [
    ("yes.opus", 1e-4),
    ("yes.webm", 1e-4),
    ("yes.m4a", 1e-4),
    ("yes.aiff", 0.0),
    ("yes-mulaw.wav", 0.0),
    ("yes-alaw.wav", 0.0),
    ("yes.ogg", 1e-4),
    ("yes.mp3", 1e-4),
];

/// A 16-bit reference decode: its rate and its channels of samples in [-1, 1).
fn reference_channels(name: &str) -> (u32, Vec<Vec<f32>>) {
    let reader = hound::WavReader::new(Cursor::new(fixture(&format!("{name}.ref.wav")))).unwrap();
    let spec = reader.spec();
    assert_eq!(spec.bits_per_sample, 16, "{name}");
    let interleaved: Vec<f32> = reader
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32_768.0)
        .collect();
    let count = usize::from(spec.channels);
    let channels = (0..count)
        .map(|c| interleaved.iter().skip(c).step_by(count).copied().collect())
        .collect();
    (spec.sample_rate, channels)
}

#[test]
fn every_recorded_format_gives_the_reference_decoders_samples() {
    for (name, tolerance) in RECORDED {
        let decoded =
            decode(fixture(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (rate, expected) = reference_channels(name);
        assert_eq!(decoded.sample_rate, rate, "{name}");
        assert_eq!(decoded.channels.len(), expected.len(), "{name}");
        for (ours, expected) in decoded.channels.iter().zip(&expected) {
            // WebM written to a pipe has no end trim to read: up to one packet (20 ms) of the
            // encoder's padding may follow the audio.
            let slack = if name.ends_with(".webm") {
                rate as usize / 50
            } else {
                0
            };
            assert!(
                (expected.len()..=expected.len() + slack).contains(&ours.len()),
                "{name}: {} samples, the reference decoder gives {}",
                ours.len(),
                expected.len()
            );
            let (worst_at, worst) = ours
                .iter()
                .zip(expected)
                .map(|(a, b)| (a - b).abs())
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            assert!(
                worst <= tolerance,
                "{name}: sample {worst_at} is {worst:.2e} from the reference decoder's (tolerance {tolerance:.0e})"
            );
        }
    }
}

/// Found by fuzzing: this WebM's lace sizes claim 26 GB, which symphonia's Matroska reader
/// allocated before reading; the product's own WebM reader checks them against the block.
#[test]
fn a_webm_whose_laces_claim_gigabytes_is_refused() {
    let refused = decode(fixture("webm-lace-claims-26gb.webm"), &Limits::default());
    assert_eq!(
        refused.map(|decoded| decoded.sample_rate),
        Err(AudioError::Corrupt(
            "the WebM file has laces larger than their block".into()
        ))
    );
}

/// symphonia's MP4 reader reserves room for every entry a sample table counts before reading
/// one, so a count of four billion in a small file would end the process; each table of the
/// fixture is given such a count in turn.
#[test]
fn an_mp4_whose_sample_tables_count_billions_of_entries_is_refused() {
    let good = fixture("yes.m4a");
    assert!(decode(good.clone(), &Limits::default()).is_ok());
    let mut tables = 0;
    for (table, count_at) in [("stts", 4), ("stsc", 4), ("stsz", 8), ("stco", 4)] {
        let Some(at) = good.windows(4).position(|w| w == table.as_bytes()) else {
            continue;
        };
        // The body starts after the type; the count follows the version, flags and (stsz)
        // the constant size.
        let count = at + 4 + count_at;
        if table == "stsz" && good[at + 8..at + 12] != [0; 4] {
            continue;
        }
        tables += 1;
        let mut lying = good.clone();
        lying[count..count + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        match decode(lying, &Limits::default()) {
            Err(AudioError::Corrupt(why)) => assert!(
                why.contains(&format!("`{table}` table counts 4294967295 entries")),
                "{why}"
            ),
            other => panic!("{table}: {:?}", other.map(|d| d.sample_rate)),
        }
    }
    assert!(tables >= 3, "the fixture has only {tables} sample tables");
}

/// symphonia reads a WAV's `INFO` entries into buffers of the sizes they claim, bounded only by
/// the `LIST` chunk's own claim, and a FLAC picture's fields and an MP4's tags
/// (`moov/udta/meta/ilst`) the same way.
#[test]
fn a_wav_list_a_flac_picture_or_an_mp4_tag_claiming_gigabytes_is_refused() {
    let wav = tempokd::audio::encode_wav(&[0.25; 1_600], 16_000);
    let data = wav.windows(4).position(|w| w == b"data").unwrap();
    let mut lying = wav[..data].to_vec();
    // The RIFF length ffmpeg writes when it streams, so symphonia takes the list's claim.
    lying[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    lying.extend(b"LIST");
    lying.extend(u32::MAX.to_le_bytes());
    lying.extend(b"INFOINAM");
    lying.extend(0xFFFF_FFF0u32.to_le_bytes());
    lying.extend(&wav[data..]);
    match decode(lying, &Limits::default()) {
        Err(AudioError::Corrupt(why)) => assert!(
            why.starts_with("the WAV file is damaged: a LIST chunk claims 4294967295 bytes"),
            "{why}"
        ),
        other => panic!("{:?}", other.map(|d| d.sample_rate)),
    }
    // A FLAC picture whose media type claims 4 GiB.
    let mut flac = b"fLaC\0\0\0\x22".to_vec();
    flac.extend([0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0x00, 0xf0]);
    flac.extend([0; 20]);
    flac.extend([0x86, 0, 0, 17, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xf0]);
    flac.extend(b"image/png");
    match decode(flac, &Limits::default()) {
        Err(AudioError::Corrupt(why)) => assert!(
            why.starts_with("the FLAC file is damaged: a picture's media type claims 4294967280"),
            "{why}"
        ),
        other => panic!("{:?}", other.map(|d| d.sample_rate)),
    }
    // The fixture's tags (ffmpeg writes its name in `moov/udta/meta/ilst`), one given a 64-bit
    // size of 2^62 in place of its own.
    let good = fixture("yes.m4a");
    let Some(ilst) = good.windows(4).position(|w| w == b"ilst") else {
        panic!("the fixture has no tags");
    };
    // The first tag starts after the list's type; its `data` box after the tag's header.
    let data_box = ilst + 4 + 8;
    assert_eq!(&good[data_box + 4..data_box + 8], b"data");
    let mut tagged = good[..data_box].to_vec();
    tagged.extend(1u32.to_be_bytes());
    tagged.extend(b"data");
    tagged.extend((1u64 << 62).to_be_bytes());
    tagged.extend(&good[data_box + 8..]);
    match decode(tagged, &Limits::default()) {
        Err(AudioError::Corrupt(why)) => {
            assert!(why.contains("claims more bytes than it holds"), "{why}")
        }
        other => panic!("{:?}", other.map(|d| d.sample_rate)),
    }
}

/// symphonia reads ID3v2 frames into buffers of the sizes they claim; a claim of gigabytes is
/// refused first, in every tag the probe reads (one after another, after junk), and a tag does
/// not hide the FLAC file behind it from that file's own checks. The same files with honest
/// claims still decode. (The Ogg comment lists are checked in `audio::probe`'s tests, which
/// can seal a page's CRC after changing it.)
#[test]
fn an_id3_frame_claiming_gigabytes_is_refused_wherever_the_probe_finds_its_tag() {
    // An ID3v2.3 tag: one title frame, then 16 bytes of padding.
    let tag = |claimed: u32| {
        let mut tag = b"ID3\x03\0\0\0\0\0\x1f".to_vec();
        tag.extend(b"TIT2");
        tag.extend(claimed.to_be_bytes());
        tag.extend([0, 0]);
        tag.extend(b"\0yes");
        tag.extend([0; 17]);
        tag
    };
    let mp3 = fixture("yes.mp3");
    let honest = [tag(4), mp3.clone()].concat();
    assert!(decode(honest, &Limits::default()).is_ok());
    for lying in [
        [tag(u32::MAX), mp3.clone()].concat(),
        [tag(4), b"junk".to_vec(), tag(u32::MAX), mp3].concat(),
    ] {
        match decode(lying, &Limits::default()) {
            Err(AudioError::Corrupt(why)) => assert!(
                why.starts_with(
                    "the file's ID3 tag is damaged: an ID3v2.3 frame (TIT2) claims 4294967295"
                ),
                "{why}"
            ),
            other => panic!("{:?}", other.map(|d| d.sample_rate)),
        }
    }
    let flac = fixture("tone-44100-stereo.flac");
    assert!(decode([tag(4), flac.clone()].concat(), &Limits::default()).is_ok());
    // The fixture's stream info block, then a picture (the last block) claiming 4 GiB.
    let stream_info = 4 + 4 + 34;
    let mut lying = flac[..stream_info].to_vec();
    lying[4] &= 0x7f;
    lying.extend([0x86, 0, 0, 17, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xf0]);
    lying.extend(b"image/png");
    match decode([tag(4), lying].concat(), &Limits::default()) {
        Err(AudioError::Corrupt(why)) => assert!(
            why.starts_with("the FLAC file is damaged: a picture's media type claims 4294967280"),
            "{why}"
        ),
        other => panic!("{:?}", other.map(|d| d.sample_rate)),
    }
}

/// The length limit is in seconds; a file's rate and channel count decide how many samples
/// that is, so a header of many channels at a high rate is refused before its packets are.
#[test]
fn a_file_of_more_samples_than_are_decoded_is_refused_whatever_its_length() {
    let limits = Limits::default();
    // 1.8 s of 8 channels at 768 kHz: far under the 30 s limit, 11.06 M samples, which fits;
    // 2 s holds 12.29 M, over the 11.52 M that 30 s allows.
    let silence = |seconds: f32| vec![vec![0.0f32; (768_000.0 * seconds) as usize]; 8];
    let short = wav_bytes(&silence(1.8), 768_000, WavFormat::Int(16));
    assert!(decode(short, &limits).is_ok());
    let long = wav_bytes(&silence(2.0), 768_000, WavFormat::Int(16));
    match decode(long, &limits) {
        Err(error @ AudioError::TooManySamples { .. }) => assert_eq!(
            error.to_string(),
            "8 channels at 768000 Hz hold more samples than are decoded for one file \
             (11520000 over every channel): mix it down to mono or resample it to 48 kHz or less"
        ),
        other => panic!("{:?}", other.map(|d| d.sample_rate)),
    }
    assert_eq!(limits.max_decoded_samples(), 11_520_000);
    // An hour's limit (the stream command's) stops at 2 GiB of samples (an hour of stereo at
    // 48 kHz fits).
    let hour = Limits {
        max_seconds: 3_600.0,
        ..limits
    };
    assert_eq!(hour.max_decoded_samples(), 1 << 29);
}

#[test]
fn samples_far_outside_the_float_range_are_refused_and_those_within_make_finite_features() {
    use tempokd::audio::{FeatureConfig, FeatureExtractor, MAX_SAMPLE_MAGNITUDE};
    let limits = Limits::default();
    let mut tone = sine(440.0, MAX_SAMPLE_MAGNITUDE, 16_000, 1.0);
    // The largest magnitude read: the students' features and the resampler stay finite.
    tone[100] = MAX_SAMPLE_MAGNITUDE;
    let loud = Clip::from_channels(std::slice::from_ref(&tone), 16_000, &limits).unwrap();
    let extractor = FeatureExtractor::new(FeatureConfig::default()).unwrap();
    for features in [
        extractor.log_mel(loud.samples()).unwrap(),
        extractor.mfcc(loud.samples()).unwrap(),
    ] {
        assert!(features.values.iter().all(|v| v.is_finite()));
    }
    let resampled = Clip::from_channels(std::slice::from_ref(&tone), 44_100, &limits).unwrap();
    assert!(resampled.samples().iter().all(|v| v.is_finite()));
    tone[1234] = 1e20;
    assert_eq!(
        Clip::from_channels(&[tone], 16_000, &limits),
        Err(AudioError::OutOfRange {
            index: 1234,
            value: 1e20
        })
    );
}

#[test]
fn every_recorded_format_gives_every_default_student_the_wavs_top_label() {
    use tempokd::students::{AttentionRequest, Student};
    let models = concat!(env!("CARGO_MANIFEST_DIR"), "/../static/models");
    let index = tempokd::model::ModelIndex::read(std::path::Path::new(models)).unwrap();
    let cpu = tempokd::device::ComputeDevice::cpu("tests run on the CPU").device;
    let students: Vec<Student> = (index.models.iter())
        .filter(|model| model.kind == tempokd::model::ModelKind::Student)
        .map(|model| {
            let dir = format!("{models}/{}", model.name);
            Student::load_dir(std::path::Path::new(&dir), &cpu).unwrap()
        })
        .collect();
    assert_eq!(students.len(), 10);
    let top_labels = |bytes: Vec<u8>| -> Vec<String> {
        let clip = tempokd::audio::load_clip(bytes, &Limits::default()).unwrap();
        students
            .iter()
            .map(|student| {
                let reading =
                    pollster::block_on(student.infer(clip.samples(), AttentionRequest::Mean))
                        .unwrap();
                student.labels()[reading.prediction.top].clone()
            })
            .collect()
    };
    let wav = top_labels(fixture("../../../../static/clips/yes-2s.wav"));
    assert!(wav.iter().all(|label| label == "yes"), "{wav:?}");
    for (name, _) in RECORDED {
        assert_eq!(top_labels(fixture(name)), wav, "{name}");
    }
}

#[test]
fn resampling_keeps_frequency_level_and_duration_at_every_rate() {
    for rate in RATES.into_iter().chain([11_025, 32_000, 44_101]) {
        let input = sine(1000.0, 0.25, rate, 1.0);
        let output = resample(&input, rate, MODEL_SAMPLE_RATE).unwrap();
        let expected_len =
            (input.len() as f64 * MODEL_SAMPLE_RATE as f64 / rate as f64).round() as usize;
        assert_eq!(output.len(), expected_len, "length at {rate} Hz");
        assert_eq!(peak_frequency(&output, MODEL_SAMPLE_RATE, 200, 7000), 1000);
        let gain = rms_db(&output) - rms_db(&input);
        assert!(gain.abs() < 0.1, "{rate} Hz: level changed by {gain} dB");
    }
}

#[test]
fn resampling_keeps_events_in_place() {
    for rate in RATES {
        let mut input = vec![0.0f32; rate as usize];
        let click_at = rate as usize / 4;
        input[click_at] = 1.0;
        let output = resample(&input, rate, MODEL_SAMPLE_RATE).unwrap();
        let peak = output
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(i, _)| i)
            .unwrap();
        let expected = MODEL_SAMPLE_RATE as usize / 4;
        assert!(
            peak.abs_diff(expected) <= 1,
            "{rate} Hz: click moved from sample {expected} to {peak}"
        );
    }
}

#[test]
fn resampling_removes_what_16_khz_cannot_hold() {
    for rate in [44_100, 48_000, 96_000] {
        let input = sine(11_000.0, 0.5, rate, 1.0);
        let output = resample(&input, rate, MODEL_SAMPLE_RATE).unwrap();
        let attenuation = rms_db(&input) - rms_db(&output);
        assert!(
            attenuation > 60.0,
            "{rate} Hz: an 11 kHz tone is only {attenuation} dB down"
        );
        // A tone well inside the band passes untouched.
        let input = sine(6_000.0, 0.5, rate, 1.0);
        let output = resample(&input, rate, MODEL_SAMPLE_RATE).unwrap();
        let gain = rms_db(&output) - rms_db(&input);
        assert!(
            gain.abs() < 0.2,
            "{rate} Hz: a 6 kHz tone changed by {gain} dB"
        );
    }
}

#[test]
fn empty_and_non_audio_bytes_are_refused() {
    let limits = Limits::default();
    assert_eq!(decode(Vec::new(), &limits), Err(AudioError::Empty));
    let text = b"This is a text file, not a recording.\n".repeat(50);
    assert!(matches!(
        decode(text, &limits),
        Err(AudioError::Unsupported(_))
    ));
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend([7u8; 4000]);
    assert!(decode(png, &limits).is_err());
}

#[test]
fn truncated_files_are_refused() {
    let limits = Limits::default();
    let wav = tone_wav(16_000, 1, WavFormat::Int(16));
    // Cut inside the header.
    assert!(decode(wav[..30].to_vec(), &limits).is_err());
    // Cut in the middle of the data.
    let half = wav[..wav.len() / 2].to_vec();
    assert!(matches!(
        decode(half, &limits),
        Err(AudioError::Truncated { .. })
    ));
    for name in [
        "tone-44100-stereo.flac",
        "tone-22050-mono.ogg",
        "tone-48000-stereo.mp3",
        "yes.opus",
        "yes.m4a",
        "yes.aiff",
        "yes-mulaw.wav",
    ] {
        let bytes = fixture(name);
        assert!(
            decode(bytes[..bytes.len() / 3].to_vec(), &limits).is_err(),
            "{name} cut to a third decoded without complaint"
        );
    }
}

#[test]
fn absurd_headers_are_refused() {
    let limits = Limits::default();
    let wav = tone_wav(16_000, 1, WavFormat::Int(16));
    // RIFF layout: sample rate at byte 24, channel count at byte 22.
    for rate in [0u32, 1, 500, 10_000_000, u32::MAX] {
        let mut bytes = wav.clone();
        bytes[24..28].copy_from_slice(&rate.to_le_bytes());
        assert!(decode(bytes, &limits).is_err(), "rate {rate}");
    }
    for channels in [0u16, 200, u16::MAX] {
        let mut bytes = wav.clone();
        bytes[22..24].copy_from_slice(&channels.to_le_bytes());
        assert!(decode(bytes, &limits).is_err(), "{channels} channels");
    }
}

#[test]
fn non_finite_samples_are_refused() {
    let mut tone = sine(440.0, 0.5, 16_000, 0.5);
    tone[1234] = f32::NAN;
    let decoded = decode(
        wav_bytes(&[tone], 16_000, WavFormat::Float),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        Clip::from_channels(&decoded.channels, decoded.sample_rate, &Limits::default()),
        Err(AudioError::NonFinite { index: 1234 })
    );
    let infinite = vec![vec![0.1, f32::INFINITY, 0.1]; 1];
    assert!(matches!(
        Clip::from_channels(&infinite, 16_000, &Limits::default()),
        Err(AudioError::TooShort { .. } | AudioError::NonFinite { .. })
    ));
}

#[test]
fn silence_and_lengths_outside_the_limits_are_refused() {
    let limits = Limits::default();
    let silence = vec![vec![0.0f32; 16_000]];
    assert!(matches!(
        Clip::from_channels(&silence, 16_000, &limits),
        Err(AudioError::Silent { .. })
    ));
    let long = vec![sine(440.0, 0.5, 8_000, 31.0)];
    assert!(matches!(
        Clip::from_channels(&long, 8_000, &limits),
        Err(AudioError::TooLong { .. })
    ));
    let short = vec![sine(440.0, 0.5, 16_000, 0.05)];
    assert!(matches!(
        Clip::from_channels(&short, 16_000, &limits),
        Err(AudioError::TooShort { .. })
    ));
    // The decoder stops at the limit instead of decoding a whole huge file.
    let long_wav = wav_bytes(&[sine(440.0, 0.5, 8_000, 31.0)], 8_000, WavFormat::Int(16));
    assert!(matches!(
        decode(long_wav, &limits),
        Err(AudioError::TooLong { .. })
    ));
    assert!(matches!(
        Clip::from_channels(&[], 16_000, &limits),
        Err(AudioError::NoSamples)
    ));
    // A header that says an hour is refused from the header alone, before any packet: the file
    // holds half a second, which decoding would accept.
    let mut lying = wav_bytes(&[sine(440.0, 0.5, 8_000, 0.5)], 8_000, WavFormat::Int(16));
    let field = |bytes: &[u8], at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let data = lying.windows(4).position(|w| w == b"data").unwrap() + 4;
    let hour_of_samples = 8_000u32 * 2 * 3_600;
    // The RIFF length covers the data chunk, so it says the hour too.
    let riff = field(&lying, 4) - field(&lying, data) + hour_of_samples;
    lying[4..8].copy_from_slice(&riff.to_le_bytes());
    lying[data..data + 4].copy_from_slice(&hour_of_samples.to_le_bytes());
    match decode(lying, &limits) {
        Err(AudioError::TooLong { seconds, .. }) => assert!((seconds - 3_600.0).abs() < 1.0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_messages_say_what_to_do() {
    let long = AudioError::TooLong {
        seconds: 31.0,
        max_seconds: 30.0,
    };
    assert_eq!(
        long.to_string(),
        "the clip is 31.0 s long and the limit is 30 s: trim it and try again"
    );
    assert!(
        AudioError::Unsupported("x".into())
            .to_string()
            .contains("use WAV, AIFF, FLAC, MP3, Ogg (Vorbis or Opus), WebM (Opus) or M4A (AAC)")
    );
}
