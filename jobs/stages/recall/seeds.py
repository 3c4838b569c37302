"""Training examples for the recall classifier, read from the seed sources in config and
sampled from the lake. Every reader returns the same columns: key (stable identity, for
the held-out split and exclusions), text, url (may be null) and source (for the models
table's record of where the data came from).

Samples are seeded and ordered by a hash of the key, so a rerun with the same data picks
the same examples and trains the same model.
"""

from __future__ import annotations

from pyspark.errors import AnalysisException
from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import MissingInput, RecallError
from webinstruct.jobs.core.views import read_source as read_table
from webinstruct.lib.recall.seed_spec import SeedSource, parse_sources

COLUMNS = ["key", "text", "url", "source"]


def _read_path(spark, lake, src: SeedSource, key: str):
    try:
        if src.format in ("jsonl", "json"):
            return spark.read.option("multiLine", src.format == "json").json(src.path)
        if src.format == "parquet":
            return spark.read.parquet(src.path)
        if src.format == "csv":
            return spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(src.path)
        if src.format == "text":
            return spark.read.text(src.path).withColumnRenamed("value", "text")
        if src.format == "textfile":
            df = spark.read.option("wholetext", True).text(src.path).withColumnRenamed("value", "text")
            return df.withColumn("file", F.input_file_name())
        return lake.read_path(src.path)
    except (AnalysisException, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RecallError(f"{key}: cannot read {src.path!r} as {src.format}: {first}") from None


def read_source(spark, lake, src: SeedSource, key: str, documents):
    """One seed source as (key, text, url, source)."""
    if src.kind == "path":
        df = _read_path(spark, lake, src, key)
    elif src.kind == "table":
        try:
            df = read_table(lake, f"{key}.table", src.table)
        except MissingInput as exc:
            raise RecallError(str(exc)) from None
    elif src.kind == "urls":
        df = documents.where(F.col("url").isin(list(src.values)))
    else:
        values = list(src.values)
        df = documents.where(F.lower("domain").isin(values) | F.lower("host").isin(values))
    from_documents = src.kind in ("urls", "domains") or (src.kind == "table" and "doc_id" in df.columns)
    url_col = src.url or ("url" if from_documents else "file" if src.format == "textfile" else "")
    if src.where:
        try:
            df = df.where(F.expr(src.where))
            df.schema  # analyse now: a bad filter names its key
        except Exception as exc:  # noqa: BLE001 - Spark raises several analysis error types
            raise RecallError(f"{key}.where {src.where!r}: {str(exc).splitlines()[0]}") from None
    missing = [c for c in [*src.text, url_col] if c and not _has_column(df, c)]
    if missing:
        raise RecallError(f"{key}: no field(s) {', '.join(missing)} in {src.label()}; fields: {', '.join(df.columns)}")
    text = F.concat_ws("\n", *[F.col(c).cast("string") for c in src.text])
    url = F.nullif(F.trim(F.col(url_col).cast("string")), F.lit("")) if url_col else F.lit(None).cast("string")
    if from_documents:  # keyed by doc_id, so the same page is never also a sampled negative
        out = df.select(F.col("doc_id").alias("key"), text.alias("text"), url.alias("url"))
    else:
        out = df.select(text.alias("text"), url.alias("url"))
        out = out.select(F.sha2(F.concat_ws("\x1f", "url", "text"), 256).alias("key"), "text", "url")
    out = out.where(F.length(F.trim("text")) > 0).withColumn("source", F.lit(src.label()))
    if src.limit:
        out = hash_sample(out, src.limit, 0)
    return out.select(*COLUMNS)


def _has_column(df, name: str) -> bool:
    try:
        df.select(name).schema
        return True
    except AnalysisException:
        return False


def hash_sample(df, n: int, seed: int, key: str = "key"):
    """About `n` rows picked by a seeded hash of `key`: the same rows on every run. The
    top-n runs over (hash, key) alone and the rows are joined back: a top-n of whole rows
    moves every partition's n texts through one task (rows sharing a key come together)."""
    h = F.xxhash64(F.col(key), F.lit(seed))
    chosen = df.select(h.alias("_h"), F.col(key)).orderBy("_h", key).limit(n)
    return df.withColumn("_h", h).join(F.broadcast(chosen), ["_h", key], "left_semi").drop("_h")


def read_sources(spark, lake, sources: list[SeedSource], key: str, documents):
    frames = [read_source(spark, lake, s, f"{key}[{i}]", documents) for i, s in enumerate(sources)]
    if not frames:
        return None
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


def documents_as_examples(docs, source: str):
    return docs.select(F.col("doc_id").alias("key"), "text", "url").withColumn("source", F.lit(source))


def configured_examples(spark, lake, cfg: Config, key: str, documents):
    """The sources of `recall.<key>` (positives or negatives) as examples, or None."""
    sources = parse_sources(getattr(cfg.recall, key), f"recall.{key}")
    return read_sources(spark, lake, sources, f"recall.{key}", documents)
