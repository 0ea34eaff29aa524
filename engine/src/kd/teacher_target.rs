//! What the teacher gives a student to learn from, clip by clip: computed once per clip (the
//! teacher is frozen) and, in the page, handed from one training worker to the other.

use serde::{Deserialize, Serialize};

/// What students learn from one clip: the teacher's rollout over its own frames, and its logits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeacherTarget {
    pub map: Vec<f32>,
    pub logits: Vec<f32>,
}

/// Teacher targets under the keys a map store files them by (a clip's name and the hash of its
/// audio), as one maker hands them to another.
pub type KeyedMaps = Vec<(String, TeacherTarget)>;
