//! `tempokd train-teacher`, `train-student` and `eval`: thin wrappers over `tempokd::train`.

use crate::device::{DeviceArgs, TrainingDevices};
use crate::progress::TrainingBars;
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use tempokd::data::augment::Augmentation;
use tempokd::data::{Dataset, Split};
use tempokd::device::{ComputeDevice, Placement};
use tempokd::kd::{KdLossConfig, KdTarget, TaskWeight};
use tempokd::model::{Model, ModelError};
use tempokd::students::{Precision, Preset, Student};
use tempokd::teacher::{ClassifierPooling, Teacher, TeacherShape, Wav2Vec2Config};
use tempokd::train::run::{self, RunPlan, TeacherGuide, Trained};
use tempokd::train::{
    ClipLoading, Evaluation, FolderMapStore, LogitKd, LrSchedule, RESUME_DIR, SpecAugment,
    StudentTraining, TeacherTraining, TrainError, TrainingRecord, fingerprint, forget_saved_run,
    has_saved_run,
};

/// `train-teacher`'s rate for the last fifth of the steps unless `--lr-after` says otherwise.
/// Kept runs trained at it record no `--lr-after` (`TeacherStage::job`), so changing it would let
/// them stand for runs at the new rate: their stages would have to be trained again.
pub const TEACHER_LR_AFTER: f64 = 5e-5;

#[derive(Args, Clone)]
pub struct TeacherArgs {
    /// A dataset folder (manifest.csv, Speech Commands or FSD50K layout).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write config.json, preprocessor_config.json, model.safetensors, training.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Fine-tune this teacher (same labels) instead of starting from random weights.
    #[arg(long, conflicts_with = "init_from_hf")]
    pub init: Option<PathBuf>,
    /// Start from the encoder of a pretrained Hugging Face wav2vec 2.0 model folder on disk
    /// (config.json and model.safetensors of a Wav2Vec2Model, Wav2Vec2ForPreTraining,
    /// Wav2Vec2ForCTC or Wav2Vec2ForSequenceClassification) under a new head (--head) for this
    /// dataset's labels; its config gives the shape, so the shape flags do not apply.
    #[arg(long, conflicts_with_all = ["hidden", "layers", "heads", "conv_channels"])]
    pub init_from_hf: Option<PathBuf>,
    /// Keep the convolutional feature encoder as it is, as fine-tuning a pretrained encoder
    /// usually does.
    #[arg(long)]
    pub freeze_feature_encoder: bool,
    /// Effects drawn afresh for every training clip at every step, on the finished clip and on
    /// top of those its corpus was made with: none, all, or some of
    /// speed,formant,room,mic,clip (as `synth --augment`).
    #[arg(long, default_value = "none", value_parser = Augmentation::parse)]
    pub fresh_effects: Augmentation,
    /// Every dropout rate of the teacher while it trains (transformers' default is 0.1 for all
    /// but the feature projection's), recorded in its config.json; 0 trains without dropout.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
    #[arg(long, default_value_t = 1500)]
    pub steps: usize,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[arg(long, default_value_t = 5e-4)]
    pub lr: f64,
    /// The learning rate for the last fifth of the steps.
    #[arg(long, default_value_t = TEACHER_LR_AFTER)]
    pub lr_after: f64,
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 100)]
    pub eval_every: usize,
    /// Transformer width (new teachers only).
    #[arg(long, default_value_t = TeacherShape::default().hidden)]
    pub hidden: usize,
    #[arg(long, default_value_t = TeacherShape::default().layers)]
    pub layers: usize,
    #[arg(long, default_value_t = TeacherShape::default().heads)]
    pub heads: usize,
    /// Channels of each of the seven front-end convolutions.
    #[arg(long, default_value_t = TeacherShape::default().conv_channels)]
    pub conv_channels: usize,
    /// The classifier: the paper's fully connected layer on the first frame, or Hugging Face's
    /// mean over frames.
    #[arg(long, value_enum, default_value_t = Head::FirstFrame)]
    pub head: Head,
    #[command(flatten)]
    pub sitting: SittingArgs,
    #[command(flatten)]
    pub clips: ClipArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// How a training command's run is carried over from an earlier sitting.
#[derive(Args, Clone)]
pub struct SittingArgs {
    /// Go on from where a stopped run of this command saved itself (OUT/resume: saved at every
    /// scoring and on Ctrl-C or SIGTERM); it must have the same settings, data and teacher. The
    /// run ends as the uninterrupted one would have; without a saved state it starts afresh.
    #[arg(long)]
    pub resume: bool,
}

/// How a command that trains or scores holds the dataset's clips.
#[derive(Args, Clone)]
pub struct ClipArgs {
    /// Read the clips from disk a batch at a time as they are needed, over every core (while
    /// training, a few batches ahead of the steps), instead of loading the splits into memory
    /// first: for corpora larger than memory. The results are the same either way; first each
    /// clip is decoded once to learn its length, and in training the validation clips are read
    /// again at each scoring.
    #[arg(long)]
    pub stream: bool,
}

impl ClipArgs {
    fn loading(&self) -> ClipLoading {
        match self.stream {
            true => ClipLoading::Stream,
            false => ClipLoading::Memory,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Head {
    FirstFrame,
    Mean,
}

#[derive(Args, Clone)]
pub struct StudentArgs {
    /// lstm-p, tc-resnet8, tc-resnet14, crnn, att-rnn or mhatt-rnn.
    #[arg(long)]
    pub arch: String,
    #[arg(long)]
    pub data: PathBuf,
    /// The frozen teacher whose temporal attention is distilled (needed when λ > 0).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Weight of the temporal KD loss; 0 trains without KD.
    #[arg(long, default_value_t = 0.0)]
    pub lambda: f32,
    /// Leave the teacher's query frame (frame 0 of its first-frame rollout) out of the KD
    /// target, renormalising the rest: `true` (the default for a first-frame rollout, which
    /// measured best) or `false`. A mean-of-rows rollout has no query frame.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub target_without_query_frame: Option<bool>,
    /// Temperature of the KD target: below 1 sharpens the teacher's map, above 1 softens it;
    /// 1 keeps it as it is.
    #[arg(long, default_value_t = KdTarget::default().temperature)]
    pub target_temperature: f32,
    /// L = L_cls + λ·L_KD (one) or (1 − λ)·L_cls + λ·L_KD (one-minus-lambda).
    #[arg(long, value_enum, default_value_t = Weighting::One)]
    pub task_weight: Weighting,
    /// Add Hinton's logit distillation with this weight (a baseline beside temporal KD).
    #[arg(long)]
    pub logit_kd: Option<f32>,
    #[arg(long, default_value_t = 4.0)]
    pub temperature: f32,
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from this student (the same architecture and labels) instead of random
    /// weights: the second stage of a curriculum, e.g. 1 s clips first, then mixed lengths.
    #[arg(long)]
    pub init: Option<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// The learning rate for the last quarter of the steps.
    #[arg(long, default_value_t = 1e-4)]
    pub lr_after: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 100)]
    pub eval_every: usize,
    /// Train without SpecAugment.
    #[arg(long)]
    pub no_spec_augment: bool,
    #[command(flatten)]
    pub sitting: SittingArgs,
    #[command(flatten)]
    pub clips: ClipArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Weighting {
    One,
    OneMinusLambda,
}

#[derive(Args, Clone)]
pub struct EvalArgs {
    /// A teacher or student folder.
    #[arg(long)]
    pub model: PathBuf,
    /// A dataset folder; also a folder of WAVs with a manifest.csv of file,label[,start_s,end_s].
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "test", value_parser = parse_split)]
    pub split: Split,
    /// Score only the clips of this length in seconds (a mixed-length corpus holds several).
    #[arg(long)]
    pub length: Option<f32>,
    /// Score a student with its matrices and kernels stored at fp16 or int8 and read back (what
    /// `tempokd export --precision` writes), to measure the accuracy that costs.
    #[arg(long, default_value = "fp32", value_parser = parse_precision)]
    pub precision: Precision,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub clips: ClipArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn parse_precision(name: &str) -> Result<Precision, String> {
    Precision::from_name(name).ok_or_else(|| format!("{name}: expected fp32, fp16 or int8"))
}

fn parse_split(text: &str) -> Result<Split, String> {
    Split::from_name(text).ok_or_else(|| format!("{text:?} is not train, validation or test"))
}

/// The CPU, where the cards and reports score every model so the tests, which run there,
/// reproduce their figures.
pub fn cpu() -> ComputeDevice {
    ComputeDevice::cpu("asked for the CPU")
}

fn open(data: &Path) -> Result<Dataset, String> {
    Dataset::open(data).map_err(|e| e.to_string())
}

/// A finished run and where it trained.
pub struct Finished<M> {
    pub run: Trained<M>,
    /// The device that held the model, then any others the batches were split over.
    pub devices: Vec<Placement>,
}

impl<M> Finished<M> {
    /// Where the run trained, as the command's last line says it.
    pub fn devices_text(&self) -> String {
        let names: Vec<String> = self.devices.iter().map(ToString::to_string).collect();
        match names.len() {
            1 => names.concat(),
            n => format!("{n} devices, data parallel: {}", names.join("; ")),
        }
    }
}

pub fn train_teacher(args: &TeacherArgs) -> Result<Finished<Teacher>, String> {
    let dataset = open(&args.data)?;
    let chosen = args.device.start_for_training()?;
    let device = chosen.lead.device.clone().autodiff();
    device.seed(args.seed);
    let labels: Vec<&str> = dataset.labels.iter().map(String::as_str).collect();
    let pooling = match args.head {
        Head::FirstFrame => ClassifierPooling::FirstFrame,
        Head::Mean => ClassifierPooling::Mean,
    };
    let teacher = match (&args.init, &args.init_from_hf) {
        (Some(dir), _) => {
            Teacher::load_dir(dir, &device).map_err(|e| format!("{}: {e}", dir.display()))?
        }
        (None, Some(dir)) => {
            Teacher::from_pretrained_encoder_dir(dir, &labels, pooling, args.seed, &device)
                .map_err(|e| format!("--init-from-hf {}: {e}", dir.display()))?
        }
        (None, None) => {
            let shape = TeacherShape {
                hidden: args.hidden,
                layers: args.layers,
                heads: args.heads,
                conv_channels: args.conv_channels,
            };
            let config = Wav2Vec2Config::shaped(&labels, shape, pooling);
            Teacher::random(config, args.seed, &device).map_err(|e| e.to_string())?
        }
    };
    let settings = TeacherTraining {
        steps: args.steps,
        batch_size: args.batch,
        schedule: LrSchedule {
            initial: args.lr,
            after_step: args.lr_after,
            step_at: 0.8,
            warmup_steps: args.warmup,
        },
        seed: args.seed,
        freeze_feature_encoder: args.freeze_feature_encoder,
        fresh_effects: args.fresh_effects.clone(),
        dropout: args.dropout,
    };
    let rollout = teacher.default_rollout();
    let plan = run_plan(
        &args.out,
        args.eval_every,
        &args.sitting,
        &args.clips,
        &chosen,
    )?;
    let trained = with_bars(|progress| {
        run::train_teacher(&dataset, teacher, &settings, &rollout, &plan, progress)
    })?;
    pollster::block_on(trained.model.save_dir(&args.out)).map_err(|e| e.to_string())?;
    let devices = chosen.placements();
    write_record(&args.out, &settings, &trained, &devices)?;
    Ok(Finished {
        run: trained,
        devices,
    })
}

pub fn train_student(args: &StudentArgs) -> Result<Finished<Student>, String> {
    let preset = Preset::from_name(&args.arch).ok_or_else(|| {
        let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
        format!(
            "unknown student {:?}; choose one of {}",
            args.arch,
            names.join(", ")
        )
    })?;
    let dataset = open(&args.data)?;
    let chosen = args.device.start_for_training()?;
    let device = chosen.lead.device.clone().autodiff();
    device.seed(args.seed);
    let config = preset.config(dataset.labels.clone());
    let student = match &args.init {
        None => Student::new(config, &device).map_err(|e| e.to_string())?,
        Some(dir) => {
            let student = Student::load_dir(dir, &device)
                .map_err(|e| format!("--init {}: {e}", dir.display()))?;
            if student.config() != &config {
                return Err(format!(
                    "--init {}: that student is not a {} for this dataset's labels ({}); start \
                     from a student trained with the same --arch on data with the same classes",
                    dir.display(),
                    preset.name(),
                    dataset.labels.join(", ")
                ));
            }
            student
        }
    };
    let guide = match &args.teacher {
        Some(dir) => Some(teacher_guide(dir, &args.data, &chosen.lead.device)?),
        None => None,
    };
    let default_target = guide.as_ref().map_or_else(KdTarget::default, |guide| {
        KdTarget::default_for(guide.rollout.row)
    });
    let settings = StudentTraining {
        steps: args.steps,
        batch_size: args.batch,
        schedule: LrSchedule {
            initial: args.lr,
            after_step: args.lr_after,
            step_at: 0.75,
            warmup_steps: 0,
        },
        loss: KdLossConfig {
            lambda: args.lambda,
            task_weight: match args.task_weight {
                Weighting::One => TaskWeight::One,
                Weighting::OneMinusLambda => TaskWeight::OneMinusLambda,
            },
        },
        target: KdTarget {
            without_query_frame: args
                .target_without_query_frame
                .unwrap_or(default_target.without_query_frame),
            temperature: args.target_temperature,
        },
        logit_kd: args.logit_kd.map(|weight| LogitKd {
            weight,
            temperature: args.temperature,
        }),
        spec_augment: (!args.no_spec_augment).then(SpecAugment::default),
        seed: args.seed,
    };
    let plan = run_plan(
        &args.out,
        args.eval_every,
        &args.sitting,
        &args.clips,
        &chosen,
    )?;
    let trained = with_bars(|progress| {
        run::train_student(
            &dataset,
            student,
            settings.clone(),
            guide.as_ref(),
            &plan,
            progress,
        )
    })?;
    pollster::block_on(trained.model.save_dir(&args.out, Precision::F32))
        .map_err(|e| e.to_string())?;
    let devices = chosen.placements();
    write_record(&args.out, &settings, &trained, &devices)?;
    Ok(Finished {
        run: trained,
        devices,
    })
}

/// A training command's plan: scored every `eval_every` steps, saved in `out`'s resume folder
/// at each scoring and when a stop signal comes, resumed from there when asked, each batch
/// split over `devices`.
fn run_plan(
    out: &Path,
    eval_every: usize,
    sitting: &SittingArgs,
    clips: &ClipArgs,
    devices: &TrainingDevices,
) -> Result<RunPlan<'static>, String> {
    let saved = out.join(RESUME_DIR);
    let resume = sitting.resume;
    if !resume && has_saved_run(&saved) {
        eprintln!(
            "note: {} holds a stopped run; this run starts afresh and replaces it at its first \
             save (stop now and add --resume to go on from it instead)",
            saved.display()
        );
    }
    Ok(RunPlan {
        eval_every,
        save_to: Some(saved),
        resume,
        stop: Some(crate::stop::flag()?),
        replicas: (devices.replicas.iter())
            .map(|replica| replica.device.clone().autodiff())
            .collect(),
        loading: clips.loading(),
    })
}

/// Runs `work` with progress bars drawn from its reports.
fn with_bars<T>(
    work: impl FnOnce(&mut dyn FnMut(run::Progress<'_>)) -> Result<T, TrainError>,
) -> Result<T, String> {
    let mut bars = TrainingBars::default();
    let result = work(&mut |p| bars.update(p));
    bars.finish();
    result.map_err(|e| match e {
        TrainError::Paused { .. } => {
            format!("{e}; run the same command with --resume to go on from there")
        }
        TrainError::Stopped => {
            "stopped while loading the data, before any step: nothing new was saved".into()
        }
        other => other.to_string(),
    })
}

/// The teacher in `dir` with its map cache for the dataset in `data`.
fn teacher_guide(
    dir: &Path,
    data: &Path,
    device: &burn::tensor::Device,
) -> Result<TeacherGuide, String> {
    let teacher = Teacher::load_dir(dir, device).map_err(|e| format!("{}: {e}", dir.display()))?;
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    let rollout = teacher.default_rollout();
    let fingerprint = fingerprint(
        &[&read("config.json")?, &read("model.safetensors")?],
        &rollout,
    );
    Ok(TeacherGuide {
        teacher,
        rollout,
        fingerprint,
        store: FolderMapStore {
            dir: data.join(".tempokd-cache"),
        },
    })
}

/// Writes a finished run's `training.json` beside its model, then drops the state saved to
/// resume it.
fn write_record<S: serde::Serialize, M>(
    out: &Path,
    settings: &S,
    trained: &Trained<M>,
    devices: &[Placement],
) -> Result<(), String> {
    TrainingRecord::of(settings, trained, devices)
        .write(out)
        .map_err(|e| e.to_string())?;
    forget_saved_run(&out.join(RESUME_DIR));
    Ok(())
}

/// Computes and stores the teacher's maps of every training clip of `data`, so the students
/// trained next find them cached.
pub fn cache_teacher_maps(
    teacher: &Path,
    data: &Path,
    device: &ComputeDevice,
) -> Result<(), String> {
    let dataset = open(data)?;
    let guide = teacher_guide(teacher, data, &device.device)?;
    let train: Vec<_> = dataset.split(Split::Train).collect();
    with_bars(|progress| guide.targets(&dataset, &train, None, progress)).map(|_| ())
}

/// A model folder on the CPU, or why not, naming the folder (or its config.json).
pub fn load_model(dir: &Path) -> Result<Model, String> {
    load_model_on(dir, &cpu())
}

/// A model folder on `device`, or why not.
fn load_model_on(dir: &Path, device: &ComputeDevice) -> Result<Model, String> {
    Model::load_dir(dir, &device.device).map_err(|e| match e {
        // Names its file already.
        ModelError::Config(why) => why,
        other => format!("{}: {other}", dir.display()),
    })
}

/// Scores a model folder on a split (or only its clips of one length), with each clip's
/// temporal map, on `device`.
pub fn evaluate(
    model: &Path,
    data: &Path,
    split: Split,
    length: Option<f32>,
    precision: Precision,
    loading: ClipLoading,
    device: &ComputeDevice,
) -> Result<(Evaluation, Vec<Vec<f32>>), String> {
    let mut dataset = open(data)?;
    if let Some(length) = length {
        dataset
            .keep_length(split, length)
            .map_err(|e| e.to_string())?;
    }
    let loaded = match load_model_on(model, device)? {
        Model::Student(student) if precision != Precision::F32 => Model::Student(Box::new(
            pollster::block_on(student.at_precision(precision)).map_err(|e| e.to_string())?,
        )),
        Model::Teacher(_) if precision != Precision::F32 => {
            return Err(format!(
                "{}: a teacher is scored at fp32 only ({} is for students)",
                model.display(),
                precision.name()
            ));
        }
        loaded => loaded,
    };
    with_bars(|progress| match loaded {
        Model::Student(student) => {
            run::evaluate_student_split(&dataset, split, &student, loading, progress)
        }
        Model::Teacher(teacher) => {
            let rollout = teacher.default_rollout();
            run::evaluate_teacher_split(&dataset, split, &teacher, &rollout, loading, progress)
        }
    })
}

pub fn eval(args: &EvalArgs) -> Result<(), String> {
    let (evaluation, _) = evaluate(
        &args.model,
        &args.data,
        args.split,
        args.length,
        args.precision,
        args.clips.loading(),
        &args.device.start()?,
    )?;
    if evaluation.n == 0 {
        return Err(format!(
            "{}: the {} split has no clips{}",
            args.data.display(),
            args.split.name(),
            args.length.map_or(String::new(), |l| format!(" of {l} s"))
        ));
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&evaluation).map_err(|e| e.to_string())?
        );
    } else {
        println!(
            "{} clips (95 % intervals in brackets): accuracy {}, attention in the keyword window \
             {}{}",
            evaluation.n,
            accuracy_text(&evaluation, 2),
            localisation_text(&evaluation, 3).unwrap_or_else(|| "n/a (no windows)".into()),
            evaluation
                .map
                .map_or(String::new(), |m| format!(", mAP {m:.4}"))
        );
        for (label, accuracy) in &evaluation.per_class {
            println!("  {label:<12} {:.2} %", 100.0 * accuracy);
        }
    }
    Ok(())
}

/// Accuracy in percent with its Wilson 95 % interval, as the command line's tables write it:
/// `91.67 % (89.8–93.3)` for two places.
pub fn accuracy_text(evaluation: &Evaluation, places: usize) -> String {
    let interval = evaluation.accuracy_interval;
    format!(
        "{:.places$} % ({:.1}–{:.1})",
        100.0 * evaluation.accuracy,
        100.0 * interval.low,
        100.0 * interval.high
    )
}

/// Localisation with its bootstrap 95 % interval, `places` decimals; `None` without windows.
pub fn localisation_text(evaluation: &Evaluation, places: usize) -> Option<String> {
    let (mean, interval) = evaluation
        .attention_in_window
        .zip(evaluation.attention_in_window_interval)?;
    Some(format!(
        "{mean:.places$} ({:.places$}–{:.places$})",
        interval.low, interval.high
    ))
}

/// A table cell of both scores: accuracy (one place) with its interval / localisation (two
/// places) with its interval, or "–" without windows.
pub fn score_text(evaluation: &Evaluation) -> String {
    format!(
        "{} / {}",
        accuracy_text(evaluation, 1),
        localisation_text(evaluation, 2).unwrap_or_else(|| "–".into())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct TrainStudent {
        #[command(flatten)]
        args: StudentArgs,
    }

    #[test]
    fn the_query_frame_flag_is_true_bare_either_way_with_a_value_and_else_the_teachers_default() {
        let parse = |extra: &[&str]| {
            let required = [
                "train-student",
                "--arch",
                "crnn",
                "--data",
                "d",
                "--out",
                "o",
            ];
            let args = TrainStudent::try_parse_from(required.iter().chain(extra))
                .unwrap()
                .args;
            (args.target_without_query_frame, args.target_temperature)
        };
        assert_eq!(parse(&[]), (None, KdTarget::default().temperature));
        assert_eq!(parse(&["--target-without-query-frame"]).0, Some(true));
        assert_eq!(
            parse(&["--target-without-query-frame", "false"]).0,
            Some(false)
        );
        assert_eq!(
            parse(&["--target-without-query-frame", "--target-temperature", "1"]),
            (Some(true), 1.0)
        );
    }
}
