//! A split's clips for a run on disk: loaded into memory before the first step, or streamed,
//! each batch read, decoded and featurised on other threads a few batches ahead of the step
//! that needs it, so a corpus larger than memory trains holding only those batches.

use super::TrainError;
use super::batches::BatchOrder;
use super::evaluate::{LabelledClip, Picked, pick};
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

/// A split's clips, each with the size batches are grouped by (frames or samples).
pub enum SplitClips<'r, T> {
    Loaded {
        clips: Vec<LabelledClip<T>>,
        sizes: Vec<usize>,
    },
    Streamed {
        sizes: Vec<usize>,
        read: &'r ClipReader<'r, T>,
    },
}

impl<'r, T: Clone + Send> SplitClips<'r, T> {
    /// Clips loaded into memory, each sized by `size`.
    pub fn loaded(clips: Vec<LabelledClip<T>>, size: impl Fn(&T) -> usize) -> Self {
        let sizes = clips.iter().map(|clip| size(&clip.input)).collect();
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
            Self::Streamed { read, .. } => {
                Ok(
                    parallel::map(picked, parallel::cores(), |index| read(*index))?
                        .into_iter()
                        .map(Cow::Owned)
                        .collect(),
                )
            }
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
        let Self::Streamed { read, .. } = self else {
            return BatchFeed::Loaded(self);
        };
        let (batches, received) = sync_channel(READ_AHEAD);
        let mut ahead = order.clone();
        scope.spawn(move || {
            loop {
                let picked = ahead.next();
                let clips = parallel::map(&picked, parallel::cores(), |index| read(*index));
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

impl<T: Clone + Send> BatchFeed<'_, T> {
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
