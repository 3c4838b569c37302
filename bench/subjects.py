"""Accuracy of the zero-shot subject classifier (lib/qa/subjects.py) on MMLU's test questions.

MMLU's 57 subjects are mapped to our categories (MAPPING below; evaluation only: nothing is
fitted to MMLU). Each question is classified from its text and its four choices, as a page
would pose it. Prints accuracy overall, per category and per MMLU subject, next to the
majority baseline (always the most frequent category).

    .venv/bin/python -m bench.subjects [--per-subject N]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from webinstruct.lib.decontam.embed_index import DEFAULT_MODEL, encode
from webinstruct.lib.qa.subjects import SubjectClassifier

MMLU = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "benchmarks" / "mmlu" / "mmlu_test_all57.jsonl"
GROUPS = {
    "math": "abstract_algebra college_mathematics elementary_mathematics high_school_mathematics high_school_statistics",
    "physics": "astronomy college_physics conceptual_physics high_school_physics",
    "chemistry": "college_chemistry high_school_chemistry",
    "biology": "college_biology high_school_biology",
    "computer science": "college_computer_science computer_security high_school_computer_science machine_learning",
    "engineering": "electrical_engineering",
    "economics and business": "econometrics high_school_macroeconomics high_school_microeconomics business_ethics management "
                              "marketing professional_accounting",
    "law": "international_law jurisprudence professional_law",
    "medicine": "anatomy clinical_knowledge college_medicine medical_genetics nutrition professional_medicine virology human_aging",
    "humanities": "formal_logic high_school_european_history high_school_us_history high_school_world_history logical_fallacies "
                  "moral_disputes moral_scenarios philosophy prehistory world_religions high_school_geography "
                  "high_school_government_and_politics high_school_psychology professional_psychology human_sexuality "
                  "public_relations security_studies sociology us_foreign_policy",
    "other": "global_facts miscellaneous",
}
MAPPING = {subject: category for category, subjects in GROUPS.items() for subject in subjects.split()}


def mmlu_items(per_subject: int | None = None) -> list[tuple[str, str, str]]:
    """(subject, category, question with its choices), in file order, at most `per_subject` each."""
    seen: Counter = Counter()
    out = []
    for line in MMLU.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if per_subject is not None and seen[row["subject"]] >= per_subject:
            continue
        seen[row["subject"]] += 1
        text = row["question"] + "\n" + "\n".join(f"{'ABCD'[i]}. {c}" for i, c in enumerate(row["choices"]))
        out.append((row["subject"], MAPPING[row["subject"]], text))
    return out


def evaluate(items, classifier: SubjectClassifier) -> dict:
    got = classifier.classify([t for _, _, t in items])
    truth = [c for _, c, _ in items]
    right = [g[0] == t for g, t in zip(got, truth)]
    majority = Counter(truth).most_common(1)[0]
    per_cat, per_subject = defaultdict(list), defaultdict(list)
    for (subject, category, _), ok in zip(items, right):
        per_cat[category].append(ok)
        per_subject[subject].append(ok)
    return {"n": len(items), "accuracy": sum(right) / len(items), "majority": majority[1] / len(items),
            "majority_class": majority[0], "per_category": {k: (sum(v) / len(v), len(v)) for k, v in per_cat.items()},
            "per_subject": {k: sum(v) / len(v) for k, v in per_subject.items()},
            "confusions": Counter((t, g[0]) for g, t in zip(got, truth) if g[0] != t)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-subject", type=int, default=None, help="at most this many questions per MMLU subject")
    args = ap.parse_args()
    items = mmlu_items(args.per_subject)
    start = time.perf_counter()
    classifier = SubjectClassifier(lambda texts: encode(texts, DEFAULT_MODEL))
    result = evaluate(items, classifier)
    seconds = time.perf_counter() - start
    print(f"MMLU test, {result['n']} questions mapped to {len(GROUPS)} categories ({DEFAULT_MODEL}, zero-shot, {seconds:.0f} s)")
    print(f"accuracy {result['accuracy']:.3f}   majority baseline ({result['majority_class']}) {result['majority']:.3f}")
    print(f"  {'category':24} {'questions':>9} {'accuracy':>8}")
    for name, (acc, n) in sorted(result["per_category"].items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:24} {n:9d} {acc:8.3f}")
    worst = sorted(result["per_subject"].items(), key=lambda kv: kv[1])[:8]
    print("  weakest MMLU subjects: " + ", ".join(f"{s} {a:.2f}" for s, a in worst))
    print("  most frequent confusions: " + ", ".join(f"{a}->{b} {n}" for (a, b), n in result["confusions"].most_common(8)))


if __name__ == "__main__":
    main()
