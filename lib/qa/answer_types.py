"""What kind of final answer a pair has, and whether a checker could verify it.

Why: reinforcement learning with verifiable rewards (General-Reasoner's WebInstruct-verified,
Nemotron-Math) wants items whose answer is short and closed-form, labelled with its type, and
drops proofs and essays. The final answer is found the way votes find it (lib.qa.answers:
boxed, "####", "the answer is", a choice letter), then typed by rules over its text. Rules,
not a model: the label must be the same on every run and cheap on millions of pairs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webinstruct.lib.qa.answers import MAX_ANSWER_CHARS, NUMBER, TEXT_WRAP, Extracted, extract

ANSWER_TYPES = ("integer", "decimal", "fraction", "expression", "equation", "interval", "set_or_tuple", "matrix",
                "multiple_choice", "boolean", "short_text", "long_text", "proof", "none")
# A short closed-form answer: math-verify (numbers, expressions, sets, intervals, matrices) or
# exact match (letters, yes/no, a few words) can check it.
VERIFIABLE = frozenset(ANSWER_TYPES) - {"long_text", "proof", "none"}
LABEL_VERSION = "answer-types-1"  # bump when a rule changes meaning: every pair is labelled again
MAX_VERIFIABLE_CHARS = 120
MAX_SHORT_TEXT_WORDS = 5
# A weak extraction (the last number of the text) is trusted only in a short answer.
MAX_WORDS_FOR_LAST_NUMBER = 60
MAX_QUESTION_CHARS = 20_000
MAX_CLOSING_CHARS = 3_000  # where a closing formula is looked for: the answer's end
MAX_POINTER_WORDS = 30  # a reply this short that is mostly a link points elsewhere
MAX_TEXT_AFTER_FORMULA = 60  # "So practically a 0% chance." may follow the result; a paragraph may not

PROOF_ASK = re.compile(r"(?i)\b(?:prove|show that|show how|demonstrate that|verify that|deduce that|justify why)\b")
PROOF_END = re.compile(r"(?:\\blacksquare|\\square\s*$|\\qed|\bQ\.?E\.?D\.?|∎|□\s*$)")
MATRIX = re.compile(r"\\begin\{(?:[pbvBV]?matrix|array|smallmatrix)\}")
BOOLEAN = re.compile(r"(?i)(?:yes|no|true|false)")
CHOICE = re.compile(r"\(?[A-E]\)?|\([a-e]\)|(?i:option|choice)\s*\(?[A-Ea-e]\)?")  # a bare "a" is a word
INEQUALITY = re.compile(r"\\(?:le|ge|leq|geq|neq|ne|lt|gt|leqslant|geqslant)(?![A-Za-z])|[<>≤≥≠]")
ONE_VARIABLE_IS = re.compile(r"^\s*[A-Za-z](?:_\{?\w+\}?)?\s*(?:=|\\in(?![A-Za-z]))\s*(?!.*=)")
INTEGER = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+|[-+]?\d+")
DECIMAL = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\d+(?:\.\d+)?\s*(?:\\times|×)\s*10\^\{?-?\d+\}?|[-+]?\d+[eE][-+]?\d+")
FRACTION = re.compile(r"[-+]?\s*(?:\d+\s*)?(?:\\[dt]?frac\s*(?:\{\s*\d+\s*\}|\d)\s*(?:\{\s*\d+\s*\}|\d)|\d+\s*/\s*\d+)")
UNIT_WORDS = re.compile(r"(?:\s*(?:\\(?:,|;|!|quad)|\\?\s)*\b(?:[a-zA-Z]{1,12}\.?)(?:\^\{?\d\}?)?(?:\s+[a-zA-Z]{1,12}\.?(?:\^\{?\d\}?)?){0,2}"
                        r"|\s*\^\s*\{?\\circ\}?|\s*°)$")
CURRENCY = re.compile(r"^(?:\\\$|\$|€|£|USD\s*)")
PERCENT = re.compile(r"(?:\\%|%)$")
YES_NO_QUESTION = re.compile(r"(?:^|[.?!:]\s+|\n)\s*(?:Is|Are|Can|Could|Does|Do|Did|Will|Would|Should|Must|May|Has|Have|Was|Were)"
                             r"\b[^?]{0,400}\?")
YES_NO_OPENING = re.compile(r"\s*(Yes|No)\b([.,!])?(?!\w)", re.IGNORECASE)  # "Yes," "No." open a verdict
NON_ANSWER = re.compile(r"(?i)^(?:see|check|refer to|read)\b|https?://")
# The last formula of an answer: display ($$..$$, \[..\]), an environment, or inline $..$.
FORMULA = re.compile(r"\$\$(.{1,2000}?)\$\$|\\\[(.{1,2000}?)\\\]|(\\begin\{(?:align|eqnarray|equation|gather|multline)\*?\}"
                     r".{1,2000}?\\end\{(?:align|eqnarray|equation|gather|multline)\*?\})|(?<![\\$])\$([^$]{1,500}?)\$", re.S)
ENVIRONMENT = re.compile(r"\\(?:begin|end)\{(?:align|eqnarray|equation|gather|multline)\*?\}|\\nonumber|\\label\{[^}]*\}")
RELATION = re.compile(r"(?<![<>!\\])=(?!=)|\\approx|≈|\\simeq|\\equiv")
OBJECT_OF = re.compile(r"(?i)\b(?:is|are|equals?|gives?|get|obtain|becomes?|to be|of)\s*:?\s*$")
EXPLAIN_ASK = re.compile(r"(?i)\b(?:why|explain|intuition|how come|meaning of|what does\b.{0,80}\bmean)\b")
ANSWER_FOLLOWS = re.compile(r"(?i)\s*,?\s*(?:which|that)\s+is\s+(?:the\s+)?(?:required|desired|final|correct)?\s*(?:answer|result)")
DANGLING = re.compile(r"(?i)(?:\b(?:to|of|is|as|by|be|that)|:)\s*$")
COMMAND = re.compile(r"\\[A-Za-z]+")
PLUS_MINUS = re.compile(r"\\pm(?![A-Za-z])|±|\\mp(?![A-Za-z])")
MATH_SIGNS = re.compile(r"[\\^_=+*/()\[\]{}|]|\d|\b[a-zA-Z]\b")
WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class AnswerLabel:
    final: str | None  # the final answer found, None for proofs, essays and empty answers
    answer_type: str
    verifiable: bool
    method: str  # how the final answer was found (lib.qa.answers.extract), or the rule that typed the whole text


def label(question: str | None, answer: str | None) -> AnswerLabel:
    """The type of a pair's final answer."""
    text = (answer or "").strip()
    if not text:
        return AnswerLabel(None, "none", False, "empty")
    question = (question or "")[:MAX_QUESTION_CHARS]
    found = extract(text)
    strong = found.method in ("boxed", "gsm8k", "choice") or (found.method == "stated" and _has_math_or_number(found.answer))
    if not strong:
        opening = YES_NO_OPENING.match(text)
        if opening and (opening.group(2) or YES_NO_QUESTION.search(question)):
            return AnswerLabel(opening.group(1).lower(), "boolean", True, "opening")
        if PROOF_ASK.search(question) or PROOF_END.search(text[-200:]):
            return AnswerLabel(None, "proof", False, "proof")
        closing = closing_formula(text) if not EXPLAIN_ASK.search(question) else None
        if closing is not None:
            found = Extracted(closing, "closing_formula")
        elif found.method == "last_number" and not _last_number_trusted(text):
            found = Extracted(None, "none")
    if strong or found.method in ("last_number", "closing_formula"):
        final = _result_of(_clean(found.answer or ""))
        kind = "multiple_choice" if found.method == "choice" else answer_type(final, question)
        if kind not in ("long_text", "none"):
            return _labelled(final, kind, found.method)
    # No marked final answer: the whole reply is the answer when it is short.
    if len(text.split()) <= MAX_SHORT_TEXT_WORDS and len(text) <= MAX_ANSWER_CHARS:
        final = _clean(text)
        kind = "none" if NON_ANSWER.search(final) else answer_type(final, question)
        return _labelled(final, kind, "whole") if kind != "none" else AnswerLabel(None, "none", False, "whole")
    if len(text.split()) <= MAX_POINTER_WORDS and "http" in text and "$" not in text:
        return AnswerLabel(None, "none", False, "pointer")  # a link in place of an answer
    return AnswerLabel(None, "long_text", False, "whole")


def _labelled(final: str, kind: str, method: str) -> AnswerLabel:
    """A final answer longer than MAX_VERIFIABLE_CHARS is not short: kept (cut) but not verifiable."""
    return AnswerLabel(final[:MAX_ANSWER_CHARS], kind, kind in VERIFIABLE and len(final) <= MAX_VERIFIABLE_CHARS, method)


def closing_formula(text: str) -> str | None:
    """The result a worked answer ends on without saying "the answer is": the right-hand side
    of the last relation of its last formula (`$$P(B) = \\frac{9}{35}$$`, an `align` ending
    `&= 3`), or a formula that closes a sentence as its object ("the probability is $x$.")."""
    tail = text[-MAX_CLOSING_CHARS:]
    match = None
    for match in FORMULA.finditer(tail):
        pass
    after = tail[match.end():] if match is not None else ""
    ends = not after.strip() or after.lstrip(" ")[:1] in ".\n" or ANSWER_FOLLOWS.match(after)
    if match is None or len(after) > MAX_TEXT_AFTER_FORMULA or not ends:
        return None  # the sentence goes on: "set $z=0$, which gives ..." is not a result
    body = next(g for g in match.groups() if g is not None)
    body = ENVIRONMENT.sub("", body).replace("&", " ").strip().rstrip(".,;").strip()
    parts = RELATION.split(body)
    if len(parts) > 1:
        rhs = parts[-1].strip().removesuffix("\\\\").strip().rstrip(".,;").strip()
        return rhs or None
    before = tail[:match.start()].rstrip()
    return body if OBJECT_OF.search(before[-40:]) and body else None


def _has_math_or_number(value: str | None) -> bool:
    if not value or DANGLING.search(value):
        return False  # "the answer is equal to" followed by a formula on the next line
    return (re.search(r"[\\\d=^_]", value) is not None or BOOLEAN.fullmatch(_clean(value).rstrip(".!")) is not None
            or CHOICE.fullmatch(_clean(value)) is not None or len(value.split()) <= 2)


def _last_number_trusted(text: str) -> bool:
    """The last number stands for the answer only in a short plain-text reply that ends on it."""
    if len(text.split()) > MAX_WORDS_FOR_LAST_NUMBER or "$" in text or "\\" in text or "http" in text:
        return False
    numbers = list(NUMBER.finditer(text))
    return bool(numbers) and len(text) - numbers[-1].end() <= MAX_TEXT_AFTER_FORMULA


def _result_of(final: str) -> str:
    """`2^8 - 1 = 255` answers 255: a computation ending in a number is that number."""
    parts = RELATION.split(final)
    if len(parts) > 1 and _number_core(parts[-1].strip()) is not None and not re.search(r"[a-zA-Z]", COMMAND.sub("", parts[0])):
        return parts[-1].strip()
    return final


def answer_type(final: str, question: str = "") -> str:
    """The type of a final answer's text (already without \\boxed and `$`); the question only
    tells a pair of bounds asked "in interval notation" from a point."""
    s = _result_of(_clean(final))
    if not s:
        return "none"
    if BOOLEAN.fullmatch(s.rstrip(".!")):
        return "boolean"
    if CHOICE.fullmatch(s):
        return "multiple_choice"
    if MATRIX.search(s):
        return "matrix"
    s = _value_of_one_variable(s)
    number = _number_core(s)
    if number is not None:
        if PERCENT.search(s) or DECIMAL.fullmatch(number):
            return "decimal"
        if INTEGER.fullmatch(number):
            return "integer"
        if FRACTION.fullmatch(number):
            return "fraction"
    if _is_interval(s) or (s[:1] + s[-1:] == "()" and len(_depth_split(s[1:-1])) == 2 and "interval" in question.lower()):
        return "interval"
    if (_top_level_comma(s) or _is_set(s) or PLUS_MINUS.search(s)
            or (re.search(r"\\text\{\s*(?:or|and)\s*\}|\s(?:or|and)\s", s) and "=" in s)):
        return "set_or_tuple"
    if "=" in s or INEQUALITY.search(s):
        return "equation"
    words = WORD.findall(s)
    if MATH_SIGNS.search(s) and (not words or len(" ".join(words)) < len(s) / 2 or "\\" in s):
        return "expression"
    if words and len(s.split()) <= MAX_SHORT_TEXT_WORDS:
        return "short_text"
    return "long_text"


def _clean(s: str) -> str:
    """Without math delimiters, `\\text{}` wrappers, `\\left`/`\\right`, spacing and a final full stop."""
    s = s.strip()
    for left, right in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if s.startswith(left) and s.endswith(right) and len(s) > len(left) + len(right):
            s = s[len(left):-len(right)].strip()
    s = TEXT_WRAP.sub(r"\1", s)
    for cmd in ("\\left", "\\right", "\\displaystyle", "\\!", "\\,", "\\;", "\\ "):
        s = s.replace(cmd, " " if cmd == "\\ " else "")
    return " ".join(s.split()).rstrip(".").strip()


def _value_of_one_variable(s: str) -> str:
    """`x = 5` is the answer 5; `y = 2x + 1` stays an equation."""
    match = ONE_VARIABLE_IS.match(s)
    if match:
        rest = s[match.end():].strip()
        if _number_core(rest) is not None or CHOICE.fullmatch(rest) or "\\in" in s[:match.end()]:
            return rest
    return s


def _number_core(s: str) -> str | None:
    """The number of `$18`, `5 cm`, `120^\\circ`, `45%`, `3/4`, `\\frac{3}{4}`; None when `s` is more."""
    t = CURRENCY.sub("", s.strip()).strip()
    t = PERCENT.sub("", t).strip()
    for _ in range(2):
        core = t
        if INTEGER.fullmatch(core) or DECIMAL.fullmatch(core) or FRACTION.fullmatch(core):
            return core.replace(" ", "")
        t = UNIT_WORDS.sub("", t).strip()
        if t == core:
            break
    return None


def _depth_split(s: str) -> list[str]:
    """Parts of `s` split at commas outside any bracket."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


def _top_level_comma(s: str) -> bool:
    parts = _depth_split(s)
    # "1,000" is a number, not a list
    return len(parts) > 1 and not INTEGER.fullmatch(s.replace(" ", "")) and all(p.strip() for p in parts)


def _is_set(s: str) -> bool:
    if s.startswith("\\{") and s.endswith("\\}"):
        return True
    if s[:1] + s[-1:] in ("()", "[]", "⟨⟩") or (s.startswith("\\langle") and s.endswith("\\rangle")):
        return len(_depth_split(s[1:-1])) > 1  # a tuple, point or list; [a, b] is an interval (checked first)
    return False


def _is_interval(s: str) -> bool:
    if "\\cup" in s or "∪" in s:
        return True
    if len(s) < 5 or s[0] not in "([" or s[-1] not in ")]":
        return False
    inner = _depth_split(s[1:-1])
    if len(inner) != 2:
        return False
    mixed = s[0] + s[-1] in ("[)", "(]")
    return mixed or s[0] + s[-1] == "[]" or "\\infty" in s or "∞" in s
