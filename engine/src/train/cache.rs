//! The teacher is frozen while students train, so its temporal map and logits are computed once
//! per clip and kept, keyed by a fingerprint of the teacher's files and rollout settings, and
//! each clip by its name and the hash of its file: neither a changed teacher nor a clip
//! re-synthesised under the same name ever serves stale maps.

use crate::kd::{RolloutConfig, rollout};
use crate::teacher::{AttentionDetail, Teacher, TeacherError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What students learn from one clip: the teacher's rollout over its own frames, and its logits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeacherTarget {
    pub map: Vec<f32>,
    pub logits: Vec<f32>,
}

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
    format!("{name}@{:016x}", fnv1a(&[file]))
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

/// The teacher's map and logits for one 16 kHz clip.
pub async fn teacher_target(
    teacher: &Teacher,
    samples: &[f32],
    settings: &RolloutConfig,
) -> Result<TeacherTarget, TeacherError> {
    let inference = teacher
        .infer(samples, AttentionDetail::Fused(settings.head_fusion))
        .await?;
    let maps = inference
        .attentions
        .ok_or_else(|| TeacherError::Device("the teacher returned no attention maps".into()))?;
    let map = rollout(&maps, settings).map_err(|e| TeacherError::Device(e.to_string()))?;
    Ok(TeacherTarget {
        map,
        logits: inference.prediction.logits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
