//! The teacher's map of every training clip: computed once per clip, in batches of one length,
//! and kept between runs by a [`TeacherMapStore`] (a folder beside the dataset for the command
//! line, the browser's Cache API for the page). Both compute what their store lacks here.

use super::TrainError;
use super::cache::{TeacherCache, TeacherTarget, map_batches, teacher_targets};
use crate::kd::RolloutConfig;
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
    mut read: impl FnMut(usize) -> Result<Cow<'a, [f32]>, TrainError>,
    store: &impl TeacherMapStore,
    mut before_batch: impl AsyncFnMut(usize, usize) -> Result<(), TrainError>,
) -> Result<TeacherMaps, TrainError> {
    let mut cache = store.load(fingerprint).await;
    let missing: Vec<usize> = (0..clips.len())
        .filter(|&index| cache.get(&clips[index].key).is_none())
        .collect();
    let mut done = 0;
    for window in missing.chunks(CLIPS_READ_AHEAD) {
        let audio = (window.iter())
            .map(|&index| read(index))
            .collect::<Result<Vec<_>, _>>()?;
        let lengths: Vec<usize> = audio.iter().map(|samples| samples.len()).collect();
        for batch in map_batches(&lengths) {
            before_batch(done, missing.len()).await?;
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
                cache.insert(clips[window[at]].key.clone(), target);
            }
            done += batch.len();
        }
    }
    // Every key is in the cache now; any more entries are of clips that are gone.
    let stale = cache.entries.len() > clips.len();
    if stale || !missing.is_empty() {
        let wanted: BTreeSet<&str> = clips.iter().map(|clip| clip.key.as_str()).collect();
        cache.entries.retain(|key, _| wanted.contains(key.as_str()));
        store.save(&cache).await?;
    }
    // After the save, so a stop asked for during the last batch keeps every map made.
    if !missing.is_empty() {
        before_batch(done, missing.len()).await?;
    }
    let maps = (clips.iter())
        .map(|clip| {
            (cache.get(&clip.key).cloned())
                .ok_or_else(|| TrainError::TeacherMap(format!("{}: no map was made", clip.name)))
        })
        .collect::<Result<_, _>>()?;
    Ok(TeacherMaps {
        maps,
        kept: clips.len() - missing.len(),
    })
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
        match std::fs::read_to_string(self.path(teacher)) {
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
