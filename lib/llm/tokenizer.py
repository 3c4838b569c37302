"""The model's own tokenizer, for budgets that match what the engine will count.

Loaded once per process from a local folder (or a Hugging Face id where a hub is reachable).
"""

from __future__ import annotations

import functools


class Tokenizer:
    def __init__(self, path: str):
        from transformers import AutoTokenizer  # noqa: PLC0415 - heavy, loaded only where used

        self.path = path
        self.tok = AutoTokenizer.from_pretrained(path)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(o) for o in enc["offset_mapping"]]

    def count(self, text: str) -> int:
        return len(self.tok(text, add_special_tokens=False)["input_ids"])

    def control_tokens(self) -> tuple[str, ...]:
        """Added tokens the tokenizer matches whole wherever they are spelled (role markers,
        end-of-text, tool and file markers): page text must never spell them. Plain words or
        whitespace some tokenizers add are left alone."""
        added = [t.content for t in self.tok.added_tokens_decoder.values()]
        return tuple(sorted(t for t in added if len(t) >= 3 and not any(c.isspace() for c in t) and any(c in t for c in "<[|")))

    def count_chat(self, messages: list[dict]) -> int:
        """Tokens of the whole chat prompt, template and generation prompt included."""
        ids = self.tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):  # transformers 5 returns an encoding
            ids = ids["input_ids"]
        return len(ids)


@functools.lru_cache(maxsize=4)
def load_tokenizer(path: str) -> Tokenizer:
    return Tokenizer(path)
