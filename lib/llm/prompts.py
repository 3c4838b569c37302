"""Prompt templates shipped in the package (prompts/, read with importlib.resources) or given
as a path: a system part, a user part with {{slots}}, a JSON schema.

A prompt's version is a hash of its template and schema text, stored with every output row,
so a reworded prompt is a new version and its outputs never mix silently with the old.
The driver reads the files and ships the template by value, so executors need no prompts/
folder.

Slot values are page text, so they are defused before they enter a template: a value cannot
open or close the tags that delimit the data blocks (in any spacing, slash or case form),
and cannot spell a control token of the chat template (`<|im_start|>`, `</s>`, `[INST]`,
or any token the model's tokenizer declares), so the tokenizer never reads page text as a
role marker. `{{name:line}}` also folds the value onto one line (titles, domain names).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PACKAGE = "webinstruct.prompts"
_SLOT = re.compile(r"\{\{(\w+)(?::(line))?\}\}")
_TEMPLATE_TAG = re.compile(r"</?([A-Za-z_][\w-]*)>")
# tag names defused in every prompt, also where a custom template uses others
DATA_TAGS = ("pages?", "page_title", "title", "document", "question", "answer", r"problem_\d+")
# what a reader may skip between "<" and a tag name: spaces, newlines, slashes, invisible characters
_GAP = r"[\s/\\\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]*"
_LT = "<\uff1c\ufe64"  # "<" and its full-width and small forms
# control tokens of common chat templates, for models whose tokenizer is not at hand
_CONTROL = re.compile(
    r"<\|[^|<>\s]{1,64}\|>"  # ChatML, Llama 3, Phi: <|im_start|>, <|eot_id|>, <|endoftext|>
    r"|</?(?:s|unk|pad|bos|eos|mask|cls|sep|start_of_turn|end_of_turn|think|tool_call|tool_response"
    r"|repo_?name|file_?sep|filename|gh_stars|issue_\w+|jupyter_\w+|empty_output|fim_\w+|commit_\w+)>"
    r"|<</?SYS>>|\[/?(?:INST|SYS|SYSTEM_PROMPT|AVAILABLE_TOOLS|TOOL_CALLS|TOOL_RESULTS)\]"
)


class PromptError(ValueError):
    pass


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str
    user: str
    schema: dict | None
    version: str
    controls: tuple[str, ...] = ()  # the model tokenizer's own control tokens (see with_controls)

    def slots(self) -> set[str]:
        return {name for name, _ in _SLOT.findall(self.system + self.user)}

    def tags(self) -> tuple[str, ...]:
        """Tag names the template itself uses to delimit data."""
        return tuple(sorted(set(_TEMPLATE_TAG.findall(self.system + self.user))))

    def with_controls(self, tokens) -> Prompt:
        """The same prompt (and version) that also escapes these tokenizer control tokens."""
        return dataclasses.replace(self, controls=tuple(sorted(set(tokens))))

    def defuse(self, value: str, line: bool = False) -> str:
        """`value` as it may stand inside a data block: no tag of this prompt, no control
        token, and with `line` on one line. Idempotent, so text can be defused before it is
        measured and cut into windows."""
        return defuse(value, self.tags(), self.controls, line)

    def messages(self, **values: str) -> list[dict]:
        """Chat messages with the slots filled, every value defused."""
        missing = self.slots() - values.keys()
        if missing:
            raise PromptError(f"prompt {self.name}: no value for {sorted(missing)}")

        def fill(template: str) -> str:
            return _SLOT.sub(lambda m: self.defuse(str(values[m.group(1)]), line=bool(m.group(2))), template)

        return [{"role": "system", "content": fill(self.system)}, {"role": "user", "content": fill(self.user)}]


def one_line(value: str) -> str:
    """Every run of whitespace (newlines, tabs, Unicode line separators) as one space."""
    return " ".join(value.split())


def defuse(value: str, tags=(), controls=(), line: bool = False) -> str:
    """Page text made inert: the "<" of any form of a data tag (`</page >`, `< /PAGE>`,
    `</page\\n>`, `<page>`, full-width "<") becomes "&lt;"; a control token has its "<" or
    "[" written as an entity (`&lt;|im_start|>`, `&#91;INST]`), so no tokenizer matches it."""
    if line:
        value = one_line(value)
    value = _tag_pattern(tuple(tags)).sub(lambda m: "&lt;" + m.group(0)[1:], value)
    value = _CONTROL.sub(lambda m: _escape_control(m.group(0)), value)
    pattern = _controls_pattern(tuple(controls))
    return pattern.sub(lambda m: _escape_control(m.group(0)), value) if pattern else value


@functools.lru_cache(maxsize=64)
def _tag_pattern(tags: tuple[str, ...]) -> re.Pattern:
    names = "|".join([*DATA_TAGS, *(re.escape(t) for t in tags)])
    return re.compile(f"[{_LT}]{_GAP}(?:{names})(?![\\w-])", re.IGNORECASE)


@functools.lru_cache(maxsize=16)
def _controls_pattern(controls: tuple[str, ...]) -> re.Pattern | None:
    usable = sorted({c for c in controls if c and not c.isspace()}, key=len, reverse=True)
    return re.compile("|".join(re.escape(c) for c in usable)) if usable else None


def _escape_control(token: str) -> str:
    """A spelling of `token` that no tokenizer reads as the token itself."""
    if "<" in token or "[" in token:
        return token.replace("<", "&lt;").replace("[", "&#91;")
    return token[0] + "\u2060" + token[1:]  # word joiner: breaks the exact match, reads the same


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
