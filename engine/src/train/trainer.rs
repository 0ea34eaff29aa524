//! The step-at-a-time trainers: one call is one optimisation step on one batch, returning the
//! loss terms and the batch accuracy. The CLI's loop and the browser's worker both drive these.

use super::TrainError;
use super::augment::SpecAugment;
use super::schedule::LrSchedule;
use crate::audio::MODEL_SAMPLE_RATE;
use crate::data::augment::Augmentation;
use crate::device::read_floats;
use crate::kd::{
    KdLossConfig, KdTarget, RolloutRow, binary_cross_entropy, cross_entropy, logit_kd_loss,
    temporal_kd_loss,
};
use crate::rng::Rng;
use crate::students::{AttentionRequest, Student, StudentConfig, StudentModel};
use crate::teacher::{AttentionDetail, DropoutRates, Teacher, Wav2Vec2Classifier};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::optim::{AdamConfig, GradientsParams, MultiGradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Hinton's logit distillation as an extra term: `weight · T² · KL(p_T^τ ‖ p_S^τ)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogitKd {
    pub weight: f32,
    pub temperature: f32,
}

/// How a student is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudentTraining {
    pub steps: usize,
    pub batch_size: usize,
    pub schedule: LrSchedule,
    /// λ and the task-loss weighting; λ = 0 trains without temporal KD.
    pub loss: KdLossConfig,
    /// How the teacher's rollout becomes the target of the temporal KD loss.
    #[serde(default)]
    pub target: KdTarget,
    pub logit_kd: Option<LogitKd>,
    pub spec_augment: Option<SpecAugment>,
    pub seed: u64,
}

impl Default for StudentTraining {
    fn default() -> Self {
        Self {
            steps: 1000,
            batch_size: 100,
            schedule: LrSchedule::default(),
            loss: KdLossConfig::default(),
            target: KdTarget::default(),
            logit_kd: None,
            spec_augment: Some(SpecAugment::default()),
            seed: 0,
        }
    }
}

impl StudentTraining {
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |why: String| Err(TrainError::Settings(why));
        validate_run(self.steps, self.batch_size, &self.schedule)?;
        if !(0.0..=10.0).contains(&self.loss.lambda) {
            return bad(format!("λ must be within 0..10; got {}", self.loss.lambda));
        }
        if let Some(kd) = self.logit_kd
            && !(kd.weight >= 0.0 && kd.temperature > 0.0 && kd.temperature.is_finite())
        {
            return bad(format!(
                "logit KD needs weight ≥ 0 and temperature > 0; got {kd:?}"
            ));
        }
        // The query frame exists for a first-frame rollout; `train_student` checks it against
        // the teacher's own rollout once the teacher is known.
        self.target
            .validate(RolloutRow::FirstFrame)
            .map_err(|e| TrainError::Settings(e.to_string()))
    }
}

fn validate_run(steps: usize, batch_size: usize, schedule: &LrSchedule) -> Result<(), TrainError> {
    if steps == 0 || steps > 10_000_000 {
        return Err(TrainError::Settings(format!(
            "steps must be 1 to 10,000,000; got {steps}"
        )));
    }
    if batch_size == 0 || batch_size > 4096 {
        return Err(TrainError::Settings(format!(
            "the batch size must be 1 to 4096; got {batch_size}"
        )));
    }
    schedule.validate().map_err(TrainError::Settings)
}

/// The most activation memory one device's part of a training step may keep for the backward
/// pass, reckoned from the model's config before the batch is built: a batch of thousands of
/// long clips would otherwise be allocated until the machine, or in the browser the tab's
/// 4 GiB, runs out.
#[cfg(not(target_arch = "wasm32"))]
pub const MAX_STEP_ACTIVATION_BYTES: u64 = 32 << 30;
#[cfg(target_arch = "wasm32")]
pub const MAX_STEP_ACTIVATION_BYTES: u64 = 2 << 30;

/// Refuses a step whose largest part for one device, `clips` clips of `each` (costing
/// `bytes_per_clip` each), would keep more than [`MAX_STEP_ACTIVATION_BYTES`].
fn check_step_memory(bytes_per_clip: u64, clips: usize, each: &str) -> Result<(), TrainError> {
    let bytes = bytes_per_clip.saturating_mul(clips as u64);
    if bytes <= MAX_STEP_ACTIVATION_BYTES {
        return Ok(());
    }
    Err(TrainError::Batch(format!(
        "{clips} clips of {each} on one device would keep about {bytes} bytes of activations \
         for the backward pass; at most {MAX_STEP_ACTIVATION_BYTES} are allowed: use a smaller \
         batch, shorter clips or more devices"
    )))
}

/// One batch of student inputs, on the host (so a worker can build and send it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StudentBatch {
    pub clips: usize,
    pub frames: usize,
    pub bins: usize,
    /// `clips × frames × bins`, clip-major.
    pub features: Vec<f32>,
    /// Each clip's class indices (one for single-label data).
    pub targets: Vec<Vec<usize>>,
    /// The teacher's temporal map of each clip on the student's frames, `clips × student frames`.
    pub teacher_attention: Option<Vec<f32>>,
    /// The teacher's logits, `clips × classes`, for logit KD.
    pub teacher_logits: Option<Vec<f32>>,
}

/// What one step did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// Steps done so far, this one included.
    pub step: usize,
    /// `lr` in a run's `training.json`, as the record has always named it.
    #[serde(rename = "lr")]
    pub learning_rate: f64,
    pub loss: f32,
    pub task: f32,
    /// The temporal KD term; 0 when λ = 0.
    pub kd: f32,
    /// The logit KD term; 0 when it is off.
    pub logit_kd: f32,
    /// Share of the batch whose top class is one of its targets.
    pub accuracy: f32,
}

/// How many times its first step's loss (or 1, if that is smaller) a run's loss may reach
/// before the run counts as diverged. Adam bounds each weight's step by the learning rate and
/// the losses are computed stably, so a far too large rate rarely reaches NaN: it wrecks the
/// model with finite losses thousands of times the first (LSTM-P at rate 9.9 goes from 12 to
/// 25 000 in one step). A healthy run, even one that starts from a well-trained model, stays
/// far below this.
pub const DIVERGENCE_FACTOR: f32 = 100.0;

/// Adam over a module that is handed over by value each step, with the schedule and the
/// divergence guard shared by both trainers.
///
/// A step is checked before it is applied: its forward pass is read, and only a sound loss
/// lets the update through. A bad loss is blamed on the update before it, so the guard goes back
/// to the snapshot taken before that update (weights, batch-norm statistics and Adam's moments).
pub(super) struct Fitting<M> {
    pub(super) model: Option<M>,
    pub(super) optimizer: ModuleOptimizer,
    schedule: LrSchedule,
    total_steps: usize,
    pub(super) done: usize,
    /// The run's seed; each step seeds the device's generator (dropout) from it and the step's
    /// number, so a run resumed at any step draws what it would have drawn.
    seed: u64,
    device: Device,
    /// Further devices each batch is split over (data parallel), none by default.
    replicas: Vec<Device>,
    /// The loss above which a step counts as diverged, set by the first step.
    pub(super) loss_limit: Option<f32>,
    /// The state from before the last update, for rolling it back.
    pub(super) before_last_update: Option<Snapshot<M>>,
}

/// A model and its optimiser as they were at the start of a step. The model is a detached
/// copy: a training-mode forward pass updates batch-norm statistics in place.
pub(super) struct Snapshot<M> {
    model: M,
    optimizer: ModuleOptimizer,
    done: usize,
}

/// A forward pass whose loss was read and found sound, waiting for its update.
pub(super) struct Checked<M> {
    /// Each device's part of the batch, its loss weighted by its share.
    parts: Vec<CheckedPart<M>>,
    before: Snapshot<M>,
    /// Total, task, temporal KD and logit KD terms.
    terms: [f32; 4],
    accuracy: f32,
}

/// One device's forward pass of a checked step.
struct CheckedPart<M> {
    /// Its loss times its share of the batch, so the parts' gradients sum to the batch's.
    loss: Tensor<1>,
    /// The copy of the model on that device; `None` for the model itself (the first device).
    replica: Option<M>,
    device: Device,
}

/// A forward pass's loss, the terms to report and the logits to score.
struct Losses {
    total: Tensor<1>,
    terms: [Tensor<1>; 3],
    logits: Tensor<2>,
}

/// The clips of a batch one device computes.
pub(super) struct Shard {
    pub clips: Range<usize>,
    pub device: Device,
}

/// What the forward passes of a step read back: each part, the weighted terms and every
/// clip's logits in batch order with their class count.
type ShardReadout<M> = (Vec<CheckedPart<M>>, [f32; 4], Vec<f32>, usize);

impl<M: Module> Fitting<M> {
    fn new(model: M, schedule: LrSchedule, total_steps: usize, seed: u64, device: Device) -> Self {
        Self {
            model: Some(model),
            optimizer: new_optimizer(),
            schedule,
            total_steps,
            done: 0,
            seed,
            device,
            replicas: Vec::new(),
            loss_limit: None,
            before_last_update: None,
        }
    }

    pub(super) fn model(&self) -> Result<&M, TrainError> {
        self.model.as_ref().ok_or(TrainError::Lost)
    }

    /// Splits each batch over the model's device and `replicas` (data parallel).
    fn split_over(&mut self, replicas: Vec<Device>) -> Result<(), TrainError> {
        if let Some(plain) = replicas.iter().find(|device| !device.is_autodiff()) {
            return Err(TrainError::Settings(format!(
                "every device of a data-parallel run must be an autodiff device; {plain:?} is not"
            )));
        }
        self.replicas = replicas;
        Ok(())
    }

    /// The most clips of a batch of `clips` that one device takes.
    fn largest_part(&self, clips: usize) -> usize {
        clips.div_ceil(1 + self.replicas.len())
    }

    /// The devices' parts of a batch of `clips`: as even as can be, in order, none empty.
    fn shards(&self, clips: usize) -> Vec<Shard> {
        let devices: Vec<&Device> = std::iter::once(&self.device)
            .chain(&self.replicas)
            .take(clips.max(1))
            .collect();
        let (each, extra) = (clips / devices.len(), clips % devices.len());
        let mut start = 0;
        (devices.into_iter().enumerate())
            .map(|(index, device)| {
                let size = each + usize::from(index < extra);
                let shard = Shard {
                    clips: start..start + size,
                    device: device.clone(),
                };
                start += size;
                shard
            })
            .collect()
    }

    /// Runs `forward` on each device's part of the batch and reads the losses. A loss that is
    /// not finite or over the divergence limit rolls this run back (see [`Fitting::roll_back`])
    /// and is returned as the error.
    async fn check(
        &mut self,
        targets: &[Vec<usize>],
        forward: impl Fn(&M, &Shard) -> Losses,
    ) -> Result<Checked<M>, TrainError> {
        let before = Snapshot {
            model: self.model()?.valid(),
            optimizer: self.optimizer.clone(),
            done: self.done,
        };
        let (parts, terms, logits, classes) = match self.forward_shards(targets, forward).await {
            Ok(read) => read,
            Err(error) => {
                self.restore(before);
                return Err(error);
            }
        };
        let loss = terms[0];
        let blown_up = self.loss_limit.is_some_and(|limit| loss > limit);
        if blown_up || terms.iter().chain(&logits).any(|v| !v.is_finite()) {
            let step = self.done + 1;
            self.roll_back(Some(before));
            return Err(TrainError::Diverged {
                step,
                loss,
                kept: self.done,
            });
        }
        let correct = logits
            .chunks(classes.max(1))
            .zip(targets)
            .filter(|(row, wanted)| {
                let top = row
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(i, _)| i);
                top.is_some_and(|t| wanted.contains(&t))
            })
            .count();
        Ok(Checked {
            parts,
            before,
            terms,
            accuracy: correct as f32 / targets.len().max(1) as f32,
        })
    }

    /// The forward passes of a step, one per device, each seeded for its step and part. Every
    /// part is queued before any is read, so devices whose work is queued (GPUs) overlap.
    async fn forward_shards(
        &self,
        targets: &[Vec<usize>],
        forward: impl Fn(&M, &Shard) -> Losses,
    ) -> Result<ShardReadout<M>, TrainError> {
        let model = self.model()?;
        let mut queued = Vec::new();
        for (index, shard) in self.shards(targets.len()).into_iter().enumerate() {
            // The part's share of the batch.
            let weight = shard.clips.len() as f32 / targets.len().max(1) as f32;
            shard
                .device
                .seed(step_seed(self.seed, self.done + 1, index));
            // A replica is a copy of its own: batch norm's running statistics, which clones
            // share, stay the first device's.
            let replica = (index > 0).then(|| model.valid().train().fork(&shard.device));
            let losses = forward(replica.as_ref().unwrap_or(model), &shard);
            let [clips, classes] = losses.logits.dims();
            let [task, kd, logit] = losses.terms;
            let readout = Tensor::cat(
                vec![
                    losses.total.clone(),
                    task,
                    kd,
                    logit,
                    losses.logits.reshape([clips * classes]),
                ],
                0,
            );
            let part = CheckedPart {
                // A whole batch on one device keeps its loss as it is.
                loss: match weight == 1.0 {
                    true => losses.total,
                    false => losses.total.mul_scalar(weight),
                },
                replica,
                device: shard.device,
            };
            queued.push((part, readout, weight, classes));
        }
        let mut parts = Vec::with_capacity(queued.len());
        let mut terms = [0.0f32; 4];
        let mut logits = Vec::new();
        let mut classes = 0;
        let count = queued.len();
        for (index, (part, readout, weight, part_classes)) in queued.into_iter().enumerate() {
            let values = read_floats(readout).await.map_err(|reason| match count {
                1 => TrainError::Device(reason),
                parts => TrainError::PartFailed {
                    part: index + 1,
                    parts,
                    reason,
                },
            })?;
            let (part_terms, part_logits) = values.split_at(4.min(values.len()));
            for (term, value) in terms.iter_mut().enumerate() {
                *value += weight * part_terms.get(term).copied().unwrap_or(f32::NAN);
            }
            logits.extend_from_slice(part_logits);
            classes = part_classes;
            parts.push(part);
        }
        Ok((parts, terms, logits, classes))
    }

    /// Steps the optimiser on a checked loss; with several devices, burn's optimiser sums
    /// their gradients (each already weighted by its share of the batch).
    fn apply(&mut self, checked: Checked<M>) -> Result<StepReport, TrainError> {
        let model = self.model.take().ok_or(TrainError::Lost)?;
        self.loss_limit
            .get_or_insert(DIVERGENCE_FACTOR * checked.terms[0].max(1.0));
        let learning_rate = self.schedule.rate(self.done, self.total_steps);
        let mut gradients: Vec<(GradientsParams, Device)> = (checked.parts.into_iter())
            .map(|part| {
                let on = part.replica.as_ref().unwrap_or(&model);
                (
                    GradientsParams::from_grads(part.loss.backward(), on),
                    part.device,
                )
            })
            .collect();
        let updated = match gradients.len() {
            1 => {
                let (only, _) = gradients.remove(0);
                self.optimizer.step(learning_rate, model, only)
            }
            // burn updates each parameter on one of the devices, turn about; the model comes
            // back whole to the first device, where the next step starts.
            _ => (self.optimizer)
                .step_multi(
                    learning_rate,
                    model,
                    MultiGradientsParams { grads: gradients },
                )
                .fork(&self.device),
        };
        self.model = Some(updated);
        self.before_last_update = Some(checked.before);
        self.done += 1;
        let [loss, task, kd, logit_kd] = checked.terms;
        Ok(StepReport {
            step: self.done,
            learning_rate,
            loss,
            task,
            kd,
            logit_kd,
            accuracy: checked.accuracy,
        })
    }

    /// Undoes the last update; with none to undo, returns to `pending` (the start of a step
    /// that was checked but not applied), if any.
    fn roll_back(&mut self, pending: Option<Snapshot<M>>) {
        if let Some(snapshot) = self.before_last_update.take().or(pending) {
            self.restore(snapshot);
        }
    }

    fn restore(&mut self, snapshot: Snapshot<M>) {
        self.model = Some(snapshot.model.train());
        self.optimizer = snapshot.optimizer;
        self.done = snapshot.done;
    }

    async fn step(
        &mut self,
        targets: &[Vec<usize>],
        forward: impl Fn(&M, &Shard) -> Losses,
    ) -> Result<StepReport, TrainError> {
        let checked = self.check(targets, forward).await?;
        self.apply(checked)
    }
}

/// A fresh optimiser of the kind the trainers use (Adam), to step or to load saved moments into.
pub(super) fn new_optimizer() -> ModuleOptimizer {
    AdamConfig::new().init()
}

/// The device generator's seed for device `part`'s part of step `step` of a run seeded with
/// `seed` (the first device's is the step's own).
fn step_seed(seed: u64, step: usize, part: usize) -> u64 {
    let step = Rng::new(seed).fork("step").fork(&step.to_string());
    match part {
        0 => step,
        part => step.fork(&part.to_string()),
    }
    .next_u64()
}

fn scalar_zero(device: &Device) -> Tensor<1> {
    Tensor::zeros([1], device)
}

/// Single-label targets as class indices, multi-label ones as a 0/1 matrix; the task loss
/// follows (cross-entropy or binary cross-entropy).
fn task_loss(
    logits: Tensor<2>,
    targets: &[Vec<usize>],
    multi_label: bool,
    device: &Device,
) -> Tensor<1> {
    let [batch, classes] = logits.dims();
    if multi_label {
        let mut hot = vec![0f32; batch * classes];
        for (row, wanted) in targets.iter().enumerate() {
            for class in wanted.iter().filter(|c| **c < classes) {
                hot[row * classes + class] = 1.0;
            }
        }
        binary_cross_entropy(
            logits,
            Tensor::from_data(TensorData::new(hot, [batch, classes]), device),
        )
    } else {
        let indices: Vec<i64> = targets
            .iter()
            .map(|t| t.first().copied().unwrap_or(0) as i64)
            .collect();
        cross_entropy(
            logits,
            Tensor::<1, Int>::from_data(TensorData::new(indices, [batch]), device),
        )
    }
}

fn check_targets(targets: &[Vec<usize>], clips: usize, classes: usize) -> Result<(), TrainError> {
    if targets.len() != clips {
        return Err(TrainError::Batch(format!(
            "{} target lists for {clips} clips",
            targets.len()
        )));
    }
    match targets.iter().flatten().find(|c| **c >= classes) {
        Some(bad) => Err(TrainError::Batch(format!(
            "class {bad} does not exist (the model has {classes})"
        ))),
        None if targets.iter().any(Vec::is_empty) => {
            Err(TrainError::Batch("a clip has no target class".into()))
        }
        None => Ok(()),
    }
}

/// Trains a student one batch at a time.
pub struct StudentTrainer {
    pub(super) fitting: Fitting<StudentModel>,
    config: StudentConfig,
    settings: StudentTraining,
    multi_label: bool,
    device: Device,
}

impl StudentTrainer {
    /// `student` must live on an autodiff device (`device.autodiff()`).
    pub fn new(
        student: Student,
        settings: StudentTraining,
        multi_label: bool,
    ) -> Result<Self, TrainError> {
        settings.validate()?;
        let device = student.device().clone();
        if !device.is_autodiff() {
            return Err(TrainError::Settings(
                "the student must be created on an autodiff device to be trained".into(),
            ));
        }
        let config = student.config().clone();
        Ok(Self {
            fitting: Fitting::new(
                student.into_model(),
                settings.schedule,
                settings.steps,
                settings.seed,
                device.clone(),
            ),
            config,
            settings,
            multi_label,
            device,
        })
    }

    pub fn settings(&self) -> &StudentTraining {
        &self.settings
    }

    pub(super) fn config(&self) -> &StudentConfig {
        &self.config
    }

    /// Splits each batch over the student's device and `replicas` (autodiff devices): each
    /// computes the gradients of its part, and burn's optimiser sums them into one update, the
    /// update of the whole batch on one device (within rounding) for a student without batch
    /// norm or dropout; batch norm normalises each part by its own statistics and keeps the
    /// first device's running statistics, and each part draws its own dropout.
    pub fn data_parallel(mut self, replicas: Vec<Device>) -> Result<Self, TrainError> {
        self.fitting.split_over(replicas)?;
        Ok(self)
    }

    pub fn steps_done(&self) -> usize {
        self.fitting.done
    }

    /// One optimisation step. When its loss is bad the update before it is undone, and the
    /// error says how many steps the kept weights carry.
    pub async fn step(&mut self, batch: &StudentBatch) -> Result<StepReport, TrainError> {
        let checked = self.check(batch).await?;
        self.fitting.apply(checked)
    }

    /// Refuses batches of `clips` clips of `frames` feature frames whose forward pass would keep
    /// more activations than one device may (see [`MAX_STEP_ACTIVATION_BYTES`]): checked by
    /// every step, and by a run for its largest batch before it builds one.
    pub fn check_memory(&self, clips: usize, frames: usize) -> Result<(), TrainError> {
        let per_clip = (self.config.cost().activations_per_frame.total)
            .saturating_mul(4)
            .saturating_mul(frames as u64);
        check_step_memory(
            per_clip,
            self.fitting.largest_part(clips),
            &format!("{frames} frames"),
        )
    }

    /// The forward pass of a step and its guard, without the update (see [`Fitting::check`]).
    pub(super) async fn check(
        &mut self,
        batch: &StudentBatch,
    ) -> Result<Checked<StudentModel>, TrainError> {
        let StudentBatch {
            clips,
            frames,
            bins,
            ..
        } = *batch;
        if batch.features.len() != clips * frames * bins || clips == 0 {
            return Err(TrainError::Batch(format!(
                "{} feature values for {clips} clips × {frames} frames × {bins} bins",
                batch.features.len()
            )));
        }
        if bins != self.config.input_size() {
            return Err(TrainError::Batch(format!(
                "the student takes {} bins per frame; the batch has {bins}",
                self.config.input_size()
            )));
        }
        check_targets(&batch.targets, clips, self.config.classes())?;
        self.check_memory(clips, frames)?;
        let student_frames = self.config.frames_for_input(frames);
        let classes = self.config.classes();
        let lambda = self.settings.loss.lambda;
        let teacher_attention = match (&batch.teacher_attention, lambda > 0.0) {
            (Some(values), true) if values.len() == clips * student_frames => Some(values),
            (Some(values), true) => {
                return Err(TrainError::Batch(format!(
                    "{} teacher map values for {clips} clips × {student_frames} student frames",
                    values.len()
                )));
            }
            (None, true) => {
                return Err(TrainError::Batch(
                    "λ > 0 needs the teacher's maps in the batch".into(),
                ));
            }
            (_, false) => None,
        };
        let logit_kd = match (self.settings.logit_kd, &batch.teacher_logits) {
            (Some(kd), Some(values)) if values.len() == clips * classes => Some((kd, values)),
            (Some(_), _) => {
                return Err(TrainError::Batch(
                    "logit KD needs the teacher's logits for every clip of the batch".into(),
                ));
            }
            (None, _) => None,
        };
        let (loss, multi_label) = (self.settings.loss, self.multi_label);
        self.fitting
            .check(&batch.targets, |model, shard| {
                let device = &shard.device;
                let range = shard.clips.clone();
                // Rows `range` of a clip-major host matrix of `width` values per clip.
                let rows = |values: &[f32], width: usize| -> Vec<f32> {
                    values[range.start * width..range.end * width].to_vec()
                };
                let n = range.len();
                let features = Tensor::<3>::from_data(
                    TensorData::new(rows(&batch.features, frames * bins), [n, frames, bins]),
                    device,
                );
                let teacher_attention = teacher_attention.map(|values| {
                    Tensor::<2>::from_data(
                        TensorData::new(rows(values, student_frames), [n, student_frames]),
                        device,
                    )
                });
                let request = match teacher_attention {
                    Some(_) => AttentionRequest::Mean,
                    None => AttentionRequest::None,
                };
                let output = model.forward(features, request);
                let targets = &batch.targets[range.clone()];
                let task = task_loss(output.logits.clone(), targets, multi_label, device);
                let kd = match (teacher_attention, output.attention) {
                    (Some(teacher), Some(student)) => temporal_kd_loss(teacher, student),
                    _ => scalar_zero(device),
                };
                let mut total = loss.total(task.clone(), kd.clone());
                let logit = match logit_kd {
                    Some((settings, values)) => {
                        let teacher = Tensor::<2>::from_data(
                            TensorData::new(rows(values, classes), [n, classes]),
                            device,
                        );
                        let term =
                            logit_kd_loss(output.logits.clone(), teacher, settings.temperature);
                        total = total + term.clone().mul_scalar(settings.weight);
                        term
                    }
                    None => scalar_zero(device),
                };
                Losses {
                    total,
                    terms: [task, kd, logit],
                    logits: output.logits,
                }
            })
            .await
    }

    /// The update of a checked step.
    pub(super) fn apply(
        &mut self,
        checked: Checked<StudentModel>,
    ) -> Result<StepReport, TrainError> {
        self.fitting.apply(checked)
    }

    /// Undoes the last update, or `pending`'s forward pass when there is none to undo.
    pub(super) fn roll_back(&mut self, pending: Option<Checked<StudentModel>>) {
        self.fitting
            .roll_back(pending.map(|checked| checked.before));
    }

    /// Returns to the start of a checked step, as if it had not begun.
    pub(super) fn cancel(&mut self, checked: Checked<StudentModel>) {
        self.fitting.restore(checked.before);
    }

    /// The student as trained so far, off the autodiff graph, for evaluation and saving.
    pub fn student(&self) -> Result<Student, TrainError> {
        let model = self.fitting.model()?.valid();
        Student::assemble(model, self.config.clone(), &self.device.clone().inner())
            .map_err(|e| TrainError::Settings(e.to_string()))
    }
}

/// How a teacher is trained or fine-tuned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeacherTraining {
    pub steps: usize,
    pub batch_size: usize,
    pub schedule: LrSchedule,
    pub seed: u64,
    /// Keep the convolutional feature encoder as it is (no gradients, no updates), as
    /// fine-tuning a pretrained encoder usually does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub freeze_feature_encoder: bool,
    /// Effects drawn afresh for every training clip at every step (on the finished clip, on top
    /// of those its corpus was made with), so no two passes over a clip hear the same voice,
    /// room and microphone.
    #[serde(
        default = "Augmentation::none",
        skip_serializing_if = "Augmentation::is_none"
    )]
    pub fresh_effects: Augmentation,
    /// Every dropout rate of the teacher while it trains (transformers' default is 0.1 for all
    /// but the feature projection's); 0 trains without dropout. Written into the trained
    /// teacher's config.
    #[serde(default, skip_serializing_if = "DropoutRates::is_off")]
    pub dropout: f64,
}

impl Default for TeacherTraining {
    fn default() -> Self {
        Self {
            steps: 1000,
            batch_size: 16,
            schedule: LrSchedule {
                initial: 5e-4,
                after_step: 5e-5,
                step_at: 0.8,
                warmup_steps: 100,
            },
            seed: 0,
            freeze_feature_encoder: false,
            fresh_effects: Augmentation::none(),
            dropout: 0.0,
        }
    }
}

/// Raw 16 kHz clips of one length, on the host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TeacherBatch {
    pub clips: usize,
    pub samples: usize,
    /// `clips × samples`, clip-major.
    pub waveforms: Vec<f32>,
    pub targets: Vec<Vec<usize>>,
}

/// Trains (or fine-tunes) the wav2vec 2.0 teacher one batch at a time.
pub struct TeacherTrainer {
    pub(super) fitting: Fitting<Wav2Vec2Classifier>,
    teacher: Teacher,
    multi_label: bool,
    device: Device,
}

impl TeacherTrainer {
    /// `teacher` must live on an autodiff device.
    pub fn new(
        teacher: Teacher,
        settings: &TeacherTraining,
        multi_label: bool,
    ) -> Result<Self, TrainError> {
        validate_run(settings.steps, settings.batch_size, &settings.schedule)?;
        let device = teacher.device().clone();
        if !device.is_autodiff() {
            return Err(TrainError::Settings(
                "the teacher must be created on an autodiff device to be trained".into(),
            ));
        }
        let teacher = teacher
            .with_dropout(DropoutRates::all(settings.dropout))
            .map_err(|_| {
                TrainError::Settings(format!(
                    "a dropout rate of {} cannot be used: it must be at least 0 and below 1",
                    settings.dropout
                ))
            })?;
        Ok(Self {
            fitting: Fitting::new(
                match settings.freeze_feature_encoder {
                    true => teacher.model().clone().with_frozen_feature_encoder(),
                    false => teacher.model().clone(),
                },
                settings.schedule,
                settings.steps,
                settings.seed,
                device.clone(),
            ),
            teacher,
            multi_label,
            device,
        })
    }

    pub fn steps_done(&self) -> usize {
        self.fitting.done
    }

    /// Splits each batch over the teacher's device and `replicas`, as
    /// [`StudentTrainer::data_parallel`] does.
    pub fn data_parallel(mut self, replicas: Vec<Device>) -> Result<Self, TrainError> {
        self.fitting.split_over(replicas)?;
        Ok(self)
    }

    /// Refuses batches of `clips` clips of `samples` samples whose forward pass would keep more
    /// activations than one device may (see [`MAX_STEP_ACTIVATION_BYTES`]), counting at least
    /// the feature encoder's widest output and every layer's attention: checked by every step,
    /// and by a run for its largest batch before it builds one.
    pub fn check_memory(&self, clips: usize, samples: usize) -> Result<(), TrainError> {
        let config = self.teacher.config();
        let cost = config.cost(samples as f32 / MODEL_SAMPLE_RATE as f32);
        let per_clip = (cost.attention_bytes)
            .saturating_mul(config.num_hidden_layers as u64)
            .saturating_add(cost.encoder_bytes);
        check_step_memory(
            per_clip,
            self.fitting.largest_part(clips),
            &format!("{samples} samples"),
        )
    }

    pub async fn step(&mut self, batch: &TeacherBatch) -> Result<StepReport, TrainError> {
        let TeacherBatch { clips, samples, .. } = *batch;
        if batch.waveforms.len() != clips * samples || clips == 0 {
            return Err(TrainError::Batch(format!(
                "{} samples for {clips} clips × {samples}",
                batch.waveforms.len()
            )));
        }
        check_targets(&batch.targets, clips, self.teacher.labels().len())?;
        self.check_memory(clips, samples)?;
        let rows: Vec<&[f32]> = batch.waveforms.chunks(samples).collect();
        let input = self
            .teacher
            .batch_input(&rows)
            .map_err(|e| TrainError::Batch(e.to_string()))?;
        let multi_label = self.multi_label;
        self.fitting
            .step(&batch.targets, |model, shard| {
                let device = &shard.device;
                let part = match shard.clips.len() == clips {
                    true => input.clone(),
                    false => (input.clone())
                        .slice([shard.clips.clone(), 0..samples])
                        .to_device(device),
                };
                let logits = model.forward(part, AttentionDetail::None).logits;
                let targets = &batch.targets[shard.clips.clone()];
                let task = task_loss(logits.clone(), targets, multi_label, device);
                Losses {
                    total: task.clone(),
                    terms: [task, scalar_zero(device), scalar_zero(device)],
                    logits,
                }
            })
            .await
    }

    /// The teacher as trained so far, off the autodiff graph.
    pub fn teacher(&self) -> Result<Teacher, TrainError> {
        let model = self.fitting.model()?.valid();
        Ok(self.teacher.with_model(model, &self.device.clone().inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::students::Preset;

    /// The page lets a visitor train any shipped student on batches of up to 256 clips of up to
    /// 8 s (`app/src/components/trainer.rs`): none of them may be refused there.
    #[test]
    fn every_preset_trains_on_the_pages_largest_batches_within_the_browsers_bound() {
        let labels = crate::data::keywords::labels();
        for preset in Preset::ALL {
            let cost = preset.config(labels.clone()).cost();
            let bytes = cost.activation_bytes_per_second() * 8 * 256;
            assert!(bytes <= 2 << 30, "{} needs {bytes} bytes", preset.name());
        }
    }

    #[test]
    fn a_step_over_the_memory_bound_is_refused_saying_what_to_do() {
        assert!(check_step_memory(MAX_STEP_ACTIVATION_BYTES / 8, 8, "100 frames").is_ok());
        let error = check_step_memory(MAX_STEP_ACTIVATION_BYTES / 8 + 1, 8, "480000 samples")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("8 clips of 480000 samples on one device")
                && error.contains("use a smaller batch, shorter clips or more devices"),
            "{error}"
        );
    }
}
