"""Seed sources for the recall classifier, as written in config (`recall.positives`,
`recall.negatives`): checked here, before Spark starts, so a typo names its key.

Each source is a table of keys, one of:

  {path = "seeds/*.jsonl", text = ["Q", "A"], url = "meta.url", where = "...", limit = N}
      files: jsonl | json | parquet | csv | text (one example per line) | textfile (one
      per file) | delta (a Delta table folder); `format` defaults from the extension.
      `text` is a field or a list of fields joined by a newline; `url` (optional) lets
      the seed be excluded from the sampled negatives; `where` is a Spark SQL filter.
  {table = "name", text = "text", ...}   a table of the lake
  {urls = ["https://..."]}               documents with these URLs
  {domains = ["mathoverflow.net"]}       documents of these registered domains or hosts
"""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("jsonl", "json", "parquet", "csv", "text", "textfile", "delta")
_EXT = {".jsonl": "jsonl", ".json": "json", ".ndjson": "jsonl", ".parquet": "parquet", ".csv": "csv", ".txt": "text"}
_KEYS = {"path", "table", "urls", "domains", "format", "text", "url", "where", "limit", "name"}


class SeedSpecError(ValueError):
    pass


@dataclass(frozen=True)
class SeedSource:
    kind: str  # path | table | urls | domains
    path: str = ""
    table: str = ""
    values: tuple = ()
    format: str = ""
    text: tuple = ("text",)
    url: str = ""
    where: str = ""
    limit: int = 0
    name: str = ""

    def label(self) -> str:
        if self.name:
            return self.name
        if self.kind == "path":
            return self.path
        if self.kind == "table":
            return f"table:{self.table}"
        return f"{self.kind}:{len(self.values)}"


def _format_of(path: str) -> str:
    base = path.rstrip("/").lower()
    for suffix in (".gz", ".bz2", ".zst"):
        base = base.removesuffix(suffix)
    for ext, fmt in _EXT.items():
        if base.endswith(ext):
            return fmt
    return ""


def parse_source(spec, key: str) -> SeedSource:
    if not isinstance(spec, dict):
        raise SeedSpecError(f"{key}: each source is a table of keys, e.g. {{path = \"seeds.jsonl\", text = \"text\"}}; got {spec!r}")
    unknown = set(spec) - _KEYS
    if unknown:
        raise SeedSpecError(f"{key}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_KEYS))}")
    kinds = [k for k in ("path", "table", "urls", "domains") if k in spec]
    if len(kinds) != 1:
        raise SeedSpecError(f"{key}: give exactly one of path, table, urls, domains; got {kinds or 'none'}")
    kind = kinds[0]
    text = spec.get("text", "text")
    text = (text,) if isinstance(text, str) else tuple(text) if isinstance(text, list) else None
    if not text or not all(isinstance(t, str) and t for t in text):
        raise SeedSpecError(f"{key}.text must be a field name or a list of field names")
    for k in ("url", "where", "format", "name", "path", "table"):
        if k in spec and not isinstance(spec[k], str):
            raise SeedSpecError(f"{key}.{k} must be a string")
    limit = spec.get("limit", 0)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise SeedSpecError(f"{key}.limit must be a non-negative integer (0 = all)")
    values = ()
    if kind in ("urls", "domains"):
        values = spec[kind]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise SeedSpecError(f"{key}.{kind} must be a non-empty list of strings")
        values = tuple(v.lower() if kind == "domains" else v for v in values)
    fmt = spec.get("format", "")
    if kind == "path":
        fmt = fmt or _format_of(spec["path"])
        if fmt not in FORMATS:
            raise SeedSpecError(
                f"{key}.format: cannot tell the format of {spec['path']!r}; set format to one of {', '.join(FORMATS)}"
            )
    elif fmt:
        raise SeedSpecError(f"{key}.format applies to path sources only")
    return SeedSource(
        kind=kind, path=spec.get("path", ""), table=spec.get("table", ""), values=values, format=fmt, text=text,
        url=spec.get("url", ""), where=spec.get("where", ""), limit=limit, name=spec.get("name", ""),
    )


def parse_sources(specs: list, key: str) -> list[SeedSource]:
    return [parse_source(s, f"{key}[{i}]") for i, s in enumerate(specs)]
