"""Pairs a page states in schema.org markup: ingest stores them in `qa_markup`, extract turns
them into `qa_extracted` rows (method markup) and, with extract.markup = "prefer", asks
the LLM nothing about those pages.

Real wceb2026 pages in a WARC written here; the LLM is a local OpenAI-compatible server
that records what it is asked (no model is needed to see which pages reach it)."""

from __future__ import annotations

import gzip

import pytest
from pyspark.sql import functions as F

from tests.chat_server import ChatServer
from tests.conftest import wceb_page
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.stages import extract, ingest
from webinstruct.lib.qa.markup import extract_qa_markup

PAGES = {
    "1177": "QAPage microdata (electronics.stackexchange.com)",
    "0026": "FAQPage JSON-LD (accounting.com)",
    "0056": "broken JSON-LD blocks, FAQ in microdata (freightwaves.com)",
    "0001": "an article without Q&A markup",
}


def _warc(path, pages: list[tuple[str, str]]) -> None:
    records = []
    for n, (url, html) in enumerate(pages):
        body = html.encode("utf-8")
        block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body
        head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{n:012d}>\r\n"
                f"WARC-Target-URI: {url}\r\nWARC-Date: 2026-01-01T00:00:00Z\r\n"
                f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(block)}\r\n\r\n").encode()
        records.append(gzip.compress(head + block + b"\r\n\r\n"))
    path.write_bytes(b"".join(records))


class _RecordingLlm(ChatServer):
    """Answers every chat request with no pairs, and keeps each prompt it was sent."""

    def __init__(self):
        self.prompts: list[str] = []
        super().__init__(self._reply)

    def _reply(self, body: dict) -> str:
        self.prompts.append(" ".join(" ".join(m["content"] for m in body["messages"]).split()))
        return '{"pairs": []}'


@pytest.fixture(scope="module")
def llm():
    server = _RecordingLlm()
    yield server
    server.close()


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    folder = tmp_path_factory.mktemp("markup")
    pages = {fid: (url or f"https://example.org/{fid}", html) for fid in PAGES for html, url in [wceb_page(fid)]}
    archive = folder / "pages.warc.gz"
    _warc(archive, list(pages.values()))
    cfg = load_config(lake=str(folder / "lake"), overrides=["ingest.languages=[]"])
    lake = open_lake(spark, cfg)
    counters = ingest.run(spark, cfg, lake, [str(archive)])
    return cfg, lake, pages, counters, folder


def test_ingest_stores_every_markup_pair_with_lineage_and_counts_broken_markup(spark, ingested):
    cfg, lake, pages, counters, _ = ingested
    stored = lake.read("qa_markup").join(lake.read("documents").select("doc_id", F.col("url").alias("doc_url")), "doc_id")
    per_url = {r["url"]: r["n"] for r in stored.groupBy("url").agg(F.count("*").alias("n")).collect()}
    expected = {url: len(extract_qa_markup(html, url).pairs) for url, html in pages.values()}
    assert {u: n for u, n in expected.items() if n} == per_url
    assert expected[pages["0001"][0]] == 0 and min(per_url.values()) >= 1
    rows = stored.collect()
    assert all(r["url"] == r["doc_url"] and r["warc_path"].endswith("pages.warc.gz") and r["warc_offset"] is not None
               and r["warc_record_id"] for r in rows)
    # the accepted Stack Exchange answer is there, marked, with its votes
    se = [r for r in rows if r["url"] == pages["1177"][0]]
    assert sum(r["accepted"] for r in se) == 1 and all(r["schema_type"] == "QAPage" and r["votes"] is not None for r in se)
    assert counters["markup_pages"] == 3 and counters["markup_pairs_written"] == len(rows)
    assert counters["markup_error_jsonld_invalid"] >= 1  # page 0056: counted, and its microdata pairs still kept


def test_markup_and_text_are_not_counted_twice(ingested):
    """The Q&A page's main text holds each markup answer once."""
    cfg, lake, pages, _, _ = ingested
    url = pages["1177"][0]
    text = lake.read("documents").where(F.col("url") == url).first()["text"]
    for r in lake.read("qa_markup").where(F.col("url") == url).collect():
        probe = " ".join(r["answer"].split()[-12:])  # its end: an answer may open by quoting the question
        assert text.count(probe) == 1, probe


def test_ingest_rerun_adds_no_markup_pair(spark, ingested):
    cfg, lake, _, _, folder = ingested
    before = lake.read("qa_markup").count()
    ingest.run(spark, cfg, lake, [str(folder / "pages.warc.gz")])
    assert lake.read("qa_markup").count() == before


def test_extract_prefers_markup_and_asks_the_llm_only_about_other_pages(spark, ingested, llm, offline_model):
    cfg, lake, pages, _, _ = ingested
    cfg = load_config(lake=cfg.lake.root, overrides=[
        "ingest.languages=[]", "extract.input=documents", "llm.engine=openai", f"llm.base_url={llm.url}",
        "llm.model=served", f"llm.tokenizer={offline_model}", "extract.markup=prefer",
    ])
    counters = extract.run(spark, cfg, lake)
    rows = lake.read("qa_extracted")
    markup = rows.where(F.col("method") == "markup")
    # one row per question (an answer chosen per question), for exactly the three markup pages
    urls = {r["url"] for r in markup.select("url").distinct().collect()}
    assert urls == {pages[f][0] for f in ("1177", "0026", "0056")}
    questions = lake.read("qa_markup").select("doc_id", "question").distinct().count()
    assert markup.count() == questions and markup.select("qa_id").distinct().count() == questions
    accepted = lake.read("qa_markup").where("accepted").select("answer").collect()
    se = markup.where(F.col("url") == pages["1177"][0]).first()
    assert se["orig_answer"] in {r["answer"] for r in accepted} and se["model"] == "schema.org markup"
    assert counters["markup_documents"] == 3 and counters["markup_pairs_ok"] >= 1
    # the LLM read only the page without markup
    assert len(llm.prompts) >= 1
    texts = {r["url"]: r["text"] for r in lake.read("documents").collect()}
    openings = {url: " ".join(text.split()[:8]) for url, text in texts.items()}
    assert any(openings[pages["0001"][0]] in p for p in llm.prompts)
    assert not any(openings[pages[f][0]] in p for p in llm.prompts for f in ("1177", "0026", "0056"))
    assert rows.where(F.col("method") == "llm").select("url").distinct().collect()[0]["url"] == pages["0001"][0]

    asked = len(llm.prompts)
    again = extract.run(spark, cfg, lake)  # a rerun writes and asks nothing
    assert len(llm.prompts) == asked and again.get("markup_rows", 0) == 0 and lake.read("qa_extracted").count() == rows.count()

