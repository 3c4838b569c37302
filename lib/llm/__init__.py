"""LLM engines behind one interface (lib.llm.types.Engine), with a per-process engine cache."""

from __future__ import annotations

from webinstruct.lib.llm.openai_engine import OpenAIEngine
from webinstruct.lib.llm.spec import EngineSpec
from webinstruct.lib.llm.types import ChatRequest, Engine, Generation, Sampling
from webinstruct.lib.llm.vllm_engine import VllmEngine  # vllm itself loads only when an engine starts

__all__ = ["ChatRequest", "Engine", "EngineSpec", "Generation", "Sampling", "get_engine", "create_engine"]

_current: tuple[EngineSpec, Engine] | None = None


def create_engine(spec: EngineSpec) -> Engine:
    if spec.kind == "vllm":
        return VllmEngine(spec)
    if spec.kind == "openai":
        return OpenAIEngine(spec)
    raise ValueError(f"unknown engine kind {spec.kind!r}; allowed: vllm, openai")


def get_engine(spec: EngineSpec) -> Engine:
    """The engine for `spec`, created on first use in this process and kept for later
    batches. Asking for another spec closes the current one first: a Python worker holds
    one model at a time, which is what fits on one GPU."""
    global _current
    if _current is not None and _current[0] == spec:
        return _current[1]
    if _current is not None:
        _current[1].close()
        _current = None
    engine = create_engine(spec)
    _current = (spec, engine)
    return engine
