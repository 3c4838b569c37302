"""Prompt templates shipped in the package (prompts/, read with importlib.resources) or given
as a path: a system part, a user part with {{slots}}, a JSON schema.

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
from importlib import resources
from pathlib import Path

PACKAGE = "webinstruct.prompts"
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


def packaged_prompts() -> list[str]:
    """Names of the prompts shipped with the package."""
    return sorted(p.name[:-4] for p in resources.files(PACKAGE).iterdir() if p.name.endswith(".txt"))


def load_prompt(name_or_path: str) -> Prompt:
    """`extract` finds the packaged extract.txt (+ extract.schema.json); a path ending in .txt
    loads that file and the .schema.json beside it."""
    if name_or_path.endswith(".txt"):
        path = Path(name_or_path)
        if not path.is_file():
            raise PromptError(f"no prompt template {path}")
        schema_path = path.with_suffix(".schema.json")
        schema_text = schema_path.read_text(encoding="utf-8") if schema_path.is_file() else None
        return parse_template(path.stem, path.read_text(encoding="utf-8"), schema_text)
    folder = resources.files(PACKAGE)
    template = folder.joinpath(f"{name_or_path}.txt")
    if "/" in name_or_path or not template.is_file():
        raise PromptError(f"no prompt template {name_or_path!r}: packaged ones are {', '.join(packaged_prompts())}, "
                          "or give a path to a .txt file")
    schema = folder.joinpath(f"{name_or_path}.schema.json")
    schema_text = schema.read_text(encoding="utf-8") if schema.is_file() else None
    return parse_template(name_or_path, template.read_text(encoding="utf-8"), schema_text)
