"""Semantic dedup's rule (lib/dedup/semantic.py: MiniLM question embeddings, then the
answers or the numbers) on two sets:

1. tests/data/semdedup_rewordings.jsonl: 71 hand-written rewordings and 59 near misses of
   real GSM8K, MATH500 and Stack Exchange questions, with the originals' real answers and a
   hand-written answer for each GSM8K/MATH500 `other` (none for Stack Exchange, whose
   answers are prose): recall (rewordings joined) and precision (joined pairs that are
   rewordings) per threshold, for the cosine alone, the numbers rule alone, and the rule
   (answers where both pairs state one, else numbers).
2. GSM8K train (7,473 real, distinct questions with their real answers, ~28M pairs): pairs
   joined per threshold, i.e. distinct questions collapsed by mistake (a few are real
   repeats with a new name).

    taskset -c 0 .venv/bin/python -m bench.semdedup
"""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import SHARED_DATA as DATA
from tests.rewordings import rows as fixture_rows
from webinstruct.lib.decontam.embed_index import encode
from webinstruct.lib.dedup.same_question import checkable_answer, facts_of
from webinstruct.lib.dedup.semantic import collapse

MODEL = "all-MiniLM-L6-v2"
THRESHOLDS = (0.75, 0.8, 0.85, 0.9, 0.95)


def _joined(a, b, threshold: float, numbers=None, answers=None) -> bool:
    return collapse(np.stack([a, b]), [(0,), (1,)], threshold, numbers, answers=answers).keeper[1] == 0


def main() -> None:
    rows = fixture_rows()
    a, b = encode([r["original"] for r in rows], MODEL), encode([r["other"] for r in rows], MODEL)
    numbers = [[facts_of(r["original"]), facts_of(r["other"])] for r in rows]
    answers = [[checkable_answer(r["answer_original"]), checkable_answer(r["answer_other"])] for r in rows]
    same = np.array([r["same"] for r in rows])
    both = sum(bool(x[0] and x[1]) for x in answers)
    print(f"fixture: {same.sum()} rewordings, {(~same).sum()} near misses; {both} pairs both state a checkable answer")
    print("threshold   cosine only        numbers only       the rule (answers, else numbers)")
    print("            recall precision   recall precision   recall precision")
    for t in THRESHOLDS:
        out = []
        for variant in ({}, {"numbers": True}, {"numbers": True, "answers": True}):
            joined = np.array([_joined(x, y, t, n if "numbers" in variant else None, s if "answers" in variant else None)
                               for x, y, n, s in zip(a, b, numbers, answers)])
            tp, fp = int((joined & same).sum()), int((joined & ~same).sum())
            out.append(f"{tp / same.sum():.3f}  {tp / max(1, tp + fp):.3f}    ")
        print(f"  {t:.2f}      {'   '.join(out)}")
    se = [json.loads(line) for line in open(DATA / "qa" / "stackmathqa_700.jsonl", encoding="utf-8")]
    stated = sum(checkable_answer(r["A"]) is not None for r in se)
    print(f"Stack Exchange answers stating a checkable final answer: {stated} of {len(se)} (the rest rely on the numbers)")
    gsm = [json.loads(line) for line in open(DATA / "benchmarks" / "gsm8k" / "train.jsonl", encoding="utf-8")]
    v = encode([r["question"] for r in gsm], MODEL)
    keys = [facts_of(r["question"]) for r in gsm]
    finals = [checkable_answer(r["answer"]) for r in gsm]
    print(f"GSM8K train: {len(gsm)} questions; pairs joined per threshold: cosine only / numbers only / the rule")
    for t in THRESHOLDS:
        joined = numbered = ruled = 0
        for start in range(0, len(v), 2048):
            rows_i, cols = np.nonzero(v[start:start + 2048] @ v.T >= t)
            for r, c in zip(rows_i.tolist(), cols.tolist()):
                i = start + r
                if c > i:
                    joined += 1
                    numbered += keys[i] == keys[c]
                    ruled += _joined(v[i], v[c], t, [keys[i], keys[c]], [finals[i], finals[c]])
        print(f"  {t:.2f}  {joined:6d} / {numbered} / {ruled}")


if __name__ == "__main__":
    main()
