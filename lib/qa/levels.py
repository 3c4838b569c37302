"""Difficulty levels of a pass rate: names and bins, without the answer checker (config reads them)."""

from __future__ import annotations

LEVELS = ("easy", "medium", "hard", "unsolved")


def level(rate: float | None, easy: float, medium: float) -> str | None:
    """easy at or above `easy`, medium at or above `medium`, hard above 0, unsolved at 0."""
    if rate is None:
        return None
    if rate >= easy:
        return "easy"
    if rate >= medium:
        return "medium"
    return "hard" if rate > 0 else "unsolved"
