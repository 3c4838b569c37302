"""`webinstruct` command line. Global options work before or after the subcommand:

    webinstruct [--config FILE] [--lake DIR] [--set section.key=value ...] COMMAND ...

Config errors are reported before Spark starts.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
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
