//! The worker's trainer: fetches the teacher, the student and the keyword pack, mixes the pack
//! into noisy clips, takes the teacher's maps of them from the browser's cache (or computes and
//! stores them), then trains the student twice side by side, without and with KD, one step at a
//! time, yielding between steps so the page's pause, resume and stop arrive.

use super::device::PendingDevice;
use super::fetch::fetch_bytes;
use super::model_files::model_files;
use super::protocol::{
    Probe, Response, RunScore, Steer, StepPoint, StudentFiles, TimeMap, TrainRequest,
    TrainSettings, TrainingEnd, TrainingEvent,
};
use crate::browser::cache::ByteCache;
use futures::StreamExt;
use gloo_timers::future::TimeoutFuture;
use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use tempokd::audio::{Features, MODEL_SAMPLE_RATE, decode_pcm16_mono};
use tempokd::data::pack::{KeywordPack, PackClip, PackMix};
use tempokd::data::{Manifest, Split};
use tempokd::device::ComputeDevice;
use tempokd::kd::{KdLossConfig, KdTarget};
use tempokd::students::{self, Student};
use tempokd::teacher::{Teacher, TeacherFiles};
use tempokd::train::{
    ComparisonData, ComparisonScore, KdComparison, LrSchedule, Scored, SpecAugment, StepReport,
    StudentTraining, TeacherTarget, TrainError, fingerprint, map_batches, teacher_target,
    teacher_targets,
};

/// The teacher's maps of a pack's clips, kept by the browser between visits.
const MAP_CACHE: &str = "tempokd-teacher-maps";

/// Pack clips fetched at once.
const PARALLEL_FETCHES: usize = 8;

/// Runs one training request to its end, reporting as it goes.
pub async fn train(
    request: TrainRequest,
    device: PendingDevice,
    steering: Rc<Cell<Steer>>,
    reply: impl Fn(Response) + Clone + 'static,
) {
    let report = |event: TrainingEvent| reply(Response::Training(Box::new(event)));
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
    let labels = student.labels().to_vec();
    if teacher.labels() != labels.as_slice() {
        return Err(format!(
            "The teacher's labels ({}) are not the student's ({}); pick a student of the same task.",
            teacher.labels().join(", "),
            labels.join(", ")
        ));
    }

    let (manifest_text, pack) = fetch_pack(&request.pack, &preparing).await?;
    let settings = &request.settings;
    let mut pack = pack;
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
    let mixed = |splits: &[Split]| pack.mix(splits, &labels, &mix).map_err(|e| e.to_string());
    let train_clips = mixed(&[Split::Train])?;
    let validation_clips = mixed(&[Split::Validation, Split::Test])?;

    let rollout = teacher.default_rollout();
    let target = KdTarget::default_for(rollout.row);
    let recorded: Vec<u8> = request
        .recordings
        .iter()
        .flat_map(|r| {
            r.label
                .bytes()
                .chain(r.samples.iter().flat_map(|v| v.to_le_bytes()))
        })
        .collect();
    let mix_text = serde_json::to_string(&mix).unwrap_or_default();
    let key = fingerprint(
        &[
            teacher_config.as_bytes(),
            &teacher_weights,
            manifest_text.as_bytes(),
            mix_text.as_bytes(),
            &recorded,
        ],
        &rollout,
    );
    let cached = cached_maps(&key, train_clips.len()).await;
    let cached_maps = cached.is_some();
    let teacher_maps = match cached {
        Some(maps) => maps,
        None => {
            let lengths: Vec<usize> = train_clips.iter().map(|c| c.samples.len()).collect();
            let mut maps: Vec<Option<TeacherTarget>> = vec![None; train_clips.len()];
            let mut done = 0;
            for batch in map_batches(&lengths) {
                if steering.get() == Steer::Stop {
                    return Err("Stopped before training began.".into());
                }
                preparing("teacher maps", done, train_clips.len());
                let clips: Vec<&[f32]> = batch
                    .iter()
                    .map(|&at| train_clips[at].samples.as_slice())
                    .collect();
                let targets = teacher_targets(&teacher, &clips, &rollout)
                    .await
                    .map_err(|e| format!("The teacher failed on a training clip: {e}"))?;
                for (&at, target) in batch.iter().zip(targets) {
                    maps[at] = Some(target);
                }
                done += batch.len();
                // Lets the page's messages in between batches.
                TimeoutFuture::new(0).await;
            }
            let maps: Vec<TeacherTarget> = maps.into_iter().flatten().collect();
            if maps.len() != train_clips.len() {
                return Err("The teacher left some training clips without a map.".into());
            }
            store_maps(&key, &maps).await;
            maps
        }
    };

    let scored = |clips: &[PackClip]| -> Result<Vec<Scored<Features>>, String> {
        clips
            .iter()
            .map(|clip| {
                Ok(Scored {
                    input: student.features(&clip.samples).map_err(|e| e.to_string())?,
                    targets: vec![clip.target],
                    window: clip.window,
                })
            })
            .collect()
    };
    let train = scored(&train_clips)?;
    let validation = scored(&validation_clips)?;
    let probe_index = validation_clips
        .iter()
        .position(|clip| clip.window.is_some())
        .ok_or("The pack has no validation word to watch; it needs at least one keyword clip.")?;
    let probe_clip = &validation_clips[probe_index];
    let probe_teacher = teacher_target(&teacher, &probe_clip.samples, &rollout)
        .await
        .map_err(|e| format!("The teacher failed on the probe clip: {e}"))?;
    let probe = Probe {
        label: labels.get(probe_clip.target).cloned().unwrap_or_default(),
        duration_s: probe_clip.samples.len() as f32 / MODEL_SAMPLE_RATE as f32,
        window: probe_clip.window.map(|w| (w.start_s, w.end_s)),
        teacher: TimeMap {
            start_s: 0.0,
            frame_s: teacher.frame_s(),
            values: target.apply(&probe_teacher.map),
        },
        target: target.to_string(),
    };
    let probe_features = validation[probe_index].input.clone();
    report(TrainingEvent::Started {
        device: device.placement.clone(),
        train_clips: train.len(),
        validation_clips: validation.len(),
        cached_maps,
        probe,
    });
    let comparison = KdComparison::new(
        &student,
        student_training(settings, target),
        ComparisonData {
            train,
            teacher: teacher_maps,
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

/// The pack's manifest (as text, for the cache key) and its words.
async fn fetch_pack(
    folder: &str,
    preparing: &impl Fn(&str, usize, usize),
) -> Result<(String, KeywordPack), String> {
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
    Ok((text, pack))
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
        TimeoutFuture::new(0).await;
    };
    report(TrainingEvent::Ended {
        end,
        students: student_files(&prepared.comparison).await?,
        elapsed_ms: js_sys::Date::now() - started,
    });
    Ok(())
}

/// Both students as trained so far, as the files `tempokd` saves.
async fn student_files(comparison: &KdComparison) -> Result<Box<[StudentFiles; 2]>, String> {
    let [plain, distilled] = comparison.students().map_err(|e| e.to_string())?;
    let files = |student: Student| async move {
        student
            .save()
            .await
            .map(|(config, weights)| StudentFiles { config, weights })
            .map_err(|e| e.to_string())
    };
    Ok(Box::new([files(plain).await?, files(distilled).await?]))
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
    students: Option<Box<[StudentFiles; 2]>>,
) -> TrainingEvent {
    let axis = student.frame_axis(&probe.1);
    let run = |index: usize| {
        let evaluation = &score.evaluations[index];
        (
            RunScore {
                step,
                accuracy: evaluation.accuracy,
                localisation: evaluation.attention_in_window.unwrap_or(0.0),
            },
            TimeMap {
                start_s: axis.start_s,
                frame_s: axis.frame_s,
                values: score.maps[index].get(probe.0).cloned().unwrap_or_default(),
            },
        )
    };
    let ((plain, plain_map), (distilled, distilled_map)) = (run(0), run(1));
    TrainingEvent::Validated {
        scores: [plain, distilled],
        probe: [plain_map, distilled_map],
        students,
    }
}

/// The maps stored under `key`, when the browser kept them and they are whole.
async fn cached_maps(key: &str, clips: usize) -> Option<Vec<TeacherTarget>> {
    let bytes = ByteCache::open(MAP_CACHE)
        .await?
        .get(&cache_url(key))
        .await?;
    let maps: Vec<TeacherTarget> = serde_json::from_slice(&bytes).ok()?;
    (maps.len() == clips).then_some(maps)
}

/// Keeps the maps for the next run.
async fn store_maps(key: &str, maps: &[TeacherTarget]) {
    if let (Some(cache), Ok(bytes)) = (ByteCache::open(MAP_CACHE).await, serde_json::to_vec(maps)) {
        cache.put(&cache_url(key), &bytes).await;
    }
}

fn cache_url(key: &str) -> String {
    format!("teacher-maps/{key}.json")
}
