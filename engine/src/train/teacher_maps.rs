//! The teacher's map of every training clip: computed once per clip, in batches of one length,
//! and kept between runs by a [`TeacherMapStore`] (a folder beside the dataset for the command
//! line, the browser's Cache API for the page). Both compute what their store lacks here; the
//! page's two training workers each compute a share of it at once ([`MapMaking`]).

use super::TrainError;
use super::cache::{TeacherCache, map_batches, teacher_targets};
use crate::kd::{KeyedMaps, RolloutConfig, TeacherTarget};
use crate::teacher::Teacher;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// Clips read at a time while maps are computed: their audio is held until their batches ran.
const CLIPS_READ_AHEAD: usize = 64;

/// Where a teacher's maps are kept between runs: one [`TeacherCache`] per teacher, named by its
/// [`fingerprint`](super::fingerprint).
#[allow(async_fn_in_trait)] // Run on one thread (the CLI blocks on it, the page's worker is one).
pub trait TeacherMapStore {
    /// What is kept for `teacher`; an empty cache when nothing is, or what is kept is not
    /// readable as one.
    async fn load(&self, teacher: &str) -> TeacherCache;
    /// Keeps `cache` in place of what was kept for its teacher.
    async fn save(&self, cache: &TeacherCache) -> Result<(), TrainError>;
}

/// A clip whose map is wanted.
pub struct MapClip {
    /// How messages name it.
    pub name: String,
    /// Its key in the store: its name and the hash of its audio (see [`super::clip_key`]), so a
    /// clip made again under the same name never gets a stale map.
    pub key: String,
}

/// Every clip's map, in the clips' order.
pub struct TeacherMaps {
    pub maps: Vec<TeacherTarget>,
    /// How many came from the store rather than the teacher.
    pub kept: usize,
}

/// Which of the maps a store lacks one maker computes when several compute them at once:
/// every `parts`-th of the missing clips from the `part`-th, in the clips' order (so each
/// share has clips of every length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapShare {
    pub part: usize,
    pub parts: usize,
}

impl MapShare {
    /// Every missing map, by one maker.
    pub const WHOLE: Self = Self { part: 0, parts: 1 };

    fn takes(self, position: usize) -> bool {
        position % self.parts.max(1) == self.part
    }
}

/// The maps of some clips while they are being made: what the store kept, and what was
/// computed here or handed over by another maker.
pub struct MapMaking<'c> {
    clips: &'c [MapClip],
    cache: TeacherCache,
    /// The clips the store lacked when it was read, in their order.
    missing: Vec<usize>,
}

impl<'c> MapMaking<'c> {
    /// Reads what `store` keeps of `fingerprint`'s maps of `clips`.
    pub async fn load(
        store: &impl TeacherMapStore,
        fingerprint: &str,
        clips: &'c [MapClip],
    ) -> MapMaking<'c> {
        let cache = store.load(fingerprint).await;
        let missing = (0..clips.len())
            .filter(|&index| cache.get(&clips[index].key).is_none())
            .collect();
        Self {
            clips,
            cache,
            missing,
        }
    }

    /// How many clips the store lacked.
    pub fn missing(&self) -> usize {
        self.missing.len()
    }

    /// Computes `share` of the missing maps not yet made or handed over (`read` gives a clip's
    /// 16 kHz samples, asked only for those). `before_batch(done, total)` runs before each
    /// batch, to report progress, yield, or stop with an error. Returns how many it computed.
    pub async fn compute<'a>(
        &mut self,
        teacher: &Teacher,
        rollout: &RolloutConfig,
        share: MapShare,
        mut read: impl FnMut(usize) -> Result<Cow<'a, [f32]>, TrainError>,
        mut before_batch: impl AsyncFnMut(usize, usize) -> Result<(), TrainError>,
    ) -> Result<usize, TrainError> {
        let clips = self.clips;
        let wanted: Vec<usize> = (self.missing.iter().enumerate())
            .filter(|&(position, &index)| {
                share.takes(position) && self.cache.get(&clips[index].key).is_none()
            })
            .map(|(_, &index)| index)
            .collect();
        let mut done = 0;
        for window in wanted.chunks(CLIPS_READ_AHEAD) {
            let audio = (window.iter())
                .map(|&index| read(index))
                .collect::<Result<Vec<_>, _>>()?;
            let lengths: Vec<usize> = audio.iter().map(|samples| samples.len()).collect();
            for batch in map_batches(&lengths) {
                before_batch(done, wanted.len()).await?;
                let samples: Vec<&[f32]> = batch.iter().map(|&at| &*audio[at]).collect();
                let targets = teacher_targets(teacher, &samples, rollout)
                    .await
                    .map_err(|e| {
                        let first = &clips[window[batch[0]]].name;
                        let others = batch.len() - 1;
                        TrainError::TeacherMap(format!(
                            "{first} (with {others} more clips of its length): {e}"
                        ))
                    })?;
                for (&at, target) in batch.iter().zip(targets) {
                    self.cache.insert(clips[window[at]].key.clone(), target);
                }
                done += batch.len();
            }
        }
        Ok(done)
    }

    /// The maps of missing clips computed or handed over so far: what another maker lacks.
    pub fn made(&self) -> KeyedMaps {
        (self.missing.iter())
            .filter_map(|&index| {
                let key = &self.clips[index].key;
                Some((key.clone(), self.cache.get(key)?.clone()))
            })
            .collect()
    }

    /// Takes maps another maker computed; those of clips not wanted here, or kept already, are
    /// left out.
    pub fn receive(&mut self, maps: KeyedMaps) {
        let missing: BTreeSet<&str> = (self.missing.iter())
            .map(|&index| self.clips[index].key.as_str())
            .collect();
        let wanted: Vec<(String, TeacherTarget)> = (maps.into_iter())
            .filter(|(key, _)| missing.contains(key.as_str()) && self.cache.get(key).is_none())
            .collect();
        for (key, target) in wanted {
            self.cache.insert(key, target);
        }
    }

    /// Every clip's map, in the clips' order, once each is made or kept. The store keeps these
    /// clips' maps alone afterwards (those made are kept even when some are missing).
    pub async fn finish(mut self, store: &impl TeacherMapStore) -> Result<TeacherMaps, TrainError> {
        // Any more entries than clips are of clips that are gone.
        let stale = self.cache.entries.len() > self.clips.len();
        if stale || !self.missing.is_empty() {
            let wanted: BTreeSet<&str> = self.clips.iter().map(|clip| clip.key.as_str()).collect();
            self.cache
                .entries
                .retain(|key, _| wanted.contains(key.as_str()));
            store.save(&self.cache).await?;
        }
        let maps = (self.clips.iter())
            .map(|clip| {
                (self.cache.get(&clip.key).cloned()).ok_or_else(|| {
                    TrainError::TeacherMap(format!("{}: no map was made", clip.name))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(TeacherMaps {
            maps,
            kept: self.clips.len() - self.missing.len(),
        })
    }
}

/// The teacher's map of each clip: what `store` keeps for this teacher, the rest computed
/// (`read` gives a clip's 16 kHz samples, asked only for clips the store lacks) and kept with
/// it. `before_batch(done, total)` runs before each batch of computed clips and once after the
/// last (not at all when every map was kept), to report progress, yield, or stop with an
/// error. The store keeps only these clips' maps afterwards.
pub async fn teacher_maps<'a>(
    teacher: &Teacher,
    rollout: &RolloutConfig,
    fingerprint: &str,
    clips: &[MapClip],
    read: impl FnMut(usize) -> Result<Cow<'a, [f32]>, TrainError>,
    store: &impl TeacherMapStore,
    mut before_batch: impl AsyncFnMut(usize, usize) -> Result<(), TrainError>,
) -> Result<TeacherMaps, TrainError> {
    let mut making = MapMaking::load(store, fingerprint, clips).await;
    let computed =
        (making.compute(teacher, rollout, MapShare::WHOLE, read, &mut before_batch)).await?;
    let maps = making.finish(store).await?;
    // After the save, so a stop asked for during the last batch keeps every map made.
    if computed > 0 {
        before_batch(computed, computed).await?;
    }
    Ok(maps)
}

/// Maps kept as `teacher-<fingerprint>.json` in a folder (the command line keeps them in the
/// dataset's `.tempokd-cache/`).
#[cfg(not(target_family = "wasm"))]
pub struct FolderMapStore {
    pub dir: std::path::PathBuf,
}

#[cfg(not(target_family = "wasm"))]
impl FolderMapStore {
    fn path(&self, teacher: &str) -> std::path::PathBuf {
        self.dir.join(format!("teacher-{teacher}.json"))
    }
}

#[cfg(not(target_family = "wasm"))]
impl TeacherMapStore for FolderMapStore {
    async fn load(&self, teacher: &str) -> TeacherCache {
        use crate::capped_read::{MAX_LIST_BYTES, read_capped_text};
        match read_capped_text(
            &self.path(teacher),
            MAX_LIST_BYTES,
            "a store of teacher maps",
        ) {
            Ok(text) => TeacherCache::from_json(&text, teacher),
            Err(_) => TeacherCache::new(teacher.to_string()),
        }
    }

    async fn save(&self, cache: &TeacherCache) -> Result<(), TrainError> {
        use crate::data::DataError;
        std::fs::create_dir_all(&self.dir).map_err(|e| DataError::file(&self.dir, e))?;
        let path = self.path(&cache.teacher);
        std::fs::write(&path, cache.to_json()).map_err(|e| DataError::file(&path, e))?;
        Ok(())
    }
}
