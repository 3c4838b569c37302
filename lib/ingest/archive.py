"""One archive in, clean documents out: the record loop that ingest runs per Spark task.

Kept free of Spark so the same loop is what the benchmark times alone and what the job
runs; the Spark side only batches its output into Arrow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator

from webinstruct.lib.ingest.charset import decode_html
from webinstruct.lib.ingest.http_payload import PayloadDecodeError, decode_body, parse_http_response
from webinstruct.lib.ingest.langid import LanguageIdentifier
from webinstruct.lib.ingest.stream import open_binary
from webinstruct.lib.ingest.text_extract import ExtractOptions, extract_text
from webinstruct.lib.ingest.warc_records import ArchiveInfo, NotAnArchive, iter_records
from webinstruct.lib.urls import host_of, registered_domain

# Why a page was not kept. Counted per file in `warc_files.drops`.
DROP_REASONS = (
    "revisit",  # dedup record pointing at an earlier capture: no payload
    "not_200",  # HTTP status other than 200 (or none)
    "not_html",  # payload is not text/html or application/xhtml+xml
    "oversized",  # record block above ingest.max_record_bytes
    "decode_error",  # transfer/content encoding announced and broken
    "corrupt_record",  # record that could not be parsed at all
    "no_text",  # extractor found no main text
    "too_short",  # fewer than ingest.min_words words
    "too_long",  # more than ingest.max_chars characters
    "language",  # language not in ingest.languages or below the threshold
)

_CRAWL_RE = re.compile(r"CC-MAIN-\d{4}-\d{2}")


@dataclass(frozen=True)
class IngestOptions:
    reader: str = "fastwarc"
    extract: ExtractOptions = field(default_factory=ExtractOptions)
    languages: tuple[str, ...] = ("en",)  # empty: keep every language
    lang_threshold: float = 0.5
    lid_model: str = ""
    min_words: int = 30
    max_chars: int = 200_000
    max_record_bytes: int = 20 << 20
    max_html_bytes: int = 5 << 20


@dataclass
class FileReport:
    path: str
    status: str = "ok"  # ok | partial | failed
    error: str | None = None
    format: str | None = None
    compression: str | None = None
    crawl: str | None = None
    records: int = 0
    responses: int = 0
    html: int = 0  # HTTP 200 responses with an HTML payload
    kept: int = 0
    drops: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def document_id(url: str | None, text_digest: str) -> str:
    """Content-derived: the same page text at the same URL is the same document,
    whichever archive, offset or run it came from."""
    return hashlib.blake2b(f"{url or ''}\n{text_digest}".encode("utf-8"), digest_size=16).hexdigest()


class ArchiveProcessor:
    """Holds the per-process state (language model) so it is loaded once, not per file."""

    def __init__(self, options: IngestOptions):
        self.options = options
        self.langid = LanguageIdentifier(options.lid_model) if options.languages else None
        self._languages = set(options.languages)

    def process(
        self, path: str, report: FileReport, opener: Callable[[str], object] = open_binary
    ) -> Iterator[dict]:
        """Yield one dict per kept document; fill `report` as records are read.

        Never raises for bad input: a fault stops the file, marks it partial (some
        records were read) or failed (nothing could be opened), and keeps what came before.
        """
        start = time.perf_counter()
        info = ArchiveInfo()
        crawl_from_path = _CRAWL_RE.search(path)
        try:
            for rec in iter_records(path, info, self.options.reader, self.options.max_record_bytes, opener):
                report.records += 1
                if rec.rec_type == "revisit":
                    report.drops["revisit"] += 1
                    continue
                if rec.rec_type != "response":
                    continue
                report.responses += 1
                try:
                    doc = self._document(rec, report)
                except Exception:  # one bad record never stops the file
                    report.drops["corrupt_record"] += 1
                    doc = None
                if doc is not None:
                    doc["warc_path"] = path
                    doc["crawl"] = info.crawl or (crawl_from_path.group(0) if crawl_from_path else None)
                    report.kept += 1
                    yield doc
        except FileNotFoundError as exc:
            report.status, report.error = "failed", f"unreadable: {exc}"
        except PermissionError as exc:
            report.status, report.error = "failed", f"unreadable: {exc}"
        except NotAnArchive as exc:
            report.status, report.error = "failed", str(exc)
        except Exception as exc:
            opened = info.format != "unknown" or report.records > 0
            report.status = "partial" if opened else "failed"
            report.error = f"{type(exc).__name__}: {exc}"[:2000]
        finally:
            report.format = info.format if info.format != "unknown" else None
            report.compression = info.compression
            report.crawl = info.crawl or (crawl_from_path.group(0) if crawl_from_path else None)
            report.seconds = time.perf_counter() - start

    def _document(self, rec, report: FileReport) -> dict | None:
        opts = self.options
        if rec.oversized:
            report.drops["oversized"] += 1
            return None
        resp = parse_http_response(rec.block)
        if resp.status != 200:
            report.drops["not_200"] += 1
            return None
        if not resp.is_html:
            report.drops["not_html"] += 1
            return None
        report.html += 1
        try:
            body = decode_body(resp, opts.max_html_bytes)
        except PayloadDecodeError:
            report.drops["decode_error"] += 1
            return None
        html, charset, charset_source = decode_html(body, resp.charset)
        title, text = extract_text(html, rec.target_uri, opts.extract)
        if not text:
            report.drops["no_text"] += 1
            return None
        words = len(text.split())
        if words < opts.min_words:
            report.drops["too_short"] += 1
            return None
        if len(text) > opts.max_chars:
            report.drops["too_long"] += 1
            return None
        lang, lang_score = ("", 0.0)
        if self.langid is not None:
            lang, lang_score = self.langid.predict(text)
            if lang not in self._languages or lang_score < opts.lang_threshold:
                report.drops["language"] += 1
                return None
        digest = text_hash(text)
        host = host_of(rec.target_uri)
        return {
            "doc_id": document_id(rec.target_uri, digest),
            "url": rec.target_uri,
            "host": host,
            "domain": registered_domain(host),
            "warc_offset": rec.offset,
            "warc_record_id": rec.record_id,
            "fetch_time": rec.date.astimezone(dt.timezone.utc) if rec.date else None,
            "http_status": resp.status,
            "content_type": resp.mime_type,
            "charset": charset,
            "charset_source": charset_source,
            "lang": lang or None,
            "lang_score": lang_score,
            "title": title or None,
            "text": text,
            "text_hash": digest,
            "html_bytes": len(body),
            "text_chars": len(text),
            "word_count": words,
        }
