"""Export writes only what it owns: it refuses a folder holding someone else's files or
lying inside the lake, swaps its own files in whole, keeps a user's file that sits beside
them, and leaves no staging folder behind."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake
from pyspark.sql.pandas.types import to_arrow_schema

from webinstruct.jobs.core.errors import ExportError
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.tables import WEBINSTRUCT
from webinstruct.jobs.stages import export


def publish(lake_dir, n: int, mode: str = "append") -> None:
    rows = [{f: None for f in WEBINSTRUCT.fieldNames()} | {
        "index": i, "qa_id": f"q{i}", "refiner": "m", "doc_id": f"d{i}", "question": f"What is {i} squared?",
        "answer": f"{i * i}", "orig_question": f"{i}^2?", "orig_answer": str(i * i), "source": "example.org"} for i in range(n)]
    write_deltalake(str(lake_dir / "webinstruct"), pa.Table.from_pylist(rows, schema=to_arrow_schema(WEBINSTRUCT)), mode=mode)


@pytest.fixture
def lake(spark, make_config, tmp_path):
    cfg = make_config("export.shard_rows=3")
    publish(tmp_path / "lake", 7)
    return cfg, open_lake(spark, cfg)


def test_a_folder_with_someone_elses_files_is_refused_and_left_alone(spark, lake, tmp_path):
    cfg, lk = lake
    out = tmp_path / "theirs"
    (out / "data").mkdir(parents=True)
    (out / "data" / "mine.txt").write_text("keep me")
    (out / "README.md").write_text("# my project")
    with pytest.raises(ExportError, match="is not empty .*holds no webinstruct export"):
        export.run(spark, cfg, lk, str(out))
    assert (out / "data" / "mine.txt").read_text() == "keep me" and (out / "README.md").read_text() == "# my project"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake", "theirs"]  # no staging sibling left


def test_a_folder_inside_the_lake_is_refused(spark, lake, tmp_path):
    cfg, lk = lake
    for target in (tmp_path / "lake" / "export", tmp_path / "lake", tmp_path):
        with pytest.raises(ExportError, match="inside the lake"):
            export.run(spark, cfg, lk, str(target))
    assert sorted(p.name for p in (tmp_path / "lake").iterdir()) == ["webinstruct"]


def test_an_export_replaces_only_its_own_files(spark, lake, tmp_path):
    cfg, lk = lake
    out = tmp_path / "dataset"
    first = export.run(spark, cfg, lk, str(out))
    assert first["shards"] == 3 and not first["skipped"]
    card = json.loads((out / "card.json").read_text())
    assert card["generator"] == "webinstruct" and card["own"] == ["data", "openmath", "README.md", "card.json"]
    (out / "NOTES.md").write_text("my notes")  # a user's file beside the export

    publish(tmp_path / "lake", 4, mode="overwrite")  # the table changed: a new export
    second = export.run(spark, cfg, lk, str(out))
    assert second["rows"] == 4 and second["shards"] == 2
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    assert sum(pq.read_table(p).num_rows for p in (out / "data").iterdir()) == 4
    assert (out / "NOTES.md").read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "lake"]  # nothing staged is left
    assert export.run(spark, cfg, lk, str(out))["skipped"]  # unchanged: nothing written


def test_an_empty_folder_and_a_file_target(spark, lake, tmp_path):
    cfg, lk = lake
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export.run(spark, cfg, lk, str(empty), "jsonl")["rows"] == 7
    assert sorted(p.name for p in empty.iterdir()) == ["README.md", "card.json", "data"]
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ExportError, match="is a file"):
        export.run(spark, cfg, lk, str(tmp_path / "file.txt"))
