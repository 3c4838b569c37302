"""The mapInArrow function, called the way Spark calls it (an iterator of Arrow batches)."""

import pyarrow as pa

from tests.conftest import shared
from webinstruct.jobs.core.tables import INGEST_OUTPUT
from webinstruct.lib.ingest.archive import IngestOptions
from webinstruct.udfs.ingest import process_archives


def test_streams_documents_in_small_batches_then_one_report_per_file():
    good = str(shared("warc", "real", "dolma_wget_sample-0000.warc.gz"))
    bad = str(shared("warc", "edge", "warcio", "example-trunc.warc"))
    fn = process_archives([good, bad], IngestOptions(), INGEST_OUTPUT, batch_rows=5)
    batches = list(fn(iter([pa.record_batch({"id": [0, 1]})])))
    assert max(b.num_rows for b in batches) <= 6  # 5 documents + the file's report row
    rows = [r for b in batches for r in b.to_pylist()]
    kinds = [r["kind"] for r in rows]
    reports = [r["report"] for r in rows if r["kind"] == "file"]
    assert [r["path"] for r in reports] == [good, bad]
    # Each file's documents come before its report row, and their count matches it.
    first_report = kinds.index("file")
    assert kinds[:first_report] == ["doc"] * reports[0]["kept"] and reports[0]["kept"] == 21
    assert reports[1]["status"] == "partial" and reports[1]["kept"] == 1
    assert all(r["warc_path"] == good for r in rows[:first_report])
