"""`make demo`: build the shipped sample archive, run the pipeline on it, query the result.

Stages join the demo as they land; today: ingest, recall, dedup, extract and refine (the
LLM steps use the offline SmolLM2-135M-Instruct model on vLLM CPU, prepared on first use).
Recall trains on seeds the project writes itself (lib/demo_seeds.py) unless the config
names its own.
"""

from __future__ import annotations

from pathlib import Path

import dataclasses

from jobs import dedup, extract, ingest, recall, refine
from jobs.config import Config
from lib.sample_archive import build_sample_archive

DEMO_QUERY = """
SELECT d.host, d.word_count AS words, d.charset, x.reason AS dedup, d.title
FROM documents d JOIN dedup x USING (doc_id)
ORDER BY x.cluster_id, x.is_keeper DESC, words DESC
"""

RECALL_QUERY = """
SELECT d.host, s.round, round(s.score, 3) AS score, v.verdict AS domain_verdict, left(d.title, 50) AS title
FROM recall_scores s JOIN documents d USING (doc_id) LEFT JOIN domains v ON v.domain = d.domain AND v.round = s.round
ORDER BY s.round, score DESC
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
    _prepare_offline_model(cfg)
    cfg = with_demo_seeds(cfg, Path(workdir) / "seeds")
    lake.config = cfg
    counters = recall.run(spark, cfg, lake)
    print_summary("recall", recall.summary_rows(lake, counters))
    counters = dedup.run(spark, cfg, lake)
    print_summary("dedup", dedup.summary_rows(counters))
    counters = extract.run(spark, cfg, lake)
    print_summary("extract", extract.summary_rows(counters))
    counters = refine.run(spark, cfg, lake)
    print_summary("refine", refine.summary_rows(counters))
    print(f"\nlake {lake.root}:")
    print(tables_text(lake))
    print(f"\nwebinstruct sql \"{' '.join(RECALL_QUERY.split())}\"")
    print(run_sql(lake, RECALL_QUERY))
    print(f"\nwebinstruct sql \"{' '.join(DEMO_QUERY.split())}\"")
    print(run_sql(lake, DEMO_QUERY))
    print(f"\nwebinstruct sql \"{' '.join(PAIRS_QUERY.split())}\"")
    print(run_sql(lake, PAIRS_QUERY))
    return 0


def with_demo_seeds(cfg: Config, folder: Path) -> Config:
    """The shipped seeds, unless the config has its own. The demo's scale changes a few
    settings: eight documents are too few to sample negatives from (half of them are Q&A
    pages), so the negatives are the shipped ones; one recalled page makes a candidate
    domain; 300 seed lines need more epochs than the paper's 3 over ~200K; and the
    135M judge's verdicts are stored and shown, but a model that small is no labeller, so
    they neither train a second round nor filter (rounds = 1, recalled = score)."""
    if cfg.recall.positives:
        return cfg
    from lib.demo_seeds import write_seeds

    pos, neg = write_seeds(folder)
    r = dataclasses.replace(
        cfg.recall, positives=[{"path": str(pos), "name": "demo seeds (lib/demo_seeds.py)"}],
        negatives=[{"path": str(neg), "name": "demo negatives (lib/demo_seeds.py)"}],
        negatives_from_documents=0, min_docs=1, min_fraction=0.5, epoch=25, lr=0.5, rounds=1, recalled="score",
    )
    return dataclasses.replace(cfg, recall=r)


def _prepare_offline_model(cfg: Config) -> None:
    """The demo's model is the packaged offline one: convert it once into the user cache."""
    from jobs.llm_stage import engine_spec
    from lib.llm.offline import default_model_dir, is_prepared, prepare

    spec = engine_spec(cfg)
    if spec.kind == "vllm" and Path(spec.model_path) == default_model_dir() and not is_prepared(default_model_dir()):
        print("preparing the offline model (once) ...")
        print(f"offline model ready in {prepare()}")
