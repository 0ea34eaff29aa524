//! The worker's side of calibration: the keyword pack's held-out words (and the visitor's own
//! recordings) laid out by the engine into a keyword stream and a stream without keywords (or the
//! visitor's recording of their surroundings in its place); each model reads both through the
//! engine's live path, every window however long it takes, and the engine scores what it
//! detects at every threshold. Only the measurements go back to the page.

use super::listening::PendingModel;
use super::protocol::{
    CalibrateRequest, CalibrationEvent, CalibrationProgress, LiveModel, Response,
};
use super::trainer::fetch_pack;
use super::yielding::yield_to_messages;
use std::cell::Cell;
use std::rc::Rc;
use tempokd::audio::MODEL_SAMPLE_RATE;
use tempokd::data::Split;
use tempokd::data::keywords::SILENCE;
use tempokd::data::mix::trim_to_speech;
use tempokd::data::stream_mix::{MAX_BACKGROUND_S, SpokenWord, calibration_streams};
use tempokd::stream::calibrate::{ModelCalibration, ReadStream};
use tempokd::stream::{ModelListening, StreamTruth, TRUTH_VERSION};

/// Samples handed to a model at a time, as the microphone delivers them.
const CHUNK: usize = 1600;

/// Milliseconds of reading between two yields to the worker's messages (a stop, a clip).
const SLICE_MS: f64 = 40.0;

/// The longest a visitor's keyword recording may be: a word, not a sentence.
const MAX_WORD_S: f32 = 2.0;

/// Runs calibration `request.run` while `wanted` names it.
pub async fn calibrate(
    request: CalibrateRequest,
    models: Vec<(LiveModel, PendingModel)>,
    wanted: Rc<Cell<Option<u64>>>,
    reply: impl Fn(Response),
) {
    let run = request.run;
    let tell = |event| reply(Response::Calibration { run, event });
    match measure(&request, models, &wanted, &tell).await {
        Ok(true) => tell(CalibrationEvent::Done),
        Ok(false) => {}
        Err(message) => tell(CalibrationEvent::Failed { message }),
    }
    if wanted.get() == Some(run) {
        wanted.set(None);
    }
}

/// Every model's measurements, told as each is done; `false` when the run was stopped.
async fn measure(
    request: &CalibrateRequest,
    models: Vec<(LiveModel, PendingModel)>,
    wanted: &Cell<Option<u64>>,
    tell: &impl Fn(CalibrationEvent),
) -> Result<bool, String> {
    request.settings.check().map_err(|e| e.to_string())?;
    request.measured_at.check().map_err(|e| e.to_string())?;
    let preparing = |_: &str, done, total| tell(CalibrationEvent::Preparing { done, total });
    let pack = fetch_pack(&request.pack, &preparing).await?;
    let mut words = pack.spoken(&[Split::Validation, Split::Test]);
    // Recordings of silence have no word to place.
    for recording in (request.recordings.iter()).filter(|r| r.label != SILENCE) {
        words.push(own_word(&recording.label, &recording.samples)?);
    }
    let [keywords, generated] =
        calibration_streams(&words, &request.streams).map_err(|e| e.to_string())?;
    let background = match &request.background {
        Some(samples) => recorded_background(samples)?,
        None => generated,
    };
    tell(CalibrationEvent::Streams {
        keywords: keywords.1.keywords().count(),
        keyword_stream_s: keywords.1.duration_s,
        background_s: background.1.duration_s,
        other_words: background.1.words.len(),
    });
    let streams = [keywords, background];
    let total_s: f64 = streams.iter().map(|(_, truth)| truth.duration_s).sum();
    let count = models.len();
    for (index, (live_model, pending)) in models.into_iter().enumerate() {
        let Some(model) = pending.await else {
            tell(CalibrationEvent::LeftOut {
                model: live_model.name,
            });
            continue;
        };
        let mut readings = Vec::with_capacity(streams.len());
        let mut before_s = 0.0;
        for (samples, truth) in &streams {
            let mut listening = ModelListening::new(&model, &request.settings, live_model.cadence)
                .map_err(|e| e.to_string())?;
            let mut slice_started = js_sys::Date::now();
            for chunk in samples.chunks(CHUNK) {
                listening
                    .hear(chunk)
                    .await
                    .map_err(|e| format!("{} could not read the stream: {e}", live_model.name))?;
                if js_sys::Date::now() - slice_started > SLICE_MS {
                    tell(CalibrationEvent::Reading(CalibrationProgress {
                        model: live_model.name.clone(),
                        index,
                        models: count,
                        heard_s: before_s + listening.heard_s(),
                        total_s,
                    }));
                    // Lets a stop, or a clip to analyse, in.
                    yield_to_messages().await;
                    if wanted.get() != Some(request.run) {
                        return Ok(false);
                    }
                    slice_started = js_sys::Date::now();
                }
            }
            before_s += truth.duration_s;
            readings.push(listening.finish().readings);
        }
        let read: Vec<ReadStream<'_>> = (readings.iter().zip(&streams))
            .map(|(readings, (_, truth))| ReadStream { readings, truth })
            .collect();
        let detector = live_model
            .cadence
            .detector_settings(&request.settings.detector);
        let calibration = ModelCalibration::measure(
            &live_model.name,
            live_model.cadence,
            model.labels(),
            &read,
            &detector,
            &request.measured_at,
        )
        .map_err(|e| e.to_string())?;
        tell(CalibrationEvent::Calibrated(Box::new(calibration)));
    }
    Ok(true)
}

/// The spoken part of a visitor's recording of a keyword.
fn own_word(label: &str, samples: &[f32]) -> Result<SpokenWord, String> {
    let word = trim_to_speech(samples);
    let seconds = word.len() as f32 / MODEL_SAMPLE_RATE as f32;
    if word.is_empty() || seconds > MAX_WORD_S {
        return Err(format!(
            "Your recording of “{label}” holds no word of {MAX_WORD_S} s or less once its \
             silence is cut; record it again or remove it."
        ));
    }
    Ok(SpokenWord {
        word: label.to_string(),
        label: label.to_string(),
        voice: "the visitor's own recording".into(),
        snr_db: 0.0,
        samples: word.to_vec(),
    })
}

/// The visitor's recording of their surroundings as a stream where nobody says a keyword.
fn recorded_background(samples: &[f32]) -> Result<(Vec<f32>, StreamTruth), String> {
    let seconds = samples.len() as f32 / MODEL_SAMPLE_RATE as f32;
    if !(10.0..=MAX_BACKGROUND_S).contains(&seconds) {
        return Err(format!(
            "The recording of your surroundings lasts {seconds:.0} s; calibration takes 10 to \
             {MAX_BACKGROUND_S:.0} s of it."
        ));
    }
    if samples.iter().any(|s| !s.is_finite()) {
        return Err(
            "The recording of your surroundings is corrupt (not numbers); record it \
                    again."
                .into(),
        );
    }
    let truth = StreamTruth {
        version: TRUTH_VERSION,
        duration_s: seconds as f64,
        words: Vec::new(),
        made_by: "the visitor's recording of their surroundings, taken to hold no keyword".into(),
    };
    Ok((samples.to_vec(), truth))
}
