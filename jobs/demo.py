"""`make demo`: build the shipped sample archive, run the pipeline on it, query the result.

Stages join the demo as they land; today: ingest, dedup, extract and refine (with the
offline SmolLM2-135M-Instruct model on vLLM CPU; prepared on first use).
"""

from __future__ import annotations

from pathlib import Path

from jobs import dedup, extract, ingest, refine
from jobs.config import Config
from lib.sample_archive import build_sample_archive

DEMO_QUERY = """
SELECT d.host, d.word_count AS words, d.charset, x.reason AS dedup, d.title
FROM documents d JOIN dedup x USING (doc_id)
ORDER BY x.cluster_id, x.is_keeper DESC, words DESC
"""

PAIRS_QUERY = """
SELECT d.host, e.status, r.status AS refined, left(coalesce(r.question, e.orig_question), 70) AS question
FROM qa_extracted e JOIN documents d USING (doc_id) LEFT JOIN qa_refined r USING (qa_id)
ORDER BY d.host, e.status
"""


def run(spark, cfg: Config, lake, workdir: str) -> int:
    from jobs.cli import print_summary, run_sql, tables_text

    archive = build_sample_archive(Path(workdir) / "webinstruct-demo.warc.gz")
    print(f"sample archive: {archive}")
    counters = ingest.run(spark, cfg, lake, [str(archive)])
    print_summary("ingest", ingest.summary_rows(counters))
    counters = dedup.run(spark, cfg, lake)
    print_summary("dedup", dedup.summary_rows(counters))
    _prepare_offline_model(cfg)
    counters = extract.run(spark, cfg, lake)
    print_summary("extract", extract.summary_rows(counters))
    counters = refine.run(spark, cfg, lake)
    print_summary("refine", refine.summary_rows(counters))
    print(f"\nlake {lake.root}:")
    print(tables_text(lake))
    print(f"\nwebinstruct sql \"{' '.join(DEMO_QUERY.split())}\"")
    print(run_sql(lake, DEMO_QUERY))
    print(f"\nwebinstruct sql \"{' '.join(PAIRS_QUERY.split())}\"")
    print(run_sql(lake, PAIRS_QUERY))
    return 0


def _prepare_offline_model(cfg: Config) -> None:
    """The demo's model is the packaged offline one: convert it once into the user cache."""
    from jobs.llm_stage import engine_spec
    from lib.llm.offline import default_model_dir, is_prepared, prepare

    spec = engine_spec(cfg)
    if spec.kind == "vllm" and Path(spec.model_path) == default_model_dir() and not is_prepared(default_model_dir()):
        print("preparing the offline model (once) ...")
        print(f"offline model ready in {prepare()}")
