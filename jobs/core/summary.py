"""What the console shows: end-of-stage summaries, table listings, SQL results. Stages
return counters; these turn counters and tables into text, so the CLI, `webinstruct run`
and the demo print the same thing."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys

from pyspark.errors import AnalysisException

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.contamination import BENCHMARK_SUMMARY_COLUMNS, benchmark_summary
from webinstruct.jobs.core.errors import WebinstructError
from webinstruct.lib.text_table import render


def print_summary(stage: str, rows: list[tuple[str, object]], notes: list[str] | None = None) -> None:
    print(f"\n{stage} summary")
    print(render(["", "count"], [list(r) for r in rows]))
    for line in notes or []:
        print(line)


def print_benchmarks(lake, cfg: Config) -> None:
    rows = benchmark_summary(lake, cfg)
    if rows:
        print("\ncontamination by benchmark (units flagged per tier)")
        print(render(BENCHMARK_SUMMARY_COLUMNS, rows))


def llm_summary(counters: dict, label: str, key: str) -> list[tuple[str, object]]:
    """The rows every LLM stage reports: statuses, rejections, requests, tokens, speed."""
    rows = [(label, counters.get(key, 0)), ("rows written", counters.get("rows_written", 0))]
    for k in sorted(k for k in counters if k.startswith("status_")):
        rows.append((f"  status {k[7:]}", counters[k]))
    for k in sorted(k for k in counters if k.startswith("rejected_")):
        rows.append((f"  rejected: {k[9:]}", counters[k]))
    seconds = counters.get("ms_slices", 0) / 1000
    rows += [
        ("engine requests", counters.get("generations", 0)),
        ("tokens in / out", f"{counters.get('tokens_in', 0)} / {counters.get('tokens_out', 0)}"),
        ("output tokens per second", f"{counters.get('tokens_out', 0) / seconds:.1f}" if seconds else "-"),
        ("commits", counters.get("slices", 0)),
    ]
    if counters.get("chunks_skipped"):
        rows.append(("chunks skipped (extract.max_chunks)", counters["chunks_skipped"]))
    return rows


def tables_text(lake) -> str:
    names = lake.tables()
    if not names:
        return f"no tables in {lake.root}"
    rows = [[n, lake.count(n), lake.version(n)] for n in names]
    return render(["table", "rows", "version"], rows)


class SqlError(WebinstructError):
    """A query Spark refused (a typo, an unknown table or column): its message and what the
    lake holds, without the log's tail."""

    log_tail = False


def run_sql(lake, query: str, fmt: str = "table", limit: int = 1000) -> str:
    names = lake.register_views()
    try:
        df = lake.spark.sql(query)
        columns = df.columns
        if fmt == "table":
            return render(columns, [list(r) for r in df.limit(limit).collect()])
        rows = [r.asDict(recursive=True) for r in df.limit(limit).collect()]  # never a whole table on the driver
    except AnalysisException as exc:  # parse errors too (ParseException is one)
        tables = set(lake.tables())
        views = [n for n in names if n not in tables]
        raise SqlError(f"{engine_message(exc)}\ntables: {', '.join(sorted(tables)) or '(none)'}"
                       + (f"\nviews: {', '.join(views)}" if views else "")) from None
    if fmt == "json":
        return json.dumps(rows, default=str, ensure_ascii=False, indent=1)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().rstrip("\n")


def engine_message(exc: Exception, max_lines: int = 12) -> str:
    """Spark's own words for a refused query: the first line, and for a parse error the
    query with its caret; never the analysed plan that follows."""
    text = str(exc).strip()
    lines = text.splitlines() or [type(exc).__name__]
    out = [lines[0].rstrip().removesuffix(";")]
    if "== SQL ==" in text:
        start = next(i for i, line in enumerate(lines) if "== SQL ==" in line)
        out += [line for line in lines[start:start + max_lines] if line.strip()]
    return "\n".join(out)


@contextlib.contextmanager
def stdout_to_stderr():
    """Send what libraries print (in Python and from child processes, through fd 1) to
    stderr, so stdout carries only the command's result."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
