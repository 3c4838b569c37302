"""Export the `webinstruct` table the way SFT users consume it: shards in the
WebInstructSub schema (orig_question, orig_answer, question, answer, source, index),
optionally a chat `messages` column, and a dataset card (README.md with a Hugging Face
header, plus card.json) with the funnel, the sources, the models and prompts, and the
decontamination figures.

Shards are `data/train-00000-of-000NN.{parquet,jsonl}`, rows ordered by the stable
`index`, written by the executors and renamed through Hadoop's FileSystem (local folders,
S3, DBFS alike). An export replaces the folder's earlier shards (swapped in whole once the
new ones are written); exporting the same table version the same way again does nothing.
Spark Connect sessions have no JVM gateway to rename with: export from a classic session.

    webinstruct export --format parquet|jsonl --out DIR [--messages]
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

from pyspark.sql import functions as F
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.contamination import BENCHMARK_SUMMARY_COLUMNS, benchmark_summary
from webinstruct.jobs.core.errors import ExportError
from webinstruct.jobs.core.figures import funnel, models_used
from webinstruct.lib.text_table import markdown

COLUMNS = ["orig_question", "orig_answer", "question", "answer", "source", "index"]


def _fs(spark, path: str):
    jvm = spark._jvm
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(spark._jsc.hadoopConfiguration()), jpath


def run(spark, cfg: Config, lake, out: str | None = None, fmt: str | None = None, messages: bool | None = None) -> dict:
    """Export `webinstruct` to `out` (default export.out); counters of what was written."""
    out = out or cfg.export.out
    e = cfg.export
    fmt = fmt or e.format
    messages = e.messages if messages is None else messages
    if fmt not in ("parquet", "jsonl"):
        raise ExportError(f"--format must be parquet or jsonl; got {fmt!r}")
    if not out:
        raise ExportError("no output folder: pass --out DIR or set export.out")
    out = str(out)
    if not lake.exists("webinstruct"):
        raise ExportError(f"no table 'webinstruct' in lake {lake.root} (run `webinstruct decontam run` or `webinstruct run` first)")
    out = out.rstrip("/")
    stamp = {"webinstruct_version": lake.version("webinstruct"), "format": fmt, "messages": bool(messages), "shard_rows": e.shard_rows}
    earlier = _read_text(spark, f"{out}/card.json")
    if earlier:
        try:
            facts = json.loads(earlier)
        except ValueError:
            facts = {}
        if all(facts.get(k) == v for k, v in stamp.items()):  # the same table exported the same way: nothing to do
            return {"rows": facts.get("rows", 0), "shards": len(facts.get("files", [])), "files": facts.get("files", []),
                    "skipped": True, "out": out}
    table = lake.read("webinstruct")
    total = table.count()
    shards = max(1, math.ceil(total / e.shard_rows))
    data = table.select(*COLUMNS)
    if messages:
        data = data.withColumn("messages", F.array(
            F.struct(F.lit("user").alias("role"), F.col("question").alias("content")),
            F.struct(F.lit("assistant").alias("role"), F.col("answer").alias("content")),
        ))
    data = data.repartitionByRange(shards, "index").sortWithinPartitions("index")
    tmp = f"{out}/_tmp-{uuid.uuid4().hex[:8]}"
    writer = data.write.mode("overwrite")
    if fmt == "parquet":
        writer.parquet(tmp)
    else:
        writer.option("ignoreNullFields", "false").option("compression", "none").json(tmp)
    ext = "parquet" if fmt == "parquet" else "jsonl"
    files = _place_shards(spark, tmp, f"{out}/data", ext)
    card = dataset_card(spark, cfg, lake, total, fmt, messages, files)
    card["facts"].update(stamp)
    _write_text(spark, f"{out}/README.md", card["markdown"])
    _write_text(spark, f"{out}/card.json", json.dumps(card["facts"], indent=1, default=str))
    _drop_checksums(out)
    return {"rows": total, "shards": len(files), "files": files, "skipped": False, "out": out}


def _place_shards(spark, tmp: str, data_dir: str, ext: str) -> list[str]:
    """Rename the part files to train-i-of-n in a new folder, then swap it for `data_dir`:
    until the swap, the earlier export stays whole."""
    Path = spark._jvm.org.apache.hadoop.fs.Path
    fs, tmp_path = _fs(spark, tmp)
    staged = f"{tmp}/_shards"
    fs.mkdirs(Path(staged))
    suffix = ".parquet" if ext == "parquet" else ".json"
    parts = sorted(s.getPath().getName() for s in fs.listStatus(tmp_path) if s.getPath().getName().startswith("part-")
                   and s.getPath().getName().endswith(suffix))
    names = []
    for i, name in enumerate(parts):
        target = f"train-{i:05d}-of-{len(parts):05d}.{ext}"
        if not fs.rename(Path(f"{tmp}/{name}"), Path(f"{staged}/{target}")):
            raise ExportError(f"could not move {tmp}/{name} to {staged}/{target}")
        names.append(f"data/{target}")
    data_path = Path(data_dir)
    if fs.exists(data_path) and not fs.delete(data_path, True):
        raise ExportError(f"could not remove the earlier shards in {data_dir}")
    if not fs.rename(Path(staged), data_path):
        raise ExportError(f"could not move the new shards from {staged} to {data_dir}")
    fs.delete(tmp_path, True)
    return names


def _read_text(spark, path: str) -> str | None:
    fs, jpath = _fs(spark, path)
    if not fs.exists(jpath):
        return None
    stream = fs.open(jpath)
    try:
        reader = spark._jvm.java.io.BufferedReader(spark._jvm.java.io.InputStreamReader(stream, "UTF-8"))
        lines = []
        while (line := reader.readLine()) is not None:
            lines.append(line)
        return "\n".join(lines)
    finally:
        stream.close()


def _drop_checksums(out: str) -> None:
    """Hadoop's local filesystem leaves `.name.crc` files beside what it writes; a dataset
    folder should hold only the dataset."""
    if "://" in out and not out.startswith("file:"):
        return
    root = Path(out.removeprefix("file:"))
    for crc in list(root.glob(".*.crc")) + list(root.glob("data/.*.crc")):
        crc.unlink()


def _write_text(spark, path: str, text: str) -> None:
    fs, jpath = _fs(spark, path)
    stream = fs.create(jpath, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def dataset_card(spark, cfg: Config, lake, total: int, fmt: str, messages: bool, files: list[str]) -> dict:
    sources = [(r["source"], int(r["n"])) for r in lake.read("webinstruct").groupBy("source").agg(F.count("*").alias("n"))
               .orderBy(F.desc("n"), "source").limit(25).collect()]
    steps = funnel(lake)
    used = models_used(lake)
    bench = benchmark_summary(lake, cfg)
    d = cfg.decontam
    facts = {
        "name": cfg.export.name, "rows": total, "format": fmt, "messages": messages, "files": files,
        "funnel": dict(steps), "sources": dict(sources),
        "models": [{"stage": s, "model": m, "prompt_version": v, "rows": n} for s, m, v, n in used],
        "decontamination": {
            "settings": {"ngram": d.ngram, "min_content": d.min_content, "pages": d.pages, "pair_fields": d.pair_fields,
                         "embed_model": d.embed_model if d.embed else None, "top_k": d.top_k, "flag_threshold": d.flag_threshold,
                         "judge_threshold": d.judge_threshold, "judge": d.judge and d.embed, "judge_rule": d.judge_rule},
            "benchmarks": [dict(zip(BENCHMARK_SUMMARY_COLUMNS, row)) for row in bench],
        },
    }
    features = "\n".join(f"  - name: {c}\n    dtype: {'int64' if c == 'index' else 'string'}" for c in COLUMNS)
    if messages:
        features += "\n  - name: messages\n    list:\n    - name: role\n      dtype: string\n    - name: content\n      dtype: string"
    header = (
        "---\nlicense: other\ntask_categories:\n- question-answering\n- text-generation\nlanguage:\n- en\n"
        f"configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n"
        f"dataset_info:\n  features:\n{features}\n  splits:\n  - name: train\n    num_examples: {total}\n---\n"
    )
    body = [
        f"# {cfg.export.name}\n",
        f"{total} question-answer pairs harvested from web crawls by webinstruct (MAmmoTH2-style: recall, dedup, "
        "LLM extraction and refinement, three-tier decontamination), in the WebInstructSub schema"
        + (" with a chat `messages` column." if messages else ".") + f" {len(files)} {fmt} shard(s) under `data/`.\n",
        "## Columns\n",
        "- `orig_question`, `orig_answer`: the pair as extracted from the page\n- `question`, `answer`: the refined pair\n"
        "- `source`: the page's registered domain\n- `index`: a stable integer id (the same pair keeps it across exports)\n"
        + ("- `messages`: the refined pair as a user/assistant chat\n" if messages else ""),
        "## Funnel\n", markdown(["stage", "count"], [[s, "-" if n is None else n] for s, n in steps]) + "\n",
        "## Sources (top 25 domains)\n", markdown(["domain", "pairs"], [list(x) for x in sources]) + "\n",
        "## Models and prompts\n", markdown(["stage", "model", "prompt version", "rows"], [list(x) for x in used]) + "\n",
        "## Decontamination\n",
        f"Tier 1: word {d.ngram}-grams (each with at least {d.min_content} content words) shared with a benchmark question, "
        f"on pages{' ' if d.pages else ' (off) '}and on the pairs' {', '.join(d.pair_fields)}. "
        + (f"Tier 2: the {d.top_k} nearest benchmark questions by {d.embed_model} cosine; >= {d.flag_threshold} is flagged, "
           f">= {d.judge_threshold} goes to tier 3. " if d.embed else "Tier 2: off. ")
        + (f"Tier 3: an LLM judge asked in both orders (rule: {d.judge_rule}); exact matches after normalisation skip it.\n"
           if d.embed and d.judge else "Tier 3: off.\n"),
        markdown(BENCHMARK_SUMMARY_COLUMNS, bench) + "\n",
        "Every finding, with its evidence, is in the lake's `contamination` table.\n",
    ]
    return {"markdown": header + "\n" + "\n".join(body), "facts": facts}


def summary_rows(result: dict, lake=None) -> list[tuple[str, object]]:
    rows = [
        ("pairs", result["rows"]),
        ("shards", result["shards"]),
        ("folder (dataset card: README.md)", result["out"]),
        ("state", "already exported, unchanged" if result["skipped"] else "exported"),
    ]
    return rows + [("  file", f) for f in result["files"]]
