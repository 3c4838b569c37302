"""The quality gate on real pairs and on rule-built corruptions of them.

Real pairs (they should pass): the 700 Stack Exchange pairs of
../shared/data/qa/stackmathqa_700.jsonl, the GSM8K train pairs, and the schema.org markup
pairs of the 699 wceb2026 pages (checked against the page's own extracted text). Each real
pair is its own "extracted" and "refined" version, as a pair kept as stated is.

Bad pairs (they should be rejected): each real Stack Exchange and GSM8K pair corrupted by
one rule, the ways refiners and renderers fail: the question swapped for another pair's,
replaced by commentary, or with its numbers changed; the answer truncated to a few
characters, replaced by meta-talk, by template or JSON debris, or by a copy of the question.

Labelled real outputs (tests/data/offline_pairs_labelled.jsonl, see its first line): the
offline model's refined pairs on real forum pages, labelled good or bad by hand.

Prints the pass rate per real set, the rejection rate per corruption, the gate's precision
and recall as a detector of bad pairs, and pairs per second on one core (rules alone; with the MiniLM
encoder for the faithfulness check, on unchanged and on rewritten questions).

    .venv/bin/python -m bench.gate [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import re
import json
import random
import time
from collections import Counter
from pathlib import Path

import torch

from webinstruct.lib.decontam.embed_index import encode
from webinstruct.lib.ingest.charset import decode_html
from webinstruct.lib.ingest.langid import LanguageIdentifier
from webinstruct.lib.ingest.qa_text import qa_main_text
from webinstruct.lib.ingest.text_extract import ExtractOptions, extract_text
from webinstruct.lib.qa.gate import GateOptions, PairInput, check
from webinstruct.lib.qa.markup import extract_qa_markup
from webinstruct.udfs.gate import similarities

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "offline_pairs_labelled.jsonl"
MODEL = "all-MiniLM-L6-v2"
PAGE_TEXT = ExtractOptions("resiliparse", main_content=False)


def real_sets(limit: int | None) -> dict[str, list[tuple[str, str, str]]]:
    """name -> [(question, answer, page text)]."""
    stack = [json.loads(x) for x in (DATA / "qa" / "stackmathqa_700.jsonl").read_text().splitlines()]
    gsm = [json.loads(x) for x in (DATA / "benchmarks" / "gsm8k" / "train.jsonl").read_text().splitlines()]
    sets = {
        "stackmathqa (700)": [(r["Q"], r["A"], r["Q"] + "\n\n" + r["A"]) for r in stack],
        "gsm8k train": [(r["question"], r["answer"], r["question"] + "\n" + r["answer"]) for r in gsm],
        "wceb2026 markup pairs": markup_pairs(),
    }
    return {k: v[:limit] if limit else v for k, v in sets.items()}


def markup_pairs() -> list[tuple[str, str, str]]:
    folder = DATA / "pages" / "wceb2026"
    out = []
    for line in (folder / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        html = decode_html(gzip.decompress((folder / row["html"]).read_bytes()), None)[0]
        result = extract_qa_markup(html, row["url"])
        if result.pairs:
            page = extract_text(html, row["url"], PAGE_TEXT)[1]
            out += [(p.question, p.answer, page) for p in result.pairs]
    return out


CORRUPTIONS = {
    "question swapped": lambda q, a, other, rng: (other[0], a),
    "question -> commentary": lambda q, a, other, rng: ("The previous response contains incorrect information.", a),
    "question numbers changed": lambda q, a, other, rng: (_renumber(q, rng), a),
    "answer truncated": lambda q, a, other, rng: (q, a.strip()[:6]),
    "answer meta-talk": lambda q, a, other, rng: (q, "As an AI language model, I cannot verify the steps of this solution."),
    "answer template debris": lambda q, a, other, rng: (q, "{{ answer }}"),
    "answer JSON fragment": lambda q, a, other, rng: (q, '{"question": "' + q[:40] + '", "answer": null}'),
    "answer copies question": lambda q, a, other, rng: (q, q),
}


def _renumber(text: str, rng: random.Random) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group(0)) + rng.randint(1, 9)), text, count=1)


def run_gate(items, options, with_encoder: bool) -> tuple[list, float]:
    """items: (orig_q, orig_a, q, a, page) -> results, seconds."""
    start = time.perf_counter()
    sims = similarities([c[0] for c in items], [c[2] for c in items], MODEL) if with_encoder else [None] * len(items)
    results = [check(PairInput(oq, oa, q, a, page_text=page, similarity=s), options)
               for (oq, oa, q, a, page), s in zip(items, sims)]
    return results, time.perf_counter() - start


def labelled(options: GateOptions) -> None:
    """The offline model's real refine outputs on real forum pages, labelled by hand."""
    rows = [json.loads(x) for x in LABELLED.read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if r.get("label") in ("good", "bad") and r["refine_status"] == "ok"]
    if not rows:
        return
    for r in rows:  # the page text as ingest reads it (Q&A-aware, else resiliparse main content)
        html = decode_html(gzip.decompress((DATA / "pages" / "wceb2026" / r["html"]).read_bytes()), None)[0]
        found = qa_main_text(html, r["url"])
        r["page_text"] = found[1] if found else extract_text(html, r["url"], ExtractOptions())[1]
    langid = LanguageIdentifier()
    options = GateOptions(**{**options.__dict__, "check_language": True})
    sims = similarities([r["orig_question"] for r in rows], [r["question"] for r in rows], MODEL)
    tp = fp = fn = tn = 0
    misses = []
    for r, sim in zip(rows, sims):
        lang, score = langid.predict(f"{r['question']} {r['answer']}")
        result = check(PairInput(r["orig_question"], r["orig_answer"], r["question"], r["answer"], page_text=r["page_text"],
                                 page_lang=r["page_lang"] or "", pair_lang=lang, pair_lang_score=score, similarity=sim), options)
        bad = r["label"] == "bad"
        tp, fp = tp + (bad and not result.passed), fp + (not bad and not result.passed)
        fn, tn = fn + (bad and result.passed), tn + (not bad and result.passed)
        if bad == result.passed:
            misses.append((r["label"], result.reasons, r["question"][:60], r["answer"][:40]))
    print(f"\nlabelled offline-model pairs ({LABELLED.name}): {len(rows)} refined ok, {tp + fn} labelled bad, {fp + tn} good")
    kept = f"{tn}/{fp + tn} = {tn / (fp + tn):.3f}" if fp + tn else "none labelled good (the real sets above measure that)"
    print(f"  bad pairs caught {tp}/{tp + fn} = {tp / max(1, tp + fn):.3f}; good pairs kept {kept}")
    print(f"  gate as a detector of bad pairs: precision {tp / max(1, tp + fp):.3f}, recall {tp / max(1, tp + fn):.3f}")
    for miss in misses:
        print(f"  disagrees: label {miss[0]}, gate {miss[1] or 'passed'}: {miss[2]!r} -> {miss[3]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="pairs per real set (quick runs)")
    args = ap.parse_args()
    options = GateOptions(check_language=False)  # language: needs the page's lid.176 label, checked in the Spark test
    rng = random.Random(7)
    sets = real_sets(args.limit)
    encode(["warm up"], MODEL)
    print(f"{'real pairs':32} {'pairs':>6} {'passed':>7}  top reasons")
    kept_total = n_total = 0
    for name, rows in sets.items():
        results, _ = run_gate([(q, a, q, a, page) for q, a, page in rows], options, True)
        passed = sum(r.passed for r in results)
        kept_total, n_total = kept_total + passed, n_total + len(rows)
        reasons = Counter(x for r in results for x in r.reasons).most_common(3)
        print(f"{name:32} {len(rows):6d} {passed / len(rows):7.3f}  {reasons}")
    print(f"{'all real pairs':32} {n_total:6d} {kept_total / n_total:7.3f}")

    base = sets["stackmathqa (700)"] + sets["gsm8k train"][:700]
    print(f"\n{'corruption (of ' + str(len(base)) + ' real pairs)':32} {'pairs':>6} {'caught':>7}  top reasons")
    bad_caught = bad_total = 0
    for name, corrupt in CORRUPTIONS.items():
        items = []
        for i, (q, a, page) in enumerate(base):
            other = base[(i + 97) % len(base)]
            q2, a2 = corrupt(q, a, other, rng)
            if (q2, a2) != (q, a):
                items.append((q, a, q2, a2, page))
        results, _ = run_gate(items, options, True)
        caught = sum(not r.passed for r in results)
        bad_caught, bad_total = bad_caught + caught, bad_total + len(items)
        reasons = Counter(x for r in results for x in r.reasons).most_common(3)
        print(f"{name:32} {len(items):6d} {caught / len(items):7.3f}  {reasons}")
    false_alarms = n_total - kept_total
    precision = bad_caught / (bad_caught + false_alarms) if bad_caught + false_alarms else 0.0
    print(f"{'all corruptions':32} {bad_total:6d} {bad_caught / bad_total:7.3f}")
    print(f"\ngate as a detector of bad pairs: precision {precision:.3f}, recall {bad_caught / bad_total:.3f} "
          f"({bad_caught} bad caught, {false_alarms} real pairs rejected)")

    labelled(options)

    torch.set_num_threads(1)
    base = sets["gsm8k train"][:1000]
    kept = [(q, a, q, a, page) for q, a, page in base]
    edited = [(q, a, q.rstrip("?. ") + ", please?", a, page) for q, a, page in base]  # every question re-encoded
    for label, sample, with_encoder in (("rules only", kept, False), ("rules + MiniLM, questions kept", kept, True),
                                        ("rules + MiniLM, questions rewritten", edited, True)):
        _, seconds = run_gate(sample, options, with_encoder)
        print(f"throughput, {label:36}: {len(sample) / seconds:8.0f} pairs/s on one core")


if __name__ == "__main__":
    main()
