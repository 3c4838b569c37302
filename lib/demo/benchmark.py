"""The demo's own benchmark: a few test items written for this project, in the layout of
a user's benchmark file (JSONL with a field map). One item is planted verbatim in the
demo page lib/demo_pages/qa_trains.html, so `make demo` shows page-level decontamination
catching it; another is a near miss of the quadratic page (same method, other numbers),
the kind of pair tiers 2 and 3 exist to tell apart.
"""

from __future__ import annotations

import json
from pathlib import Path

NAME = "demo_bench"

ITEMS = [
    ("trains-1", "Two trains leave stations that are 300 kilometres apart at the same moment and travel toward each other "
                 "on parallel tracks. One train runs at 70 kilometres per hour and the other at 80 kilometres per hour. "
                 "How many hours pass before the two trains meet?", "2"),
    ("quadratic-2", "Solve the equation x^2 - 7x + 12 = 0 by factoring. What are the two solutions?", "x = 3 and x = 4"),
    ("bakery-3", "A bakery sells muffins for $3 each and cookies for $1.50 each. Lena buys 4 muffins and 6 cookies. "
                 "How much does she pay in total?", "21"),
    ("garden-4", "A rectangular garden is 12 metres long and 7 metres wide. A path 1 metre wide runs around the outside "
                 "of the garden. What is the area of the path in square metres?", "42"),
    ("savings-5", "Omar saves $15 every week. He already has $40. After how many weeks will he have $235?", "13"),
    ("dice-6", "Two fair six-sided dice are rolled. What is the probability that the sum of the numbers shown is 7?", "1/6"),
    ("derivative-7", "Find the derivative of f(x) = 4x^3 - 2x^2 + 9 with respect to x.", "12x^2 - 4x"),
    ("braking-8", "A car moving at 25 m/s brakes with a constant deceleration of 5 m/s^2. How far does it travel "
                  "before it stops?", "62.5 m"),
]


def write_benchmark(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{NAME}.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for item_id, question, answer in ITEMS:
            fh.write(json.dumps({"id": item_id, "question": question, "answer": answer}) + "\n")
    return path


def source(path: Path) -> dict:
    """The decontam.benchmarks entry for the written file."""
    return {"path": str(path), "name": NAME, "question": "question", "answer": "answer", "id": "id"}
