"""Select: the WARC records to fetch, from Common Crawl's columnar URL index -> `selection`.

The index (`cc-index/table/cc-main/warc/crawl=<CRAWL>/subset=warc/`) is read with only the
columns the selection needs and only the crawls asked for: by Spark (`spark.read.parquet`:
partition and column pruning, the domain filter pushed to the row groups) where Spark
reaches the root, or in Spark tasks by pyarrow (HTTP range requests or an S3 API: the
footer, then the needed columns of the row groups whose domain statistics can match).
Either way the same filters decide: status 200, the MIME types, the primary language, the
registered domains (a list, a file, or the accepted verdicts of a recall round), URL
patterns, a seeded sample and a cap per domain. Each record is kept with why it was
chosen. Incremental: a record already in `selection` is not added again.

    webinstruct select --index ROOT --crawl CC-MAIN-2024-22 [--domains a.org,b.com | --domains-file F |
                       --accepted-domains ROUND] [--languages en] [--mime text/html] [--url-like '%/questions/%']
                       [--sample 0.02 --seed 42] [--per-domain N]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from webinstruct.jobs.core import scope
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import SelectError
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.session import parallelism
from webinstruct.jobs.core.tables import CC_INDEX_COLUMNS, SELECTION
from webinstruct.jobs.core.views import domain_verdicts
from webinstruct.lib.ingest.cc_index import TABLE, IndexReadError, index_files, language_codes
from webinstruct.lib.ingest.range_reader import ReadOptions, probe_size
from webinstruct.lib.object_store import S3Settings
from webinstruct.lib.urls import safe_location
from webinstruct.udfs.cc_index import read_index

NAME = "selection"
MAX_DOMAINS_FILE_BYTES = 64 << 20
SIZE_PROBES = 200  # WARC files whose size is asked for (HEAD or stat) for the summary; more are sampled


@dataclass
class Request:
    """One selection: the config's [select] keys, overridden by the command line."""

    index: str
    crawls: list[str]
    languages: list[str] = field(default_factory=list)
    mime: list[str] = field(default_factory=list)
    url_like: list[str] = field(default_factory=list)
    sample: float = 1.0
    seed: int = 42
    per_domain: int = 0
    domains: list[str] | None = None  # an explicit list
    domains_file: str | None = None
    accepted_round: int | None = None  # the domains table's accepted verdicts of this round

    @property
    def reason(self) -> str:
        if self.accepted_round is not None:
            return "accepted_domains"
        if self.domains_file:
            return "domains_file"
        return "domains" if self.domains else "filter"

    def key(self) -> str:
        facts = [self.crawls, self.languages, self.mime, self.url_like, self.sample, self.seed, self.per_domain,
                 sorted(self.domains or []), self.domains_file, self.accepted_round]
        return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def request_from(cfg: Config, **given) -> Request:
    s = cfg.select
    values = {"index": s.index, "crawls": list(s.crawls), "languages": list(s.languages), "mime": list(s.mime),
              "url_like": list(s.url_like), "sample": s.sample, "seed": s.seed, "per_domain": s.per_domain}
    values.update({k: v for k, v in given.items() if v is not None})
    return Request(**values)


@writes("select")
def run(spark, cfg: Config, lake: Lake, request: Request) -> dict:
    _check(request)
    recorder = RunRecorder(lake, "select", cfg, args={"index": safe_location(request.index), "crawls": request.crawls,
                                                      "reason": request.reason, "select_key": request.key()})
    domains = _domains(spark, lake, request)
    frame = _index(spark, cfg, request, domains)
    chosen = scope.current().materialize(_filtered(frame, request, domains), "chosen")
    now = dt.datetime.now(dt.timezone.utc)
    rows = chosen.select(
        F.col("warc_filename"), F.col("warc_record_offset").cast("long"), F.col("warc_record_length").cast("long"), "url",
        F.col("url_host_name").alias("host"), F.col("url_host_registered_domain").alias("domain"), "crawl", "content_digest",
        "content_mime_detected", "content_languages", F.lit(request.reason).alias("reason"),
        F.lit(request.accepted_round).cast("int").alias("round"), F.lit(request.key()).alias("select_key"),
        F.lit(recorder.run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("selected_at"))
    if lake.exists(NAME):
        rows = rows.join(lake.read(NAME).select("warc_filename", "warc_record_offset"), ["warc_filename", "warc_record_offset"],
                         "left_anti")
    commit = lake.append(NAME, rows.select(*SELECTION.fieldNames()), txn=(f"webinstruct.select.{recorder.run_id}", 0))
    counters = Counter(records_selected=commit.rows)
    counters.update(_figures(chosen, cfg))
    recorder.finish("ok", counters)
    return dict(counters)


def _check(request: Request) -> None:
    if not request.index:
        raise SelectError("select needs Common Crawl's index: --index ROOT or select.index (a folder holding "
                          f"{TABLE}/, or https://data.commoncrawl.org/)")
    if not request.crawls:
        raise SelectError("select needs at least one crawl: --crawl CC-MAIN-2024-22 (repeatable) or select.crawls")
    sources = [request.domains is not None, bool(request.domains_file), request.accepted_round is not None]
    if sum(sources) > 1:
        raise SelectError("give one source of domains: --domains, --domains-file or --accepted-domains")
    if request.domains_file and not Path(request.domains_file).is_file():
        raise SelectError(f"--domains-file: no such file {request.domains_file!r}")


def _domains(spark, lake: Lake, request: Request) -> list[str] | None:
    """The registered domains asked for (lower case), or None for no domain filter. Collected
    on the driver: a list or file the user gave, or a round's accepted domains."""
    if request.accepted_round is not None:
        if not lake.exists("domain_verdicts"):
            raise SelectError(f"--accepted-domains {request.accepted_round}: no table 'domain_verdicts' in lake {lake.root} "
                              "(run recall's judge first)")
        latest = domain_verdicts(lake).where((F.col("round") == request.accepted_round) & (F.col("status") == "ok"))
        rows = latest.where(F.col("educational")).select("domain").distinct().collect()
        return sorted({r["domain"].lower() for r in rows if r["domain"]})
    if request.domains_file:
        with open(request.domains_file, "rb") as fh:
            data = fh.read(MAX_DOMAINS_FILE_BYTES + 1)
        if len(data) > MAX_DOMAINS_FILE_BYTES:
            raise SelectError(f"--domains-file {request.domains_file} is over {MAX_DOMAINS_FILE_BYTES >> 20} MiB")
        lines = data.decode("utf-8", errors="replace").splitlines()
        return sorted({line.strip().lower() for line in lines if line.strip() and not line.lstrip().startswith("#")})
    if request.domains is not None:
        return sorted({d.strip().lower() for d in request.domains if d.strip()})
    return None


def _reader(cfg: Config, root: str) -> str:
    chosen = cfg.select.reader
    if chosen == "auto":
        return "arrow" if root.startswith(("http://", "https://")) else "spark"
    return chosen


def _index(spark, cfg: Config, request: Request, domains: list[str] | None):
    """The index rows of the requested crawls (subset warc), only the needed columns."""
    columns = [name for name, _ in CC_INDEX_COLUMNS]
    root = request.index.rstrip("/")
    if _reader(cfg, root) == "spark":
        frame = spark.read.parquet(f"{root}/{TABLE}/")
        if "crawl" not in frame.columns:
            raise SelectError(f"{root}/{TABLE}/ is not partitioned by crawl= and subset= as Common Crawl's index is")
        frame = frame.where(F.col("crawl").isin(request.crawls) & (F.col("subset") == "warc"))
        return frame.select(*[F.col(c) if c in frame.columns else F.lit(None).cast(t).alias(c) for c, t in CC_INDEX_COLUMNS],
                            "crawl")
    s3 = S3Settings.from_options(cfg.lake.storage_options)
    try:
        files = index_files(root, request.crawls, s3=s3, max_files=cfg.select.max_index_files)
    except (IndexReadError, ValueError, OSError) as exc:
        raise SelectError(f"index {safe_location(root)}: {exc}") from None
    if not files:
        raise SelectError(f"no index files for {', '.join(request.crawls)} under {safe_location(root)}")
    schema = T.StructType([T.StructField(c, t) for c, t in CC_INDEX_COLUMNS]
                          + [T.StructField("crawl", T.StringType()), T.StructField("_error", T.StringType())])
    f = cfg.fetch
    read = ReadOptions(timeout_s=f.timeout_s, attempts=f.attempts, backoff_s=f.backoff_s, max_backoff_s=f.max_backoff_s,
                       user_agent=f.user_agent, s3=s3.public())
    fn = read_index(files, columns, set(domains) if domains else None, read, schema)
    frame = scope.current().materialize(spark.range(0, len(files), 1, numPartitions=min(len(files), parallelism(spark) * 4))
                                        .mapInArrow(fn, schema), "index")
    errors = [r["_error"] for r in frame.where(F.col("_error").isNotNull()).select("_error").limit(6).collect()]
    if errors:
        raise SelectError("index files could not be read (nothing was selected):\n" + "\n".join(f"  {e}" for e in errors[:5]))
    return frame.drop("_error")


def _filtered(frame, request: Request, domains: list[str] | None):
    cond = F.col("fetch_status") == 200
    if request.mime:
        cond &= F.col("content_mime_detected").isin(request.mime)
    if request.languages:
        cond &= F.split(F.coalesce(F.col("content_languages"), F.lit("")), ",").getItem(0).isin(language_codes(request.languages))
    if request.url_like:
        like = F.lit(False)
        for pattern in request.url_like:
            like |= F.col("url").like(pattern)
        cond &= like
    out = frame.where(cond & F.col("warc_filename").isNotNull() & F.col("warc_record_offset").isNotNull())
    if domains is not None:
        wanted = out.sparkSession.createDataFrame([(d,) for d in domains], "url_host_registered_domain string")
        out = out.join(F.broadcast(wanted) if len(domains) <= 100_000 else wanted, "url_host_registered_domain", "left_semi")
    draw = F.xxhash64("url", F.lit(request.seed)).bitwiseAND(F.lit(0x7FFFFFFFFFFFFFFF)) % F.lit(1_000_000)
    if request.sample < 1.0:
        out = out.where(draw < F.lit(int(request.sample * 1_000_000)))
    if request.per_domain:
        rank = Window.partitionBy("crawl", "url_host_registered_domain").orderBy(draw, "url", "warc_filename", "warc_record_offset")
        out = out.withColumn("_n", F.row_number().over(rank)).where(F.col("_n") <= request.per_domain).drop("_n")
    return out


def _figures(chosen, cfg: Config) -> Counter:
    """Records matching, distinct WARC files, bytes to fetch, against the bytes of those
    whole files (their sizes asked for: HEAD or stat, a sample of SIZE_PROBES when more)."""
    agg = chosen.agg(F.count("*").alias("n"), F.countDistinct("warc_filename").alias("files"),
                     F.sum("warc_record_length").alias("bytes")).collect()[0]
    counters = Counter(records_matching=int(agg["n"] or 0), warc_files=int(agg["files"] or 0), bytes_to_fetch=int(agg["bytes"] or 0))
    if not counters["warc_files"]:
        return counters
    files = [r["warc_filename"] for r in chosen.select("warc_filename").distinct()
             .orderBy(F.xxhash64("warc_filename")).limit(SIZE_PROBES).collect()]
    f = cfg.fetch
    read = ReadOptions(timeout_s=f.timeout_s, user_agent=f.user_agent, s3=S3Settings.from_options(cfg.lake.storage_options))
    base = f.base_url.rstrip("/") + "/"
    sizes = [probe_size(base + name, read) for name in files]
    known = [s for s in sizes if s]
    if known:
        counters["whole_file_bytes"] = int(sum(known) / len(known) * counters["warc_files"])
        counters["files_probed"] = len(known)
    return counters


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    rows = [("records matching the filters", counters.get("records_matching", 0)),
            ("records selected (new)", counters.get("records_selected", 0)),
            ("distinct WARC files", counters.get("warc_files", 0)),
            ("bytes to fetch", _mb(counters.get("bytes_to_fetch", 0)))]
    whole = counters.get("whole_file_bytes")
    if whole:
        share = counters.get("bytes_to_fetch", 0) / whole
        probed = counters.get("files_probed", 0)
        how = f"{probed} file sizes asked" if probed >= counters.get("warc_files", 0) else f"from {probed} sampled sizes"
        rows.append((f"bytes of those whole files ({how})", f"{_mb(whole)} (fetch reads {share:.2%} of it)"))
    return rows


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"
