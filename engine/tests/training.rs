//! The step-at-a-time trainers, natively and in headless Chromium: loss falls on a tiny set,
//! temporal KD pulls the student's attention onto the teacher's, a bad loss (NaN, or one blown
//! up by a far too large learning rate) undoes the update before it (in both runs of a
//! comparison together), bad batches are refused with a reason, the side-by-side comparison
//! the browser runs (without and with KD, each run drawing its batches from the seed alone) gives
//! the same losses in wasm as natively.
// Natively each test runs on its own thread under `pollster`, so a test's turn on the CPU
// backend (see `device`) may be held across its awaits: nothing else runs on that thread.
#![allow(clippy::await_holding_lock)]

use burn::tensor::Device;
use std::borrow::Cow;
use std::cell::RefCell;
use tempokd::audio::Features;
use tempokd::data::Split;
use tempokd::data::pack::{KeywordPack, PackMix};
use tempokd::device::ComputeDevice;
use tempokd::kd::{
    CheckOutcome, KdLossConfig, KdTarget, PlainAndKd, RolloutConfig, TeacherTarget, Verdict,
};
use tempokd::rng::Rng;
use tempokd::students::{Architecture, AttentionRequest, Preset, Student};
use tempokd::teacher::{AttentionDetail, DropoutRates, Teacher, Wav2Vec2Config};
use tempokd::train::{
    ComparisonData, ComparisonRun, DIVERGENCE_FACTOR, LabelledClip, LrSchedule, MapClip, MapMaking,
    MapShare, SpecAugment, StepReport, StudentBatch, StudentTrainer, StudentTraining, TeacherBatch,
    TeacherCache, TeacherMapStore, TeacherTrainer, TeacherTraining, TrainError, clip_key,
    teacher_maps,
};

#[macro_use]
mod common;
mod tiny_teacher;
use tiny_teacher::tiny_teacher_config;

const CLASSES: usize = 3;
const FRAMES: usize = 49;

fn labels() -> Vec<String> {
    (0..CLASSES).map(|i| format!("class {i}")).collect()
}

/// Natively, the tests take turns on the CPU backend: its generator (initialisation, dropout,
/// the seed each training step sets) is one for the whole process.
#[cfg(not(target_arch = "wasm32"))]
type Turn = std::sync::MutexGuard<'static, ()>;
#[cfg(target_arch = "wasm32")]
type Turn = ();

/// The CPU backend on both targets, and this test's turn on it: the browser's WebGPU training
/// path belongs to the page's own tests.
async fn device() -> (Device, Turn) {
    #[cfg(not(target_arch = "wasm32"))]
    let turn = {
        static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
        GENERATOR
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    #[cfg(target_arch = "wasm32")]
    let turn = ();
    (ComputeDevice::cpu("tests").device, turn)
}

/// Clips whose class is a bright band of bins in frames 20..30; elsewhere low noise.
fn batch(student: &Student, with_maps: bool) -> StudentBatch {
    let bins = student.config().input_size();
    let clips = 6;
    let mut rng = Rng::new(5);
    let mut features = Vec::with_capacity(clips * FRAMES * bins);
    let mut targets = Vec::new();
    for clip in 0..clips {
        let class = clip % CLASSES;
        for frame in 0..FRAMES {
            for bin in 0..bins {
                let on = (20..30).contains(&frame) && bin * CLASSES / bins == class;
                features.push(if on { 3.0 } else { 0.1 * rng.normal() });
            }
        }
        targets.push(vec![class]);
    }
    let student_frames = student.config().frames_for_input(FRAMES);
    // The teacher looks at the middle third of the clip.
    let map: Vec<f32> = (0..student_frames)
        .map(|t| {
            let middle = (student_frames / 3..2 * student_frames / 3).contains(&t);
            if middle { 1.0 } else { 0.0 }
        })
        .collect();
    let map = tempokd::kd::normalise(map);
    StudentBatch {
        clips,
        frames: FRAMES,
        bins,
        features,
        targets,
        teacher_attention: with_maps.then(|| map.repeat(clips)),
        teacher_logits: None,
    }
}

fn settings(lambda: f32, lr: f64) -> StudentTraining {
    StudentTraining {
        steps: 30,
        batch_size: 6,
        schedule: LrSchedule {
            initial: lr,
            after_step: lr,
            step_at: 1.0,
            warmup_steps: 0,
        },
        loss: KdLossConfig {
            lambda,
            ..KdLossConfig::default()
        },
        target: KdTarget::ROLLOUT,
        logit_kd: None,
        spec_augment: None,
        seed: 1,
    }
}

async fn student(preset: Preset, device: &Device) -> Student {
    device.seed(3);
    Student::new(preset.config(labels()), &device.clone().autodiff()).unwrap()
}

async_test!(
    student_loss_falls_and_kd_moves_attention_to_the_teacher,
    async {
        let (device, _turn) = device().await;
        let student = student(Preset::TcResNet8, &device).await;
        let batch = batch(&student, true);
        let mut trainer = StudentTrainer::new(student, settings(1.0, 3e-3), false).unwrap();
        let first = trainer.step(&batch).await.unwrap();
        let mut last = first.clone();
        for _ in 1..30 {
            last = trainer.step(&batch).await.unwrap();
        }
        assert_eq!(last.step, 30);
        assert!(
            last.task < 0.5 * first.task,
            "task {} → {}",
            first.task,
            last.task
        );
        assert!(last.kd < 0.5 * first.kd, "kd {} → {}", first.kd, last.kd);
        assert!(last.accuracy == 1.0, "{last:?}");
    }
);

/// The student's weights as saved and its logits on a fixed clip: what a rollback must restore.
async fn state_of(student: &Student) -> (Vec<u8>, Vec<f32>) {
    let (_, weights) = student.save().await.unwrap();
    let logits = student
        .infer(&vec![0.1; 16_000], AttentionRequest::None)
        .await
        .unwrap()
        .prediction
        .logits;
    (weights, logits)
}

async_test!(
    a_bad_loss_undoes_the_update_before_it_and_training_goes_on,
    async {
        let (device, _turn) = device().await;
        let student = student(Preset::TcResNet8, &device).await;
        let good = batch(&student, false);
        let mut trainer = StudentTrainer::new(student, settings(0.0, 1e-3), false).unwrap();
        trainer.step(&good).await.unwrap();
        let after_first = state_of(&trainer.student().unwrap()).await;
        trainer.step(&good).await.unwrap();
        assert_ne!(state_of(&trainer.student().unwrap()).await, after_first);
        let mut poisoned = good.clone();
        poisoned.features[0] = f32::NAN;
        match trainer.step(&poisoned).await {
            Err(TrainError::Diverged {
                step: 3, kept: 1, ..
            }) => {}
            other => panic!("expected divergence at step 3 keeping step 1, got {other:?}"),
        }
        assert_eq!(trainer.steps_done(), 1);
        assert_eq!(state_of(&trainer.student().unwrap()).await, after_first);
        // The restored weights and optimiser train on as before.
        let next = trainer.step(&good).await.unwrap();
        assert_eq!(next.step, 2);
        assert!(next.loss.is_finite());
    }
);

async_test!(
    a_loss_blown_up_by_a_far_too_large_rate_returns_to_the_weights_before_it,
    async {
        let (device, _turn) = device().await;
        let student = student(Preset::LstmP, &device).await;
        let batch = batch(&student, true);
        let mut trainer = StudentTrainer::new(student, settings(10.0, 9.9), false).unwrap();
        let initial = state_of(&trainer.student().unwrap()).await;
        let first = trainer.step(&batch).await.unwrap();
        match trainer.step(&batch).await {
            Err(TrainError::Diverged {
                step: 2,
                loss,
                kept: 0,
            }) => {
                assert!(
                    loss.is_finite() && loss > DIVERGENCE_FACTOR * first.loss,
                    "{loss}"
                )
            }
            other => panic!("expected divergence at step 2, got {other:?}"),
        }
        assert_eq!(trainer.steps_done(), 0);
        // The first update, the one that blew the loss up, is gone.
        assert_eq!(state_of(&trainer.student().unwrap()).await, initial);
    }
);

async_test!(bad_batches_are_refused_with_a_reason, async {
    let (device, _turn) = device().await;
    let student = student(Preset::TcResNet8, &device).await;
    let good = batch(&student, true);
    let mut trainer = StudentTrainer::new(student, settings(0.5, 1e-3), false).unwrap();
    let cases: Vec<(StudentBatch, &str)> = vec![
        (
            StudentBatch {
                features: vec![0.0; 3],
                ..good.clone()
            },
            "feature values",
        ),
        (
            StudentBatch {
                targets: vec![vec![7]; 6],
                ..good.clone()
            },
            "class 7 does not exist",
        ),
        (
            StudentBatch {
                targets: vec![vec![0]; 2],
                ..good.clone()
            },
            "2 target lists",
        ),
        (
            StudentBatch {
                teacher_attention: None,
                ..good.clone()
            },
            "needs the teacher's maps",
        ),
        (
            StudentBatch {
                teacher_attention: Some(vec![0.5; 4]),
                ..good.clone()
            },
            "teacher map values",
        ),
    ];
    for (bad, expected) in cases {
        let error = trainer
            .step(&bad)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains(expected), "{error:?} lacks {expected:?}");
    }
    assert_eq!(trainer.steps_done(), 0);
    // A student on a plain device cannot be trained.
    let plain = Student::new(Preset::TcResNet8.config(labels()), &device).unwrap();
    assert!(matches!(
        StudentTrainer::new(plain, settings(0.0, 1e-3), false),
        Err(TrainError::Settings(_))
    ));
});

/// The tiny teacher for this file's classes.
fn teacher_config() -> Wav2Vec2Config {
    let labels: Vec<String> = labels();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    tiny_teacher_config(&labels)
}

/// Three half-second tones, one per class.
fn tones() -> TeacherBatch {
    let samples = 8_000;
    let waveforms: Vec<f32> = (0..CLASSES)
        .flat_map(|class| {
            let hz = 300.0 + 700.0 * class as f32;
            (0..samples).map(move |n| (std::f32::consts::TAU * hz * n as f32 / 16_000.0).sin())
        })
        .collect();
    TeacherBatch {
        clips: CLASSES,
        samples,
        waveforms,
        targets: (0..CLASSES).map(|c| vec![c]).collect(),
    }
}

/// `steps` steps on the whole of [`tones`] at a constant rate.
fn teacher_settings(steps: usize) -> TeacherTraining {
    TeacherTraining {
        steps,
        batch_size: CLASSES,
        schedule: LrSchedule {
            initial: 2e-3,
            after_step: 2e-3,
            step_at: 1.0,
            warmup_steps: 0,
        },
        seed: 0,
        ..TeacherTraining::default()
    }
}

async_test!(teacher_loss_falls_on_a_tiny_set, async {
    let (device, _turn) = device().await;
    let teacher = Teacher::random(teacher_config(), 4, &device.clone().autodiff()).unwrap();
    let batch = tones();
    let samples = batch.samples;
    let mut trainer = TeacherTrainer::new(teacher, &teacher_settings(25), false).unwrap();
    let first = trainer.step(&batch).await.unwrap();
    let mut last = first.clone();
    for _ in 1..25 {
        last = trainer.step(&batch).await.unwrap();
    }
    assert!(
        last.loss < 0.3 * first.loss,
        "{} → {}",
        first.loss,
        last.loss
    );
    // The trained teacher is a plain (inference) model that classifies the tones.
    let trained = trainer.teacher().unwrap();
    let tone = &batch.waveforms[samples..2 * samples];
    let inference = trained.infer(tone, AttentionDetail::None).await.unwrap();
    assert_eq!(inference.prediction.top, 1);
});

// Dropout changes the teacher's training steps and nothing else: a forward pass off the autodiff
// device, the trained teacher's included, is the one without it, and the trained teacher's config
// records the rate. A rate of 1 or more is refused.
async_test!(the_teachers_dropout_acts_only_while_it_trains, async {
    let (device, _turn) = device().await;
    let tone = tones().waveforms[..tones().samples].to_vec();
    let plain = Teacher::random(teacher_config(), 4, &device).unwrap();
    let with_dropout = plain
        .with_model(plain.model().clone(), &device)
        .with_dropout(DropoutRates::all(0.5))
        .unwrap();
    let logits = |teacher: Teacher| {
        let tone = tone.clone();
        async move {
            let result = teacher.infer(&tone, AttentionDetail::None).await.unwrap();
            result.prediction.logits
        }
    };
    assert_eq!(logits(with_dropout).await, logits(plain).await);

    let (without, _) = three_teacher_steps(&device, 0.0).await;
    let (with, trained) = three_teacher_steps(&device, 0.3).await;
    assert_ne!(with, without, "dropout changed no training step");
    assert_eq!(trained.config().dropout, DropoutRates::all(0.3));
    let (config, _, _) = trained.save().await.unwrap();
    assert!(config.contains("\"hidden_dropout\": 0.3"), "{config}");
    let once = trained.infer(&tone, AttentionDetail::None).await.unwrap();
    let again = trained.infer(&tone, AttentionDetail::None).await.unwrap();
    assert_eq!(once.prediction.logits, again.prediction.logits);

    let teacher = Teacher::random(teacher_config(), 4, &device.clone().autodiff()).unwrap();
    let settings = TeacherTraining {
        dropout: 1.0,
        ..teacher_settings(3)
    };
    match TeacherTrainer::new(teacher, &settings, false) {
        Err(TrainError::Settings(why)) => assert!(why.contains("dropout rate of 1"), "{why}"),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a dropout rate of 1 was accepted"),
    }
});

/// The losses of three steps of [`teacher_settings`] at `dropout` on [`tones`], from one
/// random teacher, and the trained teacher.
async fn three_teacher_steps(device: &Device, dropout: f64) -> (Vec<f32>, Teacher) {
    let teacher = Teacher::random(teacher_config(), 4, &device.clone().autodiff()).unwrap();
    let settings = TeacherTraining {
        dropout,
        ..teacher_settings(3)
    };
    let mut trainer = TeacherTrainer::new(teacher, &settings, false).unwrap();
    let mut losses = Vec::new();
    for _ in 0..3 {
        losses.push(trainer.step(&tones()).await.unwrap().loss);
    }
    (losses, trainer.teacher().unwrap())
}

// Fine-tuning with the feature encoder frozen leaves its convolutions as they were and trains
// the rest.
async_test!(a_frozen_feature_encoder_keeps_its_weights, async {
    let (device, _turn) = device().await;
    let teacher = Teacher::random(teacher_config(), 4, &device.clone().autodiff()).unwrap();
    let (_, _, before) = teacher.save().await.unwrap();
    let settings = TeacherTraining {
        freeze_feature_encoder: true,
        ..teacher_settings(3)
    };
    let mut trainer = TeacherTrainer::new(teacher, &settings, false).unwrap();
    for _ in 0..3 {
        trainer.step(&tones()).await.unwrap();
    }
    let (_, _, after) = trainer.teacher().unwrap().save().await.unwrap();
    let change = |key: &str| {
        common::max_difference(
            &common::fixture_floats(&after, key),
            &common::fixture_floats(&before, key),
        )
    };
    for frozen in [
        "wav2vec2.feature_extractor.conv_layers.0.conv.weight",
        "wav2vec2.feature_extractor.conv_layers.0.layer_norm.weight",
        "wav2vec2.feature_extractor.conv_layers.6.conv.weight",
    ] {
        assert_eq!(change(frozen), 0.0, "{frozen} was trained");
    }
    for trained in [
        "wav2vec2.feature_projection.projection.weight",
        "wav2vec2.encoder.layers.0.attention.k_proj.weight",
        "classifier.weight",
    ] {
        assert!(change(trained) > 0.0, "{trained} was not trained");
    }
});

async_test!(a_saved_teacher_loads_back_identically, async {
    let (device, _turn) = device().await;
    let teacher = Teacher::random(teacher_config(), 9, &device).unwrap();
    let (config, preprocessor, weights) = teacher.save().await.unwrap();
    let loaded = Teacher::load(
        tempokd::teacher::TeacherFiles {
            config: &config,
            preprocessor: Some(&preprocessor),
            weights: &weights,
        },
        &device,
    )
    .unwrap();
    let clip: Vec<f32> = (0..12_000).map(|n| (n as f32 * 0.01).sin()).collect();
    let detail = AttentionDetail::Fused(tempokd::kd::HeadFusion::Mean);
    let a = teacher.infer(&clip, detail).await.unwrap();
    let b = loaded.infer(&clip, detail).await.unwrap();
    assert!(common::max_difference(&a.prediction.logits, &b.prediction.logits) < 1e-5);
    let (a, b) = (a.attentions.unwrap(), b.attentions.unwrap());
    assert!(common::max_difference(a.values(), b.values()) < 1e-5);
});

/// A map store in memory, as the browser's Cache API is one store for the page's workers.
#[derive(Default)]
struct MemoryStore(RefCell<Option<TeacherCache>>);

impl TeacherMapStore for MemoryStore {
    async fn load(&self, teacher: &str) -> TeacherCache {
        (self.0.borrow().clone()).unwrap_or_else(|| TeacherCache::new(teacher.to_string()))
    }

    async fn save(&self, cache: &TeacherCache) -> Result<(), TrainError> {
        *self.0.borrow_mut() = Some(cache.clone());
        Ok(())
    }
}

/// A tiny teacher, seven clips of two lengths (so a share batches clips of both) with their
/// store entries, and every map of them made by one maker alone with an empty store.
struct MapFixture {
    teacher: Teacher,
    rollout: RolloutConfig,
    audio: Vec<Vec<f32>>,
    clips: Vec<MapClip>,
    alone: Vec<TeacherTarget>,
}

impl MapFixture {
    async fn new(device: &Device) -> Self {
        let teacher = Teacher::random(teacher_config(), 5, device).unwrap();
        let rollout = teacher.default_rollout();
        let audio: Vec<Vec<f32>> = (0..7)
            .map(|clip| {
                let length = if clip % 3 == 0 { 12_000 } else { 8_000 };
                let pitch = 0.002 * (clip + 1) as f32;
                (0..length).map(|n| (n as f32 * pitch).sin()).collect()
            })
            .collect();
        let clips: Vec<MapClip> = (audio.iter().enumerate())
            .map(|(index, samples)| {
                let name = format!("clip {index}");
                let bytes: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
                MapClip {
                    key: clip_key(&name, &bytes),
                    name,
                }
            })
            .collect();
        let read = |index: usize| Ok(Cow::Borrowed(audio[index].as_slice()));
        let store = MemoryStore::default();
        let made = teacher_maps(
            &teacher,
            &rollout,
            "t",
            &clips,
            read,
            &store,
            async |_, _| Ok(()),
        );
        let made = made.await.unwrap();
        assert_eq!(made.kept, 0);
        Self {
            teacher,
            rollout,
            audio,
            clips,
            alone: made.maps,
        }
    }

    /// A clip's samples, as a maker reads them.
    fn read<'a>(&'a self) -> impl Fn(usize) -> Result<Cow<'a, [f32]>, TrainError> + Copy + 'a {
        |index: usize| Ok(Cow::Borrowed(self.audio[index].as_slice()))
    }
}

fn assert_same_maps(actual: &[TeacherTarget], expected: &[TeacherTarget]) {
    assert_eq!(actual.len(), expected.len());
    for (actual, expected) in actual.iter().zip(expected) {
        assert!(common::max_difference(&actual.map, &expected.map) < 1e-5);
        assert!(common::max_difference(&actual.logits, &expected.logits) < 1e-5);
    }
}

async_test!(
    two_makers_sharing_the_missing_maps_make_what_one_makes_alone,
    async {
        let (device, _turn) = device().await;
        let fixture = MapFixture::new(&device).await;
        let MapFixture {
            teacher,
            rollout,
            clips,
            alone,
            ..
        } = &fixture;
        let read = fixture.read();
        // The page's two workers, one store, where an earlier run left the maps of clips 1 and 4.
        let store = MemoryStore::default();
        let mut earlier = TeacherCache::new("t".into());
        for index in [1, 4] {
            earlier.insert(clips[index].key.clone(), alone[index].clone());
        }
        store.save(&earlier).await.unwrap();
        let mut lead = MapMaking::load(&store, "t", clips).await;
        let mut helper = MapMaking::load(&store, "t", clips).await;
        assert_eq!((lead.missing(), helper.missing()), (5, 5));
        let share = |part| MapShare { part, parts: 2 };
        let mut progress = Vec::new();
        let lead_computed = lead.compute(teacher, rollout, share(0), read, async |done, total| {
            progress.push((done, total));
            Ok(())
        });
        assert_eq!(lead_computed.await.unwrap(), 3);
        assert_eq!(
            progress.first(),
            Some(&(0, 3)),
            "progress counts the share alone"
        );
        let helper_computed = helper.compute(teacher, rollout, share(1), read, async |_, _| Ok(()));
        assert_eq!(helper_computed.await.unwrap(), 2);
        let handed = helper.made();
        assert_eq!(handed.len(), 2, "the helper hands over its share alone");
        lead.receive(handed);
        let rest = lead.compute(teacher, rollout, MapShare::WHOLE, read, async |_, _| Ok(()));
        assert_eq!(
            rest.await.unwrap(),
            0,
            "nothing is left once the other share is in"
        );
        let maps = lead.finish(&store).await.unwrap();
        assert_eq!(maps.kept, 2);
        assert_same_maps(&maps.maps, alone);
        // The store keeps every clip's map: the next run computes none.
        assert_eq!(MapMaking::load(&store, "t", clips).await.missing(), 0);
    }
);

async_test!(
    a_maker_left_without_the_other_share_computes_it_and_keeps_no_stranger,
    async {
        let (device, _turn) = device().await;
        let fixture = MapFixture::new(&device).await;
        let MapFixture {
            teacher,
            rollout,
            clips,
            alone,
            ..
        } = &fixture;
        let read = fixture.read();
        let store = MemoryStore::default();
        let mut lead = MapMaking::load(&store, "t", clips).await;
        let share = MapShare { part: 0, parts: 2 };
        let first = lead.compute(teacher, rollout, share, read, async |_, _| Ok(()));
        assert_eq!(first.await.unwrap(), 4);
        // Maps of a clip not in this run are handed over: they are not kept.
        lead.receive(vec![("another clip@0".into(), alone[0].clone())]);
        let rest = lead.compute(teacher, rollout, MapShare::WHOLE, read, async |_, _| Ok(()));
        assert_eq!(rest.await.unwrap(), 3);
        let maps = lead.finish(&store).await.unwrap();
        assert_same_maps(&maps.maps, alone);
        let kept = store.load("t").await;
        assert_eq!(kept.entries.len(), clips.len());
        assert!(kept.get("another clip@0").is_none());
    }
);

/// Both runs of a comparison of TC-ResNet8 on [`comparison_data`], the run without KD holding
/// no teacher maps (as its browser worker does).
async fn comparison(device: &Device, steps: usize, lr: f64) -> Lockstep {
    let student = student(Preset::TcResNet8, device).await;
    let settings = comparison_settings(steps, lr);
    let run = |kd: bool| {
        let mut data = comparison_data(&student);
        if !kd {
            data.teacher = None;
        }
        ComparisonRun::new(&student, &settings, kd, data).unwrap()
    };
    Lockstep {
        runs: PlainAndKd::from_fn(run),
    }
}

/// The two runs held in step as the page holds its two training workers: both check a step,
/// then each settles it by the verdict the other's check gives.
struct Lockstep {
    runs: PlainAndKd<ComparisonRun>,
}

impl Lockstep {
    async fn step(&mut self) -> Result<PlainAndKd<StepReport>, TrainError> {
        let checks = PlainAndKd::new(self.runs.plain.check().await, self.runs.kd.check().await);
        let outcomes = checks.as_ref().map(CheckOutcome::of);
        let others = PlainAndKd::new(outcomes.kd, outcomes.plain);
        let mut reports = Vec::new();
        let mut failure = None;
        for ((run, check), other) in self.runs.iter_mut().zip(checks).zip(others) {
            match check {
                Ok(()) => reports.push(run.settle(Verdict::given(other))?),
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        let mut applied = reports.into_iter().flatten();
        Ok(PlainAndKd::new(
            applied.next().unwrap(),
            applied.next().unwrap(),
        ))
    }

    fn steps_done(&self) -> usize {
        self.runs.kd.steps_done()
    }

    fn students(&self) -> PlainAndKd<Student> {
        self.runs.as_ref().map(|run| run.student().unwrap())
    }
}

fn comparison_settings(steps: usize, lr: f64) -> StudentTraining {
    StudentTraining {
        steps,
        ..settings(0.5, lr)
    }
}

/// A pack of three "words" (tones of different pitch, one per class, two voices each) mixed
/// into 2 s clips in noise, as the browser's trainer builds its data; the teacher's map is
/// uniform over each clip's word.
fn comparison_data(student: &Student) -> ComparisonData {
    let mut pack = KeywordPack::default();
    for (class, label) in labels().iter().enumerate() {
        for voice in 0..2 {
            let hz = 300.0 * (class + 1) as f32 + 40.0 * voice as f32;
            let word: Vec<f32> = (0..6_000)
                .map(|n| 0.3 * (std::f32::consts::TAU * hz * n as f32 / 16_000.0).sin())
                .collect();
            pack.add_recording(label, &word, 1.0).unwrap();
        }
    }
    let mix = PackMix {
        length_s: 2.0,
        snr_db: (10.0, 20.0),
        copies: 2,
        seed: 9,
    };
    let clips = pack.mix(&[Split::Train], &labels(), &mix).unwrap();
    let teacher_frames = 99;
    let scored: Vec<LabelledClip<Features>> = clips
        .iter()
        .map(|clip| LabelledClip {
            input: student.features(&clip.samples).unwrap(),
            targets: vec![clip.target],
            window: clip.window,
        })
        .collect();
    let teacher = clips
        .iter()
        .map(|clip| {
            let window = clip.window.unwrap();
            let map = (0..teacher_frames)
                .map(|t| {
                    let time = (t as f32 + 0.5) * 0.02;
                    f32::from(u8::from(time >= window.start_s && time < window.end_s))
                })
                .collect();
            TeacherTarget {
                map: tempokd::kd::normalise(map),
                logits: vec![0.0; CLASSES],
            }
        })
        .collect();
    ComparisonData {
        validation: scored
            .iter()
            .take(4)
            .map(|s| LabelledClip {
                input: s.input.clone(),
                targets: s.targets.clone(),
                window: s.window,
            })
            .collect(),
        train: scored,
        teacher: Some(teacher),
    }
}

async_test!(
    when_one_run_of_a_comparison_diverges_both_go_back_together,
    async {
        let (device, _turn) = device().await;
        let mut comparison = comparison(&device, 30, 9.9).await;
        let states = async |comparison: &Lockstep| {
            let students = comparison.students();
            [
                state_of(&students.plain).await,
                state_of(&students.kd).await,
            ]
        };
        // The states after each step so far, from step 0.
        let mut history = vec![states(&comparison).await];
        let (step, kept) = loop {
            match comparison.step().await {
                Ok(_) => history.push(states(&comparison).await),
                Err(TrainError::Diverged { step, kept, .. }) => break (step, kept),
                Err(other) => panic!("{other}"),
            }
            assert!(history.len() <= 30, "a rate of 9.9 never diverged");
        };
        assert_eq!((step, kept), (history.len(), history.len() - 2));
        assert_eq!(comparison.steps_done(), kept);
        let now = states(&comparison).await;
        for run in 0..2 {
            let differing = (now[run].0.iter().zip(&history[kept][run].0))
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(
                differing, 0,
                "run {run}: {differing} bytes of its weights differ"
            );
            assert_eq!(now[run].1, history[kept][run].1, "run {run}'s logits");
        }
    }
);

async_test!(
    a_kd_comparison_starts_both_runs_alike_and_only_the_kd_run_follows_the_teacher,
    async {
        let (device, _turn) = device().await;
        let mut comparison = comparison(&device, 20, 3e-3).await;
        let PlainAndKd {
            plain,
            kd: distilled,
        } = comparison.step().await.unwrap();
        // Same weights, same batch: the task loss is the same; only one run has a KD term.
        assert_eq!(plain.task, distilled.task);
        assert_eq!(plain.kd, 0.0);
        assert!(distilled.kd > 0.0, "{distilled:?}");
        let in_window = async |comparison: &Lockstep| {
            let (evaluation, maps) = comparison.runs.kd.validate().await.unwrap();
            assert_eq!(maps.len(), 4);
            evaluation.attention_in_window.unwrap_or(0.0)
        };
        let before = in_window(&comparison).await;
        let mut last = PlainAndKd::new(plain.clone(), distilled.clone());
        while comparison.steps_done() < 20 {
            last = comparison.step().await.unwrap();
        }
        assert_eq!(last.kd.step, 20);
        assert!(
            last.kd.kd < 0.8 * distilled.kd,
            "kd {} → {}",
            distilled.kd,
            last.kd.kd
        );
        let after = in_window(&comparison).await;
        assert!(
            after > before,
            "the KD student's attention in the window: {before} → {after}"
        );
    }
);

async_test!(
    a_run_draws_its_batches_from_the_seed_alone_and_settles_only_what_it_checked,
    async {
        let (device, _turn) = device().await;
        let student = student(Preset::TcResNet8, &device).await;
        let settings = StudentTraining {
            spec_augment: Some(SpecAugment::default()),
            ..comparison_settings(3, 3e-3)
        };
        // The run without KD, as the worker that holds no teacher maps builds it and as one that
        // holds them would: the same batches, SpecAugment's masks included.
        let plain_run = |maps: bool| {
            let mut data = comparison_data(&student);
            if !maps {
                data.teacher = None;
            }
            ComparisonRun::new(&student, &settings, false, data).unwrap()
        };
        let mut with_maps = plain_run(true);
        let mut without_maps = plain_run(false);
        let mut distilled =
            ComparisonRun::new(&student, &settings, true, comparison_data(&student)).unwrap();
        for step in 1..=3 {
            let report = async |run: &mut ComparisonRun| {
                run.check().await.unwrap();
                run.settle(Verdict::Apply).unwrap().unwrap()
            };
            let (a, b, kd) = (
                report(&mut with_maps).await,
                report(&mut without_maps).await,
                report(&mut distilled).await,
            );
            assert_eq!((a.step, a.loss, a.task), (b.step, b.loss, b.task));
            assert_eq!((a.kd, b.kd), (0.0, 0.0));
            assert!(kd.kd > 0.0, "{kd:?}");
            if step == 1 {
                // The same weights on the same batch: only the KD term tells them apart.
                assert_eq!(a.task, kd.task);
            }
        }
        // A settlement follows a check, a check waits for its settlement, and a run that cannot
        // go back to the other's kept steps says so.
        assert!(matches!(
            without_maps.settle(Verdict::Apply),
            Err(TrainError::Order(_))
        ));
        without_maps.check().await.unwrap();
        assert!(matches!(
            without_maps.check().await,
            Err(TrainError::Order(_))
        ));
        assert!(matches!(
            without_maps.settle(Verdict::Undo { kept: 0 }),
            Err(TrainError::Order(_))
        ));
        with_maps.check().await.unwrap();
        assert_eq!(with_maps.settle(Verdict::Undo { kept: 2 }).unwrap(), None);
        assert_eq!(with_maps.steps_done(), 2);
        distilled.check().await.unwrap();
        assert_eq!(distilled.settle(Verdict::Cancel).unwrap(), None);
        assert_eq!(distilled.steps_done(), 3);
        // The KD run needs λ > 0 and a teacher map per clip; every run needs clips.
        let refused = |kd: bool, lambda: f32, data: ComparisonData| {
            let settings = StudentTraining {
                loss: KdLossConfig {
                    lambda,
                    ..KdLossConfig::default()
                },
                ..settings.clone()
            };
            ComparisonRun::new(&student, &settings, kd, data).is_err()
        };
        assert!(refused(true, 0.0, comparison_data(&student)));
        let no_maps = ComparisonData {
            teacher: None,
            ..comparison_data(&student)
        };
        assert!(refused(true, 0.5, no_maps));
        let no_clips = ComparisonData {
            train: Vec::new(),
            teacher: None,
            validation: Vec::new(),
        };
        assert!(refused(false, 0.5, no_clips));
    }
);

/// The loss sequence of a fixed-seed comparison, written natively by
/// `TEMPOKD_WRITE_FIXTURES=1 cargo test -p tempokd --test training the_same_seed`; in wasm it
/// must come out the same.
const LOSS_SEQUENCE: &str = include_str!("fixtures/training/comparison-losses.json");

/// wasm32 and x86-64 sum floats in different orders, and Adam's steps carry those last-bit
/// differences on; over six steps they stay below this share of each loss.
const RELATIVE_TOLERANCE: f32 = 5e-3;

async_test!(
    the_same_seed_gives_the_same_loss_sequence_natively_and_in_wasm,
    async {
        let (device, _turn) = device().await;
        let mut comparison = comparison(&device, 6, 3e-3).await;
        let mut losses: Vec<[f32; 2]> = Vec::new();
        for _ in 0..6 {
            let PlainAndKd {
                plain,
                kd: distilled,
            } = comparison.step().await.unwrap();
            losses.push([plain.loss, distilled.loss]);
        }
        #[cfg(not(target_arch = "wasm32"))]
        if std::env::var_os("TEMPOKD_WRITE_FIXTURES").is_some() {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/training/comparison-losses.json"
            );
            std::fs::write(path, serde_json::to_string_pretty(&losses).unwrap()).unwrap();
            return;
        }
        let expected: Vec<[f32; 2]> = serde_json::from_str(LOSS_SEQUENCE).unwrap();
        assert_eq!(losses.len(), expected.len(), "{losses:?}");
        let worst = losses
            .iter()
            .flatten()
            .zip(expected.iter().flatten())
            .map(|(got, want)| (got - want).abs() / want.abs())
            .fold(0.0, f32::max);
        assert!(
            worst < RELATIVE_TOLERANCE,
            "relative difference {worst}: {losses:?} vs {expected:?}"
        );
    }
);

/// The trainers natively on burn's wgpu backend (Vulkan, Metal or DX12; on a machine without a
/// GPU, Mesa's software Vulkan driver, which scripts/setup.sh installs) against the CPU backend:
/// from the same weights, on the same batches, three steps of every student with KD and of the
/// teacher take the same losses.
#[cfg(all(not(target_arch = "wasm32"), feature = "wgpu"))]
mod on_wgpu {
    use super::*;
    use tempokd::device::DeviceChoice;
    use tempokd::students::StudentFiles;
    use tempokd::teacher::TeacherFiles;
    use tempokd::train::StepReport;

    const STEPS: usize = 3;

    /// wgpu's preferred adapter, started once for the whole test binary; a machine without one
    /// fails here with the reason, not with a silent run on the CPU.
    fn wgpu() -> Device {
        static STARTED: std::sync::OnceLock<ComputeDevice> = std::sync::OnceLock::new();
        let device = STARTED.get_or_init(|| ComputeDevice::native(DeviceChoice::Wgpu(None)));
        assert!(
            device.is_gpu(),
            "{}: install a Vulkan driver (Debian: mesa-vulkan-drivers)",
            device.placement
        );
        device.device.clone()
    }

    /// Each step's loss terms agree to `tolerance` of the larger loss (at least 1).
    fn same_losses(on_cpu: &[StepReport], on_wgpu: &[StepReport], tolerance: f32, what: &str) {
        for (cpu, gpu) in on_cpu.iter().zip(on_wgpu) {
            let scale = cpu.loss.abs().max(gpu.loss.abs()).max(1.0);
            for (term, a, b) in [
                ("loss", cpu.loss, gpu.loss),
                ("task", cpu.task, gpu.task),
                ("kd", cpu.kd, gpu.kd),
            ] {
                assert!(
                    (a - b).abs() <= tolerance * scale,
                    "{what}, step {}: {term} {a} on the CPU, {b} on wgpu",
                    cpu.step
                );
            }
        }
        assert_eq!(on_cpu.len(), on_wgpu.len());
    }

    async fn student_steps(
        preset: Preset,
        files: (&str, &[u8]),
        device: &Device,
    ) -> Vec<StepReport> {
        let student = Student::load(
            StudentFiles {
                config: files.0,
                weights: files.1,
            },
            &device.clone().autodiff(),
        )
        .unwrap();
        let batch = batch(&student, true);
        let mut trainer = StudentTrainer::new(student, settings(0.5, 3e-3), false).unwrap();
        let mut reports = Vec::new();
        for _ in 0..STEPS {
            let report = trainer.step(&batch).await;
            reports.push(report.unwrap_or_else(|e| panic!("{}: {e}", preset.name())));
        }
        reports
    }

    /// A second wgpu device beside [`wgpu`]: the adapter of the CPU kind (on a machine without
    /// a GPU, the same software adapter, opened again as a device of its own).
    fn second_wgpu() -> Device {
        static STARTED: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
        STARTED
            .get_or_init(|| {
                let (device, _) = Device::wgpu_options()
                    .device_kind(burn::tensor::DeviceKind::Cpu)
                    .init_with_setup()
                    .expect("a second wgpu device: install Mesa's software Vulkan driver");
                device
            })
            .clone()
    }

    /// A batch split over two wgpu devices takes the steps the CPU takes on the whole batch:
    /// each part's gradients come back to the first device through burn's optimiser.
    #[test]
    fn a_student_trains_over_two_wgpu_devices_as_on_one_cpu() {
        let (cpu, _turn) = pollster::block_on(device());
        cpu.seed(3);
        let mut config = Preset::Crnn.config(labels());
        if let Architecture::Crnn(layout) = &mut config.arch {
            layout.dropout = 0.0;
        }
        let made = Student::new(config, &cpu).unwrap();
        let (config, weights) = pollster::block_on(made.save()).unwrap();
        let run = |device: &Device, replicas: Vec<Device>| {
            let student = Student::load(
                StudentFiles {
                    config: &config,
                    weights: &weights,
                },
                &device.clone().autodiff(),
            )
            .unwrap();
            let batch = batch(&student, true);
            let mut trainer = StudentTrainer::new(student, settings(0.5, 3e-3), false)
                .unwrap()
                .data_parallel(replicas)
                .unwrap();
            (0..STEPS)
                .map(|_| pollster::block_on(trainer.step(&batch)).unwrap())
                .collect::<Vec<_>>()
        };
        let on_cpu = run(&cpu, Vec::new());
        let on_two = run(&wgpu(), vec![second_wgpu().autodiff()]);
        same_losses(&on_cpu, &on_two, 1e-3, "CRNN over two wgpu devices");

        // With batch norm, each part normalises by its own statistics (so no equality), the
        // running statistics stay on the first device, and the trained student runs there.
        let student = Student::new(Preset::TcResNet8.config(labels()), &wgpu().autodiff()).unwrap();
        let batch = batch(&student, true);
        let mut trainer = StudentTrainer::new(student, settings(0.5, 3e-3), false)
            .unwrap()
            .data_parallel(vec![second_wgpu().autodiff()])
            .unwrap();
        for _ in 0..STEPS {
            let report = pollster::block_on(trainer.step(&batch)).unwrap();
            assert!(report.loss.is_finite());
        }
        let trained = trainer.student().unwrap();
        let clip: Vec<f32> = (0..16_000).map(|n| (n as f32 * 0.05).sin()).collect();
        let read = pollster::block_on(trained.infer(&clip, AttentionRequest::None)).unwrap();
        assert!(read.prediction.logits.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn every_student_trains_on_wgpu_as_on_the_cpu() {
        for preset in Preset::PAPER {
            let (cpu, _turn) = pollster::block_on(device());
            let made = pollster::block_on(student(preset, &cpu));
            let (config, weights) = pollster::block_on(made.save()).unwrap();
            // Dropout draws its masks per backend; without it both runs compute the same thing.
            let mut config: serde_json::Value = serde_json::from_str(&config).unwrap();
            if let Some(dropout) = config["layout"].get_mut("dropout") {
                *dropout = 0.0.into();
            }
            let config = config.to_string();
            let files = (config.as_str(), weights.as_slice());
            let on_cpu = pollster::block_on(student_steps(preset, files, &cpu));
            let on_wgpu = pollster::block_on(student_steps(preset, files, &wgpu()));
            same_losses(&on_cpu, &on_wgpu, 1e-3, preset.name());
        }
    }

    fn teacher_steps(files: TeacherFiles<'_>, device: &Device) -> Vec<StepReport> {
        let teacher = Teacher::load(files, &device.clone().autodiff()).unwrap();
        let batch = tones();
        let mut trainer = TeacherTrainer::new(teacher, &teacher_settings(STEPS), false).unwrap();
        (0..STEPS)
            .map(|_| pollster::block_on(trainer.step(&batch)).unwrap())
            .collect()
    }

    #[test]
    fn the_teacher_trains_on_wgpu_as_on_the_cpu() {
        let (cpu, _turn) = pollster::block_on(device());
        let teacher = Teacher::random(teacher_config(), 4, &cpu).unwrap();
        let (config, preprocessor, weights) = pollster::block_on(teacher.save()).unwrap();
        let files = || TeacherFiles {
            config: &config,
            preprocessor: Some(&preprocessor),
            weights: &weights,
        };
        let on_cpu = teacher_steps(files(), &cpu);
        let on_wgpu = teacher_steps(files(), &wgpu());
        same_losses(&on_cpu, &on_wgpu, 1e-3, "teacher");
    }
}

// Data parallel: a batch split over two devices (here the CPU twice: what is tested is the
// splitting, the weighting of each part's loss and burn's summing of the parts' gradients)
// takes the steps one device takes on the whole batch, for students without batch norm or
// dropout (with temporal KD and logit KD, whose targets are split with the clips) and for the
// teacher, whose batch of three splits unevenly.
async_test!(data_parallel_steps_equal_one_device, async {
    let (device, _turn) = device().await;
    let tolerance = |a: f32, b: f32| (a - b).abs() <= 1e-5 * a.abs().max(1.0);
    for preset in [Preset::LstmP, Preset::Crnn] {
        let mut config = preset.config(labels());
        match &mut config.arch {
            Architecture::LstmP(layout) => layout.dropout = 0.0,
            Architecture::Crnn(layout) => layout.dropout = 0.0,
            _ => unreachable!("the presets above"),
        }
        // Both runs start from these weights, whatever other tests draw meanwhile.
        let (config, weights) = Student::new(config, &device).unwrap().save().await.unwrap();
        let steps = |replicas: Vec<Device>| {
            let device = device.clone();
            let (config, weights) = (&config, &weights);
            async move {
                let files = tempokd::students::StudentFiles { config, weights };
                let student = Student::load(files, &device.clone().autodiff()).unwrap();
                let mut batch = batch(&student, true);
                let classes = student.config().classes();
                batch.teacher_logits = Some(
                    (0..batch.clips * classes)
                        .map(|i| (i % 5) as f32 * 0.3)
                        .collect(),
                );
                let mut settings = settings(0.5, 3e-3);
                settings.logit_kd = Some(tempokd::train::LogitKd {
                    weight: 0.5,
                    temperature: 2.0,
                });
                let mut trainer = StudentTrainer::new(student, settings, false)
                    .unwrap()
                    .data_parallel(replicas)
                    .unwrap();
                let mut reports = Vec::new();
                for _ in 0..3 {
                    reports.push(trainer.step(&batch).await.unwrap());
                }
                let student = trainer.student().unwrap();
                let probe: Vec<f32> = (0..16_000).map(|n| (n as f32 * 0.05).sin()).collect();
                let read = student.infer(&probe, AttentionRequest::None).await.unwrap();
                (reports, read.prediction.logits)
            }
        };
        let (one, one_logits) = steps(Vec::new()).await;
        let (two, two_logits) = steps(vec![device.clone().autodiff()]).await;
        for (a, b) in one.iter().zip(&two) {
            for (x, y) in [
                (a.loss, b.loss),
                (a.task, b.task),
                (a.kd, b.kd),
                (a.logit_kd, b.logit_kd),
            ] {
                assert!(
                    tolerance(x, y),
                    "{preset:?} step {}: {a:?} against {b:?}",
                    a.step
                );
            }
            assert_eq!(a.accuracy, b.accuracy);
        }
        for (x, y) in one_logits.iter().zip(&two_logits) {
            assert!(
                tolerance(*x, *y),
                "{preset:?}: {one_logits:?} against {two_logits:?}"
            );
        }
    }

    let teacher_steps = |replicas: Vec<Device>| {
        let device = device.clone();
        async move {
            let teacher = Teacher::random(teacher_config(), 4, &device.clone().autodiff()).unwrap();
            let mut trainer = TeacherTrainer::new(teacher, &teacher_settings(3), false)
                .unwrap()
                .data_parallel(replicas)
                .unwrap();
            let mut losses = Vec::new();
            for _ in 0..3 {
                losses.push(trainer.step(&tones()).await.unwrap().loss);
            }
            let (_, _, weights) = trainer.teacher().unwrap().save().await.unwrap();
            (losses, weights)
        }
    };
    let (one, one_weights) = teacher_steps(Vec::new()).await;
    let (two, two_weights) = teacher_steps(vec![device.clone().autodiff()]).await;
    for (x, y) in one.iter().zip(&two) {
        assert!(tolerance(*x, *y), "teacher: {one:?} against {two:?}");
    }
    for key in [
        "wav2vec2.encoder.layers.0.attention.q_proj.weight",
        "classifier.weight",
    ] {
        let difference = common::max_difference(
            &common::fixture_floats(&one_weights, key),
            &common::fixture_floats(&two_weights, key),
        );
        assert!(difference <= 1e-5, "teacher {key}: {difference}");
    }
});
