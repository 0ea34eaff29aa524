//! The microphone as a stream: an AudioWorklet (static/live-capture.js) on a 16 kHz audio
//! context hands the page chunks of mono samples as they are captured, at the models' rate, so
//! nothing is resampled on the page's thread.

use super::audio::{describe, open_microphone};
use js_sys::{Float32Array, Object, Reflect};
use tempokd::audio::MODEL_SAMPLE_RATE;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AudioContext, AudioContextOptions, AudioWorkletNode, AudioWorkletNodeOptions, MediaStream,
    MediaStreamTrack, MessageEvent,
};

/// Where Trunk puts the capture worklet (see index.html).
const WORKLET: &str = "./live-capture.js";
/// Samples per chunk: a tenth of a second.
pub const CHUNK_SAMPLES: u32 = MODEL_SAMPLE_RATE / 10;

/// The microphone, open and captured; closing releases it.
pub struct Microphone {
    stream: MediaStream,
    context: AudioContext,
    node: AudioWorkletNode,
    _on_chunk: Closure<dyn FnMut(MessageEvent)>,
}

impl Microphone {
    /// Asks for the microphone and starts capturing; every chunk goes to `on_chunk`.
    pub async fn open(on_chunk: impl FnMut(Vec<f32>) + 'static) -> Result<Self, String> {
        let stream = open_microphone(&raw_audio(), "Listening").await?;
        match capture(&stream, on_chunk).await {
            Ok((context, node, on_chunk)) => Ok(Self {
                stream,
                context,
                node,
                _on_chunk: on_chunk,
            }),
            Err(message) => {
                stop_tracks(&stream);
                Err(message)
            }
        }
    }

    /// Stops capturing until [`Microphone::resume`]; the microphone stays open. Done when the
    /// returned future is.
    pub fn pause(&self) -> Result<JsFuture, String> {
        let promise = self.context.suspend().map_err(|e| describe(&e))?;
        Ok(JsFuture::from(promise))
    }

    pub fn resume(&self) -> Result<JsFuture, String> {
        let promise = self.context.resume().map_err(|e| describe(&e))?;
        Ok(JsFuture::from(promise))
    }
}

impl Drop for Microphone {
    fn drop(&mut self) {
        self.node.port().map(|port| port.set_onmessage(None)).ok();
        // Closing only frees the context; a failure to close changes nothing for the visitor.
        let _ = self.context.close();
        stop_tracks(&self.stream);
    }
}

/// The microphone's own sound: echo cancellation, noise suppression and gain control change it
/// in ways the models never heard in training.
fn raw_audio() -> JsValue {
    let audio = Object::new();
    for key in ["echoCancellation", "noiseSuppression", "autoGainControl"] {
        // Setting a property on a fresh object cannot fail.
        let _ = Reflect::set(&audio, &key.into(), &JsValue::FALSE);
    }
    audio.into()
}

type Capture = (
    AudioContext,
    AudioWorkletNode,
    Closure<dyn FnMut(MessageEvent)>,
);

/// A 16 kHz context with the capture worklet fed by `stream`.
async fn capture(
    stream: &MediaStream,
    mut on_chunk: impl FnMut(Vec<f32>) + 'static,
) -> Result<Capture, String> {
    let unavailable = |e: JsValue| {
        format!(
            "This browser cannot capture the microphone at 16 kHz ({}). Record a clip instead.",
            describe(&e)
        )
    };
    let options = AudioContextOptions::new();
    options.set_sample_rate(MODEL_SAMPLE_RATE as f32);
    let context = AudioContext::new_with_context_options(&options).map_err(unavailable)?;
    let loaded = (context.audio_worklet())
        .and_then(|worklet| worklet.add_module(WORKLET))
        .map_err(unavailable)?;
    JsFuture::from(loaded).await.map_err(unavailable)?;
    let node_options = AudioWorkletNodeOptions::new();
    let processor_options = Object::new();
    let _ = Reflect::set(
        &processor_options,
        &"chunk".into(),
        &JsValue::from(CHUNK_SAMPLES),
    );
    node_options.set_processor_options(Some(&processor_options));
    let node = AudioWorkletNode::new_with_options(&context, "tempokd-capture", &node_options)
        .map_err(unavailable)?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if let Ok(chunk) = event.data().dyn_into::<Float32Array>() {
            on_chunk(chunk.to_vec());
        }
    });
    node.port()
        .map_err(unavailable)?
        .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    context
        .create_media_stream_source(stream)
        .and_then(|source| source.connect_with_audio_node(&node))
        .map_err(unavailable)?;
    // A node that leads nowhere is not pulled (Chromium stops calling it after its first
    // quantum); its output is silence, as the worklet writes none.
    node.connect_with_audio_node(&context.destination())
        .map_err(unavailable)?;
    Ok((context, node, on_message))
}

fn stop_tracks(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        track.unchecked_into::<MediaStreamTrack>().stop();
    }
}
