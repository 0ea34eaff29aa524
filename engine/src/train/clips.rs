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

/// Batches a streamed run keeps read and waiting for their steps: enough that a batch which
/// reads slowly (a cold disk cache) does not stall the step after it, few enough to hold. At
/// most this many and two more are held at once: one being read, one being stepped.
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

/// Reads an example's clip.
pub type ClipReader<'r, T> = dyn Fn(&Example) -> Result<LabelledClip<T>, TrainError> + Sync + 'r;

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
    Streamed(StreamedClips<'r, T>),
}

/// A split's clips on disk, read when needed.
pub struct StreamedClips<'r, T> {
    /// Each clip's size when the run began; a clip read later must still have it.
    pub sizes: Vec<usize>,
    pub examples: &'r [&'r Example],
    pub read: Box<ClipReader<'r, T>>,
}

impl<T: ClipSize + Send> StreamedClips<'_, T> {
    /// The clips at `picked`, in that order, read over the machine's cores.
    fn read_all(&self, picked: &[usize]) -> Result<Vec<LabelledClip<T>>, TrainError> {
        parallel::map(picked, parallel::cores(), |index| self.read_one(*index))
    }

    /// The clip at `index`, refused when its size is no longer the one batches were planned
    /// with (its file changed on disk during the run).
    fn read_one(&self, index: usize) -> Result<LabelledClip<T>, TrainError> {
        let (Some(example), Some(&was)) = (self.examples.get(index), self.sizes.get(index)) else {
            return Err(TrainError::Batch(format!(
                "no clip {index} of {}",
                self.examples.len()
            )));
        };
        let clip = (self.read)(example)?;
        let now = clip.input.size();
        if was == now {
            return Ok(clip);
        }
        Err(DataError::Invalid(format!(
            "{}: {now} {} now, {was} when the run began: a clip changed on disk during a \
             streamed run; leave the dataset as it is while a run goes on, then run the command \
             again (with --resume to go on from the last scoring)",
            example.file,
            T::UNIT,
        ))
        .into())
    }
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
            Self::Loaded { sizes, .. } | Self::Streamed(StreamedClips { sizes, .. }) => sizes,
        }
    }

    /// The clips at `picked`, in that order; streamed ones read over the machine's cores.
    pub fn read(&self, picked: &[usize]) -> Result<Picked<'_, T>, TrainError> {
        match self {
            Self::Loaded { clips, .. } => pick(clips, picked),
            Self::Streamed(streamed) => Ok(streamed
                .read_all(picked)?
                .into_iter()
                .map(Cow::Owned)
                .collect()),
        }
    }

    /// The next `batches` batches `order` draws, each read on a thread of `scope` ahead of its
    /// step when streamed.
    pub fn feed<'scope, 'env>(
        &'env self,
        scope: &'scope Scope<'scope, 'env>,
        order: &BatchOrder,
        batches: usize,
    ) -> BatchFeed<'env, T>
    where
        T: 'env,
        'r: 'env,
    {
        let Self::Streamed(streamed) = self else {
            return BatchFeed::Loaded(self);
        };
        let (sender, received) = sync_channel(READ_AHEAD);
        let mut ahead = order.clone();
        scope.spawn(move || {
            for _ in 0..batches {
                let picked = ahead.next();
                let clips = streamed.read_all(&picked);
                let failed = clips.is_err();
                // The feed is dropped when its run ends (or fails): nothing is left to read for.
                if sender.send(clips.map(|clips| (picked, clips))).is_err() || failed {
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
                    TrainError::Order("a step asked for more batches than were fed".into())
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
