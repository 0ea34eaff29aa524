//! The worker's trainer: fetches the teacher, the student and the keyword pack, mixes the pack
//! into noisy clips, takes the teacher's maps of them from the browser's cache (or computes and
//! stores them), then trains the student twice side by side, without and with KD, one step at a
//! time, yielding between steps so the page's pause, resume and stop arrive.

use super::device::PendingDevice;
use super::fetch::fetch_bytes;
use super::map_store::BrowserMapStore;
use super::model_files::model_files;
use super::protocol::{
    Probe, Response, RunScore, SavedStudent, Steer, StepPoint, TimeMap, TrainRequest,
    TrainSettings, TrainingEnd, TrainingEvent,
};
use super::yielding::yield_to_messages;
use futures::StreamExt;
use gloo_timers::future::TimeoutFuture;
use std::borrow::Cow;
use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use tempokd::audio::{Features, MODEL_SAMPLE_RATE, decode_pcm16_mono};
use tempokd::data::pack::{KeywordPack, PackClip, PackMix};
use tempokd::data::{Manifest, Split};
use tempokd::device::ComputeDevice;
use tempokd::kd::{KdLossConfig, KdTarget, PlainAndKd, RolloutConfig};
use tempokd::students::{self, Student};
use tempokd::teacher::{Teacher, TeacherFiles};
use tempokd::train::{
    ComparisonData, ComparisonScore, KdComparison, LabelledClip, LrSchedule, MapClip, SpecAugment,
    StepReport, StudentTraining, TeacherTarget, TrainError, clip_key, fingerprint, teacher_maps,
    teacher_target,
};

/// Pack clips fetched at once.
const PARALLEL_FETCHES: usize = 8;

/// Runs one training request to its end, reporting as it goes.
pub async fn train(
    request: TrainRequest,
    device: PendingDevice,
    steering: Rc<Cell<Steer>>,
    report: impl Fn(TrainingEvent) + Clone + 'static,
) {
    let device = device.await;
    let prepared = match prepare(&request, &device, &steering, &report).await {
        Ok(prepared) => prepared,
        Err(message) => return report(TrainingEvent::Failed { message }),
    };
    if let Err(message) = run(prepared, &request.settings, &steering, &report).await {
        report(TrainingEvent::Failed { message });
    }
}

/// Everything a run needs, ready on the device.
struct Prepared {
    comparison: KdComparison,
    /// Index of the probe among the validation clips, and its features (for its time axis).
    probe: (usize, Features),
    student: students::StudentConfig,
}

async fn prepare(
    request: &TrainRequest,
    device: &ComputeDevice,
    steering: &Cell<Steer>,
    report: &impl Fn(TrainingEvent),
) -> Result<Prepared, String> {
    let preparing = |stage: &str, done: usize, total: usize| {
        report(TrainingEvent::Preparing {
            stage: stage.to_string(),
            done,
            total,
        })
    };
    let models = load_models(request, device, &preparing).await?;
    let clips = mix_clips(request, models.student.labels(), &preparing).await?;
    let rollout = models.teacher.default_rollout();
    let target = KdTarget::default_for(rollout.row);
    let (maps, cached_maps) =
        training_maps(&models, &clips.train, &rollout, steering, &preparing).await?;
    let student = &models.student;
    let labelled = |clips: &[PackClip]| -> Result<Vec<LabelledClip<Features>>, String> {
        (clips.iter())
            .map(|clip| {
                Ok(LabelledClip {
                    input: student.features(&clip.samples).map_err(|e| e.to_string())?,
                    targets: vec![clip.target],
                    window: clip.window,
                })
            })
            .collect()
    };
    let train = labelled(&clips.train)?;
    let validation = labelled(&clips.validation)?;
    let (probe_index, watched) = probe(&models, &clips.validation, &rollout, target).await?;
    let probe_features = validation[probe_index].input.clone();
    report(TrainingEvent::Started {
        device: device.placement.clone(),
        train_clips: train.len(),
        validation_clips: validation.len(),
        cached_maps,
        probe: watched,
    });
    let comparison = KdComparison::new(
        student,
        student_training(&request.settings, target),
        ComparisonData {
            train,
            teacher: Some(maps),
            validation,
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(Prepared {
        comparison,
        probe: (probe_index, probe_features),
        student: student.config().clone(),
    })
}

/// The teacher and the student (on the autodiff device), with the teacher's fingerprint (its
/// files and rollout settings), under which its maps are cached.
struct RunModels {
    teacher: Teacher,
    fingerprint: String,
    student: Student,
}

async fn load_models(
    request: &TrainRequest,
    device: &ComputeDevice,
    preparing: &impl Fn(&str, usize, usize),
) -> Result<RunModels, String> {
    // The page shows the training's own progress, not each file's.
    let ignore = |_: Response| {};
    preparing("models", 0, 2);
    let (teacher_config, teacher_weights, preprocessor) =
        model_files(request.teacher.clone(), &ignore).await?;
    let teacher = Teacher::load(
        TeacherFiles {
            config: &teacher_config,
            preprocessor: preprocessor.as_deref(),
            weights: &teacher_weights,
        },
        &device.device,
    )
    .map_err(|e| format!("The teacher could not be loaded: {e}"))?;
    preparing("models", 1, 2);
    let (student_config, student_weights, _) =
        model_files(request.student.clone(), &ignore).await?;
    let student = Student::load(
        students::StudentFiles {
            config: &student_config,
            weights: &student_weights,
        },
        &device.device.clone().autodiff(),
    )
    .map_err(|e| format!("The student could not be loaded: {e}"))?;
    preparing("models", 2, 2);
    if teacher.labels() != student.labels() {
        return Err(format!(
            "The teacher's labels ({}) are not the student's ({}); pick a student of the same task.",
            teacher.labels().join(", "),
            student.labels().join(", ")
        ));
    }
    let fingerprint = fingerprint(
        &[teacher_config.as_bytes(), &teacher_weights],
        &teacher.default_rollout(),
    );
    Ok(RunModels {
        teacher,
        fingerprint,
        student,
    })
}

/// The pack's words (and the visitor's own) placed in noise, as training and validation clips.
struct MixedClips {
    train: Vec<PackClip>,
    validation: Vec<PackClip>,
}

async fn mix_clips(
    request: &TrainRequest,
    labels: &[String],
    preparing: &impl Fn(&str, usize, usize),
) -> Result<MixedClips, String> {
    let mut pack = fetch_pack(&request.pack, preparing).await?;
    let settings = &request.settings;
    for recording in &request.recordings {
        pack.add_recording(&recording.label, &recording.samples, settings.length_s)
            .map_err(|e| format!("A recording of “{}”: {e}", recording.label))?;
    }
    let mix = PackMix {
        length_s: settings.length_s,
        snr_db: settings.snr_db,
        copies: settings.copies,
        seed: settings.seed,
    };
    let mixed = |splits: &[Split]| pack.mix(splits, labels, &mix).map_err(|e| e.to_string());
    Ok(MixedClips {
        train: mixed(&[Split::Train])?,
        validation: mixed(&[Split::Validation, Split::Test])?,
    })
}

/// The teacher's map of every training clip, from the browser's cache where it has them;
/// the rest computed in batches of one length, yielding to the page between batches (a stop
/// asked for meanwhile ends it). Also whether every map came from the cache.
async fn training_maps<'c>(
    models: &RunModels,
    clips: &'c [PackClip],
    rollout: &RolloutConfig,
    steering: &Cell<Steer>,
    preparing: &impl Fn(&str, usize, usize),
) -> Result<(Vec<TeacherTarget>, bool), String> {
    let map_clips: Vec<MapClip> = (clips.iter().enumerate())
        .map(|(index, clip)| {
            // Keyed by the audio alone: the same clip at another place in the list is found.
            let audio: Vec<u8> = clip.samples.iter().flat_map(|v| v.to_le_bytes()).collect();
            MapClip {
                name: format!("training clip {}", index + 1),
                key: clip_key("pack clip", &audio),
            }
        })
        .collect();
    let read = |index: usize| -> Result<Cow<'c, [f32]>, TrainError> {
        Ok(Cow::Borrowed(clips[index].samples.as_slice()))
    };
    let between = async |done: usize, total: usize| -> Result<(), TrainError> {
        if steering.get() == Steer::Stop {
            return Err(TrainError::Stopped);
        }
        preparing("teacher maps", done, total);
        // Lets the page's messages in between batches.
        yield_to_messages().await;
        Ok(())
    };
    let maps = teacher_maps(
        &models.teacher,
        rollout,
        &models.fingerprint,
        &map_clips,
        read,
        &BrowserMapStore,
        between,
    )
    .await
    .map_err(|e| match e {
        TrainError::Stopped => "Stopped before training began.".to_string(),
        other => format!("The teacher's maps could not be made: {other}"),
    })?;
    Ok((maps.maps, maps.kept == clips.len()))
}

/// The first validation clip with a keyword, watched as training goes on, with the teacher's
/// map of it made into the KD target; and its index among the validation clips.
async fn probe(
    models: &RunModels,
    validation: &[PackClip],
    rollout: &RolloutConfig,
    target: KdTarget,
) -> Result<(usize, Probe), String> {
    let index = (validation.iter())
        .position(|clip| clip.window.is_some())
        .ok_or("The pack has no validation word to watch; it needs at least one keyword clip.")?;
    let clip = &validation[index];
    let teacher = &models.teacher;
    let map = teacher_target(teacher, &clip.samples, rollout)
        .await
        .map_err(|e| format!("The teacher failed on the probe clip: {e}"))?;
    let probe = Probe {
        label: (models.student.labels().get(clip.target))
            .cloned()
            .unwrap_or_default(),
        duration_s: clip.samples.len() as f32 / MODEL_SAMPLE_RATE as f32,
        window: clip.window.map(|w| (w.start_s, w.end_s)),
        teacher: TimeMap {
            start_s: 0.0,
            frame_s: teacher.frame_s(),
            values: target.apply(&map.map),
        },
        target: target.to_string(),
    };
    Ok((index, probe))
}

/// The trainer's settings for the visitor's choices: the learning rate drops tenfold for the
/// last quarter, and the KD target is the teacher's rollout made as for the shipped students.
fn student_training(settings: &TrainSettings, target: KdTarget) -> StudentTraining {
    StudentTraining {
        steps: settings.steps,
        batch_size: settings.batch_size,
        schedule: LrSchedule {
            initial: settings.learning_rate,
            after_step: settings.learning_rate / 10.0,
            step_at: 0.75,
            warmup_steps: 0,
        },
        loss: KdLossConfig {
            lambda: settings.lambda,
            ..KdLossConfig::default()
        },
        target,
        logit_kd: None,
        spec_augment: Some(SpecAugment::default()),
        seed: settings.seed,
    }
}

/// The pack's words, as its manifest lists them.
pub(super) async fn fetch_pack(
    folder: &str,
    preparing: &impl Fn(&str, usize, usize),
) -> Result<KeywordPack, String> {
    let manifest_url = format!("{folder}manifest.csv");
    let text = String::from_utf8(fetch_bytes(&manifest_url).await?)
        .map_err(|_| format!("{manifest_url} is not text"))?;
    let manifest = Manifest::parse(&text, Path::new(&manifest_url)).map_err(|e| e.to_string())?;
    let total = manifest.examples.len();
    let mut clips = futures::stream::iter(manifest.examples.iter().map(|example| async move {
        let url = format!("{folder}{}", example.file);
        let bytes = fetch_bytes(&url).await?;
        match decode_pcm16_mono(&bytes) {
            Some((MODEL_SAMPLE_RATE, samples)) => Ok((example, samples)),
            _ => Err(format!("{url} is not a 16 kHz mono 16-bit WAV file")),
        }
    }))
    .buffered(PARALLEL_FETCHES);
    let mut pack = KeywordPack::default();
    let mut done = 0;
    while let Some(clip) = clips.next().await {
        let (example, samples) = clip?;
        pack.add_example(example, &samples)
            .map_err(|e| e.to_string())?;
        done += 1;
        preparing("keyword pack", done, total);
    }
    Ok(pack)
}

/// Trains until the last step, a stop or a divergence, then sends both students.
async fn run(
    mut prepared: Prepared,
    settings: &TrainSettings,
    steering: &Cell<Steer>,
    report: &impl Fn(TrainingEvent),
) -> Result<(), String> {
    let started = js_sys::Date::now();
    report(validate(&prepared).await?);
    let end = loop {
        if prepared.comparison.steps_done() >= prepared.comparison.total_steps() {
            break TrainingEnd::Finished;
        }
        if steering.get() == Steer::Pause {
            report(TrainingEvent::Paused);
            while steering.get() == Steer::Pause {
                TimeoutFuture::new(100).await;
            }
            if steering.get() == Steer::Resume {
                report(TrainingEvent::Resumed);
            }
        }
        if steering.get() == Steer::Stop {
            break TrainingEnd::Stopped;
        }
        match prepared.comparison.step().await {
            Ok(reports) => report(TrainingEvent::Stepped {
                points: reports.map(|r| point(&r)),
                elapsed_ms: js_sys::Date::now() - started,
            }),
            Err(diverged @ TrainError::Diverged { .. }) => {
                // The runs went back to earlier weights: the scores shown are theirs.
                report(validate(&prepared).await?);
                break TrainingEnd::Diverged(diverged.to_string());
            }
            Err(other) => return Err(other.to_string()),
        }
        let done = prepared.comparison.steps_done();
        if done.is_multiple_of(settings.validate_every.max(1)) || done == settings.steps {
            report(validate(&prepared).await?);
        }
        // Lets the page's messages (pause, stop) in between steps.
        yield_to_messages().await;
    };
    report(TrainingEvent::Ended {
        end,
        students: student_files(&prepared.comparison).await?,
        elapsed_ms: js_sys::Date::now() - started,
    });
    Ok(())
}

/// Both students as trained so far, as the files `tempokd` saves.
async fn student_files(comparison: &KdComparison) -> Result<Box<PlainAndKd<SavedStudent>>, String> {
    let PlainAndKd {
        plain,
        kd: distilled,
    } = comparison.students().map_err(|e| e.to_string())?;
    let files = |student: Student| async move {
        student
            .save()
            .await
            .map(|(config, weights)| SavedStudent { config, weights })
            .map_err(|e| e.to_string())
    };
    Ok(Box::new(PlainAndKd::new(
        files(plain).await?,
        files(distilled).await?,
    )))
}

fn point(report: &StepReport) -> StepPoint {
    StepPoint {
        step: report.step,
        loss: report.loss,
        task: report.task,
        kd: report.kd,
        accuracy: report.accuracy,
    }
}

/// Both runs scored on the validation clips, with their maps of the probe clip and their
/// weights (which the page keeps, so a reload loses nothing scored).
async fn validate(prepared: &Prepared) -> Result<TrainingEvent, String> {
    let comparison = &prepared.comparison;
    let score = comparison.validate().await.map_err(|e| e.to_string())?;
    let step = comparison.steps_done();
    let students = match step {
        0 => None,
        _ => Some(student_files(comparison).await?),
    };
    Ok(validated(
        &score,
        step,
        &prepared.probe,
        &prepared.student,
        students,
    ))
}

fn validated(
    score: &ComparisonScore,
    step: usize,
    probe: &(usize, Features),
    student: &students::StudentConfig,
    students: Option<Box<PlainAndKd<SavedStudent>>>,
) -> TrainingEvent {
    let axis = student.frame_axis(&probe.1);
    TrainingEvent::Validated {
        scores: score.evaluations.as_ref().map(|evaluation| RunScore {
            step,
            accuracy: evaluation.accuracy,
            localisation: evaluation.attention_in_window.unwrap_or(0.0),
        }),
        probe: score.maps.as_ref().map(|maps| TimeMap {
            start_s: axis.start_s,
            frame_s: axis.frame_s,
            values: maps.get(probe.0).cloned().unwrap_or_default(),
        }),
        students,
    }
}
