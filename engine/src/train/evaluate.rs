//! Scoring a trained model on a set of clips: accuracy, per-class accuracy, mAP for multi-label
//! data, and attention localisation against each clip's keyword window.

use super::TrainError;
use super::cache::teacher_target;
use crate::audio::Features;
use crate::data::Window;
use crate::device::read_floats;
use crate::kd::RolloutConfig;
use crate::metrics::{Evaluation, Outcome, attention_in_window};
use crate::prediction::softmax;
use crate::students::{AttentionRequest, Student};
use crate::teacher::Teacher;
use burn::tensor::{Tensor, TensorData};
use std::borrow::Cow;

/// Clips scored per forward pass.
const EVAL_BATCH: usize = 64;

/// One clip to score: its input, its target classes and, when known, its keyword window.
#[derive(Clone, Debug)]
pub struct LabelledClip<T> {
    pub input: T,
    pub targets: Vec<usize>,
    pub window: Option<Window>,
}

/// Class scores: softmax for single-label models, a sigmoid per class for multi-label ones.
pub fn class_probabilities(logits: &[f32], multi_label: bool) -> Vec<f32> {
    if multi_label {
        logits.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect()
    } else {
        softmax(logits)
    }
}

/// The batches a student is scored in, by index: clips of equal sizes (frame counts) together,
/// smallest first, at most [`EVAL_BATCH`] a batch.
fn scoring_batches(sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|i| sizes[*i]);
    order
        .chunk_by(|a, b| sizes[*a] == sizes[*b])
        .flat_map(|group| group.chunks(EVAL_BATCH).map(<[usize]>::to_vec))
        .collect()
}

/// Clips picked from a set by index: borrowed when the set is in memory, read when not.
pub type Picked<'c, T> = Vec<Cow<'c, LabelledClip<T>>>;

/// Reads the clips at some indices of a set, in that order.
pub type ReadClips<'c, T> = dyn FnMut(&[usize]) -> Result<Picked<'c, T>, TrainError> + 'c;

/// The student on every clip, in batches of clips with equal frame counts. Also returns each
/// clip's temporal map (over the student's frames), in input order.
pub async fn evaluate_student(
    student: &Student,
    clips: &[LabelledClip<Features>],
    multi_label: bool,
) -> Result<(Evaluation, Vec<Vec<f32>>), TrainError> {
    let frames: Vec<usize> = clips.iter().map(|clip| clip.input.frames).collect();
    evaluate_student_on(
        student,
        &frames,
        &mut |batch: &[usize]| pick(clips, batch),
        multi_label,
    )
    .await
}

/// [`evaluate_student`] on clips read a batch at a time by `read`, given each clip's frames.
pub async fn evaluate_student_on(
    student: &Student,
    frames: &[usize],
    read: &mut ReadClips<'_, Features>,
    multi_label: bool,
) -> Result<(Evaluation, Vec<Vec<f32>>), TrainError> {
    let mut outcomes: Vec<Option<Outcome>> = (0..frames.len()).map(|_| None).collect();
    let mut maps = vec![Vec::new(); frames.len()];
    let classes = student.config().classes();
    for batch in scoring_batches(frames) {
        let clips = read(&batch)?;
        let Some(first) = clips.first().map(|clip| &clip.input) else {
            continue;
        };
        let (frames, bins) = (first.frames, first.bins);
        let values: Vec<f32> = clips
            .iter()
            .flat_map(|clip| clip.input.values.iter().copied())
            .collect();
        let input = Tensor::<3>::from_data(
            TensorData::new(values, [clips.len(), frames, bins]),
            student.device(),
        );
        let output = student.model().forward(input, AttentionRequest::Mean);
        let attention = output
            .attention
            .ok_or_else(|| TrainError::Output("no attention came back".into()))?;
        let student_frames = attention.dims()[1];
        let values = read_floats(Tensor::cat(
            vec![
                output.logits.reshape([clips.len() * classes]),
                attention.reshape([clips.len() * student_frames]),
            ],
            0,
        ))
        .await
        .map_err(TrainError::Device)?;
        let (logits, attention) = values.split_at(clips.len() * classes);
        for (((index, clip), logits), map) in batch
            .iter()
            .zip(&clips)
            .zip(logits.chunks(classes))
            .zip(attention.chunks(student_frames.max(1)))
        {
            let axis = student.config().frame_axis(&clip.input);
            outcomes[*index] = Some(Outcome {
                probs: class_probabilities(logits, multi_label),
                targets: clip.targets.clone(),
                localisation: clip
                    .window
                    .map(|w| attention_in_window(map, axis.start_s, axis.frame_s, w)),
            });
            maps[*index] = map.to_vec();
        }
    }
    let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
    Ok((
        Evaluation::from_outcomes(&outcomes, student.labels(), multi_label),
        maps,
    ))
}

/// The teacher on every clip, one at a time (attention is T × T per layer); also returns each
/// clip's rollout map over the teacher's frames.
pub async fn evaluate_teacher(
    teacher: &Teacher,
    clips: &[LabelledClip<Vec<f32>>],
    rollout: &RolloutConfig,
    multi_label: bool,
) -> Result<(Evaluation, Vec<Vec<f32>>), TrainError> {
    evaluate_teacher_on(
        teacher,
        clips.len(),
        &mut |batch: &[usize]| pick(clips, batch),
        rollout,
        multi_label,
    )
    .await
}

/// [`evaluate_teacher`] on `count` clips read [`EVAL_BATCH`] at a time by `read`.
pub async fn evaluate_teacher_on(
    teacher: &Teacher,
    count: usize,
    read: &mut ReadClips<'_, Vec<f32>>,
    rollout: &RolloutConfig,
    multi_label: bool,
) -> Result<(Evaluation, Vec<Vec<f32>>), TrainError> {
    let mut outcomes = Vec::with_capacity(count);
    let mut maps = Vec::with_capacity(count);
    let indices: Vec<usize> = (0..count).collect();
    for batch in indices.chunks(EVAL_BATCH) {
        for clip in read(batch)? {
            let target = teacher_target(teacher, &clip.input, rollout).await?;
            outcomes.push(Outcome {
                probs: class_probabilities(&target.logits, multi_label),
                targets: clip.targets.clone(),
                localisation: clip
                    .window
                    .map(|w| attention_in_window(&target.map, 0.0, teacher.frame_s(), w)),
            });
            maps.push(target.map);
        }
    }
    Ok((
        Evaluation::from_outcomes(&outcomes, teacher.labels(), multi_label),
        maps,
    ))
}

/// The clips at `picked`, in that order, borrowed from `clips`.
pub(super) fn pick<'c, T: Clone>(
    clips: &'c [LabelledClip<T>],
    picked: &[usize],
) -> Result<Picked<'c, T>, TrainError> {
    picked
        .iter()
        .map(|index| {
            (clips.get(*index).map(Cow::Borrowed))
                .ok_or_else(|| TrainError::Batch(format!("no clip {index} of {}", clips.len())))
        })
        .collect()
}
