"""`webinstruct export --layout verified` and the label filters, through Spark, on real pairs.

Published pairs are written as data (real GSM8K and MATH500 pairs and a proof), labelled by
the label stage, and three of their questions get recorded votes binned by the difficulty
stage; the export must carry exactly those labels, filter on them, and count them on the card.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pyarrow.parquet as pq
import pytest

from tests.conftest import shared
from webinstruct.jobs.cli import main
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.errors import ExportError
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.synthesis import synth_key, vote_key, web_question_id
from webinstruct.jobs.core.tables import QA_REFINED, SOLUTION_VOTES, WEBINSTRUCT
from webinstruct.jobs.stages import difficulty, export, label
from webinstruct.lib.llm.prompts import load_prompt

PROOF = ("Prove that the sum of two even integers is even.",
         "Write them as $2a$ and $2b$; their sum $2(a+b)$ is twice an integer, so it is even. $\\blacksquare$")


def _lines(*parts, n):
    with open(shared(*parts), encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


@pytest.fixture(scope="module")
def env(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verified")
    cfg = load_config(lake=str(tmp / "lake"), overrides=["spark.shuffle_partitions=2"])
    lake = open_lake(spark, cfg)
    pairs = [(f"g{i}", r["question"], r["answer"]) for i, r in enumerate(_lines("benchmarks", "gsm8k", "test.jsonl", n=3))]
    pairs += [(f"m{i}", r["problem"], r["solution"]) for i, r in enumerate(_lines("benchmarks", "math", "math500_test.jsonl", n=2))]
    pairs += [("proof", *PROOF)]
    refined = [{"qa_id": q, "refiner": "m1", "doc_id": f"doc-{q}", "status": "ok", "question": qq, "answer": a, "orig_question": qq,
                "orig_answer": a, "model": "m1", "prompt_version": "r1", "run_id": "20260101T000000Z-aaaa",
                "refined_at": dt.datetime(2026, 1, 1)} for q, qq, a in pairs]
    lake.append("qa_refined", spark.createDataFrame([{f: r.get(f) for f in QA_REFINED.fieldNames()} for r in refined], QA_REFINED))
    published = [{"index": i, "orig_question": qq, "orig_answer": a, "question": qq, "answer": a, "source": "example.org",
                  "qa_id": q, "refiner": "m1", "doc_id": f"doc-{q}", "method": "llm"} for i, (q, qq, a) in enumerate(pairs)]
    lake.replace("webinstruct", spark.createDataFrame([{f: r.get(f) for f in WEBINSTRUCT.fieldNames()} for r in published], WEBINSTRUCT))
    label.run(spark, cfg, lake)
    # recorded votes of the current teacher for three questions: g0 easy (4 of 4), g1 hard (1 of 8), m0 unsolved
    ids = {r["qa_id"]: r["question_id"] for r in lake.read("webinstruct").select("qa_id", web_question_id().alias("question_id")).collect()}
    vkey = vote_key(cfg, synth_key(cfg, load_prompt(cfg.synthesize.prompt).version))
    votes = [("g0", 4, [("18", 4)], "18"), ("g1", 8, [("2", 7), ("3", 1)], "3"),
             ("m0", 4, [("(0, 3)", 4)], "\\left( 3, \\frac{\\pi}{2} \\right)")]
    rows = [{"question_id": ids[q], "vote_key": vkey, "synth_key": "teacher", "source": "web", "qa_id": q, "refiner": "m1",
             "doc_id": f"doc-{q}", "samples": n, "groups": [{"answer": a, "votes": v} for a, v in groups],
             "parsed": sum(v for _, v in groups), "majority_answer": groups[0][0], "votes": groups[0][1],
             "agreement": groups[0][1] / sum(v for _, v in groups), "majority_ok": groups[0][1] >= 2, "reference_answer": ref,
             "keep_policy": "majority", "kept_samples": [], "run_id": "r1"}
            for q, n, groups, ref in votes]
    lake.append("solution_votes", spark.createDataFrame([{f: r.get(f) for f in SOLUTION_VOTES.fieldNames()} for r in rows],
                                                        SOLUTION_VOTES))
    difficulty.run(spark, cfg, lake)
    return spark, cfg, lake, tmp


def _read(folder) -> list[dict]:
    return [r for f in sorted((folder / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_the_verified_layout_carries_each_pairs_labels(env):
    spark, cfg, lake, tmp = env
    result = export.run(spark, cfg, lake, str(tmp / "all"), "parquet", layout="verified")
    rows = {r["index"]: r for r in _read(tmp / "all")}
    assert list(pq.read_table(next((tmp / "all" / "data").glob("*.parquet"))).column_names) == export.VERIFIED_COLUMNS
    assert result["rows"] == len(rows) == 6
    labels = {r["qa_id"]: r for r in lake.read("pair_labels").collect()}
    by_qa = {r["qa_id"]: rows[r["index"]] for r in lake.read("webinstruct").collect()}
    for qa_id, row in by_qa.items():
        assert (row["answer"], row["answer_type"], row["category"]) == \
               (labels[qa_id]["final_answer"], labels[qa_id]["answer_type"], labels[qa_id]["category"])
    assert by_qa["g0"]["answer"] == "18" and by_qa["proof"]["answer"] is None and by_qa["proof"]["answer_type"] == "proof"
    assert {q: by_qa[q]["difficulty"] for q in by_qa} == {"g0": "easy", "g1": "hard", "g2": None, "m0": "unsolved", "m1": None,
                                                          "proof": None}
    card = json.loads((tmp / "all" / "card.json").read_text())
    assert card["labels"]["answer_type"] == dict(Counter(r["answer_type"] for r in rows.values()))
    assert card["labels"]["difficulty"] == {"easy": 1, "hard": 1, "unsolved": 1, "not labelled": 3}
    assert card["labels"]["verifiable"] == 5
    text = (tmp / "all" / "README.md").read_text()
    assert "WebInstruct-verified schema" in text and "| proof | 1 |" in text
    assert export.run(spark, cfg, lake, str(tmp / "all"), "parquet", layout="verified")["skipped"]


def test_filters_narrow_either_layout(env):
    spark, cfg, lake, tmp = env
    export.run(spark, cfg, lake, str(tmp / "easy"), "parquet", layout="verified", verifiable_only=True, difficulty=["easy", "hard"])
    assert sorted(r["difficulty"] for r in _read(tmp / "easy")) == ["easy", "hard"]
    export.run(spark, cfg, lake, str(tmp / "plain"), "parquet", verifiable_only=True)
    plain = _read(tmp / "plain")
    assert len(plain) == 5 and set(plain[0]) == set(export.COLUMNS)  # the proof is left out, the layout kept
    assert json.loads((tmp / "plain" / "card.json").read_text())["labels"]["verifiable"] == 5
    categories = {r["category"] for r in lake.read("pair_labels").collect()}
    other = next(c for c in ("law", "medicine", "humanities") if c not in categories)
    assert export.run(spark, cfg, lake, str(tmp / "none"), "parquet", category=[other])["rows"] == 0
    with pytest.raises(ExportError, match="--difficulty may hold easy, medium, hard, unsolved; got trivial"):
        export.run(spark, cfg, lake, str(tmp / "bad"), "parquet", difficulty=["trivial"])


def test_the_cli_reads_comma_lists_and_names_a_bad_value(env, capsys):
    spark, cfg, lake, tmp = env
    root = cfg.lake.root
    assert main(["--lake", root, "export", "--out", str(tmp / "cli"), "--layout", "verified", "--verifiable-only",
                 "--difficulty", "easy, hard"]) == 0
    assert sorted(r["difficulty"] for r in _read(tmp / "cli")) == ["easy", "hard"]
    capsys.readouterr()
    assert main(["--lake", root, "export", "--out", str(tmp / "cli2"), "--category", "maths"]) != 0
    assert "--category may hold math, physics" in capsys.readouterr().err
    assert not (tmp / "cli2").exists()
    assert main(["--lake", str(tmp / "empty-lake"), "difficulty"]) == 0
    assert "nothing to do (no solution_votes: synthesize has not run)" in capsys.readouterr().out
