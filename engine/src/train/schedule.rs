//! Learning rate over a run: an optional linear warm-up (transformers need one), then a step
//! from the initial to the final rate, as the students' reference recipe does (1e-3 → 1e-4).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    pub initial: f64,
    pub after_step: f64,
    /// The share of the run after which `after_step` applies.
    pub step_at: f32,
    pub warmup_steps: usize,
}

impl Default for LrSchedule {
    fn default() -> Self {
        Self {
            initial: 1e-3,
            after_step: 1e-4,
            step_at: 0.75,
            warmup_steps: 0,
        }
    }
}

impl LrSchedule {
    /// The rate for step `step` (0-based) of `total`.
    pub fn rate(&self, step: usize, total: usize) -> f64 {
        if step < self.warmup_steps {
            return self.initial * (step + 1) as f64 / self.warmup_steps as f64;
        }
        if (step as f32) < self.step_at * total as f32 {
            self.initial
        } else {
            self.after_step
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let positive = |r: f64| r.is_finite() && r > 0.0 && r < 10.0;
        if !positive(self.initial) || !positive(self.after_step) {
            return Err(format!(
                "learning rates must be positive and below 10; got {} and {}",
                self.initial, self.after_step
            ));
        }
        if !(0.0..=1.0).contains(&self.step_at) {
            return Err(format!("step_at must be within 0..1; got {}", self.step_at));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_steps_down() {
        let schedule = LrSchedule {
            initial: 1e-3,
            after_step: 1e-4,
            step_at: 0.5,
            warmup_steps: 4,
        };
        let rates: Vec<f64> = (0..10).map(|s| schedule.rate(s, 10)).collect();
        assert_eq!(rates[0], 0.25e-3);
        assert_eq!(rates[3], 1e-3);
        assert_eq!(rates[4], 1e-3);
        assert_eq!(rates[5], 1e-4);
        assert_eq!(rates[9], 1e-4);
    }
}
