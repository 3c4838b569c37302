"""Plain-text tables for terminal output (summaries, `webinstruct sql`)."""

from __future__ import annotations


def render(headers: list[str], rows: list[list[object]], max_width: int = 60) -> str:
    def cell(value: object) -> str:
        text = "NULL" if value is None else str(value)
        text = text.replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    body = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    numeric = [all(_is_number(r[i]) for r in rows if r[i] is not None) and rows != [] for i in range(len(headers))]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)) + " |"

    rule = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    out = [rule, line(headers), rule, *(line(r) for r in body), rule]
    return "\n".join(out)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def markdown(headers: list[str], rows: list[list[object]]) -> str:
    """A GitHub-flavoured Markdown table (dataset cards); pipes in cells are escaped."""

    def cell(value: object) -> str:
        return " ".join(str("" if value is None else value).split()).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
