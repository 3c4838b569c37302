"""The engine contract every stage codes against, so a stage never knows which backend runs."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


MALFORMED = "malformed"  # finish_reason: the server answered, but not with a readable completion


def clean_text(value: str) -> str:
    """`value` without lone surrogates (a JSON reply can escape half a pair), which Arrow
    refuses to encode: one such string would fail its whole slice on every attempt. Each
    becomes U+FFFD; a pair split into two code points is joined."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0
    repetition_penalty: float = 1.0  # vllm only; >1 discourages the loops small models fall into
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int = 0


@dataclass
class ChatRequest:
    messages: list[dict]  # [{"role": "system"|"user"|"assistant", "content": str}, ...]
    json_schema: dict | None = None  # constrain the reply to this JSON schema when set
    seed: int | None = None  # this request's sampling seed (n samples of one prompt); None: Sampling.seed


@dataclass
class Generation:
    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""  # stop | length | error | malformed (engines' own words mapped onto these)
    # set when the engine failed for this request; text is then empty, except for a
    # `malformed` reply, whose text holds the start of what the server sent
    error: str | None = None
    extra: dict = field(default_factory=dict)


class Engine(abc.ABC):
    """Batched chat generation. One result per request, in request order; a failure of one
    request is reported in its result, never raised, so a batch is never lost to one bad page."""

    model: str

    @abc.abstractmethod
    def generate(self, requests: list[ChatRequest], sampling: Sampling) -> list[Generation]: ...

    def close(self) -> None:  # release GPU/CPU memory or connections
        pass
