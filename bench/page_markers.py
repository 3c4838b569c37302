"""Cost per page of the marker check that runs before any parse (lib/page_markers.py).

On the 990 HTML responses of ../shared/data/warc/real/webis_archive-query-log_serps_990.warc.gz,
decoded as ingest decodes them (every response record): every watched marker tested with `str.__contains__` one at a
time (what the passes did before), against one scan of all of them (`present()`, Hyperscan
where it is installed; the UTF-8 encoding included), and one regular expression of all of
them. Checks that all give the same sets. Milliseconds per page, best of --repeats.

    taskset -c 0 .venv/bin/python -m bench.page_markers [--repeats 3]
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecordType

from webinstruct.lib import page_markers
from webinstruct.lib.ingest import archive  # noqa: F401 - importing the passes registers their markers
from webinstruct.lib.ingest.charset import decode_html

ARCHIVE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "warc" / "real" / "webis_archive-query-log_serps_990.warc.gz"


def pages() -> list[str]:
    with open(ARCHIVE, "rb") as fh:
        return [decode_html(r.reader.read(), None)[0]
                for r in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True)]


def best(fn, items, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        page_markers._local = threading.local()  # no memo: every page scanned
        start = time.perf_counter()
        for item in items:
            fn(item)
        times.append(time.perf_counter() - start)
    return min(times) * 1000 / len(items)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    html = pages()
    watched = tuple(page_markers._watched)
    regex = re.compile("|".join(map(re.escape, watched)))
    sides = {"str.__contains__, one marker at a time": lambda p: {m for m in watched if m in p},
             f"present(), one scan ({page_markers.backend()})": page_markers.present,
             "one regular expression": lambda p: set(regex.findall(p))}
    answers = {name: [set(fn(p)) for p in html] for name, fn in sides.items()}
    page_markers._local = threading.local()
    assert len({tuple(map(frozenset, a)) for a in answers.values()}) == 1, "the sides disagree"
    print(f"{ARCHIVE.name}: {len(html)} pages, {sum(map(len, html)) / len(html):,.0f} characters on average, "
          f"{len(watched)} markers")
    for name, fn in sides.items():
        print(f"  {name:45} {best(fn, html, args.repeats):6.3f} ms/page")


if __name__ == "__main__":
    main()
