"""Personal data in published text, found and replaced by typed placeholders (`<EMAIL>`,
`<PHONE>`, ...) before a pair is published: forum pages carry addresses, phone numbers and
links with tokens, and a training set must not.

Each kind has a cheap, bounded pattern that finds candidates and a validator from a
maintained library that decides: libphonenumber (`phonenumbers`) for phone numbers,
`stdnum` for IBAN check digits and the Luhn sum of card numbers, `ipaddress` for IPs.
Mathematics must survive: a phone number needs a phone's shape (a leading +, or digit
groups split by separators, or a word such as "phone" or "call" just before it) and must
not sit inside a formula; a bare run of digits, a year, a dimension or an ISBN is not one.
Names are not found: no named-entity model installs from PyPI (spaCy's are on GitHub).

Every pattern has bounded repetition, formulas are found by one pass over their delimiters,
and each candidate is validated once, so a hostile megabyte of digits, `@` or `$` costs
time linear in its length.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn

from webinstruct.lib.math_spans import inside, math_spans

PII_VERSION = "pii-1"  # bump when what is found changes: every pair is checked again
TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "SECRET")
PLACEHOLDERS = {t: f"<{t}>" for t in TYPES}
MAX_TEXT_CHARS = 2_000_000  # longer text is cut before it is scanned (answers are far shorter)

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}"
                   r"[A-Za-z]{2,24}(?![\w-])")
# digits with phone separators between groups, optionally +country and (area)
PHONE_SHAPE = re.compile(r"(?<![\w.,/^_=+*-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,5}(?:[ .-]\d{1,8}){1,5}(?![\w/^_=+*]|[.,]\d)"
                         r"|(?<![\w.,/^_=*-])\+\d{7,15}(?![\w/^_=+*]|[.,]\d)"
                         r"|(?<![\w.,/^_=*-])(?:\+\d{1,3} ?)?\(\d{2,5}\)[ ]?\d{3,4}[ .-]?\d{3,4}(?![\w/^_=+*]|[.,]\d)")
PHONE_WORDS = re.compile(r"(?i)\b(?:phone|tel|telephone|mobile|cell|call(?: me)?|fax|whatsapp|sms|text me|contact|number|reach me)"
                         r"\b[^\w\n]{0,4}(?:(?:no|number|is|at|on)\b[^\w\n]{0,4}){0,3}$")
BARE_DIGITS = re.compile(r"(?<![\w.,/^_=+*-])\d{7,15}(?![\w/^_]|[.,]\d)")
CARD = re.compile(r"(?<![\w.-])(?:\d[ -]?){12,18}\d(?![\w-]|[.,]\d)")
CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9])|35|3[068]")
IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::{1,2}[0-9A-Fa-f]{0,4}){2,8}(?![\w:])")
URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15}://)([^\s/@:]{1,64}):([^\s/@]{1,128})@")
SECRET_PARAM = re.compile(r"(?i)([?&;](?:access_token|refresh_token|id_token|token|api_?key|apikey|key|secret|client_secret|password|"
                          r"passwd|pwd|pass|auth|session|sessionid|sid|sig|signature|x-amz-signature|x-amz-credential|code)=)"
                          r"([^\s&#;\"'<>]{4,512})")
KEY_SHAPES = re.compile(r"(?<![A-Za-z0-9])(?:AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|sk-[A-Za-z0-9_-]{20,120}|"
                        r"xox[abposr]-[A-Za-z0-9-]{10,120}|AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9])")


@dataclass(frozen=True)
class Finding:
    type: str
    start: int
    end: int


def valid_region(region: str) -> bool:
    return region in phonenumbers.SUPPORTED_REGIONS


def _valid_iban(candidate: str) -> bool:
    """The ISO 13616 check digits and the country's length (not its national check, which
    rejects some registry examples)."""
    try:
        iban.validate(candidate, check_country=False)
        return True
    except Exception:  # noqa: BLE001 - stdnum raises its ValidationError subclasses
        return False


def _valid_phone(candidate: str, region: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if not 7 <= digits <= 15:
        return False
    try:
        number = phonenumbers.parse(candidate, None if candidate.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _dates_or_maths(candidate: str) -> bool:
    """Shapes that are not phone numbers: dates (2024-01-15, 12.05.2023), ISBN-13 groups,
    decimals with one separator, sequences of small numbers ("1 2 3 4 5")."""
    groups = re.split(r"[ .-]+", candidate.strip("+() "))
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}", candidate):
        return True
    if re.fullmatch(r"97[89][ -]\d{1,5}[ -]\d{1,7}[ -]\d{1,7}[ -]\d", candidate):
        return True
    if len(groups) == 2 and len(groups[0]) == len(groups[1]) >= 4 and not candidate.startswith("+"):
        return True  # 28980-18480, 2024-2025: arithmetic and ranges
    return len(groups) >= 3 and max(len(g) for g in groups) <= 2 and not candidate.startswith("+")


_OPERATORS = set("=+-*/^<>×÷")


def _in_arithmetic(text: str, start: int, end: int) -> bool:
    """The nearest character before or after (spaces skipped, on the same line) is an
    operator: `n = 650 253 0000`, `650 253 0000 + 1` are sums, not numbers to call."""
    before = text[max(0, start - 8):start].rstrip(" \t")
    after = text[end:end + 8].lstrip(" \t")
    if before.endswith("-") and (len(before) == 1 or before[-2] in "-\n"):  # "-- name", a "- " bullet: no minus sign
        before = ""
    return bool(before) and before[-1] in _OPERATORS or bool(after) and after[0] in _OPERATORS


def find(text: str, region: str = "US", types: frozenset[str] | None = None) -> list[Finding]:
    """Every finding of `types` (None: all), sorted, not overlapping (the earlier, then the
    longer one wins)."""
    text = text[:MAX_TEXT_CHARS]
    math = math_spans(text)
    found: list[Finding] = []
    for m in EMAIL.finditer(text):
        found.append(Finding("EMAIL", *m.span()))
    for m in URL_USERINFO.finditer(text):
        found.append(Finding("SECRET", m.start(2), m.end(3)))
    for m in SECRET_PARAM.finditer(text):
        found.append(Finding("SECRET", m.start(2), m.end(2)))
    for m in KEY_SHAPES.finditer(text):
        found.append(Finding("SECRET", *m.span()))
    for m in IBAN.finditer(text):
        if _valid_iban(m.group()):
            found.append(Finding("IBAN", *m.span()))
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and CARD_PREFIX.match(digits) and luhn.is_valid(digits) and not inside(math, *m.span()):
            found.append(Finding("CREDIT_CARD", *m.span()))
    for m in IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        if not inside(math, *m.span()):
            found.append(Finding("IP_ADDRESS", *m.span()))
    for m in IPV6.finditer(text):
        value = m.group()
        if value.count(":") < 3 or sum(bool(g) for g in value.split(":")) < 3:  # 1:2:3 ratios, a::b
            continue
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        if not inside(math, *m.span()):
            found.append(Finding("IP_ADDRESS", *m.span()))
    for m in PHONE_SHAPE.finditer(text):
        candidate = m.group()
        if inside(math, *m.span()) or _dates_or_maths(candidate) or _in_arithmetic(text, *m.span()):
            continue
        if _valid_phone(candidate, region):
            found.append(Finding("PHONE", *m.span()))
    for m in BARE_DIGITS.finditer(text):  # digits alone count only after a word that announces a number
        before = text[max(0, m.start() - 24): m.start()]
        if PHONE_WORDS.search(before) and not inside(math, *m.span()) and not _in_arithmetic(text, *m.span()) \
                and _valid_phone(m.group(), region):
            found.append(Finding("PHONE", *m.span()))
    if types is not None:
        found = [f for f in found if f.type in types]
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    out: list[Finding] = []
    for f in found:
        if not out or f.start >= out[-1].end:
            out.append(f)
    return out


def redact(text: str | None, types: frozenset[str] | None = None, region: str = "US") -> tuple[str | None, Counter]:
    """(text with each finding replaced by its placeholder, findings per type)."""
    if not text:
        return text, Counter()
    findings = find(text, region, types)
    if not findings:
        return text, Counter()
    parts, at = [], 0
    for f in findings:
        parts += [text[at:f.start], PLACEHOLDERS[f.type]]
        at = f.end
    parts.append(text[at:])
    return "".join(parts), Counter(f.type for f in findings)
