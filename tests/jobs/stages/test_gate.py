"""The quality gate and pair-level dedup through Spark, on real pairs and real pages.

Refined pairs are written as data: real Stack Exchange and GSM8K train pairs (their page
is the pair's own text, as a Q&A page shows it), the four pairs `make demo` published
before the gate existed, and rule-built corruptions of real pairs. The gate runs with the
real MiniLM encoder and lid.176; publishing keeps only passing pairs, one per duplicate
group, with a keeper that never changes once published.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.conftest import shared
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.tables import DOCUMENTS, QA_EXTRACTED, QA_MARKUP, QA_REFINED
from webinstruct.jobs.stages import export, gate
from webinstruct.jobs.stages.decontam.publish import publish

RUN = "20260101T000000Z-aaaa"


def _stack(n):
    return [json.loads(line) for line in open(shared("qa", "stackmathqa_700.jsonl"), encoding="utf-8")][:n]


def _gsm(n):
    return [json.loads(line) for line in open(shared("benchmarks", "gsm8k", "train.jsonl"), encoding="utf-8")][:n]


def _write(spark, lake, pairs, run=RUN, markup=()):
    """pairs: (qa_id, doc_id, orig_q, orig_a, q, a, page_text, method, fetch day)."""
    refined = [{"qa_id": p[0], "refiner": "m1" if p[7] == "llm" else "as stated", "doc_id": p[1], "status": "ok",
                "orig_question": p[2], "orig_answer": p[3], "question": p[4], "answer": p[5], "model": "m1",
                "prompt_version": "r1", "run_id": run, "refined_at": dt.datetime(2026, 1, 1)} for p in pairs]
    extracted = [{"qa_id": p[0], "doc_id": p[1], "status": "ok", "orig_question": p[2], "orig_answer": p[3], "model": "x",
                  "prompt_version": "e1", "run_id": run, "method": p[7]} for p in pairs]
    docs = {p[1]: {"doc_id": p[1], "url": f"https://{p[1]}.example.org/q", "domain": f"{p[1]}.example.org", "text": p[6],
                   "lang": "en", "warc_path": "crawl.warc.gz", "warc_offset": 7, "fetch_time": dt.datetime(2026, 1, p[8])}
            for p in pairs}
    lake.append("qa_refined", spark.createDataFrame([{f: r.get(f) for f in QA_REFINED.fieldNames()} for r in refined], QA_REFINED))
    lake.append("qa_extracted", spark.createDataFrame([{f: r.get(f) for f in QA_EXTRACTED.fieldNames()} for r in extracted],
                                                      QA_EXTRACTED))
    lake.append("documents", spark.createDataFrame([{f: r.get(f) for f in DOCUMENTS.fieldNames()} for r in docs.values()],
                                                   DOCUMENTS))
    if markup:
        lake.append("qa_markup", spark.createDataFrame([{f: r.get(f) for f in QA_MARKUP.fieldNames()} for r in markup], QA_MARKUP))


@pytest.fixture(scope="module")
def env(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gate")
    cfg = load_config(lake=str(tmp / "lake"), overrides=["spark.shuffle_partitions=2"])
    lake = open_lake(spark, cfg)
    lake.config = cfg
    stack, gsm = _stack(6), _gsm(4)
    good = [(f"s{i}", f"stack{i}", r["Q"], r["A"], r["Q"], r["A"], r["Q"] + "\n\n" + r["A"], "llm", 2) for i, r in enumerate(stack)]
    good += [(f"g{i}", f"gsm{i}", r["question"], r["answer"], r["question"], r["answer"], r["question"] + "\n" + r["answer"], "llm", 2)
             for i, r in enumerate(gsm)]
    q0, a0 = gsm[0]["question"], gsm[0]["answer"]
    bad = [
        # what `make demo` published before the gate
        ("demo3", "forum3", "Is the derivative of x^2 equal to 2x?", "Yes, it is 2x by the power rule.",
         "The previous response contains incorrect information.", "{{", "Is the derivative of x^2 equal to 2x? Yes.", "llm", 2),
        ("demo2", "forum2", "Why does this formula not work for negative numbers?", "Because the square root is undefined there.",
         "this doesn´snt work.", "you need more information.", "Why does this formula not work for negative numbers?", "llm", 2),
        # corruptions of a real pair, by rule
        ("numbers", "gsm0b", q0, a0, q0.replace("48", "84"), a0, q0 + "\n" + a0, "llm", 2),
        ("swapped", "gsm0c", q0, a0, _stack(7)[6]["Q"], a0, q0 + "\n" + a0, "llm", 2),
        ("debris", "gsm0d", q0, a0, q0, '{"answer": null, "steps": [', q0 + "\n" + a0, "llm", 2),
        ("offpage", "cooking", q0, a0, q0, a0, "Preheat the oven and whisk the eggs with sugar until pale and fluffy.", "llm", 2),
        ("copy", "gsm0e", q0, a0, q0, q0, q0 + "\n" + a0, "llm", 2),
        ("meta", "gsm0f", q0, a0, q0, "As an AI language model, I cannot verify this calculation.", q0 + "\n" + a0, "llm", 2),
        ("french", "gsm0g", q0, a0, q0, "Natalia a vendu 48 pinces en avril et la moitié en mai, soit 72 pinces au total. "
         "La réponse est donc 72, car elle a vendu 24 pinces de plus en mai.", q0 + "\n" + a0, "llm", 2),
    ]
    _write(spark, lake, good + bad)
    counters = gate.run(spark, cfg, lake)
    return {"cfg": cfg, "lake": lake, "counters": counters, "good": good, "bad": bad, "tmp": tmp}


def _quality(lake):
    return {r["qa_id"]: r for r in lake.read("qa_quality").collect()}


def test_real_pairs_pass_and_bad_pairs_fail_with_their_reasons(env):
    rows = _quality(env["lake"])
    assert env["counters"]["checked"] == len(env["good"]) + len(env["bad"])
    for p in env["good"]:
        assert rows[p[0]]["passed"], (p[0], rows[p[0]]["reasons"])
        assert rows[p[0]]["similarity"] > 0.99 and rows[p[0]]["grounded"] == 1.0
    expected = {
        "demo3": {"question_meta_talk", "answer_template_braces", "answer_too_thin", "question_meaning_changed"},
        "demo2": {"answer_meta_talk", "question_meaning_changed"},
        "numbers": {"question_numbers_lost"},
        "swapped": {"question_meaning_changed"},
        "debris": {"answer_json_fragment"},
        "offpage": {"question_not_on_page"},
        "copy": {"answer_copies_question"},
        "meta": {"answer_meta_talk"},
        "french": {"language_mismatch"},
    }
    for qa_id, reasons in expected.items():
        row = rows[qa_id]
        assert not row["passed"] and reasons <= set(row["reasons"]), (qa_id, row["reasons"])
        assert row["score"] < min(rows[p[0]]["score"] for p in env["good"])


def test_rerun_checks_nothing_and_a_new_threshold_checks_again(env, spark):
    lake, cfg = env["lake"], env["cfg"]
    version = lake.version("qa_quality")
    assert gate.run(spark, cfg, lake)["pairs_in"] == 0 and lake.version("qa_quality") == version
    stricter = load_config(lake=cfg.lake.root, overrides=["spark.shuffle_partitions=2", "gate.min_answer_words=400"])
    lake.config = stricter
    try:
        counters = gate.run(spark, stricter, lake)
        assert counters["pairs_in"] == len(env["good"]) + len(env["bad"]) and counters["reason:answer_too_thin"] >= 1
    finally:
        lake.config = cfg


def test_publish_keeps_passing_pairs_once_with_a_stable_keeper(env, spark):
    lake, cfg = env["lake"], env["cfg"]
    publish(spark, cfg, lake, None)
    published = {r["qa_id"]: r for r in lake.read("webinstruct").collect()}
    assert set(published) == {p[0] for p in env["good"]}
    assert all(r["quality"] > 0 and r["method"] == "llm" and r["duplicates"] == 0 for r in published.values())
    index = {k: r["index"] for k, r in published.items()}

    # the same real question reposted on two more sites (one verbatim, one lightly edited)
    # and stated in markup with an accepted answer on a third: all later than the first
    s0 = _stack(1)[0]
    edited = s0["Q"].replace("I'm referring to", "I refer to")
    later = [
        ("s0-copy", "mirror", s0["Q"], s0["A"], s0["Q"], s0["A"], s0["Q"] + "\n" + s0["A"], "llm", 5),
        ("s0-edit", "repost", edited, s0["A"], edited, s0["A"], edited + "\n" + s0["A"], "llm", 6),
        ("s0-markup", "qasite", s0["Q"], s0["A"] + " (accepted)", s0["Q"], s0["A"] + " (accepted)", s0["Q"] + "\n" + s0["A"],
         "markup", 7),
    ]
    # the same words with another number are another problem: not a copy
    other = s0["Q"].replace("page 18", "page 19")
    later.append(("s0-page19", "physics2", other, s0["A"], other, s0["A"], other + "\n" + s0["A"], "llm", 8))
    markup = [{"doc_id": "qasite", "position": 0, "question": s0["Q"], "answer": s0["A"] + " (accepted)", "accepted": True,
               "votes": 12, "schema_type": "QAPage", "syntax": "json-ld", "run_id": RUN}]
    _write(spark, lake, later, run="20260102T000000Z-bbbb", markup=markup)
    gate.run(spark, cfg, lake)
    publish(spark, cfg, lake, None)
    again = {r["qa_id"]: r for r in lake.read("webinstruct").collect()}
    # the published pair stays the keeper, even against an accepted markup answer: indexes hold
    assert "s0-copy" not in again and "s0-edit" not in again and "s0" in again
    assert {k: again[k]["index"] for k in index} == index
    assert again["s0"]["duplicates"] == 3 and "s0-page19" in again
    assert publish(spark, cfg, lake, None)["published_changed"] == 0  # a rerun keeps the same pairs
    # a markup-accepted answer with a different text is its own pair unless the questions
    # match: here they do (same question), so it joins s0's group
    assert "s0-markup" not in again


def test_export_min_quality_cuts_on_the_quality_figure(env, spark):
    lake, cfg = env["lake"], env["cfg"]
    quality = sorted(r["quality"] for r in lake.read("webinstruct").collect())
    cut = quality[len(quality) // 2]
    result = export.run(spark, cfg, lake, str(env["tmp"] / "out"), "jsonl", False, cut)
    assert result["rows"] == sum(q >= cut for q in quality) < len(quality)
    with pytest.raises(Exception, match="min-quality"):
        export.run(spark, cfg, lake, str(env["tmp"] / "out2"), "jsonl", False, 1.5)
