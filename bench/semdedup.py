"""Semantic dedup's rule (lib/dedup/semantic.py, MiniLM question embeddings + the same
numbers) on two sets:

1. tests/data/semdedup_rewordings.jsonl: 71 hand-written rewordings and 59 near misses of
   real GSM8K, MATH500 and Stack Exchange questions: recall (rewordings joined) and
   precision (joined pairs that are rewordings) per threshold, with and without the
   numbers rule.
2. GSM8K train (7,473 real questions, ~28M pairs): pairs the rule would join per threshold,
   i.e. distinct questions collapsed by mistake (a few are real repeats with a new name).

    taskset -c 0 .venv/bin/python -m bench.semdedup
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from webinstruct.lib.decontam.embed_index import encode
from webinstruct.lib.dedup.semantic import numbers_of

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
MODEL = "all-MiniLM-L6-v2"
THRESHOLDS = (0.75, 0.8, 0.85, 0.9, 0.95)


def main() -> None:
    rows = [json.loads(line) for line in open(ROOT / "tests" / "data" / "semdedup_rewordings.jsonl", encoding="utf-8")]
    sims = (encode([r["original"] for r in rows], MODEL) * encode([r["other"] for r in rows], MODEL)).sum(1)
    same = np.array([r["same"] for r in rows])
    nums = np.array([numbers_of(r["original"]) == numbers_of(r["other"]) for r in rows])
    print(f"fixture: {same.sum()} rewordings, {(~same).sum()} near misses")
    print("threshold  numbers rule: recall precision   cosine only: recall precision")
    for t in THRESHOLDS:
        out = []
        for rule in (sims >= t) & nums, sims >= t:
            tp, fp = int((rule & same).sum()), int((rule & ~same).sum())
            out.append(f"{tp / same.sum():.3f} {tp / max(1, tp + fp):.3f}")
        print(f"  {t:.2f}       {out[0]}                   {out[1]}")
    questions = [json.loads(line)["question"] for line in open(DATA / "benchmarks" / "gsm8k" / "train.jsonl", encoding="utf-8")]
    v = encode(questions, MODEL)
    keys = [numbers_of(q) for q in questions]
    print(f"GSM8K train: {len(questions)} questions; pairs joined per threshold (cosine only / with the numbers rule)")
    for t in THRESHOLDS:
        joined = numbered = 0
        for start in range(0, len(v), 2048):
            rows_i, cols = np.nonzero(v[start:start + 2048] @ v.T >= t)
            for r, c in zip(rows_i.tolist(), cols.tolist()):
                if c > start + r:
                    joined += 1
                    numbered += keys[start + r] == keys[c]
        print(f"  {t:.2f}  {joined:6d} / {numbered}")


if __name__ == "__main__":
    main()
