"""How well tiers 1 and 2 catch contaminated pairs built from real benchmark items, and how
often they flag clean real pairs.

Contaminated kinds, from GSM8K test and MATH500 items: verbatim copies; copies with every
number changed; copies with every name changed; and paraphrases written for this project
(tests/data/paraphrased_benchmark_items.jsonl, no 6-word run shared with the source).
Clean pairs: GSM8K *train* questions (same style and topics as the test set, different
problems) and 700 real Stack Exchange maths Q&A pairs. Tier 1 indexes all 23 benchmarks;
tier 2 embeds GSM8K test and MATH500 (the sources plus 1,800 same-style distractors) with
the packaged all-MiniLM-L6-v2. The test prints the table that goes in the closing note.
"""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest

from tests.conftest import REPO, shared
from webinstruct.jobs.core.config import DecontamSection
from webinstruct.lib.decontam.benchmarks import BUILTIN, load_builtin
from webinstruct.lib.decontam.embed_index import encode, top_k
from webinstruct.lib.decontam.ngram_index import NgramIndex
from webinstruct.lib.text_table import render

PARAPHRASES = REPO / "tests" / "data" / "paraphrased_benchmark_items.jsonl"
NAMES = ["Priya", "Tomasz", "Aiko", "Mateo", "Zanele", "Henrik", "Leila", "Dmitri", "Nkechi", "Rafael", "Ingrid", "Kofi"]


def _change_numbers(text: str, rng: random.Random) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(2, 9)), text)


def _change_names(text: str) -> str:
    """Every capitalised word that is not a sentence's first word and not a unit or month
    gets a name from the list: people's names are the only such words in most GSM8K items."""
    seen: dict[str, str] = {}

    def swap(m: re.Match) -> str:
        word = m.group(2)
        if word not in seen:
            seen[word] = NAMES[len(seen) % len(NAMES)]
        return m.group(1) + seen[word]

    return re.sub(r"([a-z,;] )([A-Z][a-z]{2,})\b", swap, text)


@pytest.fixture(scope="module")
def data():
    folder = shared("benchmarks")
    gsm = list(load_builtin("gsm8k", folder))
    m500 = list(load_builtin("math500", folder))
    rng = random.Random(17)
    picked = rng.sample(gsm, 40) + rng.sample([i for i in m500 if len(i.question) < 600], 20)
    named = [i for i in rng.sample(gsm, 200) if _change_names(i.question) != i.question][:40]
    numbered = [i for i in picked if re.search(r"\d", i.question) and i.benchmark == "gsm8k"]
    by_id = {(i.benchmark, i.item_id): i for i in gsm + m500}
    paraphrased = [json.loads(line) for line in open(PARAPHRASES, encoding="utf-8")]
    kinds = {
        "verbatim": [(i.question, i.answer, i) for i in picked],
        "numbers changed": [(_change_numbers(i.question, rng), "", i) for i in numbered],
        "names changed": [(_change_names(i.question), i.answer, i) for i in named],
        "paraphrased": [(p["paraphrase"], "", by_id[(p["benchmark"], p["item_id"])]) for p in paraphrased],
    }
    train = [json.loads(line) for line in open(folder / "gsm8k" / "train.jsonl", encoding="utf-8")]
    qa = [json.loads(line) for line in open(shared("qa", "stackmathqa_700.jsonl"), encoding="utf-8")]
    clean = {
        "clean: GSM8K train": [(r["question"], r["answer"], None) for r in rng.sample(train, 300)],
        "clean: StackMathQA": [(r["Q"], r["A"], None) for r in qa],
    }
    all_items = [it for name in BUILTIN for it in load_builtin(name, folder)]
    return {"kinds": kinds, "clean": clean, "all": all_items, "tier2_items": gsm + m500}


@pytest.fixture(scope="module")
def results(data):
    d = DecontamSection()
    index = NgramIndex.build(data["all"], d.ngram, d.min_content)
    items = data["tier2_items"]
    matrix = encode([i.question for i in items], d.embed_model, threads=0)
    out = {}
    for kind, pairs in {**data["kinds"], **data["clean"]}.items():
        t1 = [bool(index.match(q) or index.match(a)) for q, a, _ in pairs]
        near = top_k(encode([q for q, _, _ in pairs], d.embed_model, threads=0), matrix, d.top_k)
        top1 = [(items[n[0]].benchmark, items[n[0]].item_id) for n in near.index]
        source_first = [src is not None and top1[k] == (src.benchmark, src.item_id) for k, (_, _, src) in enumerate(pairs)]
        out[kind] = {"n": len(pairs), "t1": np.array(t1), "score": near.score[:, 0], "source_first": np.array(source_first)}
    return out


def test_report_and_rates(results):
    d = DecontamSection()
    rows = []
    for kind, r in results.items():
        flag = r["score"] >= d.flag_threshold
        cand = (r["score"] >= d.judge_threshold) & ~flag
        caught = r["t1"] | flag
        rows.append([kind, r["n"], f"{r['t1'].mean():.0%}", f"{flag.mean():.0%}", f"{cand.mean():.0%}", f"{caught.mean():.0%}",
                     f"{(caught | cand).mean():.0%}", "-" if kind.startswith("clean") else f"{r['source_first'].mean():.0%}",
                     f"{np.median(r['score']):.3f}"])
    print("\n" + render(["pairs", "n", "tier 1", f"tier 2 >= {d.flag_threshold}", f"to tier 3 (>= {d.judge_threshold})",
                         "caught (t1 or t2)", "caught or judged", "t2 top-1 = source", "median top-1 cosine"], rows))
    kinds = results
    # verbatim copies: every one caught by tier 1
    assert kinds["verbatim"]["t1"].all()
    # edited copies: tier 2 ranks the source item first for most of them
    for kind in ("numbers changed", "names changed", "paraphrased"):
        assert kinds[kind]["source_first"].mean() >= 0.8, kind
        reach = (kinds[kind]["score"] >= d.judge_threshold) | kinds[kind]["t1"]
        assert reach.mean() >= 0.8, kind  # flagged, or at least sent to the judge
    # clean pairs: tier 1 flags almost none; tier 2 flags almost none outright
    for kind in ("clean: GSM8K train", "clean: StackMathQA"):
        assert kinds[kind]["t1"].mean() <= 0.02, kind
        assert (kinds[kind]["score"] >= d.flag_threshold).mean() <= 0.02, kind


def test_name_and_number_edits_really_edit(data):
    for q, _, src in data["kinds"]["numbers changed"] + data["kinds"]["names changed"]:
        assert q != src.question
