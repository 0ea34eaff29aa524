"""How the experiment scripts' summaries write a score `tempokd eval --json` or a training record
gave: accuracy with its Wilson 95 % interval, localisation with its bootstrap 95 % interval.

Imported by the scripts in the folders below this one (each puts this folder on its path).
"""


def percent(value):
    """`81.2 %`: a share without its interval."""
    return f"{100 * value:.1f} %"


def accuracy(evaluation):
    """`81.2 % (78.6–83.4)`."""
    low, high = (evaluation["accuracy_interval"][k] for k in ("low", "high"))
    return f"{100 * evaluation['accuracy']:.1f} % ({100 * low:.1f}–{100 * high:.1f})"


def localisation(evaluation, places=2):
    """`0.67 (0.66–0.68)`, or `–` for a score without keyword windows."""
    mean = evaluation.get("attention_in_window")
    interval = evaluation.get("attention_in_window_interval")
    if mean is None or interval is None:
        return "–"
    return f"{mean:.{places}f} ({interval['low']:.{places}f}–{interval['high']:.{places}f})"
