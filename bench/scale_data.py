"""WARC archives for the scale bench, written from the real pages in ../shared/data.

Every archive holds the same mix in fixed proportions, so a size is a number of archives
(1x = the first `base / PER_FILE` files, 4x and 16x extend the same sequence) and each stage
has the same kind of work at every size:

  qa_markup   Q&A pages with schema.org QAPage JSON-LD: a real Stack Exchange question and
              answers (stackmathqa_700), with context sentences drawn from the pool so no
              two questions are the same; formulas in TeX
  forum       real forum pages (wceb2026, page_type forum) with a post of drawn sentences
  math        real maths pages with MathJax, KaTeX or MathML (math_web) plus drawn sentences
  article     real non-educational pages (wceb2026 articles, products, services, listings;
              news) plus an article of drawn sentences
  other_lang  real search-result pages whose text is not English (the 990 Wayback captures)
  exact_copy  an earlier page of the same archive, byte for byte, at another URL
  near_copy   an earlier page with about 3% of its drawn words changed and a banner

Drawn sentences come from the real texts (labelled main content, news articles, Stack
Exchange answers) by a seeded generator, enough of them that two generated pages share
few 5-word shingles: dedup finds the copies, not the generator. The HTML around them is the
real page's, so parsing costs what it costs on the web.

    .venv/bin/python -m bench.scale_data --out build/scale/warc --files 80 [--per-file 2000]
"""

from __future__ import annotations

import argparse
import gzip
import html
import io
import json
import random
import re
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecordType

from webinstruct.lib.ingest.langid import LanguageIdentifier

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
PER_FILE = 2000
MAX_TEMPLATE_CHARS = 250_000  # real pages used as templates: at most this long
SEED = 20261205
MIX = (  # kind, share of every archive
    ("qa_markup", 0.20), ("forum", 0.10), ("math", 0.10), ("article", 0.35),
    ("other_lang", 0.05), ("exact_copy", 0.12), ("near_copy", 0.08),
)
ARTICLE_TYPES = ("article", "product", "service", "listing", "collection", "documentation")
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z$\\(])")
TAG = re.compile(r"<[^>]+>")
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Page:
    url: str
    html: str


class Pools:
    """The real material, read once."""

    def __init__(self, shared: Path = SHARED):
        self.qa = [json.loads(line) for line in (shared / "qa" / "stackmathqa_700.jsonl").open(encoding="utf-8")]
        labels = [json.loads(line) for line in (shared / "pages" / "wceb2026" / "labels.jsonl").open(encoding="utf-8")]
        wceb = shared / "pages" / "wceb2026"
        self.forum = [_read_gz(wceb / row["html"]) for row in labels if row["page_type"] == "forum"]
        self.article = [_read_gz(wceb / row["html"]) for row in labels if row["page_type"] in ARTICLE_TYPES]
        news = shared / "pages" / "scrapinghub_news"
        truth = json.loads((news / "ground-truth.json").read_text(encoding="utf-8"))
        self.article += [_read_gz(news / "html" / f"{key}.html.gz") for key in sorted(truth)]
        self.math = [_read_gz(p) for p in sorted((shared / "pages" / "math_web" / "html").glob("*.html.gz"))]
        self.other_lang = _non_english_pages(shared / "warc" / "real" / "webis_archive-query-log_serps_990.warc.gz")
        # Common Crawl's responses average about 100 KB of HTML; the 2026 pages run larger
        self.forum, self.article, self.math, self.other_lang = (
            [p for p in pages if len(p) <= MAX_TEMPLATE_CHARS] for pages in (self.forum, self.article, self.math, self.other_lang))
        plain = [row["main_content"] for row in labels] + [v.get("articleBody", "") for v in truth.values()]
        self.sentences = _sentences(plain)
        self.qa_sentences = _sentences(q["A"] for q in self.qa)


def _read_gz(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8", "replace")


def _sentences(texts) -> list[str]:
    out = []
    for text in texts:
        for s in SENTENCE.split(text or ""):
            s = " ".join(s.split())
            if 40 <= len(s) <= 400:
                out.append(s)
    return out


def _non_english_pages(archive: Path) -> list[str]:
    lid = LanguageIdentifier()
    pages = []
    with archive.open("rb") as fh:
        for record in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
            body = record.reader.read()
            text = body.decode("utf-8", "replace")
            words = " ".join(TAG.sub(" ", text).split())[:2000]
            if len(words) > 200 and lid.predict(words)[0] not in ("en", ""):
                pages.append(text)
    return pages


class Generator:
    """One archive's pages, seeded by the archive number: the same files every time."""

    def __init__(self, pools: Pools, index: int, per_file: int):
        self.pools, self.index, self.per_file = pools, index, per_file
        self.rng = random.Random(SEED * 1000 + index)
        self.domains = max(1, per_file // 25)  # about 25 pages per site, new sites in every archive

    def _url(self, kind: str, n: int) -> str:
        site = self.rng.randrange(self.domains)
        host = {"qa_markup": "qa", "forum": "forum", "math": "maths", "article": "news", "other_lang": "suche"}.get(kind, "mirror")
        return f"https://www.{host}{self.index:03d}-{site:03d}.org/{kind}/{self.index}/{n}"  # one registered domain per site

    def _drawn(self, pool: list[str], n: int) -> list[str]:
        return [self.rng.choice(pool) for _ in range(n)]

    def _block(self, title: str, sentences: list[str]) -> str:
        paragraphs, i = [], 0
        while i < len(sentences):
            k = self.rng.randint(2, 5)
            paragraphs.append("<p>" + html.escape(" ".join(sentences[i:i + k])) + "</p>")
            i += k
        return f'<article class="post"><h2>{html.escape(title)}</h2>\n' + "\n".join(paragraphs) + "</article>"

    def _inject(self, page: str, block: str) -> str:
        at = page.lower().rfind("</body>")
        return page[:at] + block + page[at:] if at >= 0 else page + block

    def qa_markup(self) -> str:
        q, a, b = (self.rng.choice(self.pools.qa) for _ in range(3))
        context = " ".join(self._drawn(self.pools.qa_sentences, 2))
        question = f"{q['Q']}\n{context}"
        answers = [a["A"], b["A"]]
        ld = {"@context": "https://schema.org", "@type": "QAPage", "mainEntity": {
            "@type": "Question", "name": q["Q"].split("\n")[0][:150], "text": question, "answerCount": 2,
            "acceptedAnswer": {"@type": "Answer", "text": answers[0], "upvoteCount": self.rng.randint(1, 90)},
            "suggestedAnswer": [{"@type": "Answer", "text": answers[1], "upvoteCount": self.rng.randint(0, 9)}]}}
        posts = "\n".join(f'<div class="answer"><div class="post-text">{html.escape(t)}</div></div>' for t in answers)
        title = html.escape(q["Q"].split("\n")[0][:120])
        return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
                f'<script type="application/ld+json">{json.dumps(ld)}</script></head><body>'
                f'<nav><a href="/">Home</a> <a href="/questions">Questions</a> <a href="/tags">Tags</a></nav>'
                f'<main><h1>{title}</h1><div class="question"><div class="post-text">{html.escape(question)}</div></div>'
                f"<h2>2 Answers</h2>{posts}</main><footer>Site design / logo; user contributions licensed under CC BY-SA</footer>"
                "</body></html>")

    def forum(self) -> str:
        return self._inject(self.rng.choice(self.pools.forum), self._block("Re: a follow-up", self._drawn(self.pools.qa_sentences, 14)))

    def math(self) -> str:
        return self._inject(self.rng.choice(self.pools.math), self._block("Worked example", self._drawn(self.pools.qa_sentences, 14)))

    def article(self) -> str:
        return self._inject(self.rng.choice(self.pools.article), self._block("More on this", self._drawn(self.pools.sentences, 18)))

    def other_lang(self) -> str:
        return self._inject(self.rng.choice(self.pools.other_lang), f"<!-- {self.index}-{self.rng.random()} -->")

    def near_copy(self, page: str) -> str:
        start = page.find('<article class="post">')
        if start < 0:
            start = page.find("<main>")
        head, body = page[:max(start, 0)], page[max(start, 0):]
        words = body.split(" ")
        for _ in range(max(1, len(words) * 3 // 100)):
            i = self.rng.randrange(len(words))
            if "<" not in words[i] and ">" not in words[i]:
                words[i] = self.rng.choice(("indeed", "also", "however", "note", "thus", "here"))
        return self._inject(head + " ".join(words), "<p>Reposted with permission; see the original thread.</p>")

    def pages(self):
        kinds = [k for k, share in MIX for _ in range(round(share * self.per_file))]
        kinds = (kinds + ["article"] * self.per_file)[: self.per_file]
        self.rng.shuffle(kinds)
        made: list[str] = []
        for n, kind in enumerate(kinds):
            if kind in ("exact_copy", "near_copy") and made:
                original = self.rng.choice(made)
                body = original if kind == "exact_copy" else self.near_copy(original)
            else:
                kind = "article" if kind in ("exact_copy", "near_copy") else kind
                body = getattr(self, kind)()
                if kind != "other_lang":
                    made.append(body)
            yield Page(self._url(kind, n), body)


def warc_record(url: str, payload: bytes, date: str) -> bytes:
    """One gzip member holding a WARC/1.0 response record (as Common Crawl writes them)."""
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\nWARC-Date: {date}\r\n"
            f"WARC-Target-URI: {url}\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n")
    raw = head.encode() + http + b"\r\n\r\n"
    z = zlib.compressobj(1, zlib.DEFLATED, 31)  # level 1: writing 16x must not take longer than reading it
    return z.compress(raw) + z.flush()


def write_archive(pools: Pools, index: int, out: Path, per_file: int) -> Path:
    path = out / f"scale-{index:04d}.warc.gz"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    date = f"2026-{1 + index % 12:02d}-15T12:00:00Z"
    with tmp.open("wb") as fh:
        buf = io.BufferedWriter(fh, 1 << 20)
        for page in Generator(pools, index, per_file).pages():
            buf.write(warc_record(page.url, page.html.encode("utf-8"), date))
        buf.flush()
    tmp.rename(path)
    return path


def archives(out: Path, files: int, per_file: int = PER_FILE) -> list[Path]:
    """The first `files` archives, written where missing (a larger size reuses the smaller's)."""
    out.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(files) if not (out / f"scale-{i:04d}.warc.gz").exists()]
    pools = Pools() if missing else None
    return [write_archive(pools, i, out, per_file) for i in range(files)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/scale/warc")
    ap.add_argument("--files", type=int, default=5)
    ap.add_argument("--per-file", type=int, default=PER_FILE)
    args = ap.parse_args()
    paths = archives(Path(args.out), args.files, args.per_file)
    total = sum(p.stat().st_size for p in paths)
    print(f"{len(paths)} archive(s), {len(paths) * args.per_file:,} pages, {total / 1e6:,.1f} MB in {args.out}")


if __name__ == "__main__":
    main()
