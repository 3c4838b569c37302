"""`make demo`: build the shipped sample archive, run the pipeline on it, query the result.

Stages join the demo as they land; today: ingest, then dedup.
"""

from __future__ import annotations

from pathlib import Path

from jobs import dedup, ingest
from jobs.config import Config
from lib.sample_archive import build_sample_archive

DEMO_QUERY = """
SELECT d.host, d.word_count AS words, d.charset, x.reason AS dedup, d.title
FROM documents d JOIN dedup x USING (doc_id)
ORDER BY x.cluster_id, x.is_keeper DESC, words DESC
"""


def run(spark, cfg: Config, lake, workdir: str) -> int:
    from jobs.cli import print_summary, run_sql, tables_text

    archive = build_sample_archive(Path(workdir) / "webinstruct-demo.warc.gz")
    print(f"sample archive: {archive}")
    counters = ingest.run(spark, cfg, lake, [str(archive)])
    print_summary("ingest", ingest.summary_rows(counters))
    counters = dedup.run(spark, cfg, lake)
    print_summary("dedup", dedup.summary_rows(counters))
    print(f"\nlake {lake.root}:")
    print(tables_text(lake))
    print(f"\nwebinstruct sql \"{' '.join(DEMO_QUERY.split())}\"")
    print(run_sql(lake, DEMO_QUERY))
    return 0
