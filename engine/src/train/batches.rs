//! Batches for the step-at-a-time trainers: a seeded order over clips (each batch from clips of
//! one length, since a batch cannot mix them) and a student batch built from the chosen clips.

use super::augment::SpecAugment;
use super::evaluate::LabelledClip;
use super::trainer::StudentBatch;
use crate::audio::Features;
use crate::kd::TeacherTarget;
use crate::kd::{KdTarget, resample_distribution};
use crate::rng::Rng;
use crate::students::StudentConfig;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Seeded epochs of batches, each batch from clips of one size (batches cannot mix lengths).
#[derive(Clone, Debug)]
pub struct BatchOrder {
    pub(super) buckets: Vec<Vec<usize>>,
    pub(super) batch_size: usize,
    pub(super) queue: Vec<Vec<usize>>,
    pub(super) rng: Rng,
}

impl BatchOrder {
    pub fn new(sizes: impl Iterator<Item = usize>, batch_size: usize, rng: Rng) -> Self {
        let mut by_size: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (index, size) in sizes.enumerate() {
            by_size.entry(size).or_default().push(index);
        }
        Self {
            buckets: by_size.into_values().collect(),
            batch_size,
            queue: Vec::new(),
            rng,
        }
    }

    pub fn next(&mut self) -> Vec<usize> {
        if self.queue.is_empty() {
            for bucket in &self.buckets {
                let mut shuffled = bucket.clone();
                self.rng.shuffle(&mut shuffled);
                self.queue
                    .extend(shuffled.chunks(self.batch_size).map(<[usize]>::to_vec));
            }
            self.rng.shuffle(&mut self.queue);
        }
        self.queue.pop().unwrap_or_default()
    }
}

/// The `chosen` clips, those at `picked` in the training clips, as one student batch: features
/// (SpecAugmented when asked), targets and, when given, the teacher's maps (of every training
/// clip) shaped into KD targets on the student's frames, and its logits.
pub fn student_batch(
    chosen: &[Cow<'_, LabelledClip<Features>>],
    picked: &[usize],
    teacher: Option<(&[TeacherTarget], &KdTarget)>,
    config: &StudentConfig,
    spec_augment: Option<&SpecAugment>,
    rng: &mut Rng,
) -> StudentBatch {
    let (frames, bins) = chosen
        .first()
        .map_or((0, 0), |c| (c.input.frames, c.input.bins));
    let student_frames = config.frames_for_input(frames);
    let mut features = Vec::with_capacity(chosen.len() * frames * bins);
    for clip in chosen {
        let mut values = clip.input.values.clone();
        if let Some(augment) = spec_augment {
            augment.apply(&mut values, frames, bins, rng);
        }
        features.extend(values);
    }
    let guide = |part: &dyn Fn(&TeacherTarget) -> Vec<f32>| {
        teacher.map(|(targets, _)| {
            picked
                .iter()
                .filter_map(|i| targets.get(*i))
                .flat_map(part)
                .collect::<Vec<f32>>()
        })
    };
    StudentBatch {
        clips: chosen.len(),
        frames,
        bins,
        features,
        targets: chosen.iter().map(|c| c.targets.clone()).collect(),
        teacher_attention: teacher.and_then(|(_, shape)| {
            guide(&|t| resample_distribution(&shape.apply(&t.map), student_frames))
        }),
        teacher_logits: guide(&|t| t.logits.clone()),
    }
}
