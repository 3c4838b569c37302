"""The demo's own sample archive goes through ingest, dedup, extract and refine (the real
offline model on vLLM CPU), with each drop path exercised."""

import pytest

from jobs import demo
from jobs.lake import open_lake


@pytest.mark.llm
def test_demo_runs_every_stage_on_its_sample(spark, make_config, tmp_path, capsys, offline_model):
    cfg = make_config()
    lake = open_lake(spark, cfg)
    assert demo.run(spark, cfg, lake, str(tmp_path / "work")) == 0
    out = capsys.readouterr().out
    docs = {r["url"]: r for r in lake.read("documents").collect()}
    docs_by_id = {r["doc_id"]: u for u, r in docs.items()}
    assert len(docs) == 8  # 6 pages kept by ingest + 2 later copies
    physics = docs["http://physics.homework.example.co.uk/mechanics/braking-distance"]
    assert physics["charset"] == "cp1252" and "4 m/s²" in physics["text"]  # windows-1252 via <meta>
    assert not any("mathe.example.de" in u for u in docs)  # German page: language filter
    assert "dropped: language" in out and "dropped: too_short" in out and "dropped: revisit" in out
    assert "calculus-notes.example.edu" in out  # the demo query ran
    outcome = {docs_by_id[r["doc_id"]]: r for r in lake.read("dedup").collect()}
    mirror = outcome["https://mirror.algebra-help.example.net/q/1041"]
    repost = outcome["https://homework-answers.example.com/probability/two-sixes"]
    assert (mirror["reason"], mirror["is_keeper"]) == ("exact", False)
    assert (repost["reason"], repost["is_keeper"]) == ("near", False)
    assert docs_by_id[repost["cluster_id"]] == "https://stats.example.net/q/77/probability-two-sixes"
    assert sum(r["is_keeper"] for r in outcome.values()) == 6
    assert lake.spark.table("documents_dedup").count() == 6
    # extract read exactly the kept documents; refine rewrote exactly the valid pairs
    extracted = lake.read("qa_extracted").collect()
    kept = {r["doc_id"] for r in lake.spark.table("documents_dedup").collect()}
    assert {r["doc_id"] for r in extracted} == kept
    ok = {r["qa_id"] for r in extracted if r["status"] == "ok"}
    if ok:
        assert {r["qa_id"] for r in lake.read("qa_refined").collect()} == ok
    assert "extract summary" in out and "refine summary" in out and "output tokens per second" in out
