"""The ordered stage registry, and `webinstruct run`: every stage in order with one config.

Each step names the tables (and views) it reads and writes; the CLI help, `webinstruct
run`, the report and the README follow this list. Each stage does only new work (files not
ingested, documents not scored, deduplicated, checked or extracted, pairs not refined or
checked), so a rerun after a crash resumes where it stopped and a rerun without new input
writes nothing. Page-level decontamination runs before extraction, as MAmmoTH2 did, so no
LLM time goes to a contaminated page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from webinstruct.jobs.core import gc
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.console import CONSOLE
from webinstruct.jobs.core.figures import funnel, funnel_table
from webinstruct.jobs.core.llm_stage import ensure_offline_model
from webinstruct.jobs.core.summary import print_benchmarks, print_summary
from webinstruct.jobs.stages import (decontam, dedup, difficulty, export, extract, fetch, gate, ingest, label, pii, recall, refine,
                                     select, semdedup, synthesize)
from webinstruct.jobs.stages.decontam import check


@dataclass(frozen=True)
class RunOptions:
    """What `webinstruct run` passes on to the steps that take options."""

    inputs: tuple[str, ...] = ()
    sample: int | None = None
    out: str | None = None  # export folder; None: export.out
    fmt: str | None = None
    messages: bool | None = None


@dataclass(frozen=True)
class Step:
    name: str  # the CLI command (and subcommand) and the summary's title
    about: str
    reads: tuple[str, ...]  # tables and views, as configured by default
    writes: tuple[str, ...]
    call: Callable  # (spark, cfg, lake, RunOptions) -> counters, or None when the step has nothing to do
    summary: Callable  # (counters, lake) -> rows
    llm: Callable = lambda cfg: False  # whether the step asks the configured LLM engine (given the config)
    notes: Callable = lambda counters: []  # lines printed under the summary table (which archives failed, ...)


def _ingest(spark, cfg, lake, o: RunOptions):
    return ingest.run(spark, cfg, lake, list(o.inputs), o.sample) if o.inputs else None


def _select(spark, cfg, lake, o: RunOptions):
    return select.run(spark, cfg, lake, select.request_from(cfg)) if cfg.select.index and cfg.select.crawls else None


def _fetch(spark, cfg, lake, o: RunOptions):
    return fetch.run(spark, cfg, lake) if lake.exists("selection") else None


def expand_domains(spark, cfg, lake, round_no: int) -> dict:
    """MAmmoTH2's loop, for recall: the accepted domains' pages of recall.expand_crawls,
    selected from the index and fetched (the stages share tables, not code: recall gets
    this function from here)."""
    r = cfg.recall
    request = select.request_from(cfg, crawls=list(r.expand_crawls), accepted_round=round_no, per_domain=r.expand_per_domain,
                                  url_like=[], sample=1.0)
    chosen = select.run(spark, cfg, lake, request)
    got = fetch.run(spark, cfg, lake)
    return {"selected": chosen.get("records_selected", 0), "fetched_ok": got.get("ok", 0),
            "documents_written": got.get("documents_written", 0)}


def _recall(spark, cfg, lake, o: RunOptions):
    """Off when every document counts as recalled (curated pages, a Q&A site's own dump):
    no seeds, no training, no judge."""
    if cfg.recall.recalled == "all":
        return None
    return recall.run(spark, cfg, lake, expand=expand_domains if cfg.recall.expand_crawls else None)


def _synthesize(spark, cfg, lake, o: RunOptions):
    if not cfg.synthesize.enabled:
        return None
    return synthesize.run(spark, cfg, lake, augment=cfg.synthesize.augment, screen=check.screen)


def _export(spark, cfg, lake, o: RunOptions):
    target = o.out if o.out is not None else cfg.export.out
    return export.run(spark, cfg, lake, target, o.fmt, o.messages) if target else None


STEPS: tuple[Step, ...] = (
    Step("ingest", "WARC/ARC archives -> documents (text, language, lineage) and the warc_files manifest",
         ("archives",), ("documents", "warc_files", "qa_markup"), _ingest, ingest.summary_rows, notes=ingest.summary_notes),
    Step("select", "Common Crawl's columnar URL index -> the records to fetch (crawls, domains, languages, MIME, URL patterns, sample)",
         ("cc-index",), ("selection",), _select, select.summary_rows),
    Step("fetch", "the selected records by HTTP/S3 byte range -> documents (the same record code as ingest)",
         ("selection",), ("documents", "qa_markup", "fetches"), _fetch, fetch.summary_rows),
    Step("recall", "fastText classifier + LLM domain judge, two rounds -> recall scores, the recalled pages",
         ("documents",), ("models", "recall_scores", "domains", "domain_verdicts"),
         _recall, recall.summary_rows, lambda cfg: cfg.recall.judge and cfg.recall.recalled != "all"),
    Step("dedup", "exact + MinHash-LSH near duplicates of the recalled pages; one keeper per cluster",
         ("documents_recalled",), ("dedup",), lambda spark, cfg, lake, o: dedup.run(spark, cfg, lake), dedup.summary_rows),
    Step("decontam pages", "10-gram benchmark overlap on the kept pages, before any LLM reads them",
         ("documents_dedup", "benchmarks"), ("benchmarks", "contamination", "decontam_checked"),
         lambda spark, cfg, lake, o: decontam.pages(spark, cfg, lake), decontam.summary_rows),
    Step("extract", "question-answer pairs from each clean page: its schema.org markup, else the LLM",
         ("documents_clean", "qa_markup"), ("qa_extracted",), lambda spark, cfg, lake, o: extract.run(spark, cfg, lake), extract.summary_rows,
         lambda cfg: True),
    Step("refine", "LLM: each pair rewritten with its reasoning steps",
         ("qa_extracted",), ("qa_refined",), lambda spark, cfg, lake, o: refine.run(spark, cfg, lake), refine.summary_rows,
         lambda cfg: True),
    Step("gate", "quality gate on each refined pair (faithful, grounded, real answer, well-formed, plausible) and its quality figure",
         ("qa_refined", "documents", "qa_markup"), ("qa_quality",), lambda spark, cfg, lake, o: gate.run(spark, cfg, lake),
         gate.summary_rows),
    Step("label", "each refined pair's final answer: its type (integer, expression, proof, ...) and whether a checker could verify it",
         ("qa_refined",), ("pair_labels",), lambda spark, cfg, lake, o: label.run(spark, cfg, lake), label.summary_rows),
    Step("pii", "personal data in each refined pair (e-mail, phone, card, IBAN, IP, secrets in links) -> typed placeholders, "
         "or the pair left out (pii.mode)", ("qa_refined",), ("pair_pii",), lambda spark, cfg, lake, o: pii.run(spark, cfg, lake),
         pii.summary_rows),
    Step("semdedup", "each refined question's embedding, clustered with k-means; publishing keeps one pair per group of "
         "rewordings (semdedup.threshold)", ("qa_refined",), ("pair_embeddings", "semdedup_centroids"),
         lambda spark, cfg, lake, o: semdedup.run(spark, cfg, lake), semdedup.summary_rows),
    Step("decontam pairs", "10-gram, embedding and LLM-judge checks on refined pairs; publish the clean ones that passed the gate, one per duplicate",
         ("qa_refined", "benchmarks"), ("contamination", "decontam_checked", "decontam_judgements", "semdedup", "pair_embeddings", "semdedup_centroids", "pair_pii",
          "webinstruct"),
         lambda spark, cfg, lake, o: decontam.pairs(spark, cfg, lake), decontam.summary_rows,
         lambda cfg: cfg.decontam.embed and cfg.decontam.judge),
    Step("synthesize", "sampled solutions voted by equivalent final answers (OpenMathInstruct-2); with augment, new problems "
         "screened by dedup and decontam (off unless synthesize.enabled)",
         ("webinstruct", "synth_questions"), ("solutions", "answer_verdicts", "solution_votes", "synth_questions", "synth_screen"), _synthesize,
         synthesize.summary_rows, lambda cfg: cfg.synthesize.enabled),
    Step("difficulty", "each voted question's pass rate for its teacher (samples equal to the page's answer, else the majority), "
         "binned easy / medium / hard / unsolved", ("solution_votes",), ("question_difficulty",),
         lambda spark, cfg, lake, o: difficulty.run(spark, cfg, lake), difficulty.summary_rows),
    Step("export", "WebInstructSub shards, OpenMathInstruct-2 shards of kept solutions, and a dataset card",
         ("webinstruct", "solution_votes"), ("export folder",), _export, export.summary_rows),
)


SKIPPED = {"ingest": "nothing to do (no archives given)",
           "select": "nothing to do (select.index and select.crawls not set)",
           "fetch": "nothing to do (no selection: run select)",
           "recall": 'skipped: recall is off (recall.recalled = "all"), every document goes on to dedup',
           "synthesize": "nothing to do (synthesize.enabled = false)",
           "difficulty": "nothing to do (no solution_votes: synthesize has not run)", "pii": "skipped: pii.mode = off",
           "semdedup": "skipped: semdedup.enabled = false", "export": "nothing to do (no export folder)"}


def step(name: str) -> Step:
    return next(s for s in STEPS if s.name == name)


def overview() -> str:
    """The pipeline in order, for the CLI's help."""
    width = max(len(s.name) for s in STEPS)
    lines = ["pipeline (webinstruct run), in order:"]
    for i, s in enumerate(STEPS, 1):
        lines.append(f"  {i}. {s.name:<{width}}  {s.about}")
        lines.append(f"     {'':<{width}}  reads {', '.join(s.reads)}; writes {', '.join(s.writes)}")
    return "\n".join(lines)


def run(spark, cfg: Config, lake, inputs: list[str], *, sample: int | None = None, out: str | None = None,
        fmt: str | None = None, messages: bool | None = None, until: str | None = None,
        after_step: Callable[[str], None] | None = None) -> list[tuple[str, int | None]]:
    """Run the steps (through `until`, default all) and print each summary; returns the
    funnel. Stage errors propagate (the CLI prints them with the step's name).
    `after_step(name)` is called when a step has ended and released what it held."""
    lake.config = cfg
    options = RunOptions(tuple(inputs), sample, out, fmt, messages)
    steps = STEPS[: [s.name for s in STEPS].index(until) + 1] if until else STEPS
    if any(s.llm(cfg) for s in steps):
        ensure_offline_model(cfg)
    for s in steps:
        with CONSOLE.stage(s.name, s.about, spark):
            counters = s.call(spark, cfg, lake, options)
        if counters is None:
            print(f"  {SKIPPED.get(s.name, 'nothing to do')}")
        else:
            print_summary(s.name, s.summary(counters, lake), s.notes(counters))
            if s.name == "decontam pairs":
                print_benchmarks(lake, cfg)
        if after_step is not None:
            after_step(s.name)
    steps_seen = funnel(lake)
    print(f"\nfunnel (lake {lake.root})")
    print(funnel_table(lake, steps_seen))
    leftovers = gc.collect(lake, cfg, apply=False).totals()
    if leftovers:
        n, size = sum(v[0] for v in leftovers.values()), sum(v[1] for v in leftovers.values())
        print(f"\n{n} leftover file(s) or folder(s) of earlier runs ({size / 1e6:.1f} MB) can be reclaimed: webinstruct gc")
    return steps_seen
