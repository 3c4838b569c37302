"""Lake-wide figures the end-to-end run, the export's dataset card and the demo print: the
funnel from WARC records to clean pairs, and the models and prompts behind the pairs.
Every figure is read from the tables, so it describes the lake, not one run."""

from __future__ import annotations

from pyspark.sql import functions as F

from webinstruct.jobs.core.errors import MissingInput
from webinstruct.jobs.core.views import DERIVED, config_of, current_pairs, quality_current, read_source, refined_pairs
from webinstruct.lib.text_table import render


def _count(lake, name: str) -> int | None:
    try:
        return read_source(lake, name, name).count() if name in DERIVED else (lake.count(name) if lake.exists(name) else None)
    except MissingInput:
        return None


def funnel(lake) -> list[tuple[str, int | None]]:
    """(stage, count) from archive records to published pairs; None where a stage has not run."""
    rows: list[tuple[str, int | None]] = []
    if lake.exists("warc_files"):
        agg = lake.read("warc_files").agg(F.sum("records").alias("r"), F.sum("html").alias("h"), F.count("*").alias("f")).collect()[0]
        rows += [("archives", int(agg["f"] or 0)), ("WARC records", int(agg["r"] or 0)), ("HTML pages", int(agg["h"] or 0))]
    else:
        rows += [("archives", None), ("WARC records", None), ("HTML pages", None)]
    rows.append(("documents (language, length)", _count(lake, "documents")))
    if lake.exists("fetches") and lake.exists("documents"):
        # documents a fetch run wrote: the run that settled the record is the run that wrote the page
        ok = lake.read("fetches").where((F.col("status") == "ok") & F.col("span_start").isNotNull())
        docs = lake.read("documents").select("doc_id", "run_id")
        rows.append((FETCHED_ROW, docs.join(ok.select("doc_id", "run_id"), ["doc_id", "run_id"], "left_semi").count()))
        if lake.exists("selection"):
            chosen = lake.read("selection").where(F.col("reason") == "accepted_domains").select("warc_filename", "warc_record_offset")
            expanded = ok.join(chosen, ["warc_filename", "warc_record_offset"], "left_semi").select("doc_id", "run_id")
            rows.append((EXPANSION_ROW, docs.join(expanded, ["doc_id", "run_id"], "left_semi").count()))
    recalled = _count(lake, "documents_recalled") if lake.exists("recall_scores") else None
    rows.append(("recalled", recalled))
    rows.append(("kept after dedup", _count(lake, "documents_dedup")))
    rows.append(("pages passing decontamination", _count(lake, "documents_clean") if lake.exists("contamination") else None))
    if lake.exists("qa_extracted"):
        ok = current_pairs(lake).where(F.col("status") == "ok")
        rows.append(("pages with pairs", ok.select("doc_id").distinct().count()))
        rows.append(("pairs extracted", ok.select("qa_id").distinct().count()))
        if "method" in ok.columns:
            rows.append((MARKUP_ROW, ok.where(F.col("method") == "markup").select("qa_id").distinct().count()))
    else:
        rows += [("pages with pairs", None), ("pairs extracted", None)]
    if lake.exists("qa_refined"):
        rows.append(("pairs refined", refined_pairs(lake).count()))
    else:
        rows.append(("pairs refined", None))
    if lake.exists("qa_quality") and lake.exists("qa_refined"):
        rows.append(("passed the quality gate", quality_current(lake, config_of(lake)).where("passed").count()))
    else:
        rows.append(("passed the quality gate", None))
    published = lake.count("webinstruct") if lake.exists("webinstruct") else None
    if published is not None and lake.exists("semdedup"):  # the rewordings the last publish left out
        rows.append((BEFORE_SEMDEDUP_ROW, published + lake.count("semdedup")))
    rows.append(("clean pairs (webinstruct)", published))
    return rows


MARKUP_ROW = "  of which stated in page markup"  # a part of the row above, not a step after it
FETCHED_ROW = "  of which fetched by byte range"  # parts of `documents`, not steps after it
EXPANSION_ROW = "  of which brought in by domain expansion"
PART_ROWS = (MARKUP_ROW, FETCHED_ROW, EXPANSION_ROW)
BEFORE_SEMDEDUP_ROW = "clean pairs before semantic dedup"
_UNITS = {BEFORE_SEMDEDUP_ROW: "pairs", "archives": "files", "WARC records": "records", "pairs extracted": "pairs", MARKUP_ROW: "pairs", "pairs refined": "pairs",
          FETCHED_ROW: "parts", EXPANSION_ROW: "parts",
          "passed the quality gate": "pairs", "clean pairs (webinstruct)": "pairs"}


def funnel_table(lake, steps: list[tuple[str, int | None]] | None = None) -> str:
    """The funnel with each stage's share of the stage before it (same unit only).
    `steps`: a funnel already computed (each row is a count over a table: do it once)."""
    out, previous = [], (None, None)
    for stage, n in funnel(lake) if steps is None else steps:
        unit = _UNITS.get(stage, "pages")
        before, before_unit = previous
        share = f"{100.0 * n / before:.1f}%" if n is not None and before and unit == before_unit else ""
        out.append([stage, "-" if n is None else n, share])
        if n is not None and stage not in PART_ROWS:
            previous = (n, unit)
    return render(["funnel", "count", "kept of previous"], out)


def models_used(lake) -> list[tuple[str, str, str, int]]:
    """(stage, model, prompt version, rows) of the LLM outputs in the lake."""
    out = []
    for stage, table in (("extract", "qa_extracted"), ("refine", "qa_refined"), ("domain judge", "domain_verdicts"),
                         ("decontam judge", "decontam_judgements"), ("synthesize", "solutions"), ("augment", "synth_questions")):
        if lake.exists(table):
            for r in lake.read(table).where(F.col("model").isNotNull()).groupBy("model", "prompt_version").agg(F.count("*").alias("n")).orderBy("model").collect():
                out.append((stage, r["model"], r["prompt_version"], int(r["n"])))
    if lake.exists("models"):
        for r in lake.read("models").orderBy("round", "created_at").collect():
            out.append((f"recall round {r['round']}", f"fastText {r['model_id']}", "", int(r["train_positives"] + r["train_negatives"])))
    return out
