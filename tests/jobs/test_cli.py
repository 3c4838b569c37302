"""`webinstruct tables` and `webinstruct sql` against a small real lake."""

import csv
import io
import json

import pytest

from tests.conftest import shared
from webinstruct.jobs.cli import main


@pytest.fixture(scope="module")
def lake_dir(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "lake"
    archive = shared("warc", "real", "dolma_wget_sample-0001.warc.gz")
    assert main(["--lake", str(root), "ingest", str(archive)]) == 0
    return root


def test_tables_lists_rows_and_versions(lake_dir, capsys):
    assert main(["tables", "--lake", str(lake_dir)]) == 0  # global option after the command
    out = capsys.readouterr().out
    lines = {l.split("|")[1].strip(): l for l in out.splitlines() if l.startswith("| ") and "table" not in l}
    assert set(lines) == {"documents", "qa_markup", "runs", "warc_files"}
    assert lines["warc_files"].split("|")[2].strip() == "1"
    assert lines["documents"].split("|")[2].strip() == "13"  # 15 kept, two pages twice


def test_sql_formats(lake_dir, capsys):
    query = "SELECT status, html, kept FROM warc_files"
    assert main(["--lake", str(lake_dir), "sql", query, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"status": "ok", "html": 15, "kept": 15}]
    assert main(["--lake", str(lake_dir), "sql", "SELECT count(*) AS n, min(lang) AS lang FROM documents", "--format", "csv"]) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out))) == [{"n": "13", "lang": "en"}]
    assert main(["--lake", str(lake_dir), "sql", "SELECT stage, counters['kept'] AS kept FROM runs"]) == 0
    out = capsys.readouterr().out
    assert "| stage  | kept |" in out and "| ingest |   15 |" in out


def test_dedup_command_prints_summary_and_feeds_the_view(lake_dir, capsys):
    assert main(["--lake", str(lake_dir), "dedup", "--set", "dedup.input=documents"]) == 0
    out = capsys.readouterr().out
    assert "dedup summary" in out and "| documents in (new)" in out
    row = [l for l in out.splitlines() if l.startswith("| documents in (new)")][0]
    assert row.split("|")[2].strip() == "13"
    query = "SELECT (SELECT count(*) FROM documents_dedup) AS kept, (SELECT count(*) FROM dedup WHERE is_keeper) AS keepers"
    assert main(["--lake", str(lake_dir), "sql", query, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["kept"] == rows[0]["keepers"] > 0
    assert main(["--lake", str(lake_dir), "dedup", "--set", "dedup.input=documents"]) == 0  # nothing new: nothing written
    assert "| documents in (new)               | 0" in capsys.readouterr().out


def test_dedup_on_a_lake_without_documents_says_so(spark, tmp_path, capsys):
    assert main(["--lake", str(tmp_path / "empty"), "dedup"]) == 2
    err = capsys.readouterr().err
    assert "dedup.input 'documents_recalled' needs table(s) documents, recall_scores" in err
    assert main(["--lake", str(tmp_path / "empty"), "dedup", "--set", "dedup.input=documents"]) == 2
    err = capsys.readouterr().err
    assert "dedup.input: no table 'documents'" in err and "run ingest first" in err


def test_llm_stages_on_a_lake_without_their_input_say_so(spark, tmp_path, capsys):
    assert main(["--lake", str(tmp_path / "empty"), "extract"]) == 2
    err = capsys.readouterr().err
    assert "extract.input 'documents_clean' needs table(s) documents, dedup" in err
    assert main(["--lake", str(tmp_path / "empty"), "refine"]) == 2
    assert "no table 'qa_extracted'" in capsys.readouterr().err


def test_extract_with_an_unprepared_model_fails_before_spark_work(lake_dir, capsys):
    assert main(["--lake", str(lake_dir), "--set", "llm.model=offline:nothing-here", "extract"]) == 2
    assert "webinstruct models prepare" in capsys.readouterr().err


def test_recall_train_prints_metrics_and_a_bad_seed_path_is_named(lake_dir, capsys):
    qa = shared("qa", "stackmathqa_700.jsonl")
    small = ["--set", "recall.dim=64", "--set", "recall.bucket=50000", "--set", "recall.epoch=5"]
    bad = f'recall.positives=[{{path = "{qa.parent / "missing.jsonl"}", text = ["Q", "A"]}}]'
    assert main(["--lake", str(lake_dir), "recall", "train", "--set", bad, *small]) == 2
    err = capsys.readouterr().err
    assert "recall train: recall.positives[0]: cannot read" in err and "missing.jsonl" in err
    good = f'recall.positives=[{{path = "{qa}", text = ["Q", "A"], url = "meta.url"}}]'
    assert main(["--lake", str(lake_dir), "recall", "train", "--set", good, *small]) == 0  # no scores yet: still a summary
    out = capsys.readouterr().out
    assert "round 1 model" in out and "held-out P / R / F1 / AUC" in out
    # settings fastText diverges on (16 dims over 1000 buckets, pinned fasttext-numpy2): a clear error
    tiny = ["--set", "recall.dim=16", "--set", "recall.bucket=1000", "--set", "recall.epoch=5"]
    assert main(["--lake", str(lake_dir), "recall", "train", "--set", good, *tiny]) == 2
    assert "Encountered NaN" in (err := capsys.readouterr().err) and "try a lower recall.lr" in err


def test_a_listing_naming_a_local_path_is_refused_unless_allowed(spark, tmp_path, capsys):
    """A warc.paths listing is data from elsewhere: an absolute path in it is refused, the
    whole listing with it, and nothing is ingested; --allow-absolute accepts a listing you wrote."""
    archive = shared("warc", "real", "CC-MAIN-2024-22_whirlwind.warc.gz")
    listing = tmp_path / "warc.paths"
    listing.write_text(f"crawl-data/CC-MAIN-2024-22/segments/x.warc.gz\n{archive}\n")
    lake = str(tmp_path / "lake")
    assert main(["--lake", lake, "ingest", str(listing)]) == 2
    err = capsys.readouterr().err
    assert "1 of 2 entries refused (absolute path: 1)" in err and "line 2" in err and "--allow-absolute" in err
    assert main(["--lake", lake, "tables"]) == 0 and "documents" not in capsys.readouterr().out

    listing.write_text(f"{archive}\n")
    assert main(["--lake", lake, "ingest", "--allow-absolute", str(listing)]) == 0
    capsys.readouterr()
    assert main(["--lake", lake, "sql", "SELECT path, status FROM warc_files", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"path": str(archive), "status": "ok"}]


def test_report_of_a_lake_that_has_only_ingested(lake_dir, tmp_path, capsys):
    """Sections of stages that never ran say so; what ran is counted."""
    from tests.lib.report.test_page import EXTERNAL, embedded

    out = tmp_path / "r" / "report.html"
    assert main(["--lake", str(lake_dir), "report", "--out", str(out)]) == 0
    assert f"report: {out}" in capsys.readouterr().out
    html = out.read_text()
    fig = embedded(html)
    funnel = dict(fig["funnel"])
    assert funnel["documents (language, length)"] == 13 and funnel["clean pairs (webinstruct)"] is None
    assert fig["runs"][0]["stage"] == "ingest" and fig["sample_pairs"] == [] and fig["gate"]["checked"] == 0
    assert html.count("nothing yet") >= 5 and not EXTERNAL.search(html)


def test_a_run_without_recall_says_so_in_one_line_and_goes_on(spark, tmp_path, capsys):
    """recall.recalled = "all" (curated pages, a site's own dump): no seeds needed, no
    training, scoring or judge; dedup reads every document."""
    lake = str(tmp_path / "lake")
    archive = shared("warc", "real", "dolma_wget_sample-0001.warc.gz")
    assert main(["--lake", lake, "--set", 'recall.recalled="all"', "run", str(archive), "--until", "dedup"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if "recall" in line and "recall.recalled" in line]
    assert lines == ['  skipped: recall is off (recall.recalled = "all"), every document goes on to dedup']
    assert "recall.positives" not in captured.out + captured.err and "recall summary" not in captured.out
    dedup_in = [line for line in captured.out.splitlines() if line.startswith("| documents in (new)")]
    assert [row.split("|")[2].strip() for row in dedup_in] == ["13"]
    assert main(["--lake", lake, "tables"]) == 0
    tables = capsys.readouterr().out
    assert "| dedup " in tables and "recall_scores" not in tables and "models" not in tables


def test_a_newcomers_mistakes_get_plain_answers(spark, tmp_path, capsys):
    """A missing archive: a non-zero exit, its path and error on the console (not only in
    warc_files), no traceback and no log tail. A SQL typo or an unknown table: Spark's
    message and the lake's tables, not the analysed plan."""
    import subprocess
    import sys

    lake = str(tmp_path / "lake")
    missing = tmp_path / "no" / "such" / "file.warc.gz"
    done = subprocess.run([sys.executable, "-m", "webinstruct.jobs", "--lake", lake, "--set", "spark.master=local[1]",
                           "ingest", str(missing)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no archive could be read (1 failed; recorded in warc_files)" in done.stderr
    assert f"  {missing}: unreadable on host " in done.stderr and "No such file" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "lines of the log" not in done.stderr

    archive = shared("warc", "real", "dolma_wget_sample-0001.warc.gz")
    assert main(["--lake", lake, "ingest", str(archive), str(missing)]) == 0  # one of two read: a summary naming the other
    out = capsys.readouterr().out
    assert "failed archives (path: error):" in out and f"  {missing}: unreadable on host " in out

    assert main(["--lake", lake, "sql", "SELEC count(*) FROM documents"]) == 2
    err = capsys.readouterr().err
    assert "[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'" in err and "tables: documents, qa_markup, runs, warc_files" in err
    assert main(["--lake", lake, "sql", "SELECT * FROM document"]) == 2
    err = capsys.readouterr().err
    ours = err[err.rindex("sql: "):]  # (in this process Spark's own log lines come first)
    assert "[TABLE_OR_VIEW_NOT_FOUND]" in ours and ours.rstrip().endswith("tables: documents, qa_markup, runs, warc_files")
    assert len(ours.splitlines()) == 2 and "'Project" not in ours  # the message, not the analysed plan
