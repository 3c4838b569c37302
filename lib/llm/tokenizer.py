"""The model's own tokenizer, for budgets that match what the engine will count.

Loaded once per process from a local folder (or a Hugging Face id where a hub is reachable).
"""

from __future__ import annotations

import functools


class Tokenizer:
    def __init__(self, path: str):
        from transformers import AutoTokenizer

        self.path = path
        self.tok = AutoTokenizer.from_pretrained(path)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(o) for o in enc["offset_mapping"]]

    def count(self, text: str) -> int:
        return len(self.tok(text, add_special_tokens=False)["input_ids"])

    def count_chat(self, messages: list[dict]) -> int:
        """Tokens of the whole chat prompt, template and generation prompt included."""
        ids = self.tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):  # transformers 5 returns an encoding
            ids = ids["input_ids"]
        return len(ids)


@functools.lru_cache(maxsize=4)
def load_tokenizer(path: str) -> Tokenizer:
    return Tokenizer(path)
