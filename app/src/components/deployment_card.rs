use crate::state::deployment::Measured;
use crate::state::models::Models;
use crate::state::training_run::Training;
use crate::worker::{BrowserProfile, DeploymentCost, Precision};
use leptos::prelude::*;
use tempokd::export::card::{CardStudent, DeploymentCard, LengthScore, millions};

/// The deployment card: what each shipped student costs on a device and keeps at int8, as
/// `tempokd deploy-card` measured it, beside what this browser measures when the visitor asks,
/// for the students trained here too.
#[component]
pub fn DeploymentCardView(models: Models, training: Training) -> impl IntoView {
    let deployment = models.deployment;
    let measure = move |_| {
        let mut students: Vec<_> = deployment.card.with_untracked(|card| {
            let shipped = card.as_ref().and_then(|card| card.as_ref().ok());
            shipped
                .map(|card| {
                    (card.students.iter())
                        .filter_map(|s| Some((s.model.clone(), models.source(&s.model)?, false)))
                        .collect()
                })
                .unwrap_or_default()
        });
        for kd in [false, true] {
            if let Some((source, _)) = training.trained_source(kd) {
                students.push((source.name.clone(), source, true));
            }
        }
        deployment.measure(models, students);
    };
    let intro = move || {
        deployment.card.with(|card| match card {
            None => "Reading the deployment card…".to_string(),
            Some(Err(why)) => why.clone(),
            Some(Ok(card)) => intro_text(card),
        })
    };
    let progress = move || {
        deployment.progress().map(|(done, total)| {
            view! {
                <p class="status" role="status" id="deployment-progress">
                    <progress max=total value=done></progress>
                    {format!(" Measured {done} of {total} students in this browser…")}
                </p>
            }
        })
    };
    // The shipped students with what this browser measured of each, then the students trained
    // here that were measured.
    let students = move || {
        let measured = deployment.measured.get();
        let (shipped, lengths) = deployment.card.with(|card| match card {
            Some(Ok(card)) => (card.students.clone(), card.lengths_s.clone()),
            _ => (Vec::new(), Vec::new()),
        });
        let mut rows: Vec<Row> = (shipped.into_iter())
            .map(|student| {
                let measured = measured.iter().find(|m| m.model == student.model).cloned();
                Row::Shipped(Box::new(student), measured)
            })
            .collect();
        rows.extend(
            (measured.into_iter())
                .filter(|m| m.trained_here)
                .map(Row::TrainedHere),
        );
        (rows, lengths)
    };
    view! {
        <section class="deployment" aria-labelledby="deployment-title">
            <h2 id="deployment-title">"On a device"</h2>
            <p class="hint">{intro}</p>
            <div class="table-scroll">
                <table class="results deployment-table" id="deployment-table">
                    <caption>"What each student costs, and keeps with int8 weights"</caption>
                    <thead><tr>
                        <th scope="col">"student"</th>
                        <th scope="col">"params (paper)"</th>
                        <th scope="col">"multiply-adds per s"</th>
                        <th scope="col">"ONNX fp32 · fp16 · int8"</th>
                        {move || students().1.into_iter().map(|length| view! {
                            <th scope="col">{format!("L = {length} s accuracy (int8 change)")}</th>
                        }).collect_view()}
                    </tr></thead>
                    <tbody>{move || {
                        let (rows, lengths) = students();
                        rows.into_iter().map(|row| row.cost_row(lengths.len())).collect_view()
                    }}</tbody>
                </table>
            </div>
            <button type="button" id="deployment-measure"
                disabled=move || deployment.progress().is_some()
                    || !deployment.card.with(|card| matches!(card, Some(Ok(_))))
                on:click=measure>
                "Time them in this browser"
            </button>
            {progress}
            <div class="table-scroll">
                <table class="results deployment-table" id="deployment-times">
                    <caption>"How long each takes to classify 1 s of audio"</caption>
                    <thead><tr>
                        <th scope="col">"student"</th>
                        <th scope="col">"the card's CPU"</th>
                        <th scope="col">"peak heap there"</th>
                        <th scope="col">"this browser's CPU"</th>
                        <th scope="col">"this browser's WebGPU"</th>
                    </tr></thead>
                    <tbody>{move || {
                        students().0.into_iter().map(Row::time_row).collect_view()
                    }}</tbody>
                </table>
            </div>
        </section>
    }
}

/// A row of both tables: a shipped student from the card, or one trained in this page.
enum Row {
    Shipped(Box<CardStudent>, Option<Measured>),
    TrainedHere(Measured),
}

impl Row {
    fn model(&self) -> String {
        match self {
            Row::Shipped(student, _) => student.model.clone(),
            Row::TrainedHere(measured) => measured.model.clone(),
        }
    }

    fn title(&self) -> String {
        match self {
            Row::Shipped(student, _) => student.title.clone(),
            Row::TrainedHere(measured) => measured.model.clone(),
        }
    }

    fn measured(&self) -> Option<&Measured> {
        match self {
            Row::Shipped(_, measured) => measured.as_ref(),
            Row::TrainedHere(measured) => Some(measured),
        }
    }

    /// Parameters, multiply-adds, ONNX sizes and, for a shipped student, test accuracy.
    fn cost_row(self, lengths: usize) -> AnyView {
        let (model, title) = (self.model(), self.title());
        let trained_here = matches!(self, Row::TrainedHere(_));
        let (cost, paper, scores) = match &self {
            Row::Shipped(student, _) => (
                Some(student.cost.clone()),
                Some(student.paper_params.clone().unwrap_or("–".into())),
                Some(accuracies(student)),
            ),
            Row::TrainedHere(measured) => match &measured.profile {
                Some(Ok(profile)) => (Some(profile.cost.clone()), None, None),
                _ => (None, None, None),
            },
        };
        let cell = |text: Option<String>| text.unwrap_or_else(|| "…".to_string());
        let params = cost.as_ref().map(|c| match &paper {
            Some(paper) => format!("{} ({paper})", c.params),
            None => c.params.to_string(),
        });
        let scores = match scores {
            Some(scores) => scores
                .into_iter()
                .map(|text| view! { <td class="accuracy">{text}</td> })
                .collect_view()
                .into_any(),
            None => view! {
                <td class="accuracy" colspan=lengths.max(1)>
                    "not scored on the test split; its validation score is above"
                </td>
            }
            .into_any(),
        };
        view! {
            <tr data-model=model class:trained-here=trained_here>
                <th scope="row">{title}</th>
                <td class="params">{cell(params)}</td>
                <td class="multiply-adds">
                    {cell(cost.as_ref().map(|c| millions(c.multiply_adds_per_second)))}
                </td>
                <td class="onnx">{cell(cost.as_ref().map(onnx_sizes))}</td>
                {scores}
            </tr>
        }
        .into_any()
    }

    /// The card's time and heap for a shipped student, and this browser's times.
    fn time_row(self) -> AnyView {
        let (model, title) = (self.model(), self.title());
        let measured = self.measured().cloned();
        let waiting = measured.as_ref().is_some_and(|m| m.profile.is_none());
        let (native, peak, trained_here) = match &self {
            Row::Shipped(student, _) => (
                format!("{:.2} ms", student.native_ms),
                format!("{:.1} MB", student.peak_memory_bytes as f64 / 1e6),
                false,
            ),
            Row::TrainedHere(_) => ("–".to_string(), "–".to_string(), true),
        };
        view! {
            <tr data-model=model class:trained-here=trained_here class:waiting=waiting>
                <th scope="row">{title}</th>
                <td class="native">{native}</td>
                <td class="peak">{peak}</td>
                {browser_cells(measured)}
            </tr>
        }
        .into_any()
    }
}

/// A shipped student's fp32 test accuracy at each length, with the points int8 changes.
fn accuracies(student: &CardStudent) -> Vec<String> {
    let Some(fp32) = student.at(Precision::F32) else {
        return Vec::new();
    };
    (fp32.scores.iter().enumerate())
        .map(|(index, score)| {
            let int8 = (student.at(Precision::Int8)).and_then(|at| at.scores.get(index));
            accuracy(score, int8)
        })
        .collect()
}

fn intro_text(card: &DeploymentCard) -> String {
    let n = (card.students.first())
        .and_then(|s| s.precisions.first())
        .and_then(|p| p.scores.first())
        .map_or(0, |s| s.n);
    format!(
        "What each shipped student costs on a device, as tempokd deploy-card measured it on {} \
         (the time to classify 1 s of audio, features included; the heap at its peak, weights \
         included), and its accuracy on the test split (voices no model trained on, n = {n} \
         clips per length, Wilson 95 % interval) with the points int8 weights change. Each \
         student exports as ONNX from its row above. “Time them in this browser” measures the \
         same second here, on the CPU and, where the models run on WebGPU, there too, for the \
         students you trained below as well.",
        card.machine
    )
}

fn kilobytes(bytes: usize) -> String {
    format!("{:.0}", bytes as f64 / 1000.0)
}

fn onnx_sizes(cost: &DeploymentCost) -> String {
    let sizes: Vec<String> = (Precision::ALL.iter())
        .map(|&p| cost.onnx_bytes(p).map_or("–".into(), kilobytes))
        .collect();
    format!("{} kB", sizes.join(" · "))
}

fn accuracy(fp32: &LengthScore, int8: Option<&LengthScore>) -> String {
    let change = int8.map(LengthScore::change_text).unwrap_or_default();
    format!("{}{change}", fp32.accuracy_text())
}

/// The browser's two time cells: blank before measuring, "measuring…" while waiting, the
/// times, or why they are missing.
fn browser_cells(measured: Option<Measured>) -> impl IntoView {
    let (cpu, webgpu) = match measured.and_then(|m| m.profile) {
        None => (String::new(), String::new()),
        Some(Ok(BrowserProfile {
            cpu_ms, webgpu_ms, ..
        })) => (
            format!("{cpu_ms:.2} ms"),
            match webgpu_ms {
                None => "not used: the models run on the CPU".to_string(),
                Some(Ok(ms)) => format!("{ms:.2} ms"),
                Some(Err(why)) => format!("failed: {why}"),
            },
        ),
        Some(Err(why)) => (format!("failed: {why}"), String::new()),
    };
    view! {
        <td class="browser-cpu">{cpu}</td>
        <td class="browser-webgpu">{webgpu}</td>
    }
}
