//! A run stopped part way and resumed ends exactly where the uninterrupted run ends: the same
//! losses at every step, the same best step and the same weights, for a student with dropout and
//! SpecAugment and for the teacher. A saved state from other settings is refused. A run whose
//! clips are streamed from disk (student or teacher) is the run loaded into memory, and a clip lost
//! or changed mid-run stops it with the clip's name.
#![cfg(not(target_family = "wasm"))]

mod common;
mod tiny_teacher;

use common::scratch_dir;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use tempokd::data::Dataset;
use tempokd::data::augment::Augmentation;
use tempokd::device::ComputeDevice;
use tempokd::kd::KdLossConfig;
use tempokd::students::{Precision, Preset, Student};
use tempokd::teacher::Teacher;
use tempokd::train::run::{self, Progress, RunPlan, TeacherGuide, Trained};
use tempokd::train::{
    ClipLoading, FolderMapStore, LrSchedule, RESUME_DIR, SpecAugment, StudentTraining,
    TeacherTraining, TrainError,
};
use tiny_teacher::tiny_teacher_config;

const LABELS: [&str; 3] = ["low", "mid", "high"];

/// burn's CPU generator (initialisation, dropout) is one for the process: the tests take turns.
fn turn() -> MutexGuard<'static, ()> {
    static GENERATOR: Mutex<()> = Mutex::new(());
    GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One-second tones, a pitch per class with a different start phase and level per clip: four
/// training and two validation clips per class.
fn tone_dataset(dir: &Path) -> Dataset {
    tone_dataset_of(dir, &[16_000])
}

/// [`tone_dataset`] with the clips' lengths (in samples) taken in turn from `lengths`.
fn tone_dataset_of(dir: &Path, lengths: &[usize]) -> Dataset {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut manifest = String::from("file,label,split\n");
    for (class, label) in LABELS.iter().enumerate() {
        for clip in 0..6 {
            let split = if clip < 4 { "train" } else { "validation" };
            let file = format!("{label}-{clip}.wav");
            let mut writer = hound::WavWriter::create(dir.join(&file), spec).unwrap();
            let hz = 300.0 + 600.0 * class as f32;
            let level = 0.2 + 0.1 * clip as f32;
            for n in 0..lengths[clip % lengths.len()] {
                let phase = std::f32::consts::TAU * hz * n as f32 / 16_000.0 + clip as f32;
                writer
                    .write_sample((level * phase.sin() * 32_000.0) as i16)
                    .unwrap();
            }
            writer.finalize().unwrap();
            manifest.push_str(&format!("{file},{label},{split}\n"));
        }
    }
    std::fs::write(dir.join("manifest.csv"), manifest).unwrap();
    Dataset::open(dir).unwrap()
}

/// Plans that save every two steps and stop after step `after`, if given.
struct Stopper {
    stop: AtomicBool,
    after: Option<usize>,
    loading: ClipLoading,
}

impl Stopper {
    fn new(after: Option<usize>) -> Self {
        Self {
            stop: AtomicBool::new(false),
            after,
            loading: ClipLoading::Memory,
        }
    }

    /// The same plan with the clips streamed from disk.
    fn streamed(after: Option<usize>) -> Self {
        Self {
            loading: ClipLoading::Stream,
            ..Self::new(after)
        }
    }

    fn plan(&self, out: &Path, resume: bool) -> RunPlan<'_> {
        RunPlan {
            eval_every: 2,
            save_to: Some(out.join(RESUME_DIR)),
            resume,
            stop: Some(&self.stop),
            replicas: Vec::new(),
            loading: self.loading,
        }
    }

    fn watch(&self, progress: Progress<'_>) {
        if let Progress::Step { report, .. } = progress
            && Some(report.step) == self.after
        {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

fn training_device() -> burn::tensor::Device {
    let device = ComputeDevice::cpu("the test's").device.autodiff();
    device.seed(0);
    device
}

fn student_settings(seed: u64) -> StudentTraining {
    StudentTraining {
        steps: 7,
        batch_size: 4,
        schedule: LrSchedule {
            initial: 3e-3,
            after_step: 3e-4,
            step_at: 0.75,
            warmup_steps: 0,
        },
        loss: KdLossConfig {
            lambda: 0.0,
            ..KdLossConfig::default()
        },
        spec_augment: Some(SpecAugment::default()),
        seed,
        ..StudentTraining::default()
    }
}

fn train_student(
    dataset: &Dataset,
    out: &Path,
    stopper: &Stopper,
    resume: bool,
    seed: u64,
) -> Result<Trained<Student>, TrainError> {
    let labels: Vec<String> = LABELS.iter().map(|l| l.to_string()).collect();
    // CRNN: dropout between its recurrent layer and classifier.
    let student = Student::new(Preset::Crnn.config(labels), &training_device()).unwrap();
    run::train_student(
        dataset,
        student,
        student_settings(seed),
        None,
        &stopper.plan(out, resume),
        &mut |p| stopper.watch(p),
    )
}

/// The tone dataset in `root` and a student run in `root/run` stopped after step 3 of 7.
fn student_stopped_after_step_3(root: &Path) -> (Dataset, PathBuf) {
    let dataset = tone_dataset(root);
    let out = root.join("run");
    let stopped = train_student(&dataset, &out, &Stopper::new(Some(3)), false, 1);
    assert!(matches!(stopped, Err(TrainError::Paused { step: 3, .. })));
    (dataset, out)
}

fn student_weights(trained: &Trained<Student>, dir: &Path) -> Vec<u8> {
    pollster::block_on(trained.model.save_dir(dir, Precision::F32)).unwrap();
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

#[test]
fn a_stopped_student_resumes_to_the_uninterrupted_end() {
    let _turn = turn();
    let root = scratch_dir("tempokd-resume-student");
    let dataset = tone_dataset(&root);
    let (whole_dir, parts_dir) = (root.join("whole"), root.join("parts"));
    let whole = train_student(&dataset, &whole_dir, &Stopper::new(None), false, 1).unwrap();

    let stopped = train_student(&dataset, &parts_dir, &Stopper::new(Some(3)), false, 1);
    match stopped {
        Err(TrainError::Paused {
            step: 3, total: 7, ..
        }) => {}
        Err(other) => panic!("expected a pause after step 3, got {other}"),
        Ok(_) => panic!("the run did not stop"),
    }
    let refused = train_student(&dataset, &parts_dir, &Stopper::new(None), true, 2);
    let said = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(said.contains("other settings"), "{said}");

    let resumed = train_student(&dataset, &parts_dir, &Stopper::new(None), true, 1).unwrap();
    assert_eq!(resumed.resumed_at, [3]);
    assert_eq!(resumed.history, whole.history);
    assert_eq!(resumed.validations.len(), whole.validations.len());
    assert_eq!(resumed.best_step, whole.best_step);
    assert_eq!(
        student_weights(&resumed, &parts_dir.join("model")),
        student_weights(&whole, &whole_dir.join("model")),
        "the resumed run's weights differ"
    );
}

#[test]
fn a_stopped_teacher_resumes_to_the_uninterrupted_end() {
    let _turn = turn();
    let root = scratch_dir("tempokd-resume-teacher");
    let dataset = tone_dataset(&root);
    let config = tiny_teacher_config(&LABELS);
    let settings = TeacherTraining {
        steps: 6,
        batch_size: 4,
        schedule: LrSchedule {
            initial: 2e-3,
            after_step: 2e-4,
            step_at: 0.8,
            warmup_steps: 2,
        },
        seed: 4,
        // Fine-tuning's frozen feature encoder stays frozen after a resume.
        freeze_feature_encoder: true,
        // The effects drawn after a resume are those the uninterrupted run drew.
        fresh_effects: Augmentation::all(),
        // And so are the dropout masks.
        dropout: 0.1,
    };
    let train_with = |settings: &TeacherTraining, out: &Path, stopper: &Stopper, resume: bool| {
        let teacher = Teacher::random(config.clone(), 4, &training_device()).unwrap();
        let rollout = teacher.default_rollout();
        run::train_teacher(
            &dataset,
            teacher,
            settings,
            &rollout,
            &stopper.plan(out, resume),
            &mut |p| stopper.watch(p),
        )
    };
    let train =
        |out: &Path, stopper: &Stopper, resume: bool| train_with(&settings, out, stopper, resume);
    let weights = |trained: &Trained<Teacher>, dir: &Path| {
        pollster::block_on(trained.model.save_dir(dir)).unwrap();
        std::fs::read(dir.join("model.safetensors")).unwrap()
    };
    let (whole_dir, parts_dir) = (root.join("whole"), root.join("parts"));
    let whole = train(&whole_dir, &Stopper::new(None), false).unwrap();
    let stopped = train(&parts_dir, &Stopper::new(Some(4)), false);
    assert!(
        matches!(stopped, Err(TrainError::Paused { step: 4, .. })),
        "expected a pause after step 4"
    );
    let resumed = train(&parts_dir, &Stopper::new(None), true).unwrap();
    assert_eq!(resumed.resumed_at, [4]);
    assert_eq!(resumed.history, whole.history);
    assert_eq!(resumed.best_step, whole.best_step);
    assert_eq!(
        weights(&resumed, &parts_dir.join("model")),
        weights(&whole, &whole_dir.join("model")),
        "the resumed run's weights differ"
    );

    let without_effects = TeacherTraining {
        fresh_effects: Augmentation::none(),
        ..settings.clone()
    };
    let plain = train_with(
        &without_effects,
        &root.join("plain"),
        &Stopper::new(None),
        false,
    );
    assert_ne!(
        plain.unwrap().history,
        whole.history,
        "the fresh effects changed nothing"
    );

    let streamed_dir = root.join("streamed");
    let streamed = train(&streamed_dir, &Stopper::streamed(None), false).unwrap();
    assert_eq!(streamed.history, whole.history);
    assert_eq!(streamed.validations, whole.validations);
    assert_eq!(
        weights(&streamed, &streamed_dir.join("model")),
        weights(&whole, &whole_dir.join("model")),
        "the streamed run's weights differ"
    );
}

/// A saved run that was edited or damaged is refused with the reason, never obeyed or allowed
/// to panic: a step past the run's end, reports that do not fit the step, a batch order that
/// is not of this train split, an unreadable model, best model or optimiser state.
#[test]
fn a_damaged_saved_run_is_refused_not_obeyed() {
    let _turn = turn();
    let root = scratch_dir("tempokd-resume-damaged");
    let (dataset, out) = student_stopped_after_step_3(&root);
    let saved = out.join(RESUME_DIR);
    let state_path = saved.join("state.json");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let resumed_with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut edited = state.clone();
        edit(&mut edited);
        std::fs::write(&state_path, edited.to_string()).unwrap();
        let result = train_student(&dataset, &out, &Stopper::new(None), true, 1);
        result.err().map(|e| e.to_string()).unwrap_or_default()
    };
    type Edit<'a> = &'a dyn Fn(&mut serde_json::Value);
    let cases: [(Edit<'_>, &str); 4] = [
        (
            &|s| s["step"] = serde_json::json!(u64::MAX),
            "not before the run's last",
        ),
        (
            &|s| s["step"] = serde_json::json!(2),
            "steps' reports for step 2",
        ),
        (
            &|s| s["order"]["queue"] = serde_json::json!([[]]),
            "a batch of 0 clips",
        ),
        (
            &|s| s["order"]["queue"] = serde_json::json!([[0, 99]]),
            "not of clips of one length",
        ),
    ];
    for (edit, why) in cases {
        let said = resumed_with(edit);
        assert!(said.contains(why), "expected `{why}`: {said}");
    }
    std::fs::write(&state_path, state.to_string()).unwrap();
    for file in ["model.bpk", "best.bpk"] {
        let kept = std::fs::read(saved.join(file)).unwrap();
        let half = &kept[..kept.len() / 2];
        for bytes in [&b"not a model"[..], &[0u8; 64][..], half] {
            std::fs::write(saved.join(file), bytes).unwrap();
            let result = train_student(&dataset, &out, &Stopper::new(None), true, 1);
            let said = result.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(said.contains(file), "{file}: {said}");
        }
        std::fs::write(saved.join(file), kept).unwrap();
    }
    for bytes in [&b"not an optimiser"[..], &[0u8; 64][..]] {
        std::fs::write(saved.join("optimizer.bpk"), bytes).unwrap();
        let result = train_student(&dataset, &out, &Stopper::new(None), true, 1);
        let said = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(said.contains("optimizer.bpk"), "{said}");
    }
}

/// A stop asked while the data is still loading ends the run before any step and leaves the
/// saved run as it was.
#[test]
fn a_stop_while_loading_leaves_the_saved_run_as_it_was() {
    let _turn = turn();
    let root = scratch_dir("tempokd-resume-loading");
    let (dataset, out) = student_stopped_after_step_3(&root);
    let state_path = out.join(RESUME_DIR).join("state.json");
    let saved = std::fs::read(&state_path).unwrap();
    let stopper = Stopper::new(None);
    stopper.stop.store(true, Ordering::Relaxed);
    let result = train_student(&dataset, &out, &stopper, true, 1);
    assert!(
        matches!(result, Err(TrainError::Stopped)),
        "a stop while loading"
    );
    assert_eq!(std::fs::read(&state_path).unwrap(), saved);
}

/// Streamed from disk, a student run on clips of two lengths (so of two batch buckets) takes
/// the loaded run's every step, scoring and weights, without and with KD, and says how long its
/// steps waited for clips; stopped while streamed, it resumes loaded to the same end.
#[test]
fn a_streamed_student_is_the_loaded_one() {
    let _turn = turn();
    let root = scratch_dir("tempokd-stream-student");
    let dataset = tone_dataset_of(&root, &[16_000, 24_000]);
    let run = |dir: &str, stopper: &Stopper, resume: bool| {
        train_student(&dataset, &root.join(dir), stopper, resume, 1)
    };
    let loaded = run("loaded", &Stopper::new(None), false).unwrap();
    let streamed = run("streamed", &Stopper::streamed(None), false).unwrap();
    assert_eq!(streamed.history, loaded.history);
    assert_eq!(streamed.validations, loaded.validations);
    assert_eq!(streamed.best_step, loaded.best_step);
    assert_eq!(
        student_weights(&streamed, &root.join("streamed-model")),
        student_weights(&loaded, &root.join("loaded-model")),
        "the streamed run's weights differ"
    );
    assert_eq!(loaded.times.waiting_s, None);
    assert!(streamed.times.waiting_s.is_some_and(|s| s >= 0.0));

    // With KD, the teacher's maps of the training clips are found by the same clips' indices.
    let config = tiny_teacher_config(&LABELS);
    let teacher = Teacher::random(config, 4, &ComputeDevice::cpu("the test's").device).unwrap();
    let guide = TeacherGuide {
        rollout: teacher.default_rollout(),
        teacher,
        fingerprint: "tiny".into(),
        store: FolderMapStore {
            dir: root.join("maps"),
        },
    };
    let with_kd = |dir: &str, stopper: &Stopper| {
        let labels: Vec<String> = LABELS.iter().map(|l| l.to_string()).collect();
        let student = Student::new(Preset::Crnn.config(labels), &training_device()).unwrap();
        let settings = StudentTraining {
            loss: KdLossConfig {
                lambda: 0.5,
                ..KdLossConfig::default()
            },
            ..student_settings(1)
        };
        let plan = stopper.plan(&root.join(dir), false);
        run::train_student(
            &dataset,
            student,
            settings,
            Some(&guide),
            &plan,
            &mut |_| {},
        )
        .unwrap()
    };
    let loaded_kd = with_kd("kd-loaded", &Stopper::new(None));
    let streamed_kd = with_kd("kd-streamed", &Stopper::streamed(None));
    assert!(loaded_kd.history.iter().all(|report| report.kd > 0.0));
    assert_eq!(streamed_kd.history, loaded_kd.history);
    assert_eq!(
        student_weights(&streamed_kd, &root.join("kd-streamed-model")),
        student_weights(&loaded_kd, &root.join("kd-loaded-model")),
        "the streamed KD run's weights differ"
    );

    let stopped = run("parts", &Stopper::streamed(Some(3)), false);
    assert!(matches!(stopped, Err(TrainError::Paused { step: 3, .. })));
    let resumed = run("parts", &Stopper::new(None), true).unwrap();
    assert_eq!(resumed.history, loaded.history);
    assert_eq!(
        student_weights(&resumed, &root.join("parts-model")),
        student_weights(&loaded, &root.join("loaded-model")),
    );
}

/// Puts a copy of `from` in the place of `to` at once (a rename), so a thread reading `to`
/// meanwhile reads the old file or the new one, never half of one.
fn replace(from: &Path, to: &Path) {
    let copy = to.with_extension("new");
    std::fs::copy(from, &copy).unwrap();
    std::fs::rename(&copy, to).unwrap();
}

/// A training or validation clip that disappears, or whose length changes, once a streamed run
/// has started ends the run with an error naming it (whichever thread reads it), not a hang, a
/// panic, or a batch of mixed lengths.
#[test]
fn a_clip_lost_or_changed_mid_stream_ends_the_run_with_its_name() {
    let _turn = turn();
    let longer = scratch_dir("tempokd-stream-longer");
    tone_dataset_of(&longer, &[24_000]);
    type Change<'a> = &'a dyn Fn(&Path);
    let cases: [(&str, Change<'_>, &str); 3] = [
        (
            "mid-2.wav",
            &|root| std::fs::remove_file(root.join("mid-2.wav")).unwrap(),
            "No such file",
        ),
        (
            "high-1.wav",
            &|root| replace(&longer.join("high-1.wav"), &root.join("high-1.wav")),
            "changed on disk",
        ),
        (
            "low-4.wav",
            &|root| replace(&longer.join("low-4.wav"), &root.join("low-4.wav")),
            "changed on disk",
        ),
    ];
    for (clip, change, why) in cases {
        let root = scratch_dir("tempokd-stream-changed");
        let dataset = tone_dataset(&root);
        let settings = StudentTraining {
            // Three epochs of three batches after the change: one of them reads the clip, and
            // the scoring after step 2 reads every validation clip.
            steps: 12,
            ..student_settings(1)
        };
        let labels: Vec<String> = LABELS.iter().map(|l| l.to_string()).collect();
        let student = Student::new(Preset::Crnn.config(labels), &training_device()).unwrap();
        let result = run::train_student(
            &dataset,
            student,
            settings,
            None,
            &Stopper::streamed(None).plan(&root.join("run"), false),
            &mut |p| {
                if let Progress::Step { report, .. } = p
                    && report.step == 1
                {
                    change(&root);
                }
            },
        );
        let said = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(said.contains(clip) && said.contains(why), "{clip}: {said}");
    }
}

/// A data-parallel run whose second device is lost part way (its wgpu device destroyed, as a
/// driver reset or a GPU taken away would) ends at once with an error that names the device,
/// the step and where the run was last saved, not with a hang or a panic; resumed on the first
/// device alone it goes on from that save to the end.
#[cfg(feature = "wgpu")]
#[test]
fn a_device_lost_mid_run_ends_it_naming_the_device_and_the_save_to_go_on_from() {
    use burn::tensor::{Device, DeviceKind};
    let _turn = turn();
    // On a machine without a GPU both are Mesa's software Vulkan driver; the second is started
    // here, the only one in this binary, so that its wgpu device can be destroyed.
    let first = Device::wgpu(DeviceKind::DefaultDevice);
    let (second, second_setup) = Device::wgpu_options()
        .device_kind(DeviceKind::Cpu)
        .init_with_setup()
        .expect("a wgpu device: install Mesa's software Vulkan driver");
    let root = scratch_dir("tempokd-device-lost");
    let dataset = tone_dataset(&root);
    let out = root.join("run");
    let labels: Vec<String> = LABELS.iter().map(|l| l.to_string()).collect();
    let run = |replicas: Vec<Device>, resume: bool, lose_after: Option<usize>| {
        let student = Student::new(
            Preset::TcResNet8.config(labels.clone()),
            &first.clone().autodiff(),
        )
        .unwrap();
        let stopper = Stopper::new(None);
        let plan = RunPlan {
            replicas,
            ..stopper.plan(&out, resume)
        };
        run::train_student(
            &dataset,
            student,
            student_settings(1),
            None,
            &plan,
            &mut |p| {
                if let Progress::Step { report, .. } = p
                    && Some(report.step) == lose_after
                {
                    second_setup.device.destroy();
                }
            },
        )
    };
    // Saved after step 2 (every two steps), the device lost after step 3.
    let lost = run(vec![second.autodiff()], false, Some(3));
    let said = match lost {
        Err(error @ TrainError::DeviceFailed { step: 4, .. }) => error.to_string(),
        Err(other) => panic!("expected the device's failure at step 4, got {other}"),
        Ok(_) => panic!("the run went on without its lost device"),
    };
    let saved_in = out.join(RESUME_DIR).display().to_string();
    for told in [
        "device 2 of the 2",
        "at step 4",
        "after step 2",
        saved_in.as_str(),
    ] {
        assert!(said.contains(told), "{told:?} not in: {said}");
    }
    assert!(!said.contains('\n'), "not one line: {said}");

    let resumed = run(Vec::new(), true, None).unwrap();
    assert_eq!(resumed.resumed_at, [2]);
    assert_eq!(resumed.history.len(), 7);
}
