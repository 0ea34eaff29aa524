//! Temporal knowledge distillation: the teacher's attention turned into one distribution over
//! time, and that distribution placed on a student's frames.

mod rollout;

pub use rollout::{
    AttentionMaps, HeadFusion, RolloutConfig, RolloutError, RolloutRow, normalise,
    resample_distribution, rollout,
};
