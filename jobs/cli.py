"""`webinstruct` command line: the parser and the dispatch, nothing else. Global options
work before or after the subcommand:

    webinstruct [--config FILE|NAME] [--lake DIR] [--remote sc://HOST:PORT] [--set section.key=value ...] COMMAND ...

Config errors are reported before Spark starts; every error a user can act on
(`WebinstructError`) prints as `command: message` and exits 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import traceback
from pathlib import Path

from webinstruct.jobs import demo, pipeline
from webinstruct.jobs.core import benchmarks, gc
from webinstruct.jobs.core.config import PACKAGED, Config, load_config
from webinstruct.jobs.core.console import CONSOLE
from webinstruct.jobs.core.errors import ConfigError, WebinstructError
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.report import write_report
from webinstruct.jobs.core.runs import new_run_id
from webinstruct.jobs.core.session import get_spark, lake_root_problem, runs_on_one_machine
from webinstruct.jobs.core.storage import is_local
from webinstruct.jobs.core.summary import print_benchmarks, print_summary, run_sql, stdout_to_stderr, tables_text
from webinstruct.jobs.stages import (decontam, dedup, difficulty, export, extract, fetch, gate, ingest, label, pii, recall, refine,
                                     select, semdedup, synthesize)
from webinstruct.jobs.stages.decontam import check
from webinstruct.lib.llm.offline import prepare
from webinstruct.lib.qa import answers
from webinstruct.lib.text_table import render


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--config", default=default,
                        help=f"TOML config file, or a packaged one: {', '.join(PACKAGED)} (default local)")
    parser.add_argument("--lake", default=default, help="lake root folder or URI (overrides lake.root)")
    parser.add_argument("--remote", default=default, metavar="sc://HOST:PORT",
                        help="run through a Spark Connect server (or set SPARK_REMOTE)")
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="also stream the run's log (library output: vLLM, Spark, torch) to stderr")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=argparse.SUPPRESS if suppress else [],
        metavar="SECTION.KEY=VALUE", help="override one config key (repeatable)",
    )


def _about(name: str) -> str:
    return pipeline.step(name).about


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webinstruct", description=__doc__.split("\n")[0],
                                     epilog=pipeline.overview(), formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)

    p = sub.add_parser("ingest", parents=[common], help=_about("ingest"))
    p.add_argument("inputs", nargs="+", help="files, folders, globs, s3://, https:// or a warc.paths.gz listing")
    p.add_argument("--sample", type=int, default=None, help="ingest a seeded random sample of N archives")
    p.add_argument("--allow-absolute", action="store_true",
                   help="accept absolute paths and URLs inside a warc.paths listing (one you trust)")

    p = sub.add_parser("select", parents=[common], help=_about("select"))
    p.add_argument("--index", default=None, help="Common Crawl index root (a folder holding cc-index/table/cc-main/warc/, "
                   "s3://commoncrawl/, or https://data.commoncrawl.org/); default select.index")
    p.add_argument("--crawl", dest="crawls", action="append", default=None, metavar="CRAWL", help="e.g. CC-MAIN-2024-22 (repeatable)")
    p.add_argument("--domains", default=None, help="registered domains, comma-separated: a.org,b.com")
    p.add_argument("--domains-file", default=None, help="a file of registered domains, one per line")
    p.add_argument("--accepted-domains", type=int, default=None, metavar="ROUND", help="the domains recall's judge accepted in ROUND")
    p.add_argument("--languages", default=None, help="primary content languages, comma-separated (en or eng)")
    p.add_argument("--mime", default=None, help="detected MIME types, comma-separated (default select.mime)")
    p.add_argument("--url-like", dest="url_like", action="append", default=None, help="SQL LIKE pattern on the URL (repeatable)")
    p.add_argument("--sample", type=float, default=None, help="share of matching records kept, seeded (0 < F <= 1)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--per-domain", type=int, default=None, help="at most N records per domain and crawl")

    p = sub.add_parser("fetch", parents=[common], help=_about("fetch"))
    p.add_argument("--base-url", default=None, help="where warc_filename is found (default fetch.base_url: https://data.commoncrawl.org/)")

    p = sub.add_parser("recall", parents=[common], help=_about("recall"))
    rsub = p.add_subparsers(dest="step", required=True)
    for name, text in (
        ("run", "both rounds, each step incremental (what the pipeline runs)"),
        ("train", "train a round's classifier from the seeds (or the judged domains for round 2)"),
        ("score", "score documents without a score from the round's model"),
        ("domains", "per-domain counts and candidates for the judge"),
        ("judge", "LLM verdicts on candidate domains not judged yet"),
    ):
        q = rsub.add_parser(name, parents=[common], help=text)
        if name != "run":
            q.add_argument("--round", type=int, choices=(1, 2), default=1)
        if name == "train":
            q.add_argument("--force", action="store_true", help="train even if these examples already made a model")

    sub.add_parser("dedup", parents=[common], help=_about("dedup"))

    p = sub.add_parser("benchmarks", parents=[common], help="the benchmark registry decontamination checks against")
    bsub = p.add_subparsers(dest="step", required=True)
    q = bsub.add_parser("add", parents=[common], help="register built-in benchmarks, a file with a field map, or (no arguments) decontam.benchmarks")
    q.add_argument("names", nargs="*", help="built-in benchmark names, or 'all' (read from --dir)")
    q.add_argument("--dir", default=None, help="folder holding the released benchmark files")
    q.add_argument("--file", default=None, help="a JSONL/JSON/parquet file to add as benchmark --name")
    q.add_argument("--name", default=None)
    q.add_argument("--question", default="question", help="field holding the question (dotted paths allowed)")
    q.add_argument("--answer", default="", help="field holding the answer")
    q.add_argument("--id", dest="item_id", default="", help="field holding the item id (default: the record's position)")
    q.add_argument("--split", default="test")
    bsub.add_parser("list", parents=[common], help="registered benchmarks with their item counts")

    p = sub.add_parser("decontam", parents=[common], help="n-gram, embedding and LLM-judge decontamination -> contamination, webinstruct")
    dsub = p.add_subparsers(dest="step", required=True)
    for name, text in (
        ("run", "pages, then pairs (what the pipeline runs, in two places)"),
        ("pages", _about("decontam pages")),
        ("pairs", _about("decontam pairs")),
    ):
        dsub.add_parser(name, parents=[common], help=text)
    q = dsub.add_parser("check", parents=[common], help="run the three tiers on any Q-A file and print one row per pair")
    q.add_argument("--input", required=True, help="JSONL, JSON list or parquet file")
    q.add_argument("--question-field", default="question")
    q.add_argument("--answer-field", default="answer")
    q.add_argument("--format", choices=("table", "json"), default="table")

    sub.add_parser("extract", parents=[common], help=_about("extract"))
    sub.add_parser("refine", parents=[common], help=_about("refine"))
    sub.add_parser("gate", parents=[common], help=_about("gate"))
    sub.add_parser("label", parents=[common], help=_about("label"))
    sub.add_parser("pii", parents=[common], help=_about("pii"))
    p = sub.add_parser("semdedup", parents=[common], help=_about("semdedup"))
    p.add_argument("--recluster", action="store_true", help="run k-means again over every stored embedding")
    sub.add_parser("difficulty", parents=[common], help=_about("difficulty"))

    p = sub.add_parser("synthesize", parents=[common], help=_about("synthesize"))
    p.add_argument("--augment", action="store_true", default=None,
                   help="first write new problems from the published questions, screen them (dedup, decontam), then solve them too")
    p.add_argument("--input", default=None, help="also solve the questions of this JSONL/JSON/parquet file (registered in the lake)")
    p.add_argument("--question-field", default="question")
    p.add_argument("--answer-field", default="answer", help="the file's reference answer (or a solution ending in one)")

    p = sub.add_parser("export", parents=[common], help=_about("export"))
    p.add_argument("--out", default=None, help="target folder (default export.out)")
    p.add_argument("--format", choices=("parquet", "jsonl"), default=None, help="default export.format")
    p.add_argument("--messages", action="store_true", default=None, help="add a chat messages column")
    p.add_argument("--min-quality", type=float, default=None, help="only pairs with quality at least this (default export.min_quality)")
    p.add_argument("--layout", choices=("webinstructsub", "verified"), default=None,
                   help="verified: question, final answer, answer_type, category, difficulty, source, index (default export.layout)")
    p.add_argument("--verifiable-only", action="store_true", default=None, help="only pairs with a verifiable final answer")
    p.add_argument("--difficulty", default=None, help="only these levels, comma-separated: easy,medium,hard,unsolved")
    p.add_argument("--category", default=None, help="only these subjects, comma-separated (e.g. math,physics)")

    p = sub.add_parser("run", parents=[common], help="every stage in order (see below), incremental, then the funnel")
    p.add_argument("inputs", nargs="*", help="archives to ingest first (none: work on what the lake holds)")
    p.add_argument("--sample", type=int, default=None, help="ingest a seeded random sample of N archives")
    p.add_argument("--out", default=None, help="export folder (default export.out; none: no export)")
    p.add_argument("--format", choices=("parquet", "jsonl"), default=None)
    p.add_argument("--messages", action="store_true", default=None)
    p.add_argument("--until", choices=[s.name for s in pipeline.STEPS], default=None, metavar="STEP",
                   help="stop after this step (quote two-word steps: --until 'decontam pages')")
    p.add_argument("--report", default=None, metavar="FILE", help="then write the HTML report of the lake to FILE")

    p = sub.add_parser("report", parents=[common], help="one self-contained HTML page of the lake's figures and plots")
    p.add_argument("--out", default="report.html", help="the HTML file to write (default report.html)")

    p = sub.add_parser("models", parents=[common], help="offline models")
    msub = p.add_subparsers(dest="step", required=True)
    q = msub.add_parser("prepare", help="convert the packaged SmolLM2-135M-Instruct GGUF to a safetensors folder vLLM loads")
    q.add_argument("--out", default=None, help="target folder (default: the user cache, as the local config expects)")
    q.add_argument("--force", action="store_true", help="convert again even if the folder is ready")

    p = sub.add_parser("gc", parents=[common], help="remove what runs left behind (uncommitted files, scratch) and vacuum the tables")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")

    sub.add_parser("tables", parents=[common], help="list the lake's tables with rows and versions")

    p = sub.add_parser("sql", parents=[common], help="run Spark SQL over the lake's tables")
    p.add_argument("query")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--limit", type=int, default=1000, help="at most this many rows, in every format (the driver never holds a whole table)")

    p = sub.add_parser("answers", parents=[common],
                       help="final answer of each solution in a file and whether it matches a reference (no Spark)")
    p.add_argument("--input", required=True, help="JSONL, JSON (a list) or parquet")
    p.add_argument("--solution-field", default="solution")
    p.add_argument("--reference-field", default=None, help="a short answer, or a whole solution to take the answer from")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--timeout", type=int, default=5, help="seconds per equivalence check")

    p = sub.add_parser("demo", parents=[common], help="build the sample archive, run the pipeline on it, write the report")
    p.add_argument("--workdir", default="build/demo", help="where the sample archive is written")
    p.add_argument("--report", default=None, metavar="FILE", help="the HTML report (default WORKDIR/report.html)")
    return parser


def _stage(name: str, counters: dict, lake) -> int:
    step = pipeline.step(name)
    print_summary(name, step.summary(counters, lake), step.notes(counters))
    return 0


def _optional(name: str, counters: dict | None, lake) -> int:
    """A stage that returns None when it has nothing to do (off in config, or no input)."""
    if counters is None:
        print(f"  {pipeline.SKIPPED[name]}")
        return 0
    return _stage(name, counters, lake)


def _ingest(spark, cfg, lake, args) -> int:
    if args.allow_absolute:
        cfg.ingest.allow_absolute = True
    return _stage("ingest", ingest.run(spark, cfg, lake, args.inputs, args.sample), lake)


def _select(spark, cfg, lake, args) -> int:
    def listed(text):
        return [x.strip() for x in text.split(",") if x.strip()] if text is not None else None

    if args.sample is not None and not 0 < args.sample <= 1:
        raise ConfigError(f"--sample must be in (0, 1]; got {args.sample}")
    request = select.request_from(cfg, index=args.index, crawls=args.crawls, domains=listed(args.domains),
                                  domains_file=args.domains_file, accepted_round=args.accepted_domains,
                                  languages=listed(args.languages), mime=listed(args.mime), url_like=args.url_like,
                                  sample=args.sample, seed=args.seed, per_domain=args.per_domain)
    return _stage("select", select.run(spark, cfg, lake, request), lake)


def _recall(spark, cfg, lake, args) -> int:
    expand = pipeline.expand_domains if cfg.recall.expand_crawls else None
    counters = recall.step(spark, cfg, lake, args.step, getattr(args, "round", 1), getattr(args, "force", False), expand=expand)
    print_summary(f"recall {args.step}", recall.summary_rows(counters, lake))
    return 0


def _benchmarks(spark, cfg, lake, args) -> int:
    if args.step == "list":
        rows = benchmarks.listing(lake)
        print(render(["benchmark", "splits", "items", "source", "added"], rows) if rows else f"no benchmarks in {lake.root}")
        return 0
    sources = benchmarks.sources_from_arguments(cfg, args.names, args.dir, args.file, args.name, args.question,
                                                args.answer, args.item_id, args.split)
    counters = benchmarks.add(spark, cfg, lake, sources)
    print_summary("benchmarks add", [("benchmarks", counters["benchmarks"]), ("items", counters["items"]),
                                     ("items written (0: already registered)", counters["items_written"])])
    return 0


def _decontam(spark, cfg, lake, args) -> int:
    if args.step == "check":
        with stdout_to_stderr():  # engine and model logs must not mix with the results
            rows = check.check_file(spark, cfg, lake, args.input, args.question_field, args.answer_field)
        if args.format == "json":
            print(json.dumps(rows, ensure_ascii=False, indent=1))
        else:
            print(render(check.COLUMNS, [[r[c] for c in check.COLUMNS] for r in rows]))
            flagged = [r for r in rows if r["flagged"]]
            by_tier = {t: sum(r["tier"] == t for r in flagged) for t in (1, 2, 3)}
            print(f"\n{len(flagged)} of {len(rows)} pairs flagged (tier 1: {by_tier[1]}, tier 2: {by_tier[2]}, tier 3: {by_tier[3]})")
        return 0
    counters = {"run": decontam.run, "pages": decontam.pages, "pairs": decontam.pairs}[args.step](spark, cfg, lake)
    print_summary(f"decontam {args.step}", decontam.summary_rows(counters, lake))
    print_benchmarks(lake, cfg)
    return 0


def _export(spark, cfg, lake, args) -> int:
    def listed(text):
        return [x.strip() for x in text.split(",") if x.strip()] if text is not None else None

    return _stage("export", export.run(spark, cfg, lake, args.out, args.format, args.messages, args.min_quality, args.layout,
                                       args.verifiable_only, listed(args.difficulty), listed(args.category)), lake)


def _synthesize(spark, cfg, lake, args) -> int:
    augment = cfg.synthesize.augment if args.augment is None else args.augment
    counters = synthesize.run(spark, cfg, lake, augment=augment, screen=check.screen, input_file=args.input,
                              question_field=args.question_field, answer_field=args.answer_field)
    return _stage("synthesize", counters, lake)


def _answers(args) -> int:
    try:
        rows = answers.check_rows(answers.read_rows(args.input), args.solution_field, args.reference_field, args.timeout)
    except answers.AnswerFileError as exc:
        CONSOLE.error(f"answers: {exc}")
        return 2
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    print(render(["row", "answer", "method", "reference", "match"],
                 [[r["row"], r["answer"], r["method"], r["reference"], r["match"]] for r in rows]))
    found = sum(r["answer"] is not None for r in rows)
    line = f"\n{found} of {len(rows)} solutions have a final answer"
    if args.reference_field:
        matched = sum(bool(r["match"]) for r in rows)
        line += f"; {matched} match their reference ({matched / len(rows) if rows else 0:.3f})"
    print(line)
    return 0


def _run(spark, cfg, lake, args) -> int:
    pipeline.run(spark, cfg, lake, args.inputs, sample=args.sample, out=args.out, fmt=args.format, messages=args.messages,
                 until=args.until)
    if args.report:
        print(f"\nreport: {write_report(lake, cfg, args.report)}")
    return 0


def _report(spark, cfg, lake, args) -> int:
    print(f"report: {write_report(lake, cfg, args.out)}")
    return 0


def _gc(spark, cfg, lake, args) -> int:
    report = gc.collect(lake, cfg, apply=not args.dry_run)
    print_summary("gc" + (" (dry run)" if args.dry_run else ""), report.rows())
    for item in report.items if args.dry_run else []:
        print(f"  {item.kind:12s} {item.location}")
    return 0


def _sql(spark, cfg, lake, args) -> int:
    print(run_sql(lake, args.query, args.format, args.limit))
    return 0


COMMANDS = {
    "ingest": _ingest,
    "recall": _recall,
    "select": _select,
    "fetch": lambda spark, cfg, lake, args: _stage("fetch", fetch.run(spark, cfg, lake, args.base_url), lake),
    "dedup": lambda spark, cfg, lake, args: _stage("dedup", dedup.run(spark, cfg, lake), lake),
    "benchmarks": _benchmarks,
    "decontam": _decontam,
    "extract": lambda spark, cfg, lake, args: _stage("extract", extract.run(spark, cfg, lake), lake),
    "refine": lambda spark, cfg, lake, args: _stage("refine", refine.run(spark, cfg, lake), lake),
    "gate": lambda spark, cfg, lake, args: _stage("gate", gate.run(spark, cfg, lake), lake),
    "label": lambda spark, cfg, lake, args: _stage("label", label.run(spark, cfg, lake), lake),
    "pii": lambda spark, cfg, lake, args: _optional("pii", pii.run(spark, cfg, lake), lake),
    "semdedup": lambda spark, cfg, lake, args: _optional("semdedup", semdedup.run(spark, cfg, lake, recluster=args.recluster), lake),
    "difficulty": lambda spark, cfg, lake, args: _optional("difficulty", difficulty.run(spark, cfg, lake), lake),
    "synthesize": _synthesize,
    "export": _export,
    "run": _run,
    "tables": lambda spark, cfg, lake, args: print(tables_text(lake)) or 0,
    "gc": _gc,
    "sql": _sql,
    "report": _report,
    "demo": lambda spark, cfg, lake, args: demo.run(spark, cfg, lake, args.workdir, args.report),
}
LAKELESS = ("answers", "models")  # no Spark, no lake: no lake folder is made for their log
# commands shown as one stage (a start line, then progress while it runs); not those whose
# stdout is their result (decontam check, benchmarks list, sql, tables)
STAGES = {"ingest", "select", "fetch", "recall run", "recall train", "recall score", "recall domains", "recall judge", "dedup", "decontam run",
          "decontam pages", "decontam pairs", "extract", "refine", "gate", "label", "pii", "semdedup", "synthesize", "difficulty", "export", "benchmarks add", "gc"}


def log_path(cfg: Config, run_id: str, lakeless: bool = False) -> Path:
    """`<lake>/_logs/<run_id>.log` for a lake on this machine's file system; a lake in an
    object store, or a command that opens no lake, gets the log in the temp folder (the
    path is printed either way)."""
    root = cfg.lake.root
    if is_local(root) and not root.startswith("dbfs:/") and not lakeless:
        base = Path(root.removeprefix("file://"))
    else:
        base = Path(tempfile.gettempdir()) / "webinstruct"
    return (base / "_logs" / f"{run_id}.log").absolute()


def entry() -> int:
    """The installed `webinstruct` command and `python -m webinstruct.jobs`: a quiet console
    with library output in the run's log."""
    return main(capture=True)


def main(argv: list[str] | None = None, capture: bool = False) -> int:
    args = build_parser().parse_args(argv)
    label = " ".join(x for x in (args.command, getattr(args, "step", None)) if x)
    try:
        cfg = load_config(args.config, args.lake, args.overrides, args.remote)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    if capture:
        lakeless = args.command in LAKELESS
        CONSOLE.capture(log_path(cfg, new_run_id(), lakeless), verbose=bool(args.verbose))
        CONSOLE.note(f"webinstruct {label}: " + ("" if lakeless else f"lake {cfg.lake.root}; ") + f"log {CONSOLE.log_path}"
                     + (" (streamed)" if args.verbose else ""))
    try:
        return _dispatch(args, cfg, label)
    except ConfigError as exc:
        CONSOLE.error(f"config error: {exc}")
        return 2
    except WebinstructError as exc:
        CONSOLE.error(f"{label}: {exc}", tail=getattr(exc, "log_tail", True))
        return 2
    except Exception as exc:  # noqa: BLE001 - shown briefly here; the traceback goes to the log
        if not capture:
            raise
        logging.getLogger("webinstruct").info("%s failed:\n%s", label, traceback.format_exc())
        CONSOLE.error(f"{label} failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
        return 1
    finally:
        if capture:
            CONSOLE.release()


def _dispatch(args, cfg: Config, label: str) -> int:
    if args.command == "answers":
        return _answers(args)
    if args.command == "models":
        print(prepare(args.out, args.force))
        return 0
    spark = get_spark(cfg)
    error, warning = lake_root_problem(cfg.lake.root, runs_on_one_machine(spark))
    if error:
        raise ConfigError(error)
    if warning:
        CONSOLE.note(warning)
    lake = open_lake(spark, cfg)
    if label in STAGES:
        about = pipeline.step(label).about if label in {s.name for s in pipeline.STEPS} else ""
        with CONSOLE.stage(label, about, spark):
            return COMMANDS[args.command](spark, cfg, lake, args)
    return COMMANDS[args.command](spark, cfg, lake, args)
