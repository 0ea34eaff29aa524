"""How the experiment scripts' summaries read a training run: its training.json when it finished,
or the state a stopped run saved (its `step` says how far it got).

Imported by the scripts in the folders below this one (each puts this folder on its path).
"""

import json


def record_of(model):
    """A finished run's training.json, or a stopped run's saved state, or None."""
    for path in (model / "training.json", model / "resume" / "state.json"):
        if path.is_file():
            return json.loads(path.read_text())
    return None


def validations(record):
    """The run's scorings as written: a stopped run's state keeps each with its step."""
    return [v[1] if isinstance(v, list) else v for v in record["validations"]]
