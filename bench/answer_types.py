"""Accuracy of the answer-type rules (lib/qa/answer_types.py) against labels.

1. tests/data/answer_types_labelled.jsonl: 100 real items (MATH500, GSM8K, Stack Exchange
   pairs from ../shared/data) labelled by hand with their type and verifiability; accuracy
   overall, per type (recall) and per source, the verifiable flag's accuracy, and the
   confusions.
2. The whole of MATH500's and GSM8K's reference answers (short closed-form by construction):
   the share typed as verifiable, and the type histogram.
3. TheoremQA's own `Answer_type` labels (integer, float, bool, option, list of ...), mapped
   to ours (float -> decimal, list -> set_or_tuple, option -> multiple_choice, bool ->
   boolean), typing the answer value's text.

    .venv/bin/python -m bench.answer_types
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from webinstruct.lib.qa.answer_types import answer_type, label

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
FIXTURE = ROOT / "tests" / "data" / "answer_types_labelled.jsonl"
THEOREMQA = {"integer": {"integer"}, "float": {"decimal", "integer"}, "bool": {"boolean"}, "option": {"multiple_choice"},
             "list of integer": {"set_or_tuple", "interval"}, "list of float": {"set_or_tuple", "interval"}}


def fixture() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


def labelled() -> None:
    rows = fixture()
    right, by_type, by_source, verifiable_right, confusions = 0, Counter(), Counter(), 0, Counter()
    totals, source_totals = Counter(), Counter()
    for row in rows:
        got = label(row["question"], row["answer"])
        ok = got.answer_type == row["type"]
        right += ok
        totals[row["type"]] += 1
        source_totals[row["source"]] += 1
        by_type[row["type"]] += ok
        by_source[row["source"]] += ok
        verifiable_right += got.verifiable == row["verifiable"]
        if not ok:
            confusions[(row["type"], got.answer_type)] += 1
    print(f"hand-labelled fixture: {len(rows)} items, type accuracy {right / len(rows):.3f}, "
          f"verifiable accuracy {verifiable_right / len(rows):.3f}")
    print(f"  {'type':16} {'items':>5} {'right':>6}")
    for kind, n in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:16} {n:5d} {by_type[kind] / n:6.2f}")
    print("  by source: " + ", ".join(f"{s} {by_source[s] / n:.2f} of {n}" for s, n in sorted(source_totals.items())))
    if confusions:
        print("  confusions (label -> rules): " + ", ".join(f"{a}->{b} {n}" for (a, b), n in confusions.most_common()))


def references() -> None:
    for name, path, field in (("MATH500", DATA / "benchmarks" / "math" / "math500_test.jsonl", "answer"),
                              ("GSM8K test", DATA / "benchmarks" / "gsm8k" / "test.jsonl", "answer")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        kinds = Counter(label("", r[field]).answer_type if name.startswith("GSM") else answer_type(r[field]) for r in rows)
        verifiable = sum(n for k, n in kinds.items() if k not in ("long_text", "proof", "none"))
        print(f"{name} reference answers: {len(rows)}, verifiable {verifiable / len(rows):.3f}; "
              + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))


def theoremqa() -> None:
    rows = json.loads((DATA / "benchmarks" / "theoremqa" / "theoremqa_test.json").read_text(encoding="utf-8"))
    right, per = 0, Counter()
    totals = Counter()
    for row in rows:
        got = answer_type(str(row["Answer"]))
        ok = got in THEOREMQA[row["Answer_type"]]
        right += ok
        per[row["Answer_type"]] += ok
        totals[row["Answer_type"]] += 1
    print(f"TheoremQA answer types (their labels, mapped): {len(rows)} answers, accuracy {right / len(rows):.3f}; "
          + ", ".join(f"{k} {per[k] / n:.2f} of {n}" for k, n in totals.most_common()))


def main() -> None:
    labelled()
    references()
    theoremqa()


if __name__ == "__main__":
    main()
