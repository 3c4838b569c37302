"""What a sentence encoder hardly sees and what decides whether two close questions are one:
the numbers and order signs a question holds ("48 clips" or "84", "P(X > Y)" or
"P(X = Y)") and the final answer its solution states in a form made to be checked. A
rewording keeps both; a near miss that asks another thing in the same words changes one.
semantic.collapse joins two close questions only when these agree.

Every input is untrusted page text: its length is cut, each pattern runs in linear time, a
run of number words yields bounded values, and math-verify is asked a bounded number of
times per cluster under a time limit.
"""

from __future__ import annotations

import re
from typing import Callable

from webinstruct.lib.dedup.minhash import jaccard
from webinstruct.lib.qa.answers import STATED, boxed, equivalent, normalise
from webinstruct.lib.qa.gate import DIGITS

MAX_TEXT = 20_000  # characters of a question or a solution's tail that are read
MAX_CHECKABLE_CHARS = 60  # a longer "final answer" is prose, not a value
MIN_OVERLAP = 0.5  # Jaccard of facts two questions with the same answer must reach (bench.semdedup: GSM8K train)
MAX_VERIFY = 500  # math-verify calls per cluster; beyond, answers compare by their normalised text
VERIFY_TIMEOUT_S = 1

# "one" counts only inside a number ("twenty-one", "one hundred", "hundred and one"): alone it is
# a pronoun ("which one", "one of them"); "zero" is as often a word as a value
UNITS = {w: i for i, w in enumerate("one two three four five six seven eight nine".split(), start=1)}
TEENS = {w: i for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split(),
                                    start=10)}
TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
SCALES = {"thousand": 1000, "million": 10**6, "billion": 10**9}
TIMES = {"twice": 2, "double": 2, "doubled": 2, "thrice": 3, "triple": 3, "tripled": 3, "half": 0.5}
_WORD = "|".join([*UNITS, *TEENS, *TENS, "hundred", *SCALES])
NUMBER_WORDS = re.compile(rf"\b(?:{_WORD})(?:(?:[ \t]{{1,3}}and[ \t]{{1,3}}|[ \t-]{{1,3}})(?:{_WORD}))*\b", re.I)
TIMES_WORDS = re.compile(rf"\b(?:{'|'.join(TIMES)})\b(?!-[A-Za-z])", re.I)  # "double-check" and "half-life" are words

HTML_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")  # <br>, <p>: not two order signs
ENTITIES = {"&lt;": "<", "&gt;": ">", "&le;": "≤", "&ge;": "≥", "&ne;": "≠"}
ENTITY = re.compile("|".join(ENTITIES))
# read whole: "<=" is one sign, "->" and "<=>" arrows, "<-" an arrow before a space or a letter (x<-3 is x < -3)
RELATIONS = re.compile(r"\\not\s{0,3}(?:[<>=]|\\(?:leq?|geq?|lt|gt)(?![A-Za-z]))|<=>|<->|--?>|=>|<-(?=[\sA-Za-z])|<=|>=|!=|"
                       r"[<>≤≥≠⩽⩾]|\\(?:leqslant|geqslant|leqq|geqq|leq|geq|le|ge|neq|ne|lt|gt)(?![A-Za-z])")
ARROWS = {"<=>", "<->", "->", "-->", "=>", "<-"}
SIGN = {"<=": "≤", "⩽": "≤", "\\le": "≤", "\\leq": "≤", "\\leqq": "≤", "\\leqslant": "≤",
        ">=": "≥", "⩾": "≥", "\\ge": "≥", "\\geq": "≥", "\\geqq": "≥", "\\geqslant": "≥",
        "!=": "≠", "\\ne": "≠", "\\neq": "≠", "\\lt": "<", "\\gt": ">"}

SOLUTION_LINE = re.compile(r"(?:^|\n)####[ \t]{0,10}([^\n]{1,200})\s*\Z")  # GSM8K's last line, not a Markdown heading
TEX_COMMAND = re.compile(r"\\[A-Za-z]+")
LONG_WORD = re.compile(r"[A-Za-z]{4,}")
VALUE_START = re.compile(r"[-+−$\\\d(\[{.]")


def _numbers_in(run: str) -> list[int]:
    """The numbers a run of number words says: "two hundred and forty-five" is 245, "nineteen
    eighty-four" is 19 and 84, "five ten" is 5 and 10. A word that cannot extend the number
    read so far starts a new one, so no run adds up beyond a billion's thousands."""
    out: list[int] = []
    total = cur = 0
    last: str | None = None  # kind of the previous word: unit, teen, tens, hundred, scale
    words = [w for w in re.split(r"[ \t-]+", run.lower()) if w]

    def flush() -> None:
        nonlocal total, cur, last
        if last is not None and total + cur > 0:
            out.append(total + cur)
        total = cur = 0
        last = None

    for i, w in enumerate(words):
        if w == "and":
            if last not in ("hundred", "scale"):
                flush()
            continue
        after = words[i - 1] if i else ""
        before = words[i + 1] if i + 1 < len(words) else ""
        if w == "one" and not (last == "tens" or after == "and" or before == "hundred" or before in SCALES):
            flush()  # a pronoun
            continue
        if w in UNITS:
            if last not in (None, "tens", "hundred", "scale") or (last == "tens" and cur % 10):
                flush()
            cur, last = cur + UNITS[w], "unit"
        elif w in TEENS or w in TENS:
            if last not in (None, "hundred", "scale"):
                flush()
            cur, last = cur + TEENS.get(w, TENS.get(w, 0)), "tens" if w in TENS else "teen"
        elif w == "hundred":
            if last in ("unit", "teen") and 0 < cur < 100:
                cur *= 100
            else:
                flush()
                cur = 100
            last = "hundred"
        else:  # thousand, million, billion
            scale = SCALES[w]
            if last is not None and 0 < cur < 1000 and (total == 0 or total >= scale * 1000):
                total, cur = total + cur * scale, 0
            else:
                flush()
                total = scale
            last = "scale"
    flush()
    return out


def _plain(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def facts_of(question: str | None) -> str:
    """The question's distinct numbers, in digits or words ("1,000" and "1000", "three" and
    "3", "twice" and "2" alike), and its order signs (<, >, <=, >=, !=), sorted. "=" is left
    out: it is said in words as often ("x is 3")."""
    text = ENTITY.sub(lambda m: ENTITIES[m.group(0)], HTML_TAG.sub(" ", (question or "")[:MAX_TEXT]))
    found = {n.replace(",", "") for n in DIGITS.findall(text)}
    for m in NUMBER_WORDS.finditer(text):
        found.update(str(n) for n in _numbers_in(m.group(0)))
    found.update(_plain(TIMES[m.group(0).lower()]) for m in TIMES_WORDS.finditer(text))
    for m in RELATIONS.finditer(text):
        sign = m.group(0)
        if sign in ARROWS:
            continue
        if sign.startswith("\\not"):
            inner = sign[4:].strip()
            found.add("≠" if inner == "=" else "¬" + SIGN.get(inner, inner))
        else:
            found.add(SIGN.get(sign, sign))
    return " ".join(sorted(found))


def overlap(a: str, b: str) -> float:
    """Jaccard overlap of two facts_of strings (1.0 for two empty ones)."""
    return jaccard(set(a.split()), set(b.split()))


def _value_like(value: str) -> bool:
    """A value, not a sentence: starts like a number, a sign, $ or TeX; at most three tokens;
    no word of four letters or more outside TeX commands ("2019 version", "in section 2")."""
    return (bool(VALUE_START.match(value)) and len(value.split()) <= 3
            and not LONG_WORD.search(TEX_COMMAND.sub("", value)))


def checkable_answer(answer: str | None) -> str | None:
    """The final answer a solution states in a form made to be checked: the last \\boxed{},
    else a last line "#### x", else "the answer is x", with x a short value; else None. A
    forum reply's last number is as often a year or a version as a result, and comparing
    it would keep rewordings apart."""
    text = (answer or "")[-MAX_TEXT:]
    found = boxed(text)
    if found is None:
        line = SOLUTION_LINE.search(text)
        stated = list(STATED.finditer(text)) if line is None else []
        value = (line.group(1) if line else stated[-1].group(1) if stated else "").strip().strip("$ ")
        found = value if _value_like(value) else None
    found = (found or "").strip()
    return found if found and len(found) <= MAX_CHECKABLE_CHARS and normalise(found) else None


def answers_agree(same: Callable[[str, str], bool] | None = None, budget: int = MAX_VERIFY) -> Callable[[str, str], bool]:
    """Whether two checkable answers are one answer: the same normalised text, else `same`
    (math-verify under a time limit by default), asked once per pair and at most `budget`
    times; past the budget only the normalised text decides (a hostile cluster of many
    distinct answers costs bounded time)."""
    same = same or (lambda a, b: equivalent(a, b, VERIFY_TIMEOUT_S))
    seen: dict[tuple[str, str], bool] = {}
    left = [budget]

    def fn(a: str, b: str) -> bool:
        key = (a, b) if a <= b else (b, a)
        if key not in seen:
            if normalise(a) == normalise(b):
                seen[key] = True
            elif left[0] > 0:
                left[0] -= 1
                seen[key] = bool(same(*key))
            else:
                seen[key] = False
        return seen[key]

    return fn
