//! The deployment card in the page: the shipped students' card (`models/deployment.json`,
//! written by `tempokd deploy-card`) and what this browser measures of each student, those the
//! visitor trained here included.

use super::models::Models;
use crate::browser::json::fetch_json;
use crate::worker::{BrowserProfile, ModelSource, Request};
use leptos::prelude::*;
use tempokd::export::card::DeploymentCard;

const CARD: &str = "models/deployment.json";

/// One student measured (or being measured) in this browser.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub model: String,
    /// Trained in this page: not on the card, and scored on no test split.
    pub trained_here: bool,
    /// `None` until the worker answers.
    pub profile: Option<Result<BrowserProfile, String>>,
}

#[derive(Clone, Copy)]
pub struct Deployment {
    /// The shipped card, or why it could not be read; `None` until it has been fetched.
    pub card: RwSignal<Option<Result<DeploymentCard, String>>>,
    /// The students asked for last, in their order.
    pub measured: RwSignal<Vec<Measured>>,
}

impl Deployment {
    pub fn new() -> Self {
        Self {
            card: RwSignal::new(None),
            measured: RwSignal::new(Vec::new()),
        }
    }

    /// Fetches the shipped card.
    pub async fn fetch(self) {
        self.card
            .set(Some(fetch_json(CARD, "The deployment card").await));
    }

    /// Asks the worker to measure each of `students` (name, source, trained here), one after
    /// the other in its queue.
    pub fn measure(self, models: Models, students: Vec<(String, ModelSource, bool)>) {
        self.measured.set(
            (students.iter())
                .map(|(model, _, trained_here)| Measured {
                    model: model.clone(),
                    trained_here: *trained_here,
                    profile: None,
                })
                .collect(),
        );
        for (_, source, _) in students {
            models.send(Request::Profile { source });
        }
    }

    /// Takes in the worker's answer about `model`.
    pub fn apply(self, model: String, profile: Result<BrowserProfile, String>) {
        self.measured.update(|measured| {
            if let Some(entry) = measured
                .iter_mut()
                .find(|m| m.model == model && m.profile.is_none())
            {
                entry.profile = Some(profile);
            }
        });
    }

    /// How many of the students asked for have been measured, of how many; `None` when none
    /// is waiting.
    pub fn progress(self) -> Option<(usize, usize)> {
        self.measured.with(|measured| {
            let done = measured.iter().filter(|m| m.profile.is_some()).count();
            (done < measured.len()).then_some((done, measured.len()))
        })
    }

    /// A new worker will not answer the old one's requests.
    pub fn abandon(self) {
        self.measured.update(|measured| {
            for entry in measured.iter_mut().filter(|m| m.profile.is_none()) {
                entry.profile = Some(Err(
                    "the model worker was started again before it was measured; measure again"
                        .into(),
                ));
            }
        });
    }
}

impl Default for Deployment {
    fn default() -> Self {
        Self::new()
    }
}
