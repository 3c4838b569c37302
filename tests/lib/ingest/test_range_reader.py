"""Byte ranges read from a real HTTP server on loopback that honours Range and misbehaves on
request: what is retried (with a capped, jittered backoff), what fails at once, and that no
wait is unbounded."""

from __future__ import annotations

import http.server
import threading
import time
from collections import Counter

import pytest

from tests.cc_mirror import RangeServer
from webinstruct.lib.ingest.range_reader import RangeReader, RangeReadError, ReadOptions, probe_size, read_many

DATA = bytes(range(256)) * 64  # 16 KiB


@pytest.fixture
def server(tmp_path):
    (tmp_path / "f.bin").write_bytes(DATA)
    s = RangeServer(tmp_path, slow_s=1.5)
    yield s
    s.close()


def _reader(**options):
    waits = []
    counters = Counter()
    reader = RangeReader(ReadOptions(**{"backoff_s": 0.01, "max_backoff_s": 0.04, "timeout_s": 1.0, **options}), counters,
                         sleep=waits.append)
    return reader, counters, waits


def test_exact_bytes_of_a_range_and_the_file_size(server):
    reader, counters, _ = _reader()
    assert reader.read(server.url + "f.bin", 1000, 300) == DATA[1000:1300]
    assert counters == {"requests": 1, "bytes": 300}
    assert probe_size(server.url + "f.bin", ReadOptions()) == len(DATA)
    assert probe_size(server.url + "missing.bin", ReadOptions()) is None


def test_busy_short_and_wrong_answers_are_retried_with_a_capped_backoff(server):
    server.faults.update({"503": 2, "short": 1, "bad_range": 1})
    reader, counters, waits = _reader(attempts=5)
    assert reader.read(server.url + "f.bin", 5, 4000) == DATA[5:4005]
    assert counters["error_http_503"] == 2 and counters["error_short_read"] == 1 and counters["error_bad_content_range"] == 1
    assert counters["retries"] == 4 and counters["requests"] == 5
    assert len(waits) == 4 and all(0 <= w <= 0.04 for w in waits)  # capped at max_backoff_s


def test_attempts_run_out_with_the_last_reason(server):
    server.faults.update({"503": 10})
    reader, counters, waits = _reader(attempts=3)
    with pytest.raises(RangeReadError) as caught:
        reader.read(server.url + "f.bin", 0, 10)
    assert caught.value.reason == "http_503" and counters["requests"] == 3 and len(waits) == 2


def test_a_missing_file_fails_at_once(server):
    reader, counters, waits = _reader()
    with pytest.raises(RangeReadError) as caught:
        reader.read(server.url + "nope.bin", 0, 10)
    assert caught.value.reason == "http_404" and not caught.value.retryable and counters["requests"] == 1 and not waits


def test_a_server_that_ignores_range_is_never_read_whole(tmp_path):
    """A 200 with the whole file instead of 206: refused at once (a 1 GB WARC is never
    downloaded by accident)."""
    sent = Counter()

    class Whole(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            try:
                self.wfile.write(DATA)
                sent["bytes"] += len(DATA)
            except (BrokenPipeError, ConnectionResetError):
                pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Whole)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        reader, counters, _ = _reader()
        with pytest.raises(RangeReadError) as caught:
            reader.read(f"http://127.0.0.1:{httpd.server_address[1]}/f.bin", 0, 10)
        assert caught.value.reason == "range_ignored" and counters["requests"] == 1
    finally:
        httpd.shutdown()


def test_a_stalling_server_costs_at_most_the_timeout_per_try(server):
    server.faults.update({"slow": 2})
    reader, counters, _ = _reader(attempts=3, timeout_s=0.5)
    started = time.monotonic()
    assert reader.read(server.url + "f.bin", 0, 100) == DATA[:100]
    assert counters["error_timeout"] == 2 and time.monotonic() - started < 1.5 * 2 + 1


def test_many_ranges_with_a_bound_on_requests_in_flight(server):
    reader, counters, _ = _reader()
    wanted = [(server.url + "f.bin", i * 100, 100) for i in range(40)] + [(server.url + "nope.bin", 0, 5)]
    got = {key: (data, error) for key, data, error in read_many(reader, wanted, lambda k: k, concurrency=3)}
    assert len(got) == 41 and got[wanted[-1]][1].reason == "http_404"
    assert all(got[k][0] == DATA[k[1]:k[1] + 100] for k in wanted[:-1])
