//! The worker's trainer: one run of a comparison, the student without KD or with it. It fetches
//! the student and the teacher, mixes the pack into noisy clips, and makes the teacher's maps of
//! those the browser's cache lacks together with the other run's worker, half each (the run
//! without KD hands its half over through the page; the run with KD keeps them all and trains
//! on them). Then it trains one step at a time in step with the other worker: each step's
//! forward pass is reported, and its update waits for the page's verdict, which knows both
//! runs' checks. It yields between steps so the page's pause, resume and stop arrive.

use super::device::PendingDevice;
use super::fetch::fetch_bytes;
use super::map_store::BrowserMapStore;
use super::model_files::model_files;
use super::protocol::{
    CheckOutcome, Probe, Response, RunScore, RunSetup, SavedStudent, Steer, StepPoint, TimeMap,
    TrainRequest, TrainSettings, TrainingEnd, TrainingEvent, Verdict,
};
use super::yielding::yield_to_messages;
use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use gloo_timers::future::TimeoutFuture;
use std::borrow::Cow;
use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use tempokd::audio::{Features, MODEL_SAMPLE_RATE, decode_pcm16_mono};
use tempokd::data::pack::{
    KeywordPack, MAX_PACK_CLIP_BYTES, MAX_PACK_MANIFEST_BYTES, PackClip, PackMix,
};
use tempokd::data::{Manifest, Split};
use tempokd::device::ComputeDevice;
use tempokd::kd::{KdLossConfig, KdTarget, KeyedMaps, RolloutConfig, TeacherTarget};
use tempokd::students::{self, Student};
use tempokd::teacher::{Teacher, TeacherFiles};
use tempokd::train::{
    ComparisonData, ComparisonRun, LabelledClip, LrSchedule, MapClip, MapMaking, MapShare,
    SpecAugment, StepReport, StudentTraining, TrainError, clip_key, fingerprint, teacher_target,
};

/// Pack clips fetched at once.
const PARALLEL_FETCHES: usize = 8;

/// Why a run stopped before its first step, as the page shows it.
const STOPPED_BEFORE_TRAINING: &str = "Stopped before training began.";

/// What the page says to a training run: pause, resume or stop between steps, the verdict on
/// each checked step and, to the run with KD, the teacher's maps the other run's worker made.
pub struct Steering {
    pub steer: Rc<Cell<Steer>>,
    pub verdicts: UnboundedReceiver<Verdict>,
    /// Ends (without maps) when the run is stopped.
    pub handed_maps: UnboundedReceiver<KeyedMaps>,
}

/// Runs one training request to its end, reporting as it goes.
pub async fn train(
    request: TrainRequest,
    device: PendingDevice,
    mut steering: Steering,
    report: impl Fn(TrainingEvent) + Clone + 'static,
) {
    let device = device.await;
    let prepared = match prepare(&request, &device, &mut steering, &report).await {
        Ok(prepared) => prepared,
        Err(message) => return report(TrainingEvent::Failed { message }),
    };
    if let Err(message) = run(prepared, &request.settings, &mut steering, &report).await {
        report(TrainingEvent::Failed { message });
    }
}

/// Everything a run needs, ready on the device.
struct Prepared {
    run: ComparisonRun,
    /// Index of the probe among the validation clips, and its features (for its time axis).
    probe: (usize, Features),
    student: students::StudentConfig,
}

async fn prepare(
    request: &TrainRequest,
    device: &ComputeDevice,
    steering: &mut Steering,
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
    let student = &models.student;
    let clips = mix_clips(request, student.labels(), &preparing).await?;
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
    // The first validation clip with a keyword is watched as training goes on.
    let probe_index = (clips.validation.iter())
        .position(|clip| clip.window.is_some())
        .ok_or("The pack has no validation word to watch; it needs at least one keyword clip.")?;
    let probe_features = validation[probe_index].input.clone();
    let teacher = &models.teacher;
    let rollout = teacher.teacher.default_rollout();
    let maps = training_maps(
        teacher,
        &clips.train,
        &rollout,
        request.kd,
        steering,
        &preparing,
        report,
    )
    .await?;
    // Only the run with KD trains on the teacher's maps, and maps the probe with it.
    let (teacher, target, cached_maps, watched) = match maps {
        Some((maps, cached)) => {
            let target = KdTarget::default_for(rollout.row);
            let probe_clip = &clips.validation[probe_index];
            let watched = probe(teacher, student, probe_clip, &rollout, target).await?;
            (Some(maps), target, cached, Some(watched))
        }
        None => (None, KdTarget::default(), false, None),
    };
    report(TrainingEvent::Started {
        setup: RunSetup {
            device: device.placement.clone(),
            train_clips: train.len(),
            validation_clips: validation.len(),
            cached_maps,
        },
        probe: watched,
    });
    let run = ComparisonRun::new(
        student,
        &student_training(&request.settings, target),
        request.kd,
        ComparisonData {
            train,
            teacher,
            validation,
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(Prepared {
        run,
        probe: (probe_index, probe_features),
        student: student.config().clone(),
    })
}

/// The frozen teacher, with its fingerprint (its files and rollout settings), under which its
/// maps are cached.
struct RunTeacher {
    teacher: Teacher,
    fingerprint: String,
}

/// The student (on the autodiff device) and the teacher.
struct RunModels {
    teacher: RunTeacher,
    student: Student,
}

async fn load_models(
    request: &TrainRequest,
    device: &ComputeDevice,
    preparing: &impl Fn(&str, usize, usize),
) -> Result<RunModels, String> {
    // The page shows the training's own progress, not each file's.
    let ignore = |_: Response| {};
    let total = 2;
    preparing("models", 0, total);
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
    preparing("models", 1, total);
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
    preparing("models", 2, total);
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
        teacher: RunTeacher {
            teacher,
            fingerprint,
        },
        student,
    })
}

/// The clips of the pack a run learns from and is scored on.
struct MixedClips {
    train: Vec<PackClip>,
    validation: Vec<PackClip>,
}

/// The pack's words (and the visitor's own) placed in noise, as training and validation clips.
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

/// How many workers make the teacher's maps at once: the two of a run.
const MAP_MAKERS: usize = 2;

/// The teacher's map of every training clip. Both runs' workers compute the maps the browser's
/// cache lacks at once, half each, in batches of one length, yielding to the page between
/// batches (a stop asked for meanwhile ends it). The run without KD hands its half to the page
/// for the other and has no maps; the run with KD takes that half in, computes whatever is still
/// missing, keeps them all in the cache and has every map, with whether all came from the cache.
async fn training_maps<'c>(
    teacher: &RunTeacher,
    clips: &'c [PackClip],
    rollout: &RolloutConfig,
    kd: bool,
    steering: &mut Steering,
    preparing: &impl Fn(&str, usize, usize),
    report: &impl Fn(TrainingEvent),
) -> Result<Option<(Vec<TeacherTarget>, bool)>, String> {
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
    let steer = steering.steer.clone();
    let mut between = async |done: usize, total: usize| -> Result<(), TrainError> {
        if steer.get() == Steer::Stop {
            return Err(TrainError::Stopped);
        }
        preparing("teacher maps", done, total);
        // Lets the page's messages in between batches.
        yield_to_messages().await;
        Ok(())
    };
    let failed = |e| match e {
        TrainError::Stopped => STOPPED_BEFORE_TRAINING.to_string(),
        other => format!("The teacher's maps could not be made: {other}"),
    };
    let (teacher, fingerprint) = (&teacher.teacher, &teacher.fingerprint);
    let mut making = MapMaking::load(&BrowserMapStore, fingerprint, &map_clips).await;
    let share = MapShare {
        part: usize::from(!kd),
        parts: MAP_MAKERS,
    };
    (making
        .compute(teacher, rollout, share, read, &mut between)
        .await)
        .map_err(failed)?;
    if !kd {
        report(TrainingEvent::MapsMade {
            maps: making.made(),
        });
        return Ok(None);
    }
    let handed = (steering.handed_maps.next().await).ok_or(STOPPED_BEFORE_TRAINING)?;
    making.receive(handed);
    // Whatever the other worker did not make (it read the cache apart from this one).
    let rest = making.compute(teacher, rollout, MapShare::WHOLE, read, &mut between);
    rest.await.map_err(failed)?;
    let missing = making.missing();
    let maps = making.finish(&BrowserMapStore).await.map_err(failed)?;
    // After the save, so a stop asked for during the last batch keeps every map made.
    if missing > 0 {
        between(missing, missing).await.map_err(failed)?;
    }
    Ok(Some((maps.maps, maps.kept == clips.len())))
}

/// The probe `clip`, watched as training goes on, with the teacher's map of it made into the KD
/// target.
async fn probe(
    teacher: &RunTeacher,
    student: &Student,
    clip: &PackClip,
    rollout: &RolloutConfig,
    target: KdTarget,
) -> Result<Probe, String> {
    let teacher = &teacher.teacher;
    let map = teacher_target(teacher, &clip.samples, rollout)
        .await
        .map_err(|e| format!("The teacher failed on the probe clip: {e}"))?;
    Ok(Probe {
        label: (student.labels().get(clip.target))
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
    })
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
    let text = String::from_utf8(fetch_bytes(&manifest_url, MAX_PACK_MANIFEST_BYTES).await?)
        .map_err(|_| format!("{manifest_url} is not text"))?;
    let manifest = Manifest::parse(&text, Path::new(&manifest_url)).map_err(|e| e.to_string())?;
    let total = manifest.examples.len();
    let mut clips = futures::stream::iter(manifest.examples.iter().map(|example| async move {
        let url = format!("{folder}{}", example.file);
        let bytes = fetch_bytes(&url, MAX_PACK_CLIP_BYTES).await?;
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

/// Trains until the last step, a stop or a divergence, then sends the student.
async fn run(
    mut prepared: Prepared,
    settings: &TrainSettings,
    steering: &mut Steering,
    report: &impl Fn(TrainingEvent),
) -> Result<(), String> {
    let started = js_sys::Date::now();
    report(validate(&prepared).await?);
    let steer = steering.steer.clone();
    let end = loop {
        let run = &mut prepared.run;
        if run.steps_done() >= run.total_steps() {
            break TrainingEnd::Finished;
        }
        if steer.get() == Steer::Pause {
            report(TrainingEvent::Paused);
            while steer.get() == Steer::Pause {
                TimeoutFuture::new(100).await;
            }
            if steer.get() == Steer::Resume {
                report(TrainingEvent::Resumed);
            }
        }
        if steer.get() == Steer::Stop {
            break TrainingEnd::Stopped;
        }
        let check = run.check().await;
        report(TrainingEvent::Checked {
            outcome: CheckOutcome::of(&check),
        });
        match check {
            Ok(()) => {}
            Err(diverged @ TrainError::Diverged { .. }) => {
                // The run went back to earlier weights: the scores shown are theirs.
                report(validate(&prepared).await?);
                break TrainingEnd::Diverged(diverged.to_string());
            }
            Err(other) => return Err(other.to_string()),
        }
        // The page's worker went away only with the page.
        let verdict = (steering.verdicts.next().await).unwrap_or(Verdict::Cancel);
        match prepared.run.settle(verdict) {
            Ok(Some(step)) => report(TrainingEvent::Stepped {
                point: point(&step),
                elapsed_ms: js_sys::Date::now() - started,
            }),
            Ok(None) => match verdict {
                Verdict::Undo { kept } => {
                    report(validate(&prepared).await?);
                    break TrainingEnd::Diverged(format!(
                        "the other run diverged; both keep the weights after step {kept}"
                    ));
                }
                _ => break TrainingEnd::Stopped,
            },
            Err(failure) => return Err(failure.to_string()),
        }
        let done = prepared.run.steps_done();
        if done.is_multiple_of(settings.validate_every.max(1)) || done == settings.steps {
            report(validate(&prepared).await?);
        }
        // Lets the page's messages (pause, stop) in between steps.
        yield_to_messages().await;
    };
    report(TrainingEvent::Ended {
        end,
        student: student_file(&prepared.run).await?,
        elapsed_ms: js_sys::Date::now() - started,
    });
    Ok(())
}

/// The student as trained so far, as the files `tempokd` saves.
async fn student_file(run: &ComparisonRun) -> Result<SavedStudent, String> {
    let student = run.student().map_err(|e| e.to_string())?;
    let (config, weights) = student.save().await.map_err(|e| e.to_string())?;
    Ok(SavedStudent { config, weights })
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

/// The run scored on the validation clips, with its map of the probe clip and its weights
/// (which the page keeps, so a reload loses nothing scored).
async fn validate(prepared: &Prepared) -> Result<TrainingEvent, String> {
    let run = &prepared.run;
    let (evaluation, maps) = run.validate().await.map_err(|e| e.to_string())?;
    let step = run.steps_done();
    let student = match step {
        0 => None,
        _ => Some(student_file(run).await?),
    };
    let (probe_index, probe_features) = &prepared.probe;
    let axis = prepared.student.frame_axis(probe_features);
    Ok(TrainingEvent::Validated {
        score: RunScore {
            step,
            accuracy: evaluation.accuracy,
            localisation: evaluation.attention_in_window.unwrap_or(0.0),
        },
        probe: TimeMap {
            start_s: axis.start_s,
            frame_s: axis.frame_s,
            values: maps.get(*probe_index).cloned().unwrap_or_default(),
        },
        student,
    })
}
