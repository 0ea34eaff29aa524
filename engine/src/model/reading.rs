//! What a model heard in one clip, summarised the same way for the command line and the page:
//! its class scores and where in time it listened.

use crate::kd::{AttentionMaps, RolloutConfig};
use crate::prediction::Prediction;
use serde::{Deserialize, Serialize};

/// What to read beyond the class scores.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadingRequest {
    /// Every attention head's own map (the teacher's per layer, a student's per head), not only
    /// their fusion.
    pub heads: bool,
    /// How the teacher's attention is rolled out; `None` for the teacher's own default.
    pub rollout: Option<RolloutConfig>,
}

/// Values over frames placed on a clip's time axis: frame `i` covers
/// `start_s + i·frame_s .. start_s + (i+1)·frame_s` seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeMap {
    pub start_s: f32,
    pub frame_s: f32,
    pub values: Vec<f32>,
}

/// A teacher's self-attention per layer (and head, when asked for), with the rollout settings
/// its map used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeacherAttention {
    pub layers: AttentionMaps,
    pub rollout: RolloutConfig,
}

/// One clip through one model.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub prediction: Prediction,
    /// The model's frames: the teacher's encoder frames, or the student's own.
    pub frames: usize,
    /// The model's temporal attention: the teacher's rollout, or a student's a_S.
    pub map: TimeMap,
    /// The teacher's self-attention the map was rolled out from; `None` for students.
    pub teacher: Option<TeacherAttention>,
    /// A student's per-head distributions, when asked for.
    pub heads: Option<Vec<Vec<f32>>>,
}

#[cfg(feature = "tensors")]
impl super::Model {
    /// Classifies one 16 kHz mono clip and reads back where the model listened.
    pub async fn read(
        &self,
        samples: &[f32],
        request: &ReadingRequest,
    ) -> Result<Reading, super::ModelError> {
        use super::Model;
        use crate::kd;
        use crate::students::AttentionRequest;
        use crate::teacher::{AttentionDetail, TeacherError};
        match self {
            Model::Teacher(teacher) => {
                let rollout = request
                    .rollout
                    .clone()
                    .unwrap_or_else(|| teacher.default_rollout());
                let detail = match request.heads {
                    true => AttentionDetail::PerHead,
                    false => AttentionDetail::Fused(rollout.head_fusion),
                };
                let inference = teacher.infer(samples, detail).await?;
                let layers = (inference.attentions)
                    .ok_or_else(|| TeacherError::Output("no attention maps came back".into()))?;
                let values = kd::rollout(&layers, &rollout).map_err(TeacherError::Rollout)?;
                Ok(Reading {
                    prediction: inference.prediction,
                    frames: inference.frames,
                    map: TimeMap {
                        start_s: 0.0,
                        frame_s: inference.frame_s,
                        values,
                    },
                    teacher: Some(TeacherAttention { layers, rollout }),
                    heads: None,
                })
            }
            Model::Student(student) => {
                let attention = match request.heads {
                    true => AttentionRequest::PerHead,
                    false => AttentionRequest::Mean,
                };
                let inference = student.infer(samples, attention).await?;
                Ok(Reading {
                    prediction: inference.prediction,
                    frames: inference.axis.frames,
                    map: TimeMap {
                        start_s: inference.axis.start_s,
                        frame_s: inference.axis.frame_s,
                        values: inference.attention.unwrap_or_default(),
                    },
                    teacher: None,
                    heads: inference.heads,
                })
            }
        }
    }
}
