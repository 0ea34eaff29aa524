//! What the page knows about the models: the catalog, where they run, how far loading has got,
//! and the current run's readings. Responses from the worker land here.

use crate::catalog::CatalogEntry;
use crate::worker::{ModelClient, ModelFiles, ModelSource, Reading, Request, Response};
use leptos::prelude::*;
use tempokd::device::Placement;

/// How far loading the catalog's models has got.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadProgress {
    /// Bytes of every model's weights, from the catalog.
    pub total_bytes: u64,
    /// Bytes of weights fetched so far.
    pub fetched_bytes: u64,
    pub expected: usize,
    pub loaded: usize,
    /// Models that could not be loaded, with why.
    pub failed: Vec<(String, String)>,
    pub started_ms: f64,
    pub finished_ms: Option<f64>,
}

impl LoadProgress {
    pub fn done(&self) -> bool {
        self.expected > 0 && self.loaded + self.failed.len() >= self.expected
    }

    /// Share of the weights fetched, 0 to 1.
    pub fn fraction(&self) -> f64 {
        match self.total_bytes {
            0 => 0.0,
            total => (self.fetched_bytes as f64 / total as f64).min(1.0),
        }
    }
}

/// Where the current run is.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RunProgress {
    #[default]
    Idle,
    Running {
        run: u64,
        answered: usize,
        total: usize,
    },
    Finished {
        run: u64,
        ms: f64,
    },
    Cancelled {
        run: u64,
    },
}

impl RunProgress {
    pub fn run(&self) -> u64 {
        match self {
            Self::Idle => 0,
            Self::Running { run, .. } | Self::Finished { run, .. } | Self::Cancelled { run } => {
                *run
            }
        }
    }
}

/// The page's model state, shared by the components (every field is a signal, so it is Copy).
#[derive(Clone, Copy)]
pub struct Models {
    pub catalog: RwSignal<Vec<CatalogEntry>>,
    pub device: RwSignal<Option<Placement>>,
    pub loading: RwSignal<LoadProgress>,
    pub run: RwSignal<RunProgress>,
    pub readings: RwSignal<Vec<Reading>>,
    /// Failures of single models on the current clip.
    pub failures: RwSignal<Vec<(String, String)>>,
    /// How many clips the models have been given, so views of one clip know a new one came.
    pub clips: RwSignal<u64>,
    /// The current clip, for a model added after it arrived.
    clip: StoredValue<Option<Vec<f32>>>,
    client: StoredValue<Option<ModelClient>, LocalStorage>,
}

impl Models {
    /// State with no worker behind it; [`Models::start`] connects one.
    pub fn new() -> Self {
        Self {
            catalog: RwSignal::new(Vec::new()),
            device: RwSignal::new(None),
            loading: RwSignal::new(LoadProgress::default()),
            run: RwSignal::new(RunProgress::Idle),
            readings: RwSignal::new(Vec::new()),
            failures: RwSignal::new(Vec::new()),
            clips: RwSignal::new(0),
            clip: StoredValue::new(None),
            client: StoredValue::new_local(None),
        }
    }

    /// A model's title from the catalog, or its name.
    pub fn title(self, name: &str) -> String {
        self.catalog.with(|catalog| {
            catalog
                .iter()
                .find(|entry| entry.name == name)
                .map_or_else(|| name.to_string(), |entry| entry.title.clone())
        })
    }

    /// Starts the worker and asks it to load `catalog`'s models.
    pub fn start(self, catalog: Vec<CatalogEntry>, prefer_cpu: bool) {
        let client = ModelClient::spawn(move |response| self.apply(response));
        self.loading.set(LoadProgress {
            total_bytes: catalog.iter().map(|entry| entry.bytes).sum(),
            expected: catalog.len(),
            started_ms: js_sys::Date::now(),
            ..LoadProgress::default()
        });
        client.send(Request::Load {
            models: catalog.iter().map(CatalogEntry::source).collect(),
            prefer_cpu,
        });
        self.catalog.set(catalog);
        self.client.set_value(Some(client));
    }

    /// Loads one more model beside the others and has it hear the clip on screen, if any.
    pub fn add(self, entry: CatalogEntry, source: ModelSource) {
        let name = entry.name.clone();
        // Picked files are here already: nothing to fetch.
        let here = match &source.files {
            ModelFiles::Picked { weights, .. } => weights.len() as u64,
            ModelFiles::Folder(_) => 0,
        };
        self.loading.update(|loading| {
            loading.total_bytes += entry.bytes;
            loading.fetched_bytes += here;
            loading.expected += 1;
            loading.started_ms = js_sys::Date::now();
            loading.finished_ms = None;
        });
        self.catalog.update(|catalog| catalog.push(entry));
        self.send(Request::Load {
            models: vec![source],
            prefer_cpu: false,
        });
        let Some(samples) = self.clip.get_value() else {
            return;
        };
        match self.run.get_untracked() {
            // A run still going would miss the newcomer's place in the order: start it again.
            RunProgress::Running { .. } => self.analyse(samples),
            _ => self.start_run(samples, Some(vec![name])),
        }
    }

    /// Runs every model on a 16 kHz clip; the worker takes each model as soon as it has loaded.
    pub fn analyse(self, samples: Vec<f32>) {
        self.clip.set_value(Some(samples.clone()));
        self.clips.update(|clips| *clips += 1);
        self.readings.set(Vec::new());
        self.failures.set(Vec::new());
        self.start_run(samples, None);
    }

    /// A new run of every model, or only of those in `only` (the others' readings stay).
    fn start_run(self, samples: Vec<f32>, only: Option<Vec<String>>) {
        let run = self.run.with_untracked(RunProgress::run) + 1;
        let total = match &only {
            Some(names) => names.len(),
            None => self
                .loading
                .with_untracked(|loading| loading.expected - loading.failed.len()),
        };
        self.run.set(RunProgress::Running {
            run,
            answered: 0,
            total,
        });
        self.send(Request::Analyse { run, samples, only });
    }

    pub fn cancel(self) {
        if let RunProgress::Running { run, .. } = self.run.get_untracked() {
            self.send(Request::Cancel { run });
        }
    }

    fn send(self, request: Request) {
        self.client.with_value(|client| {
            if let Some(client) = client {
                client.send(request);
            }
        });
    }

    /// Takes in one response from the worker. Responses about an older run are dropped.
    pub fn apply(self, response: Response) {
        let current = self.run.with_untracked(RunProgress::run);
        match response {
            Response::Device(placement) => self.device.set(Some(placement)),
            Response::Fetched { model, file, bytes } => {
                // Weights of unknown size would push the bar past its total.
                let sized = self.catalog.with_untracked(|catalog| {
                    catalog
                        .iter()
                        .any(|entry| entry.name == model && entry.bytes > 0)
                });
                if file == "model.safetensors" && sized {
                    self.loading
                        .update(|loading| loading.fetched_bytes += bytes);
                }
            }
            Response::Loaded { .. } => self.loading.update(|loading| loading.loaded += 1),
            Response::LoadFailed { model, message } => {
                self.loading
                    .update(|loading| loading.failed.push((model, message)));
                // A model that cannot load will not answer this run either.
                self.run.update(|run| {
                    if let RunProgress::Running { total, .. } = run {
                        *total = total.saturating_sub(1);
                    }
                });
            }
            Response::Reading { run, reading } if run == current => {
                self.readings.update(|readings| readings.push(*reading));
                self.count_answer();
            }
            Response::Failed {
                run,
                model,
                message,
            } if run == current => {
                self.failures
                    .update(|failures| failures.push((model, message)));
                self.count_answer();
            }
            Response::Finished { run, ms } if run == current => {
                self.run.set(RunProgress::Finished { run, ms });
            }
            Response::Cancelled { run } if run == current => {
                self.run.set(RunProgress::Cancelled { run });
            }
            Response::Reading { .. }
            | Response::Failed { .. }
            | Response::Finished { .. }
            | Response::Cancelled { .. } => {}
        }
        let finished_loading = self
            .loading
            .with_untracked(|loading| loading.done() && loading.finished_ms.is_none());
        if finished_loading {
            self.loading
                .update(|loading| loading.finished_ms = Some(js_sys::Date::now()));
        }
    }

    fn count_answer(self) {
        self.run.update(|run| {
            if let RunProgress::Running { answered, .. } = run {
                *answered += 1;
            }
        });
    }
}

impl Default for Models {
    fn default() -> Self {
        Self::new()
    }
}
