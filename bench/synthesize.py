"""Synthesize stage throughput: the Spark stage against the same prompts sent straight to
`vllm.LLM.generate` in one process, with the same engine, sampling and batch settings.

Input: the first --questions GSM8K train questions as published pairs (a `webinstruct`
table). Each side asks for synthesize.n solutions per question, each request with the
stage's own per-sample seed (lib.qa.synthesis.sample_seed; on vLLM CPU the engine's seed,
as VllmEngine does), rendered by the stage's own
task (SolveTask) and grouped into engine calls by the same token budget.

  raw:   one process, one vllm.LLM, llm.generate(prompts, sampling_params) per batch after a
         warm-up generate on one other question; timed from the first generate to the last
  spark: webinstruct.jobs.stages.synthesize.run on local[--cores] with llm.partitions=1,
         after a warm-up run on the same other question; timed from run() to run() returning
         (todo anti-join, scratch writes, generation, Delta commits, the vote)

Each side runs in its own subprocess, one after the other; the figure compared is output
tokens per second of wall time.

    .venv/bin/python -m bench.synthesize [--questions 16] [--n 4] [--max-tokens 192] [--cores 2] [--set k=v ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.llm import child, print_sides

REPO = Path(__file__).resolve().parent.parent
MODULE = "bench.synthesize"
DATA = REPO.parent / "shared" / "data"


def questions(n: int) -> list[dict]:
    rows = [json.loads(line) for line in open(DATA / "benchmarks" / "gsm8k" / "train.jsonl", encoding="utf-8")][: n + 1]
    return [{"qa_id": f"qa{i}", "refiner": "m", "doc_id": f"doc{i}", "question": r["question"], "answer": r["answer"]}
            for i, r in enumerate(rows)]  # the last one is the warm-up question


def overrides(args) -> list[str]:
    return [*args.overrides, f"synthesize.n={args.n}", f"synthesize.max_tokens={args.max_tokens}", "synthesize.min_votes=1",
            f"llm.cpu_threads={args.cores}"]


def raw(args) -> dict:
    from vllm import LLM, SamplingParams

    from webinstruct.jobs.core.config import load_config
    from webinstruct.jobs.core.llm_stage import engine_spec
    from webinstruct.jobs.core.synthesis import synth_key
    from webinstruct.lib.llm.prompts import load_prompt
    from webinstruct.lib.llm.tasks import batched
    from webinstruct.lib.llm.tokenizer import load_tokenizer
    from webinstruct.lib.llm.vllm_engine import set_cpu_threads
    from webinstruct.lib.qa.synthesis import SolveTask

    cfg = load_config(args.config, None, overrides(args))
    s, spec = cfg.synthesize, engine_spec(cfg)
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(spec.cpu_kvcache_gb))
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    set_cpu_threads(args.cores)
    tok = load_tokenizer(spec.tokenizer_path)
    prompt = load_prompt(s.prompt)
    task = SolveTask(prompt, spec.model, tok, spec.max_model_len, s.max_tokens, s.seed, s.max_question_chars, synth_key(cfg, prompt.version))
    qs = questions(args.questions)

    def work(q):  # the stage's question id (jobs.core.synthesis.web_question_id), so both sides draw the same seeds
        qid = hashlib.sha256("\x1f".join(("question", "web", q["qa_id"], q["refiner"])).encode()).hexdigest()[:32]
        return task.work({"question_id": qid, "question": q["question"], "samples": list(range(s.n))})

    works = sorted((work(q) for q in qs[:-1]), key=lambda w: w.record["question_id"])  # the stage's order
    warm = work(qs[-1])
    llm = LLM(model=spec.model_path, tokenizer=spec.tokenizer_path, max_model_len=spec.max_model_len, seed=spec.seed,
              dtype=spec.dtype, enforce_eager=spec.enforce_eager, **spec.extra_args())

    from vllm.platforms import current_platform

    def params(w):  # as VllmEngine: on CPU, sampled requests use the engine's seed (see lib/llm/vllm_engine.py)
        return [SamplingParams(temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens,
                               seed=None if current_platform.is_cpu() else r.seed,
                               repetition_penalty=s.repetition_penalty) for r in w.requests]

    def render(w):
        return [tok.tok.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True) for r in w.requests]

    llm.generate(render(warm), params(warm), use_tqdm=False)
    tokens_in = tokens_out = requests = 0
    started = time.monotonic()
    for batch in batched(works, cfg.llm.batch_tokens):
        prompts = [p for w in batch for p in render(w)]
        sampling = [p for w in batch for p in params(w)]
        for out in llm.generate(prompts, sampling, use_tqdm=False):
            tokens_in += len(out.prompt_token_ids)
            tokens_out += len(out.outputs[0].token_ids)
            requests += 1
    return {"side": "raw", "seconds": time.monotonic() - started, "requests": requests, "tokens_in": tokens_in, "tokens_out": tokens_out}


def spark_side(args) -> dict:
    from webinstruct.jobs.core.config import load_config
    from webinstruct.jobs.core.lake import open_lake
    from webinstruct.jobs.core.session import get_spark
    from webinstruct.jobs.core.tables import WEBINSTRUCT
    from webinstruct.jobs.stages import synthesize

    lake_dir = tempfile.mkdtemp(prefix="bench-synth-")
    cfg = load_config(args.config, lake_dir, [*overrides(args), f"spark.master=local[{args.cores}]", "llm.partitions=1",
                                              "spark.shuffle_partitions=4"])
    spark = get_spark(cfg)
    lake = open_lake(spark, cfg)
    qs = questions(args.questions)

    def table(rows, start):
        return spark.createDataFrame([{f: None for f in WEBINSTRUCT.fieldNames()} | r | {"index": start + i} for i, r in enumerate(rows)],
                                     WEBINSTRUCT)

    lake.append("webinstruct", table(qs[-1:], 10_000))
    synthesize.run(spark, cfg, lake)  # warm-up: the worker's engine starts here
    lake.append("webinstruct", table(qs[:-1], 0))
    started = time.monotonic()
    counters = synthesize.run(spark, cfg, lake)
    seconds = time.monotonic() - started
    spark.stop()
    return {"side": "spark", "seconds": seconds, "generate_seconds": counters["ms_slices"] / 1000, "requests": counters["generations"],
            "tokens_in": counters["tokens_in"], "tokens_out": counters["tokens_out"],
            "statuses": {k[7:]: v for k, v in counters.items() if k.startswith("status_")},
            "voted": counters.get("questions_voted", 0), "kept": counters.get("solutions_kept", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--config", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--side", choices=("raw", "spark"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps((raw if args.side == "raw" else spark_side)(args)))
        return
    results = [child("raw", sys.argv[1:], MODULE), child("spark", sys.argv[1:], MODULE)]
    s = results[1]
    print(f"\nsynthesize throughput, {args.questions} GSM8K train questions x n={args.n}, max_tokens {args.max_tokens}, "
          f"Spark local[{args.cores}] with one engine")
    ratio, gen_ratio = print_sides(results)
    print(f"spark stage / raw engine, output tokens per second: {ratio:.2f} (generation slices only: {gen_ratio:.2f}); "
          f"statuses {s['statuses']}; questions voted {s['voted']}, solutions kept {s['kept']}")


if __name__ == "__main__":
    main()
