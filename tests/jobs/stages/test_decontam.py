"""The decontam job through Spark on real benchmark items, with the real offline judge.

One module lake: 80 real GSM8K test items registered as a benchmark file, and refined
pairs written as data (a verbatim copy, a copy with numbers changed, a paraphrase written
for this project, an answer that quotes a test question, real GSM8K *train* and Stack
Exchange pairs, a rejected pair). Every neighbour goes to the judge (flag_threshold 2, as
OpenMathInstruct-2 did), so tier 3's exact shortcut and the LLM path both run.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.conftest import REPO, shared
from webinstruct.jobs.cli import main
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.tables import DOCUMENTS, QA_EXTRACTED, QA_REFINED
from webinstruct.jobs.stages import decontam
from webinstruct.lib.decontam.benchmarks import load_builtin
from webinstruct.lib.decontam.judge import combine
from webinstruct.lib.text_normalize import normalize

pytestmark = pytest.mark.llm
PARAPHRASES = REPO / "tests" / "data" / "paraphrased_benchmark_items.jsonl"
OVERRIDES = ["gate.enabled=false", "decontam.flag_threshold=2.0", "decontam.judge_threshold=0.75", "llm.max_model_len=1024", "llm.partitions=1"]


def _pair(qa_id, question, answer, refiner="m1", status="ok"):
    return {"qa_id": qa_id, "refiner": refiner, "doc_id": f"doc-{qa_id}", "status": status, "question": question,
            "answer": answer, "orig_question": question, "orig_answer": answer, "model": refiner, "prompt_version": "p1",
            "run_id": "20260101T000000Z-aaaa", "refined_at": dt.datetime(2026, 1, 1)}


@pytest.fixture(scope="module")
def env(spark, offline_model, tmp_path_factory):
    from webinstruct.jobs.core.config import load_config

    tmp = tmp_path_factory.mktemp("decontam")
    gsm = list(load_builtin("gsm8k", shared("benchmarks")))
    paraphrase = next(json.loads(line) for line in open(PARAPHRASES, encoding="utf-8"))  # gsm8k item 7
    chosen = {i.item_id: i for i in gsm[:80]}
    assert paraphrase["item_id"] in chosen
    bench_file = tmp / "gsm8k_head.jsonl"
    with open(bench_file, "w", encoding="utf-8") as fh:
        for item in chosen.values():
            fh.write(json.dumps({"q": item.question, "a": item.answer, "id": f"test-{item.item_id}"}) + "\n")
    a, b, c = gsm[3], gsm[11], chosen[paraphrase["item_id"]]
    train = [json.loads(line) for line in open(shared("benchmarks", "gsm8k", "train.jsonl"), encoding="utf-8")][:2]
    qa = [json.loads(line) for line in open(shared("qa", "stackmathqa_700.jsonl"), encoding="utf-8")][:2]
    pairs = [
        _pair("verbatim", a.question, a.answer),
        _pair("numbers", b.question.replace("3", "7").replace("5", "8"), "unknown"),
        _pair("paraphrase", paraphrase["paraphrase"], "unknown"),
        _pair("quotes", "What did the teacher assign?", "She assigned this one: " + gsm[20].question),
        _pair("train0", train[0]["question"], train[0]["answer"]),
        _pair("train1", train[1]["question"], train[1]["answer"]),
        _pair("stack0", qa[0]["Q"], qa[0]["A"]),
        _pair("stack0", qa[0]["Q"], qa[0]["A"], refiner="m2"),
        _pair("stack1", qa[1]["Q"], qa[1]["A"]),
        _pair("rejected", gsm[30].question, gsm[30].answer, status="rejected"),
    ]
    cfg = load_config(lake=str(tmp / "lake"), overrides=OVERRIDES)
    lake = open_lake(spark, cfg)
    lake.append("qa_refined", spark.createDataFrame([{f: p.get(f) for f in QA_REFINED.fieldNames()} for p in pairs], QA_REFINED))
    extracted = [{"qa_id": p["qa_id"], "doc_id": p["doc_id"], "status": "ok", "model": "x", "prompt_version": "e1",
                  "run_id": "20260101T000000Z-aaaa"} for p in pairs if p["refiner"] == "m1"]
    lake.append("qa_extracted", spark.createDataFrame([{f: r.get(f) for f in QA_EXTRACTED.fieldNames()} for r in extracted], QA_EXTRACTED))
    docs = [{"doc_id": p["doc_id"], "url": f"https://forum.example.org/{p['qa_id']}", "domain": "example.org",
             "warc_path": "crawl.warc.gz", "warc_offset": 7} for p in pairs if p["refiner"] == "m1"]
    lake.append("documents", spark.createDataFrame([{f: r.get(f) for f in DOCUMENTS.fieldNames()} for r in docs], DOCUMENTS))
    return {"cfg": cfg, "lake": lake, "lake_dir": str(tmp / "lake"), "file": bench_file, "items": (a, b, c), "gsm": gsm, "tmp": tmp}


def _cli(env, *args):
    sets = [x for o in OVERRIDES for x in ("--set", o)]
    return main(["--lake", env["lake_dir"], *sets, *args])


def test_benchmarks_add_and_list(env, capsys):
    args = ["benchmarks", "add", "--file", str(env["file"]), "--name", "gsm8k_head", "--question", "q", "--answer", "a", "--id", "id"]
    assert _cli(env, *args) == 0
    lake = env["lake"]
    assert lake.count("benchmarks") == 80 and lake.version("benchmarks") == 0
    assert _cli(env, *args) == 0  # the same items again: nothing written
    assert lake.version("benchmarks") == 0 and "already registered" in capsys.readouterr().out
    assert _cli(env, "benchmarks", "list") == 0
    out = capsys.readouterr().out
    assert "gsm8k_head" in out and "80" in out
    assert _cli(env, "benchmarks", "add", "--file", str(env["tmp"] / "missing.jsonl"), "--name", "x") == 2
    assert "no benchmark file" in capsys.readouterr().err


def test_pairs_three_tiers_and_publish(env, spark):
    cfg, lake = env["cfg"], env["lake"]
    a, b, c = env["items"]
    counters = decontam.pairs(spark, cfg, lake)
    assert counters["pairs_t1_checked"] == 9 and counters["pairs_t2_checked"] == 9  # the rejected pair is not a unit
    rows = [r.asDict() for r in lake.read("contamination").collect()]
    t1 = {(r["qa_id"], r["field"]): r for r in rows if r["tier"] == 1}
    assert t1[("verbatim", "question")]["item_id"] == f"test-{a.item_id}"
    assert t1[("verbatim", "question")]["evidence"] in normalize(a.question)
    assert ("quotes", "answer") in t1 and ("quotes", "question") not in t1
    assert not any(q.startswith(("train", "stack")) for q, _ in t1)
    # tier 2: the edited copies' nearest item is their source
    t2 = [r for r in rows if r["tier"] == 2]
    best = {}
    for r in sorted(t2, key=lambda r: -r["score"]):
        best.setdefault(r["qa_id"], r)
    assert best["verbatim"]["item_id"] == f"test-{a.item_id}" and best["verbatim"]["score"] > 0.99
    assert best["numbers"]["item_id"] == f"test-{b.item_id}"
    assert best["paraphrase"]["item_id"] == f"test-{c.item_id}"
    assert all(r["verdict"] == "candidate" for r in t2)  # flag_threshold 2: everything goes to the judge
    # tier 3: the verbatim copy by the exact shortcut, no LLM call; the rest judged both ways
    t3 = {(r["qa_id"], r["refiner"], r["item_id"]): r for r in rows if r["tier"] == 3}
    exact = t3[("verbatim", "m1", f"test-{a.item_id}")]
    assert (exact["method"], exact["verdict"]) == ("exact", "contaminated")
    judgements = [r.asDict() for r in lake.read("decontam_judgements").collect()]
    assert not any(j["qa_id"] == "verbatim" and j["item_id"] == f"test-{a.item_id}" for j in judgements)
    asked = {(r["qa_id"], r["refiner"], r["item_id"]) for r in t2} - {("verbatim", "m1", f"test-{a.item_id}")}
    assert {(j["qa_id"], j["refiner"], j["item_id"]) for j in judgements} == asked
    by_candidate: dict = {}
    for j in judgements:
        assert j["status"] in {"ok", "parse_error", "truncated"} and j["raw_output"] is not None
        assert j["model"] == cfg.llm.model and j["prompt_version"] and j["completion_tokens"] <= cfg.decontam.judge_max_tokens
        by_candidate.setdefault((j["qa_id"], j["refiner"], j["item_id"]), {})[j["order"]] = j
    assert all(set(v) == {"pair_first", "benchmark_first"} for v in by_candidate.values())
    assert sum(j["status"] == "ok" for j in judgements) >= len(judgements) // 2  # the schema keeps replies parseable
    for key, orders in by_candidate.items():  # stored verdict = the rule applied to the stored replies
        answers = [o["same"] if o["status"] == "ok" else None for o in orders.values()]
        assert t3[key]["method"] == "judge" and t3[key]["verdict"] == combine(answers, "either")
    # published: refined-ok pairs no tier flagged, with lineage
    bad = {k[0] for k, r in t3.items() if r["verdict"] in ("contaminated", "unparsed")} | {"verbatim", "quotes"}
    published = {(r["qa_id"], r["refiner"]): r for r in lake.read("webinstruct").collect()}
    expected = {(p, m) for p, m in [("numbers", "m1"), ("paraphrase", "m1"), ("train0", "m1"), ("train1", "m1"),
                                    ("stack0", "m1"), ("stack0", "m2"), ("stack1", "m1")] if p not in bad}
    assert set(published) == expected
    for (qa_id, _), r in published.items():
        assert r["url"] == f"https://forum.example.org/{qa_id}" and r["source"] == "example.org" and r["warc_offset"] == 7
        assert r["index"] >= 0 and r["extract_prompt_version"] == "e1"
    assert published.get(("stack0", "m1"), {"index": 0})["index"] != published.get(("stack0", "m2"), {"index": 1})["index"]


def test_rerun_changes_nothing_and_a_new_benchmark_rechecks(env, spark, capsys):
    cfg, lake = env["cfg"], env["lake"]
    tables = ("contamination", "decontam_checked", "decontam_judgements", "webinstruct", "benchmarks")
    before = {t: lake.version(t) for t in tables}
    counters = decontam.pairs(spark, cfg, lake)
    assert counters["pairs_t1_checked"] == 0 and counters.get("pairs_t3_judged", 0) == 0 and counters["published_changed"] == 0
    assert {t: lake.version(t) for t in tables} == before
    # a second benchmark holding one published pair's question: everything is checked
    # against the new set, and that pair leaves the published set
    qa = json.loads(open(shared("qa", "stackmathqa_700.jsonl"), encoding="utf-8").readline())
    extra = env["tmp"] / "extra.jsonl"
    extra.write_text(json.dumps({"problem": qa["Q"]}) + "\n", encoding="utf-8")
    assert _cli(env, "benchmarks", "add", "--file", str(extra), "--name", "extra", "--question", "problem") == 0
    counters = decontam.pairs(spark, cfg, lake)
    assert counters["pairs_t1_checked"] == 9 and counters["published_changed"] == 1
    published = {r["qa_id"] for r in lake.read("webinstruct").collect()}
    assert "stack0" not in published
    hit = lake.read("contamination").where("benchmark = 'extra' AND tier = 1 AND field = 'question'").collect()
    assert {r["refiner"] for r in hit} == {"m1", "m2"}


def test_check_an_external_file(env, capsys):
    a, b, c = env["items"]
    paraphrase = json.loads(open(PARAPHRASES, encoding="utf-8").readline())["paraphrase"]
    qa = [json.loads(line) for line in open(shared("qa", "stackmathqa_700.jsonl"), encoding="utf-8")][5:7]
    path = env["tmp"] / "someone_elses_sft.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"instruction": a.question.upper(), "output": "42"}) + "\n")
        for r in qa:
            fh.write(json.dumps({"instruction": r["Q"], "output": r["A"]}) + "\n")
        fh.write(json.dumps({"instruction": paraphrase, "output": "?"}) + "\n")
    capsys.readouterr()
    assert _cli(env, "decontam", "check", "--input", str(path), "--question-field", "instruction",
                "--answer-field", "output", "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["flagged"] and rows[0]["tier"] == 1 and rows[0]["item_id"] == f"test-{a.item_id}"
    assert not rows[1]["flagged"] and not rows[2]["flagged"]
    assert all(r["score"] is not None and r["benchmark"] for r in rows[1:3])  # the nearest item is shown
    # the paraphrase reaches the judge (in this process); flagged or not, its source is named
    assert rows[3]["item_id"] == f"test-{c.item_id}" and rows[3]["score"] >= 0.75
    assert rows[3]["tier"] in (None, 3)
    assert _cli(env, "decontam", "check", "--input", str(path), "--question-field", "prompt") == 2
    assert "no field 'prompt'" in capsys.readouterr().err
