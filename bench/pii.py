"""PII redaction (lib/pii.py): false positives on real maths pairs, recall on planted values,
speed, and the cost of hostile input as it grows.

1. Pairs touched (any finding in question or answer) on the 700 Stack Exchange pairs,
   GSM8K train and MATH500 solutions: the goal is at most 0.5%.
2. Recall per type on personal data planted into the real Stack Exchange pairs
   (tests/planted_pii.py: libphonenumber's example numbers for 20 countries in
   international, E.164 and US national forms, published test card numbers, registry
   IBANs, IPv4/IPv6, links with credentials or tokens): the goal is 0.95 per type.
3. Milliseconds per pair on each set, and seconds for 0.25, 0.5 and 1 MB of hostile
   patterns (runs of digits, `@`, `$`, separators): linear means the time doubles.

    taskset -c 0 .venv/bin/python -m bench.pii
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from tests.planted_pii import planted
from webinstruct.lib.pii import TYPES, find, redact

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SETS = {"stackexchange_700": ("qa/stackmathqa_700.jsonl", "Q", "A"), "gsm8k_train": ("benchmarks/gsm8k/train.jsonl", "question", "answer"),
        "math500": ("benchmarks/math/math500_test.jsonl", "problem", "solution")}
HOSTILE = ["1", "@", "1-", "a@", "$", "1.", "a:", "12 ", "+1 ", "(1) ", "a=b@c.de "]


def main() -> None:
    print("false positives: pairs touched (goal <= 0.5%)")
    for name, (path, q, a) in SETS.items():
        rows = [json.loads(line) for line in open(DATA / path, encoding="utf-8")]
        start = time.perf_counter()
        touched = [r for r in rows if find(r[q]) or find(r[a])]
        ms = (time.perf_counter() - start) / len(rows) * 1000
        print(f"  {name:18} {len(touched):5d} of {len(rows):5d} = {len(touched) / len(rows):.4%}   {ms:.2f} ms/pair")
    hit, total = Counter(), Counter()
    for item in planted():
        out, counts = redact(item[item["field"]])
        total[item["type"]] += 1
        gone = item["type"] == "SECRET" or item["value"] not in out
        hit[item["type"]] += gone and counts[item["type"]] >= 1
    print("recall on planted values (goal >= 0.95 per type)")
    for t in TYPES:
        print(f"  {t:12} {hit[t]:4d} of {total[t]:4d} = {hit[t] / total[t]:.3f}")
    print("hostile input: seconds for 0.25 / 0.5 / 1 MB")
    for unit in HOSTILE:
        times = []
        for size in (1 << 18, 1 << 19, 1 << 20):
            text = unit * (size // len(unit))
            start = time.perf_counter()
            redact(text)
            times.append(time.perf_counter() - start)
        print(f"  {unit!r:12} " + " / ".join(f"{t:.2f}" for t in times))


if __name__ == "__main__":
    main()
