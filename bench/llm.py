"""Extract stage throughput: the Spark stage against the same prompts sent straight to
`vllm.LLM.generate` in one process, with the same engine and batch settings.

Input: the first --docs real forum pages of ../shared/data/pages/wceb2026 (their
human-verified main text), as a `documents` table. The prompts are built once by the
stage's own code (lib.qa.tasks.ExtractTask: chunking, template, token budget) and grouped
into engine calls by the same token budget (llm.batch_tokens).

  raw:   one process, one vllm.LLM, chat templates rendered by the tokenizer,
         llm.generate(prompts, sampling_params) per batch, after one warm-up generate on
         the same warm-up page as the Spark side; timed from the first generate to the
         last (engine start excluded)
  spark: webinstruct.jobs.stages.extract.run on local[--cores] with llm.partitions=--engines, after a
         warm-up run on one other page so each Python worker's engine has started (the
         same exclusion); timed from run() to run() returning (todo anti-join, scratch
         writes, generation, Delta commits, status counters all included)

Each side runs in its own subprocess, one after the other, so they never share cores, and
each engine gets --cores / --engines OpenMP threads (llm.cpu_threads). Documents go in
the stage's order (sorted by doc_id) with the same warm-up, so greedy decoding gives both
sides the same batches and the same output tokens; the figure compared is output tokens
per second of wall time.

    .venv/bin/python -m bench.llm [--docs 24] [--cores 2] [--engines 1] [--config F] [--set k=v ...]

The same command runs on a GPU machine (install vllm there, point llm.model at a folder
or id, and drop conf/local.toml's CPU compilation setting with --set or a config).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def pages(n: int) -> list[dict]:
    rows = [json.loads(line) for line in open(DATA / "pages" / "wceb2026" / "labels.jsonl", encoding="utf-8")]
    forum = sorted((r for r in rows if r["page_type"] == "forum" and len(r["main_content"]) >= 300),
                   key=lambda r: r["file_id"])
    out = []
    for r in forum[: n + 1]:
        url = r["url"] or f"https://wceb2026.example/{r['file_id']}"
        out.append({"doc_id": f"doc-{r['file_id']}", "url": url, "title": r["title"] or "", "text": r["main_content"]})
    return out  # the last one is the warm-up page


def load(cfg_args):
    from webinstruct.jobs.core.config import load_config

    return load_config(cfg_args.config, None, cfg_args.overrides)


def raw(args) -> dict:
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from webinstruct.jobs.core.llm_stage import engine_spec
    from webinstruct.lib.llm.prompts import load_prompt
    from webinstruct.lib.llm.tasks import batched
    from webinstruct.lib.llm.tokenizer import load_tokenizer
    from webinstruct.lib.qa.parse import Limits
    from webinstruct.lib.qa.tasks import ExtractTask

    cfg = load(args)
    spec = engine_spec(cfg)
    e = cfg.extract
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(spec.cpu_kvcache_gb))
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    if spec.cpu_threads:
        from webinstruct.lib.llm.vllm_engine import set_cpu_threads

        set_cpu_threads(spec.cpu_threads)
    tok = load_tokenizer(spec.tokenizer_path)
    task = ExtractTask(load_prompt(e.prompt), spec.model, tok, spec.max_model_len, e.max_tokens,
                       e.chunk_overlap, e.max_chunks, Limits())
    docs = pages(args.docs)
    works = [task.work(p) for p in sorted(docs[:-1], key=lambda p: p["doc_id"])]  # the stage's order
    warm = task.work(docs[-1])
    llm = LLM(model=spec.model_path, tokenizer=spec.tokenizer_path, max_model_len=spec.max_model_len,
              seed=spec.seed, dtype=spec.dtype, tensor_parallel_size=spec.tensor_parallel_size,
              gpu_memory_utilization=spec.gpu_memory_utilization, enforce_eager=spec.enforce_eager,
              **spec.extra_args())
    params = SamplingParams(temperature=e.temperature, top_p=e.top_p, max_tokens=e.max_tokens, seed=cfg.llm.seed,
                            repetition_penalty=e.repetition_penalty,
                            structured_outputs=StructuredOutputsParams(json=task.prompt.schema))
    def render(work):
        return [tok.tok.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True) for r in work.requests]

    llm.generate(render(warm), [params] * len(warm.requests), use_tqdm=False)  # as the stage's warm-up run
    tokens_in = tokens_out = requests = 0
    started = time.monotonic()
    for batch in batched(works, cfg.llm.batch_tokens):
        prompts = [p for w in batch for p in render(w)]
        for out in llm.generate(prompts, [params] * len(prompts), use_tqdm=False):
            tokens_in += len(out.prompt_token_ids)
            tokens_out += len(out.outputs[0].token_ids)
            requests += 1
    seconds = time.monotonic() - started
    return {"side": "raw", "seconds": seconds, "requests": requests, "tokens_in": tokens_in, "tokens_out": tokens_out}


def spark_side(args) -> dict:
    import pyspark.sql.functions as F

    from webinstruct.jobs.core.lake import open_lake
    from webinstruct.jobs.core.session import get_spark
    from webinstruct.jobs.core.tables import DOCUMENTS
    from webinstruct.jobs.stages import extract

    overrides = list(args.overrides) + [f"spark.master=local[{args.cores}]", f"llm.partitions={args.engines}",
                                        "extract.input=documents", "spark.shuffle_partitions=4"]
    lake_dir = tempfile.mkdtemp(prefix="bench-llm-")
    from webinstruct.jobs.core.config import load_config

    cfg = load_config(args.config, lake_dir, overrides)
    spark = get_spark(cfg)
    lake = open_lake(spark, cfg)
    docs = pages(args.docs)

    def table(rows):
        return spark.createDataFrame([{f: r.get(f) for f in DOCUMENTS.fieldNames()} for r in rows], DOCUMENTS)

    # warm-up: one page per engine so every worker has started its engine
    warm = [dict(docs[-1], doc_id=f"warm-{i}") for i in range(args.engines)]
    lake.append("documents", table(warm))
    extract.run(spark, cfg, lake)
    lake.append("documents", table(docs[:-1]))
    started = time.monotonic()
    counters = extract.run(spark, cfg, lake)
    seconds = time.monotonic() - started
    rows = lake.read("qa_extracted").where(~F.col("doc_id").startswith("warm-"))
    statuses = {r["status"]: r["n"] for r in rows.groupBy("status").agg(F.count("*").alias("n")).collect()}
    spark.stop()
    return {"side": "spark", "seconds": seconds, "generate_seconds": counters["ms_slices"] / 1000,
            "requests": counters["generations"], "tokens_in": counters["tokens_in"],
            "tokens_out": counters["tokens_out"], "statuses": statuses, "documents": counters["documents_in"]}


def child(side: str, argv: list[str], module: str = "bench.llm") -> dict:
    """One side of a raw-vs-stage bench in its own subprocess; its last JSON line."""
    proc = subprocess.run([sys.executable, "-m", module, "--side", side, *argv], capture_output=True, text=True, cwd=REPO)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{side} side failed (rc {proc.returncode})")
    return json.loads(lines[-1])


def print_sides(results: list[dict]) -> tuple[float, float]:
    """The raw and spark rows; returns (stage / raw, generation slices only / raw) in output tokens per second."""
    print(f"{'side':<8}{'seconds':>9}{'requests':>10}{'tokens in':>11}{'tokens out':>12}{'out tok/s':>11}")
    for x in results:
        print(f"{x['side']:<8}{x['seconds']:>9.1f}{x['requests']:>10}{x['tokens_in']:>11}{x['tokens_out']:>12}{x['tokens_out'] / x['seconds']:>11.1f}")
    r, s = results
    raw_rate = r["tokens_out"] / r["seconds"]
    return (s["tokens_out"] / s["seconds"]) / raw_rate, (s["tokens_out"] / s["generate_seconds"]) / raw_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=24)
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]")
    parser.add_argument("--engines", type=int, default=1, help="LLM tasks (engines) in the Spark run; raw has one")
    parser.add_argument("--config", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--side", choices=("raw", "spark"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps((raw if args.side == "raw" else spark_side)(args)))
        return
    argv = sys.argv[1:]
    if not any(o.startswith("llm.cpu_threads=") for o in args.overrides):
        # Spark gives a Python worker one OpenMP thread per task core; both sides get the
        # machine's cores split over the engines instead
        argv += ["--set", f"llm.cpu_threads={max(1, args.cores // args.engines)}"]
    results = [child("raw", argv), child("spark", argv)]
    s = results[1]
    print(f"\nextract throughput, {args.docs} real forum pages, Spark local[{args.cores}] with {args.engines} engine(s)")
    ratio, gen_ratio = print_sides(results)
    print(f"spark stage / raw engine, output tokens per second: {ratio:.2f} "
          f"(generation slices only: {gen_ratio:.2f}); statuses {s['statuses']}")


if __name__ == "__main__":
    main()
