//! The messages between the page and the model worker. The worker owns every model; the page
//! sends audio and settings and gets back what each model says, one model at a time.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
pub use tempokd::data::stream_mix::CalibrationStreams;
use tempokd::device::Placement;
pub use tempokd::export::Precision;
pub use tempokd::export::card::DeploymentCost;
use tempokd::kd::{self, RolloutConfig};
pub use tempokd::kd::{CheckOutcome, KeyedMaps, Verdict};
pub use tempokd::model::{ModelKind, TeacherAttention, TimeMap};
pub use tempokd::stream::calibrate::{CalibrationSettings, ModelCalibration};
pub use tempokd::stream::{Cadence, ListenSettings, WindowReading};

/// The largest model file (weights or config) the page reads, fetched or picked: wav2vec 2.0
/// base's weights fit; a larger file would need several times its size in the tab's memory.
pub const MAX_MODEL_FILE_BYTES: u64 = 512 << 20;

/// Why `file`, of `bytes`, is not loaded.
pub fn too_large(file: &str, bytes: u64) -> String {
    format!(
        "{file} is {} MB; this page loads model files of at most {} MB.",
        bytes >> 20,
        MAX_MODEL_FILE_BYTES >> 20
    )
}

/// A model the page wants loaded: its name on screen and where its files are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSource {
    pub name: String,
    pub kind: ModelKind,
    pub files: ModelFiles,
}

/// Where a model's files come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ModelFiles {
    /// A folder URL ending in `/`, relative to the page or absolute, holding `config.json`,
    /// `model.safetensors` and, for a teacher, optionally `preprocessor_config.json`.
    Folder(String),
    /// Files the visitor picked, already read.
    Picked {
        config: String,
        #[serde(with = "serde_bytes")]
        weights: Vec<u8>,
        preprocessor: Option<String>,
    },
}

/// What the page asks of the model worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Broadcast a panic on the channel named `channel`, as worker number `worker`; sent first.
    ReportPanics { channel: String, worker: u32 },
    /// Pick the device (WebGPU, or the CPU when `cpu_reason` says why not) and load these
    /// models; once the device is chosen, later loads keep it.
    Load {
        models: Vec<ModelSource>,
        cpu_reason: Option<String>,
    },
    /// Run every loaded model (or only those named) on a 16 kHz mono clip. A newer run replaces
    /// an older one.
    Analyse {
        run: u64,
        samples: Vec<f32>,
        only: Option<Vec<String>>,
    },
    /// Stop run `run` before its next model.
    Cancel { run: u64 },
    /// Listen to a live stream with these models (those that load), each at its cadence, as
    /// session `session`; ends any session before it.
    Listen {
        session: u64,
        settings: ListenSettings,
        models: Vec<LiveModel>,
        /// Drop the windows read every hop that fall more than [`MAX_LAG_S`] behind the stream
        /// (a microphone); without it every window is read however late (a recording played).
        keep_up: bool,
    },
    /// The next chunk of session `session`'s stream, 16 kHz mono.
    Hear { session: u64, chunk: Vec<f32> },
    /// End session `session`: jobs not yet read are dropped.
    StopListening { session: u64 },
    /// Measure how often the models miss a keyword or hear one nobody said (see
    /// [`CalibrateRequest`]); a newer calibration replaces an older one.
    Calibrate(Box<CalibrateRequest>),
    /// Stop calibration `run` before its next chunk.
    StopCalibrating { run: u64 },
    /// Write this student as an ONNX model (fetched or as picked, built on the CPU apart from
    /// the loaded models, so nothing on screen changes).
    ExportOnnx {
        source: ModelSource,
        precision: Precision,
    },
    /// Measure what this student costs in this browser (see [`BrowserProfile`]), loaded apart
    /// from the models on screen.
    Profile { source: ModelSource },
}

/// A student's deployment figures measured in the browser: its cost, and the median time to
/// classify a second of audio on the CPU and, where the models run on WebGPU, there too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrowserProfile {
    pub cost: DeploymentCost,
    pub cpu_ms: f64,
    /// `None` where the models run on the CPU; the failure where WebGPU could not run it.
    pub webgpu_ms: Option<Result<f64, String>>,
}

/// A calibration: the keyword pack's held-out words (and the visitor's own recordings) laid
/// out into a stream of keywords at known times and a stream without keywords (or, in its
/// place, the visitor's recording of their surroundings); every model reads both through the
/// live path, every window however long it takes, and the engine scores its detections at
/// every threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrateRequest {
    pub run: u64,
    /// Folder URL of the keyword pack.
    pub pack: String,
    pub settings: ListenSettings,
    pub models: Vec<LiveModel>,
    pub streams: CalibrationStreams,
    /// The visitor's own recordings of keywords, said in the keyword stream beside the pack's.
    pub recordings: Vec<Recording>,
    /// The visitor's recording of their surroundings (16 kHz), instead of the generated stream
    /// without keywords.
    pub background: Option<Vec<f32>>,
    pub measured_at: CalibrationSettings,
}

/// Model number `index` of `models` has read `heard_s` of `total_s` seconds of both streams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationProgress {
    pub model: String,
    pub index: usize,
    pub models: usize,
    pub heard_s: f64,
    pub total_s: f64,
}

/// What the worker says about a calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CalibrationEvent {
    /// Getting the pack's words.
    Preparing {
        done: usize,
        total: usize,
    },
    /// The streams are made: what the keyword stream holds, and how long each lasts.
    Streams {
        keywords: usize,
        keyword_stream_s: f64,
        background_s: f64,
        /// Words that are not keywords in the stream without keywords.
        other_words: usize,
    },
    /// How far the models have read.
    Reading(CalibrationProgress),
    /// One model's measurements.
    Calibrated(Box<ModelCalibration>),
    /// A model that could not load is left out.
    LeftOut {
        model: String,
    },
    Done,
    /// The calibration could not go on, and why.
    Failed {
        message: String,
    },
}

/// Seconds a window read every hop may wait for its turn when the session keeps up with a
/// microphone: one read later than this would mark a word long after it was said, so it is
/// dropped (and counted). Stretches of speech are never dropped: there is one per word.
pub const MAX_LAG_S: f64 = 1.0;

/// A model listening live, and how often it reads the stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveModel {
    pub name: String,
    pub cadence: Cadence,
}

/// What the worker says about a live session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LiveEvent {
    /// The worker listens with these models of its share, with their labels; the others could
    /// not load (all of them, when `models` is empty).
    Listening {
        models: Vec<(LiveModel, Vec<String>)>,
        missing: Vec<String>,
    },
    /// A model read audio a job handed out.
    Read(Box<LiveReading>),
    /// Voice activity found a stretch of speech, now ended (stream seconds).
    SpeechEnded { start_s: f64, end_s: f64 },
    /// The stream could not be listened to any more, and why; the session is over.
    Failed { message: String },
}

/// One model's reading of a live window or stretch of speech.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveReading {
    pub model: String,
    pub reading: WindowReading,
    /// Its temporal attention, in the stream's time.
    pub map: TimeMap,
    /// Milliseconds the model took.
    pub ms: f64,
    /// How far the stream had gone past the audio's readiness when the model began (seconds).
    pub behind_s: f64,
    /// Windows of this model dropped so far because the worker was too far behind to read them
    /// in time.
    pub skipped: usize,
    /// The worker's wasm memory after the reading, in bytes.
    pub worker_memory_bytes: u64,
}

/// What the page asks of a training worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TrainingRequest {
    /// Train one run of a comparison (see [`TrainRequest`]).
    Train(Box<TrainRequest>),
    /// Pause, resume or stop the training between two steps.
    Steer(Steer),
    /// What to do with the step just checked, now that the other run's check is known.
    Settle(Verdict),
    /// To the run with KD: the teacher's maps the other run's worker made, its half of those
    /// the browser's cache lacked.
    TakeMaps(KeyedMaps),
}

/// What crosses to a worker: a model client's request or a training client's. Both kinds of
/// worker are one build, so one message type reaches it; each client sends only its own kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    Models(Request),
    Training(TrainingRequest),
}

/// What crosses back: a worker answers a model request with [`Response`]s and a training
/// request with [`TrainingEvent`]s, so each client hears only its own kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    Models(Response),
    Training(Box<TrainingEvent>),
}

/// What the model worker says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Where the models run; sent once, before any model loads.
    Device(Placement),
    /// The browser took the GPU device away, with its reason: nothing more runs on it.
    DeviceLost {
        reason: String,
    },
    /// One more file of a model has arrived.
    Fetched {
        model: String,
        file: String,
        bytes: u64,
    },
    Loaded {
        model: String,
    },
    LoadFailed {
        model: String,
        message: String,
    },
    /// What one model says about the clip of run `run`.
    Reading {
        run: u64,
        reading: Box<NamedReading>,
    },
    /// Every model of the run has answered (some may have failed).
    Finished {
        run: u64,
        ms: f64,
    },
    Cancelled {
        run: u64,
    },
    /// One model could not run on the clip; the others go on.
    Failed {
        run: u64,
        model: String,
        message: String,
    },
    /// About live session `session`.
    Live {
        session: u64,
        event: LiveEvent,
    },
    /// About calibration `run`.
    Calibration {
        run: u64,
        event: CalibrationEvent,
    },
    /// The ONNX file of student `model`, or why it could not be written.
    Exported {
        model: String,
        onnx: Result<ByteBuf, String>,
    },
    /// What student `model` costs in this browser, or why it could not be measured.
    Profiled {
        model: String,
        profile: Result<BrowserProfile, String>,
    },
}

/// One model's reading of one clip (the engine's `tempokd::model::Reading`), named and timed for
/// the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedReading {
    pub model: String,
    pub labels: Vec<String>,
    pub probs: Vec<f32>,
    /// Index of the most probable label.
    pub top: usize,
    /// The model's temporal attention on the clip's time axis: the teacher's rollout with its
    /// default settings, or the student's own map.
    pub map: TimeMap,
    /// The teacher's self-attention, from which the page rolls out again when the visitor
    /// changes the rollout settings. `None` for students.
    pub teacher: Option<TeacherAttention>,
    /// Milliseconds the model took on this clip, reading results back included.
    pub ms: f64,
}

impl NamedReading {
    /// The model's map; for a teacher rolled out again with `rollout` when given, or why those
    /// settings do not fit it.
    pub fn map_with(&self, rollout: Option<&RolloutConfig>) -> Result<TimeMap, String> {
        match (&self.teacher, rollout) {
            (Some(teacher), Some(settings)) => kd::rollout(&teacher.layers, settings)
                .map(|values| TimeMap {
                    values,
                    ..self.map.clone()
                })
                .map_err(|e| e.to_string()),
            _ => Ok(self.map.clone()),
        }
    }

    /// The map shown for `rollout` (the worker's when the settings do not fit) and, for a
    /// teacher, the rollout settings it comes from.
    pub fn shown_map(&self, rollout: Option<&RolloutConfig>) -> (TimeMap, Option<RolloutConfig>) {
        let own = || self.teacher.as_ref().map(|teacher| teacher.rollout.clone());
        match (self.map_with(rollout), rollout) {
            (Ok(map), Some(settings)) if self.teacher.is_some() => (map, Some(settings.clone())),
            (Ok(map), _) => (map, own()),
            (Err(_), _) => (self.map.clone(), own()),
        }
    }

    /// The top label and its probability.
    pub fn top_label(&self) -> (&str, f32) {
        (
            self.labels.get(self.top).map_or("", String::as_str),
            self.probs.get(self.top).copied().unwrap_or_default(),
        )
    }
}

/// What the trainer is told between steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Steer {
    Pause,
    Resume,
    Stop,
}

/// One run of a comparison of one student: the copy without KD or the copy with it, from the
/// student's weights. Its twin trains the other run in a second worker on the same clips in the
/// same order (both draw them from the settings' seed), and the page holds the two in step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainRequest {
    /// The run with KD (which needs the teacher and its maps), or the run without.
    pub kd: bool,
    pub teacher: ModelSource,
    pub student: ModelSource,
    /// Folder URL of the keyword pack (`manifest.csv` and the clips it lists).
    pub pack: String,
    /// The visitor's own recordings, added to the pack's training words.
    pub recordings: Vec<Recording>,
    pub settings: TrainSettings,
    /// Train on the CPU, for this reason, instead of trying WebGPU.
    pub cpu_reason: Option<String>,
}

/// A recording of one word with its label, at 16 kHz.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    pub label: String,
    pub samples: Vec<f32>,
}

/// The settings a visitor chooses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    /// λ of the KD run (the other run has λ = 0).
    pub lambda: f32,
    pub learning_rate: f64,
    pub steps: usize,
    pub batch_size: usize,
    /// Length L of the noisy clips, in seconds.
    pub length_s: f32,
    /// SNR range of the noisy clips, in dB.
    pub snr_db: (f32, f32),
    /// Noisy clips made from each word of the pack.
    pub copies: usize,
    /// Steps between two scorings on the validation clips (and redraws of the probe's map).
    pub validate_every: usize,
    pub seed: u64,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            lambda: 0.5,
            learning_rate: 1e-3,
            steps: 300,
            batch_size: 32,
            length_s: 2.0,
            snr_db: (0.0, 20.0),
            copies: 2,
            validate_every: 20,
            seed: 0,
        }
    }
}

/// One step of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepPoint {
    pub step: usize,
    pub loss: f32,
    pub task: f32,
    /// The temporal KD term (0 without KD).
    pub kd: f32,
    pub accuracy: f32,
}

/// A run's score on the validation clips.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunScore {
    pub step: usize,
    pub accuracy: f32,
    /// Mean share of attention inside the keyword's window.
    pub localisation: f32,
}

/// A student's two files, as `tempokd` saves them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedStudent {
    pub config: String,
    #[serde(with = "serde_bytes")]
    pub weights: Vec<u8>,
}

/// The fixed clip whose maps are redrawn as training goes on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub label: String,
    pub duration_s: f32,
    pub window: Option<(f32, f32)>,
    /// The teacher's map as the students with KD learn it: its rollout made into the KD target.
    pub teacher: TimeMap,
    /// How the rollout became that target, in words ("as it is", or what changed it).
    pub target: String,
}

/// How a training run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TrainingEnd {
    Finished,
    Stopped,
    /// The loss stopped being finite or blew up; the weights are those from before the
    /// failing step.
    Diverged(String),
}

/// Where and on what a run trains, as its worker began it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSetup {
    pub device: Placement,
    pub train_clips: usize,
    pub validation_clips: usize,
    /// The teacher's maps came from the browser's cache (said by the run with KD, which keeps
    /// them; the run without KD says false).
    pub cached_maps: bool,
}

/// What a training worker says of its run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TrainingEvent {
    /// Getting ready: fetching the models and the pack, mixing, the teacher's maps.
    Preparing {
        stage: String,
        done: usize,
        total: usize,
    },
    Started {
        setup: RunSetup,
        /// The clip watched as training goes on, from the run with KD, which has the teacher.
        probe: Option<Probe>,
    },
    /// From the run without KD: its half of the teacher's maps the browser's cache lacked, for
    /// the page to hand to the run with KD ([`TrainingRequest::TakeMaps`]).
    MapsMade {
        maps: KeyedMaps,
    },
    /// The next step's forward pass came out as `outcome`; a sound one waits for the page's
    /// [`TrainingRequest::Settle`].
    Checked {
        outcome: CheckOutcome,
    },
    /// One step, with the time since training began.
    Stepped {
        point: StepPoint,
        elapsed_ms: f64,
    },
    /// The run scored on the validation clips, with its map of the probe clip and, after step 0
    /// (whose student is the shipped one), its student as it is at this step.
    Validated {
        score: RunScore,
        probe: TimeMap,
        student: Option<SavedStudent>,
    },
    Paused,
    Resumed,
    Ended {
        end: TrainingEnd,
        student: SavedStudent,
        elapsed_ms: f64,
    },
    /// Nothing was trained, and why.
    Failed {
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use gloo_worker::{Bincode, Codec};
    use tempokd::kd::TeacherTarget;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// The message after the worker's codec encoded and decoded it.
    fn round_trip<T>(message: T)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Clone,
    {
        let back: T = Bincode::decode(Bincode::encode(message.clone()));
        assert_eq!(back, message);
    }

    fn student(version: u8) -> SavedStudent {
        SavedStudent {
            config: format!("{{\"version\": {version}}}"),
            weights: vec![version, 7, 9],
        }
    }

    #[wasm_bindgen_test]
    fn training_messages_cross_the_worker_boundary_unchanged() {
        let source = |name: &str| ModelSource {
            name: name.into(),
            kind: ModelKind::Student,
            files: ModelFiles::Folder(format!("models/{name}/")),
        };
        round_trip(ToWorker::Training(TrainingRequest::Train(Box::new(
            TrainRequest {
                kd: true,
                teacher: source("teacher"),
                student: source("tc-resnet8"),
                pack: "data/pack/".into(),
                recordings: vec![Recording {
                    label: "yes".into(),
                    samples: vec![0.25, -0.5],
                }],
                settings: TrainSettings::default(),
                cpu_reason: Some("asked".into()),
            },
        ))));
        for steer in [Steer::Pause, Steer::Resume, Steer::Stop] {
            round_trip(ToWorker::Training(TrainingRequest::Steer(steer)));
        }
        for verdict in [Verdict::Apply, Verdict::Undo { kept: 4 }, Verdict::Cancel] {
            round_trip(ToWorker::Training(TrainingRequest::Settle(verdict)));
        }
        let maps: KeyedMaps = vec![(
            "pack clip@00ff".into(),
            TeacherTarget {
                map: vec![0.25, 0.75],
                logits: vec![-1.0, 2.5, 0.0],
            },
        )];
        round_trip(ToWorker::Training(TrainingRequest::TakeMaps(maps.clone())));
        let map = TimeMap {
            start_s: 0.01,
            frame_s: 0.02,
            values: vec![0.5, 0.5],
        };
        let events = [
            TrainingEvent::Preparing {
                stage: "keyword pack".into(),
                done: 1,
                total: 144,
            },
            TrainingEvent::Started {
                setup: RunSetup {
                    device: Placement::Cpu {
                        reason: "asked".into(),
                    },
                    train_clips: 240,
                    validation_clips: 48,
                    cached_maps: true,
                },
                probe: Some(Probe {
                    label: "yes".into(),
                    duration_s: 2.0,
                    window: Some((0.5, 1.0)),
                    teacher: map.clone(),
                    target: "as it is".into(),
                }),
            },
            TrainingEvent::Checked {
                outcome: CheckOutcome::Diverged { kept: 3 },
            },
            TrainingEvent::MapsMade { maps },
            TrainingEvent::Stepped {
                point: StepPoint::default(),
                elapsed_ms: 1.5,
            },
            TrainingEvent::Validated {
                score: RunScore::default(),
                probe: map,
                student: Some(student(5)),
            },
            TrainingEvent::Paused,
            TrainingEvent::Resumed,
            TrainingEvent::Ended {
                end: TrainingEnd::Diverged("at step 2".into()),
                student: student(6),
                elapsed_ms: 2.0,
            },
            TrainingEvent::Failed {
                message: "no pack".into(),
            },
        ];
        for event in events {
            round_trip(FromWorker::Training(Box::new(event)));
        }
    }

    /// Weights and ONNX files, each one string of bytes to the codec.
    #[wasm_bindgen_test]
    fn files_cross_the_worker_boundary_unchanged() {
        let weights: Vec<u8> = (0..=255).cycle().take(70_000).collect();
        round_trip(FromWorker::Training(Box::new(TrainingEvent::Ended {
            end: TrainingEnd::Finished,
            student: SavedStudent {
                config: "{}".into(),
                weights: weights.clone(),
            },
            elapsed_ms: 1.0,
        })));
        round_trip(ToWorker::Models(Request::Load {
            models: vec![ModelSource {
                name: "picked".into(),
                kind: ModelKind::Teacher,
                files: ModelFiles::Picked {
                    config: "{}".into(),
                    weights: weights.clone(),
                    preprocessor: None,
                },
            }],
            cpu_reason: None,
        }));
        for onnx in [Ok(ByteBuf::from(weights)), Err("no".to_string())] {
            round_trip(FromWorker::Models(Response::Exported {
                model: "crnn".into(),
                onnx,
            }));
        }
    }

    #[wasm_bindgen_test]
    fn live_messages_cross_the_worker_boundary_unchanged() {
        let model = LiveModel {
            name: "teacher".into(),
            cadence: Cadence::PerSegment,
        };
        round_trip(ToWorker::Models(Request::Listen {
            session: 3,
            settings: ListenSettings::default(),
            models: vec![model.clone()],
            keep_up: true,
        }));
        round_trip(ToWorker::Models(Request::Hear {
            session: 3,
            chunk: vec![0.25; 1_600],
        }));
        round_trip(ToWorker::Models(Request::StopListening { session: 3 }));
        let map = TimeMap {
            start_s: 10.01,
            frame_s: 0.02,
            values: vec![0.5, 0.5],
        };
        let events = [
            LiveEvent::Listening {
                models: vec![(model, vec!["_silence_".into(), "yes".into()])],
                missing: vec!["crnn".into()],
            },
            LiveEvent::Read(Box::new(LiveReading {
                model: "teacher".into(),
                reading: WindowReading {
                    start_s: 10.0,
                    end_s: 11.0,
                    probs: vec![0.1, 0.9],
                    ready_s: 11.3,
                    attention_peak_s: 10.5,
                    only_keyword: Some(1),
                    speech_until_s: Some(10.9),
                },
                map,
                ms: 12.5,
                behind_s: 0.05,
                skipped: 2,
                worker_memory_bytes: 64 << 20,
            })),
            LiveEvent::SpeechEnded {
                start_s: 10.2,
                end_s: 10.8,
            },
            LiveEvent::Failed {
                message: "corrupt".into(),
            },
        ];
        for event in events {
            round_trip(FromWorker::Models(Response::Live { session: 3, event }));
        }
    }

    #[wasm_bindgen_test]
    fn calibration_messages_cross_the_worker_boundary_unchanged() {
        use std::collections::BTreeMap;
        use tempokd::stream::calibrate::{Errors, RateThresholds, Tally, TradeOffPoint};
        let model = LiveModel {
            name: "tc-resnet8-kd".into(),
            cadence: Cadence::EveryHop,
        };
        round_trip(ToWorker::Models(Request::Calibrate(Box::new(
            CalibrateRequest {
                run: 2,
                pack: "data/pack/".into(),
                settings: ListenSettings::default(),
                models: vec![model.clone()],
                streams: CalibrationStreams::default(),
                recordings: vec![Recording {
                    label: "go".into(),
                    samples: vec![0.5; 4],
                }],
                background: Some(vec![0.01; 160]),
                measured_at: CalibrationSettings::default(),
            },
        ))));
        round_trip(ToWorker::Models(Request::StopCalibrating { run: 2 }));
        let errors = Errors::new(Tally {
            keywords: 20,
            found: 17,
            false_accepts: 3,
            hours: 0.05,
            ..Tally::default()
        });
        let calibration = ModelCalibration {
            model: model.name,
            cadence: model.cadence,
            trade_off: vec![TradeOffPoint {
                threshold: 0.5,
                errors: errors.clone(),
                false_accepts_by_keyword: BTreeMap::from([("no".into(), 3)]),
            }],
            for_target_rate: RateThresholds {
                target_per_hour: 1.0,
                thresholds: BTreeMap::from([("no".into(), 0.9), ("yes".into(), 0.5)]),
                unreached: vec!["no".into()],
                errors: errors.clone(),
            },
            held_out: Some(errors),
        };
        let events = [
            CalibrationEvent::Preparing {
                done: 3,
                total: 144,
            },
            CalibrationEvent::Streams {
                keywords: 20,
                keyword_stream_s: 85.0,
                background_s: 120.0,
                other_words: 12,
            },
            CalibrationEvent::Reading(CalibrationProgress {
                model: "teacher".into(),
                index: 0,
                models: 2,
                heard_s: 30.5,
                total_s: 205.0,
            }),
            CalibrationEvent::Calibrated(Box::new(calibration)),
            CalibrationEvent::LeftOut {
                model: "crnn".into(),
            },
            CalibrationEvent::Done,
            CalibrationEvent::Failed {
                message: "no pack".into(),
            },
        ];
        for event in events {
            round_trip(FromWorker::Models(Response::Calibration { run: 2, event }));
        }
    }
}
