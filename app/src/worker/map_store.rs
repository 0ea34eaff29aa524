//! The teacher's maps kept by the browser between visits, in its Cache API: one entry per
//! teacher (its files and rollout settings), holding the maps of the last run's clips.

use crate::browser::cache::ByteCache;
use tempokd::train::{TeacherCache, TeacherMapStore, TrainError};

const STORE: &str = "tempokd-teacher-maps-by-clip";

/// Where earlier versions of the page kept one entry of maps per run; deleted on the first save.
const EARLIER_STORE: &str = "tempokd-teacher-maps";

/// The teacher's maps in the browser's Cache API.
pub struct BrowserMapStore;

fn key(teacher: &str) -> String {
    format!("teacher-maps/teacher-{teacher}.json")
}

impl TeacherMapStore for BrowserMapStore {
    async fn load(&self, teacher: &str) -> TeacherCache {
        let kept = match ByteCache::open(STORE).await {
            Some(cache) => cache.get(&key(teacher)).await,
            None => None,
        };
        let text = kept.and_then(|bytes| String::from_utf8(bytes).ok());
        match text {
            Some(text) => TeacherCache::from_json(&text, teacher),
            None => TeacherCache::new(teacher.to_string()),
        }
    }

    /// A browser that refuses to store only costs the next run the time the maps take.
    async fn save(&self, cache: &TeacherCache) -> Result<(), TrainError> {
        ByteCache::delete_store(EARLIER_STORE).await;
        if let Some(store) = ByteCache::open(STORE).await {
            store
                .put(&key(&cache.teacher), &[cache.to_json().as_bytes()])
                .await;
        }
        Ok(())
    }
}
