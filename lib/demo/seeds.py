"""The demo's recall seeds, written by the project itself: template-built Q&A examples
(worked maths, physics, statistics and programming answers) as positives, and shop,
notice, travel and lifestyle texts as negatives. Seeded, so every demo trains on the same
lines. Real runs bring their own seeds (README: recall seeds).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

_NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kemal", "Lina"]
_ITEMS = ["apples", "pencils", "marbles", "books", "stickers", "cookies", "tickets", "coins"]
_OPENERS = ["Can someone help with this homework question?", "I am stuck on this exercise.",
            "How do I solve the following?", "Question from my textbook:", "Exam practice problem:",
            "Could anyone explain the steps?", ""]
_CLOSERS = ["Answered by a tutor.", "Accepted answer.", "Hope this helps!", "Best answer, 12 votes.", ""]


def _arithmetic(rng: random.Random) -> tuple[str, str]:
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    a, b, c = rng.randint(5, 60), rng.randint(2, 9), rng.randint(1, 20)
    q = f"{name} buys {b} bags with {a} {item} each and gives away {c} {item}. How many {item} are left?"
    s = f"First find the total: {b} x {a} = {b * a}. Then subtract what was given away: {b * a} - {c} = {b * a - c}. The answer is {b * a - c}."
    return q, s


def _equation(rng: random.Random) -> tuple[str, str]:
    r1, r2 = rng.randint(-9, 9), rng.randint(-9, 9)
    b, c = -(r1 + r2), r1 * r2
    q = f"Solve the quadratic equation x^2 + ({b})x + ({c}) = 0 by factoring. What are the roots?"
    s = (f"We need two numbers whose product is {c} and whose sum is {b}: they are {-r1} and {-r2}. "
         f"So x^2 + ({b})x + ({c}) = (x - {r1})(x - {r2}) = 0, which gives x = {r1} or x = {r2}.")
    return q, s


def _physics(rng: random.Random) -> tuple[str, str]:
    v, a = rng.randint(5, 30), rng.randint(2, 8)
    q = f"A car moving at {v} m/s brakes with a constant deceleration of {a} m/s^2. How far does it travel before it stops?"
    s = f"Use v^2 = u^2 - 2as with final speed 0: s = u^2 / (2a) = {v}^2 / (2 x {a}) = {v * v} / {2 * a} = {v * v / (2 * a):.2f} m."
    return q, s


def _probability(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(2, 4)
    q = f"If you roll {n} fair six-sided dice, what is the probability that all of them show a six?"
    s = f"The rolls are independent and each shows a six with probability 1/6, so the probability is (1/6)^{n} = 1/{6 ** n}."
    return q, s


def _code(rng: random.Random) -> tuple[str, str]:
    k = rng.choice(["list", "string", "dictionary", "array"])
    q = f"Why does my Python loop over a {k} print the same value every time, and how do I fix it?"
    s = (f"You are printing the variable defined before the loop instead of the loop variable. Write "
         f"`for item in my_{k}: print(item)` so each iteration uses the current element. The fix is to use the loop variable.")
    return q, s


_POSITIVE = [_arithmetic, _equation, _physics, _probability, _code]

_PRODUCTS = ["wireless headphones", "garden hose", "running shoes", "coffee grinder", "desk lamp", "travel backpack", "phone case"]
_NEGATIVE_TEMPLATES = [
    "{p} - now {d}% off. Free shipping on orders over ${m}. Add to cart. Customer reviews: 4.{r} out of 5 stars. In stock, ships in {n} days.",
    "Scheduled maintenance: our services will be unavailable on Sunday from {n}:00 to {m}:00 UTC. We apologise for any inconvenience.",
    "Top {n} weekend getaways for {y}: beaches, mountain cabins and city breaks. Book your hotel today and save up to {d}%.",
    "Subscribe to our newsletter for the latest deals on {p}. Unsubscribe at any time. Privacy policy. Cookie settings. Contact us.",
    "Recipe of the week: roasted vegetables with herbs. Serves {n}. Preheat the oven, chop everything, season and bake for {m} minutes.",
    "Our company was founded in {y} and now serves {m} customers worldwide. Meet the team, read our press releases and see open positions.",
    "Product details for the {p}: weight {n}00 g, colour options black, white and blue, {r}-year warranty, free returns within {m} days.",
    "Local news: the city council approved the new park budget on Tuesday. Residents can comment until {y}. Read more stories below.",
]


def seed_rows(n_positive: int = 150, n_negative: int = 150, seed: int = 7) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    positives = []
    for i in range(n_positive):
        q, a = rng.choice(_POSITIVE)(rng)
        text = "\n".join(x for x in (rng.choice(_OPENERS), q, "Answer:", a, rng.choice(_CLOSERS)) if x)
        positives.append({"id": f"pos-{i}", "text": text})
    negatives = []
    for i in range(n_negative):
        parts = [rng.choice(_NEGATIVE_TEMPLATES).format(p=rng.choice(_PRODUCTS), d=rng.randint(10, 60), m=rng.randint(20, 90),
                                                          r=rng.randint(1, 9), n=rng.randint(2, 9), y=rng.randint(1990, 2026))
                 for _ in range(rng.randint(2, 4))]
        negatives.append({"id": f"neg-{i}", "text": "\n".join(parts)})
    return positives, negatives


def write_seeds(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pos, neg = seed_rows()
    paths = folder / "positives.jsonl", folder / "negatives.jsonl"
    for path, rows in zip(paths, (pos, neg)):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return paths
