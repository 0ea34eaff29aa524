//! The teacher is frozen while students train, so its temporal map and logits are computed once
//! per clip and kept, keyed by a fingerprint of the teacher's files and rollout settings, and
//! each clip by its name and the hash of its file: neither a changed teacher nor a clip
//! re-synthesised under the same name ever serves stale maps.

use crate::kd::{RolloutConfig, TeacherTarget, rollout};
use crate::teacher::{AttentionDetail, Teacher, TeacherError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TeacherCache {
    pub teacher: String,
    pub entries: BTreeMap<String, TeacherTarget>,
}

/// FNV-1a over the teacher's files and the rollout settings, as hex.
pub fn fingerprint(files: &[&[u8]], rollout: &RolloutConfig) -> String {
    let settings = serde_json::to_string(rollout).unwrap_or_default();
    let parts: Vec<&[u8]> = files.iter().copied().chain([settings.as_bytes()]).collect();
    format!("{:016x}", fnv1a(&parts))
}

/// A clip's cache key: its name and the hash of its file's bytes.
pub fn clip_key(name: &str, file: &[u8]) -> String {
    format!("{name}@{}", bytes_fingerprint(file))
}

/// FNV-1a over one file's bytes, as hex: tells a changed file from the same one, not a
/// checksum against tampering.
pub fn bytes_fingerprint(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a(&[bytes]))
}

/// FNV-1a over `parts`, each followed by a separator byte.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .flat_map(|part| part.iter().chain(&[0xff]))
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
            (hash ^ *byte as u64).wrapping_mul(0x100_0000_01b3)
        })
}

impl TeacherCache {
    pub fn new(teacher: String) -> Self {
        Self {
            teacher,
            entries: BTreeMap::new(),
        }
    }

    /// A stored cache when it belongs to `teacher`; an empty one otherwise (or when unreadable).
    pub fn from_json(text: &str, teacher: &str) -> Self {
        match serde_json::from_str::<Self>(text) {
            Ok(cache) if cache.teacher == teacher => cache,
            _ => Self::new(teacher.to_string()),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn get(&self, clip: &str) -> Option<&TeacherTarget> {
        self.entries.get(clip)
    }

    pub fn insert(&mut self, clip: String, target: TeacherTarget) {
        self.entries.insert(clip, target);
    }
}

/// Clips the teacher's maps are computed for in one forward pass, at most: enough to fill the
/// matrix products, few enough that the page's worker answers a Stop within a batch.
pub const MAP_BATCH_CLIPS: usize = 8;

/// Audio in one batch, at most (16 s at 16 kHz): a batch holds every clip's activations at
/// once, so long clips go fewer at a time.
pub const MAP_BATCH_SAMPLES: usize = 256_000;

/// The teacher's map and logits for one 16 kHz clip.
pub async fn teacher_target(
    teacher: &Teacher,
    samples: &[f32],
    settings: &RolloutConfig,
) -> Result<TeacherTarget, TeacherError> {
    let mut targets = teacher_targets(teacher, &[samples], settings).await?;
    targets
        .pop()
        .ok_or_else(|| TeacherError::Output("nothing came back".into()))
}

/// [`teacher_target`] for clips of one length in one forward pass (group them with
/// [`map_batches`]).
pub async fn teacher_targets(
    teacher: &Teacher,
    clips: &[&[f32]],
    settings: &RolloutConfig,
) -> Result<Vec<TeacherTarget>, TeacherError> {
    let inferences = teacher
        .infer_batch(clips, AttentionDetail::Fused(settings.head_fusion))
        .await?;
    inferences
        .into_iter()
        .map(|inference| {
            let maps = (inference.attentions)
                .ok_or_else(|| TeacherError::Output("no attention maps came back".into()))?;
            let map = rollout(&maps, settings)?;
            Ok(TeacherTarget {
                map,
                logits: inference.prediction.logits,
            })
        })
        .collect()
}

/// Indices of clips with these lengths (in samples) cut into batches for
/// [`teacher_targets`]: clips of one length together, in their order, each batch at most
/// [`MAP_BATCH_CLIPS`] clips and [`MAP_BATCH_SAMPLES`] samples (a longer clip alone).
pub fn map_batches(lengths: &[usize]) -> Vec<Vec<usize>> {
    let mut by_length: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (index, &length) in lengths.iter().enumerate() {
        by_length.entry(length).or_default().push(index);
    }
    let mut batches: Vec<Vec<usize>> = by_length
        .into_iter()
        .flat_map(|(length, indices)| {
            let per_batch = (MAP_BATCH_SAMPLES / length.max(1)).clamp(1, MAP_BATCH_CLIPS);
            indices
                .chunks(per_batch)
                .map(<[usize]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    // In the clips' own order, so progress follows the list.
    batches.sort_by_key(|batch| batch[0]);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_clips_of_one_length_within_the_limits() {
        let second = 16_000;
        let lengths = [
            second,
            second,
            2 * second,
            second,
            20 * second,
            2 * second,
            second,
            second,
            second,
            second,
            second,
            second,
            second,
            8 * second,
            8 * second,
            8 * second,
        ];
        let batches = map_batches(&lengths);
        assert_eq!(
            batches,
            vec![
                vec![0, 1, 3, 6, 7, 8, 9, 10],
                vec![2, 5],
                vec![4],
                vec![11, 12],
                vec![13, 14],
                vec![15],
            ]
        );
        let mut every: Vec<usize> = batches.concat();
        every.sort();
        assert_eq!(every, (0..lengths.len()).collect::<Vec<_>>());
        assert!(map_batches(&[]).is_empty());
    }

    #[test]
    fn a_cache_for_another_teacher_is_not_reused() {
        let rollout = RolloutConfig::default();
        let ours = fingerprint(&[b"config", b"weights"], &rollout);
        assert_ne!(ours, fingerprint(&[b"config", b"weights2"], &rollout));
        let other_rollout = RolloutConfig {
            residual: 0.3,
            ..RolloutConfig::default()
        };
        assert_ne!(ours, fingerprint(&[b"config", b"weights"], &other_rollout));
        let mut cache = TeacherCache::new(ours.clone());
        cache.insert(
            "a.wav".into(),
            TeacherTarget {
                map: vec![0.5, 0.5],
                logits: vec![1.0],
            },
        );
        let text = cache.to_json();
        assert_eq!(TeacherCache::from_json(&text, &ours), cache);
        assert!(TeacherCache::from_json(&text, "another").entries.is_empty());
        assert!(
            TeacherCache::from_json("not json", &ours)
                .entries
                .is_empty()
        );
    }
}
