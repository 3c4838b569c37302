"""One archive in, clean documents out: the record loop that ingest runs per Spark task.

Kept free of Spark so the same loop is what the benchmark times alone and what the job
runs; the Spark side only batches its output into Arrow.

Hostile input is bounded here: every decompression step is capped (stream, http_payload),
and wall-clock budgets per record and per archive stop a page or file that would otherwise
hold a Spark task for hours (see `Budget`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import re
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator

from webinstruct.lib.ingest.charset import decode_html
from webinstruct.lib.ingest.http_payload import PayloadDecodeError, decode_body, parse_http_response
from webinstruct.lib.ingest.langid import LanguageIdentifier
from webinstruct.lib.ingest.qa_text import qa_main_text, with_missing_markup
from webinstruct.lib.ingest.stream import open_binary
from webinstruct.lib.ingest.text_extract import ExtractOptions, extract_text
from webinstruct.lib.ingest.warc_records import ArchiveInfo, NotAnArchive, iter_records
from webinstruct.lib.object_store import S3Settings
from webinstruct.lib.qa.markup import extract_qa_markup
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
    "record_timeout",  # record ran past ingest.record_seconds (decoding + extraction)
)

_CRAWL_RE = re.compile(r"CC-MAIN-\d{4}-\d{2}")
_MIN_TIMER = 1e-4  # seconds; setitimer reads anything below a microsecond as "disarm"


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
    # Bounds for hostile input; 0 switches one off.
    record_seconds: float = 30.0  # per response record: HTTP decoding, charset, extraction, language
    archive_seconds: float = 3600.0  # per archive, counted while the archive is being read
    max_archive_bytes: int = 64 << 30  # decompressed bytes per gzip archive (a gzip bomb ends partial)
    markup: bool = True  # read schema.org QAPage / FAQPage / Question pairs (lib.qa.markup)
    qa_text: bool = True  # Q&A and forum pages: posts only (lib.ingest.qa_text), else the extractor
    s3: S3Settings = S3Settings()  # endpoint and region of s3:// archives (no keys)


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
    # Set to {} to learn each record's fate by offset: "kept" or its drop reason (byte-range
    # fetch reports every selected record; whole-file ingest leaves it None and keeps counts).
    outcomes: dict | None = None

    def drop(self, reason: str, offset: int | None = None) -> None:
        self.drops[reason] += 1
        if self.outcomes is not None and offset is not None:
            self.outcomes[offset] = reason


class RecordTimeout(BaseException):
    """A record ran past its budget. A BaseException so that an extractor's own
    `except Exception` cannot swallow it and carry on."""


class ArchiveTimeout(BaseException):
    """An archive ran past its budget (a BaseException for the same reason)."""


class Budget:
    """Wall-clock seconds for one unit of work, counted only inside `running()` blocks
    (so an archive is not charged for the time its consumer holds the generator).

    In the main thread, which is where Spark's Python workers run UDFs, a SIGALRM timer
    raises the timeout inside pure-Python work such as trafilatura. A C extension
    (resiliparse's parser, fastText, fastwarc, zlib) can only be stopped when it returns to
    the interpreter; outside the main thread no signal is used, and `check()` between steps
    bounds the overrun to one step. Any previous SIGALRM handler and timer are restored.
    """

    def __init__(self, seconds: float, timeout: type[BaseException], message: str):
        self.seconds = seconds
        self.spent = 0.0
        self._timeout = timeout
        self._message = message
        self._since: float | None = None

    def elapsed(self) -> float:
        return self.spent + (time.monotonic() - self._since if self._since is not None else 0.0)

    def exhausted(self) -> bool:
        return self.seconds > 0 and self.elapsed() >= self.seconds

    def check(self) -> None:
        if self.exhausted():
            raise self._timeout(self._message)

    @contextlib.contextmanager
    def running(self):
        self.check()
        self._since = time.monotonic()
        try:
            with _alarm(self.seconds - self.spent if self.seconds > 0 else 0.0, self._expire):
                yield
        finally:
            self.spent += time.monotonic() - self._since
            self._since = None

    def _expire(self) -> None:
        raise self._timeout(self._message)


@contextlib.contextmanager
def _alarm(seconds: float, expire: Callable[[], None]):
    """Call `expire` (which raises) from SIGALRM after `seconds`, inside any outer alarm."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_handler = signal.getsignal(signal.SIGALRM)
    if outer_handler is None:  # installed outside Python: it could not be put back
        yield
        return
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, 0)
    outer_due = time.monotonic() + outer_delay if outer_delay else None

    def on_alarm(signum, frame):
        if outer_due is not None and time.monotonic() >= outer_due and callable(outer_handler):
            outer_handler(signum, frame)  # the outer deadline came first: it decides
        expire()

    try:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(min(seconds, outer_delay) if outer_delay else seconds, _MIN_TIMER))
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:  # runs even when the alarm fires on the way out
            signal.signal(signal.SIGALRM, outer_handler)
            if outer_due is not None:
                signal.setitimer(signal.ITIMER_REAL, max(outer_due - time.monotonic(), _MIN_TIMER), outer_interval)


def _is_reader_panic(exc: BaseException) -> bool:
    """fastwarc (Rust) reports a panic on malformed input as pyo3's PanicException,
    which derives from BaseException."""
    return type(exc).__name__ == "PanicException"


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
        self, path: str, report: FileReport, opener: Callable[[str], object] | None = None,
        base_offset: int = 0, only: set[int] | None = None,
    ) -> Iterator[dict]:
        """Yield one dict per kept document; fill `report` as records are read.

        Never raises for bad input: a fault stops the file, marks it partial (some
        records were read) or failed (nothing could be opened), and keeps what came before.
        A record over `record_seconds` is dropped (`record_timeout`); an archive over
        `archive_seconds` stops there and is partial.

        A byte range of a file is read the same way: `base_offset` is where the range starts
        in the file (offsets in the documents are the file's), and `only` the record offsets
        wanted from it (a merged range also holds records nobody selected).
        """
        start = time.perf_counter()
        opts = self.options
        opener = opener or functools.partial(open_binary, s3=opts.s3)
        info = ArchiveInfo()
        crawl_from_path = _CRAWL_RE.search(path)
        crawl = crawl_from_path.group(0) if crawl_from_path else None
        budget = Budget(opts.archive_seconds, ArchiveTimeout, "archive time budget exhausted")
        records = iter_records(path, info, opts.reader, opts.max_record_bytes, opener, opts.max_archive_bytes or None)
        try:
            while True:
                with budget.running():  # not while suspended at `yield`: the consumer's time is its own
                    rec = next(records, None)
                    if rec is None:
                        break
                    rec.offset += base_offset
                    if only is not None and rec.offset not in only:
                        continue
                    doc = self._record(rec, report)
                if doc is not None:
                    doc["warc_path"] = report.path  # the caller may strip credentials from it
                    doc["crawl"] = info.crawl or crawl
                    report.kept += 1
                    if report.outcomes is not None:
                        report.outcomes[rec.offset] = "kept"
                    yield doc
        except (FileNotFoundError, PermissionError) as exc:
            report.status, report.error = "failed", f"unreadable on host {socket.gethostname()}: {exc}"
        except NotAnArchive as exc:
            report.status, report.error = "failed", str(exc)
        except Exception as exc:
            self._fault(report, info, exc, budget)
        except BaseException as exc:
            if not isinstance(exc, ArchiveTimeout) and not _is_reader_panic(exc):
                raise
            self._fault(report, info, exc, budget)
        finally:
            records.close()
            report.format = info.format if info.format != "unknown" else None
            report.compression = info.compression
            report.crawl = info.crawl or crawl
            report.seconds = time.perf_counter() - start

    def _fault(self, report: FileReport, info: ArchiveInfo, exc: BaseException, budget: Budget) -> None:
        """Stop the file: partial once it opened, failed before; a spent budget says so
        whatever the exception it surfaced as (a parser may wrap the alarm's)."""
        if isinstance(exc, ArchiveTimeout) or budget.exhausted():
            report.status = "partial"
            report.error = (
                f"archive time budget exhausted: {self.options.archive_seconds:g} s (archive_seconds) spent "
                f"after {report.records} records; the rest of the archive was not read"
            )
            return
        opened = info.format != "unknown" or report.records > 0
        report.status = "partial" if opened else "failed"
        report.error = f"{type(exc).__name__}: {exc}"[:2000]

    def _record(self, rec, report: FileReport) -> dict | None:
        """Count one record and turn a response into a document, within `record_seconds`."""
        report.records += 1
        if rec.rec_type == "revisit":
            report.drop("revisit", rec.offset)
            return None
        if rec.rec_type != "response":
            if report.outcomes is not None:
                report.outcomes[rec.offset] = "not_response"
            return None
        report.responses += 1
        budget = Budget(self.options.record_seconds, RecordTimeout, "record time budget exhausted")
        try:
            with budget.running():
                return self._document(rec, report, budget)
        except RecordTimeout:
            report.drop("record_timeout", rec.offset)
        except Exception:  # one bad record never stops the file
            report.drop("corrupt_record", rec.offset)
        return None

    def _document(self, rec, report: FileReport, budget: Budget) -> dict | None:
        opts = self.options
        if rec.oversized:
            report.drop("oversized", rec.offset)
            return None
        resp = parse_http_response(rec.block)
        if resp.status != 200:
            report.drop("not_200", rec.offset)
            return None
        if not resp.is_html:
            report.drop("not_html", rec.offset)
            return None
        report.html += 1
        try:
            body = decode_body(resp, opts.max_html_bytes)
        except PayloadDecodeError:
            report.drop("decode_error", rec.offset)
            return None
        budget.check()  # between steps: what bounds the record where no alarm can (worker threads)
        html, charset, charset_source = decode_html(body, resp.charset)
        budget.check()
        # One pass over the HTML gives the markup pairs and the main text; a Q&A page's
        # text is read from its posts (and the markup), any other page by the extractor.
        markup = extract_qa_markup(html, rec.target_uri) if opts.markup else None
        budget.check()
        qa = qa_main_text(html, rec.target_uri, markup) if opts.qa_text else None
        title, text = qa if qa else extract_text(html, rec.target_uri, opts.extract)
        if opts.qa_text and text:  # what the markup answers and the extractor did not keep
            text = with_missing_markup(text, markup, opts.max_chars)
        budget.check()
        if not text:
            report.drop("no_text", rec.offset)
            return None
        words = len(text.split())
        if words < opts.min_words:
            report.drop("too_short", rec.offset)
            return None
        if len(text) > opts.max_chars:
            report.drop("too_long", rec.offset)
            return None
        lang, lang_score = ("", 0.0)
        if self.langid is not None:
            lang, lang_score = self.langid.predict(text)
            budget.check()
            if lang not in self._languages or lang_score < opts.lang_threshold:
                report.drop("language", rec.offset)
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
            "markup": [dataclasses.asdict(pair) for pair in markup.pairs] if markup else [],
            "markup_errors": dict(markup.errors) if markup else {},
        }
