"""`make demo`: `webinstruct run` on the project's own sample, then a few queries.

The sample archive (lib/demo/sample_archive.py), the recall seeds (lib/demo/seeds.py) and
the benchmark (lib/demo/benchmark.py, one item planted in a demo page) are all written by the
project; the LLM steps use the offline SmolLM2-135M-Instruct model on vLLM CPU and tier 2
the packaged all-MiniLM-L6-v2. The config's own seeds or benchmarks win when it has them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from webinstruct.jobs import pipeline
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.report import write_report
from webinstruct.jobs.core.summary import run_sql, tables_text
from webinstruct.lib.demo.benchmark import source, write_benchmark
from webinstruct.lib.demo.sample_archive import build_sample_archive
from webinstruct.lib.demo.seeds import write_seeds

RECALL_QUERY = """
SELECT d.host, s.round, round(s.score, 3) AS score, v.verdict AS domain_verdict, left(d.title, 50) AS title
FROM recall_scores s JOIN documents d USING (doc_id) LEFT JOIN domains v ON v.domain = d.domain AND v.round = s.round
ORDER BY s.round, score DESC
"""

DEMO_QUERY = """
SELECT d.host, d.word_count AS words, d.charset, x.reason AS dedup, d.title
FROM documents d JOIN dedup x USING (doc_id)
ORDER BY x.cluster_id, x.is_keeper DESC, words DESC
"""

CONTAMINATION_QUERY = """
SELECT c.level, c.tier, c.method, c.benchmark, c.item_id, round(c.score, 3) AS score, c.verdict,
       left(c.evidence, 60) AS evidence, d.host
FROM contamination c JOIN documents d USING (doc_id)
ORDER BY c.level, c.tier, score DESC
"""

PAIRS_QUERY = """
SELECT d.host, e.method, e.status, r.status AS refined, q.passed AS gate, concat_ws(', ', q.reasons) AS reasons,
       w.index IS NOT NULL AS published, left(coalesce(r.question, e.orig_question), 50) AS question
FROM qa_extracted e JOIN documents d USING (doc_id) LEFT JOIN qa_refined r USING (qa_id)
LEFT JOIN qa_quality q ON q.qa_id = r.qa_id AND q.refiner = r.refiner
LEFT JOIN webinstruct w ON w.qa_id = e.qa_id AND w.refiner = r.refiner
ORDER BY d.host, e.status
"""

PUBLISHED_QUERY = """
SELECT method, round(quality, 2) AS quality, left(question, 70) AS question, left(answer, 70) AS answer, source
FROM webinstruct ORDER BY quality DESC LIMIT 5
"""


def run(spark, cfg: Config, lake, workdir: str, report: str | None = None) -> int:
    work = Path(workdir)
    archive = build_sample_archive(work / "webinstruct-demo.warc.gz")
    print(f"sample archive: {archive}")
    cfg = with_demo_benchmark(with_demo_seeds(cfg, work / "seeds"), work / "benchmark")
    out = cfg.export.out or str(work / "export")
    steps = pipeline.run(spark, cfg, lake, [str(archive)], out=out, messages=True)
    print(f"\nlake {lake.root}:")
    print(tables_text(lake))
    for query in (RECALL_QUERY, DEMO_QUERY, CONTAMINATION_QUERY, PAIRS_QUERY, PUBLISHED_QUERY):
        print(f"\nwebinstruct sql \"{' '.join(query.split())}\"")
        print(run_sql(lake, query))
    path = write_report(lake, cfg, report or str(work / "report.html"), steps)
    print(f"\nreport: {path} (open it in a browser; it needs no network)")
    return 0


def with_demo_seeds(cfg: Config, folder: Path) -> Config:
    """The shipped seeds, unless the config has its own. The demo's scale changes a few
    settings: nine documents are too few to sample negatives from (half of them are Q&A
    pages), so the negatives are the shipped ones; one recalled page makes a candidate
    domain; 300 seed lines need more epochs than the paper's 3 over ~200K; and the
    135M judge's verdicts are stored and shown, but a model that small is no labeller, so
    they neither train a second round nor filter (rounds = 1, recalled = score)."""
    if cfg.recall.positives:
        return cfg

    pos, neg = write_seeds(folder)
    r = dataclasses.replace(
        cfg.recall, positives=[{"path": str(pos), "name": "demo seeds (lib/demo/seeds.py)"}],
        negatives=[{"path": str(neg), "name": "demo negatives (lib/demo/seeds.py)"}],
        negatives_from_documents=0, min_docs=1, min_fraction=0.5, epoch=25, lr=0.5, rounds=1, recalled="score",
    )
    return dataclasses.replace(cfg, recall=r)


def with_demo_benchmark(cfg: Config, folder: Path) -> Config:
    """The project's own benchmark file, unless the config names benchmarks."""
    if cfg.decontam.benchmarks:
        return cfg

    d = dataclasses.replace(cfg.decontam, benchmarks=[source(write_benchmark(folder))])
    return dataclasses.replace(cfg, decontam=d)
