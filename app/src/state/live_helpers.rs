//! Helper workers for live listening. On the CPU, one worker's thread spends a whole hop reading
//! ten students, so a word's mark waits behind the others' readings. Live sessions deal the
//! students out between the page's model worker and helpers, one for each further core the
//! browser reports (at most [`MOST_HELPERS`]). A helper is a CPU worker like the page's own that
//! loads only the models dealt to it and keeps them for the next session.

use super::live_tape::WorkerIndex;
use crate::worker::WorkerBuild;
use crate::worker::alarm::{Panic, PanicAlarm};
use crate::worker::{LiveEvent, LiveModel, ModelClient, ModelKind, ModelSource, Request, Response};
use std::cell::RefCell;
use std::rc::Rc;

/// Helpers at most, however many cores the browser reports: each holds its own copy of its
/// models.
pub const MOST_HELPERS: usize = 3;

/// How many helpers this browser's cores call for: one per core beyond the page's worker's.
pub fn helpers_wanted() -> usize {
    let cores = web_sys::window().map_or(1.0, |window| window.navigator().hardware_concurrency());
    // `hardwareConcurrency` is at least 1 where it is reported at all.
    (cores.max(1.0) as usize - 1).min(MOST_HELPERS)
}

/// Why a helper runs its models on the CPU (its worker build has nothing else).
const HELPER_CPU_REASON: &str = "a helper of live listening runs on the CPU";

/// Deals `models` to `workers` workers (0 the page's model worker): a teacher stays on the
/// page's worker, which has it loaded already; the students go round in the order given, the
/// first to the first helper, so the page's worker, which also reads the teacher, gets the
/// fewer when they do not come out even.
pub fn deal(models: Vec<(LiveModel, ModelKind)>, workers: usize) -> Vec<(LiveModel, WorkerIndex)> {
    let workers = workers.max(1);
    let mut students = 0;
    (models.into_iter())
        .map(|(model, kind)| match kind {
            ModelKind::Teacher => (model, 0),
            ModelKind::Student => {
                students += 1;
                (model, students % workers)
            }
        })
        .collect()
}

/// A helper and the models it has been asked to load, less those that failed (asked for again
/// by the next session that deals them to it).
struct Helper {
    client: ModelClient,
    loading: Rc<RefCell<Vec<String>>>,
}

/// The helpers of the page's live sessions.
pub struct LiveHelpers {
    helpers: Vec<Helper>,
    /// Hears the helpers' panics (each reports as its worker index); dropped with them, so a
    /// panic of helpers already replaced is never heard.
    _alarm: Option<PanicAlarm>,
}

impl LiveHelpers {
    /// Starts `count` CPU workers; each live event one of them sends goes to `on_event` with its
    /// worker index (1 and on) and session, and a panic of any of them to `on_panic`.
    pub fn spawn(
        count: usize,
        on_event: impl Fn(WorkerIndex, u64, LiveEvent) + Clone + 'static,
        on_panic: impl Fn(Panic) + 'static,
    ) -> Self {
        let alarm = PanicAlarm::listen(on_panic).ok();
        let helpers = (1..=count)
            .map(|worker| {
                let on_event = on_event.clone();
                let loading = Rc::new(RefCell::new(Vec::<String>::new()));
                let failed = loading.clone();
                // Loading's progress is the page's worker's to show; a model that fails to load
                // here is named when the helper says which of its models listen.
                let client = ModelClient::spawn(WorkerBuild::Cpu, move |response| match response {
                    Response::Live { session, event } => on_event(worker, session, event),
                    Response::LoadFailed { model, .. } => {
                        failed.borrow_mut().retain(|name| *name != model);
                    }
                    _ => {}
                });
                if let Some(alarm) = &alarm {
                    client.send(Request::ReportPanics {
                        channel: alarm.name().to_string(),
                        worker: worker as u32,
                    });
                }
                Helper { client, loading }
            })
            .collect();
        Self {
            helpers,
            _alarm: alarm,
        }
    }

    pub fn count(&self) -> usize {
        self.helpers.len()
    }

    /// Has helper `worker` load those of `sources` it is not loading or holding already; a
    /// later [`Request::Listen`] waits for them.
    pub fn load(&self, worker: WorkerIndex, sources: Vec<ModelSource>) {
        let Some(helper) = self.helper(worker) else {
            return;
        };
        let mut loading = helper.loading.borrow_mut();
        let new: Vec<ModelSource> = (sources.into_iter())
            .filter(|source| !loading.contains(&source.name))
            .collect();
        if new.is_empty() {
            return;
        }
        loading.extend(new.iter().map(|source| source.name.clone()));
        helper.client.send(Request::Load {
            models: new,
            cpu_reason: Some(HELPER_CPU_REASON.to_string()),
        });
    }

    /// Sends `request` to helper `worker`.
    pub fn send(&self, worker: WorkerIndex, request: Request) {
        if let Some(helper) = self.helper(worker) {
            helper.client.send(request);
        }
    }

    /// Helper `worker`, if there is one (worker 0 is the page's own).
    fn helper(&self, worker: WorkerIndex) -> Option<&Helper> {
        self.helpers.get(worker.checked_sub(1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::Cadence;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn model(name: &str, kind: ModelKind) -> (LiveModel, ModelKind) {
        let cadence = match kind {
            ModelKind::Teacher => Cadence::PerSegment,
            ModelKind::Student => Cadence::EveryHop,
        };
        let model = LiveModel {
            name: name.into(),
            cadence,
        };
        (model, kind)
    }

    fn dealt(models: Vec<(LiveModel, ModelKind)>, workers: usize) -> Vec<(String, usize)> {
        (deal(models, workers).into_iter())
            .map(|(model, worker)| (model.name, worker))
            .collect()
    }

    #[wasm_bindgen_test]
    fn the_teacher_stays_and_the_students_go_round() {
        let models = || {
            vec![
                model("teacher", ModelKind::Teacher),
                model("a", ModelKind::Student),
                model("a-kd", ModelKind::Student),
                model("b", ModelKind::Student),
                model("b-kd", ModelKind::Student),
                model("c", ModelKind::Student),
            ]
        };
        let on = |workers| dealt(models(), workers);
        let names = |pairs: &[(&str, usize)]| -> Vec<(String, usize)> {
            pairs.iter().map(|(n, w)| (n.to_string(), *w)).collect()
        };
        assert_eq!(
            on(2),
            names(&[
                ("teacher", 0),
                ("a", 1),
                ("a-kd", 0),
                ("b", 1),
                ("b-kd", 0),
                ("c", 1)
            ])
        );
        assert_eq!(
            on(3),
            names(&[
                ("teacher", 0),
                ("a", 1),
                ("a-kd", 2),
                ("b", 0),
                ("b-kd", 1),
                ("c", 2)
            ])
        );
        // One worker, or none reported, keeps every model on the page's worker.
        for workers in [0, 1] {
            assert!(on(workers).iter().all(|(_, worker)| *worker == 0));
        }
    }
}
