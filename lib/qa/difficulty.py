"""How hard a question is for a teacher: the share of its sampled solutions that reach the
reference answer (Nemotron-Math and WebInstruct-verified filter on this pass rate).

The reference is the page's own final answer when it has one, else the majority of the
samples; the samples' answers arrive grouped by equivalence (lib.qa.answers.majority), so a
pass rate needs one equivalence check per group, not per sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from webinstruct.lib.qa.answers import equivalent

DIFFICULTY_VERSION = "difficulty-1"  # bump when the rule changes: every question is binned again
MAX_GROUPS = 64  # groups compared with the reference per question (n samples give at most n)


@dataclass(frozen=True)
class PassRate:
    passes: int  # samples whose answer is equivalent to the reference
    samples: int
    rate: float | None  # passes / samples; None without samples
    reference: str | None
    # page | page_llm (the LLM verifier found the page's answer among the groups) | majority |
    # none (no sample stated an answer and the page has none)
    reference_kind: str


def pass_rate(groups: list[tuple[str, int]], samples: int, reference: str | None, majority: str | None,
              timeout_s: int = 5, same: Callable[[str, str], bool] | None = None) -> PassRate:
    """`groups`: (answer, votes) of the samples, largest first; `reference`: the page's answer;
    `same`: the LLM verifier's verdict on a pair the rules left open (None: rules only)."""
    if samples <= 0:
        return PassRate(0, 0, None, reference, "page" if reference else "none")
    if reference:
        passes = next((int(votes) for answer, votes in groups[:MAX_GROUPS] if equivalent(answer, reference, timeout_s)), None)
        if passes is None and same is not None:
            found = next((int(votes) for answer, votes in groups[:MAX_GROUPS] if same(answer, reference)), None)
            if found is not None:
                return PassRate(found, samples, round(found / samples, 4), reference, "page_llm")
        passes = passes or 0
        return PassRate(passes, samples, round(passes / samples, 4), reference, "page")
    if majority is None or not groups:
        return PassRate(0, samples, 0.0, None, "none")
    return PassRate(int(groups[0][1]), samples, round(int(groups[0][1]) / samples, 4), majority, "majority")
