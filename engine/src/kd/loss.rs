//! The training objective: the task loss plus λ times the temporal KD loss.

use burn::tensor::activation::{log_sigmoid, log_softmax, softmax};
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

/// Keeps `log` finite where a distribution has an exact zero (0 · log 0 counts as 0).
const FLOOR: f32 = 1e-12;

/// `KL(a_T ‖ a_S) = Σ_t a_T,t · log(a_T,t / a_S,t)`, averaged over the batch.
///
/// # Shapes
/// - `teacher`, `student`: `[batch, frames]`, rows that sum to 1
/// - output: `[1]`
pub fn temporal_kd_loss(teacher: Tensor<2>, student: Tensor<2>) -> Tensor<1> {
    let log_ratio = teacher.clone().clamp_min(FLOOR).log() - student.clamp_min(FLOOR).log();
    (teacher * log_ratio).sum_dim(1).mean() // [B, 1] → [1]
}

/// Cross-entropy of single-label targets, averaged over the batch.
///
/// # Shapes
/// - `logits`: `[batch, classes]`; `targets`: `[batch]` class indices
/// - output: `[1]`
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [batch, _] = logits.dims();
    let picked = log_softmax(logits, 1).gather(1, targets.reshape([batch, 1])); // [B, 1]
    picked.mean().neg()
}

/// Binary cross-entropy of multi-label targets (0/1 per class), averaged over clips and classes.
///
/// # Shapes
/// - `logits`, `targets`: `[batch, classes]`
/// - output: `[1]`
pub fn binary_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    // log σ(x) and log(1 − σ(x)) = log σ(−x), both stable for large |x|.
    let positive = targets.clone() * log_sigmoid(logits.clone());
    let negative = targets.neg().add_scalar(1.0) * log_sigmoid(logits.neg());
    (positive + negative).mean().neg()
}

/// Hinton's logit distillation, `T² · KL(softmax(t/T) ‖ softmax(s/T))` averaged over the batch:
/// an extra baseline beside the temporal KD loss (the paper uses none).
///
/// # Shapes
/// - `student`, `teacher`: `[batch, classes]` logits
/// - output: `[1]`
pub fn logit_kd_loss(student: Tensor<2>, teacher: Tensor<2>, temperature: f32) -> Tensor<1> {
    let target = softmax(teacher.div_scalar(temperature), 1);
    let student = softmax(student.div_scalar(temperature), 1);
    temporal_kd_loss(target, student).mul_scalar(temperature * temperature)
}

/// How the task loss is weighted beside λ·L_KD: the paper does not say whether it is scaled by
/// (1 − λ), so both readings are offered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskWeight {
    /// `L = L_cls + λ·L_KD`
    #[default]
    One,
    /// `L = (1 − λ)·L_cls + λ·L_KD`
    OneMinusLambda,
}

/// λ and the task-loss weighting.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KdLossConfig {
    pub lambda: f32,
    pub task_weight: TaskWeight,
}

impl Default for KdLossConfig {
    fn default() -> Self {
        Self {
            lambda: 0.25,
            task_weight: TaskWeight::One,
        }
    }
}

/// The loss and its two terms, still on the device.
pub struct KdLoss {
    pub total: Tensor<1>,
    pub task: Tensor<1>,
    pub kd: Tensor<1>,
}

impl KdLossConfig {
    /// # Shapes
    /// - `logits`: `[batch, classes]`; `targets`: `[batch]`
    /// - `teacher`, `student`: `[batch, frames]` temporal distributions on the student's frames
    pub fn loss(
        &self,
        logits: Tensor<2>,
        targets: Tensor<1, Int>,
        teacher: Tensor<2>,
        student: Tensor<2>,
    ) -> KdLoss {
        let task = cross_entropy(logits, targets);
        let kd = temporal_kd_loss(teacher, student);
        KdLoss {
            total: self.total(task.clone(), kd.clone()),
            task,
            kd,
        }
    }

    /// `L_cls + λ·L_KD` or `(1 − λ)·L_cls + λ·L_KD`, for any task loss.
    pub fn total(&self, task: Tensor<1>, kd: Tensor<1>) -> Tensor<1> {
        let task_scale = match self.task_weight {
            TaskWeight::One => 1.0,
            TaskWeight::OneMinusLambda => 1.0 - self.lambda,
        };
        task.mul_scalar(task_scale) + kd.mul_scalar(self.lambda)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn scalar(tensor: Tensor<1>) -> f32 {
        tensor
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default()
            .first()
            .copied()
            .unwrap_or(f32::NAN)
    }

    fn rows(values: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values, shape), &Device::flex())
    }

    #[test]
    fn kd_loss_is_the_kl_divergence_averaged_over_clips() {
        // Row 1: ½·ln(½ / ¼) + ½·ln(½ / ¾); row 2 is identical to its target: 0. A zero in the
        // teacher's row contributes nothing.
        let teacher = rows(vec![0.5, 0.5, 0.0, 1.0, 0.0, 0.0], [2, 3]);
        let student = rows(vec![0.25, 0.75, 0.0, 1.0, 0.0, 0.0], [2, 3]);
        let row_one = 0.5 * (2.0f32).ln() + 0.5 * (2.0f32 / 3.0).ln();
        let loss = scalar(temporal_kd_loss(teacher, student));
        assert!((loss - row_one / 2.0).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn the_total_weights_the_two_terms_as_configured() {
        let logits = rows(vec![2.0, 0.0, 0.0, 1.0], [2, 2]);
        let targets =
            Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &Device::flex());
        let teacher = rows(vec![0.5, 0.5, 0.5, 0.5], [2, 2]);
        let student = rows(vec![0.25, 0.75, 0.5, 0.5], [2, 2]);
        // −ln softmax: ln(1 + e⁻²) for clip 1, ln(1 + e⁻¹) for clip 2.
        let task = ((1.0 + (-2.0f32).exp()).ln() + (1.0 + (-1.0f32).exp()).ln()) / 2.0;
        let kd = (0.5 * (2.0f32).ln() + 0.5 * (2.0f32 / 3.0).ln()) / 2.0;
        for (task_weight, scale) in [(TaskWeight::One, 1.0), (TaskWeight::OneMinusLambda, 0.5)] {
            let config = KdLossConfig {
                lambda: 0.5,
                task_weight,
            };
            let loss = config.loss(
                logits.clone(),
                targets.clone(),
                teacher.clone(),
                student.clone(),
            );
            assert!((scalar(loss.task) - task).abs() < 1e-6);
            assert!((scalar(loss.kd) - kd).abs() < 1e-6);
            assert!((scalar(loss.total) - (scale * task + 0.5 * kd)).abs() < 1e-6);
        }
    }

    #[test]
    fn binary_cross_entropy_matches_its_formula() {
        // −(ln σ(2) + ln(1 − σ(−1)) + ln(1 − σ(0)) + ln σ(3)) / 4, written out.
        let sigma = |x: f32| 1.0 / (1.0 + (-x).exp());
        let expected =
            -((sigma(2.0)).ln() + (1.0 - sigma(-1.0)).ln() + (0.5f32).ln() + sigma(3.0).ln()) / 4.0;
        let loss = scalar(binary_cross_entropy(
            rows(vec![2.0, -1.0, 0.0, 3.0], [2, 2]),
            rows(vec![1.0, 0.0, 0.0, 1.0], [2, 2]),
        ));
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
        // Confident and right costs almost nothing even at |x| = 100 (no overflow).
        let sure = scalar(binary_cross_entropy(
            rows(vec![100.0, -100.0], [1, 2]),
            rows(vec![1.0, 0.0], [1, 2]),
        ));
        assert!(sure.is_finite() && sure < 1e-6, "{sure}");
    }

    #[test]
    fn logit_kd_is_zero_for_equal_logits_and_scales_with_t_squared() {
        let same = scalar(logit_kd_loss(
            rows(vec![1.0, 2.0, 3.0], [1, 3]),
            rows(vec![1.0, 2.0, 3.0], [1, 3]),
            2.0,
        ));
        assert!(same.abs() < 1e-6, "{same}");
        // Two classes: teacher softmax([0, ln 3]/1) = [¼, ¾], student uniform.
        let expected = 0.25 * (0.5f32).ln() + 0.75 * (1.5f32).ln();
        let loss = scalar(logit_kd_loss(
            rows(vec![0.0, 0.0], [1, 2]),
            rows(vec![0.0, 3f32.ln()], [1, 2]),
            1.0,
        ));
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
    }
}
