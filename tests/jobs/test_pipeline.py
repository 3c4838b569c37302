"""`webinstruct run` end to end, as `make demo` runs it: the project's sample archive through
ingest, recall, dedup, page decontamination, extract, refine (the real offline model on
vLLM CPU), pair decontamination, publish and export. Then a second batch of real pages
(wceb2026 HTML in a WARC written here) that only adds, then a rerun that changes nothing.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.conftest import rdd_storage, real_pages, shared
from tests.lib.report.test_page import EXTERNAL, embedded
from webinstruct.jobs import demo, pipeline
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.stages import export as export_stage
from webinstruct.lib.demo.benchmark import ITEMS
from webinstruct.lib.qa.gate import NUMBER, content_words, debris, grounded_share
from webinstruct.lib.text_normalize import normalize

pytestmark = pytest.mark.llm
TRAINS = "https://mathforum.example.org/t/2291/two-trains-meeting"
SHOP, GARDEN = "https://shop.example.com/p/aurora-wireless-headphones", "https://garden.example.org/2026/balcony-herbs"
CIRCLE = "https://geometry-qa.example.org/q/318/circle-area-from-circumference"
FAQ = "https://maths-study.example.com/guides/percentages/faq"
KEYED = {"documents": ["doc_id"], "dedup": ["doc_id"], "recall_scores": ["doc_id", "model_id"], "qa_extracted": ["qa_id", "run_id"],
         "qa_refined": ["qa_id", "refiner", "run_id"], "contamination": ["level", "doc_id", "qa_id", "refiner", "tier", "item_id", "field"],
         "decontam_checked": ["level", "unit_id", "tier", "check_key"]}


def _real_warc(path: Path) -> list[str]:
    """Two real forum threads and a real product page, as a crawler would have stored them."""
    forum = [p for p in real_pages("forum") if p["url"] and 700 <= len(p["main_content"]) <= 1300][:2]
    product = [p for p in real_pages("product") if p["url"]][:1]
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for p in forum + product:
            body = gzip.decompress(shared("pages", "wceb2026", p["html"]).read_bytes())  # the page as fetched
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(p["url"], "response", payload=io.BytesIO(body), http_headers=headers,
                                                          warc_headers_dict={"WARC-Date": "2026-03-01T10:00:00Z"}))
    return [p["url"] for p in forum + product]



def _rows(lake, table):
    cols = KEYED[table]
    return {tuple(r[c] for c in cols) for r in lake.read(table).select(*cols).collect()}


# what libraries print: vLLM's and Spark's log lines, Python warnings, tqdm bars, tracebacks
LIBRARY_LINE = re.compile(r"\(MainProcess pid=|\b(INFO|WARNING|DEBUG) \d\d-\d\d \d\d:|^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (WARN|INFO|ERROR) |"
                          r"log4j|Warning: |Traceback \(most recent|\d+it/s\]|\|[█#]+")


def _check_console(run):
    """Our lines only on the console; the library's in the run's log."""
    out = run["out"]
    (start,) = run["err"].splitlines()  # stderr: only the line naming the log (stdout stays the result)
    assert not [line for line in out.splitlines() if LIBRARY_LINE.search(line)]
    log = Path(re.search(r"; log (\S+\.log)$", start).group(1))
    assert log.parent == run["lake"] / "_logs"
    text = log.read_text(errors="replace")
    assert "Initializing a V1 LLM engine" in text and "log4j" in text and LIBRARY_LINE.search(text)
    for stage in ("ingest", "recall", "extract", "refine", "export"):
        assert f"\n▶ {stage}: " in out
    # the slice line's requests and tokens come back through accumulators: they equal the stage's own count from its table
    slice_line = re.search(r"extract: \d+/\d+ records, \d+ rows written; slice 1/1 · (\d+) requests · (\d+) tokens out", out)
    summary = out.split("\nextract summary\n")[1].split("\n\n")[0]
    requests = re.search(r"\| engine requests\s+\| (\d+)", summary).group(1)
    tokens_out = re.search(r"\| tokens in / out\s+\| \d+ / (\d+)", summary).group(1)
    assert slice_line and slice_line.groups() == (requests, tokens_out) and int(requests) > 0
    assert f"report: {run['report']}" in out


def _check_report(run, lake):
    """The report's figures equal direct queries of the lake it describes."""
    html = run["report"].read_text()
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    fig = embedded(html)
    funnel = dict(fig["funnel"])
    published = lake.read("webinstruct").collect()
    assert funnel["clean pairs (webinstruct)"] == len(published) and funnel["documents (language, length)"] == lake.count("documents")
    assert fig["pairs_per_source"] == dict(Counter(r["source"] for r in published))
    labels = {(r["qa_id"], r["refiner"]): r for r in lake.read("pair_labels").collect()}  # one key, texts unchanged since
    assert fig["labels"]["answer_type"] == dict(Counter(labels[(p["qa_id"], p["refiner"])]["answer_type"] for p in published))
    assert fig["labels"]["verifiable"] == sum(bool(labels[(p["qa_id"], p["refiner"])]["verifiable"]) for p in published)
    assert "Answer types, subjects and difficulty" in html
    scores = [r["score"] for r in lake.read("recall_scores").collect()]
    assert fig["recall"]["rounds"]["1"] == [sum(min(int(s * 20), 19) == b for s in scores) for b in range(20)]
    assert fig["recall"]["models"][0]["metrics"] == {k: round(v, 4) for k, v in lake.read("models").first()["metrics"].items()}
    clusters = Counter(r["cluster_id"] for r in lake.read("dedup").collect())
    assert fig["dedup_cluster_sizes"] == {str(k): v for k, v in Counter(clusters.values()).items()}
    gate = lake.read("qa_quality").collect()  # one demo run: every check is current
    assert fig["gate"]["checked"] == len(gate) and fig["gate"]["passed"] == sum(r["passed"] for r in gate)
    assert fig["gate"]["reasons"] == dict(Counter(x for r in gate if not r["passed"] for x in r["reasons"]))
    pages_t1 = {r["doc_id"] for r in lake.read("contamination").where("level = 'page' AND tier = 1 AND verdict = 'contaminated'").collect()}
    (bench,) = fig["contamination"]["rows"]
    assert bench[:3] == ["demo_bench", len(ITEMS), len(pages_t1)]
    assert fig["domains"]["verdicts"] == dict(Counter(r["verdict"] or "not judged" for r in lake.read("domains").collect()))
    runs = {r["run_id"]: r for r in lake.read("runs").collect()}
    assert {r["run_id"] for r in fig["runs"]} == set(runs)
    for r in fig["runs"]:
        assert r["tokens_out"] == runs[r["run_id"]]["counters"].get("tokens_out", 0)
    by_index = {r["index"]: r for r in published}
    assert len(fig["sample_pairs"]) == min(20, len(published))
    for r in fig["sample_pairs"]:
        p = by_index[r["index"]]
        assert (r["url"], r["warc_path"], r["warc_offset"]) == (p["url"], p["warc_path"], p["warc_offset"])
        assert r["url"] in html


def test_report_renders_in_headless_chromium(demo_lake, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on this machine (Debian: apt-get install chromium); the report was not rendered")
    from PIL import Image

    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,3000",
                    f"--screenshot={shot}", demo_lake["report"].as_uri()], capture_output=True, timeout=120, check=True)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1100, 3000)
    colors = image.getcolors(maxcolors=1 << 20)
    white = max(colors)[0] / (image.size[0] * image.size[1])
    assert len(colors) > 200 and white < 0.9  # text, bars and tables drawn, not a blank or near-blank page
    plotted = sum(n for n, c in colors if c[2] > c[0] + 60)  # the bars' blue
    assert plotted > 5000


def test_run_end_to_end_then_a_second_batch_then_a_noop_rerun(spark, make_config, tmp_path, demo_lake):
    cfg = make_config(lake=demo_lake["lake"])
    lake = open_lake(spark, cfg)
    work = demo_lake["work"]
    out = demo_lake["out"]
    _check_console(demo_lake)
    _check_report(demo_lake, lake)
    docs = {r["url"]: r for r in lake.read("documents").collect()}
    by_id = {r["doc_id"]: u for u, r in docs.items()}
    assert len(docs) == 12  # 10 pages kept by ingest + 2 later copies
    assert "dropped: language" in out and "dropped: too_short" in out and "dropped: revisit" in out
    # recall keeps the Q&A and tutorial pages, drops the shop and gardening pages
    scores = {by_id[r["doc_id"]]: r["score"] for r in lake.read("recall_scores").collect()}
    assert {u for u, s in scores.items() if s < 0.5} == {SHOP, GARDEN}
    verdicts = lake.read("domain_verdicts").collect()
    candidates = {r["domain"] for r in lake.read("domains").where("candidate").collect()}
    assert {v["domain"] for v in verdicts} == candidates and all(v["status"] == "ok" for v in verdicts)
    # dedup drops the mirror (exact) and the repost (near)
    outcome = {by_id[r["doc_id"]]: r for r in lake.read("dedup").collect()}
    assert set(outcome) == set(docs) - {SHOP, GARDEN}
    assert outcome["https://mirror.algebra-help.example.net/q/1041"]["reason"] == "exact"
    assert outcome["https://homework-answers.example.com/probability/two-sixes"]["reason"] == "near"
    # page decontamination: the forum page quoting the demo benchmark's trains item is
    # caught with its evidence, and extraction never reads it
    (hit,) = lake.read("contamination").where("level = 'page'").collect()
    assert by_id[hit["doc_id"]] == TRAINS and (hit["benchmark"], hit["item_id"]) == ("demo_bench", "trains-1")
    assert hit["evidence"] in normalize(ITEMS[0][1])
    lake.register_views()
    clean = {r["doc_id"] for r in spark.table("documents_clean").collect()}
    assert len(clean) == 7 and docs[TRAINS]["doc_id"] not in clean
    extracted = lake.read("qa_extracted").collect()
    assert {r["doc_id"] for r in extracted} == clean
    # the two pages stating their pairs in schema.org markup: those pairs, no LLM request
    markup = [r for r in extracted if r["method"] == "markup"]
    assert {by_id[r["doc_id"]] for r in markup} == {CIRCLE, FAQ} and len(markup) == 4
    assert not [r for r in extracted if r["method"] == "llm" and by_id[r["doc_id"]] in (CIRCLE, FAQ)]
    (circle,) = [r for r in markup if by_id[r["doc_id"]] == CIRCLE]
    assert circle["orig_answer"].startswith("Get the radius") and "$$A = \\pi r^2" in circle["orig_answer"]
    assert "$C = 10\\pi$" in docs[CIRCLE]["text"] and "of which stated in page markup" in out
    # publish: every refined-ok pair that passed the gate and no tier flagged, one per
    # duplicate group, with lineage to its WARC record
    refined_ok = {(r["qa_id"], r["refiner"]) for r in lake.read("qa_refined").where("status = 'ok'").collect()}
    flagged = {(r["qa_id"], r["refiner"]) for r in lake.read("contamination").where("level = 'pair' AND verdict IN ('contaminated', 'unparsed')").collect()}
    gate = {(r["qa_id"], r["refiner"]): r for r in lake.read("qa_quality").collect()}
    assert set(gate) == refined_ok and all(r["reasons"] for r in gate.values() if not r["passed"])
    passed = {k for k, r in gate.items() if r["passed"]}
    published = {(r["qa_id"], r["refiner"]): r for r in lake.read("webinstruct").collect()}
    assert set(published) <= (refined_ok & passed) - flagged
    assert sum(r["duplicates"] for r in published.values()) == len((refined_ok & passed) - flagged) - len(published)
    for r in published.values():
        assert by_id[r["doc_id"]] == r["url"] and r["warc_path"].endswith("webinstruct-demo.warc.gz") and r["warc_offset"] >= 0
        # every published pair is grounded in its page and has a real answer
        page = docs[r["url"]]["text"]
        assert grounded_share(r["orig_question"], page) >= 0.6 and not debris(r["answer"]), r
        assert len(content_words(r["answer"])) >= 3 or NUMBER.search(r["answer"]), r
    # the pairs the pages stated in markup are published exactly as stated
    stated = {(m["orig_question"], m["orig_answer"]) for m in markup}
    assert stated == {(r["question"], r["answer"]) for r in published.values() if r["method"] == "markup"}
    assert all(r["refiner"] == "as stated" for r in published.values() if r["method"] == "markup")
    assert "passed the quality gate" in out and "SELECT method, round(quality, 2)" in out
    assert circle["orig_question"][:40] in out.split("SELECT method, round(quality, 2)")[1]
    # export: WebInstructSub shards with messages, a dataset card, nothing else
    export = work / "export"
    assert sorted(p.name for p in export.iterdir()) == ["README.md", "card.json", "data"]
    (shard,) = (export / "data").iterdir()
    assert shard.name == "train-00000-of-00001.parquet"
    table = pq.read_table(shard)
    assert table.column_names == ["orig_question", "orig_answer", "question", "answer", "source", "index", "messages"]
    assert table.num_rows == len(published)
    assert sorted(table.column("index").to_pylist()) == sorted(r["index"] for r in published.values())
    for m, q, a in zip(table.column("messages").to_pylist(), table.column("question").to_pylist(), table.column("answer").to_pylist()):
        assert m == [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    card = (export / "README.md").read_text()
    facts = json.loads((export / "card.json").read_text())
    assert f"num_examples: {len(published)}" in card and "| demo_bench | 8 | 1 |" in card
    assert facts["funnel"]["pages passing decontamination"] == 7 and facts["funnel"]["clean pairs (webinstruct)"] == len(published)
    assert "clean pairs (webinstruct)" in out and "kept of previous" in out
    assert export_stage.run(spark, cfg, lake, str(export), "parquet", True)["skipped"]  # same table, same way: nothing written

    # a second batch of real pages only adds (to a copy: the session's demo lake stays as `make demo` left it)
    shutil.copytree(demo_lake["lake"], tmp_path / "lake", ignore=shutil.ignore_patterns("_logs", "_leases"))
    cfg = make_config(lake=tmp_path / "lake")
    lake = open_lake(spark, cfg)
    run_cfg = demo.with_demo_benchmark(demo.with_demo_seeds(cfg, work / "seeds"), work / "benchmark")
    before = {t: _rows(lake, t) for t in KEYED if lake.exists(t)}
    published_before = set(published)
    urls = _real_warc(tmp_path / "batch2.warc.gz")
    # the driver does not grow from stage to stage: every step leaves the block manager's
    # cached storage where it found it (the two runs below: a new batch, then a no-op rerun)
    baseline, storage = rdd_storage(spark), {}
    record = lambda name: storage.setdefault(name, []).append(rdd_storage(spark))  # noqa: E731
    pipeline.run(spark, run_cfg, lake, [str(work / "webinstruct-demo.warc.gz"), str(tmp_path / "batch2.warc.gz")],
                 after_step=record)
    after = {t: _rows(lake, t) for t in KEYED if lake.exists(t)}
    for table, rows in before.items():
        assert rows <= after[table], table  # nothing of batch 1 changed or went away
    new_docs = {r["url"] for r in lake.read("documents").collect()} - set(docs)
    assert new_docs and new_docs <= set(urls)
    assert len(after["recall_scores"]) == len(before["recall_scores"]) + len(new_docs)  # only the new pages scored
    assert published_before <= {(r["qa_id"], r["refiner"]) for r in lake.read("webinstruct").collect()}

    # a rerun without new input writes nothing anywhere
    versions = {t: lake.version(t) for t in lake.tables() if t != "runs"}
    funnel = pipeline.run(spark, run_cfg, lake, [str(tmp_path / "batch2.warc.gz")], after_step=record)
    assert {t: lake.version(t) for t in lake.tables() if t != "runs"} == versions
    assert set(storage) == {s.name for s in pipeline.STEPS}
    assert all(after == [baseline, baseline] for after in storage.values()), storage
    assert dict(funnel)["documents (language, length)"] == len(docs) + len(new_docs)
