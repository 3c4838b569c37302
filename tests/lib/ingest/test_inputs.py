import gzip
import struct
import threading
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import shared
from webinstruct.lib.ingest.inputs import ListingError, expand_inputs


def test_common_crawl_listing_with_seeded_sample(tmp_path):
    entries = [f"crawl-data/CC-MAIN-2024-22/segments/{i}/warc/f{i:03d}.warc.gz" for i in range(50)]
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress("\n".join(entries).encode()))
    everything = expand_inputs([str(listing)], base_url="s3://commoncrawl/")
    assert everything[0] == "s3://commoncrawl/crawl-data/CC-MAIN-2024-22/segments/0/warc/f000.warc.gz"
    assert len(everything) == 50
    a = expand_inputs([str(listing)], sample=5, seed=7, base_url="s3://commoncrawl/")
    b = expand_inputs([str(listing)], sample=5, seed=7, base_url="s3://commoncrawl/")
    c = expand_inputs([str(listing)], sample=5, seed=8, base_url="s3://commoncrawl/")
    assert a == b and len(a) == 5 and set(a) <= set(everything) and a != c


def test_folders_globs_and_urls():
    real = shared("warc", "real")
    folder = expand_inputs([str(real)])
    assert len(folder) == len(list(real.iterdir()))
    globbed = expand_inputs([str(real / "*.warc.gz"), "https://example.org/a.warc.gz", str(real / "*.warc.gz")])
    assert globbed[-1] == "https://example.org/a.warc.gz"  # sorted, duplicates removed
    assert all(p.endswith(".warc.gz") for p in globbed) and len(globbed) == len(set(globbed))


# --- listings from elsewhere: entries checked, size capped ------------------------------------

BASE = "s3://commoncrawl/"
GOOD = [f"crawl-data/CC-MAIN-2024-22/segments/{i}/warc/f{i:03d}.warc.gz" for i in range(3)]


class _ListingHandler(BaseHTTPRequestHandler):
    """Serves server.files by path (query ignored, as S3 does for presigned URLs); /endless.paths
    streams for ever and records how much it managed to send before the client hung up."""

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/endless.paths":
            return self._endless()
        body = self.server.files.get(path)
        if body is None:
            return self.send_error(404)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _endless(self):
        self.send_response(200)
        self.end_headers()
        line, sent = b"crawl-data/x/warc/endless.warc.gz\n" * 2000, 0
        try:
            while sent < 1 << 30:
                self.wfile.write(line)
                sent += len(line)
        except OSError:
            pass
        finally:
            self.server.endless_sent = sent
            self.server.endless_done.set()

    def log_message(self, *args):
        pass


@pytest.fixture
def listing_server(monkeypatch):
    """A local HTTP server; returns serve(name, body) -> URL."""
    monkeypatch.setenv("no_proxy", "*")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ListingHandler)
    server.files, server.endless_done = {}, threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def serve(name: str, body: bytes) -> str:
        server.files["/" + name] = body
        return f"http://127.0.0.1:{server.server_port}/{name}"

    serve.server = server
    yield serve
    server.shutdown()
    server.server_close()


def test_remote_listing_relative_entries_join_the_base(listing_server):
    url = listing_server("warc.paths.gz", gzip.compress(("\n".join(["# comment", *GOOD]) + "\n").encode()))
    assert expand_inputs([url], base_url=BASE) == [BASE + e for e in GOOD]
    # a presigned listing URL is still recognised as a listing, and read with its query
    assert expand_inputs([url + "?X-Amz-Signature=beef&X-Amz-Credential=AKIA"], base_url=BASE) == [BASE + e for e in GOOD]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("/etc/passwd", "absolute path"),
        ("file:///etc/passwd", "URL"),
        ("http://169.254.169.254/latest/meta-data/iam/a.warc.gz", "URL"),
        ("https://user:hunter2@evil.example/a.warc.gz?sig=s3cr3t", "URL"),
        ("s3://other-bucket/a.warc.gz", "URL"),
        ("crawl-data/../../etc/passwd", "'..' segment"),
        ("crawl-data/%2e%2e/%2E%2E/etc/passwd", "'..' segment"),
        ("..\\..\\etc\\passwd", "'..' segment"),
        ("\\\\server\\share\\a.warc.gz", "Windows path"),
        ("C:\\crawl\\a.warc.gz", "URL"),
        ("crawl-data/a\x1b[2J.warc.gz", "control character"),
        ("crawl-data/a\x00.warc.gz", "control character"),
        ("", "empty line"),
    ],
)
def test_listing_entries_outside_the_base_are_refused(listing_server, bad, reason):
    url = listing_server("warc.paths", "\n".join([GOOD[0], bad, GOOD[1]]).encode())
    with pytest.raises(ListingError) as err:
        expand_inputs([url], base_url=BASE)
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert f"warc listing {url}: 1 of 3 entries refused ({reason}: 1); first at line 2: " in message
    assert f"({reason}). Entries must be paths relative to the crawl base {BASE}" in message
    assert "allow_absolute=True" in message
    assert "hunter2" not in message and "s3cr3t" not in message


def test_refusal_counts_every_bad_entry_and_names_the_first(tmp_path):
    lines = [GOOD[0], "/etc/passwd", GOOD[1], "http://169.254.169.254/x", "/root/.ssh/id_rsa", "a/../../b"]
    listing = tmp_path / "warc.paths"
    listing.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ListingError,
        match=r"4 of 6 entries refused \(absolute path: 2, URL: 1, '\.\.' segment: 1\); "
        r"first at line 2: '/etc/passwd' \(absolute path\)",
    ):
        expand_inputs([str(listing)], base_url=BASE)


def test_allow_absolute_accepts_absolute_paths_and_urls_as_they_are(tmp_path):
    lines = ["/data/a.warc.gz", "file:///data/b.warc.gz", "http://169.254.169.254/c.warc.gz", "s3://mine/d.warc.gz", GOOD[0]]
    listing = tmp_path / "warc.paths"
    listing.write_text("\n".join(lines) + "\n")
    got = expand_inputs([str(listing)], base_url=BASE, allow_absolute=True)
    assert got == sorted(["/data/a.warc.gz", "/data/b.warc.gz", "http://169.254.169.254/c.warc.gz", "s3://mine/d.warc.gz", BASE + GOOD[0]])
    # relative entries are still held to the base, and only readable schemes pass
    for bad, reason in [("a/../../etc/passwd", "'..' segment"), ("ftp://host/a.warc.gz", "unsupported scheme")]:
        listing.write_text(f"{GOOD[0]}\n{bad}\n")
        with pytest.raises(ListingError, match=f"first at line 2: .*\\({reason}\\)"):
            expand_inputs([str(listing)], base_url=BASE, allow_absolute=True)


def test_listing_over_the_cap_is_refused_with_the_cap_named(listing_server, tmp_path):
    body = ("\n".join(GOOD * 40) + "\n").encode()
    url = listing_server("warc.paths", body)
    with pytest.raises(ListingError, match=r"is over the 1,024 bytes cap \(max_listing_bytes=1024\); raise max_listing_bytes"):
        expand_inputs([url], base_url=BASE, max_listing_bytes=1024)
    assert len(expand_inputs([url], base_url=BASE, max_listing_bytes=len(body))) == 3  # exactly at the cap is fine
    with pytest.raises(ListingError, match=r"cap \(max_listing_bytes=%d\)" % (len(body) - 1)):
        expand_inputs([url], base_url=BASE, max_listing_bytes=len(body) - 1)
    small = listing_server("small.paths.gz", gzip.compress(body))  # small compressed, too large inflated
    with pytest.raises(ListingError, match=r"over the 1,024 bytes cap once decompressed \(max_listing_bytes=1024\)"):
        expand_inputs([small], base_url=BASE, max_listing_bytes=1024)


def test_endless_remote_listing_stops_at_the_cap(listing_server):
    url = listing_server("unused", b"").rsplit("/", 1)[0] + "/endless.paths"
    with pytest.raises(ListingError, match=r"over the 1 MiB cap \(max_listing_bytes=1048576\)"):
        expand_inputs([url], base_url=BASE, max_listing_bytes=1 << 20)
    assert listing_server.server.endless_done.wait(10)
    assert listing_server.server.endless_sent < 64 << 20  # the server was cut off, not drained


def _gzip_bomb(size: int) -> bytes:
    """One valid gzip member inflating to `size` zero bytes, built in well under a second: with
    a full flush between blocks every 1 MiB block compresses to the same bytes."""
    block = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    unit = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size >> 20):
        crc = zlib.crc32(block, crc)
    last = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return first + unit * ((size >> 20) - 1) + last + struct.pack("<II", crc, size & 0xFFFFFFFF)


def test_gzip_bomb_listing_is_refused_without_inflating_it(tmp_path):
    bomb = _gzip_bomb(1 << 30)
    assert len(bomb) < 2 << 20
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(bomb)
    tracemalloc.start()
    try:
        with pytest.raises(ListingError, match=r"over the 4 MiB cap once decompressed \(max_listing_bytes=4194304\)"):
            expand_inputs([str(listing)], base_url=BASE, max_listing_bytes=4 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20  # the bomb inflates to 1 GiB; we held about the cap


def test_listing_that_is_not_gzip_or_text_is_refused(tmp_path):
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"a/b.warc.gz\n")[:-6])
    with pytest.raises(ListingError, match="is not valid gzip"):
        expand_inputs([str(listing)], base_url=BASE)
    listing.write_bytes(b"a/b.warc.gz\n\xff\xfe")
    with pytest.raises(ListingError, match=r"is not UTF-8 text \(bad byte at offset 12\)"):
        expand_inputs([str(listing)], base_url=BASE)
