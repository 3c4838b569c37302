"""The quality gate: is a refined question-answer pair worth training on?

An LLM refiner may replace the question with its own commentary, answer with template
debris ("{{"), or drift from the page it read. Each check below is cheap and explainable;
a pair passes when no check fails, and the failed checks are its reasons, stored per pair.

* faithful:   the refined question keeps the extracted one's meaning (embedding cosine,
              computed by the caller) and its numbers and formulas, and adds no number.
* grounded:   the extracted question's words are on the page.
* real answer: enough content words or a number or formula; no markup debris, template
              braces or JSON fragments; not a copy of the question; no meta-talk.
* well-formed: balanced TeX delimiters, braces and environments; a final answer where the
              extracted answer had one.
* plausible:  the pair's language is the page's; lengths within bounds.

`score` is a heuristic in [0, 1] (documented in the README): the mean of the soft
sub-scores, so pairs that pass can still be sorted and cut.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field

from webinstruct.lib.qa.parse import final_answer

GATE_VERSION = "gate-1"  # bump when a check changes meaning; with the options it keys qa_quality rows

WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*(?:/\d+)?")
DIGITS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")  # "1,000" is one number, "(3,4)" two
TEX = re.compile(r"\$[^$]+\$|\\\(|\\\[|\\(?:frac|sqrt|sum|int|boxed|cdot|times|le|ge|pi|alpha|beta|theta|lambda)\b")
TEX_COMMAND = re.compile(r"\\[A-Za-z]{2,}")
# Debris an HTML or template renderer leaves: unrendered placeholders, tags, JSON keys.
DEBRIS = [
    ("template_braces", re.compile(r"\{\{[ \t]{0,5}[A-Za-z_][\w.]{0,60}[ \t]{0,5}\}\}|\{%-?[ \t]{0,5}\w|\$\{[A-Za-z_]\w{0,60}\}")),
    ("html_tags", re.compile(r"</?(?:div|span|p|br|a|img|script|style|table|td|tr|li|ul)\b[^<>]{0,200}>", re.I)),
    ("json_fragment", re.compile(r"^\s{0,20}[\[{]\s{0,20}\"[^\"]{1,40}\"\s{0,5}:|\"[ \t]{0,5}:[ \t]{0,5}(?:null|true|false|\{|\[)")),
    ("entity_debris", re.compile(r"&(?:nbsp|amp|lt|gt|quot);|\[object Object\]")),
]
# Every regex above is bounded (no unbounded repeat before a failing tail), and the gate
# reads at most MAX_CHECK_CHARS of a text: a hostile page cannot make a check quadratic.
MAX_CHECK_CHARS = 100_000
# A model talking about itself or the conversation instead of answering.
# Checked only where the refiner added it: a person on the page may well write "I cannot".
META_TALK = re.compile(
    r"\b(?:as an ai\b|as a language model|i(?: am|'m) (?:sorry|unable|not able)|i cannot\b|i can't (?:help|answer|provide)"
    r"|the previous (?:response|answer|reply)|the (?:above|original) (?:response|answer) (?:is|was|contains)"
    r"|(?:this|the) (?:response|reply) contains|i apologi[sz]e|here is (?:the|a) (?:refined|rewritten|revised)"
    r"|(?:refined|rewritten|revised) (?:question|answer)\s{0,5}:|i don't have (?:access|enough information)"
    r"|not enough information (?:is|was) (?:given|provided)|you need more information)",
    re.I,
)
# TeX regions, removed before looking for debris ("a<b" in $..$ is not a tag, x_{{z}} not a template)
MATH_DELIMITERS = (("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"), ("$", "$"))
BEGIN = re.compile(r"\\begin\{([^{}]{1,40})\}")
MAX_UNCLOSED_BEGINS = 20
TOKEN = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "the a an and or but if of to in on at by for with from as is are was were be been being it its this that these "
    "those there here what which who whom whose when where why how do does did can could should would will shall may "
    "might must not no yes so than then too very just also only any all some each every other such own same i you he "
    "she we they me him her us them my your his our their about into over under again further once more most".split()
)
DELIMS = [("$$", re.compile(r"\$\$")), ("(", re.compile(r"(?<!\\)\\\(")), (")", re.compile(r"(?<!\\)\\\)")),
          ("[", re.compile(r"(?<!\\)\\\[")), ("]", re.compile(r"(?<!\\)\\\]"))]  # "\\[2pt]" is a line break
ENV = re.compile(r"\\(begin|end)\{([^{}]{1,40})\}")


@dataclass(frozen=True)
class GateOptions:
    """Thresholds; `gate.*` in config, each documented there."""

    min_similarity: float = 0.6
    min_numbers_kept: float = 1.0
    min_grounded: float = 0.6
    min_answer_words: int = 3
    max_answer_question_overlap: float = 0.9
    min_question_chars: int = 10
    max_question_chars: int = 8000
    min_answer_chars: int = 1
    max_answer_chars: int = 20000
    check_language: bool = True
    min_lang_score: float = 0.5
    checks: tuple[str, ...] = field(default=("faithful", "grounded", "answer", "wellformed", "plausible"))

    def key(self) -> str:
        """Rows of qa_quality carry this: a changed threshold re-checks every pair."""
        body = json.dumps(asdict(self), sort_keys=True, default=list)
        return GATE_VERSION + "-" + hashlib.blake2b(body.encode(), digest_size=6).hexdigest()


@dataclass(frozen=True)
class PairInput:
    """What the gate reads for one pair; `similarity` and `pair_lang` come from models the
    caller runs in batches (an encoder, a language identifier)."""

    orig_question: str
    orig_answer: str
    question: str
    answer: str
    page_text: str = ""
    page_words: frozenset | None = None  # page_words(page_text), when the caller has it already
    page_lang: str = ""
    pair_lang: str = ""
    pair_lang_score: float = 0.0
    similarity: float | None = None
    method: str = "llm"


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str]
    score: float
    grounded: float
    numbers_kept: float


def content_words(text: str) -> list[str]:
    return [w for w in (m.lower() for m in WORD.findall(text or "")) if w not in STOPWORDS]


def _digits(text: str) -> set[str]:
    """Every digit run, also inside "x2" or "10th"."""
    return {n.replace(",", "") for n in DIGITS.findall(text or "")}


def numbers_kept(orig: str, refined: str) -> float:
    """Share of the original question's numbers and TeX commands found in the rewrite."""
    want = _digits(orig) | set(TEX_COMMAND.findall(orig or ""))
    if not want:
        return 1.0
    have = _digits(refined) | set(TEX_COMMAND.findall(refined or ""))
    return len(want & have) / len(want)


def number_key(question: str) -> str:
    """The question's numbers with repeats, sorted: near copies must hold the same ones."""
    return " ".join(sorted(n.replace(",", "") for n in DIGITS.findall((question or "")[:MAX_CHECK_CHARS])))


def numbers_added(orig: str, refined: str) -> set[str]:
    """Numbers in the rewrite that the original question never had: changed or invented data."""
    return _digits(refined) - _digits(orig)


def page_words(page_text: str) -> set[str]:
    """What grounding compares with: the page's content words and numbers."""
    return set(content_words(page_text)) | _digits(page_text)


def grounded_share(question: str, page_text: str = "", page: set[str] | None = None) -> float:
    """Share of the question's distinct content words (its numbers, for a question of
    numbers and stopwords) that occur on the page; 1 when it has neither."""
    words = set(content_words(question)) or _digits(question)
    if not words:
        return 1.0
    page = page if page is not None else page_words(page_text)
    return len(words & page) / len(words)


def strip_math(text: str) -> str:
    """The text with its TeX regions ($..$, $$..$$, \\(..\\), \\[..\\], environments) blanked.

    One left-to-right pass: the next opener of each kind is found once and reused, and a
    kind whose closer never comes is not looked for again, so the cost stays linear."""
    out, i, n = [], 0, len(text)
    nxt: dict[str, int] = {}
    dead: set[str] = set()
    misses, env = 0, False  # env: the next \\begin match, None when there is none, False before the first look
    while i < n:
        best = None
        for opener, closer in MATH_DELIMITERS:
            if opener in dead:
                continue
            if nxt.get(opener, -1) < i:
                nxt[opener] = text.find(opener, i)
            j = nxt[opener]
            if j < 0:
                dead.add(opener)
            elif best is None or j < best[0]:
                best = (j, opener, closer)
        if misses >= MAX_UNCLOSED_BEGINS:
            env = None  # too many environments that never close: stop looking for them
        elif env is False or (env is not None and env.start() < i):
            env = BEGIN.search(text, i)  # the next \\begin, found again only once passed
        if env and env.start() >= i and (best is None or env.start() < best[0]):
            end = text.find("\\end{" + env.group(1) + "}", env.end())
            if end < 0:
                misses += 1
                out.append(text[i : env.end()])
                i = env.end()
                continue
            best = (env.start(), env.group(0), "\\end{" + env.group(1) + "}")
            close_at = end
        elif best is not None:
            close_at = text.find(best[2], best[0] + len(best[1]))
            if close_at < 0:
                dead.add(best[1])
                continue
        else:
            break
        out.append(text[i : best[0]])
        out.append(" ")
        i = close_at + len(best[2])
    out.append(text[i:])
    return "".join(out)


def debris(text: str) -> list[str]:
    prose = strip_math((text or "")[:MAX_CHECK_CHARS])
    found = [name for name, pattern in DEBRIS if pattern.search(prose)]
    if "template_braces" not in found and ("{" in prose or "}" in prose) and not TOKEN.search(prose):
        found.insert(0, "template_braces")  # nothing but braces and punctuation, "{{"
    return found


def added_meta_talk(original: str, refined: str) -> bool:
    """Meta-talk in the rewrite that the original did not have."""
    had = {m.group(0).lower() for m in META_TALK.finditer(original or "")}
    return any(m.group(0).lower() not in had for m in META_TALK.finditer(refined or ""))


def copies(answer: str, question: str, threshold: float) -> bool:
    """The answer repeats the question: its words in order inside the question, or nearly
    the same set of words and numbers (an answer that computes new numbers is not a copy)."""
    a = [t.lower() for t in TOKEN.findall(answer or "")]
    q = [t.lower() for t in TOKEN.findall(question or "")]
    if not a or not q:
        return False
    if len(a) >= 3 and f" {' '.join(a)} " in f" {' '.join(q)} ":  # whole words, and more than a value
        return True
    sa, sq = set(a), set(q)
    return len(sa & sq) / len(sa | sq) >= threshold


def unbalanced(text: str) -> list[str]:
    """Which TeX delimiters, braces or environments do not close."""
    problems = []
    text = text or ""
    stripped = re.sub(r"\\[{}$]", "", text)  # escaped braces and dollars are literal
    depth = 0
    for ch in stripped:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            break
    if depth != 0:
        problems.append("braces")
    counts = {name: len(pattern.findall(stripped)) for name, pattern in DELIMS}
    if counts["$$"] % 2:
        problems.append("display_math")
    if counts["("] != counts[")"] or counts["["] != counts["]"]:
        problems.append("math_delimiters")
    singles = stripped.replace("$$", "")
    if singles.count("$") % 2 and not re.search(r"\$\s?\d", singles):  # "$5" is money, not maths
        problems.append("inline_math")
    stack = []
    for kind, name in ENV.findall(text):
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            problems.append("environments")
            break
    else:
        if stack:
            problems.append("environments")
    return sorted(set(problems))


def check(p: PairInput, o: GateOptions) -> GateResult:
    """The gate's decision for one pair: every failed check is a reason."""
    reasons: list[str] = []
    checks = set(o.checks)
    q, a = (p.question or "").strip(), (p.answer or "").strip()
    if len(q) > o.max_question_chars or len(a) > o.max_answer_chars:  # rejected anyway: no regex on it
        reasons = ["question_length"] if len(q) > o.max_question_chars else []
        reasons += ["answer_length"] if len(a) > o.max_answer_chars else []
        return GateResult(False, reasons, 0.0, 0.0, 0.0)
    orig_q, orig_a = (p.orig_question or "")[:MAX_CHECK_CHARS], (p.orig_answer or "")[:MAX_CHECK_CHARS]
    p = PairInput(orig_q, orig_a, q, a, p.page_text, p.page_words, p.page_lang, p.pair_lang, p.pair_lang_score,
                  p.similarity, p.method)
    kept = numbers_kept(p.orig_question, q)
    has_page = bool(p.page_text) or bool(p.page_words)
    grounded = grounded_share(p.orig_question, p.page_text, p.page_words) if has_page else 1.0
    sim = 1.0 if p.similarity is None else max(0.0, min(1.0, p.similarity))
    answer_words = content_words(a)
    has_value = bool(NUMBER.search(a) or TEX.search(a))

    if "faithful" in checks:
        if p.similarity is not None and p.similarity < o.min_similarity:
            reasons.append("question_meaning_changed")
        if kept < o.min_numbers_kept:
            reasons.append("question_numbers_lost")
        if numbers_added(p.orig_question, q):
            reasons.append("question_numbers_changed")
        if added_meta_talk(p.orig_question, q):
            reasons.append("question_meta_talk")
    if "grounded" in checks and has_page and grounded < o.min_grounded:
        reasons.append("question_not_on_page")
    if "answer" in checks:
        if len(answer_words) < o.min_answer_words and not has_value:
            reasons.append("answer_too_thin")
        reasons.extend(f"answer_{name}" for name in debris(a))
        if debris(q):
            reasons.append("question_debris")
        if copies(a, q, o.max_answer_question_overlap):
            reasons.append("answer_copies_question")
        if added_meta_talk(p.orig_answer, a):
            reasons.append("answer_meta_talk")
    if "wellformed" in checks:
        # what the refiner broke: a person's own unclosed "$" on the page is theirs
        before = set(unbalanced((p.orig_question or "") + "\n" + (p.orig_answer or "")))
        reasons.extend(f"unbalanced_{kind}" for kind in set(unbalanced(q + "\n" + a)) - before)
        if final_answer(p.orig_answer or "") is not None and final_answer(a) is None:
            reasons.append("final_answer_missing")
    if "plausible" in checks:
        if not o.min_question_chars <= len(q) <= o.max_question_chars:
            reasons.append("question_length")
        if not o.min_answer_chars <= len(a) <= o.max_answer_chars:
            reasons.append("answer_length")
        if (o.check_language and p.page_lang and p.pair_lang and p.pair_lang_score >= o.min_lang_score
                and p.pair_lang != p.page_lang):
            reasons.append("language_mismatch")

    substance = min(1.0, len(answer_words) / 20) if not has_value else max(0.5, min(1.0, len(answer_words) / 20))
    score = (sim + kept + grounded + substance) / 4
    if reasons:
        score *= 0.5
    return GateResult(not reasons, sorted(set(reasons)), round(score, 4), round(grounded, 4), round(kept, 4))
