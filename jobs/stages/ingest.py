"""Ingest: WARC/ARC archives -> `documents` and the `warc_files` manifest.

One Spark task per archive. New input only: archives whose manifest status is `ok` are
skipped; documents whose doc_id is already in the table are not written again, so a rerun
after a crash, or of a partial file, adds nothing twice. Order of commits: documents,
then the manifest, then the `runs` row; a run killed anywhere before the documents commit
leaves every table as it was.

    webinstruct ingest INPUT... [--sample N]
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from pyspark.sql import functions as F

from webinstruct.jobs.core import scope
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.documents import commit_documents, ingest_options, markup_counters
from webinstruct.jobs.core.errors import IngestError, NothingIngested
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.session import runs_on_one_machine
from webinstruct.jobs.core.storage import is_local
from webinstruct.jobs.core.tables import INGEST_OUTPUT, WARC_FILES
from webinstruct.lib.ingest.archive import DROP_REASONS
from webinstruct.lib.ingest.inputs import ListingError, expand_inputs
from webinstruct.lib.object_store import S3Settings
from webinstruct.lib.urls import safe_location
from webinstruct.udfs.ingest import process_archives


def pending_paths(lake: Lake, paths: list[str], retry_statuses: list[str]) -> tuple[list[str], int]:
    """Paths not yet recorded, or recorded with a status we retry. Returns (todo, skipped)."""
    if not paths or not lake.exists("warc_files"):
        return paths, 0
    done = {
        r["path"]
        for r in lake.read("warc_files")
        .where(~F.col("status").isin(list(retry_statuses)))
        .select("path")
        .collect()
    }
    todo = [p for p in paths if safe_location(p) not in done]  # stored without credentials
    return todo, len(paths) - len(todo)


@writes("ingest")
def run(spark, cfg: Config, lake: Lake, inputs: list[str], sample: int | None = None) -> dict:
    recorder = RunRecorder(lake, "ingest", cfg, args={"inputs": [safe_location(i) for i in inputs], "sample": sample})
    c = cfg.ingest
    try:
        paths = expand_inputs(inputs, c.exclude, sample, c.sample_seed, c.cc_base_url, allow_absolute=c.allow_absolute,
                              max_listing_bytes=c.max_listing_bytes, s3=S3Settings.from_options(cfg.lake.storage_options))
    except ListingError as exc:
        raise IngestError(f"{exc}\n(command line: ingest --allow-absolute; config: ingest.allow_absolute = true)") from None
    todo, skipped = pending_paths(lake, paths, c.retry_statuses)
    counters: Counter = Counter(files_listed=len(paths), files_skipped=skipped, files_processed=len(todo))
    if not todo:
        recorder.finish("ok", counters)
        return dict(counters)

    if not runs_on_one_machine(spark):  # executors elsewhere open local paths on their own disks
        counters["local_archives_on_cluster"] = sum(1 for p in todo if is_local(p))
    started = dt.datetime.now(dt.timezone.utc)
    fn = process_archives(todo, ingest_options(cfg), INGEST_OUTPUT, c.batch_rows, c.lost_attempts_limit)
    out = scope.current().persist(spark.range(0, len(todo), 1, numPartitions=len(todo)).mapInArrow(fn, INGEST_OUTPUT))
    markup_written, commit = commit_documents(lake, out, f"webinstruct.ingest.{recorder.run_id}", 0, recorder.run_id, started)
    counters.update(markup_counters(out))
    reports = [r["report"].asDict() for r in out.where(F.col("kind") == "file").select("report").collect()]

    finished = dt.datetime.now(dt.timezone.utc)
    previous = _recorded_outcomes(lake, [safe_location(p) for p in todo])
    rows = [
        {**r, "run_id": recorder.run_id, "started_at": started, "finished_at": finished}
        for r in reports
        if previous.get(r["path"]) != _outcome(r)  # a retry that ended the same way changes nothing
    ]
    if rows:
        lake.upsert("warc_files", spark.createDataFrame(rows, WARC_FILES), keys=["path"])

    for r in reports:
        counters[f"files_{r['status']}"] += 1
        for key in ("records", "responses", "html", "kept"):
            counters[key] += r[key] or 0
        for reason, n in (r["drops"] or {}).items():
            counters[f"drop_{reason}"] += n
    counters["documents_written"] = commit.rows
    counters["markup_pairs_written"] = markup_written
    counters["documents_version"] = commit.version or 0
    recorder.finish("ok", counters)
    failures = [(r["path"], r["error"] or "") for r in reports if r["status"] == "failed"]
    if failures and len(failures) == len(reports) and not skipped:  # not one listed archive read, now or before
        raise NothingIngested(f"no archive could be read ({len(failures)} failed; recorded in warc_files):\n"
                              + "\n".join(failure_lines(failures)))
    return {**counters, FAILURES: failures}


FAILURES = "failed_archives"  # (path, error) of this run's failed archives, for the summary (not a counter)
SHOWN_FAILURES = 5


def failure_lines(failures: list[tuple[str, str]], shown: int = SHOWN_FAILURES) -> list[str]:
    """The first few failed archives with their errors, then how many more."""
    lines = [f"  {path}: {' '.join(error.split())[:300] or 'no error recorded'}" for path, error in failures[:shown]]
    if len(failures) > shown:
        lines.append(f"  ... and {len(failures) - shown} more (webinstruct sql \"SELECT path, error FROM warc_files WHERE status = 'failed'\")")
    return lines


_OUTCOME = ("status", "error", "records", "responses", "html", "kept", "drops")


def _outcome(report: dict) -> tuple:
    return tuple(sorted(v.items()) if isinstance(v, dict) else v for v in (report[k] for k in _OUTCOME))


def _recorded_outcomes(lake: Lake, paths: list[str]) -> dict[str, tuple]:
    if not lake.exists("warc_files"):
        return {}
    rows = lake.read("warc_files").where(F.col("path").isin(paths)).select("path", *_OUTCOME).collect()
    return {r["path"]: _outcome(r.asDict()) for r in rows}


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    """The end-of-stage summary, in reading order."""
    rows = [
        ("archives listed", counters.get("files_listed", 0)),
        ("skipped (already ok)", counters.get("files_skipped", 0)),
        ("processed", counters.get("files_processed", 0)),
        ("  ok", counters.get("files_ok", 0)),
        ("  partial", counters.get("files_partial", 0)),
        ("  failed", counters.get("files_failed", 0)),
        ("WARC records", counters.get("records", 0)),
        ("HTTP responses", counters.get("responses", 0)),
        ("HTML 200 pages", counters.get("html", 0)),
        ("documents kept", counters.get("kept", 0)),
        ("documents written (new)", counters.get("documents_written", 0)),
        ("pages with Q&A markup", counters.get("markup_pages", 0)),
        ("markup pairs written (new)", counters.get("markup_pairs_written", 0)),
    ]
    errors = sorted((k, v) for k, v in counters.items() if k.startswith("markup_error_") and v)
    rows += [(f"malformed markup: {k[len('markup_error_'):]}", v) for k, v in errors]
    for reason in DROP_REASONS:
        if counters.get(f"drop_{reason}"):
            rows.append((f"dropped: {reason}", counters[f"drop_{reason}"]))
    return rows


def summary_notes(counters: dict) -> list[str]:
    """Lines printed under the summary table: which archives failed, and why."""
    failures = counters.get(FAILURES) or []
    lines = ["failed archives (path: error):", *failure_lines(failures)] if failures else []
    if counters.get("local_archives_on_cluster"):
        lines.append(f"note: {counters['local_archives_on_cluster']} archive(s) were local paths on a cluster session: each "
                     "executor opened them on its own machine (a shared mount at the same path, or they fail as unreadable "
                     "there); give s3://, hdfs:// or https:// locations instead")
    return lines
