"""Difficulty through Spark: recorded solution_votes rows in, one question_difficulty row per
question and teacher, incremental, rebinned when the bins change (jobs/stages/difficulty.py)."""

from __future__ import annotations

from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.tables import SOLUTION_VOTES
from webinstruct.jobs.core import labels
from webinstruct.jobs.stages import difficulty


def _votes(spark, lake, rows):
    """rows: (question_id, teacher, samples, groups, page answer, run)."""
    data = [{"question_id": q, "vote_key": f"vote-{t}", "synth_key": f"synth-{t}", "source": "web", "qa_id": f"qa-{q}",
             "refiner": "m1", "doc_id": f"doc-{q}", "question": f"question {q}", "samples": n,
             "parsed": sum(v for _, v in groups), "groups": [{"answer": a, "votes": v} for a, v in groups],
             "majority_answer": groups[0][0] if groups else None, "votes": groups[0][1] if groups else 0,
             "agreement": groups[0][1] / sum(v for _, v in groups) if groups else 0.0, "majority_ok": bool(groups),
             "reference_answer": ref, "keep_policy": "majority", "kept_samples": [], "run_id": run} for q, t, n, groups, ref, run in rows]
    lake.append("solution_votes", spark.createDataFrame([{f: r.get(f) for f in SOLUTION_VOTES.fieldNames()} for r in data],
                                                        SOLUTION_VOTES))


def test_pass_rates_per_question_and_teacher_binned_once(spark, tmp_path):
    cfg = load_config(lake=str(tmp_path / "lake"), overrides=["spark.shuffle_partitions=2"])
    lake = open_lake(spark, cfg)
    assert difficulty.run(spark, cfg, lake) is None  # nothing voted yet
    _votes(spark, lake, [
        ("q1", "small", 4, [("18", 3), ("16", 1)], "$18", "r1"),  # page answer, 3 of 4 equal -> easy
        ("q1", "large", 4, [("18", 4)], "$18", "r1"),  # the same question, another teacher -> its own row
        ("q2", "small", 4, [("20", 2), ("\\frac{1}{2}", 2)], "0.5", "r1"),  # second group equals the page -> medium
        ("q3", "small", 4, [("7", 1), ("9", 1)], None, "r1"),  # no page answer: the majority, 1 of 4 -> medium
        ("q4", "small", 4, [("3", 3)], "4", "r1"),  # nobody reaches the page's answer -> unsolved
        ("q5", "small", 8, [("x=2", 1), ("x=3", 7)], "2", "r1"),  # 1 of 8 -> hard
    ])
    first = difficulty.run(spark, cfg, lake)
    rows = {(r["question_id"], r["synth_key"]): r for r in lake.read("question_difficulty").collect()}
    assert first["binned"] == 6 and len(rows) == 6
    want = {("q1", "synth-small"): (3, 0.75, "page", "easy"), ("q1", "synth-large"): (4, 1.0, "page", "easy"),
            ("q2", "synth-small"): (2, 0.5, "page", "medium"), ("q3", "synth-small"): (1, 0.25, "majority", "medium"),
            ("q4", "synth-small"): (0, 0.0, "page", "unsolved"), ("q5", "synth-small"): (1, 0.125, "page", "hard")}
    assert {k: (r["passes"], r["pass_rate"], r["reference_kind"], r["difficulty"]) for k, r in rows.items()} == want
    assert first["level:easy"] == 2 and first["reference:majority"] == 1
    # a rerun bins nothing; a new vote is binned alone
    assert difficulty.run(spark, cfg, lake)["questions_in"] == 0
    _votes(spark, lake, [("q6", "small", 4, [("1", 4)], "1", "r2")])
    assert difficulty.run(spark, cfg, lake)["binned"] == 1
    # new bins: every vote again, under the new key
    strict = load_config(lake=cfg.lake.root, overrides=["spark.shuffle_partitions=2", "label.easy=1.0", "label.medium=0.5"])
    again = difficulty.run(spark, strict, lake)
    assert again["binned"] == 7
    mine = {(r["question_id"], r["synth_key"]): r["difficulty"] for r in
            lake.read("question_difficulty").where(f"difficulty_key = '{labels.difficulty_key(strict)}'").collect()}
    assert mine[("q1", "synth-small")] == "medium" and mine[("q1", "synth-large")] == "easy" and mine[("q3", "synth-small")] == "hard"
