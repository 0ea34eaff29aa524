//! Voice and channel diversity for training clips: what makes a model learn the word rather than
//! the few synthesizers that say it. Each effect changes what a real speaker, room or microphone
//! changes: the speaker's speed and pitch, the length of their vocal tract (formants), the room's
//! reverberation, the microphone's frequency response, and an overdriven input's clipping.
//!
//! Effects are drawn per clip from the clip's own seed, so a corpus stays a function of its seed,
//! and from a stream of their own, so switching an effect off changes nothing else in the corpus
//! (the ablation in the report compares corpora that differ only there).

use super::noise::rms;
use crate::audio::{MODEL_SAMPLE_RATE, resample};
use crate::rng::Rng;
use realfft::RealFftPlanner;
use realfft::num_complex::Complex32;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One kind of variation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Effect {
    /// Tempo and pitch together, as a faster or slower speaker (resampling by 0.85–1.15).
    Speed,
    /// The spectral envelope stretched along frequency (factor 0.84–1.2), pitch kept: a longer or
    /// shorter vocal tract.
    Formant,
    /// A synthetic room: direct sound, early reflections and a decaying diffuse tail
    /// (RT60 0.15–0.8 s).
    Room,
    /// A phone's or laptop's band limits, or a random equaliser.
    Microphone,
    /// Input overdriven by 3–15 dB and hard-clipped.
    Clipping,
}

impl Effect {
    pub const ALL: [Effect; 5] = [
        Effect::Speed,
        Effect::Formant,
        Effect::Room,
        Effect::Microphone,
        Effect::Clipping,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Effect::Speed => "speed",
            Effect::Formant => "formant",
            Effect::Room => "room",
            Effect::Microphone => "mic",
            Effect::Clipping => "clip",
        }
    }

    /// Share of clips the effect is applied to.
    fn probability(self) -> f32 {
        match self {
            Effect::Speed => 0.6,
            Effect::Formant => 0.6,
            Effect::Room => 0.4,
            Effect::Microphone => 0.5,
            Effect::Clipping => 0.1,
        }
    }
}

/// Which effects a corpus applies to its training clips.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Augmentation {
    pub effects: Vec<Effect>,
}

impl Augmentation {
    pub fn all() -> Self {
        Self {
            effects: Effect::ALL.to_vec(),
        }
    }

    pub fn none() -> Self {
        Self {
            effects: Vec::new(),
        }
    }

    /// `all`, `none`, or effect names joined by commas (`speed,formant,room,mic,clip`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "all" => return Ok(Self::all()),
            "none" | "" => return Ok(Self::none()),
            _ => {}
        }
        let mut effects = Vec::new();
        for name in text.split(',').map(str::trim) {
            let effect = Effect::ALL
                .into_iter()
                .find(|e| e.name() == name)
                .ok_or_else(|| {
                    format!(
                        "`{name}` is not an effect; use all, none, or some of {}",
                        Effect::ALL.map(Effect::name).join(",")
                    )
                })?;
            if !effects.contains(&effect) {
                effects.push(effect);
            }
        }
        effects.sort();
        Ok(Self { effects })
    }

    pub fn is_none(&self) -> bool {
        self.effects.is_empty()
    }

    /// The settings' name as `parse` reads it.
    pub fn name(&self) -> String {
        match self.effects.len() {
            0 => "none".into(),
            n if n == Effect::ALL.len() => "all".into(),
            _ => self
                .effects
                .iter()
                .map(|e| e.name())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// The effects for one clip. Every effect's draws are made whether or not it is enabled, so
    /// the others come out the same in corpora that differ in which effects they enable.
    pub fn draw(&self, rng: &mut Rng) -> Drawn {
        let mut drawn = Drawn::default();
        for effect in Effect::ALL {
            let applies = rng.unit() < effect.probability();
            let mut own = Rng::new(rng.next_u64());
            if !(applies && self.effects.contains(&effect)) {
                continue;
            }
            match effect {
                Effect::Speed => drawn.speed = Some(0.85 + 0.025 * own.below(13) as f32),
                Effect::Formant => drawn.formant = Some(own.uniform(0.84, 1.2)),
                Effect::Room => drawn.room = Some(Room::draw(&mut own)),
                Effect::Microphone => drawn.microphone = Some(Microphone::draw(&mut own)),
                Effect::Clipping => drawn.clipping_db = Some(own.uniform(3.0, 15.0)),
            }
        }
        drawn
    }
}

/// Written as its name (`all`, `none`, `speed,room`), as the command line takes it.
impl Serialize for Augmentation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Augmentation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// The effects drawn for one clip.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Drawn {
    pub speed: Option<f32>,
    pub formant: Option<f32>,
    pub room: Option<Room>,
    pub microphone: Option<Microphone>,
    pub clipping_db: Option<f32>,
}

/// A spoken word after the effects on the speaker and the room.
pub struct Voiced {
    pub samples: Vec<f32>,
    /// Samples of direct sound: the word's window ends here; a room's tail may ring after it.
    pub spoken: usize,
}

impl Drawn {
    /// The effects that reach a clip without a word (a silence clip): the microphone's and the
    /// input stage's; there is no speaker for the others to change.
    pub fn without_speaker(self) -> Self {
        Self {
            speed: None,
            formant: None,
            room: None,
            ..self
        }
    }

    /// Whether `effect` was drawn for this clip.
    pub fn applies(&self, effect: Effect) -> bool {
        match effect {
            Effect::Speed => self.speed.is_some(),
            Effect::Formant => self.formant.is_some(),
            Effect::Room => self.room.is_some(),
            Effect::Microphone => self.microphone.is_some(),
            Effect::Clipping => self.clipping_db.is_some(),
        }
    }

    /// The manifest's `effects` column: what was applied, e.g. `speed=1.05;room=0.42`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(speed) = self.speed {
            parts.push(format!("speed={speed:.3}"));
        }
        if let Some(formant) = self.formant {
            parts.push(format!("formant={formant:.3}"));
        }
        if let Some(room) = &self.room {
            parts.push(format!("room={:.2}", room.rt60_s));
        }
        if let Some(mic) = &self.microphone {
            parts.push(format!("mic={}", mic.name()));
        }
        if let Some(db) = self.clipping_db {
            parts.push(format!("clip={db:.1}"));
        }
        parts.join(";")
    }

    /// The speaker's and the room's effects on a word (16 kHz).
    pub fn voice(&self, word: &[f32]) -> Voiced {
        let mut samples = word.to_vec();
        if let Some(speed) = self.speed {
            samples = change_speed(&samples, speed);
        }
        if let Some(alpha) = self.formant {
            samples = warp_formants(&samples, alpha);
        }
        let spoken = samples.len();
        if let Some(room) = &self.room {
            samples = room.apply(&samples);
        }
        Voiced { samples, spoken }
    }

    /// Every drawn effect on a finished clip (the word and its background together), the
    /// clip's length kept: sped up, it is mirrored out at both ends; slowed down, its middle is
    /// kept; a room's tail past its end is dropped. For effects drawn afresh at each training
    /// step, on top of those a corpus was made with.
    pub fn apply_to_clip(&self, clip: &[f32]) -> Vec<f32> {
        let mut samples = match self.speed {
            Some(speed) => fit_length(&change_speed(clip, speed), clip.len()),
            None => clip.to_vec(),
        };
        if let Some(alpha) = self.formant {
            samples = warp_formants(&samples, alpha);
        }
        if let Some(room) = &self.room {
            samples = room.apply(&samples);
            samples.truncate(clip.len());
        }
        self.record(&mut samples);
        samples
    }

    /// The microphone's and the input stage's effects on the finished mix.
    pub fn record(&self, mix: &mut [f32]) {
        if let Some(mic) = &self.microphone {
            mic.apply(mix);
        }
        if let Some(db) = self.clipping_db {
            clip(mix, db);
        }
    }
}

/// Resampled as if played `speed` times faster: tempo, pitch and formants all scale by it.
pub fn change_speed(samples: &[f32], speed: f32) -> Vec<f32> {
    // Rates on a 400 Hz grid keep the resampler's FFTs short.
    let from = ((MODEL_SAMPLE_RATE as f32 * speed / 400.0).round() as u32).max(1) * 400;
    resample(samples, from, MODEL_SAMPLE_RATE).unwrap_or_else(|_| samples.to_vec())
}

/// `samples` made `len` long around their middle: cut at both ends, or mirrored out at both
/// ends (a mirror keeps a background continuous where zeros would mark the edit).
fn fit_length(samples: &[f32], len: usize) -> Vec<f32> {
    let n = samples.len();
    if n >= len {
        let start = (n - len) / 2;
        return samples[start..start + len].to_vec();
    }
    if n == 0 {
        return vec![0.0; len];
    }
    let left = ((len - n) / 2) as isize;
    (0..len as isize)
        .map(|i| samples[mirrored(i - left, n)])
        .collect()
}

/// Index `i` of a signal of `n` samples extended by mirroring about its first and last sample.
fn mirrored(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let j = i.rem_euclid(period);
    (if j < n as isize { j } else { period - j }) as usize
}

/// Short-time frames of the formant warp: 32 ms, hopped by a quarter.
const WARP_FRAME: usize = 512;
const WARP_HOP: usize = WARP_FRAME / 4;
/// Cepstral coefficients kept for the envelope: below 1.5 ms of quefrency, shorter than the
/// pitch period of any voice (2.5 ms at 400 Hz), so the envelope holds formants, not harmonics.
const LIFTER: usize = 24;
/// The most the warp may raise or lower one bin, in natural-log amplitude (±35 dB).
const MAX_LOG_GAIN: f32 = 4.0;

/// The spectral envelope moved along frequency by `alpha` (> 1 raises the formants) while the
/// harmonics, and so the pitch, stay where they are: each frame's cepstrally smoothed envelope
/// E(f) is replaced by E(f / alpha). The level is kept.
pub fn warp_formants(samples: &[f32], alpha: f32) -> Vec<f32> {
    if samples.is_empty() || !(alpha.is_finite() && alpha > 0.0) {
        return samples.to_vec();
    }
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(WARP_FRAME);
    let inverse = planner.plan_fft_inverse(WARP_FRAME);
    let window: Vec<f32> = (0..WARP_FRAME)
        .map(|n| 0.5 - 0.5 * (std::f32::consts::TAU * n as f32 / WARP_FRAME as f32).cos())
        .collect();
    let bins = WARP_FRAME / 2 + 1;
    // Pad so every sample is covered by full frames on both sides.
    let padded_len = samples.len() + 2 * WARP_FRAME;
    let mut padded = vec![0f32; padded_len];
    padded[WARP_FRAME..WARP_FRAME + samples.len()].copy_from_slice(samples);
    let mut out = vec![0f32; padded_len];
    let mut norm = vec![0f32; padded_len];
    let mut frame = forward.make_input_vec();
    let mut spectrum = forward.make_output_vec();
    let mut cepstrum = inverse.make_output_vec();
    let mut log_spectrum = inverse.make_input_vec();
    let mut envelope = vec![0f32; bins];
    let mut start = 0;
    while start + WARP_FRAME <= padded_len {
        for ((slot, x), w) in frame
            .iter_mut()
            .zip(&padded[start..start + WARP_FRAME])
            .zip(&window)
        {
            *slot = x * w;
        }
        if forward.process(&mut frame, &mut spectrum).is_err() {
            return samples.to_vec();
        }
        for (slot, bin) in log_spectrum.iter_mut().zip(&spectrum) {
            *slot = Complex32::new((bin.norm() + 1e-6).ln(), 0.0);
        }
        if inverse.process(&mut log_spectrum, &mut cepstrum).is_err() {
            return samples.to_vec();
        }
        // Keep the low quefrencies (both ends of the symmetric cepstrum), scaled back from the
        // unnormalised inverse transform.
        for (q, c) in cepstrum.iter_mut().enumerate() {
            let keep = q <= LIFTER || q >= WARP_FRAME - LIFTER;
            *c = if keep { *c / WARP_FRAME as f32 } else { 0.0 };
        }
        if forward.process(&mut cepstrum, &mut log_spectrum).is_err() {
            return samples.to_vec();
        }
        for (slot, bin) in envelope.iter_mut().zip(&log_spectrum) {
            *slot = bin.re;
        }
        for (k, bin) in spectrum.iter_mut().enumerate() {
            let source = k as f32 / alpha;
            let low = (source.floor() as usize).min(bins - 1);
            let high = (low + 1).min(bins - 1);
            let t = (source - low as f32).clamp(0.0, 1.0);
            let warped = envelope[low] * (1.0 - t) + envelope[high] * t;
            let gain = (warped - envelope[k])
                .clamp(-MAX_LOG_GAIN, MAX_LOG_GAIN)
                .exp();
            *bin *= gain;
        }
        // The inverse needs real DC and Nyquist bins.
        spectrum[0].im = 0.0;
        spectrum[bins - 1].im = 0.0;
        if inverse.process(&mut spectrum, &mut frame).is_err() {
            return samples.to_vec();
        }
        for (n, value) in frame.iter().enumerate() {
            out[start + n] += value / WARP_FRAME as f32 * window[n];
            norm[start + n] += window[n] * window[n];
        }
        start += WARP_HOP;
    }
    let mut warped: Vec<f32> = out[WARP_FRAME..WARP_FRAME + samples.len()]
        .iter()
        .zip(&norm[WARP_FRAME..WARP_FRAME + samples.len()])
        .map(|(v, n)| if *n > 1e-3 { v / n } else { 0.0 })
        .collect();
    let (before, after) = (rms(samples), rms(&warped));
    if after > 0.0 {
        warped.iter_mut().for_each(|v| *v *= before / after);
    }
    warped
}

/// A synthetic room's impulse response, drawn from its reverberation time.
#[derive(Clone, Debug, PartialEq)]
pub struct Room {
    /// Time for the diffuse tail to decay by 60 dB.
    pub rt60_s: f32,
    /// Direct sound over the reverberant energy, in dB.
    pub direct_db: f32,
    /// Seed of the tail's noise and the reflections' delays.
    pub seed: u64,
}

/// The longest tail kept after a word: long enough to hear the room, short enough to stay
/// within the clip's free space.
const ROOM_TAIL_S: f32 = 0.3;

impl Room {
    fn draw(rng: &mut Rng) -> Self {
        Self {
            rt60_s: rng.uniform(0.15, 0.8),
            direct_db: rng.uniform(-3.0, 12.0),
            seed: rng.next_u64(),
        }
    }

    /// The impulse response: a unit direct path, five early reflections in the first 40 ms, and
    /// noise decaying by 60 dB over `rt60_s` (its high band faster, as air and walls absorb
    /// highs), scaled to the drawn direct-to-reverberant ratio.
    pub fn impulse_response(&self) -> Vec<f32> {
        let rate = MODEL_SAMPLE_RATE as f32;
        let length = ((self.rt60_s * rate) as usize).clamp(16, MODEL_SAMPLE_RATE as usize);
        let mut rng = Rng::new(self.seed);
        let mut low = 0f32;
        let mut tail: Vec<f32> = (0..length)
            .map(|n| {
                let t = n as f32 / rate;
                let white = rng.normal();
                low = 0.8 * low + 0.2 * white;
                let high = white - low;
                let decay = |rt60: f32| (-6.908 * t / rt60).exp();
                low * decay(self.rt60_s) + high * decay(0.6 * self.rt60_s)
            })
            .collect();
        for _ in 0..5 {
            let at = (rng.uniform(0.002, 0.04) * rate) as usize;
            if let Some(slot) = tail.get_mut(at) {
                *slot += rng.uniform(-0.6, 0.6) * rng.uniform(0.5, 1.0) * 8.0;
            }
        }
        let energy: f32 = tail.iter().map(|v| v * v).sum();
        let wanted = 10f32.powf(-self.direct_db / 10.0);
        let scale = if energy > 0.0 {
            (wanted / energy).sqrt()
        } else {
            0.0
        };
        tail.iter_mut().for_each(|v| *v *= scale);
        tail[0] += 1.0;
        tail
    }

    /// The word in the room: convolved with the response, its tail cut to `ROOM_TAIL_S` with a
    /// fade, at the dry word's level.
    pub fn apply(&self, word: &[f32]) -> Vec<f32> {
        if word.is_empty() {
            return Vec::new();
        }
        let response = self.impulse_response();
        let mut wet = convolve(word, &response);
        let keep = (word.len() + (ROOM_TAIL_S * MODEL_SAMPLE_RATE as f32) as usize).min(wet.len());
        wet.truncate(keep);
        let fade = (MODEL_SAMPLE_RATE as usize / 50).min(keep);
        for (i, v) in wet[keep - fade..].iter_mut().enumerate() {
            *v *= 1.0 - i as f32 / fade as f32;
        }
        let (dry, level) = (rms(word), rms(&wet[..word.len()]));
        if level > 0.0 {
            wet.iter_mut().for_each(|v| *v *= dry / level);
        }
        wet
    }
}

/// Linear convolution through one FFT.
fn convolve(signal: &[f32], response: &[f32]) -> Vec<f32> {
    let length = signal.len() + response.len() - 1;
    let size = length.next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let spectrum_of = |x: &[f32]| {
        let mut input = forward.make_input_vec();
        input[..x.len()].copy_from_slice(x);
        let mut out = forward.make_output_vec();
        forward.process(&mut input, &mut out).map(|_| out)
    };
    let (Ok(a), Ok(b)) = (spectrum_of(signal), spectrum_of(response)) else {
        return signal.to_vec();
    };
    let mut product: Vec<Complex32> = a.iter().zip(&b).map(|(x, y)| x * y).collect();
    let mut out = inverse.make_output_vec();
    if inverse.process(&mut product, &mut out).is_err() {
        return signal.to_vec();
    }
    out.truncate(length);
    out.iter_mut().for_each(|v| *v /= size as f32);
    out
}

/// A microphone's frequency response.
#[derive(Clone, Debug, PartialEq)]
pub enum Microphone {
    /// A phone call's band, 300–3400 Hz, with a presence bump.
    Phone { bump_hz: f32, bump_db: f32 },
    /// A laptop's small capsule: little bass, a bright peak, highs rolled off.
    Laptop {
        low_hz: f32,
        high_hz: f32,
        peak_hz: f32,
        peak_db: f32,
    },
    /// Three peaks or dips anywhere in the speech band.
    Equaliser { bands: [(f32, f32, f32); 3] },
}

impl Microphone {
    fn draw(rng: &mut Rng) -> Self {
        match rng.below(3) {
            0 => Microphone::Phone {
                bump_hz: rng.uniform(1000.0, 3000.0),
                bump_db: rng.uniform(-3.0, 6.0),
            },
            1 => Microphone::Laptop {
                low_hz: rng.uniform(150.0, 300.0),
                high_hz: rng.uniform(5000.0, 7500.0),
                peak_hz: rng.uniform(2000.0, 5000.0),
                peak_db: rng.uniform(3.0, 9.0),
            },
            _ => Microphone::Equaliser {
                bands: [(); 3].map(|_| {
                    (
                        200.0 * 30f32.powf(rng.unit()),
                        rng.uniform(-9.0, 9.0),
                        rng.uniform(0.7, 2.5),
                    )
                }),
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Microphone::Phone { .. } => "phone",
            Microphone::Laptop { .. } => "laptop",
            Microphone::Equaliser { .. } => "eq",
        }
    }

    /// The filters in order, each run over the whole signal.
    fn filters(&self) -> Vec<Biquad> {
        match *self {
            Microphone::Phone { bump_hz, bump_db } => vec![
                Biquad::high_pass(300.0),
                Biquad::high_pass(300.0),
                Biquad::low_pass(3400.0),
                Biquad::low_pass(3400.0),
                Biquad::peak(bump_hz, bump_db, 1.0),
            ],
            Microphone::Laptop {
                low_hz,
                high_hz,
                peak_hz,
                peak_db,
            } => vec![
                Biquad::high_pass(low_hz),
                Biquad::low_pass(high_hz),
                Biquad::low_pass(high_hz),
                Biquad::peak(peak_hz, peak_db, 1.5),
            ],
            Microphone::Equaliser { bands } => bands
                .iter()
                .map(|(hz, db, q)| Biquad::peak(*hz, *db, *q))
                .collect(),
        }
    }

    /// Filters `samples` in place, keeping their level.
    pub fn apply(&self, samples: &mut [f32]) {
        let before = rms(samples);
        for filter in self.filters() {
            filter.run(samples);
        }
        let after = rms(samples);
        if after > 0.0 && after.is_finite() {
            samples.iter_mut().for_each(|v| *v *= before / after);
        }
    }
}

/// A second-order section (the audio-EQ cookbook's forms), normalised so a0 = 1.
#[derive(Clone, Copy, Debug)]
struct Biquad {
    b: [f32; 3],
    a: [f32; 2],
}

impl Biquad {
    fn angle(hz: f32) -> (f32, f32) {
        let w = std::f32::consts::TAU * hz.min(0.49 * MODEL_SAMPLE_RATE as f32)
            / MODEL_SAMPLE_RATE as f32;
        (w.cos(), w.sin())
    }

    fn normalised(b: [f32; 3], a: [f32; 3]) -> Self {
        Self {
            b: b.map(|v| v / a[0]),
            a: [a[1] / a[0], a[2] / a[0]],
        }
    }

    fn low_pass(hz: f32) -> Self {
        let (cos, sin) = Self::angle(hz);
        let alpha = sin / (2.0 * std::f32::consts::FRAC_1_SQRT_2);
        let b1 = 1.0 - cos;
        Self::normalised(
            [b1 / 2.0, b1, b1 / 2.0],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        )
    }

    fn high_pass(hz: f32) -> Self {
        let (cos, sin) = Self::angle(hz);
        let alpha = sin / (2.0 * std::f32::consts::FRAC_1_SQRT_2);
        let b1 = 1.0 + cos;
        Self::normalised(
            [b1 / 2.0, -b1, b1 / 2.0],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        )
    }

    fn peak(hz: f32, db: f32, q: f32) -> Self {
        let (cos, sin) = Self::angle(hz);
        let alpha = sin / (2.0 * q);
        let a = 10f32.powf(db / 40.0);
        Self::normalised(
            [1.0 + alpha * a, -2.0 * cos, 1.0 - alpha * a],
            [1.0 + alpha / a, -2.0 * cos, 1.0 - alpha / a],
        )
    }

    /// Direct form I over the signal, in place.
    fn run(&self, samples: &mut [f32]) {
        let (mut x1, mut x2, mut y1, mut y2) = (0f32, 0f32, 0f32, 0f32);
        for v in samples.iter_mut() {
            let x = *v;
            let y =
                self.b[0] * x + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
            (x2, x1, y2, y1) = (x1, x, y1, y);
            *v = y;
        }
    }
}

/// Overdrive by `drive_db` into a hard limit at the signal's former peak, then back to its former
/// level: the flattened tops of an input stage turned up too far.
pub fn clip(samples: &mut [f32], drive_db: f32) {
    let peak = samples.iter().fold(0f32, |m, v| m.max(v.abs()));
    let level = rms(samples);
    if peak <= 0.0 {
        return;
    }
    let gain = 10f32.powf(drive_db / 20.0);
    samples
        .iter_mut()
        .for_each(|v| *v = (*v * gain).clamp(-peak, peak));
    let after = rms(samples);
    if after > 0.0 {
        samples.iter_mut().for_each(|v| *v *= level / after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, seconds: f32) -> Vec<f32> {
        (0..(seconds * MODEL_SAMPLE_RATE as f32) as usize)
            .map(|n| 0.3 * (std::f32::consts::TAU * hz * n as f32 / MODEL_SAMPLE_RATE as f32).sin())
            .collect()
    }

    /// Each bin's power and its frequency in Hz, from a zero-padded FFT.
    fn power_spectrum(x: &[f32]) -> Vec<(f32, f32)> {
        let size = x.len().next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(size);
        let mut input = fft.make_input_vec();
        input[..x.len()].copy_from_slice(x);
        let mut out = fft.make_output_vec();
        fft.process(&mut input, &mut out).unwrap();
        out.iter()
            .enumerate()
            .map(|(k, bin)| {
                (
                    k as f32 * MODEL_SAMPLE_RATE as f32 / size as f32,
                    bin.norm_sqr(),
                )
            })
            .collect()
    }

    /// Energy-weighted mean frequency of a signal.
    fn centroid(x: &[f32]) -> f32 {
        let spectrum = power_spectrum(x);
        let total: f32 = spectrum.iter().map(|(_, p)| p).sum();
        spectrum.iter().map(|(hz, p)| hz * p).sum::<f32>() / total
    }

    /// Frequency of the strongest bin.
    fn peak_hz(x: &[f32]) -> f32 {
        power_spectrum(x)
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0.0, |(hz, _)| hz)
    }

    /// A vowel-like buzz: a 120 Hz pulse train through two all-pole formant resonators (700 and
    /// 1800 Hz), so nearly all its energy lies in the formants.
    fn vowel(seconds: f32) -> Vec<f32> {
        let n = (seconds * MODEL_SAMPLE_RATE as f32) as usize;
        let mut x: Vec<f32> = (0..n)
            .map(|i| if i % 133 == 0 { 1.0 } else { 0.0 })
            .collect();
        for hz in [700f32, 1800.0] {
            let radius = 0.97f32;
            let theta = std::f32::consts::TAU * hz / MODEL_SAMPLE_RATE as f32;
            let (a1, a2) = (2.0 * radius * theta.cos(), -radius * radius);
            let (mut y1, mut y2) = (0f32, 0f32);
            for v in x.iter_mut() {
                let y = *v + a1 * y1 + a2 * y2;
                (y2, y1) = (y1, y);
                *v = y;
            }
        }
        let level = rms(&x);
        x.iter_mut().for_each(|v| *v *= 0.1 / level);
        x
    }

    #[test]
    fn speed_scales_duration_and_pitch_together() {
        let x = tone(500.0, 1.0);
        let faster = change_speed(&x, 1.1);
        assert!(
            (faster.len() as f32 - 16_000.0 / 1.1).abs() < 2.0,
            "{}",
            faster.len()
        );
        assert!(
            (peak_hz(&faster) - 550.0).abs() < 5.0,
            "{}",
            peak_hz(&faster)
        );
    }

    #[test]
    fn a_formant_warp_moves_the_envelope_and_keeps_pitch_length_and_level() {
        let x = vowel(1.0);
        for alpha in [0.85f32, 1.18] {
            let warped = warp_formants(&x, alpha);
            assert_eq!(warped.len(), x.len());
            assert!((rms(&warped) - rms(&x)).abs() < 1e-3 * rms(&x).max(1e-6) + 1e-6);
            let ratio = centroid(&warped) / centroid(&x);
            assert!(
                (ratio - alpha).abs() < 0.5 * (alpha - 1.0).abs(),
                "alpha {alpha}: centroid moved by {ratio}"
            );
            // The harmonics stay on the 120 Hz grid: the pulse period is unchanged.
            let lag_energy = |lag: usize| -> f32 {
                warped[..warped.len() - lag]
                    .iter()
                    .zip(&warped[lag..])
                    .map(|(a, b)| a * b)
                    .sum()
            };
            let best = (100..170).max_by(|a, b| lag_energy(*a).total_cmp(&lag_energy(*b)));
            assert_eq!(best, Some(133), "alpha {alpha}");
        }
        assert_eq!(warp_formants(&x, 1.0).len(), x.len());
    }

    #[test]
    fn a_room_rings_on_after_the_word_and_decays() {
        let room = Room {
            rt60_s: 0.5,
            direct_db: 0.0,
            seed: 4,
        };
        let response = room.impulse_response();
        assert_eq!(response.len(), 8000);
        let energy = |s: &[f32]| s.iter().map(|v| v * v).sum::<f32>();
        // 60 dB over the RT60: the second half of the tail holds far less than the first.
        let (first, second) = response[1..].split_at(4000);
        assert!(energy(second) < 0.01 * energy(first));
        let word = tone(300.0, 0.5);
        let wet = room.apply(&word);
        assert_eq!(wet.len(), 8000 + 4800);
        assert!(rms(&wet[8000..9600]) > 0.05 * rms(&word), "no tail");
        assert!(wet.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn a_phone_keeps_the_voice_band_and_cuts_outside_it() {
        let mic = Microphone::Phone {
            bump_hz: 2000.0,
            bump_db: 0.0,
        };
        let gain = |hz: f32| {
            let mut x = tone(hz, 0.5);
            let before = rms(&x);
            for filter in mic.filters() {
                filter.run(&mut x);
            }
            rms(&x[2000..]) / before
        };
        assert!(gain(1000.0) > 0.8, "{}", gain(1000.0));
        assert!(gain(100.0) < 0.1, "{}", gain(100.0));
        assert!(gain(6000.0) < 0.1, "{}", gain(6000.0));
    }

    #[test]
    fn clipping_flattens_the_peaks_at_the_same_level() {
        let mut x = tone(200.0, 0.2);
        let (peak, level) = (0.3, rms(&x));
        clip(&mut x, 12.0);
        assert!((rms(&x) - level).abs() < 1e-4);
        let near_peak = x
            .iter()
            .filter(|v| v.abs() > 0.95 * x[0..800].iter().fold(0f32, |m, v| m.max(v.abs())))
            .count();
        assert!(near_peak > x.len() / 3, "{near_peak} of {}", x.len());
        assert!(x.iter().all(|v| v.abs() <= peak));
    }

    #[test]
    fn effects_switched_off_leave_the_others_as_drawn() {
        let all = Augmentation::all();
        let some = Augmentation::parse("room,speed").unwrap();
        assert_eq!(some.name(), "speed,room");
        for seed in 0..50 {
            let a = all.draw(&mut Rng::new(seed));
            let b = some.draw(&mut Rng::new(seed));
            assert_eq!(a.speed, b.speed);
            assert_eq!(a.room, b.room);
            assert_eq!(b.formant, None);
            assert_eq!(b.microphone, None);
        }
        assert_eq!(
            Augmentation::none().draw(&mut Rng::new(1)),
            Drawn::default()
        );
        assert!(Augmentation::parse("speed,echo").is_err());
        assert_eq!(Augmentation::parse("all"), Ok(Augmentation::all()));
    }

    #[test]
    fn every_effect_is_drawn_near_its_share() {
        let draws: Vec<Drawn> = (0..2000)
            .map(|seed| Augmentation::all().draw(&mut Rng::new(seed)))
            .collect();
        for effect in Effect::ALL {
            let prefix = format!("{}=", effect.name());
            let described = draws
                .iter()
                .filter(|d| d.describe().contains(&prefix))
                .count();
            let share = draws.iter().filter(|d| d.applies(effect)).count() as f32 / 2000.0;
            assert_eq!(described as f32 / 2000.0, share, "{effect:?}");
            assert!(
                (share - effect.probability()).abs() < 0.05,
                "{effect:?}: {share}"
            );
        }
        for drawn in draws.iter().take(200) {
            let voiced = drawn.voice(&vowel(0.4));
            assert!(voiced.spoken <= voiced.samples.len());
            assert!(voiced.samples.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn a_clip_keeps_its_length_and_its_middle_through_a_change_of_length() {
        let clip: Vec<f32> = (0..10).map(|v| v as f32).collect();
        assert_eq!(fit_length(&clip, 6), vec![2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(
            fit_length(&clip, 14),
            vec![
                2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 8.0, 7.0
            ]
        );
        // Far longer than the clip: the mirror folds back and forth.
        assert_eq!(fit_length(&[1.0, 2.0], 5), vec![2.0, 1.0, 2.0, 1.0, 2.0]);
        assert_eq!(fit_length(&[3.0], 3), vec![3.0; 3]);
        assert_eq!(fit_length(&[], 2), vec![0.0; 2]);
    }

    #[test]
    fn effects_on_a_finished_clip_keep_its_length_and_do_nothing_when_none_is_drawn() {
        let clip = vowel(1.0);
        assert_eq!(Drawn::default().apply_to_clip(&clip), clip);
        let mut changed = 0;
        for seed in 0..40 {
            let drawn = Augmentation::all().draw(&mut Rng::new(seed));
            let out = drawn.apply_to_clip(&clip);
            assert_eq!(out.len(), clip.len(), "{}", drawn.describe());
            assert!(out.iter().all(|v| v.is_finite()), "{}", drawn.describe());
            changed += usize::from(out != clip);
            // Clips shorter than any frame of the effects come back as long as they went in.
            assert_eq!(drawn.apply_to_clip(&clip[..3]).len(), 3);
            assert!(drawn.apply_to_clip(&[]).is_empty());
        }
        assert!(changed > 30, "only {changed} of 40 clips changed");
        let sped_up = Drawn {
            speed: Some(1.15),
            ..Drawn::default()
        };
        let slowed = Drawn {
            speed: Some(0.85),
            ..Drawn::default()
        };
        for drawn in [sped_up, slowed] {
            let out = drawn.apply_to_clip(&clip);
            // The pitch moves with the speed: the vowel's tone at 1.15 or 0.85 times its own.
            let ratio = centroid(&out) / centroid(&clip);
            let speed = drawn.speed.unwrap();
            assert!((ratio - speed).abs() < 0.05, "speed {speed}: ratio {ratio}");
        }
    }

    #[test]
    fn settings_are_written_as_their_name() {
        for text in ["all", "none", "room,speed"] {
            let augmentation = Augmentation::parse(text).unwrap();
            let json = serde_json::to_string(&augmentation).unwrap();
            assert_eq!(json, format!("\"{}\"", augmentation.name()));
            let back: Augmentation = serde_json::from_str(&json).unwrap();
            assert_eq!(back, augmentation);
        }
        assert!(serde_json::from_str::<Augmentation>("\"echo\"").is_err());
    }
}
