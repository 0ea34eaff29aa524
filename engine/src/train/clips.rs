//! A split's clips for a run on disk: loaded into memory before the first step, or streamed,
//! each batch read, decoded and featurised on other threads a few batches ahead of the step
//! that needs it, so a corpus larger than memory trains holding only those batches.

use super::TrainError;
use super::batches::BatchOrder;
use super::evaluate::{LabelledClip, Picked, pick};
use crate::audio::Features;
use crate::data::{DataError, Example};
use crate::parallel;
use std::borrow::Cow;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::Scope;
use std::time::Instant;

/// Batches a streamed run reads ahead of the step that needs them: enough that a batch which
/// reads slowly (a cold disk cache) does not stall the step after it, few enough to hold.
const READ_AHEAD: usize = 2;

/// How a run holds its clips.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClipLoading {
    /// Every clip read, decoded and featurised once, before the first step.
    #[default]
    Memory,
    /// Before the first step only each clip's length is learnt; each batch is read from disk
    /// on other threads while earlier steps run, and the validation clips at each scoring.
    Stream,
}

/// Reads the clip of a split at an index.
pub type ClipReader<'r, T> = dyn Fn(usize) -> Result<LabelledClip<T>, TrainError> + Sync + 'r;

/// What batches are grouped by: clips of one size make a batch.
pub trait ClipSize {
    /// What the size counts.
    const UNIT: &'static str;
    fn size(&self) -> usize;
}

impl ClipSize for Features {
    const UNIT: &'static str = "frames";
    fn size(&self) -> usize {
        self.frames
    }
}

impl ClipSize for Vec<f32> {
    const UNIT: &'static str = "samples";
    fn size(&self) -> usize {
        self.len()
    }
}

/// A split's clips, each with its size.
pub enum SplitClips<'r, T> {
    Loaded {
        clips: Vec<LabelledClip<T>>,
        sizes: Vec<usize>,
    },
    Streamed {
        /// Each clip's size when the run began; a clip read later must still have it.
        sizes: Vec<usize>,
        read: &'r ClipReader<'r, T>,
        /// The split's examples, to name a clip that changed.
        examples: &'r [&'r Example],
    },
}

impl<'r, T: ClipSize + Clone + Send + Sync> SplitClips<'r, T> {
    pub fn loaded(clips: Vec<LabelledClip<T>>) -> Self {
        let sizes = clips.iter().map(|clip| clip.input.size()).collect();
        Self::Loaded { clips, sizes }
    }

    pub fn len(&self) -> usize {
        self.sizes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each clip's size, in the split's order.
    pub fn sizes(&self) -> &[usize] {
        match self {
            Self::Loaded { sizes, .. } | Self::Streamed { sizes, .. } => sizes,
        }
    }

    /// The clips at `picked`, in that order; streamed ones read over the machine's cores.
    pub fn read(&self, picked: &[usize]) -> Result<Picked<'_, T>, TrainError> {
        match self {
            Self::Loaded { clips, .. } => pick(clips, picked),
            Self::Streamed { .. } => {
                Ok(
                    parallel::map(picked, parallel::cores(), |index| self.read_one(*index))?
                        .into_iter()
                        .map(Cow::Owned)
                        .collect(),
                )
            }
        }
    }

    /// The streamed clip at `index`, refused when its size is no longer the one batches were
    /// planned with (its file changed on disk during the run).
    fn read_one(&self, index: usize) -> Result<LabelledClip<T>, TrainError> {
        let Self::Streamed {
            sizes,
            read,
            examples,
        } = self
        else {
            return Err(TrainError::Batch("only streamed clips are read".into()));
        };
        let clip = read(index)?;
        match sizes.get(index) {
            Some(size) if *size == clip.input.size() => Ok(clip),
            was => Err(DataError::Invalid(format!(
                "{}: {} {} now, {} when the run began: a clip changed on disk during a streamed \
                 run; leave the dataset as it is while the run goes on, and start it again",
                examples
                    .get(index)
                    .map_or("a clip", |example| example.file.as_str()),
                clip.input.size(),
                T::UNIT,
                was.map_or("none".into(), usize::to_string),
            ))
            .into()),
        }
    }

    /// The batches `order` draws from here on, each read on a thread of `scope` ahead of its
    /// step when streamed.
    pub fn feed<'scope, 'env>(
        &'env self,
        scope: &'scope Scope<'scope, 'env>,
        order: &BatchOrder,
    ) -> BatchFeed<'env, T>
    where
        T: 'env,
        'r: 'env,
    {
        if let Self::Loaded { .. } = self {
            return BatchFeed::Loaded(self);
        }
        let (batches, received) = sync_channel(READ_AHEAD);
        let mut ahead = order.clone();
        scope.spawn(move || {
            loop {
                let picked = ahead.next();
                let clips =
                    parallel::map(&picked, parallel::cores(), |index| self.read_one(*index));
                let failed = clips.is_err();
                // The feed is dropped when its run ends (or fails): nothing is left to read for.
                if batches.send(clips.map(|clips| (picked, clips))).is_err() || failed {
                    return;
                }
            }
        });
        BatchFeed::Streamed { received }
    }
}

/// A batch's clip indices with its clips, or the first error reading them.
type ReadBatch<T> = Result<(Vec<usize>, Vec<LabelledClip<T>>), TrainError>;

/// A run's training batches, in the order of the [`BatchOrder`] they were fed from.
pub enum BatchFeed<'c, T> {
    Loaded(&'c SplitClips<'c, T>),
    Streamed { received: Receiver<ReadBatch<T>> },
}

impl<T: ClipSize + Clone + Send + Sync> BatchFeed<'_, T> {
    /// The clips of `picked`, the batch the run's own order drew next (the feed drew the same),
    /// and the seconds spent waiting for them to be read when streamed.
    pub fn take(&self, picked: &[usize]) -> Result<(Picked<'_, T>, Option<f32>), TrainError> {
        match self {
            Self::Loaded(clips) => Ok((clips.read(picked)?, None)),
            Self::Streamed { received } => {
                let waiting = Instant::now();
                let (read, clips) = received.recv().map_err(|_| {
                    TrainError::Batch("the thread reading the clips ended early".into())
                })??;
                if read != picked {
                    return Err(TrainError::Order(format!(
                        "the streamed batch holds clips {read:?}, the step asked for {picked:?}"
                    )));
                }
                let waited = waiting.elapsed().as_secs_f32();
                Ok((clips.into_iter().map(Cow::Owned).collect(), Some(waited)))
            }
        }
    }
}
