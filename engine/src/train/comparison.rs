//! Two copies of one student trained side by side, from the same weights, on the same batches
//! in the same order: one without KD (λ = 0, no logit KD) and one with temporal KD. Whatever
//! differs between them at the end is what the teacher's maps taught. Each run is a
//! [`ComparisonRun`] that draws its batches from the seed alone, so the two can step in one
//! place ([`KdComparison`]) or in two browser workers held in step by the page; either way a
//! step is checked by both runs before either applies it.

use super::TrainError;
use super::augment::SpecAugment;
use super::batches::{BatchOrder, student_batch};
use super::cache::TeacherTarget;
use super::evaluate::{LabelledClip, evaluate_student};
use super::trainer::{Checked, StepReport, StudentTrainer, StudentTraining};
use crate::audio::Features;
use crate::kd::PlainAndKd;
use crate::metrics::Evaluation;
use crate::rng::Rng;
use crate::students::{Student, StudentModel};
use burn::module::Module;
use std::sync::Arc;

/// The clips a comparison learns from and is scored on.
pub struct ComparisonData {
    pub train: Vec<LabelledClip<Features>>,
    /// The frozen teacher's map and logits for each training clip, in the same order; a place
    /// that trains only the run without KD needs none.
    pub teacher: Option<Vec<TeacherTarget>>,
    pub validation: Vec<LabelledClip<Features>>,
}

/// How both students did on the validation clips, with each clip's map per student.
pub struct ComparisonScore {
    pub evaluations: PlainAndKd<Evaluation>,
    pub maps: PlainAndKd<Vec<Vec<f32>>>,
}

/// One run of a comparison, stepped in two halves: [`ComparisonRun::check`] (the forward pass
/// and its guard) and [`ComparisonRun::apply`] (the update), so that the other run's check can
/// come in between and a divergence in either undoes both.
pub struct ComparisonRun {
    trainer: StudentTrainer,
    data: Arc<ComparisonData>,
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
        data: Arc<ComparisonData>,
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

    /// The forward pass of the next step on the next batch, held until [`ComparisonRun::apply`].
    /// A loss that diverged has already undone this run's last update; the error says so.
    pub async fn check(&mut self) -> Result<(), TrainError> {
        self.cancel();
        let data = &self.data;
        let teacher = match (self.kd, &data.teacher) {
            (true, Some(maps)) => Some((maps.as_slice(), &self.trainer.settings().target)),
            _ => None,
        };
        let batch = student_batch(
            &data.train,
            &self.order.next(),
            teacher,
            self.trainer.config(),
            self.spec_augment.as_ref(),
            &mut self.augment_rng,
        );
        self.pending = Some(self.trainer.check(&batch).await?);
        Ok(())
    }

    /// The update of the step checked last.
    pub fn apply(&mut self) -> Result<StepReport, TrainError> {
        let checked = self.pending.take().ok_or_else(|| {
            TrainError::Settings("a step is applied only after it was checked".into())
        })?;
        self.trainer.apply(checked)
    }

    /// The other run diverged on this step: undoes this run's last update (or, with none, its
    /// checked step), so both keep the same number of steps.
    pub fn undo(&mut self) {
        self.trainer.roll_back(self.pending.take());
    }

    /// The other run failed otherwise: returns to before the checked step, if any.
    pub fn cancel(&mut self) {
        if let Some(checked) = self.pending.take() {
            self.trainer.cancel(checked);
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

/// Both runs of a comparison in one place.
pub struct KdComparison {
    runs: PlainAndKd<ComparisonRun>,
}

impl KdComparison {
    /// `student` (on an autodiff device) is where both runs start; `settings.loss.lambda` is the
    /// KD run's λ and must be above 0.
    pub fn new(
        student: &Student,
        settings: StudentTraining,
        data: ComparisonData,
    ) -> Result<Self, TrainError> {
        let data = Arc::new(data);
        let run = |kd| ComparisonRun::new(student, &settings, kd, data.clone());
        Ok(Self {
            runs: PlainAndKd::new(run(false)?, run(true)?),
        })
    }

    pub fn steps_done(&self) -> usize {
        self.runs.kd.steps_done()
    }

    pub fn total_steps(&self) -> usize {
        self.runs.kd.total_steps()
    }

    /// One step of each run on the same batch. Both losses are checked before either update is
    /// applied; when either diverges, both runs undo their last update together, so they stay
    /// on the same batches, and the error says which step failed and which are kept.
    pub async fn step(&mut self) -> Result<PlainAndKd<StepReport>, TrainError> {
        let PlainAndKd {
            plain,
            kd: distilled,
        } = &mut self.runs;
        if let Err(failure) = plain.check().await {
            if matches!(failure, TrainError::Diverged { .. }) {
                distilled.undo();
            }
            return Err(failure);
        }
        if let Err(failure) = distilled.check().await {
            if matches!(failure, TrainError::Diverged { .. }) {
                plain.undo();
            } else {
                plain.cancel();
            }
            return Err(failure);
        }
        Ok(PlainAndKd::new(plain.apply()?, distilled.apply()?))
    }

    /// Both students on the validation clips.
    pub async fn validate(&self) -> Result<ComparisonScore, TrainError> {
        let (plain, plain_maps) = self.runs.plain.validate().await?;
        let (distilled, distilled_maps) = self.runs.kd.validate().await?;
        Ok(ComparisonScore {
            evaluations: PlainAndKd::new(plain, distilled),
            maps: PlainAndKd::new(plain_maps, distilled_maps),
        })
    }

    /// Both students as trained so far (the last good weights after a divergence).
    pub fn students(&self) -> Result<PlainAndKd<Student>, TrainError> {
        self.runs.as_ref().map(ComparisonRun::student).transpose()
    }
}
