"""`webinstruct` command line. Global options work before or after the subcommand:

    webinstruct [--config FILE] [--lake DIR] [--set section.key=value ...] COMMAND ...

Config errors are reported before Spark starts.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys

from jobs.config import ConfigError, load_config


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--config", default=default, help="TOML config (default conf/local.toml)")
    parser.add_argument("--lake", default=default, help="lake root folder or URI (overrides lake.root)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=argparse.SUPPRESS if suppress else [],
        metavar="SECTION.KEY=VALUE", help="override one config key (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webinstruct", description=__doc__.split("\n")[0])
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)

    p = sub.add_parser("ingest", parents=[common], help="WARC/ARC archives -> documents table")
    p.add_argument("inputs", nargs="+", help="files, folders, globs, s3://, https:// or a warc.paths.gz listing")
    p.add_argument("--sample", type=int, default=None, help="ingest a seeded random sample of N archives")

    p = sub.add_parser("recall", parents=[common], help="fastText recall + LLM domain judge, two rounds -> recall_scores, domains")
    rsub = p.add_subparsers(dest="recall_command", required=True)
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

    sub.add_parser("dedup", parents=[common], help="exact + MinHash LSH dedup of new documents -> dedup table")

    p = sub.add_parser("benchmarks", parents=[common], help="the benchmark registry decontamination checks against")
    bsub = p.add_subparsers(dest="benchmarks_command", required=True)
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
    dsub = p.add_subparsers(dest="decontam_command", required=True)
    for name, text in (
        ("run", "pages, then pairs (what the pipeline runs, in two places)"),
        ("pages", "tier 1 on the documents extraction reads"),
        ("pairs", "tiers 1-3 on refined pairs, then rebuild the webinstruct table"),
    ):
        dsub.add_parser(name, parents=[common], help=text)
    q = dsub.add_parser("check", parents=[common], help="run the three tiers on any Q-A file and print one row per pair")
    q.add_argument("--input", required=True, help="JSONL, JSON list or parquet file")
    q.add_argument("--question-field", default="question")
    q.add_argument("--answer-field", default="answer")
    q.add_argument("--format", choices=("table", "json"), default="table")

    p = sub.add_parser("export", parents=[common], help="write the webinstruct table as WebInstructSub shards + dataset card")
    p.add_argument("--out", default=None, help="target folder (default export.out)")
    p.add_argument("--format", choices=("parquet", "jsonl"), default=None, help="default export.format")
    p.add_argument("--messages", action="store_true", default=None, help="add a chat messages column")

    p = sub.add_parser("run", parents=[common], help="every stage in order (ingest ... export), incremental, then the funnel")
    p.add_argument("inputs", nargs="*", help="archives to ingest first (none: work on what the lake holds)")
    p.add_argument("--sample", type=int, default=None, help="ingest a seeded random sample of N archives")
    p.add_argument("--out", default=None, help="export folder (default export.out; none: no export)")
    p.add_argument("--format", choices=("parquet", "jsonl"), default=None)
    p.add_argument("--messages", action="store_true", default=None)

    sub.add_parser("extract", parents=[common], help="LLM: question-answer pairs from new documents -> qa_extracted")
    sub.add_parser("refine", parents=[common], help="LLM: rewrite extracted pairs -> qa_refined")

    p = sub.add_parser("models", parents=[common], help="offline models")
    msub = p.add_subparsers(dest="models_command", required=True)
    q = msub.add_parser("prepare", help="convert the packaged SmolLM2-135M-Instruct GGUF to a safetensors folder vLLM loads")
    q.add_argument("--out", default=None, help="target folder (default: the user cache, as conf/local.toml expects)")
    q.add_argument("--force", action="store_true", help="convert again even if the folder is ready")

    sub.add_parser("tables", parents=[common], help="list the lake's tables with rows and versions")

    p = sub.add_parser("sql", parents=[common], help="run Spark SQL over the lake's tables")
    p.add_argument("query")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--limit", type=int, default=1000, help="rows to print (table format)")

    p = sub.add_parser("demo", parents=[common], help="build the sample archive and run the pipeline on it")
    p.add_argument("--workdir", default="build/demo", help="where the sample archive is written")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = load_config(args.config, args.lake, args.overrides)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    if args.command == "models":
        from lib.llm.offline import prepare

        print(prepare(args.out, args.force))
        return 0
    from jobs.lake import open_lake
    from jobs.session import get_spark

    spark = get_spark(cfg)
    lake = open_lake(spark, cfg)
    if args.command == "ingest":
        from jobs import ingest

        counters = ingest.run(spark, cfg, lake, args.inputs, args.sample)
        print_summary("ingest", ingest.summary_rows(counters))
        return 0
    if args.command == "dedup":
        from jobs import dedup

        try:
            counters = dedup.run(spark, cfg, lake)
        except dedup.DedupError as exc:
            print(f"dedup: {exc}", file=sys.stderr)
            return 2
        print_summary("dedup", dedup.summary_rows(counters))
        return 0
    if args.command == "recall":
        return _recall(spark, cfg, lake, args)
    if args.command in ("extract", "refine"):
        import importlib

        from jobs.llm_stage import LlmStageError

        stage = importlib.import_module(f"jobs.{args.command}")
        try:
            counters = stage.run(spark, cfg, lake)
        except LlmStageError as exc:
            print(f"{args.command}: {exc}", file=sys.stderr)
            return 2
        print_summary(args.command, stage.summary_rows(counters))
        return 0
    if args.command in ("benchmarks", "decontam", "export", "run"):
        return _decontam_family(spark, cfg, lake, args)
    if args.command == "tables":
        print(tables_text(lake))
        return 0
    if args.command == "sql":
        print(run_sql(lake, args.query, args.format, args.limit))
        return 0
    if args.command == "demo":
        from jobs import demo

        return demo.run(spark, cfg, lake, args.workdir)
    raise AssertionError(args.command)


def _recall(spark, cfg, lake, args) -> int:
    from jobs import recall

    step = args.recall_command
    try:
        if step == "run":
            counters = recall.run(spark, cfg, lake)
        elif step == "train":
            row = recall.train(spark, cfg, lake, args.round, force=args.force)
            counters = {f"r{args.round}_trained": int(row["trained"])}
        else:
            counters = {f"r{args.round}_{k}" if step != "judge" else f"judge_{k}": v
                        for k, v in getattr(recall, step)(spark, cfg, lake, args.round).items()}
    except recall.RecallError as exc:
        print(f"recall {step}: {exc}", file=sys.stderr)
        return 2
    print_summary(f"recall {step}", recall.summary_rows(lake, counters))
    return 0


def _decontam_family(spark, cfg, lake, args) -> int:
    """benchmarks, decontam, export and run: their errors name the stage and exit 2."""
    from jobs import benchmarks, decontam, decontam_check, export
    from jobs.dedup import DedupError
    from jobs.llm_stage import LlmStageError
    from jobs.recall import RecallError
    from lib.benchmark_spec import BenchmarkSpecError
    from lib.embed_index import EmbedError
    from lib.text_table import render

    name = args.command
    try:
        if name == "benchmarks" and args.benchmarks_command == "list":
            rows = benchmarks.listing(lake)
            print(render(["benchmark", "splits", "items", "source", "added"], rows) if rows else f"no benchmarks in {lake.root}")
            return 0
        if name == "benchmarks":
            counters = benchmarks.add(spark, cfg, lake, _benchmark_sources(cfg, args))
            print_summary("benchmarks add", [("benchmarks", counters["benchmarks"]), ("items", counters["items"]),
                                             ("items written (0: already registered)", counters["items_written"])])
            return 0
        if name == "decontam" and args.decontam_command == "check":
            with _stdout_to_stderr():  # engine and model logs must not mix with the results
                rows = decontam_check.check_file(spark, cfg, lake, args.input, args.question_field, args.answer_field)
            if args.format == "json":
                print(json.dumps(rows, ensure_ascii=False, indent=1))
            else:
                print(render(decontam_check.COLUMNS, [[r[c] for c in decontam_check.COLUMNS] for r in rows]))
                flagged = [r for r in rows if r["flagged"]]
                by_tier = {t: sum(r["tier"] == t for r in flagged) for t in (1, 2, 3)}
                print(f"\n{len(flagged)} of {len(rows)} pairs flagged (tier 1: {by_tier[1]}, tier 2: {by_tier[2]}, tier 3: {by_tier[3]})")
            return 0
        if name == "decontam":
            counters = getattr(decontam, args.decontam_command)(spark, cfg, lake)
            print_summary(f"decontam {args.decontam_command}", decontam.summary_rows(counters))
            from jobs.pipeline import print_benchmarks

            print_benchmarks(spark, cfg, lake)
            return 0
        if name == "export":
            result = export.export(spark, cfg, lake, args.out or cfg.export.out, args.format, args.messages)
            state = "already exported, unchanged" if result["skipped"] else "exported"
            print(f"{state}: {result['rows']} pairs in {result['shards']} shard(s) in {args.out or cfg.export.out}")
            for f in result["files"]:
                print(f"  {f}")
            return 0
        from jobs import pipeline

        pipeline.run(spark, cfg, lake, args.inputs, sample=args.sample, out=args.out, fmt=args.format, messages=args.messages)
        return 0
    except (benchmarks.BenchmarkRegistryError, BenchmarkSpecError, decontam.DecontamError, decontam_check.CheckError,
            export.ExportError, LlmStageError, RecallError, DedupError, EmbedError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _stdout_to_stderr():
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


def _benchmark_sources(cfg, args):
    from lib.benchmark_spec import BenchmarkSpecError, parse_benchmarks

    if args.file:
        if not args.name:
            raise BenchmarkSpecError("benchmarks add --file needs --name")
        entry = {"path": args.file, "name": args.name, "question": args.question, "answer": args.answer,
                 "id": args.item_id, "split": args.split}
        return parse_benchmarks([entry], "--file")
    if args.names:
        if not args.dir:
            raise BenchmarkSpecError("benchmarks add NAME ... needs --dir (the folder holding the released files)")
        return parse_benchmarks([{"builtin": args.names, "dir": args.dir}], "benchmarks add")
    sources = parse_benchmarks(cfg.decontam.benchmarks, "decontam.benchmarks")
    if not sources:
        raise BenchmarkSpecError("nothing to add: name built-in benchmarks with --dir, a --file with --name, or set decontam.benchmarks")
    return sources


def print_summary(stage: str, rows: list[tuple[str, object]]) -> None:
    from lib.text_table import render

    print(f"\n{stage} summary")
    print(render(["", "count"], [list(r) for r in rows]))


def tables_text(lake) -> str:
    from lib.text_table import render

    names = lake.tables()
    if not names:
        return f"no tables in {lake.root}"
    rows = [[n, lake.count(n), lake.version(n)] for n in names]
    return render(["table", "rows", "version"], rows)


def run_sql(lake, query: str, fmt: str = "table", limit: int = 1000) -> str:
    from lib.text_table import render

    lake.register_views()
    df = lake.spark.sql(query)
    columns = df.columns
    if fmt == "table":
        rows = [list(r) for r in df.limit(limit).collect()]
        return render(columns, rows)
    rows = [r.asDict(recursive=True) for r in df.collect()]
    if fmt == "json":
        return json.dumps(rows, default=str, ensure_ascii=False, indent=1)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().rstrip("\n")


if __name__ == "__main__":
    raise SystemExit(main())
