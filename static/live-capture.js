// The live view's capture: runs on the audio thread, mixes the microphone to mono at the
// context's rate (16 kHz, set by the page) and posts it to the page in chunks of
// `processorOptions.chunk` samples, so the page's thread wakes ten times a second, not 125.
class TempoKdCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    // Kept apart: posting a chunk hands its buffer over, which leaves its length 0.
    this.size = options.processorOptions.chunk;
    this.chunk = new Float32Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const frames = channels[0].length;
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (const channel of channels) sum += channel[i];
      this.chunk[this.filled++] = sum / channels.length;
      if (this.filled === this.size) {
        this.port.postMessage(this.chunk, [this.chunk.buffer]);
        this.chunk = new Float32Array(this.size);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("tempokd-capture", TempoKdCapture);
