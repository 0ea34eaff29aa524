//! The browser's audio: decoding through WebAudio and recording through `getUserMedia`.
//! Everything here returns messages a visitor can act on; nothing leaves the browser.

use js_sys::{Array, Promise, Uint8Array};
use tempokd::audio::{AudioError, Decoded, Limits, MAX_CHANNELS, MAX_FILE_BYTES, wav_sample_rate};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AnalyserNode, AudioBuffer, AudioContext, Blob, BlobEvent, DomException, MediaRecorder,
    MediaStream, MediaStreamConstraints, MediaStreamTrack, OfflineAudioContext,
};

/// WebAudio decodes to its context's rate: files other than WAV are decoded at this rate, and
/// the engine then resamples everything to 16 kHz.
const DECODE_RATE: f32 = 48_000.0;
/// Rates every browser accepts for an OfflineAudioContext (the spec requires 8 to 96 kHz).
const MIN_CONTEXT_RATE: u32 = 8_000;
const MAX_CONTEXT_RATE: u32 = 96_000;

/// Refuses a file of `bytes` over [`MAX_FILE_BYTES`]: from a picked or dropped file's size
/// before it is read (reading gigabytes into the page's memory would end its wasm instance),
/// and again on the bytes themselves.
pub fn check_file_size(bytes: u64) -> Result<(), String> {
    if bytes > MAX_FILE_BYTES {
        return Err(format!(
            "The file is {} MB; files up to {} MB are accepted. Trim it and try again.",
            bytes / 1_000_000,
            MAX_FILE_BYTES / 1_000_000
        ));
    }
    Ok(())
}

/// Decodes any format the browser knows (WAV, FLAC, OGG, MP3, WebM/Opus, AAC …), refusing
/// audio longer than `limits` allows before its samples are copied into the page.
pub async fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, String> {
    if bytes.is_empty() {
        return Err("The file is empty.".into());
    }
    check_file_size(bytes.len() as u64)?;
    // decodeAudioData resamples to the context's rate. A WAV decoded at its own rate keeps its
    // exact samples, so the page hears what `tempokd inspect` hears in the same file.
    let rate = wav_sample_rate(bytes)
        .filter(|rate| (MIN_CONTEXT_RATE..=MAX_CONTEXT_RATE).contains(rate))
        .map_or(DECODE_RATE, |rate| rate as f32);
    let context =
        OfflineAudioContext::new_with_number_of_channels_and_length_and_sample_rate(1, 1, rate)
            .map_err(|e| {
                format!(
                    "WebAudio is not available in this browser ({})",
                    describe(&e)
                )
            })?;
    // decodeAudioData detaches the buffer it is given, so it gets a copy.
    let buffer = Uint8Array::from(bytes).buffer();
    let promise = context
        .decode_audio_data(&buffer)
        .map_err(|e| not_audio(&e))?;
    let decoded: AudioBuffer = JsFuture::from(promise)
        .await
        .map_err(|e| not_audio(&e))?
        .dyn_into()
        .map_err(|_| "The browser returned something other than audio.".to_string())?;
    // Checked before a channel is copied into the page's memory: an hour of 5.1 in a file under
    // the size limit decodes to gigabytes of samples, more than the page's wasm can hold.
    let sample_rate = decoded.sample_rate().round() as u32;
    let channel_count = decoded.number_of_channels() as usize;
    if channel_count == 0 || channel_count > MAX_CHANNELS {
        return Err(capitalise(&AudioError::Channels(channel_count).to_string()));
    }
    limits
        .check_length(decoded.length() as usize, sample_rate)
        .map_err(|e| capitalise(&e.to_string()))?;
    let channels = (0..decoded.number_of_channels())
        .map(|c| decoded.get_channel_data(c).map_err(|e| not_audio(&e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Decoded {
        sample_rate,
        channels,
    })
}

/// Engine messages are sentence fragments; the page shows sentences.
pub fn capitalise(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

fn not_audio(error: &JsValue) -> String {
    format!(
        "The browser could not decode this file as audio ({}). Use WAV, FLAC, OGG/Vorbis or MP3.",
        describe(error)
    )
}

/// The name and message of a DOM exception or JS error.
pub fn describe(error: &JsValue) -> String {
    if let Some(e) = error.dyn_ref::<DomException>() {
        format!("{}: {}", e.name(), e.message())
    } else if let Some(e) = error.dyn_ref::<js_sys::Error>() {
        String::from(e.message())
    } else {
        error.as_string().unwrap_or_else(|| format!("{error:?}"))
    }
}

/// A microphone recording in progress, with a level meter.
pub struct Recording {
    stream: MediaStream,
    recorder: MediaRecorder,
    chunks: std::rc::Rc<std::cell::RefCell<Vec<Blob>>>,
    meter: AnalyserNode,
    meter_context: AudioContext,
    _on_data: Closure<dyn FnMut(BlobEvent)>,
}

impl Recording {
    /// Asks for the microphone and starts recording.
    pub async fn start() -> Result<Self, String> {
        let stream = open_microphone(&JsValue::TRUE, "Recording").await?;

        let chunks = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = chunks.clone();
        let on_data = Closure::<dyn FnMut(BlobEvent)>::new(move |event: BlobEvent| {
            if let Some(blob) = event.data() {
                sink.borrow_mut().push(blob);
            }
        });
        let recorder = MediaRecorder::new_with_media_stream(&stream)
            .map_err(|e| format!("This browser cannot record audio ({}).", describe(&e)))?;
        recorder.set_ondataavailable(Some(on_data.as_ref().unchecked_ref()));
        recorder
            .start()
            .map_err(|e| format!("Recording could not start ({}).", describe(&e)))?;

        let meter_context = AudioContext::new()
            .map_err(|e| format!("WebAudio is not available ({}).", describe(&e)))?;
        let meter = meter_context
            .create_analyser()
            .map_err(|e| format!("WebAudio is not available ({}).", describe(&e)))?;
        meter_context
            .create_media_stream_source(&stream)
            .and_then(|source| source.connect_with_audio_node(&meter))
            .map_err(|e| format!("The level meter could not start ({}).", describe(&e)))?;
        Ok(Self {
            stream,
            recorder,
            chunks,
            meter,
            meter_context,
            _on_data: on_data,
        })
    }

    /// The input level now, in dBFS (RMS over the analyser's window).
    pub fn level_dbfs(&self) -> f32 {
        let mut buffer = vec![0.0f32; self.meter.fft_size() as usize];
        self.meter.get_float_time_domain_data(&mut buffer);
        let mean_sq = buffer.iter().map(|s| s * s).sum::<f32>() / buffer.len().max(1) as f32;
        10.0 * mean_sq.max(1e-10).log10()
    }

    /// Stops recording, releases the microphone and returns the encoded recording.
    pub async fn stop(self) -> Result<Vec<u8>, String> {
        let recorder = self.recorder.clone();
        let stopped = Promise::new(&mut |resolve, _reject| {
            recorder.set_onstop(Some(&resolve));
        });
        let stop_result = self.recorder.stop();
        for track in self.stream.get_tracks().iter() {
            track.unchecked_into::<MediaStreamTrack>().stop();
        }
        // Closing only frees the meter's resources; a failure to close changes nothing here.
        let _ = self.meter_context.close();
        stop_result.map_err(|e| format!("Recording could not stop ({}).", describe(&e)))?;
        JsFuture::from(stopped)
            .await
            .map_err(|e| format!("Recording failed ({}).", describe(&e)))?;
        let parts: Array = self.chunks.borrow().iter().collect();
        let blob = Blob::new_with_blob_sequence(&parts)
            .map_err(|e| format!("The recording could not be assembled ({}).", describe(&e)))?;
        let bytes = JsFuture::from(blob.array_buffer())
            .await
            .map_err(|e| format!("The recording could not be read ({}).", describe(&e)))?;
        Ok(Uint8Array::new(&bytes).to_vec())
    }
}

/// The microphone, asked for with `audio` as its constraints (`true`, or an object of settings);
/// `purpose` ("Recording", "Listening") starts the message when the page is not secure.
pub async fn open_microphone(audio: &JsValue, purpose: &str) -> Result<MediaStream, String> {
    let window = web_sys::window().ok_or("This page has no window.")?;
    let media = window.navigator().media_devices().map_err(|_| {
        format!("{purpose} needs a secure page (https or localhost). Upload a file instead.")
    })?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(audio);
    let promise = media
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| microphone_error(&e))?;
    Ok(JsFuture::from(promise)
        .await
        .map_err(|e| microphone_error(&e))?
        .unchecked_into())
}

/// What to tell the visitor when the microphone could not be opened.
fn microphone_error(error: &JsValue) -> String {
    let name = error
        .dyn_ref::<DomException>()
        .map(DomException::name)
        .unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "SecurityError" => {
            "Microphone access was denied. Allow it in the browser's site settings, or upload a file instead.".into()
        }
        "NotFoundError" | "OverconstrainedError" => {
            "No microphone was found. Connect one, or upload a file instead.".into()
        }
        "NotReadableError" | "AbortError" => {
            "The microphone is busy or failed. Close other apps using it, or upload a file instead.".into()
        }
        _ => format!("The microphone could not be opened ({}).", describe(error)),
    }
}
