"""Decontamination in three tiers, then the published set.

  tier 1  word n-grams (n = 10) shared with a benchmark question: pages (the documents
          extraction reads, before extraction, as MAmmoTH2 did) and refined pairs
          (question, answer and the originals). A hit is contamination.
  tier 2  the top-k benchmark questions nearest each refined question by embedding
          cosine: at or above `flag_threshold` contamination, at or above
          `judge_threshold` a candidate for tier 3.
  tier 3  an LLM asked, in both orders, whether candidate and benchmark item are the same
          problem; a question equal to the item after normalisation skips the LLM.

Every finding goes to `contamination` with its evidence (the shared n-gram, or the
similarity and the item's question). `decontam_checked` records which unit each tier
checked under which key (the benchmark set's fingerprint and the tier's settings), so a
run checks only new units, and a changed benchmark set or setting checks everything again.
Judge replies, raw output kept, go to `decontam_judgements`. `publish` rebuilds the
`webinstruct` table: the refined pairs every enabled tier checked and none flagged, with
lineage to the WARC record; an unchanged result writes nothing.

    spark-submit jobs/decontam.py [run|pages|pairs] [--config F] [--lake DIR] [--set decontam.key=value ...]
"""

from __future__ import annotations

if __package__ in (None, ""):  # run as a script by spark-submit: make the repo importable
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import datetime as dt
import hashlib
import logging
import tempfile
from collections import Counter
from pathlib import Path

from jobs import benchmarks as registry
from jobs.config import Config
from jobs.runs import RunRecorder
from jobs.tables import CONTAMINATION, DECONTAM_CHECKED, DECONTAM_JUDGEMENTS, WEBINSTRUCT

log = logging.getLogger("webinstruct.decontam")
TABLE = "contamination"
CHECKED = "decontam_checked"
JUDGEMENTS = "decontam_judgements"
PUBLISHED = "webinstruct"
EVIDENCE_CHARS = 300
_HIT_SCHEMA = ("unit_id string, doc_id string, qa_id string, refiner string, field string, benchmark string, "
               "item_id string, score double, evidence string")


class DecontamError(RuntimeError):
    """A decontamination step cannot run; the message says what to do. Nothing was written."""


def _h(*parts) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16]


class Bench:
    """The registered benchmarks as the tiers need them, built lazily on the driver."""

    def __init__(self, spark, cfg: Config, lake):
        self.spark, self.cfg, self.lake = spark, cfg, lake
        try:
            self.items = registry.load_items(lake)
        except registry.BenchmarkRegistryError as exc:
            raise DecontamError(str(exc)) from None
        d = cfg.decontam
        self.fingerprint = registry.fingerprint(self.items)
        self.ngram_key = _h(self.fingerprint, "ngram", d.ngram, d.min_content)
        self.embed_key = _h(self.fingerprint, "embed", d.embed_model, d.top_k, d.flag_threshold, d.judge_threshold)
        self._index = self._matrix = None

    def key(self, level: str, tier: int) -> str:
        if tier == 1:
            fields = ["text"] if level == "page" else sorted(self.cfg.decontam.pair_fields)
            return _h(self.ngram_key, level, *fields)
        if tier == 2:
            return self.embed_key
        return _h(self.embed_key, "judge", *judge_identity(self.cfg), self.cfg.decontam.judge_rule)

    def ngram_index(self):
        if self._index is None:
            from lib.benchmarks import Item
            from lib.ngram_index import NgramIndex

            items = (Item(b, "", i, q, "") for b, i, q in zip(self.items["benchmark"], self.items["item_id"], self.items["question"]))
            self._index = NgramIndex.build(items, self.cfg.decontam.ngram, self.cfg.decontam.min_content)
        return self._index

    def matrix(self):
        """Benchmark embeddings: computed once per (benchmark set, model) on the executors and
        stored in the lake (`_models/embeddings/`), read back by later runs."""
        if self._matrix is None:
            import numpy as np

            from lib.embed_index import model_path

            d = self.cfg.decontam
            model_path(d.embed_model)  # a missing package fails here, on the driver, with what to install
            rel = f"_models/embeddings/{_h(self.fingerprint, d.embed_model)}.npy"
            with tempfile.TemporaryDirectory() as tmp:
                local = str(Path(tmp) / "m.npy")
                if not self.lake.fetch_file(rel, local):
                    np.save(local, self._embed_items())
                    self.lake.put_file(local, rel)
                self._matrix = np.load(local)
        return self._matrix

    def _embed_items(self):
        import numpy as np

        from udfs.decontam import embed_items_map

        d = self.cfg.decontam
        frame = self.items[["question"]].assign(row=range(len(self.items)))
        parts = parallelism(self.spark)
        df = self.spark.createDataFrame(frame[["row", "question"]]).repartition(parts)
        rows = df.mapInPandas(embed_items_map(d.embed_model, d.embed_device, d.embed_threads, d.embed_batch),
                              "row long, vector binary").collect()
        vectors = sorted((r["row"], r["vector"]) for r in rows)
        return np.stack([np.frombuffer(v, dtype=np.float32) for _, v in vectors])


def judge_identity(cfg: Config) -> tuple[str, str]:
    from lib.llm.prompts import PromptError, load_prompt

    try:
        prompt = load_prompt(cfg.decontam.judge_prompt)
    except PromptError as exc:
        raise DecontamError(f"decontam.judge_prompt: {exc}") from None
    return cfg.decontam.judge_model or cfg.llm.model, prompt.version


def _broadcast(spark, value):
    try:
        return spark.sparkContext.broadcast(value)
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext: the closure carries it
        return value


def register_configured(spark, cfg: Config, lake) -> dict:
    from lib.benchmark_spec import parse_benchmarks

    sources = parse_benchmarks(cfg.decontam.benchmarks, "decontam.benchmarks")
    if not sources:
        return {}
    try:
        return registry.add(spark, cfg, lake, sources)
    except registry.BenchmarkRegistryError as exc:
        raise DecontamError(f"decontam.benchmarks: {exc}") from None


# -- units ------------------------------------------------------------------------------

def page_units(lake, cfg: Config):
    from pyspark.sql import functions as F

    from jobs.views import MissingInput, read_source

    try:
        docs = read_source(lake, "decontam.page_input", cfg.decontam.page_input)
    except MissingInput as exc:
        raise DecontamError(str(exc)) from None
    none = F.lit(None).cast("string")
    return docs.select("doc_id", none.alias("qa_id"), none.alias("refiner"), none.alias("prompt_version"), "text")


def refined_pairs(lake):
    """The latest attempt of every (pair, refiner) that refined ok."""
    from pyspark.sql import functions as F

    from jobs.llm_stage import latest_attempt

    rows = latest_attempt(lake.read("qa_refined"), ["qa_id", "refiner"]).where(F.col("status") == "ok")
    return rows.dropDuplicates(["qa_id", "refiner"])


def _unit_id(level: str):
    """A page is its doc_id; a pair is its id, refiner and refine prompt version, so a pair
    refined again with a new prompt is new text and is checked again."""
    from pyspark.sql import functions as F

    return F.col("doc_id") if level == "page" else F.concat_ws("|", "qa_id", "refiner", "prompt_version")


def _unchecked(lake, units, level: str, tier: int, key: str):
    """`units` with a unit_id column, minus those this tier already checked under `key`."""
    from pyspark.sql import functions as F

    units = units.withColumn("unit_id", _unit_id(level))
    if lake.exists(CHECKED):
        done = lake.read(CHECKED).where((F.col("level") == level) & (F.col("tier") == tier) & (F.col("check_key") == key))
        units = units.join(done.select("unit_id"), "unit_id", "left_anti")
    return units


# -- the tiers --------------------------------------------------------------------------

def _commit_hits(spark, lake, out, *, level: str, tier: int, method: str, key: str, verdict, run_id: str) -> dict:
    """Stage the map's output once, then append its hits (minus any an interrupted run
    already wrote) to `contamination` and its units to `decontam_checked`."""
    from pyspark.sql import functions as F

    now = dt.datetime.now(dt.timezone.utc)
    scratch = lake.scratch("decontam", run_id, f"{level}{tier}")
    try:
        out.write.mode("overwrite").parquet(scratch)
        staged = spark.read.parquet(scratch)
        hits = staged.where(F.col("benchmark").isNotNull()).select(
            F.lit(level).alias("level"), "doc_id", "qa_id", "refiner", F.lit(tier).alias("tier"), F.lit(method).alias("method"),
            "field", "benchmark", "item_id", "score", "evidence", verdict.alias("verdict"), F.lit(key).alias("check_key"),
            F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("checked_at"),
        )
        if lake.exists(TABLE):
            cols = ["doc_id", "qa_id", "refiner", "field", "benchmark", "item_id"]
            earlier = lake.read(TABLE).where((F.col("level") == level) & (F.col("tier") == tier) & (F.col("check_key") == key))
            hits = hits.join(earlier.select(*cols), [hits[c].eqNullSafe(earlier[c]) for c in cols], "left_anti")
        written = lake.append(TABLE, hits.select(*CONTAMINATION.fieldNames())).rows
        units = staged.groupBy("unit_id").agg(F.count("benchmark").cast("int").alias("hits"))
        checked = units.select(
            F.lit(level).alias("level"), "unit_id", F.lit(tier).alias("tier"),
            F.lit(key).alias("check_key"), "hits", F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("checked_at"),
        )
        commit = lake.append(CHECKED, checked.select(*DECONTAM_CHECKED.fieldNames()))
        flagged = units.where("hits > 0").count() if commit.rows else 0
        return {"checked": commit.rows, "units_with_hits": flagged, "rows": written}
    finally:
        lake.remove_tree(scratch)


def parallelism(spark) -> int:
    try:
        return max(1, spark.sparkContext.defaultParallelism)
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext
        return max(1, int(spark.conf.get("spark.sql.shuffle.partitions", "8")))


def _partitions(spark, todo, cfg: Config):
    return todo.repartition(parallelism(spark))


def tier1(spark, cfg: Config, lake, bench: Bench, level: str, units, run_id: str) -> dict:
    from pyspark.sql import functions as F

    from udfs.decontam import ngram_map

    fields = ["text"] if level == "page" else list(cfg.decontam.pair_fields)
    key = bench.key(level, 1)
    todo = _unchecked(lake, units, level, 1, key)
    if todo.limit(1).count() == 0:
        return {"checked": 0, "units_with_hits": 0, "rows": 0}
    payload = _broadcast(spark, bench.ngram_index())
    out = _partitions(spark, todo, cfg).mapInPandas(ngram_map(payload, fields), _HIT_SCHEMA)
    return _commit_hits(spark, lake, out, level=level, tier=1, method="ngram", key=key,
                        verdict=F.lit("contaminated"), run_id=run_id)


def tier2(spark, cfg: Config, lake, bench: Bench, pairs, run_id: str) -> dict:
    from pyspark.sql import functions as F

    from udfs.decontam import embed_map

    d = cfg.decontam
    key = bench.key("pair", 2)
    todo = _unchecked(lake, pairs.select("doc_id", "qa_id", "refiner", "prompt_version", "question"), "pair", 2, key)
    if todo.limit(1).count() == 0:
        return {"checked": 0, "units_with_hits": 0, "rows": 0}
    heads = [q[:EVIDENCE_CHARS] for q in bench.items["question"]]
    payload = _broadcast(spark, (bench.matrix(), list(bench.items["benchmark"]), list(bench.items["item_id"]), heads))
    fn = embed_map(payload, d.embed_model, d.embed_device, d.embed_threads, d.embed_batch, d.top_k, d.judge_threshold)
    out = _partitions(spark, todo, cfg).mapInPandas(fn, _HIT_SCHEMA)
    verdict = F.when(F.col("score") >= d.flag_threshold, F.lit("contaminated")).otherwise(F.lit("candidate"))
    return _commit_hits(spark, lake, out, level="pair", tier=2, method="embedding", key=key, verdict=verdict, run_id=run_id)


def _candidates(lake, bench: Bench, pairs):
    """Tier-2 candidates of the current key with both questions, minus those tier 3 decided."""
    from pyspark.sql import functions as F

    c = lake.read(TABLE).where((F.col("tier") == 2) & (F.col("check_key") == bench.key("pair", 2)) & (F.col("verdict") == "candidate"))
    c = c.select("doc_id", "qa_id", "refiner", "benchmark", "item_id", "score").dropDuplicates(["qa_id", "refiner", "benchmark", "item_id"])
    decided = lake.read(TABLE).where((F.col("tier") == 3) & (F.col("check_key") == bench.key("pair", 3)))
    c = c.join(decided.select("qa_id", "refiner", "benchmark", "item_id"), ["qa_id", "refiner", "benchmark", "item_id"], "left_anti")
    items = lake.spark.createDataFrame(bench.items[["benchmark", "item_id", "question", "question_hash"]]).withColumnRenamed(
        "question", "bench_question")
    return c.join(pairs.select("qa_id", "refiner", "question"), ["qa_id", "refiner"]).join(items, ["benchmark", "item_id"])


def tier3(spark, cfg: Config, lake, bench: Bench, pairs, run_id: str) -> dict:
    from pyspark.sql import functions as F

    from udfs.decontam import question_hash_map

    counters = Counter()
    if not lake.exists(TABLE):
        return counters
    key = bench.key("pair", 3)
    cands = _candidates(lake, bench, pairs)
    schema = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in cands.schema.fields) + ", pair_hash string"
    cands = cands.mapInPandas(question_hash_map(), schema)
    scratch = lake.scratch("decontam", run_id, "candidates")
    try:
        cands.write.mode("overwrite").parquet(scratch)
        cands = spark.read.parquet(scratch)
        counters["candidates"] = cands.count()
        if counters["candidates"] == 0:
            return counters
        exact = cands.where(F.col("pair_hash") == F.col("question_hash"))
        counters["exact"] = _write_tier3(lake, exact, "exact", F.lit("contaminated"), key, run_id)
        asked = cands.where(F.col("pair_hash") != F.col("question_hash"))
        counters.update(_judge(spark, cfg, lake, asked, run_id))
        counters["decided"] = _decide(lake, cfg, asked, key, run_id)
    finally:
        lake.remove_tree(scratch)
    return counters


def _write_tier3(lake, rows, method: str, verdict, key: str, run_id: str) -> int:
    from pyspark.sql import functions as F

    now = dt.datetime.now(dt.timezone.utc)
    out = rows.select(
        F.lit("pair").alias("level"), "doc_id", "qa_id", "refiner", F.lit(3).alias("tier"), F.lit(method).alias("method"),
        F.lit("question").alias("field"), "benchmark", "item_id", "score",
        F.substring("bench_question", 1, EVIDENCE_CHARS).alias("evidence"), verdict.alias("verdict"),
        F.lit(key).alias("check_key"), F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("checked_at"),
    )
    return lake.append(TABLE, out.select(*CONTAMINATION.fieldNames())).rows


JUDGE_KEYS = ["qa_id", "refiner", "benchmark", "item_id", "pair_hash", "item_hash"]


def _judge_replies(lake, cfg: Config, model: str, version: str):
    """The replies that count: this judge model and prompt, the latest attempt per order;
    engine errors are not final while `retry_errors` holds (they are asked again)."""
    from pyspark.sql import functions as F

    from jobs.llm_stage import latest_attempt

    rows = lake.read(JUDGEMENTS).where((F.col("model") == model) & (F.col("prompt_version") == version))
    rows = latest_attempt(rows, [*JUDGE_KEYS, "order"])
    return rows.where(F.col("status") != "engine_error") if cfg.decontam.retry_errors else rows


def _judge_done(lake, cfg: Config, model: str, version: str):
    """Candidates with a final reply in both orders."""
    from pyspark.sql import functions as F

    replies = _judge_replies(lake, cfg, model, version)
    return replies.groupBy(*JUDGE_KEYS).agg(F.countDistinct("order").alias("orders")).where(F.col("orders") == 2).select(*JUDGE_KEYS)


def _judge(spark, cfg: Config, lake, asked, run_id: str) -> dict:
    """Ask the LLM about candidates without a reply from this judge model and prompt."""
    from pyspark.sql import functions as F

    from jobs.llm_stage import LlmStageError, check_model, check_task, engine_spec, generate_slices
    from lib.llm.prompts import load_prompt
    from lib.llm.types import Sampling

    d = cfg.decontam
    if not d.judge:
        return {}
    prompt = load_prompt(d.judge_prompt)
    model = d.judge_model or cfg.llm.model
    todo = asked.select("qa_id", "refiner", "benchmark", "item_id", "pair_hash", F.col("question_hash").alias("item_hash"),
                        "question", "bench_question")
    if lake.exists(JUDGEMENTS):
        todo = todo.join(_judge_done(lake, cfg, model, prompt.version), JUDGE_KEYS, "left_anti")
    if todo.limit(1).count() == 0:
        return {"judged": 0}
    spec = engine_spec(cfg, model)
    try:
        check_model(spec)

        def make_task(tokenizer):
            from lib.decontam_judge import SameProblemTask

            return SameProblemTask(prompt, model, tokenizer, cfg.llm.max_model_len, d.judge_max_tokens, d.judge_max_chars)

        check_task(spec, make_task)
    except LlmStageError as exc:
        raise DecontamError(str(exc)) from None
    samp = Sampling(temperature=0.0, top_p=1.0, max_tokens=d.judge_max_tokens, seed=cfg.llm.seed,
                    repetition_penalty=d.judge_repetition_penalty)
    counters = generate_slices(
        spark, cfg, lake, stage="decontam_judge", table=JUDGEMENTS, todo=todo, per_commit=d.judge_commit, spec=spec,
        sampling=samp, make_task=make_task, out_schema=DECONTAM_JUDGEMENTS, stamp="judged_at", run_id=run_id,
        scratch_parts=("decontam", run_id, "judge"),
    )
    return {"judged": counters.get("records_in", 0), "judge_rows": counters.get("rows_written", 0)}


def _decide(lake, cfg: Config, asked, key: str, run_id: str) -> int:
    """Tier-3 rows for candidates whose two replies are final (with `retry_errors`, an
    engine error is asked again first; without, it counts as no answer)."""
    from pyspark.sql import functions as F

    d = cfg.decontam
    if not d.judge or not lake.exists(JUDGEMENTS):
        return 0
    model, version = judge_identity(cfg)
    replies = _judge_replies(lake, cfg, model, version)
    per = replies.groupBy(*JUDGE_KEYS).agg(
        F.countDistinct("order").alias("orders"),
        F.sum(F.when((F.col("status") == "ok") & F.col("same"), 1).otherwise(0)).alias("yes"),
        F.sum(F.when((F.col("status") == "ok") & ~F.col("same"), 1).otherwise(0)).alias("no"),
    ).where(F.col("orders") == 2)
    if d.judge_rule == "either":
        verdict = F.when(F.col("yes") > 0, "contaminated").when(F.col("no") > 0, "clean").otherwise("unparsed")
    else:
        verdict = F.when(F.col("no") > 0, "clean").when(F.col("yes") == 2, "contaminated").otherwise("unparsed")
    decided = asked.withColumn("item_hash", F.col("question_hash")).join(per.withColumn("v", verdict), JUDGE_KEYS)
    return _write_tier3(lake, decided, "judge", F.col("v"), key, run_id)


# -- the published set ------------------------------------------------------------------

def _current(lake, bench: Bench | None, cfg: Config):
    """Contamination rows of the current keys and the enabled tiers."""
    from pyspark.sql import functions as F

    if bench is None or not lake.exists(TABLE):
        return None
    d = cfg.decontam
    rows = lake.read(TABLE)
    cond = (F.col("tier") == 1) & (F.col("check_key").isin(bench.key("page", 1), bench.key("pair", 1)))
    if d.embed:
        cond = cond | ((F.col("tier") == 2) & (F.col("check_key") == bench.key("pair", 2)))
        if d.judge:
            cond = cond | ((F.col("tier") == 3) & (F.col("check_key") == bench.key("pair", 3)))
    return rows.where(cond)


def publish(spark, cfg: Config, lake, bench: Bench | None, run_id: str = "manual") -> dict:
    """Rebuild `webinstruct` from the refined pairs; write only when the result changed."""
    from pyspark.sql import functions as F

    from jobs.extract import current_pairs

    d = cfg.decontam
    pairs = refined_pairs(lake)
    if bench is not None:
        current = _current(lake, bench, cfg)
        needs = [(1, bench.key("pair", 1))] + ([(2, bench.key("pair", 2))] if d.embed else [])
        pairs = pairs.withColumn("unit_id", _unit_id("pair"))
        for tier, key in needs:  # a pair not checked yet by an enabled tier waits
            if not lake.exists(CHECKED):
                pairs = pairs.limit(0)
                break
            done = lake.read(CHECKED).where((F.col("level") == "pair") & (F.col("tier") == tier) & (F.col("check_key") == key))
            pairs = pairs.join(done.select("unit_id"), "unit_id", "left_semi")
        pairs = pairs.drop("unit_id")
        if current is not None:
            bad = F.col("verdict") == "contaminated"
            if d.unparsed == "drop":
                bad = bad | ((F.col("tier") == 3) & (F.col("verdict") == "unparsed"))
            pages = current.where((F.col("level") == "page") & bad).select("doc_id").distinct()
            flagged = current.where((F.col("level") == "pair") & bad).select("qa_id", "refiner").distinct()
            pairs = pairs.join(pages, "doc_id", "left_anti").join(flagged, ["qa_id", "refiner"], "left_anti")
            if d.embed and d.judge:  # candidates the judge has not decided yet wait
                cands = current.where((F.col("tier") == 2) & (F.col("verdict") == "candidate")).select("qa_id", "refiner", "benchmark", "item_id")
                decided = current.where(F.col("tier") == 3).select("qa_id", "refiner", "benchmark", "item_id")
                waiting = cands.join(decided, ["qa_id", "refiner", "benchmark", "item_id"], "left_anti").select("qa_id", "refiner").distinct()
                pairs = pairs.join(waiting, ["qa_id", "refiner"], "left_anti")
    docs = lake.read("documents").select("doc_id", "url", "domain", "crawl", "warc_path", "warc_offset", "warc_record_id")
    extracted = current_pairs(lake).select("qa_id", F.col("model").alias("extract_model"),
                                           F.col("prompt_version").alias("extract_prompt_version")).dropDuplicates(["qa_id"])
    out = (
        pairs.join(docs, "doc_id", "left").join(extracted, "qa_id", "left")
        .withColumn("index", F.xxhash64("qa_id", "refiner").bitwiseAND(F.lit(0x7FFFFFFFFFFFFFFF)))
        .withColumn("source", F.coalesce("domain", F.lit("")))
        .withColumn("refine_prompt_version", F.col("prompt_version"))
        .select(*WEBINSTRUCT.fieldNames())
    )
    scratch = lake.scratch("decontam", "publish", run_id)
    try:
        out.write.mode("overwrite").parquet(scratch)
        out = spark.read.parquet(scratch)
        total = out.count()
        if lake.exists(PUBLISHED):
            old = lake.read(PUBLISHED).select(*WEBINSTRUCT.fieldNames())
            if old.count() == total and out.exceptAll(old).limit(1).count() == 0:
                return {"published": total, "published_changed": 0}
        lake.replace(PUBLISHED, out)
    finally:
        lake.remove_tree(scratch)
    return {"published": total, "published_changed": 1}


# -- entry points -----------------------------------------------------------------------

def pages(spark, cfg: Config, lake) -> dict:
    """Tier 1 on the documents extraction will read (run before extract)."""
    if not cfg.decontam.pages:
        return {}
    register_configured(spark, cfg, lake)
    bench = Bench(spark, cfg, lake)
    recorder = RunRecorder(lake, "decontam_pages", cfg, args={"benchmarks": bench.fingerprint})
    out = tier1(spark, cfg, lake, bench, "page", page_units(lake, cfg), recorder.run_id)
    counters = {f"pages_{k}": v for k, v in out.items()}
    recorder.finish("ok", counters)
    return counters


def pairs(spark, cfg: Config, lake) -> dict:
    """Tiers 1-3 on refined pairs, then publish."""
    d = cfg.decontam
    if not lake.exists("qa_refined"):
        raise DecontamError(f"no table 'qa_refined' in lake {lake.root} (run refine first)")
    register_configured(spark, cfg, lake)
    bench = Bench(spark, cfg, lake)
    recorder = RunRecorder(lake, "decontam_pairs", cfg, args={"benchmarks": bench.fingerprint})
    units = refined_pairs(lake)
    counters = {f"pairs_t1_{k}": v for k, v in tier1(spark, cfg, lake, bench, "pair", units, recorder.run_id).items()}
    if d.embed:
        from lib.embed_index import EmbedError

        try:
            counters.update({f"pairs_t2_{k}": v for k, v in tier2(spark, cfg, lake, bench, units, recorder.run_id).items()})
        except EmbedError as exc:
            raise DecontamError(str(exc)) from None
        counters.update({f"pairs_t3_{k}": v for k, v in tier3(spark, cfg, lake, bench, units, recorder.run_id).items()})
    counters.update(publish(spark, cfg, lake, bench, recorder.run_id))
    recorder.finish("ok", counters)
    return counters


def run(spark, cfg: Config, lake) -> dict:
    counters = pages(spark, cfg, lake) if lake.exists("documents") else {}
    counters.update(pairs(spark, cfg, lake))
    return counters


def benchmark_summary(spark, cfg: Config, lake) -> list[list]:
    """Per benchmark: items, pages and pairs flagged by each tier (current keys)."""
    from pyspark.sql import functions as F

    if not lake.exists(registry.TABLE):
        return []
    bench = Bench(spark, cfg, lake)
    items = bench.items.groupby("benchmark").size().to_dict()
    found: dict = {}
    current = _current(lake, bench, cfg)
    if current is not None:
        rows = current.groupBy("benchmark", "level", "tier", "verdict").agg(
            F.countDistinct(F.when(F.col("level") == "page", F.col("doc_id")).otherwise(F.concat_ws("|", "qa_id", "refiner"))).alias("n")
        ).collect()
        for r in rows:
            found[(r["benchmark"], r["level"], r["tier"], r["verdict"])] = r["n"]
    out = []
    for name in sorted(items):
        g = lambda level, tier, verdict: found.get((name, level, tier, verdict), 0)  # noqa: E731
        out.append([name, items[name], g("page", 1, "contaminated"), g("pair", 1, "contaminated"), g("pair", 2, "contaminated"),
                    g("pair", 2, "candidate"), g("pair", 3, "contaminated"), g("pair", 3, "clean")])
    return out


BENCHMARK_SUMMARY_COLUMNS = ["benchmark", "items", "pages t1", "pairs t1", "pairs t2 flagged", "t2 candidates",
                             "t3 same", "t3 different"]


def summary_rows(counters: dict) -> list[tuple[str, object]]:
    g = counters.get
    rows = []
    if any(k.startswith("pages_") for k in counters):
        rows += [("pages checked, tier 1 (new)", g("pages_checked", 0)), ("pages flagged (dropped before extraction)", g("pages_units_with_hits", 0))]
    if any(k.startswith("pairs_") for k in counters):
        rows += [
            ("pairs checked, tier 1 (new)", g("pairs_t1_checked", 0)),
            ("pairs flagged, tier 1", g("pairs_t1_units_with_hits", 0)),
            ("pairs checked, tier 2 (new)", g("pairs_t2_checked", 0)),
            ("pairs with a neighbour >= judge_threshold", g("pairs_t2_units_with_hits", 0)),
            ("tier-3 candidates (undecided)", g("pairs_t3_candidates", 0)),
            ("  exact matches (no LLM)", g("pairs_t3_exact", 0)),
            ("  judged by the LLM (both orders)", g("pairs_t3_judged", 0)),
            ("  verdicts written", g("pairs_t3_decided", 0)),
        ]
    if "published" in counters:
        rows += [("pairs published (webinstruct)", g("published", 0)),
                 ("webinstruct rewritten", "yes" if g("published_changed") else "no (unchanged)")]
    return rows or [("nothing to do (decontam.pages = false)", 0)]


def main(argv: list[str] | None = None) -> int:
    import sys

    from jobs.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    step = args.pop(0) if args and args[0] in ("run", "pages", "pairs") else "run"
    return cli_main(["decontam", step, *args])


if __name__ == "__main__":
    raise SystemExit(main())
