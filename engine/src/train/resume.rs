//! A long run saved as it goes, so that stopping it (a signal, the end of a sitting, a crash)
//! loses at most the steps since the last save and a resumed run ends where the uninterrupted
//! one would: the model being trained and Adam's moments (burn's own files, which keep each
//! parameter's id, so the moments find their parameters again), the best model so far, the
//! position of the batch order and of SpecAugment's generator, and the run's history.

use super::TrainError;
use super::batches::BatchOrder;
use super::run::{RunTimes, Trained};
use super::trainer::{Fitting, StepReport, new_optimizer};
use crate::metrics::Evaluation;
use crate::rng::Rng;
use crate::students::{Student, StudentModel};
use crate::teacher::{Teacher, Wav2Vec2Classifier};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The folder a run's saved state is kept in, inside the run's output folder.
pub const RESUME_DIR: &str = "resume";

/// The layout of `state.json` written now.
const RESUME_STATE_VERSION: u32 = 1;

const STATE_FILE: &str = "state.json";
/// The model as trained so far (its parameters with their ids, batch-norm statistics too).
const MODEL_FILE: &str = "model.bpk";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// The best model on validation so far.
const BEST_FILE: &str = "best.bpk";

/// Removes the state saved in `dir` (a run's [`RESUME_DIR`]), once the run's results are
/// written.
pub fn forget_saved_run(dir: &Path) {
    for path in [
        dir.to_path_buf(),
        sibling(dir, "previous"),
        sibling(dir, "writing"),
    ] {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// Whether `dir` (a run's [`RESUME_DIR`]) holds a saved run.
pub fn has_saved_run(dir: &Path) -> bool {
    [dir.to_path_buf(), sibling(dir, "previous")]
        .iter()
        .any(|dir| dir.join(STATE_FILE).is_file())
}

/// `dir` with `.what` added to its name.
fn sibling(dir: &Path, what: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{what}"));
    dir.with_file_name(name)
}

/// What a saved state must match to be resumed: the same settings, the same training clips and
/// the same teacher's maps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity<S> {
    pub settings: S,
    /// A fingerprint of the train split's clip names, in order (the batch order refers to
    /// clips by their index).
    pub train_clips: String,
    /// The teacher's fingerprint, for a student trained with KD.
    pub teacher: Option<String>,
    /// How often the run is scored: it decides which model is kept.
    pub eval_every: usize,
}

/// Everything of a run but its modules, as `state.json` holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct SavedRun<S> {
    pub version: u32,
    pub identity: RunIdentity<S>,
    /// Steps done.
    pub step: usize,
    pub loss_limit: Option<f32>,
    pub order: BatchOrderState,
    /// SpecAugment's generator, for a student run.
    pub augment: Option<u64>,
    pub best_step: usize,
    pub validation: Option<Evaluation>,
    pub history: Vec<StepReport>,
    pub validations: Vec<(usize, Evaluation)>,
    pub times: RunTimes,
    /// Wall-clock seconds of training so far, over every sitting.
    pub seconds: f32,
    /// The steps at which the run was resumed, earliest first.
    pub resumed_at: Vec<usize>,
}

impl<S> SavedRun<S> {
    /// Whether this state can be the middle of a run of `total` steps (one that draws
    /// SpecAugment's numbers when `augmented`): a save never holds anything else, so anything
    /// else was edited or damaged.
    pub fn check(&self, total: usize, augmented: bool) -> Result<(), String> {
        let step = self.step;
        if step >= total {
            return Err(format!(
                "it is at step {step}, not before the run's last ({total})"
            ));
        }
        if self.history.len() != step {
            return Err(format!(
                "it holds {} steps' reports for step {step}",
                self.history.len()
            ));
        }
        if self.best_step > step || self.validations.iter().any(|(at, _)| *at > step) {
            return Err(format!("it holds scorings after its step {step}"));
        }
        if self.augment.is_some() != augmented {
            return Err("it was saved by the other kind of run (student or teacher)".into());
        }
        Ok(())
    }
}

/// Where a run is saved, and what a saved state must match.
pub(super) struct ResumePoint<S> {
    dir: PathBuf,
    identity: RunIdentity<S>,
}

/// A saved run read back: its state, the module being trained, the optimiser and the best
/// module so far.
pub(super) struct Resumed<S, M, B> {
    pub saved: SavedRun<S>,
    pub model: M,
    pub fitting: FittingState,
    pub best: B,
}

fn failed(path: &Path, why: impl std::fmt::Display) -> TrainError {
    TrainError::Resume(format!("{}: {why}", path.display()))
}

impl<S: Clone + Serialize + DeserializeOwned + PartialEq + std::fmt::Debug> ResumePoint<S> {
    /// Saves into `dir` (a run's `resume` folder) a run that must match `identity`.
    pub fn new(dir: PathBuf, identity: RunIdentity<S>) -> Self {
        Self { dir, identity }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state saved here, read back into `model` and `best` (fresh modules of the run's
    /// architecture), or `None` when nothing was saved. A state saved for another run (other
    /// settings, clips or teacher) is an error that says what differs.
    pub fn load<M: Module, K: KeptModel>(
        &self,
        model: M,
        best: &K,
    ) -> Result<Option<Resumed<S, M, K>>, TrainError> {
        let dir = self.readable_dir();
        let state_path = dir.join(STATE_FILE);
        if !state_path.is_file() {
            return Ok(None);
        }
        let text = crate::capped_read::read_capped_text(
            &state_path,
            crate::capped_read::MAX_LIST_BYTES,
            "a saved run",
        )
        .map_err(TrainError::Resume)?;
        let saved: SavedRun<S> = serde_json::from_str(&text).map_err(|e| failed(&state_path, e))?;
        if saved.version > RESUME_STATE_VERSION {
            return Err(failed(
                &state_path,
                format!(
                    "saved by a newer TempoKD (version {}, this one reads up to \
                     {RESUME_STATE_VERSION})",
                    saved.version
                ),
            ));
        }
        self.check_identity(&saved.identity, &state_path)?;
        let model = load_module(model, &dir.join(MODEL_FILE))?;
        let best = best.with_module(load_module(best.module().clone(), &dir.join(BEST_FILE))?)?;
        let optimizer_path = dir.join(OPTIMIZER_FILE);
        // burn's loader panics on some malformed records rather than erring.
        let loaded = std::panic::catch_unwind(|| new_optimizer().load(&optimizer_path));
        let optimizer = match loaded {
            Ok(loaded) => loaded.map_err(|e| failed(&optimizer_path, e))?,
            Err(_) => {
                return Err(failed(
                    &optimizer_path,
                    "not an optimiser state burn can read",
                ));
            }
        };
        let fitting = FittingState {
            optimizer,
            done: saved.step,
            loss_limit: saved.loss_limit,
        };
        Ok(Some(Resumed {
            saved,
            model,
            fitting,
            best,
        }))
    }

    fn check_identity(&self, found: &RunIdentity<S>, path: &Path) -> Result<(), TrainError> {
        let differs = |what: &str| {
            Err(failed(
                path,
                format!(
                    "saved by a run with other {what}; go on with the same ones, or remove {} to \
                     start afresh",
                    self.dir.display()
                ),
            ))
        };
        if found.settings != self.identity.settings {
            return differs(&format!(
                "settings ({:?} there, {:?} now)",
                found.settings, self.identity.settings
            ));
        }
        if found.train_clips != self.identity.train_clips {
            return differs("training clips");
        }
        if found.teacher != self.identity.teacher {
            return differs("teacher");
        }
        if found.eval_every != self.identity.eval_every {
            return differs(&format!(
                "scoring (every {} steps there, {} now)",
                found.eval_every, self.identity.eval_every
            ));
        }
        Ok(())
    }

    /// Saves the run: a complete new state is written beside the old one, then takes its
    /// place, so a run stopped while saving still has one whole state to resume from.
    pub fn save<M: Module, K: KeptModel>(
        &self,
        fitting: &Fitting<M>,
        trained: &Trained<K>,
        order: BatchOrderState,
        augment: Option<u64>,
    ) -> Result<(), TrainError> {
        let previous = sibling(&self.dir, "previous");
        // A save cut short between its two renames left the last whole state as `previous`:
        // it takes its place again before anything is removed.
        if !self.dir.exists() && previous.join(STATE_FILE).is_file() {
            std::fs::rename(&previous, &self.dir).map_err(|e| failed(&previous, e))?;
        }
        let writing = sibling(&self.dir, "writing");
        let _ = std::fs::remove_dir_all(&writing);
        std::fs::create_dir_all(&writing).map_err(|e| failed(&writing, e))?;
        let state = fitting.state();
        save_module(fitting.model()?, &writing.join(MODEL_FILE))?;
        save_module(trained.model.module(), &writing.join(BEST_FILE))?;
        let optimizer_path = writing.join(OPTIMIZER_FILE);
        state
            .optimizer
            .save(&optimizer_path)
            .map_err(|e| failed(&optimizer_path, e))?;
        let saved = SavedRun {
            version: RESUME_STATE_VERSION,
            identity: self.identity.clone(),
            step: state.done,
            loss_limit: state.loss_limit,
            order,
            augment,
            best_step: trained.best_step,
            validation: trained.validation.clone(),
            history: trained.history.clone(),
            validations: trained.validations.clone(),
            times: trained.times,
            seconds: trained.seconds(),
            resumed_at: trained.resumed_at.clone(),
        };
        let state_path = writing.join(STATE_FILE);
        let text = serde_json::to_string(&saved).map_err(|e| failed(&state_path, e))?;
        std::fs::write(&state_path, text).map_err(|e| failed(&state_path, e))?;
        let _ = std::fs::remove_dir_all(&previous);
        if self.dir.exists() {
            std::fs::rename(&self.dir, &previous).map_err(|e| failed(&self.dir, e))?;
        }
        std::fs::rename(&writing, &self.dir).map_err(|e| failed(&self.dir, e))?;
        let _ = std::fs::remove_dir_all(&previous);
        Ok(())
    }

    /// The folder to read: the saved state, or the one it was replacing when a save was cut
    /// short between the two renames.
    fn readable_dir(&self) -> PathBuf {
        let previous = sibling(&self.dir, "previous");
        match self.dir.join(STATE_FILE).is_file() || !previous.join(STATE_FILE).is_file() {
            true => self.dir.clone(),
            false => previous,
        }
    }
}

/// `module` with the parameters (and their ids) saved in `path`.
fn load_module<M: Module>(module: M, path: &Path) -> Result<M, TrainError> {
    // As for the optimiser's state: burn's loader can panic on a damaged record.
    let loaded =
        std::panic::AssertUnwindSafe(|| module.try_load_file(path).map_err(|e| e.to_string()));
    std::panic::catch_unwind(loaded)
        .unwrap_or_else(|_| Err("its record is damaged".into()))
        .map_err(|why| failed(path, format!("not a model state burn can read ({why})")))
}

/// Saves `module`'s parameters with their ids in `path`, burn's own format.
fn save_module<M: Module>(module: &M, path: &Path) -> Result<(), TrainError> {
    module.clone().save_file(path).map_err(|e| failed(path, e))
}

/// What a run needs beyond its model to go on from where it stopped: Adam's moments, the steps
/// done and the divergence limit.
pub(super) struct FittingState {
    pub optimizer: ModuleOptimizer,
    pub done: usize,
    pub loss_limit: Option<f32>,
}

impl<M: Module> Fitting<M> {
    /// The state [`Fitting::resume`] takes back, beside the model.
    pub(super) fn state(&self) -> FittingState {
        FittingState {
            optimizer: self.optimizer.clone(),
            done: self.done,
            loss_limit: self.loss_limit,
        }
    }

    /// Goes on from a saved model and state as if the run had never stopped; the update before
    /// the save cannot be rolled back.
    pub(super) fn resume(&mut self, model: M, state: FittingState) {
        self.model = Some(model);
        self.optimizer = state.optimizer;
        self.done = state.done;
        self.loss_limit = state.loss_limit;
        self.before_last_update = None;
    }
}

/// A [`BatchOrder`]'s position: the batches left in this epoch and its generator's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct BatchOrderState {
    queue: Vec<Vec<usize>>,
    rng: u64,
}

impl BatchOrder {
    /// Where the order stands, so a resumed run draws the batches it would have drawn.
    pub(super) fn state(&self) -> BatchOrderState {
        BatchOrderState {
            queue: self.queue.clone(),
            rng: self.rng.state(),
        }
    }

    /// Continues from `state`, which must come from an order over the same clips: each batch
    /// left holds one to a batch's worth of clips of one length.
    pub(super) fn resume(&mut self, state: BatchOrderState) -> Result<(), String> {
        let bucket_of: std::collections::HashMap<usize, usize> = (self.buckets.iter())
            .enumerate()
            .flat_map(|(bucket, clips)| clips.iter().map(move |clip| (*clip, bucket)))
            .collect();
        for batch in &state.queue {
            if batch.is_empty() || batch.len() > self.batch_size {
                return Err(format!(
                    "the saved batch order holds a batch of {} clips (batches here hold 1 to {})",
                    batch.len(),
                    self.batch_size
                ));
            }
            let buckets: std::collections::BTreeSet<Option<&usize>> =
                batch.iter().map(|clip| bucket_of.get(clip)).collect();
            match buckets.into_iter().collect::<Vec<_>>().as_slice() {
                [Some(_)] => {}
                _ => {
                    return Err(format!(
                        "the saved batch order holds a batch ({batch:?}) that is not of clips \
                         of one length in this train split of {} clips",
                        bucket_of.len()
                    ));
                }
            }
        }
        self.queue = state.queue;
        self.rng = Rng::resumed(state.rng);
        Ok(())
    }
}

/// A model kept as the best so far, saved as its module and read back into one.
pub(super) trait KeptModel: Sized {
    type Module: Module;
    fn module(&self) -> &Self::Module;
    fn with_module(&self, module: Self::Module) -> Result<Self, TrainError>;
}

impl KeptModel for Student {
    type Module = StudentModel;

    fn module(&self) -> &StudentModel {
        self.model()
    }

    fn with_module(&self, module: StudentModel) -> Result<Self, TrainError> {
        Student::assemble(module, self.config().clone(), self.device())
            .map_err(|e| TrainError::Settings(e.to_string()))
    }
}

impl KeptModel for Teacher {
    type Module = Wav2Vec2Classifier;

    fn module(&self) -> &Wav2Vec2Classifier {
        self.model()
    }

    fn with_module(&self, module: Wav2Vec2Classifier) -> Result<Self, TrainError> {
        Ok(self.with_model(module, self.device()))
    }
}
