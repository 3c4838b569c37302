"""Export the `webinstruct` table the way SFT users consume it: shards in the
WebInstructSub schema (orig_question, orig_answer, question, answer, source, index),
optionally a chat `messages` column, and a dataset card (README.md with a Hugging Face
header, plus card.json) with the funnel, the sources, the models and prompts, and the
decontamination figures. `--layout verified` writes the WebInstruct-verified shape instead
(question, final answer, answer_type, category, difficulty, source, index; the labels of
`webinstruct label` and `webinstruct difficulty`), and `--verifiable-only`, `--difficulty`
and `--category` narrow either layout; the card then shows the three histograms.

Shards are `data/train-00000-of-000NN.{parquet,jsonl}`, rows ordered by the stable
`index`, written by the executors into a sibling folder, renamed there and swapped in
(jobs/core/storage.py: local folders, dbfs:/, S3 alike; classic and Spark Connect
sessions alike). The target must be new, empty or an earlier export of ours (its card
says so); an export replaces only its own files and never writes inside the lake.
Exporting the same table version the same way again does nothing.

    webinstruct export --format parquet|jsonl --out DIR [--messages] [--layout verified]
                       [--verifiable-only] [--difficulty easy,medium] [--category math,physics]
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass

from pyarrow.fs import FileType
from pyspark.sql import functions as F

from webinstruct.jobs.core import storage
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.contamination import BENCHMARK_SUMMARY_COLUMNS, benchmark_summary
from webinstruct.jobs.core.errors import ExportError
from webinstruct.jobs.core.figures import funnel, models_used
from webinstruct.jobs.core import pii, semdedup
from webinstruct.jobs.core.labels import difficulty_key, label_histograms, label_key, with_labels
from webinstruct.jobs.core.synthesis import VOTES, current_votes, kept_solutions, synth_key, vote_key
from webinstruct.jobs.core.views import quality_current
from webinstruct.lib.llm.prompts import PromptError, load_prompt
from webinstruct.lib.qa.levels import LEVELS
from webinstruct.lib.qa.subjects import CATEGORY_NAMES
from webinstruct.lib.text_table import markdown

COLUMNS = ["orig_question", "orig_answer", "question", "answer", "source", "index"]
# WebInstruct-verified: `answer` is the final answer alone (pair_labels.final_answer)
VERIFIED_COLUMNS = ["question", "answer", "answer_type", "category", "difficulty", "source", "index"]
COLUMNS_TEXT = ("- `orig_question`, `orig_answer`: the pair as extracted from the page\n- `question`, `answer`: the refined pair\n"
                "- `source`: the page's registered domain\n- `index`: a stable integer id (the same pair keeps it across exports)\n")
COLUMNS_TEXT_VERIFIED = (
    "- `question`: the refined question\n- `answer`: its final answer alone (boxed, `####`, \"the answer is\" or the result "
    "the worked answer ends on; null for proofs and essays)\n- `answer_type`: integer, decimal, fraction, expression, equation, "
    "interval, set_or_tuple, matrix, multiple_choice, boolean, short_text, long_text, proof or none\n"
    "- `category`: the question's subject\n- `difficulty`: easy, medium, hard or unsolved, from the teacher's pass rate "
    "(null where synthesize has not sampled the question)\n- `source`: the page's registered domain\n"
    "- `index`: a stable integer id (the same pair keeps it across exports)\n")
GENERATOR = "webinstruct"  # card.json's mark: a folder holding it is an export of ours
OWN = ("data", "openmath", "README.md", "card.json")  # what an export writes, and all it ever replaces
OPENMATH_COLUMNS = ["problem", "generated_solution", "expected_answer", "problem_source"]
STAGING = ".webinstruct-tmp-"  # sibling folders an export builds in, removed when it ends
STALE_S = 3600  # a staging sibling older than this belongs to a killed export: removed


@dataclass(frozen=True)
class Selection:
    """Which published pairs an export writes, and in which shape."""

    layout: str = "webinstructsub"
    min_quality: float = 0.0
    verifiable_only: bool = False
    difficulty: tuple[str, ...] = ()
    category: tuple[str, ...] = ()

    @property
    def labelled(self) -> bool:
        return self.layout == "verified" or self.verifiable_only or bool(self.difficulty) or bool(self.category)


def run(spark, cfg: Config, lake, out: str | None = None, fmt: str | None = None, messages: bool | None = None,
        min_quality: float | None = None, layout: str | None = None, verifiable_only: bool | None = None,
        difficulty: list[str] | None = None, category: list[str] | None = None) -> dict:
    """Export `webinstruct` to `out` (default export.out). The export is built in a sibling
    folder and swapped in; an unchanged table exported the same way writes nothing. The
    other arguments default to their export.* keys."""
    e = cfg.export
    out = str(out or e.out or "").rstrip("/")
    fmt = fmt or e.format
    messages = e.messages if messages is None else messages
    min_quality = e.min_quality if min_quality is None else min_quality
    if not 0.0 <= min_quality <= 1.0:
        raise ExportError(f"--min-quality must be between 0 and 1; got {min_quality}")
    if fmt not in ("parquet", "jsonl"):
        raise ExportError(f"--format must be parquet or jsonl; got {fmt!r}")
    if not out:
        raise ExportError("no output folder: pass --out DIR or set export.out")
    pick = Selection(layout or e.layout, min_quality, e.verifiable_only if verifiable_only is None else verifiable_only,
                     tuple(e.difficulty if difficulty is None else difficulty), tuple(e.category if category is None else category))
    _check_selection(pick)
    if not lake.exists("webinstruct"):
        raise ExportError(f"no table 'webinstruct' in lake {lake.root} (run `webinstruct decontam run` or `webinstruct run` first)")
    if storage.inside(out, lake.root) or storage.inside(lake.root, out):
        raise ExportError(f"--out {out} is inside the lake {lake.root} (or holds it); export to a folder outside the lake")
    facts = own_card(out)
    stamp = {"webinstruct_version": lake.version("webinstruct"), "format": fmt, "messages": bool(messages), "shard_rows": e.shard_rows,
             "min_quality": min_quality, "openmath": e.openmath,
             "votes_version": lake.version(VOTES) if e.openmath and lake.exists(VOTES) else None,
             "vote_key": vote_key(cfg, synth_key(cfg, _solve_version(cfg))) if e.openmath or pick.labelled else None,
             "layout": pick.layout, "verifiable_only": pick.verifiable_only, "difficulty": list(pick.difficulty),
             "category": list(pick.category)}
    if pick.labelled:
        stamp.update(labels_version=lake.version("pair_labels") if lake.exists("pair_labels") else None,
                     difficulty_version=lake.version("question_difficulty") if lake.exists("question_difficulty") else None,
                     label_key=label_key(cfg), difficulty_key=difficulty_key(cfg))
    if facts is not None and all(facts.get(k) == v for k, v in stamp.items()):  # same table, same way: nothing to do
        files = facts.get("files", []) + facts.get("synthesis", {}).get("files", [])
        return {"rows": facts.get("rows", 0), "shards": len(facts.get("files", [])), "files": files,
                "skipped": True, "out": out, "solutions": facts.get("synthesis", {}).get("exported", 0)}
    _remove_stale_staging(out)
    staging = f"{out}{STAGING}{uuid.uuid4().hex[:12]}"
    try:
        selected = _selected(cfg, lake, pick, stamp["vote_key"])
        total, files = _write_shards(selected, staging, fmt, messages, e.shard_rows, pick.layout)
        solutions, openmath = _write_openmath(cfg, lake, staging, fmt, e.shard_rows)
        card = dataset_card(spark, cfg, lake, total, fmt, messages, files, solutions, openmath, selected if pick.labelled else None,
                            pick, selected)
        card["facts"].update(stamp, generator=GENERATOR, own=list(OWN))
        storage.write_text(f"{staging}/README.md", card["markdown"])
        storage.write_text(f"{staging}/card.json", json.dumps(card["facts"], indent=1, default=str))
        _swap_in(staging, out, tuple(facts.get("own", OWN)) if facts is not None else ())
    finally:
        storage.remove(staging)
    return {"rows": total, "shards": len(files), "files": files + openmath, "skipped": False, "out": out, "solutions": solutions}


def own_card(out: str) -> dict | None:
    """The card of our earlier export in `out`; None for an absent or empty folder. A
    folder with anything else in it is refused: an export never deletes what it did not write."""
    if storage.kind(*storage.filesystem(out)) == FileType.File:
        raise ExportError(f"--out {out} is a file, not a folder")
    entries = storage.listing(out)
    if not entries:
        return None
    text = storage.read_text(f"{out}/card.json")
    try:
        facts = json.loads(text) if text else None
    except ValueError:
        facts = None
    if not isinstance(facts, dict) or facts.get("generator") != GENERATOR:
        names = ", ".join(sorted(e.base_name for e in entries)[:5])
        raise ExportError(f"--out {out} is not empty ({names}{', ...' if len(entries) > 5 else ''}) and holds no webinstruct "
                          "export (no card.json of ours); choose a new or empty folder")
    return facts


def _remove_stale_staging(out: str) -> None:
    parent, name = out.rsplit("/", 1) if "/" in out else (".", out)
    now = time.time()
    for entry in storage.listing(parent):
        if entry.base_name.startswith(name + STAGING) and entry.mtime and now - entry.mtime.timestamp() > STALE_S:
            storage.remove(f"{parent}/{entry.base_name}")


def _check_selection(pick: Selection) -> None:
    if pick.layout not in ("webinstructsub", "verified"):
        raise ExportError(f"--layout must be webinstructsub or verified; got {pick.layout!r}")
    for name, values, allowed in (("--difficulty", pick.difficulty, LEVELS), ("--category", pick.category, CATEGORY_NAMES)):
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ExportError(f"{name} may hold {', '.join(allowed)}; got {', '.join(bad)}")


def _selected(cfg: Config, lake, pick: Selection, vkey: str | None):
    """The published pairs to export, with their labels when the layout or a filter needs them."""
    table = lake.read("webinstruct")
    if pick.min_quality > 0 and "quality" in table.columns:
        table = table.where(F.coalesce(F.col("quality"), F.lit(0.0)) >= pick.min_quality)
    if not pick.labelled:
        return table
    table = with_labels(lake, cfg, table, vkey)
    if pick.verifiable_only:
        table = table.where(F.coalesce(F.col("verifiable"), F.lit(False)))
    if pick.difficulty:
        table = table.where(F.col("difficulty").isin(list(pick.difficulty)))
    if pick.category:
        table = table.where(F.col("category").isin(list(pick.category)))
    return table


def _write_shards(table, staging: str, fmt: str, messages: bool, shard_rows: int, layout: str) -> tuple[int, list[str]]:
    """Spark writes the part files; they are renamed to data/train-i-of-n in `staging`."""
    total = table.count()
    shards = max(1, math.ceil(total / shard_rows))
    if layout == "verified":
        data = table.select("question", F.col("final_answer").alias("answer"), *VERIFIED_COLUMNS[2:])
    else:
        data = table.select(*COLUMNS)
    if messages:
        data = data.withColumn("messages", F.array(
            F.struct(F.lit("user").alias("role"), F.col("question").alias("content")),
            F.struct(F.lit("assistant").alias("role"), F.col("answer").alias("content")),
        ))
    data = data.repartitionByRange(shards, "index").sortWithinPartitions("index")
    return total, _write_data(data, staging, "data", fmt)


def _write_data(data, staging: str, folder: str, fmt: str) -> list[str]:
    """Spark writes the part files; they are renamed to <folder>/train-i-of-n in `staging`."""
    spark_out = f"{staging}/_spark_{folder}"
    writer = data.write.mode("error")
    if fmt == "parquet":
        writer.parquet(spark_out)
    else:
        writer.option("ignoreNullFields", "false").option("compression", "none").json(spark_out)
    ext, suffix = ("parquet", ".parquet") if fmt == "parquet" else ("jsonl", ".json")
    parts = sorted(e.base_name for e in storage.listing(spark_out) if e.base_name.startswith("part-") and e.base_name.endswith(suffix))
    files = []
    for i, name in enumerate(parts):
        target = f"{folder}/train-{i:05d}-of-{len(parts):05d}.{ext}"
        storage.move(f"{spark_out}/{name}", f"{staging}/{target}")
        files.append(target)
    storage.remove(spark_out)
    return files


def _write_openmath(cfg: Config, lake, staging: str, fmt: str, shard_rows: int) -> tuple[int, list[str]]:
    """Kept synthesized solutions in the OpenMathInstruct-2 shape, ordered by question and sample."""
    kept = kept_solutions(lake, cfg, _solve_version(cfg)) if cfg.export.openmath else None
    if kept is None:
        return 0, []
    total = kept.count()
    if total == 0:
        return 0, []
    shards = max(1, math.ceil(total / shard_rows))
    data = kept.repartitionByRange(shards, "question_id", "sample").sortWithinPartitions("question_id", "sample")
    return total, _write_data(data.select(*OPENMATH_COLUMNS), staging, "openmath", fmt)


def _solve_version(cfg: Config) -> str:
    try:
        return load_prompt(cfg.synthesize.prompt).version
    except PromptError as exc:
        raise ExportError(f"synthesize.prompt: {exc}") from None


def _swap_in(staging: str, out: str, previous: tuple[str, ...]) -> None:
    """The files the earlier export wrote (`previous`, from its card) step aside, the new
    ones in, then the old ones gone; anything else in `out` stays, and a name of ours that
    someone else's file already holds stops the swap before anything moves."""
    taken = [n for n in OWN if n not in previous and storage.exists(f"{staging}/{n}") and storage.exists(f"{out}/{n}")]
    if taken:
        raise ExportError(f"--out {out} holds {', '.join(taken)}, which no earlier export of ours wrote; move it or export elsewhere")
    old = f"{out}{STAGING}old-{uuid.uuid4().hex[:12]}"
    try:
        for name in previous:
            if name in OWN and storage.exists(f"{out}/{name}"):
                storage.move(f"{out}/{name}", f"{old}/{name}")
        for name in OWN:
            if storage.exists(f"{staging}/{name}"):
                storage.move(f"{staging}/{name}", f"{out}/{name}")
    finally:
        storage.remove(old)


def dataset_card(spark, cfg: Config, lake, total: int, fmt: str, messages: bool, files: list[str], solutions: int = 0,
                 openmath: list[str] | None = None, labelled=None, pick: Selection | None = None, exported=None) -> dict:
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
    pick = pick or Selection()
    columns = VERIFIED_COLUMNS if pick.layout == "verified" else COLUMNS
    histograms = label_histograms(labelled) if labelled is not None else None
    if histograms is not None:
        facts["labels"] = {"layout": pick.layout, "verifiable_only": pick.verifiable_only, "difficulty_filter": list(pick.difficulty),
                           "category_filter": list(pick.category), **histograms}
    features = "\n".join(f"  - name: {c}\n    dtype: {'int64' if c == 'index' else 'string'}" for c in columns)
    if messages:
        features += "\n  - name: messages\n    list:\n    - name: role\n      dtype: string\n    - name: content\n      dtype: string"
    header = (
        "---\nlicense: other\ntask_categories:\n- question-answering\n- text-generation\nlanguage:\n- en\n"
        f"configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n"
        + ("- config_name: openmath\n  data_files:\n  - split: train\n    path: openmath/train-*\n" if openmath else "")
        + f"dataset_info:\n  features:\n{features}\n  splits:\n  - name: train\n    num_examples: {total}\n---\n"
    )
    body = [
        f"# {cfg.export.name}\n",
        f"{total} question-answer pairs harvested from web crawls by webinstruct (MAmmoTH2-style: recall, dedup, "
        "LLM extraction and refinement, three-tier decontamination), in the "
        + ("WebInstruct-verified schema" if pick.layout == "verified" else "WebInstructSub schema")
        + (" with a chat `messages` column." if messages else ".") + f" {len(files)} {fmt} shard(s) under `data/`.\n",
        "## Columns\n",
        (COLUMNS_TEXT_VERIFIED if pick.layout == "verified" else COLUMNS_TEXT)
        + ("- `messages`: the refined pair as a user/assistant chat\n" if messages else ""),
        *(["## Answer types, subjects and difficulty\n", labels_text(histograms, pick) + "\n"] if histograms is not None else []),
        "## Funnel\n", markdown(["stage", "count"], [[s, "-" if n is None else n] for s, n in steps]) + "\n",
        "## Sources (top 25 domains)\n", markdown(["domain", "pairs"], [list(x) for x in sources]) + "\n",
        "## Models and prompts\n", markdown(["stage", "model", "prompt version", "rows"], [list(x) for x in used]) + "\n",
        "## Quality gate\n",
        gate_text(cfg, lake, facts) + "\n",
        "## Semantic dedup\n",
        semdedup_text(cfg, lake, facts) + "\n",
        "## Personal data\n",
        pii_text(cfg, lake, facts, exported) + "\n",
        "## Synthesis\n",
        synthesis_text(cfg, lake, facts, solutions, openmath or [], fmt) + "\n",
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


def labels_text(histograms: dict, pick: Selection) -> str:
    filters = [f for f in (("verifiable answers only" if pick.verifiable_only else ""),
                           (f"difficulty {', '.join(pick.difficulty)}" if pick.difficulty else ""),
                           (f"subjects {', '.join(pick.category)}" if pick.category else "")) if f]
    lines = [f"Selected: {'; '.join(filters) if filters else 'every published pair'}. "
             f"{histograms['verifiable']} of the exported pairs have a verifiable final answer.\n"]
    for column, title in (("answer_type", "answer type"), ("category", "subject"), ("difficulty", "difficulty")):
        lines.append(markdown([title, "pairs"], [[k, v] for k, v in histograms[column].items()]) + "\n")
    return "\n".join(lines)


def semdedup_text(cfg: Config, lake, facts: dict) -> str:
    """The threshold and what semantic dedup removed, for the card; facts gain the same."""
    s = cfg.semdedup
    removed = lake.count(semdedup.GROUPS) if s.enabled and lake.exists(semdedup.GROUPS) else 0
    facts["semdedup"] = {"enabled": s.enabled, "threshold": s.threshold, "model": cfg.decontam.embed_model, "removed": removed}
    if not s.enabled:
        return "Off (`semdedup.enabled = false`): rewordings of one question may each be published."
    return (f"Questions asked again in other words were published once: {cfg.decontam.embed_model} embeddings clustered with "
            f"k-means, and inside each cluster questions at cosine >= {s.threshold} whose final answers agree (or, without two "
            f"checkable answers, whose numbers and order signs are the same) form a group that keeps one pair (already "
            f"published first, then quality). {removed} pairs were left out this way.")


def pii_text(cfg: Config, lake, facts: dict, exported=None) -> str:
    """What PII redaction did to the exported pairs (`exported`, a filtered selection; all
    published pairs when None), for the card; facts gain the same figures."""
    found = pii.published_counts(lake, cfg, exported if exported is not None else lake.read("webinstruct"))
    facts["pii"] = {"mode": cfg.pii.mode, "types": list(cfg.pii.types), **(found or {})}
    if cfg.pii.mode == "off":
        return "PII redaction was off (`pii.mode = off`): texts are published as the pages wrote them."
    kinds = ", ".join(cfg.pii.types)
    if not found or not found["pairs"]:
        return f"Checked for personal data ({kinds}); none was found in the published pairs."
    per_type = markdown(["type", "findings"], [[t, n] for t, n in found["types"].items()])
    if cfg.pii.mode == "drop":
        return (f"Checked for personal data ({kinds}); none of the {found['pairs']} checked pairs that had some is published "
                f"(`pii.mode = drop`).\n\n{per_type}")
    return (f"Checked for personal data ({kinds}); in {found['pairs']} published pairs each finding was replaced by a typed "
            f"placeholder (`<EMAIL>`, `<PHONE>`, ...).\n\n{per_type}")


def gate_text(cfg: Config, lake, facts: dict) -> str:
    """The gate's outcome and settings for the card; facts gain the same figures."""
    g = cfg.gate
    if not lake.exists("qa_quality") or not lake.exists("qa_refined"):
        return "No pair went through the quality gate."
    rows = quality_current(lake, cfg)
    counts = {r["passed"]: int(r["n"]) for r in rows.groupBy("passed").agg(F.count("*").alias("n")).collect()}
    reasons = [(r["reason"], int(r["n"])) for r in rows.select(F.explode("reasons").alias("reason")).groupBy("reason")
               .agg(F.count("*").alias("n")).orderBy(F.desc("n"), "reason").limit(10).collect()]
    table = lake.read("webinstruct")
    dups = (table.agg(F.sum("duplicates")).collect()[0][0] or 0) if "duplicates" in table.columns else 0
    facts["gate"] = {"passed": counts.get(True, 0), "rejected": counts.get(False, 0), "reasons": dict(reasons),
                     "duplicates_removed": int(dups), "checks": list(g.checks), "enabled": g.enabled}
    text = (f"{counts.get(True, 0)} refined pairs passed and {counts.get(False, 0)} were rejected by the checks "
            f"{', '.join(g.checks)} (lib/qa/gate.py){'' if g.enabled else '; the gate is off, so rejected pairs were published too'}. "
            f"Pair-level dedup removed {int(dups)} exact or near copies. `quality` in the lake's `qa_quality` and "
            "`webinstruct` tables is a heuristic (gate score, page recall score, markup votes) to sort and cut on.\n")
    if reasons:
        text += "\n" + markdown(["rejection reason", "pairs"], [list(x) for x in reasons]) + "\n"
    return text


AGREEMENT_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)


def synthesis_text(cfg: Config, lake, facts: dict, solutions: int, files: list[str], fmt: str) -> str:
    """The synthesis figures for the card (facts gain them too): questions, samples, the
    majority agreement histogram and agreement with the pages' own answers."""
    votes = current_votes(lake, cfg, _solve_version(cfg))
    if votes is None:
        return "No solutions were synthesized (`webinstruct synthesize`)."
    s = cfg.synthesize
    agg = votes.agg(F.count("*").alias("q"), F.sum("samples").alias("samples"), F.sum("parsed").alias("parsed"),
                    F.sum((F.size("kept_samples") > 0).cast("int")).alias("kept_q"), F.sum(F.size("kept_samples")).alias("kept"),
                    F.sum(F.col("reference_agrees").cast("int")).alias("agree"), F.count("reference_agrees").alias("compared")).collect()[0]
    by_source = {r["s"]: int(r["n"]) for r in votes.groupBy(F.split("source", ":")[0].alias("s")).agg(F.count("*").alias("n")).collect()}
    edges = list(AGREEMENT_BINS)
    bins = [0] * (len(edges) - 1)
    for r in votes.where(F.col("majority_answer").isNotNull()).groupBy("agreement").count().collect():
        i = next(k for k in range(len(bins)) if r["agreement"] < edges[k + 1] or k == len(bins) - 1)
        bins[i] += int(r["count"])
    labels = [f"{edges[k]:.2f}-{edges[k + 1]:.2f}" for k in range(len(bins))]
    facts["synthesis"] = {
        "questions": int(agg["q"]), "samples": int(agg["samples"] or 0), "with_final_answer": int(agg["parsed"] or 0),
        "questions_kept": int(agg["kept_q"] or 0), "solutions_kept": int(agg["kept"] or 0), "exported": solutions,
        "reference_agrees": int(agg["agree"] or 0), "reference_compared": int(agg["compared"] or 0),
        "agreement_histogram": dict(zip(labels, bins)), "by_source": by_source, "files": files,
        "settings": {"teacher": s.model or cfg.llm.model, "n": s.n, "temperature": s.temperature, "top_p": s.top_p, "keep": s.keep,
                     "min_votes": s.min_votes, "min_agreement": s.min_agreement},
    }
    compared = int(agg["compared"] or 0)
    text = (f"{int(agg['q'])} questions ({', '.join(f'{k} {v}' for k, v in sorted(by_source.items()))}) got {int(agg['samples'] or 0)} "
            f"sampled solutions from {s.model or cfg.llm.model} (n = {s.n}, temperature {s.temperature}, top_p {s.top_p}); "
            f"{int(agg['parsed'] or 0)} stated a final answer. Answers were grouped by equivalence (math-verify) and "
            f"`{s.keep}` kept {int(agg['kept'] or 0)} solutions of {int(agg['kept_q'] or 0)} questions (min votes {s.min_votes}, "
            f"min agreement {s.min_agreement}). The majority agreed with the page's own final answer for "
            f"{int(agg['agree'] or 0)} of {compared} questions that had one. "
            + (f"{solutions} solutions are under `openmath/` in the OpenMathInstruct-2 schema "
               f"({', '.join(OPENMATH_COLUMNS)}), {len(files)} {fmt} shard(s).\n" if files else "None were exported.\n"))
    return text + "\n" + markdown(["majority agreement", "questions"], [[label, n] for label, n in zip(labels, bins)]) + "\n"


def summary_rows(result: dict, lake=None) -> list[tuple[str, object]]:
    rows = [
        ("pairs", result["rows"]),
        ("synthesized solutions (openmath/)", result.get("solutions", "-")),
        ("shards", result["shards"]),
        ("folder (dataset card: README.md)", result["out"]),
        ("state", "already exported, unchanged" if result["skipped"] else "exported"),
    ]
    return rows + [("  file", f) for f in result["files"]]
