"""Record the offline model's extract and refine replies on real forum pages, for labelling.

Writes the real wceb2026 forum pages (as fetched) into a WARC, runs ingest, extract and
refine with the packaged SmolLM2-135M-Instruct on vLLM CPU (the `make demo` model), and
writes one JSON line per refined pair: the page URL and text, the extracted and refined
pair, refine's status. Each line has `label` = null; a person fills it in ("good" or "bad")
with a `why`, and bench/gate.py scores the gate against those labels. The labelled set in
tests/data/offline_pairs_labelled.jsonl was made this way (its first line says how; page
text is dropped from it, since the pages are third-party data read at run time).

    .venv/bin/python -m bench.record_pairs --pages 12 --out /tmp/offline_pairs.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import tempfile
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from webinstruct.jobs.cli import main as cli
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.session import get_spark
from webinstruct.jobs.core.summary import run_sql

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pages" / "wceb2026"


def forum_pages(n: int) -> list[dict]:
    rows = [json.loads(x) for x in (DATA / "labels.jsonl").read_text().splitlines()]
    return [r for r in rows if r["page_type"] == "forum" and r["url"] and 500 <= len(r["main_content"]) <= 4000][:n]


def write_warc(pages: list[dict], path: Path) -> None:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for p in pages:
            body = gzip.decompress((DATA / p["html"]).read_bytes())
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(p["url"], "response", payload=io.BytesIO(body), http_headers=headers,
                                                          warc_headers_dict={"WARC-Date": "2026-03-01T10:00:00Z"}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="record-pairs-"))
    warc = work / "forum.warc.gz"
    write_warc(forum_pages(args.pages), warc)
    sets = ["--lake", str(work / "lake"), "--set", "extract.input=documents", "--set", "refine.markup=refine"]
    for step in (["ingest", str(warc)], ["extract"], ["refine"]):
        if cli([*sets, *step]) != 0:
            raise SystemExit(f"{step[0]} failed")
    query = ("SELECT d.url, d.text AS page_text, d.lang AS page_lang, e.method, r.orig_question, r.orig_answer, r.question, "
             "r.answer, r.status AS refine_status, r.reject_reason FROM qa_refined r JOIN qa_extracted e USING (qa_id) "
             "JOIN documents d ON d.doc_id = r.doc_id ORDER BY d.url, r.qa_id")
    cfg = load_config(lake=str(work / "lake"), overrides=["extract.input=documents"])
    lake = open_lake(get_spark(cfg), cfg)
    rows = json.loads(run_sql(lake, query, "json"))
    with open(args.out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({**row, "label": None, "why": None}, ensure_ascii=False) + "\n")
    print(f"{len(rows)} refined pairs from {args.pages} pages -> {args.out} (lake {work / 'lake'})")


if __name__ == "__main__":
    main()
