//! Two copies of one student trained side by side, from the same weights, on the same batches
//! in the same order: one without temporal KD (λ = 0) and one with it. Whatever differs between
//! them at the end is what the teacher's maps taught. The browser's trainer drives this one step
//! at a time.

use super::TrainError;
use super::augment::SpecAugment;
use super::batches::{BatchOrder, student_batch};
use super::cache::TeacherTarget;
use super::evaluate::{LabelledClip, evaluate_student};
use super::trainer::{StepReport, StudentTrainer, StudentTraining};
use crate::audio::Features;
use crate::kd::PlainAndKd;
use crate::metrics::Evaluation;
use crate::rng::Rng;
use crate::students::{Student, StudentConfig};
use burn::module::Module;

/// The clips a comparison learns from and is scored on.
pub struct ComparisonData {
    pub train: Vec<LabelledClip<Features>>,
    /// The frozen teacher's map and logits for each training clip, in the same order.
    pub teacher: Vec<TeacherTarget>,
    pub validation: Vec<LabelledClip<Features>>,
}

/// How both students did on the validation clips, with each clip's map per student.
pub struct ComparisonScore {
    pub evaluations: PlainAndKd<Evaluation>,
    pub maps: PlainAndKd<Vec<Vec<f32>>>,
}

pub struct KdComparison {
    runs: PlainAndKd<StudentTrainer>,
    data: ComparisonData,
    order: BatchOrder,
    augment_rng: Rng,
    config: StudentConfig,
    spec_augment: Option<SpecAugment>,
}

impl KdComparison {
    /// `student` (on an autodiff device) is where both runs start; `settings.loss.lambda` is the
    /// KD run's λ and must be above 0.
    pub fn new(
        student: &Student,
        settings: StudentTraining,
        data: ComparisonData,
    ) -> Result<Self, TrainError> {
        if settings.loss.lambda <= 0.0 {
            return Err(TrainError::Settings(format!(
                "the KD run needs λ > 0 (the other run has λ = 0); got {}",
                settings.loss.lambda
            )));
        }
        if data.train.is_empty() {
            return Err(TrainError::Settings("there are no training clips".into()));
        }
        if data.teacher.len() != data.train.len() {
            return Err(TrainError::Settings(format!(
                "{} teacher maps for {} training clips",
                data.teacher.len(),
                data.train.len()
            )));
        }
        // A clone would share batch norm's running statistics (burn keeps them behind a shared
        // cell), so each run would move the other's; a detached copy gives each its own.
        let copy = || {
            Student::assemble(
                student.model().valid().train(),
                student.config().clone(),
                student.device(),
            )
            .map_err(|e| TrainError::Settings(e.to_string()))
        };
        let mut plain = settings.clone();
        plain.loss.lambda = 0.0;
        let seed = Rng::new(settings.seed);
        Ok(Self {
            order: BatchOrder::new(
                data.train.iter().map(|c| c.input.frames),
                settings.batch_size,
                seed.fork("order"),
            ),
            augment_rng: seed.fork("augment"),
            config: student.config().clone(),
            spec_augment: settings.spec_augment,
            runs: PlainAndKd::new(
                StudentTrainer::new(copy()?, plain, false)?,
                StudentTrainer::new(copy()?, settings, false)?,
            ),
            data,
        })
    }

    pub fn steps_done(&self) -> usize {
        self.runs.kd.steps_done()
    }

    pub fn total_steps(&self) -> usize {
        self.runs.kd.settings().steps
    }

    /// One step of each run on the same batch. Both losses are checked before either update is
    /// applied; when either diverges, both runs undo their last update together, so they stay
    /// on the same batches, and the error says which step failed and which are kept.
    pub async fn step(&mut self) -> Result<PlainAndKd<StepReport>, TrainError> {
        let batch = student_batch(
            &self.data.train,
            &self.order.next(),
            Some((&self.data.teacher, &self.runs.kd.settings().target)),
            &self.config,
            self.spec_augment.as_ref(),
            &mut self.augment_rng,
        );
        let PlainAndKd {
            plain,
            kd: distilled,
        } = &mut self.runs;
        let plain_checked = match plain.check(&batch).await {
            Ok(checked) => checked,
            Err(failure) => {
                if matches!(failure, TrainError::Diverged { .. }) {
                    distilled.roll_back(None);
                }
                return Err(failure);
            }
        };
        let distilled_checked = match distilled.check(&batch).await {
            Ok(checked) => checked,
            Err(failure) => {
                if matches!(failure, TrainError::Diverged { .. }) {
                    plain.roll_back(Some(plain_checked));
                } else {
                    plain.cancel(plain_checked);
                }
                return Err(failure);
            }
        };
        Ok(PlainAndKd::new(
            plain.apply(plain_checked)?,
            distilled.apply(distilled_checked)?,
        ))
    }

    /// Both students on the validation clips.
    pub async fn validate(&self) -> Result<ComparisonScore, TrainError> {
        let students = self.students()?;
        let (plain, plain_maps) =
            evaluate_student(&students.plain, &self.data.validation, false).await?;
        let (distilled, distilled_maps) =
            evaluate_student(&students.kd, &self.data.validation, false).await?;
        Ok(ComparisonScore {
            evaluations: PlainAndKd::new(plain, distilled),
            maps: PlainAndKd::new(plain_maps, distilled_maps),
        })
    }

    /// Both students as trained so far (the last good weights after a divergence).
    pub fn students(&self) -> Result<PlainAndKd<Student>, TrainError> {
        self.runs.as_ref().map(StudentTrainer::student).transpose()
    }
}
