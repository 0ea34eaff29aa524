//! Temporal knowledge distillation: the teacher's attention turned into one distribution over
//! time, that distribution placed on a student's frames, and the loss that pulls the student's
//! own temporal attention towards it.

#[cfg(feature = "tensors")]
mod loss;
mod pair;
mod rollout;
mod target;
mod teacher_target;

#[cfg(feature = "tensors")]
pub use loss::{
    KdLoss, KdLossConfig, TaskWeight, binary_cross_entropy, cross_entropy, logit_kd_loss,
    temporal_kd_loss,
};
pub use pair::{CheckOutcome, PlainAndKd, Verdict};
pub use rollout::{
    AttentionMaps, HeadFusion, NestedMaps, RolloutConfig, RolloutError, RolloutRow, normalise,
    resample_distribution, rollout,
};
pub use target::{KdTarget, KdTargetError};
pub use teacher_target::{KeyedMaps, TeacherTarget};
