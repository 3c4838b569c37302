"""A small Common Crawl, built by the tests from the real archives in ../shared/data/warc/real:
WARC files under `crawl-data/<CRAWL>/segments/<SEGMENT>/warc/`, and the columnar URL index
in Common Crawl's schema (`cc-index/table/cc-main/warc/crawl=<CRAWL>/subset=warc/*.parquet`,
with each response record's real offset, length, URL, status, payload digest, detected MIME
type and language), plus the `cc-index-table.paths.gz` listing of each crawl. It is served
by `RangeServer`, an HTTP server on loopback that honours `Range` and counts every byte it
sends, and can be told to answer 503, stall, send short bodies or a wrong `Content-Range`.
"""

from __future__ import annotations

import gzip
import http.server
import re
import shutil
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import shared
from webinstruct.lib.ingest.cc_index import ISO_639_3, LISTING, TABLE
from webinstruct.lib.ingest.charset import decode_html
from webinstruct.lib.ingest.http_payload import decode_body, parse_http_response
from webinstruct.lib.ingest.langid import LanguageIdentifier
from webinstruct.lib.ingest.text_extract import ExtractOptions, extract_text
from webinstruct.lib.ingest.warc_records import ArchiveInfo, iter_records
from webinstruct.lib.urls import host_of, registered_domain

INDEX_SCHEMA = pa.schema([
    ("url_surtkey", pa.string()), ("url", pa.string()), ("url_host_name", pa.string()), ("url_host_tld", pa.string()),
    ("url_host_registered_domain", pa.string()), ("url_path", pa.string()), ("url_query", pa.string()),
    ("fetch_time", pa.timestamp("us", tz="UTC")), ("fetch_status", pa.int16()), ("content_digest", pa.string()),
    ("content_mime_type", pa.string()), ("content_mime_detected", pa.string()), ("content_charset", pa.string()),
    ("content_languages", pa.string()), ("content_truncated", pa.string()), ("warc_filename", pa.string()),
    ("warc_record_offset", pa.int32()), ("warc_record_length", pa.int32()), ("warc_segment", pa.string()),
])
THREE = {v: v for v in ISO_639_3.values()} | ISO_639_3


def index_rows(archive: Path, warc_filename: str, segment: str, lid: LanguageIdentifier) -> list[dict]:
    """One index row per response record of a per-record-gzip WARC: what Common Crawl's
    indexer records (offset and length of the record's gzip member, read with the
    project's own record reader; a record's length runs to the next record's offset)."""
    records = list(iter_records(str(archive), ArchiveInfo()))
    ends = sorted({r.offset for r in records}) + [archive.stat().st_size]
    length_of = {start: end - start for start, end in zip(ends, ends[1:])}
    rows = []
    for rec in records:
        if rec.rec_type != "response":
            continue
        url = rec.target_uri
        head = parse_http_response(rec.block)
        language = None
        if head.is_html and head.status == 200:
            try:
                html = decode_html(decode_body(head, 5 << 20), head.charset)[0]
                text = extract_text(html, url, ExtractOptions())[1]
                code = lid.predict(text)[0] if text else ""
                language = THREE.get(code, code) or None
            except Exception:  # noqa: BLE001 - a page the indexer could not read gets no language
                language = None
        digest = (rec.headers.get("warc-payload-digest") or "").split(":", 1)[-1] or None
        host = host_of(url)
        rows.append({
            "url_surtkey": url, "url": url, "url_host_name": host, "url_host_tld": (host or "").rsplit(".", 1)[-1],
            "url_host_registered_domain": registered_domain(host), "url_path": urlparse(url or "").path,
            "url_query": urlparse(url or "").query or None, "fetch_time": rec.date, "fetch_status": head.status,
            "content_digest": digest, "content_mime_type": head.mime_type, "content_mime_detected": head.mime_type,
            "content_charset": head.charset, "content_languages": language, "content_truncated": None,
            "warc_filename": warc_filename, "warc_record_offset": rec.offset, "warc_record_length": length_of[rec.offset],
            "warc_segment": segment,
        })
    return rows


def build_mirror(root: Path, crawls: dict[str, list[str]], row_group_rows: int = 64) -> dict[str, list[dict]]:
    """`crawls`: crawl name -> names of archives in ../shared/data/warc/real. Returns each
    crawl's index rows. Small row groups, sorted by domain, as the real index is by SURT."""
    lid = LanguageIdentifier()
    out = {}
    for crawl, names in crawls.items():
        rows = []
        for i, name in enumerate(names):
            segment = f"1716000000{i:03d}.{i}"
            rel = f"crawl-data/{crawl}/segments/{segment}/warc/{name}"
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared("warc", "real", name), target)
            rows += index_rows(target, rel, segment, lid)
        rows.sort(key=lambda r: (r["url_host_registered_domain"] or "", r["url"], r["warc_filename"], r["warc_record_offset"]))
        folder = root / TABLE / f"crawl={crawl}" / "subset=warc"
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / "part-00000-mirror.c000.gz.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=INDEX_SCHEMA), part, row_group_size=row_group_rows,
                       compression="gzip")
        listing = root / LISTING.format(crawl=crawl)
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_bytes(gzip.compress((part.relative_to(root).as_posix() + "\n").encode()))
        out[crawl] = rows
    return out


class RangeServer:
    """Serves `root` over HTTP on loopback, honouring Range; counts bytes per path and
    requests per (path, range). `faults` maps a kind to how many requests get it:
    '503', 'short' (a body cut short), 'bad_range' (a wrong Content-Range), 'slow'."""

    def __init__(self, root: Path, slow_s: float = 3.0, rate: float = 0.0):
        self.root = root
        self.rate = rate  # bytes per second for all clients together; 0 = unthrottled
        self.bytes: Counter = Counter()
        self.requests: Counter = Counter()
        self.faults: Counter = Counter()
        self.injected: Counter = Counter()
        self.slow_s = slow_s
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                path = server.root / self.path.lstrip("/").split("?", 1)[0]
                if not path.is_file():
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(path.stat().st_size))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()

            def do_GET(self):
                rel = self.path.lstrip("/").split("?", 1)[0]
                path = server.root / rel
                if not path.is_file():
                    self.send_error(404)
                    return
                size = path.stat().st_size
                found = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range") or "")
                fault = server._take_fault() if found else None
                if fault == "503":
                    self.send_response(503)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if found:
                    start = int(found.group(1))
                    end = min(int(found.group(2)) if found.group(2) else size - 1, size - 1)
                    with open(path, "rb") as fh:
                        fh.seek(start)
                        body = fh.read(end - start + 1)
                    self.send_response(206)
                    shown = f"bytes {start + 1 if fault == 'bad_range' else start}-{end}/{size}"
                    self.send_header("Content-Range", shown)
                    with server.lock:
                        server.requests[(rel, start, end)] += 1
                else:
                    body = path.read_bytes()
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault == "slow":
                    time.sleep(server.slow_s)
                sent = body[: len(body) // 2] if fault == "short" else body
                try:
                    server._send(self.wfile, sent)
                except (BrokenPipeError, ConnectionResetError):
                    return
                with server.lock:
                    server.bytes[rel] += len(sent)
                if fault == "short":
                    self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _send(self, out, data: bytes) -> None:
        """Write `data`, holding all clients together to `rate` bytes per second."""
        if not self.rate:
            out.write(data)
            return
        step = 1 << 16
        for i in range(0, len(data), step):
            chunk = data[i:i + step]
            with self.lock:
                now = time.monotonic()
                self._due = max(getattr(self, "_due", now), now) + len(chunk) / self.rate
                wait = self._due - now - len(chunk) / self.rate
            if wait > 0:
                time.sleep(wait)
            out.write(chunk)

    def _take_fault(self) -> str | None:
        with self.lock:
            for kind, left in self.faults.items():
                if left > 0:
                    self.faults[kind] -= 1
                    self.injected[kind] += 1
                    return kind
        return None

    def reset(self) -> None:
        with self.lock:
            self.bytes.clear()
            self.requests.clear()
            self.faults.clear()
            self.injected.clear()

    def warc_bytes(self) -> int:
        return sum(n for rel, n in self.bytes.items() if "/warc/" in rel)

    def ranges_by_file(self) -> dict[str, list[tuple[int, int]]]:
        out = defaultdict(list)
        for (rel, start, end), n in self.requests.items():
            out[rel] += [(start, end)] * n
        return out

    def close(self) -> None:
        self.httpd.shutdown()
