import functools
import http.server
import threading
import zlib

import pytest

from tests.conftest import shared
from webinstruct.lib.ingest.stream import TruncatedArchive
from webinstruct.lib.ingest.warc_records import ArchiveInfo, NotAnArchive, iter_records


def records(path, reader="fastwarc"):
    return list(iter_records(str(path), ArchiveInfo(), reader))


@pytest.mark.parametrize("reader", ["fastwarc", "warcio"])
def test_gzip_member_offsets_point_at_the_record(reader):
    """The stored offset is a valid range-request start: one gzip member from there is the record."""
    path = shared("warc", "real", "resiliparse_CC-MAIN-2020-34_warcfile.warc.gz")
    data = path.read_bytes()
    recs = records(path, reader)
    assert len(recs) == 50
    for rec in recs:
        member = zlib.decompressobj(31).decompress(data[rec.offset:])
        assert member.startswith(b"WARC/1.0")
        if rec.record_id:
            assert rec.record_id.encode() in member[:2000]


def test_both_readers_agree_on_real_archives():
    for name in ["aut_IAH-2008_example.warc.gz", "dolma_wget_sample-0000.warc.gz", "pywb_iana.warc.gz"]:
        path = shared("warc", "real", name)
        a = [(r.rec_type, r.target_uri, r.block) for r in records(path, "fastwarc")]
        b = [(r.rec_type, r.target_uri, r.block) for r in records(path, "warcio")]
        assert a == b, name


@pytest.mark.parametrize("reader", ["fastwarc", "warcio"])
def test_truncated_gzip_keeps_complete_records_then_raises(reader):
    path = shared("warc", "edge", "cc_wet_corrupt", "appended_zip_fragment_unexpected_eof.wet.gz")
    seen = []
    with pytest.raises(TruncatedArchive):
        for rec in iter_records(str(path), ArchiveInfo(), reader):
            seen.append(rec)
    # 16 complete gzip members precede the cut one: warcinfo + 15 conversions.
    assert len(seen) == 16 and seen[0].rec_type == "warcinfo"


def test_truncation_we_create_ourselves_is_detected(tmp_path):
    path = shared("warc", "real", "dolma_wget_sample-0000.warc.gz")
    cut = tmp_path / "cut.warc.gz"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) - 5000])
    full = records(path)
    info = ArchiveInfo()
    got = []
    with pytest.raises(TruncatedArchive):
        for rec in iter_records(str(cut), info):
            got.append(rec)
    assert 0 < len(got) < len(full)
    assert [r.block for r in got] == [r.block for r in full[: len(got)]]


def test_whole_file_gzip_and_arc_and_lz4():
    singlegzip = records(shared("warc", "real", "CC-MAIN-2016-50_filter_test_1.singlegzip.wet.gz"))
    assert len(singlegzip) == 26
    arc = records(shared("warc", "real", "aut_IAH-2008_example.arc.gz"))
    warc = [r for r in records(shared("warc", "real", "aut_IAH-2008_example.warc.gz")) if r.rec_type == "response"]
    assert len([r for r in arc if r.rec_type == "response"]) == len(warc) == 299
    lz4 = records(shared("warc", "edge", "resiliparse", "warcfile.warc.lz4"))
    gz = records(shared("warc", "real", "resiliparse_CC-MAIN-2020-34_warcfile.warc.gz"))
    assert [r.block for r in lz4] == [r.block for r in gz]


def test_not_an_archive_is_reported():
    with pytest.raises(NotAnArchive):
        records(shared("warc", "real", "npm-warc_LICENSE.txt"))


def test_reads_over_http(tmp_path):
    """Remote archives are streamed: serve a real one on loopback and compare."""
    path = shared("warc", "real", "resiliparse_CC-MAIN-2020-34_warcfile.warc.gz")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(path.parent))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{path.name}"
        remote = records(url)
    finally:
        server.shutdown()
    assert [r.block for r in remote] == [r.block for r in records(path)]


def test_arc_records_get_the_same_ids_on_every_read():
    """warcio invents a random WARC-Record-ID for each ARC record; lineage needs a stable one."""
    path = shared("warc", "real", "aut_IAH-2008_example.arc.gz")
    first, second = records(path), records(path)
    ids = [r.record_id for r in first]
    assert ids == [r.record_id for r in second]
    assert len(set(ids)) == len(ids) and all(i.startswith("<urn:arc-record:") for i in ids)
