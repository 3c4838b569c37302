"""`make demo`: build the shipped sample archive, run the pipeline on it, query the result.

Stages join the demo as they land; today that is ingest.
"""

from __future__ import annotations

from pathlib import Path

from jobs import ingest
from jobs.config import Config
from lib.sample_archive import build_sample_archive

DEMO_QUERY = """
SELECT host, lang, word_count AS words, charset, title
FROM documents
ORDER BY words DESC
"""


def run(spark, cfg: Config, lake, workdir: str) -> int:
    from jobs.cli import print_summary, run_sql, tables_text

    archive = build_sample_archive(Path(workdir) / "webinstruct-demo.warc.gz")
    print(f"sample archive: {archive}")
    counters = ingest.run(spark, cfg, lake, [str(archive)])
    print_summary("ingest", ingest.summary_rows(counters))
    print(f"\nlake {lake.root}:")
    print(tables_text(lake))
    print(f"\nwebinstruct sql \"{' '.join(DEMO_QUERY.split())}\"")
    print(run_sql(lake, DEMO_QUERY))
    return 0
