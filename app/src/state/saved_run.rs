//! The last training run, kept in this browser after every scoring and at its end, so closing
//! or reloading the tab mid-run loses nothing already scored: the next visit restores its
//! curves, probe maps and both students.
//!
//! It is stored as one Cache API entry (one write, so a reload never finds half a run): a short
//! magic, the length of a JSON header, the header (everything but the weights), then both
//! students' weights as raw bytes. The entry's body is a blob, which the browser writes to its
//! cache off the page's thread.

use crate::browser::cache::ByteCache;
use crate::worker::{
    Probe, RunScore, SavedStudent, StepPoint, TimeMap, TrainSettings, TrainingEnd,
};
use serde::{Deserialize, Serialize};
use tempokd::kd::PlainAndKd;

const STORE: &str = "tempokd-training";
const KEY: &str = "saved-run/last";
const MAGIC: &[u8; 8] = b"TKDRUN1\n";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedRun {
    /// The catalog name of the student both runs started from.
    pub student: String,
    pub settings: TrainSettings,
    /// How the run ended; `None` when it was still going at this save.
    pub end: Option<TrainingEnd>,
    pub points: PlainAndKd<Vec<StepPoint>>,
    pub scores: PlainAndKd<Vec<RunScore>>,
    pub probe: Option<Probe>,
    pub probe_maps: Option<PlainAndKd<TimeMap>>,
    pub elapsed_ms: f64,
    /// Stored after the header as raw bytes (see [`SavedRun::encode`]).
    #[serde(skip)]
    pub students: PlainAndKd<SavedStudent>,
}

/// A run as stored: the magic, the header's length and the header, then both students'
/// weights as they lie in the run.
pub struct Encoded<'a> {
    head: Vec<u8>,
    weights: PlainAndKd<&'a [u8]>,
}

impl Encoded<'_> {
    pub fn parts(&self) -> [&[u8]; 3] {
        [&self.head, self.weights.plain, self.weights.kd]
    }
}

/// The header: the run (its students are skipped), their configs and their weights' sizes.
/// `R` is the run itself when reading and a reference to it when writing.
#[derive(Serialize, Deserialize)]
struct Header<R> {
    run: R,
    configs: PlainAndKd<String>,
    weight_bytes: PlainAndKd<usize>,
}

impl SavedRun {
    /// The step both students are at.
    pub fn step(&self) -> usize {
        self.points.kd.last().map_or(0, |point| point.step)
    }

    /// The bytes to store, in parts to be written one after the other, so the megabytes of
    /// weights are not copied to be joined.
    pub fn encode(&self) -> Result<Encoded<'_>, String> {
        let header = Header {
            run: self,
            configs: self.students.as_ref().map(|files| files.config.clone()),
            weight_bytes: self.students.as_ref().map(|files| files.weights.len()),
        };
        let json = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
        let json_bytes = u32::try_from(json.len()).map_err(|_| "the run is too large to keep")?;
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&json_bytes.to_le_bytes());
        head.extend_from_slice(&json);
        Ok(Encoded {
            head,
            weights: self.students.as_ref().map(|files| files.weights.as_slice()),
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or("not a saved training run")?;
        let (length, rest) = rest
            .split_at_checked(4)
            .ok_or("the saved run is cut short")?;
        let length = u32::from_le_bytes(length.try_into().map_err(|_| "bad length")?) as usize;
        let (json, mut weights) = rest
            .split_at_checked(length)
            .ok_or("the saved run is cut short")?;
        let header: Header<SavedRun> = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        let mut run = header.run;
        let mut take = |config: String, size: usize| {
            let (these, after) = weights
                .split_at_checked(size)
                .ok_or("the saved run's weights are cut short")?;
            weights = after;
            Ok::<_, String>(SavedStudent {
                config,
                weights: these.to_vec(),
            })
        };
        let plain = take(header.configs.plain, header.weight_bytes.plain)?;
        let kd = take(header.configs.kd, header.weight_bytes.kd)?;
        run.students = PlainAndKd::new(plain, kd);
        if !weights.is_empty() {
            return Err("the saved run has bytes after its weights".into());
        }
        Ok(run)
    }

    /// The run this browser kept, if any. A damaged entry counts as none.
    pub async fn load() -> Option<Self> {
        let bytes = ByteCache::open(STORE).await?.get(KEY).await?;
        Self::decode(&bytes).ok()
    }

    /// Keeps this run in place of the last; false if the browser refused.
    pub async fn store(&self) -> bool {
        let (Some(cache), Ok(encoded)) = (ByteCache::open(STORE).await, self.encode()) else {
            return false;
        };
        cache.put(KEY, &encoded.parts()).await
    }

    pub async fn forget() {
        if let Some(cache) = ByteCache::open(STORE).await {
            cache.delete(KEY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn a_saved_run_reads_back_whole_and_damaged_bytes_are_refused() {
        let run = SavedRun {
            student: "lstm-p".into(),
            settings: TrainSettings::default(),
            end: Some(TrainingEnd::Stopped),
            points: [vec![StepPoint::default()], Vec::new()].into(),
            scores: [Vec::new(), vec![RunScore::default()]].into(),
            probe: None,
            probe_maps: None,
            elapsed_ms: 12.5,
            // Weights of two sizes, so a header that swapped them would not read back.
            students: PlainAndKd::new(
                SavedStudent {
                    config: "{\"run\": 0}".into(),
                    weights: vec![4, 0, 7],
                },
                SavedStudent {
                    config: "{\"run\": 1}".into(),
                    weights: vec![4, 1, 7, 9, 11],
                },
            ),
        };
        let bytes = run.encode().unwrap().parts().concat();
        assert_eq!(SavedRun::decode(&bytes), Ok(run));
        for cut in [0, 5, 12, bytes.len() - 1] {
            assert!(SavedRun::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(SavedRun::decode(&longer).is_err());
    }
}
