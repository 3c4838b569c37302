"""The report as one HTML file that works offline: its style inline, its charts inline SVG,
no script, font or image fetched from anywhere. Its figures are also embedded as JSON
(`<script type="application/json" id="figures">`, data a browser never runs), so a test or
a person can read the exact numbers behind each chart."""

from __future__ import annotations

import html
import json

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2328;
       background: #f6f7f9; margin: 0; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 60px; background: #ffffff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 34px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #e6e9ee; }
p.meta, p.note { color: #57606a; font-size: 13px; margin: 4px 0 10px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0 14px; width: 100%; }
th, td { border-bottom: 1px solid #e6e9ee; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f8; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { max-width: 360px; overflow-wrap: anywhere; }
figure { margin: 6px 0 14px; }
figure svg { max-width: 100%; height: auto; }
.scroll { overflow-x: auto; }
nav { font-size: 13px; margin: 10px 0 0; line-height: 1.8; }
nav a { margin-right: 12px; color: #3b6ea8; text-decoration: none; }
a { color: #3b6ea8; }
.empty { color: #8c959f; font-style: italic; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0 4px; }
.kpi { background: #f3f5f8; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.kpi b { display: block; font-size: 20px; }
.kpi span { color: #57606a; font-size: 12px; }
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def table(headers: list[str], rows: list[list[object]], numeric: set[int] | None = None, text: set[int] | None = None) -> str:
    """An HTML table; `numeric` columns right-aligned, `text` columns wrap."""
    if not rows:
        return '<p class="empty">nothing yet</p>'
    numeric = numeric if numeric is not None else {i for i in range(len(headers))
                                                  if all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool)
                                                         for r in rows if r[i] is not None)}
    text = text or set()

    def cls(i: int) -> str:
        return ' class="num"' if i in numeric else (' class="text"' if i in text else "")

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{cell(v)}</td>" for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def cell(value: object) -> str:
    if isinstance(value, Link):
        return f'<a href="{esc(value.href)}" rel="noreferrer">{esc(value.text)}</a>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return esc(f"{value:.3f}")
    if isinstance(value, int) and not isinstance(value, bool):
        return esc(f"{value:,}")
    return esc("–" if value is None else value)


class Link:
    """A cell that links to a page (the lineage URL): a link, not a resource the report loads."""

    def __init__(self, href: str, text: str):
        self.href, self.text = href, text


class Page:
    def __init__(self, title: str, meta: str):
        self.title = title
        self.meta = meta
        self.kpis: list[tuple[str, object]] = []
        self.sections: list[tuple[str, str, str]] = []  # (anchor, heading, html)

    def section(self, anchor: str, heading: str, *parts: str) -> None:
        self.sections.append((anchor, heading, "\n".join(parts)))

    def render(self, figures: dict) -> str:
        nav = "".join(f'<a href="#{a}">{esc(h)}</a>' for a, h, _ in self.sections)
        kpis = "".join(f'<div class="kpi"><b>{cell(v)}</b><span>{esc(k)}</span></div>' for k, v in self.kpis)
        body = "\n".join(f'<section id="{a}"><h2>{esc(h)}</h2>\n{content}</section>' for a, h, content in self.sections)
        data = json.dumps(figures, default=str, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")  # no tag can start inside
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(self.title)}</title><style>{CSS}</style></head>\n<body><main>"
            f"<h1>{esc(self.title)}</h1><p class=\"meta\">{esc(self.meta)}</p>"
            f"<div class=\"kpis\">{kpis}</div><nav>{nav}</nav>\n{body}\n"
            f'<script type="application/json" id="figures">{data}</script>'
            "</main></body></html>\n"
        )


def figure(svg: str) -> str:
    return f"<figure>{svg}</figure>"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'
