//! The two workers of a training run, one per run of the comparison (without KD, with KD), held
//! in step: each reports how its next step's forward pass came out, and once both have, each
//! sound step is settled by the other's outcome (applied, undone to the steps a diverged run
//! kept, or dropped). The rest of what they say is joined into what the page shows: one start,
//! one scoring of both runs at each step, one end.

use crate::worker::{
    CheckOutcome, KeyedMaps, Probe, RunScore, RunSetup, SavedStudent, StepPoint, TimeMap,
    TrainingEnd, TrainingEvent, Verdict,
};
use std::collections::VecDeque;
use tempokd::kd::PlainAndKd;

/// What the page shows of a run, joined from both workers.
#[derive(Clone, Debug, PartialEq)]
pub enum PairEvent {
    Preparing {
        stage: String,
        done: usize,
        total: usize,
    },
    Started {
        setup: RunSetup,
        probe: Option<Probe>,
    },
    /// One step of the run with KD (when `kd`) or without it.
    Stepped {
        kd: bool,
        point: StepPoint,
        elapsed_ms: f64,
    },
    /// Both runs scored at the same step; their students after step 0.
    Validated {
        scores: PlainAndKd<RunScore>,
        probe: PlainAndKd<TimeMap>,
        students: Option<PlainAndKd<SavedStudent>>,
    },
    Paused,
    Resumed,
    Ended {
        end: TrainingEnd,
        students: PlainAndKd<SavedStudent>,
        elapsed_ms: f64,
    },
    Failed {
        message: String,
    },
}

/// What the page does on hearing a worker.
#[derive(Clone, Debug, PartialEq)]
pub enum PairAction {
    Show(PairEvent),
    /// Send `verdict` to the worker of the run with KD (when `kd`) or without it.
    Settle {
        kd: bool,
        verdict: Verdict,
    },
    /// Send the run with KD's worker the teacher's maps the other worker made.
    HandMaps(KeyedMaps),
}

/// What the workers of one run have said and the other has not yet matched.
#[derive(Default)]
pub struct RunPair {
    started: PlainAndKd<bool>,
    /// The run with KD's start, shown once both have started: it has the teacher (its maps,
    /// its map of the probe).
    start: Option<PairEvent>,
    checks: PlainAndKd<Option<CheckOutcome>>,
    validated: PlainAndKd<VecDeque<(RunScore, TimeMap, Option<SavedStudent>)>>,
    ended: PlainAndKd<Option<(TrainingEnd, SavedStudent, f64)>>,
    /// The run whose own step diverged first: its end says why both ended.
    diverged: Option<bool>,
    /// After a failure nothing more is shown.
    failed: bool,
}

impl RunPair {
    /// Takes in `event` from the worker of the run with KD (when `kd`) or without it.
    pub fn hear(&mut self, kd: bool, event: TrainingEvent) -> Vec<PairAction> {
        if self.failed {
            return Vec::new();
        }
        let show = |event| vec![PairAction::Show(event)];
        match event {
            // The run with KD prepares the longer (it has the teacher's maps to make): its
            // progress is the run's.
            TrainingEvent::Preparing { stage, done, total } if kd => {
                show(PairEvent::Preparing { stage, done, total })
            }
            TrainingEvent::Paused if kd => show(PairEvent::Paused),
            TrainingEvent::Resumed if kd => show(PairEvent::Resumed),
            TrainingEvent::Preparing { .. } | TrainingEvent::Paused | TrainingEvent::Resumed => {
                Vec::new()
            }
            TrainingEvent::Started { setup, probe } => {
                if kd {
                    self.start = Some(PairEvent::Started { setup, probe });
                }
                *self.started.get_mut(kd) = true;
                match self.started {
                    PlainAndKd {
                        plain: true,
                        kd: true,
                    } => self.start.take().map_or_else(Vec::new, show),
                    _ => Vec::new(),
                }
            }
            // Only the run without KD hands its maps over.
            TrainingEvent::MapsMade { maps } if !kd => vec![PairAction::HandMaps(maps)],
            TrainingEvent::MapsMade { .. } => Vec::new(),
            TrainingEvent::Checked { outcome } => {
                if matches!(outcome, CheckOutcome::Diverged { .. }) {
                    self.diverged.get_or_insert(kd);
                }
                *self.checks.get_mut(kd) = Some(outcome);
                let mut actions = self.settle();
                actions.extend(self.cancel_unmatched());
                actions
            }
            TrainingEvent::Stepped { point, elapsed_ms } => show(PairEvent::Stepped {
                kd,
                point,
                elapsed_ms,
            }),
            TrainingEvent::Validated {
                score,
                probe,
                student,
            } => {
                self.validated
                    .get_mut(kd)
                    .push_back((score, probe, student));
                self.scored().map_or_else(Vec::new, show)
            }
            TrainingEvent::Ended {
                end,
                student,
                elapsed_ms,
            } => {
                *self.ended.get_mut(kd) = Some((end, student, elapsed_ms));
                let mut actions = self.cancel_unmatched();
                actions.extend(self.end().map(PairAction::Show));
                actions
            }
            TrainingEvent::Failed { message } => {
                self.failed = true;
                show(PairEvent::Failed { message })
            }
        }
    }

    /// The verdicts on a step both runs have checked: each sound step goes by the other's
    /// outcome.
    fn settle(&mut self) -> Vec<PairAction> {
        let (Some(plain), Some(kd)) = (self.checks.plain, self.checks.kd) else {
            return Vec::new();
        };
        self.checks = PlainAndKd::default();
        [(false, plain, kd), (true, kd, plain)]
            .into_iter()
            .filter(|(_, own, _)| *own == CheckOutcome::Sound)
            .map(|(kd, _, other)| PairAction::Settle {
                kd,
                verdict: Verdict::given(other),
            })
            .collect()
    }

    /// A step checked by one run after the other ended without checking it (a stop reaches each
    /// worker at its own point in a step: one may end at the top of its loop while the other has
    /// already checked its next step): it will never be matched, so that run drops it and ends
    /// too, at the same step, instead of waiting for a verdict that cannot come.
    fn cancel_unmatched(&mut self) -> Vec<PairAction> {
        let mut actions = Vec::new();
        for kd in [false, true] {
            let other_ended_unchecked =
                self.ended.get(!kd).is_some() && self.checks.get(!kd).is_none();
            // Only a sound check waits for a verdict; a diverged or failed one has ended its run.
            if other_ended_unchecked && *self.checks.get(kd) == Some(CheckOutcome::Sound) {
                *self.checks.get_mut(kd) = None;
                actions.push(PairAction::Settle {
                    kd,
                    verdict: Verdict::Cancel,
                });
            }
        }
        actions
    }

    /// Both runs' scorings of one step, once both have come.
    fn scored(&mut self) -> Option<PairEvent> {
        if self.validated.iter().any(VecDeque::is_empty) {
            return None;
        }
        let (plain, kd) = (
            self.validated.plain.pop_front()?,
            self.validated.kd.pop_front()?,
        );
        let students = match (plain.2, kd.2) {
            (Some(plain), Some(kd)) => Some(PlainAndKd::new(plain, kd)),
            _ => None,
        };
        Some(PairEvent::Validated {
            scores: PlainAndKd::new(plain.0, kd.0),
            probe: PlainAndKd::new(plain.1, kd.1),
            students,
        })
    }

    /// Both runs' ends as one, once both have ended: a divergence is told by the run that
    /// diverged.
    fn end(&mut self) -> Option<PairEvent> {
        if self.ended.iter().any(Option::is_none) {
            return None;
        }
        let plain = self.ended.plain.take()?;
        let kd = self.ended.kd.take()?;
        let end = match self.diverged {
            Some(false) => plain.0,
            _ => kd.0,
        };
        Some(PairEvent::Ended {
            end,
            students: PlainAndKd::new(plain.1, kd.1),
            // The run with KD's worker starts last, and both train only once it has.
            elapsed_ms: kd.2,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempokd::device::Placement;
    use tempokd::kd::TeacherTarget;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn checked(outcome: CheckOutcome) -> TrainingEvent {
        TrainingEvent::Checked { outcome }
    }

    fn settle(kd: bool, verdict: Verdict) -> PairAction {
        PairAction::Settle { kd, verdict }
    }

    fn student(run: u8) -> SavedStudent {
        SavedStudent {
            config: "{}".into(),
            weights: vec![run],
        }
    }

    fn validated(step: usize, kd: bool) -> TrainingEvent {
        TrainingEvent::Validated {
            score: RunScore {
                step,
                accuracy: if kd { 0.75 } else { 0.5 },
                localisation: 0.0,
            },
            probe: TimeMap {
                start_s: 0.0,
                frame_s: 0.02,
                values: vec![f32::from(u8::from(kd))],
            },
            student: (step > 0).then(|| student(u8::from(kd))),
        }
    }

    fn ended(end: TrainingEnd, kd: bool, elapsed_ms: f64) -> TrainingEvent {
        TrainingEvent::Ended {
            end,
            student: student(u8::from(kd)),
            elapsed_ms,
        }
    }

    #[wasm_bindgen_test]
    fn each_step_is_applied_once_both_runs_have_checked_it() {
        let mut pair = RunPair::default();
        assert_eq!(pair.hear(true, checked(CheckOutcome::Sound)), []);
        assert_eq!(
            pair.hear(false, checked(CheckOutcome::Sound)),
            [settle(false, Verdict::Apply), settle(true, Verdict::Apply)]
        );
        // The next step starts afresh: one check settles nothing.
        assert_eq!(pair.hear(false, checked(CheckOutcome::Sound)), []);
    }

    #[wasm_bindgen_test]
    fn a_divergence_takes_the_other_run_back_to_the_same_steps_and_ends_both_with_its_reason() {
        let mut pair = RunPair::default();
        assert_eq!(pair.hear(false, checked(CheckOutcome::Sound)), []);
        let diverged = CheckOutcome::Diverged { kept: 4 };
        assert_eq!(
            pair.hear(true, checked(diverged)),
            [settle(false, Verdict::Undo { kept: 4 })]
        );
        // Both diverged: nothing to settle.
        pair.hear(false, checked(diverged));
        assert_eq!(pair.hear(true, checked(diverged)), []);
        let why = TrainingEnd::Diverged("loss NaN at step 6".into());
        assert_eq!(pair.hear(true, ended(why.clone(), true, 900.0)), []);
        let told = TrainingEnd::Diverged("the other run diverged".into());
        assert_eq!(
            pair.hear(false, ended(told, false, 1_000.0)),
            [PairAction::Show(PairEvent::Ended {
                end: why,
                students: PlainAndKd::new(student(0), student(1)),
                elapsed_ms: 900.0,
            })]
        );
    }

    #[wasm_bindgen_test]
    fn a_failed_check_cancels_the_other_runs_step() {
        let mut pair = RunPair::default();
        pair.hear(true, checked(CheckOutcome::Sound));
        assert_eq!(
            pair.hear(false, checked(CheckOutcome::Failed)),
            [settle(true, Verdict::Cancel)]
        );
        let failed = TrainingEvent::Failed {
            message: "the device failed".into(),
        };
        assert_eq!(
            pair.hear(false, failed),
            [PairAction::Show(PairEvent::Failed {
                message: "the device failed".into()
            })]
        );
        // After a failure neither worker is heard.
        assert_eq!(pair.hear(true, validated(0, true)), []);
        assert_eq!(pair.hear(false, validated(0, false)), []);
    }

    #[wasm_bindgen_test]
    fn a_step_checked_by_one_run_after_the_other_stopped_is_dropped_and_both_end() {
        // The run without KD stopped at the top of its loop; the run with KD had checked its
        // next step before the stop reached it, and waits for a verdict.
        let mut pair = RunPair::default();
        assert_eq!(pair.hear(true, checked(CheckOutcome::Sound)), []);
        assert_eq!(
            pair.hear(false, ended(TrainingEnd::Stopped, false, 500.0)),
            [settle(true, Verdict::Cancel)]
        );
        assert_eq!(
            pair.hear(true, ended(TrainingEnd::Stopped, true, 600.0)),
            [PairAction::Show(PairEvent::Ended {
                end: TrainingEnd::Stopped,
                students: PlainAndKd::new(student(0), student(1)),
                elapsed_ms: 600.0,
            })]
        );
        // The same with the check arriving after the other run's end.
        let mut pair = RunPair::default();
        assert_eq!(
            pair.hear(true, ended(TrainingEnd::Stopped, true, 600.0)),
            []
        );
        assert_eq!(
            pair.hear(false, checked(CheckOutcome::Sound)),
            [settle(false, Verdict::Cancel)]
        );
        // A diverged check ended its own run: no verdict waits for it.
        let mut pair = RunPair::default();
        pair.hear(false, ended(TrainingEnd::Stopped, false, 500.0));
        assert_eq!(
            pair.hear(true, checked(CheckOutcome::Diverged { kept: 2 })),
            []
        );
    }

    #[wasm_bindgen_test]
    fn a_run_that_diverged_and_ended_still_takes_the_other_back_to_its_steps() {
        // The run with KD diverged and ended before the other's check of the same step came:
        // that check is matched (undo), not dropped.
        let mut pair = RunPair::default();
        assert_eq!(
            pair.hear(true, checked(CheckOutcome::Diverged { kept: 4 })),
            []
        );
        let why = TrainingEnd::Diverged("loss NaN at step 6".into());
        assert_eq!(pair.hear(true, ended(why, true, 900.0)), []);
        assert_eq!(
            pair.hear(false, checked(CheckOutcome::Sound)),
            [settle(false, Verdict::Undo { kept: 4 })]
        );
    }

    #[wasm_bindgen_test]
    fn the_maps_the_run_without_kd_made_go_to_the_run_with_kd() {
        let mut pair = RunPair::default();
        let maps: KeyedMaps = vec![(
            "pack clip@01".into(),
            TeacherTarget {
                map: vec![1.0],
                logits: vec![0.0, 1.0],
            },
        )];
        let made = || TrainingEvent::MapsMade { maps: maps.clone() };
        assert_eq!(
            pair.hear(false, made()),
            [PairAction::HandMaps(maps.clone())]
        );
        // The run with KD makes none for the other; nothing is shown of them.
        assert_eq!(pair.hear(true, made()), []);
    }

    #[wasm_bindgen_test]
    fn the_run_starts_and_is_scored_once_both_workers_have_said_so() {
        let mut pair = RunPair::default();
        let started = |probe: Option<Probe>| TrainingEvent::Started {
            setup: RunSetup {
                device: Placement::Cpu {
                    reason: "asked".into(),
                },
                train_clips: 240,
                validation_clips: 48,
                cached_maps: probe.is_some(),
            },
            probe,
        };
        let probe = Probe {
            label: "yes".into(),
            duration_s: 2.0,
            window: Some((0.5, 1.0)),
            teacher: TimeMap {
                start_s: 0.0,
                frame_s: 0.02,
                values: vec![1.0],
            },
            target: "as it is".into(),
        };
        // The run without KD has neither the teacher's progress nor its probe to show.
        let preparing = |stage: &str| TrainingEvent::Preparing {
            stage: stage.into(),
            done: 1,
            total: 2,
        };
        assert_eq!(pair.hear(false, preparing("keyword pack")), []);
        assert_eq!(pair.hear(true, preparing("teacher maps")).len(), 1);
        assert_eq!(pair.hear(true, started(Some(probe.clone()))), []);
        let [PairAction::Show(PairEvent::Started { probe: shown, .. })] =
            &pair.hear(false, started(None))[..]
        else {
            panic!("the run did not start once both workers had");
        };
        assert_eq!(shown.as_ref(), Some(&probe));
        // Scorings are joined step by step, in order, whichever worker is ahead.
        assert_eq!(pair.hear(true, validated(0, true)), []);
        assert_eq!(pair.hear(true, validated(20, true)), []);
        let [
            PairAction::Show(PairEvent::Validated {
                scores, students, ..
            }),
        ] = &pair.hear(false, validated(0, false))[..]
        else {
            panic!("step 0 was not scored");
        };
        assert_eq!((scores.plain.step, scores.kd.step), (0, 0));
        assert_eq!((scores.plain.accuracy, scores.kd.accuracy), (0.5, 0.75));
        assert_eq!(*students, None);
        let [
            PairAction::Show(PairEvent::Validated {
                scores, students, ..
            }),
        ] = &pair.hear(false, validated(20, false))[..]
        else {
            panic!("step 20 was not scored");
        };
        assert_eq!(scores.kd.step, 20);
        assert_eq!(*students, Some(PlainAndKd::new(student(0), student(1))));
    }
}
