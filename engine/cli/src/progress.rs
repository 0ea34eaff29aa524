//! Progress bars with rate and time left for every long command.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use tempokd::train::run::Progress;

pub fn bar(total: usize, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:<14} [{bar:32}] {pos}/{len} {per_sec:>11} {elapsed_precise} left {eta_precise}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

/// Shows a training run: one bar per loading stage, then the steps with the latest loss and
/// validation score in the message.
#[derive(Default)]
pub struct TrainingBars {
    current: Option<(String, ProgressBar)>,
    validation: String,
}

impl TrainingBars {
    pub fn update(&mut self, progress: Progress<'_>) {
        match progress {
            Progress::Loading { done, total, what } => {
                let bar = self.bar_for(what, total);
                bar.set_position(done as u64);
            }
            Progress::Step { report, total } => {
                let bar = self.bar_for("steps", total);
                bar.set_position(report.step as u64);
                bar.set_message(format!(
                    "loss {:.3} acc {:.2}{}",
                    report.loss, report.accuracy, self.validation
                ));
            }
            Progress::Validated { step, evaluation } => {
                self.validation = format!(
                    " | val acc {:.3}{}",
                    evaluation.accuracy,
                    evaluation
                        .attention_in_window
                        .map_or(String::new(), |m| format!(" loc {m:.2}"))
                );
                // Bars are hidden when stderr is a log file; a line per validation keeps a
                // long run's log readable while it runs.
                if !std::io::stderr().is_terminal() {
                    let elapsed = self
                        .current
                        .as_ref()
                        .map_or(0, |(_, bar)| bar.elapsed().as_secs());
                    eprintln!("step {step}{} ({elapsed} s)", self.validation);
                }
            }
        }
    }

    fn bar_for(&mut self, what: &str, total: usize) -> ProgressBar {
        match &self.current {
            Some((name, bar)) if name == what => bar.clone(),
            _ => {
                self.finish();
                let fresh = bar(total, what);
                self.current = Some((what.to_string(), fresh.clone()));
                fresh
            }
        }
    }

    pub fn finish(&mut self) {
        if let Some((_, bar)) = self.current.take() {
            bar.finish();
        }
    }
}
