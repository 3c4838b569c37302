"""Hostile archives: decompression bombs in every codec, records and archives that would
run forever, a worker that keeps dying, and a seeded fuzz run over the real edge archives.

Memory is measured in a fresh process (tests/lib/ingest/probe.py) so the peak belongs to
the archive alone."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import time
import zlib

import brotli
import pyarrow as pa
import pytest
import zstandard
from fastwarc.stream_io import Lz4Writer

from tests.conftest import REPO, shared
from webinstruct.lib.ingest import archive as archive_module
from webinstruct.lib.ingest.archive import ArchiveProcessor, FileReport, IngestOptions

WORDS = " ".join(f"word{i} is part of a page about arithmetic and fractions" for i in range(40))
GIB = 1 << 30
MEMORY_CAP_MB = 600  # the probe process: interpreter, fastText language model, one archive


def page(n: int) -> bytes:
    return f"<html><head><title>Page {n}</title></head><body><p>{WORDS} {n}</p></body></html>".encode()


def http_block(body: bytes, headers: tuple[bytes, ...] = ()) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Type: text/html; charset=utf-8", *headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def warc_record(n: int, block: bytes) -> bytes:
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{n:012d}>\r\n"
        f"WARC-Target-URI: https://example.org/page/{n}\r\nWARC-Date: 2024-05-01T00:00:00Z\r\n"
        f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(block)}\r\n\r\n"
    ).encode()
    return head + block + b"\r\n\r\n"


def zeros_stream(compressor, size: int, step: int = 1 << 20) -> bytes:
    """Compress `size` zero bytes without holding them: the bomb costs its compressed size."""
    chunk, out = b"\0" * step, []
    for _ in range(size // step):
        out.append(compressor.compress(chunk) if hasattr(compressor, "compress") else compressor.process(chunk))
    out.append(compressor.flush() if hasattr(compressor, "flush") else compressor.finish())
    return b"".join(out)


def gzip_members(records: list[bytes]) -> bytes:
    return b"".join(gzip.compress(r, compresslevel=1) for r in records)


def probe(paths, seconds: float = 240, **job) -> dict:
    job = {"paths": [str(p) for p in paths], "options": job.pop("options", {}), **job}
    proc = subprocess.run([sys.executable, "-m", "tests.lib.ingest.probe"], input=json.dumps(job), cwd=REPO,
                          capture_output=True, text=True, timeout=seconds)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


# --- bombs -------------------------------------------------------------------------


def test_a_brotli_bomb_page_is_dropped_and_the_pages_around_it_kept(tmp_path):
    """1 GiB of brotli output from 190 KB: decoded in bounded steps, dropped as decode_error."""
    bomb = zeros_stream(brotli.Compressor(quality=1), GIB)
    assert len(bomb) < 1 << 20
    records = [warc_record(1, http_block(page(1))),
               warc_record(2, http_block(bomb, (b"Content-Encoding: br",))),
               warc_record(3, http_block(page(3)))]
    path = tmp_path / "br-bomb.warc.gz"
    path.write_bytes(gzip_members(records))
    out = probe([path])
    [report] = out["reports"]
    assert report["status"] == "ok" and report["docs"] == 2
    assert report["drops"] == {"decode_error": 1}
    assert out["maxrss_mb"] < MEMORY_CAP_MB, out["maxrss_mb"]


@pytest.mark.parametrize("coding", [b"gzip", b"deflate"])
def test_gzip_and_deflate_content_bombs_stop_at_the_cap(tmp_path, coding):
    wbits = 31 if coding == b"gzip" else 15
    bomb = zeros_stream(zlib.compressobj(1, zlib.DEFLATED, wbits), 256 << 20)
    records = [warc_record(1, http_block(page(1))), warc_record(2, http_block(bomb, (b"Content-Encoding: " + coding,)))]
    path = tmp_path / "content-bomb.warc"
    path.write_bytes(b"".join(records))
    out = probe([path])
    [report] = out["reports"]
    assert report["status"] == "ok" and report["docs"] == 1 and report["drops"] == {"decode_error": 1}
    assert out["maxrss_mb"] < MEMORY_CAP_MB, out["maxrss_mb"]


def _record_of_zeros(size: int) -> tuple[bytes, bytes]:
    """A WARC record whose block is `size` zero bytes, as (head, tail) around the block."""
    head = (
        "WARC/1.0\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-00000000000b>\r\n"
        f"WARC-Target-URI: https://example.org/zeros\r\nWARC-Date: 2024-05-01T00:00:00Z\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    return head, b"\r\n\r\n"


def test_gzip_archive_bomb_ends_the_file_partial_at_max_archive_bytes(tmp_path):
    """A 1 GiB member after a good page: past max_archive_bytes the file is partial, the page kept."""
    head, tail = _record_of_zeros(GIB)
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    member = z.compress(head) + zeros_stream(z, GIB)  # zeros_stream flushes the member
    path = tmp_path / "archive-bomb.warc.gz"
    path.write_bytes(gzip.compress(warc_record(1, http_block(page(1)))) + member + gzip.compress(tail))
    out = probe([path], options={"max_archive_bytes": 64 << 20})
    [report] = out["reports"]
    assert report["status"] == "partial" and report["docs"] == 1
    assert "exceeds 67108864 bytes" in report["error"]
    assert out["maxrss_mb"] < MEMORY_CAP_MB, out["maxrss_mb"]


@pytest.mark.parametrize("codec", ["zstd", "lz4", "gzip"])
def test_an_oversized_record_in_any_codec_is_skipped_in_bounded_memory(tmp_path, codec):
    """A 1 GiB record between two pages: read up to max_record_bytes, skipped, counted."""
    head, tail = _record_of_zeros(GIB)
    good = [warc_record(1, http_block(page(1))), warc_record(3, http_block(page(3)))]
    path = tmp_path / f"big.warc.{codec}"
    if codec == "zstd":
        frame = lambda data: zstandard.ZstdCompressor(level=1).compress(data)  # noqa: E731
        z = zstandard.ZstdCompressor(level=1).compressobj()
        bomb = z.compress(head) + zeros_stream(z, GIB)
        path.write_bytes(frame(good[0]) + bomb + frame(tail) + frame(good[1]))
    elif codec == "gzip":
        z = zlib.compressobj(1, zlib.DEFLATED, 31)
        bomb = z.compress(head) + zeros_stream(z, GIB)
        path.write_bytes(gzip.compress(good[0]) + bomb + gzip.compress(tail) + gzip.compress(good[1]))
    else:
        writer = Lz4Writer(str(path))
        writer.write(good[0])
        writer.flush()
        writer.write(head)
        chunk = b"\0" * (1 << 20)
        for _ in range(GIB >> 20):
            writer.write(chunk)
        writer.write(tail)
        writer.flush()
        writer.write(good[1])
        writer.close()
    assert path.stat().st_size < 8 << 20
    out = probe([path])
    [report] = out["reports"]
    assert report["docs"] == 2, report
    assert report["status"] == "ok", report
    assert out["maxrss_mb"] < MEMORY_CAP_MB, out["maxrss_mb"]


# --- time budgets --------------------------------------------------------------------


def _three_pages(tmp_path):
    path = tmp_path / "three.warc.gz"
    path.write_bytes(gzip_members([warc_record(n, http_block(page(n))) for n in (1, 2, 3)]))
    return path


def test_a_record_that_would_run_forever_is_dropped_as_record_timeout(tmp_path, monkeypatch):
    """An extractor stuck in a pure-Python loop on one page: the alarm ends that record only."""
    real = archive_module.extract_text

    def stuck_on_page_two(html, url, options):
        if url.endswith("/2"):
            while True:
                pass
        return real(html, url, options)

    monkeypatch.setattr(archive_module, "extract_text", stuck_on_page_two)
    processor = ArchiveProcessor(IngestOptions(languages=(), record_seconds=0.5))
    report = FileReport(path="three")
    start = time.monotonic()
    docs = list(processor.process(str(_three_pages(tmp_path)), report))
    assert time.monotonic() - start < 30
    assert [d["url"] for d in docs] == ["https://example.org/page/1", "https://example.org/page/3"]
    assert report.status == "ok" and report.drops["record_timeout"] == 1


def test_an_archive_past_its_budget_is_partial_and_keeps_what_it_read(tmp_path):
    """A source that trickles: the archive budget stops it; the documents before stay."""
    path = _three_pages(tmp_path)
    data = path.read_bytes()
    first_member = len(gzip.compress(warc_record(1, http_block(page(1)))))

    class Trickle(io.BytesIO):
        def read(self, n=-1):
            if self.tell() >= first_member:
                time.sleep(0.3)
            return super().read(min(n, 64) if n and n > 0 else 64)

    processor = ArchiveProcessor(IngestOptions(languages=(), archive_seconds=1.0, record_seconds=0))
    report = FileReport(path="slow")
    docs = list(processor.process("slow", report, opener=lambda _: Trickle(data)))
    assert report.status == "partial" and "archive time budget exhausted" in report.error
    assert 1 <= len(docs) < 3 and docs[0]["url"].endswith("/1")


def test_the_consumers_time_is_not_charged_to_the_archive(tmp_path):
    """Spark holds the generator between batches; that wait is not the archive's."""
    processor = ArchiveProcessor(IngestOptions(languages=(), archive_seconds=0.5))
    report = FileReport(path="three")
    docs = []
    for doc in processor.process(str(_three_pages(tmp_path)), report):
        time.sleep(0.4)  # 1.2 s in all, more than the budget
        docs.append(doc)
    assert report.status == "ok" and len(docs) == 3


# --- a worker that keeps dying ---------------------------------------------------------


def test_an_archive_whose_attempts_keep_dying_is_reported_failed_without_reading(monkeypatch, tmp_path):
    """Spark retries a task whose worker died; at lost_attempts_limit the retry writes a
    failed row instead of reading the archive a third time."""
    from pyspark.sql.types import StructType

    from webinstruct.jobs.core.tables import INGEST_OUTPUT
    from webinstruct.udfs import ingest as udf

    opened = []
    monkeypatch.setattr(udf, "_processor", lambda options: opened.append(options))
    monkeypatch.setattr(udf, "_earlier_attempts", lambda: 2)
    fn = udf.process_archives(["s3://bucket/a.warc.gz?X-Amz-Signature=abc"], IngestOptions(), INGEST_OUTPUT,
                              lost_attempts_limit=2)
    [batch] = list(fn(iter([pa.RecordBatch.from_pylist([{"id": 0}])])))
    [row] = batch.to_pylist()
    assert isinstance(INGEST_OUTPUT, StructType) and not opened
    assert row["kind"] == "file" and row["report"]["status"] == "failed"
    assert row["report"]["path"] == "s3://bucket/a.warc.gz"  # no credentials in lineage
    assert "2 earlier attempts died" in row["report"]["error"]


# --- fuzz ---------------------------------------------------------------------------------


def test_fuzzed_real_edge_archives_never_crash_hang_or_grow(tmp_path):
    """Seeded mutations of every real edge archive (flips, cuts, splices, duplicated
    spans): each file ends with a status, within its time budget, in bounded memory."""
    edge = sorted(p for p in shared("warc", "edge").rglob("*") if p.is_file())
    job = {"mutate": {"count": 3000, "seed": 20261201, "seconds": 150, "max_bytes": 256 << 10},
           "options": {"archive_seconds": 10, "record_seconds": 5}}
    out = probe(edge, seconds=400, **job)
    reports = out["reports"]
    assert len(reports) >= 1000, f"only {len(reports)} mutations ran in the time cap"
    statuses = {r["status"] for r in reports}
    assert statuses <= {"ok", "partial", "failed"} and {"ok", "partial", "failed"} <= statuses | {"ok"}
    assert all(r["status"] == "ok" or r["error"] for r in reports)
    assert max(r["seconds"] for r in reports) < 15
    assert out["maxrss_mb"] < MEMORY_CAP_MB, out["maxrss_mb"]
