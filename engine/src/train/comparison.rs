//! Two copies of one student trained side by side, from the same weights, on the same batches
//! in the same order: one without KD (λ = 0, no logit KD) and one with temporal KD. Whatever
//! differs between them at the end is what the teacher's maps taught. Each run is a
//! [`ComparisonRun`] that draws its batches from the seed alone, so the two can train in two
//! browser workers that the page holds in step: each step is checked by both runs before either
//! applies it, and when either diverges both undo their last update.

use super::TrainError;
use super::augment::SpecAugment;
use super::batches::{BatchOrder, student_batch};
use super::evaluate::{LabelledClip, evaluate_student, pick};
use super::trainer::{Checked, StepReport, StudentTrainer, StudentTraining};
use crate::audio::Features;
use crate::kd::TeacherTarget;
use crate::kd::{CheckOutcome, Verdict};
use crate::metrics::Evaluation;
use crate::rng::Rng;
use crate::students::{Student, StudentModel};
use burn::module::Module;

/// The clips a comparison learns from and is scored on.
pub struct ComparisonData {
    pub train: Vec<LabelledClip<Features>>,
    /// The frozen teacher's map and logits for each training clip, in the same order; a place
    /// that trains only the run without KD needs none.
    pub teacher: Option<Vec<TeacherTarget>>,
    pub validation: Vec<LabelledClip<Features>>,
}

impl CheckOutcome {
    pub fn of(check: &Result<(), TrainError>) -> Self {
        match check {
            Ok(()) => Self::Sound,
            Err(TrainError::Diverged { kept, .. }) => Self::Diverged { kept: *kept },
            Err(_) => Self::Failed,
        }
    }
}

/// One run of a comparison, stepped in two halves: [`ComparisonRun::check`] (the forward pass
/// and its guard) and [`ComparisonRun::settle`] (the update, or going back), so that the other
/// run's check comes in between and a divergence in either undoes both.
pub struct ComparisonRun {
    trainer: StudentTrainer,
    data: ComparisonData,
    order: BatchOrder,
    augment_rng: Rng,
    spec_augment: Option<SpecAugment>,
    kd: bool,
    /// A step checked and not yet applied.
    pending: Option<Checked<StudentModel>>,
}

impl ComparisonRun {
    /// The run with KD (when `kd`, at `settings.loss.lambda`, which must be above 0) or without
    /// it, of `student` (on an autodiff device) trained as `settings` say on `data`.
    pub fn new(
        student: &Student,
        settings: &StudentTraining,
        kd: bool,
        data: ComparisonData,
    ) -> Result<Self, TrainError> {
        if data.train.is_empty() {
            return Err(TrainError::Settings("there are no training clips".into()));
        }
        let mut settings = settings.clone();
        if kd {
            if settings.loss.lambda <= 0.0 {
                return Err(TrainError::Settings(format!(
                    "the KD run needs λ > 0 (the other run has λ = 0); got {}",
                    settings.loss.lambda
                )));
            }
            let maps = data.teacher.as_ref().map_or(0, Vec::len);
            if maps != data.train.len() {
                return Err(TrainError::Settings(format!(
                    "{maps} teacher maps for {} training clips",
                    data.train.len()
                )));
            }
        } else {
            settings.loss.lambda = 0.0;
            settings.logit_kd = None;
        }
        // A clone would share batch norm's running statistics (burn keeps them behind a shared
        // cell), so each run would move the other's; a detached copy gives each its own.
        let copy = Student::assemble(
            student.model().valid().train(),
            student.config().clone(),
            student.device(),
        )
        .map_err(|e| TrainError::Settings(e.to_string()))?;
        let seed = Rng::new(settings.seed);
        Ok(Self {
            order: BatchOrder::new(
                data.train.iter().map(|c| c.input.frames),
                settings.batch_size,
                seed.fork("order"),
            ),
            augment_rng: seed.fork("augment"),
            spec_augment: settings.spec_augment,
            trainer: StudentTrainer::new(copy, settings, false)?,
            kd,
            pending: None,
            data,
        })
    }

    pub fn steps_done(&self) -> usize {
        self.trainer.steps_done()
    }

    pub fn total_steps(&self) -> usize {
        self.trainer.settings().steps
    }

    /// The forward pass of the next step on the next batch, held until
    /// [`ComparisonRun::settle`]. A loss that diverged has already undone this run's last update;
    /// the error says how many steps it kept.
    pub async fn check(&mut self) -> Result<(), TrainError> {
        if self.pending.is_some() {
            return Err(TrainError::Order(
                "a checked step waits to be settled".into(),
            ));
        }
        let data = &self.data;
        let teacher = match (self.kd, &data.teacher) {
            (true, Some(maps)) => Some((maps.as_slice(), &self.trainer.settings().target)),
            _ => None,
        };
        let picked = self.order.next();
        let batch = student_batch(
            &pick(&data.train, &picked)?,
            &picked,
            teacher,
            self.trainer.config(),
            self.spec_augment.as_ref(),
            &mut self.augment_rng,
        );
        self.pending = Some(self.trainer.check(&batch).await?);
        Ok(())
    }

    /// Settles the step checked last: its update (and what it did) for [`Verdict::Apply`].
    pub fn settle(&mut self, verdict: Verdict) -> Result<Option<StepReport>, TrainError> {
        let checked = (self.pending.take())
            .ok_or_else(|| TrainError::Order("a step is settled only after its check".into()))?;
        match verdict {
            Verdict::Apply => self.trainer.apply(checked).map(Some),
            Verdict::Undo { kept } => {
                self.trainer.roll_back(Some(checked));
                match self.steps_done() {
                    done if done == kept => Ok(None),
                    done => Err(TrainError::Order(format!(
                        "the other run kept {kept} steps, and this one went back to {done}"
                    ))),
                }
            }
            Verdict::Cancel => {
                self.trainer.cancel(checked);
                Ok(None)
            }
        }
    }

    /// This run's student on the validation clips, and its map of each.
    pub async fn validate(&self) -> Result<(Evaluation, Vec<Vec<f32>>), TrainError> {
        evaluate_student(&self.student()?, &self.data.validation, false).await
    }

    /// The student as trained so far (the last good weights after a divergence).
    pub fn student(&self) -> Result<Student, TrainError> {
        self.trainer.student()
    }
}
