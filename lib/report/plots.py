"""The report's charts as inline SVG text (matplotlib, Agg backend): a report file must
open offline, so nothing is linked. Text stays text in the SVG (`svg.fonttype = none`),
which keeps the files small and lets the page's own font draw the labels."""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

STYLE = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "axes.axisbelow": True,
}
BLUE, ORANGE, GREY, RED = "#3b6ea8", "#e08a2c", "#9aa3ad", "#c0392b"
WIDTH = 8.0  # inches at 100 dpi in the page: 800 px of its 924
MAX_BARS = 25


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # no XML declaration or DOCTYPE (it names a remote DTD)
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)


def _label(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


PLAIN = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")  # 1, 10, 100 rather than 10^0, 10^1

def hbar(items: list[tuple[str, float]], title: str, xlabel: str = "", log: bool = False, color: str = BLUE) -> str:
    """Horizontal bars, first item on top, each with its value written at its end."""
    items = items[:MAX_BARS]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH, 0.6 + 0.28 * max(len(items), 1)))
        labels = [k for k, _ in items][::-1]
        values = [v for _, v in items][::-1]
        bars = ax.barh(labels, values, color=color, height=0.65)
        if log and any(v > 0 for v in values):
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(PLAIN)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=all(float(v).is_integer() for v in values)))
        ax.bar_label(bars, labels=[_label(v) for v in values], padding=3, fontsize=8)
        ax.set_title(title, loc="left")
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.12)
        return _svg(fig)


def histogram(counts: list[int], edges: list[float], title: str, xlabel: str, threshold: float | None = None) -> str:
    """Bars over precomputed bins (the counts come from the lake, not from raw values here),
    with the threshold as a dashed line."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH, 2.6))
        widths = [b - a for a, b in zip(edges, edges[1:])]
        colors = [ORANGE if threshold is not None and a >= threshold else BLUE for a in edges[:-1]]
        ax.bar(edges[:-1], counts, width=widths, align="edge", color=colors, edgecolor="white", linewidth=0.5)
        if threshold is not None:
            ax.axvline(threshold, color=RED, linestyle="--", linewidth=1.2)
            ax.annotate(f"threshold {threshold:g}", (threshold, ax.get_ylim()[1]), xytext=(4, -12),
                        textcoords="offset points", color=RED, fontsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, loc="left")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count")
        return _svg(fig)


def columns(items: list[tuple[str, float]], title: str, xlabel: str, ylabel: str) -> str:
    """Vertical bars over discrete categories (cluster sizes), values written on top."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH, 2.4))
        bars = ax.bar([k for k, _ in items], [v for _, v in items], color=BLUE, width=0.6)
        ax.bar_label(bars, labels=[_label(v) for _, v in items], padding=2, fontsize=8)
        ax.set_title(title, loc="left")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="x", visible=False)
        ax.margins(y=0.15)
        return _svg(fig)


def grouped(categories: list[str], series: dict[str, list[float]], title: str, xlabel: str = "") -> str:
    """Horizontal bars, one group per category, one bar per series."""
    categories = categories[:MAX_BARS]
    palette = [BLUE, ORANGE, GREY, RED, "#5b9e5b", "#8e6bb0"]
    with plt.rc_context(STYLE):
        n = max(len(series), 1)
        fig, ax = plt.subplots(figsize=(WIDTH, 0.8 + 0.22 * n * max(len(categories), 1)))
        height = 0.8 / n
        ys = list(range(len(categories)))[::-1]
        for i, (name, values) in enumerate(series.items()):
            pos = [y + (n / 2 - i - 0.5) * height for y in ys]
            bars = ax.barh(pos, values[: len(categories)], height=height * 0.95, color=palette[i % len(palette)], label=name)
            ax.bar_label(bars, labels=[_label(v) if v else "" for v in values[: len(categories)]], padding=2, fontsize=7)
        ax.set_yticks(ys, categories)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, loc="left")
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.12)
        ax.legend(frameon=False, fontsize=8, loc="lower right")
        return _svg(fig)
