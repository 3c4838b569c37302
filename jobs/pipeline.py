"""`webinstruct run`: every stage in order with one config, then the funnel.

    ingest -> recall -> dedup -> decontam (pages) -> extract -> refine -> decontam (pairs,
    publish) -> export

Each stage does only new work (files not ingested, documents not scored, deduplicated,
checked or extracted, pairs not refined or checked), so a rerun after a crash resumes
where it stopped and a rerun without new input writes nothing. Page-level decontamination
runs before extraction, as MAmmoTH2 did, so no LLM time goes to a contaminated page.

    spark-submit jobs/pipeline.py [INPUT ...] [--out DIR] [--config F] [--lake DIR] [--set k=v ...]
"""

from __future__ import annotations

if __package__ in (None, ""):  # run as a script by spark-submit: make the repo importable
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from pathlib import Path

from jobs.config import Config

STAGES = ("ingest", "recall", "dedup", "decontam pages", "extract", "refine", "decontam pairs", "export")


def run(spark, cfg: Config, lake, inputs: list[str], *, sample: int | None = None, out: str | None = None,
        fmt: str | None = None, messages: bool | None = None) -> list[tuple[str, int | None]]:
    """Run the stages and print each summary; returns the funnel. Stage errors propagate
    (the CLI prints them with the stage's name)."""
    from jobs import decontam, dedup, extract, ingest, recall, refine
    from jobs.cli import print_summary
    from jobs.report import funnel, funnel_table

    lake.config = cfg
    if inputs:
        counters = ingest.run(spark, cfg, lake, inputs, sample)
        print_summary("ingest", ingest.summary_rows(counters))
    prepare_offline_model(cfg)
    print_summary("recall", recall.summary_rows(lake, recall.run(spark, cfg, lake)))
    print_summary("dedup", dedup.summary_rows(dedup.run(spark, cfg, lake)))
    print_summary("decontam pages", decontam.summary_rows(decontam.pages(spark, cfg, lake)))
    print_summary("extract", extract.summary_rows(extract.run(spark, cfg, lake)))
    print_summary("refine", refine.summary_rows(refine.run(spark, cfg, lake)))
    print_summary("decontam pairs", decontam.summary_rows(decontam.pairs(spark, cfg, lake)))
    print_benchmarks(spark, cfg, lake)
    target = out if out is not None else cfg.export.out
    if target:
        from jobs.export import export

        result = export(spark, cfg, lake, target, fmt, messages)
        state = "already exported, unchanged" if result["skipped"] else "exported"
        print(f"\n{state}: {result['rows']} pairs in {result['shards']} shard(s) in {target} (dataset card: {target}/README.md)")
    print(f"\nfunnel (lake {lake.root})")
    print(funnel_table(lake))
    return funnel(lake)


def print_benchmarks(spark, cfg: Config, lake) -> None:
    from jobs.decontam import BENCHMARK_SUMMARY_COLUMNS, benchmark_summary
    from lib.text_table import render

    rows = benchmark_summary(spark, cfg, lake)
    if rows:
        print("\ncontamination by benchmark (units flagged per tier)")
        print(render(BENCHMARK_SUMMARY_COLUMNS, rows))


def prepare_offline_model(cfg: Config) -> None:
    """The packaged offline model is converted once into the user cache on first use."""
    from jobs.llm_stage import engine_spec
    from lib.llm.offline import default_model_dir, is_prepared, prepare

    spec = engine_spec(cfg)
    if spec.kind == "vllm" and Path(spec.model_path) == default_model_dir() and not is_prepared(default_model_dir()):
        print("preparing the offline model (once) ...")
        print(f"offline model ready in {prepare()}")


def main(argv: list[str] | None = None) -> int:
    import sys

    from jobs.cli import main as cli_main

    return cli_main(["run", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
