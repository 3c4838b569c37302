"""Final-answer extraction and matching (lib/qa/answers.py) on the real benchmark
solutions: MATH500's `solution` against its `answer`, GSM8K test's solution against its
`####` answer, with the time of each equivalence check (normalised strings first, then
math-verify under its time limit).

    .venv/bin/python -m bench.answers
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from webinstruct.lib.qa.answers import equivalent, extract

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "benchmarks"


def measure(name: str, rows: list[tuple[str, str]]) -> None:
    times, matched, methods = [], 0, {}
    for solution, reference in rows:
        found = extract(solution)
        methods[found.method] = methods.get(found.method, 0) + 1
        started = time.perf_counter()
        ok = equivalent(found.answer, reference)
        times.append((time.perf_counter() - started) * 1000)
        matched += ok
    times.sort()
    print(f"{name:<14}{len(rows):>7}{matched / len(rows):>10.4f}{statistics.median(times):>12.2f}"
          f"{times[int(len(times) * 0.99) - 1]:>10.2f}{max(times):>10.1f}   {methods}")


def main() -> None:
    math500 = [json.loads(line) for line in open(DATA / "math" / "math500_test.jsonl", encoding="utf-8")]
    gsm = [json.loads(line) for line in open(DATA / "gsm8k" / "test.jsonl", encoding="utf-8")]
    print(f"{'set':<14}{'rows':>7}{'matched':>10}{'median ms':>12}{'p99 ms':>10}{'max ms':>10}   extraction methods")
    measure("MATH500", [(r["solution"], r["answer"]) for r in math500])
    measure("GSM8K test", [(r["answer"], r["answer"].split("####")[-1].strip()) for r in gsm])
    # the same answers written another way: a fraction as a decimal, a thousands comma
    forms = []
    for r in gsm:
        ref = r["answer"].split("####")[-1].strip().replace(",", "")
        if ref.lstrip("-").isdigit() and len(ref) >= 4:
            forms.append((f"so the total is \\boxed{{{int(ref):,}}}", ref))
    for r in math500:
        parts = r["answer"][6:-1].split("}{") if r["answer"].startswith("\\frac{") else []
        if len(parts) == 2:
            num, den = parts
            if num.lstrip("-").isdigit() and den.isdigit():
                forms.append((f"The answer is \\boxed{{{num}/{den}}}.", r["answer"]))
    measure("other forms", forms)


if __name__ == "__main__":
    main()
