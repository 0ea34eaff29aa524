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

/// Clips scored per forward pass.
const EVAL_BATCH: usize = 64;

/// One clip to score: its input, its target classes and, when known, its keyword window.
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

/// The student on every clip, in batches of clips with equal frame counts. Also returns each
/// clip's temporal map (over the student's frames), in input order.
pub async fn evaluate_student(
    student: &Student,
    clips: &[LabelledClip<Features>],
    multi_label: bool,
) -> Result<(Evaluation, Vec<Vec<f32>>), TrainError> {
    let mut order: Vec<usize> = (0..clips.len()).collect();
    order.sort_by_key(|i| clips[*i].input.frames);
    let mut outcomes: Vec<Option<Outcome>> = (0..clips.len()).map(|_| None).collect();
    let mut maps = vec![Vec::new(); clips.len()];
    let classes = student.config().classes();
    for group in order.chunk_by(|a, b| clips[*a].input.frames == clips[*b].input.frames) {
        for batch in group.chunks(EVAL_BATCH) {
            let first = &clips[batch[0]].input;
            let (frames, bins) = (first.frames, first.bins);
            let values: Vec<f32> = batch
                .iter()
                .flat_map(|i| clips[*i].input.values.iter().copied())
                .collect();
            let input = Tensor::<3>::from_data(
                TensorData::new(values, [batch.len(), frames, bins]),
                student.device(),
            );
            let output = student.model().forward(input, AttentionRequest::Mean);
            let attention = output
                .attention
                .ok_or_else(|| TrainError::Output("no attention came back".into()))?;
            let student_frames = attention.dims()[1];
            let values = read_floats(Tensor::cat(
                vec![
                    output.logits.reshape([batch.len() * classes]),
                    attention.reshape([batch.len() * student_frames]),
                ],
                0,
            ))
            .await
            .map_err(TrainError::Device)?;
            let (logits, attention) = values.split_at(batch.len() * classes);
            for ((index, logits), map) in batch
                .iter()
                .zip(logits.chunks(classes))
                .zip(attention.chunks(student_frames.max(1)))
            {
                let clip = &clips[*index];
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
    let mut outcomes = Vec::with_capacity(clips.len());
    let mut maps = Vec::with_capacity(clips.len());
    for clip in clips {
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
    Ok((
        Evaluation::from_outcomes(&outcomes, teacher.labels(), multi_label),
        maps,
    ))
}
