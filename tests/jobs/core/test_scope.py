"""A stage scope releases what the stage held: cached frames, local checkpoints, caches it
forgot, Python broadcasts and scratch folders; an inner scope only what it made itself."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tests.conftest import rdd_storage
from webinstruct.jobs.core import scope
from webinstruct.jobs.core.lake import open_lake



def test_a_scope_releases_everything_the_stage_held(spark, make_config, tmp_path):
    lake = open_lake(spark, make_config())
    before = rdd_storage(spark)
    data = spark.range(0, 5000).withColumn("x", F.col("id") * 3)
    with scope.stage_scope(spark, lake, "test stage") as s:
        kept = s.persist(data.where("id % 2 = 0"))
        assert kept.count() == 2500
        checkpoint = s.materialize(data.where("id < 10"), "local", mode="local")
        assert checkpoint.count() == 10
        cut = s.materialize(data.where("id < 100"), "cut")
        assert cut.count() == 100 and cut.inputFiles()
        folder = cut.inputFiles()[0].removeprefix("file://").rsplit("/", 2)[0]
        assert folder.startswith(str(tmp_path / "lake" / "_scratch" / "test_stage"))
        forgotten = data.where("id > 4000").cache()  # a cache nobody unpersists
        assert forgotten.count() == 999
        table = s.broadcast({i: i * i for i in range(100)})
        squares = F.udf(lambda i: table.value[i % 100], T.LongType())
        assert data.select(squares("id").alias("v")).agg(F.sum("v")).first()[0] == 50 * sum(i * i for i in range(100))
        cached, stored = rdd_storage(spark)
        assert cached == before[0] + 3 and stored > before[1]  # the persisted frame, the local checkpoint, the forgotten cache
    assert rdd_storage(spark) == before
    assert not (tmp_path / "lake" / "_scratch" / "test_stage").exists()
    with pytest.raises(Exception, match="destroyed"):
        data.select(squares("id")).collect()  # the broadcast is gone everywhere
    with pytest.raises(RuntimeError, match="no stage scope is open"):
        scope.current()


def test_an_inner_scope_releases_only_what_it_made(spark, make_config):
    lake = open_lake(spark, make_config())
    start = rdd_storage(spark)
    with scope.stage_scope(spark, lake, "outer") as outer:
        mine = outer.persist(spark.range(0, 1000).where("id % 3 = 0"))
        assert mine.count() == 334
        with scope.stage_scope(spark, lake, "inner") as inner:
            assert scope.current() is inner
            theirs = inner.persist(spark.range(0, 1000).where("id % 5 = 0"))
            assert theirs.count() == 200 and rdd_storage(spark)[0] == start[0] + 2
        assert scope.current() is outer
        assert rdd_storage(spark)[0] == start[0] + 1 and mine.storageLevel.useMemory  # the caller's frame is still cached
    assert rdd_storage(spark) == start


def test_a_release_step_that_fails_does_not_hide_the_stage_error(spark, make_config):
    lake = open_lake(spark, make_config())
    start = rdd_storage(spark)
    with pytest.raises(ZeroDivisionError):
        with scope.stage_scope(spark, lake, "failing") as s:
            s.persist(spark.range(0, 10)).count()
            s.broadcast([1, 2, 3]).destroy()  # destroyed already: the scope's own destroy fails, quietly
            1 / 0
    assert rdd_storage(spark) == start
