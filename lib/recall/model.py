"""The recall classifier: fastText supervised training, scoring, and held-out evaluation.

Training runs in one process on the driver (MAmmoTH2 trained on ~100K positives and
~100K negatives: seconds to minutes for fastText). With `threads = 1` and a fixed seed
the model file is byte-identical across reruns, so its content hash is a stable model id.
Scoring loads a model file once per process (`load_scorer` caches it) and predicts lists
of prepared texts in one C++ call.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import sys
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import fasttext
import numpy as np

from webinstruct.lib.recall.text import LABEL_NEGATIVE, LABEL_POSITIVE, training_line


@dataclass(frozen=True)
class FastTextParams:
    """Defaults live in config (RecallSection); only the loss is fixed here."""

    dim: int
    epoch: int
    lr: float
    word_ngrams: int
    bucket: int
    min_count: int
    threads: int
    seed: int
    loss: str = "softmax"

    def as_dict(self) -> dict:
        return asdict(self)


_CHILD = """
import json, sys
import fasttext
a = json.loads(sys.argv[1])
model = fasttext.train_supervised(input=a["input"], dim=a["dim"], epoch=a["epoch"], lr=a["lr"], wordNgrams=a["word_ngrams"],
    bucket=a["bucket"], minCount=a["min_count"], loss=a["loss"], thread=a["threads"], seed=a["seed"], verbose=0)
model.save_model(a["output"])
"""


def train(positives: list[str], negatives: list[str], params: FastTextParams, workdir: Path, shuffle_seed: int = 0) -> Path:
    """Write the labelled lines (prepared texts), train, save; returns the model file.

    Training runs in a fresh Python process. fasttext-numpy2 0.10.4 reads memory it never
    initialised: the first model trained in a process is deterministic, later ones in the
    same process can differ or abort with "Encountered NaN" (seen on the real seed sets).
    A fresh process gives the same file for the same lines and settings every time; a NaN
    there is a real divergence of those settings and is reported."""
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [training_line(t, True) for t in positives] + [training_line(t, False) for t in negatives]
    random.Random(shuffle_seed).shuffle(lines)  # fastText reads in file order; classes interleaved
    data = workdir / "train.txt"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = workdir / "model.bin"
    args = json.dumps({**params.as_dict(), "input": str(data), "output": str(out)})
    done = subprocess.run([sys.executable, "-c", _CHILD, args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["no output"])[-1])
    data.unlink()
    return out


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Scorer:
    """P(positive) for prepared texts."""

    def __init__(self, path: str):
        self.model = fasttext.load_model(path)
        labels = self.model.get_labels()
        if set(labels) != {LABEL_POSITIVE, LABEL_NEGATIVE}:
            raise ValueError(f"{path}: not a recall model (labels {labels})")

    def scores(self, prepared: list[str]) -> np.ndarray:
        if not prepared:
            return np.zeros(0)
        labels, probs = self.model.predict(prepared, k=2, threshold=0.0)
        out = np.empty(len(prepared))
        for i, (lab, p) in enumerate(zip(labels, probs)):
            # softmax over two labels: P(pos) directly, or 1 - P(neg) if pos was pruned
            out[i] = p[0] if lab[0] == LABEL_POSITIVE else (p[1] if len(p) > 1 else 1.0 - p[0])
        return np.clip(out, 0.0, 1.0)


@functools.lru_cache(maxsize=2)
def load_scorer(path: str) -> Scorer:
    """One load per process and model file: Spark reuses Python workers across tasks."""
    return Scorer(path)


def holdout(key: str, fraction: float, seed: int) -> bool:
    """Deterministic split by a record's key: the same record is always on the same side."""
    digest = hashlib.blake2b(f"{seed}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks averaged); nan for one class."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(labels, scores, threshold: float) -> dict:
    """Precision, recall, F1, accuracy and AUC at `threshold`, and the majority-class
    baseline's accuracy and F1 (what a classifier must clearly beat)."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    pred = scores >= threshold
    tp = int((pred & labels).sum())
    fp = int((pred & ~labels).sum())
    fn = int((~pred & labels).sum())
    n = len(labels)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    pos = int(labels.sum())
    majority_positive = pos * 2 >= n
    baseline_f1 = 2 * pos / (pos + n) if majority_positive and n else 0.0  # all-positive: P = pos/n, R = 1
    return {
        "test_positives": pos, "test_negatives": n - pos, "threshold": threshold,
        "precision": precision, "recall": recall, "f1": f1,
        "accuracy": float((pred == labels).mean()) if n else float("nan"),
        "auc": roc_auc(labels, scores),
        "baseline_accuracy": max(pos, n - pos) / n if n else float("nan"),
        "baseline_f1": baseline_f1,
    }
