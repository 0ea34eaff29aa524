use super::MODEL_SAMPLE_RATE;
use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::sync::Arc;
use thiserror::Error;

/// How frequencies map to mels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelScale {
    /// `2595 · log10(1 + f / 700)`, as in HTK and TensorFlow's keyword-spotting front end.
    Htk,
    /// Linear below 1 kHz and logarithmic above (Slaney's Auditory Toolbox, librosa's default).
    Slaney,
}

/// How each mel filter is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelNorm {
    /// Triangles of peak 1.
    None,
    /// Triangles of equal area (librosa's `norm="slaney"`).
    Slaney,
}

/// Which features a model reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeatureKind {
    #[default]
    Mfcc,
    LogMel,
}

/// The students' front end. Defaults follow the paper's keyword-spotting setting: 16 kHz, 40 ms
/// Hann window, 20 ms hop, 40 mel bins between 20 and 7600 Hz, 20 MFCC.
///
/// Framing follows librosa with `center=False`: frame `i` covers samples
/// `[i·hop, i·hop + n_fft)` and the window of `win_length` samples sits in its middle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureConfig {
    pub sample_rate: u32,
    pub win_length: usize,
    pub hop_length: usize,
    pub n_fft: usize,
    pub n_mels: usize,
    pub f_min: f32,
    pub f_max: f32,
    /// 2 for a power spectrum, 1 for magnitude.
    pub power: f32,
    pub mel_scale: MelScale,
    pub mel_norm: MelNorm,
    /// Added before the logarithm so silence stays finite.
    pub log_offset: f32,
    pub n_mfcc: usize,
    /// Each coefficient brought to zero mean and unit variance over the clip's frames (cepstral
    /// mean and variance normalisation): features of any gain, and no coefficient (MFCC's
    /// first, the log energy, spans tens of units) saturating a recurrent layer's gates.
    pub normalize: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            sample_rate: MODEL_SAMPLE_RATE,
            win_length: 640,
            hop_length: 320,
            n_fft: 640,
            n_mels: 40,
            f_min: 20.0,
            f_max: 7600.0,
            power: 2.0,
            mel_scale: MelScale::Htk,
            mel_norm: MelNorm::None,
            log_offset: 1e-6,
            n_mfcc: 20,
            normalize: false,
        }
    }
}

/// Bounds of the front end: half a second of 16 kHz audio per window, at most 1,000 frames a
/// second, at most 256 mel bands.
const MAX_FFT: usize = 8192;
const MIN_HOP: usize = 16;
const MAX_MELS: usize = 256;

impl FeatureConfig {
    /// Seconds between the starts of consecutive frames.
    pub fn frame_s(&self) -> f32 {
        self.hop_length as f32 / self.sample_rate as f32
    }

    /// Frames produced for `samples` input samples (0 when it cannot fill one frame).
    pub fn frames_for(&self, samples: usize) -> usize {
        if samples < self.n_fft || self.hop_length == 0 {
            0
        } else {
            1 + (samples - self.n_fft) / self.hop_length
        }
    }

    /// Checks the settings against what 16 kHz speech can use, before any FFT plan or filter
    /// bank is built (their size follows `n_fft`, `n_mels` and `n_mfcc`).
    pub fn validate(&self) -> Result<(), FeatureError> {
        let bad = |why: String| Err(FeatureError::Config(why));
        if self.sample_rate != MODEL_SAMPLE_RATE {
            return bad(format!(
                "sample_rate must be {MODEL_SAMPLE_RATE} (every clip is resampled to it), found {}",
                self.sample_rate
            ));
        }
        let nyquist = self.sample_rate as f32 / 2.0;
        let within = |name: &str, value: usize, range: std::ops::RangeInclusive<usize>| {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(FeatureError::Config(format!(
                    "{name} must be from {} to {}, found {value}",
                    range.start(),
                    range.end()
                )))
            }
        };
        // A window of at most half a second, frames at most 1,000 a second, and no more bands
        // than a 512-point spectrum can resolve.
        within("n_fft", self.n_fft, 16..=MAX_FFT)?;
        within("win_length", self.win_length, 16..=MAX_FFT)?;
        within("hop_length", self.hop_length, MIN_HOP..=MAX_FFT)?;
        within("n_mels", self.n_mels, 1..=MAX_MELS)?;
        within("n_mfcc", self.n_mfcc, 1..=MAX_MELS)?;
        if self.n_fft < self.win_length {
            return bad(format!(
                "n_fft ({}) must be at least win_length ({})",
                self.n_fft, self.win_length
            ));
        }
        if self.n_mels == 0 || self.n_mfcc == 0 || self.n_mfcc > self.n_mels {
            return bad(format!(
                "need 0 < n_mfcc ({}) <= n_mels ({})",
                self.n_mfcc, self.n_mels
            ));
        }
        if !(0.0 <= self.f_min && self.f_min < self.f_max && self.f_max <= nyquist) {
            return bad(format!(
                "need 0 <= f_min ({}) < f_max ({}) <= Nyquist ({nyquist})",
                self.f_min, self.f_max
            ));
        }
        if !((0.5..=4.0).contains(&self.power) && (1e-12..=1.0).contains(&self.log_offset)) {
            return bad(format!(
                "power must be from 0.5 to 4 and log_offset from 1e-12 to 1, found {} and {}",
                self.power, self.log_offset
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Error, PartialEq)]
pub enum FeatureError {
    #[error("invalid feature settings: {0}")]
    Config(String),
    #[error("FFT failed: {0}")]
    Fft(String),
    #[error("the clip has {samples} samples; one analysis frame needs {needed}")]
    TooShort { samples: usize, needed: usize },
}

/// A time × bins matrix, frame-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub frames: usize,
    pub bins: usize,
    /// Seconds from one frame to the next.
    pub frame_s: f32,
    /// Where frame 0's cell starts on the clip's time axis, in seconds: cells of `frame_s` tile
    /// the axis centred on the middle of each analysis window.
    pub start_s: f32,
    pub values: Vec<f32>,
}

impl Features {
    /// The bins of one frame; empty past the end.
    pub fn frame(&self, index: usize) -> &[f32] {
        self.values
            .chunks_exact(self.bins)
            .nth(index)
            .unwrap_or_default()
    }

    /// Start and end of frame `index`'s cell on the time axis, in seconds.
    pub fn frame_span_s(&self, index: usize) -> (f32, f32) {
        let start = self.start_s + index as f32 * self.frame_s;
        (start, start + self.frame_s)
    }

    /// The smallest and largest value (`(0, 0)` when empty), for colour scales.
    pub fn range(&self) -> (f32, f32) {
        let mut values = self.values.iter().copied();
        let first = values.next().unwrap_or(0.0);
        values.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v)))
    }
}

/// Computes log-mel spectrograms and MFCCs; plans the FFT and the filterbank once.
#[derive(Clone)]
pub struct FeatureExtractor {
    config: FeatureConfig,
    fft: Arc<dyn RealToComplex<f32>>,
    /// The window of `win_length` placed in the middle of `n_fft` zeros.
    window: Vec<f32>,
    /// `n_mels × (n_fft / 2 + 1)`, row-major.
    mel_filters: Vec<f32>,
    /// `n_mfcc × n_mels`, row-major, orthonormal DCT-II.
    dct: Vec<f32>,
}

impl FeatureExtractor {
    pub fn new(config: FeatureConfig) -> Result<Self, FeatureError> {
        config.validate()?;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(config.n_fft);
        Ok(Self {
            fft,
            window: centred_hann(config.win_length, config.n_fft),
            mel_filters: mel_filterbank(&config),
            dct: dct_ii_orthonormal(config.n_mfcc, config.n_mels),
            config,
        })
    }

    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// `ln(mel + log_offset)`, `[frames, n_mels]`.
    pub fn log_mel(&self, samples: &[f32]) -> Result<Features, FeatureError> {
        let c = &self.config;
        let frames = c.frames_for(samples.len());
        if frames == 0 {
            return Err(FeatureError::TooShort {
                samples: samples.len(),
                needed: c.n_fft,
            });
        }
        let bins = c.n_fft / 2 + 1;
        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; bins];
        let mut values = Vec::with_capacity(frames * c.n_mels);
        for start in (0..frames).map(|i| i * c.hop_length) {
            let input = &samples[start..start + c.n_fft];
            for ((x, &s), &w) in frame.iter_mut().zip(input).zip(&self.window) {
                *x = s * w;
            }
            self.fft
                .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                .map_err(|e| FeatureError::Fft(e.to_string()))?;
            for (p, z) in power.iter_mut().zip(&spectrum) {
                let magnitude_sq = z.norm_sqr();
                *p = if c.power == 2.0 {
                    magnitude_sq
                } else {
                    magnitude_sq.powf(c.power / 2.0)
                };
            }
            for filter in self.mel_filters.chunks_exact(bins) {
                let mel: f32 = filter.iter().zip(&power).map(|(w, p)| w * p).sum();
                values.push((mel + c.log_offset).ln());
            }
        }
        Ok(Features {
            frames,
            bins: c.n_mels,
            frame_s: c.frame_s(),
            start_s: (c.n_fft as f32 - c.hop_length as f32) / (2.0 * c.sample_rate as f32),
            values,
        })
    }

    /// The features of `kind`.
    pub fn extract(&self, kind: FeatureKind, samples: &[f32]) -> Result<Features, FeatureError> {
        let mut features = match kind {
            FeatureKind::Mfcc => self.mfcc(samples)?,
            FeatureKind::LogMel => self.log_mel(samples)?,
        };
        if self.config.normalize {
            normalize(&mut features);
        }
        Ok(features)
    }

    /// Orthonormal DCT-II of the log-mel spectrogram, first `n_mfcc` coefficients,
    /// `[frames, n_mfcc]`.
    pub fn mfcc(&self, samples: &[f32]) -> Result<Features, FeatureError> {
        let log_mel = self.log_mel(samples)?;
        let n_mfcc = self.config.n_mfcc;
        let mut values = Vec::with_capacity(log_mel.frames * n_mfcc);
        for frame in log_mel.values.chunks_exact(log_mel.bins) {
            for basis in self.dct.chunks_exact(log_mel.bins) {
                values.push(basis.iter().zip(frame).map(|(b, x)| b * x).sum());
            }
        }
        Ok(Features {
            values,
            bins: n_mfcc,
            ..log_mel
        })
    }
}

/// Zero mean and unit variance for each bin over the frames; a bin that does not vary becomes
/// zero.
fn normalize(features: &mut Features) {
    let (frames, bins) = (features.frames, features.bins);
    if frames == 0 {
        return;
    }
    for bin in 0..bins {
        let column = || features.values.iter().skip(bin).step_by(bins);
        let mean = column().map(|v| *v as f64).sum::<f64>() / frames as f64;
        let variance = column().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / frames as f64;
        let scale = 1.0 / (variance + 1e-10).sqrt();
        for value in features.values.iter_mut().skip(bin).step_by(bins) {
            *value = ((*value as f64 - mean) * scale) as f32;
        }
    }
}

/// Periodic Hann window (as `scipy.signal.get_window("hann", n)`), centred in `n_fft` samples.
fn centred_hann(win_length: usize, n_fft: usize) -> Vec<f32> {
    let offset = (n_fft - win_length) / 2;
    let mut window = vec![0.0f32; n_fft];
    for (n, w) in window[offset..offset + win_length].iter_mut().enumerate() {
        *w = (0.5 - 0.5 * (2.0 * PI * n as f64 / win_length as f64).cos()) as f32;
    }
    window
}

fn hz_to_mel(hz: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + hz / 700.0).log10(),
        MelScale::Slaney => {
            let (f_sp, min_log_hz, logstep) = slaney_constants();
            if hz >= min_log_hz {
                min_log_hz / f_sp + (hz / min_log_hz).ln() / logstep
            } else {
                hz / f_sp
            }
        }
    }
}

fn mel_to_hz(mel: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(mel / 2595.0) - 1.0),
        MelScale::Slaney => {
            let (f_sp, min_log_hz, logstep) = slaney_constants();
            let min_log_mel = min_log_hz / f_sp;
            if mel >= min_log_mel {
                min_log_hz * (logstep * (mel - min_log_mel)).exp()
            } else {
                mel * f_sp
            }
        }
    }
}

/// Hz per mel in the linear part, where the log part starts, and its step.
fn slaney_constants() -> (f64, f64, f64) {
    (200.0 / 3.0, 1000.0, 6.4f64.ln() / 27.0)
}

/// Triangular filters between `n_mels + 2` points equally spaced in mel, evaluated at the FFT
/// bin frequencies (the construction of `librosa.filters.mel`).
fn mel_filterbank(c: &FeatureConfig) -> Vec<f32> {
    let bins = c.n_fft / 2 + 1;
    let mel_lo = hz_to_mel(c.f_min as f64, c.mel_scale);
    let mel_hi = hz_to_mel(c.f_max as f64, c.mel_scale);
    let edges: Vec<f64> = (0..c.n_mels + 2)
        .map(|i| {
            let mel = mel_lo + (mel_hi - mel_lo) * i as f64 / (c.n_mels + 1) as f64;
            mel_to_hz(mel, c.mel_scale)
        })
        .collect();
    let bin_hz = |k: usize| k as f64 * c.sample_rate as f64 / c.n_fft as f64;
    let mut filters = Vec::with_capacity(c.n_mels * bins);
    for ((&lo, &centre), &hi) in edges.iter().zip(&edges[1..]).zip(&edges[2..]) {
        let scale = match c.mel_norm {
            MelNorm::None => 1.0,
            MelNorm::Slaney => 2.0 / (hi - lo),
        };
        filters.extend((0..bins).map(|k| {
            let f = bin_hz(k);
            let rising = (f - lo) / (centre - lo);
            let falling = (hi - f) / (hi - centre);
            (rising.min(falling).max(0.0) * scale) as f32
        }));
    }
    filters
}

fn dct_ii_orthonormal(n_out: usize, n_in: usize) -> Vec<f32> {
    let mut basis = Vec::with_capacity(n_out * n_in);
    for k in 0..n_out {
        let scale = if k == 0 {
            (1.0 / n_in as f64).sqrt()
        } else {
            (2.0 / n_in as f64).sqrt()
        };
        basis.extend((0..n_in).map(|n| {
            (scale * (PI * k as f64 * (2 * n + 1) as f64 / (2 * n_in) as f64).cos()) as f32
        }));
    }
    basis
}
