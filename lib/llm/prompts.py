"""Prompt templates from prompts/: a system part, a user part with {{slots}}, a JSON schema.

A prompt's version is a hash of its template and schema text, stored with every output row,
so a reworded prompt is a new version and its outputs never mix silently with the old.
The driver reads the files and ships the template by value, so executors need no prompts/
folder.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
_SLOT = re.compile(r"\{\{(\w+)\}\}")


class PromptError(ValueError):
    pass


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str
    user: str
    schema: dict | None
    version: str

    def slots(self) -> set[str]:
        return set(_SLOT.findall(self.system + self.user))

    def messages(self, **values: str) -> list[dict]:
        """Chat messages with the slots filled. Values are wrapped in tags by the template;
        a closing tag inside a value is defused so page text cannot end its own block."""
        missing = self.slots() - values.keys()
        if missing:
            raise PromptError(f"prompt {self.name}: no value for {sorted(missing)}")

        def fill(template: str) -> str:
            return _SLOT.sub(lambda m: _defuse(str(values[m.group(1)])), template)

        return [{"role": "system", "content": fill(self.system)}, {"role": "user", "content": fill(self.user)}]


def _defuse(value: str) -> str:
    return re.sub(r"</(pages?|question|answer|problem_\d)>", r"<\\/\1>", value, flags=re.IGNORECASE)


def parse_template(name: str, text: str, schema_text: str | None) -> Prompt:
    parts = re.split(r"^### (system|user)\s*$", text, flags=re.MULTILINE)
    sections = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}
    if "user" not in sections:
        raise PromptError(f"prompt {name}: needs a '### user' section (and optionally '### system')")
    schema = json.loads(schema_text) if schema_text else None
    digest = hashlib.sha256(text.encode() + b"\0" + (schema_text or "").encode()).hexdigest()[:12]
    return Prompt(name, sections.get("system", ""), sections["user"], schema, digest)


def load_prompt(name_or_path: str) -> Prompt:
    """`extract` finds prompts/extract.txt (+ extract.schema.json); a path loads that file."""
    path = Path(name_or_path)
    if path.suffix != ".txt":
        path = PROMPTS_DIR / f"{name_or_path}.txt"
    if not path.is_file():
        raise PromptError(f"no prompt template {path}")
    schema_path = path.with_suffix(".schema.json")
    schema_text = schema_path.read_text() if schema_path.is_file() else None
    return parse_template(path.stem, path.read_text(), schema_text)
