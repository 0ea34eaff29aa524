"""Voice ids as the generator writes them in a manifest's `voice` column."""

# Each synthesizer's name in a voice id, and as the reports write it.
NAMES = {"espeak-ng": "espeak-ng", "flite": "flite", "mbrola": "MBROLA", "rhvoice": "RHVoice",
         "pico": "Pico", "kokoro": "Kokoro", "gnuspeech": "GnuSpeech",
         "kokoro-english": "Kokoro English", "kokoro-accented": "Kokoro accented"}


def underlying(voice):
    """As `tempokd::data::underlying_voice`: espeak-ng's accent and variant, the recorded speaker
    behind a flite, MBROLA, RHVoice, Pico or Kokoro voice (a Kokoro blend is its first voice's;
    RHVoice's alan and slt are flite's awb and slt; Kokoro's pf_dora and pm_alex are ef_dora and
    em_alex), the GnuSpeech preset, or the id itself."""
    parts = voice.split(":")
    if len(parts) < 2:
        return voice
    same_speaker = {("flite", "kal16"): "flite:kal", ("rhvoice", "alan"): "flite:awb",
                    ("rhvoice", "slt"): "flite:slt",
                    ("kokoro-accented", "pf_dora"): "kokoro-accented:ef_dora",
                    ("kokoro-accented", "pm_alex"): "kokoro-accented:em_alex"}
    return same_speaker.get((parts[0], parts[1]), f"{parts[0]}:{parts[1]}")
